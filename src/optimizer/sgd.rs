//! Stochastic gradient descent, with optional momentum.

use super::{Optimizer, OptimizerConfig, OptimizerState};

/// Stochastic gradient descent with Keras's update rule.
///
/// With gradient `g` and learning rate `lr`:
/// - without momentum: `w = w - lr * g`;
/// - with momentum `m`: `v = m * v - lr * g`, then `w = w + v`;
/// - with Nesterov momentum: `v = m * v - lr * g`, then `w = w + m * v - lr * g`.
///
/// `v` starts at zero. Defaults: learning rate 0.01, momentum 0, Nesterov off.
#[derive(Debug, Clone)]
pub struct Sgd {
    learning_rate: f32,
    momentum: f32,
    nesterov: bool,
    velocities: Vec<Vec<f32>>,
}

impl Sgd {
    /// Creates plain SGD with the given learning rate.
    pub fn new(learning_rate: f32) -> Self {
        Sgd {
            learning_rate,
            momentum: 0.0,
            nesterov: false,
            velocities: Vec::new(),
        }
    }

    /// Sets the momentum, in [0, 1).
    pub fn with_momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// Switches Nesterov momentum on or off.
    pub fn with_nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd::new(0.01)
    }
}

impl Optimizer for Sgd {
    fn build(&mut self, lengths: &[usize]) {
        self.velocities = if self.momentum == 0.0 {
            Vec::new()
        } else {
            lengths.iter().map(|&length| vec![0.0; length]).collect()
        };
    }

    fn begin_step(&mut self) {}

    fn update(&mut self, index: usize, values: &mut [f32], gradient: &[f32]) {
        let lr = self.learning_rate;
        if self.momentum == 0.0 {
            for (w, &g) in values.iter_mut().zip(gradient) {
                *w -= lr * g;
            }
            return;
        }

        let m = self.momentum;
        let velocity = &mut self.velocities[index];
        for ((w, &g), v) in values.iter_mut().zip(gradient).zip(velocity.iter_mut()) {
            *v = m * *v - lr * g;
            if self.nesterov {
                *w += m * *v - lr * g;
            } else {
                *w += *v;
            }
        }
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            iterations: 0,
            slots: self.velocities.clone(),
        }
    }

    fn set_state(&mut self, state: &OptimizerState) -> Result<(), String> {
        state.copy_slots(&mut self.velocities)
    }

    fn config(&self) -> OptimizerConfig {
        OptimizerConfig::Sgd {
            learning_rate: self.learning_rate,
            momentum: self.momentum,
            nesterov: self.nesterov,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_steps_match_hand_computation() {
        // lr 0.1, m 0.9, g = 1 twice: v1 = -0.1, w1 = 0.9; v2 = -0.19, w2 = 0.71.
        let mut sgd = Sgd::new(0.1).with_momentum(0.9);
        sgd.build(&[1]);
        let mut w = [1.0f32];
        sgd.update(0, &mut w, &[1.0]);
        assert!((w[0] - 0.9).abs() < 1e-7);
        sgd.update(0, &mut w, &[1.0]);
        assert!((w[0] - 0.71).abs() < 1e-6);
    }

    #[test]
    fn nesterov_steps_match_hand_computation() {
        // v1 = -0.1, w1 = 1 + 0.9 * -0.1 - 0.1 = 0.81.
        let mut sgd = Sgd::new(0.1).with_momentum(0.9).with_nesterov(true);
        sgd.build(&[1]);
        let mut w = [1.0f32];
        sgd.update(0, &mut w, &[1.0]);
        assert!((w[0] - 0.81).abs() < 1e-6);
    }
}
