//! Accuracy as a function of input length (SD-SSM, Terzić et al. 2025, `range_evaluation.py`).
//!
//! The protocol evaluates `per_length` fresh sequences at every length `1..=max_len`
//! (512 at each of 1..=500 in the paper) and reports, per run, the mean accuracy over the
//! training lengths (in-distribution, `1..=train_max_len`) and over the longer lengths
//! (`train_max_len+1..=max_len`). The paper's exact aggregation is unverified (spec §5.4),
//! so both ranges are always labelled.

use serde::{Deserialize, Serialize};

/// Accuracy at one length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LengthPoint {
    /// Input length (in the task's unit, see `kleene_langs::SplitSpec`).
    pub length: usize,
    /// Sequences evaluated at this length.
    pub n: usize,
    /// Headline accuracy at this length: strict (whole-sequence) accuracy, which for a
    /// `Final` target is the final-class accuracy.
    pub accuracy: f64,
    /// Micro-averaged accuracy over scored positions (equals `accuracy` for `Final`).
    pub token_accuracy: f64,
}

impl LengthPoint {
    /// The accuracy at this length that a task reporting `which` shows.
    pub fn reported(&self, which: kleene_langs::ReportedAccuracy) -> f64 {
        match which {
            kleene_langs::ReportedAccuracy::Sequence => self.accuracy,
            kleene_langs::ReportedAccuracy::Token => self.token_accuracy,
        }
    }
}

/// A length the task could not sample (e.g. odd lengths of aⁿbⁿ), with the reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkippedLength {
    pub length: usize,
    pub reason: String,
}

/// One model's accuracy against length.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LengthCurve {
    /// Points in increasing length.
    pub points: Vec<LengthPoint>,
    /// Longest training length; splits the curve into in-distribution and longer lengths.
    pub train_max_len: Option<usize>,
    /// Lengths the task has no example of.
    #[serde(default)]
    pub skipped: Vec<SkippedLength>,
}

/// The numbers a per-length curve contributes to a results table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurveSummary {
    /// Mean accuracy over lengths `1..=train_max_len` present in the curve.
    pub in_distribution_mean: Option<f64>,
    /// Mean accuracy over lengths `> train_max_len` present in the curve.
    pub longer_mean: Option<f64>,
    /// Lowest accuracy at any length.
    pub min: Option<f64>,
    /// Accuracy at the longest length.
    pub at_max_length: Option<f64>,
    /// `(first, last)` length of the longer range actually present.
    pub longer_range: Option<(usize, usize)>,
}

impl LengthCurve {
    /// A curve from points (sorted here by length).
    pub fn new(mut points: Vec<LengthPoint>, train_max_len: Option<usize>) -> Self {
        points.sort_by_key(|p| p.length);
        LengthCurve {
            points,
            train_max_len,
            skipped: Vec::new(),
        }
    }

    /// Mean accuracy over the points with `lo <= length <= hi` (each length weighted
    /// equally, as the paper's mean over a curve does); `None` if there is none.
    pub fn mean_over(&self, lo: usize, hi: usize) -> Option<f64> {
        let vals: Vec<f64> = self
            .points
            .iter()
            .filter(|p| p.length >= lo && p.length <= hi)
            .map(|p| p.accuracy)
            .collect();
        if vals.is_empty() {
            None
        } else {
            Some(vals.iter().sum::<f64>() / vals.len() as f64)
        }
    }

    /// Mean over `1..=train_max_len` (all points when no training length is known).
    pub fn in_distribution_mean(&self) -> Option<f64> {
        self.mean_over(0, self.train_max_len.unwrap_or(usize::MAX))
    }

    /// Mean over lengths beyond `train_max_len` (`None` when unknown or absent).
    pub fn longer_mean(&self) -> Option<f64> {
        let t = self.train_max_len?;
        self.mean_over(t + 1, usize::MAX)
    }

    /// Accuracy at a given length, if evaluated.
    pub fn at(&self, length: usize) -> Option<f64> {
        self.points
            .iter()
            .find(|p| p.length == length)
            .map(|p| p.accuracy)
    }

    /// In-distribution / longer means, minimum and last point.
    pub fn summary(&self) -> CurveSummary {
        let longer: Vec<usize> = match self.train_max_len {
            Some(t) => self
                .points
                .iter()
                .map(|p| p.length)
                .filter(|&l| l > t)
                .collect(),
            None => Vec::new(),
        };
        CurveSummary {
            in_distribution_mean: self.in_distribution_mean(),
            longer_mean: self.longer_mean(),
            min: self
                .points
                .iter()
                .map(|p| p.accuracy)
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v)))),
            at_max_length: self.points.last().map(|p| p.accuracy),
            longer_range: longer.first().map(|&a| (a, *longer.last().unwrap_or(&a))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(length: usize, accuracy: f64) -> LengthPoint {
        LengthPoint {
            length,
            n: 4,
            accuracy,
            token_accuracy: accuracy,
        }
    }

    #[test]
    fn means_split_at_the_training_length() {
        let c = LengthCurve::new(
            vec![pt(3, 0.5), pt(1, 1.0), pt(2, 1.0), pt(4, 0.25), pt(5, 0.0)],
            Some(2),
        );
        assert_eq!(c.points[0].length, 1);
        assert_eq!(c.in_distribution_mean(), Some(1.0));
        assert!((c.longer_mean().unwrap() - 0.25).abs() < 1e-12); // (0.5+0.25+0)/3
        let s = c.summary();
        assert_eq!(s.min, Some(0.0));
        assert_eq!(s.at_max_length, Some(0.0));
        assert_eq!(s.longer_range, Some((3, 5)));
        assert_eq!(c.at(4), Some(0.25));
        let no_t = LengthCurve::new(vec![pt(1, 1.0), pt(2, 0.0)], None);
        assert_eq!(no_t.in_distribution_mean(), Some(0.5));
        assert_eq!(no_t.longer_mean(), None);
    }
}
