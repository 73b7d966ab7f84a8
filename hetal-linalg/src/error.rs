//! The error type of hetal-linalg.

/// Result alias for hetal-linalg.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the linear-algebra and approximation algorithms.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A homomorphic operation failed.
    #[error(transparent)]
    He(#[from] hetal_traits::Error),
    /// Matrix shapes or unit shapes that do not fit together.
    #[error("shape error: {reason}")]
    Shape {
        /// What is wrong.
        reason: String,
    },
    /// An algorithm parameter out of its valid range (degree, interval, iteration count, ...).
    #[error("invalid parameter: {reason}")]
    InvalidParameter {
        /// What is wrong.
        reason: String,
    },
    /// An algorithm name that is not known.
    #[error("unknown algorithm {name:?}; known: {known}")]
    UnknownAlgorithm {
        /// The name given.
        name: String,
        /// The names accepted.
        known: String,
    },
    /// Not enough levels left for the computation (and no bootstrapping available to refresh).
    #[error("depth exhausted: needs {needed} levels, {available} available")]
    DepthExhausted {
        /// Levels needed.
        needed: u32,
        /// Levels available.
        available: u32,
    },
    /// A collective operation between processes (the sums of a product whose rows are shared,
    /// [`crate::matmul::RowBlockSum`]) failed.
    #[error("collective operation failed: {reason}")]
    Collective {
        /// What went wrong.
        reason: String,
    },
    /// An algorithm failed one of the checks of [`crate::matmul::harness`].
    #[error("{algorithm} fails the {check} check on {case}: {detail}")]
    Check {
        /// The algorithm's name.
        algorithm: String,
        /// Which check (result, zero padding, op counts, output level, rotation keys, ...).
        check: String,
        /// The case (shape, unit shape, input levels).
        case: String,
        /// What differed.
        detail: String,
    },
}

impl Error {
    /// Shorthand for [`Error::Shape`].
    pub fn shape(reason: impl Into<String>) -> Self {
        Error::Shape {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            reason: reason.into(),
        }
    }
}
