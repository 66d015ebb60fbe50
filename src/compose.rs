//! Compose: the whole path from an order to a label a printer may receive.
//!
//! order → rules → fields → layout → raster → read the barcodes back → scan for 2D codes. [`Gate::label`]
//! is the only way to a printable label: it runs the marketplace rules ([`crate::comply`]) on the order,
//! turns layout refusals (`missing_glyph`, `overflow`) into the same report, proves the tracking barcode
//! reads back exactly, and scans the finished raster for QR and other 2D codes as a last line of
//! defence. [`label`] is the bare layout-and-raster step underneath, for tests and benchmarks.

use time::OffsetDateTime;

use crate::barcode::verify;
use crate::bitmap::Bitmap;
use crate::comply::{Checker, DuplicateTracking, Refusal, Report, Rule};
use crate::document::Document;
use crate::fields::Fields;
use crate::layout::{self, LayoutError};
use crate::order::Order;
use crate::render::raster;
use crate::template::{Body, Piece, Template};
use crate::text::Fonts;

/// A laid-out, rasterised and verified label.
#[derive(Debug, Clone)]
pub struct Label {
    pub document: Document,
    pub raster: Bitmap,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ComposeError {
    /// A marketplace rule refuses the label; the report lists every refusal.
    #[error("refused: {}", .0.refusals.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("; "))]
    Refused(Report),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Layout(Vec<LayoutError>),
    #[error("{field}: the printed barcode reads back as {read:?}, not {expected:?}; refusing to print it (element `{element}`)")]
    BarcodeReadBack { element: String, field: String, expected: String, read: Option<String> },
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub dpi: u32,
    /// Stamped on the label as the print time; fixed in tests so images are reproducible.
    pub printed_at: OffsetDateTime,
}

/// Lays out and rasterises one order's label, then proves every barcode scans as its data.
pub fn label(order: &Order, template: &Template, fonts: &Fonts, opts: &Options) -> Result<Label, ComposeError> {
    let fields = Fields::from_order(order, opts.printed_at);
    let document = layout::layout(template, &fields, fonts, opts.dpi).map_err(ComposeError::Layout)?;
    let raster = raster::paint(&document, fonts);
    verify_barcodes(&document, &raster)?;
    Ok(Label { document, raster })
}

/// Reads each barcode from the raster, cropped to its symbol and quiet zones, and compares.
pub fn verify_barcodes(document: &Document, raster: &Bitmap) -> Result<(), ComposeError> {
    for b in document.barcodes() {
        let area = b.bounds();
        // A few dots of white above and below help the reader find the symbol's edges.
        let margin = 4;
        let x = area.x.max(0) as u32;
        let y = (area.y - margin).max(0) as u32;
        let crop = raster.crop(x, y, area.w as u32, (area.h + 2 * margin) as u32);
        let read = verify::read_code128(&crop);
        if read.as_deref() != Some(b.data.as_str()) {
            return Err(ComposeError::BarcodeReadBack {
                element: b.element.clone(),
                field: b.source.clone(),
                expected: b.data.clone(),
                read,
            });
        }
    }
    Ok(())
}

/// The marketplace rules bound to one label template. Built once per configuration: the template's
/// own words and images are vetted here, so a template that breaks a rule never gets to print.
pub struct Gate {
    checker: Checker,
    template: Template,
}

impl Gate {
    /// Vets `template` (static text through the text rules, images through the 2D-code scan). A label
    /// template may carry 1D barcodes only; the template format has no 2D element at all.
    pub fn new(checker: Checker, template: Template) -> Result<Gate, Report> {
        let mut refusals = Vec::new();
        for el in &template.elements {
            let path = format!("template.{}", el.id);
            match &el.body {
                Body::Text(spec) => {
                    for piece in &spec.pieces {
                        if let Piece::Literal(text) = piece {
                            refusals.extend(checker.check_text(&path, text));
                        }
                    }
                }
                Body::Image(bitmap) => refusals.extend(checker.check_image(&path, bitmap)),
                _ => {}
            }
        }
        if refusals.is_empty() { Ok(Gate { checker, template }) } else { Err(Report { refusals }) }
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    /// The rules, then the label. Every problem is reported at once: the order's rule breaks and the
    /// layout's (a missing glyph, an overflow) in one report, so one correction round fixes an order.
    pub fn label(&self, order: &Order, dup: &dyn DuplicateTracking, fonts: &Fonts, opts: &Options) -> Result<Label, ComposeError> {
        let mut report = self.checker.check_order(order, dup);
        let fields = Fields::from_order(order, opts.printed_at);
        let document = match layout::layout(&self.template, &fields, fonts, opts.dpi) {
            Ok(d) => Some(d),
            Err(errors) => {
                let mut other = Vec::new();
                for e in errors {
                    match layout_refusal(order, &e) {
                        Some(r) => report.refusals.push(r),
                        None => other.push(e),
                    }
                }
                if !other.is_empty() {
                    return Err(ComposeError::Layout(other));
                }
                None
            }
        };
        if !report.is_printable() {
            return Err(ComposeError::Refused(report));
        }
        let document = document.expect("layout succeeded when nothing was refused");
        let raster = raster::paint(&document, fonts);
        verify_barcodes(&document, &raster)?;
        // Last line of defence: whatever got through, a 2D code on the finished label is refused.
        let found = self.checker.check_image("label", &raster);
        if !found.is_empty() {
            return Err(ComposeError::Refused(Report { refusals: found }));
        }
        Ok(Label { document, raster })
    }
}

/// A layout refusal in the compliance report's terms, pointing into the order field it came from.
fn layout_refusal(order: &Order, e: &LayoutError) -> Option<Refusal> {
    let field_text = |path: &str| order.text_fields().into_iter().find(|(p, _)| p == path).map(|(_, t)| t.to_string());
    match e {
        LayoutError::MissingGlyph { field, ch, .. } => {
            let text = field_text(field).unwrap_or_default();
            let span = text.find(*ch).map(|i| i..i + ch.len_utf8()).unwrap_or(0..0);
            Some(Refusal {
                rule: Rule::MissingGlyph,
                path: field.clone(),
                span,
                text: ch.to_string(),
                message: format!("no installed font can print {ch:?} (U+{:04X}); install a font for it or correct the text", *ch as u32),
            })
        }
        LayoutError::Overflow { field, width_mm, height_mm, min_size_pt, max_lines, chars, fit_chars, .. } => {
            let first = field.split(',').next().unwrap_or(field);
            let text = field_text(first).unwrap_or_default();
            Some(Refusal {
                rule: Rule::Overflow,
                path: field.clone(),
                span: 0..text.len(),
                text,
                message: layout::overflow_advice(*width_mm, *height_mm, *min_size_pt, *max_lines, *chars, *fit_chars),
            })
        }
        _ => None,
    }
}
