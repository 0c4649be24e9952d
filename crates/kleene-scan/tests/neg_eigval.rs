//! The [-1, 1] transition of the selective scan (`TransitionRange::MinusOneOne`, Grazzi et al.,
//! ICLR 2025: `ā = 2 exp(Δ A) - 1`) on the CPU kernels (both layouts, the 8-lane AVX paths and
//! the SSE/scalar path) and the tensor-op reference: forward against a brute-force f64 loop
//! written here, gradients against the f64 oracle (whose backward tests/oracle_fd.rs checks
//! against finite differences), the spec's table of `ā`, continuation from a state, and the
//! constructive parity tracker.

mod common;

use burn::backend::Autodiff;
use burn_ndarray::NdArray;
use common::oracle::{silu, softplus, SsProblem};
use common::{assert_close, checks, random_ss, suites, SsShape};
use kleene_scan::{reference, ScanLayout};

type B = NdArray<f32>;
type AD = Autodiff<B>;

const TOL: f64 = 1e-5;
/// As in tests/ndarray.rs: Burn's f32 autodiff of the reference's `exp`/`log1p`.
const REF_GRAD_TOL: f64 = 5e-5;

fn dev() -> burn_ndarray::NdArrayDevice {
    Default::default()
}

/// The scan as the spec writes it, one scalar at a time: `(out, final state)`, channels-first.
fn brute_force(p: &SsProblem) -> (Vec<f64>, Vec<f64>) {
    assert!(p.neg_eigval);
    let (nb, nd, nl, nn) = (p.batch, p.d, p.len, p.n);
    let per_group = nd / p.groups;
    let mut out = vec![0.0; nb * nd * nl];
    let mut last = vec![0.0; nb * nd * nn];
    for bb in 0..nb {
        for c in 0..nd {
            let g = c / per_group;
            let bc = |m: &[f64], k: usize, t: usize| m[((bb * p.groups + g) * nn + k) * nl + t];
            let mut h = vec![0.0; nn];
            if let Some(h0) = &p.h0 {
                h.copy_from_slice(&h0[(bb * nd + c) * nn..][..nn]);
            }
            for t in 0..nl {
                let i = (bb * nd + c) * nl + t;
                let raw = p.delta[i] + p.delta_bias.as_ref().map_or(0.0, |v| v[c]);
                let dt = if p.softplus { softplus(raw) } else { raw };
                let mut y = p.d_skip.as_ref().map_or(0.0, |v| v[c]) * p.u[i];
                for (k, hk) in h.iter_mut().enumerate() {
                    let abar = 2.0 * (dt * p.a[c * nn + k]).exp() - 1.0;
                    *hk = abar * *hk + dt * bc(&p.b, k, t) * p.u[i];
                    y += bc(&p.c, k, t) * *hk;
                }
                out[i] = p.z.as_ref().map_or(y, |z| y * silu(z[i]));
            }
            last[(bb * nd + c) * nn..][..nn].copy_from_slice(&h);
        }
    }
    (out, last)
}

/// Shapes that reach every CPU path: n = 8, 16, 64 the AVX channels-first kernel, other n its
/// SSE/scalar path; 8·k channels per group the channels-last kernel, others its permute fallback.
fn shapes() -> Vec<(&'static str, SsShape)> {
    vec![
        ("grouped, N=3", SsShape::full(2, 4, 9, 3, 2).neg()),
        ("N=16, L=50", SsShape::full(2, 8, 50, 16, 1).neg()),
        ("N=64", SsShape::full(1, 2, 17, 64, 1).neg()),
        (
            "16 channels in 2 groups, N=8",
            SsShape::full(2, 16, 23, 8, 2).neg(),
        ),
        ("bare, N=5", SsShape::bare(2, 3, 10, 5, 1).neg()),
        (
            "h0 only, N=8",
            SsShape {
                h0: true,
                ..SsShape::bare(1, 8, 30, 8, 1).neg()
            },
        ),
    ]
}

#[test]
fn forward_matches_brute_force_loop() {
    for (k, (name, s)) in shapes().into_iter().enumerate() {
        let p = random_ss(s, 500 + k as u64);
        let (want_out, want_last) = brute_force(&p);
        // The shared oracle agrees with this loop, so its gradients below are for this forward.
        let (o, l) = p.forward();
        assert_close(name, &o, &want_out, 1e-12);
        assert_close(name, &l, &want_last, 1e-12);
        type F = checks::SsFn<B>;
        for (path, f) in [
            ("channels-first", kleene_scan::selective_scan as F),
            ("channels-last", checks::channels_last as F),
            ("reference", reference::selective_scan as F),
        ] {
            println!("{name}: {path}");
            let (out, last) = f(common::ss_input::<B>(&p, &dev()));
            assert_close(name, &common::values(out), &want_out, TOL);
            assert_close(name, &common::values(last), &want_last, TOL);
        }
    }
}

#[test]
fn gradients_match_oracle() {
    let shapes = shapes();
    suites::selective_scan_shapes::<B>(&shapes, &dev(), TOL, ScanLayout::ChannelsFirst);
    suites::selective_scan_shapes::<B>(&shapes, &dev(), TOL, ScanLayout::ChannelsLast);
}

#[test]
fn reference_gradients_match_oracle() {
    let p = random_ss(SsShape::full(2, 4, 9, 3, 2).neg(), 104);
    checks::ss_grads::<AD>(&p, &dev(), reference::selective_scan, REF_GRAD_TOL, 5);
    checks::ss_grads::<AD>(&p, &dev(), checks::reference_channels_last, REF_GRAD_TOL, 6);
}

/// The oracle differs from itself without the flag (the flag is not silently ignored anywhere
/// upstream of the comparisons above).
#[test]
fn flag_changes_the_result() {
    let p = random_ss(SsShape::full(1, 8, 20, 8, 1).neg(), 9);
    let off = SsProblem {
        neg_eigval: false,
        ..p.clone()
    };
    let on = kleene_scan::selective_scan(common::ss_input::<B>(&p, &dev()));
    let without = kleene_scan::selective_scan(common::ss_input::<B>(&off, &dev()));
    let e = common::rel_err(&common::values(on.0), &common::values(without.0));
    assert!(
        e > 0.1,
        "the two ranges give nearly the same output ({e:.2e})"
    );
}

#[test]
fn transition_table_values() {
    for (d, n) in [(1, 1), (3, 3), (8, 8), (16, 16)] {
        for layout in [ScanLayout::ChannelsFirst, ScanLayout::ChannelsLast] {
            suites::transition_table::<B>(d, n, layout, &dev());
        }
    }
}

#[test]
fn continuation_equals_whole() {
    suites::continuation_equals_whole_of::<B>(SsShape::full(2, 3, 40, 8, 1).neg(), &dev());
}

#[test]
fn one_channel_tracks_parity() {
    for (d, n) in [(1, 1), (8, 8), (16, 3)] {
        for layout in [ScanLayout::ChannelsFirst, ScanLayout::ChannelsLast] {
            suites::parity_by_sign_flips::<B>(d, n, layout, &dev());
        }
    }
}
