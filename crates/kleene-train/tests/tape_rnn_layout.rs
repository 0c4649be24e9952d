//! The Tape-RNN's `marker_tokens = 2` fits the token layout kleene trains it on: the task's
//! tokens (input, then the blanks of a Chomsky task) and one padding id after the task's
//! vocabulary. Run causally, it counts the input length up to the first marker; at every
//! scored position that count must be DeepMind's `n`, the length it would be told.

use burn::prelude::*;
use kleene_langs::{seeded_rng, task_by_name, Target};
use kleene_train::run::CpuInference;
use kleene_train::trainer::input_vocab;
use kleene_zoo::models::tape_rnn::TapeRnnModel;
use kleene_zoo::{SequenceModel, TapeRnnConfig};

type B = CpuInference;

#[test]
fn two_markers_end_the_input_at_the_first_blank() {
    let device = Default::default();
    for name in ["reverse-string", "duplicate-string", "parity-check"] {
        let task = task_by_name(name).unwrap();
        let vocab = input_vocab(task.as_ref());
        let config = TapeRnnConfig {
            hidden_size: 16,
            memory_size: 12,
            marker_tokens: 2,
            ..Default::default()
        };
        let model = TapeRnnModel::<B>::new(&config, vocab, task.classes().len(), &device);
        let mut rng = seeded_rng(3);
        let example = task.sample(7, 7, &mut rng).unwrap();
        let n = task.input_len(&example);
        assert_eq!(n, 7, "{name}");
        let scored: Vec<usize> = match &example.target {
            Target::Masked { mask, .. } => (0..mask.len()).filter(|&t| mask[t]).collect(),
            Target::Final(_) => vec![example.tokens.len() - 1],
            Target::PerPosition(c) => (0..c.len()).collect(),
        };
        // Stepped through the sequence, the counted jump is fixed at `n` from the first blank
        // (or query token) on: at every scored position. (Before it, the causal model jumps
        // by the length read so far: a documented difference from DeepMind's.)
        let mut state = model.init_state(1, &device);
        for (t, &id) in example.tokens.iter().enumerate() {
            let (_, next) = model.step(Tensor::from_ints([id as i64], &device), state);
            state = next;
            if t < n {
                assert!(!state.jump_fixed[0], "{name}: fixed at input position {t}");
            }
            if scored.contains(&t) {
                assert!(
                    state.jump_fixed[0],
                    "{name}: not fixed at scored position {t}"
                );
                assert_eq!(state.jump[0], n, "{name}: position {t}");
            }
        }
    }
}
