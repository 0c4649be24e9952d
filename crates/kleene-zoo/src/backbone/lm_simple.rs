//! seq_icl's language-model backbones (REGBENCH), generic over the sequence mixer; the
//! faithful no-FFN one is [`super::no_ffn_faithful`].
//!
//! - [`BackboneKind::LmSimple`] (`lm_simple`, GPT-2-style pre-LN): token embedding (+ learned
//!   absolute positions when `max_position_embeddings > 0`), embedding dropout, `n_layer` blocks
//!   `r = r + Mixer(LN1(r)); r = r + MLP(LN2(r))`, final LayerNorm, head tied to the embedding.
//!   MLP: `Linear(d, mlp_ratio·d) -> GELU (tanh approximation) -> Linear(mlp_ratio·d, d)`.
//! - [`BackboneKind::NoFfn`] (corrected `lm_simple_noffn`): pre-LN residual mixer blocks with no
//!   MLP and a final LayerNorm (as `mamba_ssm.MixerModel`).
//! - [`BackboneKind::NoFfnFaithful`] (`lm_simple_noffn` as published): the upstream forward
//!   applies every mixer to the raw embeddings and keeps only the last result — one mixer on
//!   the embeddings, no residual, no norm, straight into the tied head. Only that one mixer is
//!   built here (the other `n_layer - 1` upstream are dead parameters); embeddings are `N(0, 1)`.
//!
//! Init (LmSimple / NoFfn): embeddings and every Linear `N(0, 0.02²)`, biases 0, output
//! projections (`fc2`, the mixers' output projections) `N(0, (0.02/sqrt(2·n_layer))²)`,
//! LayerNorm eps 1e-5 with unit scale / zero shift.
//!
//! The head is tied to the token embedding when `out_dim == vocab_size` and `tie_embeddings`;
//! otherwise it is a separate `Linear(d, out_dim)` without bias.

use burn::nn::{Dropout, DropoutConfig, Embedding, Linear};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::norm::{Norm, NormKind};
use super::residual_stack::{Block, Mlp, ResidualStack};
use super::{tied_or_linear_head, LmState};
use crate::init::{embedding_normal, linear_normal, out_std, INIT_STD};
use crate::validate::{ensure, ensure_prob};
use crate::{SequenceLayer, SequenceModel, ZooError};

/// LayerNorm epsilon of the seq_icl backbones.
const NORM_EPS: f64 = 1e-5;

/// Which backbone wraps the mixers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackboneKind {
    /// Pre-LN blocks with a GELU MLP (`lm_simple`). Default.
    #[default]
    LmSimple,
    /// Pre-LN residual mixer blocks without MLP, final norm (corrected `lm_simple_noffn`).
    NoFfn,
    /// One mixer on the raw embeddings, as the published `lm_simple_noffn` effectively is.
    NoFfnFaithful,
}

/// Backbone hyper-parameters (serde; every field has a default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackboneConfig {
    /// Model width `d`. > 0. Default 128.
    pub d_model: usize,
    /// Number of blocks. > 0. Default 2.
    pub n_layer: usize,
    /// MLP inner width as a multiple of `d` (`lm_simple` only). > 0. Default 4.
    pub mlp_ratio: usize,
    /// Dropout on the embeddings (active only on autodiff backends). Default 0.1.
    pub embed_dropout: f64,
    /// Learned absolute position embeddings (0 = none). Positions past the table reuse its last
    /// row. Default 0 (REGBENCH uses 4098 for `transformer` / `linear_transformer` only).
    pub max_position_embeddings: usize,
    /// Tie the output head to the token embedding when `out_dim == vocab_size`. Default true.
    pub tie_embeddings: bool,
    /// Which backbone. Default `lm_simple`.
    pub backbone: BackboneKind,
}

impl Default for BackboneConfig {
    fn default() -> Self {
        Self {
            d_model: 128,
            n_layer: 2,
            mlp_ratio: 4,
            embed_dropout: 0.1,
            max_position_embeddings: 0,
            tie_embeddings: true,
            backbone: BackboneKind::LmSimple,
        }
    }
}

impl BackboneConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self) -> Result<(), ZooError> {
        ensure(self.d_model > 0, "d_model", "must be > 0")?;
        ensure(self.n_layer > 0, "n_layer", "must be > 0")?;
        ensure(self.mlp_ratio > 0, "mlp_ratio", "must be > 0")?;
        ensure_prob(self.embed_dropout, "embed_dropout")
    }

    /// Number of mixers the backbone holds (1 for the faithful no-FFN backbone).
    pub fn n_mixers(&self) -> usize {
        match self.backbone {
            BackboneKind::NoFfnFaithful => 1,
            _ => self.n_layer,
        }
    }

    /// [`Self::validate`], and `vocab_size` and `out_dim`.
    pub(crate) fn validate_sizes(&self, vocab_size: usize, out_dim: usize) -> Result<(), ZooError> {
        self.validate()?;
        ensure(vocab_size > 0, "vocab_size", "must be > 0")?;
        ensure(out_dim > 0, "out_dim", "must be > 0")
    }

    /// Builds the `lm_simple` or `no_ffn` backbone around mixers made by
    /// `make_mixer(layer_index)`; the `no_ffn_faithful` kind is built by
    /// [`super::no_ffn_faithful::NoFfnFaithful::new`].
    pub fn init_residual<B: Backend, M: Module<B>>(
        &self,
        vocab_size: usize,
        out_dim: usize,
        mut make_mixer: impl FnMut(usize) -> Result<M, ZooError>,
        device: &B::Device,
    ) -> Result<LmBackbone<B, M>, ZooError> {
        self.validate_sizes(vocab_size, out_dim)?;
        ensure(
            self.backbone != BackboneKind::NoFfnFaithful,
            "backbone",
            "no_ffn_faithful is built by NoFfnFaithful::new",
        )?;
        let d = self.d_model;
        // Per block: its mixer, then its MLP (the order of the random draws).
        let mut blocks = Vec::with_capacity(self.n_layer);
        for i in 0..self.n_layer {
            let mixer = make_mixer(i)?;
            let mlp = (self.backbone == BackboneKind::LmSimple).then(|| Mlp {
                fc1: linear_normal(d, self.mlp_ratio * d, true, INIT_STD, device),
                fc2: linear_normal(self.mlp_ratio * d, d, true, out_std(self.n_layer), device),
            });
            blocks.push(Block::new(
                mixer,
                mlp,
                NormKind::LayerNorm,
                d,
                NORM_EPS,
                device,
            ));
        }
        let tied = self.tie_embeddings && out_dim == vocab_size;
        Ok(LmBackbone {
            embedding: embedding_normal(vocab_size, d, INIT_STD, device),
            pos_embedding: (self.max_position_embeddings > 0)
                .then(|| embedding_normal(self.max_position_embeddings, d, INIT_STD, device)),
            embed_dropout: DropoutConfig::new(self.embed_dropout).init(),
            stack: ResidualStack {
                blocks,
                norm_f: Norm::new(NormKind::LayerNorm, d, NORM_EPS, device),
            },
            head: (!tied).then(|| linear_normal(d, out_dim, false, INIT_STD, device)),
            out_dim,
        })
    }
}

/// `lm_simple` / `no_ffn`: embedding (+ positions), dropout, pre-LN residual blocks around
/// mixers `M` with their final norm, head (tied to the embedding when `head` is `None`).
#[derive(Module, Debug)]
pub struct LmBackbone<B: Backend, M: Module<B>> {
    pub embedding: Embedding<B>,
    pub pos_embedding: Option<Embedding<B>>,
    pub embed_dropout: Dropout,
    /// The blocks and the final LayerNorm.
    pub stack: ResidualStack<B, M>,
    /// `None`: tied to `embedding`.
    pub head: Option<Linear<B>>,
    out_dim: usize,
}

impl<B: Backend, M: Module<B>> LmBackbone<B, M> {
    fn embed(&self, tokens: Tensor<B, 2, Int>, start: usize) -> Tensor<B, 3> {
        let [_, l] = tokens.dims();
        let device = tokens.device();
        let x = self.embedding.forward(tokens);
        let x = match &self.pos_embedding {
            None => x,
            Some(pos) => {
                let max = pos.weight.dims()[0] as i64;
                let positions =
                    Tensor::<B, 1, Int>::arange(start as i64..(start + l) as i64, &device)
                        .clamp_max(max - 1)
                        .reshape([1, l]);
                x + pos.forward(positions)
            }
        };
        self.embed_dropout.forward(x)
    }
}

impl<B: Backend, M: Module<B> + SequenceLayer<B>> SequenceModel<B> for LmBackbone<B, M> {
    type State = LmState<M::State>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let x = self.stack.forward(self.embed(tokens, 0));
        tied_or_linear_head(&self.embedding, self.head.as_ref(), x)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        LmState {
            layers: self.stack.init_state(batch, device),
            position: 0,
        }
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let b = tokens.dims()[0];
        let x = self.embed(tokens.reshape([b, 1]), state.position);
        let d = x.dims()[2];
        let (y, layers) = self.stack.step(x.reshape([b, d]), state.layers);
        (
            tied_or_linear_head(&self.embedding, self.head.as_ref(), y),
            LmState::after(state.position, layers),
        )
    }

    fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// The learned position table's length, when there is one.
    fn max_len(&self) -> Option<usize> {
        self.pos_embedding.as_ref().map(|p| p.weight.dims()[0])
    }
}
