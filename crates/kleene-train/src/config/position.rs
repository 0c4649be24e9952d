//! Lines and columns of config errors that serde reports without a usable position.
//!
//! `[model]` is a [`kleene_zoo::ModelConfig`], an internally tagged enum (`kind = "mamba"`).
//! serde buffers the content of such an enum before it deserializes the variant, so toml's
//! error for a misspelled key or a wrong type inside `[model]` points at the `[model]`
//! header instead of the key (an unknown `kind` keeps its position). [`model_error`] finds
//! the key at fault again by deserializing the `[model]` table on its own, and looks its
//! position up in the document; [`field_position`] does the same for a range error that
//! names a field (`model.d_model`, `training.lr`).

use std::ops::Range;

use kleene_zoo::ModelConfig;
use toml_edit::{ImDocument, Item};

/// Which part of an entry an error points at.
#[derive(Clone, Copy)]
enum Part {
    /// The key (an unknown field).
    Key,
    /// The value (a wrong type, an unknown variant, a bad value).
    Value,
    /// The `[model]` header (a missing field).
    Header,
}

/// The error of `[model]` as toml would print it, but at the key at fault and naming it
/// (`model.<key>`); `None` when the text does not parse or `[model]` is not what fails.
pub(super) fn model_error(text: &str) -> Option<String> {
    let doc = ImDocument::parse(text).ok()?;
    let root: toml::Table = toml::from_str(text).ok()?;
    let model = root.get("model")?.as_table()?;
    let item = doc.get("model")?;
    let err = deserialize_error(model)?;
    let (path, part) = locate(model, item, &err).unwrap_or((Vec::new(), Part::Header));
    let span = match part {
        Part::Header => item.span(),
        Part::Key => entry_span(item, &path, true),
        Part::Value => entry_span(item, &path, false),
    }
    .or_else(|| item.span())?;
    let field = std::iter::once("model")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(".");
    Some(format!("{}field `{field}`: {err}\n", snippet(text, span)))
}

/// The position of the entry a field error names, as `(field, line, column)` (1-based).
/// `field` is a dotted path (`training.lr`); a `model.` field that is not a path of the
/// document (the zoo names fields by its own structure, e.g. `model.s4d.d_state`) is looked
/// up by its last name inside `[model]`, and the path found is returned.
pub(super) fn field_position(text: &str, field: &str) -> Option<(String, usize, usize)> {
    let doc = ImDocument::parse(text).ok()?;
    let path: Vec<String> = field.split('.').map(String::from).collect();
    if let Some(span) = entry_span(doc.as_item(), &path, false) {
        let (line, column) = line_column(text, span.start);
        return Some((field.to_string(), line, column));
    }
    let (first, rest) = path.split_first()?;
    let name = rest.last()?;
    if first != "model" {
        return None;
    }
    let item = doc.get("model")?;
    let found = find(item, &mut Vec::new(), &|key, _| key == name)?;
    let span = entry_span(item, &found, false)?;
    let (line, column) = line_column(text, span.start);
    Some((format!("model.{}", found.join(".")), line, column))
}

/// serde's message for `model` as a [`ModelConfig`], `None` when it deserializes.
fn deserialize_error(model: &toml::Table) -> Option<String> {
    toml::Value::Table(model.clone())
        .try_into::<ModelConfig>()
        .err()
        .map(|e| e.message().trim().to_string())
}

/// The path (inside `[model]`) of the entry at fault for `err`, and the part to show.
fn locate(model: &toml::Table, item: &Item, err: &str) -> Option<(Vec<String>, Part)> {
    // serde names unknown fields, unknown variants and missing fields.
    if let Some(name) = quoted(err, "unknown field `") {
        if let Some(path) = find(item, &mut Vec::new(), &|key, _| key == name) {
            return Some((path, Part::Key));
        }
    }
    if let Some(name) = quoted(err, "unknown variant `") {
        let is_it = |_: &str, v: &Item| v.as_str() == Some(name);
        if let Some(path) = find(item, &mut Vec::new(), &is_it) {
            return Some((path, Part::Value));
        }
    }
    if let Some(name) = quoted(err, "missing field `") {
        return Some((vec![name.to_string()], Part::Header));
    }
    // A wrong type does not name its field: the entry whose removal cures the error is at
    // fault (a removed tag such as `kind` only gives "missing field", so it is skipped) ...
    if let Some(path) = blame(model, item, &mut Vec::new(), err) {
        return Some((path, Part::Value));
    }
    // ... unless two entries fail alike: then the first that fails beside `kind` alone.
    isolate(model, item).map(|path| (path, Part::Value))
}

/// The text between `prefix` and the next backtick in `err`.
fn quoted<'a>(err: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = &err[err.find(prefix)? + prefix.len()..];
    Some(&rest[..rest.find('`')?])
}

/// The first entry under `item` (document order, depth first) that `hit` accepts.
fn find(
    item: &Item,
    path: &mut Vec<String>,
    hit: &dyn Fn(&str, &Item) -> bool,
) -> Option<Vec<String>> {
    for (key, sub) in item.as_table_like()?.iter() {
        path.push(key.to_string());
        if hit(key, sub) {
            return Some(path.clone());
        }
        if let Some(found) = find(sub, path, hit) {
            return Some(found);
        }
        path.pop();
    }
    None
}

/// The first scalar entry (document order) whose removal changes `err` into something
/// other than its own "missing field".
fn blame(
    root: &toml::Table,
    item: &Item,
    path: &mut Vec<String>,
    err: &str,
) -> Option<Vec<String>> {
    for (key, sub) in item.as_table_like()?.iter() {
        path.push(key.to_string());
        if sub.is_table_like() {
            if let Some(found) = blame(root, sub, path, err) {
                return Some(found);
            }
        } else {
            let mut without = root.clone();
            remove(&mut without, path);
            let now = deserialize_error(&without);
            let missing = format!("missing field `{key}`");
            if now.as_deref() != Some(err) && now.as_deref() != Some(missing.as_str()) {
                return Some(path.clone());
            }
        }
        path.pop();
    }
    None
}

/// The first top-level entry that fails together with `kind` alone (when `kind` alone
/// is a whole config: every other field has a default).
fn isolate(root: &toml::Table, item: &Item) -> Option<Vec<String>> {
    let mut base = toml::Table::new();
    base.insert("kind".into(), root.get("kind")?.clone());
    if deserialize_error(&base).is_some() {
        return None;
    }
    for (key, _) in item.as_table_like()?.iter() {
        let mut one = base.clone();
        one.insert(key.to_string(), root.get(key)?.clone());
        if deserialize_error(&one).is_some() {
            return Some(vec![key.to_string()]);
        }
    }
    None
}

/// Removes the entry at `path` from `table`.
fn remove(table: &mut toml::Table, path: &[String]) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut t = table;
    for key in init {
        match t.get_mut(key).and_then(|v| v.as_table_mut()) {
            Some(sub) => t = sub,
            None => return,
        }
    }
    t.remove(last);
}

/// The span of the key or the value of the entry at `path` under `item`.
fn entry_span(item: &Item, path: &[String], key: bool) -> Option<Range<usize>> {
    let (last, init) = path.split_last()?;
    let mut it = item;
    for k in init {
        it = it.as_table_like()?.get(k)?;
    }
    let (k, v) = it.as_table_like()?.get_key_value(last)?;
    if key {
        k.span()
    } else {
        v.span()
    }
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// toml's error header: the position, the line, carets under the span.
fn snippet(text: &str, span: Range<usize>) -> String {
    let (line, column) = line_column(text, span.start);
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    let start = span.start.min(text.len());
    let end = span.end.clamp(start, text.len());
    let width = text[start..end]
        .lines()
        .next()
        .map(|s| s.chars().count())
        .unwrap_or(0)
        .max(1);
    let gutter = " ".repeat(line.to_string().len());
    format!(
        "TOML parse error at line {line}, column {column}\n{gutter} |\n{line} | {line_text}\n{gutter} | {}{}\n",
        " ".repeat(column - 1),
        "^".repeat(width)
    )
}
