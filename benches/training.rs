//! Times the training of the default experiment: a 1-30-1 ReLU network, SGD, 40 epochs
//! of 313 steps on 10,000 points of x^2. Next to it, the same training written as plain
//! scalar loops, on the same data, from the same weights and in the same batch order,
//! timed in the same run so that both see the same machine load. Then a medium network
//! in GFLOP/s and prediction throughput in samples per second.
//!
//! Run with `cargo bench --bench training`; `-- --fits N` sets the number of timed fits
//! of each default-experiment version (default 20).

use std::hint::black_box;
use std::time::Instant;

use outrange::config::ExperimentConfig;
use outrange::data;
use outrange::experiment::build_model;
use outrange::{Activation, Dense, FitOptions, Loss, Matrix, OptimizerConfig, Sequential};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

fn main() {
    let fits = fits_from_args().unwrap_or(20);
    let config = ExperimentConfig::default_experiment();
    let data = ExperimentData::load(&config);

    default_experiment(&config, &data, fits);
    medium_network();
    prediction(&config, &data);
}

/// Times `fits` fits of the library and of the scalar baseline, alternating, after one
/// untimed fit of each.
/// The default experiment's rows as the model takes them: one-column f32 matrices.
struct ExperimentData {
    train_x: Matrix,
    train_y: Matrix,
    test_x: Matrix,
}

impl ExperimentData {
    fn load(config: &ExperimentConfig) -> Self {
        let rows = data::ExperimentData::load(config)
            .expect("the default experiment samples its function");
        let column = |values: &[f64]| Matrix::column(values.iter().map(|&v| v as f32).collect());
        ExperimentData {
            train_x: column(&rows.train_x),
            train_y: column(&rows.train_y),
            test_x: column(&rows.test_x),
        }
    }
}

fn default_experiment(config: &ExperimentConfig, data: &ExperimentData, fits: usize) {
    let steps = config.epochs * data.train_x.rows().div_ceil(config.batch_size);
    library_fit(config, data);
    scalar_fit(config, data);

    let mut library = Vec::with_capacity(fits);
    let mut scalar = Vec::with_capacity(fits);
    let (mut library_loss, mut scalar_loss) = (0.0, 0.0);
    for _ in 0..fits {
        let (seconds, loss) = library_fit(config, data);
        library.push(seconds);
        library_loss = loss;
        let (seconds, loss) = scalar_fit(config, data);
        scalar.push(seconds);
        scalar_loss = loss;
    }

    println!(
        "default experiment training ({fits} fits of {steps} steps, batch {}):",
        config.batch_size
    );
    print_timing("library", &mut library, steps);
    print_timing("scalar baseline", &mut scalar, steps);
    println!(
        "  baseline / library: {:.2}x (medians)",
        median(&scalar) / median(&library)
    );
    println!("  final epoch loss: library {library_loss:.6e}, scalar baseline {scalar_loss:.6e}");
}

fn print_timing(name: &str, seconds: &mut [f64], steps: usize) {
    seconds.sort_by(f64::total_cmp);
    let (min, max) = (seconds[0], seconds[seconds.len() - 1]);
    let median = median(seconds);
    println!(
        "  {name}: per fit median {:.3} ms (min {:.3}, max {:.3}), per step median {:.3} µs",
        median * 1e3,
        min * 1e3,
        max * 1e3,
        median / steps as f64 * 1e6
    );
}

/// Returns the median of `seconds`, which must be sorted.
fn median(seconds: &[f64]) -> f64 {
    seconds[seconds.len() / 2]
}

/// Builds the default model and returns the wall time of its `fit`, in seconds, and
/// the loss of its last epoch.
fn library_fit(config: &ExperimentConfig, data: &ExperimentData) -> (f64, f64) {
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
    let history = model
        .fit(&data.train_x, &data.train_y, &options, &mut ())
        .expect("the default experiment trains");
    let seconds = started.elapsed().as_secs_f64();
    (seconds, history.epochs.last().map_or(f64::NAN, |e| e.loss))
}

/// Trains the scalar baseline from the default model's initial weights and returns
/// the wall time of training, in seconds, and the loss of the last epoch.
fn scalar_fit(config: &ExperimentConfig, data: &ExperimentData) -> (f64, f64) {
    let model = build_model(config, 1, 1).expect("the default model builds");
    let mut network = ScalarNetwork::from_model(&model);
    let (x, y) = (data.train_x.as_slice(), data.train_y.as_slice());

    let started = Instant::now();
    let loss = network.train(x, y, config);
    (started.elapsed().as_secs_f64(), loss)
}

/// The default network, `Dense(30, relu)` then `Dense(1)`, written as plain f32 loops
/// over one sample at a time: the clear version that the library is compared with.
struct ScalarNetwork {
    /// The hidden kernel, one weight per hidden unit (the network has one input).
    hidden_kernel: Vec<f32>,
    hidden_bias: Vec<f32>,
    /// The output kernel, one weight per hidden unit (the network has one output).
    output_kernel: Vec<f32>,
    output_bias: f32,
}

/// The gradients of a [`ScalarNetwork`]'s parameters over one batch.
struct ScalarGradients {
    hidden_kernel: Vec<f32>,
    hidden_bias: Vec<f32>,
    output_kernel: Vec<f32>,
    output_bias: f32,
}

impl ScalarNetwork {
    /// Copies the weights of a built 1-H-1 model.
    fn from_model(model: &Sequential) -> Self {
        let hidden = model.layers()[0].parameters();
        let output = model.layers()[1].parameters();
        ScalarNetwork {
            hidden_kernel: hidden[0].values.to_vec(),
            hidden_bias: hidden[1].values.to_vec(),
            output_kernel: output[0].values.to_vec(),
            output_bias: output[1].values[0],
        }
    }

    /// Trains with SGD on the mean squared error, shuffling each epoch with the same
    /// random stream as `Sequential::fit`, and returns the last epoch's mean loss.
    // The baseline is plain indexed loops on purpose: the code a user would write first.
    #[allow(clippy::needless_range_loop)]
    fn train(&mut self, x: &[f32], y: &[f32], config: &ExperimentConfig) -> f64 {
        let width = self.hidden_kernel.len();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(1);
        let mut order: Vec<usize> = (0..x.len()).collect();
        let mut hidden_pre_activation = vec![0.0f32; width];
        let mut hidden = vec![0.0f32; width];
        let mut gradients = ScalarGradients {
            hidden_kernel: vec![0.0; width],
            hidden_bias: vec![0.0; width],
            output_kernel: vec![0.0; width],
            output_bias: 0.0,
        };

        let mut epoch_loss = 0.0;
        for _ in 0..config.epochs {
            // Like `Sequential::fit`, each epoch shuffles a fresh index order.
            order.clear();
            order.extend(0..x.len());
            order.shuffle(&mut rng);
            let mut loss_sum = 0.0f64;
            for batch in order.chunks(config.batch_size) {
                gradients.clear();
                for &row in batch {
                    // Forward pass.
                    let input = x[row];
                    for j in 0..width {
                        hidden_pre_activation[j] =
                            self.hidden_kernel[j] * input + self.hidden_bias[j];
                        hidden[j] = hidden_pre_activation[j].max(0.0);
                    }
                    let mut prediction = self.output_bias;
                    for j in 0..width {
                        prediction += hidden[j] * self.output_kernel[j];
                    }

                    // Loss and its gradient with respect to the prediction.
                    let error = prediction - y[row];
                    loss_sum += error as f64 * error as f64;
                    let grad_prediction = 2.0 * error / batch.len() as f32;

                    // Backward pass.
                    gradients.output_bias += grad_prediction;
                    for j in 0..width {
                        gradients.output_kernel[j] += grad_prediction * hidden[j];
                        // A multiplication by relu's slope instead of a branch: with the
                        // rows in random order the branch is often mispredicted, and the
                        // loop without it ran faster here.
                        let slope = if hidden_pre_activation[j] > 0.0 {
                            1.0
                        } else {
                            0.0
                        };
                        let grad_hidden = grad_prediction * self.output_kernel[j] * slope;
                        gradients.hidden_kernel[j] += grad_hidden * input;
                        gradients.hidden_bias[j] += grad_hidden;
                    }
                }
                self.step(&gradients, config.learning_rate);
            }
            epoch_loss = loss_sum / x.len() as f64;
        }
        epoch_loss
    }

    /// Applies one SGD step, `w ← w - learning_rate · g`.
    fn step(&mut self, gradients: &ScalarGradients, learning_rate: f32) {
        let pairs = [
            (&mut self.hidden_kernel, &gradients.hidden_kernel),
            (&mut self.hidden_bias, &gradients.hidden_bias),
            (&mut self.output_kernel, &gradients.output_kernel),
        ];
        for (values, grads) in pairs {
            for (w, g) in values.iter_mut().zip(grads) {
                *w -= learning_rate * g;
            }
        }
        self.output_bias -= learning_rate * gradients.output_bias;
    }
}

impl ScalarGradients {
    fn clear(&mut self) {
        self.hidden_kernel.fill(0.0);
        self.hidden_bias.fill(0.0);
        self.output_kernel.fill(0.0);
        self.output_bias = 0.0;
    }
}

/// Times Adam training of an 8-256-256-1 ReLU network with batch 256 and prints the
/// rate in GFLOP/s.
fn medium_network() {
    const INPUTS: usize = 8;
    const HIDDEN: usize = 256;
    const ROWS: usize = 8192;
    const BATCH: usize = 256;
    const EPOCHS: usize = 3;

    let x: Vec<f32> = (0..ROWS * INPUTS)
        .map(|i| (i as f32 * 0.618).sin())
        .collect();
    let y: Vec<f32> = x.chunks_exact(INPUTS).map(|row| row.iter().sum()).collect();
    let (x, y) = (
        Matrix::from_rows(x, INPUTS).expect("whole rows"),
        Matrix::column(y),
    );

    let mut model = Sequential::new(INPUTS);
    model.add(Dense::new(HIDDEN).with_activation(Activation::Relu));
    model.add(Dense::new(HIDDEN).with_activation(Activation::Relu));
    model.add(Dense::new(1));
    model.build(0).expect("the medium model builds");
    model
        .compile(OptimizerConfig::ADAM, Loss::MeanSquaredError)
        .expect("Adam compiles");
    let options = FitOptions {
        epochs: EPOCHS,
        batch_size: BATCH,
        ..FitOptions::default()
    };

    let started = Instant::now();
    model
        .fit(&x, &y, &options, &mut ())
        .expect("the medium model trains");
    let seconds = started.elapsed().as_secs_f64();

    // A multiply-add counts as 2 FLOPs. Per row: the forward pass and the kernel
    // gradients take one multiply-add per kernel weight each, and the input gradients
    // one per kernel weight of every layer but the first. Bias, activations, loss and
    // optimizer are not counted.
    let kernels = [INPUTS * HIDDEN, HIDDEN * HIDDEN, HIDDEN];
    let per_row = 2 * (2 * kernels.iter().sum::<usize>() + kernels[1] + kernels[2]);
    let flops = (per_row * ROWS * EPOCHS) as f64;
    let steps = EPOCHS * ROWS / BATCH;
    println!("medium network 8-256-256-1 relu, Adam, batch {BATCH} ({steps} steps):");
    println!(
        "  {:.3} ms per step, {:.2} GFLOP/s",
        seconds / steps as f64 * 1e3,
        flops / seconds / 1e9
    );
}

/// Times `predict` of the default model, untrained, over the test inputs.
fn prediction(config: &ExperimentConfig, data: &ExperimentData) {
    const REPEATS: usize = 50;
    let mut model = build_model(config, 1, 1).expect("the default model builds");

    let started = Instant::now();
    for _ in 0..REPEATS {
        black_box(model.predict(black_box(&data.test_x)).expect("prediction"));
    }
    let seconds = started.elapsed().as_secs_f64();
    let samples = (REPEATS * data.test_x.rows()) as f64;
    println!(
        "prediction with the default network ({REPEATS} × {} rows):",
        data.test_x.rows()
    );
    println!("  {:.1} million samples/s", samples / seconds / 1e6);
}

/// Reads `--fits N` from the arguments that cargo bench passes through.
fn fits_from_args() -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let position = args.iter().position(|arg| arg == "--fits")?;
    args.get(position + 1)?.parse().ok().filter(|&n| n > 0)
}
