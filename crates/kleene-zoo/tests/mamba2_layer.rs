//! The Mamba-2 mixer (`layers/mamba2.rs`): forward and the recurrent step against a float64
//! transcription of upstream's `Mamba2Simple` on fixed weights (`tests/fixtures/mamba2/`, written
//! by `gen_mamba2_fixture.py` beside them, checked there against upstream's own class), and
//! against a float64 reference of the whole mixer in plain loops (`mamba2_reference`, the step form of spec §6.2),
//! that reference against the SSD chunked form of `ssd_minimal_discrete` (§6.3, §6.5) and
//! against causal linear attention for `A → 0`; step == forward, causality, gradients, init,
//! and config errors.

mod fla_fixture;
mod icl_common;
mod mamba2_reference;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;
use fla_fixture::{array, fixture_in, max_rel, tensor, Loader};
use icl_common::*;
use kleene_zoo::layers::{Mamba2, Mamba2Config};
use kleene_zoo::{SequenceLayer, ZooError};
use mamba2_reference::{core_linear_attention, core_ssd, core_step, prepare, Core, Params};

/// `(d_model, headdim, ngroups, d_state, d_conv)` of the configurations checked: the default
/// widths' layout (P 16, channels a multiple of 8: the CPU scan's channels-last kernel), P 3
/// (the fallback kernel) with 2 groups, 4 groups of one head each, and no convolution context.
const SHAPES: [(usize, usize, usize, usize, usize); 4] = [
    (16, 16, 1, 8, 4),
    (6, 3, 2, 4, 4),
    (8, 4, 4, 3, 3),
    (8, 8, 1, 5, 1),
];

fn config(headdim: usize, ngroups: usize, d_state: usize, d_conv: usize) -> Mamba2Config {
    Mamba2Config {
        headdim,
        ngroups,
        d_state,
        d_conv,
        ..Default::default()
    }
}

/// A mixer whose every parameter is random (not the structured init): the decays
/// `exp(Δ A)` spread over (0, 1) (`dt_bias ~ N(0, 1)`, `A_log ~ U(−1, 1.5)`), and D, the norm
/// weight and the conv away from their constants.
fn random_mixer<Bk: Backend>(
    d_model: usize,
    cfg: &Mamba2Config,
    device: &Bk::Device,
) -> Mamba2<Bk> {
    let mut m = perturb(cfg.init::<Bk>(d_model, 2, device).unwrap(), 0.3);
    let h = m.dims().heads;
    m.dt_bias = Param::from_tensor(Tensor::random([h], Distribution::Normal(0.0, 1.0), device));
    m.a_log = Param::from_tensor(Tensor::random(
        [h],
        Distribution::Uniform(-1.0, 1.5),
        device,
    ));
    m
}

fn f64s<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f64> {
    t.into_data().convert::<f64>().to_vec::<f64>().unwrap()
}

/// The mixer's parameters in f64 for the reference.
fn params_of(m: &Mamba2<B>, d_model: usize) -> Params {
    let dims = m.dims();
    Params {
        d_model,
        heads: dims.heads,
        headdim: dims.headdim,
        groups: dims.ngroups,
        d_state: dims.d_state,
        d_conv: dims.d_conv,
        eps: dims.norm_eps,
        in_proj: f64s(m.in_proj.weight.val()),
        conv_w: f64s(m.conv_weight.val()),
        conv_b: f64s(m.conv_bias.val()),
        dt_bias: f64s(m.dt_bias.val()),
        a_log: f64s(m.a_log.val()),
        d_skip: f64s(m.d_skip.val()),
        norm_w: f64s(m.norm_weight.val()),
        out_proj: f64s(m.out_proj.weight.val()),
    }
}

/// `x (batch, len, d)` as f64 sequences.
fn sequences(x: &Tensor<B, 3>) -> Vec<Vec<Vec<f64>>> {
    let [batch, len, d] = x.dims();
    let v = f64s(x.clone());
    (0..batch)
        .map(|b| {
            (0..len)
                .map(|t| v[(b * len + t) * d..][..d].to_vec())
                .collect()
        })
        .collect()
}

/// The reference's output for every sequence of `x`, flattened as `(batch, len, d)`.
fn reference(p: &Params, x: &Tensor<B, 3>, core: Core) -> Vec<f32> {
    sequences(x)
        .iter()
        .flat_map(|u| mamba2_reference::mixer(p, u, core))
        .flatten()
        .map(|v| v as f32)
        .collect()
}

/// Forward and step equal upstream's `Mamba2Simple` (transcribed in float64, ssd_minimal path,
/// chunk 5 over 13 steps) to 1e-4: one group (P 8, 2 heads) and two groups (P 3, 4 heads).
#[test]
fn forward_and_step_match_mamba2_simple() {
    for name in ["mamba2_g1", "mamba2_g2"] {
        let json = fixture_in("mamba2", name);
        let c = &json["config"];
        let get = |k: &str| c[k].as_u64().unwrap() as usize;
        let cfg = config(
            get("headdim"),
            get("ngroups"),
            get("d_state"),
            get("d_conv"),
        );
        let cfg = Mamba2Config {
            expand: get("expand"),
            ..cfg
        };
        let d = get("d_model");
        let mut m = cfg.init::<B>(d, 1, &dev()).unwrap();
        let mut l = Loader::new(&json);
        m.in_proj = l.linear("in_proj", false);
        m.conv_weight = l.param("conv1d.weight");
        m.conv_bias = l.param("conv1d.bias");
        m.dt_bias = l.param("dt_bias");
        m.a_log = l.param("A_log");
        m.d_skip = l.param("D");
        m.norm_weight = l.param("norm.weight");
        m.out_proj = l.linear("out_proj", false);
        l.assert_all_used();
        let x: Tensor<B, 3> = tensor(&json["x"]);
        let (_, want) = array(&json["y"]);
        let e = max_rel(&to_vec(m.forward(x.clone())), &want);
        assert!(
            e < 1e-4,
            "{name}: forward differs from Mamba2Simple by {e:e}"
        );
        let e = max_rel(&to_vec(run_steps(&m, x)), &want);
        assert!(e < 1e-4, "{name}: step differs from Mamba2Simple by {e:e}");
    }
}

#[test]
fn forward_and_step_match_the_f64_reference() {
    for (d, hd, g, n, k) in SHAPES {
        let what = format!("d {d} P {hd} G {g} N {n} K {k}");
        let m = random_mixer::<B>(d, &config(hd, g, n, k), &dev());
        let x = randn::<B, 3>([2, 23, d], &dev());
        let want = reference(&params_of(&m, d), &x, Core::Step);
        let e = rel_err(&to_vec(m.forward(x.clone())), &want);
        assert!(
            e < 1e-4,
            "{what}: forward differs from the f64 reference by {e:e}"
        );
        let e = rel_err(&to_vec(run_steps(&m, x)), &want);
        assert!(
            e < 1e-4,
            "{what}: step differs from the f64 reference by {e:e}"
        );
    }
}

#[test]
fn step_matches_forward_and_is_causal() {
    for (d, hd, g, n, k) in SHAPES {
        let what = format!("d {d} P {hd} G {g} N {n} K {k}");
        let m = random_mixer::<B>(d, &config(hd, g, n, k), &dev());
        check_step_matches_forward(&m, 2, 17, d, 1e-5, &what);
        check_causal(&m, 17, d, 9, &what);
    }
}

#[test]
fn the_final_step_state_is_the_reference_state() {
    let (d, hd, g, n, k) = SHAPES[1];
    let m = random_mixer::<B>(d, &config(hd, g, n, k), &dev());
    let x = randn::<B, 3>([1, 13, d], &dev());
    let mut state = m.init_state(1, &dev());
    for t in 0..13 {
        state = m.step(x.clone().narrow(1, t, 1).reshape([1, d]), state).1;
    }
    let (input, _) = prepare(&params_of(&m, d), &sequences(&x)[0]);
    let (_, want) = core_step(&input);
    let want: Vec<f32> = want.iter().map(|&v| v as f32).collect();
    assert_eq!(state.ssm.dims(), [1, m.dims().heads, hd, n]);
    let e = rel_err(&to_vec(state.ssm), &want);
    assert!(e < 1e-5, "state (H, P, N) differs by {e:e}");
}

/// Spec §6.5: random H 2, P 3, N 4, T 37, chunk 8 (the last chunk padded): the step loop and
/// `ssd_minimal_discrete` agree to 1e-10 in outputs and final state. Random SSM inputs drawn
/// here, independent of the layer; decays spread over (0, 1).
#[test]
fn step_form_equals_the_ssd_chunked_form() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(37);
    let (h, p, n, len) = (2, 3, 4, 37);
    let mut draw = |k: usize, lo: f64, hi: f64| -> Vec<f64> {
        (0..k).map(|_| rng.random_range(lo..hi)).collect()
    };
    let input = mamba2_reference::SsmInput {
        heads: h,
        headdim: p,
        n,
        x: (0..len).map(|_| draw(h * p, -1.0, 1.0)).collect(),
        dt: (0..len).map(|_| draw(h, 0.05, 1.5)).collect(),
        b: (0..len).map(|_| draw(h * n, -1.0, 1.0)).collect(),
        c: (0..len).map(|_| draw(h * n, -1.0, 1.0)).collect(),
        a: draw(h, -2.0, -0.2),
    };
    let (y_step, s_step) = core_step(&input);
    for q in [8, 1, 37, 64] {
        let (y_ssd, s_ssd) = core_ssd(&input, q);
        let mut worst = 0.0f64;
        for (a, b) in y_step.iter().flatten().zip(y_ssd.iter().flatten()) {
            worst = worst.max((a - b).abs());
        }
        for (a, b) in s_step.iter().zip(&s_ssd) {
            worst = worst.max((a - b).abs());
        }
        assert!(worst < 1e-10, "chunk {q}: step and SSD differ by {worst:e}");
    }
    // And the two are not trivially equal: the decay matters.
    let y_la = core_linear_attention(&input);
    let diff = y_step
        .iter()
        .flatten()
        .zip(y_la.iter().flatten())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff > 1e-2, "decays had no effect ({diff:e})");
}

/// Spec §6.5: with `A → 0` (`A_log = −40`, `|A| ≈ 4e-18`) the mixer is causal linear attention
/// (`C ≙ q`, `B ≙ k`, `Δ x ≙ v`) followed by the same skip, gate, norm and projection.
#[test]
fn a_to_zero_is_causal_linear_attention() {
    for (d, hd, g, n, k) in SHAPES {
        let what = format!("d {d} P {hd} G {g} N {n} K {k}");
        let mut m = random_mixer::<B>(d, &config(hd, g, n, k), &dev());
        m.a_log = Param::from_tensor(Tensor::full([m.dims().heads], -40.0, &dev()));
        let x = randn::<B, 3>([2, 19, d], &dev());
        let want = reference(&params_of(&m, d), &x, Core::LinearAttention);
        let e = rel_err(&to_vec(m.forward(x.clone())), &want);
        assert!(e < 1e-4, "{what}: forward is not linear attention ({e:e})");
        let e = rel_err(&to_vec(run_steps(&m, x)), &want);
        assert!(e < 1e-4, "{what}: step is not linear attention ({e:e})");
    }
}

#[test]
fn gradients_reach_every_parameter_and_match_the_step_gradients() {
    let device = Default::default();
    for (d, hd, g, n, k) in SHAPES {
        let what = format!("d {d} P {hd} G {g} N {n} K {k}");
        let m = random_mixer::<AD>(d, &config(hd, g, n, k), &device);
        let x = randn::<AD, 3>([2, 11, d], &device);
        check_all_grads(&m, readout_loss(m.forward(x)), &what);
        // The scan's hand-written backward (with the per-head sums of Burn's `expand`) against
        // Burn's autodiff of the tensor-op step.
        check_forward_grads_match_step_grads(&m, 2, 11, d, 1e-4, &what);
    }
}

#[test]
fn init_follows_mamba2_simple() {
    let (d, n_layer) = (64, 4);
    let cfg = Mamba2Config::default();
    let m = cfg.init::<B>(d, n_layer, &dev()).unwrap();
    let dims = m.dims();
    // Defaults: d_inner 128, P 16 -> 8 heads, N 16, G 1.
    assert_eq!((dims.d_inner, dims.heads, dims.d_state), (128, 8, 16));
    assert_eq!(m.in_proj.weight.dims(), [d, 2 * 128 + 2 * 16 + 8]);
    assert_eq!(m.conv_weight.dims(), [128 + 2 * 16, 4]);
    assert!(m.in_proj.bias.is_none() && m.out_proj.bias.is_none());
    // A = exp(A_log) in [1, 16]; Δ = softplus(dt_bias) in [1e-3, 0.1]; D = 1; norm weight 1.
    for a in f64s(m.a_log.val()) {
        assert!((1.0..=16.0).contains(&a.exp()), "A = {}", a.exp());
    }
    for b in f64s(m.dt_bias.val()) {
        let dt = b.exp().ln_1p();
        assert!((0.999e-3..=0.1001).contains(&dt), "initial Δ = {dt}");
    }
    assert!(f64s(m.d_skip.val()).iter().all(|&v| v == 1.0));
    assert!(f64s(m.norm_weight.val()).iter().all(|&v| v == 1.0));
    // PyTorch default bounds; out_proj / √n_layer.
    let max_abs = |v: Vec<f64>| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(max_abs(f64s(m.in_proj.weight.val())) <= 1.0 / (d as f64).sqrt());
    assert!(max_abs(f64s(m.conv_weight.val())) <= 0.5);
    let out = max_abs(f64s(m.out_proj.weight.val()));
    assert!(out <= 1.0 / 128f64.sqrt() / 2.0 && out > 0.5 / 128f64.sqrt() / 2.0);
}

#[test]
fn bad_configs_name_the_field() {
    let field = |c: Mamba2Config, d: usize| match c.validate(d) {
        Err(ZooError::InvalidConfig { field, .. }) => field,
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    let base = Mamba2Config::default;
    // headdim 16 does not divide d_inner = 2·12 = 24.
    assert_eq!(field(base(), 12), "mamba2.headdim");
    assert_eq!(
        field(
            Mamba2Config {
                headdim: 0,
                ..base()
            },
            16
        ),
        "mamba2.headdim"
    );
    // 32 / 16 = 2 heads: 3 groups do not divide them.
    assert_eq!(
        field(
            Mamba2Config {
                ngroups: 3,
                ..base()
            },
            16
        ),
        "mamba2.ngroups"
    );
    assert_eq!(
        field(
            Mamba2Config {
                ngroups: 0,
                ..base()
            },
            16
        ),
        "mamba2.ngroups"
    );
    assert_eq!(
        field(
            Mamba2Config {
                d_state: 0,
                ..base()
            },
            16
        ),
        "mamba2.d_state"
    );
    assert_eq!(
        field(
            Mamba2Config {
                d_conv: 0,
                ..base()
            },
            16
        ),
        "mamba2.d_conv"
    );
    assert_eq!(
        field(
            Mamba2Config {
                expand: 0,
                ..base()
            },
            16
        ),
        "mamba2.expand"
    );
    let range = |a_init_range| Mamba2Config {
        a_init_range,
        ..base()
    };
    assert_eq!(field(range([0.0, 16.0]), 16), "mamba2.a_init_range[0]");
    assert_eq!(field(range([4.0, 2.0]), 16), "mamba2.a_init_range[1]");
    assert_eq!(
        field(
            Mamba2Config {
                dt_min: -1.0,
                ..base()
            },
            16
        ),
        "mamba2.dt_min"
    );
    assert_eq!(
        field(
            Mamba2Config {
                dt_max: 1e-4,
                ..base()
            },
            16
        ),
        "mamba2.dt_max"
    );
    assert_eq!(
        field(
            Mamba2Config {
                dt_init_floor: 0.0,
                ..base()
            },
            16
        ),
        "mamba2.dt_init_floor"
    );
    assert_eq!(
        field(
            Mamba2Config {
                norm_eps: 0.0,
                ..base()
            },
            16
        ),
        "mamba2.norm_eps"
    );
    // The message says what headdim must divide.
    let e = base().validate(12).unwrap_err().to_string();
    assert!(e.contains("24"), "{e}");
    // Unknown fields are refused (serde).
    let bad: Result<Mamba2Config, _> = serde_json::from_str(r#"{"head_dim": 8}"#);
    assert!(bad.is_err());
    // Every default width that is a multiple of 8 is valid.
    for d in (8..=128).step_by(8) {
        base().validate(d).unwrap();
    }
}
