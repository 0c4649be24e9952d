//! Random DFA sampling, random-walk strings (the PFA) and problem sequences of
//! REGBENCH (Akyürek et al. 2024, `src/dataloaders/dfa.py`).

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::dfa::{Dfa, NUM_SYMBOLS};
use super::{SEPARATOR, VOCAB_SIZE};
use crate::task::seeded_rng;

/// How duplicate languages among the sampled DFAs are handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LanguageDedup {
    /// Every problem of every split has a distinct language (compared by canonical
    /// minimal DFA), so train, test and val languages are disjoint. Default; this is
    /// what the published code intended (a `set` of DFAs) but never did.
    Unique,
    /// Keep duplicates, as the published code effectively does (its DFA wrapper has
    /// `__hash__` but no `__eq__`): train and test may share a language.
    None,
}

/// REGBENCH dataset configuration (`configs/dataset/icl_dfa.yaml`; defaults as the
/// final sweeps: 1000 test examples, i.e. 500 test + 500 val problems).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegbenchConfig {
    /// Training problems (one DFA and one sequence each). Default 5000; the paper sweeps
    /// 1000, 2500, 5000, 10000, 20000, 40000.
    pub num_examples: usize,
    /// Test + val problems, split in half (first half test). Default 1000.
    pub num_test_examples: usize,
    /// Largest number of sampled states (inclusive). Default 12.
    pub max_num_nodes: usize,
    /// Exclusive bound on out-degree (each state gets 1..max-1 edges); also the least
    /// number of states and of alphabet symbols. Default 4.
    pub max_outgoing_edges: usize,
    /// Strings per problem: `min..max` (max exclusive). Default 10..20.
    pub min_num_in_context_examples: usize,
    pub max_num_in_context_examples: usize,
    /// String lengths `1..max_len_per_example` (exclusive). Default 50.
    pub max_len_per_example: usize,
    /// Duplicate-language handling. Default [`LanguageDedup::Unique`].
    pub dedup: LanguageDedup,
}

impl Default for RegbenchConfig {
    fn default() -> Self {
        RegbenchConfig {
            num_examples: 5000,
            num_test_examples: 1000,
            max_num_nodes: 12,
            max_outgoing_edges: 4,
            min_num_in_context_examples: 10,
            max_num_in_context_examples: 20,
            max_len_per_example: 50,
            dedup: LanguageDedup::Unique,
        }
    }
}

impl RegbenchConfig {
    /// Checks the ranges; the error names the offending field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let err = |f: &str, r: String| Err((f.to_string(), r));
        if self.max_outgoing_edges < 2 || self.max_outgoing_edges > NUM_SYMBOLS {
            return err(
                "max_outgoing_edges",
                format!(
                    "must be in 2..={NUM_SYMBOLS}, got {}",
                    self.max_outgoing_edges
                ),
            );
        }
        if self.max_num_nodes < self.max_outgoing_edges || self.max_num_nodes > 200 {
            return err(
                "max_num_nodes",
                format!(
                    "must be in max_outgoing_edges..=200, got {}",
                    self.max_num_nodes
                ),
            );
        }
        if self.min_num_in_context_examples == 0
            || self.max_num_in_context_examples <= self.min_num_in_context_examples
        {
            return err(
                "max_num_in_context_examples",
                "need 1 <= min_num_in_context_examples < max_num_in_context_examples".into(),
            );
        }
        if self.max_len_per_example < 2 {
            return err("max_len_per_example", "must be at least 2".into());
        }
        Ok(())
    }
}

/// A sampled, minimised DFA together with the seed of its own string RNG
/// (the per-DFA RNG role of the published code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampledDfa {
    /// Canonical minimal trimmed DFA.
    pub dfa: Dfa,
    /// Seed of the RNG that drives this DFA's random walks.
    pub walk_seed: u64,
    /// Number of states before minimisation.
    pub sampled_states: usize,
}

/// Samples one random DFA (§1.3 of the spec): `n_states ~ U[e, max_num_nodes]`,
/// alphabet of `U[e, 18]` distinct symbols, per state `m ~ U[1, e-1]` distinct symbols
/// to `m` distinct other states (no self-loops), start 0, all states accepting; then
/// minimised and trimmed. `e` = `max_outgoing_edges`. The edge choices come from a
/// sampler RNG seeded from `rng`, whose next output seeds the DFA's walk RNG.
pub fn sample_dfa(config: &RegbenchConfig, rng: &mut ChaCha8Rng) -> SampledDfa {
    let (raw, walk_seed) = sample_raw_dfa(config, rng);
    SampledDfa {
        dfa: raw.minimize(),
        walk_seed,
        sampled_states: raw.num_states(),
    }
}

/// The DFA exactly as drawn (before minimisation) and the seed of its walk RNG; consumes
/// `rng` exactly as [`sample_dfa`] does.
pub fn sample_raw_dfa(config: &RegbenchConfig, rng: &mut ChaCha8Rng) -> (Dfa, u64) {
    let e = config.max_outgoing_edges as u32;
    let n_states = rng.random_range(e..=config.max_num_nodes as u32) as usize;
    let n_alpha = rng.random_range(e..=NUM_SYMBOLS as u32) as usize;
    let mut symbols: [u8; NUM_SYMBOLS] = std::array::from_fn(|i| i as u8);
    choose_prefix(&mut symbols, n_alpha, rng);
    let alphabet = &symbols[..n_alpha];

    let mut sampler = seeded_rng(u64::from(rng.next_u32()));
    let mut delta = vec![super::dfa::NO_EDGE; n_states * NUM_SYMBOLS];
    let mut sym_pool = [0u8; NUM_SYMBOLS];
    let mut targets: Vec<u8> = Vec::with_capacity(n_states);
    for s in 0..n_states {
        let m = sampler.random_range(1..e) as usize;
        sym_pool[..n_alpha].copy_from_slice(alphabet);
        choose_prefix(&mut sym_pool[..n_alpha], m, &mut sampler);
        targets.clear();
        targets.extend((0..n_states as u8).filter(|&t| t as usize != s));
        choose_prefix(&mut targets, m, &mut sampler);
        for i in 0..m {
            delta[s * NUM_SYMBOLS + sym_pool[i] as usize] = targets[i];
        }
    }
    let walk_seed = u64::from(sampler.next_u32());
    let dfa = Dfa::from_table(n_states, 0, delta).expect("sampled table is valid");
    (dfa, walk_seed)
}

/// Moves a uniformly random `m`-subset of `items`, in random order, to the front
/// (the first `m` steps of Fisher-Yates). Index draws are `u32` ranges, so the result
/// is the same on every platform.
pub fn choose_prefix<T>(items: &mut [T], m: usize, rng: &mut ChaCha8Rng) {
    let len = items.len() as u32;
    for i in 0..m.min(items.len()) {
        let j = rng.random_range(i as u32..len) as usize;
        items.swap(i, j);
    }
}

/// Per-state lists of defined symbols and successors, for fast uniform walks.
#[derive(Clone, Debug)]
pub struct WalkTable {
    symbols: Vec<[u8; NUM_SYMBOLS]>,
    targets: Vec<[u8; NUM_SYMBOLS]>,
    counts: Vec<u8>,
    start: u8,
}

impl WalkTable {
    pub fn new(dfa: &Dfa) -> Self {
        let n = dfa.num_states();
        let mut symbols = vec![[0u8; NUM_SYMBOLS]; n];
        let mut targets = vec![[0u8; NUM_SYMBOLS]; n];
        let mut counts = vec![0u8; n];
        for s in 0..n {
            for a in 0..NUM_SYMBOLS as u8 {
                if let Some(t) = dfa.next(s as u8, a) {
                    let c = counts[s] as usize;
                    symbols[s][c] = a;
                    targets[s][c] = t;
                    counts[s] += 1;
                }
            }
        }
        WalkTable {
            symbols,
            targets,
            counts,
            start: dfa.start(),
        }
    }

    /// Appends a random walk of `len` steps from the start as token ids (symbol + 1):
    /// each step picks one of the state's defined symbols uniformly (the PFA).
    /// Every state of a trimmed REGBENCH DFA has an edge, so walks never get stuck; a
    /// state without one (possible only for hand-made DFAs) ends the walk early.
    pub fn walk(&self, len: usize, rng: &mut ChaCha8Rng, out: &mut Vec<u32>) {
        let mut state = self.start as usize;
        for _ in 0..len {
            let c = self.counts[state] as u32;
            if c == 0 {
                return;
            }
            let i = if c == 1 {
                0
            } else {
                rng.random_range(0..c) as usize
            };
            out.push(u32::from(self.symbols[state][i]) + 1);
            state = self.targets[state][i] as usize;
        }
    }
}

/// Builds one problem sequence (§1.6): `k ~ U[min, max]` strings (inclusive window),
/// each of length `U[1, max_len_per_example - 1]` drawn from `rng`, walked with the
/// DFA's own RNG, joined by the separator without leading/trailing separator.
pub fn problem_sequence(
    dfa: &SampledDfa,
    config: &RegbenchConfig,
    min_strings: usize,
    max_strings: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<u32> {
    let table = WalkTable::new(&dfa.dfa);
    let mut walk_rng = seeded_rng(dfa.walk_seed);
    let k = rng.random_range(min_strings.max(1) as u32..=max_strings.max(1) as u32) as usize;
    let max_len = config.max_len_per_example as u32;
    let mut seq = Vec::with_capacity(k * (config.max_len_per_example / 2 + 1));
    for i in 0..k {
        if i > 0 {
            seq.push(SEPARATOR);
        }
        let len = rng.random_range(1..max_len) as usize;
        table.walk(len, &mut walk_rng, &mut seq);
    }
    debug_assert!(seq.iter().all(|&t| (t as usize) < VOCAB_SIZE));
    seq
}
