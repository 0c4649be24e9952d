//! `kleene data …`: list tasks, generate splits, check data files.
//!
//! Layouts written by `gen --format published` (the published releases' layouts):
//! - Bhattamishra suite: `DIR/<Folder>/train_src.txt`, `train_tgt.txt`,
//!   `val_src_bin0.txt`, `val_tgt_bin0.txt`, … (no trailing newline);
//!   `-exact` variants use `DIR/<Folder>-exact/`.
//! - flip-flop: `DIR/flipflop/<split>.txt`, one `w0i1r0…` line per sequence.
//! - bounded Dyck: `DIR/k8_m10_tr2000000.<split>`, one `(a (b b) a) END` line per sample.
//! - any task with `--format jsonl`: `DIR/<task>/<split>.jsonl`, one example per line.
//!
//! `check <task> DIR` reads every data file in DIR (or in `DIR/<Folder>` / `DIR/<task>`
//! when DIR holds those), validates format, membership and targets, prints
//! `file:line: reason` per error and fails when there is any.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use kleene_langs::bhattamishra::SuiteTask;
use kleene_langs::bounded_dyck::BoundedDyck;
use kleene_langs::flipflop::{self, FlipFlop};
use kleene_langs::{io, Example, LangError, PublishedLayout, SplitSpec, Task};

mod check;
use check::check;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Every task with a one-line description.
    List,
    /// Generate a task's splits (all of them unless --split is given).
    Gen {
        /// Task name or alias (see `kleene data list`), e.g. `tomita-3`, `Dyck1`.
        task: String,
        /// Only this split (e.g. `train`, `bin1`, `val_sparse`, `dev`).
        #[arg(long)]
        split: Option<String>,
        /// Seed: the same seed gives byte-identical files.
        #[arg(long)]
        seed: u64,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// File format.
        #[arg(long, value_enum, default_value_t = Format::Published)]
        format: Format,
        /// Cap each split at this many examples (default: the published sizes); >= 1.
        #[arg(long)]
        size: Option<usize>,
        /// Overwrite data files that already exist in the output folder (refused otherwise:
        /// they may hold another seed's data).
        #[arg(long)]
        force: bool,
    },
    /// Validate every data file of a task in a folder; non-zero exit on any error.
    Check {
        /// Task name or alias.
        task: String,
        /// Folder holding the files.
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The published text layout of the task's family.
    Published,
    /// One JSON example per line, any task.
    Jsonl,
}

/// The concrete family of a task, for the family's published layout.
enum Family {
    Suite(Box<SuiteTask>),
    FlipFlop(FlipFlop),
    BoundedDyck(BoundedDyck),
    /// Any other task: JSONL only.
    Other,
}

/// The task's published layout: the Bhattamishra suite's from the suite itself, the
/// others as the task declares it (`Task::published_layout`).
fn family_of(task: &dyn Task) -> Result<Family, LangError> {
    if let Some(t) = kleene_langs::bhattamishra::by_name(task.name()) {
        return Ok(Family::Suite(Box::new(t)));
    }
    Ok(match task.published_layout() {
        Some(PublishedLayout::FlipFlop(config)) => Family::FlipFlop(FlipFlop::new(config)?),
        Some(PublishedLayout::BoundedDyck(config)) => {
            Family::BoundedDyck(BoundedDyck::new(config)?)
        }
        None => Family::Other,
    })
}

/// Runs a data command; returns the process exit code.
pub fn run(command: DataCommand) -> i32 {
    let result = match command {
        DataCommand::List => {
            list();
            Ok(0)
        }
        DataCommand::Gen {
            task,
            split,
            seed,
            out,
            format,
            size,
            force,
        } => generate(&task, split.as_deref(), seed, &out, format, size, force).map(|_| 0),
        DataCommand::Check { task, dir } => check(&task, &dir),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn list() {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    for info in kleene_langs::all_tasks() {
        let aliases = if info.aliases.is_empty() {
            String::new()
        } else {
            format!("  (also: {})", info.aliases.join(", "))
        };
        // A closed pipe (`kleene data list | head`) just ends the listing.
        let line = format!(
            "{:<28} {}{}",
            info.task.name(),
            info.task.description(),
            aliases
        );
        if writeln!(stdout, "{line}").is_err() {
            return;
        }
    }
}

fn generate(
    name: &str,
    split: Option<&str>,
    seed: u64,
    out: &Path,
    format: Format,
    size: Option<usize>,
    force: bool,
) -> Result<(), LangError> {
    let task = kleene_langs::task_by_name(name)?;
    let family = family_of(task.as_ref())?;
    // Empty files would only be rejected later by `data check`.
    if size == Some(0) {
        return Err(LangError::InvalidConfig {
            task: task.name().into(),
            field: "--size".into(),
            reason: "must be >= 1 (0 would write empty files)".into(),
        });
    }
    if format == Format::Published && matches!(family, Family::Other) {
        return Err(LangError::InvalidConfig {
            task: task.name().into(),
            field: "format".into(),
            reason: "this task has no published text format; use --format jsonl".into(),
        });
    }
    let mut splits = task.splits();
    if let Some(s) = split {
        splits.retain(|x| x.name == s);
        if splits.is_empty() {
            return Err(LangError::UnknownSplit {
                task: task.name().into(),
                split: s.into(),
                available: task
                    .splits()
                    .iter()
                    .map(|x| x.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    // Existing files are not silently replaced (they may be another seed's data).
    if !force {
        for spec in &splits {
            if let Some(path) = output_paths(task.as_ref(), &family, out, &spec.name, format)
                .into_iter()
                .find(|p| p.exists())
            {
                return Err(LangError::io(
                    &path,
                    std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "already exists: pass --force to overwrite it, or choose another --out",
                    ),
                ));
            }
        }
    }
    let started = Instant::now();
    let total: u64 = splits
        .iter()
        .map(|s| size.map_or(s.size, |n| n.min(s.size)) as u64)
        .sum();
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg:<24} [{bar:30}] {pos}/{len} examples ({elapsed})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    // Flip-flop's published text is streamed to disk (the train split is 820 MB).
    if let (Format::Published, Family::FlipFlop(ff)) = (format, &family) {
        let mut files = 0;
        for spec in &splits {
            bar.set_message(format!("{} {}", task.name(), spec.name));
            let n = size.map_or(spec.size, |n| n.min(spec.size));
            let path = out.join("flipflop").join(format!("{}.txt", spec.name));
            ff.write_text_split(&path, &spec.name, n, seed, &mut |k| bar.inc(k))?;
            files += 1;
        }
        bar.finish_and_clear();
        eprintln!(
            "{}: {total} sequences in {files} files under {} ({:.2}s)",
            task.name(),
            out.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    // Whole-release generation shares the corpus of corpus-split languages.
    let generated: Vec<(SplitSpec, Vec<Example>)> = if split.is_none() && size.is_none() {
        bar.set_message(format!("{} (all splits)", task.name()));
        task.generate_all_splits(seed)?
    } else {
        let mut v = Vec::new();
        for spec in splits {
            bar.set_message(format!("{} {}", task.name(), spec.name));
            let mut spec = spec;
            if let Some(n) = size {
                spec.size = spec.size.min(n);
            }
            let mut ex = task.generate_split(&spec, seed)?;
            if let Some(n) = size {
                ex.truncate(n);
            }
            bar.inc(spec.size as u64);
            v.push((spec, ex));
        }
        v
    };
    bar.set_position(total);
    let mut written = Vec::new();
    for (spec, examples) in &generated {
        bar.set_message(format!("writing {}", spec.name));
        written.extend(write_split(
            task.as_ref(),
            &family,
            out,
            &spec.name,
            examples,
            format,
        )?);
    }
    bar.finish_and_clear();
    let n: usize = generated.iter().map(|(_, e)| e.len()).sum();
    eprintln!(
        "{}: {} examples in {} files under {} ({:.2}s)",
        task.name(),
        n,
        written.len(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The files [`write_split`] writes for `split` (nothing for a task without a published
/// format, which `generate` refuses first).
fn output_paths(
    task: &dyn Task,
    family: &Family,
    out: &Path,
    split: &str,
    format: Format,
) -> Vec<PathBuf> {
    if format == Format::Jsonl {
        return vec![out.join(task.name()).join(format!("{split}.jsonl"))];
    }
    match family {
        Family::Suite(s) => {
            let (src, tgt) = io::published_file_names(split);
            let dir = out.join(suite_folder(s));
            vec![dir.join(src), dir.join(tgt)]
        }
        Family::FlipFlop(_) => vec![out.join("flipflop").join(format!("{split}.txt"))],
        Family::BoundedDyck(d) => vec![out.join(format!("{}.{split}", d.file_stem()))],
        Family::Other => Vec::new(),
    }
}

fn write_split(
    task: &dyn Task,
    family: &Family,
    out: &Path,
    split: &str,
    examples: &[Example],
    format: Format,
) -> Result<Vec<PathBuf>, LangError> {
    if format == Format::Jsonl {
        let path = out.join(task.name()).join(format!("{split}.jsonl"));
        io::write_jsonl(&path, examples)?;
        return Ok(vec![path]);
    }
    match family {
        Family::Suite(s) => {
            let (a, b) =
                io::write_published_split(task, &out.join(suite_folder(s)), split, examples)?;
            Ok(vec![a, b])
        }
        Family::FlipFlop(_) => {
            let path = out.join("flipflop").join(format!("{split}.txt"));
            flipflop::write_text(&path, examples)?;
            Ok(vec![path])
        }
        Family::BoundedDyck(d) => {
            let path = out.join(format!("{}.{split}", d.file_stem()));
            let samples: Vec<Vec<u32>> = examples
                .iter()
                .filter_map(BoundedDyck::sample_of_example)
                .collect();
            d.write_file(&path, &samples)?;
            Ok(vec![path])
        }
        Family::Other => unreachable!("checked before generation"),
    }
}

fn suite_folder(s: &SuiteTask) -> String {
    match s.fidelity() {
        kleene_langs::bhattamishra::Fidelity::Faithful => s.folder().to_string(),
        kleene_langs::bhattamishra::Fidelity::Definition => format!("{}-exact", s.folder()),
    }
}
