//! Odds first (CS): DM's `tasks/cs/odds_first.py`.

use rand_chacha::ChaCha8Rng;

use super::transduction::{check_symbols, numbered, uniform_symbols, Level, Transduction};
use super::{alphabet_size, named};
use crate::LangError;

/// Which half of the string comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OddsFirstOrder {
    /// DM's code (`output = [s[1::2], s[::2]]`): 0-based **odd** indices first. The
    /// default, for parity with the repository.
    Code,
    /// The paper and DM's docstring (`s_1 s_3 s_5 ... s_2 s_4 ...`, 1-based): 0-based
    /// **even** indices first. Same difficulty, different test vectors.
    Paper,
}

/// `odds_first`: `n` i.i.d. uniform symbols in, the symbols at one parity of index
/// followed by those at the other parity out (see [`OddsFirstOrder`]).
///
/// - input symbols `0..k` (the paper uses `k = 2`), classes `0..k`;
/// - output length `n`;
/// - length unit: DM's input length `n` (`sample_batch(length = n)`).
///
/// Example (code order): `[0,0,1,1,0,1,0,1] -> [0,1,1,1,0,1,0,0]`.
#[derive(Clone, Copy, Debug)]
pub struct OddsFirst {
    vocab_size: u32,
    order: OddsFirstOrder,
}

impl OddsFirst {
    /// The paper's binary alphabet.
    pub const PAPER_VOCAB_SIZE: u32 = 2;

    /// An alphabet of `vocab_size` symbols (1..=65,536) and an order.
    pub fn new(vocab_size: u32, order: OddsFirstOrder) -> Result<Self, LangError> {
        Ok(OddsFirst {
            vocab_size: alphabet_size("odds-first", vocab_size)?,
            order,
        })
    }

    /// The order of the halves.
    pub fn order(&self) -> OddsFirstOrder {
        self.order
    }

    fn rearranged(&self, input: &[u32]) -> Vec<u32> {
        let first_parity = match self.order {
            OddsFirstOrder::Code => 1,
            OddsFirstOrder::Paper => 0,
        };
        let at = |parity: usize| input.iter().skip(parity).step_by(2).copied();
        at(first_parity).chain(at(1 - first_parity)).collect()
    }
}

impl Default for OddsFirst {
    fn default() -> Self {
        OddsFirst {
            vocab_size: Self::PAPER_VOCAB_SIZE,
            order: OddsFirstOrder::Code,
        }
    }
}

impl Transduction for OddsFirst {
    fn name(&self) -> String {
        let base = named("odds-first", self.vocab_size, Self::PAPER_VOCAB_SIZE);
        match self.order {
            OddsFirstOrder::Code => base,
            OddsFirstOrder::Paper => format!("{base}-paper-order"),
        }
    }
    fn description(&self) -> String {
        let first = match self.order {
            OddsFirstOrder::Code => "odd",
            OddsFirstOrder::Paper => "even",
        };
        format!(
            "{} uniform symbols in, the symbols at 0-based {first} indices first, then the others",
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
        let output = self.rearranged(&input);
        (input, output)
    }
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String> {
        check_symbols(input, self.vocab_size)?;
        Ok(self.rearranged(input))
    }
}
