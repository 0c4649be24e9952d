//! Multi-scale retention (RetNet, Sun et al. 2023) as used by REGBENCH (`dfa/retnet`).
//!
//! Heads `j = 0..h` with decay `γ_j = 1 - 2^(-5-j)`; `q = W_q x`, `k = W_k x / sqrt(d_k)`
//! (`d_k = d/h`), `v = W_v x`, `g = W_g x` (`d_v = 2d/h`); `q̃, k̃` = rotary rotation of
//! interleaved pairs with angles `θ_i = 10000^(-linspace(0, 1, d_k/2)_i)` at position `t`.
//!
//! Parallel form: `D[t, s] = γ^(t-s) / sqrt(Σ_{s'<=t} γ^(t-s'))` for `s <= t`,
//! `R = (q̃ k̃ᵀ) ⊙ D`, `o = R v / max(|Σ_s R[t, s]|, 1)` with the denominator **detached**.
//!
//! Recurrent form: `S_t = γ S_{t-1} + k̃_tᵀ v_t`, `z_t = γ z_{t-1} + k̃_t`,
//! `c_t = (Σ_{i<=t} γ^i)^(-1/2)`, `o_t = c_t q̃_t S_t / max(|c_t q̃_t · z_t|, 1)`.
//!
//! Chunked form: the recurrent form evaluated chunkwise (intra-chunk quadratic, inter-chunk
//! state scan) with `z` carried as an extra value column of ones.
//!
//! Output: per-head LayerNorm (no affine, eps 1e-5), `y = SiLU(g) ⊙ concat(o)`, `W_o: 2d -> d`.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::silu;
use kleene_scan::ScanBackend;
use serde::{Deserialize, Serialize};

use crate::init::{linear_normal, out_std, tensor_from_vec, INIT_STD};
use crate::ops::activation::layer_norm_plain;
use crate::ops::gated_attention::chunked_gated_attention;
use crate::ops::sequence::{from_heads, to_heads};
use crate::validate::ensure;
use crate::{SequenceLayer, ZooError};

/// Which whole-sequence algorithm `forward` uses (all compute the same function).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RetentionForm {
    /// Materialised `L x L` retention matrix (the reference implementation). Default.
    #[default]
    Parallel,
    /// Chunkwise form: linear in `L`.
    Chunked,
}

/// Configuration of a [`Retention`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Number of heads `h`; `d_model / h` must be even. Default 8 (REGBENCH DFA).
    pub n_heads: usize,
    /// Whole-sequence algorithm. Default `parallel`.
    pub form: RetentionForm,
    /// Chunk length of the chunked form, > 0. Default 64.
    pub chunk_size: usize,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            n_heads: 8,
            form: RetentionForm::Parallel,
            chunk_size: 64,
        }
    }
}

impl RetentionConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(self.n_heads > 0, "retnet.n_heads", "must be > 0")?;
        ensure(
            d_model.is_multiple_of(self.n_heads) && (d_model / self.n_heads).is_multiple_of(2),
            "retnet.n_heads",
            format!(
                "d_model ({d_model}) / n_heads ({}) must be an even integer (rotary pairs)",
                self.n_heads
            ),
        )?;
        ensure(self.chunk_size > 0, "retnet.chunk_size", "must be > 0")
    }

    /// Builds the layer (`n_layer` only scales the output projection's init).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<Retention<B>, ZooError> {
        self.validate(d_model)?;
        let d = d_model;
        Ok(Retention {
            w_q: linear_normal(d, d, true, INIT_STD, device),
            w_k: linear_normal(d, d, true, INIT_STD, device),
            w_v: linear_normal(d, 2 * d, true, INIT_STD, device),
            w_g: linear_normal(d, 2 * d, true, INIT_STD, device),
            w_o: linear_normal(2 * d, d, true, out_std(n_layer), device),
            n_heads: self.n_heads,
            chunked: self.form == RetentionForm::Chunked,
            chunk_size: self.chunk_size,
        })
    }
}

/// Multi-scale retention; see the module docs.
#[derive(Module, Debug)]
pub struct Retention<B: Backend> {
    pub w_q: Linear<B>,
    pub w_k: Linear<B>,
    pub w_v: Linear<B>,
    pub w_g: Linear<B>,
    pub w_o: Linear<B>,
    n_heads: usize,
    chunked: bool,
    chunk_size: usize,
}

/// Recurrent state of [`Retention`].
#[derive(Debug, Clone)]
pub struct RetentionState<B: Backend> {
    /// `S`: `(B, h, d_k, d_v)`.
    pub s: Tensor<B, 4>,
    /// `z`: `(B, h, d_k)`.
    pub z: Tensor<B, 3>,
    /// Position of the next input.
    pub t: usize,
}

impl<B: ScanBackend> Retention<B> {
    fn d_model(&self) -> usize {
        self.w_q.weight.dims()[0]
    }

    fn d_k(&self) -> usize {
        self.d_model() / self.n_heads
    }

    /// `γ_j = 1 - 2^(-5-j)`.
    pub fn gammas(&self) -> Vec<f64> {
        (0..self.n_heads)
            .map(|j| 1.0 - 2f64.powi(-5 - j as i32))
            .collect()
    }

    /// `(cos, sin)` of the rotary angles for positions `start..start+len`: `(len, d_k)` each,
    /// duplicated over each interleaved pair.
    fn rotary(&self, start: usize, len: usize, device: &B::Device) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let dk = self.d_k();
        let half = dk / 2;
        let mut cos = Vec::with_capacity(len * dk);
        let mut sin = Vec::with_capacity(len * dk);
        for t in start..start + len {
            for i in 0..dk {
                let frac = if half > 1 {
                    (i / 2) as f64 / (half - 1) as f64
                } else {
                    0.0
                };
                let angle = t as f64 * 10000f64.powf(-frac);
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        (
            tensor_from_vec(cos, [len, dk], device),
            tensor_from_vec(sin, [len, dk], device),
        )
    }

    /// Rotates interleaved pairs: `x cos + rot(x) sin`, `rot(x)[2i] = -x[2i+1]`, `rot(x)[2i+1] = x[2i]`.
    fn rotate(x: Tensor<B, 4>, cos: Tensor<B, 4>, sin: Tensor<B, 4>) -> Tensor<B, 4> {
        let [b, h, l, dk] = x.dims();
        let pairs = x.clone().reshape([b, h, l, dk / 2, 2]);
        let first = pairs.clone().narrow(4, 0, 1);
        let second = pairs.narrow(4, 1, 1);
        let rot = Tensor::cat(vec![second.neg(), first], 4).reshape([b, h, l, dk]);
        x * cos + rot * sin
    }

    /// `(q̃, k̃, v, g)` for inputs `x: (B, L, d)` at positions `start..start+L`, as heads.
    fn project(&self, x: Tensor<B, 3>, start: usize) -> [Tensor<B, 4>; 4] {
        let [_, l, _] = x.dims();
        let h = self.n_heads;
        let dk = self.d_k();
        let q = to_heads(self.w_q.forward(x.clone()), h);
        let k = to_heads(self.w_k.forward(x.clone()), h).div_scalar((dk as f64).sqrt());
        let v = to_heads(self.w_v.forward(x.clone()), h);
        let g = to_heads(self.w_g.forward(x.clone()), h);
        let (cos, sin) = self.rotary(start, l, &x.device());
        let cos = cos.reshape([1, 1, l, dk]);
        let sin = sin.reshape([1, 1, l, dk]);
        let q = Self::rotate(q, cos.clone(), sin.clone());
        let k = Self::rotate(k, cos, sin);
        [q, k, v, g]
    }

    fn output(&self, o: Tensor<B, 4>, g: Tensor<B, 4>) -> Tensor<B, 3> {
        let o = layer_norm_plain(o, 1e-5);
        self.w_o.forward(from_heads(silu(g) * o))
    }

    /// Whole-sequence parallel form (materialised decay matrix).
    pub fn forward_parallel(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [_, l, _] = x.dims();
        let h = self.n_heads;
        let device = x.device();
        let [q, k, v, g] = self.project(x, 0);
        let mut decay = Vec::with_capacity(h * l * l);
        for gamma in self.gammas() {
            for t in 0..l {
                let norm: f64 = (0..=t).map(|i| gamma.powi(i as i32)).sum::<f64>().sqrt();
                for s in 0..l {
                    decay.push(if s <= t {
                        (gamma.powi((t - s) as i32) / norm) as f32
                    } else {
                        0.0
                    });
                }
            }
        }
        let decay = tensor_from_vec::<B, 3>(decay, [h, l, l], &device).unsqueeze::<4>();
        let r = q.matmul(k.swap_dims(2, 3)) * decay;
        let denom = r.clone().sum_dim(3).abs().clamp_min(1.0).detach();
        let o = r.matmul(v) / denom;
        self.output(o, g)
    }

    /// Whole-sequence chunked form (linear in `L`).
    pub fn forward_chunked(&self, x: Tensor<B, 3>, chunk: usize) -> Tensor<B, 3> {
        let [b, l, _] = x.dims();
        let h = self.n_heads;
        let dk = self.d_k();
        let device = x.device();
        let [q, k, v, g] = self.project(x, 0);
        let dv = v.dims()[3];
        let gammas = self.gammas();
        let log_gamma: Vec<f32> = gammas.iter().map(|g| g.ln() as f32).collect();
        let log_decay = tensor_from_vec::<B, 1>(log_gamma, [h], &device)
            .reshape([1, h, 1, 1])
            .expand([b, h, l, dk]);
        let v1 = Tensor::cat(vec![v, Tensor::ones([b, h, l, 1], &device)], 3);
        let raw = chunked_gated_attention(q, k, v1, log_decay, chunk);
        let o = raw.clone().narrow(3, 0, dv);
        let row_sum = raw.narrow(3, dv, 1);
        // c_t = (Σ_{i<=t} γ^i)^(-1/2)
        let mut c = Vec::with_capacity(h * l);
        for gamma in &gammas {
            let mut acc = 0.0f64;
            for t in 0..l {
                acc += gamma.powi(t as i32);
                c.push((1.0 / acc.sqrt()) as f32);
            }
        }
        let c = tensor_from_vec::<B, 3>(c, [h, l, 1], &device).unsqueeze::<4>();
        let denom = (row_sum * c.clone()).abs().clamp_min(1.0).detach();
        self.output(o * c / denom, g)
    }
}

impl<B: ScanBackend> SequenceLayer<B> for Retention<B> {
    type State = RetentionState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        if self.chunked {
            self.forward_chunked(x, self.chunk_size)
        } else {
            self.forward_parallel(x)
        }
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let dk = self.d_k();
        let dv = 2 * dk;
        RetentionState {
            s: Tensor::zeros([batch, self.n_heads, dk, dv], device),
            z: Tensor::zeros([batch, self.n_heads, dk], device),
            t: 0,
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [b, d] = x.dims();
        let h = self.n_heads;
        let dk = self.d_k();
        let dv = 2 * dk;
        let device = x.device();
        let [q, k, v, g] = self.project(x.reshape([b, 1, d]), state.t);
        let gammas = self.gammas();
        let gamma =
            tensor_from_vec::<B, 1>(gammas.iter().map(|g| *g as f32).collect(), [h], &device);
        let q = q.reshape([b, h, dk]);
        let k = k.reshape([b, h, dk]);
        let v = v.reshape([b, h, dv]);
        let s = state.s * gamma.clone().reshape([1, h, 1, 1])
            + k.clone().reshape([b, h, dk, 1]) * v.reshape([b, h, 1, dv]);
        let z = state.z * gamma.reshape([1, h, 1]) + k;
        // Σ_{i<=t} γ^i in closed form (the step must stay O(1) per token).
        let c: Vec<f32> = gammas
            .iter()
            .map(|g| {
                let sum = (1.0 - g.powf(state.t as f64 + 1.0)) / (1.0 - g);
                (1.0 / sum.sqrt()) as f32
            })
            .collect();
        let c = tensor_from_vec::<B, 1>(c, [h], &device).reshape([1, h, 1]);
        let qc = q * c;
        let o = qc
            .clone()
            .reshape([b, h, 1, dk])
            .matmul(s.clone())
            .reshape([b, h, dv]);
        let denom = (qc * z.clone()).sum_dim(2).abs().clamp_min(1.0).detach();
        let o = (o / denom).reshape([b, h, 1, dv]);
        let y = self.output(o, g).reshape([b, d]);
        (
            y,
            RetentionState {
                s,
                z,
                t: state.t + 1,
            },
        )
    }
}
