//! Polynomials in the power and Chebyshev bases, evaluated homomorphically at optimal depth.
//!
//! A [`Polynomial`] is a list of coefficients in one [`Basis`]: the power basis `1, x, x², ...`
//! or the Chebyshev basis `T_0(y), T_1(y), ...` of the variable `y = (2x - a - b)/(b - a)` that
//! maps an interval `[a, b]` onto `[-1, 1]`. [`Polynomial::interpolate`] builds the Chebyshev
//! interpolant of a function at the Chebyshev nodes of the first kind.
//!
//! # Homomorphic evaluation
//!
//! [`evaluate`] (and [`evaluate_weighted`], which multiplies the result slot-wise by a plaintext
//! vector at no extra depth) use a recursive baby-step giant-step split in the style of
//! Paterson–Stockmeyer:
//!
//! * `p = q + B_K · r` with `K` the largest power of two `≤ deg p` (`B_K = x^K` or `T_K`, using
//!   `T_{K+j} = 2 T_K T_j - T_{K-j}` for the Chebyshev division), `deg q, deg r < K`;
//! * a part of degree below the baby-step bound `2^⌈D/2⌉` becomes a *leaf*, a sum of constant
//!   multiples of the baby steps `B_1 .. B_{k-1}`, whenever the depth budget allows it (one
//!   rescale for the whole leaf);
//! * `r` gets one level less than `p`; basis elements are computed on demand at depth
//!   `⌈log2 i⌉` (`x^i = x^{2^j} · x^{i - 2^j}`, `T_i = 2 T_{2^j} T_{i-2^j} - T_{2^{j+1}-i}`).
//!
//! The result has depth exactly [`Polynomial::depth`] `= ⌈log2(deg + 1)⌉` (+1 for the affine
//! change of variable of a Chebyshev series on an interval other than `[-1, 1]`): it is dropped
//! to exactly `level(x) - depth` and carries the canonical scale of that level, provided the
//! input carries the canonical scale of its level. Every intermediate ciphertext is kept at the
//! canonical scale of its level (constants are multiplied with [`EvaluatorExt::mul_const_to_scale`],
//! products of canonical ciphertexts rescale to canonical), so additions always see matching
//! scales after the evaluator's automatic level alignment.
//!
//! Inputs should lie in `[-1, 1]` (power basis) or `[a, b]` (Chebyshev): the powers of larger
//! inputs grow and lose precision under CKKS. Compose a scaling into the coefficients instead
//! ([`Polynomial::scale_input`]).
//!
//! # Dry runs
//!
//! [`dry_run`] runs any computation on a [`Counting`]`<`[`MockEvaluator`]`>` that mirrors the
//! modulus chain and bootstrapping of a given evaluator, and reports the levels consumed and the
//! operation counts before a real ciphertext is touched.

use crate::{Error, Result};
use hetal_traits::counting::{Counting, OpCounts};
use hetal_traits::mock::{MockCiphertext, MockClient, MockEvaluator, MockParams};
use hetal_traits::{Complex64, Encryptor, Evaluator, EvaluatorExt, Level, Leveled, Scale};
use std::collections::BTreeMap;

/// The basis a polynomial's coefficients refer to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Basis {
    /// `1, x, x², ...`
    Power,
    /// `T_0(y), T_1(y), ...` with `y = (2x - a - b)/(b - a)` for the interval `[a, b]`.
    Chebyshev {
        /// Left end of the interval.
        a: f64,
        /// Right end of the interval.
        b: f64,
    },
}

/// A real polynomial given by its coefficients in a [`Basis`].
#[derive(Clone, Debug, PartialEq)]
pub struct Polynomial {
    basis: Basis,
    coeffs: Vec<f64>,
}

/// `⌈log2 n⌉` for `n ≥ 1` (0 for `n ≤ 1`).
pub fn ceil_log2(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

fn floor_pow2(n: usize) -> usize {
    1usize << (usize::BITS - 1 - n.leading_zeros())
}

/// Index of the last non-zero coefficient, or `None` if all are zero.
fn degree_of(c: &[f64]) -> Option<usize> {
    c.iter().rposition(|&v| v != 0.0)
}

impl Polynomial {
    /// `Σ coeffs[i] x^i`.
    ///
    /// Errors: no coefficient, or a non-finite one.
    pub fn power(coeffs: Vec<f64>) -> Result<Self> {
        Self::new(Basis::Power, coeffs)
    }

    /// `Σ coeffs[i] T_i((2x - a - b)/(b - a))`.
    ///
    /// Errors: `a ≥ b`, a non-finite end, no coefficient, or a non-finite coefficient.
    pub fn chebyshev(coeffs: Vec<f64>, a: f64, b: f64) -> Result<Self> {
        if !(a.is_finite() && b.is_finite() && a < b) {
            return Err(Error::param(format!(
                "Chebyshev interval [{a}, {b}] is not a finite interval with a < b"
            )));
        }
        Self::new(Basis::Chebyshev { a, b }, coeffs)
    }

    fn new(basis: Basis, coeffs: Vec<f64>) -> Result<Self> {
        if coeffs.is_empty() {
            return Err(Error::param("a polynomial needs at least one coefficient"));
        }
        if coeffs.iter().any(|c| !c.is_finite()) {
            return Err(Error::param("non-finite polynomial coefficient"));
        }
        Ok(Polynomial { basis, coeffs })
    }

    /// The Chebyshev interpolant of `f` of degree `degree` on `[a, b]`, through the `degree + 1`
    /// Chebyshev nodes of the first kind. Its error is within a factor `2 + (2/π) ln(degree + 1)`
    /// of the best uniform approximation of that degree.
    pub fn interpolate(f: impl Fn(f64) -> f64, a: f64, b: f64, degree: usize) -> Result<Self> {
        if !(a.is_finite() && b.is_finite() && a < b) {
            return Err(Error::param(format!(
                "interpolation interval [{a}, {b}] is invalid"
            )));
        }
        let n = degree + 1;
        let nodes: Vec<f64> = (0..n)
            .map(|j| (std::f64::consts::PI * (j as f64 + 0.5) / n as f64).cos())
            .collect();
        let values: Vec<f64> = nodes
            .iter()
            .map(|&y| f(0.5 * (b - a) * y + 0.5 * (a + b)))
            .collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::param(
                "function is not finite at an interpolation node",
            ));
        }
        let coeffs: Vec<f64> = (0..n)
            .map(|k| {
                let s: f64 = (0..n)
                    .map(|j| {
                        values[j]
                            * (std::f64::consts::PI * k as f64 * (j as f64 + 0.5) / n as f64).cos()
                    })
                    .sum();
                let c = 2.0 * s / n as f64;
                if k == 0 { c / 2.0 } else { c }
            })
            .collect();
        Self::chebyshev(coeffs, a, b)
    }

    /// The basis.
    pub fn basis(&self) -> Basis {
        self.basis
    }

    /// The coefficients, lowest first.
    pub fn coeffs(&self) -> &[f64] {
        &self.coeffs
    }

    /// The degree (index of the last non-zero coefficient; 0 for the zero polynomial).
    pub fn degree(&self) -> usize {
        degree_of(&self.coeffs).unwrap_or(0)
    }

    /// Whether the homomorphic evaluation starts with the affine change of variable (one level).
    pub fn needs_affine(&self) -> bool {
        match self.basis {
            Basis::Power => false,
            Basis::Chebyshev { a, b } => !(a == -1.0 && b == 1.0),
        }
    }

    /// The multiplicative depth of [`evaluate`]: `⌈log2(deg + 1)⌉`, plus one for the affine
    /// change of variable of a Chebyshev series on an interval other than `[-1, 1]`.
    pub fn depth(&self) -> u32 {
        ceil_log2(self.degree() + 1) + self.needs_affine() as u32
    }

    /// Zeroes the coefficients of absolute value below `eps` (e.g. the even coefficients of
    /// an interpolant of an odd function, which are rounding noise).
    pub fn prune(mut self, eps: f64) -> Self {
        for c in &mut self.coeffs {
            if c.abs() < eps {
                *c = 0.0;
            }
        }
        self
    }

    /// The power-basis polynomial `x ↦ p(factor · x)` (coefficients `c_i factor^i`).
    ///
    /// Errors: a Chebyshev polynomial (change its interval instead), or a non-finite result.
    pub fn scale_input(&self, factor: f64) -> Result<Self> {
        if self.basis != Basis::Power {
            return Err(Error::param(
                "scale_input applies to power-basis polynomials",
            ));
        }
        let mut f = 1.0;
        let mut c = Vec::with_capacity(self.coeffs.len());
        for &v in &self.coeffs {
            c.push(v * f);
            f *= factor;
        }
        Self::power(c)
    }

    /// The same polynomial in the power basis of `x` (Chebyshev coefficients expanded with
    /// `T_{k+1} = 2y T_k - T_{k-1}`, then `y = (2x - a - b)/(b - a)` substituted by Horner's rule).
    ///
    /// The expansion is exact in exact arithmetic; in `f64` it is well conditioned only for low
    /// degrees on intervals near `[-1, 1]` (the power coefficients of `T_k` grow like `2^k`):
    /// check the result with [`Polynomial::max_error_on`] before relying on it. A power-basis
    /// polynomial is returned unchanged.
    ///
    /// Errors: a non-finite coefficient in the result.
    pub fn to_power(&self) -> Result<Self> {
        let Basis::Chebyshev { a, b } = self.basis else {
            return Ok(self.clone());
        };
        let n = self.coeffs.len();
        // Power coefficients (in y) of Σ c_k T_k(y).
        let mut in_y = vec![0.0; n];
        let (mut t_prev, mut t_cur) = (vec![1.0], vec![0.0, 1.0]);
        for (k, &c) in self.coeffs.iter().enumerate() {
            let t = match k {
                0 => &t_prev,
                _ => &t_cur,
            };
            for (i, v) in t.iter().enumerate() {
                in_y[i] += c * v;
            }
            if k >= 1 {
                let mut next = vec![0.0; t_cur.len() + 1];
                for (i, v) in t_cur.iter().enumerate() {
                    next[i + 1] += 2.0 * v;
                }
                for (i, v) in t_prev.iter().enumerate() {
                    next[i] -= v;
                }
                t_prev = std::mem::replace(&mut t_cur, next);
            }
        }
        // Substitute y = αx + β.
        let (alpha, beta) = (2.0 / (b - a), -(a + b) / (b - a));
        let mut out = vec![0.0; n];
        for (j, &d) in in_y.iter().enumerate().rev() {
            // out ← out · (αx + β) + d, out has degree n - 1 - j before the product.
            let deg = n - 1 - j;
            for i in (0..=deg).rev() {
                let v = out[i];
                out[i] = v * beta;
                if i + 1 < n {
                    out[i + 1] += v * alpha;
                }
            }
            out[0] += d;
        }
        Self::power(out)
    }

    /// `factor · p + offset`.
    pub fn affine_output(&self, factor: f64, offset: f64) -> Result<Self> {
        let mut c: Vec<f64> = self.coeffs.iter().map(|v| v * factor).collect();
        c[0] += offset;
        Self::new(self.basis, c)
    }

    /// Evaluates at a real point (Horner, or Clenshaw for the Chebyshev basis): the plaintext
    /// reference of the homomorphic evaluation.
    pub fn eval(&self, x: f64) -> f64 {
        match self.basis {
            Basis::Power => self.coeffs.iter().rev().fold(0.0, |acc, &c| acc * x + c),
            Basis::Chebyshev { a, b } => {
                let y = (2.0 * x - a - b) / (b - a);
                let (mut b1, mut b2) = (0.0f64, 0.0f64);
                for &c in self.coeffs.iter().skip(1).rev() {
                    let t = 2.0 * y * b1 - b2 + c;
                    b2 = b1;
                    b1 = t;
                }
                y * b1 - b2 + self.coeffs[0]
            }
        }
    }

    /// The largest `|p(x) - f(x)|` over `n` equally spaced points of `[lo, hi]` (both ends included).
    pub fn max_error_on(&self, f: impl Fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> f64 {
        let n = n.max(2);
        (0..n)
            .map(|i| {
                let x = lo + (hi - lo) * i as f64 / (n - 1) as f64;
                (self.eval(x) - f(x)).abs()
            })
            .fold(0.0, f64::max)
    }
}

/// A partial result of the recursion: zero, a constant (times the weights, if any) or a ciphertext.
enum Val<C> {
    Zero,
    Const(f64),
    Ct(C),
}

struct Engine<'a, E: Evaluator> {
    ev: &'a E,
    chebyshev: bool,
    offset: u32,
    kmax: usize,
    weights: Option<&'a [f64]>,
    cache: BTreeMap<usize, E::Ciphertext>,
}

impl<E: Evaluator> Engine<'_, E> {
    fn canonical(&self, l: Level) -> Scale {
        self.ev.canonical_scale(l)
    }

    fn weighted(&self, c: f64) -> Vec<f64> {
        self.weights
            .map(|w| w.iter().map(|v| v * c).collect())
            .unwrap_or_default()
    }

    /// `c · a` (or `c · w ⊙ a`), rescaled to the canonical scale of the level below.
    fn mul_coeff(&self, a: &E::Ciphertext, c: f64) -> Result<E::Ciphertext> {
        let l = a.level();
        let below = l.below().ok_or(hetal_traits::Error::LevelExhausted {
            op: hetal_traits::Operation::MulConst,
            level: l,
        })?;
        let target = self.canonical(below);
        match self.weights {
            None => Ok(self
                .ev
                .mul_const_to_scale(a, Complex64::new(c, 0.0), target)?),
            Some(_) => {
                let ps = Scale(target.value() * self.ev.prime(l) / a.scale().value());
                let p = self.ev.encode_real(&self.weighted(c), l, ps)?;
                Ok(self.ev.mul_plain_rescale(a, &p)?)
            }
        }
    }

    fn add_coeff(&self, a: &E::Ciphertext, c: f64) -> Result<E::Ciphertext> {
        match self.weights {
            None => Ok(self.ev.add_const(a, Complex64::new(c, 0.0))?),
            Some(_) => {
                let p = self
                    .ev
                    .encode_real(&self.weighted(c), a.level(), a.scale())?;
                Ok(self.ev.add_plain(a, &p)?)
            }
        }
    }

    /// The basis element `B_i` (`i ≥ 1`), at depth `offset + ⌈log2 i⌉`.
    fn get(&mut self, i: usize) -> Result<E::Ciphertext> {
        if let Some(c) = self.cache.get(&i) {
            return Ok(c.clone());
        }
        let out = if i.is_power_of_two() {
            let h = self.get(i / 2)?;
            let sq = self.ev.square_rescale(&h)?;
            if self.chebyshev {
                let d = self.ev.mul_integer(&sq, 2)?;
                self.ev.add_const(&d, Complex64::new(-1.0, 0.0))?
            } else {
                sq
            }
        } else {
            let m = floor_pow2(i);
            let n = i - m;
            let (bm, bn) = align(self.ev, &self.get(m)?, &self.get(n)?)?;
            let prod = self.ev.mul_rescale(&bm, &bn)?;
            if self.chebyshev {
                let d = self.ev.mul_integer(&prod, 2)?;
                let (d, low) = align(self.ev, &d, &self.get(m - n)?)?;
                self.ev.sub(&d, &low)?
            } else {
                prod
            }
        };
        self.cache.insert(i, out.clone());
        Ok(out)
    }

    fn elem_depth(&self, i: usize) -> u32 {
        self.offset + ceil_log2(i)
    }

    fn split(&self, c: &[f64], k: usize) -> (Vec<f64>, Vec<f64>) {
        let deg = c.len() - 1;
        let mut q = c[..k].to_vec();
        let mut r = vec![0.0; deg - k + 1];
        if self.chebyshev {
            r[0] = c[k];
            for j in 1..=deg - k {
                r[j] = 2.0 * c[k + j];
                q[k - j] -= c[k + j];
            }
        } else {
            r.copy_from_slice(&c[k..]);
        }
        (q, r)
    }

    fn leaf(&mut self, c: &[f64]) -> Result<Val<E::Ciphertext>> {
        let terms: Vec<(usize, f64)> = c
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, v)| **v != 0.0)
            .map(|(i, v)| (i, *v))
            .collect();
        if terms.is_empty() {
            return Ok(if c[0] == 0.0 {
                Val::Zero
            } else {
                Val::Const(c[0])
            });
        }
        let mut elems = Vec::with_capacity(terms.len());
        for &(i, _) in &terms {
            elems.push(self.get(i)?);
        }
        let top = elems.iter().map(|e| e.level()).min().unwrap_or_default();
        let t = top.below().ok_or(Error::DepthExhausted {
            needed: 1,
            available: 0,
        })?;
        let target = self.canonical(t);
        let q = self.ev.prime(top);
        let mut acc: Option<E::Ciphertext> = None;
        for (e, &(_, coef)) in elems.iter().zip(&terms) {
            let e = self.ev.drop_to_level(e, top)?;
            let cs = Scale(target.value() * q / e.scale().value());
            let term = match self.weights {
                None => self.ev.mul_const(&e, Complex64::new(coef, 0.0), cs)?,
                Some(_) => {
                    let p = self.ev.encode_real(&self.weighted(coef), top, cs)?;
                    self.ev.mul_plain(&e, &p)?
                }
            };
            acc = Some(match acc {
                None => term,
                Some(a) => self.ev.add(&a, &term)?,
            });
        }
        let acc = acc.ok_or_else(|| Error::param("empty leaf"))?;
        let mut res = self.ev.rescale(&acc)?;
        if c[0] != 0.0 {
            res = self.add_coeff(&res, c[0])?;
        }
        Ok(Val::Ct(res))
    }

    fn eval_rec(&mut self, c: &[f64], budget: u32) -> Result<Val<E::Ciphertext>> {
        let Some(deg) = degree_of(c) else {
            return Ok(Val::Zero);
        };
        let c = &c[..=deg];
        if deg == 0 {
            return Ok(Val::Const(c[0]));
        }
        let max_idx = (1..=deg).rev().find(|&i| c[i] != 0.0).unwrap_or(deg);
        let leaf_depth = self.elem_depth(max_idx) + 1;
        if deg < self.kmax && leaf_depth <= budget {
            return self.leaf(c);
        }
        let k = floor_pow2(deg);
        let (q, r) = self.split(c, k);
        let g = self.get(k)?;
        let rv = self.eval_rec(&r, budget - 1)?;
        let prod = match rv {
            Val::Zero => Val::Zero,
            Val::Const(v) => Val::Ct(self.mul_coeff(&g, v)?),
            Val::Ct(x) => {
                let (g, x) = align(self.ev, &g, &x)?;
                Val::Ct(self.ev.mul_rescale(&g, &x)?)
            }
        };
        let qv = self.eval_rec(&q, budget)?;
        self.add_vals(qv, prod)
    }

    fn add_vals(&self, a: Val<E::Ciphertext>, b: Val<E::Ciphertext>) -> Result<Val<E::Ciphertext>> {
        Ok(match (a, b) {
            (Val::Zero, x) | (x, Val::Zero) => x,
            (Val::Const(u), Val::Const(v)) => Val::Const(u + v),
            (Val::Const(u), Val::Ct(x)) | (Val::Ct(x), Val::Const(u)) => {
                Val::Ct(self.add_coeff(&x, u)?)
            }
            (Val::Ct(x), Val::Ct(y)) => {
                let (x, y) = align(self.ev, &x, &y)?;
                Val::Ct(self.ev.add(&x, &y)?)
            }
        })
    }
}

/// `a` and `b` brought to the lower of their levels with [`Evaluator::drop_to_level`] (one step
/// each; a canonical operand stays canonical even across the steep scale drop from
/// bootstrapping levels to user levels, see [`hetal_traits::evaluator::drop_plan`]).
pub fn align<E: Evaluator>(
    ev: &E,
    a: &E::Ciphertext,
    b: &E::Ciphertext,
) -> Result<(E::Ciphertext, E::Ciphertext)> {
    let l = a.level().min(b.level());
    Ok((ev.drop_to_level(a, l)?, ev.drop_to_level(b, l)?))
}

/// Checks that `x` has the canonical scale of its level.
fn check_canonical<E: Evaluator>(ev: &E, x: &E::Ciphertext) -> Result<()> {
    if x.scale().matches(ev.canonical_scale(x.level())) {
        Ok(())
    } else {
        Err(Error::param(format!(
            "input scale {} is not the canonical scale {} of its {}",
            x.scale(),
            ev.canonical_scale(x.level()),
            x.level()
        )))
    }
}

/// Evaluates `p(x)` slot-wise. See the module docs for the algorithm; the result is at level
/// `level(x) - p.depth()` with the canonical scale of that level.
///
/// Errors: [`Error::DepthExhausted`] if `x` has fewer than `p.depth()` levels; a constant
/// polynomial ([`Error::InvalidParameter`]: it needs no evaluation); a non-canonical input scale.
pub fn evaluate<E: Evaluator>(ev: &E, p: &Polynomial, x: &E::Ciphertext) -> Result<E::Ciphertext> {
    evaluate_weighted(ev, p, x, None)
}

/// Evaluates `w ⊙ p(x)` for a plaintext weight vector `w` (one entry per slot, missing entries
/// zero) at the depth of `p(x)` alone: every coefficient multiplication becomes a plaintext
/// multiplication by `c_i w`. With a 0/1 mask this zeroes the slots outside the mask for free.
pub fn evaluate_weighted<E: Evaluator>(
    ev: &E,
    p: &Polynomial,
    x: &E::Ciphertext,
    weights: Option<&[f64]>,
) -> Result<E::Ciphertext> {
    let deg = degree_of(&p.coeffs).unwrap_or(0);
    if deg == 0 {
        return Err(Error::param(
            "a constant polynomial needs no homomorphic evaluation",
        ));
    }
    if let Some(w) = weights
        && w.len() > ev.slots()
    {
        return Err(Error::param(format!(
            "{} weights for {} slots",
            w.len(),
            ev.slots()
        )));
    }
    let depth = p.depth();
    if x.level().0 < depth {
        return Err(Error::DepthExhausted {
            needed: depth,
            available: x.level().0,
        });
    }
    check_canonical(ev, x)?;
    let out_level = Level(x.level().0 - depth);
    let (chebyshev, y) = match p.basis {
        Basis::Power => (false, x.clone()),
        Basis::Chebyshev { a, b } => {
            if p.needs_affine() {
                let alpha = 2.0 / (b - a);
                let beta = -(a + b) / (b - a);
                let below = Level(x.level().0 - 1);
                let y = ev.mul_const_to_scale(
                    x,
                    Complex64::new(alpha, 0.0),
                    ev.canonical_scale(below),
                )?;
                (true, ev.add_const(&y, Complex64::new(beta, 0.0))?)
            } else {
                (true, x.clone())
            }
        }
    };
    let total = ceil_log2(deg + 1);
    let mut eng = Engine {
        ev,
        chebyshev,
        offset: p.needs_affine() as u32,
        kmax: 1usize << total.div_ceil(2).max(1),
        weights,
        cache: BTreeMap::new(),
    };
    eng.cache.insert(1, y);
    let v = eng.eval_rec(&p.coeffs[..=deg], depth)?;
    match v {
        Val::Ct(r) => {
            if r.level() < out_level {
                return Err(Error::param(format!(
                    "internal: polynomial landed at {} below {}",
                    r.level(),
                    out_level
                )));
            }
            Ok(ev.drop_to_level(&r, out_level)?)
        }
        Val::Zero | Val::Const(_) => Err(Error::param(
            "internal: a non-constant polynomial evaluated to a constant",
        )),
    }
}

/// The outcome of a [`dry_run`].
#[derive(Clone, Debug, PartialEq)]
pub struct DryRun {
    /// The level the input was encrypted at.
    pub input_level: Level,
    /// The level of the result.
    pub output_level: Level,
    /// Levels consumed: `input_level - output_level` (meaningful when no bootstrap ran).
    pub levels_consumed: u32,
    /// Every operation, with the level it ran at.
    pub counts: OpCounts,
}

impl DryRun {
    /// Number of bootstraps of every kind ([`OpCounts::bootstraps`]), a pair bootstrap
    /// ([`Evaluator::bootstrap_pair`]) counted as one.
    pub fn bootstraps(&self) -> u64 {
        self.counts.bootstraps()
    }
}

/// Parameters of a mock that mirrors `ev`'s modulus chain, default scale and bootstrapping,
/// with `slots` slots.
pub fn mirror_params<E: Evaluator>(ev: &E, slots: usize) -> MockParams {
    let max = ev.max_level();
    MockParams {
        slots,
        primes: (0..=max.0).map(|l| ev.prime(Level(l))).collect(),
        default_scale: ev.canonical_scale(max).value(),
        bootstrap: ev.bootstrap_info(),
        noise_std: 0.0,
    }
}

/// Runs `f` on a counting mock with the chain and bootstrapping of `params`, on an input
/// encrypted at `input_level` holding `input` (missing slots zero), and reports levels and
/// operation counts. Nothing is decrypted; the mock has every rotation key.
pub fn dry_run<F>(params: MockParams, input_level: Level, input: &[f64], f: F) -> Result<DryRun>
where
    F: FnOnce(&Counting<MockEvaluator>, &MockCiphertext) -> Result<MockCiphertext>,
{
    let mut client = MockClient::try_new(params, 0)?;
    let keys = client.unrestricted_keys();
    let ev = Counting::new(MockEvaluator::try_new(keys)?);
    let x = client.encrypt_real(input, input_level)?;
    let y = f(&ev, &x)?;
    Ok(DryRun {
        input_level,
        output_level: y.level(),
        levels_consumed: input_level.0.saturating_sub(y.level().0),
        counts: ev.snapshot(),
    })
}

/// Dry run of [`evaluate`] for `p` on a mock of 2 slots with `p.depth() + 2` ideal levels.
pub fn dry_run_poly(p: &Polynomial) -> Result<DryRun> {
    let levels = p.depth() + 2;
    dry_run(
        MockParams::ideal(2, levels, 40.0),
        Level(levels),
        &[0.0, 0.0],
        |ev, x| evaluate(ev, p, x),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hetal_traits::counting::OpKind;
    use hetal_traits::{Decryptor, Encoder};

    fn setup(levels: u32) -> (MockClient, MockEvaluator) {
        // A chain whose primes differ from the scale, so that scale management is exercised.
        let primes: Vec<u64> = std::iter::once(1u64 << 55)
            .chain((0..levels).map(|i| (1u64 << 40) - 87 - 1000 * i as u64))
            .collect();
        let p = MockParams::from_chain(8, &primes, (1u64 << 40) as f64 * 1.01);
        let c = MockClient::new(p, 1);
        let e = MockEvaluator::new(c.unrestricted_keys());
        (c, e)
    }

    #[test]
    fn ceil_log2_values() {
        assert_eq!(
            (0..10).map(ceil_log2).collect::<Vec<_>>(),
            vec![0, 0, 1, 2, 2, 3, 3, 3, 3, 4]
        );
    }

    #[test]
    fn power_and_chebyshev_match_reference_at_optimal_depth() {
        let (mut c, e) = setup(12);
        let xs = [-1.0, -0.7, -0.2, 0.0, 0.3, 0.55, 0.9, 1.0];
        for deg in 1..=17usize {
            let coeffs: Vec<f64> = (0..=deg)
                .map(|i| ((i * 37 % 11) as f64 - 5.0) / 7.0)
                .collect();
            let polys = [
                Polynomial::power(coeffs.clone()).unwrap(),
                Polynomial::chebyshev(coeffs.clone(), -1.0, 1.0).unwrap(),
                Polynomial::chebyshev(coeffs.clone(), -3.0, 5.0).unwrap(),
            ];
            for p in &polys {
                let inputs: Vec<f64> = if p.needs_affine() {
                    xs.iter().map(|x| 1.0 + 4.0 * x).collect()
                } else {
                    xs.to_vec()
                };
                let ct = c.encrypt_real(&inputs, Level(12)).unwrap();
                let y = evaluate(&e, p, &ct).unwrap();
                assert_eq!(y.level().0, 12 - p.depth(), "deg {deg} {:?}", p.basis());
                assert!(y.scale().matches(e.canonical_scale(y.level())));
                let got = c.decrypt_real(&y).unwrap();
                for (g, &x) in got.iter().zip(&inputs) {
                    let want = p.eval(x);
                    assert!(
                        (g - want).abs() < 1e-9 * (1.0 + want.abs()),
                        "deg {deg}: {g} vs {want}"
                    );
                }
                let d = dry_run_poly(p).unwrap();
                assert_eq!(d.levels_consumed, p.depth());
            }
        }
    }

    #[test]
    fn weights_mask_at_no_extra_depth() {
        let (mut c, e) = setup(6);
        let p = Polynomial::power(vec![1.0, 0.5, 0.25, -0.125, 0.3]).unwrap();
        let x = [0.5, -0.5, 0.25, 1.0];
        let w = [1.0, 0.0, 2.0, 0.0];
        let ct = c.encrypt_real(&x, Level(6)).unwrap();
        let y = evaluate_weighted(&e, &p, &ct, Some(&w)).unwrap();
        assert_eq!(y.level().0, 6 - p.depth());
        let got = c.decrypt_real(&y).unwrap();
        for i in 0..4 {
            assert!((got[i] - w[i] * p.eval(x[i])).abs() < 1e-12);
        }
    }

    #[test]
    fn interpolation_converges_and_depth_is_reported() {
        let p = Polynomial::interpolate(f64::exp, -2.0, 1.0, 15).unwrap();
        assert!(p.max_error_on(f64::exp, -2.0, 1.0, 1001) < 1e-12);
        assert_eq!(p.depth(), 4 + 1);
        let d = dry_run_poly(&p).unwrap();
        assert_eq!(d.levels_consumed, 5);
        assert!(d.counts.get(OpKind::Mult) <= 12, "{}", d.counts);
    }

    #[test]
    fn chebyshev_to_power_is_the_same_polynomial() {
        for (a, b) in [(-1.0, 1.0), (-0.25, 0.125), (-3.0, 5.0)] {
            let p = Polynomial::interpolate(f64::exp, a, b, 8).unwrap();
            let q = p.to_power().unwrap();
            assert_eq!(q.basis(), Basis::Power);
            assert_eq!(q.coeffs().len(), 9);
            for i in 0..=100 {
                let x = a + (b - a) * i as f64 / 100.0;
                let (u, v) = (p.eval(x), q.eval(x));
                assert!(
                    (u - v).abs() < 1e-12 * (1.0 + u.abs()),
                    "[{a}, {b}] at {x}: {u} vs {v}"
                );
            }
        }
        let t3 = Polynomial::chebyshev(vec![0.0, 0.0, 0.0, 1.0], -1.0, 1.0).unwrap();
        assert_eq!(t3.to_power().unwrap().coeffs(), &[0.0, -3.0, 0.0, 4.0]);
    }

    #[test]
    fn drop_to_level_keeps_canonical_scales_across_a_scale_gap() {
        // 40-bit user primes under 60-bit ones, scales climbing from 2^40 to about 2^60.
        let mut primes: Vec<u64> = vec![(1u64 << 48) - 59];
        primes.extend((1..=6u64).map(|i| (1u64 << 40) - 87 - 4096 * i));
        primes.extend((1..=6u64).map(|i| (1u64 << 60) - 93 - 8192 * i));
        let mut s = 2f64.powi(40);
        for &q in &primes[1..] {
            s = (s * q as f64).sqrt();
        }
        let p = MockParams::from_chain(4, &primes, s);
        let mut c = MockClient::new(p, 1);
        let e = MockEvaluator::new(c.unrestricted_keys());
        let top = Level(12);
        let x = c.encrypt_real(&[0.25, -0.5], top).unwrap();
        // One prime (q_3 ≈ 2^40) would leave the multiplier q_3·Δ_2/Δ_12 ≈ 2^20: too coarse.
        let one_prime = e.prime(Level(3)) * e.canonical_scale(Level(2)).value()
            / e.canonical_scale(top).value();
        assert!(one_prime < 2f64.powi(21));
        let (primes, k) = hetal_traits::evaluator::drop_plan(&e, top, Level(2));
        assert!(
            primes >= 2 && k >= 2f64.powi(32),
            "{primes} primes, k = {k}"
        );
        for t in 0..12 {
            let d = e.drop_to_level(&x, Level(t)).unwrap();
            assert_eq!(d.level(), Level(t));
            assert!(d.scale().matches(e.canonical_scale(Level(t))), "level {t}");
        }
        let y = c.encrypt_real(&[1.0, 1.0], Level(2)).unwrap();
        let (a, b) = align(&e, &x, &y).unwrap();
        let sum = e.add(&a, &b).unwrap();
        let got = c.decrypt_real(&sum).unwrap();
        assert!((got[0] - 1.25).abs() < 1e-9 && (got[1] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn degree_seven_odd_costs_five_mults() {
        let p = Polynomial::power(vec![
            0.0,
            35.0 / 16.0,
            0.0,
            -35.0 / 16.0,
            0.0,
            21.0 / 16.0,
            0.0,
            -5.0 / 16.0,
        ])
        .unwrap();
        let d = dry_run_poly(&p).unwrap();
        assert_eq!(d.levels_consumed, 3);
        assert_eq!(d.counts.get(OpKind::Mult), 5);
        assert_eq!(d.counts.get(OpKind::ConstMult), 4);
    }

    #[test]
    fn too_few_levels_is_depth_exhausted() {
        let (mut c, e) = setup(2);
        let p = Polynomial::power(vec![0.0; 8].into_iter().chain([1.0]).collect()).unwrap();
        let ct = c.encrypt_real(&[0.5], Level(2)).unwrap();
        assert_eq!(
            evaluate(&e, &p, &ct).unwrap_err(),
            Error::DepthExhausted {
                needed: 4,
                available: 2
            }
        );
    }
}
