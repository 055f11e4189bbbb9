//! The rows of an experiment, in data units: sampled from a function, or read from a
//! CSV file and split into training rows and the rest.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use std::path::Path;

use rand::seq::SliceRandom;

use crate::config::{ExperimentConfig, FunctionSource, Interval, Source, TableSource, Validation};
use crate::csv_input::{self, ColumnSelector, CsvError, CsvSpec, Table};
use crate::dataset;
use crate::split::{SplitError, SplitSummary};

/// The random-number stream of the noise added to training targets; the model uses
/// streams 0 and 1 of the same seed.
const NOISE_STREAM: u64 = 2;

/// The random-number stream that draws validation rows with `--shuffle-before-split`.
const VALIDATION_STREAM: u64 = 3;

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
    /// Validation inputs, row-major; empty without validation.
    pub val_x: Vec<f64>,
    /// Validation targets.
    pub val_y: Vec<f64>,
    /// Which rows validate, in words; `None` without validation.
    pub validation: Option<String>,
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
        let mut data = match &config.source {
            Source::Function(source) => Self::from_function(source, config.seed),
            Source::Table(source) => Self::from_table(source)?,
        };
        match &config.validation {
            Validation::None => {}
            Validation::Split { fraction, shuffle } => {
                data.hold_out(*fraction, shuffle.then_some(config.seed))
            }
            Validation::Data(path) => data.read_validation(&config.source, path)?,
        }
        Ok(data)
    }

    /// Moves `fraction` of the training rows into the validation rows: the last ones,
    /// or ones drawn at random from `seed`.
    fn hold_out(&mut self, fraction: f64, seed: Option<u64>) {
        let (inputs, rows) = (self.inputs(), self.train_y.len());
        let count =
            ((fraction * rows as f64).round() as usize).clamp(1, rows.saturating_sub(1).max(1));
        let mut order: Vec<usize> = (0..rows).collect();
        if let Some(seed) = seed {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(VALIDATION_STREAM);
            order.shuffle(&mut rng);
            order[rows - count..].sort_unstable();
        }
        let mut is_validation = vec![false; rows];
        for &row in &order[rows - count..] {
            is_validation[row] = true;
        }

        let (mut train_x, mut train_y) = (Vec::new(), Vec::new());
        for (row, &validates) in is_validation.iter().enumerate() {
            let (x, y) = if validates {
                (&mut self.val_x, &mut self.val_y)
            } else {
                (&mut train_x, &mut train_y)
            };
            x.extend_from_slice(&self.train_x[row * inputs..(row + 1) * inputs]);
            y.push(self.train_y[row]);
        }
        self.train_x = train_x;
        self.train_y = train_y;

        let which = if seed.is_some() {
            "drawn at random with the seed"
        } else {
            "the last in order"
        };
        self.validation = Some(format!(
            "{count} of {rows} training rows, {which} (--validation-split {fraction})"
        ));
    }

    /// Reads validation rows from another CSV file with the source's columns.
    fn read_validation(&mut self, source: &Source, path: &Path) -> Result<(), DataError> {
        let spec = match source {
            Source::Table(table) => CsvSpec {
                path: path.to_path_buf(),
                contents: None,
                ..csv_spec(table)?
            },
            Source::Function(_) => CsvSpec::new(path, vec!["x".parse()?]).with_y("y".parse()?),
        };
        let table = csv_input::read_table(&spec)?;
        let rows = table.row_count();
        self.val_x = (0..rows)
            .flat_map(|r| table.inputs.iter().map(move |c| c.values[r]))
            .collect();
        self.val_y = table.target.map(|column| column.values).unwrap_or_default();
        self.validation = Some(format!(
            "{rows} rows of {} (--validation-data)",
            path.display()
        ));
        Ok(())
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
            val_x: Vec::new(),
            val_y: Vec::new(),
            validation: None,
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
            val_x: Vec::new(),
            val_y: Vec::new(),
            validation: None,
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
