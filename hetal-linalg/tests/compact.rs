//! Compaction of logits blocks on the exact mock: compaction followed by expansion is exact,
//! every row lands where `position` says, the compacted ciphertexts are periodic with the stated
//! period, levels and operation counts are as documented, the key request suffices, and a
//! softmax on the compacted ciphertexts (with a periodic refresher) equals the softmax on the
//! blocks bit for bit.

use hetal_linalg::approx::Refresher;
use hetal_linalg::approx::softmax::{RowLayout, SoftmaxMethod};
use hetal_linalg::compact::Compaction;
use hetal_linalg::packed::UnitShape;
use hetal_traits::counting::{Counting, OpKind};
use hetal_traits::mock::{MockCiphertext, MockClient, MockEvaluator, MockParams};
use hetal_traits::{Decryptor, Encryptor, KeyGenerator, KeyRequest, Level, Leveled};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SLOTS: usize = 1 << 15;

fn setup(params: MockParams, req: &KeyRequest) -> (MockClient, Counting<MockEvaluator>) {
    let mut client = MockClient::new(params, 5);
    let keys = client.generate_evaluation_keys(req).unwrap();
    (client, Counting::new(MockEvaluator::new(keys)))
}

/// Random blocks with values in every slot (columns `>= c'` hold junk that must be ignored).
fn random_blocks(rng: &mut ChaCha8Rng, k: usize, slots: usize) -> Vec<Vec<f64>> {
    (0..k)
        .map(|_| (0..slots).map(|_| rng.random_range(-8.0..8.0)).collect())
        .collect()
}

fn check_case(s0: usize, classes: usize, k: usize, rng: &mut ChaCha8Rng) {
    let s1 = SLOTS / s0;
    let shape = UnitShape::new(s0, s1).unwrap();
    let cm = Compaction::new(shape, classes, k).unwrap();
    let cp = classes.next_power_of_two();
    let case = format!("({s0}, {s1}), {classes} classes, {k} blocks");
    let (mut client, ev) = setup(MockParams::ideal(SLOTS, 6, 40.0), &cm.key_request());
    let values = random_blocks(rng, k, SLOTS);
    let cts: Vec<MockCiphertext> = values
        .iter()
        .map(|v| client.encrypt_real(v, Level(5)).unwrap())
        .collect();

    ev.reset();
    let compacted = cm.compact(&ev, &cts).unwrap();
    let ops = ev.take();
    let want = cm.compact_ops();
    assert_eq!(compacted.len(), cm.outputs(), "{case}");
    assert_eq!(
        (ops.get(OpKind::Rot) + ops.get(OpKind::HoistedRot)) as usize,
        want.rotations,
        "{case}: compaction rotations"
    );
    assert_eq!(ops.get(OpKind::CMult) as usize, want.plain_mults, "{case}");
    assert_eq!(ops.get(OpKind::Rescale) as usize, want.rescales, "{case}");
    let lv = 5 - cm.depth();
    for (o, c) in compacted.iter().enumerate() {
        assert_eq!(c.level(), Level(lv), "{case}");
        let y = client.decrypt_real(c).unwrap();
        let n = cm.period(o);
        assert!(n.is_power_of_two() && SLOTS.is_multiple_of(n), "{case}");
        for t in 0..SLOTS {
            assert_eq!(
                y[t],
                y[t % n],
                "{case}: output {o} not periodic with {n} at {t}"
            );
        }
    }
    // Every row of every block sits where `position` says, exactly.
    let ys: Vec<Vec<f64>> = compacted
        .iter()
        .map(|c| client.decrypt_real(c).unwrap())
        .collect();
    let mut occupied = vec![vec![false; SLOTS / cp]; cm.outputs()];
    for (b, v) in values.iter().enumerate() {
        for r in 0..s0 {
            let (o, s) = cm.position(b, r).unwrap();
            assert!(!occupied[o][s / cp], "{case}: two rows at one place");
            occupied[o][s / cp] = true;
            assert_eq!(
                &ys[o][s..s + cp],
                &v[r * s1..r * s1 + cp],
                "{case}: block {b} row {r}"
            );
        }
    }
    // Unoccupied slots of the first period are zero.
    for (o, y) in ys.iter().enumerate() {
        for (row, occ) in occupied[o].iter().enumerate().take(cm.period(o) / cp) {
            if !occ {
                assert!(
                    y[row * cp..(row + 1) * cp].iter().all(|&x| x == 0.0),
                    "{case}"
                );
            }
        }
    }

    ev.reset();
    let expanded = cm.expand(&ev, &compacted).unwrap();
    let ops = ev.take();
    let want = cm.expand_ops();
    assert_eq!(
        (ops.get(OpKind::Rot) + ops.get(OpKind::HoistedRot)) as usize,
        want.rotations,
        "{case}: expansion rotations"
    );
    assert_eq!(ops.get(OpKind::CMult) as usize, want.plain_mults, "{case}");
    assert_eq!(expanded.len(), k, "{case}");
    for (b, (e, v)) in expanded.iter().zip(&values).enumerate() {
        assert_eq!(e.level(), Level(lv - cm.depth()), "{case}");
        let got = client.decrypt_real(e).unwrap();
        for t in 0..SLOTS {
            let want = if cm.is_identity() || t % s1 < cp {
                v[t]
            } else {
                0.0
            };
            assert_eq!(got[t], want, "{case}: block {b} slot {t}");
        }
    }
}

#[test]
fn compaction_then_expansion_is_exact_on_every_unit_shape() {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    // Every unit shape from (64, 512) to (2048, 16), at both ends of the class range, one and
    // several blocks.
    for s0 in [64, 128, 256, 512, 1024, 2048] {
        for (classes, k) in [(2, 1), (16, 3), (10, 1)] {
            check_case(s0, classes, k, &mut rng);
        }
    }
}

#[test]
fn compaction_then_expansion_is_exact_for_random_shapes() {
    let mut rng = ChaCha8Rng::seed_from_u64(1818);
    for _ in 0..12 {
        let s0 = 1usize << rng.random_range(6..12u32);
        let classes = rng.random_range(2..17usize);
        let k = rng.random_range(1..6usize);
        check_case(s0, classes, k, &mut rng);
    }
}

#[test]
fn small_blocks_share_ciphertexts() {
    // s0 < k_c: 4 rows per block, 32 chunks per row; 40 blocks in 2 outputs.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let cm = Compaction::new(UnitShape::new(4, SLOTS / 4).unwrap(), 3, 40).unwrap();
    assert_eq!(cm.groups(), 4);
    check_case(4, 3, 40, &mut rng);
    let cm2 = Compaction::new(UnitShape::new(64, 512).unwrap(), 10, 33).unwrap();
    assert_eq!(
        (cm2.outputs(), cm2.period(0), cm2.period(1)),
        (2, SLOTS, 1024)
    );
    assert!(cm2.pays(false));
    assert!(
        !Compaction::new(UnitShape::new(64, 512).unwrap(), 10, 1)
            .unwrap()
            .pays(false)
    );
    assert!(
        Compaction::new(UnitShape::new(64, 512).unwrap(), 10, 1)
            .unwrap()
            .pays(true)
    );
    assert!(
        !Compaction::new(UnitShape::new(2048, 16).unwrap(), 10, 3)
            .unwrap()
            .pays(true)
    );
}

#[test]
fn wrong_inputs_are_errors() {
    let cm = Compaction::new(UnitShape::new(64, 512).unwrap(), 10, 2).unwrap();
    let (mut client, ev) = setup(MockParams::ideal(SLOTS, 3, 40.0), &cm.key_request());
    let ct = client.encrypt_real(&[1.0], Level(2)).unwrap();
    assert!(cm.compact(&ev, std::slice::from_ref(&ct)).is_err());
    assert!(cm.expand(&ev, &[ct.clone(), ct.clone()]).is_err());
    // A block at level 0 cannot be masked.
    let low = client.encrypt_real(&[1.0], Level(0)).unwrap();
    assert!(cm.compact(&ev, &[low.clone(), low]).is_err());
    // Without the keys the rotations fail (typed error, no panic).
    let (mut c2, ev2) = setup(MockParams::ideal(SLOTS, 3, 40.0), &KeyRequest::default());
    let ct = c2.encrypt_real(&[1.0], Level(2)).unwrap();
    assert!(cm.compact(&ev2, &[ct.clone(), ct]).is_err());
}

#[test]
fn softmax_on_compacted_logits_equals_the_blockwise_softmax_bit_for_bit() {
    // Small slots so that the softmax runs quickly; bootstrapping from level 3 back to 12.
    let slots = 2048;
    let (s0, s1, classes, k) = (16, 128, 10, 2);
    let shape = UnitShape::new(s0, s1).unwrap();
    let cm = Compaction::new(shape, classes, k).unwrap();
    let method = SoftmaxMethod::NormalizeSquare(hetal_linalg::approx::softmax::LogitBound::B128);
    let block_layout = RowLayout::new(s0, s1, classes).unwrap();
    let dense = cm.layout().unwrap();
    let mut req = cm.key_request();
    req.add_rotations(method.rotations(&block_layout).iter().map(|r| r.0));
    req.add_rotations(method.rotations(&dense).iter().map(|r| r.0));
    req.bootstrapping = true;
    req.add_sparse_bootstrap_slots(cm.sparse_periods());
    let params = MockParams::ideal(slots, 12, 40.0).with_bootstrap(3, 12, 1.0);
    let (mut client, ev) = setup(params, &req);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let cts: Vec<MockCiphertext> = (0..k)
        .map(|_| {
            let scores: Vec<f64> = (0..s0 * classes)
                .map(|_| rng.random_range(-20.0..20.0))
                .collect();
            let v = block_layout.pack(&scores).unwrap();
            client.encrypt_real(&v, Level(9)).unwrap()
        })
        .collect();
    let rf = Refresher::new(&ev);
    let direct: Vec<Vec<f64>> = cts
        .iter()
        .map(|c| {
            let p = method.eval(&ev, c, &block_layout, &rf).unwrap();
            client.decrypt_real(&p).unwrap()
        })
        .collect();
    let compacted = cm.compact(&ev, &cts).unwrap();
    assert_eq!(compacted.len(), 1);
    let n = cm.period(0);
    assert_eq!(n, 2 * s0 * 16);
    let prf = rf.with_period(n).unwrap();
    ev.reset();
    let p = method.eval(&ev, &compacted[0], &dense, &prf).unwrap();
    // With the sparse keys every refresh of the compacted softmax is a sparse bootstrap.
    let counts = ev.snapshot();
    assert!(counts.get(OpKind::BootstrapSparse) + counts.get(OpKind::BootstrapPairSparse) > 0);
    assert_eq!(
        counts.get(OpKind::Bootstrap) + counts.get(OpKind::BootstrapPair),
        0
    );
    let y = client.decrypt_real(&p).unwrap();
    for t in 0..slots {
        assert_eq!(y[t], y[t % n], "softmax output not periodic at {t}");
    }
    let p = if p.level().0 <= 4 {
        prf.ensure_same(&ev, &p, 1, 1.01).unwrap()
    } else {
        p
    };
    let expanded = cm.expand(&ev, &[p]).unwrap();
    for (b, e) in expanded.iter().enumerate() {
        assert_eq!(client.decrypt_real(e).unwrap(), direct[b], "block {b}");
    }
    assert!(Refresher::new(&ev).with_period(3).is_err());
}

/// A mock that checks, at every sparse bootstrap, that the input really repeats with the
/// period it is called with, and records the periods (the strict check a sparse-bootstrapping
/// backend relies on); full bootstraps are recorded as period 0.
struct SparseCheck<'a> {
    inner: MockEvaluator,
    client: &'a MockClient,
    periods: std::sync::Mutex<Vec<usize>>,
}

mod sparse_check {
    use super::SparseCheck;
    use hetal_traits::mock::{MockCiphertext, MockPlaintext};
    use hetal_traits::{
        BootstrapInfo, Complex64, Decryptor, Encoder, Error, Evaluator, Level, Result, RotStep,
        Scale,
    };

    impl SparseCheck<'_> {
        fn check(&self, a: &MockCiphertext, n: usize) -> Result<()> {
            let v = self.client.decrypt_values(a)?;
            if let Some(t) = (0..v.len()).find(|&t| v[t] != v[t % n]) {
                return Err(Error::invalid(format!("not periodic with {n} at slot {t}")));
            }
            self.periods.lock().unwrap().push(n);
            Ok(())
        }
    }

    impl Encoder for SparseCheck<'_> {
        type Plaintext = MockPlaintext;
        fn slots(&self) -> usize {
            self.inner.slots()
        }
        fn max_level(&self) -> Level {
            self.inner.max_level()
        }
        fn prime(&self, level: Level) -> f64 {
            self.inner.prime(level)
        }
        fn canonical_scale(&self, level: Level) -> Scale {
            self.inner.canonical_scale(level)
        }
        fn encode(&self, v: &[Complex64], level: Level, scale: Scale) -> Result<MockPlaintext> {
            self.inner.encode(v, level, scale)
        }
        fn decode(&self, pt: &MockPlaintext) -> Result<Vec<Complex64>> {
            self.inner.decode(pt)
        }
    }

    type Ct = MockCiphertext;

    impl Evaluator for SparseCheck<'_> {
        type Ciphertext = Ct;
        fn add(&self, a: &Ct, b: &Ct) -> Result<Ct> {
            self.inner.add(a, b)
        }
        fn sub(&self, a: &Ct, b: &Ct) -> Result<Ct> {
            self.inner.sub(a, b)
        }
        fn neg(&self, a: &Ct) -> Result<Ct> {
            self.inner.neg(a)
        }
        fn add_plain(&self, a: &Ct, p: &MockPlaintext) -> Result<Ct> {
            self.inner.add_plain(a, p)
        }
        fn sub_plain(&self, a: &Ct, p: &MockPlaintext) -> Result<Ct> {
            self.inner.sub_plain(a, p)
        }
        fn add_const(&self, a: &Ct, c: Complex64) -> Result<Ct> {
            self.inner.add_const(a, c)
        }
        fn mul(&self, a: &Ct, b: &Ct) -> Result<Ct> {
            self.inner.mul(a, b)
        }
        fn mul_plain(&self, a: &Ct, p: &MockPlaintext) -> Result<Ct> {
            self.inner.mul_plain(a, p)
        }
        fn mul_const(&self, a: &Ct, c: Complex64, s: Scale) -> Result<Ct> {
            self.inner.mul_const(a, c, s)
        }
        fn mul_integer(&self, a: &Ct, k: i64) -> Result<Ct> {
            self.inner.mul_integer(a, k)
        }
        fn mul_i(&self, a: &Ct) -> Result<Ct> {
            self.inner.mul_i(a)
        }
        fn rescale(&self, a: &Ct) -> Result<Ct> {
            self.inner.rescale(a)
        }
        fn drop_to_level(&self, a: &Ct, level: Level) -> Result<Ct> {
            self.inner.drop_to_level(a, level)
        }
        fn rotate(&self, a: &Ct, step: RotStep) -> Result<Ct> {
            self.inner.rotate(a, step)
        }
        fn rotate_hoisted(&self, a: &Ct, steps: &[RotStep]) -> Result<Vec<Ct>> {
            self.inner.rotate_hoisted(a, steps)
        }
        fn conjugate(&self, a: &Ct) -> Result<Ct> {
            self.inner.conjugate(a)
        }
        fn has_rotation_key(&self, step: RotStep) -> bool {
            self.inner.has_rotation_key(step)
        }
        fn has_conjugation_key(&self) -> bool {
            self.inner.has_conjugation_key()
        }
        fn bootstrap_info(&self) -> Option<BootstrapInfo> {
            self.inner.bootstrap_info()
        }
        fn bootstrap(&self, a: &Ct) -> Result<Ct> {
            self.periods.lock().unwrap().push(0);
            self.inner.bootstrap(a)
        }
        fn bootstrap_pair(&self, a: &Ct, b: &Ct) -> Result<(Ct, Ct)> {
            self.periods.lock().unwrap().push(0);
            self.inner.bootstrap_pair(a, b)
        }
        fn has_sparse_bootstrap(&self, _slots: usize) -> bool {
            true
        }
        fn bootstrap_sparse(&self, a: &Ct, n: usize) -> Result<Ct> {
            self.check(a, n)?;
            self.inner.bootstrap(a)
        }
        fn bootstrap_pair_sparse(&self, a: &Ct, b: &Ct, n: usize) -> Result<(Ct, Ct)> {
            self.check(a, n)?;
            self.check(b, n)?;
            self.inner.bootstrap_pair(a, b)
        }
    }
}

#[test]
fn every_refresh_of_a_compacted_softmax_is_sparse_and_periodic() {
    let slots = 4096;
    let (s0, s1, classes) = (64, 64, 7);
    let shape = UnitShape::new(s0, s1).unwrap();
    let cm = Compaction::new(shape, classes, 1).unwrap();
    let dense = cm.layout().unwrap();
    let n = cm.period(0);
    assert_eq!(n, 512);
    let block_layout = RowLayout::new(s0, s1, classes).unwrap();
    for method in [
        SoftmaxMethod::NormalizeSquare(hetal_linalg::approx::softmax::LogitBound::B128),
        SoftmaxMethod::Asoftmax,
    ] {
        let mut req = cm.key_request();
        req.add_rotations(method.rotations(&dense).iter().map(|r| r.0));
        req.bootstrapping = true;
        let params = MockParams::ideal(slots, 12, 40.0).with_bootstrap(3, 12, 1.0);
        let mut client = MockClient::new(params, 5);
        let keys = client.generate_evaluation_keys(&req).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let scores: Vec<f64> = (0..s0 * classes)
            .map(|_| rng.random_range(-30.0..30.0))
            .collect();
        let z = client
            .encrypt_real(&block_layout.pack(&scores).unwrap(), Level(8))
            .unwrap();
        let ev = SparseCheck {
            inner: MockEvaluator::new(keys),
            client: &client,
            periods: std::sync::Mutex::new(Vec::new()),
        };
        let c = cm.compact(&ev, &[z]).unwrap();
        let rf = Refresher::new(&ev).with_period(n).unwrap();
        let p = method.eval(&ev, &c[0], &dense, &rf).unwrap();
        let periods = ev.periods.lock().unwrap().clone();
        assert!(!periods.is_empty(), "{}: no bootstrap", method.name());
        assert!(
            periods.iter().all(|&x| x == n),
            "{}: {periods:?}",
            method.name()
        );
        // A full-slot refresher never calls the sparse variants.
        let before = periods.len();
        let _ = method
            .eval(&ev, &c[0], &dense, &Refresher::new(&ev))
            .unwrap();
        assert!(ev.periods.lock().unwrap()[before..].iter().all(|&x| x == 0));
        let y = client.decrypt_real(&p).unwrap();
        assert!((0..slots).all(|t| y[t] == y[t % n]), "{}", method.name());
    }
}
