//! DM's Chomsky tasks: every generated example agrees with an independent oracle
//! (tests/chomsky_common), at training lengths and at test lengths up to 500, and the
//! sampling distributions have DM's shape (uniform splits, operators, masked index).

mod chomsky_common;

use chomsky_common::{decode, dm_output_length, oracle, TASKS};
use kleene_langs::{seeded_rng, task_by_name};

/// Samples `per_len` examples at each length and compares them with the oracle.
fn agree_with_oracle(name: &str, lengths: &[usize], per_len: usize, seed: u64) {
    let task = task_by_name(name).unwrap();
    let mut rng = seeded_rng(seed);
    for &n in lengths {
        for _ in 0..per_len {
            let example = task.sample(n, n, &mut rng).unwrap();
            let (input, output) = decode(task.as_ref(), &example);
            assert_eq!(input.len(), n, "{name}: input length");
            assert_eq!(output.len(), dm_output_length(name, n), "{name}: n = {n}");
            assert_eq!(output, oracle(name, &input), "{name}: input {input:?}");
            task.check_example(&example)
                .unwrap_or_else(|e| panic!("{name}: {e} on {input:?}"));
        }
    }
}

#[test]
fn every_task_agrees_with_the_oracle_at_training_lengths() {
    let lengths: Vec<usize> = (1..=40).collect();
    for name in TASKS {
        agree_with_oracle(name, &lengths, 40, 7);
    }
}

#[test]
fn every_task_agrees_with_the_oracle_at_test_lengths() {
    // Around the 64- and 128-bit limb boundaries of the binary tasks, and DM's maximum.
    let lengths = [
        41, 63, 64, 65, 66, 127, 128, 129, 130, 200, 257, 333, 499, 500,
    ];
    for name in TASKS {
        agree_with_oracle(name, &lengths, 4, 11);
    }
}

#[test]
fn binary_tasks_carry_across_64_bit_limbs() {
    // Uniform operands almost never make a 64-bit limb all ones, where a carry must ripple
    // through: all-ones operands and powers of two around the limb widths do.
    let ones = |w: usize| vec![1u32; w];
    let power = |w: usize| {
        let mut v = vec![0u32; w];
        v[w - 1] = 1;
        v
    };
    let mut operands = Vec::new();
    for w in [63, 64, 65, 127, 128, 129, 191, 192, 193] {
        operands.push(ones(w));
        operands.push(power(w));
    }
    operands.push(vec![1]);
    for name in ["binary-addition", "binary-multiplication", "compute-sqrt"] {
        let task = task_by_name(name).unwrap();
        for a in &operands {
            for b in &operands {
                let input = if name == "compute-sqrt" {
                    // Big-endian x = a · 2^|b| + b, a and b read as big-endian bits.
                    [a.as_slice(), b.as_slice()].concat()
                } else {
                    [a.as_slice(), &[2], b.as_slice()].concat()
                };
                let example = encoded(task.vocab().len() as u32 - 1, &input, &oracle(name, &input));
                task.check_example(&example)
                    .unwrap_or_else(|e| panic!("{name}: {} + {} bits: {e}", a.len(), b.len()));
            }
        }
    }
}

/// Encodes by hand: input, `out.len()` empty tokens, mask on them.
fn encoded(empty: u32, input: &[u32], out: &[u32]) -> kleene_langs::Example {
    let n = input.len();
    let mut tokens = input.to_vec();
    tokens.extend(std::iter::repeat_n(empty, out.len()));
    let mut classes = vec![0; n];
    classes.extend_from_slice(out);
    let mask = (0..n + out.len()).map(|p| p >= n).collect();
    kleene_langs::Example {
        tokens,
        target: kleene_langs::Target::Masked { classes, mask },
    }
}

#[test]
fn windows_draw_every_length() {
    for name in TASKS {
        let task = task_by_name(name).unwrap();
        let mut rng = seeded_rng(3);
        let mut seen = [false; 6];
        for _ in 0..300 {
            let example = task.sample(3, 8, &mut rng).unwrap();
            let (input, _) = decode(task.as_ref(), &example);
            assert!((3..=8).contains(&input.len()), "{name}");
            seen[input.len() - 3] = true;
        }
        assert!(seen.iter().all(|&s| s), "{name}: lengths {seen:?}");
    }
}

/// Counts must lie within 5 standard deviations of a uniform draw over `counts.len()`.
fn assert_uniform(what: &str, counts: &[usize]) {
    let total: usize = counts.iter().sum();
    let p = 1.0 / counts.len() as f64;
    let mean = total as f64 * p;
    let sd = (total as f64 * p * (1.0 - p)).sqrt();
    for (i, &c) in counts.iter().enumerate() {
        assert!(
            (c as f64 - mean).abs() < 5.0 * sd,
            "{what}: value {i} drawn {c} times, expected about {mean:.0} (counts {counts:?})"
        );
    }
}

fn inputs(name: &str, n: usize, count: usize, seed: u64) -> Vec<Vec<u32>> {
    let task = task_by_name(name).unwrap();
    let mut rng = seeded_rng(seed);
    (0..count)
        .map(|_| decode(task.as_ref(), &task.sample(n, n, &mut rng).unwrap()).0)
        .collect()
}

#[test]
fn stack_manipulation_draws_the_initial_stack_length_uniformly_in_1_to_n_minus_1() {
    let n = 10;
    let mut counts = vec![0; n - 1];
    for input in inputs("stack-manipulation", n, 9_000, 1) {
        let k = input
            .iter()
            .position(|&t| t >= 2)
            .expect("at least one action");
        counts[k - 1] += 1;
    }
    assert_uniform("stack length", &counts);
}

#[test]
fn stack_manipulation_actions_are_uniform_over_pop_push0_push1() {
    let mut counts = vec![0; 3];
    for input in inputs("stack-manipulation", 12, 3_000, 2) {
        for t in input.into_iter().filter(|&t| t >= 2) {
            counts[t as usize - 2] += 1;
        }
    }
    assert_uniform("actions", &counts);
}

#[test]
fn binary_operands_split_uniformly_in_1_to_n_minus_2() {
    for name in ["binary-addition", "binary-multiplication"] {
        let n = 9;
        let mut counts = vec![0; n - 2];
        for input in inputs(name, n, 7_000, 4) {
            let p = input.iter().position(|&t| t == 2).expect("separator");
            counts[p - 1] += 1;
        }
        assert_uniform(name, &counts);
    }
}

#[test]
fn binary_operands_are_uniform_on_1_to_2_pow_len_minus_1() {
    // n = 5 with the separator at position 2: a has 2 bits (1..=3), b has 2 bits (1..=3).
    let mut counts = vec![0; 9];
    for input in inputs("binary-addition", 5, 20_000, 5) {
        if input[2] == 2 {
            let a = input[0] + 2 * input[1];
            let b = input[3] + 2 * input[4];
            assert!(a >= 1 && b >= 1, "zero operand in {input:?}");
            counts[(3 * (a - 1) + (b - 1)) as usize] += 1;
        }
    }
    assert_uniform("operand pairs", &counts);
}

#[test]
fn missing_duplicate_masks_a_uniform_index() {
    for n in [8, 9] {
        let mut counts = vec![0; 8];
        for input in inputs("missing-duplicate-string", n, 8_000, 6) {
            counts[input.iter().position(|&t| t == 2).unwrap()] += 1;
        }
        assert_uniform("masked index", &counts);
    }
}

/// Whether `input[p]` is a binary `+ - *` (ids 5..=7): it follows a digit or `)`; a `-`
/// after `(` or at the start is the unary minus of `-d`.
fn is_binary_operator(input: &[u32], p: usize) -> bool {
    (5..=7).contains(&input[p]) && p > 0 && (input[p - 1] <= 4 || input[p - 1] == 9)
}

#[test]
fn modular_arithmetic_brackets_operators_are_uniform_over_plus_minus_times() {
    let mut counts = vec![0; 3];
    for input in inputs("modular-arithmetic-brackets", 31, 1_000, 8) {
        for p in (1..input.len()).filter(|&p| is_binary_operator(&input, p)) {
            counts[input[p] as usize - 5] += 1;
        }
    }
    assert_uniform("operators", &counts);
}

#[test]
fn modular_arithmetic_brackets_splits_the_root_uniformly() {
    // n = 9: "(" G(a) op G(5 - a) ")" with a in 1..=5; the operator after G(a) sits at
    // position a + 1 and is the only operator whose left part is exactly G(a).
    let n = 9;
    let mut counts = vec![0; n - 4];
    for input in inputs("modular-arithmetic-brackets", n, 5_000, 9) {
        // Root operator: the one at bracket depth 1.
        let mut depth = 0;
        let root = (0..n)
            .find(|&p| {
                match input[p] {
                    8 => depth += 1,
                    9 => depth -= 1,
                    5..=7 if depth == 1 && is_binary_operator(&input, p) => return true,
                    _ => {}
                }
                false
            })
            .unwrap_or_else(|| panic!("no root operator in {input:?}"));
        counts[root - 2] += 1;
    }
    assert_uniform("root split", &counts);
}

#[test]
fn solve_equation_labels_are_uniform_digits() {
    // The replaced digit is drawn uniformly and independently of the expression's shape.
    let task = task_by_name("solve-equation").unwrap();
    let mut rng = seeded_rng(10);
    let mut counts = vec![0; 5];
    for _ in 0..5_000 {
        let (_, output) = decode(task.as_ref(), &task.sample(3, 20, &mut rng).unwrap());
        counts[output[0] as usize] += 1;
    }
    assert_uniform("labels", &counts);
}

#[test]
fn solve_equation_scans_forward_from_a_uniform_index() {
    // n = 7: E = "(d op d)"; DM's index is uniform on 0..5 and moves forward (cyclically)
    // to a digit, so x replaces the first digit from indices 4, 0, 1 (3/5) and the second
    // from indices 2, 3 (2/5).
    let mut first = 0;
    let total = 5_000;
    for input in inputs("solve-equation", 7, total, 13) {
        match input.iter().position(|&t| t == 9) {
            Some(1) => first += 1,
            Some(3) => {}
            other => panic!("x at {other:?} in {input:?}"),
        }
    }
    let (p, n) = (0.6, total as f64);
    let sd = (n * p * (1.0 - p)).sqrt();
    assert!(
        (first as f64 - n * p).abs() < 5.0 * sd,
        "x first {first} of {total}"
    );
}

#[test]
fn uniform_string_tasks_draw_symbols_uniformly() {
    for (name, k) in [
        ("reverse-string", 2),
        ("duplicate-string", 2),
        ("odds-first", 2),
        ("bucket-sort", 5),
        ("compute-sqrt", 2),
    ] {
        let mut counts = vec![0; k];
        for input in inputs(name, 30, 500, 12) {
            for t in input {
                counts[t as usize] += 1;
            }
        }
        assert_uniform(name, &counts);
    }
}
