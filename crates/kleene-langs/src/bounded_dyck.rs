//! Bounded Dyck-(k, m) of Yao et al. (2021) / Hewitt et al. (2020), as used by Sarrof et
//! al. (2024) with k = 8, m = 10 (spec §3).
//!
//! Dyck-(k, m): well-nested strings over k bracket pairs with at most m unclosed brackets
//! at any point. Tokens: `(a … (h` = ids 0..k, `a) … h)` = ids k..2k, `START` = 2k,
//! `END` = 2k+1 (18 tokens for k = 8). Bracket names are `a`…`z`, then `aa`, `bb`, … .
//!
//! Sampler: from the stack, the next token is drawn with weights: empty stack — each open
//! 1/k, END 1; full stack (depth m) — only the matching close; otherwise — each open 1/k,
//! matching close 1. An END drawn before `min_len` tokens is redrawn. A sample is kept only
//! if `min_len <= length (END included) <= max_len`. A split is filled until its token
//! count (END included) reaches the split's budget.
//!
//! As an [`Example`] (language modelling, spec §3.4): `tokens = [START] + sample without
//! END`, target [`Target::Masked`] with `classes = sample` (the next token at every
//! position, END last) and `mask` all true. Lengths ([`SplitSpec`] windows) count the
//! sample's tokens including END. The close-accuracy metric needs, per input position,
//! the closing bracket that matches the innermost open one: [`expected_closes`] and
//! [`CloseAccuracy`].
//!
//! Files (`k8_m10_tr2000000.{train,dev,test}`): one sample per line, space-separated
//! tokens `(x` / `x)` ending with `END`.

use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::io::{join_lines, read_lines, write_atomic};
use crate::registry::TaskInfo;
use crate::task::{check_example_shape, seeded_rng, split_seed};
use crate::{Example, LangError, SplitSpec, Target, TargetKind, Task};

/// One split: window (tokens incl. END), depth bound and token budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundedDyckSplit {
    pub name: String,
    pub min_len: usize,
    pub max_len: usize,
    /// Depth bound of this split (test20 uses 15 with a model trained on 10).
    pub max_depth: usize,
    /// Generate samples until this many tokens (END included) are written.
    pub token_budget: usize,
    /// Expected number of lines (the published file's, where known); reported as
    /// [`SplitSpec::size`].
    pub approx_lines: usize,
}

/// Configuration of Dyck-(k, m).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundedDyckConfig {
    /// Bracket types. Default 8.
    pub k: usize,
    /// Depth bound of the language (used by [`Task::sample`] and membership). Default 10.
    pub m: usize,
    /// Default: Sarrof's yaml — train \[1,700\] 2M tokens, dev \[1,700\] 200K, test
    /// \[701,1400\] 1M, test20 \[701,1400\] depth 15 1M.
    pub splits: Vec<BoundedDyckSplit>,
}

impl Default for BoundedDyckConfig {
    fn default() -> Self {
        let s = |name: &str, min_len, max_len, max_depth, token_budget, approx_lines| {
            BoundedDyckSplit {
                name: name.into(),
                min_len,
                max_len,
                max_depth,
                token_budget,
                approx_lines,
            }
        };
        BoundedDyckConfig {
            k: 8,
            m: 10,
            splits: vec![
                s("train", 1, 700, 10, 2_000_000, 49_000),
                s("dev", 1, 700, 10, 200_000, 4_928),
                s("test", 701, 1400, 10, 1_000_000, 1_278),
                s("test20", 701, 1400, 15, 1_000_000, 1_278),
            ],
        }
    }
}

/// The Dyck-(k, m) task.
pub struct BoundedDyck {
    config: BoundedDyckConfig,
    name: String,
    description: String,
    vocab: Vec<String>,
}

impl BoundedDyck {
    pub fn new(config: BoundedDyckConfig) -> Result<Self, LangError> {
        if config.k == 0 || config.m == 0 {
            return Err(LangError::InvalidConfig {
                task: "bounded-dyck".into(),
                field: if config.k == 0 { "k" } else { "m" }.into(),
                reason: "must be at least 1".into(),
            });
        }
        let k = config.k;
        let mut vocab: Vec<String> = (0..k).map(|i| format!("({}", bracket_name(i))).collect();
        vocab.extend((0..k).map(|i| format!("{})", bracket_name(i))));
        vocab.push("START".into());
        vocab.push("END".into());
        let name = if (config.k, config.m) == (8, 10) {
            "bounded-dyck".to_string()
        } else {
            format!("bounded-dyck-{}-{}", config.k, config.m)
        };
        let description = format!(
            "Dyck-({}, {}) of Yao et al.: next-token prediction over {} bracket pairs, depth <= {} (close accuracy)",
            config.k, config.m, config.k, config.m
        );
        Ok(BoundedDyck {
            config,
            name,
            description,
            vocab,
        })
    }

    pub fn config(&self) -> &BoundedDyckConfig {
        &self.config
    }
    pub fn k(&self) -> usize {
        self.config.k
    }
    pub fn start_token(&self) -> u32 {
        2 * self.config.k as u32
    }
    pub fn end_token(&self) -> u32 {
        2 * self.config.k as u32 + 1
    }
    /// The published file stem, e.g. `k8_m10_tr2000000`.
    pub fn file_stem(&self) -> String {
        let train = self
            .config
            .splits
            .iter()
            .find(|s| s.name == "train")
            .map(|s| s.token_budget)
            .unwrap_or(0);
        format!("k{}_m{}_tr{}", self.config.k, self.config.m, train)
    }

    /// Draws one sample (token ids, END last) into `out`; false if it fell outside the
    /// window (the published sampler then discards it).
    pub fn sample_tokens(
        &self,
        min_len: usize,
        max_len: usize,
        max_depth: usize,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u32>,
        stack: &mut Vec<u32>,
    ) -> bool {
        out.clear();
        stack.clear();
        let k = self.config.k as u32;
        loop {
            if out.len() + 1 > max_len {
                // Even an END now would be too long: the sample will be discarded.
                return false;
            }
            let depth = stack.len();
            if depth >= max_depth {
                out.push(k + stack.pop().expect("depth > 0"));
                continue;
            }
            // Weights: k opens of 1/k each (total 1) vs one END/close of weight 1.
            let other = rng.random::<bool>();
            if other {
                match stack.last() {
                    Some(_) => {
                        let top = stack.pop().expect("non-empty");
                        out.push(k + top);
                    }
                    None => {
                        if out.len() >= min_len {
                            out.push(self.end_token());
                            return out.len() >= min_len;
                        }
                        // END before min_len is redrawn: it can only become an open.
                        let j = rng.random_range(0..k);
                        stack.push(j);
                        out.push(j);
                    }
                }
            } else {
                let j = rng.random_range(0..k);
                stack.push(j);
                out.push(j);
            }
        }
    }

    /// Samples of one split (token ids, END included) until its token budget is reached.
    pub fn split_samples(&self, split: &BoundedDyckSplit, seed: u64) -> Vec<Vec<u32>> {
        self.split_samples_capped(split, seed, usize::MAX)
    }

    /// The first `max_samples` samples of [`Self::split_samples`] (all of them if the
    /// token budget is reached first). The sampler is sequential in one seeded RNG, so a
    /// capped split is exactly a prefix of the full one and costs only what it keeps.
    pub fn split_samples_capped(
        &self,
        split: &BoundedDyckSplit,
        seed: u64,
        max_samples: usize,
    ) -> Vec<Vec<u32>> {
        let mut rng = seeded_rng(split_seed(seed, &split.name));
        let mut out = Vec::new();
        let mut total = 0usize;
        let mut buf = Vec::with_capacity(split.max_len);
        let mut stack = Vec::with_capacity(split.max_depth);
        while total < split.token_budget && out.len() < max_samples {
            if self.sample_tokens(
                split.min_len,
                split.max_len,
                split.max_depth,
                &mut rng,
                &mut buf,
                &mut stack,
            ) {
                total += buf.len();
                out.push(buf.clone());
            }
        }
        out
    }

    /// The LM example of a sample (END last): `[START] + sample[..n-1]` -> `sample`.
    pub fn example_of_sample(&self, sample: &[u32]) -> Example {
        let mut tokens = Vec::with_capacity(sample.len());
        tokens.push(self.start_token());
        tokens.extend_from_slice(&sample[..sample.len().saturating_sub(1)]);
        Example {
            tokens,
            target: Target::Masked {
                classes: sample.to_vec(),
                mask: vec![true; sample.len()],
            },
        }
    }

    /// The sample (END last) of an LM example.
    pub fn sample_of_example(example: &Example) -> Option<Vec<u32>> {
        match &example.target {
            Target::Masked { classes, .. } => Some(classes.clone()),
            _ => None,
        }
    }

    /// Membership of a sample (END last) in Dyck-(k, depth) with at least one bracket.
    pub fn is_member_sample(&self, sample: &[u32], max_depth: usize) -> Result<(), String> {
        let k = self.config.k as u32;
        let mut stack = Vec::new();
        let Some((&last, body)) = sample.split_last() else {
            return Err("empty sample".into());
        };
        if last != self.end_token() {
            return Err("the sample does not end with END".into());
        }
        for (i, &t) in body.iter().enumerate() {
            if t < k {
                stack.push(t);
                if stack.len() > max_depth {
                    return Err(format!(
                        "token {}: depth {} exceeds {max_depth}",
                        i + 1,
                        stack.len()
                    ));
                }
            } else if t < 2 * k {
                if stack.pop() != Some(t - k) {
                    return Err(format!(
                        "token {}: `{}` does not match",
                        i + 1,
                        self.vocab[t as usize]
                    ));
                }
            } else {
                return Err(format!(
                    "token {}: `{}` inside the sample",
                    i + 1,
                    self.vocab.get(t as usize).map_or("?", |v| v.as_str())
                ));
            }
        }
        if !stack.is_empty() {
            return Err(format!("{} brackets left open at END", stack.len()));
        }
        Ok(())
    }

    /// Parses one line of the published format into token ids (END last).
    pub fn parse_line(&self, line: &str) -> Result<Vec<u32>, String> {
        line.split_whitespace()
            .map(|w| {
                self.vocab
                    .iter()
                    .position(|v| v == w)
                    .filter(|&id| id != self.start_token() as usize)
                    .map(|id| id as u32)
                    .ok_or_else(|| format!("`{w}` is not a Dyck-({}) token", self.config.k))
            })
            .collect()
    }

    /// Formats a sample as a line of the published format.
    pub fn format_line(&self, sample: &[u32]) -> String {
        sample
            .iter()
            .map(|&t| self.vocab.get(t as usize).map_or("?", |v| v.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads a published file, validating every line: known tokens, well nested within
    /// `max_depth`, ends with END, length (END included) within `min_len..=max_len`.
    pub fn read_file(
        &self,
        path: &Path,
        min_len: usize,
        max_len: usize,
        max_depth: usize,
    ) -> Result<Vec<Vec<u32>>, LangError> {
        read_lines(path)?
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let err = |r: String| LangError::parse(path, i + 1, r);
                if l.trim().is_empty() {
                    return Err(err("empty line".into()));
                }
                let s = self.parse_line(l).map_err(err)?;
                self.is_member_sample(&s, max_depth).map_err(err)?;
                if !(min_len..=max_len).contains(&s.len()) {
                    return Err(err(format!(
                        "{} tokens, outside the window [{min_len},{max_len}]",
                        s.len()
                    )));
                }
                Ok(s)
            })
            .collect()
    }

    /// Writes samples in the published format (one line each, trailing newline), atomically.
    pub fn write_file(&self, path: &Path, samples: &[Vec<u32>]) -> Result<(), LangError> {
        write_atomic(
            path,
            &join_lines(samples.iter().map(|s| self.format_line(s)), true),
        )
    }

    fn find_split(&self, name: &str) -> Result<&BoundedDyckSplit, LangError> {
        self.config
            .splits
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| LangError::UnknownSplit {
                task: self.name.clone(),
                split: name.into(),
                available: self
                    .config
                    .splits
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The split table entry of a split name.
    pub fn split_config(&self, name: &str) -> Result<&BoundedDyckSplit, LangError> {
        self.find_split(name)
    }
}

/// The name of bracket type `i`: `a`…`z`, then `aa`, `bb`, ….
pub fn bracket_name(i: usize) -> String {
    let c = (b'a' + (i % 26) as u8) as char;
    std::iter::repeat_n(c, i / 26 + 1).collect()
}

/// Stack depth after each input token (START and END leave it unchanged).
pub fn depths(tokens: &[u32], k: usize) -> Vec<usize> {
    let k = k as u32;
    let mut d = 0usize;
    tokens
        .iter()
        .map(|&t| {
            if t < k {
                d += 1;
            } else if t < 2 * k {
                d = d.saturating_sub(1);
            }
            d
        })
        .collect()
}

/// For each input position, the closing-bracket token that matches the innermost open
/// bracket after reading the input up to and including it (None when the stack is empty).
/// These are exactly the positions scored by the close-accuracy metric.
pub fn expected_closes(tokens: &[u32], k: usize) -> Vec<Option<u32>> {
    let k32 = k as u32;
    let mut stack: Vec<u32> = Vec::new();
    tokens
        .iter()
        .map(|&t| {
            if t < k32 {
                stack.push(t);
            } else if t < 2 * k32 {
                stack.pop();
            }
            stack.last().map(|&o| o + k32)
        })
        .collect()
}

/// Close accuracy (spec §3.6): at every position with a non-empty stack, correct iff
/// P(matching close) / sum of P(all closes) > `threshold` (0.8). Micro-averaged over
/// positions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CloseAccuracy {
    pub correct: u64,
    pub total: u64,
}

impl CloseAccuracy {
    /// The published threshold.
    pub const THRESHOLD: f64 = 0.8;

    /// Adds one sequence: `probs[t]` is the next-token distribution (at least 2k entries;
    /// extra entries such as START/END or unused logits are ignored here) after input
    /// position t. Positions without such a distribution are skipped.
    pub fn observe(&mut self, tokens: &[u32], probs: &[Vec<f32>], k: usize) {
        for (t, close) in expected_closes(tokens, k).into_iter().enumerate() {
            let Some(close) = close else { continue };
            let Some(p) = probs.get(t).filter(|p| p.len() >= 2 * k) else {
                continue;
            };
            let all: f64 = p[k..2 * k].iter().map(|&x| x as f64).sum();
            let ok = all > 0.0 && (p[close as usize] as f64) / all > Self::THRESHOLD;
            self.correct += ok as u64;
            self.total += 1;
        }
    }

    /// correct / total (0 when nothing was scored).
    pub fn value(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }
}

impl Task for BoundedDyck {
    fn name(&self) -> &str {
        &self.name
    }
    /// Yao et al. (2021) report close accuracy (the 80% rule) beside token accuracy.
    fn protocol(&self) -> crate::TaskProtocol {
        crate::TaskProtocol {
            close_accuracy: true,
            ..Default::default()
        }
    }
    fn published_layout(&self) -> Option<crate::PublishedLayout> {
        Some(crate::PublishedLayout::BoundedDyck(self.config().clone()))
    }
    fn description(&self) -> &str {
        &self.description
    }
    fn vocab(&self) -> Vec<String> {
        self.vocab.clone()
    }
    fn classes(&self) -> Vec<String> {
        self.vocab.clone()
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Masked
    }
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        if max_len < 3 || min_len > max_len {
            return Err(LangError::InvalidConfig {
                task: self.name.clone(),
                field: "length window".into(),
                reason: format!("[{min_len},{max_len}]: need min <= max and max >= 3"),
            });
        }
        let (mut buf, mut stack) = (Vec::new(), Vec::new());
        for _ in 0..1_000_000 {
            // The published min_length counts tokens before END.
            if self.sample_tokens(
                min_len.saturating_sub(1),
                max_len,
                self.config.m,
                rng,
                &mut buf,
                &mut stack,
            ) && buf.len() >= min_len
            {
                return Ok(self.example_of_sample(&buf));
            }
        }
        Err(LangError::InvalidConfig {
            task: self.name.clone(),
            field: "length window".into(),
            reason: format!("no sample of length [{min_len},{max_len}] in 1e6 draws"),
        })
    }
    /// Windows count tokens including END: the yaml's `[1,700]` gives samples of 3..=699
    /// tokens, `[701,1400]` 703..=1399. `size` is the expected line count.
    fn splits(&self) -> Vec<SplitSpec> {
        self.config
            .splits
            .iter()
            .map(|s| SplitSpec {
                name: s.name.clone(),
                min_len: s.min_len,
                max_len: s.max_len,
                size: s.approx_lines,
            })
            .collect()
    }
    /// With the split's own `size` ([`BoundedDyckSplit::approx_lines`], as [`Task::splits`]
    /// reports it) or more, fills the split's token budget. A smaller `size` (e.g. an
    /// evaluation's `max_examples` cap) keeps the first `size` samples of that same
    /// sequence: the same seed gives the same prefix, and nothing beyond it is sampled.
    fn generate_split(&self, split: &SplitSpec, seed: u64) -> Result<Vec<Example>, LangError> {
        let s = self.find_split(&split.name)?;
        let cap = if split.size >= s.approx_lines {
            usize::MAX
        } else {
            split.size
        };
        Ok(self
            .split_samples_capped(s, seed, cap)
            .iter()
            .map(|x| self.example_of_sample(x))
            .collect())
    }
    fn next_symbol_sets(&self, tokens: &[u32]) -> Option<Vec<Vec<bool>>> {
        let k = self.config.k;
        let m = self.config.m;
        let v = self.vocab.len();
        let mut stack: Vec<u32> = Vec::new();
        Some(
            tokens
                .iter()
                .map(|&t| {
                    if (t as usize) < k {
                        stack.push(t);
                    } else if (t as usize) < 2 * k {
                        stack.pop();
                    }
                    let mut legal = vec![false; v];
                    if stack.len() < m {
                        legal[..k].iter_mut().for_each(|x| *x = true);
                    }
                    match stack.last() {
                        Some(&o) => legal[k + o as usize] = true,
                        None => legal[2 * k + 1] = true,
                    }
                    legal
                })
                .collect(),
        )
    }
    fn is_member(&self, tokens: &[u32]) -> Option<bool> {
        // The input form: START followed by a member without its END.
        let (first, rest) = tokens.split_first()?;
        if *first != self.start_token() {
            return Some(false);
        }
        let mut s = rest.to_vec();
        s.push(self.end_token());
        Some(self.is_member_sample(&s, self.config.m).is_ok())
    }
    fn check_example(&self, example: &Example) -> Result<(), String> {
        check_example_shape(
            self.vocab.len(),
            self.vocab.len(),
            TargetKind::Masked,
            example,
        )?;
        let sample = Self::sample_of_example(example).ok_or("not a masked target")?;
        self.is_member_sample(&sample, self.config.m)?;
        if &self.example_of_sample(&sample) != example {
            return Err("input is not [START] + the target without END".into());
        }
        Ok(())
    }
}

/// The registered task: Dyck-(8, 10) with Sarrof's splits.
pub fn tasks() -> Vec<TaskInfo> {
    vec![TaskInfo {
        task: Box::new(
            BoundedDyck::new(BoundedDyckConfig::default()).expect("default config is valid"),
        ),
        aliases: vec!["dyck-8-10".into(), "k8_m10".into(), "bdyck".into()],
    }]
}
