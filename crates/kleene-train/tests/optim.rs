//! Optimiser groups (weight-decay exclusions) and global-norm clipping against f64
//! hand computations.

use burn::backend::Autodiff;
use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn_ndarray::NdArray;
use kleene_train::config::{OptimizerKind, TrainingConfig};
use kleene_train::optim::{clip_global_norm, is_excluded, parameter_paths, TrainOptimizer};

type B = Autodiff<NdArray<f32>>;

#[derive(Module, Debug)]
struct Inner<B: Backend> {
    a_log: Param<Tensor<B, 1>>,
}

#[derive(Module, Debug)]
struct Two<B: Backend> {
    weight: Param<Tensor<B, 1>>,
    bias: Param<Tensor<B, 1>>,
    mixer: Inner<B>,
}

const W0: [f32; 3] = [0.5, -1.25, 2.0];
const B0: [f32; 2] = [0.75, -0.3];
const A0: [f32; 2] = [1.5, -0.6];
// d loss / d param = these coefficients (loss is linear in the parameters).
const GW: [f32; 3] = [0.3, -2.0, 0.7];
const GB: [f32; 2] = [-1.1, 0.4];
const GA: [f32; 2] = [0.9, -0.05];

fn model() -> Two<B> {
    let dev = Default::default();
    let p = |v: &[f32]| Param::from_tensor(Tensor::<B, 1>::from_floats(v, &dev));
    Two {
        weight: p(&W0),
        bias: p(&B0),
        mixer: Inner { a_log: p(&A0) },
    }
}

fn loss(m: &Two<B>) -> Tensor<B, 1> {
    let dev = Default::default();
    let c = |v: &[f32]| Tensor::<B, 1>::from_floats(v, &dev);
    (m.weight.val() * c(&GW)).sum()
        + (m.bias.val() * c(&GB)).sum()
        + (m.mixer.a_log.val() * c(&GA)).sum()
}

fn values(t: &Param<Tensor<B, 1>>) -> Vec<f32> {
    t.val().into_data().to_vec().unwrap()
}

#[test]
fn parameter_paths_and_exclusion_patterns() {
    let m = model();
    let paths: Vec<String> = parameter_paths::<B, _>(&m)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(paths, vec!["weight", "bias", "mixer.a_log"]);
    let pats: Vec<String> = ["bias", "norm", "a_log", "d"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(is_excluded("layers.0.norm.gamma", &pats));
    assert!(is_excluded("norm_f.beta", &pats));
    assert!(is_excluded("layers.1.mixer.d", &pats));
    assert!(!is_excluded("layers.1.mixer.dt_proj.weight", &pats));
    assert!(!is_excluded("layers.1.mixer.in_proj.weight", &pats));
    assert!(is_excluded("head.bias", &pats));
}

/// One AdamW step: m̂ = g, v̂ = g² after bias correction, so
/// decayed: w1 = w0 (1 - lr wd) - lr g / (|g| + eps); excluded: b1 = b0 - lr g / (|g| + eps).
#[test]
fn adamw_step_decays_only_the_decayed_group() {
    let cfg = TrainingConfig {
        optimizer: OptimizerKind::AdamW,
        lr: 0.1,
        weight_decay: 0.5,
        eps: 1e-8,
        ..TrainingConfig::default()
    };
    let m = model();
    let mut opt = TrainOptimizer::<Two<B>, B>::new(&cfg, &m);
    assert_eq!(opt.excluded_paths, vec!["bias", "mixer.a_log"]);
    let grads = loss(&m).backward();
    let (m1, norm) = opt.step(cfg.lr, m, grads);
    assert!(norm.is_none());
    let (lr, wd, eps) = (0.1f64, 0.5f64, 1e-8f64);
    let upd = |p0: f32, g: f32, decay: bool| {
        let (p0, g) = (p0 as f64, g as f64);
        let p = if decay { p0 * (1.0 - lr * wd) } else { p0 };
        p - lr * g / (g.abs() + eps)
    };
    for (got, (p0, g)) in values(&m1.weight).iter().zip(W0.iter().zip(GW)) {
        assert!(
            (*got as f64 - upd(*p0, g, true)).abs() < 1e-6,
            "{got} vs {}",
            upd(*p0, g, true)
        );
    }
    for (got, (p0, g)) in values(&m1.bias).iter().zip(B0.iter().zip(GB)) {
        assert!((*got as f64 - upd(*p0, g, false)).abs() < 1e-6);
    }
    for (got, (p0, g)) in values(&m1.mixer.a_log).iter().zip(A0.iter().zip(GA)) {
        assert!((*got as f64 - upd(*p0, g, false)).abs() < 1e-6);
    }
}

/// Adam with coupled L2 decay: g' = g + wd p, first step moves by lr sign(g').
#[test]
fn adam_l2_decay_is_coupled() {
    let cfg = TrainingConfig {
        optimizer: OptimizerKind::Adam,
        lr: 0.01,
        weight_decay: 3.0,
        no_decay: vec![],
        ..TrainingConfig::default()
    };
    let m = model();
    let mut opt = TrainOptimizer::<Two<B>, B>::new(&cfg, &m);
    let grads = loss(&m).backward();
    let (m1, _) = opt.step(cfg.lr, m, grads);
    for (got, (p0, g)) in values(&m1.bias).iter().zip(B0.iter().zip(GB)) {
        let g2 = g as f64 + 3.0 * *p0 as f64;
        let want = *p0 as f64 - 0.01 * g2 / (g2.abs() + 1e-8);
        assert!((*got as f64 - want).abs() < 1e-6, "{got} vs {want}");
    }
}

#[test]
fn global_norm_clipping_scales_all_gradients_by_one_factor() {
    let m = model();
    let mut grads = GradientsParams::from_grads(loss(&m).backward(), &m);
    let all: Vec<f64> = GW.iter().chain(&GB).chain(&GA).map(|&g| g as f64).collect();
    let norm = all.iter().map(|g| g * g).sum::<f64>().sqrt();
    let before = clip_global_norm::<B, _>(&m, &mut grads, 0.5);
    assert!((before - norm).abs() < 1e-5, "{before} vs {norm}");
    let coef = 0.5 / (norm + 1e-6);
    let gw: Vec<f32> = grads
        .get::<NdArray<f32>, 1>(m.weight.id)
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();
    let ga: Vec<f32> = grads
        .get::<NdArray<f32>, 1>(m.mixer.a_log.id)
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();
    for (got, g) in gw.iter().zip(GW).chain(ga.iter().zip(GA)) {
        assert!((*got as f64 - g as f64 * coef).abs() < 1e-6);
    }
    // Below the threshold nothing changes.
    let mut grads = GradientsParams::from_grads(loss(&m).backward(), &m);
    clip_global_norm::<B, _>(&m, &mut grads, 100.0);
    let gw: Vec<f32> = grads
        .get::<NdArray<f32>, 1>(m.weight.id)
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();
    assert_eq!(gw, GW.to_vec());
}
