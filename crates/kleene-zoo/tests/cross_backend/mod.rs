//! Every model of the zoo on a second backend against the same model on burn-ndarray: the
//! weights are initialised once on NdArray and loaded into the other backend's model through a
//! record, then the forward outputs, the gradients of every parameter, and the recurrent `step`
//! outputs are compared with the NdArray ones (which the other test files check against
//! oracles). Used by `tests/wgpu.rs` (CubeCL kernels) and `tests/flex.rs` (burn-flex).
#![allow(dead_code)]

use crate::icl_common;
use burn::backend::Autodiff;
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::{AutodiffBackend, BackendTypes};
use kleene_zoo::ScanBackend;
use kleene_zoo::{AnyModel, ModelConfig, SequenceModel};
use kleene_zoo::{IclModelConfig, MixerConfig};
use rand::{Rng, SeedableRng};

type Nd = burn_ndarray::NdArray<f32>;
type NdAd = Autodiff<Nd>;

const VOCAB: usize = 5;
const OUT: usize = 3;
const BATCH: usize = 2;
const LEN: usize = 11;

/// Small instances of every part-1 model kind and every ICL mixer.
pub fn configs() -> Vec<(String, ModelConfig)> {
    let toml = [
        ("mamba", "kind = \"mamba\"\nd_model = 8\nn_layers = 2\nd_state = 4"),
        ("sdssm", "kind = \"sdssm\"\nstate_size = 8\nnum_transition_matrices = 3"),
        ("sdssm_mlp", "kind = \"sdssm\"\nstate_size = 8\nnum_transition_matrices = 3\nreadout = \"mlp\"\nmlp_size = 8"),
        ("pd_ssm", "kind = \"pd_ssm\"\nd_model = 8\n[block]\nstate_size = 6\ndropout = 0.0"),
        ("pd_ssm_gather", "kind = \"pd_ssm\"\nd_model = 6\nn_layers = 1\n[block]\ndict_size = 3\ndropout = 0.0\nform = \"gather\""),
        ("complex_diagonal", "kind = \"complex_diagonal\"\nstate_size = 6"),
        ("complex_diagonal_with_b_2layers", "kind = \"complex_diagonal\"\nstate_size = 6\nwith_b = true\nembed_size = 4\nnum_layers = 2"),
        ("rnn_relu", "kind = \"rnn\"\nhidden_size = 8\nnum_layers = 2\nnonlinearity = \"relu\""),
        ("rnn_tanh", "kind = \"rnn\"\nhidden_size = 8\nnum_layers = 1"),
        ("lstm", "kind = \"lstm\"\nhidden_size = 8\nnum_layers = 2"),
        ("transformer", "kind = \"transformer\"\nd_model = 8\nn_layers = 2\nn_heads = 2\nmax_len = 32"),
        ("transformer_plus", "kind = \"transformer\"\nd_model = 8\nn_layers = 2\nn_heads = 2\nmax_len = 32\npositions = \"rotary\""),
    ];
    let mut out: Vec<(String, ModelConfig)> = toml
        .iter()
        .map(|(name, t)| {
            let cfg = ModelConfig::from_toml_str(t).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name.to_string(), cfg)
        })
        .collect();
    for mixer in MixerConfig::NAMES {
        // The same small widths as tests/icl_models.rs.
        let mut cfg = IclModelConfig::new(icl_common::small_mixer(mixer));
        cfg.backbone.d_model = 8;
        cfg.backbone.n_layer = 2;
        cfg.backbone.embed_dropout = 0.0;
        out.push((format!("icl_{mixer}"), ModelConfig::Icl(cfg)));
    }
    out
}

/// The NdArray model's weights, loaded into a model built on `B`.
fn transfer<B: ScanBackend>(
    cfg: &ModelConfig,
    from: &AnyModel<NdAd>,
    device: &B::Device,
) -> AnyModel<B> {
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let bytes = recorder.record(from.clone().into_record(), ()).unwrap();
    let fresh = cfg.init::<B>(VOCAB, OUT, device).unwrap();
    fresh.load_record(recorder.load(bytes, device).unwrap())
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec().unwrap()
}

/// Max |a - b| relative to max |b| (at least 1e-3, so near-zero outputs compare absolutely).
fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
        / scale
}

/// Every trainable parameter's gradient, flattened, in visiting order (with its path).
struct Grads<'a, B: AutodiffBackend> {
    grads: &'a B::Gradients,
    path: Vec<String>,
    out: Vec<(String, Vec<f32>)>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Grads<'_, B> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let value = param.val();
        if !value.is_require_grad() {
            return;
        }
        let g = value.grad(self.grads).map(values).unwrap_or_default();
        self.out.push((self.path.join("."), g));
    }
}

fn forward_and_grads<B: AutodiffBackend + ScanBackend>(
    model: &AnyModel<B>,
    tokens: &[i64],
    weights: &[f32],
    device: &B::Device,
) -> (Vec<f32>, Vec<(String, Vec<f32>)>) {
    let tok =
        Tensor::<B, 2, Int>::from_data(TensorData::new(tokens.to_vec(), [BATCH, LEN]), device);
    let r = Tensor::<B, 3>::from_data(TensorData::new(weights.to_vec(), [BATCH, LEN, OUT]), device);
    let out = model.forward(tok);
    let grads = (out.clone() * r).sum().backward();
    let mut visitor = Grads::<B> {
        grads: &grads,
        path: Vec::new(),
        out: Vec::new(),
    };
    model.visit(&mut visitor);
    (values(out), visitor.out)
}

/// `step` outputs for all positions, `(LEN, BATCH, OUT)` flattened.
fn step_outputs<B: ScanBackend>(
    model: &AnyModel<B>,
    tokens: &[i64],
    device: &B::Device,
) -> Vec<f32> {
    let mut state = model.init_state(BATCH, device);
    let mut out = Vec::new();
    for t in 0..LEN {
        let col: Vec<i64> = (0..BATCH).map(|b| tokens[b * LEN + t]).collect();
        let (y, next) = model.step(
            Tensor::from_data(TensorData::new(col, [BATCH]), device),
            state,
        );
        out.extend(values(y));
        state = next;
    }
    out
}

/// Serialises seeding and initialisation: NdArray's RNG is process-global and the tests run
/// in parallel.
static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Checks one model (by its name in [`configs`]) on `Other` (under autodiff) against NdArray.
pub fn check<Other>(name: &str)
where
    Other: ScanBackend,
    Autodiff<Other>: ScanBackend,
{
    if let Some(why) = not_on_device(name, &label::<Other>()) {
        eprintln!("{name}: not run on {}: {why}", label::<Other>());
        return;
    }
    let (index, cfg) = configs()
        .into_iter()
        .enumerate()
        .find(|(_, (n, _))| n == name)
        .map(|(i, (_, c))| (i, c))
        .unwrap_or_else(|| panic!("no config named {name}"));
    let nd = Default::default();
    // The same device, named through each type (the compiler does not see they are equal).
    let other_ad = <Autodiff<Other> as BackendTypes>::Device::default();
    let other = <Other as BackendTypes>::Device::default();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3 + index as u64);
    let mut failures = Vec::new();
    let reference = {
        let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
        NdAd::seed(&nd, 17);
        cfg.init::<NdAd>(VOCAB, OUT, &nd).unwrap()
    };
    let on_other = transfer::<Autodiff<Other>>(&cfg, &reference, &other_ad);
    let tokens: Vec<i64> = (0..BATCH * LEN)
        .map(|_| rng.random_range(0..VOCAB as i64))
        .collect();
    let weights: Vec<f32> = (0..BATCH * LEN * OUT)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();

    let (want_y, want_g) = forward_and_grads(&reference, &tokens, &weights, &nd);
    let (got_y, got_g) = forward_and_grads(&on_other, &tokens, &weights, &other_ad);
    let dy = rel_diff(&got_y, &want_y);
    if dy > 1e-4 {
        failures.push(format!("forward differs by {dy:e}"));
    }
    assert_eq!(got_g.len(), want_g.len(), "{name}: parameter count");
    for ((path, g), (_, w)) in got_g.iter().zip(&want_g) {
        if w.is_empty() || g.len() != w.len() {
            failures.push(format!(
                "no gradient for {path} (ndarray {} values, {} {})",
                w.len(),
                label::<Other>(),
                g.len()
            ));
            continue;
        }
        let d = rel_diff(g, w);
        if d > 1e-3 {
            failures.push(format!("gradient of {path} differs by {d:e}"));
        }
    }

    // Recurrent form on `Other` == parallel form on NdArray (position-major vs batch-major).
    let steps = step_outputs(&on_other.valid(), &tokens, &other);
    let mut want_steps = Vec::new();
    for t in 0..LEN {
        for b in 0..BATCH {
            want_steps.extend_from_slice(&want_y[(b * LEN + t) * OUT..(b * LEN + t + 1) * OUT]);
        }
    }
    let ds = rel_diff(&steps, &want_steps);
    if ds > 1e-4 {
        failures.push(format!(
            "step on {} differs from forward by {ds:e}",
            label::<Other>()
        ));
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

/// Configs a device backend (wgpu, CUDA) skips, and why. PD-SSM has no CubeCL kernel yet: on a
/// device it reads its inputs back and runs the same host op as NdArray, so one config
/// (`pd_ssm`) checks that path there; each of the others costs about two minutes on lavapipe
/// (CI's time budget) and would test nothing more.
fn not_on_device(name: &str, backend: &str) -> Option<&'static str> {
    let device = !backend.to_ascii_lowercase().contains("ndarray")
        && !backend.to_ascii_lowercase().contains("flex");
    match name {
        "pd_ssm_gather" | "icl_pd_ssm" if device => Some(
            "PD-SSM runs its host op on devices too; `pd_ssm` covers that path (CI time budget)",
        ),
        _ => None,
    }
}

/// The backend's name for failure messages.
fn label<B: Backend>() -> String {
    B::name(&Default::default())
}

/// One `#[test]` per model name, each running [`check`] on `$backend`, plus a test that every
/// config in [`configs`] has one.
macro_rules! backend_tests {
    ($backend:ty) => {
        $crate::cross_backend::backend_tests!(@each $backend;
    mamba => "mamba",
    sdssm => "sdssm",
    sdssm_mlp => "sdssm_mlp",
    complex_diagonal => "complex_diagonal",
    complex_diagonal_with_b_2layers => "complex_diagonal_with_b_2layers",
    rnn_relu => "rnn_relu",
    rnn_tanh => "rnn_tanh",
    lstm => "lstm",
    transformer => "transformer",
    transformer_plus => "transformer_plus",
    icl_s4d => "icl_s4d",
    icl_h3 => "icl_h3",
    icl_hyena => "icl_hyena",
    icl_gilr => "icl_gilr",
    icl_lru => "icl_lru",
    icl_rwkv => "icl_rwkv",
    icl_retnet => "icl_retnet",
    icl_gla => "icl_gla",
    icl_linear_attention => "icl_linear_attention",
    icl_lstm => "icl_lstm",
    icl_mamba => "icl_mamba",
    icl_mamba2 => "icl_mamba2",
    icl_attention => "icl_attention",
    icl_delta_net => "icl_delta_net",
    icl_gated_delta_net => "icl_gated_delta_net",
    icl_gated_delta_product => "icl_gated_delta_product",
    icl_rwkv7 => "icl_rwkv7",
    pd_ssm => "pd_ssm",
    pd_ssm_gather => "pd_ssm_gather",
    icl_pd_ssm => "icl_pd_ssm",
    icl_slstm => "icl_slstm",
    icl_mlstm => "icl_mlstm",
        );
    };
    (@each $backend:ty; $($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                $crate::cross_backend::check::<$backend>($name);
            }
        )*

        #[test]
        fn every_config_has_a_test() {
            let tested = [$($name),*];
            for (name, _) in $crate::cross_backend::configs() {
                assert!(tested.contains(&name.as_str()), "{name} has no test");
            }
        }
    };
}
pub(crate) use backend_tests;
