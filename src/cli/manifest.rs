//! `labeld manifest --carrier NAME [--handover pickup|dropoff] [--since T] [--until T | --batch ID]
//! [--format pdf|png|zpl|…] [--paper a4|letter|100x150] -o FILE`
//!
//! Fetches a carrier handover manifest from the running daemon (it owns the spool that knows what
//! printed) through `GET /v1/manifests`, and writes it to FILE. Exit status: 0 written, 2 bad input,
//! a refusal by the daemon or the daemon unreachable.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use labeld::manifest::Paper;

use super::input::write_output;
use super::render::{Format, parse_time};

#[derive(clap::Args)]
pub struct Args {
    /// The carrier as orders name it ("J&T Express"); repeat for one section per carrier.
    #[arg(long, required = true)]
    carrier: Vec<String>,
    /// pickup (the carrier's van collects) or dropoff (the warehouse takes parcels to the carrier).
    #[arg(long, default_value = "pickup", value_parser = ["pickup", "dropoff"])]
    handover: String,
    /// Start of the window (RFC 3339): parcels whose label first printed at or after it. Default:
    /// 24 hours ago.
    #[arg(long, value_parser = parse_time, conflicts_with = "batch")]
    since: Option<OffsetDateTime>,
    /// End of the window (RFC 3339, exclusive). Default: now.
    #[arg(long, value_parser = parse_time, conflicts_with = "batch")]
    until: Option<OffsetDateTime>,
    /// A shipping batch instead of a time window.
    #[arg(long)]
    batch: Option<String>,
    /// pdf, png (one page: --page) or a printer language for 100x150 thermal pages.
    #[arg(long, short = 'f', value_enum, default_value = "pdf")]
    format: Format,
    /// a4 or letter (PDF, PNG) or 100x150. Default: a4, or 100x150 for a printer language.
    #[arg(long, value_parser = |s: &str| s.parse::<Paper>())]
    paper: Option<Paper>,
    /// The page of a PNG manifest (from 1).
    #[arg(long)]
    page: Option<u32>,
    /// Output file (- for standard output).
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// The daemon's HTTP address.
    #[arg(long, default_value = "http://127.0.0.1:8631")]
    server: String,
    /// API token, when the daemon is configured with one.
    #[arg(long)]
    token: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stamp = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    let mut query: Vec<(&str, String)> = args.carrier.iter().map(|c| ("carrier", c.clone())).collect();
    query.push(("handover", args.handover.clone()));
    match &args.batch {
        Some(b) => query.push(("batch", b.clone())),
        None => {
            let since = args.since.unwrap_or_else(|| OffsetDateTime::now_utc() - Duration::from_secs(24 * 3600));
            query.push(("since", stamp(since)));
            if let Some(u) = args.until {
                query.push(("until", stamp(u)));
            }
        }
    }
    let format = match args.format {
        Format::Pdf => "pdf".to_string(),
        Format::Png => "png".to_string(),
        Format::Printer(l) => l.name().to_string(),
    };
    query.push(("format", format));
    if let Some(p) = args.paper {
        let name = match p {
            Paper::A4 => "a4",
            Paper::Letter => "letter",
            Paper::Thermal100x150 => "100x150",
        };
        query.push(("paper", name.into()));
    }
    if let Some(n) = args.page {
        query.push(("page", n.to_string()));
    }

    let base = args.server.trim_end_matches('/');
    let mut req = super::daemon_client::agent().get(format!("{base}/v1/manifests")).query_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
    if let Some(t) = super::daemon_client::bearer(args.token.as_deref()) {
        req = req.header("Authorization", t);
    }
    let mut resp = match req.call() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("labeld: cannot reach the labeld daemon at {base}: {e}; is `labeld serve` running there?");
            return Ok(ExitCode::from(2));
        }
    };
    let status = resp.status().as_u16();
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (parcels, pages) = (header("x-manifest-parcels"), header("x-manifest-pages"));
    let bytes = resp.body_mut().with_config().limit(256 * 1024 * 1024).read_to_vec()?;
    if status != 200 {
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let err = &v["error"];
        let field = err["field"].as_str().map(|f| format!(" [{f}]")).unwrap_or_default();
        let message = err["message"].as_str().map(str::to_string).unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
        eprintln!("labeld: the daemon at {base} refused the manifest ({status}){field}: {message}");
        return Ok(ExitCode::from(2));
    }
    write_output(&args.output, &bytes)?;
    let pages = pages.map(|p| format!(", page {} of {p}", args.page.unwrap_or(1))).unwrap_or_default();
    eprintln!(
        "labeld: manifest for {} ({}): {} parcel(s){pages}, written to {}",
        args.carrier.join(", "),
        args.handover,
        parcels.as_deref().unwrap_or("?"),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
