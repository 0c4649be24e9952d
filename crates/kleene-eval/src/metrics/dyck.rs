//! Bounded-Dyck close accuracy (Sarrof et al. 2024, `bounded_dyck_expt/src/reporter.py`,
//! after Hewitt et al. 2020 / Yao et al. 2021).
//!
//! Walk the input left to right, pushing open brackets and popping close brackets (any
//! other token, e.g. START, leaves the stack unchanged). At every position where the stack
//! is non-empty after reading the token, the prediction is **correct** iff the model's
//! probability of the bracket that closes the top of the stack, divided by its total
//! probability over all closing brackets, exceeds `threshold` (0.8 in the paper). The
//! softmax in the original is over all outputs, but the ratio only involves the
//! closing-bracket logits, so it is computed as a softmax over those alone.
//!
//! close accuracy = correct / scored positions, a micro average over all qualifying
//! positions of the split. Breakdowns: by stack depth, by distance to the unmatched open
//! bracket (the original's `diff{distance}`), and by input length bucket.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{check_rows, row};
use crate::EvalError;

/// Which token ids open and close brackets. `close[i]` closes `open[i]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DyckVocab {
    pub open: Vec<u32>,
    pub close: Vec<u32>,
}

impl DyckVocab {
    /// The layout of the Sarrof / Hewitt code for `k` bracket types: opens `0..k`,
    /// closes `k..2k` (START = 2k and END = 2k+1 are neither).
    pub fn sarrof(k: usize) -> Self {
        DyckVocab {
            open: (0..k as u32).collect(),
            close: (k as u32..2 * k as u32).collect(),
        }
    }

    fn check(&self) -> Result<(), EvalError> {
        if self.open.is_empty() || self.open.len() != self.close.len() {
            return Err(EvalError::option(
                "dyck_vocab",
                format!(
                    "needs as many closing as opening brackets (and at least one), got {} and {}",
                    self.open.len(),
                    self.close.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Options of the close-accuracy metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloseAccuracyConfig {
    /// Probability-mass threshold on the matching closing bracket. Default 0.8 (`P_THRESHOLD`).
    pub threshold: f64,
    /// Width of the input-length buckets of [`CloseAccuracy::by_length`]. Default 100.
    pub length_bucket: usize,
}

impl Default for CloseAccuracyConfig {
    fn default() -> Self {
        CloseAccuracyConfig {
            threshold: 0.8,
            length_bucket: 100,
        }
    }
}

/// Correct / total at scored positions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub correct: u64,
    pub total: u64,
}

impl Counts {
    fn add(&mut self, ok: bool) {
        self.total += 1;
        self.correct += u64::from(ok);
    }

    /// correct / total (0 when empty).
    pub fn accuracy(&self) -> f64 {
        super::accuracy::ratio(self.correct as f64, self.total as f64)
    }
}

/// Close accuracy of a split with its breakdowns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CloseAccuracy {
    pub overall: Counts,
    /// Keyed by stack depth after reading the position's token (1..=m).
    pub by_depth: BTreeMap<usize, Counts>,
    /// Keyed by position − position of the unmatched open bracket on top of the stack.
    pub by_distance: BTreeMap<usize, Counts>,
    /// Keyed by the first length of the input-length bucket (`len / width * width`).
    pub by_length: BTreeMap<usize, Counts>,
    /// Sequences walked.
    pub sequences: u64,
}

impl CloseAccuracy {
    /// The headline number: correct / scored positions.
    pub fn accuracy(&self) -> f64 {
        self.overall.accuracy()
    }

    /// Scores one sequence: `tokens` are the model inputs (`len`), `logits` its outputs
    /// `(len, dim)`. `sequence` only names the sequence in errors.
    pub fn add_sequence(
        &mut self,
        tokens: &[u32],
        logits: &[f32],
        dim: usize,
        vocab: &DyckVocab,
        config: &CloseAccuracyConfig,
        sequence: usize,
    ) -> Result<(), EvalError> {
        vocab.check()?;
        if config.length_bucket == 0 {
            return Err(EvalError::option("length_bucket", "must be at least 1"));
        }
        check_rows(
            logits,
            tokens.len(),
            dim,
            &format!("logits of sequence {sequence}"),
        )?;
        if let Some(&c) = vocab.close.iter().find(|&&c| c as usize >= dim) {
            return Err(EvalError::shape(
                "closing-bracket id",
                format!("< model output size {dim}"),
                c,
            ));
        }
        let bucket = tokens.len() / config.length_bucket * config.length_bucket;
        // Stack of (bracket type, position of the open bracket).
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for (t, &tok) in tokens.iter().enumerate() {
            if let Some(i) = vocab.open.iter().position(|&o| o == tok) {
                stack.push((i, t));
            } else if let Some(i) = vocab.close.iter().position(|&c| c == tok) {
                match stack.pop() {
                    Some((j, _)) if j == i => {}
                    Some((j, _)) => {
                        return Err(EvalError::NotInLanguage {
                            sequence,
                            position: t,
                            reason: format!(
                                "closing bracket {tok} does not match open bracket {}",
                                vocab.open[j]
                            ),
                        })
                    }
                    None => {
                        return Err(EvalError::NotInLanguage {
                            sequence,
                            position: t,
                            reason: format!("closing bracket {tok} with nothing open"),
                        })
                    }
                }
            }
            let Some(&(top, opened_at)) = stack.last() else {
                continue;
            };
            let out = row(logits, dim, t);
            let close_logits: Vec<f32> = vocab.close.iter().map(|&c| out[c as usize]).collect();
            let p = super::softmax(&close_logits);
            let ok = p[top] > config.threshold;
            self.overall.add(ok);
            self.by_depth.entry(stack.len()).or_default().add(ok);
            self.by_distance.entry(t - opened_at).or_default().add(ok);
            self.by_length.entry(bucket).or_default().add(ok);
        }
        self.sequences += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_accuracy_matches_hand_count() {
        // k = 2: opens 0,1; closes 2,3; START = 4. Input: START ( [ ] ) ( -> ids 4 0 1 3 2 0.
        let vocab = DyckVocab::sarrof(2);
        let tokens = [4u32, 0, 1, 3, 2, 0];
        let dim = 6;
        let mut logits = vec![0.0f32; tokens.len() * dim];
        // t0: stack empty -> not scored.
        // t1: top = '(' closes with id 2: give id 2 logit 3 vs id 3 logit 0 -> p = e^3/(e^3+1) = 0.9526 > 0.8 ok.
        logits[dim + 2] = 3.0;
        // t2: top = '[' closes with id 3: logits 1 vs 0 -> p = 0.731 < 0.8 wrong.
        logits[2 * dim + 3] = 1.0;
        // t3: after ']' top = '(' (close 2): logits equal -> p = 0.5 wrong.
        // t4: after ')' stack empty -> not scored.
        // t5: '(' opened at 5 -> close 2: huge mass on an open bracket must not matter.
        logits[5 * dim] = 50.0;
        logits[5 * dim + 2] = 2.0;
        let mut acc = CloseAccuracy::default();
        acc.add_sequence(
            &tokens,
            &logits,
            dim,
            &vocab,
            &CloseAccuracyConfig::default(),
            0,
        )
        .unwrap();
        assert_eq!(
            acc.overall,
            Counts {
                correct: 2,
                total: 4
            }
        );
        assert_eq!(
            acc.by_depth[&1],
            Counts {
                correct: 2,
                total: 3
            }
        );
        assert_eq!(
            acc.by_depth[&2],
            Counts {
                correct: 0,
                total: 1
            }
        );
        // distances: t1 -> 0, t2 -> 0, t3 -> 2 (open at 1), t5 -> 0.
        assert_eq!(
            acc.by_distance[&0],
            Counts {
                correct: 2,
                total: 3
            }
        );
        assert_eq!(
            acc.by_distance[&2],
            Counts {
                correct: 0,
                total: 1
            }
        );
        assert_eq!(acc.by_length[&0].total, 4);
        assert!((acc.accuracy() - 0.5).abs() < 1e-12);

        // A lower threshold accepts the 0.731 position too.
        let mut lo = CloseAccuracy::default();
        let cfg = CloseAccuracyConfig {
            threshold: 0.7,
            length_bucket: 4,
        };
        lo.add_sequence(&tokens, &logits, dim, &vocab, &cfg, 0)
            .unwrap();
        assert_eq!(lo.overall.correct, 3);
        assert_eq!(lo.by_length[&4].total, 4);
    }

    #[test]
    fn brute_force_ratio_agrees_on_random_logits() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let vocab = DyckVocab::sarrof(3);
        let dim = 8;
        // ( ( [ { } ] ... a valid prefix: 0 0 1 2 5 4
        let tokens = [0u32, 0, 1, 2, 5, 4];
        let logits: Vec<f32> = (0..tokens.len() * dim)
            .map(|_| rng.random_range(-3.0..3.0))
            .collect();
        let mut acc = CloseAccuracy::default();
        acc.add_sequence(
            &tokens,
            &logits,
            dim,
            &vocab,
            &CloseAccuracyConfig::default(),
            0,
        )
        .unwrap();
        // Brute force: full softmax over all dims, then the ratio, with the stack tops
        // written out by hand: ( , (( , (([ , (([{ , (([ , ((.
        let tops = [0usize, 0, 1, 2, 1, 0];
        let mut want = 0;
        for (t, &top) in tops.iter().enumerate() {
            let r = &logits[t * dim..(t + 1) * dim];
            let z: f64 = r.iter().map(|&v| (v as f64).exp()).sum();
            let p: Vec<f64> = r.iter().map(|&v| (v as f64).exp() / z).collect();
            let close_mass: f64 = (3..6).map(|c| p[c]).sum();
            if p[3 + top] / close_mass > 0.8 {
                want += 1;
            }
        }
        assert_eq!(acc.overall.total, 6);
        assert_eq!(acc.overall.correct, want);
    }

    #[test]
    fn unmatched_closing_bracket_is_an_error() {
        let vocab = DyckVocab::sarrof(2);
        let e = CloseAccuracy::default()
            .add_sequence(
                &[0, 3],
                &[0.0; 8],
                4,
                &vocab,
                &CloseAccuracyConfig::default(),
                9,
            )
            .unwrap_err();
        assert!(e.to_string().contains("sequence 9, position 1"), "{e}");
    }
}
