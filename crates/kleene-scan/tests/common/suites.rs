//! Whole test cases shared by the ndarray and wgpu tests, generic over the backend: forward on
//! `B`, every gradient on `Autodiff<B>`, all against the f64 oracle.
#![allow(dead_code)]

use burn::backend::Autodiff;
use burn::tensor::Tensor;
use kleene_scan::{ScanBackend, ScanLayout, SelectiveScanInput};

use super::checks;
use super::{assert_close, random_ss, ss_input, values, SsShape};

/// Forward and every gradient of the selective scan for each named shape, with the inputs in
/// `layout` (the problems and the oracle are channels-first; see [`checks::channels_last`]).
pub fn selective_scan_shapes<B: ScanBackend>(
    shapes: &[(&str, SsShape)],
    dev: &B::Device,
    tol: f64,
    layout: ScanLayout,
) {
    let (f, fd): (checks::SsFn<B>, checks::SsFn<Autodiff<B>>) = match layout {
        ScanLayout::ChannelsFirst => (kleene_scan::selective_scan, kleene_scan::selective_scan),
        ScanLayout::ChannelsLast => (checks::channels_last, checks::channels_last),
    };
    for (k, (name, s)) in shapes.iter().enumerate() {
        let p = random_ss(*s, 1000 + k as u64);
        println!("{name} ({layout:?})");
        checks::ss_forward::<B>(&p, dev, f, tol);
        checks::ss_grads::<Autodiff<B>>(&p, dev, fd, tol, k as u64);
    }
}

/// A scan of two parts, the second started from the first's final state, equals the scan of the
/// whole sequence.
pub fn continuation_equals_whole<B: ScanBackend>(dev: &B::Device) {
    let p = random_ss(SsShape::full(2, 3, 40, 8, 1), 77);
    let whole = kleene_scan::selective_scan(ss_input::<B>(&p, dev));
    let inp = ss_input::<B>(&p, dev);
    let half = |t: Tensor<B, 3>, r: std::ops::Range<usize>| t.slice([0..2, 0..3, r]);
    let half4 = |t: Tensor<B, 4>, r: std::ops::Range<usize>| t.slice([0..2, 0..1, 0..8, r]);
    let part = |r: std::ops::Range<usize>, h0| SelectiveScanInput {
        u: half(inp.u.clone(), r.clone()),
        delta: half(inp.delta.clone(), r.clone()),
        a: inp.a.clone(),
        b: half4(inp.b.clone(), r.clone()),
        c: half4(inp.c.clone(), r.clone()),
        d_skip: inp.d_skip.clone(),
        z: inp.z.clone().map(|z| half(z, r.clone())),
        delta_bias: inp.delta_bias.clone(),
        delta_softplus: true,
        initial_state: h0,
        layout: ScanLayout::ChannelsFirst,
    };
    let (y1, s1) = kleene_scan::selective_scan(part(0..17, inp.initial_state.clone()));
    let (y2, s2) = kleene_scan::selective_scan(part(17..40, Some(s1)));
    let joined = Tensor::cat(vec![y1, y2], 2);
    assert_close("continued out", &values(joined), &values(whole.0), 1e-6);
    assert_close("continued state", &values(s2), &values(whole.1), 1e-6);
}

/// L = 10^5, forward only, every op (the state decays, so this also runs through the tiny-state
/// regime that produces denormals without flushing).
pub fn long_sequences_forward<B: ScanBackend>(dev: &B::Device, tol: f64) {
    let p = random_ss(SsShape::full(1, 2, 100_000, 16, 1), 5);
    checks::ss_forward::<B>(&p, dev, kleene_scan::selective_scan, tol);
    let q = checks::random_diag(1, 100_000, 4, true, 6);
    checks::diag_forward::<B>(&q, dev, kleene_scan::diagonal_recurrence, tol);
    checks::cdiag_forward::<B>(&q, dev, kleene_scan::complex_diagonal_recurrence, tol);
    let r = checks::random_dense(4, 8, 1, 100_000, true, 7);
    checks::dense_forward::<B>(&r, dev, kleene_scan::dense_recurrence, tol);
}

/// Forward and gradients of the real and complex diagonal recurrences for each
/// `(batch, len, dim, with_h0)`, and of the dense recurrence for each
/// `(vocab, n, batch, len, with_h0)`.
pub fn recurrence_sizes<B: ScanBackend>(
    diag: &[(usize, usize, usize, bool)],
    dense: &[(usize, usize, usize, usize, bool)],
    dev: &B::Device,
    tol: f64,
) {
    type Ad<B> = Autodiff<B>;
    for (k, &(batch, len, dim, h0)) in diag.iter().enumerate() {
        let p = checks::random_diag(batch, len, dim, h0, 200 + k as u64);
        checks::diag_forward::<B>(&p, dev, kleene_scan::diagonal_recurrence, tol);
        checks::diag_grads::<Ad<B>>(&p, dev, kleene_scan::diagonal_recurrence, tol);
        checks::cdiag_forward::<B>(&p, dev, kleene_scan::complex_diagonal_recurrence, tol);
        checks::cdiag_grads::<Ad<B>>(&p, dev, kleene_scan::complex_diagonal_recurrence, tol);
    }
    for (k, &(vocab, n, batch, len, h0)) in dense.iter().enumerate() {
        let q = checks::random_dense(vocab, n, batch, len, h0, 300 + k as u64);
        checks::dense_forward::<B>(&q, dev, kleene_scan::dense_recurrence, tol);
        checks::dense_grads::<Ad<B>>(&q, dev, kleene_scan::dense_recurrence, tol);
    }
}
