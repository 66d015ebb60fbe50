//! `labeld test-page --printer-profile NAME [--format zpl|tspl|escpos|epl|cpcl|png] -o FILE`

use std::path::PathBuf;
use std::process::ExitCode;

use labeld::compose::test_page::{self, TestPage};
use labeld::compose::{Content, Target};
use labeld::printer::Profiles;
use labeld::render;

use labeld::text::Fonts;

use super::render::{FontArgs, Format, target};

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
    let page = TestPage::for_profile(&profile);
    let bytes = match args.format {
        Some(Format::Png) => render::png::encode(&test_page::render(&page, &fonts), profile.dpi),
        Some(Format::Pdf) => anyhow::bail!("the test page is a raster: choose png or a printer language"),
        Some(Format::Printer(lang)) => printer_bytes(&page, target(lang, Some(&profile), profile.dpi)?, &fonts)?,
        None => printer_bytes(&page, target(profile.language, Some(&profile), profile.dpi)?, &fonts)?,
    };
    super::input::write_output(&args.output, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// The page through the same gate every printed document takes (the test page has no rules to pass).
fn printer_bytes(page: &TestPage, target: Target<'_>, fonts: &Fonts) -> anyhow::Result<Vec<u8>> {
    let gate = super::render::gate(labeld::template::DEFAULT, None)?;
    Ok(gate.printer_bytes(Content::TestPage(page), &target, fonts)?.bytes)
}
