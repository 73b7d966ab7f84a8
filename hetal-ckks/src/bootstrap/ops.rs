//! [`BootstrapOps`]: the two fused operations the bootstrapping circuit spends its plaintext
//! arithmetic in, with generic defaults over [`Evaluator`] and a CKKS implementation that
//! accumulates every product of a sum in 128 bits and reduces once per coefficient (no
//! intermediate ciphertexts, no copies).

use crate::ciphertext::{Ciphertext, Plaintext};
use crate::evaluator::CkksEvaluator;
use hetal_traits::mock::MockEvaluator;
use hetal_traits::{Complex64, Error, Evaluator, Leveled, Operation, Result, Scale};
use rayon::prelude::*;

/// Fused sums of products used by the DFTs and EvalMod.
pub trait BootstrapOps: Evaluator {
    /// `Σ_i a_i ⊙ p_i` (not rescaled). All `a_i` at one level and scale, all `p_i` at one scale.
    fn mul_plain_sum(
        &self,
        terms: &[(&Self::Ciphertext, &Self::Plaintext)],
    ) -> Result<Self::Ciphertext> {
        let mut acc: Option<Self::Ciphertext> = None;
        for (a, p) in terms {
            let t = self.mul_plain(a, p)?;
            acc = Some(match acc {
                None => t,
                Some(x) => self.add(&x, &t)?,
            });
        }
        acc.ok_or_else(|| Error::invalid("empty sum of products"))
    }

    /// `Σ_i c_i · a_i` with every real `c_i` encoded at `const_scale` (not rescaled). All `a_i` at
    /// one level and scale.
    fn mul_const_sum(
        &self,
        terms: &[(&Self::Ciphertext, f64)],
        const_scale: Scale,
    ) -> Result<Self::Ciphertext> {
        let mut acc: Option<Self::Ciphertext> = None;
        for (a, c) in terms {
            let t = self.mul_const(a, Complex64::new(*c, 0.0), const_scale)?;
            acc = Some(match acc {
                None => t,
                Some(x) => self.add(&x, &t)?,
            });
        }
        acc.ok_or_else(|| Error::invalid("empty sum of products"))
    }
}

impl BootstrapOps for MockEvaluator {}

/// Products are below `2^122`; reducing every 32 terms keeps the 128-bit accumulator exact.
const REDUCE_EVERY: usize = 32;

fn check_terms(
    first: &Ciphertext,
    others: impl Iterator<Item = (usize, u64, f64)>,
    op: Operation,
) -> Result<()> {
    for (level, key, scale) in others {
        if level != first.level {
            return Err(Error::LevelMismatch {
                op,
                expected: first.level(),
                actual: hetal_traits::Level(level as u32),
            });
        }
        if key != first.key_id {
            return Err(Error::mismatch("ciphertexts under different keys"));
        }
        if !Scale(scale).matches(Scale(first.scale)) {
            return Err(Error::ScaleMismatch {
                op,
                lhs: Scale(first.scale),
                rhs: Scale(scale),
            });
        }
    }
    Ok(())
}

impl BootstrapOps for CkksEvaluator {
    fn mul_plain_sum(&self, terms: &[(&Ciphertext, &Plaintext)]) -> Result<Ciphertext> {
        let Some(&(first, p0)) = terms.first() else {
            return Err(Error::invalid("empty sum of products"));
        };
        let p = self.params();
        if first.params_id != p.id || first.key_id != self.keys().key_id() {
            return Err(Error::mismatch("ciphertext from other parameters or keys"));
        }
        if first.level == 0 {
            return Err(Error::LevelExhausted {
                op: Operation::MulPlain,
                level: first.level(),
            });
        }
        check_terms(
            first,
            terms.iter().map(|(a, _)| (a.level, a.key_id, a.scale)),
            Operation::MulPlain,
        )?;
        for (_, pt) in terms {
            if pt.params_id != p.id {
                return Err(Error::mismatch("plaintext from other parameters"));
            }
            if pt.level < first.level {
                return Err(Error::LevelMismatch {
                    op: Operation::MulPlain,
                    expected: first.level(),
                    actual: pt.level(),
                });
            }
            if !Scale(pt.scale).matches(Scale(p0.scale)) {
                return Err(Error::ScaleMismatch {
                    op: Operation::MulPlain,
                    lhs: Scale(p0.scale),
                    rhs: Scale(pt.scale),
                });
            }
        }
        let n = p.n;
        let limbs = first.level + 1;
        let mut c0 = vec![0u64; n * limbs];
        let mut c1 = vec![0u64; n * limbs];
        let work = |(pos, (o0, o1)): (usize, (&mut [u64], &mut [u64]))| {
            let m = p.moduli[pos];
            const B: usize = 256;
            let mut acc0 = [0u128; B];
            let mut acc1 = [0u128; B];
            let off = pos * n;
            for s in (0..n).step_by(B) {
                let len = B.min(n - s);
                acc0[..len].iter_mut().for_each(|x| *x = 0);
                acc1[..len].iter_mut().for_each(|x| *x = 0);
                for (t, (a, pt)) in terms.iter().enumerate() {
                    let x0 = &a.c0[off + s..off + s + len];
                    let x1 = &a.c1[off + s..off + s + len];
                    let y = &pt.data[off + s..off + s + len];
                    for k in 0..len {
                        acc0[k] += x0[k] as u128 * y[k] as u128;
                        acc1[k] += x1[k] as u128 * y[k] as u128;
                    }
                    if (t + 1) % REDUCE_EVERY == 0 {
                        for k in 0..len {
                            acc0[k] = m.reduce_u128(acc0[k]) as u128;
                            acc1[k] = m.reduce_u128(acc1[k]) as u128;
                        }
                    }
                }
                for k in 0..len {
                    o0[s + k] = m.reduce_u128(acc0[k]);
                    o1[s + k] = m.reduce_u128(acc1[k]);
                }
            }
        };
        c0.par_chunks_mut(n)
            .zip(c1.par_chunks_mut(n))
            .enumerate()
            .for_each(work);
        Ok(Ciphertext {
            c0,
            c1,
            scale: first.scale * p0.scale,
            ..header(first)
        })
    }

    fn mul_const_sum(
        &self,
        terms: &[(&Ciphertext, f64)],
        const_scale: Scale,
    ) -> Result<Ciphertext> {
        let Some(&(first, _)) = terms.first() else {
            return Err(Error::invalid("empty sum of products"));
        };
        let p = self.params();
        if first.params_id != p.id || first.key_id != self.keys().key_id() {
            return Err(Error::mismatch("ciphertext from other parameters or keys"));
        }
        if first.level == 0 {
            return Err(Error::LevelExhausted {
                op: Operation::MulConst,
                level: first.level(),
            });
        }
        if !const_scale.is_valid() || terms.iter().any(|(_, c)| !c.is_finite()) {
            return Err(Error::invalid(
                "non-finite constant or invalid constant scale",
            ));
        }
        check_terms(
            first,
            terms.iter().map(|(a, _)| (a.level, a.key_id, a.scale)),
            Operation::MulConst,
        )?;
        let ints: Vec<f64> = terms
            .iter()
            .map(|(_, c)| (c * const_scale.value()).round())
            .collect();
        let n = p.n;
        let limbs = first.level + 1;
        let mut c0 = vec![0u64; n * limbs];
        let mut c1 = vec![0u64; n * limbs];
        let work = |(pos, (o0, o1)): (usize, (&mut [u64], &mut [u64]))| {
            let m = p.moduli[pos];
            let ks: Vec<u128> = ints.iter().map(|&k| m.from_f64(k) as u128).collect();
            let off = pos * n;
            const B: usize = 256;
            let mut acc0 = [0u128; B];
            let mut acc1 = [0u128; B];
            for s in (0..n).step_by(B) {
                let len = B.min(n - s);
                acc0[..len].iter_mut().for_each(|x| *x = 0);
                acc1[..len].iter_mut().for_each(|x| *x = 0);
                for (t, ((a, _), &k)) in terms.iter().zip(&ks).enumerate() {
                    let x0 = &a.c0[off + s..off + s + len];
                    let x1 = &a.c1[off + s..off + s + len];
                    for j in 0..len {
                        acc0[j] += x0[j] as u128 * k;
                        acc1[j] += x1[j] as u128 * k;
                    }
                    if (t + 1) % REDUCE_EVERY == 0 {
                        for j in 0..len {
                            acc0[j] = m.reduce_u128(acc0[j]) as u128;
                            acc1[j] = m.reduce_u128(acc1[j]) as u128;
                        }
                    }
                }
                for j in 0..len {
                    o0[s + j] = m.reduce_u128(acc0[j]);
                    o1[s + j] = m.reduce_u128(acc1[j]);
                }
            }
        };
        c0.par_chunks_mut(n)
            .zip(c1.par_chunks_mut(n))
            .enumerate()
            .for_each(work);
        Ok(Ciphertext {
            c0,
            c1,
            scale: first.scale * const_scale.value(),
            ..header(first)
        })
    }
}

/// A copy of the identity, level and scale with empty polynomials.
fn header(c: &Ciphertext) -> Ciphertext {
    Ciphertext {
        params_id: c.params_id,
        key_id: c.key_id,
        level: c.level,
        scale: c.scale,
        c0: Vec::new(),
        c1: Vec::new(),
    }
}
