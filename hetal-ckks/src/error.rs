//! The error type of hetal-ckks's parameter sets and preset registry.
//!
//! Homomorphic operations report [`hetal_traits::Error`]; building a parameter set
//! ([`crate::CkksParams::new`]) or looking up a preset ([`crate::presets::by_name`]) reports a
//! [`ParamsError`], which converts into [`hetal_traits::Error::InvalidInput`] (its message kept)
//! wherever a caller works with the shared error type.

use crate::security::Security;

/// Why a parameter literal was rejected or a preset could not be found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// `log_n` outside the supported range.
    #[error("log_n = {log_n} outside 4..=17")]
    LogNOutOfRange {
        /// The value given.
        log_n: u32,
    },
    /// `log_slots` outside `1..=log_n − 1`.
    #[error("log_slots = {log_slots} outside 1..={max}")]
    LogSlotsOutOfRange {
        /// The value given (or implied).
        log_slots: u32,
        /// The largest allowed value, `log_n − 1`.
        max: u32,
    },
    /// The chain or the special primes are empty.
    #[error("the chain and the special primes must be non-empty")]
    EmptyModuli,
    /// A requested prime size outside `20..=61` bits.
    #[error("prime bit size {bits} outside 20..=61")]
    PrimeBitsOutOfRange {
        /// The size given.
        bits: u8,
    },
    /// Not enough NTT-friendly primes of a size (distinct from those already chosen).
    #[error("not enough NTT-friendly primes of {bits} bits for N = {n} (needed {needed})")]
    NotEnoughPrimes {
        /// The prime size.
        bits: u32,
        /// How many were needed.
        needed: usize,
        /// The ring degree.
        n: usize,
    },
    /// An explicit modulus that is not a prime `≡ 1 mod 2N` below `2^61`.
    #[error("{prime} is not a prime ≡ 1 mod 2N below 2^61")]
    NotNttPrime {
        /// The modulus given.
        prime: u64,
    },
    /// The same prime twice in the chain and special primes.
    #[error("prime {prime} appears twice")]
    DuplicatePrime {
        /// The repeated prime.
        prime: u64,
    },
    /// `dnum` outside `1..=L + 1`.
    #[error("dnum = {dnum} outside 1..={max}")]
    DnumOutOfRange {
        /// The value given.
        dnum: usize,
        /// The number of chain primes.
        max: usize,
    },
    /// The special modulus is smaller than the largest key-switching digit.
    #[error(
        "special modulus P ({log_p:.1} bits) is smaller than the largest digit ({max_digit:.1} bits); add special primes or raise dnum"
    )]
    SpecialModulusTooSmall {
        /// `log2 P`.
        log_p: f64,
        /// `log2` of the largest digit's modulus.
        max_digit: f64,
    },
    /// The security rule is stated for other parameters than these.
    #[error(
        "the security rule {rule:?} does not apply to N = 2^{log_n} with Hamming weight {hamming_weight}: {requirement}"
    )]
    SecurityRuleNotApplicable {
        /// The claimed rule.
        rule: Security,
        /// log2 N.
        log_n: u32,
        /// The secret's Hamming weight.
        hamming_weight: usize,
        /// What the rule requires.
        requirement: &'static str,
    },
    /// `log2(QP)` above the bound of the claimed security rule.
    #[error("log QP = {log_qp:.1} exceeds the bound {bound} of {rule:?} for N = 2^{log_n}")]
    ModulusTooLarge {
        /// The claimed rule.
        rule: Security,
        /// log2 N.
        log_n: u32,
        /// `log2(QP)`.
        log_qp: f64,
        /// The largest `log2(QP)` the rule allows.
        bound: u32,
    },
    /// `log_scale` outside `[1, 60)`.
    #[error("log_scale = {log_scale} outside [1, 60)")]
    LogScaleOutOfRange {
        /// The value given.
        log_scale: f64,
    },
    /// Hamming weight outside `1..=N`.
    #[error("hamming weight {hamming_weight} outside 1..={n}")]
    HammingWeightOutOfRange {
        /// The value given.
        hamming_weight: usize,
        /// The ring degree.
        n: usize,
    },
    /// The error's standard deviation is not a positive finite number below `10^6`.
    #[error("sigma = {sigma} must be positive, finite and below 1e6")]
    InvalidSigma {
        /// The value given.
        sigma: f64,
    },
    /// No NTT exists for a prime at this ring degree.
    #[error("no NTT of size {n} for the prime {prime}")]
    NoNtt {
        /// The prime.
        prime: u64,
        /// The ring degree.
        n: usize,
    },
    /// The canonical scales `Δ_{l−1} = Δ_l²/q_l` leave `[1, ∞)` along the chain.
    #[error("the canonical scales degenerate along the chain (primes too far from the scale)")]
    DegenerateScales,
    /// No preset of this name (or alias).
    #[error("unknown CKKS preset {name:?}; known presets: {known}")]
    UnknownPreset {
        /// The name given.
        name: String,
        /// The registry's names, comma separated.
        known: String,
    },
    /// A leveled preset where a bootstrappable one is needed.
    #[error("CKKS preset {name:?} does not bootstrap; bootstrappable presets: {known}")]
    NotBootstrappable {
        /// The preset's name.
        name: String,
        /// The bootstrappable presets' names, comma separated.
        known: String,
    },
    /// A bootstrappable preset whose literal could not be assembled or validated.
    #[error("CKKS preset {name:?}: {reason}")]
    Preset {
        /// The preset's name.
        name: String,
        /// What went wrong.
        reason: String,
    },
}

impl From<ParamsError> for hetal_traits::Error {
    fn from(e: ParamsError) -> Self {
        hetal_traits::Error::invalid(e.to_string())
    }
}
