//! Reverse string (DCF): DM's `tasks/dcf/reverse_string.py`.

use rand_chacha::ChaCha8Rng;

use super::transduction::{check_symbols, numbered, uniform_symbols, Level, Transduction};
use super::{alphabet_size, named};
use crate::LangError;

/// `reverse_string`: `n` i.i.d. uniform symbols in, the same symbols reversed out.
///
/// - input symbols `0..k` (the paper uses `k = 2`), classes `0..k`;
/// - output length `n` (DM's `output_length(n) = n`);
/// - length unit: DM's input length `n` (`sample_batch(length = n)`).
///
/// Example: `[0,1,1,0,1,0] -> [0,1,0,1,1,0]`.
#[derive(Clone, Copy, Debug)]
pub struct ReverseString {
    vocab_size: u32,
}

impl ReverseString {
    /// The paper's binary alphabet.
    pub const PAPER_VOCAB_SIZE: u32 = 2;

    /// An alphabet of `vocab_size` symbols (DM's `vocab_size` argument, 1..=65,536).
    pub fn new(vocab_size: u32) -> Result<Self, LangError> {
        Ok(ReverseString {
            vocab_size: alphabet_size("reverse-string", vocab_size)?,
        })
    }
}

impl Default for ReverseString {
    fn default() -> Self {
        ReverseString {
            vocab_size: Self::PAPER_VOCAB_SIZE,
        }
    }
}

impl Transduction for ReverseString {
    fn name(&self) -> String {
        named("reverse-string", self.vocab_size, Self::PAPER_VOCAB_SIZE)
    }
    fn description(&self) -> String {
        format!(
            "{} uniform symbols in, the string reversed out",
            self.vocab_size
        )
    }
    fn level(&self) -> Level {
        Level::Dcf
    }
    fn symbols(&self) -> Vec<String> {
        numbered(self.vocab_size)
    }
    fn classes(&self) -> Vec<String> {
        numbered(self.vocab_size)
    }
    fn output_length(&self, len: usize) -> usize {
        len
    }
    fn sample(&self, len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        let input = uniform_symbols(self.vocab_size, len, rng);
        let output = input.iter().rev().copied().collect();
        (input, output)
    }
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String> {
        check_symbols(input, self.vocab_size)?;
        Ok(input.iter().rev().copied().collect())
    }
}
