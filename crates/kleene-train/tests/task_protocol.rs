//! Tasks own their protocol, end to end through the library path of `kleene train`
//! (`kleene_train::run`): DM's Chomsky tasks and the regular tasks with a query token
//! train on input lengths 1..=40 from their `train` split with no example dropped for
//! its extra tokens, and a DM run evaluates a length curve beyond 40 in input lengths,
//! reporting per-token accuracy over the output positions.

use kleene_langs::{task_by_name, ReportedAccuracy, Target};
use kleene_train::config::{Curriculum, DataSource};
use kleene_train::data::BatchSource;
use kleene_train::trainer::train_window;
use kleene_train::{run, BackendKind, RunConfig, TrainOptions};

/// Burn's NdArray RNG is process-global: tests that train hold this lock (see
/// real_models.rs).
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cfg(task: &str, eval: &str) -> RunConfig {
    let text = format!(
        "[task]\nname = \"{task}\"\n[model]\nkind = \"mamba\"\nd_model = 8\nn_layers = 1\nd_state = 4\n\
         [training]\nsteps = 12\nbatch_size = 8\nlr = 0.01\ndata = \"split\"\nlog_every = 4\ncheckpoint_every = 0\n\
         [eval]\n{eval}\n"
    );
    RunConfig::parse(&text, std::path::Path::new("test.toml")).unwrap()
}

/// Input length by hand, without `Task::input_len`: the tokens before the first empty
/// token of a Chomsky task (`empty` = its number of input symbols), the tokens before
/// the query token of a regular task.
fn hand_input_len(task: &str, tokens: &[u32]) -> usize {
    match task {
        "reverse-string" | "duplicate-string" => tokens.iter().take_while(|&&t| t != 2).count(),
        "parity-check" => tokens.len() - 1,
        other => unreachable!("{other}"),
    }
}

#[test]
fn split_training_keeps_every_example_up_to_input_length_40() {
    for name in ["reverse-string", "duplicate-string", "parity-check"] {
        let task = task_by_name(name).unwrap();
        let c = cfg(name, "");
        let (lo, hi) = train_window(task.as_ref(), &c).unwrap();
        assert_eq!((lo, hi), (1, 40), "{name}: the train split's window");
        let spec = task
            .splits()
            .into_iter()
            .find(|s| s.name == "train")
            .unwrap();
        let all = task.generate_split(&spec, c.training.seed).unwrap();
        let source = BatchSource::new(
            task.as_ref(),
            DataSource::Split,
            Curriculum::Uniform,
            8,
            lo,
            hi,
            c.training.seed,
        )
        .unwrap();
        let kept = source.training_set();
        assert_eq!(kept.len(), all.len(), "{name}: every train example is kept");
        let lens: Vec<usize> = kept
            .iter()
            .map(|e| hand_input_len(name, &e.tokens))
            .collect();
        assert_eq!(lens.iter().max(), Some(&40), "{name}");
        assert!(lens.iter().all(|n| (1..=40).contains(n)), "{name}");
        // The longest examples have more tokens than the window: they were the dropped ones.
        let longest = kept.iter().map(|e| e.tokens.len()).max().unwrap();
        assert!(longest > 40, "{name}: {longest} tokens");
    }
}

#[test]
fn dm_protocol_trains_on_1_to_40_and_reports_token_accuracy_beyond() {
    let _serial = TRAINING.lock().unwrap_or_else(|p| p.into_inner());
    for name in ["reverse-string", "duplicate-string"] {
        let c = cfg(
            name,
            "protocol = \"splits_and_lengths\"\nsplits = [\"test\"]\nmax_examples = 6\nmin_len = 41\nmax_len = 47\nlen_step = 3\nsamples_per_len = 4\nbatch_size = 8",
        );
        let dir = tempfile::tempdir().unwrap();
        let s = run(
            BackendKind::Ndarray,
            &c,
            dir.path(),
            &TrainOptions::default(),
            |_| {},
        )
        .unwrap();
        assert_eq!(s.steps, 12);
        let report = &s.report;
        assert_eq!((report.train_min_len, report.train_max_len), (1, 40));
        let result = &report.result;
        assert_eq!(result.reported_accuracy, ReportedAccuracy::Token, "{name}");
        let curve = result.curve.as_ref().unwrap();
        assert_eq!(
            curve.points.iter().map(|p| p.length).collect::<Vec<_>>(),
            [41, 44, 47]
        );
        // The test split's lengths are input lengths: the first 6 test examples (drawn
        // from the evaluation seed), measured by hand.
        let task = task_by_name(name).unwrap();
        let mut spec = task
            .splits()
            .into_iter()
            .find(|s| s.name == "test")
            .unwrap();
        spec.size = 6;
        let test = task.generate_split(&spec, c.eval.seed).unwrap();
        let lens: Vec<usize> = test
            .iter()
            .map(|e| hand_input_len(name, &e.tokens))
            .collect();
        let split = &result.splits[0];
        assert_eq!(split.split, "test");
        assert_eq!(split.min_len, *lens.iter().min().unwrap());
        assert_eq!(split.max_len, *lens.iter().max().unwrap());
        // DM's score: correct output positions / output positions, per length.
        let outputs: u64 = test
            .iter()
            .map(|e| match &e.target {
                Target::Masked { mask, .. } => mask.iter().filter(|&&m| m).count() as u64,
                _ => unreachable!(),
            })
            .sum();
        assert_eq!(split.counts.positions, outputs);
        for (row, p) in report.rows.iter().skip(1).zip(&curve.points) {
            assert_eq!(row.name, format!("len-{}", p.length));
            assert_eq!((row.min_len, row.max_len), (p.length, p.length));
            assert_eq!(row.token_acc, p.token_accuracy);
        }
        // Every row lies beyond the training lengths: the test split (41..=500) and the
        // three curve points.
        let beyond = (split.token_accuracy
            + curve.points.iter().map(|p| p.token_accuracy).sum::<f64>())
            / 4.0;
        let (_, out) = report.in_out_means();
        assert!((out.unwrap() - beyond).abs() < 1e-12, "{name}");
        assert!(report
            .to_markdown()
            .contains("mean token accuracy, longer lengths"));
    }
}
