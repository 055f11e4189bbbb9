//! `outrange predict` and `outrange inspect`: use and read saved models.

use anyhow::{Context, anyhow};

use outrange::Sequential;
use outrange::config::parse_delimiter;
use outrange::model_file::{FORMAT_VERSION, ModelInfo};
use outrange::prediction::{PredictError, PredictInput, predict_csv};

use super::Failure;
use super::args::{InspectArgs, PredictArgs};

/// Applies a saved model to a CSV file and writes the predictions.
pub fn predict(args: &PredictArgs) -> Result<(), Failure> {
    let (mut model, info) = Sequential::load(&args.model).map_err(Failure::invalid)?;
    let input = predict_input(args).map_err(Failure::invalid)?;

    let predictions = predict_csv(&mut model, &info, &input).map_err(Failure::invalid)?;
    predictions
        .write_csv(&args.output)
        .map_err(|error| match error {
            PredictError::Output(_) => Failure::failed(error),
            other => Failure::invalid(other),
        })?;

    if predictions.dropped_rows > 0 {
        println!(
            "Dropped {} rows with missing inputs",
            predictions.dropped_rows
        );
    }
    println!(
        "Wrote {} predictions to {}",
        predictions.values.len(),
        args.output.display()
    );
    Ok(())
}

/// Checks the delimiter and missing-value policy, as `run` does.
fn predict_input(args: &PredictArgs) -> anyhow::Result<PredictInput> {
    let delimiter = args.delimiter.as_deref().map(parse_delimiter).transpose()?;
    let missing = match &args.missing {
        Some(text) => text
            .parse()
            .map_err(|_| anyhow!("invalid missing {text:?}: use error (stop at the first empty or NaN cell) or drop (drop such rows)"))?,
        None => Default::default(),
    };

    Ok(PredictInput {
        path: args.input.clone(),
        x: args.x.clone().unwrap_or_default(),
        time: args.time.clone().unwrap_or_default(),
        delimiter,
        missing,
    })
}

/// Prints a saved model's summary and metadata.
pub fn inspect(args: &InspectArgs) -> Result<(), Failure> {
    let (model, info) = Sequential::load(&args.model).map_err(Failure::invalid)?;
    println!("{model}\n");
    print_info(&info).map_err(Failure::failed)
}

fn print_info(info: &ModelInfo) -> anyhow::Result<()> {
    println!("Format version: {FORMAT_VERSION}");
    println!("Inputs: {}", info.input_names.join(", "));
    println!("Target: {}", info.target_name);
    if let Some(scaling) = &info.scaling {
        println!(
            "Scaling: {}",
            serde_json::to_string(scaling).context("cannot format the scaling")?
        );
    }
    if let Some(config) = &info.config {
        let text = toml::to_string(config).context("cannot format the training settings")?;
        println!("Training settings (usable with run --config):\n{text}");
    }
    Ok(())
}
