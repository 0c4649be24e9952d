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
    continuation_equals_whole_of::<B>(SsShape::full(2, 3, 40, 8, 1), dev);
}

/// [`continuation_equals_whole`] for `s` (batch 2, 3 channels, length 40, n 8, one group).
pub fn continuation_equals_whole_of<B: ScanBackend>(s: SsShape, dev: &B::Device) {
    let p = random_ss(s, 77);
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
        transition_range: inp.transition_range,
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

/// `exp(ΔA)` values of the spec's table (Grazzi et al.): `-ln 2 -> 0`, `-ln 4 -> -0.5`,
/// `-10 -> -0.99991` in the [-1, 1] range; `0.5`, `0.25`, `4.5e-5` in the [0, 1] range.
pub const TRANSITION_TABLE: [(f64, f64, f64); 3] = [
    (-std::f64::consts::LN_2, 0.5, 0.0),
    (-2.0 * std::f64::consts::LN_2, 0.25, -0.5),
    (-10.0, 4.539_992_976_248_485e-5, -0.999_909_200_140_470_3),
];

/// One step from `h0 = 1` with `u = 0` leaves `ā` in the final state: checks the table in both
/// ranges, for `d` channels and `n` states (`A[c, k]` walks the table), in `layout`.
pub fn transition_table<B: ScanBackend>(d: usize, n: usize, layout: ScanLayout, dev: &B::Device) {
    use kleene_scan::TransitionRange;
    let a: Vec<f64> = (0..d * n)
        .map(|i| TRANSITION_TABLE[(i / n + i % n) % 3].0)
        .collect();
    for range in [TransitionRange::ZeroOne, TransitionRange::MinusOneOne] {
        let x = |v: f64| Tensor::<B, 3>::full([1, d, 1], v, dev);
        let bc = |v: f64| Tensor::<B, 4>::full([1, 1, n, 1], v, dev);
        let mut inp = SelectiveScanInput::new(
            x(0.0),
            x(1.0),
            super::tensor(&a, [d, n], dev),
            bc(0.7),
            bc(0.3),
        );
        inp.initial_state = Some(Tensor::ones([1, d, n], dev));
        inp.transition_range = range;
        if layout == ScanLayout::ChannelsLast {
            inp = checks::to_channels_last(inp);
        }
        let (_, last) = kleene_scan::selective_scan(inp);
        let got = values(last);
        for (i, g) in got.iter().enumerate() {
            let (_, zero_one, minus_one_one) = TRANSITION_TABLE[(i / n + i % n) % 3];
            let want = match range {
                TransitionRange::ZeroOne => zero_one,
                TransitionRange::MinusOneOne => minus_one_one,
            };
            assert!(
                (g - want).abs() < 1e-6,
                "{range:?}, {layout:?}, d={d}, n={n}: state {i} is {g}, want {want}"
            );
        }
    }
}

/// Constructive parity: with `A = -1`, softplus on and raw `delta` = -30 for a 0 (`Δ ≈ 1e-13`,
/// `ā = 1` in f32) and +30 for a 1 (`Δ = 30`, `ā = 2 e^-30 - 1 = -1` in f32), `u = 0` and
/// `h0 = C = 1`, the output is `(-1)^(number of 1s so far)` with the [-1, 1] range: one channel
/// tracks parity. With the [0, 1] range the state never changes sign (the 1s erase it instead).
pub fn parity_by_sign_flips<B: ScanBackend>(
    d: usize,
    n: usize,
    layout: ScanLayout,
    dev: &B::Device,
) {
    use kleene_scan::TransitionRange;
    let len = 200;
    let mut r = super::rng(31);
    let bits: Vec<bool> = (0..len)
        .map(|_| rand::Rng::random_bool(&mut r, 0.5))
        .collect();
    assert!(
        bits.iter().filter(|&&b| b).count() > 50,
        "a bit string with many 1s"
    );
    let raw: Vec<f64> = (0..d)
        .flat_map(|_| bits.iter().map(|&b| if b { 30.0 } else { -30.0 }))
        .collect();
    let mut prefix = Vec::with_capacity(len);
    let mut ones = 0usize;
    for &b in &bits {
        ones += usize::from(b);
        prefix.push(if ones.is_multiple_of(2) { 1.0 } else { -1.0 });
    }
    for range in [TransitionRange::MinusOneOne, TransitionRange::ZeroOne] {
        let mut inp = SelectiveScanInput::new(
            Tensor::<B, 3>::zeros([1, d, len], dev),
            super::tensor(&raw, [1, d, len], dev),
            Tensor::<B, 2>::full([d, n], -1.0, dev),
            Tensor::<B, 4>::full([1, 1, n, len], 0.5, dev),
            Tensor::<B, 4>::full([1, 1, n, len], 1.0 / n as f64, dev),
        );
        inp.delta_softplus = true;
        inp.initial_state = Some(Tensor::ones([1, d, n], dev));
        inp.transition_range = range;
        if layout == ScanLayout::ChannelsLast {
            inp = checks::to_channels_last(inp);
        }
        let (out, _) = kleene_scan::selective_scan(inp);
        let out = match layout {
            ScanLayout::ChannelsFirst => out,
            ScanLayout::ChannelsLast => out.swap_dims(1, 2),
        };
        let y = values(out);
        for (i, &yt) in y.iter().enumerate() {
            let t = i % len;
            match range {
                TransitionRange::MinusOneOne => assert!(
                    (yt - prefix[t]).abs() < 1e-5,
                    "{layout:?}, d={d}, n={n}: y[{t}] = {yt}, parity sign {}",
                    prefix[t]
                ),
                TransitionRange::ZeroOne => assert!(
                    yt >= 0.0,
                    "{layout:?}: the [0, 1] range cannot flip the sign, y[{t}] = {yt}"
                ),
            }
        }
    }
}
