//! Whole ICL-zoo models: backbone wiring, forward == step for every mixer and backbone kind,
//! gradients, serde configs and their errors, and a tiny overfit check per mixer.

mod icl_common;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::activation::tanh;
use burn::tensor::Distribution;
use icl_common::*;
use kleene_zoo::backbone::*;
use kleene_zoo::layers::*;
use kleene_zoo::models::icl::*;
use kleene_zoo::{SequenceLayer, SequenceModel, ZooError};

const VOCAB: usize = 7;

fn small_model(name: &str, d: usize, n_layer: usize, kind: BackboneKind) -> IclModelConfig {
    let mut cfg = IclModelConfig::new(small_mixer(name));
    cfg.backbone.d_model = d;
    cfg.backbone.n_layer = n_layer;
    cfg.backbone.embed_dropout = 0.0;
    cfg.backbone.backbone = kind;
    cfg
}

/// The `lm_simple` / `no_ffn` model inside an [`IclModel`].
fn residual(model: IclModel<B>) -> LmBackbone<B, Mixer<B>> {
    match model {
        IclModel::Residual(m) => m,
        IclModel::NoFfnFaithful(_) => panic!("expected a residual backbone"),
    }
}

fn tokens<Bk: Backend>(batch: usize, len: usize, device: &Bk::Device) -> Tensor<Bk, 2, Int> {
    Tensor::<Bk, 2>::random(
        [batch, len],
        Distribution::Uniform(0.0, VOCAB as f64 - 1e-3),
        device,
    )
    .int()
}

fn run_model_steps<Bk: Backend, M: SequenceModel<Bk>>(
    model: &M,
    tokens: Tensor<Bk, 2, Int>,
) -> Tensor<Bk, 3> {
    let [b, l] = tokens.dims();
    let mut state = model.init_state(b, &tokens.device());
    let mut outs = Vec::new();
    for t in 0..l {
        let (y, s) = model.step(tokens.clone().narrow(1, t, 1).reshape([b]), state);
        state = s;
        outs.push(y.reshape([b, 1, model.out_dim()]));
    }
    Tensor::cat(outs, 1)
}

#[test]
fn every_model_step_matches_forward_for_every_backbone() {
    for name in MixerConfig::NAMES {
        for kind in [
            BackboneKind::LmSimple,
            BackboneKind::NoFfn,
            BackboneKind::NoFfnFaithful,
        ] {
            let mut cfg = small_model(name, 8, 2, kind);
            // Learned positions shorter than the input: the last row is reused past the table.
            cfg.backbone.max_position_embeddings =
                if kind == BackboneKind::LmSimple { 5 } else { 0 };
            let model = perturb(cfg.init::<B>(VOCAB, VOCAB, &dev()).unwrap(), 0.1);
            let x = tokens::<B>(2, 9, &dev());
            let full = model.forward(x.clone());
            assert_eq!(full.dims(), [2, 9, VOCAB]);
            assert_close(
                run_model_steps(&model, x),
                full,
                1e-5,
                &format!("{name} {kind:?}"),
            );
        }
    }
}

#[test]
fn untied_head_when_out_dim_differs() {
    let cfg = small_model("gla", 8, 1, BackboneKind::LmSimple);
    let tied = residual(cfg.init::<B>(VOCAB, VOCAB, &dev()).unwrap());
    assert!(tied.head.is_none());
    assert_eq!(tied.max_len(), None);
    let untied = residual(cfg.init::<B>(VOCAB, 3, &dev()).unwrap());
    assert!(untied.head.is_some());
    assert_eq!(untied.out_dim(), 3);
    let y = untied.forward(tokens::<B>(2, 5, &dev()));
    assert_eq!(y.dims(), [2, 5, 3]);
    let mut no_tie = cfg.clone();
    no_tie.backbone.tie_embeddings = false;
    assert!(residual(no_tie.init::<B>(VOCAB, VOCAB, &dev()).unwrap())
        .head
        .is_some());
}

fn gelu_tanh(x: Tensor<B, 3>) -> Tensor<B, 3> {
    let inner = (x.clone() + x.clone() * x.clone() * x.clone() * 0.044715)
        * (2.0 / std::f64::consts::PI).sqrt();
    x.clone() * (tanh(inner) + 1.0) * 0.5
}

/// `lm_simple` wiring spelled out from the model's parts: embedding + positions, pre-LN mixer
/// and MLP residuals (GELU tanh), final LN, tied head.
#[test]
fn lm_simple_wiring() {
    let mut cfg = small_model("retnet", 8, 2, BackboneKind::LmSimple);
    cfg.backbone.max_position_embeddings = 6;
    let model = residual(perturb(cfg.init::<B>(VOCAB, VOCAB, &dev()).unwrap(), 0.2));
    assert_eq!(model.max_len(), Some(6));
    let x = tokens::<B>(2, 6, &dev());
    let positions = Tensor::<B, 1, Int>::arange(0..6, &dev()).reshape([1, 6]);
    let mut r = model.embedding.forward(x.clone())
        + model.pos_embedding.as_ref().unwrap().forward(positions);
    for block in &model.stack.blocks {
        r = r.clone() + block.mixer.forward(block.norm.forward(r));
        let mlp = block.mlp.as_ref().unwrap();
        let h = block.mlp_norm.as_ref().unwrap().forward(r.clone());
        r = r + mlp.fc2.forward(gelu_tanh(mlp.fc1.forward(h)));
    }
    let y = model.stack.norm_f.forward(r);
    let logits = y
        .reshape([12, 8])
        .matmul(model.embedding.weight.val().transpose())
        .reshape([2, 6, VOCAB]);
    assert_close(model.forward(x), logits, 1e-5, "lm_simple wiring");
}

/// The published `lm_simple_noffn`: one mixer on the raw embeddings, no norm, tied head.
#[test]
fn faithful_noffn_is_one_mixer_on_raw_embeddings() {
    let cfg = small_model("lru", 8, 4, BackboneKind::NoFfnFaithful);
    let model = match perturb(cfg.init::<B>(VOCAB, VOCAB, &dev()).unwrap(), 0.2) {
        IclModel::NoFfnFaithful(m) => m,
        IclModel::Residual(_) => panic!("expected the faithful backbone"),
    };
    // One mixer, no norm: the type has no room for more.
    let x = tokens::<B>(2, 6, &dev());
    let y = model.mixer.forward(model.embedding.forward(x.clone()));
    let logits = y
        .reshape([12, 8])
        .matmul(model.embedding.weight.val().transpose())
        .reshape([2, 6, VOCAB]);
    assert_close(model.forward(x), logits, 1e-5, "faithful noffn");
    // The stacked (corrected) variant keeps all layers, with norms.
    let stacked = residual(
        small_model("lru", 8, 4, BackboneKind::NoFfn)
            .init::<B>(VOCAB, VOCAB, &dev())
            .unwrap(),
    );
    assert_eq!(stacked.stack.blocks.len(), 4);
    assert!(stacked
        .stack
        .blocks
        .iter()
        .all(|b| b.mlp.is_none() && b.mlp_norm.is_none()));
}

#[test]
fn gradients_reach_every_parameter_of_every_model() {
    let device = Default::default();
    for name in MixerConfig::NAMES {
        let mut cfg = small_model(name, 8, 2, BackboneKind::LmSimple);
        cfg.backbone.max_position_embeddings = 6;
        let model = perturb(cfg.init::<AD>(VOCAB, VOCAB, &device).unwrap(), 0.1);
        // Every token id appears, every position of the table is used.
        let x = Tensor::<AD, 1, Int>::arange(0..12, &device)
            .remainder_scalar(VOCAB as i64)
            .reshape([2, 6]);
        let loss = readout_loss(model.forward(x));
        check_all_grads(&model, loss, name);
    }
}

#[test]
fn every_regbench_dfa_config_builds_and_runs() {
    // REGBENCH's architectures have presets; a mixer it did not run is refused by name.
    let mut with_preset = Vec::new();
    for &name in MixerConfig::NAMES {
        let cfg = match IclModelConfig::regbench_dfa(name) {
            Ok(cfg) => cfg,
            Err(ZooError::InvalidConfig { field, .. }) if field == "mixer" => continue,
            Err(e) => panic!("{name}: {e}"),
        };
        with_preset.push(name);
        let model = cfg.init::<B>(20, 20, &dev()).unwrap();
        let y = model.forward(tokens::<B>(1, 10, &dev()));
        assert_eq!(y.dims(), [1, 10, 20]);
        assert!(to_vec(y).iter().all(|v| v.is_finite()), "{name}");
        // JSON round trip.
        let json = serde_json::to_string(&cfg).unwrap();
        let back: IclModelConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg, "{name}: {json}");
    }
    assert_eq!(
        with_preset,
        [
            "s4d",
            "h3",
            "hyena",
            "gilr",
            "lru",
            "rwkv",
            "retnet",
            "gla",
            "linear_attention",
            "lstm",
            "mamba",
            "attention"
        ]
    );
    let lt = IclModelConfig::regbench_dfa("linear_attention").unwrap();
    assert_eq!(lt.backbone.max_position_embeddings, 4098);
    assert_eq!((lt.backbone.d_model, lt.backbone.n_layer), (128, 8));
    match lt.mixer {
        MixerConfig::LinearAttention(c) => {
            assert_eq!(c.feature_map, FeatureMap::Identity);
            assert!(!c.normalize);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        IclModelConfig::regbench_dfa("nope"),
        Err(ZooError::UnknownModel(_))
    ));
}

#[test]
fn config_json_defaults_and_errors() {
    let cfg: IclModelConfig = serde_json::from_str(
        r#"{"d_model": 16, "n_layer": 1, "mixer": {"layer": "gla", "n_heads": 2}}"#,
    )
    .unwrap();
    assert_eq!(cfg.backbone.d_model, 16);
    assert_eq!(cfg.backbone.mlp_ratio, 4);
    assert_eq!(cfg.backbone.embed_dropout, 0.1);
    assert_eq!(
        cfg.mixer,
        MixerConfig::Gla(GlaConfig {
            n_heads: 2,
            chunk_size: 16
        })
    );

    let rwkv: IclModelConfig =
        serde_json::from_str(r#"{"mixer": {"layer": "rwkv", "decay": "corrected"}}"#).unwrap();
    assert_eq!(
        rwkv.mixer,
        MixerConfig::Rwkv(RwkvConfig {
            decay: RwkvDecay::Corrected
        })
    );
    assert_eq!(rwkv.backbone, BackboneConfig::default());

    let typo =
        serde_json::from_str::<IclModelConfig>(r#"{"mixer": {"layer": "gla", "n_head": 2}}"#)
            .unwrap_err()
            .to_string();
    assert!(typo.contains("n_head"), "{typo}");
    let unknown = serde_json::from_str::<IclModelConfig>(r#"{"mixer": {"layer": "mamba3"}}"#)
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("mamba3"), "{unknown}");

    let field = |r: Result<IclModel<B>, ZooError>| match r {
        Err(ZooError::InvalidConfig { field, .. }) => field,
        other => panic!("expected InvalidConfig, got {:?}", other.map(|_| ())),
    };
    let mut bad = small_model("retnet", 8, 1, BackboneKind::LmSimple);
    bad.backbone.n_layer = 0;
    assert_eq!(field(bad.init(VOCAB, VOCAB, &dev())), "n_layer");
    let ok = small_model("retnet", 8, 1, BackboneKind::LmSimple);
    assert_eq!(field(ok.init(0, VOCAB, &dev())), "vocab_size");
    assert_eq!(field(ok.init(VOCAB, 0, &dev())), "out_dim");
    let mut heads = ok.clone();
    heads.mixer = MixerConfig::Retnet(RetentionConfig {
        n_heads: 3,
        ..Default::default()
    });
    assert_eq!(field(heads.init(VOCAB, VOCAB, &dev())), "retnet.n_heads");
    let mut drop = ok;
    drop.backbone.embed_dropout = 1.5;
    assert_eq!(field(drop.init(VOCAB, VOCAB, &dev())), "embed_dropout");
}

/// A 1-layer model of each mixer memorises two fixed sequences: cross-entropy falls below half
/// its starting value within 80 Adam steps.
fn overfit(name: &str) {
    let device = Default::default();
    let cfg = small_model(name, 16, 1, BackboneKind::LmSimple);
    let mut model = cfg.init::<AD>(VOCAB, VOCAB, &device).unwrap();
    let seq = Tensor::<AD, 1, Int>::from_ints(
        [
            3, 1, 4, 1, 5, 2, 6, 5, 3, 5, 0, 2, 6, 4, 3, 3, 2, 0, 1, 6, 4, 0, 5, 2, 4, 1,
        ],
        &device,
    )
    .reshape([2, 13]);
    let inputs = seq.clone().narrow(1, 0, 12);
    let targets = seq.narrow(1, 1, 12).reshape([24]);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut optim = AdamConfig::new().init();
    let mut first = None;
    let mut last = f32::INFINITY;
    for _ in 0..80 {
        let logits = model.forward(inputs.clone()).reshape([24, VOCAB]);
        let loss = loss_fn.forward(logits, targets.clone());
        last = loss.clone().into_scalar();
        first.get_or_insert(last);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let first = first.unwrap();
    assert!(
        last.is_finite() && last < 0.5 * first,
        "{name}: loss {first} -> {last}"
    );
}

macro_rules! overfit_test {
    ($test:ident, $name:expr) => {
        #[test]
        fn $test() {
            overfit($name);
        }
    };
}

overfit_test!(overfit_s4d, "s4d");
overfit_test!(overfit_h3, "h3");
overfit_test!(overfit_hyena, "hyena");
overfit_test!(overfit_gilr, "gilr");
overfit_test!(overfit_lru, "lru");
overfit_test!(overfit_rwkv, "rwkv");
overfit_test!(overfit_retnet, "retnet");
overfit_test!(overfit_gla, "gla");
overfit_test!(overfit_linear_attention, "linear_attention");
overfit_test!(overfit_lstm, "lstm");
overfit_test!(overfit_mamba, "mamba");
overfit_test!(overfit_attention, "attention");

/// The mixer enum forwards to the concrete layer.
#[test]
fn icl_mixer_dispatches() {
    let mixer = small_mixer("gla").init::<B>(8, 1, &dev()).unwrap();
    let x = randn::<B, 3>([1, 5, 8], &dev());
    let direct = match &mixer {
        Mixer::Gla(g) => g.forward(x.clone()),
        _ => unreachable!(),
    };
    assert_close(mixer.forward(x), direct, 0.0, "dispatch");
}
