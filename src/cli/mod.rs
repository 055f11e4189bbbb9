//! The `outrange` command line: flags in, one resolved configuration, the library's
//! experiment, and the report and files out.

pub mod args;
mod compare;
mod model;
mod progress;
mod run;
mod settings;

use std::fmt;

pub use compare::compare;
pub use model::{inspect, predict};
pub use run::run;

/// Prints the bundled datasets, a line each.
pub fn list_datasets() {
    for dataset in outrange::dataset::DATASETS {
        println!("{:<10} {}", dataset.name, dataset.description);
    }
}

/// Exit code of a run that failed while training or writing.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of invalid settings or input, detected before any training.
pub const EXIT_INVALID: u8 = 2;
/// Exit code after Ctrl-C, as shells report a process ended by SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

/// An error with the exit code it maps to.
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    /// An error in the settings or input.
    pub fn invalid(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: EXIT_INVALID,
            error: error.into(),
        }
    }

    /// An error while training or writing results.
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: EXIT_FAILURE,
            error: error.into(),
        }
    }
}

impl fmt::Display for Failure {
    /// Formats the error chain once: the outer message, then each cause that the
    /// messages before it do not already include.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        for cause in self.error.chain() {
            let message = cause.to_string();
            if text.contains(&message) {
                continue;
            }
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
        f.write_str(&text)
    }
}
