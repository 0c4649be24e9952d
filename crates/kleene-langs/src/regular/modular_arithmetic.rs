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
    /// Sum over '+'/'-'-separated terms of the product of their factors, mod m.
    /// Tokens that are not operators at odd positions or digits at even positions are
    /// treated as the grammar says (the blank never appears in sampled strings; if it
    /// does it acts as '+').
    fn label(&self, symbols: &[u32]) -> u32 {
        let m = self.modulus;
        let Some((&first, rest)) = symbols.split_first() else {
            return 0;
        };
        let mut total = 0u32;
        let mut term = first % m;
        for pair in rest.chunks_exact(2) {
            let (op, x) = (pair[0], pair[1] % m);
            if op == self.times() {
                term = term * x % m;
            } else {
                total = (total + term) % m;
                term = if op == self.minus() { (m - x) % m } else { x };
            }
        }
        (total + term) % m
    }
}
