//! Writes valid model files into a directory, as seeds for the `model_loader` corpus.
//!
//! Usage: `cargo run --example model_seeds -- corpus/model_loader` from the `fuzz` folder.

use std::path::PathBuf;

use outrange::config::ExperimentConfig;
use outrange::model_file::ModelInfo;
use outrange::scaling::{ScaleKind, Scaling};
use outrange::{Activation, Dense, Initializer, Sequential};

fn main() {
    let directory: PathBuf = std::env::args_os()
        .nth(1)
        .expect("usage: model_seeds DIRECTORY")
        .into();
    std::fs::create_dir_all(&directory).expect("create the seed directory");

    let mut small = Sequential::new(1);
    small.add(Dense::new(3).with_activation(Activation::Relu));
    small.add(Dense::new(1));
    small.build(1).expect("the small model builds");
    let small_info = ModelInfo {
        input_names: vec!["x".into()],
        target_name: "y".into(),
        scaling: None,
        config: None,
    };
    small
        .save(&directory.join("small.safetensors"), &small_info)
        .expect("save the small model");

    // Every optional part: no bias, parameterised activations, scaling and settings.
    let mut full = Sequential::new(2);
    full.add(
        Dense::new(4)
            .with_activation(Activation::Snake { a: 0.5 })
            .with_use_bias(false),
    );
    full.add(
        Dense::new(1)
            .with_activation(Activation::LeakyRelu { alpha: 0.2 })
            .with_bias_initializer(Initializer::Constant(0.1)),
    );
    full.build(2).expect("the full model builds");
    let x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
    let y = [1.0, 2.0, 4.0];
    let full_info = ModelInfo {
        input_names: vec!["year+quarter".into(), "pop".into()],
        target_name: "realgdp".into(),
        scaling: Some(Scaling::fit(ScaleKind::Standard, &x, 2, &y)),
        config: Some(ExperimentConfig::default_experiment()),
    };
    full.save(&directory.join("full.safetensors"), &full_info)
        .expect("save the full model");

    for seed in ["small.safetensors", "full.safetensors"] {
        Sequential::load(&directory.join(seed)).expect("a seed loads as a valid model");
    }
}
