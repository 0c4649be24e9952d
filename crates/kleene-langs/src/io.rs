//! Reading and writing data files: the published `generated_ds` src/tgt text format of
//! the Bhattamishra suite, and JSONL (one [`Example`] per line, any task). The bounded
//! Dyck and flip-flop text formats live in their family modules and use the helpers here.
//!
//! Reading validates and never panics: a symbol outside the alphabet, src/tgt lines of
//! different lengths, a target of the wrong width, an empty or truncated file all give a
//! [`LangError::Parse`] naming the file and the 1-based line.
//! Writing is atomic: the data goes to a temporary file in the same folder, which is then
//! renamed over the destination.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Example, LangError, Target, TargetKind, Task};

/// Writes `bytes` to `path` atomically (temporary file in the same folder, synced, then
/// renamed over `path`). Creates the parent folder if needed. The one atomic write of the
/// workspace: kleene-eval and kleene-train call it and map [`LangError::Io`] into their own
/// errors.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LangError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Streams data into `path` atomically: `fill` writes into a buffered temporary file in
/// the same folder, which is synced and renamed over `path` only when `fill` succeeded
/// (the temporary file is removed otherwise). The temporary name is unique per process
/// and call, so concurrent writers of one path (threads of one process, or processes) never
/// share a temporary file: the last rename wins and every reader sees a whole file. After
/// the rename the folder is synced too (where the platform allows), so the new name
/// survives a crash. Errors name `path` (or the folder that could not be created).
pub fn write_atomic_with<F>(path: &Path, fill: F) -> Result<(), LangError>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| LangError::io(&dir, e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{file_name}.tmp{}-{n}", std::process::id()));
    let result = (|| {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, fs::File::create(&tmp)?);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(LangError::io(path, e));
    }
    // Best effort: persist the rename itself (a folder can be opened and synced on Unix).
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Joins lines with `\n`; the published files have **no** trailing newline.
pub fn join_lines<I, L>(lines: I, trailing_newline: bool) -> Vec<u8>
where
    I: IntoIterator<Item = L>,
    L: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for (i, l) in lines.into_iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(l.as_ref());
    }
    if trailing_newline && !out.is_empty() {
        out.push(b'\n');
    }
    out
}

/// Reads a text file as lines. Accepts files with or without a final newline and `\r\n`
/// endings. An empty file is an error.
pub fn read_lines(path: &Path) -> Result<Vec<String>, LangError> {
    let bytes = fs::read(path).map_err(|e| LangError::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        LangError::parse(path, line, "not valid UTF-8")
    })?;
    if text.is_empty() {
        return Err(LangError::parse(path, 1, "empty file"));
    }
    let body = text.strip_suffix('\n').unwrap_or(&text);
    Ok(body
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect())
}

/// File names of a split in the published layout: `train` -> `train_src.txt` /
/// `train_tgt.txt`; `binK` -> `val_src_binK.txt` / `val_tgt_binK.txt`; any other name
/// `<name>_src.txt` / `<name>_tgt.txt`.
pub fn published_file_names(split: &str) -> (String, String) {
    if split.starts_with("bin") {
        (
            format!("val_src_{split}.txt"),
            format!("val_tgt_{split}.txt"),
        )
    } else {
        (format!("{split}_src.txt"), format!("{split}_tgt.txt"))
    }
}

/// The split name of a published file name (`val_src_bin2.txt` -> `bin2`,
/// `train_tgt.txt` -> `train`) and whether it is a source file.
pub fn split_of_published_file(file_name: &str) -> Option<(String, bool)> {
    let stem = file_name.strip_suffix(".txt")?;
    if let Some(rest) = stem.strip_prefix("val_src_") {
        return Some((rest.to_string(), true));
    }
    if let Some(rest) = stem.strip_prefix("val_tgt_") {
        return Some((rest.to_string(), false));
    }
    if let Some(rest) = stem.strip_suffix("_src") {
        return Some((rest.to_string(), true));
    }
    stem.strip_suffix("_tgt").map(|r| (r.to_string(), false))
}

/// The character tables of a per-position task written one character per token:
/// vocabulary entries of one character, classes all of one width.
struct CharCodec {
    vocab: Vec<char>,
    token_of: HashMap<char, u32>,
    classes: Vec<String>,
    class_of: HashMap<String, u32>,
    width: usize,
}

impl CharCodec {
    fn new(task: &dyn Task) -> Result<Self, String> {
        if task.target_kind() != TargetKind::PerPosition {
            return Err(format!(
                "task `{}` has {:?} targets; the src/tgt text format needs per-position targets",
                task.name(),
                task.target_kind()
            ));
        }
        let vocab_s = task.vocab();
        let mut vocab = Vec::with_capacity(vocab_s.len());
        for v in &vocab_s {
            let mut it = v.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => vocab.push(c),
                _ => {
                    return Err(format!(
                        "task `{}` has a multi-character token `{v}`; use JSONL",
                        task.name()
                    ))
                }
            }
        }
        let classes = task.classes();
        let width = classes.first().map(|c| c.chars().count()).unwrap_or(1);
        if classes.iter().any(|c| c.chars().count() != width) {
            return Err(format!(
                "task `{}` has classes of different widths; use JSONL",
                task.name()
            ));
        }
        Ok(CharCodec {
            token_of: vocab
                .iter()
                .enumerate()
                .map(|(i, &c)| (c, i as u32))
                .collect(),
            vocab,
            class_of: classes
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), i as u32))
                .collect(),
            classes,
            width,
        })
    }
}

/// Writes one split in the published layout: `dir/<src file>` and `dir/<tgt file>`
/// (see [`published_file_names`]), no trailing newline. The task must have per-position
/// targets and single-character tokens (every Bhattamishra task does).
pub fn write_published_split(
    task: &dyn Task,
    dir: &Path,
    split: &str,
    examples: &[Example],
) -> Result<(PathBuf, PathBuf), LangError> {
    let (src_name, tgt_name) = published_file_names(split);
    let (src_path, tgt_path) = (dir.join(src_name), dir.join(tgt_name));
    let codec = CharCodec::new(task).map_err(|reason| LangError::InvalidConfig {
        task: task.name().to_string(),
        field: "format".into(),
        reason,
    })?;
    let mut src = String::new();
    let mut tgt = String::new();
    for (i, ex) in examples.iter().enumerate() {
        if i > 0 {
            src.push('\n');
            tgt.push('\n');
        }
        let Target::PerPosition(classes) = &ex.target else {
            return Err(LangError::parse(
                &tgt_path,
                i + 1,
                "example without per-position target",
            ));
        };
        for &t in &ex.tokens {
            let c = codec.vocab.get(t as usize).ok_or_else(|| {
                LangError::parse(
                    &src_path,
                    i + 1,
                    format!("token id {t} outside the vocabulary"),
                )
            })?;
            src.push(*c);
        }
        for &c in classes {
            let s = codec.classes.get(c as usize).ok_or_else(|| {
                LangError::parse(
                    &tgt_path,
                    i + 1,
                    format!("class id {c} outside the classes"),
                )
            })?;
            tgt.push_str(s);
        }
    }
    write_atomic(&src_path, src.as_bytes())?;
    write_atomic(&tgt_path, tgt.as_bytes())?;
    Ok((src_path, tgt_path))
}

/// Reads a published src/tgt pair into examples, validating the format: every symbol in
/// the task's alphabet, no empty lines, as many tgt lines as src lines, each tgt line
/// exactly `len(src) * width` characters of known classes. (Membership and the oracle's
/// target are checked separately by [`check_examples`].)
pub fn read_published_pair(
    task: &dyn Task,
    src_path: &Path,
    tgt_path: &Path,
) -> Result<Vec<Example>, LangError> {
    let codec = CharCodec::new(task).map_err(|reason| LangError::InvalidConfig {
        task: task.name().to_string(),
        field: "format".into(),
        reason,
    })?;
    let src = read_lines(src_path)?;
    let tgt = read_lines(tgt_path)?;
    if src.len() != tgt.len() {
        let (short, n) = if src.len() < tgt.len() {
            (src_path, src.len())
        } else {
            (tgt_path, tgt.len())
        };
        return Err(LangError::parse(
            short,
            n + 1,
            format!(
                "truncated: {} has {} lines, {} has {}",
                src_path.display(),
                src.len(),
                tgt_path.display(),
                tgt.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(src.len());
    for (i, (s, t)) in src.iter().zip(&tgt).enumerate() {
        let line = i + 1;
        if s.is_empty() {
            return Err(LangError::parse(src_path, line, "empty line"));
        }
        let mut tokens = Vec::with_capacity(s.len());
        for (pos, c) in s.chars().enumerate() {
            match codec.token_of.get(&c) {
                Some(&id) => tokens.push(id),
                None => {
                    return Err(LangError::parse(
                        src_path,
                        line,
                        format!(
                            "symbol {c:?} at column {} is not in the alphabet of `{}`",
                            pos + 1,
                            task.name()
                        ),
                    ))
                }
            }
        }
        let tchars: Vec<char> = t.chars().collect();
        if tchars.len() != tokens.len() * codec.width {
            return Err(LangError::parse(
                tgt_path,
                line,
                format!(
                    "target has {} characters, expected {} ({} symbols x chunk {})",
                    tchars.len(),
                    tokens.len() * codec.width,
                    tokens.len(),
                    codec.width
                ),
            ));
        }
        let mut classes = Vec::with_capacity(tokens.len());
        for (pos, chunk) in tchars.chunks(codec.width).enumerate() {
            let key: String = chunk.iter().collect();
            match codec.class_of.get(&key) {
                Some(&id) => classes.push(id),
                None => {
                    return Err(LangError::parse(
                        tgt_path,
                        line,
                        format!(
                            "chunk {key:?} at position {pos} is not a class of `{}`",
                            task.name()
                        ),
                    ))
                }
            }
        }
        out.push(Example {
            tokens,
            target: Target::PerPosition(classes),
        });
    }
    Ok(out)
}

/// Runs [`Task::check_example`] on every example; returns one error per bad line
/// (`path`:line: reason), at most `max_errors`.
pub fn check_examples(
    task: &dyn Task,
    path: &Path,
    examples: &[Example],
    max_errors: usize,
) -> Vec<LangError> {
    let mut errors = Vec::new();
    for (i, ex) in examples.iter().enumerate() {
        if let Err(reason) = task.check_example(ex) {
            errors.push(LangError::parse(path, i + 1, reason));
            if errors.len() >= max_errors {
                break;
            }
        }
    }
    errors
}

/// Writes examples as JSONL (one `Example` per line, with a trailing newline), atomically.
pub fn write_jsonl(path: &Path, examples: &[Example]) -> Result<(), LangError> {
    let mut out = Vec::new();
    for ex in examples {
        serde_json::to_writer(&mut out, ex).map_err(|e| LangError::io(path, e.into()))?;
        out.push(b'\n');
    }
    write_atomic(path, &out)
}

/// Reads a JSONL file of examples of `task`, checking every line's shape (token ids in
/// the vocabulary, target kind and width, class ids).
pub fn read_jsonl(task: &dyn Task, path: &Path) -> Result<Vec<Example>, LangError> {
    let lines = read_lines(path)?;
    let (v, c, k) = (task.vocab().len(), task.classes().len(), task.target_kind());
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if l.trim().is_empty() {
                return Err(LangError::parse(path, i + 1, "empty line"));
            }
            let ex: Example = serde_json::from_str(l)
                .map_err(|e| LangError::parse(path, i + 1, format!("bad JSON example: {e}")))?;
            crate::task::check_example_shape(v, c, k, &ex)
                .map_err(|r| LangError::parse(path, i + 1, r))?;
            Ok(ex)
        })
        .collect()
}
