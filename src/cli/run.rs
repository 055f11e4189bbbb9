//! `outrange run`: train on a function and report inside and outside the training range.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use outrange::ModelError;
use outrange::checkpoint::Checkpoint;
use outrange::config::ExperimentConfig;
use outrange::config::PartialConfig;
use outrange::data::{ExperimentData, TableSummary};
use outrange::experiment::RunControl;
use outrange::experiment::{self, ExperimentOutcome};
use outrange::run_files;

use super::args::{RunArgs, Verbosity};
use super::progress::{CheckpointTarget, Progress, format_seconds};
use super::{EXIT_INTERRUPTED, Failure, settings};

/// Test points shown in the terminal's view of the predictions.
const PREVIEW_POINTS: usize = 9;

/// Runs the experiment that `args` describe.
pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let resumed = match &args.resume {
        Some(directory) => Some(read_resume(directory, args).map_err(Failure::invalid)?),
        None => None,
    };
    let config = match &resumed {
        Some((_, config)) => config.clone(),
        None => settings::resolve_config(&args.settings).map_err(Failure::invalid)?,
    };
    if args.checkpoint_every == Some(0) {
        return Err(Failure::invalid(anyhow::anyhow!(
            "invalid checkpoint_every 0: use at least 1, such as --checkpoint-every 10"
        )));
    }
    let data = ExperimentData::load(&config).map_err(Failure::invalid)?;
    let model = experiment::build_model(&config, data.inputs(), 1).map_err(Failure::invalid)?;
    let directory = match &args.resume {
        Some(directory) => directory.clone(),
        None => settings::output_directory(&args.output).map_err(Failure::invalid)?,
    };

    if let Some(table) = &data.table {
        print_table_summary(table);
    }
    if let Some(validation) = &data.validation {
        println!("Validation: {validation}\n");
    }
    println!("{model}\n");

    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    // Without a handler Ctrl-C still ends the program, only without saving.
    let _ = ctrlc::set_handler(move || handler_stop.store(true, Ordering::Relaxed));
    let mut progress = Progress::new(args.output.verbose.unwrap_or(Verbosity::Bar), stop.clone());
    if args.checkpoint_every.is_some() {
        progress.checkpoints = Some(CheckpointTarget {
            path: directory.join(CHECKPOINT_FILE),
            model: experiment::build_model(&config, data.inputs(), 1).map_err(Failure::invalid)?,
            config: config.clone(),
            error: None,
        });
    }
    let control = RunControl {
        resume: resumed.as_ref().map(|(checkpoint, _)| checkpoint),
        checkpoint_every: args.checkpoint_every,
    };
    let outcome = match experiment::run_with(&config, &data, &mut progress, control) {
        Ok(outcome) => outcome,
        Err(error) => return Err(report_training_failure(error, &directory, &config)),
    };
    if let Some(error) = progress
        .checkpoints
        .as_ref()
        .and_then(|target| target.error.clone())
    {
        return Err(Failure::failed(anyhow::anyhow!(
            "training stopped because a checkpoint could not be written: {error}"
        )));
    }
    if stop.load(Ordering::Relaxed) {
        return Err(save_interrupted(
            &directory,
            &config,
            &data,
            &outcome,
            progress.reached,
        ));
    }

    // The files come first, so that they exist even when printing fails, such as when
    // the output is piped into `head`.
    let files = run_files::write_run_files(&directory, &config, &data, &outcome)
        .map_err(Failure::failed)?;

    print_predictions(&data, &outcome.test_predictions);
    print_results(&data, &outcome);
    print_files(&directory, &files);
    Ok(())
}

/// The checkpoint file in a run's directory.
const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// Reads the checkpoint of the run in `directory`, which brings its own settings.
fn read_resume(directory: &Path, args: &RunArgs) -> anyhow::Result<(Checkpoint, ExperimentConfig)> {
    if args.settings.partial_config() != PartialConfig::default() {
        anyhow::bail!("--resume takes every setting from the checkpoint; drop the other settings");
    }
    let (checkpoint, config) = Checkpoint::load(&directory.join(CHECKPOINT_FILE))?;
    if config.early_stopping.is_some() {
        // NOTE: A checkpoint does not store early stopping's best weights and counters.
        anyhow::bail!(
            "--resume cannot continue a run with --early-stopping; start it again instead"
        );
    }
    Ok((checkpoint, config))
}

/// Saves the model and the finished epochs' history after Ctrl-C, and says where.
fn save_interrupted(
    directory: &Path,
    config: &ExperimentConfig,
    data: &ExperimentData,
    outcome: &ExperimentOutcome,
    (epoch, step): (usize, usize),
) -> Failure {
    let saved = run_files::write_history(directory, &outcome.history)
        .map_err(run_files::RunFilesError::from)
        .and_then(|_| run_files::write_model(directory, config, data, outcome));
    if let Err(error) = saved {
        return Failure::failed(anyhow::anyhow!("interrupted, and saving failed: {error}"));
    }
    eprintln!(
        "Interrupted at epoch {epoch}, step {step}; {} finished epochs. The model and history are in {}",
        outcome.history.epochs.len(),
        directory.display()
    );
    Failure {
        code: EXIT_INTERRUPTED,
        error: anyhow::anyhow!("interrupted"),
    }
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
        Ok(path) => match history.epochs.len() {
            0 => format!("No epoch finished; {} has only its header.", path.display()),
            1 => format!("The finished epoch is in {}.", path.display()),
            epochs => format!("The {epochs} finished epochs are in {}.", path.display()),
        },
        Err(write_error) => format!("The history could not be saved: {write_error}."),
    };
    // Dividing the shortest decimal text of the f32 rate avoids suggesting 0.120000005.
    let lower: f64 = config
        .learning_rate
        .to_string()
        .parse::<f64>()
        .unwrap_or(f64::NAN)
        / 10.0;
    let advice = format!(
        "{error} (--learning-rate is {}; try --learning-rate {lower}, or --scale standard for CSV data). {saved}",
        config.learning_rate
    );
    Failure::failed(anyhow::anyhow!(advice))
}

fn print_table_summary(table: &TableSummary) {
    let split = &table.split;
    println!(
        "Data: {}, {} rows, delimiter {}",
        table.source, table.rows, table.delimiter
    );
    if table.dropped_rows > 0 {
        println!(
            "  dropped {} rows with missing values (--missing drop)",
            table.dropped_rows
        );
    }
    println!(
        "  split {}: {} training rows, {} other rows; {} rows inside the training range",
        split.split, split.train_rows, split.other_rows, split.rows_in_range
    );
    for (name, range) in &split.train_ranges {
        println!("  training range of {name}: {}", range.rounded());
    }
    println!();
}

fn print_predictions(data: &ExperimentData, predictions: &[f64]) {
    let rows = data.test_y.len();
    let shown = PREVIEW_POINTS.min(rows);
    let label = if data.table.is_some() {
        "rows"
    } else {
        "test points"
    };
    println!("Predictions ({shown} of {rows} {label}):");
    println!(
        "  {:>12}  {:>14}  {:>14}  {:>10}",
        data.input_names[0], "prediction", data.target_name, ""
    );
    for i in 0..shown {
        let row = if shown > 1 {
            i * (rows - 1) / (shown - 1)
        } else {
            0
        };
        let place = if data.test_in_range[row] {
            "in range"
        } else {
            "outside"
        };
        println!(
            "  {:>12.4}  {:>14.6}  {:>14.6}  {:>10}",
            data.test_x[row * data.inputs()],
            predictions[row],
            data.test_y[row],
            place
        );
    }
    println!();
}

fn print_results(data: &ExperimentData, outcome: &ExperimentOutcome) {
    let metrics = &outcome.metrics;
    let range = match data.train_ranges.as_slice() {
        [range] => range.rounded(),
        _ => "the training range".to_string(),
    };
    let optional =
        |value: Option<f64>| value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.6e}"));

    println!("Results:");
    println!(
        "  {:<36} {}",
        if data.table.is_some() {
            "final training loss (scaled data)"
        } else {
            "final training loss"
        },
        optional(metrics.final_loss)
    );
    println!(
        "  {:<36} {}  ({} rows)",
        format!("MSE inside {range}"),
        optional(metrics.mse_in_range),
        metrics.rows_in_range
    );
    println!(
        "  {:<36} {}  ({} rows)",
        format!("MSE outside {range}"),
        optional(metrics.mse_out_of_range),
        metrics.rows_out_of_range
    );
    for point in [
        metrics.prediction_at_test_start,
        metrics.prediction_at_test_end,
    ] {
        println!(
            "  {:<36} {:.6}  (truth {:.6})",
            format!(
                "prediction at {} = {}",
                data.input_names[0],
                (point.x * 1e4).round() / 1e4
            ),
            point.prediction,
            point.truth
        );
    }
    println!(
        "  {:<36} {}  ({:.0} steps/s)",
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
