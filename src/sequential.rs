//! The `Sequential` model: a stack of layers trained with one loss and one optimizer.

use std::fmt;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::callback::Callback;
use crate::history::{EpochRecord, History};
use crate::layer::{Layer, LayerConfig};
use crate::loss::Loss;
use crate::matrix::Matrix;
use crate::optimizer::{InvalidOptimizerSetting, Optimizer, OptimizerConfig};

/// Rows per forward pass in [`Sequential::predict`] and [`Sequential::evaluate`]; each
/// row's result does not depend on it.
const PREDICT_CHUNK_ROWS: usize = 1024;

/// The random-number stream that initializes weights; shuffling uses its own stream.
const INIT_STREAM: u64 = 0;
const SHUFFLE_STREAM: u64 = 1;

/// A linear stack of layers, like `keras.Sequential`.
///
/// Build it with [`Sequential::new`] and [`Sequential::add`], initialize the weights
/// with [`Sequential::build`], choose a loss and optimizer with
/// [`Sequential::compile`], then call [`Sequential::fit`], [`Sequential::predict`] and
/// [`Sequential::evaluate`].
///
/// ```
/// use outrange::{Activation, Dense, Loss, Matrix, OptimizerConfig, Sequential};
///
/// let mut model = Sequential::new(1);
/// model.add(Dense::new(8).with_activation(Activation::Tanh));
/// model.add(Dense::new(1));
/// model.build(42).unwrap();
/// model.compile(OptimizerConfig::SGD, Loss::MeanSquaredError).unwrap();
///
/// let x = Matrix::column(vec![-1.0, 0.0, 1.0]);
/// let y = Matrix::column(vec![1.0, 0.0, 1.0]);
/// let history = model.fit(&x, &y, &outrange::FitOptions::default(), &mut ()).unwrap();
/// assert_eq!(history.epochs.len(), 1);
/// ```
#[derive(Debug)]
pub struct Sequential {
    input_units: usize,
    layers: Vec<Box<dyn Layer>>,
    built: bool,
    compiled: Option<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    loss: Loss,
    optimizer: Box<dyn Optimizer>,
}

/// The settings of [`Sequential::fit`], with Keras's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Passes over the training data; default 1. Zero trains nothing.
    pub epochs: usize,
    /// Rows per step; default 32. The last batch of an epoch may be smaller, and a
    /// batch size larger than the data gives one batch of all rows.
    pub batch_size: usize,
    /// Whether the rows are shuffled before each epoch; default true.
    pub shuffle: bool,
    /// The seed of the shuffling order; default 0.
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            seed: 0,
        }
    }
}

/// Why a model could not be built, compiled or trained.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model has no layers.
    #[error("the model has no layers; add at least one layer before building it")]
    NoLayers,
    /// A layer has zero units, or the model zero inputs.
    #[error("layer {index} ({class_name}) has 0 units; every layer needs at least 1")]
    ZeroUnits {
        index: usize,
        class_name: &'static str,
    },
    /// The model has zero inputs.
    #[error("the model has 0 inputs; it needs at least 1")]
    ZeroInputs,
    /// The weights were used before [`Sequential::build`].
    #[error("the model is not built; call build(seed) first")]
    NotBuilt,
    /// Training started before [`Sequential::compile`].
    #[error("the model is not compiled; call compile(optimizer, loss) first")]
    NotCompiled,
    /// An optimizer setting is invalid.
    #[error(transparent)]
    InvalidOptimizer(#[from] InvalidOptimizerSetting),
    /// The batch size is zero.
    #[error("invalid batch_size 0: it must be at least 1, such as 32")]
    ZeroBatchSize,
    /// Data whose width does not match the model.
    #[error("{what} has {actual} columns, but the model has {expected}")]
    ShapeMismatch {
        what: &'static str,
        expected: usize,
        actual: usize,
    },
    /// Inputs and targets with different row counts.
    #[error("x has {x_rows} rows but y has {y_rows}; they need one row each per sample")]
    RowMismatch { x_rows: usize, y_rows: usize },
    /// No training rows.
    #[error("there are no training rows")]
    NoRows,
    /// The loss became NaN or infinite; training stopped at once.
    #[error(
        "the loss became {loss} at epoch {epoch}, step {step}; training stopped. \
         Try a lower learning rate, or scale the inputs and targets"
    )]
    NonFiniteLoss {
        epoch: usize,
        step: usize,
        loss: f64,
        /// The epochs that finished before the loss diverged.
        history: History,
    },
}

impl Sequential {
    /// Creates an empty model whose inputs have `input_units` values per row, like
    /// `keras.Input(shape=(input_units,))`.
    pub fn new(input_units: usize) -> Self {
        Sequential {
            input_units,
            layers: Vec::new(),
            built: false,
            compiled: None,
        }
    }

    /// Appends a layer. Adding a layer discards any earlier build.
    pub fn add(&mut self, layer: impl Layer + 'static) -> &mut Self {
        self.layers.push(Box::new(layer));
        self.built = false;
        self
    }

    /// Creates a model from layer settings, as saved with [`Sequential::layer_configs`].
    pub fn from_configs(input_units: usize, configs: &[LayerConfig]) -> Self {
        Sequential {
            input_units,
            layers: configs.iter().map(LayerConfig::create).collect(),
            built: false,
            compiled: None,
        }
    }

    /// Creates every layer's parameters and initializes them from `seed`.
    pub fn build(&mut self, seed: u64) -> Result<(), ModelError> {
        if self.layers.is_empty() {
            return Err(ModelError::NoLayers);
        }
        if self.input_units == 0 {
            return Err(ModelError::ZeroInputs);
        }

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(INIT_STREAM);
        let mut inputs = self.input_units;
        for (index, layer) in self.layers.iter_mut().enumerate() {
            if layer.output_units() == 0 {
                return Err(ModelError::ZeroUnits {
                    index,
                    class_name: layer.class_name(),
                });
            }
            layer.build(inputs, &mut rng);
            inputs = layer.output_units();
        }

        self.built = true;
        Ok(())
    }

    /// Sets the loss and the optimizer, like Keras's `compile`. Resets the optimizer state.
    pub fn compile(&mut self, optimizer: OptimizerConfig, loss: Loss) -> Result<(), ModelError> {
        let optimizer = optimizer.build()?;
        self.compiled = Some(Compiled { loss, optimizer });
        Ok(())
    }

    /// The number of values per input row.
    pub fn input_units(&self) -> usize {
        self.input_units
    }

    /// The number of values per output row.
    pub fn output_units(&self) -> usize {
        self.layers.last().map_or(0, |layer| layer.output_units())
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// The layers, in order, mutable.
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer>] {
        &mut self.layers
    }

    /// The settings of every layer, in order.
    pub fn layer_configs(&self) -> Vec<LayerConfig> {
        self.layers.iter().map(|layer| layer.config()).collect()
    }

    /// The loss set by [`Sequential::compile`].
    pub fn loss(&self) -> Option<Loss> {
        self.compiled.as_ref().map(|compiled| compiled.loss)
    }

    /// The optimizer settings set by [`Sequential::compile`].
    pub fn optimizer_config(&self) -> Option<OptimizerConfig> {
        self.compiled
            .as_ref()
            .map(|compiled| compiled.optimizer.config())
    }

    /// The total number of parameters.
    pub fn count_params(&self) -> usize {
        self.layers
            .iter()
            .flat_map(|layer| layer.parameters())
            .map(|tensor| tensor.values.len())
            .sum()
    }

    /// Trains the model on `x` (rows × inputs) and `y` (rows × outputs).
    ///
    /// Each epoch shuffles the rows (when `options.shuffle` is set) and takes one
    /// optimizer step per batch, the last batch being smaller when the row count is
    /// not a multiple of the batch size. The same seed, data and settings give
    /// bit-identical weights. Stops at once, with [`ModelError::NonFiniteLoss`], when a
    /// batch's loss is NaN or infinite.
    pub fn fit(
        &mut self,
        x: &Matrix,
        y: &Matrix,
        options: &FitOptions,
        callback: &mut dyn Callback,
    ) -> Result<History, ModelError> {
        self.check_data(x, Some(y))?;
        if options.batch_size == 0 {
            return Err(ModelError::ZeroBatchSize);
        }
        let Some(compiled) = self.compiled.as_mut() else {
            return Err(ModelError::NotCompiled);
        };

        let rows = x.rows();
        let batch_size = options.batch_size.min(rows);
        let steps_per_epoch = rows.div_ceil(batch_size);
        let mut workspace = Workspace::new(&mut self.layers, x.cols(), y.cols(), batch_size);
        let lengths = parameter_lengths(&mut self.layers);
        compiled.optimizer.build(&lengths);

        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        rng.set_stream(SHUFFLE_STREAM);
        let mut order: Vec<usize> = (0..rows).collect();
        let mut history = History::default();
        callback.on_train_begin(options.epochs, steps_per_epoch);

        for epoch in 1..=options.epochs {
            callback.on_epoch_begin(epoch);
            let started = Instant::now();
            if options.shuffle {
                order.shuffle(&mut rng);
            }

            let mut loss_sum = 0.0;
            for (step_index, batch_rows) in order.chunks(batch_size).enumerate() {
                let step = step_index + 1;
                workspace.gather(x, y, batch_rows);
                let batch_loss =
                    train_step(&mut self.layers, compiled, &mut workspace, batch_rows.len());
                if !batch_loss.is_finite() {
                    return Err(ModelError::NonFiniteLoss {
                        epoch,
                        step,
                        loss: batch_loss,
                        history,
                    });
                }

                loss_sum += batch_loss;
                let seen = (step_index * batch_size + batch_rows.len()) * y.cols();
                callback.on_train_batch_end(epoch, step, loss_sum / seen as f64);
                if callback.stop_requested() {
                    break;
                }
            }

            let record = EpochRecord {
                epoch,
                loss: loss_sum / (rows * y.cols()) as f64,
                seconds: started.elapsed().as_secs_f64(),
            };
            history.epochs.push(record);
            callback.on_epoch_end(&record);
            if callback.stop_requested() {
                break;
            }
        }

        callback.on_train_end(&history);
        Ok(history)
    }

    /// Returns the model's outputs for every row of `x`, like Keras's `predict`.
    pub fn predict(&mut self, x: &Matrix) -> Result<Matrix, ModelError> {
        self.check_data(x, None)?;

        let outputs = self.output_units();
        let mut result = Matrix::zeros(x.rows(), outputs);
        let chunk_rows = PREDICT_CHUNK_ROWS.min(x.rows()).max(1);
        for layer in &mut self.layers {
            layer.reserve(chunk_rows);
        }

        let inputs = x.as_slice().chunks(chunk_rows * x.cols());
        let targets = result.as_mut_slice().chunks_mut(chunk_rows * outputs);
        for (input, target) in inputs.zip(targets) {
            let batch = input.len() / x.cols();
            forward(&mut self.layers, input, batch);
            target.copy_from_slice(self.layers[self.layers.len() - 1].output(batch));
        }
        Ok(result)
    }

    /// Returns the mean loss over every element of `x`'s predictions against `y`,
    /// accumulated in f64, like Keras's `evaluate`.
    pub fn evaluate(&mut self, x: &Matrix, y: &Matrix) -> Result<f64, ModelError> {
        self.check_data(x, Some(y))?;
        let loss = self.loss().ok_or(ModelError::NotCompiled)?;
        let predictions = self.predict(x)?;
        Ok(loss.sum(predictions.as_slice(), y.as_slice()) / y.as_slice().len() as f64)
    }

    fn check_data(&self, x: &Matrix, y: Option<&Matrix>) -> Result<(), ModelError> {
        if !self.built {
            return Err(ModelError::NotBuilt);
        }
        if x.cols() != self.input_units {
            return Err(ModelError::ShapeMismatch {
                what: "x",
                expected: self.input_units,
                actual: x.cols(),
            });
        }
        let Some(y) = y else { return Ok(()) };

        if y.cols() != self.output_units() {
            return Err(ModelError::ShapeMismatch {
                what: "y",
                expected: self.output_units(),
                actual: y.cols(),
            });
        }
        if x.rows() != y.rows() {
            return Err(ModelError::RowMismatch {
                x_rows: x.rows(),
                y_rows: y.rows(),
            });
        }
        if x.rows() == 0 {
            return Err(ModelError::NoRows);
        }
        Ok(())
    }
}

/// Buffers for one batch, allocated once per `fit` so that steps allocate nothing.
struct Workspace {
    x: Vec<f32>,
    y: Vec<f32>,
    grad: Vec<f32>,
    grad_next: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

impl Workspace {
    fn new(layers: &mut [Box<dyn Layer>], inputs: usize, outputs: usize, max_batch: usize) -> Self {
        let mut widest = inputs.max(outputs);
        for layer in layers.iter_mut() {
            layer.reserve(max_batch);
            widest = widest.max(layer.output_units());
        }
        Workspace {
            x: vec![0.0; max_batch * inputs],
            y: vec![0.0; max_batch * outputs],
            grad: vec![0.0; max_batch * widest],
            grad_next: vec![0.0; max_batch * widest],
            inputs,
            outputs,
        }
    }

    /// Copies the rows listed in `rows` into the batch buffers.
    fn gather(&mut self, x: &Matrix, y: &Matrix, rows: &[usize]) {
        gather_rows(&mut self.x, x, rows);
        gather_rows(&mut self.y, y, rows);
    }
}

/// Copies the rows of `source` listed in `rows` into consecutive rows of `target`.
fn gather_rows(target: &mut [f32], source: &Matrix, rows: &[usize]) {
    // One column takes an element loop, because a copy call per value costs more than
    // the copy itself.
    if source.cols() == 1 {
        let values = source.as_slice();
        for (value, &row) in target.iter_mut().zip(rows) {
            *value = values[row];
        }
        return;
    }

    for (target_row, &row) in target.chunks_exact_mut(source.cols()).zip(rows) {
        target_row.copy_from_slice(source.row(row));
    }
}

fn parameter_lengths(layers: &mut [Box<dyn Layer>]) -> Vec<usize> {
    let mut lengths = Vec::new();
    for layer in layers {
        layer.visit_parameters(&mut |values, _| lengths.push(values.len()));
    }
    lengths
}

/// Runs every layer forward on `batch` rows of `input`.
fn forward(layers: &mut [Box<dyn Layer>], input: &[f32], batch: usize) {
    for index in 0..layers.len() {
        let (before, rest) = layers.split_at_mut(index);
        let layer_input = match before.last() {
            Some(previous) => previous.output(batch),
            None => input,
        };
        rest[0].forward(layer_input, batch);
    }
}

/// Runs one optimizer step on the batch in `workspace` and returns the sum of its
/// element losses.
fn train_step(
    layers: &mut [Box<dyn Layer>],
    compiled: &mut Compiled,
    workspace: &mut Workspace,
    batch: usize,
) -> f64 {
    let x = &workspace.x[..batch * workspace.inputs];
    forward(layers, x, batch);

    let outputs = workspace.outputs;
    let predictions = layers[layers.len() - 1].output(batch);
    let loss_sum = compiled.loss.sum_and_gradient(
        predictions,
        &workspace.y[..batch * outputs],
        &mut workspace.grad[..batch * outputs],
    );
    if !loss_sum.is_finite() {
        return loss_sum;
    }

    for index in (0..layers.len()).rev() {
        let (before, rest) = layers.split_at_mut(index);
        let layer = &mut rest[0];
        let grad_output = &workspace.grad[..batch * layer.output_units()];
        match before.last() {
            Some(previous) => {
                let width = previous.output_units();
                let grad_input = &mut workspace.grad_next[..batch * width];
                layer.backward(previous.output(batch), grad_output, Some(grad_input), batch);
                std::mem::swap(&mut workspace.grad, &mut workspace.grad_next);
            }
            None => layer.backward(x, grad_output, None, batch),
        }
    }

    let optimizer = &mut compiled.optimizer;
    optimizer.begin_step();
    let mut index = 0;
    for layer in layers.iter_mut() {
        layer.visit_parameters(&mut |values, gradient| {
            optimizer.update(index, values, gradient);
            index += 1;
        });
    }
    loss_sum
}

impl fmt::Display for Sequential {
    /// Formats the layer table with output shapes and parameter counts, like Keras's
    /// `summary()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 3]> = self
            .layers
            .iter()
            .enumerate()
            .map(|(index, layer)| {
                let params: usize = layer.parameters().iter().map(|t| t.values.len()).sum();
                [
                    format!(
                        "dense_{index} ({}, {})",
                        layer.class_name(),
                        activation_name(layer.as_ref())
                    ),
                    format!("(None, {})", layer.output_units()),
                    params.to_string(),
                ]
            })
            .collect();

        let headers = ["Layer (type)", "Output Shape", "Param #"];
        let widths: Vec<usize> = (0..3)
            .map(|c| {
                rows.iter()
                    .map(|r| r[c].chars().count())
                    .chain([headers[c].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let rule = format!(
            "+-{}-+-{}-+-{}-+",
            "-".repeat(widths[0]),
            "-".repeat(widths[1]),
            "-".repeat(widths[2])
        );

        writeln!(f, "Model: \"sequential\" ({} inputs)", self.input_units)?;
        writeln!(f, "{rule}")?;
        writeln!(
            f,
            "| {:<w0$} | {:<w1$} | {:>w2$} |",
            headers[0],
            headers[1],
            headers[2],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )?;
        writeln!(f, "{rule}")?;
        for row in &rows {
            writeln!(
                f,
                "| {:<w0$} | {:<w1$} | {:>w2$} |",
                row[0],
                row[1],
                row[2],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            )?;
        }
        writeln!(f, "{rule}")?;

        let total = self.count_params();
        writeln!(f, " Total params: {total} ({})", format_bytes(total * 4))?;
        writeln!(
            f,
            " Trainable params: {total} ({})",
            format_bytes(total * 4)
        )?;
        write!(f, " Non-trainable params: 0 (0 B)")
    }
}

fn activation_name(layer: &dyn Layer) -> String {
    match layer.config() {
        LayerConfig::Dense(config) => config.activation.to_string(),
    }
}

fn format_bytes(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.2} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.2} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}
