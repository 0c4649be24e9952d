//! DeepMind's Transformer (`dm_transformer`) and its five positional encodings (spec
//! `chomsky-hierarchy.md` §5.6): step == forward, causality and gradients for every encoding,
//! DeepMind's parameter counts, the spec's check values of the sin/cos table, ALiBi and RoPE,
//! and one attention layer per encoding against a float64 computation written from
//! DeepMind's `positional_encodings.py` with plain loops.
// The float64 references index their loops as the formulas do.
#![allow(clippy::needless_range_loop)]

mod dm_common;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use dm_common::*;
use kleene_zoo::layers::attention::rotary;
use kleene_zoo::models::dm_attention::DmAttention;
use kleene_zoo::models::dm_positions::{alibi_slopes, alibi_table, sinusoid, sinusoid_row};
use kleene_zoo::{
    AnyModel, DmPositions, DmTransformerConfig, ModelConfig, SequenceModel, ZooError,
};

const ALL: [DmPositions; 5] = [
    DmPositions::None,
    DmPositions::SinCos,
    DmPositions::Alibi,
    DmPositions::Relative,
    DmPositions::Rotary,
];

fn small(positions: DmPositions) -> ModelConfig {
    ModelConfig::DmTransformer(DmTransformerConfig {
        d_model: 16,
        n_layers: 2,
        n_heads: 4,
        positions,
        ..DmTransformerConfig::default()
    })
}

#[test]
fn every_encoding_steps_as_it_forwards() {
    for p in ALL {
        check_step_equals_forward(&format!("{p:?}"), &small(p), 9);
    }
}

#[test]
fn every_encoding_is_causal() {
    for p in ALL {
        check_causal(&format!("{p:?}"), &small(p), 10, 6);
    }
}

#[test]
fn every_encoding_trains_every_parameter() {
    for p in ALL {
        check_gradients(&format!("{p:?}"), &small(p));
    }
}

/// Spec §5.7 (even_pairs: 3 input ids, 2 outputs, the paper's settings).
#[test]
fn parameter_counts_match_deepmind() {
    for p in ALL {
        let cfg = ModelConfig::DmTransformer(DmTransformerConfig {
            positions: p,
            ..DmTransformerConfig::default()
        });
        let n = cfg
            .init::<Nd>(3, 2, &Default::default())
            .unwrap()
            .num_params();
        let want = if p == DmPositions::Relative {
            270_082
        } else {
            248_962
        };
        assert_eq!(n, want, "{p:?}");
    }
}

#[test]
fn bad_dm_transformer_configs_name_the_field() {
    let err = |c: DmTransformerConfig| match ModelConfig::DmTransformer(c).init::<Nd>(
        3,
        2,
        &Default::default(),
    ) {
        Err(ZooError::InvalidConfig { field, .. }) => field,
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("should be rejected"),
    };
    let d = DmTransformerConfig::default;
    assert_eq!(
        err(DmTransformerConfig { n_heads: 3, ..d() }),
        "dm_transformer.n_heads"
    );
    assert_eq!(
        err(DmTransformerConfig {
            dropout: 1.0,
            ..d()
        }),
        "dm_transformer.dropout"
    );
    assert_eq!(
        err(DmTransformerConfig { n_layers: 0, ..d() }),
        "dm_transformer.n_layers"
    );
    assert_eq!(
        err(DmTransformerConfig {
            max_time: 0.0,
            ..d()
        }),
        "dm_transformer.max_time"
    );
    let odd_heads = DmTransformerConfig {
        d_model: 12,
        n_heads: 4,
        positions: DmPositions::Rotary,
        ..d()
    };
    assert_eq!(err(odd_heads), "dm_transformer.positions");
    let odd_width = DmTransformerConfig {
        d_model: 9,
        n_heads: 3,
        positions: DmPositions::SinCos,
        ..d()
    };
    assert_eq!(err(odd_width), "dm_transformer.positions");
    let parsed =
        ModelConfig::from_toml_str("kind = \"dm_transformer\"\npositions = \"alibi\"").unwrap();
    assert_eq!(
        parsed,
        ModelConfig::DmTransformer(DmTransformerConfig {
            positions: DmPositions::Alibi,
            ..d()
        })
    );
    match ModelConfig::from_toml_str("kind = \"dm_transformer\"\npositions = \"learned\"") {
        Err(ZooError::Parse(msg)) => assert!(msg.contains("learned"), "{msg}"),
        other => panic!("unexpected {other:?}"),
    }
}

/// The sin/cos table with d = 8: frequencies 1, 0.1, 0.01, 0.001 (10000^(−2j/8)), sines then
/// cosines; the spec's check value sin(4) = −0.7568 and sin(1) = 0.8415.
#[test]
fn sin_cos_table_is_sines_then_cosines() {
    for p in [0.0, 1.0, 4.0, 37.0] {
        let w = [1.0, 0.1, 0.01, 0.001];
        let mut want: Vec<f64> = w.iter().map(|w: &f64| (p * w).sin()).collect();
        want.extend(w.iter().map(|w: &f64| (p * w).cos()));
        let got = sinusoid_row(p, 8, 10_000.0);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "p={p}: {got:?} vs {want:?}");
        }
    }
    assert!((sinusoid_row(4.0, 8, 1e4)[0] + 0.7568).abs() < 1e-4);
    assert!((sinusoid_row(1.0, 8, 1e4)[0] - 0.8415).abs() < 1e-4);
}

/// With `sin_cos` the model's input is `√d·E[x_t] + PE(t)`, positions counted from 0, also
/// from a later start (the step form).
#[test]
fn sin_cos_is_added_to_the_scaled_embedding() {
    let model = match build::<Nd>(&small(DmPositions::SinCos), 3) {
        AnyModel::DmTransformer(m) => m,
        _ => unreachable!(),
    };
    let ids = [3i64, 0, 4, 4, 1];
    let toks =
        Tensor::<Nd, 2, Int>::from_data(TensorData::new(ids.to_vec(), [1, 5]), &Default::default());
    let e = to_vec(model.embedding.val());
    for start in [0usize, 11] {
        let got = to_vec(model.embed(toks.clone(), start));
        for (t, &id) in ids.iter().enumerate() {
            let pe = sinusoid_row((start + t) as f64, 16, 1e4);
            for c in 0..16 {
                let want = 4.0 * f64::from(e[id as usize * 16 + c]) + pe[c];
                assert!(
                    (f64::from(got[t * 16 + c]) - want).abs() < 1e-5,
                    "t {t} c {c}"
                );
            }
        }
    }
}

/// ALiBi slopes of the official implementation, and the spec's check row.
#[test]
fn alibi_slopes_and_biases_follow_the_formula() {
    let eight: Vec<f64> = (1..=8).map(|i| 2f64.powi(-i)).collect();
    assert_eq!(alibi_slopes(8), eight);
    // Not a power of two: the slopes of 4 heads, then every other slope of 8 heads.
    assert_eq!(
        alibi_slopes(6),
        vec![0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]
    );
    let table = to_vec(alibi_table::<Nd>(
        &alibi_slopes(8),
        0,
        4,
        4,
        &Default::default(),
    ));
    assert_eq!(&table[4..8], &[-0.25, 0.0, -0.5, -1.0]);
    for h in 0..8 {
        for i in 0..4 {
            for j in 0..4 {
                let s = 2f64.powi(-(h as i32) - 1);
                let want = -s * (i as f64 - j as f64).abs() + if j < i { 0.5 * s } else { 0.0 };
                assert_eq!(f64::from(table[(h * 4 + i) * 4 + j]), want);
            }
        }
    }
}

/// DeepMind's RoPE at position 1 on x = 1..8 (the spec's check value), and at position 5
/// against a float64 rotation of adjacent pairs by p·10000^(−2j/8).
#[test]
fn rotary_matches_deepmind_and_a_hand_rotation() {
    let x = Tensor::<Nd, 4>::from_data(
        TensorData::new((1..=8).map(|v| v as f32).collect::<Vec<_>>(), [1, 1, 1, 8]),
        &Default::default(),
    );
    let at1 = to_vec(rotary(x.clone(), 1, 10_000.0));
    let want1 = [-1.1426f32, 1.9221, 2.5857, 4.2795];
    assert!(max_abs_diff(&at1[..4], &want1) < 1e-4, "{at1:?}");
    let at5 = to_vec(rotary(x, 5, 10_000.0));
    for j in 0..4 {
        let (a, b) = ((2 * j + 1) as f64, (2 * j + 2) as f64);
        let th = 5.0 * 10_000f64.powf(-2.0 * j as f64 / 8.0);
        let want = [a * th.cos() - b * th.sin(), b * th.cos() + a * th.sin()];
        assert!((f64::from(at5[2 * j]) - want[0]).abs() < 1e-5);
        assert!((f64::from(at5[2 * j + 1]) - want[1]).abs() < 1e-5);
    }
}

/// One attention layer per encoding, causal and not, on random inputs against
/// [`reference_attention`].
#[test]
fn attention_matches_a_float64_reference_for_every_encoding() {
    let device = Default::default();
    let (b, len, d, heads) = (2, 6, 8, 2);
    for causal in [true, false] {
        for p in ALL {
            Nd::seed(&device, 31);
            let layer = DmAttention::<Nd>::new(d, heads, p, 10_000.0, causal, &device);
            let x = Tensor::<Nd, 3>::random([b, len, d], Distribution::Normal(0.0, 1.0), &device);
            let got = to_vec(layer.forward(x.clone()));
            let xs = to_vec64(x);
            let want = reference_attention(&layer, p, causal, &xs, [b, len, d, heads]);
            let diff = max_abs_diff64(&got, &want);
            assert!(diff < 1e-4, "{p:?} causal {causal}: max |diff| {diff}");
        }
    }
}

fn bidirectional(positions: DmPositions) -> ModelConfig {
    ModelConfig::DmTransformer(DmTransformerConfig {
        d_model: 16,
        n_layers: 2,
        n_heads: 4,
        positions,
        causal: false,
        ..DmTransformerConfig::default()
    })
}

/// `causal = false` is DeepMind's encoder: a later token changes earlier outputs, the
/// parameters are the same, the sin/cos positions count down from the length (the spec's
/// check value: T = 4 gives sin(4) = −0.7568 at the first token, sin(1) = 0.8415 at the last).
#[test]
fn bidirectional_encoder_sees_the_whole_sequence() {
    for p in ALL {
        let model = build::<Nd>(&bidirectional(p), 9);
        let a = [2i64, 0, 1, 3, 4, 1];
        let mut z = a;
        z[5] = 2;
        let out = |ids: [i64; 6]| to_vec(model.forward(tokens::<Nd>(&ids, 1, 6)));
        let (oa, oz) = (out(a), out(z));
        assert!(
            max_abs_diff(&oa[..OUT], &oz[..OUT]) > 1e-6,
            "{p:?}: first output blind to the last token"
        );
        let causal = build::<Nd>(&small(p), 9);
        assert_eq!(causal.num_params(), model.num_params(), "{p:?}");
    }
    let model = match build::<Nd>(&bidirectional(DmPositions::SinCos), 3) {
        AnyModel::DmTransformer(m) => m,
        _ => unreachable!(),
    };
    let e = to_vec(model.embedding.val());
    let got = to_vec(model.embed(tokens::<Nd>(&[1, 1, 1, 1], 1, 4), 0));
    for t in 0..4 {
        let sin0 = f64::from(got[t * 16]) - 4.0 * f64::from(e[16]);
        assert!(
            (sin0 - ((4 - t) as f64).sin()).abs() < 1e-5,
            "t {t}: {sin0}"
        );
    }
    assert!((f64::from(got[0]) - 4.0 * f64::from(e[16]) + 0.7568).abs() < 1e-4);
    assert!((f64::from(got[48]) - 4.0 * f64::from(e[16]) - 0.8415).abs() < 1e-4);
}

#[test]
#[should_panic(expected = "no step")]
fn bidirectional_encoder_has_no_step() {
    let model = build::<Nd>(&bidirectional(DmPositions::None), 1);
    let state = model.init_state(1, &Default::default());
    let _ = model.step(
        Tensor::from_data(TensorData::new(vec![1i64], [1]), &Default::default()),
        state,
    );
}

fn mat(t: Tensor<Nd, 2>) -> Vec<f64> {
    to_vec64(t)
}

/// DeepMind's attention (restricted to keys j ≤ i when `causal`), in f64 loops.
fn reference_attention(
    layer: &DmAttention<Nd>,
    p: DmPositions,
    causal: bool,
    x: &[f64],
    [b, len, d, heads]: [usize; 4],
) -> Vec<f64> {
    let dh = d / heads;
    let proj = |w: &[f64], row: &[f64]| -> Vec<f64> {
        (0..d)
            .map(|o| (0..d).map(|i| row[i] * w[i * d + o]).sum())
            .collect()
    };
    let (wq, wk, wv, wo) = (
        mat(layer.query.weight.val()),
        mat(layer.key.weight.val()),
        mat(layer.value.weight.val()),
        mat(layer.output.weight.val()),
    );
    let rotate = |v: &mut [f64], pos: usize| {
        for h in 0..heads {
            for j in 0..dh / 2 {
                let th = pos as f64 * 10_000f64.powf(-2.0 * j as f64 / dh as f64);
                let (a, c) = (v[h * dh + 2 * j], v[h * dh + 2 * j + 1]);
                v[h * dh + 2 * j] = a * th.cos() - c * th.sin();
                v[h * dh + 2 * j + 1] = c * th.cos() + a * th.sin();
            }
        }
    };
    let slopes = alibi_slopes(heads);
    let mut out = vec![0.0; b * len * d];
    for bi in 0..b {
        let row = |t: usize| &x[(bi * len + t) * d..(bi * len + t + 1) * d];
        let mut q: Vec<Vec<f64>> = (0..len).map(|t| proj(&wq, row(t))).collect();
        let mut k: Vec<Vec<f64>> = (0..len).map(|t| proj(&wk, row(t))).collect();
        let v: Vec<Vec<f64>> = (0..len).map(|t| proj(&wv, row(t))).collect();
        if p == DmPositions::Rotary {
            for t in 0..len {
                rotate(&mut q[t], t);
                rotate(&mut k[t], t);
            }
        }
        for i in 0..len {
            let mut o = vec![0.0; d];
            for h in 0..heads {
                let hd = h * dh..(h + 1) * dh;
                let dot =
                    |a: &[f64], c: &[f64]| -> f64 { a.iter().zip(c).map(|(x, y)| x * y).sum() };
                let keys = if causal { i + 1 } else { len };
                let logits: Vec<f64> = (0..keys)
                    .map(|j| {
                        let raw = match &layer.relative {
                            Some(rel) => {
                                let u = mat(rel.content_bias.val());
                                let vb = mat(rel.position_bias.val());
                                let wr = mat(rel.projection.weight.val());
                                let r = proj(&wr, &sinusoid_row(i as f64 - j as f64, d, 10_000.0));
                                let qu: Vec<f64> = hd.clone().map(|c| q[i][c] + u[c]).collect();
                                let qv: Vec<f64> = hd.clone().map(|c| q[i][c] + vb[c]).collect();
                                dot(&qu, &k[j][hd.clone()]) + dot(&qv, &r[hd.clone()])
                            }
                            None => dot(&q[i][hd.clone()], &k[j][hd.clone()]),
                        };
                        let mut l = raw / (dh as f64).sqrt();
                        if p == DmPositions::Alibi {
                            let bonus = if j < i { 0.5 } else { 0.0 };
                            l += slopes[h] * (bonus - (i as f64 - j as f64).abs());
                        }
                        l
                    })
                    .collect();
                let m = logits.iter().cloned().fold(f64::MIN, f64::max);
                let e: Vec<f64> = logits.iter().map(|l| (l - m).exp()).collect();
                let s: f64 = e.iter().sum();
                for (j, w) in e.iter().enumerate() {
                    for c in hd.clone() {
                        o[c] += w / s * v[j][c];
                    }
                }
            }
            out[(bi * len + i) * d..(bi * len + i + 1) * d].copy_from_slice(&proj(&wo, &o));
        }
    }
    out
}

/// The sinusoid tensor is the row function, row by row.
#[test]
fn sinusoid_tensor_matches_its_rows() {
    let t = to_vec(sinusoid::<Nd>(
        [3.0, 0.0, 250.0].into_iter(),
        6,
        1e4,
        &Default::default(),
    ));
    for (r, p) in [3.0, 0.0, 250.0].iter().enumerate() {
        let want = sinusoid_row(*p, 6, 1e4);
        assert!(max_abs_diff64(&t[r * 6..(r + 1) * 6], &want) < 1e-6);
    }
}
