//! The core traits: encoding (shared by both roles), evaluation (the server), encryption,
//! decryption and key generation (the client).
//!
//! # Level and scale rules (every backend follows them; the mock enforces them)
//!
//! * The modulus chain is `q_0, q_1, ..., q_L`; a ciphertext at level `l` lives modulo
//!   `Q_l = q_0 · ... · q_l`. [`Encoder::prime`] gives `q_l`.
//! * Each level has a *canonical scale*: `Δ_L` = the default scale, `Δ_{l-1} = Δ_l² / q_l`. A fresh
//!   encryption at level `l` with scale `Δ_l`, multiplied by another such ciphertext (or by a
//!   plaintext or constant encoded at `Δ_l`) and rescaled, lands exactly at `Δ_{l-1}`.
//! * `mul`, `mul_plain` and `mul_const` multiply the scales and need level ≥ 1 (the product must be
//!   rescaled before it is useful); at level 0 they fail with [`Error::LevelExhausted`].
//!   `rescale` divides the scale by `q_l` and moves to level `l - 1`; at level 0 it fails.
//! * Binary operations on ciphertexts at different levels first bring the higher one down with
//!   [`Evaluator::drop_to_level`]. Dropping from level `l` to `t < l` multiplies the scale by
//!   `Δ_t / Δ_l` (exactly: by [`drop_scale_factor`]), so a canonical ciphertext stays canonical
//!   (to a relative `2^-33`, in one step, however steeply the scales fall; see [`drop_plan`]).
//! * Additions need equal scales ([`Scale::matches`]); otherwise [`Error::ScaleMismatch`].
//!   `add_const` adds a constant at the ciphertext's own scale.
//! * A plaintext operand must be at a level ≥ the ciphertext's level, otherwise
//!   [`Error::LevelMismatch`].
//! * `|value| · scale` must stay below `Q_l / 2`; the mock reports [`Error::ScaleOverflow`] where
//!   CKKS would silently wrap around.
//! * `mul_integer`, `mul_i`, `neg`, additions, rotations and conjugation keep level and scale.

use crate::error::{Error, Result};
use crate::types::{BootstrapInfo, Complex64, KeyRequest, Level, RotStep, Scale};
use std::fmt::Debug;

/// Something that carries a level and a scale: a ciphertext or a plaintext.
pub trait Leveled {
    /// The level.
    fn level(&self) -> Level;
    /// The scale.
    fn scale(&self) -> Scale;
}

/// A ciphertext handle of some backend.
pub trait Ciphertext: Leveled + Clone + Send + Sync + Debug {}
impl<T: Leveled + Clone + Send + Sync + Debug> Ciphertext for T {}

/// A plaintext (encoded, not encrypted) of some backend.
pub trait Plaintext: Leveled + Clone + Send + Sync + Debug {}
impl<T: Leveled + Clone + Send + Sync + Debug> Plaintext for T {}

/// How dropping a ciphertext from `from` to `to < from` is done: the number `j ≥ 1` of primes
/// `q_{to+1} .. q_{to+j}` divided out at once, and the integer `k` (an exact integer held in an
/// `f64`, possibly above `2^64`) the ciphertext is multiplied by first.
///
/// `j` is the smallest count for which `K = q_{to+1}·…·q_{to+j} · Δ_to / Δ_from` reaches
/// [`DROP_MIN_MULTIPLIER`] (`2^32`), or `from − to` if none does, and `k = max(1, round(K))`.
/// The scale is then multiplied by `k / (q_{to+1}·…·q_{to+j})`, which is `Δ_to / Δ_from` to a
/// relative `2^-33`: a canonical ciphertext lands on the canonical scale of `to` in one step,
/// however steeply the scales fall over the dropped levels (from bootstrapping levels at `2^60`
/// down to user levels at `2^40` a single prime would leave a multiplier near `2^20`, a scale
/// error near `2^-21`, and a scale mismatch at the next addition). CKKS truncates to level
/// `to + j`, multiplies by `k` and rescales by the `j` primes; every backend follows this rule
/// so that tracked scales agree bit for bit.
pub fn drop_plan<E: Encoder + ?Sized>(enc: &E, from: Level, to: Level) -> (u32, f64) {
    if from <= to {
        return (0, 1.0);
    }
    let ratio = enc.canonical_scale(to).value() / enc.canonical_scale(from).value();
    let mut q = 1.0f64;
    let mut j = 0u32;
    while to.0 + j < from.0 {
        j += 1;
        q *= enc.prime(Level(to.0 + j));
        if q * ratio >= DROP_MIN_MULTIPLIER {
            break;
        }
    }
    (j, (q * ratio).round().max(1.0))
}

/// The smallest multiplier [`drop_plan`] aims for: `2^32`.
pub const DROP_MIN_MULTIPLIER: f64 = 4294967296.0;

/// The factor by which dropping a ciphertext from `from` to `to < from` multiplies its scale:
/// `k / (q_{to+1}·…·q_{to+j})` with `j` and `k` from [`drop_plan`], i.e. `Δ_to / Δ_from` to a
/// relative `2^-33`. Every backend uses it so that tracked scales agree.
pub fn drop_scale_factor<E: Encoder + ?Sized>(enc: &E, from: Level, to: Level) -> f64 {
    if from <= to {
        return 1.0;
    }
    let (j, k) = drop_plan(enc, from, to);
    let q: f64 = (1..=j).map(|i| enc.prime(Level(to.0 + i))).product();
    k / q
}

/// Encoding and parameter queries, shared by the client and the server (plaintexts are public).
pub trait Encoder: Send + Sync {
    /// The plaintext type.
    type Plaintext: Plaintext;

    /// Number of complex slots.
    fn slots(&self) -> usize;

    /// The level of a fresh encryption (the top of the user-visible chain).
    fn max_level(&self) -> Level;

    /// `q_l`: the prime that rescaling at level `l` divides by (for `l = 0`, the base prime).
    fn prime(&self, level: Level) -> f64;

    /// The canonical scale `Δ_l` of level `l` (see the module docs).
    fn canonical_scale(&self, level: Level) -> Scale;

    /// log2 of `Q_l = q_0 · ... · q_l`.
    fn log2_modulus(&self, level: Level) -> f64 {
        (0..=level.0).map(|i| self.prime(Level(i)).log2()).sum()
    }

    /// Encodes up to `slots()` complex values (missing ones are zero) at `level` and `scale`.
    ///
    /// Errors: more values than slots, a non-finite value, an invalid scale, a level above
    /// `max_level()`, or `|value| · scale` too large for the modulus at `level`.
    fn encode(&self, values: &[Complex64], level: Level, scale: Scale) -> Result<Self::Plaintext>;

    /// Decodes a plaintext into `slots()` complex values.
    fn decode(&self, pt: &Self::Plaintext) -> Result<Vec<Complex64>>;

    /// Encodes real values (imaginary parts zero).
    fn encode_real(&self, values: &[f64], level: Level, scale: Scale) -> Result<Self::Plaintext> {
        let v: Vec<Complex64> = values.iter().map(|&x| Complex64::new(x, 0.0)).collect();
        self.encode(&v, level, scale)
    }

    /// Encodes at `level` with the canonical scale of that level.
    fn encode_at(&self, values: &[Complex64], level: Level) -> Result<Self::Plaintext> {
        self.encode(values, level, self.canonical_scale(level))
    }

    /// Encodes real values at `level` with the canonical scale of that level.
    fn encode_real_at(&self, values: &[f64], level: Level) -> Result<Self::Plaintext> {
        self.encode_real(values, level, self.canonical_scale(level))
    }
}

/// The server's view: homomorphic operations on ciphertexts, and nothing that decrypts.
///
/// Backends implement these primitives; derived algorithms (slot sums, masks, linear transforms)
/// live in [`EvaluatorExt`](crate::EvaluatorExt) and are written once for all backends.
pub trait Evaluator: Encoder {
    /// The ciphertext type.
    type Ciphertext: Ciphertext;

    /// `a + b`. Levels are aligned by dropping; scales must match.
    fn add(&self, a: &Self::Ciphertext, b: &Self::Ciphertext) -> Result<Self::Ciphertext>;
    /// `a - b`. Levels are aligned by dropping; scales must match.
    fn sub(&self, a: &Self::Ciphertext, b: &Self::Ciphertext) -> Result<Self::Ciphertext>;
    /// `-a`.
    fn neg(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext>;
    /// `a + p`; `p` must be at a level ≥ `a`'s and at the same scale.
    fn add_plain(&self, a: &Self::Ciphertext, p: &Self::Plaintext) -> Result<Self::Ciphertext>;
    /// `a - p`; `p` must be at a level ≥ `a`'s and at the same scale.
    fn sub_plain(&self, a: &Self::Ciphertext, p: &Self::Plaintext) -> Result<Self::Ciphertext>;
    /// `a + c` in every slot, `c` encoded at `a`'s scale.
    fn add_const(&self, a: &Self::Ciphertext, c: Complex64) -> Result<Self::Ciphertext>;

    /// `a ⊙ b` with relinearisation (one key switch). Scale: product; level: the lower of the two
    /// (needs ≥ 1). Not rescaled.
    fn mul(&self, a: &Self::Ciphertext, b: &Self::Ciphertext) -> Result<Self::Ciphertext>;
    /// `a ⊙ a` with relinearisation; may be faster than `mul(a, a)`.
    fn square(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        self.mul(a, a)
    }
    /// `a ⊙ p`. Scale: product; level ≥ 1 needed. Not rescaled.
    fn mul_plain(&self, a: &Self::Ciphertext, p: &Self::Plaintext) -> Result<Self::Ciphertext>;
    /// `a · c` with `c` encoded at `const_scale`. Scale: `scale(a) · const_scale`; level ≥ 1 needed.
    fn mul_const(
        &self,
        a: &Self::Ciphertext,
        c: Complex64,
        const_scale: Scale,
    ) -> Result<Self::Ciphertext>;
    /// `a · k` for an integer `k`: exact, keeps level and scale.
    fn mul_integer(&self, a: &Self::Ciphertext, k: i64) -> Result<Self::Ciphertext>;
    /// `a · i` (the imaginary unit): exact, keeps level and scale.
    fn mul_i(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext>;

    /// Divides by `q_l` and moves to level `l - 1`. Fails at level 0.
    fn rescale(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext>;
    /// Brings `a` down to `level` (≤ its level), multiplying its scale by
    /// [`drop_scale_factor`]. Dropping to the same level is the identity.
    fn drop_to_level(&self, a: &Self::Ciphertext, level: Level) -> Result<Self::Ciphertext>;

    /// Rotates the slots left by `step` (one key switch). The identity needs no key.
    fn rotate(&self, a: &Self::Ciphertext, step: RotStep) -> Result<Self::Ciphertext>;
    /// Rotations of one ciphertext by several steps, sharing one decomposition (hoisting).
    /// Returns one ciphertext per step, in order.
    fn rotate_hoisted(
        &self,
        a: &Self::Ciphertext,
        steps: &[RotStep],
    ) -> Result<Vec<Self::Ciphertext>>;
    /// Complex conjugation of every slot (one key switch).
    fn conjugate(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext>;

    /// Whether a key for this rotation is available (the identity always is).
    fn has_rotation_key(&self, step: RotStep) -> bool;
    /// Whether a conjugation key is available.
    fn has_conjugation_key(&self) -> bool;

    /// What bootstrapping offers, or `None` if this evaluator cannot bootstrap.
    fn bootstrap_info(&self) -> Option<BootstrapInfo>;
    /// Refreshes `a` to [`BootstrapInfo::output_level`] with the canonical scale of that level.
    fn bootstrap(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext>;

    /// Refreshes two **real-valued** ciphertexts (imaginary parts zero) at once: both come back
    /// at [`BootstrapInfo::output_level`] with the canonical scale of that level, real-valued.
    ///
    /// Backends with a complex bootstrap refresh `a + i·b` with one bootstrap and split the
    /// result by conjugation (cost: one bootstrap and one conjugation); this default refreshes
    /// each with [`Evaluator::bootstrap`]. Both inputs must be at the same level and scale.
    ///
    /// Errors: [`Error::LevelMismatch`] / [`Error::ScaleMismatch`] for different levels or
    /// scales; [`Error::BootstrapUnavailable`] without bootstrapping keys; the level and range
    /// errors of [`Evaluator::bootstrap`]; [`Error::ComplexInput`] where the backend can see that
    /// an input is not real (the mock). CKKS cannot see it: for complex inputs it returns
    /// `(Re(a + i·b), Im(a + i·b))`.
    fn bootstrap_pair(
        &self,
        a: &Self::Ciphertext,
        b: &Self::Ciphertext,
    ) -> Result<(Self::Ciphertext, Self::Ciphertext)> {
        if a.level() != b.level() {
            return Err(Error::LevelMismatch {
                op: crate::Operation::Bootstrap,
                expected: a.level(),
                actual: b.level(),
            });
        }
        if !a.scale().matches(b.scale()) {
            return Err(Error::ScaleMismatch {
                op: crate::Operation::Bootstrap,
                lhs: a.scale(),
                rhs: b.scale(),
            });
        }
        Ok((self.bootstrap(a)?, self.bootstrap(b)?))
    }

    /// Whether [`Evaluator::bootstrap_sparse`] runs a smaller (sparse-packing) circuit for
    /// inputs whose slots repeat with period `slots`: `true` only for a valid period below
    /// [`Encoder::slots`] whose keys the evaluator holds (requested with
    /// [`KeyRequest::sparse_bootstrap_slots`]). The default has none: it answers `false`.
    fn has_sparse_bootstrap(&self, slots: usize) -> bool {
        let _ = slots;
        false
    }

    /// Refreshes a **part-full** ciphertext: `a`'s slot vector repeats with period `slots` (a
    /// power of two dividing [`Encoder::slots`]), i.e. its meaningful values are the first
    /// `slots` slots, replicated. Same output contract as [`Evaluator::bootstrap`] (output level
    /// [`BootstrapInfo::output_level`] at its canonical scale, same input level and range
    /// rules, one bootstrap's depth); the output repeats with the same period.
    ///
    /// Backends with sparse-packing keys for `slots` ([`Evaluator::has_sparse_bootstrap`]) run
    /// the smaller circuit (CKKS: a trace of `log2(slots()/slots)` automorphisms, CoeffToSlot and
    /// SlotToCoeff over `slots` values, one EvalMod instead of two); `slots == slots()` is the
    /// full bootstrap. Without such keys a backend either refreshes with the full bootstrap (this
    /// default, and CKKS) or refuses with [`Error::BootstrapUnavailable`] (the strict mock).
    ///
    /// Errors: [`Error::InvalidInput`] for a period that is not a power of two dividing the slot
    /// count ([`check_sparse_slots`]); [`Error::NotPeriodic`] where the backend can see that the
    /// input is not periodic (the mock; CKKS refreshes the average of each residue class of
    /// slots modulo `slots` instead); the errors of [`Evaluator::bootstrap`].
    fn bootstrap_sparse(&self, a: &Self::Ciphertext, slots: usize) -> Result<Self::Ciphertext> {
        check_sparse_slots(slots, self.slots())?;
        self.bootstrap(a)
    }

    /// [`Evaluator::bootstrap_pair`] for two part-full real ciphertexts of period `slots` (see
    /// [`Evaluator::bootstrap_sparse`]): both come back at the output level with its canonical
    /// scale, real-valued and periodic, for one sparse bootstrap and one conjugation. The
    /// default refreshes with [`Evaluator::bootstrap_pair`].
    ///
    /// Errors: those of [`Evaluator::bootstrap_sparse`] and of [`Evaluator::bootstrap_pair`].
    fn bootstrap_pair_sparse(
        &self,
        a: &Self::Ciphertext,
        b: &Self::Ciphertext,
        slots: usize,
    ) -> Result<(Self::Ciphertext, Self::Ciphertext)> {
        check_sparse_slots(slots, self.slots())?;
        self.bootstrap_pair(a, b)
    }
}

/// Checks the period of a sparse bootstrap: `slots` must be a power of two that divides
/// `total` (the evaluator's slot count). Errors: [`Error::InvalidInput`].
pub fn check_sparse_slots(slots: usize, total: usize) -> Result<()> {
    if slots == 0 || !slots.is_power_of_two() || slots > total || !total.is_multiple_of(slots) {
        return Err(Error::invalid(format!(
            "sparse bootstrap period {slots} is not a power of two dividing the {total} slots"
        )));
    }
    Ok(())
}

/// The client's encryption role.
pub trait Encryptor: Encoder {
    /// The ciphertext type produced.
    type Ciphertext: Ciphertext;

    /// Encrypts a plaintext (at the plaintext's level and scale).
    fn encrypt(&mut self, pt: &Self::Plaintext) -> Result<Self::Ciphertext>;

    /// Encodes and encrypts complex values at `level` with the canonical scale.
    fn encrypt_values(&mut self, values: &[Complex64], level: Level) -> Result<Self::Ciphertext> {
        let pt = self.encode_at(values, level)?;
        self.encrypt(&pt)
    }

    /// Encodes and encrypts real values at `level` with the canonical scale.
    fn encrypt_real(&mut self, values: &[f64], level: Level) -> Result<Self::Ciphertext> {
        let pt = self.encode_real_at(values, level)?;
        self.encrypt(&pt)
    }
}

/// The client's decryption role: only the holder of the secret key implements it.
pub trait Decryptor: Encoder {
    /// The ciphertext type accepted.
    type Ciphertext: Ciphertext;

    /// Decrypts to a plaintext.
    fn decrypt(&self, ct: &Self::Ciphertext) -> Result<Self::Plaintext>;

    /// Decrypts and decodes to complex slot values.
    fn decrypt_values(&self, ct: &Self::Ciphertext) -> Result<Vec<Complex64>> {
        let pt = self.decrypt(ct)?;
        self.decode(&pt)
    }

    /// Decrypts and decodes, keeping the real parts.
    fn decrypt_real(&self, ct: &Self::Ciphertext) -> Result<Vec<f64>> {
        Ok(self.decrypt_values(ct)?.into_iter().map(|z| z.re).collect())
    }
}

/// The client's key-generation role: evaluation keys for a server, from the secret it keeps.
pub trait KeyGenerator {
    /// The public evaluation-key material handed to the server.
    type EvaluationKeys;

    /// Generates relinearisation keys plus whatever `request` asks for.
    fn generate_evaluation_keys(&mut self, request: &KeyRequest) -> Result<Self::EvaluationKeys>;
}

/// A client whose plaintexts and ciphertexts are those of the evaluator `E`.
pub trait ClientFor<E: Evaluator + ?Sized>:
    Encryptor<Plaintext = E::Plaintext, Ciphertext = E::Ciphertext>
    + Decryptor<Ciphertext = E::Ciphertext>
{
}
impl<E: Evaluator + ?Sized, T> ClientFor<E> for T where
    T: Encryptor<Plaintext = E::Plaintext, Ciphertext = E::Ciphertext>
        + Decryptor<Ciphertext = E::Ciphertext>
{
}

/// A client: encryption and decryption over the same ciphertext type.
pub trait Client: Encryptor + Decryptor<Ciphertext = <Self as Encryptor>::Ciphertext> {}
impl<T> Client for T where T: Encryptor + Decryptor<Ciphertext = <T as Encryptor>::Ciphertext> {}

/// Checks the common preconditions of `encode` and returns the largest |component| of the values.
/// Backends call it so that they reject the same inputs.
pub fn check_encode_input<E: Encoder + ?Sized>(
    enc: &E,
    values: &[Complex64],
    level: Level,
    scale: Scale,
) -> Result<f64> {
    if values.len() > enc.slots() {
        return Err(Error::invalid(format!(
            "{} values for {} slots",
            values.len(),
            enc.slots()
        )));
    }
    if level > enc.max_level() {
        return Err(Error::LevelMismatch {
            op: crate::Operation::Encode,
            expected: enc.max_level(),
            actual: level,
        });
    }
    if !scale.is_valid() {
        return Err(Error::invalid(format!(
            "scale {} is not a positive finite number",
            scale.0
        )));
    }
    let mut max_abs = 0.0f64;
    for v in values {
        if !v.re.is_finite() || !v.im.is_finite() {
            return Err(Error::invalid("non-finite slot value"));
        }
        max_abs = max_abs.max(v.re.abs()).max(v.im.abs());
    }
    let log2_mag = (max_abs * scale.value()).max(1.0).log2();
    let log2_q = enc.log2_modulus(level);
    if log2_mag + 1.0 >= log2_q {
        return Err(Error::ScaleOverflow {
            op: crate::Operation::Encode,
            log2_magnitude: log2_mag,
            log2_modulus: log2_q,
        });
    }
    Ok(max_abs)
}
