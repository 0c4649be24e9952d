//! The 27-language suite of Bhattamishra et al. (2020), as released in the `generated_ds`
//! folder of Sarrof et al. (2024) (spec: `shared/spec/bhattamishra-flipflop-dyck.md` §1).
//!
//! Every language is a `Language` (alphabet, membership oracle, published target string,
//! legal-next-symbol sets, sampler). [`SuiteTask`] wraps one language with the published
//! splits and implements [`Task`]:
//! - tokens: one per character, ids = positions in the **sorted** alphabet;
//! - target: [`Target::PerPosition`], one class per character: the published target string
//!   cut into chunks of `Language::chunk` characters, class ids = positions of the chunk
//!   strings in the **sorted** class list ([`Task::classes`]);
//! - split lengths count characters (for aⁿbⁿ… the published windows are in n; we
//!   convert them to characters, e.g. n ∈ \[2,100\] -> \[4,200\]).
//!
//! Where the published data departs from the definition, [`Fidelity::Faithful`] matches
//! the files and [`Fidelity::Definition`] follows the textbook language (see each language).

mod boolean;
mod catalog;
mod counter;
mod dyck;
mod dyck_law;
mod modular;
pub(crate) mod sampling;
mod starfree;
mod tomita;

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::registry::TaskInfo;
use crate::task::{check_example_shape, seeded_rng, split_seed};
use crate::{Example, LangError, SplitSpec, Target, TargetKind, Task};

/// Whether a language reproduces the published files or the textbook definition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fidelity {
    /// Sample and label exactly as the published `generated_ds` files (the default).
    #[default]
    Faithful,
    /// The language's definition where the files depart from it (Shuffle-k: true shuffles
    /// of k Dyck-1 languages; Tomita-3: a symbol is legal when the prefix can still be
    /// completed; {0,1,2}*02*: `e` whenever the prefix is in the language).
    Definition,
}

/// Outcome of one sampler call.
pub(crate) enum Drawn {
    /// A candidate string is in the output buffer.
    Candidate,
    /// This attempt produced nothing (e.g. a Boolean expression that never closed).
    Nothing,
    /// The sampler gives up for good (D_n's fallback when its mean ratio drops below 0).
    Exhausted,
}

/// One language of the suite: its alphabet, oracles and published sampler.
pub(crate) trait Language: Send + Sync {
    /// The alphabet, one byte per symbol, sorted ascending.
    fn alphabet(&self) -> &[u8];
    /// Characters per target chunk (1, 2, 4 or 6).
    fn chunk(&self) -> usize;
    /// Every chunk string a member's target can contain, sorted ascending.
    fn classes(&self) -> Vec<String>;
    /// Membership oracle over raw characters.
    fn is_member(&self, s: &[u8]) -> bool;
    /// Appends the published target string of `s` (exactly `s.len() * chunk` bytes).
    fn target(&self, s: &[u8], out: &mut Vec<u8>);
    /// `result[t][a]`: may alphabet symbol `a` follow `s[..=t]` in a member of the language
    /// (i.e. can `s[..=t] a` still be completed)?
    fn next_symbols(&self, s: &[u8]) -> Vec<Vec<bool>>;
    /// Draws one raw candidate into `out` (cleared first) for the window `lo..=hi`.
    /// `failures` counts rejected candidates so far in this list (used by D_n's fallback).
    fn draw(
        &self,
        lo: usize,
        hi: usize,
        failures: u64,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u8>,
    ) -> Drawn;
    /// Whether a candidate is kept (before de-duplication): window and membership by default.
    fn accept(&self, s: &[u8], lo: usize, hi: usize) -> bool {
        (lo..=hi).contains(&s.len()) && self.is_member(s)
    }
    /// Applied after the de-duplication check (Parity appends a `1` here); false drops it.
    fn finalize(&self, _s: &mut Vec<u8>, _hi: usize) -> bool {
        true
    }
    /// True when a draw depends on the list's history (`failures`), so the list must be
    /// drawn one attempt after the other; otherwise attempts are drawn in parallel batches.
    fn sequential(&self) -> bool {
        false
    }
}

/// Set of byte strings for de-duplication, with a fast non-cryptographic hash (FxHash's
/// multiply-rotate; only membership is used, so iteration order never matters).
type ByteSet = HashSet<Vec<u8>, std::hash::BuildHasherDefault<FxHasher>>;

#[derive(Default)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write(&(n as u64).to_le_bytes());
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Attempts per batch of the parallel list sampler: a function of the requested size
/// only, so the data do not depend on the number of threads.
/// A wave (8 batches) is about half the list, so at most ~half a list of extra
/// attempts is drawn for samplers that rarely reject.
fn batch_len(size: usize) -> usize {
    (size / 16).clamp(16, 1024)
}

/// Batches drawn per parallel wave (fixed, for the same reason).
const BATCHES_PER_WAVE: usize = 8;

/// One accepted attempt of a batch: the final string, the length it had when it was
/// checked for novelty (Parity appends a `1` afterwards), and whether `finalize` kept it.
struct Attempt {
    string: Vec<u8>,
    checked_len: usize,
    kept: bool,
}

/// How a split's list is de-duplicated (each published generator does one of these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dedup {
    /// Keep every accepted draw (duplicates allowed): Tomita and (aa)* training sets, D-2.
    None,
    /// Draw until `size` distinct strings are collected (the `if s not in list` loops).
    UntilUnique,
    /// Draw `size` accepted strings, then drop repeats keeping first occurrences
    /// (the `list(set(...))` of the leak/test branches); the split ends up smaller.
    DrawThenDedup,
}

/// A published split with its generation rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteSplit {
    /// Name (`train`, `bin0`, ...), character window and requested size.
    pub spec: SplitSpec,
    pub dedup: Dedup,
    /// `Some(offset)`: this split is `spec.size` items from `offset` of the shared corpus
    /// (the "corpus split": train and bin0 cut from one de-duplicated list, so they never
    /// overlap); `None`: generated on its own.
    pub corpus_offset: Option<usize>,
    /// The published list went through a Python `set`, so its order is arbitrary (and
    /// the corpus split is a random partition): we apply a seeded shuffle.
    pub set_order: bool,
}

/// Identifies one of the 27 languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuiteLanguage {
    Tomita1,
    Tomita2,
    Tomita3,
    Tomita4,
    Tomita5,
    Tomita6,
    Tomita7,
    D2,
    D3,
    D4,
    D12,
    Parity,
    AaStar,
    AaaaStar,
    AbabStar,
    AaStarToEeStar,
    AbStarDBcStar,
    ZeroOneTwoStar02Star,
    Dyck1,
    Shuffle2,
    Shuffle4,
    Shuffle6,
    Boolean3,
    Boolean5,
    AnBn,
    AnBnCn,
    AnBnCnDn,
}

impl SuiteLanguage {
    /// All 27, in the order of the paper's grouping (star-free, non-star-free, counter).
    pub const ALL: [SuiteLanguage; 27] = [
        SuiteLanguage::Tomita1,
        SuiteLanguage::Tomita2,
        SuiteLanguage::Tomita4,
        SuiteLanguage::Tomita7,
        SuiteLanguage::AaStarToEeStar,
        SuiteLanguage::AbStarDBcStar,
        SuiteLanguage::ZeroOneTwoStar02Star,
        SuiteLanguage::D2,
        SuiteLanguage::D3,
        SuiteLanguage::D4,
        SuiteLanguage::D12,
        SuiteLanguage::Parity,
        SuiteLanguage::AaStar,
        SuiteLanguage::AaaaStar,
        SuiteLanguage::AbabStar,
        SuiteLanguage::Tomita3,
        SuiteLanguage::Tomita5,
        SuiteLanguage::Tomita6,
        SuiteLanguage::Dyck1,
        SuiteLanguage::Shuffle2,
        SuiteLanguage::Shuffle4,
        SuiteLanguage::Shuffle6,
        SuiteLanguage::Boolean3,
        SuiteLanguage::Boolean5,
        SuiteLanguage::AnBn,
        SuiteLanguage::AnBnCn,
        SuiteLanguage::AnBnCnDn,
    ];

    /// The language's row of the catalog.
    fn row(self) -> &'static catalog::CatalogRow {
        let row = &catalog::CATALOG[self as usize];
        debug_assert_eq!(
            row.language, self,
            "catalog rows follow the declaration order"
        );
        row
    }

    /// The folder name of the published release (`generated_ds/<folder>`).
    pub fn folder(self) -> &'static str {
        self.row().folder
    }

    /// The short command-line name.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// Whether the published files depart from the definition (so a `-exact` variant exists).
    pub fn has_definition_variant(self) -> bool {
        self.row().exact_description.is_some()
    }

    fn description(self, fidelity: Fidelity) -> String {
        let row = self.row();
        match (fidelity, row.exact_description) {
            (Fidelity::Definition, Some(exact)) => exact.to_string(),
            _ => row.description.to_string(),
        }
    }

    fn build(self, fidelity: Fidelity) -> Box<dyn Language> {
        (self.row().build)(fidelity == Fidelity::Definition)
    }

    /// The published splits: windows (characters), requested sizes and generation rules
    /// (spec §1.4; sizes as configured, except D-2 whose committed files are 5000/1000/1000).
    pub fn published_splits(self) -> Vec<SuiteSplit> {
        let row = self.row();
        (row.splits)(&catalog::SplitRules {
            set_order: row.set_order,
        })
    }
}

/// Serde configuration of one suite task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteConfig {
    pub language: SuiteLanguage,
    /// Default [`Fidelity::Faithful`].
    #[serde(default)]
    pub fidelity: Fidelity,
    /// Default: the published splits ([`SuiteLanguage::published_splits`]).
    #[serde(default)]
    pub splits: Option<Vec<SuiteSplit>>,
}

/// Maps chunk strings to class ids quickly (chunks of one byte, or of `0`/`1` bits).
struct ClassCodec {
    chunk: usize,
    /// chunk == 1: indexed by byte; otherwise by the bit pattern's binary value.
    table: Vec<u32>,
}

const NO_CLASS: u32 = u32::MAX;

impl ClassCodec {
    fn new(chunk: usize, classes: &[String]) -> Self {
        let mut table = if chunk == 1 {
            vec![NO_CLASS; 256]
        } else {
            vec![NO_CLASS; 1 << chunk]
        };
        for (id, c) in classes.iter().enumerate() {
            let key = Self::key(chunk, c.as_bytes()).expect("class strings are bits or one byte");
            table[key] = id as u32;
        }
        ClassCodec { chunk, table }
    }

    fn key(chunk: usize, bytes: &[u8]) -> Option<usize> {
        if chunk == 1 {
            return Some(bytes[0] as usize);
        }
        let mut v = 0usize;
        for &b in bytes {
            v = v * 2
                + match b {
                    b'0' => 0,
                    b'1' => 1,
                    _ => return None,
                };
        }
        Some(v)
    }

    /// Class id of one chunk, or None if it is not a class.
    fn class_of(&self, bytes: &[u8]) -> Option<u32> {
        let k = Self::key(self.chunk, bytes)?;
        match self.table[k] {
            NO_CLASS => None,
            id => Some(id),
        }
    }
}

/// One language of the suite with its published splits: a [`Task`].
pub struct SuiteTask {
    language: SuiteLanguage,
    fidelity: Fidelity,
    name: String,
    description: String,
    lang: Box<dyn Language>,
    splits: Vec<SuiteSplit>,
    classes: Vec<String>,
    codec: ClassCodec,
    /// Byte -> token id (u32::MAX when outside the alphabet).
    token_of: [u32; 256],
}

impl SuiteTask {
    /// The language with its published splits.
    pub fn new(language: SuiteLanguage, fidelity: Fidelity) -> Self {
        Self::from_config(SuiteConfig {
            language,
            fidelity,
            splits: None,
        })
    }

    /// Builds a task from its serde configuration.
    pub fn from_config(config: SuiteConfig) -> Self {
        let SuiteConfig {
            language,
            fidelity,
            splits,
        } = config;
        let lang = language.build(fidelity);
        let classes = lang.classes();
        let codec = ClassCodec::new(lang.chunk(), &classes);
        let mut token_of = [NO_CLASS; 256];
        for (id, &b) in lang.alphabet().iter().enumerate() {
            token_of[b as usize] = id as u32;
        }
        let mut name = language.name().to_string();
        if fidelity == Fidelity::Definition {
            name.push_str("-exact");
        }
        SuiteTask {
            language,
            fidelity,
            name,
            description: language.description(fidelity),
            lang,
            splits: splits.unwrap_or_else(|| language.published_splits()),
            classes,
            codec,
            token_of,
        }
    }

    pub fn language(&self) -> SuiteLanguage {
        self.language
    }

    pub fn fidelity(&self) -> Fidelity {
        self.fidelity
    }

    /// Published folder name, e.g. `ABStar_D_BCStar`.
    pub fn folder(&self) -> &'static str {
        self.language.folder()
    }

    /// The splits with their generation rules.
    pub fn suite_splits(&self) -> &[SuiteSplit] {
        &self.splits
    }

    /// Alphabet as raw characters (sorted; token id = index).
    pub fn alphabet(&self) -> &[u8] {
        self.lang.alphabet()
    }

    /// Characters per target chunk.
    pub fn chunk(&self) -> usize {
        self.lang.chunk()
    }

    /// Membership oracle on raw characters (the faithful language in `Faithful` mode).
    pub fn is_member_str(&self, s: &[u8]) -> bool {
        s.iter().all(|&b| self.token_of[b as usize] != NO_CLASS) && self.lang.is_member(s)
    }

    /// The published target string of `s` (`s.len() * chunk` characters).
    pub fn target_string(&self, s: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len() * self.chunk());
        self.lang.target(s, &mut out);
        out
    }

    /// Token ids of a raw string, or the position of the first symbol outside the alphabet.
    pub fn tokenize(&self, s: &[u8]) -> Result<Vec<u32>, usize> {
        s.iter()
            .enumerate()
            .map(|(i, &b)| match self.token_of[b as usize] {
                NO_CLASS => Err(i),
                t => Ok(t),
            })
            .collect()
    }

    /// Raw characters of token ids; ids outside the alphabet become `?` (never a panic;
    /// `?` is in no alphabet, so such a string is never a member).
    pub fn detokenize(&self, tokens: &[u32]) -> Vec<u8> {
        let a = self.lang.alphabet();
        tokens
            .iter()
            .map(|&t| a.get(t as usize).copied().unwrap_or(b'?'))
            .collect()
    }

    /// Class ids of a published target string, or the index of the first bad chunk.
    pub fn encode_target(&self, tgt: &[u8]) -> Result<Vec<u32>, usize> {
        let c = self.chunk();
        tgt.chunks(c)
            .enumerate()
            .map(|(i, ch)| {
                if ch.len() != c {
                    return Err(i);
                }
                self.codec.class_of(ch).ok_or(i)
            })
            .collect()
    }

    /// The example of a raw member string (tokens and per-position classes).
    pub fn example_of(&self, s: &[u8]) -> Result<Example, LangError> {
        let mut tokens = Vec::with_capacity(s.len());
        for &b in s {
            match self.token_of[b as usize] {
                NO_CLASS => {
                    return Err(self.bad(format!("symbol {:?} outside the alphabet", b as char)))
                }
                t => tokens.push(t),
            }
        }
        // The target string goes through a per-thread buffer (no allocation per string).
        thread_local! {
            static TARGET: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let classes = TARGET.with(|buf| {
            let mut tgt = buf.borrow_mut();
            tgt.clear();
            self.lang.target(s, &mut tgt);
            let mut classes = Vec::with_capacity(s.len());
            for (i, chunk) in tgt.chunks(self.chunk()).enumerate() {
                match self.codec.class_of(chunk) {
                    Some(c) => classes.push(c),
                    None => {
                        return Err(self.bad(format!(
                            "target chunk {i} of {:?} is not a class",
                            String::from_utf8_lossy(s)
                        )))
                    }
                }
            }
            Ok(classes)
        })?;
        Ok(Example {
            tokens,
            target: Target::PerPosition(classes),
        })
    }

    fn bad(&self, reason: String) -> LangError {
        LangError::InvalidConfig {
            task: self.name.clone(),
            field: "language".into(),
            reason,
        }
    }

    /// Most attempts spent on one list before giving up (the Python loops would spin forever).
    fn attempt_cap(size: usize) -> u64 {
        1_000_000 + 2_000 * size as u64
    }

    /// Generates the raw strings of one list: `size` accepted draws over `lo..=hi` under
    /// the de-duplication rule.
    fn draw_list(
        &self,
        lo: usize,
        hi: usize,
        size: usize,
        dedup: Dedup,
        set_order: bool,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Vec<u8>> {
        let mut out = if self.lang.sequential() {
            self.draw_list_sequential(lo, hi, size, dedup, rng)
        } else {
            self.draw_list_batched(lo, hi, size, dedup, rng.next_u64())
        };
        if dedup == Dedup::DrawThenDedup {
            let mut seen: ByteSet =
                ByteSet::with_capacity_and_hasher(out.len(), Default::default());
            out.retain(|s| seen.insert(s.clone()));
        }
        if set_order {
            out.shuffle(rng);
        }
        out
    }

    /// The published loop, one attempt after the other.
    fn draw_list_sequential(
        &self,
        lo: usize,
        hi: usize,
        size: usize,
        dedup: Dedup,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::with_capacity(size);
        let mut seen: ByteSet = ByteSet::with_capacity_and_hasher(size, Default::default());
        let mut buf = Vec::with_capacity(hi + 1);
        let mut failures = 0u64;
        let mut attempts = 0u64;
        let cap = Self::attempt_cap(size);
        while out.len() < size && attempts < cap {
            attempts += 1;
            match self.lang.draw(lo, hi, failures, rng, &mut buf) {
                Drawn::Exhausted => break,
                Drawn::Nothing => {
                    failures += 1;
                    continue;
                }
                Drawn::Candidate => {}
            }
            if !self.lang.accept(&buf, lo, hi)
                || (dedup == Dedup::UntilUnique && seen.contains(buf.as_slice()))
            {
                failures += 1;
                continue;
            }
            if !self.lang.finalize(&mut buf, hi) {
                failures += 1;
                continue;
            }
            if dedup == Dedup::UntilUnique {
                seen.insert(buf.clone());
            }
            out.push(buf.clone());
        }
        out
    }

    /// The same list from independent batches of attempts drawn in parallel: batch `b`
    /// uses ChaCha stream `b` of the list's seed, batches are merged in order (novelty
    /// checked in that order), so the result is the same on any number of threads and
    /// distributed exactly as the sequential loop's.
    fn draw_list_batched(
        &self,
        lo: usize,
        hi: usize,
        size: usize,
        dedup: Dedup,
        seed: u64,
    ) -> Vec<Vec<u8>> {
        let batch = batch_len(size);
        let cap = Self::attempt_cap(size);
        let mut out: Vec<Vec<u8>> = Vec::with_capacity(size);
        let mut seen: ByteSet = ByteSet::with_capacity_and_hasher(size, Default::default());
        let mut next_batch = 0u64;
        let mut attempts = 0u64;
        let mut exhausted = false;
        while out.len() < size && attempts < cap && !exhausted {
            let wave: Vec<(Vec<Attempt>, bool)> = (next_batch
                ..next_batch + BATCHES_PER_WAVE as u64)
                .into_par_iter()
                .map(|b| self.draw_batch(lo, hi, batch, seed, b))
                .collect();
            next_batch += BATCHES_PER_WAVE as u64;
            attempts += (BATCHES_PER_WAVE * batch) as u64;
            'merge: for (accepted, batch_exhausted) in wave {
                for a in accepted {
                    if out.len() == size {
                        break 'merge;
                    }
                    if dedup == Dedup::UntilUnique && seen.contains(&a.string[..a.checked_len]) {
                        continue;
                    }
                    if !a.kept {
                        continue;
                    }
                    if dedup == Dedup::UntilUnique {
                        seen.insert(a.string.clone());
                    }
                    out.push(a.string);
                }
                if batch_exhausted {
                    exhausted = true;
                    break;
                }
            }
        }
        out
    }

    /// One batch of `n` attempts: the candidates that pass the window/membership check,
    /// and whether the sampler gave up (then later batches are not used).
    fn draw_batch(
        &self,
        lo: usize,
        hi: usize,
        n: usize,
        seed: u64,
        stream: u64,
    ) -> (Vec<Attempt>, bool) {
        let mut rng = seeded_rng(seed);
        rng.set_stream(stream);
        let mut buf = Vec::with_capacity(hi + 1);
        let mut accepted = Vec::new();
        for _ in 0..n {
            match self.lang.draw(lo, hi, 0, &mut rng, &mut buf) {
                Drawn::Exhausted => return (accepted, true),
                Drawn::Nothing => continue,
                Drawn::Candidate => {}
            }
            if !self.lang.accept(&buf, lo, hi) {
                continue;
            }
            let checked_len = buf.len();
            let mut string = buf.clone();
            let kept = self.lang.finalize(&mut string, hi);
            accepted.push(Attempt {
                string,
                checked_len,
                kept,
            });
        }
        (accepted, false)
    }

    /// The name a list's seed is derived from: language folder and split, so languages
    /// with the same windows do not share random streams.
    fn stream_name(&self, split: &str) -> String {
        format!("{}/{split}", self.language.folder())
    }

    /// Raw strings of the shared corpus (train + bin0 of the corpus-split languages).
    fn corpus_strings(&self, seed: u64) -> Vec<Vec<u8>> {
        let parts: Vec<&SuiteSplit> = self
            .splits
            .iter()
            .filter(|s| s.corpus_offset.is_some())
            .collect();
        let Some(first) = parts.first() else {
            return Vec::new();
        };
        let total = parts
            .iter()
            .map(|s| s.corpus_offset.unwrap() + s.spec.size)
            .max()
            .unwrap_or(0);
        let mut rng = seeded_rng(split_seed(seed, &self.stream_name("corpus")));
        self.draw_list(
            first.spec.min_len,
            first.spec.max_len,
            total,
            first.dedup,
            first.set_order,
            &mut rng,
        )
    }

    fn find_split(&self, name: &str) -> Result<&SuiteSplit, LangError> {
        self.splits
            .iter()
            .find(|s| s.spec.name == name)
            .ok_or_else(|| LangError::UnknownSplit {
                task: self.name.clone(),
                split: name.to_string(),
                available: self
                    .splits
                    .iter()
                    .map(|s| s.spec.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The raw strings of one split (what the published `*_src*.txt` file holds).
    /// Windows and sizes come from the task's split table; `split` only names the split.
    pub fn split_strings(&self, split: &str, seed: u64) -> Result<Vec<Vec<u8>>, LangError> {
        let s = self.find_split(split)?;
        Ok(match s.corpus_offset {
            Some(off) => {
                let corpus = self.corpus_strings(seed);
                let end = (off + s.spec.size).min(corpus.len());
                corpus[off.min(end)..end].to_vec()
            }
            None => self.own_split_strings(s, seed),
        })
    }

    fn own_split_strings(&self, s: &SuiteSplit, seed: u64) -> Vec<Vec<u8>> {
        let mut rng = seeded_rng(split_seed(seed, &self.stream_name(&s.spec.name)));
        self.draw_list(
            s.spec.min_len,
            s.spec.max_len,
            s.spec.size,
            s.dedup,
            s.set_order,
            &mut rng,
        )
    }

    /// Raw strings of every split, generating the shared corpus once. Splits are
    /// independent seeded streams, so they are generated in parallel (rayon) with the
    /// same result as one after the other.
    pub fn all_split_strings(&self, seed: u64) -> Vec<(SplitSpec, Vec<Vec<u8>>)> {
        let needs_corpus = self.splits.iter().any(|s| s.corpus_offset.is_some());
        // Job 0 is the corpus (if any); job i+1 is split i when it is not cut from it.
        let jobs: Vec<Option<&SuiteSplit>> = std::iter::once(None)
            .chain(self.splits.iter().map(Some))
            .collect();
        let mut lists: Vec<Vec<Vec<u8>>> = jobs
            .par_iter()
            .map(|job| match job {
                None if needs_corpus => self.corpus_strings(seed),
                Some(s) if s.corpus_offset.is_none() => self.own_split_strings(s, seed),
                _ => Vec::new(),
            })
            .collect();
        let corpus = std::mem::take(&mut lists[0]);
        self.splits
            .iter()
            .zip(lists.into_iter().skip(1))
            .map(|(s, own)| {
                let strings = match s.corpus_offset {
                    Some(off) => {
                        let end = (off + s.spec.size).min(corpus.len());
                        corpus[off.min(end)..end].to_vec()
                    }
                    None => own,
                };
                (s.spec.clone(), strings)
            })
            .collect()
    }

    fn examples_of(&self, strings: &[Vec<u8>]) -> Result<Vec<Example>, LangError> {
        strings.par_iter().map(|s| self.example_of(s)).collect()
    }
}

impl Task for SuiteTask {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn vocab(&self) -> Vec<String> {
        self.lang
            .alphabet()
            .iter()
            .map(|&b| (b as char).to_string())
            .collect()
    }

    fn classes(&self) -> Vec<String> {
        self.classes.clone()
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::PerPosition
    }

    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        let mut buf = Vec::with_capacity(max_len + 1);
        let cap = Self::attempt_cap(1);
        for failures in 0..cap {
            match self.lang.draw(min_len, max_len, failures, rng, &mut buf) {
                Drawn::Exhausted => break,
                Drawn::Nothing => {}
                Drawn::Candidate => {
                    if self.lang.accept(&buf, min_len, max_len)
                        && self.lang.finalize(&mut buf, max_len)
                    {
                        return self.example_of(&buf);
                    }
                }
            }
        }
        Err(LangError::InvalidConfig {
            task: self.name.clone(),
            field: "length window".into(),
            reason: format!("no member of length {min_len}..={max_len} found in {cap} draws"),
        })
    }

    fn splits(&self) -> Vec<SplitSpec> {
        self.splits.iter().map(|s| s.spec.clone()).collect()
    }

    /// A split of the table is generated as published (corpus splits cut from the shared
    /// corpus). A split whose window or size differs from the table (e.g. a smaller
    /// `--size`) is generated on its own with the table's de-duplication rule.
    fn generate_split(&self, split: &SplitSpec, seed: u64) -> Result<Vec<Example>, LangError> {
        let table = self.find_split(&split.name)?;
        let strings = if table.spec == *split {
            self.split_strings(&split.name, seed)?
        } else {
            let custom = SuiteSplit {
                spec: split.clone(),
                corpus_offset: None,
                ..table.clone()
            };
            self.own_split_strings(&custom, seed)
        };
        self.examples_of(&strings)
    }

    fn generate_all_splits(&self, seed: u64) -> Result<Vec<(SplitSpec, Vec<Example>)>, LangError> {
        self.all_split_strings(seed)
            .into_iter()
            .map(|(spec, strings)| Ok((spec, self.examples_of(&strings)?)))
            .collect()
    }

    fn next_symbol_sets(&self, tokens: &[u32]) -> Option<Vec<Vec<bool>>> {
        if tokens
            .iter()
            .any(|&t| t as usize >= self.lang.alphabet().len())
        {
            return None;
        }
        Some(self.lang.next_symbols(&self.detokenize(tokens)))
    }

    fn is_member(&self, tokens: &[u32]) -> Option<bool> {
        if tokens
            .iter()
            .any(|&t| t as usize >= self.lang.alphabet().len())
        {
            return Some(false);
        }
        Some(self.lang.is_member(&self.detokenize(tokens)))
    }

    fn check_example(&self, example: &Example) -> Result<(), String> {
        check_example_shape(
            self.lang.alphabet().len(),
            self.classes.len(),
            TargetKind::PerPosition,
            example,
        )?;
        let s = self.detokenize(&example.tokens);
        if !self.lang.is_member(&s) {
            return Err(format!(
                "`{}` is not in {}",
                String::from_utf8_lossy(&s),
                self.name
            ));
        }
        let Target::PerPosition(got) = &example.target else {
            unreachable!("shape checked above")
        };
        let tgt = self.target_string(&s);
        let want = self
            .encode_target(&tgt)
            .map_err(|i| format!("oracle target chunk {i} is not a class"))?;
        if let Some(pos) = (0..want.len()).find(|&i| want[i] != got[i]) {
            return Err(format!(
                "target at position {pos} is `{}`, the oracle says `{}`",
                self.classes[got[pos] as usize], self.classes[want[pos] as usize]
            ));
        }
        Ok(())
    }
}

/// Every suite task: the 27 faithful ones, then the `-exact` definition variants.
pub fn tasks() -> Vec<TaskInfo> {
    let mut out = Vec::new();
    for lang in SuiteLanguage::ALL {
        let task = SuiteTask::new(lang, Fidelity::Faithful);
        let mut aliases = vec![lang.folder().to_string()];
        // Glued forms like `dyck1`, `tomita3`, `d2`, `shuffle4`, `boolean5`.
        let glued = lang.name().replace('-', "");
        if glued != lang.name() && !glued.eq_ignore_ascii_case(lang.folder()) {
            aliases.push(glued);
        }
        if lang == SuiteLanguage::AaStarToEeStar {
            aliases.push("aastar-bbstar-ccstar-ddstar-eestar".into());
        }
        out.push(TaskInfo {
            task: Box::new(task),
            aliases,
        });
    }
    for lang in SuiteLanguage::ALL {
        if lang.has_definition_variant() {
            out.push(TaskInfo {
                task: Box::new(SuiteTask::new(lang, Fidelity::Definition)),
                aliases: vec![format!("{}-exact", lang.folder())],
            });
        }
    }
    out
}

/// The suite task of a published folder name (`Tomita-3`, `ABStar_D_BCStar`, ...).
pub fn by_folder(folder: &str, fidelity: Fidelity) -> Option<SuiteTask> {
    SuiteLanguage::ALL
        .iter()
        .find(|l| l.folder().eq_ignore_ascii_case(folder))
        .map(|&l| SuiteTask::new(l, fidelity))
}

/// The suite task of a task name (`dyck-1`, `shuffle-2-exact`, ...), as a concrete type.
pub fn by_name(name: &str) -> Option<SuiteTask> {
    let (base, fidelity) = match name.strip_suffix("-exact") {
        Some(b) => (b, Fidelity::Definition),
        None => (name, Fidelity::Faithful),
    };
    SuiteLanguage::ALL
        .iter()
        .find(|l| {
            l.name() == base && (fidelity == Fidelity::Faithful || l.has_definition_variant())
        })
        .map(|&l| SuiteTask::new(l, fidelity))
}
