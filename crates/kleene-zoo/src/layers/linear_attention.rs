//! Linear Transformer attention (Katharopoulos et al. 2020) and the REGBENCH variant.
//!
//! `[q, k, v] = W_qkv x` (d -> 3d, with bias), `h` heads of `d_h = d/h`, feature map `φ`:
//!
//! `o_t = Σ_{s<=t} (φ(q_t) · φ(k_s) / sqrt(d_h)) v_s`, optionally divided by
//! `Σ_{s<=t} φ(q_t) · φ(k_s) / sqrt(d_h) + 1e-6` (`normalize`); `y = W_o concat(o)` (with bias).
//!
//! Defaults are the linear Transformer of Katharopoulos et al. (`φ = elu + 1`, normalised).
//! REGBENCH's `linear_transformer` uses the identity feature map and **no** normaliser
//! ([`LinearAttentionConfig::regbench`]); activations then grow with `T`, keep f32.
//! The reference's attention dropout (0.1) is omitted: it has no recurrent equivalent.
//!
//! Forms: `parallel` (materialised causal `L x L` scores, as in the reference) and `chunked`
//! (linear in `L`); `step` is the matrix-state recurrence `S_t = S_{t-1} + φ(k_t)ᵀ v_t`.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::elu;
use kleene_scan::ScanBackend;
use serde::{Deserialize, Serialize};

use crate::init::{linear_normal, out_std, INIT_STD};
use crate::ops::causal_mask::future_mask;
use crate::ops::gated_attention::chunked_gated_attention;
use crate::ops::sequence::{from_heads, to_heads};
use crate::validate::ensure;
use crate::{SequenceLayer, ZooError};

/// Feature map applied to queries and keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FeatureMap {
    /// `φ(x) = x` (REGBENCH).
    Identity,
    /// `φ(x) = elu(x) + 1` (Katharopoulos et al.). Default.
    #[default]
    EluPlusOne,
}

/// Whole-sequence algorithm of [`LinearAttention::forward`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LinearAttentionForm {
    /// Materialised causal score matrix. Default.
    #[default]
    Parallel,
    /// Chunkwise form, linear in `L`.
    Chunked,
}

/// Configuration of a [`LinearAttention`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinearAttentionConfig {
    /// Number of heads; must divide `d_model`. Default 2 (REGBENCH DFA).
    pub n_heads: usize,
    /// Feature map. Default `elu_plus_one`.
    pub feature_map: FeatureMap,
    /// Divide by the attention mass (Katharopoulos normaliser). Default true.
    pub normalize: bool,
    /// Whole-sequence algorithm. Default `parallel`.
    pub form: LinearAttentionForm,
    /// Chunk length of the chunked form, > 0. Default 64.
    pub chunk_size: usize,
}

impl Default for LinearAttentionConfig {
    fn default() -> Self {
        Self {
            n_heads: 2,
            feature_map: FeatureMap::EluPlusOne,
            normalize: true,
            form: LinearAttentionForm::Parallel,
            chunk_size: 64,
        }
    }
}

impl LinearAttentionConfig {
    /// The REGBENCH `linear_transformer` mixer: identity feature map, no normaliser.
    pub fn regbench() -> Self {
        Self {
            feature_map: FeatureMap::Identity,
            normalize: false,
            ..Self::default()
        }
    }

    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(
            self.n_heads > 0 && d_model.is_multiple_of(self.n_heads),
            "linear_attention.n_heads",
            format!(
                "must be > 0 and divide d_model ({d_model}), got {}",
                self.n_heads
            ),
        )?;
        ensure(
            self.chunk_size > 0,
            "linear_attention.chunk_size",
            "must be > 0",
        )
    }

    /// Builds the layer (`n_layer` only scales the output projection's init).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<LinearAttention<B>, ZooError> {
        self.validate(d_model)?;
        Ok(LinearAttention {
            w_qkv: linear_normal(d_model, 3 * d_model, true, INIT_STD, device),
            w_o: linear_normal(d_model, d_model, true, out_std(n_layer), device),
            n_heads: self.n_heads,
            elu_feature: self.feature_map == FeatureMap::EluPlusOne,
            normalize: self.normalize,
            chunked: self.form == LinearAttentionForm::Chunked,
            chunk_size: self.chunk_size,
        })
    }
}

/// Linear attention; see the module docs.
#[derive(Module, Debug)]
pub struct LinearAttention<B: Backend> {
    pub w_qkv: Linear<B>,
    pub w_o: Linear<B>,
    n_heads: usize,
    elu_feature: bool,
    normalize: bool,
    chunked: bool,
    chunk_size: usize,
}

/// Recurrent state of [`LinearAttention`].
#[derive(Debug, Clone)]
pub struct LinearAttentionState<B: Backend> {
    /// `S = Σ φ(k)ᵀ [v, 1] / sqrt(d_h)`: `(B, h, d_h, d_h + 1)` (last column: the normaliser).
    pub s: Tensor<B, 4>,
}

impl<B: ScanBackend> LinearAttention<B> {
    fn d_model(&self) -> usize {
        self.w_o.weight.dims()[0]
    }

    fn feature<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        if self.elu_feature {
            elu(x, 1.0).add_scalar(1.0)
        } else {
            x
        }
    }

    /// `(φ(q), φ(k) / sqrt(d_h), [v, 1])` heads-first.
    fn project(&self, x: Tensor<B, 3>) -> [Tensor<B, 4>; 3] {
        let [b, l, d] = x.dims();
        let h = self.n_heads;
        let dh = d / h;
        let p = self.w_qkv.forward(x.clone());
        let q = to_heads(self.feature(p.clone().narrow(2, 0, d)), h);
        let k = to_heads(self.feature(p.clone().narrow(2, d, d)), h).div_scalar((dh as f64).sqrt());
        let v = to_heads(p.narrow(2, 2 * d, d), h);
        let v1 = Tensor::cat(vec![v, Tensor::ones([b, h, l, 1], &x.device())], 3);
        [q, k, v1]
    }

    /// Splits `[o, mass]` and applies the normaliser and output projection.
    fn output(&self, raw: Tensor<B, 4>) -> Tensor<B, 3> {
        let dh = raw.dims()[3] - 1;
        let o = raw.clone().narrow(3, 0, dh);
        let o = if self.normalize {
            o / raw.narrow(3, dh, 1).add_scalar(1e-6)
        } else {
            o
        };
        self.w_o.forward(from_heads(o))
    }

    /// Whole-sequence parallel form.
    pub fn forward_parallel(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, l, _] = x.dims();
        let h = self.n_heads;
        let [q, k, v1] = self.project(x.clone());
        let mask = future_mask::<B>(l, &x.device())
            .reshape([1, 1, l, l])
            .expand([b, h, l, l]);
        let scores = q.matmul(k.swap_dims(2, 3)).mask_fill(mask, 0.0);
        self.output(scores.matmul(v1))
    }

    /// Whole-sequence chunked form with an explicit chunk length.
    pub fn forward_chunked(&self, x: Tensor<B, 3>, chunk: usize) -> Tensor<B, 3> {
        let [q, k, v1] = self.project(x);
        let g = k.zeros_like();
        self.output(chunked_gated_attention(q, k, v1, g, chunk))
    }
}

impl<B: ScanBackend> SequenceLayer<B> for LinearAttention<B> {
    type State = LinearAttentionState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        if self.chunked {
            self.forward_chunked(x, self.chunk_size)
        } else {
            self.forward_parallel(x)
        }
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let dh = self.d_model() / self.n_heads;
        LinearAttentionState {
            s: Tensor::zeros([batch, self.n_heads, dh, dh + 1], device),
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [b, d] = x.dims();
        let [q, k, v1] = self.project(x.reshape([b, 1, d]));
        let s = state.s + k.swap_dims(2, 3).matmul(v1); // (B,h,dh,1) x (B,h,1,dh+1)
        let raw = q.matmul(s.clone()); // (B, h, 1, dh + 1)
        (self.output(raw).reshape([b, d]), LinearAttentionState { s })
    }
}
