//! One REGBENCH problem: its DFA and its sequence, with what the metrics need.

use super::dfa::{Dfa, NUM_SYMBOLS};
use super::{SEPARATOR, VOCAB_SIZE};
use crate::task::{Example, Target};

/// One problem: a minimal DFA and the `|`-joined strings it generated (token ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegbenchProblem {
    pub dfa: Dfa,
    /// The full joined sequence `w1 | w2 | ... | wk` (ids 1..=18 and 19 = `|`).
    pub sequence: Vec<u32>,
}

impl RegbenchProblem {
    /// Model input: every token but the last.
    pub fn input(&self) -> &[u32] {
        &self.sequence[..self.sequence.len().saturating_sub(1)]
    }

    /// Next-token targets: every token but the first.
    pub fn next_tokens(&self) -> &[u32] {
        self.sequence.get(1..).unwrap_or(&[])
    }

    /// The training example: input tokens, next-token classes, and a mask that is false
    /// where the target is the separator (the published labels set those to -100).
    pub fn example(&self) -> Example {
        let classes = self.next_tokens().to_vec();
        let mask = classes.iter().map(|&c| c != SEPARATOR).collect();
        Example {
            tokens: self.input().to_vec(),
            target: Target::Masked { classes, mask },
        }
    }

    /// For each input position `t`, the set of vocabulary ids the DFA allows next, as a
    /// bit mask over ids (bit `v` = token `v`): the symbols defined at the state reached
    /// by the current string (the symbols after the last `|` in `input[..=t]`). Never
    /// contains `.` or `|`. The PFA next-symbol distribution is uniform over this set
    /// ([`super::metrics::pfa_distribution`]).
    pub fn allowed_next(&self) -> Vec<u32> {
        let input = self.input();
        let mut out = Vec::with_capacity(input.len());
        let mut state = Some(self.dfa.start());
        for &tok in input {
            state = if tok == SEPARATOR {
                Some(self.dfa.start())
            } else {
                state.and_then(|s| {
                    let sym = tok.wrapping_sub(1);
                    (sym < NUM_SYMBOLS as u32)
                        .then(|| self.dfa.next(s, sym as u8))
                        .flatten()
                })
            };
            // A rejected prefix (impossible for generated data) allows nothing.
            out.push(state.map_or(0, |s| self.dfa.allowed_mask(s) << 1));
        }
        debug_assert!(out.iter().all(|&m| m >> VOCAB_SIZE == 0));
        out
    }

    /// The strings of the problem as symbol indices `0..18` (for membership checks).
    pub fn strings(&self) -> Vec<Vec<u8>> {
        self.sequence
            .split(|&t| t == SEPARATOR)
            // A token outside 1..=18 maps to an id `accepts` rejects (255) instead of panicking.
            .map(|w| {
                w.iter()
                    .map(|&t| t.wrapping_sub(1).min(255) as u8)
                    .collect()
            })
            .collect()
    }
}
