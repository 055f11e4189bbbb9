//! Adam: adaptive moment estimation.

use super::{Optimizer, OptimizerConfig, OptimizerState};

/// Adam (Kingma and Ba, 2014) with Keras's update rule.
///
/// At step `t` (from 1), with gradient `g`:
/// ```text
/// lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
/// m = m + (g - m) * (1 - beta_1)
/// v = v + (g² - v) * (1 - beta_2)
/// w = w - lr_t * m / (sqrt(v) + epsilon)
/// ```
/// `m` and `v` start at zero. Defaults: learning rate 0.001, beta_1 0.9,
/// beta_2 0.999, epsilon 1e-7.
#[derive(Debug, Clone)]
pub struct Adam {
    learning_rate: f32,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    iterations: u64,
    step_size: f32,
    first_moments: Vec<Vec<f32>>,
    second_moments: Vec<Vec<f32>>,
}

impl Adam {
    /// Creates Adam with the given learning rate and Keras's other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Adam {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            iterations: 0,
            step_size: 0.0,
            first_moments: Vec::new(),
            second_moments: Vec::new(),
        }
    }

    /// Sets the decay rates of the first and second moment estimates.
    pub fn with_betas(mut self, beta_1: f32, beta_2: f32) -> Self {
        self.beta_1 = beta_1;
        self.beta_2 = beta_2;
        self
    }

    /// Sets epsilon, the constant added to the denominator.
    pub fn with_epsilon(mut self, epsilon: f32) -> Self {
        self.epsilon = epsilon;
        self
    }
}

impl Default for Adam {
    fn default() -> Self {
        Adam::new(0.001)
    }
}

impl Optimizer for Adam {
    fn build(&mut self, lengths: &[usize]) {
        self.iterations = 0;
        self.first_moments = lengths.iter().map(|&length| vec![0.0; length]).collect();
        self.second_moments = self.first_moments.clone();
    }

    fn begin_step(&mut self) {
        self.iterations += 1;

        let t = self.iterations as i32;
        let correction_1 = 1.0 - (self.beta_1 as f64).powi(t);
        let correction_2 = 1.0 - (self.beta_2 as f64).powi(t);
        self.step_size = (self.learning_rate as f64 * correction_2.sqrt() / correction_1) as f32;
    }

    fn update(&mut self, index: usize, values: &mut [f32], gradient: &[f32]) {
        let (one_minus_beta_1, one_minus_beta_2) = (1.0 - self.beta_1, 1.0 - self.beta_2);
        let m = &mut self.first_moments[index];
        let v = &mut self.second_moments[index];
        for (((w, &g), m), v) in values
            .iter_mut()
            .zip(gradient)
            .zip(m.iter_mut())
            .zip(v.iter_mut())
        {
            *m += (g - *m) * one_minus_beta_1;
            *v += (g * g - *v) * one_minus_beta_2;
            *w -= self.step_size * *m / (v.sqrt() + self.epsilon);
        }
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            iterations: self.iterations,
            slots: self
                .first_moments
                .iter()
                .chain(&self.second_moments)
                .cloned()
                .collect(),
        }
    }

    fn set_state(&mut self, state: &OptimizerState) -> Result<(), String> {
        let half = self.first_moments.len();
        let mut all: Vec<Vec<f32>> = self
            .first_moments
            .iter()
            .chain(&self.second_moments)
            .cloned()
            .collect();
        state.copy_slots(&mut all)?;
        self.second_moments = all.split_off(half);
        self.first_moments = all;
        self.iterations = state.iterations;
        Ok(())
    }

    fn config(&self) -> OptimizerConfig {
        OptimizerConfig::Adam {
            learning_rate: self.learning_rate,
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_by_learning_rate() {
        // At t = 1 the bias corrections cancel, so the step is close to lr * sign(g).
        let mut adam = Adam::default();
        adam.build(&[1]);
        adam.begin_step();
        let mut w = [1.0f32];
        adam.update(0, &mut w, &[2.0]);

        let m = 0.1 * 2.0;
        let v = 0.001 * 4.0;
        let lr_t = 0.001 * (0.001f64).sqrt() / 0.1;
        let expected = 1.0 - lr_t * m / (f64::sqrt(v) + 1e-7);
        assert!(
            (w[0] as f64 - expected).abs() < 1e-7,
            "{} against {expected}",
            w[0]
        );
    }
}
