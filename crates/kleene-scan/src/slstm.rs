//! The sLSTM cell of xLSTM (NX-AI/xlstm `blocks/slstm/src/vanilla/slstm.py`) over a whole
//! sequence as one op: forward on the CPU host, backward through time written by hand, one
//! graph node on `Autodiff<B>`. Per head `h` (block-diagonal recurrence), unit `j`, gates
//! `i, f, z, o`, from the zero state:
//! ```text
//! raw_g = wx_g[t] + Σ_a y_{t-1}[a] R[h, a, g, j]
//! m_t = max(raw_i, logσ(raw_f) + m_{t-1})            (m_t = raw_i on the first step)
//! i' = exp(raw_i − m_t),  f' = exp(logσ(raw_f) + m_{t-1} − m_t)
//! c_t = f' c_{t-1} + i' tanh(raw_z),  n_t = f' n_{t-1} + i',  y_t = σ(raw_o) c_t / n_t
//! ```
//! Layouts: `wx (batch, len, NH·4·dh)` (head, then gate, then unit), `R (NH, dh, 4·dh)`
//! (upstream's `(NH, dh_in, 4, dh_out)`), `y (batch, len, NH·dh)`.
//!
//! Backward: `c_t / n_t` does not depend on the stabiliser (`c` and `n` both carry the factor
//! `e^{−m_t}`, for any sequence of `m`), so the gradient of `y` with `m` held constant is the
//! exact gradient; the backward recomputes the states from the inputs (nothing else is kept)
//! and runs the chain rule back through time with `m` fixed.
//!
//! Backends: [`SlstmBackend::slstm_fused`] says whether the backend runs this op; the CPU
//! backends (burn-ndarray, burn-flex) do, multi-threaded over `(batch, head)` with the `R`
//! gradient summed over the batch in a fixed order (bit-reproducible whatever the thread
//! count). Other backends keep the default `false` and callers compose the cell from tensor ops
//! on the device (the default bodies below would read the tensors back to the host).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorMetadata, TensorPrimitive};

use crate::host::{view, write};

/// Initial stabiliser: `logσ(raw_f) + M_START` loses to any `raw_i` (the first-step branch).
pub const M_START: f32 = -1.0e30;

/// Gradients of [`slstm`].
#[derive(Debug, Clone)]
pub struct SlstmGrads<B: Backend> {
    /// `(batch, len, NH·4·dh)`
    pub wx: FloatTensor<B>,
    /// `(NH, dh, 4·dh)`
    pub r: FloatTensor<B>,
}

/// Backends that run the fused sLSTM op.
pub trait SlstmBackend: Backend {
    /// Whether [`SlstmBackend::slstm_forward`] is a fused kernel here (callers otherwise
    /// compose the cell from tensor ops). Default `false`.
    fn slstm_fused() -> bool {
        false
    }

    /// Forward: `y (batch, len, NH·dh)`; `heads = NH`.
    fn slstm_forward(wx: FloatTensor<Self>, r: FloatTensor<Self>) -> FloatTensor<Self> {
        host_forward::<Self>(wx, r)
    }

    /// Backward from the gradient of `y`.
    fn slstm_backward(
        wx: FloatTensor<Self>,
        r: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> SlstmGrads<Self> {
        host_backward::<Self>(wx, r, grad)
    }
}

/// The sLSTM cell over whole sequences from the zero state: `wx (batch, len, NH·4·dh)` (input
/// pre-activations with the bias), `r (NH, dh, 4·dh)`; returns `y (batch, len, NH·dh)`.
///
/// # Panics
/// If the shapes disagree (`wx`'s last dim must be `4·NH·dh` for `r`'s `NH, dh`).
pub fn slstm<B: SlstmBackend>(wx: Tensor<B, 3>, r: Tensor<B, 3>) -> Tensor<B, 3> {
    let [nh, dh, g] = r.dims();
    assert_eq!(
        g,
        4 * dh,
        "slstm: r must be (NH, dh, 4·dh), got {:?}",
        r.dims()
    );
    assert_eq!(
        wx.dims()[2],
        nh * 4 * dh,
        "slstm: wx's last dim must be NH·4·dh = {}",
        nh * 4 * dh
    );
    Tensor::from_primitive(TensorPrimitive::Float(B::slstm_forward(
        wx.into_primitive().tensor(),
        r.into_primitive().tensor(),
    )))
}

/// Plain-Rust kernels on `f32` slices.
pub mod host {
    use super::M_START;
    use rayon::prelude::*;

    #[inline]
    fn sigmoid(v: f32) -> f32 {
        1.0 / (1.0 + (-v).exp())
    }

    /// `logσ(x) = −softplus(−x)`, stable for both signs.
    #[inline]
    fn log_sigmoid(x: f32) -> f32 {
        if x >= 0.0 {
            -(-x).exp().ln_1p()
        } else {
            x - x.exp().ln_1p()
        }
    }

    /// Sizes: `batch, len, NH, dh`.
    #[derive(Debug, Clone, Copy)]
    pub struct Dims {
        pub batch: usize,
        pub len: usize,
        pub heads: usize,
        pub dh: usize,
    }

    /// States after every step of one `(batch, head)` sequence, `(len, dh)` each, the gate
    /// pre-activations and the gate activations `i'`, `f'`, `tanh z̃`, `σ(õ)`, `(len, 4, dh)`
    /// each (kept for the backward, which would otherwise evaluate the exponentials again).
    struct Trace {
        y: Vec<f32>,
        c: Vec<f32>,
        n: Vec<f32>,
        raw: Vec<f32>,
        act: Vec<f32>,
    }

    /// Runs one `(b, h)` sequence forward, keeping every state.
    fn run(wx: &[f32], r: &[f32], d: Dims, b: usize, h: usize) -> Trace {
        let Dims { len, heads, dh, .. } = d;
        let w4 = heads * 4 * dh;
        let rh = &r[h * dh * 4 * dh..(h + 1) * dh * 4 * dh];
        let mut tr = Trace {
            y: vec![0.0; len * dh],
            c: vec![0.0; len * dh],
            n: vec![0.0; len * dh],
            raw: vec![0.0; len * 4 * dh],
            act: vec![0.0; len * 4 * dh],
        };
        let (mut y, mut c, mut n) = (vec![0.0f32; dh], vec![0.0f32; dh], vec![0.0f32; dh]);
        let mut m = vec![M_START; dh];
        for t in 0..len {
            let base = (b * len + t) * w4 + h * 4 * dh;
            let raw = &mut tr.raw[t * 4 * dh..(t + 1) * 4 * dh];
            raw.copy_from_slice(&wx[base..base + 4 * dh]);
            for (a, &ya) in y.iter().enumerate() {
                if ya != 0.0 {
                    for (o, &rv) in raw.iter_mut().zip(&rh[a * 4 * dh..(a + 1) * 4 * dh]) {
                        *o += ya * rv;
                    }
                }
            }
            let act = &mut tr.act[t * 4 * dh..(t + 1) * 4 * dh];
            for j in 0..dh {
                let (ri, rf, rz, ro) = (raw[j], raw[dh + j], raw[2 * dh + j], raw[3 * dh + j]);
                let lfm = log_sigmoid(rf) + m[j];
                let mj = ri.max(lfm);
                let ia = (ri - mj).exp();
                let fa = (lfm - mj).exp();
                let (zt, og) = (rz.tanh(), sigmoid(ro));
                c[j] = fa * c[j] + ia * zt;
                n[j] = fa * n[j] + ia;
                m[j] = mj;
                y[j] = og * c[j] / n[j];
                act[j] = ia;
                act[dh + j] = fa;
                act[2 * dh + j] = zt;
                act[3 * dh + j] = og;
            }
            let s = t * dh..(t + 1) * dh;
            tr.y[s.clone()].copy_from_slice(&y);
            tr.c[s.clone()].copy_from_slice(&c);
            tr.n[s].copy_from_slice(&n);
        }
        tr
    }

    /// Forward: `y (batch, len, NH·dh)`.
    pub fn forward(wx: &[f32], r: &[f32], d: Dims) -> Vec<f32> {
        let Dims {
            batch,
            len,
            heads,
            dh,
        } = d;
        let traces: Vec<Vec<f32>> = (0..batch * heads)
            .into_par_iter()
            .map(|bh| run(wx, r, d, bh / heads, bh % heads).y)
            .collect();
        let width = heads * dh;
        let mut y = vec![0.0f32; batch * len * width];
        for (bh, ty) in traces.iter().enumerate() {
            let (b, h) = (bh / heads, bh % heads);
            for t in 0..len {
                let o = (b * len + t) * width + h * dh;
                y[o..o + dh].copy_from_slice(&ty[t * dh..(t + 1) * dh]);
            }
        }
        y
    }

    /// Backward of one `(b, h)` sequence: `(dwx (len, 4, dh), dR_h (dh, 4·dh))`.
    fn back(
        wx: &[f32],
        r: &[f32],
        grad: &[f32],
        d: Dims,
        b: usize,
        h: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let Dims { len, heads, dh, .. } = d;
        let width = heads * dh;
        let rh = &r[h * dh * 4 * dh..(h + 1) * dh * 4 * dh];
        let tr = run(wx, r, d, b, h);
        let mut dwx = vec![0.0f32; len * 4 * dh];
        let mut dr = vec![0.0f32; dh * 4 * dh];
        let (mut dy_rec, mut dc, mut dn) = (vec![0.0f32; dh], vec![0.0f32; dh], vec![0.0f32; dh]);
        let zeros = vec![0.0f32; dh];
        for t in (0..len).rev() {
            let (y_prev, c_prev, n_prev) = if t > 0 {
                let p = (t - 1) * dh..t * dh;
                (&tr.y[p.clone()], &tr.c[p.clone()], &tr.n[p])
            } else {
                (&zeros[..], &zeros[..], &zeros[..])
            };
            let act = &tr.act[t * 4 * dh..(t + 1) * 4 * dh];
            let raw = &tr.raw[t * 4 * dh..(t + 1) * 4 * dh];
            let g_out = &grad[(b * len + t) * width + h * dh..(b * len + t) * width + (h + 1) * dh];
            let draw = &mut dwx[t * 4 * dh..(t + 1) * 4 * dh];
            for j in 0..dh {
                let rf = raw[dh + j];
                let (c, n) = (tr.c[t * dh + j], tr.n[t * dh + j]);
                let (ia, fa, zt, og) = (act[j], act[dh + j], act[2 * dh + j], act[3 * dh + j]);
                let dy = g_out[j] + dy_rec[j];
                let dog = dy * c / n;
                let dcj = dc[j] + dy * og / n;
                let dnj = dn[j] - dy * og * c / (n * n);
                let dfa = dcj * c_prev[j] + dnj * n_prev[j];
                let dia = dcj * zt + dnj;
                draw[j] = dia * ia; // m held constant (module docs)
                draw[dh + j] = dfa * fa * sigmoid(-rf);
                draw[2 * dh + j] = dcj * ia * (1.0 - zt * zt);
                draw[3 * dh + j] = dog * og * (1.0 - og);
                dc[j] = dcj * fa;
                dn[j] = dnj * fa;
            }
            // Through R y_{t-1}: dR[a, ·] += y_prev[a] draw, dy_prev[a] = R[a, ·]·draw.
            for a in 0..dh {
                let row = &rh[a * 4 * dh..(a + 1) * 4 * dh];
                dy_rec[a] = row.iter().zip(draw.iter()).map(|(x, y)| x * y).sum();
                if y_prev[a] != 0.0 {
                    for (o, &g) in dr[a * 4 * dh..(a + 1) * 4 * dh].iter_mut().zip(draw.iter()) {
                        *o += y_prev[a] * g;
                    }
                }
            }
        }
        (dwx, dr)
    }

    /// Backward: `(dwx, dR)` in the layouts of `wx` and `r`.
    pub fn backward(wx: &[f32], r: &[f32], grad: &[f32], d: Dims) -> (Vec<f32>, Vec<f32>) {
        let Dims {
            batch,
            len,
            heads,
            dh,
        } = d;
        let parts: Vec<(Vec<f32>, Vec<f32>)> = (0..batch * heads)
            .into_par_iter()
            .map(|bh| back(wx, r, grad, d, bh / heads, bh % heads))
            .collect();
        let w4 = heads * 4 * dh;
        let mut dwx = vec![0.0f32; batch * len * w4];
        let mut dr = vec![0.0f32; heads * dh * 4 * dh];
        // Fixed order over (b, h): the sum over the batch does not depend on the threads.
        for (bh, (pw, pr)) in parts.iter().enumerate() {
            let (b, h) = (bh / heads, bh % heads);
            for t in 0..len {
                let o = (b * len + t) * w4 + h * 4 * dh;
                dwx[o..o + 4 * dh].copy_from_slice(&pw[t * 4 * dh..(t + 1) * 4 * dh]);
            }
            for (o, v) in dr[h * dh * 4 * dh..(h + 1) * dh * 4 * dh]
                .iter_mut()
                .zip(pr)
            {
                *o += v;
            }
        }
        (dwx, dr)
    }
}

fn dims_of<B: Backend>(wx: &FloatTensor<B>, r: &FloatTensor<B>) -> host::Dims {
    let (ws, rs) = (wx.shape().to_vec(), r.shape().to_vec());
    host::Dims {
        batch: ws[0],
        len: ws[1],
        heads: rs[0],
        dh: rs[1],
    }
}

/// Host forward for any backend (reads back, computes on the CPU, uploads).
fn host_forward<B: Backend>(wx: FloatTensor<B>, r: FloatTensor<B>) -> FloatTensor<B> {
    let d = dims_of::<B>(&wx, &r);
    let y = host::forward(&view::<B>(&wx), &view::<B>(&r), d);
    write::<B>(
        y,
        &[d.batch, d.len, d.heads * d.dh],
        &B::float_device(&wx),
        wx.dtype(),
    )
}

fn host_backward<B: Backend>(
    wx: FloatTensor<B>,
    r: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> SlstmGrads<B> {
    let d = dims_of::<B>(&wx, &r);
    let (ws, rs) = (wx.shape().to_vec(), r.shape().to_vec());
    let (dwx, dr) = host::backward(&view::<B>(&wx), &view::<B>(&r), &view::<B>(&grad), d);
    let device = B::float_device(&wx);
    SlstmGrads {
        wx: write::<B>(dwx, &ws, &device, wx.dtype()),
        r: write::<B>(dr, &rs, &device, r.dtype()),
    }
}

impl<E, I, Q> SlstmBackend for burn_ndarray::NdArray<E, I, Q>
where
    E: burn_ndarray::FloatNdArrayElement,
    I: burn_ndarray::IntNdArrayElement,
    Q: burn_ndarray::QuantElement,
    burn_ndarray::NdArrayTensor: From<burn_ndarray::SharedArray<E>>,
    burn_ndarray::NdArrayTensor: From<burn_ndarray::SharedArray<I>>,
{
    fn slstm_fused() -> bool {
        true
    }
}

/// burn-flex runs the same CPU kernels as burn-ndarray.
#[cfg(feature = "flex")]
impl SlstmBackend for burn_flex::Flex {
    fn slstm_fused() -> bool {
        true
    }
}

/// CubeCL backends: not fused (the callers' tensor-op cell runs on the device).
#[cfg(feature = "cube")]
impl<R, F, I, BT> SlstmBackend for burn_cubecl::CubeBackend<R, F, I, BT>
where
    R: burn_cubecl::CubeRuntime,
    F: burn_cubecl::FloatElement,
    I: burn_cubecl::IntElement,
    BT: burn_cubecl::BoolElement,
{
}

#[derive(Debug)]
struct SlstmBackward;

impl<B: SlstmBackend> Backward<B, 2> for SlstmBackward {
    /// (wx, r)
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (wx, r) = ops.state;
        let g = B::slstm_backward(wx, r, grad);
        let [nw, nr] = ops.parents.map(|p| p.map(|n| n.id));
        for (node, grad) in [(nw, g.wx), (nr, g.r)] {
            if let Some(node) = node {
                grads.register::<B>(node, grad);
            }
        }
    }
}

impl<B: SlstmBackend, C: CheckpointStrategy> SlstmBackend for Autodiff<B, C> {
    fn slstm_fused() -> bool {
        B::slstm_fused()
    }

    fn slstm_forward(wx: FloatTensor<Self>, r: FloatTensor<Self>) -> FloatTensor<Self> {
        let nodes = [wx.node.clone(), r.node.clone()];
        let (wx, r) = (wx.primitive, r.primitive);
        match SlstmBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::slstm_forward(wx.clone(), r.clone());
                prep.finish((wx, r), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::slstm_forward(wx, r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;
    use burn_ndarray::NdArray;
    use rand::{Rng, SeedableRng};

    type Ad = Autodiff<NdArray<f32>>;

    fn sig(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// The unstabilised cell in f64 (`c ← σ(f)c + e^i tanh z`, `n ← σ(f)n + e^i`), with the
    /// recurrence through `r`; `y (batch, len, NH·dh)`.
    fn oracle(wx: &[f64], r: &[f64], d: host::Dims) -> Vec<f64> {
        let host::Dims {
            batch,
            len,
            heads,
            dh,
        } = d;
        let width = heads * dh;
        let mut out = vec![0.0; batch * len * width];
        for b in 0..batch {
            let (mut y, mut c, mut n) = (vec![0.0; width], vec![0.0; width], vec![0.0; width]);
            for t in 0..len {
                let mut y_new = vec![0.0; width];
                for h in 0..heads {
                    for j in 0..dh {
                        let pre = |g: usize| {
                            let rec: f64 = (0..dh)
                                .map(|a| y[h * dh + a] * r[((h * dh + a) * 4 + g) * dh + j])
                                .sum();
                            wx[(b * len + t) * heads * 4 * dh + (h * 4 + g) * dh + j] + rec
                        };
                        let u = h * dh + j;
                        let (fa, ia) = (sig(pre(1)), pre(0).exp());
                        c[u] = fa * c[u] + ia * pre(2).tanh();
                        n[u] = fa * n[u] + ia;
                        y_new[u] = sig(pre(3)) * c[u] / n[u];
                    }
                }
                y = y_new;
                out[(b * len + t) * width..(b * len + t + 1) * width].copy_from_slice(&y);
            }
        }
        out
    }

    /// `N(0, scale²)`-ish inputs (sum of uniforms), every fifth i / f pre-activation set to
    /// `±big`.
    fn inputs(seed: u64, d: host::Dims, big: f64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut normal = |s: f64| s * ((0..6).map(|_| rng.random::<f64>()).sum::<f64>() - 3.0);
        let nwx = d.batch * d.len * d.heads * 4 * d.dh;
        let mut wx: Vec<f64> = (0..nwx).map(|_| normal(1.5)).collect();
        let r: Vec<f64> = (0..d.heads * d.dh * 4 * d.dh)
            .map(|_| normal(0.6))
            .collect();
        for (idx, v) in wx.iter_mut().enumerate() {
            let gate = (idx / d.dh) % 4;
            if gate < 2 && idx % 5 == 0 {
                *v = if idx % 3 == 0 { -big } else { big };
            }
        }
        (wx, r)
    }

    fn f32s(v: &[f64]) -> Vec<f32> {
        v.iter().map(|x| *x as f32).collect()
    }

    fn rel(a: &[f64], b: &[f64]) -> f64 {
        let scale = b.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
        a.iter()
            .zip(b)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
            / scale
    }

    /// Gate pre-activations of ±100 (past f32's `exp` range): the stabilised f32 op still
    /// equals the unstabilised f64 cell.
    #[test]
    fn forward_matches_unstabilised_f64_oracle() {
        let d = host::Dims {
            batch: 2,
            len: 23,
            heads: 3,
            dh: 2,
        };
        let (wx, r) = inputs(1, d, 100.0);
        let want = oracle(&wx, &r, d);
        let got: Vec<f64> = host::forward(&f32s(&wx), &f32s(&r), d)
            .iter()
            .map(|v| *v as f64)
            .collect();
        assert!(got.iter().all(|v| v.is_finite()));
        let e = rel(&got, &want);
        assert!(e < 1e-4, "forward vs f64 oracle: {e:e}");
    }

    /// The hand-written backward through time (through `slstm` on `Autodiff<NdArray>`) against
    /// central differences of the f64 oracle, for every input and recurrent weight.
    #[test]
    fn backward_matches_finite_differences_of_f64_oracle() {
        let d = host::Dims {
            batch: 2,
            len: 7,
            heads: 2,
            dh: 2,
        };
        let (wx, r) = inputs(2, d, 20.0);
        let width = d.heads * d.dh;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let w: Vec<f64> = (0..d.batch * d.len * width)
            .map(|_| rng.random::<f64>() - 0.5)
            .collect();
        let loss = |wx: &[f64], r: &[f64]| -> f64 {
            oracle(wx, r, d).iter().zip(&w).map(|(y, w)| y * w).sum()
        };
        let fd = |x: &[f64], is_wx: bool| -> Vec<f64> {
            (0..x.len())
                .map(|k| {
                    let eps = 1e-6;
                    let mut p = x.to_vec();
                    let mut m = x.to_vec();
                    p[k] += eps;
                    m[k] -= eps;
                    let (lp, lm) = if is_wx {
                        (loss(&p, &r), loss(&m, &r))
                    } else {
                        (loss(&wx, &p), loss(&wx, &m))
                    };
                    (lp - lm) / (2.0 * eps)
                })
                .collect()
        };
        let (want_wx, want_r) = (fd(&wx, true), fd(&r, false));
        let device = Default::default();
        let t = |v: &[f64], shape: [usize; 3]| -> Tensor<Ad, 3> {
            Tensor::<Ad, 3>::from_data(TensorData::new(f32s(v), shape), &device).require_grad()
        };
        let wx_t = t(&wx, [d.batch, d.len, d.heads * 4 * d.dh]);
        let r_t = t(&r, [d.heads, d.dh, 4 * d.dh]);
        let w_t =
            Tensor::<Ad, 3>::from_data(TensorData::new(f32s(&w), [d.batch, d.len, width]), &device);
        let grads = (slstm(wx_t.clone(), r_t.clone()) * w_t).sum().backward();
        let read = |t: Tensor<NdArray<f32>, 3>| -> Vec<f64> {
            t.into_data().convert::<f64>().to_vec::<f64>().unwrap()
        };
        let got_wx = read(wx_t.grad(&grads).unwrap());
        let got_r = read(r_t.grad(&grads).unwrap());
        let e = rel(&got_wx, &want_wx);
        assert!(e < 1e-3, "d wx vs finite differences: {e:e}");
        let e = rel(&got_r, &want_r);
        assert!(e < 1e-3, "d R vs finite differences: {e:e}");
        assert!(got_r.iter().any(|v| *v != 0.0));
    }
}
