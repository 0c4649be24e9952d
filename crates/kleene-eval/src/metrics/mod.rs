//! Metrics as pure functions over plain data: per-sequence logits as a flat row-major
//! `&[f32]` of shape `(len, dim)`, targets as [`kleene_langs::Target`]. No Burn here.
//!
//! One module per protocol:
//! - [`accuracy`]: strict (whole-string) / relaxed (per-position) / token accuracy for
//!   class targets (argmax; also the one-hot-regression "MSE path") and multi-label
//!   next-symbol sets (sigmoid > 0.5), Bhattamishra bins, SD-SSM final class, AR/IH
//!   final token, flip-flop reads.
//! - [`curve`]: per-length accuracy curves and their in-distribution / longer-length means.
//! - [`dyck`]: bounded-Dyck close accuracy (80% mass rule) by depth, distance and length.
//! - [`regbench`]: REGBENCH accuracy (predicted token allowed by the DFA), TVD to the
//!   PFA, greedy-generation acceptance.
//! - [`flipflop`]: flip-flop in-distribution / sparse / dense summary.

pub mod accuracy;
pub mod curve;
pub mod dyck;
pub mod flipflop;
pub mod regbench;

use crate::EvalError;

/// Index of the largest value; ties go to the lowest index (as `torch.argmax` on CPU
/// and numpy do). NaN never wins a comparison; an all-NaN row gives 0.
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    let mut best_v = f32::NEG_INFINITY;
    let mut seen = false;
    for (i, &v) in row.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        if !seen || v > best_v {
            best = i;
            best_v = v;
            seen = true;
        }
    }
    best
}

/// Numerically stable softmax in f64 (max subtracted first).
pub fn softmax(row: &[f32]) -> Vec<f64> {
    let m = row
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f32::NEG_INFINITY, f32::max) as f64;
    let exps: Vec<f64> = row.iter().map(|&v| ((v as f64) - m).exp()).collect();
    let z: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / z).collect()
}

/// Checks that `logits` holds `len` rows of `dim` values; `what` names the sequence.
pub fn check_rows(logits: &[f32], len: usize, dim: usize, what: &str) -> Result<(), EvalError> {
    if dim == 0 {
        return Err(EvalError::shape(what, "dim > 0", 0));
    }
    if logits.len() != len * dim {
        return Err(EvalError::shape(
            what,
            format!("{len} x {dim} = {} values", len * dim),
            format!("{} values", logits.len()),
        ));
    }
    Ok(())
}

/// Row `t` of a flat `(len, dim)` buffer.
pub fn row(logits: &[f32], dim: usize, t: usize) -> &[f32] {
    &logits[t * dim..(t + 1) * dim]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_lowest_index_on_ties_and_skips_nan() {
        assert_eq!(argmax(&[0.5, 2.0, 2.0, -1.0]), 1);
        assert_eq!(argmax(&[f32::NAN, -3.0, -4.0]), 1);
        assert_eq!(argmax(&[-1.0, -1.0]), 0);
    }

    #[test]
    fn softmax_matches_hand_computation() {
        // e^0, e^1, e^2 normalised: 0.09003057, 0.24472847, 0.66524096.
        let p = softmax(&[0.0, 1.0, 2.0]);
        let want = [0.09003057317038046, 0.24472847105479764, 0.6652409557748219];
        for (a, b) in p.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        // Shift invariance and no overflow at large logits.
        let q = softmax(&[1000.0, 1001.0, 1002.0]);
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn check_rows_reports_shape() {
        assert!(check_rows(&[0.0; 6], 2, 3, "x").is_ok());
        let e = check_rows(&[0.0; 5], 2, 3, "logits of sequence 4").unwrap_err();
        assert!(e.to_string().contains("logits of sequence 4"));
    }
}
