//! Causal decoder-only transformer (GPT-2 style pre-LN block of seq_icl's `lm_simple`,
//! spec `regbench-icl-zoo.md` §3.1.1, §3.2.1–3.2.2): the [`crate::layers::attention`] mixer
//! with an MLP in every block of the [`crate::backbone::residual_stack`].
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
//! DeepMind's parameter-free encodings (spec `chomsky-hierarchy.md` §5.6) are options too:
//! `none`, `sin_cos` (its table added to `E[x_t]`, positions from 0) and `alibi` (its biases
//! on the scaled logits); they are plain (non-record) fields, so the checkpoint layout of
//! every transformer is unchanged. DeepMind's whole Transformer, with its `relative`
//! encoding, is [`super::dm_transformer`].
//! Init (GPT-2): every Linear and embedding `N(0, 0.02²)`, biases 0, `out_proj` and `fc2`
//! weights `N(0, (0.02/√(2·n_layers))²)`, LayerNorm 1/0. The head is a separate bias-free
//! `Linear(d, out_dim)` (seq_icl ties it to the embedding; here the output size generally
//! differs from the vocabulary).
//!
//! The recurrent `step` keeps a KV cache per layer: memory grows linearly with the number
//! of steps (attention has no constant-size state).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::backbone::{Gpt, LmState, Mlp, NormKind, ResidualStack};
use crate::init::{embedding_normal, linear_normal, out_std, INIT_STD};
use crate::layers::attention::{AttentionConfig, AttentionPositions, CausalSelfAttention, KvCache};
use crate::validate::{positive, positive_f};
use crate::ZooError;

/// Position signal of the transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PositionKind {
    /// Learned absolute position table added to the token embedding ("transformer").
    #[default]
    Learned,
    /// Rotary embeddings on queries and keys, no position table ("transformer+").
    Rotary,
    /// No position signal but the causal mask (DeepMind's `NONE`).
    None,
    /// DeepMind's sin/cos table (`d/2` sines then `d/2` cosines of `t·rope_theta^(−2j/d)`,
    /// positions `t = 0, 1, …`) added to the token embedding (DeepMind's `SIN_COS`).
    SinCos,
    /// DeepMind's ALiBi biases on the attention logits, slopes `2^(−8/h)…` (`ALIBI`).
    Alibi,
}

/// Causal decoder-only pre-LN transformer (GPT-2 block of seq_icl's `lm_simple`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformerConfig {
    /// Residual width. Default 128 (REGBENCH).
    pub d_model: usize,
    /// Blocks. Default 2.
    pub n_layers: usize,
    /// Attention heads; must divide `d_model` (and `d_model / n_heads` must be even for
    /// rotary). Default 2.
    pub n_heads: usize,
    /// MLP hidden width; `None` = `4 * d_model`.
    pub d_ff: Option<usize>,
    /// `learned` (transformer, the default), `rotary` (transformer+), or one of DeepMind's
    /// parameter-free encodings `none`, `sin_cos`, `alibi` (spec `chomsky-hierarchy.md` §5.6;
    /// DeepMind's `relative` encoding has per-layer parameters: `kind = "dm_transformer"`).
    pub positions: PositionKind,
    /// Size of the learned position table. Default 4098 (REGBENCH).
    pub max_len: usize,
    /// Rotary base θ, and the wavelength scale of `sin_cos`. Default 10000.
    pub rope_theta: f64,
    /// Dropout on the attention weights (training only). Default 0.0 (REGBENCH's
    /// `transformer` used 0.1, `transformer+` 0.0).
    pub attn_dropout: f64,
    /// LayerNorm epsilon. Default 1e-5.
    pub norm_eps: f64,
}

impl Default for TransformerConfig {
    fn default() -> Self {
        Self {
            d_model: 128,
            n_layers: 2,
            n_heads: 2,
            d_ff: None,
            positions: PositionKind::Learned,
            max_len: 4098,
            rope_theta: 10000.0,
            attn_dropout: 0.0,
            norm_eps: 1e-5,
        }
    }
}

impl TransformerConfig {
    /// The attention settings of every block.
    pub fn attention(&self) -> AttentionConfig {
        AttentionConfig {
            n_heads: self.n_heads,
            rotary: self.positions == PositionKind::Rotary,
            rope_theta: self.rope_theta,
            attn_dropout: self.attn_dropout,
        }
    }

    /// Checks every field (and the sizes the model will be built with); errors name the
    /// field as `<kind>.<field>`.
    pub fn validate(&self, _vocab_size: usize, _out_dim: usize) -> Result<(), ZooError> {
        let c = self;
        positive("transformer.d_model", c.d_model)?;
        positive("transformer.n_layers", c.n_layers)?;
        positive("transformer.n_heads", c.n_heads)?;
        positive("transformer.max_len", c.max_len)?;
        positive_f("transformer.norm_eps", c.norm_eps)?;
        positive_f("transformer.rope_theta", c.rope_theta)?;
        if let Some(d) = c.d_ff {
            positive("transformer.d_ff", d)?;
        }
        if !c.d_model.is_multiple_of(c.n_heads) {
            return Err(ZooError::invalid(
                "transformer.n_heads",
                format!("must divide d_model = {}, got {}", c.d_model, c.n_heads),
            ));
        }
        if c.positions == PositionKind::Rotary && !(c.d_model / c.n_heads).is_multiple_of(2) {
            return Err(ZooError::invalid(
                "transformer.n_heads",
                "rotary positions need an even head dimension d_model / n_heads",
            ));
        }
        if c.positions == PositionKind::SinCos && !c.d_model.is_multiple_of(2) {
            return Err(ZooError::invalid(
                "transformer.positions",
                "sin_cos needs an even d_model (half sines, half cosines)",
            ));
        }
        if !(0.0..1.0).contains(&c.attn_dropout) {
            return Err(ZooError::invalid(
                "transformer.attn_dropout",
                format!("must be in [0, 1), got {}", c.attn_dropout),
            ));
        }
        Ok(())
    }
}

/// Recurrent state of the transformer: one KV cache per layer and the position.
pub type TransformerState<B> = LmState<KvCache<B>>;

/// Causal decoder-only transformer ("transformer" / "transformer+"): the attention mixer in
/// the GPT-2 decoder.
pub type TransformerModel<B> = Gpt<B, CausalSelfAttention<B>>;

impl<B: Backend> Gpt<B, CausalSelfAttention<B>> {
    /// Builds the model; the config must have been validated.
    pub fn new(
        config: &TransformerConfig,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Self {
        let d = config.d_model;
        let d_ff = config.d_ff.unwrap_or(4 * d);
        let attention = config.attention();
        // All attention layers first, then (inside the stack) the MLPs: the order of the
        // random draws since the first release.
        let inside = match config.positions {
            PositionKind::Rotary => AttentionPositions::Rotary,
            PositionKind::Alibi => AttentionPositions::Alibi,
            PositionKind::Learned | PositionKind::None | PositionKind::SinCos => {
                AttentionPositions::None
            }
        };
        let mixers = (0..config.n_layers)
            .map(|_| {
                CausalSelfAttention::new(&attention, d, config.n_layers, device)
                    .with_positions(inside)
            })
            .collect();
        let mut make_mlp = || Mlp {
            fc1: linear_normal(d, d_ff, true, INIT_STD, device),
            fc2: linear_normal(d_ff, d, true, out_std(config.n_layers), device),
        };
        let model = Self::from_parts(
            embedding_normal(vocab_size, d, INIT_STD, device),
            (config.positions == PositionKind::Learned)
                .then(|| embedding_normal(config.max_len, d, INIT_STD, device)),
            ResidualStack::new(
                mixers,
                NormKind::LayerNorm,
                d,
                config.norm_eps,
                Some(&mut make_mlp),
                device,
            ),
            linear_normal(d, out_dim, false, INIT_STD, device),
            config.max_len,
        );
        if config.positions == PositionKind::SinCos {
            model.with_sin_cos(config.rope_theta)
        } else {
            model
        }
    }
}

