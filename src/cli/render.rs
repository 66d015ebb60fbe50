//! `labeld render ORDER|- --format png|pdf|zpl|tspl|escpos|epl|cpcl [--dpi 203|300] [--printer-profile NAME]
//! [--template NAME] -o FILE`; a marketplace PDF or PNG instead of an order goes to `render_document`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;

use labeld::comply::{Checker, NoSpool, Registry};
use labeld::compose::{self, ComposeError, Content, Gate, Target};
use labeld::lang::Language;
use labeld::printer::{Profile, Profiles};
use labeld::order::Order;
use labeld::render;
use labeld::template::{self, Template};
use labeld::text::{FontConfig, Fonts};

use super::input::read_source;

/// An output: a preview painter or one of the printer languages (`lang::Language::ALL`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Png,
    Pdf,
    Printer(Language),
}

/// PNG, PDF and every printer language, in that order.
const FORMATS: [Format; 2 + Language::ALL.len()] = {
    let mut all = [Format::Png; 2 + Language::ALL.len()];
    all[1] = Format::Pdf;
    let mut i = 0;
    while i < Language::ALL.len() {
        all[2 + i] = Format::Printer(Language::ALL[i]);
        i += 1;
    }
    all
};

impl Format {
    /// The printer language this format is, if it is one.
    pub fn language(self) -> Option<Language> {
        match self {
            Format::Printer(l) => Some(l),
            Format::Png | Format::Pdf => None,
        }
    }
}

impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &FORMATS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(match self {
            Format::Png => clap::builder::PossibleValue::new("png"),
            Format::Pdf => clap::builder::PossibleValue::new("pdf"),
            Format::Printer(l) => clap::builder::PossibleValue::new(l.name()).help(l.dialect().title),
        })
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Order JSON file, a marketplace document (PDF or PNG, told by content), or - for standard input.
    order: PathBuf,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "png")]
    format: Format,
    /// Printer resolution in dots per inch (default: the printer profile's, else 203).
    #[arg(long, value_parser = parse_dpi)]
    dpi: Option<u32>,
    /// Printer profile (a name from drivers/ or a profile file): resolution, media, darkness, speed.
    #[arg(long = "printer-profile", value_name = "NAME")]
    printer_profile: Option<String>,
    /// Built-in template name or a template file.
    #[arg(long, default_value = template::DEFAULT)]
    template: String,
    /// Output file (- for standard output).
    #[arg(long, short = 'o')]
    output: PathBuf,
    #[command(flatten)]
    fonts: FontArgs,
    /// Print time to stamp on the label (RFC 3339); defaults to now. Fix it for reproducible output.
    #[arg(long, value_parser = parse_time)]
    printed_at: Option<time::OffsetDateTime>,
    /// Warehouse registry (TOML); the sender must be one of its warehouses.
    #[arg(long, value_name = "FILE")]
    warehouses: Option<PathBuf>,
    /// Documents: the tracking number a label page's barcode must read back as.
    #[arg(long, value_name = "TN")]
    tracking: Option<String>,
    /// Documents: `scale` shrinks a page too large for the media instead of refusing it.
    #[arg(long, value_enum, default_value = "refuse")]
    fit: FitArg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FitArg {
    Refuse,
    Scale,
}

/// The rules every label passes, bound to its template. A template that itself breaks a rule is an error.
pub fn gate(template: &str, warehouses: Option<&std::path::Path>) -> anyhow::Result<Gate> {
    let template = Template::load(template)?;
    let registry = match warehouses {
        Some(path) => Some(Registry::load(path).context("loading the warehouse registry")?),
        None => None,
    };
    Gate::new(Checker::new(registry), template).map_err(|report| {
        let lines: Vec<String> = report.refusals.iter().map(|r| r.to_string()).collect();
        anyhow::anyhow!("the template breaks the label rules:\n  {}", lines.join("\n  "))
    })
}

/// Font options shared by every command that draws.
#[derive(clap::Args)]
pub struct FontArgs {
    /// Extra font directory, searched before the system fonts (repeatable).
    #[arg(long = "font-dir", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

impl FontArgs {
    pub fn load(&self) -> anyhow::Result<Fonts> {
        // A one-shot command keeps the system font index between runs rather than parse every font file.
        let cfg = FontConfig { dirs: self.dirs.clone(), index_cache: labeld::text::font_index::user_cache_file(), ..FontConfig::default() };
        Fonts::load(&cfg).context("loading fonts")
    }
}

pub fn parse_dpi(s: &str) -> Result<u32, String> {
    match s {
        "203" => Ok(203),
        "300" => Ok(300),
        _ => Err(format!("{s:?}: thermal label printers print at 203 or 300 dpi")),
    }
}

pub fn parse_time(s: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|e| format!("{s:?}: {e}"))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = read_source(&args.order)?;
    let profile = args.printer_profile.as_deref().map(|n| Profiles::builtin().get(n)).transpose()?;
    // A document is told by its content; a file named .pdf or .png that is neither is still treated as one,
    // so the error says what is wrong with it rather than that it is bad JSON.
    let named_doc = args.order.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf") || e.eq_ignore_ascii_case("png"));
    if named_doc || labeld::marketdoc::Kind::sniff(&bytes).is_some() {
        let dpi = resolve_dpi(profile.as_ref(), args.dpi)?;
        return super::render_document::run(super::render_document::Request {
            source: &args.order,
            bytes: &bytes,
            format: args.format,
            dpi,
            profile: profile.as_ref(),
            tracking: args.tracking.as_deref(),
            fit: if args.fit == FitArg::Scale { labeld::marketdoc::Fit::Scale } else { labeld::marketdoc::Fit::Refuse },
            output: &args.output,
            fonts: &args.fonts,
        });
    }
    let order = match Order::from_json_bytes(&bytes) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("labeld: {}: {e}", args.order.display());
            return Ok(ExitCode::from(2));
        }
    };
    let dpi = resolve_dpi(profile.as_ref(), args.dpi)?;
    let gate = gate(&args.template, args.warehouses.as_deref())?;
    let fonts = args.fonts.load()?;
    let printed_at = args.printed_at.unwrap_or_else(time::OffsetDateTime::now_utc);
    let bytes = match args.format {
        Format::Printer(lang) => {
            let target = target(lang, profile.as_ref(), dpi)?;
            match gate.printer_bytes(Content::Label { order: &order, seen: &NoSpool, printed_at }, &target, &fonts) {
                Ok(encoded) => encoded.bytes,
                Err(e) if e.is_refusal() => {
                    report_refusal(&args.order, &e);
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
        }
        preview => {
            let label = match gate.label(&order, &NoSpool, &fonts, &compose::Options { dpi, printed_at }) {
                Ok(l) => l,
                Err(e) => {
                    report_refusal(&args.order, &e);
                    return Ok(ExitCode::from(1));
                }
            };
            match preview {
                Format::Pdf => render::pdf::paint(&[label.document()], &fonts, &format!("Label {}", order.order_id))?,
                _ => render::png::encode(label.raster(), dpi),
            }
        }
    };
    super::input::write_output(&args.output, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// The resolution: the profile's, which `--dpi` may repeat but not contradict; else `--dpi`, else 203.
fn resolve_dpi(profile: Option<&Profile>, dpi: Option<u32>) -> anyhow::Result<u32> {
    Ok(match (profile, dpi) {
        (Some(p), Some(d)) if p.dpi != d => anyhow::bail!("--dpi {d} contradicts printer profile {} ({} dpi)", p.name, p.dpi),
        (Some(p), _) => p.dpi,
        (None, d) => d.unwrap_or(203),
    })
}

/// The printer the CLI writes for: a profile (whose language `lang` must be), else `lang` at `dpi`.
pub fn target(lang: Language, profile: Option<&Profile>, dpi: u32) -> anyhow::Result<Target<'_>> {
    Ok(match profile {
        Some(p) => Target::profile(p, lang)?,
        None => Target::bare(lang, dpi),
    })
}

pub fn report_refusal(source: &std::path::Path, e: &ComposeError) {
    match e {
        ComposeError::Refused(report) => {
            for r in &report.refusals {
                eprintln!("labeld: {}: refused [{}] {} [{}..{}]: {:?} — {}", source.display(), r.rule, r.path, r.span.start, r.span.end, r.text, r.message);
            }
        }
        ComposeError::Layout(errors) => {
            for err in errors {
                eprintln!("labeld: {}: refused [{}] {err}", source.display(), err.rule());
            }
        }
        other => eprintln!("labeld: {}: refused [barcode] {other}", source.display()),
    }
}
