//! Associative recall, induction heads and MQAR: answers checked by independent scans.

use std::collections::{HashMap, HashSet};

use kleene_langs::synthetics::{
    safari_vocab, AssociativeRecall, AssociativeRecallConfig, InductionHead, Mqar, MqarConfig,
};
use kleene_langs::{seeded_rng, task_by_name, Example, Target, Task};
use proptest::prelude::*;

fn masked(ex: &Example) -> (&[u32], &[bool]) {
    match &ex.target {
        Target::Masked { classes, mask } => (classes, mask),
        other => panic!("expected a masked target, got {other:?}"),
    }
}

/// Rebuilds the full sequence from a shifted example.
fn full_sequence(ex: &Example) -> Vec<u32> {
    let (classes, _) = masked(ex);
    let mut seq = ex.tokens.clone();
    seq.push(*classes.last().unwrap());
    assert_eq!(&seq[1..], classes, "classes are the tokens shifted by one");
    seq
}

#[test]
fn safari_vocab_is_sorted_lexicographically() {
    let v = safari_vocab(40);
    assert_eq!(v.len(), 40);
    assert_eq!(&v[..5], &[".", "0", "1", "10", "11"]);
    assert_eq!(v[39], "=>");
    let mut sorted = v.clone();
    sorted.sort();
    assert_eq!(sorted, v, "the whole vocabulary is in string order");
}

/// Independent check of one AR sequence: returns the answer found by scanning.
fn scan_ar(seq: &[u32], vocab: usize, pairs: usize) -> u32 {
    let keys = (vocab as u32 - 2) / 2;
    let copy = vocab as u32 - 1;
    assert_eq!(seq.len(), 2 * pairs + 3);
    let mut bound: HashMap<u32, u32> = HashMap::new();
    for pair in seq[..2 * pairs].chunks(2) {
        let (k, v) = (pair[0], pair[1]);
        assert!((1..=keys).contains(&k), "key {k}");
        assert!((keys + 1..=vocab as u32 - 2).contains(&v), "value {v}");
        // A key is always bound to the same value within one example.
        assert_eq!(*bound.entry(k).or_insert(v), v);
    }
    assert_eq!(seq[2 * pairs], copy);
    let query = seq[2 * pairs + 1];
    *bound
        .get(&query)
        .expect("the query key occurred in the context")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ar_answer_is_the_bound_value(seed in any::<u64>(), small in any::<bool>()) {
        let config = if small { AssociativeRecallConfig::vocab_size_10() } else { AssociativeRecallConfig::default() };
        let (v, l) = (config.vocab_size, config.input_seq_len);
        let task = AssociativeRecall::new(config).unwrap();
        let ex = task.sample(l, l, &mut seeded_rng(seed)).unwrap();
        let seq = full_sequence(&ex);
        prop_assert_eq!(scan_ar(&seq, v, l / 2), *seq.last().unwrap());
        let (_, mask) = masked(&ex);
        prop_assert!(mask[..mask.len() - 1].iter().all(|m| !m) && mask[mask.len() - 1]);
    }

    #[test]
    fn ih_answer_follows_the_first_copy_token(seed in any::<u64>(), len in 3usize..300) {
        let task = InductionHead::default();
        let ex = task.sample(len, len, &mut seeded_rng(seed)).unwrap();
        let seq = full_sequence(&ex);
        prop_assert_eq!(seq.len(), len + 2);
        let copy = 15u32;
        let marks: Vec<usize> = (0..seq.len()).filter(|&i| seq[i] == copy).collect();
        prop_assert_eq!(marks.len(), 2, "exactly two `=>`");
        prop_assert_eq!(marks[1], len);
        prop_assert!(marks[0] <= len - 3);
        prop_assert_eq!(seq[len + 1], seq[marks[0] + 1]);
        prop_assert!(seq.iter().all(|&t| (1..=15).contains(&t)));
    }

    #[test]
    fn mqar_answers_are_the_bound_values(seed in any::<u64>(), seg in 0usize..12, random_fill in any::<bool>()) {
        let config = MqarConfig { random_non_queries: random_fill, ..MqarConfig::default() };
        let segment = config.segments[seg].clone();
        let v = config.vocab_size as u32;
        let task = Mqar::new(config).unwrap();
        let (len, kv) = (segment.input_seq_len, segment.num_kv_pairs);
        let ex = task.example(len, kv, &mut seeded_rng(seed)).unwrap();
        let (classes, mask) = masked(&ex);
        prop_assert_eq!(ex.tokens.len(), len);
        prop_assert!(ex.tokens.iter().all(|&t| t < v));
        // Scan the context.
        let mut bound = HashMap::new();
        let mut values = HashSet::new();
        for pair in ex.tokens[..2 * kv].chunks(2) {
            prop_assert!((1..v / 2).contains(&pair[0]));
            prop_assert!((v / 2..v).contains(&pair[1]));
            prop_assert!(bound.insert(pair[0], pair[1]).is_none(), "distinct keys");
            prop_assert!(values.insert(pair[1]), "distinct values");
        }
        // Every key is queried exactly once, at an even offset after the context, and
        // the target there is its value.
        let mut queried = HashSet::new();
        for t in 0..len {
            if mask[t] {
                prop_assert!(t >= 2 * kv && (t - 2 * kv) % 2 == 0);
                let key = ex.tokens[t];
                prop_assert_eq!(Some(&classes[t]), bound.get(&key));
                prop_assert!(queried.insert(key));
            } else if !random_fill && t >= 2 * kv {
                prop_assert_eq!(ex.tokens[t], 0);
            }
        }
        prop_assert_eq!(queried.len(), kv);
    }
}

#[test]
fn train_split_scores_every_position_and_dedups() {
    let task = AssociativeRecall::new(AssociativeRecallConfig {
        num_examples: 3000,
        num_test_examples: 300,
        ..AssociativeRecallConfig::vocab_size_10()
    })
    .unwrap();
    let splits = task.splits();
    let train = task.generate_split(&splits[0], 1).unwrap();
    let test = task.generate_split(&splits[1], 1).unwrap();
    assert_eq!((train.len(), test.len()), (3000, 300));
    assert!(train.iter().all(|ex| masked(ex).1.iter().all(|&m| m)));
    assert!(test
        .iter()
        .all(|ex| masked(ex).1.iter().filter(|&&m| m).count() == 1));
    let distinct: HashSet<Vec<u32>> = train.iter().map(full_sequence).collect();
    assert_eq!(distinct.len(), 3000, "exact duplicates removed");
    for ex in &test {
        let seq = full_sequence(ex);
        assert_eq!(scan_ar(&seq, 10, 10), *seq.last().unwrap());
    }
}

#[test]
fn dedup_reports_an_exhausted_space() {
    // vocab 4: one key, one value, so a single possible sequence per length.
    let task = AssociativeRecall::new(AssociativeRecallConfig {
        vocab_size: 4,
        input_seq_len: 2,
        num_examples: 2,
        ..AssociativeRecallConfig::default()
    })
    .unwrap();
    assert!(task.generate_split(&task.splits()[0], 0).is_err());
}

#[test]
fn mqar_gaps_follow_the_power_law() {
    // With a = 0.01 queries cluster right after the context; with a = 1 they are uniform.
    let mean_gap = |a: f64| {
        let task = Mqar::new(MqarConfig {
            power_a: a,
            random_non_queries: false,
            ..MqarConfig::default()
        })
        .unwrap();
        let mut rng = seeded_rng(4);
        let mut sum = 0usize;
        let mut n = 0usize;
        for _ in 0..200 {
            let ex = task.example(256, 16, &mut rng).unwrap();
            let (_, mask) = masked(&ex);
            for t in (0..256).filter(|&t| mask[t]) {
                sum += (t - 32) / 2;
                n += 1;
            }
        }
        sum as f64 / n as f64
    };
    let (power, uniform) = (mean_gap(0.01), mean_gap(1.0));
    // Uniform gaps over 0..112: mean 55.5.
    assert!((uniform - 55.5).abs() < 3.0, "uniform mean gap {uniform}");
    assert!(power < uniform - 15.0, "power-law mean gap {power}");
}

#[test]
fn registered_and_deterministic() {
    for name in [
        "associative-recall",
        "associative_recall_vs10",
        "induction-head",
        "mqar",
    ] {
        let task = task_by_name(name).unwrap();
        let mut split = task.splits()[0].clone();
        split.size = 50;
        let a = task.generate_split(&split, 9).unwrap();
        assert_eq!(a, task.generate_split(&split, 9).unwrap(), "{name}");
        assert_ne!(a, task.generate_split(&split, 10).unwrap(), "{name}");
        let v = task.vocab().len() as u32;
        for ex in &a {
            assert!(ex.tokens.iter().all(|&t| t < v));
            assert_eq!(masked(ex).0.len(), ex.tokens.len());
        }
    }
}
