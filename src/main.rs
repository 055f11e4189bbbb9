//! The `outrange` command-line tool.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::args::{Cli, Command};

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => cli::run(args),
        Command::Compare(args) => cli::compare(args),
        Command::Predict(args) => cli::predict(args),
        Command::Inspect(args) => cli::inspect(args),
        Command::Datasets => {
            cli::list_datasets();
            Ok(())
        }
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(failure.code)
        }
    }
}

/// Lets a write to a closed pipe end the process quietly, as it does for other Unix
/// tools, instead of making `println!` panic. The Rust runtime ignores SIGPIPE by
/// default.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: this runs first in `main`, before any other thread exists, and only
    // resets SIGPIPE's disposition to the system default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
