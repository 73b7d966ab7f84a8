//! Algorithms written once over the core [`Evaluator`]: every backend gets the same ones.
//!
//! Op counts below use: Rot = key-switched rotation, CMult = ciphertext-plaintext multiply,
//! Mult = ciphertext-ciphertext multiply with relinearisation.

use crate::error::{Error, Operation, Result};
use crate::evaluator::{Evaluator, Leveled};
use crate::types::{Complex64, Level, RotStep, Scale};
use std::collections::BTreeMap;

/// The rotation steps [`EvaluatorExt::inner_sum`] uses for `stride` and `count`.
pub fn inner_sum_rotations(stride: i64, count: usize) -> Vec<RotStep> {
    // Mirrors the loop of `inner_sum` exactly.
    let mut steps = Vec::new();
    let mut shift = 0i64;
    let mut i = 0;
    while (count >> i) != 0 {
        let pow = 1i64 << i;
        if count & (1 << i) != 0 {
            if shift != 0 {
                steps.push(RotStep(shift * stride));
            }
            shift += pow;
        }
        if (count >> (i + 1)) != 0 {
            steps.push(RotStep(pow * stride));
        }
        i += 1;
    }
    steps.sort();
    steps.dedup();
    steps
}

/// The rotation steps [`EvaluatorExt::sum_slots`] uses: 1, 2, 4, ..., slots/2.
pub fn sum_slots_rotations(slots: usize) -> Vec<RotStep> {
    inner_sum_rotations(1, slots)
}

/// A square slots x slots matrix stored by its non-zero generalised diagonals:
/// `diagonals[k][t] = M[t][(t + k) mod slots]`, so that `M x = Σ_k d_k ⊙ rot(x, k)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagonals {
    slots: usize,
    diagonals: BTreeMap<usize, Vec<Complex64>>,
}

impl Diagonals {
    /// An empty (zero) transform on `slots` slots.
    pub fn new(slots: usize) -> Self {
        Diagonals {
            slots,
            diagonals: BTreeMap::new(),
        }
    }

    /// Sets diagonal `k` (normalised modulo `slots`); `values` must have `slots` entries.
    pub fn set(&mut self, k: i64, values: Vec<Complex64>) -> Result<()> {
        if values.len() != self.slots {
            return Err(Error::invalid(format!(
                "diagonal of length {} for {} slots",
                values.len(),
                self.slots
            )));
        }
        self.diagonals
            .insert(RotStep(k).normalized(self.slots), values);
        Ok(())
    }

    /// The diagonals of a dense row-major `slots x slots` matrix (all-zero diagonals skipped).
    pub fn from_dense(slots: usize, m: &[Complex64]) -> Result<Self> {
        if m.len() != slots * slots {
            return Err(Error::invalid("dense matrix must be slots x slots"));
        }
        let mut d = Diagonals::new(slots);
        for k in 0..slots {
            let v: Vec<Complex64> = (0..slots).map(|t| m[t * slots + (t + k) % slots]).collect();
            if v.iter().any(|z| z.norm_sqr() != 0.0) {
                d.diagonals.insert(k, v);
            }
        }
        Ok(d)
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The indices of the non-zero diagonals.
    pub fn indices(&self) -> Vec<usize> {
        self.diagonals.keys().copied().collect()
    }

    /// Applies the transform to plaintext slot values (the reference the homomorphic version must match).
    pub fn apply(&self, x: &[Complex64]) -> Vec<Complex64> {
        let n = self.slots;
        let mut y = vec![Complex64::new(0.0, 0.0); n];
        for (&k, d) in &self.diagonals {
            for t in 0..n {
                y[t] += d[t] * x[(t + k) % n];
            }
        }
        y
    }

    /// The baby-step size used by [`EvaluatorExt::linear_transform`]: the power of two nearest
    /// `sqrt(2 · #diagonals)` (at least 1).
    pub fn baby_steps(&self) -> usize {
        let n = self.diagonals.len().max(1);
        let mut b = 1usize;
        while b * b < 2 * n {
            b *= 2;
        }
        b.min(self.slots)
    }

    /// The rotation steps the BSGS evaluation needs.
    pub fn rotations(&self) -> Vec<RotStep> {
        let n1 = self.baby_steps();
        let mut s: Vec<RotStep> = Vec::new();
        for &k in self.diagonals.keys() {
            let (i, j) = (k % n1, k - k % n1);
            if i != 0 {
                s.push(RotStep(i as i64));
            }
            if j != 0 {
                s.push(RotStep(j as i64));
            }
        }
        s.sort();
        s.dedup();
        s
    }
}

/// Algorithms over any [`Evaluator`]; blanket-implemented, so backends cannot diverge on them.
pub trait EvaluatorExt: Evaluator {
    /// `rescale(mul(a, b))`. Depth 1; 1 Mult.
    fn mul_rescale(&self, a: &Self::Ciphertext, b: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        self.rescale(&self.mul(a, b)?)
    }

    /// `rescale(square(a))`. Depth 1; 1 Mult.
    fn square_rescale(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        self.rescale(&self.square(a)?)
    }

    /// `rescale(mul_plain(a, p))`. Depth 1; 1 CMult.
    fn mul_plain_rescale(
        &self,
        a: &Self::Ciphertext,
        p: &Self::Plaintext,
    ) -> Result<Self::Ciphertext> {
        self.rescale(&self.mul_plain(a, p)?)
    }

    /// Multiplies slot-wise by complex `values`, encoded at `a`'s level with its canonical scale,
    /// and rescales. Depth 1; 1 CMult.
    fn mul_values(&self, a: &Self::Ciphertext, values: &[Complex64]) -> Result<Self::Ciphertext> {
        let p = self.encode_at(values, a.level())?;
        self.mul_plain_rescale(a, &p)
    }

    /// Multiplies slot-wise by a real mask (e.g. 0/1 entries) and rescales. Depth 1; 1 CMult.
    fn mask(&self, a: &Self::Ciphertext, mask: &[f64]) -> Result<Self::Ciphertext> {
        let p = self.encode_real_at(mask, a.level())?;
        self.mul_plain_rescale(a, &p)
    }

    /// `a · c`, rescaled so that the result has exactly scale `target`. Depth 1; 1 constant multiply.
    fn mul_const_to_scale(
        &self,
        a: &Self::Ciphertext,
        c: Complex64,
        target: Scale,
    ) -> Result<Self::Ciphertext> {
        if a.level().0 == 0 {
            return Err(Error::LevelExhausted {
                op: Operation::MulConst,
                level: a.level(),
            });
        }
        let q = self.prime(a.level());
        let const_scale = Scale(target.value() * q / a.scale().value());
        self.rescale(&self.mul_const(a, c, const_scale)?)
    }

    /// `a · c` (real), rescaled to the canonical scale of the level below when `a` is canonical.
    /// Depth 1; 1 constant multiply.
    fn mul_scalar(&self, a: &Self::Ciphertext, c: f64) -> Result<Self::Ciphertext> {
        let below = a.level().below().ok_or(Error::LevelExhausted {
            op: Operation::MulConst,
            level: a.level(),
        })?;
        let target = Scale(
            a.scale().value() * self.canonical_scale(below).value()
                / self.canonical_scale(a.level()).value(),
        );
        self.mul_const_to_scale(a, Complex64::new(c, 0.0), target)
    }

    /// Brings both ciphertexts to the lower of their levels.
    fn align_levels(
        &self,
        a: &Self::Ciphertext,
        b: &Self::Ciphertext,
    ) -> Result<(Self::Ciphertext, Self::Ciphertext)> {
        let l = a.level().min(b.level());
        Ok((self.drop_to_level(a, l)?, self.drop_to_level(b, l)?))
    }

    /// Drops to `level` if above it; the identity otherwise.
    fn at_most_level(&self, a: &Self::Ciphertext, level: Level) -> Result<Self::Ciphertext> {
        if a.level() > level {
            self.drop_to_level(a, level)
        } else {
            Ok(a.clone())
        }
    }

    /// The sum of ciphertexts, as a balanced tree. Errors on an empty slice.
    fn add_many(&self, cts: &[Self::Ciphertext]) -> Result<Self::Ciphertext> {
        match cts.len() {
            0 => Err(Error::invalid("add_many of no ciphertexts")),
            1 => Ok(cts[0].clone()),
            n => {
                let (l, r) = cts.split_at(n / 2);
                self.add(&self.add_many(l)?, &self.add_many(r)?)
            }
        }
    }

    /// Slot `t` of the result holds `Σ_{j < count} a[t + j·stride]` (indices mod slots; a
    /// negative stride sums to the right). Cost: about 2·log2(count) Rot (exactly
    /// `log2(count)` when count is a power of two), no level.
    fn inner_sum(
        &self,
        a: &Self::Ciphertext,
        stride: i64,
        count: usize,
    ) -> Result<Self::Ciphertext> {
        if count == 0 {
            return Err(Error::invalid("inner_sum over zero elements"));
        }
        // cur holds block sums of 2^i consecutive strided elements; acc collects the bits of count.
        let mut cur = a.clone();
        let mut acc: Option<Self::Ciphertext> = None;
        let mut shift = 0i64;
        let mut i = 0;
        while (count >> i) != 0 {
            let pow = 1i64 << i;
            let more = (count >> (i + 1)) != 0;
            if count & (1 << i) != 0 {
                let part = if shift == 0 {
                    cur.clone()
                } else {
                    self.rotate(&cur, RotStep(shift * stride))?
                };
                acc = Some(match acc {
                    None => part,
                    Some(x) => self.add(&x, &part)?,
                });
                shift += pow;
            }
            if more {
                let r = self.rotate(&cur, RotStep(pow * stride))?;
                cur = self.add(&cur, &r)?;
            }
            i += 1;
        }
        acc.ok_or_else(|| Error::invalid("inner_sum: empty"))
    }

    /// Every slot holds the sum of all slots. `log2(slots)` Rot, no level.
    fn sum_slots(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        self.inner_sum(a, 1, self.slots())
    }

    /// Slot `t` holds `Σ_{j < count} a[t - j·stride]`: copies a block that is non-zero only in its
    /// first `stride` slots into the next `count - 1` blocks. `log2(count)` Rot for a power of two.
    fn replicate(
        &self,
        a: &Self::Ciphertext,
        stride: usize,
        count: usize,
    ) -> Result<Self::Ciphertext> {
        self.inner_sum(a, -(stride as i64), count)
    }

    /// The real part of every slot: `(a + conj(a)) / 2`, computed as `a + conj(a)` followed by an
    /// exact halving folded into nothing: the result holds `2·Re(a)` unless `halve` is set, in
    /// which case a constant multiply (one level) divides by two. 1 Conj.
    fn real_part(&self, a: &Self::Ciphertext, halve: bool) -> Result<Self::Ciphertext> {
        let s = self.add(a, &self.conjugate(a)?)?;
        if halve {
            self.mul_scalar(&s, 0.5)
        } else {
            Ok(s)
        }
    }

    /// `M a` for a matrix given by its diagonals, by baby-step giant-step with hoisted baby steps:
    /// `Σ_j rot(Σ_i rot(d_{j·n1+i}, -j·n1) ⊙ rot(a, i), j·n1)`. Depth 1 (one rescale); #diagonals
    /// CMult; (n1 - 1) hoisted Rot plus one Rot per non-zero giant step, at most.
    fn linear_transform(&self, a: &Self::Ciphertext, m: &Diagonals) -> Result<Self::Ciphertext> {
        let n = self.slots();
        if m.slots() != n {
            return Err(Error::invalid(format!(
                "transform on {} slots for {} slots",
                m.slots(),
                n
            )));
        }
        if m.diagonals.is_empty() {
            return Err(Error::invalid("linear transform with no diagonals"));
        }
        let n1 = m.baby_steps();
        let mut babies: Vec<usize> = m
            .diagonals
            .keys()
            .map(|k| k % n1)
            .filter(|&i| i != 0)
            .collect();
        babies.sort_unstable();
        babies.dedup();
        let steps: Vec<RotStep> = babies.iter().map(|&i| RotStep(i as i64)).collect();
        let rotated = self.rotate_hoisted(a, &steps)?;
        let baby = |i: usize| -> &Self::Ciphertext {
            if i == 0 {
                a
            } else {
                &rotated[babies.binary_search(&i).unwrap_or(0)]
            }
        };
        let mut giants: BTreeMap<usize, Vec<(usize, &Vec<Complex64>)>> = BTreeMap::new();
        for (&k, d) in &m.diagonals {
            giants.entry(k - k % n1).or_default().push((k % n1, d));
        }
        let level = a.level();
        let mut total: Option<Self::Ciphertext> = None;
        for (j, terms) in giants {
            let mut inner: Option<Self::Ciphertext> = None;
            for (i, d) in terms {
                // rot(d, -j) so that rotating the product by j lines it up again.
                let rd: Vec<Complex64> = (0..n).map(|t| d[(t + n - j) % n]).collect();
                let p = self.encode_at(&rd, level)?;
                let term = self.mul_plain(baby(i), &p)?;
                inner = Some(match inner {
                    None => term,
                    Some(x) => self.add(&x, &term)?,
                });
            }
            let inner = inner.ok_or_else(|| Error::invalid("empty giant step"))?;
            let g = if j == 0 {
                inner
            } else {
                self.rotate(&inner, RotStep(j as i64))?
            };
            total = Some(match total {
                None => g,
                Some(x) => self.add(&x, &g)?,
            });
        }
        self.rescale(&total.ok_or_else(|| Error::invalid("empty transform"))?)
    }
}

impl<E: Evaluator + ?Sized> EvaluatorExt for E {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{MockClient, MockEvaluator, MockParams};
    use crate::{Decryptor, Encryptor, KeyGenerator, KeyRequest};

    fn setup(slots: usize) -> (MockClient, MockEvaluator) {
        let c = MockClient::new(MockParams::ideal(slots, 4, 40.0), 3);
        let k = c.unrestricted_keys();
        (c, MockEvaluator::new(k))
    }

    #[test]
    fn inner_sum_any_count_matches_reference() {
        let (mut c, e) = setup(32);
        let x: Vec<f64> = (0..32).map(|i| (i * i % 7) as f64 - 3.0).collect();
        let ct = c.encrypt_real(&x, Level(4)).unwrap();
        for stride in [1i64, 2, 3, -1, -4] {
            for count in 1..=9usize {
                let got = c
                    .decrypt_real(&e.inner_sum(&ct, stride, count).unwrap())
                    .unwrap();
                for t in 0..32 {
                    let want: f64 = (0..count as i64)
                        .map(|j| x[((t as i64 + j * stride).rem_euclid(32)) as usize])
                        .sum();
                    assert!(
                        (got[t] - want).abs() < 1e-9,
                        "stride {stride} count {count} slot {t}"
                    );
                }
            }
        }
    }

    #[test]
    fn inner_sum_uses_exactly_its_declared_rotations() {
        for stride in [1i64, 4, -2] {
            for count in 1..=17usize {
                let (mut c, _) = setup(64);
                let req = KeyRequest {
                    rotations: inner_sum_rotations(stride, count),
                    ..KeyRequest::default()
                };
                let e = MockEvaluator::new(c.generate_evaluation_keys(&req).unwrap());
                let ct = c.encrypt_real(&[1.0; 64], Level(4)).unwrap();
                let s = e.inner_sum(&ct, stride, count).unwrap();
                assert_eq!(c.decrypt_real(&s).unwrap()[0], count as f64);
            }
        }
    }

    #[test]
    fn linear_transform_matches_dense_product() {
        let n = 16;
        let (mut c, e) = setup(n);
        let m: Vec<Complex64> = (0..n * n)
            .map(|i| Complex64::new(((i * 7) % 5) as f64 - 2.0, ((i * 3) % 4) as f64 * 0.5))
            .collect();
        let d = Diagonals::from_dense(n, &m).unwrap();
        let x: Vec<Complex64> = (0..n)
            .map(|i| Complex64::new(i as f64 * 0.1, -(i as f64) * 0.05))
            .collect();
        let ct = c.encrypt_values(&x, Level(4)).unwrap();
        let y = e.linear_transform(&ct, &d).unwrap();
        assert_eq!(y.level(), Level(3));
        let got = c.decrypt_values(&y).unwrap();
        for t in 0..n {
            let want: Complex64 = (0..n).map(|j| m[t * n + j] * x[j]).sum();
            assert!((got[t] - want).norm() < 1e-9);
            assert!((d.apply(&x)[t] - want).norm() < 1e-9);
        }
    }
}
