//! Hyena (Poli et al. 2023), order 2, as used by REGBENCH (`dfa/hyena`).
//!
//! `u' = W_in u` (d -> 3d), `u'' = short depthwise causal conv (3 taps)`, split into
//! `x0, x1, v`; `v <- v ⊙ x1`; `v <- causal_conv(v, h) + b ⊙ v`; `y = v ⊙ x0`; `out = W_out y`.
//!
//! The long filter `h[c, l]` is implicit: an MLP of positional features evaluated on the grid of
//! length `l_max` (so lag `l` always uses `t = l / (l_max - 1)`, whatever the input length),
//! `z_l = [t, cos(f_k ω_l)..., -sin(f_k ω_l)...]`, `ω_l = 2π l / l_max`,
//! `Linear(emb, w) -> Sin -> Linear(w, w) -> Sin -> Linear(w, w) -> Sin -> Linear(w, d, no bias)`
//! (one shared `Sin(x) = sin(φ ⊙ x)`, `φ` trainable, init `sin_freq`), then the exponential
//! modulation `exp(-t |δ_c|)` with frozen `δ_c = linspace(ln(0.01)/1.5, ln(0.01)/0.3, d)`.
//! Inputs longer than `l_max` simply evaluate the MLP beyond the grid.
//!
//! `forward` convolves with the whole filter (Toeplitz product); `step` keeps the history of
//! gated values (the state grows with the sequence, as any long convolution's must).

use std::f64::consts::PI;

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::init::{
    linear_normal, out_std, param_from_vec, param_random, tensor_from_vec, INIT_STD,
};
use crate::ops::long_conv::causal_conv;
use crate::ops::short_conv::{short_conv, short_conv_step};
use crate::validate::ensure;
use crate::{SequenceLayer, ZooError};

/// Configuration of a [`Hyena`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HyenaConfig {
    /// Length of the filter grid (`input_seq_len + 2`; REGBENCH DFA: 4098). > 1. Default 4098.
    pub l_max: usize,
    /// Width of the filter MLP. > 0. Default 64.
    pub filter_order: usize,
    /// Positional feature size: odd, >= 3 (`1 + 2 * bands`). Default 5.
    pub emb_dim: usize,
    /// Taps of the short depthwise convolution. > 0. Default 3.
    pub short_filter_order: usize,
    /// Initial frequency `φ` of the filter MLP's `Sin` activation. Default 10.
    pub sin_freq: f64,
    /// Apply the exponential decay modulation to the filter. Default true.
    pub modulate: bool,
}

impl Default for HyenaConfig {
    fn default() -> Self {
        Self {
            l_max: 4098,
            filter_order: 64,
            emb_dim: 5,
            short_filter_order: 3,
            sin_freq: 10.0,
            modulate: true,
        }
    }
}

impl HyenaConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(
            self.l_max > 1,
            "hyena.l_max",
            format!("must be > 1, got {}", self.l_max),
        )?;
        ensure(self.filter_order > 0, "hyena.filter_order", "must be > 0")?;
        ensure(
            self.emb_dim >= 3 && self.emb_dim % 2 == 1,
            "hyena.emb_dim",
            format!("must be odd and >= 3, got {}", self.emb_dim),
        )?;
        ensure(
            self.short_filter_order > 0,
            "hyena.short_filter_order",
            "must be > 0",
        )?;
        ensure(
            self.sin_freq.is_finite(),
            "hyena.sin_freq",
            format!("must be finite, got {}", self.sin_freq),
        )
    }

    /// Builds the layer (`n_layer` only scales the output projection's init).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<Hyena<B>, ZooError> {
        self.validate(d_model)?;
        let d = d_model;
        let w = self.filter_order;
        let conv_bound = 1.0 / (self.short_filter_order as f64).sqrt();
        Ok(Hyena {
            w_in: linear_normal(d, 3 * d, true, INIT_STD, device),
            short_w: param_random(
                [3 * d, self.short_filter_order],
                Distribution::Uniform(-conv_bound, conv_bound),
                device,
            ),
            short_b: param_random(
                [3 * d],
                Distribution::Uniform(-conv_bound, conv_bound),
                device,
            ),
            filter_fc1: linear_normal(self.emb_dim, w, true, INIT_STD, device),
            filter_fc2: linear_normal(w, w, true, INIT_STD, device),
            filter_fc3: linear_normal(w, w, true, INIT_STD, device),
            filter_out: linear_normal(w, d, false, INIT_STD, device),
            sin_freq: param_from_vec(vec![self.sin_freq as f32; w], [w], device),
            filter_bias: param_random([d], Distribution::Normal(0.0, 1.0), device),
            w_out: linear_normal(d, d, true, out_std(n_layer), device),
            l_max: self.l_max,
            emb_dim: self.emb_dim,
            modulate: self.modulate,
        })
    }
}

/// The Hyena operator; see the module docs.
#[derive(Module, Debug)]
pub struct Hyena<B: Backend> {
    pub w_in: Linear<B>,
    /// Short depthwise conv taps `(3d, K)`; column `j` = lag `j`.
    pub short_w: Param<Tensor<B, 2>>,
    pub short_b: Param<Tensor<B, 1>>,
    pub filter_fc1: Linear<B>,
    pub filter_fc2: Linear<B>,
    pub filter_fc3: Linear<B>,
    pub filter_out: Linear<B>,
    /// `φ` of the shared `Sin` activation, `(filter_order,)`.
    pub sin_freq: Param<Tensor<B, 1>>,
    /// Filter bias `b` (the long convolution's skip term), `(d,)`.
    pub filter_bias: Param<Tensor<B, 1>>,
    pub w_out: Linear<B>,
    l_max: usize,
    emb_dim: usize,
    modulate: bool,
}

/// Recurrent state of [`Hyena`].
#[derive(Debug, Clone)]
pub struct HyenaState<B: Backend> {
    /// Previous `K - 1` inputs of the short conv, `(B, K - 1, 3d)`.
    pub short: Tensor<B, 3>,
    /// All gated values `v ⊙ x1` so far, `(B, t, d)` (`None` before the first step).
    pub history: Option<Tensor<B, 3>>,
}

impl<B: Backend> Hyena<B> {
    /// The implicit long filter `(d, len)` for lags `0..len`.
    pub fn filter(&self, len: usize, device: &B::Device) -> Tensor<B, 2> {
        let d = self.filter_bias.dims()[0];
        let bands = (self.emb_dim - 1) / 2;
        let lm = self.l_max as f64;
        let mut feats = Vec::with_capacity(len * self.emb_dim);
        for l in 0..len {
            let t = l as f64 / (lm - 1.0);
            let omega = 2.0 * PI * l as f64 / lm;
            feats.push(t as f32);
            let freq = |k: usize| {
                if bands == 1 {
                    1e-4
                } else {
                    1e-4 + (bands as f64 - 1.0 - 1e-4) * k as f64 / (bands as f64 - 1.0)
                }
            };
            for k in 0..bands {
                feats.push((freq(k) * omega).cos() as f32);
            }
            for k in 0..bands {
                feats.push(-(freq(k) * omega).sin() as f32);
            }
        }
        let z = tensor_from_vec::<B, 2>(feats, [len, self.emb_dim], device);
        let w = self.sin_freq.dims()[0];
        let phi = self.sin_freq.val().reshape([1, w]);
        let act = |x: Tensor<B, 2>| (x * phi.clone()).sin();
        let h = act(self.filter_fc1.forward(z));
        let h = act(self.filter_fc2.forward(h));
        let h = act(self.filter_fc3.forward(h));
        let h = self.filter_out.forward(h); // (len, d)
        let h = if self.modulate {
            let (lo, hi) = ((0.01f64).ln() / 1.5, (0.01f64).ln() / 0.3);
            let mut m = Vec::with_capacity(len * d);
            for l in 0..len {
                let t = l as f64 / (lm - 1.0);
                for c in 0..d {
                    let delta = if d == 1 {
                        lo
                    } else {
                        lo + (hi - lo) * c as f64 / (d as f64 - 1.0)
                    };
                    m.push((-t * delta.abs()).exp() as f32);
                }
            }
            h * tensor_from_vec::<B, 2>(m, [len, d], device)
        } else {
            h
        };
        h.transpose()
    }

    fn split(&self, u: Tensor<B, 3>) -> [Tensor<B, 3>; 3] {
        let d = self.filter_bias.dims()[0];
        [
            u.clone().narrow(2, 0, d),
            u.clone().narrow(2, d, d),
            u.narrow(2, 2 * d, d),
        ]
    }
}

impl<B: Backend> SequenceLayer<B> for Hyena<B> {
    type State = HyenaState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [_, l, d] = x.dims();
        let u = short_conv(
            self.w_in.forward(x.clone()),
            self.short_w.val(),
            Some(self.short_b.val()),
        );
        let [x0, x1, v] = self.split(u);
        let v = v * x1;
        let v = causal_conv(v.clone(), self.filter(l, &x.device()))
            + v * self.filter_bias.val().reshape([1, 1, d]);
        self.w_out.forward(v * x0)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let [c3, taps] = self.short_w.dims();
        HyenaState {
            short: Tensor::zeros([batch, taps - 1, c3], device),
            history: None,
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [b, d] = x.dims();
        let proj = self.w_in.forward(x.clone());
        let (u, short) = if self.short_w.dims()[1] > 1 {
            short_conv_step(
                proj,
                state.short,
                self.short_w.val(),
                Some(self.short_b.val()),
            )
        } else {
            let c3 = 3 * d;
            (
                proj * self.short_w.val().reshape([1, c3]) + self.short_b.val().reshape([1, c3]),
                state.short,
            )
        };
        let [x0, x1, v] = self.split(u.reshape([b, 1, 3 * d]));
        let v = (v * x1).reshape([b, 1, d]);
        let history = match state.history {
            None => v.clone(),
            Some(h) => Tensor::cat(vec![h, v.clone()], 1),
        };
        let t = history.dims()[1];
        // y_t = sum_j h[:, j] v_{t-j}: reverse the filter against the history.
        let filter = self.filter(t, &x.device()).flip([1]); // (d, t): column s = lag t-1-s
        let conv = (history.clone() * filter.transpose().reshape([1, t, d]))
            .sum_dim(1)
            .reshape([b, d]);
        let v_t = v.reshape([b, d]);
        let y = conv + v_t * self.filter_bias.val().reshape([1, d]);
        let y = y * x0.reshape([b, d]);
        (
            self.w_out.forward(y),
            HyenaState {
                short,
                history: Some(history),
            },
        )
    }
}
