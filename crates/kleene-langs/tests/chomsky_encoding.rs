//! DM's Chomsky tasks as kleene tasks: the worked examples of the spec (§2, §3.1) as
//! literals, the empty-token encoding and its mask, DM's accuracy mask, splits and
//! determinism, `check_example` catching corrupted examples, registry names and errors.

mod chomsky_common;

use chomsky_common::{dm_output_length, TASKS};
use kleene_langs::chomsky::{
    BinaryAddition, BinaryMultiplication, BucketSort, ChomskyConfig, ChomskyTask, ComputeSqrt,
    DuplicateString, Level, MissingDuplicateString, ModularArithmeticBrackets, OddsFirst,
    OddsFirstOrder, ReverseString, SolveEquation, StackManipulation, Transduction,
};
use kleene_langs::{seeded_rng, task_by_name, Example, Target, TargetKind, Task};

fn task(t: impl Transduction + 'static) -> ChomskyTask {
    ChomskyTask::new(t, ChomskyConfig::default())
}

/// Encodes by hand: input, `out.len()` empty tokens (id `v_in`), mask on them.
fn encoded(v_in: u32, input: &[u32], out: &[u32]) -> Example {
    let n = input.len();
    let mut tokens = input.to_vec();
    tokens.extend(std::iter::repeat_n(v_in, out.len()));
    let mut classes = vec![0; n];
    classes.extend_from_slice(out);
    let mask = (0..n + out.len()).map(|p| p >= n).collect();
    Example {
        tokens,
        target: Target::Masked { classes, mask },
    }
}

/// The oracle gives `out`, the crate encodes it as the hand encoding, `check_example`
/// accepts it and rejects every single flipped output class.
fn worked(t: &ChomskyTask, input: &[u32], out: &[u32]) {
    let v_in = t.vocab().len() as u32 - 1;
    assert_eq!(
        t.transduction().solve(input).as_deref(),
        Ok(out),
        "{input:?}"
    );
    let example = encoded(v_in, input, out);
    assert_eq!(t.encode(input, out), example);
    t.check_example(&example).unwrap();
    let v_out = t.classes().len() as u32;
    for i in 0..out.len() {
        let mut bad = example.clone();
        let Target::Masked { classes, .. } = &mut bad.target else {
            unreachable!()
        };
        classes[input.len() + i] = (classes[input.len() + i] + 1) % v_out;
        let err = t.check_example(&bad).expect_err("flipped class");
        assert!(err.contains(&format!("output position {i} ")), "{err}");
    }
}

#[test]
fn spec_worked_examples_dcf() {
    let stack = task(StackManipulation);
    worked(&stack, &[0, 1, 1, 0, 4, 2, 2], &[1, 1, 0, 2, 0, 0, 0, 0]);
    worked(&stack, &[1, 1, 0, 2, 2, 2], &[2, 0, 0, 0, 0, 0, 0]);
    let reverse = task(ReverseString::default());
    worked(&reverse, &[0, 1, 1, 0, 1, 0], &[0, 1, 0, 1, 1, 0]);
    worked(
        &reverse,
        &[1, 0, 0, 1, 0, 1, 0, 1],
        &[1, 0, 1, 0, 1, 0, 0, 1],
    );
    let mab = task(ModularArithmeticBrackets::default());
    worked(&mab, &[8, 3, 7, 8, 6, 2, 9, 9], &[4]); // (3*(-2))
    worked(&mab, &[8, 8, 1, 6, 2, 9, 5, 8, 6, 4, 9, 9], &[0]); // ((1-2)+(-4))
    worked(&mab, &[6, 4], &[1]); // -4
    let solve = task(SolveEquation::default());
    worked(&solve, &[7, 3, 5, 9, 8, 10, 1], &[3]); // (3+x)=1
    worked(&solve, &[7, 7, 9, 6, 4, 8, 5, 1, 8, 10, 2], &[0]); // ((x-4)+1)=2
    worked(&solve, &[9, 10, 4], &[4]); // x=4
    worked(&solve, &[0, 0], &[0]); // DM's degenerate short input
}

#[test]
fn spec_worked_examples_cs() {
    let dup = task(DuplicateString::default());
    worked(&dup, &[1, 0, 1], &[1, 0, 1, 1, 0, 1]);
    worked(
        &dup,
        &[0, 1, 1, 0, 0, 1, 1],
        &[0, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 1],
    );
    let missing = task(MissingDuplicateString);
    worked(&missing, &[0, 1, 1, 0, 0, 2, 1, 0], &[1]);
    worked(&missing, &[1, 0, 1, 1, 2, 1, 3], &[0]);
    worked(&missing, &[1], &[1]);
    let odds = task(OddsFirst::default());
    worked(&odds, &[0, 0, 1, 1, 0, 1, 0, 1], &[0, 1, 1, 1, 0, 1, 0, 0]);
    worked(&odds, &[1, 0, 0], &[0, 1, 0]);
    // The paper's / docstring's order: 00110101 -> 0100 0111.
    let paper = task(OddsFirst::new(2, OddsFirstOrder::Paper).unwrap());
    worked(&paper, &[0, 0, 1, 1, 0, 1, 0, 1], &[0, 1, 0, 0, 0, 1, 1, 1]);
    let add = task(BinaryAddition);
    worked(
        &add,
        &[0, 0, 1, 2, 0, 1, 1, 0, 1],
        &[0, 1, 0, 1, 1, 2, 0, 0, 0, 0],
    );
    worked(
        &add,
        &[1, 0, 0, 1, 2, 0, 0, 0, 0, 0, 1],
        &[1, 0, 0, 1, 0, 1, 2, 0, 0, 0, 0, 0],
    );
    worked(&add, &[0], &[0, 2]);
    worked(&add, &[0, 1], &[0, 1, 2]);
    let mul = task(BinaryMultiplication);
    worked(
        &mul,
        &[0, 0, 1, 2, 0, 1, 1, 0, 1],
        &[0, 0, 0, 1, 1, 0, 1, 2, 0],
    );
    worked(
        &mul,
        &[1, 0, 0, 1, 2, 0, 0, 0, 0, 0, 1],
        &[0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 0],
    );
    worked(&mul, &[0], &[2]);
    worked(&mul, &[0, 1], &[0, 2]);
    let sqrt = task(ComputeSqrt);
    worked(&sqrt, &[1, 0, 0, 1, 0, 1], &[1, 1, 0]);
    worked(&sqrt, &[0, 0, 0, 0, 1, 1, 1], &[0, 0, 1, 0]);
    worked(&sqrt, &[1, 1, 1], &[1, 0]);
    let bucket = task(BucketSort::default());
    worked(
        &bucket,
        &[1, 0, 2, 0, 4, 1, 1, 2],
        &[0, 0, 1, 1, 1, 2, 2, 4],
    );
    worked(
        &bucket,
        &[4, 2, 1, 3, 0, 2, 2, 1, 4],
        &[0, 1, 1, 2, 2, 2, 3, 4, 4],
    );
    // DM's docstring example with vocab_size = 2.
    let binary_sort = task(BucketSort::new(2).unwrap());
    worked(&binary_sort, &[1, 1, 1, 0, 0, 0, 1], &[0, 0, 0, 1, 1, 1, 1]);
}

#[test]
fn spec_wrapper_example_reverse_string() {
    // §3.1: x = [0,1,1], V_in = 2: the model sees [0,1,1,2,2,2], read at the last 3.
    let t = task_by_name("reverse_string").unwrap();
    let example = encoded(2, &[0, 1, 1], &[1, 1, 0]);
    assert_eq!(example.tokens, [0, 1, 1, 2, 2, 2]);
    t.check_example(&example).unwrap();
}

#[test]
fn dm_accuracy_mask_stops_after_the_termination_class() {
    let stack = task(StackManipulation);
    let mask = |t: &ChomskyTask, input: &[u32]| {
        let out = t.transduction().solve(input).unwrap();
        let example = t.encode(input, &out);
        // `None`: accuracy scores the loss's positions, the target's own mask.
        let m = t
            .accuracy_mask(&example)
            .unwrap_or_else(|| match &example.target {
                Target::Masked { mask, .. } => mask.clone(),
                other => panic!("not masked: {other:?}"),
            });
        assert!(m[..input.len()].iter().all(|&b| !b));
        m[input.len()..]
            .iter()
            .map(|&b| u8::from(b))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        mask(&stack, &[0, 1, 1, 0, 4, 2, 2]),
        [1, 1, 1, 1, 0, 0, 0, 0]
    );
    assert_eq!(mask(&stack, &[1, 1, 0, 2, 2, 2]), [1, 0, 0, 0, 0, 0, 0]);
    let add = task(BinaryAddition);
    assert_eq!(
        mask(&add, &[0, 0, 1, 2, 0, 1, 1, 0, 1]),
        [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    );
    let mul = task(BinaryMultiplication);
    assert_eq!(mask(&mul, &[0, 1]), [1, 1]);
    assert_eq!(mask(&mul, &[0]), [1]);
    // Tasks without a termination class score every output position.
    let reverse = task(ReverseString::default());
    assert_eq!(mask(&reverse, &[0, 1, 1]), [1, 1, 1]);
    let out = reverse.transduction().solve(&[0, 1, 1]).unwrap();
    assert_eq!(
        reverse.accuracy_mask(&reverse.encode(&[0, 1, 1], &out)),
        None
    );
}

#[test]
fn vocabularies_classes_and_levels_are_dms() {
    // (name, V_in, V_out, level) from DM's input_size / output_size.
    let expected = [
        ("stack-manipulation", 5, 3, Level::Dcf),
        ("reverse-string", 2, 2, Level::Dcf),
        ("modular-arithmetic-brackets", 11, 5, Level::Dcf),
        ("solve-equation", 11, 5, Level::Dcf),
        ("duplicate-string", 2, 2, Level::Cs),
        ("missing-duplicate-string", 4, 2, Level::Cs),
        ("odds-first", 2, 2, Level::Cs),
        ("binary-addition", 3, 3, Level::Cs),
        ("binary-multiplication", 3, 3, Level::Cs),
        ("compute-sqrt", 2, 2, Level::Cs),
        ("bucket-sort", 5, 5, Level::Cs),
    ];
    let family = kleene_langs::chomsky::tasks();
    assert_eq!(family.len(), expected.len());
    for (info, (name, v_in, v_out, level)) in family.iter().zip(expected) {
        let t = &info.task;
        assert_eq!(t.name(), name);
        assert_eq!(
            t.vocab().len(),
            v_in + 1,
            "{name}: V_in plus the empty token"
        );
        assert_eq!(t.vocab()[v_in], "∅", "{name}");
        assert_eq!(t.classes().len(), v_out, "{name}");
        assert_eq!(t.target_kind(), TargetKind::Masked);
        assert!(t.description().contains(level_tag(level)), "{name}");
    }
}

fn level_tag(level: Level) -> &'static str {
    match level {
        Level::Dcf => "DCF",
        Level::Cs => "CS",
    }
}

#[test]
fn registry_resolves_dm_names_and_class_names() {
    for (dm_name, class_name) in [
        ("stack_manipulation", "StackManipulation"),
        ("reverse_string", "ReverseString"),
        ("modular_arithmetic_brackets", "ModularArithmeticBrackets"),
        ("solve_equation", "SolveEquation"),
        ("duplicate_string", "DuplicateString"),
        ("missing_duplicate_string", "MissingDuplicateString"),
        ("odds_first", "OddsFirst"),
        ("binary_addition", "BinaryAddition"),
        ("binary_multiplication", "BinaryMultiplication"),
        ("compute_sqrt", "ComputeSqrt"),
        ("bucket_sort", "BucketSort"),
    ] {
        let kleene_name = dm_name.replace('_', "-");
        assert_eq!(task_by_name(dm_name).unwrap().name(), kleene_name);
        assert_eq!(task_by_name(class_name).unwrap().name(), kleene_name);
    }
    // The regular task of the same stem is still DM's regular modular arithmetic.
    assert_eq!(
        task_by_name("modular_arithmetic").unwrap().target_kind(),
        TargetKind::Final
    );
}

#[test]
fn the_mask_is_exactly_the_output_positions() {
    for name in TASKS {
        let t = task_by_name(name).unwrap();
        let empty = t.vocab().len() as u32 - 1;
        let mut rng = seeded_rng(5);
        for n in (1..=45).chain([100, 500]) {
            let example = t.sample(n, n, &mut rng).unwrap();
            let out_len = dm_output_length(name, n);
            assert_eq!(example.tokens.len(), n + out_len, "{name}: n = {n}");
            let Target::Masked { classes, mask } = &example.target else {
                panic!("{name}: not masked");
            };
            assert_eq!(mask.iter().filter(|&&m| m).count(), out_len);
            for p in 0..n + out_len {
                assert_eq!(mask[p], p >= n, "{name}: mask at {p}");
                assert_eq!(example.tokens[p] == empty, p >= n, "{name}: token at {p}");
                if p < n {
                    assert_eq!(classes[p], 0);
                }
            }
        }
    }
}

#[test]
fn splits_follow_dms_protocol_windows() {
    for name in TASKS {
        let splits = task_by_name(name).unwrap().splits();
        let windows: Vec<_> = splits
            .iter()
            .map(|s| (s.name.as_str(), s.min_len, s.max_len, s.size))
            .collect();
        assert_eq!(
            windows,
            [("train", 1, 40, 20_000), ("test", 41, 500, 2_000)],
            "{name}"
        );
    }
}

/// Every task with small splits, for generating whole splits in a test.
fn small_tasks() -> Vec<ChomskyTask> {
    let config = ChomskyConfig {
        train_size: 100,
        test_size: 10,
        ..ChomskyConfig::default()
    };
    let c = || config.clone();
    vec![
        ChomskyTask::new(StackManipulation, c()),
        ChomskyTask::new(ReverseString::default(), c()),
        ChomskyTask::new(ModularArithmeticBrackets::default(), c()),
        ChomskyTask::new(SolveEquation::default(), c()),
        ChomskyTask::new(DuplicateString::default(), c()),
        ChomskyTask::new(MissingDuplicateString, c()),
        ChomskyTask::new(OddsFirst::default(), c()),
        ChomskyTask::new(BinaryAddition, c()),
        ChomskyTask::new(BinaryMultiplication, c()),
        ChomskyTask::new(ComputeSqrt, c()),
        ChomskyTask::new(BucketSort::default(), c()),
    ]
}

#[test]
fn same_seed_same_splits_other_seed_other_splits() {
    for t in small_tasks() {
        let a = t.generate_all_splits(42).unwrap();
        let b = t.generate_all_splits(42).unwrap();
        let c = t.generate_all_splits(43).unwrap();
        assert_eq!(a, b, "{}", t.name());
        for ((split, x), (_, y)) in a.iter().zip(&c) {
            assert_ne!(
                x,
                y,
                "{}: split {} equal for two seeds",
                t.name(),
                split.name
            );
        }
        for (split, examples) in &a {
            assert_eq!(examples.len(), split.size);
            for e in examples {
                let n = t.input_len(e);
                assert!((split.min_len..=split.max_len).contains(&n), "{}", t.name());
                t.check_example(e).unwrap();
            }
        }
    }
}

/// An edit of (tokens, classes, mask).
type Corruption<'a> = dyn Fn(&mut Vec<u32>, &mut Vec<u32>, &mut Vec<bool>) + 'a;

#[test]
fn check_example_rejects_corrupted_encodings() {
    let mut rng = seeded_rng(8);
    for t in small_tasks() {
        let name = t.name().to_string();
        for n in [1, 2, 3, 7, 40, 77] {
            let good = t.sample(n, n, &mut rng).unwrap();
            t.check_example(&good).unwrap();
            let out_len = t.output_length(n);
            let empty = t.empty_token();
            let edit = |f: &Corruption<'_>| {
                let mut bad = good.clone();
                let Target::Masked { classes, mask } = &mut bad.target else {
                    unreachable!()
                };
                f(&mut bad.tokens, classes, mask);
                t.check_example(&bad)
            };
            let v_out = t.classes().len() as u32;
            // A flipped output class, at the first and the last output position.
            for p in [n, n + out_len - 1] {
                let err = edit(&|_, c, _| c[p] = (c[p] + 1) % v_out).expect_err(&name);
                assert!(err.contains("oracle says"), "{name}: {err}");
            }
            // The mask moved one position left.
            let err = edit(&|_, _, m| {
                m[n - 1] = true;
                m[n + out_len - 1] = false;
            })
            .expect_err(&name);
            assert!(err.contains("mask"), "{name}: {err}");
            // One empty token too many, one too few.
            edit(&|tok, c, m| {
                tok.push(empty);
                c.push(0);
                m.push(true);
            })
            .expect_err(&name);
            edit(&|tok, c, m| {
                tok.pop();
                c.pop();
                m.pop();
            })
            .expect_err(&name);
            // A class at an unscored input position.
            let err = edit(&|_, c, _| c[0] = 1).expect_err(&name);
            assert!(err.contains("input position 0"), "{name}: {err}");
            // An input token after the empty tokens began.
            if out_len >= 2 {
                edit(&|tok, _, _| tok[n + 1] = 0).expect_err(&name);
            }
        }
    }
}

#[test]
fn check_example_catches_a_corrupted_input_bit() {
    for (t, input) in [
        (task(ReverseString::default()), vec![0, 1, 1, 0, 1]),
        (task(BinaryAddition), vec![1, 0, 1, 2, 1, 1]),
        (task(ComputeSqrt), vec![1, 0, 0, 1, 0, 1]),
    ] {
        let out = t.transduction().solve(&input).unwrap();
        let mut bad = t.encode(&input, &out);
        bad.tokens[0] = 1 - bad.tokens[0];
        assert!(t.check_example(&bad).is_err(), "{}", t.name());
    }
}

#[test]
fn impossible_windows_and_configs_are_errors() {
    let t = task(ReverseString::default());
    let mut rng = seeded_rng(1);
    assert!(t.sample(0, 0, &mut rng).is_err());
    assert!(t.sample(5, 3, &mut rng).is_err());
    let e = t.sample(0, 1, &mut rng).unwrap();
    assert_eq!(t.input_len(&e), 1, "length 0 is raised to DM's minimum 1");
    assert!(ReverseString::new(0).is_err());
    assert!(BucketSort::new(0).is_err());
    assert!(ModularArithmeticBrackets::new(11, true).is_err());
    assert!(SolveEquation::new(1).is_err());
    let empty = Example {
        tokens: vec![],
        target: Target::Masked {
            classes: vec![],
            mask: vec![],
        },
    };
    assert!(t.check_example(&empty).is_err());
}

#[test]
fn parameterised_variants_sample_within_their_alphabets() {
    let mut rng = seeded_rng(4);
    let no_mult = task(ModularArithmeticBrackets::new(5, false).unwrap());
    assert_eq!(no_mult.name(), "modular-arithmetic-brackets-no-mult");
    let reverse3 = task(ReverseString::new(3).unwrap());
    assert_eq!(reverse3.name(), "reverse-string-vocab3");
    let mab7 = task(ModularArithmeticBrackets::new(7, true).unwrap());
    for _ in 0..200 {
        let e = no_mult.sample(5, 40, &mut rng).unwrap();
        assert!(!e.tokens.contains(&7), "no `*` without mult");
        no_mult.check_example(&e).unwrap();
        let e = reverse3.sample(1, 40, &mut rng).unwrap();
        reverse3.check_example(&e).unwrap();
        let e = mab7.sample(1, 40, &mut rng).unwrap();
        mab7.check_example(&e).unwrap();
    }
    // `*` (id 7) is not an operator of the no-mult variant.
    let times = no_mult.encode(&[8, 1, 7, 2, 9], &[2]);
    assert!(no_mult.check_example(&times).is_err());
}

#[test]
fn a_jsonl_file_with_one_corrupted_label_fails_data_check_at_that_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.jsonl");
    for t in small_tasks() {
        let split = &t.splits()[0];
        let mut examples = t.generate_split(split, 3).unwrap();
        examples.truncate(20);
        // Line 8: the first scored class flipped.
        let n = t.input_len(&examples[7]);
        let v_out = t.classes().len() as u32;
        let Target::Masked { classes, .. } = &mut examples[7].target else {
            unreachable!()
        };
        classes[n] = (classes[n] + 1) % v_out;
        kleene_langs::io::write_jsonl(&path, &examples).unwrap();
        let read = kleene_langs::io::read_jsonl(&t, &path).unwrap();
        let errors = kleene_langs::io::check_examples(&t, &path, &read, 10);
        assert_eq!(errors.len(), 1, "{}", t.name());
        let message = errors[0].to_string();
        assert!(
            message.contains("test.jsonl:8: output position 0"),
            "{message}"
        );
    }
}
