//! mLSTM layer (Beck et al. 2024, "xLSTM"), after NX-AI/xlstm `blocks/mlstm/layer.py`,
//! `cell.py` and `backends.py`; spec §8.2.
//!
//! ```text
//! [x_m, z] = proj_up(x)                         (d → 2·inner, no bias)
//! x_c = silu(conv(x_m))                         (causal depthwise conv with bias, width 4)
//! q = W_q x_c,  k = W_k x_c,  v = W_v x_m        (head-wise blocks of `qkv_proj_blocksize`)
//! ĩ = W_i [q; k; v] + b_i,  f̃ = W_f [q; k; v] + b_f      (3·inner → NH each)
//! h̃ = mLSTM cell(q, k, v, ĩ, f̃)                 (NH heads of DH = inner/NH; ops::mlstm_cell)
//! h = MultiHeadLayerNorm(h̃) + skip ⊙ x_c
//! out = proj_down(h ⊙ silu(z))                  (inner → d, no bias)
//! ```
//! `forward` uses the chunkwise stabilised form (default; `O(L·chunk)` per head, equal to the
//! stepped recurrence) or the parallel stabilised form (`form = "parallel"`, upstream's layer
//! default; `O(L²)` per head, equal up to upstream's `eps = 1e-6` on the stabilised scale),
//! `step` the recurrent stabilised step. The chunkwise default is a speed choice: at
//! L = 512 the parallel form's `(B, NH, L, L)` matrices made the layer ~12× slower than Mamba.
//!
//! Sizes: `inner = round_up(proj_factor·d, inner_multiple_of)`. Upstream rounds up to a
//! multiple of 64 (`round_proj_up_to_multiple_of`), which at kleene's widths inflates the layer
//! (d = 16 gives inner 64, 4·d); the default here rounds to 16, which gives upstream's sizes
//! for d = 64 and 128 (inner 128, 256) and `2·d` for d = 16 and 32. Set
//! `inner_multiple_of = 64` for upstream's rounding at every width. Heads 4 (upstream's
//! `num_heads`), q/k/v blocks of 4 (`qkv_proj_blocksize`).
//!
//! Init as upstream: `proj_up` and the q/k/v blocks `N(0, 2/(5d))` (`small_init` with the
//! embedding width `d`), `proj_down` `N(0, (2/(n_layer·√d))²)` (`wang_init`, `num_blocks =
//! n_layer`), gate weights 0, forget bias `linspace(3, 6, NH)`, input bias `N(0, 0.1²)`,
//! `skip = 1`, norm weight `w = 0` (scale `1 + w`), conv `U(±1/√K)` (PyTorch's default).
//!
//! Deviations: upstream's dropout on the output (default 0) is not included; with
//! `conv1d_kernel_size = 0` upstream's conv is the identity and the SiLU still applies, as
//! here. The mLSTM block (`x += mLSTMLayer(LN(x))`) has no FFN: use the `no_ffn` backbone for
//! it, `lm_simple` adds an MLP after each mixer.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::silu;
use burn::tensor::Distribution;
use kleene_scan::ScanBackend;
use serde::{Deserialize, Serialize};

use crate::init::{linear_normal, normal, param_from_vec};
use crate::layers::xlstm_parts::{
    multi_head_layer_norm, CausalConvSilu, LinearHeadwise, GROUP_NORM_EPS,
};
use crate::ops::mlstm_cell::{mlstm_chunkwise, mlstm_parallel, mlstm_step, MlstmCellState, MLSTM_EPS};
use crate::ops::sequence::{from_heads, to_heads};
use crate::validate::ensure;
use crate::{SequenceLayer, ZooError};

/// Configuration of a [`Mlstm`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlstmConfig {
    /// Number of cell heads `NH`; divides the inner width. Default 4 (upstream).
    pub n_heads: usize,
    /// Up-projection factor: `inner = round_up(proj_factor·d, inner_multiple_of)`. Finite,
    /// > 0. Default 2 (upstream).
    pub proj_factor: f64,
    /// The inner width is rounded up to a multiple of this. >= 1. Default 16 (upstream: 64;
    /// see the module docs).
    pub inner_multiple_of: usize,
    /// Width of the causal convolution before q and k (0: none, SiLU only). Default 4.
    pub conv1d_kernel_size: usize,
    /// Block width of the head-wise q, k, v maps; divides the inner width. Default 4.
    pub qkv_proj_blocksize: usize,
    /// Whole-sequence form of the cell in `forward`. Default `chunkwise`.
    pub form: MlstmForm,
    /// Chunk length of the chunkwise form. >= 1. Default 64.
    pub chunk_size: usize,
}

/// The mLSTM cell's whole-sequence form (both are upstream's, `backends.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MlstmForm {
    /// `chunkwise_simple`: `O(L·chunk)` per head; equals the recurrent step exactly (the same
    /// stabiliser, eps included).
    #[default]
    Chunkwise,
    /// `parallel_stabilized_simple` (upstream's layer default): `O(L²)` per head; equals the
    /// recurrent step up to eps (its stabiliser lacks the step's `m_0 = 0` path).
    Parallel,
}

impl Default for MlstmConfig {
    fn default() -> Self {
        Self {
            n_heads: 4,
            proj_factor: 2.0,
            inner_multiple_of: 16,
            conv1d_kernel_size: 4,
            qkv_proj_blocksize: 4,
            form: MlstmForm::Chunkwise,
            chunk_size: 64,
        }
    }
}

impl MlstmConfig {
    /// The inner width for model width `d_model` (errors name the field).
    pub fn inner_size(&self, d_model: usize) -> Result<usize, ZooError> {
        ensure(
            self.proj_factor.is_finite() && self.proj_factor > 0.0,
            "mlstm.proj_factor",
            format!("must be a finite number > 0, got {}", self.proj_factor),
        )?;
        ensure(
            self.inner_multiple_of > 0,
            "mlstm.inner_multiple_of",
            "must be at least 1",
        )?;
        let m = self.inner_multiple_of as f64;
        Ok(((self.proj_factor * d_model as f64 / m).ceil() * m) as usize)
    }

    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        let inner = self.inner_size(d_model)?;
        ensure(self.n_heads > 0, "mlstm.n_heads", "must be at least 1")?;
        ensure(
            inner.is_multiple_of(self.n_heads),
            "mlstm.n_heads",
            format!("must divide the inner width ({inner}), got {}", self.n_heads),
        )?;
        ensure(self.chunk_size > 0, "mlstm.chunk_size", "must be at least 1")?;
        ensure(
            self.qkv_proj_blocksize > 0 && inner.is_multiple_of(self.qkv_proj_blocksize),
            "mlstm.qkv_proj_blocksize",
            format!(
                "must be >= 1 and divide the inner width ({inner}), got {}",
                self.qkv_proj_blocksize
            ),
        )
    }

    /// Builds the layer (`n_layer` scales `proj_down`'s init, upstream's `num_blocks`).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<Mlstm<B>, ZooError> {
        self.validate(d_model)?;
        let (d, nh) = (d_model, self.n_heads);
        let inner = self.inner_size(d)?;
        let small = (2.0 / (5.0 * d as f64)).sqrt();
        let wang = 2.0 / n_layer.max(1) as f64 / (d as f64).sqrt();
        let blocks = inner / self.qkv_proj_blocksize;
        let qkv = || LinearHeadwise::new(inner, blocks, small, device);
        let f_bias: Vec<f32> = (0..nh)
            .map(|h| {
                let t = if nh > 1 {
                    h as f64 / (nh - 1) as f64
                } else {
                    0.0
                };
                (3.0 + 3.0 * t) as f32
            })
            .collect();
        let zero_gate = || Param::from_tensor(Tensor::zeros([3 * inner, nh], device));
        Ok(Mlstm {
            proj_up: linear_normal(d, 2 * inner, false, small, device),
            conv: (self.conv1d_kernel_size > 0)
                .then(|| CausalConvSilu::new(inner, self.conv1d_kernel_size, device)),
            q_proj: qkv(),
            k_proj: qkv(),
            v_proj: qkv(),
            igate: Linear {
                weight: zero_gate(),
                bias: Some(normal([nh], 0.1, device)),
            },
            fgate: Linear {
                weight: zero_gate(),
                bias: Some(param_from_vec(f_bias, [nh], device)),
            },
            norm_weight: Param::from_tensor(Tensor::zeros([inner], device)),
            skip: Param::from_tensor(Tensor::ones([inner], device)),
            proj_down: Linear {
                weight: Param::from_tensor(Tensor::random(
                    [inner, d],
                    Distribution::Normal(0.0, wang),
                    device,
                )),
                bias: None,
            },
            heads: nh,
            form: self.form,
            chunk_size: self.chunk_size,
        })
    }
}

/// The mLSTM layer; see the module docs.
#[derive(Module, Debug)]
pub struct Mlstm<B: Backend> {
    /// `d → 2·inner` (`[x_m, z]`), no bias.
    pub proj_up: Linear<B>,
    /// Causal conv + SiLU on `x_m` (`None`: kernel size 0, SiLU only).
    pub conv: Option<CausalConvSilu<B>>,
    pub q_proj: LinearHeadwise<B>,
    pub k_proj: LinearHeadwise<B>,
    pub v_proj: LinearHeadwise<B>,
    /// Input-gate pre-activation `3·inner → NH`.
    pub igate: Linear<B>,
    /// Forget-gate pre-activation `3·inner → NH`.
    pub fgate: Linear<B>,
    /// Residual weight `w` of the cell's multi-head norm (scale `1 + w`), `(inner)`.
    pub norm_weight: Param<Tensor<B, 1>>,
    /// Learnable skip from `x_c` to the cell output, `(inner)`.
    pub skip: Param<Tensor<B, 1>>,
    /// `inner → d`, no bias.
    pub proj_down: Linear<B>,
    /// `NH`.
    pub heads: usize,
    /// Whole-sequence form in `forward`.
    #[module(skip)]
    pub form: MlstmForm,
    /// Chunk length of the chunkwise form.
    pub chunk_size: usize,
}

/// Recurrent state of [`Mlstm`]: the cell state and the conv history `(B, K - 1, inner)`.
#[derive(Debug, Clone)]
pub struct MlstmState<B: Backend> {
    pub cell: MlstmCellState<B>,
    pub conv: Option<Tensor<B, 3>>,
}

/// The branches of the layer for one or more positions: `x_c`, `z`, `q, k, v` and the gate
/// pre-activations `(.., NH)`.
struct Branches<B: Backend, const D: usize> {
    xc: Tensor<B, D>,
    z: Tensor<B, D>,
    q: Tensor<B, D>,
    k: Tensor<B, D>,
    v: Tensor<B, D>,
    i: Tensor<B, D>,
    f: Tensor<B, D>,
}

impl<B: ScanBackend> Mlstm<B> {
    fn inner(&self) -> usize {
        self.skip.dims()[0]
    }

    /// Everything after the conv, from `x_m`, `z` and `x_c`.
    fn branches<const D: usize>(
        &self,
        xm: Tensor<B, D>,
        z: Tensor<B, D>,
        xc: Tensor<B, D>,
    ) -> Branches<B, D> {
        let q = self.q_proj.forward(xc.clone());
        let k = self.k_proj.forward(xc.clone());
        let v = self.v_proj.forward(xm);
        let gate_in = Tensor::cat(vec![q.clone(), k.clone(), v.clone()], D - 1);
        let i = self.igate.forward(gate_in.clone());
        let f = self.fgate.forward(gate_in);
        Branches {
            xc,
            z,
            q,
            k,
            v,
            i,
            f,
        }
    }

    /// Norm, skip, output gate and down-projection from the cell output `h̃ (.., inner)`.
    fn output<const D: usize>(&self, h: Tensor<B, D>, xc: Tensor<B, D>, z: Tensor<B, D>) -> Tensor<B, D> {
        let inner = self.inner();
        let mut skip_shape = [1; D];
        skip_shape[D - 1] = inner;
        let h = multi_head_layer_norm(h, self.heads, self.norm_weight.val(), GROUP_NORM_EPS)
            + self.skip.val().reshape(skip_shape) * xc;
        self.proj_down.forward(h * silu(z))
    }
}

impl<B: ScanBackend> SequenceLayer<B> for Mlstm<B> {
    type State = MlstmState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let inner = self.inner();
        let up = self.proj_up.forward(x);
        let xm = up.clone().narrow(2, 0, inner);
        let z = up.narrow(2, inner, inner);
        let xc = match &self.conv {
            Some(conv) => conv.forward(xm.clone()),
            None => silu(xm.clone()),
        };
        let br = self.branches(xm, z, xc);
        let nh = self.heads;
        let (q, k, v) = (to_heads(br.q, nh), to_heads(br.k, nh), to_heads(br.v, nh));
        let (i, f) = (br.i.swap_dims(1, 2), br.f.swap_dims(1, 2));
        let h = match self.form {
            MlstmForm::Chunkwise => mlstm_chunkwise(q, k, v, i, f, self.chunk_size, MLSTM_EPS),
            MlstmForm::Parallel => mlstm_parallel(q, k, v, i, f, MLSTM_EPS),
        };
        self.output(from_heads(h), br.xc, br.z)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let inner = self.inner();
        MlstmState {
            cell: MlstmCellState::zeros(batch, self.heads, inner / self.heads, device),
            conv: self
                .conv
                .as_ref()
                .and_then(|c| c.zero_buffer(batch, device)),
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [b, _] = x.dims();
        let (inner, nh) = (self.inner(), self.heads);
        let dh = inner / nh;
        let up = self.proj_up.forward(x);
        let xm = up.clone().narrow(1, 0, inner);
        let z = up.narrow(1, inner, inner);
        let (xc, conv) = match &self.conv {
            Some(c) => c.step(xm.clone(), state.conv),
            None => (silu(xm.clone()), None),
        };
        let br = self.branches(xm, z, xc);
        let heads = |t: Tensor<B, 2>| t.reshape([b, nh, dh]);
        let (h, cell) = mlstm_step(
            heads(br.q),
            heads(br.k),
            heads(br.v),
            br.i,
            br.f,
            state.cell,
            MLSTM_EPS,
        );
        let y = self.output(h.reshape([b, inner]), br.xc, br.z);
        (y, MlstmState { cell, conv })
    }
}
