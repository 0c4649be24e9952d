//! Running a channels-last selective scan on an implementation that only has channels-first
//! kernels (the CubeCL kernels; the CPU fallback when its channels-last kernel does not apply):
//! the inputs are permuted to channels-first, and the packed output and the gradients back.
//!
//! Why not everywhere: the permutes are full-size copies, exactly what the channels-last layout
//! saves a Mamba block on the CPU. On a GPU they cost a few memory-bound passes.

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

use crate::backend::{SelectiveScanGrads, SelectiveScanPrimitives};
use crate::input::{ScanDims, ScanLayout};

fn wrap<B: Backend, const D: usize>(p: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

fn float<B: Backend, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

/// Swaps the `(d, len)` axes of the `y` part of a packed `[y | final state]` tensor; `y` has
/// shape `y_shape` on input (`(batch, d, len)` or `(batch, len, d)`).
fn swap_packed_y<B: Backend>(
    packed: FloatTensor<B>,
    dims: ScanDims,
    y_shape: [usize; 3],
) -> FloatTensor<B> {
    let packed: Tensor<B, 1> = wrap(packed);
    let y_len = dims.batch * dims.d * dims.len;
    let total = y_len + dims.batch * dims.d * dims.n;
    let y = packed
        .clone()
        .slice(0..y_len)
        .reshape(y_shape)
        .swap_dims(1, 2)
        .reshape([y_len]);
    float(Tensor::cat(vec![y, packed.slice(y_len..total)], 0))
}

/// Forward of a channels-last `p` through `forward`, which takes channels-first primitives;
/// returns the packed output in `p`'s layout. Channels-first `p` goes straight through.
pub fn forward_via_channels_first<B: Backend>(
    p: SelectiveScanPrimitives<B>,
    forward: impl FnOnce(SelectiveScanPrimitives<B>) -> FloatTensor<B>,
) -> FloatTensor<B> {
    if p.layout == ScanLayout::ChannelsFirst {
        return forward(p);
    }
    let dims = p.dims();
    let packed = forward(p.into_input().into_channels_first().into_primitives());
    swap_packed_y::<B>(packed, dims, dims.x_shape(ScanLayout::ChannelsFirst))
}

/// Backward of a channels-last `p` through `backward`, which takes channels-first primitives;
/// the gradients come back in `p`'s layout. Channels-first `p` goes straight through.
pub fn backward_via_channels_first<B: Backend>(
    p: SelectiveScanPrimitives<B>,
    grad: FloatTensor<B>,
    backward: impl FnOnce(SelectiveScanPrimitives<B>, FloatTensor<B>) -> SelectiveScanGrads<B>,
) -> SelectiveScanGrads<B> {
    if p.layout == ScanLayout::ChannelsFirst {
        return backward(p, grad);
    }
    let dims = p.dims();
    let grad = swap_packed_y::<B>(grad, dims, dims.x_shape(ScanLayout::ChannelsLast));
    let g = backward(p.into_input().into_channels_first().into_primitives(), grad);
    let x = |t: FloatTensor<B>| float(wrap::<B, 3>(t).swap_dims(1, 2));
    // (batch, groups, n, len) -> (batch, len, groups, n)
    let bc = |t: FloatTensor<B>| float(wrap::<B, 4>(t).permute([0, 3, 1, 2]));
    SelectiveScanGrads {
        u: x(g.u),
        delta: x(g.delta),
        b: bc(g.b),
        c: bc(g.c),
        z: g.z.map(x),
        ..g
    }
}
