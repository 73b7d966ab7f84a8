//! Encrypt → operate → decrypt on the insecure test presets, with precision in bits.

use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams, ParamsLiteral, presets};
use hetal_traits::{
    Complex64, Decryptor, Encoder, Encryptor, Error, Evaluator, KeyGenerator, KeyRequest, Level,
    Leveled, Operation, RotStep, Scale,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn setup(lit: ParamsLiteral, rotations: &[i64], conj: bool) -> (CkksClient, CkksEvaluator) {
    let params = CkksParams::new(&lit).unwrap();
    let mut client = CkksClient::from_seed(params.clone(), 42);
    let mut req = KeyRequest::with_rotations(rotations.iter().copied());
    req.conjugation = conj;
    let keys = client.generate_evaluation_keys(&req).unwrap();
    (client, CkksEvaluator::new(params, keys).unwrap())
}

fn random_values(n: usize, seed: u64) -> Vec<Complex64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| Complex64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
        .collect()
}

/// Mean of −log2 |error| over slots (real and imaginary parts), as Lattigo reports it.
fn mean_precision(got: &[Complex64], want: &[Complex64]) -> f64 {
    let mut s = 0.0;
    for (g, w) in got.iter().zip(want) {
        s += -((g.re - w.re).abs().max(1e-300)).log2();
        s += -((g.im - w.im).abs().max(1e-300)).log2();
    }
    s / (2 * want.len()) as f64
}

fn min_precision(got: &[Complex64], want: &[Complex64]) -> f64 {
    got.iter()
        .zip(want)
        .map(|(g, w)| -((g - w).norm()).log2())
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn fresh_and_multiplied_precision_meets_the_bound() {
    for lit in [
        presets::insecure_test_n10(),
        presets::insecure_test_n11(),
        presets::insecure_test_n12(),
    ] {
        let log_n = lit.log_n as f64;
        let log_scale = lit.log_scale;
        let (mut c, e) = setup(lit, &[], false);
        let top = e.max_level();
        let x = random_values(e.slots(), 1);
        let y = random_values(e.slots(), 2);
        let cx = c.encrypt_values(&x, top).unwrap();
        let cy = c.encrypt_values(&y, top).unwrap();
        let fresh = mean_precision(&c.decrypt_values(&cx).unwrap(), &x);
        let prod = e.rescale(&e.mul(&cx, &cy).unwrap()).unwrap();
        assert_eq!(prod.level(), Level(top.0 - 1));
        assert!(prod.scale().matches(e.canonical_scale(prod.level())));
        let want: Vec<Complex64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
        let after = mean_precision(&c.decrypt_values(&prod).unwrap(), &want);
        let bound = log_scale - (log_n + 2.0);
        eprintln!("logN={log_n}: fresh {fresh:.2} bits, after mul {after:.2} bits (bound {bound})");
        assert!(fresh >= bound, "fresh precision {fresh}");
        assert!(after >= bound, "precision after multiply {after}");
        // Public-key encryption is also correct (more noise).
        let pt = c.encode_at(&x, top).unwrap();
        let cpk = c.encrypt_public(&pt).unwrap();
        assert!(mean_precision(&c.decrypt_values(&cpk).unwrap(), &x) >= bound);
    }
}

#[test]
fn every_operation_is_correct() {
    let (mut c, e) = setup(presets::insecure_test_n11(), &[1, 3, -1, 100], true);
    let n = e.slots();
    let top = e.max_level();
    let x = random_values(n, 3);
    let y = random_values(n, 4);
    let cx = c.encrypt_values(&x, top).unwrap();
    let cy = c.encrypt_values(&y, top).unwrap();
    let check = |ct: &hetal_ckks::Ciphertext, want: &[Complex64], what: &str, bits: f64| {
        let got = c.decrypt_values(ct).unwrap();
        let p = min_precision(&got, want);
        assert!(p >= bits, "{what}: {p:.2} bits");
    };
    let i = Complex64::new(0.0, 1.0);
    check(
        &e.add(&cx, &cy).unwrap(),
        &x.iter().zip(&y).map(|(a, b)| a + b).collect::<Vec<_>>(),
        "add",
        25.0,
    );
    check(
        &e.sub(&cx, &cy).unwrap(),
        &x.iter().zip(&y).map(|(a, b)| a - b).collect::<Vec<_>>(),
        "sub",
        25.0,
    );
    check(
        &e.neg(&cx).unwrap(),
        &x.iter().map(|a| -a).collect::<Vec<_>>(),
        "neg",
        25.0,
    );
    check(
        &e.mul_i(&cx).unwrap(),
        &x.iter().map(|a| a * i).collect::<Vec<_>>(),
        "mul_i",
        25.0,
    );
    check(
        &e.mul_integer(&cx, -3).unwrap(),
        &x.iter().map(|a| a * -3.0).collect::<Vec<_>>(),
        "mul_integer",
        23.0,
    );
    let k = Complex64::new(0.25, -1.5);
    check(
        &e.add_const(&cx, k).unwrap(),
        &x.iter().map(|a| a + k).collect::<Vec<_>>(),
        "add_const",
        25.0,
    );
    let mc = e
        .rescale(&e.mul_const(&cx, k, e.canonical_scale(top)).unwrap())
        .unwrap();
    check(
        &mc,
        &x.iter().map(|a| a * k).collect::<Vec<_>>(),
        "mul_const",
        22.0,
    );
    let mr = e
        .rescale(
            &e.mul_const(&cx, Complex64::new(-0.75, 0.0), e.canonical_scale(top))
                .unwrap(),
        )
        .unwrap();
    check(
        &mr,
        &x.iter().map(|a| a * -0.75).collect::<Vec<_>>(),
        "mul_const real",
        22.0,
    );
    let pt = e.encode_at(&y, top).unwrap();
    check(
        &e.add_plain(&cx, &pt).unwrap(),
        &x.iter().zip(&y).map(|(a, b)| a + b).collect::<Vec<_>>(),
        "add_plain",
        25.0,
    );
    check(
        &e.sub_plain(&cx, &pt).unwrap(),
        &x.iter().zip(&y).map(|(a, b)| a - b).collect::<Vec<_>>(),
        "sub_plain",
        25.0,
    );
    let mp = e.rescale(&e.mul_plain(&cx, &pt).unwrap()).unwrap();
    check(
        &mp,
        &x.iter().zip(&y).map(|(a, b)| a * b).collect::<Vec<_>>(),
        "mul_plain",
        22.0,
    );
    let sq = e.rescale(&e.square(&cx).unwrap()).unwrap();
    check(
        &sq,
        &x.iter().map(|a| a * a).collect::<Vec<_>>(),
        "square",
        22.0,
    );
    for s in [1i64, 3, -1, 100] {
        let r = e.rotate(&cx, RotStep(s)).unwrap();
        let want: Vec<Complex64> = (0..n)
            .map(|t| x[(t as i64 + s).rem_euclid(n as i64) as usize])
            .collect();
        check(&r, &want, &format!("rotate {s}"), 22.0);
    }
    let steps = [RotStep(1), RotStep(0), RotStep(-1), RotStep(3)];
    let hs = e.rotate_hoisted(&cx, &steps).unwrap();
    for (s, r) in steps.iter().zip(&hs) {
        let want: Vec<Complex64> = (0..n)
            .map(|t| x[(t as i64 + s.0).rem_euclid(n as i64) as usize])
            .collect();
        check(r, &want, &format!("hoisted {}", s.0), 22.0);
    }
    check(
        &e.conjugate(&cx).unwrap(),
        &x.iter().map(|a| a.conj()).collect::<Vec<_>>(),
        "conjugate",
        22.0,
    );
    // Drop to a lower level keeps the value and lands on the canonical scale.
    for t in 0..top.0 {
        let d = e.drop_to_level(&cx, Level(t)).unwrap();
        assert_eq!(d.level(), Level(t));
        assert!(d.scale().matches(e.canonical_scale(Level(t))));
        check(&d, &x, &format!("drop to {t}"), 22.0);
    }
    // Add across levels aligns automatically.
    let low = e.drop_to_level(&cy, Level(1)).unwrap();
    let s = e.add(&cx, &low).unwrap();
    assert_eq!(s.level(), Level(1));
    check(
        &s,
        &x.iter().zip(&y).map(|(a, b)| a + b).collect::<Vec<_>>(),
        "add across levels",
        22.0,
    );
    // A chain of multiplications down to level 0.
    let mut acc = cx.clone();
    let mut want = x.clone();
    while acc.level().0 > 0 {
        let l = acc.level();
        let yy = e.drop_to_level(&cy, l).unwrap();
        acc = e.rescale(&e.mul(&acc, &yy).unwrap()).unwrap();
        want = want.iter().zip(&y).map(|(a, b)| a * b).collect();
        assert!(acc.scale().matches(e.canonical_scale(acc.level())));
    }
    check(&acc, &want, "multiplication chain", 15.0);
}

#[test]
fn misuse_is_reported_as_errors() {
    let (mut c, e) = setup(presets::insecure_test_n10(), &[1], false);
    let x = c.encrypt_real(&[1.0], Level(0)).unwrap();
    assert!(matches!(
        e.mul(&x, &x),
        Err(Error::LevelExhausted {
            op: Operation::Mul,
            ..
        })
    ));
    assert!(matches!(
        e.rescale(&x),
        Err(Error::LevelExhausted {
            op: Operation::Rescale,
            ..
        })
    ));
    assert!(matches!(
        e.mul_const(&x, Complex64::new(1.0, 0.0), Scale(2.0)),
        Err(Error::LevelExhausted { .. })
    ));
    let top = c.encrypt_real(&[1.0], e.max_level()).unwrap();
    assert!(matches!(
        e.rotate(&top, RotStep(2)),
        Err(Error::MissingRotationKey { normalized: 2, .. })
    ));
    assert!(matches!(
        e.rotate_hoisted(&top, &[RotStep(1), RotStep(5)]),
        Err(Error::MissingRotationKey { .. })
    ));
    assert!(matches!(
        e.conjugate(&top),
        Err(Error::MissingConjugationKey)
    ));
    let prod = e.mul(&top, &top).unwrap();
    assert!(matches!(
        e.add(&prod, &top),
        Err(Error::ScaleMismatch { .. })
    ));
    assert!(matches!(
        e.drop_to_level(&x, Level(2)),
        Err(Error::LevelMismatch { .. })
    ));
    let pt_low = e.encode_real_at(&[1.0], Level(0)).unwrap();
    assert!(matches!(
        e.add_plain(&top, &pt_low),
        Err(Error::LevelMismatch { .. })
    ));
    assert!(matches!(
        e.bootstrap(&top),
        Err(Error::BootstrapUnavailable { .. })
    ));
    assert!(e.bootstrap_info().is_none());
    // Another parameter set, another key.
    let (mut c2, e2) = setup(presets::insecure_test_n11(), &[], false);
    let other = c2.encrypt_real(&[1.0], e2.max_level()).unwrap();
    assert!(matches!(
        e.add(&top, &other),
        Err(Error::ParameterMismatch { .. })
    ));
    assert!(matches!(
        c.decrypt(&other),
        Err(Error::ParameterMismatch { .. })
    ));
    let mut c3 = CkksClient::from_seed(e.params().clone(), 7);
    let foreign = c3.encrypt_real(&[1.0], e.max_level()).unwrap();
    assert!(matches!(
        e.neg(&foreign),
        Err(Error::ParameterMismatch { .. })
    ));
    assert!(matches!(
        e.encode_real(&[f64::NAN], Level(0), Scale(2.0)),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        e.encode_real(&vec![0.0; e.slots() + 1], Level(0), Scale(2.0)),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn sparse_packing_encodes_rotates_and_multiplies() {
    let mut lit = presets::insecure_test_n11();
    lit.log_slots = Some(4);
    let (mut c, e) = setup(lit, &[1, -2], true);
    assert_eq!(e.slots(), 16);
    let x = random_values(16, 9);
    let cx = c.encrypt_values(&x, e.max_level()).unwrap();
    let got = c.decrypt_values(&cx).unwrap();
    assert!(min_precision(&got, &x) > 25.0);
    let r = e.rotate(&cx, RotStep(-2)).unwrap();
    let want: Vec<Complex64> = (0..16).map(|t| x[(t + 14) % 16]).collect();
    assert!(min_precision(&c.decrypt_values(&r).unwrap(), &want) > 22.0);
    let m = e
        .rescale(&e.mul(&cx, &e.conjugate(&cx).unwrap()).unwrap())
        .unwrap();
    let want: Vec<Complex64> = x
        .iter()
        .map(|a| Complex64::new(a.norm_sqr(), 0.0))
        .collect();
    assert!(min_precision(&c.decrypt_values(&m).unwrap(), &want) > 20.0);
}

#[test]
fn single_thread_pool_gives_identical_results() {
    let (mut c, e) = setup(presets::insecure_test_n11(), &[1], false);
    let e1 = e.clone().with_threads(1).unwrap();
    let x = random_values(e.slots(), 5);
    let cx = c.encrypt_values(&x, e.max_level()).unwrap();
    let a = e.rotate(&e.mul(&cx, &cx).unwrap(), RotStep(1)).unwrap();
    let b = e1.rotate(&e1.mul(&cx, &cx).unwrap(), RotStep(1)).unwrap();
    assert_eq!(a, b);
}
