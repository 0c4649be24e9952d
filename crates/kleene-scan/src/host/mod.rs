//! Plain-Rust (CPU) implementation of every op, forward and backward.
//!
//! The `*_forward`/`*_backward` functions here work for any [`Backend`]: they read the
//! primitives back to the host as `f32`, run the multi-threaded slice kernels of the submodules,
//! and upload the results with the input's dtype. On burn-ndarray that round trip is a cheap copy;
//! on GPU backends it is a device sync (those backends override the trait methods with kernels).
//!
//! Numerics: f32 everywhere, like the GPU kernels; the state stays in registers/L1 per channel.
//! Denormals are kept out of the hot loops by [`math::FlushDenormals`] (FTZ/DAZ for the duration
//! of each task), see `docs/scan.md`.

#[cfg(target_arch = "x86_64")]
mod avx;
pub mod dense;
pub mod diag;
pub mod math;
pub mod selective;
#[cfg(target_arch = "x86_64")]
pub mod selective_cl;

use std::any::Any;
use std::borrow::Cow;

use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{read_sync, DType, TensorData, TensorMetadata};

use crate::backend::{
    ComplexDiagonalGrads, DenseGrads, DiagonalGrads, SelectiveScanGrads, SelectiveScanPrimitives,
};
use crate::layout::{backward_via_channels_first, forward_via_channels_first};
use crate::ScanLayout;

fn read<B: Backend>(t: FloatTensor<B>) -> (Vec<f32>, Vec<usize>) {
    // A reshape to its own shape makes a strided view (e.g. a model's `swap_dims` of
    // channels-last activations) contiguous with the backend's typed-rank copy; NdArray's
    // `into_data` would walk the strides through a dynamic-rank iterator instead (slow).
    let shape = t.shape();
    let t = B::float_reshape(t, shape);
    let data = read_sync(B::float_into_data(t))
        .expect("kleene-scan: reading a float tensor back to the host failed");
    let shape = data.shape.to_vec();
    (
        data.convert::<f32>()
            .into_vec::<f32>()
            .expect("converted to f32"),
        shape,
    )
}

/// The `f32` values of a float primitive, borrowed without a copy when it is a contiguous
/// row-major `f32` burn-ndarray (or burn-flex) tensor (the common case on the CPU backends),
/// else read back.
///
/// Why: burn-ndarray's `into_data` on a tensor that is still shared (autodiff keeps its inputs,
/// callers clone) copies element by element through a dynamic-rank iterator; for the
/// selective scan at B8 L1024 D256 that took longer than the scan itself.
pub(crate) fn view<B: Backend>(t: &FloatTensor<B>) -> Cow<'_, [f32]> {
    if let Some(burn_ndarray::NdArrayTensor::F32(storage)) =
        (t as &dyn Any).downcast_ref::<burn_ndarray::NdArrayTensor>()
    {
        if let Some(slice) = storage.view().to_slice() {
            return Cow::Borrowed(slice);
        }
    }
    #[cfg(feature = "flex")]
    if let Some(slice) = (t as &dyn Any)
        .downcast_ref::<burn_flex::FlexTensor>()
        .and_then(|t| t.as_slice::<f32>())
    {
        return Cow::Borrowed(slice);
    }
    Cow::Owned(read::<B>(t.clone()).0)
}

pub(crate) fn read_int<B: Backend>(t: IntTensor<B>) -> Vec<i64> {
    let data = read_sync(B::int_into_data(t))
        .expect("kleene-scan: reading an int tensor back to the host failed");
    data.convert::<i64>()
        .into_vec::<i64>()
        .expect("converted to i64")
}

pub(crate) fn write<B: Backend>(
    v: Vec<f32>,
    shape: &[usize],
    device: &B::Device,
    dtype: DType,
) -> FloatTensor<B> {
    B::float_from_data(
        TensorData::new(v, shape.to_vec()).convert_dtype(dtype),
        device,
    )
}

/// `(outer, rows, cols)` -> `(outer, cols, rows)`.
pub fn transpose_last2(src: &[f32], outer: usize, rows: usize, cols: usize) -> Vec<f32> {
    let mut dst = vec![0.0f32; src.len()];
    for o in 0..outer {
        let s = &src[o * rows * cols..(o + 1) * rows * cols];
        let d = &mut dst[o * rows * cols..(o + 1) * rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                d[c * rows + r] = s[r * cols + c];
            }
        }
    }
    dst
}

/// Host data of a selective-scan input (B and C transposed to (batch, groups, len, n)); the
/// large (batch, d, len) inputs are borrowed from the primitives when possible.
struct SsHost<'a> {
    dims: selective::Dims,
    u: Cow<'a, [f32]>,
    delta: Cow<'a, [f32]>,
    a: Cow<'a, [f32]>,
    b_t: Vec<f32>,
    c_t: Vec<f32>,
    d_skip: Option<Cow<'a, [f32]>>,
    z: Option<Cow<'a, [f32]>>,
    delta_bias: Option<Cow<'a, [f32]>>,
    softplus: bool,
    h0: Option<Cow<'a, [f32]>>,
    transition: selective::Transition,
}

impl<'a> SsHost<'a> {
    fn read<B: Backend>(p: &'a SelectiveScanPrimitives<B>) -> Self {
        let (us, as_, bs) = (p.u.shape(), p.a.shape(), p.b.shape());
        let dims = selective::Dims {
            batch: us[0],
            d: us[1],
            len: us[2],
            n: as_[1],
            groups: bs[1],
        };
        let outer = dims.batch * dims.groups;
        Self {
            dims,
            u: view::<B>(&p.u),
            delta: view::<B>(&p.delta),
            a: view::<B>(&p.a),
            b_t: transpose_last2(&view::<B>(&p.b), outer, dims.n, dims.len),
            c_t: transpose_last2(&view::<B>(&p.c), outer, dims.n, dims.len),
            d_skip: p.d_skip.as_ref().map(view::<B>),
            z: p.z.as_ref().map(view::<B>),
            delta_bias: p.delta_bias.as_ref().map(view::<B>),
            softplus: p.delta_softplus,
            h0: p.initial_state.as_ref().map(view::<B>),
            transition: selective::Transition::of(p.transition_range),
        }
    }

    fn input(&self) -> selective::Input<'_> {
        selective::Input {
            dims: self.dims,
            u: &self.u,
            delta: &self.delta,
            a: &self.a,
            b_t: &self.b_t,
            c_t: &self.c_t,
            d_skip: self.d_skip.as_deref(),
            z: self.z.as_deref(),
            delta_bias: self.delta_bias.as_deref(),
            softplus: self.softplus,
            h0: self.h0.as_deref(),
            transition: self.transition,
        }
    }
}

/// Whether the channels-last kernel runs this problem (else it is permuted to channels-first).
fn channels_last_kernel<B: Backend>(p: &SelectiveScanPrimitives<B>) -> bool {
    let d = p.dims();
    #[cfg(target_arch = "x86_64")]
    return selective_cl::supported(selective::Dims {
        batch: d.batch,
        d: d.d,
        len: d.len,
        n: d.n,
        groups: d.groups,
    });
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// Borrowed channels-last inputs for [`selective_cl`].
#[cfg(target_arch = "x86_64")]
struct ClHost<'a> {
    dims: selective::Dims,
    x: [Cow<'a, [f32]>; 5],
    z: Option<Cow<'a, [f32]>>,
    d_skip: Option<Cow<'a, [f32]>>,
    delta_bias: Option<Cow<'a, [f32]>>,
    h0: Option<Cow<'a, [f32]>>,
    softplus: bool,
    transition: selective::Transition,
}

#[cfg(target_arch = "x86_64")]
impl<'a> ClHost<'a> {
    fn read<B: Backend>(p: &'a SelectiveScanPrimitives<B>) -> Self {
        let d = p.dims();
        Self {
            dims: selective::Dims {
                batch: d.batch,
                d: d.d,
                len: d.len,
                n: d.n,
                groups: d.groups,
            },
            x: [&p.u, &p.delta, &p.a, &p.b, &p.c].map(view::<B>),
            z: p.z.as_ref().map(view::<B>),
            d_skip: p.d_skip.as_ref().map(view::<B>),
            delta_bias: p.delta_bias.as_ref().map(view::<B>),
            h0: p.initial_state.as_ref().map(view::<B>),
            softplus: p.delta_softplus,
            transition: selective::Transition::of(p.transition_range),
        }
    }

    fn input(&self) -> selective_cl::Input<'_> {
        let [u, delta, a, b, c] = &self.x;
        selective_cl::Input {
            dims: self.dims,
            u,
            delta,
            a,
            b,
            c,
            d_skip: self.d_skip.as_deref(),
            z: self.z.as_deref(),
            delta_bias: self.delta_bias.as_deref(),
            softplus: self.softplus,
            h0: self.h0.as_deref(),
            transition: self.transition,
        }
    }
}

/// Selective scan forward on the host; returns the packed `[y | final state]`.
pub fn selective_scan_forward<B: Backend>(p: SelectiveScanPrimitives<B>) -> FloatTensor<B> {
    if p.layout == ScanLayout::ChannelsLast {
        #[cfg(target_arch = "x86_64")]
        if channels_last_kernel(&p) {
            let (device, dtype) = (B::float_device(&p.u), p.u.dtype());
            let packed = selective_cl::forward(&ClHost::read(&p).input());
            let len = packed.len();
            return write::<B>(packed, &[len], &device, dtype);
        }
        return forward_via_channels_first(p, selective_scan_forward::<B>);
    }
    let device = B::float_device(&p.u);
    let dtype = p.u.dtype();
    let host = SsHost::read(&p);
    let (mut out, last) = selective::forward(&host.input());
    out.extend_from_slice(&last);
    let len = out.len();
    write::<B>(out, &[len], &device, dtype)
}

/// Selective scan backward on the host, given the gradient of the packed output.
pub fn selective_scan_backward<B: Backend>(
    p: SelectiveScanPrimitives<B>,
    grad_packed: FloatTensor<B>,
) -> SelectiveScanGrads<B> {
    if p.layout == ScanLayout::ChannelsLast {
        #[cfg(target_arch = "x86_64")]
        if channels_last_kernel(&p) {
            return selective_cl_backward(p, grad_packed);
        }
        return backward_via_channels_first(p, grad_packed, selective_scan_backward::<B>);
    }
    let device = B::float_device(&p.u);
    let dtype = p.u.dtype();
    let (has_skip, has_z, has_bias, has_h0) = (
        p.d_skip.is_some(),
        p.z.is_some(),
        p.delta_bias.is_some(),
        p.initial_state.is_some(),
    );
    let host = SsHost::read(&p);
    let selective::Dims {
        batch,
        d,
        len,
        n,
        groups,
    } = host.dims;
    let grad = view::<B>(&grad_packed);
    let (dout, dlast) = grad.split_at(batch * d * len);
    let g = selective::backward(&host.input(), dout, dlast);
    let outer = batch * groups;
    let w = |v: Vec<f32>, s: &[usize]| write::<B>(v, s, &device, dtype);
    SelectiveScanGrads {
        u: w(g.u, &[batch, d, len]),
        delta: w(g.delta, &[batch, d, len]),
        a: w(g.a, &[d, n]),
        b: w(
            transpose_last2(&g.b_t, outer, len, n),
            &[batch, groups, n, len],
        ),
        c: w(
            transpose_last2(&g.c_t, outer, len, n),
            &[batch, groups, n, len],
        ),
        d_skip: has_skip.then(|| w(g.d_skip, &[d])),
        z: has_z.then(|| w(g.z, &[batch, d, len])),
        delta_bias: has_bias.then(|| w(g.delta_bias, &[d])),
        initial_state: has_h0.then(|| w(g.h0, &[batch, d, n])),
    }
}

/// [`selective_scan_backward`] with the channels-last kernel.
#[cfg(target_arch = "x86_64")]
fn selective_cl_backward<B: Backend>(
    p: SelectiveScanPrimitives<B>,
    grad_packed: FloatTensor<B>,
) -> SelectiveScanGrads<B> {
    let (device, dtype) = (B::float_device(&p.u), p.u.dtype());
    let dims = p.dims();
    let host = ClHost::read(&p);
    let grad = view::<B>(&grad_packed);
    let (dout, dlast) = grad.split_at(dims.batch * dims.d * dims.len);
    let g = selective_cl::backward(&host.input(), dout, dlast);
    let (x, bc) = (
        dims.x_shape(ScanLayout::ChannelsLast),
        dims.bc_shape(ScanLayout::ChannelsLast),
    );
    let w = |v: Vec<f32>, s: &[usize]| write::<B>(v, s, &device, dtype);
    SelectiveScanGrads {
        u: w(g.u, &x),
        delta: w(g.delta, &x),
        a: w(g.a, &[dims.d, dims.n]),
        b: w(g.b_t, &bc),
        c: w(g.c_t, &bc),
        d_skip: p.d_skip.is_some().then(|| w(g.d_skip, &[dims.d])),
        z: p.z.is_some().then(|| w(g.z, &x)),
        delta_bias: p.delta_bias.is_some().then(|| w(g.delta_bias, &[dims.d])),
        initial_state: p
            .initial_state
            .is_some()
            .then(|| w(g.h0, &[dims.batch, dims.d, dims.n])),
    }
}

/// Diagonal recurrence forward on the host.
pub fn diagonal_recurrence_forward<B: Backend>(
    a: FloatTensor<B>,
    b: FloatTensor<B>,
    h0: Option<FloatTensor<B>>,
) -> FloatTensor<B> {
    let (device, dtype) = (B::float_device(&a), a.dtype());
    let s = a.shape().to_vec();
    let a = view::<B>(&a);
    let b = view::<B>(&b);
    let h0 = h0.as_ref().map(view::<B>);
    let h = diag::forward(s[0], s[1], s[2], &a, &b, h0.as_deref());
    write::<B>(h, &s, &device, dtype)
}

/// Diagonal recurrence backward on the host (`h` = the forward output).
pub fn diagonal_recurrence_backward<B: Backend>(
    a: FloatTensor<B>,
    h: FloatTensor<B>,
    h0: Option<FloatTensor<B>>,
    grad: FloatTensor<B>,
) -> DiagonalGrads<B> {
    let (device, dtype) = (B::float_device(&a), a.dtype());
    let s = a.shape().to_vec();
    let a = view::<B>(&a);
    let h = view::<B>(&h);
    let has_h0 = h0.is_some();
    let h0 = h0.as_ref().map(view::<B>);
    let dh = view::<B>(&grad);
    let (da, db, dh0) = diag::backward(s[0], s[1], s[2], &a, &h, h0.as_deref(), &dh);
    DiagonalGrads {
        a: write::<B>(da, &s, &device, dtype),
        b: write::<B>(db, &s, &device, dtype),
        h0: has_h0.then(|| write::<B>(dh0, &[s[0], s[2]], &device, dtype)),
    }
}

/// Complex diagonal recurrence forward on the host; returns `(2, batch, len, dim)`.
pub fn complex_diagonal_recurrence_forward<B: Backend>(
    a_re: FloatTensor<B>,
    a_im: FloatTensor<B>,
    b_re: FloatTensor<B>,
    b_im: FloatTensor<B>,
    h0: Option<(FloatTensor<B>, FloatTensor<B>)>,
) -> FloatTensor<B> {
    let (device, dtype) = (B::float_device(&a_re), a_re.dtype());
    let s = a_re.shape().to_vec();
    let ar = view::<B>(&a_re);
    let (ai, br, bi) = (view::<B>(&a_im), view::<B>(&b_re), view::<B>(&b_im));
    let h0 = h0.as_ref().map(|(r, i)| (view::<B>(r), view::<B>(i)));
    let (mut hr, hi) = diag::complex_forward(
        s[0],
        s[1],
        s[2],
        &ar,
        &ai,
        &br,
        &bi,
        h0.as_ref().map(|(r, i)| (&r[..], &i[..])),
    );
    hr.extend_from_slice(&hi);
    write::<B>(hr, &[2, s[0], s[1], s[2]], &device, dtype)
}

/// Complex diagonal recurrence backward on the host (`h_packed` = the forward output).
pub fn complex_diagonal_recurrence_backward<B: Backend>(
    a_re: FloatTensor<B>,
    a_im: FloatTensor<B>,
    h_packed: FloatTensor<B>,
    h0: Option<(FloatTensor<B>, FloatTensor<B>)>,
    grad_packed: FloatTensor<B>,
) -> ComplexDiagonalGrads<B> {
    let (device, dtype) = (B::float_device(&a_re), a_re.dtype());
    let s = a_re.shape().to_vec();
    let ar = view::<B>(&a_re);
    let ai = view::<B>(&a_im);
    let h = view::<B>(&h_packed);
    let g = view::<B>(&grad_packed);
    let x = s[0] * s[1] * s[2];
    let has_h0 = h0.is_some();
    let h0 = h0.as_ref().map(|(r, i)| (view::<B>(r), view::<B>(i)));
    let (dar, dai, dbr, dbi, g0r, g0i) = diag::complex_backward(
        s[0],
        s[1],
        s[2],
        &ar,
        &ai,
        &h[..x],
        &h[x..],
        h0.as_ref().map(|(r, i)| (&r[..], &i[..])),
        &g[..x],
        &g[x..],
    );
    let w = |v: Vec<f32>, sh: &[usize]| write::<B>(v, sh, &device, dtype);
    ComplexDiagonalGrads {
        a: (w(dar, &s), w(dai, &s)),
        b: (w(dbr, &s), w(dbi, &s)),
        h0: has_h0.then(|| (w(g0r, &[s[0], s[2]]), w(g0i, &[s[0], s[2]]))),
    }
}

/// Dense recurrence forward on the host.
pub fn dense_recurrence_forward<B: Backend>(
    m: FloatTensor<B>,
    bias: FloatTensor<B>,
    tokens: IntTensor<B>,
    h0: Option<FloatTensor<B>>,
) -> FloatTensor<B> {
    let (device, dtype) = (B::float_device(&m), m.dtype());
    let ms = m.shape().to_vec();
    let m = view::<B>(&m);
    let bias = view::<B>(&bias);
    let ts = tokens.shape().to_vec();
    let tokens = read_int::<B>(tokens);
    let h0 = h0.as_ref().map(view::<B>);
    let (vocab, n, batch, len) = (ms[0], ms[1], ts[0], ts[1]);
    let h = dense::forward(vocab, n, batch, len, &m, &bias, &tokens, h0.as_deref());
    write::<B>(h, &[batch, len, n], &device, dtype)
}

/// Dense recurrence backward on the host (`h` = the forward output).
pub fn dense_recurrence_backward<B: Backend>(
    m: FloatTensor<B>,
    tokens: IntTensor<B>,
    h: FloatTensor<B>,
    h0: Option<FloatTensor<B>>,
    grad: FloatTensor<B>,
) -> DenseGrads<B> {
    let (device, dtype) = (B::float_device(&m), m.dtype());
    let ms = m.shape().to_vec();
    let m = view::<B>(&m);
    let ts = tokens.shape().to_vec();
    let tokens = read_int::<B>(tokens);
    let h = view::<B>(&h);
    let has_h0 = h0.is_some();
    let h0 = h0.as_ref().map(view::<B>);
    let dh = view::<B>(&grad);
    let (vocab, n, batch, len) = (ms[0], ms[1], ts[0], ts[1]);
    let (dm, db, dh0) = dense::backward(vocab, n, batch, len, &m, &tokens, &h, h0.as_deref(), &dh);
    DenseGrads {
        m: write::<B>(dm, &[vocab, n, n], &device, dtype),
        bias: write::<B>(db, &[vocab, n], &device, dtype),
        h0: has_h0.then(|| write::<B>(dh0, &[batch, n], &device, dtype)),
    }
}
