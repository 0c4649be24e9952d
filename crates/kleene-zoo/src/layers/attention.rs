//! Causal multi-head softmax self-attention, optionally rotary ("Transformer+"), with a KV-cache
//! `step` (GPT-2 block of seq_icl's `lm_simple`, spec `regbench-icl-zoo.md` §3.2.1–3.2.2):
//!
//! ```text
//! q, k, v = split(W_qkv r) into h heads of d_h = d/h;
//! (rotary: q, k rotated by position, interleaved pairs (2i, 2i+1), θ_i = base^(−2i/d_h));
//! A = softmax(q kᵀ/√d_h + causal mask) (dropout on A when training); o = W_out(A v)
//! ```
//! The recurrent `step` keeps a KV cache: memory grows linearly with the number of steps
//! (attention has no constant-size state). The whole transformer model is
//! [`crate::models::transformer`].

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::TensorData;

use serde::{Deserialize, Serialize};

use crate::init::{linear_normal, out_std, INIT_STD};
use crate::models::dm_positions::{alibi_slopes, alibi_table};
use crate::validate::{ensure, ensure_prob, positive, positive_f};
use crate::{SequenceLayer, ZooError};

/// Configuration of a [`CausalSelfAttention`] mixer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttentionConfig {
    /// Heads; must divide `d_model` (and `d_model / n_heads` must be even with `rotary`).
    /// Default 2.
    pub n_heads: usize,
    /// Rotary positions on queries and keys ("Transformer+"); without them the layer has no
    /// position signal of its own (add learned positions in the backbone). Default false.
    pub rotary: bool,
    /// Rotary base θ. Default 10000.
    pub rope_theta: f64,
    /// Dropout on the attention weights (training only). Default 0.0.
    pub attn_dropout: f64,
}

impl Default for AttentionConfig {
    fn default() -> Self {
        Self {
            n_heads: 2,
            rotary: false,
            rope_theta: 10000.0,
            attn_dropout: 0.0,
        }
    }
}

impl AttentionConfig {
    /// Checks every field for width `d_model`; errors name the field (`attention.n_heads`).
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        self.validate_as("attention", d_model)
    }

    /// [`Self::validate`] with the fields named `<prefix>.<field>`.
    pub(crate) fn validate_as(&self, prefix: &str, d_model: usize) -> Result<(), ZooError> {
        let field = |f: &str| format!("{prefix}.{f}");
        positive(&field("n_heads"), self.n_heads)?;
        positive_f(&field("rope_theta"), self.rope_theta)?;
        ensure(
            d_model.is_multiple_of(self.n_heads),
            &field("n_heads"),
            format!("must divide d_model = {d_model}, got {}", self.n_heads),
        )?;
        ensure(
            !self.rotary || (d_model / self.n_heads).is_multiple_of(2),
            &field("n_heads"),
            "rotary positions need an even head dimension d_model / n_heads",
        )?;
        ensure_prob(self.attn_dropout, &field("attn_dropout"))
    }

    /// Builds the layer (GPT-2 init; `n_layer` scales `out_proj`).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<CausalSelfAttention<B>, ZooError> {
        self.validate(d_model)?;
        Ok(CausalSelfAttention::new(self, d_model, n_layer, device))
    }
}

/// The position signal applied inside the attention (the transformer's `positions`; ALiBi
/// and none are DeepMind's encodings, spec `chomsky-hierarchy.md` §5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttentionPositions {
    /// None: the layer itself is order-blind but for the causal mask.
    #[default]
    None,
    /// Rotary queries and keys.
    Rotary,
    /// ALiBi: `slope_h·(−(i−j) + 0.5·[j < i])` added to the scaled logits, DeepMind's
    /// (non-causal) bias on the keys a causal query sees.
    Alibi,
}

/// Multi-head causal self-attention, optionally rotary.
#[derive(Module, Debug)]
pub struct CausalSelfAttention<B: Backend> {
    /// `d -> 3d` (q, k, v), with bias.
    pub qkv: Linear<B>,
    /// `d -> d`, with bias.
    pub out_proj: Linear<B>,
    /// Dropout on the attention weights (active only on autodiff backends).
    pub dropout: Dropout,
    n_heads: usize,
    // A plain field (one empty record entry, as the `rotary: bool` it replaced): the
    // checkpoint layout of the transformer is unchanged.
    positions: AttentionPositions,
    rope_theta: f64,
}

/// KV cache of one attention layer.
#[derive(Clone, Debug)]
pub struct KvCache<B: Backend> {
    /// Keys `(batch, heads, t, d_h)` (rotated when rotary); `None` before the first step.
    pub keys: Option<Tensor<B, 4>>,
    /// Values `(batch, heads, t, d_h)`.
    pub values: Option<Tensor<B, 4>>,
    /// Number of positions seen.
    pub position: usize,
}

impl<B: Backend> CausalSelfAttention<B> {
    /// Builds one attention layer of width `d_model` (GPT-2 init: `N(0, 0.02²)`, `out_proj`
    /// `N(0, (0.02/√(2·n_layers))²)`, biases 0).
    pub fn new(
        config: &AttentionConfig,
        d_model: usize,
        n_layers: usize,
        device: &B::Device,
    ) -> Self {
        let d = d_model;
        Self {
            qkv: linear_normal(d, 3 * d, true, INIT_STD, device),
            out_proj: linear_normal(d, d, true, out_std(n_layers), device),
            dropout: DropoutConfig::new(config.attn_dropout).init(),
            n_heads: config.n_heads,
            positions: if config.rotary {
                AttentionPositions::Rotary
            } else {
                AttentionPositions::None
            },
            rope_theta: config.rope_theta,
        }
    }

    /// The same layer with another position signal.
    pub fn with_positions(self, positions: AttentionPositions) -> Self {
        Self { positions, ..self }
    }

    /// `scores` plus the ALiBi biases of queries `start..start + q_len` on keys `0..k_len`.
    fn alibi(&self, scores: Tensor<B, 4>, start: usize) -> Tensor<B, 4> {
        if self.positions != AttentionPositions::Alibi {
            return scores;
        }
        let [_, _, q_len, k_len] = scores.dims();
        let slopes = alibi_slopes(self.n_heads);
        let bias = alibi_table::<B>(&slopes, start, q_len, k_len, &scores.device());
        scores + bias.unsqueeze::<4>()
    }

    fn rope(&self, x: Tensor<B, 4>, start: usize) -> Tensor<B, 4> {
        rotary(x, start, self.rope_theta)
    }
}

/// Rotary position embedding (GPT-J / Burn layout): rotates each interleaved pair
/// `(x[2i], x[2i+1])` of `x: (batch, heads, len, d_h)` by the angle `t·θ^(−2i/d_h)` for
/// positions `t = start..start + len`. Angles are computed in f64 on the host, so the
/// parallel and step forms use bit-identical tables.
pub fn rotary<B: Backend>(x: Tensor<B, 4>, start: usize, theta: f64) -> Tensor<B, 4> {
    let [b, h, l, dh] = x.dims();
    let half = dh / 2;
    let mut cos = Vec::with_capacity(l * dh);
    let mut sin = Vec::with_capacity(l * dh);
    for t in 0..l {
        let pos = (start + t) as f64;
        for i in 0..half {
            let angle = pos * theta.powf(-2.0 * i as f64 / dh as f64);
            let (s, c) = angle.sin_cos();
            cos.extend([c as f32, c as f32]);
            sin.extend([s as f32, s as f32]);
        }
    }
    let device = x.device();
    let cos =
        Tensor::<B, 2>::from_data(TensorData::new(cos, [l, dh]), &device).reshape([1, 1, l, dh]);
    let sin =
        Tensor::<B, 2>::from_data(TensorData::new(sin, [l, dh]), &device).reshape([1, 1, l, dh]);
    let pairs = x.clone().reshape([b, h, l, half, 2]);
    let even = pairs.clone().narrow(4, 0, 1);
    let odd = pairs.narrow(4, 1, 1);
    let rotated = Tensor::cat(vec![odd.neg(), even], 4).reshape([b, h, l, dh]);
    x * cos + rotated * sin
}

impl<B: Backend> SequenceLayer<B> for CausalSelfAttention<B> {
    type State = KvCache<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, l, d] = x.dims();
        let (h, dh) = (self.n_heads, d / self.n_heads);
        let device = x.device();
        let qkv = self.qkv.forward(x);
        let head = |i: usize| {
            qkv.clone()
                .narrow(2, i * d, d)
                .reshape([b, l, h, dh])
                .swap_dims(1, 2)
        };
        let (mut q, mut k, v) = (head(0), head(1), head(2));
        if self.positions == AttentionPositions::Rotary {
            q = self.rope(q, 0);
            k = self.rope(k, 0);
        }
        let scores = self.alibi(q.matmul(k.swap_dims(2, 3)) * (1.0 / (dh as f64).sqrt()), 0);
        let future = Tensor::<B, 2, Bool>::tril_mask([l, l], 0, &device)
            .reshape([1, 1, l, l])
            .expand([b, h, l, l]);
        let attn = self
            .dropout
            .forward(softmax(scores.mask_fill(future, -1.0e9), 3));
        let o = attn.matmul(v).swap_dims(1, 2).reshape([b, l, d]);
        self.out_proj.forward(o)
    }

    fn init_state(&self, _batch: usize, _device: &B::Device) -> Self::State {
        KvCache {
            keys: None,
            values: None,
            position: 0,
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [b, d] = x.dims();
        let (h, dh) = (self.n_heads, d / self.n_heads);
        let qkv = self.qkv.forward(x);
        let head = |i: usize| qkv.clone().narrow(1, i * d, d).reshape([b, h, 1, dh]);
        let (mut q, mut k, v) = (head(0), head(1), head(2));
        if self.positions == AttentionPositions::Rotary {
            q = self.rope(q, state.position);
            k = self.rope(k, state.position);
        }
        let keys = match state.keys {
            Some(past) => Tensor::cat(vec![past, k], 2),
            None => k,
        };
        let values = match state.values {
            Some(past) => Tensor::cat(vec![past, v], 2),
            None => v,
        };
        let scores = q.matmul(keys.clone().swap_dims(2, 3)) * (1.0 / (dh as f64).sqrt());
        let scores = self.alibi(scores, state.position);
        let attn = self.dropout.forward(softmax(scores, 3));
        let o = attn.matmul(values.clone()).reshape([b, d]);
        (
            self.out_proj.forward(o),
            KvCache {
                keys: Some(keys),
                values: Some(values),
                position: state.position + 1,
            },
        )
    }
}
