//! Float64 oracles of the PD-SSM scan, sharing no code with the kernels:
//! - [`forward_dense`]: per step the dense complex transition `P D` (scatter) or `D P` (gather)
//!   is formed as an `n × n` matrix and multiplied with the state by index loops; `P` is the
//!   one-hot matrix of the ids ([`one_hot`]) or any dense real matrix (finite differences of
//!   the straight-through gradient perturb its entries).
//! - [`associative`]: the parallel form of the JAX code: an inclusive Hillis–Steele scan over
//!   the triples `(p, D, b)` with the associative combine, applied to `h0` at the end.
//!
//! Complex numbers are `(re, im)` pairs; slices are flat `(batch, len, n)`.

use super::{PdDims, PdForm};

/// A complex number.
pub type C64 = (f64, f64);

fn mul(a: C64, b: C64) -> C64 {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

fn add(a: C64, b: C64) -> C64 {
    (a.0 + b.0, a.1 + b.1)
}

/// Inputs in f64: `d`, `b` complex `(batch, len, n)`, `h0` complex `(batch, n)`.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub index: &'a [i64],
    pub d: &'a [C64],
    pub b: &'a [C64],
    pub h0: &'a [C64],
    pub form: PdForm,
}

/// The dense one-hot matrices `(batch, len, n, n)` (row = output index) of the ids: scatter
/// `P[p[j], j] = 1` (column one-hot), gather `P[m, p[m]] = 1` (row one-hot).
pub fn one_hot(d: &PdDims, index: &[i64], form: PdForm) -> Vec<f64> {
    let n = d.n;
    let mut p = vec![0.0; d.batch * d.len * n * n];
    for step in 0..d.batch * d.len {
        for k in 0..n {
            let id = index[step * n + k] as usize;
            let (row, col) = match form {
                PdForm::Scatter => (id, k),
                PdForm::Gather => (k, id),
            };
            p[(step * n + row) * n + col] = 1.0;
        }
    }
    p
}

/// Every state `(batch, len, n)` from the dense matrices `p` `(batch, len, n, n)` (the one-hot
/// of the ids when `None`).
pub fn forward_dense(d: &PdDims, x: Inputs<'_>, p: Option<&[f64]>) -> Vec<C64> {
    let n = d.n;
    let own;
    let p = match p {
        Some(p) => p,
        None => {
            own = one_hot(d, x.index, x.form);
            &own
        }
    };
    let mut out = vec![(0.0, 0.0); d.batch * d.len * n];
    for s in 0..d.batch {
        let mut h: Vec<C64> = x.h0[s * n..(s + 1) * n].to_vec();
        for t in 0..d.len {
            let step = s * d.len + t;
            // T[i][j] = P[i][j] D[j] (scatter: P D) or D[i] P[i][j] (gather: D P).
            let mut next = vec![(0.0, 0.0); n];
            for (i, slot) in next.iter_mut().enumerate() {
                let mut acc = x.b[step * n + i];
                for (j, &hj) in h.iter().enumerate() {
                    let pij = (p[(step * n + i) * n + j], 0.0);
                    let dk = match x.form {
                        PdForm::Scatter => x.d[step * n + j],
                        PdForm::Gather => x.d[step * n + i],
                    };
                    acc = add(acc, mul(mul(pij, dk), hj));
                }
                *slot = acc;
            }
            h = next;
            out[step * n..(step + 1) * n].copy_from_slice(&h);
        }
    }
    out
}

/// One element of the associative scan: the affine map `h ↦ A h + b` with `A` one-hot times
/// diagonal.
#[derive(Debug, Clone)]
struct Elem {
    p: Vec<usize>,
    d: Vec<C64>,
    b: Vec<C64>,
}

/// `later ∘ earlier`. Scatter (the JAX combine): `p = p_j[p_i]`, `D = D_j[p_i] ⊙ D_i`,
/// `b = scatter_add(p_j, D_j ⊙ b_i) + b_j`. Gather (`h ↦ D ⊙ h[π] + b`): `π = π_i[π_j]`,
/// `D = D_j ⊙ D_i[π_j]`, `b = D_j ⊙ b_i[π_j] + b_j`.
fn combine(earlier: &Elem, later: &Elem, form: PdForm) -> Elem {
    let n = earlier.p.len();
    match form {
        PdForm::Scatter => {
            let mut b = later.b.clone();
            for k in 0..n {
                b[later.p[k]] = add(b[later.p[k]], mul(later.d[k], earlier.b[k]));
            }
            Elem {
                p: (0..n).map(|k| later.p[earlier.p[k]]).collect(),
                d: (0..n)
                    .map(|k| mul(later.d[earlier.p[k]], earlier.d[k]))
                    .collect(),
                b,
            }
        }
        PdForm::Gather => Elem {
            p: (0..n).map(|m| earlier.p[later.p[m]]).collect(),
            d: (0..n)
                .map(|m| mul(later.d[m], earlier.d[later.p[m]]))
                .collect(),
            b: (0..n)
                .map(|m| add(mul(later.d[m], earlier.b[later.p[m]]), later.b[m]))
                .collect(),
        },
    }
}

/// Applies an element to a state.
fn apply(e: &Elem, h: &[C64], form: PdForm) -> Vec<C64> {
    let n = h.len();
    match form {
        PdForm::Scatter => {
            let mut out = e.b.clone();
            for k in 0..n {
                out[e.p[k]] = add(out[e.p[k]], mul(e.d[k], h[k]));
            }
            out
        }
        PdForm::Gather => (0..n)
            .map(|m| add(mul(e.d[m], h[e.p[m]]), e.b[m]))
            .collect(),
    }
}

/// Every state from the associative (Hillis–Steele) scan: `log2(len)` rounds of
/// `e_t ← e_t ∘ e_{t−2^r}`, then each prefix map applied to `h0`.
pub fn associative(d: &PdDims, x: Inputs<'_>) -> Vec<C64> {
    let n = d.n;
    let mut out = Vec::with_capacity(d.batch * d.len * n);
    for s in 0..d.batch {
        let mut elems: Vec<Elem> = (0..d.len)
            .map(|t| {
                let r = (s * d.len + t) * n..(s * d.len + t + 1) * n;
                Elem {
                    p: x.index[r.clone()].iter().map(|&v| v as usize).collect(),
                    d: x.d[r.clone()].to_vec(),
                    b: x.b[r].to_vec(),
                }
            })
            .collect();
        let mut shift = 1;
        while shift < d.len {
            elems = (0..d.len)
                .map(|t| {
                    if t >= shift {
                        combine(&elems[t - shift], &elems[t], x.form)
                    } else {
                        elems[t].clone()
                    }
                })
                .collect();
            shift *= 2;
        }
        let h0 = &x.h0[s * n..(s + 1) * n];
        for e in &elems {
            out.extend(apply(e, h0, x.form));
        }
    }
    out
}
