//! [`CkksClient`]: the secret-key holder (encryption, decryption, key generation).

use crate::ciphertext::{Ciphertext, Plaintext};
use crate::encoder::{CkksEncoder, delegate_encoder};
use crate::keys::{self, EvaluationKeys, PublicKey, SecretKey};
use crate::params::CkksParams;
use crate::ring;
use crate::sampling::{gaussian, new_seed, os_rng, ternary_fixed_weight, uniform_from_seed};
use hetal_traits::{Decryptor, Encryptor, Error, KeyGenerator, KeyRequest, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::BTreeMap;

/// The client: holds the secret key, encrypts, decrypts and generates evaluation keys.
pub struct CkksClient {
    pub(crate) enc: CkksEncoder,
    pub(crate) sk: SecretKey,
    pub(crate) pk: PublicKey,
    pub(crate) rng: ChaCha20Rng,
}

impl std::fmt::Debug for CkksClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CkksClient")
            .field("params", &self.enc.params)
            .field("sk", &self.sk)
            .finish_non_exhaustive()
    }
}

delegate_encoder!(CkksClient);

impl CkksClient {
    /// A client with a fresh secret key, its randomness seeded from the operating system.
    pub fn new(params: CkksParams) -> Self {
        Self::with_rng(params, os_rng())
    }

    /// A deterministic client (tests and reproducible benchmarks only).
    pub fn from_seed(params: CkksParams, seed: u64) -> Self {
        Self::with_rng(params, ChaCha20Rng::seed_from_u64(seed))
    }

    fn with_rng(params: CkksParams, mut rng: ChaCha20Rng) -> Self {
        let sk = SecretKey::generate(&params, &mut rng);
        let pk = PublicKey::generate(&params, &sk, &mut rng);
        CkksClient {
            enc: CkksEncoder::new(params),
            sk,
            pk,
            rng,
        }
    }

    /// A client for an existing secret key (e.g. one read back from storage).
    pub fn from_secret_key(params: CkksParams, sk: SecretKey) -> Result<Self> {
        if sk.params_id != params.id {
            return Err(Error::mismatch("secret key from other parameters"));
        }
        let mut rng = os_rng();
        let pk = PublicKey::generate(&params, &sk, &mut rng);
        Ok(CkksClient {
            enc: CkksEncoder::new(params),
            sk,
            pk,
            rng,
        })
    }

    /// The parameter set.
    pub fn params(&self) -> &CkksParams {
        &self.enc.params
    }

    /// The encoder.
    pub fn encoder(&self) -> &CkksEncoder {
        &self.enc
    }

    /// The secret key.
    pub fn secret_key(&self) -> &SecretKey {
        &self.sk
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.pk
    }

    fn check_pt(&self, pt: &Plaintext) -> Result<()> {
        if pt.params_id != self.enc.params.id {
            return Err(Error::mismatch("plaintext from other parameters"));
        }
        Ok(())
    }

    /// Public-key encryption `(v·b + e0 + m, v·a + e1)` with a ternary `v`.
    pub fn encrypt_public(&mut self, pt: &Plaintext) -> Result<Ciphertext> {
        self.check_pt(pt)?;
        Ok(encrypt_with_public_key(
            &self.enc.params,
            &self.pk,
            pt,
            &mut self.rng,
        ))
    }

    /// Evaluation keys for every rotation step in `steps`, relinearisation and conjugation
    /// (convenience wrapper around [`KeyGenerator::generate_evaluation_keys`]).
    pub fn evaluation_keys_for(
        &mut self,
        steps: &[i64],
        conjugation: bool,
    ) -> Result<EvaluationKeys> {
        let mut req = KeyRequest::with_rotations(steps.iter().copied());
        req.conjugation = conjugation;
        self.generate_evaluation_keys(&req)
    }
}

/// Public-key encryption of `pt` (anyone holding the public key can do this).
pub fn encrypt_with_public_key(
    p: &CkksParams,
    pk: &PublicKey,
    pt: &Plaintext,
    rng: &mut ChaCha20Rng,
) -> Ciphertext {
    let n = p.n;
    let l = pt.level;
    let basis = ring::q_basis(l);
    let v: Vec<i64> = ternary_fixed_weight(rng, n, p.literal.hamming_weight)
        .iter()
        .map(|&x| x as i64)
        .collect();
    let v = ring::small_to_ntt(p, &v, &basis);
    let e0 = ring::small_to_ntt(p, &gaussian(rng, n, p.literal.sigma), &basis);
    let e1 = ring::small_to_ntt(p, &gaussian(rng, n, p.literal.sigma), &basis);
    let mut c0 = ring::mul(p, &v, &pk.b, &basis);
    ring::add_assign(p, &mut c0, &e0, &basis);
    ring::add_assign(p, &mut c0, &pt.data, &basis);
    let mut c1 = ring::mul(p, &v, &pk.a, &basis);
    ring::add_assign(p, &mut c1, &e1, &basis);
    Ciphertext {
        params_id: p.id,
        key_id: pk.key_id,
        level: l,
        scale: pt.scale,
        c0,
        c1,
    }
}

impl Encryptor for CkksClient {
    type Ciphertext = Ciphertext;

    /// Secret-key encryption `(−a·s + e + m, a)` with a uniform `a` (smaller noise than
    /// public-key encryption).
    fn encrypt(&mut self, pt: &Plaintext) -> Result<Ciphertext> {
        self.check_pt(pt)?;
        let p = &self.enc.params;
        let l = pt.level;
        let basis = ring::q_basis(l);
        let seed = new_seed(&mut self.rng);
        let a = uniform_from_seed(p, &seed, &basis);
        let e = ring::small_to_ntt(p, &gaussian(&mut self.rng, p.n, p.literal.sigma), &basis);
        let mut c0 = ring::mul(p, &a, &self.sk.limbs(p, &basis), &basis);
        ring::neg_assign(p, &mut c0, &basis);
        ring::add_assign(p, &mut c0, &e, &basis);
        ring::add_assign(p, &mut c0, &pt.data, &basis);
        Ok(Ciphertext {
            params_id: p.id,
            key_id: self.sk.key_id,
            level: l,
            scale: pt.scale,
            c0,
            c1: a,
        })
    }
}

impl Decryptor for CkksClient {
    type Ciphertext = Ciphertext;

    fn decrypt(&self, ct: &Ciphertext) -> Result<Plaintext> {
        let p = &self.enc.params;
        if ct.params_id != p.id {
            return Err(Error::mismatch("ciphertext from other parameters"));
        }
        if ct.key_id != self.sk.key_id {
            return Err(Error::mismatch(
                "ciphertext encrypted under another secret key",
            ));
        }
        ct.validate(p)?;
        let basis = ring::q_basis(ct.level);
        // The secret's limbs over q_0 .. q_level are a prefix of its stored limbs.
        let s = &self.sk.ntt[..p.n * basis.len()];
        let mut data = ring::mul(p, &ct.c1, s, &basis);
        ring::add_assign(p, &mut data, &ct.c0, &basis);
        Ok(Plaintext {
            params_id: p.id,
            level: ct.level,
            scale: ct.scale,
            data,
        })
    }
}

impl KeyGenerator for CkksClient {
    type EvaluationKeys = EvaluationKeys;

    fn generate_evaluation_keys(&mut self, request: &KeyRequest) -> Result<EvaluationKeys> {
        if request.bootstrapping || !request.sparse_bootstrap_slots.is_empty() {
            return Err(Error::BootstrapUnavailable {
                reason: "the leveled key generator makes no bootstrapping keys: use hetal_ckks::bootstrap::generate_bootstrap_keys with a bootstrappable preset from hetal_ckks::bootstrap::presets".into(),
            });
        }
        let p = self.enc.params.clone();
        let relin = Some(keys::relin_key(&p, &self.sk, &mut self.rng));
        let mut rotations = BTreeMap::new();
        for k in request.normalized_rotations(p.slots) {
            let g = p.galois_element(k);
            rotations.insert(g, keys::galois_key(&p, &self.sk, g, &mut self.rng));
        }
        let conjugation = if request.conjugation {
            Some(keys::galois_key(
                &p,
                &self.sk,
                p.conjugation_element(),
                &mut self.rng,
            ))
        } else {
            None
        };
        Ok(EvaluationKeys {
            params_id: p.id,
            key_id: self.sk.key_id,
            relin,
            rotations,
            conjugation,
            encapsulation: None,
            sparse_bootstrap_slots: Vec::new(),
        })
    }
}
