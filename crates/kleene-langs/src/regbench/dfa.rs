//! Partial DFAs over the 18 REGBENCH symbols with all states accepting, their
//! minimisation (pythomata `minimize().trim()` semantics) and a canonical form.

use std::collections::HashMap;

/// Number of REGBENCH symbols (`a`..`r`).
pub const NUM_SYMBOLS: usize = 18;
/// Marker of a missing transition in the table.
pub const NO_EDGE: u8 = u8::MAX;
/// Largest number of states a [`Dfa`] can hold (ids are `u8`, `NO_EDGE` is reserved).
pub const MAX_STATES: usize = 254;

/// A partial DFA over symbols `0..18` (`a`..`r`) in which **every state is accepting**:
/// a string is in the language iff every step has a defined transition, so the language
/// is prefix-closed. This is the REGBENCH automaton class.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dfa {
    num_states: usize,
    start: u8,
    /// `delta[state * NUM_SYMBOLS + symbol]`, [`NO_EDGE`] when undefined.
    delta: Vec<u8>,
}

impl Dfa {
    /// A DFA from its transition table. Returns `None` if a size or target is invalid.
    pub fn from_table(num_states: usize, start: u8, delta: Vec<u8>) -> Option<Self> {
        if num_states == 0
            || num_states > MAX_STATES
            || start as usize >= num_states
            || delta.len() != num_states * NUM_SYMBOLS
            || delta
                .iter()
                .any(|&t| t != NO_EDGE && t as usize >= num_states)
        {
            return None;
        }
        Some(Dfa {
            num_states,
            start,
            delta,
        })
    }

    /// A DFA from `(from, symbol, to)` edges; later edges overwrite earlier ones.
    pub fn from_edges(num_states: usize, start: u8, edges: &[(u8, u8, u8)]) -> Option<Self> {
        let mut delta = vec![NO_EDGE; num_states * NUM_SYMBOLS];
        for &(from, sym, to) in edges {
            if from as usize >= num_states || sym as usize >= NUM_SYMBOLS {
                return None;
            }
            delta[from as usize * NUM_SYMBOLS + sym as usize] = to;
        }
        Self::from_table(num_states, start, delta)
    }

    pub fn num_states(&self) -> usize {
        self.num_states
    }

    pub fn start(&self) -> u8 {
        self.start
    }

    /// The transition table, `NUM_SYMBOLS` entries per state.
    pub fn table(&self) -> &[u8] {
        &self.delta
    }

    /// Successor of `state` on `symbol`, if defined.
    #[inline]
    pub fn next(&self, state: u8, symbol: u8) -> Option<u8> {
        let t = self.delta[state as usize * NUM_SYMBOLS + symbol as usize];
        (t != NO_EDGE).then_some(t)
    }

    /// Bit `s` is set iff `state` has a transition on symbol `s`.
    #[inline]
    pub fn allowed_mask(&self, state: u8) -> u32 {
        let row = &self.delta[state as usize * NUM_SYMBOLS..(state as usize + 1) * NUM_SYMBOLS];
        row.iter()
            .enumerate()
            .fold(0, |m, (s, &t)| if t != NO_EDGE { m | 1 << s } else { m })
    }

    /// State reached after reading `word` from the start, `None` once a step is undefined.
    pub fn run(&self, word: &[u8]) -> Option<u8> {
        word.iter()
            .try_fold(self.start, |state, &sym| self.next(state, sym))
    }

    /// Membership: every step defined (all states accept).
    pub fn accepts(&self, word: &[u8]) -> bool {
        word.iter().all(|&s| (s as usize) < NUM_SYMBOLS) && self.run(word).is_some()
    }

    /// Number of transitions.
    pub fn num_edges(&self) -> usize {
        self.delta.iter().filter(|&&t| t != NO_EDGE).count()
    }

    /// The minimal trimmed DFA of the same language, states numbered canonically
    /// (see [`Dfa::canonical`]). Equivalent to pythomata's `minimize()` then `trim()`:
    /// with every real state accepting and the implicit sink the only rejecting state,
    /// two states are equivalent iff they have the same defined symbols and equivalent
    /// successors, so Moore refinement starts from the partition by defined-symbol set.
    pub fn minimize(&self) -> Dfa {
        let reachable = self.canonical();
        let n = reachable.num_states;
        // Initial partition: by set of defined symbols.
        let mut class: Vec<u32> = {
            let mut ids: HashMap<u32, u32> = HashMap::new();
            (0..n)
                .map(|s| {
                    let mask = reachable.allowed_mask(s as u8);
                    let next_id = ids.len() as u32;
                    *ids.entry(mask).or_insert(next_id)
                })
                .collect()
        };
        let mut num_classes = class.iter().copied().max().map_or(0, |m| m + 1);
        loop {
            let mut ids: HashMap<[u32; NUM_SYMBOLS + 1], u32> = HashMap::new();
            let refined: Vec<u32> = (0..n)
                .map(|s| {
                    let mut sig = [u32::MAX; NUM_SYMBOLS + 1];
                    sig[0] = class[s];
                    for a in 0..NUM_SYMBOLS {
                        if let Some(t) = reachable.next(s as u8, a as u8) {
                            sig[a + 1] = class[t as usize];
                        }
                    }
                    let next_id = ids.len() as u32;
                    *ids.entry(sig).or_insert(next_id)
                })
                .collect();
            let refined_count = ids.len() as u32;
            class = refined;
            if refined_count == num_classes {
                break;
            }
            num_classes = refined_count;
        }
        let k = num_classes as usize;
        let mut delta = vec![NO_EDGE; k * NUM_SYMBOLS];
        for s in 0..n {
            let c = class[s] as usize;
            for a in 0..NUM_SYMBOLS {
                if let Some(t) = reachable.next(s as u8, a as u8) {
                    delta[c * NUM_SYMBOLS + a] = class[t as usize] as u8;
                }
            }
        }
        let quotient = Dfa {
            num_states: k,
            start: class[reachable.start as usize] as u8,
            delta,
        };
        quotient.canonical()
    }

    /// The part reachable from the start, renumbered in breadth-first order from the
    /// start (state 0), exploring symbols in increasing order. Two DFAs are isomorphic
    /// iff their canonical forms are equal; for minimal DFAs, iff they accept the
    /// same language.
    pub fn canonical(&self) -> Dfa {
        let mut new_id = vec![NO_EDGE; self.num_states];
        let mut order = Vec::with_capacity(self.num_states);
        new_id[self.start as usize] = 0;
        order.push(self.start);
        let mut head = 0;
        while head < order.len() {
            let s = order[head];
            head += 1;
            for a in 0..NUM_SYMBOLS as u8 {
                if let Some(t) = self.next(s, a) {
                    if new_id[t as usize] == NO_EDGE {
                        new_id[t as usize] = order.len() as u8;
                        order.push(t);
                    }
                }
            }
        }
        let mut delta = vec![NO_EDGE; order.len() * NUM_SYMBOLS];
        for (i, &s) in order.iter().enumerate() {
            for a in 0..NUM_SYMBOLS {
                if let Some(t) = self.next(s, a as u8) {
                    delta[i * NUM_SYMBOLS + a] = new_id[t as usize];
                }
            }
        }
        Dfa {
            num_states: order.len(),
            start: 0,
            delta,
        }
    }

    /// A key that is equal for two DFAs iff they accept the same language: the
    /// canonical minimal DFA's size followed by its table.
    pub fn language_key(&self) -> Vec<u8> {
        self.minimize().table_key()
    }

    /// Size followed by the table: a language key when `self` is already a canonical
    /// minimal DFA (the output of [`Dfa::minimize`]), without minimising again.
    pub fn table_key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(1 + self.delta.len());
        key.push(self.num_states as u8);
        key.extend_from_slice(&self.delta);
        key
    }

    /// Bit `s` set iff symbol `s` labels some transition.
    pub fn used_symbols(&self) -> u32 {
        (0..self.num_states as u8).fold(0, |m, s| m | self.allowed_mask(s))
    }
}
