//! Running the `kleene` binary from the CLI tests.
#![allow(dead_code)]

use std::process::Command;

/// Runs `kleene ARGS`.
pub fn kleene(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kleene"))
        .args(args)
        .output()
        .expect("run kleene")
}

/// Runs `kleene ARGS`, asserts success, returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = kleene(args);
    assert!(
        out.status.success(),
        "kleene {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
