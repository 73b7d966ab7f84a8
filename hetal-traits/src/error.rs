//! The error type shared by every evaluator, encoder and client role.

use crate::types::{Level, RotStep, Scale};

/// Result alias for hetal-traits operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The operation that failed, for error messages and op counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Encoding slot values into a plaintext.
    Encode,
    /// Ciphertext-ciphertext multiplication with relinearisation.
    Mul,
    /// Ciphertext-plaintext multiplication.
    MulPlain,
    /// Ciphertext-constant multiplication.
    MulConst,
    /// Rescaling.
    Rescale,
    /// Dropping to a lower level.
    DropLevel,
    /// A slot rotation.
    Rotate,
    /// Complex conjugation of the slots.
    Conjugate,
    /// Bootstrapping.
    Bootstrap,
    /// Addition or subtraction.
    Add,
    /// Encryption.
    Encrypt,
    /// Decryption.
    Decrypt,
}

/// Everything that can go wrong in a homomorphic operation. Misuse is reported as a value, never a panic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operation needs a level the operand does not have (e.g. rescaling at level 0).
    #[error("level exhausted: {op:?} needs a level but the operand is at {level}")]
    LevelExhausted {
        /// The operation that failed.
        op: Operation,
        /// The operand's level.
        level: Level,
    },
    /// Two operands (or an operand and a requested level) have incompatible levels.
    #[error("level mismatch in {op:?}: expected {expected}, got {actual}")]
    LevelMismatch {
        /// The operation that failed.
        op: Operation,
        /// The level that was needed.
        expected: Level,
        /// The level that was given.
        actual: Level,
    },
    /// Two operands have different scales (e.g. adding a product that was not rescaled).
    #[error("scale mismatch in {op:?}: {lhs} vs {rhs}")]
    ScaleMismatch {
        /// The operation that failed.
        op: Operation,
        /// Scale of the left operand.
        lhs: Scale,
        /// Scale of the right operand.
        rhs: Scale,
    },
    /// The value times the scale no longer fits below half the ciphertext modulus: CKKS would
    /// wrap around and decrypt garbage.
    #[error(
        "scale overflow in {op:?}: log2(|value| * scale) = {log2_magnitude:.1} bits exceeds the {log2_modulus:.1}-bit modulus at this level"
    )]
    ScaleOverflow {
        /// The operation that failed.
        op: Operation,
        /// log2 of the largest |value| times the scale.
        log2_magnitude: f64,
        /// log2 of the modulus at the operand's level.
        log2_modulus: f64,
    },
    /// No key was generated for this rotation.
    #[error("missing rotation key for {step} (left rotation by {normalized})")]
    MissingRotationKey {
        /// The requested step.
        step: RotStep,
        /// The step as a left rotation in `0..slots`.
        normalized: usize,
    },
    /// No conjugation key was generated.
    #[error("missing conjugation key")]
    MissingConjugationKey,
    /// No relinearisation key is available.
    #[error("missing relinearisation key")]
    MissingRelinearizationKey,
    /// Bootstrapping is not available (no keys, or parameters that are not bootstrappable).
    #[error("bootstrapping is not available: {reason}")]
    BootstrapUnavailable {
        /// Why.
        reason: String,
    },
    /// A slot is outside the range that bootstrapping handles correctly.
    #[error(
        "bootstrap input out of range: max |slot component| = {max_abs:.3e} exceeds {bound:.3e}"
    )]
    BootstrapRange {
        /// The largest real or imaginary part.
        max_abs: f64,
        /// The bound the backend declares.
        bound: f64,
    },
    /// An operation defined on real-valued slots (e.g. [`crate::Evaluator::bootstrap_pair`]) got
    /// a ciphertext whose slots have imaginary parts. Backends that can see the values (the mock)
    /// report it; CKKS cannot, and returns what the operation computes on complex values.
    #[error(
        "complex input to {op:?}: max |imaginary part| = {max_abs_imag:.3e} exceeds {tolerance:.3e} (real values required)"
    )]
    ComplexInput {
        /// The operation that failed.
        op: Operation,
        /// The largest |imaginary part| of a slot.
        max_abs_imag: f64,
        /// The largest |imaginary part| accepted as zero.
        tolerance: f64,
    },
    /// A sparse bootstrap ([`crate::Evaluator::bootstrap_sparse`]) got a ciphertext whose slots
    /// do not repeat with the declared period. Backends that can see the values (the mock)
    /// report it; CKKS cannot, and refreshes the average of each residue class of slots modulo
    /// the period instead.
    #[error(
        "input to {op:?} is not periodic with period {period}: max |slot - slot of the first period| = {max_deviation:.3e} exceeds {tolerance:.3e}"
    )]
    NotPeriodic {
        /// The operation that failed.
        op: Operation,
        /// The declared period (the sparse slot count).
        period: usize,
        /// The largest `|x[t] - x[t mod period]|` over the slots.
        max_deviation: f64,
        /// The largest deviation accepted as noise.
        tolerance: f64,
    },
    /// The operands come from different parameter sets or different key sets.
    #[error("parameter mismatch: {what}")]
    ParameterMismatch {
        /// What differs.
        what: String,
    },
    /// Bad input from the caller (too many slot values, a non-finite value, an invalid scale, ...).
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::ParameterMismatch`].
    pub fn mismatch(what: impl Into<String>) -> Self {
        Error::ParameterMismatch { what: what.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_stable() {
        let e = Error::LevelExhausted {
            op: Operation::Rescale,
            level: Level(0),
        };
        assert_eq!(
            e.to_string(),
            "level exhausted: Rescale needs a level but the operand is at level 0"
        );
        let e = Error::MissingRotationKey {
            step: RotStep(-1),
            normalized: 7,
        };
        assert_eq!(
            e.to_string(),
            "missing rotation key for rotation by -1 (left rotation by 7)"
        );
    }
}
