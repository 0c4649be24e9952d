//! Stack-RNN (Joulin & Mikolov 2015) as DeepMind's `models/stack_rnn.py::StackRNNCore` with
//! the `hk.VanillaRNN` controller (spec `chomsky-hierarchy.md` §5.3).
//!
//! ```text
//! state: stacks S (K, size, cell), row 0 = top; controller state h; both 0 at t = 0
//! h_t   = ReLU(W_x [onehot(x_t); S_{t−1}[k][0] for k] + b_x + W_h h_{t−1} + b_h)
//! v_t   = W_v h_t + b_v                          push values, (K, cell), no squashing
//! a_t   = softmax(W_a h_t + b_a) over all K·3    then (K, 3) = (push, pop, no-op)
//! S_t[k][i] = push·(i = 0 ? v_t[k] : S[k][i−1]) + pop·S[k][i+1] + no-op·S[k][i],  S[k][size] = 0
//! y_t   = W_o ReLU(h_t) + b_o
//! ```
//! The joint softmax over every stack's actions is DeepMind's (it only matters for K > 1).
//! The controller reads the top of the stack *before* this step's update. The stack is
//! bounded: the bottom cell falls off on push and zeros come in on pop, so `stack_size`
//! should exceed the longest sequence the model must remember.

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use super::memory_controller::VanillaController;
use crate::init::linear_haiku;
use crate::validate::{ensure, positive};
use crate::{ScanBackend, SequenceModel, ZooError};

/// Stack actions per stack: push, pop, no-op (DeepMind's order).
pub const STACK_ACTIONS: usize = 3;

/// Stack-RNN: an Elman (ReLU) controller with differentiable stacks. Defaults are DeepMind's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StackRnnConfig {
    /// Controller hidden size. Default 256 (the paper's and `example.py`'s).
    pub hidden_size: usize,
    /// Width of one stack cell. Default 8 (the paper's).
    pub stack_cell_size: usize,
    /// Cells per stack (at least 2). Default 30 (`StackRNNCore`'s default; the paper trained
    /// with 128, and a stack shorter than the sequence forgets its bottom).
    pub stack_size: usize,
    /// Number of stacks. Default 1 (the paper's).
    pub n_stacks: usize,
}

impl Default for StackRnnConfig {
    fn default() -> Self {
        Self {
            hidden_size: 256,
            stack_cell_size: 8,
            stack_size: 30,
            n_stacks: 1,
        }
    }
}

impl StackRnnConfig {
    /// Checks every field; errors name the field as `stack_rnn.<field>`.
    pub fn validate(&self, _vocab_size: usize, _out_dim: usize) -> Result<(), ZooError> {
        positive("stack_rnn.hidden_size", self.hidden_size)?;
        positive("stack_rnn.stack_cell_size", self.stack_cell_size)?;
        positive("stack_rnn.n_stacks", self.n_stacks)?;
        // DeepMind's pop reads `stack[1]`, which a one-cell stack does not have.
        ensure(
            self.stack_size >= 2,
            "stack_rnn.stack_size",
            format!("must be at least 2, got {}", self.stack_size),
        )
    }
}

/// The Stack-RNN model (see the module docs).
#[derive(Module, Debug)]
pub struct StackRnnModel<B: Backend> {
    /// Controller and readout.
    pub controller: VanillaController<B>,
    /// `W_v`, `b_v`: `hidden -> n_stacks · cell`, the push values.
    pub push: Linear<B>,
    /// `W_a`, `b_a`: `hidden -> n_stacks · 3`, the action logits.
    pub actions: Linear<B>,
    n_stacks: usize,
    stack_size: usize,
    cell: usize,
}

/// Recurrent state of the Stack-RNN.
#[derive(Clone, Debug)]
pub struct StackRnnState<B: Backend> {
    /// Controller state `(batch, hidden)`.
    pub h: Tensor<B, 2>,
    /// Stacks `(batch, n_stacks, stack_size, cell)`, row 0 the top.
    pub stacks: Tensor<B, 4>,
}

impl<B: Backend> StackRnnModel<B> {
    /// Builds the model; the config must have been validated.
    pub fn new(
        config: &StackRnnConfig,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Self {
        let (k, cell, hidden) = (config.n_stacks, config.stack_cell_size, config.hidden_size);
        // Haiku creates the parameters in call order: controller, push, actions, readout.
        let core = VanillaController::draw_core(vocab_size, k * cell, hidden, device);
        let push = linear_haiku(hidden, k * cell, true, device);
        let actions = linear_haiku(hidden, k * STACK_ACTIONS, true, device);
        let readout = linear_haiku(hidden, out_dim, true, device);
        Self {
            controller: VanillaController::from_parts(core, readout, vocab_size),
            push,
            actions,
            n_stacks: k,
            stack_size: config.stack_size,
            cell,
        }
    }

    /// One step of the core: the controller state and stacks after reading `tokens`.
    pub fn core(&self, tokens: Tensor<B, 1, Int>, state: StackRnnState<B>) -> StackRnnState<B> {
        let [batch, k, _, cell] = state.stacks.dims();
        let top = state
            .stacks
            .clone()
            .narrow(2, 0, 1)
            .reshape([batch, k * cell]);
        let h = self.controller.cell(tokens, top, state.h);
        let push = self.push.forward(h.clone()).reshape([batch, k, cell]);
        let actions =
            softmax(self.actions.forward(h.clone()), 1).reshape([batch, k, STACK_ACTIONS]);
        let stacks = update_stacks(state.stacks, actions, push);
        StackRnnState { h, stacks }
    }
}

/// DeepMind's `_update_stack` for every stack at once: `stacks (B, K, size, cell)`, `actions
/// (B, K, 3)` as probabilities (push, pop, no-op), `push (B, K, cell)`.
pub fn update_stacks<B: Backend>(
    stacks: Tensor<B, 4>,
    actions: Tensor<B, 3>,
    push: Tensor<B, 3>,
) -> Tensor<B, 4> {
    let [batch, k, size, cell] = stacks.dims();
    let weight = |a: usize| actions.clone().narrow(2, a, 1).reshape([batch, k, 1, 1]);
    let pushed = Tensor::cat(
        vec![
            push.reshape([batch, k, 1, cell]),
            stacks.clone().narrow(2, 0, size - 1),
        ],
        2,
    );
    let popped = Tensor::cat(
        vec![
            stacks.clone().narrow(2, 1, size - 1),
            Tensor::zeros([batch, k, 1, cell], &stacks.device()),
        ],
        2,
    );
    pushed * weight(0) + popped * weight(1) + stacks * weight(2)
}

impl<B: ScanBackend> SequenceModel<B> for StackRnnModel<B> {
    type State = StackRnnState<B>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [batch, len] = tokens.dims();
        let mut state = self.init_state(batch, &tokens.device());
        let mut outs = Vec::with_capacity(len);
        for t in 0..len {
            let (y, next) = self.step(tokens.clone().narrow(1, t, 1).reshape([batch]), state);
            state = next;
            outs.push(y);
        }
        Tensor::stack(outs, 1)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        StackRnnState {
            h: Tensor::zeros([batch, self.controller.hidden_size()], device),
            stacks: Tensor::zeros([batch, self.n_stacks, self.stack_size, self.cell], device),
        }
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let next = self.core(tokens, state);
        (self.controller.output(next.h.clone()), next)
    }

    fn out_dim(&self) -> usize {
        self.controller.out_dim()
    }
}
