//! Sigmoid approximations: HE.CNNtraining's cubic and Chebyshev interpolants from the engine.

use super::Refresher;
use crate::poly::Polynomial;
use crate::{Error, Result};
use hetal_traits::Evaluator;

/// The logistic function `1 / (1 + e^(-x))`, computed without overflow.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// A polynomial stand-in for the sigmoid on a documented range.
#[derive(Clone, Debug, PartialEq)]
pub struct SigmoidApprox {
    poly: Polynomial,
    range: f64,
    max_error: f64,
}

impl SigmoidApprox {
    /// HE.CNNtraining's (John Chiang) `0.5 + 0.10679534503216294 x - 0.00038503259805075 x³`.
    ///
    /// Range `[-8, 8]`, where it stays within `0.18` of the sigmoid (largest error about `0.1703`,
    /// already reached inside `[-4, 4]`: its slope at 0 is 0.107 against the sigmoid's 0.25).
    /// Depth 2; 2 Mult, 2 constant multiplications.
    pub fn hecnn() -> Self {
        SigmoidApprox {
            poly: Polynomial::power(vec![0.5, 0.10679534503216294, 0.0, -0.00038503259805075])
                .expect("finite"),
            range: 8.0,
            max_error: 0.18,
        }
    }

    /// PrivGD's (Jin et al.) cubic `0.5 + 0.15012 x - 0.00156 x³`, the least-squares fit on
    /// `[-8, 8]`: within `0.1` of the sigmoid there (largest error about `0.0982`). Depth 2.
    pub fn privgd() -> Self {
        SigmoidApprox {
            poly: Polynomial::power(vec![0.5, 0.15012, 0.0, -0.00156]).expect("finite"),
            range: 8.0,
            max_error: 0.1,
        }
    }

    /// The Chebyshev interpolant of `degree` (odd, ≥ 1) on `[-range, range]` (even coefficients,
    /// rounding noise, are dropped). The documented error is the measured maximum on a fine
    /// grid, times 1.5 (covers the points between grid nodes). Depth `⌈log2(degree + 1)⌉ + 1`.
    pub fn chebyshev(range: f64, degree: usize) -> Result<Self> {
        if !(range > 0.0 && range.is_finite()) || degree.is_multiple_of(2) {
            return Err(Error::param(
                "Chebyshev sigmoid needs a positive range and an odd degree",
            ));
        }
        let p = Polynomial::interpolate(|x| sigmoid(x) - 0.5, -range, range, degree)?.prune(1e-15);
        let mut c = p.coeffs().to_vec();
        c[0] = 0.5;
        let poly = Polynomial::chebyshev(c, -range, range)?;
        let err = poly.max_error_on(sigmoid, -range, range, 20_001);
        Ok(SigmoidApprox {
            poly,
            range,
            max_error: 1.5 * err + 1e-12,
        })
    }

    /// The polynomial.
    pub fn poly(&self) -> &Polynomial {
        &self.poly
    }

    /// Inputs are documented for `[-range, range]`.
    pub fn range(&self) -> f64 {
        self.range
    }

    /// The documented bound on `|approx - sigmoid|` on the range.
    pub fn max_error(&self) -> f64 {
        self.max_error
    }

    /// Levels consumed.
    pub fn depth(&self) -> u32 {
        self.poly.depth()
    }

    /// Plaintext reference.
    pub fn eval_plain(&self, x: f64) -> f64 {
        self.poly.eval(x)
    }

    /// Homomorphic evaluation; `in_bound` bounds the input values (for bootstrapping decisions).
    pub fn eval<E: Evaluator>(
        &self,
        ev: &E,
        x: &E::Ciphertext,
        in_bound: f64,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        rf.check_total(x, self.depth())?;
        rf.poly(ev, &self.poly, x, None, in_bound, 1.0 + self.max_error)
    }
}
