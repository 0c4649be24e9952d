//! A whole run from a config: task + model from the registries, train, evaluate, report.

use std::path::Path;

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::prelude::{Backend, Bool, Int, Tensor};
use burn::tensor::backend::AutodiffBackend;
use kleene_scan::ScanBackend;
use kleene_zoo::{AnyModel, ModelConfig, SequenceModel};
use serde::{Deserialize, Serialize};

use crate::config::{model_field_error, RunConfig};
use crate::evaluate::{eval_plan, evaluate_with_info, run_info, EvalReport, EvalRow};
use crate::trainer::{
    input_vocab, load_checkpoint_model, output_dim, train, train_window, TrainOptions,
};
use crate::TrainError;

/// The backend a run uses, chosen at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// burn-ndarray on the CPU (always available; the reference for determinism).
    #[default]
    Ndarray,
    /// burn-wgpu (Vulkan / Metal / lavapipe); cargo feature `wgpu`.
    Wgpu,
    /// burn-cuda; cargo feature `cuda`.
    Cuda,
    /// burn-flex on the CPU (faster dense ops than burn-ndarray); cargo feature `flex`.
    Flex,
}

impl std::str::FromStr for BackendKind {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self, TrainError> {
        match s.to_ascii_lowercase().as_str() {
            "ndarray" | "cpu" => Ok(BackendKind::Ndarray),
            "wgpu" => Ok(BackendKind::Wgpu),
            "cuda" => Ok(BackendKind::Cuda),
            "flex" => Ok(BackendKind::Flex),
            other => Err(TrainError::Backend {
                name: other.to_string(),
                reason: "expected one of ndarray, flex, wgpu, cuda".into(),
            }),
        }
    }
}

/// The CPU inference backend (burn-ndarray, f32, no autodiff): models from `model.valid()`,
/// evaluation, the recurrent `step` over long inputs.
pub type CpuInference = burn_ndarray::NdArray<f32>;

/// The CPU training backend.
pub type CpuBackend = burn::backend::Autodiff<CpuInference>;

/// burn-flex without autodiff (cargo feature `flex`).
#[cfg(feature = "flex")]
pub type FlexInference = kleene_scan::Flex;

/// The second CPU training backend, burn-flex (cargo feature `flex`).
#[cfg(feature = "flex")]
pub type FlexBackend = burn::backend::Autodiff<FlexInference>;

/// burn-wgpu with kleene-scan's CubeCL kernels, without autodiff (cargo feature `wgpu`).
#[cfg(feature = "wgpu")]
pub type WgpuInference = kleene_scan::cube::Wgpu;

/// burn-wgpu with kleene-scan's CubeCL kernels (cargo feature `wgpu`).
#[cfg(feature = "wgpu")]
pub type WgpuBackend = burn::backend::Autodiff<WgpuInference>;

/// burn-cuda with kleene-scan's CubeCL kernels, without autodiff (cargo feature `cuda`).
#[cfg(feature = "cuda")]
pub type CudaInference = kleene_scan::cube::Cuda;

/// burn-cuda with kleene-scan's CubeCL kernels (cargo feature `cuda`).
#[cfg(feature = "cuda")]
pub type CudaBackend = burn::backend::Autodiff<CudaInference>;

/// The run's model config, after every check of the config against its task; errors name
/// the field. Call it before writing anything (the CLI does, before its banner; `sweep
/// --dry-run` for every grid point). Checked here: the training window (a bound the config
/// leaves unset comes from the task's `train` split, so an empty window stops the run here
/// rather than in the sampler), the model against the task's vocabulary and outputs, the
/// evaluation plan (split names, REGBENCH options: before training, not after it), and sizes
/// that would hang or exceed the machine's memory ([`crate::limits`]).
pub fn model_config(cfg: &RunConfig) -> Result<ModelConfig, TrainError> {
    let task = kleene_langs::task_by_name(&cfg.task.name)?;
    check_against_task(cfg, task.as_ref())
}

pub(crate) fn check_against_task(
    cfg: &RunConfig,
    task: &dyn kleene_langs::Task,
) -> Result<ModelConfig, TrainError> {
    let window = train_window(task, cfg)?;
    let out = output_dim(task, cfg.training.loss)?;
    cfg.model
        .validate(input_vocab(task), out)
        .map_err(|e| model_field_error(&cfg.model, e))?;
    if let ModelConfig::Custom(custom) = &cfg.model {
        crate::model_kind::lookup(custom)?.check(custom, input_vocab(task), out)?;
    }
    let plan = eval_plan(&cfg.eval, task, cfg.training.loss, window)?;
    let splits = kleene_eval::plan_splits(&plan, task).map_err(|e| {
        let field = if cfg.eval.paper.is_some() {
            "eval.paper.splits"
        } else {
            "eval.splits"
        };
        match e {
            kleene_eval::EvalError::InvalidOption { reason, .. } => {
                TrainError::invalid(field, reason)
            }
            other => TrainError::Eval(other),
        }
    })?;
    let eval_max_len = splits
        .iter()
        .map(|s| s.max_len)
        .chain(plan.curve.as_ref().map(|c| c.max_len))
        .max()
        .unwrap_or(0);
    let curve = plan.curve.as_ref().map_or(0.0, |c| {
        crate::limits::curve_tokens(c.min_len, c.max_len, c.step, c.per_length)
    });
    let long = plan.long_lengths.as_ref().map_or(0.0, |l| {
        l.per_length as f64 * l.lengths.iter().map(|&n| n as f64).sum::<f64>()
    });
    crate::limits::check_eval_tokens(curve, long)?;
    crate::limits::check(
        cfg,
        input_vocab(task),
        window.1,
        eval_max_len,
        crate::limits::machine_memory(),
    )?;
    Ok(cfg.model.clone())
}

/// What a finished run reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    pub steps: u64,
    pub final_loss: Option<f64>,
    pub final_train_acc: Option<f64>,
    pub report: EvalReport,
}

fn build<B: ScanBackend>(
    cfg: &RunConfig,
    task: &dyn kleene_langs::Task,
    device: &B::Device,
) -> Result<AnyModel<B>, TrainError> {
    // Checked before anything is built or written (a bad field stops the run here).
    let mc = check_against_task(cfg, task)?;
    let out = output_dim(task, cfg.training.loss)?;
    init_seeded::<B, _, _>(device, cfg.training.seed, || {
        mc.init::<B>(input_vocab(task), out, device)
            .map_err(|e| model_field_error(&mc, e))
    })
}

/// Draws a model's initial weights from the backend RNG seeded with `seed`.
///
/// Burn's backend RNG (NdArray's) is process-global, and Burn parameters initialise lazily,
/// on first use. So that the same seed gives the same weights even when several runs share
/// a process (threads, tests), seeding, building and drawing every parameter
/// ([`materialize`]) happen together under one process-wide lock.
pub fn init_seeded<B: Backend, M: Module<B>, E>(
    device: &B::Device,
    seed: u64,
    init: impl FnOnce() -> Result<M, E>,
) -> Result<M, E> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    B::seed(device, seed);
    let model = init()?;
    materialize(&model);
    Ok(model)
}

/// Initialises every lazily initialised parameter of `model` now.
pub fn materialize<B: Backend, M: Module<B>>(model: &M) {
    struct Touch;
    impl<B: Backend> ModuleVisitor<B> for Touch {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
            let _ = p.val();
        }
        fn visit_int<const D: usize>(&mut self, p: &Param<Tensor<B, D, Int>>) {
            let _ = p.val();
        }
        fn visit_bool<const D: usize>(&mut self, p: &Param<Tensor<B, D, Bool>>) {
            let _ = p.val();
        }
    }
    model.visit(&mut Touch);
}

/// Trains and evaluates the run described by `cfg` in `run_dir` on backend `B`, writing
/// `result.json`, `report.md`, `report.json` and `<experiment>.svg` (see
/// [`EvalReport::write`]). `on_row` sees every evaluation row (the CLI prints them).
pub fn run_on<B>(
    cfg: &RunConfig,
    run_dir: &Path,
    opts: &TrainOptions,
    device: &B::Device,
    mut on_row: impl FnMut(&EvalRow),
) -> Result<RunSummary, TrainError>
where
    B: AutodiffBackend + ScanBackend,
    B::InnerBackend: ScanBackend,
{
    let task = kleene_langs::task_by_name(&cfg.task.name)?;
    let model = build::<B>(cfg, task.as_ref(), device)?;
    train_and_evaluate::<B, _>(
        model,
        cfg,
        task.as_ref(),
        run_dir,
        opts,
        device,
        &mut on_row,
    )
}

/// Trains the freshly built (seeded) `model` as `cfg` says, then evaluates it and writes the
/// reports: the part of [`run_on`] shared by the zoo's and the registered model kinds.
pub(crate) fn train_and_evaluate<B, M>(
    model: M,
    cfg: &RunConfig,
    task: &dyn kleene_langs::Task,
    run_dir: &Path,
    opts: &TrainOptions,
    device: &B::Device,
    on_row: &mut dyn FnMut(&EvalRow),
) -> Result<RunSummary, TrainError>
where
    B: AutodiffBackend + ScanBackend,
    B::InnerBackend: ScanBackend,
    M: AutodiffModule<B> + SequenceModel<B>,
    M::InnerModule: SequenceModel<B::InnerBackend>,
{
    let out = train::<B, _>(model, task, cfg, run_dir, opts, device)?;
    // A signal that came as the last step ended: the checkpoint is written, stop before
    // the evaluation (a resume of the finished run evaluates it).
    if let (Some(signal), Some(checkpoint)) = (crate::interrupt::requested(), &out.checkpoint) {
        return Err(TrainError::Interrupted {
            signal,
            step: out.step,
            checkpoint: checkpoint.clone(),
        });
    }
    if opts.progress {
        // Evaluation reports its rows only at the end; say that it started.
        eprintln!("evaluating ({:?} protocol) ...", cfg.eval.protocol);
    }
    let report = evaluate_and_write(
        &out.model.valid(),
        cfg,
        task,
        out.step,
        run_dir,
        device,
        on_row,
    )?;
    Ok(RunSummary {
        steps: out.step,
        final_loss: out.last.as_ref().map(|l| l.loss),
        final_train_acc: out.last.as_ref().map(|l| l.seq_acc),
        report,
    })
}

/// Re-evaluates a finished run directory (its `config.toml` and checkpoint) on backend `B`;
/// rewrites the same files as [`run_on`].
pub fn eval_run_dir<B>(
    run_dir: &Path,
    device: &B::Device,
    mut on_row: impl FnMut(&EvalRow),
) -> Result<EvalReport, TrainError>
where
    B: AutodiffBackend + ScanBackend,
    B::InnerBackend: ScanBackend,
{
    let cfg = RunConfig::load(&run_dir.join("config.toml"))?;
    let task = kleene_langs::task_by_name(&cfg.task.name)?;
    let model = build::<B>(&cfg, task.as_ref(), device)?;
    evaluate_checkpoint::<B, _>(model, &cfg, task.as_ref(), run_dir, device, &mut on_row)
}

/// Loads the checkpoint of `run_dir` into `model` (built from `cfg`), evaluates it and
/// rewrites the reports: the part of [`eval_run_dir`] shared with registered model kinds.
pub(crate) fn evaluate_checkpoint<B, M>(
    model: M,
    cfg: &RunConfig,
    task: &dyn kleene_langs::Task,
    run_dir: &Path,
    device: &B::Device,
    on_row: &mut dyn FnMut(&EvalRow),
) -> Result<EvalReport, TrainError>
where
    B: AutodiffBackend + ScanBackend,
    B::InnerBackend: ScanBackend,
    M: AutodiffModule<B> + SequenceModel<B>,
    M::InnerModule: SequenceModel<B::InnerBackend>,
{
    let (model, step) = load_checkpoint_model::<B, _>(model, run_dir, device)?;
    evaluate_and_write(&model.valid(), cfg, task, step, run_dir, device, on_row)
}

/// Evaluates a trained model as the run's `[eval]` says and writes the run's reports.
fn evaluate_and_write<B: Backend, M: SequenceModel<B>>(
    model: &M,
    cfg: &RunConfig,
    task: &dyn kleene_langs::Task,
    step: u64,
    run_dir: &Path,
    device: &B::Device,
    on_row: &mut dyn FnMut(&EvalRow),
) -> Result<EvalReport, TrainError> {
    let report = evaluate_with_info::<B, _>(
        model,
        task,
        &cfg.eval,
        cfg.training.loss,
        train_window(task, cfg)?,
        step,
        &run_info(cfg, task, run_dir),
        device,
        on_row,
    )?;
    report.write(run_dir)?;
    Ok(report)
}

/// [`run_on`] with the backend picked at run time. `run_dir` is where the run is written
/// (the CLI passes the config's `out_dir`; [`RunConfig::run_dir`] gives it). A config whose
/// model is `kind = "custom"` runs through its registration ([`crate::register_model`]).
pub fn run(
    backend: BackendKind,
    cfg: &RunConfig,
    run_dir: &Path,
    opts: &TrainOptions,
    on_row: impl FnMut(&EvalRow),
) -> Result<RunSummary, TrainError> {
    // A config built in code (`RunConfig::new`, struct literals) has not been through
    // `RunConfig::parse`'s checks.
    cfg.validate()?;
    if let ModelConfig::Custom(custom) = &cfg.model {
        let mut on_row = on_row;
        return crate::model_kind::lookup(custom)?.run(backend, cfg, run_dir, opts, &mut on_row);
    }
    match backend {
        BackendKind::Ndarray => {
            run_on::<CpuBackend>(cfg, run_dir, opts, &Default::default(), on_row)
        }
        #[cfg(feature = "flex")]
        BackendKind::Flex => run_on::<FlexBackend>(cfg, run_dir, opts, &Default::default(), on_row),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => run_on::<WgpuBackend>(cfg, run_dir, opts, &Default::default(), on_row),
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => run_on::<CudaBackend>(cfg, run_dir, opts, &Default::default(), on_row),
        #[allow(unreachable_patterns)]
        other => Err(unavailable(other)),
    }
}

/// [`eval_run_dir`] with the backend picked at run time.
pub fn eval(
    backend: BackendKind,
    run_dir: &Path,
    on_row: impl FnMut(&EvalRow),
) -> Result<EvalReport, TrainError> {
    let cfg = RunConfig::load(&run_dir.join("config.toml"))?;
    if let ModelConfig::Custom(custom) = &cfg.model {
        let mut on_row = on_row;
        return crate::model_kind::lookup(custom)?.eval(backend, &cfg, run_dir, &mut on_row);
    }
    match backend {
        BackendKind::Ndarray => eval_run_dir::<CpuBackend>(run_dir, &Default::default(), on_row),
        #[cfg(feature = "flex")]
        BackendKind::Flex => eval_run_dir::<FlexBackend>(run_dir, &Default::default(), on_row),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => eval_run_dir::<WgpuBackend>(run_dir, &Default::default(), on_row),
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => eval_run_dir::<CudaBackend>(run_dir, &Default::default(), on_row),
        #[allow(unreachable_patterns)]
        other => Err(unavailable(other)),
    }
}

pub(crate) fn unavailable(kind: BackendKind) -> TrainError {
    let (name, feature) = match kind {
        BackendKind::Wgpu => ("wgpu", "wgpu"),
        BackendKind::Cuda => ("cuda", "cuda"),
        BackendKind::Flex => ("flex", "flex"),
        BackendKind::Ndarray => ("ndarray", ""),
    };
    TrainError::Backend {
        name: name.into(),
        reason: format!(
            "this binary was built without it: rebuild with `--features {feature}` \
             (e.g. `cargo run --release -p kleene-cli --features {feature} -- train ...`)"
        ),
    }
}
