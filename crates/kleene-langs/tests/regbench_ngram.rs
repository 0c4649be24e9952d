//! In-context n-gram baselines: hand-computed rows, and the paper's accuracy / TVD.

use kleene_langs::regbench::metrics::{argmax, RegbenchScores};
use kleene_langs::regbench::{
    Dfa, InContextNGram, LanguageDedup, Regbench, RegbenchConfig, RegbenchProblem,
};
use kleene_langs::Task;

const A: usize = 1;
const B: usize = 2;
const SEP: u32 = 19;

fn close(x: f64, y: f64) -> bool {
    (x - y).abs() < 1e-12
}

/// `a a b | a` with N = 2, counted by hand (pads `_` left of every text):
/// row 0 "a":     _a          -> a: backed off to unigrams, alone: 1
/// row 1 "aa":    _aa         -> C2(aa)/C1(a) = 1/2; all candidates seen, no renormalisation
/// row 2 "aab":   _aab        -> no bigram b?, unigrams a 2/4, b 1/4 renormalised: 2/3, 1/3
/// row 3 "aab|":  _aab, _     -> C2(_a)/C1(_) = 1/2; b gets beta = 1/2
/// row 4 "aab|a": _aab, _a    -> C2(aa)/C1(a) = 1/3, C2(ab)/C1(a) = 1/3
#[test]
fn bigram_rows_by_hand() {
    let rows = InContextNGram::new(2).unwrap().predict(&[1, 1, 2, SEP, 1]);
    let want: [(f64, f64); 5] = [
        (1.0, 0.0),
        (0.5, 0.0),
        (2.0 / 3.0, 1.0 / 3.0),
        (0.5, 0.5),
        (1.0 / 3.0, 1.0 / 3.0),
    ];
    for (t, (row, (a, b))) in rows.iter().zip(want).enumerate() {
        assert!(close(row[A], a) && close(row[B], b), "row {t}: {row:?}");
        let rest: f64 = row
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != A && *i != B)
            .map(|(_, p)| p)
            .sum();
        assert_eq!(rest, 0.0, "only seen symbols get mass");
    }
}

/// Same sequence with N = 3, last row: padded texts `__aab`, `__a`; context `_a`:
/// C3(_aa)/C2(_a) = 1/2 for a; b unseen after `_a`, gets beta = 1/2 (its bigram score
/// after `a` is the only one in the unseen set).
#[test]
fn trigram_row_by_hand() {
    let rows = InContextNGram::new(3).unwrap().predict(&[1, 1, 2, SEP, 1]);
    assert!(
        close(rows[4][A], 0.5) && close(rows[4][B], 0.5),
        "{:?}",
        rows[4]
    );
    // Row 2 "aab" with N=3: context "ab" never continued; back off to "b" (never
    // continued either) then unigrams a 2/5, b 1/5 (pads `__` count: total 5),
    // renormalised to 2/3, 1/3.
    assert!(
        close(rows[2][A], 2.0 / 3.0) && close(rows[2][B], 1.0 / 3.0),
        "{:?}",
        rows[2]
    );
}

/// Accuracy/TVD bookkeeping on a hand-made problem: DFA 0 -a-> 1, 1 -b-> 0, 1 -c-> 0.
#[test]
fn scores_by_hand() {
    let dfa = Dfa::from_edges(2, 0, &[(0, 0, 1), (1, 1, 0), (1, 2, 0)]).unwrap();
    let p = RegbenchProblem {
        dfa,
        sequence: vec![1, 2, SEP, 1, 3],
    };
    // Inputs a b | a ; allowed next: {b,c}, {a}, {a}, {b,c}.
    assert_eq!(p.allowed_next(), vec![0b1100, 0b10, 0b10, 0b1100]);
    let mut probs = vec![[0.0; 20]; 4];
    probs[0][2] = 1.0; // b: allowed, TVD 1/2
    probs[1][1] = 1.0; // a: allowed, TVD 0
    probs[2][19] = 1.0; // |: never allowed, TVD 1
    probs[3][3] = 0.5; // c (ties with a -> lowest id a wins): a not allowed
    probs[3][1] = 0.5; // TVD: 1/2 (|.5-0| + |0-.5| + |.5-.5|) = 1/2
    let mut s = RegbenchScores::default();
    s.add_problem(&p, &probs);
    assert_eq!(argmax(&probs[3]), 1);
    assert_eq!((s.positions, s.correct), (4, 2));
    assert!(close(s.tvd(), (0.5 + 0.0 + 1.0 + 0.5) / 4.0));
    // Training-log accuracy skips position 1 (its target is the separator).
    assert_eq!((s.dfa_positions, s.dfa_correct), (3, 1));
}

/// The paper's baselines: 3-gram accuracy 0.937 / TVD 0.265 and 2-gram 0.834 / 0.337
/// (figure lines, max over six test sets), independent simulation 0.933-0.937 /
/// 0.254-0.263 and 0.819-0.827 / 0.326-0.334 over 500 problems.
#[test]
fn baselines_match_the_paper() {
    let task = Regbench::new(RegbenchConfig {
        num_examples: 0,
        num_test_examples: 1000,
        dedup: LanguageDedup::None,
        ..RegbenchConfig::default()
    })
    .unwrap();
    let test = task
        .splits()
        .into_iter()
        .find(|s| s.name == "test")
        .unwrap();
    let problems = task.problems(&test, 0).unwrap();
    assert_eq!(problems.len(), 500);
    let tri = InContextNGram::new(3).unwrap().evaluate(&problems);
    let bi = InContextNGram::new(2).unwrap().evaluate(&problems);
    eprintln!(
        "3-gram acc {:.4} tvd {:.4}; 2-gram acc {:.4} tvd {:.4}",
        tri.accuracy(),
        tri.tvd(),
        bi.accuracy(),
        bi.tvd()
    );
    assert!(
        (0.925..=0.945).contains(&tri.accuracy()),
        "3-gram accuracy {}",
        tri.accuracy()
    );
    assert!(
        (0.245..=0.275).contains(&tri.tvd()),
        "3-gram TVD {}",
        tri.tvd()
    );
    assert!(
        (0.810..=0.840).contains(&bi.accuracy()),
        "2-gram accuracy {}",
        bi.accuracy()
    );
    assert!(
        (0.315..=0.345).contains(&bi.tvd()),
        "2-gram TVD {}",
        bi.tvd()
    );
}

#[test]
fn order_is_checked() {
    assert!(InContextNGram::new(1).is_err());
    assert!(InContextNGram::new(5).is_err());
}

/// `uniform=True`: prefix "aaab" with N = 2: no bigram after `b`, so both candidates come
/// from order 1: a 3/5, b 1/5 (pad counted), renormalised 3/4, 1/4; uniform makes them 1/2.
/// Prefix "aab|" keeps a (order 2) and b (order 1) at 1/2 each.
#[test]
fn uniform_variant_by_hand() {
    let plain = InContextNGram::new(2).unwrap();
    let uniform = InContextNGram::new(2).unwrap().with_uniform(true);
    let rows = plain.predict(&[1, 1, 1, 2]);
    assert!(
        close(rows[3][A], 0.75) && close(rows[3][B], 0.25),
        "{:?}",
        rows[3]
    );
    let rows = uniform.predict(&[1, 1, 1, 2]);
    assert!(
        close(rows[3][A], 0.5) && close(rows[3][B], 0.5),
        "{:?}",
        rows[3]
    );
    let rows = uniform.predict(&[1, 1, 2, SEP]);
    assert!(
        close(rows[3][A], 0.5) && close(rows[3][B], 0.5),
        "{:?}",
        rows[3]
    );
}
