//! `kleene sweep SWEEP.toml --slurm [--submit]`: the sweep as a Slurm job array plus a report
//! job (kleene-train's `slurm` module writes the scripts), and `kleene sweep status SWEEP.toml`.

use std::path::{Path, PathBuf};

use clap::Args;
use kleene_train::slurm::{submit, write_scripts, SlurmOptions};
use kleene_train::sweep::{load, Sweep};
use kleene_train::sweep_status::{status_table, sweep_status};

#[derive(Args)]
#[command(next_help_heading = "Slurm")]
pub struct SlurmArgs {
    /// Write an sbatch job array for the sweep (one task per run, or --array-tasks shards)
    /// and a report job into SWEEP_DIR/slurm/, and print how to submit them.
    #[arg(long)]
    pub slurm: bool,
    /// Write the scripts (as --slurm) and submit them with sbatch; prints the job ids.
    #[arg(long)]
    pub submit: bool,
    /// sbatch --partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// sbatch --time per array task (e.g. 02:00:00); the task checkpoints and requeues itself
    /// --signal-grace seconds before it.
    #[arg(long)]
    pub time: Option<String>,
    /// sbatch --cpus-per-task.
    #[arg(long)]
    pub cpus_per_task: Option<u32>,
    /// sbatch --mem per task (e.g. 8G).
    #[arg(long)]
    pub mem: Option<String>,
    /// sbatch --gpus per task (e.g. 1); use with a `--features cuda` build and --backend cuda.
    #[arg(long)]
    pub gpus: Option<String>,
    /// At most K array tasks at once (--array=0-N%K).
    #[arg(long, value_name = "K")]
    pub max_parallel: Option<usize>,
    /// Number of array tasks (shards of the grid); default one per run.
    #[arg(long, value_name = "N")]
    pub array_tasks: Option<usize>,
    /// Seconds before --time at which a task checkpoints and requeues itself.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub signal_grace: u32,
    /// An extra sbatch line for both scripts, e.g. --sbatch-line=--account=lab (repeatable).
    #[arg(long, value_name = "LINE", allow_hyphen_values = true)]
    pub sbatch_line: Vec<String>,
    /// The kleene binary the tasks run (default: this one), e.g. where it is installed on the
    /// cluster's nodes.
    #[arg(long, value_name = "PATH")]
    pub kleene_bin: Option<PathBuf>,
}

impl SlurmArgs {
    /// Whether a Slurm script was asked for.
    pub fn wanted(&self) -> bool {
        self.slurm || self.submit
    }
}

/// Writes the scripts and, with `--submit`, submits them.
pub fn write_and_submit(
    sweep: &Sweep,
    sweep_file: &Path,
    backend: &str,
    args: &SlurmArgs,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = SlurmOptions::new()?;
    opts.partition = args.partition.clone();
    opts.time = args.time.clone();
    opts.cpus_per_task = args.cpus_per_task;
    opts.mem = args.mem.clone();
    opts.gpus = args.gpus.clone();
    opts.max_parallel = args.max_parallel;
    opts.array_tasks = args.array_tasks;
    opts.grace_s = args.signal_grace;
    opts.extra = args.sbatch_line.clone();
    opts.backend = backend.to_string();
    if let Some(bin) = &args.kleene_bin {
        opts.kleene = std::path::absolute(bin)?;
    }
    // The manifest first: the report job and `sweep status` read it.
    sweep.write_manifest()?;
    let scripts = write_scripts(sweep, sweep_file, &opts)?;
    eprintln!(
        "wrote {} ({} array task(s) over {} runs) and {}; logs go to {}",
        scripts.array.display(),
        scripts.tasks,
        sweep.runs.len(),
        scripts.report.display(),
        scripts.logs.display()
    );
    if !args.submit {
        eprintln!(
            "submit with:\n  jobid=$(sbatch --parsable {})\n  sbatch --dependency=afterany:$jobid {}\n\
             or run `kleene sweep {} --submit` (same options)",
            scripts.array.display(),
            scripts.report.display(),
            sweep_file.display()
        );
        return Ok(());
    }
    let jobs = submit(&scripts)?;
    println!("array job {} ({} tasks)", jobs.array_job, scripts.tasks);
    println!("report job {} (after the array)", jobs.report_job);
    eprintln!(
        "follow with `squeue -j {},{}` and `kleene sweep status {}`",
        jobs.array_job,
        jobs.report_job,
        sweep_file.display()
    );
    Ok(())
}

/// `kleene sweep status SWEEP.toml [--json]`.
pub fn status(sweep_file: &Path, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let sweep = load(sweep_file)?;
    let statuses = sweep_status(&sweep);
    if json {
        for s in &statuses {
            println!("{}", serde_json::to_string(s)?);
        }
    } else {
        println!(
            "sweep {} -> {}",
            sweep_file.display(),
            sweep.out_dir.display()
        );
        print!("{}", status_table(&statuses));
    }
    Ok(())
}
