//! `kleene train` with a bad `[model]`: the error names the file, the field and (for what
//! the file wrote) its line, and comes before the training banner and before anything is
//! written: the run directory is never created.

use std::process::Command;

/// `[model]` on line 4, `kind` on 5, `d_model` on 6, `n_layers` on 7.
const CONFIG: &str = "[task]\nname = \"tomita-2\"\n\n[model]\nkind = \"mamba\"\nd_model = 8\nn_layers = 1\n\n[training]\nsteps = 2\nbatch_size = 4\n";

/// Runs `kleene train` on `CONFIG` edited by `from -> to`; returns stderr after checking that
/// it failed without a banner and without creating the run directory.
fn train_fails(from: &str, to: &str) -> String {
    assert!(CONFIG.contains(from), "{from}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, CONFIG.replace(from, to)).unwrap();
    let run_dir = dir.path().join("run");
    let out = Command::new(env!("CARGO_BIN_EXE_kleene"))
        .arg("train")
        .arg(&config)
        .arg("--out-dir")
        .arg(&run_dir)
        .arg("--quiet")
        .output()
        .expect("run kleene");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "{to}: kleene train succeeded:\n{stderr}"
    );
    assert!(
        !stderr.contains("training `"),
        "{to}: banner before the error:\n{stderr}"
    );
    assert!(!run_dir.exists(), "{to}: the run directory was created");
    assert!(stderr.contains("bad.toml"), "{to}: no file name:\n{stderr}");
    stderr
}

#[test]
fn bad_model_fields_are_reported_with_their_line_before_anything_is_written() {
    for (from, to, field, line) in [
        (
            "d_model = 8",
            "d_modle = 8",
            "model.d_modle",
            "line 6, column 1",
        ),
        (
            "d_model = 8",
            "d_model = \"8\"",
            "model.d_model",
            "line 6, column 11",
        ),
        (
            "kind = \"mamba\"",
            "kind = \"mambo\"",
            "model.kind",
            "line 5, column 8",
        ),
        (
            "d_model = 8",
            "d_model = 0",
            "model.d_model",
            "line 6, column 11",
        ),
    ] {
        let stderr = train_fails(from, to);
        assert!(
            stderr.contains(field),
            "{to}: no field `{field}`:\n{stderr}"
        );
        assert!(stderr.contains(line), "{to}: not at {line}:\n{stderr}");
    }
}

#[test]
fn a_model_that_does_not_fit_the_task_is_refused_before_the_banner() {
    // Without a head Mamba outputs its d_model = 1 features: fewer than Tomita-2's classes.
    let stderr = train_fails("d_model = 8", "d_model = 1\nhead = false");
    assert!(stderr.contains("model.head"), "{stderr}");
}
