//! Training protocols of the SSM expressivity papers.
//!
//! - [`loss`]: per-position CE / one-hot MSE / next-set BCE, final-state and masked targets.
//! - [`optim`]: Adam / AdamW with per-parameter weight-decay exclusions, global-norm clipping.
//! - [`schedule`]: constant, cosine with warm-up, linear decay, halve-on-plateau.
//! - [`data`]: length curriculum, padding and masking, batching by length, deterministic order.
//! - [`checkpoint`]: atomic checkpoints with checksums; [`trainer`]: the loop, exact resume,
//!   NaN/Inf guard; [`metrics`]: JSONL metrics; [`mod@evaluate`]: post-training evaluation with
//!   kleene-eval (`result.json`, `report.md`, SVG plots).
//! - [`config`]: the TOML run config.
//! - [`sweep`]: grids of runs, sharded; [`sweep_status`]: where each run stands; [`slurm`]:
//!   a sweep as a requeue-safe Slurm job array.

pub mod alloc;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod interrupt;
pub mod limits;
pub mod loss;
pub mod metrics;
pub mod model_file;
pub mod model_kind;
pub mod optim;
pub mod progress;
pub mod resume;
pub mod run;
pub mod run_lock;
pub mod schedule;
pub mod slurm;
pub mod sweep;
pub mod sweep_status;
pub mod trainer;

pub use config::RunConfig;
pub use error::TrainError;
pub use evaluate::{evaluate, evaluate_with_info, EvalReport, EvalRow, EvaluateOptions};
pub use loss::LossKind;
pub use model_kind::{register_model, registered_models, ModelKind};
pub use run::{run, BackendKind, RunSummary};
pub use trainer::{train, TrainOptions, TrainOutcome};
