//! Command-line flags, parsed by clap and turned into partial settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use outrange::config::{Interval, PartialConfig, TrainRanges};

/// Train small neural networks and measure what they do outside their training range.
///
/// With no arguments, `outrange run` reproduces a classic Keras experiment: a
/// Dense(30, relu) → Dense(1) network fitted with SGD for 40 epochs to y = x² on
/// [-1, 1], then asked to predict on [-2, 2].
#[derive(Debug, Parser)]
#[command(name = "outrange", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a network on a function and measure it inside and outside its training range.
    ///
    /// Exit codes: 0 success, 1 training or writing failed, 2 invalid settings or input,
    /// 130 interrupted with Ctrl-C (the model and finished epochs are saved).
    Run(Box<RunArgs>),

    /// Train several variants over several seeds, in parallel, and compare how they
    /// extrapolate.
    ///
    /// Exit codes: 0 success, 1 a run or writing failed, 2 invalid settings or input,
    /// 130 interrupted (the finished runs are kept and summarised).
    Compare(Box<CompareArgs>),

    /// Apply a saved model to the input columns of a CSV file.
    ///
    /// Exit codes: 0 success, 1 writing failed, 2 invalid model or input.
    Predict(PredictArgs),

    /// Print a saved model's layers, metadata and training settings.
    Inspect(InspectArgs),

    /// List the bundled datasets that `run --dataset NAME` takes.
    Datasets,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The model file, such as runs/run-001/model.safetensors
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,

    /// CSV file with the model's input columns
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,

    /// CSV file to write: the inputs and a prediction column
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,

    /// Input columns by header name or 0-based index [default: those the model was trained on]
    #[arg(long, value_name = "COL[,COL...]", value_delimiter = ',')]
    pub x: Option<Vec<String>>,

    /// Time columns, as for `run --time` [default: those the model was trained with]
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    pub time: Option<Vec<String>>,

    /// CSV field delimiter: a character such as `;`, or `tab` [default: detected]
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,

    /// Rows with empty or NaN inputs: error or drop [default: error]
    #[arg(long, value_name = "POLICY")]
    pub missing: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The model file
    pub model: PathBuf,
}

/// How much progress to print while training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Verbosity {
    /// Nothing but the results.
    #[value(name = "0")]
    Silent,
    /// A progress bar per epoch on a terminal; one line per epoch otherwise.
    #[value(name = "1")]
    Bar,
    /// One line per epoch with its loss and time.
    #[value(name = "2")]
    Lines,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Write checkpoint.safetensors into the output directory every N epochs, so that
    /// --resume can continue the run
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<usize>,

    /// Continue the run in DIR from its checkpoint.safetensors, with its settings, and
    /// write the results into DIR
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "config"])]
    pub resume: Option<PathBuf>,
}

/// Where results go and how much progress is printed.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output directory, created if missing [default: a new runs/run-NNN]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Allow writing into a non-empty --out directory, replacing its files
    #[arg(long)]
    pub overwrite: bool,

    /// Progress while training: 0 none, 1 a bar (one line per epoch when not on a
    /// terminal), 2 one line per epoch [default: 1]
    #[arg(long, value_name = "LEVEL")]
    pub verbose: Option<Verbosity>,
}

/// Settings of a comparison beyond those of a single run.
#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Variants that differ only in the hidden activation, comma-separated, such as
    /// relu,tanh,sin,snake [default: relu,tanh,sin,snake]
    #[arg(
        long,
        value_name = "NAME[,NAME...]",
        value_delimiter = ',',
        conflicts_with = "plan"
    )]
    pub models: Option<Vec<String>>,

    /// A TOML file of named variants: [[variant]] tables with `name` and any settings of
    /// `run`, applied over the flags
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,

    /// Seeds per variant: the --seed value and the ones after it [default: 5]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub seeds: Option<u64>,

    /// Runs trained at once, one per thread [default: the number of cores]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub threads: Option<usize>,
}

/// The settings of an experiment, each optional: flags override the --config file.
#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Read settings from a TOML or JSON file; flags override it. The `config` object
    /// of a run's metrics.json is such a file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Target function of x, such as `x^2` or `sin(3*x)` [default: x^2]
    #[arg(long, value_name = "EXPR", allow_hyphen_values = true)]
    pub function: Option<String>,

    /// Train on columns of a CSV file instead of a function
    #[arg(long, value_name = "FILE", conflicts_with = "dataset")]
    pub data: Option<PathBuf>,

    /// Train on a bundled series: co2, sunspots or gdp (see `outrange datasets`)
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,

    /// Input columns of the CSV file, by header name or 0-based index
    #[arg(long, value_name = "COL[,COL...]", value_delimiter = ',')]
    pub x: Option<Vec<String>>,

    /// Target column of the CSV file, by header name or 0-based index
    #[arg(long, value_name = "COL")]
    pub y: Option<String>,

    /// Time columns, turned into decimal years: one column of YYYYMMDD or YYYY-MM-DD
    /// dates, or a year and a quarter or month column, as in `--time year,quarter`
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    pub time: Option<Vec<String>>,

    /// CSV field delimiter: a character such as `;`, or `tab` [default: detected]
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,

    /// Rows with empty or NaN cells: `error` stops with their location, `drop` drops
    /// them and reports how many [default: error; drop for co2]
    #[arg(long, value_name = "POLICY")]
    pub missing: Option<String>,

    /// Inputs to train on: LO:HI for the only input, or COL=LO:HI[,COL=LO:HI] per input
    /// [default: -1:1 for a function]
    #[arg(long, value_name = "LO:HI", allow_hyphen_values = true)]
    pub train_range: Option<TrainRanges>,

    /// CSV data: rows whose first input is at most VALUE train, such as a year
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub train_until: Option<f64>,

    /// CSV data: the first fraction F of the rows in file order train [default: 0.8]
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub train_fraction: Option<f64>,

    /// CSV data: scaling of inputs and target, fitted on the training rows:
    /// standard, minmax or none [default: standard]
    #[arg(long, value_name = "KIND")]
    pub scale: Option<String>,

    /// Function: inputs to test on [default: -2:2]
    #[arg(long, value_name = "LO:HI", allow_hyphen_values = true)]
    pub test_range: Option<Interval>,

    /// Function: evenly spaced training points [default: 10000]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub train_samples: Option<usize>,

    /// Function: evenly spaced test points [default: 10000]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub test_samples: Option<usize>,

    /// Function: standard deviation of Gaussian noise on training targets [default: 0]
    #[arg(long, value_name = "STD", allow_negative_numbers = true)]
    pub noise: Option<f64>,

    /// Widths of the hidden Dense layers, comma-separated [default: 30]
    #[arg(long, value_name = "W[,W...]", value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,

    /// Hidden-layer activation: linear, relu, leaky_relu(ALPHA), elu(ALPHA), selu, gelu,
    /// sigmoid, tanh, softplus, silu, sin, snake(A) [default: relu]
    #[arg(long, value_name = "NAME")]
    pub activation: Option<String>,

    /// Optimizer: sgd or adam [default: sgd]
    #[arg(long, value_name = "NAME")]
    pub optimizer: Option<String>,

    /// Learning rate [default: 0.01 for sgd, 0.001 for adam]
    #[arg(long, value_name = "LR", allow_hyphen_values = true)]
    pub learning_rate: Option<f32>,

    /// SGD momentum, in [0, 1) [default: 0]
    #[arg(long, value_name = "M", allow_hyphen_values = true)]
    pub momentum: Option<f32>,

    /// Passes over the training data; 0 trains nothing [default: 40]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub epochs: Option<usize>,

    /// Rows per optimizer step [default: 32]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub batch_size: Option<usize>,

    /// Loss: mean_squared_error (mse), mean_absolute_error (mae), huber(DELTA)
    /// [default: mean_squared_error]
    #[arg(long, value_name = "NAME")]
    pub loss: Option<String>,

    /// Hold out the last fraction F of the training rows (largest inputs for a function,
    /// last in file order for a table) to report val_loss each epoch, like Keras
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub validation_split: Option<f64>,

    /// With --validation-split: draw the held-out rows at random with the seed instead
    #[arg(long)]
    pub shuffle_before_split: bool,

    /// Report val_loss each epoch on the rows of this CSV file (same columns; x and y
    /// for a function)
    #[arg(long, value_name = "FILE")]
    pub validation_data: Option<PathBuf>,

    /// Stop when val_loss (or loss without validation) has not improved for PATIENCE
    /// epochs, and restore the best epoch's weights
    #[arg(long, value_name = "PATIENCE")]
    pub early_stopping: Option<usize>,

    /// With --early-stopping: keep the last epoch's weights instead of the best
    #[arg(long)]
    pub no_restore_best_weights: bool,

    /// Seed of the weights, the shuffling and the noise [default: 42]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub seed: Option<u64>,
}

impl SettingsArgs {
    /// The settings given as flags.
    pub fn partial_config(&self) -> PartialConfig {
        PartialConfig {
            function: self.function.clone(),
            // An absolute path keeps a saved config valid from any working directory.
            data: self
                .data
                .as_deref()
                .map(|path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())),
            dataset: self.dataset.clone(),
            x: self.x.clone(),
            y: self.y.clone(),
            time: self.time.clone(),
            delimiter: self.delimiter.clone(),
            missing: self.missing.clone(),
            train_range: self.train_range.clone(),
            train_until: self.train_until,
            train_fraction: self.train_fraction,
            scale: self.scale.clone(),
            test_range: self.test_range,
            train_samples: self.train_samples,
            test_samples: self.test_samples,
            noise: self.noise,
            layers: self.layers.clone(),
            activation: self.activation.clone(),
            optimizer: self.optimizer.clone(),
            learning_rate: self.learning_rate,
            momentum: self.momentum,
            epochs: self.epochs,
            batch_size: self.batch_size,
            loss: self.loss.clone(),
            seed: self.seed,
            validation_split: self.validation_split,
            shuffle_before_split: self.shuffle_before_split.then_some(true),
            validation_data: self
                .validation_data
                .as_deref()
                .map(|path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())),
            early_stopping: self.early_stopping,
            restore_best_weights: self.no_restore_best_weights.then_some(false),
        }
    }
}
