//! Criterion benchmarks of the encrypted matrix products on the exact mock at 32768 slots
//! (HETAL's Table 7 shapes, s0 = a): ids `matmul/<algorithm>/<a>x<b>x<c>`, e.g.
//! `matmul/diag_abt/1024x769x8`, `matmul/diag_atb/1024x769x8` (DiagATB with the variant chosen
//! by the levels, both inputs at the top level), `matmul/col_major/...`, `matmul/row_major/...`;
//! the baselines named alike for both products get a suffix: `matmul/jin_abt/...`,
//! `matmul/jin_atb/...`, `matmul/volley_revolver_abt/...`, `matmul/volley_revolver_atb/...`.
//!
//! [`bench_abt`] and [`bench_atb`] take any implementor of the product traits: add a line to
//! `bench_matmul` to benchmark a new algorithm beside the built-ins.
//!
//! Jin et al. and Volley Revolver run only where their predicted op count stays below
//! `MAX_OPS` (they need up to 184560 rotations per product on these shapes); `hetal matmul`
//! prints their counts and times for every shape. The mock measures the algorithms' own
//! overhead (data movement, masks) with plaintext arithmetic; `hetal matmul --backend ckks`
//! gives CKKS timings.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hetal_linalg::matmul::{
    AbtAlgorithm, AbtProduct, AtbAlgorithm, AtbProduct, MatmulDims, OpTally,
};
use hetal_linalg::packed::Matrix;
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
use hetal_traits::{Encoder, KeyGenerator, KeyRequest};
use rand::{RngExt, SeedableRng};
use std::hint::black_box;

const SLOTS: usize = 32768;
const SHAPES: [(usize, usize, usize); 5] = [
    (128, 128, 4),
    (256, 256, 8),
    (512, 769, 4),
    (1024, 769, 8),
    (2048, 769, 16),
];
const MAX_OPS: u64 = 12_000;

fn total(t: &OpTally) -> u64 {
    t.cmult + t.mult + t.rot
}

fn random(rows: usize, cols: usize, rng: &mut rand_chacha::ChaCha8Rng) -> Matrix {
    Matrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

fn setup(keys: &KeyRequest) -> (MockClient, MockEvaluator) {
    let mut client = MockClient::new(MockParams::ideal(SLOTS, 12, 40.0), 1);
    let ev = MockEvaluator::new(client.generate_evaluation_keys(keys).expect("keys"));
    (client, ev)
}

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Benchmarks any [`AbtProduct`] on `X W^T` (both inputs at the top level) under `id`.
pub fn bench_abt<A: AbtProduct>(g: &mut Group, algo: &A, id: String, x: &Matrix, w: &Matrix) {
    let dims = MatmulDims::benchmark(x.rows(), x.cols(), w.rows(), SLOTS).expect("dims");
    let (mut client, ev) = setup(&algo.required_keys(&dims).expect("keys"));
    let top = ev.max_level();
    let (ca, cb) = algo
        .encrypt_inputs(&mut client, x, w, dims.shape, top, top)
        .expect("encrypt");
    g.bench_function(id, |bch| {
        bch.iter_batched(
            || (),
            |_| black_box(algo.multiply(&ev, &ca, &cb).expect("multiply")),
            BatchSize::PerIteration,
        )
    });
}

/// Benchmarks any [`AtbProduct`] on `P^T X` (both inputs at the top level) under `id`.
pub fn bench_atb<A: AtbProduct>(g: &mut Group, algo: &A, id: String, p: &Matrix, x: &Matrix) {
    let dims = MatmulDims::benchmark(x.rows(), x.cols(), p.cols(), SLOTS).expect("dims");
    let (mut client, ev) = setup(&algo.required_keys(&dims).expect("keys"));
    let top = ev.max_level();
    let (ca, cb) = algo
        .encrypt_inputs(&mut client, p, x, dims.shape, top, top)
        .expect("encrypt");
    g.bench_function(id, |bch| {
        bch.iter_batched(
            || (),
            |_| black_box(algo.multiply(&ev, &ca, &cb).expect("multiply")),
            BatchSize::PerIteration,
        )
    });
}

fn bench_matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    group.sample_size(10);
    let top = hetal_traits::Level(12);
    for (a, b, cl) in SHAPES {
        let dims = MatmulDims::benchmark(a, b, cl, SLOTS).expect("dims");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (x, w, p) = (
            random(a, b, &mut rng),
            random(cl, b, &mut rng),
            random(a, cl, &mut rng),
        );
        for &algo in AbtAlgorithm::ALL {
            if total(&AbtProduct::expected_counts(&algo, &dims, top, top)) > MAX_OPS {
                continue;
            }
            let id = if AtbAlgorithm::ALL.iter().any(|b| b.name() == algo.name()) {
                format!("{algo}_abt/{dims}")
            } else {
                format!("{algo}/{dims}")
            };
            bench_abt(&mut group, &algo, id, &x, &w);
        }
        for &algo in AtbAlgorithm::ALL {
            if total(&AtbProduct::expected_counts(&algo, &dims, top, top)) > MAX_OPS {
                continue;
            }
            let id = if AbtAlgorithm::ALL.iter().any(|b| b.name() == algo.name()) {
                format!("{algo}_atb/{dims}")
            } else {
                format!("{algo}/{dims}")
            };
            bench_atb(&mut group, &algo, id, &p, &x);
        }
    }
    group.finish();
}

criterion_group!(benches, bench_matmul);
criterion_main!(benches);
