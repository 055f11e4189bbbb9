//! `outrange run` on CSV files and bundled datasets, as a user runs it.

use std::path::Path;

use serde_json::Value;

mod common;
use common::*;

/// Runs with `args` plus a short training, into `out`, and checks success.
fn run_ok(directory: &Path, out: &str, args: &[&str]) -> Value {
    let output = outrange(
        &[
            &["run", "--epochs", "2", "--verbose", "0", "--out", out],
            args,
        ]
        .concat(),
        directory,
    );
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    read_json(&directory.join(out).join("metrics.json"))
}

/// Runs with `args` and returns standard error, checking exit code 2.
fn run_rejected(directory: &Path, args: &[&str]) -> String {
    let output = outrange(&[&["run", "--verbose", "0"], args].concat(), directory);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?}: {}",
        stderr(&output)
    );
    stderr(&output)
}

/// A 40-row table: `x` from 0 to 39, `y = 2x + 1`, and `z` alternating.
fn write_linear_csv(directory: &Path) {
    let mut text = String::from("\"x\",\"z\",\"y\"\n");
    for i in 0..40 {
        text.push_str(&format!("{i},{},{}\n", i % 2, 2 * i + 1));
    }
    std::fs::write(directory.join("linear.csv"), text).unwrap();
}

#[test]
fn dataset_co2_runs_with_defaults() {
    let directory = tempfile::tempdir().unwrap();
    let output = outrange(
        &[
            "run",
            "--dataset",
            "co2",
            "--epochs",
            "2",
            "--verbose",
            "0",
            "--out",
            "co2",
        ],
        directory.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));

    let text = stdout(&output);
    assert!(text.contains("Data: co2, 2225 rows"), "{text}");
    assert!(
        text.contains("dropped 59 rows with missing values"),
        "{text}"
    );
    assert!(text.contains("split --train-until 1991"), "{text}");

    let metrics = read_json(&directory.path().join("co2/metrics.json"));
    assert_eq!(metrics["data"]["dropped_rows"], 59);
    assert_eq!(metrics["data"]["split"]["train_rows"], 1651);
    assert_eq!(metrics["config"]["dataset"], "co2");
    assert_eq!(metrics["scaling"]["kind"], "standard");
    assert!(metrics["mse_out_of_range"].as_f64().unwrap() > 0.0);
    assert!(directory.path().join("co2/prediction.png").is_file());
}

#[test]
fn datasets_command_lists_three() {
    let directory = tempfile::tempdir().unwrap();
    let output = outrange(&["datasets"], directory.path());
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 3, "{text}");
    for name in ["co2 ", "sunspots ", "gdp "] {
        assert!(text.contains(name), "{name} missing in {text}");
    }
}

#[test]
fn gdp_combines_year_and_quarter() {
    let directory = tempfile::tempdir().unwrap();
    let metrics = run_ok(directory.path(), "gdp", &["--dataset", "gdp"]);
    let ranges = &metrics["data"]["split"]["train_ranges"][0];
    assert_eq!(ranges[0], "year+quarter");
    assert_eq!(ranges[1], serde_json::json!([1959.0, 1995.75]));
}

#[test]
fn csv_errors_are_in_data_units() {
    let directory = tempfile::tempdir().unwrap();
    write_linear_csv(directory.path());
    let metrics = run_ok(
        directory.path(),
        "o",
        &[
            "--data",
            "linear.csv",
            "--x",
            "x",
            "--y",
            "y",
            "--train-fraction",
            "0.5",
        ],
    );
    assert_eq!(metrics["data"]["split"]["train_rows"], 20);
    assert_eq!(metrics["prediction_at_test_end"]["truth"], 79.0);
    assert_eq!(metrics["config"]["train_fraction"], 0.5);
}

#[test]
fn columns_by_index_match_names() {
    let directory = tempfile::tempdir().unwrap();
    write_linear_csv(directory.path());
    let by_name = run_ok(
        directory.path(),
        "a",
        &["--data", "linear.csv", "--x", "x", "--y", "y"],
    );
    let by_index = run_ok(
        directory.path(),
        "b",
        &["--data", "linear.csv", "--x", "0", "--y", "2"],
    );
    assert_eq!(by_name["mse_out_of_range"], by_index["mse_out_of_range"]);
}

#[test]
fn several_inputs_write_error_plot() {
    let directory = tempfile::tempdir().unwrap();
    write_linear_csv(directory.path());
    let metrics = run_ok(
        directory.path(),
        "o",
        &[
            "--data",
            "linear.csv",
            "--x",
            "x,z",
            "--y",
            "y",
            "--train-range",
            "x=0:25",
        ],
    );
    assert_eq!(metrics["data"]["split"]["train_rows"], 26);
    assert_eq!(metrics["config"]["train_range"], "x=0:25");
    for name in [
        "prediction.png",
        "error_by_distance.png",
        "error_by_distance.svg",
    ] {
        assert!(
            directory.path().join("o").join(name).is_file(),
            "{name} missing"
        );
    }
}

#[test]
fn csv_config_reproduces_metrics() {
    let directory = tempfile::tempdir().unwrap();
    write_linear_csv(directory.path());
    let first = run_ok(
        directory.path(),
        "first",
        &[
            "--data",
            "linear.csv",
            "--x",
            "x",
            "--y",
            "y",
            "--train-until",
            "30",
            "--scale",
            "minmax",
        ],
    );
    std::fs::write(directory.path().join("c.json"), first["config"].to_string()).unwrap();
    let again = run_ok(directory.path(), "again", &["--config", "c.json"]);
    assert_eq!(again["mse_out_of_range"], first["mse_out_of_range"]);
    assert_eq!(again["config"], first["config"]);
}

#[test]
fn missing_values_name_row_or_drop() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("gaps.csv"),
        "x,y\n1,2\n2,\n3,6\n4,NaN\n5,10\n",
    )
    .unwrap();
    let message = run_rejected(
        directory.path(),
        &["--data", "gaps.csv", "--x", "x", "--y", "y"],
    );
    assert!(message.contains("gaps.csv line 3"), "{message}");
    assert!(message.contains("--missing drop"), "{message}");

    let output = outrange(
        &[
            "run",
            "--data",
            "gaps.csv",
            "--x",
            "x",
            "--y",
            "y",
            "--missing",
            "drop",
            "--epochs",
            "1",
            "--verbose",
            "0",
            "--out",
            "o",
        ],
        directory.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("dropped 2 rows with missing values"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn bad_csv_inputs_exit_two_with_message() {
    let directory = tempfile::tempdir().unwrap();
    let files = [
        ("empty.csv", ""),
        ("header.csv", "x,y\n"),
        ("word.csv", "x,y\n1,2\n2,abc\n"),
        ("comma.csv", "x;y\n1;9,5\n"),
        ("inf.csv", "x,y\n1,inf\n"),
        ("ok.csv", "x,y\n1,2\n2,4\n"),
    ];
    for (name, text) in files {
        std::fs::write(directory.path().join(name), text).unwrap();
    }

    let cases: [(&[&str], &str); 9] = [
        (&["--data", "empty.csv", "--x", "x", "--y", "y"], "empty"),
        (
            &["--data", "header.csv", "--x", "x", "--y", "y"],
            "no data rows",
        ),
        (
            &["--data", "word.csv", "--x", "x", "--y", "y"],
            "\"abc\" is not a number",
        ),
        (
            &["--data", "comma.csv", "--x", "x", "--y", "y"],
            "decimal comma",
        ),
        (&["--data", "inf.csv", "--x", "x", "--y", "y"], "inf"),
        (
            &["--data", "ok.csv", "--x", "a", "--y", "y"],
            "The columns are \"x\", \"y\"",
        ),
        (
            &[
                "--data",
                "ok.csv",
                "--x",
                "x",
                "--y",
                "y",
                "--train-until",
                "0",
            ],
            "no rows fall in the training split",
        ),
        (&["--data", "none.csv", "--x", "x", "--y", "y"], "none.csv"),
        (
            &["--data", "ok.csv", "--x", "x"],
            "--y is required with --data",
        ),
    ];
    for (args, expected) in cases {
        let message = run_rejected(directory.path(), args);
        assert!(message.contains(expected), "{args:?}: {message}");
    }
}

#[test]
fn mixed_settings_are_rejected() {
    let directory = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["--dataset", "co2", "--function", "x^3"],
            "--function applies only to a function",
        ),
        (&["--x", "a"], "--x applies only to CSV data"),
        (
            &["--train-until", "3"],
            "--train-until applies only to CSV data",
        ),
        (
            &["--dataset", "moon"],
            "the bundled datasets are co2, sunspots, gdp",
        ),
        (
            &[
                "--dataset",
                "co2",
                "--train-until",
                "1980",
                "--train-fraction",
                "0.5",
            ],
            "choose one way to split the rows",
        ),
        (
            &["--dataset", "co2", "--train-fraction", "1.5"],
            "invalid train_fraction 1.5",
        ),
        (
            &["--dataset", "co2", "--scale", "robust"],
            "known scalings are standard, minmax, none",
        ),
    ];
    for (args, expected) in cases {
        let message = run_rejected(directory.path(), args);
        assert!(message.contains(expected), "{args:?}: {message}");
    }
}
