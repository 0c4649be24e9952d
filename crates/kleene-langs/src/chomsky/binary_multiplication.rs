//! Binary multiplication (CS): DM's `tasks/cs/binary_multiplication.py`.

use rand_chacha::ChaCha8Rng;

use super::binary_numbers::{parse_operands, sample_operands, terminated, Operands, TERMINATION};
use super::transduction::{Level, Transduction};

/// `binary_multiplication`: two little-endian binary numbers separated by `*`; the
/// output is their product in little-endian binary without high zeros, the termination
/// class, zeros.
///
/// - input symbols `0`, `1`, `*` (id 2); classes `0`, `1`, `END` (id 2);
/// - output length `n` (not `n + 1`: the product of an ℓ₁-bit and an ℓ₂-bit number has
///   at most `ℓ₁ + ℓ₂ = n - 1` bits); DM's accuracy mask stops after the termination
///   class ([`crate::Task::accuracy_mask`]);
/// - length unit: DM's input length `n` (`sample_batch(length = n)`);
/// - sampling as binary addition; for `n <= 2` DM fixes the output whatever the input:
///   `[END]` for `n = 1`, `[0, END]` for `n = 2`.
///
/// Example: `[0,0,1,2,0,1,1,0,1]` (4 · 22) `-> [0,0,0,1,1,0,1,2,0]` (88).
#[derive(Clone, Copy, Debug, Default)]
pub struct BinaryMultiplication;

fn product_output(operands: &Operands, output_len: usize) -> Vec<u32> {
    let bits = match operands {
        // DM: "arbitrarily set the result to a fixed value" of `n - 1` zeros.
        Operands::Single(_) => vec![0; output_len - 1],
        Operands::Pair(a, b) => a.mul(b).le_bits_trimmed(),
    };
    terminated(bits, output_len)
}

impl Transduction for BinaryMultiplication {
    fn name(&self) -> String {
        "binary-multiplication".into()
    }
    fn description(&self) -> String {
        "a*b in little-endian binary; the product in little-endian binary, END, zeros".into()
    }
    fn level(&self) -> Level {
        Level::Cs
    }
    fn symbols(&self) -> Vec<String> {
        ["0", "1", "*"].map(String::from).to_vec()
    }
    fn classes(&self) -> Vec<String> {
        ["0", "1", "END"].map(String::from).to_vec()
    }
    fn output_length(&self, len: usize) -> usize {
        len
    }
    fn termination_class(&self) -> Option<u32> {
        Some(TERMINATION)
    }
    fn sample(&self, len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        let (input, operands) = sample_operands(len, rng);
        (input, product_output(&operands, len))
    }
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String> {
        let operands = parse_operands(input)?;
        Ok(product_output(&operands, input.len()))
    }
}
