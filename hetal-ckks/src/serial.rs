//! Versioned, validated serialisation (bincode 2 over serde) of parameters, keys, plaintexts and
//! ciphertexts.
//!
//! Every blob starts with a header (magic `HCKS`, format version, object kind). Residues are
//! packed limb by limb in the fewest whole bytes that hold that limb's largest value. Reading
//! checks everything: header, version, kind, parameter identity, level range, lengths, residues
//! below their primes, Galois elements, trailing bytes. Malformed input gives an error, never a
//! panic. Key-switching keys and public keys are stored compressed: only `b` and the 32-byte seed
//! from which `a` is re-expanded.

use crate::ciphertext::{Ciphertext, Plaintext};
use crate::keys::{EncapsulationKeys, EvaluationKeys, KeyRow, PublicKey, SecretKey, SwitchingKey};
use crate::params::{CkksParams, ParamsLiteral};
use crate::ring;
use crate::sampling::{Seed, uniform_from_seed};
use hetal_traits::{Error, Result};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;

/// The current format version (2: evaluation keys carry the optional sparse-secret encapsulation
/// keys; 3: the secret key carries a SHA-256 digest of its identity and coefficients; 4:
/// evaluation keys carry the periods of their sparse-bootstrap keys). Version-3 blobs are still
/// read (their evaluation keys have no sparse-bootstrap periods); older versions are refused
/// with an error naming the version.
pub const FORMAT_VERSION: u16 = 4;
/// The oldest format version that is still read.
pub const OLDEST_READABLE_VERSION: u16 = 3;
/// The most sparse-bootstrap periods an evaluation-key blob may list (one per power of two).
const MAX_SPARSE_PERIODS: usize = 64;
const MAGIC: [u8; 4] = *b"HCKS";
/// Upper bound on the size of one blob (16 GiB).
const MAX_BYTES: usize = 1 << 34;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Params,
    Ciphertext,
    Plaintext,
    PublicKey,
    SecretKey,
    EvaluationKeys,
}

#[derive(Serialize, Deserialize)]
struct Header {
    magic: [u8; 4],
    version: u16,
    kind: Kind,
}

/// A polynomial packed limb by limb: `widths[i]` bytes per residue of limb `i`.
#[derive(Serialize, Deserialize)]
struct Packed {
    widths: Vec<u8>,
    #[serde(with = "serde_bytes_compat")]
    bytes: Vec<u8>,
}

/// serde helpers that serialise a `Vec<u8>` as a byte string (bincode writes it in one copy).
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer, de::Visitor};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(V)
    }
}

fn pack(data: &[u64], n: usize) -> Packed {
    let limbs = data.len() / n;
    let mut widths = Vec::with_capacity(limbs);
    let mut bytes = Vec::new();
    for limb in data.chunks(n) {
        let max = limb.iter().copied().max().unwrap_or(0);
        let w = (64 - max.leading_zeros()).div_ceil(8).max(1) as usize;
        widths.push(w as u8);
        bytes.reserve(w * n);
        for &x in limb {
            bytes.extend_from_slice(&x.to_le_bytes()[..w]);
        }
    }
    Packed { widths, bytes }
}

fn bad(what: impl Into<String>) -> Error {
    Error::invalid(format!("deserialisation: {}", what.into()))
}

/// Unpacks a polynomial over `basis`, checking the shape and that each residue is below its prime.
fn unpack(p: &CkksParams, packed: &Packed, basis: &[usize]) -> Result<Vec<u64>> {
    let n = p.n;
    if packed.widths.len() != basis.len() {
        return Err(bad(format!(
            "{} limbs where {} were expected",
            packed.widths.len(),
            basis.len()
        )));
    }
    if packed.widths.iter().any(|&w| !(1..=8).contains(&w)) {
        return Err(bad("invalid residue width"));
    }
    let total: usize = packed.widths.iter().map(|&w| w as usize * n).sum();
    if packed.bytes.len() != total {
        return Err(bad("polynomial data has the wrong length"));
    }
    let mut out = Vec::with_capacity(n * basis.len());
    let mut off = 0;
    for (&w, &g) in packed.widths.iter().zip(basis) {
        let w = w as usize;
        let q = p.moduli[g].q;
        for chunk in packed.bytes[off..off + w * n].chunks_exact(w) {
            let mut b = [0u8; 8];
            b[..w].copy_from_slice(chunk);
            let x = u64::from_le_bytes(b);
            if x >= q {
                return Err(bad("residue out of range"));
            }
            out.push(x);
        }
        off += w * n;
    }
    Ok(out)
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_fixed_int_encoding()
        .with_limit::<MAX_BYTES>()
}

/// Decodes with [`config`]'s encoding and a limit on the bytes the decoder may claim of
/// 16 × `bytes.len()` (a power of two, at least 1 MiB, at most [`MAX_BYTES`] × 16): a genuine
/// blob claims at most 16 bytes per input byte, while a hostile length prefix claiming more than
/// the input holds is refused before anything is allocated for it.
fn decode_limited<T: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<(T, usize), String> {
    let need = (bytes.len() as u64)
        .saturating_mul(16)
        .max(1 << 20)
        .next_power_of_two();
    macro_rules! limited {
        ($($b:literal),*) => {
            match need.trailing_zeros() {
                $( $b => bincode::serde::decode_from_slice(
                    bytes,
                    bincode::config::standard()
                        .with_fixed_int_encoding()
                        .with_limit::<{ 1usize << $b }>(),
                ), )*
                _ => return Err(format!("{} bytes: too large a blob", bytes.len())),
            }
        };
    }
    limited!(
        20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38
    )
    .map_err(|e| e.to_string())
}

fn encode<T: Serialize>(kind: Kind, body: &T) -> Vec<u8> {
    let header = Header {
        magic: MAGIC,
        version: FORMAT_VERSION,
        kind,
    };
    // Serialising plain data structures into a Vec cannot fail.
    bincode::serde::encode_to_vec((header, body), config()).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(kind: Kind, bytes: &[u8]) -> Result<T> {
    let (_, read) = decode_header(kind, bytes)?;
    decode_body(kind, bytes, read)
}

/// Reads and checks the header: magic, a readable version
/// ([`OLDEST_READABLE_VERSION`]`..=`[`FORMAT_VERSION`]), the kind. Returns the version and the
/// header's length.
fn decode_header(kind: Kind, bytes: &[u8]) -> Result<(u16, usize)> {
    let (header, read): (Header, usize) =
        decode_limited(bytes).map_err(|e| bad(format!("header: {e}")))?;
    if header.magic != MAGIC {
        return Err(bad("not a hetal-ckks blob (bad magic)"));
    }
    if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&header.version) {
        return Err(bad(format!(
            "format version {} is not supported (this build reads versions {OLDEST_READABLE_VERSION} to {FORMAT_VERSION})",
            header.version
        )));
    }
    if header.kind != kind {
        return Err(bad(format!(
            "expected a {kind:?}, found a {:?}",
            header.kind
        )));
    }
    Ok((header.version, read))
}

/// Decodes the body after a header of `read` bytes; the body must end the blob.
fn decode_body<T: DeserializeOwned>(kind: Kind, bytes: &[u8], read: usize) -> Result<T> {
    let (body, used): (T, usize) =
        decode_limited(&bytes[read..]).map_err(|e| bad(format!("{kind:?}: {e}")))?;
    if read + used != bytes.len() {
        return Err(bad("trailing bytes"));
    }
    Ok(body)
}

fn check_params(p: &CkksParams, id: u64, what: &str) -> Result<()> {
    if id != p.id {
        return Err(Error::mismatch(format!(
            "{what} belongs to another parameter set"
        )));
    }
    Ok(())
}

fn check_level(p: &CkksParams, level: u32) -> Result<usize> {
    let l = level as usize;
    if l > p.max_level() {
        return Err(bad(format!(
            "level {l} above the maximum {}",
            p.max_level()
        )));
    }
    Ok(l)
}

fn check_scale(scale: f64) -> Result<()> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(bad("invalid scale"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct ParamsWire {
    literal: ParamsLiteral,
}

impl CkksParams {
    /// Serialises the parameter set (with its resolved primes).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(
            Kind::Params,
            &ParamsWire {
                literal: self.literal.clone(),
            },
        )
    }

    /// Reads and re-validates a parameter set.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let w: ParamsWire = decode(Kind::Params, bytes)?;
        CkksParams::new(&w.literal)
    }
}

#[derive(Serialize, Deserialize)]
struct CiphertextWire {
    params_id: u64,
    key_id: u64,
    level: u32,
    scale: f64,
    c0: Packed,
    c1: Packed,
}

impl Ciphertext {
    /// Serialises the ciphertext.
    pub fn to_bytes(&self, p: &CkksParams) -> Vec<u8> {
        encode(
            Kind::Ciphertext,
            &CiphertextWire {
                params_id: self.params_id,
                key_id: self.key_id,
                level: self.level as u32,
                scale: self.scale,
                c0: pack(&self.c0, p.n),
                c1: pack(&self.c1, p.n),
            },
        )
    }

    /// Reads and validates a ciphertext for `p`.
    pub fn from_bytes(p: &CkksParams, bytes: &[u8]) -> Result<Self> {
        let w: CiphertextWire = decode(Kind::Ciphertext, bytes)?;
        check_params(p, w.params_id, "ciphertext")?;
        let level = check_level(p, w.level)?;
        check_scale(w.scale)?;
        let basis = ring::q_basis(level);
        Ok(Ciphertext {
            params_id: w.params_id,
            key_id: w.key_id,
            level,
            scale: w.scale,
            c0: unpack(p, &w.c0, &basis)?,
            c1: unpack(p, &w.c1, &basis)?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct PlaintextWire {
    params_id: u64,
    level: u32,
    scale: f64,
    data: Packed,
}

impl Plaintext {
    /// Serialises the plaintext.
    pub fn to_bytes(&self, p: &CkksParams) -> Vec<u8> {
        encode(
            Kind::Plaintext,
            &PlaintextWire {
                params_id: self.params_id,
                level: self.level as u32,
                scale: self.scale,
                data: pack(&self.data, p.n),
            },
        )
    }

    /// Reads and validates a plaintext for `p`.
    pub fn from_bytes(p: &CkksParams, bytes: &[u8]) -> Result<Self> {
        let w: PlaintextWire = decode(Kind::Plaintext, bytes)?;
        check_params(p, w.params_id, "plaintext")?;
        let level = check_level(p, w.level)?;
        check_scale(w.scale)?;
        Ok(Plaintext {
            params_id: w.params_id,
            level,
            scale: w.scale,
            data: unpack(p, &w.data, &ring::q_basis(level))?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct PublicKeyWire {
    params_id: u64,
    key_id: u64,
    b: Packed,
    seed: Seed,
}

impl PublicKey {
    /// Serialises the public key (`b` and the seed of `a`).
    pub fn to_bytes(&self, p: &CkksParams) -> Vec<u8> {
        encode(
            Kind::PublicKey,
            &PublicKeyWire {
                params_id: self.params_id,
                key_id: self.key_id,
                b: pack(&self.b, p.n),
                seed: self.seed,
            },
        )
    }

    /// Reads and validates a public key for `p` (re-expanding `a`).
    pub fn from_bytes(p: &CkksParams, bytes: &[u8]) -> Result<Self> {
        let w: PublicKeyWire = decode(Kind::PublicKey, bytes)?;
        check_params(p, w.params_id, "public key")?;
        let basis = ring::q_basis(p.max_level());
        let b = unpack(p, &w.b, &basis)?;
        let a = uniform_from_seed(p, &w.seed, &basis);
        Ok(PublicKey {
            params_id: w.params_id,
            key_id: w.key_id,
            b,
            a,
            seed: w.seed,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct SecretKeyWire {
    params_id: u64,
    key_id: u64,
    coeffs: Vec<i8>,
    digest: [u8; 32],
}

/// SHA-256 over a domain tag, the key's parameter and key identities and its coefficients: any
/// change to a stored secret key (one flipped bit) makes it fail to load instead of decrypting
/// garbage.
fn secret_key_digest(params_id: u64, key_id: u64, coeffs: &[i8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"hetal-ckks secret key v3\0");
    h.update(params_id.to_le_bytes());
    h.update(key_id.to_le_bytes());
    h.update((coeffs.len() as u64).to_le_bytes());
    let mut buf = [0u8; 1024];
    for chunk in coeffs.chunks(buf.len()) {
        for (b, &c) in buf.iter_mut().zip(chunk) {
            *b = c as u8;
        }
        h.update(&buf[..chunk.len()]);
    }
    zeroize::Zeroize::zeroize(&mut buf);
    h.finalize().into()
}

impl SecretKey {
    /// Serialises the secret key (its ternary coefficients, with a SHA-256 digest of them and
    /// of its identity that [`SecretKey::from_bytes`] checks). Keep the bytes secret.
    pub fn to_bytes(&self) -> Vec<u8> {
        let w = SecretKeyWire {
            params_id: self.params_id,
            key_id: self.key_id,
            coeffs: self.coeffs.clone(),
            digest: secret_key_digest(self.params_id, self.key_id, &self.coeffs),
        };
        let out = encode(Kind::SecretKey, &w);
        let SecretKeyWire { mut coeffs, .. } = w;
        zeroize::Zeroize::zeroize(&mut coeffs);
        out
    }

    /// Reads and validates a secret key for `p`: the header, the parameter identity, `N`
    /// ternary coefficients, and the digest of the identities and coefficients (a corrupted key
    /// is an error, never a wrong key).
    pub fn from_bytes(p: &CkksParams, bytes: &[u8]) -> Result<Self> {
        let mut w: SecretKeyWire = decode(Kind::SecretKey, bytes)?;
        if secret_key_digest(w.params_id, w.key_id, &w.coeffs) != w.digest {
            zeroize::Zeroize::zeroize(&mut w.coeffs);
            return Err(bad("secret key digest mismatch: the key is corrupt"));
        }
        check_params(p, w.params_id, "secret key")?;
        if w.coeffs.len() != p.n || w.coeffs.iter().any(|c| !(-1..=1).contains(c)) {
            zeroize::Zeroize::zeroize(&mut w.coeffs);
            return Err(bad("secret key coefficients must be N ternary values"));
        }
        let coeffs = std::mem::take(&mut w.coeffs);
        Ok(SecretKey::from_coeffs(p, coeffs, w.key_id))
    }
}

#[derive(Serialize, Deserialize)]
struct SwitchingKeyWire {
    rows: Vec<(Packed, Seed)>,
}

fn switching_key_to_wire(k: &SwitchingKey, p: &CkksParams) -> SwitchingKeyWire {
    SwitchingKeyWire {
        rows: k.rows.iter().map(|r| (pack(&r.b, p.n), r.seed)).collect(),
    }
}

fn switching_key_from_wire(p: &CkksParams, w: &SwitchingKeyWire) -> Result<SwitchingKey> {
    if w.rows.len() != p.digits.len() {
        return Err(bad(format!(
            "{} key rows where dnum = {}",
            w.rows.len(),
            p.digits.len()
        )));
    }
    let basis: Vec<usize> = (0..p.moduli.len()).collect();
    let parts = w
        .rows
        .iter()
        .map(|(b, seed)| Ok((unpack(p, b, &basis)?, *seed)))
        .collect::<Result<Vec<_>>>()?;
    Ok(SwitchingKey::from_compressed(p, parts))
}

#[derive(Serialize, Deserialize)]
struct EvaluationKeysWire {
    params_id: u64,
    key_id: u64,
    relin: Option<SwitchingKeyWire>,
    rotations: Vec<(u64, SwitchingKeyWire)>,
    conjugation: Option<SwitchingKeyWire>,
    encapsulation: Option<EncapsulationWire>,
    /// Format 4: the periods with sparse-bootstrap keys.
    sparse_bootstrap_slots: Vec<u64>,
}

/// Evaluation keys in format 3 (no sparse-bootstrap periods).
#[derive(Serialize, Deserialize)]
struct EvaluationKeysWireV3 {
    params_id: u64,
    key_id: u64,
    relin: Option<SwitchingKeyWire>,
    rotations: Vec<(u64, SwitchingKeyWire)>,
    conjugation: Option<SwitchingKeyWire>,
    encapsulation: Option<EncapsulationWire>,
}

/// Checks the sparse-bootstrap periods of a blob: at most [`MAX_SPARSE_PERIODS`], strictly
/// increasing, powers of two `n ≥ 2` with `2n` dividing the slot count (the evaluator checks
/// the circuit's own conditions and that every key is present).
fn sparse_periods_from_wire(p: &CkksParams, w: &[u64]) -> Result<Vec<usize>> {
    if w.len() > MAX_SPARSE_PERIODS {
        return Err(bad(format!("{} sparse-bootstrap periods", w.len())));
    }
    let slots = p.slots as u64;
    let mut out = Vec::with_capacity(w.len());
    for (i, &n) in w.iter().enumerate() {
        if n < 2
            || !n.is_power_of_two()
            || n.saturating_mul(2) > slots
            || !slots.is_multiple_of(2 * n)
        {
            return Err(bad(format!("invalid sparse-bootstrap period {n}")));
        }
        if i > 0 && w[i - 1] >= n {
            return Err(bad("sparse-bootstrap periods must be strictly increasing"));
        }
        out.push(n as usize);
    }
    Ok(out)
}

#[derive(Serialize, Deserialize)]
struct EncapsulationWire {
    sparse_weight: u64,
    to_sparse: (Packed, Seed),
    to_dense: SwitchingKeyWire,
}

fn encapsulation_to_wire(k: &EncapsulationKeys, p: &CkksParams) -> EncapsulationWire {
    EncapsulationWire {
        sparse_weight: k.sparse_weight as u64,
        to_sparse: (pack(&k.to_sparse.b, p.n), k.to_sparse.seed),
        to_dense: switching_key_to_wire(&k.to_dense, p),
    }
}

fn encapsulation_from_wire(p: &CkksParams, w: &EncapsulationWire) -> Result<EncapsulationKeys> {
    if w.sparse_weight == 0 || w.sparse_weight > p.n as u64 {
        return Err(bad(format!(
            "sparse secret weight {} outside 1..={}",
            w.sparse_weight, p.n
        )));
    }
    if p.num_p() == 0 {
        return Err(bad("encapsulation keys need a special prime"));
    }
    let basis = EncapsulationKeys::small_basis(p);
    let (b, seed) = &w.to_sparse;
    let b = unpack(p, b, &basis)?;
    Ok(EncapsulationKeys {
        to_sparse: KeyRow {
            a: uniform_from_seed(p, seed, &basis),
            b,
            seed: *seed,
        },
        to_dense: switching_key_from_wire(p, &w.to_dense)?,
        sparse_weight: w.sparse_weight as usize,
    })
}

impl EvaluationKeys {
    /// Serialises the evaluation keys (compressed: `b` parts and seeds).
    pub fn to_bytes(&self, p: &CkksParams) -> Vec<u8> {
        encode(
            Kind::EvaluationKeys,
            &EvaluationKeysWire {
                params_id: self.params_id,
                key_id: self.key_id,
                relin: self.relin.as_ref().map(|k| switching_key_to_wire(k, p)),
                rotations: self
                    .rotations
                    .iter()
                    .map(|(&g, k)| (g as u64, switching_key_to_wire(k, p)))
                    .collect(),
                conjugation: self
                    .conjugation
                    .as_ref()
                    .map(|k| switching_key_to_wire(k, p)),
                encapsulation: self
                    .encapsulation
                    .as_ref()
                    .map(|k| encapsulation_to_wire(k, p)),
                sparse_bootstrap_slots: self
                    .sparse_bootstrap_slots
                    .iter()
                    .map(|&n| n as u64)
                    .collect(),
            },
        )
    }

    /// Reads and validates evaluation keys for `p` (re-expanding the `a` parts). Reads format
    /// 4 and format 3 (whose keys have no sparse-bootstrap periods).
    pub fn from_bytes(p: &CkksParams, bytes: &[u8]) -> Result<Self> {
        let (version, read) = decode_header(Kind::EvaluationKeys, bytes)?;
        let w: EvaluationKeysWire = if version >= 4 {
            decode_body(Kind::EvaluationKeys, bytes, read)?
        } else {
            let v: EvaluationKeysWireV3 = decode_body(Kind::EvaluationKeys, bytes, read)?;
            EvaluationKeysWire {
                params_id: v.params_id,
                key_id: v.key_id,
                relin: v.relin,
                rotations: v.rotations,
                conjugation: v.conjugation,
                encapsulation: v.encapsulation,
                sparse_bootstrap_slots: Vec::new(),
            }
        };
        check_params(p, w.params_id, "evaluation keys")?;
        let sparse_bootstrap_slots = sparse_periods_from_wire(p, &w.sparse_bootstrap_slots)?;
        let two_n = 2 * p.n as u64;
        let mut rotations = BTreeMap::new();
        for (g, k) in &w.rotations {
            if g % 2 == 0 || *g >= two_n || *g == 1 {
                return Err(bad(format!("invalid Galois element {g}")));
            }
            if rotations
                .insert(*g as usize, switching_key_from_wire(p, k)?)
                .is_some()
            {
                return Err(bad(format!("duplicate Galois element {g}")));
            }
        }
        Ok(EvaluationKeys {
            params_id: w.params_id,
            key_id: w.key_id,
            relin: w
                .relin
                .as_ref()
                .map(|k| switching_key_from_wire(p, k))
                .transpose()?,
            rotations,
            conjugation: w
                .conjugation
                .as_ref()
                .map(|k| switching_key_from_wire(p, k))
                .transpose()?,
            encapsulation: w
                .encapsulation
                .as_ref()
                .map(|k| encapsulation_from_wire(p, k))
                .transpose()?,
            sparse_bootstrap_slots,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// serde for ciphertexts embedded in larger messages (hetal-nn's protocol and checkpoints).

/// A ciphertext inside another serde message: no header (the enclosing message has its own),
/// the parameter identity instead of the parameters.
#[derive(Serialize, Deserialize)]
struct EmbeddedCiphertext {
    log_n: u8,
    params_id: u64,
    key_id: u64,
    level: u32,
    scale: f64,
    c0: Packed,
    c1: Packed,
}

/// The largest level an embedded ciphertext may declare (no preset comes close).
const MAX_EMBEDDED_LEVEL: u32 = 255;

/// Unpacks `limbs` limbs of `n` residues without knowing the primes (they are checked against
/// the evaluator's parameters by [`Ciphertext::validate`]).
fn unpack_unchecked(
    packed: &Packed,
    n: usize,
    limbs: usize,
) -> std::result::Result<Vec<u64>, String> {
    if packed.widths.len() != limbs {
        return Err(format!(
            "{} limbs where {limbs} were expected",
            packed.widths.len()
        ));
    }
    if packed.widths.iter().any(|&w| !(1..=8).contains(&w)) {
        return Err("invalid residue width".into());
    }
    let total: usize = packed.widths.iter().map(|&w| w as usize * n).sum();
    if packed.bytes.len() != total {
        return Err("polynomial data has the wrong length".into());
    }
    let mut out = Vec::with_capacity(n * limbs);
    let mut off = 0;
    for &w in &packed.widths {
        let w = w as usize;
        out.extend(packed.bytes[off..off + w * n].chunks_exact(w).map(|chunk| {
            let mut b = [0u8; 8];
            b[..w].copy_from_slice(chunk);
            u64::from_le_bytes(b)
        }));
        off += w * n;
    }
    Ok(out)
}

/// Ciphertexts serialise as part of larger serde messages (e.g. hetal-nn's encrypted data and
/// checkpoints). Deserialisation checks the structure (ring degree, level, lengths, scale);
/// residues below their primes and the parameter identity are checked by
/// [`Ciphertext::validate`] against the receiver's parameters, which the evaluator's operations
/// also check (identity and shape) on every input. For a stand-alone blob with full validation
/// use [`Ciphertext::to_bytes`] / [`Ciphertext::from_bytes`].
impl Serialize for Ciphertext {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let n = self.c0.len() / (self.level + 1);
        EmbeddedCiphertext {
            log_n: n.trailing_zeros() as u8,
            params_id: self.params_id,
            key_id: self.key_id,
            level: self.level as u32,
            scale: self.scale,
            c0: pack(&self.c0, n),
            c1: pack(&self.c1, n),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ciphertext {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let w = EmbeddedCiphertext::deserialize(d)?;
        if !(1..=17).contains(&w.log_n) {
            return Err(D::Error::custom(format!(
                "invalid ring degree 2^{}",
                w.log_n
            )));
        }
        if w.level > MAX_EMBEDDED_LEVEL {
            return Err(D::Error::custom(format!("invalid level {}", w.level)));
        }
        if !(w.scale.is_finite() && w.scale > 0.0) {
            return Err(D::Error::custom("invalid scale"));
        }
        let n = 1usize << w.log_n;
        let limbs = w.level as usize + 1;
        let c0 = unpack_unchecked(&w.c0, n, limbs).map_err(D::Error::custom)?;
        let c1 = unpack_unchecked(&w.c1, n, limbs).map_err(D::Error::custom)?;
        Ok(Ciphertext {
            params_id: w.params_id,
            key_id: w.key_id,
            level: w.level as usize,
            scale: w.scale,
            c0,
            c1,
        })
    }
}

impl Ciphertext {
    /// Full validation against `p`: parameter identity, level, lengths, every residue below its
    /// prime. Use it on ciphertexts received inside serde messages.
    pub fn validate(&self, p: &CkksParams) -> Result<()> {
        check_params(p, self.params_id, "ciphertext")?;
        let level = check_level(p, self.level as u32)?;
        check_scale(self.scale)?;
        let n = p.n;
        let basis = ring::q_basis(level);
        for poly in [&self.c0, &self.c1] {
            if poly.len() != n * basis.len() {
                return Err(bad("polynomial data has the wrong length"));
            }
            for (limb, &g) in poly.chunks_exact(n).zip(&basis) {
                let q = p.moduli[g].q;
                if limb.iter().any(|&x| x >= q) {
                    return Err(bad("residue out of range"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CkksClient;
    use hetal_traits::{KeyGenerator, KeyRequest};

    fn keys() -> (CkksParams, EvaluationKeys) {
        let p = CkksParams::new(&crate::presets::insecure_test_n10()).unwrap();
        let mut c = CkksClient::from_seed(p.clone(), 3);
        let k = c
            .generate_evaluation_keys(&KeyRequest::with_rotations([1, -1]))
            .unwrap();
        (p, k)
    }

    /// A format-3 blob (no sparse-bootstrap periods) written as version 3 wrote it.
    fn v3_blob(k: &EvaluationKeys, p: &CkksParams) -> Vec<u8> {
        let header = Header {
            magic: MAGIC,
            version: 3,
            kind: Kind::EvaluationKeys,
        };
        let body = EvaluationKeysWireV3 {
            params_id: k.params_id,
            key_id: k.key_id,
            relin: k.relin.as_ref().map(|x| switching_key_to_wire(x, p)),
            rotations: k
                .rotations
                .iter()
                .map(|(&g, x)| (g as u64, switching_key_to_wire(x, p)))
                .collect(),
            conjugation: None,
            encapsulation: None,
        };
        bincode::serde::encode_to_vec((header, body), config()).unwrap()
    }

    #[test]
    fn format_3_evaluation_keys_are_still_read() {
        let (p, k) = keys();
        let back = EvaluationKeys::from_bytes(&p, &v3_blob(&k, &p)).unwrap();
        assert_eq!(back.galois_elements(), k.galois_elements());
        assert!(back.sparse_bootstrap_slots().is_empty());
        // Version 2 is refused with a message naming the readable versions.
        let mut old = v3_blob(&k, &p);
        old[4..6].copy_from_slice(&2u16.to_le_bytes());
        let e = EvaluationKeys::from_bytes(&p, &old)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("format version 2") && e.contains("3 to 4"),
            "{e}"
        );
    }

    #[test]
    fn hostile_sparse_periods_are_refused() {
        let (p, mut k) = keys();
        let slots = p.slots;
        let bad: Vec<Vec<usize>> = vec![
            vec![0],
            vec![1],
            vec![3],
            vec![slots],
            vec![2 * slots],
            vec![16, 8],
            vec![8, 8],
            (0..65).map(|i| 1usize << (i % 8 + 1)).collect(),
        ];
        for list in bad {
            k.sparse_bootstrap_slots = list.clone();
            let bytes = k.to_bytes(&p);
            assert!(
                matches!(
                    EvaluationKeys::from_bytes(&p, &bytes),
                    Err(Error::InvalidInput { .. })
                ),
                "{list:?}"
            );
        }
        k.sparse_bootstrap_slots = vec![8, slots / 2];
        let back = EvaluationKeys::from_bytes(&p, &k.to_bytes(&p)).unwrap();
        assert_eq!(back.sparse_bootstrap_slots(), &[8, slots / 2]);
    }
}
