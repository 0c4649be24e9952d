//! `kleene train` under bad input that used to panic or overwrite a user's files (issue 17):
//! a zero or inverted training window is a config error naming the field, reported before the
//! banner and before anything is written; an empty `out_dir` and a directory that is not a
//! kleene run are refused and leave every file there as it was.

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

/// A working directory holding a user's own files, and the config in it.
fn user_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, CONFIG).unwrap();
    std::fs::write(dir.path().join("report.md"), "my notes\n").unwrap();
    (dir, config)
}

fn assert_untouched(dir: &Path, what: &str) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["config.toml", "report.md"], "{what}: files added");
    assert_eq!(
        std::fs::read_to_string(dir.join("config.toml")).unwrap(),
        CONFIG,
        "{what}: config.toml overwritten"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("report.md")).unwrap(),
        "my notes\n",
        "{what}: report.md overwritten"
    );
}

#[test]
fn an_empty_out_dir_is_refused_naming_out_dir() {
    // In the config ...
    let (dir, _) = user_dir();
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, format!("out_dir = \"\"\n{CONFIG}")).unwrap();
    let (out, stderr) = kleene_train(dir.path(), &config, None);
    std::fs::remove_file(&config).unwrap();
    assert!(!out.status.success(), "out_dir = \"\" succeeded:\n{stderr}");
    assert!(stderr.contains("out_dir"), "no field `out_dir`:\n{stderr}");
    assert!(!stderr.contains("training `"), "banner:\n{stderr}");
    assert_untouched(dir.path(), "out_dir = \"\"");
    // ... and on the command line.
    let (dir, config) = user_dir();
    let (out, stderr) = kleene_train(dir.path(), &config, Some(""));
    assert!(!out.status.success(), "--out-dir '' succeeded:\n{stderr}");
    // (clap itself refuses an empty value, naming the option.)
    assert!(stderr.contains("--out-dir"), "no `--out-dir`:\n{stderr}");
    assert_untouched(dir.path(), "--out-dir ''");
}

#[test]
fn a_directory_that_is_not_a_kleene_run_is_refused_and_left_as_it_was() {
    let (dir, config) = user_dir();
    let (out, stderr) = kleene_train(dir.path(), &config, Some("."));
    assert!(!out.status.success(), "--out-dir . succeeded:\n{stderr}");
    assert!(
        stderr.contains("not a kleene run directory"),
        "unclear error:\n{stderr}"
    );
    assert!(!stderr.contains("training `"), "banner:\n{stderr}");
    assert_untouched(dir.path(), "--out-dir .");
    // --resume there is refused as well (there is no checkpoint to resume).
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kleene"));
    let out = cmd
        .current_dir(dir.path())
        .args([
            "train",
            "config.toml",
            "--quiet",
            "--resume",
            "--out-dir",
            ".",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_untouched(dir.path(), "--resume --out-dir .");
}

#[test]
fn an_empty_directory_and_a_kleene_run_directory_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ok.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&run_dir).unwrap();
    let (out, stderr) = kleene_train(dir.path(), &config, Some("run"));
    assert!(out.status.success(), "empty directory refused:\n{stderr}");
    assert!(run_dir.join("metrics.jsonl").is_file());
    // A finished run's directory without its checkpoint (deleted to retrain) is a kleene run.
    std::fs::remove_dir_all(run_dir.join("checkpoint")).unwrap();
    let (out, stderr) = kleene_train(dir.path(), &config, Some("run"));
    assert!(
        out.status.success(),
        "kleene run directory refused:\n{stderr}"
    );
    // A run stopped before its first metrics line left only kleene's own config.toml.
    for entry in std::fs::read_dir(&run_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "config.toml" {
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }
    let (out, stderr) = kleene_train(dir.path(), &config, Some("run"));
    assert!(
        out.status.success(),
        "a run's own config.toml refused:\n{stderr}"
    );
}
