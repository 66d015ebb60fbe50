//! Command-line surface. One file per subcommand; each returns the process exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
mod input;
mod picklist;
mod render;

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
    /// Print a pick list (and packing checks) for a batch of orders.
    Picklist(picklist::Args),
    /// Check orders against the marketplace label rules (exit 0 printable, 1 refused, 2 unreadable).
    Check(check::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Render(a) => render::run(a),
        Command::Picklist(a) => picklist::run(a),
        Command::Check(a) => check::run(a),
    }
}
