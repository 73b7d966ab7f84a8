//! Cheon–Kim–Kim comparison (Asiacrypt 2020) with the odd degree-7 polynomials `f_3`, `g_3`,
//! and the pairwise maximum built on it.
//!
//! `s(d) = (f^(F)(g^(G)(d)) + 1) / 2 ≈ 1[d > 0]` for `d ∈ [-1, 1]`;
//! `max(a, b) ≈ b + (a - b) · s(a - b)` for `a, b ∈ [-1/2, 1/2]`.
//!
//! Error of the maximum in exact arithmetic (scanned on a grid of step `5e-6`, checked by the
//! property tests): for HETAL's `F = 1, G = 2` at most `5.2e-3` (the largest, `5.1e-3`, is at
//! `|a - b| ≈ 0.913`; about `2.9e-3` at `|a - b| = 0.01`); for `F = 3, G = 8` (the "original"
//! runner row) below `1e-7` (`s` is steep but continuous at 0: the worst case, about `8e-8`,
//! sits at `|a - b|` of order `1e-7`). In units of the scores (`× 2 R_max = 256`) HETAL's bound is 1.3.
//! The approximate maximum is always a convex combination of `a` and `b`: never above the true
//! maximum, never below the minimum.

use super::Refresher;
use crate::poly::{Polynomial, align};
use crate::{Error, Result};
use hetal_traits::Evaluator;

/// `f_3(x) = (35x - 35x³ + 21x⁵ - 5x⁷) / 16`.
pub fn f3() -> Polynomial {
    Polynomial::power(vec![
        0.0,
        35.0 / 16.0,
        0.0,
        -35.0 / 16.0,
        0.0,
        21.0 / 16.0,
        0.0,
        -5.0 / 16.0,
    ])
    .expect("finite")
}

/// `g_3(x) = (4589x - 16577x³ + 25614x⁵ - 12860x⁷) / 1024`.
pub fn g3() -> Polynomial {
    Polynomial::power(vec![
        0.0,
        4589.0 / 1024.0,
        0.0,
        -16577.0 / 1024.0,
        0.0,
        25614.0 / 1024.0,
        0.0,
        -12860.0 / 1024.0,
    ])
    .expect("finite")
}

/// The comparison `s(d) = (f^(F)(g^(G)(d)) + 1) / 2`.
///
/// * Input: `d ∈ [-1, 1]`; output in `[0, 1]`.
/// * Depth: `3 (F + G)` (the final `(· + 1)/2` is folded into the last `f`).
/// * Ops: `5 (F + G)` Mult, `4 (F + G)` constant multiplications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// Number of `f_3` applications `F` (≥ 1).
    pub f_iters: u32,
    /// Number of `g_3` applications `G`.
    pub g_iters: u32,
}

impl Comparison {
    /// HETAL's ASoftmax setting: `F = 1`, `G = 2`.
    pub fn hetal() -> Self {
        Comparison {
            f_iters: 1,
            g_iters: 2,
        }
    }

    /// The script's function defaults, used by its no-domain-extension row: `F = 3`, `G = 8`.
    pub fn heavy() -> Self {
        Comparison {
            f_iters: 3,
            g_iters: 8,
        }
    }

    /// A bound on the error of [`Comparison::max_plain`] for `a, b ∈ [-1/2, 1/2]` (in the units
    /// of `a, b`): the largest `|d| (1 - s(|d|))` over `|d| = a - b ∈ [0, 1]` (`s(-d) = 1 - s(d)`,
    /// `f`, `g` being odd), scanned on a grid of step `2^-17`, plus 2%. HETAL's `F = 1, G = 2`:
    /// `5.2e-3` (the scan's maximum, `5.10e-3`, is at `|d| ≈ 0.913`).
    /// The scan runs once per `(F, G)` and is cached.
    pub fn max_error_bound(&self) -> f64 {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        static CACHE: OnceLock<Mutex<HashMap<(u32, u32), f64>>> = OnceLock::new();
        let key = (self.f_iters, self.g_iters);
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(v) = cache.lock().ok().and_then(|m| m.get(&key).copied()) {
            return v;
        }
        let n = 1u32 << 17;
        let worst = (0..=n)
            .map(|i| {
                let d = f64::from(i) / f64::from(n);
                d * (1.0 - self.eval_plain(d))
            })
            .fold(0.0, f64::max);
        let bound = 1.02 * worst;
        if let Ok(mut m) = cache.lock() {
            m.insert(key, bound);
        }
        bound
    }

    /// Levels consumed by [`Comparison::eval`].
    pub fn depth(&self) -> u32 {
        3 * (self.f_iters + self.g_iters)
    }

    /// Levels consumed by [`Comparison::max`].
    pub fn max_depth(&self) -> u32 {
        self.depth() + 1
    }

    /// The polynomial stages in order (the last is `(f + 1)/2`).
    pub fn stages(&self) -> Result<Vec<Polynomial>> {
        if self.f_iters == 0 {
            return Err(Error::param(
                "the comparison needs at least one f iteration",
            ));
        }
        let mut v = vec![g3(); self.g_iters as usize];
        v.extend(std::iter::repeat_n(f3(), self.f_iters as usize - 1));
        v.push(f3().affine_output(0.5, 0.5)?);
        Ok(v)
    }

    /// Plaintext reference of `s(d)`.
    pub fn eval_plain(&self, d: f64) -> f64 {
        let (f, g) = (f3(), g3());
        let mut r = d;
        for _ in 0..self.g_iters {
            r = g.eval(r);
        }
        for _ in 0..self.f_iters {
            r = f.eval(r);
        }
        (r + 1.0) / 2.0
    }

    /// Plaintext reference of the approximate maximum.
    pub fn max_plain(&self, a: f64, b: f64) -> f64 {
        let s = self.eval_plain(a - b);
        a * s + b * (1.0 - s)
    }

    /// Homomorphic `s(d)` for `d ∈ [-1, 1]`.
    pub fn eval<E: Evaluator>(
        &self,
        ev: &E,
        d: &E::Ciphertext,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        let mut r = d.clone();
        for p in self.stages()? {
            r = rf.poly(ev, &p, &r, None, 1.0, 1.0)?;
        }
        Ok(r)
    }

    /// Homomorphic `max(a, b) ≈ b + (a - b) s(a - b)` for `a, b ∈ [-1/2, 1/2]`. If `mask` is
    /// given, the result is multiplied by it slot-wise at no extra depth (the masking of `a - b`
    /// and `b` runs beside the comparison).
    pub fn max<E: Evaluator>(
        &self,
        ev: &E,
        a: &E::Ciphertext,
        b: &E::Ciphertext,
        mask: Option<&[f64]>,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        // a - b has bound 1: refresh the operands first if 1 exceeds the bootstrap input bound
        // and they sit at the lowest level (no level to scale the difference down).
        let a = rf.ensure(ev, a, 0, 0.5, 1.0)?;
        let b = rf.ensure(ev, b, 0, 0.5, 1.0)?;
        let (a, b) = align(ev, &a, &b)?;
        let d = ev.sub(&a, &b)?;
        let s = self.eval(ev, &d, rf)?;
        let (d, b) = match mask {
            None => (d, b),
            Some(m) => (rf.mask(ev, &d, m, 1.0)?, rf.mask(ev, &b, m, 0.5)?),
        };
        let ds = rf.mul(ev, &d, &s, 1.0, 1.0, 1.0)?;
        let (b, ds) = align(ev, &b, &ds)?;
        Ok(ev.add(&b, &ds)?)
    }
}
