//! Modular arithmetic without brackets, with ordinary precedence.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::common::FinalLabelLanguage;

/// `modular_arithmetic` (SD-SSM, modulus 5): tokens `0..m` are digits, `m` = '+',
/// `m+1` = '-', `m+2` = '*', `m+3` = '_' (a blank that is never sampled but is part of
/// the vocabulary, V = m + 4). Digits sit at even positions, operators (uniform over
/// `+`, `*`, `-`) at odd ones, so strings have odd length; an even requested length
/// `L` becomes `L - 1`. Label = value mod m with `*` binding tighter than `+` and
/// `-`, and `-` negating the term after it. Reduction is exact mod m (the original's
/// int32 overflow at ~27 chained factors is not reproduced).
#[derive(Clone, Copy, Debug)]
pub struct ModularArithmetic {
    modulus: u32,
}

impl ModularArithmetic {
    /// Panics unless `2 <= modulus <= 64`.
    pub fn new(modulus: usize) -> Self {
        assert!((2..=64).contains(&modulus), "modulus must be in 2..=64");
        ModularArithmetic {
            modulus: modulus as u32,
        }
    }
    pub fn modulus(&self) -> u32 {
        self.modulus
    }
    pub fn plus(&self) -> u32 {
        self.modulus
    }
    pub fn minus(&self) -> u32 {
        self.modulus + 1
    }
    pub fn times(&self) -> u32 {
        self.modulus + 2
    }
}

impl FinalLabelLanguage for ModularArithmetic {
    fn name(&self) -> String {
        if self.modulus == 5 {
            "modular-arithmetic".into()
        } else {
            format!("modular-arithmetic-{}", self.modulus)
        }
    }
    fn description(&self) -> String {
        format!(
            "SD-SSM arithmetic without brackets: digits and + - *, value mod {}",
            self.modulus
        )
    }
    fn symbols(&self) -> Vec<String> {
        let mut v: Vec<String> = (0..self.modulus).map(|d| d.to_string()).collect();
        v.extend(["+", "-", "*", "_"].map(String::from));
        v
    }
    fn classes(&self) -> Vec<String> {
        (0..self.modulus).map(|d| d.to_string()).collect()
    }
    fn num_symbols(&self) -> u32 {
        self.modulus + 4
    }
    fn effective_len(&self, len: usize) -> usize {
        if len.is_multiple_of(2) {
            len.saturating_sub(1)
        } else {
            len
        }
    }
    fn valid_len(&self, len: usize) -> bool {
        len % 2 == 1
    }
    fn sample_symbols(&self, len: usize, rng: &mut ChaCha8Rng, out: &mut Vec<u32>) {
        let ops = [self.plus(), self.times(), self.minus()];
        out.reserve(len);
        for i in 0..len {
            if i % 2 == 0 {
                out.push(rng.random_range(0..self.modulus));
            } else {
                out.push(ops[rng.random_range(0..3u32) as usize]);
            }
        }
    }
    /// Sum over '+'/'-'-separated terms of the product of their factors, mod m, read as
    /// DeepMind's `_evaluate_expression` (tasks/regular/modular_arithmetic.py) reads any
    /// input, sampled or not, step for step:
    /// 1. a blank at an operator (odd) position is `+`, at a digit (even) position `0`;
    /// 2. every `-` becomes `+` and negates the token after it (`.at[2:].multiply(1 - 2 *
    ///    mask[1:-1])`: a `-` at position 0 negates nothing);
    /// 3. terms are split at every `+` (at any position, counted up to each even position);
    ///    the even-position tokens of a term are multiplied (so any other token at an
    ///    operator position, a digit included, acts as `*`; a term with no factor counts
    ///    1, as `segment_prod`'s empty product); the terms up to the last one are summed.
    ///
    /// Products and sums are reduced mod m exactly (upstream's int32 products could overflow
    /// after about 27 non-zero factors; sampled strings never get near, spec
    /// regular-tasks-sdssm.md §2.4).
    fn label(&self, symbols: &[u32]) -> u32 {
        let m = i64::from(self.modulus);
        if symbols.is_empty() {
            return 0;
        }
        let (plus, minus, blank) = (m, m + 1, m + 3);
        let mut e: Vec<i64> = symbols
            .iter()
            .enumerate()
            .map(|(i, &s)| match i64::from(s) {
                s if s == blank && i % 2 == 1 => plus,
                s if s == blank => 0,
                s => s,
            })
            .collect();
        if e.len() >= 2 {
            let negates: Vec<bool> = e.iter().map(|&x| x == minus).collect();
            for x in e.iter_mut().filter(|x| **x == minus) {
                *x = plus;
            }
            for i in 1..e.len() - 1 {
                if negates[i] {
                    e[i + 1] = -e[i + 1];
                }
            }
        }
        // Term id of each even position: the `+`s at positions 0..=2i.
        let mut pluses = 0usize;
        let mut products: Vec<i64> = vec![1; e.len() / 2 + 1];
        let mut last_term = 0usize;
        for (i, &x) in e.iter().enumerate() {
            if x == plus {
                pluses += 1;
            }
            if i % 2 == 0 {
                if let Some(p) = products.get_mut(pluses) {
                    *p = (*p * x.rem_euclid(m)).rem_euclid(m);
                }
                last_term = pluses;
            }
        }
        let total: i64 = products
            .iter()
            .take(last_term + 1)
            .fold(0, |acc, p| (acc + p).rem_euclid(m));
        total as u32
    }
}
