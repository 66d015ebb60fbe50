//! `labeld batch BATCH.jsonl --printer NAME [--server URL] [--token T] [--no-picklist] [--release on_scan]`
//!
//! Submits a shipping batch to the running daemon over HTTP (the daemon owns the printers and the
//! spool), follows its progress, and ends with a result per order. The daemon prints the pick list
//! first, then the labels in walking order, in chunks of at most 50. Progress comes from the
//! daemon's server-sent events, with a poll of `GET /v1/batches/{id}` as the source of truth (events
//! only wake the poll, so a dropped stream or a lagging reader loses nothing). Exit status: 0 every
//! label printed, 1 some held, failed or in doubt, 2 bad input or the daemon unreachable.
//!
//! A batch of marketplace label documents is one `{"kind": "document", ...}` per line instead (see
//! [`super::input::read_document_batch`]): no pick list, the same walking order (by the items' bins),
//! chunks and progress.
//!
//! With `--release on_scan` the labels print one by one as packers scan their orders at the bench,
//! which takes hours; the command follows the batch until the pick list printed and every label
//! was rendered and checked, reports which labels wait for their scan, and exits (0 when none is
//! held or failed).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use labeld::batch::Outcome;
use labeld::server::api::{BatchDocument, BatchProgress};
use labeld::spool::MAX_BATCH;

use super::input::{is_document_batch, read_batch_bytes, read_document_batch, read_source};

#[derive(clap::Args)]
pub struct Args {
    /// Batch file: JSON Lines, one order per line (- for standard input), at most 500 orders.
    batch: PathBuf,
    /// The label printer, as named in the daemon's labeld.toml.
    #[arg(long)]
    printer: String,
    /// The daemon's HTTP address.
    #[arg(long, default_value = "http://127.0.0.1:8631")]
    server: String,
    /// API token, when the daemon is configured with one.
    #[arg(long)]
    token: Option<String>,
    /// Print the labels only, without a pick list first.
    #[arg(long)]
    no_picklist: bool,
    /// Printer for the pick list; default: the daemon's printer with role picklist, else --printer.
    #[arg(long, conflicts_with = "no_picklist")]
    picklist_printer: Option<String>,
    /// Batch id; default: derived from the orders (the same batch on the same day gets the same id,
    /// so submitting it again prints nothing twice).
    #[arg(long)]
    batch_id: Option<String>,
    /// When the labels print: at_once, or on_scan (each when its order is scanned at a packing
    /// bench: POST /v1/scans or the packers' page).
    #[arg(long, default_value = "at_once", value_parser = ["at_once", "on_scan"])]
    release: String,
}

/// The orders of an order batch (none for a document batch, which is read elsewhere).
fn read_orders(path: &std::path::Path, bytes: &[u8]) -> Result<Vec<labeld::order::Order>, Vec<String>> {
    if is_document_batch(bytes) {
        return Ok(Vec::new());
    }
    read_batch_bytes(path, bytes)
}

/// How long to wait for an event before asking anyway.
const POLL: Duration = Duration::from_millis(1000);
/// Polls that may fail in a row (a daemon restart) before giving up.
const MAX_FAILED_POLLS: u32 = 30;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = read_source(&args.batch)?;
    let (items, is_documents) = if is_document_batch(&bytes) {
        match read_document_batch(&args.batch, &bytes) {
            Ok(d) if d.len() > MAX_BATCH => {
                eprintln!("labeld: {}: {} documents; a shipping batch holds at most {MAX_BATCH}", args.batch.display(), d.len());
                return Ok(ExitCode::from(2));
            }
            Ok(d) => (d, true),
            Err(errors) => {
                for e in errors {
                    eprintln!("labeld: {e}");
                }
                return Ok(ExitCode::from(2));
            }
        }
    } else {
        (Vec::new(), false)
    };
    let orders = match (is_documents, read_orders(&args.batch, &bytes)) {
        (true, _) => Vec::new(),
        (false, Ok(o)) if o.is_empty() => {
            eprintln!("labeld: {}: no orders in the batch", args.batch.display());
            return Ok(ExitCode::from(2));
        }
        (false, Ok(o)) if o.len() > MAX_BATCH => {
            eprintln!("labeld: {}: {} orders; a shipping batch holds at most {MAX_BATCH}", args.batch.display(), o.len());
            return Ok(ExitCode::from(2));
        }
        (false, Ok(o)) => o,
        (false, Err(errors)) => {
            for e in errors {
                eprintln!("labeld: {e}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    let count = if is_documents { items.len() } else { orders.len() };
    let api = Api::new(&args.server, args.token.clone());
    // Listen before submitting, so not one event of this batch is missed.
    let (wake_tx, wake) = mpsc::channel();
    api.follow_batch_events(wake_tx);
    let mut body = if is_documents {
        json!({ "printer": args.printer, "documents": items })
    } else {
        json!({ "printer": args.printer, "orders": orders, "picklist": !args.no_picklist })
    };
    if let Some(p) = args.picklist_printer.as_ref().filter(|_| !is_documents) {
        body["picklist_printer"] = json!(p);
    }
    if let Some(id) = &args.batch_id {
        body["batch_id"] = json!(id);
    }
    let on_scan = args.release == "on_scan";
    if on_scan {
        body["release"] = json!("on_scan");
    }
    let (status, answer) = match api.call("POST", "/v1/jobs", Some(&body)) {
        Ok(r) => r,
        Err(e) => return Ok(unreachable(&api, &e)),
    };
    if status != 202 {
        let err = &answer["error"];
        let field = err["field"].as_str().filter(|f| !f.is_empty()).map(|f| format!(" [{f}]")).unwrap_or_default();
        eprintln!("labeld: the daemon at {} refused the batch ({status}){field}: {}", api.base, err["message"].as_str().unwrap_or("no message"));
        return Ok(ExitCode::from(2));
    }
    let id = answer["batch"].as_str().unwrap_or_default().to_string();
    let chunks = answer["chunks"].as_u64().unwrap_or(1);
    let picklist_on = answer["picklist_printer"].as_str().map(|p| format!("; pick list first on {p}")).unwrap_or_default();
    let again = if answer["outcome"] == "duplicate" { " (submitted before: nothing is printed twice)" } else { "" };
    let what = if is_documents { "documents" } else { "orders" };
    eprintln!("labeld: batch {id}: {count} {what} in {chunks} chunk(s) of at most 50 on {}{picklist_on}{again}", args.printer);

    let mut display = Display::new(&id, count as u64);
    let mut failed_polls = 0;
    let progress = loop {
        match api.call("GET", &format!("/v1/batches/{id}"), None) {
            Ok((200, v)) => {
                failed_polls = 0;
                let p: BatchProgress = serde_json::from_value(v)?;
                let printer = api.call("GET", &format!("/v1/printers/{}", args.printer), None).ok().map(|(_, v)| v);
                display.update(&p, printer.as_ref());
                if p.complete || (on_scan && all_checked(&p)) {
                    break p;
                }
            }
            Ok((status, v)) => anyhow::bail!("GET /v1/batches/{id} answered {status}: {}", v["error"]["message"].as_str().unwrap_or("")),
            Err(e) => {
                failed_polls += 1;
                if failed_polls >= MAX_FAILED_POLLS {
                    display.abandon();
                    return Ok(unreachable(&api, &e));
                }
            }
        }
        // An event (or the poll interval) says it is time to look again; drain the burst.
        let _ = wake.recv_timeout(POLL);
        while wake.try_recv().is_ok() {}
    };
    display.finish(&progress);
    Ok(report(&progress))
}

/// Scan-to-print: the pick list is settled and no label is still queued or being rendered (each
/// waits for its scan, printed already, or was refused).
fn all_checked(p: &BatchProgress) -> bool {
    let picklist_done = p.picklist.as_ref().is_none_or(|pl| pl.result != Outcome::Pending);
    picklist_done && p.documents.iter().all(|d| !matches!(d.state.as_str(), "queued" | "rendering"))
}

/// A label rendered, checked and waiting at `ready` for its scan (or on its way out after one).
fn waits_for_scan(d: &BatchDocument) -> bool {
    d.result == Outcome::Pending && d.state == "ready"
}

/// The final result per order, on standard output; the exit status.
fn report(p: &BatchProgress) -> ExitCode {
    let mut out = std::io::stdout().lock();
    if let Some(pl) = &p.picklist {
        let _ = writeln!(out, "pick list {}: {} on {}{}", p.batch, words(pl.result), pl.printer, detail(pl));
    }
    for d in &p.documents {
        let order = d.order_id.as_deref().unwrap_or("-");
        let tracking = d.tracking_number.as_deref().unwrap_or("-");
        let result = if waits_for_scan(d) { "waits for its scan" } else { words(d.result) };
        let _ = writeln!(out, "{order:<22} {tracking:<24} chunk {:>2}  {result}{}", d.chunk.unwrap_or(0), detail(d));
    }
    let c = &p.counts;
    let _ = writeln!(
        out,
        "batch {}: {} printed, {} held, {} failed, {} in doubt, {} cancelled, of {}",
        p.batch, c.printed, c.held, c.failed, c.in_doubt, c.cancelled, c.total
    );
    let waiting = p.documents.iter().filter(|d| waits_for_scan(d)).count() as u32;
    if waiting > 0 {
        let _ = writeln!(out, "batch {}: {waiting} label(s) wait for their scan at the packing bench", p.batch);
        let refused = c.held + c.failed + c.in_doubt + c.cancelled;
        let picklist_ok = p.picklist.as_ref().is_none_or(|pl| pl.result == Outcome::Printed);
        return if refused == 0 && picklist_ok { ExitCode::SUCCESS } else { ExitCode::from(1) };
    }
    let picklist_ok = p.picklist.as_ref().is_none_or(|pl| pl.result == Outcome::Printed);
    if c.printed == c.total && picklist_ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn words(o: Outcome) -> &'static str {
    match o {
        Outcome::InDoubt => "in doubt",
        other => other.as_str(),
    }
}

fn detail(d: &BatchDocument) -> String {
    match d.result {
        Outcome::Held => format!(
            ": {} at {} — {}",
            d.rule.as_deref().unwrap_or("a rule"),
            d.field.as_deref().unwrap_or("?"),
            d.reason.as_deref().unwrap_or("refused by a rule")
        ),
        Outcome::InDoubt => format!(
            ": {} (check the printer; reprint with POST /v1/documents/{}/reprint)",
            d.reason.as_deref().unwrap_or("the link broke while sending"),
            d.document
        ),
        Outcome::Failed | Outcome::Cancelled => d.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default(),
        _ => String::new(),
    }
}

fn unreachable(api: &Api, e: &str) -> ExitCode {
    eprintln!("labeld: cannot reach the labeld daemon at {}: {e}; is `labeld serve` running there?", api.base);
    ExitCode::from(2)
}

/// A bar on a terminal; one line per finished chunk otherwise (logs, CI, pipes).
struct Display {
    bar: Option<ProgressBar>,
    reported_chunks: u32,
    printer_state: Option<String>,
}

impl Display {
    fn new(id: &str, orders: u64) -> Display {
        let bar = std::io::stdout().is_terminal().then(|| {
            let bar = ProgressBar::new(orders);
            let style = ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(id.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Display { bar, reported_chunks: 0, printer_state: None }
    }

    fn update(&mut self, p: &BatchProgress, printer: Option<&Value>) {
        let c = &p.counts;
        // A printer that cannot print (paper out, head open, offline) is why nothing moves: say so.
        let state = printer.and_then(|v| v["state"].as_str()).filter(|s| !["ready", "printing", "unknown", "starting"].contains(s));
        let trouble = state.map(|s| format!(" · printer {s}")).unwrap_or_default();
        match &self.bar {
            Some(bar) => {
                bar.set_position(u64::from(c.total - c.pending));
                let chunk = p.current_chunk.unwrap_or(p.chunks);
                bar.set_message(format!("chunk {chunk}/{} · held {} · failed {}{trouble}", p.chunks, c.held, c.failed + c.in_doubt));
            }
            None => {
                let mut out = std::io::stdout().lock();
                if state.map(str::to_string) != self.printer_state {
                    if let Some(s) = state {
                        let _ = writeln!(out, "printer {}: {s}", p.printer);
                    }
                    self.printer_state = state.map(str::to_string);
                }
                // Chunks print in order: report each once its last label settled.
                let already = self.reported_chunks;
                for ch in p.chunk_counts.iter().filter(|ch| ch.chunk > already) {
                    if ch.counts.pending > 0 {
                        break;
                    }
                    let k = &ch.counts;
                    let _ = writeln!(
                        out,
                        "chunk {}/{}: {} printed, {} held, {} failed, {} in doubt",
                        ch.chunk, p.chunks, k.printed, k.held, k.failed, k.in_doubt
                    );
                    self.reported_chunks = ch.chunk;
                }
                let _ = out.flush();
            }
        }
    }

    fn finish(&mut self, p: &BatchProgress) {
        if let Some(bar) = self.bar.take() {
            bar.set_position(u64::from(p.counts.total));
            bar.finish_with_message(format!("{} chunk(s) · held {} · failed {}", p.chunks, p.counts.held, p.counts.failed + p.counts.in_doubt));
        }
    }

    fn abandon(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}

/// The daemon's HTTP API.
struct Api {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Api {
    fn new(base: &str, token: Option<String>) -> Api {
        Api { base: base.trim_end_matches('/').to_string(), token, agent: super::daemon_client::agent() }
    }

    fn bearer(&self) -> Option<String> {
        super::daemon_client::bearer(self.token.as_deref())
    }

    /// One request; the answer's status and JSON body. Err is a transport problem, as a sentence.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let result = match (method, body) {
            ("POST", Some(b)) => {
                let mut req = self.agent.post(&url).content_type("application/json");
                if let Some(t) = self.bearer() {
                    req = req.header("Authorization", t);
                }
                req.send(b.to_string().as_bytes())
            }
            _ => {
                let mut req = self.agent.get(&url);
                if let Some(t) = self.bearer() {
                    req = req.header("Authorization", t);
                }
                req.call()
            }
        };
        let mut resp = result.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string().map_err(|e| e.to_string())?;
        let value = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "error": { "message": text.trim() } }));
        Ok((status, value))
    }

    /// Reads `/v1/events` in the background and sends a wake-up for each batch event. When the
    /// stream cannot be opened or ends, the thread ends and polling carries on alone.
    fn follow_batch_events(&self, wake: mpsc::Sender<()>) {
        let url = format!("{}/v1/events", self.base);
        let bearer = self.bearer();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .build()
            .into();
        std::thread::spawn(move || {
            let mut req = agent.get(&url).header("Accept", "text/event-stream");
            if let Some(t) = bearer {
                req = req.header("Authorization", t);
            }
            let Ok(resp) = req.call() else { return };
            if resp.status() != 200 {
                return;
            }
            let reader = std::io::BufReader::new(resp.into_body().into_with_config().limit(u64::MAX).reader());
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if line.starts_with("event: batch") && wake.send(()).is_err() {
                    return;
                }
            }
        });
    }
}
