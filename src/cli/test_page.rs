//! `labeld test-page --printer-profile NAME [--format zpl|tspl|escpos|epl|cpcl|png] -o FILE`

use std::path::PathBuf;
use std::process::ExitCode;

use labeld::lang::test_page;
use labeld::printer::Profiles;
use labeld::render;

use super::render::{FontArgs, Format, encode_for_printer};

#[derive(clap::Args)]
pub struct Args {
    /// Printer profile (a name from drivers/ or a profile file).
    #[arg(long = "printer-profile", value_name = "NAME")]
    printer_profile: String,
    /// Output format (default: the profile's printer language).
    #[arg(long, short = 'f', value_enum)]
    format: Option<Format>,
    /// Output file (- for standard output).
    #[arg(long, short = 'o')]
    output: PathBuf,
    #[command(flatten)]
    fonts: FontArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let profile = Profiles::builtin().get(&args.printer_profile)?;
    let fonts = args.fonts.load()?;
    let page = profile.test_page();
    let raster = test_page::render(&page, &fonts);
    let bytes = match args.format {
        Some(Format::Png) => render::png::encode(&raster, profile.dpi),
        Some(Format::Pdf) => anyhow::bail!("the test page is a raster: choose png or a printer language"),
        Some(Format::Printer(lang)) => encode_for_printer(lang, &raster, Some(&profile), profile.dpi)?,
        None => encode_for_printer(profile.language, &raster, Some(&profile), profile.dpi)?,
    };
    super::input::write_output(&args.output, &bytes)?;
    Ok(ExitCode::SUCCESS)
}
