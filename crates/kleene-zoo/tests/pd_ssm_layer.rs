//! The PD-SSM mixer and model: a float64 transcription of upstream's `PD_Block.forward` on the
//! layer's own weights (both transition forms, `N ≠ E`), the straight-through gradient against
//! Burn's autodiff through `P = hard + soft − stopgrad(soft)` with the tensor-op reference
//! scan, step == forward, causality, gradients to every parameter (dictionary and selection
//! included), a hand-set N = 2 block that computes parity exactly on long inputs, the whole
//! model, and config errors.

mod icl_common;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::TensorData;
use icl_common::*;
use kleene_scan::pd::{naive, reference};
use kleene_scan::PdDims;
use kleene_zoo::layers::*;
use kleene_zoo::models::{ModelConfig, PdSsmModel, PdSsmModelConfig};
use kleene_zoo::{SequenceLayer, SequenceModel};

fn config(n: Option<usize>, gather: bool) -> PdSsmConfig {
    PdSsmConfig {
        state_size: n,
        dict_size: 3,
        dropout: 0.0,
        form: if gather {
            PdTransitionForm::Gather
        } else {
            PdTransitionForm::Scatter
        },
        ..Default::default()
    }
}

fn param<const D: usize>(v: Vec<f32>, shape: [usize; D]) -> Param<Tensor<B, D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), &dev()))
}

fn f64s<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f64> {
    t.into_data().convert::<f64>().to_vec::<f64>().unwrap()
}

/// `x W + b` with Burn's `[d_in, d_out]` weight layout, in f64.
fn linear(x: &[f64], w: &[f64], b: Option<&[f64]>, d_out: usize) -> Vec<f64> {
    let d_in = x.len();
    (0..d_out)
        .map(|j| (0..d_in).map(|i| x[i] * w[i * d_out + j]).sum::<f64>() + b.map_or(0.0, |b| b[j]))
        .collect()
}

fn erf(x: f64) -> f64 {
    // Maclaurin series (exact to ~1e-15 for the |x| < 4 met here).
    let (mut term, mut sum, mut n) = (x, x, 0.0f64);
    while term.abs() > 1e-18 * sum.abs().max(1e-300) {
        n += 1.0;
        term *= -x * x / n;
        sum += term / (2.0 * n + 1.0);
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn softmax(v: &[f64]) -> Vec<f64> {
    let m = v.iter().cloned().fold(f64::MIN, f64::max);
    let e: Vec<f64> = v.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

/// Upstream's `PD_Block.forward` (no dropout) in f64 on one sequence `x` `(L, E)`: dense
/// `M`, softmax + argmax one-hot over the last index (gather; the PyTorch code) or over rows
/// (scatter; the paper), `T = diag(D) P` or `P diag(D)`, `h_t = T h_{t−1} + B x`, `h_{−1} = e₀`,
/// `LayerNorm(readout([Re h; Im h]) + D_skip ⊙ x)`.
fn block_f64(layer: &PdSsm<B>, x: &[f64], len: usize, e: usize, gather: bool) -> Vec<f64> {
    let n = layer.state_size();
    let k = layer.dictionary.dims()[2];
    let a = f64s(layer.dictionary.val());
    let sel_w = f64s(layer.selection.weight.val());
    let mlp = |m: &PdMlp<B>| {
        (
            f64s(m.fc1.weight.val()),
            f64s(m.fc1.bias.as_ref().unwrap().val()),
            f64s(m.fc2.weight.val()),
            f64s(m.fc2.bias.as_ref().unwrap().val()),
        )
    };
    let (mag, phase) = (mlp(&layer.magnitude), mlp(&layer.phase));
    let run_mlp = |m: &(Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>), u: &[f64]| {
        let hid: Vec<f64> = linear(u, &m.0, Some(&m.1), 2 * n)
            .iter()
            .map(|&v| 0.5 * v * (1.0 + erf(v / std::f64::consts::SQRT_2)))
            .collect();
        linear(&hid, &m.2, Some(&m.3), n)
            .iter()
            .map(|&v| sigmoid(v))
            .collect::<Vec<_>>()
    };
    let (b_re, b_im) = (f64s(layer.b_re.val()), f64s(layer.b_im.val()));
    let skip = f64s(layer.skip.val());
    let ro_w = f64s(layer.readout.weight.val());
    let ro_b = f64s(layer.readout.bias.as_ref().unwrap().val());
    let ln_g = f64s(layer.norm.gamma.val());
    let ln_b = f64s(layer.norm.beta.as_ref().unwrap().val());
    let mut h = vec![(0.0f64, 0.0f64); n];
    h[0].0 = 1.0;
    let mut out = Vec::new();
    for t in 0..len {
        let u = &x[t * e..(t + 1) * e];
        let s = softmax(&linear(u, &sel_w, None, k));
        // M[i][j] = Σ_k A[i][j][k] s_k
        let m: Vec<f64> = (0..n * n)
            .map(|ij| (0..k).map(|kk| a[ij * k + kk] * s[kk]).sum())
            .collect();
        let mut p = vec![0.0; n * n];
        for line in 0..n {
            // gather: row `line`, softmax over columns; scatter: column `line`, over rows.
            let at = |o: usize| if gather { line * n + o } else { o * n + line };
            let soft = softmax(&(0..n).map(|o| m[at(o)]).collect::<Vec<_>>());
            let best = (0..n).fold(0, |b, o| if soft[o] > soft[b] { o } else { b });
            p[at(best)] = 1.0;
        }
        let mags = run_mlp(&mag, u);
        let phases = run_mlp(&phase, u);
        let d: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let ph = std::f64::consts::TAU * phases[i];
                (mags[i] * ph.cos(), mags[i] * ph.sin())
            })
            .collect();
        let mut next = vec![(0.0, 0.0); n];
        for i in 0..n {
            let (mut re, mut im) = (0.0, 0.0);
            for j in 0..n {
                let dd = if gather { d[i] } else { d[j] };
                let tr = (p[i * n + j] * dd.0, p[i * n + j] * dd.1);
                re += tr.0 * h[j].0 - tr.1 * h[j].1;
                im += tr.0 * h[j].1 + tr.1 * h[j].0;
            }
            for c in 0..e {
                re += b_re[i * e + c] * u[c];
                im += b_im[i * e + c] * u[c];
            }
            next[i] = (re, im);
        }
        h = next;
        let feat: Vec<f64> = h.iter().map(|c| c.0).chain(h.iter().map(|c| c.1)).collect();
        let y: Vec<f64> = linear(&feat, &ro_w, Some(&ro_b), e)
            .iter()
            .zip(u.iter().zip(&skip))
            .map(|(r, (xv, sv))| r + xv * sv)
            .collect();
        let mean = y.iter().sum::<f64>() / e as f64;
        let var = y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / e as f64;
        for c in 0..e {
            out.push((y[c] - mean) / (var + 1e-5).sqrt() * ln_g[c] + ln_b[c]);
        }
    }
    out
}

#[test]
fn forward_matches_an_f64_transcription_of_upstream() {
    for (n, gather) in [
        (None, true),
        (None, false),
        (Some(5), true),
        (Some(11), false),
    ] {
        let e = 6;
        let layer = perturb(config(n, gather).init::<B>(e, 1, &dev()).unwrap(), 0.1);
        let x = randn::<B, 3>([2, 13, e], &dev());
        let y = to_vec(layer.forward(x.clone()));
        let xs = f64s(x);
        for b in 0..2 {
            let want = block_f64(&layer, &xs[b * 13 * e..(b + 1) * 13 * e], 13, e, gather);
            let got: Vec<f64> = y[b * 13 * e..(b + 1) * 13 * e]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let err = got
                .iter()
                .zip(&want)
                .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
            assert!(err < 1e-4, "n {n:?} gather {gather}: max error {err:e}");
        }
    }
}

/// The layer's gradients (every parameter and the input) equal Burn's autodiff through the
/// same block written with the tensor-op reference scan and the dense straight-through
/// `P = hard + soft − soft.detach()`.
#[test]
fn straight_through_gradients_match_autodiff_of_the_dense_block() {
    for gather in [false, true] {
        let (e, len, batch) = (5, 9, 2);
        let layer = perturb(
            config(Some(4), gather).init::<AD>(e, 1, &dev()).unwrap(),
            0.1,
        );
        let n = layer.state_size();
        let x = randn::<AD, 3>([batch, len, e], &dev()).require_grad();
        let w = randn::<AD, 3>([batch, len, e], &dev());
        let collect = |y: Tensor<AD, 3>| {
            let grads = (y * w.clone()).sum().backward();
            let mut out = vec![to_vec(x.grad(&grads).unwrap())];
            let mut g = |p: &Param<Tensor<AD, 3>>| out.push(to_vec(p.val().grad(&grads).unwrap()));
            g(&layer.dictionary);
            let mut out2 = vec![
                to_vec(layer.selection.weight.val().grad(&grads).unwrap()),
                to_vec(layer.magnitude.fc1.weight.val().grad(&grads).unwrap()),
                to_vec(layer.phase.fc2.weight.val().grad(&grads).unwrap()),
                to_vec(layer.b_re.val().grad(&grads).unwrap()),
                to_vec(layer.b_im.val().grad(&grads).unwrap()),
                to_vec(layer.skip.val().grad(&grads).unwrap()),
                to_vec(layer.readout.weight.val().grad(&grads).unwrap()),
            ];
            out.append(&mut out2);
            out
        };
        let got = collect(layer.forward(x.clone()));

        let logits = layer.transition(x.clone());
        // Burn's argmax (ties to the first index), independent of the op's own hardmax.
        let index = logits.clone().argmax(layer.axis()).reshape([batch, len, n]);
        let soft = burn::tensor::activation::softmax(logits, layer.axis());
        let ids: Vec<i64> = index.into_data().convert::<i64>().to_vec::<i64>().unwrap();
        let form = layer.form();
        let hard = naive::one_hot(&PdDims { batch, len, n }, &ids, form);
        let hard: Vec<f32> = hard.iter().map(|&v| v as f32).collect();
        let hard = Tensor::<AD, 4>::from_data(TensorData::new(hard, [batch, len, n, n]), &dev());
        let p = hard + soft.clone() - soft.detach();
        let (d_re, d_im) = layer.diagonal(x.clone());
        let bx = |m: &Param<Tensor<AD, 2>>| x.clone().matmul(m.val().transpose().unsqueeze());
        let state = layer.init_state(batch, &dev());
        let (hr, hi) = reference::pd_scan(
            p,
            (d_re, d_im),
            (bx(&layer.b_re), bx(&layer.b_im)),
            (state.re, state.im),
            form,
        );
        let y = layer.norm.forward(
            layer.readout.forward(Tensor::cat(vec![hr, hi], 2))
                + x.clone() * layer.skip.val().reshape([1, 1, e]),
        );
        let want = collect(y);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            let err = rel_err(a, b);
            assert!(
                err < 1e-5,
                "gather {gather}: gradient #{i} differs by {err:e}"
            );
            assert!(b.iter().any(|v| *v != 0.0), "gradient #{i} is zero");
        }
    }
}

#[test]
fn step_matches_forward() {
    for (n, gather) in [
        (None, false),
        (None, true),
        (Some(3), false),
        (Some(10), true),
    ] {
        let layer = perturb(config(n, gather).init::<B>(6, 1, &dev()).unwrap(), 0.1);
        check_step_matches_forward(&layer, 2, 17, 6, 1e-5, &format!("n {n:?} gather {gather}"));
        let layer = perturb(config(n, gather).init::<AD>(6, 1, &dev()).unwrap(), 0.1);
        check_forward_grads_match_step_grads(&layer, 2, 7, 6, 1e-4, &format!("grads n {n:?}"));
    }
}

#[test]
fn outputs_are_causal() {
    for gather in [false, true] {
        let layer = perturb(config(None, gather).init::<B>(6, 1, &dev()).unwrap(), 0.1);
        check_causal(&layer, 12, 6, 5, &format!("gather {gather}"));
    }
}

#[test]
fn gradients_reach_every_parameter() {
    for gather in [false, true] {
        // With the upstream dropout on (autodiff backend) as well.
        let cfg = PdSsmConfig {
            dict_size: 4,
            ..config(Some(5), gather)
        };
        for dropout in [0.0, 0.01] {
            let cfg = PdSsmConfig {
                dropout,
                ..cfg.clone()
            };
            let layer = perturb(cfg.init::<AD>(6, 1, &dev()).unwrap(), 0.1);
            let x = randn::<AD, 3>([2, 8, 6], &dev());
            check_all_grads(&layer, readout_loss(layer.forward(x)), "pd_ssm");
        }
    }
}

/// The hand-set block of the constructive proof, N = 2: token a (x = e₀) selects the identity,
/// token b (x = e₁) the swap, |D| = 1 with phase 0, B = 0, start e₀: the state is e_{parity}
/// and the readout's sign gives the parity, exactly, at every position of a long input.
#[test]
fn hand_set_two_state_block_computes_parity_exactly() {
    for gather in [false, true] {
        let e = 2;
        let cfg = PdSsmConfig {
            state_size: Some(2),
            dict_size: 2,
            ..config(None, gather)
        };
        let mut layer = cfg.init::<B>(e, 1, &dev()).unwrap();
        // Selection: S x = 20 x (token a → dictionary 0, b → 1).
        layer.selection.weight = param(vec![20.0, 0.0, 0.0, 20.0], [2, 2]);
        // A[i][j][k]: k = 0 identity, k = 1 swap (×10, so the softmax is nearly one-hot too).
        layer.dictionary = param(vec![10.0, 0.0, 0.0, 10.0, 0.0, 10.0, 10.0, 0.0], [2, 2, 2]);
        let saturate = |m: &mut PdMlp<B>, bias: f32| {
            m.fc2.weight = param(vec![0.0; 8], [4, 2]);
            m.fc2.bias = Some(param(vec![bias; 2], [2]));
        };
        saturate(&mut layer.magnitude, 40.0); // |D| = σ(40) = 1
        saturate(&mut layer.phase, -40.0); // arg D = 2π σ(−40) ≈ 0
        layer.b_re = param(vec![0.0; 4], [2, 2]);
        layer.b_im = param(vec![0.0; 4], [2, 2]);
        layer.skip = param(vec![0.0; 2], [2]);
        // y_0 = Re h_0 − Re h_1, y_1 = −y_0 (LayerNorm keeps the sign).
        layer.readout.weight = param(vec![1.0, -1.0, -1.0, 1.0, 0.0, 0.0, 0.0, 0.0], [4, 2]);
        layer.readout.bias = Some(param(vec![0.0; 2], [2]));
        let len = 3000;
        let bits: Vec<usize> = (0..len).map(|i| (i * 7 + i / 3 + i * i) % 3 % 2).collect();
        let x: Vec<f32> = bits
            .iter()
            .flat_map(|&b| if b == 1 { [0.0, 1.0] } else { [1.0, 0.0] })
            .collect();
        let x = Tensor::<B, 3>::from_data(TensorData::new(x, [1, len, e]), &dev());
        let y = to_vec(layer.forward(x));
        let mut parity = 0;
        for (t, &b) in bits.iter().enumerate() {
            parity ^= b;
            let even = y[t * e] > 0.0;
            assert_eq!(even, parity == 0, "gather {gather}: position {t}");
        }
        assert!(bits.iter().sum::<usize>() > len / 4, "the input has ones");
    }
}

#[test]
fn model_is_embedding_blocks_head_and_steps_like_forward() {
    let cfg = PdSsmModelConfig {
        d_model: 8,
        n_layers: 2,
        block: config(Some(6), false),
    };
    let model = perturb(PdSsmModel::<B>::new(&cfg, 5, 4, &dev()).unwrap(), 0.1);
    assert_eq!(model.blocks.len(), 2);
    let tokens = Tensor::<B, 1, Int>::arange(0..14, &dev())
        .remainder_scalar(5)
        .reshape([2, 7]);
    let full = model.forward(tokens.clone());
    // Embedding -> blocks -> head, composed by hand.
    let mut h = model.embedding.forward(tokens.clone());
    for block in &model.blocks {
        h = block.forward(h);
    }
    assert_close(model.head.forward(h), full.clone(), 1e-6, "composition");
    let mut state = model.init_state(2, &dev());
    let mut outs = Vec::new();
    for t in 0..7 {
        let (y, s) = model.step(tokens.clone().narrow(1, t, 1).reshape([2]), state);
        state = s;
        outs.push(y.reshape([2, 1, 4]));
    }
    assert_close(Tensor::cat(outs, 1), full, 1e-5, "step");
    let model = perturb(PdSsmModel::<AD>::new(&cfg, 5, 4, &dev()).unwrap(), 0.1);
    let tokens = Tensor::<AD, 1, Int>::arange(0..14, &dev())
        .remainder_scalar(5)
        .reshape([2, 7]);
    check_all_grads(&model, readout_loss(model.forward(tokens)), "pd_ssm model");
    let parsed = ModelConfig::from_toml_str(
        "kind = \"pd_ssm\"\nd_model = 8\n[block]\nform = \"gather\"\ninitial_state = \"zero\"",
    )
    .unwrap();
    let ModelConfig::PdSsm(parsed) = parsed else {
        panic!("kind pd_ssm parsed as {parsed:?}")
    };
    assert_eq!(parsed.block.form, PdTransitionForm::Gather);
    assert_eq!(parsed.block.initial_state, PdInitialState::Zero);
    assert_eq!(parsed.block.dict_size, 8);
}

#[test]
fn zero_initial_state_differs_from_e0() {
    let e0 = perturb(config(None, false).init::<B>(4, 1, &dev()).unwrap(), 0.1);
    let s = e0.init_state(2, &dev());
    assert_eq!(to_vec(s.re), vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    let zero = PdSsmConfig {
        initial_state: PdInitialState::Zero,
        ..config(None, false)
    }
    .init::<B>(4, 1, &dev())
    .unwrap();
    assert!(to_vec(zero.init_state(2, &dev()).re)
        .iter()
        .all(|&v| v == 0.0));
}

#[test]
fn bad_configs_name_the_field() {
    let err = |c: PdSsmConfig| c.validate(8).unwrap_err().to_string();
    let e = err(PdSsmConfig {
        state_size: Some(0),
        ..Default::default()
    });
    assert!(e.contains("pd_ssm.state_size"), "{e}");
    let e = err(PdSsmConfig {
        dict_size: 0,
        ..Default::default()
    });
    assert!(e.contains("pd_ssm.dict_size"), "{e}");
    let e = err(PdSsmConfig {
        hidden_multiple: 0,
        ..Default::default()
    });
    assert!(e.contains("pd_ssm.hidden_multiple"), "{e}");
    let e = err(PdSsmConfig {
        dropout: 1.0,
        ..Default::default()
    });
    assert!(e.contains("pd_ssm.dropout"), "{e}");
    let e = PdSsmModelConfig {
        n_layers: 0,
        ..Default::default()
    }
    .validate(5, 5)
    .unwrap_err()
    .to_string();
    assert!(e.contains("pd_ssm.n_layers"), "{e}");
    let e = ModelConfig::from_toml_str("kind = \"pd_ssm\"\n[block]\nform = \"rows\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("rows"), "{e}");
    assert_eq!(MixerConfig::default_for("pd_ssm").unwrap().name(), "pd_ssm");
}
