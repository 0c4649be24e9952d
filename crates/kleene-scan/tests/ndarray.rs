//! The ops on burn-ndarray (forward) and Autodiff<NdArray> (every gradient) against the f64 oracle,
//! plus the tensor-op reference against the same oracle.

mod common;

use burn::backend::Autodiff;
use burn_ndarray::NdArray;
use common::checks;
use common::{random_ss, SsShape};
use kleene_scan::reference;

type B = NdArray<f32>;
type AD = Autodiff<B>;

const TOL: f64 = 1e-5;
/// The tensor-op reference's gradients go through Burn's f32 autodiff of `exp`/`log1p` and long
/// sums with cancellation (d/ddelta); measured norm-relative error ~1.3e-5, so it gets 5e-5.
const REF_GRAD_TOL: f64 = 5e-5;

fn dev() -> burn_ndarray::NdArrayDevice {
    Default::default()
}

#[test]
fn reference_selective_scan_matches_oracle() {
    for (k, s) in [SsShape::full(2, 4, 9, 3, 2), SsShape::bare(1, 3, 5, 2, 1)]
        .into_iter()
        .enumerate()
    {
        let p = random_ss(s, 100 + k as u64);
        checks::ss_forward::<B>(&p, &dev(), reference::selective_scan, TOL);
        checks::ss_grads::<AD>(&p, &dev(), reference::selective_scan, REF_GRAD_TOL, 1);
    }
}

#[test]
fn reference_recurrences_match_oracle() {
    let p = checks::random_diag(2, 7, 3, true, 1);
    checks::diag_forward::<B>(&p, &dev(), reference::diagonal_recurrence, TOL);
    checks::diag_grads::<AD>(&p, &dev(), reference::diagonal_recurrence, TOL);
    checks::cdiag_forward::<B>(&p, &dev(), reference::complex_diagonal_recurrence, TOL);
    checks::cdiag_grads::<AD>(&p, &dev(), reference::complex_diagonal_recurrence, TOL);
    let q = checks::random_dense(3, 5, 2, 6, true, 2);
    checks::dense_forward::<B>(&q, &dev(), reference::dense_recurrence, TOL);
    checks::dense_grads::<AD>(&q, &dev(), reference::dense_recurrence, TOL);
}

#[test]
fn selective_scan_matches_oracle() {
    let p = random_ss(SsShape::full(2, 4, 9, 3, 2), 7);
    checks::ss_forward::<B>(&p, &dev(), kleene_scan::selective_scan, TOL);
    checks::ss_grads::<AD>(&p, &dev(), kleene_scan::selective_scan, REF_GRAD_TOL, 2);
}

#[test]
fn recurrences_match_oracle() {
    let p = checks::random_diag(2, 7, 3, true, 3);
    checks::diag_forward::<B>(&p, &dev(), kleene_scan::diagonal_recurrence, TOL);
    checks::diag_grads::<AD>(&p, &dev(), kleene_scan::diagonal_recurrence, TOL);
    checks::cdiag_forward::<B>(&p, &dev(), kleene_scan::complex_diagonal_recurrence, TOL);
    checks::cdiag_grads::<AD>(&p, &dev(), kleene_scan::complex_diagonal_recurrence, TOL);
    let q = checks::random_dense(3, 5, 2, 6, true, 4);
    checks::dense_forward::<B>(&q, &dev(), kleene_scan::dense_recurrence, TOL);
    checks::dense_grads::<AD>(&q, &dev(), kleene_scan::dense_recurrence, TOL);
}
