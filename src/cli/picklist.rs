//! `labeld picklist BATCH.jsonl --format pdf|png [--paper a4|letter|100x150] -o FILE`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use labeld::comply::SeenTracking;
use labeld::compose::{ComposeError, Content, Target};
use labeld::picklist::page::{self, Paper};
use labeld::bins::{BinPattern, Walk};
use labeld::picklist::PickList;
use labeld::render;

use super::input::{read_batch, write_output};
use super::render::{FontArgs, Format, gate, parse_time};

#[derive(clap::Args)]
pub struct Args {
    /// Batch file: JSON Lines, one order per line (- for standard input).
    batch: PathBuf,
    /// pdf or png, or a printer language (zpl, tspl, escpos, epl, cpcl) for 100x150 thermal pages.
    #[arg(long, short = 'f', value_enum, default_value = "pdf")]
    format: Format,
    /// Paper: a4, letter (laser printers) or 100x150 (thermal labels). Default: a4, or 100x150 for a
    /// printer language.
    #[arg(long, value_parser = |s: &str| s.parse::<Paper>())]
    paper: Option<Paper>,
    /// Resolution of the page raster (PNG); defaults to 300 for a4/letter and 203 for 100x150.
    #[arg(long)]
    dpi: Option<u32>,
    /// How bin codes are built, naming zone, aisle, bay, shelf, level, slot.
    #[arg(long, default_value = "{zone}-{aisle}-{shelf}")]
    bins: String,
    /// Walk every aisle from its start (sequential) or up one and down the next (serpentine).
    #[arg(long, default_value = "sequential", value_parser = parse_walk)]
    walk: Walk,
    /// Batch id to print; defaults to one derived from the orders in the batch.
    #[arg(long)]
    batch_id: Option<String>,
    /// Output file (- for standard output). PNG pages after the first go to FILE-2.png, FILE-3.png...
    #[arg(long, short = 'o')]
    output: PathBuf,
    #[command(flatten)]
    fonts: FontArgs,
    /// Print time (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    printed_at: Option<time::OffsetDateTime>,
    /// Warehouse registry (TOML); orders whose sender is not one of its warehouses are held.
    #[arg(long, value_name = "FILE")]
    warehouses: Option<PathBuf>,
}

fn parse_walk(s: &str) -> Result<Walk, String> {
    match s {
        "sequential" => Ok(Walk::Sequential),
        "serpentine" => Ok(Walk::Serpentine),
        _ => Err(format!("{s:?}: use sequential or serpentine")),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let pattern = match BinPattern::parse(&args.bins, args.walk) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("labeld: --bins: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let orders = match read_batch(&args.batch)? {
        Ok(o) => o,
        Err(errors) => {
            for e in errors {
                eprintln!("labeld: {e}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    let printed_at = args.printed_at.unwrap_or_else(time::OffsetDateTime::now_utc);
    let gate = gate(labeld::template::DEFAULT, args.warehouses.as_deref())?;
    let list = gate.picklist(&orders, &SeenTracking::new(), &pattern, args.batch_id.clone(), printed_at);
    let language = args.format.language();
    let paper = match (args.paper, language) {
        (Some(p), Some(_)) if p != Paper::Thermal100x150 => {
            eprintln!("labeld: --paper: printer languages print on 100x150 thermal labels, not {p:?}");
            return Ok(ExitCode::from(2));
        }
        (Some(p), _) => p,
        (None, Some(_)) => Paper::Thermal100x150,
        (None, None) => Paper::A4,
    };
    let fonts = args.fonts.load()?;
    let dpi = args.dpi.unwrap_or(paper.default_dpi());
    let laid_out = |list: &PickList| match page::pages(list, paper, dpi, &fonts) {
        Ok(p) => Ok(p),
        Err(e) => {
            eprintln!("labeld: {}: cannot lay out the pick list [{}] {e}", args.batch.display(), e.rule());
            Err(ExitCode::from(1))
        }
    };
    let pages = match args.format {
        // Every page in one stream, through the same path a printer's pick list takes.
        Format::Printer(lang) => match gate.printer_bytes(Content::Picklist(&list), &Target::bare(lang, dpi), &fonts) {
            Ok(encoded) => {
                write_output(&args.output, &encoded.bytes)?;
                encoded.pages
            }
            Err(ComposeError::Picklist(e)) => {
                eprintln!("labeld: {}: cannot lay out the pick list [{}] {e}", args.batch.display(), e.rule());
                return Ok(ExitCode::from(1));
            }
            Err(e) => return Err(e.into()),
        },
        Format::Pdf => {
            let pages = match laid_out(&list) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let refs: Vec<&_> = pages.iter().collect();
            let pdf = render::pdf::paint(&refs, &fonts, &format!("Pick list {}", list.batch_id))?;
            write_output(&args.output, &pdf)?;
            pages.len()
        }
        _ => {
            let pages = match laid_out(&list) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            if pages.len() > 1 && args.output.as_os_str() == "-" {
                anyhow::bail!("the pick list has {} pages; PNG needs a file name, not -", pages.len());
            }
            for (i, doc) in pages.iter().enumerate() {
                let raster = render::raster::paint(doc, &fonts);
                let path = if i == 0 { args.output.clone() } else { numbered(&args.output, i + 1) };
                write_output(&path, &render::png::encode(&raster, dpi))?;
            }
            pages.len()
        }
    };
    eprintln!(
        "labeld: pick list {}: {} orders, {} lines, {} units, {} held, {} page(s)",
        list.batch_id,
        list.totals.orders,
        list.totals.lines,
        list.totals.units,
        list.totals.held,
        pages
    );
    Ok(ExitCode::SUCCESS)
}

/// `out.png` → `out-2.png`.
fn numbered(path: &Path, n: usize) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    path.with_file_name(format!("{stem}-{n}{ext}"))
}
