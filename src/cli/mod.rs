//! Command-line surface. One file per subcommand; each returns the process exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod batch;
mod check;
mod daemon_client;
mod doctor;
mod daemon;
mod input;
mod link_speed;
mod manifest;
mod picklist;
mod printers;
mod publish;
mod render;
mod render_document;
mod test_page;
mod virtual_printer;

#[derive(Parser)]
#[command(name = "labeld", version, about = "Label printing daemon for e-commerce warehouses")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render an order to a label file, or a marketplace PDF/PNG document, proven, to PNG, PDF or printer bytes.
    Render(render::Args),
    /// Print a pick list (and packing checks) for a batch of orders.
    Picklist(picklist::Args),
    /// Print a shipping batch through the running daemon: pick list, then labels in walking order.
    Batch(batch::Args),
    /// Fetch a carrier handover manifest (printed parcels, totals, signature lines) from the running daemon.
    Manifest(manifest::Args),
    /// Check orders against the marketplace label rules (exit 0 printable, 1 refused, 2 unreadable).
    Check(check::Args),
    /// List USB printers and serial ports found, with the matched profile and status.
    Printers(printers::Args),
    /// Emulate a printer over TCP (and a pty): save received labels as PNG, answer status, inject faults.
    VirtualPrinter(virtual_printer::Args),
    /// Write a printer's calibration label (name, dpi, darkness ramp, 1 mm grid, Code 128, edge marks).
    TestPage(test_page::Args),
    /// Publish a batch of orders to a station's NATS JetStream subject (Nats-Msg-Id = key).
    Publish(publish::Args),
    /// Check fonts, printer access, config, spool and broker reachability; print the fix for each problem.
    Doctor(doctor::Args),
    /// Run the daemon: spool, print workers and the HTTP API (stops on SIGTERM/SIGINT).
    Serve(daemon::ServeArgs),
    /// Print the example orders on in-process virtual printers (ZPL and TSPL) and show the result.
    Demo(daemon::DemoArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Render(a) => render::run(a),
        Command::Picklist(a) => picklist::run(a),
        Command::Batch(a) => batch::run(a),
        Command::Manifest(a) => manifest::run(a),
        Command::Check(a) => check::run(a),
        Command::Printers(a) => printers::run(a),
        Command::VirtualPrinter(a) => virtual_printer::run(a),
        Command::TestPage(a) => test_page::run(a),
        Command::Publish(a) => publish::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Serve(a) => daemon::serve(a),
        Command::Demo(a) => daemon::demo(a),
    }
}
