//! Float64 references of one step of DeepMind's Stack-RNN and Tape-RNN cores, written from
//! `models/stack_rnn.py` and `models/tape_rnn.py` with plain loops over one sequence (no
//! tensor ops of the crate), on the weights read out of a built model.

use burn::nn::Linear;
use burn::prelude::*;
use kleene_zoo::models::stack_rnn::StackRnnModel;
use kleene_zoo::models::tape_rnn::TapeRnnModel;

type Nd = burn_ndarray::NdArray<f32>;

/// A Linear as f64: `y = x W + b`, `W` row-major `(d_in, d_out)`.
pub struct Lin {
    w: Vec<f64>,
    b: Vec<f64>,
    d_out: usize,
}

impl Lin {
    fn of(l: &Linear<Nd>) -> Self {
        let d_out = l.weight.dims()[1];
        let flat =
            |t: Tensor<Nd, 1>| -> Vec<f64> { t.into_data().convert::<f64>().into_vec().unwrap() };
        Self {
            w: flat(l.weight.val().flatten(0, 1)),
            b: flat(l.bias.as_ref().expect("bias").val()),
            d_out,
        }
    }

    fn apply(&self, x: &[f64]) -> Vec<f64> {
        (0..self.d_out)
            .map(|j| {
                self.b[j]
                    + x.iter()
                        .enumerate()
                        .map(|(i, v)| v * self.w[i * self.d_out + j])
                        .sum::<f64>()
            })
            .collect()
    }
}

fn relu(x: Vec<f64>) -> Vec<f64> {
    x.into_iter().map(|v| v.max(0.0)).collect()
}

fn softmax(x: &[f64]) -> Vec<f64> {
    let m = x.iter().cloned().fold(f64::MIN, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// `hk.VanillaRNN` (ReLU, double bias) and the `make_rnn` readout.
struct Controller {
    input: Lin,
    recurrent: Lin,
    readout: Lin,
    vocab: usize,
}

impl Controller {
    /// `h_t` from the token, the memory read and `h_{t−1}`.
    fn cell(&self, token: usize, read: &[f64], h: &[f64]) -> Vec<f64> {
        let mut x = vec![0.0; self.vocab];
        x[token] = 1.0;
        x.extend_from_slice(read);
        let a = self.input.apply(&x);
        let b = self.recurrent.apply(h);
        relu(a.iter().zip(&b).map(|(p, q)| p + q).collect())
    }

    fn output(&self, h: &[f64]) -> Vec<f64> {
        self.readout.apply(&relu(h.to_vec()))
    }
}

fn controller(
    c: &kleene_zoo::models::memory_controller::VanillaController<Nd>,
    read: usize,
) -> Controller {
    let input = Lin::of(&c.input);
    let vocab = input.w.len() / input.d_out - read;
    Controller {
        input,
        recurrent: Lin::of(&c.recurrent),
        readout: Lin::of(&c.readout),
        vocab,
    }
}

pub struct StackWeights {
    controller: Controller,
    push: Lin,
    actions: Lin,
}

impl StackWeights {
    pub fn of(m: &StackRnnModel<Nd>) -> Self {
        let push = Lin::of(&m.push);
        Self {
            controller: controller(&m.controller, push.d_out),
            push,
            actions: Lin::of(&m.actions),
        }
    }

    /// One step on one sequence: stacks `s[k][i][c]` flat; returns `(h, stacks, logits)`.
    pub fn step(
        &self,
        token: usize,
        h: &[f64],
        s: &[f64],
        k: usize,
        size: usize,
        cell: usize,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let at = |kk: usize, i: usize, c: usize| s[(kk * size + i) * cell + c];
        let top: Vec<f64> = (0..k)
            .flat_map(|kk| (0..cell).map(move |c| at(kk, 0, c)))
            .collect();
        let h = self.controller.cell(token, &top, h);
        let v = self.push.apply(&h);
        // One softmax over every stack's three actions (DeepMind's reshape after softmax).
        let a = softmax(&self.actions.apply(&h));
        let mut new = vec![0.0; s.len()];
        for kk in 0..k {
            let (push, pop, noop) = (a[kk * 3], a[kk * 3 + 1], a[kk * 3 + 2]);
            for i in 0..size {
                for c in 0..cell {
                    let pushed = if i == 0 {
                        v[kk * cell + c]
                    } else {
                        at(kk, i - 1, c)
                    };
                    let popped = if i + 1 < size { at(kk, i + 1, c) } else { 0.0 };
                    new[(kk * size + i) * cell + c] =
                        push * pushed + pop * popped + noop * at(kk, i, c);
                }
            }
        }
        let y = self.controller.output(&h);
        (h, new, y)
    }
}

pub struct TapeWeights {
    controller: Controller,
    mlp: Vec<Lin>,
    actions: Lin,
}

impl TapeWeights {
    pub fn of(m: &TapeRnnModel<Nd>) -> Self {
        let mlp: Vec<Lin> = m.write.iter().map(Lin::of).collect();
        let read = mlp.last().unwrap().d_out;
        Self {
            controller: controller(&m.controller, read),
            mlp,
            actions: Lin::of(&m.actions),
        }
    }

    /// One step on one sequence with jump distance `n`: tapes `t[k][i][c]` flat; returns
    /// `(h, tapes, logits)`.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &self,
        token: usize,
        h: &[f64],
        t: &[f64],
        n: usize,
        k: usize,
        m: usize,
        cell: usize,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let read: Vec<f64> = (0..k)
            .flat_map(|kk| (0..cell).map(move |c| t[kk * m * cell + c]))
            .collect();
        let h = self.controller.cell(token, &read, h);
        let mut w = h.clone();
        for (i, layer) in self.mlp.iter().enumerate() {
            if i > 0 {
                w = relu(w);
            }
            w = layer.apply(&w);
        }
        let logits = self.actions.apply(&h);
        let mut new = vec![0.0; t.len()];
        for kk in 0..k {
            let p = softmax(&logits[kk * 5..kk * 5 + 5]);
            // The tape with the head cell overwritten.
            let written = |i: usize, c: usize| {
                if i == 0 {
                    w[kk * cell + c]
                } else {
                    t[(kk * m + i) * cell + c]
                }
            };
            for i in 0..m {
                let sources = [
                    i,
                    (i + 1) % m,
                    (i + m - 1) % m,
                    (i + n) % m,
                    (i + m - n % m) % m,
                ];
                for c in 0..cell {
                    new[(kk * m + i) * cell + c] =
                        (0..5).map(|a| p[a] * written(sources[a], c)).sum();
                }
            }
        }
        let y = self.controller.output(&h);
        (h, new, y)
    }
}
