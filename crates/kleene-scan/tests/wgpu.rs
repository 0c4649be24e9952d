//! The CubeCL kernels on burn-wgpu (Vulkan; Mesa lavapipe in CI) against the f64 oracle: forward on
//! `CubeBackend<WgpuRuntime>`, every gradient on `Autodiff<…>`. Same checks as tests/ndarray.rs.
//! Run: `.ci/scan-wgpu` (sets RUST_MIN_STACK for debug builds).
#![cfg(feature = "wgpu")]

mod common;

use burn::backend::Autodiff;
use common::{checks, suites};
use common::{random_ss, SsShape};
use kleene_scan::ScanLayout;

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
    suites::selective_scan_shapes::<B>(&shapes, &dev(), TOL, ScanLayout::ChannelsFirst);
    // Channels-last goes through permutes around the same kernels.
    suites::selective_scan_shapes::<B>(&shapes[..1], &dev(), TOL, ScanLayout::ChannelsLast);
}

#[test]
fn wgpu_selective_scan_continuation_equals_whole() {
    suites::continuation_equals_whole::<B>(&dev());
}

#[test]
fn wgpu_long_sequences_forward() {
    suites::long_sequences_forward::<B>(&dev(), TOL);
}

#[test]
fn wgpu_recurrences_match_oracle() {
    suites::recurrence_sizes::<B>(
        &[(1, 1, 1, true), (2, 7, 3, false), (2, 70, 65, true)],
        &[
            (1, 1, 1, 1, true),
            (3, 5, 2, 6, false),
            (2, 64, 2, 9, true),
            (3, 128, 1, 3, false),
        ],
        &dev(),
        TOL,
    );
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

/// The [-1, 1] transition (`TransitionRange::MinusOneOne`, `ā = 2 exp(Δ A) - 1`): forward and
/// every gradient against the f64 oracle (the same oracle the CPU kernels are checked against),
/// the spec's `ā` table, continuation from a state, and parity by sign flips.
#[test]
fn wgpu_neg_eigval_matches_oracle() {
    let shapes = [
        ("grouped", SsShape::full(2, 4, 9, 3, 2).neg()),
        (
            "N=16, L=150 (three 64-step chunks)",
            SsShape::full(1, 9, 150, 16, 1).neg(),
        ),
        ("bare", SsShape::bare(2, 3, 10, 5, 1).neg()),
    ];
    suites::selective_scan_shapes::<B>(&shapes, &dev(), TOL, ScanLayout::ChannelsFirst);
    suites::selective_scan_shapes::<B>(&shapes[..1], &dev(), TOL, ScanLayout::ChannelsLast);
}

#[test]
fn wgpu_neg_eigval_table_continuation_parity() {
    for layout in [ScanLayout::ChannelsFirst, ScanLayout::ChannelsLast] {
        suites::transition_table::<B>(3, 3, layout, &dev());
        suites::parity_by_sign_flips::<B>(2, 3, layout, &dev());
    }
    suites::continuation_equals_whole_of::<B>(SsShape::full(2, 3, 40, 8, 1).neg(), &dev());
}
