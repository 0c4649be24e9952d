//! The seam every language family implements.
//!
//! A [`Task`] turns a seeded RNG and a length into an [`Example`]: token ids in,
//! a [`Target`] out. Training and evaluation code (kleene-train, kleene-eval) sees
//! nothing but this trait, so a new family needs no change anywhere else.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

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
