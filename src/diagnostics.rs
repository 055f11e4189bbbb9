//! Measures of how a model behaves away from its training range.

use serde::{Deserialize, Serialize};

use crate::config::Interval;

/// Bins of distance from the training range in [`Diagnostics::error_by_distance`].
const DISTANCE_BINS: usize = 10;

/// Fewest points on one side for a straight-line fit to count in `linearity_r2`.
const MIN_POINTS_PER_SIDE: usize = 3;

/// The mean squared error of rows at one band of distances from the training range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DistanceBin {
    /// The lower end of the band, exclusive except for the first band, which starts at 0.
    pub distance_lo: f64,
    /// The upper end of the band, inclusive.
    pub distance_hi: f64,
    /// Rows in the band.
    pub rows: usize,
    /// Their mean squared error; `None` for an empty band.
    pub mse: Option<f64>,
}

/// Extrapolation diagnostics of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// RMSE outside the training range divided by RMSE inside it.
    pub rmse_ratio: Option<f64>,
    /// R² of a straight-line fit to the predictions on each side outside the training
    /// range, averaged over the sides with at least three rows. A ReLU network becomes
    /// linear away from its data, so it scores close to 1. `None` with several inputs.
    pub linearity_r2: Option<f64>,
    /// The error of rows outside the training range in equal bands of distance from it,
    /// measured in units of the inputs (divided by the range's width with several inputs).
    pub error_by_distance: Vec<DistanceBin>,
}

impl Diagnostics {
    /// Computes the diagnostics from row-major inputs `x` (`ranges.len()` per row), the
    /// true values, the predictions, and the training range of each input.
    pub fn compute(
        x: &[f64],
        truth: &[f64],
        predictions: &[f64],
        ranges: &[Interval],
        mse: (Option<f64>, Option<f64>),
    ) -> Self {
        let rmse_ratio = match mse {
            (Some(inside), Some(outside)) if inside > 0.0 => Some((outside / inside).sqrt()),
            _ => None,
        };
        let linearity_r2 = match ranges {
            [range] => linearity_r2(x, predictions, *range),
            _ => None,
        };
        let distances: Vec<f64> = x
            .chunks_exact(ranges.len())
            .map(|row| distance(row, ranges))
            .collect();

        Diagnostics {
            rmse_ratio,
            linearity_r2,
            error_by_distance: error_by_distance(&distances, truth, predictions),
        }
    }
}

/// Returns how far `row` lies outside the training box: the distance itself with one
/// input, and the Euclidean norm of distances in units of each range's width otherwise.
pub fn distance(row: &[f64], ranges: &[Interval]) -> f64 {
    if let ([value], [range]) = (row, ranges) {
        return (range.lo - value).max(value - range.hi).max(0.0);
    }
    let squares = row.iter().zip(ranges).map(|(&value, range)| {
        let outside = (range.lo - value).max(value - range.hi).max(0.0);
        let width = if range.hi > range.lo {
            range.hi - range.lo
        } else {
            1.0
        };
        (outside / width).powi(2)
    });
    squares.sum::<f64>().sqrt()
}

fn linearity_r2(x: &[f64], predictions: &[f64], range: Interval) -> Option<f64> {
    let side = |outside: &dyn Fn(f64) -> bool| -> Option<f64> {
        let points: Vec<(f64, f64)> = x
            .iter()
            .zip(predictions)
            .filter(|(v, _)| outside(**v))
            .map(|(&v, &p)| (v, p))
            .collect();
        (points.len() >= MIN_POINTS_PER_SIDE).then(|| line_fit_r2(&points))
    };

    let sides: Vec<f64> = [side(&|v| v < range.lo), side(&|v| v > range.hi)]
        .into_iter()
        .flatten()
        .collect();
    (!sides.is_empty()).then(|| sides.iter().sum::<f64>() / sides.len() as f64)
}

/// Returns R² of the least-squares line through `points`; constant values count as a
/// perfect line.
fn line_fit_r2(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
    if syy == 0.0 {
        return 1.0;
    }

    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let residual: f64 = points
        .iter()
        .map(|p| (p.1 - mean_y - slope * (p.0 - mean_x)).powi(2))
        .sum();
    1.0 - residual / syy
}

fn error_by_distance(distances: &[f64], truth: &[f64], predictions: &[f64]) -> Vec<DistanceBin> {
    let max = distances.iter().copied().fold(0.0, f64::max);
    if max <= 0.0 {
        return Vec::new();
    }

    let width = max / DISTANCE_BINS as f64;
    let mut sums = [(0.0, 0usize); DISTANCE_BINS];
    for ((&d, &y), &p) in distances.iter().zip(truth).zip(predictions) {
        if d > 0.0 {
            let bin = ((d / width).ceil() as usize).clamp(1, DISTANCE_BINS) - 1;
            sums[bin].0 += (p - y).powi(2);
            sums[bin].1 += 1;
        }
    }

    sums.iter()
        .enumerate()
        .map(|(bin, &(sum, rows))| DistanceBin {
            distance_lo: bin as f64 * width,
            distance_hi: (bin + 1) as f64 * width,
            rows,
            mse: (rows > 0).then(|| sum / rows as f64),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_line_scores_one() {
        let points: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 3.0 * i as f64 - 1.0)).collect();
        assert!((line_fit_r2(&points) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn parabola_scores_below_one() {
        let points: Vec<(f64, f64)> = (-10..=10).map(|i| (i as f64, (i * i) as f64)).collect();
        assert!(line_fit_r2(&points) < 0.1);
    }

    #[test]
    fn linearity_averages_both_sides() {
        let x: Vec<f64> = (-20..=20).map(|i| i as f64 / 10.0).collect();
        let kinked: Vec<f64> = x.iter().map(|v| v.abs()).collect();
        let r2 = linearity_r2(&x, &kinked, Interval::new(-1.0, 1.0)).unwrap();
        assert!((r2 - 1.0).abs() < 1e-12, "{r2}");
    }

    #[test]
    fn distance_bins_split_outside_rows() {
        let x = [0.0, 1.5, 2.0, 3.0];
        let truth = [0.0, 0.0, 0.0, 0.0];
        let predictions = [5.0, 1.0, 2.0, 3.0];
        let ranges = [Interval::new(-1.0, 1.0)];
        let diagnostics =
            Diagnostics::compute(&x, &truth, &predictions, &ranges, (Some(1.0), Some(4.0)));
        assert_eq!(diagnostics.rmse_ratio, Some(2.0));
        let bins = &diagnostics.error_by_distance;
        assert_eq!(bins.len(), DISTANCE_BINS);
        assert_eq!(bins.iter().map(|b| b.rows).sum::<usize>(), 3);
        assert_eq!(bins[DISTANCE_BINS - 1].mse, Some(9.0));
    }

    #[test]
    fn distance_with_several_inputs_uses_widths() {
        let ranges = [Interval::new(0.0, 2.0), Interval::new(0.0, 10.0)];
        assert_eq!(distance(&[3.0, 5.0], &ranges), 0.5);
        assert_eq!(distance(&[1.0, 5.0], &ranges), 0.0);
    }
}
