//! `outrange compare` as a user runs it.

use std::path::Path;

use serde_json::Value;

mod common;
use common::*;

/// Settings that keep each run short.
const QUICK: [&str; 8] = [
    "--train-samples",
    "300",
    "--test-samples",
    "200",
    "--epochs",
    "3",
    "--verbose",
    "2",
];

/// The summary without fit times, which differ from run to run.
fn summary_without_times(path: &Path) -> Value {
    let mut summary = read_json(path);
    for variant in summary.as_array_mut().unwrap() {
        variant.as_object_mut().unwrap().remove("fit_seconds");
    }
    summary
}

#[test]
fn compare_writes_summary_plot_and_runs() {
    let directory = tempfile::tempdir().unwrap();
    let output = outrange(
        &[
            &[
                "compare",
                "--models",
                "relu,tanh",
                "--seeds",
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

    let out = directory.path().join("o");
    for name in [
        "summary.csv",
        "summary.json",
        "comparison.png",
        "comparison.svg",
    ] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
    for run in [
        "relu/seed-42",
        "relu/seed-43",
        "tanh/seed-42",
        "tanh/seed-43",
    ] {
        assert!(
            out.join(run).join("metrics.json").is_file(),
            "{run} missing"
        );
        assert!(out.join(run).join("history.csv").is_file(), "{run} missing");
    }

    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary[0]["name"], "relu");
    assert_eq!(summary[0]["runs"], 2);
    assert!(summary[0]["mse_out_of_range"]["median"].is_number());
    assert!(summary[1]["linearity_r2"].is_number());
    assert_eq!(
        summary[0]["error_by_distance"].as_array().unwrap().len(),
        10
    );

    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        csv.starts_with("name,runs,runs_not_finished,mse_in_range_mean"),
        "{csv}"
    );

    let progress = stderr(&output);
    assert!(progress.contains("run 4/4"), "{progress}");
    assert!(progress.contains("left"), "{progress}");
}

#[test]
fn results_do_not_depend_on_threads() {
    let directory = tempfile::tempdir().unwrap();
    for (threads, out) in [("1", "one"), ("3", "three")] {
        let output = outrange(
            &[
                &[
                    "compare",
                    "--models",
                    "relu,sin",
                    "--seeds",
                    "3",
                    "--threads",
                    threads,
                    "--out",
                    out,
                ],
                &QUICK[..],
            ]
            .concat(),
            directory.path(),
        );
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let one = summary_without_times(&directory.path().join("one/summary.json"));
    let three = summary_without_times(&directory.path().join("three/summary.json"));
    assert_eq!(one, three);

    let run_one = read_json(&directory.path().join("one/sin/seed-44/metrics.json"));
    let run_three = read_json(&directory.path().join("three/sin/seed-44/metrics.json"));
    assert_eq!(run_one["mse_out_of_range"], run_three["mse_out_of_range"]);
}

#[test]
fn plan_file_names_variants() {
    let directory = tempfile::tempdir().unwrap();
    let plan = "[[variant]]\nname = \"small\"\nlayers = [8]\n\n[[variant]]\nname = \"adam\"\noptimizer = \"adam\"\nlearning_rate = 0.01\n";
    std::fs::write(directory.path().join("plan.toml"), plan).unwrap();
    let output = outrange(
        &[
            &[
                "compare",
                "--plan",
                "plan.toml",
                "--seeds",
                "1",
                "--out",
                "o",
            ],
            &QUICK[..],
        ]
        .concat(),
        directory.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let run = read_json(&directory.path().join("o/adam/seed-42/metrics.json"));
    assert_eq!(run["config"]["optimizer"], "adam");
    assert_eq!(run["config"]["learning_rate"], 0.01);
    let small = read_json(&directory.path().join("o/small/seed-42/metrics.json"));
    assert_eq!(small["config"]["layers"], serde_json::json!([8]));
}

#[test]
fn compare_runs_on_dataset() {
    let directory = tempfile::tempdir().unwrap();
    let output = outrange(
        &[
            "compare",
            "--dataset",
            "sunspots",
            "--models",
            "relu,sin",
            "--seeds",
            "2",
            "--epochs",
            "2",
            "--verbose",
            "0",
            "--out",
            "o",
        ],
        directory.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(directory.path().join("o/comparison.png").is_file());
    let summary = read_json(&directory.path().join("o/summary.json"));
    assert_eq!(summary[1]["name"], "sin");
}

#[test]
fn bad_compare_settings_exit_two() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("noname.toml"),
        "[[variant]]\nlayers = [8]\n",
    )
    .unwrap();
    std::fs::write(
        directory.path().join("typo.toml"),
        "[[variant]]\nname = \"a\"\nlayer = [8]\n",
    )
    .unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--seeds", "0"], "invalid seeds 0"),
        (&["--threads", "0"], "invalid threads 0"),
        (&["--models", "relu,rleu"], "known activations are"),
        (&["--plan", "noname.toml"], "variant 1 needs a name"),
        (&["--plan", "typo.toml"], "unknown field `layer`"),
    ];
    for (args, expected) in cases {
        let output = outrange(&[&["compare"], args].concat(), directory.path());
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[cfg(unix)]
#[test]
fn interrupt_keeps_finished_runs() {
    let directory = tempfile::tempdir().unwrap();
    // Interrupt once the first run has finished.
    let args = [
        "compare",
        "--models",
        "relu",
        "--seeds",
        "200",
        "--threads",
        "1",
        "--out",
        "o",
        "--verbose",
        "2",
        "--train-samples",
        "2000",
        "--epochs",
        "5",
    ];
    let (code, message) = interrupt_after_first_line(&args, directory.path(), "run 1/200 finished");
    assert_eq!(code, Some(130), "{message}");
    assert!(message.contains("Interrupted:"), "{message}");
    assert!(message.contains("missing: relu seed"), "{message}");

    let summary = read_json(&directory.path().join("o/summary.json"));
    let finished = summary[0]["runs"].as_u64().unwrap();
    assert!((1..200).contains(&finished), "{finished} runs finished");
    assert!(
        directory
            .path()
            .join("o/relu/seed-42/metrics.json")
            .is_file()
    );
}
