//! The REGBENCH language-model backbones, generic over the sequence mixer.
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

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::gelu_approximate;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use super::util::{ensure, ensure_prob, linear, out_std, INIT_STD};
use crate::{SequenceLayer, SequenceModel, ZooError};

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

    /// Builds the backbone around mixers made by `make_mixer(layer_index)`.
    pub fn init<B: Backend, M: Module<B>>(
        &self,
        vocab_size: usize,
        out_dim: usize,
        mut make_mixer: impl FnMut(usize) -> Result<M, ZooError>,
        device: &B::Device,
    ) -> Result<LmBackbone<B, M>, ZooError> {
        self.validate()?;
        ensure(vocab_size > 0, "vocab_size", "must be > 0")?;
        ensure(out_dim > 0, "out_dim", "must be > 0")?;
        let d = self.d_model;
        let faithful = self.backbone == BackboneKind::NoFfnFaithful;
        let emb_std = if faithful { 1.0 } else { INIT_STD };
        let norm = || LayerNormConfig::new(d).with_epsilon(1e-5).init(device);
        let mut blocks = Vec::with_capacity(self.n_mixers());
        for i in 0..self.n_mixers() {
            let mixer = make_mixer(i)?;
            blocks.push(match self.backbone {
                BackboneKind::LmSimple => Block {
                    norm1: Some(norm()),
                    mixer,
                    norm2: Some(norm()),
                    mlp: Some(Mlp {
                        fc1: linear(d, self.mlp_ratio * d, true, INIT_STD, device),
                        fc2: linear(self.mlp_ratio * d, d, true, out_std(self.n_layer), device),
                    }),
                },
                BackboneKind::NoFfn => Block {
                    norm1: Some(norm()),
                    mixer,
                    norm2: None,
                    mlp: None,
                },
                BackboneKind::NoFfnFaithful => Block {
                    norm1: None,
                    mixer,
                    norm2: None,
                    mlp: None,
                },
            });
        }
        let tied = self.tie_embeddings && out_dim == vocab_size;
        Ok(LmBackbone {
            embedding: Embedding {
                weight: Param::from_tensor(Tensor::random(
                    [vocab_size, d],
                    Distribution::Normal(0.0, emb_std),
                    device,
                )),
            },
            pos_embedding: (self.max_position_embeddings > 0 && !faithful).then(|| Embedding {
                weight: Param::from_tensor(Tensor::random(
                    [self.max_position_embeddings, d],
                    Distribution::Normal(0.0, INIT_STD),
                    device,
                )),
            }),
            embed_dropout: DropoutConfig::new(self.embed_dropout).init(),
            blocks,
            norm_f: (!faithful).then(norm),
            head: (!tied).then(|| linear(d, out_dim, false, INIT_STD, device)),
            out_dim,
            faithful_noffn: faithful,
        })
    }
}

/// The block MLP.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    pub fc1: Linear<B>,
    pub fc2: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        self.fc2.forward(gelu_approximate(self.fc1.forward(x)))
    }
}

/// One block: `r = r + Mixer(LN1(r))`, then (if present) `r = r + MLP(LN2(r))`.
/// Without `norm1` (faithful no-FFN) the block is just `Mixer(r)`, no residual.
#[derive(Module, Debug)]
pub struct Block<B: Backend, M: Module<B>> {
    pub norm1: Option<LayerNorm<B>>,
    pub mixer: M,
    pub norm2: Option<LayerNorm<B>>,
    pub mlp: Option<Mlp<B>>,
}

impl<B: Backend, M: Module<B>> Block<B, M> {
    fn finish<const D: usize>(&self, r: Tensor<B, D>) -> Tensor<B, D> {
        match (&self.norm2, &self.mlp) {
            (Some(norm), Some(mlp)) => r.clone() + mlp.forward(norm.forward(r)),
            _ => r,
        }
    }
}

impl<B: Backend, M: Module<B> + SequenceLayer<B>> Block<B, M> {
    /// Whole-sequence forward `(B, L, d) -> (B, L, d)`.
    pub fn forward(&self, r: Tensor<B, 3>) -> Tensor<B, 3> {
        match &self.norm1 {
            None => self.mixer.forward(r),
            Some(norm) => {
                let r = r.clone() + self.mixer.forward(norm.forward(r));
                self.finish(r)
            }
        }
    }

    /// One step `(B, d) -> (B, d)`.
    pub fn step(&self, r: Tensor<B, 2>, state: M::State) -> (Tensor<B, 2>, M::State) {
        match &self.norm1 {
            None => self.mixer.step(r, state),
            Some(norm) => {
                let (h, state) = self.mixer.step(norm.forward(r.clone()), state);
                (self.finish(r + h), state)
            }
        }
    }
}

/// A language model: embedding, blocks around mixers `M`, final norm, head.
#[derive(Module, Debug)]
pub struct LmBackbone<B: Backend, M: Module<B>> {
    pub embedding: Embedding<B>,
    pub pos_embedding: Option<Embedding<B>>,
    pub embed_dropout: Dropout,
    pub blocks: Vec<Block<B, M>>,
    pub norm_f: Option<LayerNorm<B>>,
    /// `None`: tied to `embedding`.
    pub head: Option<Linear<B>>,
    out_dim: usize,
    faithful_noffn: bool,
}

/// Recurrent state of [`LmBackbone`].
#[derive(Debug, Clone)]
pub struct LmState<S> {
    /// One state per block.
    pub layers: Vec<S>,
    /// Position of the next token.
    pub position: usize,
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
        if self.faithful_noffn {
            // Upstream computes the dropout output and then discards it.
            x
        } else {
            self.embed_dropout.forward(x)
        }
    }

    fn head<const D: usize>(&self, y: Tensor<B, D>) -> Tensor<B, D> {
        let y = match &self.norm_f {
            Some(norm) => norm.forward(y),
            None => y,
        };
        match &self.head {
            Some(head) => head.forward(y),
            None => {
                let dims = y.dims();
                let d = dims[D - 1];
                let rows = y.shape().num_elements() / d;
                let weight = self.embedding.weight.val();
                let vocab = weight.dims()[0];
                let mut out = dims;
                out[D - 1] = vocab;
                y.reshape([rows, d]).matmul(weight.transpose()).reshape(out)
            }
        }
    }
}

impl<B: Backend, M: Module<B> + SequenceLayer<B>> SequenceModel<B> for LmBackbone<B, M> {
    type State = LmState<M::State>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let mut x = self.embed(tokens, 0);
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.head(x)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        LmState {
            layers: self
                .blocks
                .iter()
                .map(|b| b.mixer.init_state(batch, device))
                .collect(),
            position: 0,
        }
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let b = tokens.dims()[0];
        let x = self.embed(tokens.reshape([b, 1]), state.position);
        let d = x.dims()[2];
        let mut x = x.reshape([b, d]);
        let mut layers = Vec::with_capacity(self.blocks.len());
        for (block, s) in self.blocks.iter().zip(state.layers) {
            let (y, s) = block.step(x, s);
            x = y;
            layers.push(s);
        }
        (
            self.head(x),
            LmState {
                layers,
                position: state.position + 1,
            },
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
