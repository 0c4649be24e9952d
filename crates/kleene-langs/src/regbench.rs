//! REGBENCH: in-context learning of random regular languages (Akyürek et al., ICML
//! 2024; code `berlino/seq_icl`, `src/dataloaders/dfa.py`).
//!
//! Each problem is a random DFA ([`sampler::sample_dfa`], minimised and trimmed) and
//! 10..=19 strings sampled from it by uniform random walks, joined with `|`. The model
//! does next-token prediction ([`Target::Masked`], separator targets unscored). The
//! metrics need the DFA: [`RegbenchProblem::allowed_next`] gives, per input position,
//! the tokens the DFA allows next, and [`metrics`] computes the paper's accuracy and
//! TVD. [`ngram::InContextNGram`] is the in-context 2-/3-gram baseline.
//!
//! Deviation from the published code (documented): train, test and val languages are
//! made disjoint by comparing canonical minimal DFAs ([`sampler::LanguageDedup`]).
//!
//! [`Target::Masked`]: crate::Target::Masked

pub mod dfa;
pub mod metrics;
pub mod ngram;
mod problem;
pub mod sampler;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rand_chacha::ChaCha8Rng;

pub use dfa::Dfa;
pub use metrics::RegbenchScores;
pub use ngram::InContextNGram;
pub use problem::RegbenchProblem;
pub use sampler::{LanguageDedup, RegbenchConfig, SampledDfa};

use crate::registry::TaskInfo;
use crate::task::{
    check_example_shape, seeded_rng, split_seed, Example, SplitSpec, Target, TargetKind, Task,
};
use crate::LangError;

/// Vocabulary size: `.` (pad, id 0), `a`..`r` (ids 1..=18), `|` (id 19).
pub const VOCAB_SIZE: usize = 20;
/// Padding / no-op token id.
pub const PAD: u32 = 0;
/// Separator token id.
pub const SEPARATOR: u32 = 19;

/// The 20 tokens, sorted by character code as the published tokenizer does.
pub fn vocab() -> Vec<String> {
    let mut v = vec![".".to_string()];
    v.extend((b'a'..=b'r').map(|c| (c as char).to_string()));
    v.push("|".into());
    v
}

/// The DFAs of every split (languages disjoint across splits under
/// [`LanguageDedup::Unique`]).
#[derive(Clone, Debug)]
pub struct DfaPool {
    pub train: Vec<SampledDfa>,
    pub test: Vec<SampledDfa>,
    pub val: Vec<SampledDfa>,
}

/// A sampled pool and the seed it was sampled from.
type CachedPool = (u64, Arc<DfaPool>);

/// The REGBENCH task.
#[derive(Clone, Debug)]
pub struct Regbench {
    config: RegbenchConfig,
    name: String,
    /// The pool of the last seed, so generating train, test and val samples it once.
    pool_cache: Arc<Mutex<Option<CachedPool>>>,
}

impl Regbench {
    pub fn new(config: RegbenchConfig) -> Result<Self, LangError> {
        config
            .validate()
            .map_err(|(field, reason)| LangError::InvalidConfig {
                task: "regbench".into(),
                field,
                reason,
            })?;
        Ok(Regbench {
            config,
            name: "regbench".into(),
            pool_cache: Arc::default(),
        })
    }

    /// REGBENCH with a given number of training DFAs (1000..40000 in the paper) and the
    /// other settings at their defaults; registered as `regbench-1k` .. `regbench-40k`.
    pub fn with_train_size(num_examples: usize) -> Self {
        let config = RegbenchConfig {
            num_examples,
            ..RegbenchConfig::default()
        };
        let mut r = Regbench::new(config).expect("default config is valid");
        r.name = format!("regbench-{}", short_count(num_examples));
        r
    }

    pub fn config(&self) -> &RegbenchConfig {
        &self.config
    }

    /// Samples the DFAs of every split from `seed`: up to `10 x (N + T)` draws, keeping
    /// only new languages under [`LanguageDedup::Unique`], then a shuffle and the split
    /// `train = [0, N)`, `test = [N, N + T/2)`, `val = rest`.
    pub fn dfa_pool(&self, seed: u64) -> Result<DfaPool, LangError> {
        let c = &self.config;
        let wanted = c.num_examples + c.num_test_examples;
        let mut rng = seeded_rng(split_seed(seed, "regbench-dfas"));
        let mut dfas = Vec::with_capacity(wanted);
        let mut keys: HashSet<Vec<u8>> = HashSet::with_capacity(wanted);
        let max_attempts = 10 * wanted.max(1);
        let mut attempts = 0;
        while dfas.len() < wanted && attempts < max_attempts {
            attempts += 1;
            let d = sampler::sample_dfa(c, &mut rng);
            if c.dedup == LanguageDedup::None || keys.insert(d.dfa.table_key()) {
                dfas.push(d);
            }
        }
        if dfas.len() < wanted {
            return Err(LangError::InvalidConfig {
                task: self.name.clone(),
                field: "num_examples".into(),
                reason: format!(
                    "only {} distinct languages in {max_attempts} draws, {wanted} needed",
                    dfas.len()
                ),
            });
        }
        let n = dfas.len();
        sampler::choose_prefix(&mut dfas, n, &mut rng);
        let val = dfas.split_off(c.num_examples + c.num_test_examples / 2);
        let test = dfas.split_off(c.num_examples);
        Ok(DfaPool {
            train: dfas,
            test,
            val,
        })
    }

    /// The problems of one split (`train`, `test` or `val`), with their DFAs. The DFA
    /// pool of the last seed is cached, so the three splits share one sampling pass.
    pub fn problems(
        &self,
        split: &SplitSpec,
        seed: u64,
    ) -> Result<Vec<RegbenchProblem>, LangError> {
        let cached = {
            let guard = self.pool_cache.lock().unwrap_or_else(|e| e.into_inner());
            guard
                .as_ref()
                .filter(|(s, _)| *s == seed)
                .map(|(_, p)| Arc::clone(p))
        };
        let pool = match cached {
            Some(p) => p,
            None => {
                let p = Arc::new(self.dfa_pool(seed)?);
                *self.pool_cache.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((seed, Arc::clone(&p)));
                p
            }
        };
        self.problems_from_pool(&pool, split, seed)
    }

    /// The problems of one split from an already sampled pool. The string lengths and
    /// counts come from the split's own RNG stream, the walks from each DFA's RNG.
    pub fn problems_from_pool(
        &self,
        pool: &DfaPool,
        split: &SplitSpec,
        seed: u64,
    ) -> Result<Vec<RegbenchProblem>, LangError> {
        let dfas = match split.name.as_str() {
            "train" => &pool.train,
            "test" => &pool.test,
            "val" => &pool.val,
            other => {
                return Err(LangError::UnknownSplit {
                    task: self.name.clone(),
                    split: other.into(),
                    available: "train, test, val".into(),
                })
            }
        };
        if split.size > dfas.len() {
            return Err(LangError::InvalidConfig {
                task: self.name.clone(),
                field: "size".into(),
                reason: format!(
                    "split `{}` asks for {} problems, the config gives {}",
                    split.name,
                    split.size,
                    dfas.len()
                ),
            });
        }
        let mut rng = seeded_rng(split_seed(seed, &split.name));
        Ok(dfas[..split.size]
            .iter()
            .map(|d| RegbenchProblem {
                sequence: sampler::problem_sequence(
                    d,
                    &self.config,
                    split.min_len,
                    split.max_len,
                    &mut rng,
                ),
                dfa: d.dfa.clone(),
            })
            .collect())
    }

    /// One fresh problem (a new DFA, no de-duplication) with `min..=max` strings.
    pub fn sample_problem(
        &self,
        min_strings: usize,
        max_strings: usize,
        rng: &mut ChaCha8Rng,
    ) -> RegbenchProblem {
        let d = sampler::sample_dfa(&self.config, rng);
        RegbenchProblem {
            sequence: sampler::problem_sequence(&d, &self.config, min_strings, max_strings, rng),
            dfa: d.dfa,
        }
    }
}

fn short_count(n: usize) -> String {
    if n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else if n.is_multiple_of(100) {
        format!("{}.{}k", n / 1000, n % 1000 / 100)
    } else {
        n.to_string()
    }
}

impl Default for Regbench {
    fn default() -> Self {
        Regbench::new(RegbenchConfig::default()).expect("default config is valid")
    }
}

impl Task for Regbench {
    fn name(&self) -> &str {
        &self.name
    }

    /// The DFA-aware metrics (accuracy against each problem's DFA, TVD) re-draw the
    /// problems from this config.
    fn protocol(&self) -> crate::TaskProtocol {
        crate::TaskProtocol {
            regbench: Some(self.config().clone()),
            ..Default::default()
        }
    }

    fn description(&self) -> &str {
        "REGBENCH: in-context learning of random DFAs, next-token LM over |-joined strings"
    }

    fn vocab(&self) -> Vec<String> {
        vocab()
    }

    fn classes(&self) -> Vec<String> {
        vocab()
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Masked
    }

    /// Strings per problem: the `|` separators of the input plus one (a string is never
    /// empty, so the dropped last token is never a separator).
    fn input_len(&self, example: &Example) -> usize {
        if example.tokens.is_empty() {
            return 0;
        }
        1 + example.tokens.iter().filter(|&&t| t == SEPARATOR).count()
    }

    /// Checks the shape, then the next-token labels the input determines: every class is
    /// the following input token, the mask is off exactly where that class is the
    /// separator, and the last class (the next symbol of the last string) is a symbol.
    /// Whether the strings belong to the problem's DFA needs the DFA, which a data file
    /// does not carry.
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
        let n = tokens.len();
        if let Some(t) = (0..n.saturating_sub(1)).find(|&t| classes[t] != tokens[t + 1]) {
            return Err(format!(
                "class {} at position {t}: the next input token is {}",
                classes[t],
                tokens[t + 1]
            ));
        }
        if let Some(t) = (0..n).find(|&t| mask[t] != (classes[t] != SEPARATOR)) {
            return Err(format!(
                "mask is {} at position {t}: it is false exactly where the next token is `|`",
                mask[t]
            ));
        }
        if n > 0 && classes[n - 1] == SEPARATOR {
            return Err(format!(
                "class `|` at the last position {}: a problem ends inside a string",
                n - 1
            ));
        }
        Ok(())
    }

    /// The length unit is **strings per problem** (10..=19 by default).
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        if min_len == 0 || min_len > max_len {
            return Err(LangError::InvalidConfig {
                task: self.name.clone(),
                field: "length window".into(),
                reason: format!("strings per problem {min_len}..={max_len} is empty"),
            });
        }
        Ok(self.sample_problem(min_len, max_len, rng).example())
    }

    fn splits(&self) -> Vec<SplitSpec> {
        let c = &self.config;
        let window = |name: &str, size| SplitSpec {
            name: name.into(),
            min_len: c.min_num_in_context_examples,
            max_len: c.max_num_in_context_examples - 1,
            size,
        };
        vec![
            window("train", c.num_examples),
            window("test", c.num_test_examples / 2),
            window("val", c.num_test_examples - c.num_test_examples / 2),
        ]
    }

    fn generate_split(&self, split: &SplitSpec, seed: u64) -> Result<Vec<Example>, LangError> {
        Ok(self
            .problems(split, seed)?
            .iter()
            .map(RegbenchProblem::example)
            .collect())
    }
}

/// Every task of this family with its default configuration.
pub fn tasks() -> Vec<TaskInfo> {
    let mut out = vec![TaskInfo {
        task: Box::new(Regbench::default()),
        aliases: vec!["icl_dfa".into(), "REGBENCH".into(), "dfa".into()],
    }];
    for n in [1000, 2500, 10_000, 20_000, 40_000] {
        out.push(TaskInfo {
            task: Box::new(Regbench::with_train_size(n)),
            aliases: Vec::new(),
        });
    }
    out
}
