//! `exp(x) ≈ p(x / 2^k)^(2^k)`: a polynomial near the Taylor series of `exp` on `[-1, 1]`,
//! then `k` squarings.

use super::Refresher;
use crate::poly::Polynomial;
use crate::{Error, Result};
use hetal_traits::Evaluator;

/// Degree-8 coefficients of HETAL's `approx_exp` (authors' `src/benchmark/softmax.py`), lowest first.
///
/// Note: the script's Horner loop starts from the top coefficient and then adds it again, so it
/// actually evaluates `p(y) + c_8 y^9`. We evaluate the degree-8 polynomial the coefficients
/// describe; the extra term is what makes the script's no-domain-extension ("original") row about
/// ten times less accurate than ours (e.g. `c = 3`, `[-4, 4]`: `3.7e-7 / 4.4e-8` against
/// `2.7e-8 / 1.0e-8`); with domain extension its effect (below `2e-7`) is invisible.
pub const HETAL_EXP_DEG8: [f64; 9] = [
    1.000000001945585,
    0.9999999388932228,
    0.499999859398392,
    0.16666798775227673,
    0.04166711228500117,
    0.008328336039797088,
    0.0013881473292497602,
    0.00020492629147503022,
    2.551385701569812e-05,
];

/// Degree-12 coefficients of the same script's `approx_exp(deg=12)` (used by the Lee et al. baseline).
pub const HETAL_EXP_DEG12: [f64; 13] = [
    1.0,
    1.0,
    5.0e-01,
    1.66666667e-01,
    4.16666667e-02,
    8.33333323e-03,
    1.38888888e-03,
    1.98413061e-04,
    2.48016226e-05,
    2.75510749e-06,
    2.75519884e-07,
    2.55652816e-08,
    2.12732465e-09,
];

/// Where [`ExpApprox::eval_planned`] may bootstrap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpPlan {
    /// Levels the result must keep (above the bootstrap floor) for later use.
    pub keep: u32,
    /// Bootstrap before this squaring if the rest would not fit (`None`: wherever levels run out).
    pub refresh_at: Option<u32>,
}

/// `exp(x) ≈ p(x / 2^k)^(2^k)`.
///
/// * Input: the ciphertext holds `v = x / unit` with `|v| ≤ 1`; the approximation is accurate
///   for `|x| ≤ 2^k` ([`ExpApprox::hetal`]: `x ∈ [-8, 8]`, relative error below `6e-7` there,
///   largest at `x = -8`; absolute error below `3e-8` on `[-8, 0]`).
/// * Depth: `⌈log2(deg p + 1)⌉ + k` (4 + 3 = 7 for [`ExpApprox::hetal`]).
/// * Ops ([`ExpApprox::hetal`]): 5 + 3 Mult, 8 constant (or plaintext) multiplications.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpApprox {
    poly: Polynomial,
    squarings: u32,
}

impl ExpApprox {
    /// A polynomial `p ≈ exp` on `[-1, 1]` (power basis) followed by `squarings` squarings.
    pub fn new(poly: Polynomial, squarings: u32) -> Result<Self> {
        if poly.basis() != crate::poly::Basis::Power || poly.degree() == 0 || squarings > 16 {
            return Err(Error::param(
                "exp needs a non-constant power-basis polynomial and at most 16 squarings",
            ));
        }
        Ok(ExpApprox { poly, squarings })
    }

    /// HETAL's: the degree-8 polynomial at `x/8`, then 3 squarings.
    pub fn hetal() -> Self {
        ExpApprox {
            poly: Polynomial::power(HETAL_EXP_DEG8.to_vec()).expect("finite"),
            squarings: 3,
        }
    }

    /// `exp(x) ≈ p(x / 2^k)^(2^k)` with `p` the degree-`degree` Chebyshev interpolant of `exp` on
    /// `[lo, hi]` (in the variable `y = x / 2^k`), expanded into the power basis.
    ///
    /// Softmax only sees the *variation* of the relative error of `p` (a constant factor cancels
    /// in the normalisation), and only where `e^x` is not negligible: fitting on a short window
    /// around 0 rather than on `[-1, 1]` makes that variation far smaller at the same degree.
    ///
    /// Errors: an invalid interval, a degree outside `1 ..= 16`, more than 16 squarings, or an
    /// expansion whose power-basis form differs from the interpolant by more than `1e-13` on
    /// `[-1, 1]` (ill-conditioned interval).
    pub fn fitted(degree: usize, squarings: u32, lo: f64, hi: f64) -> Result<Self> {
        if !(1..=16).contains(&degree) {
            return Err(Error::param("exp fit degree must be in 1..=16"));
        }
        let cheb = Polynomial::interpolate(f64::exp, lo, hi, degree)?;
        let poly = cheb.to_power()?;
        let (a, b) = (lo.min(-1.0), hi.max(1.0));
        let drift = (0..=400)
            .map(|i| {
                let y = a + (b - a) * f64::from(i) / 400.0;
                (cheb.eval(y) - poly.eval(y)).abs() / cheb.eval(y).abs().max(1e-300)
            })
            .fold(0.0, f64::max);
        if drift > 1e-13 {
            return Err(Error::param(format!(
                "exp fit on [{lo}, {hi}] loses {drift:e} in the power basis"
            )));
        }
        Self::new(poly, squarings)
    }

    /// The exponential of the tuned ASoftmax ([`crate::approx::softmax::AsoftmaxParams::tuned`]):
    /// degree 8 fitted on `y ∈ [-1/4, 1/8]`, at `y = x/128`, then 7 squarings.
    ///
    /// * Input range: `x ∈ [-128, 16]` (`y ∈ [-1, 1/8]`; `p` stays within `4e-6` relative of
    ///   `e^y` on `[-1, -1/4]`, where `e^x < e^{-32}` is negligible anyway).
    /// * Error (exact arithmetic, checked by the property tests): on `x ∈ [-32, 16]` the relative
    ///   error of `p(y)^128` varies by less than `1e-11` around its constant offset (which
    ///   softmax cancels); absolute error below `1e-12` on `[-128, -32]`.
    /// * Depth `4 + 7 = 11`; ops 5 + 7 Mult, 8 constant multiplications.
    pub fn tuned() -> Self {
        Self::fitted(8, 7, -0.25, 0.125).expect("well-conditioned fit")
    }

    /// Lee et al.'s (as in the authors' script): the degree-12 polynomial at `x/64`, then 6 squarings.
    pub fn lee_deg12() -> Self {
        ExpApprox {
            poly: Polynomial::power(HETAL_EXP_DEG12.to_vec()).expect("finite"),
            squarings: 6,
        }
    }

    /// The number of squarings `k`.
    pub fn squarings(&self) -> u32 {
        self.squarings
    }

    /// The inner polynomial (in the variable `x / 2^k`).
    pub fn poly(&self) -> &Polynomial {
        &self.poly
    }

    /// Levels consumed.
    pub fn depth(&self) -> u32 {
        self.poly.depth() + self.squarings
    }

    /// Plaintext reference: `p(x / 2^k)^(2^k)`.
    pub fn eval_plain(&self, x: f64) -> f64 {
        let mut r = self.poly.eval(x / f64::from(1u32 << self.squarings));
        for _ in 0..self.squarings {
            r *= r;
        }
        r
    }

    /// Where a bootstrap inside the squarings costs the least precision, for results scaled by
    /// `weight ≤ 1` (a value near `e^0 = 1` times `weight`): after `j` squarings the ciphertext
    /// holds about `weight^(2^j / 2^k)`, and a bootstrap error `η` there becomes a relative error
    /// of about `2^(k-j) η / weight^(2^j / 2^k)` in the result. Returns the minimising
    /// `j ∈ 0 ..= min(k, max_j)` (`j = 0`: right after the polynomial).
    pub fn refresh_point(&self, weight: f64, max_j: u32) -> u32 {
        let k = self.squarings;
        let cost = |j: u32| {
            let frac = f64::from(1u32 << j) / f64::from(1u32 << k);
            f64::from(k - j).exp2() * weight.max(1e-300).powf(-frac)
        };
        (0..=k.min(max_j))
            .min_by(|&a, &b| cost(a).total_cmp(&cost(b)))
            .unwrap_or(0)
    }

    /// Homomorphic `weight ⊙ exp(unit · v)` for a ciphertext holding `v` with `|v| ≤ in_bound`.
    ///
    /// `weights` (one per slot, all `≥ 0`, missing ones zero) multiply the result; they are
    /// folded into the polynomial as `weight^(1/2^k)`, so masking and scaling cost no level.
    /// `out_bound` bounds the result (for bootstrapping decisions).
    pub fn eval<E: Evaluator>(
        &self,
        ev: &E,
        x: &E::Ciphertext,
        unit: f64,
        weights: Option<&[f64]>,
        in_bound: f64,
        out_bound: f64,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        self.eval_planned(
            ev,
            x,
            unit,
            weights,
            in_bound,
            out_bound,
            ExpPlan::default(),
            rf,
        )
    }

    /// [`ExpApprox::eval`] with a bootstrapping plan: before squaring `plan.refresh_at` the
    /// ciphertext is bootstrapped if the remaining squarings plus `plan.keep` levels would not
    /// fit otherwise ([`ExpApprox::refresh_point`] says where that costs least), and the result
    /// keeps at least `plan.keep` levels above the bootstrap floor.
    #[allow(clippy::too_many_arguments)]
    pub fn eval_planned<E: Evaluator>(
        &self,
        ev: &E,
        x: &E::Ciphertext,
        unit: f64,
        weights: Option<&[f64]>,
        in_bound: f64,
        out_bound: f64,
        plan: ExpPlan,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        let root = 1.0 / f64::from(1u32 << self.squarings);
        let p = self.poly.scale_input(unit * root)?;
        let w: Option<Vec<f64>> = match weights {
            None => None,
            Some(w) => {
                if w.iter().any(|v| v.is_nan() || *v < 0.0) {
                    return Err(Error::param("exp weights must be non-negative"));
                }
                Some(w.iter().map(|v| v.powf(root)).collect())
            }
        };
        let mut b = out_bound.powf(root);
        let mut y = rf.poly(ev, &p, x, w.as_deref(), in_bound, b)?;
        for j in 0..self.squarings {
            if plan.refresh_at == Some(j) {
                // Bootstrap here (only) if the rest of the chain would not fit otherwise.
                y = rf.ensure(ev, &y, self.squarings - j + plan.keep, b, out_bound)?;
            }
            let nb = b * b;
            y = rf.square(ev, &y, b, nb)?;
            b = nb;
        }
        if plan.keep > 0 {
            y = rf.ensure_same(ev, &y, plan.keep, out_bound)?;
        }
        Ok(y)
    }
}
