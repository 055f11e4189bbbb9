//! The files a run writes: the prediction plot, the training history and the metrics.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::ExperimentConfig;
use crate::experiment::{ExperimentData, ExperimentMetrics};
use crate::history::History;
use crate::matrix::Matrix;
use crate::output::{OutputError, write_atomic};
use crate::plot::{LinePlot, PREDICTION_COLOR, PlotError, Series, SeriesStyle, TRUTH_COLOR};

/// The file names a run writes into its output directory.
pub const PREDICTION_PNG: &str = "prediction.png";
/// The SVG version of the prediction plot.
pub const PREDICTION_SVG: &str = "prediction.svg";
/// One row per epoch.
pub const HISTORY_CSV: &str = "history.csv";
/// Metrics and the complete resolved settings.
pub const METRICS_JSON: &str = "metrics.json";

/// Why a run's files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RunFilesError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// The content of `metrics.json`: the metrics, then the settings that reproduce them.
#[derive(Debug, Serialize)]
struct MetricsFile<'a> {
    #[serde(flatten)]
    metrics: &'a ExperimentMetrics,
    outrange_version: &'static str,
    config: &'a ExperimentConfig,
}

/// Draws the model's predictions and the true function over the test range, with the
/// training range shaded.
pub fn prediction_plot(
    config: &ExperimentConfig,
    data: &ExperimentData,
    predictions: &Matrix,
) -> LinePlot {
    let points = |values: &Matrix| -> Vec<(f64, f64)> {
        data.test_x
            .as_slice()
            .iter()
            .zip(values.as_slice())
            .map(|(&x, &y)| (x as f64, y as f64))
            .collect()
    };

    let title = format!(
        "{} network, {} epochs: y = {}",
        config.activation, config.epochs, config.function
    );
    LinePlot {
        title,
        x_label: "x".to_string(),
        y_label: "y".to_string(),
        shaded: Some((
            config.train_range.lo,
            config.train_range.hi,
            format!(
                "training range [{}, {}]",
                config.train_range.lo, config.train_range.hi
            ),
        )),
        series: vec![
            Series {
                label: format!("truth: y = {}", config.function),
                points: points(&data.test_y),
                style: SeriesStyle::Wide,
                color: TRUTH_COLOR,
            },
            Series {
                label: "prediction".to_string(),
                points: points(predictions),
                style: SeriesStyle::Line,
                color: PREDICTION_COLOR,
            },
        ],
    }
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
    history: &History,
    predictions: &Matrix,
    metrics: &ExperimentMetrics,
) -> Result<Vec<PathBuf>, RunFilesError> {
    let plot = prediction_plot(config, data, predictions);
    let png = directory.join(PREDICTION_PNG);
    write_atomic(&png, &plot.to_png()?)?;
    let svg = directory.join(PREDICTION_SVG);
    write_atomic(&svg, plot.to_svg()?.as_bytes())?;

    let history_path = write_history(directory, history)?;

    let file = MetricsFile {
        metrics,
        outrange_version: env!("CARGO_PKG_VERSION"),
        config,
    };
    let json = serde_json::to_string_pretty(&file).expect("metrics hold only numbers and strings");
    let metrics_path = directory.join(METRICS_JSON);
    write_atomic(&metrics_path, format!("{json}\n").as_bytes())?;

    Ok(vec![png, svg, history_path, metrics_path])
}
