//! The deterministic context-free (DCF) and context-sensitive (CS) tasks of DeepMind's
//! Chomsky-hierarchy suite (Delétang et al., "Neural Networks and the Chomsky
//! Hierarchy", ICLR 2023; code `google-deepmind/neural_networks_chomsky_hierarchy`,
//! "DM" below), laid out like DM's `tasks/dcf/*.py` and `tasks/cs/*.py`: one file per
//! task. DM's four regular tasks live in [`crate::regular`].
//!
//! Every task is a transduction ([`Transduction`]): an input of DM's length `n` and an
//! output of `output_length(n)` classes. [`ChomskyTask`] encodes it with DM's
//! non-autoregressive protocol: the input, then `output_length(n)` empty tokens (id = the
//! number of input symbols), with a [`crate::Target::Masked`] target scored exactly at the
//! empty positions. The length unit of every split and of [`crate::Task::sample`] is DM's
//! `n`, the `length` argument of `sample_batch`: input tokens only.
//!
//! | task | level | input symbols | classes | output length |
//! |---|---|---|---|---|
//! | `reverse-string` | DCF | 0 1 | 0 1 | n |
//! | `stack-manipulation` | DCF | 0 1 POP PUSH0 PUSH1 | 0 1 END | n+1 |
//! | `modular-arithmetic-brackets` | DCF | 0-4 + - * ( ) x | 0-4 | 1 |
//! | `solve-equation` | DCF | 0-4 + - ( ) x = | 0-4 | 1 |
//! | `duplicate-string` | CS | 0 1 | 0 1 | 2n |
//! | `missing-duplicate-string` | CS | 0 1 ? # | 0 1 | 1 |
//! | `odds-first` | CS | 0 1 | 0 1 | n |
//! | `binary-addition` | CS | 0 1 + | 0 1 END | n+1 |
//! | `binary-multiplication` | CS | 0 1 * | 0 1 END | n |
//! | `compute-sqrt` | CS | 0 1 | 0 1 | ⌈n/2⌉ |
//! | `bucket-sort` | CS | 0-4 | 0-4 | n |
//!
//! Sampling follows DM's code (including its degenerate short lengths) with the crate's
//! ChaCha8 stream instead of JAX / numpy / Python randomness, so distributions match and
//! individual strings do not. Where DM's code and the paper disagree the code is followed
//! (odds first's order, compute sqrt's big-endian numbers; see each task).

#![warn(missing_docs)]

mod binary_addition;
mod binary_multiplication;
mod binary_numbers;
mod bucket_sort;
mod compute_sqrt;
mod duplicate_string;
mod missing_duplicate_string;
mod modular_arithmetic_brackets;
mod odds_first;
mod reverse_string;
mod solve_equation;
mod stack_manipulation;
mod transduction;

pub use binary_addition::BinaryAddition;
pub use binary_multiplication::BinaryMultiplication;
pub use bucket_sort::BucketSort;
pub use compute_sqrt::ComputeSqrt;
pub use duplicate_string::DuplicateString;
pub use missing_duplicate_string::MissingDuplicateString;
pub use modular_arithmetic_brackets::ModularArithmeticBrackets;
pub use odds_first::{OddsFirst, OddsFirstOrder};
pub use reverse_string::ReverseString;
pub use solve_equation::SolveEquation;
pub use stack_manipulation::StackManipulation;
pub use transduction::{ChomskyConfig, ChomskyTask, Level, Transduction, EMPTY_TOKEN_DISPLAY};

use crate::registry::TaskInfo;
use crate::LangError;

/// Every task of this family with the paper's parameters and the default splits, DCF
/// first, in the paper's table order. DM's snake_case names resolve through the
/// registry's normalisation; DM's class names are aliases.
pub fn tasks() -> Vec<TaskInfo> {
    let entry = |task: ChomskyTask, aliases: &[&str]| TaskInfo {
        task: Box::new(task),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
    };
    let c = ChomskyConfig::default;
    vec![
        entry(
            ChomskyTask::new(StackManipulation, c()),
            &["StackManipulation"],
        ),
        entry(
            ChomskyTask::new(ReverseString::default(), c()),
            &["ReverseString"],
        ),
        entry(
            ChomskyTask::new(ModularArithmeticBrackets::default(), c()),
            &["ModularArithmeticBrackets"],
        ),
        entry(
            ChomskyTask::new(SolveEquation::default(), c()),
            &["SolveEquation"],
        ),
        entry(
            ChomskyTask::new(DuplicateString::default(), c()),
            &["DuplicateString"],
        ),
        entry(
            ChomskyTask::new(MissingDuplicateString, c()),
            &["MissingDuplicateString", "missing-duplicate"],
        ),
        entry(ChomskyTask::new(OddsFirst::default(), c()), &["OddsFirst"]),
        entry(ChomskyTask::new(BinaryAddition, c()), &["BinaryAddition"]),
        entry(
            ChomskyTask::new(BinaryMultiplication, c()),
            &["BinaryMultiplication"],
        ),
        entry(ChomskyTask::new(ComputeSqrt, c()), &["ComputeSqrt"]),
        entry(
            ChomskyTask::new(BucketSort::default(), c()),
            &["BucketSort"],
        ),
    ]
}

/// Checks an alphabet size of the uniform-string tasks (DM's `vocab_size`).
fn alphabet_size(task: &str, vocab_size: u32) -> Result<u32, LangError> {
    if (1..=1 << 16).contains(&vocab_size) {
        Ok(vocab_size)
    } else {
        Err(LangError::InvalidConfig {
            task: task.into(),
            field: "vocab_size".into(),
            reason: format!("{vocab_size} is outside 1..=65536"),
        })
    }
}

/// `base` for the paper's alphabet size, `base-vocab<k>` otherwise.
fn named(base: &str, vocab_size: u32, paper_vocab_size: u32) -> String {
    if vocab_size == paper_vocab_size {
        base.into()
    } else {
        format!("{base}-vocab{vocab_size}")
    }
}
