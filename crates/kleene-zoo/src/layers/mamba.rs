//! Mamba-1 (Gu & Dao 2023) mixer, `mamba_ssm.Mamba` with its defaults. Sarrof et al.'s model
//! is this mixer in mamba-ssm's `MixerModel` ([`crate::models::mamba`]); REGBENCH's "Mamba" is
//! this mixer on the `no_ffn_faithful` backbone (one Mamba on the raw embeddings, spec
//! `regbench-icl-zoo.md` §3.1.2; upstream's `_no_weight_decay` flags are ignored by REGBENCH's
//! optimizer, so `A_log` and `D` get weight decay there: a trainer setting).
//!
//! Mixer, with `d_inner = expand·d`, `R = dt_rank`, `N = d_state`, `K = d_conv`:
//! ```text
//! [x, z] = in_proj(u)                                  (no bias)
//! x      = SiLU(causal depthwise conv_K(x) + conv_bias)
//! [δ, B, C] = x_proj(x)                                (no bias; R, N, N)
//! Δ      = softplus(dt_proj(δ))  (with bias; softplus(x) = x for x > 20, as mamba)
//! A      = −exp(A_log)                                  (d_inner × N)
//! s_t    = ā_t ⊙ s_{t−1} + (Δ_t x_t) ⊗ B_t             (s_{−1} = 0)
//! ā_t    = exp(Δ_t A), or 2·exp(Δ_t A) − 1 with `allow_neg_eigval`
//! y_t    = s_t C_t + D ⊙ x_t
//! out    = out_proj(y ⊙ SiLU(z))                        (no bias)
//! ```
//!
//! `allow_neg_eigval` is Grazzi et al. (ICLR 2025), "Unlocking State-Tracking in Linear RNNs
//! Through Negative Eigenvalues": a transition in (−1, 1) lets a channel flip its sign per step,
//! which parity and other state-tracking tasks need (spec `state-tracking-models.md` §7).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::silu;
use burn::tensor::TensorData;
use kleene_scan::reference::softplus_thresholded;
use kleene_scan::{
    causal_conv1d, selective_scan, ScanLayout, SelectiveScanInput, TransitionRange,
};

use serde::{Deserialize, Serialize};

use crate::init::{dt_bias_log_uniform, linear_torch, linear_uniform, uniform};
use crate::validate::{ensure, ensure_range};
use crate::{ScanBackend, SequenceLayer, ZooError};

/// Configuration of the Mamba mixer (defaults: `mamba_ssm.Mamba`, as REGBENCH and Sarrof et al.).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MambaMixerConfig {
    /// SSM state size `N` per channel. > 0. Default 16.
    pub d_state: usize,
    /// Width of the causal depthwise convolution. > 0. Default 4.
    pub d_conv: usize,
    /// Inner width factor (`d_inner = expand · d`). > 0. Default 2.
    pub expand: usize,
    /// Rank of the Δ projection; `None` = `ceil(d / 16)`. Default `None`.
    pub dt_rank: Option<usize>,
    /// Lower end of the log-uniform Δ init. Default 1e-3.
    pub dt_min: f64,
    /// Upper end of the log-uniform Δ init. Default 1e-1.
    pub dt_max: f64,
    /// Floor of the initial Δ. Default 1e-4.
    pub dt_init_floor: f64,
    /// Grazzi et al. 2025: transition 2·exp(ΔA)−1 ∈ (−1,1) instead of exp(ΔA) ∈ (0,1).
    /// Default false (mamba). Not a weight: configs and records without it load as mamba.
    pub allow_neg_eigval: bool,
}

impl Default for MambaMixerConfig {
    fn default() -> Self {
        Self {
            d_state: 16,
            d_conv: 4,
            expand: 2,
            dt_rank: None,
            dt_min: 1e-3,
            dt_max: 1e-1,
            dt_init_floor: 1e-4,
            allow_neg_eigval: false,
        }
    }
}

impl MambaMixerConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(self.d_state > 0, "mamba.d_state", "must be > 0")?;
        ensure(self.d_conv > 0, "mamba.d_conv", "must be > 0")?;
        ensure(self.expand > 0, "mamba.expand", "must be > 0")?;
        ensure(
            self.dt_rank != Some(0),
            "mamba.dt_rank",
            "must be > 0 (or null for ceil(d_model / 16))",
        )?;
        ensure_range(self.dt_min, self.dt_max, "mamba.dt_min", "mamba.dt_max")?;
        ensure(
            self.dt_init_floor.is_finite() && self.dt_init_floor > 0.0,
            "mamba.dt_init_floor",
            format!("must be finite and > 0, got {}", self.dt_init_floor),
        )
    }

    /// `dt_rank` for width `d_model`, its default `ceil(d_model / 16)` resolved.
    pub fn resolved_dt_rank(&self, d_model: usize) -> usize {
        self.dt_rank.unwrap_or(d_model.div_ceil(16))
    }

    /// Builds the mixer (`n_layer` scales `out_proj`'s init as mamba-ssm's MixerModel does).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<MambaMixer<B>, ZooError> {
        self.validate(d_model)?;
        Ok(MambaMixer::new(self, d_model, n_layer, device))
    }
}

/// The Mamba-1 selective SSM mixer `(B, L, d) -> (B, L, d)`.
#[derive(Module, Debug)]
pub struct MambaMixer<B: Backend> {
    /// `d -> 2·d_inner`, no bias.
    pub in_proj: Linear<B>,
    /// Depthwise causal conv weights `[d_inner, d_conv]`; tap `k` multiplies `x_{t-(K-1)+k}`.
    pub conv_weight: Param<Tensor<B, 2>>,
    /// Conv bias `[d_inner]`.
    pub conv_bias: Param<Tensor<B, 1>>,
    /// `d_inner -> dt_rank + 2·d_state`, no bias.
    pub x_proj: Linear<B>,
    /// `dt_rank -> d_inner`, with bias (inverse-softplus initialised).
    pub dt_proj: Linear<B>,
    /// `log(-A)`, `[d_inner, d_state]`.
    pub a_log: Param<Tensor<B, 2>>,
    /// Skip weight `D`, `[d_inner]`.
    pub d_skip: Param<Tensor<B, 1>>,
    /// `d_inner -> d`, no bias.
    pub out_proj: Linear<B>,
    d_inner: usize,
    d_state: usize,
    d_conv: usize,
    /// `dt_rank` and the transition range, in one field on purpose: every non-parameter field
    /// of a Burn module is one byte of the binary record, so a fifth field would shift every
    /// record written before `allow_neg_eigval` existed (format-1 checkpoints must load).
    scan: ScanSettings,
}

/// The non-weight settings of the scan (see [`MambaMixer`]'s `scan` field).
#[derive(Debug, Clone, Copy)]
struct ScanSettings {
    dt_rank: usize,
    /// The transition `2·exp(ΔA) − 1` (Grazzi et al. 2025).
    allow_neg_eigval: bool,
}

/// Recurrent state of one Mamba mixer.
#[derive(Clone, Debug)]
pub struct MambaState<B: Backend> {
    /// The last `d_conv - 1` conv inputs, `(batch, d_conv - 1, d_inner)`, oldest first
    /// (`None` when `d_conv = 1`).
    pub conv: Option<Tensor<B, 3>>,
    /// SSM state `(batch, d_inner, d_state)`.
    pub ssm: Tensor<B, 3>,
}

impl<B: Backend> MambaMixer<B> {
    /// A mixer of width `d_model` initialised as mamba-ssm (`n_layers` scales `out_proj`, as
    /// MixerModel's `rescale_prenorm_residual`).
    pub fn new(
        config: &MambaMixerConfig,
        d_model: usize,
        n_layers: usize,
        device: &B::Device,
    ) -> Self {
        let d = d_model;
        let di = config.expand * d;
        let n = config.d_state;
        let k = config.d_conv;
        let r = config.resolved_dt_rank(d);
        // PyTorch default inits: uniform ±1/sqrt(fan_in); conv fan_in = d_conv (depthwise).
        let in_proj = linear_torch(d, 2 * di, false, device);
        let conv_bound = 1.0 / (k as f64).sqrt();
        let x_proj = linear_torch(di, r + 2 * n, false, device);
        // dt_proj: weight U(±R^-1/2) ("random" dt_init, dt_scale 1), bias = softplus⁻¹(dt),
        // dt log-uniform in [dt_min, dt_max], floored at dt_init_floor.
        let mut dt_proj = linear_uniform(r, di, false, 1.0 / (r as f64).sqrt(), device);
        let bias = dt_bias_log_uniform::<B>(
            di,
            config.dt_min,
            config.dt_max,
            config.dt_init_floor,
            device,
        );
        dt_proj.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(bias, [di]),
            device,
        )));
        // A_log[c, n] = log(n + 1) (S4D-real), D = 1.
        let a: Vec<f32> = (0..di)
            .flat_map(|_| (1..=n).map(|v| (v as f32).ln()))
            .collect();
        let a_log = Param::from_tensor(Tensor::from_data(TensorData::new(a, [di, n]), device));
        // out_proj: kaiming_uniform(a=√5) = U(±1/√fan_in), then / √n_layers.
        let out_bound = 1.0 / (di as f64).sqrt() / (n_layers.max(1) as f64).sqrt();
        let out_proj = linear_uniform(di, d, false, out_bound, device);
        Self {
            in_proj,
            conv_weight: uniform([di, k], conv_bound, device),
            conv_bias: uniform([di], conv_bound, device),
            x_proj,
            dt_proj,
            a_log,
            d_skip: Param::from_tensor(Tensor::ones([di], device)),
            out_proj,
            d_inner: di,
            d_state: n,
            d_conv: k,
            scan: ScanSettings {
                dt_rank: r,
                allow_neg_eigval: config.allow_neg_eigval,
            },
        }
    }

    /// Tap `k` of the conv as a `(1, d_inner)` row.
    fn conv_tap(&self, k: usize) -> Tensor<B, 2> {
        self.conv_weight
            .val()
            .narrow(1, k, 1)
            .reshape([1, self.d_inner])
    }

    /// `in_proj` as two matmuls on the halves of its weight, so that `x` and `z` come out
    /// contiguous (narrowing one `(.., 2·d_inner)` product leaves strided views, on which
    /// ndarray's element-wise ops take a slow path). Same values as `in_proj.forward` (no bias).
    fn in_proj_halves(&self, u: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let di = self.d_inner;
        let w = self.in_proj.weight.val(); // (d, 2·d_inner)
        let x = u.clone().matmul(w.clone().narrow(1, 0, di));
        let z = u.matmul(w.narrow(1, di, di));
        (x, z)
    }

    /// `A = -exp(A_log)`, `(d_inner, d_state)`.
    fn a(&self) -> Tensor<B, 2> {
        self.a_log.val().exp().neg()
    }

    /// The scan's transition range for this mixer's `allow_neg_eigval`.
    fn transition_range(&self) -> TransitionRange {
        if self.scan.allow_neg_eigval {
            TransitionRange::MinusOneOne
        } else {
            TransitionRange::ZeroOne
        }
    }

    /// Splits `x_proj(x)` into (δ, B, C) along the last dim.
    fn split_dbc<const D: usize>(
        &self,
        x: Tensor<B, D>,
    ) -> (Tensor<B, D>, Tensor<B, D>, Tensor<B, D>) {
        let dbc = self.x_proj.forward(x);
        let (r, n) = (self.scan.dt_rank, self.d_state);
        (
            dbc.clone().narrow(D - 1, 0, r),
            dbc.clone().narrow(D - 1, r, n),
            dbc.narrow(D - 1, r + n, n),
        )
    }
}

impl<B: ScanBackend> SequenceLayer<B> for MambaMixer<B> {
    type State = MambaState<B>;

    fn forward(&self, u: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, len, d] = u.dims();
        let di = self.d_inner;
        // (B·L, di) each.
        let (x, z) = self.in_proj_halves(u.reshape([batch * len, d]));
        // Causal depthwise conv + SiLU as one op (kleene-scan): composed from tensor ops it
        // was ~5 full-size ops per tap each way.
        let x = causal_conv1d(
            x.reshape([batch, len, di]),
            self.conv_weight.val(),
            self.conv_bias.val(),
            true,
        );
        let z = z.reshape([batch, len, di]);
        let (delta, bmat, cmat) = self.split_dbc(x.clone());
        // Δ before bias and softplus (the scan adds `dt_proj.bias` and applies softplus).
        let r = self.scan.dt_rank;
        let delta = delta
            .reshape([batch * len, r])
            .matmul(self.dt_proj.weight.val())
            .reshape([batch, len, di]);
        let n = self.d_state;
        // The scan reads the activations where they are (channels-last): no transposes.
        let input = SelectiveScanInput {
            u: x,
            delta,
            a: self.a(),
            b: bmat.reshape([batch, len, 1, n]), // one group
            c: cmat.reshape([batch, len, 1, n]),
            d_skip: Some(self.d_skip.val()),
            z: Some(z),
            delta_bias: self.dt_proj.bias.as_ref().map(|b| b.val()),
            delta_softplus: true,
            initial_state: None,
            layout: ScanLayout::ChannelsLast,
            transition_range: self.transition_range(),
        };
        let (y, _) = selective_scan(input); // (B, L, di) = y ⊙ SiLU(z)
        self.out_proj.forward(y)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        MambaState {
            conv: (self.d_conv > 1)
                .then(|| Tensor::zeros([batch, self.d_conv - 1, self.d_inner], device)),
            ssm: Tensor::zeros([batch, self.d_inner, self.d_state], device),
        }
    }

    fn step(&self, u: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [batch, _] = u.dims();
        let (di, k) = (self.d_inner, self.d_conv);
        let (x, z) = self.in_proj_halves(u);
        let window = match &state.conv {
            Some(buf) => Tensor::cat(vec![buf.clone(), x.unsqueeze_dim(1)], 1),
            None => x.unsqueeze_dim(1),
        }; // (B, K, di), oldest first
        let mut conv = self.conv_bias.val().reshape([1, di]);
        for tap in 0..k {
            conv =
                conv + window.clone().narrow(1, tap, 1).reshape([batch, di]) * self.conv_tap(tap);
        }
        let next_conv = (k > 1).then(|| window.narrow(1, 1, k - 1));
        let x = silu(conv);
        let (delta, bmat, cmat) = self.split_dbc(x.clone());
        let dt = softplus_thresholded(self.dt_proj.forward(delta)); // (B, di)
        let da = (dt.clone().unsqueeze_dim::<3>(2) * self.a().unsqueeze::<3>()).exp();
        // The same transition as the scan in `forward`.
        let da = match self.transition_range() {
            TransitionRange::ZeroOne => da,
            TransitionRange::MinusOneOne => da.mul_scalar(2.0).sub_scalar(1.0),
        };
        let dbx = (dt * x.clone()).unsqueeze_dim::<3>(2) * bmat.unsqueeze_dim::<3>(1);
        let ssm = da * state.ssm + dbx; // (B, di, N)
        let y = (ssm.clone() * cmat.unsqueeze_dim::<3>(1))
            .sum_dim(2)
            .reshape([batch, di])
            + x * self.d_skip.val().reshape([1, di]);
        let out = self.out_proj.forward(y * silu(z));
        (
            out,
            MambaState {
                conv: next_conv,
                ssm,
            },
        )
    }
}
