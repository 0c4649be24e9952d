//! The fused CPU DeltaProduct ([`super::product`]): threads over `batch × heads`; per sequence the
//! normalised keys, gates and values of its micro-sequence are built in a scratch buffer (a few
//! hundred KB at L 512), the delta-rule kernels of [`super::host`] run on it with a read-out every
//! `n` steps, and the backward maps the micro-sequence's gradients back through the gates and
//! the L2 normalisation:
//! ```text
//! k̂ = k / r,  r = sqrt(Σk² + ε):   dk = (dk̂ − k̂ (k̂·dk̂)) / r
//! a = −k̂, b = c β k̂, w = c, write (k̂, β v):
//!     dk̂ = g_k − g_a + c β g_b;  dβ = c (g_b·k̂) + g_v'·v;  dv = β g_v';  dα = Σ g_w + β (g_b·k̂)
//! ```
//! (`c = α` at a token's first sub-step with decay, else 1; `dα` from that sub-step). Sequences
//! are independent, so results do not depend on the thread count.

use std::borrow::Cow;

use rayon::prelude::*;

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::TensorMetadata;

use super::host::{self, Inputs, SeqGradsMut};
use super::product::{DeltaProductGrads, DeltaProductPrimitives, ProductDims, L2_EPS};
use crate::host::math::FlushDenormals;
use crate::host::{view, write};

/// Inputs as flat slices in the op's layouts (module docs of [`super::product`]).
#[derive(Clone, Copy)]
pub struct ProductInputs<'a> {
    pub q: &'a [f32],
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub beta: &'a [f32],
    pub alpha: Option<&'a [f32]>,
    pub scale: f32,
}

/// Offsets of sequence `seq` (= batch · heads + head) in the op's layouts.
#[derive(Clone, Copy)]
struct At {
    d: ProductDims,
    b: usize,
    h: usize,
}

impl At {
    fn new(d: &ProductDims, seq: usize) -> Self {
        Self {
            d: *d,
            b: seq / d.heads,
            h: seq % d.heads,
        }
    }
    /// Index of token `t`, head `h` in a `(B, L, H)` layout.
    fn token(&self, t: usize) -> usize {
        (self.b * self.d.len + t) * self.d.heads + self.h
    }
    /// Index of token `t`, sub-step `j`, head `h` in a `(B, L, n, H)` layout.
    fn sub(&self, t: usize, j: usize) -> usize {
        ((self.b * self.d.len + t) * self.d.householder + j) * self.d.heads + self.h
    }
}

/// `x / sqrt(Σx² + ε)` into `out`; returns the norm.
fn normalise(x: &[f32], out: &mut [f32]) -> f32 {
    let r = (x.iter().map(|v| v * v).sum::<f32>() + L2_EPS).sqrt();
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v / r;
    }
    r
}

/// `dx` of `x̂ = x / r` from `dx̂` (in place) given `x̂` and `r`.
fn normalise_backward(x_hat: &[f32], r: f32, dx: &mut [f32]) {
    let proj: f32 = x_hat.iter().zip(dx.iter()).map(|(a, b)| a * b).sum();
    for (d, &xh) in dx.iter_mut().zip(x_hat) {
        *d = (*d - xh * proj) / r;
    }
}

/// One sequence's micro-sequence in the delta rule's layout, and the norms of its keys/queries.
struct Micro {
    /// `scale · q̂` per token (`L · dk`), and `q̂` alone with its norm.
    q: Vec<f32>,
    q_hat: Vec<f32>,
    q_norm: Vec<f32>,
    /// `k̂` per sub-step (`L·n · dk`) and its norm (`L·n`).
    k: Vec<f32>,
    k_norm: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
    /// Empty without decay.
    w: Vec<f32>,
    /// `β v` (`L·n · dv`).
    v: Vec<f32>,
}

impl Micro {
    fn gather(d: &ProductDims, x: &ProductInputs<'_>, seq: usize) -> Self {
        let (len, n, dk, dv) = (d.len, d.householder, d.dk, d.dv);
        let at = At::new(d, seq);
        let steps = len * n;
        let mut m = Micro {
            q: vec![0.0; len * dk],
            q_hat: vec![0.0; len * dk],
            q_norm: vec![0.0; len],
            k: vec![0.0; steps * dk],
            k_norm: vec![0.0; steps],
            a: vec![0.0; steps * dk],
            b: vec![0.0; steps * dk],
            w: vec![0.0; if x.alpha.is_some() { steps * dk } else { 0 }],
            v: vec![0.0; steps * dv],
        };
        for t in 0..len {
            let qi = at.token(t) * dk;
            let qr = t * dk..(t + 1) * dk;
            m.q_norm[t] = normalise(&x.q[qi..qi + dk], &mut m.q_hat[qr.clone()]);
            for (o, &h) in m.q[qr.clone()].iter_mut().zip(&m.q_hat[qr]) {
                *o = h * x.scale;
            }
            let alpha = x.alpha.map(|a| a[at.token(t)]);
            for j in 0..n {
                let s = t * n + j;
                let (ki, vi) = (at.sub(t, j) * dk, at.sub(t, j) * dv);
                let kr = s * dk..(s + 1) * dk;
                m.k_norm[s] = normalise(&x.k[ki..ki + dk], &mut m.k[kr.clone()]);
                let beta = x.beta[at.sub(t, j)];
                let c = if j == 0 { alpha } else { alpha.map(|_| 1.0) };
                for i in kr.clone() {
                    m.a[i] = -m.k[i];
                    m.b[i] = match c {
                        Some(c) => m.k[i] * beta * c,
                        None => m.k[i] * beta,
                    };
                }
                if let Some(c) = c {
                    m.w[kr].fill(c);
                }
                for (o, &v) in m.v[s * dv..(s + 1) * dv].iter_mut().zip(&x.v[vi..vi + dv]) {
                    *o = v * beta;
                }
            }
        }
        m
    }

    fn inputs(&self, n: usize) -> Inputs<'_> {
        Inputs {
            readout: n,
            q: &self.q,
            k: &self.k,
            v: &self.v,
            a: &self.a,
            b: &self.b,
            w: (!self.w.is_empty()).then_some(&self.w[..]),
        }
    }
}

/// Forward over every sequence: `(o (B·L·H·dv, the op's layout), S_final (B·H·dk·dv))`.
pub fn forward(d: &ProductDims, x: ProductInputs<'_>, s0: Option<&[f32]>) -> (Vec<f32>, Vec<f32>) {
    let (len, dv, sz) = (d.len, d.dv, d.dk * d.dv);
    let micro = d.micro_seq();
    let per_seq: Vec<(Vec<f32>, Vec<f32>)> = (0..d.sequences())
        .into_par_iter()
        .map(|sq| {
            let _ftz = FlushDenormals::new();
            let m = Micro::gather(d, &x, sq);
            let mut s = s0.map_or_else(|| vec![0.0; sz], |s| s[sq * sz..(sq + 1) * sz].to_vec());
            let mut o = vec![0.0f32; len * dv];
            host::forward_seq(&micro, &m.inputs(d.householder), &mut s, &mut o);
            (o, s)
        })
        .collect();
    let mut o = vec![0.0f32; d.sequences() * len * dv];
    let mut last = vec![0.0f32; d.sequences() * sz];
    for (sq, (os, s)) in per_seq.into_iter().enumerate() {
        let at = At::new(d, sq);
        for t in 0..len {
            let oi = at.token(t) * dv;
            o[oi..oi + dv].copy_from_slice(&os[t * dv..(t + 1) * dv]);
        }
        last[sq * sz..(sq + 1) * sz].copy_from_slice(&s);
    }
    (o, last)
}

/// Gradients, flat in the inputs' layouts (`alpha` empty without decay).
pub struct ProductGrads {
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub beta: Vec<f32>,
    pub alpha: Vec<f32>,
    pub s0: Vec<f32>,
}

/// One sequence's gradients with respect to its raw inputs, token-major.
struct SeqGrads {
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    beta: Vec<f32>,
    alpha: Vec<f32>,
    s0: Vec<f32>,
}

/// The backward of sequence `sq` (module docs); `d_o` and `d_last` in the op's layouts.
fn backward_seq(
    d: &ProductDims,
    x: &ProductInputs<'_>,
    s0: Option<&[f32]>,
    d_o: &[f32],
    d_last: &[f32],
    sq: usize,
) -> SeqGrads {
    let (len, n, dk, dv, sz) = (d.len, d.householder, d.dk, d.dv, d.dk * d.dv);
    let steps = len * n;
    let at = At::new(d, sq);
    let m = Micro::gather(d, x, sq);
    let mut d_o_seq = vec![0.0f32; len * dv];
    for t in 0..len {
        let oi = at.token(t) * dv;
        d_o_seq[t * dv..(t + 1) * dv].copy_from_slice(&d_o[oi..oi + dv]);
    }
    // the micro-sequence's gradients
    let (mut gq, mut gk, mut gv) = (
        vec![0.0f32; len * dk],
        vec![0.0f32; steps * dk],
        vec![0.0f32; steps * dv],
    );
    let (mut ga, mut gb) = (vec![0.0f32; steps * dk], vec![0.0f32; steps * dk]);
    let mut gw = vec![0.0f32; m.w.len()];
    let mut gs0 = vec![0.0f32; sz];
    host::backward_seq(
        &d.micro_seq(),
        &m.inputs(n),
        s0.map(|s| &s[sq * sz..(sq + 1) * sz]),
        &d_o_seq,
        &d_last[sq * sz..(sq + 1) * sz],
        SeqGradsMut {
            q: &mut gq,
            k: &mut gk,
            v: &mut gv,
            a: &mut ga,
            b: &mut gb,
            w: &mut gw,
            s0: &mut gs0,
        },
    );
    // through the gates and the normalisation
    let mut out = SeqGrads {
        q: gq,
        k: vec![0.0; steps * dk],
        v: vec![0.0; steps * dv],
        beta: vec![0.0; steps],
        alpha: vec![0.0; if x.alpha.is_some() { len } else { 0 }],
        s0: gs0,
    };
    for t in 0..len {
        let qr = t * dk..(t + 1) * dk;
        for g in &mut out.q[qr.clone()] {
            *g *= x.scale;
        }
        normalise_backward(&m.q_hat[qr.clone()], m.q_norm[t], &mut out.q[qr]);
        let alpha = x.alpha.map(|a| a[at.token(t)]);
        for j in 0..n {
            let s = t * n + j;
            let kr = s * dk..(s + 1) * dk;
            let vr = s * dv..(s + 1) * dv;
            let beta = x.beta[at.sub(t, j)];
            let c = if j == 0 { alpha.unwrap_or(1.0) } else { 1.0 };
            let vi = at.sub(t, j) * dv;
            let gb_k: f32 = gb[kr.clone()]
                .iter()
                .zip(&m.k[kr.clone()])
                .map(|(g, k)| g * k)
                .sum();
            let gv_v: f32 = gv[vr.clone()]
                .iter()
                .zip(&x.v[vi..vi + dv])
                .map(|(g, v)| g * v)
                .sum();
            out.beta[s] = c * gb_k + gv_v;
            for (o, &g) in out.v[vr.clone()].iter_mut().zip(&gv[vr]) {
                *o = g * beta;
            }
            if j == 0 && alpha.is_some() {
                out.alpha[t] = gw[kr.clone()].iter().sum::<f32>() + beta * gb_k;
            }
            let dk_hat = &mut out.k[kr.clone()];
            for (i, g) in kr.clone().zip(dk_hat.iter_mut()) {
                *g = gk[i] - ga[i] + c * beta * gb[i];
            }
            normalise_backward(&m.k[kr], m.k_norm[s], dk_hat);
        }
    }
    out
}

/// Backward over every sequence from the gradient of the packed `[o | S_final]`.
pub fn backward(
    d: &ProductDims,
    x: ProductInputs<'_>,
    s0: Option<&[f32]>,
    grad: &[f32],
) -> ProductGrads {
    let (len, n, dk, dv, sz) = (d.len, d.householder, d.dk, d.dv, d.dk * d.dv);
    let seqs = d.sequences();
    let (d_o, d_last) = grad.split_at(seqs * len * dv);
    let per_seq: Vec<SeqGrads> = (0..seqs)
        .into_par_iter()
        .map(|sq| backward_seq(d, &x, s0, d_o, d_last, sq))
        .collect();
    let mut g = ProductGrads {
        q: vec![0.0; seqs * len * dk],
        k: vec![0.0; seqs * len * n * dk],
        v: vec![0.0; seqs * len * n * dv],
        beta: vec![0.0; seqs * len * n],
        alpha: vec![0.0; if x.alpha.is_some() { seqs * len } else { 0 }],
        s0: vec![0.0; seqs * sz],
    };
    for (sq, sg) in per_seq.into_iter().enumerate() {
        let at = At::new(d, sq);
        for t in 0..len {
            let qi = at.token(t) * dk;
            g.q[qi..qi + dk].copy_from_slice(&sg.q[t * dk..(t + 1) * dk]);
            if x.alpha.is_some() {
                g.alpha[at.token(t)] = sg.alpha[t];
            }
            for j in 0..n {
                let (s, i) = (t * n + j, at.sub(t, j));
                g.k[i * dk..(i + 1) * dk].copy_from_slice(&sg.k[s * dk..(s + 1) * dk]);
                g.v[i * dv..(i + 1) * dv].copy_from_slice(&sg.v[s * dv..(s + 1) * dv]);
                g.beta[i] = sg.beta[s];
            }
        }
        g.s0[sq * sz..(sq + 1) * sz].copy_from_slice(&sg.s0);
    }
    g
}

/// Host views of the primitives (borrowed in place on the CPU backends).
struct HostViews<'a> {
    q: Cow<'a, [f32]>,
    k: Cow<'a, [f32]>,
    v: Cow<'a, [f32]>,
    beta: Cow<'a, [f32]>,
    alpha: Option<Cow<'a, [f32]>>,
    s0: Option<Cow<'a, [f32]>>,
}

impl<'a> HostViews<'a> {
    fn read<B: Backend>(p: &'a DeltaProductPrimitives<B>) -> Self {
        Self {
            q: view::<B>(&p.q),
            k: view::<B>(&p.k),
            v: view::<B>(&p.v),
            beta: view::<B>(&p.beta),
            alpha: p.alpha.as_ref().map(view::<B>),
            s0: p.initial_state.as_ref().map(view::<B>),
        }
    }

    fn inputs(&self, scale: f32) -> ProductInputs<'_> {
        ProductInputs {
            q: &self.q,
            k: &self.k,
            v: &self.v,
            beta: &self.beta,
            alpha: self.alpha.as_deref(),
            scale,
        }
    }
}

/// [`forward`] on backend primitives: the packed `[o | S_final]`.
pub fn forward_primitives<B: Backend>(p: DeltaProductPrimitives<B>) -> FloatTensor<B> {
    let d = p.dims();
    let (device, dtype) = (B::float_device(&p.q), p.q.dtype());
    let (mut o, last) = {
        let h = HostViews::read(&p);
        forward(&d, h.inputs(p.scale), h.s0.as_deref())
    };
    o.extend_from_slice(&last);
    let n = o.len();
    write::<B>(o, &[n], &device, dtype)
}

/// [`backward`] on backend primitives.
pub fn backward_primitives<B: Backend>(
    p: DeltaProductPrimitives<B>,
    grad: FloatTensor<B>,
) -> DeltaProductGrads<B> {
    let d = p.dims();
    let (device, dtype) = (B::float_device(&p.q), p.q.dtype());
    let g = {
        let h = HostViews::read(&p);
        let grad = view::<B>(&grad);
        backward(&d, h.inputs(p.scale), h.s0.as_deref(), &grad)
    };
    let (b, l, n, h) = (d.batch, d.len, d.householder, d.heads);
    let put = |v: Vec<f32>, shape: &[usize]| write::<B>(v, shape, &device, dtype);
    DeltaProductGrads {
        q: put(g.q, &[b, l, h, d.dk]),
        k: put(g.k, &[b, l, n, h, d.dk]),
        v: put(g.v, &[b, l, n, h, d.dv]),
        beta: put(g.beta, &[b, l, n, h]),
        alpha: p.alpha.as_ref().map(|_| put(g.alpha, &[b, l, h])),
        initial_state: p
            .initial_state
            .as_ref()
            .map(|_| put(g.s0, &[b, h, d.dk, d.dv])),
    }
}
