//! Losses that compare predictions with targets.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A loss, averaged over every element of a batch (rows × outputs), as Keras does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Loss {
    /// `(p - y)²`; the default.
    MeanSquaredError,
    /// `|p - y|`; the gradient at `p = y` is taken as 0.
    MeanAbsoluteError,
    /// `½(p - y)²` where `|p - y| ≤ delta`, else `delta · (|p - y| - ½ delta)`; default
    /// `delta` 1.
    Huber { delta: f32 },
}

impl Loss {
    /// The names accepted by [`Loss::from_str`], with Keras's short aliases.
    pub const NAMES: [&'static str; 3] = [
        "mean_squared_error (mse)",
        "mean_absolute_error (mae)",
        "huber(DELTA)",
    ];

    /// Returns the loss of one element.
    pub fn element(self, prediction: f32, target: f32) -> f64 {
        let error = prediction as f64 - target as f64;
        match self {
            Loss::MeanSquaredError => error * error,
            Loss::MeanAbsoluteError => error.abs(),
            Loss::Huber { delta } => {
                let delta = delta as f64;
                if error.abs() <= delta {
                    0.5 * error * error
                } else {
                    delta * (error.abs() - 0.5 * delta)
                }
            }
        }
    }

    /// Returns the derivative of one element's loss with respect to the prediction.
    fn element_gradient(self, prediction: f32, target: f32) -> f32 {
        let error = prediction - target;
        match self {
            Loss::MeanSquaredError => 2.0 * error,
            Loss::MeanAbsoluteError => sign(error),
            Loss::Huber { delta } => error.clamp(-delta, delta),
        }
    }

    /// Writes the gradient of the mean loss with respect to each prediction into
    /// `gradient`, and returns the sum of the element losses (in f64).
    ///
    /// # Panics
    /// If the three slices differ in length.
    #[track_caller]
    pub fn sum_and_gradient(
        self,
        predictions: &[f32],
        targets: &[f32],
        gradient: &mut [f32],
    ) -> f64 {
        assert_eq!(predictions.len(), targets.len());
        assert_eq!(predictions.len(), gradient.len());

        let scale = 1.0 / predictions.len() as f32;
        let mut sum = 0.0;
        for ((g, &p), &y) in gradient.iter_mut().zip(predictions).zip(targets) {
            sum += self.element(p, y);
            *g = self.element_gradient(p, y) * scale;
        }
        sum
    }

    /// Returns the sum of the element losses, in f64.
    ///
    /// # Panics
    /// If the slices differ in length.
    #[track_caller]
    pub fn sum(self, predictions: &[f32], targets: &[f32]) -> f64 {
        assert_eq!(predictions.len(), targets.len());
        predictions
            .iter()
            .zip(targets)
            .map(|(&p, &y)| self.element(p, y))
            .sum()
    }
}

fn sign(value: f32) -> f32 {
    if value > 0.0 {
        1.0
    } else if value < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loss::MeanSquaredError => f.write_str("mean_squared_error"),
            Loss::MeanAbsoluteError => f.write_str("mean_absolute_error"),
            Loss::Huber { delta } => write!(f, "huber({delta})"),
        }
    }
}

/// A loss name that could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid loss {text:?}: known losses are {} (DELTA a number > 0)", Loss::NAMES.join(", "))]
pub struct ParseLossError {
    /// The text as given.
    pub text: String,
}

impl FromStr for Loss {
    type Err = ParseLossError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseLossError {
            text: text.to_string(),
        };

        let name = text.trim().to_ascii_lowercase();
        match name.as_str() {
            "mean_squared_error" | "mse" => return Ok(Loss::MeanSquaredError),
            "mean_absolute_error" | "mae" => return Ok(Loss::MeanAbsoluteError),
            "huber" => return Ok(Loss::Huber { delta: 1.0 }),
            _ => {}
        }

        let inner = name
            .strip_prefix("huber(")
            .and_then(|rest| rest.strip_suffix(')'))
            .ok_or_else(invalid)?;
        let delta: f32 = inner.trim().parse().map_err(|_| invalid())?;
        if delta.is_finite() && delta > 0.0 {
            Ok(Loss::Huber { delta })
        } else {
            Err(invalid())
        }
    }
}

impl TryFrom<String> for Loss {
    type Error = ParseLossError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Loss> for String {
    fn from(loss: Loss) -> Self {
        loss.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOSSES: [Loss; 3] = [
        Loss::MeanSquaredError,
        Loss::MeanAbsoluteError,
        Loss::Huber { delta: 0.5 },
    ];

    #[test]
    fn gradient_matches_finite_differences() {
        let targets = [0.3f32, -1.2, 2.0, 0.0];
        let predictions = [0.9f32, -1.1, 0.4, -0.05];
        for loss in LOSSES {
            let mut gradient = [0.0f32; 4];
            loss.sum_and_gradient(&predictions, &targets, &mut gradient);
            for i in 0..4 {
                let h = 1e-3f32;
                let mut plus = predictions;
                let mut minus = predictions;
                plus[i] += h;
                minus[i] -= h;
                let mean = |p: &[f32]| loss.sum(p, &targets) / 4.0;
                let numeric = (mean(&plus) - mean(&minus)) / (2.0 * h as f64);
                assert!(
                    (gradient[i] as f64 - numeric).abs() < 1e-3,
                    "{loss} element {i}: {} against {numeric}",
                    gradient[i]
                );
            }
        }
    }

    #[test]
    fn values_match_hand_computation() {
        // Errors are 2 and -0.25.
        let predictions = [3.0f32, 0.75];
        let targets = [1.0f32, 1.0];
        assert_eq!(Loss::MeanSquaredError.sum(&predictions, &targets), 4.0625);
        assert_eq!(Loss::MeanAbsoluteError.sum(&predictions, &targets), 2.25);
        // Huber(1): 1 * (2 - 0.5) + 0.5 * 0.0625.
        assert_eq!(
            Loss::Huber { delta: 1.0 }.sum(&predictions, &targets),
            1.53125
        );
    }

    #[test]
    fn parse_accepts_aliases_and_rejects_unknown() {
        assert_eq!("mse".parse(), Ok(Loss::MeanSquaredError));
        assert_eq!("MAE".parse(), Ok(Loss::MeanAbsoluteError));
        assert_eq!("huber(2)".parse(), Ok(Loss::Huber { delta: 2.0 }));
        let error = "cross_entropy".parse::<Loss>().unwrap_err().to_string();
        assert!(error.contains("mean_squared_error (mse)"), "{error}");
        assert!("huber(-1)".parse::<Loss>().is_err());
    }
}
