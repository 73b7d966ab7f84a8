//! Issue 16 through the `hetal` binary: hostile files from the server, misuse of the commands,
//! closed output pipes. Each test names the issue's case. An error is a message and exit
//! status 1 or 2 (clap), never a panic (101) or an abort.

mod common;

use common::{hetal, ok};
use hetal_nn::protocol::{EncMatrix, EncryptedModel, EpochResult, read_message, read_tagged};
use hetal_nn::protocol::{write_message, write_tagged};
use hetal_traits::mock::MockCiphertext;
use std::path::Path;
use std::process::{Command, Stdio};

const SMALL: &[&str] = &[
    "--backend",
    "mock",
    "--limit-train",
    "128",
    "--limit-val",
    "40",
    "--limit-test",
    "60",
    "--slots",
    "1024",
    "--batch",
    "64",
    "--epochs",
    "2",
];

fn args<'a>(dir: &'a str, sub: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    [sub, &["--dir", dir], extra].concat()
}

/// Runs and expects a clean failure whose standard error contains `needle`.
fn fails(a: &[&str], needle: &str) -> String {
    let out = hetal(a);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code();
    assert!(
        matches!(code, Some(1) | Some(2)),
        "hetal {a:?}: status {:?} (a panic or a signal?)\n{err}",
        out.status
    );
    assert!(
        err.contains(needle),
        "hetal {a:?}: {needle:?} not in\n{err}"
    );
    err
}

/// A session through one epoch: keygen, encrypt, one server epoch.
fn session(ex: &str) {
    ok(&args(ex, &["client", "keygen"], SMALL));
    ok(&args(ex, &["client", "encrypt"], &[]));
    ok(&args(ex, &["server", "train", "--quiet"], &[]));
}

/// Cases 1 and 10: hostile result, model and inference files make the client fail cleanly.
#[test]
fn case1_hostile_files_from_the_server_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("ex");
    let ex = exp.to_str().unwrap();
    session(ex);
    let rp = exp.join("epoch-0.result");
    let good: EpochResult<MockCiphertext> = read_message(&rp).unwrap();
    let mut bad = good.clone();
    bad.val_logits.unit.1 = 1 << 62;
    write_message(&rp, &bad).unwrap();
    fails(&args(ex, &["client", "evaluate"], &[]), "unit shape");
    let mut bad = good.clone();
    bad.val_logits.unit = (good.val_logits.unit.0 * 2, good.val_logits.unit.1 / 2);
    write_message(&rp, &bad).unwrap();
    fails(&args(ex, &["client", "evaluate"], &[]), "unit shape");
    // A flipped bit: storage corruption is an error.
    write_message(&rp, &good).unwrap();
    let mut b = std::fs::read(&rp).unwrap();
    let i = b.len() / 2;
    b[i] ^= 4;
    std::fs::write(&rp, &b).unwrap();
    fails(&args(ex, &["client", "evaluate"], &[]), "checksum");
    write_message(&rp, &good).unwrap();
    ok(&args(ex, &["client", "evaluate"], &[]));
    ok(&args(ex, &["server", "train", "--quiet"], &[]));
    ok(&args(ex, &["client", "evaluate"], &[]));
    ok(&args(ex, &["server", "train", "--quiet"], &[]));

    let mp = exp.join("model.msg");
    let model: EncryptedModel<MockCiphertext> = read_message(&mp).unwrap();
    let mut bad = model.clone();
    bad.epoch = 4611686018427387904;
    write_message(&mp, &bad).unwrap();
    fails(&args(ex, &["client", "decrypt"], &[]), "epoch");
    write_message(&mp, &model).unwrap();
    ok(&args(ex, &["client", "decrypt"], &[]));

    ok(&args(ex, &["client", "infer-request"], &[]));
    ok(&args(ex, &["server", "infer"], &[]));
    let lp = exp.join("infer-logits.msg");
    let z: EncMatrix<MockCiphertext> = read_tagged(&lp, "inference-logits").unwrap();
    let mut bad = z.clone();
    bad.unit.1 = 1 << 62;
    write_tagged(&lp, "inference-logits", &bad).unwrap();
    fails(&args(ex, &["client", "infer-result"], &[]), "unit shape");
    let mut bad = z.clone();
    bad.rows -= 1;
    write_tagged(&lp, "inference-logits", &bad).unwrap();
    fails(
        &args(ex, &["client", "infer-result"], &[]),
        "inference logits",
    );
}

/// Cases 2 and 8: the secret key, the plan and the decrypted model live in the private
/// directory (0700, files 0600); the client never reads the exchange directory's plan.
#[test]
fn case2_and_8_the_client_keeps_its_own_plan_and_secrets_private() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("ex");
    let ex = exp.to_str().unwrap();
    session(ex);
    let private = dir.path().join("ex.client");
    assert!(private.join("secret.key").exists());
    assert!(!exp.join("client").exists());
    // A lying plan in the exchange directory changes nothing for the client.
    std::fs::write(exp.join("plan.msg"), b"garbage").unwrap();
    ok(&args(ex, &["client", "evaluate"], &[]));
    ok(&args(ex, &["server", "train", "--quiet"], &[]));
    ok(&args(ex, &["client", "evaluate"], &[]));
    ok(&args(ex, &["server", "train", "--quiet"], &[]));
    ok(&args(ex, &["client", "decrypt"], &[]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&private), 0o700);
        for f in ["secret.key", "plan.msg", "state", "model.json", "data.json"] {
            assert_eq!(mode(&private.join(f)), 0o600, "{f}");
        }
    }
    // A client directory inside the exchange directory is refused.
    let inside = exp.join("mine");
    fails(
        &args(
            ex,
            &["client", "keygen"],
            &[&["--client-dir", inside.to_str().unwrap()], SMALL].concat(),
        ),
        "inside the exchange directory",
    );
    // An explicit --client-dir works, and is needed by every command.
    let other = dir.path().join("ex2");
    let mine = dir.path().join("keys-elsewhere");
    let (o, m) = (other.to_str().unwrap(), mine.to_str().unwrap());
    ok(&args(
        o,
        &["client", "keygen"],
        &[&["--client-dir", m], SMALL].concat(),
    ));
    assert!(mine.join("secret.key").exists());
    fails(&args(o, &["client", "encrypt"], &[]), "no client session");
    ok(&args(o, &["client", "encrypt"], &["--client-dir", m]));
}

/// Case 7: keygen refuses to overwrite a session, and says what it would destroy; --force
/// deletes it. Case 10: the server then refuses the old session's checkpoint.
#[test]
fn case7_keygen_refuses_to_overwrite_and_case10_foreign_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("ex");
    let ex = exp.to_str().unwrap();
    session(ex);
    let ckpt = exp.join("server").join("server.ckpt");
    let old_ckpt = std::fs::read(&ckpt).unwrap();
    let key_before = std::fs::read(dir.path().join("ex.client").join("secret.key")).unwrap();
    let err = fails(&args(ex, &["client", "keygen"], SMALL), "--force");
    assert!(
        err.contains("secret.key") && err.contains("server.ckpt"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("ex.client").join("secret.key")).unwrap(),
        key_before
    );
    ok(&args(
        ex,
        &["client", "keygen"],
        &[SMALL, &["--force", "--key-seed", "8"]].concat(),
    ));
    assert!(!ckpt.exists() && !exp.join("epoch-0.result").exists());
    ok(&args(ex, &["client", "encrypt"], &[]));
    std::fs::write(&ckpt, &old_ckpt).unwrap();
    fails(
        &args(ex, &["server", "train", "--quiet"], &[]),
        "other evaluation keys",
    );
}

/// Case 10: one server per directory; a misspelled key in backend.json is an error.
#[test]
fn case10_one_server_per_directory_and_strict_backend_json() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("ex");
    let ex = exp.to_str().unwrap();
    ok(&args(ex, &["client", "keygen"], SMALL));
    ok(&args(ex, &["client", "encrypt"], &[]));
    let mut first = Command::new(env!("CARGO_BIN_EXE_hetal"))
        .args(args(
            ex,
            &[
                "server",
                "train",
                "--quiet",
                "--wait",
                "--timeout-secs",
                "60",
            ],
            &[],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while !exp.join("epoch-0.result").exists() && t.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    fails(
        &args(ex, &["server", "train", "--quiet"], &[]),
        "already running",
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let bp = exp.join("backend.json");
    std::fs::write(
        &bp,
        r#"{"backend": "Ckks", "presett": "insecure-boot-n12-l9"}"#,
    )
    .unwrap();
    fails(
        &args(ex, &["server", "train", "--quiet"], &[]),
        "unknown field",
    );
}

/// Cases 4, 5 and 10: size arguments have limits and clear errors.
#[test]
fn case5_size_arguments_have_limits() {
    let t = std::time::Instant::now();
    fails(
        &[
            "train",
            "--quiet",
            "--backend",
            "mock",
            "--data",
            "synthetic:100:2:1000000000000",
        ],
        "limit",
    );
    fails(
        &[
            "train",
            "--quiet",
            "--backend",
            "mock",
            "--slots",
            "4611686018427387904",
        ],
        "--slots",
    );
    fails(
        &[
            "train",
            "--quiet",
            "--backend",
            "mock",
            "--slots",
            "1073741824",
        ],
        "--slots",
    );
    fails(&["train", "--quiet", "--threads", "100000"], "--threads");
    fails(
        &[
            "train",
            "--quiet",
            "--backend",
            "mock",
            "--classes",
            "1000000000",
        ],
        "limit",
    );
    fails(
        &["train", "--quiet", "--backend", "mock", "--classes", "5"],
        "not a class index",
    );
    fails(
        &[
            "train",
            "--quiet",
            "--backend",
            "mock",
            "--bootstrap-bound",
            "nan",
        ],
        "--bootstrap-bound",
    );
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("big.csv");
    let mut text: String = (0..30).map(|i| format!("{},0.{i}\n", i % 2)).collect();
    text.push_str("1e12,0.5\n");
    std::fs::write(&csv, text).unwrap();
    fails(
        &[
            "train",
            "--quiet",
            "--backend",
            "mock",
            "--data",
            csv.to_str().unwrap(),
        ],
        "limit",
    );
    assert!(t.elapsed().as_secs() < 60, "no hang");
}

/// Case 9: a closed output pipe neither panics nor loses the decrypted model or the report.
#[test]
fn case9_closed_pipes_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("ex");
    let ex = exp.to_str().unwrap();
    session(ex);
    ok(&args(ex, &["client", "evaluate"], &[]));
    ok(&args(ex, &["server", "train", "--quiet"], &[]));
    ok(&args(ex, &["client", "evaluate"], &[]));
    ok(&args(ex, &["server", "train", "--quiet"], &[]));
    let closed = |a: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hetal"))
            .args(a)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away at once, like `| head -0`
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{a:?}: {:?}\n{err}", out.status);
        assert!(!err.contains("panicked"), "{err}");
    };
    closed(&args(ex, &["client", "decrypt"], &[]));
    assert!(dir.path().join("ex.client").join("model.json").exists());
    let json = dir.path().join("train.json");
    closed(
        &[
            &["train", "--no-reference", "--json", json.to_str().unwrap()],
            SMALL,
        ]
        .concat(),
    );
    assert!(
        std::fs::read_to_string(&json)
            .unwrap()
            .contains("test_accuracy")
    );
}
