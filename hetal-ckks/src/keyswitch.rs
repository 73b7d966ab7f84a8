//! Hybrid key switching: digit decomposition with ModUp (fast basis conversion), lazy inner
//! products with the key rows (128-bit accumulation, one reduction per coefficient), ModDown.
//!
//! The pieces are public so that hoisted rotations and (later) bootstrapping's linear transforms
//! can share one decomposition among many keys: [`decompose`] once, then [`inner_product`] with
//! an optional automorphism table per key, then [`mod_down`].

use crate::arith::Modulus;
use crate::keys::SwitchingKey;
use crate::params::CkksParams;
use crate::ring::{self, scratch, zip_limbs};
use crate::simd;
use rayon::prelude::*;

/// A polynomial decomposed into digits and raised to `Q_l·P` (NTT domain). Each digit is a
/// buffer of `l + 1 + k` limbs, in the order `q_0 .. q_l, p_0 .. p_{k-1}`.
#[derive(Clone, Debug)]
pub struct Decomposed {
    /// The level of the decomposed polynomial.
    pub level: usize,
    /// One raised polynomial per digit.
    pub digits: Vec<Vec<u64>>,
}

impl Drop for Decomposed {
    fn drop(&mut self) {
        for d in self.digits.drain(..) {
            scratch::give(d);
        }
    }
}

/// Decomposes `d` (NTT domain, `level + 1` limbs) into digits and raises each to `Q_l·P`.
pub fn decompose(p: &CkksParams, d: &[u64], level: usize) -> Decomposed {
    let n = p.n;
    let basis_q = ring::q_basis(level);
    let mut coeff = scratch::copy_of(&d[..(level + 1) * n]);
    // Unnormalised inverse NTT: the factor N^-1 is folded into the constants below.
    ring::for_each_limb(&mut coeff, n, &basis_q, |_, g, limb| {
        p.ntt[g].inverse_unnormalized(limb)
    });
    let ext = p.qp_indices(level);
    let digits = p
        .digits_at(level)
        .into_iter()
        .map(|dr| {
            let src: Vec<usize> = dr.clone().collect();
            // y_i = [x_i · (Q̃/q_i)^-1]_{q_i}
            let mut y = scratch::take_dirty(src.len() * n);
            let consts: Vec<simd::ShoupConst> = src
                .iter()
                .map(|&i| {
                    let m = p.moduli[i];
                    let hat = prod_mod(&m, p, src.iter().copied().filter(|&k| k != i));
                    let inv = m.mul(m.inv(hat), m.inv(m.reduce(n as u64)));
                    simd::ShoupConst::new(&m, inv)
                })
                .collect();
            zip_limbs(
                &mut y,
                &coeff[dr.start * n..dr.end * n],
                n,
                &src,
                |pos, g, o, x| {
                    simd::mul_const_to(&p.moduli[g], o, x, consts[pos]);
                },
            );
            let inv_q: Vec<f64> = src.iter().map(|&i| 1.0 / p.moduli[i].q as f64).collect();
            let mut out = scratch::take_dirty(ext.len() * n);
            let mut targets = Vec::new();
            let mut outs = Vec::new();
            for (pos, limb) in out.chunks_mut(n).enumerate() {
                let g = ext[pos];
                if dr.contains(&g) {
                    limb.copy_from_slice(&d[g * n..(g + 1) * n]);
                } else {
                    let m = p.moduli[g];
                    let hats = src
                        .iter()
                        .map(|&i| prod_mod(&m, p, src.iter().copied().filter(|&k| k != i)))
                        .collect();
                    let vtab = v_table(&m, prod_mod(&m, p, src.iter().copied()), src.len());
                    targets.push(Target { m, hats, vtab });
                    outs.push(limb);
                }
            }
            convert_blocked(&y, n, &inv_q, &targets, outs);
            let fwd = |(pos, limb): (usize, &mut [u64])| {
                let g = ext[pos];
                if !dr.contains(&g) {
                    p.ntt[g].forward(limb);
                }
            };
            if out.len() >= 1 << 15 {
                out.par_chunks_mut(n).enumerate().for_each(fwd);
            } else {
                out.chunks_mut(n).enumerate().for_each(fwd);
            }
            scratch::give(y);
            out
        })
        .collect();
    scratch::give(coeff);
    Decomposed { level, digits }
}

/// `Π_k q_k mod m` over the given global prime indices.
fn prod_mod(m: &Modulus, p: &CkksParams, idx: impl Iterator<Item = usize>) -> u64 {
    idx.fold(1u64, |acc, k| m.mul(acc, m.reduce(p.moduli[k].q)))
}

/// One target prime of [`convert_blocked`].
struct Target {
    m: Modulus,
    /// `Q̃/q_i mod t` for each source prime.
    hats: Vec<u64>,
    /// `v · Q̃ mod t` for `v = 0 ..= #sources + 1`.
    vtab: Vec<u64>,
}

/// Exact, centred fast basis conversion from the source rows `y` to every target.
///
/// With `y_i = [x_i · (Q̃/q_i)^-1]_{q_i}` for the source primes `q_i` (rows of `y`), the integer
/// `Σ_i y_i · Q̃/q_i` equals `x + v·Q̃` with `v = round(Σ_i y_i / q_i)` when `x` is taken in
/// `(−Q̃/2, Q̃/2]`. This writes `[Σ_i y_i·hats_i − v·Q̃]_t` to `outs[k]` for every target `t`:
/// the centred representative of `x` modulo `t`. Centring matters: a biased lift would add a
/// large error to the slots whose root of unity is close to 1.
///
/// The work runs in blocks of coefficients so that the source rows stay in cache while every
/// target is computed, and `v` is computed once per coefficient for all targets. The coefficient
/// range is split among rayon's threads.
fn convert_blocked(y: &[u64], n: usize, inv_q: &[f64], targets: &[Target], outs: Vec<&mut [u64]>) {
    convert_blocked_with(y, n, inv_q, targets, outs, true)
}

/// [`convert_blocked`] with the IFMA kernel allowed or not (for testing both paths).
fn convert_blocked_with(
    y: &[u64],
    n: usize,
    inv_q: &[f64],
    targets: &[Target],
    outs: Vec<&mut [u64]>,
    allow_ifma: bool,
) {
    if targets.is_empty() {
        return;
    }
    let parts = if n * targets.len() >= 1 << 15 {
        rayon::current_num_threads().clamp(1, 64)
    } else {
        1
    };
    let chunk = n.div_ceil(parts);
    let mut per_part: Vec<Vec<&mut [u64]>> = (0..parts)
        .map(|_| Vec::with_capacity(targets.len()))
        .collect();
    for o in outs {
        for (i, piece) in o.chunks_mut(chunk).enumerate() {
            per_part[i].push(piece);
        }
    }
    let k = inv_q.len();
    // The IFMA path: rows of sources at or above 2^50 are split into 50-bit halves, the high
    // half weighted by `2^50 · hat mod t`, so that every multiplicand is below 2^50.
    let use_ifma = allow_ifma && simd::avx512() && 2 * k < 4096;
    let large: Vec<usize> = (0..k)
        .filter(|&i| inv_q[i] < 1.0 / (1u64 << 50) as f64)
        .collect();
    let ifma_hats: Vec<Option<Vec<u64>>> = targets
        .iter()
        .map(|t| {
            (use_ifma && t.m.q < (1 << 50)).then(|| {
                let two50 = t.m.reduce(1 << 50);
                let mut h = t.hats.clone();
                h.extend(large.iter().map(|&i| t.m.mul(t.hats[i], two50)));
                h
            })
        })
        .collect();
    let reds: Vec<Option<simd::Red52>> = targets
        .iter()
        .map(|t| (t.m.q < (1 << 50)).then(|| simd::Red52::new(t.m.q)))
        .collect();
    // −v·Q̃ mod t, added to the scalar kernels' sums.
    let vnegs: Vec<Vec<u64>> = targets
        .iter()
        .map(|t| t.vtab.iter().map(|&x| t.m.neg(x)).collect())
        .collect();
    let work = |(part, mut outs): (usize, Vec<&mut [u64]>)| {
        const BLOCK: usize = 512;
        let start = part * chunk;
        let len = outs.first().map_or(0, |o| o.len());
        let mut v = [0u64; BLOCK];
        let mut split = vec![[0u64; BLOCK]; 2 * large.len()];
        for b0 in (0..len).step_by(BLOCK) {
            let bl = BLOCK.min(len - b0);
            let c0 = start + b0;
            let rows: Vec<&[u64]> = (0..k).map(|i| &y[i * n + c0..i * n + c0 + bl]).collect();
            if use_ifma {
                simd::conversion_v(&rows, inv_q, &mut v[..bl]);
            } else {
                for (c, vc) in v[..bl].iter_mut().enumerate() {
                    let mut s = 0.0f64;
                    for (r, &f) in rows.iter().zip(inv_q) {
                        s += r[c] as f64 * f;
                    }
                    *vc = (s + 0.5) as u64;
                }
            }
            let mut ifma_rows: Vec<&[u64]> = Vec::new();
            if use_ifma {
                let (lo, hi) = split.split_at_mut(large.len());
                for ((&i, l), h) in large.iter().zip(lo.iter_mut()).zip(hi.iter_mut()) {
                    for c in 0..bl {
                        l[c] = rows[i][c] & ((1 << 50) - 1);
                        h[c] = rows[i][c] >> 50;
                    }
                }
                let mut li = 0;
                for (i, r) in rows.iter().enumerate() {
                    if large.get(li) == Some(&i) {
                        ifma_rows.push(&lo[li][..bl]);
                        li += 1;
                    } else {
                        ifma_rows.push(r);
                    }
                }
                ifma_rows.extend(hi.iter().map(|h| &h[..bl]));
            }
            for (ti, (t, o)) in targets.iter().zip(outs.iter_mut()).enumerate() {
                let o = &mut o[b0..b0 + bl];
                if let (Some(h), Some(red)) = (&ifma_hats[ti], reds[ti]) {
                    let it = simd::IfmaTarget {
                        red,
                        hats: h,
                        vtab: &t.vtab,
                    };
                    if simd::conversion_target(&ifma_rows, &it, &v[..bl], o) {
                        continue;
                    }
                }
                let vneg = &vnegs[ti];
                macro_rules! fixed {
                    ($k:literal) => {{
                        let r: [&[u64]; $k] = std::array::from_fn(|i| rows[i]);
                        let h: [u64; $k] = std::array::from_fn(|i| t.hats[i]);
                        convert_target_scalar::<$k>(&r, &h, &t.m, vneg, &v[..bl], o);
                    }};
                }
                match k {
                    1 => fixed!(1),
                    2 => fixed!(2),
                    3 => fixed!(3),
                    4 => fixed!(4),
                    5 => fixed!(5),
                    6 => fixed!(6),
                    7 => fixed!(7),
                    8 => fixed!(8),
                    _ => {
                        for c in 0..bl {
                            let mut acc = vneg[v[c] as usize] as u128;
                            for (r, &h) in rows.iter().zip(&t.hats) {
                                acc += r[c] as u128 * h as u128;
                            }
                            o[c] = t.m.reduce_u128(acc);
                        }
                    }
                }
            }
        }
    };
    if parts > 1 {
        per_part.into_par_iter().enumerate().for_each(work);
    } else {
        per_part.into_iter().enumerate().for_each(work);
    }
}

/// The scalar kernel of one conversion target: `out[c] = [Σ_i rows[i][c]·hats[i] + vneg[v[c]]]_t`
/// (`vneg[v] = −v·Q̃ mod t`), with the accumulator in registers.
#[inline(never)]
fn convert_target_scalar<const K: usize>(
    rows: &[&[u64]; K],
    hats: &[u64; K],
    m: &Modulus,
    vneg: &[u64],
    v: &[u64],
    out: &mut [u64],
) {
    let len = out.len().min(v.len());
    let rows: [&[u64]; K] = std::array::from_fn(|i| &rows[i][..len]);
    for c in 0..len {
        let mut acc = vneg[v[c] as usize] as u128;
        for i in 0..K {
            acc += rows[i][c] as u128 * hats[i] as u128;
        }
        out[c] = m.reduce_u128(acc);
    }
}

/// The scalar inner product of one limb (any prime below 2^61), accumulators in registers:
/// `o0[c] = Σ_j d_j[idx(c)]·kb_j[c]`, `o1[c] = Σ_j d_j[idx(c)]·ka_j[c]` modulo `m`.
#[inline(never)]
fn inner_product_scalar<const ND: usize>(
    m: &Modulus,
    digs: &[&[u64]],
    kb: &[&[u64]],
    ka: &[&[u64]],
    table: Option<&[u32]>,
    o0: &mut [u64],
    o1: &mut [u64],
) {
    let n = o0.len().min(o1.len());
    let d: [&[u64]; ND] = std::array::from_fn(|j| digs[j]);
    let kb: [&[u64]; ND] = std::array::from_fn(|j| &kb[j][..n]);
    let ka: [&[u64]; ND] = std::array::from_fn(|j| &ka[j][..n]);
    let mut body = |c: usize, i: usize| {
        let (mut s0, mut s1) = (0u128, 0u128);
        for j in 0..ND {
            let x = d[j][i] as u128;
            s0 += x * kb[j][c] as u128;
            s1 += x * ka[j][c] as u128;
        }
        o0[c] = m.reduce_u128(s0);
        o1[c] = m.reduce_u128(s1);
    };
    match table {
        Some(t) => {
            for (c, &i) in t[..n].iter().enumerate() {
                body(c, i as usize);
            }
        }
        None => {
            for c in 0..n {
                body(c, c);
            }
        }
    }
}

/// `[v · prod]_t` for `v = 0 ..= len` (the correction table of [`convert_blocked`]).
fn v_table(m: &Modulus, prod_mod_t: u64, len: usize) -> Vec<u64> {
    (0..=len as u64 + 1).map(|v| m.mul(v, prod_mod_t)).collect()
}

/// `Σ_j digit_j ⊙ (b_j, a_j)` over `Q_l·P` (NTT domain), reading every digit through the
/// automorphism `table` if given (hoisted rotation: `σ(digit_j)[c] = digit_j[table[c]]`).
pub fn inner_product(
    p: &CkksParams,
    dec: &Decomposed,
    key: &SwitchingKey,
    table: Option<&[u32]>,
) -> [Vec<u64>; 2] {
    let n = p.n;
    let ext = p.qp_indices(dec.level);
    let mut out0 = scratch::take_dirty(ext.len() * n);
    let mut out1 = scratch::take_dirty(ext.len() * n);
    let nd = dec.digits.len();
    let work = |(pos, (o0, o1)): (usize, (&mut [u64], &mut [u64]))| {
        let g = ext[pos];
        let m = p.moduli[g];
        let off = pos * n;
        let koff = g * n;
        let digs: Vec<&[u64]> = dec.digits.iter().map(|d| &d[off..off + n]).collect();
        let kb: Vec<&[u64]> = key.rows[..nd]
            .iter()
            .map(|r| &r.b[koff..koff + n])
            .collect();
        let ka: Vec<&[u64]> = key.rows[..nd]
            .iter()
            .map(|r| &r.a[koff..koff + n])
            .collect();
        if m.is_small() && simd::inner_product_small(m.q, &digs, &kb, &ka, table, o0, o1) {
            return;
        }
        // Products below 2^122, at most 8 of them: the 128-bit sums cannot overflow.
        macro_rules! scalar {
            ($nd:literal) => {
                inner_product_scalar::<$nd>(&m, &digs, &kb, &ka, table, o0, o1)
            };
        }
        match nd {
            1 => return scalar!(1),
            2 => return scalar!(2),
            3 => return scalar!(3),
            4 => return scalar!(4),
            5 => return scalar!(5),
            6 => return scalar!(6),
            7 => return scalar!(7),
            8 => return scalar!(8),
            _ => {}
        }
        const B: usize = 128;
        let mut acc0 = [0u128; B];
        let mut acc1 = [0u128; B];
        for c0 in (0..n).step_by(B) {
            let len = B.min(n - c0);
            acc0[..len].iter_mut().for_each(|a| *a = 0);
            acc1[..len].iter_mut().for_each(|a| *a = 0);
            for j in 0..nd {
                let dig = &dec.digits[j][off..off + n];
                let kb = &key.rows[j].b[koff + c0..koff + c0 + len];
                let ka = &key.rows[j].a[koff + c0..koff + c0 + len];
                match table {
                    None => {
                        let x = &dig[c0..c0 + len];
                        for k in 0..len {
                            let v = x[k] as u128;
                            acc0[k] += v * kb[k] as u128;
                            acc1[k] += v * ka[k] as u128;
                        }
                    }
                    Some(t) => {
                        let t = &t[c0..c0 + len];
                        for k in 0..len {
                            let v = dig[t[k] as usize] as u128;
                            acc0[k] += v * kb[k] as u128;
                            acc1[k] += v * ka[k] as u128;
                        }
                    }
                }
            }
            for k in 0..len {
                o0[c0 + k] = m.reduce_u128(acc0[k]);
                o1[c0 + k] = m.reduce_u128(acc1[k]);
            }
        }
    };
    if out0.len() >= 1 << 15 {
        out0.par_chunks_mut(n)
            .zip(out1.par_chunks_mut(n))
            .enumerate()
            .for_each(work);
    } else {
        out0.chunks_mut(n)
            .zip(out1.chunks_mut(n))
            .enumerate()
            .for_each(work);
    }
    [out0, out1]
}

/// Divides a polynomial over `Q_l·P` (NTT domain) by `P`, returning `l + 1` limbs over `Q_l`.
pub fn mod_down(p: &CkksParams, x: &[u64], level: usize) -> Vec<u64> {
    let n = p.n;
    let k = p.num_p();
    let l1 = level + 1;
    // Inverse NTT of the P limbs and multiplication by (P/p_j)^-1 · N^-1.
    let p_basis: Vec<usize> = (p.num_q..p.num_q + k).collect();
    let mut y = scratch::copy_of(&x[l1 * n..(l1 + k) * n]);
    ring::for_each_limb(&mut y, n, &p_basis, |pos, g, limb| {
        p.ntt[g].inverse_unnormalized(limb);
        let m = p.moduli[g];
        let w = m.mul(p.p_hat_inv[pos].0, m.inv(m.reduce(n as u64)));
        simd::mul_const_assign(&m, limb, simd::ShoupConst::new(&m, w));
    });
    let inv_p: Vec<f64> = p_basis
        .iter()
        .map(|&g| 1.0 / p.moduli[g].q as f64)
        .collect();
    let targets: Vec<Target> = (0..l1)
        .map(|g| {
            let m = p.moduli[g];
            Target {
                m,
                hats: p.p_hat_mod_q[g].clone(),
                vtab: v_table(&m, p.p_mod_q[g], k),
            }
        })
        .collect();
    let mut conv = scratch::take_dirty(l1 * n);
    convert_blocked(&y, n, &inv_p, &targets, conv.chunks_mut(n).collect());
    scratch::give(y);
    let basis = ring::q_basis(level);
    ring::zip_limbs(&mut conv, &x[..l1 * n], n, &basis, |_, g, c, xi| {
        p.ntt[g].forward(c);
        let m = p.moduli[g];
        simd::rsub_mul_const_assign(&m, c, xi, simd::ShoupConst::new(&m, p.p_inv_mod_q[g].0));
    });
    conv
}

/// Key-switches `d` (NTT domain, at `level`): returns `(k0, k1)` over `Q_l` with
/// `k0 + k1·s ≈ d·s'`.
pub fn key_switch(p: &CkksParams, d: &[u64], level: usize, key: &SwitchingKey) -> [Vec<u64>; 2] {
    let dec = decompose(p, d, level);
    let [a, b] = inner_product(p, &dec, key, None);
    let out = [mod_down(p, &a, level), mod_down(p, &b, level)];
    scratch::give(a);
    scratch::give(b);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::{PrimeWalk, generate_primes};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]
        /// The blocked conversion (both kernels) returns the centred representative of the CRT
        /// value, checked against big-integer arithmetic in u128 for two 40-bit source primes.
        #[test]
        fn conversion_is_exact_and_centred(seed in any::<u64>(), big_target in any::<bool>()) {
            let n = 1000; // not a multiple of the block or vector width
            let src = generate_primes(40, 2, 1 << 10, PrimeWalk::Below, &[]).unwrap();
            let t = generate_primes(if big_target { 60 } else { 49 }, 1, 1 << 10, PrimeWalk::Below, &src).unwrap()[0];
            let (m0, m1, mt) = (Modulus::new(src[0]), Modulus::new(src[1]), Modulus::new(t));
            let qq = src[0] as u128 * src[1] as u128;
            let mut s = seed;
            let mut next = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); s };
            let xs: Vec<u128> = (0..n).map(|i| match i { 0 => 0, 1 => qq - 1, 2 => qq / 2, 3 => qq / 2 + 1, _ => ((next() as u128) << 64 | next() as u128) % qq }).collect();
            // y_i = x_i · (Q/q_i)^-1 mod q_i
            let inv0 = m0.inv(m0.reduce(src[1]));
            let inv1 = m1.inv(m1.reduce(src[0]));
            let mut y = vec![0u64; 2 * n];
            for (c, &x) in xs.iter().enumerate() {
                y[c] = m0.mul((x % src[0] as u128) as u64, inv0);
                y[n + c] = m1.mul((x % src[1] as u128) as u64, inv1);
            }
            let target = Target { m: mt, hats: vec![mt.reduce(src[1]), mt.reduce(src[0])], vtab: v_table(&mt, mt.reduce_u128(qq), 2) };
            let inv_q = [1.0 / src[0] as f64, 1.0 / src[1] as f64];
            for allow in [false, true] {
                let mut out = vec![0u64; n];
                convert_blocked_with(&y, n, &inv_q, std::slice::from_ref(&target), vec![&mut out[..]], allow);
                for (c, &x) in xs.iter().enumerate() {
                    let centred: i128 = if x > qq / 2 { x as i128 - qq as i128 } else { x as i128 };
                    let want = centred.rem_euclid(t as i128) as u64;
                    // Within 2^-40 of Q/2 the float rounding may pick the other lift (x ± Q),
                    // which is as good for key switching.
                    let near_half = (x as i128 - (qq / 2) as i128).unsigned_abs() <= qq >> 40;
                    let other = (centred + if centred > 0 { -(qq as i128) } else { qq as i128 }).rem_euclid(t as i128) as u64;
                    prop_assert!(out[c] == want || (near_half && out[c] == other), "c = {}, ifma allowed = {}: {} vs {}", c, allow, out[c], want);
                }
            }
        }
    }
}
