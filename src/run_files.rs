//! The files a run writes: the prediction plot, the training history and the metrics.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::ExperimentConfig;
use crate::data::{ExperimentData, TableSummary};
use crate::diagnostics;
use crate::experiment::{ExperimentMetrics, ExperimentOutcome};
use crate::history::History;
use crate::model_file::{ModelFileError, ModelInfo};
use crate::output::{OutputError, write_atomic};
use crate::plot::{LinePlot, PREDICTION_COLOR, PlotError, Series, SeriesStyle, TRUTH_COLOR};
use crate::scaling::Scaling;

/// The file names a run writes into its output directory.
pub const PREDICTION_PNG: &str = "prediction.png";
/// The SVG version of the prediction plot.
pub const PREDICTION_SVG: &str = "prediction.svg";
/// One row per epoch.
pub const HISTORY_CSV: &str = "history.csv";
/// Metrics and the complete resolved settings.
pub const METRICS_JSON: &str = "metrics.json";
/// The trained model, its scaling and settings.
pub const MODEL_SAFETENSORS: &str = "model.safetensors";

/// Why a run's files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RunFilesError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error(transparent)]
    Model(#[from] ModelFileError),
}

/// Error against distance from the training range, for data with several inputs.
pub const ERROR_BY_DISTANCE_PNG: &str = "error_by_distance.png";
/// The SVG version of the error plot.
pub const ERROR_BY_DISTANCE_SVG: &str = "error_by_distance.svg";

/// Every file name a run may write, so that `--overwrite` can remove an earlier run's
/// files before they mix with the new ones.
pub const OUTPUT_FILES: [&str; 9] = [
    "checkpoint.safetensors",
    "checkpoint-best.safetensors",
    PREDICTION_PNG,
    PREDICTION_SVG,
    ERROR_BY_DISTANCE_PNG,
    ERROR_BY_DISTANCE_SVG,
    HISTORY_CSV,
    METRICS_JSON,
    MODEL_SAFETENSORS,
];

/// The colour of training rows in a scatter plot.
const TRAIN_COLOR: (u8, u8, u8) = (44, 160, 44);

/// The content of `metrics.json`: the metrics, how the data was read and scaled, then
/// the settings that reproduce them.
#[derive(Debug, Serialize)]
struct MetricsFile<'a> {
    #[serde(flatten)]
    metrics: &'a ExperimentMetrics,
    outrange_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a TableSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scaling: Option<&'a Scaling>,
    config: &'a ExperimentConfig,
}

/// Draws the predictions: against the input when there is one input, with the
/// training range shaded; against the actual values when there are several.
pub fn prediction_plot(
    config: &ExperimentConfig,
    data: &ExperimentData,
    predictions: &[f64],
) -> LinePlot {
    if data.inputs() == 1 {
        series_plot(config, data, predictions)
    } else {
        predicted_against_actual_plot(config, data, predictions)
    }
}

fn describe_model(config: &ExperimentConfig) -> String {
    format!("{} network, {} epochs", config.activation, config.epochs)
}

fn series_plot(config: &ExperimentConfig, data: &ExperimentData, predictions: &[f64]) -> LinePlot {
    let sorted = |values: &[f64]| -> Vec<(f64, f64)> {
        let mut points: Vec<(f64, f64)> = data
            .test_x
            .iter()
            .copied()
            .zip(values.iter().copied())
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points
    };
    let range = data.train_ranges[0];
    let (truth_label, title) = match config.function_source() {
        Some(source) => (
            format!("truth: y = {}", source.function),
            format!("{}: y = {}", describe_model(config), source.function),
        ),
        None => (
            format!("{} (data)", data.target_name),
            format!(
                "{}: {} against {}",
                describe_model(config),
                data.target_name,
                data.input_names[0]
            ),
        ),
    };

    LinePlot {
        title,
        x_label: if data.time_input {
            "year".to_string()
        } else {
            data.input_names[0].clone()
        },
        y_label: data.target_name.clone(),
        shaded: Some((
            range.lo,
            range.hi,
            format!("training range {}", range.rounded()),
        )),
        bands: Vec::new(),
        series: vec![
            Series {
                label: truth_label,
                points: sorted(&data.test_y),
                // Measured series vary quickly, and a wide line would blur them.
                style: if data.table.is_some() {
                    SeriesStyle::Line
                } else {
                    SeriesStyle::Wide
                },
                color: TRUTH_COLOR,
            },
            Series {
                label: "prediction".to_string(),
                points: sorted(predictions),
                style: SeriesStyle::Line,
                color: PREDICTION_COLOR,
            },
        ],
    }
}

fn predicted_against_actual_plot(
    config: &ExperimentConfig,
    data: &ExperimentData,
    predictions: &[f64],
) -> LinePlot {
    let points = |train: bool| -> Vec<(f64, f64)> {
        data.test_y
            .iter()
            .zip(predictions)
            .zip(&data.test_is_train)
            .filter(|(_, is_train)| **is_train == train)
            .map(|((&actual, &predicted), _)| (actual, predicted))
            .collect()
    };
    let lo = data.test_y.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = data
        .test_y
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);

    LinePlot {
        title: format!(
            "{}: predicted against actual {}",
            describe_model(config),
            data.target_name
        ),
        x_label: format!("actual {}", data.target_name),
        y_label: format!("predicted {}", data.target_name),
        shaded: None,
        bands: Vec::new(),
        series: vec![
            Series {
                label: "predicted = actual".to_string(),
                points: vec![(lo, lo), (hi, hi)],
                style: SeriesStyle::Wide,
                color: TRUTH_COLOR,
            },
            Series {
                label: "training rows".to_string(),
                points: points(true),
                style: SeriesStyle::Points,
                color: TRAIN_COLOR,
            },
            Series {
                label: "other rows".to_string(),
                points: points(false),
                style: SeriesStyle::Points,
                color: PREDICTION_COLOR,
            },
        ],
    }
}

/// Draws each row's absolute error against its distance from the training range: the
/// Euclidean norm over inputs of how far the input lies outside its training range,
/// in units of that range's width.
pub fn error_by_distance_plot(
    config: &ExperimentConfig,
    data: &ExperimentData,
    predictions: &[f64],
) -> LinePlot {
    let inputs = data.inputs();
    let points = (0..data.test_y.len())
        .map(|row| {
            let inputs_of_row = &data.test_x[row * inputs..(row + 1) * inputs];
            let distance = diagnostics::distance(inputs_of_row, &data.train_ranges);
            (distance, (predictions[row] - data.test_y[row]).abs())
        })
        .collect();

    LinePlot {
        title: format!(
            "{}: error against distance from the training range",
            describe_model(config)
        ),
        x_label: "distance from the training range (training range widths)".to_string(),
        y_label: format!("absolute error in {}", data.target_name),
        shaded: None,
        bands: Vec::new(),
        series: vec![Series {
            label: "rows".to_string(),
            points,
            style: SeriesStyle::Points,
            color: PREDICTION_COLOR,
        }],
    }
}

/// Writes `plot` as PNG and SVG into `directory`, atomically, and returns both paths.
pub fn write_plot(
    directory: &Path,
    plot: &LinePlot,
    png_name: &str,
    svg_name: &str,
) -> Result<Vec<PathBuf>, RunFilesError> {
    let png = directory.join(png_name);
    write_atomic(&png, &plot.to_png()?)?;
    let svg = directory.join(svg_name);
    write_atomic(&svg, plot.to_svg()?.as_bytes())?;
    Ok(vec![png, svg])
}

/// Writes `history.csv` into `directory`, atomically.
pub fn write_history(directory: &Path, history: &History) -> Result<PathBuf, OutputError> {
    let path = directory.join(HISTORY_CSV);
    write_atomic(&path, history.to_csv().as_bytes())?;
    Ok(path)
}

/// Writes every file of a finished run into `directory`, each atomically, and returns
/// their paths.
pub fn write_run_files(
    directory: &Path,
    config: &ExperimentConfig,
    data: &ExperimentData,
    outcome: &ExperimentOutcome,
) -> Result<Vec<PathBuf>, RunFilesError> {
    let predictions = &outcome.test_predictions;
    let mut paths = write_plot(
        directory,
        &prediction_plot(config, data, predictions),
        PREDICTION_PNG,
        PREDICTION_SVG,
    )?;
    if data.inputs() > 1 {
        let plot = error_by_distance_plot(config, data, predictions);
        paths.extend(write_plot(
            directory,
            &plot,
            ERROR_BY_DISTANCE_PNG,
            ERROR_BY_DISTANCE_SVG,
        )?);
    }

    paths.push(write_history(directory, &outcome.history)?);

    paths.push(write_model(directory, config, data, outcome)?);

    let metrics = &outcome.metrics;
    paths.push(write_metrics(
        directory,
        metrics,
        data.table.as_ref(),
        Some(&outcome.scaling),
        config,
    )?);
    Ok(paths)
}

/// Writes `model.safetensors` into `directory`, atomically, with the data's column
/// names, the scaling and the settings.
pub fn write_model(
    directory: &Path,
    config: &ExperimentConfig,
    data: &ExperimentData,
    outcome: &ExperimentOutcome,
) -> Result<PathBuf, RunFilesError> {
    let path = directory.join(MODEL_SAFETENSORS);
    let info = ModelInfo {
        input_names: data.input_names.clone(),
        target_name: data.target_name.clone(),
        scaling: Some(outcome.scaling.clone()),
        config: Some(config.clone()),
    };
    outcome.model.save(&path, &info)?;
    Ok(path)
}

/// Writes `metrics.json` into `directory`, atomically: the metrics, how the data was
/// read and scaled when known, and the settings that reproduce them.
pub fn write_metrics(
    directory: &Path,
    metrics: &ExperimentMetrics,
    data: Option<&TableSummary>,
    scaling: Option<&Scaling>,
    config: &ExperimentConfig,
) -> Result<PathBuf, OutputError> {
    let file = MetricsFile {
        metrics,
        outrange_version: env!("CARGO_PKG_VERSION"),
        data,
        scaling,
        config,
    };
    let json = serde_json::to_string_pretty(&file).expect("metrics hold only numbers and strings");
    let path = directory.join(METRICS_JSON);
    write_atomic(&path, format!("{json}\n").as_bytes())?;
    Ok(path)
}
