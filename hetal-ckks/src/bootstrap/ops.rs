//! [`BootstrapOps`]: the two fused operations the bootstrapping circuit spends its plaintext
//! arithmetic in, with generic defaults over [`Evaluator`] and a CKKS implementation that
//! accumulates every product of a sum in 128 bits and reduces once per coefficient (no
//! intermediate ciphertexts, no copies).

use crate::ciphertext::{Ciphertext, Plaintext};
use crate::evaluator::CkksEvaluator;
use crate::keyswitch;
use crate::params::CkksParams;
use crate::{ring, simd};
use hetal_traits::mock::MockEvaluator;
use hetal_traits::{Complex64, Error, Evaluator, Leveled, Operation, Result, RotStep, Scale};
use rayon::prelude::*;

/// One giant step of a baby-step giant-step transform: the giant rotation (normalised) and its
/// `(baby rotation, plaintext diagonal rotated by −giant)` terms.
pub type GiantStep<P> = (usize, Vec<(usize, P)>);

/// The baby-step giant-step sum `Σ_j rot(Σ_i p_{j,i} ⊙ rot(a, i), j)` (not rescaled) with the
/// baby steps hoisted (one decomposition) and one key switch per giant step, through the
/// evaluator's generic operations; [`BootstrapOps::bsgs_sum`]'s default.
pub fn bsgs_sum_generic<E: BootstrapOps + ?Sized>(
    e: &E,
    a: &E::Ciphertext,
    babies: &[usize],
    giants: &[GiantStep<E::Plaintext>],
) -> Result<E::Ciphertext> {
    let steps: Vec<RotStep> = babies
        .iter()
        .filter(|&&i| i != 0)
        .map(|&i| RotStep(i as i64))
        .collect();
    let rotated = e.rotate_hoisted(a, &steps)?;
    let baby = |i: usize| -> Result<&E::Ciphertext> {
        if i == 0 {
            return Ok(a);
        }
        steps
            .iter()
            .position(|s| s.0 == i as i64)
            .map(|p| &rotated[p])
            .ok_or_else(|| Error::invalid("missing baby step"))
    };
    let mut total: Option<E::Ciphertext> = None;
    for (j, terms) in giants {
        let products: Vec<(&E::Ciphertext, &E::Plaintext)> = terms
            .iter()
            .map(|(i, p)| Ok((baby(*i)?, p)))
            .collect::<Result<_>>()?;
        let inner = e.mul_plain_sum(&products)?;
        let g = if *j == 0 {
            inner
        } else {
            e.rotate(&inner, RotStep(*j as i64))?
        };
        total = Some(match total {
            None => g,
            Some(x) => e.add(&x, &g)?,
        });
    }
    total.ok_or_else(|| Error::invalid("empty transform"))
}

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

    /// The baby-step giant-step sum `Σ_j rot(Σ_i p_{j,i} ⊙ rot(a, i), j)` over the giant
    /// rotations `j` with their `(baby rotation i, plaintext)` terms, not rescaled. `babies` lists
    /// every baby rotation the terms use. The default ([`bsgs_sum_generic`]) hoists
    /// the baby steps and key-switches once per giant step; the CKKS evaluator double-hoists.
    fn bsgs_sum(
        &self,
        a: &Self::Ciphertext,
        babies: &[usize],
        giants: &[GiantStep<Self::Plaintext>],
    ) -> Result<Self::Ciphertext> {
        bsgs_sum_generic(self, a, babies, giants)
    }
}

impl BootstrapOps for MockEvaluator {}

/// An encoder that encodes every plaintext with its residues modulo the special primes as well
/// ([`crate::CkksEncoder::encode_with_p`]), for the DFT diagonals that the double-hoisted
/// [`BootstrapOps::bsgs_sum`] of [`CkksEvaluator`] multiplies in the extended basis.
pub struct QpEncoder<'a>(pub &'a CkksEvaluator);

impl hetal_traits::Encoder for QpEncoder<'_> {
    type Plaintext = Plaintext;
    fn slots(&self) -> usize {
        self.0.slots()
    }
    fn max_level(&self) -> hetal_traits::Level {
        self.0.max_level()
    }
    fn prime(&self, level: hetal_traits::Level) -> f64 {
        self.0.prime(level)
    }
    fn canonical_scale(&self, level: hetal_traits::Level) -> Scale {
        self.0.canonical_scale(level)
    }
    fn encode(
        &self,
        values: &[Complex64],
        level: hetal_traits::Level,
        scale: Scale,
    ) -> Result<Plaintext> {
        self.0.encoder().encode_with_p(values, level, scale, true)
    }
    fn decode(&self, pt: &Plaintext) -> Result<Vec<Complex64>> {
        self.0.decode(pt)
    }
}

/// `o0[c] = Σ_t k_t·x0_t[c]`, `o1[c] = Σ_t k_t·x1_t[c]` modulo `m` (at most [`REDUCE_EVERY`]
/// terms), accumulators in registers.
fn sum_const_products_limb(
    m: &crate::arith::Modulus,
    x0: &[&[u64]],
    x1: &[&[u64]],
    k: &[u64],
    o0: &mut [u64],
    o1: &mut [u64],
) {
    debug_assert!(x0.len() <= REDUCE_EVERY && x0.len() == x1.len() && x0.len() == k.len());
    let n = o0.len().min(o1.len());
    let x0: Vec<&[u64]> = x0.iter().map(|s| &s[..n]).collect();
    let x1: Vec<&[u64]> = x1.iter().map(|s| &s[..n]).collect();
    for c in 0..n {
        let (mut s0, mut s1) = (0u128, 0u128);
        for t in 0..k.len() {
            let w = k[t] as u128;
            s0 += x0[t][c] as u128 * w;
            s1 += x1[t][c] as u128 * w;
        }
        o0[c] = m.reduce_u128(s0);
        o1[c] = m.reduce_u128(s1);
    }
}

/// [`sum_products_limb`] for any number of terms: chunks of [`REDUCE_EVERY`] summed modulo `m`.
fn sum_products_chunked(
    m: &crate::arith::Modulus,
    x0: &[&[u64]],
    x1: &[&[u64]],
    y: &[&[u64]],
    o0: &mut [u64],
    o1: &mut [u64],
) {
    let mut first = true;
    let (mut t0, mut t1) = (Vec::new(), Vec::new());
    for ((a, b), c) in x0
        .chunks(REDUCE_EVERY)
        .zip(x1.chunks(REDUCE_EVERY))
        .zip(y.chunks(REDUCE_EVERY))
    {
        if first {
            sum_products_limb(m, a, b, c, o0, o1);
            first = false;
        } else {
            t0.resize(o0.len(), 0);
            t1.resize(o1.len(), 0);
            sum_products_limb(m, a, b, c, &mut t0, &mut t1);
            simd::add_assign(m.q, o0, &t0);
            simd::add_assign(m.q, o1, &t1);
        }
    }
}

/// `P·x` in the extended basis of level `l`: `P·x_j` on the limbs of `Q_l`, zero on those of `P`.
fn lift_by_p(p: &CkksParams, x: &[u64], l: usize) -> Vec<u64> {
    let n = p.n;
    let ext = p.qp_indices(l);
    let mut out = ring::uninit_limbs(p, &ext);
    for (pos, limb) in out.chunks_mut(n).enumerate() {
        if pos <= l {
            let m = p.moduli[pos];
            let c = simd::ShoupConst::new(&m, p.p_mod_q[pos]);
            simd::mul_const_to(&m, limb, &x[pos * n..(pos + 1) * n], c);
        } else {
            limb.fill(0);
        }
    }
    out
}

/// `acc[c] += P·x[table[c]]` on the `Q_l` limbs (the `P` limbs of `P·x` are zero).
fn add_lifted_permuted(p: &CkksParams, acc: &mut [u64], x: &[u64], table: &[u32], l: usize) {
    let n = p.n;
    for pos in 0..=l {
        let m = p.moduli[pos];
        let (w, ws) = (p.p_mod_q[pos], m.shoup(p.p_mod_q[pos]));
        let xl = &x[pos * n..(pos + 1) * n];
        for (u, &t) in acc[pos * n..(pos + 1) * n].iter_mut().zip(table) {
            *u = m.add(*u, m.mul_shoup(xl[t as usize], w, ws));
        }
    }
}

/// `acc[c] += x[table[c]]` on every limb of the extended basis.
fn add_permuted(p: &CkksParams, acc: &mut [u64], x: &[u64], table: &[u32], ext: &[usize]) {
    let n = p.n;
    ring::zip_limbs(acc, x, n, ext, |_, g, o, xl| {
        let m = p.moduli[g];
        for (u, &t) in o.iter_mut().zip(table) {
            *u = m.add(*u, xl[t as usize]);
        }
    });
}

/// `(Σ_t x_t.0 ⊙ pt_t, Σ_t x_t.1 ⊙ pt_t)` over the extended basis `ext` (lazy 128-bit sums).
fn qp_sum(p: &CkksParams, terms: &[(&[Vec<u64>; 2], &Plaintext)], ext: &[usize]) -> [Vec<u64>; 2] {
    let mut c0 = ring::uninit_limbs(p, ext);
    let mut c1 = ring::uninit_limbs(p, ext);
    let terms: Vec<[&[u64]; 3]> = terms
        .iter()
        .map(|(x, pt)| [&x[0][..], &x[1][..], &pt.data[..]])
        .collect();
    sum_products_limbwise(p, ext, &terms, &mut c0, &mut c1);
    [c0, c1]
}

/// `c0 = Σ_t a_t ⊙ y_t`, `c1 = Σ_t b_t ⊙ y_t` for terms `[a_t, b_t, y_t]`, limb `pos` modulo the
/// prime `basis[pos]` (lazy 128-bit sums), in parallel over the limbs when the pool has threads.
fn sum_products_limbwise(
    p: &CkksParams,
    basis: &[usize],
    terms: &[[&[u64]; 3]],
    c0: &mut [u64],
    c1: &mut [u64],
) {
    let n = p.n;
    let work = |(pos, (o0, o1)): (usize, (&mut [u64], &mut [u64]))| {
        let m = p.moduli[basis[pos]];
        let r = pos * n..(pos + 1) * n;
        let x0: Vec<&[u64]> = terms.iter().map(|t| &t[0][r.clone()]).collect();
        let x1: Vec<&[u64]> = terms.iter().map(|t| &t[1][r.clone()]).collect();
        let y: Vec<&[u64]> = terms.iter().map(|t| &t[2][r.clone()]).collect();
        sum_products_chunked(&m, &x0, &x1, &y, o0, o1);
    };
    if rayon::current_num_threads() > 1 {
        c0.par_chunks_mut(n)
            .zip(c1.par_chunks_mut(n))
            .enumerate()
            .for_each(work);
    } else {
        c0.chunks_mut(n)
            .zip(c1.chunks_mut(n))
            .enumerate()
            .for_each(work);
    }
}

/// Products are below `2^122`; reducing every 32 terms keeps the 128-bit accumulator exact.
const REDUCE_EVERY: usize = 32;

/// `o0[c] = Σ_t x0_t[c]·y_t[c]`, `o1[c] = Σ_t x1_t[c]·y_t[c]` modulo `m` (at most
/// [`REDUCE_EVERY`] terms, every value below 2^61), with the two 128-bit accumulators in
/// registers.
fn sum_products_limb(
    m: &crate::arith::Modulus,
    x0: &[&[u64]],
    x1: &[&[u64]],
    y: &[&[u64]],
    o0: &mut [u64],
    o1: &mut [u64],
) {
    debug_assert!(x0.len() <= REDUCE_EVERY && x0.len() == x1.len() && x0.len() == y.len());
    let n = o0.len().min(o1.len());
    let x0: Vec<&[u64]> = x0.iter().map(|s| &s[..n]).collect();
    let x1: Vec<&[u64]> = x1.iter().map(|s| &s[..n]).collect();
    let y: Vec<&[u64]> = y.iter().map(|s| &s[..n]).collect();
    for c in 0..n {
        let (mut s0, mut s1) = (0u128, 0u128);
        for t in 0..y.len() {
            let w = y[t][c] as u128;
            s0 += x0[t][c] as u128 * w;
            s1 += x1[t][c] as u128 * w;
        }
        o0[c] = m.reduce_u128(s0);
        o1[c] = m.reduce_u128(s1);
    }
}

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
    fn bsgs_sum(
        &self,
        a: &Ciphertext,
        babies: &[usize],
        giants: &[GiantStep<Plaintext>],
    ) -> Result<Ciphertext> {
        let p = self.params();
        self.check_ct(a)?;
        let qp_len = p.qp_indices(a.level).len() * p.n;
        let extended = !giants.is_empty()
            && giants.iter().all(|(_, t)| !t.is_empty())
            && giants.iter().flat_map(|(_, t)| t).all(|(_, pt)| {
                pt.params_id == p.id && pt.level == a.level && pt.data.len() == qp_len
            });
        if extended && a.level > 0 {
            self.bsgs_sum_double_hoisted(a, babies, giants)
        } else {
            bsgs_sum_generic(self, a, babies, giants)
        }
    }

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
        let limbs = first.level + 1;
        let mut c0 = ring::scratch::take_dirty(p.n * limbs);
        let mut c1 = ring::scratch::take_dirty(p.n * limbs);
        let parts: Vec<[&[u64]; 3]> = terms
            .iter()
            .map(|(a, pt)| [&a.c0[..], &a.c1[..], &pt.data[..]])
            .collect();
        sum_products_limbwise(p, &ring::q_basis(first.level), &parts, &mut c0, &mut c1);
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
        let mut c0 = ring::scratch::take_dirty(n * limbs);
        let mut c1 = ring::scratch::take_dirty(n * limbs);
        let work = |(pos, (o0, o1)): (usize, (&mut [u64], &mut [u64]))| {
            let m = p.moduli[pos];
            let ks: Vec<u64> = ints.iter().map(|&k| m.from_f64(k)).collect();
            let r = pos * n..(pos + 1) * n;
            let x0: Vec<&[u64]> = terms.iter().map(|(a, _)| &a.c0[r.clone()]).collect();
            let x1: Vec<&[u64]> = terms.iter().map(|(a, _)| &a.c1[r.clone()]).collect();
            let mut t0 = Vec::new();
            let mut t1 = Vec::new();
            for (ci, ((a, b), k)) in x0
                .chunks(REDUCE_EVERY)
                .zip(x1.chunks(REDUCE_EVERY))
                .zip(ks.chunks(REDUCE_EVERY))
                .enumerate()
            {
                if ci == 0 {
                    sum_const_products_limb(&m, a, b, k, o0, o1);
                } else {
                    t0.resize(n, 0);
                    t1.resize(n, 0);
                    sum_const_products_limb(&m, a, b, k, &mut t0, &mut t1);
                    simd::add_assign(m.q, o0, &t0);
                    simd::add_assign(m.q, o1, &t1);
                }
            }
        };
        if rayon::current_num_threads() > 1 {
            c0.par_chunks_mut(n)
                .zip(c1.par_chunks_mut(n))
                .enumerate()
                .for_each(work);
        } else {
            c0.chunks_mut(n)
                .zip(c1.chunks_mut(n))
                .enumerate()
                .for_each(work);
        }
        Ok(Ciphertext {
            c0,
            c1,
            scale: first.scale * const_scale.value(),
            ..header(first)
        })
    }
}

impl CkksEvaluator {
    /// The double-hoisted baby-step giant-step sum (Bossuat et al., Eurocrypt 2021): the baby
    /// rotations share one decomposition and stay in the extended basis `Q·P` (no ModDown); each
    /// giant sum is taken in `Q·P` with the diagonals' `P` residues; a giant rotation then needs
    /// one ModDown (of `c1` only, for its decomposition; `c0` is permuted in `Q·P`), and all giant
    /// results accumulate in `Q·P` for one final ModDown of the two polynomials.
    ///
    /// Key-switching work for `b` baby and `g` giant rotations: `1 + g` decompositions, `b + g`
    /// inner products, `g + 2` ModDowns (instead of `2(b + g)` with single hoisting).
    fn bsgs_sum_double_hoisted(
        &self,
        a: &Ciphertext,
        babies: &[usize],
        giants: &[GiantStep<Plaintext>],
    ) -> Result<Ciphertext> {
        let p = self.params();
        let l = a.level;
        let ext = p.qp_indices(l);
        let pscale = giants[0].1[0].1.scale;
        for (_, terms) in giants {
            for (_, pt) in terms {
                if !Scale(pt.scale).matches(Scale(pscale)) {
                    return Err(Error::ScaleMismatch {
                        op: Operation::MulPlain,
                        lhs: Scale(pscale),
                        rhs: Scale(pt.scale),
                    });
                }
            }
        }
        let mut baby_keys = Vec::with_capacity(babies.len());
        for &i in babies {
            baby_keys.push(self.galois_key(hetal_traits::RotStep(i as i64))?);
        }
        let mut giant_keys = Vec::with_capacity(giants.len());
        for (j, _) in giants {
            giant_keys.push(self.galois_key(hetal_traits::RotStep(*j as i64))?);
        }
        self.run(|| -> Result<Ciphertext> {
            let dec = baby_keys
                .iter()
                .any(|k| k.is_some())
                .then(|| keyswitch::decompose(p, &a.c1, l));
            let mut baby_ct: Vec<(usize, [Vec<u64>; 2])> = Vec::with_capacity(babies.len());
            for (&i, key) in babies.iter().zip(&baby_keys) {
                let ct = match (key, &dec) {
                    (Some((g, key)), Some(dec)) => {
                        let table = p.galois_table(*g);
                        let [mut k0, k1] = keyswitch::inner_product(p, dec, key, Some(&table));
                        add_lifted_permuted(p, &mut k0, &a.c0, &table, l);
                        [k0, k1]
                    }
                    _ => [lift_by_p(p, &a.c0, l), lift_by_p(p, &a.c1, l)],
                };
                baby_ct.push((i, ct));
            }
            drop(dec);
            let mut acc: Option<[Vec<u64>; 2]> = None;
            for ((_, terms), key) in giants.iter().zip(&giant_keys) {
                let products: Vec<(&[Vec<u64>; 2], &Plaintext)> = terms
                    .iter()
                    .map(|(i, pt)| {
                        baby_ct
                            .iter()
                            .find(|(b, _)| b == i)
                            .map(|(_, ct)| (ct, pt))
                            .ok_or_else(|| Error::invalid("missing baby step"))
                    })
                    .collect::<Result<_>>()?;
                let [u0, u1] = qp_sum(p, &products, &ext);
                let part = match key {
                    None => [u0, u1],
                    Some((g, key)) => {
                        let table = p.galois_table(*g);
                        let x1 = keyswitch::mod_down(p, &u1, l);
                        ring::scratch::give(u1);
                        let dec = keyswitch::decompose(p, &x1, l);
                        ring::scratch::give(x1);
                        let [mut k0, k1] = keyswitch::inner_product(p, &dec, key, Some(&table));
                        add_permuted(p, &mut k0, &u0, &table, &ext);
                        ring::scratch::give(u0);
                        [k0, k1]
                    }
                };
                acc = Some(match acc {
                    None => part,
                    Some([mut s0, mut s1]) => {
                        ring::add_assign(p, &mut s0, &part[0], &ext);
                        ring::add_assign(p, &mut s1, &part[1], &ext);
                        let [x, y] = part;
                        ring::scratch::give(x);
                        ring::scratch::give(y);
                        [s0, s1]
                    }
                });
            }
            for (_, [x, y]) in baby_ct {
                ring::scratch::give(x);
                ring::scratch::give(y);
            }
            let [s0, s1] = acc.ok_or_else(|| Error::invalid("empty transform"))?;
            let c0 = keyswitch::mod_down(p, &s0, l);
            let c1 = keyswitch::mod_down(p, &s1, l);
            ring::scratch::give(s0);
            ring::scratch::give(s1);
            Ok(Ciphertext {
                c0,
                c1,
                scale: a.scale * pscale,
                ..header(a)
            })
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
