//! The seam every language family implements.
//!
//! A [`Task`] turns a seeded RNG and a length into an [`Example`]: token ids in,
//! a [`Target`] out. Training and evaluation code (kleene-train, kleene-eval) sees
//! nothing but this trait, so a new family needs no change anywhere else.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::protocol::{PublishedLayout, TaskProtocol};
use crate::LangError;

/// The RNG every generator uses. ChaCha8 is portable: the same seed gives the
/// same stream on every platform and word size.
pub fn seeded_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// What a model is asked to predict for one input sequence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// One class id per input position (`classes.len() == tokens.len()`), e.g. the
    /// Bhattamishra next-character chunk after reading the prefix up to that position.
    PerPosition(Vec<u32>),
    /// One class id per position, scored only where `mask` is true: next-token
    /// language modelling (bounded Dyck, REGBENCH, associative recall) and the
    /// read answers of flip-flop.
    Masked { classes: Vec<u32>, mask: Vec<bool> },
    /// One class for the whole sequence, read at the last step (the query step
    /// when the task appends a query token): SD-SSM regular/group tasks.
    Final(u32),
}

/// The shape of a task's targets, known before any example is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    PerPosition,
    Masked,
    Final,
}

impl Target {
    /// The kind of this target.
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::PerPosition(_) => TargetKind::PerPosition,
            Target::Masked { .. } => TargetKind::Masked,
            Target::Final(_) => TargetKind::Final,
        }
    }
}

/// One input sequence with its target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// Input token ids in `0..task.vocab().len()`.
    pub tokens: Vec<u32>,
    pub target: Target,
}

/// A named split: how many examples, over which closed length window.
///
/// `min_len..=max_len` counts input tokens as the published release counts them
/// (characters for the Bhattamishra files, instruction/bit pairs for flip-flop, ...);
/// each family documents its unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitSpec {
    /// e.g. `train`, `bin0`, `bin1`, `dev`, `test`, `in_dist`, `sparse`.
    pub name: String,
    pub min_len: usize,
    pub max_len: usize,
    /// Number of examples in the split.
    pub size: usize,
}

/// A sequence task: vocabulary, classes, seeded sampling, splits.
///
/// Implementations must be deterministic functions of their config and the RNG.
pub trait Task: Send + Sync {
    /// Short readable name used on the command line, e.g. `tomita-3`, `parity-check`.
    fn name(&self) -> &str;

    /// One line describing the task, shown by `kleene data list`.
    fn description(&self) -> &str;

    /// Input vocabulary: `vocab()[id]` is the display form of token `id`.
    fn vocab(&self) -> Vec<String>;

    /// Output classes: `classes()[c]` is the display form of class `c`
    /// (for language-model tasks this is usually the vocabulary again).
    fn classes(&self) -> Vec<String>;

    /// The kind of [`Target`] every example of this task carries.
    fn target_kind(&self) -> TargetKind;

    /// Draws one example whose length (in the task's unit, see [`SplitSpec`]) lies in
    /// `min_len..=max_len`. Returns an error when no example exists in the window
    /// (e.g. a^n b^n with an odd-only window).
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError>;

    /// The splits of the published benchmark, in release order.
    fn splits(&self) -> Vec<SplitSpec>;

    /// Generates one whole split. The default draws `split.size` independent samples;
    /// families whose release de-duplicates or carves several splits out of one list
    /// override it.
    fn generate_split(&self, split: &SplitSpec, seed: u64) -> Result<Vec<Example>, LangError> {
        let mut rng = seeded_rng(split_seed(seed, &split.name));
        (0..split.size)
            .map(|_| self.sample(split.min_len, split.max_len, &mut rng))
            .collect()
    }

    /// Multi-label view of a per-position target (Bhattamishra's original formulation:
    /// the set of legal next characters after each prefix), if the task has one.
    /// `result[t][s]` says whether symbol `s` may follow the prefix `tokens[..=t]`.
    fn next_symbol_sets(&self, _tokens: &[u32]) -> Option<Vec<Vec<bool>>> {
        None
    }

    /// Membership oracle: whether `tokens` is a string of the task's language, if the
    /// task is a language (None for tasks that are not, e.g. associative recall).
    fn is_member(&self, _tokens: &[u32]) -> Option<bool> {
        None
    }

    /// The length of `example` in the task's length unit (the unit of [`SplitSpec`] and of
    /// [`Task::sample`]'s window): e.g. the input symbols without a query token, or DM's
    /// input length `n` without the output positions. Training windows, length curricula
    /// and per-length evaluation group examples by it. Default: the token count.
    fn input_len(&self, example: &Example) -> usize {
        example.tokens.len()
    }

    /// The positions accuracy scores, when they differ from the positions the loss
    /// scores (the target's own; DM's `accuracy_mask`, e.g. stopping after an END class
    /// while the loss covers every output position). Same length as `example.tokens`;
    /// only positions the target scores may be true. Default `None`: accuracy scores
    /// exactly the positions the loss scores.
    fn accuracy_mask(&self, _example: &Example) -> Option<Vec<bool>> {
        None
    }

    /// The task's evaluation protocol: the accuracy its paper reports and the
    /// protocol-specific metrics that run by default. Default: sequence accuracy only.
    fn protocol(&self) -> TaskProtocol {
        TaskProtocol::default()
    }

    /// The published text layout of the task's family, if it has one besides JSONL
    /// (the Bhattamishra suite's is found by [`crate::bhattamishra::by_name`]).
    fn published_layout(&self) -> Option<PublishedLayout> {
        None
    }

    /// Checks one example (e.g. read from a file): token ids in the vocabulary, the
    /// target of the task's kind and width, class ids in range. Families with an oracle
    /// override it to also check membership and recompute the target.
    /// The error is a human-readable reason (the caller adds file and line).
    fn check_example(&self, example: &Example) -> Result<(), String> {
        check_example_shape(
            self.vocab().len(),
            self.classes().len(),
            self.target_kind(),
            example,
        )
    }

    /// Generates every split of [`Task::splits`], in order. The default calls
    /// [`Task::generate_split`] per split; families that carve several splits out of one
    /// generated list override it to generate that list once.
    fn generate_all_splits(&self, seed: u64) -> Result<Vec<(SplitSpec, Vec<Example>)>, LangError> {
        self.splits()
            .into_iter()
            .map(|split| {
                let examples = self.generate_split(&split, seed)?;
                Ok((split, examples))
            })
            .collect()
    }
}

/// The shape checks of [`Task::check_example`]'s default: token ids below `vocab_len`,
/// the target of kind `kind`, per-position targets as long as the input, class ids
/// below `classes_len`.
pub fn check_example_shape(
    vocab_len: usize,
    classes_len: usize,
    kind: TargetKind,
    example: &Example,
) -> Result<(), String> {
    if let Some((pos, &tok)) = example
        .tokens
        .iter()
        .enumerate()
        .find(|(_, &t)| t as usize >= vocab_len)
    {
        return Err(format!(
            "token id {tok} at position {pos} is outside the vocabulary (size {vocab_len})"
        ));
    }
    if example.target.kind() != kind {
        return Err(format!(
            "target is {:?} but the task's targets are {:?}",
            example.target.kind(),
            kind
        ));
    }
    let n = example.tokens.len();
    let classes: &[u32] = match &example.target {
        Target::PerPosition(c) => {
            if c.len() != n {
                return Err(format!("target has {} positions, input has {n}", c.len()));
            }
            c
        }
        Target::Masked { classes, mask } => {
            if classes.len() != n || mask.len() != n {
                return Err(format!(
                    "target has {} classes and {} mask entries, input has {n} positions",
                    classes.len(),
                    mask.len()
                ));
            }
            classes
        }
        Target::Final(c) => std::slice::from_ref(c),
    };
    if let Some(&c) = classes.iter().find(|&&c| c as usize >= classes_len) {
        return Err(format!(
            "class id {c} is outside the task's {classes_len} classes"
        ));
    }
    Ok(())
}

/// Derives the seed of one split from the run seed and the split name, so splits are
/// independent streams and adding a split never changes another one.
pub fn split_seed(seed: u64, split_name: &str) -> u64 {
    // FNV-1a over the name, mixed with the seed by a SplitMix64 finaliser.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in split_name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
