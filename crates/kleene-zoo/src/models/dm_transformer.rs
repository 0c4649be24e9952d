//! DeepMind's Chomsky-hierarchy Transformer (`models/transformer.py::make_transformer_encoder`,
//! spec `chomsky-hierarchy.md` §5.6) with causal attention, and its five positional encodings
//! ([`DmPositions`]). Defaults are the paper's.
//!
//! ```text
//! h = √d · E onehot(x)           E: no bias, TruncNormal(0.02)
//! sin_cos only: h = dropout(h + PE(positions))
//! per layer (post-LN):  a = LN(h + dropout(Attn(h)));  h = LN(a + dropout(W_2 ReLU(W_1 a)))
//! y = W_o h + b_o                 (no final norm, no ReLU)
//! ```
//! `causal = false` is DeepMind's encoder as the paper ran it: every position attends to every
//! position, `sin_cos` numbers the positions backwards from the total length (`T, T−1, …, 1`:
//! the last token is 1) and the relative encoding sees every `i − j`. Such a model reads the
//! whole sequence before its first output, so it breaks the zoo's contract (output `t`
//! depends on tokens `0..=t`) and has no `step` (it panics; evaluate it with `forward`).
//!
//! `causal = true` (the default, so that the model streams with `step` like every zoo model)
//! differs from it in two ways: attention is causal (DeepMind's `causal_masking = True`), and
//! `sin_cos` numbers the positions `0, 1, 2, …` from the first token.
//!
//! Dropout is Burn's: active when training on an autodiff backend, off in evaluation
//! (DeepMind's range evaluation passes an rng to `apply`, so its dropout stays on).

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::dm_attention::DmAttention;
use super::dm_positions::{sinusoid, DmPositions};
use crate::init::{linear_haiku, truncated_normal};
use crate::layers::attention::KvCache;
use crate::validate::{ensure, ensure_prob, positive, positive_f};
use crate::{ScanBackend, SequenceModel, ZooError};

/// DeepMind's Transformer encoder (post-LN), causal. Defaults are the paper's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DmTransformerConfig {
    /// Model width. Default 64.
    pub d_model: usize,
    /// Layers. Default 5.
    pub n_layers: usize,
    /// Heads; must divide `d_model`. Default 8.
    pub n_heads: usize,
    /// Feed-forward width as a multiple of `d_model`. Default 4.
    pub widening_factor: usize,
    /// Dropout after the input encoding (`sin_cos` only), attention and feed-forward
    /// (training only). Default 0.1.
    pub dropout: f64,
    /// `none`, `sin_cos` (DeepMind's default), `alibi`, `relative` or `rotary`.
    pub positions: DmPositions,
    /// The wavelength scale of the sinusoids and the rotary base. Default 10000.
    pub max_time: f64,
    /// Standard deviation of the (truncated normal) embedding init. Default 0.02.
    pub emb_init_scale: f64,
    /// Causal attention and positions counted from the first token (default true); `false`
    /// is DeepMind's bidirectional encoder, which has no `step` (module docs).
    pub causal: bool,
}

impl Default for DmTransformerConfig {
    fn default() -> Self {
        Self {
            d_model: 64,
            n_layers: 5,
            n_heads: 8,
            widening_factor: 4,
            dropout: 0.1,
            positions: DmPositions::SinCos,
            max_time: 10_000.0,
            emb_init_scale: 0.02,
            causal: true,
        }
    }
}

impl DmTransformerConfig {
    /// Checks every field; errors name the field as `dm_transformer.<field>`.
    pub fn validate(&self, _vocab_size: usize, _out_dim: usize) -> Result<(), ZooError> {
        let c = self;
        positive("dm_transformer.d_model", c.d_model)?;
        positive("dm_transformer.n_layers", c.n_layers)?;
        positive("dm_transformer.n_heads", c.n_heads)?;
        positive("dm_transformer.widening_factor", c.widening_factor)?;
        positive_f("dm_transformer.max_time", c.max_time)?;
        positive_f("dm_transformer.emb_init_scale", c.emb_init_scale)?;
        ensure_prob(c.dropout, "dm_transformer.dropout")?;
        ensure(
            c.d_model.is_multiple_of(c.n_heads),
            "dm_transformer.n_heads",
            format!("must divide d_model = {}, got {}", c.d_model, c.n_heads),
        )?;
        ensure(
            c.positions != DmPositions::Rotary || (c.d_model / c.n_heads).is_multiple_of(2),
            "dm_transformer.positions",
            "rotary positions need an even head dimension d_model / n_heads",
        )?;
        ensure(
            !matches!(c.positions, DmPositions::SinCos | DmPositions::Relative)
                || c.d_model.is_multiple_of(2),
            "dm_transformer.positions",
            "sin/cos and relative positions need an even d_model (half sines, half cosines)",
        )
    }
}

/// One post-LN layer.
#[derive(Module, Debug)]
pub struct DmBlock<B: Backend> {
    /// Multi-head attention.
    pub attention: DmAttention<B>,
    /// LayerNorm after the attention's residual sum.
    pub norm_attention: LayerNorm<B>,
    /// `d -> widening·d`, with bias.
    pub ffn_in: Linear<B>,
    /// `widening·d -> d`, with bias.
    pub ffn_out: Linear<B>,
    /// LayerNorm after the feed-forward residual sum.
    pub norm_ffn: LayerNorm<B>,
    /// Dropout on the attention and feed-forward outputs.
    pub dropout: Dropout,
}

impl<B: Backend> DmBlock<B> {
    /// The feed-forward half, after the attention `a = LN(h + dropout(attn))`.
    fn feed_forward<const D: usize>(&self, a: Tensor<B, D>) -> Tensor<B, D> {
        let f = self.ffn_out.forward(relu(self.ffn_in.forward(a.clone())));
        self.norm_ffn.forward(a + self.dropout.forward(f))
    }

    fn forward(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let attn = self.attention.forward(h.clone());
        let a = self.norm_attention.forward(h + self.dropout.forward(attn));
        self.feed_forward(a)
    }

    fn step(&self, h: Tensor<B, 2>, cache: KvCache<B>) -> (Tensor<B, 2>, KvCache<B>) {
        let (attn, cache) = self.attention.step(h.clone(), cache);
        let a = self.norm_attention.forward(h + self.dropout.forward(attn));
        (self.feed_forward(a), cache)
    }
}

/// DeepMind's Transformer encoder, causal (see the module docs).
#[derive(Module, Debug)]
pub struct DmTransformerModel<B: Backend> {
    /// `E`, `(vocab, d)`: the bias-free linear map of the one-hot tokens.
    pub embedding: Param<Tensor<B, 2>>,
    /// The layers, input first.
    pub blocks: Vec<DmBlock<B>>,
    /// `W_o`, `b_o`.
    pub readout: Linear<B>,
    /// Dropout after the sin/cos encoding.
    pub dropout: Dropout,
    positions: DmPositions,
    max_time: f64,
    causal: bool,
}


/// Recurrent state: one KV cache per layer; the position is the caches'.
pub type DmTransformerState<B> = Vec<KvCache<B>>;

impl<B: Backend> DmTransformerModel<B> {
    /// Builds the model; the config must have been validated.
    pub fn new(
        config: &DmTransformerConfig,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Self {
        let d = config.d_model;
        let embedding = Param::from_tensor(truncated_normal(
            [vocab_size, d],
            config.emb_init_scale,
            device,
        ));
        let norm = || LayerNormConfig::new(d).with_epsilon(1e-5).init(device);
        let blocks = (0..config.n_layers)
            .map(|_| {
                let attention = DmAttention::new(
                    d,
                    config.n_heads,
                    config.positions,
                    config.max_time,
                    config.causal,
                    device,
                );
                let norm_attention = norm();
                let wide = config.widening_factor * d;
                let ffn_in = linear_haiku(d, wide, true, device);
                let ffn_out = linear_haiku(wide, d, true, device);
                DmBlock {
                    attention,
                    norm_attention,
                    ffn_in,
                    ffn_out,
                    norm_ffn: norm(),
                    dropout: DropoutConfig::new(config.dropout).init(),
                }
            })
            .collect();
        Self {
            embedding,
            blocks,
            readout: linear_haiku(d, out_dim, true, device),
            dropout: DropoutConfig::new(config.dropout).init(),
            positions: config.positions,
            max_time: config.max_time,
            causal: config.causal,
        }
    }

    /// `√d · E onehot(x)` (+ the sin/cos encoding and its dropout) for `tokens` at positions
    /// `start..start + len` (causal), or `len, len − 1, …, 1` (not causal, `start` = 0):
    /// `(n, len, d)` from `(n, len)` ids.
    pub fn embed(&self, tokens: Tensor<B, 2, Int>, start: usize) -> Tensor<B, 3> {
        let [n, len] = tokens.dims();
        let d = self.embedding.dims()[1];
        let x = self
            .embedding
            .val()
            .select(0, tokens.reshape([n * len]))
            .reshape([n, len, d])
            * (d as f64).sqrt();
        if self.positions != DmPositions::SinCos {
            return x;
        }
        let positions: Vec<f64> = if self.causal {
            (start..start + len).map(|p| p as f64).collect()
        } else {
            (1..=len).rev().map(|p| p as f64).collect()
        };
        let table = sinusoid::<B>(
            positions.into_iter(),
            d,
            self.max_time,
            &x.device(),
        );
        self.dropout.forward(x + table.unsqueeze::<3>())
    }
}

impl<B: ScanBackend> SequenceModel<B> for DmTransformerModel<B> {
    type State = DmTransformerState<B>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let mut h = self.embed(tokens, 0);
        for block in &self.blocks {
            h = block.forward(h);
        }
        self.readout.forward(h)
    }

    fn init_state(&self, _batch: usize, _device: &B::Device) -> Self::State {
        self.blocks
            .iter()
            .map(|_| KvCache {
                keys: None,
                values: None,
                position: 0,
            })
            .collect()
    }

    /// # Panics
    /// With `causal = false` (DeepMind's bidirectional encoder has no step form).
    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        assert!(
            self.causal,
            "dm_transformer with causal = false attends to the whole sequence and has no step \
             form; evaluate it with the parallel forward"
        );
        let [n] = tokens.dims();
        let d = self.embedding.dims()[1];
        let position = state.first().map_or(0, |c| c.position);
        let mut h = self.embed(tokens.reshape([n, 1]), position).reshape([n, d]);
        let mut next = Vec::with_capacity(state.len());
        for (block, cache) in self.blocks.iter().zip(state) {
            let (out, cache) = block.step(h, cache);
            h = out;
            next.push(cache);
        }
        (self.readout.forward(h), next)
    }

    fn out_dim(&self) -> usize {
        self.readout.weight.dims()[1]
    }
}
