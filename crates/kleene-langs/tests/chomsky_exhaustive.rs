//! DM's Chomsky tasks at small lengths, exhaustively:
//! - every string over the input alphabet is accepted by `check_example` iff DM's sampler
//!   can produce it (its support, enumerated here from DM's definitions), and then only
//!   with the independent oracle's output;
//! - the sampler draws exactly that support.

mod chomsky_common;

use std::collections::BTreeSet;

use chomsky_common::{dm_output_length, exact_value, mod5, oracle, TASKS};
use kleene_langs::{seeded_rng, task_by_name, Example, Target};

/// Every string of length `n` over `0..k`.
fn all_strings(k: u32, n: usize) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new()];
    for _ in 0..n {
        out = out
            .into_iter()
            .flat_map(|s| {
                (0..k).map(move |t| {
                    let mut s = s.clone();
                    s.push(t);
                    s
                })
            })
            .collect();
    }
    out
}

/// LE bits of `x` in exactly `width` bits.
fn le_bits(x: u64, width: usize) -> Vec<u32> {
    (0..width).map(|i| ((x >> i) & 1) as u32).collect()
}

/// DM's grammar G(n) as text (`mult` adds `*`), by direct enumeration of its rules.
fn grammar(n: usize, mult: bool) -> Vec<String> {
    let digits: Vec<String> = (0..5).map(|d| d.to_string()).collect();
    match n {
        1 => digits,
        2 => digits.iter().map(|d| format!("-{d}")).collect(),
        3 => digits.iter().map(|d| format!("({d})")).collect(),
        4 => digits.iter().map(|d| format!("(-{d})")).collect(),
        _ => {
            let ops: &[char] = if mult { &['+', '-', '*'] } else { &['+', '-'] };
            let mut out = Vec::new();
            for a in 1..=n - 4 {
                for l in grammar(a, mult) {
                    for r in grammar(n - 3 - a, mult) {
                        for op in ops {
                            out.push(format!("({l}{op}{r})"));
                        }
                    }
                }
            }
            out
        }
    }
}

fn tokens_of(text: &str, symbols: &str) -> Vec<u32> {
    text.chars()
        .map(|c| symbols.find(c).unwrap_or_else(|| panic!("{c}")) as u32)
        .collect()
}

/// DM's support at input length `n`: every input its sampler can produce.
fn support(name: &str, n: usize) -> BTreeSet<Vec<u32>> {
    let mut out = BTreeSet::new();
    match name {
        "reverse-string" | "duplicate-string" | "odds-first" => out.extend(all_strings(2, n)),
        "bucket-sort" => out.extend(all_strings(5, n)),
        "compute-sqrt" => out.extend(all_strings(2, n).into_iter().filter(|s| s.contains(&1))),
        "stack-manipulation" if n == 1 => out.extend([vec![0], vec![1]]),
        "stack-manipulation" => {
            for k in 1..n {
                for stack in all_strings(2, k) {
                    for actions in all_strings(3, n - k) {
                        let mut s = stack.clone();
                        s.extend(actions.iter().map(|a| a + 2));
                        out.insert(s);
                    }
                }
            }
        }
        "missing-duplicate-string" if n == 1 => {
            out.insert(vec![1]);
        }
        "missing-duplicate-string" => {
            for w in all_strings(2, n / 2) {
                for hole in 0..2 * (n / 2) {
                    let mut s = [w.clone(), w.clone()].concat();
                    s[hole] = 2;
                    if n % 2 == 1 {
                        s.push(3);
                    }
                    out.insert(s);
                }
            }
        }
        "binary-addition" | "binary-multiplication" if n <= 2 => {
            out.extend((0..(1u64 << n) - 1).map(|c| le_bits(c, n)));
        }
        "binary-addition" | "binary-multiplication" => {
            for len_a in 1..=n - 2 {
                let len_b = n - 1 - len_a;
                for a in 1..1u64 << len_a {
                    for b in 1..1u64 << len_b {
                        out.insert([le_bits(a, len_a), vec![2], le_bits(b, len_b)].concat());
                    }
                }
            }
        }
        "modular-arithmetic-brackets" => {
            out.extend(grammar(n, true).iter().map(|t| tokens_of(t, "01234+-*()")));
        }
        "solve-equation" if n < 3 => {
            out.insert(vec![0; n]);
        }
        "solve-equation" => {
            for expr in grammar(n - 2, false) {
                let value = mod5(&exact_value(&expr));
                let digit_positions = expr
                    .char_indices()
                    .filter(|(_, c)| c.is_ascii_digit())
                    .map(|(p, _)| p);
                for p in digit_positions {
                    let equation = format!("{}x{}={value}", &expr[..p], &expr[p + 1..]);
                    out.insert(tokens_of(&equation, "01234+-()x="));
                }
            }
        }
        other => panic!("no support for {other}"),
    }
    out
}

/// The input alphabet size DM gives each task.
fn dm_input_size(name: &str) -> u32 {
    match name {
        "reverse-string" | "duplicate-string" | "odds-first" | "compute-sqrt" => 2,
        "binary-addition" | "binary-multiplication" => 3,
        "missing-duplicate-string" => 4,
        "stack-manipulation" | "bucket-sort" => 5,
        "modular-arithmetic-brackets" | "solve-equation" => 11,
        other => panic!("{other}"),
    }
}

/// Encodes by hand: input, `out.len()` empty tokens (id `V_in`), mask on them.
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

/// Longest length checked exhaustively per task (the input space grows as V_in^n).
fn max_exhaustive_len(name: &str) -> usize {
    match name {
        "reverse-string" | "duplicate-string" | "odds-first" | "compute-sqrt" => 10,
        "binary-addition" | "binary-multiplication" => 8,
        "missing-duplicate-string" => 8,
        "stack-manipulation" | "bucket-sort" => 6,
        _ => 5,
    }
}

#[test]
fn check_example_accepts_exactly_the_support_with_the_oracle_output() {
    for name in TASKS {
        let task = task_by_name(name).unwrap();
        let v_in = dm_input_size(name);
        assert_eq!(task.vocab().len() as u32, v_in + 1, "{name}: V_in + empty");
        for n in 1..=max_exhaustive_len(name) {
            let valid = support(name, n);
            let out_len = dm_output_length(name, n);
            let mut accepted = 0;
            for input in all_strings(v_in, n) {
                if valid.contains(&input) {
                    let example = encoded(v_in, &input, &oracle(name, &input));
                    task.check_example(&example)
                        .unwrap_or_else(|e| panic!("{name}: {input:?} rejected: {e}"));
                    accepted += 1;
                } else {
                    let example = encoded(v_in, &input, &vec![0; out_len]);
                    let err = task.check_example(&example).expect_err(name);
                    assert!(
                        err.contains("sampler produces"),
                        "{name}: {input:?} rejected for another reason: {err}"
                    );
                }
            }
            assert_eq!(accepted, valid.len(), "{name}: n = {n}");
        }
    }
}

#[test]
fn expression_tasks_agree_with_the_oracle_on_every_expression_up_to_length_10() {
    // Longer than the exhaustive string check reaches: every string of DM's grammar.
    for name in ["modular-arithmetic-brackets", "solve-equation"] {
        let task = task_by_name(name).unwrap();
        for n in 6..=10 {
            let valid = support(name, n);
            assert!(!valid.is_empty());
            for input in &valid {
                let example = encoded(11, input, &oracle(name, input));
                task.check_example(&example)
                    .unwrap_or_else(|e| panic!("{name}: {input:?}: {e}"));
            }
        }
    }
}

#[test]
fn the_sampler_draws_exactly_the_support() {
    for name in TASKS {
        let task = task_by_name(name).unwrap();
        let mut rng = seeded_rng(21);
        let max_len = if name == "bucket-sort" { 4 } else { 6 };
        for n in 1..=max_len {
            let expected = support(name, n);
            // Every support string has probability >= 1 / (10 |support|) at these lengths.
            let draws = 60 * expected.len() + 100;
            let mut drawn = BTreeSet::new();
            for _ in 0..draws {
                let example = task.sample(n, n, &mut rng).unwrap();
                drawn.insert(example.tokens[..n].to_vec());
            }
            let outside: Vec<_> = drawn.difference(&expected).take(3).collect();
            assert!(
                outside.is_empty(),
                "{name}: n = {n}: outside DM's support: {outside:?}"
            );
            let missed: Vec<_> = expected.difference(&drawn).take(3).collect();
            assert!(
                missed.is_empty(),
                "{name}: n = {n}: never drawn: {missed:?}"
            );
        }
    }
}
