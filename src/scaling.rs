//! Scaling of inputs and targets, fitted on the training rows only.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How each column is scaled before training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScaleKind {
    /// `(v - mean) / std`, with the population standard deviation of the training rows.
    Standard,
    /// `(v - min) / (max - min)`, mapping the training rows onto [0, 1].
    Minmax,
    /// Values are used as they are.
    None,
}

impl ScaleKind {
    /// The names accepted by [`ScaleKind::from_str`].
    pub const NAMES: &'static str = "standard, minmax, none";
}

impl fmt::Display for ScaleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScaleKind::Standard => "standard",
            ScaleKind::Minmax => "minmax",
            ScaleKind::None => "none",
        })
    }
}

impl FromStr for ScaleKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "standard" => Ok(ScaleKind::Standard),
            "minmax" => Ok(ScaleKind::Minmax),
            "none" => Ok(ScaleKind::None),
            _ => Err(format!(
                "invalid scale {text:?}: known scalings are {}",
                ScaleKind::NAMES
            )),
        }
    }
}

/// The affine map `scaled = (v - offset) / factor` of one column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColumnScale {
    /// Subtracted first: the mean or minimum of the training rows, or 0.
    pub offset: f64,
    /// Divided by next: the standard deviation or range of the training rows, or 1.
    pub factor: f64,
}

impl ColumnScale {
    const IDENTITY: ColumnScale = ColumnScale {
        offset: 0.0,
        factor: 1.0,
    };

    /// Fits the scale to `values`. A constant column keeps factor 1, so it maps to 0.
    pub fn fit(kind: ScaleKind, values: impl Iterator<Item = f64> + Clone) -> Self {
        let (offset, factor) = match kind {
            ScaleKind::None => return Self::IDENTITY,
            ScaleKind::Standard => {
                let count = values.clone().count().max(1) as f64;
                let mean = values.clone().sum::<f64>() / count;
                let variance = values.map(|v| (v - mean).powi(2)).sum::<f64>() / count;
                (mean, variance.sqrt())
            }
            ScaleKind::Minmax => {
                let min = values.clone().fold(f64::INFINITY, f64::min);
                let max = values.fold(f64::NEG_INFINITY, f64::max);
                (min, max - min)
            }
        };
        let factor = if factor > 0.0 && factor.is_finite() {
            factor
        } else {
            1.0
        };
        ColumnScale { offset, factor }
    }

    /// Maps a value in data units to the scaled value.
    pub fn apply(&self, value: f64) -> f64 {
        (value - self.offset) / self.factor
    }

    /// Maps a scaled value back to data units.
    pub fn invert(&self, scaled: f64) -> f64 {
        scaled * self.factor + self.offset
    }
}

/// The scales of every input column and of the target, as stored with a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// The kind that was fitted.
    pub kind: ScaleKind,
    /// One scale per input column.
    pub inputs: Vec<ColumnScale>,
    /// The target's scale.
    pub target: ColumnScale,
}

impl Scaling {
    /// Fits `kind` to row-major `x` (`inputs` columns) and to `y`, both the training rows.
    pub fn fit(kind: ScaleKind, x: &[f64], inputs: usize, y: &[f64]) -> Self {
        let column = |c: usize| x.iter().skip(c).step_by(inputs).copied();
        Scaling {
            kind,
            inputs: (0..inputs)
                .map(|c| ColumnScale::fit(kind, column(c)))
                .collect(),
            target: ColumnScale::fit(kind, y.iter().copied()),
        }
    }

    /// Scales row-major inputs and returns them as f32.
    pub fn scale_inputs(&self, x: &[f64]) -> Vec<f32> {
        let inputs = self.inputs.len();
        x.iter()
            .enumerate()
            .map(|(i, &value)| self.inputs[i % inputs].apply(value) as f32)
            .collect()
    }

    /// Scales targets and returns them as f32.
    pub fn scale_target(&self, y: &[f64]) -> Vec<f32> {
        y.iter()
            .map(|&value| self.target.apply(value) as f32)
            .collect()
    }

    /// Maps scaled predictions back to the target's units.
    pub fn unscale_target(&self, predictions: &[f32]) -> Vec<f64> {
        predictions
            .iter()
            .map(|&value| self.target.invert(value as f64))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_has_zero_mean_unit_std() {
        let scale = ColumnScale::fit(ScaleKind::Standard, [1.0, 2.0, 3.0, 4.0].into_iter());
        assert_eq!(scale.offset, 2.5);
        assert_eq!(scale.factor, 1.25f64.sqrt());
        assert_eq!(scale.invert(scale.apply(3.7)), 3.7);
    }

    #[test]
    fn minmax_maps_training_rows_to_unit_interval() {
        let scale = ColumnScale::fit(ScaleKind::Minmax, [2.0, 6.0, 4.0].into_iter());
        assert_eq!(scale.apply(2.0), 0.0);
        assert_eq!(scale.apply(6.0), 1.0);
        assert_eq!(scale.apply(10.0), 2.0);
    }

    #[test]
    fn constant_column_keeps_unit_factor() {
        let scale = ColumnScale::fit(ScaleKind::Standard, [5.0, 5.0].into_iter());
        assert_eq!(
            scale,
            ColumnScale {
                offset: 5.0,
                factor: 1.0
            }
        );
    }

    #[test]
    fn scaling_fits_each_column_separately() {
        let x = [0.0, 100.0, 2.0, 300.0];
        let scaling = Scaling::fit(ScaleKind::Minmax, &x, 2, &[1.0, 3.0]);
        assert_eq!(scaling.scale_inputs(&x), [0.0, 0.0, 1.0, 1.0]);
        assert_eq!(scaling.unscale_target(&[0.5]), [2.0]);
    }

    #[test]
    fn parse_rejects_unknown() {
        assert_eq!("MinMax".parse(), Ok(ScaleKind::Minmax));
        assert!(
            "robust"
                .parse::<ScaleKind>()
                .unwrap_err()
                .contains("standard, minmax, none")
        );
    }
}
