//! Drivers on test-only tasks and models: exact oracles must score 1.0, deliberately
//! wrong models must match hand counts, forward and step must agree.

mod common;

use common::*;
use kleene_eval::*;
use kleene_langs::{Example, Target, Task};
use kleene_zoo::SequenceModel;

fn first_is_one(e: &Example) -> bool {
    e.tokens.first() == Some(&1)
}

#[test]
fn oracle_scores_one_on_every_split_and_kind() {
    let dev = device();
    for shape in [
        ParityShape::Final,
        ParityShape::PerPosition,
        ParityShape::Masked,
    ] {
        let task = ParityTask::new(shape);
        let model = HostModel(ParityOracle::exact());
        let splits =
            evaluate_splits::<B, _>(&model, &task, 3, &EvalOptions::default(), &dev).unwrap();
        assert_eq!(
            splits.iter().map(|s| s.split.as_str()).collect::<Vec<_>>(),
            ["bin0", "bin1"]
        );
        for s in &splits {
            assert_eq!(s.strict_accuracy, 1.0, "{shape:?} {}", s.split);
            assert_eq!(s.relaxed_accuracy, 1.0);
            assert_eq!(s.token_accuracy, 1.0);
            assert_eq!(s.final_token_accuracy, 1.0);
        }
        assert_eq!(
            splits[0].counts.sequences + splits[0].counts.empty_sequences,
            37
        );
        assert!(splits[1].min_len >= 11 && splits[1].max_len <= 20);
    }
}

#[test]
fn wrong_final_model_matches_hand_count() {
    let dev = device();
    let task = ParityTask::new(ParityShape::Final);
    let split = task.splits()[1].clone();
    let examples = task.generate_split(&split, 11).unwrap();
    let model = HostModel(ParityOracle {
        wrong_if_first_is_one: true,
        wrong_every_fourth: false,
    });
    // Small batches force padding of mixed lengths.
    let opts = EvalOptions {
        batch_size: 5,
        ..Default::default()
    };
    let m = evaluate_split::<B, _>(&model, &task, &split, 11, &opts, &dev).unwrap();
    let right = examples.iter().filter(|e| !first_is_one(e)).count();
    assert!(right > 0 && right < examples.len(), "degenerate sample");
    let want = right as f64 / examples.len() as f64;
    assert_eq!(m.strict_accuracy, want);
    assert_eq!(m.token_accuracy, want);
    assert_eq!(m.final_token_accuracy, want);
}

#[test]
fn wrong_per_position_model_matches_brute_force() {
    let dev = device();
    let task = ParityTask::new(ParityShape::PerPosition);
    let split = task.splits()[1].clone();
    let examples = task.generate_split(&split, 5).unwrap();
    let model = HostModel(ParityOracle {
        wrong_if_first_is_one: false,
        wrong_every_fourth: true,
    });
    let opts = EvalOptions {
        batch_size: 4,
        ..Default::default()
    };
    let m = evaluate_examples::<B, _>(&model, &task, "bin1", &examples, &opts, &dev).unwrap();
    // Wrong exactly at positions 3, 7, 11, ...: count them per sequence.
    let (mut strict, mut relaxed, mut ok, mut total) = (0usize, 0.0f64, 0usize, 0usize);
    for e in &examples {
        let n = e.tokens.len();
        let wrong = (0..n).filter(|t| t % 4 == 3).count();
        strict += usize::from(wrong == 0);
        relaxed += (n - wrong) as f64 / n as f64;
        ok += n - wrong;
        total += n;
    }
    let n = examples.len() as f64;
    assert_eq!(m.strict_accuracy, strict as f64 / n);
    assert!((m.relaxed_accuracy - relaxed / n).abs() < 1e-12);
    assert_eq!(m.token_accuracy, ok as f64 / total as f64);
    // Last position wrong iff len % 4 == 0.
    let last_ok = examples.iter().filter(|e| e.tokens.len() % 4 != 0).count();
    assert_eq!(m.final_token_accuracy, last_ok as f64 / n);
}

#[test]
fn masked_targets_score_only_masked_positions() {
    let dev = device();
    let task = ParityTask::new(ParityShape::Masked);
    let split = task.splits()[2].clone();
    let examples = task.generate_split(&split, 8).unwrap();
    let model = HostModel(ParityOracle {
        wrong_if_first_is_one: false,
        wrong_every_fourth: true,
    });
    let m = evaluate_examples::<B, _>(
        &model,
        &task,
        "bin1",
        &examples,
        &EvalOptions::default(),
        &dev,
    )
    .unwrap();
    // Masked positions: t % 3 == 2; wrong ones among them: t % 4 == 3 too (t = 11 mod 12).
    let (mut ok, mut total) = (0, 0);
    for e in &examples {
        for t in (0..e.tokens.len()).filter(|t| t % 3 == 2) {
            total += 1;
            ok += usize::from(t % 4 != 3);
        }
    }
    assert_eq!(m.counts.positions, total as u64);
    assert_eq!(m.token_accuracy, ok as f64 / total as f64);
}

#[test]
fn multilabel_scoring_thresholds_each_symbol() {
    let dev = device();
    let task = ParityTask::new(ParityShape::PerPosition);
    let split = task.splits()[1].clone();
    let examples = task.generate_split(&split, 2).unwrap();
    let opts = EvalOptions {
        scoring: Scoring::MultiLabel,
        ..Default::default()
    };
    let good = HostModel(MultiLabelOracle {
        always_claim_odd: false,
    });
    let m = evaluate_examples::<B, _>(&good, &task, "bin1", &examples, &opts, &dev).unwrap();
    assert_eq!((m.strict_accuracy, m.token_accuracy), (1.0, 1.0));
    // Claiming "odd" legal everywhere is wrong exactly where the prefix parity is even.
    let bad = HostModel(MultiLabelOracle {
        always_claim_odd: true,
    });
    let m = evaluate_examples::<B, _>(&bad, &task, "bin1", &examples, &opts, &dev).unwrap();
    let (mut ok, mut total, mut strict) = (0, 0, 0);
    for e in &examples {
        let mut p = 0;
        let mut all = true;
        for &t in &e.tokens {
            p ^= t;
            total += 1;
            ok += usize::from(p == 1);
            all &= p == 1;
        }
        strict += usize::from(all);
    }
    assert_eq!(m.token_accuracy, ok as f64 / total as f64);
    assert_eq!(m.strict_accuracy, strict as f64 / examples.len() as f64);
    // The recurrent path agrees.
    let r =
        evaluate_examples_recurrent::<B, _>(&bad, &task, "bin1", &examples, &opts, &dev).unwrap();
    assert_eq!(r.counts, m.counts);
}

#[test]
fn tiny_burn_model_forward_and_step_agree() {
    let dev = device();
    let model = TinyRecurrent::<B>::new(2, 8, 2, &dev);
    let task = ParityTask::new(ParityShape::PerPosition);
    let split = task.splits()[1].clone();
    let examples = task.generate_split(&split, 4).unwrap();
    // Raw outputs: batched, padded forward vs one sequence at a time through step.
    let seqs: Vec<&[u32]> = examples.iter().map(|e| e.tokens.as_slice()).collect();
    let mut forward_out = vec![Vec::new(); seqs.len()];
    let opts = EvalOptions {
        batch_size: 6,
        ..Default::default()
    };
    for_each_output::<B, _, _>(&model, &seqs, &opts, &dev, |i, l| {
        forward_out[i] = l.to_vec();
        Ok(())
    })
    .unwrap();
    for (i, s) in seqs.iter().enumerate() {
        let mut state = model.init_state(1, &dev);
        for (t, &tok) in s.iter().enumerate() {
            let x = burn::tensor::Tensor::<B, 1, burn::tensor::Int>::from_data(
                burn::tensor::TensorData::new(vec![tok as i64], [1]),
                &dev,
            );
            let (y, next) = model.step(x, state);
            state = next;
            let y = y.into_data().convert::<f32>().into_vec::<f32>().unwrap();
            for (a, b) in y.iter().zip(&forward_out[i][t * 2..t * 2 + 2]) {
                assert!((a - b).abs() < 1e-5, "seq {i} t {t}: {a} vs {b}");
            }
        }
    }
    let f = evaluate_examples::<B, _>(&model, &task, "bin1", &examples, &opts, &dev).unwrap();
    let r =
        evaluate_examples_recurrent::<B, _>(&model, &task, "bin1", &examples, &opts, &dev).unwrap();
    assert_eq!(f.counts, r.counts);
    assert!(
        f.token_accuracy > 0.0 && f.token_accuracy < 1.0,
        "random model should be imperfect"
    );
}

#[test]
fn length_curve_reseeds_per_length_and_matches_hand_count() {
    let dev = device();
    let task = ParityTask::new(ParityShape::Final);
    let wrong = HostModel(ParityOracle {
        wrong_if_first_is_one: true,
        wrong_every_fourth: false,
    });
    let cfg = CurveConfig {
        min_len: 1,
        max_len: 12,
        per_length: 16,
        seed: 9,
        train_max_len: Some(6),
        options: EvalOptions {
            batch_size: 5,
            ..Default::default()
        },
        ..Default::default()
    };
    let curve = length_curve::<B, _>(&wrong, &task, &cfg, &dev).unwrap();
    assert_eq!(curve.points.len(), 12);
    for p in &curve.points {
        // Re-draw the same length independently and count by hand.
        let mut rng = length_rng(9, p.length);
        let ex: Vec<Example> = (0..16)
            .map(|_| task.sample(p.length, p.length, &mut rng).unwrap())
            .collect();
        assert!(ex.iter().all(|e| e.tokens.len() == p.length));
        let right = ex.iter().filter(|e| !first_is_one(e)).count();
        assert_eq!(p.accuracy, right as f64 / 16.0, "length {}", p.length);
        assert_eq!(p.n, 16);
    }
    // A sub-range gives identical points (each length has its own RNG).
    let sub = length_curve::<B, _>(
        &wrong,
        &task,
        &CurveConfig {
            min_len: 5,
            max_len: 7,
            ..cfg.clone()
        },
        &dev,
    )
    .unwrap();
    assert_eq!(sub.points[..], curve.points[4..7]);
    // A stride evaluates lengths 1, 4, 7, 10 with the very same points.
    let strided = length_curve::<B, _>(
        &wrong,
        &task,
        &CurveConfig {
            step: 3,
            ..cfg.clone()
        },
        &dev,
    )
    .unwrap();
    let every_third: Vec<_> = curve.points.iter().step_by(3).cloned().collect();
    assert_eq!(
        strided.points.iter().map(|p| p.length).collect::<Vec<_>>(),
        [1, 4, 7, 10]
    );
    assert_eq!(strided.points, every_third);
    let id: f64 = curve.points[..6].iter().map(|p| p.accuracy).sum::<f64>() / 6.0;
    assert!((curve.in_distribution_mean().unwrap() - id).abs() < 1e-12);
    // The exact oracle is perfect everywhere.
    let exact = length_curve::<B, _>(&HostModel(ParityOracle::exact()), &task, &cfg, &dev).unwrap();
    assert!(exact.points.iter().all(|p| p.accuracy == 1.0));
}

#[test]
fn unsampleable_lengths_are_skipped_with_a_reason() {
    let dev = device();
    let task = ParityTask {
        shape: ParityShape::Final,
        odd_lengths_only: true,
    };
    let cfg = CurveConfig {
        min_len: 1,
        max_len: 6,
        per_length: 3,
        ..Default::default()
    };
    let curve = length_curve::<B, _>(&HostModel(ParityOracle::exact()), &task, &cfg, &dev).unwrap();
    assert_eq!(
        curve.points.iter().map(|p| p.length).collect::<Vec<_>>(),
        [1, 3, 5]
    );
    assert_eq!(
        curve.skipped.iter().map(|s| s.length).collect::<Vec<_>>(),
        [2, 4, 6]
    );
    assert!(curve.skipped[0].reason.contains("no odd length"));
    let strict = CurveConfig {
        skip_unsampleable: false,
        ..cfg
    };
    assert!(length_curve::<B, _>(&HostModel(ParityOracle::exact()), &task, &strict, &dev).is_err());
}

#[test]
fn long_lengths_run_through_step() {
    let dev = device();
    let task = ParityTask::new(ParityShape::Final);
    let cfg = LongLengthConfig {
        lengths: vec![10_000],
        per_length: 6,
        seed: 4,
        options: EvalOptions {
            batch_size: 4,
            ..Default::default()
        },
    };
    let exact =
        long_length_curve::<B, _>(&HostModel(ParityOracle::exact()), &task, &cfg, &dev).unwrap();
    assert_eq!(exact.len(), 1);
    assert_eq!(
        (exact[0].length, exact[0].n, exact[0].accuracy),
        (10_000, 6, 1.0)
    );
    let wrong = HostModel(ParityOracle {
        wrong_if_first_is_one: true,
        wrong_every_fourth: false,
    });
    let got = long_length_curve::<B, _>(&wrong, &task, &cfg, &dev).unwrap();
    let mut rng = length_rng(4, 10_000);
    let right = (0..6)
        .filter(|_| !first_is_one(&task.sample(10_000, 10_000, &mut rng).unwrap()))
        .count();
    assert_eq!(got[0].accuracy, right as f64 / 6.0);
}

#[test]
fn close_accuracy_driver_matches_stack_walk() {
    let dev = device();
    // k = 2: ( = 0, [ = 1, ) = 2, ] = 3, START = 4. Hand-written Dyck prefixes.
    let inputs: Vec<Vec<u32>> = vec![
        vec![4, 0, 1, 3, 2],
        vec![4, 1, 1, 0, 2, 3, 3, 0],
        vec![4, 0, 2, 1, 0, 0, 2, 2, 3],
    ];
    let examples: Vec<Example> = inputs
        .iter()
        .map(|t| Example {
            tokens: t.clone(),
            target: Target::PerPosition(vec![0; t.len()]),
        })
        .collect();
    let vocab = DyckVocab::sarrof(2);
    let cfg = CloseAccuracyConfig::default();
    let opts = EvalOptions {
        batch_size: 2,
        ..Default::default()
    };
    let exact = close_accuracy::<B, _>(
        &HostModel(DyckOracle {
            k: 2,
            always_type0: false,
        }),
        &examples,
        &vocab,
        &cfg,
        &opts,
        &dev,
    )
    .unwrap();
    // Brute force: positions with a non-empty stack, and those whose top is type 0.
    let (mut scored, mut top0) = (0, 0);
    for t in &inputs {
        let mut st = Vec::new();
        for &x in t {
            if x < 2 {
                st.push(x)
            } else if x < 4 {
                st.pop();
            }
            if let Some(&top) = st.last() {
                scored += 1;
                top0 += u64::from(top == 0);
            }
        }
    }
    assert_eq!(exact.overall.total, scored);
    assert_eq!(exact.overall.correct, scored);
    let wrong = close_accuracy::<B, _>(
        &HostModel(DyckOracle {
            k: 2,
            always_type0: true,
        }),
        &examples,
        &vocab,
        &cfg,
        &opts,
        &dev,
    )
    .unwrap();
    assert_eq!((wrong.overall.correct, wrong.overall.total), (top0, scored));
    assert_eq!(
        wrong.by_depth.values().map(|c| c.total).sum::<u64>(),
        scored
    );
}

#[test]
fn regbench_metrics_oracle_and_constant_model() {
    let dev = device();
    let task = TinyDfaTask;
    let examples = task.generate_split(&task.splits()[0], 1).unwrap();
    let opts = EvalOptions {
        batch_size: 3,
        ..Default::default()
    };
    let oracle = regbench_metrics::<B, _>(
        &HostModel(DfaOracle),
        &task,
        &examples,
        RegbenchPositions::All,
        &opts,
        &dev,
    )
    .unwrap();
    assert_eq!(oracle.accuracy(), 1.0);
    assert!(oracle.tvd() < 1e-6, "{}", oracle.tvd());
    // Always predicting `a`: right where `a` is allowed (state 0). TVD by brute force.
    let logits = vec![0.0f32, 2.0, 0.0, 0.0];
    let m = regbench_metrics::<B, _>(
        &HostModel(ConstantOracle(logits.clone())),
        &task,
        &examples,
        RegbenchPositions::All,
        &opts,
        &dev,
    )
    .unwrap();
    let z: f64 = logits.iter().map(|&v| (v as f64).exp()).sum();
    let p: Vec<f64> = logits.iter().map(|&v| (v as f64).exp() / z).collect();
    let (mut ok, mut n, mut tvd) = (0u64, 0u64, 0.0f64);
    let mut masked = (0u64, 0u64);
    for e in &examples {
        let sets = task.next_symbol_sets(&e.tokens).unwrap();
        let Target::Masked { mask, .. } = &e.target else {
            unreachable!()
        };
        for (t, s) in sets.iter().enumerate() {
            let k = s.iter().filter(|&&a| a).count() as f64;
            n += 1;
            ok += u64::from(s[1]);
            tvd += 0.5
                * (0..4)
                    .map(|v| (p[v] - if s[v] { 1.0 / k } else { 0.0 }).abs())
                    .sum::<f64>();
            if mask[t] {
                masked.1 += 1;
                masked.0 += u64::from(s[1]);
            }
        }
    }
    assert_eq!((m.correct, m.positions), (ok, n));
    assert!((m.tvd() - tvd / n as f64).abs() < 1e-9);
    let mk = regbench_metrics::<B, _>(
        &HostModel(ConstantOracle(logits)),
        &task,
        &examples,
        RegbenchPositions::TargetMask,
        &opts,
        &dev,
    )
    .unwrap();
    assert_eq!((mk.correct, mk.positions), masked);
}

#[test]
fn greedy_generation_acceptance() {
    let dev = device();
    let task = TinyDfaTask;
    let examples = task.generate_split(&task.splits()[0], 2).unwrap();
    let cfg = GenerationConfig {
        separator: SEP,
        max_new_tokens: 6,
        batch_size: 7,
    };
    // The oracle never predicts the separator: every sample hits the cap and is accepted.
    let g = greedy_generation::<B, _>(&HostModel(DfaOracle), &task, &examples, &cfg, &dev).unwrap();
    assert_eq!((g.samples, g.accepted, g.hit_cap), (20, 20, 20));
    assert_eq!(g.generated_tokens, 20 * 6);
    // Always `a`: "aa..." leaves the DFA at the second symbol; with a cap of 1 it is fine.
    let always_a = HostModel(ConstantOracle(vec![0.0, 2.0, 0.0, 0.0]));
    assert_eq!(
        greedy_generation::<B, _>(&always_a, &task, &examples, &cfg, &dev)
            .unwrap()
            .accepted,
        0
    );
    let one = GenerationConfig {
        max_new_tokens: 1,
        ..cfg.clone()
    };
    assert_eq!(
        greedy_generation::<B, _>(&always_a, &task, &examples, &one, &dev)
            .unwrap()
            .acceptance(),
        1.0
    );
    // Predicting the separator at once: empty samples, all accepted, none capped.
    let sep = HostModel(ConstantOracle(vec![0.0, 0.0, 0.0, 2.0]));
    let s = greedy_generation::<B, _>(&sep, &task, &examples, &cfg, &dev).unwrap();
    assert_eq!((s.accepted, s.hit_cap, s.generated_tokens), (20, 0, 0));
    // Predicting an id outside the vocabulary is a rejection, not a panic.
    let out_of_vocab = HostModel(ConstantOracle(vec![0.0, 0.0, 0.0, 0.0, 3.0]));
    let o = greedy_generation::<B, _>(&out_of_vocab, &task, &examples, &cfg, &dev).unwrap();
    assert_eq!(o.accepted, 0);
}

#[test]
fn flip_flop_driver_groups_sets() {
    let dev = device();
    let task = ParityTask::new(ParityShape::Masked);
    let (ff, splits) = flip_flop::<B, _>(
        &HostModel(ParityOracle::exact()),
        &task,
        1,
        &EvalOptions::default(),
        &dev,
    )
    .unwrap();
    assert_eq!(splits.len(), 2);
    // Neither bin is called sparse/dense: both count as in-distribution sets.
    assert_eq!(ff.sets.len(), 2);
    assert!(ff
        .sets
        .iter()
        .all(|s| s.set == FlipFlopSet::InDistribution && s.read_accuracy == 1.0));
}

#[test]
fn bad_options_and_missing_oracles_are_errors() {
    let dev = device();
    let task = ParityTask::new(ParityShape::Final);
    let model = HostModel(ParityOracle::exact());
    let zero = EvalOptions {
        batch_size: 0,
        ..Default::default()
    };
    let e = evaluate_splits::<B, _>(&model, &task, 1, &zero, &dev).unwrap_err();
    assert!(e.to_string().contains("batch_size"), "{e}");
    // A model whose output size does not match the task's classes fails cleanly.
    let examples = task.generate_split(&task.splits()[1], 1).unwrap();
    let mut bad = examples.clone();
    bad[3].target = Target::PerPosition(vec![0; bad[3].tokens.len() + 1]);
    let e = evaluate_examples::<B, _>(&model, &task, "x", &bad, &EvalOptions::default(), &dev)
        .unwrap_err();
    assert!(matches!(e, EvalError::Shape { .. }), "{e}");
    assert!(e.to_string().contains("sequence 3"), "{e}");
    // REGBENCH's target-mask variant needs masked targets.
    let e = regbench_metrics::<B, _>(
        &model,
        &task,
        &examples,
        RegbenchPositions::TargetMask,
        &EvalOptions::default(),
        &dev,
    )
    .unwrap_err();
    assert!(matches!(e, EvalError::WrongTargetKind { .. }), "{e}");
}

#[test]
fn hundred_thousand_steps_in_constant_memory() {
    // 10^5 recurrent steps; the state is one parity bit per sequence, whatever the length.
    let dev = device();
    let task = ParityTask::new(ParityShape::Final);
    let cfg = LongLengthConfig {
        lengths: vec![100_000],
        per_length: 2,
        seed: 1,
        options: EvalOptions {
            batch_size: 2,
            ..Default::default()
        },
    };
    let wrong = HostModel(ParityOracle {
        wrong_if_first_is_one: true,
        wrong_every_fourth: false,
    });
    let got = long_length_curve::<B, _>(&wrong, &task, &cfg, &dev).unwrap();
    let mut rng = length_rng(1, 100_000);
    let right = (0..2)
        .filter(|_| !first_is_one(&task.sample(100_000, 100_000, &mut rng).unwrap()))
        .count();
    assert_eq!(
        (got[0].length, got[0].accuracy),
        (100_000, right as f64 / 2.0)
    );
}
