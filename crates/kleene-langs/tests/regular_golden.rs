//! The SD-SSM golden vectors (shared/spec/golden/golden_vectors.json) are reproduced.

use kleene_langs::regular::{self, PermutationGroup, RegularConfig, RegularTask};
use kleene_langs::{task_by_name, Task};
use serde_json::Value;

/// `../shared` next to the repository root (`concat!(CARGO_MANIFEST_DIR, "/../../../shared")`);
/// from a git worktree nested one level deeper, the nearest ancestor holding `shared/spec`.
fn shared_dir() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let canonical = manifest.join("../../../shared");
    if canonical.join("spec").is_dir() {
        return canonical;
    }
    manifest
        .ancestors()
        .map(|a| a.join("shared"))
        .find(|p| p.join("spec").is_dir())
        .unwrap_or(canonical)
}

fn golden() -> Value {
    let path = shared_dir().join("spec/golden/golden_vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("golden_vectors.json is JSON")
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn no_query(name: &str) -> RegularTask {
    build(name, false)
}

fn with_query(name: &str) -> RegularTask {
    build(name, true)
}

fn build(name: &str, query_token: bool) -> RegularTask {
    let config = RegularConfig {
        query_token,
        ..RegularConfig::default()
    };
    regular::task_from_name(name, config.clone())
        .or_else(|| match name {
            "parity_check" => Some(RegularTask::new(regular::ParityCheck, config.clone())),
            "even_pairs" => Some(RegularTask::new(regular::EvenPairs, config.clone())),
            "cycle_navigation" => Some(RegularTask::new(
                regular::CycleNavigation::new(5),
                config.clone(),
            )),
            "modular_arithmetic" => Some(RegularTask::new(
                regular::ModularArithmetic::new(5),
                config.clone(),
            )),
            _ => None,
        })
        .unwrap_or_else(|| panic!("task {name}"))
}

#[test]
fn golden_examples_are_reproduced_for_every_task() {
    let g = golden();
    let examples = g["examples"].as_object().unwrap();
    let mut checked = 0;
    for (task_name, cases) in examples {
        let task = no_query(task_name);
        let with_query_task = with_query(task_name);
        for case in cases.as_array().unwrap() {
            let case = case.as_array().unwrap();
            let seq = ids(&case[0]);
            let want = case.last().unwrap().as_u64().unwrap() as u32;
            assert_eq!(task.label(&seq).unwrap(), want, "{task_name} {seq:?}");
            // Same label with the query token appended.
            let mut queried = seq.clone();
            queried.push(task.vocab().len() as u32);
            assert_eq!(with_query_task.label(&queried).unwrap(), want);
            // The published name is an alias of a registered task of this family.
            assert_eq!(
                registered(task_name).name(),
                task.name(),
                "{task_name} alias"
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} golden cases");
}

#[test]
fn a5_label_table_matches() {
    let g = golden();
    let a5 = PermutationGroup::a5();
    assert_eq!(a5.order(), 60);
    let table = g["A5_label_table"].as_array().unwrap();
    assert_eq!(table.len(), 60);
    for row in table {
        let row = row.as_array().unwrap();
        let perm: Vec<u8> = ids(&row[0]).into_iter().map(|x| x as u8).collect();
        let label = row[1].as_u64().unwrap() as u32;
        assert_eq!(a5.element(label), perm.as_slice(), "label {label}");
    }
}

/// Looks a name or alias up among this family's registered tasks only (the glued
/// Bhattamishra alias `d4` for D_4 = Dyck depth 4 would shadow SD-SSM's D4 in the global
/// registry).
fn registered(name: &str) -> Box<dyn Task> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    regular::tasks()
        .into_iter()
        .find(|i| {
            norm(i.task.name()) == norm(name) || i.aliases.iter().any(|a| norm(a) == norm(name))
        })
        .unwrap_or_else(|| panic!("{name} is registered"))
        .task
}

#[test]
fn registered_tasks_use_query_token_as_in_the_paper() {
    for (name, query, vocab, classes) in [
        ("parity-check", true, 3, 2),
        ("even-pairs", true, 3, 2),
        ("cycle-navigation", true, 4, 5),
        ("modular-arithmetic", true, 10, 5),
        ("c2xc4", false, 2, 8),
        ("d4", false, 2, 8),
        ("a5", false, 2, 60),
        ("C2xC30", false, 2, 60),
        ("D30", false, 2, 60),
    ] {
        let task = registered(name);
        assert_eq!(task.vocab().len(), vocab, "{name} vocab");
        assert_eq!(task.classes().len(), classes, "{name} classes");
        let mut rng = kleene_langs::seeded_rng(3);
        let ex = task.sample(7, 7, &mut rng).unwrap();
        let expect_len = 7 + query as usize;
        assert_eq!(ex.tokens.len(), expect_len, "{name}");
        if query {
            assert_eq!(*ex.tokens.last().unwrap() as usize, vocab - 1);
        }
    }
}

#[test]
fn query_token_label_is_read_at_the_last_step() {
    // Spec examples with the query token appended: [1,1,0,1] parity -> 1.
    let task = task_by_name("parity_check").unwrap();
    let reg = regular::task_from_name("c2", RegularConfig::default()).unwrap();
    assert_eq!(reg.label(&[1, 1, 0, 1, 2]).unwrap(), 1);
    assert!(reg.label(&[1, 1, 0, 1]).is_err(), "missing query token");
    assert!(reg.label(&[1, 3, 0, 1, 2]).is_err(), "symbol out of range");
    assert_eq!(task.vocab(), vec!["0", "1", "?"]);
}

#[test]
fn modular_arithmetic_lengths_are_odd() {
    let task = task_by_name("modular-arithmetic").unwrap();
    let mut rng = kleene_langs::seeded_rng(11);
    for len in 1..=30 {
        let ex = task.sample(len, len, &mut rng).unwrap();
        let symbols = ex.tokens.len() - 1;
        assert_eq!(symbols, if len % 2 == 0 { len - 1 } else { len });
        assert_eq!(*ex.tokens.last().unwrap(), 9);
        for (i, &t) in ex.tokens[..symbols].iter().enumerate() {
            if i % 2 == 0 {
                assert!(t < 5);
            } else {
                assert!([5, 6, 7].contains(&t), "operator {t}");
            }
        }
    }
}

#[test]
fn splits_follow_the_paper() {
    let task = registered("A5");
    let splits = task.splits();
    assert_eq!(splits[0].name, "train");
    assert_eq!((splits[0].min_len, splits[0].max_len), (1, 40));
    assert_eq!(splits.len(), 501);
    assert_eq!(splits[500].name, "test-500");
    assert_eq!(
        (splits[500].min_len, splits[500].max_len, splits[500].size),
        (500, 500, 512)
    );
}
