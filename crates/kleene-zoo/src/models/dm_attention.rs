//! DeepMind's `MultiHeadDotProductAttention` (`models/transformer.py`, spec
//! `chomsky-hierarchy.md` §5.6) with a causal mask, a KV-cache `step`, and the positional
//! encodings that act inside attention ([`DmPositions`]: ALiBi, relative, rotary).
//!
//! ```text
//! q, k, v = W_q x, W_k x, W_v x   (no biases), split into h heads of d_h = d/h
//! rotary:   q, k rotated by their positions 0, 1, …
//! logits(i, j) = q_i·k_j / √d_h
//!   relative: ((q_i + u)·k_j + (q_i + v)·R_{i−j}) / √d_h,  R_p = W_R PE(p)   (per layer u, v, W_R)
//!   ALiBi:    + slope_h·(−|i−j| + 0.5·[j < i])            (after the scaling)
//! causal mask (keys j ≤ i), softmax over keys, o = W_o (A v)   (no bias)
//! ```
//! DeepMind's encoder is not causal: it attends to every key, and its relative encoding has
//! rows for every `i − j` from `−T+1` to `T−1`: that is `causal = false`. With `causal =
//! true` (the zoo's default, so that the model streams one token at a time) keys stop at the
//! query, so only `i − j ≥ 0` occurs; for those keys the logits are DeepMind's.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::TensorData;

use super::dm_positions::{alibi_slopes, alibi_table, sinusoid, DmPositions};
use crate::init::linear_haiku;
use crate::layers::attention::{rotary, KvCache};

/// Transformer-XL's per-layer relative-position parameters (DeepMind's
/// `compute_attention_with_relative_encodings`).
#[derive(Module, Debug)]
pub struct RelativeEncoding<B: Backend> {
    /// `u`, `(heads, d_h)`, added to the queries of the content logits; init `N(0, 0.02²)`.
    pub content_bias: Param<Tensor<B, 2>>,
    /// `W_R`, `d -> d` without bias, applied to the relative sinusoids.
    pub projection: Linear<B>,
    /// `v`, `(heads, d_h)`, added to the queries of the position logits; init `N(0, 0.02²)`.
    pub position_bias: Param<Tensor<B, 2>>,
}

/// Multi-head causal attention with DeepMind's positional encodings.
#[derive(Module, Debug)]
pub struct DmAttention<B: Backend> {
    /// `W_q`, no bias.
    pub query: Linear<B>,
    /// `W_k`, no bias.
    pub key: Linear<B>,
    /// `W_v`, no bias.
    pub value: Linear<B>,
    /// Relative-encoding parameters (only with [`DmPositions::Relative`]).
    pub relative: Option<RelativeEncoding<B>>,
    /// `W_o`, no bias.
    pub output: Linear<B>,
    positions: DmPositions,
    n_heads: usize,
    max_time: f64,
    slopes: Vec<f64>,
    causal: bool,
}

impl<B: Backend> DmAttention<B> {
    /// One layer of width `d` (Haiku init, in DeepMind's order of creation).
    pub fn new(
        d: usize,
        n_heads: usize,
        positions: DmPositions,
        max_time: f64,
        causal: bool,
        device: &B::Device,
    ) -> Self {
        let query = linear_haiku(d, d, false, device);
        let key = linear_haiku(d, d, false, device);
        let value = linear_haiku(d, d, false, device);
        let relative = (positions == DmPositions::Relative).then(|| {
            let bias = || {
                Param::from_tensor(Tensor::random(
                    [n_heads, d / n_heads],
                    burn::tensor::Distribution::Normal(0.0, 0.02),
                    device,
                ))
            };
            let content_bias = bias();
            let projection = linear_haiku(d, d, false, device);
            RelativeEncoding {
                content_bias,
                projection,
                position_bias: bias(),
            }
        });
        Self {
            query,
            key,
            value,
            relative,
            output: linear_haiku(d, d, false, device),
            positions,
            n_heads,
            max_time,
            slopes: alibi_slopes(n_heads),
            causal,
        }
    }

    /// `(b, len, d) -> (b, heads, len, d_h)`.
    fn heads(&self, x: Tensor<B, 3>) -> Tensor<B, 4> {
        let [b, len, d] = x.dims();
        x.reshape([b, len, self.n_heads, d / self.n_heads])
            .swap_dims(1, 2)
    }

    /// Logits `(b, h, q_len, k_len)` of queries at `start..start + q_len` against keys at
    /// `0..k_len` (q and k already rotated), before the mask.
    fn logits(&self, q: Tensor<B, 4>, k: Tensor<B, 4>, start: usize) -> Tensor<B, 4> {
        let [b, h, q_len, dh] = q.dims();
        let k_len = k.dims()[2];
        let device = q.device();
        let scale = 1.0 / (dh as f64).sqrt();
        let mut logits = match &self.relative {
            Some(rel) => {
                let u = rel.content_bias.val().reshape([1, h, 1, dh]);
                let v = rel.position_bias.val().reshape([1, h, 1, dh]);
                let content = (q.clone() + u).matmul(k.swap_dims(2, 3));
                // R_p for every distance a query here can see: p = −back..start + q_len, where
                // `back` = k_len − 1 keys ahead of a query when not causal, 0 when causal.
                let back = if self.causal { 0 } else { k_len - 1 };
                let n_dist = back + start + q_len;
                let table = sinusoid::<B>(
                    (0..n_dist).map(|r| r as f64 - back as f64),
                    h * dh,
                    self.max_time,
                    &device,
                );
                let r = rel
                    .projection
                    .forward(table)
                    .reshape([n_dist, h, dh])
                    .swap_dims(0, 1)
                    .reshape([1, h, n_dist, dh]);
                // (b, h, q_len, n_dist); logit (i, j) reads row `back + i − j` (when causal,
                // clamped at 0 for the masked future keys).
                let by_distance = (q + v).matmul(r.swap_dims(2, 3));
                let mut idx = Vec::with_capacity(q_len * k_len);
                for i in start..start + q_len {
                    idx.extend((0..k_len).map(|j| (back + i).saturating_sub(j) as i64));
                }
                let idx =
                    Tensor::<B, 2, Int>::from_data(TensorData::new(idx, [q_len, k_len]), &device)
                        .reshape([1, 1, q_len, k_len])
                        .expand([b, h, q_len, k_len]);
                content + by_distance.gather(3, idx)
            }
            None => q.matmul(k.swap_dims(2, 3)),
        } * scale;
        if self.positions == DmPositions::Alibi {
            let bias = alibi_table::<B>(&self.slopes, start, q_len, k_len, &device);
            logits = logits + bias.unsqueeze::<4>();
        }
        logits
    }

    fn rotate(&self, x: Tensor<B, 4>, start: usize) -> Tensor<B, 4> {
        if self.positions == DmPositions::Rotary {
            rotary(x, start, self.max_time)
        } else {
            x
        }
    }

    /// `(b, len, d) -> (b, len, d)` over a whole sequence.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, len, d] = x.dims();
        let q = self.rotate(self.heads(self.query.forward(x.clone())), 0);
        let k = self.rotate(self.heads(self.key.forward(x.clone())), 0);
        let v = self.heads(self.value.forward(x));
        let mut logits = self.logits(q.clone(), k, 0);
        if self.causal {
            let future = Tensor::<B, 2, Bool>::tril_mask([len, len], 0, &q.device())
                .reshape([1, 1, len, len])
                .expand([b, self.n_heads, len, len]);
            logits = logits.mask_fill(future, -1.0e9);
        }
        let attn = softmax(logits, 3);
        let o = attn.matmul(v).swap_dims(1, 2).reshape([b, len, d]);
        self.output.forward(o)
    }

    /// One position `(b, d)` after the `cache.position` cached ones (causal layers only: the
    /// caller checks).
    pub fn step(&self, x: Tensor<B, 2>, cache: KvCache<B>) -> (Tensor<B, 2>, KvCache<B>) {
        let [b, d] = x.dims();
        let t = cache.position;
        let x = x.reshape([b, 1, d]);
        let q = self.rotate(self.heads(self.query.forward(x.clone())), t);
        let k = self.rotate(self.heads(self.key.forward(x.clone())), t);
        let v = self.heads(self.value.forward(x));
        let append = |past: Option<Tensor<B, 4>>, new: Tensor<B, 4>| match past {
            Some(past) => Tensor::cat(vec![past, new], 2),
            None => new,
        };
        let keys = append(cache.keys, k);
        let values = append(cache.values, v);
        let attn = softmax(self.logits(q, keys.clone(), t), 3);
        let o = attn.matmul(values.clone()).reshape([b, d]);
        let next = KvCache {
            keys: Some(keys),
            values: Some(values),
            position: t + 1,
        };
        (self.output.forward(o), next)
    }
}
