//! Every kind of bad data file gives its own error.

use hetal_nn::Error;
use hetal_nn::data::{Dataset, Splits, read_csv};
use ndarray::{Array1, Array2, Array3};
use ndarray_npy::write_npy;
use std::path::Path;

fn good_dir(dir: &Path) {
    let f = |n: usize| Array2::from_shape_fn((n, 3), |(i, j)| (i * 3 + j) as f32 / 10.0);
    for (s, n) in [("train", 6), ("val", 3), ("test", 4)] {
        write_npy(dir.join(format!("features_{s}.npy")), &f(n)).unwrap();
        write_npy(
            dir.join(format!("labels_{s}.npy")),
            &Array1::from_shape_fn(n, |i| (i % 3) as i64),
        )
        .unwrap();
    }
}

#[test]
fn a_good_npy_directory_loads() {
    let dir = tempfile::tempdir().unwrap();
    good_dir(dir.path());
    let s = Splits::load_npy_dir(dir.path(), None).unwrap();
    assert_eq!(
        (
            s.train.len(),
            s.val.len(),
            s.test.len(),
            s.num_classes,
            s.num_features()
        ),
        (6, 3, 4, 3, 3)
    );
    assert!((s.train.features[[1, 2]] - 0.5).abs() < 1e-6);
    // Round trip through the writer (float64 features, int64 labels).
    let out = tempfile::tempdir().unwrap();
    s.save_npy_dir(out.path()).unwrap();
    assert_eq!(
        Splits::load_npy_dir(out.path(), Some(3))
            .unwrap()
            .test
            .labels,
        s.test.labels
    );
}

#[test]
fn npy_features_with_a_nan_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    good_dir(dir.path());
    let mut f = Array2::<f64>::zeros((3, 3));
    f[[2, 1]] = f64::NAN;
    write_npy(dir.path().join("features_val.npy"), &f).unwrap();
    let e = Splits::load_npy_dir(dir.path(), None).unwrap_err();
    assert!(matches!(e, Error::NonFinite { row: 2, col: 1, .. }), "{e}");
    assert!(e.to_string().contains("validation set"), "{e}");
}

#[test]
fn npy_features_of_the_wrong_rank_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    good_dir(dir.path());
    write_npy(
        dir.path().join("features_train.npy"),
        &Array3::<f32>::zeros((6, 3, 1)),
    )
    .unwrap();
    let e = Splits::load_npy_dir(dir.path(), None).unwrap_err();
    assert!(
        matches!(&e, Error::Shape { actual, .. } if actual == &vec![6, 3, 1]),
        "{e}"
    );
}

#[test]
fn npy_labels_of_the_wrong_shape_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    good_dir(dir.path());
    write_npy(
        dir.path().join("labels_test.npy"),
        &Array2::<i64>::zeros((4, 2)),
    )
    .unwrap();
    let e = Splits::load_npy_dir(dir.path(), None).unwrap_err();
    assert!(
        matches!(&e, Error::Shape { actual, .. } if actual == &vec![4, 2]),
        "{e}"
    );
}

#[test]
fn mismatched_lengths_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    good_dir(dir.path());
    write_npy(
        dir.path().join("labels_train.npy"),
        &Array1::<i64>::zeros(5),
    )
    .unwrap();
    let e = Splits::load_npy_dir(dir.path(), None).unwrap_err();
    assert!(
        matches!(
            e,
            Error::LengthMismatch {
                features: 6,
                labels: 5,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn labels_out_of_range_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    good_dir(dir.path());
    // Class 3 with an explicit class count of 3.
    write_npy(
        dir.path().join("labels_test.npy"),
        &Array1::from(vec![0i64, 1, 3, 2]),
    )
    .unwrap();
    let e = Splits::load_npy_dir(dir.path(), Some(3)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::LabelOutOfRange {
                row: 2,
                num_classes: 3,
                ..
            }
        ),
        "{e}"
    );
    // A negative label.
    write_npy(
        dir.path().join("labels_test.npy"),
        &Array1::from(vec![0i64, -1, 1, 2]),
    )
    .unwrap();
    let e = Splits::load_npy_dir(dir.path(), None).unwrap_err();
    assert!(matches!(e, Error::LabelOutOfRange { row: 1, .. }), "{e}");
    // A fractional float label.
    write_npy(
        dir.path().join("labels_test.npy"),
        &Array1::from(vec![0.0f64, 1.5, 1.0, 2.0]),
    )
    .unwrap();
    let e = Splits::load_npy_dir(dir.path(), None).unwrap_err();
    assert!(matches!(e, Error::LabelOutOfRange { row: 1, .. }), "{e}");
}

#[test]
fn feature_counts_must_agree_across_splits() {
    let dir = tempfile::tempdir().unwrap();
    good_dir(dir.path());
    write_npy(
        dir.path().join("features_test.npy"),
        &Array2::<f32>::zeros((4, 5)),
    )
    .unwrap();
    let e = Splits::load_npy_dir(dir.path(), None).unwrap_err();
    assert!(
        matches!(
            e,
            Error::FeatureCountMismatch {
                expected: 3,
                actual: 5,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn missing_truncated_and_non_npy_files_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    good_dir(dir.path());
    std::fs::remove_file(dir.path().join("labels_val.npy")).unwrap();
    assert!(matches!(
        Splits::load_npy_dir(dir.path(), None).unwrap_err(),
        Error::Io { .. }
    ));
    good_dir(dir.path());
    let p = dir.path().join("features_train.npy");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 7]).unwrap();
    assert!(matches!(
        Splits::load_npy_dir(dir.path(), None).unwrap_err(),
        Error::Npy { .. }
    ));
    std::fs::write(&p, b"label,f1\n1,2\n").unwrap();
    assert!(matches!(
        Splits::load_npy_dir(dir.path(), None).unwrap_err(),
        Error::Npy { .. }
    ));
}

#[test]
fn csv_files_load_and_bad_lines_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, s: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, s).unwrap();
        p
    };
    let tr = w("train.csv", "label,a,b\n0,0.1,0.2\n1,0.3,0.4\n2,0.5,0.6\n");
    let va = w("val.csv", "1,0.0,1.0\n");
    let te = w("test.csv", "2,1.0,1.0\n0,0.0,0.0\n");
    let s = Splits::load_csv(&tr, &va, &te, None).unwrap();
    assert_eq!(
        (s.num_classes, s.num_features(), s.test.labels.clone()),
        (3, 2, vec![2, 0])
    );

    let bad = w("bad.csv", "0,0.1,0.2\n1,0.3\n");
    assert!(matches!(
        read_csv(&bad).unwrap_err(),
        Error::Csv { line: 2, .. }
    ));
    let bad = w("bad2.csv", "0,0.1,0.2\n1,x,0.3\n");
    let e = read_csv(&bad).unwrap_err();
    assert!(
        matches!(e, Error::Csv { line: 2, .. }) && e.to_string().contains("\"x\""),
        "{e}"
    );
    let nan = w("nan.csv", "0,0.1,NaN\n1,0.3,0.2\n");
    assert!(matches!(
        Splits::load_csv(&nan, &va, &te, None).unwrap_err(),
        Error::NonFinite { row: 0, col: 1, .. }
    ));
    let lab = w("lab.csv", "0,0.1,0.2\n7,0.3,0.2\n");
    assert!(matches!(
        Splits::load_csv(&lab, &va, &te, Some(3)).unwrap_err(),
        Error::LabelOutOfRange { row: 1, .. }
    ));
    let empty = w("empty.csv", "label,a\n");
    assert!(matches!(
        Splits::load_csv(&tr, &empty, &te, None).unwrap_err(),
        Error::Empty { .. }
    ));
}

#[test]
fn single_csv_is_split_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("all.csv");
    let mut s = String::new();
    for i in 0..100 {
        s.push_str(&format!(
            "{},{},{}\n",
            i % 2,
            i as f64 / 100.0,
            (i % 7) as f64
        ));
    }
    std::fs::write(&p, s).unwrap();
    let a = Splits::load_csv_single(&p, None, 3).unwrap();
    assert_eq!((a.train.len(), a.val.len(), a.test.len()), (70, 10, 20));
    assert_eq!(a, Splits::load_csv_single(&p, None, 3).unwrap());
}

#[test]
fn dataset_validation_checks_directly() {
    let e = Dataset::from_raw("x", Array2::zeros((2, 2)), &[0.0, 1.0, 1.0], 2).unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { .. }));
    let e = Dataset::from_raw("x", Array2::zeros((0, 2)), &[], 2).unwrap_err();
    assert!(matches!(e, Error::Empty { .. }));
}
