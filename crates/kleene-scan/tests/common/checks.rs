//! Backend-generic checks of the ops against the f64 oracle (used by the ndarray and wgpu tests).
#![allow(dead_code)]

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use kleene_scan::{ScanBackend, ScanLayout, SelectiveScanInput};

use super::oracle::{self, SsProblem};
use super::{assert_close, int_tensor, rng, ss_input, tensor, uniform, values};

pub type SsFn<B> = fn(SelectiveScanInput<B>) -> (Tensor<B, 3>, Tensor<B, 3>);
pub type DiagFn<B> = fn(Tensor<B, 3>, Tensor<B, 3>, Option<Tensor<B, 2>>) -> Tensor<B, 3>;
#[allow(clippy::type_complexity)]
pub type CdiagFn<B> = fn(
    Tensor<B, 3>,
    Tensor<B, 3>,
    Tensor<B, 3>,
    Tensor<B, 3>,
    Option<(Tensor<B, 2>, Tensor<B, 2>)>,
) -> (Tensor<B, 3>, Tensor<B, 3>);
pub type DenseFn<B> =
    fn(Tensor<B, 3>, Tensor<B, 2>, Tensor<B, 2, Int>, Option<Tensor<B, 2>>) -> Tensor<B, 3>;

pub fn ss_forward<B: ScanBackend>(p: &SsProblem, dev: &B::Device, f: SsFn<B>, tol: f64) {
    let (want_out, want_last) = p.forward();
    let (out, last) = f(ss_input::<B>(p, dev));
    assert_eq!(out.dims(), [p.batch, p.d, p.len]);
    assert_eq!(last.dims(), [p.batch, p.d, p.n]);
    assert_close("selective_scan out", &values(out), &want_out, tol);
    assert_close("selective_scan final state", &values(last), &want_last, tol);
}

fn grad_of<B: AutodiffBackend, const D: usize>(t: &Tensor<B, D>, g: &B::Gradients) -> Vec<f64> {
    values(t.grad(g).expect("missing gradient"))
}

/// Every input marked as requiring a gradient.
pub fn require_grad<B: AutodiffBackend + ScanBackend>(
    inp: SelectiveScanInput<B>,
) -> SelectiveScanInput<B> {
    SelectiveScanInput {
        u: inp.u.require_grad(),
        delta: inp.delta.require_grad(),
        a: inp.a.require_grad(),
        b: inp.b.require_grad(),
        c: inp.c.require_grad(),
        d_skip: inp.d_skip.map(|t| t.require_grad()),
        z: inp.z.map(|t| t.require_grad()),
        delta_bias: inp.delta_bias.map(|t| t.require_grad()),
        delta_softplus: inp.delta_softplus,
        initial_state: inp.initial_state.map(|t| t.require_grad()),
        layout: inp.layout,
        transition_range: inp.transition_range,
    }
}

/// A channels-first input as channels-last views (`(batch, len, d)`, `(batch, len, groups, n)`).
pub fn to_channels_last<B: ScanBackend>(inp: SelectiveScanInput<B>) -> SelectiveScanInput<B> {
    let x = |t: Tensor<B, 3>| t.swap_dims(1, 2);
    let bc = |t: Tensor<B, 4>| t.permute([0, 3, 1, 2]);
    SelectiveScanInput {
        u: x(inp.u),
        delta: x(inp.delta),
        b: bc(inp.b),
        c: bc(inp.c),
        z: inp.z.map(x),
        layout: ScanLayout::ChannelsLast,
        ..inp
    }
}

/// [`kleene_scan::selective_scan`] in the channels-last layout, wrapped to take and return the
/// channels-first layout: the oracle checks of channels-first problems then test that path
/// (gradients flow back through the permutes to the channels-first leaves).
pub fn channels_last<B: ScanBackend>(inp: SelectiveScanInput<B>) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let (out, last) = kleene_scan::selective_scan(to_channels_last(inp));
    (out.swap_dims(1, 2), last)
}

/// [`channels_last`] for the tensor-op reference.
pub fn reference_channels_last<B: ScanBackend>(
    inp: SelectiveScanInput<B>,
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let (out, last) = kleene_scan::reference::selective_scan(to_channels_last(inp));
    (out.swap_dims(1, 2), last)
}

/// Checks every gradient of `sum(w * out) + sum(v * final_state)` (random w, v).
pub fn ss_grads<B: AutodiffBackend + ScanBackend>(
    p: &SsProblem,
    dev: &B::Device,
    f: SsFn<B>,
    tol: f64,
    seed: u64,
) {
    let mut r = rng(seed);
    let w = uniform(&mut r, p.batch * p.d * p.len, -1.0, 1.0);
    let v = uniform(&mut r, p.batch * p.d * p.n, -1.0, 1.0);
    let want = p.backward(&w, &v);
    let inp = require_grad(ss_input::<B>(p, dev));
    let keep = inp.clone();
    let (out, last) = f(inp);
    let loss = (out * tensor::<B, 3>(&w, [p.batch, p.d, p.len], dev)).sum()
        + (last * tensor::<B, 3>(&v, [p.batch, p.d, p.n], dev)).sum();
    let g = loss.backward();
    assert_close("du", &grad_of(&keep.u, &g), &want.u, tol);
    assert_close("ddelta", &grad_of(&keep.delta, &g), &want.delta, tol);
    assert_close("dA", &grad_of(&keep.a, &g), &want.a, tol);
    assert_close("dB", &grad_of(&keep.b, &g), &want.b, tol);
    assert_close("dC", &grad_of(&keep.c, &g), &want.c, tol);
    if let Some(t) = &keep.d_skip {
        assert_close("dD", &grad_of(t, &g), &want.d_skip, tol);
    }
    if let Some(t) = &keep.z {
        assert_close("dz", &grad_of(t, &g), &want.z, tol);
    }
    if let Some(t) = &keep.delta_bias {
        assert_close("ddelta_bias", &grad_of(t, &g), &want.delta_bias, tol);
    }
    if let Some(t) = &keep.initial_state {
        assert_close("dinitial_state", &grad_of(t, &g), &want.h0, tol);
    }
}

pub struct DiagProblem {
    pub batch: usize,
    pub len: usize,
    pub dim: usize,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub h0: Option<Vec<f64>>,
    pub b_im: Vec<f64>,
    pub a_im: Vec<f64>,
    pub h0_im: Option<Vec<f64>>,
}

/// Random diagonal problem; |a| < 1 (and |a_re + i a_im| < 1) so states stay bounded.
pub fn random_diag(batch: usize, len: usize, dim: usize, with_h0: bool, seed: u64) -> DiagProblem {
    let mut r = rng(seed);
    let x = batch * len * dim;
    DiagProblem {
        batch,
        len,
        dim,
        a: uniform(&mut r, x, -0.7, 0.7),
        b: uniform(&mut r, x, -1.0, 1.0),
        h0: with_h0.then(|| uniform(&mut r, batch * dim, -1.0, 1.0)),
        a_im: uniform(&mut r, x, -0.7, 0.7),
        b_im: uniform(&mut r, x, -1.0, 1.0),
        h0_im: with_h0.then(|| uniform(&mut r, batch * dim, -1.0, 1.0)),
    }
}

pub fn diag_forward<B: ScanBackend>(p: &DiagProblem, dev: &B::Device, f: DiagFn<B>, tol: f64) {
    let s = [p.batch, p.len, p.dim];
    let want = oracle::diag_forward(p.batch, p.len, p.dim, &p.a, &p.b, p.h0.as_deref());
    let h = f(
        tensor(&p.a, s, dev),
        tensor(&p.b, s, dev),
        p.h0.as_ref().map(|v| tensor(v, [p.batch, p.dim], dev)),
    );
    assert_eq!(h.dims(), s);
    assert_close("diagonal h", &values(h), &want, tol);
}

pub fn diag_grads<B: AutodiffBackend + ScanBackend>(
    p: &DiagProblem,
    dev: &B::Device,
    f: DiagFn<B>,
    tol: f64,
) {
    let s = [p.batch, p.len, p.dim];
    let mut r = rng(99);
    let w = uniform(&mut r, p.batch * p.len * p.dim, -1.0, 1.0);
    let (da, db, dh0) =
        oracle::diag_backward(p.batch, p.len, p.dim, &p.a, &p.b, p.h0.as_deref(), &w);
    let a = tensor::<B, 3>(&p.a, s, dev).require_grad();
    let b = tensor::<B, 3>(&p.b, s, dev).require_grad();
    let h0 =
        p.h0.as_ref()
            .map(|v| tensor::<B, 2>(v, [p.batch, p.dim], dev).require_grad());
    let h = f(a.clone(), b.clone(), h0.clone());
    let g = (h * tensor::<B, 3>(&w, s, dev)).sum().backward();
    assert_close("diagonal da", &grad_of(&a, &g), &da, tol);
    assert_close("diagonal db", &grad_of(&b, &g), &db, tol);
    if let Some(h0) = &h0 {
        assert_close("diagonal dh0", &grad_of(h0, &g), &dh0, tol);
    }
}

#[allow(clippy::type_complexity)]
fn cdiag_args<B: Backend>(
    p: &DiagProblem,
    dev: &B::Device,
) -> (
    Tensor<B, 3>,
    Tensor<B, 3>,
    Tensor<B, 3>,
    Tensor<B, 3>,
    Option<(Tensor<B, 2>, Tensor<B, 2>)>,
) {
    let s = [p.batch, p.len, p.dim];
    let h0 = match (&p.h0, &p.h0_im) {
        (Some(r), Some(i)) => Some((
            tensor(r, [p.batch, p.dim], dev),
            tensor(i, [p.batch, p.dim], dev),
        )),
        _ => None,
    };
    (
        tensor(&p.a, s, dev),
        tensor(&p.a_im, s, dev),
        tensor(&p.b, s, dev),
        tensor(&p.b_im, s, dev),
        h0,
    )
}

fn oracle_h0(p: &DiagProblem) -> Option<(&[f64], &[f64])> {
    match (&p.h0, &p.h0_im) {
        (Some(r), Some(i)) => Some((r.as_slice(), i.as_slice())),
        _ => None,
    }
}

pub fn cdiag_forward<B: ScanBackend>(p: &DiagProblem, dev: &B::Device, f: CdiagFn<B>, tol: f64) {
    let (wr, wi) = oracle::cdiag_forward(
        p.batch,
        p.len,
        p.dim,
        &p.a,
        &p.a_im,
        &p.b,
        &p.b_im,
        oracle_h0(p),
    );
    let (ar, ai, br, bi, h0) = cdiag_args::<B>(p, dev);
    let (hr, hi) = f(ar, ai, br, bi, h0);
    assert_close("complex h_re", &values(hr), &wr, tol);
    assert_close("complex h_im", &values(hi), &wi, tol);
}

pub fn cdiag_grads<B: AutodiffBackend + ScanBackend>(
    p: &DiagProblem,
    dev: &B::Device,
    f: CdiagFn<B>,
    tol: f64,
) {
    let s = [p.batch, p.len, p.dim];
    let mut r = rng(7);
    let x = p.batch * p.len * p.dim;
    let (wr, wi) = (uniform(&mut r, x, -1.0, 1.0), uniform(&mut r, x, -1.0, 1.0));
    let want = oracle::cdiag_backward(
        p.batch,
        p.len,
        p.dim,
        &p.a,
        &p.a_im,
        &p.b,
        &p.b_im,
        oracle_h0(p),
        &wr,
        &wi,
    );
    let (ar, ai, br, bi, h0) = cdiag_args::<B>(p, dev);
    let (ar, ai, br, bi) = (
        ar.require_grad(),
        ai.require_grad(),
        br.require_grad(),
        bi.require_grad(),
    );
    let h0 = h0.map(|(r, i)| (r.require_grad(), i.require_grad()));
    let (hr, hi) = f(ar.clone(), ai.clone(), br.clone(), bi.clone(), h0.clone());
    let loss = (hr * tensor::<B, 3>(&wr, s, dev)).sum() + (hi * tensor::<B, 3>(&wi, s, dev)).sum();
    let g = loss.backward();
    assert_close("complex da_re", &grad_of(&ar, &g), &want.ar, tol);
    assert_close("complex da_im", &grad_of(&ai, &g), &want.ai, tol);
    assert_close("complex db_re", &grad_of(&br, &g), &want.br, tol);
    assert_close("complex db_im", &grad_of(&bi, &g), &want.bi, tol);
    if let Some((r0, i0)) = &h0 {
        assert_close("complex dh0_re", &grad_of(r0, &g), &want.h0r, tol);
        assert_close("complex dh0_im", &grad_of(i0, &g), &want.h0i, tol);
    }
}

pub struct DenseProblem {
    pub vocab: usize,
    pub n: usize,
    pub batch: usize,
    pub len: usize,
    pub m: Vec<f64>,
    pub bias: Vec<f64>,
    pub tokens: Vec<usize>,
    pub h0: Option<Vec<f64>>,
}

/// Random dense problem; M entries scaled by 1/sqrt(n) so states stay O(1).
pub fn random_dense(
    vocab: usize,
    n: usize,
    batch: usize,
    len: usize,
    with_h0: bool,
    seed: u64,
) -> DenseProblem {
    use rand::Rng;
    let mut r = rng(seed);
    let s = 1.0 / (n as f64).sqrt();
    DenseProblem {
        vocab,
        n,
        batch,
        len,
        m: uniform(&mut r, vocab * n * n, -s, s),
        bias: uniform(&mut r, vocab * n, -1.0, 1.0),
        tokens: (0..batch * len).map(|_| r.random_range(0..vocab)).collect(),
        h0: with_h0.then(|| uniform(&mut r, batch * n, -1.0, 1.0)),
    }
}

pub fn dense_forward<B: ScanBackend>(p: &DenseProblem, dev: &B::Device, f: DenseFn<B>, tol: f64) {
    let want = oracle::dense_forward(
        p.n,
        &p.m,
        &p.bias,
        &p.tokens,
        p.batch,
        p.len,
        p.h0.as_deref(),
    );
    let h = f(
        tensor(&p.m, [p.vocab, p.n, p.n], dev),
        tensor(&p.bias, [p.vocab, p.n], dev),
        int_tensor(&p.tokens, [p.batch, p.len], dev),
        p.h0.as_ref().map(|v| tensor(v, [p.batch, p.n], dev)),
    );
    assert_eq!(h.dims(), [p.batch, p.len, p.n]);
    assert_close("dense h", &values(h), &want, tol);
}

pub fn dense_grads<B: AutodiffBackend + ScanBackend>(
    p: &DenseProblem,
    dev: &B::Device,
    f: DenseFn<B>,
    tol: f64,
) {
    let s = [p.batch, p.len, p.n];
    let mut r = rng(5);
    let w = uniform(&mut r, p.batch * p.len * p.n, -1.0, 1.0);
    let (dm, db, dh0) = oracle::dense_backward(
        p.n,
        p.vocab,
        &p.m,
        &p.bias,
        &p.tokens,
        p.batch,
        p.len,
        p.h0.as_deref(),
        &w,
    );
    let m = tensor::<B, 3>(&p.m, [p.vocab, p.n, p.n], dev).require_grad();
    let bias = tensor::<B, 2>(&p.bias, [p.vocab, p.n], dev).require_grad();
    let h0 =
        p.h0.as_ref()
            .map(|v| tensor::<B, 2>(v, [p.batch, p.n], dev).require_grad());
    let h = f(
        m.clone(),
        bias.clone(),
        int_tensor(&p.tokens, [p.batch, p.len], dev),
        h0.clone(),
    );
    let g = (h * tensor::<B, 3>(&w, s, dev)).sum().backward();
    assert_close("dense dM", &grad_of(&m, &g), &dm, tol);
    assert_close("dense dbias", &grad_of(&bias, &g), &db, tol);
    if let Some(h0) = &h0 {
        assert_close("dense dh0", &grad_of(h0, &g), &dh0, tol);
    }
}
