//! Compose: every byte a printer receives is made here.
//!
//! order → rules → fields → layout → raster → read the barcodes back → scan for 2D codes. [`Gate::label`]
//! is the only way to a printable [`Label`]: it runs the marketplace rules ([`crate::comply`]) on the order,
//! turns layout refusals (`missing_glyph`, `overflow`) into the same report, proves the tracking barcode
//! reads back exactly, and scans the finished raster for QR and other 2D codes as a last line of
//! defence. [`Gate::printer_bytes`] is the one path from a document (a label, a pick list, a test page, a
//! marketplace document) to the bytes of a printer's language: the worker, the previews and the CLI all
//! call it, so a document prints the same whoever asks.

use std::fmt;
use std::sync::OnceLock;

use time::OffsetDateTime;

use crate::barcode::verify;
use crate::bitmap::Bitmap;
use crate::comply::{Checker, DuplicateTracking, Refusal, Report, Rule};
use crate::document::Document;
use crate::fields::Fields;
use crate::lang::{self, EncodeError, JobSettings, Language};
use crate::layout::{self, LayoutError};
use crate::marketdoc;
use crate::order::Order;
use crate::picklist::page::{self as picklist_page, Paper};
use crate::bins::BinPattern;
use crate::picklist::{self, PickList};
use crate::printer::profile::{Profile, ProfileError};
use crate::render::raster;
use crate::template::{Body, Piece, Template};
use crate::text::Fonts;

pub mod test_page;

use test_page::TestPage;

/// A laid-out, rasterised and verified label. Only [`Gate::label`] makes one: its fields are private.
#[derive(Debug, Clone)]
pub struct Label {
    document: Document,
    raster: Bitmap,
}

impl Label {
    /// The positioned marks the PNG and PDF painters draw.
    pub fn document(&self) -> &Document {
        &self.document
    }

    /// The 1-bit raster the printer burns.
    pub fn raster(&self) -> &Bitmap {
        &self.raster
    }

    pub fn into_parts(self) -> (Document, Bitmap) {
        (self.document, self.raster)
    }
}

/// What a document is, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Label,
    Picklist,
    TestPage,
    Marketplace,
    Manifest,
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            What::Label => "label",
            What::Picklist => "pick list",
            What::TestPage => "test page",
            What::Marketplace => "marketplace document",
            What::Manifest => "handover manifest",
        })
    }
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
    /// The pick list's pages cannot be laid out.
    #[error("cannot lay out the pick list [{rule}]: {0}", rule = .0.rule())]
    Picklist(LayoutError),
    /// The handover manifest's pages cannot be laid out.
    #[error("cannot lay out the manifest [{rule}]: {0}", rule = .0.rule())]
    Manifest(LayoutError),
    /// A marketplace document whose barcodes prove it is not this parcel's printable label.
    #[error("[{}] {}", .0.rule(), .0.message())]
    Document(marketdoc::prove::Held),
    /// The document is larger than the printer can print.
    #[error("{}", too_large(*.what, .printer.as_deref(), .profile, .language, .source))]
    TooLarge { what: What, printer: Option<String>, profile: String, language: Language, source: ProfileError },
    /// The printer language refuses the pages or settings (nothing was written).
    #[error("{}", encode_failed(*.what, .language, .source))]
    Encode { what: What, language: Language, source: EncodeError },
    /// The packing slips of a document were asked for, and it has none.
    #[error("the document has no packing-slip pages")]
    NoSlips,
    /// Asked for a language the printer's profile does not speak.
    #[error("printer profile {profile} speaks {speaks}, not {asked}")]
    WrongLanguage { profile: String, speaks: Language, asked: Language },
}

impl ComposeError {
    /// The order itself cannot print as it is (a rule, the layout, the read-back), as opposed to a
    /// printer that cannot take the document.
    pub fn is_refusal(&self) -> bool {
        matches!(self, ComposeError::Refused(_) | ComposeError::Layout(_) | ComposeError::BarcodeReadBack { .. })
    }
}

fn too_large(what: What, printer: Option<&str>, profile: &str, language: &Language, source: &ProfileError) -> String {
    match (what, printer) {
        // A receipt-width printer (ESC/POS 80 mm) cannot take a 100 mm page: say so rather than clip.
        (What::Picklist, Some(printer)) => format!(
            "printer {printer} ({profile}, {language}) cannot print 100×150 mm pick list pages: {source}; give pick lists a 4-inch label printer (role = \"picklist\")"
        ),
        (What::Picklist, None) => format!("printer profile {profile} ({language}) cannot print 100×150 mm pick list pages: {source}"),
        _ => source.to_string(),
    }
}

fn encode_failed(what: What, language: &Language, source: &EncodeError) -> String {
    match what {
        What::Picklist => format!("pick list in {language}: {source}"),
        _ => source.to_string(),
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub dpi: u32,
    /// Stamped on the label as the print time; fixed in tests so images are reproducible.
    pub printed_at: OffsetDateTime,
}

/// What a printer is asked to print. Every document labeld sends is one of these; each becomes printer
/// bytes in [`Gate::printer_bytes`] and nowhere else.
pub enum Content<'a> {
    /// A shipping label: the rules, the layout, the read-back. `seen` says whether another order already
    /// has the tracking number (the spool in the daemon).
    Label { order: &'a Order, seen: &'a dyn DuplicateTracking, printed_at: OffsetDateTime },
    /// A pick list built by [`Gate::picklist`], on 100×150 mm thermal pages at the printer's dpi.
    Picklist(&'a PickList),
    /// A printer's calibration page.
    TestPage(&'a TestPage),
    /// A marketplace's own label document, drawn for the printer's media (`marketdoc::render`): printed as
    /// made, once a page proves to carry the tracking number (`tracking`; any 1D code when `None`). With an
    /// `order_id`, a tracking number `seen` on another order's label or document is a duplicate.
    /// `part` picks the pages: all, the label pages only, or the packing slips only (printed as made, no
    /// proof: a slip carries no tracking barcode).
    Marketplace { pages: &'a [marketdoc::Page], tracking: Option<&'a str>, order_id: Option<&'a str>, seen: &'a dyn DuplicateTracking, part: marketdoc::Part },
    /// A carrier handover manifest, on 100×150 mm thermal pages at the printer's dpi. It carries no
    /// order text, only order ids and tracking numbers, so no rule has anything to check.
    Manifest(&'a crate::manifest::Manifest),
}

impl Content<'_> {
    pub fn what(&self) -> What {
        match self {
            Content::Label { .. } => What::Label,
            Content::Picklist(_) => What::Picklist,
            Content::TestPage(_) => What::TestPage,
            Content::Marketplace { .. } => What::Marketplace,
            Content::Manifest(_) => What::Manifest,
        }
    }
}

/// The printer a document is for: language, resolution and, when known, the profile that bounds the
/// label size and carries darkness, speed, media and the language's options.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    language: Language,
    dpi: u32,
    profile: Option<&'a Profile>,
    /// The configured printer's name, for messages.
    printer: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// A configured printer, by name, with its profile.
    pub fn printer(name: &'a str, profile: &'a Profile) -> Target<'a> {
        Target { language: profile.language, dpi: profile.dpi, profile: Some(profile), printer: Some(name) }
    }

    /// A printer profile, in `language`, which must be the one it speaks.
    pub fn profile(profile: &'a Profile, language: Language) -> Result<Target<'a>, ComposeError> {
        if profile.language != language {
            return Err(ComposeError::WrongLanguage { profile: profile.name.clone(), speaks: profile.language, asked: language });
        }
        Ok(Target { language, dpi: profile.dpi, profile: Some(profile), printer: None })
    }

    /// No profile: a label the size of its pages, the printer's own darkness and speed, gap media.
    pub fn bare(language: Language, dpi: u32) -> Target<'a> {
        Target { language, dpi, profile: None, printer: None }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    pub fn dpi(&self) -> u32 {
        self.dpi
    }

    fn settings(&self, what: What, width: u32, height: u32) -> Result<JobSettings, ComposeError> {
        match self.profile {
            Some(p) => p.job_settings(width, height).map_err(|source| ComposeError::TooLarge {
                what,
                printer: self.printer.map(String::from),
                profile: p.name.clone(),
                language: p.language,
                source,
            }),
            None => Ok(JobSettings::new(self.dpi, width, height)),
        }
    }
}

/// A document in a printer's language, ready for the link: one stream, every page in it.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub language: Language,
    pub pages: usize,
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
/// own words and images are vetted before its first label, so a template that breaks a rule never gets to print.
pub struct Gate {
    checker: Checker,
    template: Template,
    /// The template's verdict, taken once: at construction ([`Gate::new`]) or before the first label
    /// ([`Gate::vetting_later`]).
    vetted: OnceLock<Result<(), Report>>,
}

impl Gate {
    /// Vets `template` now (static text through the text rules, images through the 2D-code scan). A label
    /// template may carry 1D barcodes only; the template format has no 2D element at all.
    pub fn new(checker: Checker, template: Template) -> Result<Gate, Report> {
        let gate = Gate::vetting_later(checker, template);
        gate.vetted()?;
        Ok(gate)
    }

    /// The same gate, vetting its template only when a label first needs it: a one-shot command that prints
    /// a marketplace document never uses the template, and its words would cost the rules' word lists.
    pub fn vetting_later(checker: Checker, template: Template) -> Gate {
        Gate { checker, template, vetted: OnceLock::new() }
    }

    fn vetted(&self) -> Result<(), Report> {
        self.vetted.get_or_init(|| vet_template(&self.checker, &self.template)).clone()
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    /// The bytes `target` receives for `content`: the one path from any document to a printer's
    /// language. A label passes [`Gate::label`]; every page goes in one stream, sized to the largest,
    /// checked against the printer's profile. Nothing is returned on any error.
    pub fn printer_bytes(&self, content: Content<'_>, target: &Target<'_>, fonts: &Fonts) -> Result<Encoded, ComposeError> {
        let what = content.what();
        let pages: Vec<Bitmap> = match content {
            Content::Label { order, seen, printed_at } => {
                vec![self.label(order, seen, fonts, &Options { dpi: target.dpi, printed_at })?.raster]
            }
            Content::Picklist(list) => picklist_page::pages(list, Paper::Thermal100x150, target.dpi, fonts)
                .map_err(ComposeError::Picklist)?
                .iter()
                .map(|d| raster::paint(d, fonts))
                .collect(),
            Content::TestPage(page) => vec![test_page::render(page, fonts)],
            Content::Manifest(m) => crate::manifest::page::pages(m, Paper::Thermal100x150, target.dpi, fonts)
                .map_err(ComposeError::Manifest)?
                .iter()
                .map(|d| raster::paint(d, fonts))
                .collect(),
            Content::Marketplace { pages, tracking, order_id, seen, part } => {
                let verdict = marketdoc::prove::prove(pages, tracking);
                if part != marketdoc::Part::Slips {
                    if let (Some(tn), Some(order_id)) = (tracking, order_id) {
                        duplicate_document(tn, order_id, seen)?;
                    }
                    if let Some(held) = verdict.held {
                        return Err(ComposeError::Document(held));
                    }
                }
                let wanted = |role: marketdoc::PageRole| match part {
                    marketdoc::Part::Whole => true,
                    marketdoc::Part::Labels => role == marketdoc::PageRole::Label,
                    marketdoc::Part::Slips => role == marketdoc::PageRole::Slip,
                };
                let chosen: Vec<Bitmap> = pages.iter().zip(&verdict.roles).filter(|(_, r)| wanted(**r)).map(|(p, _)| p.raster.clone()).collect();
                if chosen.is_empty() {
                    return Err(ComposeError::NoSlips);
                }
                chosen
            }
        };
        let (width, height) = pages.iter().fold((0, 0), |(w, h), p| (w.max(p.width()), h.max(p.height())));
        let settings = target.settings(what, width, height)?;
        let bytes = lang::encode(target.language, &pages, &settings).map_err(|source| ComposeError::Encode { what, language: target.language, source })?;
        Ok(Encoded { bytes, language: target.language, pages: pages.len() })
    }

    /// A pick list of `orders`: the orders a rule refuses (the label rules, with `seen` and the batch
    /// itself as the duplicate tracking check) are listed as held, by rule and field, and not picked.
    /// The batch id defaults to one derived from the orders.
    pub fn picklist(&self, orders: &[Order], seen: &dyn DuplicateTracking, bins: &BinPattern, batch_id: Option<String>, printed_at: OffsetDateTime) -> PickList {
        let batch_id = batch_id.unwrap_or_else(|| picklist::batch_id(orders, printed_at));
        let held = picklist::held_orders(orders, &self.checker, seen);
        PickList::build(orders, held, bins, batch_id, printed_at)
    }

    /// The rules, then the label. Every problem is reported at once: the order's rule breaks and the
    /// layout's (a missing glyph, an overflow) in one report, so one correction round fixes an order.
    pub fn label(&self, order: &Order, dup: &dyn DuplicateTracking, fonts: &Fonts, opts: &Options) -> Result<Label, ComposeError> {
        self.vetted().map_err(ComposeError::Refused)?;
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

/// The template's static text through the text rules and its images through the 2D-code scan.
fn vet_template(checker: &Checker, template: &Template) -> Result<(), Report> {
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
    if refusals.is_empty() { Ok(()) } else { Err(Report { refusals }) }
}

/// A marketplace document's tracking number already on another order's label or document: refused as
/// for a label (`duplicate_tracking_number`), and held when the spool cannot answer.
fn duplicate_document(tracking: &str, order_id: &str, seen: &dyn DuplicateTracking) -> Result<(), ComposeError> {
    let message = match seen.other_order_with(tracking, order_id) {
        Ok(None) => return Ok(()),
        Ok(Some(other)) => format!("this tracking number is already on order {other}; each parcel needs its own"),
        Err(why) => format!("could not check whether this tracking number is already used ({why}); held until it can be checked, then reprint"),
    };
    let refusal = Refusal { rule: Rule::DuplicateTrackingNumber, path: "tracking_number".into(), span: 0..0, text: String::new(), message };
    Err(ComposeError::Refused(Report { refusals: vec![refusal] }))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn template_saying(words: &str) -> Template {
        let toml = format!(
            "name = \"t\"\nkind = \"label\"\nwidth = 100.0\nheight = 150.0\n\n[[element]]\ntype = \"text\"\nid = \"note\"\nbox = [4.0, 4.0, 90.0, 10.0]\ntext = \"{words}\"\nsize = 9\n"
        );
        Template::parse(&toml, "test", None).unwrap()
    }

    #[test]
    fn a_template_that_breaks_a_rule_never_prints_whether_vetted_now_or_later() {
        let bad = template_saying("Order again at www.acme-shop.com");
        let now = Gate::new(Checker::new(None), bad.clone()).err().expect("refused at construction");
        assert_eq!(now.refusals[0].path, "template.note");

        let later = Gate::vetting_later(Checker::new(None), bad);
        let order = Order::from_json_str(include_str!("../../tests/fixtures/orders/my-jnt-cod.json")).unwrap();
        let fonts = Fonts::load(&crate::text::FontConfig::default()).unwrap();
        let opts = Options { dpi: 203, printed_at: time::macros::datetime!(2026-11-23 09:30 UTC) };
        match later.label(&order, &crate::comply::NoSpool, &fonts, &opts) {
            Err(ComposeError::Refused(report)) => assert_eq!(report.refusals, now.refusals),
            other => panic!("expected the template refused, got {:?}", other.map(|_| ())),
        }

        let good = Gate::vetting_later(Checker::new(None), template_saying("Handle with care"));
        assert!(good.label(&order, &crate::comply::NoSpool, &fonts, &opts).is_ok());
    }
}
