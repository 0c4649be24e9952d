//! Models on disk outside a training run: [`save_model`] and [`load_model`], and the checked
//! record loading that checkpoints use too ([`load_record_checked`]).
//!
//! A model file is one text line of JSON ([`ModelFileHeader`]: the model config, the input
//! vocabulary and output width it was built for, the record format, the Burn version and the
//! record's checksum), a newline, then the Burn record (`BinBytesRecorder`, full precision).
//! The header makes the file self-describing: [`load_model`] builds the model from it, so a
//! file never loads into a model of another kind or size; [`load_model_as`] also refuses a
//! file whose config differs from the one the caller expects, naming the fields.
//!
//! Loading never panics on a bad file: Burn's record decoding and `load_record` run under
//! `catch_unwind`, and every parameter's shape is compared with the freshly built model's
//! (Burn's `load_record` takes a tensor of another shape silently; the next forward would
//! panic).

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use kleene_scan::ScanBackend;
use kleene_zoo::{AnyModel, ModelConfig, RECORD_FORMAT};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{checksum, BURN_VERSION};
use crate::TrainError;

/// First bytes of a model file.
const MAGIC: &str = "kleene-model";

/// What a model file says about its record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFileHeader {
    /// Always `kleene-model`.
    pub format: String,
    /// The model's config, every field.
    pub model: ModelConfig,
    /// Input vocabulary size the model was built for (task vocabulary + 1 padding id).
    pub input_vocab: usize,
    /// Output width (classes, or next-symbol set size).
    pub output_dim: usize,
    /// [`kleene_zoo::RECORD_FORMAT`] of the kleene that wrote it.
    pub record_format: u32,
    /// Burn version that wrote the record.
    pub burn_version: String,
    /// FNV-1a 64 of the record bytes.
    pub record_checksum: String,
}

/// The record bytes of `model` (Burn's `BinBytesRecorder`, full precision).
pub fn record_bytes<B: Backend, M: Module<B>>(model: &M) -> Vec<u8> {
    let rec = BinBytesRecorder::<FullPrecisionSettings>::default();
    Recorder::<B>::record(&rec, model.clone().into_record(), ()).expect("in-memory record")
}

/// Every float/int/bool parameter's path and shape, in visiting order.
#[derive(Default)]
struct Shapes {
    path: Vec<String>,
    shapes: Vec<(String, Vec<usize>)>,
}

impl Shapes {
    fn push(&mut self, dims: Vec<usize>) {
        self.shapes.push((self.path.join("."), dims));
    }
}

impl<B: Backend> ModuleVisitor<B> for Shapes {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.push(param.lazy_shape().dims::<D>().to_vec());
    }
    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<B, D, burn::tensor::Int>>) {
        self.push(param.lazy_shape().dims::<D>().to_vec());
    }
    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<B, D, burn::tensor::Bool>>) {
        self.push(param.lazy_shape().dims::<D>().to_vec());
    }
}

fn shapes<B: Backend, M: Module<B>>(model: &M) -> Vec<(String, Vec<usize>)> {
    let mut visitor = Shapes::default();
    model.visit(&mut visitor);
    visitor.shapes
}

/// Loads `bytes` (a record of [`record_bytes`]) into `model`, or explains why not: a record
/// of another model type, or a parameter whose shape differs from `model`'s. `path` names
/// the file in errors.
pub fn load_record_checked<B: Backend, M: Module<B>>(
    model: M,
    bytes: Vec<u8>,
    device: &B::Device,
    path: &Path,
) -> Result<M, TrainError> {
    let expected = shapes::<B, M>(&model);
    let rec = BinBytesRecorder::<FullPrecisionSettings>::default();
    let record = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Recorder::<B>::load::<M::Record>(&rec, bytes, device)
    }))
    .map_err(|_| TrainError::checkpoint(path, "model record does not match this model"))?
    .map_err(|e| TrainError::checkpoint(path, format!("model record: {e}")))?;
    // `load_record` panics on a record of another enum variant (e.g. an SD-SSM record into
    // a Mamba): an error, not a panic.
    let loaded =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.load_record(record)))
            .map_err(|_| {
                TrainError::checkpoint(
                    path,
                    "model record is of another model kind than this model",
                )
            })?;
    let found = shapes::<B, M>(&loaded);
    if found.len() != expected.len() {
        return Err(TrainError::checkpoint(
            path,
            format!(
                "model record has {} parameters, this model {}",
                found.len(),
                expected.len()
            ),
        ));
    }
    if let Some(((name, got), (_, want))) = found
        .iter()
        .zip(&expected)
        .find(|((_, got), (_, want))| got != want)
    {
        return Err(TrainError::checkpoint(
            path,
            format!("parameter `{name}` has shape {got:?} in the record, {want:?} in this model"),
        ));
    }
    Ok(loaded)
}

/// Writes `model` (built from `config` for `input_vocab` tokens and `output_dim` outputs)
/// to `path`, atomically.
///
/// ```
/// use burn_ndarray::NdArray;
/// use kleene_train::model_file::{load_model, load_model_as, save_model};
/// use kleene_zoo::{MambaConfig, ModelConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mamba = |d_model| {
///     ModelConfig::Mamba(MambaConfig { d_model, n_layers: 1, d_state: 4, ..Default::default() })
/// };
/// let device = Default::default();
/// let model = mamba(8).init::<NdArray<f32>>(3, 2, &device)?;
/// let path = std::env::temp_dir().join(format!("kleene-doc-{}.kleene", std::process::id()));
/// save_model(&model, &mamba(8), 3, 2, &path)?;
///
/// // The file describes itself: the model is rebuilt from its header.
/// let (_model, header) = load_model::<NdArray<f32>>(&path, &device)?;
/// assert_eq!((header.input_vocab, header.output_dim), (3, 2));
/// // Loading it as another model is an error naming the difference, not a panic.
/// let err = load_model_as::<NdArray<f32>>(&path, &mamba(16), 3, 2, &device).unwrap_err();
/// assert!(err.to_string().contains("d_model"), "{err}");
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
pub fn save_model<B: Backend>(
    model: &AnyModel<B>,
    config: &ModelConfig,
    input_vocab: usize,
    output_dim: usize,
    path: &Path,
) -> Result<(), TrainError> {
    let record = record_bytes::<B, _>(model);
    let header = ModelFileHeader {
        format: MAGIC.into(),
        model: config.clone(),
        input_vocab,
        output_dim,
        record_format: RECORD_FORMAT,
        burn_version: BURN_VERSION.into(),
        record_checksum: checksum(&record),
    };
    let mut bytes = serde_json::to_vec(&header).expect("header serialises");
    bytes.push(b'\n');
    bytes.extend_from_slice(&record);
    kleene_langs::io::write_atomic(path, &bytes).map_err(TrainError::from_lang)
}

/// Reads a model file's header and record bytes, checking the format, the Burn version,
/// the record format and the checksum.
pub fn read_model_file(path: &Path) -> Result<(ModelFileHeader, Vec<u8>), TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    let bad = |reason: String| TrainError::checkpoint(path, reason);
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("not a kleene model file (no header line)".into()))?;
    let header: ModelFileHeader = serde_json::from_slice(&bytes[..newline])
        .map_err(|e| bad(format!("not a kleene model file: header: {e}")))?;
    if header.format != MAGIC {
        return Err(bad(format!(
            "not a kleene model file (format `{}`)",
            header.format
        )));
    }
    if header.burn_version != BURN_VERSION {
        return Err(bad(format!(
            "written by Burn {}, this kleene reads Burn {BURN_VERSION} records",
            header.burn_version
        )));
    }
    header
        .model
        .check_record_format(header.record_format)
        .map_err(bad)?;
    let record = bytes[newline + 1..].to_vec();
    let sum = checksum(&record);
    if sum != header.record_checksum {
        return Err(bad(format!(
            "record checksum {sum} differs from the header's {} (damaged file)",
            header.record_checksum
        )));
    }
    Ok((header, record))
}

/// Loads a model file into a model built from its own header, on any backend (training or
/// inference).
pub fn load_model<B: ScanBackend>(
    path: &Path,
    device: &B::Device,
) -> Result<(AnyModel<B>, ModelFileHeader), TrainError> {
    let (header, record) = read_model_file(path)?;
    let fresh = header
        .model
        .init::<B>(header.input_vocab, header.output_dim, device)
        .map_err(|e| TrainError::checkpoint(path, format!("model config in the header: {e}")))?;
    let model = load_record_checked::<B, _>(fresh, record, device, path)?;
    Ok((model, header))
}

/// [`load_model`], refusing a file whose model config, input vocabulary or output width
/// differs from the expected ones (the differing fields named).
pub fn load_model_as<B: ScanBackend>(
    path: &Path,
    expected: &ModelConfig,
    input_vocab: usize,
    output_dim: usize,
    device: &B::Device,
) -> Result<AnyModel<B>, TrainError> {
    let (header, _) = read_model_file(path)?;
    let mut differences = config_differences(&header.model, expected);
    if header.input_vocab != input_vocab {
        differences.push(format!(
            "input vocabulary {} (expected {input_vocab})",
            header.input_vocab
        ));
    }
    if header.output_dim != output_dim {
        differences.push(format!(
            "output width {} (expected {output_dim})",
            header.output_dim
        ));
    }
    if !differences.is_empty() {
        return Err(TrainError::checkpoint(
            path,
            format!("the file holds another model: {}", differences.join(", ")),
        ));
    }
    load_model(path, device).map(|(model, _)| model)
}

/// The fields in which `found` differs from `expected`, as `field value (expected value)`;
/// another kind is one difference.
pub fn config_differences(found: &ModelConfig, expected: &ModelConfig) -> Vec<String> {
    if found.kind() != expected.kind() {
        return vec![format!(
            "model kind `{}` (expected `{}`)",
            found.kind(),
            expected.kind()
        )];
    }
    let table = |m: &ModelConfig| toml::Table::try_from(m).unwrap_or_default();
    let (a, b) = (table(found), table(expected));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |v: Option<&toml::Value>| v.map_or("(none)".into(), |v| v.to_string());
            format!("{k} = {} (expected {})", show(a.get(k)), show(b.get(k)))
        })
        .collect()
}
