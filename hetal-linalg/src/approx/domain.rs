//! Domain extension (Cheon–Kim–Park, Eurocrypt 2022) as used by HETAL's ASoftmax.
//!
//! For `i = n-1, ..., 0`: `x ← x - (4/27) x³ / (r² L^(2i))`. Each step maps
//! `[-L r L^i, L r L^i]` into `[-r L^i, r L^i]` (for `L ≤ 2.59`) while keeping small values
//! nearly unchanged, so the composite maps `[-r L^n, r L^n]` into `[-r, r]`. The "precise"
//! variant then applies `x ← x + (C/r²) x³ - (C/r⁴) x⁵` with
//! `C = (4/27)(L^(2n) - 1)/(L^(2n-2)(L² - 1))`, which cancels the leading cubic distortion
//! of the composite near 0.
//!
//! Homomorphically every value is kept in units where it lies in `[-1, 1]`: the input holds
//! `x / (r L^n)`, step `i` maps units of `r L^(i+1)` to units of `r L^i` with the polynomial
//! `L v - (4/27) L³ v³`, and the output holds `DEP(x) / r` (the precise step is `v + C v³ - C v⁵`
//! in units of `r`).
//!
//! * Depth: `2n`, plus 3 for the precise step.
//! * Ops: per step 2 Mult and 2 constant multiplications; the precise step 3 Mult, 3 constant
//!   multiplications.
//! * Error: this is a deliberate distortion, not an approximation of the identity: for
//!   `|x| ≤ r` the composite moves `x` by at most about `(4/27)(L^(2n)-1)/(L^(2n-2)(L²-1)) |x|³/r²`
//!   (`≈ 0.2 |x|³ / r²`); the precise step reduces this to `O(|x|⁵/r⁴)`. Its effect on ASoftmax is
//!   measured by the error harness.

use super::Refresher;
use crate::poly::Polynomial;
use crate::{Error, Result};
use hetal_traits::Evaluator;

/// Domain-extension parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DomainExtension {
    /// The base radius `r` (HETAL: 8).
    pub r: f64,
    /// The ratio `L` (HETAL: 2).
    pub l: f64,
    /// The number of steps `n` (HETAL: 5).
    pub n: u32,
    /// Whether to apply the precise correction.
    pub precise: bool,
}

impl DomainExtension {
    /// HETAL's: `r = 8`, `L = 2`, `n = 5`.
    pub fn hetal(precise: bool) -> Self {
        DomainExtension {
            r: 8.0,
            l: 2.0,
            n: 5,
            precise,
        }
    }

    /// The tuned ASoftmax's ([`crate::approx::softmax::AsoftmaxParams::tuned`]): `r = 128`,
    /// `L = 2`, `n = 1`. The same coverage `r L^n = 256` as HETAL's in one step instead of five;
    /// the exponential's squarings absorb the larger `r`. The cubic distortion near 0,
    /// `≈ C x³ / r²`, is `(128/8)² ≈ 256` times smaller than HETAL's (`C = 4/27` for `n = 1`), and
    /// far inputs land near `-r` instead of `-0.8·8`, where `e^x` is negligible.
    pub fn tuned(precise: bool) -> Self {
        DomainExtension {
            r: 128.0,
            l: 2.0,
            n: 1,
            precise,
        }
    }

    /// The input radius `r L^n`: inputs in `[-r L^n, r L^n]` map into `[-r, r]`.
    pub fn input_radius(&self) -> f64 {
        self.r * self.l.powi(self.n as i32)
    }

    /// `C = (4/27)(L^(2n) - 1)/(L^(2n-2)(L² - 1))`.
    pub fn precise_c(&self) -> f64 {
        let l2n = self.l.powi(2 * self.n as i32);
        (4.0 / 27.0) * (l2n - 1.0) / (self.l.powi(2 * self.n as i32 - 2) * (self.l * self.l - 1.0))
    }

    fn check(&self) -> Result<()> {
        if !(self.r > 0.0 && self.l > 1.0 && self.l <= 2.59 && self.r.is_finite()) || self.n > 30 {
            return Err(Error::param(
                "domain extension needs r > 0, 1 < L ≤ 2.59 and n ≤ 30",
            ));
        }
        if self.precise && self.n == 0 {
            return Err(Error::param("the precise domain extension needs n ≥ 1"));
        }
        Ok(())
    }

    /// Levels consumed.
    pub fn depth(&self) -> u32 {
        2 * self.n + if self.precise { 3 } else { 0 }
    }

    /// The stage polynomials in unit-free form, in order.
    pub fn stages(&self) -> Result<Vec<Polynomial>> {
        self.check()?;
        let l = self.l;
        let step = Polynomial::power(vec![0.0, l, 0.0, -(4.0 / 27.0) * l * l * l])?;
        let mut v = vec![step; self.n as usize];
        if self.precise {
            let c = self.precise_c();
            v.push(Polynomial::power(vec![0.0, 1.0, 0.0, c, 0.0, -c])?);
        }
        Ok(v)
    }

    /// Plaintext reference in the original units (the authors' formula).
    pub fn eval_plain(&self, x: f64) -> f64 {
        let mut x = x;
        let r2 = self.r * self.r;
        for i in (0..self.n).rev() {
            x -= (4.0 / 27.0) * x * x * x / (r2 * self.l.powi(2 * i as i32));
        }
        if self.precise {
            let c = self.precise_c();
            x = x + (c / r2) * x.powi(3) - (c / (r2 * r2)) * x.powi(5);
        }
        x
    }

    /// Homomorphic: the input holds `x / (r L^n)` in `[-1, 1]`, the output `DEP(x) / r`.
    /// With `n = 0` and no precise step this is the identity (no level).
    pub fn eval<E: Evaluator>(
        &self,
        ev: &E,
        x: &E::Ciphertext,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        let mut v = x.clone();
        for p in self.stages()? {
            v = rf.poly(ev, &p, &v, None, 1.0, 1.0)?;
        }
        Ok(v)
    }
}
