//! `hetal train --method cnntraining` and `hetal compare` on the mock backend.

mod common;

use common::{hetal, ok};

const SMALL: &[&str] = &[
    "--backend",
    "mock",
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
    "--quiet",
];

fn fails(args: &[&str], needle: &str) {
    let out = hetal(args);
    let se = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "hetal {args:?} should fail");
    assert!(
        se.contains(needle),
        "hetal {args:?}: expected {needle:?} in the error, got {se}"
    );
}

fn line_value(report: &str, prefix: &str) -> f64 {
    let line = report
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in\n{report}"));
    line.trim_start_matches(prefix)
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .expect("a number")
}

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["train"];
    v.extend_from_slice(SMALL);
    v.extend_from_slice(extra);
    v
}

#[test]
fn train_cnntraining_learns_and_resumes() {
    let out = ok(&args(&["--method", "cnntraining"]));
    assert!(out.contains("method sigmoid-cubic/nag-qg/volley-revolver"));
    assert!(out.contains("squared-likelihood loss"));
    let acc = line_value(&out, "test accuracy:");
    assert!(acc > 60.0, "test accuracy {acc} %");
    assert!(out.contains("max |weight difference|"));

    // Interrupted after one epoch and resumed: the same model as the uninterrupted run.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let first = ok(&args(&[
        "--method",
        "cnntraining",
        "--checkpoint-dir",
        d,
        "--stop-after-epochs",
        "1",
    ]));
    assert!(first.contains("stopped after epoch 1 as asked"), "{first}");
    let resumed = ok(&args(&["--method", "cnntraining", "--checkpoint-dir", d]));
    assert_eq!(line_value(&resumed, "test accuracy:"), acc);
}

#[test]
fn train_method_mixes_run() {
    let out = ok(&args(&[
        "--method",
        "cnntraining",
        "--activation",
        "sigmoid-cheb:16:7",
        "--optimizer",
        "nesterov",
        "--layout",
        "diag",
        "--no-reference",
    ]));
    assert!(out.contains("method sigmoid-cheb:16:7/nesterov/diag"));
    assert!(line_value(&out, "test accuracy:") > 60.0);
}

#[test]
fn bad_method_flags_are_errors() {
    fails(&args(&["--method", "adaboost"]), "unknown --method");
    fails(
        &args(&["--method", "cnntraining", "--activation", "tanh"]),
        "activation \"tanh\"",
    );
    fails(
        &args(&[
            "--method",
            "cnntraining",
            "--activation",
            "sigmoid-cheb:16:8",
        ]),
        "DEGREE odd",
    );
    fails(
        &args(&["--method", "cnntraining", "--layout", "spiral"]),
        "unknown layout",
    );
    fails(
        &args(&["--method", "cnntraining", "--optimizer", "adam"]),
        "unknown optimiser",
    );
    fails(
        &args(&["--activation", "sigmoid-cubic"]),
        "--method cnntraining",
    );
    fails(&args(&["--optimizer", "nag-qg"]), "--method cnntraining");
    fails(
        &["train", "--method", "cnntraining", "--backend", "quantum"],
        "backend \"quantum\"",
    );
    fails(
        &["compare", "--limit-train", "64", "--activation", "softmax"],
        "must be a sigmoid",
    );
    fails(
        &["compare", "--limit-train", "64", "--target", "1.5"],
        "--target",
    );
}

#[test]
fn compare_prints_the_three_methods() {
    let out = ok(&[
        "compare",
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
        "--quiet",
    ]);
    for needle in [
        "HETAL",
        "Chiang NAG",
        "Chiang NAG+QG",
        "softmax/nesterov/diag",
        "sigmoid-cubic/nag-qg/volley-revolver",
        "epoch 2",
        "time per step (s)",
        "Rot / step",
    ] {
        assert!(out.contains(needle), "{needle:?} missing in\n{out}");
    }
    assert!(
        out.contains("converges fastest") || out.contains("no method reaches"),
        "{out}"
    );
}
