//! The files a comparison writes: each run's metrics and history, the summary table and
//! the overlay plot.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::compare::{Comparison, FinishedRun, RunStatus, Spread, VariantSummary};
use crate::output::{OutputError, write_atomic};
use crate::plot::{Band, LinePlot, PlotError, Series, SeriesStyle, TRUTH_COLOR};
use crate::run_files;

/// The summary table as CSV.
pub const SUMMARY_CSV: &str = "summary.csv";
/// The summary table as JSON.
pub const SUMMARY_JSON: &str = "summary.json";
/// The overlay of every variant's median prediction.
pub const COMPARISON_PNG: &str = "comparison.png";
/// The SVG version of the overlay.
pub const COMPARISON_SVG: &str = "comparison.svg";
/// Each variant's mean error against distance from the training range.
pub const ERROR_BY_DISTANCE_PNG: &str = "error_by_distance.png";
/// The SVG version of the error plot.
pub const ERROR_BY_DISTANCE_SVG: &str = "error_by_distance.svg";

/// Every file name at the top of a comparison's directory.
pub const OUTPUT_FILES: [&str; 6] = [
    SUMMARY_CSV,
    SUMMARY_JSON,
    COMPARISON_PNG,
    COMPARISON_SVG,
    ERROR_BY_DISTANCE_PNG,
    ERROR_BY_DISTANCE_SVG,
];

/// Line colours of the variants, in order; they repeat after ten variants.
const PALETTE: [(u8, u8, u8); 10] = [
    (214, 39, 40),
    (44, 160, 44),
    (148, 103, 189),
    (255, 127, 14),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (31, 119, 180),
];

/// Why a comparison's files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CompareFilesError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// Returns the directory of one run: `<out>/<variant>/seed-<seed>`.
pub fn run_directory(out: &Path, variant: &str, seed: u64) -> PathBuf {
    out.join(sanitize(variant)).join(format!("seed-{seed}"))
}

/// Replaces characters that do not belong in a directory name with `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes one finished run's `metrics.json` and `history.csv` into its directory.
pub fn write_run(out: &Path, variant: &str, run: &FinishedRun) -> Result<(), OutputError> {
    let directory = run_directory(out, variant, run.config.seed);
    fs::create_dir_all(&directory).map_err(|source| OutputError::CreateDirectory {
        path: directory.clone(),
        source,
    })?;
    run_files::write_history(&directory, &run.history)?;
    run_files::write_metrics(&directory, &run.metrics, None, None, &run.config)?;
    Ok(())
}

/// Writes `summary.csv` and `summary.json` and returns their paths.
pub fn write_summary(
    out: &Path,
    summaries: &[VariantSummary],
) -> Result<Vec<PathBuf>, OutputError> {
    let csv_path = out.join(SUMMARY_CSV);
    write_atomic(&csv_path, summary_csv(summaries).as_bytes())?;

    let json =
        serde_json::to_string_pretty(summaries).expect("summaries hold only numbers and strings");
    let json_path = out.join(SUMMARY_JSON);
    write_atomic(&json_path, format!("{json}\n").as_bytes())?;
    Ok(vec![csv_path, json_path])
}

/// Formats the summary as CSV, one row per variant; empty cells where a value is unknown.
pub fn summary_csv(summaries: &[VariantSummary]) -> String {
    let mut text = String::from(
        "name,runs,runs_not_finished,mse_in_range_mean,mse_in_range_std,mse_in_range_median,\
         mse_out_of_range_mean,mse_out_of_range_std,mse_out_of_range_median,linearity_r2,rmse_ratio,fit_seconds\n",
    );
    let number = |value: Option<f64>| value.map_or_else(String::new, |v| v.to_string());
    let spread = |value: Option<Spread>| match value {
        Some(s) => format!("{},{},{}", s.mean, s.std, s.median),
        None => ",,".to_string(),
    };
    for summary in summaries {
        // Writing into a String cannot fail.
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{},{}",
            csv_field(&summary.name),
            summary.runs,
            summary.runs_not_finished,
            spread(summary.mse_in_range),
            spread(summary.mse_out_of_range),
            number(summary.linearity_r2),
            number(summary.rmse_ratio),
            number(summary.fit_seconds),
        );
    }
    text
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Draws each variant's median prediction over seeds with its min–max band, the truth
/// and the training range. Returns `None` when the runs do not share one input and one
/// set of evaluation inputs, where an overlay would mislead.
pub fn overlay_plot(comparison: &Comparison, statuses: &[RunStatus]) -> Option<LinePlot> {
    let seeds = comparison.seeds.len();
    let first = statuses.iter().find_map(|status| match status {
        RunStatus::Finished(run) => Some(run.as_ref()),
        _ => None,
    })?;
    if first.train_ranges.len() != 1 {
        return None;
    }

    let mut bands = Vec::new();
    let mut series = Vec::new();
    for (v, variant) in comparison.variants.iter().enumerate() {
        let runs: Vec<&FinishedRun> = statuses[v * seeds..(v + 1) * seeds]
            .iter()
            .filter_map(|status| match status {
                RunStatus::Finished(run) => Some(run.as_ref()),
                _ => None,
            })
            .collect();
        if runs.is_empty() {
            continue;
        }
        if runs.iter().any(|run| run.test_x != first.test_x) {
            return None;
        }

        let color = PALETTE[v % PALETTE.len()];
        let (lower, median, upper) = spread_curves(&first.test_x, &runs);
        bands.push(Band {
            lower,
            upper,
            color,
        });
        series.push(Series {
            label: format!("{} (median of {})", variant.name, runs.len()),
            points: median,
            style: SeriesStyle::Line,
            color,
        });
    }

    series.insert(0, truth_series(first));
    let range = first.train_ranges[0];
    Some(LinePlot {
        title: format!(
            "{} variants over {} seeds",
            comparison.variants.len(),
            seeds
        ),
        x_label: "x".to_string(),
        y_label: "prediction".to_string(),
        shaded: Some((
            range.lo,
            range.hi,
            format!("training range {}", range.rounded()),
        )),
        bands,
        series,
    })
}

/// Draws each variant's mean MSE in each band of distance from the training range,
/// at the band's middle. Returns `None` when no run has rows outside the training range.
pub fn error_by_distance_plot(summaries: &[VariantSummary]) -> Option<LinePlot> {
    let series: Vec<Series> = summaries
        .iter()
        .enumerate()
        .map(|(v, summary)| Series {
            label: summary.name.clone(),
            points: summary
                .error_by_distance
                .iter()
                .filter_map(|band| Some(((band.distance_lo + band.distance_hi) / 2.0, band.mse?)))
                .collect(),
            style: SeriesStyle::Line,
            color: PALETTE[v % PALETTE.len()],
        })
        .filter(|series| !series.points.is_empty())
        .collect();
    if series.is_empty() {
        return None;
    }

    Some(LinePlot {
        title: "mean squared error against distance from the training range".to_string(),
        x_label: "distance from the training range".to_string(),
        y_label: "MSE (mean over seeds)".to_string(),
        shaded: None,
        bands: Vec::new(),
        series,
    })
}

/// Points `(x, y)` of a curve.
type Curve = Vec<(f64, f64)>;

/// Returns the per-point minimum, median and maximum over runs, sorted by x.
fn spread_curves(x: &[f64], runs: &[&FinishedRun]) -> (Curve, Curve, Curve) {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));

    let (mut lower, mut median, mut upper) = (Vec::new(), Vec::new(), Vec::new());
    for row in order {
        let values: Vec<f64> = runs.iter().map(|run| run.predictions[row]).collect();
        let spread = Spread::of(&values).expect("there is at least one run");
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        lower.push((x[row], min));
        median.push((x[row], spread.median));
        upper.push((x[row], max));
    }
    (lower, median, upper)
}

fn truth_series(first: &FinishedRun) -> Series {
    let mut points: Vec<(f64, f64)> = first
        .test_x
        .iter()
        .copied()
        .zip(first.test_y.iter().copied())
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    Series {
        label: "truth".to_string(),
        points,
        style: SeriesStyle::Wide,
        color: TRUTH_COLOR,
    }
}
