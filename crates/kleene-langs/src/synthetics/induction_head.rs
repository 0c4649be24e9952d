//! Induction heads (H3 / safari `generate_induction_head`).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{
    check_shifted, safari_splits, safari_vocab, shifted_example, unique_sequences, TrainLoss,
};
use crate::task::{check_example_shape, Example, SplitSpec, TargetKind, Task};
use crate::LangError;

/// Induction-head settings (seq_icl `pipeline/induction_head`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InductionHeadConfig {
    /// Vocabulary size V (default 16): `.`, V-2 numbers, `=>`.
    pub vocab_size: usize,
    /// Random tokens before the final `=>` (default 256).
    pub input_seq_len: usize,
    pub num_examples: usize,
    pub num_test_examples: usize,
    pub train_loss: TrainLoss,
}

impl Default for InductionHeadConfig {
    fn default() -> Self {
        InductionHeadConfig {
            vocab_size: 16,
            input_seq_len: 256,
            num_examples: 5000,
            num_test_examples: 500,
            train_loss: TrainLoss::AllPositions,
        }
    }
}

/// Induction head: `input_seq_len` uniform number tokens in which position `p`
/// (uniform in `0..=input_seq_len-3`) is replaced by `=>`; then `=>` and the token that
/// followed the first `=>` ("to copy"). `input_seq_len + 2` tokens, exactly two `=>`.
#[derive(Clone, Debug)]
pub struct InductionHead {
    config: InductionHeadConfig,
    name: String,
}

impl Default for InductionHead {
    fn default() -> Self {
        InductionHead::new(InductionHeadConfig::default()).expect("valid default")
    }
}

impl InductionHead {
    pub fn new(config: InductionHeadConfig) -> Result<Self, LangError> {
        if config.vocab_size < 3 || config.vocab_size > 1 << 20 {
            return Err(LangError::InvalidConfig {
                task: "induction-head".into(),
                field: "vocab_size".into(),
                reason: format!("must be in 3..=2^20, got {}", config.vocab_size),
            });
        }
        if config.input_seq_len < 3 {
            return Err(LangError::InvalidConfig {
                task: "induction-head".into(),
                field: "input_seq_len".into(),
                reason: "must be at least 3".into(),
            });
        }
        let name = if config.vocab_size == 16 && config.input_seq_len == 256 {
            "induction-head".to_string()
        } else {
            format!(
                "induction-head-v{}-l{}",
                config.vocab_size, config.input_seq_len
            )
        };
        Ok(InductionHead { config, name })
    }

    pub fn config(&self) -> &InductionHeadConfig {
        &self.config
    }

    /// Id of `=>`.
    pub fn copy_token(&self) -> u32 {
        self.config.vocab_size as u32 - 1
    }

    /// One full sequence of `len + 2` tokens.
    pub fn sequence(&self, len: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
        let numbers = self.config.vocab_size as u32 - 2;
        let mut seq: Vec<u32> = Vec::with_capacity(len + 2);
        seq.extend((0..len).map(|_| 1 + rng.random_range(0..numbers)));
        seq.push(self.copy_token());
        let p = rng.random_range(0..=(len - 3) as u32) as usize;
        seq[p] = self.copy_token();
        let to_copy = seq[p + 1];
        seq.push(to_copy);
        seq
    }

    /// The oracle: the token after the first `=>` of `tokens` (random tokens with one
    /// `=>`, then the final `=>`), or why `tokens` is not such an input.
    pub fn answer(&self, tokens: &[u32]) -> Result<u32, String> {
        let n = tokens.len();
        let copy = self.copy_token();
        if n < 4 || tokens[n - 1] != copy {
            return Err(format!(
                "the input ({n} tokens) must end with `=>` after at least 3 tokens"
            ));
        }
        let copies: Vec<usize> = (0..n - 1).filter(|&p| tokens[p] == copy).collect();
        match copies.as_slice() {
            [p] if *p + 2 < n => Ok(tokens[p + 1]),
            [p] => Err(format!(
                "`=>` at position {p} leaves no token to copy before the final `=>`"
            )),
            [] => Err("no `=>` before the final one".into()),
            [_, second, ..] => Err(format!(
                "a second `=>` at position {second} before the final one"
            )),
        }
    }

    fn len_for(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<usize, LangError> {
        if min_len > max_len || max_len < 3 || max_len > u32::MAX as usize {
            return Err(LangError::InvalidConfig {
                task: self.name.clone(),
                field: "length window".into(),
                reason: format!("need at least 3 tokens, window {min_len}..={max_len}"),
            });
        }
        Ok(rng.random_range(min_len.max(3) as u32..=max_len as u32) as usize)
    }
}

impl Task for InductionHead {
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> &str {
        "induction head (H3/safari): random tokens with one `=> x`, final `=>`, predict x"
    }
    fn vocab(&self) -> Vec<String> {
        safari_vocab(self.config.vocab_size)
    }
    fn classes(&self) -> Vec<String> {
        self.vocab()
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Masked
    }
    /// Length unit: random tokens before the final `=>` (`input_seq_len`).
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        let len = self.len_for(min_len, max_len, rng)?;
        Ok(shifted_example(&self.sequence(len, rng), false))
    }
    fn splits(&self) -> Vec<SplitSpec> {
        safari_splits(
            self.config.input_seq_len,
            self.config.num_examples,
            self.config.num_test_examples,
        )
    }
    /// Random tokens before the final `=>`.
    fn input_len(&self, example: &Example) -> usize {
        example.tokens.len().saturating_sub(1)
    }

    /// Checks the shape, then recomputes the answer (the token after the first `=>`).
    fn check_example(&self, example: &Example) -> Result<(), String> {
        check_example_shape(
            self.vocab().len(),
            self.classes().len(),
            TargetKind::Masked,
            example,
        )?;
        check_shifted(example, self.answer(&example.tokens)?)
    }

    fn generate_split(&self, split: &SplitSpec, seed: u64) -> Result<Vec<Example>, LangError> {
        let all = split.name == "train" && self.config.train_loss == TrainLoss::AllPositions;
        let seqs = unique_sequences(&self.name, split, seed, |rng| {
            let len = self.len_for(split.min_len, split.max_len, rng)?;
            Ok(self.sequence(len, rng))
        })?;
        Ok(seqs.iter().map(|s| shifted_example(s, all)).collect())
    }
}
