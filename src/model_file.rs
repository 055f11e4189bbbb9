//! Model files: the weights as named safetensors tensors, with the architecture, scaling
//! and training settings in the file's metadata. Loading one never runs code.
//!
//! Tensors are `layers.{i}.kernel` with shape (inputs, units) and `layers.{i}.bias` with
//! shape (units,), f32, for each layer `i` from 0. Metadata keys: `format`
//! (`outrange-model`), `format_version`, `outrange_version`, `architecture` (JSON: the
//! input width and each layer's settings), `inputs` and `target` (column names),
//! `scaling` and `config` (JSON, when known).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensorError, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;
use crate::layer::LayerConfig;
use crate::output::{OutputError, write_atomic};
use crate::scaling::Scaling;
use crate::sequential::Sequential;

/// The value of the `format` metadata key.
pub const FORMAT_NAME: &str = "outrange-model";
/// The newest format version this build reads and the one it writes.
pub const FORMAT_VERSION: u32 = 1;

/// What a model file stores beside the weights.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The input column names, in order.
    pub input_names: Vec<String>,
    /// The target column name.
    pub target_name: String,
    /// The scaling the model was trained with; predictions are unscaled with it.
    pub scaling: Option<Scaling>,
    /// The settings the model was trained with.
    pub config: Option<ExperimentConfig>,
}

/// The architecture as stored in the metadata.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Architecture {
    input_units: usize,
    layers: Vec<LayerConfig>,
}

/// Why a model file could not be written or read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("cannot read the model file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] OutputError),
    #[error("{} is not a valid safetensors file ({reason}); it may be truncated or of another format", path.display())]
    NotSafetensors { path: PathBuf, reason: String },
    #[error("{} is a safetensors file but not an outrange model: the metadata has no format {FORMAT_NAME:?}", path.display())]
    NotOutrange { path: PathBuf },
    #[error("{} has model format version {version}, but this outrange reads versions up to {FORMAT_VERSION}; update outrange", path.display())]
    NewerFormat { path: PathBuf, version: String },
    #[error("{} has invalid metadata {key:?}: {reason}", path.display())]
    InvalidMetadata {
        path: PathBuf,
        key: &'static str,
        reason: String,
    },
    #[error("{} is missing the tensor {name:?} that its architecture needs", path.display())]
    MissingTensor { path: PathBuf, name: String },
    #[error("{} has tensors that its architecture does not use: {names}", path.display())]
    ExtraTensors { path: PathBuf, names: String },
    #[error("{}: tensor {name:?} has shape {actual:?} and dtype {dtype}, but the architecture needs shape {expected:?} and F32", path.display())]
    TensorShape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
        dtype: String,
    },
    #[error("{}: the architecture is invalid: {reason}", path.display())]
    InvalidArchitecture { path: PathBuf, reason: String },
}

impl Sequential {
    /// Saves the weights and `info` to `path` as a safetensors file, atomically.
    pub fn save(&self, path: &Path, info: &ModelInfo) -> Result<(), ModelFileError> {
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (index, layer) in self.layers().iter().enumerate() {
            for tensor in layer.parameters() {
                let bytes = tensor
                    .values
                    .iter()
                    .flat_map(|value| value.to_le_bytes())
                    .collect();
                tensors.push((
                    format!("layers.{index}.{}", tensor.name),
                    tensor.shape.clone(),
                    bytes,
                ));
            }
        }
        let views = tensors.iter().map(|(name, shape, bytes)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
                .expect("the byte count matches the shape");
            (name.clone(), view)
        });

        let bytes = safetensors::serialize(views, Some(self.metadata(info)))
            .expect("f32 tensors and string metadata serialize");
        write_atomic(path, &bytes)?;
        Ok(())
    }

    fn metadata(&self, info: &ModelInfo) -> HashMap<String, String> {
        let architecture = Architecture {
            input_units: self.input_units(),
            layers: self.layer_configs(),
        };

        let mut metadata = HashMap::from([
            ("format".to_string(), FORMAT_NAME.to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            (
                "outrange_version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            ("architecture".to_string(), to_json(&architecture)),
            ("inputs".to_string(), to_json(&info.input_names)),
            ("target".to_string(), info.target_name.clone()),
        ]);
        if let Some(scaling) = &info.scaling {
            metadata.insert("scaling".to_string(), to_json(scaling));
        }
        if let Some(config) = &info.config {
            metadata.insert("config".to_string(), to_json(config));
        }
        metadata
    }

    /// Loads a model saved by [`Sequential::save`], checking the format, the
    /// architecture and every tensor's name, dtype and shape. Returns the model, built
    /// and ready to predict, and what the file stores beside the weights.
    pub fn load(path: &Path) -> Result<(Sequential, ModelInfo), ModelFileError> {
        let bytes = std::fs::read(path).map_err(|source| ModelFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Sequential::load_bytes(&bytes, path)
    }

    /// Loads a model from the bytes of a model file, with the same checks as
    /// [`Sequential::load`]. `path` only names the file in errors.
    pub fn load_bytes(
        bytes: &[u8],
        path: &Path,
    ) -> Result<(Sequential, ModelInfo), ModelFileError> {
        let file =
            SafeTensors::deserialize(bytes).map_err(|error| ModelFileError::NotSafetensors {
                path: path.to_path_buf(),
                reason: describe(&error),
            })?;
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|error| ModelFileError::NotSafetensors {
                path: path.to_path_buf(),
                reason: describe(&error),
            })?;
        let metadata = header.metadata().clone().unwrap_or_default();

        check_format(path, &metadata)?;
        let info = read_info(path, &metadata)?;
        let architecture: Architecture = parse_metadata(path, &metadata, "architecture")?
            .ok_or_else(|| invalid(path, "architecture", "the key is missing"))?;

        check_parameter_count(path, &architecture, bytes.len())?;

        let mut model = Sequential::from_configs(architecture.input_units, &architecture.layers);
        model
            .build(0)
            .map_err(|error| ModelFileError::InvalidArchitecture {
                path: path.to_path_buf(),
                reason: error.to_string(),
            })?;
        copy_tensors(path, &file, &mut model)?;
        Ok((model, info))
    }
}

/// Formats a metadata value, which safetensors stores as a string, as JSON.
fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("model metadata serializes to JSON")
}

fn describe(error: &SafeTensorError) -> String {
    match error {
        SafeTensorError::HeaderTooSmall
        | SafeTensorError::InvalidHeaderLength
        | SafeTensorError::MetadataIncompleteBuffer => {
            "the header or the data is cut short".to_string()
        }
        other => other.to_string(),
    }
}

fn invalid(path: &Path, key: &'static str, reason: impl Into<String>) -> ModelFileError {
    ModelFileError::InvalidMetadata {
        path: path.to_path_buf(),
        key,
        reason: reason.into(),
    }
}

fn check_format(path: &Path, metadata: &HashMap<String, String>) -> Result<(), ModelFileError> {
    if metadata.get("format").map(String::as_str) != Some(FORMAT_NAME) {
        return Err(ModelFileError::NotOutrange {
            path: path.to_path_buf(),
        });
    }
    let version = metadata
        .get("format_version")
        .ok_or_else(|| invalid(path, "format_version", "the key is missing"))?;
    match version.parse::<u32>() {
        Ok(number) if number <= FORMAT_VERSION => Ok(()),
        Ok(_) => Err(ModelFileError::NewerFormat {
            path: path.to_path_buf(),
            version: version.clone(),
        }),
        Err(_) => Err(invalid(
            path,
            "format_version",
            format!("{version:?} is not a whole number"),
        )),
    }
}

fn parse_metadata<T: serde::de::DeserializeOwned>(
    path: &Path,
    metadata: &HashMap<String, String>,
    key: &'static str,
) -> Result<Option<T>, ModelFileError> {
    let Some(text) = metadata.get(key) else {
        return Ok(None);
    };
    serde_json::from_str(text).map(Some).map_err(|error| {
        if key == "architecture" {
            ModelFileError::InvalidArchitecture {
                path: path.to_path_buf(),
                reason: error.to_string(),
            }
        } else {
            invalid(path, key, error.to_string())
        }
    })
}

fn read_info(path: &Path, metadata: &HashMap<String, String>) -> Result<ModelInfo, ModelFileError> {
    Ok(ModelInfo {
        input_names: parse_metadata(path, metadata, "inputs")?.unwrap_or_default(),
        target_name: metadata.get("target").cloned().unwrap_or_default(),
        scaling: parse_metadata(path, metadata, "scaling")?,
        config: parse_metadata(path, metadata, "config")?,
    })
}

/// Rejects an architecture with more parameters than a file of `file_length` bytes can
/// store at 4 bytes each. Building a model allocates its parameters before the tensors
/// are checked, so without this a damaged architecture could request any amount of memory.
fn check_parameter_count(
    path: &Path,
    architecture: &Architecture,
    file_length: usize,
) -> Result<(), ModelFileError> {
    let max_parameters = file_length / 4;
    let mut inputs = architecture.input_units;
    let mut total: usize = 0;

    for (index, layer) in architecture.layers.iter().enumerate() {
        let units = layer.output_units();
        let sum = layer
            .parameter_count(inputs)
            .and_then(|count| total.checked_add(count));
        match sum {
            Some(sum) if sum <= max_parameters => total = sum,
            _ => {
                return Err(ModelFileError::InvalidArchitecture {
                    path: path.to_path_buf(),
                    reason: format!(
                        "layer {index} ({inputs} inputs, {units} units) brings the parameter \
                         count above {max_parameters}, the most that a file of {file_length} \
                         bytes can store"
                    ),
                });
            }
        }
        inputs = units;
    }
    Ok(())
}

fn copy_tensors(
    path: &Path,
    file: &SafeTensors<'_>,
    model: &mut Sequential,
) -> Result<(), ModelFileError> {
    let mut unused: BTreeSet<String> = file.names().into_iter().map(String::from).collect();
    for (index, layer) in model.layers_mut().iter_mut().enumerate() {
        let expected: Vec<(String, &'static str, Vec<usize>)> = layer
            .parameters()
            .iter()
            .map(|tensor| {
                (
                    format!("layers.{index}.{}", tensor.name),
                    tensor.name,
                    tensor.shape.clone(),
                )
            })
            .collect();

        for (name, parameter, shape) in expected {
            let view = file
                .tensor(&name)
                .map_err(|_| ModelFileError::MissingTensor {
                    path: path.to_path_buf(),
                    name: name.clone(),
                })?;
            if view.dtype() != Dtype::F32 || view.shape() != shape.as_slice() {
                return Err(ModelFileError::TensorShape {
                    path: path.to_path_buf(),
                    name,
                    expected: shape,
                    actual: view.shape().to_vec(),
                    dtype: format!("{:?}", view.dtype()),
                });
            }

            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            layer.set_parameter(parameter, &values).map_err(|reason| {
                ModelFileError::InvalidArchitecture {
                    path: path.to_path_buf(),
                    reason,
                }
            })?;
            unused.remove(&name);
        }
    }

    if unused.is_empty() {
        Ok(())
    } else {
        Err(ModelFileError::ExtraTensors {
            path: path.to_path_buf(),
            names: unused.into_iter().collect::<Vec<_>>().join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serializes a model file with a valid format and the given architecture, containing
    /// one 1×1 kernel and one bias of one value.
    fn file_with_architecture(architecture: &str) -> Vec<u8> {
        let values = 1.0_f32.to_le_bytes();
        let tensors =
            [("layers.0.kernel", vec![1, 1]), ("layers.0.bias", vec![1])].map(|(name, shape)| {
                let view = TensorView::new(Dtype::F32, shape, &values).unwrap();
                (name.to_string(), view)
            });
        let metadata = HashMap::from([
            ("format".to_string(), FORMAT_NAME.to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            ("architecture".to_string(), architecture.to_string()),
        ]);
        safetensors::serialize(tensors, Some(metadata)).unwrap()
    }

    fn dense_architecture(input_units: usize, units: usize) -> String {
        format!(
            r#"{{"input_units":{input_units},"layers":[{{"class_name":"Dense","units":{units},"activation":"linear","use_bias":true,"kernel_initializer":"glorot_uniform","bias_initializer":"zeros"}}]}}"#
        )
    }

    #[test]
    fn load_bytes_accepts_small_architecture() {
        let bytes = file_with_architecture(&dense_architecture(1, 1));
        let (model, _) = Sequential::load_bytes(&bytes, Path::new("small.safetensors")).unwrap();
        assert_eq!(model.count_params(), 2);
    }

    /// Architectures whose parameters would not fit in memory, or whose count overflows
    /// `usize`, used to abort or panic while the model was built.
    #[test]
    fn load_bytes_rejects_oversized_architecture() {
        let cases = [
            (1_000_000_000_000, 1),
            (100_000, 100_000),
            (1 << 40, 1 << 40),
        ];
        for (input_units, units) in cases {
            let bytes = file_with_architecture(&dense_architecture(input_units, units));
            let error = Sequential::load_bytes(&bytes, Path::new("big.safetensors")).unwrap_err();

            assert!(
                matches!(error, ModelFileError::InvalidArchitecture { .. }),
                "{input_units}x{units}: {error:?}"
            );
            let message = error.to_string();
            assert!(
                message.contains(&format!("layer 0 ({input_units} inputs, {units} units)")),
                "{message}"
            );
        }
    }
}
