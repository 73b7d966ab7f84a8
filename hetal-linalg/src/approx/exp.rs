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
        for _ in 0..self.squarings {
            let nb = b * b;
            y = rf.square(ev, &y, b, nb)?;
            b = nb;
        }
        Ok(y)
    }
}
