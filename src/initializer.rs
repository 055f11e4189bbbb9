//! Initializers that fill a layer's kernel or bias before training.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Standard deviation of a standard normal truncated to [-2, 2]; Keras divides by it so
/// that truncated samples keep the requested variance.
const TRUNCATED_NORMAL_STDDEV: f64 = 0.879_625_661_034_239_8;

/// How the values of a kernel or bias are drawn, named and scaled as in `keras.initializers`.
///
/// `fan_in` is the number of inputs of the layer and `fan_out` its number of units. The
/// `*_normal` initializers draw from a normal distribution truncated at two standard
/// deviations and rescaled, like Keras's `VarianceScaling`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Initializer {
    /// Uniform in `[-l, l]` with `l = sqrt(6 / (fan_in + fan_out))`; the kernel default.
    GlorotUniform,
    /// Truncated normal with standard deviation `sqrt(2 / (fan_in + fan_out))`.
    GlorotNormal,
    /// Uniform in `[-l, l]` with `l = sqrt(6 / fan_in)`.
    HeUniform,
    /// Truncated normal with standard deviation `sqrt(2 / fan_in)`.
    HeNormal,
    /// Truncated normal with standard deviation `sqrt(1 / fan_in)`.
    LecunNormal,
    /// All zeros; the bias default.
    Zeros,
    /// Every value equal to the given constant.
    Constant(f32),
}

impl Initializer {
    /// The names accepted by [`Initializer::from_str`].
    pub const NAMES: [&'static str; 7] = [
        "glorot_uniform",
        "glorot_normal",
        "he_uniform",
        "he_normal",
        "lecun_normal",
        "zeros",
        "constant(VALUE)",
    ];

    /// Fills `values` for a layer with `fan_in` inputs and `fan_out` units.
    pub fn fill(self, values: &mut [f32], fan_in: usize, fan_out: usize, rng: &mut impl Rng) {
        let fan_in = fan_in.max(1) as f64;
        let fan_out = fan_out.max(1) as f64;
        match self {
            Initializer::GlorotUniform => {
                fill_uniform(values, (6.0 / (fan_in + fan_out)).sqrt(), rng)
            }
            Initializer::GlorotNormal => {
                fill_truncated_normal(values, (2.0 / (fan_in + fan_out)).sqrt(), rng)
            }
            Initializer::HeUniform => fill_uniform(values, (6.0 / fan_in).sqrt(), rng),
            Initializer::HeNormal => fill_truncated_normal(values, (2.0 / fan_in).sqrt(), rng),
            Initializer::LecunNormal => fill_truncated_normal(values, (1.0 / fan_in).sqrt(), rng),
            Initializer::Zeros => values.fill(0.0),
            Initializer::Constant(value) => values.fill(value),
        }
    }
}

fn fill_uniform(values: &mut [f32], limit: f64, rng: &mut impl Rng) {
    for value in values {
        *value = rng.random_range(-limit..limit) as f32;
    }
}

fn fill_truncated_normal(values: &mut [f32], stddev: f64, rng: &mut impl Rng) {
    let scale = stddev / TRUNCATED_NORMAL_STDDEV;
    for value in values {
        let sample = loop {
            let z: f64 = StandardNormal.sample(rng);
            if z.abs() <= 2.0 {
                break z;
            }
        };
        *value = (sample * scale) as f32;
    }
}

impl fmt::Display for Initializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Initializer::GlorotUniform => f.write_str("glorot_uniform"),
            Initializer::GlorotNormal => f.write_str("glorot_normal"),
            Initializer::HeUniform => f.write_str("he_uniform"),
            Initializer::HeNormal => f.write_str("he_normal"),
            Initializer::LecunNormal => f.write_str("lecun_normal"),
            Initializer::Zeros => f.write_str("zeros"),
            Initializer::Constant(value) => write!(f, "constant({value})"),
        }
    }
}

/// An initializer name that could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid initializer {text:?}: known initializers are {}", Initializer::NAMES.join(", "))]
pub struct ParseInitializerError {
    /// The text as given.
    pub text: String,
}

impl FromStr for Initializer {
    type Err = ParseInitializerError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseInitializerError {
            text: text.to_string(),
        };

        let name = text.trim().to_ascii_lowercase();
        if let Some(inner) = name
            .strip_prefix("constant(")
            .and_then(|rest| rest.strip_suffix(')'))
        {
            let value: f32 = inner.trim().parse().map_err(|_| invalid())?;
            return if value.is_finite() {
                Ok(Initializer::Constant(value))
            } else {
                Err(invalid())
            };
        }

        match name.as_str() {
            "glorot_uniform" => Ok(Initializer::GlorotUniform),
            "glorot_normal" => Ok(Initializer::GlorotNormal),
            "he_uniform" => Ok(Initializer::HeUniform),
            "he_normal" => Ok(Initializer::HeNormal),
            "lecun_normal" => Ok(Initializer::LecunNormal),
            "zeros" => Ok(Initializer::Zeros),
            _ => Err(invalid()),
        }
    }
}

impl TryFrom<String> for Initializer {
    type Error = ParseInitializerError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Initializer> for String {
    fn from(initializer: Initializer) -> Self {
        initializer.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn sample(initializer: Initializer, fan_in: usize, fan_out: usize) -> Vec<f32> {
        let mut values = vec![0.0; 100_000];
        initializer.fill(
            &mut values,
            fan_in,
            fan_out,
            &mut ChaCha8Rng::seed_from_u64(7),
        );
        values
    }

    fn variance(values: &[f32]) -> f64 {
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
        values
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / values.len() as f64
    }

    #[test]
    fn glorot_uniform_stays_within_limit() {
        let limit = (6.0f64 / 31.0).sqrt() as f32;
        let values = sample(Initializer::GlorotUniform, 1, 30);
        assert!(values.iter().all(|v| v.abs() <= limit));
        let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(max > 0.99 * limit, "max {max} of limit {limit}");
    }

    #[test]
    fn variance_scaling_has_keras_variance() {
        let cases = [
            (Initializer::GlorotUniform, 2.0 / 40.0),
            (Initializer::GlorotNormal, 2.0 / 40.0),
            (Initializer::HeUniform, 2.0 / 10.0),
            (Initializer::HeNormal, 2.0 / 10.0),
            (Initializer::LecunNormal, 1.0 / 10.0),
        ];
        for (initializer, expected) in cases {
            let actual = variance(&sample(initializer, 10, 30));
            assert!(
                (actual / expected - 1.0).abs() < 0.02,
                "{initializer}: variance {actual}, expected {expected}"
            );
        }
    }

    #[test]
    fn truncated_normal_stays_within_two_stddev() {
        let bound = (2.0 * (1.0f64 / 10.0).sqrt() / TRUNCATED_NORMAL_STDDEV) as f32;
        assert!(
            sample(Initializer::LecunNormal, 10, 1)
                .iter()
                .all(|v| v.abs() <= bound)
        );
    }

    #[test]
    fn constant_and_zeros_fill_exactly() {
        assert!(sample(Initializer::Zeros, 3, 3).iter().all(|&v| v == 0.0));
        assert!(
            sample(Initializer::Constant(0.25), 3, 3)
                .iter()
                .all(|&v| v == 0.25)
        );
    }

    #[test]
    fn parse_round_trips_and_rejects_unknown() {
        for name in [
            "glorot_uniform",
            "glorot_normal",
            "he_uniform",
            "he_normal",
            "lecun_normal",
            "zeros",
            "constant(0.5)",
        ] {
            assert_eq!(name.parse::<Initializer>().unwrap().to_string(), name);
        }
        let error = "ones".parse::<Initializer>().unwrap_err().to_string();
        assert!(error.contains("glorot_uniform"), "{error}");
    }
}
