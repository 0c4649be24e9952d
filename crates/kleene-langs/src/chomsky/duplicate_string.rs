//! Duplicate string (CS): DM's `tasks/cs/duplicate_string.py`.

use rand_chacha::ChaCha8Rng;

use super::transduction::{check_symbols, numbered, uniform_symbols, Level, Transduction};
use super::{alphabet_size, named};
use crate::LangError;

/// `duplicate_string`: `n` i.i.d. uniform symbols in, the string written twice out.
///
/// - input symbols `0..k` (the paper uses `k = 2`), classes `0..k`;
/// - output length `2n`;
/// - length unit: DM's input length `n` (`sample_batch(length = n)`).
///
/// Example: `[1,0,1] -> [1,0,1,1,0,1]`.
#[derive(Clone, Copy, Debug)]
pub struct DuplicateString {
    vocab_size: u32,
}

impl DuplicateString {
    /// The paper's binary alphabet.
    pub const PAPER_VOCAB_SIZE: u32 = 2;

    /// An alphabet of `vocab_size` symbols (DM's `vocab_size` argument, 1..=65,536).
    pub fn new(vocab_size: u32) -> Result<Self, LangError> {
        Ok(DuplicateString {
            vocab_size: alphabet_size("duplicate-string", vocab_size)?,
        })
    }
}

impl Default for DuplicateString {
    fn default() -> Self {
        DuplicateString {
            vocab_size: Self::PAPER_VOCAB_SIZE,
        }
    }
}

fn twice(input: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(2 * input.len());
    out.extend_from_slice(input);
    out.extend_from_slice(input);
    out
}

impl Transduction for DuplicateString {
    fn name(&self) -> String {
        named("duplicate-string", self.vocab_size, Self::PAPER_VOCAB_SIZE)
    }
    fn description(&self) -> String {
        format!(
            "{} uniform symbols in, the string written twice out",
            self.vocab_size
        )
    }
    fn level(&self) -> Level {
        Level::Cs
    }
    fn symbols(&self) -> Vec<String> {
        numbered(self.vocab_size)
    }
    fn classes(&self) -> Vec<String> {
        numbered(self.vocab_size)
    }
    fn output_length(&self, len: usize) -> usize {
        2 * len
    }
    fn sample(&self, len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        let input = uniform_symbols(self.vocab_size, len, rng);
        let output = twice(&input);
        (input, output)
    }
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String> {
        check_symbols(input, self.vocab_size)?;
        Ok(twice(input))
    }
}
