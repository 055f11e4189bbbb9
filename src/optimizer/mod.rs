//! Optimizers that update parameters from their gradients.

mod adam;
mod sgd;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use adam::Adam;
pub use sgd::Sgd;

/// An optimizer with its state, updating one parameter tensor at a time.
///
/// A training step calls [`Optimizer::begin_step`] once, then [`Optimizer::update`]
/// for every parameter tensor of the model in a fixed order, so that `index`
/// identifies the tensor's state.
pub trait Optimizer: Send + fmt::Debug {
    /// Allocates zeroed state for parameter tensors of the given lengths, in the
    /// order that `update` will see them.
    fn build(&mut self, lengths: &[usize]);

    /// Starts a training step.
    fn begin_step(&mut self);

    /// Updates `values` in place from `gradient`.
    fn update(&mut self, index: usize, values: &mut [f32], gradient: &[f32]);

    /// The settings that rebuild this optimizer.
    fn config(&self) -> OptimizerConfig;

    /// A copy of the state that later steps depend on, for checkpoints.
    fn state(&self) -> OptimizerState;

    /// Replaces the state with one taken by [`Optimizer::state`] from an optimizer with
    /// the same settings, built for the same parameter lengths.
    fn set_state(&mut self, state: &OptimizerState) -> Result<(), String>;
}

/// The state of an optimizer: its step count and its per-parameter slots (SGD's
/// velocities, or Adam's first moments followed by its second moments).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OptimizerState {
    /// Steps taken.
    pub iterations: u64,
    /// Slot tensors, each as long as its parameter tensor.
    pub slots: Vec<Vec<f32>>,
}

impl OptimizerState {
    /// Copies `slots` into `target` after checking that the counts and lengths match.
    pub(crate) fn copy_slots(&self, target: &mut [Vec<f32>]) -> Result<(), String> {
        if self.slots.len() != target.len() {
            return Err(format!(
                "the state has {} slot tensors, the optimizer {}",
                self.slots.len(),
                target.len()
            ));
        }
        for (index, (slot, saved)) in target.iter_mut().zip(&self.slots).enumerate() {
            if slot.len() != saved.len() {
                return Err(format!(
                    "slot {index} has {} values, the optimizer needs {}",
                    saved.len(),
                    slot.len()
                ));
            }
            slot.copy_from_slice(saved);
        }
        Ok(())
    }
}

/// The settings of an optimizer, with Keras's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Stochastic gradient descent; see [`Sgd`].
    Sgd {
        learning_rate: f32,
        momentum: f32,
        nesterov: bool,
    },
    /// Adam; see [`Adam`].
    Adam {
        learning_rate: f32,
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
    },
}

/// An optimizer setting that is out of its valid range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid {name} {value}: {expected}")]
pub struct InvalidOptimizerSetting {
    /// The setting's name, such as `learning_rate`.
    pub name: &'static str,
    /// The value given.
    pub value: f32,
    /// The valid range, in words.
    pub expected: &'static str,
}

impl OptimizerConfig {
    /// The optimizer names that [`OptimizerConfig::default_for`] accepts.
    pub const NAMES: [&'static str; 2] = ["sgd", "adam"];

    /// Keras's SGD: learning rate 0.01, no momentum.
    pub const SGD: OptimizerConfig = OptimizerConfig::Sgd {
        learning_rate: 0.01,
        momentum: 0.0,
        nesterov: false,
    };

    /// Keras's Adam: learning rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7.
    pub const ADAM: OptimizerConfig = OptimizerConfig::Adam {
        learning_rate: 0.001,
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-7,
    };

    /// Returns Keras's defaults for the optimizer called `name` (case-insensitive).
    pub fn default_for(name: &str) -> Option<OptimizerConfig> {
        match name.trim().to_ascii_lowercase().as_str() {
            "sgd" => Some(Self::SGD),
            "adam" => Some(Self::ADAM),
            _ => None,
        }
    }

    /// The optimizer's name in lower case.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Sgd { .. } => "sgd",
            OptimizerConfig::Adam { .. } => "adam",
        }
    }

    /// The learning rate.
    pub fn learning_rate(&self) -> f32 {
        match *self {
            OptimizerConfig::Sgd { learning_rate, .. }
            | OptimizerConfig::Adam { learning_rate, .. } => learning_rate,
        }
    }

    /// Checks every setting against its valid range.
    pub fn validate(&self) -> Result<(), InvalidOptimizerSetting> {
        check(
            "learning_rate",
            self.learning_rate(),
            |v| v > 0.0,
            "the learning rate must be a finite number > 0, such as 0.01",
        )?;
        match *self {
            OptimizerConfig::Sgd { momentum, .. } => check(
                "momentum",
                momentum,
                |v| (0.0..1.0).contains(&v),
                "momentum must be in [0, 1), such as 0.9",
            ),
            OptimizerConfig::Adam {
                beta_1,
                beta_2,
                epsilon,
                ..
            } => {
                check(
                    "beta_1",
                    beta_1,
                    |v| (0.0..1.0).contains(&v),
                    "beta_1 must be in [0, 1)",
                )?;
                check(
                    "beta_2",
                    beta_2,
                    |v| (0.0..1.0).contains(&v),
                    "beta_2 must be in [0, 1)",
                )?;
                check(
                    "epsilon",
                    epsilon,
                    |v| v > 0.0,
                    "epsilon must be a finite number > 0",
                )
            }
        }
    }

    /// Builds the optimizer, after checking its settings.
    pub fn build(&self) -> Result<Box<dyn Optimizer>, InvalidOptimizerSetting> {
        self.validate()?;
        Ok(match *self {
            OptimizerConfig::Sgd {
                learning_rate,
                momentum,
                nesterov,
            } => Box::new(
                Sgd::new(learning_rate)
                    .with_momentum(momentum)
                    .with_nesterov(nesterov),
            ),
            OptimizerConfig::Adam {
                learning_rate,
                beta_1,
                beta_2,
                epsilon,
            } => Box::new(
                Adam::new(learning_rate)
                    .with_betas(beta_1, beta_2)
                    .with_epsilon(epsilon),
            ),
        })
    }
}

fn check(
    name: &'static str,
    value: f32,
    valid: impl Fn(f32) -> bool,
    expected: &'static str,
) -> Result<(), InvalidOptimizerSetting> {
    if value.is_finite() && valid(value) {
        Ok(())
    } else {
        Err(InvalidOptimizerSetting {
            name,
            value,
            expected,
        })
    }
}

impl fmt::Display for OptimizerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OptimizerConfig::Sgd {
                learning_rate,
                momentum,
                nesterov,
            } => write!(
                f,
                "SGD(learning_rate={learning_rate}, momentum={momentum}, nesterov={nesterov})"
            ),
            OptimizerConfig::Adam {
                learning_rate,
                beta_1,
                beta_2,
                epsilon,
            } => write!(
                f,
                "Adam(learning_rate={learning_rate}, beta_1={beta_1}, beta_2={beta_2}, epsilon={epsilon})"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rate_must_be_positive_and_finite() {
        for bad in [0.0, -0.1, f32::NAN, f32::INFINITY] {
            let config = OptimizerConfig::Sgd {
                learning_rate: bad,
                momentum: 0.0,
                nesterov: false,
            };
            let error = config.validate().unwrap_err();
            assert_eq!(error.name, "learning_rate");
        }
    }

    #[test]
    fn momentum_one_is_rejected() {
        let config = OptimizerConfig::Sgd {
            learning_rate: 0.1,
            momentum: 1.0,
            nesterov: false,
        };
        let message = config.validate().unwrap_err().to_string();
        assert_eq!(
            message,
            "invalid momentum 1: momentum must be in [0, 1), such as 0.9"
        );
    }

    #[test]
    fn defaults_are_keras_defaults() {
        assert_eq!(
            OptimizerConfig::default_for("SGD"),
            Some(OptimizerConfig::SGD)
        );
        assert_eq!(
            OptimizerConfig::default_for("adam")
                .unwrap()
                .learning_rate(),
            0.001
        );
        assert_eq!(OptimizerConfig::default_for("rmsprop"), None);
    }
}
