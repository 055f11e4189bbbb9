//! Training checkpoints: everything a later process needs to continue a `fit` and end
//! with the same weights as a run that was never interrupted.
//!
//! A checkpoint file is a safetensors file with the weights (`layers.{i}.kernel`,
//! `layers.{i}.bias`), the optimizer's slot tensors (`optimizer.{k}`) and, in the
//! metadata, the finished epoch count, the optimizer's step count, the position of
//! the shuffling random-number stream, the history and the settings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::config::ExperimentConfig;
use crate::history::History;
use crate::optimizer::OptimizerState;
use crate::output::{OutputError, write_atomic};
use crate::sequential::Sequential;

/// The value of the `format` metadata key of a checkpoint file.
pub const CHECKPOINT_FORMAT: &str = "outrange-checkpoint";

/// The state of a `fit` after a finished epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Epochs finished.
    pub epoch: usize,
    /// The parameter tensors, in the order layers visit them.
    pub parameters: Vec<Vec<f32>>,
    /// The optimizer's state.
    pub optimizer: OptimizerState,
    /// The position of the shuffling random-number stream, in 32-bit words.
    pub shuffle_word_pos: u128,
    /// The history of the finished epochs.
    pub history: History,
}

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Write(#[from] OutputError),
    #[error("cannot read the checkpoint {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid checkpoint: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

impl Checkpoint {
    /// Writes the checkpoint of `model` (for its tensor names and shapes) and the run's
    /// settings to `path`, atomically.
    pub fn save(
        &self,
        path: &Path,
        model: &Sequential,
        config: &ExperimentConfig,
    ) -> Result<(), CheckpointError> {
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        let shapes = model
            .layers()
            .iter()
            .enumerate()
            .flat_map(|(index, layer)| {
                layer
                    .parameters()
                    .into_iter()
                    .map(move |tensor| (format!("layers.{index}.{}", tensor.name), tensor.shape))
            });
        for ((name, shape), values) in shapes.zip(&self.parameters) {
            tensors.push((name, shape, to_bytes(values)));
        }
        for (index, slot) in self.optimizer.slots.iter().enumerate() {
            tensors.push((
                format!("optimizer.{index}"),
                vec![slot.len()],
                to_bytes(slot),
            ));
        }

        let metadata = HashMap::from([
            ("format".to_string(), CHECKPOINT_FORMAT.to_string()),
            ("epoch".to_string(), self.epoch.to_string()),
            (
                "iterations".to_string(),
                self.optimizer.iterations.to_string(),
            ),
            ("slots".to_string(), self.optimizer.slots.len().to_string()),
            (
                "shuffle_word_pos".to_string(),
                self.shuffle_word_pos.to_string(),
            ),
            (
                "history".to_string(),
                serde_json::to_string(&self.history).expect("a history serializes"),
            ),
            (
                "config".to_string(),
                serde_json::to_string(config).expect("settings serialize"),
            ),
        ]);
        let views = tensors.iter().map(|(name, shape, bytes)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), bytes)
                    .expect("the byte count matches the shape"),
            )
        });
        let bytes = safetensors::serialize(views, Some(metadata))
            .expect("f32 tensors and string metadata serialize");
        write_atomic(path, &bytes)?;
        Ok(())
    }

    /// Reads a checkpoint and the settings of its run.
    pub fn load(path: &Path) -> Result<(Checkpoint, ExperimentConfig), CheckpointError> {
        let invalid = |reason: String| CheckpointError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file = SafeTensors::deserialize(&bytes).map_err(|error| invalid(error.to_string()))?;
        let (_, header) =
            SafeTensors::read_metadata(&bytes).map_err(|error| invalid(error.to_string()))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        if metadata.get("format").map(String::as_str) != Some(CHECKPOINT_FORMAT) {
            return Err(invalid(format!(
                "the metadata has no format {CHECKPOINT_FORMAT:?}"
            )));
        }

        let field = |key: &str| {
            metadata
                .get(key)
                .cloned()
                .ok_or_else(|| invalid(format!("the metadata has no {key:?}")))
        };
        let number = |key: &str| -> Result<u128, CheckpointError> {
            field(key)?
                .parse()
                .map_err(|_| invalid(format!("{key:?} is not a whole number")))
        };
        let config: ExperimentConfig = serde_json::from_str(&field("config")?)
            .map_err(|error| invalid(format!("config: {error}")))?;
        let history: History = serde_json::from_str(&field("history")?)
            .map_err(|error| invalid(format!("history: {error}")))?;

        let read = |name: &str| -> Result<Vec<f32>, CheckpointError> {
            let view = file
                .tensor(name)
                .map_err(|_| invalid(format!("the tensor {name:?} is missing")))?;
            if view.dtype() != Dtype::F32 {
                return Err(invalid(format!("the tensor {name:?} is not F32")));
            }
            Ok(view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        };
        let mut layer_names: Vec<&str> = file
            .names()
            .into_iter()
            .filter(|name| name.starts_with("layers."))
            .collect();
        layer_names.sort_by_key(|name| tensor_order(name));
        let parameters = layer_names
            .iter()
            .map(|name| read(name))
            .collect::<Result<Vec<_>, _>>()?;
        let slots = (0..number("slots")? as usize)
            .map(|index| read(&format!("optimizer.{index}")))
            .collect::<Result<Vec<_>, _>>()?;

        let checkpoint = Checkpoint {
            epoch: number("epoch")? as usize,
            parameters,
            optimizer: OptimizerState {
                iterations: number("iterations")? as u64,
                slots,
            },
            shuffle_word_pos: number("shuffle_word_pos")?,
            history,
        };
        Ok((checkpoint, config))
    }
}

/// Orders `layers.{i}.kernel` before `layers.{i}.bias`, and layer `i` before `i + 1`.
fn tensor_order(name: &str) -> (usize, u8) {
    let mut parts = name.split('.').skip(1);
    let index = parts
        .next()
        .and_then(|part| part.parse().ok())
        .unwrap_or(usize::MAX);
    let kind = if parts.next() == Some("kernel") { 0 } else { 1 };
    (index, kind)
}

fn to_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}
