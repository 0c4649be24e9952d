//! Backbones: what surrounds the mixers (embeddings, residual blocks, norms, heads), each
//! backbone a paper uses as one short file, generic over the mixer.
//!
//! | backbone | used by | file |
//! |---|---|---|
//! | pre-norm residual block (+ optional MLP) and the stack of them | every residual model | [`residual_stack`] |
//! | LayerNorm / RMSNorm | | [`norm`] |
//! | mamba-ssm `MixerModel` + head (Sarrof et al.) | `kind = "mamba"` | [`mixer_model`] |
//! | GPT-2 decoder with learned or rotary positions | `kind = "transformer"` | [`gpt`] |
//! | seq_icl `lm_simple` / corrected `lm_simple_noffn` (REGBENCH) | `kind = "icl"` | [`lm_simple`] |
//! | published `lm_simple_noffn` (one mixer on the raw embeddings) | `kind = "icl"`, `backbone = "no_ffn_faithful"` | [`no_ffn_faithful`] |

use burn::nn::{Embedding, Linear};
use burn::prelude::*;

pub mod gpt;
pub mod lm_simple;
pub mod mixer_model;
pub mod no_ffn_faithful;
pub mod norm;
pub mod residual_stack;

pub use gpt::Gpt;
pub use lm_simple::{BackboneConfig, BackboneKind, LmBackbone};
pub use mixer_model::MixerModel;
pub use no_ffn_faithful::NoFfnFaithful;
pub use norm::{Norm, NormKind};
pub use residual_stack::{Block, Mlp, ResidualStack};

/// Recurrent state of a language-model backbone.
#[derive(Debug, Clone)]
pub struct LmState<S> {
    /// One state per mixer.
    pub layers: Vec<S>,
    /// Position of the next token.
    pub position: usize,
}

impl<S> LmState<S> {
    /// The state after the token at `position`, holding the mixers' new states.
    pub(crate) fn after(position: usize, layers: Vec<S>) -> Self {
        Self {
            layers,
            position: position + 1,
        }
    }
}

/// The output head: `head` when there is one, else the transposed token embedding (tied).
pub(crate) fn tied_or_linear_head<B: Backend, const D: usize>(
    embedding: &Embedding<B>,
    head: Option<&Linear<B>>,
    y: Tensor<B, D>,
) -> Tensor<B, D> {
    match head {
        Some(head) => head.forward(y),
        None => {
            let dims = y.dims();
            let d = dims[D - 1];
            let rows = y.shape().num_elements() / d;
            let weight = embedding.weight.val();
            let vocab = weight.dims()[0];
            let mut out = dims;
            out[D - 1] = vocab;
            y.reshape([rows, d]).matmul(weight.transpose()).reshape(out)
        }
    }
}
