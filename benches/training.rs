//! Times the training of the default experiment: a 1-30-1 ReLU network, SGD, 40 epochs
//! of 313 steps on 10,000 points of x^2. Next to it, the same training written as plain
//! scalar loops, on the same data, from the same weights and in the same batch order,
//! timed in the same run so that both see the same machine load. Then a medium network
//! in GFLOP/s, next to the gemm crate's own rate on the matrix products of the same
//! training steps, and prediction throughput in samples per second. Last, a 20-run
//! comparison (relu, tanh, sin and snake, five seeds each) in runs per second on one
//! thread and on every core.
//!
//! Run with `cargo bench --bench training`. `-- --fits N` sets the number of timed fits
//! of each default-experiment version (default 20). `-- --default`, `-- --medium` and
//! `-- --compare` run only the default experiment, the medium network and the crate,
//! or the comparison.

use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use outrange::compare::{Comparison, RunStatus, Variant};
use outrange::config::ExperimentConfig;
use outrange::data;
use outrange::experiment::build_model;
use outrange::{Activation, Dense, FitOptions, Loss, Matrix, OptimizerConfig, Sequential};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

fn main() {
    if has_flag("--medium") {
        medium_network();
        return;
    }
    if has_flag("--compare") {
        comparison_throughput();
        return;
    }

    let fits = fits_from_args().unwrap_or(20);
    let config = ExperimentConfig::default_experiment();
    let data = ExperimentData::load(&config);

    default_experiment(&config, &data, fits);
    if has_flag("--default") {
        return;
    }
    medium_network();
    prediction(&config, &data);
    comparison_throughput();
}

/// Times a 20-run comparison of four activations on one thread and on every core,
/// alternating twice, and prints runs per second. Training, prediction and metrics are
/// timed, and writing files and plots is not.
fn comparison_throughput() {
    let base = ExperimentConfig::default_experiment();
    let variants = ["relu", "tanh", "sin", "snake"]
        .into_iter()
        .map(|name| Variant {
            name: name.to_string(),
            config: ExperimentConfig {
                activation: name.parse().expect("a known activation"),
                ..base.clone()
            },
        })
        .collect();
    let comparison = Comparison {
        variants,
        seeds: (1..=5).collect(),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!(
        "compare of {} runs (relu, tanh, sin, snake × 5 seeds):",
        comparison.len()
    );
    let mut rates = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        for (rate, threads) in rates.iter_mut().zip([1, cores]) {
            let started = Instant::now();
            let statuses = comparison.run(threads, &AtomicBool::new(false), &|_, _| {});
            let seconds = started.elapsed().as_secs_f64();
            assert!(statuses.iter().all(|s| matches!(s, RunStatus::Finished(_))));
            rate.push(comparison.len() as f64 / seconds);
        }
    }
    for (rate, threads) in rates.iter().zip([1, cores]) {
        println!(
            "  {threads} thread(s): {:.2} and {:.2} runs/s",
            rate[0], rate[1]
        );
    }
    let speedup = (rates[1][0] + rates[1][1]) / (rates[0][0] + rates[0][1]);
    println!("  {cores} threads / 1 thread: {speedup:.2}x (mean rates)");
}

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

/// Times `fits` fits of the library and of the scalar baseline, alternating, after one
/// untimed fit of each.
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

/// The layer widths of the medium network, inputs first: 8 inputs, two ReLU layers of
/// 256 units and one linear output. It trains with Adam for 3 epochs of 32 batches of
/// 256 rows.
const MEDIUM_WIDTHS: [usize; 4] = [8, 256, 256, 1];
const MEDIUM_ROWS: usize = 8192;
const MEDIUM_BATCH: usize = 256;
const MEDIUM_EPOCHS: usize = 3;
const MEDIUM_STEPS: usize = MEDIUM_EPOCHS * MEDIUM_ROWS / MEDIUM_BATCH;

/// Times the medium network and the gemm crate alone on the matrix products of the
/// same training steps, and prints both rates in GFLOP/s and their ratio.
fn medium_network() {
    let network = medium_network_gflops();
    let products = crate_gflops();
    println!("  the gemm crate alone on the same products: {products:.2} GFLOP/s");
    println!(
        "  medium network / gemm crate: {:.0}%",
        network / products * 100.0
    );
}

/// Times Adam training of the medium network, prints its time per step and rate, and
/// returns the rate in GFLOP/s.
fn medium_network_gflops() -> f64 {
    let inputs = MEDIUM_WIDTHS[0];
    let x: Vec<f32> = (0..MEDIUM_ROWS * inputs)
        .map(|i| (i as f32 * 0.618).sin())
        .collect();
    let y: Vec<f32> = x.chunks_exact(inputs).map(|row| row.iter().sum()).collect();
    let (x, y) = (
        Matrix::from_rows(x, inputs).expect("whole rows"),
        Matrix::column(y),
    );

    let mut model = Sequential::new(inputs);
    model.add(Dense::new(MEDIUM_WIDTHS[1]).with_activation(Activation::Relu));
    model.add(Dense::new(MEDIUM_WIDTHS[2]).with_activation(Activation::Relu));
    model.add(Dense::new(MEDIUM_WIDTHS[3]));
    model.build(0).expect("the medium model builds");
    model
        .compile(OptimizerConfig::ADAM, Loss::MeanSquaredError)
        .expect("Adam compiles");
    let options = FitOptions {
        epochs: MEDIUM_EPOCHS,
        batch_size: MEDIUM_BATCH,
        ..FitOptions::default()
    };

    let started = Instant::now();
    model
        .fit(&x, &y, &options, &mut ())
        .expect("the medium model trains");
    let seconds = started.elapsed().as_secs_f64();

    let gflops = step_flops() * MEDIUM_STEPS as f64 / seconds / 1e9;
    println!("medium network 8-256-256-1 relu, Adam, batch {MEDIUM_BATCH} ({MEDIUM_STEPS} steps):");
    println!(
        "  {:.3} ms per step, {gflops:.2} GFLOP/s",
        seconds / MEDIUM_STEPS as f64 * 1e3
    );
    gflops
}

/// One matrix product `(m × k) · (k × n)` of a training step. Each operand is a
/// row-major buffer, read transposed when its flag is set: `lhs` is then `(k, m)` and
/// `rhs` `(n, k)`.
#[derive(Debug, Clone, Copy)]
struct Product {
    m: usize,
    k: usize,
    n: usize,
    lhs_transposed: bool,
    rhs_transposed: bool,
}

/// Returns the products of one training step of the medium network: per layer the
/// forward pass `x · kernel`, the kernel gradient `xᵀ · dz` and, for every layer but
/// the first, the input gradient `dz · kernelᵀ`. The first layer needs no input
/// gradient because no layer comes before it.
fn medium_step_products() -> Vec<Product> {
    let batch = MEDIUM_BATCH;
    let layers: Vec<(usize, usize)> = MEDIUM_WIDTHS.windows(2).map(|w| (w[0], w[1])).collect();
    let mut products = Vec::new();
    for &(inputs, units) in &layers {
        products.push(Product::plain(batch, inputs, units));
    }
    for &(inputs, units) in &layers {
        products.push(Product {
            lhs_transposed: true,
            ..Product::plain(inputs, batch, units)
        });
    }
    for &(inputs, units) in &layers[1..] {
        products.push(Product {
            rhs_transposed: true,
            ..Product::plain(batch, units, inputs)
        });
    }
    products
}

impl Product {
    fn plain(m: usize, k: usize, n: usize) -> Self {
        Product {
            m,
            k,
            n,
            lhs_transposed: false,
            rhs_transposed: false,
        }
    }

    /// Returns the FLOPs of the product, 2 per multiply-add.
    fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }

    /// Writes `lhs · rhs` into the row-major `(m, n)` buffer `dst` with the gemm crate,
    /// on the calling thread.
    ///
    /// # Panics
    /// If a buffer's length does not match its shape.
    fn multiply(&self, lhs: &[f32], rhs: &[f32], dst: &mut [f32]) {
        let Product { m, k, n, .. } = *self;
        assert_eq!(lhs.len(), m * k, "lhs length");
        assert_eq!(rhs.len(), k * n, "rhs length");
        assert_eq!(dst.len(), m * n, "dst length");
        let (lhs_rs, lhs_cs) = if self.lhs_transposed { (1, m) } else { (k, 1) };
        let (rhs_rs, rhs_cs) = if self.rhs_transposed { (1, k) } else { (n, 1) };

        // SAFETY: with these strides the three pointers address exactly the m·k, k·n
        // and m·n values of their slices, checked above, and `dst` is a separate
        // mutable slice, so it overlaps neither operand.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                n as isize,
                false,
                lhs.as_ptr(),
                lhs_cs as isize,
                lhs_rs as isize,
                rhs.as_ptr(),
                rhs_cs as isize,
                rhs_rs as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        }
    }
}

/// Returns the FLOPs of one training step of the medium network, counted over its
/// matrix products. Bias, activations, loss and optimizer are not counted.
fn step_flops() -> f64 {
    medium_step_products().iter().map(Product::flops).sum()
}

/// Times the gemm crate alone on the products of [`medium_step_products`], as many
/// steps as the medium network trains after one untimed step, and returns the rate
/// in GFLOP/s.
fn crate_gflops() -> f64 {
    let products = medium_step_products();
    let mut buffers: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = products
        .iter()
        .map(|p| {
            let lhs = (0..p.m * p.k).map(|i| (i as f32 * 0.618).sin()).collect();
            let rhs = (0..p.k * p.n).map(|i| (i as f32 * 0.382).cos()).collect();
            (lhs, rhs, vec![0.0; p.m * p.n])
        })
        .collect();
    let mut step = || {
        for (product, (lhs, rhs, dst)) in products.iter().zip(&mut buffers) {
            product.multiply(lhs, rhs, dst);
            black_box(&dst);
        }
    };
    step();

    let started = Instant::now();
    for _ in 0..MEDIUM_STEPS {
        step();
    }
    let seconds = started.elapsed().as_secs_f64();
    step_flops() * MEDIUM_STEPS as f64 / seconds / 1e9
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

/// Returns whether `flag` is among the arguments that cargo bench passes through.
fn has_flag(flag: &str) -> bool {
    std::env::args().any(|arg| arg == flag)
}

/// Reads `--fits N` from the arguments that cargo bench passes through.
fn fits_from_args() -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let position = args.iter().position(|arg| arg == "--fits")?;
    args.get(position + 1)?.parse().ok().filter(|&n| n > 0)
}
