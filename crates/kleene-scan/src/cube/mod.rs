//! CubeCL implementation of [`ScanBackend`] for `CubeBackend<R, F, I, BT>` (burn-wgpu, burn-cuda,
//! any CubeCL runtime). Kernels: [`kernels`].
//!
//! **Fusion**: this impl covers the *non-fused* `CubeBackend`. The crate's `wgpu`/`cuda` features
//! build burn-wgpu/burn-cuda without their `fusion` feature, and the aliases [`Wgpu`] and
//! [`Cuda`] name the non-fused backends explicitly, so they stay non-fused even if another crate
//! in the build turns burn's fusion on (then `burn_wgpu::Wgpu` would become `Fusion<…>`, which does
//! not implement [`ScanBackend`]: use these aliases).

pub mod kernels;

use burn::tensor::ops::{FloatTensor, FloatTensorOps, IntTensor, IntTensorOps};
use burn::tensor::{DType, FloatDType, Shape};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::calculate_cube_count_elemwise;
use cubecl::prelude::*;

use crate::backend::{
    ComplexDiagonalGrads, DenseGrads, DiagonalGrads, ScanBackend, SelectiveScanGrads,
    SelectiveScanPrimitives,
};
use crate::layout::{backward_via_channels_first, forward_via_channels_first};
use crate::{ScanLayout, TransitionRange};

/// burn-wgpu's CubeCL backend without fusion (Vulkan/Metal/WebGPU), f32.
#[cfg(feature = "wgpu")]
pub type Wgpu = CubeBackend<cubecl::wgpu::WgpuRuntime, f32, i32, u32>;

/// burn-cuda's CubeCL backend without fusion, f32.
#[cfg(feature = "cuda")]
pub type Cuda = CubeBackend<cubecl::cuda::CudaRuntime, f32, i32, u8>;

/// Time steps between two state checkpoints in the selective-scan backward.
pub const BACKWARD_TIME_CHUNK: usize = 64;
/// Channels handled (sequentially) by one unit of the selective-scan backward.
pub const BACKWARD_CHANNEL_CHUNK: usize = 8;
/// Most time steps one launch of the selective-scan backward's reverse kernel covers (a multiple
/// of [`BACKWARD_TIME_CHUNK`]): its units loop over [`BACKWARD_CHANNEL_CHUNK`] channels and
/// visit every step twice, `8 * 2 * 2048` loop iterations, well under llvmpipe's 65535.
pub const BACKWARD_TIME_BLOCK: usize = 2048;
const UNITS_PER_CUBE: u32 = 64;
/// Most time steps one launch of a (non-selective-backward) kernel processes; see [`kernels`]
/// ("Time blocks") for why long sequences take several launches.
pub const TIME_BLOCK: usize = 32_768;

/// `(t_start, t_end)` blocks covering `0..len`, each at most `block` long.
fn time_blocks(len: usize, block: usize) -> Vec<(u32, u32)> {
    (0..len.div_ceil(block))
        .map(|i| ((i * block) as u32, ((i + 1) * block).min(len) as u32))
        .collect()
}

/// Dense kernels loop over the state inside every step; keep their total loop count per launch
/// under llvmpipe's limit.
fn dense_block(n: usize) -> usize {
    (60_000 / (2 * n + 2)).max(1)
}

type Cube<R, F, I, BT> = CubeBackend<R, F, I, BT>;

/// Contiguous, and in the given dtype.
pub(crate) fn prep<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    t: CubeTensor<R>,
    dtype: DType,
) -> CubeTensor<R> {
    let t = if t.dtype != dtype {
        Cube::<R, F, I, BT>::float_cast(t, FloatDType::from(dtype))
    } else {
        t
    };
    into_contiguous(t)
}

pub(crate) fn empty<R: CubeRuntime>(like: &CubeTensor<R>, shape: Vec<usize>) -> CubeTensor<R> {
    empty_device_contiguous_dtype(
        like.client.clone(),
        like.device.clone(),
        Shape::from(shape),
        like.dtype,
    )
}

fn zeros<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    like: &CubeTensor<R>,
    shape: Vec<usize>,
) -> CubeTensor<R> {
    Cube::<R, F, I, BT>::float_zeros(
        Shape::from(shape),
        &like.device,
        FloatDType::from(like.dtype),
    )
}

fn elemwise<R: CubeRuntime>(client: &ComputeClient<R>, units: usize) -> (CubeCount, CubeDim) {
    let cube_dim = CubeDim::new_1d(UNITS_PER_CUBE);
    (
        calculate_cube_count_elemwise(client, units.max(1), cube_dim),
        cube_dim,
    )
}

/// Sum over `dim` and drop it.
fn sum_out<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    t: CubeTensor<R>,
    dim: usize,
    out_shape: Vec<usize>,
) -> CubeTensor<R> {
    let s = Cube::<R, F, I, BT>::float_sum_dim(t, dim);
    Cube::<R, F, I, BT>::float_reshape(s, Shape::from(out_shape))
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> ScanBackend
    for CubeBackend<R, F, I, BT>
{
    fn selective_scan_forward(p: SelectiveScanPrimitives<Self>) -> FloatTensor<Self> {
        if p.layout == ScanLayout::ChannelsLast {
            // The kernels read channels-first rows; permute around them.
            return forward_via_channels_first(p, Self::selective_scan_forward);
        }
        let dtype = p.u.dtype;
        let minus_one_one = p.transition_range == TransitionRange::MinusOneOne;
        let c = |t: CubeTensor<R>| prep::<R, F, I, BT>(t, dtype);
        let u = c(p.u);
        let [batch, d, len] = u.meta.shape().dims::<3>();
        let n = p.a.meta.shape()[1];
        let (has_skip, has_z, has_bias, has_h0) = (
            p.d_skip.is_some(),
            p.z.is_some(),
            p.delta_bias.is_some(),
            p.initial_state.is_some(),
        );
        let opt = |t: Option<CubeTensor<R>>| t.map(c).unwrap_or_else(|| u.clone());
        let out = empty(&u, vec![batch * d * len + batch * d * n]);
        let client = u.client.clone();
        let (count, dim) = elemwise(&client, batch * d);
        let (delta, a, b, cc) = (c(p.delta), c(p.a), c(p.b), c(p.c));
        let (skip, z, bias, h0) = (
            opt(p.d_skip),
            opt(p.z),
            opt(p.delta_bias),
            opt(p.initial_state),
        );
        for (t_start, t_end) in time_blocks(len, TIME_BLOCK) {
            kernels::selective_scan_fwd_kernel::launch::<R>(
                &client,
                count.clone(),
                dim,
                u.clone().into_tensor_arg(),
                delta.clone().into_tensor_arg(),
                a.clone().into_tensor_arg(),
                b.clone().into_tensor_arg(),
                cc.clone().into_tensor_arg(),
                skip.clone().into_tensor_arg(),
                z.clone().into_tensor_arg(),
                bias.clone().into_tensor_arg(),
                h0.clone().into_tensor_arg(),
                out.clone().into_tensor_arg(),
                t_start,
                t_end,
                n,
                has_skip,
                has_z,
                has_bias,
                p.delta_softplus,
                has_h0,
                minus_one_one,
                dtype.into(),
            );
        }
        out
    }

    fn selective_scan_backward(
        p: SelectiveScanPrimitives<Self>,
        grad: FloatTensor<Self>,
    ) -> SelectiveScanGrads<Self> {
        if p.layout == ScanLayout::ChannelsLast {
            return backward_via_channels_first(p, grad, Self::selective_scan_backward);
        }
        let dtype = p.u.dtype;
        let minus_one_one = p.transition_range == TransitionRange::MinusOneOne;
        let c = |t: CubeTensor<R>| prep::<R, F, I, BT>(t, dtype);
        let u = c(p.u);
        let [batch, d, len] = u.meta.shape().dims::<3>();
        let n = p.a.meta.shape()[1];
        let groups = p.b.meta.shape()[1];
        let per_group = d / groups;
        let dchunk = BACKWARD_CHANNEL_CHUNK.min(per_group);
        let n_dchunks = per_group.div_ceil(dchunk);
        let tchunk = BACKWARD_TIME_CHUNK.min(len);
        let n_tchunks = len.div_ceil(tchunk);
        let units = batch * groups * n_dchunks;
        let (has_skip, has_z, has_bias, has_h0) = (
            p.d_skip.is_some(),
            p.z.is_some(),
            p.delta_bias.is_some(),
            p.initial_state.is_some(),
        );
        let opt = |t: Option<CubeTensor<R>>| t.map(c).unwrap_or_else(|| u.clone());
        let du = empty(&u, vec![batch, d, len]);
        let ddelta = empty(&u, vec![batch, d, len]);
        let dz = empty(&u, if has_z { vec![batch, d, len] } else { vec![1] });
        let dh0 = empty(&u, vec![batch, d, n]);
        let da_part = empty(&u, vec![batch, d, n]);
        let dskip_part = empty(&u, vec![batch, d]);
        let dbias_part = empty(&u, vec![batch, d]);
        let db_part = zeros::<R, F, I, BT>(&u, vec![batch, groups, n_dchunks, n, len]);
        let dc_part = zeros::<R, F, I, BT>(&u, vec![batch, groups, n_dchunks, n, len]);
        let ckpt = empty(&u, vec![batch * d * (n_tchunks + 1) * n]);
        let hbuf = empty(&u, vec![units * tchunk * n]);
        let client = u.client.clone();
        let (delta, a, b, cc) = (c(p.delta), c(p.a), c(p.b), c(p.c));
        let (skip, z, bias) = (opt(p.d_skip), opt(p.z), opt(p.delta_bias));
        let h0 = opt(p.initial_state);
        let grad = c(grad);
        // Step 1: checkpoints, in time blocks that are multiples of the chunk.
        let (count, cube_dim) = elemwise(&client, batch * d);
        let ckpt_block = (TIME_BLOCK / tchunk).max(1) * tchunk;
        for (t_start, t_end) in time_blocks(len, ckpt_block) {
            kernels::selective_scan_ckpt_kernel::launch::<R>(
                &client,
                count.clone(),
                cube_dim,
                u.clone().into_tensor_arg(),
                delta.clone().into_tensor_arg(),
                a.clone().into_tensor_arg(),
                b.clone().into_tensor_arg(),
                bias.clone().into_tensor_arg(),
                h0.clone().into_tensor_arg(),
                ckpt.clone().into_tensor_arg(),
                t_start,
                t_end,
                n,
                tchunk,
                has_bias,
                p.delta_softplus,
                has_h0,
                minus_one_one,
                dtype.into(),
            );
        }
        // Step 2: the reverse pass over blocks of chunks, last block first.
        let (count, cube_dim) = elemwise(&client, units);
        let chunks_per_launch = (BACKWARD_TIME_BLOCK / tchunk).max(1);
        let blocks = time_blocks(n_tchunks, chunks_per_launch);
        for (i, &(c_lo, c_hi)) in blocks.iter().rev().enumerate() {
            kernels::selective_scan_bwd_kernel::launch::<R>(
                &client,
                count.clone(),
                cube_dim,
                u.clone().into_tensor_arg(),
                delta.clone().into_tensor_arg(),
                a.clone().into_tensor_arg(),
                b.clone().into_tensor_arg(),
                cc.clone().into_tensor_arg(),
                skip.clone().into_tensor_arg(),
                z.clone().into_tensor_arg(),
                bias.clone().into_tensor_arg(),
                grad.clone().into_tensor_arg(),
                du.clone().into_tensor_arg(),
                ddelta.clone().into_tensor_arg(),
                dz.clone().into_tensor_arg(),
                dh0.clone().into_tensor_arg(),
                da_part.clone().into_tensor_arg(),
                dskip_part.clone().into_tensor_arg(),
                dbias_part.clone().into_tensor_arg(),
                db_part.clone().into_tensor_arg(),
                dc_part.clone().into_tensor_arg(),
                ckpt.clone().into_tensor_arg(),
                hbuf.clone().into_tensor_arg(),
                c_lo,
                c_hi,
                u32::from(i == 0),
                n,
                tchunk,
                dchunk,
                has_skip,
                has_z,
                has_bias,
                p.delta_softplus,
                minus_one_one,
                dtype.into(),
            );
        }
        let sum = |t, dim, shape| sum_out::<R, F, I, BT>(t, dim, shape);
        SelectiveScanGrads {
            u: du,
            delta: ddelta,
            a: sum(da_part, 0, vec![d, n]),
            b: sum(db_part, 2, vec![batch, groups, n, len]),
            c: sum(dc_part, 2, vec![batch, groups, n, len]),
            d_skip: has_skip.then(|| sum(dskip_part, 0, vec![d])),
            z: has_z.then_some(dz),
            delta_bias: has_bias.then(|| sum(dbias_part, 0, vec![d])),
            initial_state: has_h0.then_some(dh0),
        }
    }

    fn diagonal_recurrence_forward(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        h0: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        let dtype = a.dtype;
        let c = |t: CubeTensor<R>| prep::<R, F, I, BT>(t, dtype);
        let a = c(a);
        let [batch, len, dim] = a.meta.shape().dims::<3>();
        let has_h0 = h0.is_some();
        let h0 = h0.map(c).unwrap_or_else(|| a.clone());
        let out = empty(&a, vec![batch, len, dim]);
        let client = a.client.clone();
        let (count, cube_dim) = elemwise(&client, batch * dim);
        let b = c(b);
        for (t_start, t_end) in time_blocks(len, TIME_BLOCK) {
            kernels::diag_fwd_kernel::launch::<R>(
                &client,
                count.clone(),
                cube_dim,
                a.clone().into_tensor_arg(),
                b.clone().into_tensor_arg(),
                h0.clone().into_tensor_arg(),
                out.clone().into_tensor_arg(),
                t_start,
                t_end,
                has_h0,
                dtype.into(),
            );
        }
        out
    }

    fn diagonal_recurrence_backward(
        a: FloatTensor<Self>,
        h: FloatTensor<Self>,
        h0: Option<FloatTensor<Self>>,
        grad: FloatTensor<Self>,
    ) -> DiagonalGrads<Self> {
        let dtype = a.dtype;
        let c = |t: CubeTensor<R>| prep::<R, F, I, BT>(t, dtype);
        let a = c(a);
        let [batch, len, dim] = a.meta.shape().dims::<3>();
        let has_h0 = h0.is_some();
        let h0 = h0.map(c).unwrap_or_else(|| a.clone());
        let da = empty(&a, vec![batch, len, dim]);
        let db = empty(&a, vec![batch, len, dim]);
        let dh0 = empty(&a, vec![batch, dim]);
        let client = a.client.clone();
        let (count, cube_dim) = elemwise(&client, batch * dim);
        let (h, grad) = (c(h), c(grad));
        for &(t_start, t_end) in time_blocks(len, TIME_BLOCK).iter().rev() {
            kernels::diag_bwd_kernel::launch::<R>(
                &client,
                count.clone(),
                cube_dim,
                a.clone().into_tensor_arg(),
                h.clone().into_tensor_arg(),
                h0.clone().into_tensor_arg(),
                grad.clone().into_tensor_arg(),
                da.clone().into_tensor_arg(),
                db.clone().into_tensor_arg(),
                dh0.clone().into_tensor_arg(),
                t_start,
                t_end,
                has_h0,
                dtype.into(),
            );
        }
        DiagonalGrads {
            a: da,
            b: db,
            h0: has_h0.then_some(dh0),
        }
    }

    fn complex_diagonal_recurrence_forward(
        a_re: FloatTensor<Self>,
        a_im: FloatTensor<Self>,
        b_re: FloatTensor<Self>,
        b_im: FloatTensor<Self>,
        h0: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
    ) -> FloatTensor<Self> {
        let dtype = a_re.dtype;
        let c = |t: CubeTensor<R>| prep::<R, F, I, BT>(t, dtype);
        let ar = c(a_re);
        let [batch, len, dim] = ar.meta.shape().dims::<3>();
        let has_h0 = h0.is_some();
        let (h0r, h0i) = h0
            .map(|(r, i)| (c(r), c(i)))
            .unwrap_or_else(|| (ar.clone(), ar.clone()));
        let out = empty(&ar, vec![2, batch, len, dim]);
        let client = ar.client.clone();
        let (count, cube_dim) = elemwise(&client, batch * dim);
        let (ai, br, bi) = (c(a_im), c(b_re), c(b_im));
        for (t_start, t_end) in time_blocks(len, TIME_BLOCK) {
            kernels::cdiag_fwd_kernel::launch::<R>(
                &client,
                count.clone(),
                cube_dim,
                ar.clone().into_tensor_arg(),
                ai.clone().into_tensor_arg(),
                br.clone().into_tensor_arg(),
                bi.clone().into_tensor_arg(),
                h0r.clone().into_tensor_arg(),
                h0i.clone().into_tensor_arg(),
                out.clone().into_tensor_arg(),
                t_start,
                t_end,
                has_h0,
                dtype.into(),
            );
        }
        out
    }

    fn complex_diagonal_recurrence_backward(
        a_re: FloatTensor<Self>,
        a_im: FloatTensor<Self>,
        h: FloatTensor<Self>,
        h0: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
        grad: FloatTensor<Self>,
    ) -> ComplexDiagonalGrads<Self> {
        let dtype = a_re.dtype;
        let c = |t: CubeTensor<R>| prep::<R, F, I, BT>(t, dtype);
        let ar = c(a_re);
        let [batch, len, dim] = ar.meta.shape().dims::<3>();
        let has_h0 = h0.is_some();
        let (h0r, h0i) = h0
            .map(|(r, i)| (c(r), c(i)))
            .unwrap_or_else(|| (ar.clone(), ar.clone()));
        let s = vec![batch, len, dim];
        let (dar, dai, dbr, dbi) = (
            empty(&ar, s.clone()),
            empty(&ar, s.clone()),
            empty(&ar, s.clone()),
            empty(&ar, s),
        );
        let dh0 = empty(&ar, vec![2, batch, dim]);
        let client = ar.client.clone();
        let (count, cube_dim) = elemwise(&client, batch * dim);
        let (ai, h, grad) = (c(a_im), c(h), c(grad));
        for &(t_start, t_end) in time_blocks(len, TIME_BLOCK).iter().rev() {
            kernels::cdiag_bwd_kernel::launch::<R>(
                &client,
                count.clone(),
                cube_dim,
                ar.clone().into_tensor_arg(),
                ai.clone().into_tensor_arg(),
                h.clone().into_tensor_arg(),
                h0r.clone().into_tensor_arg(),
                h0i.clone().into_tensor_arg(),
                grad.clone().into_tensor_arg(),
                dar.clone().into_tensor_arg(),
                dai.clone().into_tensor_arg(),
                dbr.clone().into_tensor_arg(),
                dbi.clone().into_tensor_arg(),
                dh0.clone().into_tensor_arg(),
                t_start,
                t_end,
                has_h0,
                dtype.into(),
            );
        }
        let h0 = has_h0.then(|| {
            let take = |k: usize| {
                let s = Self::float_slice(
                    dh0.clone(),
                    &[burn::tensor::Slice::new(
                        k as isize,
                        Some(k as isize + 1),
                        1,
                    )],
                );
                into_contiguous(Self::float_reshape(s, Shape::from(vec![batch, dim])))
            };
            (take(0), take(1))
        });
        ComplexDiagonalGrads {
            a: (dar, dai),
            b: (dbr, dbi),
            h0,
        }
    }

    fn dense_recurrence_forward(
        m: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        tokens: IntTensor<Self>,
        h0: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        let dtype = m.dtype;
        let c = |t: CubeTensor<R>| prep::<R, F, I, BT>(t, dtype);
        let m = c(m);
        let n = m.meta.shape()[1];
        let [batch, len] = tokens.meta.shape().dims::<2>();
        let toks = c(Self::int_into_float(tokens, FloatDType::from(dtype)));
        let has_h0 = h0.is_some();
        let h0 = h0.map(c).unwrap_or_else(|| m.clone());
        let out = empty(&m, vec![batch, len, n]);
        let client = m.client.clone();
        let bias = c(bias);
        for (t_start, t_end) in time_blocks(len, dense_block(n)) {
            kernels::dense_fwd_kernel::launch::<R>(
                &client,
                CubeCount::Static(batch as u32, 1, 1),
                CubeDim::new_1d(n as u32),
                m.clone().into_tensor_arg(),
                bias.clone().into_tensor_arg(),
                toks.clone().into_tensor_arg(),
                h0.clone().into_tensor_arg(),
                out.clone().into_tensor_arg(),
                t_start,
                t_end,
                n,
                has_h0,
                dtype.into(),
            );
        }
        out
    }

    fn dense_recurrence_backward(
        m: FloatTensor<Self>,
        tokens: IntTensor<Self>,
        h: FloatTensor<Self>,
        h0: Option<FloatTensor<Self>>,
        grad: FloatTensor<Self>,
    ) -> DenseGrads<Self> {
        let dtype = m.dtype;
        let c = |t: CubeTensor<R>| prep::<R, F, I, BT>(t, dtype);
        let m = c(m);
        let [vocab, n, _] = m.meta.shape().dims::<3>();
        let [batch, len] = tokens.meta.shape().dims::<2>();
        let toks = c(Self::int_into_float(tokens, FloatDType::from(dtype)));
        let has_h0 = h0.is_some();
        let h0 = h0.map(c).unwrap_or_else(|| m.clone());
        let dm_part = zeros::<R, F, I, BT>(&m, vec![batch, vocab, n, n]);
        let dbias_part = zeros::<R, F, I, BT>(&m, vec![batch, vocab, n]);
        let dh0 = empty(&m, vec![batch, n]);
        let client = m.client.clone();
        let (h, grad) = (c(h), c(grad));
        for &(t_start, t_end) in time_blocks(len, dense_block(n)).iter().rev() {
            kernels::dense_bwd_kernel::launch::<R>(
                &client,
                CubeCount::Static(batch as u32, 1, 1),
                CubeDim::new_1d(n as u32),
                m.clone().into_tensor_arg(),
                toks.clone().into_tensor_arg(),
                h.clone().into_tensor_arg(),
                h0.clone().into_tensor_arg(),
                grad.clone().into_tensor_arg(),
                dm_part.clone().into_tensor_arg(),
                dbias_part.clone().into_tensor_arg(),
                dh0.clone().into_tensor_arg(),
                t_start,
                t_end,
                n,
                has_h0,
                dtype.into(),
            );
        }
        let sum = |t, dim, shape| sum_out::<R, F, I, BT>(t, dim, shape);
        DenseGrads {
            m: sum(dm_part, 0, vec![vocab, n, n]),
            bias: sum(dbias_part, 0, vec![vocab, n]),
            h0: has_h0.then_some(dh0),
        }
    }
}
