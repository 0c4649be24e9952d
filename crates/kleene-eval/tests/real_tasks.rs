//! The drivers on the real task families of kleene-langs (Bhattamishra suite, SD-SSM
//! parity, REGBENCH, associative recall).

mod common;

use common::*;
use kleene_eval::*;
use kleene_langs::regbench::{Regbench, RegbenchConfig, RegbenchScores};
use kleene_langs::{task_by_name, Example, Target, Task};

#[test]
fn bhattamishra_bins_exact_wrong_and_multilabel() {
    let dev = device();
    let task = task_by_name("tomita-3").unwrap();
    let specs: Vec<_> = task
        .splits()
        .into_iter()
        .filter(|s| s.name != "train")
        .take(2)
        .collect();
    assert!(!specs.is_empty());
    let n_classes = task.classes().len();
    for spec in &specs {
        let mut examples = task.generate_split(spec, 0).unwrap();
        examples.truncate(150);
        let exact = HostModel(TrieOracle::new(&examples, n_classes));
        let opts = EvalOptions {
            batch_size: 32,
            ..Default::default()
        };
        let m =
            evaluate_examples::<B, _>(&exact, task.as_ref(), &spec.name, &examples, &opts, &dev)
                .unwrap();
        assert_eq!(
            (m.strict_accuracy, m.relaxed_accuracy),
            (1.0, 1.0),
            "{}",
            spec.name
        );
        // Wrong at t % 5 == 4: strict = share of strings shorter than 5.
        let mut wrong = TrieOracle::new(&examples, n_classes);
        wrong.wrong_every = Some(5);
        let m = evaluate_examples::<B, _>(
            &HostModel(wrong),
            task.as_ref(),
            &spec.name,
            &examples,
            &opts,
            &dev,
        )
        .unwrap();
        let short = examples.iter().filter(|e| e.tokens.len() < 5).count();
        assert_eq!(m.strict_accuracy, short as f64 / examples.len() as f64);
        let (ok, total): (usize, usize) = examples
            .iter()
            .map(|e| {
                let n = e.tokens.len();
                (n - (0..n).filter(|t| t % 5 == 4).count(), n)
            })
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        assert_eq!(m.token_accuracy, ok as f64 / total as f64);
        // Multi-label (Bhattamishra's original formulation) with the task's own sets.
        let sets_model = HostModel(SetsOracle {
            task: task_by_name("tomita-3").unwrap().into(),
            dim: task.vocab().len(),
        });
        let ml = EvalOptions {
            scoring: Scoring::MultiLabel,
            ..opts.clone()
        };
        let m = evaluate_examples::<B, _>(
            &sets_model,
            task.as_ref(),
            &spec.name,
            &examples[..40],
            &ml,
            &dev,
        )
        .unwrap();
        assert_eq!(m.strict_accuracy, 1.0);
    }
}

#[test]
fn sdssm_parity_curve_and_long_length() {
    let dev = device();
    let task = task_by_name("parity-check").unwrap();
    let exact = HostModel(QueryParityOracle {
        wrong_if_first_is_one: false,
    });
    let cfg = CurveConfig {
        min_len: 1,
        max_len: 24,
        per_length: 16,
        train_max_len: Some(12),
        ..Default::default()
    };
    let curve = length_curve::<B, _>(&exact, task.as_ref(), &cfg, &dev).unwrap();
    assert_eq!(curve.points.len(), 24);
    assert!(curve.points.iter().all(|p| p.accuracy == 1.0));
    assert_eq!(
        (curve.in_distribution_mean(), curve.longer_mean()),
        (Some(1.0), Some(1.0))
    );
    let wrong = HostModel(QueryParityOracle {
        wrong_if_first_is_one: true,
    });
    let c = length_curve::<B, _>(
        &wrong,
        task.as_ref(),
        &CurveConfig {
            min_len: 20,
            max_len: 20,
            ..cfg.clone()
        },
        &dev,
    )
    .unwrap();
    let mut rng = length_rng(cfg.seed, 20);
    let right = (0..16)
        .filter(|_| task.sample(20, 20, &mut rng).unwrap().tokens[0] == 0)
        .count();
    assert_eq!(c.points[0].accuracy, right as f64 / 16.0);
    let long = LongLengthConfig {
        lengths: vec![10_000],
        per_length: 4,
        ..Default::default()
    };
    let pts = long_length_curve::<B, _>(&exact, task.as_ref(), &long, &dev).unwrap();
    assert_eq!((pts[0].length, pts[0].accuracy), (10_000, 1.0));
    // The tiny Burn model gives the same numbers through forward and step.
    let tiny = TinyRecurrent::<B>::new(task.vocab().len(), 8, 2, &dev);
    let examples: Vec<Example> = {
        let mut rng = length_rng(3, 30);
        (0..20)
            .map(|_| task.sample(30, 30, &mut rng).unwrap())
            .collect()
    };
    let opts = EvalOptions::default();
    let f = evaluate_examples::<B, _>(&tiny, task.as_ref(), "x", &examples, &opts, &dev).unwrap();
    let r = evaluate_examples_recurrent::<B, _>(&tiny, task.as_ref(), "x", &examples, &opts, &dev)
        .unwrap();
    assert_eq!(f.counts, r.counts);
}

#[test]
fn regbench_counts_match_langs_scores() {
    let dev = device();
    let rb = Regbench::new(RegbenchConfig {
        num_examples: 12,
        num_test_examples: 16,
        ..Default::default()
    })
    .unwrap();
    let test = rb.splits().into_iter().find(|s| s.name == "test").unwrap();
    let problems = rb.problems(&test, 5).unwrap();
    assert_eq!(problems.len(), 8);
    // Our allowed sets equal the task's own bit masks.
    for p in &problems {
        let ours = kleene_eval::metrics::regbench::regbench_allowed(&p.dfa, p.input());
        for (row, mask) in ours.iter().zip(p.allowed_next()) {
            let bits: u32 = row
                .iter()
                .enumerate()
                .map(|(v, &a)| u32::from(a) << v)
                .sum();
            assert_eq!(bits, mask);
        }
    }
    let model = TinyRecurrent::<B>::new(20, 16, 20, &dev);
    let opts = EvalOptions {
        batch_size: 3,
        ..Default::default()
    };
    let all =
        regbench_problems::<B, _>(&model, &problems, RegbenchPositions::All, &opts, &dev).unwrap();
    let masked = regbench_problems::<B, _>(
        &model,
        &problems,
        RegbenchPositions::TargetMask,
        &opts,
        &dev,
    )
    .unwrap();
    // Reference: kleene-langs' own implementation of the paper metrics on softmax outputs.
    let examples: Vec<Example> = problems.iter().map(|p| p.example()).collect();
    let seqs: Vec<&[u32]> = examples.iter().map(|e| e.tokens.as_slice()).collect();
    let mut probs: Vec<Vec<Vec<f64>>> = vec![Vec::new(); problems.len()];
    for_each_output::<B, _, _>(&model, &seqs, &opts, &dev, |i, l| {
        probs[i] = l.chunks(20).map(kleene_eval::metrics::softmax).collect();
        Ok(())
    })
    .unwrap();
    let mut reference = RegbenchScores::default();
    for (p, pr) in problems.iter().zip(&probs) {
        reference.add_problem(p, pr);
    }
    assert_eq!(
        (all.correct, all.positions),
        (reference.correct, reference.positions)
    );
    assert!((all.tvd() - reference.tvd()).abs() < 1e-9);
    assert_eq!(
        (masked.correct, masked.positions),
        (reference.dfa_correct, reference.dfa_positions)
    );
    assert!(all.accuracy() > 0.0 && all.accuracy() < 1.0);

    // Generation: always `a` (id 1) with a cap of 1 is accepted iff the start state has `a`.
    let always_a = HostModel(ConstantOracle({
        let mut v = vec![0.0; 20];
        v[1] = 3.0;
        v
    }));
    let cfg = GenerationConfig {
        max_new_tokens: 1,
        ..Default::default()
    };
    let g = regbench_generation::<B, _>(&always_a, &problems, &cfg, &dev).unwrap();
    let want = problems
        .iter()
        .filter(|p| p.dfa.next(p.dfa.start(), 0).is_some())
        .count();
    assert_eq!((g.samples, g.accepted), (8, want as u64));
}

#[test]
fn associative_recall_final_token_accuracy() {
    let dev = device();
    let task = task_by_name("associative-recall-vs10").unwrap();
    let test = task
        .splits()
        .into_iter()
        .find(|s| s.name != "train")
        .unwrap();
    let mut examples = task.generate_split(&test, 2).unwrap();
    examples.truncate(120);
    let dim = task.classes().len();
    let exact = HostModel(TrieOracle::last_only(&examples, dim));
    let m = evaluate_examples::<B, _>(
        &exact,
        task.as_ref(),
        &test.name,
        &examples,
        &EvalOptions::default(),
        &dev,
    )
    .unwrap();
    assert_eq!(m.final_token_accuracy, 1.0);
    // A constant answer is right exactly when the answer is that class.
    let answer = |e: &Example| match &e.target {
        Target::Masked { classes, .. } | Target::PerPosition(classes) => *classes.last().unwrap(),
        Target::Final(c) => *c,
    };
    let c = answer(&examples[0]);
    let constant = HostModel(ConstantOracle(peak(c as usize, dim)));
    let m = evaluate_examples::<B, _>(
        &constant,
        task.as_ref(),
        &test.name,
        &examples,
        &EvalOptions::default(),
        &dev,
    )
    .unwrap();
    let want = examples.iter().filter(|e| answer(e) == c).count();
    assert_eq!(m.final_token_accuracy, want as f64 / examples.len() as f64);
}

#[test]
fn flip_flop_sets_exact_oracle() {
    use kleene_langs::flipflop::{FlipFlop, FlipFlopConfig, FlipFlopSplit};
    let dev = device();
    let split = |name: &str, p_ignore, size| FlipFlopSplit {
        name: name.into(),
        p_ignore,
        size,
    };
    let task = FlipFlop::new(FlipFlopConfig {
        pairs: 24,
        p_ignore: 0.8,
        splits: vec![
            split("train", 0.8, 10),
            split("val", 0.8, 12),
            split("val_dense", 0.1, 9),
            split("val_sparse", 0.98, 11),
        ],
    })
    .unwrap();
    let (ff, splits) = flip_flop::<B, _>(
        &HostModel(FlipFlopOracle),
        &task,
        3,
        &EvalOptions::default(),
        &dev,
    )
    .unwrap();
    assert_eq!(splits.len(), 3);
    for (set, n) in [
        (FlipFlopSet::InDistribution, 12),
        (FlipFlopSet::Dense, 9),
        (FlipFlopSet::Sparse, 11),
    ] {
        let m = ff.get(set).unwrap();
        assert_eq!(
            (m.read_accuracy, m.sequence_accuracy, m.sequences),
            (1.0, 1.0, n),
            "{set:?}"
        );
    }
    // Dense sets have more reads per sequence than sparse ones.
    let reads = |s| ff.get(s).unwrap().reads as f64 / ff.get(s).unwrap().sequences as f64;
    assert!(reads(FlipFlopSet::Dense) > reads(FlipFlopSet::Sparse));
    // A model that always answers 0 is right exactly on the reads of a 0.
    let zero = HostModel(ConstantOracle(vec![1.0, 0.0, 0.5]));
    let spec = task.splits().into_iter().find(|s| s.name == "val").unwrap();
    let ex = task.generate_split(&spec, 3).unwrap();
    let m =
        evaluate_examples::<B, _>(&zero, &task, "val", &ex, &EvalOptions::default(), &dev).unwrap();
    let (mut ok, mut n) = (0, 0);
    for e in &ex {
        let Target::Masked { classes, mask } = &e.target else {
            unreachable!()
        };
        for (c, &k) in classes.iter().zip(mask) {
            if k {
                n += 1;
                ok += usize::from(*c == 0);
            }
        }
    }
    assert_eq!(m.token_accuracy, ok as f64 / n as f64);
}

#[test]
fn bounded_dyck_close_accuracy_matches_langs() {
    use kleene_langs::bounded_dyck::CloseAccuracy as LangsClose;
    let dev = device();
    let task = task_by_name("bounded-dyck").unwrap();
    let k = (task.vocab().len() - 2) / 2;
    let mut rng = length_rng(2, 0);
    let ex: Vec<Example> = (0..16)
        .map(|_| task.sample(3, 60, &mut rng).unwrap())
        .collect();
    let model = TinyRecurrent::<B>::new(task.vocab().len(), 16, task.vocab().len(), &dev);
    let opts = EvalOptions {
        batch_size: 5,
        ..Default::default()
    };
    let ours = close_accuracy::<B, _>(
        &model,
        &ex,
        &DyckVocab::sarrof(k),
        &CloseAccuracyConfig::default(),
        &opts,
        &dev,
    )
    .unwrap();
    let seqs: Vec<&[u32]> = ex.iter().map(|e| e.tokens.as_slice()).collect();
    let mut theirs = LangsClose::default();
    let dim = task.vocab().len();
    for_each_output::<B, _, _>(&model, &seqs, &opts, &dev, |i, l| {
        let probs: Vec<Vec<f32>> = l
            .chunks(dim)
            .map(|r| {
                kleene_eval::metrics::softmax(r)
                    .into_iter()
                    .map(|p| p as f32)
                    .collect()
            })
            .collect();
        theirs.observe(seqs[i], &probs, k);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        (ours.overall.correct, ours.overall.total),
        (theirs.correct, theirs.total)
    );
    assert!(ours.overall.total > 0);
    // The exact oracle scores 1.0.
    let exact = close_accuracy::<B, _>(
        &HostModel(DyckOracle {
            k: k as u32,
            always_type0: false,
        }),
        &ex,
        &DyckVocab::sarrof(k),
        &CloseAccuracyConfig::default(),
        &opts,
        &dev,
    )
    .unwrap();
    assert_eq!(exact.accuracy(), 1.0);
    assert_eq!(exact.overall.total, ours.overall.total);
}

#[test]
fn evaluate_run_collects_every_requested_protocol() {
    use kleene_langs::bounded_dyck::{BoundedDyck, BoundedDyckConfig, BoundedDyckSplit};
    let dev = device();
    // SD-SSM parity: splits + curve + long lengths.
    let task = task_by_name("parity-check").unwrap();
    let plan = EvalPlan {
        splits: Some(vec![task.splits()[1].name.clone()]),
        curve: Some(CurveConfig {
            min_len: 1,
            max_len: 6,
            per_length: 4,
            train_max_len: Some(3),
            ..Default::default()
        }),
        long_lengths: Some(LongLengthConfig {
            lengths: vec![1000],
            per_length: 2,
            ..Default::default()
        }),
        ..Default::default()
    };
    let info = RunInfo {
        run: "r0".into(),
        experiment: "parity-check".into(),
        model: "oracle".into(),
        seed: 0,
    };
    let exact = HostModel(QueryParityOracle {
        wrong_if_first_is_one: false,
    });
    let r = evaluate_run::<B, _>(&exact, task.as_ref(), &plan, &info, &dev).unwrap();
    assert_eq!(r.splits.len(), 1);
    assert_eq!(r.splits[0].strict_accuracy, 1.0);
    let lengths: Vec<usize> = r
        .curve
        .as_ref()
        .unwrap()
        .points
        .iter()
        .map(|p| p.length)
        .collect();
    assert_eq!(lengths, [1, 2, 3, 4, 5, 6, 1000]);
    let bad = EvalPlan {
        splits: Some(vec!["nope".into()]),
        ..Default::default()
    };
    let e = evaluate_run::<B, _>(&exact, task.as_ref(), &bad, &info, &dev)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");

    // Bounded Dyck: close accuracy per split.
    let dyck = BoundedDyck::new(BoundedDyckConfig {
        k: 3,
        m: 4,
        splits: vec![BoundedDyckSplit {
            name: "dev".into(),
            min_len: 3,
            max_len: 40,
            max_depth: 4,
            token_budget: 400,
            approx_lines: 30,
        }],
    })
    .unwrap();
    let plan = EvalPlan {
        bounded_dyck: Some(CloseAccuracyConfig::default()),
        ..Default::default()
    };
    let r = evaluate_run::<B, _>(
        &HostModel(DyckOracle {
            k: 3,
            always_type0: false,
        }),
        &dyck,
        &plan,
        &info,
        &dev,
    )
    .unwrap();
    assert_eq!(r.scalars["dev/close_accuracy"].value, 1.0);

    // REGBENCH: accuracy, TVD, masked accuracy, generation on test and val.
    let config = RegbenchConfig {
        num_examples: 6,
        num_test_examples: 6,
        ..Default::default()
    };
    let rb = Regbench::new(config.clone()).unwrap();
    let plan = EvalPlan {
        regbench: Some(RegbenchPlan {
            config,
            generation: Some(GenerationConfig {
                max_new_tokens: 3,
                ..Default::default()
            }),
        }),
        ..Default::default()
    };
    let model = TinyRecurrent::<B>::new(20, 8, 20, &dev);
    let r = evaluate_run::<B, _>(&model, &rb, &plan, &info, &dev).unwrap();
    for split in ["test", "val"] {
        for key in [
            "dfa_accuracy",
            "tvd",
            "dfa_accuracy_masked",
            "generation_acceptance",
        ] {
            assert!(
                r.scalars.contains_key(&format!("{split}/{key}")),
                "{split}/{key}"
            );
        }
    }
    // The scalar equals the direct driver call.
    let test = rb.splits().into_iter().find(|s| s.name == "test").unwrap();
    let direct = regbench_problems::<B, _>(
        &model,
        &rb.problems(&test, 0).unwrap(),
        RegbenchPositions::All,
        &EvalOptions::default(),
        &dev,
    )
    .unwrap();
    assert_eq!(r.scalars["test/dfa_accuracy"].value, direct.accuracy());
}
