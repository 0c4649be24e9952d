//! Reports: table numbers equal the aggregated inputs, SVG structure checked by parsing,
//! results round-trip through JSON, files are written atomically.

use std::collections::BTreeMap;

use kleene_eval::report::format_cell;
use kleene_eval::*;
use kleene_langs::TargetKind;

#[path = "support/xml.rs"]
mod xml;
use xml::parse_xml;

fn split(name: &str, kind: TargetKind, strict: f64, relaxed: f64) -> SplitMetrics {
    SplitMetrics {
        split: name.into(),
        target_kind: kind,
        scoring: Scoring::Argmax,
        min_len: 1,
        max_len: 10,
        strict_accuracy: strict,
        relaxed_accuracy: relaxed,
        token_accuracy: relaxed,
        final_token_accuracy: strict,
        counts: AccuracyCounts::default(),
    }
}

fn curve(seed: u64, lengths: &[usize], offset: f64) -> LengthCurve {
    LengthCurve::new(
        lengths
            .iter()
            .map(|&l| LengthPoint {
                length: l,
                n: 8,
                accuracy: (1.0 - l as f64 / 100.0 - offset * seed as f64).clamp(0.0, 1.0),
                token_accuracy: 0.0,
            })
            .collect(),
        Some(4),
    )
}

/// Three seeds of "mamba", two of "sdssm" on one experiment; another experiment without curves.
fn runs() -> Vec<RunResult> {
    let mut out = Vec::new();
    let lengths = [1usize, 2, 3, 4, 5, 6, 8, 10];
    for (model, seeds, base) in [("mamba", 3u64, 0.9), ("sdssm", 2, 0.6)] {
        for seed in 0..seeds {
            let mut r = RunResult::new(format!("{model}-{seed}"), "parity", model, seed);
            let v = base + 0.03 * seed as f64;
            r.splits
                .push(split("bin0", TargetKind::PerPosition, v, v + 0.01));
            r.splits.push(split(
                "bin1",
                TargetKind::PerPosition,
                v / 2.0,
                v / 2.0 + 0.01,
            ));
            r.curve = Some(curve(
                seed,
                &lengths,
                if model == "mamba" { 0.01 } else { 0.05 },
            ));
            r.set_value("test/tvd", 0.1 * (seed + 1) as f64);
            out.push(r);
        }
    }
    let mut d = RunResult::new("dyck-0", "bounded-dyck", "mamba-2l", 1);
    d.set_fraction("test/close_accuracy", 0.9933);
    out.push(d);
    out
}

/// Parses the markdown tables: heading -> rows of cells (header row included).
fn parse_tables(md: &str) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut current = String::new();
    for line in md.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            current = h.trim().to_string();
        } else if line.starts_with('|') && !line.starts_with("|---") {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect();
            out.entry(current.clone()).or_default().push(cells);
        }
    }
    out
}

/// `"90.00 [88.00, 93.00]"` -> (mean, Some(min), Some(max)).
fn parse_cell(c: &str) -> (f64, Option<f64>, Option<f64>) {
    match c.split_once(" [") {
        None => (c.parse().unwrap(), None, None),
        Some((m, rest)) => {
            let (lo, hi) = rest.trim_end_matches(']').split_once(", ").unwrap();
            (
                m.parse().unwrap(),
                Some(lo.parse().unwrap()),
                Some(hi.parse().unwrap()),
            )
        }
    }
}

/// (column header, the column's value for one run, shown as a percentage).
type Check = (&'static str, Box<dyn Fn(&RunResult) -> f64>, bool);

#[test]
fn table_numbers_equal_aggregated_inputs() {
    let runs = runs();
    let report = Report::from_runs(&runs).unwrap();
    assert_eq!(report.experiments.len(), 2);
    let tables = parse_tables(&report.to_markdown());
    let parity = &tables["parity"];
    let header = &parity[0];
    for model in ["mamba", "sdssm"] {
        let row = parity.iter().find(|r| r[0] == model).unwrap();
        let mine: Vec<&RunResult> = runs.iter().filter(|r| r.model == model).collect();
        assert_eq!(row[1], mine.len().to_string());
        // Every column recomputed from the inputs: (header label, value of one run).
        let checks: Vec<Check> = vec![
            ("bin0 (%)", Box::new(|r| r.splits[0].strict_accuracy), true),
            (
                "bin0 relaxed (%)",
                Box::new(|r| r.splits[0].relaxed_accuracy),
                true,
            ),
            ("bin1 (%)", Box::new(|r| r.splits[1].strict_accuracy), true),
            (
                "mean len ≤ 4 (%)",
                Box::new(|r| {
                    let c = r.curve.as_ref().unwrap();
                    c.points
                        .iter()
                        .filter(|p| p.length <= 4)
                        .map(|p| p.accuracy)
                        .sum::<f64>()
                        / 4.0
                }),
                true,
            ),
            (
                "mean len > 4 (%)",
                Box::new(|r| {
                    let c = r.curve.as_ref().unwrap();
                    let v: Vec<f64> = c
                        .points
                        .iter()
                        .filter(|p| p.length > 4)
                        .map(|p| p.accuracy)
                        .collect();
                    v.iter().sum::<f64>() / v.len() as f64
                }),
                true,
            ),
            ("test/tvd", Box::new(|r| r.scalars["test/tvd"].value), false),
        ];
        for (label, f, percent) in checks {
            let col = header
                .iter()
                .position(|h| h == label)
                .unwrap_or_else(|| panic!("no column {label}: {header:?}"));
            let vals: Vec<f64> = mine.iter().map(|r| f(r)).collect();
            let scale = if percent { 100.0 } else { 1.0 };
            let mean = vals.iter().sum::<f64>() / vals.len() as f64 * scale;
            let min = vals.iter().cloned().fold(f64::INFINITY, f64::min) * scale;
            let max = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max) * scale;
            let (m, lo, hi) = parse_cell(&row[col]);
            let tol = if percent { 0.005 } else { 0.00005 };
            assert!((m - mean).abs() <= tol, "{model} {label}: {m} vs {mean}");
            assert!((lo.unwrap() - min).abs() <= tol, "{model} {label} min");
            assert!((hi.unwrap() - max).abs() <= tol, "{model} {label} max");
        }
    }
    // Single seed: a plain number, no brackets.
    let dyck = &tables["bounded-dyck"];
    assert_eq!(dyck[0][2], "test/close_accuracy (%)");
    assert_eq!(parse_cell(&dyck[1][2]), (99.33, None, None));
    assert!(report.experiments[1].to_svg().is_none());
}

#[test]
fn stats_and_cells() {
    let s = Stat::of(&[0.5, 1.0, 0.75]).unwrap();
    assert_eq!((s.mean, s.min, s.max, s.n), (0.75, 0.5, 1.0, 3));
    assert!(Stat::of(&[]).is_none());
    assert_eq!(format_cell(Some(&s), true), "75.00 [50.00, 100.00]");
    assert_eq!(format_cell(None, true), "–");
    assert!(matches!(Report::from_runs(&[]), Err(EvalError::NoRuns)));
}

#[test]
fn svg_has_one_polyline_per_model_with_every_length() {
    let runs = runs();
    let report = Report::from_runs(&runs).unwrap();
    let svg = report.experiments[0].to_svg().unwrap();
    let elements = parse_xml(&svg);
    assert_eq!(elements[0].0, "svg");
    let lines: Vec<&BTreeMap<String, String>> = elements
        .iter()
        .filter(|(n, _)| n == "polyline")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(lines.len(), 2);
    let models: Vec<&str> = lines.iter().map(|a| a["data-model"].as_str()).collect();
    assert_eq!(models, ["mamba", "sdssm"]);
    for a in &lines {
        let pts: Vec<(f64, f64)> = a["points"]
            .split_whitespace()
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(pts.len(), 8, "one point per length");
        assert!(
            pts.windows(2).all(|w| w[0].0 < w[1].0),
            "x increases with length"
        );
    }
    // Mean curve of mamba at length 1 (seeds 0,1,2: 0.99, 0.98, 0.97) -> 98%: higher on
    // the page (smaller y) than sdssm's (0.99, 0.94 -> 96.5%).
    let y0 = |i: usize| -> f64 {
        lines[i]["points"]
            .split_whitespace()
            .next()
            .unwrap()
            .split_once(',')
            .unwrap()
            .1
            .parse()
            .unwrap()
    };
    assert!(y0(0) < y0(1));
    // Two seeds or more: a min–max band per model.
    assert_eq!(elements.iter().filter(|(n, _)| n == "polygon").count(), 2);
    assert!(svg.contains(">input length<") && svg.contains(">accuracy (%)<"));
    assert!(svg.contains(">mamba<") && svg.contains(">sdssm<"), "legend");
}

#[test]
fn long_lengths_switch_to_log_axis_and_escape_names() {
    let mut r = RunResult::new("r", "x<&>", "m\"1", 0);
    let mut c = curve(0, &[1, 10, 100, 500], 0.0);
    c.points.push(LengthPoint {
        length: 100_000,
        n: 4,
        accuracy: 0.5,
        token_accuracy: 0.5,
    });
    r.curve = Some(c);
    let report = Report::from_runs(&[r]).unwrap();
    let svg = report.experiments[0].to_svg().unwrap();
    let elements = parse_xml(&svg);
    let line = elements.iter().find(|(n, _)| n == "polyline").unwrap();
    assert_eq!(line.1["data-model"], "m&quot;1");
    assert_eq!(line.1["points"].split_whitespace().count(), 5);
    assert!(svg.contains("log scale") && svg.contains(">1e5<"));
}

#[test]
fn results_round_trip_and_files_are_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let runs = runs();
    let path = dir.path().join("run/eval.json");
    runs[0].write_json(&path).unwrap();
    assert_eq!(RunResult::read_json(&path).unwrap(), runs[0]);
    // A corrupt file names itself and the line.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"run\": 3,\n").unwrap();
    let e = RunResult::read_json(&bad).unwrap_err().to_string();
    assert!(e.contains("bad.json") && e.contains("line"), "{e}");
    let e = RunResult::read_json(&dir.path().join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.json"), "{e}");

    let report = Report::from_runs(&runs).unwrap();
    let out = dir.path().join("report");
    let written = report.write_all(&out).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.md", "report.json", "parity.svg"]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert_eq!(md, report.to_markdown());
    // serde_json (without `float_roundtrip`) may move the last bit of a float: compare the
    // structure and the rendered tables, the numbers to 1e-12.
    let back: Report =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(back.to_markdown(), report.to_markdown());
    for (a, b) in back.experiments.iter().zip(&report.experiments) {
        assert_eq!(
            (&a.name, &a.columns, a.rows.len()),
            (&b.name, &b.columns, b.rows.len())
        );
        for (ra, rb) in a.rows.iter().zip(&b.rows) {
            for (ca, cb) in ra.cells.iter().zip(&rb.cells) {
                let (ca, cb) = (ca.unwrap(), cb.unwrap());
                assert!((ca.mean - cb.mean).abs() < 1e-12 && ca.n == cb.n);
            }
        }
    }
    // No temporary files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
