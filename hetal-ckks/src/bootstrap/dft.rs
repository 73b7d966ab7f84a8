//! The homomorphic DFTs of bootstrapping: CoeffToSlot and SlotToCoeff as products of sparse
//! radix-2 butterfly matrices in the `5^j` slot order of [`crate::encoding`], merged into a few
//! level-collapsed groups and evaluated by baby-step giant-step with hoisted baby steps.
//!
//! With `n` slots the plaintext's `2n` real coefficients `a` are packed as `w_k = a_k + i·a_{k+n}`
//! and the slots are `z = U w` with `U[j][k] = ζ_j^k`, `ζ_j = ξ^(5^j)`, `ξ = e^(2πi/4n)`. The
//! special FFT factorises `U·BR = B_L ⋯ B_1` (`L = log2 n`, `BR` the bit-reversal permutation),
//! where `B_s` is a butterfly of half-width `h = 2^(s-1)`: three non-zero diagonals `0, ±h`.
//! CoeffToSlot computes `BR^-1 w = B_1^-1 ⋯ B_L^-1 z` (the coefficients land in bit-reversed slot
//! order, which EvalMod does not mind) and SlotToCoeff computes `z = B_L ⋯ B_1 (BR^-1 w)`.

use super::ops::BootstrapOps;
pub use super::ops::{GiantStep, bsgs_sum_generic};
use hetal_traits::{Complex64, Encoder, Error, Level, Leveled, Result};
use std::collections::BTreeMap;

/// A square `n × n` complex matrix stored by its non-zero generalised diagonals:
/// `diag[k][t] = M[t][(t + k) mod n]`, so that `M x = Σ_k diag_k ⊙ rot(x, k)`.
#[derive(Clone, Debug, PartialEq)]
pub struct DiagMatrix {
    n: usize,
    diags: BTreeMap<usize, Vec<Complex64>>,
}

impl DiagMatrix {
    /// The zero matrix on `n` slots.
    pub fn zero(n: usize) -> Self {
        DiagMatrix {
            n,
            diags: BTreeMap::new(),
        }
    }

    /// The identity on `n` slots.
    pub fn identity(n: usize) -> Self {
        let mut m = Self::zero(n);
        m.diags.insert(0, vec![Complex64::new(1.0, 0.0); n]);
        m
    }

    /// The diagonal matrix `diag(values)` on `values.len()` slots.
    pub fn diagonal(values: Vec<Complex64>) -> Self {
        let mut m = Self::zero(values.len());
        m.diags.insert(0, values);
        m
    }

    /// A matrix on `n` slots from its diagonals `(index in 0..n, n values)`; `None` if an index
    /// or a length is wrong.
    pub fn from_diagonals(n: usize, diags: BTreeMap<usize, Vec<Complex64>>) -> Option<Self> {
        if diags.iter().any(|(&k, v)| k >= n || v.len() != n) {
            return None;
        }
        Some(DiagMatrix { n, diags })
    }

    /// This `n`-slot matrix acting on `2n`-slot vectors that repeat with period `n`: each
    /// diagonal is replicated twice and keeps its signed offset (index `k ≤ n/2` stays `k`, a
    /// larger one, i.e. `k − n`, becomes `k + n`), so `lift(M)·[x, x] = [M x, M x]` with the
    /// same rotations up to sign. Only valid on `n`-periodic inputs.
    pub fn lift_periodic(&self) -> DiagMatrix {
        let n = self.n;
        let diags = self
            .diags
            .iter()
            .map(|(&k, d)| {
                let k2 = if k <= n / 2 { k } else { k + n };
                (k2, d.iter().chain(d).copied().collect())
            })
            .collect();
        DiagMatrix { n: 2 * n, diags }
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.n
    }

    /// The non-zero diagonals (index in `0..n`, values).
    pub fn diagonals(&self) -> &BTreeMap<usize, Vec<Complex64>> {
        &self.diags
    }

    /// `self · other` (apply `other` first).
    pub fn compose(&self, other: &DiagMatrix) -> DiagMatrix {
        let n = self.n;
        let mut out: BTreeMap<usize, Vec<Complex64>> = BTreeMap::new();
        for (&a, da) in &self.diags {
            for (&b, db) in &other.diags {
                let k = (a + b) % n;
                let e = out
                    .entry(k)
                    .or_insert_with(|| vec![Complex64::new(0.0, 0.0); n]);
                for t in 0..n {
                    e[t] += da[t] * db[(t + a) % n];
                }
            }
        }
        out.retain(|_, v| v.iter().any(|z| z.norm() > 1e-300));
        DiagMatrix { n, diags: out }
    }

    /// Multiplies every entry by `c`.
    pub fn scaled(mut self, c: Complex64) -> DiagMatrix {
        for v in self.diags.values_mut() {
            v.iter_mut().for_each(|z| *z *= c);
        }
        self
    }

    /// `M x` on plaintext slot values (the reference for the homomorphic evaluation).
    pub fn apply(&self, x: &[Complex64]) -> Vec<Complex64> {
        let n = self.n;
        let mut y = vec![Complex64::new(0.0, 0.0); n];
        for (&k, d) in &self.diags {
            for t in 0..n {
                y[t] += d[t] * x[(t + k) % n];
            }
        }
        y
    }
}

/// The twiddle `c_j` of butterfly stage with half-width `h`: `ξ^(5^j mod 8h · n/(2h))`, i.e.
/// `e^(2πi·(5^j mod 8h)/(8h))`.
fn twiddle(h: usize, j: usize) -> Complex64 {
    let m = 8 * h;
    let mut g = 1usize;
    for _ in 0..j {
        g = g * 5 % m;
    }
    Complex64::from_polar(1.0, 2.0 * std::f64::consts::PI * g as f64 / m as f64)
}

/// The butterfly `B_s` (half-width `h = 2^(s-1)`) on `n` slots, or its inverse.
pub fn butterfly(n: usize, h: usize, inverse: bool) -> DiagMatrix {
    assert!(h >= 1 && 2 * h <= n && n.is_power_of_two() && h.is_power_of_two());
    let len = 2 * h;
    let tw: Vec<Complex64> = (0..h).map(|j| twiddle(h, j)).collect();
    let zero = Complex64::new(0.0, 0.0);
    let one = Complex64::new(1.0, 0.0);
    let mut d0 = vec![zero; n];
    let mut dp = vec![zero; n];
    let mut dm = vec![zero; n];
    for t in 0..n {
        let r = t % len;
        if r < h {
            let c = tw[r];
            if inverse {
                d0[t] = one * 0.5;
                dp[t] = one * 0.5;
            } else {
                d0[t] = one;
                dp[t] = c;
            }
        } else {
            let c = tw[r - h];
            if inverse {
                d0[t] = -(c.inv()) * 0.5;
                dm[t] = c.inv() * 0.5;
            } else {
                d0[t] = -c;
                dm[t] = one;
            }
        }
    }
    let mut m = DiagMatrix::zero(n);
    m.diags.insert(0, d0);
    if h == n / 2 {
        // +h and -h coincide modulo n.
        let s: Vec<Complex64> = dp.iter().zip(&dm).map(|(a, b)| a + b).collect();
        m.diags.insert(h, s);
    } else {
        m.diags.insert(h, dp);
        m.diags.insert(n - h, dm);
    }
    m
}

/// Splits the `log_n` butterfly stages `1..=log_n` into `groups` consecutive ranges, as even as
/// possible (larger groups first), from stage 1 upwards.
pub fn split_stages(log_n: usize, groups: usize) -> Vec<std::ops::Range<usize>> {
    let groups = groups.clamp(1, log_n.max(1));
    let mut out = Vec::with_capacity(groups);
    let mut start = 1;
    for g in 0..groups {
        let size = log_n / groups + usize::from(g < log_n % groups);
        out.push(start..start + size);
        start += size;
    }
    out
}

/// The CoeffToSlot factors in application order (largest strides first): `groups` matrices whose
/// product (last applied leftmost) is `c · BR^-1 U^-1`. The constant is spread evenly.
pub fn coeff_to_slot_factors(n: usize, groups: usize, c: f64) -> Vec<DiagMatrix> {
    let log_n = n.trailing_zeros() as usize;
    if log_n == 0 {
        return vec![DiagMatrix::identity(n).scaled(Complex64::new(c, 0.0))];
    }
    let ranges = split_stages(log_n, groups);
    let per = Complex64::new(c.abs().powf(1.0 / ranges.len() as f64), 0.0);
    let mut out: Vec<DiagMatrix> = ranges
        .iter()
        .rev()
        .map(|r| {
            // Applies B_{end-1}^-1 first, ..., B_start^-1 last.
            let mut m = DiagMatrix::identity(n);
            for s in r.clone().rev() {
                m = butterfly(n, 1 << (s - 1), true).compose(&m);
            }
            m.scaled(per)
        })
        .collect();
    if c < 0.0 {
        let last = out.pop().map(|m| m.scaled(Complex64::new(-1.0, 0.0)));
        out.extend(last);
    }
    out
}

/// The SlotToCoeff factors in application order (smallest strides first): `groups` matrices whose
/// product is `c · U BR`.
pub fn slot_to_coeff_factors(n: usize, groups: usize, c: f64) -> Vec<DiagMatrix> {
    let log_n = n.trailing_zeros() as usize;
    if log_n == 0 {
        return vec![DiagMatrix::identity(n).scaled(Complex64::new(c, 0.0))];
    }
    let ranges = split_stages(log_n, groups);
    let per = Complex64::new(c.abs().powf(1.0 / ranges.len() as f64), 0.0);
    let mut out: Vec<DiagMatrix> = ranges
        .iter()
        .map(|r| {
            let mut m = DiagMatrix::identity(n);
            for s in r.clone() {
                m = butterfly(n, 1 << (s - 1), false).compose(&m);
            }
            m.scaled(per)
        })
        .collect();
    if c < 0.0 {
        let last = out.pop().map(|m| m.scaled(Complex64::new(-1.0, 0.0)));
        out.extend(last);
    }
    out
}

/// The bit-reversal permutation of `n` entries.
pub fn bit_reverse_vec<T: Copy>(x: &[T]) -> Vec<T> {
    let n = x.len();
    let bits = n.trailing_zeros();
    (0..n)
        .map(|i| x[crate::arith::bit_reverse(i, bits)])
        .collect()
}

/// A diagonal transform prepared for one level: plaintexts encoded once, baby steps in units of
/// the transform's stride, giant steps of `n1` strides.
#[derive(Clone, Debug)]
pub struct PreparedTransform<P> {
    level: Level,
    babies: Vec<usize>,
    /// `(giant rotation (normalised), [(baby rotation, plaintext of rot(d, -giant))])`.
    giants: Vec<GiantStep<P>>,
    diagonals: usize,
}

/// How a set of diagonal indices splits into baby and giant rotations: `(n1 in strides, stride)`.
fn bsgs_split(n: usize, indices: &[usize]) -> (usize, usize) {
    let stride = indices
        .iter()
        .fold(n, |g, &k| if k == 0 { g } else { gcd(g, k) })
        .max(1);
    // Signed offsets in units of the stride.
    let m = n / stride;
    let signed: Vec<i64> = indices
        .iter()
        .map(|&k| signed_offset(k / stride, m))
        .collect();
    let mut best = (usize::MAX, 1usize);
    let mut n1 = 1usize;
    while n1 <= m {
        let mut b: Vec<i64> = signed.iter().map(|&s| s.rem_euclid(n1 as i64)).collect();
        let mut g: Vec<i64> = signed.iter().map(|&s| s.div_euclid(n1 as i64)).collect();
        b.sort_unstable();
        b.dedup();
        g.sort_unstable();
        g.dedup();
        let cost = b.len() + g.len();
        if cost < best.0 {
            best = (cost, n1);
        }
        n1 *= 2;
    }
    (best.1, stride)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `k` in `0..m` as a signed offset in `(-m/2, m/2]`.
fn signed_offset(k: usize, m: usize) -> i64 {
    if k > m / 2 {
        k as i64 - m as i64
    } else {
        k as i64
    }
}

impl<P> PreparedTransform<P> {
    /// The level the transform must be applied at.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Number of plaintext diagonals.
    pub fn diagonal_count(&self) -> usize {
        self.diagonals
    }

    /// Every rotation (left, normalised, non-zero) the evaluation uses.
    pub fn rotations(&self) -> Vec<usize> {
        let mut r: Vec<usize> = self.babies.iter().copied().filter(|&b| b != 0).collect();
        r.extend(self.giants.iter().map(|g| g.0).filter(|&g| g != 0));
        r.sort_unstable();
        r.dedup();
        r
    }

    /// Replaces every rotation `r` (baby and giant, in `0..m` for a transform on `m` slots) by
    /// `f(r)`: a transform on `m`-periodic vectors embedded in a larger slot vector uses the
    /// larger vector's rotation steps ([`embed_rotation`]).
    pub fn map_rotations(&mut self, f: impl Fn(usize) -> usize) {
        for b in &mut self.babies {
            *b = f(*b);
        }
        for (j, terms) in &mut self.giants {
            *j = f(*j);
            for (i, _) in terms {
                *i = f(*i);
            }
        }
    }

    /// The rotations of a matrix (without encoding anything), for key generation.
    pub fn rotations_of(m: &DiagMatrix) -> Vec<usize> {
        let (babies, giants) = plan(m);
        let mut r: Vec<usize> = babies.into_iter().filter(|&b| b != 0).collect();
        r.extend(giants.into_keys().filter(|&g| g != 0));
        r.sort_unstable();
        r.dedup();
        r
    }
}

/// A rotation `r ∈ 0..period` of a `period`-periodic vector as a left rotation of the whole
/// `slots`-slot vector with the same signed offset: `r` for `r ≤ period/2`, else
/// `slots − (period − r)` (so that rotations by `−1` of every period share one key).
pub fn embed_rotation(r: usize, period: usize, slots: usize) -> usize {
    if r <= period / 2 {
        r
    } else {
        slots - (period - r)
    }
}

type Plan = (Vec<usize>, BTreeMap<usize, Vec<(usize, usize)>>);

/// Baby rotations and, per giant rotation, `(baby, diagonal index)` pairs.
fn plan(m: &DiagMatrix) -> Plan {
    let n = m.n;
    let idx: Vec<usize> = m.diags.keys().copied().collect();
    let (n1, stride) = bsgs_split(n, &idx);
    let units = n / stride;
    let mut babies = Vec::new();
    let mut giants: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
    for &k in &idx {
        let s = signed_offset(k / stride, units);
        let i = s.rem_euclid(n1 as i64) as usize * stride;
        let j = (s.div_euclid(n1 as i64) * (n1 * stride) as i64).rem_euclid(n as i64) as usize;
        babies.push(i);
        giants.entry(j).or_default().push((i, k));
    }
    babies.sort_unstable();
    babies.dedup();
    (babies, giants)
}

/// Encodes the diagonals of `m` for evaluation at `level` (canonical scale of that level, so a
/// canonical input lands canonical one level lower).
pub fn prepare<E: Encoder + ?Sized>(
    enc: &E,
    m: &DiagMatrix,
    level: Level,
) -> Result<PreparedTransform<E::Plaintext>> {
    let n = m.n;
    if enc.slots() != n {
        return Err(Error::invalid(format!(
            "transform on {n} slots for {} slots",
            enc.slots()
        )));
    }
    if m.diags.is_empty() {
        return Err(Error::invalid("transform with no diagonals"));
    }
    let (babies, plan_giants) = plan(m);
    let mut giants = Vec::with_capacity(plan_giants.len());
    for (j, terms) in plan_giants {
        let mut pts = Vec::with_capacity(terms.len());
        for (i, k) in terms {
            let d = &m.diags[&k];
            let rd: Vec<Complex64> = (0..n).map(|t| d[(t + n - j) % n]).collect();
            pts.push((i, enc.encode_at(&rd, level)?));
        }
        giants.push((j, pts));
    }
    Ok(PreparedTransform {
        level,
        babies,
        giants,
        diagonals: m.diags.len(),
    })
}

/// Applies a prepared transform: `Σ_j rot(Σ_i p_{j,i} ⊙ rot(a, i), j)` ([`BootstrapOps::bsgs_sum`])
/// then one rescale.
/// The input must be at the transform's level.
pub fn apply<E: BootstrapOps + ?Sized>(
    e: &E,
    a: &E::Ciphertext,
    t: &PreparedTransform<E::Plaintext>,
) -> Result<E::Ciphertext> {
    if a.level() != t.level {
        return Err(Error::LevelMismatch {
            op: hetal_traits::Operation::MulPlain,
            expected: t.level,
            actual: a.level(),
        });
    }
    let sum = e.bsgs_sum(a, &t.babies, &t.giants)?;
    e.rescale(&sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::SlotEncoder;

    fn c(re: f64, im: f64) -> Complex64 {
        Complex64::new(re, im)
    }

    #[test]
    fn butterflies_factor_the_special_fft() {
        for log_n in 1..=6 {
            let n = 1usize << log_n;
            let enc = SlotEncoder::new(n);
            let coeffs: Vec<f64> = (0..2 * n).map(|i| ((i * 37 % 11) as f64) - 5.0).collect();
            let w: Vec<Complex64> = (0..n).map(|k| c(coeffs[k], coeffs[k + n])).collect();
            let want = enc.decode(&coeffs);
            for groups in 1..=log_n {
                let mut x = bit_reverse_vec(&w);
                for m in slot_to_coeff_factors(n, groups, 1.0) {
                    x = m.apply(&x);
                }
                for (a, b) in x.iter().zip(&want) {
                    assert!((a - b).norm() < 1e-9, "n={n} groups={groups}: {a} vs {b}");
                }
                let mut y = want.clone();
                for m in coeff_to_slot_factors(n, groups, 1.0) {
                    y = m.apply(&y);
                }
                for (a, b) in y.iter().zip(&bit_reverse_vec(&w)) {
                    assert!((a - b).norm() < 1e-9, "inverse n={n} groups={groups}");
                }
            }
        }
    }

    #[test]
    fn groups_have_few_diagonals_and_constants_spread() {
        let n = 256;
        let f = coeff_to_slot_factors(n, 3, -8.0);
        assert_eq!(f.len(), 3);
        for m in &f {
            assert!(m.diagonals().len() < 2usize.pow(4));
        }
        let x: Vec<Complex64> = (0..n).map(|i| c(i as f64 / n as f64, 0.5)).collect();
        let mut a = x.clone();
        for m in &f {
            a = m.apply(&a);
        }
        let mut b = x.clone();
        for m in coeff_to_slot_factors(n, 3, 1.0) {
            b = m.apply(&b);
        }
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q * -8.0).norm() < 1e-9);
        }
    }

    #[test]
    fn bsgs_plan_covers_every_diagonal_with_few_rotations() {
        let n = 1 << 10;
        for m in coeff_to_slot_factors(n, 3, 1.0) {
            let (babies, giants) = plan(&m);
            let covered: usize = giants.values().map(|v| v.len()).sum();
            assert_eq!(covered, m.diagonals().len());
            for (j, terms) in &giants {
                for (i, k) in terms {
                    assert_eq!((i + j) % n, *k);
                    assert!(babies.contains(i));
                }
            }
            let rots = PreparedTransform::<()>::rotations_of(&m);
            assert!(
                rots.len() <= 2 * (2 * m.diagonals().len()).isqrt() + 2,
                "{} rotations",
                rots.len()
            );
        }
    }
}
