//! Property tests of the published-format and JSONL readers (issue 17 fuzzing): on random
//! bytes and on mutated valid files (written by the writers from generated data) every
//! reader returns examples or an error naming the file, and never panics. A few hundred cases
//! each (`PROPTEST_CASES=N`: N); a failing case is kept by proptest in
//! `tests/fuzz_readers.proptest-regressions` (commit it) and replayed first.

use std::path::{Path, PathBuf};

use kleene_langs::bounded_dyck::{BoundedDyck, BoundedDyckConfig};
use kleene_langs::flipflop;
use kleene_langs::{io, task_by_name, Example, Task};
use proptest::prelude::*;

/// `PROPTEST_CASES` when set (a longer fuzzing run), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Byte edits: (position, byte, kind) with kind 0 = replace, 1 = insert, 2 = delete.
fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8)
}

fn mutate(valid: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut out = valid.to_vec();
    for &(at, byte, kind) in edits {
        let i = if out.is_empty() { 0 } else { at % out.len() };
        match kind {
            0 if !out.is_empty() => out[i] = byte,
            2 if !out.is_empty() => {
                out.remove(i);
            }
            _ => out.insert(i, byte),
        }
    }
    out
}

/// 20 examples of `task`'s split `split`.
fn examples(task: &dyn Task, split: &str) -> Vec<Example> {
    let mut spec = task.splits().into_iter().find(|s| s.name == split).unwrap();
    spec.size = spec.size.min(20);
    let mut ex = task.generate_split(&spec, 3).unwrap();
    ex.truncate(20);
    ex
}

/// Valid files of every format, written once: (published src, tgt), JSONL, flip-flop text,
/// bounded-Dyck file.
struct Valid {
    _dir: tempfile::TempDir,
    src: Vec<u8>,
    tgt: Vec<u8>,
    jsonl: Vec<u8>,
    flipflop: Vec<u8>,
    dyck: Vec<u8>,
}

fn valid() -> &'static Valid {
    static VALID: std::sync::OnceLock<Valid> = std::sync::OnceLock::new();
    VALID.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let tomita = task_by_name("tomita-2").unwrap();
        let ex = examples(tomita.as_ref(), "train");
        let (src, tgt) =
            io::write_published_split(tomita.as_ref(), dir.path(), "train", &ex).unwrap();
        let jsonl = dir.path().join("train.jsonl");
        io::write_jsonl(&jsonl, &ex).unwrap();
        let ff = task_by_name("flipflop").unwrap();
        let ff_path = dir.path().join("ff.txt");
        let split = ff.splits()[0].name.clone();
        flipflop::write_text(&ff_path, &examples(ff.as_ref(), &split)).unwrap();
        let d = BoundedDyck::new(BoundedDyckConfig::default()).unwrap();
        let dyck_task = task_by_name("bounded-dyck").unwrap();
        let split = dyck_task.splits()[0].name.clone();
        let samples: Vec<Vec<u32>> = examples(dyck_task.as_ref(), &split)
            .iter()
            .filter_map(BoundedDyck::sample_of_example)
            .collect();
        let dyck_path = dir.path().join("dyck.txt");
        d.write_file(&dyck_path, &samples).unwrap();
        let read = |p: &Path| std::fs::read(p).unwrap();
        Valid {
            src: read(&src),
            tgt: read(&tgt),
            jsonl: read(&jsonl),
            flipflop: read(&ff_path),
            dyck: read(&dyck_path),
            _dir: dir,
        }
    })
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Every reader on these bytes (as each of its files); only "no panic" is asserted.
fn read_all(src: &[u8], tgt: &[u8], other: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let tomita = task_by_name("tomita-2").unwrap();
    let (s, t) = (
        write(dir.path(), "s.txt", src),
        write(dir.path(), "t.txt", tgt),
    );
    if let Ok(ex) = io::read_published_pair(tomita.as_ref(), &s, &t) {
        let _ = io::check_examples(tomita.as_ref(), &t, &ex, 20);
    }
    let o = write(dir.path(), "o.txt", other);
    if let Ok(ex) = io::read_jsonl(tomita.as_ref(), &o) {
        let _ = io::check_examples(tomita.as_ref(), &o, &ex, 20);
    }
    let _ = flipflop::read_text(&o);
    let d = BoundedDyck::new(BoundedDyckConfig::default()).unwrap();
    let _ = d.read_file(&o, 1, usize::MAX, d.config().m);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn readers_never_panic_on_mutated_files(which in 0usize..5, e in edits()) {
        let v = valid();
        match which {
            0 => read_all(&mutate(&v.src, &e), &v.tgt, &mutate(&v.jsonl, &e)),
            1 => read_all(&v.src, &mutate(&v.tgt, &e), &mutate(&v.flipflop, &e)),
            2 => read_all(&v.src, &v.tgt, &mutate(&v.dyck, &e)),
            3 => read_all(&mutate(&v.src, &e), &mutate(&v.tgt, &e), &mutate(&v.flipflop, &e)),
            _ => read_all(&v.src, &v.tgt, &mutate(&v.jsonl, &e)),
        }
    }

    #[test]
    fn readers_never_panic_on_random_bytes(
        a in prop::collection::vec(any::<u8>(), 0..200),
        b in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        read_all(&a, &b, &a);
    }
}
