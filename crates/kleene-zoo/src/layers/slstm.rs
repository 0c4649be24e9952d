//! sLSTM layer (Beck et al. 2024, "xLSTM"), after NX-AI/xlstm `blocks/slstm/layer.py` and
//! `cell.py` with the vanilla backend (`src/vanilla/slstm.py`); spec §8.1.
//!
//! ```text
//! x_c = silu(conv(x))   (causal depthwise conv of width `conv1d_kernel_size` with bias; x_c = x
//!                        when it is 0, no SiLU, as upstream)
//! ĩ = W_i x_c,  f̃ = W_f x_c,  z̃ = W_z x,  õ = W_o x     (head-wise block-diagonal, no bias)
//! y_t = sLSTM cell([ĩ, f̃, z̃, õ] + R y_{t-1} + b)     (ops::slstm_cell; R: NH × dh × 4 × dh)
//! out = MultiHeadLayerNorm(y)                          (per head, weight 1 + w, no bias)
//! ```
//! Width `d = d_model = NH·dh` throughout (upstream `embedding_dim = hidden_size`). The cell is
//! nonlinear in `y_{t-1}` (tanh, σ and a division), so there is no parallel form: `forward`
//! projects all positions at once and then runs the cell through the sequence — on the CPU
//! backends kleene-scan's fused op ([`kleene_scan::slstm()`], hand-written backward through
//! time), elsewhere a loop of the tensor-op step that `step` uses.
//!
//! Init as upstream: `R = 0` (`recurrent_weight_init = "zeros"`); biases of i, z, o zero, of f
//! `powerlaw_blockdependent`, `b_f[j] = 5 − 12·(j/(dh−1))^0.3` (+5 down to −7 in every head;
//! `b_f = 5` when `dh = 1`, where upstream divides by zero); head-wise input weights
//! `N(0, 2/(5d))` (`small_init`); conv weight and bias `U(±1/√K)` (PyTorch's `Conv1d`
//! default); norm weight `w = 0`.
//!
//! Upstream mapping and deviations:
//! - **The i/f module-name swap.** Upstream's layer feeds its `fgate` module into the cell's `i`
//!   slot and `igate` into the `f` slot (spec §8.1). Both see `x_c`, are initialised alike and
//!   carry no bias, so the swap has no effect on behaviour; here the maps are named by the slot
//!   they feed: `i_proj` holds upstream's `fgate.weight` and `f_proj` its `igate.weight` (the
//!   mapping to use when porting weights).
//! - The power law's block dependence `0.3 + 1.3·ρ` (`ρ = block_idx / (num_blocks − 1)`) needs
//!   the layer's index, which a mixer is not given: `ρ = 0` in every layer (upstream's first
//!   block).
//! - Upstream's dropout after the cell (default 0) is not included.
//! - The sLSTM *block* is `x += sLSTMLayer(LN(x)); x += GatedFFN(LN(x))`. The FFN is part of the
//!   block, not of the layer, so it belongs to the backbone: use `lm_simple` (pre-LN mixer +
//!   MLP residual blocks; its MLP is GELU `d → mlp_ratio·d → d`, not upstream's gated
//!   `down(gelu(gate)·up)` with `proj_factor` 1.3 rounded up to 64), or `no_ffn` for sLSTM
//!   without FFN. The mixer is the layer only.
//! - The stabiliser's first-step branch (`n` all zero) is the initial `m = M_START` (see
//!   [`crate::ops::slstm_cell`]); the `min(·, 1)` clamps are left out (no-ops).

use burn::module::Param;
use burn::prelude::*;
use kleene_scan::ScanBackend;
use serde::{Deserialize, Serialize};

use crate::init::param_from_vec;
use crate::layers::xlstm_parts::{
    multi_head_layer_norm, CausalConvSilu, LinearHeadwise, GROUP_NORM_EPS,
};
use crate::ops::slstm_cell::{slstm_sequence_from_zero, slstm_step, SlstmCellState};
use crate::validate::ensure;
use crate::{SequenceLayer, ZooError};

/// Configuration of a [`Slstm`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlstmConfig {
    /// Number of heads `NH` (block-diagonal recurrence, input maps and norm). Divides `d_model`.
    /// Default 4 (upstream).
    pub n_heads: usize,
    /// Width of the causal convolution feeding the i and f gates; 0 disables it (then i and f
    /// see `x` itself, without SiLU). Default 4 (upstream; Grazzi et al.'s configs set 0).
    pub conv1d_kernel_size: usize,
}

impl Default for SlstmConfig {
    fn default() -> Self {
        Self {
            n_heads: 4,
            conv1d_kernel_size: 4,
        }
    }
}

impl SlstmConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(self.n_heads > 0, "slstm.n_heads", "must be at least 1")?;
        ensure(
            d_model.is_multiple_of(self.n_heads),
            "slstm.n_heads",
            format!("must divide d_model ({d_model}), got {}", self.n_heads),
        )
    }

    /// Builds the layer (`n_layer` is unused: the layer has no output projection).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        _n_layer: usize,
        device: &B::Device,
    ) -> Result<Slstm<B>, ZooError> {
        self.validate(d_model)?;
        let (d, nh) = (d_model, self.n_heads);
        let dh = d / nh;
        let std = (2.0 / (5.0 * d as f64)).sqrt();
        let map = || LinearHeadwise::new(d, nh, std, device);
        let mut bias = vec![0f32; nh * 4 * dh];
        for h in 0..nh {
            for (j, b) in bias[(h * 4 + 1) * dh..(h * 4 + 2) * dh]
                .iter_mut()
                .enumerate()
            {
                let ratio = if dh > 1 {
                    j as f64 / (dh - 1) as f64
                } else {
                    0.0
                };
                *b = (5.0 - 12.0 * ratio.powf(0.3)) as f32;
            }
        }
        Ok(Slstm {
            conv: (self.conv1d_kernel_size > 0)
                .then(|| CausalConvSilu::new(d, self.conv1d_kernel_size, device)),
            i_proj: map(),
            f_proj: map(),
            z_proj: map(),
            o_proj: map(),
            recurrent: Param::from_tensor(Tensor::zeros([nh, dh, 4, dh], device)),
            bias: param_from_vec(bias, [nh, 4, dh], device),
            norm_weight: Param::from_tensor(Tensor::zeros([d], device)),
            heads: nh,
        })
    }
}

/// The sLSTM layer; see the module docs.
#[derive(Module, Debug)]
pub struct Slstm<B: Backend> {
    /// Causal conv + SiLU in front of the i and f maps (`None`: kernel size 0).
    pub conv: Option<CausalConvSilu<B>>,
    /// Input map of the i slot (upstream's `fgate` module, see the module docs).
    pub i_proj: LinearHeadwise<B>,
    /// Input map of the f slot (upstream's `igate` module).
    pub f_proj: LinearHeadwise<B>,
    /// Input map of the z slot (`zgate`).
    pub z_proj: LinearHeadwise<B>,
    /// Input map of the o slot (`ogate`).
    pub o_proj: LinearHeadwise<B>,
    /// Recurrent kernel `(NH, dh_in, 4, dh_out)`, gates `i, f, z, o` (upstream's external layout).
    pub recurrent: Param<Tensor<B, 4>>,
    /// Gate biases `(NH, 4, dh)`.
    pub bias: Param<Tensor<B, 3>>,
    /// Residual weight `w` of the multi-head norm (scale `1 + w`), `(d)`.
    pub norm_weight: Param<Tensor<B, 1>>,
    /// `NH`.
    pub heads: usize,
}

/// Recurrent state of [`Slstm`]: the cell state and the conv history `(B, K - 1, d)`.
#[derive(Debug, Clone)]
pub struct SlstmState<B: Backend> {
    pub cell: SlstmCellState<B>,
    pub conv: Option<Tensor<B, 3>>,
}

impl<B: ScanBackend> Slstm<B> {
    /// Gate pre-activations with the bias, `(.., NH, 4, dh)` flattened to `(.., NH·4·dh)`, from
    /// `x` and the conv output `xc` (both `(.., d)` of rank `D`).
    fn gate_inputs<const D: usize>(&self, x: Tensor<B, D>, xc: Tensor<B, D>) -> Tensor<B, D> {
        let dims = x.dims();
        let rows = dims[..D - 1].iter().product::<usize>();
        let [nh, _, dh] = self.bias.dims();
        let gate = |t: Tensor<B, D>| t.reshape([rows, nh, 1, dh]);
        let wx = Tensor::cat(
            vec![
                gate(self.i_proj.forward(xc.clone())),
                gate(self.f_proj.forward(xc)),
                gate(self.z_proj.forward(x.clone())),
                gate(self.o_proj.forward(x)),
            ],
            2,
        ) + self.bias.val().reshape([1, nh, 4, dh]);
        let mut shape = dims;
        shape[D - 1] = nh * 4 * dh;
        wx.reshape(shape)
    }

    /// `R` as `(NH, dh, 4·dh)` for the per-head matmul.
    fn recurrent_matrix(&self) -> Tensor<B, 3> {
        let [nh, dh, _, _] = self.recurrent.dims();
        self.recurrent.val().reshape([nh, dh, 4 * dh])
    }
}

impl<B: ScanBackend> SequenceLayer<B> for Slstm<B> {
    type State = SlstmState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let xc = match &self.conv {
            Some(conv) => conv.forward(x.clone()),
            None => x.clone(),
        };
        let wx = self.gate_inputs(x, xc);
        let y = slstm_sequence_from_zero(wx, self.recurrent_matrix(), self.heads);
        multi_head_layer_norm(y, self.heads, self.norm_weight.val(), GROUP_NORM_EPS)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let d = self.norm_weight.dims()[0];
        SlstmState {
            cell: SlstmCellState::zeros(batch, d, device),
            conv: self
                .conv
                .as_ref()
                .and_then(|c| c.zero_buffer(batch, device)),
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [b, _] = x.dims();
        let (xc, conv) = match &self.conv {
            Some(c) => c.step(x.clone(), state.conv),
            None => (x.clone(), None),
        };
        let [nh, _, dh] = self.bias.dims();
        let wx = self.gate_inputs(x, xc).reshape([b, nh, 4, dh]);
        let cell = slstm_step(wx, self.recurrent_matrix(), state.cell);
        let y = multi_head_layer_norm(
            cell.y.clone(),
            self.heads,
            self.norm_weight.val(),
            GROUP_NORM_EPS,
        );
        (y, SlstmState { cell, conv })
    }
}
