//! [`CkksEvaluator`]: the server side. It holds evaluation keys only and cannot decrypt.

use crate::ciphertext::{Ciphertext, Plaintext};
use crate::encoder::{CkksEncoder, delegate_encoder};
use crate::keys::{EvaluationKeys, SwitchingKey};
use crate::keyswitch::{self, Decomposed};
use crate::params::CkksParams;
use crate::ring::{self, zip_limbs};
use hetal_traits::{
    BootstrapInfo, Complex64, Encoder, Error, Evaluator, Level, Operation, Result, RotStep, Scale,
    drop_scale_factor, evaluator::drop_plan,
};
use std::borrow::Cow;
use std::sync::Arc;

/// One limb of each of the three tensor-product outputs, with its position.
type TensorLimbs<'a> = (usize, ((&'a mut [u64], &'a mut [u64]), &'a mut [u64]));

/// The server: homomorphic operations with a set of evaluation keys.
#[derive(Clone, Debug)]
pub struct CkksEvaluator {
    pub(crate) enc: CkksEncoder,
    pub(crate) keys: Arc<EvaluationKeys>,
    pool: Option<Arc<rayon::ThreadPool>>,
}

delegate_encoder!(CkksEvaluator);

impl CkksEvaluator {
    fn cannot_bootstrap() -> Error {
        Error::BootstrapUnavailable {
            reason: "the leveled evaluator cannot bootstrap: use hetal_ckks::bootstrap::{generate_bootstrap_keys, BootstrappingEvaluator} with a bootstrappable preset from hetal_ckks::bootstrap::presets".into(),
        }
    }

    /// An evaluator for `keys`, which must belong to `params`.
    pub fn new(params: CkksParams, keys: EvaluationKeys) -> Result<Self> {
        if keys.params_id != params.id {
            return Err(Error::mismatch("evaluation keys from other parameters"));
        }
        Ok(CkksEvaluator {
            enc: CkksEncoder::new(params),
            keys: Arc::new(keys),
            pool: None,
        })
    }

    /// Runs every operation inside `pool` (e.g. a one-thread pool for single-threaded timing).
    /// Without it, operations use rayon's global pool (which honours `RAYON_NUM_THREADS`).
    pub fn with_thread_pool(mut self, pool: Arc<rayon::ThreadPool>) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Runs operations on a dedicated pool of `threads` threads.
    pub fn with_threads(self, threads: usize) -> Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::invalid(format!("thread pool: {e}")))?;
        Ok(self.with_thread_pool(Arc::new(pool)))
    }

    /// The parameter set.
    pub fn params(&self) -> &CkksParams {
        &self.enc.params
    }

    /// The evaluation keys.
    pub fn keys(&self) -> &EvaluationKeys {
        &self.keys
    }

    pub(crate) fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    fn p(&self) -> &CkksParams {
        &self.enc.params
    }

    pub(crate) fn check_ct(&self, a: &Ciphertext) -> Result<()> {
        if a.params_id != self.p().id {
            return Err(Error::mismatch("ciphertext from other parameters"));
        }
        if a.key_id != self.keys.key_id {
            return Err(Error::mismatch(
                "ciphertext encrypted under a key these evaluation keys do not belong to",
            ));
        }
        // Ciphertexts deserialised inside larger messages are checked for their structure only.
        let len = self.p().n * (a.level + 1);
        if a.level > self.p().max_level() || a.c0.len() != len || a.c1.len() != len {
            return Err(Error::invalid(format!(
                "malformed ciphertext: level {}, {} and {} residues",
                a.level,
                a.c0.len(),
                a.c1.len()
            )));
        }
        Ok(())
    }

    fn check_pt(&self, a: &Ciphertext, pt: &Plaintext, op: Operation) -> Result<()> {
        if pt.params_id != self.p().id {
            return Err(Error::mismatch("plaintext encoded under other parameters"));
        }
        if pt.level < a.level {
            return Err(Error::LevelMismatch {
                op,
                expected: Level(a.level as u32),
                actual: Level(pt.level as u32),
            });
        }
        Ok(())
    }

    fn need_level(a: &Ciphertext, op: Operation) -> Result<()> {
        if a.level == 0 {
            Err(Error::LevelExhausted {
                op,
                level: Level(0),
            })
        } else {
            Ok(())
        }
    }

    /// Both operands at the lower of their levels; borrowed (no copy) when already there.
    fn aligned<'a>(
        &self,
        a: &'a Ciphertext,
        b: &'a Ciphertext,
    ) -> Result<(Cow<'a, Ciphertext>, Cow<'a, Ciphertext>)> {
        self.check_ct(a)?;
        self.check_ct(b)?;
        let l = a.level.min(b.level);
        let at = |x: &'a Ciphertext| -> Result<Cow<'a, Ciphertext>> {
            if x.level == l {
                Ok(Cow::Borrowed(x))
            } else {
                Ok(Cow::Owned(self.drop_impl(x, Level(l as u32))?))
            }
        };
        Ok((at(a)?, at(b)?))
    }

    fn addsub(&self, a: &Ciphertext, b: &Ciphertext, sub: bool) -> Result<Ciphertext> {
        let (a, b) = self.aligned(a, b)?;
        if !Scale(a.scale).matches(Scale(b.scale)) {
            return Err(Error::ScaleMismatch {
                op: Operation::Add,
                lhs: Scale(a.scale),
                rhs: Scale(b.scale),
            });
        }
        let basis = ring::q_basis(a.level);
        let p = self.p();
        let f = if sub { ring::sub } else { ring::add };
        let (c0, c1) = rayon::join(|| f(p, &a.c0, &b.c0, &basis), || f(p, &a.c1, &b.c1, &basis));
        Ok(Ciphertext { c0, c1, ..*a })
    }

    fn addsub_plain(&self, a: &Ciphertext, pt: &Plaintext, sub: bool) -> Result<Ciphertext> {
        self.check_ct(a)?;
        self.check_pt(a, pt, Operation::Add)?;
        if !Scale(a.scale).matches(Scale(pt.scale)) {
            return Err(Error::ScaleMismatch {
                op: Operation::Add,
                lhs: Scale(a.scale),
                rhs: Scale(pt.scale),
            });
        }
        let basis = ring::q_basis(a.level);
        let p = self.p();
        let f = if sub { ring::sub } else { ring::add };
        let (c0, c1) = rayon::join(
            || f(p, &a.c0, &pt.data, &basis),
            || ring::copy(p, &a.c1, &basis),
        );
        Ok(Ciphertext { c0, c1, ..*a })
    }

    /// The NTT-domain polynomial `re + im·X^(N/2)` (the constant `re + i·im` in every slot) over
    /// `0..=level`, for integer-valued `re`, `im`.
    fn constant_poly(&self, re: f64, im: f64, level: usize) -> Vec<u64> {
        let p = self.p();
        let n = p.n;
        let basis = ring::q_basis(level);
        let mut out = vec![0u64; n * basis.len()];
        ring::for_each_limb(&mut out, n, &basis, |_, g, limb| {
            let m = p.moduli[g];
            let r = m.from_f64(re);
            let i = m.from_f64(im);
            let is = m.shoup(i);
            for (x, &mono) in limb.iter_mut().zip(&p.monomial_i[g]) {
                *x = m.add(r, m.mul_shoup(mono, i, is));
            }
        });
        out
    }

    fn drop_impl(&self, a: &Ciphertext, level: Level) -> Result<Ciphertext> {
        let t = level.index();
        if t > a.level {
            return Err(Error::LevelMismatch {
                op: Operation::DropLevel,
                expected: Level(a.level as u32),
                actual: level,
            });
        }
        if t == a.level {
            return Ok(a.clone());
        }
        let p = self.p();
        let from = Level(a.level as u32);
        // Keep q_0 .. q_{t+j}, multiply by k ≈ q_{t+1}···q_{t+j}·Δ_t/Δ_from, rescale by the j
        // primes (drop_plan picks j so that k ≥ 2^32 and the scale stays canonical).
        let (j, k) = drop_plan(self, from, level);
        let top = t + j as usize;
        let basis = ring::q_basis(top);
        let factors: Vec<u64> = basis.iter().map(|&g| p.moduli[g].from_f64(k)).collect();
        let mut c0 = ring::mul_scalar(p, &a.c0, &factors, &basis);
        let mut c1 = ring::mul_scalar(p, &a.c1, &factors, &basis);
        for l in (t + 1..=top).rev() {
            let r0 = ring::rescale(p, &c0, l);
            let r1 = ring::rescale(p, &c1, l);
            ring::scratch::give(std::mem::replace(&mut c0, r0));
            ring::scratch::give(std::mem::replace(&mut c1, r1));
        }
        let scale = a.scale * drop_scale_factor(self, from, level);
        Ok(Ciphertext {
            c0,
            c1,
            level: t,
            scale,
            ..*a
        })
    }

    fn relin_key(&self) -> Result<&SwitchingKey> {
        self.keys
            .relin
            .as_ref()
            .ok_or(Error::MissingRelinearizationKey)
    }

    fn mul_impl(&self, a: &Ciphertext, b: &Ciphertext, square: bool) -> Result<Ciphertext> {
        let (a, b) = if square {
            self.check_ct(a)?;
            (Cow::Borrowed(a), Cow::Borrowed(a))
        } else {
            self.aligned(a, b)?
        };
        Self::need_level(&a, Operation::Mul)?;
        let key = self.relin_key()?;
        let p = self.p();
        let n = p.n;
        let l = a.level;
        let basis = ring::q_basis(l);
        let mut d0 = ring::uninit_limbs(p, &basis);
        let mut d1 = ring::uninit_limbs(p, &basis);
        let mut d2 = ring::uninit_limbs(p, &basis);
        {
            use rayon::prelude::*;
            let work = |(pos, ((x0, x1), x2)): TensorLimbs<'_>| {
                let m = p.moduli[basis[pos]];
                let r = pos * n..(pos + 1) * n;
                let (a0, a1, b0, b1) = (
                    &a.c0[r.clone()],
                    &a.c1[r.clone()],
                    &b.c0[r.clone()],
                    &b.c1[r],
                );
                if crate::simd::tensor_small(m.q, [a0, a1], [b0, b1], [x0, x1, x2]) {
                    return;
                }
                if m.is_small() {
                    for c in 0..n {
                        x0[c] = m.mul_small(a0[c], b0[c]);
                        x1[c] = m.add(m.mul_small(a0[c], b1[c]), m.mul_small(a1[c], b0[c]));
                        x2[c] = m.mul_small(a1[c], b1[c]);
                    }
                } else {
                    for c in 0..n {
                        x0[c] = m.mul(a0[c], b0[c]);
                        x1[c] = m.reduce_u128(
                            a0[c] as u128 * b1[c] as u128 + a1[c] as u128 * b0[c] as u128,
                        );
                        x2[c] = m.mul(a1[c], b1[c]);
                    }
                }
            };
            if d0.len() >= 1 << 15 && rayon::current_num_threads() > 1 {
                d0.par_chunks_mut(n)
                    .zip(d1.par_chunks_mut(n))
                    .zip(d2.par_chunks_mut(n))
                    .enumerate()
                    .for_each(work);
            } else {
                d0.chunks_mut(n)
                    .zip(d1.chunks_mut(n))
                    .zip(d2.chunks_mut(n))
                    .enumerate()
                    .for_each(work);
            }
        }
        let [k0, k1] = keyswitch::key_switch(p, &d2, l, key);
        ring::add_assign(p, &mut d0, &k0, &basis);
        ring::add_assign(p, &mut d1, &k1, &basis);
        ring::scratch::give(d2);
        ring::scratch::give(k0);
        ring::scratch::give(k1);
        Ok(Ciphertext {
            params_id: a.params_id,
            key_id: a.key_id,
            level: a.level,
            c0: d0,
            c1: d1,
            scale: a.scale * b.scale,
        })
    }

    pub(crate) fn galois_key(&self, step: RotStep) -> Result<Option<(usize, &SwitchingKey)>> {
        let slots = self.p().slots;
        let k = step.normalized(slots);
        if k == 0 {
            return Ok(None);
        }
        let g = self.p().galois_element(k);
        match self.keys.rotations.get(&g) {
            Some(key) => Ok(Some((g, key))),
            None => Err(Error::MissingRotationKey {
                step,
                normalized: k,
            }),
        }
    }

    /// Applies the automorphism `g` with its key to a ciphertext whose `c1` is already decomposed.
    pub(crate) fn automorphism_hoisted(
        &self,
        a: &Ciphertext,
        dec: &Decomposed,
        g: usize,
        key: &SwitchingKey,
    ) -> Ciphertext {
        let p = self.p();
        let l = a.level;
        let table = p.galois_table(g);
        let [k0, k1] = keyswitch::inner_product(p, dec, key, Some(&table));
        let mut c0 = keyswitch::mod_down(p, &k0, l);
        let c1 = keyswitch::mod_down(p, &k1, l);
        ring::scratch::give(k0);
        ring::scratch::give(k1);
        let basis = ring::q_basis(l);
        zip_limbs(&mut c0, &a.c0, p.n, &basis, |_, g, o, x| {
            let m = p.moduli[g];
            for (u, &t) in o.iter_mut().zip(table.iter()) {
                *u = m.add(*u, x[t as usize]);
            }
        });
        Ciphertext { c0, c1, ..*a }
    }

    /// Decomposes `c1` of a ciphertext for hoisted automorphisms.
    pub fn decompose(&self, a: &Ciphertext) -> Result<Decomposed> {
        self.check_ct(a)?;
        Ok(self.run(|| keyswitch::decompose(self.p(), &a.c1, a.level)))
    }

    /// A rotation from a decomposition made by [`CkksEvaluator::decompose`] of the same ciphertext.
    pub fn rotate_decomposed(
        &self,
        a: &Ciphertext,
        dec: &Decomposed,
        step: RotStep,
    ) -> Result<Ciphertext> {
        self.check_ct(a)?;
        if dec.level != a.level {
            return Err(Error::LevelMismatch {
                op: Operation::Rotate,
                expected: Level(a.level as u32),
                actual: Level(dec.level as u32),
            });
        }
        match self.galois_key(step)? {
            None => Ok(a.clone()),
            Some((g, key)) => Ok(self.run(|| self.automorphism_hoisted(a, dec, g, key))),
        }
    }
}

impl Evaluator for CkksEvaluator {
    type Ciphertext = Ciphertext;

    fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.run(|| self.addsub(a, b, false))
    }

    fn sub(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.run(|| self.addsub(a, b, true))
    }

    fn neg(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.check_ct(a)?;
        let basis = ring::q_basis(a.level);
        let p = self.p();
        let (c0, c1) = self.run(|| {
            rayon::join(
                || ring::neg(p, &a.c0, &basis),
                || ring::neg(p, &a.c1, &basis),
            )
        });
        Ok(Ciphertext { c0, c1, ..*a })
    }

    fn add_plain(&self, a: &Ciphertext, p: &Plaintext) -> Result<Ciphertext> {
        self.run(|| self.addsub_plain(a, p, false))
    }

    fn sub_plain(&self, a: &Ciphertext, p: &Plaintext) -> Result<Ciphertext> {
        self.run(|| self.addsub_plain(a, p, true))
    }

    fn add_const(&self, a: &Ciphertext, c: Complex64) -> Result<Ciphertext> {
        self.check_ct(a)?;
        if !c.re.is_finite() || !c.im.is_finite() {
            return Err(Error::invalid("non-finite constant"));
        }
        let (re, im) = ((c.re * a.scale).round(), (c.im * a.scale).round());
        self.run(|| {
            let k = self.constant_poly(re, im, a.level);
            let basis = ring::q_basis(a.level);
            let c0 = ring::add(self.p(), &a.c0, &k, &basis);
            let c1 = ring::copy(self.p(), &a.c1, &basis);
            Ok(Ciphertext { c0, c1, ..*a })
        })
    }

    fn mul(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.run(|| self.mul_impl(a, b, false))
    }

    fn square(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.run(|| self.mul_impl(a, a, true))
    }

    fn mul_plain(&self, a: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext> {
        self.check_ct(a)?;
        self.check_pt(a, pt, Operation::MulPlain)?;
        Self::need_level(a, Operation::MulPlain)?;
        self.run(|| {
            let basis = ring::q_basis(a.level);
            let p = self.p();
            let (c0, c1) = rayon::join(
                || ring::mul(p, &a.c0, &pt.data, &basis),
                || ring::mul(p, &a.c1, &pt.data, &basis),
            );
            Ok(Ciphertext {
                c0,
                c1,
                scale: a.scale * pt.scale,
                ..*a
            })
        })
    }

    fn mul_const(&self, a: &Ciphertext, c: Complex64, const_scale: Scale) -> Result<Ciphertext> {
        self.check_ct(a)?;
        Self::need_level(a, Operation::MulConst)?;
        if !c.re.is_finite() || !c.im.is_finite() || !const_scale.is_valid() {
            return Err(Error::invalid(
                "non-finite constant or invalid constant scale",
            ));
        }
        let (re, im) = (
            (c.re * const_scale.value()).round(),
            (c.im * const_scale.value()).round(),
        );
        let p = self.p();
        let basis = ring::q_basis(a.level);
        self.run(|| {
            let (c0, c1) = if im == 0.0 {
                let f: Vec<u64> = basis.iter().map(|&g| p.moduli[g].from_f64(re)).collect();
                (
                    ring::mul_scalar(p, &a.c0, &f, &basis),
                    ring::mul_scalar(p, &a.c1, &f, &basis),
                )
            } else {
                let k = self.constant_poly(re, im, a.level);
                (
                    ring::mul(p, &a.c0, &k, &basis),
                    ring::mul(p, &a.c1, &k, &basis),
                )
            };
            Ok(Ciphertext {
                c0,
                c1,
                scale: a.scale * const_scale.value(),
                ..*a
            })
        })
    }

    fn mul_integer(&self, a: &Ciphertext, k: i64) -> Result<Ciphertext> {
        self.check_ct(a)?;
        let p = self.p();
        let basis = ring::q_basis(a.level);
        let f: Vec<u64> = basis.iter().map(|&g| p.moduli[g].from_i64(k)).collect();
        let (c0, c1) = self.run(|| {
            (
                ring::mul_scalar(p, &a.c0, &f, &basis),
                ring::mul_scalar(p, &a.c1, &f, &basis),
            )
        });
        Ok(Ciphertext { c0, c1, ..*a })
    }

    fn mul_i(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.check_ct(a)?;
        let p = self.p();
        let basis = ring::q_basis(a.level);
        let mono: Vec<u64> = basis
            .iter()
            .flat_map(|&g| p.monomial_i[g].iter().copied())
            .collect();
        let (c0, c1) = self.run(|| {
            (
                ring::mul(p, &a.c0, &mono, &basis),
                ring::mul(p, &a.c1, &mono, &basis),
            )
        });
        Ok(Ciphertext { c0, c1, ..*a })
    }

    fn rescale(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.check_ct(a)?;
        Self::need_level(a, Operation::Rescale)?;
        let p = self.p();
        let (c0, c1) = self.run(|| {
            rayon::join(
                || ring::rescale(p, &a.c0, a.level),
                || ring::rescale(p, &a.c1, a.level),
            )
        });
        Ok(Ciphertext {
            c0,
            c1,
            level: a.level - 1,
            scale: a.scale / p.moduli[a.level].q as f64,
            ..*a
        })
    }

    fn drop_to_level(&self, a: &Ciphertext, level: Level) -> Result<Ciphertext> {
        self.check_ct(a)?;
        self.run(|| self.drop_impl(a, level))
    }

    fn rotate(&self, a: &Ciphertext, step: RotStep) -> Result<Ciphertext> {
        self.check_ct(a)?;
        match self.galois_key(step)? {
            None => Ok(a.clone()),
            Some((g, key)) => self.run(|| {
                let dec = keyswitch::decompose(self.p(), &a.c1, a.level);
                Ok(self.automorphism_hoisted(a, &dec, g, key))
            }),
        }
    }

    fn rotate_hoisted(&self, a: &Ciphertext, steps: &[RotStep]) -> Result<Vec<Ciphertext>> {
        self.check_ct(a)?;
        let keys: Vec<Option<(usize, &SwitchingKey)>> = steps
            .iter()
            .map(|&s| self.galois_key(s))
            .collect::<Result<_>>()?;
        self.run(|| {
            let dec = if keys.iter().any(|k| k.is_some()) {
                Some(keyswitch::decompose(self.p(), &a.c1, a.level))
            } else {
                None
            };
            Ok(keys
                .iter()
                .map(|k| match (k, &dec) {
                    (Some((g, key)), Some(dec)) => self.automorphism_hoisted(a, dec, *g, key),
                    _ => a.clone(),
                })
                .collect())
        })
    }

    fn conjugate(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.check_ct(a)?;
        let key = self
            .keys
            .conjugation
            .as_ref()
            .ok_or(Error::MissingConjugationKey)?;
        let g = self.p().conjugation_element();
        self.run(|| {
            let dec = keyswitch::decompose(self.p(), &a.c1, a.level);
            Ok(self.automorphism_hoisted(a, &dec, g, key))
        })
    }

    fn has_rotation_key(&self, step: RotStep) -> bool {
        self.galois_key(step).is_ok()
    }

    fn has_conjugation_key(&self) -> bool {
        self.keys.conjugation.is_some()
    }

    fn bootstrap_info(&self) -> Option<BootstrapInfo> {
        None
    }

    fn bootstrap(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.check_ct(a)?;
        Err(Self::cannot_bootstrap())
    }

    fn bootstrap_pair(&self, a: &Ciphertext, b: &Ciphertext) -> Result<(Ciphertext, Ciphertext)> {
        self.check_ct(a)?;
        self.check_ct(b)?;
        Err(Self::cannot_bootstrap())
    }
}

impl CkksEvaluator {
    /// The encoder (for callers that need it without the evaluator's other roles).
    pub fn encoder(&self) -> &CkksEncoder {
        &self.enc
    }

    /// The maximum level as a `usize`.
    pub fn top_level(&self) -> usize {
        self.enc.max_level().index()
    }
}
