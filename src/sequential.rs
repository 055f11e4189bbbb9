//! The `Sequential` model: a stack of layers trained with one loss and one optimizer.

use std::fmt;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::callback::Callback;
use crate::checkpoint::Checkpoint;
use crate::history::{EpochRecord, History};
use crate::layer::{Layer, LayerConfig};
use crate::loss::Loss;
use crate::matrix::Matrix;
use crate::optimizer::{InvalidOptimizerSetting, Optimizer, OptimizerConfig};
use crate::shallow::ShallowStep;

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
    /// Stops training when the monitored loss stops improving; default off.
    pub early_stopping: Option<EarlyStopping>,
    /// Passes a [`Checkpoint`] to [`Callback::on_checkpoint`] after every this many
    /// epochs; default never.
    pub checkpoint_every: Option<usize>,
}

/// Early stopping, like Keras's `EarlyStopping` callback monitoring `val_loss` (or
/// `loss` without validation data) with `min_delta` 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    /// Epochs without improvement before training stops.
    pub patience: usize,
    /// Whether the best epoch's weights are put back at the end. Keras's default is
    /// false; outrange's command line turns it on.
    pub restore_best_weights: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            early_stopping: None,
            checkpoint_every: None,
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
    /// A checkpoint that does not fit the model or its optimizer.
    #[error("the checkpoint does not fit this model: {reason}")]
    CheckpointMismatch { reason: String },
    /// The loss became NaN or infinite; training stopped at once.
    #[error(
        "the loss became {loss} at epoch {epoch}, step {step}, so training stopped; \
         a lower learning rate or scaled inputs and targets may help"
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
        self.fit_with_validation(x, y, None, options, callback)
    }

    /// Trains like [`Sequential::fit`], and after each epoch computes the loss on
    /// `validation` (inputs, targets) when given, like Keras's `validation_data`.
    ///
    /// With `options.early_stopping`, training stops once the monitored loss (the
    /// validation loss when there is validation data, else the training loss) has not
    /// improved for `patience` epochs, and the best epoch's weights are restored when
    /// `restore_best_weights` is set. A stop request from the callback ends training
    /// after the current step; the unfinished epoch is not recorded.
    pub fn fit_with_validation(
        &mut self,
        x: &Matrix,
        y: &Matrix,
        validation: Option<(&Matrix, &Matrix)>,
        options: &FitOptions,
        callback: &mut dyn Callback,
    ) -> Result<History, ModelError> {
        self.fit_from(None, x, y, validation, options, callback)
    }

    /// Continues a `fit` from `checkpoint`, taken from a run with the same model,
    /// data and options. Ends with the same weights, bit for bit, as that run would
    /// have without the interruption.
    pub fn resume_fit(
        &mut self,
        checkpoint: &Checkpoint,
        x: &Matrix,
        y: &Matrix,
        validation: Option<(&Matrix, &Matrix)>,
        options: &FitOptions,
        callback: &mut dyn Callback,
    ) -> Result<History, ModelError> {
        self.fit_from(Some(checkpoint), x, y, validation, options, callback)
    }

    fn fit_from(
        &mut self,
        resume: Option<&Checkpoint>,
        x: &Matrix,
        y: &Matrix,
        validation: Option<(&Matrix, &Matrix)>,
        options: &FitOptions,
        callback: &mut dyn Callback,
    ) -> Result<History, ModelError> {
        self.check_data(x, Some(y))?;
        if let Some((val_x, val_y)) = validation {
            self.check_data(val_x, Some(val_y))?;
        }
        if options.batch_size == 0 {
            return Err(ModelError::ZeroBatchSize);
        }
        let Some(compiled) = self.compiled.as_mut() else {
            return Err(ModelError::NotCompiled);
        };

        let batch_size = options.batch_size.min(x.rows());
        let mut workspace = Workspace::new(
            &mut self.layers,
            compiled.loss,
            x.cols(),
            y.cols(),
            batch_size,
        );
        compiled
            .optimizer
            .build(&parameter_lengths(&mut self.layers));
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        rng.set_stream(SHUFFLE_STREAM);
        let mut order: Vec<usize> = Vec::with_capacity(x.rows());
        let mut early_stopping = options.early_stopping.map(EarlyStoppingState::new);
        let mut dead_layers = DeadLayers::new(self.layers.len());
        let mut history = History::default();
        if let Some(checkpoint) = resume {
            self.restore_checkpoint(checkpoint, &mut rng)?;
            history = checkpoint.history.clone();
        }
        let first_epoch = history.epochs.len() + 1;
        let mut best_val_loss = history
            .epochs
            .iter()
            .filter_map(|record| record.val_loss)
            .fold(f64::INFINITY, f64::min);
        callback.on_train_begin(options.epochs, x.rows().div_ceil(batch_size));

        for epoch in first_epoch..=options.epochs {
            callback.on_epoch_begin(epoch);
            let started = Instant::now();
            order.clear();
            order.extend(0..x.rows());
            if options.shuffle {
                order.shuffle(&mut rng);
            }

            let context = EpochContext {
                x,
                y,
                epoch,
                batch_size,
                order: &order,
            };
            let compiled = self.compiled.as_mut().expect("checked above");
            let loss_sum = match run_epoch(
                &mut self.layers,
                compiled,
                &mut workspace,
                &context,
                callback,
            ) {
                EpochEnd::Finished(loss_sum) => loss_sum,
                EpochEnd::Stopped => break,
                EpochEnd::Diverged { step, loss } => {
                    return Err(ModelError::NonFiniteLoss {
                        epoch,
                        step,
                        loss,
                        history,
                    });
                }
            };

            let val_loss = match validation {
                Some((val_x, val_y)) => Some(self.evaluate(val_x, val_y)?),
                None => None,
            };
            let record = EpochRecord {
                epoch,
                loss: loss_sum / (x.rows() * y.cols()) as f64,
                val_loss,
                seconds: started.elapsed().as_secs_f64(),
            };
            history.epochs.push(record);
            callback.on_epoch_end(&record);
            for layer in dead_layers.update(&mut self.layers) {
                callback.on_warning(&format!(
                    "every gradient of layer {layer} has been zero at the end of {} epochs in a row; \
                     its units may be dead (a ReLU that never activates). A lower learning rate or \
                     another activation, such as leaky_relu, may help",
                    DEAD_LAYER_EPOCHS
                ));
            }

            if let Some(every) = options.checkpoint_every {
                if every > 0 && epoch.is_multiple_of(every) {
                    callback.on_checkpoint(&self.checkpoint(&history, &rng));
                }
                if record.val_loss.is_some_and(|loss| loss < best_val_loss) {
                    callback.on_best_epoch(&self.checkpoint(&history, &rng));
                }
            }
            if let Some(loss) = record.val_loss {
                best_val_loss = best_val_loss.min(loss);
            }
            let stop_early = early_stopping
                .as_mut()
                .is_some_and(|state| state.update(&record, &self.layers));
            if stop_early || callback.stop_requested() {
                break;
            }
        }

        if let Some(state) = early_stopping {
            state.restore(&mut self.layers);
        }
        callback.on_train_end(&history);
        Ok(history)
    }

    fn checkpoint(&self, history: &History, rng: &ChaCha8Rng) -> Checkpoint {
        let optimizer = self
            .compiled
            .as_ref()
            .expect("a fitting model is compiled")
            .optimizer
            .state();
        Checkpoint {
            epoch: history.epochs.len(),
            parameters: copy_parameters(&self.layers),
            optimizer,
            shuffle_word_pos: rng.get_word_pos(),
            history: history.clone(),
        }
    }

    fn restore_checkpoint(
        &mut self,
        checkpoint: &Checkpoint,
        rng: &mut ChaCha8Rng,
    ) -> Result<(), ModelError> {
        let mismatch = |reason: String| ModelError::CheckpointMismatch { reason };
        let lengths = parameter_lengths(&mut self.layers);
        let saved: Vec<usize> = checkpoint.parameters.iter().map(Vec::len).collect();
        if saved != lengths {
            return Err(mismatch(format!(
                "its parameter sizes {saved:?} differ from the model's {lengths:?}"
            )));
        }

        let mut tensors = checkpoint.parameters.iter();
        for layer in &mut self.layers {
            layer.visit_parameters(&mut |values, _| {
                values.copy_from_slice(tensors.next().expect("the lengths match"))
            });
        }
        let compiled = self.compiled.as_mut().expect("a fitting model is compiled");
        compiled
            .optimizer
            .set_state(&checkpoint.optimizer)
            .map_err(mismatch)?;
        rng.set_word_pos(checkpoint.shuffle_word_pos);
        Ok(())
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

/// Epochs in a row with every gradient of a layer zero before a warning.
const DEAD_LAYER_EPOCHS: usize = 3;

/// What one epoch trains on.
struct EpochContext<'a> {
    x: &'a Matrix,
    y: &'a Matrix,
    epoch: usize,
    batch_size: usize,
    order: &'a [usize],
}

/// How an epoch ended.
enum EpochEnd {
    /// Every batch was trained; the sum of the element losses.
    Finished(f64),
    /// The callback asked to stop.
    Stopped,
    /// A batch's loss was NaN or infinite.
    Diverged { step: usize, loss: f64 },
}

fn run_epoch(
    layers: &mut [Box<dyn Layer>],
    compiled: &mut Compiled,
    workspace: &mut Workspace,
    context: &EpochContext<'_>,
    callback: &mut dyn Callback,
) -> EpochEnd {
    let mut loss_sum = 0.0;
    let mut seen = 0;
    for (step_index, batch_rows) in context.order.chunks(context.batch_size).enumerate() {
        let step = step_index + 1;
        workspace.gather(context.x, context.y, batch_rows);
        let batch_loss = train_step(layers, compiled, workspace, batch_rows.len());
        if !batch_loss.is_finite() {
            return EpochEnd::Diverged {
                step,
                loss: batch_loss,
            };
        }

        loss_sum += batch_loss;
        seen += batch_rows.len() * context.y.cols();
        callback.on_train_batch_end(context.epoch, step, loss_sum / seen as f64);
        if callback.stop_requested() {
            return EpochEnd::Stopped;
        }
    }
    EpochEnd::Finished(loss_sum)
}

/// The state of early stopping: the best loss so far, its epoch and its weights.
struct EarlyStoppingState {
    options: EarlyStopping,
    best_loss: f64,
    epochs_without_improvement: usize,
    best_weights: Option<Vec<Vec<f32>>>,
}

impl EarlyStoppingState {
    fn new(options: EarlyStopping) -> Self {
        EarlyStoppingState {
            options,
            best_loss: f64::INFINITY,
            epochs_without_improvement: 0,
            best_weights: None,
        }
    }

    /// Records an epoch and returns true when training should stop.
    fn update(&mut self, record: &EpochRecord, layers: &[Box<dyn Layer>]) -> bool {
        let loss = record.val_loss.unwrap_or(record.loss);
        if loss < self.best_loss {
            self.best_loss = loss;
            self.epochs_without_improvement = 0;
            if self.options.restore_best_weights {
                self.best_weights = Some(copy_parameters(layers));
            }
            return false;
        }
        self.epochs_without_improvement += 1;
        self.epochs_without_improvement > self.options.patience
    }

    /// Puts the best epoch's weights back, when they were kept.
    fn restore(self, layers: &mut [Box<dyn Layer>]) {
        let Some(best) = self.best_weights else {
            return;
        };
        let mut tensors = best.into_iter();
        for layer in layers {
            layer.visit_parameters(&mut |values, _| {
                if let Some(saved) = tensors.next() {
                    values.copy_from_slice(&saved);
                }
            });
        }
    }
}

fn copy_parameters(layers: &[Box<dyn Layer>]) -> Vec<Vec<f32>> {
    layers
        .iter()
        .flat_map(|layer| layer.parameters())
        .map(|tensor| tensor.values.to_vec())
        .collect()
}

/// Counts, per layer, the epochs in a row whose last step left every gradient zero.
///
/// NOTE: Only the last step of each epoch is checked, which keeps the check out of the
/// training step. So a layer whose gradients are zero only on that step also counts.
struct DeadLayers {
    zero_epochs: Vec<usize>,
}

impl DeadLayers {
    fn new(layers: usize) -> Self {
        DeadLayers {
            zero_epochs: vec![0; layers],
        }
    }

    /// Updates the counts and returns the layers that just reached the warning count.
    fn update(&mut self, layers: &mut [Box<dyn Layer>]) -> Vec<usize> {
        let mut newly_dead = Vec::new();
        for (index, layer) in layers.iter_mut().enumerate() {
            let mut all_zero = true;
            layer.visit_parameters(&mut |_, gradient| {
                all_zero &= gradient.iter().all(|&g| g == 0.0)
            });
            self.zero_epochs[index] = if all_zero {
                self.zero_epochs[index] + 1
            } else {
                0
            };
            if self.zero_epochs[index] == DEAD_LAYER_EPOCHS {
                newly_dead.push(index);
            }
        }
        newly_dead
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
    /// The fused step, when the model is a shallow network that it trains.
    shallow: Option<ShallowStep>,
}

impl Workspace {
    fn new(
        layers: &mut [Box<dyn Layer>],
        loss: Loss,
        inputs: usize,
        outputs: usize,
        max_batch: usize,
    ) -> Self {
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
            shallow: ShallowStep::plan(layers, loss),
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
    let loss_sum = match workspace.shallow.as_mut() {
        Some(shallow) => {
            let (x, y) = (&workspace.x[..batch], &workspace.y[..batch]);
            shallow.forward_backward(layers, x, y)
        }
        None => forward_backward(layers, compiled.loss, workspace, batch),
    };
    if !loss_sum.is_finite() {
        return loss_sum;
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

/// Runs the batch in `workspace` forward and backward through every layer, leaves the
/// gradients in the layers, and returns the sum of the element losses. Stops after the
/// forward pass when that sum is not finite.
fn forward_backward(
    layers: &mut [Box<dyn Layer>],
    loss: Loss,
    workspace: &mut Workspace,
    batch: usize,
) -> f64 {
    let x = &workspace.x[..batch * workspace.inputs];
    forward(layers, x, batch);

    let outputs = workspace.outputs;
    let predictions = layers[layers.len() - 1].output(batch);
    let loss_sum = loss.sum_and_gradient(
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

        let plural = if self.input_units == 1 { "" } else { "s" };
        writeln!(
            f,
            "Model: \"sequential\" ({} input{plural})",
            self.input_units
        )?;
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
