//! The `hetal` CLI's training commands as separate processes: on the mock backend, and on CKKS
//! with bootstrapping at the insecure test preset.

mod common;

use common::{hetal, ok};
use std::path::Path;
use std::process::Command;

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
];

fn test_accuracy(report: &str) -> f64 {
    let line = report
        .lines()
        .find(|l| l.starts_with("test accuracy:"))
        .expect("a test accuracy line");
    line.trim_start_matches("test accuracy:")
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .expect("a number")
}

fn with(dir: &Path, sub: &[&str], extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = sub.iter().map(|s| s.to_string()).collect();
    v.push("--dir".into());
    v.push(dir.display().to_string());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn ok_v(v: &[String]) -> String {
    ok(&v.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn two_processes_through_files_match_the_single_process_run() {
    let dir = tempfile::tempdir().unwrap();
    // The client's private directory is the sibling `ex.client`, inside the temporary directory.
    let ex = dir.path().join("ex");
    let d = ex.as_path();
    ok_v(&with(d, &["client", "keygen"], SMALL));
    ok_v(&with(d, &["client", "encrypt"], &[]));
    // The server exits after each epoch (no --wait); the client answers; the server resumes.
    let mut rounds = 0;
    while !d.join("model.msg").exists() {
        let s = ok_v(&with(d, &["server", "train", "--quiet"], &[]));
        if d.join("model.msg").exists() {
            assert!(s.contains("training finished"), "{s}");
            break;
        }
        assert!(s.contains("waiting for the client's decision"), "{s}");
        let c = ok_v(&with(d, &["client", "evaluate"], &[]));
        assert!(c.contains(&format!("epoch {}:", rounds + 1)), "{c}");
        if rounds == 0 {
            // The client is interrupted after saving its state but before the decision lands.
            std::fs::remove_file(d.join("epoch-0.decision")).unwrap();
            let c = ok_v(&with(d, &["client", "evaluate"], &[]));
            assert!(c.contains("written again"), "{c}");
            assert!(d.join("epoch-0.decision").exists());
        }
        rounds += 1;
        assert!(rounds <= 2, "more rounds than epochs");
    }
    assert_eq!(rounds, 2);
    let report = ok_v(&with(
        d,
        &["client", "decrypt"],
        &["--svg", &d.join("loss.svg").display().to_string()],
    ));
    let two = test_accuracy(&report);
    assert!(report.contains("weighted avg"));
    assert!(
        std::fs::read_to_string(d.join("loss.svg"))
            .unwrap()
            .contains("<polyline")
    );
    assert!(dir.path().join("ex.client").join("model.json").exists());
    assert!(!d.join("client").exists());

    // Encrypted inference through files: same accuracy as the decrypted model's.
    ok_v(&with(d, &["client", "infer-request"], &[]));
    ok_v(&with(d, &["server", "infer"], &[]));
    let inferred = ok_v(&with(d, &["client", "infer-result"], &[]));
    let line = inferred
        .lines()
        .find(|l| l.starts_with("encrypted inference: test accuracy"))
        .expect("an accuracy line");
    let acc: f64 = line.rsplit(' ').nth(1).unwrap().parse().unwrap();
    assert_eq!(acc, two, "{inferred}");

    // The single-process run on the same data and keys gives the same model, hence accuracy.
    let mut args = vec!["train", "--quiet"];
    args.extend_from_slice(SMALL);
    let single = ok(&args);
    assert_eq!(test_accuracy(&single), two, "{single}\n{report}");
    assert!(two > 70.0, "{report}");
    assert!(single.contains("plaintext reference, exact softmax"));
}

#[test]
fn server_and_client_run_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path().join("ex");
    let d = ex.as_path();
    ok_v(&with(
        d,
        &["client", "keygen"],
        &[SMALL, &["--optimizer", "sgd", "--lr", "2"]].concat(),
    ));
    ok_v(&with(d, &["client", "encrypt"], &[]));
    // The server waits for each decision; the client watches for each result.
    let server = Command::new(env!("CARGO_BIN_EXE_hetal"))
        .args(with(
            d,
            &[
                "server",
                "train",
                "--wait",
                "--quiet",
                "--timeout-secs",
                "120",
            ],
            &[],
        ))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = ok_v(&with(
        d,
        &["client", "evaluate", "--watch", "--timeout-secs", "120"],
        &[],
    ));
    let server = server.wait_with_output().unwrap();
    assert!(
        server.status.success(),
        "{}",
        String::from_utf8_lossy(&server.stderr)
    );
    assert!(String::from_utf8_lossy(&server.stdout).contains("training finished after 2 epochs"));
    assert!(
        client.contains("epoch 1:") && client.contains("epoch 2:"),
        "{client}"
    );
    assert!(test_accuracy(&ok_v(&with(d, &["client", "decrypt"], &[]))) > 60.0);
}

#[test]
fn bad_inputs_fail_with_a_message() {
    let out = hetal(&["train", "--data", "/nonexistent/data", "--quiet"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/data"));

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "0,0.5,0.5\n1,0.1,NaN\n").unwrap();
    let out = hetal(&["train", "--data", &csv.display().to_string(), "--quiet"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("non-finite"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = hetal(&["train", "--backend", "tfhe", "--quiet"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown backend"));
    let out = hetal(&["train", "--backend", "ckks", "--slots", "1024", "--quiet"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("for the mock"));
    let out = hetal(&["train", "--preset", "boot-n99", "--quiet"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown CKKS preset"));

    // A decision file that is not a decision.
    let d = dir.path().join("x");
    ok_v(&with(&d, &["client", "keygen"], SMALL));
    ok_v(&with(&d, &["client", "encrypt"], &[]));
    ok_v(&with(&d, &["server", "train", "--quiet"], &[]));
    std::fs::copy(d.join("plan.msg"), d.join("epoch-0.decision")).unwrap();
    let out = hetal(
        &with(&d, &["server", "train", "--quiet"], &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not \"decision\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn train_resumes_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck").display().to_string();
    let base: Vec<&str> = [
        &["train", "--quiet", "--no-reference"],
        SMALL,
        &["--patience", "0"],
    ]
    .concat();
    let whole = test_accuracy(&ok(&base));
    let first = ok(&[
        base.as_slice(),
        &["--checkpoint-dir", &ck, "--stop-after-epochs", "1"],
    ]
    .concat());
    assert!(first.contains("stopped after epoch 1"), "{first}");
    let rest = ok(&[base.as_slice(), &["--checkpoint-dir", &ck]].concat());
    assert!(rest.contains("resuming after epoch 1"), "{rest}");
    assert!(
        rest.lines()
            .any(|l| l.starts_with("best epoch:") && l.ends_with("of 2")),
        "{rest}"
    );
    assert_eq!(test_accuracy(&rest), whole);
}

#[test]
fn help_and_preset_chains() {
    for sub in [
        &["train"][..],
        &["client", "keygen"],
        &["client", "evaluate"],
        &["server", "train"],
        &["server", "infer"],
    ] {
        let help = ok(&[sub, &["--help"]].concat());
        assert!(help.contains("Usage: hetal"), "{help}");
    }
    let out = hetal(&[
        "train",
        "--quiet",
        "--backend",
        "mock",
        "--chain",
        "NO_SUCH_PRESET",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NO_SUCH_PRESET"));
    // The mock with a real preset's primes trains to the same model as the ideal chain.
    let base: Vec<&str> = [&["train", "--quiet", "--no-reference"], SMALL].concat();
    let ideal = test_accuracy(&ok(&base));
    let real = test_accuracy(&ok(&[base.as_slice(), &["--chain", "N16_L12"]].concat()));
    assert_eq!(ideal, real);
    // --stop-after-epochs needs a checkpoint directory.
    assert!(
        !hetal(&[base.as_slice(), &["--stop-after-epochs", "1"]].concat())
            .status
            .success()
    );
}

/// CKKS at the insecure N = 2^12 preset with bootstrapping (9 levels after each bootstrap), with
/// the cheap Gumbel softmax to keep the test short: the two-process flow through files gives the
/// same model as the single-process run, which equals the same training on the mock.
#[test]
fn ckks_two_processes_match_the_single_process_run_and_the_mock() {
    const CKKS: &[&str] = &[
        "--backend",
        "ckks",
        "--preset",
        "insecure-boot-n12-l9",
        "--key-seed",
        "5",
        "--limit-train",
        "128",
        "--limit-val",
        "40",
        "--limit-test",
        "60",
        "--epochs",
        "2",
        "--patience",
        "0",
        "--softmax",
        "gumbel",
    ];
    let single = ok(&[&["train", "--quiet", "--no-reference"], CKKS].concat());
    let single_acc = test_accuracy(&single);
    // CKKS noise may flip at most a prediction whose two largest logits are within ~1e-5.
    let one_sample = 100.0 / 60.0 + 1e-9;
    let vs_mock: f64 = single
        .lines()
        .find_map(|l| l.strip_prefix("CKKS - mock (same training): "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no comparison with the mock in\n{single}"));
    assert!(vs_mock.abs() <= one_sample, "{single}");
    assert!(single.contains("estimated CKKS training time"), "{single}");

    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path().join("ex");
    let d = ex.as_path();
    ok_v(&with(d, &["client", "keygen"], CKKS));
    ok_v(&with(d, &["client", "encrypt"], &[]));
    for _ in 0..2 {
        ok_v(&with(d, &["server", "train", "--quiet"], &[]));
        ok_v(&with(d, &["client", "evaluate"], &[]));
    }
    ok_v(&with(d, &["server", "train", "--quiet"], &[]));
    let report = ok_v(&with(d, &["client", "decrypt"], &[]));
    assert!(
        (test_accuracy(&report) - single_acc).abs() <= one_sample,
        "{report}\n{single}"
    );
    assert!(single_acc > 30.0, "{single}");
    ok_v(&with(d, &["client", "infer-request"], &[]));
    ok_v(&with(d, &["server", "infer"], &[]));
    let inferred = ok_v(&with(d, &["client", "infer-result"], &[]));
    assert!(inferred.contains("encrypted inference"), "{inferred}");
    // The secret key stays with the client, readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("ex.client").join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "secret key mode {mode:o}");
    }
}
