//! The experiment: scale the rows, train a network on the training rows, and measure
//! its errors inside and outside the training range, in the data's own units.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::callback::Callback;
use crate::checkpoint::Checkpoint;
use crate::config::{ConfigError, ExperimentConfig, Source};
use crate::data::ExperimentData;
use crate::dense::Dense;
use crate::diagnostics::Diagnostics;
use crate::history::History;
use crate::matrix::Matrix;
use crate::metrics::{PointPrediction, RangeErrors};
use crate::scaling::{ScaleKind, Scaling};
use crate::sequential::{EarlyStopping, FitOptions, ModelError, Sequential};

/// Builds the experiment's network: one `Dense` layer per hidden width with the
/// chosen activation, then a linear `Dense` output, initialized from the seed.
pub fn build_model(
    config: &ExperimentConfig,
    inputs: usize,
    outputs: usize,
) -> Result<Sequential, ModelError> {
    let mut model = Sequential::new(inputs);
    for &units in &config.layers {
        model.add(Dense::new(units).with_activation(config.activation));
    }
    model.add(Dense::new(outputs).with_activation(Activation::Linear));

    model.build(config.seed)?;
    let optimizer = config.optimizer_config().map_err(|error| match error {
        ConfigError::Optimizer(setting) => ModelError::InvalidOptimizer(setting),
        other => unreachable!("a validated config has a known optimizer: {other}"),
    })?;
    model.compile(optimizer, config.loss)?;
    Ok(model)
}

/// What an experiment measured, in the data's own units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentMetrics {
    /// MSE over evaluation rows inside the training range.
    pub mse_in_range: Option<f64>,
    /// MSE over evaluation rows outside the training range.
    pub mse_out_of_range: Option<f64>,
    /// Evaluation rows inside the training range.
    pub rows_in_range: usize,
    /// Evaluation rows outside the training range.
    pub rows_out_of_range: usize,
    /// The training loss of the last epoch, on scaled targets; `None` when no epoch ran.
    pub final_loss: Option<f64>,
    /// Epochs trained.
    pub epochs_run: usize,
    /// Wall time of `fit`, in seconds.
    pub fit_seconds: f64,
    /// Optimizer steps per second of `fit`.
    pub steps_per_second: f64,
    /// Training samples processed per second of `fit`.
    pub samples_per_second: f64,
    /// The prediction at the first evaluation row (the lowest test input of a
    /// function); `x` is the row's first input.
    pub prediction_at_test_start: PointPrediction,
    /// The prediction at the last evaluation row.
    pub prediction_at_test_end: PointPrediction,
    /// How the model behaves away from the training range.
    pub diagnostics: Diagnostics,
}

/// A finished experiment: the trained model, its history, predictions and metrics.
#[derive(Debug)]
pub struct ExperimentOutcome {
    /// The trained model.
    pub model: Sequential,
    /// The per-epoch training record.
    pub history: History,
    /// The scaling fitted on the training rows, stored with the run.
    pub scaling: Scaling,
    /// The model's outputs at the evaluation rows, in the target's units.
    pub test_predictions: Vec<f64>,
    /// What was measured.
    pub metrics: ExperimentMetrics,
}

/// The scaling an experiment uses: none for a function, so that it matches Keras's
/// experiment exactly, and the configured kind for a table.
pub fn scale_kind(config: &ExperimentConfig) -> ScaleKind {
    match &config.source {
        Source::Function(_) => ScaleKind::None,
        Source::Table(source) => source.scale,
    }
}

/// Checkpointing and resuming for [`run_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RunControl<'a> {
    /// A checkpoint of an earlier run of the same settings to continue from.
    pub resume: Option<&'a Checkpoint>,
    /// Epochs between checkpoints passed to the callback.
    pub checkpoint_every: Option<usize>,
}

/// Trains the experiment's network on the training rows of `data` and measures it on
/// the evaluation rows.
pub fn run(
    config: &ExperimentConfig,
    data: &ExperimentData,
    callback: &mut dyn Callback,
) -> Result<ExperimentOutcome, ModelError> {
    run_with(config, data, callback, RunControl::default())
}

/// Runs like [`run`], with checkpoints and, when `control.resume` is set, continuing
/// from a checkpoint.
pub fn run_with(
    config: &ExperimentConfig,
    data: &ExperimentData,
    callback: &mut dyn Callback,
    control: RunControl<'_>,
) -> Result<ExperimentOutcome, ModelError> {
    let inputs = data.inputs();
    let scaling = Scaling::fit(scale_kind(config), &data.train_x, inputs, &data.train_y);
    let train_x = scaled_matrix(scaling.scale_inputs(&data.train_x), inputs);
    let train_y = Matrix::column(scaling.scale_target(&data.train_y));
    let test_x = scaled_matrix(scaling.scale_inputs(&data.test_x), inputs);

    let mut model = build_model(config, inputs, 1)?;
    let options = FitOptions {
        epochs: config.epochs,
        batch_size: config.batch_size,
        shuffle: true,
        seed: config.seed,
        early_stopping: config.early_stopping.map(|patience| EarlyStopping {
            patience,
            restore_best_weights: config.restore_best_weights,
        }),
        checkpoint_every: control.checkpoint_every,
    };
    let started = Instant::now();
    let validation = (!data.val_y.is_empty()).then(|| {
        let x = scaled_matrix(scaling.scale_inputs(&data.val_x), inputs);
        (x, Matrix::column(scaling.scale_target(&data.val_y)))
    });
    let validation_pair = validation.as_ref().map(|(x, y)| (x, y));
    let history =
        model.fit_with_validation(&train_x, &train_y, validation_pair, &options, callback)?;
    let fit_seconds = started.elapsed().as_secs_f64();

    let test_predictions = scaling.unscale_target(model.predict(&test_x)?.as_slice());
    let metrics = measure(config, data, &history, &test_predictions, fit_seconds);
    Ok(ExperimentOutcome {
        model,
        history,
        scaling,
        test_predictions,
        metrics,
    })
}

fn scaled_matrix(values: Vec<f32>, inputs: usize) -> Matrix {
    Matrix::from_rows(values, inputs).expect("rows hold one value per input")
}

fn measure(
    config: &ExperimentConfig,
    data: &ExperimentData,
    history: &History,
    predictions: &[f64],
    fit_seconds: f64,
) -> ExperimentMetrics {
    let errors = RangeErrors::compute(&data.test_y, predictions, &data.test_in_range);
    let diagnostics = Diagnostics::compute(
        &data.test_x,
        &data.test_y,
        predictions,
        &data.train_ranges,
        (errors.mse_in_range, errors.mse_out_of_range),
    );

    let rows = data.train_y.len();
    let epochs_run = history.epochs.len();
    let steps = epochs_run * rows.div_ceil(config.batch_size.min(rows).max(1));
    let per_second = |count: usize| {
        if fit_seconds > 0.0 {
            count as f64 / fit_seconds
        } else {
            0.0
        }
    };
    let point = |row: usize| PointPrediction {
        x: data.test_x[row * data.inputs()],
        prediction: predictions[row],
        truth: data.test_y[row],
    };

    ExperimentMetrics {
        mse_in_range: errors.mse_in_range,
        mse_out_of_range: errors.mse_out_of_range,
        rows_in_range: errors.rows_in_range,
        rows_out_of_range: errors.rows_out_of_range,
        final_loss: history.final_loss(),
        epochs_run,
        fit_seconds,
        steps_per_second: per_second(steps),
        samples_per_second: per_second(epochs_run * rows),
        prediction_at_test_start: point(0),
        prediction_at_test_end: point(predictions.len() - 1),
        diagnostics,
    }
}
