//! The settings of an experiment: read from a file and from flags, merged, then checked
//! once, so that the rest of the program only ever sees valid settings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::expression::Expression;
use crate::loss::Loss;
use crate::optimizer::OptimizerConfig;

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

/// Settings that may each be missing: what a config file or the flags give. Unknown
/// keys in a file are rejected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartialConfig {
    pub function: Option<String>,
    pub train_range: Option<Interval>,
    pub test_range: Option<Interval>,
    pub train_samples: Option<usize>,
    pub test_samples: Option<usize>,
    pub noise: Option<f64>,
    pub layers: Option<Vec<usize>>,
    pub activation: Option<String>,
    pub optimizer: Option<String>,
    pub learning_rate: Option<f32>,
    pub momentum: Option<f32>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub loss: Option<String>,
    pub seed: Option<u64>,
}

/// The complete, checked settings of an experiment. Written into `metrics.json` as
/// `config`; that object, saved as a TOML or JSON file and passed back with
/// `--config`, reproduces the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// The target function of `x`; default `x^2`.
    pub function: Expression,
    /// The inputs the model trains on; default `[-1, 1]`.
    pub train_range: Interval,
    /// The inputs the model is tested on; default `[-2, 2]`.
    pub test_range: Interval,
    /// Evenly spaced training points; default 10,000.
    pub train_samples: usize,
    /// Evenly spaced test points; default 10,000.
    pub test_samples: usize,
    /// Standard deviation of Gaussian noise added to training targets; default 0.
    pub noise: f64,
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
}

impl PartialConfig {
    /// Returns these settings with every setting that `other` gives replaced by it.
    pub fn merge(self, other: PartialConfig) -> PartialConfig {
        PartialConfig {
            function: other.function.or(self.function),
            train_range: other.train_range.or(self.train_range),
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
        }
    }

    /// Fills in the defaults and checks every setting.
    pub fn resolve(self) -> Result<ExperimentConfig, ConfigError> {
        let optimizer_name = self
            .optimizer
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
            function: self.function.as_deref().unwrap_or("x^2").parse()?,
            train_range: self.train_range.unwrap_or(Interval::new(-1.0, 1.0)),
            test_range: self.test_range.unwrap_or(Interval::new(-2.0, 2.0)),
            train_samples: self.train_samples.unwrap_or(10_000),
            test_samples: self.test_samples.unwrap_or(10_000),
            noise: self.noise.unwrap_or(0.0),
            layers: self.layers.unwrap_or_else(|| vec![30]),
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
        };
        config.validate()?;
        Ok(config)
    }
}

impl ExperimentConfig {
    /// The default experiment: a 1-30-1 ReLU network fitted to `x^2` on [-1, 1] with SGD.
    pub fn default_experiment() -> Self {
        PartialConfig::default()
            .resolve()
            .expect("the defaults are valid")
    }

    /// Checks every setting, including that the function is finite over both ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.train_range.validate("train_range")?;
        self.test_range.validate("test_range")?;
        for (setting, value) in [
            ("train_samples", self.train_samples),
            ("test_samples", self.test_samples),
            ("batch_size", self.batch_size),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { setting });
            }
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(ConfigError::InvalidNoise(self.noise));
        }
        if self.layers.contains(&0) {
            return Err(ConfigError::ZeroWidth);
        }
        self.optimizer_config()?.validate()?;

        self.check_function_finite("train_range", self.train_range, self.train_samples)?;
        self.check_function_finite("test_range", self.test_range, self.test_samples)
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

    fn check_function_finite(
        &self,
        setting: &'static str,
        range: Interval,
        samples: usize,
    ) -> Result<(), ConfigError> {
        for x in range.linspace(samples) {
            let value = self.function.eval(x as f32 as f64);
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
        assert_eq!(config.function.as_str(), "x^2");
        assert_eq!(config.train_range, Interval::new(-1.0, 1.0));
        assert_eq!(config.test_range, Interval::new(-2.0, 2.0));
        assert_eq!(
            (config.train_samples, config.test_samples),
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
                    train_range: Some(Interval::new(1.0, -1.0)),
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
    fn linspace_matches_numpy() {
        let points = Interval::new(-1.0, 1.0).linspace(5);
        assert_eq!(points, [-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(Interval::new(0.0, 1.0).linspace(1), [0.0]);
    }

    #[test]
    fn resolved_config_round_trips_through_toml_and_json() {
        let config = ExperimentConfig::default_experiment();
        let toml_text = toml::to_string(&config).unwrap();
        let from_toml: PartialConfig = toml::from_str(&toml_text).unwrap();
        assert_eq!(from_toml.resolve().unwrap(), config);

        let json_text = serde_json::to_string(&config).unwrap();
        let from_json: PartialConfig = serde_json::from_str(&json_text).unwrap();
        assert_eq!(from_json.resolve().unwrap(), config);
    }
}
