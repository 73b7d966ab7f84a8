//! Every `A B^T` and `A^T B` algorithm on the real CKKS backend (hetal-ckks, insecure test
//! presets), on random multi-block shapes: the decrypted result matches the float product, the
//! output level is the declared one, and the declared keys suffice (the server holds only the
//! union of the keys the algorithms declare; each algorithm's own list is checked on the mock).

use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams, presets};
use hetal_linalg::matmul::{AbtAlgorithm, AtbAlgorithm, MatmulDims, jin_atb_streaming};
use hetal_linalg::packed::{Layout, Matrix, PackedMatrix, UnitShape};
use hetal_traits::{Decryptor, Encoder, KeyGenerator, KeyRequest, Level};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;

/// Error bound for one output entry: the scale is 2^40 and fresh CKKS noise is below 2^-30 per
/// slot at N ≤ 2^12; each entry is a sum of `n` products of entries in [-1, 1) whose errors add
/// (at most `n` of them, each ≤ 2·2^-30), plus the key-switching and rescaling noise of the slot
/// folds (at most `slots` slots of noise ≤ 2^-30 summed per fold, over at most `2c` class terms).
fn ckks_bound(n: usize, slots: usize, c: usize) -> f64 {
    (2.0 * n as f64 + 2.0 * c as f64 * slots as f64) * 2f64.powi(-30)
}

struct Setup {
    params: CkksParams,
    top: Level,
}

impl Setup {
    fn new(lit: hetal_ckks::ParamsLiteral) -> Self {
        let params = CkksParams::new(&lit).unwrap();
        let top = CkksClient::from_seed(params.clone(), 0).max_level();
        Setup { params, top }
    }

    fn pair(&self, keys: &KeyRequest, seed: u64) -> (CkksClient, CkksEvaluator) {
        let mut client = CkksClient::from_seed(self.params.clone(), seed);
        let ev = CkksEvaluator::new(
            self.params.clone(),
            client.generate_evaluation_keys(keys).unwrap(),
        )
        .unwrap();
        (client, ev)
    }
}

fn random(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// Runs every algorithm on one shape; returns the largest error relative to its bound.
fn check_shape(setup: &Setup, dims: &MatmulDims, seed: u64, with_jin: bool) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (a, b, c) = (dims.a, dims.b, dims.c);
    let (x, w, p) = (
        random(a, b, &mut rng),
        random(c, b, &mut rng),
        random(a, c, &mut rng),
    );
    let slots = dims.shape.slots();
    let top = setup.top;
    let mut worst: f64 = 0.0;
    let mut keys = KeyRequest::default();
    for algo in AbtAlgorithm::ALL {
        keys.merge(&algo.required_keys(dims).unwrap());
    }
    for algo in AtbAlgorithm::ALL {
        keys.merge(&algo.required_keys(dims).unwrap());
    }
    let t0 = std::time::Instant::now();
    let (mut client, ev) = setup.pair(&keys, seed);
    eprintln!(
        "  {} keys for {dims}: {:.2?}",
        keys.rotations.len(),
        t0.elapsed()
    );
    let want = x.mul_abt(&w).unwrap();
    for &algo in AbtAlgorithm::ALL
        .iter()
        .filter(|&&a| with_jin || a != AbtAlgorithm::Jin)
    {
        let t0 = std::time::Instant::now();
        let (ca, cb) = algo
            .encrypt_inputs(&mut client, &x, &w, dims.shape, top, top)
            .unwrap();
        let out = algo
            .multiply(&ev, &ca, &cb)
            .unwrap_or_else(|e| panic!("{algo} on {dims}: {e}"));
        assert_eq!(
            Some(out.level()),
            algo.output_level(top, top),
            "{algo} level"
        );
        let err = out.decrypt(&client).unwrap().max_abs_diff(&want);
        let bound = ckks_bound(b, slots, c);
        assert!(
            err <= bound,
            "{algo} on {dims} {:?}: error {err:e} > {bound:e}",
            dims.shape
        );
        worst = worst.max(err / bound);
        eprintln!("  {algo} on {dims}: {:.2?}", t0.elapsed());
    }
    let want = p.mul_atb(&x).unwrap();
    for &algo in AtbAlgorithm::ALL
        .iter()
        .filter(|&&a| with_jin || a != AtbAlgorithm::Jin)
    {
        let t0 = std::time::Instant::now();
        let bound = ckks_bound(a, slots, c);
        if algo == AtbAlgorithm::Jin {
            // c·b outputs: decrypt them as they come.
            let ca =
                PackedMatrix::encrypt(&mut client, &p, dims.shape, Layout::Columns, top).unwrap();
            let cb =
                PackedMatrix::encrypt(&mut client, &x, dims.shape, Layout::Columns, top).unwrap();
            let got = Mutex::new(vec![0.0; c * b]);
            jin_atb_streaming(&ev, &ca, &cb, |r, j, ct| {
                got.lock().unwrap()[r * b + j] = client.decrypt_real(&ct)?[0];
                Ok(())
            })
            .unwrap();
            let err = Matrix::new(c, b, got.into_inner().unwrap())
                .unwrap()
                .max_abs_diff(&want);
            assert!(
                err <= bound,
                "jin A^T B on {dims}: error {err:e} > {bound:e}"
            );
            worst = worst.max(err / bound);
            eprintln!("  {algo} on {dims}: {:.2?}", t0.elapsed());
            continue;
        }
        let (ca, cb) = algo
            .encrypt_inputs(&mut client, &p, &x, dims.shape, top, top)
            .unwrap();
        let out = algo
            .multiply(&ev, &ca, &cb)
            .unwrap_or_else(|e| panic!("{algo} on {dims}: {e}"));
        assert_eq!(
            Some(out.level()),
            algo.output_level(top, top, c),
            "{algo} level"
        );
        let err = out.decrypt(&client).unwrap().max_abs_diff(&want);
        assert!(
            err <= bound,
            "{algo} on {dims} {:?}: error {err:e} > {bound:e}",
            dims.shape
        );
        worst = worst.max(err / bound);
        eprintln!("  {algo} on {dims}: {:.2?}", t0.elapsed());
    }
    worst
}

#[test]
fn every_algorithm_on_ckks_n11_multi_block() {
    // 1024 slots, 5 levels: enough for every algorithm at the top level.
    let setup = Setup::new(presets::insecure_test_n11());
    let dims = MatmulDims::new(40, 20, 4, UnitShape::new(16, 64).unwrap()).unwrap();
    let worst = check_shape(&setup, &dims, 1, true);
    eprintln!("N11 (40,20,4): worst error / bound = {worst:.2e}");
}

#[test]
fn every_algorithm_on_ckks_n12_random_shapes() {
    let setup = Setup::new(presets::insecure_test_n12());
    let slots = 2048usize;
    // s0 ≤ 32 keeps Volley Revolver (s0 rotations per block row) short; Jin et al. (b·c·log S
    // rotations) runs on the N11 shape above only.
    let strategy = (1u32..=3, 2u32..=5).prop_flat_map(move |(log_c, log_s0)| {
        let log_s0 = log_s0.max(log_c);
        let shape = UnitShape::new(1 << log_s0, slots >> log_s0).unwrap();
        (
            Just(1usize << log_c),
            Just(shape),
            1..=2 * shape.s0,
            1..=48usize,
            any::<u64>(),
        )
    });
    let config = Config {
        cases: 3,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]));
    runner
        .run(&strategy, |(c, shape, a, b, seed)| {
            let dims = MatmulDims::new(a, b, c, shape).unwrap();
            let worst = check_shape(&setup, &dims, seed, false);
            eprintln!("N12 {dims} {shape:?}: worst error / bound = {worst:.2e}");
            Ok(())
        })
        .unwrap();
}
