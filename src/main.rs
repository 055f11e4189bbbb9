//! The `outrange` command-line tool.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::args::{Cli, Command};

fn main() -> ExitCode {
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
