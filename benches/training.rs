//! Times the training of the default experiment: a 1-30-1 ReLU network, SGD, 40 epochs
//! of 313 steps on 10,000 points of x^2. Prints the median, minimum and maximum time per
//! fit and per step over repeated fits.
//!
//! Run with `cargo bench --bench training`; `-- --fits N` sets the number of fits.

use std::time::Instant;

use outrange::config::ExperimentConfig;
use outrange::data::ExperimentData;
use outrange::experiment::build_model;
use outrange::{FitOptions, Matrix};

fn main() {
    let fits = fits_from_args().unwrap_or(20);
    let config = ExperimentConfig::default_experiment();
    let data = ExperimentData::load(&config).expect("the default experiment samples its function");
    let x = Matrix::column(data.train_x.iter().map(|&v| v as f32).collect());
    let y = Matrix::column(data.train_y.iter().map(|&v| v as f32).collect());
    let steps = config.epochs * x.rows().div_ceil(config.batch_size);

    // One untimed fit warms the caches and the allocator.
    fit_seconds(&config, &x, &y);
    let mut seconds: Vec<f64> = (0..fits).map(|_| fit_seconds(&config, &x, &y)).collect();
    seconds.sort_by(f64::total_cmp);

    let median = seconds[seconds.len() / 2];
    let (min, max) = (seconds[0], seconds[seconds.len() - 1]);
    println!(
        "default experiment training ({fits} fits of {steps} steps, batch {}):",
        config.batch_size
    );
    println!(
        "  per fit:  median {:.3} ms  (min {:.3}, max {:.3})",
        median * 1e3,
        min * 1e3,
        max * 1e3
    );
    println!(
        "  per step: median {:.3} µs  (min {:.3}, max {:.3})",
        median / steps as f64 * 1e6,
        min / steps as f64 * 1e6,
        max / steps as f64 * 1e6
    );
}

/// Builds a fresh model and returns the wall time of its `fit`, in seconds.
fn fit_seconds(config: &ExperimentConfig, x: &Matrix, y: &Matrix) -> f64 {
    let mut model = build_model(config, 1, 1).expect("the default model builds");
    let options = FitOptions {
        epochs: config.epochs,
        batch_size: config.batch_size,
        shuffle: true,
        seed: config.seed,
        early_stopping: None,
        checkpoint_every: None,
    };
    let started = Instant::now();
    model
        .fit(x, y, &options, &mut ())
        .expect("the default experiment trains");
    started.elapsed().as_secs_f64()
}

/// Reads `--fits N` from the arguments that cargo bench passes through.
fn fits_from_args() -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let position = args.iter().position(|arg| arg == "--fits")?;
    args.get(position + 1)?.parse().ok().filter(|&n| n > 0)
}
