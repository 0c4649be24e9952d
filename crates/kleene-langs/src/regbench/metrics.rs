//! The REGBENCH metrics (spec §1.8): greedy DFA accuracy (paper and training-log
//! variants) and total-variation distance to the true PFA next-symbol distribution.

use super::problem::RegbenchProblem;
use super::{SEPARATOR, VOCAB_SIZE};

/// The PFA next-token distribution for an allowed-id mask: uniform over the set.
pub fn pfa_distribution(allowed: u32) -> [f64; VOCAB_SIZE] {
    let n = allowed.count_ones();
    let mut p = [0.0; VOCAB_SIZE];
    if n > 0 {
        for (v, pv) in p.iter_mut().enumerate() {
            if allowed >> v & 1 == 1 {
                *pv = 1.0 / f64::from(n);
            }
        }
    }
    p
}

/// Index of the largest entry; ties go to the lowest index (as `numpy.argmax`).
pub fn argmax(xs: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best
}

/// Half the L1 distance between a predicted distribution over the 20 ids and the PFA
/// distribution of `allowed`.
pub fn tvd(probs: &[f64], allowed: u32) -> f64 {
    let target = pfa_distribution(allowed);
    0.5 * probs
        .iter()
        .zip(target.iter())
        .map(|(p, q)| (p - q).abs())
        .sum::<f64>()
}

/// Running REGBENCH scores over many positions and problems.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RegbenchScores {
    /// Positions scored by the paper metrics (every input position).
    pub positions: u64,
    /// Positions where the greedy prediction is a token the DFA allows.
    pub correct: u64,
    /// Sum of per-position TVD.
    pub tvd_sum: f64,
    /// Positions of the training-log `dfa_accuracy` (target is not the separator).
    pub dfa_positions: u64,
    pub dfa_correct: u64,
}

impl RegbenchScores {
    /// Adds one position: `probs` over the 20 ids, the allowed mask, and whether the
    /// true next token is the separator.
    pub fn add(&mut self, probs: &[f64], allowed: u32, target_is_separator: bool) {
        let ok = allowed >> argmax(probs) & 1 == 1;
        self.positions += 1;
        self.correct += u64::from(ok);
        self.tvd_sum += tvd(probs, allowed);
        if !target_is_separator {
            self.dfa_positions += 1;
            self.dfa_correct += u64::from(ok);
        }
    }

    /// Adds every position of a problem; `probs[t]` is the prediction after `input[..=t]`.
    pub fn add_problem<P: AsRef<[f64]>>(&mut self, problem: &RegbenchProblem, probs: &[P]) {
        let allowed = problem.allowed_next();
        for ((p, &mask), &next) in probs.iter().zip(&allowed).zip(problem.next_tokens()) {
            self.add(p.as_ref(), mask, next == SEPARATOR);
        }
    }

    /// Sums two score sets.
    pub fn merge(&mut self, other: &RegbenchScores) {
        self.positions += other.positions;
        self.correct += other.correct;
        self.tvd_sum += other.tvd_sum;
        self.dfa_positions += other.dfa_positions;
        self.dfa_correct += other.dfa_correct;
    }

    /// The paper's accuracy: micro-average over all positions (§1.8-1).
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.positions.max(1) as f64
    }

    /// The paper's TVD: mean over all positions (§1.8-3).
    pub fn tvd(&self) -> f64 {
        self.tvd_sum / self.positions.max(1) as f64
    }

    /// The training-log `dfa_accuracy`, skipping separator targets (§1.8-2), micro-averaged.
    pub fn dfa_accuracy(&self) -> f64 {
        self.dfa_correct as f64 / self.dfa_positions.max(1) as f64
    }
}
