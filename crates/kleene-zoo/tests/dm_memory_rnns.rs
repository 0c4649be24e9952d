//! DeepMind's memory-augmented RNNs (Stack-RNN, Tape-RNN; spec `chomsky-hierarchy.md` §5.3–5.4)
//! on burn-ndarray: step == forward, causality, gradients to every parameter, DeepMind's
//! parameter counts, config errors, and two steps of the whole core against a float64
//! reference written from DeepMind's code on random (non-zero) weights, states and tokens.
// The float64 references index their loops as the formulas do.
#![allow(clippy::needless_range_loop)]

mod dm_common;
#[path = "dm_common/memory_reference.rs"]
mod reference;

use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use dm_common::*;
use kleene_zoo::models::stack_rnn::{update_stacks, StackRnnModel, StackRnnState};
use kleene_zoo::models::tape_rnn::{update_tapes, TapeRnnModel, TapeRnnState};
use kleene_zoo::{ModelConfig, SequenceModel, StackRnnConfig, TapeRnnConfig, ZooError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn small_stack() -> StackRnnConfig {
    StackRnnConfig {
        hidden_size: 8,
        stack_cell_size: 3,
        stack_size: 5,
        n_stacks: 2,
    }
}

fn small_tape() -> TapeRnnConfig {
    TapeRnnConfig {
        hidden_size: 8,
        memory_cell_size: 3,
        memory_size: 6,
        n_tapes: 2,
        mlp_layers_size: vec![5, 4],
        marker_tokens: 1,
    }
}

fn configs() -> Vec<(&'static str, ModelConfig)> {
    vec![
        ("stack_rnn", ModelConfig::StackRnn(small_stack())),
        (
            "stack_rnn_one_stack",
            ModelConfig::StackRnn(StackRnnConfig {
                n_stacks: 1,
                stack_size: 2,
                ..small_stack()
            }),
        ),
        ("tape_rnn", ModelConfig::TapeRnn(small_tape())),
        (
            "tape_rnn_linear_write_two_markers",
            ModelConfig::TapeRnn(TapeRnnConfig {
                mlp_layers_size: vec![],
                marker_tokens: 2,
                n_tapes: 1,
                ..small_tape()
            }),
        ),
    ]
}

#[test]
fn memory_rnns_step_equals_forward() {
    for (name, cfg) in configs() {
        check_step_equals_forward(name, &cfg, 9);
    }
}

#[test]
fn memory_rnns_are_causal() {
    for (name, cfg) in configs() {
        check_causal(name, &cfg, 10, 6);
    }
}

#[test]
fn memory_rnns_gradients_reach_every_parameter() {
    for (name, cfg) in configs() {
        check_gradients(name, &cfg);
    }
}

/// DeepMind's parameter counts (spec §5.7, even_pairs: V_in + 1 = 3 inputs, 2 outputs), and by
/// hand for other sizes: controller `(V + K·cell + 1)·H + (H + 1)·H`, readout `(H + 1)·out`.
#[test]
fn parameter_counts_match_deepmind() {
    let count = |cfg: ModelConfig, vocab: usize, out: usize| {
        cfg.init::<Nd>(vocab, out, &Default::default())
            .unwrap()
            .num_params()
    };
    let stack = ModelConfig::StackRnn(StackRnnConfig::default());
    assert_eq!(count(stack, 3, 2), 72_205);
    let tape = ModelConfig::TapeRnn(TapeRnnConfig::default());
    assert_eq!(count(tape.clone(), 3, 2), 91_791);
    // One computation token more in the input (c = 1): one more input column.
    assert_eq!(count(tape, 4, 2), 92_047);
    // Small configs by hand.
    let (v, out, h) = (5, 3, 8);
    let controller = |read: usize| (v + read + 1) * h + (h + 1) * h + (h + 1) * out;
    assert_eq!(
        count(ModelConfig::StackRnn(small_stack()), v, out),
        controller(2 * 3) + (h + 1) * 6 + (h + 1) * 6
    );
    assert_eq!(
        count(ModelConfig::TapeRnn(small_tape()), v, out),
        controller(2 * 3) + (h + 1) * 5 + (5 + 1) * 4 + (4 + 1) * 6 + (h + 1) * 10
    );
}

#[test]
fn bad_memory_rnn_configs_name_the_field() {
    let err = |cfg: ModelConfig, vocab: usize| match cfg.init::<Nd>(vocab, 2, &Default::default()) {
        Err(ZooError::InvalidConfig { field, .. }) => field,
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("{cfg:?} should be rejected"),
    };
    let stack = |c: StackRnnConfig| ModelConfig::StackRnn(c);
    let tape = |c: TapeRnnConfig| ModelConfig::TapeRnn(c);
    let s = StackRnnConfig::default;
    let t = TapeRnnConfig::default;
    assert_eq!(
        err(
            stack(StackRnnConfig {
                stack_size: 1,
                ..s()
            }),
            3
        ),
        "stack_rnn.stack_size"
    );
    assert_eq!(
        err(
            stack(StackRnnConfig {
                hidden_size: 0,
                ..s()
            }),
            3
        ),
        "stack_rnn.hidden_size"
    );
    assert_eq!(
        err(
            stack(StackRnnConfig {
                stack_cell_size: 0,
                ..s()
            }),
            3
        ),
        "stack_rnn.stack_cell_size"
    );
    assert_eq!(
        err(stack(StackRnnConfig { n_stacks: 0, ..s() }), 3),
        "stack_rnn.n_stacks"
    );
    assert_eq!(
        err(
            tape(TapeRnnConfig {
                memory_size: 0,
                ..t()
            }),
            3
        ),
        "tape_rnn.memory_size"
    );
    assert_eq!(
        err(tape(TapeRnnConfig { n_tapes: 0, ..t() }), 3),
        "tape_rnn.n_tapes"
    );
    assert_eq!(
        err(
            tape(TapeRnnConfig {
                mlp_layers_size: vec![64, 0],
                ..t()
            }),
            3
        ),
        "tape_rnn.mlp_layers_size"
    );
    assert_eq!(
        err(
            tape(TapeRnnConfig {
                marker_tokens: 3,
                ..t()
            }),
            3
        ),
        "tape_rnn.marker_tokens"
    );
    // The TOML names and defaults.
    let parsed = ModelConfig::from_toml_str("kind = \"tape_rnn\"\nmemory_size = 40").unwrap();
    assert_eq!(
        parsed,
        ModelConfig::TapeRnn(TapeRnnConfig {
            memory_size: 40,
            ..t()
        })
    );
    match ModelConfig::from_toml_str("kind = \"stack_rnn\"\nstack_sise = 4") {
        Err(ZooError::Parse(msg)) => assert!(msg.contains("stack_sise"), "{msg}"),
        other => panic!("unexpected {other:?}"),
    }
}

/// Pure actions on hand-made stacks: push shifts down (the bottom falls off), pop shifts up
/// (zeros come in), and the mixture is the convex combination.
#[test]
fn stack_actions_move_cells_as_deepmind() {
    let dev = Default::default();
    // One sequence, one stack of 3 cells of width 2: rows [1,2], [3,4], [5,6].
    let stack = Tensor::<Nd, 4>::from_data(
        TensorData::new(vec![1f32, 2., 3., 4., 5., 6.], [1, 1, 3, 2]),
        &dev,
    );
    let push = Tensor::<Nd, 3>::from_data(TensorData::new(vec![7f32, 8.], [1, 1, 2]), &dev);
    let run = |a: [f32; 3]| {
        let actions = Tensor::<Nd, 3>::from_data(TensorData::new(a.to_vec(), [1, 1, 3]), &dev);
        to_vec(update_stacks(stack.clone(), actions, push.clone()))
    };
    assert_eq!(run([1., 0., 0.]), vec![7., 8., 1., 2., 3., 4.]);
    assert_eq!(run([0., 1., 0.]), vec![3., 4., 5., 6., 0., 0.]);
    assert_eq!(run([0., 0., 1.]), vec![1., 2., 3., 4., 5., 6.]);
    let mixed = run([0.5, 0.25, 0.25]);
    let want = [
        0.5 * 7. + 0.25 * 3. + 0.25 * 1.,
        0.5 * 8. + 0.25 * 4. + 0.25 * 2.,
        0.5 * 1. + 0.25 * 5. + 0.25 * 3.,
        0.5 * 2. + 0.25 * 6. + 0.25 * 4.,
        0.5 * 3. + 0.25 * 0. + 0.25 * 5.,
        0.5 * 4. + 0.25 * 0. + 0.25 * 6.,
    ];
    assert!(max_abs_diff(&mixed, &want) < 1e-6, "{mixed:?}");
}

/// Pure actions on a hand-made tape of 5 cells (width 1) with the head cell overwritten by 9:
/// left reads `W[i+1]`, right `W[i−1]`, jumps `W[i±n]`, all circular.
#[test]
fn tape_actions_move_the_head_as_deepmind() {
    let dev = Default::default();
    let tape = Tensor::<Nd, 4>::from_data(
        TensorData::new(vec![1f32, 2., 3., 4., 5.], [1, 1, 5, 1]),
        &dev,
    );
    let write = Tensor::<Nd, 3>::from_data(TensorData::new(vec![9f32], [1, 1, 1]), &dev);
    let run = |action: usize, n: usize| {
        let mut a = vec![0f32; 5];
        a[action] = 1.0;
        let actions = Tensor::<Nd, 3>::from_data(TensorData::new(a, [1, 1, 5]), &dev);
        to_vec(update_tapes(tape.clone(), actions, write.clone(), &[n]))
    };
    // W = [9, 2, 3, 4, 5].
    assert_eq!(run(0, 2), vec![9., 2., 3., 4., 5.]);
    assert_eq!(run(1, 2), vec![2., 3., 4., 5., 9.]);
    assert_eq!(run(2, 2), vec![5., 9., 2., 3., 4.]);
    assert_eq!(run(3, 2), vec![3., 4., 5., 9., 2.]);
    assert_eq!(run(4, 2), vec![4., 5., 9., 2., 3.]);
    // A jump longer than the tape wraps: 7 ≡ 2 (mod 5).
    assert_eq!(run(3, 7), vec![3., 4., 5., 9., 2.]);
    assert_eq!(run(4, 7), vec![4., 5., 9., 2., 3.]);
}

/// The counted jump distance: input tokens are counted until the first marker (the last
/// vocabulary id), then it is fixed; the explicit input lengths fix it from the start.
#[test]
fn tape_counts_the_input_length_until_the_first_marker() {
    let dev = Default::default();
    let model = build_tape(&small_tape(), 3, 5);
    // Vocabulary 5: id 4 is the marker. Two sequences.
    let seq = [[0i64, 3, 1, 4, 2, 4], [4, 0, 0, 0, 1, 2]];
    let mut state = model.init_state(2, &dev);
    let mut seen = vec![];
    for (&first, &second) in seq[0].iter().zip(&seq[1]) {
        let col = Tensor::<Nd, 1, Int>::from_data(TensorData::new(vec![first, second], [2]), &dev);
        state = model.step(col, state).1;
        seen.push((state.jump.clone(), state.jump_fixed.clone()));
    }
    assert_eq!(seen[0], (vec![1, 0], vec![false, true]));
    assert_eq!(seen[2], (vec![3, 0], vec![false, true]));
    assert_eq!(seen[3], (vec![3, 0], vec![true, true]));
    assert_eq!(seen[5], (vec![3, 0], vec![true, true]));
    let given = model.init_state_with_input_lengths(&[3, 0], &dev);
    assert_eq!(
        (given.jump, given.jump_fixed),
        (vec![3, 0], vec![true, true])
    );
}

/// DeepMind's model with explicit input lengths: step from `init_state_with_input_lengths`
/// equals `forward_with_input_lengths`, and the lengths change the outputs.
#[test]
fn tape_with_input_lengths_steps_as_it_forwards() {
    let dev = Default::default();
    let model = build_tape(&small_tape(), 4, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (batch, len) = (3, 9);
    let toks = random_tokens(&mut rng, batch, len, 5);
    let lengths = [2, 7, 4];
    let par = to_vec(model.forward_with_input_lengths(tokens(&toks, batch, len), &lengths));
    let mut state = model.init_state_with_input_lengths(&lengths, &dev);
    let mut outs = vec![];
    for t in 0..len {
        let col = tokens(&toks, batch, len).narrow(1, t, 1).reshape([batch]);
        let (y, s) = model.step(col, state);
        state = s;
        outs.push(y);
    }
    let rec = to_vec(Tensor::stack::<3>(outs, 1));
    assert!(max_abs_diff(&par, &rec) < 1e-5);
    let other = to_vec(model.forward_with_input_lengths(tokens(&toks, batch, len), &[3, 1, 4]));
    assert!(
        max_abs_diff(&par[..len * 3], &other[..len * 3]) > 1e-6,
        "n=2 vs n=3 agree"
    );
    assert!(max_abs_diff(&par[2 * len * 3..], &other[2 * len * 3..]) == 0.0);
}

fn build_stack(cfg: &StackRnnConfig, seed: u64, vocab: usize) -> StackRnnModel<Nd> {
    let dev = Default::default();
    Nd::seed(&dev, seed);
    match ModelConfig::StackRnn(cfg.clone())
        .init::<Nd>(vocab, 3, &dev)
        .unwrap()
    {
        kleene_zoo::AnyModel::StackRnn(m) => randomise_biases(m),
        _ => unreachable!(),
    }
}

fn build_tape(cfg: &TapeRnnConfig, seed: u64, vocab: usize) -> TapeRnnModel<Nd> {
    let dev = Default::default();
    Nd::seed(&dev, seed);
    match ModelConfig::TapeRnn(cfg.clone())
        .init::<Nd>(vocab, 3, &dev)
        .unwrap()
    {
        kleene_zoo::AnyModel::TapeRnn(m) => randomise_biases(m),
        _ => unreachable!(),
    }
}

/// Haiku initialises biases to 0; the references must see non-zero ones.
fn randomise_biases<M: Module<Nd>>(model: M) -> M {
    struct Biases;
    impl burn::module::ModuleMapper<Nd> for Biases {
        fn map_float<const D: usize>(
            &mut self,
            param: Param<Tensor<Nd, D>>,
        ) -> Param<Tensor<Nd, D>> {
            let (id, value, mapper) = param.consume();
            let value = if D == 1 {
                Tensor::random(
                    value.dims(),
                    Distribution::Normal(0.0, 0.5),
                    &value.device(),
                )
            } else {
                value
            };
            Param::from_mapped_value(id, value, mapper)
        }
    }
    model.map(&mut Biases)
}

/// Two steps of the Stack-RNN core from a random state, against [`reference::stack_step`].
#[test]
fn stack_rnn_two_steps_match_a_float64_reference() {
    let dev = Default::default();
    let cfg = small_stack();
    let vocab = 4;
    let model = build_stack(&cfg, 12, vocab);
    let batch = 2;
    let (k, size, cell, h) = (
        cfg.n_stacks,
        cfg.stack_size,
        cfg.stack_cell_size,
        cfg.hidden_size,
    );
    let h0 = Tensor::<Nd, 2>::random([batch, h], Distribution::Normal(0.0, 1.0), &dev).abs();
    let s0 = Tensor::<Nd, 4>::random([batch, k, size, cell], Distribution::Normal(0.0, 1.0), &dev);
    let toks = [[1i64, 3], [2, 0]];
    let mut want_h = to_vec64(h0.clone());
    let mut want_s = to_vec64(s0.clone());
    let mut state = StackRnnState { h: h0, stacks: s0 };
    let w = reference::StackWeights::of(&model);
    for step in toks {
        let x = Tensor::<Nd, 1, Int>::from_data(TensorData::new(step.to_vec(), [batch]), &dev);
        state = model.core(x, state);
        let y = to_vec(model.controller.output(state.h.clone()));
        for b in 0..batch {
            let hs = b * h..(b + 1) * h;
            let ss = b * k * size * cell..(b + 1) * k * size * cell;
            let (nh, ns, ny) = w.step(
                step[b] as usize,
                &want_h[hs.clone()],
                &want_s[ss.clone()],
                k,
                size,
                cell,
            );
            want_h.splice(hs, nh);
            want_s.splice(ss, ns);
            assert!(
                max_abs_diff64(&y[b * 3..(b + 1) * 3], &ny) < 1e-5,
                "readout"
            );
        }
        assert!(
            max_abs_diff64(&to_vec(state.h.clone()), &want_h) < 1e-5,
            "controller state"
        );
        assert!(
            max_abs_diff64(&to_vec(state.stacks.clone()), &want_s) < 1e-5,
            "stacks"
        );
    }
}

/// Two steps of the Tape-RNN from a random state with jumps 2 and 8 (> memory size 6: wraps),
/// against [`reference::tape_step`].
#[test]
fn tape_rnn_two_steps_match_a_float64_reference() {
    let dev = Default::default();
    let cfg = small_tape();
    let vocab = 4;
    let model = build_tape(&cfg, 13, vocab);
    let batch = 2;
    let (k, m, cell, h) = (
        cfg.n_tapes,
        cfg.memory_size,
        cfg.memory_cell_size,
        cfg.hidden_size,
    );
    let h0 = Tensor::<Nd, 2>::random([batch, h], Distribution::Normal(0.0, 1.0), &dev).abs();
    let t0 = Tensor::<Nd, 4>::random([batch, k, m, cell], Distribution::Normal(0.0, 1.0), &dev);
    let jumps = [2usize, 8];
    let toks = [[1i64, 3], [2, 0]];
    let mut want_h = to_vec64(h0.clone());
    let mut want_t = to_vec64(t0.clone());
    let mut state = TapeRnnState {
        h: h0,
        tapes: t0,
        jump: jumps.to_vec(),
        jump_fixed: vec![true; batch],
    };
    let w = reference::TapeWeights::of(&model);
    for step in toks {
        let x = Tensor::<Nd, 1, Int>::from_data(TensorData::new(step.to_vec(), [batch]), &dev);
        let (y, next) = model.step(x, state);
        state = next;
        let y = to_vec(y);
        for b in 0..batch {
            let hs = b * h..(b + 1) * h;
            let ts = b * k * m * cell..(b + 1) * k * m * cell;
            let (nh, nt, ny) = w.step(
                step[b] as usize,
                &want_h[hs.clone()],
                &want_t[ts.clone()],
                jumps[b],
                k,
                m,
                cell,
            );
            want_h.splice(hs, nh);
            want_t.splice(ts, nt);
            assert!(
                max_abs_diff64(&y[b * 3..(b + 1) * 3], &ny) < 1e-5,
                "readout"
            );
        }
        assert!(
            max_abs_diff64(&to_vec(state.h.clone()), &want_h) < 1e-5,
            "controller state"
        );
        assert!(
            max_abs_diff64(&to_vec(state.tapes.clone()), &want_t) < 1e-5,
            "tapes"
        );
    }
}
