//! CPU PD-SSM scan on `f32` slices, multi-threaded over the batch (the sequences are
//! independent, so the result does not depend on the thread count). Per step O(N): a gather or
//! a scatter-add plus a complex diagonal multiply; the backward walks the sequence in reverse
//! with the adjoint `λ = ∂L/∂h_t` and reads `h_{t-1}` from the stored forward states:
//! ```text
//! λ += ∂L/∂h_t (output gradient);  ∂b_t = λ
//! scatter: ∂D[n] = λ[p[n]] h̄_{t-1}[n];   λ'[n] = D̄[n] λ[p[n]]
//! gather:  ∂D[m] = λ[m] h̄_{t-1}[p[m]];   λ'[p[m]] += D̄[m] λ[m]
//! λ ← λ'  (after step 0: ∂h0 = λ)
//! ```
//! and, only with a surrogate, the dense `∂P` (module docs of [`super`]); with softmax logits
//! `M` as the surrogate, per line `l` of the softmax axis (a column for scatter, a row for
//! gather) `s = softmax(M_l)`, `∂M_l = s ⊙ (∂P_l − ⟨s, ∂P_l⟩)`.

use std::borrow::Cow;

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::TensorMetadata;
use rayon::prelude::*;

use super::{PdDims, PdForm, PdScanGrads, PdScanPrimitives, PdSurrogate};
use crate::host::math::{exp_f32, FlushDenormals};
use crate::host::{read_int, view, write};

/// Inputs as flat slices: `index`, `d`, `b` `(batch, len, n)`, `h0` `(batch, n)`.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub index: &'a [i64],
    pub d_re: &'a [f32],
    pub d_im: &'a [f32],
    pub b_re: &'a [f32],
    pub b_im: &'a [f32],
    pub h0_re: Option<&'a [f32]>,
    pub h0_im: Option<&'a [f32]>,
    pub form: PdForm,
}

/// The id at `i`, clamped into `0..n` (out-of-range ids are documented as clamped).
#[inline(always)]
fn id(index: &[i64], i: usize, n: usize) -> usize {
    (index[i].max(0) as usize).min(n - 1)
}

/// Forward of one sequence: `h_re`, `h_im` `(len, n)` receive every state.
fn forward_seq(d: &PdDims, x: &Inputs<'_>, s: usize, h_re: &mut [f32], h_im: &mut [f32]) {
    let (len, n) = (d.len, d.n);
    let mut prev_re = x
        .h0_re
        .map_or(vec![0.0; n], |h| h[s * n..(s + 1) * n].to_vec());
    let mut prev_im = x
        .h0_im
        .map_or(vec![0.0; n], |h| h[s * n..(s + 1) * n].to_vec());
    for t in 0..len {
        let o = (s * len + t) * n;
        let (cur_re, cur_im) = (&mut h_re[t * n..(t + 1) * n], &mut h_im[t * n..(t + 1) * n]);
        match x.form {
            PdForm::Scatter => {
                cur_re.copy_from_slice(&x.b_re[o..o + n]);
                cur_im.copy_from_slice(&x.b_im[o..o + n]);
                for k in 0..n {
                    let j = id(x.index, o + k, n);
                    let (dr, di) = (x.d_re[o + k], x.d_im[o + k]);
                    let (pr, pi) = (prev_re[k], prev_im[k]);
                    cur_re[j] += dr * pr - di * pi;
                    cur_im[j] += dr * pi + di * pr;
                }
            }
            PdForm::Gather => {
                for m in 0..n {
                    let k = id(x.index, o + m, n);
                    let (dr, di) = (x.d_re[o + m], x.d_im[o + m]);
                    let (pr, pi) = (prev_re[k], prev_im[k]);
                    cur_re[m] = dr * pr - di * pi + x.b_re[o + m];
                    cur_im[m] = dr * pi + di * pr + x.b_im[o + m];
                }
            }
        }
        prev_re.copy_from_slice(cur_re);
        prev_im.copy_from_slice(cur_im);
    }
}

/// Forward over every sequence; returns `(h_re, h_im)`, each `(batch, len, n)`.
pub fn forward(d: &PdDims, x: Inputs<'_>) -> (Vec<f32>, Vec<f32>) {
    let per = d.len * d.n;
    let mut h_re = vec![0.0f32; d.batch * per];
    let mut h_im = vec![0.0f32; d.batch * per];
    h_re.par_chunks_mut(per)
        .zip(h_im.par_chunks_mut(per))
        .enumerate()
        .for_each(|(s, (re, im))| {
            let _ftz = FlushDenormals::new();
            forward_seq(d, &x, s, re, im);
        });
    (h_re, h_im)
}

/// Gradients as flat vectors (shapes of the inputs; `p` empty without surrogate).
pub struct Grads {
    pub d_re: Vec<f32>,
    pub d_im: Vec<f32>,
    pub b_re: Vec<f32>,
    pub b_im: Vec<f32>,
    pub h0_re: Vec<f32>,
    pub h0_im: Vec<f32>,
    /// `(batch, len, n, n)` or empty.
    pub p: Vec<f32>,
}

/// One sequence's gradient buffers.
struct SeqGrads<'a> {
    d_re: &'a mut [f32],
    d_im: &'a mut [f32],
    b_re: &'a mut [f32],
    b_im: &'a mut [f32],
    h0_re: &'a mut [f32],
    h0_im: &'a mut [f32],
    p: &'a mut [f32],
}

/// Backward of sequence `s`; `h_re`, `h_im` are all forward states, `g_re`, `g_im` their
/// gradients (all `(batch, len, n)`).
#[allow(clippy::too_many_arguments)]
fn backward_seq(
    d: &PdDims,
    x: &Inputs<'_>,
    s: usize,
    h_re: &[f32],
    h_im: &[f32],
    g_re: &[f32],
    g_im: &[f32],
    with_p: bool,
    logits: Option<&[f32]>,
    out: SeqGrads<'_>,
) {
    let (len, n) = (d.len, d.n);
    let mut soft = vec![0.0f32; n];
    let zeros = vec![0.0f32; n];
    let h0_re = x.h0_re.map_or(&zeros[..], |h| &h[s * n..(s + 1) * n]);
    let h0_im = x.h0_im.map_or(&zeros[..], |h| &h[s * n..(s + 1) * n]);
    let (mut lam_re, mut lam_im) = (vec![0.0f32; n], vec![0.0f32; n]);
    let (mut new_re, mut new_im) = (vec![0.0f32; n], vec![0.0f32; n]);
    // The factors of the rank-2 outer product ∂P = a_re ⊗ c_re + a_im ⊗ c_im.
    let (mut a_re, mut a_im) = (vec![0.0f32; n], vec![0.0f32; n]);
    let (mut c_re, mut c_im) = (vec![0.0f32; n], vec![0.0f32; n]);
    for t in (0..len).rev() {
        let o = (s * len + t) * n;
        let r = t * n..(t + 1) * n;
        for m in 0..n {
            lam_re[m] += g_re[o + m];
            lam_im[m] += g_im[o + m];
        }
        out.b_re[r.clone()].copy_from_slice(&lam_re);
        out.b_im[r.clone()].copy_from_slice(&lam_im);
        let (prev_re, prev_im) = if t == 0 {
            (h0_re, h0_im)
        } else {
            (&h_re[o - n..o], &h_im[o - n..o])
        };
        match x.form {
            PdForm::Scatter => {
                for k in 0..n {
                    let j = id(x.index, o + k, n);
                    let (dr, di) = (x.d_re[o + k], x.d_im[o + k]);
                    let (pr, pi) = (prev_re[k], prev_im[k]);
                    let (lr, li) = (lam_re[j], lam_im[j]);
                    out.d_re[t * n + k] = lr * pr + li * pi;
                    out.d_im[t * n + k] = li * pr - lr * pi;
                    new_re[k] = dr * lr + di * li;
                    new_im[k] = dr * li - di * lr;
                    if with_p {
                        c_re[k] = dr * pr - di * pi;
                        c_im[k] = dr * pi + di * pr;
                    }
                }
                if with_p {
                    a_re.copy_from_slice(&lam_re);
                    a_im.copy_from_slice(&lam_im);
                }
            }
            PdForm::Gather => {
                new_re.fill(0.0);
                new_im.fill(0.0);
                for m in 0..n {
                    let k = id(x.index, o + m, n);
                    let (dr, di) = (x.d_re[o + m], x.d_im[o + m]);
                    let (pr, pi) = (prev_re[k], prev_im[k]);
                    let (lr, li) = (lam_re[m], lam_im[m]);
                    out.d_re[t * n + m] = lr * pr + li * pi;
                    out.d_im[t * n + m] = li * pr - lr * pi;
                    let (vr, vi) = (dr * lr + di * li, dr * li - di * lr);
                    new_re[k] += vr;
                    new_im[k] += vi;
                    if with_p {
                        a_re[m] = vr;
                        a_im[m] = vi;
                    }
                }
                if with_p {
                    c_re.copy_from_slice(prev_re);
                    c_im.copy_from_slice(prev_im);
                }
            }
        }
        if with_p {
            let block = &mut out.p[t * n * n..(t + 1) * n * n];
            for (row, (&ar, &ai)) in block.chunks_exact_mut(n).zip(a_re.iter().zip(&a_im)) {
                for ((v, &cr), &ci) in row.iter_mut().zip(&c_re).zip(&c_im) {
                    *v = ar * cr + ai * ci;
                }
            }
            if let Some(m) = logits {
                let m = &m[(s * len + t) * n * n..(s * len + t + 1) * n * n];
                // Line l: entries l*n + o (gather, a row) or o*n + l (scatter, a column).
                let (line_stride, elem_stride) = match x.form {
                    PdForm::Gather => (n, 1),
                    PdForm::Scatter => (1, n),
                };
                for l in 0..n {
                    let at = |o: usize| l * line_stride + o * elem_stride;
                    let max = (0..n).fold(f32::NEG_INFINITY, |a, o| a.max(m[at(o)]));
                    let mut sum = 0.0f32;
                    for (o, sv) in soft.iter_mut().enumerate() {
                        *sv = exp_f32(m[at(o)] - max);
                        sum += *sv;
                    }
                    let mut dot = 0.0f32;
                    for (o, sv) in soft.iter_mut().enumerate() {
                        *sv /= sum;
                        dot += *sv * block[at(o)];
                    }
                    for (o, &sv) in soft.iter().enumerate() {
                        block[at(o)] = sv * (block[at(o)] - dot);
                    }
                }
            }
        }
        std::mem::swap(&mut lam_re, &mut new_re);
        std::mem::swap(&mut lam_im, &mut new_im);
    }
    out.h0_re.copy_from_slice(&lam_re);
    out.h0_im.copy_from_slice(&lam_im);
}

/// Backward over every sequence from the forward states `h` and their gradient `g`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    d: &PdDims,
    x: Inputs<'_>,
    h_re: &[f32],
    h_im: &[f32],
    g_re: &[f32],
    g_im: &[f32],
    with_p: bool,
    logits: Option<&[f32]>,
) -> Grads {
    let (len, n) = (d.len, d.n);
    let per = len * n;
    let full = d.batch * per;
    let p_per = if with_p { len * n * n } else { 1 };
    let mut g = Grads {
        d_re: vec![0.0; full],
        d_im: vec![0.0; full],
        b_re: vec![0.0; full],
        b_im: vec![0.0; full],
        h0_re: vec![0.0; d.batch * n],
        h0_im: vec![0.0; d.batch * n],
        p: vec![0.0; d.batch * p_per],
    };
    (
        g.d_re.par_chunks_mut(per),
        g.d_im.par_chunks_mut(per),
        g.b_re.par_chunks_mut(per),
        g.b_im.par_chunks_mut(per),
        g.h0_re.par_chunks_mut(n),
        g.h0_im.par_chunks_mut(n),
        g.p.par_chunks_mut(p_per),
    )
        .into_par_iter()
        .enumerate()
        .for_each(|(s, (d_re, d_im, b_re, b_im, h0_re, h0_im, p))| {
            let _ftz = FlushDenormals::new();
            backward_seq(
                d,
                &x,
                s,
                h_re,
                h_im,
                g_re,
                g_im,
                with_p,
                logits,
                SeqGrads {
                    d_re,
                    d_im,
                    b_re,
                    b_im,
                    h0_re,
                    h0_im,
                    p,
                },
            );
        });
    if !with_p {
        g.p = Vec::new();
    }
    g
}

/// A complex `(re, im)` pair of host views.
type HostPair<'a> = (Cow<'a, [f32]>, Cow<'a, [f32]>);

/// Host views of the float primitives (borrowed in place on the CPU backends) and the ids.
struct HostInputs<'a> {
    index: Vec<i64>,
    d_re: Cow<'a, [f32]>,
    d_im: Cow<'a, [f32]>,
    b_re: Cow<'a, [f32]>,
    b_im: Cow<'a, [f32]>,
    h0: Option<HostPair<'a>>,
    form: PdForm,
}

/// The hardmax ids of logits `m` `(seqs·len, n, n)`: per column the argmax over rows
/// (scatter) or per row over the columns (gather), ties to the first index.
pub fn hardmax(d: &PdDims, m: &[f32], form: PdForm) -> Vec<i64> {
    let n = d.n;
    let mut ids = vec![0i64; d.batch * d.len * n];
    ids.par_chunks_mut(d.len * n)
        .zip(m.par_chunks(d.len * n * n))
        .for_each(|(ids, m)| {
            for (step_ids, block) in ids.chunks_exact_mut(n).zip(m.chunks_exact(n * n)) {
                match form {
                    PdForm::Gather => {
                        for (id, row) in step_ids.iter_mut().zip(block.chunks_exact(n)) {
                            let mut best = 0;
                            for (o, &v) in row.iter().enumerate() {
                                if v > row[best] {
                                    best = o;
                                }
                            }
                            *id = best as i64;
                        }
                    }
                    PdForm::Scatter => {
                        // Row by row, a running max per column (contiguous reads).
                        let mut max = block[..n].to_vec();
                        step_ids.fill(0);
                        for (r, row) in block.chunks_exact(n).enumerate().skip(1) {
                            for ((mx, id), &v) in max.iter_mut().zip(step_ids.iter_mut()).zip(row) {
                                if v > *mx {
                                    *mx = v;
                                    *id = r as i64;
                                }
                            }
                        }
                    }
                }
            }
        });
    ids
}

impl<'a> HostInputs<'a> {
    fn read<B: Backend>(p: &'a PdScanPrimitives<B>) -> Self {
        let index = match (&p.index, &p.transition_surrogate) {
            (Some(index), _) => read_int::<B>(index.clone()),
            (None, Some(m)) => hardmax(&p.dims(), &view::<B>(m), p.form),
            (None, None) => unreachable!("validated: ids or softmax logits"),
        };
        Self {
            index,
            d_re: view::<B>(&p.d_re),
            d_im: view::<B>(&p.d_im),
            b_re: view::<B>(&p.b_re),
            b_im: view::<B>(&p.b_im),
            h0: p
                .initial_state
                .as_ref()
                .map(|(re, im)| (view::<B>(re), view::<B>(im))),
            form: p.form,
        }
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            index: &self.index,
            d_re: &self.d_re,
            d_im: &self.d_im,
            b_re: &self.b_re,
            b_im: &self.b_im,
            h0_re: self.h0.as_ref().map(|(re, _)| &re[..]),
            h0_im: self.h0.as_ref().map(|(_, im)| &im[..]),
            form: self.form,
        }
    }
}

/// [`forward`] on backend primitives: the packed `(2, batch, len, n)`.
pub fn forward_primitives<B: Backend>(p: PdScanPrimitives<B>) -> FloatTensor<B> {
    let d = p.dims();
    let (device, dtype) = (B::float_device(&p.d_re), p.d_re.dtype());
    let (mut re, im) = {
        let h = HostInputs::read::<B>(&p);
        forward(&d, h.inputs())
    };
    re.extend_from_slice(&im);
    write::<B>(re, &[2, d.batch, d.len, d.n], &device, dtype)
}

/// [`backward`] on backend primitives (`h`: the packed forward output).
pub fn backward_primitives<B: Backend>(
    p: PdScanPrimitives<B>,
    h: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> PdScanGrads<B> {
    let d = p.dims();
    let (device, dtype) = (B::float_device(&p.d_re), p.d_re.dtype());
    let with_p = p.transition_surrogate.is_some();
    let g = {
        let x = HostInputs::read::<B>(&p);
        let (h, grad) = (view::<B>(&h), view::<B>(&grad));
        let logits = match (&p.transition_surrogate, p.surrogate) {
            (Some(m), PdSurrogate::SoftmaxLogits) => Some(view::<B>(m)),
            _ => None,
        };
        let half = d.batch * d.len * d.n;
        backward(
            &d,
            x.inputs(),
            &h[..half],
            &h[half..],
            &grad[..half],
            &grad[half..],
            with_p,
            logits.as_deref(),
        )
    };
    let full = [d.batch, d.len, d.n];
    let put = |v: Vec<f32>, shape: &[usize]| write::<B>(v, shape, &device, dtype);
    let has_h0 = p.initial_state.is_some();
    PdScanGrads {
        d: (put(g.d_re, &full), put(g.d_im, &full)),
        b: (put(g.b_re, &full), put(g.b_im, &full)),
        initial_state: has_h0
            .then(|| (put(g.h0_re, &[d.batch, d.n]), put(g.h0_im, &[d.batch, d.n]))),
        transition: with_p.then(|| put(g.p, &[d.batch, d.len, d.n, d.n])),
    }
}
