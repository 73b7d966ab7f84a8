//! Normalize-and-square and the windowed ASoftmax on the mock: within their documented error
//! of the exact softmax (seeded property tests, with near-ties and rows at the ends of the
//! range), equal to their plaintext references, bootstrapping by plan with the dry run
//! predicting the bootstraps.

use hetal_linalg::approx::Refresher;
use hetal_linalg::approx::normalize_square::{NormalizeSquareParams, Refresh};
use hetal_linalg::approx::softmax::{
    LogitBound, RowLayout, RowSoftmax, SoftmaxMethod, softmax_exact,
};
use hetal_linalg::poly::mirror_params;
use hetal_traits::counting::{Counting, OpKind};
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
use hetal_traits::{Decryptor, Encryptor, KeyGenerator, KeyRequest, Level, Leveled};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Documented bound of every normalize-and-square variant for `c ≤ 16` on `[-B, B]` (exact
/// arithmetic): the last inverse's `2^-11` plus the exponential's share; measured at most
/// 2.0e-4 (`hetal softmax-error`, 10^6 rows per range).
const NS_BOUND: f64 = 5e-4;
/// The windowed ASoftmax: as the tuned one (measured at most 6.2e-5 at `c = 10`).
const WINDOWED_BOUND: f64 = 7e-5;

const BOUNDS: [LogitBound; 4] = [
    LogitBound::B128,
    LogitBound::B64,
    LogitBound::B32,
    LogitBound::B16,
];

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_0014),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Evaluates `method` on the mock (ideal chain with `depth` levels, no bootstrapping) and
/// returns the unpacked result, checking the padding columns are exactly zero and the levels
/// consumed are the declared depth.
fn eval_mock(method: &impl RowSoftmax, c: usize, x: &[f64]) -> Vec<f64> {
    let layout = RowLayout::dense(256, c).unwrap();
    let depth = method.depth(c).unwrap();
    let mut client = MockClient::new(MockParams::ideal(layout.slots(), depth, 40.0), 3);
    let req = KeyRequest {
        rotations: method.rotations(&layout),
        ..Default::default()
    };
    let ev = MockEvaluator::new(client.generate_evaluation_keys(&req).unwrap());
    let ct = client
        .encrypt_real(&layout.pack(x).unwrap(), Level(depth))
        .unwrap();
    let out = method
        .eval(&ev, &ct, &layout, &Refresher::new(&ev))
        .unwrap();
    assert_eq!(out.level().0, 0, "{}: depth", method.name());
    let v = client.decrypt_real(&out).unwrap();
    for (t, y) in v.iter().enumerate() {
        if t % layout.s1() >= c {
            assert_eq!(*y, 0.0, "padding slot {t}");
        }
    }
    layout.unpack(&v, x.len() / c)
}

/// Rows of `c` scores in `[-b, b]`: uniform, near-ties (a block of scores within `1e-3` of
/// each other), and rows crowded at either end of the range.
fn rows_strategy(c: usize, b: f64) -> impl Strategy<Value = Vec<f64>> {
    let n = 256 / c.next_power_of_two();
    prop::collection::vec(
        (0u8..4, prop::collection::vec(0.0f64..1.0, c), 0.0f64..1.0),
        n,
    )
    .prop_map(move |rows| {
        rows.into_iter()
            .flat_map(|(kind, u, t)| {
                let centre = -b + 2.0 * b * t;
                u.into_iter()
                    .map(|v| match kind {
                        0 => -b + 2.0 * b * v,
                        // near-ties: everything within 1e-3 of one score
                        1 => (centre + 1e-3 * (v - 0.5)).clamp(-b, b),
                        // crowded at the bottom / the top of the range
                        2 => -b + 3.0 * v,
                        _ => b - 3.0 * v,
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    })
}

fn max_error(got: &[f64], x: &[f64], c: usize) -> f64 {
    x.chunks(c)
        .enumerate()
        .map(|(i, row)| {
            let want = softmax_exact(row);
            (0..c)
                .map(|j| (got[i * c + j] - want[j]).abs())
                .fold(0.0, f64::max)
        })
        .fold(0.0, f64::max)
}

proptest! {
    #![proptest_config(config(6))]

    #[test]
    fn normalize_square_is_within_its_bound(
        (c, bound, x) in (0usize..4, 0usize..4).prop_flat_map(|(ci, bi)| {
            let c = [2usize, 3, 10, 16][ci];
            (Just(c), Just(BOUNDS[bi]), rows_strategy(c, BOUNDS[bi].value()))
        }),
    ) {
        let m = SoftmaxMethod::NormalizeSquare(bound);
        let got = eval_mock(&m, c, &x);
        let err = max_error(&got, &x, c);
        prop_assert!(err <= NS_BOUND, "{} c={c}: error {err:e}", m.name());
        for (i, row) in x.chunks(c).enumerate() {
            let want = m.eval_plain(row);
            for j in 0..c {
                prop_assert!((got[i * c + j] - want[j]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn windowed_asoftmax_is_within_its_bound(
        (c, x) in (0usize..3).prop_flat_map(|ci| {
            let c = [3usize, 7, 10][ci];
            (Just(c), rows_strategy(c, 128.0))
        }),
    ) {
        let m = SoftmaxMethod::AsoftmaxWindowed;
        let got = eval_mock(&m, c, &x);
        let err = max_error(&got, &x, c);
        prop_assert!(err <= WINDOWED_BOUND, "c={c}: error {err:e}");
    }
}

/// A custom bound through the [`RowSoftmax`] trait: `B = 8` needs fewer levels than `B = 16`
/// and is within the same bound on its range; a score beyond the bound is refused by the
/// plaintext reference (NaN), never silently accepted.
#[test]
fn custom_bound_through_the_trait() {
    let p8 = NormalizeSquareParams::for_bound(8.0);
    let p16 = NormalizeSquareParams::for_bound(16.0);
    assert!(p8.depth(10).unwrap() < p16.depth(10).unwrap());
    let x: Vec<f64> = (0..16 * 10)
        .map(|i| 8.0 * (((i * 37) % 101) as f64 / 50.0 - 1.0))
        .collect();
    let got = eval_mock(&p8, 10, &x);
    assert!(max_error(&got, &x, 10) <= NS_BOUND);
    assert!(p8.eval_plain(&[9.0, 0.0]).iter().all(|v| v.is_nan()));
}

/// On a chain with bootstrapping (levels 12 down to 3), normalize-and-square follows its plan:
/// the result equals the plaintext reference, and the dry run predicts the bootstraps, the
/// multiplications and the output level.
#[test]
fn normalize_square_bootstraps_by_plan() {
    for c in [3usize, 10, 16] {
        let m = SoftmaxMethod::NormalizeSquare(LogitBound::B128);
        let layout = RowLayout::new(8, c.next_power_of_two(), c).unwrap();
        let params = MockParams::ideal(layout.slots(), 12, 42.0).with_bootstrap(3, 12, 1.0);
        let mut client = MockClient::new(params, 4);
        let req = KeyRequest {
            rotations: m.rotations(&layout),
            bootstrapping: true,
            ..Default::default()
        };
        let ev = Counting::new(MockEvaluator::new(
            client.generate_evaluation_keys(&req).unwrap(),
        ));
        let x: Vec<f64> = (0..8 * c)
            .map(|i| 128.0 * (((i * 53) % 97) as f64 / 48.5 - 1.0))
            .collect();
        let ct = client
            .encrypt_real(&layout.pack(&x).unwrap(), Level(12))
            .unwrap();
        let out = m.eval(&ev, &ct, &layout, &Refresher::new(&ev)).unwrap();
        assert!(out.level().0 >= 3);
        let got = layout.unpack(&client.decrypt_real(&out).unwrap(), 8);
        for (i, row) in x.chunks(c).enumerate() {
            let want = m.eval_plain(row);
            for j in 0..c {
                assert!((got[i * c + j] - want[j]).abs() < 1e-9, "c={c}");
            }
        }
        let counts = ev.snapshot();
        let dry = m.dry_run(&mirror_params(&ev, 2), c, Level(12)).unwrap();
        assert_eq!(
            dry.bootstraps(),
            counts.get(OpKind::Bootstrap) + counts.get(OpKind::BootstrapPair),
            "c={c}"
        );
        assert_eq!(dry.counts.get(OpKind::Mult), counts.get(OpKind::Mult));
        assert_eq!(dry.output_level, out.level());
        // Ideal packing: at least ⌈(depth - 9) / 9⌉ bootstraps (9 levels each).
        let depth = m.depth(c);
        assert!(dry.bootstraps() as u32 >= (depth - 9).div_ceil(9), "c={c}");
    }
}

/// The plan never needs more bootstraps than refreshing at every step, and with 9 levels per
/// bootstrap (boot-n16's shape) and `c = 10` it takes 5 (a pair counted once).
#[test]
fn bootstrap_plan_is_minimal_on_a_boot_n16_shaped_chain() {
    let plan = NormalizeSquareParams::full_range().plan(10).unwrap();
    let exp_levels = 1 + plan.exp.depth();
    let choice = plan.bootstrap_plan(9 - exp_levels, 9, 0).unwrap();
    let boots = choice.iter().filter(|r| **r != Refresh::None).count();
    assert!(boots <= plan.steps.len());
    assert_eq!(boots, 5, "{choice:?}");
    // Levels alone: 44 levels from level 9 need at least ⌈35/9⌉ = 4 refreshes.
    assert!(boots as u32 >= (plan.depth() - 9).div_ceil(9));
}
