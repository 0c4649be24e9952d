//! Data in/out: the published src/tgt format (no trailing newline), JSONL, and the
//! validation errors (file and line, never a panic).

use std::path::Path;

use kleene_langs::bhattamishra::{Fidelity, SuiteLanguage, SuiteTask};
use kleene_langs::io::{read_jsonl, read_published_pair, write_jsonl, write_published_split};
use kleene_langs::{task_by_name, LangError, Task};

fn parse_err(r: Result<impl std::fmt::Debug, LangError>) -> (String, usize, String) {
    match r {
        Err(LangError::Parse { path, line, reason }) => (
            path.file_name().unwrap().to_string_lossy().into_owned(),
            line,
            reason,
        ),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn published_round_trip_without_trailing_newline() {
    let task = SuiteTask::new(SuiteLanguage::Shuffle4, Fidelity::Faithful);
    let split = task.splits()[2].clone();
    let examples: Vec<_> = task
        .generate_split(&split, 1)
        .unwrap()
        .into_iter()
        .take(50)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (src, tgt) = write_published_split(&task, dir.path(), "bin1", &examples).unwrap();
    assert_eq!(src.file_name().unwrap(), "val_src_bin1.txt");
    assert_eq!(tgt.file_name().unwrap(), "val_tgt_bin1.txt");
    let src_bytes = std::fs::read(&src).unwrap();
    assert_ne!(src_bytes.last(), Some(&b'\n'));
    assert_eq!(src_bytes.iter().filter(|&&b| b == b'\n').count(), 49);
    assert_eq!(read_published_pair(&task, &src, &tgt).unwrap(), examples);
    // Only the two data files are left (the temporary files were renamed).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn published_reader_reports_file_and_line() {
    let task = SuiteTask::new(SuiteLanguage::Dyck1, Fidelity::Faithful);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let read = || read_published_pair(&task, &d.join("s.txt"), &d.join("t.txt"));

    write(d, "s.txt", "()\n(x)");
    write(d, "t.txt", "10\n110");
    let (f, line, reason) = parse_err(read());
    assert_eq!((f.as_str(), line), ("s.txt", 2));
    assert!(reason.contains("'x'"), "{reason}");

    write(d, "s.txt", "()\n(())");
    write(d, "t.txt", "10\n11");
    let (f, line, reason) = parse_err(read());
    assert_eq!((f.as_str(), line), ("t.txt", 2));
    assert!(reason.contains("expected 4"), "{reason}");

    write(d, "t.txt", "10\n1102");
    let (f, line, _) = parse_err(read());
    assert_eq!((f.as_str(), line), ("t.txt", 2));

    write(d, "t.txt", "10");
    let (f, line, reason) = parse_err(read());
    assert_eq!((f.as_str(), line), ("t.txt", 2));
    assert!(reason.contains("truncated"), "{reason}");

    write(d, "s.txt", "");
    let (f, line, reason) = parse_err(read());
    assert_eq!((f.as_str(), line), ("s.txt", 1));
    assert!(reason.contains("empty"));

    // Wrong width for a multi-bit language.
    let sh = SuiteTask::new(SuiteLanguage::Shuffle2, Fidelity::Faithful);
    write(d, "s.txt", "()");
    write(d, "t.txt", "100");
    let (f, line, _) = parse_err(read_published_pair(&sh, &d.join("s.txt"), &d.join("t.txt")));
    assert_eq!((f.as_str(), line), ("t.txt", 1));

    // Format-valid but wrong content is caught by the oracle check.
    write(d, "s.txt", "()\n)(");
    write(d, "t.txt", "10\n00");
    let ex = read().unwrap();
    let errs = kleene_langs::io::check_examples(&task, &d.join("s.txt"), &ex, 10);
    assert_eq!(errs.len(), 1);
    assert!(matches!(&errs[0], LangError::Parse { line: 2, .. }));
}

#[test]
fn jsonl_round_trip_for_every_family_of_this_crate() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "tomita-3",
        "shuffle-2-exact",
        "flipflop",
        "bounded-dyck",
        "Dyck1",
        "ABStar_D_BCStar",
    ] {
        let task = task_by_name(name).unwrap();
        let split = &task.splits()[0];
        let mut rng = kleene_langs::seeded_rng(9);
        let lo = split.min_len;
        let hi = split.max_len.min(lo.max(60));
        let examples: Vec<_> = (0..10)
            .map(|_| task.sample(lo, hi, &mut rng).unwrap())
            .collect();
        let path = dir.path().join(format!("{}.jsonl", task.name()));
        write_jsonl(&path, &examples).unwrap();
        assert_eq!(
            read_jsonl(task.as_ref(), &path).unwrap(),
            examples,
            "{name}"
        );
        for ex in &examples {
            assert!(task.check_example(ex).is_ok(), "{name}");
        }
    }
    // A token outside the vocabulary is reported with its line.
    let task = task_by_name("parity").unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, "{\"tokens\":[0,1],\"target\":{\"per_position\":[1,0]}}\n{\"tokens\":[0,7],\"target\":{\"per_position\":[1,0]}}\n").unwrap();
    let (_, line, reason) = parse_err(read_jsonl(task.as_ref(), &path));
    assert_eq!(line, 2);
    assert!(reason.contains("outside the vocabulary"), "{reason}");
}

#[test]
fn names_and_aliases_resolve() {
    for (alias, name) in [
        ("Tomita-3", "tomita-3"),
        ("ABStar_D_BCStar", "abstar-d-bcstar"),
        ("Dyck1", "dyck-1"),
        ("shuffle4", "shuffle-4"),
        ("AAStarBBStarCCStarDDStarEEStar", "aastar-to-eestar"),
        ("012Star_0_2Star", "012star-0-2star"),
        ("anbncn", "anbncn"),
        ("Shuffle2-exact", "shuffle-2-exact"),
        ("flip-flop", "flipflop"),
    ] {
        assert_eq!(task_by_name(alias).unwrap().name(), name);
    }
    assert!(matches!(
        task_by_name("no-such-task"),
        Err(LangError::UnknownTask(_))
    ));
    // 27 suite tasks + 5 exact variants + flip-flop + bounded Dyck, names unique.
    let all = kleene_langs::all_tasks();
    let mut names: Vec<_> = all.iter().map(|t| t.task.name().to_string()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len());
    assert!(all.len() >= 34);
}

/// Two writers of one path in one process: the first is still filling its temporary file
/// when the second writes and renames. With a temporary name per process only, the second
/// would truncate and rename away the first's file, whose own rename then fails.
#[test]
fn concurrent_atomic_writes_of_one_path_do_not_share_a_temp_file() {
    use std::sync::mpsc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    let (go, wait_go) = mpsc::channel::<()>();
    let (done, wait_done) = mpsc::channel::<()>();
    let second = {
        let path = path.clone();
        std::thread::spawn(move || {
            wait_go.recv().unwrap();
            kleene_langs::io::write_atomic(&path, b"second").unwrap();
            done.send(()).unwrap();
        })
    };
    kleene_langs::io::write_atomic_with(&path, |w| {
        w.write_all(b"fir")?;
        go.send(()).unwrap();
        wait_done.recv().unwrap();
        w.write_all(b"st")
    })
    .unwrap();
    second.join().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("out.txt")],
        "temporary files left"
    );
}

#[test]
fn failed_atomic_write_keeps_the_old_file_and_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.txt");
    std::fs::write(&path, "old").unwrap();
    let err =
        kleene_langs::io::write_atomic_with(&path, |_| Err(std::io::Error::other("disk full")))
            .unwrap_err();
    assert!(
        matches!(&err, LangError::Io { path: p, .. } if p == &path),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
