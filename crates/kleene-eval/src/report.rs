//! Reports over runs: a markdown table per experiment and an SVG plot of accuracy
//! against length (one line per model), aggregated over seeds as mean, min and max.
//!
//! Grouping: runs with the same [`RunResult::experiment`] share a table and a plot; runs
//! with the same [`RunResult::model`] within it are seeds of one row / line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kleene_langs::TargetKind;
use serde::{Deserialize, Serialize};

use crate::results::RunResult;
use crate::EvalError;

/// Mean, min and max of one number over seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Number of values (seeds) aggregated.
    pub n: usize,
}

impl Stat {
    /// Aggregates values; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Stat> {
        if values.is_empty() {
            return None;
        }
        Some(Stat {
            mean: values.iter().sum::<f64>() / values.len() as f64,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n: values.len(),
        })
    }
}

/// A table column: what it holds and how to show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Header text.
    pub label: String,
    /// Fractions are shown as percentages.
    pub percent: bool,
    /// Where the value comes from in a [`RunResult`].
    pub source: ColumnSource,
}

/// Where a column's value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnSource {
    /// [`crate::SplitMetrics::headline`] of the named split.
    SplitHeadline(String),
    /// Relaxed accuracy of the named split.
    SplitRelaxed(String),
    /// Mean of the length curve over the training lengths.
    CurveInDistribution,
    /// Mean of the length curve over the longer lengths.
    CurveLonger,
    /// A named scalar.
    Scalar(String),
}

impl ColumnSource {
    fn value(&self, run: &RunResult) -> Option<f64> {
        let split = |name: &str| run.splits.iter().find(|s| s.split == name);
        match self {
            ColumnSource::SplitHeadline(n) => split(n).map(|s| s.headline()),
            ColumnSource::SplitRelaxed(n) => split(n).map(|s| s.relaxed_accuracy),
            ColumnSource::CurveInDistribution => {
                run.curve.as_ref().and_then(|c| c.in_distribution_mean())
            }
            ColumnSource::CurveLonger => run.curve.as_ref().and_then(|c| c.longer_mean()),
            ColumnSource::Scalar(k) => run.scalars.get(k).map(|s| s.value),
        }
    }
}

/// One model's row: the seeds and a cell per column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub model: String,
    pub seeds: Vec<u64>,
    pub runs: Vec<String>,
    pub cells: Vec<Option<Stat>>,
}

/// One model's curve: per length, the accuracy over seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurveSeries {
    pub model: String,
    pub points: Vec<(usize, Stat)>,
}

/// The table and plot of one experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentReport {
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<ModelRow>,
    pub curves: Vec<CurveSeries>,
    /// Training length of the curves (first run's), drawn as a marker.
    pub train_max_len: Option<usize>,
}

/// Every experiment of a set of runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub experiments: Vec<ExperimentReport>,
    /// Runs that diverged in training (`RunResult::diverged`): listed, not averaged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diverged: Vec<DivergedRun>,
}

/// A run of a report that diverged in training.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DivergedRun {
    pub run: String,
    pub experiment: String,
    pub model: String,
    pub seed: u64,
    pub reason: String,
}

fn first_seen<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !out.iter().any(|o| o == i) {
            out.push(i.to_string());
        }
    }
    out
}

impl ExperimentReport {
    fn build(name: &str, runs: &[&RunResult]) -> Self {
        let mut columns = Vec::new();
        let mut seen_splits: Vec<String> = Vec::new();
        for run in runs {
            for s in &run.splits {
                if seen_splits.contains(&s.split) {
                    continue;
                }
                seen_splits.push(s.split.clone());
                columns.push(Column {
                    label: s.split.clone(),
                    percent: true,
                    source: ColumnSource::SplitHeadline(s.split.clone()),
                });
                if s.target_kind == TargetKind::PerPosition {
                    columns.push(Column {
                        label: format!("{} relaxed", s.split),
                        percent: true,
                        source: ColumnSource::SplitRelaxed(s.split.clone()),
                    });
                }
            }
        }
        let train_max_len = runs
            .iter()
            .filter_map(|r| r.curve.as_ref())
            .find_map(|c| c.train_max_len);
        if runs.iter().any(|r| r.curve.is_some()) {
            let (id, longer) = match train_max_len {
                Some(t) => (format!("mean len ≤ {t}"), format!("mean len > {t}")),
                None => ("mean over lengths".to_string(), "mean longer".to_string()),
            };
            columns.push(Column {
                label: id,
                percent: true,
                source: ColumnSource::CurveInDistribution,
            });
            if train_max_len.is_some() {
                columns.push(Column {
                    label: longer,
                    percent: true,
                    source: ColumnSource::CurveLonger,
                });
            }
        }
        let mut scalar_keys: BTreeMap<String, bool> = BTreeMap::new();
        for run in runs {
            for (k, s) in &run.scalars {
                scalar_keys.entry(k.clone()).or_insert(s.percent);
            }
        }
        for (k, percent) in scalar_keys {
            columns.push(Column {
                label: k.clone(),
                percent,
                source: ColumnSource::Scalar(k),
            });
        }

        let models = first_seen(runs.iter().map(|r| r.model.as_str()));
        let mut rows = Vec::new();
        let mut curves = Vec::new();
        for model in &models {
            let mine: Vec<&&RunResult> = runs.iter().filter(|r| &r.model == model).collect();
            let cells = columns
                .iter()
                .map(|c| {
                    let vals: Vec<f64> = mine.iter().filter_map(|r| c.source.value(r)).collect();
                    Stat::of(&vals)
                })
                .collect();
            rows.push(ModelRow {
                model: model.clone(),
                seeds: mine.iter().map(|r| r.seed).collect(),
                runs: mine.iter().map(|r| r.run.clone()).collect(),
                cells,
            });
            let mut by_len: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
            for r in &mine {
                if let Some(c) = &r.curve {
                    for p in &c.points {
                        by_len
                            .entry(p.length)
                            .or_default()
                            .push(p.reported(r.reported_accuracy));
                    }
                }
            }
            if !by_len.is_empty() {
                curves.push(CurveSeries {
                    model: model.clone(),
                    points: by_len
                        .into_iter()
                        .filter_map(|(l, v)| Stat::of(&v).map(|s| (l, s)))
                        .collect(),
                });
            }
        }
        ExperimentReport {
            name: name.to_string(),
            columns,
            rows,
            curves,
            train_max_len,
        }
    }

    /// The experiment's markdown section: a heading and one table, values as
    /// `mean [min, max]` over seeds (percentages for fractions).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "## {}\n", self.name);
        let mut header = String::from("| model | seeds |");
        let mut rule = String::from("|---|---:|");
        for c in &self.columns {
            let _ = write!(
                header,
                " {}{} |",
                md_escape(&c.label),
                if c.percent { " (%)" } else { "" }
            );
            rule.push_str("---:|");
        }
        let _ = writeln!(s, "{header}\n{rule}");
        for r in &self.rows {
            let _ = write!(s, "| {} | {} |", md_escape(&r.model), r.seeds.len());
            for (c, cell) in self.columns.iter().zip(&r.cells) {
                let _ = write!(s, " {} |", format_cell(cell.as_ref(), c.percent));
            }
            s.push('\n');
        }
        s.push('\n');
        if self.rows.iter().any(|r| r.seeds.len() > 1) {
            s.push_str("Cells: mean over seeds [min, max].\n\n");
        }
        s
    }

    /// The accuracy-against-length plot, or `None` when no run has a curve.
    pub fn to_svg(&self) -> Option<String> {
        if self.curves.is_empty() {
            return None;
        }
        Some(svg::plot(self))
    }

    /// Writes [`ExperimentReport::to_svg`] atomically; `false` when there is nothing to plot.
    pub fn write_svg(&self, path: &Path) -> Result<bool, EvalError> {
        match self.to_svg() {
            Some(text) => crate::io::write_atomic(path, text.as_bytes()).map(|_| true),
            None => Ok(false),
        }
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Formats a cell: `mean` alone for one seed, `mean [min, max]` for several.
pub fn format_cell(cell: Option<&Stat>, percent: bool) -> String {
    let Some(st) = cell else {
        return "–".to_string();
    };
    let f = |v: f64| {
        if percent {
            format!("{:.2}", v * 100.0)
        } else {
            format!("{v:.4}")
        }
    };
    if st.n > 1 {
        format!("{} [{}, {}]", f(st.mean), f(st.min), f(st.max))
    } else {
        f(st.mean)
    }
}

impl Report {
    /// Groups runs by experiment (tables, in first-seen order) and by model within each
    /// (rows / plot lines), aggregating seeds.
    pub fn from_runs(runs: &[RunResult]) -> Result<Report, EvalError> {
        if runs.is_empty() {
            return Err(EvalError::NoRuns);
        }
        let (failed, runs): (Vec<&RunResult>, Vec<&RunResult>) =
            runs.iter().partition(|r| r.diverged.is_some());
        crate::results::check_comparable(&runs)?;
        let names = first_seen(runs.iter().map(|r| r.experiment.as_str()));
        let experiments = names
            .iter()
            .map(|n| {
                let mine: Vec<&RunResult> = runs
                    .iter()
                    .copied()
                    .filter(|r| &r.experiment == n)
                    .collect();
                ExperimentReport::build(n, &mine)
            })
            .collect();
        let diverged = failed
            .into_iter()
            .map(|r| DivergedRun {
                run: r.run.clone(),
                experiment: r.experiment.clone(),
                model: r.model.clone(),
                seed: r.seed,
                reason: r.diverged.clone().unwrap_or_default(),
            })
            .collect();
        Ok(Report {
            experiments,
            diverged,
        })
    }

    /// The whole report as markdown: a title and one section per experiment.
    pub fn to_markdown(&self) -> String {
        let mut s = String::from("# kleene evaluation report\n\n");
        for e in &self.experiments {
            s.push_str(&e.to_markdown());
        }
        if !self.diverged.is_empty() {
            s.push_str("## Diverged runs (not in the tables)\n\n| run | experiment | model | seed | reason |\n|---|---|---|---|---|\n");
            for d in &self.diverged {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    d.run,
                    d.experiment,
                    d.model,
                    d.seed,
                    d.reason.replace('|', "\\|")
                ));
            }
            s.push('\n');
        }
        s
    }

    /// Writes [`Report::to_markdown`] atomically.
    pub fn write_markdown(&self, path: &Path) -> Result<(), EvalError> {
        crate::io::write_atomic(path, self.to_markdown().as_bytes())
    }

    /// Writes one `<experiment>.svg` per experiment with curves into `dir`; returns the paths.
    pub fn write_svgs(&self, dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
        let mut out = Vec::new();
        for e in &self.experiments {
            let path = dir.join(format!("{}.svg", file_stem(&e.name)));
            if e.write_svg(&path)? {
                out.push(path);
            }
        }
        Ok(out)
    }

    /// Writes `report.md`, `report.json` and the SVGs into `dir`; returns every path written.
    pub fn write_all(&self, dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
        let md = dir.join("report.md");
        self.write_markdown(&md)?;
        let json = dir.join("report.json");
        crate::io::write_json_atomic(&json, self)?;
        let mut paths = vec![md, json];
        paths.extend(self.write_svgs(dir)?);
        Ok(paths)
    }
}

/// A file-name-safe version of an experiment name.
pub fn file_stem(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("experiment{s}")
    } else {
        s
    }
}

mod svg {
    //! Hand-written SVG: axes with ticks and labels, a min–max band and a mean polyline
    //! per model, a legend, and a dashed marker at the training length.

    use std::fmt::Write as _;

    use super::ExperimentReport;

    const W: f64 = 760.0;
    const H: f64 = 440.0;
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 200.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 60.0;
    const COLORS: [&str; 10] = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ];

    pub fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;")
    }

    /// x mapping: linear, or log10 when lengths span three decades or more.
    struct XAxis {
        lo: f64,
        hi: f64,
        log: bool,
    }

    impl XAxis {
        fn px(&self, v: f64) -> f64 {
            let (a, b, x) = if self.log {
                (self.lo.log10(), self.hi.log10(), v.max(1e-9).log10())
            } else {
                (self.lo, self.hi, v)
            };
            let frac = if b > a { (x - a) / (b - a) } else { 0.5 };
            LEFT + frac * (W - LEFT - RIGHT)
        }

        fn ticks(&self) -> Vec<f64> {
            if self.log {
                let mut t = Vec::new();
                let mut p = 10f64.powf(self.lo.log10().floor());
                while p <= self.hi * 1.0000001 {
                    if p >= self.lo * 0.9999999 {
                        t.push(p);
                    }
                    p *= 10.0;
                }
                if t.is_empty() {
                    t.push(self.lo);
                }
                t
            } else {
                let span = (self.hi - self.lo).max(1.0);
                let raw = span / 6.0;
                let mag = 10f64.powf(raw.log10().floor());
                let step = [1.0, 2.0, 5.0, 10.0]
                    .iter()
                    .map(|m| m * mag)
                    .find(|s| *s >= raw)
                    .unwrap_or(10.0 * mag)
                    .max(1.0);
                let mut t = Vec::new();
                let mut v = (self.lo / step).ceil() * step;
                while v <= self.hi + 1e-9 {
                    t.push(v);
                    v += step;
                }
                t
            }
        }
    }

    fn py(acc: f64) -> f64 {
        TOP + (1.0 - acc.clamp(0.0, 1.0)) * (H - TOP - BOTTOM)
    }

    fn fmt_len(v: f64) -> String {
        if v >= 10_000.0 && (v.log10().fract()).abs() < 1e-9 {
            format!("1e{}", v.log10().round() as i64)
        } else {
            format!("{}", v.round() as i64)
        }
    }

    pub fn plot(e: &ExperimentReport) -> String {
        let all_x: Vec<f64> = e
            .curves
            .iter()
            .flat_map(|c| c.points.iter().map(|(l, _)| *l as f64))
            .collect();
        let lo = all_x.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = all_x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let x = XAxis {
            lo,
            hi,
            log: lo >= 1.0 && hi / lo >= 1000.0,
        };
        let (x0, x1) = (LEFT, W - RIGHT);
        let (y0, y1) = (TOP, H - BOTTOM);
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            s,
            r#"<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
            (x0 + x1) / 2.0,
            escape(&format!("{}: accuracy against length", e.name))
        );
        // Grid, y ticks (0..100 %).
        for i in 0..=5 {
            let acc = i as f64 / 5.0;
            let y = py(acc);
            let _ = writeln!(
                s,
                r##"<line x1="{x0}" y1="{y:.2}" x2="{x1}" y2="{y:.2}" stroke="#dddddd" stroke-width="1"/>"##
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.2}" y="{:.2}" text-anchor="end">{}</text>"#,
                x0 - 6.0,
                y + 4.0,
                (acc * 100.0).round() as i64
            );
        }
        for t in x.ticks() {
            let px = x.px(t);
            let _ = writeln!(
                s,
                r#"<line x1="{px:.2}" y1="{y1}" x2="{px:.2}" y2="{:.2}" stroke="black" stroke-width="1"/>"#,
                y1 + 5.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{px:.2}" y="{:.2}" text-anchor="middle">{}</text>"#,
                y1 + 18.0,
                fmt_len(t)
            );
        }
        // Axes.
        let _ = writeln!(
            s,
            r#"<line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}" stroke="black" stroke-width="1"/>"#
        );
        let _ = writeln!(
            s,
            r#"<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="black" stroke-width="1"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.2}" y="{:.2}" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            H - 18.0,
            if x.log {
                "input length (log scale)"
            } else {
                "input length"
            }
        );
        let _ = writeln!(
            s,
            r#"<text x="18" y="{:.2}" text-anchor="middle" transform="rotate(-90 18 {:.2})">accuracy (%)</text>"#,
            (y0 + y1) / 2.0,
            (y0 + y1) / 2.0
        );
        // Training-length marker.
        if let Some(t) = e.train_max_len {
            let tf = t as f64;
            if tf >= x.lo && tf <= x.hi {
                let px = x.px(tf);
                let _ = writeln!(
                    s,
                    r##"<line x1="{px:.2}" y1="{y0}" x2="{px:.2}" y2="{y1}" stroke="#555555" stroke-width="1" stroke-dasharray="4 3"/>"##
                );
                let _ = writeln!(
                    s,
                    r##"<text x="{:.2}" y="{:.2}" fill="#555555">train ≤ {t}</text>"##,
                    px + 4.0,
                    // Near the bottom: curves usually sit high at the training length.
                    y1 - 6.0
                );
            }
        }
        // Bands and lines.
        for (i, c) in e.curves.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            if c.points.iter().any(|(_, st)| st.n > 1) && c.points.len() > 1 {
                let mut pts: Vec<String> = c
                    .points
                    .iter()
                    .map(|(l, st)| format!("{:.2},{:.2}", x.px(*l as f64), py(st.max)))
                    .collect();
                pts.extend(
                    c.points
                        .iter()
                        .rev()
                        .map(|(l, st)| format!("{:.2},{:.2}", x.px(*l as f64), py(st.min))),
                );
                let _ = writeln!(
                    s,
                    r#"<polygon points="{}" fill="{color}" fill-opacity="0.15" stroke="none"/>"#,
                    pts.join(" ")
                );
            }
            let pts: Vec<String> = c
                .points
                .iter()
                .map(|(l, st)| format!("{:.2},{:.2}", x.px(*l as f64), py(st.mean)))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline data-model="{}" points="{}" fill="none" stroke="{color}" stroke-width="1.8"/>"#,
                escape(&c.model),
                pts.join(" ")
            );
        }
        // Legend.
        let lx = x1 + 16.0;
        for (i, c) in e.curves.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let ly = y0 + 10.0 + 20.0 * i as f64;
            let _ = writeln!(
                s,
                r#"<line x1="{lx:.2}" y1="{ly:.2}" x2="{:.2}" y2="{ly:.2}" stroke="{color}" stroke-width="3"/>"#,
                lx + 22.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.2}" y="{:.2}">{}</text>"#,
                lx + 28.0,
                ly + 4.0,
                escape(&c.model)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}
