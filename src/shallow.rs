//! Chooses the fused training step for shallow networks: one input, one hidden `Dense`
//! layer with relu, and one linear output unit, trained on the mean squared error. The
//! default experiment's network has this shape, and the fused step trains it about
//! three times as fast as running its layers one by one (see BENCHMARKS.md). Every
//! other model, and every CPU without AVX2 and FMA, takes the general path through the
//! layers.

use std::any::Any;

use crate::activation::Activation;
use crate::dense::Dense;
use crate::kernels::{self, Isa, ShallowGradients, ShallowNetwork, ShallowScratch};
use crate::layer::{Layer, LayerConfig};
use crate::loss::Loss;

/// The fused training step, for a model that has the shallow shape.
#[derive(Debug)]
pub(crate) struct ShallowStep {
    isa: Isa,
    scratch: ShallowScratch,
}

impl ShallowStep {
    /// Returns the fused step when `layers` and `loss` have the shallow shape and the
    /// running CPU supports it.
    pub(crate) fn plan(layers: &[Box<dyn Layer>], loss: Loss) -> Option<ShallowStep> {
        let isa = Isa::detect();
        if !kernels::shallow_supported(isa) || loss != Loss::MeanSquaredError {
            return None;
        }
        let [hidden, output] = layers else {
            return None;
        };
        // Every layer is Dense today; a new layer type makes this `let` refutable.
        let (LayerConfig::Dense(hidden_config), LayerConfig::Dense(output_config)) =
            (hidden.config(), output.config());

        let shallow = hidden.input_units() == Some(1)
            && hidden_config.activation == Activation::Relu
            && hidden_config.use_bias
            && output_config.units == 1
            && output_config.activation == Activation::Linear
            && output_config.use_bias;
        shallow.then(|| ShallowStep {
            isa,
            scratch: ShallowScratch::new(hidden_config.units),
        })
    }

    /// Runs one step's forward and backward pass on the batch `x`, `y` (one value per
    /// row), leaves the gradients in the layers, and returns the sum of the squared
    /// errors.
    ///
    /// # Panics
    /// If `layers` are not the ones [`ShallowStep::plan`] accepted.
    pub(crate) fn forward_backward(
        &mut self,
        layers: &mut [Box<dyn Layer>],
        x: &[f32],
        y: &[f32],
    ) -> f64 {
        let [hidden, output] = layers else {
            panic!("a shallow network has two layers");
        };
        let hidden = as_dense(hidden).parameters_and_gradients();
        let output = as_dense(output).parameters_and_gradients();
        let [output_bias_grad] = output.bias_grad else {
            panic!("a shallow network has one output unit");
        };

        let network = ShallowNetwork {
            hidden_kernel: hidden.kernel,
            hidden_bias: hidden.bias,
            output_kernel: output.kernel,
            output_bias: output.bias[0],
        };
        let gradients = ShallowGradients {
            hidden_kernel: hidden.kernel_grad,
            hidden_bias: hidden.bias_grad,
            output_kernel: output.kernel_grad,
            output_bias: output_bias_grad,
        };
        kernels::shallow_step(self.isa, network, gradients, x, y, &mut self.scratch)
    }
}

fn as_dense(layer: &mut Box<dyn Layer>) -> &mut Dense {
    let layer: &mut dyn Any = layer.as_mut();
    layer
        .downcast_mut::<Dense>()
        .expect("a shallow network's layers are Dense")
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::initializer::Initializer;

    /// Builds a shallow network of `units` hidden units with random weights and biases,
    /// so that some hidden units are inactive for part of the inputs.
    fn shallow_layers(units: usize, seed: u64) -> Vec<Box<dyn Layer>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut hidden = Dense::new(units).with_activation(Activation::Relu);
        let mut output = Dense::new(1).with_bias_initializer(Initializer::Constant(0.25));
        hidden.build(1, &mut rng);
        output.build(units, &mut rng);

        let bias: Vec<f32> = (0..units).map(|_| rng.random_range(-0.5..0.5)).collect();
        hidden
            .set_parameter("bias", &bias)
            .expect("one bias per unit");
        vec![Box::new(hidden), Box::new(output)]
    }

    /// Returns the gradients in `layers`, flattened in `visit_parameters` order.
    fn gradients(layers: &mut [Box<dyn Layer>]) -> Vec<f32> {
        let mut all = Vec::new();
        for layer in layers {
            layer.visit_parameters(&mut |_, gradient| all.extend_from_slice(gradient));
        }
        all
    }

    /// Runs the general path, layer by layer, and returns the loss sum and gradients.
    fn general_step(layers: &mut [Box<dyn Layer>], x: &[f32], y: &[f32]) -> (f64, Vec<f32>) {
        let (batch, units) = (x.len(), layers[0].output_units());
        for layer in layers.iter_mut() {
            layer.reserve(batch);
        }
        let hidden = layers[0].forward(x, batch).to_vec();
        let predictions = layers[1].forward(&hidden, batch).to_vec();
        let mut grad_predictions = vec![0.0; batch];
        let loss = Loss::MeanSquaredError.sum_and_gradient(&predictions, y, &mut grad_predictions);
        let mut grad_hidden = vec![0.0; batch * units];
        layers[1].backward(&hidden, &grad_predictions, Some(&mut grad_hidden), batch);
        layers[0].backward(x, &grad_hidden, None, batch);
        (loss, gradients(layers))
    }

    #[test]
    fn fused_step_matches_general_path() {
        if !kernels::shallow_supported(Isa::detect()) {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for (units, batch) in [(1, 1), (3, 7), (30, 32), (30, 33), (9, 100), (33, 64)] {
            let x: Vec<f32> = (0..batch).map(|_| rng.random_range(-2.0..2.0)).collect();
            let y: Vec<f32> = x.iter().map(|v| v * v).collect();
            let mut general = shallow_layers(units, units as u64);
            let mut fused = shallow_layers(units, units as u64);

            let (expected_loss, expected) = general_step(&mut general, &x, &y);
            let mut step = ShallowStep::plan(&fused, Loss::MeanSquaredError).expect("shallow");
            let loss = step.forward_backward(&mut fused, &x, &y);
            let actual = gradients(&mut fused);

            let case = format!("{units} units, batch {batch}");
            assert!(
                (loss - expected_loss).abs() <= 1e-5 * expected_loss,
                "{case}: loss {loss}, expected {expected_loss}"
            );
            let scale = expected.iter().fold(1e-3f32, |m, g| m.max(g.abs()));
            for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
                assert!(
                    (a - e).abs() <= 1e-5 * scale,
                    "{case}: gradient {i} is {a}, expected {e}"
                );
            }
        }
    }

    #[test]
    fn fused_step_runs_again_on_a_smaller_batch() {
        if !kernels::shallow_supported(Isa::detect()) {
            return;
        }
        let mut layers = shallow_layers(4, 1);
        let mut step = ShallowStep::plan(&layers, Loss::MeanSquaredError).expect("shallow");
        let x: Vec<f32> = (0..40).map(|i| i as f32 / 20.0 - 1.0).collect();
        step.forward_backward(&mut layers, &x, &x);

        // The last batch of an epoch is often shorter. Nothing of the longer one remains.
        let loss = step.forward_backward(&mut layers, &x[..3], &x[..3]);
        let fused = gradients(&mut layers);
        let mut general = shallow_layers(4, 1);
        let (expected_loss, expected) = general_step(&mut general, &x[..3], &x[..3]);
        assert!((loss - expected_loss).abs() <= 1e-6 * expected_loss.max(1.0));
        for (a, e) in fused.iter().zip(&expected) {
            assert!((a - e).abs() <= 1e-6, "{fused:?} vs {expected:?}");
        }
    }

    #[test]
    fn plan_takes_only_the_shallow_shape() {
        let supported = kernels::shallow_supported(Isa::detect());
        let mse = Loss::MeanSquaredError;
        assert_eq!(
            ShallowStep::plan(&shallow_layers(30, 0), mse).is_some(),
            supported
        );
        assert!(ShallowStep::plan(&shallow_layers(30, 0), Loss::MeanAbsoluteError).is_none());

        let build = |inputs: usize, hidden: Dense, output: Dense| -> Vec<Box<dyn Layer>> {
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let (mut hidden, mut output) = (hidden, output);
            hidden.build(inputs, &mut rng);
            output.build(hidden.output_units(), &mut rng);
            vec![Box::new(hidden), Box::new(output)]
        };
        let relu = || Dense::new(8).with_activation(Activation::Relu);
        let other_shapes = [
            build(2, relu(), Dense::new(1)),
            build(
                1,
                Dense::new(8).with_activation(Activation::Tanh),
                Dense::new(1),
            ),
            build(1, relu().with_use_bias(false), Dense::new(1)),
            build(1, relu(), Dense::new(2)),
            build(1, relu(), Dense::new(1).with_activation(Activation::Relu)),
            build(1, relu(), Dense::new(1).with_use_bias(false)),
        ];
        for layers in other_shapes {
            assert!(ShallowStep::plan(&layers, mse).is_none(), "{layers:?}");
        }
    }
}
