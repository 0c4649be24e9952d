//! Sweeps: a grid of overrides over a base run config, run one after another or as shard
//! `i` of `n` (for cluster job arrays); finished runs (with a `result.json`) are skipped.
//!
//! ```toml
//! base = "quickstart.toml"        # relative to the sweep file
//! out_dir = "runs/sweep"          # default: runs/<sweep file stem>
//! [grid]
//! "model.d_model" = [32, 64]
//! "model.n_layers" = [1, 2]
//! "training.lr" = [1e-3, 3e-4]
//! "training.seed" = [0, 1, 2]
//! ```
//!
//! The sweep directory (`out_dir`) holds one run directory per grid point, a manifest
//! `sweep.json` (the run names in grid order) and, once every run of every shard has its
//! `result.json`, the combined report: `report.md`, `report.json` and one
//! `<experiment>.svg` (kleene-eval's [`Report`], cells mean [min, max] over seeds). Rows
//! are models: the run's model label plus every grid value other than `training.seed`
//! that the label does not already show ([`sweep_row_label`]), so seeds aggregate into
//! one row while e.g. two learning rates stay apart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kleene_eval::{Report, RunResult};
use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::TrainError;

/// The sweep file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Base run config, relative to the sweep file.
    pub base: PathBuf,
    /// Parent of the run directories; default `runs/<sweep file stem>`.
    #[serde(default)]
    pub out_dir: Option<PathBuf>,
    /// `"section.field"` -> values; the grid is their Cartesian product (keys in sorted order).
    pub grid: BTreeMap<String, Vec<toml::Value>>,
}

/// One point of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRun {
    /// Position in the full grid (shards take `index % n == i`).
    pub index: usize,
    /// e.g. `model.d_model=32,training.lr=0.001`.
    pub name: String,
    pub run_dir: PathBuf,
    pub config: RunConfig,
}

impl SweepRun {
    /// A run counts as finished once its evaluation is written, or its divergence recorded
    /// ([`SweepRun::record_diverged`]).
    pub fn is_finished(&self) -> bool {
        self.run_dir.join("result.json").is_file()
    }

    /// Records that the run diverged in training (`reason`: the trainer's message), as its
    /// `result.json` with `diverged` set and no evaluation: the sweep goes on, a re-run
    /// skips it, and the combined report lists it apart.
    pub fn record_diverged(&self, reason: &str) -> Result<PathBuf, TrainError> {
        let task = kleene_langs::task_by_name(&self.config.task.name)?;
        let info = crate::evaluate::run_info(&self.config, task.as_ref(), &self.run_dir);
        let mut result = RunResult::new(info.run, info.experiment, info.model, info.seed);
        result.loss = Some(crate::evaluate::loss_name(self.config.training.loss));
        result.diverged = Some(reason.to_string());
        let path = self.run_dir.join("result.json");
        result.write_json(&path)?;
        Ok(path)
    }
}

fn short(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A loaded sweep: its directory and every run of the grid, in grid order.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// Parent of the run directories; the combined report is written here.
    pub out_dir: PathBuf,
    pub runs: Vec<SweepRun>,
}

/// The manifest `sweep.json` in the sweep directory: run names in grid order, so that
/// `kleene report SWEEP_DIR` knows which runs belong to the sweep and in which order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepManifest {
    pub runs: Vec<String>,
}

/// File name of [`SweepManifest`] in a sweep directory.
pub const MANIFEST: &str = "sweep.json";

/// Loads a sweep file and expands its grid into run configs.
pub fn expand(path: &Path) -> Result<Vec<SweepRun>, TrainError> {
    load(path).map(|s| s.runs)
}

/// Loads a sweep file: its directory and its runs (see [`expand`]).
pub fn load(path: &Path) -> Result<Sweep, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let sweep: SweepConfig = toml::from_str(&text).map_err(|e| TrainError::ConfigSyntax {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let base_path = path.parent().unwrap_or(Path::new(".")).join(&sweep.base);
    let base_text =
        std::fs::read_to_string(&base_path).map_err(|e| TrainError::io(&base_path, e))?;
    let base: toml::Table = toml::from_str(&base_text).map_err(|e| TrainError::ConfigSyntax {
        path: base_path.clone(),
        message: e.to_string(),
    })?;
    let out_dir = sweep.out_dir.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sweep".into()),
        )
    });
    for (key, values) in &sweep.grid {
        if values.is_empty() {
            return Err(TrainError::invalid(
                format!("grid.\"{key}\""),
                "has no values",
            ));
        }
        // A value twice would make two runs of one config, counted twice in the report.
        if let Some((i, v)) = values
            .iter()
            .enumerate()
            .find(|(i, v)| values[..*i].contains(v))
        {
            return Err(TrainError::invalid(
                format!("grid.\"{key}\""),
                format!("has the value {v} twice (positions {} and {}): each grid value must be distinct", values.iter().position(|w| w == v).unwrap() + 1, i + 1),
            ));
        }
        if key.split('.').count() != 2 {
            return Err(TrainError::invalid(
                format!("grid.\"{key}\""),
                "keys are `section.field`, e.g. \"model.d_model\"",
            ));
        }
    }
    let keys: Vec<&String> = sweep.grid.keys().collect();
    let total: usize = sweep.grid.values().map(|v| v.len()).product();
    let mut runs = Vec::with_capacity(total);
    for index in 0..total {
        let mut table = base.clone();
        let mut rest = index;
        let mut parts = Vec::new();
        // Last key varies fastest.
        let mut picks = vec![0usize; keys.len()];
        for (k, key) in keys.iter().enumerate().rev() {
            let n = sweep.grid[*key].len();
            picks[k] = rest % n;
            rest /= n;
        }
        for (k, key) in keys.iter().enumerate() {
            let value = sweep.grid[*key][picks[k]].clone();
            let (section, field) = key.split_once('.').expect("checked above");
            let sec = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match sec {
                toml::Value::Table(t) => {
                    t.insert(field.to_string(), value.clone());
                }
                _ => {
                    return Err(TrainError::invalid(
                        format!("grid.\"{key}\""),
                        format!("`{section}` is not a table in the base config"),
                    ))
                }
            }
            parts.push(format!("{}={}", field, short(&value)));
        }
        let name = if parts.is_empty() {
            "run".to_string()
        } else {
            parts.join(",")
        };
        let run_dir = out_dir.join(&name);
        let mut config = RunConfig::parse(&toml::to_string(&table).expect("table"), &base_path)
            .map_err(|e| match e {
                TrainError::InvalidConfig { field, reason } => TrainError::InvalidConfig {
                    field,
                    reason: format!("{reason} (in sweep run `{name}`)"),
                },
                other => other,
            })?;
        config.out_dir = Some(run_dir.clone());
        runs.push(SweepRun {
            index,
            name,
            run_dir,
            config,
        });
    }
    Ok(Sweep { out_dir, runs })
}

impl Sweep {
    /// Writes `sweep.json` (atomically; every shard writes the same content).
    pub fn write_manifest(&self) -> Result<PathBuf, TrainError> {
        let path = self.out_dir.join(MANIFEST);
        let manifest = SweepManifest {
            runs: self.runs.iter().map(|r| r.name.clone()).collect(),
        };
        kleene_eval::io::write_json_atomic(&path, &manifest)?;
        Ok(path)
    }

    /// Writes the combined report into [`Sweep::out_dir`] when every run is finished.
    pub fn write_report(&self) -> Result<SweepReport, TrainError> {
        write_sweep_dir_report(&self.out_dir)
    }
}

/// What [`write_sweep_dir_report`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepReport {
    /// The report over all runs: the paths written and the report itself.
    Written { paths: Vec<PathBuf>, report: Report },
    /// Some runs (e.g. other shards') have no `result.json` yet: nothing written.
    Incomplete {
        finished: usize,
        total: usize,
        missing: Vec<String>,
    },
}

/// A sweep run's row label: its model label, then every `field=value` of the run name
/// (the grid point) other than the seed that the label does not already contain.
pub fn sweep_row_label(model: &str, run_name: &str) -> String {
    let shown: Vec<&str> = model.split_whitespace().collect();
    let mut label = model.to_string();
    for part in run_name.split(',') {
        if part.starts_with("seed=") || part == "run" || shown.contains(&part) {
            continue;
        }
        label.push(' ');
        label.push_str(part);
    }
    label
}

/// Whether `dir` is a sweep directory (it has a `sweep.json`).
pub fn is_sweep_dir(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

/// The `result.json` of every run of the sweep in `dir` (grid order, rows relabelled with
/// [`sweep_row_label`]); `Err(missing run names)` when some are not finished.
pub fn sweep_dir_results(dir: &Path) -> Result<Result<Vec<RunResult>, Vec<String>>, TrainError> {
    let manifest: SweepManifest = kleene_eval::io::read_json(&dir.join(MANIFEST))?;
    let missing: Vec<String> = manifest
        .runs
        .iter()
        .filter(|n| !dir.join(n).join("result.json").is_file())
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Ok(Err(missing));
    }
    let mut results = Vec::with_capacity(manifest.runs.len());
    for name in &manifest.runs {
        let mut r = RunResult::read_json(&dir.join(name).join("result.json"))?;
        r.model = sweep_row_label(&r.model, name);
        results.push(r);
    }
    Ok(Ok(results))
}

/// Writes `report.md`, `report.json` and the SVGs of the sweep in `dir` into `dir`
/// (atomically, through kleene-eval) once every run listed in its `sweep.json` is finished.
pub fn write_sweep_dir_report(dir: &Path) -> Result<SweepReport, TrainError> {
    let manifest: SweepManifest = kleene_eval::io::read_json(&dir.join(MANIFEST))?;
    match sweep_dir_results(dir)? {
        Err(missing) => Ok(SweepReport::Incomplete {
            finished: manifest.runs.len() - missing.len(),
            total: manifest.runs.len(),
            missing,
        }),
        Ok(results) => {
            let report = Report::from_runs(&results)?;
            let paths = report.write_all(dir)?;
            Ok(SweepReport::Written { paths, report })
        }
    }
}

/// Parses `i/n` (0-based shard `i` of `n`).
pub fn parse_shard(s: &str) -> Result<(usize, usize), TrainError> {
    let err = || TrainError::invalid("--shard", format!("`{s}` is not `i/n` with 0 <= i < n"));
    let (i, n) = s.split_once('/').ok_or_else(err)?;
    let i: usize = i.trim().parse().map_err(|_| err())?;
    let n: usize = n.trim().parse().map_err(|_| err())?;
    if n == 0 || i >= n {
        return Err(err());
    }
    Ok((i, n))
}

/// The shard of a Slurm array task, from its environment (`lookup` reads a variable): task
/// `SLURM_ARRAY_TASK_ID` of an array `MIN..=MAX` with step 1 is shard `ID - MIN` of
/// `SLURM_ARRAY_TASK_COUNT`. `Ok(None)` outside an array job. An array with gaps or a step
/// (`--array=0-9:2`, `--array=1,5`) cannot be mapped onto shards and is refused.
pub fn shard_from_slurm_env(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<(usize, usize)>, TrainError> {
    let Some(id) = lookup("SLURM_ARRAY_TASK_ID") else {
        return Ok(None);
    };
    let number = |name: &str| -> Result<usize, TrainError> {
        let text = lookup(name).ok_or_else(|| {
            TrainError::invalid(
                name,
                "is not set although SLURM_ARRAY_TASK_ID is (pass --shard i/n)",
            )
        })?;
        text.trim().parse().map_err(|_| {
            TrainError::invalid(name, format!("`{text}` is not a non-negative integer"))
        })
    };
    let id: usize = id.trim().parse().map_err(|_| {
        TrainError::invalid(
            "SLURM_ARRAY_TASK_ID",
            format!("`{id}` is not a non-negative integer"),
        )
    })?;
    let count = number("SLURM_ARRAY_TASK_COUNT")?;
    let min = number("SLURM_ARRAY_TASK_MIN")?;
    let max = number("SLURM_ARRAY_TASK_MAX")?;
    let step = lookup("SLURM_ARRAY_TASK_STEP")
        .map(|_| number("SLURM_ARRAY_TASK_STEP"))
        .transpose()?
        .unwrap_or(1);
    if step != 1 || max < min || max - min + 1 != count || id < min || id > max {
        return Err(TrainError::invalid(
            "SLURM_ARRAY_TASK_ID",
            format!(
                "task {id} of an array {min}..={max} (step {step}, {count} tasks) is not shard i of n:                  submit `--array=0-{}` (as `kleene sweep --slurm` writes it) or pass --shard i/n",
                count.saturating_sub(1)
            ),
        ));
    }
    Ok(Some((id - min, count)))
}

/// The runs of shard `i` of `n`.
pub fn shard(runs: Vec<SweepRun>, i: usize, n: usize) -> Vec<SweepRun> {
    runs.into_iter().filter(|r| r.index % n == i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_expands_in_order_and_shards_partition_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("base.toml"),
            "[task]\nname = \"parity\"\n[model]\nkind = \"sdssm\"\n[training]\nsteps = 10\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("s.toml"),
            format!(
                "base = \"base.toml\"\nout_dir = \"{}\"\n[grid]\n\"training.lr\" = [0.1, 0.01]\n\"training.seed\" = [0, 1, 2]\n",
                dir.path().join("out").display()
            ),
        )
        .unwrap();
        let runs = expand(&dir.path().join("s.toml")).unwrap();
        assert_eq!(runs.len(), 6);
        assert_eq!(runs[0].name, "lr=0.1,seed=0");
        assert_eq!(runs[1].name, "lr=0.1,seed=1");
        assert_eq!(runs[5].name, "lr=0.01,seed=2");
        assert_eq!(runs[4].config.training.lr, 0.01);
        assert_eq!(runs[4].config.training.seed, 1);
        assert_eq!(runs[4].config.training.steps, 10);
        let mut seen: Vec<usize> = (0..3)
            .flat_map(|i| shard(runs.clone(), i, 3).into_iter().map(|r| r.index))
            .collect();
        seen.sort();
        assert_eq!(seen, (0..6).collect::<Vec<_>>());
        assert!(!runs[0].is_finished());
        std::fs::create_dir_all(&runs[0].run_dir).unwrap();
        std::fs::write(runs[0].run_dir.join("result.json"), "{}").unwrap();
        assert!(runs[0].is_finished());
    }

    /// The error of expanding a sweep over a parity/SD-SSM base with this `[grid]` line.
    fn expand_error(grid_line: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("base.toml"),
            "[task]\nname = \"parity\"\n[model]\nkind = \"sdssm\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("s.toml"),
            format!("base = \"base.toml\"\n[grid]\n{grid_line}\n"),
        )
        .unwrap();
        expand(&dir.path().join("s.toml")).unwrap_err().to_string()
    }

    #[test]
    fn duplicate_grid_values_are_refused_naming_the_key() {
        let err = expand_error("\"training.seed\" = [0, 1, 0]");
        assert!(
            err.contains("training.seed") && err.contains("twice"),
            "{err}"
        );
    }

    /// A Slurm environment with these variables.
    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn slurm_array_tasks_map_onto_shards() {
        assert_eq!(shard_from_slurm_env(env(&[])).unwrap(), None);
        let a = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "3"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
        ];
        assert_eq!(shard_from_slurm_env(env(&a)).unwrap(), Some((2, 4)));
        // An array that starts at 1: task 4 is the last shard.
        let b = [
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
        ];
        assert_eq!(shard_from_slurm_env(env(&b)).unwrap(), Some((3, 4)));
        // `--array=0-6:2`: four tasks 0, 2, 4, 6 are no shard numbering.
        let c = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "6"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ];
        let err = shard_from_slurm_env(env(&c)).unwrap_err().to_string();
        assert!(err.contains("--shard") && err.contains("step 2"), "{err}");
        let d = [("SLURM_ARRAY_TASK_ID", "x")];
        let err = shard_from_slurm_env(env(&d)).unwrap_err().to_string();
        assert!(
            err.contains("SLURM_ARRAY_TASK_ID") && err.contains("`x`"),
            "{err}"
        );
        let e = [("SLURM_ARRAY_TASK_ID", "1")];
        let err = shard_from_slurm_env(env(&e)).unwrap_err().to_string();
        assert!(err.contains("SLURM_ARRAY_TASK_COUNT"), "{err}");
    }

    #[test]
    fn row_labels_add_grid_values_except_the_seed() {
        let m = "mamba d_model=8 n_layers=1";
        assert_eq!(sweep_row_label(m, "lr=0.01,seed=2"), format!("{m} lr=0.01"));
        // Already in the label (a `model.` grid key): not repeated.
        assert_eq!(sweep_row_label(m, "d_model=8,seed=0"), m);
        assert_eq!(sweep_row_label(m, "run"), m);
        assert_eq!(
            sweep_row_label(m, "d_model=8,lr=0.1,warmup=5,seed=0"),
            format!("{m} lr=0.1 warmup=5")
        );
    }

    #[test]
    fn bad_grid_values_name_the_run() {
        let err = expand_error("\"training.lr\" = [0.1, -1.0]");
        assert!(
            err.contains("training.lr") && err.contains("lr=-1.0"),
            "{err}"
        );
        assert!(parse_shard("3/2").is_err());
        assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
    }
}
