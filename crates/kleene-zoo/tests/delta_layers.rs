//! The delta-rule mixers (DeltaNet, Gated DeltaNet, Gated DeltaProduct) against float64
//! transcriptions of flash-linear-attention's layers on fixed weights
//! (`tests/fixtures/delta/`, written by `gen_delta_fixtures.py` beside them), and the
//! eigenvalue switch: on a constructed input the transition the layer really applies (formed
//! in f64 from the inputs it hands to kleene-scan's delta rule) has a negative eigenvalue with
//! `allow_neg_eigval` and none without.

mod fla_fixture;
mod icl_common;

use burn::module::Param;
use burn::prelude::*;
use fla_fixture::{check_against_fixture, fixture, Loader};
use icl_common::{dev, perturb, B};
use kleene_zoo::layers::delta_block::DeltaBlock;
use kleene_zoo::layers::*;
use serde_json::Value;

/// Loads every fla parameter of the fixture into the block, and checks none is left over.
fn load(block: &mut DeltaBlock<B>, json: &Value) {
    let mut l = Loader::new(json);
    block.q_proj = l.linear("q_proj", false);
    block.k_proj = l.linear("k_proj", false);
    block.v_proj = l.linear("v_proj", false);
    block.b_proj = l.linear("b_proj", false);
    block.o_proj = l.linear("o_proj", false);
    if block.g_proj.is_some() {
        block.g_proj = Some(l.linear("g_proj", false));
    }
    if block.a_proj.is_some() {
        block.a_proj = Some(l.linear("a_proj", false));
        block.a_log = Some(l.param("A_log"));
        block.dt_bias = Some(l.param("dt_bias"));
    }
    block.q_conv = Some(l.param("q_conv1d.weight"));
    block.k_conv = Some(l.param("k_conv1d.weight"));
    block.v_conv = Some(l.param("v_conv1d.weight"));
    block.o_norm = l.param("o_norm.weight");
    l.assert_all_used();
}

fn flag(json: &Value, key: &str) -> bool {
    json["config"][key]
        .as_bool()
        .unwrap_or_else(|| panic!("config.{key}"))
}

#[test]
fn delta_net_matches_fla() {
    for name in [
        "delta_net",
        "delta_net_neg",
        "delta_net_gate",
        "delta_net_gate_neg",
    ] {
        let json = fixture(name);
        let mut layer = DeltaNetConfig {
            n_heads: json["config"]["num_heads"].as_u64().unwrap() as usize,
            use_gate: flag(&json, "use_gate"),
            allow_neg_eigval: flag(&json, "allow_neg_eigval"),
            ..Default::default()
        }
        .init::<B>(16, 1, &dev())
        .unwrap();
        load(&mut layer.block, &json);
        check_against_fixture(&layer, &json, name, |s| s.s.clone());
    }
}

#[test]
fn gated_delta_net_matches_fla() {
    for name in ["gated_delta_net", "gated_delta_net_neg"] {
        let json = fixture(name);
        let c = &json["config"];
        let mut layer = GatedDeltaNetConfig {
            n_heads: c["num_heads"].as_u64().unwrap() as usize,
            head_dim: Some(c["head_dim"].as_u64().unwrap() as usize),
            expand_v: c["expand_v"].as_f64().unwrap() as usize,
            allow_neg_eigval: flag(&json, "allow_neg_eigval"),
            ..Default::default()
        }
        .init::<B>(16, 1, &dev())
        .unwrap();
        load(&mut layer.block, &json);
        check_against_fixture(&layer, &json, name, |s| s.s.clone());
    }
}

#[test]
fn gated_delta_product_matches_fla() {
    for name in ["gated_delta_product_h2", "gated_delta_product_h3"] {
        let json = fixture(name);
        let c = &json["config"];
        let mut layer = GatedDeltaProductConfig {
            n_heads: c["num_heads"].as_u64().unwrap() as usize,
            head_dim: Some(c["head_dim"].as_u64().unwrap() as usize),
            expand_v: c["expand_v"].as_f64().unwrap() as usize,
            num_householder: c["num_householder"].as_u64().unwrap() as usize,
            allow_neg_eigval: flag(&json, "allow_neg_eigval"),
            ..Default::default()
        }
        .init::<B>(16, 1, &dev())
        .unwrap();
        load(&mut layer.block, &json);
        check_against_fixture(&layer, &json, name, |s| s.s.clone());
    }
}

// ---------------------------------------------------------------------------------------------
// The eigenvalue switch.

/// `det(m)` of a row-major n × n matrix (Gaussian elimination with partial pivoting, f64).
fn det(mut m: Vec<f64>, n: usize) -> f64 {
    let mut d = 1.0;
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| m[i * n + c].abs().total_cmp(&m[j * n + c].abs()))
            .unwrap();
        if m[p * n + c] == 0.0 {
            return 0.0;
        }
        if p != c {
            for j in 0..n {
                m.swap(p * n + j, c * n + j);
            }
            d = -d;
        }
        d *= m[c * n + c];
        for i in c + 1..n {
            let f = m[i * n + c] / m[c * n + c];
            for j in c..n {
                m[i * n + j] -= f * m[c * n + j];
            }
        }
    }
    d
}

/// The real eigenvalues of `t` below `-1e-3`, located as sign changes of `det(t − λI)` on a fine
/// grid of `[-1.5, -1e-3]` (each reported at its grid cell).
fn negative_eigenvalues(t: &[f64], n: usize) -> Vec<f64> {
    let char_at = |lambda: f64| {
        let mut m = t.to_vec();
        for i in 0..n {
            m[i * n + i] -= lambda;
        }
        det(m, n)
    };
    let grid: Vec<f64> = (0..=3000)
        .map(|i| -1.5 + i as f64 * (1.5 - 1e-3) / 3000.0)
        .collect();
    grid.windows(2)
        .filter(|w| char_at(w[0]).signum() != char_at(w[1]).signum())
        .map(|w| w[0])
        .collect()
}

/// The per-token transitions of head 0 of sequence 0 (the product over the sub-steps), in f64.
fn token_transitions(block: &DeltaBlock<B>, x: Tensor<B, 3>) -> (Vec<Vec<f64>>, usize) {
    let input = block.transition_inputs(x);
    let [_, _, steps, k] = input.a.dims();
    let row = |t: Tensor<B, 4>| -> Vec<f64> {
        t.slice([0..1, 0..1])
            .into_data()
            .convert::<f64>()
            .into_vec()
            .unwrap()
    };
    let (a, b) = (row(input.a), row(input.b));
    let w = input.w.map(row);
    let n = block.householder();
    let mut out = vec![];
    for token in 0..steps / n {
        let mut total: Vec<f64> = (0..k * k)
            .map(|i| if i % (k + 1) == 0 { 1.0 } else { 0.0 })
            .collect();
        for j in 0..n {
            let s = token * n + j;
            // T_s = diag(w) + b aᵀ, applied after the sub-steps before it
            let mut t = vec![0.0; k * k];
            for r in 0..k {
                for c in 0..k {
                    t[r * k + c] = b[s * k + r] * a[s * k + c];
                }
                t[r * k + r] += w.as_ref().map_or(1.0, |w| w[s * k + r]);
            }
            let mut next = vec![0.0; k * k];
            for r in 0..k {
                for c in 0..k {
                    next[r * k + c] = (0..k).map(|l| t[r * k + l] * total[l * k + c]).sum();
                }
            }
            total = next;
        }
        out.push(total);
    }
    (out, k)
}

/// `b_proj` pushed to β ≈ max on a constant input (all ones): per sub-step `j`, logit sign
/// `signs[j]` (β ≈ 2 or 1 for +, ≈ 0 for −).
fn saturate_beta(block: &mut DeltaBlock<B>, signs: &[f64]) {
    // and no decay to speak of (A = e^-10, α ≈ 1), so the eigenvalue is ≈ 1 − β, not α (1 − β)
    if let Some(a_log) = block.a_log.as_mut() {
        *a_log = Param::from_tensor(Tensor::full(a_log.dims(), -10.0, &dev()));
    }
    let [d, out] = block.b_proj.weight.dims();
    let per = out / signs.len();
    let w: Vec<f32> = (0..d * out)
        .map(|i| (10.0 * signs[(i % out) / per]) as f32)
        .collect();
    block.b_proj.weight =
        Param::from_tensor(Tensor::from_data(TensorData::new(w, [d, out]), &dev()));
}

/// Weights of order one: with fla's init (std 0.02) a constant input gives keys of norm ~1e-3,
/// comparable to the L2 norm's epsilon, so k̂ would not be a unit vector.
fn order_one<M: burn::module::Module<B>>(m: M) -> M {
    perturb(m, 0.5)
}

fn spectra(block: &DeltaBlock<B>) -> Vec<Vec<f64>> {
    let x = Tensor::<B, 3>::ones([1, 5, 8], &dev());
    let (ts, k) = token_transitions(block, x);
    ts.iter().map(|t| negative_eigenvalues(t, k)).collect()
}

#[test]
fn allow_neg_eigval_gives_a_negative_eigenvalue() {
    for neg in [false, true] {
        // DeltaNet: I − β k̂k̂ᵀ, eigenvalue 1 − β along k̂: −1 with β = 2, 0 with β = 1.
        let mut dn = order_one(
            DeltaNetConfig {
                n_heads: 1,
                allow_neg_eigval: neg,
                ..Default::default()
            }
            .init::<B>(8, 1, &dev())
            .unwrap(),
        );
        saturate_beta(&mut dn.block, &[1.0]);
        // Gated DeltaNet: α (I − β k̂k̂ᵀ), eigenvalue −α with β = 2.
        let mut gdn = order_one(
            GatedDeltaNetConfig {
                n_heads: 1,
                allow_neg_eigval: neg,
                ..Default::default()
            }
            .init::<B>(8, 1, &dev())
            .unwrap(),
        );
        saturate_beta(&mut gdn.block, &[1.0]);
        // Gated DeltaProduct, 2 sub-steps: β₀ ≈ 2 (a reflection), β₁ ≈ 0: eigenvalue ≈ −α.
        let mut gdp = order_one(
            GatedDeltaProductConfig {
                n_heads: 1,
                allow_neg_eigval: neg,
                ..Default::default()
            }
            .init::<B>(8, 1, &dev())
            .unwrap(),
        );
        saturate_beta(&mut gdp.block, &[1.0, -1.0]);
        for (name, block) in [
            ("delta_net", &dn.block),
            ("gated_delta_net", &gdn.block),
            ("gated_delta_product", &gdp.block),
        ] {
            for (t, eig) in spectra(block).iter().enumerate() {
                if neg {
                    assert_eq!(
                        eig.len(),
                        1,
                        "{name} token {t}: negative eigenvalues {eig:?}"
                    );
                    assert!(eig[0] < -0.5, "{name} token {t}: {eig:?}");
                } else {
                    assert!(
                        eig.is_empty(),
                        "{name} [0,1] token {t}: negative eigenvalues {eig:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn bad_configs_name_the_field() {
    let err = |r: Result<(), kleene_zoo::ZooError>| r.unwrap_err().to_string();
    let e = err(DeltaNetConfig {
        n_heads: 3,
        ..Default::default()
    }
    .validate(16));
    assert!(e.contains("delta_net.n_heads"), "{e}");
    let e = err(GatedDeltaProductConfig {
        num_householder: 0,
        ..Default::default()
    }
    .validate(16));
    assert!(e.contains("gated_delta_product.num_householder"), "{e}");
    let e = err(GatedDeltaNetConfig {
        n_heads: 0,
        ..Default::default()
    }
    .validate(16));
    assert!(e.contains("gated_delta_net.n_heads"), "{e}");
    let e = err(GatedDeltaNetConfig {
        head_dim: Some(0),
        ..Default::default()
    }
    .validate(16));
    assert!(e.contains("gated_delta_net.head_dim"), "{e}");
    let e = err(DeltaNetConfig {
        use_short_conv: true,
        conv_size: 0,
        ..Default::default()
    }
    .validate(16));
    assert!(e.contains("delta_net.conv_size"), "{e}");
}
