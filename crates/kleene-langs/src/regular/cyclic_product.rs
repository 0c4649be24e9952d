//! Cyclic groups C_n and the direct product C2 x C_n of the SD-SSM paper.

use super::common::{numbered, FinalLabelLanguage};

/// C2 x C_n (`C_2_n` in the SD-SSM code; C2xC4 and C2xC30 in the paper): symbols
/// 0 = toggle, 1 = move. The original's direction `1 ** toggle` is always +1, so the
/// generators commute: label = `n * (#zeros mod 2) + (#ones mod n)`, start (0, 0).
#[derive(Clone, Copy, Debug)]
pub struct CyclicProduct {
    n: u32,
}

impl CyclicProduct {
    /// Panics if `n == 0`.
    pub fn new(n: usize) -> Self {
        assert!(n >= 1, "C2 x C_n needs n >= 1");
        CyclicProduct { n: n as u32 }
    }
}

impl FinalLabelLanguage for CyclicProduct {
    fn name(&self) -> String {
        format!("c2xc{}", self.n)
    }
    fn description(&self) -> String {
        format!(
            "SD-SSM C2xC{n}: toggle/move on a {n}-cycle (commuting), final state of 2*{n}",
            n = self.n
        )
    }
    fn symbols(&self) -> Vec<String> {
        numbered(2)
    }
    fn classes(&self) -> Vec<String> {
        numbered(2 * self.n as usize)
    }
    fn num_symbols(&self) -> u32 {
        2
    }
    fn label(&self, symbols: &[u32]) -> u32 {
        let ones = symbols.iter().map(|&s| s as usize).sum::<usize>();
        let zeros = symbols.len() - ones;
        self.n * (zeros % 2) as u32 + (ones % self.n as usize) as u32
    }
}

/// The cyclic group C_n with one generator: symbols 0 = identity, 1 = generator;
/// label = number of ones mod n (C2 is parity).
#[derive(Clone, Copy, Debug)]
pub struct CyclicGroup {
    n: u32,
}

impl CyclicGroup {
    /// Panics if `n < 2`.
    pub fn new(n: usize) -> Self {
        assert!(n >= 2, "C_n needs n >= 2");
        CyclicGroup { n: n as u32 }
    }
}

impl FinalLabelLanguage for CyclicGroup {
    fn name(&self) -> String {
        format!("c{}", self.n)
    }
    fn description(&self) -> String {
        format!(
            "cyclic group C{n}: identity/generator, number of generators mod {n}",
            n = self.n
        )
    }
    fn symbols(&self) -> Vec<String> {
        numbered(2)
    }
    fn classes(&self) -> Vec<String> {
        numbered(self.n as usize)
    }
    fn num_symbols(&self) -> u32 {
        2
    }
    fn label(&self, symbols: &[u32]) -> u32 {
        (symbols.iter().map(|&s| s as usize).sum::<usize>() % self.n as usize) as u32
    }
}
