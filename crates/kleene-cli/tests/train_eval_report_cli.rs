//! End to end through the `kleene` binary: `train` (tiny Mamba, a few steps) writes
//! kleene-eval's `result.json`, `report.md` and SVG into the run directory; `eval`
//! rewrites them from the checkpoint; `report` over two seeds aggregates mean / min / max
//! exactly as recomputed here from the two `result.json` files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kleene_eval::{Report, RunResult};

/// The SVG reader of kleene-eval's report tests (one copy for both crates).
#[path = "../../kleene-eval/tests/support/xml.rs"]
mod xml;
use xml::parse_xml;

const TASK: &str = "tomita-4";
const TRAIN_MAX_LEN: usize = 12;
/// Curve lengths 2, 6, 10, 14, 18 (the curve's stride).
const CURVE: [usize; 5] = [2, 6, 10, 14, 18];
const MAX_EXAMPLES: usize = 16;
const MODEL_LABEL: &str = "mamba d_model=8 n_layers=1";

fn kleene(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kleene"))
        .args(args)
        .output()
        .expect("run kleene");
    assert!(
        out.status.success(),
        "kleene {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn config(seed: u64) -> String {
    format!(
        r#"
[task]
name = "{TASK}"
train_min_len = 1
train_max_len = {TRAIN_MAX_LEN}

[model]
kind = "mamba"
d_model = 8
n_layers = 1

[training]
steps = 6
batch_size = 8
lr = 3e-3
seed = {seed}
checkpoint_every = 0
log_every = 3

[eval]
protocol = "splits_and_lengths"
max_examples = {MAX_EXAMPLES}
min_len = 2
max_len = 18
len_step = 4
samples_per_len = 8
batch_size = 16
"#
    )
}

/// Trains seed `seed` into `root/seed-<seed>` and returns the run dir and stdout.
fn train(root: &Path, seed: u64) -> (PathBuf, String) {
    let cfg = root.join(format!("seed{seed}.toml"));
    std::fs::write(&cfg, config(seed)).unwrap();
    let run_dir = root.join(format!("seed-{seed}"));
    let out = kleene(&[
        "train",
        cfg.to_str().unwrap(),
        "--out-dir",
        run_dir.to_str().unwrap(),
        "--quiet",
    ]);
    (run_dir, String::from_utf8(out.stdout).unwrap())
}

/// The header cells and the body rows (cells) of the first markdown table in `md`.
fn md_table(md: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let cells = |l: &str| -> Vec<String> {
        l.trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect()
    };
    let lines: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert!(lines.len() >= 3, "no table in:\n{md}");
    (
        cells(lines[0]),
        lines[2..].iter().map(|l| cells(l)).collect(),
    )
}

fn pct(v: f64) -> String {
    format!("{:.2}", 100.0 * v)
}

fn mean_min_max(v: &[f64]) -> (f64, f64, f64) {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, min, max)
}

/// Mean curve accuracy over lengths `<= t` / `> t`, by hand.
fn curve_means(r: &RunResult, t: usize) -> (f64, f64) {
    let pts = &r.curve.as_ref().unwrap().points;
    let m = |f: &dyn Fn(usize) -> bool| {
        let v: Vec<f64> = pts
            .iter()
            .filter(|p| f(p.length))
            .map(|p| p.accuracy)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    (m(&|l| l <= t), m(&|l| l > t))
}

fn expected_splits() -> Vec<String> {
    kleene_langs::task_by_name(TASK)
        .unwrap()
        .splits()
        .into_iter()
        .filter(|s| s.name != "train")
        .map(|s| s.name)
        .collect()
}

#[test]
fn train_writes_result_report_and_svg_and_report_aggregates_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let splits = expected_splits();
    assert!(splits.len() >= 2, "{splits:?}");

    // --- kleene train, seed 0 -------------------------------------------------------
    let (run0, stdout) = train(tmp.path(), 0);
    let r0 = RunResult::read_json(&run0.join("result.json")).unwrap();
    assert_eq!(r0.experiment, TASK);
    assert_eq!(r0.model, MODEL_LABEL);
    assert_eq!(r0.seed, 0);
    assert_eq!(r0.run, "seed-0");
    let names: Vec<&str> = r0.splits.iter().map(|s| s.split.as_str()).collect();
    assert_eq!(names, splits);
    for s in &r0.splits {
        let n = s.counts.sequences + s.counts.empty_sequences;
        // `max_examples` caps every split (the published bins are larger).
        assert_eq!(n as usize, MAX_EXAMPLES, "{}", s.split);
        assert!((0.0..=1.0).contains(&s.strict_accuracy));
        // Strict accuracy is the fraction of fully correct sequences.
        assert_eq!(
            s.strict_accuracy,
            s.counts.sequences_correct as f64 / s.counts.sequences as f64
        );
    }
    let curve = r0.curve.as_ref().unwrap();
    assert_eq!(curve.train_max_len, Some(TRAIN_MAX_LEN));
    assert_eq!(
        curve.points.iter().map(|p| p.length).collect::<Vec<_>>(),
        CURVE
    );
    assert!(curve.points.iter().all(|p| p.n == 8));

    // The terminal table: a row per split and per curve length, with its accuracy.
    for s in &r0.splits {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {} ", s.split)))
            .unwrap_or_else(|| panic!("no row for {} in:\n{stdout}", s.split));
        assert!(
            row.contains(&format!("| {:.1}% |", 100.0 * s.strict_accuracy)),
            "{row}"
        );
    }
    for l in CURVE {
        assert!(
            stdout.contains(&format!("| len-{l}")),
            "no len-{l} in:\n{stdout}"
        );
    }

    // eval.md keeps that table next to the run.
    let table = std::fs::read_to_string(run0.join("eval.md")).unwrap();
    assert!(table.contains("| group | lengths |"), "{table}");
    assert!(stdout.contains(table.trim()), "{table}\nvs\n{stdout}");

    // report.md of the run: kleene-eval's layout, one row (this model) and one column
    // per split holding the split's headline accuracy from result.json.
    let md = std::fs::read_to_string(run0.join("report.md")).unwrap();
    assert!(md.contains(&format!("## {TASK}")), "{md}");
    let (header, rows) = md_table(&md);
    assert_eq!(rows.len(), 1, "{md}");
    assert_eq!(rows[0][0], MODEL_LABEL);
    for s in &r0.splits {
        let col = header
            .iter()
            .position(|h| h == &format!("{} (%)", s.split))
            .unwrap_or_else(|| panic!("no column {} in {header:?}", s.split));
        assert_eq!(rows[0][col], pct(s.headline()), "{}", s.split);
    }
    let (inside, longer) = curve_means(&r0, TRAIN_MAX_LEN);
    let col = |label: &str| header.iter().position(|h| h == label).unwrap();
    assert_eq!(
        rows[0][col(&format!("mean len ≤ {TRAIN_MAX_LEN} (%)"))],
        pct(inside)
    );
    assert_eq!(
        rows[0][col(&format!("mean len > {TRAIN_MAX_LEN} (%)"))],
        pct(longer)
    );

    // The SVG: well-formed, one polyline for the one model, one point per length.
    let svg = std::fs::read_to_string(run0.join(format!("{TASK}.svg"))).unwrap();
    let elements = parse_xml(&svg);
    assert_eq!(elements[0].0, "svg");
    let lines: Vec<_> = elements.iter().filter(|(n, _)| n == "polyline").collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].1["data-model"], MODEL_LABEL);
    assert_eq!(lines[0].1["points"].split_whitespace().count(), CURVE.len());

    // --- kleene eval rewrites the same result from the checkpoint ---------------------
    std::fs::remove_file(run0.join("result.json")).unwrap();
    kleene(&["eval", run0.to_str().unwrap()]);
    let again = RunResult::read_json(&run0.join("result.json")).unwrap();
    assert_eq!(again, r0, "re-evaluation of the final checkpoint differs");

    // --- seed 1 and kleene report over both -----------------------------------------
    let (run1, _) = train(tmp.path(), 1);
    let r1 = RunResult::read_json(&run1.join("result.json")).unwrap();
    assert_eq!(r1.seed, 1);
    let out_dir = tmp.path().join("agg");
    let out = kleene(&[
        "report",
        run0.to_str().unwrap(),
        run1.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let printed = String::from_utf8(out.stdout).unwrap();
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert_eq!(printed.trim_end(), md.trim_end());
    let (header, rows) = md_table(&md);
    assert_eq!(rows.len(), 1, "two seeds of one model share a row:\n{md}");
    assert_eq!(rows[0][1], "2", "seeds column");
    let cell = |v: &[f64]| {
        let (mean, min, max) = mean_min_max(v);
        format!("{} [{}, {}]", pct(mean), pct(min), pct(max))
    };
    for (a, b) in r0.splits.iter().zip(&r1.splits) {
        assert_eq!(a.split, b.split);
        let col = header
            .iter()
            .position(|h| h == &format!("{} (%)", a.split))
            .unwrap();
        assert_eq!(
            rows[0][col],
            cell(&[a.headline(), b.headline()]),
            "{}",
            a.split
        );
    }
    let (i0, l0) = curve_means(&r0, TRAIN_MAX_LEN);
    let (i1, l1) = curve_means(&r1, TRAIN_MAX_LEN);
    let col = |label: &str| header.iter().position(|h| h == label).unwrap();
    assert_eq!(
        rows[0][col(&format!("mean len ≤ {TRAIN_MAX_LEN} (%)"))],
        cell(&[i0, i1])
    );
    assert_eq!(
        rows[0][col(&format!("mean len > {TRAIN_MAX_LEN} (%)"))],
        cell(&[l0, l1])
    );

    // report.json holds the exact numbers: per split and per curve length.
    let text = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    let report: Report = serde_json::from_str(&text).unwrap();
    let e = &report.experiments[0];
    for (a, b) in r0.splits.iter().zip(&r1.splits) {
        let i = e.columns.iter().position(|c| c.label == a.split).unwrap();
        let st = e.rows[0].cells[i].unwrap();
        let (mean, min, max) = mean_min_max(&[a.headline(), b.headline()]);
        assert_eq!((st.mean, st.min, st.max, st.n), (mean, min, max, 2));
    }
    let c0 = &r0.curve.as_ref().unwrap().points;
    let c1 = &r1.curve.as_ref().unwrap().points;
    let series = &e.curves[0].points;
    assert_eq!(series.len(), CURVE.len());
    for ((len, st), (p0, p1)) in series.iter().zip(c0.iter().zip(c1)) {
        assert_eq!(
            (*len, p0.length, p1.length),
            (p0.length, p0.length, p0.length)
        );
        let (mean, min, max) = mean_min_max(&[p0.accuracy, p1.accuracy]);
        assert_eq!((st.mean, st.min, st.max), (mean, min, max), "length {len}");
    }

    // The aggregated SVG: one polyline (one model), and a min–max band over the seeds.
    let svg = std::fs::read_to_string(out_dir.join(format!("{TASK}.svg"))).unwrap();
    let elements = parse_xml(&svg);
    let polylines = elements.iter().filter(|(n, _)| n == "polyline").count();
    assert_eq!(polylines, 1);
}

#[test]
fn report_names_a_run_without_result() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kleene"))
        .args(["report", tmp.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("result.json"), "{err}");
}

fn kleene_fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kleene"))
        .args(args)
        .output()
        .expect("run kleene");
    assert!(!out.status.success(), "kleene {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A 2 x 2 sweep (learning rate x seed) run as two shards: the first shard writes no
/// report and `kleene report SWEEP_DIR` names the missing runs; the second shard writes
/// the combined report into the sweep directory: one row per learning rate (the seeds
/// aggregated), cells recomputed here from the four `result.json` files, one plot line
/// per row; `kleene report SWEEP_DIR --out` writes the same table.
#[test]
fn sweep_writes_the_combined_report_when_all_shards_are_done() {
    let tmp = tempfile::tempdir().unwrap();
    let base = config(0).replace("steps = 6", "steps = 3");
    std::fs::write(tmp.path().join("base.toml"), base).unwrap();
    let sweep_dir = tmp.path().join("out");
    let sweep = tmp.path().join("grid.toml");
    std::fs::write(
        &sweep,
        format!(
            "base = \"base.toml\"\nout_dir = \"{}\"\n[grid]\n\"training.lr\" = [0.01, 0.003]\n\"training.seed\" = [0, 1]\n",
            sweep_dir.display()
        ),
    )
    .unwrap();
    let s = sweep.to_str().unwrap();
    let out = kleene(&["sweep", s, "--shard", "0/2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 of 4 runs finished"), "{err}");
    assert!(!sweep_dir.join("report.md").exists());
    let err = kleene_fails(&["report", sweep_dir.to_str().unwrap()]);
    assert!(
        err.contains("lr=0.01,seed=1") && err.contains("lr=0.003,seed=1"),
        "{err}"
    );

    let out = kleene(&["sweep", s, "--shard", "1/2"]);
    let printed = String::from_utf8(out.stdout).unwrap();
    let md = std::fs::read_to_string(sweep_dir.join("report.md")).unwrap();
    assert_eq!(printed.trim_end(), md.trim_end());
    let (header, rows) = md_table(&md);
    let labels: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        labels,
        [
            format!("{MODEL_LABEL} lr=0.01"),
            format!("{MODEL_LABEL} lr=0.003")
        ],
        "{md}"
    );
    let result = |name: &str| RunResult::read_json(&sweep_dir.join(name).join("result.json"));
    for (row, lr) in rows.iter().zip(["0.01", "0.003"]) {
        assert_eq!(row[1], "2", "seeds column");
        let r0 = result(&format!("lr={lr},seed=0")).unwrap();
        let r1 = result(&format!("lr={lr},seed=1")).unwrap();
        assert_eq!((r0.seed, r1.seed), (0, 1));
        for (a, b) in r0.splits.iter().zip(&r1.splits) {
            let col = header
                .iter()
                .position(|h| h == &format!("{} (%)", a.split))
                .unwrap();
            let (mean, min, max) = mean_min_max(&[a.headline(), b.headline()]);
            assert_eq!(
                row[col],
                format!("{} [{}, {}]", pct(mean), pct(min), pct(max)),
                "lr {lr}, {}",
                a.split
            );
        }
    }
    let svg = std::fs::read_to_string(sweep_dir.join(format!("{TASK}.svg"))).unwrap();
    let models: Vec<String> = parse_xml(&svg)
        .into_iter()
        .filter(|(n, _)| n == "polyline")
        .map(|(_, a)| a["data-model"].clone())
        .collect();
    assert_eq!(models, labels);
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(sweep_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report.experiments[0].rows.len(), 2);

    // Re-running the sweep skips every run and rewrites the same report.
    let out = kleene(&["sweep", s]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("finished, skipped"));
    assert_eq!(
        std::fs::read_to_string(sweep_dir.join("report.md")).unwrap(),
        md
    );
    let again = tmp.path().join("again");
    kleene(&[
        "report",
        sweep_dir.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(again.join("report.md")).unwrap(),
        md
    );
}
