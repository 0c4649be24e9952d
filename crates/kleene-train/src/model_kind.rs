//! Model kinds a program defines itself, registered by name ([`register_model`]).
//!
//! The zoo's models are one closed enum ([`kleene_zoo::AnyModel`]), so a model of your own
//! cannot join it. Instead you describe it as a [`ModelKind`] (its typed config, its Burn
//! module, how to build it), register it under a name, and write `[model] kind = "custom"`,
//! `name = "<that name>"` with its settings ([`kleene_zoo::CustomModelConfig`]). The
//! high-level entry points then accept it like a zoo model: [`crate::run()`] and
//! [`crate::run::model_config`] (validation), [`crate::run::eval`] (a finished run directory),
//! sweeps (every grid point goes through `run`), resume, checkpoints (the config is recorded
//! and compared on load) and reports.
//!
//! Registration is per process, like [`kleene_langs::register_task`]: the `kleene` command
//! line does not know your kinds; run them from your own program. A model generic over its
//! backend with `#[derive(Module)]` trains on every backend kleene was built with.
//!
//! ```
//! // In a program depending on `kleene`, `use kleene::prelude::*;` brings all of these in.
//! use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
//! use burn::prelude::*;
//! use kleene_scan::ScanBackend;
//! use kleene_train::config::EvalProtocol;
//! use kleene_train::{register_model, run, BackendKind, ModelKind, RunConfig, TrainOptions};
//! use kleene_zoo::{CustomModelConfig, ModelConfig, SequenceModel, ZooError};
//!
//! /// Embedding, then a linear map of each token on its own (no memory: a toy).
//! #[derive(Module, Debug)]
//! struct Bag<B: Backend> {
//!     embed: Embedding<B>,
//!     head: Linear<B>,
//! }
//!
//! impl<B: ScanBackend> SequenceModel<B> for Bag<B> {
//!     type State = ();
//!     fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
//!         self.head.forward(self.embed.forward(tokens))
//!     }
//!     fn init_state(&self, _batch: usize, _device: &B::Device) {}
//!     fn step(&self, tokens: Tensor<B, 1, Int>, _: ()) -> (Tensor<B, 2>, ()) {
//!         let [b] = tokens.dims();
//!         let y = self.forward(tokens.reshape([b, 1]));
//!         let out = y.dims()[2];
//!         (y.reshape([b, out]), ())
//!     }
//!     fn out_dim(&self) -> usize {
//!         self.head.weight.dims()[1]
//!     }
//! }
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct BagConfig {
//!     d_model: usize,
//! }
//!
//! struct BagKind;
//!
//! impl ModelKind for BagKind {
//!     type Config = BagConfig;
//!     type Model<B: ScanBackend> = Bag<B>;
//!     fn init<B: ScanBackend>(
//!         &self,
//!         c: &BagConfig,
//!         vocab_size: usize,
//!         out_dim: usize,
//!         device: &B::Device,
//!     ) -> Result<Bag<B>, ZooError> {
//!         Ok(Bag {
//!             embed: EmbeddingConfig::new(vocab_size, c.d_model).init(device),
//!             head: LinearConfig::new(c.d_model, out_dim).init(device),
//!         })
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! register_model("bag_of_tokens", BagKind)?;
//! let model = ModelConfig::Custom(CustomModelConfig::new("bag_of_tokens").with("d_model", 8)?);
//! let mut cfg = RunConfig::new("parity-check", model);
//! cfg.training.steps = 5;
//! cfg.eval.protocol = EvalProtocol::Lengths;
//! cfg.eval.max_len = 12;
//! cfg.eval.samples_per_len = 2;
//! let dir = std::env::temp_dir().join(format!("kleene-bag-{}", std::process::id()));
//! let summary = run(BackendKind::Ndarray, &cfg, &dir, &TrainOptions::default(), |_| {})?;
//! assert_eq!(summary.steps, 5);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

use std::path::Path;
use std::sync::{Arc, RwLock};

use burn::module::{AutodiffModule, Module};
use kleene_scan::ScanBackend;
use kleene_zoo::{CustomModelConfig, SequenceModel, ZooError};
use serde::de::DeserializeOwned;

use crate::evaluate::{EvalReport, EvalRow};
use crate::run::{BackendKind, RunSummary};
use crate::{RunConfig, TrainError, TrainOptions};

/// A model kind of your own: its typed config and its model on every backend.
pub trait ModelKind: Send + Sync + 'static {
    /// Its settings: the `[model]` table without `kind` and `name` (deserialised from them;
    /// use `#[serde(deny_unknown_fields)]` so a misspelt field is an error naming it).
    type Config: DeserializeOwned;
    /// The model on backend `B` (a Burn module, usually `#[derive(Module)]`).
    type Model<B: ScanBackend>: SequenceModel<B> + Module<B>;

    /// One line on the kind (for listings); default empty.
    fn description(&self) -> String {
        String::new()
    }

    /// Checks `config` for a task with `vocab_size` input tokens and `out_dim` outputs per
    /// position, before anything is written; errors should name the field. Default: no checks
    /// beyond the config's own deserialisation.
    fn validate(
        &self,
        _config: &Self::Config,
        _vocab_size: usize,
        _out_dim: usize,
    ) -> Result<(), ZooError> {
        Ok(())
    }

    /// Builds the model (kleene seeds the backend RNG first, so the same seed gives the same
    /// weights).
    fn init<B: ScanBackend>(
        &self,
        config: &Self::Config,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Result<Self::Model<B>, ZooError>;
}

/// The part of a registered kind that the type-erased registry calls: parse and check its
/// settings, train or evaluate on the backend picked at run time.
pub(crate) trait RegisteredKind: Send + Sync {
    fn description(&self) -> String;
    fn check(&self, custom: &CustomModelConfig, vocab: usize, out: usize)
        -> Result<(), TrainError>;
    fn run(
        &self,
        backend: BackendKind,
        cfg: &RunConfig,
        run_dir: &Path,
        opts: &TrainOptions,
        on_row: &mut dyn FnMut(&EvalRow),
    ) -> Result<RunSummary, TrainError>;
    fn eval(
        &self,
        backend: BackendKind,
        cfg: &RunConfig,
        run_dir: &Path,
        on_row: &mut dyn FnMut(&EvalRow),
    ) -> Result<EvalReport, TrainError>;
}

static REGISTERED: RwLock<Vec<(String, Arc<dyn RegisteredKind>)>> = RwLock::new(Vec::new());

/// Registers `kind` under `name` for this process. Then `[model] kind = "custom"` with
/// `name = "<name>"` trains, resumes, evaluates and sweeps through the library's entry points.
/// A name registered before, or empty, is refused ([`TrainError::InvalidConfig`] naming it).
pub fn register_model<K>(name: &str, kind: K) -> Result<(), TrainError>
where
    K: ModelKind + on_backend::Trainable,
{
    let name = name.trim();
    if name.is_empty() {
        return Err(TrainError::invalid(
            "model.name",
            "the name to register is empty",
        ));
    }
    let mut registered = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    if registered.iter().any(|(n, _)| n == name) {
        return Err(TrainError::invalid(
            "model.name",
            format!("`{name}` is already a registered model kind"),
        ));
    }
    registered.push((name.to_string(), Arc::new(Registered(kind))));
    Ok(())
}

/// The registered model kinds: name and description, in registration order.
pub fn registered_models() -> Vec<(String, String)> {
    let registered = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    registered
        .iter()
        .map(|(n, k)| (n.clone(), k.description()))
        .collect()
}

/// The registered kind of a `kind = "custom"` config, or an error naming `model.name`.
pub(crate) fn lookup(custom: &CustomModelConfig) -> Result<Arc<dyn RegisteredKind>, TrainError> {
    let registered = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    registered
        .iter()
        .find(|(n, _)| *n == custom.name)
        .map(|(_, k)| Arc::clone(k))
        .ok_or_else(|| {
            let known: Vec<&str> = registered.iter().map(|(n, _)| n.as_str()).collect();
            TrainError::invalid(
                "model.name",
                format!(
                    "no model kind `{}` is registered in this program (registered: {}); a custom \
                     kind runs from the program that registers it with \
                     kleene::train::register_model, not from the `kleene` command line",
                    custom.name,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
}

struct Registered<K>(K);

impl<K: ModelKind + on_backend::Trainable> Registered<K> {
    fn config(&self, custom: &CustomModelConfig) -> Result<K::Config, TrainError> {
        serde_json::from_value(custom.settings_value())
            .map_err(|e| TrainError::invalid(format!("model ({})", custom.name), e.to_string()))
    }
}

impl<K: ModelKind + on_backend::Trainable> RegisteredKind for Registered<K> {
    fn description(&self) -> String {
        self.0.description()
    }

    fn check(
        &self,
        custom: &CustomModelConfig,
        vocab: usize,
        out: usize,
    ) -> Result<(), TrainError> {
        let config = self.config(custom)?;
        self.0
            .validate(&config, vocab, out)
            .map_err(TrainError::Model)
    }

    fn run(
        &self,
        backend: BackendKind,
        cfg: &RunConfig,
        run_dir: &Path,
        opts: &TrainOptions,
        on_row: &mut dyn FnMut(&EvalRow),
    ) -> Result<RunSummary, TrainError> {
        let custom = custom_of(cfg)?;
        let config = self.config(custom)?;
        on_backend::Trainable::run(&self.0, &config, backend, cfg, run_dir, opts, on_row)
    }

    fn eval(
        &self,
        backend: BackendKind,
        cfg: &RunConfig,
        run_dir: &Path,
        on_row: &mut dyn FnMut(&EvalRow),
    ) -> Result<EvalReport, TrainError> {
        let custom = custom_of(cfg)?;
        let config = self.config(custom)?;
        on_backend::Trainable::eval(&self.0, &config, backend, cfg, run_dir, on_row)
    }
}

fn custom_of(cfg: &RunConfig) -> Result<&CustomModelConfig, TrainError> {
    match &cfg.model {
        kleene_zoo::ModelConfig::Custom(c) => Ok(c),
        other => Err(TrainError::invalid(
            "model.kind",
            format!("`{}` is not a custom model kind", other.kind()),
        )),
    }
}

/// The run's task and a registered kind's model on backend `B`'s default device, seeded,
/// after the run's checks.
#[allow(clippy::type_complexity)]
fn build<K, B>(
    kind: &K,
    config: &K::Config,
    cfg: &RunConfig,
) -> Result<(K::Model<B>, Box<dyn kleene_langs::Task>, B::Device), TrainError>
where
    K: ModelKind,
    B: ScanBackend,
{
    let device = B::Device::default();
    let task = kleene_langs::task_by_name(&cfg.task.name)?;
    crate::run::check_against_task(cfg, task.as_ref())?;
    let out = crate::trainer::output_dim(task.as_ref(), cfg.training.loss)?;
    let vocab = crate::trainer::input_vocab(task.as_ref());
    let model = crate::run::init_seeded::<B, _, _>(&device, cfg.training.seed, || {
        kind.init::<B>(config, vocab, out, &device)
            .map_err(TrainError::Model)
    })?;
    Ok((model, task, device))
}

/// `run_on` / `eval_run_dir` for kind `K` on the autodiff backend `B`.
fn run_on<K, B>(
    kind: &K,
    config: &K::Config,
    cfg: &RunConfig,
    run_dir: &Path,
    opts: &TrainOptions,
    on_row: &mut dyn FnMut(&EvalRow),
) -> Result<RunSummary, TrainError>
where
    K: ModelKind,
    B: burn::tensor::backend::AutodiffBackend + ScanBackend,
    B::InnerBackend: ScanBackend,
    K::Model<B>: AutodiffModule<B, InnerModule = K::Model<B::InnerBackend>>,
{
    let (model, task, device) = build::<K, B>(kind, config, cfg)?;
    crate::run::train_and_evaluate::<B, _>(
        model,
        cfg,
        task.as_ref(),
        run_dir,
        opts,
        &device,
        on_row,
    )
}

fn eval_on<K, B>(
    kind: &K,
    config: &K::Config,
    cfg: &RunConfig,
    run_dir: &Path,
    on_row: &mut dyn FnMut(&EvalRow),
) -> Result<EvalReport, TrainError>
where
    K: ModelKind,
    B: burn::tensor::backend::AutodiffBackend + ScanBackend,
    B::InnerBackend: ScanBackend,
    K::Model<B>: AutodiffModule<B, InnerModule = K::Model<B::InnerBackend>>,
{
    let (model, task, device) = build::<K, B>(kind, config, cfg)?;
    crate::run::evaluate_checkpoint::<B, _>(model, cfg, task.as_ref(), run_dir, &device, on_row)
}

/// Which backends a registered kind trains on: every backend this build of kleene has
/// (features `flex`, `wgpu`, `cuda`), which a model generic over its backend satisfies.
/// One trait per backend, so that a backend left out of the build asks nothing of the model.
pub mod on_backend {
    use super::*;

    /// A kind whose model trains on every backend of this build; implemented for every such
    /// [`ModelKind`], never by hand.
    pub trait Trainable: ModelKind + OnNdarray + OnFlex + OnWgpu + OnCuda {
        #[doc(hidden)]
        fn run(
            &self,
            config: &Self::Config,
            backend: BackendKind,
            cfg: &RunConfig,
            run_dir: &Path,
            opts: &TrainOptions,
            on_row: &mut dyn FnMut(&EvalRow),
        ) -> Result<RunSummary, TrainError> {
            match backend {
                BackendKind::Ndarray => self.run_ndarray(config, cfg, run_dir, opts, on_row),
                BackendKind::Flex => self.run_flex(config, cfg, run_dir, opts, on_row),
                BackendKind::Wgpu => self.run_wgpu(config, cfg, run_dir, opts, on_row),
                BackendKind::Cuda => self.run_cuda(config, cfg, run_dir, opts, on_row),
            }
        }

        #[doc(hidden)]
        fn eval(
            &self,
            config: &Self::Config,
            backend: BackendKind,
            cfg: &RunConfig,
            run_dir: &Path,
            on_row: &mut dyn FnMut(&EvalRow),
        ) -> Result<EvalReport, TrainError> {
            match backend {
                BackendKind::Ndarray => self.eval_ndarray(config, cfg, run_dir, on_row),
                BackendKind::Flex => self.eval_flex(config, cfg, run_dir, on_row),
                BackendKind::Wgpu => self.eval_wgpu(config, cfg, run_dir, on_row),
                BackendKind::Cuda => self.eval_cuda(config, cfg, run_dir, on_row),
            }
        }
    }

    impl<K: ModelKind + OnNdarray + OnFlex + OnWgpu + OnCuda> Trainable for K {}

    /// Generates the per-backend trait `$trait` with `$run` / `$eval`: implemented through
    /// `run_on`/`eval_on` when the build has the backend (`$feature`), else answering that it
    /// has not. `$backend` is named only inside the feature's own items.
    macro_rules! on_backend {
        ($trait:ident, $run:ident, $eval:ident, $kind:ident, $backend:ty, $($feature:literal)?) => {
            #[doc = concat!("Trains and evaluates on the `", stringify!($kind), "` backend (implemented for every fitting [`ModelKind`]).")]
            // The defaults answer for a build without the backend; the impl for a build with
            // it overrides both.
            pub trait $trait: ModelKind {
                #[doc(hidden)]
                fn $run(
                    &self,
                    _config: &Self::Config,
                    _cfg: &RunConfig,
                    _run_dir: &Path,
                    _opts: &TrainOptions,
                    _on_row: &mut dyn FnMut(&EvalRow),
                ) -> Result<RunSummary, TrainError> {
                    Err(crate::run::unavailable(BackendKind::$kind))
                }
                #[doc(hidden)]
                fn $eval(
                    &self,
                    _config: &Self::Config,
                    _cfg: &RunConfig,
                    _run_dir: &Path,
                    _on_row: &mut dyn FnMut(&EvalRow),
                ) -> Result<EvalReport, TrainError> {
                    Err(crate::run::unavailable(BackendKind::$kind))
                }
            }

            $(#[cfg(feature = $feature)])?
            impl<K> $trait for K
            where
                K: ModelKind,
                K::Model<$backend>: AutodiffModule<
                    $backend,
                    InnerModule = K::Model<<$backend as burn::tensor::backend::AutodiffBackend>::InnerBackend>,
                >,
            {
                fn $run(
                    &self,
                    config: &Self::Config,
                    cfg: &RunConfig,
                    run_dir: &Path,
                    opts: &TrainOptions,
                    on_row: &mut dyn FnMut(&EvalRow),
                ) -> Result<RunSummary, TrainError> {
                    run_on::<K, $backend>(self, config, cfg, run_dir, opts, on_row)
                }
                fn $eval(
                    &self,
                    config: &Self::Config,
                    cfg: &RunConfig,
                    run_dir: &Path,
                    on_row: &mut dyn FnMut(&EvalRow),
                ) -> Result<EvalReport, TrainError> {
                    eval_on::<K, $backend>(self, config, cfg, run_dir, on_row)
                }
            }

            $(
            #[cfg(not(feature = $feature))]
            impl<K: ModelKind> $trait for K {}
            )?
        };
    }

    on_backend!(
        OnNdarray,
        run_ndarray,
        eval_ndarray,
        Ndarray,
        crate::run::CpuBackend,
    );
    on_backend!(
        OnFlex,
        run_flex,
        eval_flex,
        Flex,
        crate::run::FlexBackend,
        "flex"
    );
    on_backend!(
        OnWgpu,
        run_wgpu,
        eval_wgpu,
        Wgpu,
        crate::run::WgpuBackend,
        "wgpu"
    );
    on_backend!(
        OnCuda,
        run_cuda,
        eval_cuda,
        Cuda,
        crate::run::CudaBackend,
        "cuda"
    );
}
