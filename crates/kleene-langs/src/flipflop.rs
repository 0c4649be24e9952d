//! Flip-flop language FFL(p) of Liu et al. (2023), "Exposing Attention Glitches with
//! Flip-Flop Language Modeling" (spec §2), as used by Sarrof et al. (2024).
//!
//! A sequence is T (instruction, bit) pairs written as 2T characters, e.g. `w0i1r0…`:
//! - the first instruction is `w` (write), the last is `r` (read);
//! - every other instruction is `i` (ignore) with probability `p_ignore`, else `w` or `r`
//!   with `(1 - p_ignore) / 2` each;
//! - the bit after `w` or `i` is uniform; the bit after `r` is the bit of the latest `w`.
//!
//! As an [`Example`] (one token per character, Sarrof's encoding):
//! - vocabulary `0 1 - r i w` (ids 0..=5); the answer bit after each `r` is **masked** in
//!   the input as `-` (id 2);
//! - target [`Target::Masked`]: classes `0`, `1`, `-` (ids 0..=2); the class at a read
//!   answer is its bit and `mask` is true there; every other position has class `-`
//!   ("no answer", id 2) and mask false. Sarrof's metric scores all 2T positions
//!   (a sequence is right iff every position's argmax matches, `-` included); Liu et al.
//!   score only the read answers, i.e. the mask.
//!
//! Lengths ([`SplitSpec`] windows) count instruction/bit **pairs** (T = 256 by default).
//! Published splits (HF `synthseq/flipflop`): `train` 1.6M of FFL(0.8), `val` 16K of
//! FFL(0.8) (in-distribution), `val_dense` 4K of FFL(0.1), `val_sparse` 160K of FFL(0.98).

use std::path::Path;

use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::io::{join_lines, read_lines, write_atomic, write_atomic_with};
use crate::registry::TaskInfo;
use crate::task::{check_example_shape, seeded_rng, split_seed};
use crate::{Example, LangError, SplitSpec, Target, TargetKind, Task};

/// Token ids of the input vocabulary.
pub const TOKEN_ZERO: u32 = 0;
pub const TOKEN_ONE: u32 = 1;
pub const TOKEN_MASK: u32 = 2;
pub const TOKEN_READ: u32 = 3;
pub const TOKEN_IGNORE: u32 = 4;
pub const TOKEN_WRITE: u32 = 5;
/// Class id of "no answer at this position".
pub const CLASS_NONE: u32 = 2;

/// One split: how many sequences of which ignore probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlipFlopSplit {
    pub name: String,
    pub p_ignore: f64,
    pub size: usize,
}

/// Configuration of the flip-flop task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlipFlopConfig {
    /// Instruction/bit pairs per sequence. Default 256 (512 characters).
    #[serde(default = "default_pairs")]
    pub pairs: usize,
    /// Ignore probability used by [`Task::sample`]. Default 0.8.
    #[serde(default = "default_p")]
    pub p_ignore: f64,
    /// Splits. Default: the HF release (train 1.6M / val 16K at 0.8, val_dense 4K at 0.1,
    /// val_sparse 160K at 0.98).
    #[serde(default = "default_splits")]
    pub splits: Vec<FlipFlopSplit>,
}

fn default_pairs() -> usize {
    256
}
fn default_p() -> f64 {
    0.8
}
fn default_splits() -> Vec<FlipFlopSplit> {
    let s = |name: &str, p_ignore, size| FlipFlopSplit {
        name: name.into(),
        p_ignore,
        size,
    };
    vec![
        s("train", 0.8, 1_600_000),
        s("val", 0.8, 16_000),
        s("val_dense", 0.1, 4_000),
        s("val_sparse", 0.98, 160_000),
    ]
}

impl Default for FlipFlopConfig {
    fn default() -> Self {
        FlipFlopConfig {
            pairs: default_pairs(),
            p_ignore: default_p(),
            splits: default_splits(),
        }
    }
}

/// The flip-flop task.
pub struct FlipFlop {
    config: FlipFlopConfig,
    name: String,
    description: String,
}

impl FlipFlop {
    pub fn new(config: FlipFlopConfig) -> Result<Self, LangError> {
        let bad = |field: &str, reason: String| LangError::InvalidConfig {
            task: "flipflop".into(),
            field: field.into(),
            reason,
        };
        if config.pairs < 2 {
            return Err(bad(
                "pairs",
                "need at least 2 pairs (a write and a read)".into(),
            ));
        }
        for (field, p) in std::iter::once(("p_ignore".to_string(), config.p_ignore)).chain(
            config
                .splits
                .iter()
                .map(|s| (format!("splits.{}.p_ignore", s.name), s.p_ignore)),
        ) {
            if !(0.0..=1.0).contains(&p) {
                return Err(bad(&field, format!("{p} is not a probability")));
            }
        }
        let name = "flipflop".to_string();
        let description = format!(
            "Flip-flop FFL({}) of Liu et al.: {} w/r/i instruction+bit pairs, predict each read's bit (masked)",
            config.p_ignore, config.pairs
        );
        Ok(FlipFlop {
            config,
            name,
            description,
        })
    }

    pub fn config(&self) -> &FlipFlopConfig {
        &self.config
    }

    /// Writes the raw text (`w0i1r0…`, 2T characters) of one FFL(p) sequence into `out`.
    pub fn sample_text(pairs: usize, p_ignore: f64, rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
        out.clear();
        // One 64-bit draw per pair: the top 53 bits pick the instruction, bit 0 the data bit.
        let scale = 1.0 / (1u64 << 53) as f64;
        let p_write = p_ignore + (1.0 - p_ignore) / 2.0;
        let mut memory = b'0';
        for t in 0..pairs {
            let x = rng.next_u64();
            let bit = if x & 1 == 1 { b'1' } else { b'0' };
            let u = (x >> 11) as f64 * scale;
            let instr = if t == 0 {
                b'w'
            } else if t + 1 == pairs {
                b'r'
            } else if u < p_ignore {
                b'i'
            } else if u < p_write {
                b'w'
            } else {
                b'r'
            };
            out.push(instr);
            match instr {
                b'w' => {
                    memory = bit;
                    out.push(bit);
                }
                b'r' => out.push(memory),
                _ => out.push(bit),
            }
        }
    }

    /// The example of a raw text: read answers masked in the input, per-position classes.
    /// Errors name the 0-based character position that breaks the rules.
    pub fn example_of_text(text: &[u8]) -> Result<Example, String> {
        if text.len() < 4 || !text.len().is_multiple_of(2) {
            return Err(format!(
                "length {} is not an even number >= 4 of characters",
                text.len()
            ));
        }
        let n = text.len();
        let mut tokens = Vec::with_capacity(n);
        let mut classes = vec![CLASS_NONE; n];
        let mut mask = vec![false; n];
        let mut memory: Option<u8> = None;
        for t in 0..n / 2 {
            let (instr, bit) = (text[2 * t], text[2 * t + 1]);
            if bit != b'0' && bit != b'1' {
                return Err(format!(
                    "position {}: expected a bit, found {:?}",
                    2 * t + 1,
                    bit as char
                ));
            }
            let bit_tok = if bit == b'1' { TOKEN_ONE } else { TOKEN_ZERO };
            match instr {
                b'w' => {
                    memory = Some(bit);
                    tokens.push(TOKEN_WRITE);
                    tokens.push(bit_tok);
                }
                b'i' => {
                    tokens.push(TOKEN_IGNORE);
                    tokens.push(bit_tok);
                }
                b'r' => {
                    match memory {
                        None => return Err(format!("position {}: read before any write", 2 * t)),
                        Some(m) if m != bit => {
                            return Err(format!(
                                "position {}: read answer {} but the last write was {}",
                                2 * t + 1,
                                bit as char,
                                m as char
                            ))
                        }
                        _ => {}
                    }
                    tokens.push(TOKEN_READ);
                    tokens.push(TOKEN_MASK);
                    classes[2 * t + 1] = bit_tok;
                    mask[2 * t + 1] = true;
                }
                c => {
                    return Err(format!(
                        "position {}: expected w, r or i, found {:?}",
                        2 * t,
                        c as char
                    ))
                }
            }
            if t == 0 && instr != b'w' {
                return Err("position 0: the first instruction must be w".into());
            }
            if t + 1 == n / 2 && instr != b'r' {
                return Err(format!(
                    "position {}: the last instruction must be r",
                    2 * t
                ));
            }
        }
        Ok(Example {
            tokens,
            target: Target::Masked { classes, mask },
        })
    }

    /// The raw text of an example (read answers restored from the target).
    pub fn text_of_example(example: &Example) -> Result<Vec<u8>, String> {
        let Target::Masked { classes, .. } = &example.target else {
            return Err("flip-flop examples have masked targets".into());
        };
        example
            .tokens
            .iter()
            .enumerate()
            .map(|(i, &t)| match t {
                TOKEN_ZERO => Ok(b'0'),
                TOKEN_ONE => Ok(b'1'),
                TOKEN_MASK => match classes.get(i) {
                    Some(&0) => Ok(b'0'),
                    Some(&1) => Ok(b'1'),
                    _ => Err(format!("position {i}: masked answer without a bit class")),
                },
                TOKEN_READ => Ok(b'r'),
                TOKEN_IGNORE => Ok(b'i'),
                TOKEN_WRITE => Ok(b'w'),
                other => Err(format!(
                    "position {i}: token id {other} outside the vocabulary"
                )),
            })
            .collect()
    }

    /// Generates the raw texts of a split (what the text file holds).
    pub fn split_texts(&self, split: &FlipFlopSplit, seed: u64) -> Vec<Vec<u8>> {
        let mut rng = seeded_rng(split_seed(seed, &split.name));
        let mut buf = Vec::with_capacity(2 * self.config.pairs);
        (0..split.size)
            .map(|_| {
                Self::sample_text(self.config.pairs, split.p_ignore, &mut rng, &mut buf);
                buf.clone()
            })
            .collect()
    }

    fn find_split(&self, name: &str) -> Result<&FlipFlopSplit, LangError> {
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
}

impl FlipFlop {
    /// Generates split `name` (with `size` sequences) straight into a text file, one
    /// sequence per line without a trailing newline, without holding the split in memory
    /// (the 1.6M-sequence train split is 820 MB of text). Same sequences as
    /// [`Task::generate_split`] with that size. `progress` gets the count written so far.
    pub fn write_text_split(
        &self,
        path: &Path,
        name: &str,
        size: usize,
        seed: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), LangError> {
        let split = self.find_split(name)?.clone();
        let mut rng = seeded_rng(split_seed(seed, &split.name));
        let mut buf = Vec::with_capacity(2 * self.config.pairs);
        write_atomic_with(path, |w| {
            for i in 0..size {
                Self::sample_text(self.config.pairs, split.p_ignore, &mut rng, &mut buf);
                if i > 0 {
                    w.write_all(b"\n")?;
                }
                w.write_all(&buf)?;
                if (i + 1) % 10_000 == 0 {
                    progress(10_000);
                }
            }
            progress((size % 10_000) as u64);
            Ok(())
        })
    }
}

/// Writes sequences in the text format: one `w0i1r0…` line each, no trailing newline.
pub fn write_text(path: &Path, examples: &[Example]) -> Result<(), LangError> {
    let lines = examples
        .iter()
        .enumerate()
        .map(|(i, e)| FlipFlop::text_of_example(e).map_err(|r| LangError::parse(path, i + 1, r)))
        .collect::<Result<Vec<_>, _>>()?;
    write_atomic(path, &join_lines(lines, false))
}

/// Reads and validates a text file of flip-flop sequences (every rule of FFL is checked:
/// alphabet, first `w`, last `r`, each read answer equals the latest write).
pub fn read_text(path: &Path) -> Result<Vec<Example>, LangError> {
    read_lines(path)?
        .iter()
        .enumerate()
        .map(|(i, l)| {
            FlipFlop::example_of_text(l.as_bytes()).map_err(|r| LangError::parse(path, i + 1, r))
        })
        .collect()
}

impl Task for FlipFlop {
    fn name(&self) -> &str {
        &self.name
    }
    fn published_layout(&self) -> Option<crate::PublishedLayout> {
        Some(crate::PublishedLayout::FlipFlop(self.config().clone()))
    }
    /// Instruction/bit pairs (the unit of the splits), two tokens each.
    fn input_len(&self, example: &Example) -> usize {
        example.tokens.len() / 2
    }
    fn description(&self) -> &str {
        &self.description
    }
    fn vocab(&self) -> Vec<String> {
        ["0", "1", "-", "r", "i", "w"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    fn classes(&self) -> Vec<String> {
        ["0", "1", "-"].iter().map(|s| s.to_string()).collect()
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Masked
    }
    /// Lengths in pairs: T ~ U{min_len..=max_len} (at least 2).
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        if max_len < 2 || min_len > max_len {
            return Err(LangError::InvalidConfig {
                task: self.name.clone(),
                field: "length window".into(),
                reason: format!("[{min_len},{max_len}] pairs: need 2 <= min <= max"),
            });
        }
        let pairs = crate::bhattamishra::sampling::uniform(rng, min_len.max(2), max_len);
        let mut buf = Vec::with_capacity(2 * pairs);
        Self::sample_text(pairs, self.config.p_ignore, rng, &mut buf);
        Ok(Self::example_of_text(&buf).expect("sampled text follows the rules"))
    }
    fn splits(&self) -> Vec<SplitSpec> {
        self.config
            .splits
            .iter()
            .map(|s| SplitSpec {
                name: s.name.clone(),
                min_len: self.config.pairs,
                max_len: self.config.pairs,
                size: s.size,
            })
            .collect()
    }
    /// Uses the split's own ignore probability (from the config) and its size.
    fn generate_split(&self, split: &SplitSpec, seed: u64) -> Result<Vec<Example>, LangError> {
        let s = self.find_split(&split.name)?;
        let s = FlipFlopSplit {
            size: split.size,
            ..s.clone()
        };
        Ok(self
            .split_texts(&s, seed)
            .iter()
            .map(|t| Self::example_of_text(t).expect("sampled text follows the rules"))
            .collect())
    }
    fn next_symbol_sets(&self, tokens: &[u32]) -> Option<Vec<Vec<bool>>> {
        // After an instruction any bit may follow, except after `r` (the answer, masked
        // as `-`); after a bit (or `-`) any instruction may follow (`w`/`i`/`r` once a
        // write has been seen, which the first position guarantees).
        Some(
            tokens
                .iter()
                .map(|&t| match t {
                    TOKEN_READ => vec![false, false, true, false, false, false],
                    TOKEN_WRITE | TOKEN_IGNORE => vec![true, true, false, false, false, false],
                    _ => vec![false, false, false, true, true, true],
                })
                .collect(),
        )
    }
    fn is_member(&self, tokens: &[u32]) -> Option<bool> {
        // Membership of the masked input form: instructions at even positions, w first,
        // r last, `-` exactly after each r.
        let n = tokens.len();
        if n < 4 || !n.is_multiple_of(2) {
            return Some(false);
        }
        let ok = tokens.chunks(2).enumerate().all(|(t, p)| {
            let (i, b) = (p[0], p[1]);
            let instr_ok = match t {
                0 => i == TOKEN_WRITE,
                _ if t + 1 == n / 2 => i == TOKEN_READ,
                _ => matches!(i, TOKEN_WRITE | TOKEN_READ | TOKEN_IGNORE),
            };
            let bit_ok = if i == TOKEN_READ {
                b == TOKEN_MASK
            } else {
                b == TOKEN_ZERO || b == TOKEN_ONE
            };
            instr_ok && bit_ok
        });
        Some(ok)
    }
    fn check_example(&self, example: &Example) -> Result<(), String> {
        check_example_shape(6, 3, TargetKind::Masked, example)?;
        let text = Self::text_of_example(example)?;
        let again = Self::example_of_text(&text)?;
        if &again != example {
            return Err("target or mask disagrees with the flip-flop rules".into());
        }
        Ok(())
    }
}

/// The registered flip-flop task (default config).
pub fn tasks() -> Vec<TaskInfo> {
    vec![TaskInfo {
        task: Box::new(FlipFlop::new(FlipFlopConfig::default()).expect("default config is valid")),
        aliases: vec!["flip-flop".into(), "ffl".into()],
    }]
}
