//! `kleene model`: the listing names every kind and mixer with its defaults; `show` prints a
//! `[model]` table that parses back, and a parameter count equal to one counted by hand.

mod common;
use common::{kleene, ok};

#[test]
fn list_names_every_kind_and_mixer_with_defaults() {
    let out = ok(&["model", "list"]);
    for &kind in kleene_zoo::ModelConfig::KINDS {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{kind}: "))),
            "kind {kind} missing:\n{out}"
        );
    }
    for &name in kleene_zoo::MixerConfig::NAMES {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{name}: "))),
            "mixer {name} missing:\n{out}"
        );
    }
    // Defaults are printed beside the names (Mamba's published d_state 16, RetNet's 8 heads).
    assert!(out.contains("d_state = 16"), "{out}");
    assert!(out.contains("n_heads = 8"), "{out}");
}

#[test]
fn show_counts_parameters_as_by_hand() {
    // LSTM, hidden 8, vocab 3, out 2: W_ih 3x32 + b_ih 32 + W_hh 8x32 + b_hh 32 + head 8x2.
    let out = ok(&[
        "model",
        "show",
        "lstm",
        "--vocab",
        "3",
        "--out",
        "2",
        "--set",
        "hidden_size=8",
    ]);
    let want = 3 * 32 + 32 + 8 * 32 + 32 + 8 * 2;
    assert!(
        out.contains(&format!("parameters: {want} (vocab 3, out 2)")),
        "{out}"
    );
    // SD-SSM, N 4, K 2, vocab 3, out 2, linear readout: K matrices NxN, selector 3xK and its
    // bias K, input table 3xN, LayerNorm 2N, readout Nx2 + 2.
    let out = ok(&[
        "model",
        "show",
        "sdssm",
        "--vocab",
        "3",
        "--out",
        "2",
        "--set",
        "state_size=4",
        "--set",
        "num_transition_matrices=2",
    ]);
    let (n, k) = (4, 2);
    let want = k * n * n + 3 * k + k + 3 * n + 2 * n + n * 2 + 2;
    assert!(
        out.contains(&format!("parameters: {want} (vocab 3, out 2)")),
        "{out}"
    );
    // The printed table is a valid `[model]` section with the override applied.
    let table: toml::Table =
        toml::from_str(&out[out.find("[model]").unwrap()..out.find("parameters:").unwrap()])
            .unwrap();
    let model: kleene_zoo::ModelConfig =
        toml::Value::Table(table["model"].as_table().unwrap().clone())
            .try_into()
            .unwrap();
    assert_eq!(model.kind(), "sdssm");
}

#[test]
fn show_rejects_bad_values_and_unknown_kinds_with_the_field() {
    let out = kleene(&["model", "show", "mamba", "--set", "d_model=0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mamba.d_model"));
    let out = kleene(&["model", "show", "mamba", "--set", "d_modle=8"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("d_modle"));
    let out = kleene(&["model", "show", "mambaa"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mambaa"));
}
