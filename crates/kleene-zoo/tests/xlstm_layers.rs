//! The xLSTM mixers `slstm` and `mlstm` (issue 15): the spec's golden vectors (§8.2) for both
//! cells, the stabilised cells against the unstabilised float64 oracles (the stabiliser cancels,
//! spec §8.1 / §8.2) on random inputs with gate pre-activations far past f32's `exp` range, the
//! layers' step == forward, causality, gradients, inits and config errors.

mod icl_common;

use burn::prelude::*;
use burn::tensor::TensorData;
use burn_ndarray::NdArray;
use icl_common::*;
use kleene_zoo::layers::*;
use kleene_zoo::ops::mlstm_cell::{
    mlstm_chunkwise, mlstm_parallel, mlstm_step, MlstmCellState, MLSTM_EPS,
};
use kleene_zoo::ops::slstm_cell::{
    slstm_pointwise, slstm_sequence, slstm_sequence_from_zero, SlstmCellState,
};
use kleene_zoo::{SequenceLayer, ZooError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type B64 = NdArray<f64>;

const D: usize = 8;

fn t64<const N: usize>(v: Vec<f64>, shape: [usize; N]) -> Tensor<B64, N> {
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

fn t32<const N: usize>(v: &[f64], shape: [usize; N]) -> Tensor<B, N> {
    let v: Vec<f32> = v.iter().map(|x| *x as f32).collect();
    Tensor::from_data(TensorData::new(v, shape), &dev())
}

fn vec64<Bk: Backend, const N: usize>(t: Tensor<Bk, N>) -> Vec<f64> {
    t.into_data().convert::<f64>().to_vec::<f64>().unwrap()
}

fn assert_near(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (n, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{n}]: got {g}, want {w}");
    }
}

/// `max |a − b| / max(1, max |b|)` in f64.
fn rel64(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

fn normals(rng: &mut ChaCha8Rng, n: usize, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            // Box–Muller: independent of the code under test.
            let (u, v): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
            scale * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        })
        .collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

// ---------------------------------------------------------------- golden vectors (spec §8.2)

/// One golden step: `(q, k, v, ĩ, f̃, h̃_t)`.
type GoldenStep = ([f64; 2], [f64; 2], [f64; 2], f64, f64, [f64; 2]);

/// mLSTM, one head, DH = 2: `(q, k, v, ĩ, f̃)` per step and the spec's `h̃_t` (as printed in
/// the spec, 6 digits; not 1/√2: eps shifts it).
#[allow(clippy::approx_constant)]
const MLSTM_GOLDEN: [GoldenStep; 3] = [
    (
        [1.0, 0.0],
        [1.0, 0.0],
        [1.0, 2.0],
        0.0,
        0.0,
        [0.707106, 1.414212],
    ),
    (
        [0.0, 1.0],
        [0.0, 1.0],
        [3.0, -1.0],
        1.0,
        2.0,
        [2.999996, -0.999999],
    ),
    (
        [1.0, 1.0],
        [1.0, -1.0],
        [0.5, 0.5],
        -1.0,
        -1.0,
        [1.71831, -0.181933],
    ),
];

#[test]
fn mlstm_cell_recurrent_golden_vector() {
    let mut state = MlstmCellState::<B64>::zeros(1, 1, 2, &Default::default());
    for (t, (q, k, v, i, f, want)) in MLSTM_GOLDEN.iter().enumerate() {
        let (h, s) = mlstm_step(
            t64(q.to_vec(), [1, 1, 2]),
            t64(k.to_vec(), [1, 1, 2]),
            t64(v.to_vec(), [1, 1, 2]),
            t64(vec![*i], [1, 1]),
            t64(vec![*f], [1, 1]),
            state,
            MLSTM_EPS,
        );
        state = s;
        assert_near(
            &vec64(h),
            want,
            2e-6,
            &format!("recurrent h̃ at t={}", t + 1),
        );
    }
}

#[test]
fn mlstm_cell_parallel_golden_vector() {
    let col = |f: &dyn Fn(usize) -> [f64; 2]| -> Vec<f64> { (0..3).flat_map(f).collect() };
    let h = mlstm_parallel(
        t64(col(&|t| MLSTM_GOLDEN[t].0), [1, 1, 3, 2]),
        t64(col(&|t| MLSTM_GOLDEN[t].1), [1, 1, 3, 2]),
        t64(col(&|t| MLSTM_GOLDEN[t].2), [1, 1, 3, 2]),
        t64(MLSTM_GOLDEN.iter().map(|g| g.3).collect(), [1, 1, 3]),
        t64(MLSTM_GOLDEN.iter().map(|g| g.4).collect(), [1, 1, 3]),
        MLSTM_EPS,
    );
    let want: Vec<f64> = MLSTM_GOLDEN.iter().flat_map(|g| g.5).collect();
    assert_near(&vec64(h), &want, 2e-6, "parallel h̃");
}

/// sLSTM, one unit, no recurrence: `(ĩ, f̃, z̃, õ)` per step and the spec's `y, n, m`.
#[test]
fn slstm_cell_golden_vector() {
    let inputs = [
        [0.0, 0.0, 1.0, 0.0],
        [2.0, 1.0, -1.0, 0.5],
        [-3.0, 5.0, 0.3, 2.0],
    ];
    let want_y = [0.380797, -0.388701, -0.545075];
    let want_n = [1.0, 1.098938, 1.105721];
    let want_m = [0.0, 2.0, 1.993285];
    let mut state = SlstmCellState::<B64>::zeros(1, 1, &Default::default());
    for (t, g) in inputs.iter().enumerate() {
        state = slstm_pointwise(g.map(|v| t64(vec![v], [1, 1])), state);
        let what = format!("t={}", t + 1);
        assert_near(
            &vec64(state.y.clone()),
            &[want_y[t]],
            2e-6,
            &format!("y {what}"),
        );
        assert_near(
            &vec64(state.n.clone()),
            &[want_n[t]],
            2e-6,
            &format!("n {what}"),
        );
        assert_near(
            &vec64(state.m.clone()),
            &[want_m[t]],
            2e-6,
            &format!("m {what}"),
        );
    }
}

// ------------------------------------------------- stabilised cells vs unstabilised oracles

/// Gate pre-activations: mostly `N(0, 3²)`, with every fourth one pushed to ±(60..120), where
/// `exp` overflows f32 (e^89 > f32::MAX) and an unstabilised f32 cell gives inf / NaN.
fn gate_preacts(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    let mut v = normals(rng, n, 3.0);
    for x in v.iter_mut().step_by(4) {
        let big: f64 = rng.random_range(60.0..120.0);
        *x = if rng.random_bool(0.7) { big } else { -big };
    }
    v
}

/// The unstabilised mLSTM in f64 for one sequence of one head: `q, k, v: (L, DH)`.
fn mlstm_oracle(q: &[f64], k: &[f64], v: &[f64], i: &[f64], f: &[f64], dh: usize) -> Vec<f64> {
    let l = i.len();
    let mut c = vec![0.0; dh * dh];
    let mut n = vec![0.0; dh];
    let mut out = Vec::with_capacity(l * dh);
    let scale = 1.0 / (dh as f64).sqrt();
    for t in 0..l {
        let (fa, ia) = (sigmoid(f[t]), i[t].exp());
        for a in 0..dh {
            n[a] = fa * n[a] + ia * k[t * dh + a] * scale;
            for b in 0..dh {
                c[a * dh + b] = fa * c[a * dh + b] + ia * k[t * dh + a] * scale * v[t * dh + b];
            }
        }
        let qn: f64 = (0..dh).map(|a| q[t * dh + a] * n[a]).sum();
        let den = qn.abs().max(1.0);
        for b in 0..dh {
            let num: f64 = (0..dh).map(|a| q[t * dh + a] * c[a * dh + b]).sum();
            out.push(num / den);
        }
    }
    out
}

#[test]
fn mlstm_stabilised_forms_match_unstabilised_oracle() {
    assert!(
        89f32.exp().is_infinite(),
        "the large gates must overflow f32"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let (b, nh, l, dh) = (2, 3, 17, 4);
    let qkv = |rng: &mut ChaCha8Rng| normals(rng, b * nh * l * dh, 1.0);
    let (q, k, v) = (qkv(&mut rng), qkv(&mut rng), qkv(&mut rng));
    let i = gate_preacts(&mut rng, b * nh * l);
    let f = gate_preacts(&mut rng, b * nh * l);
    let mut want = Vec::new();
    for s in 0..b * nh {
        let (a, z) = (s * l * dh, (s + 1) * l * dh);
        let g = s * l..(s + 1) * l;
        want.extend(mlstm_oracle(
            &q[a..z],
            &k[a..z],
            &v[a..z],
            &i[g.clone()],
            &f[g],
            dh,
        ));
    }
    // eps = 0: the oracle has no eps (upstream's 1e-6 sits on the stabilised scale).
    let shape = [b, nh, l, dh];
    let par = mlstm_parallel(
        t32(&q, shape),
        t32(&k, shape),
        t32(&v, shape),
        t32(&i, [b, nh, l]),
        t32(&f, [b, nh, l]),
        0.0,
    );
    let par = vec64(par);
    assert!(par.iter().all(|x| x.is_finite()), "parallel: non-finite");
    let e = rel64(&par, &want);
    assert!(e < 1e-4, "parallel f32 vs f64 oracle: {e:e}");
    for chunk in [1, 5, 64] {
        let ch = mlstm_chunkwise(
            t32(&q, shape),
            t32(&k, shape),
            t32(&v, shape),
            t32(&i, [b, nh, l]),
            t32(&f, [b, nh, l]),
            chunk,
            0.0,
        );
        let ch = vec64(ch);
        assert!(
            ch.iter().all(|x| x.is_finite()),
            "chunkwise {chunk}: non-finite"
        );
        let e = rel64(&ch, &want);
        assert!(e < 1e-4, "chunkwise {chunk} f32 vs f64 oracle: {e:e}");
    }
    // The recurrent step, position by position.
    let mut state = MlstmCellState::<B>::zeros(b, nh, dh, &dev());
    let mut rec = vec![0.0; b * nh * l * dh];
    for t in 0..l {
        let at = |x: &[f64], w: usize| -> Vec<f64> {
            (0..b * nh)
                .flat_map(|s| x[(s * l + t) * w..(s * l + t + 1) * w].to_vec())
                .collect()
        };
        let (h, s) = mlstm_step(
            t32(&at(&q, dh), [b, nh, dh]),
            t32(&at(&k, dh), [b, nh, dh]),
            t32(&at(&v, dh), [b, nh, dh]),
            t32(&at(&i, 1), [b, nh]),
            t32(&at(&f, 1), [b, nh]),
            state,
            0.0,
        );
        state = s;
        for (s, hv) in vec64(h).chunks(dh).enumerate() {
            rec[(s * l + t) * dh..(s * l + t + 1) * dh].copy_from_slice(hv);
        }
    }
    assert!(rec.iter().all(|x| x.is_finite()), "recurrent: non-finite");
    let e = rel64(&rec, &want);
    assert!(e < 1e-4, "recurrent f32 vs f64 oracle: {e:e}");
}

/// The chunkwise form carries the recurrent step's stabiliser (`m_0 = 0` included), so with
/// upstream's eps it equals the looped step (in f64), for chunks that divide the length or not,
/// one chunk, and chunks of one position.
#[test]
fn mlstm_chunkwise_equals_recurrent_step_in_f64() {
    let mut rng = ChaCha8Rng::seed_from_u64(51);
    let (b, nh, l, dh) = (2, 2, 11, 3);
    let n = b * nh * l * dh;
    let (q, k, v) = (
        normals(&mut rng, n, 1.0),
        normals(&mut rng, n, 1.0),
        normals(&mut rng, n, 1.0),
    );
    let i = normals(&mut rng, b * nh * l, 4.0);
    let f = normals(&mut rng, b * nh * l, 4.0);
    let shape = [b, nh, l, dh];
    let mut state = MlstmCellState::<B64>::zeros(b, nh, dh, &Default::default());
    let mut rec = vec![0.0; n];
    for t in 0..l {
        let at = |x: &[f64], w: usize| -> Vec<f64> {
            (0..b * nh)
                .flat_map(|s| x[(s * l + t) * w..(s * l + t + 1) * w].to_vec())
                .collect()
        };
        let (h, s) = mlstm_step(
            t64(at(&q, dh), [b, nh, dh]),
            t64(at(&k, dh), [b, nh, dh]),
            t64(at(&v, dh), [b, nh, dh]),
            t64(at(&i, 1), [b, nh]),
            t64(at(&f, 1), [b, nh]),
            state,
            MLSTM_EPS,
        );
        state = s;
        for (s, hv) in vec64(h).chunks(dh).enumerate() {
            rec[(s * l + t) * dh..(s * l + t + 1) * dh].copy_from_slice(hv);
        }
    }
    for chunk in [1, 3, 4, 11, 64] {
        let ch = vec64(mlstm_chunkwise(
            t64(q.clone(), shape),
            t64(k.clone(), shape),
            t64(v.clone(), shape),
            t64(i.clone(), [b, nh, l]),
            t64(f.clone(), [b, nh, l]),
            chunk,
            MLSTM_EPS,
        ));
        let e = rel64(&ch, &rec);
        // 1e-6, not f64 rounding: run with the whole file (not alone), chunk 1 differs from
        // the step by 2.4e-7 in some runs, always the same value; the cause is not found yet.
        assert!(e < 1e-6, "chunk {chunk}: chunkwise vs step {e:e}");
    }
}

/// The unstabilised sLSTM in f64: `wx: (L, B, NH, 4, dh)` (bias included), `r: (NH, dh, 4, dh)`;
/// returns `y: (B, L, NH·dh)`.
fn slstm_oracle(wx: &[f64], r: &[f64], b: usize, l: usize, nh: usize, dh: usize) -> Vec<f64> {
    let d = nh * dh;
    let (mut y, mut c, mut n) = (vec![0.0; b * d], vec![0.0; b * d], vec![0.0; b * d]);
    let mut out = vec![0.0; b * l * d];
    for t in 0..l {
        let mut y_new = vec![0.0; b * d];
        for bi in 0..b {
            for h in 0..nh {
                for j in 0..dh {
                    let pre = |g: usize| {
                        let rec: f64 = (0..dh)
                            .map(|a| y[bi * d + h * dh + a] * r[((h * dh + a) * 4 + g) * dh + j])
                            .sum();
                        wx[((((t * b) + bi) * nh + h) * 4 + g) * dh + j] + rec
                    };
                    let u = bi * d + h * dh + j;
                    let (fa, ia) = (sigmoid(pre(1)), pre(0).exp());
                    c[u] = fa * c[u] + ia * pre(2).tanh();
                    n[u] = fa * n[u] + ia;
                    y_new[u] = sigmoid(pre(3)) * c[u] / n[u];
                    out[(bi * l + t) * d + h * dh + j] = y_new[u];
                }
            }
        }
        y = y_new;
    }
    out
}

#[test]
fn slstm_stabilised_cell_matches_unstabilised_oracle() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (b, l, nh, dh) = (2, 19, 2, 3);
    // (L, B, NH, 4, dh): large values on the i and f gates only (z, o stay moderate).
    let mut wx = normals(&mut rng, l * b * nh * 4 * dh, 1.5);
    let big = gate_preacts(&mut rng, wx.len());
    for (n, x) in wx.iter_mut().enumerate() {
        if (n / dh) % 4 < 2 {
            *x = big[n];
        }
    }
    let r = normals(&mut rng, nh * dh * 4 * dh, 0.5);
    let want = slstm_oracle(&wx, &r, b, l, nh, dh);
    // The op takes (B, L, NH·4·dh).
    let mut wx_bl = vec![0.0; wx.len()];
    let w4 = nh * 4 * dh;
    for t in 0..l {
        for bi in 0..b {
            wx_bl[(bi * l + t) * w4..(bi * l + t + 1) * w4]
                .copy_from_slice(&wx[(t * b + bi) * w4..(t * b + bi + 1) * w4]);
        }
    }
    // The tensor-op loop (the step, as on the GPU backends) and the fused CPU op.
    let state = SlstmCellState::<B>::zeros(b, nh * dh, &dev());
    let (looped, _) = slstm_sequence(
        t32(&wx_bl, [b, l, w4]),
        t32(&r, [nh, dh, 4 * dh]),
        nh,
        state,
    );
    let fused = slstm_sequence_from_zero(t32(&wx_bl, [b, l, w4]), t32(&r, [nh, dh, 4 * dh]), nh);
    for (y, what) in [(looped, "tensor-op loop"), (fused, "fused op")] {
        let y = vec64(y);
        assert!(y.iter().all(|x| x.is_finite()), "{what}: non-finite output");
        let e = rel64(&y, &want);
        assert!(e < 1e-4, "{what}: f32 stabilised vs f64 oracle: {e:e}");
    }
}

// ------------------------------------------------------------------------------ the layers

fn slstm<Bk: Backend>(device: &Bk::Device) -> Slstm<Bk> {
    SlstmConfig {
        n_heads: 2,
        ..Default::default()
    }
    .init(D, 2, device)
    .unwrap()
}

fn slstm_noconv<Bk: Backend>(device: &Bk::Device) -> Slstm<Bk> {
    SlstmConfig {
        n_heads: 4,
        conv1d_kernel_size: 0,
    }
    .init(D, 2, device)
    .unwrap()
}

/// Chunkwise (the default form) with chunks of 4: three chunks and padding at L = 13.
fn mlstm<Bk: Backend>(device: &Bk::Device) -> Mlstm<Bk> {
    MlstmConfig {
        n_heads: 2,
        chunk_size: 4,
        ..Default::default()
    }
    .init(D, 2, device)
    .unwrap()
}

/// The parallel form, no conv (SiLU only), one head, blocks of 2, upstream's rounding to 64.
fn mlstm_variant<Bk: Backend>(device: &Bk::Device) -> Mlstm<Bk> {
    MlstmConfig {
        form: MlstmForm::Parallel,
        n_heads: 1,
        conv1d_kernel_size: 0,
        qkv_proj_blocksize: 2,
        inner_multiple_of: 64,
        ..Default::default()
    }
    .init(D, 2, device)
    .unwrap()
}

layer_suite!(slstm_suite, slstm, 13, 1e-5);
layer_suite!(slstm_noconv_suite, slstm_noconv, 13, 1e-5);
// The chunkwise form equals the stepped one; the parallel form up to upstream's eps.
layer_suite!(mlstm_suite, mlstm, 13, 1e-5);
layer_suite!(mlstm_variant_suite, mlstm_variant, 13, 1e-4);

/// `forward` runs kleene-scan's fused op with its hand-written backward through time, `step`
/// the tensor-op cell under Burn's autodiff: same gradients for every parameter and the input.
#[test]
fn slstm_forward_gradients_match_step_gradients() {
    let layer = perturb(slstm::<AD>(&Default::default()), 0.3);
    check_forward_grads_match_step_grads(&layer, 2, 9, D, 1e-4, "slstm");
}

#[test]
fn slstm_init_is_upstreams() {
    let (d, nh) = (16, 2);
    let layer = SlstmConfig {
        n_heads: nh,
        ..Default::default()
    }
    .init::<B>(d, 1, &dev())
    .unwrap();
    let dh = d / nh;
    assert!(to_vec(layer.recurrent.val()).iter().all(|&v| v == 0.0));
    assert_eq!(layer.recurrent.dims(), [nh, dh, 4, dh]);
    let bias = to_vec(layer.bias.val());
    for h in 0..nh {
        for g in 0..4 {
            for j in 0..dh {
                let got = bias[(h * 4 + g) * dh + j] as f64;
                let want = if g == 1 {
                    5.0 - 12.0 * (j as f64 / (dh - 1) as f64).powf(0.3)
                } else {
                    0.0
                };
                assert!(
                    (got - want).abs() < 1e-6,
                    "bias[{h},{g},{j}] = {got}, want {want}"
                );
            }
        }
    }
    assert!((bias[dh] - 5.0).abs() < 1e-6 && (bias[2 * dh - 1] + 7.0).abs() < 1e-6);
    assert_eq!(layer.i_proj.weight.dims(), [nh, dh, dh]);
    assert!(to_vec(layer.norm_weight.val()).iter().all(|&v| v == 0.0));
}

/// Sample standard deviation of `v`.
fn std_of(v: &[f32]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().map(|x| *x as f64).sum::<f64>() / n;
    (v.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt()
}

#[test]
fn mlstm_init_and_sizes_are_upstreams() {
    let sizes = |cfg: &MlstmConfig| [16, 32, 64, 128].map(|d| cfg.inner_size(d).unwrap());
    assert_eq!(sizes(&MlstmConfig::default()), [32, 64, 128, 256]);
    let upstream = MlstmConfig {
        inner_multiple_of: 64,
        ..Default::default()
    };
    assert_eq!(sizes(&upstream), [64, 64, 128, 256]);
    let (d, n_layer) = (128, 3);
    let layer = MlstmConfig::default()
        .init::<B>(d, n_layer, &dev())
        .unwrap();
    let inner = 256;
    assert_eq!(layer.proj_up.weight.dims(), [d, 2 * inner]);
    assert_eq!(layer.q_proj.weight.dims(), [inner / 4, 4, 4]);
    let small = (2.0 / (5.0 * d as f64)).sqrt();
    let s = std_of(&to_vec(layer.q_proj.weight.val()));
    assert!(
        (s / small - 1.0).abs() < 0.1,
        "q_proj std {s}, want {small}"
    );
    let s = std_of(&to_vec(layer.proj_up.weight.val()));
    assert!(
        (s / small - 1.0).abs() < 0.05,
        "proj_up std {s}, want {small}"
    );
    let wang = 2.0 / n_layer as f64 / (d as f64).sqrt();
    let s = std_of(&to_vec(layer.proj_down.weight.val()));
    assert!(
        (s / wang - 1.0).abs() < 0.05,
        "proj_down std {s}, want {wang}"
    );
    assert!(to_vec(layer.fgate.weight.val()).iter().all(|&v| v == 0.0));
    assert!(to_vec(layer.igate.weight.val()).iter().all(|&v| v == 0.0));
    let fb = to_vec(layer.fgate.bias.as_ref().unwrap().val());
    assert_near(
        &fb.iter().map(|v| *v as f64).collect::<Vec<_>>(),
        &[3.0, 4.0, 5.0, 6.0],
        1e-6,
        "fgate bias",
    );
    assert!(to_vec(layer.skip.val()).iter().all(|&v| v == 1.0));
}

/// The head-wise map against upstream's definition, `y[.., h, o] = Σ_d x[.., h, d] W[h, o, d]`.
#[test]
fn linear_headwise_is_upstreams_einsum() {
    let (heads, blk, rows) = (3, 4, 5);
    let map =
        kleene_zoo::layers::xlstm_parts::LinearHeadwise::<B>::new(heads * blk, heads, 1.0, &dev());
    let x = randn::<B, 3>([1, rows, heads * blk], &dev());
    let (xv, wv) = (to_vec(x.clone()), to_vec(map.weight.val()));
    let got = to_vec(map.forward(x));
    for r in 0..rows {
        for h in 0..heads {
            for o in 0..blk {
                let want: f64 = (0..blk)
                    .map(|d| {
                        xv[r * heads * blk + h * blk + d] as f64
                            * wv[(h * blk + o) * blk + d] as f64
                    })
                    .sum();
                let g = got[r * heads * blk + h * blk + o] as f64;
                assert!(
                    (g - want).abs() < 1e-5,
                    "row {r} head {h} out {o}: {g} vs {want}"
                );
            }
        }
    }
}

fn field_of(e: ZooError) -> String {
    match e {
        ZooError::InvalidConfig { field, .. } => field,
        other => panic!("not a config error: {other}"),
    }
}

#[test]
fn bad_configs_name_the_field() {
    let s = |c: SlstmConfig, d: usize| field_of(c.validate(d).unwrap_err());
    assert_eq!(
        s(
            SlstmConfig {
                n_heads: 3,
                ..Default::default()
            },
            8
        ),
        "slstm.n_heads"
    );
    assert_eq!(
        s(
            SlstmConfig {
                n_heads: 0,
                ..Default::default()
            },
            8
        ),
        "slstm.n_heads"
    );
    let m = |c: MlstmConfig| field_of(c.validate(8).unwrap_err());
    let base = MlstmConfig::default;
    assert_eq!(
        m(MlstmConfig {
            n_heads: 3,
            ..base()
        }),
        "mlstm.n_heads"
    );
    assert_eq!(
        m(MlstmConfig {
            n_heads: 0,
            ..base()
        }),
        "mlstm.n_heads"
    );
    assert_eq!(
        m(MlstmConfig {
            proj_factor: f64::NAN,
            ..base()
        }),
        "mlstm.proj_factor"
    );
    assert_eq!(
        m(MlstmConfig {
            proj_factor: 0.0,
            ..base()
        }),
        "mlstm.proj_factor"
    );
    assert_eq!(
        m(MlstmConfig {
            inner_multiple_of: 0,
            ..base()
        }),
        "mlstm.inner_multiple_of"
    );
    assert_eq!(
        m(MlstmConfig {
            chunk_size: 0,
            ..base()
        }),
        "mlstm.chunk_size"
    );
    assert_eq!(
        m(MlstmConfig {
            qkv_proj_blocksize: 3,
            ..base()
        }),
        "mlstm.qkv_proj_blocksize"
    );
    // Through the TOML entry point too: unknown fields are refused by name.
    let e = toml::from_str::<MixerConfig>("layer = \"mlstm\"\nheads = 2").unwrap_err();
    assert!(e.to_string().contains("heads"), "{e}");
}
