//! The models of the state-tracking table: one line each (name, label, `[model]` TOML,
//! published Table 2 numbers), and PD-SSM's published `(G, k)` numbers.

/// A published cell: mean ± std over seeds, in % (PD-SSM Table 2, `assets/fsa_table.png`).
#[derive(Clone, Copy, Debug)]
pub struct Published {
    pub mean: f64,
    pub std: f64,
}

const fn p(mean: f64, std: f64) -> Option<Published> {
    Some(Published { mean, std })
}

/// A model of the table. `published` is in the order of [`super::TASKS`]: cycle navigation,
/// even pairs, modular arithmetic, parity (the columns of Table 2); `None` where Table 2 has no
/// row.
pub struct Model {
    pub name: &'static str,
    pub label: &'static str,
    pub published: [Option<Published>; 4],
}

const NONE: [Option<Published>; 4] = [None; 4];

const fn m(name: &'static str, label: &'static str, published: [Option<Published>; 4]) -> Model {
    Model {
        name,
        label,
        published,
    }
}

/// The default list: every recurrent model of the zoo, the Transformer and the LSTM. Table 2's numbers (verified against the
/// repository's `assets/fsa_table.png`; spec state-tracking-models.md §10.4).
pub const MODELS: [Model; 15] = [
    m(
        "lstm",
        "LSTM",
        [p(100.0, 0.0), p(100.0, 0.0), p(99.9, 0.1), p(100.0, 0.0)],
    ),
    m(
        "transformer",
        "Transformer",
        [p(24.4, 0.5), p(90.4, 10.4), p(23.6, 0.7), p(52.2, 0.4)],
    ),
    m(
        "mamba",
        "Mamba",
        [p(50.7, 7.8), p(100.0, 0.0), p(38.1, 6.0), p(54.5, 1.5)],
    ),
    m("mamba11", "Mamba [-1,1]", NONE),
    m(
        "deltanet",
        "DeltaNet",
        [p(49.0, 5.4), p(100.0, 0.0), p(44.2, 8.0), p(58.4, 1.1)],
    ),
    m(
        "deltanet11",
        "DeltaNet [-1,1]",
        [p(47.3, 6.0), p(100.0, 0.0), p(63.9, 7.2), p(97.2, 1.7)],
    ),
    m(
        "gated_deltanet",
        "Gated DeltaNet",
        [p(55.9, 7.8), p(100.0, 0.0), p(49.9, 7.5), p(56.6, 0.7)],
    ),
    m(
        "gdp11",
        "Gated DeltaProduct [-1,1]",
        [p(61.4, 12.0), p(99.6, 0.6), p(58.0, 20.0), p(98.8, 1.5)],
    ),
    m(
        "rwkv7",
        "RWKV-7",
        [p(37.8, 5.0), p(88.1, 14.2), p(41.6, 13.8), p(51.0, 0.3)],
    ),
    m("sdssm", "SD-SSM", NONE),
    m(
        "complex_diagonal",
        "ℂ diagonal",
        [p(90.4, 4.3), p(82.4, 4.8), p(59.9, 27.0), p(61.8, 6.8)],
    ),
    m("mamba2", "Mamba-2", NONE),
    m(
        "slstm",
        "sLSTM",
        [p(39.2, 4.3), p(100.0, 0.0), p(34.8, 1.5), p(100.0, 0.0)],
    ),
    m("mlstm", "mLSTM", NONE),
    m(
        "pd_ssm",
        "PD-SSM",
        [p(99.5, 0.7), p(99.7, 0.3), p(96.2, 3.4), p(99.9, 0.1)],
    ),
];

/// Every model this example knows, default list first.
pub fn all_models() -> impl Iterator<Item = &'static Model> {
    MODELS.iter()
}

/// The `[model]` table of `name` with width `d` and `layers` blocks. Choices as the Grazzi
/// example (Mamba in pre-norm blocks without MLP, as `MambaLM`; delta-rule mixers in blocks
/// with an MLP; short convolutions of width 4; 4 heads), embedding dropout 0.
pub fn model_table(name: &str, d: usize, layers: usize) -> String {
    let icl = |mixer: &str, backbone: &str| {
        format!(
            "kind = \"icl\"\nd_model = {d}\nn_layer = {layers}\nembed_dropout = 0.0\n\
             tie_embeddings = false\nbackbone = \"{backbone}\"\nmixer = {mixer}"
        )
    };
    match name {
        "lstm" => format!("kind = \"lstm\"\nhidden_size = {d}\nnum_layers = 1"),
        "transformer" => format!(
            "kind = \"transformer\"\nd_model = {d}\nn_layers = {layers}\nn_heads = 4\n\
             positions = \"rotary\"\nmax_len = 512\nattn_dropout = 0.0"
        ),
        "mamba" => icl("{ layer = \"mamba\", d_state = 16, d_conv = 4 }", "no_ffn"),
        "mamba11" => icl(
            "{ layer = \"mamba\", d_state = 16, d_conv = 4, allow_neg_eigval = true }",
            "no_ffn",
        ),
        "deltanet" => icl("{ layer = \"delta_net\", n_heads = 4 }", "lm_simple"),
        "deltanet11" => icl(
            "{ layer = \"delta_net\", n_heads = 4, allow_neg_eigval = true }",
            "lm_simple",
        ),
        "gated_deltanet" => icl("{ layer = \"gated_delta_net\", n_heads = 4 }", "lm_simple"),
        "gdp11" => icl(
            "{ layer = \"gated_delta_product\", n_heads = 4, num_householder = 2, \
             allow_neg_eigval = true }",
            "lm_simple",
        ),
        "rwkv7" => icl(
            &format!("{{ layer = \"rwkv7\", head_dim = {} }}", d / 4),
            "lm_simple",
        ),
        "sdssm" => format!("kind = \"sdssm\"\nstate_size = {d}"),
        "complex_diagonal" => {
            format!("kind = \"complex_diagonal\"\nstate_size = {d}\nnum_layers = {layers}")
        }
        // Mamba-2 in pre-norm blocks without MLP (as Mamba); sLSTM in blocks with an MLP (its
        // xLSTM block has a gated FFN; lm_simple's is a GELU MLP), mLSTM without (its block has
        // none); the mixers' own defaults otherwise.
        "mamba2" => icl("{ layer = \"mamba2\" }", "no_ffn"),
        "slstm" => icl("{ layer = \"slstm\" }", "lm_simple"),
        "mlstm" => icl("{ layer = \"mlstm\" }", "no_ffn"),
        // Upstream's PD model (embedding, PD blocks without residual, head) with N = E, its
        // row one-hot gather form (the code behind Table 2), K = 8.
        "pd_ssm" => format!(
            "kind = \"pd_ssm\"\nd_model = {d}\nn_layers = {layers}\nblock = {{ form = \"gather\" }}"
        ),
        other => unreachable!("models are listed in MODELS, not {other}"),
    }
}

/// PD-SSM's `(G, k)` table (spec §10.5, `assets/A5.png`, verified): per model and depth,
/// accuracy % on a5-k2, a5-k6, a5-k8, a5-k12, s5-k4, s5-k8, s5-k32 (`None`: not run there).
pub const GROUP_PUBLISHED: [(&str, usize, [Option<f64>; 7]); 4] = [
    (
        "complex_diagonal",
        2,
        [Some(15.5), None, None, None, None, None, None],
    ),
    (
        "gdp11",
        1,
        [
            Some(97.9),
            Some(92.5),
            Some(91.8),
            Some(60.5),
            Some(88.7),
            Some(57.4),
            Some(1.23),
        ],
    ),
    (
        "gdp11",
        2,
        [None, None, None, Some(68.4), Some(84.7), Some(62.2), None],
    ),
    (
        "pd_ssm",
        1,
        [
            Some(100.0),
            Some(100.0),
            Some(100.0),
            Some(100.0),
            Some(100.0),
            Some(100.0),
            Some(1.07),
        ],
    ),
];

/// The `(G, k)` tasks in [`GROUP_PUBLISHED`]'s column order.
pub const GROUP_TASKS: [&str; 7] = [
    "a5-k2", "a5-k6", "a5-k8", "a5-k12", "s5-k4", "s5-k8", "s5-k32",
];
