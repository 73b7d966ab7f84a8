//! Seeded property tests on the mock: every approximation stays within its documented error on
//! its documented range, and the depth the dry run predicts equals the levels actually consumed.

use hetal_linalg::approx::Refresher;
use hetal_linalg::approx::compare::Comparison;
use hetal_linalg::approx::domain::DomainExtension;
use hetal_linalg::approx::exp::ExpApprox;
use hetal_linalg::approx::inverse::GoldschmidtInverse;
use hetal_linalg::approx::sigmoid::{SigmoidApprox, sigmoid};
use hetal_linalg::poly::{DryRun, Polynomial, dry_run, evaluate, mirror_params};
use hetal_traits::mock::{MockCiphertext, MockClient, MockEvaluator, MockParams};
use hetal_traits::{Decryptor, Encoder, Encryptor, Level, Leveled};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

const SLOTS: usize = 8;
const TOP: u32 = 20;

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x4e7a1),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A chain whose primes differ from the scale (and from each other), so that scale management
/// is exercised: every addition must still see matching scales.
fn params() -> MockParams {
    let primes: Vec<u64> = std::iter::once(1u64 << 58)
        .chain((1..=TOP as u64).map(|i| (1u64 << 42) - 4000 * i - 57))
        .collect();
    MockParams::from_chain(SLOTS, &primes, (1u64 << 42) as f64)
}

fn setup() -> (MockClient, MockEvaluator) {
    let c = MockClient::new(params(), 3);
    let e = MockEvaluator::new(c.unrestricted_keys());
    (c, e)
}

/// Runs `f` on `xs` at the top level; returns the decrypted result and the levels consumed, and
/// checks the dry run predicts the same number of levels.
fn run_checked(
    xs: &[f64],
    f: impl Fn(&MockEvaluator, &MockCiphertext) -> MockCiphertext,
    predicted: u32,
) -> Vec<f64> {
    let (mut c, e) = setup();
    let ct = c.encrypt_real(xs, Level(TOP)).unwrap();
    let y = f(&e, &ct);
    assert_eq!(TOP - y.level().0, predicted, "levels consumed");
    assert!(
        y.scale().matches(e.canonical_scale(y.level())),
        "result scale is canonical"
    );
    c.decrypt_real(&y).unwrap()
}

fn dry(
    input: &[f64],
    f: impl FnOnce(
        &hetal_traits::counting::Counting<MockEvaluator>,
        &MockCiphertext,
    ) -> hetal_linalg::Result<MockCiphertext>,
) -> DryRun {
    let (_, e) = setup();
    dry_run(mirror_params(&e, 2), Level(TOP), input, f).unwrap()
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn exp_is_within_6e7_relative_on_minus8_8(xs in prop::collection::vec(-8.0f64..8.0, SLOTS)) {
        let a = ExpApprox::hetal();
        let rf = Refresher::without_bootstrapping();
        let v: Vec<f64> = xs.iter().map(|x| x / 8.0).collect();
        let got = run_checked(&v, |e, ct| a.eval(e, ct, 8.0, None, 1.0, 3000.0, &rf).unwrap(), a.depth());
        for (g, x) in got.iter().zip(&xs) {
            prop_assert!((g / x.exp() - 1.0).abs() < 6e-7, "exp({x}) = {g}");
            prop_assert!((g - a.eval_plain(*x)).abs() < 1e-9 * (1.0 + g.abs()));
        }
        let d = dry(&[0.1, -0.1], |e, ct| a.eval(e, ct, 8.0, None, 1.0, 3000.0, &rf));
        prop_assert_eq!(d.levels_consumed, a.depth());
        prop_assert_eq!(a.depth(), 7);
    }

    #[test]
    fn tuned_exp_has_a_flat_relative_error_on_minus32_16(xs in prop::collection::vec(-32.0f64..16.0, SLOTS), far in prop::collection::vec(-128.0f64..-32.0, SLOTS)) {
        let a = ExpApprox::tuned();
        let rf = Refresher::without_bootstrapping();
        let offset = a.eval_plain(0.0) - 1.0;
        let v: Vec<f64> = xs.iter().map(|x| x / 128.0).collect();
        let got = run_checked(&v, |e, ct| a.eval(e, ct, 128.0, None, 0.125, 1e7, &rf).unwrap(), a.depth());
        for (g, x) in got.iter().zip(&xs) {
            prop_assert!((g / x.exp() - 1.0 - offset).abs() < 1e-11, "exp({x}) = {g}");
            prop_assert!((g - a.eval_plain(*x)).abs() < 1e-9 * (1.0 + g.abs()));
        }
        for x in &far {
            prop_assert!((a.eval_plain(*x) - x.exp()).abs() < 1e-12);
        }
        for y in &xs {
            let y = -0.25 - 0.75 * (y + 32.0) / 48.0;
            prop_assert!((a.poly().eval(y) / y.exp() - 1.0).abs() < 4e-6, "p({y})");
        }
        prop_assert_eq!(a.depth(), 11);
    }

    #[test]
    fn fitted_goldschmidt_meets_its_target(lo in 0.05f64..2.0, w in 1.0f64..400.0, bits in 10u32..45, t in prop::collection::vec(0.0f64..1.0, SLOTS)) {
        let hi = lo + w;
        let g = GoldschmidtInverse::for_range(lo, hi, bits).unwrap();
        let bound = 2f64.powi(-(bits as i32)) + 1e-13;
        for u in &t {
            let z = lo + u * w;
            prop_assert!((g.eval_plain(z, 1.0) * z - 1.0).abs() <= bound, "1/{z}");
        }
        if g.iterations > 0 {
            // One iteration fewer misses the target somewhere on the range.
            let fewer = GoldschmidtInverse { iterations: g.iterations - 1, ..g };
            let worst = [lo, hi].iter().map(|z| (fewer.eval_plain(*z, 1.0) * z - 1.0).abs()).fold(0.0, f64::max);
            prop_assert!(worst > 2f64.powi(-(bits as i32)) * 0.999);
        }
    }

    #[test]
    fn max_error_bound_covers_the_comparison(ab in prop::collection::vec((-0.5f64..0.5, -0.5f64..0.5), 64)) {
        let cmp = Comparison::hetal();
        let bound = cmp.max_error_bound();
        prop_assert!(bound > 5.1e-3 && bound < 5.3e-3, "{bound}");
        for (a, b) in ab {
            prop_assert!((cmp.max_plain(a, b) - a.max(b)).abs() <= bound);
        }
    }

    #[test]
    fn goldschmidt_meets_its_convergence_bound(zs in prop::collection::vec(0.5f64..150.0, SLOTS)) {
        let g = GoldschmidtInverse::hetal();
        let rf = Refresher::without_bootstrapping();
        let got = run_checked(&zs, |e, ct| g.eval(e, ct, 1.0, (0.5, 150.0), None, &rf).unwrap(), g.depth());
        for (y, z) in got.iter().zip(&zs) {
            let bound = (1.0 - z / g.r).abs().powf(2f64.powi(g.iterations as i32 + 1)) + 1e-12;
            prop_assert!((y * z - 1.0).abs() <= bound, "1/{z} = {y}");
        }
        let d = dry(&[1.0, 2.0], |e, ct| g.eval(e, ct, 1.0, (0.5, 150.0), None, &rf));
        prop_assert_eq!(d.levels_consumed, 18);
    }

    #[test]
    fn max_is_within_5_2e3_and_between_min_and_max(ab in prop::collection::vec((-0.5f64..0.5, -0.5f64..0.5), SLOTS)) {
        let cmp = Comparison::hetal();
        let rf = Refresher::without_bootstrapping();
        let a: Vec<f64> = ab.iter().map(|p| p.0).collect();
        let b: Vec<f64> = ab.iter().map(|p| p.1).collect();
        let (mut c, e) = setup();
        let (ca, cb) = (c.encrypt_real(&a, Level(TOP)).unwrap(), c.encrypt_real(&b, Level(TOP)).unwrap());
        let m = cmp.max(&e, &ca, &cb, None, &rf).unwrap();
        prop_assert_eq!(TOP - m.level().0, cmp.max_depth());
        let got = c.decrypt_real(&m).unwrap();
        for i in 0..SLOTS {
            let (hi, lo) = (a[i].max(b[i]), a[i].min(b[i]));
            prop_assert!((got[i] - hi).abs() <= 5.2e-3, "max({}, {}) = {}", a[i], b[i], got[i]);
            prop_assert!(got[i] <= hi + 1e-12 && got[i] >= lo - 1e-12);
            prop_assert!((got[i] - cmp.max_plain(a[i], b[i])).abs() < 1e-9);
        }
        let d = dry(&[0.1, -0.1], |e, ct| cmp.eval(e, ct, &rf));
        prop_assert_eq!(d.levels_consumed, cmp.depth());
    }

    #[test]
    fn heavy_comparison_max_is_within_1e7(ab in prop::collection::vec((-0.5f64..0.5, -0.5f64..0.5), SLOTS)) {
        let cmp = Comparison::heavy();
        for (a, b) in ab {
            prop_assert!((cmp.max_plain(a, b) - a.max(b)).abs() <= 1e-7);
        }
    }

    #[test]
    fn domain_extension_maps_into_r_and_distorts_by_at_most_c_x3_over_r2(xs in prop::collection::vec(-256.0f64..256.0, SLOTS), small in prop::collection::vec(-8.0f64..8.0, SLOTS)) {
        let rf = Refresher::without_bootstrapping();
        for dep in [DomainExtension::hetal(false), DomainExtension::hetal(true), DomainExtension::tuned(false), DomainExtension::tuned(true)] {
            let precise = dep.precise;
            let r_in = dep.input_radius();
            let v: Vec<f64> = xs.iter().map(|x| x / r_in).collect();
            let got = run_checked(&v, |e, ct| dep.eval(e, ct, &rf).unwrap(), dep.depth());
            for (g, x) in got.iter().zip(&xs) {
                prop_assert!(g.abs() <= 1.0 + 1e-12, "DEP({x}) / r = {g}");
                prop_assert!((g * dep.r - dep.eval_plain(*x)).abs() < 1e-9);
            }
            if !precise {
                for x in &small {
                    let bound = dep.precise_c() * x.abs().powi(3) / (dep.r * dep.r) + 1e-12;
                    prop_assert!((dep.eval_plain(*x) - x).abs() <= bound);
                }
            }
            let d = dry(&[0.1, -0.1], |e, ct| dep.eval(e, ct, &rf));
            prop_assert_eq!(d.levels_consumed, dep.depth());
        }
    }

    #[test]
    fn sigmoids_are_within_their_documented_error(xs in prop::collection::vec(-1.0f64..1.0, SLOTS)) {
        let rf = Refresher::without_bootstrapping();
        for s in [SigmoidApprox::hecnn(), SigmoidApprox::privgd(), SigmoidApprox::chebyshev(16.0, 31).unwrap()] {
            let x: Vec<f64> = xs.iter().map(|v| v * s.range()).collect();
            let got = run_checked(&x, |e, ct| s.eval(e, ct, s.range(), &rf).unwrap(), s.depth());
            for (g, x) in got.iter().zip(&x) {
                prop_assert!((g - sigmoid(*x)).abs() <= s.max_error(), "sigma({x}) = {g}, bound {}", s.max_error());
            }
            let d = dry(&[0.1, -0.1], |e, ct| s.eval(e, ct, s.range(), &rf));
            prop_assert_eq!(d.levels_consumed, s.depth());
        }
    }

    #[test]
    fn chebyshev_interpolants_track_their_function(deg in 3usize..40, a in -4.0f64..0.0, w in 0.5f64..6.0) {
        let b = a + w;
        let p = Polynomial::interpolate(|x| (0.7 * x).sin() + 0.1 * x * x, a, b, deg).unwrap();
        let xs: Vec<f64> = (0..SLOTS).map(|i| a + w * i as f64 / (SLOTS - 1) as f64).collect();
        let got = run_checked(&xs, |e, ct| evaluate(e, &p, ct).unwrap(), p.depth());
        for (g, x) in got.iter().zip(&xs) {
            prop_assert!((g - p.eval(*x)).abs() < 1e-9, "p({x}) = {g} vs {}", p.eval(*x));
        }
    }
}

#[test]
fn chebyshev_sigmoid_error_shrinks_with_degree() {
    let e15 = SigmoidApprox::chebyshev(16.0, 15).unwrap().max_error();
    let e31 = SigmoidApprox::chebyshev(16.0, 31).unwrap().max_error();
    let e63 = SigmoidApprox::chebyshev(16.0, 63).unwrap().max_error();
    assert!(e15 > e31 && e31 > e63 && e63 < 1e-4, "{e15} {e31} {e63}");
    assert_eq!(SigmoidApprox::chebyshev(16.0, 63).unwrap().depth(), 7);
}
