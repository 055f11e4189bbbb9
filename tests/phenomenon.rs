//! The default experiment reproduces what Keras shows: a near-perfect fit inside the
//! training range and a straight-line miss outside it.
//!
//! Reference figures, measured with Keras 3.15 on TensorFlow 2.21 over 8 seeds for the
//! same experiment: in-range MSE 2.3e-4 to 3.8e-4, out-of-range MSE 0.69 to 0.85, and
//! predictions at x = ±2 between 2.08 and 2.36 (truth 4).

use outrange::config::ExperimentConfig;
use outrange::data::ExperimentData;
use outrange::experiment;

fn run_with_seed(seed: u64) -> experiment::ExperimentMetrics {
    let config = ExperimentConfig {
        seed,
        ..ExperimentConfig::default_experiment()
    };
    let data = ExperimentData::load(&config).unwrap();
    experiment::run(&config, &data, &mut ()).unwrap().metrics
}

#[test]
fn default_experiment_fits_inside_misses_outside() {
    let metrics = run_with_seed(42);
    let inside = metrics.mse_in_range.unwrap();
    let outside = metrics.mse_out_of_range.unwrap();
    assert!(inside < 1e-3, "in-range MSE {inside}");
    assert!(outside > 0.3, "out-of-range MSE {outside}");
}

#[test]
fn relu_extrapolates_as_straight_line() {
    let metrics = run_with_seed(42);
    let r2 = metrics.diagnostics.linearity_r2.unwrap();
    assert!(r2 >= 0.99, "linearity_r2 {r2}");
}

#[test]
fn sin_network_is_not_linear_outside() {
    let config = ExperimentConfig {
        activation: outrange::Activation::Sin,
        seed: 42,
        ..ExperimentConfig::default_experiment()
    };
    let data = ExperimentData::load(&config).unwrap();
    let metrics = experiment::run(&config, &data, &mut ()).unwrap().metrics;
    let r2 = metrics.diagnostics.linearity_r2.unwrap();
    assert!(r2 < 0.99, "linearity_r2 {r2}");
}

#[test]
fn eight_seed_means_fall_in_keras_ranges() {
    let runs: Vec<_> = (0..8).map(run_with_seed).collect();
    let mean = |values: Vec<f64>| values.iter().sum::<f64>() / values.len() as f64;
    let inside = mean(runs.iter().map(|m| m.mse_in_range.unwrap()).collect());
    let outside = mean(runs.iter().map(|m| m.mse_out_of_range.unwrap()).collect());

    assert!((1e-4..8e-4).contains(&inside), "mean in-range MSE {inside}");
    assert!(
        (0.5..1.1).contains(&outside),
        "mean out-of-range MSE {outside}"
    );
}
