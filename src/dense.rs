//! The fully connected layer.

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::initializer::Initializer;
use crate::kernels::{self, AffineGradients, GradZ, Isa, Shape};
use crate::layer::{Layer, LayerConfig, NamedTensor};

/// The settings of a [`Dense`] layer, with Keras's names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseConfig {
    /// The number of outputs.
    pub units: usize,
    /// The activation applied after the affine map; default linear.
    pub activation: Activation,
    /// Whether the layer adds a bias; default true.
    pub use_bias: bool,
    /// How the kernel is initialized; default glorot_uniform.
    pub kernel_initializer: Initializer,
    /// How the bias is initialized; default zeros.
    pub bias_initializer: Initializer,
}

impl DenseConfig {
    /// Creates the layer, not yet built.
    pub fn create(&self) -> Dense {
        Dense {
            config: self.clone(),
            inputs: None,
            kernel: Vec::new(),
            bias: Vec::new(),
            kernel_grad: Vec::new(),
            bias_grad: Vec::new(),
            pre_activation: Vec::new(),
            output: Vec::new(),
            grad_pre_activation: Vec::new(),
        }
    }

    /// Returns the number of parameters, kernel and bias, of the layer once built for
    /// `input_units` inputs, or `None` when the count overflows `usize`.
    pub fn parameter_count(&self, input_units: usize) -> Option<usize> {
        let bias = if self.use_bias { self.units } else { 0 };
        input_units.checked_mul(self.units)?.checked_add(bias)
    }
}

/// A fully connected layer: `output = activation(input · kernel + bias)`.
///
/// Input shape `(batch, inputs)`, kernel shape `(inputs, units)`, bias shape
/// `(units,)`, output shape `(batch, units)`.
#[derive(Debug, Clone)]
pub struct Dense {
    config: DenseConfig,
    inputs: Option<usize>,
    kernel: Vec<f32>,
    bias: Vec<f32>,
    kernel_grad: Vec<f32>,
    bias_grad: Vec<f32>,
    pre_activation: Vec<f32>,
    output: Vec<f32>,
    grad_pre_activation: Vec<f32>,
}

/// A [`Dense`] layer's parameters, read-only, and their gradients, writable.
pub(crate) struct DenseParts<'a> {
    pub kernel: &'a [f32],
    pub bias: &'a [f32],
    pub kernel_grad: &'a mut [f32],
    pub bias_grad: &'a mut [f32],
}

impl Dense {
    /// Creates a layer of `units` outputs with a linear activation, a glorot_uniform
    /// kernel and a zero bias.
    pub fn new(units: usize) -> Self {
        DenseConfig {
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
        }
        .create()
    }

    /// Sets the activation.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.config.activation = activation;
        self
    }

    /// Sets whether the layer adds a bias.
    pub fn with_use_bias(mut self, use_bias: bool) -> Self {
        self.config.use_bias = use_bias;
        self
    }

    /// Sets the kernel initializer.
    pub fn with_kernel_initializer(mut self, initializer: Initializer) -> Self {
        self.config.kernel_initializer = initializer;
        self
    }

    /// Sets the bias initializer.
    pub fn with_bias_initializer(mut self, initializer: Initializer) -> Self {
        self.config.bias_initializer = initializer;
        self
    }

    /// The kernel, `inputs × units` values, row-major.
    pub fn kernel(&self) -> &[f32] {
        &self.kernel
    }

    /// The bias, `units` values; empty without a bias.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// Returns the kernel and bias with their gradients, for kernels that train several
    /// layers in one pass.
    pub(crate) fn parameters_and_gradients(&mut self) -> DenseParts<'_> {
        DenseParts {
            kernel: &self.kernel,
            bias: &self.bias,
            kernel_grad: &mut self.kernel_grad,
            bias_grad: &mut self.bias_grad,
        }
    }

    fn shape(&self, batch: usize) -> Shape {
        Shape {
            batch,
            inputs: self.inputs.unwrap_or(0),
            units: self.config.units,
        }
    }
}

impl Layer for Dense {
    fn class_name(&self) -> &'static str {
        "Dense"
    }

    fn output_units(&self) -> usize {
        self.config.units
    }

    fn input_units(&self) -> Option<usize> {
        self.inputs
    }

    fn build(&mut self, input_units: usize, rng: &mut ChaCha8Rng) {
        let units = self.config.units;
        self.inputs = Some(input_units);

        // NOTE: A kernel too large for memory (such as --layers 100000000000) aborts the
        // process on allocation instead of returning an error.

        self.kernel = vec![0.0; input_units * units];
        self.config
            .kernel_initializer
            .fill(&mut self.kernel, input_units, units, rng);
        self.kernel_grad = vec![0.0; self.kernel.len()];

        let bias_len = if self.config.use_bias { units } else { 0 };
        self.bias = vec![0.0; bias_len];
        self.config
            .bias_initializer
            .fill(&mut self.bias, input_units, units, rng);
        self.bias_grad = vec![0.0; bias_len];
    }

    fn reserve(&mut self, max_batch: usize) {
        let len = max_batch * self.config.units;
        if self.output.len() < len {
            self.pre_activation.resize(len, 0.0);
            self.output.resize(len, 0.0);
            self.grad_pre_activation.resize(len, 0.0);
        }
    }

    fn forward(&mut self, input: &[f32], batch: usize) -> &[f32] {
        let shape = self.shape(batch);
        let len = batch * shape.units;
        let (kernel, bias) = (&self.kernel, &self.bias);
        let output = &mut self.output[..len];

        // Relu is applied in the same pass as the affine map, and its backward pass
        // needs only the output, so z is not stored.
        let activation = self.config.activation;
        if activation == Activation::Relu {
            kernels::affine(Isa::detect(), input, kernel, bias, output, true, shape);
        } else {
            let z = &mut self.pre_activation[..len];
            kernels::affine(Isa::detect(), input, kernel, bias, z, false, shape);
            activation.apply_slice(z, output);
        }
        output
    }

    fn output(&self, batch: usize) -> &[f32] {
        &self.output[..batch * self.config.units]
    }

    fn backward(
        &mut self,
        input: &[f32],
        grad_output: &[f32],
        grad_input: Option<&mut [f32]>,
        batch: usize,
    ) {
        let shape = self.shape(batch);
        let len = batch * shape.units;
        let (z, output) = (&self.pre_activation[..len], &self.output[..len]);
        let grad_output = &grad_output[..len];
        let scratch = &mut self.grad_pre_activation[..len];

        // Linear needs no work, because g · 1 is g exactly, and the kernels fuse relu.
        let grad_z = match self.config.activation {
            Activation::Linear => GradZ::Given(grad_output),
            Activation::Relu => GradZ::Relu {
                output,
                grad_output,
                scratch,
            },
            other => {
                other.backward_slice(z, output, grad_output, scratch);
                GradZ::Given(scratch)
            }
        };

        let gradients = AffineGradients {
            x: input,
            grad_z,
            kernel_grad: &mut self.kernel_grad,
            bias_grad: &mut self.bias_grad,
            grad_input,
        };
        kernels::affine_backward(Isa::detect(), gradients, &self.kernel, shape);
    }

    fn visit_parameters(&mut self, visit: &mut dyn FnMut(&mut [f32], &[f32])) {
        visit(&mut self.kernel, &self.kernel_grad);
        if self.config.use_bias {
            visit(&mut self.bias, &self.bias_grad);
        }
    }

    fn parameters(&self) -> Vec<NamedTensor<'_>> {
        let mut tensors = vec![NamedTensor {
            name: "kernel",
            shape: vec![self.inputs.unwrap_or(0), self.config.units],
            values: &self.kernel,
        }];
        if self.config.use_bias {
            tensors.push(NamedTensor {
                name: "bias",
                shape: vec![self.config.units],
                values: &self.bias,
            });
        }
        tensors
    }

    fn set_parameter(&mut self, name: &str, values: &[f32]) -> Result<(), String> {
        let target = match name {
            "kernel" => &mut self.kernel,
            "bias" if self.config.use_bias => &mut self.bias,
            _ => return Err(format!("a Dense layer has no parameter {name:?}")),
        };
        if target.len() != values.len() {
            return Err(format!(
                "{name} needs {} values, got {}",
                target.len(),
                values.len()
            ));
        }
        target.copy_from_slice(values);
        Ok(())
    }

    fn config(&self) -> LayerConfig {
        LayerConfig::Dense(self.config.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A built 3-input, 2-unit layer with fixed, uneven parameters.
    fn layer(activation: Activation) -> Dense {
        let mut dense = Dense::new(2).with_activation(activation);
        dense.build(3, &mut ChaCha8Rng::seed_from_u64(1));
        dense
            .set_parameter("kernel", &[0.5, -0.3, 0.2, 0.8, -0.7, 0.1])
            .unwrap();
        dense.set_parameter("bias", &[0.05, -0.1]).unwrap();
        dense.reserve(4);
        dense
    }

    #[test]
    fn forward_matches_hand_computation() {
        let mut dense = layer(Activation::Linear);
        let output = dense.forward(&[1.0, 2.0, 3.0], 1).to_vec();
        // 0.05 + 1 * 0.5 + 2 * 0.2 + 3 * -0.7 and -0.1 + 1 * -0.3 + 2 * 0.8 + 3 * 0.1.
        assert!((output[0] - -1.15).abs() < 1e-6, "{output:?}");
        assert!((output[1] - 1.5).abs() < 1e-6, "{output:?}");
    }

    /// The weighted sum of outputs that the gradient check differentiates.
    fn objective(dense: &mut Dense, input: &[f32], weights: &[f32]) -> f64 {
        let output = dense.forward(input, 2);
        output
            .iter()
            .zip(weights)
            .map(|(&o, &w)| o as f64 * w as f64)
            .sum()
    }

    #[test]
    fn gradients_match_finite_differences() {
        let input = [0.3f32, -1.1, 0.7, 1.4, 0.2, -0.6];
        let weights = [0.7f32, -1.3, 0.4, 0.9];
        for activation in [
            Activation::Relu,
            Activation::Tanh,
            Activation::Snake { a: 1.5 },
        ] {
            let mut dense = layer(activation);
            dense.forward(&input, 2);
            let mut grad_input = [0.0f32; 6];
            dense.backward(&input, &weights, Some(&mut grad_input), 2);
            let kernel_grad = dense.kernel_grad.clone();
            let bias_grad = dense.bias_grad.clone();

            let h = 1e-3f32;
            for (name, analytic) in [("kernel", &kernel_grad), ("bias", &bias_grad)] {
                for i in 0..analytic.len() {
                    let original = if name == "kernel" {
                        dense.kernel.clone()
                    } else {
                        dense.bias.clone()
                    };
                    let mut shifted = original.clone();
                    shifted[i] += h;
                    dense.set_parameter(name, &shifted).unwrap();
                    let plus = objective(&mut dense, &input, &weights);
                    shifted[i] -= 2.0 * h;
                    dense.set_parameter(name, &shifted).unwrap();
                    let minus = objective(&mut dense, &input, &weights);
                    dense.set_parameter(name, &original).unwrap();

                    let numeric = (plus - minus) / (2.0 * h as f64);
                    let error = (analytic[i] as f64 - numeric).abs();
                    assert!(
                        error < 2e-3,
                        "{activation} {name}[{i}]: {} against {numeric}",
                        analytic[i]
                    );
                }
            }

            for i in 0..input.len() {
                let mut shifted = input;
                shifted[i] += h;
                let plus = objective(&mut dense, &shifted, &weights);
                shifted[i] -= 2.0 * h;
                let minus = objective(&mut dense, &shifted, &weights);
                let numeric = (plus - minus) / (2.0 * h as f64);
                let error = (grad_input[i] as f64 - numeric).abs();
                assert!(
                    error < 2e-3,
                    "{activation} input[{i}]: {} against {numeric}",
                    grad_input[i]
                );
            }
        }
    }

    #[test]
    fn without_bias_has_only_kernel() {
        let mut dense = Dense::new(4).with_use_bias(false);
        dense.build(2, &mut ChaCha8Rng::seed_from_u64(1));
        let names: Vec<_> = dense.parameters().iter().map(|t| t.name).collect();
        assert_eq!(names, ["kernel"]);
        assert!(dense.set_parameter("bias", &[0.0; 4]).is_err());
    }

    #[test]
    fn set_parameter_checks_length() {
        let mut dense = layer(Activation::Linear);
        let message = dense.set_parameter("kernel", &[1.0]).unwrap_err();
        assert_eq!(message, "kernel needs 6 values, got 1");
    }
}
