//! Secret, public and key-switching keys, and their generation.
//!
//! A key-switching key from `s'` to `s` has one row per digit `j`:
//! `(b_j, a_j) = (−a_j·s + e_j + P·[Q̂_j·(Q̂_j^-1 mod Q̃_j)]·s', a_j)` over all primes of `Q_L·P`.
//! The gadget factor is `P mod q_i` on the primes of digit `j` and `0` elsewhere. `a_j` is
//! expanded from a 32-byte seed (ChaCha20), so a serialised key stores only `b_j` and the seed.

use crate::params::CkksParams;
use crate::ring;
use crate::sampling::{Seed, gaussian, new_seed, ternary_fixed_weight, uniform_from_seed};
use rand::Rng;
use std::collections::BTreeMap;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The secret key: a ternary polynomial of fixed Hamming weight, kept in coefficient form and in
/// the NTT domain over every prime of `Q_L·P`. Zeroised on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    pub(crate) coeffs: Vec<i8>,
    pub(crate) ntt: Vec<u64>,
    #[zeroize(skip)]
    pub(crate) params_id: u64,
    #[zeroize(skip)]
    pub(crate) key_id: u64,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// Samples a secret key.
    pub fn generate<R: Rng>(p: &CkksParams, rng: &mut R) -> Self {
        let coeffs = ternary_fixed_weight(rng, p.n, p.literal.hamming_weight);
        let key_id = rng.next_u64();
        Self::from_coeffs(p, coeffs, key_id)
    }

    pub(crate) fn from_coeffs(p: &CkksParams, coeffs: Vec<i8>, key_id: u64) -> Self {
        let wide: Vec<i64> = coeffs.iter().map(|&c| c as i64).collect();
        let basis: Vec<usize> = (0..p.moduli.len()).collect();
        let ntt = ring::small_to_ntt(p, &wide, &basis);
        SecretKey {
            coeffs,
            ntt,
            params_id: p.id,
            key_id,
        }
    }

    /// The identity shared by every object encrypted or generated under this key.
    pub fn key_id(&self) -> u64 {
        self.key_id
    }

    /// The NTT limbs of the given basis.
    pub(crate) fn limbs(&self, p: &CkksParams, basis: &[usize]) -> Vec<u64> {
        let n = p.n;
        let mut out = Vec::with_capacity(n * basis.len());
        for &g in basis {
            out.extend_from_slice(&self.ntt[g * n..(g + 1) * n]);
        }
        out
    }
}

/// A public key `(b, a) = (−a·s + e, a)` modulo `Q_L`, with `a` expanded from a seed.
#[derive(Clone, Debug)]
pub struct PublicKey {
    pub(crate) params_id: u64,
    pub(crate) key_id: u64,
    pub(crate) b: Vec<u64>,
    pub(crate) a: Vec<u64>,
    pub(crate) seed: Seed,
}

impl PublicKey {
    /// Generates the public key of `sk`.
    pub fn generate<R: Rng>(p: &CkksParams, sk: &SecretKey, rng: &mut R) -> Self {
        let basis = ring::q_basis(p.max_level());
        let seed = new_seed(rng);
        let a = uniform_from_seed(p, &seed, &basis);
        let e = ring::small_to_ntt(p, &gaussian(rng, p.n, p.literal.sigma), &basis);
        let mut b = ring::mul(p, &a, &sk.limbs(p, &basis), &basis);
        ring::neg_assign(p, &mut b, &basis);
        ring::add_assign(p, &mut b, &e, &basis);
        PublicKey {
            params_id: p.id,
            key_id: sk.key_id,
            b,
            a,
            seed,
        }
    }
}

/// One digit of a key-switching key, over every prime of `Q_L·P`, NTT domain.
#[derive(Clone, Debug)]
pub struct KeyRow {
    pub(crate) b: Vec<u64>,
    pub(crate) a: Vec<u64>,
    pub(crate) seed: Seed,
}

/// A hybrid key-switching key (one row per digit).
#[derive(Clone, Debug)]
pub struct SwitchingKey {
    pub(crate) rows: Vec<KeyRow>,
}

impl SwitchingKey {
    /// The key switching from `s_from` (NTT limbs over `Q_L`) to `sk`.
    pub(crate) fn generate<R: Rng>(
        p: &CkksParams,
        sk: &SecretKey,
        s_from: &[u64],
        rng: &mut R,
    ) -> Self {
        use rayon::prelude::*;
        let n = p.n;
        let basis: Vec<usize> = (0..p.moduli.len()).collect();
        // Randomness is drawn sequentially (seed, then error, per digit) so that a seeded
        // generator gives the same key whatever the thread count; the rows are then built in
        // parallel.
        let draws: Vec<(Seed, Vec<i64>)> = p
            .digits
            .iter()
            .map(|_| {
                let seed = new_seed(rng);
                (seed, gaussian(rng, n, p.literal.sigma))
            })
            .collect();
        let rows = p
            .digits
            .par_iter()
            .zip(draws.into_par_iter())
            .map(|(d, (seed, err))| {
                let a = uniform_from_seed(p, &seed, &basis);
                let e = ring::small_to_ntt(p, &err, &basis);
                let mut b = ring::mul(p, &a, &sk.ntt, &basis);
                ring::neg_assign(p, &mut b, &basis);
                ring::add_assign(p, &mut b, &e, &basis);
                for i in d.clone() {
                    let m = p.moduli[i];
                    let f = p.p_mod_q[i];
                    let fs = m.shoup(f);
                    for (x, &s) in b[i * n..(i + 1) * n]
                        .iter_mut()
                        .zip(&s_from[i * n..(i + 1) * n])
                    {
                        *x = m.add(*x, m.mul_shoup(s, f, fs));
                    }
                }
                KeyRow { b, a, seed }
            })
            .collect();
        SwitchingKey { rows }
    }

    /// Rebuilds a key from its `b` parts and seeds (expanding every `a`).
    pub(crate) fn from_compressed(p: &CkksParams, parts: Vec<(Vec<u64>, Seed)>) -> Self {
        let basis: Vec<usize> = (0..p.moduli.len()).collect();
        use rayon::prelude::*;
        let rows = parts
            .into_par_iter()
            .map(|(b, seed)| KeyRow {
                a: uniform_from_seed(p, &seed, &basis),
                b,
                seed,
            })
            .collect();
        SwitchingKey { rows }
    }

    /// Size in bytes in memory (both parts) and serialised (the `b` parts plus seeds).
    pub fn size_bytes(&self) -> (usize, usize) {
        let b: usize = self.rows.iter().map(|r| r.b.len() * 8).sum();
        (2 * b, b + 32 * self.rows.len())
    }
}

/// The evaluation keys a server holds: relinearisation, rotations (by Galois element) and
/// conjugation. They cannot decrypt.
#[derive(Clone, Debug)]
pub struct EvaluationKeys {
    pub(crate) params_id: u64,
    pub(crate) key_id: u64,
    pub(crate) relin: Option<SwitchingKey>,
    pub(crate) rotations: BTreeMap<usize, SwitchingKey>,
    pub(crate) conjugation: Option<SwitchingKey>,
    pub(crate) encapsulation: Option<EncapsulationKeys>,
    /// The periods `n` (sorted) for which these keys hold the sparse bootstrap's extra keys
    /// (the trace's automorphisms and the `n`-slot DFT rotations, in `rotations`).
    pub(crate) sparse_bootstrap_slots: Vec<usize>,
}

/// Sparse-secret encapsulation keys (Bossuat, Troncoso-Pastoriza, Hubaux; eprint 2022/024).
///
/// Bootstrapping's ModRaise makes a ciphertext decrypt to `m + q_0·I`, and the size of `I` grows
/// with the secret's Hamming weight. With encapsulation the main secret `s` can be dense (the
/// HomomorphicEncryption.org standard's ternary secret) while ModRaise runs under an ephemeral
/// sparse secret `s'` of small weight `h'`:
///
/// 1. at level 0 the ciphertext is switched from `s` to `s'` with [`to_sparse`](Self): a key over
///    the modulus `q_0·p_0` only (one digit, one special prime), so the sparse secret is never
///    exposed under a large modulus (`log2(q_0·p_0)` ≈ 109 bits for `BOOT_N16`);
/// 2. the lifted ciphertext is switched back from `s'` to `s` at the top level with
///    [`to_dense`](Self), an ordinary hybrid key over `Q_L·P` whose secret is the dense `s`.
#[derive(Clone, Debug)]
pub struct EncapsulationKeys {
    /// `(b, a) = (−a·s' + e + p_0·s, a)` over the two primes `q_0, p_0` (NTT domain).
    pub(crate) to_sparse: KeyRow,
    /// The hybrid key from `s'` to `s`.
    pub(crate) to_dense: SwitchingKey,
    /// Hamming weight `h'` of the sparse secret.
    pub(crate) sparse_weight: usize,
}

impl EncapsulationKeys {
    /// The global prime indices of the dense-to-sparse key: `q_0` and the first special prime.
    pub(crate) fn small_basis(p: &CkksParams) -> [usize; 2] {
        [0, p.num_q]
    }

    /// Hamming weight of the ephemeral sparse secret.
    pub fn sparse_weight(&self) -> usize {
        self.sparse_weight
    }

    /// Samples an ephemeral sparse secret of weight `sparse_weight` and generates both keys
    /// (the sparse secret is zeroised when this returns).
    pub(crate) fn generate<R: Rng>(
        p: &CkksParams,
        sk: &SecretKey,
        sparse_weight: usize,
        rng: &mut R,
    ) -> Self {
        let sparse =
            SecretKey::from_coeffs(p, ternary_fixed_weight(rng, p.n, sparse_weight), sk.key_id);
        let n = p.n;
        let basis = Self::small_basis(p);
        let seed = new_seed(rng);
        let a = uniform_from_seed(p, &seed, &basis);
        let e = ring::small_to_ntt(p, &gaussian(rng, n, p.literal.sigma), &basis);
        let mut b = ring::mul(p, &a, &sparse.limbs(p, &basis), &basis);
        ring::neg_assign(p, &mut b, &basis);
        ring::add_assign(p, &mut b, &e, &basis);
        // The gadget factor p_0 vanishes modulo p_0; modulo q_0 it is p_0 mod q_0.
        let m = p.moduli[0];
        let f = m.reduce(p.moduli[p.num_q].q);
        let fs = m.shoup(f);
        for (x, &s) in b[..n].iter_mut().zip(&sk.ntt[..n]) {
            *x = m.add(*x, m.mul_shoup(s, f, fs));
        }
        let q_basis = ring::q_basis(p.max_level());
        let to_dense = SwitchingKey::generate(p, sk, &sparse.limbs(p, &q_basis), rng);
        EncapsulationKeys {
            to_sparse: KeyRow { b, a, seed },
            to_dense,
            sparse_weight,
        }
    }
}

impl EvaluationKeys {
    /// The Galois elements that have a key.
    pub fn galois_elements(&self) -> Vec<usize> {
        self.rotations.keys().copied().collect()
    }

    /// The identity of the secret key these keys belong to.
    pub fn key_id(&self) -> u64 {
        self.key_id
    }

    /// The periods for which the sparse bootstrap's keys were generated
    /// ([`crate::bootstrap::generate_bootstrap_keys`] with
    /// [`hetal_traits::KeyRequest::sparse_bootstrap_slots`]), sorted; empty for a leveled key set.
    pub fn sparse_bootstrap_slots(&self) -> &[usize] {
        &self.sparse_bootstrap_slots
    }

    /// The sparse-secret encapsulation keys, if generated (bootstrappable presets that ask for
    /// them).
    pub fn encapsulation(&self) -> Option<&EncapsulationKeys> {
        self.encapsulation.as_ref()
    }
}

/// Generates the relinearisation key (from `s²`).
pub(crate) fn relin_key<R: Rng>(p: &CkksParams, sk: &SecretKey, rng: &mut R) -> SwitchingKey {
    let basis = ring::q_basis(p.max_level());
    let s = sk.limbs(p, &basis);
    let s2 = ring::mul(p, &s, &s, &basis);
    SwitchingKey::generate(p, sk, &s2, rng)
}

/// Generates the key of the automorphism `X → X^g` (from `σ_g(s)`).
pub(crate) fn galois_key<R: Rng>(
    p: &CkksParams,
    sk: &SecretKey,
    g: usize,
    rng: &mut R,
) -> SwitchingKey {
    let basis = ring::q_basis(p.max_level());
    let s = sk.limbs(p, &basis);
    let table = p.galois_table(g);
    let sg = ring::permute(p, &s, &table, basis.len());
    SwitchingKey::generate(p, sk, &sg, rng)
}

impl EvaluationKeys {
    /// The relinearisation key, if generated.
    pub fn relin_key(&self) -> Option<&SwitchingKey> {
        self.relin.as_ref()
    }
}
