//! Goldschmidt's division: `1/z` by the iteration `y ← y (1 + t)`, `t ← t²`.

use super::Refresher;
use crate::poly::Polynomial;
use crate::{Error, Result};
use hetal_traits::{Complex64, Evaluator};

/// `out / z` for `z ∈ (0, 2R)`: `t_0 = 1 - z/R`, `y_0 = (out/R)(2 - z/R)`, then `n` times
/// `t ← t²`, `y ← y (1 + t)`, so that `y_n = out (1 - t_0^(2^(n+1))) / z`.
///
/// * Error (exact arithmetic): relative `|1 - z/R|^(2^(n+1))`. HETAL's `R = 100, n = 16` gives
///   below `1e-8` relative for `z ∈ [1, 199]` (at `z = 1`: `0.99^(2^17) ≈ e^(-1317)`).
/// * Depth: `n + 2` (the scaling by `out/R` is folded into `y_0`).
/// * Ops: `2n` Mult, 2 constant (or plaintext) multiplications.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GoldschmidtInverse {
    /// The normaliser `R`: the iteration converges for `z ∈ (0, 2R)`.
    pub r: f64,
    /// The number of iterations `n`.
    pub iterations: u32,
}

impl GoldschmidtInverse {
    /// HETAL's ASoftmax inverse: `R = 100`, 16 iterations.
    pub fn hetal() -> Self {
        GoldschmidtInverse {
            r: 100.0,
            iterations: 16,
        }
    }

    /// The Goldschmidt inverse for `z ∈ [z_lo, z_hi]` (`0 < z_lo ≤ z_hi`) with the fewest
    /// iterations that reach a relative error of `2^-bits`: `R = (z_lo + z_hi)/2` minimises
    /// `ρ = max |1 - z/R| = (z_hi - z_lo)/(z_hi + z_lo)`, and `n` is the least with
    /// `ρ^(2^(n+1)) ≤ 2^-bits`.
    ///
    /// Errors: an invalid range, or more than 64 iterations needed.
    pub fn for_range(z_lo: f64, z_hi: f64, bits: u32) -> Result<Self> {
        if !(z_lo > 0.0 && z_lo <= z_hi && z_hi.is_finite()) || bits == 0 || bits > 1000 {
            return Err(Error::param(format!(
                "Goldschmidt range [{z_lo}, {z_hi}] or target 2^-{bits} is invalid"
            )));
        }
        let r = 0.5 * (z_lo + z_hi);
        let rho = (z_hi - z_lo) / (z_hi + z_lo);
        let mut iterations = 0u32;
        // ρ^(2^(n+1)) ≤ 2^-bits  ⇔  2^(n+1) · log2(1/ρ) ≥ bits.
        let per = if rho > 0.0 {
            -rho.log2()
        } else {
            f64::INFINITY
        };
        while 2f64.powi(iterations as i32 + 1) * per < f64::from(bits) {
            iterations += 1;
            if iterations > 64 {
                return Err(Error::param(format!(
                    "Goldschmidt on [{z_lo}, {z_hi}] needs more than 64 iterations"
                )));
            }
        }
        Ok(GoldschmidtInverse { r, iterations })
    }

    /// Levels consumed.
    pub fn depth(&self) -> u32 {
        self.iterations + 2
    }

    fn check(&self) -> Result<()> {
        if !(self.r.is_finite() && self.r > 0.0) || self.iterations > 64 {
            return Err(Error::param(
                "Goldschmidt inverse needs R > 0 and at most 64 iterations",
            ));
        }
        Ok(())
    }

    /// Plaintext reference: `out / z` by the same iteration.
    pub fn eval_plain(&self, z: f64, out: f64) -> f64 {
        let mut t = 1.0 - z / self.r;
        let mut y = (out / self.r) * (2.0 - z / self.r);
        for _ in 0..self.iterations {
            t *= t;
            y *= 1.0 + t;
        }
        y
    }

    /// Homomorphic `w ⊙ out / z` for a ciphertext holding `z ∈ [z_lo, z_hi]`, `0 < z_lo`,
    /// `z_hi < 2R` (slots whose weight is zero may hold any `z ∈ [0, 2R)`). `w` are optional
    /// plaintext weights folded into `y_0` at no extra level.
    pub fn eval<E: Evaluator>(
        &self,
        ev: &E,
        z: &E::Ciphertext,
        out: f64,
        z_range: (f64, f64),
        weights: Option<&[f64]>,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        self.check()?;
        let (z_lo, z_hi) = z_range;
        if !(z_lo > 0.0 && z_lo <= z_hi && z_hi < 2.0 * self.r) {
            return Err(Error::param(format!(
                "Goldschmidt inverse: z range [{z_lo}, {z_hi}] is not inside (0, 2R) with R = {}",
                self.r
            )));
        }
        let r = self.r;
        // t ∈ [-1, 1]; every iterate y_k = out (1 - t_0^(2^(k+1))) / z lies between 0 and out / z.
        let t_bound = 1.0;
        let wmax = weights
            .map(|w| w.iter().fold(0.0f64, |m, v| m.max(v.abs())))
            .unwrap_or(1.0);
        let y_bound = wmax * out.abs() / z_lo;
        let tp = Polynomial::power(vec![1.0, -1.0 / r])?;
        let yp = Polynomial::power(vec![2.0 * out / r, -out / (r * r)])?;
        let mut t = rf.poly(ev, &tp, z, None, z_hi, t_bound)?;
        let mut y = rf.poly(ev, &yp, z, weights, z_hi, y_bound)?;
        for _ in 0..self.iterations {
            t = rf.square(ev, &t, t_bound, t_bound)?;
            // 1 + t (bound 2) must be multipliable without a scale-down: refresh t first if needed.
            t = rf.ensure(ev, &t, 1, t_bound, 2.0f64.max(y_bound))?;
            let one_plus = ev.add_const(&t, Complex64::new(1.0, 0.0))?;
            y = rf.mul(ev, &y, &one_plus, y_bound, 2.0, y_bound)?;
        }
        Ok(y)
    }
}
