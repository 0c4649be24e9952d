//! Synthetic recall tasks: associative recall and induction heads as in H3 / safari
//! (`src/dataloaders/synthetics.py`, also used by seq_icl), and multi-query associative
//! recall (MQAR) from Zoology (Arora et al. 2023, `zoology/data/multiquery_ar.py`).
//!
//! All are next-token tasks with [`Target::Masked`]: `tokens = seq[..n-1]`,
//! `classes = seq[1..]`. AR and IH score only the answer (the last class) at test time;
//! their published training loss covers every position ([`TrainLoss`]). MQAR scores the
//! value after every query key.
//!
//! [`Target::Masked`]: crate::Target::Masked

pub mod associative_recall;
pub mod induction_head;
pub mod mqar;

use std::collections::HashSet;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use associative_recall::{AssociativeRecall, AssociativeRecallConfig};
pub use induction_head::{InductionHead, InductionHeadConfig};
pub use mqar::{Mqar, MqarConfig, MqarSegment};

use crate::registry::TaskInfo;
use crate::task::{seeded_rng, split_seed, Example, SplitSpec, Target};
use crate::LangError;

/// Which positions the `train` split scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainLoss {
    /// Every position (the published training labels are not masked). Default.
    AllPositions,
    /// Only the answer, as at test time.
    AnswerOnly,
}

/// The safari vocabulary of size `v`: `.` (id 0), the numbers `0..v-2` sorted
/// lexicographically as strings (ids 1..=v-2), `=>` (id v-1).
pub fn safari_vocab(v: usize) -> Vec<String> {
    let mut numbers: Vec<String> = (0..v.saturating_sub(2)).map(|i| i.to_string()).collect();
    numbers.sort();
    let mut out = vec![".".to_string()];
    out.extend(numbers);
    out.push("=>".into());
    out
}

/// Turns a full sequence into an example: input = all but last, classes = all but first,
/// mask true only at the last position (the answer), or everywhere for `all_positions`.
/// Checks the next-token shape of [`shifted_example`] (every class the following input
/// token, the last position scored, the others all scored or none) and that the answer,
/// the last class, is `answer` (recomputed from the input by the task's oracle).
pub(crate) fn check_shifted(example: &Example, answer: u32) -> Result<(), String> {
    let Target::Masked { classes, mask } = &example.target else {
        return Err("target is not masked".into());
    };
    let tokens = &example.tokens;
    let n = tokens.len();
    if n == 0 {
        return Err("empty example".into());
    }
    if let Some(t) = (0..n - 1).find(|&t| classes[t] != tokens[t + 1]) {
        return Err(format!(
            "class {} at position {t}: the next input token is {}",
            classes[t],
            tokens[t + 1]
        ));
    }
    if !mask[n - 1] {
        return Err(format!(
            "mask is false at position {}: the answer is always scored",
            n - 1
        ));
    }
    if let Some(t) = (1..n - 1).find(|&t| mask[t] != mask[0]) {
        return Err(format!(
            "mask at position {t} differs from position 0: either every position or only the answer is scored"
        ));
    }
    if classes[n - 1] != answer {
        return Err(format!(
            "answer class {} at position {}: the oracle says {answer}",
            classes[n - 1],
            n - 1
        ));
    }
    Ok(())
}

/// The safari synthetic tasks' two splits: `train` and `test`, both at exactly `len` tokens.
pub(crate) fn safari_splits(len: usize, train_size: usize, test_size: usize) -> Vec<SplitSpec> {
    [("train", train_size), ("test", test_size)]
        .into_iter()
        .map(|(name, size)| SplitSpec {
            name: name.into(),
            min_len: len,
            max_len: len,
            size,
        })
        .collect()
}

pub(crate) fn shifted_example(seq: &[u32], all_positions: bool) -> Example {
    let n = seq.len();
    let classes = seq[1..].to_vec();
    let mut mask = vec![all_positions; n - 1];
    mask[n - 2] = true;
    Example {
        tokens: seq[..n - 1].to_vec(),
        target: Target::Masked { classes, mask },
    }
}

/// Draws `split.size` sequences, dropping exact duplicates and drawing again until the
/// count is reached (safari's `torch.unique` loop), from the split's own RNG stream.
pub(crate) fn unique_sequences(
    task: &str,
    split: &SplitSpec,
    seed: u64,
    mut draw: impl FnMut(&mut ChaCha8Rng) -> Result<Vec<u32>, LangError>,
) -> Result<Vec<Vec<u32>>, LangError> {
    let mut rng = seeded_rng(split_seed(seed, &split.name));
    let mut seen: HashSet<Vec<u32>> = HashSet::with_capacity(split.size);
    let mut out = Vec::with_capacity(split.size);
    let max_draws = 20 * split.size.max(1) + 1000;
    let mut draws = 0;
    while out.len() < split.size {
        if draws == max_draws {
            return Err(LangError::InvalidConfig {
                task: task.into(),
                field: "size".into(),
                reason: format!(
                    "only {} distinct sequences in {max_draws} draws, {} wanted",
                    out.len(),
                    split.size
                ),
            });
        }
        draws += 1;
        let seq = draw(&mut rng)?;
        if seen.insert(seq.clone()) {
            out.push(seq);
        }
    }
    Ok(out)
}

/// Every task of this family with its default configuration.
pub fn tasks() -> Vec<TaskInfo> {
    vec![
        TaskInfo {
            task: Box::new(AssociativeRecall::default()),
            aliases: vec![
                "associative_recall".into(),
                "assoc_recall".into(),
                "ar".into(),
            ],
        },
        TaskInfo {
            task: Box::new(
                AssociativeRecall::new(AssociativeRecallConfig::vocab_size_10())
                    .expect("valid preset"),
            ),
            aliases: vec!["associative_recall_vs10".into()],
        },
        TaskInfo {
            task: Box::new(InductionHead::default()),
            aliases: vec!["induction_head".into(), "ih".into()],
        },
        TaskInfo {
            task: Box::new(Mqar::default()),
            aliases: vec![
                "multiquery_ar".into(),
                "multi-query-associative-recall".into(),
            ],
        },
    ]
}
