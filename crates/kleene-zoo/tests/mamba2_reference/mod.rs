//! A float64 reference of the whole Mamba-2 mixer in plain loops, written from upstream's
//! `Mamba2Simple.forward` (the non-fused path) and spec `state-tracking-models.md` §6, not from
//! kleene's layer: in_proj split `[z, x, B, C, dt]`, causal depthwise conv + SiLU over `xBC`,
//! `Δ = softplus(dt + dt_bias)` (torch's threshold 20), then one of three cores, `+ D x`,
//! `y ⊙ SiLU(z)`, RMSNorm over `d_inner`, `out_proj`. Cores:
//! - [`Core::Step`]: the per-head recurrence of §6.2 (`S ← e^{ΔA} S + Δ x Bᵀ`, `y = S C`);
//! - [`Core::Ssd`]: `ssd_minimal_discrete` (§6.3) with chunk length `Q`, the sequence padded;
//! - [`Core::LinearAttention`]: `y_t = Σ_{s≤t} (C_t·B_s) Δ_s x_s` (A = 0, spec §6.5).
#![allow(dead_code)]
// Index loops on purpose: they spell out the einsums of `ssd_minimal_discrete` index by index.
#![allow(clippy::needless_range_loop)]

/// The mixer's parameters in f64, in Burn's layouts (`Linear` weights `(in, out)`).
#[derive(Debug, Clone)]
pub struct Params {
    pub d_model: usize,
    pub heads: usize,
    pub headdim: usize,
    pub groups: usize,
    pub d_state: usize,
    pub d_conv: usize,
    pub eps: f64,
    /// `(d_model, 2·d_inner + 2·G·N + H)`
    pub in_proj: Vec<f64>,
    /// `(conv_dim, d_conv)`
    pub conv_w: Vec<f64>,
    /// `(conv_dim)`
    pub conv_b: Vec<f64>,
    /// `(H)`
    pub dt_bias: Vec<f64>,
    /// `(H)`
    pub a_log: Vec<f64>,
    /// `(H)`
    pub d_skip: Vec<f64>,
    /// `(d_inner)`
    pub norm_w: Vec<f64>,
    /// `(d_inner, d_model)`
    pub out_proj: Vec<f64>,
}

/// The SSM core used by [`mixer`].
#[derive(Debug, Clone, Copy)]
pub enum Core {
    Step,
    Ssd { chunk: usize },
    LinearAttention,
}

/// The SSM inputs of one sequence, per step: `x (H, P)`, `Δ (H)`, `B`, `C` per head `(H, N)`
/// (group `h / (H/G)` already chosen), and `A (H)`.
#[derive(Debug, Clone)]
pub struct SsmInput {
    pub heads: usize,
    pub headdim: usize,
    pub n: usize,
    pub x: Vec<Vec<f64>>,
    pub dt: Vec<Vec<f64>>,
    pub b: Vec<Vec<f64>>,
    pub c: Vec<Vec<f64>>,
    pub a: Vec<f64>,
}

fn silu(v: f64) -> f64 {
    v / (1.0 + (-v).exp())
}

fn softplus(v: f64) -> f64 {
    if v > 20.0 {
        v
    } else {
        v.exp().ln_1p()
    }
}

impl Params {
    pub fn d_inner(&self) -> usize {
        self.heads * self.headdim
    }

    fn conv_dim(&self) -> usize {
        self.d_inner() + 2 * self.groups * self.d_state
    }

    fn proj_width(&self) -> usize {
        self.conv_dim() + self.d_inner() + self.heads
    }
}

/// The SSM inputs and the gate `z (len, d_inner)` of one sequence `u (len, d_model)`.
pub fn prepare(p: &Params, u: &[Vec<f64>]) -> (SsmInput, Vec<Vec<f64>>) {
    let (di, h, hd, g, n, k) = (
        p.d_inner(),
        p.heads,
        p.headdim,
        p.groups,
        p.d_state,
        p.d_conv,
    );
    let (cd, w) = (p.conv_dim(), p.proj_width());
    let proj: Vec<Vec<f64>> = u
        .iter()
        .map(|ut| {
            (0..w)
                .map(|j| (0..p.d_model).map(|i| ut[i] * p.in_proj[i * w + j]).sum())
                .collect()
        })
        .collect();
    let len = u.len();
    // [z | xBC | dt]
    let z: Vec<Vec<f64>> = proj.iter().map(|r| r[..di].to_vec()).collect();
    let xbc_in: Vec<&[f64]> = proj.iter().map(|r| &r[di..di + cd]).collect();
    let xbc: Vec<Vec<f64>> = (0..len)
        .map(|t| {
            (0..cd)
                .map(|ch| {
                    let mut s = p.conv_b[ch];
                    for i in 0..k {
                        // tap i multiplies x_{t-(K-1)+i}
                        if let Some(src) = (t + i).checked_sub(k - 1) {
                            s += p.conv_w[ch * k + i] * xbc_in[src][ch];
                        }
                    }
                    silu(s)
                })
                .collect()
        })
        .collect();
    let per_head = |t: usize, off: usize| -> Vec<f64> {
        (0..h)
            .flat_map(|hh| {
                let grp = hh / (h / g);
                xbc[t][off + grp * n..off + (grp + 1) * n].to_vec()
            })
            .collect()
    };
    let input = SsmInput {
        heads: h,
        headdim: hd,
        n,
        x: xbc.iter().map(|r| r[..di].to_vec()).collect(),
        dt: proj
            .iter()
            .map(|r| {
                (0..h)
                    .map(|hh| softplus(r[di + cd + hh] + p.dt_bias[hh]))
                    .collect()
            })
            .collect(),
        b: (0..len).map(|t| per_head(t, di)).collect(),
        c: (0..len).map(|t| per_head(t, di + g * n)).collect(),
        a: p.a_log.iter().map(|v| -v.exp()).collect(),
    };
    (input, z)
}

/// Step form (§6.2) without the `D` term: `y (len, H·P)`; also returns the final states
/// `(H, P, N)` flattened.
pub fn core_step(s: &SsmInput) -> (Vec<Vec<f64>>, Vec<f64>) {
    let (h, hd, n) = (s.heads, s.headdim, s.n);
    let mut state = vec![0.0; h * hd * n];
    let ys = (0..s.x.len())
        .map(|t| {
            let mut y = vec![0.0; h * hd];
            for hh in 0..h {
                let dt = s.dt[t][hh];
                let decay = (dt * s.a[hh]).exp();
                for pp in 0..hd {
                    let xv = s.x[t][hh * hd + pp];
                    for nn in 0..n {
                        let st = &mut state[(hh * hd + pp) * n + nn];
                        *st = decay * *st + dt * xv * s.b[t][hh * n + nn];
                        y[hh * hd + pp] += *st * s.c[t][hh * n + nn];
                    }
                }
            }
            y
        })
        .collect();
    (ys, state)
}

/// `ssd_minimal_discrete` (§6.3) with chunk length `q`, zero initial state, the sequence padded
/// with `X̃ = 0`, `a = 0` to a multiple of `q`; without the `D` term: `y (len, H·P)` and the final
/// states `(H, P, N)` flattened.
pub fn core_ssd(s: &SsmInput, q: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    let (h, hd, n, len) = (s.heads, s.headdim, s.n, s.x.len());
    let chunks = len.div_ceil(q);
    let padded = chunks * q;
    // X̃ = x Δ and a = Δ A, zero beyond `len`.
    let xt = |t: usize, hh: usize, pp: usize| {
        if t < len {
            s.x[t][hh * hd + pp] * s.dt[t][hh]
        } else {
            0.0
        }
    };
    let bv = |t: usize, hh: usize, nn: usize| if t < len { s.b[t][hh * n + nn] } else { 0.0 };
    let cv = |t: usize, hh: usize, nn: usize| if t < len { s.c[t][hh * n + nn] } else { 0.0 };
    let mut y = vec![vec![0.0; h * hd]; padded];
    let mut final_state = vec![0.0; h * hd * n];
    for hh in 0..h {
        let a: Vec<f64> = (0..padded)
            .map(|t| if t < len { s.dt[t][hh] * s.a[hh] } else { 0.0 })
            .collect();
        // segsum within a chunk: Σ_{l=j+1..i} a_l, summed directly (the stable form).
        let segsum =
            |base: usize, i: usize, j: usize| -> f64 { (j + 1..=i).map(|l| a[base + l]).sum() };
        let a_cum = |base: usize, i: usize| -> f64 { (0..=i).map(|l| a[base + l]).sum() };
        // 1. intra-chunk outputs; 2. chunk-end states.
        let mut states = vec![vec![0.0; hd * n]; chunks];
        for c in 0..chunks {
            let base = c * q;
            for l in 0..q {
                for s_ in 0..=l {
                    let cb: f64 = (0..n)
                        .map(|nn| cv(base + l, hh, nn) * bv(base + s_, hh, nn))
                        .sum();
                    let w = cb * segsum(base, l, s_).exp();
                    for pp in 0..hd {
                        y[base + l][hh * hd + pp] += w * xt(base + s_, hh, pp);
                    }
                }
            }
            let total = a_cum(base, q - 1);
            for s_ in 0..q {
                let decay = (total - a_cum(base, s_)).exp();
                for pp in 0..hd {
                    for nn in 0..n {
                        states[c][pp * n + nn] +=
                            bv(base + s_, hh, nn) * decay * xt(base + s_, hh, pp);
                    }
                }
            }
        }
        // 3. inter-chunk recurrence as in the file: the initial (zero) state prepended, the
        // chunk totals padded with a leading 0, new_states[z] = Σ_{c≤z} exp(segsum)[z, c] states[c].
        let totals: Vec<f64> = std::iter::once(0.0)
            .chain((0..chunks).map(|c| a_cum(c * q, q - 1)))
            .collect();
        let mut all = vec![vec![0.0; hd * n]];
        all.extend(states);
        let new_states: Vec<Vec<f64>> = (0..=chunks)
            .map(|zz| {
                let mut acc = vec![0.0; hd * n];
                for (c, st) in all.iter().enumerate().take(zz + 1) {
                    let decay = ((c + 1..=zz).map(|l| totals[l]).sum::<f64>()).exp();
                    for (o, v) in acc.iter_mut().zip(st) {
                        *o += decay * v;
                    }
                }
                acc
            })
            .collect();
        // 4. state -> output per chunk.
        for c in 0..chunks {
            let base = c * q;
            for l in 0..q {
                let decay = a_cum(base, l).exp();
                for pp in 0..hd {
                    let v: f64 = (0..n)
                        .map(|nn| cv(base + l, hh, nn) * new_states[c][pp * n + nn])
                        .sum();
                    y[base + l][hh * hd + pp] += v * decay;
                }
            }
        }
        final_state[hh * hd * n..(hh + 1) * hd * n].copy_from_slice(&new_states[chunks]);
    }
    y.truncate(len);
    (y, final_state)
}

/// Causal linear attention (the SSM with `A = 0`), without the `D` term:
/// `y_t = Σ_{s≤t} (C_t·B_s) Δ_s x_s` per head.
pub fn core_linear_attention(s: &SsmInput) -> Vec<Vec<f64>> {
    let (h, hd, n) = (s.heads, s.headdim, s.n);
    (0..s.x.len())
        .map(|t| {
            let mut y = vec![0.0; h * hd];
            for hh in 0..h {
                for s_ in 0..=t {
                    let cb: f64 = (0..n)
                        .map(|nn| s.c[t][hh * n + nn] * s.b[s_][hh * n + nn])
                        .sum();
                    for pp in 0..hd {
                        y[hh * hd + pp] += cb * s.dt[s_][hh] * s.x[s_][hh * hd + pp];
                    }
                }
            }
            y
        })
        .collect()
}

/// The whole mixer on one sequence `u (len, d_model)`: `(len, d_model)`.
pub fn mixer(p: &Params, u: &[Vec<f64>], core: Core) -> Vec<Vec<f64>> {
    let (s, z) = prepare(p, u);
    let y = match core {
        Core::Step => core_step(&s).0,
        Core::Ssd { chunk } => core_ssd(&s, chunk).0,
        Core::LinearAttention => core_linear_attention(&s),
    };
    let (di, hd, d) = (p.d_inner(), p.headdim, p.d_model);
    y.iter()
        .enumerate()
        .map(|(t, yt)| {
            // + D x, gate, RMSNorm over d_inner (Mamba2Simple's norm_before_gate=False).
            let g: Vec<f64> = (0..di)
                .map(|c| (yt[c] + p.d_skip[c / hd] * s.x[t][c]) * silu(z[t][c]))
                .collect();
            let ms = g.iter().map(|v| v * v).sum::<f64>() / di as f64;
            let r = 1.0 / (ms + p.eps).sqrt();
            (0..d)
                .map(|j| {
                    (0..di)
                        .map(|c| g[c] * r * p.norm_w[c] * p.out_proj[c * d + j])
                        .sum()
                })
                .collect()
        })
        .collect()
}
