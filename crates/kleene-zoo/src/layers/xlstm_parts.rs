//! The parts shared by the xLSTM mixers `slstm` and `mlstm` (not a mixer of its own), after
//! NX-AI/xlstm's `components/`: `LinearHeadwiseExpand` (block-diagonal linear map, no bias),
//! `MultiHeadLayerNorm` (GroupNorm with one group per head, residual weight `1 + w`, no bias)
//! and `CausalConv1d` (depthwise causal convolution with bias; SiLU applied by the callers).

use burn::module::Param;
use burn::prelude::*;
use kleene_scan::{causal_conv1d, ScanBackend};

use crate::init::{normal, tensor_from_vec, uniform};

/// Epsilon of upstream's `MultiHeadLayerNorm` (`F.group_norm`'s default).
pub const GROUP_NORM_EPS: f64 = 1e-5;

/// `LinearHeadwiseExpand` with expansion 1 and no bias: the input's last dim is split into
/// `heads` blocks (head index slow) and each block gets its own square map.
#[derive(Module, Debug)]
pub struct LinearHeadwise<B: Backend> {
    /// `(heads, out_per_head, in_per_head)`, upstream's layout: `y[h, o] = Σ_d W[h, o, d] x[h, d]`.
    pub weight: Param<Tensor<B, 3>>,
}

impl<B: Backend> LinearHeadwise<B> {
    /// `heads` square blocks over `width` features, weights `N(0, std²)`.
    pub fn new(width: usize, heads: usize, std: f64, device: &B::Device) -> Self {
        let block = width / heads;
        Self {
            weight: normal([heads, block, block], std, device),
        }
    }

    /// Applies the map to the last dim of `x` (any rank).
    ///
    /// As one dense matmul with the block-diagonal matrix (zeros off the blocks): at the
    /// xLSTM widths (blocks of 4 in 128, or 16 in 64) that is several times faster on the CPU
    /// than a batched matmul of many tiny blocks, whose transposes and copies dominate.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let dims = x.dims();
        let rows = dims[..D - 1].iter().product::<usize>();
        let w = self.dense();
        let mut shape = dims;
        shape[D - 1] = w.dims()[1];
        x.reshape([rows, dims[D - 1]]).matmul(w).reshape(shape)
    }

    /// The block-diagonal `(H·in, H·out)` matrix (Burn's `(d_in, d_out)` layout).
    pub fn dense(&self) -> Tensor<B, 2> {
        let [heads, out, inp] = self.weight.dims();
        let device = self.weight.device();
        let eye: Vec<f32> = (0..heads * heads)
            .map(|n| if n / heads == n % heads { 1.0 } else { 0.0 })
            .collect();
        let eye = tensor_from_vec::<B, 4>(eye, [heads, 1, heads, 1], &device);
        // (H, in, 1, out) ⊙ δ(h, g) -> (H, in, H, out): block h sits at rows h·in, cols h·out.
        (self
            .weight
            .val()
            .swap_dims(1, 2)
            .reshape([heads, inp, 1, out])
            * eye)
            .reshape([heads * inp, heads * out])
    }
}

/// `MultiHeadLayerNorm` on the last dim of `x` (`heads` groups of `width / heads`, head index
/// slow): each group normalised to mean 0 and (biased) variance 1 with `eps` inside the root,
/// then scaled by `1 + w` (`w: (width)`, zeros at init).
pub fn multi_head_layer_norm<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    heads: usize,
    w: Tensor<B, 1>,
    eps: f64,
) -> Tensor<B, D> {
    let dims = x.dims();
    let width = dims[D - 1];
    let rows = dims[..D - 1].iter().product::<usize>();
    let g = x.reshape([rows, heads, width / heads]);
    let centred = g.clone() - g.mean_dim(2);
    let var = centred.clone().powi_scalar(2).mean_dim(2);
    let normed = centred / var.add_scalar(eps).sqrt();
    let scale = w.add_scalar(1.0).reshape([1, heads, width / heads]);
    (normed * scale).reshape(dims)
}

/// `CausalConv1d` (depthwise, with bias) followed by SiLU, as both xLSTM layers use it.
#[derive(Module, Debug)]
pub struct CausalConvSilu<B: Backend> {
    /// `(channels, K)`; tap `K - 1` multiplies the current input (PyTorch's `weight[:, 0, :]`).
    pub weight: Param<Tensor<B, 2>>,
    /// `(channels)`.
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> CausalConvSilu<B> {
    /// PyTorch's default `nn.Conv1d` init for a depthwise conv: weight and bias `U(±1/√K)`.
    pub fn new(channels: usize, kernel: usize, device: &B::Device) -> Self {
        let bound = 1.0 / (kernel as f64).sqrt();
        Self {
            weight: uniform([channels, kernel], bound, device),
            bias: uniform([channels], bound, device),
        }
    }
}

impl<B: ScanBackend> CausalConvSilu<B> {
    /// Kernel width `K`.
    pub fn kernel(&self) -> usize {
        self.weight.dims()[1]
    }

    /// `silu(conv(x))` for a whole sequence `x: (B, L, C)` from zero history.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        causal_conv1d(x, self.weight.val(), self.bias.val(), true)
    }

    /// The zero history `(batch, K - 1, C)` (`None` for `K = 1`).
    pub fn zero_buffer(&self, batch: usize, device: &B::Device) -> Option<Tensor<B, 3>> {
        let [c, k] = self.weight.dims();
        (k > 1).then(|| Tensor::zeros([batch, k - 1, c], device))
    }

    /// One step: `x: (B, C)` and the last `K - 1` inputs (oldest first); returns the output
    /// and the new history.
    pub fn step(
        &self,
        x: Tensor<B, 2>,
        buffer: Option<Tensor<B, 3>>,
    ) -> (Tensor<B, 2>, Option<Tensor<B, 3>>) {
        let [b, c] = x.dims();
        let k = self.kernel();
        let x3 = x.reshape([b, 1, c]);
        let window = match buffer {
            Some(buf) => Tensor::cat(vec![buf, x3], 1),
            None => x3,
        };
        let y = causal_conv1d(window.clone(), self.weight.val(), self.bias.val(), true)
            .narrow(1, k - 1, 1)
            .reshape([b, c]);
        let next = (k > 1).then(|| window.narrow(1, 1, k - 1));
        (y, next)
    }
}
