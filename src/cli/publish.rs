//! `labeld publish BATCH.jsonl --subject labels.WH.STATION [--server URL] [--role label]`: a tool for
//! backends and tests. Publishes each order as a feed message with `Nats-Msg-Id` = its key, waits for
//! the JetStream acknowledgements, and says how many were stored and how many were duplicates.
//! Every line is checked first; a batch with a bad order publishes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use labeld::feed::publish;

use super::input::read_source;

#[derive(clap::Args)]
pub struct Args {
    /// Orders, one JSON object per line; - for standard input.
    batch: PathBuf,
    /// The station's subject, e.g. labels.WH-KUL-01.pack-03.
    #[arg(long)]
    subject: String,
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    server: String,
    /// label or picklist (unless a line names its own printer or role).
    #[arg(long, default_value = "label", value_parser = ["label", "picklist"])]
    role: String,
    /// Create the work-queue stream first if it does not exist.
    #[arg(long)]
    create_stream: bool,
    /// The stream to create.
    #[arg(long, default_value = "LABELS")]
    stream: String,
    /// Subjects of the stream to create.
    #[arg(long, default_value = "labels.*.*")]
    stream_subjects: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = read_source(&args.batch)?;
    let text = std::str::from_utf8(&bytes).with_context(|| format!("{}: not UTF-8", args.batch.display()))?;
    let mut messages = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match publish::message(line, &args.role) {
            Ok(m) => messages.push(m),
            Err(e) => errors.push(format!("{}:{}: {e}", args.batch.display(), i + 1)),
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        bail!("{} bad line(s); nothing published", errors.len());
    }
    let total = messages.len();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let done = rt.block_on(async {
        let client = async_nats::connect(args.server.as_str()).await.with_context(|| format!("connecting to {}", args.server))?;
        let js = async_nats::jetstream::new(client);
        if args.create_stream {
            publish::ensure_stream(&js, &args.stream, &args.stream_subjects).await.map_err(anyhow::Error::msg)?;
        }
        publish::publish(&js, &args.subject, messages).await.map_err(anyhow::Error::msg)
    })?;
    println!("published {total} order(s) to {}: {} stored, {} duplicate(s)", args.subject, done.stored, done.duplicates);
    Ok(ExitCode::SUCCESS)
}
