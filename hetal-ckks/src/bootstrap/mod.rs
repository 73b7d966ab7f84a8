//! CKKS bootstrapping on the leveled backend.
//!
//! [`BootstrappingEvaluator`] wraps a [`CkksEvaluator`] together with the bootstrapping circuit
//! and implements [`hetal_traits::Evaluator`] by delegation, overriding `bootstrap` and
//! `bootstrap_info`. The pipeline:
//!
//! 1. the input is brought to level 0 (canonical scale `Δ_0`);
//! 2. **ModRaise**: `(c_0, c_1) mod q_0` is lifted (centred) to every prime of the chain, so that it
//!    decrypts to `t = m + q_0·I` with a small integer polynomial `I`; with sparse-secret
//!    encapsulation ([`BootstrapConfig::sparse_secret_weight`]) the ciphertext is first switched
//!    to an ephemeral sparse secret (a key over `q_0·p_0` only) and back to the main secret after
//!    the lift, so `I` is bounded by the sparse weight while the main secret stays dense;
//! 3. for sparse packing (`n < N/2` slots) the **trace** `Σ_{g ≡ 1 mod 4n} σ_g` keeps only the
//!    coefficients of the slot sub-ring (multiplying them by `N/2n`; `log2(N/2n)` automorphisms);
//! 4. the backend-independent [`circuit`]: CoeffToSlot ([`dft`], level-collapsed butterfly groups,
//!    BSGS with hoisted baby steps), EvalMod ([`evalmod`]: Chebyshev interpolant of the scaled
//!    cosine and double angles) on the real and imaginary parts, SlotToCoeff.
//!
//! `bootstrap_pair` refreshes two real ciphertexts `a`, `b` through one circuit: `a + i·b`, the
//! circuit with EvalMod's output halved ([`BootstrapCircuit::run_halved`], no extra level), then
//! `a' = w + conj(w)`, `b' = i·(conj(w) − w)` (one conjugation at the output level).
//!
//! `bootstrap_sparse(a, n)` / `bootstrap_pair_sparse(a, b, n)` refresh ciphertexts whose slots
//! repeat with period `n` through a smaller circuit ([`BootstrapCircuit::new_sparse`]): the trace
//! onto period-`n` vectors ([`trace_elements_for`]), CoeffToSlot and SlotToCoeff over `2n`
//! slots and one EvalMod, at the same depth. The key request's
//! [`KeyRequest::sparse_bootstrap_slots`] asks for them; without those keys the full bootstrap
//! runs. Declared precision: [`sparse_precision_bits`].
//!
//! Keys: [`generate_bootstrap_keys`] computes the key set's memory first ([`estimate_memory`]) and
//! refuses with an error when it exceeds the budget. Presets: [`presets`]. The EvalMod range and
//! its failure probability are derived in `docs/bootstrapping.md`.

pub mod circuit;
pub mod dft;
pub mod evalmod;
pub mod ops;

use crate::ciphertext::{Ciphertext, Plaintext};
use crate::client::CkksClient;
use crate::encoder::{CkksEncoder, delegate_encoder};
use crate::evaluator::CkksEvaluator;
use crate::keys::{self, EvaluationKeys};
use crate::params::{CkksParams, Moduli, ParamsLiteral, Security};
use crate::ring;
use circuit::{BootstrapCircuit, CircuitConstants, CircuitSpec};
use dft::DiagMatrix;
use evalmod::EvalModSpec;
use hetal_traits::{
    BootstrapInfo, Complex64, Encoder, Error, Evaluator, EvaluatorExt, KeyGenerator, KeyRequest,
    Level, Leveled, Result, RotStep, Scale,
};
use std::sync::Arc;

/// What a bootstrappable parameter set adds to the leveled parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct BootstrapConfig {
    /// The circuit's shape (DFT groups, EvalMod approximation).
    pub circuit: CircuitSpec,
    /// Precision (bits, `-log2` of the largest slot error) promised after one bootstrap of values
    /// in `[-1, 1]`; the tests check it, also after 20 bootstraps in a row.
    pub precision_bits: f64,
    /// Memory the key set and the encoded matrices may take; `None`: 80% of the memory available
    /// when keys are generated (`MemAvailable` of `/proc/meminfo`).
    pub memory_budget_bytes: Option<u64>,
    /// Sparse-secret encapsulation: the Hamming weight `h'` of the ephemeral sparse secret under
    /// which ModRaise runs (see [`keys::EncapsulationKeys`]); `None`: ModRaise under the main
    /// secret, whose weight then bounds the EvalMod range.
    pub sparse_secret_weight: Option<usize>,
}

/// A bootstrappable parameter set: the leveled literal and the bootstrapping configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct BootstrapPreset {
    /// The leveled parameters.
    pub params: ParamsLiteral,
    /// The bootstrapping configuration.
    pub config: BootstrapConfig,
}

/// A literal whose chain is `q_0` (`q0_bits`), `user` scaling primes of `user_bits` near the
/// scale, then one bootstrapping prime per entry of `boot_bits`, from the bottom of the
/// bootstrapping levels (SlotToCoeff's first) to the top (CoeffToSlot's). The default scale is
/// chosen so that the canonical scales (`Δ_{l-1} = Δ_l²/q_l`) are `2^user_bits` at level 0 and
/// on the user levels, and grow towards the bootstrapping primes' sizes above (EvalMod runs at
/// large scales for free; SlotToCoeff, whose output is at the user scale, can use narrower
/// primes).
#[allow(clippy::too_many_arguments)]
pub fn bootstrappable_literal(
    name: &str,
    log_n: u32,
    log_slots: Option<u32>,
    q0_bits: u32,
    user: usize,
    user_bits: u32,
    boot_bits: &[u32],
    p_bits: &[u32],
    dnum: usize,
    hamming_weight: usize,
    security: Security,
) -> Result<ParamsLiteral> {
    use crate::arith::{PrimeWalk, generate_primes};
    let n = 1usize << log_n;
    let none = || Error::invalid("not enough NTT-friendly primes");
    let mut all: Vec<u64> = Vec::new();
    let q0 = generate_primes(q0_bits, 1, n, PrimeWalk::Below, &all).ok_or_else(none)?;
    all.extend(&q0);
    let users = generate_primes(user_bits, user, n, PrimeWalk::Alternate, &all).ok_or_else(none)?;
    all.extend(&users);
    let mut boots = Vec::new();
    for &b in boot_bits {
        let c = generate_primes(b, 1, n, PrimeWalk::Below, &all).ok_or_else(none)?;
        all.extend(&c);
        boots.push(c[0]);
    }
    let mut ps = Vec::new();
    for &b in p_bits {
        let c = generate_primes(b, 1, n, PrimeWalk::Below, &all).ok_or_else(none)?;
        all.extend(&c);
        ps.push(c[0]);
    }
    let q: Vec<u64> = q0.iter().chain(&users).chain(&boots).copied().collect();
    let mut s = f64::from(user_bits).exp2();
    for &x in &q[1..] {
        s = (s * x as f64).sqrt();
    }
    Ok(ParamsLiteral {
        name: name.to_string(),
        log_n,
        log_slots,
        moduli: Moduli::Primes { q, p: ps },
        dnum,
        log_scale: s.log2(),
        hamming_weight,
        sigma: 3.2,
        security,
    })
}

/// Hamming weight of the ephemeral sparse secret of sparse-secret encapsulation in the presets.
/// Lattigo's bootstrapping parameters use the same weight and state that it is at least 128-bit
/// secure for an encapsulation key whose modulus is about 121 bits; ours has `q_0·p_0`, 109 bits
/// for every preset here.
pub const ENCAPSULATION_WEIGHT: usize = 32;

/// Hamming weight of the presets' main secret: `2N/3`, the expected weight of a uniform ternary
/// secret (the distribution the HomomorphicEncryption.org security tables assume), fixed so that
/// every key has it.
pub fn dense_secret_weight(log_n: u32) -> usize {
    (2usize << log_n) / 3
}

/// Bootstrappable parameter sets.
pub mod presets {
    use super::*;

    fn small(name: &str, log_slots: Option<u32>, precision_bits: f64) -> BootstrapPreset {
        let circuit = CircuitSpec {
            cts_groups: 3,
            stc_groups: 3,
            evalmod: EvalModSpec {
                k: 12.0,
                degree: 63,
                double_angle: 2,
            },
        };
        let boot = circuit.depth() as usize;
        let params = bootstrappable_literal(
            name,
            12,
            log_slots,
            48,
            2,
            40,
            &vec![60; boot],
            &[61; 6],
            3,
            dense_secret_weight(12),
            Security::Insecure,
        )
        .unwrap_or_else(|e| panic!("preset {name}: {e}"));
        BootstrapPreset {
            params,
            config: BootstrapConfig {
                circuit,
                precision_bits,
                memory_budget_bytes: None,
                sparse_secret_weight: Some(ENCAPSULATION_WEIGHT),
            },
        }
    }

    /// N = 2^12, full packing (2048 slots), 2 levels after bootstrapping, scale 2^40, Hamming
    /// weight 32, declared precision 18 bits (measured about 22.6 after one bootstrap, 19.7 after
    /// twenty). **Insecure** (log QP far above the 109-bit bound for N = 2^12): for tests.
    pub fn insecure_boot_n12() -> BootstrapPreset {
        small("INSECURE_TEST_BOOT_N12", None, 18.0)
    }

    /// As [`insecure_boot_n12`] with sparse packing: 2^7 = 128 slots, declared precision 17 bits
    /// (with few slots the coefficients are larger and the sine's non-linearity at the message
    /// ratio 2^8 dominates: measured about 19.3). **Insecure**, for tests.
    pub fn insecure_boot_n12_sparse() -> BootstrapPreset {
        small("INSECURE_TEST_BOOT_N12_SPARSE", Some(7), 17.0)
    }

    /// N = 2^16, 32768 slots, 9 levels after bootstrapping at scale 2^40, declared precision
    /// 22 bits. Chain: `q_0` 48 bits (message ratio `q_0/Δ_0 = 2^8`), 9 user primes near 2^40,
    /// then the bootstrapping primes: SlotToCoeff 3 × 50 bits, EvalMod 9 × 60, CoeffToSlot
    /// 3 × 60; four 61-bit special primes, dnum 7; log QP ≈ 1522.
    ///
    /// Main secret: Hamming weight 192, **128-bit secure** under [`Security::Sparse192Classic128`]
    /// (log QP ≤ 1550). ModRaise runs under an ephemeral weight-32 secret (sparse-secret
    /// encapsulation; its key lives modulo `q_0·p_0`, 109 bits), which lets EvalMod cover
    /// `K = 16` with two double angles (failure probability ≤ 2^-105 per bootstrap, see
    /// `docs/bootstrapping.md`).
    pub fn boot_n16() -> BootstrapPreset {
        n16("BOOT_N16", 192, Security::Sparse192Classic128, 22.0)
    }

    /// [`boot_n16`] with a dense main secret (Hamming weight `2N/3`, the secret the
    /// HomomorphicEncryption.org tables assume; log QP ≈ 1522 ≤ 1747). The rescaling and
    /// key-switching noise grows with the secret's weight, so it is about 4 bits less precise:
    /// declared precision 18 bits (measured 20.6 bits mean, 18.6 minimum).
    pub fn boot_n16_dense() -> BootstrapPreset {
        n16(
            "BOOT_N16_DENSE",
            dense_secret_weight(16),
            Security::Classic128,
            18.0,
        )
    }

    /// The shape of the deep chain ([`boot_n16_deep`] and its small analogue
    /// [`insecure_boot_n12_deep`]): `q_0` 44 bits, 14 user primes near 2^36 (message ratio
    /// `q_0/Δ_0 = 2^8`), SlotToCoeff 3 × 48 bits, EvalMod 9 × 56, CoeffToSlot 3 × 56, three
    /// 61-bit special primes, dnum 10 (digits of 3 primes: at most 168 bits, 15 bits below
    /// `P`, so key switching adds little more than the rounding noise of a rescale). The
    /// SlotToCoeff primes are what the precision is most sensitive to (at N = 2^12: 16.5 bits
    /// minimum with 41-bit ones, 22.2 with 49-bit ones); the EvalMod and CoeffToSlot primes give
    /// way for them.
    pub const DEEP_CHAIN: DeepChain = DeepChain {
        q0_bits: 44,
        user_levels: 14,
        user_bits: 36,
        stc_bits: 48,
        evalmod_bits: 56,
        cts_bits: 56,
        p_bits: &[61; 3],
        dnum: 10,
    };

    /// A deep bootstrappable chain by field (see [`DEEP_CHAIN`]).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct DeepChain {
        /// Bits of `q_0`.
        pub q0_bits: u32,
        /// Number of user levels (levels left after a bootstrap).
        pub user_levels: usize,
        /// Bits of the user primes (the working scale).
        pub user_bits: u32,
        /// Bits of each SlotToCoeff prime.
        pub stc_bits: u32,
        /// Bits of each EvalMod prime.
        pub evalmod_bits: u32,
        /// Bits of each CoeffToSlot prime.
        pub cts_bits: u32,
        /// Bits of the special primes.
        pub p_bits: &'static [u32],
        /// Key-switching digits.
        pub dnum: usize,
    }

    /// N = 2^16, 32768 slots, **14 levels after bootstrapping at scale 2^36**, declared
    /// precision 19 bits (measured 21.8 bits mean, 20.0 minimum). Chain ([`DEEP_CHAIN`]): `q_0`
    /// 44 bits, 14 × 36, SlotToCoeff 3 × 48, EvalMod 9 × 56, CoeffToSlot 3 × 56; P = 3 × 61,
    /// dnum 10; log QP ≈ 1547. The circuit,
    /// the encapsulation (`h' = 32`, `K = 16`) and its failure probability are those of
    /// [`boot_n16`].
    ///
    /// Main secret: Hamming weight 192, **128-bit secure** under [`Security::Sparse192Classic128`]
    /// (log QP ≤ 1550). Against [`boot_n16`]: five more levels per bootstrap, a working scale
    /// 2^36 instead of 2^40 (about 2.5 bits less precise), and keys of 10 digits over 33 primes
    /// (330 MiB each, against 203 MiB).
    pub fn boot_n16_deep() -> BootstrapPreset {
        deep(
            "BOOT_N16_DEEP",
            16,
            192,
            Security::Sparse192Classic128,
            19.0,
        )
    }

    /// [`boot_n16_deep`]'s chain, circuit and configuration at N = 2^12 (2048 slots): 14 levels
    /// after bootstrapping at scale 2^36, dense secret, declared precision 18 bits. **Insecure**
    /// (log QP ≈ 1547 at N = 2^12): checks the shape in tests.
    pub fn insecure_boot_n12_deep() -> BootstrapPreset {
        deep(
            "INSECURE_TEST_BOOT_N12_DEEP",
            12,
            dense_secret_weight(12),
            Security::Insecure,
            18.0,
        )
    }

    fn deep(
        name: &str,
        log_n: u32,
        h: usize,
        security: Security,
        precision_bits: f64,
    ) -> BootstrapPreset {
        let circuit = CircuitSpec {
            cts_groups: 3,
            stc_groups: 3,
            evalmod: EvalModSpec {
                k: 16.0,
                degree: 63,
                double_angle: 2,
            },
        };
        let c = DEEP_CHAIN;
        let evalmod = circuit.evalmod.depth() as usize;
        let boot_bits: Vec<u32> = [
            vec![c.stc_bits; circuit.stc_groups],
            vec![c.evalmod_bits; evalmod],
            vec![c.cts_bits; circuit.cts_groups],
        ]
        .concat();
        let params = bootstrappable_literal(
            name,
            log_n,
            None,
            c.q0_bits,
            c.user_levels,
            c.user_bits,
            &boot_bits,
            c.p_bits,
            c.dnum,
            h,
            security,
        )
        .unwrap_or_else(|e| panic!("preset {name}: {e}"));
        BootstrapPreset {
            params,
            config: BootstrapConfig {
                circuit,
                precision_bits,
                memory_budget_bytes: None,
                sparse_secret_weight: Some(ENCAPSULATION_WEIGHT),
            },
        }
    }

    fn n16(name: &str, h: usize, security: Security, precision_bits: f64) -> BootstrapPreset {
        let circuit = CircuitSpec {
            cts_groups: 3,
            stc_groups: 3,
            evalmod: EvalModSpec {
                k: 16.0,
                degree: 63,
                double_angle: 2,
            },
        };
        let evalmod = circuit.evalmod.depth() as usize;
        let boot_bits: Vec<u32> = [
            vec![50; circuit.stc_groups],
            vec![60; evalmod],
            vec![60; circuit.cts_groups],
        ]
        .concat();
        let params = bootstrappable_literal(
            name, 16, None, 48, 9, 40, &boot_bits, &[61; 4], 7, h, security,
        )
        .unwrap_or_else(|e| panic!("preset {name}: {e}"));
        BootstrapPreset {
            params,
            config: BootstrapConfig {
                circuit,
                precision_bits,
                memory_budget_bytes: None,
                sparse_secret_weight: Some(ENCAPSULATION_WEIGHT),
            },
        }
    }
}

/// The Galois elements of the trace onto the sub-ring of `slots` slots: `5^(slots·2^i) mod 2N`
/// for `2^i < N/(2·slots)` ([`trace_elements_for`] at the parameters' slot count).
pub fn trace_elements(p: &CkksParams) -> Vec<usize> {
    trace_elements_for(p, p.slots)
}

/// The Galois elements of the trace onto the sub-ring of slot vectors of period `period`
/// (sparse bootstrapping): `5^(period·2^i) mod 2N` for `period·2^i < N/2`, i.e. the rotations
/// by `period, 2·period, …, N/4` of the full slot vector; `log2(N/(2·period))` elements.
pub fn trace_elements_for(p: &CkksParams, period: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut step = period.max(1);
    while step < p.n / 2 {
        out.push(p.galois_element(step));
        step *= 2;
    }
    out
}

/// The constants of the sparse circuit for slot vectors of period `period`: those of
/// [`circuit_constants`] with the trace factor `N/(2·period)`.
pub fn sparse_circuit_constants(p: &CkksParams, period: usize) -> CircuitConstants {
    CircuitConstants {
        trace_factor: (p.n / (2 * period.max(1))) as f64,
        ..circuit_constants(p)
    }
}

/// Checks a sparse-bootstrap period for the parameters and the circuit: a power of two with
/// `2·period` dividing the slot count and at least as many butterfly stages (`log2 period`) as
/// the circuit has CoeffToSlot and SlotToCoeff levels. Errors: [`Error::InvalidInput`].
pub fn check_sparse_period(p: &CkksParams, config: &BootstrapConfig, period: usize) -> Result<()> {
    let groups = config.circuit.cts_groups.max(config.circuit.stc_groups);
    if period < 2
        || !period.is_power_of_two()
        || 2 * period > p.slots
        || !p.slots.is_multiple_of(2 * period)
        || (period.trailing_zeros() as usize) < groups
    {
        return Err(Error::invalid(format!(
            "no sparse bootstrap for period {period}: it must be a power of two of at least 2^{groups} (the circuit's DFT levels) with twice it dividing the {} slots",
            p.slots
        )));
    }
    Ok(())
}

/// The sparse periods of a key request, validated ([`check_sparse_period`]), sorted, without
/// duplicates; the full slot count (the full bootstrap) is dropped.
pub fn sparse_periods(
    p: &CkksParams,
    config: &BootstrapConfig,
    request: &KeyRequest,
) -> Result<Vec<usize>> {
    let mut out: Vec<usize> = request
        .sparse_bootstrap_slots
        .iter()
        .copied()
        .filter(|&n| n != p.slots)
        .collect();
    out.sort_unstable();
    out.dedup();
    for &n in &out {
        check_sparse_period(p, config, n)?;
    }
    Ok(out)
}

/// The rotation steps (of the full slot vector, normalised) the sparse circuit of period
/// `period` needs ([`circuit::sparse_matrices`]); the trace's are [`trace_elements_for`].
pub fn sparse_circuit_rotations(
    p: &CkksParams,
    config: &BootstrapConfig,
    period: usize,
) -> Result<Vec<usize>> {
    check_sparse_period(p, config, period)?;
    let (cts, stc) = circuit::sparse_matrices(
        period,
        &config.circuit,
        &sparse_circuit_constants(p, period),
    );
    let mut r: Vec<usize> = cts
        .iter()
        .chain(&stc)
        .flat_map(dft::PreparedTransform::<()>::rotations_of)
        .map(|r| dft::embed_rotation(r, 2 * period, p.slots))
        .collect();
    r.sort_unstable();
    r.dedup();
    Ok(r)
}

/// The constants of the circuit for a parameter set.
pub fn circuit_constants(p: &CkksParams) -> CircuitConstants {
    CircuitConstants {
        q0: p.moduli[0].q as f64,
        top_scale: p.scales[p.max_level()],
        input_scale: p.scales[0],
        trace_factor: (p.n / (2 * p.slots)) as f64,
    }
}

/// The memory a bootstrapping key set and its encoded matrices take, computed before generating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Number of key-switching keys (relinearisation, rotations, conjugation, trace).
    pub keys: usize,
    /// Bytes per key-switching key (both parts, every digit, all primes of `Q·P`).
    pub bytes_per_key: u64,
    /// Number of encoded DFT diagonals.
    pub diagonals: usize,
    /// Bytes of the encoded DFT diagonals.
    pub plaintext_bytes: u64,
    /// Working memory of one bootstrap: 80 ciphertexts at the top level (hoisted baby steps,
    /// Chebyshev powers, key-switching buffers). On `BOOT_N16` the measured peak exceeded keys plus
    /// diagonals by 2.0 GiB; this term is 2.0 GiB there.
    pub working_bytes: u64,
    /// Of `keys`: the keys only the sparse circuits need (their trace automorphisms and DFT
    /// rotations that the full circuit and the extra request do not already have).
    pub sparse_keys: usize,
    /// Of `diagonals` / `plaintext_bytes`: the sparse circuits' encoded diagonals.
    pub sparse_diagonals: usize,
    /// Of `plaintext_bytes`: the bytes of the sparse circuits' diagonals.
    pub sparse_plaintext_bytes: u64,
}

impl MemoryEstimate {
    /// Keys plus plaintexts plus working memory.
    pub fn total_bytes(&self) -> u64 {
        self.keys as u64 * self.bytes_per_key + self.plaintext_bytes + self.working_bytes
    }
}

/// The rotation steps (normalised) the circuit needs.
pub fn circuit_rotations(p: &CkksParams, config: &BootstrapConfig) -> Vec<usize> {
    let (cts, stc) = circuit::matrices(p.slots, &config.circuit, &circuit_constants(p));
    let mut r: Vec<usize> = cts
        .iter()
        .chain(&stc)
        .flat_map(dft::PreparedTransform::<()>::rotations_of)
        .collect();
    r.sort_unstable();
    r.dedup();
    r
}

/// Computes the memory of the bootstrapping key set (plus the extra rotations of `extra`, and
/// the sparse circuits of `extra.sparse_bootstrap_slots`) and of the encoded matrices, without
/// generating anything. Keys are counted once per Galois element: a rotation or trace
/// automorphism the full circuit, a sparse circuit and the request share is one key.
///
/// Errors: too few levels for the circuit, an invalid encapsulation weight, an invalid sparse
/// period ([`check_sparse_period`]).
pub fn estimate_memory(
    p: &CkksParams,
    config: &BootstrapConfig,
    extra: &KeyRequest,
) -> Result<MemoryEstimate> {
    let top = p.max_level() as u32;
    let depth = config.circuit.depth();
    if top < depth {
        return Err(Error::invalid(format!(
            "bootstrapping needs {depth} levels; the chain has {top}"
        )));
    }
    if let Some(h) = config.sparse_secret_weight {
        if h == 0 || h > p.n {
            return Err(Error::invalid(format!(
                "sparse secret weight {h} outside 1..={}",
                p.n
            )));
        }
        if p.num_p() == 0 {
            return Err(Error::invalid(
                "sparse-secret encapsulation needs a special prime",
            ));
        }
    }
    let sparse = sparse_periods(p, config, extra)?;
    // Galois elements of the full set: circuit rotations, extra rotations, trace.
    let mut full: std::collections::BTreeSet<usize> = circuit_rotations(p, config)
        .into_iter()
        .chain(extra.normalized_rotations(p.slots))
        .map(|r| p.galois_element(r))
        .collect();
    full.extend(trace_elements(p));
    let mut all = full.clone();
    for &n in &sparse {
        all.extend(
            sparse_circuit_rotations(p, config, n)?
                .into_iter()
                .map(|r| p.galois_element(r)),
        );
        all.extend(trace_elements_for(p, n));
    }
    // Relinearisation, conjugation, the Galois keys, and the encapsulation key back to the
    // main secret (the key to the sparse secret has two primes and one digit: negligible).
    let keys = 1 + 1 + all.len() + usize::from(config.sparse_secret_weight.is_some());
    let bytes_per_key = (p.digits.len() * 2 * p.moduli.len() * p.n * 8) as u64;
    let circuit_bytes = |cts: &[DiagMatrix], stc: &[DiagMatrix]| -> (usize, u64) {
        let mut bytes = 0u64;
        let mut diagonals = 0usize;
        let mut level = top as usize;
        for m in cts {
            diagonals += m.diagonals().len();
            bytes += (m.diagonals().len() * (level + 1 + p.num_p()) * p.n * 8) as u64;
            level -= 1;
        }
        level -= config.circuit.evalmod.depth() as usize;
        for m in stc {
            diagonals += m.diagonals().len();
            bytes += (m.diagonals().len() * (level + 1 + p.num_p()) * p.n * 8) as u64;
            level = level.saturating_sub(1);
        }
        (diagonals, bytes)
    };
    let (cts, stc) = circuit::matrices(p.slots, &config.circuit, &circuit_constants(p));
    let (mut diagonals, mut plaintext_bytes) = circuit_bytes(&cts, &stc);
    let (mut sparse_diagonals, mut sparse_plaintext_bytes) = (0usize, 0u64);
    for &n in &sparse {
        let (cts, stc) =
            circuit::sparse_matrices(n, &config.circuit, &sparse_circuit_constants(p, n));
        let (d, b) = circuit_bytes(&cts, &stc);
        sparse_diagonals += d;
        sparse_plaintext_bytes += b;
    }
    diagonals += sparse_diagonals;
    plaintext_bytes += sparse_plaintext_bytes;
    let working_bytes = (80 * 2 * (top as usize + 1) * p.n * 8) as u64;
    Ok(MemoryEstimate {
        keys,
        bytes_per_key,
        diagonals,
        plaintext_bytes,
        working_bytes,
        sparse_keys: all.len() - full.len(),
        sparse_diagonals,
        sparse_plaintext_bytes,
    })
}

/// 80% of `MemAvailable` from `/proc/meminfo` (or 4 GiB when it cannot be read).
pub fn default_memory_budget() -> u64 {
    let avail = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .map(|kib| kib * 1024)
    });
    avail.map_or(4 << 30, |b| b / 10 * 8)
}

fn gib(b: u64) -> f64 {
    b as f64 / (1u64 << 30) as f64
}

/// Generates the evaluation keys for bootstrapping (relinearisation, the DFT rotations,
/// conjugation, the trace automorphisms of sparse packing) plus whatever `extra` asks for.
///
/// The memory of the key set and of the encoded matrices is computed first; if it exceeds the
/// budget ([`BootstrapConfig::memory_budget_bytes`], else [`default_memory_budget`]) nothing is
/// generated and an error says how much was needed.
pub fn generate_bootstrap_keys(
    client: &mut CkksClient,
    config: &BootstrapConfig,
    extra: &KeyRequest,
) -> Result<(EvaluationKeys, MemoryEstimate)> {
    let p = client.params().clone();
    let est = estimate_memory(&p, config, extra)?;
    let budget = config
        .memory_budget_bytes
        .unwrap_or_else(default_memory_budget);
    if est.total_bytes() > budget {
        return Err(Error::BootstrapUnavailable {
            reason: format!(
                "the bootstrapping key set needs {:.2} GiB ({} keys of {:.1} MiB, {} diagonals {:.2} GiB, working memory {:.2} GiB) but the budget is {:.2} GiB",
                gib(est.total_bytes()),
                est.keys,
                est.bytes_per_key as f64 / (1 << 20) as f64,
                est.diagonals,
                gib(est.plaintext_bytes),
                gib(est.working_bytes),
                gib(budget)
            ),
        });
    }
    let sparse = sparse_periods(&p, config, extra)?;
    let mut req =
        KeyRequest::with_rotations(circuit_rotations(&p, config).into_iter().map(|r| r as i64));
    req.merge(&KeyRequest {
        bootstrapping: false,
        sparse_bootstrap_slots: Vec::new(),
        ..extra.clone()
    });
    for &n in &sparse {
        req.add_rotations(
            sparse_circuit_rotations(&p, config, n)?
                .into_iter()
                .map(|r| r as i64),
        );
    }
    req.conjugation = true;
    let mut keys = client.generate_evaluation_keys(&req)?;
    // The client's generator: a client made from a seed makes the same key set every time.
    // Trace keys that coincide with a rotation key (sparse periods) are shared.
    let traces = trace_elements(&p)
        .into_iter()
        .chain(sparse.iter().flat_map(|&n| trace_elements_for(&p, n)));
    for g in traces {
        if let std::collections::btree_map::Entry::Vacant(slot) = keys.rotations.entry(g) {
            slot.insert(keys::galois_key(&p, &client.sk, g, &mut client.rng));
        }
    }
    keys.sparse_bootstrap_slots = sparse;
    if let Some(h) = config.sparse_secret_weight {
        keys.encapsulation = Some(keys::EncapsulationKeys::generate(
            &p,
            &client.sk,
            h,
            &mut client.rng,
        ));
    }
    Ok((keys, est))
}

/// A CKKS evaluator that can bootstrap: every operation is the wrapped [`CkksEvaluator`]'s,
/// `bootstrap` runs ModRaise, the trace (sparse packing) and the circuit.
///
/// Besides the full circuit it holds one sparse circuit per period of
/// [`EvaluationKeys::sparse_bootstrap_slots`] (built over the same chain, with the `n`-slot
/// DFTs, the trace onto period-`n` slot vectors and one EvalMod), which
/// [`Evaluator::bootstrap_sparse`] and [`Evaluator::bootstrap_pair_sparse`] run.
#[derive(Clone, Debug)]
pub struct BootstrappingEvaluator {
    enc: CkksEncoder,
    inner: CkksEvaluator,
    circuit: Arc<BootstrapCircuit<Plaintext>>,
    trace: Vec<usize>,
    sparse: std::collections::BTreeMap<usize, Arc<SparseCircuit>>,
    encapsulate: bool,
    info: BootstrapInfo,
}

/// A sparse circuit with the Galois elements of its trace.
#[derive(Debug)]
struct SparseCircuit {
    circuit: BootstrapCircuit<Plaintext>,
    trace: Vec<usize>,
}

delegate_encoder!(BootstrappingEvaluator);

impl BootstrappingEvaluator {
    /// Builds the evaluator from keys made by [`generate_bootstrap_keys`] (encodes the DFT
    /// matrices once).
    pub fn new(params: CkksParams, keys: EvaluationKeys, config: &BootstrapConfig) -> Result<Self> {
        let inner = CkksEvaluator::new(params, keys)?;
        Self::from_evaluator(inner, config)
    }

    /// Wraps an existing evaluator (e.g. one with a dedicated thread pool).
    pub fn from_evaluator(inner: CkksEvaluator, config: &BootstrapConfig) -> Result<Self> {
        let p = inner.params().clone();
        let top = inner.max_level();
        // The DFT diagonals carry their residues modulo P for the double-hoisted transforms.
        let circuit = BootstrapCircuit::new(
            &ops::QpEncoder(&inner),
            config.circuit,
            top,
            &circuit_constants(&p),
        )?;
        for r in circuit.rotations() {
            if !inner.has_rotation_key(RotStep(r as i64)) {
                return Err(Error::MissingRotationKey {
                    step: RotStep(r as i64),
                    normalized: r,
                });
            }
        }
        if !inner.has_conjugation_key() {
            return Err(Error::MissingConjugationKey);
        }
        let trace = trace_elements(&p);
        let has_traces = |trace: &[usize]| -> Result<()> {
            for g in trace {
                if !inner.keys().rotations.contains_key(g) {
                    return Err(Error::BootstrapUnavailable {
                        reason: format!("missing the trace key of Galois element {g}"),
                    });
                }
            }
            Ok(())
        };
        has_traces(&trace)?;
        let mut sparse = std::collections::BTreeMap::new();
        for &n in inner.keys().sparse_bootstrap_slots() {
            check_sparse_period(&p, config, n)?;
            let circuit = BootstrapCircuit::new_sparse(
                &ops::QpEncoder(&inner),
                config.circuit,
                top,
                &sparse_circuit_constants(&p, n),
                n,
            )?;
            for r in circuit.rotations() {
                if !inner.has_rotation_key(RotStep(r as i64)) {
                    return Err(Error::MissingRotationKey {
                        step: RotStep(r as i64),
                        normalized: r,
                    });
                }
            }
            let trace = trace_elements_for(&p, n);
            has_traces(&trace)?;
            sparse.insert(n, Arc::new(SparseCircuit { circuit, trace }));
        }
        let encapsulate = match (config.sparse_secret_weight, inner.keys().encapsulation()) {
            (None, _) => false,
            (Some(h), Some(k)) if k.sparse_weight() == h => true,
            (Some(h), Some(k)) => {
                return Err(Error::BootstrapUnavailable {
                    reason: format!(
                        "the encapsulation keys are for a sparse secret of weight {}, the configuration asks for {h}",
                        k.sparse_weight()
                    ),
                });
            }
            (Some(_), None) => {
                return Err(Error::BootstrapUnavailable {
                    reason: "the configuration asks for sparse-secret encapsulation but the evaluation keys have no encapsulation keys".into(),
                });
            }
        };
        let info = BootstrapInfo {
            min_input_level: Level(0),
            output_level: circuit.output_level(),
            input_bound: 1.0,
        };
        Ok(BootstrappingEvaluator {
            enc: inner.encoder().clone(),
            inner,
            circuit: Arc::new(circuit),
            trace,
            sparse,
            encapsulate,
            info,
        })
    }

    /// The sparse circuit of period `period`, if the keys have it.
    pub fn sparse_circuit(&self, period: usize) -> Option<&BootstrapCircuit<Plaintext>> {
        self.sparse.get(&period).map(|s| &s.circuit)
    }

    /// The periods with a sparse circuit, sorted.
    pub fn sparse_periods(&self) -> Vec<usize> {
        self.sparse.keys().copied().collect()
    }

    /// The wrapped leveled evaluator.
    pub fn inner(&self) -> &CkksEvaluator {
        &self.inner
    }

    /// The circuit.
    pub fn circuit(&self) -> &BootstrapCircuit<Plaintext> {
        &self.circuit
    }

    /// ModRaise: a level-0 ciphertext lifted to the top level (declared at the top canonical scale),
    /// decrypting to `t = m + q_0·I`.
    pub fn mod_raise(&self, a: &Ciphertext) -> Result<Ciphertext> {
        if a.level != 0 {
            return Err(Error::LevelMismatch {
                op: hetal_traits::Operation::Bootstrap,
                expected: Level(0),
                actual: a.level(),
            });
        }
        let p = self.inner.params();
        let n = p.n;
        let m0 = p.moduli[0];
        let top = p.max_level();
        let basis = ring::q_basis(top);
        let lift = |c: &[u64]| -> Vec<u64> {
            let mut x = c[..n].to_vec();
            p.ntt[0].inverse(&mut x);
            let centred: Vec<i64> = x.iter().map(|&v| m0.center(v)).collect();
            ring::small_to_ntt(p, &centred, &basis)
        };
        let (c0, c1) = rayon::join(|| lift(&a.c0), || lift(&a.c1));
        Ok(Ciphertext {
            c0,
            c1,
            level: top,
            scale: p.scales[top],
            ..*a
        })
    }

    /// Everything before the circuit, for a level-0 ciphertext at the canonical scale: with
    /// encapsulation [`switch_to_sparse`](Self::switch_to_sparse), then
    /// [`mod_raise`](Self::mod_raise), then [`switch_to_dense`](Self::switch_to_dense); then the
    /// [`trace`](Self::trace) (sparse packing). The result decrypts under the main secret to
    /// `m + q_0·I` (times the trace factor) at the top level.
    pub fn raise(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.trace(&self.raise_untraced(a)?)
    }

    /// [`raise`](Self::raise) without the trace.
    fn raise_untraced(&self, a: &Ciphertext) -> Result<Ciphertext> {
        if self.encapsulate {
            self.switch_to_dense(&self.mod_raise(&self.switch_to_sparse(a)?)?)
        } else {
            self.mod_raise(a)
        }
    }

    /// Sparse-secret encapsulation, first half: switches a level-0 ciphertext from the main
    /// secret to the ephemeral sparse secret with the key over `q_0·p_0` (one digit, one special
    /// prime). Cost: 3 NTTs of one limb and 2 inverse NTTs.
    pub fn switch_to_sparse(&self, a: &Ciphertext) -> Result<Ciphertext> {
        if a.level != 0 {
            return Err(Error::LevelMismatch {
                op: hetal_traits::Operation::Bootstrap,
                expected: Level(0),
                actual: a.level(),
            });
        }
        let k = self.encapsulation_keys()?;
        let p = self.inner.params();
        let n = p.n;
        let [iq, ip] = keys::EncapsulationKeys::small_basis(p);
        let (mq, mp) = (p.moduli[iq], p.moduli[ip]);
        // ModUp of c_1 from q_0 to q_0·p_0 (the centred lift).
        let mut d = a.c1[..n].to_vec();
        p.ntt[iq].inverse(&mut d);
        let lifted: Vec<i64> = d.iter().map(|&v| mq.center(v)).collect();
        let d_p = ring::small_to_ntt(p, &lifted, &[ip]);
        let d_q = &a.c1[..n];
        // Products with the key, then ModDown by p_0: (u_q − [u_p]) · p_0^-1 mod q_0.
        let p_inv = mq.inv(mq.reduce(mp.q));
        let p_inv_s = mq.shoup(p_inv);
        let product_down = |key: &[u64]| -> Vec<u64> {
            let mut up: Vec<u64> = d_p
                .iter()
                .zip(&key[n..2 * n])
                .map(|(&x, &y)| mp.mul(x, y))
                .collect();
            p.ntt[ip].inverse(&mut up);
            let centred: Vec<i64> = up.iter().map(|&v| mp.center(v)).collect();
            let corr = ring::small_to_ntt(p, &centred, &[iq]);
            d_q.iter()
                .zip(&key[..n])
                .zip(&corr)
                .map(|((&x, &y), &c)| mq.mul_shoup(mq.sub(mq.mul(x, y), c), p_inv, p_inv_s))
                .collect()
        };
        let (u0, u1) = rayon::join(
            || product_down(&k.to_sparse.b),
            || product_down(&k.to_sparse.a),
        );
        let c0 = ring::add(p, &a.c0[..n], &u0, &[iq]);
        Ok(Ciphertext { c0, c1: u1, ..*a })
    }

    /// Sparse-secret encapsulation, second half: switches the raised ciphertext (any level) from
    /// the sparse secret back to the main secret: one hybrid key switch.
    pub fn switch_to_dense(&self, a: &Ciphertext) -> Result<Ciphertext> {
        let k = self.encapsulation_keys()?;
        let p = self.inner.params();
        let basis = ring::q_basis(a.level);
        let [k0, k1] = self
            .inner
            .run(|| crate::keyswitch::key_switch(p, &a.c1, a.level, &k.to_dense));
        let c0 = ring::add(p, &a.c0, &k0, &basis);
        Ok(Ciphertext { c0, c1: k1, ..*a })
    }

    fn encapsulation_keys(&self) -> Result<&keys::EncapsulationKeys> {
        self.inner
            .keys()
            .encapsulation()
            .ok_or_else(|| Error::BootstrapUnavailable {
                reason: "the evaluation keys have no encapsulation keys".into(),
            })
    }

    /// The trace onto the slot sub-ring (sparse packing): `Σ σ_g` over the `N/(2·slots)`
    /// automorphisms fixing the sub-ring, as `log2(N/(2·slots))` doublings.
    pub fn trace(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.trace_with(a, &self.trace)
    }

    /// The trace of the sparse circuit of period `period` (after [`raise`](Self::raise), whose
    /// own trace is the identity at full packing): `log2(N/(2·period))` automorphisms.
    /// Errors: [`Error::BootstrapUnavailable`] without a sparse circuit for `period`.
    pub fn trace_for(&self, a: &Ciphertext, period: usize) -> Result<Ciphertext> {
        let s = self
            .sparse
            .get(&period)
            .ok_or_else(|| Error::BootstrapUnavailable {
                reason: format!("no sparse bootstrap circuit for period {period}"),
            })?;
        self.trace_with(a, &s.trace)
    }

    /// The trace over the automorphisms `trace` (one doubling each: an automorphism, one key
    /// switch, and an addition).
    fn trace_with(&self, a: &Ciphertext, trace: &[usize]) -> Result<Ciphertext> {
        let mut x = a.clone();
        for &g in trace {
            let key =
                self.inner
                    .keys()
                    .rotations
                    .get(&g)
                    .ok_or_else(|| Error::BootstrapUnavailable {
                        reason: format!("missing the trace key of Galois element {g}"),
                    })?;
            let dec = self.inner.decompose(&x)?;
            let r = self.inner.automorphism_hoisted(&x, &dec, g, key);
            x = self.inner.add(&x, &r)?;
        }
        Ok(x)
    }

    fn refresh(&self, a: &Ciphertext, halve: bool) -> Result<Ciphertext> {
        self.refresh_with(a, halve, None)
    }

    /// [`refresh`](Self::refresh) with the sparse circuit `sparse` (and its trace) instead of
    /// the full one.
    fn refresh_with(
        &self,
        a: &Ciphertext,
        halve: bool,
        sparse: Option<&SparseCircuit>,
    ) -> Result<Ciphertext> {
        // Level 0 at the canonical scale Δ_0 (what the SlotToCoeff constants assume).
        let mut x = a.clone();
        let canonical = |c: &Ciphertext| c.scale().matches(self.canonical_scale(c.level()));
        if !canonical(&x) {
            if x.level == 0 {
                return Err(Error::invalid(
                    "bootstrap input at level 0 must have the canonical scale of level 0",
                ));
            }
            let below = Level(x.level as u32 - 1);
            x = self.inner.mul_const_to_scale(
                &x,
                Complex64::new(1.0, 0.0),
                self.canonical_scale(below),
            )?;
        }
        let x = self.inner.drop_to_level(&x, Level(0))?;
        let raised = self.raise_untraced(&x)?;
        let (circuit, trace) = match sparse {
            Some(s) => (&s.circuit, &s.trace[..]),
            None => (&*self.circuit, &self.trace[..]),
        };
        let traced = self.trace_with(&raised, trace)?;
        let out = if halve {
            circuit.run_halved(&self.inner, &traced)?
        } else {
            circuit.run(&self.inner, &traced)?
        };
        debug_assert!(out.scale().matches(self.canonical_scale(out.level())));
        Ok(out)
    }

    /// Pair bootstrapping: `z = a + i·b` (exact), one bootstrap whose EvalMod halves its output
    /// (`w = z/2`, no extra level), then `a' = w + conj(w)` and `b' = i·(conj(w) − w)`.
    /// Cost: one bootstrap plus one conjugation (one key switch at the output level), two
    /// additions and two multiplications by `i`. Both outputs are at the output level with its
    /// canonical scale. The inputs must be real-valued: CKKS cannot check it, and for complex
    /// inputs the outputs are `Re(a + i·b)` and `Im(a + i·b)`.
    fn refresh_pair(
        &self,
        a: &Ciphertext,
        b: &Ciphertext,
        sparse: Option<&SparseCircuit>,
    ) -> Result<(Ciphertext, Ciphertext)> {
        use hetal_traits::Operation;
        if a.level != b.level {
            return Err(Error::LevelMismatch {
                op: Operation::Bootstrap,
                expected: a.level(),
                actual: b.level(),
            });
        }
        if !a.scale().matches(b.scale()) {
            return Err(Error::ScaleMismatch {
                op: Operation::Bootstrap,
                lhs: a.scale(),
                rhs: b.scale(),
            });
        }
        let z = self.inner.add(a, &self.inner.mul_i(b)?)?;
        let w = self.refresh_with(&z, true, sparse)?;
        let c = self.inner.conjugate(&w)?;
        let re = self.inner.add(&w, &c)?;
        let im = self.inner.mul_i(&self.inner.sub(&c, &w)?)?;
        Ok((re, im))
    }
}

impl Evaluator for BootstrappingEvaluator {
    type Ciphertext = Ciphertext;

    fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.inner.add(a, b)
    }
    fn sub(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.inner.sub(a, b)
    }
    fn neg(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.inner.neg(a)
    }
    fn add_plain(&self, a: &Ciphertext, p: &Plaintext) -> Result<Ciphertext> {
        self.inner.add_plain(a, p)
    }
    fn sub_plain(&self, a: &Ciphertext, p: &Plaintext) -> Result<Ciphertext> {
        self.inner.sub_plain(a, p)
    }
    fn add_const(&self, a: &Ciphertext, c: Complex64) -> Result<Ciphertext> {
        self.inner.add_const(a, c)
    }
    fn mul(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.inner.mul(a, b)
    }
    fn square(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.inner.square(a)
    }
    fn mul_plain(&self, a: &Ciphertext, p: &Plaintext) -> Result<Ciphertext> {
        self.inner.mul_plain(a, p)
    }
    fn mul_const(&self, a: &Ciphertext, c: Complex64, const_scale: Scale) -> Result<Ciphertext> {
        self.inner.mul_const(a, c, const_scale)
    }
    fn mul_integer(&self, a: &Ciphertext, k: i64) -> Result<Ciphertext> {
        self.inner.mul_integer(a, k)
    }
    fn mul_i(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.inner.mul_i(a)
    }
    fn rescale(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.inner.rescale(a)
    }
    fn drop_to_level(&self, a: &Ciphertext, level: Level) -> Result<Ciphertext> {
        self.inner.drop_to_level(a, level)
    }
    fn rotate(&self, a: &Ciphertext, step: RotStep) -> Result<Ciphertext> {
        self.inner.rotate(a, step)
    }
    fn rotate_hoisted(&self, a: &Ciphertext, steps: &[RotStep]) -> Result<Vec<Ciphertext>> {
        self.inner.rotate_hoisted(a, steps)
    }
    fn conjugate(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.inner.conjugate(a)
    }
    fn has_rotation_key(&self, step: RotStep) -> bool {
        self.inner.has_rotation_key(step)
    }
    fn has_conjugation_key(&self) -> bool {
        self.inner.has_conjugation_key()
    }
    fn bootstrap_info(&self) -> Option<BootstrapInfo> {
        Some(self.info)
    }
    fn bootstrap(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.refresh(a, false)
    }
    fn bootstrap_pair(&self, a: &Ciphertext, b: &Ciphertext) -> Result<(Ciphertext, Ciphertext)> {
        self.refresh_pair(a, b, None)
    }
    /// `true` for the periods of [`EvaluationKeys::sparse_bootstrap_slots`] (a sparse circuit
    /// was built for them).
    fn has_sparse_bootstrap(&self, slots: usize) -> bool {
        self.sparse.contains_key(&slots)
    }
    /// With a sparse circuit for `slots`: ModRaise, the trace onto period-`slots` vectors
    /// (`log2(N/(2·slots))` automorphisms, key switches at the top level), CoeffToSlot and
    /// SlotToCoeff over `2·slots` slots (`cts_groups` / `stc_groups` levels, fewer diagonals than
    /// the full DFTs), one conjugation and **one** EvalMod (instead of two); same depth and output
    /// level as [`Evaluator::bootstrap`]. Slots that are not periodic are averaged over their
    /// residue class modulo `slots` (CKKS cannot see it). **Without** a sparse circuit for
    /// `slots` (keys not requested) this falls back to the full bootstrap (same result, full
    /// cost). Errors: an invalid period ([`Error::InvalidInput`]), then those of `bootstrap`.
    fn bootstrap_sparse(&self, a: &Ciphertext, slots: usize) -> Result<Ciphertext> {
        hetal_traits::check_sparse_slots(slots, self.slots())?;
        self.refresh_with(a, false, self.sparse.get(&slots).map(|s| &**s))
    }
    /// [`Evaluator::bootstrap_pair`] through the sparse circuit for `slots` (one sparse
    /// bootstrap of `a + i·b` and one conjugation), or through the full one without it (see
    /// [`Evaluator::bootstrap_sparse`]).
    fn bootstrap_pair_sparse(
        &self,
        a: &Ciphertext,
        b: &Ciphertext,
        slots: usize,
    ) -> Result<(Ciphertext, Ciphertext)> {
        hetal_traits::check_sparse_slots(slots, self.slots())?;
        self.refresh_pair(a, b, self.sparse.get(&slots).map(|s| &**s))
    }
}

/// Bits ten sparse bootstraps in a row may lose against one: `log2 10 ≈ 3.32`, rounded up. The
/// sparse bootstrap's error is dominated by the sine's non-linearity (see
/// [`sparse_precision_bits`]), a deterministic function of the value, so the errors of
/// consecutive refreshes of the same values add up: `k` in a row lose `log2 k` bits (measured
/// at period 2^7 on `insecure_boot_n12`: 18.92 bits after one, 15.60 after ten).
pub const SPARSE_TEN_IN_A_ROW_LOSS_BITS: f64 = 3.4;

/// The declared precision (bits, minimum over slots, values in the unit box) of a sparse
/// bootstrap of period `period`: `min(P, 2·log2(q_0/Δ_0) − 5.6 + log2(period))` with `P` the
/// full bootstrap's [`BootstrapConfig::precision_bits`].
///
/// The second term is the sine's non-linearity: EvalMod computes `q_0/(2π)·sin(2π m/q_0)`,
/// whose cubic term is a relative error `(2π m/q_0)²/6` on each coefficient `m`; a slot vector
/// of period `n` has `2n` non-zero coefficients of size about `Δ_0/sqrt(n)` (against
/// `Δ_0/sqrt(N/2)` for a full one), and their errors add up in every slot, so the slot error
/// falls as `1/n`: one bit per doubling of the period, two per bit of the message ratio
/// `q_0/Δ_0`. Measured on `insecure_boot_n12` (`q_0/Δ_0 = 2^8`): 18.92 bits at period 2^7,
/// 20.87 at 2^9, i.e. `11.9 + log2(period)`; the declared term keeps a 1.5-bit margin.
pub fn sparse_precision_bits(p: &CkksParams, config: &BootstrapConfig, period: usize) -> f64 {
    let ratio = (p.moduli[0].q as f64 / p.scales[0]).log2();
    let nonlinear = 2.0 * ratio - 5.6 + (period.max(1) as f64).log2();
    config.precision_bits.min(nonlinear)
}

/// Precision in bits of `got` against `want`: `(min over slots, mean)`, i.e.
/// `(-log2 max error, -log2 mean error)`.
pub fn precision_bits(got: &[Complex64], want: &[Complex64]) -> (f64, f64) {
    let n = want.len().max(1);
    let (mut max, mut sum) = (0.0f64, 0.0f64);
    for (g, w) in got.iter().zip(want) {
        let e = (g - w).norm();
        max = max.max(e);
        sum += e;
    }
    (
        -(max.max(f64::MIN_POSITIVE)).log2(),
        -((sum / n as f64).max(f64::MIN_POSITIVE)).log2(),
    )
}
