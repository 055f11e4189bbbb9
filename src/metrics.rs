//! Error measures split by whether a test input lies inside the training range.

use serde::{Deserialize, Serialize};

/// The model's prediction and the truth at one input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PointPrediction {
    /// The input.
    pub x: f64,
    /// The model's output.
    pub prediction: f64,
    /// The target value.
    pub truth: f64,
}

/// Mean squared errors inside and outside the training range, accumulated in f64.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RangeErrors {
    /// MSE over test inputs inside the training range (bounds included); `None` when
    /// no test input is inside.
    pub mse_in_range: Option<f64>,
    /// MSE over test inputs outside the training range; `None` when none is outside.
    pub mse_out_of_range: Option<f64>,
    /// Test inputs inside the training range.
    pub rows_in_range: usize,
    /// Test inputs outside the training range.
    pub rows_out_of_range: usize,
}

impl RangeErrors {
    /// Computes the errors of `predictions` against `truth`, splitting the rows by
    /// `in_range`.
    ///
    /// # Panics
    /// If the three slices differ in length.
    #[track_caller]
    pub fn compute(truth: &[f64], predictions: &[f64], in_range: &[bool]) -> Self {
        assert_eq!(truth.len(), predictions.len());
        assert_eq!(truth.len(), in_range.len());

        let (mut sum_in, mut rows_in, mut sum_out, mut rows_out) = (0.0, 0, 0.0, 0);
        for ((&yi, &pi), &inside) in truth.iter().zip(predictions).zip(in_range) {
            let squared = (pi - yi).powi(2);
            if inside {
                sum_in += squared;
                rows_in += 1;
            } else {
                sum_out += squared;
                rows_out += 1;
            }
        }

        let mean = |sum: f64, rows: usize| (rows > 0).then(|| sum / rows as f64);
        RangeErrors {
            mse_in_range: mean(sum_in, rows_in),
            mse_out_of_range: mean(sum_out, rows_out),
            rows_in_range: rows_in,
            rows_out_of_range: rows_out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_split_at_range_bounds() {
        let truth = [4.0, 1.0, 0.0, 1.0, 4.0];
        let predictions = [2.0, 1.5, 0.0, 1.0, 3.0];
        let in_range = [false, true, true, true, false];
        let errors = RangeErrors::compute(&truth, &predictions, &in_range);
        assert_eq!(errors.rows_in_range, 3);
        assert_eq!(errors.rows_out_of_range, 2);
        assert_eq!(errors.mse_in_range, Some(0.25 / 3.0));
        assert_eq!(errors.mse_out_of_range, Some(2.5));
    }

    #[test]
    fn empty_side_has_no_error() {
        let errors = RangeErrors::compute(&[1.0], &[1.0], &[true]);
        assert_eq!(errors.mse_out_of_range, None);
        assert_eq!(errors.mse_in_range, Some(0.0));
    }
}
