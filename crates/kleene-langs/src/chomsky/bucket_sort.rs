//! Bucket sort (CS): DM's `tasks/cs/bucket_sort.py`.

use rand_chacha::ChaCha8Rng;

use super::transduction::{check_symbols, numbered, uniform_symbols, Level, Transduction};
use super::{alphabet_size, named};
use crate::LangError;

/// `bucket_sort`: `n` i.i.d. uniform symbols in, the same symbols sorted ascending out.
///
/// - input symbols `0..k` (the paper uses `k = 5`), classes `0..k`;
/// - output length `n`;
/// - length unit: DM's input length `n` (`sample_batch(length = n)`).
///
/// Example: `[1,0,2,0,4,1,1,2] -> [0,0,1,1,1,2,2,4]`.
#[derive(Clone, Copy, Debug)]
pub struct BucketSort {
    vocab_size: u32,
}

impl BucketSort {
    /// The paper's alphabet size.
    pub const PAPER_VOCAB_SIZE: u32 = 5;

    /// An alphabet of `vocab_size` symbols (DM's `vocab_size` argument, 1..=65,536).
    pub fn new(vocab_size: u32) -> Result<Self, LangError> {
        Ok(BucketSort {
            vocab_size: alphabet_size("bucket-sort", vocab_size)?,
        })
    }
}

impl Default for BucketSort {
    fn default() -> Self {
        BucketSort {
            vocab_size: Self::PAPER_VOCAB_SIZE,
        }
    }
}

/// Counting sort: the number of each symbol, written out in symbol order. (The test
/// oracle uses a comparison sort.)
fn bucket_sorted(input: &[u32], vocab_size: u32) -> Vec<u32> {
    let mut counts = vec![0usize; vocab_size as usize];
    for &s in input {
        counts[s as usize] += 1;
    }
    let mut out = Vec::with_capacity(input.len());
    for (symbol, &count) in counts.iter().enumerate() {
        out.extend(std::iter::repeat_n(symbol as u32, count));
    }
    out
}

impl Transduction for BucketSort {
    fn name(&self) -> String {
        named("bucket-sort", self.vocab_size, Self::PAPER_VOCAB_SIZE)
    }
    fn description(&self) -> String {
        format!(
            "{} uniform symbols in, the symbols sorted ascending out",
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
        len
    }
    fn sample(&self, len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        let input = uniform_symbols(self.vocab_size, len, rng);
        let output = bucket_sorted(&input, self.vocab_size);
        (input, output)
    }
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String> {
        check_symbols(input, self.vocab_size)?;
        Ok(bucket_sorted(input, self.vocab_size))
    }
}
