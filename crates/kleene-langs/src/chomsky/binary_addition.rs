//! Binary addition (CS): DM's `tasks/cs/binary_addition.py`.

use rand_chacha::ChaCha8Rng;

use super::binary_numbers::{parse_operands, sample_operands, terminated, Operands, TERMINATION};
use super::transduction::{Level, Transduction};

/// `binary_addition`: two little-endian binary numbers separated by `+`; the output is
/// their sum in little-endian binary without high zeros, the termination class, zeros.
///
/// - input symbols `0`, `1`, `+` (id 2); classes `0`, `1`, `END` (id 2);
/// - output length `n + 1`; DM's accuracy mask stops after the termination class
///   ([`crate::Task::accuracy_mask`]);
/// - length unit: DM's input length `n` (`sample_batch(length = n)`), both operands and
///   the separator;
/// - sampling (`n >= 3`): `ℓ₁ ~ U{1..n-2}`, `ℓ₂ = n-1-ℓ₁`, operands uniform on
///   `1..2^ℓ-1` written in exactly ℓ bits; `n <= 2` is DM's short case: one number
///   below `2^n - 1` in `n` bits, no separator, output that number.
///
/// Example: `[0,0,1,2,0,1,1,0,1]` (4 + 22) `-> [0,1,0,1,1,2,0,0,0,0]` (26).
#[derive(Clone, Copy, Debug, Default)]
pub struct BinaryAddition;

fn sum_output(operands: &Operands, output_len: usize) -> Vec<u32> {
    let value = match operands {
        Operands::Single(c) => c.clone(),
        Operands::Pair(a, b) => a.add(b),
    };
    terminated(value.le_bits_trimmed(), output_len)
}

impl Transduction for BinaryAddition {
    fn name(&self) -> String {
        "binary-addition".into()
    }
    fn description(&self) -> String {
        "a+b in little-endian binary; the sum in little-endian binary, END, zeros".into()
    }
    fn level(&self) -> Level {
        Level::Cs
    }
    fn symbols(&self) -> Vec<String> {
        ["0", "1", "+"].map(String::from).to_vec()
    }
    fn classes(&self) -> Vec<String> {
        ["0", "1", "END"].map(String::from).to_vec()
    }
    fn output_length(&self, len: usize) -> usize {
        len + 1
    }
    fn termination_class(&self) -> Option<u32> {
        Some(TERMINATION)
    }
    fn sample(&self, len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        let (input, operands) = sample_operands(len, rng);
        (input, sum_output(&operands, len + 1))
    }
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String> {
        let operands = parse_operands(input)?;
        Ok(sum_output(&operands, input.len() + 1))
    }
}
