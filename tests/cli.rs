//! The `outrange` binary as a user runs it: outputs, exit codes and error messages.

use std::path::Path;

mod common;
use common::*;

/// Settings that keep a run short: 200 training points, 2 epochs.
const QUICK: [&str; 8] = [
    "--train-samples",
    "200",
    "--test-samples",
    "100",
    "--epochs",
    "2",
    "--verbose",
    "0",
];

#[test]
fn run_writes_every_output() {
    let directory = tempfile::tempdir().unwrap();
    let output = outrange(&[&["run"], &QUICK[..]].concat(), directory.path());
    assert!(output.status.success(), "{}", stderr(&output));

    let text = stdout(&output);
    assert!(text.contains("Total params: 91"), "{text}");
    assert!(
        text.contains("Predictions (9 of 100 test points)"),
        "{text}"
    );
    assert!(text.contains("MSE inside [-1, 1]"), "{text}");
    assert!(text.contains("MSE outside [-1, 1]"), "{text}");
    assert!(text.contains("prediction at x = -2"), "{text}");

    let run = directory.path().join("runs/run-001");
    for name in [
        "prediction.png",
        "prediction.svg",
        "history.csv",
        "metrics.json",
    ] {
        assert!(run.join(name).is_file(), "{name} missing");
    }
    let history = std::fs::read_to_string(run.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 3, "{history}");
    assert!(history.starts_with("epoch,loss,seconds\n"));

    let metrics = read_json(&run.join("metrics.json"));
    for key in [
        "mse_in_range",
        "mse_out_of_range",
        "fit_seconds",
        "steps_per_second",
        "samples_per_second",
    ] {
        assert!(metrics[key].is_number(), "{key} missing in {metrics}");
    }
    assert_eq!(metrics["config"]["epochs"], 2);
    assert_eq!(metrics["config"]["function"], "x^2");
}

#[test]
fn second_run_gets_new_directory() {
    let directory = tempfile::tempdir().unwrap();
    let args = [&["run"], &QUICK[..]].concat();
    assert!(outrange(&args, directory.path()).status.success());
    assert!(outrange(&args, directory.path()).status.success());
    assert!(directory.path().join("runs/run-001/metrics.json").is_file());
    assert!(directory.path().join("runs/run-002/metrics.json").is_file());
}

#[test]
fn non_empty_out_needs_overwrite() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("keep.txt"), "data").unwrap();
    let out = directory.path().to_str().unwrap();

    let refused = outrange(
        &[&["run", "--out", out], &QUICK[..]].concat(),
        directory.path(),
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("is not empty"),
        "{}",
        stderr(&refused)
    );

    let allowed = outrange(
        &[&["run", "--out", out, "--overwrite"], &QUICK[..]].concat(),
        directory.path(),
    );
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    assert_eq!(
        std::fs::read_to_string(directory.path().join("keep.txt")).unwrap(),
        "data"
    );
}

#[test]
fn saved_config_reproduces_metrics() {
    let directory = tempfile::tempdir().unwrap();
    let first = outrange(
        &[
            &[
                "run", "--out", "first", "--seed", "7", "--noise", "0.05", "--layers", "8,8",
            ],
            &QUICK[..],
        ]
        .concat(),
        directory.path(),
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let metrics = read_json(&directory.path().join("first/metrics.json"));

    let config_json = serde_json::to_string(&metrics["config"]).unwrap();
    std::fs::write(directory.path().join("config.json"), &config_json).unwrap();
    let config_value: toml::Value = serde_json::from_str(&config_json).unwrap();
    std::fs::write(
        directory.path().join("config.toml"),
        toml::to_string(&config_value).unwrap(),
    )
    .unwrap();

    for (name, file) in [("json", "config.json"), ("toml", "config.toml")] {
        let rerun = outrange(
            &["run", "--config", file, "--out", name, "--verbose", "0"],
            directory.path(),
        );
        assert!(rerun.status.success(), "{}", stderr(&rerun));
        let again = read_json(&directory.path().join(name).join("metrics.json"));
        for key in ["mse_in_range", "mse_out_of_range", "final_loss"] {
            assert_eq!(again[key], metrics[key], "{key} from the {name} config");
        }
        assert_eq!(again["config"], metrics["config"]);
    }
}

#[test]
fn flags_override_config_file() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("c.toml"), "epochs = 3\nseed = 5\n").unwrap();
    let output = outrange(
        &[&["run", "--config", "c.toml", "--out", "o"], &QUICK[..]].concat(),
        directory.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let metrics = read_json(&directory.path().join("o/metrics.json"));
    assert_eq!(metrics["config"]["epochs"], 2);
    assert_eq!(metrics["config"]["seed"], 5);
}

#[test]
fn zero_epochs_reports_untrained_model() {
    let directory = tempfile::tempdir().unwrap();
    let output = outrange(
        &[
            "run",
            "--epochs",
            "0",
            "--train-samples",
            "50",
            "--test-samples",
            "50",
            "--out",
            "o",
            "--verbose",
            "0",
        ],
        directory.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let metrics = read_json(&directory.path().join("o/metrics.json"));
    assert_eq!(metrics["epochs_run"], 0);
    assert!(metrics["final_loss"].is_null());
    assert!(metrics["mse_in_range"].is_number());
    let history = std::fs::read_to_string(directory.path().join("o/history.csv")).unwrap();
    assert_eq!(history, "epoch,loss,seconds\n");
}

#[test]
fn verbose_two_prints_line_per_epoch() {
    let directory = tempfile::tempdir().unwrap();
    let output = outrange(
        &[
            "run",
            "--train-samples",
            "100",
            "--test-samples",
            "10",
            "--epochs",
            "3",
            "--verbose",
            "2",
        ],
        directory.path(),
    );
    let progress = stderr(&output);
    assert_eq!(
        progress
            .lines()
            .filter(|line| line.starts_with("Epoch "))
            .count(),
        3,
        "{progress}"
    );
    assert!(progress.contains("Epoch 3/3 - "), "{progress}");
    assert!(progress.contains("loss: "), "{progress}");
}

#[test]
fn diverging_run_keeps_history_and_exits_one() {
    let directory = tempfile::tempdir().unwrap();
    let output = outrange(
        &[
            &[
                "run",
                "--learning-rate",
                "1000",
                "--function",
                "100*x^3",
                "--out",
                "o",
            ],
            &QUICK[..],
        ]
        .concat(),
        directory.path(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("the loss became"), "{message}");
    assert!(message.contains("at epoch 1, step"), "{message}");
    assert!(message.contains("try --learning-rate 100"), "{message}");
    let history = std::fs::read_to_string(directory.path().join("o/history.csv")).unwrap();
    assert!(history.starts_with("epoch,loss,seconds\n"));
}

/// Runs with one bad setting and returns standard error, checking exit code 2 and that
/// no output directory was filled.
fn rejected(args: &[&str]) -> String {
    let directory = tempfile::tempdir().unwrap();
    let output = outrange(&[&["run"], args].concat(), directory.path());
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
    assert!(
        !directory.path().join("runs").exists(),
        "{args:?} created runs/"
    );
    message
}

#[test]
fn bad_settings_exit_two_with_message() {
    let cases: [(&[&str], &str); 17] = [
        (
            &["--learning-rate", "0"],
            "invalid learning_rate 0: the learning rate must be a finite number > 0",
        ),
        (&["--learning-rate", "-0.1"], "invalid learning_rate -0.1"),
        (&["--learning-rate", "inf"], "invalid learning_rate inf"),
        (&["--learning-rate", "NaN"], "invalid learning_rate NaN"),
        (
            &["--batch-size", "0"],
            "invalid batch_size 0: it must be at least 1",
        ),
        (
            &["--train-range", "1:-1"],
            "invalid train_range 1:-1: a range needs finite bounds with LO < HI",
        ),
        (&["--test-range", "2:2"], "invalid test_range 2:2"),
        (&["--train-range", "-1"], "write it as LO:HI"),
        (&["--train-samples", "0"], "invalid train_samples 0"),
        (&["--test-samples", "0"], "invalid test_samples 0"),
        (
            &["--activation", "rleu"],
            "known activations are linear, relu, leaky_relu",
        ),
        (
            &["--optimizer", "rmsprop"],
            "known optimizers are sgd, adam",
        ),
        (
            &["--loss", "hinge"],
            "known losses are mean_squared_error (mse)",
        ),
        (&["--function", "x^"], "invalid expression \"x^\""),
        (
            &["--function", "2*t"],
            "unknown variable; the only variable is x",
        ),
        (&["--layers", "30,0"], "a hidden layer has 0 units"),
        (&["--momentum", "1"], "invalid momentum 1"),
    ];
    for (args, expected) in cases {
        let message = rejected(args);
        assert!(message.contains(expected), "{args:?}: {message}");
    }
}

#[test]
fn expression_error_marks_position() {
    let message = rejected(&["--function", "sin(x) +* 2"]);
    assert!(message.contains("1 | sin(x) +* 2"), "{message}");
    assert!(message.contains("^"), "{message}");
}

#[test]
fn uncreatable_out_directory_exits_two() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("file"), "x").unwrap();
    let output = outrange(
        &[&["run", "--out", "file/sub"], &QUICK[..]].concat(),
        directory.path(),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot create the output directory file/sub"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_config_file_exits_two() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("c.toml"), "epoch = 3\n").unwrap();
    let output = outrange(&["run", "--config", "c.toml"], directory.path());
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("invalid config file c.toml"), "{message}");
    assert!(message.contains("unknown field `epoch`"), "{message}");

    let missing = outrange(&["run", "--config", "none.toml"], directory.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read the config file none.toml"));
}

#[test]
fn error_message_is_printed_once() {
    let message = rejected(&["--learning-rate", "0"]);
    assert_eq!(
        message.matches("invalid learning_rate 0").count(),
        1,
        "{message}"
    );
    let expression = rejected(&["--function", "sin(x"]);
    assert_eq!(expression.matches("1 | sin(x").count(), 1, "{expression}");
    assert!(
        expression.contains("expected an operator or a closing bracket )"),
        "{expression}"
    );
}

#[test]
fn overwrite_removes_earlier_outputs() {
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("o");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("error_by_distance.png"), "old").unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();

    let output = outrange(
        &[&["run", "--out", "o", "--overwrite"], &QUICK[..]].concat(),
        directory.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!out.join("error_by_distance.png").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn negative_number_reaches_validation() {
    let message = rejected(&["--noise", "-1"]);
    assert!(message.contains("invalid noise -1"), "{message}");
}

#[test]
fn validation_split_adds_val_loss() {
    let directory = tempfile::tempdir().unwrap();
    let output = outrange(
        &[
            &[
                "run",
                "--validation-split",
                "0.25",
                "--early-stopping",
                "3",
                "--out",
                "o",
            ],
            &QUICK[..],
        ]
        .concat(),
        directory.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Validation: 50 of 200 training rows, the last in order"),
        "{}",
        stdout(&output)
    );
    let history = std::fs::read_to_string(directory.path().join("o/history.csv")).unwrap();
    assert!(
        history.starts_with("epoch,loss,val_loss,seconds\n"),
        "{history}"
    );

    let metrics = read_json(&directory.path().join("o/metrics.json"));
    assert_eq!(metrics["config"]["validation_split"], 0.25);
    assert_eq!(metrics["config"]["early_stopping"], 3);
}

#[test]
fn bad_validation_settings_exit_two() {
    let message = rejected(&["--validation-split", "1"]);
    assert!(message.contains("invalid validation_split 1"), "{message}");
    let message = rejected(&["--shuffle-before-split"]);
    assert!(
        message.contains("applies only with --validation-split"),
        "{message}"
    );
}

#[cfg(unix)]
#[test]
fn interrupted_run_saves_model_and_history() {
    let directory = tempfile::tempdir().unwrap();
    let args = [
        "run",
        "--epochs",
        "100000",
        "--train-samples",
        "2000",
        "--verbose",
        "2",
        "--out",
        "o",
    ];
    let (code, message) = interrupt_after_first_line(&args, directory.path(), "Epoch 1/100000");
    assert_eq!(code, Some(130), "{message}");
    assert!(message.contains("Interrupted at epoch"), "{message}");
    assert!(directory.path().join("o/model.safetensors").is_file());
    let history = std::fs::read_to_string(directory.path().join("o/history.csv")).unwrap();
    assert!(history.lines().count() >= 2, "{history}");
}

/// Every parameter of a saved model, as bits.
fn model_bits(path: &Path) -> Vec<u32> {
    let (model, _) = outrange::Sequential::load(path).unwrap();
    model
        .layers()
        .iter()
        .flat_map(|layer| layer.parameters())
        .flat_map(|tensor| {
            tensor
                .values
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn resumed_run_matches_uninterrupted_run() {
    let directory = tempfile::tempdir().unwrap();
    let settings = [
        "--epochs",
        "4000",
        "--train-samples",
        "500",
        "--optimizer",
        "adam",
        "--seed",
        "3",
    ];
    let args = [
        &[
            "run",
            "--checkpoint-every",
            "1",
            "--verbose",
            "2",
            "--out",
            "resumed",
        ],
        &settings[..],
    ]
    .concat();
    let (code, message) = interrupt_after_first_line(&args, directory.path(), "Epoch 1/4000");
    assert_eq!(code, Some(130), "{message}");

    let resumed = outrange(
        &["run", "--resume", "resumed", "--verbose", "0"],
        directory.path(),
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let whole = outrange(
        &[&["run", "--verbose", "0", "--out", "whole"], &settings[..]].concat(),
        directory.path(),
    );
    assert!(whole.status.success(), "{}", stderr(&whole));

    let history = std::fs::read_to_string(directory.path().join("resumed/history.csv")).unwrap();
    assert_eq!(history.lines().count(), 4001);
    assert_eq!(
        model_bits(&directory.path().join("resumed/model.safetensors")),
        model_bits(&directory.path().join("whole/model.safetensors"))
    );
}

#[test]
fn resume_rejects_other_settings() {
    let message = rejected(&["--resume", "somewhere", "--epochs", "3"]);
    assert!(
        message.contains("--resume takes every setting from the checkpoint"),
        "{message}"
    );
}

#[test]
fn best_checkpoint_holds_lowest_val_loss() {
    let directory = tempfile::tempdir().unwrap();
    let output = outrange(
        &[
            &[
                "run",
                "--validation-split",
                "0.3",
                "--checkpoint-every",
                "2",
                "--out",
                "o",
            ],
            &QUICK[..],
        ]
        .concat(),
        directory.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let (best, _) = outrange::checkpoint::Checkpoint::load(
        &directory.path().join("o/checkpoint-best.safetensors"),
    )
    .unwrap();
    let losses: Vec<f64> = best
        .history
        .epochs
        .iter()
        .map(|record| record.val_loss.unwrap())
        .collect();
    let last = *losses.last().unwrap();
    assert!(losses.iter().all(|&loss| loss >= last), "{losses:?}");
}

#[cfg(unix)]
#[test]
fn closed_stdout_ends_run_without_panic() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    let directory = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_outrange"))
        .args(["run", "--out", "o"])
        .args(QUICK)
        .current_dir(directory.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Like a pipe whose reader exits before it reads anything.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();

    let message = stderr(&output);
    assert!(!message.contains("panicked"), "{message}");
    assert_eq!(output.status.signal(), Some(libc::SIGPIPE), "{message}");
}
