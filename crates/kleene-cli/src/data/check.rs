//! `kleene data check <task> DIR`: reads every data file of the task's layout in DIR,
//! validates format, membership, targets and length windows, prints `file:line: reason` per
//! error and fails when there is any (or when no data file is found).

use std::path::{Path, PathBuf};

use kleene_langs::flipflop;
use kleene_langs::{io, Example, LangError, SplitSpec};

use super::{family_of, suite_folder, Family};

/// Most errors printed per file.
const MAX_ERRORS_PER_FILE: usize = 20;

pub(super) fn check(name: &str, dir: &Path) -> Result<i32, LangError> {
    let task = kleene_langs::task_by_name(name)?;
    let family = family_of(task.as_ref())?;
    // Accept the parent folder of the family's layout too.
    let sub = match &family {
        Family::Suite(s) => Some(suite_folder(s)),
        Family::FlipFlop(_) => Some("flipflop".to_string()),
        _ => None,
    };
    let mut dir = dir.to_path_buf();
    for cand in sub.into_iter().chain([task.name().to_string()]) {
        if dir.join(&cand).is_dir() {
            dir = dir.join(cand);
            break;
        }
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| LangError::io(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    let splits = task.splits();
    let mut errors: Vec<LangError> = Vec::new();
    let mut files = 0usize;
    let mut lines = 0usize;
    for path in &entries {
        let fname = path.file_name().unwrap().to_string_lossy().into_owned();
        if fname.ends_with(".jsonl") {
            files += 1;
            match io::read_jsonl(task.as_ref(), path) {
                Ok(ex) => {
                    lines += ex.len();
                    let split = fname.trim_end_matches(".jsonl");
                    errors.extend(io::check_examples(
                        task.as_ref(),
                        path,
                        &ex,
                        MAX_ERRORS_PER_FILE,
                    ));
                    errors.extend(check_windows(&splits, split, path, &ex, &family));
                }
                Err(e) => errors.push(e),
            }
            continue;
        }
        match &family {
            Family::Suite(_) => {
                let Some((split, is_src)) = io::split_of_published_file(&fname) else {
                    eprintln!(
                        "warning: {}: not a data file of this layout, skipped",
                        path.display()
                    );
                    continue;
                };
                let (src_name, tgt_name) = io::published_file_names(&split);
                if !is_src {
                    // A pair with its source missing is an incomplete data set, not a pass.
                    if !dir.join(&src_name).exists() {
                        files += 1;
                        errors.push(LangError::io(
                            dir.join(&src_name),
                            std::io::Error::new(
                                std::io::ErrorKind::NotFound,
                                format!("missing: {} has no source file", path.display()),
                            ),
                        ));
                    }
                    continue;
                }
                files += 2;
                let tgt_path = dir.join(&tgt_name);
                match io::read_published_pair(task.as_ref(), path, &tgt_path) {
                    Ok(ex) => {
                        lines += ex.len();
                        // The strings parsed, so a disagreement with the task is in the
                        // targets: name the target file.
                        errors.extend(io::check_examples(
                            task.as_ref(),
                            &tgt_path,
                            &ex,
                            MAX_ERRORS_PER_FILE,
                        ));
                        errors.extend(check_windows(&splits, &split, path, &ex, &family));
                    }
                    Err(e) => errors.push(e),
                }
            }
            Family::FlipFlop(_) => {
                files += 1;
                match flipflop::read_text(path) {
                    Ok(ex) => {
                        lines += ex.len();
                        errors.extend(io::check_examples(
                            task.as_ref(),
                            path,
                            &ex,
                            MAX_ERRORS_PER_FILE,
                        ));
                    }
                    Err(e) => errors.push(e),
                }
            }
            Family::BoundedDyck(d) => {
                let split = fname.rsplit('.').next().unwrap_or("");
                let (lo, hi, depth) = match d.split_config(split) {
                    Ok(s) => (s.min_len, s.max_len, s.max_depth),
                    Err(_) => (1, usize::MAX, d.config().m),
                };
                files += 1;
                match d.read_file(path, lo, hi, depth) {
                    Ok(s) => lines += s.len(),
                    Err(e) => errors.push(e),
                }
            }
            Family::Other => {
                eprintln!(
                    "warning: {}: only .jsonl files can be checked for this task",
                    path.display()
                );
            }
        }
    }
    for e in &errors {
        println!("{e}");
    }
    if files == 0 {
        println!(
            "{}: no data files of task `{}` found",
            dir.display(),
            task.name()
        );
        return Ok(1);
    }
    eprintln!(
        "{}: {files} files, {lines} examples, {} errors",
        dir.display(),
        errors.len()
    );
    Ok(if errors.is_empty() { 0 } else { 1 })
}

/// Lengths within the split's window (suite lengths count characters = tokens).
fn check_windows(
    splits: &[SplitSpec],
    split: &str,
    path: &Path,
    examples: &[Example],
    family: &Family,
) -> Vec<LangError> {
    let Some(spec) = splits.iter().find(|s| s.name == split) else {
        return Vec::new();
    };
    if !matches!(family, Family::Suite(_)) {
        return Vec::new();
    }
    examples
        .iter()
        .enumerate()
        .filter(|(_, e)| !(spec.min_len..=spec.max_len).contains(&e.tokens.len()))
        .take(MAX_ERRORS_PER_FILE)
        .map(|(i, e)| {
            LangError::parse(
                path,
                i + 1,
                format!(
                    "length {} outside the {split} window [{},{}]",
                    e.tokens.len(),
                    spec.min_len,
                    spec.max_len
                ),
            )
        })
        .collect()
}
