//! Command-line surface. One file per subcommand; each returns the process exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod input;
mod render;
mod test_page;

#[derive(Parser)]
#[command(name = "labeld", version, about = "Label printing daemon for e-commerce warehouses")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render an order to a label file (PNG, PDF).
    Render(render::Args),
    /// Write a printer's calibration label (name, dpi, darkness ramp, 1 mm grid, Code 128, edge marks).
    TestPage(test_page::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Render(a) => render::run(a),
        Command::TestPage(a) => test_page::run(a),
    }
}
