//! Causal depthwise 1-D convolution with an optional fused SiLU, the short convolution in front
//! of Mamba's selective scan (mamba-ssm's `causal_conv1d_fn`).
//!
//! Layout is channels-last, `x: (batch, len, channels)`, because that is what the input
//! projection produces (no transpose):
//! ```text
//! s[b, t, c] = bias[c] + sum_k weight[c, k] * x[b, t - (K-1) + k, c]     (x[b, t<0, c] = 0)
//! y          = silu(s)  (or s)
//! ```
//! Composed from Burn tensor ops this is ~5 full-size ops per tap forward and twice that
//! backward; as one op it is a single pass each way. Backends get:
//! - the tensor-op composition ([`reference_forward`], [`reference_backward`]) by default (so it
//!   runs on every backend, CubeCL ones included, on the device),
//! - a multi-threaded plain-Rust pass on burn-ndarray,
//! - one graph node with that hand-written backward on `Autodiff<B>`.
//!
//! The CPU reductions (`dweight`, `dbias`) sum fixed-size row blocks in a fixed order, so the
//! result does not depend on the number of threads (bit-reproducible training on CPU).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::activation::{sigmoid, silu};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorData, TensorMetadata, TensorPrimitive};
use rayon::prelude::*;

use crate::error::ScanError;
use crate::host::view;

/// Gradients of the causal convolution.
#[derive(Debug, Clone)]
pub struct CausalConvGrads<B: Backend> {
    /// `(batch, len, channels)`
    pub x: FloatTensor<B>,
    /// `(channels, K)`
    pub weight: FloatTensor<B>,
    /// `(channels)`
    pub bias: FloatTensor<B>,
}

/// Backends that provide the causal depthwise convolution. Every method has a tensor-op default;
/// burn-ndarray and `Autodiff<B>` override them.
pub trait CausalConvBackend: Backend {
    /// Forward: `y (batch, len, channels)`.
    fn causal_conv1d_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        silu: bool,
    ) -> FloatTensor<Self> {
        reference_forward::<Self>(float(x), float(weight), float(bias), silu)
            .into_primitive()
            .tensor()
    }

    /// Backward from the gradient of `y`.
    fn causal_conv1d_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        silu: bool,
        grad: FloatTensor<Self>,
    ) -> CausalConvGrads<Self> {
        let (dx, dw, db) =
            reference_backward::<Self>(float(x), float(weight), float(bias), silu, float(grad));
        CausalConvGrads {
            x: dx.into_primitive().tensor(),
            weight: dw.into_primitive().tensor(),
            bias: db.into_primitive().tensor(),
        }
    }
}

fn float<B: Backend, const D: usize>(t: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// Causal depthwise convolution `x (batch, len, C)`, `weight (C, K)`, `bias (C)`, then SiLU
/// when `silu`; see the module docs. Panics on inconsistent shapes ([`try_causal_conv1d`]
/// returns the error instead).
pub fn causal_conv1d<B: CausalConvBackend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 2>,
    bias: Tensor<B, 1>,
    silu: bool,
) -> Tensor<B, 3> {
    try_causal_conv1d(x, weight, bias, silu).unwrap_or_else(|e| panic!("{e}"))
}

/// [`causal_conv1d`] with shape errors returned.
pub fn try_causal_conv1d<B: CausalConvBackend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 2>,
    bias: Tensor<B, 1>,
    silu: bool,
) -> Result<Tensor<B, 3>, ScanError> {
    let [_, _, c] = x.dims();
    let [wc, k] = weight.dims();
    let [bc] = bias.dims();
    if k == 0 {
        return Err(ScanError::Shape {
            op: "causal_conv1d",
            field: "weight",
            got: vec![wc, k],
            expected: vec![c, 1],
        });
    }
    if wc != c {
        return Err(ScanError::Shape {
            op: "causal_conv1d",
            field: "weight",
            got: vec![wc, k],
            expected: vec![c, k],
        });
    }
    if bc != c {
        return Err(ScanError::Shape {
            op: "causal_conv1d",
            field: "bias",
            got: vec![bc],
            expected: vec![c],
        });
    }
    Ok(float(B::causal_conv1d_forward(
        x.into_primitive().tensor(),
        weight.into_primitive().tensor(),
        bias.into_primitive().tensor(),
        silu,
    )))
}

/// Left-pads `x` with `k - 1` zero rows along the length axis.
fn pad_left<B: Backend>(x: Tensor<B, 3>, k: usize) -> Tensor<B, 3> {
    if k <= 1 {
        return x;
    }
    let [batch, _, c] = x.dims();
    let zeros = Tensor::zeros([batch, k - 1, c], &x.device());
    Tensor::cat(vec![zeros, x], 1)
}

/// Weight column `k` as a `(1, 1, C)` row for broadcasting.
fn tap<B: Backend>(weight: &Tensor<B, 2>, k: usize) -> Tensor<B, 3> {
    let [c, _] = weight.dims();
    weight.clone().narrow(1, k, 1).reshape([1, 1, c])
}

/// The pre-activation `s` from Burn tensor ops.
fn reference_pre<B: Backend>(
    x: Tensor<B, 3>,
    weight: &Tensor<B, 2>,
    bias: Tensor<B, 1>,
) -> Tensor<B, 3> {
    let [_, len, c] = x.dims();
    let [_, k] = weight.dims();
    let padded = pad_left(x, k);
    let mut s = bias.reshape([1, 1, c]);
    for j in 0..k {
        s = s + padded.clone().narrow(1, j, len) * tap(weight, j);
    }
    s
}

/// Forward composed from Burn tensor ops: the oracle and the default on backends without a
/// dedicated implementation.
pub fn reference_forward<B: Backend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 2>,
    bias: Tensor<B, 1>,
    apply_silu: bool,
) -> Tensor<B, 3> {
    let s = reference_pre(x, &weight, bias);
    if apply_silu {
        silu(s)
    } else {
        s
    }
}

/// Backward composed from Burn tensor ops; returns `(dx, dweight, dbias)`.
pub fn reference_backward<B: Backend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 2>,
    bias: Tensor<B, 1>,
    apply_silu: bool,
    grad: Tensor<B, 3>,
) -> (Tensor<B, 3>, Tensor<B, 2>, Tensor<B, 1>) {
    let [batch, len, c] = x.dims();
    let [_, k] = weight.dims();
    let dpre = if apply_silu {
        // silu'(s) = σ(s) (1 + s (1 - σ(s)))
        let s = reference_pre(x.clone(), &weight, bias);
        let sig = sigmoid(s.clone());
        grad * sig.clone() * (s * (sig.neg() + 1.0) + 1.0)
    } else {
        grad
    };
    // dx[t] = sum_j w[j] dpre[t + K-1-j]: dpre right-padded with K-1 zero rows.
    let dpre_padded = if k > 1 {
        Tensor::cat(
            vec![
                dpre.clone(),
                Tensor::zeros([batch, k - 1, c], &dpre.device()),
            ],
            1,
        )
    } else {
        dpre.clone()
    };
    let mut dx = dpre_padded.clone().narrow(1, k - 1, len) * tap(&weight, 0);
    for j in 1..k {
        dx = dx + dpre_padded.clone().narrow(1, k - 1 - j, len) * tap(&weight, j);
    }
    let x_padded = pad_left(x, k);
    let dw_cols: Vec<Tensor<B, 2>> = (0..k)
        .map(|j| {
            (dpre.clone() * x_padded.clone().narrow(1, j, len))
                .sum_dim(0)
                .sum_dim(1)
                .reshape([c, 1])
        })
        .collect();
    let dw = Tensor::cat(dw_cols, 1);
    let db = dpre.sum_dim(0).sum_dim(1).reshape([c]);
    (dx, dw, db)
}

// ---------------------------------------------------------------------------------------------
// CPU (plain Rust) implementation.

/// Rows per task (and per partial sum of the weight/bias reductions): fixed, so the summation
/// order does not depend on the thread count.
const ROWS_PER_BLOCK: usize = 64;

fn write_f32<B: Backend>(v: Vec<f32>, shape: &[usize], like: &FloatTensor<B>) -> FloatTensor<B> {
    B::float_from_data(
        TensorData::new(v, shape.to_vec()).convert_dtype(like.dtype()),
        &B::float_device(like),
    )
}

/// Plain-Rust kernels on `f32` slices (`x`: `(batch, len, c)`, `w_t`: weight transposed to
/// `(K, c)`).
pub mod host {
    use super::*;

    #[inline]
    fn sigmoid(v: f32) -> f32 {
        1.0 / (1.0 + (-v).exp())
    }

    /// Pre-activation of rows `r0..r0 + out.len()/c` into `out`.
    #[allow(clippy::too_many_arguments)]
    fn pre_rows(
        x: &[f32],
        w_t: &[f32],
        bias: &[f32],
        len: usize,
        c: usize,
        k: usize,
        r0: usize,
        out: &mut [f32],
    ) {
        for (i, row) in out.chunks_exact_mut(c).enumerate() {
            let r = r0 + i;
            let t = r % len;
            row.copy_from_slice(bias);
            for j in 0..k {
                // Tap j reads x[t - (K-1) + j] of the same sequence.
                let back = k - 1 - j;
                if t >= back {
                    let src = &x[(r - back) * c..(r - back + 1) * c];
                    let wj = &w_t[j * c..(j + 1) * c];
                    for ((o, &xv), &wv) in row.iter_mut().zip(src).zip(wj) {
                        *o += wv * xv;
                    }
                }
            }
        }
    }

    /// Forward over all rows; `y` has the length of `x`.
    pub fn forward(
        x: &[f32],
        w_t: &[f32],
        bias: &[f32],
        len: usize,
        k: usize,
        silu: bool,
    ) -> Vec<f32> {
        let c = bias.len();
        let mut y = vec![0.0f32; x.len()];
        y.par_chunks_mut(ROWS_PER_BLOCK * c)
            .enumerate()
            .for_each(|(blk, out)| {
                pre_rows(x, w_t, bias, len, c, k, blk * ROWS_PER_BLOCK, out);
                if silu {
                    for v in out.iter_mut() {
                        *v *= sigmoid(*v);
                    }
                }
            });
        y
    }

    /// Backward; returns `(dx, dw_t (K, c), dbias)`.
    pub fn backward(
        x: &[f32],
        w_t: &[f32],
        bias: &[f32],
        len: usize,
        k: usize,
        silu: bool,
        grad: &[f32],
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let c = bias.len();
        let rows = x.len() / c;
        // dL/ds, row block by row block.
        let mut dpre = grad.to_vec();
        if silu {
            dpre.par_chunks_mut(ROWS_PER_BLOCK * c)
                .enumerate()
                .for_each(|(blk, g)| {
                    let mut s = vec![0.0f32; g.len()];
                    pre_rows(x, w_t, bias, len, c, k, blk * ROWS_PER_BLOCK, &mut s);
                    for (gv, &sv) in g.iter_mut().zip(&s) {
                        let sg = sigmoid(sv);
                        *gv *= sg * (1.0 + sv * (1.0 - sg));
                    }
                });
        }
        // dx[t] = sum_j w[j] dpre[t + K-1-j] (same sequence).
        let mut dx = vec![0.0f32; x.len()];
        dx.par_chunks_mut(ROWS_PER_BLOCK * c)
            .enumerate()
            .for_each(|(blk, out)| {
                for (i, row) in out.chunks_exact_mut(c).enumerate() {
                    let r = blk * ROWS_PER_BLOCK + i;
                    let t = r % len;
                    for j in 0..k {
                        let ahead = k - 1 - j;
                        if t + ahead < len {
                            let src = &dpre[(r + ahead) * c..(r + ahead + 1) * c];
                            let wj = &w_t[j * c..(j + 1) * c];
                            for ((o, &g), &wv) in row.iter_mut().zip(src).zip(wj) {
                                *o += wv * g;
                            }
                        }
                    }
                }
            });
        // Per-block partial sums of dw_t (K, c) and dbias (c), then summed in block order.
        let blocks = rows.div_ceil(ROWS_PER_BLOCK);
        let partials: Vec<Vec<f32>> = (0..blocks)
            .into_par_iter()
            .map(|blk| {
                let mut acc = vec![0.0f32; (k + 1) * c];
                let end = ((blk + 1) * ROWS_PER_BLOCK).min(rows);
                for r in blk * ROWS_PER_BLOCK..end {
                    let t = r % len;
                    let g = &dpre[r * c..(r + 1) * c];
                    for j in 0..k {
                        let back = k - 1 - j;
                        if t >= back {
                            let src = &x[(r - back) * c..(r - back + 1) * c];
                            let a = &mut acc[j * c..(j + 1) * c];
                            for ((o, &gv), &xv) in a.iter_mut().zip(g).zip(src) {
                                *o += gv * xv;
                            }
                        }
                    }
                    let a = &mut acc[k * c..];
                    for (o, &gv) in a.iter_mut().zip(g) {
                        *o += gv;
                    }
                }
                acc
            })
            .collect();
        let mut total = vec![0.0f32; (k + 1) * c];
        for p in &partials {
            for (o, &v) in total.iter_mut().zip(p) {
                *o += v;
            }
        }
        let dbias = total.split_off(k * c);
        (dx, total, dbias)
    }

    /// `(c, k)` -> `(k, c)`.
    pub fn transpose(w: &[f32], c: usize, k: usize) -> Vec<f32> {
        let mut t = vec![0.0f32; w.len()];
        for ci in 0..c {
            for j in 0..k {
                t[j * c + ci] = w[ci * k + j];
            }
        }
        t
    }
}

/// Host forward for any backend (reads back, computes on the CPU, uploads).
fn host_forward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    silu: bool,
) -> FloatTensor<B> {
    let (shape, wshape) = (x.shape().to_vec(), weight.shape().to_vec());
    let (xv, wv, bv) = (view::<B>(&x), view::<B>(&weight), view::<B>(&bias));
    let (c, k) = (wshape[0], wshape[1]);
    let y = host::forward(&xv, &host::transpose(&wv, c, k), &bv, shape[1], k, silu);
    write_f32::<B>(y, &shape, &bias)
}

fn host_backward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    silu: bool,
    grad: FloatTensor<B>,
) -> CausalConvGrads<B> {
    let (shape, wshape) = (x.shape().to_vec(), weight.shape().to_vec());
    let bshape = bias.shape().to_vec();
    let (xv, wv, bv, gv) = (
        view::<B>(&x),
        view::<B>(&weight),
        view::<B>(&bias),
        view::<B>(&grad),
    );
    let (c, k) = (wshape[0], wshape[1]);
    let (dx, dw_t, db) = host::backward(
        &xv,
        &host::transpose(&wv, c, k),
        &bv,
        shape[1],
        k,
        silu,
        &gv,
    );
    CausalConvGrads {
        x: write_f32::<B>(dx, &shape, &bias),
        weight: write_f32::<B>(host::transpose(&dw_t, k, c), &wshape, &bias),
        bias: write_f32::<B>(db, &bshape, &bias),
    }
}

/// The CPU backends' methods: the one-pass host kernels above.
macro_rules! host_causal_conv_methods {
    () => {
        fn causal_conv1d_forward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            silu: bool,
        ) -> FloatTensor<Self> {
            host_forward::<Self>(x, weight, bias, silu)
        }

        fn causal_conv1d_backward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            silu: bool,
            grad: FloatTensor<Self>,
        ) -> CausalConvGrads<Self> {
            host_backward::<Self>(x, weight, bias, silu, grad)
        }
    };
}

impl<E, I, Q> CausalConvBackend for burn_ndarray::NdArray<E, I, Q>
where
    E: burn_ndarray::FloatNdArrayElement,
    I: burn_ndarray::IntNdArrayElement,
    Q: burn_ndarray::QuantElement,
    burn_ndarray::NdArrayTensor: From<burn_ndarray::SharedArray<E>>,
    burn_ndarray::NdArrayTensor: From<burn_ndarray::SharedArray<I>>,
{
    host_causal_conv_methods!();
}

/// burn-flex runs the same CPU kernels as burn-ndarray (its contiguous `f32` tensors are
/// borrowed in place, see `host::view`).
#[cfg(feature = "flex")]
impl CausalConvBackend for burn_flex::Flex {
    host_causal_conv_methods!();
}

#[cfg(feature = "cube")]
impl<R, F, I, BT> CausalConvBackend for burn_cubecl::CubeBackend<R, F, I, BT>
where
    R: burn_cubecl::CubeRuntime,
    F: burn_cubecl::FloatElement,
    I: burn_cubecl::IntElement,
    BT: burn_cubecl::BoolElement,
{
}

#[derive(Debug)]
struct CausalConvBackward {
    silu: bool,
}

impl<B: CausalConvBackend> Backward<B, 3> for CausalConvBackward {
    /// (x, weight, bias)
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (x, w, b) = ops.state;
        let g = B::causal_conv1d_backward(x, w, b, self.silu, grad);
        let [nx, nw, nb] = ops.parents.map(|p| p.map(|n| n.id));
        for (node, grad) in [(nx, g.x), (nw, g.weight), (nb, g.bias)] {
            if let Some(node) = node {
                grads.register::<B>(node, grad);
            }
        }
    }
}

impl<B: CausalConvBackend, C: CheckpointStrategy> CausalConvBackend for Autodiff<B, C> {
    fn causal_conv1d_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        silu: bool,
    ) -> FloatTensor<Self> {
        let nodes = [x.node.clone(), weight.node.clone(), bias.node.clone()];
        let (x, w, b) = (x.primitive, weight.primitive, bias.primitive);
        match (CausalConvBackward { silu })
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::causal_conv1d_forward(x.clone(), w.clone(), b.clone(), silu);
                prep.finish((x, w, b), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::causal_conv1d_forward(x, w, b, silu)),
        }
    }
}
