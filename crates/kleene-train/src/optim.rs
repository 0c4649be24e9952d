//! Adam / AdamW with per-parameter weight-decay exclusions and global-norm clipping.
//!
//! Burn applies one weight decay to every parameter an optimizer sees, so the
//! parameters are split in two groups by path (`layers.0.mixer.a_log`, ...): one
//! optimizer with the configured decay, one with none. Each group's gradients are
//! taken out of the autodiff gradients with `GradientsParams::from_params`
//! (pitfall #18). Clipping is global (PyTorch `clip_grad_norm_`: scale all gradients by
//! `min(1, c / (||g|| + 1e-6))`), not Burn's per-tensor clipping (pitfall #9).

use burn::module::{AutodiffModule, ModuleVisitor, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{Adam, AdamConfig, AdamW, AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;

use crate::config::{OptimizerKind, TrainingConfig};
use crate::TrainError;

/// Collects the paths and ids of every float parameter.
struct PathCollector {
    stack: Vec<String>,
    params: Vec<(String, ParamId)>,
}

impl<B: Backend> ModuleVisitor<B> for PathCollector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.stack.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.params.push((self.stack.join("."), param.id));
    }
}

/// Every float parameter of `module` as `(dotted path, id)`, in visiting order.
pub fn parameter_paths<B: Backend, M: Module<B>>(module: &M) -> Vec<(String, ParamId)> {
    let mut c = PathCollector {
        stack: Vec::new(),
        params: Vec::new(),
    };
    module.visit(&mut c);
    c.params
}

/// Whether a parameter path is excluded from weight decay. A pattern matches a path
/// component case-insensitively when it is equal to it, or (patterns of 3+ characters)
/// when the component is the pattern followed by `_` or a digit: `norm` matches
/// `layers.0.norm.gamma` and `norm_f.beta`; `d` matches `mixer.d` but not
/// `mixer.dt_proj.weight`.
pub fn is_excluded(path: &str, patterns: &[String]) -> bool {
    path.split('.').any(|comp| {
        let comp = comp.to_ascii_lowercase();
        patterns.iter().any(|p| {
            let p = p.to_ascii_lowercase();
            comp == p
                || (p.len() >= 3
                    && comp.starts_with(&p)
                    && comp[p.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c == '_' || c.is_ascii_digit()))
        })
    })
}

/// Sum of squared gradient entries, accumulated as a device scalar.
struct GradNormVisitor<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradNormVisitor<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let s = g.powf_scalar(2.0).sum();
            self.sum = Some(match self.sum.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
}

/// Multiplies every gradient by `coef`.
struct GradScaleVisitor<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    coef: f64,
    _b: std::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradScaleVisitor<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.coef));
        }
    }
}

/// The global L2 norm of all gradients of `module`.
pub fn global_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> f64 {
    let mut v = GradNormVisitor::<B> { grads, sum: None };
    module.visit(&mut v);
    match v.sum {
        Some(s) => (s.into_scalar().elem::<f64>()).sqrt(),
        None => 0.0,
    }
}

/// PyTorch `clip_grad_norm_(max_norm)`: returns the norm before clipping.
pub fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    let norm = global_grad_norm::<B, M>(module, grads);
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        let mut v = GradScaleVisitor::<B> {
            grads,
            coef,
            _b: std::marker::PhantomData,
        };
        module.visit(&mut v);
    }
    norm
}

enum Group<M: AutodiffModule<B>, B: AutodiffBackend> {
    Adam(OptimizerAdaptor<Adam, M, B>),
    AdamW(OptimizerAdaptor<AdamW, M, B>),
}

impl<M: AutodiffModule<B>, B: AutodiffBackend> Group<M, B> {
    fn new(cfg: &TrainingConfig, decay: f64) -> Self {
        match cfg.optimizer {
            OptimizerKind::Adam => {
                let c = AdamConfig::new()
                    .with_beta_1(cfg.beta1 as f32)
                    .with_beta_2(cfg.beta2 as f32)
                    .with_epsilon(cfg.eps as f32)
                    .with_weight_decay((decay > 0.0).then(|| WeightDecayConfig::new(decay as f32)));
                Group::Adam(c.init())
            }
            OptimizerKind::AdamW => {
                let c = AdamWConfig::new()
                    .with_beta_1(cfg.beta1 as f32)
                    .with_beta_2(cfg.beta2 as f32)
                    .with_epsilon(cfg.eps as f32)
                    .with_weight_decay(decay as f32);
                Group::AdamW(c.init())
            }
        }
    }

    fn step(&mut self, lr: f64, module: M, grads: GradientsParams) -> M {
        match self {
            Group::Adam(o) => o.step(lr, module, grads),
            Group::AdamW(o) => o.step(lr, module, grads),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let rec = BinBytesRecorder::<FullPrecisionSettings>::default();
        match self {
            Group::Adam(o) => Recorder::<B>::record(&rec, o.to_record(), ()),
            Group::AdamW(o) => Recorder::<B>::record(&rec, o.to_record(), ()),
        }
        .expect("in-memory record never fails")
    }

    fn load_bytes(self, bytes: Vec<u8>, device: &B::Device) -> Result<Self, String> {
        let rec = BinBytesRecorder::<FullPrecisionSettings>::default();
        // bincode decoding inside Burn unwraps: a checksum guards the bytes before this,
        // and catch_unwind turns any remaining mismatch into an error.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || match self {
            Group::Adam(o) => Recorder::<B>::load(&rec, bytes, device)
                .map(|r| Group::Adam(o.load_record(r)))
                .map_err(|e| e.to_string()),
            Group::AdamW(o) => Recorder::<B>::load(&rec, bytes, device)
                .map(|r| Group::AdamW(o.load_record(r)))
                .map_err(|e| e.to_string()),
        }))
        .unwrap_or_else(|_| Err("optimizer record does not decode".to_string()))
    }
}

/// The run's optimiser: two parameter groups (decayed / not decayed) and optional
/// global-norm clipping.
pub struct TrainOptimizer<M: AutodiffModule<B>, B: AutodiffBackend> {
    decayed: Group<M, B>,
    not_decayed: Group<M, B>,
    not_decayed_ids: Vec<ParamId>,
    /// Paths of the parameters that get no weight decay (for the run log).
    pub excluded_paths: Vec<String>,
    grad_clip: Option<f64>,
}

impl<M: AutodiffModule<B>, B: AutodiffBackend> TrainOptimizer<M, B> {
    pub fn new(cfg: &TrainingConfig, model: &M) -> Self {
        let mut ids = Vec::new();
        let mut paths = Vec::new();
        for (path, id) in parameter_paths::<B, M>(model) {
            if cfg.weight_decay > 0.0 && is_excluded(&path, &cfg.no_decay) {
                ids.push(id);
                paths.push(path);
            }
        }
        TrainOptimizer {
            decayed: Group::new(cfg, cfg.weight_decay),
            not_decayed: Group::new(cfg, 0.0),
            not_decayed_ids: ids,
            excluded_paths: paths,
            grad_clip: cfg.grad_clip,
        }
    }

    /// Backward result -> updated model. Returns the model and, when clipping is on, the
    /// global gradient norm before clipping.
    pub fn step(&mut self, lr: f64, model: M, grads: B::Gradients) -> (M, Option<f64>) {
        let mut grads = grads;
        let mut excluded = GradientsParams::from_params(&mut grads, &model, &self.not_decayed_ids);
        let mut rest = GradientsParams::from_grads(grads, &model);
        let norm = match self.grad_clip {
            Some(c) => {
                // One norm over both groups, then the same coefficient on both.
                let n1 = global_grad_norm::<B, M>(&model, &rest);
                let n2 = global_grad_norm::<B, M>(&model, &excluded);
                let norm = (n1 * n1 + n2 * n2).sqrt();
                let coef = c / (norm + 1e-6);
                if coef < 1.0 {
                    for g in [&mut rest, &mut excluded] {
                        let mut v = GradScaleVisitor::<B> {
                            grads: g,
                            coef,
                            _b: std::marker::PhantomData,
                        };
                        model.visit(&mut v);
                    }
                }
                Some(norm)
            }
            None => None,
        };
        let model = self.decayed.step(lr, model, rest);
        let model = if excluded.is_empty() {
            model
        } else {
            self.not_decayed.step(lr, model, excluded)
        };
        (model, norm)
    }

    /// Serialised optimizer state (both groups).
    pub fn to_bytes(&self) -> (Vec<u8>, Vec<u8>) {
        (self.decayed.to_bytes(), self.not_decayed.to_bytes())
    }

    /// Restores the state written by [`to_bytes`](Self::to_bytes).
    pub fn load_bytes(
        self,
        decayed: Vec<u8>,
        not_decayed: Vec<u8>,
        device: &B::Device,
    ) -> Result<Self, TrainError> {
        let path = std::path::PathBuf::from("optimizer");
        Ok(TrainOptimizer {
            decayed: self
                .decayed
                .load_bytes(decayed, device)
                .map_err(|e| TrainError::checkpoint(&path, e))?,
            not_decayed: self
                .not_decayed
                .load_bytes(not_decayed, device)
                .map_err(|e| TrainError::checkpoint(&path, e))?,
            not_decayed_ids: self.not_decayed_ids,
            excluded_paths: self.excluded_paths,
            grad_clip: self.grad_clip,
        })
    }
}
