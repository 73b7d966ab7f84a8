//! Criterion benchmarks of the approximations on the mock (algorithmic cost: op counts times
//! the mock's cost per op). Stable ids: `approx/<piece>/<params>/mock`.

use criterion::{Criterion, criterion_group, criterion_main};
use hetal_linalg::approx::Refresher;
use hetal_linalg::approx::compare::Comparison;
use hetal_linalg::approx::exp::ExpApprox;
use hetal_linalg::approx::inverse::GoldschmidtInverse;
use hetal_linalg::approx::sigmoid::SigmoidApprox;
use hetal_linalg::approx::softmax::{AsoftmaxParams, RowLayout, SoftmaxMethod, asoftmax};
use hetal_linalg::poly::{Polynomial, evaluate};
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
use hetal_traits::{Encryptor, Level};
use std::hint::black_box;

const LOG_SLOTS: u32 = 12;
const LEVELS: u32 = 90;

fn setup() -> (MockClient, MockEvaluator) {
    let c = MockClient::new(MockParams::ideal(1 << LOG_SLOTS, LEVELS, 40.0), 1);
    let e = MockEvaluator::new(c.unrestricted_keys());
    (c, e)
}

fn bench(c: &mut Criterion) {
    let (mut client, ev) = setup();
    let rf = Refresher::new(&ev);
    let slots = 1usize << LOG_SLOTS;
    let small: Vec<f64> = (0..slots)
        .map(|i| ((i * 37 % 101) as f64 / 101.0) - 0.5)
        .collect();
    let ct = client.encrypt_real(&small, Level(LEVELS)).unwrap();
    let mut g = c.benchmark_group("approx");
    g.sample_size(10);

    let sig = Polynomial::interpolate(|x| 1.0 / (1.0 + (-x).exp()), -16.0, 16.0, 63).unwrap();
    g.bench_function("poly/chebyshev-deg63/mock", |b| {
        b.iter(|| evaluate(&ev, black_box(&sig), &ct).unwrap())
    });
    let exp = ExpApprox::hetal();
    g.bench_function("exp/hetal/mock", |b| {
        b.iter(|| {
            exp.eval(&ev, black_box(&ct), 8.0, None, 1.0, 3000.0, &rf)
                .unwrap()
        })
    });
    let tuned = ExpApprox::tuned();
    g.bench_function("exp/tuned/mock", |b| {
        b.iter(|| {
            tuned
                .eval(&ev, black_box(&ct), 128.0, None, 1.0, 1e7, &rf)
                .unwrap()
        })
    });
    let z: Vec<f64> = small.iter().map(|v| 5.0 + 4.0 * v).collect();
    let zc = client.encrypt_real(&z, Level(LEVELS)).unwrap();
    let inv = GoldschmidtInverse::hetal();
    g.bench_function("inverse/goldschmidt-r100-n16/mock", |b| {
        b.iter(|| {
            inv.eval(&ev, black_box(&zc), 1.0, (1.0, 10.0), None, &rf)
                .unwrap()
        })
    });
    let cmp = Comparison::hetal();
    g.bench_function("compare/f1g2/mock", |b| {
        b.iter(|| cmp.eval(&ev, black_box(&ct), &rf).unwrap())
    });
    let hecnn = SigmoidApprox::hecnn();
    g.bench_function("sigmoid/hecnn/mock", |b| {
        b.iter(|| hecnn.eval(&ev, black_box(&ct), 8.0, &rf).unwrap())
    });
    for classes in [3usize, 10] {
        let layout = RowLayout::dense(slots, classes).unwrap();
        let scores: Vec<f64> = (0..layout.s0() * classes)
            .map(|i| ((i * 53 % 257) as f64) - 128.0)
            .collect();
        let x = client
            .encrypt_real(&layout.pack(&scores).unwrap(), Level(LEVELS))
            .unwrap();
        for m in [SoftmaxMethod::Asoftmax, SoftmaxMethod::AsoftmaxPrecise] {
            g.bench_function(format!("{}/c={classes}/mock", m.name()), |b| {
                b.iter(|| m.eval(&ev, black_box(&x), &layout, &rf).unwrap())
            });
        }
        let hetal = AsoftmaxParams::hetal();
        g.bench_function(format!("asoftmax-hetal/c={classes}/mock"), |b| {
            b.iter(|| asoftmax(&ev, black_box(&x), &layout, &hetal, &rf).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
