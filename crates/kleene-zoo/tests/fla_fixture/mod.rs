//! Reading the fixtures of `tests/fixtures/` (float64 transcriptions of upstream layers:
//! flash-linear-attention's in `delta/`, the Grazzi et al. Mamba in `mamba_neg/`, mamba's
//! `Mamba2Simple` in `mamba2/`, each written by the script beside it): arrays, parameters by
//! fla's names (PyTorch `Linear` weights transposed to Burn's layout), and the
//! comparison the tests use.
#![allow(dead_code)] // each test file uses the part it needs

use std::path::PathBuf;

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use serde_json::Value;

use kleene_zoo::SequenceLayer;

use crate::icl_common::{dev, to_vec, B};

/// The fixture `tests/fixtures/delta/<name>.json`.
pub fn fixture(name: &str) -> Value {
    fixture_in("delta", name)
}

/// The fixture `tests/fixtures/<dir>/<name>.json`.
pub fn fixture_in(dir: &str, name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `{"shape": [...], "data": [...]}` as `(shape, f32 values)`.
pub fn array(v: &Value) -> (Vec<usize>, Vec<f32>) {
    let shape = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    (shape, data)
}

pub fn tensor<const D: usize>(v: &Value) -> Tensor<B, D> {
    let (shape, data) = array(v);
    Tensor::from_data(TensorData::new(data, shape), &dev())
}

/// Takes fla's parameters by name, remembering which were taken ([`Loader::assert_all_used`]).
pub struct Loader<'a> {
    pub json: &'a Value,
    pub used: Vec<String>,
}

impl<'a> Loader<'a> {
    pub fn new(json: &'a Value) -> Self {
        Self { json, used: vec![] }
    }

    /// The parameter `name`; a rank-1 target takes any shape flattened (fla's `x_*` are
    /// `(1, 1, d)`, the layers keep `(d)`).
    pub fn take<const D: usize>(&mut self, name: &str) -> Tensor<B, D> {
        self.used.push(name.to_string());
        let v = self.json["params"]
            .get(name)
            .unwrap_or_else(|| panic!("fixture has no parameter {name}"));
        let (shape, data) = array(v);
        let shape: Vec<usize> = if D == 1 { vec![data.len()] } else { shape };
        Tensor::from_data(TensorData::new(data, shape), &dev())
    }

    pub fn param<const D: usize>(&mut self, name: &str) -> Param<Tensor<B, D>> {
        Param::from_tensor(self.take(name))
    }

    /// A PyTorch `Linear` `(out, in)` weight (and bias if `bias`) as Burn's `(in, out)`.
    pub fn linear(&mut self, name: &str, bias: bool) -> Linear<B> {
        Linear {
            weight: Param::from_tensor(self.take::<2>(&format!("{name}.weight")).transpose()),
            bias: bias.then(|| self.param(&format!("{name}.bias"))),
        }
    }

    /// Every parameter of the fixture was loaded.
    pub fn assert_all_used(&self) {
        for name in self.json["params"].as_object().unwrap().keys() {
            assert!(
                self.used.contains(name),
                "fixture parameter {name} not loaded"
            );
        }
    }
}

/// Max |got − want| relative to max |want| (at least 1e-3).
pub fn max_rel(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
        / scale
}

/// The layer's whole-sequence forward and its token-by-token `step` run both equal the
/// fixture's `y`, and the matrix state after the last step (read by `matrix_state`) its
/// `final_state`, to 1e-4 relative. Returns that final state.
pub fn check_against_fixture<L: SequenceLayer<B>>(
    layer: &L,
    json: &Value,
    name: &str,
    matrix_state: impl Fn(&L::State) -> Tensor<B, 4>,
) -> L::State {
    let x: Tensor<B, 3> = tensor(&json["x"]);
    let (_, want) = array(&json["y"]);
    let e = max_rel(&to_vec(layer.forward(x.clone())), &want);
    assert!(
        e < 1e-4,
        "{name}: forward differs from fla's layer by {e:e}"
    );
    let [batch, len, d] = x.dims();
    let mut state = layer.init_state(batch, &dev());
    let mut ys = vec![];
    for t in 0..len {
        let (y, s) = layer.step(x.clone().narrow(1, t, 1).reshape([batch, d]), state);
        ys.push(y.reshape([batch, 1, d]));
        state = s;
    }
    let e = max_rel(&to_vec(Tensor::cat(ys, 1)), &want);
    assert!(e < 1e-4, "{name}: step differs from fla's layer by {e:e}");
    let (_, want_s) = array(&json["final_state"]);
    let e = max_rel(&to_vec(matrix_state(&state)), &want_s);
    assert!(e < 1e-4, "{name}: final state differs from fla's by {e:e}");
    state
}
