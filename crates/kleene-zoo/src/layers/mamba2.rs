//! Mamba-2 (SSD; Dao & Gu 2024) mixer, `mamba_ssm.modules.mamba2_simple.Mamba2Simple`
//! (state-spaces/mamba `e9594ce`; spec `state-tracking-models.md` §6).
//!
//! With `d_inner = expand·d`, `P = headdim`, `H = d_inner / P` heads, `G = ngroups`,
//! `N = d_state`, `K = d_conv`:
//! ```text
//! [z, x, B, C, dt] = in_proj(u)                     (no bias; d_inner, d_inner, G·N, G·N, H)
//! [x, B, C] = SiLU(causal depthwise conv_K([x, B, C]) + conv_bias)
//! Δ_h   = softplus(dt_h + dt_bias_h)                 (softplus(x) = x for x > 20, as torch)
//! A_h   = −exp(A_log_h)                              (a scalar per head)
//! S_t,h = exp(Δ_h A_h) S_{t−1},h + Δ_h x_t,h B_t,gᵀ  (P × N per head; g = h / (H/G); S_{−1} = 0)
//! y_t,h = S_t,h C_t,g + D_h x_t,h
//! out   = out_proj(RMSNorm_{d_inner}(y ⊙ SiLU(z)) · w)   (gate before the norm, eps 1e-5)
//! ```
//! Head layout as upstream: `x` is `(H, P)` with the head index slow; `B`, `C` are `(G, N)`.
//!
//! **On kleene-scan's selective scan.** The recurrence is Mamba-1's selective scan with every
//! per-channel quantity tied within a head: channel `c = h·P + p` gets `Δ_c = Δ_h`,
//! `A[c, n] = A_h`, `D_c = D_h`, `delta_bias_c = dt_bias_h`, and the scan's B/C groups are
//! Mamba-2's groups (the scan's channel `c` uses group `c / (d_inner/G) = h / (H/G)`). The
//! per-head tensors are broadcast to channels with Burn's `expand`, whose backward sums, so
//! the gradients of `dt`, `dt_bias`, `A_log` and `D` are the sums over each head's channels.
//! The scan's `z` gate gives `y ⊙ SiLU(z)`, the input of the norm. The cost is Mamba-1's scan
//! at the same `d_inner · N` (the scan forms `exp(Δ A)` per channel and state index, where
//! Mamba-2 needs one per head; measured against Mamba in docs/benchmarks.md), and the CPU
//! kernel, CubeCL kernels and the hand-written backward apply unchanged.
//!
//! Defaults (see [`Mamba2Config`]): upstream's except the widths. Upstream's `headdim` 128 and
//! `d_state` 64 are sized for `d_model` ≥ 768 (`d_inner` 1536, 12 heads); kleene's models are
//! 16–128 wide, so `headdim` 16 (`H = 2d/16`: 2 heads at d 16, 8 at d 64, 16 at d 128, and a
//! divisor of `d_inner` for every `d` that is a multiple of 8) and `d_state` 16 (Mamba-1's
//! state size: the same scan cost as the `mamba` mixer at the same width).
//!
//! Deviations from `Mamba2Simple`: no `dt_limit` (upstream's default `(0, ∞)` is no clamp), no
//! `learnable_init_states` (default false), no `chunk_size` (the scan is sequential, not the
//! chunked SSD form; same values), no `seq_idx`. Init as upstream (PyTorch's default Linear
//! and Conv1d inits, `A ~ U(A_init_range)`, Δ log-uniform in `[dt_min, dt_max]` floored at
//! `dt_init_floor`, stored as its inverse softplus, `D = 1`, norm weight 1), and `out_proj`
//! divided by `√n_layer` as mamba-ssm's `MixerModel` (`rescale_prenorm_residual`), like the
//! `mamba` mixer. The norm spans all of `d_inner` as `Mamba2Simple` (mamba-ssm's full
//! `Mamba2` normalises per group, `group_size = d_inner / ngroups`; the same for `G = 1`).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::silu;
use burn::tensor::{Distribution, TensorData};
use kleene_scan::reference::softplus_thresholded;
use kleene_scan::{
    causal_conv1d, selective_scan, ScanLayout, SelectiveScanInput, TransitionRange,
};
use serde::{Deserialize, Serialize};

use crate::init::{dt_bias_log_uniform, linear_torch, linear_uniform, uniform};
use crate::validate::{ensure, ensure_range};
use crate::{ScanBackend, SequenceLayer, ZooError};

/// Configuration of the Mamba-2 mixer (upstream `Mamba2Simple`'s fields and defaults, except
/// `headdim` and `d_state`, sized for small widths: see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mamba2Config {
    /// SSM state size `N` per head channel. > 0. Default 16 (upstream 64).
    pub d_state: usize,
    /// Width of the causal depthwise convolution over `[x, B, C]`. > 0. Default 4.
    pub d_conv: usize,
    /// Inner width factor (`d_inner = expand · d`). > 0. Default 2.
    pub expand: usize,
    /// Channels per head `P`; must divide `d_inner` (`H = d_inner / P`). Default 16
    /// (upstream 128).
    pub headdim: usize,
    /// Groups `G` of B/C, shared by `H/G` heads each; must divide the number of heads.
    /// Default 1.
    pub ngroups: usize,
    /// `A_h = −U(lo, hi)` at init (`[lo, hi]`, `0 < lo ≤ hi`). Default `[1, 16]`.
    pub a_init_range: [f64; 2],
    /// Lower end of the log-uniform Δ init. Default 1e-3.
    pub dt_min: f64,
    /// Upper end of the log-uniform Δ init. Default 1e-1.
    pub dt_max: f64,
    /// Floor of the initial Δ. Default 1e-4.
    pub dt_init_floor: f64,
    /// Epsilon of the gated RMSNorm. > 0. Default 1e-5.
    pub norm_eps: f64,
}

impl Default for Mamba2Config {
    fn default() -> Self {
        Self {
            d_state: 16,
            d_conv: 4,
            expand: 2,
            headdim: 16,
            ngroups: 1,
            a_init_range: [1.0, 16.0],
            dt_min: 1e-3,
            dt_max: 1e-1,
            dt_init_floor: 1e-4,
            norm_eps: 1e-5,
        }
    }
}

impl Mamba2Config {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(self.d_state > 0, "mamba2.d_state", "must be > 0")?;
        ensure(self.d_conv > 0, "mamba2.d_conv", "must be > 0")?;
        ensure(self.expand > 0, "mamba2.expand", "must be > 0")?;
        let d_inner = self.expand * d_model;
        ensure(
            self.headdim > 0 && d_inner.is_multiple_of(self.headdim),
            "mamba2.headdim",
            format!(
                "must divide d_inner = expand · d_model = {d_inner}, got {}",
                self.headdim
            ),
        )?;
        let heads = d_inner / self.headdim;
        ensure(
            self.ngroups > 0 && heads.is_multiple_of(self.ngroups),
            "mamba2.ngroups",
            format!(
                "must divide the number of heads d_inner / headdim = {heads}, got {}",
                self.ngroups
            ),
        )?;
        let [lo, hi] = self.a_init_range;
        ensure_range(lo, hi, "mamba2.a_init_range[0]", "mamba2.a_init_range[1]")?;
        ensure_range(self.dt_min, self.dt_max, "mamba2.dt_min", "mamba2.dt_max")?;
        ensure(
            self.dt_init_floor.is_finite() && self.dt_init_floor > 0.0,
            "mamba2.dt_init_floor",
            format!("must be finite and > 0, got {}", self.dt_init_floor),
        )?;
        ensure(
            self.norm_eps.is_finite() && self.norm_eps > 0.0,
            "mamba2.norm_eps",
            format!("must be finite and > 0, got {}", self.norm_eps),
        )
    }

    /// Builds the mixer (`n_layer` scales `out_proj`'s init as mamba-ssm's MixerModel does).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<Mamba2<B>, ZooError> {
        self.validate(d_model)?;
        Ok(Mamba2::new(self, d_model, n_layer, device))
    }
}

/// The sizes of a [`Mamba2`] mixer (one non-parameter field of the module).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mamba2Dims {
    /// `expand · d_model`.
    pub d_inner: usize,
    /// Heads `H`.
    pub heads: usize,
    /// Channels per head `P`.
    pub headdim: usize,
    /// B/C groups `G`.
    pub ngroups: usize,
    /// State size `N`.
    pub d_state: usize,
    /// Conv width `K`.
    pub d_conv: usize,
    /// Epsilon of the gated RMSNorm.
    pub norm_eps: f64,
}

impl Mamba2Dims {
    /// Width of the B (or C) part of the projection, `G · N`.
    fn bc(&self) -> usize {
        self.ngroups * self.d_state
    }

    /// Channels of the convolution, `d_inner + 2·G·N` (upstream's `conv_dim`).
    pub fn conv_dim(&self) -> usize {
        self.d_inner + 2 * self.bc()
    }
}

/// The Mamba-2 (SSD) mixer `(B, L, d) -> (B, L, d)`. Parameter names follow upstream.
#[derive(Module, Debug)]
pub struct Mamba2<B: Backend> {
    /// `d -> 2·d_inner + 2·G·N + H`, no bias; output order `[z, x, B, C, dt]`.
    pub in_proj: Linear<B>,
    /// Depthwise causal conv weights over `[x, B, C]`, `[conv_dim, d_conv]`; tap `k` multiplies
    /// `x_{t-(K-1)+k}` (upstream's `conv1d.weight` `(conv_dim, 1, K)`).
    pub conv_weight: Param<Tensor<B, 2>>,
    /// Conv bias `[conv_dim]`.
    pub conv_bias: Param<Tensor<B, 1>>,
    /// Added to `dt` before the softplus, `[H]` (inverse-softplus initialised).
    pub dt_bias: Param<Tensor<B, 1>>,
    /// `log(−A)`, `[H]`.
    pub a_log: Param<Tensor<B, 1>>,
    /// Skip weight `D`, `[H]`.
    pub d_skip: Param<Tensor<B, 1>>,
    /// Weight of the gated RMSNorm, `[d_inner]`.
    pub norm_weight: Param<Tensor<B, 1>>,
    /// `d_inner -> d`, no bias.
    pub out_proj: Linear<B>,
    dims: Mamba2Dims,
}

/// Recurrent state of one Mamba-2 mixer.
#[derive(Clone, Debug)]
pub struct Mamba2State<B: Backend> {
    /// The last `d_conv - 1` conv inputs `[x, B, C]`, `(batch, d_conv - 1, conv_dim)`, oldest
    /// first (`None` when `d_conv = 1`).
    pub conv: Option<Tensor<B, 3>>,
    /// SSM state `(batch, H, P, N)`.
    pub ssm: Tensor<B, 4>,
}

impl<B: Backend> Mamba2<B> {
    /// A mixer of width `d_model` initialised as upstream (`n_layers` scales `out_proj`, as
    /// MixerModel's `rescale_prenorm_residual`). `config` must be valid for `d_model`.
    pub fn new(config: &Mamba2Config, d_model: usize, n_layers: usize, device: &B::Device) -> Self {
        let d_inner = config.expand * d_model;
        let dims = Mamba2Dims {
            d_inner,
            heads: d_inner / config.headdim,
            headdim: config.headdim,
            ngroups: config.ngroups,
            d_state: config.d_state,
            d_conv: config.d_conv,
            norm_eps: config.norm_eps,
        };
        let h = dims.heads;
        let in_proj = linear_torch(d_model, 2 * d_inner + 2 * dims.bc() + h, false, device);
        // nn.Conv1d's default init (depthwise: fan_in = d_conv).
        let conv_bound = 1.0 / (config.d_conv as f64).sqrt();
        let dt_bias = dt_bias_log_uniform::<B>(
            h,
            config.dt_min,
            config.dt_max,
            config.dt_init_floor,
            device,
        );
        let [lo, hi] = config.a_init_range;
        let a_log = Tensor::<B, 1>::random([h], Distribution::Uniform(lo, hi), device).log();
        // kaiming_uniform(a=√5) = U(±1/√fan_in), then / √n_layers.
        let out_bound = 1.0 / (d_inner as f64).sqrt() / (n_layers.max(1) as f64).sqrt();
        Self {
            in_proj,
            conv_weight: uniform([dims.conv_dim(), config.d_conv], conv_bound, device),
            conv_bias: uniform([dims.conv_dim()], conv_bound, device),
            dt_bias: Param::from_tensor(Tensor::from_data(TensorData::new(dt_bias, [h]), device)),
            a_log: Param::from_tensor(a_log),
            d_skip: Param::from_tensor(Tensor::ones([h], device)),
            norm_weight: Param::from_tensor(Tensor::ones([d_inner], device)),
            out_proj: linear_uniform(d_inner, d_model, false, out_bound, device),
            dims,
        }
    }

    /// The mixer's sizes.
    pub fn dims(&self) -> Mamba2Dims {
        self.dims
    }

    /// `in_proj` as four matmuls on column blocks of its weight, so that `z`, `x`, `[B, C]` and
    /// `dt` come out contiguous (narrowing one product leaves strided views, on which ndarray's
    /// element-wise ops take a slow path). Same values as `in_proj.forward` (no bias).
    fn in_proj_parts(&self, u: Tensor<B, 2>) -> [Tensor<B, 2>; 4] {
        let Mamba2Dims { d_inner, heads, .. } = self.dims;
        let w = self.in_proj.weight.val();
        let widths = [d_inner, d_inner, 2 * self.dims.bc(), heads];
        let mut start = 0;
        widths.map(|width| {
            let part = u.clone().matmul(w.clone().narrow(1, start, width));
            start += width;
            part
        })
    }

    /// A per-head vector `[H]` repeated for the `P` channels of each head, `[d_inner]`.
    fn per_channel(&self, v: Tensor<B, 1>) -> Tensor<B, 1> {
        let Mamba2Dims {
            d_inner,
            heads,
            headdim,
            ..
        } = self.dims;
        v.reshape([heads, 1])
            .expand([heads, headdim])
            .reshape([d_inner])
    }

    /// `A = −exp(A_log)`, `[H]`.
    fn a(&self) -> Tensor<B, 1> {
        self.a_log.val().exp().neg()
    }

    /// The gated input of the norm `g` (`y ⊙ SiLU(z)`, already formed) through RMSNorm over the
    /// last dim with weight `w`, then `out_proj`.
    fn norm_out<const D: usize>(&self, g: Tensor<B, D>) -> Tensor<B, D> {
        let ms = g.clone().square().mean_dim(D - 1);
        let g = g * ms.add_scalar(self.dims.norm_eps).sqrt().recip();
        let mut shape = [1; D];
        shape[D - 1] = self.dims.d_inner;
        self.out_proj
            .forward(g * self.norm_weight.val().reshape(shape))
    }
}

impl<B: ScanBackend> SequenceLayer<B> for Mamba2<B> {
    type State = Mamba2State<B>;

    fn forward(&self, u: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, len, d] = u.dims();
        let dm = self.dims;
        let (di, gn) = (dm.d_inner, dm.bc());
        let [z, x, bc, dt] = self.in_proj_parts(u.reshape([batch * len, d]));
        // The conv is depthwise: the `x` and `[B, C]` channels are convolved apart, so that
        // each comes out contiguous (same values as one conv over `xBC`).
        let conv_w = self.conv_weight.val();
        let conv_b = self.conv_bias.val();
        let x = causal_conv1d(
            x.reshape([batch, len, di]),
            conv_w.clone().narrow(0, 0, di),
            conv_b.clone().narrow(0, 0, di),
            true,
        );
        let bc = causal_conv1d(
            bc.reshape([batch, len, 2 * gn]),
            conv_w.narrow(0, di, 2 * gn),
            conv_b.narrow(0, di, 2 * gn),
            true,
        );
        let bmat = bc.clone().narrow(2, 0, gn);
        let cmat = bc.narrow(2, gn, gn);
        let (h, p, n, g) = (dm.heads, dm.headdim, dm.d_state, dm.ngroups);
        // Per-head Δ (before bias and softplus: the scan adds `dt_bias` and applies softplus),
        // A and D repeated over each head's P channels.
        let delta = dt
            .reshape([batch, len, h, 1])
            .expand([batch, len, h, p])
            .reshape([batch, len, di]);
        let a = self
            .a()
            .reshape([h, 1])
            .expand([h, p * n])
            .reshape([di, n]);
        let input = SelectiveScanInput {
            u: x,
            delta,
            a,
            b: bmat.reshape([batch, len, g, n]),
            c: cmat.reshape([batch, len, g, n]),
            d_skip: Some(self.per_channel(self.d_skip.val())),
            z: Some(z.reshape([batch, len, di])),
            delta_bias: Some(self.per_channel(self.dt_bias.val())),
            delta_softplus: true,
            initial_state: None,
            layout: ScanLayout::ChannelsLast,
            transition_range: TransitionRange::ZeroOne,
        };
        let (gated, _) = selective_scan(input); // (B, L, di) = y ⊙ SiLU(z)
        self.norm_out(gated)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let dm = self.dims;
        Mamba2State {
            conv: (dm.d_conv > 1)
                .then(|| Tensor::zeros([batch, dm.d_conv - 1, dm.conv_dim()], device)),
            ssm: Tensor::zeros([batch, dm.heads, dm.headdim, dm.d_state], device),
        }
    }

    fn step(&self, u: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [batch, _] = u.dims();
        let dm = self.dims;
        let (di, gn, k) = (dm.d_inner, dm.bc(), dm.d_conv);
        let (h, p, n, g) = (dm.heads, dm.headdim, dm.d_state, dm.ngroups);
        let [z, x, bc, dt] = self.in_proj_parts(u);
        let xbc = Tensor::cat(vec![x, bc], 1); // (B, conv_dim), upstream's xBC
        let window = match &state.conv {
            Some(buf) => Tensor::cat(vec![buf.clone(), xbc.unsqueeze_dim(1)], 1),
            None => xbc.unsqueeze_dim(1),
        }; // (B, K, conv_dim), oldest first
        let weight = self.conv_weight.val().transpose().unsqueeze::<3>(); // (1, K, conv_dim)
        let conv = (window.clone() * weight).sum_dim(1).reshape([batch, dm.conv_dim()])
            + self.conv_bias.val().reshape([1, dm.conv_dim()]);
        let next_conv = (k > 1).then(|| window.narrow(1, 1, k - 1));
        let xbc = silu(conv);
        let x = xbc.clone().narrow(1, 0, di).reshape([batch, h, p]);
        // (B, G, N) -> (B, H, N): head h reads group h / (H/G).
        let group_to_heads = |t: Tensor<B, 2>| {
            t.reshape([batch, g, 1, n])
                .expand([batch, g, h / g, n])
                .reshape([batch, h, n])
        };
        let bmat = group_to_heads(xbc.clone().narrow(1, di, gn));
        let cmat = group_to_heads(xbc.narrow(1, di + gn, gn));
        let dt = softplus_thresholded(dt + self.dt_bias.val().reshape([1, h])); // (B, H)
        let decay = (dt.clone() * self.a().reshape([1, h])).exp(); // (B, H)
        let write = (dt.reshape([batch, h, 1]) * x.clone()).unsqueeze_dim::<4>(3)
            * bmat.unsqueeze_dim::<4>(2); // (B, H, P, N)
        let ssm = decay.reshape([batch, h, 1, 1]) * state.ssm + write;
        let y = (ssm.clone() * cmat.unsqueeze_dim::<4>(2)).sum_dim(3).reshape([batch, h, p])
            + x * self.d_skip.val().reshape([1, h, 1]);
        let out = self.norm_out(y.reshape([batch, di]) * silu(z));
        (
            out,
            Mamba2State {
                conv: next_conv,
                ssm,
            },
        )
    }
}
