//! Runs `examples/broadcast_abt.rs` under `cargo test`: an algorithm defined outside the library
//! passes the harness and runs in the comparison with DiagABT.

#[path = "../examples/broadcast_abt.rs"]
mod broadcast_abt;

use hetal_traits::Level;

#[test]
fn the_example_algorithm_passes_the_harness_and_compares_with_diag_abt() {
    let (report, rows) = broadcast_abt::run().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.name, "row_broadcast");
    assert_eq!(report.skipped, 0);
    assert!(report.checked >= 12, "{report:?}");
    assert!(report.max_error < 1e-6);
    assert_eq!(rows.len(), 3);
    for [new, diag] in &rows {
        assert_eq!(new.counts, new.formula);
        assert_eq!(diag.counts, diag.formula);
        assert_eq!(new.output_level, Level(6 - 3));
        assert_eq!(diag.output_level, Level(6 - 3));
        assert!(new.max_error < 1e-6 && diag.max_error < 1e-6);
    }
}

/// A wrong declaration is caught: the harness is not a rubber stamp.
#[test]
fn the_harness_rejects_a_wrong_formula() {
    use hetal_linalg::matmul::harness::{HarnessConfig, check_abt};
    use hetal_linalg::matmul::{AbtProduct, MatmulDims, OpTally};
    use hetal_linalg::packed::{Layout, PackedMatrix};
    use hetal_traits::{Evaluator, KeyRequest};

    /// RowBroadcast declaring one rotation too few.
    struct OffByOne;
    impl AbtProduct for OffByOne {
        fn name(&self) -> String {
            "off_by_one".into()
        }
        fn input_layouts(&self) -> (Layout, Layout) {
            broadcast_abt::RowBroadcast.input_layouts()
        }
        fn output_layout(&self) -> Layout {
            Layout::Plain
        }
        fn depths(&self, d: &MatmulDims, la: Level, lb: Level) -> (u32, u32) {
            broadcast_abt::RowBroadcast.depths(d, la, lb)
        }
        fn required_keys(&self, d: &MatmulDims) -> hetal_linalg::Result<KeyRequest> {
            broadcast_abt::RowBroadcast.required_keys(d)
        }
        fn expected_counts(&self, d: &MatmulDims, la: Level, lb: Level) -> OpTally {
            let mut t = broadcast_abt::RowBroadcast.expected_counts(d, la, lb);
            t.rot -= 1;
            t
        }
        fn multiply<E: Evaluator>(
            &self,
            ev: &E,
            a: &PackedMatrix<E::Ciphertext>,
            b: &PackedMatrix<E::Ciphertext>,
        ) -> hetal_linalg::Result<PackedMatrix<E::Ciphertext>> {
            broadcast_abt::RowBroadcast.multiply(ev, a, b)
        }
    }
    let e = check_abt(&OffByOne, &HarnessConfig::quick()).unwrap_err();
    assert!(e.to_string().contains("op counts"), "{e}");
}
