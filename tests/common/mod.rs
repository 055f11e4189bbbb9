//! Helpers shared by the tests that run the `outrange` binary.

#![allow(dead_code)] // Each test file uses its own subset.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Runs the binary with `args` in `directory` and waits for it.
pub fn outrange(args: &[&str], directory: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_outrange"))
        .args(args)
        .current_dir(directory)
        .output()
        .expect("the binary runs")
}

/// The standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Starts the binary with `args`, sends it SIGINT once its first standard-error line
/// has appeared (checking that it starts with `first_line`), and returns its exit code
/// and the lines it wrote to standard error after that.
#[cfg(unix)]
pub fn interrupt_after_first_line(
    args: &[&str],
    directory: &Path,
    first_line: &str,
) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_outrange"))
        .args(args)
        .current_dir(directory)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with(first_line), "{first}");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let rest: Vec<String> = lines.map(|line| line.unwrap()).collect();
    (child.wait().unwrap().code(), rest.join("\n"))
}
