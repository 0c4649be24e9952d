//! DFA minimisation and canonical keys against brute-force string enumeration.

use kleene_langs::regbench::dfa::{Dfa, NO_EDGE, NUM_SYMBOLS};
use kleene_langs::regbench::sampler::{sample_dfa, sample_raw_dfa, RegbenchConfig};
use kleene_langs::seeded_rng;
use proptest::prelude::*;

/// Calls `f` on every string over `alphabet` of length `0..=max_len`.
fn for_all_strings(alphabet: &[u8], max_len: usize, f: &mut dyn FnMut(&[u8])) {
    fn rec(alphabet: &[u8], max_len: usize, word: &mut Vec<u8>, f: &mut dyn FnMut(&[u8])) {
        f(word);
        if word.len() == max_len {
            return;
        }
        for &a in alphabet {
            word.push(a);
            rec(alphabet, max_len, word, f);
            word.pop();
        }
    }
    rec(alphabet, max_len, &mut Vec::new(), f);
}

/// Acceptance from an arbitrary state, by plain table look-ups.
fn accepts_from(d: &Dfa, state: u8, word: &[u8]) -> bool {
    let mut s = state;
    for &a in word {
        let t = d.table()[s as usize * NUM_SYMBOLS + a as usize];
        if t == NO_EDGE {
            return false;
        }
        s = t;
    }
    true
}

fn same_language_up_to(a: &Dfa, b: &Dfa, alphabet: &[u8], max_len: usize) -> bool {
    let mut same = true;
    for_all_strings(alphabet, max_len, &mut |w| {
        same &= accepts_from(a, a.start(), w) == accepts_from(b, b.start(), w);
    });
    same
}

fn symbols_of(mask: u32) -> Vec<u8> {
    (0..NUM_SYMBOLS as u8)
        .filter(|&s| mask >> s & 1 == 1)
        .collect()
}

/// Brute-force minimality: every two states are distinguished by some string of
/// length < n (n states suffice for distinguishable states).
fn pairwise_distinguishable(d: &Dfa, alphabet: &[u8]) -> bool {
    let n = d.num_states();
    for p in 0..n as u8 {
        for q in p + 1..n as u8 {
            let mut differ = false;
            for_all_strings(alphabet, n, &mut |w| {
                differ |= accepts_from(d, p, w) != accepts_from(d, q, w);
            });
            if !differ {
                return false;
            }
        }
    }
    true
}

/// A random partial DFA over a 3-letter alphabet with 1..=4 states.
fn small_dfa() -> impl Strategy<Value = Dfa> {
    (1usize..=4).prop_flat_map(|n| {
        prop::collection::vec(prop::option::weighted(0.7, 0u8..n as u8), n * 3).prop_map(
            move |cells| {
                let mut delta = vec![NO_EDGE; n * NUM_SYMBOLS];
                for s in 0..n {
                    for a in 0..3 {
                        if let Some(t) = cells[s * 3 + a] {
                            delta[s * NUM_SYMBOLS + a] = t;
                        }
                    }
                }
                Dfa::from_table(n, 0, delta).unwrap()
            },
        )
    })
}

/// The same language with an extra copy of state `dup` (edges into `dup` from state 0
/// redirected to the copy) plus an unreachable junk state, states then permuted.
fn inflate(d: &Dfa, dup: u8, perm_seed: u64) -> Dfa {
    let n = d.num_states();
    let copy = n as u8;
    let junk = n as u8 + 1;
    let m = n + 2;
    let mut delta = vec![NO_EDGE; m * NUM_SYMBOLS];
    delta[..n * NUM_SYMBOLS].copy_from_slice(d.table());
    delta[copy as usize * NUM_SYMBOLS..(copy as usize + 1) * NUM_SYMBOLS]
        .copy_from_slice(&d.table()[dup as usize * NUM_SYMBOLS..(dup as usize + 1) * NUM_SYMBOLS]);
    for a in 0..NUM_SYMBOLS {
        if delta[a] == dup {
            delta[a] = copy;
        }
        delta[junk as usize * NUM_SYMBOLS + a] = if a % 2 == 0 { junk } else { 0 };
    }
    // Permute state ids.
    let mut order: Vec<u8> = (0..m as u8).collect();
    let mut x = perm_seed | 1;
    for i in (1..m).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let mut permuted = vec![NO_EDGE; m * NUM_SYMBOLS];
    for s in 0..m {
        for a in 0..NUM_SYMBOLS {
            let t = delta[s * NUM_SYMBOLS + a];
            permuted[order[s] as usize * NUM_SYMBOLS + a] = if t == NO_EDGE {
                NO_EDGE
            } else {
                order[t as usize]
            };
        }
    }
    Dfa::from_table(m, order[d.start() as usize], permuted).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn minimize_preserves_language_and_is_minimal(d in small_dfa()) {
        let m = d.minimize();
        let alphabet = [0u8, 1, 2];
        prop_assert!(same_language_up_to(&d, &m, &alphabet, d.num_states() + m.num_states()));
        prop_assert!(m.num_states() <= d.num_states());
        prop_assert!(pairwise_distinguishable(&m, &alphabet));
        prop_assert_eq!(m.minimize(), m.clone(), "idempotent");
    }

    #[test]
    fn language_key_equal_iff_same_language(a in small_dfa(), b in small_dfa(), dup in 0u8..4, seed in any::<u64>()) {
        let alphabet = [0u8, 1, 2];
        // Two DFAs with n1 and n2 states agree on all strings iff on those shorter than n1 + n2.
        let bound = a.num_states() + b.num_states();
        let brute = same_language_up_to(&a, &b, &alphabet, bound);
        prop_assert_eq!(a.language_key() == b.language_key(), brute);
        // An inflated, relabelled copy has the same key.
        let dup = dup % a.num_states() as u8;
        let big = inflate(&a, dup, seed);
        prop_assert!(same_language_up_to(&a, &big, &alphabet, bound + 2));
        prop_assert_eq!(a.language_key(), big.language_key());
    }
}

#[test]
fn sampled_dfas_are_minimal_trimmed_and_equivalent_to_the_raw_sample() {
    let config = RegbenchConfig::default();
    let mut rng = seeded_rng(42);
    for i in 0..60 {
        let mut twin = rng.clone();
        let s = sample_dfa(&config, &mut rng);
        let (raw, seed) = sample_raw_dfa(&config, &mut twin);
        assert_eq!(seed, s.walk_seed);
        let d = &s.dfa;
        // Raw sample: no self-loops, out-degree 1..=3, distinct targets.
        for q in 0..raw.num_states() as u8 {
            let targets: Vec<u8> = (0..NUM_SYMBOLS as u8)
                .filter_map(|a| raw.next(q, a))
                .collect();
            assert!((1..=3).contains(&targets.len()));
            assert!(!targets.contains(&q));
            let mut uniq = targets.clone();
            uniq.sort();
            uniq.dedup();
            assert_eq!(uniq.len(), targets.len(), "distinct targets");
        }
        // Same language as the raw sample, on all strings up to length 6 over the used
        // symbols (or 4 when the alphabet is large).
        let used = symbols_of(raw.used_symbols());
        let k = if used.len() <= 6 { 6 } else { 4 };
        if i < 20 {
            assert!(same_language_up_to(&raw, d, &used, k));
        }
        assert!(d.num_states() <= s.sampled_states);
        // Every state has at least one edge (walks never get stuck) and is reachable.
        for q in 0..d.num_states() as u8 {
            assert!(d.allowed_mask(q) != 0, "state {q} has no edge");
        }
        assert_eq!(d.canonical().num_states(), d.num_states());
        let alphabet = symbols_of(d.used_symbols());
        if alphabet.len() <= 8 && d.num_states() <= 6 {
            assert!(pairwise_distinguishable(d, &alphabet));
        }
    }
}

#[test]
fn self_loops_can_appear_after_merging() {
    // 0 -a-> 1, 1 -a-> 0: both states equivalent, the minimal DFA is one state with a loop.
    let d = Dfa::from_edges(2, 0, &[(0, 0, 1), (1, 0, 0)]).unwrap();
    let m = d.minimize();
    assert_eq!(m.num_states(), 1);
    assert_eq!(m.next(0, 0), Some(0));
    assert!(m.accepts(&[0, 0, 0, 0, 0]));
    assert!(!m.accepts(&[1]));
}
