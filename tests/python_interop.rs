//! A model file written by outrange, read with Python's `safetensors` package.
//!
//! The test creates a virtual environment in cargo's test scratch directory and
//! installs the pinned packages of `tests/python/requirements.txt` into it from PyPI.
//! It is skipped, with the reason printed, only where `python3` itself is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use outrange::model_file::ModelInfo;
use outrange::{Activation, Dense, Sequential};
use serde_json::Value;

/// Creates the virtual environment once and returns its Python interpreter, or `None`
/// when there is no `python3` on this machine.
fn python_with_safetensors() -> Option<PathBuf> {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed, so the safetensors package cannot be run");
        return None;
    }

    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-safetensors");
    let python = venv.join("bin/python");
    if !python.exists() {
        let created = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(created.success(), "python3 -m venv failed");
    }
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/requirements.txt");
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(requirements)
        .status()
        .unwrap();
    assert!(
        installed.success(),
        "pip install of tests/python/requirements.txt failed"
    );
    Some(python)
}

#[test]
fn python_reads_same_arrays() {
    let Some(python) = python_with_safetensors() else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("model.safetensors");

    let mut model = Sequential::new(3);
    model.add(Dense::new(5).with_activation(Activation::Tanh));
    model.add(Dense::new(1));
    model.build(3).unwrap();
    let info = ModelInfo {
        input_names: vec!["a".into(), "b".into(), "c".into()],
        target_name: "y".into(),
        scaling: None,
        config: None,
    };
    model.save(&path, &info).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_model.py");
    let output = Command::new(&python)
        .arg(script)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: Value = serde_json::from_slice(&output.stdout).unwrap();

    let tensors = read["tensors"].as_object().unwrap();
    assert_eq!(tensors.len(), 4);
    for (index, layer) in model.layers().iter().enumerate() {
        for tensor in layer.parameters() {
            let name = format!("layers.{index}.{}", tensor.name);
            let from_python = &tensors[&name];
            assert_eq!(
                from_python["shape"],
                serde_json::json!(tensor.shape),
                "{name}"
            );
            let values: Vec<f32> = from_python["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(values, tensor.values, "{name}");
        }
    }
    assert_eq!(read["metadata"]["format"], "outrange-model");
    assert_eq!(read["metadata"]["target"], "y");
}
