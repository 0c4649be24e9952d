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

/// Runs `kleene ARGS` in `dir`; returns the output and its stderr as text.
pub fn kleene_in(dir: &std::path::Path, args: &[&str]) -> (std::process::Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kleene"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run kleene");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
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
