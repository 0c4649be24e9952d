//! Associative recall (H3 / safari `generate_assoc_recall`).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{
    check_shifted, safari_splits, safari_vocab, shifted_example, unique_sequences, TrainLoss,
};
use crate::task::{check_example_shape, Example, SplitSpec, TargetKind, Task};
use crate::LangError;

/// Associative-recall settings (seq_icl `pipeline/assoc_recall`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AssociativeRecallConfig {
    /// Vocabulary size V (default 40): `.`, V-2 numbers, `=>`. Keys are ids
    /// `1..=(V-2)/2`, values the remaining numbers.
    pub vocab_size: usize,
    /// Tokens of key-value pairs (default 384, i.e. 192 pairs).
    pub input_seq_len: usize,
    /// Training / test examples (default 5000 / 500).
    pub num_examples: usize,
    pub num_test_examples: usize,
    /// What the `train` split scores (default every position).
    pub train_loss: TrainLoss,
}

impl Default for AssociativeRecallConfig {
    fn default() -> Self {
        AssociativeRecallConfig {
            vocab_size: 40,
            input_seq_len: 384,
            num_examples: 5000,
            num_test_examples: 500,
            train_loss: TrainLoss::AllPositions,
        }
    }
}

impl AssociativeRecallConfig {
    /// `vocab_size_10.yaml`: vocab 10 (4 keys, 4 values), 20 tokens of pairs.
    pub fn vocab_size_10() -> Self {
        AssociativeRecallConfig {
            vocab_size: 10,
            input_seq_len: 20,
            ..Self::default()
        }
    }
}

/// Associative recall: `k1 v1 k2 v2 ... => k* v*`. A fresh random key->value map per
/// example (values may repeat), pairs with uniform keys, a query key that occurred.
#[derive(Clone, Debug)]
pub struct AssociativeRecall {
    config: AssociativeRecallConfig,
    name: String,
    num_keys: u32,
}

impl Default for AssociativeRecall {
    fn default() -> Self {
        AssociativeRecall::new(AssociativeRecallConfig::default()).expect("valid default")
    }
}

impl AssociativeRecall {
    pub fn new(config: AssociativeRecallConfig) -> Result<Self, LangError> {
        if config.vocab_size < 4 || config.vocab_size > 1 << 20 {
            return Err(LangError::InvalidConfig {
                task: "associative-recall".into(),
                field: "vocab_size".into(),
                reason: format!("must be in 4..=2^20, got {}", config.vocab_size),
            });
        }
        if config.input_seq_len < 2 {
            return Err(LangError::InvalidConfig {
                task: "associative-recall".into(),
                field: "input_seq_len".into(),
                reason: "needs at least one key-value pair (2 tokens)".into(),
            });
        }
        let name = if config.vocab_size == 40 && config.input_seq_len == 384 {
            "associative-recall".to_string()
        } else if config.vocab_size == 10 && config.input_seq_len == 20 {
            "associative-recall-vs10".to_string()
        } else {
            format!(
                "associative-recall-v{}-l{}",
                config.vocab_size, config.input_seq_len
            )
        };
        let num_keys = ((config.vocab_size - 2) / 2) as u32;
        Ok(AssociativeRecall {
            config,
            name,
            num_keys,
        })
    }

    pub fn config(&self) -> &AssociativeRecallConfig {
        &self.config
    }

    /// Key ids `1..=num_keys`.
    pub fn key_ids(&self) -> std::ops::RangeInclusive<u32> {
        1..=self.num_keys
    }

    /// Value ids `num_keys+1..=V-2`.
    pub fn value_ids(&self) -> std::ops::RangeInclusive<u32> {
        self.num_keys + 1..=self.config.vocab_size as u32 - 2
    }

    /// Id of `=>`.
    pub fn copy_token(&self) -> u32 {
        self.config.vocab_size as u32 - 1
    }

    /// One full sequence with `pairs` key-value pairs: `2*pairs + 3` tokens.
    pub fn sequence(&self, pairs: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
        let k = self.num_keys;
        let values = self.value_ids();
        let (v0, nv) = (*values.start(), values.end() - values.start() + 1);
        let map: Vec<u32> = (0..k).map(|_| v0 + rng.random_range(0..nv)).collect();
        let mut seq = Vec::with_capacity(2 * pairs + 3);
        let mut present = vec![false; k as usize];
        for _ in 0..pairs {
            let key = rng.random_range(0..k);
            present[key as usize] = true;
            seq.push(1 + key);
            seq.push(map[key as usize]);
        }
        let mut query = rng.random_range(0..k);
        if !present[query as usize] {
            let appeared: Vec<u32> = (0..k).filter(|&q| present[q as usize]).collect();
            query = appeared[rng.random_range(0..appeared.len() as u32) as usize];
        }
        seq.push(self.copy_token());
        seq.push(1 + query);
        seq.push(map[query as usize]);
        seq
    }

    /// The oracle: the value of the query key in `tokens` (pairs, `=>`, query key), or
    /// why `tokens` is not such an input, naming the position.
    pub fn answer(&self, tokens: &[u32]) -> Result<u32, String> {
        let n = tokens.len();
        if n < 4 || !n.is_multiple_of(2) {
            return Err(format!(
                "{n} input tokens: key-value pairs, `=>` and a key make an even count >= 4"
            ));
        }
        if tokens[n - 2] != self.copy_token() {
            return Err(format!(
                "token {} at position {}: expected `=>`",
                tokens[n - 2],
                n - 2
            ));
        }
        let (keys, values) = (self.key_ids(), self.value_ids());
        let mut map = vec![None; self.num_keys as usize + 1];
        for p in (0..n - 2).step_by(2) {
            let (k, v) = (tokens[p], tokens[p + 1]);
            if !keys.contains(&k) {
                return Err(format!("token {k} at position {p} is not a key"));
            }
            if !values.contains(&v) {
                return Err(format!("token {v} at position {} is not a value", p + 1));
            }
            match map[k as usize] {
                Some(old) if old != v => {
                    return Err(format!(
                        "key {k} has value {v} at position {} but {old} before",
                        p + 1
                    ))
                }
                _ => map[k as usize] = Some(v),
            }
        }
        let query = tokens[n - 1];
        if !keys.contains(&query) {
            return Err(format!(
                "query token {query} at position {} is not a key",
                n - 1
            ));
        }
        map[query as usize].ok_or_else(|| {
            format!(
                "query key {query} at position {} has no pair before it",
                n - 1
            )
        })
    }

    fn pairs_for(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<usize, LangError> {
        if min_len > max_len || max_len < 2 || max_len > u32::MAX as usize {
            return Err(LangError::InvalidConfig {
                task: self.name.clone(),
                field: "length window".into(),
                reason: format!("no key-value pair in {min_len}..={max_len} tokens"),
            });
        }
        let len = rng.random_range(min_len.max(2) as u32..=max_len as u32) as usize;
        Ok(len / 2)
    }
}

impl Task for AssociativeRecall {
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> &str {
        "associative recall (H3/safari): key-value pairs, then `=> key`, predict its value"
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
    /// Length unit: tokens of key-value pairs (`input_seq_len`; an odd count rounds
    /// down to whole pairs). Only the answer is scored.
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        let pairs = self.pairs_for(min_len, max_len, rng)?;
        Ok(shifted_example(&self.sequence(pairs, rng), false))
    }
    fn splits(&self) -> Vec<SplitSpec> {
        safari_splits(
            self.config.input_seq_len,
            self.config.num_examples,
            self.config.num_test_examples,
        )
    }
    /// Tokens of key-value pairs: the input without the `=>` and the query key.
    fn input_len(&self, example: &Example) -> usize {
        example.tokens.len().saturating_sub(2)
    }

    /// Checks the shape, then recomputes the answer: the value paired with the query key
    /// (each example has one key -> value map, so every occurrence of a key carries the
    /// same value).
    fn check_example(&self, example: &Example) -> Result<(), String> {
        check_example_shape(
            self.vocab().len(),
            self.classes().len(),
            TargetKind::Masked,
            example,
        )?;
        check_shifted(example, self.answer(&example.tokens)?)
    }

    /// Distinct sequences per split; the `train` split scores every position unless
    /// [`TrainLoss::AnswerOnly`].
    fn generate_split(&self, split: &SplitSpec, seed: u64) -> Result<Vec<Example>, LangError> {
        let all = split.name == "train" && self.config.train_loss == TrainLoss::AllPositions;
        let seqs = unique_sequences(&self.name, split, seed, |rng| {
            let pairs = self.pairs_for(split.min_len, split.max_len, rng)?;
            Ok(self.sequence(pairs, rng))
        })?;
        Ok(seqs.iter().map(|s| shifted_example(s, all)).collect())
    }
}
