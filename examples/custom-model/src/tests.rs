//! The example's checks: the language against a second oracle, the layer's step against its
//! forward, and the whole high-level path at a tiny budget.

use super::*;

type Nd = CpuInference;

/// A second, independent reading of `last-letter`: for each position, scan back to the
/// nearest `a` or `b`.
fn label_by_scanning_back(tokens: &[u32], position: usize) -> u32 {
    tokens[..=position]
        .iter()
        .rev()
        .find(|&&t| t < 2)
        .copied()
        .unwrap_or(0)
}

#[test]
fn the_language_matches_a_second_oracle() {
    let mut rng = kleene::langs::seeded_rng(7);
    for _ in 0..200 {
        let ex = LastLetter.sample(1, 60, &mut rng).unwrap();
        let Target::PerPosition(labels) = &ex.target else {
            panic!("per-position target expected")
        };
        for (i, &label) in labels.iter().enumerate() {
            assert_eq!(
                label,
                label_by_scanning_back(&ex.tokens, i),
                "{:?}",
                ex.tokens
            );
        }
    }
}

#[test]
fn the_layer_steps_as_it_forwards_and_is_causal() {
    let device = Default::default();
    Nd::seed(&device, 3);
    let layer = GatedRnn::<Nd>::new(6, &device);
    let x = Tensor::<Nd, 3>::random(
        [2, 9, 6],
        kleene::burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let whole = layer.forward(x.clone());
    let mut h = layer.init_state(2, &device);
    for t in 0..9 {
        let (y, next) = layer.step(x.clone().slice([0..2, t..t + 1]).reshape([2, 6]), h);
        h = next;
        let expected = whole.clone().slice([0..2, t..t + 1]).reshape([2, 6]);
        y.into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Default::default());
    }
    // Changing the last input leaves every earlier output as it was.
    let mut changed = x.clone();
    changed = changed.slice_assign([0..2, 8..9], Tensor::ones([2, 1, 6], &device));
    let other = layer.forward(changed);
    other
        .slice([0..2, 0..8])
        .into_data()
        .assert_approx_eq::<f32>(&whole.slice([0..2, 0..8]).into_data(), Default::default());
}

#[test]
fn the_high_level_path_takes_the_registered_language_and_layer_by_name() {
    let dir = std::env::temp_dir().join(format!("kleene-custom-model-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let demo = demo(20, &dir).unwrap();
    assert_eq!(demo.trained.steps, 20);
    // The task's own splits, evaluated; re-evaluating the run directory by name (config and
    // checkpoint read back, the custom model rebuilt through its registration) gives the same
    // numbers as the evaluation right after training.
    let names: Vec<&str> = demo
        .trained
        .report
        .rows
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["test", "longer"]);
    for (a, b) in demo.trained.report.rows.iter().zip(&demo.re_evaluated.rows) {
        assert_eq!(a.pos_acc, b.pos_acc, "{}", a.name);
    }
    // The sweep's report has one row per grid point, labelled by the registered name.
    assert!(
        demo.sweep_markdown.contains("gated_rnn"),
        "{}",
        demo.sweep_markdown
    );
    // A misspelt setting is an error naming it, before anything is trained.
    let bad = config_toml(5, Path::new("unused")).replace("n_layers = 1", "n_layer = 1");
    let cfg = RunConfig::parse(&bad, Path::new("gated_rnn.toml")).unwrap();
    let err = kleene::train::run::model_config(&cfg)
        .unwrap_err()
        .to_string();
    assert!(err.contains("n_layer"), "{err}");
    // A second registration of the name is refused, naming it.
    let again = register_model("gated_rnn", GatedRnnKind)
        .unwrap_err()
        .to_string();
    assert!(
        again.contains("`gated_rnn` is already a registered model kind"),
        "{again}"
    );
    assert!(
        kleene::train::registered_models()
            .iter()
            .any(|(name, description)| name == "gated_rnn"
                && description.contains("gated linear RNN"))
    );
    // A name nobody registered says so.
    let cfg = RunConfig::parse(
        &config_toml(5, Path::new("unused")).replace("\"gated_rnn\"", "\"gru\""),
        Path::new("gru.toml"),
    )
    .unwrap();
    let err = kleene::train::run::model_config(&cfg)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no model kind `gru` is registered"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
