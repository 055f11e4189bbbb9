//! The interface that every layer of a [`Sequential`](crate::Sequential) model implements.

use std::any::Any;
use std::fmt;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dense::DenseConfig;

/// A trainable layer: forward pass, backward pass, parameters and their gradients.
///
/// Inputs and outputs are row-major matrices of `batch` rows. A layer keeps its own
/// buffers for its output and for what its backward pass needs, sized once by
/// [`Layer::reserve`], so a training step allocates nothing.
pub trait Layer: Any + Send + fmt::Debug {
    /// The layer's type name for summaries, such as `Dense`.
    fn class_name(&self) -> &'static str;

    /// The number of values per row that the layer outputs.
    fn output_units(&self) -> usize;

    /// The number of values per row that the layer takes, once built.
    fn input_units(&self) -> Option<usize>;

    /// Creates the parameters for `input_units` inputs and initializes them from `rng`.
    fn build(&mut self, input_units: usize, rng: &mut ChaCha8Rng);

    /// Sizes the buffers for batches of up to `max_batch` rows.
    fn reserve(&mut self, max_batch: usize);

    /// Computes the output for `batch` rows of `input` and keeps what the backward pass
    /// needs. Returns the output, `batch × output_units` values.
    fn forward(&mut self, input: &[f32], batch: usize) -> &[f32];

    /// The output of the last forward pass.
    fn output(&self, batch: usize) -> &[f32];

    /// Computes the parameter gradients from `grad_output` (the loss's gradient with
    /// respect to this layer's last output) and the `input` of that forward pass.
    /// Writes the gradient with respect to the input into `grad_input` when given.
    fn backward(
        &mut self,
        input: &[f32],
        grad_output: &[f32],
        grad_input: Option<&mut [f32]>,
        batch: usize,
    );

    /// Calls `visit` with each parameter tensor and its gradient, always in the same order.
    fn visit_parameters(&mut self, visit: &mut dyn FnMut(&mut [f32], &[f32]));

    /// The named parameter tensors, for saving and inspection.
    fn parameters(&self) -> Vec<NamedTensor<'_>>;

    /// Replaces the parameter called `name` with `values`.
    fn set_parameter(&mut self, name: &str, values: &[f32]) -> Result<(), String>;

    /// The settings that rebuild this layer.
    fn config(&self) -> LayerConfig;
}

/// A parameter tensor with its name and shape.
#[derive(Debug, Clone)]
pub struct NamedTensor<'a> {
    /// The name, such as `kernel` or `bias`.
    pub name: &'static str,
    /// The shape, such as `[inputs, units]` for a dense kernel and `[units]` for its bias.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub values: &'a [f32],
}

/// The settings of one layer, as saved with a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class_name", deny_unknown_fields)]
pub enum LayerConfig {
    /// A fully connected layer.
    Dense(DenseConfig),
}

impl LayerConfig {
    /// Creates the layer that these settings describe, not yet built.
    pub fn create(&self) -> Box<dyn Layer> {
        match self {
            LayerConfig::Dense(config) => Box::new(config.create()),
        }
    }

    /// Returns the number of values per row that the layer outputs.
    pub fn output_units(&self) -> usize {
        match self {
            LayerConfig::Dense(config) => config.units,
        }
    }

    /// Returns the number of parameters of the layer once built for `input_units`
    /// inputs, or `None` when the count overflows `usize`.
    pub fn parameter_count(&self, input_units: usize) -> Option<usize> {
        match self {
            LayerConfig::Dense(config) => config.parameter_count(input_units),
        }
    }
}
