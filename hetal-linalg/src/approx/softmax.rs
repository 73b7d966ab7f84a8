//! Row-wise softmax over the packed layout of DiagABT's output: HETAL's ASoftmax and the
//! baselines of the authors' error script (Lee et al. Gumbel, Hong et al., PrivGD).
//!
//! # Layout
//!
//! A block of unit shape `(s0, s1)` holds an `a × c` score matrix (`a ≤ s0`, `2 ≤ c ≤ s1`) in the
//! first `c` columns of its `s1`-wide rows (slot `i·s1 + j`), zeros elsewhere ([`RowLayout`]).
//! The classes are padded to `c' = 2^⌈log2 c⌉ ≤ s1`. Every method returns the softmax of each row
//! in the first `c` columns and zeros in the other columns, whatever the input held there.
//!
//! # ASoftmax ([`asoftmax`], parameters [`AsoftmaxParams`])
//!
//! With `S = 2 R_max = r L^n` (256 for both parameter sets below):
//! 1. `u = mask_c ⊙ x / S`, then `-1/2` in the padding columns `c .. c'` (the authors' padding).
//!    1 level.
//! 2. Row maximum at column 0: `log2 c'` rounds of `a ← max(a, rot(a, 2^i))` (left rotations
//!    stay inside the row for column 0); the last round multiplies by the column-0 mask beside
//!    the comparison (no extra level). `log2 c' · (3(F+G) + 1)` levels. The maximum is then
//!    replicated into the first `c` columns (right rotations, no level).
//! 3. `u - max` (in `[-1, δ_max/S]` for the valid columns, [`AsoftmaxParams::max_shift_bound`]),
//!    domain extension to units of `r`.
//! 4. `e' = α ⊙ mask_c ⊙ exp(·)`: the mask and the power-of-two factor
//!    `α ≤ 1/(2c' e_max)` ([`AsoftmaxParams::exp_bound`]) are folded into the exp polynomial, so
//!    the padding columns hold exact zeros and every value stays below 1 (bootstrap-friendly).
//! 5. `z' = Σ_row e'` at column 0 (left rotations, no level), Goldschmidt for `(α/2)/z'`
//!    with the column-0 mask folded into its first step, replicated into the first `c` columns.
//! 6. `(2/α) e' ⊙ inverse` (`2/α` is an exact integer multiplication): the softmax.
//!
//! Depth (no bootstrapping): `1 + log2(c')(3(F+G)+1) + 2n (+3 precise) + depth(exp) + (n_inv + 2) + 1`.
//! Rotations: `1, 2, .., c'/2` (max and sum) and the right rotations of replicating over `c`
//! columns ([`SoftmaxMethod::rotations`]).
//!
//! ## Parameter sets
//!
//! * [`AsoftmaxParams::hetal`] / [`AsoftmaxParams::hetal_precise`]: the authors' runner (`r = 8`,
//!   `L = 2`, `n = 5`, exp degree 8 at `x/8` with 3 squarings, Goldschmidt `R = 100` with 16
//!   iterations). Depth 57 / 67 / 77 for `c = 3 / 7 / 10` (+3 precise). Nearly all of its error
//!   is the domain extension's: its cubic distortion `≈ 0.2 x³/r²` near the maximum (the
//!   largest errors are for classes 2-4 below the maximum), and far classes landing near
//!   `-0.8 r = -6.5` instead of `-∞` (`e^{-6.5} ≈ 1.5e-3` each, which is the `c = 10` maximum on
//!   `[-128, 128]`). The exp polynomial (relative `6e-7`) and the inverse (`< 1e-8`) contribute
//!   nothing visible; the approximate maximum's shortfall (up to 1.3 score units per round)
//!   even *reduces* the error (exact maximum: `c = 3` error 7.4e-3 instead of 3.7e-3), as it moves
//!   the row into the range where the distortion is smaller.
//! * [`AsoftmaxParams::tuned`] / [`AsoftmaxParams::tuned_precise`], the defaults of
//!   [`SoftmaxMethod::Asoftmax`] / [`SoftmaxMethod::AsoftmaxPrecise`]: the same pipeline,
//!   comparison and coverage, rebalanced: one domain-extension step with `r = 128`
//!   ([`DomainExtension::tuned`]: distortion `(128/8)²` times smaller, far classes near `-104`),
//!   a degree-8 Chebyshev fit of `exp` at `x/128` with 7 squarings ([`ExpApprox::tuned`]), and
//!   a Goldschmidt inverse fitted to the row-sum range ([`RowInverse::Fitted`], `2^-40`).
//!   Depth 46 / 58 / 68 (+3 precise).
//!
//! ## Error
//!
//! Exact arithmetic, measured by `hetal softmax-error` on the mock (10^6 rows per range;
//! rows uniform in `[-R_i, R_i]^c`, pooled over the ranges up to `R`; cell = max / mean over
//! rows of `max_i |softmax_i - approx_i|`; the authors' script in docs/papers.md, section 1):
//!
//! | method | c | `[-4,4]` | up to `[-8,8]` | up to `[-32,32]` | up to `[-128,128]` | depth |
//! |---|---|---|---|---|---|---|
//! | tuned `asoftmax` | 3 | 1.05e-5 / 4.29e-6 | 1.05e-5 / 3.90e-6 | 1.05e-5 / 2.97e-6 | 1.05e-5 / 2.30e-6 | 46 |
//! | tuned `asoftmax` | 7 | 1.91e-5 / 8.92e-6 | 1.95e-5 / 7.82e-6 | 1.95e-5 / 5.97e-6 | 1.95e-5 / 4.63e-6 | 58 |
//! | tuned `asoftmax` | 10 | 4.43e-5 / 1.34e-5 | 4.43e-5 / 1.18e-5 | 4.43e-5 / 8.90e-6 | 6.21e-5 / 6.90e-6 | 68 |
//! | `asoftmax-hetal` | 3 | 3.72e-3 / 1.53e-3 | 3.72e-3 / 1.49e-3 | 3.72e-3 / 1.45e-3 | 3.72e-3 / 1.38e-3 | 57 |
//! | `asoftmax-hetal` | 7 | 6.53e-3 / 3.10e-3 | 7.21e-3 / 2.86e-3 | 8.53e-3 / 2.88e-3 | 8.53e-3 / 2.86e-3 | 67 |
//! | `asoftmax-hetal` | 10 | 1.51e-2 / 4.60e-3 | 1.51e-2 / 4.20e-3 | 1.51e-2 / 3.95e-3 | 2.12e-2 / 3.87e-3 | 77 |
//! | authors (HETAL ASoftmax) | 3 | 3.72e-3 / 1.53e-3 | 3.72e-3 / 1.49e-3 | 3.72e-3 / 1.45e-3 | 3.72e-3 / 1.38e-3 | |
//! | authors (HETAL ASoftmax) | 7 | 6.51e-3 / 3.10e-3 | 7.15e-3 / 2.86e-3 | 8.37e-3 / 2.88e-3 | 8.52e-3 / 2.86e-3 | |
//! | authors (HETAL ASoftmax) | 10 | 1.53e-2 / 4.60e-3 | 1.52e-2 / 4.20e-3 | 1.52e-2 / 3.95e-3 | 2.03e-2 / 3.86e-3 | |
//! | tuned `asoftmax-precise` | 3 | 1.86e-8 / 3.71e-9 | 1.86e-8 / 4.70e-9 | 1.86e-8 / 3.85e-9 | 1.86e-8 / 3.02e-9 | 49 |
//! | tuned `asoftmax-precise` | 7 | 3.59e-8 / 4.71e-9 | 3.67e-8 / 6.17e-9 | 3.67e-8 / 5.44e-9 | 3.67e-8 / 4.36e-9 | 61 |
//! | tuned `asoftmax-precise` | 10 | 5.17e-8 / 7.76e-9 | 6.71e-8 / 8.45e-9 | 6.71e-8 / 7.18e-9 | 9.87e-8 / 5.74e-9 | 71 |
//! | `asoftmax-hetal-precise` | 3 | 1.31e-3 / 2.82e-4 | 1.31e-3 / 3.89e-4 | 2.21e-3 / 5.61e-4 | 2.21e-3 / 6.40e-4 | 60 |
//! | `asoftmax-hetal-precise` | 7 | 2.53e-3 / 3.73e-4 | 2.88e-3 / 5.21e-4 | 6.42e-3 / 9.90e-4 | 6.42e-3 / 1.29e-3 | 70 |
//! | `asoftmax-hetal-precise` | 10 | 3.68e-3 / 6.25e-4 | 4.98e-3 / 7.08e-4 | 9.08e-3 / 1.20e-3 | 9.08e-3 / 1.60e-3 | 80 |
//! | authors (precise) | 3 | 1.31e-3 / 2.82e-4 | 1.31e-3 / 3.89e-4 | 2.21e-3 / 5.61e-4 | 2.21e-3 / 6.40e-4 | |
//! | authors (precise) | 7 | 2.51e-3 / 3.73e-4 | 2.90e-3 / 5.20e-4 | 6.30e-3 / 9.90e-4 | 6.41e-3 / 1.29e-3 | |
//! | authors (precise) | 10 | 3.71e-3 / 6.26e-4 | 4.69e-3 / 7.08e-4 | 8.99e-3 / 1.20e-3 | 9.35e-3 / 1.60e-3 | |
//!
//! Seed 0 on the mock; seed 1 (`--plain`, the same computation in `f64`) gives maxima within a few
//! percent (tuned `c = 10` up to `[-128,128]`: 6.04e-5, precise 9.63e-8; HETAL's `c = 7` up to
//! `[-32,32]`: 8.43e-3). The tuned variants are 330-440x (normal) and 7e4-1.8e5x (precise) below the
//! authors' figures at 9-11 fewer levels; their largest errors are at `c = 10` on `[-128, 128]`,
//! in rows whose approximate maximum falls furthest below the true one. Documented bounds for
//! `c ≤ 10` on `[-128, 128]` (the tests check them): tuned `7e-5`, tuned precise `1.2e-7`, HETAL's
//! `2.5e-2` and `1e-2`. HETAL's means equal the authors' script's to three digits; its maxima
//! are extremes of 10^6 draws that move by a few percent with the seed, on both sides of the
//! authors' figures.
//!
//! # Lower-depth methods
//!
//! * `normalize-square` ([`SoftmaxMethod::NormalizeSquare`], [`super::normalize_square`]): no
//!   maximum; one Chebyshev exp on the window `[-2B/2^k, 0]` after shifting by the public bound,
//!   then `k` steps `y ← y² · q(Σ y²)` with crude windowed inverses and an accurate last one.
//!   `-b64`, `-b32`, `-b16`: the same for scores *proven* to lie in `[-B, B]` (fewer squarings);
//!   the caller must prove the bound, nothing checks encrypted scores.
//! * `asoftmax-windowed` ([`AsoftmaxParams::windowed`]): tuned ASoftmax with the Goldschmidt
//!   loop replaced by a windowed polynomial inverse of degree 127 and one Newton step
//!   ([`WindowedInverse`]): 4 levels less, the same error.
//! * `asoftmax-hetal` / `asoftmax-hetal-precise`: HETAL's exact configuration, selectable by name.
//!
//! Any of them, and any other implementor of [`RowSoftmax`], can be handed to the error harness
//! and to training. Measured on the exact mock, `c = 10` (`hetal softmax-error --classes 10
//! --samples 100000 --methods asoftmax,asoftmax-windowed,normalize-square,normalize-square-b64,
//! normalize-square-b32,normalize-square-b16`; 10^5 rows per range, seed 0; the 10^6-row run did
//! not fit this change's time; "boots" = bootstraps of one call from level 9 on a mirror of
//! `boot_n16`'s chain, from the dry run, a pair counted as the evaluator counts it):
//!
//! | method | `[-4,4]` | up to `[-8,8]` | up to `[-32,32]` | up to `[-128,128]` | depth | boots |
//! |---|---|---|---|---|---|---|
//! | tuned `asoftmax` | 4.37e-5 / 1.34e-5 | 4.37e-5 / 1.18e-5 | 4.37e-5 / 8.90e-6 | 4.81e-5 / 6.90e-6 | 68 | 14 |
//! | `asoftmax-windowed` | 4.37e-5 / 1.34e-5 | 4.37e-5 / 1.18e-5 | 4.37e-5 / 8.90e-6 | 4.81e-5 / 6.90e-6 | 64 | 13 |
//! | `normalize-square` | 7.84e-5 / 2.53e-5 | 8.15e-5 / 3.03e-5 | 8.15e-5 / 3.60e-5 | 8.15e-5 / 3.92e-5 | 44 | 5 |
//! | `normalize-square-b64` | 1.20e-4 / 3.85e-5 | 1.24e-4 / 4.59e-5 | 1.24e-4 / 5.35e-5 | — | 39 | 4 |
//! | `normalize-square-b32` | 1.87e-4 / 5.97e-5 | 1.93e-4 / 7.13e-5 | 1.93e-4 / 8.49e-5 | — | 34 | 4 |
//! | `normalize-square-b16` | 2.90e-4 / 9.25e-5 | 2.98e-4 / 1.10e-4 | — | — | 29 | 3 |
//!
//! (The normalize-square rows are for the default `2B/2^k ≤ 2`, i.e. `k = 7` at `B = 128`, whose
//! steps all fit 9 levels per bootstrap; with `2B/2^k ≤ 4` (`k = 6`) they were 5.72e-5 / 2.72e-5
//! at 42 levels, but its first inverse needs 8 levels and does not fit such a chain when the
//! exponentials arrive at a low level.)
//!
//! Normalize-and-square trades precision for depth: 8.2e-5 against ASoftmax's 4.8e-5 here
//! (6.2e-5 at 10^6 rows) at 44 levels instead of 68, 5 bootstraps per call instead of 14. Its
//! error is set by the last inverse (target `2^-11`), not by the range; the documented bound
//! (tests) is `5e-4` for every bound variant and `c ≤ 16`.
//!
//! ## Under CKKS with bootstrapping
//!
//! A bootstrap adds an independent error `η` to every slot (about `2^-22` on hetal-ckks's
//! `boot_n16`, `2^-19` on its small insecure presets), and the later stages amplify it: by `S`
//! on `u - max`, by `r` on the domain extension's output and the exp polynomial's, by about
//! `2^(k-j)/α^(2^j/2^k)` after `j` of the `k` squarings, by `1/α` on the scaled exponentials, and
//! by about `R/z` inside Goldschmidt. The tail therefore bootstraps the maximum at column 0
//! before replicating it (its error is then the same for the whole row and cancels), runs
//! `u - max`, the domain extension, the polynomial and the first squarings without a bootstrap
//! when the chain allows it, and places the exponential's one bootstrap at the cheapest
//! squaring ([`ExpApprox::refresh_point`]); the fitted inverse keeps `R ≤ 100`
//! ([`ROW_SUM_CAP`]). The larger `r` makes the tuned variants more sensitive to bootstraps
//! than HETAL's (`r η` against `8 η`), so on CKKS their error is the scheme's, not the
//! approximation's; see `hetal softmax-error --ckks`. Measured on `boot_n16`, `c = 10`, one
//! block of 2048 rows (512 per range), from the top level: tuned `asoftmax` max error
//! 8.5e-5 to 3.8e-4 per range (mock on the same rows 8.7e-6 to 4.2e-5; `|CKKS - mock| ≤ 3.8e-4`,
//! 9 bootstraps alone); tuned precise 7.2e-4 to 3.4e-3 (its extra 3 levels force the
//! exponential's bootstrap right after the polynomial; not the variant to train with on CKKS);
//! HETAL's 9.5e-3 to 1.4e-2 (`|CKKS - mock| ≤ 1.1e-4`, 10 bootstraps alone).
//!
//! **The cause of the excess.** The bootstrap's error is not an independent noise of fixed size:
//! on hetal-ckks's presets it is dominated by a deterministic term that grows with the cube of
//! the value (measured on the small insecure N = 2^12 preset: `bootstrap(m) - m ≈ -5.4e-7 m³`
//! for `|m| ≤ 1`, a random part near `1e-10`). Values bootstrapped near the input bound (the
//! normalised scores, the domain extension's output, the exponential's intermediate powers) come
//! back with a relative error of about `5e-7 m²` that differs from slot to slot, and the stages
//! after them amplify it (by `S`, by `r`, by the squarings). A noise model with an independent
//! `2^-22` per bootstrap misses this. Fix: [`Refresher`] now spends the level a bootstrap would
//! discard anyway on scaling the value down by `2^3` ([`super::refresh::QUIET_BITS`]) and scales it
//! back up exactly afterwards. On the small preset the tuned ASoftmax at `c = 3` went from about
//! `4e-5` to `1.9e-6` from the mock (`tests/approx_softmax_ckks.rs`). Not re-measured on
//! `boot_n16` in this change.

use super::Refresher;
use super::compare::Comparison;
use super::domain::DomainExtension;
use super::exp::{ExpApprox, ExpPlan};
use super::inverse::GoldschmidtInverse;
pub use super::layout::RowLayout;
use super::normalize_square::{NormalizeSquareParams, cached_plan};
use super::sigmoid::SigmoidApprox;
use crate::poly::{DryRun, Polynomial, align, ceil_log2, dry_run};
use crate::{Error, Result};
use hetal_traits::ext::inner_sum_rotations;
use hetal_traits::mock::MockParams;
use hetal_traits::{Complex64, Evaluator, EvaluatorExt, Level, Leveled, RotStep};

/// Row sums at column 0, inverted, and multiplied back: `e / Σ_row e` from `e' = α e`
/// (zero outside the valid columns). `z_range` bounds `Σ_row e` on valid rows.
fn normalize_rows<E: Evaluator>(
    ev: &E,
    e: &E::Ciphertext,
    alpha_log2: i32,
    e_max: f64,
    z_range: (f64, f64),
    inv: &GoldschmidtInverse,
    layout: &RowLayout,
    rf: &Refresher,
) -> Result<E::Ciphertext> {
    if !(1..=40).contains(&alpha_log2) {
        return Err(Error::param(
            "row normalisation needs α = 2^-k with 1 ≤ k ≤ 40",
        ));
    }
    let alpha = (-f64::from(alpha_log2)).exp2();
    let g = GoldschmidtInverse {
        r: inv.r * alpha,
        iterations: inv.iterations,
    };
    let z_hi = (alpha * z_range.1).min(1.999 * g.r);
    // The row sum has a larger bound than the terms: refresh the terms first if needed.
    let e = rf.ensure(ev, e, 0, alpha * e_max, z_hi)?;
    let z = ev.inner_sum(&e, 1, layout.padded())?;
    let w0 = layout.column_vector(0, 1, 1.0);
    let z_lo = (alpha * z_range.0).min(z_hi);
    let y = g.eval(ev, &z, alpha / 2.0, (z_lo, z_hi), Some(&w0), rf)?;
    let y = ev.inner_sum(&y, -1, layout.classes())?;
    let e = rf.ensure_same(ev, &e, 1, alpha * e_max)?;
    let y = rf.ensure_same(ev, &y, 1, 0.5 / z_range.0)?;
    let ek = ev.mul_integer(&e, 1i64 << (alpha_log2 + 1))?;
    let (ek, y) = align(ev, &ek, &y)?;
    Ok(ev.mul_rescale(&ek, &y)?)
}

/// [`normalize_rows`] with a [`WindowedInverse`]: `e / Σ_row e` from `e' = α e`.
fn normalize_rows_windowed<E: Evaluator>(
    ev: &E,
    e: &E::Ciphertext,
    e_max: f64,
    w: &WindowedInverse,
    layout: &RowLayout,
    rf: &Refresher,
) -> Result<E::Ciphertext> {
    let alpha = (-f64::from(w.alpha_log2)).exp2();
    let e = rf.ensure(ev, e, 0, alpha * e_max, 1.0)?;
    let z = ev.inner_sum(&e, 1, layout.padded())?;
    let w0 = layout.column_vector(0, 1, 1.0);
    let y = w.eval(ev, &z, &w0, rf)?;
    let y = ev.inner_sum(&y, -1, layout.classes())?;
    let e = rf.ensure_same(ev, &e, 1, alpha * e_max)?;
    let y = rf.ensure_same(ev, &y, 1, w.out_bound)?;
    let ek = ev.mul_integer(&e, 1i64 << (w.alpha_log2 + 1))?;
    let (ek, y) = align(ev, &ek, &y)?;
    Ok(ev.mul_rescale(&ek, &y)?)
}

/// `k` with `2^-k ≤ 1 / (2 c' e_max)`, at least 1.
fn alpha_log2(padded: usize, e_max: f64) -> i32 {
    ((2.0 * padded as f64 * e_max).log2().ceil() as i32).max(1)
}

/// How ASoftmax inverts the row sum `z = Σ_j exp(·)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowInverse {
    /// A fixed Goldschmidt inverse (HETAL's `R = 100`, 16 iterations). It converges only for
    /// `z < 2R`.
    Fixed(GoldschmidtInverse),
    /// Goldschmidt fitted to the row-sum range of the class count
    /// ([`AsoftmaxParams::row_sum_range`], its top capped at [`ROW_SUM_CAP`];
    /// [`GoldschmidtInverse::for_range`]): relative error `2^-bits` on that range with the fewest
    /// iterations.
    Fitted {
        /// Target relative error `2^-bits`.
        bits: u32,
    },
    /// A windowed inverse ([`WindowedInverse`]): the best polynomial of degree `2^depth - 1`
    /// for the relative error on the row-sum window (its top capped at [`ROW_SUM_CAP`], doubled
    /// for the partial sums the other columns hold), then `newton` Newton steps at column 0.
    /// Depth `depth + 2 newton` instead of Goldschmidt's `n + 2`.
    Windowed {
        /// Depth of the polynomial (degree `2^depth - 1`).
        depth: u32,
        /// Newton steps `y ← y (2 - z y)` (2 levels each; the relative error squares).
        newton: u32,
    },
}

/// A windowed inverse of the scaled row sum `z' = α z` (`α = 2^-k`) at column 0: `y ≈ (α/2)/z'`.
///
/// The interval `[a, a + 2/A]` (`A` a power of two, so the Chebyshev variable `v = A z' - b`
/// costs no level) covers `[α z_lo, 2 α z_hi]`: the true sums and the partial sums of two
/// neighbouring rows that the other columns hold (a polynomial is unbounded off its interval).
/// The polynomial is `(α/2)(1 - T_m(ℓ(z'))/T_m(ℓ(0)))/z'` (`ℓ` maps the interval onto
/// `[1, -1]`), the best of degree `m - 1` for the relative error, `E = 1/T_m(ℓ(0))`; each Newton
/// step `y ← y (2 - 2^(k+1) z' y)` squares it.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowedInverse {
    /// `k` with `α = 2^-k`.
    pub alpha_log2: i32,
    /// Lower end of the interval (in `z'`).
    pub lo: f64,
    /// The power of two `A`.
    pub a: i64,
    /// The polynomial in `v ∈ [-1, 1]`, times `α/2`.
    pub poly: Polynomial,
    /// Newton steps.
    pub newton: u32,
    /// The polynomial's relative error bound `E`.
    pub rel_error: f64,
    /// A bound on the polynomial's output on `[0, a + 2/A]`.
    pub out_bound: f64,
}

impl WindowedInverse {
    /// Fits the inverse for row sums `z ∈ [z_lo, z_hi]` scaled by `α = 2^-alpha_log2`.
    ///
    /// Errors: an invalid range, a depth outside `1 ..= 10`, more than 4 Newton steps, or an
    /// interval that does not fit below 1.
    pub fn fit(alpha_log2: i32, z_range: (f64, f64), depth: u32, newton: u32) -> Result<Self> {
        let (z_lo, z_hi) = z_range;
        let ok = z_lo > 0.0
            && z_lo <= z_hi
            && z_hi.is_finite()
            && (1..=10).contains(&depth)
            && newton <= 4
            && (1..=40).contains(&alpha_log2);
        if !ok {
            return Err(Error::param(format!(
                "windowed inverse: range [{z_lo}, {z_hi}], depth {depth}, {newton} Newton steps"
            )));
        }
        let alpha = (-f64::from(alpha_log2)).exp2();
        let lo = alpha * z_lo;
        let need = 2.0 * alpha * z_hi - lo;
        let mut j = 0u32;
        while 2.0 / f64::from(1u32 << (j + 1)) >= need && j < 30 {
            j += 1;
        }
        let a = 1i64 << j;
        let hi = lo + 2.0 / a as f64;
        if need > 1.0 {
            return Err(Error::param(
                "windowed inverse: the scaled row sums exceed 1",
            ));
        }
        let m = 1u32 << depth;
        let z0 = (hi + lo) / (hi - lo);
        let tz0 = (f64::from(m) * z0.acosh()).cosh();
        let off = a as f64 * 0.5 * (lo + hi);
        let h = |v: f64| {
            let z = (v + off) / a as f64;
            let tm = (f64::from(m) * (-v).clamp(-1.0, 1.0).acos()).cos();
            0.5 * alpha * (1.0 - tm / tz0) / z
        };
        let poly = Polynomial::interpolate(h, -1.0, 1.0, (m - 1) as usize)?;
        let out_bound = (0..=4096)
            .map(|i| poly.eval(a as f64 * hi * f64::from(i) / 4096.0 - off).abs())
            .fold(0.0, f64::max)
            * 1.01;
        Ok(WindowedInverse {
            alpha_log2,
            lo,
            a,
            poly,
            newton,
            rel_error: 1.0 / tz0,
            out_bound,
        })
    }

    fn offset(&self) -> f64 {
        self.a as f64 * self.lo + 1.0
    }

    /// Levels consumed: `depth + 2 newton`.
    pub fn depth(&self) -> u32 {
        self.poly.depth() + 2 * self.newton
    }

    /// Plaintext `(α/2)/z'` by the same computation.
    pub fn eval_plain(&self, zs: f64) -> f64 {
        let mut y = self.poly.eval(self.a as f64 * zs - self.offset());
        let two_k = f64::from(1u32 << (self.alpha_log2 + 1));
        for _ in 0..self.newton {
            y *= 2.0 - two_k * (zs * y);
        }
        y
    }

    /// Homomorphic: `w0 ⊙ (α/2)/z'` from the row sums `z'` at column 0 (other slots: partial
    /// sums in `[0, 2 α z_hi]`). The result is zero outside column 0.
    pub fn eval<E: Evaluator>(
        &self,
        ev: &E,
        z: &E::Ciphertext,
        w0: &[f64],
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        let z = rf.ensure_same(ev, z, self.poly.depth() + self.newton, 1.0)?;
        let v = ev.mul_integer(&z, self.a)?;
        let v = ev.add_const(&v, Complex64::new(-self.offset(), 0.0))?;
        let mut y = crate::poly::evaluate_weighted(ev, &self.poly, &v, Some(w0))?;
        let two_k = 1i64 << (self.alpha_log2 + 1);
        let yb = self.out_bound.max(1e-300);
        for _ in 0..self.newton {
            let t = rf.mul(ev, &z, &y, 1.0, yb, yb)?;
            let t = ev.mul_integer(&t, two_k)?;
            let g = ev.add_const(&ev.neg(&t)?, Complex64::new(2.0, 0.0))?;
            y = rf.mul(ev, &y, &g, yb, 2.0, yb)?;
        }
        Ok(y)
    }
}

/// The largest row sum a fitted inverse is built for: 200, the convergence limit of HETAL's
/// `R = 100`.
///
/// The proven bound `c · e^{δ_max}` ([`AsoftmaxParams::row_sum_range`]) exceeds it for `c ≥ 6`
/// with HETAL's comparison, but it assumes every round of the row maximum errs by its worst
/// case; rows where the approximate maximum falls far below the true one have their other
/// scores far below too (the comparison errs most at large gaps), so their sums stay small
/// (adversarial `c = 10` row `(105, -128, ..)`: `δ = 4.17`, `z ≈ 65`). A larger `R` costs
/// precision under CKKS: Goldschmidt amplifies an error in `1 - z/R` by about `R/z`.
pub const ROW_SUM_CAP: f64 = 200.0;

/// ASoftmax parameters (docs/papers.md, section 1).
#[derive(Clone, Debug, PartialEq)]
pub struct AsoftmaxParams {
    /// Domain extension (`r`, `L`, `n`, precise).
    pub dep: DomainExtension,
    /// Comparison used by the row maximum.
    pub cmp: Comparison,
    /// The exponential.
    pub exp: ExpApprox,
    /// The inverse of the row sum.
    pub inverse: RowInverse,
}

impl AsoftmaxParams {
    /// HETAL's published runner: `r = 8, L = 2, n = 5` (`R_max = 128`), `F = 1, G = 2`,
    /// exp degree 8 at `x/8` with 3 squarings, Goldschmidt `R = 100`, 16 iterations.
    pub fn hetal() -> Self {
        AsoftmaxParams {
            dep: DomainExtension::hetal(false),
            cmp: Comparison::hetal(),
            exp: ExpApprox::hetal(),
            inverse: RowInverse::Fixed(GoldschmidtInverse::hetal()),
        }
    }

    /// As [`AsoftmaxParams::hetal`] with the precise domain extension.
    pub fn hetal_precise() -> Self {
        AsoftmaxParams {
            dep: DomainExtension::hetal(true),
            ..Self::hetal()
        }
    }

    /// The tuned ASoftmax (the default of [`SoftmaxMethod::Asoftmax`]): HETAL's pipeline and
    /// comparison (`F = 1, G = 2`) with the same coverage `R_max = 128`, rebalanced:
    /// * domain extension in one step, `r = 128, L = 2, n = 1` ([`DomainExtension::tuned`]):
    ///   the cubic distortion near 0, which causes nearly all of HETAL's error, shrinks by
    ///   `(128/8)²`, and far classes land near `-128` instead of `-6.5` (`e^{-6.5} ≈ 1.5e-3` per far
    ///   class is the floor of HETAL's error at `c = 10`);
    /// * exponential by a degree-8 Chebyshev fit at `x/128` then 7 squarings
    ///   ([`ExpApprox::tuned`]);
    /// * Goldschmidt fitted to the row-sum range of `c` classes for `2^-40` relative error
    ///   ([`RowInverse::Fitted`]), which also stays convergent on the whole range (HETAL's
    ///   `R = 100` needs row sums below 200).
    ///
    /// Depth `c = 3 / 7 / 10`: 45 / 58 / 71 (HETAL: 57 / 67 / 77).
    pub fn tuned() -> Self {
        AsoftmaxParams {
            dep: DomainExtension::tuned(false),
            cmp: Comparison::hetal(),
            exp: ExpApprox::tuned(),
            inverse: RowInverse::Fitted { bits: 40 },
        }
    }

    /// As [`AsoftmaxParams::tuned`] with the precise domain-extension step (3 levels more).
    pub fn tuned_precise() -> Self {
        AsoftmaxParams {
            dep: DomainExtension::tuned(true),
            ..Self::tuned()
        }
    }

    /// The runner's "original" row: no domain extension (`R_max = 4`), comparison `F = 3, G = 8`.
    pub fn original() -> Self {
        AsoftmaxParams {
            dep: DomainExtension {
                r: 8.0,
                l: 2.0,
                n: 0,
                precise: false,
            },
            cmp: Comparison::heavy(),
            ..Self::hetal()
        }
    }

    /// `R_max = r L^n / 2`: scores must lie in `[-R_max, R_max]`.
    pub fn r_max(&self) -> f64 {
        self.dep.input_radius() / 2.0
    }

    /// Levels consumed for `classes` classes:
    /// `1 + ⌈log2 c⌉ (3(F+G) + 1) + depth(DEP) + depth(exp) + (n_inv + 2) + 1`.
    pub fn depth(&self, classes: usize) -> u32 {
        let rounds = ceil_log2(classes);
        let inv = match self.inverse {
            RowInverse::Windowed { depth, newton } => depth + 2 * newton,
            RowInverse::Fixed(_) | RowInverse::Fitted { .. } => {
                self.inverse_for(classes).map(|g| g.depth()).unwrap_or(0)
            }
        };
        1 + rounds * self.cmp.max_depth() + self.dep.depth() + self.exp.depth() + inv + 1
    }

    /// `δ_max`: how far (in score units) the approximate row maximum can fall below the true
    /// one, `⌈log2 c⌉ ·` [`Comparison::max_error_bound`] `· 2 R_max` (each round of pairwise maxima
    /// loses at most the comparison's bound; the approximate maximum is a convex combination of
    /// the row's scores and the `-1/2` padding, so it is never above the true maximum).
    /// HETAL's comparison: 1.33 per round, i.e. 2.66 / 3.99 / 5.32 for `c = 3 / 7 / 10`.
    pub fn max_shift_bound(&self, classes: usize) -> f64 {
        f64::from(ceil_log2(classes)) * self.cmp.max_error_bound() * 2.0 * self.r_max()
    }

    /// A bound on every `exp(DEP(x_j - m'))` of a row: `1.01 · e^{max DEP on [0, δ_max]}`.
    pub fn exp_bound(&self, classes: usize) -> f64 {
        let d = self.max_shift_bound(classes);
        let top = (0..=64)
            .map(|i| self.dep.eval_plain(d * f64::from(i) / 64.0))
            .fold(0.0, f64::max);
        1.01 * top.exp()
    }

    /// The range of the row sum `z = Σ_j exp(DEP(x_j - m'))` for `classes` classes:
    /// `[0.9, c · exp_bound]` (the top class contributes at least `e^0 = 1` up to the exp
    /// polynomial's error, as `x_top - m' ≥ 0` and `DEP ≥ 0` there).
    pub fn row_sum_range(&self, classes: usize) -> (f64, f64) {
        (0.9, classes as f64 * self.exp_bound(classes))
    }

    /// The Goldschmidt inverse used for `classes` classes.
    ///
    /// Errors: a fitted inverse that would need more than 64 iterations.
    pub fn inverse_for(&self, classes: usize) -> Result<GoldschmidtInverse> {
        match self.inverse {
            RowInverse::Fixed(g) => Ok(g),
            RowInverse::Fitted { bits } => {
                let (lo, hi) = self.row_sum_range(classes);
                GoldschmidtInverse::for_range(lo, hi.min(ROW_SUM_CAP), bits)
            }
            RowInverse::Windowed { .. } => Err(Error::param(
                "a windowed ASoftmax has no Goldschmidt inverse (see windowed_for)",
            )),
        }
    }

    /// The windowed inverse used for `classes` classes, for a [`RowInverse::Windowed`] set.
    ///
    /// Errors: another inverse, or an invalid fit.
    pub fn windowed_for(&self, classes: usize) -> Result<WindowedInverse> {
        let RowInverse::Windowed { depth, newton } = self.inverse else {
            return Err(Error::param("not a windowed ASoftmax"));
        };
        let e_max = self.exp_bound(classes);
        let k = alpha_log2(classes.next_power_of_two(), e_max);
        let (lo, hi) = self.row_sum_range(classes);
        WindowedInverse::fit(k, (lo, hi.min(ROW_SUM_CAP)), depth, newton)
    }

    /// The tuned ASoftmax with a windowed inverse instead of Goldschmidt
    /// ([`RowInverse::Windowed`], degree 127 and one Newton step: 9 levels instead of 13):
    /// depth 42 / 54 / 64 for `c = 3 / 7 / 10`.
    pub fn windowed() -> Self {
        AsoftmaxParams {
            inverse: RowInverse::Windowed {
                depth: 7,
                newton: 1,
            },
            ..Self::tuned()
        }
    }

    fn check(&self) -> Result<()> {
        if (self.dep.r - f64::from(1u32 << self.exp.squarings())).abs() > 0.0 {
            return Err(Error::param(
                "ASoftmax needs the exp input scale 2^k equal to the domain-extension radius r",
            ));
        }
        self.dep.stages()?;
        self.cmp.stages()?;
        Ok(())
    }
}

/// Plaintext reference of ASoftmax for one row (the authors' computation, in `f64`).
pub fn asoftmax_plain(row: &[f64], p: &AsoftmaxParams) -> Vec<f64> {
    let c = row.len();
    let cp = c.next_power_of_two();
    let s = 2.0 * p.r_max();
    let mut a: Vec<f64> = row
        .iter()
        .map(|x| x / s)
        .chain(std::iter::repeat_n(-0.5, cp - c))
        .collect();
    let mut sh = 1;
    while sh < cp {
        a = (0..cp)
            .map(|j| p.cmp.max_plain(a[j], a[(j + sh) % cp]))
            .collect();
        sh *= 2;
    }
    let m = a[0] * s;
    let e: Vec<f64> = row
        .iter()
        .map(|x| p.exp.eval_plain(p.dep.eval_plain(x - m)))
        .collect();
    if let RowInverse::Windowed { .. } = p.inverse {
        let Ok(w) = p.windowed_for(c) else {
            return vec![f64::NAN; c];
        };
        let alpha = (-f64::from(w.alpha_log2)).exp2();
        let z: f64 = e.iter().map(|v| alpha * v).sum();
        let y = w.eval_plain(z);
        return e.iter().map(|v| 2.0 * v * y).collect();
    }
    let inv = match p.inverse_for(c) {
        Ok(g) => g.eval_plain(e.iter().sum(), 1.0),
        Err(_) => f64::NAN,
    };
    e.iter().map(|v| v * inv).collect()
}

/// Homomorphic ASoftmax of every row of `x` (scores in `[-R_max, R_max]`, layout `layout`).
/// The result is the row-wise softmax in the first `c` columns, zeros elsewhere.
///
/// Errors: a layout that does not match the evaluator; [`Error::DepthExhausted`] if the input
/// has fewer than [`AsoftmaxParams::depth`] levels and the evaluator cannot bootstrap; a missing
/// rotation key ([`SoftmaxMethod::rotations`] lists them).
pub fn asoftmax<E: Evaluator>(
    ev: &E,
    x: &E::Ciphertext,
    layout: &RowLayout,
    p: &AsoftmaxParams,
    rf: &Refresher,
) -> Result<E::Ciphertext> {
    Ok(asoftmax_variants(ev, x, layout, std::slice::from_ref(p), rf)?.remove(0))
}

/// ASoftmax with several parameter sets on the same input, sharing the normalisation and the
/// row maximum (steps 1-2) between the sets whose `R_max` and comparison agree (e.g. the normal
/// and precise variants). Returns one result per parameter set, in order.
pub fn asoftmax_variants<E: Evaluator>(
    ev: &E,
    x: &E::Ciphertext,
    layout: &RowLayout,
    ps: &[AsoftmaxParams],
    rf: &Refresher,
) -> Result<Vec<E::Ciphertext>> {
    layout.check(ev)?;
    let mut shared: Vec<(f64, Comparison, E::Ciphertext, E::Ciphertext)> = Vec::new();
    let mut out = Vec::with_capacity(ps.len());
    for p in ps {
        p.check()?;
        rf.check_total(x, p.depth(layout.classes()))?;
        let key = (p.r_max(), p.cmp);
        let (u, m) = match shared.iter().find(|s| s.0 == key.0 && s.1 == key.1) {
            Some(s) => (s.2.clone(), s.3.clone()),
            None => {
                let (u, m) = row_max(ev, x, layout, p, rf)?;
                shared.push((key.0, key.1, u.clone(), m.clone()));
                (u, m)
            }
        };
        out.push(asoftmax_tail(ev, &u, &m, layout, p, rf)?);
    }
    Ok(out)
}

/// Steps 1-2: the normalised, padded input `u` and its row maximum at column 0 (zero in the
/// other columns).
fn row_max<E: Evaluator>(
    ev: &E,
    x: &E::Ciphertext,
    layout: &RowLayout,
    p: &AsoftmaxParams,
    rf: &Refresher,
) -> Result<(E::Ciphertext, E::Ciphertext)> {
    let (c, cp) = (layout.classes(), layout.padded());
    let s = 2.0 * p.r_max();
    // 1. Normalise and pad.
    let scale = Polynomial::power(vec![0.0, 1.0 / s])?;
    let mask_c = layout.column_vector(0, c, 1.0);
    let u = rf.poly(ev, &scale, x, Some(&mask_c), p.r_max(), 0.5)?;
    let u = if cp > c {
        let pad = ev.encode_real(&layout.column_vector(c, cp, -0.5), u.level(), u.scale())?;
        ev.add_plain(&u, &pad)?
    } else {
        u
    };
    // 2. Row maximum at column 0, replicated over the valid columns.
    let w0 = layout.column_vector(0, 1, 1.0);
    let rounds = ceil_log2(cp);
    let mut a = u.clone();
    for i in 0..rounds {
        let b = ev.rotate(&a, RotStep(1i64 << i))?;
        let last = i + 1 == rounds;
        a = p
            .cmp
            .max(ev, &a, &b, if last { Some(&w0) } else { None }, rf)?;
    }
    Ok((u, a))
}

/// Steps 3-6 from `u` and the row maximum `a0` at column 0 (zero elsewhere).
///
/// Bootstrapping plan (when the evaluator bootstraps): a bootstrap adds an independent error `η`
/// to every slot, which the later stages amplify: by `2 R_max` on `u - m`, by `r` on the
/// domain extension's output and the exp polynomial's, by `2^(k-j)/α^(2^j/2^k)` after `j`
/// squarings ([`ExpApprox::refresh_point`]), and by `1/α` on the scaled exponentials. So the
/// maximum is bootstrapped (if at all) at column 0 *before* it is replicated over the row, where
/// its error is the same for the whole row and cancels in the softmax; then, when the chain is
/// long enough, `u - m`, the domain extension, the polynomial and the first `j` squarings run
/// without a bootstrap, the one bootstrap of the exponential falls at the cheapest squaring, and
/// the scaled exponentials keep the level of the final product.
fn asoftmax_tail<E: Evaluator>(
    ev: &E,
    u: &E::Ciphertext,
    a0: &E::Ciphertext,
    layout: &RowLayout,
    p: &AsoftmaxParams,
    rf: &Refresher,
) -> Result<E::Ciphertext> {
    let (c, cp) = (layout.classes(), layout.padded());
    let e_max = p.exp_bound(c);
    let k = alpha_log2(cp, e_max);
    let alpha = (-f64::from(k)).exp2();
    let squarings = p.exp.squarings();
    let fixed = p.dep.depth() + p.exp.poly().depth();
    let (need, refresh_at) = match rf.info() {
        Some(info) if info.output_level.0 >= fixed + rf.floor(1.0) => {
            let room = info.output_level.0 - rf.floor(1.0) - fixed;
            let j = p.exp.refresh_point(alpha, room);
            (fixed + j, Some(j))
        }
        _ => (0, Some(p.exp.refresh_point(alpha, squarings))),
    };
    // 3. Subtract, extend the domain.
    let u = rf.ensure(ev, u, need, 0.5, 1.0)?;
    let a0 = rf.ensure(ev, a0, need, 0.5, 1.0)?;
    let m = ev.inner_sum(&a0, -1, c)?;
    let (u, m) = align(ev, &u, &m)?;
    let xn = ev.sub(&u, &m)?;
    let v = p.dep.eval(ev, &xn, rf)?;
    // 4. Masked, scaled exponential.
    let w = layout.column_vector(0, c, alpha);
    let plan = ExpPlan {
        keep: 1,
        refresh_at,
    };
    let e = p
        .exp
        .eval_planned(ev, &v, p.dep.r, Some(&w), 1.0, alpha * e_max, plan, rf)?;
    // 5-6. Normalise the rows.
    if let RowInverse::Windowed { .. } = p.inverse {
        let w = p.windowed_for(c)?;
        return normalize_rows_windowed(ev, &e, e_max, &w, layout, rf);
    }
    let inv = p.inverse_for(c)?;
    normalize_rows(ev, &e, k, e_max, p.row_sum_range(c), &inv, layout, rf)
}

/// Lee et al.'s softmax as in the authors' script: `softmax(x/λ)` with exp by a degree-12
/// polynomial at `x/(64λ)` and 6 squarings, Goldschmidt `R = 10⁴`, 8 iterations. It
/// approximates `softmax(x/4)`, not `softmax(x)`.
#[derive(Clone, Debug, PartialEq)]
pub struct GumbelParams {
    /// The temperature `λ` (4).
    pub lambda: f64,
    /// The exponential (degree 12, 6 squarings).
    pub exp: ExpApprox,
    /// The inverse (`R = 10⁴`, 8 iterations).
    pub inverse: GoldschmidtInverse,
    /// Inputs are assumed in `[-range, range]` (32, the largest range the script uses it on).
    pub range: f64,
}

impl GumbelParams {
    /// The script's defaults.
    pub fn script() -> Self {
        GumbelParams {
            lambda: 4.0,
            exp: ExpApprox::lee_deg12(),
            inverse: GoldschmidtInverse {
                r: 1e4,
                iterations: 8,
            },
            range: 32.0,
        }
    }

    /// Levels consumed.
    pub fn depth(&self) -> u32 {
        1 + self.exp.depth() + self.inverse.depth() + 1
    }
}

/// Plaintext reference of the Gumbel baseline for one row.
pub fn gumbel_plain(row: &[f64], p: &GumbelParams) -> Vec<f64> {
    let e: Vec<f64> = row.iter().map(|x| p.exp.eval_plain(x / p.lambda)).collect();
    let inv = p.inverse.eval_plain(e.iter().sum(), 1.0);
    e.iter().map(|v| v * inv).collect()
}

/// Homomorphic Gumbel baseline.
pub fn gumbel<E: Evaluator>(
    ev: &E,
    x: &E::Ciphertext,
    layout: &RowLayout,
    p: &GumbelParams,
    rf: &Refresher,
) -> Result<E::Ciphertext> {
    layout.check(ev)?;
    rf.check_total(x, p.depth())?;
    let c = layout.classes();
    let unit = p.lambda * f64::from(1u32 << p.exp.squarings());
    let mask_c = layout.column_vector(0, c, 1.0);
    let v = rf.poly(
        ev,
        &Polynomial::power(vec![0.0, 1.0 / unit])?,
        x,
        Some(&mask_c),
        p.range,
        p.range / unit,
    )?;
    let e_max = (p.range / p.lambda).exp();
    let k = alpha_log2(layout.padded(), e_max);
    let w = layout.column_vector(0, c, (-f64::from(k)).exp2());
    let e = p
        .exp
        .eval(ev, &v, unit / p.lambda, Some(&w), p.range / unit, 0.5, rf)?;
    let z_lo = c as f64 * (-p.range / p.lambda).exp();
    normalize_rows(
        ev,
        &e,
        k,
        e_max,
        (z_lo, c as f64 * e_max),
        &p.inverse,
        layout,
        rf,
    )
}

/// Hong et al.'s softmax as in the authors' script: `exp(x) ∝ ((x + 2^r)/L)^(2^r)` with
/// `r = 4, L = 32`, Goldschmidt `R = 80`, 30 iterations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HongParams {
    /// `r` (4): the power is `2^r`.
    pub r: u32,
    /// `L` (32).
    pub l: f64,
    /// The inverse (`R = 80`, 30 iterations).
    pub inverse: GoldschmidtInverse,
    /// Inputs are assumed in `[-range, range]` (8, the largest range the script uses it on).
    pub range: f64,
}

impl HongParams {
    /// The script's defaults.
    pub fn script() -> Self {
        HongParams {
            r: 4,
            l: 32.0,
            inverse: GoldschmidtInverse {
                r: 80.0,
                iterations: 30,
            },
            range: 8.0,
        }
    }

    /// Levels consumed.
    pub fn depth(&self) -> u32 {
        1 + self.r + self.inverse.depth() + 1
    }

    fn exp_plain(&self, x: f64) -> f64 {
        ((x + f64::from(1u32 << self.r)) / self.l).powi(1 << self.r)
    }
}

/// Plaintext reference of the Hong et al. baseline for one row.
pub fn hong_plain(row: &[f64], p: &HongParams) -> Vec<f64> {
    let e: Vec<f64> = row.iter().map(|&x| p.exp_plain(x)).collect();
    let inv = p.inverse.eval_plain(e.iter().sum(), 1.0);
    e.iter().map(|v| v * inv).collect()
}

/// Homomorphic Hong et al. baseline.
pub fn hong<E: Evaluator>(
    ev: &E,
    x: &E::Ciphertext,
    layout: &RowLayout,
    p: &HongParams,
    rf: &Refresher,
) -> Result<E::Ciphertext> {
    layout.check(ev)?;
    rf.check_total(x, p.depth())?;
    let c = layout.classes();
    let e_max = p.exp_plain(p.range);
    let k = alpha_log2(layout.padded(), e_max);
    let root = 1.0 / f64::from(1u32 << p.r);
    let w = layout.column_vector(0, c, (-f64::from(k) * root).exp2());
    let lin = Polynomial::power(vec![f64::from(1u32 << p.r) / p.l, 1.0 / p.l])?;
    let top = (p.range + f64::from(1u32 << p.r)) / p.l;
    let mut e = rf.poly(ev, &lin, x, Some(&w), p.range, top)?;
    let mut b = top;
    for _ in 0..p.r {
        e = rf.square(ev, &e, b, b * b)?;
        b *= b;
    }
    let z_lo = c as f64 * p.exp_plain(-p.range).max(1e-300);
    normalize_rows(
        ev,
        &e,
        k,
        e_max,
        (z_lo, c as f64 * e_max),
        &p.inverse,
        layout,
        rf,
    )
}

/// Plaintext reference of PrivGD's softmax (Jin et al.): `Π_{j≠i} σ(x_i - x_j)` with
/// `σ(t) ≈ 0.5 + 0.15012 t - 0.00156 t³`.
pub fn privgd_plain(row: &[f64]) -> Vec<f64> {
    let s = SigmoidApprox::privgd();
    (0..row.len())
        .map(|i| {
            (0..row.len())
                .filter(|&j| j != i)
                .map(|j| s.eval_plain(row[i] - row[j]))
                .product()
        })
        .collect()
}

/// Levels consumed by [`privgd`]: 1 (cyclic shifts) + 2 (sigmoid) + `⌈log2(c - 1)⌉` (product).
pub fn privgd_depth(classes: usize) -> u32 {
    3 + ceil_log2(classes - 1)
}

/// Homomorphic PrivGD softmax (inputs in `[-4, 4]`, the range the script uses it on).
pub fn privgd<E: Evaluator>(
    ev: &E,
    x: &E::Ciphertext,
    layout: &RowLayout,
    rf: &Refresher,
) -> Result<E::Ciphertext> {
    layout.check(ev)?;
    let c = layout.classes();
    rf.check_total(x, privgd_depth(c))?;
    let sig = SigmoidApprox::privgd();
    let bound = 4.0;
    let mask_c = layout.column_vector(0, c, 1.0);
    let x = rf.ensure_same(ev, x, privgd_depth(c), bound)?;
    let u = ev.mask(&x, &mask_c)?;
    let mut factors = Vec::with_capacity(c - 1);
    for k in 1..c {
        // x_{(i + k) mod c} in column i < c: two rotations, each masked to where it is right.
        let r1 = ev.rotate(&x, RotStep(k as i64))?;
        let r2 = ev.rotate(&x, RotStep(k as i64 - c as i64))?;
        let xk = ev.add(
            &ev.mask(&r1, &layout.column_vector(0, c - k, 1.0))?,
            &ev.mask(&r2, &layout.column_vector(c - k, c, 1.0))?,
        )?;
        let t = ev.sub(&u, &xk)?;
        let w = if k == 1 {
            Some(mask_c.as_slice())
        } else {
            None
        };
        factors.push(rf.poly(ev, sig.poly(), &t, w, 2.0 * bound, 1.0)?);
    }
    while factors.len() > 1 {
        let mut next = Vec::with_capacity(factors.len().div_ceil(2));
        for pair in factors.chunks(2) {
            next.push(if pair.len() == 2 {
                rf.mul(ev, &pair[0], &pair[1], 1.0, 1.0, 1.0)?
            } else {
                pair[0].clone()
            });
        }
        factors = next;
    }
    factors
        .pop()
        .ok_or_else(|| Error::param("PrivGD needs at least 2 classes"))
}

/// A proven bound `B` on the scores for [`SoftmaxMethod::NormalizeSquare`] (`|score| ≤ B`).
///
/// A bound below 128 is a promise the *caller* must prove from public facts (e.g. the client's
/// feature scaling times the weight bound); nothing checks encrypted scores against it, and a
/// score beyond it gives a wrong softmax silently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogitBound {
    /// `B = 128` (the input range of ASoftmax).
    B128,
    /// `B = 64`.
    B64,
    /// `B = 32`.
    B32,
    /// `B = 16`.
    B16,
}

impl LogitBound {
    /// The bound `B`.
    pub fn value(&self) -> f64 {
        match self {
            LogitBound::B128 => 128.0,
            LogitBound::B64 => 64.0,
            LogitBound::B32 => 32.0,
            LogitBound::B16 => 16.0,
        }
    }
}

/// A row-wise softmax over [`RowLayout`] blocks that training and `hetal softmax-error` can
/// use: implemented by every [`SoftmaxMethod`] and by [`NormalizeSquareParams`] (any bound).
pub trait RowSoftmax: Send + Sync {
    /// A short stable name.
    fn name(&self) -> String;
    /// Scores must lie in `[-input_bound, input_bound]` (a precondition on encrypted inputs).
    fn input_bound(&self) -> f64;
    /// A bound on `|output|` (for bootstrapping `P - Y`).
    fn output_bound(&self) -> f64;
    /// Levels consumed for `classes` classes without bootstrapping.
    fn depth(&self, classes: usize) -> Result<u32>;
    /// The rotation steps used on `layout` (for key generation).
    fn rotations(&self, layout: &RowLayout) -> Vec<RotStep>;
    /// The same computation in `f64` on one row of `c` scores.
    fn eval_plain(&self, row: &[f64]) -> Vec<f64>;
    /// Homomorphic evaluation on a packed block: the softmax of each row in its first `c`
    /// columns, zeros elsewhere.
    fn eval<E: Evaluator>(
        &self,
        ev: &E,
        x: &E::Ciphertext,
        layout: &RowLayout,
        rf: &Refresher,
    ) -> Result<E::Ciphertext>;

    /// Dry run on a mock with the chain and bootstrapping of `chain` (e.g. from
    /// [`crate::poly::mirror_params`]; its slot count is replaced by `2 c'`), from `input_level`:
    /// levels, bootstraps and operation counts of one call.
    fn dry_run(&self, chain: &MockParams, classes: usize, input_level: Level) -> Result<DryRun> {
        let layout = RowLayout::new(2, classes.next_power_of_two(), classes)?;
        let params = MockParams {
            slots: layout.slots(),
            ..chain.clone()
        };
        dry_run(params, input_level, &[], |ev, x| {
            let rf = Refresher::new(ev);
            self.eval(ev, x, &layout, &rf)
        })
    }
}

/// Rotations of a method that sums a row at column 0 (left, `c'` columns) and replicates over
/// the `c` valid columns (right).
fn row_sum_rotations(layout: &RowLayout) -> Vec<RotStep> {
    let mut v = inner_sum_rotations(1, layout.padded());
    v.extend(inner_sum_rotations(-1, layout.classes()));
    v.sort();
    v.dedup();
    v
}

impl RowSoftmax for NormalizeSquareParams {
    fn name(&self) -> String {
        format!("normalize-square(B = {})", self.bound)
    }
    fn input_bound(&self) -> f64 {
        self.bound
    }
    fn output_bound(&self) -> f64 {
        1.0 + self.last
    }
    fn depth(&self, classes: usize) -> Result<u32> {
        Ok(cached_plan(self, classes)?.depth())
    }
    fn rotations(&self, layout: &RowLayout) -> Vec<RotStep> {
        row_sum_rotations(layout)
    }
    fn eval_plain(&self, row: &[f64]) -> Vec<f64> {
        match cached_plan(self, row.len()) {
            Ok(p) => p.eval_plain(row),
            Err(_) => vec![f64::NAN; row.len()],
        }
    }
    fn eval<E: Evaluator>(
        &self,
        ev: &E,
        x: &E::Ciphertext,
        layout: &RowLayout,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        layout.check(ev)?;
        cached_plan(self, layout.classes())?.eval(ev, x, layout, rf)
    }
}

/// The softmax methods: the authors' error script's, HETAL's exact configuration, and the
/// lower-depth ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SoftmaxMethod {
    /// ASoftmax, tuned ([`AsoftmaxParams::tuned`]).
    Asoftmax,
    /// ASoftmax with the precise domain extension, tuned ([`AsoftmaxParams::tuned_precise`]).
    AsoftmaxPrecise,
    /// ASoftmax with HETAL's own parameters ([`AsoftmaxParams::hetal`]).
    AsoftmaxHetal,
    /// ASoftmax with HETAL's own parameters and the precise domain extension
    /// ([`AsoftmaxParams::hetal_precise`]).
    AsoftmaxHetalPrecise,
    /// Tuned ASoftmax with a windowed inverse instead of Goldschmidt ([`AsoftmaxParams::windowed`]).
    AsoftmaxWindowed,
    /// The runner's no-domain-extension row ([`AsoftmaxParams::original`]).
    AsoftmaxOriginal,
    /// Normalize-and-square ([`NormalizeSquareParams::for_bound`]) for scores proven to lie in
    /// `[-B, B]` ([`LogitBound`]).
    NormalizeSquare(LogitBound),
    /// Hong et al. ([`HongParams::script`]).
    Hong,
    /// PrivGD, Jin et al. ([`privgd`]).
    PrivGd,
    /// Lee et al., Gumbel softmax with `λ = 4` ([`GumbelParams::script`]).
    Gumbel,
}

impl SoftmaxMethod {
    /// Every method.
    pub const ALL: [SoftmaxMethod; 13] = [
        SoftmaxMethod::Asoftmax,
        SoftmaxMethod::AsoftmaxHetal,
        SoftmaxMethod::AsoftmaxPrecise,
        SoftmaxMethod::AsoftmaxHetalPrecise,
        SoftmaxMethod::AsoftmaxWindowed,
        SoftmaxMethod::NormalizeSquare(LogitBound::B128),
        SoftmaxMethod::NormalizeSquare(LogitBound::B64),
        SoftmaxMethod::NormalizeSquare(LogitBound::B32),
        SoftmaxMethod::NormalizeSquare(LogitBound::B16),
        SoftmaxMethod::AsoftmaxOriginal,
        SoftmaxMethod::Hong,
        SoftmaxMethod::PrivGd,
        SoftmaxMethod::Gumbel,
    ];

    /// The method of a name ([`SoftmaxMethod::name`]).
    ///
    /// Errors: [`Error::UnknownAlgorithm`] listing the known names.
    pub fn by_name(name: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.name() == name)
            .ok_or_else(|| Error::UnknownAlgorithm {
                name: name.to_string(),
                known: Self::ALL.map(|m| m.name()).join(", "),
            })
    }

    /// A short stable name.
    pub fn name(&self) -> &'static str {
        match self {
            SoftmaxMethod::Asoftmax => "asoftmax",
            SoftmaxMethod::AsoftmaxPrecise => "asoftmax-precise",
            SoftmaxMethod::AsoftmaxHetal => "asoftmax-hetal",
            SoftmaxMethod::AsoftmaxHetalPrecise => "asoftmax-hetal-precise",
            SoftmaxMethod::AsoftmaxWindowed => "asoftmax-windowed",
            SoftmaxMethod::AsoftmaxOriginal => "asoftmax-original",
            SoftmaxMethod::NormalizeSquare(LogitBound::B128) => "normalize-square",
            SoftmaxMethod::NormalizeSquare(LogitBound::B64) => "normalize-square-b64",
            SoftmaxMethod::NormalizeSquare(LogitBound::B32) => "normalize-square-b32",
            SoftmaxMethod::NormalizeSquare(LogitBound::B16) => "normalize-square-b16",
            SoftmaxMethod::Hong => "hong",
            SoftmaxMethod::PrivGd => "privgd",
            SoftmaxMethod::Gumbel => "gumbel",
        }
    }

    /// The largest input range `R` (scores in `[-R, R]`) the method is meant for: the authors'
    /// runner's for their methods, `B` for normalize-and-square (a precondition).
    pub fn max_range(&self) -> f64 {
        match self {
            SoftmaxMethod::Asoftmax
            | SoftmaxMethod::AsoftmaxPrecise
            | SoftmaxMethod::AsoftmaxHetal
            | SoftmaxMethod::AsoftmaxHetalPrecise
            | SoftmaxMethod::AsoftmaxWindowed => 128.0,
            SoftmaxMethod::NormalizeSquare(b) => b.value(),
            SoftmaxMethod::AsoftmaxOriginal | SoftmaxMethod::PrivGd => 4.0,
            SoftmaxMethod::Hong => 8.0,
            SoftmaxMethod::Gumbel => 32.0,
        }
    }

    /// A bound on `|output|`: 1 for the methods normalised by a Goldschmidt inverse (it
    /// converges from below and the exponentials are even powers, so `0 ≤ P ≤ 1`); `1 + E` for
    /// the windowed and normalize-and-square methods (`E` their last inverse's relative error
    /// bound); 1.1 for PrivGD, whose cubic sigmoid peaks at 1.066 on `[-8, 8]`.
    pub fn output_bound(&self) -> f64 {
        match self {
            SoftmaxMethod::PrivGd => 1.1,
            SoftmaxMethod::AsoftmaxWindowed => 1.001,
            SoftmaxMethod::NormalizeSquare(b) => {
                RowSoftmax::output_bound(&NormalizeSquareParams::for_bound(b.value()))
            }
            SoftmaxMethod::Asoftmax
            | SoftmaxMethod::AsoftmaxPrecise
            | SoftmaxMethod::AsoftmaxHetal
            | SoftmaxMethod::AsoftmaxHetalPrecise
            | SoftmaxMethod::AsoftmaxOriginal
            | SoftmaxMethod::Hong
            | SoftmaxMethod::Gumbel => 1.0,
        }
    }

    /// ASoftmax parameters, for the ASoftmax variants.
    pub fn asoftmax_params(&self) -> Option<AsoftmaxParams> {
        match self {
            SoftmaxMethod::Asoftmax => Some(AsoftmaxParams::tuned()),
            SoftmaxMethod::AsoftmaxPrecise => Some(AsoftmaxParams::tuned_precise()),
            SoftmaxMethod::AsoftmaxHetal => Some(AsoftmaxParams::hetal()),
            SoftmaxMethod::AsoftmaxHetalPrecise => Some(AsoftmaxParams::hetal_precise()),
            SoftmaxMethod::AsoftmaxWindowed => Some(AsoftmaxParams::windowed()),
            SoftmaxMethod::AsoftmaxOriginal => Some(AsoftmaxParams::original()),
            SoftmaxMethod::NormalizeSquare(_)
            | SoftmaxMethod::Hong
            | SoftmaxMethod::PrivGd
            | SoftmaxMethod::Gumbel => None,
        }
    }

    /// Normalize-and-square parameters, for those variants.
    pub fn normalize_square_params(&self) -> Option<NormalizeSquareParams> {
        match self {
            SoftmaxMethod::NormalizeSquare(b) => Some(NormalizeSquareParams::for_bound(b.value())),
            SoftmaxMethod::Asoftmax
            | SoftmaxMethod::AsoftmaxPrecise
            | SoftmaxMethod::AsoftmaxHetal
            | SoftmaxMethod::AsoftmaxHetalPrecise
            | SoftmaxMethod::AsoftmaxWindowed
            | SoftmaxMethod::AsoftmaxOriginal
            | SoftmaxMethod::Hong
            | SoftmaxMethod::PrivGd
            | SoftmaxMethod::Gumbel => None,
        }
    }

    /// Levels consumed for `classes` classes (no bootstrapping); 0 for a class count the
    /// method cannot be fitted to.
    pub fn depth(&self, classes: usize) -> u32 {
        match self {
            SoftmaxMethod::Hong => HongParams::script().depth(),
            SoftmaxMethod::PrivGd => privgd_depth(classes),
            SoftmaxMethod::Gumbel => GumbelParams::script().depth(),
            SoftmaxMethod::NormalizeSquare(_) => self
                .normalize_square_params()
                .and_then(|p| RowSoftmax::depth(&p, classes).ok())
                .unwrap_or(0),
            SoftmaxMethod::Asoftmax
            | SoftmaxMethod::AsoftmaxPrecise
            | SoftmaxMethod::AsoftmaxHetal
            | SoftmaxMethod::AsoftmaxHetalPrecise
            | SoftmaxMethod::AsoftmaxWindowed
            | SoftmaxMethod::AsoftmaxOriginal => self
                .asoftmax_params()
                .map(|p| p.depth(classes))
                .unwrap_or(0),
        }
    }

    /// The rotation steps the method uses on `layout` (for key generation).
    pub fn rotations(&self, layout: &RowLayout) -> Vec<RotStep> {
        let c = layout.classes() as i64;
        match self {
            SoftmaxMethod::PrivGd => {
                let mut v: Vec<RotStep> =
                    (1..c).flat_map(|k| [RotStep(k), RotStep(k - c)]).collect();
                v.sort();
                v.dedup();
                v
            }
            SoftmaxMethod::Asoftmax
            | SoftmaxMethod::AsoftmaxPrecise
            | SoftmaxMethod::AsoftmaxHetal
            | SoftmaxMethod::AsoftmaxHetalPrecise
            | SoftmaxMethod::AsoftmaxWindowed
            | SoftmaxMethod::AsoftmaxOriginal
            | SoftmaxMethod::NormalizeSquare(_)
            | SoftmaxMethod::Hong
            | SoftmaxMethod::Gumbel => row_sum_rotations(layout),
        }
    }

    /// Plaintext reference for one row.
    pub fn eval_plain(&self, row: &[f64]) -> Vec<f64> {
        match self {
            SoftmaxMethod::Hong => hong_plain(row, &HongParams::script()),
            SoftmaxMethod::PrivGd => privgd_plain(row),
            SoftmaxMethod::Gumbel => gumbel_plain(row, &GumbelParams::script()),
            SoftmaxMethod::NormalizeSquare(_) => self
                .normalize_square_params()
                .map(|p| RowSoftmax::eval_plain(&p, row))
                .unwrap_or_default(),
            SoftmaxMethod::Asoftmax
            | SoftmaxMethod::AsoftmaxPrecise
            | SoftmaxMethod::AsoftmaxHetal
            | SoftmaxMethod::AsoftmaxHetalPrecise
            | SoftmaxMethod::AsoftmaxWindowed
            | SoftmaxMethod::AsoftmaxOriginal => self
                .asoftmax_params()
                .map(|p| asoftmax_plain(row, &p))
                .unwrap_or_default(),
        }
    }

    /// Homomorphic evaluation on a packed block.
    pub fn eval<E: Evaluator>(
        &self,
        ev: &E,
        x: &E::Ciphertext,
        layout: &RowLayout,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        match self {
            SoftmaxMethod::Hong => hong(ev, x, layout, &HongParams::script(), rf),
            SoftmaxMethod::PrivGd => privgd(ev, x, layout, rf),
            SoftmaxMethod::Gumbel => gumbel(ev, x, layout, &GumbelParams::script(), rf),
            SoftmaxMethod::NormalizeSquare(b) => RowSoftmax::eval(
                &NormalizeSquareParams::for_bound(b.value()),
                ev,
                x,
                layout,
                rf,
            ),
            SoftmaxMethod::Asoftmax
            | SoftmaxMethod::AsoftmaxPrecise
            | SoftmaxMethod::AsoftmaxHetal
            | SoftmaxMethod::AsoftmaxHetalPrecise
            | SoftmaxMethod::AsoftmaxWindowed
            | SoftmaxMethod::AsoftmaxOriginal => {
                let p = self
                    .asoftmax_params()
                    .ok_or_else(|| Error::param("not an ASoftmax variant"))?;
                asoftmax(ev, x, layout, &p, rf)
            }
        }
    }

    /// Dry run on a mock with the chain and bootstrapping of `chain` (e.g. from
    /// [`crate::poly::mirror_params`]; its slot count is replaced by `2 c'`), from `input_level`.
    pub fn dry_run(
        &self,
        chain: &MockParams,
        classes: usize,
        input_level: Level,
    ) -> Result<DryRun> {
        RowSoftmax::dry_run(self, chain, classes, input_level)
    }
}

impl RowSoftmax for SoftmaxMethod {
    fn name(&self) -> String {
        SoftmaxMethod::name(self).to_string()
    }
    fn input_bound(&self) -> f64 {
        self.max_range()
    }
    fn output_bound(&self) -> f64 {
        SoftmaxMethod::output_bound(self)
    }
    fn depth(&self, classes: usize) -> Result<u32> {
        Ok(SoftmaxMethod::depth(self, classes))
    }
    fn rotations(&self, layout: &RowLayout) -> Vec<RotStep> {
        SoftmaxMethod::rotations(self, layout)
    }
    fn eval_plain(&self, row: &[f64]) -> Vec<f64> {
        SoftmaxMethod::eval_plain(self, row)
    }
    fn eval<E: Evaluator>(
        &self,
        ev: &E,
        x: &E::Ciphertext,
        layout: &RowLayout,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        SoftmaxMethod::eval(self, ev, x, layout, rf)
    }
}

/// Exact softmax of one row in `f64` (max subtracted first).
pub fn softmax_exact(row: &[f64]) -> Vec<f64> {
    let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = row.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}
