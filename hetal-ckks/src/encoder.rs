//! [`CkksEncoder`]: slot encoding and decoding for a parameter set, shared by the client and the
//! server (plaintexts are public).

use crate::ciphertext::Plaintext;
use crate::encoding::SlotEncoder;
use crate::params::CkksParams;
use crate::ring;
use hetal_traits::{Complex64, Encoder, Error, Level, Result, Scale, check_encode_input};
use rayon::prelude::*;

/// Encoding and decoding for one parameter set.
#[derive(Clone, Debug)]
pub struct CkksEncoder {
    pub(crate) params: CkksParams,
    pub(crate) slot_encoder: SlotEncoder,
}

impl CkksEncoder {
    /// An encoder for `params`.
    pub fn new(params: CkksParams) -> Self {
        let slot_encoder = SlotEncoder::new(params.slots);
        CkksEncoder {
            params,
            slot_encoder,
        }
    }

    /// The parameter set.
    pub fn params(&self) -> &CkksParams {
        &self.params
    }

    fn gap(&self) -> usize {
        self.params.n / (2 * self.params.slots)
    }

    /// Integer-valued coefficients (as `f64`, any magnitude) to an NTT-domain plaintext buffer at `level`.
    /// The basis is a list of global prime indices (`q_0 .. q_level`, optionally the special
    /// primes).
    pub(crate) fn coeffs_to_ntt_basis(&self, coeffs: &[f64], basis: &[usize]) -> Vec<u64> {
        let p = &self.params;
        let n = p.n;
        let gap = self.gap();
        // Below 2^62 in magnitude (always, at usual scales) the residues come from one signed
        // integer per coefficient by a vectorised reduction; larger values take `from_f64`.
        let small: Option<Vec<i64>> = coeffs
            .iter()
            .all(|c| c.abs() < (1u64 << 62) as f64)
            .then(|| coeffs.iter().map(|&c| c as i64).collect());
        let mut out = ring::uninit_limbs(p, basis);
        ring::for_each_limb(&mut out, n, basis, |_, g, limb| {
            let m = p.moduli[g];
            match (&small, gap) {
                (Some(x), 1) => crate::simd::residues_i64(&m, limb, x),
                _ => {
                    limb.fill(0);
                    for (k, &c) in coeffs.iter().enumerate() {
                        limb[k * gap] = m.from_f64(c);
                    }
                }
            }
            p.ntt[g].forward(limb);
        });
        out
    }

    /// The centred integer values of the coefficients at multiples of the packing gap, as `f64`,
    /// from an NTT-domain buffer at `level`.
    ///
    /// Exact: a fast CRT reconstruction modulo 2^64 (`x = Σ_i y_i·(Q/q_i) − v·Q` with
    /// `y_i = [x_i·(Q/q_i)^-1]_{q_i}` and `v = round(Σ_i y_i/q_i)`, all products taken modulo
    /// 2^64), which is the centred value whenever that value fits an `i64`; the result is then
    /// checked against every residue, and any coefficient that fails the check (a value of 2^63
    /// or more) is recomputed by Garner's mixed-radix algorithm.
    pub(crate) fn ntt_to_coeffs(&self, data: &[u64], level: usize) -> Vec<f64> {
        let p = &self.params;
        let n = p.n;
        let gap = self.gap();
        let basis = ring::q_basis(level);
        let mut coeff = ring::copy(p, data, &basis);
        ring::ntt_inverse(p, &mut coeff, &basis);
        let l1 = level + 1;
        let count = 2 * p.slots;
        let log_q: f64 = (0..l1).map(|i| (p.moduli[i].q as f64).log2()).sum();
        let fast = l1 >= 2 && log_q > 66.0;
        // Garner's tables: inv[i][k] = q_k^-1 mod q_i for k < i.
        let inv: Vec<Vec<(u64, u64)>> = (0..l1)
            .map(|i| {
                let m = p.moduli[i];
                (0..i)
                    .map(|k| {
                        let v = m.inv(m.reduce(p.moduli[k].q));
                        (v, m.shoup(v))
                    })
                    .collect()
            })
            .collect();
        let qf: Vec<f64> = (0..l1).map(|i| p.moduli[i].q as f64).collect();
        let garner = |c: usize, v: &mut [u64]| -> f64 {
            for i in 0..l1 {
                let m = p.moduli[i];
                let mut t = coeff[i * n + c];
                for kk in 0..i {
                    let (w, ws) = inv[i][kk];
                    t = m.mul_shoup(t + m.q - m.reduce(v[kk]), w, ws);
                }
                v[i] = t;
            }
            let mut pos = 0.0f64;
            let mut neg = 0.0f64;
            for i in (0..l1).rev() {
                pos = pos * qf[i] + v[i] as f64;
                neg = neg * qf[i] + (p.moduli[i].q - 1 - v[i]) as f64;
            }
            let neg = -(neg + 1.0);
            if pos.abs() <= neg.abs() { pos } else { neg }
        };
        if !fast {
            let mut v = vec![0u64; l1];
            let out = (0..count).map(|k| garner(k * gap, &mut v)).collect();
            ring::scratch::give(coeff);
            return out;
        }
        // Constants of the fast reconstruction.
        let hat_inv: Vec<crate::simd::ShoupConst> = (0..l1)
            .map(|i| {
                let m = p.moduli[i];
                let hat = (0..l1)
                    .filter(|&k| k != i)
                    .fold(1u64, |a, k| m.mul(a, m.reduce(p.moduli[k].q)));
                crate::simd::ShoupConst::new(&m, m.inv(hat))
            })
            .collect();
        let hat64: Vec<u64> = (0..l1)
            .map(|i| {
                (0..l1)
                    .filter(|&k| k != i)
                    .fold(1u64, |a, k| a.wrapping_mul(p.moduli[k].q))
            })
            .collect();
        let q64 = (0..l1).fold(1u64, |a, k| a.wrapping_mul(p.moduli[k].q));
        let inv_q: Vec<f64> = qf.iter().map(|q| 1.0 / q).collect();
        const B: usize = 1024;
        let mut out = vec![0.0f64; count];
        out.par_chunks_mut(B)
            .enumerate()
            .with_min_len(if rayon::current_num_threads() > 1 {
                4
            } else {
                usize::MAX
            })
            .for_each(|(bi, o)| {
                let k0 = bi * B;
                let bl = o.len();
                // The block's residue rows: slices of `coeff` when the coefficients are
                // contiguous, else gathered at the packing gap.
                let gathered: Vec<u64> = if gap == 1 {
                    Vec::new()
                } else {
                    let mut g = vec![0u64; l1 * bl];
                    for (i, r) in g.chunks_mut(bl).enumerate() {
                        for (j, x) in r.iter_mut().enumerate() {
                            *x = coeff[i * n + (k0 + j) * gap];
                        }
                    }
                    g
                };
                let row = |i: usize| -> &[u64] {
                    if gap == 1 {
                        &coeff[i * n + k0..i * n + k0 + bl]
                    } else {
                        &gathered[i * bl..(i + 1) * bl]
                    }
                };
                let mut s = vec![0.5f64; bl];
                let mut acc = vec![0u64; bl];
                let mut y = vec![0u64; bl];
                for i in 0..l1 {
                    let m = p.moduli[i];
                    crate::simd::mul_const_to(&m, &mut y, row(i), hat_inv[i]);
                    crate::simd::crt_accumulate(&mut s, &mut acc, &y, inv_q[i], hat64[i]);
                }
                // x = acc − v·Q (mod 2^64), as a signed value; |x| ≥ 2^61 goes to Garner.
                let mut bad = vec![0u8; bl];
                let mut xs = vec![0i64; bl];
                for j in 0..bl {
                    let x = acc[j].wrapping_sub((s[j] as u64).wrapping_mul(q64)) as i64;
                    o[j] = x as f64;
                    if x.unsigned_abs() > 1 << 61 {
                        bad[j] = 1;
                        xs[j] = 0;
                    } else {
                        xs[j] = x;
                    }
                }
                for i in 0..l1 {
                    crate::simd::residues_i64(&p.moduli[i], &mut y, &xs);
                    crate::simd::mark_mismatch(&mut bad, &y, row(i));
                }
                let mut v = vec![0u64; l1];
                for j in 0..bl {
                    if bad[j] != 0 {
                        o[j] = garner((k0 + j) * gap, &mut v);
                    }
                }
            });
        ring::scratch::give(coeff);
        out
    }
}

impl Encoder for CkksEncoder {
    type Plaintext = Plaintext;

    fn slots(&self) -> usize {
        self.params.slots
    }

    fn max_level(&self) -> Level {
        Level(self.params.max_level() as u32)
    }

    fn prime(&self, level: Level) -> f64 {
        self.params
            .moduli
            .get(level.index().min(self.params.num_q - 1))
            .map_or(f64::NAN, |m| m.q as f64)
    }

    fn canonical_scale(&self, level: Level) -> Scale {
        Scale(self.params.scales[level.index().min(self.params.num_q - 1)])
    }

    fn encode(&self, values: &[Complex64], level: Level, scale: Scale) -> Result<Plaintext> {
        self.encode_with_p(values, level, scale, false)
    }

    fn decode(&self, pt: &Plaintext) -> Result<Vec<Complex64>> {
        if pt.params_id != self.params.id {
            return Err(Error::mismatch("plaintext from other parameters"));
        }
        let coeffs = self.ntt_to_coeffs(&pt.data, pt.level);
        let inv = 1.0 / pt.scale;
        let scaled: Vec<f64> = coeffs.iter().map(|c| c * inv).collect();
        Ok(self.slot_encoder.decode(&scaled))
    }
}

impl CkksEncoder {
    /// Encodes like [`Encoder::encode`]; with `with_p` the plaintext also carries its residues
    /// modulo the special primes (limbs `q_0 .. q_level, p_0 .. p_{k-1}`), which the
    /// double-hoisted linear transforms of bootstrapping multiply in the extended basis `Q·P`.
    /// Such a plaintext works everywhere a plain one does (the extra limbs are ignored).
    pub fn encode_with_p(
        &self,
        values: &[Complex64],
        level: Level,
        scale: Scale,
        with_p: bool,
    ) -> Result<Plaintext> {
        check_encode_input(self, values, level, scale)?;
        let mut coeffs = self.slot_encoder.encode(values);
        let s = scale.value();
        for c in coeffs.iter_mut() {
            *c = (*c * s).round();
            if !c.is_finite() {
                return Err(Error::invalid("encoded coefficient is not finite"));
            }
        }
        let basis = if with_p {
            self.params.qp_indices(level.index())
        } else {
            ring::q_basis(level.index())
        };
        let data = self.coeffs_to_ntt_basis(&coeffs, &basis);
        Ok(Plaintext {
            params_id: self.params.id,
            level: level.index(),
            scale: s,
            data,
        })
    }
}

/// Implements [`Encoder`] for a type with a `enc: CkksEncoder` field by delegation.
macro_rules! delegate_encoder {
    ($t:ty) => {
        impl hetal_traits::Encoder for $t {
            type Plaintext = $crate::ciphertext::Plaintext;
            fn slots(&self) -> usize {
                self.enc.slots()
            }
            fn max_level(&self) -> hetal_traits::Level {
                self.enc.max_level()
            }
            fn prime(&self, level: hetal_traits::Level) -> f64 {
                self.enc.prime(level)
            }
            fn canonical_scale(&self, level: hetal_traits::Level) -> hetal_traits::Scale {
                self.enc.canonical_scale(level)
            }
            fn encode(
                &self,
                values: &[hetal_traits::Complex64],
                level: hetal_traits::Level,
                scale: hetal_traits::Scale,
            ) -> hetal_traits::Result<Self::Plaintext> {
                self.enc.encode(values, level, scale)
            }
            fn decode(
                &self,
                pt: &Self::Plaintext,
            ) -> hetal_traits::Result<Vec<hetal_traits::Complex64>> {
                self.enc.decode(pt)
            }
        }
    };
}
pub(crate) use delegate_encoder;
