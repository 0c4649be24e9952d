//! Multi-query associative recall (Zoology, Arora et al. 2023, `multiquery_ar`).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::task::{
    check_example_shape, seeded_rng, split_seed, Example, SplitSpec, Target, TargetKind, Task,
};
use crate::LangError;

/// One data segment: a split with its own sequence length and number of pairs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MqarSegment {
    /// Split name, e.g. `train-64-4`.
    pub name: String,
    pub input_seq_len: usize,
    pub num_kv_pairs: usize,
    pub size: usize,
}

impl MqarSegment {
    fn new(kind: &str, input_seq_len: usize, num_kv_pairs: usize, size: usize) -> Self {
        MqarSegment {
            name: format!("{kind}-{input_seq_len}-{num_kv_pairs}"),
            input_seq_len,
            num_kv_pairs,
            size,
        }
    }
}

/// MQAR settings. Defaults: Zoology's standard sweep (vocab 8192; train segments
/// (64,4)x100k, (128,8), (256,16), (256,32), (256,64) x20k; test segments (64,4),
/// (64,8), (64,16), (128,32), (256,64), (512,128), (1024,256) x1000).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MqarConfig {
    /// Vocabulary size V (default 8192). Keys are ids `1..V/2`, values `V/2..V`.
    pub vocab_size: usize,
    /// Power-law exponent of the query gaps (default 0.01; 1.0 = uniform).
    pub power_a: f64,
    /// Fill non-query positions with uniform random tokens `0..V` (default true).
    pub random_non_queries: bool,
    /// Repetitions of the key-value context (JRT; default 1).
    pub num_passes: usize,
    /// For [`Task::sample`] (no named segment): pairs = `input_seq_len / tokens_per_pair`
    /// (default 16, i.e. 64 -> 4, 128 -> 8, 256 -> 16 as in the training segments).
    pub tokens_per_pair: usize,
    pub segments: Vec<MqarSegment>,
}

impl Default for MqarConfig {
    fn default() -> Self {
        let train = [
            (64, 4, 100_000),
            (128, 8, 20_000),
            (256, 16, 20_000),
            (256, 32, 20_000),
            (256, 64, 20_000),
        ];
        let test = [
            (64, 4),
            (64, 8),
            (64, 16),
            (128, 32),
            (256, 64),
            (512, 128),
            (1024, 256),
        ];
        let mut segments: Vec<MqarSegment> = train
            .iter()
            .map(|&(l, k, n)| MqarSegment::new("train", l, k, n))
            .collect();
        segments.extend(
            test.iter()
                .map(|&(l, k)| MqarSegment::new("test", l, k, 1000)),
        );
        MqarConfig {
            vocab_size: 8192,
            power_a: 0.01,
            random_non_queries: true,
            num_passes: 1,
            tokens_per_pair: 16,
            segments,
        }
    }
}

/// Multi-query associative recall: `k1 v1 ... kn vn` (distinct keys, distinct values),
/// then a query region in which each key appears once, at an even offset `2*gap` with
/// power-law distributed gaps; the value bound to the key is the target at that key's
/// position. Other positions are random tokens (or 0) and unscored.
#[derive(Clone, Debug)]
pub struct Mqar {
    config: MqarConfig,
}

impl Default for Mqar {
    fn default() -> Self {
        Mqar::new(MqarConfig::default()).expect("valid default")
    }
}

impl Mqar {
    pub fn new(config: MqarConfig) -> Result<Self, LangError> {
        let bad = |field: &str, reason: String| LangError::InvalidConfig {
            task: "mqar".into(),
            field: field.into(),
            reason,
        };
        if config.vocab_size < 4 || config.vocab_size > 1 << 24 {
            return Err(bad(
                "vocab_size",
                format!("must be in 4..=2^24, got {}", config.vocab_size),
            ));
        }
        if !(config.power_a > 0.0 && config.power_a.is_finite()) {
            return Err(bad(
                "power_a",
                format!("must be positive, got {}", config.power_a),
            ));
        }
        if config.num_passes == 0 || config.tokens_per_pair < 4 {
            return Err(bad(
                "num_passes",
                "num_passes >= 1 and tokens_per_pair >= 4 required".into(),
            ));
        }
        let task = Mqar { config };
        for s in &task.config.segments {
            task.check(s.input_seq_len, s.num_kv_pairs)
                .map_err(|reason| bad("segments", format!("`{}`: {reason}", s.name)))?;
        }
        Ok(task)
    }

    pub fn config(&self) -> &MqarConfig {
        &self.config
    }

    fn check(&self, len: usize, kv: usize) -> Result<(), String> {
        let v = self.config.vocab_size;
        if !len.is_multiple_of(2) {
            return Err(format!("input_seq_len {len} must be even"));
        }
        if v <= len {
            return Err(format!("vocab_size {v} must exceed input_seq_len {len}"));
        }
        if kv == 0 || kv > v / 2 - 1 || kv > v - v / 2 {
            return Err(format!("{kv} pairs do not fit the key/value ranges"));
        }
        if 2 * kv * self.config.num_passes + 2 * kv > len {
            return Err(format!("{kv} pairs need more than {len} tokens"));
        }
        Ok(())
    }

    /// Draws `m` distinct values from `lo..hi` in random order.
    fn distinct(lo: u32, hi: u32, m: usize, rng: &mut ChaCha8Rng, out: &mut Vec<u32>) {
        out.clear();
        let range = (hi - lo) as usize;
        if m * 2 <= range {
            // Rejection is cheap while at most half the range is taken.
            while out.len() < m {
                let x = lo + rng.random_range(0..hi - lo);
                if !out.contains(&x) {
                    out.push(x);
                }
            }
        } else {
            let mut all: Vec<u32> = (lo..hi).collect();
            for i in 0..m {
                let j = rng.random_range(i as u32..range as u32) as usize;
                all.swap(i, j);
            }
            out.extend_from_slice(&all[..m]);
        }
    }

    /// One example of `input_seq_len` tokens with `kv` pairs.
    pub fn example(
        &self,
        input_seq_len: usize,
        kv: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        self.check(input_seq_len, kv)
            .map_err(|reason| LangError::InvalidConfig {
                task: "mqar".into(),
                field: "length".into(),
                reason,
            })?;
        let v = self.config.vocab_size as u32;
        let half = v / 2;
        let mut keys = Vec::with_capacity(kv);
        let mut values = Vec::with_capacity(kv);
        Self::distinct(1, half, kv, rng, &mut keys);
        Self::distinct(half, v, kv, rng, &mut values);

        let context = 2 * kv * self.config.num_passes;
        let mut tokens = vec![0u32; input_seq_len];
        for pass in 0..self.config.num_passes {
            for i in 0..kv {
                tokens[pass * 2 * kv + 2 * i] = keys[i];
                tokens[pass * 2 * kv + 2 * i + 1] = values[i];
            }
        }
        let mut classes = vec![0u32; input_seq_len];
        let mut mask = vec![false; input_seq_len];
        let space = (input_seq_len - context) / 2;
        // Gaps: kv distinct offsets in 0..space, drawn successively with weights
        // a * i^(a-1) (i = gap + 1), as numpy's choice(replace=False, p). The weights are
        // quantised to integers so the cumulative sums are exact on every platform.
        let a = self.config.power_a;
        let raw: Vec<f64> = (1..=space).map(|i| a * (i as f64).powf(a - 1.0)).collect();
        let max = raw.iter().cloned().fold(0.0, f64::max);
        let mut weights: Vec<u64> = raw
            .iter()
            .map(|w| ((w / max) * (1u64 << 40) as f64).round().max(1.0) as u64)
            .collect();
        let mut total: u64 = weights.iter().sum();
        for i in 0..kv {
            let mut u = rng.random_range(0..total);
            let mut gap = 0;
            while u >= weights[gap] {
                u -= weights[gap];
                gap += 1;
            }
            total -= weights[gap];
            weights[gap] = 0;
            let pos = context + 2 * gap;
            tokens[pos] = keys[i];
            classes[pos] = values[i];
            mask[pos] = true;
        }
        if self.config.random_non_queries {
            for t in tokens.iter_mut().filter(|t| **t == 0) {
                *t = rng.random_range(0..v);
            }
        }
        Ok(Example {
            tokens,
            target: Target::Masked { classes, mask },
        })
    }

    fn kv_for(&self, split: &SplitSpec, len: usize) -> usize {
        self.config
            .segments
            .iter()
            .find(|s| s.name == split.name)
            .map_or((len / self.config.tokens_per_pair).max(1), |s| {
                s.num_kv_pairs
            })
    }
}

impl Task for Mqar {
    fn name(&self) -> &str {
        "mqar"
    }
    fn description(&self) -> &str {
        "multi-query associative recall (Zoology): key-value pairs, then every key queried once"
    }
    fn vocab(&self) -> Vec<String> {
        (0..self.config.vocab_size).map(|i| i.to_string()).collect()
    }
    fn classes(&self) -> Vec<String> {
        self.vocab()
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Masked
    }
    /// Length unit: tokens (`input_seq_len`, even); pairs = length / `tokens_per_pair`.
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        let lo = min_len.div_ceil(2).max(1) as u32;
        let hi = (max_len / 2) as u32;
        if lo > hi {
            return Err(LangError::InvalidConfig {
                task: "mqar".into(),
                field: "length window".into(),
                reason: format!("no even length in {min_len}..={max_len}"),
            });
        }
        let len = 2 * rng.random_range(lo..=hi) as usize;
        self.example(len, (len / self.config.tokens_per_pair).max(1), rng)
    }
    fn splits(&self) -> Vec<SplitSpec> {
        self.config
            .segments
            .iter()
            .map(|s| SplitSpec {
                name: s.name.clone(),
                min_len: s.input_seq_len,
                max_len: s.input_seq_len,
                size: s.size,
            })
            .collect()
    }
    /// Checks the shape, then recomputes every answer: the pairs are the first `kv` of
    /// the context (`kv` = the scored positions, one query per key; every pass repeats
    /// them), and each scored position holds a key whose class is its value.
    fn check_example(&self, example: &Example) -> Result<(), String> {
        check_example_shape(
            self.vocab().len(),
            self.classes().len(),
            TargetKind::Masked,
            example,
        )?;
        let Target::Masked { classes, mask } = &example.target else {
            return Err("target is not masked".into());
        };
        let tokens = &example.tokens;
        let kv = mask.iter().filter(|&&m| m).count();
        let context = 2 * kv * self.config.num_passes;
        if kv == 0 || context > tokens.len() {
            return Err(format!(
                "{kv} scored positions: one per key, after {context} tokens of pairs, in {} tokens",
                tokens.len()
            ));
        }
        let value_of = |key: u32| {
            (0..kv)
                .find(|&i| tokens[2 * i] == key)
                .map(|i| tokens[2 * i + 1])
        };
        for p in 0..context {
            let first = p % (2 * kv);
            if tokens[p] != tokens[first] {
                return Err(format!(
                    "token {} at position {p}: each pass repeats the pairs (position {first} holds {})",
                    tokens[p], tokens[first]
                ));
            }
        }
        for p in 0..tokens.len() {
            if !mask[p] {
                if classes[p] != 0 {
                    return Err(format!(
                        "class {} at unscored position {p}: unscored positions hold class 0",
                        classes[p]
                    ));
                }
                continue;
            }
            if p < context {
                return Err(format!(
                    "scored position {p} lies inside the key-value pairs"
                ));
            }
            let Some(value) = value_of(tokens[p]) else {
                return Err(format!(
                    "query token {} at position {p} is not a key",
                    tokens[p]
                ));
            };
            if classes[p] != value {
                return Err(format!(
                    "class {} at position {p}: key {} has value {value}",
                    classes[p], tokens[p]
                ));
            }
        }
        Ok(())
    }

    /// Each split uses its segment's pair count (or the `tokens_per_pair` rule) and
    /// its own RNG stream. Zoology does not de-duplicate MQAR data; neither do we.
    fn generate_split(&self, split: &SplitSpec, seed: u64) -> Result<Vec<Example>, LangError> {
        if split.min_len != split.max_len {
            return Err(LangError::InvalidConfig {
                task: "mqar".into(),
                field: "length window".into(),
                reason: "an MQAR split has one sequence length".into(),
            });
        }
        let kv = self.kv_for(split, split.min_len);
        let mut rng = seeded_rng(split_seed(seed, &split.name));
        (0..split.size)
            .map(|_| self.example(split.min_len, kv, &mut rng))
            .collect()
    }
}
