//! The function-fitting experiment: sample a target function, train a network on one
//! range of inputs, and measure its errors over a wider one.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::callback::Callback;
use crate::config::{ConfigError, ExperimentConfig};
use crate::dense::Dense;
use crate::history::History;
use crate::matrix::Matrix;
use crate::metrics::{PointPrediction, RangeErrors};
use crate::sequential::{FitOptions, ModelError, Sequential};

/// The random-number stream of the noise added to training targets; the model uses
/// streams 0 and 1 of the same seed.
const NOISE_STREAM: u64 = 2;

/// Training and test points of the experiment, one column each.
#[derive(Debug, Clone)]
pub struct ExperimentData {
    /// Training inputs, evenly spaced over the training range.
    pub train_x: Matrix,
    /// Training targets, with noise when the experiment asks for it.
    pub train_y: Matrix,
    /// Test inputs, evenly spaced over the test range.
    pub test_x: Matrix,
    /// Noise-free test targets.
    pub test_y: Matrix,
}

impl ExperimentData {
    /// Samples the target function as `config` describes. Inputs are computed in f64
    /// and stored as f32, and targets are computed from the stored inputs, as numpy
    /// data passed to Keras would be.
    pub fn generate(config: &ExperimentConfig) -> Self {
        let sample = |points: Vec<f64>| -> (Vec<f32>, Vec<f32>) {
            let x: Vec<f32> = points.iter().map(|&v| v as f32).collect();
            let y = points
                .iter()
                .map(|&v| config.function.eval(v) as f32)
                .collect();
            (x, y)
        };

        let (train_x, mut train_y) = sample(config.train_range.linspace(config.train_samples));
        let (test_x, test_y) = sample(config.test_range.linspace(config.test_samples));
        if config.noise > 0.0 {
            add_noise(&mut train_y, config.noise, config.seed);
        }

        ExperimentData {
            train_x: Matrix::column(train_x),
            train_y: Matrix::column(train_y),
            test_x: Matrix::column(test_x),
            test_y: Matrix::column(test_y),
        }
    }
}

fn add_noise(values: &mut [f32], std: f64, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(NOISE_STREAM);
    let normal = Normal::new(0.0, std).expect("the noise was checked to be finite and >= 0");
    for value in values {
        *value = (*value as f64 + normal.sample(&mut rng)) as f32;
    }
}

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

/// What an experiment measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentMetrics {
    /// MSE over test inputs inside the training range.
    pub mse_in_range: Option<f64>,
    /// MSE over test inputs outside the training range.
    pub mse_out_of_range: Option<f64>,
    /// Test inputs inside the training range.
    pub rows_in_range: usize,
    /// Test inputs outside the training range.
    pub rows_out_of_range: usize,
    /// The training loss of the last epoch; `None` when no epoch ran.
    pub final_loss: Option<f64>,
    /// Epochs trained.
    pub epochs_run: usize,
    /// Wall time of `fit`, in seconds.
    pub fit_seconds: f64,
    /// Optimizer steps per second of `fit`.
    pub steps_per_second: f64,
    /// Training samples processed per second of `fit`.
    pub samples_per_second: f64,
    /// The prediction at the lowest test input.
    pub prediction_at_test_start: PointPrediction,
    /// The prediction at the highest test input.
    pub prediction_at_test_end: PointPrediction,
}

/// A finished experiment: the trained model, its history, test predictions and metrics.
#[derive(Debug)]
pub struct ExperimentOutcome {
    /// The trained model.
    pub model: Sequential,
    /// The per-epoch training record.
    pub history: History,
    /// The model's outputs at the test inputs.
    pub test_predictions: Matrix,
    /// What was measured.
    pub metrics: ExperimentMetrics,
}

/// Trains the experiment's network on `data` and measures it on the test points.
pub fn run(
    config: &ExperimentConfig,
    data: &ExperimentData,
    callback: &mut dyn Callback,
) -> Result<ExperimentOutcome, ModelError> {
    let mut model = build_model(config, data.train_x.cols(), data.train_y.cols())?;
    let options = FitOptions {
        epochs: config.epochs,
        batch_size: config.batch_size,
        shuffle: true,
        seed: config.seed,
    };

    let started = Instant::now();
    let history = model.fit(&data.train_x, &data.train_y, &options, callback)?;
    let fit_seconds = started.elapsed().as_secs_f64();

    let test_predictions = model.predict(&data.test_x)?;
    let metrics = measure(config, data, &history, &test_predictions, fit_seconds);
    Ok(ExperimentOutcome {
        model,
        history,
        test_predictions,
        metrics,
    })
}

fn measure(
    config: &ExperimentConfig,
    data: &ExperimentData,
    history: &History,
    predictions: &Matrix,
    fit_seconds: f64,
) -> ExperimentMetrics {
    let (x, truth, predicted) = (
        data.test_x.as_slice(),
        data.test_y.as_slice(),
        predictions.as_slice(),
    );
    let errors = RangeErrors::compute(x, truth, predicted, config.train_range);

    let rows = data.train_x.rows();
    let epochs_run = history.epochs.len();
    let steps = epochs_run * rows.div_ceil(config.batch_size.min(rows));
    let per_second = |count: usize| {
        if fit_seconds > 0.0 {
            count as f64 / fit_seconds
        } else {
            0.0
        }
    };
    let point = |index: usize| PointPrediction {
        x: x[index] as f64,
        prediction: predicted[index] as f64,
        truth: truth[index] as f64,
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
        prediction_at_test_end: point(x.len() - 1),
    }
}
