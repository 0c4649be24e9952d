//! S4D: a diagonal state-space layer (Gu et al. 2022) as used by REGBENCH (`dfa/s4d`).
//!
//! Per channel `c` and complex mode `n` (`N/2` modes, `A` shared across channels, ZOH):
//!
//! `K[c, l] = 2 Re sum_n C[c, n] (exp(Δ_c A_n) - 1) / A_n * exp(Δ_c A_n l)`,
//! `y = Linear(GELU(causal_conv(u, K) + D ⊙ u))`.
//!
//! `forward` builds the kernel in Vandermonde form and convolves (Toeplitz product);
//! `step` runs the equivalent recurrence `s = exp(ΔA) s + u`, `y = 2 Re sum_n C̃_n s_n`
//! with `C̃ = C (exp(ΔA) - 1) / A`.

use std::f64::consts::PI;

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::init::{linear_normal, out_std, param_from_vec, param_random};
use crate::ops::activation::gelu_erf;
use crate::ops::long_conv::causal_conv;
use crate::ops::vandermonde::{diag_ssm_step, vandermonde_kernel};
use crate::validate::{ensure, ensure_range};
use crate::{SequenceLayer, ZooError};

/// Configuration of an [`S4d`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S4dConfig {
    /// Real state size `N`; the layer keeps `N/2` complex modes. Must be even and > 0.
    /// Default 64 (REGBENCH).
    pub d_state: usize,
    /// Lower end of the log-uniform init range of the step size Δ. Default 1e-3.
    pub dt_min: f64,
    /// Upper end of the log-uniform init range of Δ. Default 1e-1.
    pub dt_max: f64,
}

impl Default for S4dConfig {
    fn default() -> Self {
        Self {
            d_state: 64,
            dt_min: 1e-3,
            dt_max: 1e-1,
        }
    }
}

impl S4dConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(
            self.d_state > 0 && self.d_state.is_multiple_of(2),
            "s4d.d_state",
            format!("must be even and > 0, got {}", self.d_state),
        )?;
        ensure_range(self.dt_min, self.dt_max, "s4d.dt_min", "s4d.dt_max")
    }

    /// Builds the layer (`n_layer` only scales the output projection's init).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<S4d<B>, ZooError> {
        self.validate(d_model)?;
        let modes = self.d_state / 2;
        let n = self.d_state as f64;
        // S4D-Inv: A_n = -1/2 + i (N / pi) (N / (2n + 1) - 1), shared by all channels.
        let im_a: Vec<f32> = (0..modes)
            .map(|k| (n / PI * (n / (2 * k + 1) as f64 - 1.0)) as f32)
            .collect();
        let c_std = 0.5f64.sqrt(); // C ~ complex normal CN(0, 1)
        Ok(S4d {
            log_neg_re_a: param_from_vec(vec![0.5f32.ln(); modes], [modes], device),
            im_a: param_from_vec(im_a, [modes], device),
            c_re: param_random([d_model, modes], Distribution::Normal(0.0, c_std), device),
            c_im: param_random([d_model, modes], Distribution::Normal(0.0, c_std), device),
            log_dt: param_random(
                [d_model],
                Distribution::Uniform(self.dt_min.ln(), self.dt_max.ln()),
                device,
            ),
            skip: param_random([d_model], Distribution::Normal(0.0, 1.0), device),
            out: linear_normal(d_model, d_model, true, out_std(n_layer), device),
        })
    }
}

/// The S4D layer; see the module docs for the equations.
#[derive(Module, Debug)]
pub struct S4d<B: Backend> {
    /// `log(-Re A)`, shape `(N/2,)`, shared across channels.
    pub log_neg_re_a: Param<Tensor<B, 1>>,
    /// `Im A`, shape `(N/2,)`.
    pub im_a: Param<Tensor<B, 1>>,
    /// `Re C`, shape `(D, N/2)`.
    pub c_re: Param<Tensor<B, 2>>,
    /// `Im C`, shape `(D, N/2)`.
    pub c_im: Param<Tensor<B, 2>>,
    /// `log Δ` per channel, shape `(D,)`.
    pub log_dt: Param<Tensor<B, 1>>,
    /// Skip connection `D`, shape `(D,)`.
    pub skip: Param<Tensor<B, 1>>,
    /// Output projection `d -> d` (with bias).
    pub out: Linear<B>,
}

/// Recurrent state of [`S4d`]: the complex modes `(B, D, N/2)`.
#[derive(Debug, Clone)]
pub struct S4dState<B: Backend> {
    pub re: Tensor<B, 3>,
    pub im: Tensor<B, 3>,
}

impl<B: Backend> S4d<B> {
    /// ZOH-discretised `(ΔA re, ΔA im, C̃ re, C̃ im)`, each `(D, N/2)`.
    fn discretised(&self) -> [Tensor<B, 2>; 4] {
        let [d, modes] = self.c_re.dims();
        let a_re = self.log_neg_re_a.val().exp().neg().reshape([1, modes]);
        let a_im = self.im_a.val().reshape([1, modes]);
        let dt = self.log_dt.val().exp().reshape([d, 1]);
        let z_re = dt.clone() * a_re.clone();
        let z_im = dt * a_im.clone();
        // q = (exp(z) - 1) / A
        let e = z_re.clone().exp();
        let n_re = (e.clone() * z_im.clone().cos()).sub_scalar(1.0);
        let n_im = e * z_im.clone().sin();
        let a_abs2 = a_re.clone() * a_re.clone() + a_im.clone() * a_im.clone();
        let q_re = (n_re.clone() * a_re.clone() + n_im.clone() * a_im.clone()) / a_abs2.clone();
        let q_im = (n_im * a_re - n_re * a_im) / a_abs2;
        let c_re = self.c_re.val();
        let c_im = self.c_im.val();
        let ct_re = c_re.clone() * q_re.clone() - c_im.clone() * q_im.clone();
        let ct_im = c_re * q_im + c_im * q_re;
        [z_re, z_im, ct_re, ct_im]
    }

    /// The convolution kernel `K: (D, len)` in Vandermonde form.
    pub fn kernel(&self, len: usize) -> Tensor<B, 2> {
        let [z_re, z_im, ct_re, ct_im] = self.discretised();
        vandermonde_kernel(z_re, z_im, ct_re, ct_im, len)
    }

    fn output(&self, y: Tensor<B, 3>, u: Tensor<B, 3>) -> Tensor<B, 3> {
        let d = u.dims()[2];
        let y = y + u * self.skip.val().reshape([1, 1, d]);
        self.out.forward(gelu_erf(y))
    }
}

impl<B: Backend> SequenceLayer<B> for S4d<B> {
    type State = S4dState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let l = x.dims()[1];
        let y = causal_conv(x.clone(), self.kernel(l));
        self.output(y, x)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let [d, modes] = self.c_re.dims();
        S4dState {
            re: Tensor::zeros([batch, d, modes], device),
            im: Tensor::zeros([batch, d, modes], device),
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [b, d] = x.dims();
        let [z_re, z_im, ct_re, ct_im] = self.discretised();
        let mag = z_re.exp();
        let a_re = mag.clone() * z_im.clone().cos();
        let a_im = mag * z_im.sin();
        let (y, re, im) = diag_ssm_step(a_re, a_im, ct_re, ct_im, state.re, state.im, x.clone());
        let out = self.output(y.reshape([b, 1, d]), x.reshape([b, 1, d]));
        (out.reshape([b, d]), S4dState { re, im })
    }
}
