//! Mamba-1 (Gu & Dao 2023) mixer and the mamba-ssm `MixerModel` stack used by Sarrof et
//! al. (spec `bhattamishra-flipflop-dyck.md` §4.1).
//!
//! Mixer, with `d_inner = expand·d`, `R = dt_rank`, `N = d_state`, `K = d_conv`:
//! ```text
//! [x, z] = in_proj(u)                                  (no bias)
//! x      = SiLU(causal depthwise conv_K(x) + conv_bias)
//! [δ, B, C] = x_proj(x)                                (no bias; R, N, N)
//! Δ      = softplus(dt_proj(δ))  (with bias; softplus(x) = x for x > 20, as mamba)
//! A      = −exp(A_log)                                  (d_inner × N)
//! s_t    = exp(Δ_t A) ⊙ s_{t−1} + (Δ_t x_t) ⊗ B_t       (s_{−1} = 0)
//! y_t    = s_t C_t + D ⊙ x_t
//! out    = out_proj(y ⊙ SiLU(z))                        (no bias)
//! ```

use burn::module::{Module, Param};
use burn::nn::{Embedding, Linear};
use burn::prelude::*;
use burn::tensor::activation::silu;
use burn::tensor::{Distribution, TensorData};
use kleene_scan::reference::softplus_thresholded;
use kleene_scan::{causal_conv1d, selective_scan, ScanLayout, SelectiveScanInput};

use crate::config::MambaConfig;
use crate::init::{embedding_normal, linear_torch, linear_uniform, lookup, uniform};
use crate::recurrence::ScanBackend;
use crate::stack::ResidualStack;
use crate::{SequenceLayer, SequenceModel};

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
    dt_rank: usize,
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

/// Inverse of softplus, `log(exp(y) - 1) = y + log(-expm1(-y))`.
fn inverse_softplus(y: f64) -> f64 {
    y + (-(-y).exp_m1()).ln()
}

impl<B: Backend> MambaMixer<B> {
    /// A mixer initialised as mamba-ssm (`n_layers` scales `out_proj`, as MixerModel's
    /// `rescale_prenorm_residual`).
    pub fn new(config: &MambaConfig, device: &B::Device) -> Self {
        let d = config.d_model;
        let di = config.expand * d;
        let n = config.d_state;
        let k = config.d_conv;
        let r = config.resolved_dt_rank();
        // PyTorch default inits: uniform ±1/sqrt(fan_in); conv fan_in = d_conv (depthwise).
        let in_proj = linear_torch(d, 2 * di, false, device);
        let conv_bound = 1.0 / (k as f64).sqrt();
        let x_proj = linear_torch(di, r + 2 * n, false, device);
        // dt_proj: weight U(±R^-1/2) ("random" dt_init, dt_scale 1), bias = softplus⁻¹(dt),
        // dt log-uniform in [dt_min, dt_max], floored at dt_init_floor.
        let mut dt_proj = linear_uniform(r, di, false, 1.0 / (r as f64).sqrt(), device);
        let (lo, hi) = (config.dt_min.ln(), config.dt_max.ln());
        let u: Vec<f32> = Tensor::<B, 1>::random([di], Distribution::Uniform(0.0, 1.0), device)
            .into_data()
            .convert::<f32>()
            .into_vec()
            .expect("f32 data");
        let bias: Vec<f32> = u
            .iter()
            .map(|&u| {
                let dt = (u as f64 * (hi - lo) + lo).exp().max(config.dt_init_floor);
                inverse_softplus(dt) as f32
            })
            .collect();
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
        let out_bound = 1.0 / (di as f64).sqrt() / (config.n_layers as f64).sqrt();
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
            dt_rank: r,
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

    /// Splits `x_proj(x)` into (δ, B, C) along the last dim.
    fn split_dbc<const D: usize>(
        &self,
        x: Tensor<B, D>,
    ) -> (Tensor<B, D>, Tensor<B, D>, Tensor<B, D>) {
        let dbc = self.x_proj.forward(x);
        let (r, n) = (self.dt_rank, self.d_state);
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
        let r = self.dt_rank;
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

/// mamba-ssm `MixerModel` + linear head: embedding → pre-norm residual Mamba blocks →
/// final norm → `Linear(d, out_dim)` (or no head, see [`MambaConfig::head`]).
#[derive(Module, Debug)]
pub struct MambaModel<B: Backend> {
    /// Token embedding, `N(0, 0.02²)`.
    pub embedding: Embedding<B>,
    /// The residual stack with its final norm.
    pub stack: ResidualStack<B, MambaMixer<B>>,
    /// Output head (PyTorch default init), absent in no-head mode.
    pub head: Option<Linear<B>>,
    out_dim: usize,
}

impl<B: Backend> MambaModel<B> {
    /// Builds the model; the config must have been validated.
    pub fn new(
        config: &MambaConfig,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Self {
        let mixers = (0..config.n_layers)
            .map(|_| MambaMixer::new(config, device))
            .collect();
        let head = config
            .head
            .then(|| linear_torch(config.d_model, out_dim, true, device));
        Self {
            embedding: embedding_normal(vocab_size, config.d_model, 0.02, device),
            stack: ResidualStack::new(
                mixers,
                config.norm,
                config.d_model,
                config.norm_eps,
                None,
                device,
            ),
            head,
            out_dim: if config.head { out_dim } else { config.d_model },
        }
    }

    fn apply_head<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        match &self.head {
            Some(h) => h.forward(x),
            None => x,
        }
    }
}

impl<B: ScanBackend> SequenceModel<B> for MambaModel<B> {
    type State = Vec<MambaState<B>>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.apply_head(self.stack.forward(self.embedding.forward(tokens)))
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        self.stack.init_state(batch, device)
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let (h, state) = self.stack.step(lookup(&self.embedding, tokens), state);
        (self.apply_head(h), state)
    }

    fn out_dim(&self) -> usize {
        self.out_dim
    }
}
