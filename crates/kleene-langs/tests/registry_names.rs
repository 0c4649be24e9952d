//! Registry lookup: names win over aliases; every name and alias resolves to its own task.

use kleene_langs::{all_tasks, task_by_name};

#[test]
fn every_task_name_resolves_to_itself() {
    for info in all_tasks() {
        let found = task_by_name(info.task.name()).expect("registered name resolves");
        assert_eq!(found.name(), info.task.name());
    }
}

#[test]
fn task_names_are_unique() {
    let mut names: Vec<String> = all_tasks()
        .iter()
        .map(|i| i.task.name().to_ascii_lowercase())
        .collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n, "two tasks share a name");
}

#[test]
fn exact_name_beats_another_family_alias() {
    // `d4` is the SD-SSM dihedral task; the Bhattamishra D_4 language may alias `d4` too.
    let task = task_by_name("D4").unwrap();
    assert_eq!(task.name(), "d4");
    assert_eq!(task.target_kind(), kleene_langs::TargetKind::Final);
}

#[test]
fn unknown_name_is_an_error() {
    assert!(task_by_name("no-such-language").is_err());
}
