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
    ring::ntt_inverse(p, &mut coeff, &basis_q);
    let ext = p.qp_indices(level);
    let digits = p
        .digits_at(level)
        .into_iter()
        .map(|dr| {
            let src: Vec<usize> = dr.clone().collect();
            // y_i = [x_i · (Q̃/q_i)^-1]_{q_i}
            let mut y = scratch::take(src.len() * n);
            let consts: Vec<(u64, u64)> = src
                .iter()
                .map(|&i| {
                    let m = p.moduli[i];
                    let hat = src
                        .iter()
                        .filter(|&&k| k != i)
                        .fold(1u64, |acc, &k| m.mul(acc, m.reduce(p.moduli[k].q)));
                    let inv = m.inv(hat);
                    (inv, m.shoup(inv))
                })
                .collect();
            zip_limbs(
                &mut y,
                &coeff[dr.start * n..dr.end * n],
                n,
                &src,
                |pos, g, o, x| {
                    let m = p.moduli[g];
                    let (w, ws) = consts[pos];
                    for (u, &v) in o.iter_mut().zip(x) {
                        *u = m.mul_shoup(v, w, ws);
                    }
                },
            );
            let inv_q: Vec<f64> = src.iter().map(|&i| 1.0 / p.moduli[i].q as f64).collect();
            let mut out = scratch::take(ext.len() * n);
            let work = |(pos, limb): (usize, &mut [u64])| {
                let g = ext[pos];
                if dr.contains(&g) {
                    limb.copy_from_slice(&d[g * n..(g + 1) * n]);
                    return;
                }
                let m = p.moduli[g];
                let hats: Vec<u64> = src
                    .iter()
                    .map(|&i| {
                        src.iter()
                            .filter(|&&k| k != i)
                            .fold(1u64, |acc, &k| m.mul(acc, m.reduce(p.moduli[k].q)))
                    })
                    .collect();
                let prod = src
                    .iter()
                    .fold(1u64, |acc, &k| m.mul(acc, m.reduce(p.moduli[k].q)));
                basis_convert(&m, &y, &hats, &inv_q, &v_table(&m, prod, src.len()), limb);
                p.ntt[g].forward(limb);
            };
            if out.len() >= 1 << 15 {
                out.par_chunks_mut(n).enumerate().for_each(work);
            } else {
                out.chunks_mut(n).enumerate().for_each(work);
            }
            scratch::give(y);
            out
        })
        .collect();
    scratch::give(coeff);
    Decomposed { level, digits }
}

/// Exact, centred fast basis conversion of one target limb.
///
/// With `y_i = [x_i · (Q̃/q_i)^-1]_{q_i}` for the source primes `q_i` (rows of `y`), the integer
/// `Σ_i y_i · Q̃/q_i` equals `x + v·Q̃` with `v = round(Σ_i y_i / q_i)` when `x` is taken in
/// `(−Q̃/2, Q̃/2]`. This writes `[Σ_i y_i·hats_i − v·Q̃]_t` to `out`, i.e. the centred
/// representative of `x` modulo the target prime `t` (`hats_i = Q̃/q_i mod t`,
/// `v_table[v] = v·Q̃ mod t`, `inv_q_i = 1/q_i`). Centring matters: a biased lift would add a
/// large error to the slots whose root of unity is close to 1.
#[inline]
fn basis_convert(
    m: &Modulus,
    y: &[u64],
    hats: &[u64],
    inv_q: &[f64],
    v_table: &[u64],
    out: &mut [u64],
) {
    let n = out.len();
    let rows: Vec<&[u64]> = (0..hats.len()).map(|i| &y[i * n..(i + 1) * n]).collect();
    macro_rules! fixed {
        ($k:literal) => {{
            let r: [&[u64]; $k] = std::array::from_fn(|i| rows[i]);
            let h: [u128; $k] = std::array::from_fn(|i| hats[i] as u128);
            let f: [f64; $k] = std::array::from_fn(|i| inv_q[i]);
            for c in 0..n {
                let mut acc = 0u128;
                let mut v = 0.0f64;
                for i in 0..$k {
                    let x = r[i][c];
                    acc += x as u128 * h[i];
                    v += x as f64 * f[i];
                }
                out[c] = m.sub(m.reduce_u128(acc), v_table[v.round() as usize]);
            }
        }};
    }
    match hats.len() {
        1 => fixed!(1),
        2 => fixed!(2),
        3 => fixed!(3),
        4 => fixed!(4),
        5 => fixed!(5),
        6 => fixed!(6),
        7 => fixed!(7),
        8 => fixed!(8),
        _ => {
            for c in 0..n {
                let mut acc = 0u128;
                let mut v = 0.0f64;
                for ((r, &h), &f) in rows.iter().zip(hats).zip(inv_q) {
                    acc += r[c] as u128 * h as u128;
                    v += r[c] as f64 * f;
                }
                out[c] = m.sub(m.reduce_u128(acc), v_table[v.round() as usize]);
            }
        }
    }
}

/// `[v · prod]_t` for `v = 0 ..= len` (the correction table of [`basis_convert`]).
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
    let mut out0 = scratch::take(ext.len() * n);
    let mut out1 = scratch::take(ext.len() * n);
    let nd = dec.digits.len();
    let work = |(pos, (o0, o1)): (usize, (&mut [u64], &mut [u64]))| {
        let g = ext[pos];
        let m = p.moduli[g];
        let off = pos * n;
        let koff = g * n;
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
    // Inverse NTT of the P limbs and multiplication by (P/p_j)^-1.
    let p_basis: Vec<usize> = (p.num_q..p.num_q + k).collect();
    let mut y = scratch::copy_of(&x[l1 * n..(l1 + k) * n]);
    ring::for_each_limb(&mut y, n, &p_basis, |pos, g, limb| {
        p.ntt[g].inverse(limb);
        let m = p.moduli[g];
        let (w, ws) = p.p_hat_inv[pos];
        for v in limb.iter_mut() {
            *v = m.mul_shoup(*v, w, ws);
        }
    });
    let inv_p: Vec<f64> = p_basis
        .iter()
        .map(|&g| 1.0 / p.moduli[g].q as f64)
        .collect();
    let mut out = x[..l1 * n].to_vec();
    let basis = ring::q_basis(level);
    ring::for_each_limb(&mut out, n, &basis, |_, g, limb| {
        let m = p.moduli[g];
        let mut conv = scratch::take(n);
        let p_mod = p.p_mod_q[g];
        basis_convert(
            &m,
            &y,
            &p.p_hat_mod_q[g],
            &inv_p,
            &v_table(&m, p_mod, k),
            &mut conv,
        );
        p.ntt[g].forward(&mut conv);
        let (w, ws) = p.p_inv_mod_q[g];
        for (u, &v) in limb.iter_mut().zip(&conv) {
            *u = m.mul_shoup(*u + m.q - v, w, ws);
        }
        scratch::give(conv);
    });
    scratch::give(y);
    out
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
