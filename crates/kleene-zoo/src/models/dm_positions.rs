//! DeepMind's positional encodings (`models/positional_encodings.py`, spec
//! `chomsky-hierarchy.md` §5.6), as tables computed in f64 on the host so that the parallel
//! and step forms use bit-identical values.
//!
//! - [`sinusoid`]: `PE(p) = [sin(p·ω_0) … sin(p·ω_{d/2−1}), cos(p·ω_0) … cos(p·ω_{d/2−1})]`,
//!   `ω_j = max_time^(−2j/d)`: all sines first, then all cosines (not interleaved).
//! - [`alibi_slopes`]: the official ALiBi slopes (`2^(−8/h)`, … for a power-of-two `h`; the
//!   interleaved completion otherwise), as DeepMind's `_get_alibi_slopes`.
//! - [`alibi_bias`]: `slope·(−|i−j| + 0.5·[j < i])` (DeepMind's non-causal bias: symmetric
//!   distance plus a bonus for keys to the left).
//! - Rotary: [`crate::layers::attention::rotary`] with base `max_time`, adjacent pairs
//!   `(2j, 2j+1)` rotated by `p·max_time^(−2j/d_h)` (the same rotation as DeepMind's
//!   `apply_rotary_encoding` with its `_rope_kernel`).

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

/// Which of DeepMind's positional encodings the [`super::dm_transformer`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DmPositions {
    /// No position signal (only the causal mask orders the tokens).
    None,
    /// Absolute sin/cos added to the scaled embedding, then dropout (DeepMind's default).
    #[default]
    SinCos,
    /// ALiBi biases added to the attention logits after the `1/√d_h` scaling.
    Alibi,
    /// Transformer-XL relative encoding (per-layer content and position biases `u`, `v` and
    /// a bias-free projection of the relative sinusoids).
    Relative,
    /// Rotary embedding of queries and keys.
    Rotary,
}

/// `values[p][·]` for `p` in `positions`: the `(len, d)` sin/cos table of [`sinusoid_row`].
pub fn sinusoid<B: Backend>(
    positions: impl Iterator<Item = f64>,
    d: usize,
    max_time: f64,
    device: &B::Device,
) -> Tensor<B, 2> {
    let mut values = Vec::new();
    let mut rows = 0;
    for p in positions {
        values.extend(sinusoid_row(p, d, max_time).into_iter().map(|v| v as f32));
        rows += 1;
    }
    Tensor::from_data(TensorData::new(values, [rows, d]), device)
}

/// One row of DeepMind's `sinusoid_position_encoding`: `d/2` sines then `d/2` cosines of
/// `p·max_time^(−2j/d)` (for an odd `d` the sines take the extra column, as `np.arange(0, d,
/// 2)` does, and the table is cut to `d`).
pub fn sinusoid_row(p: f64, d: usize, max_time: f64) -> Vec<f64> {
    let freqs: Vec<f64> = (0..d)
        .step_by(2)
        .map(|j| max_time.powf(-(j as f64) / d as f64))
        .collect();
    let mut row: Vec<f64> = freqs.iter().map(|w| (p * w).sin()).collect();
    row.extend(freqs.iter().map(|w| (p * w).cos()));
    row.truncate(d);
    row
}

/// DeepMind's `_get_alibi_slopes(num_heads)`.
pub fn alibi_slopes(heads: usize) -> Vec<f64> {
    fn power_of_2(n: usize) -> Vec<f64> {
        let start = 2f64.powf(-(2f64.powf(-((n as f64).log2() - 3.0))));
        (0..n).map(|i| start * start.powi(i as i32)).collect()
    }
    if heads.is_power_of_two() {
        power_of_2(heads)
    } else {
        let closest = 1usize << (usize::BITS - 1 - heads.leading_zeros());
        let mut slopes = power_of_2(closest);
        slopes.extend(
            alibi_slopes(2 * closest)
                .into_iter()
                .step_by(2)
                .take(heads - closest),
        );
        slopes
    }
}

/// The ALiBi bias of query position `i` and key position `j` for a head with `slope`.
pub fn alibi_bias(slope: f64, i: usize, j: usize) -> f64 {
    let distance = i.abs_diff(j) as f64;
    let left = if j < i { 0.5 } else { 0.0 };
    slope * (left - distance)
}

/// The `(heads, queries, keys)` ALiBi biases for queries at `query_start..query_start + q_len`
/// and keys at `0..k_len`.
pub fn alibi_table<B: Backend>(
    slopes: &[f64],
    query_start: usize,
    q_len: usize,
    k_len: usize,
    device: &B::Device,
) -> Tensor<B, 3> {
    let mut values = Vec::with_capacity(slopes.len() * q_len * k_len);
    for &slope in slopes {
        for i in query_start..query_start + q_len {
            values.extend((0..k_len).map(|j| alibi_bias(slope, i, j) as f32));
        }
    }
    Tensor::from_data(
        TensorData::new(values, [slopes.len(), q_len, k_len]),
        device,
    )
}
