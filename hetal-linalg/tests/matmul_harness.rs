//! Every built-in `A B^T` and `A^T B` algorithm passes the harness that outside algorithms are
//! checked with (`hetal_linalg::matmul::harness`).

use hetal_linalg::matmul::harness::{HarnessConfig, check_abt, check_atb};
use hetal_linalg::matmul::{AbtAlgorithm, AtbAlgorithm};

#[test]
fn built_in_abt_algorithms_pass_the_harness() {
    for &algo in AbtAlgorithm::ALL {
        let r = check_abt(&algo, &HarnessConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.skipped, 0, "{algo}");
        assert!(r.checked >= 12, "{algo}: {} checked", r.checked);
    }
}

#[test]
fn built_in_atb_algorithms_pass_the_harness() {
    for &algo in AtbAlgorithm::ALL {
        // DiagATB (auto) asks for both variants' keys and uses one variant per call.
        let cfg = HarnessConfig {
            require_all_keys_used: algo != AtbAlgorithm::DiagAtbAuto,
            ..HarnessConfig::default()
        };
        let r = check_atb(&algo, &cfg).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.skipped, 0, "{algo}");
        assert!(r.checked >= 12, "{algo}: {} checked", r.checked);
    }
}
