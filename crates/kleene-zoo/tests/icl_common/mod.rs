//! Shared helpers of the ICL-zoo tests (`tests/icl_*.rs`).
#![allow(dead_code)]

use burn::backend::Autodiff;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Distribution;
use burn_ndarray::NdArray;
use kleene_zoo::SequenceLayer;

pub type B = NdArray<f32>;
pub type AD = Autodiff<NdArray<f32>>;

pub fn dev() -> burn_ndarray::NdArrayDevice {
    Default::default()
}

/// Adds `N(0, scale^2)` noise to every float parameter, so tests never run on the special
/// structure of the default init (zero biases, unit norms, ...).
pub struct Perturb {
    pub scale: f64,
}

impl<Bk: Backend> ModuleMapper<Bk> for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<Bk, D>>) -> Param<Tensor<Bk, D>> {
        let (id, tensor, mapper) = param.consume();
        let noise = tensor.random_like(Distribution::Normal(0.0, self.scale));
        let tensor = (tensor + noise).detach().require_grad();
        Param::from_mapped_value(id, tensor, mapper)
    }
}

pub fn perturb<Bk: Backend, M: Module<Bk>>(module: M, scale: f64) -> M {
    module.map(&mut Perturb { scale })
}

pub fn randn<Bk: Backend, const D: usize>(shape: [usize; D], device: &Bk::Device) -> Tensor<Bk, D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

pub fn to_vec<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

/// Runs `step` over the time axis of `x: (B, L, D)` and stacks the outputs.
pub fn run_steps<Bk: Backend, L: SequenceLayer<Bk>>(layer: &L, x: Tensor<Bk, 3>) -> Tensor<Bk, 3> {
    let [b, l, d] = x.dims();
    let mut state = layer.init_state(b, &x.device());
    let mut outs = Vec::with_capacity(l);
    for t in 0..l {
        let (y, s) = layer.step(x.clone().narrow(1, t, 1).reshape([b, d]), state);
        state = s;
        let dy = y.dims()[1];
        outs.push(y.reshape([b, 1, dy]));
    }
    Tensor::cat(outs, 1)
}

/// `max |a - b| / max(1, max |b|)`.
pub fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs() as f64));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((*x as f64 - *y as f64).abs()));
    diff / scale
}

pub fn assert_close<Bk: Backend, const D: usize>(
    a: Tensor<Bk, D>,
    b: Tensor<Bk, D>,
    tol: f64,
    what: &str,
) {
    assert_eq!(a.dims(), b.dims(), "{what}: shape");
    let (a, b) = (to_vec(a), to_vec(b));
    assert!(a.iter().all(|v| v.is_finite()), "{what}: non-finite output");
    let e = rel_err(&a, &b);
    assert!(e <= tol, "{what}: relative error {e:e} > {tol:e}");
}

/// Every layer: forward == stepwise recurrence.
pub fn check_step_matches_forward<L: SequenceLayer<B>>(
    layer: &L,
    batch: usize,
    len: usize,
    d: usize,
    tol: f64,
    what: &str,
) {
    let x = randn::<B, 3>([batch, len, d], &dev());
    let full = layer.forward(x.clone());
    let steps = run_steps(layer, x);
    assert_close(full, steps, tol, what);
}

/// Output before `t0` must not change when inputs from `t0` on change; output at `t0` must.
pub fn check_causal<L: SequenceLayer<B>>(layer: &L, len: usize, d: usize, t0: usize, what: &str) {
    let x = randn::<B, 3>([2, len, d], &dev());
    let tail = randn::<B, 3>([2, len - t0, d], &dev());
    let x2 = Tensor::cat(vec![x.clone().narrow(1, 0, t0), tail], 1);
    let y1 = layer.forward(x);
    let y2 = layer.forward(x2);
    let before = rel_err(
        &to_vec(y1.clone().narrow(1, 0, t0)),
        &to_vec(y2.clone().narrow(1, 0, t0)),
    );
    assert!(
        before <= 1e-6,
        "{what}: outputs before t0 changed ({before:e})"
    );
    let at = rel_err(&to_vec(y1.narrow(1, t0, 1)), &to_vec(y2.narrow(1, t0, 1)));
    assert!(
        at > 1e-4,
        "{what}: output at t0 ignores the input at t0 ({at:e})"
    );
}

/// Collects the parameter paths whose gradient is missing or identically zero.
struct GradCheck<'a, Bk: AutodiffBackend> {
    grads: &'a <Bk as AutodiffBackend>::Gradients,
    path: Vec<String>,
    missing: Vec<String>,
    count: usize,
}

impl<Bk: AutodiffBackend> ModuleVisitor<Bk> for GradCheck<'_, Bk> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Bk, D>>) {
        self.count += 1;
        let ok = match param.val().grad(self.grads) {
            None => false,
            Some(g) => {
                let v = g.into_data().convert::<f32>().to_vec::<f32>().unwrap();
                v.iter().all(|x| x.is_finite()) && v.iter().any(|x| *x != 0.0)
            }
        };
        if !ok {
            self.missing
                .push(format!("{} (#{})", self.path.join("."), self.count));
        }
    }
}

/// Asserts every float parameter of `module` got a finite, non-zero gradient from `loss`.
pub fn check_all_grads<M: Module<AD>>(module: &M, loss: Tensor<AD, 1>, what: &str) {
    let grads = loss.backward();
    let mut v = GradCheck::<AD> {
        grads: &grads,
        path: Vec::new(),
        missing: Vec::new(),
        count: 0,
    };
    module.visit(&mut v);
    assert!(v.count > 0, "{what}: no parameters visited");
    assert!(
        v.missing.is_empty(),
        "{what}: no gradient for {:?}",
        v.missing
    );
}

/// Random linear read-out of the outputs (so every output coordinate matters to the loss).
pub fn readout_loss<const D: usize>(y: Tensor<AD, D>) -> Tensor<AD, 1> {
    let w = y.random_like(Distribution::Normal(0.0, 1.0)).detach();
    (y * w).sum()
}

/// Collects every float parameter's gradient (flattened; zeros where there is none).
struct GradCollect<'a, Bk: AutodiffBackend> {
    grads: &'a <Bk as AutodiffBackend>::Gradients,
    out: Vec<Vec<f32>>,
}

impl<Bk: AutodiffBackend> ModuleVisitor<Bk> for GradCollect<'_, Bk> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Bk, D>>) {
        let n = param.val().shape().num_elements();
        self.out.push(match param.val().grad(self.grads) {
            Some(g) => g.into_data().convert::<f32>().to_vec::<f32>().unwrap(),
            None => vec![0.0; n],
        });
    }
}

/// The gradients (every parameter, then the input) of a fixed random read-out of
/// `layer.forward(x)` equal those of the same read-out of the stepwise recurrence.
pub fn check_forward_grads_match_step_grads<L: SequenceLayer<AD> + Module<AD>>(
    layer: &L,
    batch: usize,
    len: usize,
    d: usize,
    tol: f64,
    what: &str,
) {
    let device = Default::default();
    let x = randn::<AD, 3>([batch, len, d], &device).require_grad();
    let weight = randn::<AD, 3>([batch, len, d], &device);
    let grads_of = |y: Tensor<AD, 3>| {
        let grads = (y * weight.clone()).sum().backward();
        let mut v = GradCollect::<AD> {
            grads: &grads,
            out: Vec::new(),
        };
        layer.visit(&mut v);
        v.out.push(to_vec(x.grad(&grads).expect("input gradient")));
        v.out
    };
    let full = grads_of(layer.forward(x.clone()));
    let steps = grads_of(run_steps(layer, x.clone()));
    assert_eq!(full.len(), steps.len());
    for (i, (a, b)) in full.iter().zip(&steps).enumerate() {
        assert!(
            a.iter().all(|v| v.is_finite()),
            "{what}: gradient #{i} not finite"
        );
        let e = rel_err(a, b);
        assert!(
            e <= tol,
            "{what}: gradient #{i} (last = input) differs: {e:e}"
        );
    }
}

/// Small-width variant of every mixer (non-default where it matters for small `d`).
pub fn small_mixer(name: &str) -> kleene_zoo::MixerConfig {
    use kleene_zoo::MixerConfig;
    let mut m = MixerConfig::default_for(name).unwrap();
    match &mut m {
        MixerConfig::S4d(c) => c.d_state = 8,
        MixerConfig::H3(c) => {
            c.d_state = 8;
            c.shift_taps = 4;
        }
        MixerConfig::Hyena(c) => {
            c.l_max = 64;
            c.filter_order = 16;
        }
        MixerConfig::Gilr(c) => c.dropout = 0.0,
        MixerConfig::Lru(c) => c.dropout = 0.0,
        MixerConfig::PdSsm(c) => c.dropout = 0.0,
        MixerConfig::Retnet(c) => c.n_heads = 2,
        MixerConfig::Gla(c) => {
            c.n_heads = 2;
            c.chunk_size = 4;
        }
        MixerConfig::LinearAttention(c) => c.n_heads = 2,
        MixerConfig::Mamba(c) => c.d_state = 4,
        MixerConfig::Mamba2(c) => {
            // At d 8: 4 heads in 2 groups (per-head Δ/A/D broadcast and group mapping exercised).
            c.headdim = 4;
            c.ngroups = 2;
            c.d_state = 4;
        }
        MixerConfig::DeltaNet(c) => c.n_heads = 2,
        MixerConfig::GatedDeltaNet(c) => c.n_heads = 2,
        MixerConfig::GatedDeltaProduct(c) => c.n_heads = 2,
        MixerConfig::Rwkv7(c) => {
            c.head_dim = 4;
            c.decay_low_rank_dim = Some(4);
            c.a_low_rank_dim = Some(4);
            c.gate_low_rank_dim = Some(6);
        }
        // Defaults are small enough (RWKV, LSTM, attention) or untested sizes are fine.
        _ => {}
    }
    m
}

/// One module of the three layer checks (step == forward at tolerance `$tol`, causality,
/// gradients to every parameter) for the layer `$build::<Backend>(device)` at length `$len`.
/// The calling test file brings `D`, `B`, `AD`, `dev` and this module's helpers into scope
/// (`use icl_common::*;`).
#[allow(unused_macros)]
macro_rules! layer_suite {
    ($name:ident, $build:ident, $len:expr, $tol:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn step_matches_forward() {
                let layer = perturb($build::<B>(&dev()), 0.3);
                check_step_matches_forward(&layer, 2, $len, D, $tol, stringify!($name));
            }

            #[test]
            fn causal() {
                let layer = perturb($build::<B>(&dev()), 0.3);
                check_causal(&layer, $len, D, $len / 2, stringify!($name));
            }

            #[test]
            fn gradients_reach_every_parameter() {
                let device = Default::default();
                let layer = perturb($build::<AD>(&device), 0.3);
                let x = randn::<AD, 3>([2, $len, D], &device);
                let loss = readout_loss(layer.forward(x));
                check_all_grads(&layer, loss, stringify!($name));
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use layer_suite;
