//! The rows of an experiment, in data units: sampled from a function, or read from a
//! CSV file and split into training rows and the rest.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::config::{ExperimentConfig, FunctionSource, Interval, Source, TableSource};
use crate::csv_input::{self, ColumnSelector, CsvError, CsvSpec, Table};
use crate::dataset;
use crate::split::{SplitError, SplitSummary};

/// The random-number stream of the noise added to training targets; the model uses
/// streams 0 and 1 of the same seed.
const NOISE_STREAM: u64 = 2;

/// Training and evaluation rows, row-major, in the data's own units.
#[derive(Debug, Clone)]
pub struct ExperimentData {
    /// The input names, such as `x` or `date`.
    pub input_names: Vec<String>,
    /// The target name, such as `y` or `co2`.
    pub target_name: String,
    /// Whether the first input is a time in decimal years.
    pub time_input: bool,
    /// Training inputs, `train_y.len() × input_names.len()` values.
    pub train_x: Vec<f64>,
    /// Training targets.
    pub train_y: Vec<f64>,
    /// Evaluation inputs: the test points of a function, or every row of a table.
    pub test_x: Vec<f64>,
    /// Evaluation targets, without noise.
    pub test_y: Vec<f64>,
    /// Whether each evaluation row's inputs lie inside the training range.
    pub test_in_range: Vec<bool>,
    /// Whether each evaluation row is also a training row.
    pub test_is_train: Vec<bool>,
    /// The training range of each input.
    pub train_ranges: Vec<Interval>,
    /// How the table was read and split; `None` for a function.
    pub table: Option<TableSummary>,
}

/// How a table was read and split, as printed and recorded with a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableSummary {
    /// The file, or the bundled dataset's name.
    pub source: String,
    /// Rows read.
    pub rows: usize,
    /// The delimiter, and whether it was detected.
    pub delimiter: String,
    /// Rows dropped for missing values.
    pub dropped_rows: usize,
    /// The split.
    pub split: SplitSummary,
}

/// Rows that could not be read or split.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error(transparent)]
    Split(#[from] SplitError),
}

impl ExperimentData {
    /// Samples or reads the rows that `config` describes.
    pub fn load(config: &ExperimentConfig) -> Result<Self, DataError> {
        match &config.source {
            Source::Function(source) => Ok(Self::from_function(source, config.seed)),
            Source::Table(source) => Self::from_table(source),
        }
    }

    /// The number of inputs per row.
    pub fn inputs(&self) -> usize {
        self.input_names.len()
    }

    /// Samples the function at evenly spaced points. Targets are computed in f64 from the
    /// f64 points, as numpy data passed to Keras would be.
    pub fn from_function(source: &FunctionSource, seed: u64) -> Self {
        let sample = |range: Interval, count: usize| -> (Vec<f64>, Vec<f64>) {
            let x = range.linspace(count);
            let y = x.iter().map(|&v| source.function.eval(v)).collect();
            (x, y)
        };

        let (train_x, mut train_y) = sample(source.train_range, source.train_samples);
        let (test_x, test_y) = sample(source.test_range, source.test_samples);
        if source.noise > 0.0 {
            add_noise(&mut train_y, source.noise, seed);
        }

        ExperimentData {
            input_names: vec!["x".to_string()],
            target_name: "y".to_string(),
            time_input: false,
            test_in_range: test_x
                .iter()
                .map(|&x| source.train_range.contains(x))
                .collect(),
            test_is_train: vec![false; test_x.len()],
            train_ranges: vec![source.train_range],
            train_x,
            train_y,
            test_x,
            test_y,
            table: None,
        }
    }

    /// Reads the table's columns, splits its rows, and keeps every row for evaluation.
    pub fn from_table(source: &TableSource) -> Result<Self, DataError> {
        let table = csv_input::read_table(&csv_spec(source)?)?;
        let input_names: Vec<String> = table
            .inputs
            .iter()
            .map(|column| column.name.clone())
            .collect();
        let columns: Vec<Vec<f64>> = table
            .inputs
            .iter()
            .map(|column| column.values.clone())
            .collect();
        let target = table
            .target
            .as_ref()
            .expect("the spec names a target")
            .values
            .clone();

        let rows = source.split.apply(&columns, &input_names)?;
        let row_major = |keep: &dyn Fn(usize) -> bool| -> Vec<f64> {
            (0..target.len())
                .filter(|&r| keep(r))
                .flat_map(|r| columns.iter().map(move |c| c[r]))
                .collect()
        };
        let train_x = row_major(&|r| rows.is_train[r]);
        let train_y = (0..target.len())
            .filter(|&r| rows.is_train[r])
            .map(|r| target[r])
            .collect();

        let summary = TableSummary {
            source: source
                .dataset
                .clone()
                .unwrap_or_else(|| source.path.display().to_string()),
            rows: table.row_count(),
            delimiter: describe_delimiter(&table),
            dropped_rows: table.dropped_rows,
            split: rows.summary(&source.split, &input_names),
        };
        Ok(ExperimentData {
            time_input: table.inputs.first().is_some_and(|column| column.is_time),
            target_name: table
                .target
                .as_ref()
                .map_or_else(String::new, |column| column.name.clone()),
            test_x: row_major(&|_| true),
            test_y: target,
            test_in_range: rows.in_range,
            test_is_train: rows.is_train,
            train_ranges: rows.train_ranges,
            input_names,
            train_x,
            train_y,
            table: Some(summary),
        })
    }
}

fn csv_spec(source: &TableSource) -> Result<CsvSpec, CsvError> {
    let selectors = |names: &[String]| {
        names
            .iter()
            .map(|name| name.parse())
            .collect::<Result<Vec<ColumnSelector>, _>>()
    };
    let mut spec = CsvSpec::new(source.path.clone(), selectors(&source.x)?)
        .with_y(source.y.parse()?)
        .with_time(selectors(&source.time)?)
        .with_missing(source.missing);
    if let Some(delimiter) = source.delimiter {
        spec = spec.with_delimiter(delimiter);
    }
    if let Some(bundled) = source.dataset.as_deref().and_then(dataset::find) {
        spec.contents = Some(bundled.contents.into());
    }
    Ok(spec)
}

fn describe_delimiter(table: &Table) -> String {
    let name = match table.delimiter {
        b',' => "comma".to_string(),
        b';' => "semicolon".to_string(),
        b'\t' => "tab".to_string(),
        other => format!("{:?}", char::from(other)),
    };
    if table.delimiter_detected {
        format!("{name} (detected)")
    } else {
        name
    }
}

fn add_noise(values: &mut [f64], std: f64, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(NOISE_STREAM);
    let normal = Normal::new(0.0, std).expect("the noise was checked to be finite and >= 0");
    for value in values {
        *value += normal.sample(&mut rng);
    }
}
