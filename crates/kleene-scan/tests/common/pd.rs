//! Random PD-SSM problems (never zeros) for the CPU tests.

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use kleene_scan::pd::naive::{self, C64};
use kleene_scan::{PdDims, PdForm, PdScanBackend, PdScanInput, PdSurrogate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{int_tensor, tensor, uniform, values};

/// One problem in f64 (values exactly representable in f32).
#[derive(Debug, Clone)]
pub struct PdProblem {
    pub dims: PdDims,
    pub form: PdForm,
    pub index: Vec<usize>,
    /// `|D| < 1` with a random phase, as the layer makes them.
    pub d_re: Vec<f64>,
    pub d_im: Vec<f64>,
    pub b_re: Vec<f64>,
    pub b_im: Vec<f64>,
    pub h0: Option<(Vec<f64>, Vec<f64>)>,
}

pub fn dims(batch: usize, len: usize, n: usize) -> PdDims {
    PdDims { batch, len, n }
}

impl PdProblem {
    pub fn random(rng: &mut ChaCha8Rng, dims: PdDims, form: PdForm, with_state: bool) -> Self {
        let full = dims.batch * dims.len * dims.n;
        let index = (0..full).map(|_| rng.random_range(0..dims.n)).collect();
        let mag = uniform(rng, full, 0.5, 1.0);
        let phase = uniform(rng, full, 0.0, std::f64::consts::TAU);
        let d_re = mag
            .iter()
            .zip(&phase)
            .map(|(m, p)| (m * p.cos()) as f32 as f64)
            .collect();
        let d_im = mag
            .iter()
            .zip(&phase)
            .map(|(m, p)| (m * p.sin()) as f32 as f64)
            .collect();
        let b_re = uniform(rng, full, -1.0, 1.0);
        let b_im = uniform(rng, full, -1.0, 1.0);
        let h0 = with_state.then(|| {
            (
                uniform(rng, dims.batch * dims.n, -1.0, 1.0),
                uniform(rng, dims.batch * dims.n, -1.0, 1.0),
            )
        });
        Self {
            dims,
            form,
            index,
            d_re,
            d_im,
            b_re,
            b_im,
            h0,
        }
    }

    pub fn ids(&self) -> Vec<i64> {
        self.index.iter().map(|&v| v as i64).collect()
    }

    fn pairs(re: &[f64], im: &[f64]) -> Vec<C64> {
        re.iter().zip(im).map(|(&r, &i)| (r, i)).collect()
    }

    /// `(d, b, h0)` as complex f64 (h0 zero when absent).
    pub fn complex(&self) -> (Vec<C64>, Vec<C64>, Vec<C64>) {
        let h0 = match &self.h0 {
            Some((re, im)) => Self::pairs(re, im),
            None => vec![(0.0, 0.0); self.dims.batch * self.dims.n],
        };
        (
            Self::pairs(&self.d_re, &self.d_im),
            Self::pairs(&self.b_re, &self.b_im),
            h0,
        )
    }

    /// The dense-matrix f64 oracle (with dense `p` instead of the ids' one-hot when given).
    pub fn oracle(&self, p: Option<&[f64]>) -> Vec<C64> {
        let ids = self.ids();
        let (d, b, h0) = self.complex();
        naive::forward_dense(
            &self.dims,
            naive::Inputs {
                index: &ids,
                d: &d,
                b: &b,
                h0: &h0,
                form: self.form,
            },
            p,
        )
    }

    pub fn input<B: Backend>(&self, dev: &B::Device) -> PdScanInput<B> {
        let d = self.dims;
        let full = [d.batch, d.len, d.n];
        PdScanInput {
            index: Some(int_tensor(&self.index, full, dev)),
            d_re: tensor(&self.d_re, full, dev),
            d_im: tensor(&self.d_im, full, dev),
            b_re: tensor(&self.b_re, full, dev),
            b_im: tensor(&self.b_im, full, dev),
            initial_state: self.h0.as_ref().map(|(re, im)| {
                (
                    tensor(re, [d.batch, d.n], dev),
                    tensor(im, [d.batch, d.n], dev),
                )
            }),
            transition_surrogate: None,
            surrogate: PdSurrogate::Dense,
            form: self.form,
        }
    }
}

/// Splits complex values into `(re, im)`.
pub fn split(h: &[C64]) -> (Vec<f64>, Vec<f64>) {
    (
        h.iter().map(|c| c.0).collect(),
        h.iter().map(|c| c.1).collect(),
    )
}

/// Gradients of `Σ w_re·Re h + w_im·Im h` through the op (on `AD`) with respect to
/// `[d_re, d_im, b_re, b_im, h0_re, h0_im, P]` (the last through a surrogate; empty vectors for
/// absent inputs). With `logits`, the surrogate holds them ([`PdSurrogate::SoftmaxLogits`]) and
/// the last gradient is `∂L/∂M`.
pub fn op_grads<AD>(
    p: &PdProblem,
    w_re: &[f64],
    w_im: &[f64],
    logits: Option<&[f64]>,
    dev: &AD::Device,
) -> Vec<Vec<f64>>
where
    AD: AutodiffBackend + PdScanBackend,
{
    let d = p.dims;
    let full = [d.batch, d.len, d.n];
    let x = p.input::<AD>(dev);
    let shape = [d.batch, d.len, d.n, d.n];
    let (surrogate, mode): (Tensor<AD, 4>, _) = match logits {
        Some(m) => (tensor(m, shape, dev), PdSurrogate::SoftmaxLogits),
        None => (Tensor::ones(shape, dev), PdSurrogate::Dense),
    };
    let surrogate = surrogate.require_grad();
    let x = PdScanInput {
        d_re: x.d_re.require_grad(),
        d_im: x.d_im.require_grad(),
        b_re: x.b_re.require_grad(),
        b_im: x.b_im.require_grad(),
        initial_state: x
            .initial_state
            .map(|(re, im)| (re.require_grad(), im.require_grad())),
        transition_surrogate: Some(surrogate.clone()),
        surrogate: mode,
        ..x
    };
    let keep = x.clone();
    let (hr, hi) = kleene_scan::pd_scan(x);
    let wr: Tensor<AD, 3> = tensor(w_re, full, dev);
    let wi: Tensor<AD, 3> = tensor(w_im, full, dev);
    let g = ((hr * wr).sum() + (hi * wi).sum()).backward();
    let get2 = |t: &Tensor<AD, 2>| values(t.grad(&g).expect("gradient"));
    let get3 = |t: &Tensor<AD, 3>| values(t.grad(&g).expect("gradient"));
    let (g0r, g0i) = keep
        .initial_state
        .as_ref()
        .map_or((vec![], vec![]), |(re, im)| (get2(re), get2(im)));
    vec![
        get3(&keep.d_re),
        get3(&keep.d_im),
        get3(&keep.b_re),
        get3(&keep.b_im),
        g0r,
        g0i,
        values(surrogate.grad(&g).expect("gradient")),
    ]
}
