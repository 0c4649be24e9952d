//! Compute sqrt (CS): DM's `tasks/cs/compute_sqrt.py`.

use rand_chacha::ChaCha8Rng;

use super::binary_numbers::Natural;
use super::transduction::{check_symbols, numbered, Level, Transduction};

/// `compute_sqrt`: a number `x ~ U{1..2^n-1}` in exactly `n` **big-endian** bits
/// (leading zeros kept; the paper says little-endian, the code is big-endian and is
/// followed); the output is `⌊√x⌋` in exactly `⌈n/2⌉` big-endian bits.
///
/// - input symbols `0`, `1`; classes `0`, `1`; no termination class;
/// - output length `⌈n/2⌉`;
/// - length unit: DM's input length `n` (`sample_batch(length = n)`).
///
/// Example: `[1,0,0,1,0,1]` (37) `-> [1,1,0]` (6).
#[derive(Clone, Copy, Debug, Default)]
pub struct ComputeSqrt;

fn sqrt_output(x: &Natural, len: usize) -> Vec<u32> {
    x.isqrt().be_bits(len.div_ceil(2))
}

impl Transduction for ComputeSqrt {
    fn name(&self) -> String {
        "compute-sqrt".into()
    }
    fn description(&self) -> String {
        "x in big-endian binary; floor(sqrt(x)) in big-endian binary, ceil(n/2) bits".into()
    }
    fn level(&self) -> Level {
        Level::Cs
    }
    fn symbols(&self) -> Vec<String> {
        numbered(2)
    }
    fn classes(&self) -> Vec<String> {
        numbered(2)
    }
    fn output_length(&self, len: usize) -> usize {
        len.div_ceil(2)
    }
    fn sample(&self, len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        let x = Natural::random_nonzero(len, rng);
        (x.be_bits(len), sqrt_output(&x, len))
    }
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String> {
        check_symbols(input, 2)?;
        let x = Natural::from_be_bits(input);
        if x.is_zero() {
            return Err("x is at least 1 in DM's sampler, found 0".into());
        }
        Ok(sqrt_output(&x, input.len()))
    }
}
