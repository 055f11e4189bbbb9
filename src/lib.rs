//! outrange: train small neural networks and measure what they do outside the range
//! they were trained on.
//!
//! The library follows Keras's vocabulary: a [`Sequential`] model of [`Dense`] layers
//! with `units`, a `kernel` of shape (inputs, units) and a `bias`, compiled with an
//! optimizer and a [`Loss`], then trained with [`Sequential::fit`] for some `epochs`
//! with a `batch_size`. Values are stored as f32, like Keras; sums that decide a
//! reported number (losses, errors) accumulate in f64.

pub mod activation;
pub mod callback;
pub mod checkpoint;
pub mod compare;
pub mod compare_files;
pub mod config;
pub mod csv_input;
pub mod data;
pub mod dataset;
pub mod dense;
pub mod diagnostics;
pub mod experiment;
pub mod expression;
pub mod history;
pub mod initializer;
mod kernels;
pub mod layer;
pub mod loss;
pub mod matrix;
pub mod metrics;
pub mod model_file;
pub mod optimizer;
pub mod output;
pub mod plot;
pub mod prediction;
pub mod run_files;
pub mod scaling;
pub mod sequential;
mod shallow;
pub mod split;

pub use activation::Activation;
pub use callback::Callback;
pub use dense::{Dense, DenseConfig};
pub use history::{EpochRecord, History};
pub use initializer::Initializer;
pub use layer::{Layer, LayerConfig, NamedTensor};
pub use loss::Loss;
pub use matrix::Matrix;
pub use optimizer::{Adam, Optimizer, OptimizerConfig, Sgd};
pub use sequential::{EarlyStopping, FitOptions, ModelError, Sequential};
