//! Losses over the scored rows of a batch.
//!
//! Every target kind is reduced to the same shape before the loss: the model's logits
//! `(B, L, C)` are flattened to `(B*L, C)` and only the *scored rows* are kept
//! (all real positions for [`Target::PerPosition`](kleene_langs::Target), the masked-in
//! positions for `Masked` — next-token LM, flip-flop reads —, and the last real position
//! for `Final`, which is the query step when the task appends one). Padding is never scored.
//! The loss is then a mean over those rows:
//!
//! - [`LossKind::CrossEntropy`]: `mean_r -log softmax(x_r)[y_r]`.
//! - [`LossKind::Mse`]: `mean_{r,c} (x_{r,c} - onehot(y_r)_c)^2` on raw outputs (Sarrof et al.'s
//!   `train_with_mse.py`; they also count padded rows in the denominator, which changes only the
//!   scale when batches hold padding — with uniform-length batches the two agree exactly).
//! - [`LossKind::Bce`]: multi-label `mean_{r,s} BCEWithLogits(x_{r,s}, set_{r,s})` on the legal
//!   next-symbol sets (Bhattamishra et al.'s original formulation).

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

/// Which loss to train with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Softmax cross-entropy on class ids (default).
    #[default]
    #[serde(alias = "ce")]
    CrossEntropy,
    /// Squared error against one-hot classes.
    Mse,
    /// Binary cross-entropy on next-symbol sets (`Task::next_symbol_sets`).
    Bce,
}

/// Device tensors of the scored rows.
pub struct RowTargets<B: Backend> {
    /// Indices into the flattened `(B*L)` positions, shape `(R,)`.
    pub rows: Tensor<B, 1, Int>,
    /// Class id per row `(R,)` (CE, MSE).
    pub classes: Tensor<B, 1, Int>,
    /// One-hot (MSE) or multi-hot (BCE) targets `(R, C)`.
    pub dense: Option<Tensor<B, 2>>,
}

/// Selects the scored rows of `logits: (B, L, C)` -> `(R, C)`.
pub fn scored_rows<B: Backend>(logits: Tensor<B, 3>, rows: Tensor<B, 1, Int>) -> Tensor<B, 2> {
    let [b, l, c] = logits.dims();
    logits.reshape([b * l, c]).select(0, rows)
}

/// Mean loss over the scored rows `x: (R, C)`.
pub fn loss<B: Backend>(kind: LossKind, x: Tensor<B, 2>, t: &RowTargets<B>) -> Tensor<B, 1> {
    match kind {
        LossKind::CrossEntropy => {
            let [r, _] = x.dims();
            let logp = log_softmax(x, 1);
            let picked = logp.gather(1, t.classes.clone().reshape([r, 1]));
            picked.mean().neg()
        }
        LossKind::Mse => {
            let y = t.dense.clone().expect("MSE needs one-hot targets");
            (x - y).powf_scalar(2.0).mean()
        }
        LossKind::Bce => {
            let y = t.dense.clone().expect("BCE needs multi-hot targets");
            // Stable BCE with logits: max(x,0) - x y + log(1 + exp(-|x|)).
            let pos = x.clone().clamp_min(0.0);
            let soft = x.clone().abs().neg().exp().log1p();
            (pos - x * y + soft).mean()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_ndarray::NdArray;
    use rand::{Rng, SeedableRng};

    type B = NdArray<f32>;

    fn random_logits(r: usize, c: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..r * c).map(|_| rng.random_range(-3.0..3.0)).collect()
    }

    fn to_tensor(v: &[f64], r: usize, c: usize) -> Tensor<B, 2> {
        let f: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        Tensor::<B, 2>::from_data(TensorData::new(f, [r, c]), &Default::default())
    }

    fn targets(classes: &[i64], dense: Option<Vec<f32>>, c: usize) -> RowTargets<B> {
        let dev = Default::default();
        let r = classes.len();
        RowTargets {
            rows: Tensor::<B, 1, Int>::from_data(
                TensorData::new((0..r as i64).collect::<Vec<_>>(), [r]),
                &dev,
            ),
            classes: Tensor::<B, 1, Int>::from_data(TensorData::new(classes.to_vec(), [r]), &dev),
            dense: dense.map(|d| Tensor::<B, 2>::from_data(TensorData::new(d, [r, c]), &dev)),
        }
    }

    fn scalar(t: Tensor<B, 1>) -> f64 {
        t.into_scalar() as f64
    }

    #[test]
    fn cross_entropy_matches_f64() {
        let (r, c) = (7, 5);
        let x = random_logits(r, c, 1);
        let classes: Vec<i64> = vec![0, 4, 2, 2, 1, 3, 0];
        let mut expect = 0.0;
        for i in 0..r {
            let row = &x[i * c..(i + 1) * c];
            let m = row.iter().cloned().fold(f64::MIN, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            expect += lse - row[classes[i] as usize];
        }
        expect /= r as f64;
        let got = scalar(loss(
            LossKind::CrossEntropy,
            to_tensor(&x, r, c),
            &targets(&classes, None, c),
        ));
        assert!((got - expect).abs() < 1e-5, "{got} vs {expect}");
    }

    #[test]
    fn mse_matches_f64() {
        let (r, c) = (6, 3);
        let x = random_logits(r, c, 2);
        let classes: Vec<i64> = vec![2, 0, 1, 1, 2, 0];
        let mut onehot = vec![0f32; r * c];
        let mut expect = 0.0;
        for i in 0..r {
            onehot[i * c + classes[i] as usize] = 1.0;
            for k in 0..c {
                let y = if k as i64 == classes[i] { 1.0 } else { 0.0 };
                expect += (x[i * c + k] - y) * (x[i * c + k] - y);
            }
        }
        expect /= (r * c) as f64;
        let got = scalar(loss(
            LossKind::Mse,
            to_tensor(&x, r, c),
            &targets(&classes, Some(onehot), c),
        ));
        assert!((got - expect).abs() < 1e-5, "{got} vs {expect}");
    }

    #[test]
    fn bce_matches_f64() {
        let (r, c) = (5, 4);
        let x = random_logits(r, c, 3);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let y: Vec<f32> = (0..r * c)
            .map(|_| if rng.random_bool(0.5) { 1.0 } else { 0.0 })
            .collect();
        // The textbook form, in f64: -[y ln p + (1 - y) ln(1 - p)], p = sigmoid(x).
        let mut expect = 0.0;
        for i in 0..r * c {
            let p = 1.0 / (1.0 + (-x[i]).exp());
            let yi = y[i] as f64;
            expect += -(yi * p.ln() + (1.0 - yi) * (1.0 - p).ln());
        }
        expect /= (r * c) as f64;
        let got = scalar(loss(
            LossKind::Bce,
            to_tensor(&x, r, c),
            &targets(&vec![0; r], Some(y), c),
        ));
        assert!((got - expect).abs() < 1e-5, "{got} vs {expect}");
    }

    #[test]
    fn bce_is_finite_for_saturated_logits() {
        // x = 40 with y = 0 and x = -40 with y = 1 both cost ~40 nats each
        // (ln(1 + e^40) = 40 + 4e-18); the textbook form would give inf in f32.
        let x = vec![40.0, -40.0];
        let got = scalar(loss(
            LossKind::Bce,
            to_tensor(&x, 1, 2),
            &targets(&[0], Some(vec![0.0, 1.0]), 2),
        ));
        assert!((got - 40.0).abs() < 1e-4, "{got}");
    }

    #[test]
    fn scored_rows_picks_flattened_positions() {
        let dev = Default::default();
        let data: Vec<f32> = (0..2 * 3 * 2).map(|v| v as f32).collect();
        let logits = Tensor::<B, 3>::from_data(TensorData::new(data, [2, 3, 2]), &dev);
        let rows = Tensor::<B, 1, Int>::from_data(TensorData::new(vec![2i64, 3], [2]), &dev);
        let got: Vec<f32> = scored_rows(logits, rows).into_data().to_vec().unwrap();
        // row 2 = (b0, t2) = [4, 5]; row 3 = (b1, t0) = [6, 7]
        assert_eq!(got, vec![4.0, 5.0, 6.0, 7.0]);
    }
}
