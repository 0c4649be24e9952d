//! CPU delta rule on `f32` slices: multi-threaded over `batch × heads` (the sequences are
//! independent, so the result does not depend on the thread count), the state of one sequence
//! (`dk × dv`, row-major) stays in cache; the inner loops run over the contiguous `dv` axis.
//!
//! The backward walks the sequence in reverse, chunk by chunk: a forward pass stores the state at
//! every chunk start (chunk length ~√L), then each chunk's states are recomputed from its
//! checkpoint just before they are needed. Per step (P = S_{t-1}, u = aᵀP, dS = dL/dS_t):
//! ```text
//! dS += q doᵀ;   dq = S_t do;   dk = dS v;   dv = dSᵀ k
//! dw_i = Σ_j dS_ij P_ij;   db = dS u;   g = dSᵀ b;   da = P g
//! dS ← diag(w) dS + a gᵀ          (= dL/dS_{t-1})
//! ```

use std::borrow::Cow;

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::TensorMetadata;
use rayon::prelude::*;

use super::{DeltaDims, DeltaRuleGrads, DeltaRulePrimitives};
use crate::host::math::FlushDenormals;
use crate::host::{view, write};

/// Inputs as flat slices `(sequences, len, ·)`: of all sequences, or of one (`Inputs::seq`).
/// The state is read out after every `readout`-th step only (`q`, the output and its gradient
/// have `len / readout` rows): 1 for the delta rule, `n_h` for the micro-sequence of a
/// DeltaProduct, whose first `n_h − 1` sub-steps of a token are not read.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub readout: usize,
    pub q: &'a [f32],
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub a: &'a [f32],
    pub b: &'a [f32],
    pub w: Option<&'a [f32]>,
}

impl<'a> Inputs<'a> {
    /// Sequence `s` alone.
    fn seq(&self, d: &DeltaDims, s: usize) -> Inputs<'a> {
        let kr = s * d.len * d.dk..(s + 1) * d.len * d.dk;
        let vr = s * d.len * d.dv..(s + 1) * d.len * d.dv;
        let reads = d.len / self.readout;
        Inputs {
            readout: self.readout,
            q: &self.q[s * reads * d.dk..(s + 1) * reads * d.dk],
            k: &self.k[kr.clone()],
            v: &self.v[vr],
            a: &self.a[kr.clone()],
            b: &self.b[kr.clone()],
            w: self.w.map(|w| &w[kr]),
        }
    }
}

/// `Σ_j x_j y_j` with eight independent partial sums (vectorisable, fixed order).
#[inline(always)]
fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] += xs[l] * ys[l];
        }
    }
    let mut tail = 0.0f32;
    for (&xv, &yv) in xr.iter().zip(yr) {
        tail += xv * yv;
    }
    let s4 = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (s4[0] + s4[2]) + (s4[1] + s4[3]) + tail
}

/// `y += alpha * x`.
#[inline(always)]
fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv += alpha * xv;
    }
}

/// One step in place: `u = aᵀS`, `S = diag(w)S + b uᵀ + k vᵀ`, and `o = Sᵀq` when `o` is given
/// (the backward's recomputation needs the states only). `u` receives `aᵀS_{t-1}` (dv).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn step(
    s: &mut [f32],
    dv: usize,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    a: &[f32],
    b: &[f32],
    w: Option<&[f32]>,
    u: &mut [f32],
    mut o: Option<&mut [f32]>,
) {
    u.fill(0.0);
    for (row, &ai) in s.chunks_exact(dv).zip(a) {
        axpy(u, ai, row);
    }
    if let Some(o) = o.as_deref_mut() {
        o.fill(0.0);
    }
    for (i, row) in s.chunks_exact_mut(dv).enumerate() {
        let (wi, bi, ki) = (w.map_or(1.0, |w| w[i]), b[i], k[i]);
        for ((sv, &uv), &vv) in row.iter_mut().zip(u.iter()).zip(v) {
            *sv = wi * *sv + bi * uv + ki * vv;
        }
        if let Some(o) = o.as_deref_mut() {
            axpy(o, q[i], row);
        }
    }
}

/// One step out of place: `u = aᵀP`, `S = diag(w)P + b uᵀ + k vᵀ` (no readout).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn step_into(
    prev: &[f32],
    s: &mut [f32],
    dv: usize,
    k: &[f32],
    v: &[f32],
    a: &[f32],
    b: &[f32],
    w: Option<&[f32]>,
    u: &mut [f32],
) {
    u.fill(0.0);
    for (row, &ai) in prev.chunks_exact(dv).zip(a) {
        axpy(u, ai, row);
    }
    for (i, (row, p_row)) in s
        .chunks_exact_mut(dv)
        .zip(prev.chunks_exact(dv))
        .enumerate()
    {
        let (wi, bi, ki) = (w.map_or(1.0, |w| w[i]), b[i], k[i]);
        for (((sv, &pv), &uv), &vv) in row.iter_mut().zip(p_row).zip(u.iter()).zip(v) {
            *sv = wi * pv + bi * uv + ki * vv;
        }
    }
}

/// Step `t` of one sequence from state `s` (in place), output into `o` when given (only at
/// read-out steps; the query is that of read-out `t / readout`).
#[inline(always)]
fn step_at(
    d: &DeltaDims,
    x: &Inputs<'_>,
    t: usize,
    s: &mut [f32],
    u: &mut [f32],
    o: Option<&mut [f32]>,
) {
    let (dk, dv) = (d.dk, d.dv);
    let kr = t * dk..(t + 1) * dk;
    let r = t / x.readout;
    step(
        s,
        dv,
        &x.q[r * dk..(r + 1) * dk],
        &x.k[kr.clone()],
        &x.v[t * dv..(t + 1) * dv],
        &x.a[kr.clone()],
        &x.b[kr.clone()],
        x.w.map(|w| &w[kr]),
        u,
        o,
    );
}

/// Forward over every sequence; returns `(o (seqs·reads·dv), S_final (seqs·dk·dv))` with
/// `reads = len / x.readout`.
pub fn forward(d: &DeltaDims, x: Inputs<'_>, s0: Option<&[f32]>) -> (Vec<f32>, Vec<f32>) {
    let (dk, dv) = (d.dk, d.dv);
    let reads = d.len / x.readout;
    let mut o = vec![0.0f32; d.sequences() * reads * dv];
    let mut last = vec![0.0f32; d.sequences() * dk * dv];
    o.par_chunks_mut(reads * dv)
        .zip(last.par_chunks_mut(dk * dv))
        .enumerate()
        .for_each(|(sq, (o, s))| {
            let _ftz = FlushDenormals::new();
            if let Some(s0) = s0 {
                s.copy_from_slice(&s0[sq * dk * dv..(sq + 1) * dk * dv]);
            }
            let xs = x.seq(d, sq);
            forward_seq(d, &xs, s, o);
        });
    (o, last)
}

/// Whether the AVX2 builds of the per-sequence loops can run. Only `avx2` is enabled for them,
/// not `fma`: Rust never contracts `a * b + c` on its own, so both builds perform the same IEEE
/// operations in the same order and give bit-identical results (CPU runs stay reproducible
/// across machines); AVX2 only doubles the vector width of the row loops.
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The forward of one sequence from the state in `s` (left holding the final state).
#[inline(always)]
pub(super) fn forward_seq_body(d: &DeltaDims, xs: &Inputs<'_>, s: &mut [f32], o: &mut [f32]) {
    let mut u = vec![0.0f32; d.dv];
    let r = xs.readout;
    for (read, ot) in o.chunks_exact_mut(d.dv).enumerate() {
        for t in read * r..(read + 1) * r - 1 {
            step_at(d, xs, t, s, &mut u, None);
        }
        step_at(d, xs, (read + 1) * r - 1, s, &mut u, Some(ot));
    }
}

/// `d` with `dv` replaced by the compile-time `DV` (0: keep): the forward's per-sequence loops
/// are built for the common value widths, where the row loops unroll into registers. Same
/// operations in the same order as the generic build, so the same bits.
#[inline(always)]
fn with_const_dv<const DV: usize>(d: &DeltaDims) -> DeltaDims {
    DeltaDims {
        dv: if DV > 0 { DV } else { d.dv },
        ..*d
    }
}

/// Calls `$f::<DV>($args)` with `DV` the value width when it is one of the specialised ones.
macro_rules! dispatch_dv {
    ($dv:expr, $f:ident($($arg:expr),*)) => {
        match $dv {
            16 => $f::<16>($($arg),*),
            32 => $f::<32>($($arg),*),
            64 => $f::<64>($($arg),*),
            _ => $f::<0>($($arg),*),
        }
    };
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn forward_seq_avx2<const DV: usize>(
    d: &DeltaDims,
    xs: &Inputs<'_>,
    s: &mut [f32],
    o: &mut [f32],
) {
    forward_seq_body(&with_const_dv::<DV>(d), xs, s, o)
}

pub(super) fn forward_seq(d: &DeltaDims, xs: &Inputs<'_>, s: &mut [f32], o: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { dispatch_dv!(d.dv, forward_seq_avx2(d, xs, s, o)) };
    }
    forward_seq_body(d, xs, s, o)
}

/// One sequence's gradient buffers (same layouts as its inputs; `w` empty without decay).
pub(super) struct SeqGradsMut<'a> {
    pub q: &'a mut [f32],
    pub k: &'a mut [f32],
    pub v: &'a mut [f32],
    pub a: &'a mut [f32],
    pub b: &'a mut [f32],
    pub w: &'a mut [f32],
    pub s0: &'a mut [f32],
}

/// Chunk length of the backward's recomputation: ~√L balances the checkpoints (L/C states) and
/// the recomputed chunk (C states).
pub fn recompute_chunk(len: usize) -> usize {
    ((len as f64).sqrt().ceil() as usize).max(1)
}

/// Backward of one sequence; `d_o` (reads·dv), `d_last` (dk·dv) are the output gradients.
#[inline(always)]
pub(super) fn backward_seq_body(
    d: &DeltaDims,
    x: &Inputs<'_>,
    s0: Option<&[f32]>,
    d_o: &[f32],
    d_last: &[f32],
    g: SeqGradsMut<'_>,
) {
    let (len, dk, dv) = (d.len, d.dk, d.dv);
    let sz = dk * dv;
    let chunk = recompute_chunk(len);
    let n_chunks = len.div_ceil(chunk);
    // Checkpoints: the state before the first step of every chunk.
    let mut checkpoints = vec![0.0f32; n_chunks * sz];
    let mut s = s0.map_or_else(|| vec![0.0f32; sz], <[f32]>::to_vec);
    let mut u = vec![0.0f32; dv];
    for c in 0..n_chunks {
        checkpoints[c * sz..(c + 1) * sz].copy_from_slice(&s);
        if c + 1 < n_chunks {
            for t in c * chunk..(c + 1) * chunk {
                step_at(d, x, t, &mut s, &mut u, None);
            }
        }
    }

    let ds = g.s0;
    ds.copy_from_slice(d_last);
    // states[m] = state before step t0 + m; us[m] = aᵀ states[m] of that step.
    let mut states = vec![0.0f32; (chunk + 1) * sz];
    let mut us = vec![0.0f32; chunk * dv];
    let mut gvec = vec![0.0f32; dv];
    let has_w = x.w.is_some();
    for c in (0..n_chunks).rev() {
        let t0 = c * chunk;
        let t1 = ((c + 1) * chunk).min(len);
        states[..sz].copy_from_slice(&checkpoints[c * sz..(c + 1) * sz]);
        for t in t0..t1 {
            let m = t - t0;
            let (before, after) = states.split_at_mut((m + 1) * sz);
            let kr = t * dk..(t + 1) * dk;
            // out of place: S_t written straight from S_{t-1}, no copy of the state per step
            step_into(
                &before[m * sz..],
                &mut after[..sz],
                dv,
                &x.k[kr.clone()],
                &x.v[t * dv..(t + 1) * dv],
                &x.a[kr.clone()],
                &x.b[kr.clone()],
                x.w.map(|w| &w[kr]),
                &mut us[m * dv..(m + 1) * dv],
            );
        }
        for t in (t0..t1).rev() {
            let m = t - t0;
            let prev = &states[m * sz..(m + 1) * sz];
            let cur = &states[(m + 1) * sz..(m + 2) * sz];
            let u = &us[m * dv..(m + 1) * dv];
            let kr = t * dk..(t + 1) * dk;
            let vr = t * dv..(t + 1) * dv;
            let (k, v) = (&x.k[kr.clone()], &x.v[vr.clone()]);
            let (a, b) = (&x.a[kr.clone()], &x.b[kr.clone()]);
            // the read-out of this step, if it is one: (its index, query, output gradient)
            let read = ((t + 1) % x.readout == 0).then(|| {
                let r = t / x.readout;
                (r, &x.q[r * dk..(r + 1) * dk], &d_o[r * dv..(r + 1) * dv])
            });
            gvec.fill(0.0);
            let dv_t = &mut g.v[vr];
            for i in 0..dk {
                let row = &mut ds[i * dv..(i + 1) * dv];
                if let Some((r, q, do_t)) = read {
                    axpy(row, q[i], do_t);
                    g.q[r * dk + i] = dot(&cur[i * dv..(i + 1) * dv], do_t);
                }
                g.k[t * dk + i] = dot(row, v);
                axpy(dv_t, k[i], row);
                if has_w {
                    g.w[t * dk + i] = dot(row, &prev[i * dv..(i + 1) * dv]);
                }
                g.b[t * dk + i] = dot(row, u);
                axpy(&mut gvec, b[i], row);
            }
            for i in 0..dk {
                let p_row = &prev[i * dv..(i + 1) * dv];
                g.a[t * dk + i] = dot(p_row, &gvec);
                let wi = x.w.map_or(1.0, |w| w[t * dk + i]);
                let row = &mut ds[i * dv..(i + 1) * dv];
                for (dsv, &gv) in row.iter_mut().zip(&gvec) {
                    *dsv = wi * *dsv + a[i] * gv;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
/// Not specialised per value width as the forward is: that build measured slower (docs/benchmarks.md).
unsafe fn backward_seq_avx2(
    d: &DeltaDims,
    x: &Inputs<'_>,
    s0: Option<&[f32]>,
    d_o: &[f32],
    d_last: &[f32],
    g: SeqGradsMut<'_>,
) {
    backward_seq_body(d, x, s0, d_o, d_last, g)
}

pub(super) fn backward_seq(
    d: &DeltaDims,
    x: &Inputs<'_>,
    s0: Option<&[f32]>,
    d_o: &[f32],
    d_last: &[f32],
    g: SeqGradsMut<'_>,
) {
    let _ftz = FlushDenormals::new();
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { backward_seq_avx2(d, x, s0, d_o, d_last, g) };
    }
    backward_seq_body(d, x, s0, d_o, d_last, g)
}

/// All gradients, flat: `(dq, dk, dv, da, db, dw (empty without w), dS0)`.
pub struct Grads {
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    pub w: Vec<f32>,
    pub s0: Vec<f32>,
}

/// Backward over every sequence; `grad` is the gradient of the packed `[o | S_final]`. The
/// sequences write their gradients in place, in parallel.
pub fn backward(d: &DeltaDims, x: Inputs<'_>, s0: Option<&[f32]>, grad: &[f32]) -> Grads {
    let (len, dk, dv) = (d.len, d.dk, d.dv);
    let n = d.sequences();
    let reads = len / x.readout;
    let (d_o, d_last) = grad.split_at(n * reads * dv);
    let (lk, lv, sz) = (len * dk, len * dv, dk * dv);
    let (rk, rv) = (reads * dk, reads * dv);
    let mut g = Grads {
        q: vec![0.0; n * rk],
        k: vec![0.0; n * lk],
        v: vec![0.0; n * lv],
        a: vec![0.0; n * lk],
        b: vec![0.0; n * lk],
        w: vec![0.0; if x.w.is_some() { n * lk } else { 0 }],
        s0: vec![0.0; n * sz],
    };
    // Without decay there is no dw: one empty chunk per sequence.
    let w_chunk = if x.w.is_some() { lk } else { 1 };
    let mut no_w = vec![0.0f32; n];
    let w_buf: &mut [f32] = if x.w.is_some() { &mut g.w } else { &mut no_w };
    (
        g.q.par_chunks_mut(rk),
        g.k.par_chunks_mut(lk),
        g.v.par_chunks_mut(lv),
        g.a.par_chunks_mut(lk),
        g.b.par_chunks_mut(lk),
        w_buf.par_chunks_mut(w_chunk),
        g.s0.par_chunks_mut(sz),
    )
        .into_par_iter()
        .enumerate()
        .for_each(|(sq, (q, k, v, a, b, w, s0_grad))| {
            let w: &mut [f32] = if x.w.is_some() { w } else { &mut [] };
            backward_seq(
                d,
                &x.seq(d, sq),
                s0.map(|s| &s[sq * sz..(sq + 1) * sz]),
                &d_o[sq * rv..(sq + 1) * rv],
                &d_last[sq * sz..(sq + 1) * sz],
                SeqGradsMut {
                    q,
                    k,
                    v,
                    a,
                    b,
                    w,
                    s0: s0_grad,
                },
            )
        });
    g
}

/// Host views of the primitives (borrowed in place on the CPU backends).
struct HostInputs<'a> {
    q: Cow<'a, [f32]>,
    k: Cow<'a, [f32]>,
    v: Cow<'a, [f32]>,
    a: Cow<'a, [f32]>,
    b: Cow<'a, [f32]>,
    w: Option<Cow<'a, [f32]>>,
    s0: Option<Cow<'a, [f32]>>,
}

impl<'a> HostInputs<'a> {
    fn read<B: Backend>(p: &'a DeltaRulePrimitives<B>) -> Self {
        Self {
            q: view::<B>(&p.q),
            k: view::<B>(&p.k),
            v: view::<B>(&p.v),
            a: view::<B>(&p.a),
            b: view::<B>(&p.b),
            w: p.w.as_ref().map(view::<B>),
            s0: p.initial_state.as_ref().map(view::<B>),
        }
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            readout: 1,
            q: &self.q,
            k: &self.k,
            v: &self.v,
            a: &self.a,
            b: &self.b,
            w: self.w.as_deref(),
        }
    }
}

/// [`forward`] on backend primitives: the packed `[o | S_final]`.
pub fn forward_primitives<B: Backend>(p: DeltaRulePrimitives<B>) -> FloatTensor<B> {
    let d = p.dims();
    let (device, dtype) = (B::float_device(&p.q), p.q.dtype());
    let (mut o, last) = {
        let h = HostInputs::read::<B>(&p);
        forward(&d, h.inputs(), h.s0.as_deref())
    };
    o.extend_from_slice(&last);
    let n = o.len();
    write::<B>(o, &[n], &device, dtype)
}

/// [`backward`] on backend primitives.
pub fn backward_primitives<B: Backend>(
    p: DeltaRulePrimitives<B>,
    grad: FloatTensor<B>,
) -> DeltaRuleGrads<B> {
    let d = p.dims();
    let (device, dtype) = (B::float_device(&p.q), p.q.dtype());
    let g = {
        let h = HostInputs::read::<B>(&p);
        let grad = view::<B>(&grad);
        backward(&d, h.inputs(), h.s0.as_deref(), &grad)
    };
    let key = [d.batch, d.heads, d.len, d.dk];
    let put = |v: Vec<f32>, shape: &[usize]| write::<B>(v, shape, &device, dtype);
    DeltaRuleGrads {
        q: put(g.q, &key),
        k: put(g.k, &key),
        v: put(g.v, &[d.batch, d.heads, d.len, d.dv]),
        a: put(g.a, &key),
        b: put(g.b, &key),
        w: p.w.as_ref().map(|_| put(g.w, &key)),
        initial_state: p
            .initial_state
            .as_ref()
            .map(|_| put(g.s0, &[d.batch, d.heads, d.dk, d.dv])),
    }
}

#[cfg(test)]
#[path = "host_bits_test.rs"]
mod bits_test;
