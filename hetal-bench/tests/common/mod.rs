//! Helpers shared by the CLI tests: run the `hetal` binary and check its exit status.

use std::process::{Command, Output};

/// Runs `hetal` with `args`.
pub fn hetal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hetal"))
        .args(args)
        .output()
        .expect("run hetal")
}

/// Runs `hetal` with `args`, asserts success and returns its standard output.
pub fn ok(args: &[&str]) -> String {
    let out = hetal(args);
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "hetal {args:?} failed:\n{so}\n{se}");
    so.into_owned()
}
