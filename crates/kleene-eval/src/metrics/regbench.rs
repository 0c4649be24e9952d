//! REGBENCH metrics (Akyürek et al. 2024, `seq_icl` notebook functions
//! `get_greedy_dfa_accuracy` and `get_l1_loss`).
//!
//! Per input position `t` the task's oracle gives the set `A_t` of symbols the DFA allows
//! after the current string (`Task::next_symbol_sets`). The "true" PFA next-symbol
//! distribution is uniform over `A_t` (REGBENCH samples outgoing edges uniformly):
//! `p*_t(v) = 1/|A_t|` for `v ∈ A_t`, else 0 (separator and padding included).
//! - **accuracy**: the greedy prediction `argmax_v p_model(v)` (over all outputs, ties to
//!   the lowest id) lies in `A_t`; micro average over positions. With the default all
//!   positions are scored (the paper's figures); restricting to the target mask gives the
//!   training-time `dfa_accuracy`, which skips positions whose true next token is `|`.
//! - **TVD**: mean over positions of `½ Σ_v |softmax(logits_t)_v − p*_t(v)|` over all outputs.
//! - **greedy generation acceptance**: after a problem's prefix and a separator, decode
//!   greedily until the separator or a length cap; the sample is accepted iff every
//!   generated symbol is allowed where it was generated (the DFA accepts every string that
//!   never leaves its partial transition function: all states are accepting).

use kleene_langs::regbench::dfa::{Dfa, NUM_SYMBOLS};
use kleene_langs::regbench::{RegbenchProblem, SEPARATOR, VOCAB_SIZE};
use kleene_langs::Task;
use serde::{Deserialize, Serialize};

use super::{argmax, check_rows, row, softmax};
use crate::EvalError;

/// Supplies, for example `i`, the tokens its language allows after every prefix of a
/// token sequence: `allowed(i, tokens)[t][v]` says whether `v` may follow `tokens[..=t]`.
/// The sequence may extend the example's own tokens (greedy generation asks about them).
pub trait NextTokenOracle {
    /// `None` when the oracle has no answer for this example.
    fn allowed(&self, example: usize, tokens: &[u32]) -> Option<Vec<Vec<bool>>>;
}

/// A task whose language is fixed (`Task::next_symbol_sets`, the same for every example).
pub struct TaskOracle<'a>(pub &'a dyn Task);

impl NextTokenOracle for TaskOracle<'_> {
    fn allowed(&self, _example: usize, tokens: &[u32]) -> Option<Vec<Vec<bool>>> {
        self.0.next_symbol_sets(tokens)
    }
}

/// REGBENCH: every problem carries its own DFA; example `i` is `problems[i]`.
impl NextTokenOracle for [RegbenchProblem] {
    fn allowed(&self, example: usize, tokens: &[u32]) -> Option<Vec<Vec<bool>>> {
        self.get(example).map(|p| regbench_allowed(&p.dfa, tokens))
    }
}

/// The REGBENCH allowed sets over the 20 token ids for any token sequence under `dfa`:
/// the separator restarts at the start state; after a rejected prefix nothing is allowed.
/// Agrees with `RegbenchProblem::allowed_next` on a problem's own input.
pub fn regbench_allowed(dfa: &Dfa, tokens: &[u32]) -> Vec<Vec<bool>> {
    let mut state = Some(dfa.start());
    tokens
        .iter()
        .map(|&tok| {
            state = if tok == SEPARATOR {
                Some(dfa.start())
            } else {
                state.and_then(|s| {
                    let sym = tok.wrapping_sub(1);
                    if (sym as usize) < NUM_SYMBOLS {
                        dfa.next(s, sym as u8)
                    } else {
                        None
                    }
                })
            };
            let mask = state.map_or(0, |s| dfa.allowed_mask(s) << 1);
            (0..VOCAB_SIZE).map(|v| mask >> v & 1 == 1).collect()
        })
        .collect()
}

/// Accumulated REGBENCH accuracy and TVD.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegbenchCounts {
    pub positions: u64,
    pub correct: u64,
    pub tvd_sum: f64,
    pub sequences: u64,
}

impl RegbenchCounts {
    /// Adds all counts of `other`.
    pub fn merge(&mut self, other: &RegbenchCounts) {
        self.positions += other.positions;
        self.correct += other.correct;
        self.tvd_sum += other.tvd_sum;
        self.sequences += other.sequences;
    }

    /// Fraction of positions whose greedy prediction the DFA allows.
    pub fn accuracy(&self) -> f64 {
        super::accuracy::ratio(self.correct as f64, self.positions as f64)
    }

    /// Mean total-variation distance to the PFA next-symbol distribution.
    pub fn tvd(&self) -> f64 {
        super::accuracy::ratio(self.tvd_sum, self.positions as f64)
    }

    /// Adds one sequence. `logits` is `(len, dim)`, `allowed[t]` the oracle set after
    /// `tokens[..=t]` (at most `dim` symbols; missing ids count as not allowed), `scored`
    /// an optional mask of positions to include. `sequence` names the sequence in errors.
    pub fn add_sequence(
        &mut self,
        logits: &[f32],
        dim: usize,
        allowed: &[Vec<bool>],
        scored: Option<&[bool]>,
        sequence: usize,
    ) -> Result<(), EvalError> {
        let len = allowed.len();
        check_rows(logits, len, dim, &format!("logits of sequence {sequence}"))?;
        if let Some(m) = scored {
            super::accuracy::expect_len("scored-position mask", len, m.len())?;
        }
        for (t, set) in allowed.iter().enumerate() {
            if scored.is_some_and(|m| !m[t]) {
                continue;
            }
            if set.len() > dim {
                return Err(EvalError::shape(
                    format!("allowed set of sequence {sequence} at position {t}"),
                    format!("at most {dim} symbols"),
                    set.len(),
                ));
            }
            let n_allowed = set.iter().filter(|&&a| a).count();
            if n_allowed == 0 {
                return Err(EvalError::EmptyAllowedSet {
                    sequence,
                    position: t,
                });
            }
            let out = row(logits, dim, t);
            let pred = argmax(out);
            self.correct += u64::from(set.get(pred).copied().unwrap_or(false));
            let p = softmax(out);
            let q = 1.0 / n_allowed as f64;
            let l1: f64 = p
                .iter()
                .enumerate()
                .map(|(v, &pv)| {
                    let target = if set.get(v).copied().unwrap_or(false) {
                        q
                    } else {
                        0.0
                    };
                    (pv - target).abs()
                })
                .sum();
            self.tvd_sum += 0.5 * l1;
            self.positions += 1;
        }
        self.sequences += 1;
        Ok(())
    }
}

/// Whether a generated string is accepted: `allowed[i]` is the oracle set in force when
/// `generated[i]` was produced.
pub fn generation_accepted(generated: &[u32], allowed: &[Vec<bool>]) -> Result<bool, EvalError> {
    super::accuracy::expect_len(
        "allowed sets for generated tokens",
        generated.len(),
        allowed.len(),
    )?;
    Ok(generated
        .iter()
        .zip(allowed)
        .all(|(&g, set)| set.get(g as usize).copied().unwrap_or(false)))
}

/// Greedy-generation results over a split.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationCounts {
    pub samples: u64,
    pub accepted: u64,
    /// Samples that hit the length cap before producing the separator.
    pub hit_cap: u64,
    /// Sum of generated lengths (separator excluded).
    pub generated_tokens: u64,
}

impl GenerationCounts {
    /// Fraction of samples accepted by their DFA.
    pub fn acceptance(&self) -> f64 {
        super::accuracy::ratio(self.accepted as f64, self.samples as f64)
    }

    /// Mean generated length.
    pub fn mean_length(&self) -> f64 {
        super::accuracy::ratio(self.generated_tokens as f64, self.samples as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_and_tvd_match_hand_computation() {
        // dim 3; position 0 allows {0,1}, position 1 allows {2}.
        let allowed = vec![vec![true, true, false], vec![false, false, true]];
        // p0 = softmax(ln 2, ln 1, ln 1) = (0.5, 0.25, 0.25): argmax 0 allowed.
        // TVD0 = ½(|0.5−0.5| + |0.25−0.5| + |0.25−0|) = 0.25.
        // p1 = softmax(0,0,0) = (1/3,1/3,1/3): argmax 0 (tie -> lowest) not allowed.
        // TVD1 = ½(1/3 + 1/3 + 2/3) = 2/3.
        let logits = [2f32.ln(), 0.0, 0.0, 0.0, 0.0, 0.0];
        let mut c = RegbenchCounts::default();
        c.add_sequence(&logits, 3, &allowed, None, 0).unwrap();
        assert_eq!((c.correct, c.positions), (1, 2));
        let want_tvd = (0.25 + 2.0 / 3.0) / 2.0;
        assert!((c.tvd() - want_tvd).abs() < 1e-6, "{}", c.tvd());
        // Scoring only position 1 (the dfa_accuracy variant with a mask).
        let mut m = RegbenchCounts::default();
        m.add_sequence(&logits, 3, &allowed, Some(&[false, true]), 0)
            .unwrap();
        assert_eq!((m.correct, m.positions), (0, 1));
        assert!((m.tvd() - 2.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn oracle_distribution_has_zero_tvd_and_full_accuracy() {
        // Logits = log of the uniform distribution over the allowed set (−inf elsewhere
        // approximated by −100).
        let allowed = vec![
            vec![false, true, true, true],
            vec![true, false, false, false],
        ];
        let logits = [-100.0f32, 0.0, 0.0, 0.0, 0.0, -100.0, -100.0, -100.0];
        let mut c = RegbenchCounts::default();
        c.add_sequence(&logits, 4, &allowed, None, 0).unwrap();
        assert_eq!(c.accuracy(), 1.0);
        assert!(c.tvd() < 1e-6);
    }

    #[test]
    fn empty_allowed_set_and_bad_shapes_are_errors() {
        let mut c = RegbenchCounts::default();
        let e = c
            .add_sequence(&[0.0; 2], 2, &[vec![false, false]], None, 5)
            .unwrap_err();
        assert!(matches!(
            e,
            EvalError::EmptyAllowedSet {
                sequence: 5,
                position: 0
            }
        ));
        assert!(c
            .add_sequence(&[0.0; 3], 2, &[vec![true]], None, 0)
            .is_err());
    }

    #[test]
    fn generation_acceptance_checks_every_symbol() {
        let allowed = vec![vec![false, true], vec![true, false]];
        assert!(generation_accepted(&[1, 0], &allowed).unwrap());
        assert!(!generation_accepted(&[1, 1], &allowed).unwrap());
        assert!(!generation_accepted(&[7, 0], &allowed).unwrap());
        assert!(generation_accepted(&[], &[]).unwrap());
    }
}
