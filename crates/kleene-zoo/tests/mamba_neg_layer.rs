//! The Mamba mixer with and without `allow_neg_eigval` against a float64 transcription of Grazzi
//! et al.'s Mamba (adankow/unlocking_state_tracking: mambapy's `MambaBlock` with their
//! `PositiveNegativeMambaBlock.selective_scan`, transition `2·exp(ΔA) − 1`) on fixed random
//! weights (`tests/fixtures/mamba_neg/`, written by `gen_mamba_neg_fixture.py` beside it).
//! kleene's recurrent `step` is checked against the same forward: upstream's `step` keeps the
//! [0, 1] transition (the authors override only the parallel scan), kleene's does not.

mod fla_fixture;
mod icl_common;

use burn::prelude::*;
use fla_fixture::{array, fixture_in, max_rel, tensor, Loader};
use icl_common::{dev, to_vec, B};
use kleene_zoo::layers::{MambaMixer, MambaMixerConfig};
use kleene_zoo::SequenceLayer;

fn mixer(allow_neg_eigval: bool) -> (MambaMixer<B>, serde_json::Value) {
    let json = fixture_in("mamba_neg", "mamba_neg");
    let c = &json["config"];
    let get = |k: &str| c[k].as_u64().unwrap() as usize;
    let cfg = MambaMixerConfig {
        d_state: get("d_state"),
        d_conv: get("d_conv"),
        expand: get("expand"),
        dt_rank: Some(get("dt_rank")),
        allow_neg_eigval,
        ..Default::default()
    };
    let mut m = MambaMixer::<B>::new(&cfg, get("d_model"), 1, &dev());
    let mut l = Loader::new(&json);
    m.in_proj = l.linear("in_proj", false);
    m.conv_weight = l.param("conv1d.weight");
    m.conv_bias = l.param("conv1d.bias");
    m.x_proj = l.linear("x_proj", false);
    m.dt_proj = l.linear("dt_proj", true);
    m.a_log = l.param("A_log");
    m.d_skip = l.param("D");
    m.out_proj = l.linear("out_proj", false);
    l.assert_all_used();
    (m, json)
}

fn check(allow_neg_eigval: bool, key: &str) {
    let (m, json) = mixer(allow_neg_eigval);
    assert!(json["negative_transitions"].as_u64().unwrap() > 0);
    let x: Tensor<B, 3> = tensor(&json["x"]);
    let (_, want) = array(&json[key]);
    let e = max_rel(&to_vec(m.forward(x.clone())), &want);
    assert!(
        e < 1e-4,
        "{key}: forward differs from the authors' Mamba by {e:e}"
    );
    let [batch, len, d] = x.dims();
    let mut state = m.init_state(batch, &dev());
    let mut ys = vec![];
    for t in 0..len {
        let (y, s) = m.step(x.clone().narrow(1, t, 1).reshape([batch, d]), state);
        ys.push(y.reshape([batch, 1, d]));
        state = s;
    }
    let e = max_rel(&to_vec(Tensor::cat(ys, 1)), &want);
    assert!(
        e < 1e-4,
        "{key}: step differs from the authors' forward by {e:e}"
    );
}

#[test]
fn negative_eigenvalue_mamba_matches_the_authors_code() {
    check(true, "y_neg");
}

#[test]
fn plain_mamba_matches_mambapy() {
    check(false, "y_pos");
}

#[test]
fn the_two_ranges_really_differ_on_this_fixture() {
    let (neg, json) = mixer(true);
    let (pos, _) = mixer(false);
    let x: Tensor<B, 3> = tensor(&json["x"]);
    let e = max_rel(&to_vec(neg.forward(x.clone())), &to_vec(pos.forward(x)));
    assert!(e > 1e-2, "the switch changed the output by only {e:e}");
}
