//! DeepMind's parameter-free positional encodings on the zoo's GPT-2 `transformer`
//! (`positions = "none" | "sin_cos" | "alibi"`, spec `chomsky-hierarchy.md` §5.6): step ==
//! forward, causality, gradients, the sin/cos table added to the token embedding, and one
//! ALiBi attention layer against a float64 computation.
// The float64 references index their loops as the formulas do.
#![allow(clippy::needless_range_loop)]

mod dm_common;

use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use dm_common::*;
use kleene_zoo::layers::attention::{AttentionConfig, AttentionPositions, CausalSelfAttention};
use kleene_zoo::models::dm_positions::{alibi_slopes, sinusoid_row};
use kleene_zoo::{
    AnyModel, ModelConfig, PositionKind, SequenceLayer, SequenceModel, TransformerConfig, ZooError,
};

const NEW: [PositionKind; 3] = [
    PositionKind::None,
    PositionKind::SinCos,
    PositionKind::Alibi,
];

fn small(positions: PositionKind) -> ModelConfig {
    ModelConfig::Transformer(TransformerConfig {
        d_model: 8,
        n_layers: 2,
        n_heads: 2,
        max_len: 64,
        positions,
        ..TransformerConfig::default()
    })
}

#[test]
fn new_positions_step_as_they_forward_and_are_causal() {
    for p in NEW {
        check_step_equals_forward(&format!("{p:?}"), &small(p), 9);
        check_causal(&format!("{p:?}"), &small(p), 10, 6);
        check_gradients(&format!("{p:?}"), &small(p));
    }
}

/// The default is unchanged, and the new encodings add no parameters (no position table).
#[test]
fn default_and_parameter_counts() {
    assert_eq!(
        TransformerConfig::default().positions,
        PositionKind::Learned
    );
    let n = |p| {
        small(p)
            .init::<Nd>(VOCAB, OUT, &Default::default())
            .unwrap()
            .num_params()
    };
    let learned = n(PositionKind::Learned);
    for p in NEW.into_iter().chain([PositionKind::Rotary]) {
        assert_eq!(n(p), learned - 64 * 8, "{p:?}");
    }
    let odd = ModelConfig::Transformer(TransformerConfig {
        d_model: 9,
        n_heads: 3,
        positions: PositionKind::SinCos,
        ..TransformerConfig::default()
    });
    match odd.init::<Nd>(3, 2, &Default::default()) {
        Err(ZooError::InvalidConfig { field, .. }) => assert_eq!(field, "transformer.positions"),
        other => panic!("unexpected {:?}", other.map(|_| ())),
    }
}

/// `sin_cos`: the model is `head(stack(E[x_t] + PE(t)))` with PE from the f64 row formula.
#[test]
fn sin_cos_adds_the_table_to_the_token_embedding() {
    let model = match build::<Nd>(&small(PositionKind::SinCos), 4) {
        AnyModel::Transformer(m) => m,
        _ => unreachable!(),
    };
    let ids = vec![1i64, 4, 0, 2, 2, 3];
    let len = ids.len();
    let toks = Tensor::<Nd, 2, Int>::from_data(
        TensorData::new(ids.clone(), [1, len]),
        &Default::default(),
    );
    let pe: Vec<f32> = (0..len)
        .flat_map(|t| sinusoid_row(t as f64, 8, 10_000.0))
        .map(|v| v as f32)
        .collect();
    let pe = Tensor::<Nd, 3>::from_data(TensorData::new(pe, [1, len, 8]), &Default::default());
    let x = model.token_embedding.forward(toks.clone()) + pe;
    let want = to_vec(model.head.forward(model.stack.forward(x)));
    let got = to_vec(model.forward(toks));
    assert!(max_abs_diff(&got, &want) < 1e-6);
}

/// One causal ALiBi attention layer (fused biased qkv, biased output) against f64 loops:
/// logits `q·k/√d_h + slope_h·(−(i−j) + 0.5·[j < i])` over keys `j ≤ i`.
#[test]
fn alibi_attention_matches_a_float64_reference() {
    let device = Default::default();
    let (b, len, d, heads) = (2, 7, 8, 2);
    Nd::seed(&device, 5);
    let cfg = AttentionConfig {
        n_heads: heads,
        ..AttentionConfig::default()
    };
    let layer = CausalSelfAttention::<Nd>::new(&cfg, d, 2, &device)
        .with_positions(AttentionPositions::Alibi);
    let x = Tensor::<Nd, 3>::random([b, len, d], Distribution::Normal(0.0, 1.0), &device);
    let got = to_vec(layer.forward(x.clone()));
    let x = to_vec64(x);
    let (wqkv, bqkv) = (
        to_vec64(layer.qkv.weight.val()),
        to_vec64(layer.qkv.bias.clone().unwrap().val()),
    );
    let (wo, bo) = (
        to_vec64(layer.out_proj.weight.val()),
        to_vec64(layer.out_proj.bias.clone().unwrap().val()),
    );
    let dh = d / heads;
    let slopes = alibi_slopes(heads);
    let mut want = vec![0.0; b * len * d];
    for bi in 0..b {
        let row = |t: usize| &x[(bi * len + t) * d..(bi * len + t + 1) * d];
        // Column c of the fused projection: q = 0..d, k = d..2d, v = 2d..3d.
        let qkv = |t: usize, c: usize| {
            bqkv[c] + (0..d).map(|i| row(t)[i] * wqkv[i * 3 * d + c]).sum::<f64>()
        };
        for i in 0..len {
            let mut o = vec![0.0; d];
            for h in 0..heads {
                let logits: Vec<f64> = (0..=i)
                    .map(|j| {
                        let dot: f64 = (0..dh)
                            .map(|c| qkv(i, h * dh + c) * qkv(j, d + h * dh + c))
                            .sum();
                        let bonus = if j < i { 0.5 } else { 0.0 };
                        dot / (dh as f64).sqrt() + slopes[h] * (bonus - (i - j) as f64)
                    })
                    .collect();
                let m = logits.iter().cloned().fold(f64::MIN, f64::max);
                let s: f64 = logits.iter().map(|l| (l - m).exp()).sum();
                for (j, l) in logits.iter().enumerate() {
                    for c in 0..dh {
                        o[h * dh + c] += (l - m).exp() / s * qkv(j, 2 * d + h * dh + c);
                    }
                }
            }
            for c in 0..d {
                want[(bi * len + i) * d + c] =
                    bo[c] + (0..d).map(|k| o[k] * wo[k * d + c]).sum::<f64>();
            }
        }
    }
    let diff = max_abs_diff64(&got, &want);
    assert!(diff < 1e-5, "max |diff| {diff}");
}
