//! Missing duplicate (CS): DM's `tasks/cs/missing_duplicate_string.py`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::transduction::{numbered, uniform_symbols, Level, Transduction};

/// Input symbol: the masked position of `ww`.
pub const MASKED: u32 = 2;
/// Input symbol: the padding that makes an odd length.
pub const PADDING: u32 = 3;

/// `missing_duplicate_string`: a binary string `w` written twice with one position
/// replaced by `MASKED`; the output is the bit that was there.
///
/// - input symbols `0`, `1`, `?` (`MASKED` = 2), `#` (`PADDING` = 3); classes `0`, `1`;
/// - output length 1;
/// - length unit: DM's input length `n` (`sample_batch(length = n)`):
///   `|w| = ⌊n/2⌋`, and an odd `n` ends with one `PADDING`;
/// - `n = 1` is DM's fixed case: input `[1]`, output 1.
///
/// Example: `[0,1,1,0,0,2,1,0] -> 1` (w = 0110, index 5).
#[derive(Clone, Copy, Debug, Default)]
pub struct MissingDuplicateString;

impl Transduction for MissingDuplicateString {
    fn name(&self) -> String {
        "missing-duplicate-string".into()
    }
    fn description(&self) -> String {
        "a bit string written twice with one bit masked (odd lengths padded); the masked bit out"
            .into()
    }
    fn level(&self) -> Level {
        Level::Cs
    }
    fn symbols(&self) -> Vec<String> {
        ["0", "1", "?", "#"].map(String::from).to_vec()
    }
    fn classes(&self) -> Vec<String> {
        numbered(2)
    }
    fn output_length(&self, _len: usize) -> usize {
        1
    }
    fn sample(&self, len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        if len == 1 {
            return (vec![1], vec![1]);
        }
        let half = len / 2;
        let w = uniform_symbols(2, half, rng);
        let mut input = Vec::with_capacity(len);
        input.extend_from_slice(&w);
        input.extend_from_slice(&w);
        let index = rng.random_range(0..2 * half as u32) as usize;
        let answer = input[index];
        input[index] = MASKED;
        if len % 2 == 1 {
            input.push(PADDING);
        }
        (input, vec![answer])
    }
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String> {
        let n = input.len();
        if n == 1 {
            return match input[0] {
                1 => Ok(vec![1]),
                t => Err(format!("DM's only input of length 1 is [1], found [{t}]")),
            };
        }
        let half = n / 2;
        let body = &input[..2 * half];
        if n % 2 == 1 && input[n - 1] != PADDING {
            return Err(format!(
                "odd length {n} must end with the padding symbol {PADDING}, found {}",
                input[n - 1]
            ));
        }
        if let Some(p) = body.iter().position(|&t| t > MASKED) {
            return Err(format!(
                "token {} at position {p}: only bits and one masked symbol come before the padding",
                body[p]
            ));
        }
        let masked: Vec<usize> = (0..body.len()).filter(|&p| body[p] == MASKED).collect();
        let [index] = masked[..] else {
            return Err(format!(
                "exactly one masked symbol {MASKED} is needed, found {}",
                masked.len()
            ));
        };
        let twin = (index + half) % (2 * half);
        if let Some(p) = (0..half).find(|&p| p != index % half && body[p] != body[p + half]) {
            return Err(format!(
                "positions {p} and {} differ: the two halves must be the same string",
                p + half
            ));
        }
        Ok(vec![body[twin]])
    }
}
