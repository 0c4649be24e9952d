//! Float64 oracle of the delta rule, written as plainly as the definition: per step it forms the
//! full transition matrix `T_t = diag(w_t) + b_t a_tᵀ` (dk × dk) and computes
//! `S_t = T_t S_{t-1} + k_t v_tᵀ`, `o_t = S_tᵀ q_t` with explicit index loops. It shares no code
//! with the kernels (which never form `T_t`), so the tests compare two independent derivations.

use super::DeltaDims;

/// Inputs as `f64` slices, flat `(batch·heads, len, ·)` (`w` empty for "no decay").
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub q: &'a [f64],
    pub k: &'a [f64],
    pub v: &'a [f64],
    pub a: &'a [f64],
    pub b: &'a [f64],
    pub w: Option<&'a [f64]>,
}

/// The transition matrix of step `t` of sequence `s`, row-major dk × dk.
pub fn transition(d: &DeltaDims, x: &Inputs<'_>, s: usize, t: usize) -> Vec<f64> {
    let dk = d.dk;
    let at = |buf: &[f64], i: usize| buf[(s * d.len + t) * dk + i];
    let mut m = vec![0.0f64; dk * dk];
    for i in 0..dk {
        for j in 0..dk {
            m[i * dk + j] = at(x.b, i) * at(x.a, j);
        }
        m[i * dk + i] += x.w.map_or(1.0, |w| at(w, i));
    }
    m
}

/// Returns `(o (seqs·len·dv), S_final (seqs·dk·dv))`.
pub fn forward(d: &DeltaDims, x: Inputs<'_>, s0: Option<&[f64]>) -> (Vec<f64>, Vec<f64>) {
    let (len, dk, dv) = (d.len, d.dk, d.dv);
    let mut o = vec![0.0f64; d.sequences() * len * dv];
    let mut last = vec![0.0f64; d.sequences() * dk * dv];
    for s in 0..d.sequences() {
        let mut state: Vec<f64> = match s0 {
            Some(s0) => s0[s * dk * dv..(s + 1) * dk * dv].to_vec(),
            None => vec![0.0; dk * dv],
        };
        for t in 0..len {
            let m = transition(d, &x, s, t);
            let key = (s * len + t) * dk;
            let val = (s * len + t) * dv;
            let mut next = vec![0.0f64; dk * dv];
            for i in 0..dk {
                for j in 0..dv {
                    let mut acc = x.k[key + i] * x.v[val + j];
                    for l in 0..dk {
                        acc += m[i * dk + l] * state[l * dv + j];
                    }
                    next[i * dv + j] = acc;
                }
            }
            state = next;
            for j in 0..dv {
                o[val + j] = (0..dk).map(|i| state[i * dv + j] * x.q[key + i]).sum();
            }
        }
        last[s * dk * dv..(s + 1) * dk * dv].copy_from_slice(&state);
    }
    (o, last)
}
