//! The settings of an experiment. They are read from a file and from flags, merged, then
//! checked once, so the rest of the program only receives valid settings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use std::path::PathBuf;

use crate::activation::Activation;
use crate::csv_input::MissingPolicy;
use crate::dataset;
use crate::expression::Expression;
use crate::loss::Loss;
use crate::optimizer::OptimizerConfig;
use crate::scaling::ScaleKind;
use crate::split::{ColumnRange, Split};

/// A closed interval `[lo, hi]` of input values, written `LO:HI` on the command line and
/// `[LO, HI]` in files.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 2]", into = "[f64; 2]")]
pub struct Interval {
    /// The lower bound.
    pub lo: f64,
    /// The upper bound.
    pub hi: f64,
}

impl Interval {
    /// Creates `[lo, hi]` without checking it.
    pub const fn new(lo: f64, hi: f64) -> Self {
        Interval { lo, hi }
    }

    /// Returns true when `value` lies in `[lo, hi]`.
    pub fn contains(&self, value: f64) -> bool {
        self.lo <= value && value <= self.hi
    }

    /// Returns `count` evenly spaced points from `lo` to `hi`, both included, like
    /// `numpy.linspace`.
    pub fn linspace(&self, count: usize) -> Vec<f64> {
        if count == 1 {
            return vec![self.lo];
        }
        let step = (self.hi - self.lo) / (count - 1) as f64;
        let mut points: Vec<f64> = (0..count).map(|i| self.lo + i as f64 * step).collect();
        if let Some(last) = points.last_mut() {
            *last = self.hi;
        }
        points
    }

    /// Formats the interval as `[lo, hi]` with each bound rounded to 4 decimals, for
    /// labels.
    pub fn rounded(&self) -> String {
        let round = |value: f64| (value * 1e4).round() / 1e4;
        format!("[{}, {}]", round(self.lo), round(self.hi))
    }

    /// Checks that the bounds are finite and `lo < hi`.
    fn validate(&self, setting: &'static str) -> Result<(), ConfigError> {
        if self.lo.is_finite() && self.hi.is_finite() && self.lo < self.hi {
            return Ok(());
        }
        Err(ConfigError::InvalidRange {
            setting,
            range: *self,
        })
    }
}

impl From<[f64; 2]> for Interval {
    fn from([lo, hi]: [f64; 2]) -> Self {
        Interval { lo, hi }
    }
}

impl From<Interval> for [f64; 2] {
    fn from(interval: Interval) -> Self {
        [interval.lo, interval.hi]
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.lo, self.hi)
    }
}

impl FromStr for Interval {
    type Err = String;

    /// Parses `LO:HI`, for example `-1:1` or `0:2.5e3`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (lo, hi) = text.split_once(':').ok_or_else(|| {
            format!("{text:?} is not a range; write it as LO:HI, for example -1:1")
        })?;
        let bound = |part: &str| {
            part.trim()
                .parse::<f64>()
                .map_err(|_| format!("{part:?} in {text:?} is not a number; write the range as LO:HI, for example -1:1"))
        };
        Ok(Interval {
            lo: bound(lo)?,
            hi: bound(hi)?,
        })
    }
}

/// The `--train-range` setting: one range for the only input, or ranges of named
/// inputs. Written `LO:HI` or `COL=LO:HI,COL=LO:HI`; files also take `[LO, HI]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainRanges(pub Vec<ColumnRange>);

impl TrainRanges {
    /// The single unnamed range, if that is what this is.
    pub fn single(&self) -> Option<Interval> {
        match self.0.as_slice() {
            [
                ColumnRange {
                    column: None,
                    range,
                },
            ] => Some(*range),
            _ => None,
        }
    }
}

impl FromStr for TrainRanges {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let ranges = text
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<ColumnRange>, String>>()?;
        Ok(TrainRanges(ranges))
    }
}

impl fmt::Display for TrainRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// How a range is written in a settings file: `[LO, HI]` or text.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RangeText {
    Bounds([f64; 2]),
    Text(String),
}

impl Serialize for TrainRanges {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.single() {
            Some(range) => RangeText::Bounds(range.into()).serialize(serializer),
            None => RangeText::Text(self.to_string()).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for TrainRanges {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match RangeText::deserialize(deserializer)? {
            RangeText::Bounds(bounds) => Ok(TrainRanges(vec![ColumnRange {
                column: None,
                range: bounds.into(),
            }])),
            RangeText::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Settings that may each be missing: what a config file or the flags give. Unknown
/// keys in a file are rejected. The names match the flags, with `_` for `-`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartialConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_range: Option<TrainRanges>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_until: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_fraction: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_range: Option<Interval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_samples: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_samples: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_split: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shuffle_before_split: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_data: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_best_weights: Option<bool>,
}

/// Where the experiment's rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A target function sampled at evenly spaced points.
    Function(FunctionSource),
    /// Columns of a CSV file, or of a bundled dataset.
    Table(TableSource),
}

/// The largest `train_samples` or `test_samples`: 1,000 times the default. Checking a
/// setting evaluates the function at every point, and the run keeps every point in
/// memory, so without a limit a mistyped count could exhaust memory.
pub const MAX_SAMPLES: usize = 10_000_000;

/// A target function and where it is sampled.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSource {
    /// The target function of `x`; default `x^2`.
    pub function: Expression,
    /// The inputs the model trains on; default `[-1, 1]`.
    pub train_range: Interval,
    /// The inputs the model is tested on; default `[-2, 2]`.
    pub test_range: Interval,
    /// Evenly spaced training points; default 10,000, at most [`MAX_SAMPLES`].
    pub train_samples: usize,
    /// Evenly spaced test points; default 10,000, at most [`MAX_SAMPLES`].
    pub test_samples: usize,
    /// Standard deviation of Gaussian noise added to training targets; default 0.
    pub noise: f64,
}

/// Columns of a CSV file, how its rows split, and how they are scaled.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSource {
    /// The file; for a bundled dataset, its file name.
    pub path: PathBuf,
    /// The bundled dataset's name, when the rows come from one.
    pub dataset: Option<String>,
    /// Input columns, by name or 0-based index.
    pub x: Vec<String>,
    /// Target column, by name or 0-based index.
    pub y: String,
    /// Columns holding dates, or a year and a quarter or month, as decimal years.
    pub time: Vec<String>,
    /// The field delimiter; `None` detects it.
    pub delimiter: Option<u8>,
    /// What to do with rows that have missing values; default error.
    pub missing: MissingPolicy,
    /// Which rows train; default the first 80% of the rows.
    pub split: Split,
    /// How inputs and target are scaled; default standard.
    pub scale: ScaleKind,
}

/// The complete, checked settings of an experiment.
///
/// It is written into `metrics.json` as `config`, in the same flat form as a settings
/// file. That object, saved as a TOML or JSON file and passed back with `--config`,
/// reproduces the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "PartialConfig", try_from = "PartialConfig")]
pub struct ExperimentConfig {
    /// Where the rows come from.
    pub source: Source,
    /// Widths of the hidden `Dense` layers; default `[30]`.
    pub layers: Vec<usize>,
    /// Activation of the hidden layers; default relu. The output layer is linear.
    pub activation: Activation,
    /// Optimizer name; default `sgd`.
    pub optimizer: String,
    /// Learning rate; default 0.01 for SGD and 0.001 for Adam, as in Keras.
    pub learning_rate: f32,
    /// SGD momentum; default 0.
    pub momentum: f32,
    /// Passes over the training data; default 40.
    pub epochs: usize,
    /// Rows per optimizer step; default 32.
    pub batch_size: usize,
    /// Training loss; default mean_squared_error.
    pub loss: Loss,
    /// Seed of the weights, the shuffling order and the noise; default 42.
    pub seed: u64,
    /// Rows held out of training to compute `val_loss` each epoch; default none.
    pub validation: Validation,
    /// Patience of early stopping, in epochs; default off.
    pub early_stopping: Option<usize>,
    /// Whether early stopping puts the best epoch's weights back; default true.
    pub restore_best_weights: bool,
}

/// Where the validation rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    /// No validation rows.
    None,
    /// The last `fraction` of the training rows in their order (by input for a function,
    /// by file order for a table), like Keras's `validation_split`, or a random
    /// `fraction` drawn with the seed when `shuffle` is set.
    Split { fraction: f64, shuffle: bool },
    /// The rows of another CSV file with the same columns (`x` and `y` for a function).
    Data(PathBuf),
}

/// A setting that is invalid, with what would be valid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "invalid {setting} {range}: a range needs finite bounds with LO < HI, for example -1:1"
    )]
    InvalidRange {
        setting: &'static str,
        range: Interval,
    },
    #[error("invalid {setting} 0: it must be at least 1")]
    Zero { setting: &'static str },
    #[error("invalid {setting} {value}: it must be at most {MAX_SAMPLES}")]
    TooManySamples { setting: &'static str, value: usize },
    #[error("invalid noise {0}: it must be a finite standard deviation >= 0")]
    InvalidNoise(f64),
    #[error(
        "invalid layers: a hidden layer has 0 units; every width must be at least 1, as in --layers 30 or --layers 64,64"
    )]
    ZeroWidth,
    #[error("{0}")]
    Activation(#[from] crate::activation::ParseActivationError),
    #[error("{0}")]
    Loss(#[from] crate::loss::ParseLossError),
    #[error("{0}")]
    Expression(#[from] crate::expression::ParseExpressionError),
    #[error("invalid optimizer {name:?}: known optimizers are {}", OptimizerConfig::NAMES.join(", "))]
    UnknownOptimizer { name: String },
    #[error("invalid momentum {momentum}: momentum applies only to the sgd optimizer")]
    MomentumWithoutSgd { momentum: f32 },
    #[error("{0}")]
    Optimizer(#[from] crate::optimizer::InvalidOptimizerSetting),
    #[error(
        "the function {function} is {value} at x = {x}, inside the {setting}; choose a range where it is finite"
    )]
    NonFiniteTarget {
        function: String,
        value: f64,
        x: f64,
        setting: &'static str,
    },
    #[error(
        "invalid dataset {name:?}: the bundled datasets are {}",
        dataset::names()
    )]
    UnknownDataset { name: String },
    #[error("--data and --dataset were both given; use one of them")]
    DataAndDataset,
    #[error(
        "--{flag} applies only to CSV data; add --data FILE or --dataset NAME, or drop --{flag}"
    )]
    OnlyForData { flag: &'static str },
    #[error("--{flag} applies only to a function; it has no meaning with --data or --dataset")]
    OnlyForFunction { flag: &'static str },
    #[error(
        "--{flag} is required with --data: name the {what} column, by header name or 0-based index"
    )]
    MissingColumn {
        flag: &'static str,
        what: &'static str,
    },
    #[error(
        "choose one way to split the rows: --train-range, --train-until or --train-fraction, not several"
    )]
    SeveralSplits,
    #[error("invalid train_fraction {0}: it must be in (0, 1], such as 0.8")]
    InvalidFraction(f64),
    #[error("invalid train_until {0}: it must be a finite number")]
    InvalidUntil(f64),
    #[error("invalid delimiter {0:?}: give one character such as , or ; or the word tab")]
    InvalidDelimiter(String),
    #[error(
        "invalid missing {0:?}: use error (stop at the first empty or NaN cell) or drop (drop such rows)"
    )]
    InvalidMissing(String),
    #[error("{0}")]
    InvalidScale(String),
    #[error("invalid validation_split {0}: it must be in (0, 1), such as 0.2")]
    InvalidValidationSplit(f64),
    #[error("--validation-split and --validation-data were both given; use one of them")]
    TwoValidations,
    #[error("--shuffle-before-split applies only with --validation-split")]
    ShuffleWithoutSplit,
}

impl PartialConfig {
    /// Returns these settings with every setting that `other` gives replaced by it.
    pub fn merge(self, other: PartialConfig) -> PartialConfig {
        PartialConfig {
            function: other.function.or(self.function),
            data: other.data.or(self.data),
            dataset: other.dataset.or(self.dataset),
            x: other.x.or(self.x),
            y: other.y.or(self.y),
            time: other.time.or(self.time),
            delimiter: other.delimiter.or(self.delimiter),
            missing: other.missing.or(self.missing),
            train_range: other.train_range.or(self.train_range),
            train_until: other.train_until.or(self.train_until),
            train_fraction: other.train_fraction.or(self.train_fraction),
            scale: other.scale.or(self.scale),
            test_range: other.test_range.or(self.test_range),
            train_samples: other.train_samples.or(self.train_samples),
            test_samples: other.test_samples.or(self.test_samples),
            noise: other.noise.or(self.noise),
            layers: other.layers.or(self.layers),
            activation: other.activation.or(self.activation),
            optimizer: other.optimizer.or(self.optimizer),
            learning_rate: other.learning_rate.or(self.learning_rate),
            momentum: other.momentum.or(self.momentum),
            epochs: other.epochs.or(self.epochs),
            batch_size: other.batch_size.or(self.batch_size),
            loss: other.loss.or(self.loss),
            seed: other.seed.or(self.seed),
            validation_split: other.validation_split.or(self.validation_split),
            shuffle_before_split: other.shuffle_before_split.or(self.shuffle_before_split),
            validation_data: other.validation_data.or(self.validation_data),
            early_stopping: other.early_stopping.or(self.early_stopping),
            restore_best_weights: other.restore_best_weights.or(self.restore_best_weights),
        }
    }

    /// Fills in the defaults and checks every setting.
    pub fn resolve(self) -> Result<ExperimentConfig, ConfigError> {
        let optimizer_name = self
            .optimizer
            .clone()
            .unwrap_or_else(|| "sgd".to_string())
            .trim()
            .to_ascii_lowercase();
        let optimizer_defaults =
            OptimizerConfig::default_for(&optimizer_name).ok_or_else(|| {
                ConfigError::UnknownOptimizer {
                    name: optimizer_name.clone(),
                }
            })?;

        let config = ExperimentConfig {
            source: self.resolve_source()?,
            layers: self.layers.clone().unwrap_or_else(|| vec![30]),
            activation: self.activation.as_deref().unwrap_or("relu").parse()?,
            learning_rate: self
                .learning_rate
                .unwrap_or(optimizer_defaults.learning_rate()),
            momentum: self.momentum.unwrap_or(0.0),
            optimizer: optimizer_name,
            epochs: self.epochs.unwrap_or(40),
            batch_size: self.batch_size.unwrap_or(32),
            loss: self
                .loss
                .as_deref()
                .unwrap_or("mean_squared_error")
                .parse()?,
            seed: self.seed.unwrap_or(42),
            validation: self.resolve_validation()?,
            early_stopping: self.early_stopping,
            restore_best_weights: self.restore_best_weights.unwrap_or(true),
        };
        config.validate()?;
        Ok(config)
    }

    fn resolve_validation(&self) -> Result<Validation, ConfigError> {
        match (self.validation_split, &self.validation_data) {
            (Some(_), Some(_)) => Err(ConfigError::TwoValidations),
            (Some(fraction), None) if fraction > 0.0 && fraction < 1.0 => Ok(Validation::Split {
                fraction,
                shuffle: self.shuffle_before_split.unwrap_or(false),
            }),
            (Some(fraction), None) => Err(ConfigError::InvalidValidationSplit(fraction)),
            (None, _) if self.shuffle_before_split == Some(true) => {
                Err(ConfigError::ShuffleWithoutSplit)
            }
            (None, Some(path)) => Ok(Validation::Data(path.clone())),
            (None, None) => Ok(Validation::None),
        }
    }

    fn resolve_source(&self) -> Result<Source, ConfigError> {
        if self.data.is_some() && self.dataset.is_some() {
            return Err(ConfigError::DataAndDataset);
        }
        if self.data.is_none() && self.dataset.is_none() {
            return self.resolve_function().map(Source::Function);
        }
        self.resolve_table().map(Source::Table)
    }

    fn resolve_function(&self) -> Result<FunctionSource, ConfigError> {
        let data_only = [
            ("x", self.x.is_some()),
            ("y", self.y.is_some()),
            ("time", self.time.is_some()),
            ("delimiter", self.delimiter.is_some()),
            ("missing", self.missing.is_some()),
            ("train-until", self.train_until.is_some()),
            ("train-fraction", self.train_fraction.is_some()),
            ("scale", self.scale.is_some()),
        ];
        if let Some((flag, _)) = data_only.into_iter().find(|(_, given)| *given) {
            return Err(ConfigError::OnlyForData { flag });
        }

        let train_range = match &self.train_range {
            None => Interval::new(-1.0, 1.0),
            Some(ranges) => ranges.single().ok_or(ConfigError::OnlyForData {
                flag: "train-range COL=LO:HI",
            })?,
        };
        Ok(FunctionSource {
            function: self.function.as_deref().unwrap_or("x^2").parse()?,
            train_range,
            test_range: self.test_range.unwrap_or(Interval::new(-2.0, 2.0)),
            train_samples: self.train_samples.unwrap_or(10_000),
            test_samples: self.test_samples.unwrap_or(10_000),
            noise: self.noise.unwrap_or(0.0),
        })
    }

    fn resolve_table(&self) -> Result<TableSource, ConfigError> {
        let function_only = [
            ("function", self.function.is_some()),
            ("test-range", self.test_range.is_some()),
            ("train-samples", self.train_samples.is_some()),
            ("test-samples", self.test_samples.is_some()),
            ("noise", self.noise.is_some()),
        ];
        if let Some((flag, _)) = function_only.into_iter().find(|(_, given)| *given) {
            return Err(ConfigError::OnlyForFunction { flag });
        }

        let bundled = match &self.dataset {
            Some(name) => Some(
                dataset::find(name)
                    .ok_or_else(|| ConfigError::UnknownDataset { name: name.clone() })?,
            ),
            None => None,
        };
        let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();

        let x =
            self.x
                .clone()
                .or(bundled.map(|d| owned(d.x)))
                .ok_or(ConfigError::MissingColumn {
                    flag: "x",
                    what: "input",
                })?;
        let y = self.y.clone().or(bundled.map(|d| d.y.to_string())).ok_or(
            ConfigError::MissingColumn {
                flag: "y",
                what: "target",
            },
        )?;
        let time = self
            .time
            .clone()
            .or(bundled.map(|d| owned(d.time)))
            .unwrap_or_default();
        let missing = match &self.missing {
            Some(text) => text
                .parse()
                .map_err(|_| ConfigError::InvalidMissing(text.clone()))?,
            None => bundled.map_or(MissingPolicy::Error, |d| d.missing),
        };
        let delimiter = self.delimiter.as_deref().map(parse_delimiter).transpose()?;
        let scale = match &self.scale {
            Some(text) => text.parse().map_err(ConfigError::InvalidScale)?,
            None => ScaleKind::Standard,
        };

        Ok(TableSource {
            path: self
                .data
                .clone()
                .or(bundled.map(|d| PathBuf::from(d.file_name)))
                .expect("data or dataset is set"),
            dataset: bundled.map(|d| d.name.to_string()),
            x,
            y,
            time,
            delimiter,
            missing,
            split: self.resolve_split(bundled.map(|d| d.train_until))?,
            scale,
        })
    }

    fn resolve_split(&self, dataset_until: Option<f64>) -> Result<Split, ConfigError> {
        let given = [
            self.train_range.is_some(),
            self.train_until.is_some(),
            self.train_fraction.is_some(),
        ];
        if given.iter().filter(|&&g| g).count() > 1 {
            return Err(ConfigError::SeveralSplits);
        }

        if let Some(ranges) = &self.train_range {
            for range in &ranges.0 {
                range.range.validate("train_range")?;
            }
            return Ok(Split::Ranges(ranges.0.clone()));
        }
        if let Some(until) = self.train_until {
            return if until.is_finite() {
                Ok(Split::Until(until))
            } else {
                Err(ConfigError::InvalidUntil(until))
            };
        }
        if let Some(fraction) = self.train_fraction {
            return if fraction > 0.0 && fraction <= 1.0 {
                Ok(Split::Fraction(fraction))
            } else {
                Err(ConfigError::InvalidFraction(fraction))
            };
        }
        Ok(dataset_until.map_or(Split::Fraction(0.8), Split::Until))
    }
}

/// Parses a delimiter: one ASCII character other than a quote or line break, or the
/// word `tab`.
pub fn parse_delimiter(text: &str) -> Result<u8, ConfigError> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() && !matches!(text, "\"" | "\n" | "\r") => {
            Ok(text.as_bytes()[0])
        }
        _ => Err(ConfigError::InvalidDelimiter(text.to_string())),
    }
}

fn delimiter_text(delimiter: u8) -> String {
    if delimiter == b'\t' {
        "tab".to_string()
    } else {
        char::from(delimiter).to_string()
    }
}

impl From<ExperimentConfig> for PartialConfig {
    fn from(config: ExperimentConfig) -> Self {
        let mut partial = PartialConfig {
            layers: Some(config.layers),
            activation: Some(config.activation.to_string()),
            optimizer: Some(config.optimizer),
            learning_rate: Some(config.learning_rate),
            momentum: Some(config.momentum),
            epochs: Some(config.epochs),
            batch_size: Some(config.batch_size),
            loss: Some(config.loss.to_string()),
            seed: Some(config.seed),
            early_stopping: config.early_stopping,
            restore_best_weights: config.early_stopping.map(|_| config.restore_best_weights),
            ..PartialConfig::default()
        };
        match config.validation {
            Validation::None => {}
            Validation::Split { fraction, shuffle } => {
                partial.validation_split = Some(fraction);
                partial.shuffle_before_split = Some(shuffle);
            }
            Validation::Data(path) => partial.validation_data = Some(path),
        }
        match config.source {
            Source::Function(source) => {
                partial.function = Some(source.function.to_string());
                partial.train_range = Some(TrainRanges(vec![ColumnRange {
                    column: None,
                    range: source.train_range,
                }]));
                partial.test_range = Some(source.test_range);
                partial.train_samples = Some(source.train_samples);
                partial.test_samples = Some(source.test_samples);
                partial.noise = Some(source.noise);
            }
            Source::Table(source) => {
                match source.dataset {
                    Some(name) => partial.dataset = Some(name),
                    None => partial.data = Some(source.path),
                }
                partial.x = Some(source.x);
                partial.y = Some(source.y);
                partial.time = Some(source.time);
                partial.delimiter = source.delimiter.map(delimiter_text);
                partial.missing = Some(source.missing.to_string());
                match source.split {
                    Split::Ranges(ranges) => partial.train_range = Some(TrainRanges(ranges)),
                    Split::Until(until) => partial.train_until = Some(until),
                    Split::Fraction(fraction) => partial.train_fraction = Some(fraction),
                }
                partial.scale = Some(source.scale.to_string());
            }
        }
        partial
    }
}

impl TryFrom<PartialConfig> for ExperimentConfig {
    type Error = ConfigError;

    fn try_from(partial: PartialConfig) -> Result<Self, Self::Error> {
        partial.resolve()
    }
}

impl ExperimentConfig {
    /// The default experiment: a 1-30-1 ReLU network fitted to `x^2` on [-1, 1] with SGD.
    pub fn default_experiment() -> Self {
        PartialConfig::default()
            .resolve()
            .expect("the defaults are valid")
    }

    /// The function source, for a function experiment.
    pub fn function_source(&self) -> Option<&FunctionSource> {
        match &self.source {
            Source::Function(source) => Some(source),
            Source::Table(_) => None,
        }
    }

    /// Checks every setting, including that a function is finite over both ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_size == 0 {
            return Err(ConfigError::Zero {
                setting: "batch_size",
            });
        }
        if self.layers.contains(&0) {
            return Err(ConfigError::ZeroWidth);
        }
        self.optimizer_config()?.validate()?;

        match &self.source {
            Source::Function(source) => source.validate(),
            Source::Table(_) => Ok(()),
        }
    }

    /// The optimizer settings, with Keras's defaults for what the experiment does not set.
    pub fn optimizer_config(&self) -> Result<OptimizerConfig, ConfigError> {
        let defaults = OptimizerConfig::default_for(&self.optimizer).ok_or_else(|| {
            ConfigError::UnknownOptimizer {
                name: self.optimizer.clone(),
            }
        })?;
        Ok(match defaults {
            OptimizerConfig::Sgd { nesterov, .. } => OptimizerConfig::Sgd {
                learning_rate: self.learning_rate,
                momentum: self.momentum,
                nesterov,
            },
            OptimizerConfig::Adam {
                beta_1,
                beta_2,
                epsilon,
                ..
            } => {
                if self.momentum != 0.0 {
                    return Err(ConfigError::MomentumWithoutSgd {
                        momentum: self.momentum,
                    });
                }
                OptimizerConfig::Adam {
                    learning_rate: self.learning_rate,
                    beta_1,
                    beta_2,
                    epsilon,
                }
            }
        })
    }
}

impl FunctionSource {
    fn validate(&self) -> Result<(), ConfigError> {
        self.train_range.validate("train_range")?;
        self.test_range.validate("test_range")?;
        for (setting, value) in [
            ("train_samples", self.train_samples),
            ("test_samples", self.test_samples),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { setting });
            }
            if value > MAX_SAMPLES {
                return Err(ConfigError::TooManySamples { setting, value });
            }
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(ConfigError::InvalidNoise(self.noise));
        }

        self.check_finite("train_range", self.train_range, self.train_samples)?;
        self.check_finite("test_range", self.test_range, self.test_samples)
    }

    fn check_finite(
        &self,
        setting: &'static str,
        range: Interval,
        samples: usize,
    ) -> Result<(), ConfigError> {
        for x in range.linspace(samples) {
            let value = self.function.eval(x);
            if !value.is_finite() {
                return Err(ConfigError::NonFiniteTarget {
                    function: self.function.to_string(),
                    value,
                    x,
                    setting,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(partial: PartialConfig) -> Result<ExperimentConfig, String> {
        partial.resolve().map_err(|error| error.to_string())
    }

    #[test]
    fn defaults_match_keras_experiment() {
        let config = ExperimentConfig::default_experiment();
        let source = config.function_source().unwrap();
        assert_eq!(source.function.as_str(), "x^2");
        assert_eq!(source.train_range, Interval::new(-1.0, 1.0));
        assert_eq!(source.test_range, Interval::new(-2.0, 2.0));
        assert_eq!(
            (source.train_samples, source.test_samples),
            (10_000, 10_000)
        );
        assert_eq!(config.layers, [30]);
        assert_eq!(config.activation, Activation::Relu);
        assert_eq!(config.optimizer_config().unwrap(), OptimizerConfig::SGD);
        assert_eq!((config.epochs, config.batch_size), (40, 32));
        assert_eq!(config.loss, Loss::MeanSquaredError);
    }

    #[test]
    fn adam_takes_its_own_learning_rate() {
        let config = resolve(PartialConfig {
            optimizer: Some("Adam".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(config.learning_rate, 0.001);
        assert_eq!(config.optimizer, "adam");
    }

    #[test]
    fn merge_prefers_later_settings() {
        let file = PartialConfig {
            epochs: Some(5),
            seed: Some(1),
            ..Default::default()
        };
        let flags = PartialConfig {
            epochs: Some(7),
            ..Default::default()
        };
        let merged = file.merge(flags);
        assert_eq!(merged.epochs, Some(7));
        assert_eq!(merged.seed, Some(1));
    }

    #[test]
    fn invalid_settings_name_value_and_fix() {
        let cases: Vec<(PartialConfig, &str)> = vec![
            (
                PartialConfig {
                    learning_rate: Some(0.0),
                    ..Default::default()
                },
                "invalid learning_rate 0: the learning rate must be a finite number > 0",
            ),
            (
                PartialConfig {
                    learning_rate: Some(f32::NAN),
                    ..Default::default()
                },
                "invalid learning_rate NaN",
            ),
            (
                PartialConfig {
                    batch_size: Some(0),
                    ..Default::default()
                },
                "invalid batch_size 0: it must be at least 1",
            ),
            (
                PartialConfig {
                    train_samples: Some(0),
                    ..Default::default()
                },
                "invalid train_samples 0",
            ),
            (
                PartialConfig {
                    test_samples: Some(0),
                    ..Default::default()
                },
                "invalid test_samples 0",
            ),
            (
                PartialConfig {
                    train_samples: Some(MAX_SAMPLES + 1),
                    ..Default::default()
                },
                "invalid train_samples 10000001: it must be at most 10000000",
            ),
            // Without the limit, checking this count requested 88 TB of memory and aborted.
            (
                PartialConfig {
                    test_samples: Some(10_993_161_855_452),
                    ..Default::default()
                },
                "invalid test_samples 10993161855452: it must be at most 10000000",
            ),
            (
                PartialConfig {
                    train_range: Some("1:-1".parse().unwrap()),
                    ..Default::default()
                },
                "invalid train_range 1:-1: a range needs finite bounds with LO < HI",
            ),
            (
                PartialConfig {
                    test_range: Some(Interval::new(2.0, 2.0)),
                    ..Default::default()
                },
                "invalid test_range 2:2",
            ),
            (
                PartialConfig {
                    activation: Some("rleu".into()),
                    ..Default::default()
                },
                "known activations are linear, relu,",
            ),
            (
                PartialConfig {
                    optimizer: Some("rmsprop".into()),
                    ..Default::default()
                },
                "invalid optimizer \"rmsprop\": known optimizers are sgd, adam",
            ),
            (
                PartialConfig {
                    loss: Some("hinge".into()),
                    ..Default::default()
                },
                "known losses are mean_squared_error",
            ),
            (
                PartialConfig {
                    function: Some("x^".into()),
                    ..Default::default()
                },
                "invalid expression \"x^\"",
            ),
            (
                PartialConfig {
                    function: Some("y".into()),
                    ..Default::default()
                },
                "unknown variable",
            ),
            (
                PartialConfig {
                    noise: Some(-1.0),
                    ..Default::default()
                },
                "invalid noise -1",
            ),
            (
                PartialConfig {
                    layers: Some(vec![30, 0]),
                    ..Default::default()
                },
                "a hidden layer has 0 units",
            ),
            (
                PartialConfig {
                    optimizer: Some("adam".into()),
                    momentum: Some(0.9),
                    ..Default::default()
                },
                "momentum applies only to the sgd optimizer",
            ),
            (
                PartialConfig {
                    function: Some("ln(x)".into()),
                    ..Default::default()
                },
                "the function ln(x) is NaN at x = -1, inside the train_range",
            ),
        ];
        for (partial, expected) in cases {
            let message = resolve(partial).unwrap_err();
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }

    #[test]
    fn interval_parses_negative_bounds() {
        assert_eq!("-1:1".parse(), Ok(Interval::new(-1.0, 1.0)));
        assert_eq!(" -2.5 : 1e1".parse(), Ok(Interval::new(-2.5, 10.0)));
        assert!(
            "1".parse::<Interval>()
                .unwrap_err()
                .contains("write it as LO:HI")
        );
        assert!(
            "a:1"
                .parse::<Interval>()
                .unwrap_err()
                .contains("\"a\" in \"a:1\" is not a number")
        );
    }

    #[test]
    fn dataset_config_round_trips_through_json() {
        let partial = PartialConfig {
            dataset: Some("gdp".into()),
            scale: Some("minmax".into()),
            ..Default::default()
        };
        let config = partial.resolve().unwrap();
        let Source::Table(source) = &config.source else {
            panic!("a dataset gives a table")
        };
        assert_eq!(source.time, ["year", "quarter"]);
        assert_eq!(source.split, Split::Until(1995.75));

        let json_text = serde_json::to_string(&config).unwrap();
        let again: ExperimentConfig = serde_json::from_str(&json_text).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn train_ranges_parse_per_column() {
        let ranges: TrainRanges = "a=0:1,b=-2:2".parse().unwrap();
        assert_eq!(ranges.0.len(), 2);
        assert_eq!(ranges.single(), None);
        assert_eq!(ranges.to_string(), "a=0:1,b=-2:2");
        assert_eq!(
            "-1:1".parse::<TrainRanges>().unwrap().single(),
            Some(Interval::new(-1.0, 1.0))
        );
    }

    #[test]
    fn delimiter_accepts_tab_word() {
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert!(parse_delimiter(";;").is_err());
    }

    #[test]
    fn linspace_matches_numpy() {
        let points = Interval::new(-1.0, 1.0).linspace(5);
        assert_eq!(points, [-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(Interval::new(0.0, 1.0).linspace(1), [0.0]);
    }

    #[test]
    fn resolved_config_round_trips_through_toml_and_json() {
        let config = ExperimentConfig::default_experiment();
        let toml_text = toml::to_string(&config).unwrap();
        assert!(
            toml_text.contains("train_range = [-1.0, 1.0]"),
            "{toml_text}"
        );
        let from_toml: PartialConfig = toml::from_str(&toml_text).unwrap();
        assert_eq!(from_toml.resolve().unwrap(), config);

        let json_text = serde_json::to_string(&config).unwrap();
        let from_json: PartialConfig = serde_json::from_str(&json_text).unwrap();
        assert_eq!(from_json.resolve().unwrap(), config);
    }
}
