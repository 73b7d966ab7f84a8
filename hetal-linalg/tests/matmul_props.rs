//! Property tests of every `A B^T` and `A^T B` algorithm on the mock: random shapes spanning
//! several block rows and columns, exact and noisy arithmetic. Each case also checks the op
//! counts against the formulas, the output level, the zero padding of the output and that the
//! declared keys suffice (the evaluator only holds the keys `required_keys` asks for).

use hetal_linalg::matmul::{AbtAlgorithm, AtbAlgorithm, MatmulDims, OpTally};
use hetal_linalg::packed::{Layout, Matrix, PackedMatrix, UnitShape};
use hetal_traits::counting::Counting;
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
use hetal_traits::{Encoder, KeyGenerator, Level};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MAX_LEVEL: u32 = 6;

/// A random case: slots, unit shape, (a, b, c), input levels, data seed.
#[derive(Clone, Debug)]
struct Case {
    shape: UnitShape,
    a: usize,
    b: usize,
    c: usize,
    la: u32,
    lb: u32,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    // slots 64..1024; c a power of two 2..16 dividing s0 and s1.
    (6u32..=10, 1u32..=4)
        .prop_flat_map(|(log_slots, log_c)| {
            let log_c = log_c.min(log_slots / 2);
            (Just(log_slots), Just(log_c), log_c..=log_slots - log_c)
        })
        .prop_flat_map(|(log_slots, log_c, log_s0)| {
            let shape = UnitShape::new(1 << log_s0, 1 << (log_slots - log_s0)).unwrap();
            (
                Just(shape),
                Just(1usize << log_c),
                1..=3 * shape.s0,
                1..=3 * shape.s1,
                4u32..=MAX_LEVEL,
                4u32..=MAX_LEVEL,
                any::<u64>(),
            )
        })
        .prop_map(|(shape, c, a, b, la, lb, seed)| Case {
            shape,
            a,
            b,
            c,
            la,
            lb,
            seed,
        })
}

fn random_matrix(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// Server with exactly the keys the algorithm declares.
fn server(client: &mut MockClient, keys: &hetal_traits::KeyRequest) -> Counting<MockEvaluator> {
    Counting::new(MockEvaluator::new(
        client.generate_evaluation_keys(keys).unwrap(),
    ))
}

/// Bound on the error of one output entry under mock noise of standard deviation `sigma`:
/// the entry sums `n` products of entries bounded by `m`, each input carrying encryption noise
/// (variance ≤ 2·n·m²·σ², real and imaginary parts), plus the noise of every rotation and rescale
/// that the slot sums and masks fold in: at most `4·(log2 S + 2)` noisy operations per fold
/// step, each summed over at most `S` slots, for at most `2c` class terms. Six standard
/// deviations of that variance.
fn noise_bound(sigma: f64, n: usize, m: f64, slots: usize, c: usize) -> f64 {
    let log_s = slots.trailing_zeros() as f64;
    let var = 2.0 * n as f64 * m * m + 4.0 * (log_s + 2.0) * slots as f64 * 2.0 * c as f64;
    6.0 * sigma * var.sqrt()
}

/// Checks the zeros outside the `rows x cols` corner of every block of a Plain output.
fn assert_zero_padding(
    out: &PackedMatrix<hetal_traits::mock::MockCiphertext>,
    client: &MockClient,
    tol: f64,
) {
    let shape = out.shape();
    let slots = out.decrypt_slots(client).unwrap();
    let (gr, gc) = out.grid();
    for p in 0..gr {
        for q in 0..gc {
            let v = &slots[p * gc + q];
            for i in 0..shape.s0 {
                for l in 0..shape.s1 {
                    let inside = p * shape.s0 + i < out.rows() && q * shape.s1 + l < out.cols();
                    if !inside {
                        let z = v[i * shape.s1 + l];
                        assert!(
                            z.norm() <= tol,
                            "slot ({i},{l}) of block ({p},{q}) outside the matrix holds {z}"
                        );
                    }
                }
            }
        }
    }
}

fn run_abt(case: &Case, sigma: f64) {
    let Case {
        shape,
        a,
        b,
        c,
        la,
        lb,
        seed,
    } = *case;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ma = random_matrix(a, b, &mut rng);
    let mb = random_matrix(c, b, &mut rng);
    let want = ma.mul_abt(&mb).unwrap();
    let dims = MatmulDims::new(a, b, c, shape).unwrap();
    let params = MockParams::ideal(shape.slots(), MAX_LEVEL, 40.0).with_noise(sigma);
    for &algo in AbtAlgorithm::ALL {
        let mut client = MockClient::new(params.clone(), seed ^ 17);
        let ev = server(&mut client, &algo.required_keys(&dims).unwrap());
        let (ca, cb) = algo
            .encrypt_inputs(&mut client, &ma, &mb, shape, Level(la), Level(lb))
            .unwrap();
        ev.reset();
        let out = algo
            .multiply(&ev, &ca, &cb)
            .unwrap_or_else(|e| panic!("{algo} on {case:?}: {e}"));
        let counts = OpTally::from_counts(&ev.snapshot());
        assert_eq!(
            counts,
            algo.expected_counts(&dims),
            "{algo} counts on {case:?}"
        );
        assert_eq!(
            Some(out.level()),
            algo.output_level(Level(la), Level(lb)),
            "{algo} level on {case:?}"
        );
        assert_eq!(out.layout(), algo.output_layout());
        let got = out.decrypt(&client).unwrap();
        let tol = if sigma == 0.0 {
            1e-9 * (1.0 + b as f64)
        } else {
            noise_bound(sigma, b, 1.0, shape.slots(), c)
        };
        let err = got.max_abs_diff(&want);
        assert!(err <= tol, "{algo} on {case:?}: error {err:e} > {tol:e}");
        if out.layout() == Layout::Plain {
            assert_zero_padding(&out, &client, tol);
        }
    }
}

fn run_atb(case: &Case, sigma: f64) {
    let Case {
        shape,
        a,
        b,
        c,
        la,
        lb,
        seed,
    } = *case;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ma = random_matrix(a, c, &mut rng);
    let mb = random_matrix(a, b, &mut rng);
    let want = ma.mul_atb(&mb).unwrap();
    let dims = MatmulDims::new(a, b, c, shape).unwrap();
    let params = MockParams::ideal(shape.slots(), MAX_LEVEL, 40.0).with_noise(sigma);
    let (la, lb) = (Level(la), Level(lb));
    for &algo in AtbAlgorithm::ALL {
        let mut client = MockClient::new(params.clone(), seed ^ 29);
        let ev = server(&mut client, &algo.required_keys(&dims).unwrap());
        let (ca, cb) = algo
            .encrypt_inputs(&mut client, &ma, &mb, shape, la, lb)
            .unwrap();
        let Some(level) = algo.output_level(la, lb, c) else {
            assert!(
                algo.multiply(&ev, &ca, &cb).is_err(),
                "{algo} must refuse too low levels"
            );
            continue;
        };
        ev.reset();
        let out = algo
            .multiply(&ev, &ca, &cb)
            .unwrap_or_else(|e| panic!("{algo} on {case:?}: {e}"));
        let counts = OpTally::from_counts(&ev.snapshot());
        assert_eq!(
            counts,
            algo.expected_counts(&dims, la, lb),
            "{algo} counts on {case:?}"
        );
        assert_eq!(out.level(), level, "{algo} level on {case:?}");
        let got = out.decrypt(&client).unwrap();
        let tol = if sigma == 0.0 {
            1e-9 * (1.0 + a as f64)
        } else {
            noise_bound(sigma, a, 1.0, shape.slots(), c)
        };
        let err = got.max_abs_diff(&want);
        assert!(err <= tol, "{algo} on {case:?}: error {err:e} > {tol:e}");
        if out.layout() == Layout::Plain {
            assert_zero_padding(&out, &client, tol);
        }
    }
}

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]))
}

#[test]
fn abt_algorithms_match_the_float_product() {
    runner(24)
        .run(&case(), |c| {
            run_abt(&c, 0.0);
            Ok(())
        })
        .unwrap();
}

#[test]
fn atb_algorithms_match_the_float_product() {
    runner(24)
        .run(&case(), |c| {
            run_atb(&c, 0.0);
            Ok(())
        })
        .unwrap();
}

#[test]
fn algorithms_stay_within_the_noise_bound() {
    runner(8)
        .run(&case(), |c| {
            run_abt(&c, 1e-6);
            run_atb(&c, 1e-6);
            Ok(())
        })
        .unwrap();
}

#[test]
fn tiling_round_trip_feeds_the_next_product() {
    // Z = X W^T (DiagABT) -> tile_columns(Z) -> G = Z^T X (DiagATB) -> tile_rows(G) -> G X^T ...
    let shape = UnitShape::new(16, 16).unwrap();
    let (a, b, c) = (40, 37, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = random_matrix(a, b, &mut rng);
    let w = random_matrix(c, b, &mut rng);
    let mut client = MockClient::new(MockParams::ideal(256, 12, 40.0), 5);
    let ev = MockEvaluator::new(client.unrestricted_keys());
    let top = ev.max_level();
    let cx = PackedMatrix::encrypt(&mut client, &x, shape, Layout::Plain, top).unwrap();
    let cw = PackedMatrix::encrypt(&mut client, &w, shape, Layout::Plain, top).unwrap();
    let cwt = hetal_linalg::packed::tile_rows(&ev, &cw).unwrap();
    assert_eq!(cwt.layout(), Layout::RowTiled);
    assert!(cwt.decrypt(&client).unwrap().max_abs_diff(&w) < 1e-12);
    // Every row of the tiled block is a copy.
    let slots = cwt.decrypt_slots(&client).unwrap();
    for (q, blk) in slots.iter().enumerate() {
        for i in 0..shape.s0 {
            for l in 0..shape.s1 {
                let want = if q * 16 + l < b {
                    w.get(i % c, q * 16 + l)
                } else {
                    0.0
                };
                assert!((blk[i * 16 + l].re - want).abs() < 1e-12);
            }
        }
    }
    let z = AbtAlgorithm::DiagAbt.multiply(&ev, &cx, &cwt).unwrap();
    let zt = hetal_linalg::packed::tile_columns(&ev, &z).unwrap();
    assert_eq!(zt.level(), z.level(), "tiling costs no level");
    let g = AtbAlgorithm::DiagAtbAuto.multiply(&ev, &zt, &cx).unwrap();
    let want_z = x.mul_abt(&w).unwrap();
    let want_g = want_z.mul_atb(&x).unwrap();
    assert!(z.decrypt(&client).unwrap().max_abs_diff(&want_z) < 1e-9);
    assert!(g.decrypt(&client).unwrap().max_abs_diff(&want_g) < 1e-8);
    let gt = hetal_linalg::packed::tile_rows(&ev, &g).unwrap();
    let z2 = AbtAlgorithm::DiagAbt.multiply(&ev, &cx, &gt).unwrap();
    assert!(
        z2.decrypt(&client)
            .unwrap()
            .max_abs_diff(&x.mul_abt(&want_g).unwrap())
            < 1e-7
    );
}

#[test]
fn names_round_trip_and_unknown_names_are_rejected() {
    for &a in AbtAlgorithm::ALL {
        assert_eq!(a.to_string().parse::<AbtAlgorithm>().unwrap(), a);
    }
    for &a in AtbAlgorithm::ALL {
        assert_eq!(
            a.name()
                .to_uppercase()
                .replace('_', "-")
                .parse::<AtbAlgorithm>()
                .unwrap(),
            a
        );
    }
    let e = "diag_abx".parse::<AbtAlgorithm>().unwrap_err();
    assert!(
        e.to_string()
            .contains("diag_abt, col_major, jin, volley_revolver"),
        "{e}"
    );
}

#[test]
fn wrong_layouts_and_shapes_are_errors_not_panics() {
    let shape = UnitShape::new(8, 8).unwrap();
    let mut client = MockClient::new(MockParams::ideal(64, 5, 40.0), 1);
    let ev = MockEvaluator::new(client.unrestricted_keys());
    let x = Matrix::from_fn(10, 9, |i, j| (i + j) as f64 / 20.0);
    let w = Matrix::from_fn(4, 9, |i, j| (i * j) as f64 / 40.0);
    let l = Level(5);
    let cx = PackedMatrix::encrypt(&mut client, &x, shape, Layout::Plain, l).unwrap();
    let cw = PackedMatrix::encrypt(&mut client, &w, shape, Layout::Plain, l).unwrap();
    // DiagABT needs the row-tiled B.
    assert!(AbtAlgorithm::DiagAbt.multiply(&ev, &cx, &cw).is_err());
    // c = 3 is not a power of two.
    let w3 = Matrix::from_fn(3, 9, |_, _| 0.1);
    assert!(PackedMatrix::encrypt(&mut client, &w3, shape, Layout::RowTiled, l).is_err());
    let dims = MatmulDims::new(10, 9, 3, shape).unwrap();
    assert!(AbtAlgorithm::DiagAbt.required_keys(&dims).is_err());
    // Too few levels.
    let low = PackedMatrix::encrypt(&mut client, &x, shape, Layout::Plain, Level(2)).unwrap();
    let cwt = PackedMatrix::encrypt(&mut client, &w, shape, Layout::RowTiled, l).unwrap();
    assert!(matches!(
        AbtAlgorithm::DiagAbt.multiply(&ev, &low, &cwt),
        Err(hetal_linalg::Error::DepthExhausted {
            needed: 3,
            available: 2
        })
    ));
    // Missing keys are reported by the evaluator.
    let mut c2 = MockClient::new(MockParams::ideal(64, 5, 40.0), 1);
    let ev2 = MockEvaluator::new(
        c2.generate_evaluation_keys(&hetal_traits::KeyRequest::default())
            .unwrap(),
    );
    let cx2 = PackedMatrix::encrypt(&mut c2, &x, shape, Layout::Plain, l).unwrap();
    let cwt2 = PackedMatrix::encrypt(&mut c2, &w, shape, Layout::RowTiled, l).unwrap();
    assert!(matches!(
        AbtAlgorithm::DiagAbt.multiply(&ev2, &cx2, &cwt2),
        Err(hetal_linalg::Error::He(
            hetal_traits::Error::MissingRotationKey { .. }
        ))
    ));
}

#[test]
fn pack_and_unpack_are_inverse_for_every_layout() {
    let shape = UnitShape::new(4, 8).unwrap();
    let m = Matrix::from_fn(8, 4, |i, j| (i * 10 + j) as f64);
    for layout in [
        Layout::Plain,
        Layout::RowTiled,
        Layout::ColTiled,
        Layout::Columns,
        Layout::Replicated,
    ] {
        let rows = if layout == Layout::RowTiled { 4 } else { 8 };
        let mm = Matrix::from_fn(rows, 4, |i, j| m.get(i, j));
        let v = hetal_linalg::packed::pack_values(&mm, layout, shape).unwrap();
        let back = hetal_linalg::packed::unpack_values(&v, rows, 4, layout, shape).unwrap();
        assert_eq!(back, mm, "{layout:?}");
    }
    let client = MockClient::new(MockParams::ideal(32, 2, 30.0), 1);
    let p = PackedMatrix::encode(&client, &m, shape, Layout::Plain, Level(2)).unwrap();
    assert_eq!(p.grid(), (2, 1));
    assert_eq!(p.decode(&client).unwrap(), m);
}
