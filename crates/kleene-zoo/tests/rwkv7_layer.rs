//! The RWKV-7 mixer against a float64 transcription of flash-linear-attention's
//! `RWKV7Attention` (layer 0) on fixed weights (`tests/fixtures/delta/rwkv7.json`, written by
//! `gen_delta_fixtures.py` beside it): the whole-sequence forward, the token-by-token step, and
//! the final matrix state; and its init (fla's layer-0 values, orthogonal projections).

mod fla_fixture;
mod icl_common;

use burn::prelude::*;
use fla_fixture::{check_against_fixture, fixture, max_rel, tensor, Loader};
use icl_common::{dev, to_vec, B};
use kleene_zoo::layers::*;
use serde_json::Value;

/// fla's LoRA `lora.0` / `lora.2` as the mixer's `down` / `up`.
fn lora(l: &mut Loader<'_>, name: &str, bias: bool) -> Rwkv7Lora<B> {
    Rwkv7Lora {
        down: l.linear(&format!("{name}.lora.0"), false),
        up: l.linear(&format!("{name}.lora.2"), bias),
    }
}

/// The layer of the fixture's config with every fixture parameter loaded (none left over).
fn fla_layer(json: &Value) -> Rwkv7<B> {
    let c = &json["config"];
    let size = |key: &str| Some(c[key].as_u64().unwrap_or_else(|| panic!("config.{key}")) as usize);
    assert_eq!(c["layer_idx"], 0, "the mixer is fla's layer 0");
    assert_eq!(c["fuse_norm"], false);
    let d = size("hidden_size").unwrap();
    let mut layer = Rwkv7Config {
        head_dim: size("head_dim").unwrap(),
        value_dim: c["value_dim"].as_u64().map(|v| v as usize),
        decay_low_rank_dim: size("decay_low_rank_dim"),
        a_low_rank_dim: size("a_low_rank_dim"),
        gate_low_rank_dim: size("gate_low_rank_dim"),
        norm_eps: c["norm_eps"].as_f64().unwrap(),
    }
    .init::<B>(d, c["num_hidden_layers"].as_u64().unwrap() as usize, &dev())
    .unwrap();
    let mut l = Loader::new(json);
    layer.x_r = l.param("x_r");
    layer.x_w = l.param("x_w");
    layer.x_k = l.param("x_k");
    layer.x_v = l.param("x_v");
    layer.x_a = l.param("x_a");
    layer.x_g = l.param("x_g");
    layer.k_k = l.param("k_k");
    layer.k_a = l.param("k_a");
    layer.r_k = l.param("r_k");
    layer.r_proj = l.linear("r_proj", false);
    layer.k_proj = l.linear("k_proj", false);
    layer.v_proj = l.linear("v_proj", false);
    layer.o_proj = l.linear("o_proj", false);
    layer.w_lora = lora(&mut l, "w_lora", true);
    layer.a_lora = lora(&mut l, "a_lora", true);
    layer.g_lora = lora(&mut l, "g_lora", false);
    layer.g_norm_weight = l.param("g_norm.weight");
    layer.g_norm_bias = l.param("g_norm.bias");
    l.assert_all_used();
    layer
}

#[test]
fn forward_step_and_state_match_fla() {
    let json = fixture("rwkv7");
    let layer = fla_layer(&json);
    let state = check_against_fixture(&layer, &json, "rwkv7", |s| s.s.clone());
    let x: Tensor<B, 3> = tensor(&json["x"]);
    let [batch, len, d] = x.dims();
    // The carried token shift is the last input.
    let last = to_vec(x.narrow(1, len - 1, 1).reshape([batch, d]));
    assert_eq!(to_vec(state.prev_x), last);
}

/// `(WᵀW)` of a Burn `(in, out)` weight `w`: the Gram matrix of its `in` rows or `out` columns,
/// whichever side is the shorter, divided by `gain²`; it must be the identity.
fn assert_orthogonal(w: Tensor<B, 2>, gain: f32, what: &str) {
    let [din, dout] = w.dims();
    let w = w.div_scalar(gain);
    let gram = if dout >= din {
        w.clone().matmul(w.transpose())
    } else {
        w.clone().transpose().matmul(w)
    };
    let n = din.min(dout);
    let eye: Vec<f32> = (0..n * n)
        .map(|i| if i / n == i % n { 1.0 } else { 0.0 })
        .collect();
    let e = max_rel(&to_vec(gram), &eye);
    assert!(e < 1e-5, "{what}: not orthogonal with gain {gain} ({e:e})");
}

#[test]
fn init_is_flas_layer_zero() {
    let (d, hd, n_layer) = (16, 8, 4);
    let layer = Rwkv7Config {
        head_dim: hd,
        ..Default::default()
    }
    .init::<B>(d, n_layer, &dev())
    .unwrap();
    // Default ranks for d = 16, head_dim 8: all floored at 32; the gate LoRA's up (32 → 16) has
    // gain 0.1·√2.
    assert_eq!(layer.w_lora.down.weight.dims(), [d, 32]);
    assert_eq!(layer.g_lora.up.weight.dims(), [32, d]);
    assert_orthogonal(layer.r_proj.weight.val(), 1.0, "r_proj");
    assert_orthogonal(layer.k_proj.weight.val(), 0.1, "k_proj");
    assert_orthogonal(layer.v_proj.weight.val(), 1.0, "v_proj");
    assert_orthogonal(layer.w_lora.up.weight.val(), 0.1 * 2f32.sqrt(), "w_lora.up");
    assert_orthogonal(layer.g_lora.up.weight.val(), 0.1 * 2f32.sqrt(), "g_lora.up");
    assert!(to_vec(layer.o_proj.weight.val()).iter().all(|&v| v == 0.0));
    assert!(to_vec(layer.a_lora.down.weight.val())
        .iter()
        .all(|&v| v == 0.0));
    assert!(layer.g_lora.up.bias.is_none());
    // Spec §5.3 at layer 0 (ρ01 = 0, ρ10 = 1), channel by channel.
    let close = |got: Vec<f32>, want: &dyn Fn(f64) -> f64, what: &str| {
        for (n, g) in got.iter().enumerate() {
            let w = want(n as f64);
            assert!((*g as f64 - w).abs() < 1e-6, "{what}[{n}] = {g}, want {w}");
        }
    };
    let (df, hdf) = (d as f64, hd as f64);
    let lin = |n: f64| n / (df - 1.0) - 0.5;
    let zz = |n: f64| {
        let z = ((n % hdf) - (hdf - 1.0) / 2.0) / ((hdf - 1.0) / 2.0);
        z * z.abs()
    };
    close(
        to_vec(layer.x_r.val()),
        &|n| 1.0 - (n / df).powf(0.2),
        "x_r",
    );
    close(
        to_vec(layer.x_w.val()),
        &|n| 1.0 - (n / df).powf(0.9),
        "x_w",
    );
    close(
        to_vec(layer.x_k.val()),
        &|n| 1.0 - (n / df).powf(0.7),
        "x_k",
    );
    close(
        to_vec(layer.x_g.val()),
        &|n| 1.0 - (n / df).powf(0.2),
        "x_g",
    );
    close(to_vec(layer.k_k.val()), &|n| 0.71 - 0.1 * lin(n), "k_k");
    close(to_vec(layer.k_a.val()), &|_| 1.02, "k_a");
    close(to_vec(layer.r_k.val()), &|_| -0.04, "r_k");
    let w_bias = layer.w_lora.up.bias.as_ref().unwrap().val();
    close(
        to_vec(w_bias),
        &|n| -6.0 + 6.0 * n / (df - 1.0) + 0.5 + 2.5 * zz(n),
        "w_lora bias",
    );
    let a_bias = layer.a_lora.up.bias.as_ref().unwrap().val();
    close(
        to_vec(a_bias),
        &|n| -0.19 + 0.3 * zz(n) + 0.4 * lin(n),
        "a_lora bias",
    );
    close(
        to_vec(layer.g_norm_weight.val()),
        &|_| 0.25f64.powf(0.7),
        "g_norm weight",
    );
}

#[test]
fn default_ranks_follow_fla() {
    // d = 400, head_dim 80: decay/a round(2.5·20·1.25/32) = round(1.95) = 2 → 64; gate
    // round(5·20/32) = round(3.125) = 3 → 96. d = 256, head_dim 128: decay round(2.5·16·2/32) =
    // round(2.5) = 2 (Python rounds half to even) → 64, gate likewise → 64.
    for (d, hd, decay, gate) in [(400, 80, 64, 96), (256, 128, 64, 64)] {
        let layer = Rwkv7Config {
            head_dim: hd,
            ..Default::default()
        }
        .init::<B>(d, 1, &burn_ndarray::NdArrayDevice::Cpu)
        .unwrap();
        assert_eq!(layer.w_lora.down.weight.dims(), [d, decay], "d {d}");
        assert_eq!(layer.a_lora.down.weight.dims(), [d, decay], "d {d}");
        assert_eq!(layer.g_lora.down.weight.dims(), [d, gate], "d {d}");
    }
}

#[test]
fn config_errors_name_the_field() {
    let field = |c: Rwkv7Config, d: usize| match c.validate(d) {
        Err(kleene_zoo::ZooError::InvalidConfig { field, .. }) => field,
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    let base = Rwkv7Config::default;
    assert_eq!(
        field(
            Rwkv7Config {
                head_dim: 3,
                ..base()
            },
            8
        ),
        "rwkv7.head_dim"
    );
    assert_eq!(
        field(
            Rwkv7Config {
                head_dim: 0,
                ..base()
            },
            8
        ),
        "rwkv7.head_dim"
    );
    assert_eq!(field(base(), 96), "rwkv7.head_dim");
    assert_eq!(
        field(
            Rwkv7Config {
                head_dim: 4,
                value_dim: Some(3),
                ..base()
            },
            8
        ),
        "rwkv7.value_dim"
    );
    assert_eq!(
        field(
            Rwkv7Config {
                head_dim: 4,
                gate_low_rank_dim: Some(0),
                ..base()
            },
            8
        ),
        "rwkv7.gate_low_rank_dim"
    );
    assert_eq!(
        field(
            Rwkv7Config {
                head_dim: 4,
                norm_eps: 0.0,
                ..base()
            },
            8
        ),
        "rwkv7.norm_eps"
    );
    assert!(Rwkv7Config {
        head_dim: 4,
        ..base()
    }
    .validate(8)
    .is_ok());
}
