//! `kleene model …`: the model kinds and mixers of the zoo, their parameters and defaults.
//!
//! - `list`: every model kind and every mixer, a line on each and its parameters with their
//!   defaults (as `kleene data list` does for tasks);
//! - `show KIND`: one of them (a kind, `transformer_plus`, or a mixer name, which is that mixer
//!   in the default `icl` backbone) as a `[model]` table, with its parameter count at the given
//!   vocabulary and output sizes and `--set` overrides.

use std::fmt::Write as _;

use burn::module::Module;
use clap::Subcommand;
use kleene_zoo::{MixerConfig, ModelConfig};

/// The backend that counts parameters (any would do).
type CountBackend = burn_ndarray::NdArray<f32>;

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Every model kind and mixer with its parameters and defaults.
    List,
    /// One model kind or mixer: its `[model]` table and parameter count.
    Show {
        /// A kind (`mamba`, `sdssm`, ..., `transformer_plus`) or a mixer name (`retnet`, ...).
        kind: String,
        /// Input vocabulary size for the parameter count.
        #[arg(long, default_value_t = 2)]
        vocab: usize,
        /// Outputs per position for the parameter count.
        #[arg(long, default_value_t = 2)]
        out: usize,
        /// Override a field, `KEY=VALUE` with a TOML value (`d_model=64`, `mixer.n_heads=4`,
        /// `positions="rotary"`); repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

/// Runs a model command; returns the process exit code.
pub fn run(command: ModelCommand) -> i32 {
    let result = match command {
        ModelCommand::List => Ok(list()),
        ModelCommand::Show {
            kind,
            vocab,
            out,
            set,
        } => show(&kind, vocab, out, &set),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// The fields of a config as `key = value` lines, without the tag.
fn fields(table: &toml::Table, tag: &str) -> Vec<String> {
    table
        .iter()
        .filter(|(k, _)| k.as_str() != tag)
        .map(|(k, v)| format!("{k} = {v}"))
        .collect()
}

fn as_table<T: serde::Serialize>(value: &T) -> toml::Table {
    toml::Table::try_from(value).expect("a config serialises to a TOML table")
}

/// Every kind and mixer with its parameters and defaults.
pub fn list() -> String {
    let mut out = String::new();
    out.push_str("Model kinds (`[model] kind = ...`):\n");
    for &kind in ModelConfig::KINDS {
        let cfg = ModelConfig::default_for(kind).expect("a listed kind");
        let _ = writeln!(
            out,
            "\n{kind}: {}",
            ModelConfig::description(kind).unwrap_or("")
        );
        let table = as_table(&cfg);
        if kind == "icl" {
            let _ = writeln!(
                out,
                "  backbone: {}",
                fields(&table, "kind")
                    .into_iter()
                    .filter(|f| !f.starts_with("mixer"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            out.push_str("  mixer: any mixer below, `mixer = { layer = \"NAME\", ... }`\n");
        } else {
            let _ = writeln!(out, "  {}", fields(&table, "kind").join(", "));
        }
    }
    out.push_str("\nAlias: transformer_plus = transformer with positions = \"rotary\".\n");
    out.push_str("\nMixers (`[model] kind = \"icl\"`, `mixer = { layer = NAME, ... }`; a mixer name as a kind is that mixer in the default backbone):\n");
    for &name in MixerConfig::NAMES {
        let cfg = MixerConfig::default_for(name).expect("a listed mixer");
        let _ = writeln!(
            out,
            "\n{name}: {}",
            MixerConfig::description(name).unwrap_or("")
        );
        let params = fields(&as_table(&cfg), "layer");
        let _ = writeln!(
            out,
            "  {}",
            if params.is_empty() {
                "(no parameters)".to_string()
            } else {
                params.join(", ")
            }
        );
    }
    out
}

/// Applies `KEY=VALUE` overrides (one dotted level: `mixer.n_heads=4`) to a `[model]` table.
fn apply_overrides(table: &mut toml::Table, set: &[String]) -> Result<(), String> {
    for item in set {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| format!("--set `{item}`: expected KEY=VALUE"))?;
        // A TOML value (`8`, `true`, `"rotary"`), or else the bare text as a string.
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .map(|mut t| t.remove("v").expect("parsed"))
            .unwrap_or_else(|_| toml::Value::String(value.to_string()));
        let key = key.trim();
        match key.split_once('.') {
            None => {
                table.insert(key.to_string(), value);
            }
            Some((outer, inner)) => {
                let sub = table
                    .get_mut(outer)
                    .and_then(|v| v.as_table_mut())
                    .ok_or_else(|| format!("--set `{item}`: `{outer}` is not a table"))?;
                sub.insert(inner.to_string(), value);
            }
        }
    }
    Ok(())
}

/// One kind or mixer: its `[model]` table, description and parameter count.
pub fn show(kind: &str, vocab: usize, out_dim: usize, set: &[String]) -> Result<String, String> {
    let base = ModelConfig::default_for(kind).map_err(|e| e.to_string())?;
    let mut table = as_table(&base);
    apply_overrides(&mut table, set)?;
    let cfg: ModelConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| format!("model config: {}", e.message()))?;
    let device = Default::default();
    let model = cfg
        .init::<CountBackend>(vocab, out_dim, &device)
        .map_err(|e| e.to_string())?;
    let description = ModelConfig::description(kind)
        .or_else(|| MixerConfig::description(kind))
        .unwrap_or("the transformer with rotary positions");
    #[derive(serde::Serialize)]
    struct RunConfigModel<'a> {
        model: &'a ModelConfig,
    }
    let mut text = format!("{kind}: {description}\n\n");
    text.push_str(&toml::to_string(&RunConfigModel { model: &cfg }).expect("serialisable"));
    let _ = writeln!(
        text,
        "\nparameters: {} (vocab {vocab}, out {out_dim})",
        model.num_params()
    );
    Ok(text)
}
