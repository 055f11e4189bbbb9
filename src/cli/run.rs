//! `outrange run`: train on a function and report inside and outside the training range.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;

use outrange::config::{ExperimentConfig, PartialConfig};
use outrange::experiment::{self, ExperimentData, ExperimentOutcome};
use outrange::output;
use outrange::run_files;
use outrange::{Matrix, ModelError};

use super::Failure;
use super::args::{RunArgs, Verbosity};
use super::progress::{Progress, format_seconds};

/// Where runs go when `--out` is not given.
const DEFAULT_RUNS_DIRECTORY: &str = "runs";

/// Test points shown in the terminal's view of the predictions.
const PREVIEW_POINTS: usize = 9;

/// Runs the experiment that `args` describe.
pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let config = resolve_config(args).map_err(Failure::invalid)?;
    let data = ExperimentData::generate(&config);
    let model = experiment::build_model(&config, data.train_x.cols(), data.train_y.cols())
        .map_err(Failure::invalid)?;
    let directory = output_directory(args).map_err(Failure::invalid)?;

    println!("{model}\n");
    let mut progress = Progress::new(args.verbose.unwrap_or(Verbosity::Bar));
    let outcome = match experiment::run(&config, &data, &mut progress) {
        Ok(outcome) => outcome,
        Err(error) => return Err(report_training_failure(error, &directory, &config)),
    };

    print_predictions(&data, &outcome.test_predictions, &config);
    print_results(&config, &outcome);

    let files = run_files::write_run_files(
        &directory,
        &config,
        &data,
        &outcome.history,
        &outcome.test_predictions,
        &outcome.metrics,
    )
    .map_err(Failure::failed)?;
    print_files(&directory, &files);
    Ok(())
}

/// Merges the config file (if any) with the flags, flags winning, and checks the result.
fn resolve_config(args: &RunArgs) -> anyhow::Result<ExperimentConfig> {
    let from_file = match &args.config {
        Some(path) => read_config_file(path)?,
        None => PartialConfig::default(),
    };
    Ok(from_file.merge(args.partial_config()).resolve()?)
}

fn read_config_file(path: &Path) -> anyhow::Result<PartialConfig> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let is_json = path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("json"));
    if is_json {
        serde_json::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))
    } else {
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

fn output_directory(args: &RunArgs) -> anyhow::Result<PathBuf> {
    Ok(match &args.out {
        Some(path) => output::prepare_directory(path, args.overwrite)?,
        None => output::create_numbered_directory(Path::new(DEFAULT_RUNS_DIRECTORY))?,
    })
}

/// Keeps the history of the epochs that finished before a diverging loss, and turns
/// the error into a failure that suggests a fix.
fn report_training_failure(
    error: ModelError,
    directory: &Path,
    config: &ExperimentConfig,
) -> Failure {
    let ModelError::NonFiniteLoss { history, .. } = &error else {
        return Failure::failed(error);
    };

    let saved = match run_files::write_history(directory, history) {
        Ok(path) => format!(
            "the {} finished epochs are in {}",
            history.epochs.len(),
            path.display()
        ),
        Err(write_error) => format!("the history could not be saved: {write_error}"),
    };
    let advice = format!(
        "the learning rate is {}; try --learning-rate {}; {saved}",
        config.learning_rate,
        config.learning_rate / 10.0
    );
    Failure::failed(anyhow::Error::new(error).context(advice))
}

fn print_predictions(data: &ExperimentData, predictions: &Matrix, config: &ExperimentConfig) {
    let rows = data.test_x.rows();
    let shown = PREVIEW_POINTS.min(rows);
    println!("Test predictions ({shown} of {rows} points):");
    println!(
        "  {:>10}  {:>12}  {:>12}  {:>10}",
        "x", "prediction", "truth", ""
    );
    for i in 0..shown {
        let index = if shown > 1 {
            i * (rows - 1) / (shown - 1)
        } else {
            0
        };
        let x = data.test_x.as_slice()[index];
        let place = if config.train_range.contains(x as f64) {
            "in range"
        } else {
            "outside"
        };
        println!(
            "  {:>10.4}  {:>12.6}  {:>12.6}  {:>10}",
            x,
            predictions.as_slice()[index],
            data.test_y.as_slice()[index],
            place
        );
    }
    println!();
}

fn print_results(config: &ExperimentConfig, outcome: &ExperimentOutcome) {
    let metrics = &outcome.metrics;
    let range = format!("[{}, {}]", config.train_range.lo, config.train_range.hi);
    let optional =
        |value: Option<f64>| value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.6e}"));

    println!("Results:");
    println!(
        "  {:<32} {}",
        "final training loss",
        optional(metrics.final_loss)
    );
    println!(
        "  {:<32} {}  ({} test points)",
        format!("MSE inside {range}"),
        optional(metrics.mse_in_range),
        metrics.rows_in_range
    );
    println!(
        "  {:<32} {}  ({} test points)",
        format!("MSE outside {range}"),
        optional(metrics.mse_out_of_range),
        metrics.rows_out_of_range
    );
    for point in [
        metrics.prediction_at_test_start,
        metrics.prediction_at_test_end,
    ] {
        println!(
            "  {:<32} {:.6}  (truth {:.6})",
            format!("prediction at x = {}", point.x),
            point.prediction,
            point.truth
        );
    }
    println!(
        "  {:<32} {}  ({:.0} steps/s)",
        "fit time",
        format_seconds(metrics.fit_seconds),
        metrics.steps_per_second
    );
    println!();
}

fn print_files(directory: &Path, files: &[PathBuf]) {
    let names: Vec<String> = files
        .iter()
        .filter_map(|path| path.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    println!("Wrote {} to {}", names.join(", "), directory.display());
}
