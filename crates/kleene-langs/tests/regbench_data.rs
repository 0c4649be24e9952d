//! REGBENCH data: membership, disjoint languages, allowed sets, masks, determinism and
//! the distribution statistics of the spec (§1.4, §1.6).

use std::collections::HashSet;

use kleene_langs::regbench::metrics::{pfa_distribution, tvd};
use kleene_langs::regbench::{
    self, LanguageDedup, Regbench, RegbenchConfig, RegbenchProblem, SEPARATOR,
};
use kleene_langs::{seeded_rng, task_by_name, SplitSpec, Target, Task};

fn small() -> Regbench {
    Regbench::new(RegbenchConfig {
        num_examples: 1000,
        num_test_examples: 200,
        ..RegbenchConfig::default()
    })
    .unwrap()
}

fn split(task: &Regbench, name: &str) -> SplitSpec {
    task.splits().into_iter().find(|s| s.name == name).unwrap()
}

#[test]
fn every_string_is_accepted_and_well_formed() {
    let task = small();
    let problems = task.problems(&split(&task, "test"), 7).unwrap();
    assert_eq!(problems.len(), 100);
    for p in &problems {
        let strings = p.strings();
        assert!(
            (10..=19).contains(&strings.len()),
            "{} strings",
            strings.len()
        );
        for w in &strings {
            assert!((1..=49).contains(&w.len()), "string length {}", w.len());
            assert!(p.dfa.accepts(w), "string {w:?} rejected by its DFA");
        }
        assert_ne!(p.sequence[0], SEPARATOR);
        assert_ne!(*p.sequence.last().unwrap(), SEPARATOR);
        assert!(p.sequence.iter().all(|&t| (1..=19).contains(&t)));
    }
}

#[test]
fn train_test_val_languages_are_disjoint() {
    let task = small();
    let pool = task.dfa_pool(3).unwrap();
    assert_eq!(
        (pool.train.len(), pool.test.len(), pool.val.len()),
        (1000, 100, 100)
    );
    // Keys recomputed from scratch (minimise again), independent of the pool's own keys.
    let keys = |v: &[regbench::SampledDfa]| -> Vec<Vec<u8>> {
        v.iter().map(|d| d.dfa.language_key()).collect()
    };
    let (train, test, val) = (keys(&pool.train), keys(&pool.test), keys(&pool.val));
    let all: HashSet<&Vec<u8>> = train.iter().chain(&test).chain(&val).collect();
    assert_eq!(all.len(), 1200, "every language distinct");
    let train_set: HashSet<&Vec<u8>> = train.iter().collect();
    assert!(test.iter().chain(&val).all(|k| !train_set.contains(k)));
}

#[test]
fn without_dedup_small_languages_repeat() {
    // Published behaviour: duplicates are kept. With 5000 DFAs a few tiny languages recur.
    let task = Regbench::new(RegbenchConfig {
        num_examples: 5000,
        num_test_examples: 0,
        dedup: LanguageDedup::None,
        ..RegbenchConfig::default()
    })
    .unwrap();
    let pool = task.dfa_pool(1).unwrap();
    let keys: HashSet<Vec<u8>> = pool.train.iter().map(|d| d.dfa.table_key()).collect();
    assert!(keys.len() < 5000, "expected at least one repeated language");
}

/// Allowed-next sets against a brute-force membership check of `current string + v`.
#[test]
fn allowed_next_matches_membership() {
    let task = small();
    let mut rng = seeded_rng(9);
    for _ in 0..20 {
        let p: RegbenchProblem = task.sample_problem(10, 19, &mut rng);
        let allowed = p.allowed_next();
        let input = p.input();
        assert_eq!(allowed.len(), input.len());
        let mut current: Vec<u8> = Vec::new();
        for (t, &tok) in input.iter().enumerate() {
            if tok == SEPARATOR {
                current.clear();
            } else {
                current.push((tok - 1) as u8);
            }
            for v in 0..20u32 {
                let expect = (1..=18).contains(&v) && {
                    let mut w = current.clone();
                    w.push((v - 1) as u8);
                    p.dfa.accepts(&w)
                };
                assert_eq!(allowed[t] >> v & 1 == 1, expect, "position {t}, token {v}");
            }
            // The true next token is allowed (or is the separator).
            let next = p.sequence[t + 1];
            assert!(next == SEPARATOR || allowed[t] >> next & 1 == 1);
            // The PFA distribution is uniform over the allowed set and sums to one.
            let dist = pfa_distribution(allowed[t]);
            assert!((dist.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(tvd(&dist, allowed[t]).abs() < 1e-12);
        }
    }
}

#[test]
fn examples_are_shifted_and_mask_separator_targets() {
    let task = task_by_name("regbench").unwrap();
    assert_eq!(task.vocab().len(), 20);
    assert_eq!(task.vocab()[0], ".");
    assert_eq!(task.vocab()[1], "a");
    assert_eq!(task.vocab()[19], "|");
    let mut rng = seeded_rng(1);
    let ex = task.sample(10, 19, &mut rng).unwrap();
    let Target::Masked { classes, mask } = &ex.target else {
        panic!("REGBENCH targets are masked")
    };
    assert_eq!(classes.len(), ex.tokens.len());
    assert_eq!(&ex.tokens[1..], &classes[..classes.len() - 1]);
    for (c, m) in classes.iter().zip(mask) {
        assert_eq!(*m, *c != SEPARATOR);
    }
}

#[test]
fn generation_is_deterministic() {
    let task = small();
    let s = split(&task, "val");
    let a = task.generate_split(&s, 5).unwrap();
    let b = task.generate_split(&s, 5).unwrap();
    let c = task.generate_split(&s, 6).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(task
        .generate_split(
            &SplitSpec {
                name: "dev".into(),
                ..s
            },
            5
        )
        .is_err());
}

/// The sanity targets of spec §1.4/§1.6 (from an independent simulation of the
/// published generator): mean minimised states 6.9-7.0, mean sequence ~375 tokens,
/// ~14.5 strings per problem, branching 1/2/3 with frequencies .346/.335/.320.
#[test]
fn distribution_matches_the_published_generator() {
    let task = Regbench::new(RegbenchConfig {
        num_examples: 3000,
        num_test_examples: 0,
        dedup: LanguageDedup::None,
        ..RegbenchConfig::default()
    })
    .unwrap();
    let problems = task.problems(&split(&task, "train"), 11).unwrap();
    let n = problems.len() as f64;
    let states = problems.iter().map(|p| p.dfa.num_states()).sum::<usize>() as f64 / n;
    assert!(
        (6.75..=7.15).contains(&states),
        "mean minimised states {states}"
    );
    let len = problems.iter().map(|p| p.sequence.len()).sum::<usize>() as f64 / n;
    assert!((365.0..=385.0).contains(&len), "mean sequence length {len}");
    let strings = problems.iter().map(|p| p.strings().len()).sum::<usize>() as f64 / n;
    assert!(
        (14.3..=14.7).contains(&strings),
        "strings per problem {strings}"
    );
    let mut branching = [0usize; 4];
    for p in &problems {
        for m in p.allowed_next() {
            branching[m.count_ones() as usize] += 1;
        }
    }
    let total: usize = branching.iter().sum();
    for (b, want) in [(1, 0.346), (2, 0.335), (3, 0.320)] {
        let f = branching[b] as f64 / total as f64;
        assert!((f - want).abs() < 0.02, "branching {b}: {f} vs {want}");
    }
    assert_eq!(branching[0], 0);
}

#[test]
fn largest_setting_has_enough_distinct_languages() {
    let task = task_by_name("regbench-40k").unwrap();
    let sizes: Vec<(String, usize)> = task
        .splits()
        .into_iter()
        .map(|s| (s.name, s.size))
        .collect();
    assert_eq!(
        sizes,
        vec![
            ("train".into(), 40_000),
            ("test".into(), 500),
            ("val".into(), 500)
        ]
    );
    let r = Regbench::with_train_size(40_000);
    let pool = r.dfa_pool(0).unwrap();
    let keys: HashSet<Vec<u8>> = pool
        .train
        .iter()
        .chain(&pool.test)
        .chain(&pool.val)
        .map(|d| d.dfa.table_key())
        .collect();
    assert_eq!(keys.len(), 41_000);
}
