//! Helpers of the tests of DeepMind's Chomsky-hierarchy models: tensors to host vectors, and
//! the checks every model passes (step == forward, causality, gradients to every parameter).
#![allow(dead_code)]

use burn::backend::Autodiff;
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, TensorData};
use kleene_zoo::{AnyModel, ModelConfig, SequenceModel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub type Nd = burn_ndarray::NdArray<f32>;
pub type Ad = Autodiff<Nd>;

/// Vocabulary and output size of the generic checks.
pub const VOCAB: usize = 5;
pub const OUT: usize = 3;

pub fn random_tokens(rng: &mut ChaCha8Rng, batch: usize, len: usize, vocab: usize) -> Vec<i64> {
    (0..batch * len)
        .map(|_| rng.random_range(0..vocab as i64))
        .collect()
}

pub fn tokens<B: Backend>(data: &[i64], batch: usize, len: usize) -> Tensor<B, 2, Int> {
    Tensor::from_data(
        TensorData::new(data.to_vec(), [batch, len]),
        &Default::default(),
    )
}

pub fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec().unwrap()
}

pub fn to_vec64<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    to_vec(t).into_iter().map(f64::from).collect()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn max_abs_diff64(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - y).abs())
        .fold(0.0, f64::max)
}

pub fn build<B: kleene_zoo::ScanBackend>(cfg: &ModelConfig, seed: u64) -> AnyModel<B> {
    let device = Default::default();
    B::seed(&device, seed);
    cfg.init::<B>(VOCAB, OUT, &device).expect("valid config")
}

/// `step` over every position from `init_state` equals `forward` (to 1e-5), on outputs that
/// are not all ~0.
pub fn check_step_equals_forward(name: &str, cfg: &ModelConfig, len: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let batch = 3;
    let model = build::<Nd>(cfg, 7);
    let toks = random_tokens(&mut rng, batch, len, VOCAB);
    let parallel = model.forward(tokens::<Nd>(&toks, batch, len));
    assert_eq!(parallel.dims(), [batch, len, OUT], "{name}");
    let mut state = model.init_state(batch, &Default::default());
    let mut outs = Vec::new();
    for t in 0..len {
        let col = tokens::<Nd>(&toks, batch, len)
            .narrow(1, t, 1)
            .reshape([batch]);
        let (y, s) = model.step(col, state);
        state = s;
        outs.push(y);
    }
    let rec = to_vec(Tensor::stack::<3>(outs, 1));
    let par = to_vec(parallel);
    let scale = par.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(scale > 1e-3, "{name}: outputs are all ~0 ({scale})");
    let diff = max_abs_diff(&par, &rec);
    assert!(diff < 1e-5, "{name}: forward vs step max |diff| = {diff}");
}

/// Changing the token at `change_at` leaves every earlier output bit-identical and changes a
/// later one.
pub fn check_causal(name: &str, cfg: &ModelConfig, len: usize, change_at: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let batch = 2;
    let model = build::<Nd>(cfg, 11);
    let toks = random_tokens(&mut rng, batch, len, VOCAB);
    let mut changed = toks.clone();
    for b in 0..batch {
        let i = b * len + change_at;
        changed[i] = (changed[i] + 1 + b as i64) % VOCAB as i64;
    }
    let a = to_vec(model.forward(tokens::<Nd>(&toks, batch, len)));
    let z = to_vec(model.forward(tokens::<Nd>(&changed, batch, len)));
    let mut later = 0f32;
    for b in 0..batch {
        for t in 0..len {
            let r = (b * len + t) * OUT..(b * len + t + 1) * OUT;
            let d = max_abs_diff(&a[r.clone()], &z[r]);
            if t < change_at {
                assert_eq!(d, 0.0, "{name}: output {t} changed with token {change_at}");
            } else {
                later = later.max(d);
            }
        }
    }
    assert!(
        later > 1e-6,
        "{name}: changing token {change_at} changed nothing"
    );
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
            return;
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

/// A random projection of the outputs back-propagates a non-zero gradient to every parameter.
pub fn check_gradients(name: &str, cfg: &ModelConfig) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (batch, len) = (3, 8);
    let model = build::<Ad>(cfg, 5);
    let toks = random_tokens(&mut rng, batch, len, VOCAB);
    let out = model.forward(tokens::<Ad>(&toks, batch, len));
    let weights = Tensor::<Ad, 3>::random(
        out.dims(),
        Distribution::Normal(0.0, 1.0),
        &Default::default(),
    );
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
        "{name}: only {} parameters",
        probe.checked
    );
    assert!(
        probe.without_grad.is_empty(),
        "{name}: no gradient for {:?}",
        probe.without_grad
    );
}
