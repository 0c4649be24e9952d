//! PD-SSM's tasks (spec state-tracking-models.md §10.4, §10.5): the `(G, k)` group word
//! problems against explicit permutation composition, and the FSA tasks against a
//! transcription of PD-SSM's `data_dir/fl_tasks/*.py` label functions and length rules.

use std::collections::HashSet;

use kleene_langs::regular::{
    self, group_with_extra_letters, FinalLabelLanguage, NonSolvableGroup, PermutationGroup,
    RegularConfig,
};
use kleene_langs::{seeded_rng, task_by_name, LangError, Target};
use proptest::prelude::*;

/// All permutations of 0..5 in lexicographic order (recursive, as itertools does).
fn lex_permutations() -> Vec<Vec<u8>> {
    fn rec(prefix: &mut Vec<u8>, used: &mut [bool; 5], out: &mut Vec<Vec<u8>>) {
        if prefix.len() == 5 {
            out.push(prefix.clone());
            return;
        }
        for x in 0..5u8 {
            if !used[x as usize] {
                used[x as usize] = true;
                prefix.push(x);
                rec(prefix, used, out);
                prefix.pop();
                used[x as usize] = false;
            }
        }
    }
    let mut out = Vec::new();
    rec(&mut Vec::new(), &mut [false; 5], &mut out);
    out
}

fn is_even(p: &[u8]) -> bool {
    let mut inversions = 0;
    for i in 0..p.len() {
        for j in i + 1..p.len() {
            inversions += usize::from(p[i] > p[j]);
        }
    }
    inversions % 2 == 0
}

/// The group's elements in lexicographic order, from the definition of A5 / S5.
fn elements(group: NonSolvableGroup) -> Vec<Vec<u8>> {
    lex_permutations()
        .into_iter()
        .filter(|p| group == NonSolvableGroup::S5 || is_even(p))
        .collect()
}

/// `s' = s ∘ g` letter by letter, from the identity, on explicit permutations.
fn compose(letters: &[Vec<u8>], word: &[u32]) -> Vec<u8> {
    let mut s: Vec<u8> = (0..5).collect();
    for &a in word {
        let g = &letters[a as usize];
        s = (0..5).map(|m| s[g[m] as usize]).collect();
    }
    s
}

fn group_of(name: &str) -> NonSolvableGroup {
    if name.starts_with('a') {
        NonSolvableGroup::A5
    } else {
        NonSolvableGroup::S5
    }
}

const PUBLISHED: [(&str, usize); 7] = [
    ("a5", 2),
    ("a5", 6),
    ("a5", 8),
    ("a5", 12),
    ("s5", 4),
    ("s5", 8),
    ("s5", 32),
];

#[test]
fn letters_are_distinct_group_elements_and_start_with_the_generating_pair() {
    for (g, k) in PUBLISHED {
        let group = group_of(g);
        let lang = group_with_extra_letters(group, k).unwrap();
        let letters = lang.generators();
        assert_eq!(letters.len(), k, "{g}-k{k}");
        let distinct: HashSet<&Vec<u8>> = letters.iter().collect();
        assert_eq!(distinct.len(), k, "{g}-k{k}: a letter repeats");
        let all = elements(group);
        for l in letters {
            assert!(
                all.contains(l),
                "{g}-k{k}: letter {l:?} is not in the group"
            );
        }
        let pair: &[Vec<u8>] = match group {
            NonSolvableGroup::A5 => &[vec![1, 2, 3, 4, 0], vec![1, 0, 3, 2, 4]],
            NonSolvableGroup::S5 => &[vec![1, 2, 3, 4, 0], vec![1, 0, 2, 3, 4]],
        };
        assert_eq!(&letters[..2], pair, "{g}-k{k}");
    }
}

#[test]
fn letters_generate_the_whole_group() {
    for (g, k) in PUBLISHED {
        let group = group_of(g);
        let lang = group_with_extra_letters(group, k).unwrap();
        // Closure by explicit composition, independent of the crate's Cayley table.
        let mut reached: HashSet<Vec<u8>> = HashSet::from([(0..5).collect()]);
        let mut frontier: Vec<Vec<u8>> = reached.iter().cloned().collect();
        while let Some(s) = frontier.pop() {
            for g in lang.generators() {
                let t: Vec<u8> = (0..5).map(|m| s[g[m] as usize]).collect();
                if reached.insert(t.clone()) {
                    frontier.push(t);
                }
            }
        }
        let want = elements(group).len();
        assert_eq!(reached.len(), want, "{g}-k{k}");
        assert_eq!(lang.order(), want, "{g}-k{k}");
        assert_eq!(lang.classes().len(), want, "{g}-k{k}");
    }
}

#[test]
fn the_letters_are_fixed_and_nested() {
    for group in [NonSolvableGroup::A5, NonSolvableGroup::S5] {
        let big = group_with_extra_letters(group, 40).unwrap();
        let again = group_with_extra_letters(group, 40).unwrap();
        assert_eq!(big.generators(), again.generators());
        for k in [2, 3, 6, 12, 32] {
            let small = group_with_extra_letters(group, k).unwrap();
            assert_eq!(small.generators(), &big.generators()[..k], "k = {k}");
        }
    }
    // Built by name through the registry and directly: the same letters.
    let direct = group_with_extra_letters(NonSolvableGroup::S5, 8).unwrap();
    let task = regular::extra_transitions_task("s5-k8", RegularConfig::default())
        .unwrap()
        .unwrap();
    assert_eq!(task.language().num_symbols(), 8);
    let word: Vec<u32> = (0..50).map(|i| (i * 7 % 8) as u32).collect();
    assert_eq!(task.language().label(&word), direct.label(&word));
}

#[test]
fn k_out_of_range_is_an_error_naming_k() {
    for (name, needle) in [
        ("a5-k61", "k = 61 exceeds the order 60 of A5"),
        ("s5-k121", "k = 121 exceeds the order 120 of S5"),
        ("a5-k1", "k = 1"),
        ("s5-k0", "k = 0"),
    ] {
        let err = match task_by_name(name) {
            Err(e) => e,
            Ok(_) => panic!("{name} was accepted"),
        };
        let LangError::InvalidConfig { field, reason, .. } = &err else {
            panic!("{name}: {err}")
        };
        assert_eq!(field, "k");
        assert!(reason.contains(needle), "{name}: {reason}");
        assert!(regular::task_from_name(name, RegularConfig::default()).is_none());
    }
    // The whole group as letters is allowed.
    assert_eq!(task_by_name("a5-k60").unwrap().vocab().len(), 60);
    assert!(task_by_name("a5-kx").is_err());
}

#[test]
fn published_pairs_are_registered_without_a_query_token() {
    for (g, k) in PUBLISHED {
        let name = format!("{g}-k{k}");
        let task = task_by_name(&name).unwrap();
        assert_eq!(task.name(), name);
        assert_eq!(task.vocab().len(), k, "{name}: no query token");
    }
}

#[test]
fn a5_k2_is_the_sd_ssm_a5_task() {
    let a5 = PermutationGroup::a5();
    let k2 = group_with_extra_letters(NonSolvableGroup::A5, 2).unwrap();
    let mut rng = seeded_rng(11);
    for len in 1..80 {
        let task = task_by_name("a5-k2").unwrap();
        let ex = task.sample(len, len, &mut rng).unwrap();
        assert_eq!(
            FinalLabelLanguage::label(&a5, &ex.tokens),
            k2.label(&ex.tokens)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn labels_match_explicit_composition(seed in any::<u64>(), which in 0usize..7, len in 1usize..120) {
        let (g, k) = PUBLISHED[which];
        let group = group_of(g);
        let task = task_by_name(&format!("{g}-k{k}")).unwrap();
        let lang = group_with_extra_letters(group, k).unwrap();
        let mut rng = seeded_rng(seed);
        let ex = task.sample(len, len, &mut rng).unwrap();
        prop_assert_eq!(ex.tokens.len(), len);
        let state = compose(lang.generators(), &ex.tokens);
        let want = elements(group).iter().position(|p| *p == state).unwrap() as u32;
        prop_assert!(task.check_example(&ex).is_ok());
        prop_assert_eq!(ex.target, Target::Final(want));
    }
}

// --- PD-SSM's FSA tasks (`data_dir/fl_tasks/*.py`), token ids mapped to kleene's ---------

/// PD-SSM `mod_arith_no_brack.generate_sample`'s label from its token ids (digits 5..9,
/// `+` 1, `-` 2, `*` 3, `=` 4 last): its two passes transcribed.
fn pdssm_mod_arith_label(res: &[i64]) -> i64 {
    let length = res.len();
    let mut values = vec![res[0] - 5];
    let mut operators = Vec::new();
    let mut i = 1;
    while i < length - 2 {
        let (op, num) = (res[i], res[i + 1] - 5);
        if op == 3 {
            *values.last_mut().unwrap() *= num;
        } else {
            values.push(num);
            operators.push(op);
        }
        i += 2;
    }
    let mut total = values[0];
    for (j, &op) in operators.iter().enumerate() {
        if op == 1 {
            total += values[j + 1];
        } else if op == 2 {
            total -= values[j + 1];
        }
    }
    total.rem_euclid(5) + 5 // Python's `%`
}

#[test]
fn pdssm_fsa_tasks_are_the_registered_languages_without_a_query_token() {
    for name in ["pdssm-parity", "pdssm-even-pairs", "pdssm-cycle-navigation"] {
        let task = task_by_name(name).unwrap();
        assert_eq!(task.name(), name);
        let mut rng = seeded_rng(5);
        for len in [3usize, 17, 40, 256] {
            let ex = task.sample(len, len, &mut rng).unwrap();
            // PD-SSM: `length` tokens, the label at the last of them.
            assert_eq!(ex.tokens.len(), len, "{name}");
            assert_eq!(task.input_len(&ex), len, "{name}");
        }
    }
    let arith = task_by_name("pdssm-modular-arithmetic").unwrap();
    assert_eq!(arith.name(), "modular-arithmetic");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn pdssm_fsa_labels_match_the_transcribed_generators(seed in any::<u64>(), len in 3usize..257) {
        let mut rng = seeded_rng(seed);
        // parity.py: a→1 (kleene 0), b→2 (kleene 1); target 1 ('a') iff #b even.
        let ex = task_by_name("pdssm-parity").unwrap().sample(len, len, &mut rng).unwrap();
        let num_b = ex.tokens.iter().filter(|&&t| t == 1).count();
        let target = if num_b % 2 == 0 { 1 } else { 2 };
        prop_assert_eq!(ex.target, Target::Final(target - 1));
        // even_pairs.py: target 1 iff first == last.
        let ex = task_by_name("pdssm-even-pairs").unwrap().sample(len, len, &mut rng).unwrap();
        let target = if ex.tokens[0] == ex.tokens[len - 1] { 1 } else { 2 };
        prop_assert_eq!(ex.target, Target::Final(target - 1));
        // cycle_nav.py: STAY/+1/-1 (kleene: 1 stay, 2 right, 0 left); 4 + (#(+1) − #(−1)) mod 5.
        let ex = task_by_name("pdssm-cycle-navigation").unwrap().sample(len, len, &mut rng).unwrap();
        let plus = ex.tokens.iter().filter(|&&t| t == 2).count() as i64;
        let minus = ex.tokens.iter().filter(|&&t| t == 0).count() as i64;
        let target = 4 + (plus - minus).rem_euclid(5);
        prop_assert_eq!(ex.target, Target::Final((target - 4) as u32));
        // mod_arith_no_brack.py: a drawn length `len` gives `len` tokens, odd `len` bumped to
        // `len + 1`, '=' last; kleene's symbols plus its query token are those tokens.
        let task = task_by_name("pdssm-modular-arithmetic").unwrap();
        let ex = task.sample(len, len, &mut rng).unwrap();
        let pdssm_len = if len % 2 == 1 { len + 1 } else { len };
        prop_assert_eq!(ex.tokens.len(), pdssm_len);
        let res: Vec<i64> = ex.tokens.iter().enumerate().map(|(i, &t)| match t {
            0..=4 => t as i64 + 5,
            5 => 1,
            6 => 2,
            7 => 3,
            9 if i == pdssm_len - 1 => 4,
            other => panic!("token {other} at {i}"),
        }).collect();
        let Target::Final(label) = ex.target else { panic!("final label") };
        prop_assert_eq!(pdssm_mod_arith_label(&res), label as i64 + 5);
    }
}
