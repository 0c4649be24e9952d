//! Formal languages and sequence tasks with exact oracles.
//!
//! Every family implements the [`Task`] trait: it knows its vocabulary, samples
//! examples of a given length from a seeded [`rand_chacha::ChaCha8Rng`], and
//! names the splits (length windows and sizes) of the published benchmark.
//! The same seed gives byte-identical data on every machine.
//!
//! Families (one module each):
//! - [`bhattamishra`]: the 27-language suite of Bhattamishra et al. (2020).
//! - [`flipflop`]: flip-flop language of Liu et al. (2023).
//! - [`bounded_dyck`]: Dyck-(k, m) of Yao et al. (2021).
//! - [`regular`]: regular / group tasks of the SD-SSM paper (Terzić et al. 2025).
//! - [`chomsky`]: the DCF and CS tasks of the Chomsky-hierarchy suite (Delétang et al. 2023).
//! - [`regbench`]: REGBENCH random-DFA in-context language learning (Akyürek et al. 2024).
//! - [`synthetics`]: associative recall, induction heads, multi-query associative recall.

pub mod bhattamishra;
pub mod bounded_dyck;
pub mod chomsky;
pub mod error;
pub mod flipflop;
pub mod io;
pub mod protocol;
pub mod regbench;
pub mod registry;
pub mod regular;
pub mod synthetics;
pub mod task;

pub use error::LangError;
pub use protocol::{PublishedLayout, ReportedAccuracy, TaskProtocol};
pub use registry::{all_tasks, register_task, task_by_name, TaskInfo};
pub use task::{seeded_rng, Example, SplitSpec, Target, TargetKind, Task};
