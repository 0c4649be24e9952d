//! The parts of its protocol a task declares: the length unit (`Task::input_len`), the
//! accuracy mask and the protocol defaults, against hand-made examples and against the
//! window every task's sampler promises.

use kleene_langs::{
    all_tasks, seeded_rng, task_by_name, Example, PublishedLayout, ReportedAccuracy, Target,
};

/// `sample(lo, hi)` promises a length in `lo..=hi` in the task's unit: `input_len` must
/// measure it in that unit, for every task of the registry and every split window.
#[test]
fn input_len_of_every_sample_lies_in_the_requested_window() {
    let mut checked = 0;
    for info in all_tasks() {
        let task = info.task;
        let mut rng = seeded_rng(5);
        // The first split (usually `train`): later per-length splits may sit at lengths a
        // sampler adjusts (modular arithmetic lowers even lengths, as its paper does).
        for split in task.splits().iter().take(1) {
            // Long windows are capped: the unit, not the size, is under test.
            let hi = split.max_len.min(split.min_len + 60);
            for _ in 0..4 {
                let Ok(e) = task.sample(split.min_len, hi, &mut rng) else {
                    continue;
                };
                // The oracle checks accept what the samplers produce.
                if let Err(reason) = task.check_example(&e) {
                    panic!(
                        "{}: a sampled example fails its check: {reason}",
                        task.name()
                    );
                }
                let n = task.input_len(&e);
                assert!(
                    (split.min_len.max(1)..=hi).contains(&n) || (split.min_len == 0 && n == 0),
                    "{}: split {} window {}..={hi}: input_len {n} ({} tokens)",
                    task.name(),
                    split.name,
                    split.min_len,
                    e.tokens.len()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} samples checked");
}

#[test]
fn input_len_drops_the_query_token_and_the_output_positions() {
    // parity-check with the query token: three symbols then `?` (id 2).
    let parity = task_by_name("parity-check").unwrap();
    let e = Example {
        tokens: vec![1, 0, 1, 2],
        target: Target::Final(0),
    };
    assert_eq!(parity.input_len(&e), 3);
    // duplicate-string: input [0, 1, 1], then 2n = 6 empty tokens (id 2).
    let dup = task_by_name("duplicate-string").unwrap();
    let mut mask = vec![false; 3];
    mask.extend([true; 6]);
    let e = Example {
        tokens: vec![0, 1, 1, 2, 2, 2, 2, 2, 2],
        target: Target::Masked {
            classes: vec![0, 0, 0, 0, 1, 1, 0, 1, 1],
            mask,
        },
    };
    dup.check_example(&e).unwrap();
    assert_eq!(dup.input_len(&e), 3);
    // flip-flop: two tokens per instruction/bit pair.
    let ff = task_by_name("flipflop").unwrap();
    let e = ff.sample(10, 10, &mut seeded_rng(1)).unwrap();
    assert_eq!((e.tokens.len(), ff.input_len(&e)), (20, 10));
    // A plain task counts tokens.
    let tomita = task_by_name("tomita-3").unwrap();
    let e = tomita.sample(7, 7, &mut seeded_rng(1)).unwrap();
    assert_eq!(tomita.input_len(&e), e.tokens.len());
}

#[test]
fn accuracy_mask_of_binary_addition_stops_at_end_and_reverse_has_none() {
    // binary-addition: 1 + 1 (little-endian) = [0, 1], then END (class 2); output length
    // n + 1 = 4 for the input [1, +, 1] (symbols 0 1 +, empty token 3).
    let add = task_by_name("binary-addition").unwrap();
    let e = Example {
        tokens: vec![1, 2, 1, 3, 3, 3, 3],
        target: Target::Masked {
            classes: vec![0, 0, 0, 0, 1, 2, 0],
            mask: vec![false, false, false, true, true, true, true],
        },
    };
    add.check_example(&e).unwrap();
    assert_eq!(
        add.accuracy_mask(&e).unwrap(),
        [false, false, false, true, true, true, false]
    );
    let reverse = task_by_name("reverse-string").unwrap();
    let e = reverse.sample(4, 4, &mut seeded_rng(2)).unwrap();
    assert_eq!(reverse.accuracy_mask(&e), None);
}

#[test]
fn protocols_declared_by_the_tasks() {
    let proto = |name: &str| task_by_name(name).unwrap().protocol();
    assert_eq!(
        proto("reverse-string").reported_accuracy,
        ReportedAccuracy::Token
    );
    assert_eq!(
        proto("tomita-3").reported_accuracy,
        ReportedAccuracy::Sequence
    );
    assert!(proto("bounded-dyck").close_accuracy);
    assert!(!proto("Dyck-1").close_accuracy);
    assert!(proto("regbench").regbench.is_some());
    assert!(proto("regbench-1k").regbench.is_some());
    assert!(proto("parity-check").regbench.is_none());
    let layout = |name: &str| task_by_name(name).unwrap().published_layout();
    assert!(matches!(
        layout("flipflop"),
        Some(PublishedLayout::FlipFlop(_))
    ));
    assert!(matches!(
        layout("bounded-dyck"),
        Some(PublishedLayout::BoundedDyck(_))
    ));
    assert_eq!(layout("reverse-string"), None);
}

/// Step 4 of issue 16: `check_example` recomputes the label of every family from the
/// input. One valid example per family, then a corrupted label that must be named.
fn corrupted(name: &str, mut corrupt: impl FnMut(&mut Example)) -> String {
    let task = task_by_name(name).unwrap();
    let split = &task.splits()[0];
    let mut e = task
        .sample(
            split.min_len,
            split.max_len.min(split.min_len + 20),
            &mut seeded_rng(9),
        )
        .unwrap();
    task.check_example(&e).unwrap();
    corrupt(&mut e);
    task.check_example(&e).unwrap_err()
}

#[test]
fn corrupted_labels_are_caught_with_their_position() {
    // parity-check: the final label flipped.
    let err = corrupted("parity-check", |e| {
        let Target::Final(c) = &mut e.target else {
            unreachable!()
        };
        *c = 1 - *c;
    });
    assert!(err.contains("the oracle says"), "{err}");
    // associative recall: the answer (a value id) moved to another value.
    let mut at = 0;
    let err = corrupted("associative-recall", |e| {
        let Target::Masked { classes: c, .. } = &mut e.target else {
            unreachable!()
        };
        let last = c.len() - 1;
        // Values are ids 20..=38 for vocab 40: stay among them.
        c[last] = if c[last] == 38 { 20 } else { c[last] + 1 };
        at = last;
    });
    assert!(
        err.contains(&format!("position {at}")) && err.contains("oracle"),
        "{err}"
    );
    // induction head: the copied token changed.
    let err = corrupted("induction-head", |e| {
        let Target::Masked { classes: c, .. } = &mut e.target else {
            unreachable!()
        };
        let last = c.len() - 1;
        c[last] = if c[last] == 1 { 2 } else { 1 };
    });
    assert!(
        err.contains("answer class") && err.contains("oracle"),
        "{err}"
    );
    // MQAR: one answer changed.
    let err = corrupted("mqar", |e| {
        let Target::Masked { classes, mask } = &mut e.target else {
            unreachable!()
        };
        let p = mask.iter().rposition(|&m| m).unwrap();
        classes[p] = if classes[p] == 1 { 2 } else { 1 };
    });
    assert!(err.contains("has value"), "{err}");
    // REGBENCH: a next-token class that disagrees with the next input token.
    let err = corrupted("regbench", |e| {
        let Target::Masked { classes, .. } = &mut e.target else {
            unreachable!()
        };
        classes[0] = if classes[0] == 1 { 2 } else { 1 };
    });
    assert!(
        err.contains("position 0") && err.contains("next input token"),
        "{err}"
    );
    // A next-token class of a synthetic task that is not the following input token.
    let err = corrupted("induction-head", |e| {
        let Target::Masked { classes, .. } = &mut e.target else {
            unreachable!()
        };
        classes[0] = if classes[0] == 1 { 2 } else { 1 };
    });
    assert!(err.contains("position 0"), "{err}");
}
