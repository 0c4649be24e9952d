//! H3 (Fu et al. 2023) as used by REGBENCH (`dfa/h3`, `head_dim = 1`).
//!
//! `q, k, v = W_{q,k,v} u`;
//! shift SSM: `k' = causal_conv(k, F) + D_k ⊙ k` with `F` a learned causal FIR filter of
//! `shift_taps` (64) taps per channel that includes lag 0;
//! diagonal SSM on `x = k' ⊙ v` (S4D-Lin init, bilinear discretisation, independent per channel):
//! `Ā = (1 + ΔA/2) / (1 - ΔA/2)`, `K[l] = 2 Re sum_n C_n Δ / (1 - ΔA/2) Ā_n^l`,
//! `y = causal_conv(x, K) + D ⊙ x`; output `W_o (q ⊙ y)`.
//!
//! Deviation (documented): upstream builds the shift filter as the correlation of a trainable `B`
//! (init `e_1`) with `C`; we parameterise the resulting 64-tap filter directly, which spans the
//! same set of filters.

use std::f64::consts::PI;

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::init::{linear_normal, out_std, param_from_vec, param_random, INIT_STD};
use crate::ops::long_conv::causal_conv;
use crate::ops::short_conv::short_conv_step;
use crate::ops::vandermonde::{diag_ssm_step, vandermonde_kernel};
use crate::validate::{ensure, ensure_range};
use crate::{SequenceLayer, ZooError};

/// Configuration of an [`H3`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct H3Config {
    /// Real state size `N` of the diagonal SSM (`N/2` complex modes). Even, > 0. Default 64.
    pub d_state: usize,
    /// Taps of the shift-SSM FIR filter (including lag 0). > 0. Default 64.
    pub shift_taps: usize,
    /// Lower end of the log-uniform init range of Δ. Default 1e-3.
    pub dt_min: f64,
    /// Upper end of the log-uniform init range of Δ. Default 1e-1.
    pub dt_max: f64,
}

impl Default for H3Config {
    fn default() -> Self {
        Self {
            d_state: 64,
            shift_taps: 64,
            dt_min: 1e-3,
            dt_max: 1e-1,
        }
    }
}

impl H3Config {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(
            self.d_state > 0 && self.d_state.is_multiple_of(2),
            "h3.d_state",
            format!("must be even and > 0, got {}", self.d_state),
        )?;
        ensure(self.shift_taps > 0, "h3.shift_taps", "must be > 0")?;
        ensure_range(self.dt_min, self.dt_max, "h3.dt_min", "h3.dt_max")
    }

    /// Builds the layer (`n_layer` only scales the output projection's init).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<H3<B>, ZooError> {
        self.validate(d_model)?;
        let d = d_model;
        let modes = self.d_state / 2;
        // S4D-Lin: A_n = -1/2 + i pi n, independent copy per channel.
        let im_a: Vec<f32> = (0..d)
            .flat_map(|_| (0..modes).map(|n| (PI * n as f64) as f32))
            .collect();
        let c_std = 0.5f64.sqrt();
        let fir_bound = 1.0 / (self.shift_taps as f64).sqrt();
        Ok(H3 {
            q: linear_normal(d, d, true, INIT_STD, device),
            k: linear_normal(d, d, true, INIT_STD, device),
            v: linear_normal(d, d, true, INIT_STD, device),
            shift_filter: param_random(
                [d, self.shift_taps],
                Distribution::Uniform(-fir_bound, fir_bound),
                device,
            ),
            shift_skip: param_random([d], Distribution::Normal(0.0, 1.0), device),
            log_neg_re_a: param_from_vec(vec![0.5f32.ln(); d * modes], [d, modes], device),
            im_a: param_from_vec(im_a, [d, modes], device),
            c_re: param_random([d, modes], Distribution::Normal(0.0, c_std), device),
            c_im: param_random([d, modes], Distribution::Normal(0.0, c_std), device),
            log_dt: param_random(
                [d],
                Distribution::Uniform(self.dt_min.ln(), self.dt_max.ln()),
                device,
            ),
            skip: param_random([d], Distribution::Normal(0.0, 1.0), device),
            out: linear_normal(d, d, true, out_std(n_layer), device),
        })
    }
}

/// The H3 layer; see the module docs.
#[derive(Module, Debug)]
pub struct H3<B: Backend> {
    pub q: Linear<B>,
    pub k: Linear<B>,
    pub v: Linear<B>,
    /// Shift-SSM FIR filter `(D, taps)`; column `j` is the tap for lag `j`.
    pub shift_filter: Param<Tensor<B, 2>>,
    /// `D_k` of the shift SSM, `(D,)`.
    pub shift_skip: Param<Tensor<B, 1>>,
    /// `log(-Re A)`, `(D, N/2)`.
    pub log_neg_re_a: Param<Tensor<B, 2>>,
    /// `Im A`, `(D, N/2)`.
    pub im_a: Param<Tensor<B, 2>>,
    pub c_re: Param<Tensor<B, 2>>,
    pub c_im: Param<Tensor<B, 2>>,
    /// `log Δ`, `(D,)`.
    pub log_dt: Param<Tensor<B, 1>>,
    /// `D` of the diagonal SSM, `(D,)`.
    pub skip: Param<Tensor<B, 1>>,
    pub out: Linear<B>,
}

/// Recurrent state of [`H3`].
#[derive(Debug, Clone)]
pub struct H3State<B: Backend> {
    /// The previous `taps - 1` key vectors, oldest first: `(B, taps - 1, D)`.
    pub keys: Tensor<B, 3>,
    /// Diagonal SSM modes `(B, D, N/2)`.
    pub re: Tensor<B, 3>,
    pub im: Tensor<B, 3>,
}

impl<B: Backend> H3<B> {
    /// Bilinear discretisation: `(log|Ā|, arg Ā, Ā re, Ā im, C̃ re, C̃ im)` with `C̃ = C B̄`.
    fn discretised(&self) -> [Tensor<B, 2>; 6] {
        let d = self.c_re.dims()[0];
        let a_re = self.log_neg_re_a.val().exp().neg();
        let a_im = self.im_a.val();
        let dt = self.log_dt.val().exp().reshape([d, 1]);
        let half_re = (dt.clone() * a_re).mul_scalar(0.5);
        let half_im = (dt.clone() * a_im).mul_scalar(0.5);
        // num = 1 + z/2, den = 1 - z/2
        let num_re = half_re.clone().add_scalar(1.0);
        let num_im = half_im.clone();
        let den_re = half_re.neg().add_scalar(1.0);
        let den_im = half_im.neg();
        let den_abs2 = den_re.clone() * den_re.clone() + den_im.clone() * den_im.clone();
        // Ā = num * conj(den) / |den|^2
        let abar_re =
            (num_re.clone() * den_re.clone() + num_im.clone() * den_im.clone()) / den_abs2.clone();
        let abar_im = (num_im * den_re.clone() - num_re * den_im.clone()) / den_abs2.clone();
        // B̄ = Δ conj(den) / |den|^2
        let bbar_re = dt.clone() * den_re / den_abs2.clone();
        let bbar_im = dt * den_im.neg() / den_abs2;
        let c_re = self.c_re.val();
        let c_im = self.c_im.val();
        let ct_re = c_re.clone() * bbar_re.clone() - c_im.clone() * bbar_im.clone();
        let ct_im = c_re * bbar_im + c_im * bbar_re;
        let log_mag = (abar_re.clone() * abar_re.clone() + abar_im.clone() * abar_im.clone())
            .log()
            .mul_scalar(0.5);
        let phase = abar_im.clone().atan2(abar_re.clone());
        [log_mag, phase, abar_re, abar_im, ct_re, ct_im]
    }

    /// The diagonal-SSM kernel `(D, len)` in Vandermonde form.
    pub fn ssm_kernel(&self, len: usize) -> Tensor<B, 2> {
        let [log_mag, phase, _, _, ct_re, ct_im] = self.discretised();
        vandermonde_kernel(log_mag, phase, ct_re, ct_im, len)
    }

    /// The shift filter zero-padded or truncated to `len` taps.
    fn shift_kernel(&self, len: usize) -> Tensor<B, 2> {
        let [d, taps] = self.shift_filter.dims();
        let f = self.shift_filter.val();
        if len <= taps {
            f.narrow(1, 0, len)
        } else {
            Tensor::cat(
                vec![f.clone(), Tensor::zeros([d, len - taps], &f.device())],
                1,
            )
        }
    }
}

impl<B: Backend> SequenceLayer<B> for H3<B> {
    type State = H3State<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [_, l, d] = x.dims();
        let q = self.q.forward(x.clone());
        let k = self.k.forward(x.clone());
        let v = self.v.forward(x);
        let k = causal_conv(k.clone(), self.shift_kernel(l))
            + k * self.shift_skip.val().reshape([1, 1, d]);
        let kv = k * v;
        let y =
            causal_conv(kv.clone(), self.ssm_kernel(l)) + kv * self.skip.val().reshape([1, 1, d]);
        self.out.forward(q * y)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let [d, modes] = self.c_re.dims();
        let taps = self.shift_filter.dims()[1];
        H3State {
            keys: Tensor::zeros([batch, taps.saturating_sub(1), d], device),
            re: Tensor::zeros([batch, d, modes], device),
            im: Tensor::zeros([batch, d, modes], device),
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [_, d] = x.dims();
        let q = self.q.forward(x.clone());
        let k = self.k.forward(x.clone());
        let v = self.v.forward(x);
        let (shifted, keys) = if self.shift_filter.dims()[1] > 1 {
            short_conv_step(k.clone(), state.keys, self.shift_filter.val(), None)
        } else {
            (
                k.clone() * self.shift_filter.val().reshape([1, d]),
                state.keys,
            )
        };
        let k = shifted + k * self.shift_skip.val().reshape([1, d]);
        let kv = k * v;
        let [_, _, a_re, a_im, ct_re, ct_im] = self.discretised();
        let (y, re, im) = diag_ssm_step(a_re, a_im, ct_re, ct_im, state.re, state.im, kv.clone());
        let y = y + kv * self.skip.val().reshape([1, d]);
        (self.out.forward(q * y), H3State { keys, re, im })
    }
}
