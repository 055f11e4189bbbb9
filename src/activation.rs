//! Activation functions applied element-wise after a layer's affine map.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::kernels::{self, Isa};

/// SELU's scale, from Klambauer et al. (2017), as Keras uses it.
const SELU_SCALE: f32 = 1.050_701;
/// SELU's alpha, from Klambauer et al. (2017), as Keras uses it.
const SELU_ALPHA: f32 = 1.673_263_2;

/// An element-wise activation `f(z)` with its derivative `f'(z)`.
///
/// Names and defaults follow `keras.activations`. Parameterised activations take
/// their parameter in brackets when parsed from text, for example `leaky_relu(0.1)`
/// or `snake(2)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Activation {
    /// `f(z) = z`.
    Linear,
    /// `f(z) = max(z, 0)`; `f'(0)` is taken as 0, like TensorFlow.
    Relu,
    /// `f(z) = z` for `z > 0`, else `alpha * z`. Keras's default `alpha` (its
    /// `negative_slope`) is 0.2.
    LeakyRelu { alpha: f32 },
    /// `f(z) = z` for `z > 0`, else `alpha * (exp(z) - 1)`; default `alpha` 1.
    Elu { alpha: f32 },
    /// `f(z) = scale * elu(z, alpha)` with the fixed constants of Klambauer et al.
    Selu,
    /// The exact GELU, `f(z) = z * Φ(z)` with `Φ` the standard normal CDF.
    Gelu,
    /// `f(z) = 1 / (1 + exp(-z))`.
    Sigmoid,
    /// `f(z) = tanh(z)`.
    Tanh,
    /// `f(z) = ln(1 + exp(z))`.
    Softplus,
    /// `f(z) = z * sigmoid(z)`, also called swish.
    Silu,
    /// `f(z) = sin(z)`.
    Sin,
    /// `f(z) = z + sin²(a·z) / a` (Ziyin, Hartwig and Ueda, 2020); default `a` 1.
    Snake { a: f32 },
}

impl Activation {
    /// The names accepted by [`Activation::from_str`].
    pub const NAMES: [&'static str; 12] = [
        "linear",
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "sigmoid",
        "tanh",
        "softplus",
        "silu",
        "sin",
        "snake",
    ];

    /// Computes `f(z)`.
    pub fn apply(self, z: f32) -> f32 {
        match self {
            Activation::Linear => z,
            Activation::Relu => z.max(0.0),
            Activation::LeakyRelu { alpha } => {
                if z > 0.0 {
                    z
                } else {
                    alpha * z
                }
            }
            Activation::Elu { alpha } => elu(z, alpha),
            Activation::Selu => SELU_SCALE * elu(z, SELU_ALPHA),
            Activation::Gelu => z * normal_cdf(z),
            Activation::Sigmoid => sigmoid(z),
            Activation::Tanh => z.tanh(),
            Activation::Softplus => softplus(z),
            Activation::Silu => z * sigmoid(z),
            Activation::Sin => z.sin(),
            Activation::Snake { a } => {
                let s = (a * z).sin();
                z + s * s / a
            }
        }
    }

    /// Computes `f'(z)`; `output` must be `f(z)`, which some derivatives reuse.
    pub fn derivative(self, z: f32, output: f32) -> f32 {
        match self {
            Activation::Linear => 1.0,
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { alpha } => {
                if z > 0.0 {
                    1.0
                } else {
                    alpha
                }
            }
            Activation::Elu { alpha } => {
                if z > 0.0 {
                    1.0
                } else {
                    alpha * z.exp()
                }
            }
            Activation::Selu => {
                if z > 0.0 {
                    SELU_SCALE
                } else {
                    SELU_SCALE * SELU_ALPHA * z.exp()
                }
            }
            Activation::Gelu => normal_cdf(z) + z * normal_pdf(z),
            Activation::Sigmoid => output * (1.0 - output),
            Activation::Tanh => 1.0 - output * output,
            Activation::Softplus => sigmoid(z),
            Activation::Silu => {
                let s = sigmoid(z);
                s + z * s * (1.0 - s)
            }
            Activation::Sin => z.cos(),
            Activation::Snake { a } => 1.0 + (2.0 * a * z).sin(),
        }
    }

    /// Computes `output[i] = f(z[i])` for every element, with the same values as
    /// [`Activation::apply`], except for tanh, sin and snake on CPUs with AVX2 and FMA.
    /// Those use a vectorised tanh or sin, within 1e-6 relative of f64. The activation is matched once,
    /// outside the loop, so the cheap ones (linear, relu, leaky_relu) compile to vector
    /// instructions.
    ///
    /// # Panics
    /// If the slices differ in length.
    #[track_caller]
    pub fn apply_slice(self, z: &[f32], output: &mut [f32]) {
        assert_eq!(z.len(), output.len(), "z and output lengths");
        match self {
            Activation::Linear => output.copy_from_slice(z),
            Activation::Relu => kernels::relu(Isa::detect(), z, output),
            Activation::Tanh => kernels::tanh(Isa::detect(), z, output),
            Activation::Sin => {
                output.copy_from_slice(z);
                kernels::sin_in_place(Isa::detect(), output);
            }
            Activation::Snake { a } => {
                map(z, output, |v| a * v);
                kernels::sin_in_place(Isa::detect(), output);
                for (o, &v) in output.iter_mut().zip(z) {
                    *o = v + *o * *o / a;
                }
            }
            Activation::LeakyRelu { alpha } => {
                map(z, output, |v| if v > 0.0 { v } else { alpha * v })
            }
            other => map(z, output, |v| other.apply(v)),
        }
    }

    /// Computes the gradient with respect to `z`, `grad_z[i] = grad_output[i] · f'(z[i])`,
    /// with the same values as multiplying by [`Activation::derivative`], except that
    /// sin and snake use the vectorised sin and cos of [`Activation::apply_slice`].
    /// `output` must be `f(z)`, which some derivatives reuse.
    ///
    /// # Panics
    /// If the slices differ in length.
    #[track_caller]
    pub fn backward_slice(
        self,
        z: &[f32],
        output: &[f32],
        grad_output: &[f32],
        grad_z: &mut [f32],
    ) {
        assert_eq!(z.len(), grad_z.len(), "z and grad_z lengths");
        assert_eq!(output.len(), grad_z.len(), "output and grad_z lengths");
        assert_eq!(
            grad_output.len(),
            grad_z.len(),
            "grad_output and grad_z lengths"
        );
        match self {
            // g · 1 is g exactly.
            Activation::Linear => grad_z.copy_from_slice(grad_output),
            Activation::Relu => kernels::relu_backward(Isa::detect(), z, grad_output, grad_z),
            Activation::LeakyRelu { alpha } => map2(z, grad_output, grad_z, |v, g| {
                g * if v > 0.0 { 1.0 } else { alpha }
            }),
            Activation::Sigmoid => map2(output, grad_output, grad_z, |o, g| g * (o * (1.0 - o))),
            Activation::Tanh => map2(output, grad_output, grad_z, |o, g| g * (1.0 - o * o)),
            Activation::Sin => {
                grad_z.copy_from_slice(z);
                kernels::cos_in_place(Isa::detect(), grad_z);
                for (d, &g) in grad_z.iter_mut().zip(grad_output) {
                    *d *= g;
                }
            }
            Activation::Snake { a } => {
                map(z, grad_z, |v| 2.0 * a * v);
                kernels::sin_in_place(Isa::detect(), grad_z);
                for (d, &g) in grad_z.iter_mut().zip(grad_output) {
                    *d = g * (1.0 + *d);
                }
            }
            other => {
                for (((d, &g), &v), &o) in grad_z.iter_mut().zip(grad_output).zip(z).zip(output) {
                    *d = g * other.derivative(v, o);
                }
            }
        }
    }

    /// Checks the parameter of a parameterised activation.
    fn validate(self) -> Result<Self, String> {
        match self {
            Activation::LeakyRelu { alpha } | Activation::Elu { alpha } if !alpha.is_finite() => {
                Err(format!("the slope must be a finite number, got {alpha}"))
            }
            Activation::Snake { a } if !(a.is_finite() && a > 0.0) => Err(format!(
                "snake's frequency a must be a finite number > 0, got {a}"
            )),
            _ => Ok(self),
        }
    }
}

/// Writes `f(input[i])` into `output[i]`. Inlining fixes `f` inside the loop.
#[inline(always)]
fn map(input: &[f32], output: &mut [f32], f: impl Fn(f32) -> f32) {
    for (o, &v) in output.iter_mut().zip(input) {
        *o = f(v);
    }
}

/// Writes `f(a[i], b[i])` into `output[i]`. Inlining fixes `f` inside the loop.
#[inline(always)]
fn map2(a: &[f32], b: &[f32], output: &mut [f32], f: impl Fn(f32, f32) -> f32) {
    for ((o, &u), &v) in output.iter_mut().zip(a).zip(b) {
        *o = f(u, v);
    }
}

fn elu(z: f32, alpha: f32) -> f32 {
    if z > 0.0 { z } else { alpha * z.exp_m1() }
}

fn sigmoid(z: f32) -> f32 {
    // Written so that exp never overflows: for z < 0 it uses exp(z) / (1 + exp(z)).
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn softplus(z: f32) -> f32 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

fn normal_cdf(z: f32) -> f32 {
    0.5 * libm::erfcf(-z * std::f32::consts::FRAC_1_SQRT_2)
}

fn normal_pdf(z: f32) -> f32 {
    const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
    FRAC_1_SQRT_2PI * (-0.5 * z * z).exp()
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Linear => f.write_str("linear"),
            Activation::Relu => f.write_str("relu"),
            Activation::LeakyRelu { alpha } => write!(f, "leaky_relu({alpha})"),
            Activation::Elu { alpha } => write!(f, "elu({alpha})"),
            Activation::Selu => f.write_str("selu"),
            Activation::Gelu => f.write_str("gelu"),
            Activation::Sigmoid => f.write_str("sigmoid"),
            Activation::Tanh => f.write_str("tanh"),
            Activation::Softplus => f.write_str("softplus"),
            Activation::Silu => f.write_str("silu"),
            Activation::Sin => f.write_str("sin"),
            Activation::Snake { a } => write!(f, "snake({a})"),
        }
    }
}

/// An activation name that could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid activation {text:?}: {reason}")]
pub struct ParseActivationError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it and what would be valid.
    pub reason: String,
}

impl FromStr for Activation {
    type Err = ParseActivationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| ParseActivationError {
            text: text.to_string(),
            reason,
        };

        let (name, parameter) = split_call(text.trim()).map_err(invalid)?;
        let name = name.to_ascii_lowercase();
        let activation = match (name.as_str(), parameter) {
            ("linear", None) => Activation::Linear,
            ("relu", None) => Activation::Relu,
            ("leaky_relu", alpha) => Activation::LeakyRelu {
                alpha: alpha.unwrap_or(0.2),
            },
            ("elu", alpha) => Activation::Elu {
                alpha: alpha.unwrap_or(1.0),
            },
            ("selu", None) => Activation::Selu,
            ("gelu", None) => Activation::Gelu,
            ("sigmoid", None) => Activation::Sigmoid,
            ("tanh", None) => Activation::Tanh,
            ("softplus", None) => Activation::Softplus,
            ("silu" | "swish", None) => Activation::Silu,
            ("sin", None) => Activation::Sin,
            ("snake", a) => Activation::Snake {
                a: a.unwrap_or(1.0),
            },
            (known, Some(_)) if Activation::NAMES.contains(&known) || known == "swish" => {
                return Err(invalid(format!("{known} takes no parameter")));
            }
            _ => {
                return Err(invalid(format!(
                    "known activations are {}",
                    Activation::NAMES.join(", ")
                )));
            }
        };

        activation.validate().map_err(invalid)
    }
}

/// Splits `name(number)` into the name and the number; a bare name has no number.
fn split_call(text: &str) -> Result<(&str, Option<f32>), String> {
    let Some(open) = text.find('(') else {
        return Ok((text, None));
    };
    let Some(inner) = text[open + 1..].strip_suffix(')') else {
        return Err("a parameter is written in brackets, as in snake(0.5)".to_string());
    };

    let value = inner
        .trim()
        .parse::<f32>()
        .map_err(|_| format!("the parameter {inner:?} is not a number"))?;
    Ok((text[..open].trim(), Some(value)))
}

impl TryFrom<String> for Activation {
    type Error = ParseActivationError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Activation> for String {
    fn from(activation: Activation) -> Self {
        activation.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every activation with a parameter that differs from its default.
    pub(crate) fn all_activations() -> Vec<Activation> {
        vec![
            Activation::Linear,
            Activation::Relu,
            Activation::LeakyRelu { alpha: 0.3 },
            Activation::Elu { alpha: 0.7 },
            Activation::Selu,
            Activation::Gelu,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Softplus,
            Activation::Silu,
            Activation::Sin,
            Activation::Snake { a: 1.7 },
        ]
    }

    #[test]
    fn derivatives_match_finite_differences() {
        // Points avoid z = 0, where relu and its relatives have a kink.
        let points = [-3.1, -1.2, -0.4, -0.05, 0.07, 0.5, 1.3, 2.9];
        for activation in all_activations() {
            for z in points {
                let h = 1e-3;
                let zf = z;
                let numeric =
                    (reference(activation, zf + h) - reference(activation, zf - h)) / (2.0 * h);
                let analytic = activation.derivative(z as f32, activation.apply(z as f32)) as f64;
                let tolerance = 1e-4 * (1.0 + numeric.abs());
                assert!(
                    (analytic - numeric).abs() < tolerance,
                    "{activation} at {z}: analytic {analytic}, numeric {numeric}"
                );
            }
        }
    }

    #[test]
    fn values_match_f64_reference() {
        for activation in all_activations() {
            for i in -400..=400 {
                // The reference takes the same f32 input, so only the arithmetic differs.
                let z = (i as f64 * 0.02) as f32;
                let expected = reference(activation, z as f64);
                let actual = activation.apply(z) as f64;
                let tolerance = 1e-6 * expected.abs() + 1e-12;
                assert!(
                    (actual - expected).abs() <= tolerance,
                    "{activation} at {z}: {actual} against {expected}"
                );
            }
        }
    }

    /// Inputs from -8 to 8 in steps of 0.02, as f32.
    fn grid() -> Vec<f32> {
        (-400..=400).map(|i| (i as f64 * 0.02) as f32).collect()
    }

    #[test]
    fn slice_values_match_f64_reference() {
        let z = grid();
        for activation in all_activations() {
            let mut output = vec![f32::NAN; z.len()];
            activation.apply_slice(&z, &mut output);
            for (&zi, &actual) in z.iter().zip(&output) {
                let expected = reference(activation, zi as f64);
                let tolerance = 1e-6 * expected.abs() + 1e-12;
                assert!(
                    (actual as f64 - expected).abs() <= tolerance,
                    "{activation} at {zi}: {actual} against {expected}"
                );
            }
        }
    }

    #[test]
    fn slice_versions_equal_scalar_versions() {
        let z = grid();
        let grad_output: Vec<f32> = (0..z.len()).map(|i| (i as f32 * 0.37).sin()).collect();
        for activation in all_activations() {
            let mut output = vec![f32::NAN; z.len()];
            activation.apply_slice(&z, &mut output);
            let mut grad_z = vec![f32::NAN; z.len()];
            activation.backward_slice(&z, &output, &grad_output, &mut grad_z);

            if vectorised(activation) {
                continue;
            }
            for i in 0..z.len() {
                let value = activation.apply(z[i]);
                assert_eq!(
                    output[i].to_bits(),
                    value.to_bits(),
                    "{activation} value at {}",
                    z[i]
                );
                let grad = grad_output[i] * activation.derivative(z[i], value);
                assert_eq!(
                    grad_z[i].to_bits(),
                    grad.to_bits(),
                    "{activation} gradient at {}",
                    z[i]
                );
            }
        }
    }

    /// Returns true for the activations whose slice versions run vectorised functions
    /// on CPUs with AVX2 and FMA, which differ from the scalar ones in the last bits.
    /// They are checked against f64 instead.
    fn vectorised(activation: Activation) -> bool {
        matches!(
            activation,
            Activation::Tanh | Activation::Sin | Activation::Snake { .. }
        )
    }

    #[test]
    fn vectorised_gradients_match_f64_reference() {
        let z = grid();
        let grad_output: Vec<f32> = (0..z.len()).map(|i| (i as f32 * 0.37).sin()).collect();
        for activation in all_activations().into_iter().filter(|&a| vectorised(a)) {
            let mut output = vec![f32::NAN; z.len()];
            activation.apply_slice(&z, &mut output);
            let mut grad_z = vec![f32::NAN; z.len()];
            activation.backward_slice(&z, &output, &grad_output, &mut grad_z);

            for ((&zi, &g), &actual) in z.iter().zip(&grad_output).zip(&grad_z) {
                let derivative = match activation {
                    Activation::Tanh => 1.0 - (zi as f64).tanh().powi(2),
                    Activation::Sin => (zi as f64).cos(),
                    // The slice and scalar versions both round 2·a·z to f32 first.
                    Activation::Snake { a } => 1.0 + ((2.0 * a * zi) as f64).sin(),
                    other => unreachable!("{other} is not vectorised"),
                };
                let (zi, g) = (zi as f64, g as f64);
                // 1 - o² and 1 + sin lose up to an f32 ulp of 1 to cancellation, as the
                // scalar versions do.
                let expected = g * derivative;
                let tolerance = 1e-6 * expected.abs() + 2e-7 * g.abs();
                assert!(
                    (actual as f64 - expected).abs() <= tolerance,
                    "{activation} gradient at {zi}: {actual} against {expected}"
                );
            }
        }
    }

    /// The activations written out in f64 from their textbook formulas.
    fn reference(activation: Activation, z: f64) -> f64 {
        let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
        let elu = |z: f64, alpha: f64| if z > 0.0 { z } else { alpha * (z.exp() - 1.0) };
        match activation {
            Activation::Linear => z,
            Activation::Relu => z.max(0.0),
            Activation::LeakyRelu { alpha } => {
                if z > 0.0 {
                    z
                } else {
                    alpha as f64 * z
                }
            }
            Activation::Elu { alpha } => elu(z, alpha as f64),
            Activation::Selu => 1.0507009873554805 * elu(z, 1.6732632423543772),
            Activation::Gelu => 0.5 * z * (1.0 + libm::erf(z / 2f64.sqrt())),
            Activation::Sigmoid => sigmoid(z),
            Activation::Tanh => z.tanh(),
            Activation::Softplus => (1.0 + z.exp()).ln(),
            Activation::Silu => z * sigmoid(z),
            Activation::Sin => z.sin(),
            Activation::Snake { a } => {
                let a = a as f64;
                z + (a * z).sin().powi(2) / a
            }
        }
    }

    #[test]
    fn parse_accepts_keras_names() {
        assert_eq!("relu".parse(), Ok(Activation::Relu));
        assert_eq!("swish".parse(), Ok(Activation::Silu));
        assert_eq!(
            "leaky_relu".parse(),
            Ok(Activation::LeakyRelu { alpha: 0.2 })
        );
        assert_eq!("snake(0.5)".parse(), Ok(Activation::Snake { a: 0.5 }));
        assert_eq!(" Tanh ".parse(), Ok(Activation::Tanh));
    }

    #[test]
    fn display_round_trips() {
        for activation in all_activations() {
            assert_eq!(activation.to_string().parse(), Ok(activation));
        }
    }

    #[test]
    fn parse_unknown_lists_known_names() {
        let error = "rleu".parse::<Activation>().unwrap_err().to_string();
        assert!(error.contains("\"rleu\""), "{error}");
        assert!(error.contains("relu, leaky_relu"), "{error}");
    }

    #[test]
    fn parse_rejects_bad_parameters() {
        let zero_snake = "snake(0)".parse::<Activation>().unwrap_err().to_string();
        assert!(zero_snake.contains("> 0"), "{zero_snake}");
        let text = "snake(fast)".parse::<Activation>().unwrap_err().to_string();
        assert!(text.contains("not a number"), "{text}");
        let unclosed = "elu(1".parse::<Activation>().unwrap_err().to_string();
        assert!(unclosed.contains("brackets"), "{unclosed}");
        let extra = "relu(2)".parse::<Activation>().unwrap_err().to_string();
        assert!(extra.contains("takes no parameter"), "{extra}");
    }
}
