//! Criterion benchmarks of every CKKS operation at N = 2^14 (preset N14_L7) and N = 2^16
//! (preset N16_L12), at the top level.
//!
//! Ids: `ckks/<op>/logn=<log N>/l=<level>`, e.g. `ckks/mul_relin_rescale/logn=16/l=12`.
//! Threads: rayon's global pool, so `RAYON_NUM_THREADS=1 cargo bench -p hetal-ckks --bench ops`
//! gives single-threaded timings. `HETAL_CKKS_BENCH_LOGN=14` (or 16) restricts the ring degree.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams, ParamsLiteral, presets};
use hetal_traits::{
    Complex64, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, KeyRequest, Level, RotStep,
};
use std::hint::black_box;
use std::time::Duration;

fn bench_preset(c: &mut Criterion, lit: ParamsLiteral) {
    let log_n = lit.log_n;
    let params = CkksParams::new(&lit).expect("preset");
    let mut client = CkksClient::from_seed(params.clone(), 1);
    let mut req = KeyRequest::with_rotations(1..=8);
    req.conjugation = true;
    let keys = client.generate_evaluation_keys(&req).expect("keys");
    let eval = CkksEvaluator::new(params, keys).expect("evaluator");
    let top = eval.max_level();
    let l = top.0;
    let slots = eval.slots();
    let x: Vec<Complex64> = (0..slots)
        .map(|i| Complex64::new((i % 17) as f64 / 17.0 - 0.5, (i % 5) as f64 / 10.0))
        .collect();
    let pt = eval.encode_at(&x, top).expect("encode");
    let a = client.encrypt(&pt).expect("encrypt");
    let b = client.encrypt(&pt).expect("encrypt");
    let prod = eval.mul(&a, &b).expect("mul");
    let steps: Vec<RotStep> = (1..=8).map(RotStep).collect();
    let scale = eval.canonical_scale(top);

    let mut g = c.benchmark_group("ckks");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let id = |op: &str| BenchmarkId::new(op, format!("logn={log_n}/l={l}"));
    g.bench_function(id("encode"), |bn| {
        bn.iter(|| eval.encode_at(black_box(&x), top).unwrap())
    });
    g.bench_function(id("decode"), |bn| {
        bn.iter(|| eval.decode(black_box(&pt)).unwrap())
    });
    g.bench_function(id("encrypt_sk"), |bn| {
        bn.iter(|| client.encrypt(black_box(&pt)).unwrap())
    });
    g.bench_function(id("encrypt_pk"), |bn| {
        bn.iter(|| client.encrypt_public(black_box(&pt)).unwrap())
    });
    g.bench_function(id("decrypt"), |bn| {
        bn.iter(|| client.decrypt(black_box(&a)).unwrap())
    });
    g.bench_function(id("decrypt_decode"), |bn| {
        bn.iter(|| client.decrypt_values(black_box(&a)).unwrap())
    });
    g.bench_function(id("add"), |bn| {
        bn.iter(|| eval.add(black_box(&a), black_box(&b)).unwrap())
    });
    g.bench_function(id("add_plain"), |bn| {
        bn.iter(|| eval.add_plain(black_box(&a), black_box(&pt)).unwrap())
    });
    g.bench_function(id("add_const"), |bn| {
        bn.iter(|| {
            eval.add_const(black_box(&a), Complex64::new(0.5, 0.25))
                .unwrap()
        })
    });
    g.bench_function(id("neg"), |bn| bn.iter(|| eval.neg(black_box(&a)).unwrap()));
    g.bench_function(id("mul_plain"), |bn| {
        bn.iter(|| eval.mul_plain(black_box(&a), black_box(&pt)).unwrap())
    });
    g.bench_function(id("mul_const"), |bn| {
        bn.iter(|| {
            eval.mul_const(black_box(&a), Complex64::new(0.5, 0.25), scale)
                .unwrap()
        })
    });
    g.bench_function(id("mul_integer"), |bn| {
        bn.iter(|| eval.mul_integer(black_box(&a), 3).unwrap())
    });
    g.bench_function(id("mul_i"), |bn| {
        bn.iter(|| eval.mul_i(black_box(&a)).unwrap())
    });
    g.bench_function(id("mul_relin"), |bn| {
        bn.iter(|| eval.mul(black_box(&a), black_box(&b)).unwrap())
    });
    g.bench_function(id("square_relin"), |bn| {
        bn.iter(|| eval.square(black_box(&a)).unwrap())
    });
    g.bench_function(id("rescale"), |bn| {
        bn.iter(|| eval.rescale(black_box(&prod)).unwrap())
    });
    g.bench_function(id("mul_relin_rescale"), |bn| {
        bn.iter(|| {
            eval.rescale(&eval.mul(black_box(&a), black_box(&b)).unwrap())
                .unwrap()
        })
    });
    g.bench_function(id("drop_level"), |bn| {
        bn.iter(|| eval.drop_to_level(black_box(&a), Level(l / 2)).unwrap())
    });
    g.bench_function(id("rotate"), |bn| {
        bn.iter(|| eval.rotate(black_box(&a), RotStep(1)).unwrap())
    });
    g.bench_function(id("rotate_hoisted_x8"), |bn| {
        bn.iter(|| eval.rotate_hoisted(black_box(&a), &steps).unwrap())
    });
    g.bench_function(id("conjugate"), |bn| {
        bn.iter(|| eval.conjugate(black_box(&a)).unwrap())
    });
    g.finish();
}

fn ops(c: &mut Criterion) {
    let only = std::env::var("HETAL_CKKS_BENCH_LOGN").ok();
    if only.as_deref().is_none_or(|v| v == "14") {
        bench_preset(c, presets::n14_l7());
    }
    if only.as_deref().is_none_or(|v| v == "16") {
        bench_preset(c, presets::n16_l12());
    }
}

criterion_group!(benches, ops);
criterion_main!(benches);
