//! The security rules a parameter set is checked against ([`Security`]): the
//! HomomorphicEncryption.org bound on `log2(QP)` for a ternary secret, and the bound stated for
//! sparse secrets of Hamming weight at least 192 at N = 2^16.

use serde::{Deserialize, Serialize};

/// The security claim a parameter set makes and is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Security {
    /// 128-bit classical security for a ternary secret: `log2(QP)` must not exceed the
    /// HomomorphicEncryption.org bound for N (see [`he_standard_max_log_qp`]).
    Classic128,
    /// 128-bit classical security for a sparse ternary secret of Hamming weight at least 192 at
    /// N = 2^16: `log2(QP)` must not exceed [`SPARSE_192_MAX_LOG_QP_N16`]. Sparse secrets are not
    /// covered by the HomomorphicEncryption.org tables; the bound is Lattigo's statement for its
    /// H = 192 bootstrapping parameters (`examples/singleparty/ckks_bootstrapping/basics`: with
    /// N = 2^16 and H = 192, log QP ≤ 1550 is "well over 128-bit").
    Sparse192Classic128,
    /// No claim (test parameters only).
    Insecure,
}

/// Largest `log2(QP)` of [`Security::Sparse192Classic128`] (N = 2^16, Hamming weight ≥ 192).
pub const SPARSE_192_MAX_LOG_QP_N16: u32 = 1550;

/// Largest `log2(QP)` for 128-bit classical security with a ternary secret
/// (HomomorphicEncryption.org standard; 2^16 and 2^17 from OpenFHE's extension of the table).
pub fn he_standard_max_log_qp(log_n: u32) -> Option<u32> {
    match log_n {
        10 => Some(27),
        11 => Some(54),
        12 => Some(109),
        13 => Some(218),
        14 => Some(438),
        15 => Some(881),
        16 => Some(1747),
        17 => Some(3523),
        _ => None,
    }
}

impl Security {
    /// The largest `log2(QP)` this rule allows at N = 2^`log_n`, `None` where it states no bound
    /// (always for [`Security::Insecure`]).
    pub fn max_log_qp(self, log_n: u32) -> Option<u32> {
        match self {
            Security::Classic128 => he_standard_max_log_qp(log_n),
            Security::Sparse192Classic128 => (log_n == 16).then_some(SPARSE_192_MAX_LOG_QP_N16),
            Security::Insecure => None,
        }
    }

    /// A one-line statement of the rule, for tables.
    pub fn rule(self) -> &'static str {
        match self {
            Security::Classic128 => "128-bit, HE standard (ternary secret)",
            Security::Sparse192Classic128 => "128-bit, sparse secret h >= 192 (log QP <= 1550)",
            Security::Insecure => "none (tests only)",
        }
    }
}
