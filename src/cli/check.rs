//! `labeld check ORDER... [--json] [--warehouses FILE] [--lexicon-dir DIR]`: would these labels be printed, and if not, why.
//!
//! Each ORDER is a JSON file, a JSON Lines file (one order per line, reported by line number) or `-` for
//! standard input. Exit status: 0 every order printable, 1 some order refused, 2 some input unreadable (the
//! readable ones are still reported). A tracking number that appears on two different orders in the same run
//! is a duplicate, as it would be in the spool.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;

use labeld::comply::{Checker, Lexicon, Refusal, Registry, Report, SeenTracking};
use labeld::order::{Order, OrderError};

use super::input::read_source;

#[derive(clap::Args)]
pub struct Args {
    /// Order files: JSON, or JSON Lines with one order per line; - for standard input.
    #[arg(required = true, value_name = "ORDER")]
    orders: Vec<PathBuf>,
    /// One JSON object per order on standard output (JSON Lines) instead of text.
    #[arg(long)]
    json: bool,
    /// Warehouse registry (TOML); the sender of every order must be one of its warehouses.
    #[arg(long, value_name = "FILE")]
    warehouses: Option<PathBuf>,
    /// More word lists for the label rules (every *.toml in DIR, added to the built-in ones), as
    /// `[comply] lexicon_dir` in labeld.toml.
    #[arg(long, value_name = "DIR")]
    lexicon_dir: Option<PathBuf>,
}

/// One order's verdict, or why it could not be read.
#[derive(Serialize)]
struct Entry<'a> {
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    printable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusals: Option<&'a [Refusal]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorEntry>,
}

#[derive(Serialize)]
struct ErrorEntry {
    path: String,
    problem: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let registry = match &args.warehouses {
        Some(path) => Some(Registry::load(path).context("loading the warehouse registry")?),
        None => None,
    };
    let lexicon = match &args.lexicon_dir {
        Some(dir) => Arc::new(Lexicon::with_dir(dir).context("loading the lexicon")?),
        None => Lexicon::builtin(),
    };
    let checker = Checker::with_lexicon(registry, lexicon);
    let mut seen = SeenTracking::new();
    let mut out = std::io::stdout().lock();
    let (mut refused, mut unreadable) = (false, false);

    for path in &args.orders {
        let source = path.display().to_string();
        let documents = match read_source(path) {
            Ok(bytes) => split_documents(&bytes),
            Err(e) => vec![(None, Err(OrderError::new("", format!("{e:#}"))))],
        };
        for (line, parsed) in documents {
            let where_ = match line {
                Some(l) => format!("{source}:{l}"),
                None => source.clone(),
            };
            match parsed {
                Err(e) => {
                    unreadable = true;
                    if args.json {
                        let entry = Entry {
                            source: source.clone(),
                            line,
                            order_id: None,
                            printable: None,
                            refusals: None,
                            error: Some(ErrorEntry { path: e.path.clone(), problem: e.problem.clone() }),
                        };
                        writeln!(out, "{}", serde_json::to_string(&entry)?)?;
                    }
                    eprintln!("labeld: {where_}: unreadable: {e}");
                }
                Ok(order) => {
                    let report = checker.check_order(&order, &seen);
                    seen.record(&order.shipment.tracking_number, &order.order_id);
                    refused |= !report.is_printable();
                    if args.json {
                        let entry = Entry {
                            source: source.clone(),
                            line,
                            order_id: Some(&order.order_id),
                            printable: Some(report.is_printable()),
                            refusals: Some(&report.refusals),
                            error: None,
                        };
                        writeln!(out, "{}", serde_json::to_string(&entry)?)?;
                    } else {
                        write_human(&mut out, line.map(|_| where_.as_str()), &order, &report)?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::from(if unreadable {
        2
    } else if refused {
        1
    } else {
        0
    }))
}

/// `order_id: rule at path [start..end]: "text" — message`, one line per refusal; `order_id: printable` for a
/// clean order. Orders from JSON Lines carry `file:line: ` in front.
fn write_human(out: &mut impl Write, prefix: Option<&str>, order: &Order, report: &Report) -> std::io::Result<()> {
    let prefix = prefix.map(|p| format!("{p}: ")).unwrap_or_default();
    if report.is_printable() {
        return writeln!(out, "{prefix}{}: printable", order.order_id);
    }
    for r in &report.refusals {
        writeln!(out, "{prefix}{}: {r}", order.order_id)?;
    }
    Ok(())
}

/// One order per document: a whole-file JSON value, or JSON Lines (line numbers from 1; blank lines skipped).
fn split_documents(bytes: &[u8]) -> Vec<(Option<usize>, Result<Order, OrderError>)> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return vec![(None, Err(OrderError::new("", format!("input is not valid UTF-8 (bad byte at offset {})", e.valid_up_to()))))];
        }
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => vec![(None, Order::from_json_value(value))],
        Err(whole) => {
            let lines: Vec<(usize, &str)> = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect();
            if lines.len() <= 1 {
                return vec![(None, Err(OrderError::new("", format!("not valid JSON: {whole}"))))];
            }
            lines.into_iter().map(|(n, l)| (Some(n), Order::from_json_str(l))).collect()
        }
    }
}
