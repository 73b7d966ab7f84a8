//! ASoftmax and its baselines on the mock: the homomorphic result equals the plaintext
//! reference of the same computation, stays within the documented error of the exact softmax,
//! consumes exactly the predicted depth, and bootstraps where levels run out.

use hetal_linalg::Error;
use hetal_linalg::approx::Refresher;
use hetal_linalg::approx::softmax::{RowLayout, SoftmaxMethod, softmax_exact};
use hetal_linalg::poly::mirror_params;
use hetal_traits::counting::OpKind;
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
use hetal_traits::{Decryptor, Encryptor, KeyGenerator, KeyRequest, Level, Leveled};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn rows(rng: &mut ChaCha8Rng, n: usize, c: usize, range: f64) -> Vec<f64> {
    (0..n * c).map(|_| rng.random_range(-range..range)).collect()
}

fn run(method: SoftmaxMethod, layout: RowLayout, levels: u32, scores: &[f64], garbage: bool) -> (Vec<f64>, Level) {
    let mut client = MockClient::new(MockParams::ideal(layout.slots(), levels, 40.0), 11);
    let mut req = KeyRequest::default();
    req.rotations = method.rotations(&layout);
    let ev = MockEvaluator::new(client.generate_evaluation_keys(&req).unwrap());
    let mut packed = layout.pack(scores).unwrap();
    if garbage {
        // Junk outside the valid columns must not matter.
        for (t, v) in packed.iter_mut().enumerate() {
            if t % layout.s1() >= layout.classes() {
                *v = 0.37 * ((t % 7) as f64 - 3.0);
            }
        }
    }
    let ct = client.encrypt_real(&packed, Level(levels)).unwrap();
    let out = method.eval(&ev, &ct, &layout, &Refresher::new(&ev)).unwrap();
    let lvl = out.level();
    let v = client.decrypt_real(&out).unwrap();
    for (t, x) in v.iter().enumerate() {
        if t % layout.s1() >= layout.classes() {
            assert_eq!(*x, 0.0, "{method:?}: slot {t} outside the valid columns is {x}");
        }
    }
    (layout.unpack(&v, scores.len() / layout.classes()), lvl)
}

#[test]
fn every_method_matches_its_plain_reference_and_depth() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for c in [3usize, 7, 10] {
        for method in SoftmaxMethod::ALL {
            let cp = c.next_power_of_two();
            for s1 in [cp, 2 * cp] {
                let layout = RowLayout::new(16, s1, c).unwrap();
                let range = method.max_range();
                let x = rows(&mut rng, 16, c, range);
                let depth = method.depth(c);
                let (got, lvl) = run(method, layout, depth + 2, &x, s1 > cp);
                assert_eq!(lvl.0, 2, "{method:?} c={c}: depth");
                for (i, row) in x.chunks(c).enumerate() {
                    let want = method.eval_plain(row);
                    for j in 0..c {
                        let g = got[i * c + j];
                        assert!((g - want[j]).abs() < 1e-9, "{method:?} c={c} row {i}: {g} vs plain {}", want[j]);
                    }
                }
                let dry = method.dry_run(&MockParams::ideal(2, depth + 2, 40.0), c, Level(depth + 2)).unwrap();
                assert_eq!(dry.levels_consumed, depth, "{method:?} c={c}");
            }
        }
    }
}
