//! The ops on burn-ndarray (forward) and Autodiff<NdArray> (every gradient) against the f64 oracle,
//! plus the tensor-op reference against the same oracle.

mod common;

use burn::backend::Autodiff;
use burn_ndarray::NdArray;
use common::{checks, suites};
use common::{random_ss, SsShape};
use kleene_scan::{reference, ScanLayout};

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
    checks::ss_grads::<AD>(&p, &dev(), kleene_scan::selective_scan, TOL, 2);
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

/// Awkward sizes and option combinations; forward on NdArray, every gradient on Autodiff<NdArray>.
#[test]
fn selective_scan_awkward_sizes() {
    let shapes = [
        ("grouped", SsShape::full(2, 4, 9, 3, 2)),
        ("L=1", SsShape::full(2, 3, 1, 4, 1)),
        ("D=1", SsShape::full(2, 1, 13, 4, 1)),
        ("N=1", SsShape::full(2, 3, 11, 1, 3)),
        ("N=64", SsShape::full(1, 2, 17, 64, 1)),
        ("B=1", SsShape::full(1, 5, 33, 16, 1)),
        ("L=100", SsShape::full(2, 3, 100, 8, 1)),
        ("L=300,N=16,G=2", SsShape::full(2, 4, 300, 16, 2)),
        ("bare", SsShape::bare(2, 3, 10, 5, 1)),
        (
            "softplus only",
            SsShape {
                softplus: true,
                ..SsShape::bare(1, 2, 6, 3, 1)
            },
        ),
        (
            "z only",
            SsShape {
                z: true,
                ..SsShape::bare(1, 2, 6, 3, 1)
            },
        ),
        (
            "h0 + D only",
            SsShape {
                h0: true,
                d_skip: true,
                ..SsShape::bare(2, 2, 6, 3, 2)
            },
        ),
    ];
    suites::selective_scan_shapes::<B>(&shapes, &dev(), TOL, ScanLayout::ChannelsFirst);
}

/// The channels-last layout: the vectorised kernel (channels per group a multiple of 8, on an
/// AVX2 CPU) and the permute fallback (other sizes), against the same oracle.
#[test]
fn selective_scan_channels_last() {
    let shapes = [
        ("8 channels, N=16", SsShape::full(2, 8, 37, 16, 1)),
        (
            "32 channels in 2 groups, N=5 (a partial 8-lane sum)",
            SsShape::full(2, 32, 20, 5, 2),
        ),
        (
            "48 channels (tasks of 4 + 2 blocks), N=9, L=1",
            SsShape::full(3, 48, 1, 9, 1),
        ),
        ("bare, 16 channels", SsShape::bare(2, 16, 23, 16, 1)),
        (
            "softplus + z only",
            SsShape {
                softplus: true,
                z: true,
                ..SsShape::bare(1, 8, 40, 3, 1)
            },
        ),
        (
            "12 channels (permute fallback)",
            SsShape::full(2, 12, 9, 4, 1),
        ),
        (
            "4 channels in 2 groups (fallback)",
            SsShape::full(2, 4, 9, 3, 2),
        ),
    ];
    suites::selective_scan_shapes::<B>(&shapes, &dev(), TOL, ScanLayout::ChannelsLast);
}

#[test]
fn reference_channels_last_matches_oracle() {
    let p = random_ss(SsShape::full(2, 4, 9, 3, 2), 104);
    checks::ss_forward::<B>(&p, &dev(), checks::reference_channels_last, TOL);
    checks::ss_grads::<AD>(&p, &dev(), checks::reference_channels_last, REF_GRAD_TOL, 5);
}

#[test]
fn selective_scan_continuation_equals_whole() {
    suites::continuation_equals_whole::<B>(&dev());
}

#[test]
fn long_sequences_forward() {
    suites::long_sequences_forward::<B>(&dev(), TOL);
}

#[test]
fn recurrences_awkward_sizes() {
    suites::recurrence_sizes::<B>(
        &[
            (1, 1, 1, true),
            (2, 7, 3, false),
            (3, 50, 1, true),
            (2, 33, 64, true),
            (1, 129, 5, false),
        ],
        &[
            (1, 1, 1, 1, true),
            (3, 5, 2, 6, false),
            (2, 64, 2, 9, true),
            (5, 16, 3, 40, true),
            (3, 128, 1, 3, false),
        ],
        &dev(),
        TOL,
    );
}

#[test]
fn bad_inputs_give_errors() {
    use burn::tensor::{Int, Tensor};
    use kleene_scan::ScanError;
    let p = random_ss(SsShape::full(2, 4, 9, 3, 2), 1);
    let mut inp = common::ss_input::<B>(&p, &dev());
    inp.d_skip = Some(Tensor::ones([5], &dev()));
    match kleene_scan::try_selective_scan(inp) {
        Err(ScanError::Shape {
            field: "d_skip", ..
        }) => {}
        other => panic!("expected a d_skip shape error, got {:?}", other.map(|_| ())),
    }
    // Channels-last: B must be (batch, len, groups, n); a channels-first B is named.
    let p2 = random_ss(SsShape::full(2, 4, 9, 2, 2), 1);
    let mut inp = common::ss_input::<B>(&p2, &dev());
    inp.u = inp.u.swap_dims(1, 2);
    inp.delta = inp.delta.swap_dims(1, 2);
    inp.z = inp.z.map(|z| z.swap_dims(1, 2));
    inp.layout = ScanLayout::ChannelsLast;
    let e = kleene_scan::try_selective_scan(inp).unwrap_err();
    assert!(
        matches!(e, ScanError::Shape { field: "b", .. }),
        "expected a b shape error, got {e}"
    );
    let mut inp = common::ss_input::<B>(&p, &dev());
    inp.b = Tensor::ones([2, 3, 3, 9], &dev());
    assert!(matches!(
        kleene_scan::try_selective_scan(inp),
        Err(ScanError::Groups {
            groups: 3,
            d: 4,
            ..
        })
    ));
    let a = Tensor::<B, 3>::ones([1, 4, 2], &dev());
    let e = kleene_scan::try_diagonal_recurrence(a.clone(), Tensor::ones([1, 4, 3], &dev()), None)
        .unwrap_err();
    assert!(e.to_string().contains("`b`"), "{e}");
    let m = Tensor::<B, 3>::ones([3, 2, 2], &dev());
    let bias = Tensor::<B, 2>::ones([3, 2], &dev());
    let toks = Tensor::<B, 2, Int>::from_data([[0, 1, 3]], &dev());
    let e = kleene_scan::try_dense_recurrence(m, bias, toks, None).unwrap_err();
    assert_eq!(
        e,
        ScanError::TokenOutOfRange {
            op: "dense_recurrence",
            position: 2,
            id: 3,
            vocab: 3
        }
    );
}
