//! `kleene data check` recomputes the labels of the families whose check used to look
//! at the shape only (issue 16): a flipped parity-check label and corrupted
//! associative-recall, induction-head, MQAR and REGBENCH answers fail, naming the file
//! and the line, while the generated files pass.

use std::path::Path;

use serde_json::Value;

mod common;
use common::{kleene, ok};

/// Generates `size` examples of `split` as JSONL; returns the file.
fn generate(task: &str, split: &str, dir: &Path) -> std::path::PathBuf {
    ok(&[
        "data",
        "gen",
        task,
        "--split",
        split,
        "--seed",
        "7",
        "--size",
        "5",
        "--format",
        "jsonl",
        "--out",
        dir.to_str().unwrap(),
    ]);
    ok(&["data", "check", task, dir.to_str().unwrap()]);
    let name = kleene_langs::task_by_name(task).unwrap().name().to_string();
    dir.join(name).join(format!("{split}.jsonl"))
}

/// Rewrites line 3 of `file` with `corrupt` applied to its target, runs the check and
/// returns its stdout, which must name `file:3:`.
fn check_corrupted(task: &str, file: &Path, dir: &Path, corrupt: impl Fn(&mut Value)) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut example: Value = serde_json::from_str(&lines[2]).unwrap();
    corrupt(&mut example["target"]);
    lines[2] = example.to_string();
    std::fs::write(file, lines.join("\n") + "\n").unwrap();
    let out = kleene(&["data", "check", task, dir.to_str().unwrap()]);
    assert!(!out.status.success(), "{task}: a corrupted label passed");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let at = format!("{}:3:", file.file_name().unwrap().to_string_lossy());
    assert!(stdout.contains(&at), "{task}: {stdout}");
    stdout
}

/// The last class of a masked target, changed to `to(old)`.
fn set_last_class(target: &mut Value, to: impl Fn(u64) -> u64) {
    let classes = target["masked"]["classes"].as_array_mut().unwrap();
    let last = classes.last_mut().unwrap();
    *last = Value::from(to(last.as_u64().unwrap()));
}

#[test]
fn flipped_parity_label_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = generate("parity-check", "train", dir.path());
    let out = check_corrupted("parity-check", &file, dir.path(), |t| {
        let c = t["final"].as_u64().unwrap();
        t["final"] = Value::from(1 - c);
    });
    assert!(out.contains("the oracle says"), "{out}");
}

#[test]
fn corrupted_recall_answers_fail() {
    // associative-recall's train split scores every position (the shifted input), its
    // answer is the value of the query key (values are ids 20..=38 of vocabulary 40).
    let dir = tempfile::tempdir().unwrap();
    let file = generate("associative-recall", "train", dir.path());
    let out = check_corrupted("associative-recall", &file, dir.path(), |t| {
        set_last_class(t, |c| if c == 38 { 20 } else { c + 1 })
    });
    assert!(out.contains("answer class"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let file = generate("induction-head", "test", dir.path());
    let out = check_corrupted("induction-head", &file, dir.path(), |t| {
        set_last_class(t, |c| if c == 1 { 2 } else { 1 })
    });
    assert!(out.contains("answer class"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let split = kleene_langs::task_by_name("mqar").unwrap().splits()[0]
        .name
        .clone();
    let file = generate("mqar", &split, dir.path());
    let out = check_corrupted("mqar", &file, dir.path(), |t| {
        let mask: Vec<bool> = t["masked"]["mask"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_bool().unwrap())
            .collect();
        let p = mask.iter().rposition(|&m| m).unwrap();
        let c = &mut t["masked"]["classes"][p];
        *c = Value::from(if c.as_u64() == Some(1) { 2 } else { 1 });
    });
    assert!(out.contains("has value"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let file = generate("regbench", "test", dir.path());
    let out = check_corrupted("regbench", &file, dir.path(), |t| {
        let c = &mut t["masked"]["classes"][0];
        *c = Value::from(if c.as_u64() == Some(1) { 2 } else { 1 });
    });
    assert!(out.contains("next input token"), "{out}");
}
