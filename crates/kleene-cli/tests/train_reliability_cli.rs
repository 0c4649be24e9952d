//! `kleene train` under bad input that used to panic (issue 17): a zero or inverted training
//! window is a config error naming the field, reported before the banner and before anything
//! is written.

use std::path::Path;
use std::process::{Command, Output};

const CONFIG: &str = "[task]\nname = \"tomita-2\"\n\n[model]\nkind = \"mamba\"\nd_model = 8\nn_layers = 1\n\n[training]\nsteps = 2\nbatch_size = 4\n";

fn kleene_train(cwd: &Path, config: &Path, out_dir: Option<&str>) -> (Output, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kleene"));
    cmd.current_dir(cwd).arg("train").arg(config).arg("--quiet");
    if let Some(d) = out_dir {
        cmd.arg("--out-dir").arg(d);
    }
    let out = cmd.output().expect("run kleene");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
}

#[test]
fn a_zero_or_inverted_training_window_is_a_config_error_before_anything_is_written() {
    for (window, field) in [
        ("train_min_len = 0\ntrain_max_len = 0", "task.train_min_len"),
        ("train_max_len = 0", "task.train_max_len"),
        ("train_min_len = 0\ntrain_max_len = 4", "task.train_min_len"),
        ("train_min_len = 5\ntrain_max_len = 3", "task.train_min_len"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("bad.toml");
        let text = CONFIG.replace(
            "name = \"tomita-2\"\n",
            &format!("name = \"tomita-2\"\n{window}\n"),
        );
        std::fs::write(&config, text).unwrap();
        let run_dir = dir.path().join("run");
        let (out, stderr) = kleene_train(dir.path(), &config, Some(run_dir.to_str().unwrap()));
        assert!(!out.status.success(), "{window}: succeeded:\n{stderr}");
        assert!(
            !stderr.contains("panicked"),
            "{window}: panicked:\n{stderr}"
        );
        assert!(
            stderr.contains(field),
            "{window}: no field `{field}`:\n{stderr}"
        );
        assert!(
            !stderr.contains("training `"),
            "{window}: banner before the error:\n{stderr}"
        );
        assert!(!run_dir.exists(), "{window}: the run directory was created");
    }
}
