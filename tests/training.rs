//! Training through the public API: optimizer steps worked out by hand, gradients of a
//! whole model against finite differences, reproducibility, and edge cases of `fit`.

use outrange::{
    Activation, Callback, Dense, FitOptions, Initializer, Loss, Matrix, ModelError,
    OptimizerConfig, Sequential,
};

/// A 1-input, 1-unit linear model with kernel 0.5 and bias 0.1.
fn tiny_model(optimizer: OptimizerConfig) -> Sequential {
    let mut model = Sequential::new(1);
    model.add(
        Dense::new(1)
            .with_kernel_initializer(Initializer::Constant(0.5))
            .with_bias_initializer(Initializer::Constant(0.1)),
    );
    model.build(0).unwrap();
    model.compile(optimizer, Loss::MeanSquaredError).unwrap();
    model
}

/// One full-batch step on x = [1, 2], y = [1, 3].
///
/// Predictions are [0.6, 1.1], errors [-0.4, -1.9], and the MSE gradient with respect
/// to each prediction is 2 * error / 2 = error. So the kernel gradient is
/// 1 * -0.4 + 2 * -1.9 = -4.2, the bias gradient -2.3, and the loss (0.16 + 3.61) / 2.
fn one_step(model: &mut Sequential) -> (f32, f32, f64) {
    let x = Matrix::column(vec![1.0, 2.0]);
    let y = Matrix::column(vec![1.0, 3.0]);
    let options = FitOptions {
        epochs: 1,
        batch_size: 2,
        shuffle: false,
        seed: 0,
        early_stopping: None,
        checkpoint_every: None,
    };
    let history = model.fit(&x, &y, &options, &mut ()).unwrap();
    let parameters = model.layers()[0].parameters();
    (
        parameters[0].values[0],
        parameters[1].values[0],
        history.epochs[0].loss,
    )
}

#[test]
fn sgd_step_matches_hand_computation() {
    let sgd = OptimizerConfig::Sgd {
        learning_rate: 0.1,
        momentum: 0.0,
        nesterov: false,
    };
    let (kernel, bias, loss) = one_step(&mut tiny_model(sgd));

    // kernel 0.5 - 0.1 * -4.2 and bias 0.1 - 0.1 * -2.3.
    assert!((kernel - 0.92).abs() < 1e-6, "kernel {kernel}");
    assert!((bias - 0.33).abs() < 1e-6, "bias {bias}");
    assert!((loss - 1.885).abs() < 1e-6, "loss {loss}");
}

#[test]
fn adam_step_matches_hand_computation() {
    let adam = OptimizerConfig::Adam {
        learning_rate: 0.1,
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-7,
    };
    let (kernel, bias, _) = one_step(&mut tiny_model(adam));

    // Keras's rule at t = 1: m = 0.1 g, v = 0.001 g², lr_t = 0.1 * sqrt(0.001) / 0.1.
    let step = |g: f64| {
        let (m, v) = (0.1 * g, 0.001 * g * g);
        let lr_t = 0.1 * 0.001f64.sqrt() / 0.1;
        lr_t * m / (v.sqrt() + 1e-7)
    };
    let expected_kernel = 0.5 - step(-4.2);
    let expected_bias = 0.1 - step(-2.3);
    assert!(
        (kernel as f64 - expected_kernel).abs() < 1e-6,
        "kernel {kernel}, expected {expected_kernel}"
    );
    assert!(
        (bias as f64 - expected_bias).abs() < 1e-6,
        "bias {bias}, expected {expected_bias}"
    );
}

/// A 2-3-2 network with a tanh hidden layer, built from a fixed seed.
fn two_layer_model(learning_rate: f32) -> Sequential {
    let mut model = Sequential::new(2);
    model.add(Dense::new(3).with_activation(Activation::Tanh));
    model.add(Dense::new(2));
    model.build(3).unwrap();
    compile_with_sgd(model, learning_rate)
}

/// Compiles `model` with plain SGD at `learning_rate` and the mean squared error.
fn compile_with_sgd(mut model: Sequential, learning_rate: f32) -> Sequential {
    let sgd = OptimizerConfig::Sgd {
        learning_rate,
        momentum: 0.0,
        nesterov: false,
    };
    model.compile(sgd, Loss::MeanSquaredError).unwrap();
    model
}

fn flat_parameters(model: &Sequential) -> Vec<Vec<f32>> {
    model
        .layers()
        .iter()
        .flat_map(|layer| layer.parameters())
        .map(|tensor| tensor.values.to_vec())
        .collect()
}

#[test]
fn model_gradients_match_finite_differences() {
    let x = Matrix::from_rows(vec![0.3, -0.8, 1.2, 0.4, -0.5, 0.9], 2).unwrap();
    let y = Matrix::from_rows(vec![0.1, 0.7, -0.4, 0.2, 0.5, -0.3], 2).unwrap();
    check_gradients(two_layer_model, &x, &y);
}

/// Builds a 1-6-1 network with a relu hidden layer, the default experiment's shape,
/// which trains through the fused shallow step on CPUs with AVX2 and FMA.
fn shallow_relu_model(learning_rate: f32) -> Sequential {
    let mut model = Sequential::new(1);
    model.add(Dense::new(6).with_activation(Activation::Relu));
    model.add(Dense::new(1).with_bias_initializer(Initializer::Constant(0.2)));
    model.build(4).unwrap();
    compile_with_sgd(model, learning_rate)
}

#[test]
fn shallow_relu_gradients_match_finite_differences() {
    let x = Matrix::column(vec![-0.9, -0.35, 0.15, 0.6, 1.1]);
    let y = Matrix::column(vec![0.81, 0.12, 0.02, 0.36, 1.21]);
    check_gradients(shallow_relu_model, &x, &y);
}

/// Checks that one full-batch step of the model that `build` returns moves every
/// parameter by minus the loss's central-difference derivative.
fn check_gradients(build: fn(f32) -> Sequential, x: &Matrix, y: &Matrix) {
    let full_batch = FitOptions {
        epochs: 1,
        batch_size: x.rows(),
        shuffle: false,
        seed: 0,
        early_stopping: None,
        checkpoint_every: None,
    };

    // With plain SGD at learning rate 1, one step moves each parameter by minus its gradient.
    let mut stepped = build(1.0);
    let before = flat_parameters(&stepped);
    stepped.fit(x, y, &full_batch, &mut ()).unwrap();
    let after = flat_parameters(&stepped);

    let names = ["kernel", "bias"];
    let h = 1e-3f32;
    for (tensor, (old, new)) in before.iter().zip(&after).enumerate() {
        let (layer, name) = (tensor / 2, names[tensor % 2]);
        for i in 0..old.len() {
            let analytic = (old[i] - new[i]) as f64;
            let loss_at = |value: f32| {
                let mut model = build(1.0);
                let mut shifted = old.clone();
                shifted[i] = value;
                model.layers_mut()[layer]
                    .set_parameter(name, &shifted)
                    .unwrap();
                model.evaluate(x, y).unwrap()
            };
            let numeric = (loss_at(old[i] + h) - loss_at(old[i] - h)) / (2.0 * h as f64);
            assert!(
                (analytic - numeric).abs() < 1e-3,
                "layer {layer} {name}[{i}]: analytic {analytic}, numeric {numeric}"
            );
        }
    }
}

fn train_default_shape(seed: u64) -> (Vec<Vec<f32>>, Vec<f64>) {
    train_relu_network(seed, &[30])
}

/// Trains a network of ReLU layers of `hidden` units and one linear output on 500
/// points of x² with Adam for 5 epochs of batch 32, and returns the weights and the
/// loss history. The last batch of each epoch has 20 rows.
fn train_relu_network(seed: u64, hidden: &[usize]) -> (Vec<Vec<f32>>, Vec<f64>) {
    let x: Vec<f32> = (0..500).map(|i| i as f32 / 250.0 - 1.0).collect();
    let y: Vec<f32> = x.iter().map(|v| v * v).collect();
    let mut model = Sequential::new(1);
    for &units in hidden {
        model.add(Dense::new(units).with_activation(Activation::Relu));
    }
    model.add(Dense::new(1));
    model.build(seed).unwrap();
    model
        .compile(OptimizerConfig::ADAM, Loss::MeanSquaredError)
        .unwrap();
    let options = FitOptions {
        epochs: 5,
        ..FitOptions::default()
    };
    let history = model
        .fit(&Matrix::column(x), &Matrix::column(y), &options, &mut ())
        .unwrap();
    (flat_parameters(&model), history.loss())
}

#[test]
fn same_seed_gives_identical_weights() {
    assert_identical_runs(&[30]);
}

/// A 64-unit layer after another one takes the wide kernels.
#[test]
fn same_seed_gives_identical_wide_weights() {
    assert_identical_runs(&[64, 64]);
}

/// Asserts that two trainings of [`train_relu_network`] with the same seed give
/// bit-identical weights and losses.
#[track_caller]
fn assert_identical_runs(hidden: &[usize]) {
    let (weights_a, losses_a) = train_relu_network(9, hidden);
    let (weights_b, losses_b) = train_relu_network(9, hidden);
    let bits = |weights: &Vec<Vec<f32>>| -> Vec<u32> {
        weights.iter().flatten().map(|v| v.to_bits()).collect()
    };
    assert_eq!(bits(&weights_a), bits(&weights_b));
    let loss_bits =
        |losses: &Vec<f64>| -> Vec<u64> { losses.iter().map(|v| v.to_bits()).collect() };
    assert_eq!(loss_bits(&losses_a), loss_bits(&losses_b));
}

#[test]
fn different_seeds_give_different_weights() {
    assert_ne!(train_default_shape(1).0, train_default_shape(2).0);
}

#[test]
fn zero_epochs_train_nothing() {
    let mut model = tiny_model(OptimizerConfig::SGD);
    let before = flat_parameters(&model);
    let options = FitOptions {
        epochs: 0,
        ..FitOptions::default()
    };
    let x = Matrix::column(vec![1.0]);
    let history = model.fit(&x, &x, &options, &mut ()).unwrap();
    assert!(history.epochs.is_empty());
    assert_eq!(flat_parameters(&model), before);
}

#[derive(Default)]
struct StepCounter {
    steps_per_epoch: usize,
    steps: usize,
}

impl Callback for StepCounter {
    fn on_train_begin(&mut self, _epochs: usize, steps_per_epoch: usize) {
        self.steps_per_epoch = steps_per_epoch;
    }

    fn on_train_batch_end(&mut self, _epoch: usize, _step: usize, _mean_loss: f64) {
        self.steps += 1;
    }
}

#[test]
fn oversized_batch_trains_one_batch() {
    let mut model = tiny_model(OptimizerConfig::SGD);
    let x = Matrix::column(vec![0.0, 1.0, 2.0]);
    let options = FitOptions {
        epochs: 2,
        batch_size: 1000,
        ..FitOptions::default()
    };
    let mut counter = StepCounter::default();
    model.fit(&x, &x, &options, &mut counter).unwrap();
    assert_eq!(counter.steps_per_epoch, 1);
    assert_eq!(counter.steps, 2);
}

#[test]
fn partial_last_batch_is_trained() {
    let mut model = tiny_model(OptimizerConfig::SGD);
    let x = Matrix::column((0..10).map(|i| i as f32 / 10.0).collect());
    let options = FitOptions {
        epochs: 1,
        batch_size: 4,
        ..FitOptions::default()
    };
    let mut counter = StepCounter::default();
    model.fit(&x, &x, &options, &mut counter).unwrap();
    assert_eq!(counter.steps, 3);
}

#[test]
fn diverging_loss_stops_with_epoch_and_step() {
    let sgd = OptimizerConfig::Sgd {
        learning_rate: 1e3,
        momentum: 0.0,
        nesterov: false,
    };
    let mut model = tiny_model(sgd);
    let x = Matrix::column((0..64).map(|i| i as f32).collect());
    let options = FitOptions {
        epochs: 50,
        batch_size: 8,
        ..FitOptions::default()
    };
    let error = model.fit(&x, &x, &options, &mut ()).unwrap_err();
    let ModelError::NonFiniteLoss { epoch, step, .. } = &error else {
        panic!("expected a non-finite loss, got {error}");
    };
    assert!(*epoch >= 1, "epoch {epoch}");
    assert!(*step >= 1, "step {step}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("at epoch {epoch}, step {step}")),
        "{message}"
    );
    assert!(message.contains("a lower learning rate"), "{message}");
}

#[test]
fn fit_rejects_mismatched_data() {
    let mut model = tiny_model(OptimizerConfig::SGD);
    let x = Matrix::column(vec![1.0, 2.0]);
    let y = Matrix::column(vec![1.0]);
    let error = model
        .fit(&x, &y, &FitOptions::default(), &mut ())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "x has 2 rows but y has 1; they need one row each per sample"
    );

    let wide = Matrix::from_rows(vec![1.0, 2.0], 2).unwrap();
    let error = model.predict(&wide).unwrap_err();
    assert_eq!(error.to_string(), "x has 2 columns, but the model has 1");
}

#[test]
fn unbuilt_model_is_an_error() {
    let mut model = Sequential::new(1);
    model.add(Dense::new(1));
    let error = model.predict(&Matrix::column(vec![1.0])).unwrap_err();
    assert!(matches!(error, ModelError::NotBuilt));
}

#[test]
fn predict_does_not_depend_on_row_count() {
    let mut model = two_layer_model(0.1);
    let rows: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.37).sin()).collect();
    let all = model
        .predict(&Matrix::from_rows(rows.clone(), 2).unwrap())
        .unwrap();
    let first = model
        .predict(&Matrix::from_rows(rows[..2].to_vec(), 2).unwrap())
        .unwrap();
    assert_eq!(all.row(0), first.row(0));
}

#[test]
fn summary_lists_layers_and_counts() {
    let mut model = Sequential::new(1);
    model.add(Dense::new(30).with_activation(Activation::Relu));
    model.add(Dense::new(1));
    model.build(0).unwrap();
    let summary = model.to_string();
    assert!(
        summary.contains("| dense_0 (Dense, relu)   | (None, 30)   |      60 |"),
        "{summary}"
    );
    assert!(
        summary.contains("| dense_1 (Dense, linear) | (None, 1)    |      31 |"),
        "{summary}"
    );
    assert!(summary.contains("Total params: 91 (364 B)"), "{summary}");
}

/// A 1-8-1 tanh network fitted to noisy samples of sin(3x), which overfits them.
fn overfitting_setup() -> (Sequential, Matrix, Matrix, Matrix, Matrix) {
    let x: Vec<f32> = (0..40).map(|i| i as f32 / 20.0 - 1.0).collect();
    let noisy: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, v)| (3.0 * v).sin() + if i % 2 == 0 { 0.3 } else { -0.3 })
        .collect();
    let val_x: Vec<f32> = (0..40).map(|i| i as f32 / 20.0 - 0.975).collect();
    let val_y: Vec<f32> = val_x.iter().map(|v| (3.0 * v).sin()).collect();

    let mut model = Sequential::new(1);
    model.add(Dense::new(8).with_activation(Activation::Tanh));
    model.add(Dense::new(1));
    model.build(4).unwrap();
    model
        .compile(OptimizerConfig::ADAM, Loss::MeanSquaredError)
        .unwrap();
    (
        model,
        Matrix::column(x),
        Matrix::column(noisy),
        Matrix::column(val_x),
        Matrix::column(val_y),
    )
}

#[test]
fn early_stopping_restores_best_weights() {
    let (mut model, x, y, val_x, val_y) = overfitting_setup();
    let options = FitOptions {
        epochs: 3000,
        batch_size: 8,
        early_stopping: Some(outrange::EarlyStopping {
            patience: 5,
            restore_best_weights: true,
        }),
        ..FitOptions::default()
    };
    let history = model
        .fit_with_validation(&x, &y, Some((&val_x, &val_y)), &options, &mut ())
        .unwrap();

    assert!(history.epochs.len() < 3000, "early stopping never stopped");
    let best = history
        .epochs
        .iter()
        .filter_map(|record| record.val_loss)
        .fold(f64::INFINITY, f64::min);
    let last = history.epochs.last().unwrap().val_loss.unwrap();
    assert!(
        best < last,
        "the last epoch was the best, so restoring is not tested"
    );
    assert_eq!(model.evaluate(&val_x, &val_y).unwrap(), best);
}

#[test]
fn validation_loss_is_recorded() {
    let (mut model, x, y, val_x, val_y) = overfitting_setup();
    let options = FitOptions {
        epochs: 2,
        ..FitOptions::default()
    };
    let history = model
        .fit_with_validation(&x, &y, Some((&val_x, &val_y)), &options, &mut ())
        .unwrap();
    assert!(
        history
            .epochs
            .iter()
            .all(|record| record.val_loss.is_some())
    );
    assert!(
        history
            .to_csv()
            .starts_with("epoch,loss,val_loss,seconds\n")
    );
}

#[derive(Default)]
struct Warnings(Vec<String>);

impl Callback for Warnings {
    fn on_warning(&mut self, message: &str) {
        self.0.push(message.to_string());
    }
}

#[test]
fn dead_relu_layer_is_reported() {
    let mut model = Sequential::new(1);
    model.add(
        Dense::new(4)
            .with_activation(Activation::Relu)
            .with_bias_initializer(Initializer::Constant(-100.0)),
    );
    model.add(Dense::new(1));
    model.build(1).unwrap();
    model
        .compile(OptimizerConfig::SGD, Loss::MeanSquaredError)
        .unwrap();

    let x = Matrix::column((0..32).map(|i| i as f32 / 32.0).collect());
    let options = FitOptions {
        epochs: 5,
        ..FitOptions::default()
    };
    let mut warnings = Warnings::default();
    model.fit(&x, &x, &options, &mut warnings).unwrap();
    assert_eq!(warnings.0.len(), 1, "{:?}", warnings.0);
    assert!(
        warnings.0[0].contains("every gradient of layer 0"),
        "{:?}",
        warnings.0
    );
}
