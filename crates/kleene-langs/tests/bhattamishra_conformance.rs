//! Conformance with the published `generated_ds` files (first 200 lines of each, in
//! `shared/fixtures/bhattamishra/<Folder>/`): for every language, every source line is a
//! member, every target line is reproduced exactly by the oracle, alphabets, classes and
//! length windows agree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kleene_langs::bhattamishra::{Fidelity, SuiteLanguage, SuiteTask};
use kleene_langs::io::{published_file_names, read_lines, read_published_pair};
use kleene_langs::Task;

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/bhattamishra"
    ))
}

/// The splits of a task that have a src file in the fixture folder (bins the code reads).
fn present_splits(task: &SuiteTask, dir: &Path) -> Vec<(String, PathBuf, PathBuf, usize, usize)> {
    task.suite_splits()
        .iter()
        .filter_map(|s| {
            let (src, tgt) = published_file_names(&s.spec.name);
            let (src, tgt) = (dir.join(src), dir.join(tgt));
            src.exists().then(|| {
                (
                    s.spec.name.clone(),
                    src,
                    tgt,
                    s.spec.min_len,
                    s.spec.max_len,
                )
            })
        })
        .collect()
}

#[test]
fn every_fixture_folder_is_a_suite_language() {
    let mut folders: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut ours: Vec<String> = SuiteLanguage::ALL
        .iter()
        .map(|l| l.folder().to_string())
        .collect();
    ours.sort();
    assert_eq!(folders, ours);
}

#[test]
fn every_source_line_is_a_member_and_every_target_is_reproduced() {
    let mut checked_lines = 0usize;
    for lang in SuiteLanguage::ALL {
        let task = SuiteTask::new(lang, Fidelity::Faithful);
        let dir = fixtures().join(lang.folder());
        let splits = present_splits(&task, &dir);
        // Every src file on disk belongs to one of our splits, and train/bin0/bin1 exist.
        let src_files = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("_src")
            })
            .count();
        assert_eq!(
            src_files,
            splits.len(),
            "{}: src files vs splits",
            lang.folder()
        );
        assert!(splits.len() >= 3, "{}", lang.folder());
        for (split, src_path, tgt_path, lo, hi) in splits {
            let src = read_lines(&src_path).unwrap();
            let tgt = read_lines(&tgt_path).unwrap();
            assert_eq!(src.len(), tgt.len());
            for (i, (s, t)) in src.iter().zip(&tgt).enumerate() {
                let where_ = format!("{}:{}", src_path.display(), i + 1);
                assert!(
                    task.is_member_str(s.as_bytes()),
                    "{where_}: `{s}` not a member"
                );
                assert_eq!(
                    String::from_utf8(task.target_string(s.as_bytes())).unwrap(),
                    *t,
                    "{where_}: target of `{s}`"
                );
                assert!(
                    (lo..=hi).contains(&s.len()),
                    "{where_}: length {} outside {split} window [{lo},{hi}]",
                    s.len()
                );
                checked_lines += 1;
            }
            // The typed reader agrees and the task's own check accepts every example.
            let examples = read_published_pair(&task, &src_path, &tgt_path).unwrap();
            for (i, ex) in examples.iter().enumerate() {
                task.check_example(ex)
                    .unwrap_or_else(|e| panic!("{}:{}: {e}", src_path.display(), i + 1));
            }
        }
    }
    assert!(checked_lines > 8000, "only {checked_lines} lines checked");
}

#[test]
fn alphabets_and_classes_agree_with_the_training_files() {
    for lang in SuiteLanguage::ALL {
        let task = SuiteTask::new(lang, Fidelity::Faithful);
        let dir = fixtures().join(lang.folder());
        let src = read_lines(&dir.join("train_src.txt")).unwrap();
        let tgt = read_lines(&dir.join("train_tgt.txt")).unwrap();
        let symbols: BTreeSet<u8> = src.iter().flat_map(|s| s.bytes()).collect();
        let alphabet: BTreeSet<u8> = task.alphabet().iter().copied().collect();
        assert_eq!(symbols, alphabet, "{}: alphabet", lang.folder());
        let c = task.chunk();
        let chunks: BTreeSet<String> = tgt
            .iter()
            .flat_map(|t| {
                t.as_bytes()
                    .chunks(c)
                    .map(|ch| String::from_utf8(ch.to_vec()).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        let classes: BTreeSet<String> = task.classes().into_iter().collect();
        assert!(
            chunks.is_subset(&classes),
            "{}: chunks {chunks:?} vs classes {classes:?}",
            lang.folder()
        );
        // Classes are sorted (the recommended fixed bijection).
        let cl = task.classes();
        let mut sorted = cl.clone();
        sorted.sort();
        assert_eq!(cl, sorted);
    }
}

/// Table §1.3 of the spec: output classes seen in the published training files.
#[test]
fn class_counts_match_the_published_vocabularies() {
    let expect: &[(&str, &[&str])] = &[
        ("012Star_0_2Star", &["c", "e"]),
        ("AAStarBBStarCCStarDDStarEEStar", &["T", "b", "c", "d", "e"]),
        ("ABStar_D_BCStar", &["0110", "1101"]),
        ("D-2", &["01", "10", "11"]),
        ("Tomita-1", &["01"]),
        ("Tomita-2", &["01", "10"]),
        ("Tomita-3", &["01", "10", "11"]),
        ("Tomita-4", &["01", "11"]),
        ("Tomita-7", &["01", "11"]),
        ("anbn", &["T", "a", "b"]),
        ("anbncn", &["T", "a", "b", "c"]),
        ("anbncndn", &["T", "a", "b", "c", "d"]),
        ("Dyck1", &["0", "1"]),
    ];
    for (folder, classes) in expect {
        let task = kleene_langs::bhattamishra::by_folder(folder, Fidelity::Faithful).unwrap();
        assert_eq!(
            task.classes(),
            classes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "{folder}"
        );
    }
    for (folder, n) in [("Shuffle2", 4usize), ("Shuffle4", 16), ("Shuffle6", 64)] {
        let task = kleene_langs::bhattamishra::by_folder(folder, Fidelity::Faithful).unwrap();
        assert_eq!(task.classes().len(), n);
    }
}
