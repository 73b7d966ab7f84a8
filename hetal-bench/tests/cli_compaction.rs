//! `--compaction` on the CLI: the plan reports the decision, the two-process commands run a
//! compacting plan, and compaction changes no result on the mock.

mod common;

use common::{hetal, ok};

const SMALL: &[&str] = &[
    "--backend",
    "mock",
    "--limit-train",
    "192",
    "--limit-val",
    "60",
    "--limit-test",
    "120",
    "--slots",
    "2048",
    "--batch",
    "64",
    "--epochs",
    "2",
];

fn train(mode: &str) -> String {
    let mut a = vec!["train", "--quiet", "--compaction", mode];
    a.extend_from_slice(SMALL);
    ok(&a)
}

/// The report without the lines that carry timings or the compaction decision itself.
fn results(report: &str) -> Vec<&str> {
    report
        .lines()
        .filter(|l| {
            l.starts_with("test accuracy")
                || l.starts_with("encrypted inference")
                    && l.contains("predictions equal")
                    && !l.contains(" s)")
                || l.contains("max |weight difference|")
        })
        .collect()
}

#[test]
fn compaction_is_reported_and_changes_no_result() {
    let on = train("on");
    let off = train("off");
    let auto = train("auto");
    // Digits (16 padded classes) at batch 64 on 2048 slots: unit shape (64, 32).
    assert!(
        on.contains("compaction on (1 block(s) -> 1 ciphertext(s) of period 1024"),
        "{on}"
    );
    assert!(off.contains("compaction off"), "{off}");
    // No backend of this build has sparse bootstrapping: auto keeps one block per step as is.
    assert!(auto.contains("compaction off"), "{auto}");
    let (r_on, r_off) = (results(&on), results(&off));
    assert!(r_on.iter().any(|l| l.starts_with("test accuracy")), "{on}");
    assert_eq!(r_on, r_off, "{on}\n{off}");
    let out = hetal(&["train", "--compaction", "sometimes", "--backend", "mock"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown compaction"));
}

#[test]
fn two_processes_run_a_compacting_plan() {
    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path().join("ex");
    let d = ex.display().to_string();
    let mut keygen = vec!["client", "keygen", "--dir", &d, "--compaction", "on"];
    keygen.extend_from_slice(SMALL);
    let k = ok(&keygen);
    assert!(k.contains("compaction on"), "{k}");
    ok(&["client", "encrypt", "--dir", &d]);
    let mut rounds = 0;
    while !ex.join("model.msg").exists() {
        ok(&["server", "train", "--quiet", "--dir", &d]);
        if ex.join("model.msg").exists() {
            break;
        }
        ok(&["client", "evaluate", "--dir", &d]);
        rounds += 1;
        assert!(rounds <= 2, "more rounds than epochs");
    }
    let report = ok(&["client", "decrypt", "--dir", &d]);
    let acc = report
        .lines()
        .find(|l| l.starts_with("test accuracy:"))
        .expect("a test accuracy line")
        .to_string();
    let single = train("on");
    assert!(single.lines().any(|l| l == acc), "{acc}\n{single}");
}

/// One step on the small insecure CKKS preset at batch 64 (unit shape (64, 32), 16 of 32 columns
/// meaningful), with the `auto` decision of the CKKS path.
fn ckks_auto(extra: &[&str]) -> std::process::Output {
    let mut a = vec![
        "train",
        "--quiet",
        "--backend",
        "ckks",
        "--preset",
        "insecure-boot-n12-l9",
        "--key-seed",
        "3",
        "--threads",
        "1",
        "--limit-train",
        "64",
        "--limit-val",
        "32",
        "--limit-test",
        "32",
        "--batch",
        "64",
        "--epochs",
        "1",
        "--patience",
        "0",
        "--no-reference",
    ];
    a.extend_from_slice(extra);
    hetal(&a)
}

#[test]
fn ckks_auto_compacts_with_sparse_bootstraps_when_their_keys_fit_the_budget() {
    let out = ckks_auto(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("compaction: auto: sparse bootstraps of the compacted logits"),
        "{stdout}"
    );
    assert!(
        stdout.contains("compaction on (1 block(s) -> 1 ciphertext(s) of period 1024"),
        "{stdout}"
    );
    // Every refresh inside the softmax ran the sparse circuit.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("bootstraps, all"))
        .unwrap_or_else(|| panic!("no bootstrap line in {stdout}"));
    assert!(line.contains("sparse pair bootstraps"), "{line}");
}

#[test]
fn ckks_auto_leaves_compaction_off_when_the_sparse_keys_exceed_the_budget() {
    // A budget no key set fits: auto refuses the larger key set, and key generation then
    // refuses the smaller one with an error (no panic, nothing generated).
    let out = ckks_auto(&["--memory-budget-gib", "0.001"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("exceeds the budget of 0.00 GiB"),
        "{stdout}"
    );
    assert!(stdout.contains("compaction off"), "{stdout}");
    assert!(stderr.contains("budget"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Bad budgets are refused by the argument parser.
    for bad in ["0", "-1", "nan", "inf", "lots"] {
        let arg = format!("--memory-budget-gib={bad}");
        let out = ckks_auto(&[arg.as_str()]);
        assert!(!out.status.success(), "--memory-budget-gib {bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("memory-budget-gib"),
            "--memory-budget-gib {bad}"
        );
    }
}
