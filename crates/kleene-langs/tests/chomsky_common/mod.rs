//! Independent oracles of DM's Chomsky tasks, written from the definitions in
//! shared/spec/chomsky-hierarchy.md §2 and DM's Python, sharing no code with the crate:
//! big integers from `num-bigint`, a general arithmetic evaluator over exact integers,
//! a comparison sort, brute force for the unknown of solve equation.

#![allow(dead_code)]

use kleene_langs::{Example, Target, Task};
use num_bigint::{BigInt, BigUint};

/// DM's output length per task, transcribed from each task's `output_length`.
pub fn dm_output_length(task: &str, n: usize) -> usize {
    match task {
        "reverse-string" | "odds-first" | "bucket-sort" | "binary-multiplication" => n,
        "stack-manipulation" | "binary-addition" => n + 1,
        "duplicate-string" => 2 * n,
        "compute-sqrt" => n.div_ceil(2),
        "modular-arithmetic-brackets" | "solve-equation" | "missing-duplicate-string" => 1,
        other => panic!("no output length for {other}"),
    }
}

/// The oracle's output for `input` (`output_length(n)` classes).
pub fn oracle(task: &str, input: &[u32]) -> Vec<u32> {
    match task {
        "reverse-string" => input.iter().rev().copied().collect(),
        "duplicate-string" => [input, input].concat(),
        "odds-first" => {
            let mut out = Vec::new();
            let mut i = 1;
            while i < input.len() {
                out.push(input[i]);
                i += 2;
            }
            let mut i = 0;
            while i < input.len() {
                out.push(input[i]);
                i += 2;
            }
            out
        }
        "bucket-sort" => {
            let mut v = input.to_vec();
            v.sort_unstable();
            v
        }
        "stack-manipulation" => stack_manipulation(input),
        "missing-duplicate-string" => vec![missing_duplicate(input)],
        "binary-addition" => binary_operation(input, true),
        "binary-multiplication" => binary_operation(input, false),
        "compute-sqrt" => compute_sqrt(input),
        "modular-arithmetic-brackets" => vec![mab_value(input)],
        "solve-equation" => vec![solve_equation(input)],
        other => panic!("no oracle for {other}"),
    }
}

fn stack_manipulation(input: &[u32]) -> Vec<u32> {
    let mut stack: Vec<u32> = Vec::new();
    let mut acting = false;
    for &t in input {
        if t >= 2 {
            acting = true;
        }
        match (acting, t) {
            (false, bit) => stack.push(bit),
            (true, 2) => {
                stack.pop();
            }
            (true, 3) => stack.push(0),
            (true, 4) => stack.push(1),
            (true, other) => panic!("bit {other} after an action"),
        }
    }
    let mut out: Vec<u32> = stack.iter().rev().copied().collect();
    out.push(2);
    while out.len() < input.len() + 1 {
        out.push(0);
    }
    out
}

fn missing_duplicate(input: &[u32]) -> u32 {
    if input == [1] {
        return 1;
    }
    let half = input.len() / 2;
    let hole = input
        .iter()
        .position(|&t| t == 2)
        .expect("a masked position");
    let partner = if hole < half {
        hole + half
    } else {
        hole - half
    };
    input[partner]
}

fn from_bits_le(bits: &[u32]) -> BigUint {
    let digits: Vec<u8> = bits.iter().map(|&b| b as u8).collect();
    BigUint::from_radix_le(&digits, 2).expect("bits")
}

/// Binary addition (`add`) or multiplication, output padded as DM does.
fn binary_operation(input: &[u32], add: bool) -> Vec<u32> {
    let n = input.len();
    let out_len = if add { n + 1 } else { n };
    let mut result: Vec<u32> = match input.iter().position(|&t| t == 2) {
        None if add => from_bits_le(input)
            .to_radix_le(2)
            .into_iter()
            .map(u32::from)
            .collect(),
        // DM fixes the short multiplication result to n - 1 zeros.
        None => vec![0; n - 1],
        Some(p) => {
            let a = from_bits_le(&input[..p]);
            let b = from_bits_le(&input[p + 1..]);
            let value = if add { a + b } else { a * b };
            value.to_radix_le(2).into_iter().map(u32::from).collect()
        }
    };
    result.push(2);
    assert!(result.len() <= out_len, "result wider than the output");
    result.resize(out_len, 0);
    result
}

fn compute_sqrt(input: &[u32]) -> Vec<u32> {
    let digits: Vec<u8> = input.iter().map(|&b| b as u8).collect();
    let x = BigUint::from_radix_be(&digits, 2).expect("bits");
    let root: Vec<u32> = x.sqrt().to_radix_be(2).into_iter().map(u32::from).collect();
    let width = input.len().div_ceil(2);
    assert!(root.len() <= width);
    let mut out = vec![0; width - root.len()];
    out.extend(root);
    out
}

/// Modular arithmetic with brackets' token ids (m = 5) as characters.
pub fn mab_text(tokens: &[u32]) -> String {
    tokens
        .iter()
        .map(|&t| match t {
            0..=4 => char::from(b'0' + t as u8),
            5 => '+',
            6 => '-',
            7 => '*',
            8 => '(',
            9 => ')',
            other => panic!("token {other} in an expression"),
        })
        .collect()
}

/// Solve equation's token ids (m = 5) as characters.
pub fn equation_text(tokens: &[u32]) -> String {
    tokens
        .iter()
        .map(|&t| match t {
            0..=4 => char::from(b'0' + t as u8),
            5 => '+',
            6 => '-',
            7 => '(',
            8 => ')',
            9 => 'x',
            10 => '=',
            other => panic!("token {other} in an equation"),
        })
        .collect()
}

/// Exact integer value of an ordinary arithmetic expression (digits, binary `+ - *` with
/// the usual precedence, unary minus, brackets) by recursive descent over big integers.
pub fn exact_value(text: &str) -> BigInt {
    fn expr(s: &[u8], i: &mut usize) -> BigInt {
        let mut v = term(s, i);
        while *i < s.len() && (s[*i] == b'+' || s[*i] == b'-') {
            let op = s[*i];
            *i += 1;
            let r = term(s, i);
            v = if op == b'+' { v + r } else { v - r };
        }
        v
    }
    fn term(s: &[u8], i: &mut usize) -> BigInt {
        let mut v = factor(s, i);
        while *i < s.len() && s[*i] == b'*' {
            *i += 1;
            v *= factor(s, i);
        }
        v
    }
    fn factor(s: &[u8], i: &mut usize) -> BigInt {
        let c = s[*i];
        *i += 1;
        match c {
            b'-' => -factor(s, i),
            b'(' => {
                let v = expr(s, i);
                assert_eq!(s[*i], b')', "unbalanced brackets in {:?}", s);
                *i += 1;
                v
            }
            d if d.is_ascii_digit() => BigInt::from(d - b'0'),
            other => panic!("unexpected {:?}", other as char),
        }
    }
    let s = text.as_bytes();
    let mut i = 0;
    let v = expr(s, &mut i);
    assert_eq!(i, s.len(), "trailing text in {text}");
    v
}

/// Non-negative residue mod 5.
pub fn mod5(v: &BigInt) -> u32 {
    // `%` truncates toward zero: a negative value leaves a residue in -4..=0.
    let r = v % 5;
    let r = if r < BigInt::from(0) { r + 5 } else { r };
    u32::try_from(r).expect("residue")
}

fn mab_value(tokens: &[u32]) -> u32 {
    mod5(&exact_value(&mab_text(tokens)))
}

/// The unique digit x that makes `E' = v` true (brute force over 0..5); DM's degenerate
/// inputs (length < 3, all zeros) have label 0.
fn solve_equation(tokens: &[u32]) -> u32 {
    if tokens.len() < 3 {
        return 0;
    }
    let text = equation_text(tokens);
    let (lhs, rhs) = text.split_once('=').expect("an `=`");
    let v: u32 = rhs.parse().expect("a digit after `=`");
    let solutions: Vec<u32> = (0..5u32)
        .filter(|&x| mod5(&exact_value(&lhs.replace('x', &x.to_string()))) == v)
        .collect();
    assert_eq!(solutions.len(), 1, "{text} has solutions {solutions:?}");
    solutions[0]
}

/// (input, scored classes, mask) of an encoded example, checking the encoding on the way:
/// the input ends at the first empty token (id `vocab.len() - 1`), every later token is
/// empty, and the mask is true exactly there.
pub fn decode(task: &dyn Task, example: &Example) -> (Vec<u32>, Vec<u32>) {
    let empty = task.vocab().len() as u32 - 1;
    let n = example
        .tokens
        .iter()
        .position(|&t| t == empty)
        .expect("an empty token");
    assert!(example.tokens[n..].iter().all(|&t| t == empty));
    let Target::Masked { classes, mask } = &example.target else {
        panic!("masked target expected");
    };
    for (p, &m) in mask.iter().enumerate() {
        assert_eq!(m, p >= n, "mask at {p} of {:?}", example.tokens);
    }
    assert!(classes[..n].iter().all(|&c| c == 0));
    (example.tokens[..n].to_vec(), classes[n..].to_vec())
}

/// The names of the eleven tasks, in the paper's table order.
pub const TASKS: [&str; 11] = [
    "stack-manipulation",
    "reverse-string",
    "modular-arithmetic-brackets",
    "solve-equation",
    "duplicate-string",
    "missing-duplicate-string",
    "odds-first",
    "binary-addition",
    "binary-multiplication",
    "compute-sqrt",
    "bucket-sort",
];
