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

// ---- The generalized delta rule (kleene_scan::delta::cube) ----

mod delta_rule {
    use super::{dev, AD, B};
    use crate::common::delta::{dims, op_grads, DeltaProblem, Family};
    use crate::common::{rel_err, rng, uniform, values};
    use kleene_scan::delta::cube::{backward_chunking, kernels_apply, LOOP_BUDGET, MAX_DIM};
    use kleene_scan::{delta_rule, DeltaDims};

    type Cpu = burn::backend::Autodiff<burn_ndarray::NdArray<f32>>;

    const FAMILIES: [Family; 4] = [
        Family::DeltaPositive,
        Family::DeltaNegative,
        Family::Gated,
        Family::Generic,
    ];
    const NAMES: [&str; 7] = ["q", "k", "v", "a", "b", "w", "s0"];

    #[track_caller]
    fn forward_matches_oracle(p: &DeltaProblem, tol: f64) {
        assert_eq!(kernels_apply(&p.dims), p.dims.dk <= MAX_DIM, "{:?}", p.dims);
        let (o, last) = delta_rule::<B>(p.input(&dev()));
        let (want_o, want_last) = p.oracle();
        let eo = rel_err(&values(o), &want_o);
        let el = rel_err(&values(last), &want_last);
        let (d, w, s) = (p.dims, p.w.is_some(), p.s0.is_some());
        let what = format!("{d:?} w {w} s0 {s}: o {eo:.2e}, S {el:.2e}");
        assert!(eo < tol && el < tol, "{what}");
    }

    /// The wgpu backward (`Autodiff<Wgpu>`) against the CPU one (`Autodiff<NdArray>`, checked
    /// against finite differences of the f64 oracle in tests/delta.rs), every input.
    #[track_caller]
    fn grads_match_cpu(p: &DeltaProblem, seed: u64, tol: f64) {
        let d = p.dims;
        assert!(kernels_apply(&d), "{d:?} would take the host path");
        let mut r = rng(seed);
        let ro = uniform(&mut r, d.sequences() * d.len * d.dv, -1.0, 1.0);
        let rs = uniform(&mut r, d.sequences() * d.dk * d.dv, -1.0, 1.0);
        let got = op_grads::<AD>(p, &ro, &rs, &dev());
        let want = op_grads::<Cpu>(p, &ro, &rs, &Default::default());
        for (f, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.len(), w.len(), "d/d{}: presence differs", NAMES[f]);
            if w.is_empty() {
                continue;
            }
            if w.iter().all(|&x| x == 0.0) {
                // d/da, d/db, d/dw at L = 1 from a zero state
                let name = NAMES[f];
                assert!(g.iter().all(|x| x.abs() < 1e-6), "d/d{name}: {g:?} vs 0");
                continue;
            }
            let e = rel_err(g, w);
            assert!(e < tol, "{d:?} d/d{}: rel err {e:.2e}", NAMES[f]);
        }
    }

    fn problem(seed: u64, d: DeltaDims, family: Family, with_state: bool) -> DeltaProblem {
        DeltaProblem::random(&mut rng(seed), d, family, with_state)
    }

    /// Odd heads, dk != dv both ways, L = 1, every family, with and without initial state and w
    /// (DeltaNet families have no w), a 64-wide key (cube of 64 units).
    fn shapes() -> [DeltaDims; 6] {
        [
            dims(2, 3, 17, 5, 7),
            dims(1, 1, 1, 4, 4),
            dims(3, 1, 33, 8, 3),
            dims(1, 5, 64, 16, 16),
            dims(1, 3, 9, 1, 2),
            dims(1, 2, 20, 64, 24),
        ]
    }

    #[test]
    fn wgpu_delta_forward_matches_oracle() {
        for (i, &d) in shapes().iter().enumerate() {
            for (f, family) in FAMILIES.into_iter().enumerate() {
                for with_state in [true, false] {
                    let p = problem(100 + 10 * i as u64 + f as u64, d, family, with_state);
                    forward_matches_oracle(&p, 1e-5);
                }
            }
        }
    }

    /// L = 3000 with dk = 16: the forward takes two launches (60,000 / (2·16 + 4) steps each).
    #[test]
    fn wgpu_delta_forward_long() {
        for (family, with_state) in [(Family::DeltaNegative, true), (Family::Generic, false)] {
            let p = problem(200, dims(1, 3, 3000, 16, 5), family, with_state);
            forward_matches_oracle(&p, 1e-4);
        }
    }

    /// Outside the kernels' bounds (dk > MAX_DIM) the host path runs.
    #[test]
    fn wgpu_delta_host_fallback() {
        let p = problem(210, dims(1, 2, 3, MAX_DIM + 1, 2), Family::Generic, true);
        forward_matches_oracle(&p, 1e-5);
    }

    #[test]
    fn wgpu_delta_gradients_match_cpu() {
        for (i, &d) in shapes().iter().enumerate() {
            for (f, family) in FAMILIES.into_iter().enumerate() {
                let with_state = (i + f) % 2 == 0;
                let p = problem(300 + 10 * i as u64 + f as u64, d, family, with_state);
                grads_match_cpu(&p, 400 + 10 * i as u64 + f as u64, 1e-5);
            }
        }
    }

    /// L = 3000: the backward's recompute chunk is 55 steps and one reverse launch covers fewer
    /// than 3000 steps (llvmpipe's loop limit), so dS crosses launches; without and with w and
    /// initial state.
    #[test]
    fn wgpu_delta_gradients_long() {
        let d = dims(1, 3, 3000, 4, 5);
        let (chunk, per_launch) = backward_chunking(d.len, d.dk, d.dv);
        assert!(chunk * per_launch < d.len && chunk * per_launch <= LOOP_BUDGET);
        for (family, with_state) in [(Family::DeltaNegative, true), (Family::Generic, false)] {
            let p = problem(500, d, family, with_state);
            grads_match_cpu(&p, 501, 1e-5);
        }
    }
}
