//! Normalize-and-square softmax (after Cho, Hanrot, Kim, Park and Stehlé, CCS 2024): no row
//! maximum, no comparison polynomials; depth logarithmic in the input range.
//!
//! # The computation
//!
//! For scores `x` in `[-B, B]` (`B` the *logit bound*, public) and `k` squarings:
//! 1. `u = mask_c ⊙ x / B` (1 level), then `y_0 = κ_0 · mask_c ⊙ E(u)` with `E` the degree-`d`
//!    Chebyshev interpolant of `exp(B (u - 1) / 2^k)` on `u ∈ [-1, 1]`: every argument of the
//!    exponential lies in the window `[-2B/2^k, 0]`, so no maximum is needed, and the padding
//!    columns are zeroed here, once (the mask and `κ_0` are folded into the polynomial).
//! 2. `k` times: `y ← y² · q(Σ_row y²)`, with `q ≈ κ / s` a *crude* inverse. The map
//!    `y ↦ y² / Σ y²` ignores any factor common to the row, and `softmax(2x) ∝ softmax(x)²`,
//!    so after `k` steps `y ∝ exp(x)`. An intermediate inverse with relative error `E` leaves a
//!    factor in `[1 - E, 1 + E]` on the whole row, which the next step cancels; it only has to
//!    keep the next sum inside a known window. The last inverse is accurate (`κ = 1`): its
//!    relative error is the output's normalisation error.
//!
//! # Windows and inverses (all proven, none data-dependent)
//!
//! * Step 1: `Σ y_0² ∈ κ_0² [E_lo², c E_hi²]` (`E_lo, E_hi` the extremes of `E` on `[-1, 1]`,
//!   `E_lo ≈ e^{-2B/2^k}`; the row's largest term alone is at least `κ_0² E_lo²`).
//! * Step `t > 1`: `y_{t-1} = κ f p` with `p` a probability vector (zero on the padding),
//!   `f ∈ [1 - E, 1 + E]`, so `Σ y² = κ² f² Σ p² ∈ κ² [(1-E)²/c, (1+E)²]` (`Σ p² ≥ 1/c`).
//! * The row sum is formed at column 0 by left rotations ([`hetal_traits::EvaluatorExt::inner_sum`]
//!   over the `c'` padded columns, the padding being zero); the other columns then hold partial sums of two neighbouring rows, in
//!   `[0, 2 H]` for a window `[L, H]`. A polynomial is unbounded off its interval, so the
//!   inverse is built on `[L, 2H]` (and stays within `[0, κ/L]`-ish bounds on `[0, L]`), its
//!   output masked to column 0 (folded into the coefficients) and replicated over the row by
//!   right rotations.
//! * The inverse of degree `m - 1` is the best one for the relative error: `q(s) = κ (1 - r(s))/s`
//!   with `r(s) = T_m(ℓ(s)) / T_m(ℓ(0))`, `ℓ` the affine map of `[L, 2H]` onto `[1, -1]`; then
//!   `s q(s)/κ - 1 = -r(s) ∈ [-E, E]` with `E = 1/T_m(ℓ(0))` exactly. `m = 2^D` costs `D` levels.
//! * `κ` scales each window to width `2/A` with `A = 2` an integer, so the Chebyshev variable
//!   `v = A s - b` costs no level (an integer multiplication and a constant). Every ciphertext then
//!   stays below 1 in absolute value (bootstrappable as is); `q` is divided by a power of two
//!   `2^e ≥ max q` inside its coefficients and the product multiplied back by the integer `2^e`.
//!
//! # Depth
//!
//! `1 + ⌈log2(d + 1)⌉ + Σ_t (2 + D_t)`: step `t` squares (1 level), evaluates `q` on the square's
//! row sum (`D_t` levels) and multiplies (1 level). See [`NormalizeSquareParams::plan`] for the
//! degrees chosen and [`NormalizeSquarePlan::depth`].
//!
//! # Errors
//!
//! Relative to the exact softmax, three sources: the exponential's relative error *variation*
//! `δ` over the window (a constant factor cancels), amplified by `2^k` (`p_i` changes by about
//! `p_i 2^k (δ_i - Σ_j p_j δ_j)`); the last inverse's `E_k` (absolute `≤ E_k`); and, under CKKS,
//! the noise of every operation, amplified `2^(k-t)` when injected before step `t`'s squaring.
//! Measured errors are in [`crate::approx::softmax`]'s module docs.
//!
//! # The logit bound is a precondition
//!
//! Nothing checks encrypted scores against `B`: a score outside `[-B, B]` puts the exponential
//! outside its window and the first sum outside its window, and the result is silently wrong.
//! A caller that picks a smaller bound than 128 (fewer squarings, less depth) must *prove*
//! `|score| ≤ B` from public facts (e.g. a bound on the features times a bound on the weights).
//! The plaintext reference [`NormalizeSquarePlan::eval_plain`] checks it and returns NaN.

use super::Refresher;
use crate::poly::{Polynomial, align, evaluate_weighted};
use crate::{Error, Result};
use hetal_traits::{Complex64, Evaluator, EvaluatorExt, Leveled};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Chebyshev polynomial `T_m(z)` for `z ≥ 1`.
fn cheb_t(m: u32, z: f64) -> f64 {
    (f64::from(m) * z.max(1.0).acosh()).cosh()
}

/// Parameters of the normalize-and-square softmax.
#[derive(Clone, Debug, PartialEq)]
pub struct NormalizeSquareParams {
    /// The logit bound `B`: scores must lie in `[-B, B]` (a precondition, see the module docs).
    pub bound: f64,
    /// The number of squarings `k` (`softmax(x) ∝ exp(x / 2^k)^(2^k)`).
    pub squarings: u32,
    /// Degree of the Chebyshev exponential on the window `[-2B/2^k, 0]`.
    pub exp_degree: usize,
    /// Largest relative error allowed for an intermediate inverse (the least depth `D_t` that
    /// reaches it is chosen for each step).
    pub crude: f64,
    /// Largest relative error allowed for the last inverse (the output's normalisation).
    pub last: f64,
}

/// One step of the plan: `y ← 2^e · y² · q(Σ y²)`, `q = 2^-e κ (1 - r)/s` on the Chebyshev
/// interval `[lo, hi]` (the true sums lie in `[lo, window_hi]`).
#[derive(Clone, Debug, PartialEq)]
pub struct SquareStep {
    /// Lower end of the row-sum window (and of the inverse's interval).
    pub lo: f64,
    /// Upper end of the row-sum window.
    pub window_hi: f64,
    /// Upper end of the inverse's interval (`2 · window_hi`: the partial sums in other columns).
    pub hi: f64,
    /// The integer `A` of the level-free change of variable `v = A s - b`.
    pub a: i64,
    /// Depth of the inverse (`m = 2^depth`, degree `m - 1`).
    pub depth: u32,
    /// The inverse's relative error bound `E = 1/T_m(ℓ(0))`.
    pub rel_error: f64,
    /// The factor `κ` of this step's output (`Σ y ≈ κ`); 1 for the last step.
    pub kappa: f64,
    /// `e`: the inverse is scaled by `2^-e` (below 1) and the product by `2^e`.
    pub shift: u32,
    /// The inverse as a Chebyshev series in `v ∈ [-1, 1]` (already times `κ 2^-e`).
    pub poly: Polynomial,
}

impl SquareStep {
    /// `v = A s - b`, the Chebyshev variable.
    fn offset(&self) -> f64 {
        self.a as f64 * 0.5 * (self.lo + self.hi)
    }

    /// Plaintext `2^-e κ h(s)`.
    pub fn inverse_plain(&self, s: f64) -> f64 {
        self.poly.eval(self.a as f64 * s - self.offset())
    }

    /// Levels consumed by the step: square, inverse, product.
    pub fn levels(&self) -> u32 {
        2 + self.depth
    }
}

/// A normalize-and-square softmax fitted to a class count: the exponential and every step.
#[derive(Clone, Debug, PartialEq)]
pub struct NormalizeSquarePlan {
    /// The parameters it was built from.
    pub params: NormalizeSquareParams,
    /// The class count `c`.
    pub classes: usize,
    /// `κ_0`, folded into the exponential.
    pub kappa0: f64,
    /// The exponential in `u = x / B` (Chebyshev on `[-1, 1]`, already times `κ_0`).
    pub exp: Polynomial,
    /// The `k` steps.
    pub steps: Vec<SquareStep>,
}

impl NormalizeSquareParams {
    /// The full input range `[-128, 128]` of ASoftmax: `k = 7` (window `[-2, 0]`), exponential
    /// of degree 15.
    pub fn full_range() -> Self {
        Self::for_bound(128.0)
    }

    /// Parameters for a proven logit bound `B`: the least `k` with `2B/2^k ≤ 2`, exponential
    /// degree 15, intermediate inverses up to 70 % relative error (the plan picks the target
    /// among 20, 30, 45, 60 and 70 % that gives the least depth), the last to `2^-11`.
    pub fn for_bound(bound: f64) -> Self {
        let mut k = 0u32;
        // A window of width 2 keeps the first inverse at depth 5 (its row-sum window spans a
        // factor of about e^4 instead of e^8 at width 4, which needs depth 8): then every step
        // fits between two bootstraps of a chain with 9 levels per bootstrap (hetal-ckks's
        // `boot-n16`) whatever level the exponentials arrive at, for 2 more levels in all.
        while 2.0 * bound / f64::from(1u32 << k) > 2.0 && k < 16 {
            k += 1;
        }
        NormalizeSquareParams {
            bound,
            squarings: k.max(1),
            exp_degree: 15,
            crude: 0.7,
            last: (-11f64).exp2(),
        }
    }

    /// The width `w = 2B/2^k` of the exponential's window `[-w, 0]`.
    pub fn window(&self) -> f64 {
        2.0 * self.bound / f64::from(1u32 << self.squarings)
    }

    fn check(&self) -> Result<()> {
        let ok = self.bound.is_finite()
            && self.bound > 0.0
            && self.bound <= 4096.0
            && (1..=16).contains(&self.squarings)
            && (1..=63).contains(&self.exp_degree)
            && self.crude > 0.0
            && self.crude < 0.9
            && self.last > 0.0
            && self.last <= self.crude;
        if !ok {
            return Err(Error::param(format!(
                "normalize-square parameters out of range: {self:?}"
            )));
        }
        if self.window() > 16.0 {
            return Err(Error::param(format!(
                "normalize-square: the exp window [-{}, 0] is too wide (more squarings needed)",
                self.window()
            )));
        }
        Ok(())
    }

    /// The plan for `classes ≥ 2` classes: of the intermediate targets 20, 30, 45, 60, 70 %
    /// not above [`NormalizeSquareParams::crude`] (and `crude` itself), the one with the least
    /// depth, then the least last-inverse error.
    ///
    /// Errors: invalid parameters, `classes < 2`, or windows that no inverse of depth at most
    /// 10 brings within the error targets.
    pub fn plan(&self, classes: usize) -> Result<NormalizeSquarePlan> {
        self.check()?;
        let mut best: Option<NormalizeSquarePlan> = None;
        let mut last_err = None;
        for crude in [0.2, 0.3, 0.45, 0.6, 0.7, self.crude] {
            if crude > self.crude {
                continue;
            }
            let p = NormalizeSquareParams {
                crude,
                ..self.clone()
            };
            match p.plan_with(classes) {
                Ok(mut plan) => {
                    let better = best.as_ref().is_none_or(|b| {
                        (plan.depth(), plan.last_error()) < (b.depth(), b.last_error())
                    });
                    if better {
                        plan.params = self.clone();
                        best = Some(plan);
                    }
                }
                Err(e) => last_err = Some(e),
            }
        }
        best.ok_or_else(|| last_err.unwrap_or_else(|| Error::param("no plan")))
    }

    /// The plan with intermediate inverses chosen for exactly [`NormalizeSquareParams::crude`].
    ///
    /// Errors: as [`NormalizeSquareParams::plan`].
    pub fn plan_with(&self, classes: usize) -> Result<NormalizeSquarePlan> {
        self.check()?;
        if classes < 2 {
            return Err(Error::param("softmax needs at least 2 classes"));
        }
        let c = classes as f64;
        let (b, k) = (self.bound, self.squarings);
        let unit = f64::from(1u32 << k);
        let raw =
            Polynomial::interpolate(|u| (b * (u - 1.0) / unit).exp(), -1.0, 1.0, self.exp_degree)?;
        let (mut e_lo, mut e_hi) = (f64::INFINITY, 0.0f64);
        for i in 0..=8192 {
            let v = raw.eval(-1.0 + 2.0 * f64::from(i) / 8192.0);
            e_lo = e_lo.min(v);
            e_hi = e_hi.max(v);
        }
        if e_lo <= 0.0 {
            return Err(Error::param("normalize-square: exp fit not positive"));
        }
        // Interpolant error between grid points is far below this margin.
        let (e_lo, e_hi) = (e_lo * (1.0 - 1e-9), e_hi * (1.0 + 1e-9));
        let a_int = 2i64;
        let width = 2.0 / a_int as f64;
        // Window of the first sum before scaling: [l0, h0]; κ0² (2 h0 - l0) = width.
        let (mut l0, mut h0) = (e_lo * e_lo, c * e_hi * e_hi);
        let kappa0 = (width / (2.0 * h0 - l0)).sqrt();
        let exp = raw.affine_output(kappa0, 0.0)?;
        let mut kappa_prev = kappa0;
        let mut steps = Vec::with_capacity(k as usize);
        for t in 1..=k {
            let last = t == k;
            let lo = kappa_prev * kappa_prev * l0;
            let window_hi = kappa_prev * kappa_prev * h0;
            let hi = 2.0 * window_hi;
            let target = if last { self.last } else { self.crude };
            let z0 = (hi + lo) / (hi - lo);
            let depth = (1..=10u32)
                .find(|&d| 1.0 / cheb_t(1 << d, z0) <= target)
                .ok_or_else(|| {
                    Error::param(format!(
                        "normalize-square step {t}: no inverse of depth ≤ 10 on [{lo:e}, {hi:e}] reaches {target:e}"
                    ))
                })?;
            let m = 1u32 << depth;
            let tz0 = cheb_t(m, z0);
            let rel_error = (1.0 / tz0) * (1.0 + 1e-9) + 1e-15;
            let kappa = if last {
                1.0
            } else {
                let (nl, nh) = ((1.0 - rel_error).powi(2) / c, (1.0 + rel_error).powi(2));
                (width / (2.0 * nh - nl)).sqrt()
            };
            // h(s) = (1 - T_m(ℓ(s))/T_m(ℓ(0))) / s in the variable v = A s - b ∈ [-1, 1]:
            // s = (v + b)/A, ℓ(s) = -v.
            let off = a_int as f64 * 0.5 * (lo + hi);
            let h = |v: f64| {
                let s = (v + off) / a_int as f64;
                let tm = (f64::from(m) * (-v).clamp(-1.0, 1.0).acos()).cos();
                (1.0 - tm / tz0) / s
            };
            let hpoly = Polynomial::interpolate(h, -1.0, 1.0, (m - 1) as usize)?;
            // Largest |κ h| on the values s ∈ [0, hi] the slots can hold.
            let mut qmax = 0.0f64;
            for i in 0..=4096 {
                let s = hi * f64::from(i) / 4096.0;
                qmax = qmax.max((kappa * hpoly.eval(a_int as f64 * s - off)).abs());
            }
            let shift = (qmax * 1.01).log2().ceil().max(0.0) as u32;
            if shift > 40 {
                return Err(Error::param("normalize-square: inverse out of range"));
            }
            let poly = hpoly.affine_output(kappa * (-f64::from(shift)).exp2(), 0.0)?;
            steps.push(SquareStep {
                lo,
                window_hi,
                hi,
                a: a_int,
                depth,
                rel_error,
                kappa,
                shift,
                poly,
            });
            l0 = (1.0 - rel_error).powi(2) / c;
            h0 = (1.0 + rel_error).powi(2);
            kappa_prev = kappa;
        }
        Ok(NormalizeSquarePlan {
            params: self.clone(),
            classes,
            kappa0,
            exp,
            steps,
        })
    }
}

impl NormalizeSquarePlan {
    /// Levels consumed without bootstrapping: `1 + depth(exp) + Σ (2 + D_t)`.
    pub fn depth(&self) -> u32 {
        1 + self.exp.depth() + self.steps.iter().map(SquareStep::levels).sum::<u32>()
    }

    /// The relative error bound of the last inverse (the output's normalisation error).
    pub fn last_error(&self) -> f64 {
        self.steps.last().map(|s| s.rel_error).unwrap_or(0.0)
    }

    /// Plaintext reference: the same computation in `f64` on one row of `c` scores. A row of
    /// the wrong length or with a score outside `[-B, B]` gives NaNs (the bound is checked here;
    /// under encryption it is the caller's precondition).
    pub fn eval_plain(&self, row: &[f64]) -> Vec<f64> {
        let b = self.params.bound;
        if row.len() != self.classes || row.iter().any(|x| x.is_nan() || x.abs() > b) {
            return vec![f64::NAN; row.len()];
        }
        let mut y: Vec<f64> = row.iter().map(|x| self.exp.eval(x / b)).collect();
        for st in &self.steps {
            let sq: Vec<f64> = y.iter().map(|v| v * v).collect();
            let s: f64 = sq.iter().sum();
            let q = st.inverse_plain(s);
            let f = f64::from(1u32 << st.shift);
            y = sq.iter().map(|v| f * (v * q)).collect();
        }
        y
    }

    /// The bootstrapping plan of the squaring steps for an evaluator whose bootstrap returns
    /// ciphertexts at level `out` and accepts them down to `floor`, when the first `y` (the
    /// masked exponentials) is at level `start`: for each step, where to refresh.
    ///
    /// Noise injected before step `t`'s squaring is doubled by each later squaring (`2^(k-t+1)`
    /// in the output), noise on the square `2^(k-t)`; noise on the inverse is common to the row
    /// and cancels (except in the last step, where it is the normalisation's). The plan
    /// minimises the number of bootstraps (a pair counted as one, [`Evaluator::bootstrap_pair`]),
    /// then that weighted noise, then keeps the most levels at the end; it depends on levels
    /// only, so a dry run on a mirrored chain predicts it.
    ///
    /// Errors: a step that does not fit between `floor` and `out` even after a bootstrap.
    pub fn bootstrap_plan(&self, start: u32, out: u32, floor: u32) -> Result<Vec<Refresh>> {
        let k = self.steps.len();
        // best[l] = (bootstraps, noise, choices) for y at level l before the step.
        type Cell = Option<(u32, f64, Vec<Refresh>)>;
        let n = out.max(start) as usize + 1;
        let mut best: Vec<Cell> = vec![None; n];
        best[start as usize] = Some((0, 0.0, Vec::new()));
        for (t, st) in self.steps.iter().enumerate() {
            let d = st.depth;
            let amp = f64::from(1u32 << (k - t).min(30));
            let mut next: Vec<Cell> = vec![None; n];
            for (l, cell) in best.iter().enumerate() {
                let Some((b, w, ch)) = cell else { continue };
                let l = l as u32;
                let mut opts: Vec<(Refresh, u32, f64, u32)> = Vec::new();
                if l >= floor + 2 + d {
                    opts.push((Refresh::None, 0, 0.0, l - 2 - d));
                }
                if out >= floor + 2 + d {
                    opts.push((Refresh::Input, 1, amp, out - 2 - d));
                }
                if l > floor && out >= floor + 1 + d {
                    opts.push((Refresh::Square, 1, amp / 2.0, out - 1 - d));
                }
                if l >= floor + 1 + d && out > floor {
                    let wq = if t + 1 == k { 1.0 } else { 0.0 };
                    if l >= floor + 2 {
                        // Only the inverse: the square keeps its levels.
                        opts.push((Refresh::Inverse, 1, wq, (l - 1).min(out) - 1));
                    }
                    opts.push((Refresh::Pair, 1, amp / 2.0 + wq, out - 1));
                }
                for (r, db, dw, lo) in opts {
                    if lo < floor {
                        continue;
                    }
                    let cand = (b + db, w + dw);
                    let slot = &mut next[lo as usize];
                    let better = match slot {
                        None => true,
                        Some((b2, w2, _)) => cand.0 < *b2 || (cand.0 == *b2 && cand.1 < *w2),
                    };
                    if better {
                        let mut c2 = ch.clone();
                        c2.push(r);
                        *slot = Some((cand.0, cand.1, c2));
                    }
                }
            }
            best = next;
        }
        best.into_iter()
            .enumerate()
            .filter_map(|(l, c)| c.map(|(b, w, ch)| (b, w, l, ch)))
            .min_by(|a, b| {
                a.0.cmp(&b.0)
                    .then(a.1.total_cmp(&b.1))
                    .then(b.2.cmp(&a.2))
            })
            .map(|(_, _, _, ch)| ch)
            .ok_or_else(|| Error::param(format!(
                "normalize-square: the steps do not fit between bootstrap levels {floor} and {out}"
            )))
    }

    /// Homomorphic evaluation on a packed block: the softmax of every row in the first `c`
    /// columns, zeros elsewhere.
    ///
    /// Bootstrapping (when the evaluator offers it): the exponential stage refreshes its input
    /// only if it lacks the levels; the squaring steps follow [`NormalizeSquarePlan::bootstrap_plan`].
    /// Without bootstrapping the input must have [`NormalizeSquarePlan::depth`] levels
    /// ([`Error::DepthExhausted`] otherwise).
    ///
    /// Ops: 1 + `k` Mult-equivalents per step besides the polynomials; rotations
    /// `2 log2(c')` per step (row sum at column 0, replication over `c` columns).
    pub fn eval<E: Evaluator>(
        &self,
        ev: &E,
        x: &E::Ciphertext,
        layout: &super::layout::RowLayout,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        let c = self.classes;
        if layout.classes() != c {
            return Err(Error::param(
                "normalize-square plan and layout class counts differ",
            ));
        }
        rf.check_total(x, self.depth())?;
        let b = self.params.bound;
        let cp = layout.padded();
        let mask_c = layout.column_vector(0, c, 1.0);
        let w0 = layout.column_vector(0, 1, 1.0);
        // 1. u = mask ⊙ x / B, y0 = mask ⊙ κ0 E(u).
        let scale = Polynomial::power(vec![0.0, 1.0 / b])?;
        let u = rf.poly(ev, &scale, x, Some(&mask_c), b, 1.0)?;
        let mut y = rf.poly(ev, &self.exp, &u, Some(&mask_c), 1.0, 1.0)?;
        let plan = match rf.info() {
            Some(info) => {
                let (start, out, floor) = (y.level().0, info.output_level.0, rf.floor(1.0));
                self.bootstrap_plan(start, out, floor)?
            }
            None => vec![Refresh::None; self.steps.len()],
        };
        // 2. The squaring steps.
        for (st, r) in self.steps.iter().zip(plan) {
            if r == Refresh::Input {
                y = rf.bootstrap(ev, &y, 1.0)?;
            }
            let mut sq = ev.square_rescale(&y)?;
            if r == Refresh::Square {
                sq = rf.bootstrap(ev, &sq, 1.0)?;
            }
            let s = ev.inner_sum(&sq, 1, cp)?;
            let v = ev.mul_integer(&s, st.a)?;
            let v = ev.add_const(&v, Complex64::new(-st.offset(), 0.0))?;
            let q = evaluate_weighted(ev, &st.poly, &v, Some(&w0))?;
            let mut q = ev.inner_sum(&q, -1, c)?;
            match r {
                Refresh::Inverse => q = rf.bootstrap(ev, &q, 1.0)?,
                Refresh::Pair => {
                    let sql = ev.drop_to_level(&sq, q.level())?;
                    let (a, bq) = rf.bootstrap_pair(ev, &sql, &q, 1.0)?;
                    sq = a;
                    q = bq;
                }
                Refresh::None | Refresh::Input | Refresh::Square => {}
            }
            let (sq, q) = align(ev, &sq, &q)?;
            let p = ev.mul_rescale(&sq, &q)?;
            y = if st.shift > 0 {
                ev.mul_integer(&p, 1i64 << st.shift)?
            } else {
                p
            };
        }
        Ok(y)
    }
}

type PlanKey = (u64, u32, usize, u64, u64, usize);

/// The plan of `params` for `classes`, built once per process and parameter set.
///
/// Errors: as [`NormalizeSquareParams::plan`].
pub fn cached_plan(
    params: &NormalizeSquareParams,
    classes: usize,
) -> Result<Arc<NormalizeSquarePlan>> {
    static CACHE: OnceLock<Mutex<HashMap<PlanKey, Arc<NormalizeSquarePlan>>>> = OnceLock::new();
    let key = (
        params.bound.to_bits(),
        params.squarings,
        params.exp_degree,
        params.crude.to_bits(),
        params.last.to_bits(),
        classes,
    );
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(p) = cache.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(p);
    }
    let plan = Arc::new(params.plan(classes)?);
    if let Ok(mut m) = cache.lock() {
        if m.len() > 256 {
            m.clear();
        }
        m.insert(key, plan.clone());
    }
    Ok(plan)
}

/// Where a squaring step refreshes ([`NormalizeSquarePlan::bootstrap_plan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresh {
    /// No bootstrap.
    None,
    /// Bootstrap `y` before squaring it.
    Input,
    /// Bootstrap the square (the row sum and the inverse are then computed from fresh levels).
    Square,
    /// Bootstrap the replicated inverse only, before the product.
    Inverse,
    /// Bootstrap the square and the inverse together, before the product
    /// ([`Evaluator::bootstrap_pair`]).
    Pair,
}
