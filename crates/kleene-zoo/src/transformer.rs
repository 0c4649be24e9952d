//! Causal decoder-only transformer (GPT-2 style pre-LN block of seq_icl's `lm_simple`,
//! spec `regbench-icl-zoo.md` §3.1.1, §3.2.1–3.2.2).
//!
//! ```text
//! r_0 = E[x_t] (+ P[t] with learned positions)
//! r ← r + Attn(LN_1(r));   r ← r + W_2 GELU_tanh(W_1 LN_2(r))      per block
//! y_t = W_o LN_f(r_t)
//! Attn: q, k, v = split(W_qkv r) into h heads of d_h = d/h;
//!       (rotary: q, k rotated by position, interleaved pairs (2i, 2i+1), θ_i = base^(−2i/d_h));
//!       A = softmax(q kᵀ/√d_h + causal mask) (dropout on A when training); o = W_out(A v)
//! ```
//! "Transformer" = learned absolute positions; "Transformer+" = rotary, no position table.
//! Init (GPT-2): every Linear and embedding `N(0, 0.02²)`, biases 0, `out_proj` and `fc2`
//! weights `N(0, (0.02/√(2·n_layers))²)`, LayerNorm 1/0. The head is a separate bias-free
//! `Linear(d, out_dim)` (seq_icl ties it to the embedding; here the output size generally
//! differs from the vocabulary).
//!
//! The recurrent `step` keeps a KV cache per layer: memory grows linearly with the number
//! of steps (attention has no constant-size state).

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, Linear};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::TensorData;

use crate::config::{PositionKind, TransformerConfig};
use crate::init::{embedding_normal, linear_normal};
use crate::recurrence::ScanBackend;
use crate::stack::{FeedForward, ResidualStack};
use crate::{SequenceLayer, SequenceModel};

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
    rotary: bool,
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
    /// Builds one attention layer (GPT-2 init).
    pub fn new(config: &TransformerConfig, device: &B::Device) -> Self {
        let d = config.d_model;
        let out_std = 0.02 / (2.0 * config.n_layers as f64).sqrt();
        Self {
            qkv: linear_normal(d, 3 * d, true, 0.02, device),
            out_proj: linear_normal(d, d, true, out_std, device),
            dropout: DropoutConfig::new(config.attn_dropout).init(),
            n_heads: config.n_heads,
            rotary: config.positions == PositionKind::Rotary,
            rope_theta: config.rope_theta,
        }
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
        if self.rotary {
            q = self.rope(q, 0);
            k = self.rope(k, 0);
        }
        let scores = q.matmul(k.swap_dims(2, 3)) * (1.0 / (dh as f64).sqrt());
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
        if self.rotary {
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

/// Recurrent state of the transformer: one KV cache per layer and the position.
#[derive(Clone, Debug)]
pub struct TransformerState<B: Backend> {
    /// Per-layer caches.
    pub layers: Vec<KvCache<B>>,
    /// Position of the next token.
    pub position: usize,
}

/// Causal decoder-only transformer ("transformer" / "transformer+").
#[derive(Module, Debug)]
pub struct TransformerModel<B: Backend> {
    /// Token embedding `N(0, 0.02²)`.
    pub token_embedding: Embedding<B>,
    /// Learned positions `[max_len, d]` (absent for rotary).
    pub position_embedding: Option<Embedding<B>>,
    /// Pre-LN blocks (attention + MLP) and the final LayerNorm.
    pub stack: ResidualStack<B, CausalSelfAttention<B>>,
    /// `Linear(d, out_dim)`, no bias.
    pub head: Linear<B>,
    max_len: usize,
    out_dim: usize,
}

impl<B: Backend> TransformerModel<B> {
    /// Builds the model; the config must have been validated.
    pub fn new(
        config: &TransformerConfig,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Self {
        let d = config.d_model;
        let d_ff = config.d_ff.unwrap_or(4 * d);
        let out_std = 0.02 / (2.0 * config.n_layers as f64).sqrt();
        let mixers = (0..config.n_layers)
            .map(|_| CausalSelfAttention::new(config, device))
            .collect();
        let mut make_mlp = || FeedForward {
            fc1: linear_normal(d, d_ff, true, 0.02, device),
            fc2: linear_normal(d_ff, d, true, out_std, device),
        };
        Self {
            token_embedding: embedding_normal(vocab_size, d, 0.02, device),
            position_embedding: (config.positions == PositionKind::Learned)
                .then(|| embedding_normal(config.max_len, d, 0.02, device)),
            stack: ResidualStack::new(
                mixers,
                crate::config::NormKind::LayerNorm,
                d,
                config.norm_eps,
                Some(&mut make_mlp),
                device,
            ),
            head: linear_normal(d, out_dim, false, 0.02, device),
            max_len: config.max_len,
            out_dim,
        }
    }

    /// Position vectors for `start..start + len`, clamped to the table, `(len, d)`.
    fn positions(&self, table: &Embedding<B>, start: usize, len: usize) -> Tensor<B, 2> {
        let device = table.weight.device();
        let idx = Tensor::<B, 1, Int>::arange(start as i64..(start + len) as i64, &device)
            .clamp_max((self.max_len - 1) as i64);
        table.weight.val().select(0, idx)
    }
}

impl<B: ScanBackend> SequenceModel<B> for TransformerModel<B> {
    type State = TransformerState<B>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [_, len] = tokens.dims();
        let mut x = self.token_embedding.forward(tokens);
        if let Some(table) = &self.position_embedding {
            x = x + self.positions(table, 0, len).unsqueeze::<3>();
        }
        self.head.forward(self.stack.forward(x))
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        TransformerState {
            layers: self.stack.init_state(batch, device),
            position: 0,
        }
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let mut x = self.token_embedding.weight.val().select(0, tokens);
        if let Some(table) = &self.position_embedding {
            x = x + self.positions(table, state.position, 1);
        }
        let (h, layers) = self.stack.step(x, state.layers);
        (
            self.head.forward(h),
            TransformerState {
                layers,
                position: state.position + 1,
            },
        )
    }

    fn out_dim(&self) -> usize {
        self.out_dim
    }

    fn max_len(&self) -> Option<usize> {
        self.position_embedding.as_ref().map(|_| self.max_len)
    }
}
