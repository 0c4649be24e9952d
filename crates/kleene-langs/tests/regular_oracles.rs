//! Brute-force oracles for the SD-SSM tasks agree with the crate on random strings.

use kleene_langs::regular::{self, PermutationGroup, RegularConfig, RegularTask};
use kleene_langs::{seeded_rng, task_by_name, SplitSpec, Target};
use proptest::prelude::*;

fn plain(name: &str) -> RegularTask {
    let config = RegularConfig {
        query_token: false,
        ..RegularConfig::default()
    };
    regular::task_from_name(name, config.clone()).unwrap_or_else(|| match name {
        "parity" => RegularTask::new(regular::ParityCheck, config),
        "even-pairs" => RegularTask::new(regular::EvenPairs, config),
        "cycle" => RegularTask::new(regular::CycleNavigation::new(5), config),
        "arith" => RegularTask::new(regular::ModularArithmetic::new(5), config),
        _ => panic!("{name}"),
    })
}

/// All permutations of 0..n in lexicographic order (recursive, as itertools does).
fn lex_permutations(n: usize) -> Vec<Vec<usize>> {
    fn rec(prefix: &mut Vec<usize>, used: &mut Vec<bool>, out: &mut Vec<Vec<usize>>) {
        if prefix.len() == used.len() {
            out.push(prefix.clone());
            return;
        }
        for x in 0..used.len() {
            if !used[x] {
                used[x] = true;
                prefix.push(x);
                rec(prefix, used, out);
                prefix.pop();
                used[x] = false;
            }
        }
    }
    let mut out = Vec::new();
    rec(&mut Vec::new(), &mut vec![false; n], &mut out);
    out
}

fn is_even(p: &[usize]) -> bool {
    let mut inv = 0;
    for i in 0..p.len() {
        for j in i + 1..p.len() {
            inv += usize::from(p[i] > p[j]);
        }
    }
    inv % 2 == 0
}

/// Explicit composition of the state vector: s'[m] = s[g[m]].
fn apply_all(n: usize, gens: &[Vec<usize>], word: &[u32]) -> Vec<usize> {
    let mut s: Vec<usize> = (0..n).collect();
    for &a in word {
        let g = &gens[a as usize];
        s = (0..n).map(|m| s[g[m]]).collect();
    }
    s
}

fn rank_among(p: &[usize], n: usize, even_only: bool) -> u32 {
    lex_permutations(n)
        .into_iter()
        .filter(|q| !even_only || is_even(q))
        .position(|q| q == p)
        .expect("state is in the group") as u32
}

/// Exact integer evaluation by recursive descent (expr = term (+|- term)*,
/// term = digit (* digit)*), reduced mod 5 only at the end.
fn eval_expression(tokens: &[u32]) -> u32 {
    struct Parser<'a> {
        t: &'a [u32],
        i: usize,
    }
    impl Parser<'_> {
        fn digit(&mut self) -> i128 {
            let d = self.t[self.i];
            assert!(d < 5);
            self.i += 1;
            d as i128
        }
        fn term(&mut self) -> i128 {
            let mut v = self.digit();
            while self.i < self.t.len() && self.t[self.i] == 7 {
                self.i += 1;
                v *= self.digit();
            }
            v
        }
        fn expr(&mut self) -> i128 {
            let mut v = self.term();
            while self.i < self.t.len() {
                let op = self.t[self.i];
                self.i += 1;
                match op {
                    5 => v += self.term(),
                    6 => v -= self.term(),
                    _ => panic!("unexpected operator {op}"),
                }
            }
            v
        }
    }
    let v = Parser { t: tokens, i: 0 }.expr();
    v.rem_euclid(5) as u32
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a5_matches_permutation_composition(word in prop::collection::vec(0u32..2, 0..60)) {
        let gens = vec![vec![1, 2, 3, 4, 0], vec![1, 0, 3, 2, 4]];
        let state = apply_all(5, &gens, &word);
        let want = rank_among(&state, 5, true);
        let a5 = PermutationGroup::a5();
        prop_assert_eq!(kleene_langs::regular::FinalLabelLanguage::label(&a5, &word), want);
        if !word.is_empty() {
            prop_assert_eq!(plain("a5").label(&word).unwrap(), want);
        }
    }

    #[test]
    fn symmetric_and_alternating_match_composition(
        word in prop::collection::vec(0u32..2, 1..40),
        n in 3usize..7,
    ) {
        let s = PermutationGroup::symmetric(n);
        let gens: Vec<Vec<usize>> = s.generators().iter()
            .map(|g| g.iter().map(|&x| x as usize).collect()).collect();
        let state = apply_all(n, &gens, &word);
        prop_assert_eq!(
            kleene_langs::regular::FinalLabelLanguage::label(&s, &word),
            rank_among(&state, n, false)
        );
        let a = PermutationGroup::alternating(n);
        let gens: Vec<Vec<usize>> = a.generators().iter()
            .map(|g| g.iter().map(|&x| x as usize).collect()).collect();
        let state = apply_all(n, &gens, &word);
        prop_assert!(is_even(&state));
        prop_assert_eq!(
            kleene_langs::regular::FinalLabelLanguage::label(&a, &word),
            rank_among(&state, n, true)
        );
    }

    #[test]
    fn dihedral_matches_closed_form(word in prop::collection::vec(0u32..2, 1..80), n in 3usize..33) {
        // position = sum over moves of (-1)^(number of toggles before the move) mod n.
        let mut zeros_before = 0usize;
        let mut pos: i64 = 0;
        for &a in &word {
            if a == 0 { zeros_before += 1; } else { pos += if zeros_before.is_multiple_of(2) { 1 } else { -1 }; }
        }
        let want = (n * (zeros_before % 2)) as u32 + pos.rem_euclid(n as i64) as u32;
        prop_assert_eq!(plain(&format!("d{n}")).label(&word).unwrap(), want);
    }

    #[test]
    fn c2xcn_matches_step_simulation(word in prop::collection::vec(0u32..2, 1..80), n in 1usize..33) {
        let (mut toggle, mut pos) = (false, 0usize);
        for &a in &word {
            if a == 0 { toggle = !toggle } else { pos = (pos + 1) % n }
        }
        let want = (n * usize::from(toggle) + pos) as u32;
        prop_assert_eq!(plain(&format!("c2xc{n}")).label(&word).unwrap(), want);
    }

    #[test]
    fn parity_even_pairs_cycle_match_definitions(
        bits in prop::collection::vec(0u32..2, 1..100),
        moves in prop::collection::vec(0u32..3, 1..100),
    ) {
        let ones = bits.iter().filter(|&&b| b == 1).count() as u32;
        prop_assert_eq!(plain("parity").label(&bits).unwrap(), ones % 2);
        let changes = bits.windows(2).filter(|w| w[0] != w[1]).count() as u32;
        prop_assert_eq!(plain("even-pairs").label(&bits).unwrap(), changes % 2);
        let walk: i64 = moves.iter().map(|&a| a as i64 - 1).sum();
        prop_assert_eq!(plain("cycle").label(&moves).unwrap(), walk.rem_euclid(5) as u32);
    }

    #[test]
    fn modular_arithmetic_matches_exact_evaluation(
        digits in prop::collection::vec(0u32..5, 1..22),
        ops in prop::collection::vec(prop::sample::select(vec![5u32, 6, 7]), 21),
    ) {
        let mut tokens = vec![digits[0]];
        for (i, &d) in digits.iter().enumerate().skip(1) {
            tokens.push(ops[i - 1]);
            tokens.push(d);
        }
        prop_assert_eq!(plain("arith").label(&tokens).unwrap(), eval_expression(&tokens));
    }

    #[test]
    fn sampled_examples_carry_the_oracle_label(seed in any::<u64>(), len in 1usize..60) {
        let mut rng = seeded_rng(seed);
        let a5 = task_by_name("a5").unwrap();
        let ex = a5.sample(len, len, &mut rng).unwrap();
        let gens = vec![vec![1, 2, 3, 4, 0], vec![1, 0, 3, 2, 4]];
        let want = rank_among(&apply_all(5, &gens, &ex.tokens), 5, true);
        prop_assert_eq!(ex.target, Target::Final(want));

        let arith = task_by_name("modular-arithmetic").unwrap();
        let ex = arith.sample(len, len, &mut rng).unwrap();
        let body = &ex.tokens[..ex.tokens.len() - 1];
        prop_assert_eq!(ex.target, Target::Final(eval_expression(body)));
    }
}

#[test]
fn group_orders() {
    for n in 3..=6 {
        let fact: usize = (1..=n).product();
        assert_eq!(PermutationGroup::symmetric(n).order(), fact, "S{n}");
        assert_eq!(PermutationGroup::alternating(n).order(), fact / 2, "A{n}");
    }
    assert_eq!(PermutationGroup::a5().order(), 60);
}

#[test]
fn generation_is_deterministic() {
    for name in ["a5", "d30", "modular-arithmetic", "parity-check"] {
        let task = task_by_name(name).unwrap();
        let split = SplitSpec {
            name: "train".into(),
            min_len: 1,
            max_len: 40,
            size: 300,
        };
        let a = task.generate_split(&split, 17).unwrap();
        let b = task.generate_split(&split, 17).unwrap();
        let c = task.generate_split(&split, 18).unwrap();
        assert_eq!(a, b, "{name}");
        assert_ne!(a, c, "{name}: another seed gives other data");
    }
}

#[test]
fn symbols_are_roughly_uniform() {
    // Binary alphabets take bits from 64-bit words: check both halves are used.
    let task = task_by_name("a5").unwrap();
    let mut rng = seeded_rng(5);
    let mut ones = 0usize;
    let mut total = 0usize;
    for _ in 0..200 {
        let ex = task.sample(100, 100, &mut rng).unwrap();
        ones += ex.tokens.iter().filter(|&&t| t == 1).count();
        total += ex.tokens.len();
    }
    let frac = ones as f64 / total as f64;
    assert!((frac - 0.5).abs() < 0.01, "fraction of ones {frac}");
}

/// Any token string, sampled or not (blanks, digits where operators go, operators where
/// digits go), gets the label DeepMind's `_evaluate_expression` gives it: 600 cases from a
/// numpy transcription of upstream (tests/fixtures/dm_modular_arithmetic.py), moduli 5 and 7.
#[test]
fn modular_arithmetic_reads_any_input_as_upstream() {
    use kleene_langs::regular::FinalLabelLanguage;
    let text = include_str!("fixtures/dm_modular_arithmetic.json");
    let fixture: serde_json::Value = serde_json::from_str(text).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 600);
    let mut malformed = 0;
    for case in cases {
        let modulus = case["modulus"].as_u64().unwrap() as usize;
        let tokens: Vec<u32> = case["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap() as u32)
            .collect();
        let task = regular::ModularArithmetic::new(modulus);
        let m = modulus as u32;
        let well_formed = tokens.len() % 2 == 1
            && tokens.iter().enumerate().all(|(i, &t)| {
                if i % 2 == 0 {
                    t < m
                } else {
                    (m..m + 3).contains(&t)
                }
            });
        malformed += usize::from(!well_formed);
        assert_eq!(
            task.label(&tokens),
            case["label"].as_u64().unwrap() as u32,
            "modulus {modulus}, tokens {tokens:?}"
        );
    }
    // The fixture exercises the malformed cases, not only sampled strings.
    assert!(malformed > 300, "{malformed}");
}
