//! Gated linear attention (GLA, Yang et al. 2024) as used by REGBENCH (`dfa/gla`,
//! `use_gk = true`, `use_gv = false`).
//!
//! `h` heads, key width `d/2` in total (`d_k = d/(2h)`), value width `d` (`d_v = d/h`):
//! `q = W_q x`, `k = W_k x · (d/h)^(-1/2)`, `v = W_v x`, `g = W_g x + b_g`,
//! gate logits `a = W_2(W_1 x) + b_2` (`W_1: d -> 16`, `W_2: 16 -> d/2`),
//! forget gate per key channel `log α_t = max(logσ(a_t) / 16, -3)`;
//! `S_t = diag(α_t) S_{t-1} + k_tᵀ v_t`, `o_t = q_t S_t`;
//! output: per-head LayerNorm (no affine, eps 1e-5), `SiLU(g) ⊙ concat(o)`, `W_o` (no bias).
//!
//! `forward` is the chunkwise-parallel form (intra-chunk quadratic with decay ratios, inter-chunk
//! state scan; linear in `L`); `step` is the recurrence.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, silu};
use kleene_scan::ScanBackend;
use serde::{Deserialize, Serialize};

use crate::init::{linear_normal, out_std, INIT_STD};
use crate::ops::activation::layer_norm_plain;
use crate::ops::gated_attention::{chunked_gated_attention, gated_attention_step};
use crate::ops::sequence::{from_heads, to_heads};
use crate::validate::ensure;
use crate::{SequenceLayer, ZooError};

/// Width of the low-rank gate projection and the gate logit normaliser.
const GATE_RANK: usize = 16;
const GATE_NORMALISER: f64 = 16.0;
/// Floor of `log α` per step.
const MIN_LOG_DECAY: f64 = -3.0;

/// Configuration of a [`Gla`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlaConfig {
    /// Number of heads `h`; `d_model` must be divisible by `2h`. Default 1 (REGBENCH DFA).
    pub n_heads: usize,
    /// Chunk length of the chunkwise form, in `1..=16` (the within-chunk decay factors reach
    /// `exp(3 * chunk)`, which must stay far from f32 overflow). Default 16.
    pub chunk_size: usize,
}

impl Default for GlaConfig {
    fn default() -> Self {
        Self {
            n_heads: 1,
            chunk_size: 16,
        }
    }
}

impl GlaConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(self.n_heads > 0, "gla.n_heads", "must be > 0")?;
        ensure(
            d_model.is_multiple_of(2 * self.n_heads),
            "gla.n_heads",
            format!(
                "d_model ({d_model}) must be divisible by 2 * n_heads ({})",
                2 * self.n_heads
            ),
        )?;
        ensure(
            (1..=16).contains(&self.chunk_size),
            "gla.chunk_size",
            format!("must be in 1..=16, got {}", self.chunk_size),
        )
    }

    /// Builds the layer (`n_layer` only scales the output projection's init).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<Gla<B>, ZooError> {
        self.validate(d_model)?;
        let d = d_model;
        Ok(Gla {
            w_q: linear_normal(d, d / 2, false, INIT_STD, device),
            w_k: linear_normal(d, d / 2, false, INIT_STD, device),
            w_v: linear_normal(d, d, false, INIT_STD, device),
            w_g: linear_normal(d, d, true, INIT_STD, device),
            gate_down: linear_normal(d, GATE_RANK, false, INIT_STD, device),
            gate_up: linear_normal(GATE_RANK, d / 2, true, INIT_STD, device),
            w_o: linear_normal(d, d, false, out_std(n_layer), device),
            n_heads: self.n_heads,
            chunk_size: self.chunk_size,
        })
    }
}

/// Gated linear attention; see the module docs.
#[derive(Module, Debug)]
pub struct Gla<B: Backend> {
    pub w_q: Linear<B>,
    pub w_k: Linear<B>,
    pub w_v: Linear<B>,
    pub w_g: Linear<B>,
    pub gate_down: Linear<B>,
    pub gate_up: Linear<B>,
    pub w_o: Linear<B>,
    n_heads: usize,
    chunk_size: usize,
}

/// Recurrent state of [`Gla`]: `S: (B, h, d_k, d_v)`.
#[derive(Debug, Clone)]
pub struct GlaState<B: Backend> {
    pub s: Tensor<B, 4>,
}

impl<B: ScanBackend> Gla<B> {
    /// `(q, k, v, log α, g)` for `x: (B, L, d)`, heads-first.
    fn project(&self, x: Tensor<B, 3>) -> [Tensor<B, 4>; 5] {
        let h = self.n_heads;
        let d = x.dims()[2];
        let q = to_heads(self.w_q.forward(x.clone()), h);
        let k = to_heads(self.w_k.forward(x.clone()), h).div_scalar(((d / h) as f64).sqrt());
        let v = to_heads(self.w_v.forward(x.clone()), h);
        let a = self.gate_up.forward(self.gate_down.forward(x.clone()));
        let log_alpha = to_heads(
            log_sigmoid(a)
                .div_scalar(GATE_NORMALISER)
                .clamp_min(MIN_LOG_DECAY),
            h,
        );
        let g = to_heads(self.w_g.forward(x), h);
        [q, k, v, log_alpha, g]
    }

    fn output(&self, o: Tensor<B, 4>, g: Tensor<B, 4>) -> Tensor<B, 3> {
        self.w_o
            .forward(from_heads(silu(g) * layer_norm_plain(o, 1e-5)))
    }

    /// Whole-sequence chunked form with an explicit chunk length.
    pub fn forward_chunked(&self, x: Tensor<B, 3>, chunk: usize) -> Tensor<B, 3> {
        let [q, k, v, log_alpha, g] = self.project(x);
        let o = chunked_gated_attention(q, k, v, log_alpha, chunk);
        self.output(o, g)
    }
}

impl<B: ScanBackend> SequenceLayer<B> for Gla<B> {
    type State = GlaState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.forward_chunked(x, self.chunk_size)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let d = self.w_v.weight.dims()[1];
        let h = self.n_heads;
        GlaState {
            s: Tensor::zeros([batch, h, d / (2 * h), d / h], device),
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [b, d] = x.dims();
        let h = self.n_heads;
        let [q, k, v, log_alpha, g] = self.project(x.reshape([b, 1, d]));
        let (dk, dv) = (d / (2 * h), d / h);
        let (o, s) = gated_attention_step(
            q.reshape([b, h, dk]),
            k.reshape([b, h, dk]),
            v.reshape([b, h, dv]),
            log_alpha.reshape([b, h, dk]),
            state.s,
        );
        let y = self.output(o.reshape([b, h, 1, dv]), g).reshape([b, d]);
        (y, GlaState { s })
    }
}
