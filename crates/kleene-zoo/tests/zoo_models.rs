//! Behavioural tests for every model of kleene-zoo part 1 on burn-ndarray:
//! golden SD-SSM forward, parallel == recurrent, causality, gradient flow, a tiny overfit,
//! mamba-ssm initialisation and parameter counts, and config errors.

use burn::backend::Autodiff;
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, TensorData};
use kleene_zoo::heads;
use kleene_zoo::models::sdssm::{Readout, SdSsm};
use kleene_zoo::ScanBackend;
use kleene_zoo::{AnyModel, ModelConfig, SequenceModel, ZooError};
use kleene_zoo::{
    ComplexDiagonalConfig, LstmConfig, MambaConfig, NormKind, PositionKind, ReadoutKind, RnnConfig,
    RnnNonlinearity, SdSsmConfig, TransformerConfig,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Nd = burn_ndarray::NdArray<f32>;
type Ad = Autodiff<Nd>;

const VOCAB: usize = 5;
const OUT: usize = 3;

/// Small instances of every model and variant.
fn configs() -> Vec<(&'static str, ModelConfig)> {
    let mamba = MambaConfig {
        d_model: 8,
        n_layers: 2,
        d_state: 4,
        ..MambaConfig::default()
    };
    let sdssm = SdSsmConfig {
        state_size: 8,
        num_transition_matrices: 3,
        ..SdSsmConfig::default()
    };
    let cd = ComplexDiagonalConfig {
        state_size: 6,
        ..ComplexDiagonalConfig::default()
    };
    let tf = TransformerConfig {
        d_model: 8,
        n_layers: 2,
        n_heads: 2,
        max_len: 64,
        ..TransformerConfig::default()
    };
    vec![
        ("mamba", ModelConfig::Mamba(mamba.clone())),
        (
            "mamba_rms_nohead_conv1",
            ModelConfig::Mamba(MambaConfig {
                norm: NormKind::RmsNorm,
                head: false,
                d_conv: 1,
                n_layers: 1,
                ..mamba
            }),
        ),
        (
            "mamba_neg_eigval",
            ModelConfig::Mamba(MambaConfig {
                allow_neg_eigval: true,
                ..mamba.clone()
            }),
        ),
        ("sdssm_linear", ModelConfig::Sdssm(sdssm.clone())),
        (
            "sdssm_mlp",
            ModelConfig::Sdssm(SdSsmConfig {
                readout: ReadoutKind::Mlp,
                mlp_size: 8,
                ..sdssm
            }),
        ),
        (
            "cd_no_b_linear",
            ModelConfig::ComplexDiagonal(ComplexDiagonalConfig {
                with_b: false,
                readout: ReadoutKind::Linear,
                ..cd.clone()
            }),
        ),
        (
            "cd_no_b_mlp",
            ModelConfig::ComplexDiagonal(ComplexDiagonalConfig {
                with_b: false,
                ..cd.clone()
            }),
        ),
        (
            "cd_with_b_linear",
            ModelConfig::ComplexDiagonal(ComplexDiagonalConfig {
                readout: ReadoutKind::Linear,
                embed_size: Some(4),
                ..cd.clone()
            }),
        ),
        (
            "cd_with_b_mlp_2layers",
            ModelConfig::ComplexDiagonal(ComplexDiagonalConfig {
                num_layers: 2,
                ..cd
            }),
        ),
        (
            "rnn_relu_2layers",
            ModelConfig::Rnn(RnnConfig {
                hidden_size: 8,
                num_layers: 2,
                nonlinearity: RnnNonlinearity::Relu,
            }),
        ),
        (
            "rnn_tanh",
            ModelConfig::Rnn(RnnConfig {
                hidden_size: 8,
                num_layers: 1,
                nonlinearity: RnnNonlinearity::Tanh,
            }),
        ),
        (
            "lstm_2layers",
            ModelConfig::Lstm(LstmConfig {
                hidden_size: 8,
                num_layers: 2,
            }),
        ),
        ("transformer", ModelConfig::Transformer(tf.clone())),
        (
            "transformer_plus",
            ModelConfig::Transformer(TransformerConfig {
                positions: PositionKind::Rotary,
                ..tf
            }),
        ),
    ]
}

fn out_dim_of(cfg: &ModelConfig) -> usize {
    match cfg {
        ModelConfig::Mamba(c) if !c.head => c.d_model,
        _ => OUT,
    }
}

fn random_tokens(rng: &mut ChaCha8Rng, batch: usize, len: usize) -> Vec<i64> {
    (0..batch * len)
        .map(|_| rng.random_range(0..VOCAB as i64))
        .collect()
}

fn tokens<B: Backend>(
    data: &[i64],
    batch: usize,
    len: usize,
    device: &B::Device,
) -> Tensor<B, 2, Int> {
    Tensor::from_data(TensorData::new(data.to_vec(), [batch, len]), device)
}

fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn build<B: ScanBackend>(cfg: &ModelConfig, seed: u64, device: &B::Device) -> AnyModel<B> {
    B::seed(device, seed);
    cfg.init::<B>(VOCAB, OUT.min(out_dim_of(cfg)), device)
        .expect("valid config")
}

/// Runs `step` over every position and stacks the outputs: `(batch, len, out)`.
fn stepped<B: ScanBackend>(
    model: &AnyModel<B>,
    toks: &[i64],
    batch: usize,
    len: usize,
) -> Tensor<B, 3> {
    let device = B::Device::default();
    let all = tokens::<B>(toks, batch, len, &device);
    let mut state = model.init_state(batch, &device);
    let mut outs = Vec::new();
    for t in 0..len {
        let col = all.clone().narrow(1, t, 1).reshape([batch]);
        let (y, s) = model.step(col, state);
        state = s;
        outs.push(y);
    }
    Tensor::stack(outs, 1)
}

#[test]
fn parallel_forward_equals_recurrent_steps() {
    let device = Default::default();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (batch, len) = (3, 9);
    for (name, cfg) in configs() {
        let model = build::<Nd>(&cfg, 7, &device);
        let toks = random_tokens(&mut rng, batch, len);
        let parallel = model.forward(tokens::<Nd>(&toks, batch, len, &device));
        assert_eq!(parallel.dims(), [batch, len, model.out_dim()], "{name}");
        let rec = to_vec(stepped(&model, &toks, batch, len));
        let par = to_vec(parallel);
        let scale = par.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(
            scale > 1e-3,
            "{name}: outputs are all ~0 ({scale}), the test would be vacuous"
        );
        let diff = max_abs_diff(&par, &rec);
        assert!(
            diff < 1e-5,
            "{name}: parallel vs recurrent max |diff| = {diff}"
        );
    }
}

#[test]
fn outputs_are_causal() {
    let device = Default::default();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (batch, len, change_at) = (2, 10, 6);
    for (name, cfg) in configs() {
        let model = build::<Nd>(&cfg, 11, &device);
        let toks = random_tokens(&mut rng, batch, len);
        let mut changed = toks.clone();
        for b in 0..batch {
            let i = b * len + change_at;
            changed[i] = (changed[i] + 1 + b as i64) % VOCAB as i64;
        }
        let c = model.out_dim();
        let a = to_vec(model.forward(tokens::<Nd>(&toks, batch, len, &device)));
        let z = to_vec(model.forward(tokens::<Nd>(&changed, batch, len, &device)));
        let mut later_changed = 0f32;
        for b in 0..batch {
            for t in 0..len {
                let r = (b * len + t) * c..(b * len + t + 1) * c;
                let d = max_abs_diff(&a[r.clone()], &z[r]);
                if t < change_at {
                    assert_eq!(
                        d, 0.0,
                        "{name}: output at t={t} changed when token {change_at} changed"
                    );
                } else {
                    later_changed = later_changed.max(d);
                }
            }
        }
        assert!(
            later_changed > 1e-6,
            "{name}: changing token {change_at} changed nothing at all"
        );
    }
}

/// Collects, for every trainable parameter, whether it received a non-zero gradient.
struct GradProbe<'a, B: AutodiffBackend> {
    grads: &'a B::Gradients,
    path: Vec<String>,
    without_grad: Vec<String>,
    checked: usize,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradProbe<'_, B> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let value = param.val();
        if !value.is_require_grad() {
            return; // fixed buffers (complex-diagonal initial phases)
        }
        self.checked += 1;
        let nonzero = value
            .grad(self.grads)
            .map(|g| g.abs().sum().into_scalar().elem::<f32>() > 0.0)
            .unwrap_or(false);
        if !nonzero {
            self.without_grad.push(self.path.join("."));
        }
    }
}

#[test]
fn gradients_reach_every_parameter() {
    let device = Default::default();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (batch, len) = (3, 8);
    for (name, cfg) in configs() {
        let model = build::<Ad>(&cfg, 5, &device);
        let toks = random_tokens(&mut rng, batch, len);
        let out = model.forward(tokens::<Ad>(&toks, batch, len, &device));
        let weights = Tensor::<Ad, 3>::random(out.dims(), Distribution::Normal(0.0, 1.0), &device);
        let grads = (out * weights).sum().backward();
        let mut probe = GradProbe::<Ad> {
            grads: &grads,
            path: vec![],
            without_grad: vec![],
            checked: 0,
        };
        model.visit(&mut probe);
        assert!(
            probe.checked >= 3,
            "{name}: only {} parameters visited",
            probe.checked
        );
        assert!(
            probe.without_grad.is_empty(),
            "{name}: no gradient for {:?}",
            probe.without_grad
        );
    }
}

#[test]
fn tiny_overfit_loss_falls() {
    let device = Default::default();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (batch, len) = (4, 6);
    let toks = random_tokens(&mut rng, batch, len);
    let targets: Vec<i64> = (0..batch * len)
        .map(|_| rng.random_range(0..OUT as i64))
        .collect();
    for (name, cfg) in configs() {
        let mut model = build::<Ad>(&cfg, 9, &device);
        let mut optim = AdamConfig::new().init::<Ad, AnyModel<Ad>>();
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let input = tokens::<Ad>(&toks, batch, len, &device);
        let target = Tensor::<Ad, 1, Int>::from_data(
            TensorData::new(targets.clone(), [batch * len]),
            &device,
        );
        let mut first = None;
        let mut last = f32::INFINITY;
        for _ in 0..80 {
            let out = model.forward(input.clone());
            let c = model.out_dim();
            let loss = loss_fn.forward(out.reshape([batch * len, c]), target.clone());
            // The lowest loss reached: at lr 2e-2 the loss is not monotone (transformer_plus
            // spikes from 0.16 at step 60 to 0.43 at step 80 with exact f32 reciprocals).
            last = last.min(loss.clone().into_scalar().elem::<f32>());
            first.get_or_insert(last);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(2e-2, model, grads);
        }
        let first = first.unwrap();
        assert!(
            last < first / 3.0,
            "{name}: loss {first} -> lowest {last} in 80 steps"
        );
    }
}

/// The golden SD-SSM forward (`../shared/spec/golden/sdssm_reference_forward.json`, f64
/// Python from the paper's equations) with the same hand-set weights.
#[test]
fn sdssm_reproduces_golden_forward() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/spec/golden/sdssm_reference_forward.json"
    );
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("golden file")).unwrap();
    let (d, n, k, c, p) = (3usize, 3usize, 2usize, 2usize, 1.2);
    let device = Default::default();
    let cfg = SdSsmConfig {
        state_size: n,
        num_transition_matrices: k,
        lp_norm: p,
        ..SdSsmConfig::default()
    };
    let mut model = SdSsm::<Nd>::new(&cfg, d, c, &device);
    // Same formulas as sdssm_reference_forward.py.
    let mut a = vec![0f32; k * n * n];
    for i in 0..n {
        for j in 0..n {
            for kk in 0..k {
                a[kk * n * n + i * n + j] =
                    (0.1 * ((i * 7 + j * 3 + kk * 5) % 11) as f64 - 0.5) as f32;
            }
        }
    }
    let ws: Vec<f32> = (0..d)
        .flat_map(|dd| (0..k).map(move |kk| (0.2 * (kk + 1) as f64 * (dd as f64 - 1.0)) as f32))
        .collect(); // [vocab, K]
    let bs: Vec<f32> = (0..k).map(|kk| (0.1 * kk as f64) as f32).collect();
    let wb: Vec<f32> = (0..d)
        .flat_map(|dd| (0..n).map(move |nn| (0.3 * ((nn + 2 * dd) % 5) as f64 - 0.6) as f32))
        .collect(); // [vocab, N]
    let wo: Vec<f32> = (0..n)
        .flat_map(|nn| (0..c).map(move |cc| (0.25 * ((cc * 3 + nn) % 4) as f64 - 0.4) as f32))
        .collect(); // [N, C]
    let bo: Vec<f32> = (0..c).map(|cc| (0.05 * cc as f64) as f32).collect();
    model.transitions =
        Param::from_tensor(Tensor::from_data(TensorData::new(a, [k, n, n]), &device));
    model.selector.weight =
        Param::from_tensor(Tensor::from_data(TensorData::new(ws, [d, k]), &device));
    model.selector_bias = Param::from_tensor(Tensor::from_data(TensorData::new(bs, [k]), &device));
    model.input.weight =
        Param::from_tensor(Tensor::from_data(TensorData::new(wb, [d, n]), &device));
    match &mut model.readout {
        Readout::Linear(l) => {
            l.weight = Param::from_tensor(Tensor::from_data(TensorData::new(wo, [n, c]), &device));
            l.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(bo, [c]),
                &device,
            )));
        }
        Readout::Mlp(_) => unreachable!("linear readout configured"),
    }
    let toks: Vec<i64> = golden["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let len = toks.len();
    let input = tokens::<Nd>(&toks, 1, len, &device);
    let states = to_vec(model.hidden_states(input.clone()));
    let want_states: Vec<f32> = golden["state_trace"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
        })
        .collect();
    let d_states = max_abs_diff(&states, &want_states);
    assert!(
        d_states < 1e-5,
        "state trace differs by {d_states}: {states:?} vs {want_states:?}"
    );
    let logits = to_vec(heads::last_position(model.forward(input)));
    let want: Vec<f32> = golden["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let d_logits = max_abs_diff(&logits, &want);
    assert!(d_logits < 1e-5, "logits {logits:?} vs golden {want:?}");
}

#[test]
fn sdssm_columns_have_unit_lp_norm_and_param_count_matches_spec() {
    let device = Default::default();
    let cfg = SdSsmConfig {
        state_size: 64,
        num_transition_matrices: 8,
        lp_norm: 1.3,
        ..SdSsmConfig::default()
    };
    // Spec §3.1: N²K + (D+1)K + ND + 2N + (N+1)C = 33,250 for parity with query token.
    let model = SdSsm::<Nd>::new(&cfg, 3, 2, &device);
    assert_eq!(model.num_params(), 33_250);
    let a = to_vec(model.token_transitions()); // [3, 64, 64]
    for v in 0..3 {
        for j in 0..64 {
            let norm: f64 = (0..64)
                .map(|i| (a[v * 4096 + i * 64 + j].abs() as f64).powf(1.3))
                .sum::<f64>()
                .powf(1.0 / 1.3);
            assert!(
                (norm - 1.0).abs() < 1e-4,
                "token {v} column {j} has L1.3 norm {norm}"
            );
        }
    }
}

#[test]
fn mamba_init_and_param_count_follow_mamba_ssm() {
    let device = Default::default();
    for (d, expected) in [(16usize, 3_392usize), (64, 32_768)] {
        let cfg = MambaConfig {
            d_model: d,
            n_layers: 2,
            ..MambaConfig::default()
        };
        Nd::seed(&device, 3);
        let model = match ModelConfig::Mamba(cfg).init::<Nd>(7, 4, &device).unwrap() {
            AnyModel::Mamba(m) => m,
            _ => unreachable!(),
        };
        // Spec §4.1 count per layer (mixer + its norm).
        let block = &model.stack.blocks[0];
        assert_eq!(
            block.mixer.num_params() + block.norm.num_params(),
            expected,
            "d_model {d}"
        );
        let mixer = &block.mixer;
        let di = 2 * d;
        let a_log = to_vec(mixer.a_log.val());
        for c in 0..di {
            for nn in 0..16 {
                assert!((a_log[c * 16 + nn] - ((nn + 1) as f32).ln()).abs() < 1e-6);
            }
        }
        assert!(to_vec(mixer.d_skip.val()).iter().all(|&v| v == 1.0));
        // softplus(dt bias) = initial Δ ∈ [1e-3, 0.1].
        for b in to_vec(mixer.dt_proj.bias.as_ref().unwrap().val()) {
            let dt = (b as f64).exp().ln_1p();
            assert!((0.999e-3..=0.1001).contains(&dt), "initial dt {dt}");
        }
        // out_proj: U(±1/√d_inner / √n_layers).
        let bound = 1.0 / (di as f32).sqrt() / 2f32.sqrt();
        let w = to_vec(mixer.out_proj.weight.val());
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| v.abs() > 0.8 * bound));
        // Embedding N(0, 0.02²).
        let e = to_vec(model.embedding.weight.val());
        let std = (e.iter().map(|v| v * v).sum::<f32>() / e.len() as f32).sqrt();
        assert!((0.01..0.03).contains(&std), "embedding std {std}");
    }
}

#[test]
fn heads_read_the_right_positions() {
    let device = Default::default();
    let data: Vec<f32> = (0..2 * 4 * 3).map(|v| v as f32).collect();
    let out = Tensor::<Nd, 3>::from_data(TensorData::new(data, [2, 4, 3]), &device);
    assert_eq!(
        to_vec(heads::last_position(out.clone())),
        vec![9., 10., 11., 21., 22., 23.]
    );
    let pos = Tensor::<Nd, 1, Int>::from_data(TensorData::new(vec![1i64, 2], [2]), &device);
    assert_eq!(
        to_vec(heads::at_positions(out, pos)),
        vec![3., 4., 5., 18., 19., 20.]
    );
}

#[test]
fn config_errors_name_the_field() {
    let device = Default::default();
    let err = |cfg: ModelConfig, vocab: usize, out: usize| match cfg.init::<Nd>(vocab, out, &device)
    {
        Err(e) => e,
        Ok(_) => panic!("config {cfg:?} should be rejected"),
    };
    let zero_d = ModelConfig::Mamba(MambaConfig {
        d_model: 0,
        ..MambaConfig::default()
    });
    match err(zero_d, 4, 2) {
        ZooError::InvalidConfig { field, .. } => assert_eq!(field, "mamba.d_model"),
        e => panic!("wrong error {e}"),
    }
    let heads = ModelConfig::Transformer(TransformerConfig {
        d_model: 10,
        n_heads: 3,
        ..TransformerConfig::default()
    });
    assert!(err(heads, 4, 2).to_string().contains("transformer.n_heads"));
    let layers = ModelConfig::ComplexDiagonal(ComplexDiagonalConfig {
        num_layers: 2,
        readout: ReadoutKind::Linear,
        ..ComplexDiagonalConfig::default()
    });
    assert!(err(layers, 4, 2)
        .to_string()
        .contains("complex_diagonal.num_layers"));
    let p = ModelConfig::Sdssm(SdSsmConfig {
        lp_norm: 0.5,
        ..SdSsmConfig::default()
    });
    assert!(err(p, 4, 2).to_string().contains("sdssm.lp_norm"));
    assert!(err(ModelConfig::default_for("rnn").unwrap(), 0, 2)
        .to_string()
        .contains("vocab_size"));
    let nohead = ModelConfig::Mamba(MambaConfig {
        head: false,
        d_model: 8,
        ..MambaConfig::default()
    });
    assert!(err(nohead, 4, 9).to_string().contains("mamba.head"));

    // Parsing: unknown kind, unknown field, bad value, and a valid minimal config.
    match ModelConfig::from_toml_str("kind = \"mambo\"") {
        Err(ZooError::Parse(msg)) => assert!(msg.contains("mambo"), "{msg}"),
        other => panic!("unexpected {other:?}"),
    }
    match ModelConfig::from_toml_str("kind = \"mamba\"\nd_modle = 3") {
        Err(ZooError::Parse(msg)) => assert!(msg.contains("d_modle"), "{msg}"),
        other => panic!("unexpected {other:?}"),
    }
    match ModelConfig::from_toml_str("kind = \"rnn\"\nnonlinearity = \"sigmoid\"") {
        Err(ZooError::Parse(msg)) => assert!(msg.contains("sigmoid"), "{msg}"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        matches!(ModelConfig::default_for("gru"), Err(ZooError::UnknownModel(name)) if name == "gru")
    );
    let parsed =
        ModelConfig::from_toml_str("kind = \"mamba\"\nd_model = 32\nn_layers = 2").unwrap();
    assert_eq!(
        parsed,
        ModelConfig::Mamba(MambaConfig {
            d_model: 32,
            n_layers: 2,
            ..MambaConfig::default()
        })
    );
    // Every kind round-trips through TOML with its defaults.
    let icl_names = kleene_zoo::MixerConfig::NAMES;
    for kind in ModelConfig::KINDS
        .iter()
        .copied()
        .chain(["transformer_plus"])
        .chain(icl_names.iter().copied())
    {
        let cfg = ModelConfig::default_for(kind).unwrap();
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(
            ModelConfig::from_toml_str(&text).unwrap(),
            cfg,
            "{kind}: {text}"
        );
    }
}

/// `valid()` (autodiff -> inner backend) and a record round trip preserve every model's
/// function: the trainer saves checkpoints and evaluates on the inner backend.
#[test]
fn valid_and_record_round_trip_preserve_outputs() {
    let device = Default::default();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let (batch, len) = (2, 5);
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    for (name, cfg) in configs() {
        let trained = build::<Ad>(&cfg, 21, &device);
        let toks = random_tokens(&mut rng, batch, len);
        let want = to_vec(trained.forward(tokens::<Ad>(&toks, batch, len, &device)));
        let inner: AnyModel<Nd> = trained.valid();
        let got = to_vec(inner.forward(tokens::<Nd>(&toks, batch, len, &device)));
        assert_eq!(
            max_abs_diff(&want, &got),
            0.0,
            "{name}: valid() changed the outputs"
        );
        let bytes = recorder.record(inner.into_record(), ()).unwrap();
        let fresh = build::<Nd>(&cfg, 99, &device);
        let before = to_vec(fresh.forward(tokens::<Nd>(&toks, batch, len, &device)));
        assert!(
            max_abs_diff(&want, &before) > 1e-6,
            "{name}: seeds 21 and 99 gave the same model"
        );
        let loaded = fresh.load_record(recorder.load(bytes, &device).unwrap());
        let after = to_vec(loaded.forward(tokens::<Nd>(&toks, batch, len, &device)));
        assert_eq!(
            max_abs_diff(&want, &after),
            0.0,
            "{name}: record round trip changed the outputs"
        );
    }
}

/// Rotary embedding on a hand-computed vector: pairs (x0, x1), (x2, x3) rotate by
/// t·1 and t·10000^(-1/2) (interleaved GPT-J layout, spec regbench §3.2.2).
#[test]
fn rotary_rotates_interleaved_pairs() {
    let device = Default::default();
    let x = Tensor::<Nd, 4>::from_data(
        TensorData::new(vec![1f32, 2., 3., 4.], [1, 1, 1, 4]),
        &device,
    );
    let got = to_vec(kleene_zoo::layers::attention::rotary(x, 3, 10000.0));
    let (a0, a1) = (3.0f64, 3.0 * 10000f64.powf(-0.5));
    let want = [
        1.0 * a0.cos() - 2.0 * a0.sin(),
        1.0 * a0.sin() + 2.0 * a0.cos(),
        3.0 * a1.cos() - 4.0 * a1.sin(),
        3.0 * a1.sin() + 4.0 * a1.cos(),
    ]
    .map(|v| v as f32);
    assert!(max_abs_diff(&got, &want) < 1e-6, "{got:?} vs {want:?}");
}

/// With rotary positions only relative positions matter: streaming from position 1000
/// gives the same outputs as from 0. With learned positions it does not.
#[test]
fn transformer_plus_depends_only_on_relative_positions() {
    let device = Default::default();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (batch, len) = (2, 6);
    for (name, cfg) in configs()
        .into_iter()
        .filter(|(n, _)| n.starts_with("transformer"))
    {
        let model = match build::<Nd>(&cfg, 3, &device) {
            AnyModel::Transformer(m) => m,
            _ => unreachable!(),
        };
        let toks = random_tokens(&mut rng, batch, len);
        let all = tokens::<Nd>(&toks, batch, len, &device);
        let run = |offset: usize| {
            let mut state = model.init_state(batch, &device);
            state.position = offset;
            for layer in &mut state.layers {
                layer.position = offset;
            }
            let mut outs = vec![];
            for t in 0..len {
                let (y, s) = model.step(all.clone().narrow(1, t, 1).reshape([batch]), state);
                state = s;
                outs.extend(to_vec(y));
            }
            outs
        };
        let diff = max_abs_diff(&run(0), &run(1000));
        if name == "transformer_plus" {
            assert!(
                diff < 1e-4,
                "{name}: shifted positions changed outputs by {diff}"
            );
        } else {
            assert!(
                diff > 1e-4,
                "{name}: learned positions had no effect ({diff})"
            );
        }
    }
}

/// The ICL zoo is reachable through `ModelConfig` / `AnyModel` (kind `icl`): parsed from
/// TOML, built, and its parallel forward equals its step loop through the `AnyModel` dispatch.
#[test]
fn icl_models_dispatch_through_any_model() {
    let device = Default::default();
    let text = "kind = \"icl\"\nd_model = 8\nn_layer = 1\nembed_dropout = 0.0\ntie_embeddings = false\n[mixer]\nlayer = \"retnet\"\nn_heads = 2\n";
    let cfg = ModelConfig::from_toml_str(text).unwrap();
    assert_eq!(cfg.kind(), "icl");
    let model = build::<Nd>(&cfg, 4, &device);
    assert!(matches!(model, AnyModel::Icl(_)));
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let (batch, len) = (2, 7);
    let toks = random_tokens(&mut rng, batch, len);
    let par = to_vec(model.forward(tokens::<Nd>(&toks, batch, len, &device)));
    let rec = to_vec(stepped(&model, &toks, batch, len));
    let diff = max_abs_diff(&par, &rec);
    assert!(
        diff < 1e-5,
        "icl retnet through AnyModel: parallel vs recurrent {diff}"
    );
}

/// `allow_neg_eigval` (Grazzi et al. 2025): read from TOML, absent = false (older configs); it is
/// not a weight, so records load across it both ways, and on the same weights the flag changes
/// the function.
#[test]
fn mamba_neg_eigval_config_weights_and_records() {
    let device = Default::default();
    let on_cfg =
        ModelConfig::from_toml_str("kind = \"mamba\"\nd_model = 8\nallow_neg_eigval = true")
            .unwrap();
    let off_cfg = ModelConfig::from_toml_str("kind = \"mamba\"\nd_model = 8").unwrap();
    match (&on_cfg, &off_cfg) {
        (ModelConfig::Mamba(on), ModelConfig::Mamba(off)) => {
            assert!(on.allow_neg_eigval && !off.allow_neg_eigval);
            assert!(on.mixer().allow_neg_eigval);
        }
        other => panic!("expected two mamba configs, got {other:?}"),
    }
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let (batch, len) = (2, 24);
    let toks = random_tokens(&mut rng, batch, len);
    let forward = |m: &AnyModel<Nd>| to_vec(m.forward(tokens::<Nd>(&toks, batch, len, &device)));
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    // The same weights in both: the flagged model's record loaded into an unflagged one.
    let on = build::<Nd>(&on_cfg, 5, &device);
    let on_bytes = recorder.record(on.clone().into_record(), ()).unwrap();
    let off =
        build::<Nd>(&off_cfg, 77, &device).load_record(recorder.load(on_bytes, &device).unwrap());
    let (y_on, y_off) = (forward(&on), forward(&off));
    let diff = max_abs_diff(&y_on, &y_off);
    assert!(
        diff > 1e-4,
        "same outputs with and without the flag ({diff})"
    );
    // And back: the unflagged model's record (as any older checkpoint) in a flagged model.
    let off_bytes = recorder.record(off.into_record(), ()).unwrap();
    let on_again =
        build::<Nd>(&on_cfg, 78, &device).load_record(recorder.load(off_bytes, &device).unwrap());
    assert_eq!(
        max_abs_diff(&forward(&on_again), &y_on),
        0.0,
        "an unflagged record loaded into a flagged model"
    );
    // The ICL zoo's Mamba layer (kind `icl`, REGBENCH backbones) takes the same field.
    let icl = "kind = \"icl\"\nd_model = 8\nn_layer = 1\nembed_dropout = 0.0\n[mixer]\nlayer = \"mamba\"\nd_state = 4\nallow_neg_eigval = true\n";
    let icl = build::<Nd>(&ModelConfig::from_toml_str(icl).unwrap(), 3, &device);
    let (par, rec) = (forward(&icl), to_vec(stepped(&icl, &toks, batch, len)));
    let diff = max_abs_diff(&par, &rec);
    assert!(
        diff < 1e-5,
        "icl mamba with the flag: parallel vs recurrent {diff}"
    );
}
