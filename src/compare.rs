//! Comparisons: several model variants trained over several seeds, in parallel, with
//! the spread of their errors.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::callback::Callback;
use crate::config::{ExperimentConfig, Interval};
use crate::data::ExperimentData;
use crate::diagnostics::DistanceBin;
use crate::experiment::{self, ExperimentMetrics};
use crate::history::History;

/// A named set of settings to train over several seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The name shown in tables and plots; also the name of its output directory.
    pub name: String,
    /// The settings; the seed is replaced by each run's seed.
    pub config: ExperimentConfig,
}

/// One finished run of a variant.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    /// The settings of the run, with its seed.
    pub config: ExperimentConfig,
    /// Its metrics.
    pub metrics: ExperimentMetrics,
    /// Its per-epoch losses.
    pub history: History,
    /// Its predictions at the evaluation rows, in data units.
    pub predictions: Vec<f64>,
    /// The evaluation inputs, row-major, shared by every run of the same data.
    pub test_x: Vec<f64>,
    /// The true values at the evaluation rows.
    pub test_y: Vec<f64>,
    /// The training range of each input.
    pub train_ranges: Vec<Interval>,
}

/// The state of one run of a comparison.
#[derive(Debug, Clone)]
pub enum RunStatus {
    /// The run trained and was measured.
    Finished(Box<FinishedRun>),
    /// The run failed, for example because its loss diverged.
    Failed(String),
    /// The run did not finish because the comparison was interrupted.
    Missing,
}

/// The jobs of a comparison: every variant with every seed, in a fixed order.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The variants.
    pub variants: Vec<Variant>,
    /// The seeds, the same for every variant.
    pub seeds: Vec<u64>,
}

impl Comparison {
    /// The number of runs.
    pub fn len(&self) -> usize {
        self.variants.len() * self.seeds.len()
    }

    /// Returns true when there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The variant and seed of run `index`; runs are ordered by variant, then seed.
    pub fn job(&self, index: usize) -> (&Variant, u64) {
        let seeds = self.seeds.len();
        (&self.variants[index / seeds], self.seeds[index % seeds])
    }

    /// Trains every run on `threads` threads, one run per thread at a time, and returns
    /// each run's status in job order.
    ///
    /// Each run is independent and single-threaded, so results are bit-identical
    /// whatever the thread count. `on_finished` is called from the worker threads as
    /// each run ends. Once `stop` is set, no new run starts and runs in progress stop
    /// after their current step and count as missing.
    pub fn run(
        &self,
        threads: usize,
        stop: &AtomicBool,
        on_finished: &(dyn Fn(usize, &RunStatus) + Sync),
    ) -> Vec<RunStatus> {
        let statuses = Mutex::new(vec![RunStatus::Missing; self.len()]);
        let next = AtomicUsize::new(0);

        std::thread::scope(|scope| {
            for _ in 0..threads.clamp(1, self.len().max(1)) {
                scope.spawn(|| {
                    loop {
                        let position = next.fetch_add(1, Ordering::Relaxed);
                        if position >= self.len() || stop.load(Ordering::Relaxed) {
                            break;
                        }

                        let index = self.job_at(position);
                        let status = self.run_one(index, stop);
                        on_finished(index, &status);
                        statuses
                            .lock()
                            .expect("no worker panics while holding the lock")[index] = status;
                    }
                });
            }
        });
        statuses.into_inner().expect("the workers have finished")
    }

    /// Returns the job that starts `position`-th: the first seed of every variant, then
    /// the second, and so on. Variants can differ several times over in cost, and
    /// interleaving them keeps one variant's long runs from being the last ones, which
    /// would leave threads idle at the end.
    fn job_at(&self, position: usize) -> usize {
        let variants = self.variants.len();
        (position % variants) * self.seeds.len() + position / variants
    }

    fn run_one(&self, index: usize, stop: &AtomicBool) -> RunStatus {
        let (variant, seed) = self.job(index);
        let config = ExperimentConfig {
            seed,
            ..variant.config.clone()
        };
        let data = match ExperimentData::load(&config) {
            Ok(data) => data,
            Err(error) => return RunStatus::Failed(error.to_string()),
        };

        let mut stopper = StopOnFlag(stop);
        let outcome = match experiment::run(&config, &data, &mut stopper) {
            Ok(outcome) => outcome,
            Err(error) => return RunStatus::Failed(error.to_string()),
        };
        if stop.load(Ordering::Relaxed) {
            return RunStatus::Missing;
        }

        RunStatus::Finished(Box::new(FinishedRun {
            config,
            metrics: outcome.metrics,
            history: outcome.history,
            predictions: outcome.test_predictions,
            test_x: data.test_x,
            test_y: data.test_y,
            train_ranges: data.train_ranges,
        }))
    }
}

/// Stops training after the current step once the flag is set.
struct StopOnFlag<'a>(&'a AtomicBool);

impl Callback for StopOnFlag<'_> {
    fn stop_requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Mean, population standard deviation and median of a statistic over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub std: f64,
    pub median: f64,
}

impl Spread {
    /// Computes the spread of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        } else {
            sorted[middle]
        };
        Some(Spread { mean, std, median })
    }
}

/// One variant's results over its finished runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    /// The variant's name.
    pub name: String,
    /// Runs that finished.
    pub runs: usize,
    /// Runs that failed or are missing.
    pub runs_not_finished: usize,
    /// MSE inside the training range over seeds.
    pub mse_in_range: Option<Spread>,
    /// MSE outside the training range over seeds.
    pub mse_out_of_range: Option<Spread>,
    /// Mean `linearity_r2` over seeds.
    pub linearity_r2: Option<f64>,
    /// Mean ratio of out-of-range to in-range RMSE over seeds.
    pub rmse_ratio: Option<f64>,
    /// Mean fit time in seconds.
    pub fit_seconds: Option<f64>,
    /// Mean over seeds of each distance band's MSE; the bands are the same for every
    /// run of the same data.
    pub error_by_distance: Vec<DistanceBin>,
}

/// Averages the runs' error-by-distance bands, band by band, over the runs that have
/// rows in the band.
fn mean_error_by_distance(runs: &[&FinishedRun]) -> Vec<DistanceBin> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    first
        .metrics
        .diagnostics
        .error_by_distance
        .iter()
        .enumerate()
        .map(|(index, band)| {
            let values: Vec<f64> = runs
                .iter()
                .filter_map(|run| run.metrics.diagnostics.error_by_distance.get(index)?.mse)
                .collect();
            DistanceBin {
                mse: Spread::of(&values).map(|spread| spread.mean),
                ..*band
            }
        })
        .collect()
}

/// Summarises each variant's finished runs; `statuses` are in job order.
pub fn summarize(comparison: &Comparison, statuses: &[RunStatus]) -> Vec<VariantSummary> {
    let seeds = comparison.seeds.len();
    comparison
        .variants
        .iter()
        .enumerate()
        .map(|(v, variant)| {
            let runs: Vec<&FinishedRun> = statuses[v * seeds..(v + 1) * seeds]
                .iter()
                .filter_map(|status| match status {
                    RunStatus::Finished(run) => Some(run.as_ref()),
                    _ => None,
                })
                .collect();
            let collect = |get: &dyn Fn(&FinishedRun) -> Option<f64>| -> Vec<f64> {
                runs.iter().filter_map(|run| get(run)).collect()
            };
            let mean = |values: Vec<f64>| Spread::of(&values).map(|spread| spread.mean);

            VariantSummary {
                name: variant.name.clone(),
                runs: runs.len(),
                runs_not_finished: seeds - runs.len(),
                mse_in_range: Spread::of(&collect(&|run| run.metrics.mse_in_range)),
                mse_out_of_range: Spread::of(&collect(&|run| run.metrics.mse_out_of_range)),
                linearity_r2: mean(collect(&|run| run.metrics.diagnostics.linearity_r2)),
                rmse_ratio: mean(collect(&|run| run.metrics.diagnostics.rmse_ratio)),
                fit_seconds: mean(collect(&|run| Some(run.metrics.fit_seconds))),
                error_by_distance: mean_error_by_distance(&runs),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_matches_hand_computation() {
        let spread = Spread::of(&[1.0, 2.0, 3.0, 6.0]).unwrap();
        assert_eq!(spread.mean, 3.0);
        assert_eq!(spread.median, 2.5);
        assert_eq!(spread.std, 3.5f64.sqrt());
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn jobs_are_ordered_by_variant_then_seed() {
        let config = ExperimentConfig::default_experiment();
        let comparison = Comparison {
            variants: vec![
                Variant {
                    name: "a".into(),
                    config: config.clone(),
                },
                Variant {
                    name: "b".into(),
                    config,
                },
            ],
            seeds: vec![7, 8, 9],
        };
        assert_eq!(comparison.len(), 6);
        let (variant, seed) = comparison.job(4);
        assert_eq!((variant.name.as_str(), seed), ("b", 8));
    }
}
