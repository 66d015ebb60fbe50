//! The `labeld` command. Each subcommand lives in `src/cli/<name>.rs`; this file only dispatches.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("labeld: {e:#}");
            ExitCode::from(2)
        }
    }
}
