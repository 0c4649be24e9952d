//! The example's machinery on tiny settings (`cargo test --example state_tracking_table`;
//! `test = true` in Cargo.toml, so `cargo test --workspace` runs these too).

use std::path::{Path, PathBuf};

use kleene::train::{self as kt, RunConfig};

use super::models::*;
use super::*;

/// Parses `text` and validates its model against its task, as a run does before training.
fn check_config(text: &str) {
    let cfg = RunConfig::parse(text, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"));
    check_run_config(&cfg);
}

fn check_run_config(cfg: &RunConfig) {
    let task = kleene::langs::task_by_name(&cfg.task.name).unwrap();
    let vocab = kt::trainer::input_vocab(task.as_ref());
    let out = kt::trainer::output_dim(task.as_ref(), cfg.training.loss).unwrap();
    kt::run::model_config(cfg)
        .unwrap()
        .validate(vocab, out)
        .unwrap_or_else(|e| panic!("{}: {e}", cfg.task.name));
}

#[test]
fn every_model_config_is_valid_on_every_task() {
    for full in [false, true] {
        let s = Settings::new(full);
        for m in all_models() {
            for t in &TASKS {
                check_config(&config(t.name, m.name, s.layers, 0, &s));
            }
        }
        for (m, depth, _) in GROUP_PUBLISHED {
            if all_models().any(|x| x.name == m) {
                for t in GROUP_TASKS {
                    check_config(&config(t, m, depth, 0, &s));
                }
            }
        }
    }
}

#[test]
fn published_rows_average_to_table_2s_average_column() {
    // Table 2's "Average" column (assets/fsa_table.png), read apart from the cells.
    let averages = [
        ("lstm", 100.0),
        ("transformer", 47.7),
        ("mamba", 60.8),
        ("deltanet", 62.9),
        ("deltanet11", 77.1),
        ("gated_deltanet", 65.6),
        ("gdp11", 79.5),
        ("rwkv7", 54.6),
        ("complex_diagonal", 73.6),
        ("slstm", 68.5),
        ("pd_ssm", 98.8),
    ];
    for (name, avg) in averages {
        let m = all_models().find(|m| m.name == name).unwrap();
        let cells: Vec<f64> = m.published.iter().map(|p| p.unwrap().mean).collect();
        let mean = cells.iter().sum::<f64>() / 4.0;
        assert!((mean - avg).abs() <= 0.051, "{name}: {mean} vs {avg}");
    }
}

#[test]
fn summary_is_max_mean_and_population_std() {
    let (max, mean, std) = table::summary(&[50.0, 60.0, 100.0]).unwrap();
    assert_eq!(max, 100.0);
    assert!((mean - 70.0).abs() < 1e-12);
    // sqrt(((−20)² + (−10)² + 30²) / 3) = sqrt(1400 / 3)
    assert!((std - (1400.0f64 / 3.0).sqrt()).abs() < 1e-12);
    assert!(table::summary(&[]).is_none());
}

#[test]
fn shipped_sweep_files_are_the_default_grid_and_load() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/state_tracking_table");
    let fresh = tempfile::tempdir().unwrap();
    let s = Settings::new(false);
    let models: Vec<&Model> = MODELS.iter().collect();
    let tasks: Vec<&TableTask> = TASKS.iter().collect();
    sweeps::write_sweep_files(fresh.path(), &models, &tasks, &s, |m| {
        format!("{}/{m}", sweeps::SHIPPED_RUNS)
    })
    .unwrap();
    // `STATE_TRACKING_TABLE_BLESS=1 cargo test --example state_tracking_table shipped`
    // rewrites the shipped files from the example (after a change of its default grid).
    if std::env::var_os("STATE_TRACKING_TABLE_BLESS").is_some() {
        sweeps::write_sweep_files(&shipped, &models, &tasks, &s, |m| {
            format!("{}/{m}", sweeps::SHIPPED_RUNS)
        })
        .unwrap();
    }
    for m in &MODELS {
        for file in ["base.toml", "sweep.toml"] {
            let want = std::fs::read_to_string(fresh.path().join(m.name).join(file)).unwrap();
            let got =
                std::fs::read_to_string(shipped.join(m.name).join(file)).unwrap_or_else(|e| {
                    panic!(
                        "{}/{file}: {e} (regenerate: STATE_TRACKING_TABLE_BLESS=1)",
                        m.name
                    )
                });
            assert_eq!(
                got, want,
                "{}/{file} differs from the example's default grid",
                m.name
            );
        }
        let sweep = kt::sweep::load(&shipped.join(m.name).join("sweep.toml")).unwrap();
        assert_eq!(sweep.runs.len(), 4 * 3, "{}", m.name);
        for run in &sweep.runs {
            check_run_config(&run.config);
            assert!(TASKS.iter().any(|t| t.name == run.config.task.name));
        }
        let tasks: std::collections::BTreeSet<&str> = sweep
            .runs
            .iter()
            .map(|r| r.config.task.name.as_str())
            .collect();
        assert_eq!(tasks.len(), 4, "{}", m.name);
    }
}

/// Tiny settings: 4 steps evaluated twice, 3 test lengths of 4 sequences.
fn tiny() -> Settings {
    Settings {
        d: 8,
        layers: 1,
        steps: 4,
        batch: 4,
        evals: 2,
        len_step: 108,
        samples: 4,
        seeds: 2,
        full: false,
    }
}

#[test]
fn staged_runs_score_every_checkpoint_and_end_where_one_run_ends() {
    let root = tempfile::tempdir().unwrap();
    let s = tiny();
    let plan: Vec<Plan> = (0..2)
        .map(|seed| ("pdssm-parity", "lstm", 1, seed))
        .collect();
    let runs = run_all(kt::BackendKind::Ndarray, &plan, &s, root.path(), 2).unwrap();
    assert_eq!(runs.len(), 2);
    for r in &runs {
        let steps: Vec<u64> = r.checkpoints.iter().map(|c| c.0).collect();
        assert_eq!(steps, [2, 4]);
        assert!(r.checkpoints.iter().all(|c| (0.0..=100.0).contains(&c.1)));
        // The stopped-and-resumed run ends with the one-shot run's model: same final score.
        let text = config(r.task, r.model, r.layers, r.seed, &s);
        let once = run_toml(
            kt::BackendKind::Ndarray,
            &text,
            "once",
            &root.path().join(format!("once{}", r.seed)),
        )
        .unwrap();
        assert_eq!(score(&once.report), r.checkpoints[1].1);
        assert_eq!(r.best(), r.checkpoints[0].1.max(r.checkpoints[1].1));
    }
    // Again: the finished runs are re-evaluated, their earlier checkpoint's score kept.
    let again = run_all(kt::BackendKind::Ndarray, &plan, &s, root.path(), 1).unwrap();
    for (a, b) in runs.iter().zip(&again) {
        assert_eq!(a.checkpoints, b.checkpoints);
    }
    let lstm = MODELS.iter().find(|m| m.name == "lstm").unwrap();
    let parity = TASKS.iter().find(|t| t.short == "parity").unwrap();
    let md = table::markdown(&runs, &[lstm], &[parity], &s, false);
    assert!(md.contains("| LSTM |"), "{md}");
    assert!(md.contains("(100.0 ± 0.0)"), "{md}");
    assert!(md.contains("reduced CPU protocol"), "{md}");
    let svgs = table::write_svgs(&runs, root.path()).unwrap();
    assert_eq!(svgs.len(), 1);
    let svg = std::fs::read_to_string(&svgs[0]).unwrap();
    assert!(svg.starts_with("<svg") || svg.contains("<svg"), "{svg}");
    assert!(svg.contains("LSTM"));
}

fn fake(task: &'static str, model: &'static str, layers: usize, seed: u64, scores: &[f64]) -> Run {
    Run {
        task,
        model,
        layers,
        seed,
        dir: PathBuf::new(),
        checkpoints: scores
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as u64, v))
            .collect(),
    }
}

#[test]
fn tables_show_the_best_checkpoint_per_seed_beside_the_published_cell() {
    let s = Settings::new(false);
    // Seed scores = best checkpoints 95 and 90: max 95, mean 92.5, std 2.5.
    let runs = [
        fake("a5-k2", "gdp11", 1, 0, &[40.0, 95.0, 60.0]),
        fake("a5-k2", "gdp11", 1, 1, &[90.0, 20.0]),
        fake("a5-k2", "gdp11", 2, 0, &[10.0]),
    ];
    let md = table::groups_markdown(&runs, &s);
    let depth1 = md
        .lines()
        .find(|l| l.starts_with("| Gated DeltaProduct [-1,1] | 1 |"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(depth1.contains("| 95.0 / 92.5 ± 2.5 (97.9) |"), "{depth1}");
    assert!(depth1.contains("| – (1.23) |"), "{depth1}");
    let depth2 = md
        .lines()
        .find(|l| l.starts_with("| Gated DeltaProduct [-1,1] | 2 |"))
        .unwrap();
    assert!(depth2.contains("| 10.0 / 10.0 ± 0.0 (—) |"), "{depth2}");
    // Models without runs have no row.
    assert!(!md.contains("ℂ diagonal"), "{md}");

    // Table 2: the average column needs every task.
    let mamba = MODELS.iter().find(|m| m.name == "mamba").unwrap();
    let all: Vec<&TableTask> = TASKS.iter().collect();
    let runs: Vec<Run> = TASKS
        .iter()
        .zip([10.0, 20.0, 30.0, 40.0])
        .map(|(t, v)| fake(t.name, "mamba", 2, 0, &[v]))
        .collect();
    let md = table::markdown(&runs, &[mamba], &all, &s, true);
    let row = md.lines().find(|l| l.starts_with("| Mamba |")).unwrap();
    assert!(row.contains("| 10.0 / 10.0 ± 0.0 (50.7 ± 7.8) |"), "{row}");
    // kleene 25.0 = (10 + 20 + 30 + 40) / 4; published (50.7 + 100 + 38.1 + 54.5) / 4 = 60.825.
    assert!(row.ends_with("| 25.0 (60.8) |"), "{row}");
    assert!(md.contains("final checkpoint's"), "{md}");
}
