//! Strict / relaxed / token accuracy over class targets and multi-label sets.
//!
//! Definitions (Sarrof et al. 2024, `get_batch_accuracy_mse`, after Bhattamishra et al. 2020):
//! - a position is correct when the predicted class equals the target class
//!   ([`Scoring::Argmax`]: argmax over the outputs, ties to the lowest index; this is also
//!   the "MSE path" convention, where the model regresses one-hot vectors and both the
//!   prediction and the gold class are argmaxes), or when every symbol's sigmoid > 0.5
//!   decision equals the legal-next-symbol set ([`Scoring::MultiLabel`], Bhattamishra's
//!   original multi-hot formulation);
//! - **strict** accuracy: fraction of sequences whose every scored position is correct;
//! - **relaxed** accuracy: mean over sequences of the fraction of correct scored positions
//!   (a macro average, as the Sarrof code sums per-sequence fractions);
//! - **token** accuracy: correct scored positions / all scored positions (micro average;
//!   bounded-Dyck, REGBENCH and masked LM metrics are micro averages).

use kleene_langs::Target;
use serde::{Deserialize, Serialize};

use super::{argmax, check_rows, row};
use crate::EvalError;

/// How one position's output is judged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// Argmax of the outputs equals the target class (CE logits or one-hot MSE regression).
    #[default]
    Argmax,
    /// Per symbol, `sigmoid(output) > 0.5` equals membership in the task's legal-next-symbol
    /// set (`Task::next_symbol_sets`); the position is correct iff all symbols agree.
    MultiLabel,
}

/// Running counts behind strict, relaxed and token accuracy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccuracyCounts {
    /// Sequences with at least one scored position.
    pub sequences: u64,
    /// Sequences whose every scored position is correct.
    pub sequences_correct: u64,
    /// Sum over sequences of (correct positions / scored positions).
    pub relaxed_sum: f64,
    /// Scored positions.
    pub positions: u64,
    /// Correct scored positions.
    pub positions_correct: u64,
    /// Sequences with no scored position (not counted in any average).
    pub empty_sequences: u64,
}

impl AccuracyCounts {
    /// Adds one sequence given the correctness of each of its scored positions.
    pub fn add_sequence(&mut self, correct: &[bool]) {
        let n_ok = correct.iter().filter(|&&c| c).count();
        self.add_tally(correct.len() as u64, n_ok as u64);
    }

    /// Adds one sequence given how many positions were scored and how many were correct.
    pub fn add_tally(&mut self, scored: u64, correct: u64) {
        if scored == 0 {
            self.empty_sequences += 1;
            return;
        }
        self.sequences += 1;
        self.sequences_correct += u64::from(correct == scored);
        self.relaxed_sum += correct as f64 / scored as f64;
        self.positions += scored;
        self.positions_correct += correct;
    }

    /// Adds all counts of `other`.
    pub fn merge(&mut self, other: &AccuracyCounts) {
        self.sequences += other.sequences;
        self.sequences_correct += other.sequences_correct;
        self.relaxed_sum += other.relaxed_sum;
        self.positions += other.positions;
        self.positions_correct += other.positions_correct;
        self.empty_sequences += other.empty_sequences;
    }

    /// Fraction of sequences entirely correct (0 when there are none).
    pub fn strict(&self) -> f64 {
        ratio(self.sequences_correct as f64, self.sequences as f64)
    }

    /// Mean per-sequence fraction of correct positions.
    pub fn relaxed(&self) -> f64 {
        ratio(self.relaxed_sum, self.sequences as f64)
    }

    /// Correct positions over all scored positions.
    pub fn token(&self) -> f64 {
        ratio(self.positions_correct as f64, self.positions as f64)
    }
}

pub(crate) fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// Per position, whether argmax of `logits` (shape `(classes.len(), dim)`) equals the class.
pub fn class_correct(logits: &[f32], dim: usize, classes: &[u32]) -> Result<Vec<bool>, EvalError> {
    check_rows(logits, classes.len(), dim, "logits of a class target")?;
    Ok(classes
        .iter()
        .enumerate()
        .map(|(t, &c)| argmax(row(logits, dim, t)) == c as usize)
        .collect())
}

/// Per position, whether the thresholded outputs (`sigmoid > 0.5`, i.e. `output > 0`) equal
/// the legal-next-symbol set `sets[t]` on every one of its symbols. `dim` may exceed the
/// set size (unused output units are ignored), never fall short of it.
pub fn multilabel_correct(
    logits: &[f32],
    dim: usize,
    sets: &[Vec<bool>],
) -> Result<Vec<bool>, EvalError> {
    check_rows(logits, sets.len(), dim, "logits of a multi-label target")?;
    sets.iter()
        .enumerate()
        .map(|(t, set)| {
            if set.len() > dim {
                return Err(EvalError::shape(
                    format!("next-symbol set at position {t}"),
                    format!("at most {dim} symbols (model output size)"),
                    set.len(),
                ));
            }
            let out = row(logits, dim, t);
            Ok(set
                .iter()
                .zip(out)
                .all(|(&legal, &v)| (sigmoid(v) > 0.5) == legal))
        })
        .collect()
}

/// Logistic function in f64; `sigmoid(v) > 0.5` exactly when `v > 0`.
pub fn sigmoid(v: f32) -> f64 {
    1.0 / (1.0 + (-(v as f64)).exp())
}

/// The correctness of every *scored* position of one sequence under argmax scoring:
/// all positions for [`Target::PerPosition`], the masked-in ones for [`Target::Masked`],
/// the last position for [`Target::Final`]. `logits` has shape `(len, dim)`.
pub fn score_target(
    logits: &[f32],
    len: usize,
    dim: usize,
    target: &Target,
) -> Result<Vec<bool>, EvalError> {
    check_rows(logits, len, dim, "sequence logits")?;
    match target {
        Target::PerPosition(classes) => {
            expect_len("per-position target", len, classes.len())?;
            class_correct(logits, dim, classes)
        }
        Target::Masked { classes, mask } => {
            expect_len("masked target classes", len, classes.len())?;
            expect_len("masked target mask", len, mask.len())?;
            Ok((0..len)
                .filter(|&t| mask[t])
                .map(|t| argmax(row(logits, dim, t)) == classes[t] as usize)
                .collect())
        }
        Target::Final(class) => {
            if len == 0 {
                return Err(EvalError::shape("final target", "a non-empty sequence", 0));
            }
            Ok(vec![argmax(row(logits, dim, len - 1)) == *class as usize])
        }
    }
}

/// Final-token accuracy for one sequence (associative recall, induction heads, SD-SSM):
/// the output at the last position against the last position's class (or the
/// [`Target::Final`] class), whether or not the target masks other positions.
pub fn final_token_correct(
    logits: &[f32],
    len: usize,
    dim: usize,
    target: &Target,
) -> Result<bool, EvalError> {
    check_rows(logits, len, dim, "sequence logits")?;
    if len == 0 {
        return Err(EvalError::shape(
            "final-token target",
            "a non-empty sequence",
            0,
        ));
    }
    let want = match target {
        Target::PerPosition(c) => {
            expect_len("per-position target", len, c.len())?;
            c[len - 1]
        }
        Target::Masked { classes, .. } => {
            expect_len("masked target classes", len, classes.len())?;
            classes[len - 1]
        }
        Target::Final(c) => *c,
    };
    Ok(argmax(row(logits, dim, len - 1)) == want as usize)
}

pub(crate) fn expect_len(what: &str, want: usize, got: usize) -> Result<(), EvalError> {
    if want != got {
        return Err(EvalError::shape(what, format!("length {want}"), got));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds `(len, dim)` logits with a peak of 3.0 at each given class.
    fn peaks(classes: &[usize], dim: usize) -> Vec<f32> {
        let mut v = vec![0.1f32; classes.len() * dim];
        for (t, &c) in classes.iter().enumerate() {
            v[t * dim + c] = 3.0;
        }
        v
    }

    #[test]
    fn strict_relaxed_token_match_hand_counts() {
        // Three sequences: all right (3/3), one wrong (2/3), all wrong (0/2).
        let mut acc = AccuracyCounts::default();
        acc.add_sequence(&[true, true, true]);
        acc.add_sequence(&[true, false, true]);
        acc.add_sequence(&[false, false]);
        acc.add_sequence(&[]);
        assert_eq!(acc.sequences, 3);
        assert_eq!(acc.empty_sequences, 1);
        assert!((acc.strict() - 1.0 / 3.0).abs() < 1e-12);
        // relaxed: (1 + 2/3 + 0) / 3
        assert!((acc.relaxed() - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        // token: 5 correct of 8
        assert!((acc.token() - 5.0 / 8.0).abs() < 1e-12);
        let mut twice = acc.clone();
        twice.merge(&acc);
        assert!((twice.token() - 5.0 / 8.0).abs() < 1e-12);
        assert_eq!(twice.positions, 16);
    }

    #[test]
    fn class_targets_use_argmax() {
        let logits = peaks(&[0, 2, 1], 3);
        assert_eq!(
            class_correct(&logits, 3, &[0, 2, 2]).unwrap(),
            vec![true, true, false]
        );
    }

    #[test]
    fn mse_path_regression_outputs_are_scored_by_argmax() {
        // One-hot regression outputs (not logits): near 1 at the class, near 0 elsewhere,
        // sometimes negative or above 1. Gold = argmax of one-hot = the class id.
        let outputs = [
            0.9f32, 0.2, -0.1, /* t1 */ 0.4, 0.45, 0.1, /* t2 */ -0.2, 0.1, 1.3,
        ];
        let ok = class_correct(&outputs, 3, &[0, 0, 2]).unwrap();
        assert_eq!(ok, vec![true, false, true]);
    }

    #[test]
    fn multilabel_thresholds_each_symbol_at_half() {
        // Two positions, three symbols. Position 0 predicts {0, 2}; position 1 predicts {1}.
        let logits = [2.0f32, -1.0, 0.5, -0.2, 0.3, -4.0];
        let sets = vec![vec![true, false, true], vec![false, true, true]];
        assert_eq!(
            multilabel_correct(&logits, 3, &sets).unwrap(),
            vec![true, false]
        );
        // Brute-force cross-check against the sigmoid definition.
        for (t, set) in sets.iter().enumerate() {
            let expect = (0..3).all(|s| {
                let p = 1.0 / (1.0 + (-(logits[t * 3 + s] as f64)).exp());
                (p > 0.5) == set[s]
            });
            assert_eq!(multilabel_correct(&logits, 3, &sets).unwrap()[t], expect);
        }
        // A set longer than the output is a clear error.
        assert!(multilabel_correct(&logits[..2], 2, &[vec![true; 3]]).is_err());
    }

    #[test]
    fn score_target_selects_scored_positions() {
        let logits = peaks(&[1, 0, 1, 1], 2);
        let per = score_target(&logits, 4, 2, &Target::PerPosition(vec![1, 1, 1, 1])).unwrap();
        assert_eq!(per, vec![true, false, true, true]);
        let masked = Target::Masked {
            classes: vec![0, 0, 0, 1],
            mask: vec![false, true, false, true],
        };
        assert_eq!(
            score_target(&logits, 4, 2, &masked).unwrap(),
            vec![true, true]
        );
        assert_eq!(
            score_target(&logits, 4, 2, &Target::Final(0)).unwrap(),
            vec![false]
        );
        assert!(final_token_correct(&logits, 4, 2, &masked).unwrap());
        assert!(final_token_correct(&logits, 4, 2, &Target::Final(1)).unwrap());
        assert!(
            !final_token_correct(&logits, 4, 2, &Target::PerPosition(vec![1, 1, 1, 0])).unwrap()
        );
        // Wrong target length is an error, not a panic.
        assert!(score_target(&logits, 4, 2, &Target::PerPosition(vec![1, 1])).is_err());
    }
}
