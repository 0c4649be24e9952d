//! The CubeCL kernels on burn-wgpu (Vulkan; Mesa lavapipe in CI) against the f64 oracle: forward on
//! `CubeBackend<WgpuRuntime>`, every gradient on `Autodiff<…>`. Same checks as tests/ndarray.rs.
//! Run: `.ci/scan-wgpu` (sets RUST_MIN_STACK for debug builds).
#![cfg(feature = "wgpu")]

mod common;

use burn::backend::Autodiff;
use common::checks;
use common::{random_ss, SsShape};

type B = kleene_scan::cube::Wgpu;
type AD = Autodiff<B>;

const TOL: f64 = 1e-5;

fn dev() -> burn_wgpu::WgpuDevice {
    Default::default()
}

#[test]
fn wgpu_selective_scan_matches_oracle() {
    let shapes = [
        ("grouped", SsShape::full(2, 4, 9, 3, 2)),
        ("L=1", SsShape::full(2, 3, 1, 4, 1)),
        ("D=1", SsShape::full(2, 1, 13, 4, 1)),
        ("N=1", SsShape::full(2, 3, 11, 1, 3)),
        ("N=64", SsShape::full(1, 2, 17, 64, 1)),
        (
            "B=1, L=150 (not a multiple of the 64-step chunk), 17 channels (not a multiple of 8)",
            SsShape::full(1, 17, 150, 16, 1),
        ),
        ("bare", SsShape::bare(2, 3, 10, 5, 1)),
    ];
    for (k, (name, s)) in shapes.into_iter().enumerate() {
        let p = random_ss(s, 1000 + k as u64);
        println!("{name}");
        checks::ss_forward::<B>(&p, &dev(), kleene_scan::selective_scan, TOL);
        checks::ss_grads::<AD>(&p, &dev(), kleene_scan::selective_scan, TOL, k as u64);
    }
}

#[test]
fn wgpu_selective_scan_continuation_equals_whole() {
    use burn::tensor::Tensor;
    let p = random_ss(SsShape::full(2, 3, 40, 8, 1), 77);
    let whole = kleene_scan::selective_scan(common::ss_input::<B>(&p, &dev()));
    let inp = common::ss_input::<B>(&p, &dev());
    let half = |t: Tensor<B, 3>, r: std::ops::Range<usize>| t.slice([0..2, 0..3, r]);
    let half4 = |t: Tensor<B, 4>, r: std::ops::Range<usize>| t.slice([0..2, 0..1, 0..8, r]);
    let part = |r: std::ops::Range<usize>, h0| kleene_scan::SelectiveScanInput {
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
    };
    let (y1, s1) = kleene_scan::selective_scan(part(0..17, inp.initial_state.clone()));
    let (y2, s2) = kleene_scan::selective_scan(part(17..40, Some(s1)));
    let joined = Tensor::cat(vec![y1, y2], 2);
    common::assert_close(
        "continued out",
        &common::values(joined),
        &common::values(whole.0),
        1e-6,
    );
    common::assert_close(
        "continued state",
        &common::values(s2),
        &common::values(whole.1),
        1e-6,
    );
}

#[test]
fn wgpu_long_sequences_forward() {
    let p = random_ss(SsShape::full(1, 2, 100_000, 16, 1), 5);
    checks::ss_forward::<B>(&p, &dev(), kleene_scan::selective_scan, TOL);
    let q = checks::random_diag(1, 100_000, 4, true, 6);
    checks::diag_forward::<B>(&q, &dev(), kleene_scan::diagonal_recurrence, TOL);
    checks::cdiag_forward::<B>(&q, &dev(), kleene_scan::complex_diagonal_recurrence, TOL);
    let r = checks::random_dense(4, 8, 1, 100_000, true, 7);
    checks::dense_forward::<B>(&r, &dev(), kleene_scan::dense_recurrence, TOL);
}

#[test]
fn wgpu_recurrences_match_oracle() {
    for (k, &(batch, len, dim, h0)) in [(1, 1, 1, true), (2, 7, 3, false), (2, 70, 65, true)]
        .iter()
        .enumerate()
    {
        let p = checks::random_diag(batch, len, dim, h0, 200 + k as u64);
        checks::diag_forward::<B>(&p, &dev(), kleene_scan::diagonal_recurrence, TOL);
        checks::diag_grads::<AD>(&p, &dev(), kleene_scan::diagonal_recurrence, TOL);
        checks::cdiag_forward::<B>(&p, &dev(), kleene_scan::complex_diagonal_recurrence, TOL);
        checks::cdiag_grads::<AD>(&p, &dev(), kleene_scan::complex_diagonal_recurrence, TOL);
    }
    for (k, &(vocab, n, batch, len, h0)) in [
        (1, 1, 1, 1, true),
        (3, 5, 2, 6, false),
        (2, 64, 2, 9, true),
        (3, 128, 1, 3, false),
    ]
    .iter()
    .enumerate()
    {
        let q = checks::random_dense(vocab, n, batch, len, h0, 300 + k as u64);
        checks::dense_forward::<B>(&q, &dev(), kleene_scan::dense_recurrence, TOL);
        checks::dense_grads::<AD>(&q, &dev(), kleene_scan::dense_recurrence, TOL);
    }
}

/// Backward at L = 6000, beyond what one launch of the reverse kernel can run on llvmpipe (65,535
/// loop iterations per invocation: 8 channels per unit, every step visited twice), so the reverse
/// pass takes several launches with the state gradient and partial sums carried between them.
/// 9 channels: one unit with the full 8 and one with 1; L not a multiple of the 2048-step block.
#[test]
fn wgpu_long_sequence_backward() {
    let p = random_ss(SsShape::full(1, 9, 6000, 4, 1), 8);
    checks::ss_grads::<AD>(&p, &dev(), kleene_scan::selective_scan, TOL, 9);
}
