//! Protocol drivers: run any [`kleene_zoo::SequenceModel`] on any [`kleene_langs::Task`] and feed the plain-Rust
//! metrics of [`crate::metrics`]. The only Burn code of the crate lives here.
//!
//! Two ways to run a model:
//! - **parallel** ([`for_each_output`]): sequences sorted by length, cut into batches of
//!   `batch_size`, right-padded with `pad_token` to the longest in the batch, one
//!   `forward` per batch. Padding sits after every real token, so a causal model (the
//!   `SequenceModel` contract: output `t` depends only on inputs `0..=t`) gives the same
//!   outputs at real positions as without padding; padded positions are never scored.
//! - **recurrent** ([`evaluate_examples_recurrent`], [`long_length_curve`],
//!   [`greedy_generation`]): `init_state` then one `step` per position, so memory on the
//!   device does not grow with the length (10⁴, 10⁵ tokens and beyond).
//!
//! One runner (`runner.rs`: parallel and recurrent) serves every protocol; each protocol
//! has its file: `splits.rs`, `lengths.rs`, `dyck.rs`, `regbench.rs`.

mod dyck;
mod lengths;
mod regbench;
mod runner;
mod splits;

use serde::{Deserialize, Serialize};

use crate::metrics::accuracy::Scoring;
use crate::EvalError;

pub use dyck::close_accuracy;
pub use lengths::{length_curve, length_rng, long_length_curve, CurveConfig, LongLengthConfig};
pub use regbench::{
    greedy_generation, greedy_generation_with, regbench_generation, regbench_metrics,
    regbench_metrics_with, regbench_problems, GenerationConfig, RegbenchPositions,
};
pub use runner::for_each_output;
pub use splits::{
    evaluate_examples, evaluate_examples_recurrent, evaluate_split, evaluate_splits, flip_flop,
};

/// Options shared by the drivers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalOptions {
    /// Sequences per forward / step batch. Default 64 (the SD-SSM sub-batch).
    pub batch_size: usize,
    /// How a position is judged. Default [`Scoring::Argmax`].
    pub scoring: Scoring,
    /// Input id used to right-pad shorter sequences in a batch. Default 0: an id every
    /// model's embedding has (a real token of every task). Which id pads never changes a
    /// scored output: padding sits after every real token and models are causal (the
    /// [`kleene_zoo::SequenceModel`] contract, tested for every zoo model), and padded
    /// positions are not scored. kleene-train passes its training padding id instead (the
    /// task's vocabulary size, the extra embedding row its models have).
    pub pad_token: u32,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            batch_size: 64,
            scoring: Scoring::Argmax,
            pad_token: 0,
        }
    }
}

impl EvalOptions {
    fn check(&self) -> Result<(), EvalError> {
        if self.batch_size == 0 {
            return Err(EvalError::option("batch_size", "must be at least 1"));
        }
        Ok(())
    }
}
