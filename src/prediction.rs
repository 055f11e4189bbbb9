//! Applying a saved model to the input columns of a new CSV file.

use std::path::{Path, PathBuf};

use crate::config::Source;
use crate::csv_input::{self, ColumnSelector, CsvError, CsvSpec, MissingPolicy};
use crate::matrix::Matrix;
use crate::model_file::ModelInfo;
use crate::output::{OutputError, write_atomic};
use crate::sequential::{ModelError, Sequential};

/// Which columns of a CSV file feed a model, and how the file is read.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictInput {
    /// The CSV file.
    pub path: PathBuf,
    /// Input columns; empty takes the columns the model was trained on.
    pub x: Vec<String>,
    /// Time columns; empty takes the ones the model was trained with.
    pub time: Vec<String>,
    /// The delimiter; `None` detects it.
    pub delimiter: Option<u8>,
    /// What to do with rows that have missing inputs.
    pub missing: MissingPolicy,
}

/// Why predictions could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("{} has {actual} input columns, but the model takes {expected}; choose them with --x", path.display())]
    InputCount {
        path: PathBuf,
        expected: usize,
        actual: usize,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// Input rows with the model's predictions for them.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// The input column names.
    pub input_names: Vec<String>,
    /// The inputs as read, row-major; times as decimal years.
    pub inputs: Vec<f64>,
    /// One prediction per row, in the target's units.
    pub values: Vec<f64>,
    /// The name of the prediction column.
    pub target_name: String,
    /// Rows dropped for missing values.
    pub dropped_rows: usize,
}

/// Reads the input columns of `input`, scales them as the model was trained, and
/// returns the model's predictions in the target's units.
pub fn predict_csv(
    model: &mut Sequential,
    info: &ModelInfo,
    input: &PredictInput,
) -> Result<Predictions, PredictError> {
    let (x, time) = columns_for(info, input);
    let selectors = |names: &[String]| {
        names
            .iter()
            .map(|name| name.parse())
            .collect::<Result<Vec<ColumnSelector>, _>>()
    };
    let mut spec = CsvSpec::new(input.path.clone(), selectors(&x)?)
        .with_time(selectors(&time)?)
        .with_missing(input.missing);
    spec.delimiter = input.delimiter;
    let table = csv_input::read_table(&spec)?;

    if table.inputs.len() != model.input_units() {
        return Err(PredictError::InputCount {
            path: input.path.clone(),
            expected: model.input_units(),
            actual: table.inputs.len(),
        });
    }

    let rows = table.row_count();
    let inputs: Vec<f64> = (0..rows)
        .flat_map(|r| table.inputs.iter().map(move |c| c.values[r]))
        .collect();
    let scaled: Vec<f32> = match &info.scaling {
        Some(scaling) => scaling.scale_inputs(&inputs),
        None => inputs.iter().map(|&v| v as f32).collect(),
    };
    let output = model
        .predict(&Matrix::from_rows(scaled, model.input_units()).expect("one value per input"))?;
    let values = match &info.scaling {
        Some(scaling) => scaling.unscale_target(output.as_slice()),
        None => output.as_slice().iter().map(|&v| v as f64).collect(),
    };

    Ok(Predictions {
        input_names: table
            .inputs
            .iter()
            .map(|column| column.name.clone())
            .collect(),
        inputs,
        values,
        target_name: if info.target_name.is_empty() {
            "prediction".to_string()
        } else {
            format!("{}_prediction", info.target_name)
        },
        dropped_rows: table.dropped_rows,
    })
}

/// The input and time columns: the request's, or else those the model was trained on.
fn columns_for(info: &ModelInfo, input: &PredictInput) -> (Vec<String>, Vec<String>) {
    if !input.x.is_empty() {
        return (input.x.clone(), input.time.clone());
    }
    match info.config.as_ref().map(|config| &config.source) {
        Some(Source::Table(source)) => {
            let time = if input.time.is_empty() {
                source.time.clone()
            } else {
                input.time.clone()
            };
            (source.x.clone(), time)
        }
        _ => (info.input_names.clone(), input.time.clone()),
    }
}

impl Predictions {
    /// Writes the inputs and a prediction column as CSV to `path`, atomically.
    pub fn write_csv(&self, path: &Path) -> Result<(), PredictError> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let header = self
            .input_names
            .iter()
            .map(String::as_str)
            .chain([self.target_name.as_str()]);
        writer
            .write_record(header)
            .expect("writing CSV into memory cannot fail");

        let inputs = self.input_names.len();
        for (row, value) in self.inputs.chunks_exact(inputs).zip(&self.values) {
            let fields = row.iter().chain([value]).map(|v| v.to_string());
            writer
                .write_record(fields)
                .expect("writing CSV into memory cannot fail");
        }
        let bytes = writer
            .into_inner()
            .expect("writing into memory cannot fail");
        write_atomic(path, &bytes)?;
        Ok(())
    }
}
