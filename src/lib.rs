//! kleene: which formal languages can state-space models, RNNs and Transformers learn,
//! and do they generalize to longer inputs?
//!
//! Tasks with exact oracles (the Bhattamishra suite, SD-SSM's regular and group tasks,
//! DeepMind's Chomsky-hierarchy tasks, flip-flop, bounded Dyck, REGBENCH, recall tasks), a
//! zoo of sequence models (Mamba, SD-SSM, the delta-rule family, RNN, LSTM, Transformer, ...)
//! on fast CPU and CubeCL scan kernels, training with exact resume, and the papers' evaluation
//! protocols. The command-line tool `kleene` (crate `kleene-cli`) is a thin layer over this
//! library.
//!
//! # Quick start
//! Train a small Mamba on parity for a few steps and print its length-generalization table.
//! [`prelude`] brings in everything needed; a dependent's `Cargo.toml` needs only `kleene`.
//!
//! ```
//! use kleene::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = ModelConfig::Mamba(MambaConfig {
//!     d_model: 8,
//!     n_layers: 1,
//!     d_state: 4,
//!     ..Default::default()
//! });
//! let mut cfg = RunConfig::new("parity-check", model);
//! cfg.task.train_max_len = Some(8);
//! cfg.training.steps = 20;
//! cfg.training.batch_size = 8;
//! cfg.eval.protocol = EvalProtocol::Lengths;
//! cfg.eval.max_len = 16;
//! cfg.eval.samples_per_len = 4;
//!
//! let run_dir = std::env::temp_dir().join(format!("kleene-quickstart-{}", std::process::id()));
//! let summary = run(BackendKind::Ndarray, &cfg, &run_dir, &TrainOptions::default(), |_| {})?;
//! assert_eq!(summary.steps, 20);
//! println!("{}", summary.report.to_markdown());
//! # std::fs::remove_dir_all(&run_dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! The run directory holds `config.toml`, `metrics.jsonl`, `checkpoint/`, `result.json`,
//! `eval.md` and `report.md` (docs/training.md). Lower level: [`train::train`] trains any
//! [`zoo::SequenceModel`] on any [`langs::Task`], [`train::evaluate()`] evaluates one.
//!
//! # Layers
//! The facade re-exports the layered crates, each usable alone:
//! [`langs`] (tasks, no Burn) <- [`scan`] (kernels) <- [`zoo`] (models) <- [`eval`]
//! (metrics, reports) <- [`train`] (configs, training, sweeps).

#[doc(inline)]
pub use kleene_eval as eval;
#[doc(inline)]
pub use kleene_langs as langs;
#[doc(inline)]
pub use kleene_scan as scan;
#[doc(inline)]
pub use kleene_train as train;
#[doc(inline)]
pub use kleene_zoo as zoo;

/// Burn, at the exact version kleene is built with (`=0.21.0`): name tensors, modules and
/// backends through it rather than adding `burn` to your own `Cargo.toml`.
pub use burn;
/// The RNG crate of [`langs::Task::sample`] (`ChaCha8Rng`).
pub use rand_chacha;
/// serde, for the config of a model kind of your own ([`train::ModelKind::Config`]): derive
/// with `#[serde(crate = "kleene::serde")]` to need no `serde` in your own `Cargo.toml`.
pub use serde;

/// What a program using kleene needs, in one `use kleene::prelude::*;`.
pub mod prelude {
    pub use burn::module::{AutodiffModule, Module};
    pub use burn::tensor::backend::{AutodiffBackend, Backend};
    pub use burn::tensor::{Bool, Float, Int, Tensor, TensorData};
    pub use rand::Rng;
    pub use rand_chacha::ChaCha8Rng;

    pub use kleene_eval::{Report, RunResult};
    pub use kleene_langs::{
        all_tasks, seeded_rng, task_by_name, Example, LangError, SplitSpec, Target, TargetKind,
        Task,
    };
    pub use kleene_train::config::{EvalConfig, EvalProtocol, TaskConfig, TrainingConfig};
    pub use kleene_train::model_file::{load_model, load_model_as, save_model};
    pub use kleene_train::run::{CpuBackend, CpuInference};
    #[cfg(feature = "cuda")]
    pub use kleene_train::run::{CudaBackend, CudaInference};
    #[cfg(feature = "flex")]
    pub use kleene_train::run::{FlexBackend, FlexInference};
    #[cfg(feature = "wgpu")]
    pub use kleene_train::run::{WgpuBackend, WgpuInference};
    pub use kleene_train::trainer::{load_checkpoint_model, load_checkpoint_model_as};
    pub use kleene_train::{
        evaluate, register_model, registered_models, run, train, BackendKind, EvalReport,
        EvaluateOptions, LossKind, ModelKind, RunConfig, RunSummary, TrainError, TrainOptions,
        TrainOutcome,
    };
    pub use kleene_zoo::{
        AnyModel, AnyState, CustomModelConfig, LstmConfig, MambaConfig, ModelConfig, RnnConfig,
        SdSsmConfig, SequenceLayer, SequenceModel, TransformerConfig, ZooError,
    };
}
