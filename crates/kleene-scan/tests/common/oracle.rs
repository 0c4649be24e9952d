//! Float64 plain-Rust oracle: naive forward AND hand-derived backward of every op, written
//! independently of the crate (no shared code). Its backward is itself checked against central
//! finite differences of its forward (tests/oracle_fd.rs).
#![allow(dead_code)]

pub fn softplus(x: f64) -> f64 {
    if x > 20.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}
pub fn softplus_grad(x: f64) -> f64 {
    if x > 20.0 {
        1.0
    } else {
        1.0 / (1.0 + (-x).exp())
    }
}
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
pub fn silu(x: f64) -> f64 {
    x * sigmoid(x)
}
pub fn silu_grad(x: f64) -> f64 {
    let s = sigmoid(x);
    s * (1.0 + x * (1.0 - s))
}

/// A selective-scan problem in f64, row-major layouts as in the crate API.
#[derive(Clone, Debug)]
pub struct SsProblem {
    pub batch: usize,
    pub d: usize,
    pub len: usize,
    pub n: usize,
    pub groups: usize,
    pub u: Vec<f64>,
    pub delta: Vec<f64>,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub c: Vec<f64>,
    pub d_skip: Option<Vec<f64>>,
    pub z: Option<Vec<f64>>,
    pub delta_bias: Option<Vec<f64>>,
    pub softplus: bool,
    pub h0: Option<Vec<f64>>,
    /// Grazzi et al.'s transition `2 exp(Δ A) - 1` instead of `exp(Δ A)`.
    pub neg_eigval: bool,
}

#[derive(Clone, Debug, Default)]
pub struct SsGrads {
    pub u: Vec<f64>,
    pub delta: Vec<f64>,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub c: Vec<f64>,
    pub d_skip: Vec<f64>,
    pub z: Vec<f64>,
    pub delta_bias: Vec<f64>,
    pub h0: Vec<f64>,
}

impl SsProblem {
    fn idx_x(&self, bb: usize, dd: usize, t: usize) -> usize {
        (bb * self.d + dd) * self.len + t
    }
    fn idx_bc(&self, bb: usize, dd: usize, k: usize, t: usize) -> usize {
        let g = dd / (self.d / self.groups);
        ((bb * self.groups + g) * self.n + k) * self.len + t
    }
    fn dt_raw(&self, bb: usize, dd: usize, t: usize) -> f64 {
        self.delta[self.idx_x(bb, dd, t)] + self.delta_bias.as_ref().map_or(0.0, |v| v[dd])
    }
    fn dt(&self, bb: usize, dd: usize, t: usize) -> f64 {
        let r = self.dt_raw(bb, dd, t);
        if self.softplus {
            softplus(r)
        } else {
            r
        }
    }

    /// The transition and its derivative with respect to `Δ A`.
    fn transition(&self, dt_a: f64) -> (f64, f64) {
        let e = dt_a.exp();
        if self.neg_eigval {
            (2.0 * e - 1.0, 2.0 * e)
        } else {
            (e, e)
        }
    }

    /// Returns (out (b,d,l), last state (b,d,n), pre-gate y (b,d,l), all states (b,d,l,n)).
    pub fn forward_full(&self) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let (nb, nd, nl, nn) = (self.batch, self.d, self.len, self.n);
        let mut out = vec![0.0; nb * nd * nl];
        let mut ypre = vec![0.0; nb * nd * nl];
        let mut last = vec![0.0; nb * nd * nn];
        let mut states = vec![0.0; nb * nd * nl * nn];
        for bb in 0..nb {
            for dd in 0..nd {
                let mut h: Vec<f64> = (0..nn)
                    .map(|k| self.h0.as_ref().map_or(0.0, |v| v[(bb * nd + dd) * nn + k]))
                    .collect();
                for t in 0..nl {
                    let dt = self.dt(bb, dd, t);
                    let u = self.u[self.idx_x(bb, dd, t)];
                    let mut y = 0.0;
                    for k in 0..nn {
                        h[k] = self.transition(dt * self.a[dd * nn + k]).0 * h[k]
                            + dt * self.b[self.idx_bc(bb, dd, k, t)] * u;
                        y += self.c[self.idx_bc(bb, dd, k, t)] * h[k];
                        states[((bb * nd + dd) * nl + t) * nn + k] = h[k];
                    }
                    y += self.d_skip.as_ref().map_or(0.0, |v| v[dd]) * u;
                    let i = self.idx_x(bb, dd, t);
                    ypre[i] = y;
                    out[i] = match &self.z {
                        Some(z) => y * silu(z[i]),
                        None => y,
                    };
                }
                last[(bb * nd + dd) * nn..(bb * nd + dd + 1) * nn].copy_from_slice(&h);
            }
        }
        (out, last, ypre, states)
    }

    pub fn forward(&self) -> (Vec<f64>, Vec<f64>) {
        let (o, l, _, _) = self.forward_full();
        (o, l)
    }

    /// Gradient of `sum(dout * out) + sum(dlast * last)` with respect to every input.
    pub fn backward(&self, dout: &[f64], dlast: &[f64]) -> SsGrads {
        let (nb, nd, nl, nn) = (self.batch, self.d, self.len, self.n);
        let (_, _, ypre, states) = self.forward_full();
        let mut g = SsGrads {
            u: vec![0.0; self.u.len()],
            delta: vec![0.0; self.delta.len()],
            a: vec![0.0; self.a.len()],
            b: vec![0.0; self.b.len()],
            c: vec![0.0; self.c.len()],
            d_skip: vec![0.0; nd],
            z: vec![0.0; self.u.len()],
            delta_bias: vec![0.0; nd],
            h0: vec![0.0; nb * nd * nn],
        };
        for bb in 0..nb {
            for dd in 0..nd {
                let mut gh: Vec<f64> = dlast[(bb * nd + dd) * nn..(bb * nd + dd + 1) * nn].to_vec();
                for t in (0..nl).rev() {
                    let i = self.idx_x(bb, dd, t);
                    let u = self.u[i];
                    let dy = match &self.z {
                        Some(z) => {
                            g.z[i] = dout[i] * ypre[i] * silu_grad(z[i]);
                            dout[i] * silu(z[i])
                        }
                        None => dout[i],
                    };
                    let dskip = self.d_skip.as_ref().map_or(0.0, |v| v[dd]);
                    g.d_skip[dd] += dy * u;
                    g.u[i] += dskip * dy;
                    let dt = self.dt(bb, dd, t);
                    let mut ddt = 0.0;
                    for k in 0..nn {
                        let h_t = states[((bb * nd + dd) * nl + t) * nn + k];
                        let h_prev = if t > 0 {
                            states[((bb * nd + dd) * nl + t - 1) * nn + k]
                        } else {
                            self.h0.as_ref().map_or(0.0, |v| v[(bb * nd + dd) * nn + k])
                        };
                        let ib = self.idx_bc(bb, dd, k, t);
                        gh[k] += dy * self.c[ib];
                        g.c[ib] += dy * h_t;
                        let ak = self.a[dd * nn + k];
                        let (abar, slope) = self.transition(dt * ak);
                        // h_t = abar(dt * A) * h_prev + dt * B * u
                        g.b[ib] += gh[k] * dt * u;
                        g.u[i] += gh[k] * dt * self.b[ib];
                        ddt += gh[k] * (ak * slope * h_prev + self.b[ib] * u);
                        g.a[dd * nn + k] += gh[k] * dt * slope * h_prev;
                        gh[k] *= abar;
                    }
                    let draw = if self.softplus {
                        ddt * softplus_grad(self.dt_raw(bb, dd, t))
                    } else {
                        ddt
                    };
                    g.delta[i] += draw;
                    g.delta_bias[dd] += draw;
                }
                g.h0[(bb * nd + dd) * nn..(bb * nd + dd + 1) * nn].copy_from_slice(&gh);
            }
        }
        g
    }
}

/// h_t = a_t h_{t-1} + b_t, (batch, len, dim).
pub fn diag_forward(
    batch: usize,
    len: usize,
    dim: usize,
    a: &[f64],
    b: &[f64],
    h0: Option<&[f64]>,
) -> Vec<f64> {
    let mut out = vec![0.0; batch * len * dim];
    for bb in 0..batch {
        for j in 0..dim {
            let mut h = h0.map_or(0.0, |v| v[bb * dim + j]);
            for t in 0..len {
                let i = (bb * len + t) * dim + j;
                h = a[i] * h + b[i];
                out[i] = h;
            }
        }
    }
    out
}

/// Returns (da, db, dh0) of sum(dh * h).
pub fn diag_backward(
    batch: usize,
    len: usize,
    dim: usize,
    a: &[f64],
    b: &[f64],
    h0: Option<&[f64]>,
    dh: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let h = diag_forward(batch, len, dim, a, b, h0);
    let (mut da, mut db, mut dh0) = (
        vec![0.0; a.len()],
        vec![0.0; a.len()],
        vec![0.0; batch * dim],
    );
    for bb in 0..batch {
        for j in 0..dim {
            let mut g = 0.0;
            for t in (0..len).rev() {
                let i = (bb * len + t) * dim + j;
                g += dh[i];
                db[i] = g;
                let prev = if t > 0 {
                    h[i - dim]
                } else {
                    h0.map_or(0.0, |v| v[bb * dim + j])
                };
                da[i] = g * prev;
                g *= a[i];
            }
            dh0[bb * dim + j] = g;
        }
    }
    (da, db, dh0)
}

/// Complex version; returns (h_re, h_im).
#[allow(clippy::too_many_arguments)]
pub fn cdiag_forward(
    batch: usize,
    len: usize,
    dim: usize,
    ar: &[f64],
    ai: &[f64],
    br: &[f64],
    bi: &[f64],
    h0: Option<(&[f64], &[f64])>,
) -> (Vec<f64>, Vec<f64>) {
    let (mut or, mut oi) = (vec![0.0; ar.len()], vec![0.0; ar.len()]);
    for bb in 0..batch {
        for j in 0..dim {
            let (mut hr, mut hi) =
                h0.map_or((0.0, 0.0), |(r, i)| (r[bb * dim + j], i[bb * dim + j]));
            for t in 0..len {
                let i = (bb * len + t) * dim + j;
                let nr = ar[i] * hr - ai[i] * hi + br[i];
                let ni = ar[i] * hi + ai[i] * hr + bi[i];
                hr = nr;
                hi = ni;
                or[i] = hr;
                oi[i] = hi;
            }
        }
    }
    (or, oi)
}

pub struct CdiagGrads {
    pub ar: Vec<f64>,
    pub ai: Vec<f64>,
    pub br: Vec<f64>,
    pub bi: Vec<f64>,
    pub h0r: Vec<f64>,
    pub h0i: Vec<f64>,
}

/// Gradient of sum(dr * h_re + di * h_im): real partial derivatives for every real input.
#[allow(clippy::too_many_arguments)]
pub fn cdiag_backward(
    batch: usize,
    len: usize,
    dim: usize,
    ar: &[f64],
    ai: &[f64],
    br: &[f64],
    bi: &[f64],
    h0: Option<(&[f64], &[f64])>,
    dr: &[f64],
    di: &[f64],
) -> CdiagGrads {
    let (hr, hi) = cdiag_forward(batch, len, dim, ar, ai, br, bi, h0);
    let z = || vec![0.0; ar.len()];
    let mut g = CdiagGrads {
        ar: z(),
        ai: z(),
        br: z(),
        bi: z(),
        h0r: vec![0.0; batch * dim],
        h0i: vec![0.0; batch * dim],
    };
    for bb in 0..batch {
        for j in 0..dim {
            let (mut gr, mut gi) = (0.0, 0.0);
            for t in (0..len).rev() {
                let i = (bb * len + t) * dim + j;
                gr += dr[i];
                gi += di[i];
                g.br[i] = gr;
                g.bi[i] = gi;
                let (pr, pi) = if t > 0 {
                    (hr[i - dim], hi[i - dim])
                } else {
                    h0.map_or((0.0, 0.0), |(r, im)| (r[bb * dim + j], im[bb * dim + j]))
                };
                // new_re = ar*pr - ai*pi ; new_im = ar*pi + ai*pr
                g.ar[i] = gr * pr + gi * pi;
                g.ai[i] = -gr * pi + gi * pr;
                let npr = gr * ar[i] + gi * ai[i];
                let npi = -gr * ai[i] + gi * ar[i];
                gr = npr;
                gi = npi;
            }
            g.h0r[bb * dim + j] = gr;
            g.h0i[bb * dim + j] = gi;
        }
    }
    g
}

/// Dense recurrence: m (vocab,n,n), bias (vocab,n), tokens (batch,len), h0 (batch,n) -> (batch,len,n).
pub fn dense_forward(
    n: usize,
    m: &[f64],
    bias: &[f64],
    tokens: &[usize],
    batch: usize,
    len: usize,
    h0: Option<&[f64]>,
) -> Vec<f64> {
    let mut out = vec![0.0; batch * len * n];
    for bb in 0..batch {
        let mut h: Vec<f64> = (0..n).map(|i| h0.map_or(0.0, |v| v[bb * n + i])).collect();
        for t in 0..len {
            let v = tokens[bb * len + t];
            let mut nh = vec![0.0; n];
            for i in 0..n {
                let mut s = bias[v * n + i];
                for j in 0..n {
                    s += m[(v * n + i) * n + j] * h[j];
                }
                nh[i] = s;
            }
            h = nh;
            out[(bb * len + t) * n..(bb * len + t + 1) * n].copy_from_slice(&h);
        }
    }
    out
}

/// Returns (dm, dbias, dh0) of sum(dh * h).
#[allow(clippy::too_many_arguments)]
pub fn dense_backward(
    n: usize,
    vocab: usize,
    m: &[f64],
    bias: &[f64],
    tokens: &[usize],
    batch: usize,
    len: usize,
    h0: Option<&[f64]>,
    dh: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let h = dense_forward(n, m, bias, tokens, batch, len, h0);
    let (mut dm, mut db, mut dh0) = (
        vec![0.0; vocab * n * n],
        vec![0.0; vocab * n],
        vec![0.0; batch * n],
    );
    for bb in 0..batch {
        let mut g = vec![0.0; n];
        for t in (0..len).rev() {
            let v = tokens[bb * len + t];
            for i in 0..n {
                g[i] += dh[(bb * len + t) * n + i];
            }
            for i in 0..n {
                db[v * n + i] += g[i];
                for j in 0..n {
                    let prev = if t > 0 {
                        h[(bb * len + t - 1) * n + j]
                    } else {
                        h0.map_or(0.0, |x| x[bb * n + j])
                    };
                    dm[(v * n + i) * n + j] += g[i] * prev;
                }
            }
            let mut ng = vec![0.0; n];
            for j in 0..n {
                for i in 0..n {
                    ng[j] += m[(v * n + i) * n + j] * g[i];
                }
            }
            g = ng;
        }
        dh0[bb * n..(bb + 1) * n].copy_from_slice(&g);
    }
    (dm, db, dh0)
}
