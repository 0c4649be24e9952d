//! The example's grid as `kleene sweep` files (one per model: its tasks x seeds), and the
//! table from their finished runs (docs/cluster.md).

use std::error::Error;
use std::path::Path;

use kleene::train::config::EvalProtocol;
use kleene::train::EvalReport;

use crate::models::Model;
use crate::{config, score, Run, Settings, TableTask, TASKS, TRAIN_MAX, TRAIN_MIN};

/// Where the shipped sweep files (`configs/state_tracking_table/`) put their runs, relative to
/// the directory `kleene sweep` runs in (the repository root). Used by the test that keeps
/// them equal to the default grid.
#[cfg_attr(not(test), allow(dead_code))]
pub const SHIPPED_RUNS: &str = "runs/state_tracking_table";

/// Writes `dir/<model>/base.toml` and `dir/<model>/sweep.toml` (grid: the tasks x the seeds)
/// for every model; `out_dir_of(model)` is the sweep's `out_dir`.
pub fn write_sweep_files(
    dir: &Path,
    models: &[&Model],
    tasks: &[&TableTask],
    s: &Settings,
    out_dir_of: impl Fn(&str) -> String,
) -> Result<usize, Box<dyn Error>> {
    let mut runs = 0;
    for m in models {
        let model_dir = dir.join(m.name);
        std::fs::create_dir_all(&model_dir)?;
        std::fs::write(
            model_dir.join("base.toml"),
            config(tasks[0].name, m.name, s.layers, 0, s),
        )?;
        let names: Vec<String> = tasks.iter().map(|t| format!("\"{}\"", t.name)).collect();
        let seeds: Vec<String> = (0..s.seeds).map(|x| x.to_string()).collect();
        std::fs::write(
            model_dir.join("sweep.toml"),
            format!(
                "# {}: PD-SSM Table 2's tasks x seeds, written by\n\
                 # `cargo run --release --example state_tracking_table -- --write-sweeps DIR{}`.\n\
                 # {}.\n# Sweep runs evaluate once: the table from them (`--from-sweeps`) scores the final checkpoint.\n\
                 base = \"base.toml\"\nout_dir = \"{}\"\n\n[grid]\n\"task.name\" = [{}]\n\"training.seed\" = [{}]\n",
                m.label,
                if s.full { " --full" } else { "" },
                s.describe(),
                out_dir_of(m.name),
                names.join(", "),
                seeds.join(", "),
            ),
        )?;
        runs += tasks.len() * s.seeds as usize;
    }
    Ok(runs)
}

/// `--write-sweeps DIR`: the sweep files, runs in `DIR/<model>/runs`, and `DIR/submit_all.sh`
/// (its arguments go to every `kleene sweep --submit`).
pub fn write_sweeps(
    dir: &Path,
    models: &[&Model],
    tasks: &[&TableTask],
    s: &Settings,
) -> Result<(), Box<dyn Error>> {
    let absolute = std::path::absolute(dir)?;
    let runs = write_sweep_files(dir, models, tasks, s, |m| {
        absolute.join(m).join("runs").display().to_string()
    })?;
    let script = dir.join("submit_all.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/bash\n# Submits every model's grid as a Slurm job array plus its report job.\n\
             # Arguments go to each `kleene sweep --submit`, e.g. --partition gpu --time 24:00:00.\n\
             set -euo pipefail\nfor f in {}/*/sweep.toml; do\n  \"${{KLEENE:-kleene}}\" sweep \"$f\" --submit \"$@\"\ndone\n",
            absolute.display()
        ),
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    }
    eprintln!(
        "wrote {} sweep files ({runs} runs) under {} and {}; after the jobs, `--from-sweeps {}` \
         prints the table",
        models.len(),
        dir.display(),
        script.display(),
        dir.display()
    );
    Ok(())
}

/// `--from-sweeps DIR`: the finished runs of `DIR/<model>/sweep.toml` for every model (a
/// model without a sweep file, or runs without a `result.json`, are left out and counted).
pub fn read_sweeps(
    dir: &Path,
    models: &[&'static Model],
    s: &Settings,
) -> Result<Vec<Run>, Box<dyn Error>> {
    let mut runs = Vec::new();
    let mut missing = 0;
    for m in models {
        let file = dir.join(m.name).join("sweep.toml");
        if !file.is_file() {
            eprintln!("{}: no sweep file, {} left out", file.display(), m.label);
            continue;
        }
        for run in kleene::train::sweep::load(&file)?.runs {
            let Ok(result) = kleene::eval::RunResult::read_json(&run.run_dir.join("result.json"))
            else {
                missing += 1;
                continue;
            };
            let task = TASKS
                .iter()
                .find(|t| t.name == run.config.task.name)
                .ok_or_else(|| {
                    format!(
                        "{}: task `{}` is not one of the table's",
                        run.run_dir.display(),
                        run.config.task.name
                    )
                })?;
            let report = EvalReport::from_result(
                result,
                task.name,
                EvalProtocol::Lengths,
                (TRAIN_MIN, TRAIN_MAX),
                run.config.training.steps,
            );
            runs.push(Run {
                task: task.name,
                model: m.name,
                layers: s.layers,
                seed: run.config.training.seed,
                dir: run.run_dir.clone(),
                checkpoints: vec![(run.config.training.steps, score(&report))],
            });
        }
    }
    if missing > 0 {
        eprintln!("{missing} run(s) without a result.json left out (`kleene sweep status DIR/<model>/sweep.toml`)");
    }
    Ok(runs)
}
