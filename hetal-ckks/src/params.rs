//! Parameter literals, their validation in three steps (fields, primes, precomputation) and the
//! shared precomputed context. The named presets live in [`crate::presets`].

use crate::arith::{Modulus, PrimeWalk, bit_reverse, generate_primes, is_prime};
use crate::error::ParamsError;
use crate::ntt::{NttBackend, ScalarNtt, TfheNtt, backend_root};
pub use crate::security::{SPARSE_192_MAX_LOG_QP_N16, Security, he_standard_max_log_qp};
use hetal_traits::Result;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, RwLock};

/// How the moduli of a parameter set are given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Moduli {
    /// Bit sizes: `q` for `q_0 .. q_L` and `p` for the special primes. Primes are generated
    /// deterministically: `q_0` and the special primes just below `2^bits`, the scaling primes
    /// alternately above and below `2^bits` (so rescaled scales stay close to the default scale).
    Bits {
        /// Bit sizes of `q_0 .. q_L`.
        q: Vec<u8>,
        /// Bit sizes of the special primes `p_0 .. p_{k-1}`.
        p: Vec<u8>,
    },
    /// Explicit primes.
    Primes {
        /// `q_0 .. q_L`.
        q: Vec<u64>,
        /// The special primes.
        p: Vec<u64>,
    },
}

/// A parameter set as the user writes it (serde-able); [`CkksParams::new`] validates it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamsLiteral {
    /// A name for display.
    pub name: String,
    /// log2 of the ring degree N (4 ..= 17).
    pub log_n: u32,
    /// log2 of the slot count (≤ log_n − 1); `None` means full packing (N/2 slots).
    pub log_slots: Option<u32>,
    /// The modulus chain and special primes.
    pub moduli: Moduli,
    /// Number of key-switching digits (1 ≤ dnum ≤ L + 1); each digit holds
    /// `ceil((L+1)/dnum)` consecutive primes of the chain.
    pub dnum: usize,
    /// log2 of the default scale Δ_L.
    pub log_scale: f64,
    /// Hamming weight of the ternary secret.
    pub hamming_weight: usize,
    /// Standard deviation of the discrete Gaussian error (truncated at 6σ).
    pub sigma: f64,
    /// The security claim, checked on validation.
    pub security: Security,
}

/// Precomputed context of a validated parameter set, shared by every object built from it.
pub struct ParamsInner {
    /// The literal, with `moduli` resolved to explicit primes.
    pub literal: ParamsLiteral,
    /// Ring degree.
    pub n: usize,
    /// Number of slots.
    pub slots: usize,
    /// `q_0 .. q_L` then `p_0 .. p_{k-1}`: every prime of the key-switching modulus.
    pub moduli: Vec<Modulus>,
    /// Number of chain primes (L + 1).
    pub num_q: usize,
    /// The NTT of each prime in `moduli`.
    pub ntt: Vec<Box<dyn NttBackend>>,
    /// The key-switching digits as ranges of chain-prime indices.
    pub digits: Vec<Range<usize>>,
    /// Canonical scale per level.
    pub scales: Vec<f64>,
    /// Identity of the parameter set (a hash of the resolved literal).
    pub id: u64,
    /// `q_l^-1 mod q_i` (i < l), with Shoup companions: `rescale_inv[l][i]`.
    pub rescale_inv: Vec<Vec<(u64, u64)>>,
    /// The NTT (per chain prime) of the monomial `X^(N/2)`, which multiplies every slot by `i`.
    pub monomial_i: Vec<Vec<u64>>,
    /// ModDown constants: `(P/p_k)^-1 mod p_k` with Shoup companions.
    pub p_hat_inv: Vec<(u64, u64)>,
    /// ModDown constants: `(P/p_k) mod q_i`, indexed `[i][k]`.
    pub p_hat_mod_q: Vec<Vec<u64>>,
    /// ModDown constants: `P^-1 mod q_i` with Shoup companions.
    pub p_inv_mod_q: Vec<(u64, u64)>,
    /// `P mod q_i` (the gadget factor of the key-switching keys).
    pub p_mod_q: Vec<u64>,
    galois_cache: RwLock<HashMap<usize, Arc<Vec<u32>>>>,
}

impl fmt::Debug for ParamsInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CkksParams")
            .field("name", &self.literal.name)
            .field("log_n", &self.literal.log_n)
            .field("slots", &self.slots)
            .field(
                "q",
                &self.moduli[..self.num_q]
                    .iter()
                    .map(|m| m.q)
                    .collect::<Vec<_>>(),
            )
            .field(
                "p",
                &self.moduli[self.num_q..]
                    .iter()
                    .map(|m| m.q)
                    .collect::<Vec<_>>(),
            )
            .field("dnum", &self.digits.len())
            .field("id", &self.id)
            .finish()
    }
}

/// A validated, shared parameter set (cheap to clone).
#[derive(Clone, Debug)]
pub struct CkksParams(pub(crate) Arc<ParamsInner>);

impl std::ops::Deref for CkksParams {
    type Target = ParamsInner;
    fn deref(&self) -> &ParamsInner {
        &self.0
    }
}

impl PartialEq for CkksParams {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= *b as u64;
        *h = h.wrapping_mul(0x0100_0000_01b3);
    }
}

/// The primes of a literal, resolved: explicit ones as given, `Moduli::Bits` generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedModuli {
    /// `q_0 .. q_L`.
    pub q: Vec<u64>,
    /// The special primes.
    pub p: Vec<u64>,
}

impl ResolvedModuli {
    /// `log2(Q_L · P)`.
    pub fn log_qp(&self) -> f64 {
        self.q
            .iter()
            .chain(&self.p)
            .map(|&x| (x as f64).log2())
            .sum()
    }
}

impl ParamsLiteral {
    /// Step 1 of [`CkksParams::build`]: the checks that need no prime. `log_n` in `4..=17`,
    /// `log_slots` in `1..=log_n − 1`, non-empty moduli (bit sizes in `20..=61`),
    /// `1 ≤ dnum ≤ L + 1`, `log_scale` in `[1, 60)`, Hamming weight in `1..=N`, a positive finite
    /// `sigma` below `10^6`.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if !(4..=17).contains(&self.log_n) {
            return Err(ParamsError::LogNOutOfRange { log_n: self.log_n });
        }
        let n = 1usize << self.log_n;
        let max = self.log_n - 1;
        let log_slots = self.log_slots.unwrap_or(max);
        if log_slots == 0 || log_slots > max {
            return Err(ParamsError::LogSlotsOutOfRange { log_slots, max });
        }
        let num_q = match &self.moduli {
            Moduli::Bits { q, p } => {
                if q.is_empty() || p.is_empty() {
                    return Err(ParamsError::EmptyModuli);
                }
                if let Some(&bits) = q.iter().chain(p).find(|b| !(20..=61).contains(*b)) {
                    return Err(ParamsError::PrimeBitsOutOfRange { bits });
                }
                q.len()
            }
            Moduli::Primes { q, p } => {
                if q.is_empty() || p.is_empty() {
                    return Err(ParamsError::EmptyModuli);
                }
                q.len()
            }
        };
        if self.dnum == 0 || self.dnum > num_q {
            return Err(ParamsError::DnumOutOfRange {
                dnum: self.dnum,
                max: num_q,
            });
        }
        if !(self.log_scale >= 1.0 && self.log_scale < 60.0) {
            return Err(ParamsError::LogScaleOutOfRange {
                log_scale: self.log_scale,
            });
        }
        if self.hamming_weight == 0 || self.hamming_weight > n {
            return Err(ParamsError::HammingWeightOutOfRange {
                hamming_weight: self.hamming_weight,
                n,
            });
        }
        if !(self.sigma.is_finite() && self.sigma > 0.0 && self.sigma < 1e6) {
            return Err(ParamsError::InvalidSigma { sigma: self.sigma });
        }
        Ok(())
    }

    /// Step 2 of [`CkksParams::build`]: the primes. Explicit primes are returned as given;
    /// bit sizes are turned into primes deterministically: `q_0` and the special primes the
    /// largest unused NTT-friendly primes below `2^bits`; the scaling primes, from the top level
    /// down, the unused prime of the requested size nearest to the current canonical scale, which
    /// keeps `Δ_{l−1} = Δ_l²/q_l` close to the default scale along the chain. Then every prime
    /// is checked (prime, `≡ 1 mod 2N`, below `2^61`, no repetition). Call
    /// [`ParamsLiteral::validate`] first.
    pub fn resolve_moduli(&self) -> Result<ResolvedModuli, ParamsError> {
        let n = 1usize << self.log_n;
        let (q, p) = match &self.moduli {
            Moduli::Bits { q, p } => generate_chain(q, p, n, self.log_scale)?,
            Moduli::Primes { q, p } => (q.clone(), p.clone()),
        };
        if q.is_empty() || p.is_empty() {
            return Err(ParamsError::EmptyModuli);
        }
        let all: Vec<u64> = q.iter().chain(&p).copied().collect();
        for (i, &x) in all.iter().enumerate() {
            if !(3..(1u64 << 61)).contains(&x) || !is_prime(x) || x % (2 * n as u64) != 1 {
                return Err(ParamsError::NotNttPrime { prime: x });
            }
            if all[..i].contains(&x) {
                return Err(ParamsError::DuplicatePrime { prime: x });
            }
        }
        Ok(ResolvedModuli { q, p })
    }

    /// The key-switching digits (ranges of chain-prime indices, `⌈(L+1)/dnum⌉` primes each) and
    /// the checks that need the primes: the special modulus covers the largest digit, and
    /// `log2(QP)` satisfies the claimed [`Security`] rule.
    pub fn check_resolved(&self, m: &ResolvedModuli) -> Result<Vec<Range<usize>>, ParamsError> {
        let num_q = m.q.len();
        if self.dnum == 0 || self.dnum > num_q {
            return Err(ParamsError::DnumOutOfRange {
                dnum: self.dnum,
                max: num_q,
            });
        }
        let alpha = num_q.div_ceil(self.dnum);
        let digits: Vec<Range<usize>> = (0..num_q)
            .step_by(alpha)
            .map(|s| s..(s + alpha).min(num_q))
            .collect();
        let log_p: f64 = m.p.iter().map(|&x| (x as f64).log2()).sum();
        let max_digit = digits
            .iter()
            .map(|d| {
                m.q[d.clone()]
                    .iter()
                    .map(|&x| (x as f64).log2())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        if log_p < max_digit {
            return Err(ParamsError::SpecialModulusTooSmall { log_p, max_digit });
        }
        let log_qp = m.log_qp();
        let rule = self.security;
        if rule == Security::Sparse192Classic128 && (self.log_n != 16 || self.hamming_weight < 192)
        {
            return Err(ParamsError::SecurityRuleNotApplicable {
                rule,
                log_n: self.log_n,
                hamming_weight: self.hamming_weight,
                requirement: "N = 2^16 and Hamming weight >= 192",
            });
        }
        if rule != Security::Insecure {
            let bound =
                rule.max_log_qp(self.log_n)
                    .ok_or(ParamsError::SecurityRuleNotApplicable {
                        rule,
                        log_n: self.log_n,
                        hamming_weight: self.hamming_weight,
                        requirement: "a log_n the HomomorphicEncryption.org table covers (10..=17)",
                    })?;
            if log_qp > bound as f64 {
                return Err(ParamsError::ModulusTooLarge {
                    rule,
                    log_n: self.log_n,
                    log_qp,
                    bound,
                });
            }
        }
        Ok(digits)
    }
}

/// Prime generation for [`Moduli::Bits`] (see [`ParamsLiteral::resolve_moduli`]).
fn generate_chain(
    q: &[u8],
    p: &[u8],
    n: usize,
    log_scale: f64,
) -> Result<(Vec<u64>, Vec<u64>), ParamsError> {
    if q.is_empty() || p.is_empty() {
        return Err(ParamsError::EmptyModuli);
    }
    let none = |bits: u32, needed: usize| ParamsError::NotEnoughPrimes { bits, needed, n };
    let mut all: Vec<u64> = Vec::new();
    let first = generate_primes(q[0] as u32, 1, n, PrimeWalk::Below, &all)
        .ok_or_else(|| none(q[0] as u32, 1))?;
    all.extend(&first);
    // A pool of candidates per scaling-prime size, twice as many as needed when they exist.
    let mut pools: HashMap<u8, Vec<u64>> = HashMap::new();
    for &b in &q[1..] {
        if let std::collections::hash_map::Entry::Vacant(e) = pools.entry(b) {
            let c = q[1..].iter().filter(|&&x| x == b).count();
            let ps = generate_primes(b as u32, 2 * c + 8, n, PrimeWalk::Alternate, &all)
                .or_else(|| generate_primes(b as u32, c, n, PrimeWalk::Alternate, &all))
                .ok_or_else(|| none(b as u32, c))?;
            e.insert(ps);
        }
    }
    let mut chosen = vec![0u64; q.len()];
    let mut scale = log_scale.exp2();
    for l in (1..q.len()).rev() {
        let b = q[l];
        let target = if (scale.log2() - b as f64).abs() < 1.0 {
            scale
        } else {
            (b as f64).exp2()
        };
        let pool = pools.get_mut(&b).ok_or_else(|| none(b as u32, 1))?;
        let (idx, _) = pool
            .iter()
            .enumerate()
            .min_by(|a, c| {
                (*a.1 as f64 - target)
                    .abs()
                    .total_cmp(&(*c.1 as f64 - target).abs())
            })
            .ok_or_else(|| none(b as u32, 1))?;
        let pr = pool.swap_remove(idx);
        chosen[l] = pr;
        scale = scale * scale / pr as f64;
    }
    chosen[0] = first[0];
    all.extend(&chosen[1..]);
    let mut ps = Vec::with_capacity(p.len());
    for &b in p {
        let c = generate_primes(b as u32, 1, n, PrimeWalk::Below, &all)
            .ok_or_else(|| none(b as u32, 1))?;
        all.extend(&c);
        ps.push(c[0]);
    }
    Ok((chosen, ps))
}

/// Step 3 of [`CkksParams::build`]: NTT plans, canonical scales, rescaling and ModDown
/// constants, the monomial `X^(N/2)` and the identity hash of a checked literal.
fn precompute(
    lit: &ParamsLiteral,
    m: ResolvedModuli,
    digits: Vec<Range<usize>>,
) -> Result<ParamsInner, ParamsError> {
    let n = 1usize << lit.log_n;
    let log_slots = lit.log_slots.unwrap_or(lit.log_n - 1);
    let ResolvedModuli { q, p } = m;
    let all: Vec<u64> = q.iter().chain(&p).copied().collect();
    let num_q = q.len();
    let moduli: Vec<Modulus> = all.iter().map(|&x| Modulus::new(x)).collect();
    // NTT plans: tfhe-ntt where it exists (N ≥ 16), checked against our order; else scalar.
    let mut ntt: Vec<Box<dyn NttBackend>> = Vec::with_capacity(all.len());
    for &x in &all {
        let fast = TfheNtt::new(n, x).filter(|t| backend_root(t).is_some());
        match fast {
            Some(t) => ntt.push(Box::new(t)),
            None => ntt.push(Box::new(
                ScalarNtt::new(n, x).ok_or(ParamsError::NoNtt { prime: x, n })?,
            )),
        }
    }
    // Canonical scales.
    let mut scales = vec![0.0; num_q];
    scales[num_q - 1] = lit.log_scale.exp2();
    for l in (0..num_q - 1).rev() {
        scales[l] = scales[l + 1] * scales[l + 1] / q[l + 1] as f64;
    }
    if scales.iter().any(|s| !s.is_finite() || *s < 1.0) {
        return Err(ParamsError::DegenerateScales);
    }
    let rescale_inv = (0..num_q)
        .map(|l| {
            (0..l)
                .map(|i| {
                    let m = &moduli[i];
                    let v = m.inv(m.reduce(q[l]));
                    (v, m.shoup(v))
                })
                .collect()
        })
        .collect();
    let mut monomial_i = Vec::with_capacity(num_q);
    for t in ntt.iter().take(num_q) {
        let mut v = vec![0u64; n];
        v[n / 2] = 1;
        t.forward(&mut v);
        monomial_i.push(v);
    }
    let k = p.len();
    let p_hat_inv = (0..k)
        .map(|j| {
            let m = &moduli[num_q + j];
            let hat = (0..k)
                .filter(|&t| t != j)
                .fold(1u64, |acc, t| m.mul(acc, m.reduce(p[t])));
            let v = m.inv(hat);
            (v, m.shoup(v))
        })
        .collect();
    let p_hat_mod_q = (0..num_q)
        .map(|i| {
            let m = &moduli[i];
            (0..k)
                .map(|j| {
                    (0..k)
                        .filter(|&t| t != j)
                        .fold(1u64, |acc, t| m.mul(acc, m.reduce(p[t])))
                })
                .collect()
        })
        .collect();
    let p_mod_q: Vec<u64> = (0..num_q)
        .map(|i| {
            p.iter()
                .fold(1u64, |acc, &x| moduli[i].mul(acc, moduli[i].reduce(x)))
        })
        .collect();
    let p_inv_mod_q = (0..num_q)
        .map(|i| {
            let v = moduli[i].inv(p_mod_q[i]);
            (v, moduli[i].shoup(v))
        })
        .collect();
    let mut id: u64 = 0xcbf2_9ce4_8422_2325;
    fnv(&mut id, b"hetal-ckks/params/v1");
    fnv(&mut id, &lit.log_n.to_le_bytes());
    fnv(&mut id, &log_slots.to_le_bytes());
    for x in &all {
        fnv(&mut id, &x.to_le_bytes());
    }
    fnv(&mut id, &(num_q as u64).to_le_bytes());
    fnv(&mut id, &(lit.dnum as u64).to_le_bytes());
    fnv(&mut id, &lit.log_scale.to_bits().to_le_bytes());
    fnv(&mut id, &(lit.hamming_weight as u64).to_le_bytes());
    fnv(&mut id, &lit.sigma.to_bits().to_le_bytes());
    let mut resolved = lit.clone();
    resolved.moduli = Moduli::Primes { q, p };
    resolved.log_slots = Some(log_slots);
    Ok(ParamsInner {
        literal: resolved,
        n,
        slots: 1 << log_slots,
        moduli,
        num_q,
        ntt,
        digits,
        scales,
        id,
        rescale_inv,
        monomial_i,
        p_hat_inv,
        p_hat_mod_q,
        p_inv_mod_q,
        p_mod_q,
        galois_cache: RwLock::new(HashMap::new()),
    })
}

impl CkksParams {
    /// Validates a literal and precomputes everything, reporting a failure as a typed
    /// [`ParamsError`]: [`ParamsLiteral::validate`] (fields), [`ParamsLiteral::resolve_moduli`]
    /// (prime generation and checks), [`ParamsLiteral::check_resolved`] (digits, special
    /// modulus, security rule), then the precomputation (NTT plans, scales, RNS constants).
    pub fn build(lit: &ParamsLiteral) -> Result<Self, ParamsError> {
        lit.validate()?;
        let moduli = lit.resolve_moduli()?;
        let digits = lit.check_resolved(&moduli)?;
        Ok(CkksParams(Arc::new(precompute(lit, moduli, digits)?)))
    }

    /// [`CkksParams::build`] with the error converted into [`hetal_traits::Error::InvalidInput`]
    /// (its message kept), for code working with the shared error type.
    pub fn new(lit: &ParamsLiteral) -> Result<Self> {
        Ok(Self::build(lit)?)
    }

    /// The maximum level L.
    pub fn max_level(&self) -> usize {
        self.num_q - 1
    }

    /// Number of special primes.
    pub fn num_p(&self) -> usize {
        self.moduli.len() - self.num_q
    }

    /// log2 of Q_L · P.
    pub fn log_qp(&self) -> f64 {
        self.moduli.iter().map(|m| (m.q as f64).log2()).sum()
    }

    /// log2 of Q_L.
    pub fn log_q(&self) -> f64 {
        self.moduli[..self.num_q]
            .iter()
            .map(|m| (m.q as f64).log2())
            .sum()
    }

    /// The chain primes `q_0 .. q_L`.
    pub fn q_primes(&self) -> Vec<u64> {
        self.moduli[..self.num_q].iter().map(|m| m.q).collect()
    }

    /// The special primes.
    pub fn p_primes(&self) -> Vec<u64> {
        self.moduli[self.num_q..].iter().map(|m| m.q).collect()
    }

    /// Global prime indices of the extended basis `Q_l ∪ P` at level `l`.
    pub fn qp_indices(&self, level: usize) -> Vec<usize> {
        (0..=level).chain(self.num_q..self.moduli.len()).collect()
    }

    /// The digits intersected with the primes of level `l` (non-empty ones only).
    pub fn digits_at(&self, level: usize) -> Vec<Range<usize>> {
        self.digits
            .iter()
            .filter(|d| d.start <= level)
            .map(|d| d.start..d.end.min(level + 1))
            .collect()
    }

    /// The Galois element of a left rotation by `k` slots: `5^k mod 2N`.
    pub fn galois_element(&self, k: usize) -> usize {
        let two_n = 2 * self.n as u64;
        let mut g = 1u64;
        let mut b = 5u64;
        let mut e = k as u64;
        while e > 0 {
            if e & 1 == 1 {
                g = g * b % two_n;
            }
            b = b * b % two_n;
            e >>= 1;
        }
        g as usize
    }

    /// The Galois element of complex conjugation: `2N − 1`.
    pub fn conjugation_element(&self) -> usize {
        2 * self.n - 1
    }

    /// The NTT-domain index table of the automorphism `X → X^g`: `out[i] = in[table[i]]`.
    pub fn galois_table(&self, g: usize) -> Arc<Vec<u32>> {
        if let Some(t) = self
            .galois_cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&g)
        {
            return t.clone();
        }
        let n = self.n;
        let log_n = self.literal.log_n;
        let two_n = 2 * n;
        let t: Vec<u32> = (0..n)
            .map(|i| {
                let e = 2 * bit_reverse(i, log_n) + 1;
                let eg = e * g % two_n;
                bit_reverse((eg - 1) / 2, log_n) as u32
            })
            .collect();
        let t = Arc::new(t);
        self.galois_cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(g, t.clone());
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    #[test]
    fn presets_validate_and_secure_ones_meet_the_standard() {
        for lit in presets::all() {
            let p = CkksParams::new(&lit).unwrap_or_else(|e| panic!("{}: {e}", lit.name));
            let bound = he_standard_max_log_qp(lit.log_n);
            if lit.security == Security::Classic128 {
                assert!(
                    p.log_qp() <= bound.unwrap() as f64,
                    "{}: {}",
                    lit.name,
                    p.log_qp()
                );
            } else {
                assert!(lit.name.starts_with("insecure-"));
            }
            // Canonical scales stay near the default scale.
            for s in &p.scales {
                assert!(
                    (s.log2() - lit.log_scale).abs() < 0.01,
                    "{}: {}",
                    lit.name,
                    s.log2()
                );
            }
        }
        assert_eq!(he_standard_max_log_qp(14), Some(438));
        assert_eq!(he_standard_max_log_qp(15), Some(881));
        assert_eq!(he_standard_max_log_qp(16), Some(1747));
        let p = CkksParams::new(&presets::n16_l12()).unwrap();
        assert_eq!(p.max_level(), 12);
        assert_eq!(p.n, 1 << 16);
    }

    #[test]
    fn invalid_literals_are_rejected() {
        let base = presets::insecure_test_n10();
        let bad = |f: &dyn Fn(&mut ParamsLiteral)| {
            let mut l = base.clone();
            f(&mut l);
            CkksParams::new(&l).is_err()
        };
        assert!(bad(&|l| l.log_n = 3));
        assert!(bad(&|l| l.dnum = 0));
        assert!(bad(&|l| l.dnum = 9));
        assert!(bad(&|l| l.moduli = Moduli::Bits {
            q: vec![55, 40],
            p: vec![20]
        }));
        assert!(bad(&|l| l.moduli = Moduli::Primes {
            q: vec![97, 97],
            p: vec![193]
        }));
        assert!(bad(&|l| l.moduli = Moduli::Primes {
            q: vec![1 << 40],
            p: vec![193]
        }));
        assert!(bad(&|l| l.hamming_weight = 0));
        assert!(bad(&|l| l.log_slots = Some(10)));
        assert!(bad(&|l| l.security = Security::Classic128));
        assert!(bad(&|l| l.sigma = f64::NAN));
        assert!(bad(&|l| l.log_scale = f64::INFINITY));
        let mut l = presets::n16_l12();
        l.moduli = Moduli::Bits {
            q: [vec![60], vec![50; 40]].concat(),
            p: vec![50; 15],
        };
        assert!(matches!(
            CkksParams::build(&l),
            Err(ParamsError::ModulusTooLarge { bound: 1747, .. })
        ));
        // Each step reports its own variant.
        let typed = |f: &dyn Fn(&mut ParamsLiteral)| {
            let mut l = base.clone();
            f(&mut l);
            CkksParams::build(&l).unwrap_err()
        };
        assert_eq!(
            typed(&|l| l.log_n = 3),
            ParamsError::LogNOutOfRange { log_n: 3 }
        );
        assert_eq!(
            typed(&|l| l.dnum = 9),
            ParamsError::DnumOutOfRange { dnum: 9, max: 4 }
        );
        assert_eq!(
            typed(&|l| l.moduli = Moduli::Primes {
                q: vec![97, 97],
                p: vec![193]
            }),
            ParamsError::NotNttPrime { prime: 97 }
        );
        assert!(matches!(
            typed(&|l| l.moduli = Moduli::Bits {
                q: vec![55, 40],
                p: vec![20]
            }),
            ParamsError::SpecialModulusTooSmall { .. } | ParamsError::NotEnoughPrimes { .. }
        ));
        assert!(matches!(
            typed(&|l| l.security = Security::Classic128),
            ParamsError::ModulusTooLarge { bound: 27, .. }
        ));
        // The conversion into the shared error keeps the message.
        let e: hetal_traits::Error = typed(&|l| l.hamming_weight = 0).into();
        assert!(e.to_string().contains("hamming weight 0"), "{e}");
        assert!(CkksParams::new(&base).is_ok());
    }

    #[test]
    fn galois_tables_are_permutations_and_compose() {
        let p = CkksParams::new(&presets::insecure_test_n10()).unwrap();
        let g1 = p.galois_element(1);
        let g2 = p.galois_element(2);
        assert_eq!(g1, 5);
        let t1 = p.galois_table(g1);
        let t2 = p.galois_table(g2);
        let mut seen = vec![false; p.n];
        for &x in t1.iter() {
            seen[x as usize] = true;
        }
        assert!(seen.iter().all(|&b| b));
        // σ_5 ∘ σ_5 = σ_25.
        for i in 0..p.n {
            assert_eq!(t1[t1[i] as usize], t2[i]);
        }
        // Check against the coefficient-domain definition on one prime.
        let m = p.moduli[0];
        let a: Vec<u64> = (0..p.n as u64).map(|i| (i * i + 7) % m.q).collect();
        let mut sigma = vec![0u64; p.n];
        for (j, &c) in a.iter().enumerate() {
            let e = j * g1 % (2 * p.n);
            if e < p.n {
                sigma[e] = m.add(sigma[e], c)
            } else {
                sigma[e - p.n] = m.sub(sigma[e - p.n], c)
            }
        }
        let mut fa = a.clone();
        p.ntt[0].forward(&mut fa);
        p.ntt[0].forward(&mut sigma);
        let permuted: Vec<u64> = (0..p.n).map(|i| fa[t1[i] as usize]).collect();
        assert_eq!(permuted, sigma);
    }
}
