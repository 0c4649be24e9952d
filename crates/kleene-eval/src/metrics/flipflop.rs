//! Flip-flop language (Liu et al. 2023; evaluated as in Sarrof et al. 2024 §2.2).
//!
//! Three evaluation sets: in-distribution FFL(0.8), sparse FFL(0.98) (long gaps between
//! write and read, the out-of-distribution test) and dense FFL(0.1). Per set two numbers:
//! - **read accuracy**: correct read answers / read answers (micro average over the
//!   positions the target scores);
//! - **sequence accuracy**: fraction of sequences with every scored position correct (the
//!   Sarrof code's whole-sequence criterion; with a masked target only the reads are
//!   scored, with a per-position 3-class target every position is).

use serde::{Deserialize, Serialize};

use crate::results::SplitMetrics;

/// Which flip-flop evaluation set a split is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlipFlopSet {
    InDistribution,
    Sparse,
    Dense,
}

impl FlipFlopSet {
    /// Classifies a split by name: names containing `sparse` or `dense` are those sets,
    /// every other split except `train` is in-distribution (`val`, `in_dist`, `test`).
    pub fn of_split(name: &str) -> Option<Self> {
        let n = name.to_ascii_lowercase();
        if n.contains("sparse") {
            Some(FlipFlopSet::Sparse)
        } else if n.contains("dense") {
            Some(FlipFlopSet::Dense)
        } else if n == "train" {
            None
        } else {
            Some(FlipFlopSet::InDistribution)
        }
    }
}

/// Read and sequence accuracy of one flip-flop set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlipFlopSetMetrics {
    pub set: FlipFlopSet,
    pub split: String,
    pub read_accuracy: f64,
    pub sequence_accuracy: f64,
    pub sequences: u64,
    pub reads: u64,
}

/// Flip-flop results over the available sets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FlipFlopMetrics {
    pub sets: Vec<FlipFlopSetMetrics>,
}

impl FlipFlopMetrics {
    /// Builds the summary from evaluated splits (the `train` split is ignored).
    pub fn from_splits(splits: &[SplitMetrics]) -> Self {
        FlipFlopMetrics {
            sets: splits
                .iter()
                .filter_map(|s| {
                    FlipFlopSet::of_split(&s.split).map(|set| FlipFlopSetMetrics {
                        set,
                        split: s.split.clone(),
                        read_accuracy: s.token_accuracy,
                        sequence_accuracy: s.strict_accuracy,
                        sequences: s.counts.sequences,
                        reads: s.counts.positions,
                    })
                })
                .collect(),
        }
    }

    /// The first set of a kind.
    pub fn get(&self, set: FlipFlopSet) -> Option<&FlipFlopSetMetrics> {
        self.sets.iter().find(|s| s.set == set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::accuracy::{AccuracyCounts, Scoring};
    use kleene_langs::TargetKind;

    fn split(name: &str, seqs: &[&[bool]]) -> SplitMetrics {
        let mut c = AccuracyCounts::default();
        for s in seqs {
            c.add_sequence(s);
        }
        SplitMetrics {
            split: name.into(),
            target_kind: TargetKind::Masked,
            scoring: Scoring::Argmax,
            min_len: 1,
            max_len: 1,
            strict_accuracy: c.strict(),
            relaxed_accuracy: c.relaxed(),
            token_accuracy: c.token(),
            final_token_accuracy: 0.0,
            counts: c,
        }
    }

    #[test]
    fn sets_are_classified_and_counted() {
        let m = FlipFlopMetrics::from_splits(&[
            split("train", &[&[true]]),
            split("val", &[&[true, true], &[true, false]]),
            split("val_sparse", &[&[false], &[true, true, true]]),
            split("val_dense", &[&[true]]),
        ]);
        assert_eq!(m.sets.len(), 3);
        let id = m.get(FlipFlopSet::InDistribution).unwrap();
        assert_eq!((id.reads, id.sequences), (4, 2));
        assert!((id.read_accuracy - 0.75).abs() < 1e-12);
        assert!((id.sequence_accuracy - 0.5).abs() < 1e-12);
        let sp = m.get(FlipFlopSet::Sparse).unwrap();
        assert!((sp.read_accuracy - 0.75).abs() < 1e-12);
        assert!((sp.sequence_accuracy - 0.5).abs() < 1e-12);
        assert_eq!(m.get(FlipFlopSet::Dense).unwrap().read_accuracy, 1.0);
    }
}
