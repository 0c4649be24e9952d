//! What the paper examples share: their command-line flags, resumable runs, and reloading a
//! trained model from its run directory. (`examples/common/` is a module, not an example.)

#![allow(dead_code)] // each example uses the part it needs

use std::error::Error;
use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use kleene::train::{self as kt, BackendKind, RunConfig, TrainOptions};
use kleene::zoo::AnyModel;

/// The training backend of the examples and its inference (non-autodiff) counterpart.
pub type Train = kt::run::CpuBackend;
pub type Infer = burn_ndarray::NdArray<f32>;

/// `--full`, `--backend B`, `--out DIR`, `--jobs N` and, where the example has one, a
/// comma-separated selection flag (`--langs`, `--tasks`, `--models`).
pub struct ExampleArgs {
    pub full: bool,
    pub list: Option<Vec<String>>,
    pub backend: BackendKind,
    pub out: Option<PathBuf>,
    /// Runs trained at once (examples that use [`run_tomls`]); `None`: the example's default.
    pub jobs: Option<usize>,
    /// `--write-sweeps DIR` / `--from-sweeps DIR` (examples whose grid runs as `kleene sweep`
    /// files on a cluster; see docs/cluster.md).
    pub sweeps: Option<SweepsFlag>,
    /// The values of a second selection flag ([`parse_args_two_lists`]), e.g. `--tasks`.
    pub second_list: Option<Vec<String>>,
}

/// Where the example's grid goes as sweep files, or where their finished runs are read.
pub enum SweepsFlag {
    /// Write one `kleene sweep` file per grid into this folder, then stop.
    Write(PathBuf),
    /// Print the example's table from the finished runs of those sweep files.
    Read(PathBuf),
}

/// Parses the example's flags; `list_flag` names its selection flag, if it has one.
pub fn parse_args(list_flag: Option<&str>) -> Result<ExampleArgs, Box<dyn Error>> {
    parse_args_with(list_flag, false)
}

/// As [`parse_args`]; `sweeps` accepts `--write-sweeps DIR` and `--from-sweeps DIR`.
pub fn parse_args_with(
    list_flag: Option<&str>,
    sweeps: bool,
) -> Result<ExampleArgs, Box<dyn Error>> {
    parse_all(list_flag, None, sweeps)
}

/// As [`parse_args`] with two selection flags: `first` fills `list`, `second` `second_list`.
pub fn parse_args_two_lists(first: &str, second: &str) -> Result<ExampleArgs, Box<dyn Error>> {
    parse_all(Some(first), Some(second), false)
}

/// As [`parse_args_two_lists`] with `--write-sweeps` / `--from-sweeps`, over `args` (the
/// command line without the program name, less any flags the example took itself).
pub fn parse_args_from(
    args: &[String],
    first: &str,
    second: &str,
) -> Result<ExampleArgs, Box<dyn Error>> {
    parse_all_from(args.iter().cloned(), Some(first), Some(second), true)
}

fn parse_all(
    list_flag: Option<&str>,
    second_flag: Option<&str>,
    sweeps: bool,
) -> Result<ExampleArgs, Box<dyn Error>> {
    parse_all_from(std::env::args().skip(1), list_flag, second_flag, sweeps)
}

fn parse_all_from(
    mut it: impl Iterator<Item = String>,
    list_flag: Option<&str>,
    second_flag: Option<&str>,
    sweeps: bool,
) -> Result<ExampleArgs, Box<dyn Error>> {
    // Every example trains on the CPU by default: recycle op buffers (see kleene_train::alloc).
    kt::alloc::tune_cpu_allocator();
    let mut args = ExampleArgs {
        full: false,
        list: None,
        backend: BackendKind::Ndarray,
        out: None,
        jobs: None,
        sweeps: None,
        second_list: None,
    };
    let split = |v: String| v.split(',').map(|s| s.trim().to_string()).collect();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().ok_or(format!("{flag} needs a value"));
        match a.as_str() {
            "--full" => args.full = true,
            "--backend" => args.backend = value("--backend")?.parse()?,
            "--out" => args.out = Some(PathBuf::from(value("--out")?)),
            "--jobs" => {
                let n: usize = value("--jobs")?.parse()?;
                if n == 0 {
                    return Err("--jobs must be at least 1".into());
                }
                args.jobs = Some(n);
            }
            "--write-sweeps" if sweeps => {
                args.sweeps = Some(SweepsFlag::Write(value("--write-sweeps")?.into()))
            }
            "--from-sweeps" if sweeps => {
                args.sweeps = Some(SweepsFlag::Read(value("--from-sweeps")?.into()))
            }
            flag if Some(flag) == list_flag => args.list = Some(split(value(flag)?)),
            flag if Some(flag) == second_flag => args.second_list = Some(split(value(flag)?)),
            other => return Err(format!("unknown argument `{other}` (see the file header)").into()),
        }
    }
    Ok(args)
}

/// Trains and evaluates one config in `dir`. A directory holding the same config is resumed
/// (a finished run is only re-evaluated); one holding another config is started afresh.
pub fn run_one(
    backend: BackendKind,
    cfg: &RunConfig,
    dir: &Path,
) -> Result<kt::RunSummary, Box<dyn Error>> {
    run_one_with(backend, cfg, dir, true)
}

fn run_one_with(
    backend: BackendKind,
    cfg: &RunConfig,
    dir: &Path,
    progress: bool,
) -> Result<kt::RunSummary, Box<dyn Error>> {
    let same = std::fs::read_to_string(dir.join("config.toml"))
        .ok()
        .and_then(|t| RunConfig::parse(&t, &dir.join("config.toml")).ok())
        .is_some_and(|old| &old == cfg);
    if dir.exists() && !same {
        std::fs::remove_dir_all(dir)?;
    }
    let opts = TrainOptions {
        resume: same && dir.join("checkpoint").exists(),
        progress,
        stop_after: None,
    };
    eprintln!("== {} ({})", dir.display(), cfg.task.name);
    Ok(kt::run(backend, cfg, dir, &opts, |_| {})?)
}

/// Replaces `cfg`'s model by one built in code; its label (which [`RunConfig::parse`] took
/// from the parsed `[model]`) becomes every field of the new model.
pub fn set_model(cfg: &mut RunConfig, model: kleene::zoo::ModelConfig) {
    cfg.model = model;
    cfg.eval.model_label = None;
    cfg.eval.model_label = Some(kt::evaluate::model_label(cfg));
}

/// [`run_one`] for a config given as TOML text (`name` labels parse errors); the run writes
/// to `dir`.
pub fn run_toml(
    backend: BackendKind,
    toml_text: &str,
    name: &str,
    dir: &Path,
) -> Result<kt::RunSummary, Box<dyn Error>> {
    let mut cfg = RunConfig::parse(toml_text, Path::new(name))?;
    cfg.out_dir = Some(dir.to_path_buf());
    run_one(backend, &cfg, dir)
}

/// The trained model of a finished run directory, on the CPU inference backend.
pub fn load_model(cfg: &RunConfig, dir: &Path) -> Result<AnyModel<Infer>, Box<dyn Error>> {
    let task = kleene::langs::task_by_name(&cfg.task.name)?;
    let device = Default::default();
    let fresh = kt::run::model_config(cfg)?.init::<Train>(
        kt::trainer::input_vocab(task.as_ref()),
        kt::trainer::output_dim(task.as_ref(), cfg.training.loss)?,
        &device,
    )?;
    let (model, _) = kt::trainer::load_checkpoint_model::<Train, _>(fresh, dir, &device)?;
    Ok(model.valid())
}

/// [`run_toml`] for every `(toml_text, dir)`, `jobs` of them at once (progress bars off when
/// more than one), results in input order. Small models spend their time in per-op overhead on
/// one core, so runs side by side use a multi-core CPU far better than threads inside one run;
/// CPU results do not depend on how runs or threads interleave (parameters are initialised
/// under a process-wide lock, data come from each run's own seeded generator, the kernels'
/// results are thread-count independent), so the numbers equal a one-at-a-time sweep's.
pub fn run_tomls(
    backend: BackendKind,
    runs: &[(String, PathBuf)],
    name: &str,
    jobs: usize,
) -> Result<Vec<kt::RunSummary>, Box<dyn Error>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<kt::RunSummary, String>>>> =
        Mutex::new(runs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, runs.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((text, dir)) = runs.get(i) else {
                    break;
                };
                let result = RunConfig::parse(text, Path::new(name))
                    .map_err(|e| e.to_string())
                    .and_then(|mut cfg| {
                        cfg.out_dir = Some(dir.clone());
                        run_one_with(backend, &cfg, dir, jobs == 1).map_err(|e| e.to_string())
                    });
                results.lock().expect("results")[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .expect("results")
        .into_iter()
        .zip(runs)
        .map(|(r, (_, dir))| match r {
            Some(Ok(summary)) => Ok(summary),
            Some(Err(e)) => Err(format!("{}: {e}", dir.display()).into()),
            None => Err(format!("{}: not run", dir.display()).into()),
        })
        .collect()
}
