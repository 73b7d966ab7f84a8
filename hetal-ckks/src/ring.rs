//! Limb-wise kernels on RNS polynomials stored limb-major in one `Vec<u64>` (`limbs × N`).
//!
//! A basis is a list of global prime indices into the parameters' combined prime list (`q_0 .. q_L`
//! then the special primes; see [`CkksParams::q_primes`] and [`CkksParams::p_primes`]). Limbs are
//! processed in parallel with rayon when the work is large enough; everything also runs on one
//! thread.

use crate::params::CkksParams;
use rayon::prelude::*;

/// Below this many coefficients a kernel stays on the calling thread.
const PAR_THRESHOLD: usize = 1 << 15;

/// Runs `f(position, global_prime_index, limb)` on every limb.
pub fn for_each_limb<F>(data: &mut [u64], n: usize, basis: &[usize], f: F)
where
    F: Fn(usize, usize, &mut [u64]) + Sync + Send,
{
    debug_assert_eq!(data.len(), n * basis.len());
    if data.len() >= PAR_THRESHOLD && basis.len() > 1 && rayon::current_num_threads() > 1 {
        data.par_chunks_mut(n)
            .enumerate()
            .for_each(|(pos, limb)| f(pos, basis[pos], limb));
    } else {
        data.chunks_mut(n)
            .enumerate()
            .for_each(|(pos, limb)| f(pos, basis[pos], limb));
    }
}

/// Runs `f(position, global_prime_index, out_limb, in_limb)` on every limb pair.
pub fn zip_limbs<F>(out: &mut [u64], inp: &[u64], n: usize, basis: &[usize], f: F)
where
    F: Fn(usize, usize, &mut [u64], &[u64]) + Sync + Send,
{
    debug_assert!(out.len() == n * basis.len() && inp.len() >= out.len());
    if out.len() >= PAR_THRESHOLD && basis.len() > 1 && rayon::current_num_threads() > 1 {
        out.par_chunks_mut(n)
            .zip(inp.par_chunks(n))
            .enumerate()
            .for_each(|(pos, (o, i))| f(pos, basis[pos], o, i));
    } else {
        out.chunks_mut(n)
            .zip(inp.chunks(n))
            .enumerate()
            .for_each(|(pos, (o, i))| f(pos, basis[pos], o, i));
    }
}

/// The chain basis `0..=level`.
pub fn q_basis(level: usize) -> Vec<usize> {
    (0..=level).collect()
}

/// Forward NTT of every limb.
pub fn ntt_forward(p: &CkksParams, data: &mut [u64], basis: &[usize]) {
    for_each_limb(data, p.n, basis, |_, g, limb| p.ntt[g].forward(limb));
}

/// Inverse NTT of every limb.
pub fn ntt_inverse(p: &CkksParams, data: &mut [u64], basis: &[usize]) {
    for_each_limb(data, p.n, basis, |_, g, limb| p.ntt[g].inverse(limb));
}

/// `a += b` limb-wise.
pub fn add_assign(p: &CkksParams, a: &mut [u64], b: &[u64], basis: &[usize]) {
    zip_limbs(a, b, p.n, basis, |_, g, x, y| {
        crate::simd::add_assign(p.moduli[g].q, x, y);
    });
}

/// `a -= b` limb-wise.
pub fn sub_assign(p: &CkksParams, a: &mut [u64], b: &[u64], basis: &[usize]) {
    zip_limbs(a, b, p.n, basis, |_, g, x, y| {
        crate::simd::sub_assign(p.moduli[g].q, x, y);
    });
}

/// `a = -a` limb-wise.
pub fn neg_assign(p: &CkksParams, a: &mut [u64], basis: &[usize]) {
    for_each_limb(a, p.n, basis, |_, g, x| {
        let m = p.moduli[g];
        for u in x.iter_mut() {
            *u = m.neg(*u);
        }
    });
}

/// A buffer for `basis.len()` limbs whose every word the caller overwrites (pooled, not zeroed).
pub fn uninit_limbs(p: &CkksParams, basis: &[usize]) -> Vec<u64> {
    scratch::take_dirty(p.n * basis.len())
}

/// `a + b` limb-wise into a new buffer (one pass, no zeroing).
pub fn add(p: &CkksParams, a: &[u64], b: &[u64], basis: &[usize]) -> Vec<u64> {
    let mut out = uninit_limbs(p, basis);
    zip_limbs2(&mut out, a, b, p.n, basis, |_, g, o, x, y| {
        crate::simd::add_to(p.moduli[g].q, o, x, y)
    });
    out
}

/// `a - b` limb-wise into a new buffer.
pub fn sub(p: &CkksParams, a: &[u64], b: &[u64], basis: &[usize]) -> Vec<u64> {
    let mut out = uninit_limbs(p, basis);
    zip_limbs2(&mut out, a, b, p.n, basis, |_, g, o, x, y| {
        crate::simd::sub_to(p.moduli[g].q, o, x, y)
    });
    out
}

/// `-a` limb-wise into a new buffer.
pub fn neg(p: &CkksParams, a: &[u64], basis: &[usize]) -> Vec<u64> {
    let mut out = uninit_limbs(p, basis);
    zip_limbs(&mut out, a, p.n, basis, |_, g, o, x| {
        crate::simd::neg_to(p.moduli[g].q, o, x)
    });
    out
}

/// `a` limb-wise into a new (pooled) buffer: the first `basis.len()` limbs.
pub fn copy(p: &CkksParams, a: &[u64], basis: &[usize]) -> Vec<u64> {
    let mut out = uninit_limbs(p, basis);
    zip_limbs(&mut out, a, p.n, basis, |_, _, o, x| o.copy_from_slice(x));
    out
}

/// `a ⊙ s_g` (one scalar per limb, each reduced) into a new buffer.
pub fn mul_scalar(p: &CkksParams, a: &[u64], scalars: &[u64], basis: &[usize]) -> Vec<u64> {
    let mut out = uninit_limbs(p, basis);
    zip_limbs(&mut out, a, p.n, basis, |pos, g, o, x| {
        let m = p.moduli[g];
        crate::simd::mul_const_to(&m, o, x, crate::simd::ShoupConst::new(&m, scalars[pos]))
    });
    out
}

/// Runs `f(position, global_prime_index, out_limb, a_limb, b_limb)` on every limb triple.
pub fn zip_limbs2<F>(out: &mut [u64], a: &[u64], b: &[u64], n: usize, basis: &[usize], f: F)
where
    F: Fn(usize, usize, &mut [u64], &[u64], &[u64]) + Sync + Send,
{
    debug_assert!(out.len() == n * basis.len() && a.len() >= out.len() && b.len() >= out.len());
    if out.len() >= PAR_THRESHOLD && basis.len() > 1 && rayon::current_num_threads() > 1 {
        out.par_chunks_mut(n)
            .zip(a.par_chunks(n).zip(b.par_chunks(n)))
            .enumerate()
            .for_each(|(pos, (o, (x, y)))| f(pos, basis[pos], o, x, y));
    } else {
        out.chunks_mut(n)
            .zip(a.chunks(n).zip(b.chunks(n)))
            .enumerate()
            .for_each(|(pos, (o, (x, y)))| f(pos, basis[pos], o, x, y));
    }
}

/// `a ⊙= b` limb-wise (NTT domain).
pub fn mul_assign(p: &CkksParams, a: &mut [u64], b: &[u64], basis: &[usize]) {
    zip_limbs(a, b, p.n, basis, |_, g, x, y| {
        crate::simd::mul_assign(p.moduli[g], x, y)
    });
}

/// `a ⊙ b` into a new buffer (one pass, no zeroing).
pub fn mul(p: &CkksParams, a: &[u64], b: &[u64], basis: &[usize]) -> Vec<u64> {
    let mut out = uninit_limbs(p, basis);
    zip_limbs2(&mut out, a, b, p.n, basis, |_, g, o, x, y| {
        crate::simd::mul_to(p.moduli[g], o, x, y)
    });
    out
}

/// `a ·= s_g` with one scalar per limb (`scalars[position]`, each already reduced).
pub fn mul_scalar_assign(p: &CkksParams, a: &mut [u64], scalars: &[u64], basis: &[usize]) {
    for_each_limb(a, p.n, basis, |pos, g, x| {
        let m = p.moduli[g];
        crate::simd::mul_const_assign(&m, x, crate::simd::ShoupConst::new(&m, scalars[pos]));
    });
}

/// `a += s_g` (a constant polynomial, NTT domain: every evaluation) with one scalar per limb.
pub fn add_scalar_assign(p: &CkksParams, a: &mut [u64], scalars: &[u64], basis: &[usize]) {
    for_each_limb(a, p.n, basis, |pos, g, x| {
        let m = p.moduli[g];
        let w = scalars[pos];
        for u in x.iter_mut() {
            *u = m.add(*u, w);
        }
    });
}

/// Applies an NTT-domain automorphism table: `out[i] = a[table[i]]` on every limb.
pub fn permute(p: &CkksParams, a: &[u64], table: &[u32], limbs: usize) -> Vec<u64> {
    let n = p.n;
    let mut out = vec![0u64; n * limbs];
    let basis: Vec<usize> = (0..limbs).collect();
    zip_limbs(&mut out, a, n, &basis, |_, _, o, i| {
        for (x, &t) in o.iter_mut().zip(table) {
            *x = i[t as usize];
        }
    });
    out
}

/// Signed small coefficients to NTT-domain residues over `basis`.
pub fn small_to_ntt(p: &CkksParams, coeffs: &[i64], basis: &[usize]) -> Vec<u64> {
    let n = p.n;
    let mut out = vec![0u64; n * basis.len()];
    for_each_limb(&mut out, n, basis, |_, g, limb| {
        let m = p.moduli[g];
        for (x, &c) in limb.iter_mut().zip(coeffs) {
            *x = m.from_i64(c);
        }
        p.ntt[g].forward(limb);
    });
    out
}

/// Divides a polynomial at `level` (NTT domain, `level + 1` limbs) by its last prime with
/// rounding, returning `level` limbs.
pub fn rescale(p: &CkksParams, a: &[u64], level: usize) -> Vec<u64> {
    let n = p.n;
    debug_assert!(level >= 1 && a.len() >= (level + 1) * n);
    let mut last = scratch::copy_of(&a[level * n..(level + 1) * n]);
    p.ntt[level].inverse(&mut last);
    let ql = p.moduli[level].q;
    let half = ql / 2;
    let basis = q_basis(level - 1);
    let mut out = uninit_limbs(p, &basis);
    let inv = &p.rescale_inv[level];
    zip_limbs(&mut out, a, n, &basis, |pos, g, limb, x| {
        let m = p.moduli[g];
        let ql_mod = m.reduce(ql);
        let mut t = scratch::take_dirty(n);
        if ql < 2 * m.q {
            crate::simd::centred_lift_near(m.q, half, ql_mod, &mut t, &last);
        } else {
            for (x, &v) in t.iter_mut().zip(last.iter()) {
                let r = m.reduce(v);
                *x = if v > half { m.sub(r, ql_mod) } else { r };
            }
        }
        p.ntt[g].forward(&mut t);
        let c = crate::simd::ShoupConst::new(&m, inv[pos].0);
        crate::simd::sub_mul_const_to(&m, limb, x, &t, c);
        scratch::give(t);
    });
    scratch::give(last);
    out
}

/// A small process-wide pool of scratch buffers, so that the hot paths (key switching,
/// rescaling) do not pay for fresh zeroed pages on every call.
pub mod scratch {
    use std::sync::Mutex;

    static POOL: Mutex<Vec<Vec<u64>>> = Mutex::new(Vec::new());
    const MAX_POOLED: usize = 32;
    const MAX_POOLED_WORDS: usize = 64 << 20;

    /// A zeroed buffer of `len` words, reusing pooled memory when possible.
    pub fn take(len: usize) -> Vec<u64> {
        let reused = {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            let best = pool
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i);
            best.map(|i| pool.swap_remove(i))
        };
        match reused {
            Some(mut v) => {
                v.clear();
                v.resize(len, 0);
                v
            }
            None => vec![0u64; len],
        }
    }

    /// A buffer of `len` words with unspecified (stale but initialised) contents, for callers
    /// that overwrite every word: no zeroing when pooled memory is reused.
    pub fn take_dirty(len: usize) -> Vec<u64> {
        let reused = {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            let best = pool
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i);
            best.map(|i| pool.swap_remove(i))
        };
        match reused {
            Some(mut v) => {
                if v.len() >= len {
                    v.truncate(len);
                } else {
                    v.resize(len, 0);
                }
                v
            }
            None => vec![0u64; len],
        }
    }

    /// A buffer holding a copy of `src`.
    pub fn copy_of(src: &[u64]) -> Vec<u64> {
        let mut v = take(0);
        v.extend_from_slice(src);
        v
    }

    /// Returns a buffer to the pool (kept if the pool holds fewer than 32 buffers and less than
    /// 512 MiB, or in place of a smaller pooled buffer).
    pub fn give(v: Vec<u64>) {
        if v.capacity() < 4096 {
            return;
        }
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let words: usize = pool.iter().map(|b| b.capacity()).sum();
        if pool.len() < MAX_POOLED && words + v.capacity() <= MAX_POOLED_WORDS {
            pool.push(v);
        } else if let Some((i, _)) = pool.iter().enumerate().min_by_key(|(_, b)| b.capacity())
            && pool[i].capacity() < v.capacity()
            && words - pool[i].capacity() + v.capacity() <= MAX_POOLED_WORDS
        {
            pool[i] = v;
        }
    }
}
