//! Command-line flags, parsed by clap and turned into partial settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use outrange::config::{Interval, PartialConfig};

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
    /// Exit codes: 0 success, 1 training or writing failed, 2 invalid settings.
    Run(RunArgs),
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
    /// Read settings from a TOML or JSON file; flags override it. The `config` object
    /// of a run's metrics.json is such a file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Target function of x, such as `x^2` or `sin(3*x)` [default: x^2]
    #[arg(long, value_name = "EXPR", allow_hyphen_values = true)]
    pub function: Option<String>,

    /// Inputs to train on [default: -1:1]
    #[arg(long, value_name = "LO:HI", allow_hyphen_values = true)]
    pub train_range: Option<Interval>,

    /// Inputs to test on [default: -2:2]
    #[arg(long, value_name = "LO:HI", allow_hyphen_values = true)]
    pub test_range: Option<Interval>,

    /// Evenly spaced training points [default: 10000]
    #[arg(long, value_name = "N")]
    pub train_samples: Option<usize>,

    /// Evenly spaced test points [default: 10000]
    #[arg(long, value_name = "N")]
    pub test_samples: Option<usize>,

    /// Standard deviation of Gaussian noise added to training targets [default: 0]
    #[arg(long, value_name = "STD")]
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
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,

    /// Rows per optimizer step [default: 32]
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,

    /// Loss: mean_squared_error (mse), mean_absolute_error (mae), huber(DELTA)
    /// [default: mean_squared_error]
    #[arg(long, value_name = "NAME")]
    pub loss: Option<String>,

    /// Seed of the weights, the shuffling and the noise [default: 42]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Output directory, created if missing [default: a new runs/run-N]
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

impl RunArgs {
    /// The settings given as flags.
    pub fn partial_config(&self) -> PartialConfig {
        PartialConfig {
            function: self.function.clone(),
            train_range: self.train_range,
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
        }
    }
}
