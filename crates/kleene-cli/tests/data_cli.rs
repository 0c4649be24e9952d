//! `kleene data` end to end: list, gen (published layout and JSONL), check (passes on
//! generated data, fails with file:line on corrupted data), determinism across runs.

use std::path::Path;

mod common;
use common::{kleene, ok};

#[test]
fn list_shows_every_suite_language() {
    let out = ok(&["data", "list"]);
    for name in [
        "tomita-3",
        "dyck-1",
        "shuffle-2",
        "shuffle-2-exact",
        "abstar-d-bcstar",
        "boolean-5",
        "anbncndn",
        "flipflop",
        "bounded-dyck",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} missing from:\n{out}"
        );
    }
}

#[test]
fn gen_then_check_published_suite_split() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    ok(&["data", "gen", "Tomita-2", "--seed", "5", "--out", d]);
    let folder = dir.path().join("Tomita-2");
    for f in [
        "train_src.txt",
        "train_tgt.txt",
        "val_src_bin0.txt",
        "val_tgt_bin0.txt",
        "val_src_bin1.txt",
        "val_tgt_bin1.txt",
    ] {
        assert!(folder.join(f).exists(), "{f}");
    }
    // Published files have no trailing newline and 1000 training lines.
    let train = std::fs::read_to_string(folder.join("train_src.txt")).unwrap();
    assert!(!train.ends_with('\n'));
    assert_eq!(train.lines().count(), 1000);
    ok(&["data", "check", "tomita-2", folder.to_str().unwrap()]);
    // The parent folder is accepted too.
    ok(&["data", "check", "tomita-2", d]);

    // Same seed -> identical bytes; another seed -> different data.
    let again = tempfile::tempdir().unwrap();
    ok(&[
        "data",
        "gen",
        "tomita-2",
        "--seed",
        "5",
        "--out",
        again.path().to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(folder.join("train_src.txt")).unwrap(),
        std::fs::read(again.path().join("Tomita-2/train_src.txt")).unwrap()
    );

    // Corrupt one target: check fails and names the file and line.
    let tgt = folder.join("val_tgt_bin1.txt");
    let text = std::fs::read_to_string(&tgt).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[2] = lines[2].replacen("10", "01", 1);
    std::fs::write(&tgt, lines.join("\n")).unwrap();
    let out = kleene(&["data", "check", "tomita-2", folder.to_str().unwrap()]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The wrong target is in the target file, and the error says so (issue 17: it named
    // the source file).
    assert!(stdout.contains("val_tgt_bin1.txt:3:"), "{stdout}");
}

/// Issue 17: `data check` passed with train_src.txt missing; `data gen` replaced existing
/// files (even another seed's) silently; `--size 0` wrote empty files.
#[test]
fn check_reports_a_missing_source_and_gen_neither_overwrites_nor_writes_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    ok(&["data", "gen", "tomita-2", "--seed", "5", "--out", d]);
    let folder = dir.path().join("Tomita-2");
    let before = std::fs::read(folder.join("train_src.txt")).unwrap();

    let out = kleene(&["data", "gen", "tomita-2", "--seed", "6", "--out", d]);
    assert!(!out.status.success(), "existing files overwritten");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--force") && stderr.contains("already exists"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(folder.join("train_src.txt")).unwrap(), before);
    ok(&[
        "data", "gen", "tomita-2", "--seed", "6", "--out", d, "--force",
    ]);
    assert_ne!(std::fs::read(folder.join("train_src.txt")).unwrap(), before);

    std::fs::remove_file(folder.join("train_src.txt")).unwrap();
    let out = kleene(&["data", "check", "tomita-2", d]);
    assert!(!out.status.success(), "a missing train_src.txt passed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("train_src.txt") && stdout.contains("missing"),
        "{stdout}"
    );

    let empty = tempfile::tempdir().unwrap();
    let e = empty.path().to_str().unwrap();
    let out = kleene(&[
        "data", "gen", "tomita-2", "--seed", "1", "--size", "0", "--out", e,
    ]);
    assert!(!out.status.success(), "--size 0 accepted");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--size"));
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

#[test]
fn gen_single_split_with_size_and_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    ok(&[
        "data", "gen", "dyck-1", "--split", "bin2", "--seed", "1", "--size", "50", "--out", d,
    ]);
    let src = std::fs::read_to_string(dir.path().join("Dyck1/val_src_bin2.txt")).unwrap();
    assert_eq!(src.lines().count(), 50);
    assert!(src.lines().all(|l| (102..=150).contains(&l.len())));
    ok(&["data", "check", "Dyck1", d]);

    ok(&[
        "data",
        "gen",
        "flipflop",
        "--split",
        "val_sparse",
        "--seed",
        "2",
        "--size",
        "30",
        "--out",
        d,
    ]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("flipflop/val_sparse.txt"))
            .unwrap()
            .lines()
            .count(),
        30
    );
    ok(&["data", "check", "flipflop", d]);

    ok(&[
        "data",
        "gen",
        "bounded-dyck",
        "--split",
        "dev",
        "--seed",
        "3",
        "--out",
        d,
    ]);
    assert!(Path::new(&dir.path().join("k8_m10_tr2000000.dev")).exists());
    ok(&["data", "check", "bounded-dyck", d]);

    let j = tempfile::tempdir().unwrap();
    ok(&[
        "data",
        "gen",
        "shuffle-4",
        "--split",
        "bin1",
        "--seed",
        "4",
        "--size",
        "20",
        "--format",
        "jsonl",
        "--out",
        j.path().to_str().unwrap(),
    ]);
    let f = j.path().join("shuffle-4/bin1.jsonl");
    assert_eq!(std::fs::read_to_string(&f).unwrap().lines().count(), 20);
    ok(&["data", "check", "shuffle-4", j.path().to_str().unwrap()]);
}

#[test]
fn unknown_task_and_split_fail_cleanly() {
    let out = kleene(&[
        "data",
        "gen",
        "no-such-task",
        "--seed",
        "1",
        "--out",
        "/tmp/x",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown task"));
    let out = kleene(&[
        "data", "gen", "parity", "--split", "bin7", "--seed", "1", "--out", "/tmp/x",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bin1"));
}
