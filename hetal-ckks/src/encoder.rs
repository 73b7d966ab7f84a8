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
    pub(crate) fn coeffs_to_ntt(&self, coeffs: &[f64], level: usize) -> Vec<u64> {
        let p = &self.params;
        let n = p.n;
        let gap = self.gap();
        let basis = ring::q_basis(level);
        let mut out = vec![0u64; n * basis.len()];
        ring::for_each_limb(&mut out, n, &basis, |_, g, limb| {
            let m = p.moduli[g];
            for (k, &c) in coeffs.iter().enumerate() {
                limb[k * gap] = m.from_f64(c);
            }
            p.ntt[g].forward(limb);
        });
        out
    }

    /// The centred integer values of the coefficients at multiples of the packing gap, as `f64`,
    /// from an NTT-domain buffer at `level` (exact CRT by Garner's mixed radix, balanced).
    pub(crate) fn ntt_to_coeffs(&self, data: &[u64], level: usize) -> Vec<f64> {
        let p = &self.params;
        let n = p.n;
        let gap = self.gap();
        let basis = ring::q_basis(level);
        let mut coeff = data[..n * basis.len()].to_vec();
        ring::ntt_inverse(p, &mut coeff, &basis);
        let l1 = level + 1;
        // inv[i][k] = q_k^-1 mod q_i for k < i.
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
        let count = 2 * p.slots;
        (0..count)
            .into_par_iter()
            .with_min_len(256)
            .map_init(
                || vec![0u64; l1],
                |v, k| {
                    let c = k * gap;
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
                },
            )
            .collect()
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
        check_encode_input(self, values, level, scale)?;
        let mut coeffs = self.slot_encoder.encode(values);
        let s = scale.value();
        for c in coeffs.iter_mut() {
            *c = (*c * s).round();
            if !c.is_finite() {
                return Err(Error::invalid("encoded coefficient is not finite"));
            }
        }
        let data = self.coeffs_to_ntt(&coeffs, level.index());
        Ok(Plaintext {
            params_id: self.params.id,
            level: level.index(),
            scale: s,
            data,
        })
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
