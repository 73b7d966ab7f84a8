//! The two-process flow (`hetal client ...` / `hetal server ...`) runs any training method, not
//! only HETAL's: HE.CNNtraining's on the mock and on the small insecure CKKS preset, each equal
//! to the single-process `hetal train` of the same method.

mod common;

use common::ok;
use std::path::Path;

fn test_accuracy(report: &str) -> f64 {
    report
        .lines()
        .find_map(|l| l.strip_prefix("test accuracy:"))
        .and_then(|l| l.trim().trim_end_matches('%').trim().parse().ok())
        .unwrap_or_else(|| panic!("no test accuracy in\n{report}"))
}

fn run(dir: &Path, sub: &[&str], extra: &[&str]) -> String {
    let d = dir.display().to_string();
    let mut v: Vec<&str> = sub.to_vec();
    v.extend(["--dir", d.as_str()]);
    v.extend_from_slice(extra);
    ok(&v)
}

/// Keygen, encrypt, then server epochs and client decisions until the model is written;
/// returns the decrypted model's test accuracy.
fn two_processes(args: &[&str]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    // The exchange directory; the client's private one defaults to `ex.client` beside it.
    let ex = dir.path().join("ex");
    let d = ex.as_path();
    run(d, &["client", "keygen"], args);
    run(d, &["client", "encrypt"], &[]);
    let mut rounds = 0;
    loop {
        let s = run(d, &["server", "train", "--quiet"], &[]);
        if d.join("model.msg").exists() {
            assert!(s.contains("training finished"), "{s}");
            break;
        }
        run(d, &["client", "evaluate"], &[]);
        rounds += 1;
        assert!(rounds <= 3, "more rounds than epochs");
    }
    let report = run(d, &["client", "decrypt"], &[]);
    test_accuracy(&report)
}

#[test]
fn cnntraining_runs_in_two_processes_on_the_mock() {
    let args = [
        "--backend",
        "mock",
        "--method",
        "cnntraining",
        "--limit-train",
        "256",
        "--limit-val",
        "60",
        "--limit-test",
        "120",
        "--slots",
        "1024",
        "--batch",
        "64",
        "--epochs",
        "2",
    ];
    let two = two_processes(&args);
    let single = ok(&[&["train", "--quiet"][..], &args].concat());
    assert_eq!(test_accuracy(&single), two, "{single}");
    assert!(two > 50.0, "{single}");
}

#[test]
fn cnntraining_runs_in_two_processes_on_ckks() {
    let args = [
        "--backend",
        "ckks",
        "--preset",
        "insecure-boot-n12-l9",
        "--key-seed",
        "5",
        "--method",
        "cnntraining",
        "--limit-train",
        "128",
        "--limit-val",
        "40",
        "--limit-test",
        "60",
        "--epochs",
        "1",
        "--patience",
        "0",
    ];
    let two = two_processes(&args);
    let single = ok(&[&["train", "--quiet", "--no-reference"][..], &args].concat());
    // CKKS noise may flip at most a prediction whose two largest logits nearly tie.
    let one_sample = 100.0 / 60.0 + 1e-9;
    assert!(
        (test_accuracy(&single) - two).abs() <= one_sample,
        "{single}\n two-process: {two}"
    );
}
