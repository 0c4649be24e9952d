//! The shared [`Task`] wrapper of the Chomsky-hierarchy transduction tasks: DM's
//! non-autoregressive encoding (input, then `output_length(n)` empty tokens, scored only
//! at the empty positions), the length splits, and the label check against the oracle.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::protocol::{ReportedAccuracy, TaskProtocol};
use crate::task::{check_example_shape, Example, SplitSpec, Target, TargetKind, Task};
use crate::LangError;

/// Level of the Chomsky hierarchy a task is placed at in Delétang et al. (2023), Table 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Deterministic context-free (DM's `tasks/dcf/`).
    Dcf,
    /// Context-sensitive (DM's `tasks/cs/`).
    Cs,
}

impl Level {
    /// The abbreviation the paper uses in its tables.
    pub fn short_name(self) -> &'static str {
        match self {
            Level::Dcf => "DCF",
            Level::Cs => "CS",
        }
    }
}

/// One of DM's transduction tasks, without the encoding: a seeded sampler of
/// (input, output) pairs at one input length and an exact oracle from input to output.
/// Implemented once per task (one file each).
///
/// Length `n` is DM's `length` argument of `sample_batch(rng, batch_size, length)`: the
/// number of **input** tokens (the curriculum draws it; empty tokens are extra).
pub trait Transduction: Send + Sync {
    /// Registry name, DM's task name with `-` (e.g. `reverse-string`).
    fn name(&self) -> String;
    /// One line for `kleene data list`.
    fn description(&self) -> String;
    /// The hierarchy level the paper assigns.
    fn level(&self) -> Level;
    /// Display form of every input symbol (DM's `input_size` of them); ids are indices.
    fn symbols(&self) -> Vec<String>;
    /// Display form of every output class (DM's `output_size` of them); ids are indices.
    fn classes(&self) -> Vec<String>;
    /// DM's `output_length(n)`: how many output positions an input of length `n` has.
    fn output_length(&self, len: usize) -> usize;
    /// The termination class of DM's three tasks whose accuracy mask stops after it
    /// (stack manipulation, binary addition, binary multiplication); `None` otherwise.
    fn termination_class(&self) -> Option<u32> {
        None
    }
    /// Draws one (input, output) pair with `len` input tokens (`len >= 1`), following
    /// DM's distribution; `output.len() == output_length(len)`.
    fn sample(&self, len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>);
    /// The exact oracle: the output of `input`, or why `input` is not an input DM's
    /// sampler can produce (a symbol out of place, a malformed expression, ...).
    fn solve(&self, input: &[u32]) -> Result<Vec<u32>, String>;
}

/// Lengths and sizes of the splits. Lengths are DM's input length `n` (see
/// [`Transduction`]).
///
/// Defaults follow DM's protocol windows (train 1..=40, test 41..=500). DM draws fresh
/// batches of 128 at every step and evaluates 512 strings per test length; the
/// materialised splits are smaller so that `kleene data gen --format jsonl` stays small:
/// 20,000 training examples (12.6 MB of JSONL for duplicate string, the longest task)
/// and 2,000 test examples (15.6 MB for duplicate string, whose test strings carry up
/// to 1,500 positions). Trainers that want DM's protocol stream from [`Task::sample`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChomskyConfig {
    /// Shortest training length (default 1).
    pub train_min_len: usize,
    /// Longest training length (default 40).
    pub train_max_len: usize,
    /// Examples in the `train` split (default 20,000).
    pub train_size: usize,
    /// Shortest test length (default 41).
    pub test_min_len: usize,
    /// Longest test length (default 500).
    pub test_max_len: usize,
    /// Examples in the `test` split (default 2,000), lengths uniform over the window.
    pub test_size: usize,
}

impl Default for ChomskyConfig {
    fn default() -> Self {
        ChomskyConfig {
            train_min_len: 1,
            train_max_len: 40,
            train_size: 20_000,
            test_min_len: 41,
            test_max_len: 500,
            test_size: 2_000,
        }
    }
}

/// A [`Transduction`] encoded as a kleene [`Task`] with DM's non-autoregressive protocol
/// (spec §3.1, `make_model_with_empty_targets` with no computation tokens):
///
/// - `tokens` = the `n` input symbols, then `output_length(n)` copies of the empty token,
///   whose id is the number of input symbols (DM's extra one-hot column `V_in`);
/// - target = [`Target::Masked`]: the mask is true exactly at the empty positions, where
///   the classes are the output class ids; masked-out positions hold class 0.
///
/// The mask is DM's *loss* mask (its loss is not masked past a termination token); DM's
/// accuracy mask of the three termination tasks is [`Task::accuracy_mask`].
pub struct ChomskyTask {
    transduction: Box<dyn Transduction>,
    config: ChomskyConfig,
    name: String,
    description: String,
}

/// Display form of the empty token.
pub const EMPTY_TOKEN_DISPLAY: &str = "∅";

impl ChomskyTask {
    /// Wraps a transduction with its split configuration.
    pub fn new(transduction: impl Transduction + 'static, config: ChomskyConfig) -> Self {
        let name = transduction.name();
        let description = format!(
            "{} (Delétang et al. 2023, {}): {}",
            name,
            transduction.level().short_name(),
            transduction.description()
        );
        ChomskyTask {
            transduction: Box::new(transduction),
            config,
            name,
            description,
        }
    }

    /// The wrapped task.
    pub fn transduction(&self) -> &dyn Transduction {
        self.transduction.as_ref()
    }

    /// The split configuration.
    pub fn config(&self) -> &ChomskyConfig {
        &self.config
    }

    /// Id of the empty token: the number of input symbols.
    pub fn empty_token(&self) -> u32 {
        self.transduction.symbols().len() as u32
    }

    /// DM's output length for input length `len`.
    pub fn output_length(&self, len: usize) -> usize {
        self.transduction.output_length(len)
    }

    /// Encodes an (input, output) pair: input, empty tokens, masked classes.
    pub fn encode(&self, input: &[u32], output: &[u32]) -> Example {
        let n = input.len();
        let total = n + output.len();
        let mut tokens = Vec::with_capacity(total);
        tokens.extend_from_slice(input);
        tokens.resize(total, self.empty_token());
        let mut classes = vec![0; n];
        classes.extend_from_slice(output);
        let mut mask = vec![false; n];
        mask.resize(total, true);
        Example {
            tokens,
            target: Target::Masked { classes, mask },
        }
    }

    /// The input length `n` of an encoded example: the position of its first empty token,
    /// or why it has none (checked by [`Task::check_example`]).
    fn find_input_len(&self, example: &Example) -> Result<usize, String> {
        let empty = self.empty_token();
        example
            .tokens
            .iter()
            .position(|&t| t == empty)
            .ok_or_else(|| {
                "no empty token: the input must be followed by its output positions".into()
            })
    }

    fn window_error(&self, min_len: usize, max_len: usize) -> LangError {
        LangError::InvalidConfig {
            task: self.name.clone(),
            field: "length window".into(),
            reason: format!(
                "no input length in {min_len}..={max_len}: DM's lengths start at 1 (and must fit in u32)"
            ),
        }
    }
}

impl Task for ChomskyTask {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn vocab(&self) -> Vec<String> {
        let mut v = self.transduction.symbols();
        v.push(EMPTY_TOKEN_DISPLAY.into());
        v
    }

    fn classes(&self) -> Vec<String> {
        self.transduction.classes()
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Masked
    }

    /// The length unit is DM's input length `n` (the `length` argument of
    /// `sample_batch`), not the token count `n + output_length(n)`. The length is drawn
    /// uniformly from the window (DM's uniform curriculum); 0 is raised to 1.
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        let lo = min_len.max(1);
        if lo > max_len || max_len > u32::MAX as usize {
            return Err(self.window_error(min_len, max_len));
        }
        let len = rng.random_range(lo as u32..=max_len as u32) as usize;
        let (input, output) = self.transduction.sample(len, rng);
        debug_assert_eq!(input.len(), len);
        debug_assert_eq!(output.len(), self.output_length(len));
        Ok(self.encode(&input, &output))
    }

    /// DM's input length `n`: the position of the first empty token (the whole example
    /// when it has none, which [`Task::check_example`] rejects).
    fn input_len(&self, example: &Example) -> usize {
        self.find_input_len(example).unwrap_or(example.tokens.len())
    }

    /// DM's accuracy mask (`accuracy_mask` in `tasks/dcf/stack_manipulation.py`,
    /// `tasks/cs/binary_addition.py`, `binary_multiplication.py`): the output positions up
    /// to and including the first termination class. `None` (every output position, the
    /// target's mask) for the other tasks, and for an example with no termination class
    /// among its outputs (which DM's samplers never produce).
    fn accuracy_mask(&self, example: &Example) -> Option<Vec<bool>> {
        let end = self.transduction.termination_class()?;
        let Target::Masked { classes, mask } = &example.target else {
            return None;
        };
        let n = self.input_len(example);
        let stop = (n..classes.len()).find(|&p| classes[p] == end)?;
        Some(
            (0..classes.len())
                .map(|p| mask.get(p).copied().unwrap_or(false) && p <= stop)
                .collect(),
        )
    }

    /// DM reports per-token accuracy over the output positions (after its accuracy mask).
    fn protocol(&self) -> TaskProtocol {
        TaskProtocol {
            reported_accuracy: ReportedAccuracy::Token,
            ..TaskProtocol::default()
        }
    }

    fn splits(&self) -> Vec<SplitSpec> {
        let c = &self.config;
        vec![
            SplitSpec {
                name: "train".into(),
                min_len: c.train_min_len,
                max_len: c.train_max_len,
                size: c.train_size,
            },
            SplitSpec {
                name: "test".into(),
                min_len: c.test_min_len,
                max_len: c.test_max_len,
                size: c.test_size,
            },
        ]
    }

    /// Checks the encoding (input, exactly `output_length(n)` empty tokens, the mask on
    /// them, class 0 elsewhere) and recomputes the output with the task's oracle.
    fn check_example(&self, example: &Example) -> Result<(), String> {
        let classes_len = self.transduction.classes().len();
        check_example_shape(self.vocab().len(), classes_len, TargetKind::Masked, example)?;
        let n = self.find_input_len(example)?;
        if n == 0 {
            return Err("no input tokens before the first empty token".into());
        }
        let tokens = &example.tokens;
        let empty = self.empty_token();
        if let Some(p) = (n..tokens.len()).find(|&p| tokens[p] != empty) {
            return Err(format!(
                "token {} at position {p} follows the empty tokens (which start at position {n})",
                tokens[p]
            ));
        }
        let out_len = self.output_length(n);
        let found = tokens.len() - n;
        if found != out_len {
            return Err(format!(
                "an input of length {n} needs {out_len} empty tokens, found {found}"
            ));
        }
        let Target::Masked { classes, mask } = &example.target else {
            return Err("target is not masked".into());
        };
        if let Some(p) = (0..mask.len()).find(|&p| mask[p] != (p >= n)) {
            return Err(format!(
                "mask is {} at position {p}: it must be true exactly at the output positions {n}..{}",
                mask[p],
                tokens.len()
            ));
        }
        if let Some(p) = (0..n).find(|&p| classes[p] != 0) {
            return Err(format!(
                "class {} at input position {p}: unscored positions hold class 0",
                classes[p]
            ));
        }
        let expected = self
            .transduction
            .solve(&tokens[..n])
            .map_err(|reason| format!("input is not one DM's sampler produces: {reason}"))?;
        if let Some(i) = (0..out_len).find(|&i| classes[n + i] != expected[i]) {
            return Err(format!(
                "output position {i} (position {}): class {}, the oracle says {}",
                n + i,
                classes[n + i],
                expected[i]
            ));
        }
        Ok(())
    }
}

/// `len` i.i.d. uniform symbols in `0..k` (DM's `jrandom.randint(0, k)` strings).
pub(crate) fn uniform_symbols(k: u32, len: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
    (0..len).map(|_| rng.random_range(0..k)).collect()
}

/// Uniform integer in `lo..=hi` (DM's `np.random.randint(lo, hi + 1)`); lengths fit u32.
pub(crate) fn uniform_between(lo: usize, hi: usize, rng: &mut ChaCha8Rng) -> usize {
    rng.random_range(lo as u32..=hi as u32) as usize
}

/// Checks that every input token is below `k`; the error names the first bad position.
pub(crate) fn check_symbols(input: &[u32], k: u32) -> Result<(), String> {
    match input.iter().position(|&t| t >= k) {
        Some(p) => Err(format!(
            "token {} at position {p} is not one of the task's {k} symbols here",
            input[p]
        )),
        None => Ok(()),
    }
}

/// Class names `0..n` as strings.
pub(crate) fn numbered(n: u32) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}
