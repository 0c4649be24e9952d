//! The task's protocol in the drivers: DM's accuracy mask (accuracy stops after END while
//! the loss covers every output position) and lengths grouped in the task's unit (DM's
//! input length `n`, not the token count `n + output_length(n)`).

mod common;

use common::*;
use kleene_eval::*;
use kleene_langs::{seeded_rng, task_by_name, Example, Target};

/// binary-addition: symbols 0 1 + and the empty token 3; classes 0 1 END (2).
const END: u32 = 2;

/// By hand from DM's definition: per example, the output positions (where the empty
/// tokens are) up to and including the first END class; how many hold class 0 (what a
/// model always predicting 0 gets right) and how many there are.
fn zeros_and_positions_up_to_end(examples: &[Example]) -> (u64, u64) {
    let (mut zeros, mut positions) = (0, 0);
    for e in examples {
        let Target::Masked { classes, .. } = &e.target else {
            unreachable!()
        };
        let first_output = e.tokens.iter().position(|&t| t == 3).unwrap();
        for &c in &classes[first_output..] {
            positions += 1;
            zeros += u64::from(c == 0);
            if c == END {
                break;
            }
        }
    }
    (zeros, positions)
}

#[test]
fn accuracy_stops_after_end_and_lengths_are_input_lengths() {
    let task = task_by_name("binary-addition").unwrap();
    let mut rng = seeded_rng(4);
    let examples: Vec<Example> = (0..24)
        .map(|_| task.sample(6, 9, &mut rng).unwrap())
        .collect();
    let (zeros, positions) = zeros_and_positions_up_to_end(&examples);
    // The loss positions: every output position, n + 1 for an input of length n.
    let loss_positions: u64 = examples
        .iter()
        .map(|e| e.tokens.iter().filter(|&&t| t == 3).count() as u64)
        .sum();
    assert!(positions < loss_positions, "END must come early somewhere");
    let always_zero = HostModel(ConstantOracle(peak(0, 3)));
    let opts = EvalOptions {
        batch_size: 5,
        ..Default::default()
    };
    let dev = device();
    let parallel =
        evaluate_examples::<B, _>(&always_zero, task.as_ref(), "x", &examples, &opts, &dev)
            .unwrap();
    let recurrent = evaluate_examples_recurrent::<B, _>(
        &always_zero,
        task.as_ref(),
        "x",
        &examples,
        &opts,
        &dev,
    )
    .unwrap();
    for m in [&parallel, &recurrent] {
        assert_eq!(m.counts.positions, positions);
        assert_eq!(m.counts.positions_correct, zeros);
        assert_eq!(m.token_accuracy, zeros as f64 / positions as f64);
        // Input lengths (the window asked for), not token counts (2n + 1 and more).
        let n: Vec<usize> = examples
            .iter()
            .map(|e| e.tokens.iter().filter(|&&t| t != 3).count())
            .collect();
        assert_eq!(m.min_len, *n.iter().min().unwrap());
        assert_eq!(m.max_len, *n.iter().max().unwrap());
        assert!(
            m.min_len >= 6 && m.max_len <= 9,
            "{}..={}",
            m.min_len,
            m.max_len
        );
    }
}

#[test]
fn curve_points_are_input_lengths_and_run_result_says_token_accuracy() {
    let task = task_by_name("duplicate-string").unwrap();
    let cfg = CurveConfig {
        min_len: 41,
        max_len: 43,
        per_length: 3,
        ..Default::default()
    };
    let always_zero = HostModel(ConstantOracle(peak(0, 2)));
    let curve = length_curve::<B, _>(&always_zero, task.as_ref(), &cfg, &device()).unwrap();
    assert_eq!(
        curve.points.iter().map(|p| p.length).collect::<Vec<_>>(),
        [41, 42, 43]
    );
    // Recompute length 42 by hand: the same examples (the length's own RNG), every
    // output position scored, right where the class is 0.
    let mut rng = length_rng(cfg.seed, 42);
    let (mut zeros, mut positions) = (0u64, 0u64);
    for _ in 0..3 {
        let e = task.sample(42, 42, &mut rng).unwrap();
        assert_eq!(e.tokens.len(), 42 * 3);
        let Target::Masked { classes, .. } = &e.target else {
            unreachable!()
        };
        positions += 84;
        zeros += classes[42..].iter().filter(|&&c| c == 0).count() as u64;
    }
    assert_eq!(
        curve.points[1].token_accuracy,
        zeros as f64 / positions as f64
    );
    assert_eq!(
        curve.points[1].reported(kleene_langs::ReportedAccuracy::Token),
        curve.points[1].token_accuracy
    );
    let plan = EvalPlan {
        splits: Some(Vec::new()),
        curve: Some(cfg),
        ..Default::default()
    };
    let info = RunInfo {
        run: "r".into(),
        experiment: "duplicate-string".into(),
        model: "zero".into(),
        seed: 1,
    };
    let result =
        evaluate_run::<B, _>(&always_zero, task.as_ref(), &plan, &info, &device()).unwrap();
    assert_eq!(
        result.reported_accuracy,
        kleene_langs::ReportedAccuracy::Token
    );
    assert_eq!(result.curve.unwrap().points, curve.points);
}
