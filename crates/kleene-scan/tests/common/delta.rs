//! Random delta-rule problems (never zeros) shared by the CPU and wgpu tests.

use burn::tensor::backend::Backend;
use kleene_scan::delta::naive;
use kleene_scan::{DeltaDims, DeltaRuleInput};
use rand_chacha::ChaCha8Rng;

use super::{tensor, uniform};

/// Which transition family the random `a`, `b`, `w` come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// DeltaNet: `a = -k̂`, `b = β k̂`, `β ∈ (0, 1)`, no decay (eigenvalues in [0, 1]).
    DeltaPositive,
    /// DeltaNet with `β ∈ (0, 2)` (eigenvalues in (-1, 1]).
    DeltaNegative,
    /// Gated: `w = α ∈ (0.5, 1)` per head and step, `a = -k̂`, `b = α β k̂`, `β ∈ (0, 2)`.
    Gated,
    /// Generic DPLR: independent random `a`, `b`, per-channel `w` (RWKV-7-like).
    Generic,
}

/// One problem in f64 (values exactly representable in f32).
#[derive(Debug, Clone)]
pub struct DeltaProblem {
    pub dims: DeltaDims,
    pub q: Vec<f64>,
    pub k: Vec<f64>,
    pub v: Vec<f64>,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub w: Option<Vec<f64>>,
    pub s0: Option<Vec<f64>>,
}

fn normalise_rows(x: &mut [f64], width: usize) {
    for row in x.chunks_exact_mut(width) {
        let n = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        for v in row.iter_mut() {
            *v = (*v / n) as f32 as f64;
        }
    }
}

impl DeltaProblem {
    pub fn random(rng: &mut ChaCha8Rng, dims: DeltaDims, family: Family, with_state: bool) -> Self {
        let nk = dims.sequences() * dims.len * dims.dk;
        let nv = dims.sequences() * dims.len * dims.dv;
        let q = uniform(rng, nk, -1.0, 1.0);
        let v = uniform(rng, nv, -1.0, 1.0);
        let s0 = with_state.then(|| uniform(rng, dims.sequences() * dims.dk * dims.dv, -1.0, 1.0));
        let (k, a, b, w) = match family {
            Family::Generic => {
                let k = uniform(rng, nk, -1.0, 1.0);
                let a = uniform(rng, nk, -0.5, 0.5);
                let b = uniform(rng, nk, -0.5, 0.5);
                let w = uniform(rng, nk, 0.3, 1.0);
                (k, a, b, Some(w))
            }
            _ => {
                let mut k = uniform(rng, nk, -1.0, 1.0);
                normalise_rows(&mut k, dims.dk);
                let steps = dims.sequences() * dims.len;
                let beta_hi = if family == Family::DeltaPositive {
                    1.0
                } else {
                    2.0
                };
                let beta = uniform(rng, steps, 0.05, beta_hi);
                let alpha = uniform(rng, steps, 0.5, 1.0);
                let gated = family == Family::Gated;
                let mut a = vec![0.0; nk];
                let mut b = vec![0.0; nk];
                let mut w = vec![0.0; nk];
                for s in 0..steps {
                    let g = if gated { alpha[s] } else { 1.0 };
                    for i in 0..dims.dk {
                        let j = s * dims.dk + i;
                        a[j] = -k[j];
                        b[j] = (g * beta[s] * k[j]) as f32 as f64;
                        w[j] = g;
                    }
                }
                (k, a, b, gated.then_some(w))
            }
        };
        Self {
            dims,
            q,
            k,
            v,
            a,
            b,
            w,
            s0,
        }
    }

    pub fn naive_inputs(&self) -> naive::Inputs<'_> {
        naive::Inputs {
            q: &self.q,
            k: &self.k,
            v: &self.v,
            a: &self.a,
            b: &self.b,
            w: self.w.as_deref(),
        }
    }

    /// The f64 oracle: `(o, S_final)`.
    pub fn oracle(&self) -> (Vec<f64>, Vec<f64>) {
        naive::forward(&self.dims, self.naive_inputs(), self.s0.as_deref())
    }

    pub fn input<B: Backend>(&self, dev: &B::Device) -> DeltaRuleInput<B> {
        let d = self.dims;
        let key = [d.batch, d.heads, d.len, d.dk];
        DeltaRuleInput {
            q: tensor(&self.q, key, dev),
            k: tensor(&self.k, key, dev),
            v: tensor(&self.v, [d.batch, d.heads, d.len, d.dv], dev),
            a: tensor(&self.a, key, dev),
            b: tensor(&self.b, key, dev),
            w: self.w.as_ref().map(|w| tensor(w, key, dev)),
            initial_state: self
                .s0
                .as_ref()
                .map(|s| tensor(s, [d.batch, d.heads, d.dk, d.dv], dev)),
        }
    }
}

pub fn dims(batch: usize, heads: usize, len: usize, dk: usize, dv: usize) -> DeltaDims {
    DeltaDims {
        batch,
        heads,
        len,
        dk,
        dv,
    }
}

/// Gradients of the loss `Σ o ⊙ ro + Σ S_final ⊙ rs` on `AD` (its `delta_rule_backward`), in
/// input order `q, k, v, a, b, w, s0` (absent inputs give empty vectors).
pub fn op_grads<AD>(p: &DeltaProblem, ro: &[f64], rs: &[f64], dev: &AD::Device) -> Vec<Vec<f64>>
where
    AD: burn::tensor::backend::AutodiffBackend + kleene_scan::DeltaRuleBackend,
{
    use burn::tensor::Tensor;
    let d = p.dims;
    let x = p.input::<AD>(dev);
    let x = DeltaRuleInput {
        q: x.q.require_grad(),
        k: x.k.require_grad(),
        v: x.v.require_grad(),
        a: x.a.require_grad(),
        b: x.b.require_grad(),
        w: x.w.map(|t| t.require_grad()),
        initial_state: x.initial_state.map(|t| t.require_grad()),
    };
    let keep = x.clone();
    let (o, s) = kleene_scan::delta_rule(x);
    let ro: Tensor<AD, 4> = tensor(ro, [d.batch, d.heads, d.len, d.dv], dev);
    let rs: Tensor<AD, 4> = tensor(rs, [d.batch, d.heads, d.dk, d.dv], dev);
    let g = ((o * ro).sum() + (s * rs).sum()).backward();
    let get = |t: &Tensor<AD, 4>| super::values(t.grad(&g).expect("gradient"));
    vec![
        get(&keep.q),
        get(&keep.k),
        get(&keep.v),
        get(&keep.a),
        get(&keep.b),
        keep.w.as_ref().map_or(vec![], get),
        keep.initial_state.as_ref().map_or(vec![], get),
    ]
}
