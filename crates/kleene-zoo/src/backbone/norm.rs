//! The norms of the backbones: LayerNorm or RMSNorm over the last dimension.

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, RmsNorm, RmsNormConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Normalisation layer of the residual stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// LayerNorm (mamba-ssm `rms_norm=False`, GPT-2).
    #[default]
    LayerNorm,
    /// RMSNorm (mamba-ssm `rms_norm=True`).
    RmsNorm,
}

/// LayerNorm or RMSNorm over the last dimension.
#[derive(Module, Debug)]
pub enum Norm<B: Backend> {
    /// LayerNorm with learnable scale and bias (biased variance).
    Layer(LayerNorm<B>),
    /// RMSNorm with a learnable scale.
    Rms(RmsNorm<B>),
}

impl<B: Backend> Norm<B> {
    /// A norm over `d` features with weight 1 (and bias 0).
    pub fn new(kind: NormKind, d: usize, epsilon: f64, device: &B::Device) -> Self {
        match kind {
            NormKind::LayerNorm => {
                Norm::Layer(LayerNormConfig::new(d).with_epsilon(epsilon).init(device))
            }
            NormKind::RmsNorm => {
                Norm::Rms(RmsNormConfig::new(d).with_epsilon(epsilon).init(device))
            }
        }
    }

    /// Normalises over the last dimension.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Norm::Layer(n) => n.forward(x),
            Norm::Rms(n) => n.forward(x),
        }
    }
}
