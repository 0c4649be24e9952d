//! Tape-RNN as DeepMind's `models/tape_rnn.py::TapeInputLengthJumpCore` with the
//! `hk.VanillaRNN` controller (spec `chomsky-hierarchy.md` §5.4).
//!
//! ```text
//! state: circular tapes T (K, M, cell), cell 0 under the head; controller state h; 0 at t = 0
//! h_t = ReLU(W_x [onehot(x_t); T_{t−1}[k][0] for k] + b_x + W_h h_{t−1} + b_h)
//! w_t = MLP(h_t): Linear(64) ReLU Linear(64) ReLU Linear(K·cell)     write values, (K, cell)
//! p_t[k] = softmax(W_a[k] h_t + b_a[k])     (stay, left, right, jump-left, jump-right)
//! W[k] = T[k] with cell 0 overwritten by w_t[k]          (every action writes, jumps too)
//! T_t[k][i] = p0 W[i] + p1 W[i+1] + p2 W[i−1] + p3 W[i+n] + p4 W[i−n]       (indices mod M)
//! y_t = W_o ReLU(h_t) + b_o
//! ```
//! DeepMind builds each move as an `M × M` rolled identity; here they are index shifts (the
//! same values and gradients). The per-tape action linears are one `Linear(hidden, K·5)` with
//! a softmax per tape: the same parameters and the same init distribution.
//!
//! ## The jump distance `n`
//! DeepMind's wrapper passes the raw input length `n` (the number of task tokens, before the
//! computation and blank tokens) to the core, which jumps by `n` from the first step on.
//! - [`TapeRnnModel::forward_with_input_lengths`] / [`TapeRnnModel::init_state_with_input_lengths`]
//!   take `n` per sequence: DeepMind's model exactly.
//! - The [`SequenceModel`] interface (`forward`, `init_state` + `step`) has no `n`, and must
//!   be causal, so it counts it: `n_t` = the number of input tokens read so far, frozen at the
//!   first *marker* token (the last `marker_tokens` ids of the vocabulary: the blank, and the
//!   computation token when there is one, as in DeepMind's wrapper). On DeepMind's layout
//!   `[input, computation, blanks]`, `n_t = n` from the first marker on, i.e. at every
//!   position whose output is scored; while the input is still being read, the jump is the
//!   length read so far rather than the whole `n`.

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use super::memory_controller::VanillaController;
use crate::init::linear_haiku;
use crate::validate::{ensure, positive};
use crate::{ScanBackend, SequenceModel, ZooError};

/// Tape actions: stay, left, right, jump-left, jump-right (DeepMind's order).
pub const TAPE_ACTIONS: usize = 5;

/// Tape-RNN: an Elman (ReLU) controller with circular tapes and input-length jumps. Defaults
/// are DeepMind's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TapeRnnConfig {
    /// Controller hidden size. Default 256 (the paper's and `example.py`'s).
    pub hidden_size: usize,
    /// Width of one tape cell. Default 8 (the paper's).
    pub memory_cell_size: usize,
    /// Cells per (circular) tape. Default 30 (`TapeRNNCore`'s default; `example.py` uses 40,
    /// the paper 256 for training).
    pub memory_size: usize,
    /// Number of tapes. Default 1 (the paper sweeps 1 and 4).
    pub n_tapes: usize,
    /// Hidden widths of the write-value MLP (ReLU between layers; empty = one linear).
    /// Default `[64, 64]`.
    pub mlp_layers_size: Vec<usize>,
    /// How many of the last vocabulary ids are not input tokens (the blank, and the
    /// computation token when the task adds one); the first of them ends the input when the
    /// jump length is counted (module docs). Default 1: only the last id, which is kleene's
    /// padding id (the trainer and evaluator give the model one id more than the task's
    /// vocabulary), so the jump is the length read so far. Set 2 for tasks whose last token is
    /// a blank or query token (DeepMind's Chomsky tasks, SD-SSM's regular tasks): then the
    /// jump is fixed at the input length from the first blank on, as DeepMind's. 0 = every
    /// token is an input token.
    pub marker_tokens: usize,
}

impl Default for TapeRnnConfig {
    fn default() -> Self {
        Self {
            hidden_size: 256,
            memory_cell_size: 8,
            memory_size: 30,
            n_tapes: 1,
            mlp_layers_size: vec![64, 64],
            marker_tokens: 1,
        }
    }
}

impl TapeRnnConfig {
    /// Checks every field; errors name the field as `tape_rnn.<field>`.
    pub fn validate(&self, vocab_size: usize, _out_dim: usize) -> Result<(), ZooError> {
        positive("tape_rnn.hidden_size", self.hidden_size)?;
        positive("tape_rnn.memory_cell_size", self.memory_cell_size)?;
        positive("tape_rnn.memory_size", self.memory_size)?;
        positive("tape_rnn.n_tapes", self.n_tapes)?;
        for &width in &self.mlp_layers_size {
            positive("tape_rnn.mlp_layers_size", width)?;
        }
        ensure(
            self.marker_tokens < vocab_size,
            "tape_rnn.marker_tokens",
            format!(
                "must leave at least one input token in the vocabulary of {vocab_size}, got {}",
                self.marker_tokens
            ),
        )
    }
}

/// The Tape-RNN model (see the module docs).
#[derive(Module, Debug)]
pub struct TapeRnnModel<B: Backend> {
    /// Controller and readout.
    pub controller: VanillaController<B>,
    /// The write-value MLP, first layer first; the last one outputs `n_tapes · cell`.
    pub write: Vec<Linear<B>>,
    /// `hidden -> n_tapes · 5`, the action logits (a softmax per tape).
    pub actions: Linear<B>,
    n_tapes: usize,
    memory_size: usize,
    cell: usize,
    first_marker: usize,
}

/// Recurrent state of the Tape-RNN.
#[derive(Clone, Debug)]
pub struct TapeRnnState<B: Backend> {
    /// Controller state `(batch, hidden)`.
    pub h: Tensor<B, 2>,
    /// Tapes `(batch, n_tapes, memory_size, cell)`, cell 0 under the head.
    pub tapes: Tensor<B, 4>,
    /// Jump distance of each sequence (the input length, or the input read so far).
    pub jump: Vec<usize>,
    /// Whether `jump` is final for each sequence (given, or a marker token was read).
    pub jump_fixed: Vec<bool>,
}

impl<B: Backend> TapeRnnModel<B> {
    /// Builds the model; the config must have been validated.
    pub fn new(config: &TapeRnnConfig, vocab_size: usize, out_dim: usize, device: &B::Device) -> Self {
        let (k, cell, hidden) = (config.n_tapes, config.memory_cell_size, config.hidden_size);
        // Haiku creates the parameters in call order: controller, MLP, actions, readout.
        let core = VanillaController::draw_core(vocab_size, k * cell, hidden, device);
        let mut widths = vec![hidden];
        widths.extend(&config.mlp_layers_size);
        widths.push(k * cell);
        let write = widths
            .windows(2)
            .map(|w| linear_haiku(w[0], w[1], true, device))
            .collect();
        let actions = linear_haiku(hidden, k * TAPE_ACTIONS, true, device);
        let readout = linear_haiku(hidden, out_dim, true, device);
        Self {
            controller: VanillaController::from_parts(core, readout, vocab_size),
            write,
            actions,
            n_tapes: k,
            memory_size: config.memory_size,
            cell,
            first_marker: vocab_size - config.marker_tokens,
        }
    }

    /// The state before the first token with DeepMind's jump distance: the input length `n`
    /// of each sequence, fixed from the first step.
    pub fn init_state_with_input_lengths(
        &self,
        input_lengths: &[usize],
        device: &B::Device,
    ) -> TapeRnnState<B> {
        let batch = input_lengths.len();
        TapeRnnState {
            jump: input_lengths.to_vec(),
            jump_fixed: vec![true; batch],
            ..self.zero_state(batch, device)
        }
    }

    /// DeepMind's model over whole sequences, with the input length `n` of each sequence.
    ///
    /// # Panics
    /// If `input_lengths` does not have one entry per sequence of `tokens`.
    pub fn forward_with_input_lengths(
        &self,
        tokens: Tensor<B, 2, Int>,
        input_lengths: &[usize],
    ) -> Tensor<B, 3> {
        assert_eq!(
            input_lengths.len(),
            tokens.dims()[0],
            "forward_with_input_lengths: one input length per sequence"
        );
        let state = self.init_state_with_input_lengths(input_lengths, &tokens.device());
        self.run(tokens, state)
    }

    fn zero_state(&self, batch: usize, device: &B::Device) -> TapeRnnState<B> {
        TapeRnnState {
            h: Tensor::zeros([batch, self.controller.hidden_size()], device),
            tapes: Tensor::zeros([batch, self.n_tapes, self.memory_size, self.cell], device),
            jump: vec![0; batch],
            jump_fixed: vec![false; batch],
        }
    }

    fn run(&self, tokens: Tensor<B, 2, Int>, mut state: TapeRnnState<B>) -> Tensor<B, 3> {
        let [batch, len] = tokens.dims();
        let mut outs = Vec::with_capacity(len);
        for t in 0..len {
            let (y, next) = self.step_inner(tokens.clone().narrow(1, t, 1).reshape([batch]), state);
            state = next;
            outs.push(y);
        }
        Tensor::stack(outs, 1)
    }

    /// Counts the jump distance: one more input token, or the first marker fixes it. Reads
    /// the ids to the host (a sync per step on GPU backends, until every sequence has met
    /// its first marker).
    fn count_input(&self, tokens: &Tensor<B, 1, Int>, state: &mut TapeRnnState<B>) {
        if state.jump_fixed.iter().all(|&fixed| fixed) {
            return;
        }
        let ids = tokens.to_data().convert::<i64>().into_vec::<i64>().expect("token ids");
        for ((&id, jump), fixed) in ids.iter().zip(&mut state.jump).zip(&mut state.jump_fixed) {
            if *fixed {
                continue;
            }
            if id as usize >= self.first_marker {
                *fixed = true;
            } else {
                *jump += 1;
            }
        }
    }

    fn step_inner(
        &self,
        tokens: Tensor<B, 1, Int>,
        mut state: TapeRnnState<B>,
    ) -> (Tensor<B, 2>, TapeRnnState<B>) {
        self.count_input(&tokens, &mut state);
        let [batch, k, _, cell] = state.tapes.dims();
        let read = state.tapes.clone().narrow(2, 0, 1).reshape([batch, k * cell]);
        let h = self.controller.cell(tokens, read, state.h);
        let mut w = h.clone();
        for (i, layer) in self.write.iter().enumerate() {
            if i > 0 {
                w = relu(w);
            }
            w = layer.forward(w);
        }
        let actions = softmax(
            self.actions.forward(h.clone()).reshape([batch, k, TAPE_ACTIONS]),
            2,
        );
        let tapes = update_tapes(state.tapes, actions, w.reshape([batch, k, cell]), &state.jump);
        let y = self.controller.output(h.clone());
        (
            y,
            TapeRnnState {
                h,
                tapes,
                ..state
            },
        )
    }
}

/// DeepMind's `_update_memory` for every tape at once: `tapes (B, K, M, cell)`, `actions
/// (B, K, 5)` as probabilities, `write (B, K, cell)`, `jump[b]` the jump distance of sequence `b`.
pub fn update_tapes<B: Backend>(
    tapes: Tensor<B, 4>,
    actions: Tensor<B, 3>,
    write: Tensor<B, 3>,
    jump: &[usize],
) -> Tensor<B, 4> {
    let [batch, k, m, cell] = tapes.dims();
    let write = write.reshape([batch, k, 1, cell]);
    let written = if m > 1 {
        Tensor::cat(vec![write, tapes.narrow(2, 1, m - 1)], 2)
    } else {
        write
    };
    // `shift(W, s)[i] = W[(i + s) mod M]` per sequence: jump-left is `s = n`, jump-right `−n`.
    let gather = |sign: i64| {
        let mut idx = Vec::with_capacity(batch * k * m * cell);
        for &n in jump {
            let s = (sign * (n % m) as i64).rem_euclid(m as i64);
            for _ in 0..k {
                for i in 0..m as i64 {
                    let src = (i + s) % m as i64;
                    idx.extend(std::iter::repeat_n(src, cell));
                }
            }
        }
        let idx = Tensor::<B, 4, Int>::from_data(
            TensorData::new(idx, [batch, k, m, cell]),
            &written.device(),
        );
        written.clone().gather(2, idx)
    };
    let roll = |s: usize| {
        // `W[(i + s) mod M]` for one shift shared by every sequence.
        Tensor::cat(
            vec![written.clone().narrow(2, s, m - s), written.clone().narrow(2, 0, s)],
            2,
        )
    };
    let p = |a: usize| actions.clone().narrow(2, a, 1).reshape([batch, k, 1, 1]);
    let left = if m > 1 { roll(1) } else { written.clone() };
    let right = if m > 1 { roll(m - 1) } else { written.clone() };
    written.clone() * p(0) + left * p(1) + right * p(2) + gather(1) * p(3) + gather(-1) * p(4)
}

impl<B: ScanBackend> SequenceModel<B> for TapeRnnModel<B> {
    type State = TapeRnnState<B>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [batch, _] = tokens.dims();
        let state = self.zero_state(batch, &tokens.device());
        self.run(tokens, state)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        self.zero_state(batch, device)
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        self.step_inner(tokens, state)
    }

    fn out_dim(&self) -> usize {
        self.controller.out_dim()
    }
}
