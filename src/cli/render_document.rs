//! `labeld render FILE.pdf|FILE.png`: a marketplace document drawn at the printer's dots and proven, offline.
//! Exit 0 printed, 1 refused (does not fit, or no readable / matching tracking barcode), 2 unreadable input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use labeld::bitmap::Bitmap;
use labeld::document::{Document, Element, Image, Rect};
use labeld::marketdoc::{self, DocError, Fit, Media, PageRole};
use labeld::printer::Profile;
use labeld::render;

use labeld::compose::Content;

use super::render::{FontArgs, Format};

pub struct Request<'a> {
    pub source: &'a Path,
    pub bytes: &'a [u8],
    pub format: Format,
    pub dpi: u32,
    pub profile: Option<&'a Profile>,
    pub tracking: Option<&'a str>,
    pub fit: Fit,
    pub output: &'a Path,
    pub fonts: &'a FontArgs,
}

pub fn run(req: Request<'_>) -> anyhow::Result<ExitCode> {
    let name = req.source.display();
    let media = req.profile.map(Media::of_profile).unwrap_or_else(|| Media::four_by_six(req.dpi));
    let doc = match marketdoc::render(req.bytes, &media, req.fit) {
        Ok(d) => d,
        Err(e @ DocError::Unreadable(_)) => {
            eprintln!("labeld: {name}: unreadable document: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => {
            eprintln!("labeld: {name}: refused [{}] {e}", e.rule());
            return Ok(ExitCode::from(1));
        }
    };
    let verdict = marketdoc::prove::prove(&doc.pages, req.tracking);
    for (i, (page, role)) in doc.pages.iter().zip(&verdict.roles).enumerate() {
        let p = &page.placement;
        let codes: Vec<String> = page.codes.iter().map(|c| format!("{} {}", c.format, c.text)).collect();
        eprintln!(
            "labeld: {name}: page {}: {}{}{}, scale {:.3}; barcodes: {}",
            i + 1,
            if *role == PageRole::Label { "label" } else { "slip" },
            if p.turned { ", turned to portrait" } else { "" },
            if p.trimmed { ", trimmed of margin" } else { "" },
            p.scale,
            if codes.is_empty() { "none".to_owned() } else { codes.join(", ") },
        );
    }
    if let Some(held) = verdict.held {
        eprintln!("labeld: {name}: refused [{}] {}", held.rule(), held.message());
        return Ok(ExitCode::from(1));
    }
    let rasters: Vec<&Bitmap> = doc.pages.iter().map(|p| &p.raster).collect();
    match req.format {
        Format::Png if rasters.len() > 1 => {
            for (i, r) in rasters.iter().enumerate() {
                super::input::write_output(&numbered(req.output, i + 1), &render::png::encode(r, media.dpi))?;
            }
        }
        Format::Png => super::input::write_output(req.output, &render::png::encode(rasters[0], media.dpi))?,
        Format::Pdf => {
            let pages: Vec<Document> = rasters.iter().map(|r| as_document(r, media.dpi)).collect();
            let refs: Vec<&Document> = pages.iter().collect();
            let fonts = req.fonts.load()?;
            super::input::write_output(req.output, &render::pdf::paint(&refs, &fonts, &format!("Document {name}"))?)?;
        }
        printer => {
            // Every page in one stream, through the path every printed document takes.
            let lang = printer.language().expect("a printer format");
            let target = super::render::target(lang, req.profile, media.dpi)?;
            // The label template is never drawn here, so it is vetted only if a label ever is.
            let gate = labeld::compose::Gate::vetting_later(labeld::comply::Checker::new(None), labeld::template::Template::load(labeld::template::DEFAULT)?);
            let fonts = req.fonts.load()?;
            let encoded = gate.printer_bytes(Content::Marketplace { pages: &doc.pages, tracking: req.tracking, order_id: None, seen: &labeld::comply::NoSpool, part: marketdoc::Part::Whole }, &target, &fonts)?;
            super::input::write_output(req.output, &encoded.bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `out.png` → `out-2.png`: one file per page.
fn numbered(path: &Path, page: usize) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{page}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{page}"),
    };
    path.with_file_name(name)
}

/// A page of the PDF painter holding the raster as its only mark.
fn as_document(raster: &Bitmap, dpi: u32) -> Document {
    let (w, h) = (raster.width(), raster.height());
    let image = Image { element: "document".into(), rect: Rect::new(0, 0, w as i32, h as i32), bitmap: raster.clone() };
    Document { width: w, height: h, dpi, elements: vec![Element::Image(image)] }
}
