//! Model files: round trips, damaged files, and writes interrupted by a kill.

use std::collections::HashMap;
use std::path::Path;

use outrange::model_file::ModelInfo;
use outrange::{Activation, Dense, Loss, Matrix, OptimizerConfig, Sequential};
use safetensors::{Dtype, tensor::TensorView};

fn model(width: usize) -> Sequential {
    let mut model = Sequential::new(2);
    model.add(Dense::new(width).with_activation(Activation::Snake { a: 0.5 }));
    model.add(Dense::new(1));
    model.build(11).unwrap();
    model
        .compile(OptimizerConfig::SGD, Loss::MeanSquaredError)
        .unwrap();
    model
}

fn info() -> ModelInfo {
    ModelInfo {
        input_names: vec!["a".into(), "b".into()],
        target_name: "y".into(),
        scaling: None,
        config: None,
    }
}

fn load_error(path: &Path) -> String {
    Sequential::load(path).unwrap_err().to_string()
}

#[test]
fn round_trip_keeps_weights_and_predictions() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("model.safetensors");
    let mut original = model(7);
    original.save(&path, &info()).unwrap();

    let (mut loaded, loaded_info) = Sequential::load(&path).unwrap();
    assert_eq!(loaded_info, info());
    assert_eq!(loaded.layer_configs(), original.layer_configs());
    let x = Matrix::from_rows(vec![0.1, -0.4, 2.0, 3.5], 2).unwrap();
    assert_eq!(loaded.predict(&x).unwrap(), original.predict(&x).unwrap());
}

#[test]
fn load_bytes_matches_load() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("model.safetensors");
    let original = model(3);
    original.save(&path, &info()).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    let (loaded, loaded_info) = Sequential::load_bytes(&bytes, Path::new("memory")).unwrap();
    assert_eq!(loaded_info, info());
    assert_eq!(loaded.layer_configs(), original.layer_configs());

    let message = Sequential::load_bytes(&bytes[..20], Path::new("memory"))
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("memory is not a valid safetensors file"),
        "{message}"
    );
}

/// A tensor's name, shape and values.
type TestTensor = (&'static str, Vec<usize>, Vec<f32>);

/// Writes a safetensors file with the given tensors and metadata.
fn write_safetensors(
    path: &Path,
    tensors: &[(&str, Vec<usize>, Vec<f32>)],
    metadata: HashMap<String, String>,
) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, shape, values)| {
            (
                name.to_string(),
                shape.clone(),
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = bytes.iter().map(|(name, shape, data)| {
        (
            name.clone(),
            TensorView::new(Dtype::F32, shape.clone(), data).unwrap(),
        )
    });
    std::fs::write(path, safetensors::serialize(views, Some(metadata)).unwrap()).unwrap();
}

/// The metadata and tensors of a valid 2-3-1 model, for damaging one part at a time.
fn valid_parts(directory: &Path) -> (HashMap<String, String>, Vec<TestTensor>) {
    let path = directory.join("valid.safetensors");
    model(3).save(&path, &info()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let tensors = vec![
        ("layers.0.kernel", vec![2, 3], vec![0.5; 6]),
        ("layers.0.bias", vec![3], vec![0.0; 3]),
        ("layers.1.kernel", vec![3, 1], vec![0.5; 3]),
        ("layers.1.bias", vec![1], vec![0.0]),
    ];
    (header.metadata().clone().unwrap(), tensors)
}

#[test]
fn damaged_files_give_one_clear_error() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path();
    let (metadata, tensors) = valid_parts(dir);

    std::fs::write(dir.join("text.safetensors"), "not a model").unwrap();
    let message = load_error(&dir.join("text.safetensors"));
    assert!(
        message.contains("text.safetensors is not a valid safetensors file"),
        "{message}"
    );

    let full = std::fs::read(dir.join("valid.safetensors")).unwrap();
    std::fs::write(dir.join("cut.safetensors"), &full[..full.len() - 10]).unwrap();
    let message = load_error(&dir.join("cut.safetensors"));
    assert!(
        message.contains("cut.safetensors is not a valid safetensors file"),
        "{message}"
    );

    write_safetensors(
        &dir.join("missing.safetensors"),
        &tensors[..3],
        metadata.clone(),
    );
    let message = load_error(&dir.join("missing.safetensors"));
    assert!(
        message.contains("is missing the tensor \"layers.1.bias\""),
        "{message}"
    );

    let mut extra = tensors.clone();
    extra.push(("layers.2.kernel", vec![1, 1], vec![1.0]));
    write_safetensors(&dir.join("extra.safetensors"), &extra, metadata.clone());
    let message = load_error(&dir.join("extra.safetensors"));
    assert!(
        message.contains("tensors that its architecture does not use: layers.2.kernel"),
        "{message}"
    );

    let mut wrong_shape = tensors.clone();
    wrong_shape[0] = ("layers.0.kernel", vec![3, 2], vec![0.5; 6]);
    write_safetensors(
        &dir.join("shape.safetensors"),
        &wrong_shape,
        metadata.clone(),
    );
    let message = load_error(&dir.join("shape.safetensors"));
    assert!(
        message.contains("\"layers.0.kernel\" has shape [3, 2]"),
        "{message}"
    );
    assert!(message.contains("needs shape [2, 3]"), "{message}");

    let mut unknown_activation = metadata.clone();
    let architecture = unknown_activation["architecture"].replace("snake(0.5)", "wiggle");
    unknown_activation.insert("architecture".into(), architecture);
    write_safetensors(
        &dir.join("activation.safetensors"),
        &tensors,
        unknown_activation,
    );
    let message = load_error(&dir.join("activation.safetensors"));
    assert!(message.contains("the architecture is invalid"), "{message}");
    assert!(
        message.contains("invalid activation \\\"wiggle\\\"")
            || message.contains("invalid activation \"wiggle\""),
        "{message}"
    );

    let mut newer = metadata.clone();
    newer.insert("format_version".into(), "99".into());
    write_safetensors(&dir.join("newer.safetensors"), &tensors, newer);
    let message = load_error(&dir.join("newer.safetensors"));
    assert!(message.contains("has model format version 99"), "{message}");

    write_safetensors(&dir.join("foreign.safetensors"), &tensors, HashMap::new());
    let message = load_error(&dir.join("foreign.safetensors"));
    assert!(message.contains("not an outrange model"), "{message}");

    let message = load_error(&dir.join("absent.safetensors"));
    assert!(message.contains("cannot read the model file"), "{message}");
}

/// A model of 2.25 million parameters, so that one save takes long enough to be
/// killed in the middle.
fn large_model() -> Sequential {
    let mut model = Sequential::new(2);
    model.add(Dense::new(1500).with_activation(Activation::Relu));
    model.add(Dense::new(1500).with_activation(Activation::Relu));
    model.add(Dense::new(1));
    model.build(5).unwrap();
    model
}

/// Saves a large model to `OUTRANGE_SAVE_LOOP_PATH` over and over. The kill test runs
/// this test in a child process and kills it in the middle of a save.
#[test]
#[ignore = "run by save_killed_midway_keeps_previous_file"]
fn save_loop_child() {
    let Ok(path) = std::env::var("OUTRANGE_SAVE_LOOP_PATH") else {
        return;
    };
    let model = large_model();
    loop {
        model.save(Path::new(&path), &info()).unwrap();
    }
}

#[test]
fn save_killed_midway_keeps_previous_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("model.safetensors");
    let expected_params = large_model().count_params();
    large_model().save(&path, &info()).unwrap();

    for delay_ms in [150, 260, 370, 480] {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "save_loop_child", "--ignored", "--nocapture"])
            .env("OUTRANGE_SAVE_LOOP_PATH", &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the saving process ended before the kill"
        );
        child.kill().unwrap();
        child.wait().unwrap();

        let (loaded, _) = Sequential::load(&path).expect("the model file is whole after a kill");
        assert_eq!(loaded.count_params(), expected_params);
    }
}
