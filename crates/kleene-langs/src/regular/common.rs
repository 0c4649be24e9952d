//! The shared [`Task`] wrapper of the SD-SSM tasks: i.i.d. uniform symbols, a final
//! class label, the optional query token and the paper's length splits.

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::task::{check_example_shape, Example, SplitSpec, Target, TargetKind, Task};
use crate::LangError;

/// A language whose label is one class of the whole string (final automaton state or
/// expression value). Implemented once per task family.
pub trait FinalLabelLanguage: Send + Sync {
    /// Short readable name, e.g. `parity-check`, `d4`.
    fn name(&self) -> String;
    /// One line for `kleene data list`.
    fn description(&self) -> String;
    /// Display form of every input symbol; symbol ids are indices.
    fn symbols(&self) -> Vec<String>;
    /// Display form of every class; class ids are indices.
    fn classes(&self) -> Vec<String>;
    /// Number of input symbols (`symbols().len()`, without allocating).
    fn num_symbols(&self) -> u32;
    /// The length actually generated for a requested length. Modular arithmetic only
    /// has odd lengths: the original code turns an even `L` into `L - 1`.
    fn effective_len(&self, len: usize) -> usize {
        len
    }
    /// Appends `len` random symbols to `out`. Default: i.i.d. uniform over the alphabet.
    fn sample_symbols(&self, len: usize, rng: &mut ChaCha8Rng, out: &mut Vec<u32>) {
        fill_uniform(self.num_symbols(), len, rng, out);
    }
    /// Class of the whole string. `symbols` holds ids `< num_symbols()` and, for
    /// languages with a length restriction, has an effective length.
    fn label(&self, symbols: &[u32]) -> u32;
    /// Whether a string of this length can be labelled (modular arithmetic: odd lengths).
    fn valid_len(&self, len: usize) -> bool {
        len >= 1
    }
}

/// Appends `len` i.i.d. uniform symbols in `0..k`. Power-of-two alphabets take their
/// bits from one 64-bit draw per 64/log2(k) symbols (parity, D4, A5 are binary), the
/// others use rand's unbiased range sampling. Both are portable (ChaCha8 + integer ops).
pub fn fill_uniform(k: u32, len: usize, rng: &mut ChaCha8Rng, out: &mut Vec<u32>) {
    out.reserve(len);
    if k <= 1 {
        out.extend(std::iter::repeat_n(0, len));
    } else if k.is_power_of_two() {
        let bits = k.trailing_zeros();
        let per_word = (64 / bits) as usize;
        let mask = u64::from(k - 1);
        let mut left = len;
        while left > 0 {
            let mut word = rng.next_u64();
            for _ in 0..per_word.min(left) {
                out.push((word & mask) as u32);
                word >>= bits;
            }
            left -= per_word.min(left);
        }
    } else {
        for _ in 0..len {
            out.push(rng.random_range(0..k));
        }
    }
}

/// Configuration of an SD-SSM task: query token and the splits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegularConfig {
    /// Append one query token (id = number of symbols) and read the label there.
    /// Default `true`; the registered group tasks (C2xC4, D4, A5) use `false` as in
    /// the paper's README commands.
    pub query_token: bool,
    /// Training lengths `train_min_len..=train_max_len` (default 1..=40).
    pub train_min_len: usize,
    pub train_max_len: usize,
    /// Size of the materialised `train` split (default 100_000). The paper draws fresh
    /// batches every step; trainers can call `Task::sample` instead.
    pub train_size: usize,
    /// Test splits `test-1` ..= `test-<test_max_len>`, one per length (default 500).
    pub test_max_len: usize,
    /// Examples per test length (default 512, as in the paper's evaluation).
    pub test_size_per_len: usize,
}

impl Default for RegularConfig {
    fn default() -> Self {
        RegularConfig {
            query_token: true,
            train_min_len: 1,
            train_max_len: 40,
            train_size: 100_000,
            test_max_len: 500,
            test_size_per_len: 512,
        }
    }
}

/// One SD-SSM task: a [`FinalLabelLanguage`] plus its [`RegularConfig`].
pub struct RegularTask {
    language: Box<dyn FinalLabelLanguage>,
    config: RegularConfig,
    name: String,
    description: String,
}

impl RegularTask {
    pub fn new(language: impl FinalLabelLanguage + 'static, config: RegularConfig) -> Self {
        let name = language.name();
        let description = language.description();
        RegularTask {
            language: Box::new(language),
            config,
            name,
            description,
        }
    }

    /// The same task under another name and description (a registered variant of a
    /// language, e.g. PD-SSM's layout of parity without the query token).
    pub fn renamed(mut self, name: &str, description: &str) -> Self {
        self.name = name.to_string();
        self.description = description.to_string();
        self
    }

    pub fn config(&self) -> &RegularConfig {
        &self.config
    }

    pub fn language(&self) -> &dyn FinalLabelLanguage {
        self.language.as_ref()
    }

    /// Id of the query token, when the option is on.
    pub fn query_token_id(&self) -> Option<u32> {
        self.config.query_token.then(|| self.language.num_symbols())
    }

    /// The label of a token sequence as this task encodes it (query token included when
    /// the option is on). Checks every id and the length.
    pub fn label(&self, tokens: &[u32]) -> Result<u32, LangError> {
        let invalid = |reason: String| LangError::InvalidConfig {
            task: self.name.clone(),
            field: "tokens".into(),
            reason,
        };
        let symbols = match self.query_token_id() {
            Some(q) => match tokens.split_last() {
                Some((&last, rest)) if last == q => rest,
                _ => {
                    return Err(invalid(format!(
                        "the last token must be the query token {q}"
                    )))
                }
            },
            None => tokens,
        };
        let k = self.language.num_symbols();
        if let Some(pos) = symbols.iter().position(|&s| s >= k) {
            return Err(invalid(format!(
                "token {} at position {pos} is not a symbol (0..{k})",
                symbols[pos]
            )));
        }
        if !self.language.valid_len(symbols.len()) {
            return Err(invalid(format!("no string of length {}", symbols.len())));
        }
        Ok(self.language.label(symbols))
    }
}

impl Task for RegularTask {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn vocab(&self) -> Vec<String> {
        let mut v = self.language.symbols();
        if self.config.query_token {
            v.push("?".into());
        }
        v
    }

    fn classes(&self) -> Vec<String> {
        self.language.classes()
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Final
    }

    /// The length unit is input symbols, without the query token. Modular arithmetic
    /// lowers an even drawn length by one, as the original code does.
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        if min_len > max_len || max_len == 0 || max_len > u32::MAX as usize {
            return Err(LangError::InvalidConfig {
                task: self.name.clone(),
                field: "length window".into(),
                reason: format!("no string length in {min_len}..={max_len}"),
            });
        }
        let drawn = rng.random_range(min_len.max(1) as u32..=max_len as u32) as usize;
        let len = self.language.effective_len(drawn);
        if !self.language.valid_len(len) {
            return Err(LangError::InvalidConfig {
                task: self.name.clone(),
                field: "length window".into(),
                reason: format!("length {drawn} gives no valid string"),
            });
        }
        let mut tokens = Vec::with_capacity(len + 1);
        self.language.sample_symbols(len, rng, &mut tokens);
        let label = self.language.label(&tokens);
        if let Some(q) = self.query_token_id() {
            tokens.push(q);
        }
        Ok(Example {
            tokens,
            target: Target::Final(label),
        })
    }

    /// Checks the shape, then recomputes the label with the language's oracle.
    fn check_example(&self, example: &Example) -> Result<(), String> {
        check_example_shape(
            self.vocab().len(),
            self.classes().len(),
            TargetKind::Final,
            example,
        )?;
        let expected = self.label(&example.tokens).map_err(|e| match e {
            LangError::InvalidConfig { reason, .. } => reason,
            other => other.to_string(),
        })?;
        match example.target {
            Target::Final(c) if c != expected => Err(format!(
                "label {c} at the last position ({}): the oracle says {expected}",
                example.tokens.len().saturating_sub(1)
            )),
            _ => Ok(()),
        }
    }

    /// Input symbols, without the query token (the unit of the splits and of `sample`).
    fn input_len(&self, example: &Example) -> usize {
        let n = example.tokens.len();
        match (self.query_token_id(), example.tokens.last()) {
            (Some(q), Some(&last)) if last == q => n - 1,
            _ => n,
        }
    }

    fn splits(&self) -> Vec<SplitSpec> {
        let c = &self.config;
        let mut splits = vec![SplitSpec {
            name: "train".into(),
            min_len: c.train_min_len,
            max_len: c.train_max_len,
            size: c.train_size,
        }];
        splits.extend((1..=c.test_max_len).map(|len| SplitSpec {
            name: format!("test-{len}"),
            min_len: len,
            max_len: len,
            size: c.test_size_per_len,
        }));
        splits
    }
}

/// Class names `0..n` as strings.
pub(crate) fn numbered(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}
