//! Lays a [`Manifest`] out on pages: A4 or Letter for a laser printer, 100×150 mm for a thermal one.
//!
//! Each carrier's section starts a page. A page holds a header (what, which carrier and mode, which
//! window or batch, page i/n), then one row per parcel: a checkbox, the tracking number as text and
//! as a Code 128 under it, the order id, package n/m and weight. The section ends with its totals and
//! the lines the driver fills in, moved to a page of their own when they do not fit. The output is
//! ordinary [`Document`]s.

use crate::barcode::code128;
use crate::document::{Barcode, Document, Element, Rect, mm_to_dots};
use crate::layout::{self, LayoutError};
use crate::spool::{HandoverParcel, HandoverScope};
use crate::template::{Align, Overflow, TextSpec, VAlign};
use crate::text::{Fonts, Weight};

use super::{Manifest, Section, kilograms};
pub use crate::picklist::page::Paper;

/// Sizes in millimetres and points for one paper.
struct Metrics {
    margin: f32,
    title_pt: f32,
    body_pt: f32,
    min_pt: f32,
    header_h: f32,
    footer_h: f32,
    row_h: f32,
    text_h: f32,
    bar_h: f32,
    check_w: f32,
    /// Width right of the barcode for package and weight.
    info_w: f32,
    /// The module width aimed for; narrower (down to 0.25 mm) when the symbol would not fit.
    module_mm: f32,
    sign_h: f32,
}

fn metrics(paper: Paper) -> Metrics {
    match paper {
        Paper::Thermal100x150 => Metrics {
            margin: 3.0,
            title_pt: 11.0,
            body_pt: 7.5,
            min_pt: 5.5,
            header_h: 20.0,
            footer_h: 5.0,
            row_h: 15.0,
            text_h: 4.5,
            bar_h: 8.5,
            check_w: 5.0,
            info_w: 22.0,
            module_mm: 0.25,
            sign_h: 9.0,
        },
        _ => Metrics {
            margin: 12.0,
            title_pt: 16.0,
            body_pt: 10.0,
            min_pt: 7.0,
            header_h: 26.0,
            footer_h: 7.0,
            row_h: 17.0,
            text_h: 5.5,
            bar_h: 9.5,
            check_w: 8.0,
            info_w: 40.0,
            module_mm: 0.34,
            sign_h: 11.0,
        },
    }
}

/// The narrowest module a scanner is trusted with (the labels' own minimum).
const MIN_MODULE_MM: f32 = 0.25;

/// What goes on one page: which section, and either parcel rows or the closing block (or both).
struct PagePlan {
    section: usize,
    rows: std::ops::Range<usize>,
    closing: bool,
}

/// Lays the manifest out on pages at `dpi`.
pub fn pages(manifest: &Manifest, paper: Paper, dpi: u32, fonts: &Fonts) -> Result<Vec<Document>, LayoutError> {
    let m = metrics(paper);
    let (_, page_h) = paper.size_mm();
    let body_top = m.margin + m.header_h;
    let body_h = page_h - m.margin - m.footer_h - body_top;
    // The column heading takes one text line on every page with rows.
    let rows_per_page = (((body_h - m.text_h - 1.0) / m.row_h).floor() as usize).max(1);
    let closing_h = closing_height(&m);

    let mut plans = Vec::new();
    for (s, section) in manifest.sections.iter().enumerate() {
        let n = section.parcels.len();
        let mut start = 0;
        loop {
            let end = (start + rows_per_page).min(n);
            let used = m.text_h + 1.0 + (end - start) as f32 * m.row_h;
            let last = end == n;
            let closing = last && used + closing_h <= body_h;
            plans.push(PagePlan { section: s, rows: start..end, closing });
            if last {
                if !closing {
                    plans.push(PagePlan { section: s, rows: n..n, closing: true });
                }
                break;
            }
            start = end;
        }
    }

    let total = plans.len();
    let mut docs = Vec::with_capacity(total);
    for (i, plan) in plans.iter().enumerate() {
        let section = &manifest.sections[plan.section];
        let mut p = Painter::new(paper, dpi, fonts, &m);
        p.header(manifest, section, i + 1, total)?;
        let mut y = body_top;
        if !plan.rows.is_empty() || section.parcels.is_empty() {
            p.column_heading(y)?;
            y += m.text_h + 1.0;
        }
        if section.parcels.is_empty() {
            p.line("empty", "No parcel printed for this carrier and mode here.", y, Weight::Regular)?;
            y += m.row_h / 2.0;
        }
        for r in plan.rows.clone() {
            p.row(r, &section.parcels[r], y)?;
            y += m.row_h;
        }
        if plan.closing {
            p.closing(manifest, section, y + 2.0)?;
        }
        docs.push(p.doc);
    }
    Ok(docs)
}

fn closing_height(m: &Metrics) -> f32 {
    2.0 + m.text_h * 2.0 + 4.0 * m.sign_h
}

fn scope_text(scope: &HandoverScope) -> String {
    match scope {
        HandoverScope::Window { since, until } => format!("Printed {} to {}", stamp(*since), stamp(*until)),
        HandoverScope::Batch(id) => format!("Batch {id}"),
    }
}

fn stamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

struct Painter<'a> {
    doc: Document,
    fonts: &'a Fonts,
    dpi: u32,
    m: &'a Metrics,
    page_w: f32,
}

impl<'a> Painter<'a> {
    fn new(paper: Paper, dpi: u32, fonts: &'a Fonts, m: &'a Metrics) -> Painter<'a> {
        let (w, h) = paper.size_mm();
        let doc = Document { width: mm_to_dots(w, dpi) as u32, height: mm_to_dots(h, dpi) as u32, dpi, elements: Vec::new() };
        Painter { doc, fonts, dpi, m, page_w: w }
    }

    fn rect(&self, x: f32, y: f32, w: f32, h: f32) -> Rect {
        let (x0, y0) = (mm_to_dots(x, self.dpi), mm_to_dots(y, self.dpi));
        Rect::new(x0, y0, mm_to_dots(x + w, self.dpi) - x0, mm_to_dots(y + h, self.dpi) - y0)
    }

    fn content_w(&self) -> f32 {
        self.page_w - 2.0 * self.m.margin
    }

    #[allow(clippy::too_many_arguments)]
    fn text(&mut self, id: &str, source: &str, text: &str, r: Rect, pt: f32, weight: Weight, align: Align) -> Result<(), LayoutError> {
        let spec = TextSpec {
            pieces: Vec::new(),
            size_pt: pt,
            min_size_pt: self.m.min_pt.min(pt),
            weight,
            align,
            valign: VAlign::Middle,
            wrap: false,
            max_lines: Some(1),
            line_height: 1.1,
            white: false,
            // Every character of a tracking number or order id matters: refuse, never cut.
            overflow: Overflow::Refuse,
        };
        let run = layout::text_box(id, source, text, &spec, r, self.fonts, self.dpi)?;
        self.doc.elements.push(Element::Text(run));
        Ok(())
    }

    fn rule(&mut self, x: f32, y: f32, w: f32, thick_mm: f32) {
        let r = self.rect(x, y, w, thick_mm);
        let r = Rect { h: r.h.max(1), ..r };
        self.doc.elements.push(Element::Fill { rect: r, ink: crate::document::Ink::Black });
    }

    fn line(&mut self, id: &str, text: &str, y: f32, weight: Weight) -> Result<(), LayoutError> {
        let r = self.rect(self.m.margin, y, self.content_w(), self.m.text_h);
        self.text(id, "static", text, r, self.m.body_pt, weight, Align::Left)
    }

    fn header(&mut self, manifest: &Manifest, section: &Section, page: usize, total: usize) -> Result<(), LayoutError> {
        let m = self.m;
        let (x, w) = (m.margin, self.content_w());
        let title_h = m.header_h * 0.3;
        let line_h = (m.header_h - title_h - 1.5) / 3.0;
        let mut y = m.margin;
        self.text("title", "static", "HANDOVER MANIFEST 交接单", self.rect(x, y, w, title_h), m.title_pt, Weight::Bold, Align::Left)?;
        y += title_h;
        let who = format!("{} · {}", section.carrier, manifest.handover.label_text());
        self.text("carrier", "carrier", &who, self.rect(x, y, w, line_h), m.body_pt * 1.2, Weight::Bold, Align::Left)?;
        y += line_h;
        self.text("scope", "static", &scope_text(&manifest.scope), self.rect(x, y, w, line_h), m.body_pt, Weight::Regular, Align::Left)?;
        y += line_h;
        let made = format!("Made {} · page {page}/{total}", stamp(manifest.generated_at));
        self.text("made", "static", &made, self.rect(x, y, w, line_h), m.body_pt, Weight::Regular, Align::Left)?;
        self.rule(x, m.margin + m.header_h - 1.0, w, 0.5);

        // Footer: carrier and page on every sheet, so a loose page finds its way back.
        let page_h = self.doc.height as f32 * 25.4 / self.dpi as f32;
        let fy = page_h - m.margin - m.footer_h;
        self.rule(x, fy + 0.5, w, 0.2);
        let foot = format!("{} · {} · page {page}/{total}", section.carrier, manifest.handover.label_text());
        let pt = m.min_pt.max(m.body_pt - 2.0);
        self.text("footer", "carrier", &foot, self.rect(x, fy + 1.0, w, m.footer_h - 1.0), pt, Weight::Regular, Align::Right)
    }

    fn column_heading(&mut self, y: f32) -> Result<(), LayoutError> {
        let m = self.m;
        let x = m.margin + m.check_w;
        let w = self.content_w() - m.check_w;
        let r = self.rect(x, y, w * 0.6, m.text_h);
        self.text("head_tracking", "static", "# · Tracking number", r, m.body_pt, Weight::Bold, Align::Left)?;
        let r = self.rect(x + w * 0.6, y, w * 0.4, m.text_h);
        self.text("head_order", "static", "Order · package · weight", r, m.body_pt, Weight::Bold, Align::Right)?;
        self.rule(m.margin, y + m.text_h + 0.3, self.content_w(), 0.3);
        Ok(())
    }

    fn row(&mut self, i: usize, p: &HandoverParcel, y: f32) -> Result<(), LayoutError> {
        let m = self.m;
        let src = |what: &str| format!("manifest line {} (tracking number {}): {what}", i + 1, p.tracking_number);
        // The box a packer or driver ticks.
        let side = (m.row_h * 0.35).min(m.check_w - 1.0);
        let r = self.rect(m.margin + (m.check_w - side) / 2.0, y + (m.row_h - side) / 2.0, side, side);
        let t = mm_to_dots(0.3, self.dpi).max(2);
        self.doc.elements.push(Element::Frame { rect: r, thickness: t });

        let x = m.margin + m.check_w;
        let w = self.content_w() - m.check_w;
        let top = y + 0.5;
        let r = self.rect(x, top, w * 0.55, m.text_h);
        self.text(&format!("tracking{i}"), &src("tracking_number"), &format!("{}.  {}", i + 1, p.tracking_number), r, m.body_pt, Weight::Bold, Align::Left)?;
        let r = self.rect(x + w * 0.55, top, w * 0.45, m.text_h);
        self.text(&format!("order{i}"), &src("order_id"), &format!("Order {}", p.order_id), r, m.body_pt, Weight::Regular, Align::Right)?;

        let bar_y = top + m.text_h + 0.5;
        let bar_w = w - m.info_w;
        let code = self.barcode(&format!("barcode{i}"), &src("tracking_number"), &p.tracking_number, x, bar_y, bar_w)?;
        self.doc.elements.push(Element::Barcode(code));
        let info_x = x + w - m.info_w;
        let half = m.bar_h / 2.0;
        let package = format!("PKG {}/{}", p.package_index, p.package_count);
        let r = self.rect(info_x, bar_y, m.info_w, half);
        self.text(&format!("package{i}"), &src("package"), &package, r, m.body_pt, Weight::Bold, Align::Right)?;
        let weight = p.weight_g.map(|g| kilograms(u64::from(g))).unwrap_or_else(|| "— kg".into());
        let r = self.rect(info_x, bar_y + half, m.info_w, half);
        self.text(&format!("weight{i}"), &src("weight"), &weight, r, m.body_pt, Weight::Regular, Align::Right)?;
        self.rule(m.margin, y + m.row_h - 0.15, self.content_w(), 0.15);
        Ok(())
    }

    /// A Code 128 of `data` starting at `x` (its quiet zone inside the box), whole dots per module:
    /// the widest module up to the paper's aim that fits `w`, never under 0.25 mm.
    fn barcode(&self, id: &str, source: &str, data: &str, x: f32, y: f32, w: f32) -> Result<Barcode, LayoutError> {
        let fail = |message: String| LayoutError::Barcode { element: id.to_string(), field: source.to_string(), message };
        let symbol = code128::encode(data).map_err(|e| fail(e.to_string()))?;
        let modules = symbol.modules();
        let total = modules.len() as i32 + 2 * code128::QUIET_MODULES as i32;
        let min_module = mm_to_dots(MIN_MODULE_MM, self.dpi).max(1);
        let aim = mm_to_dots(self.m.module_mm, self.dpi).max(min_module);
        let box_dots = mm_to_dots(w, self.dpi);
        let module = (box_dots / total).min(aim);
        if module < min_module {
            return Err(fail(format!(
                "{total} modules at the {MIN_MODULE_MM} mm minimum bar width are {:.1} mm, wider than the {w:.1} mm the manifest has",
                (total * min_module) as f32 * 25.4 / self.dpi as f32
            )));
        }
        let quiet = code128::QUIET_MODULES as i32 * module;
        Ok(Barcode {
            element: id.to_string(),
            source: source.to_string(),
            data: data.to_string(),
            x: mm_to_dots(x, self.dpi) + quiet,
            y: mm_to_dots(y, self.dpi),
            module,
            height: mm_to_dots(self.m.bar_h, self.dpi),
            quiet,
            modules,
        })
    }

    /// Totals, then the lines the driver fills in.
    fn closing(&mut self, manifest: &Manifest, section: &Section, y: f32) -> Result<(), LayoutError> {
        let m = self.m;
        let t = section.totals;
        let (x, w) = (m.margin, self.content_w());
        self.rule(x, y, w, 0.5);
        let mut total = format!(
            "Total {} · {}: {} parcel{} · {} order{} · {}",
            section.carrier,
            manifest.handover.label_text(),
            t.parcels,
            if t.parcels == 1 { "" } else { "s" },
            t.orders,
            if t.orders == 1 { "" } else { "s" },
            kilograms(t.weight_g)
        );
        if t.without_weight > 0 {
            total.push_str(&format!(" (+{} without weight)", t.without_weight));
        }
        let r = self.rect(x, y + 0.8, w, m.text_h * 1.3);
        self.text("totals", "carrier", &total, r, m.body_pt * 1.15, Weight::Bold, Align::Left)?;
        let mut ly = y + 2.0 + m.text_h * 2.0;
        let label_w = w * 0.38;
        for (id, what) in [("driver", "Driver's name"), ("signature", "Signature"), ("time", "Date and time"), ("counted", "Parcels counted by driver")] {
            let r = self.rect(x, ly + m.sign_h - m.text_h - 0.5, label_w, m.text_h);
            self.text(id, "static", what, r, m.body_pt, Weight::Regular, Align::Left)?;
            self.rule(x + label_w, ly + m.sign_h - 0.8, w - label_w, 0.25);
            ly += m.sign_h;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Handover;
    use crate::text::{FontConfig, Fonts};

    fn fonts() -> &'static Fonts {
        static FONTS: std::sync::OnceLock<Fonts> = std::sync::OnceLock::new();
        FONTS.get_or_init(|| Fonts::load(&FontConfig::default()).expect("system fonts"))
    }

    fn manifest(n: usize) -> Manifest {
        let parcels: Vec<HandoverParcel> = (0..n)
            .map(|i| HandoverParcel {
                tracking_number: format!("JT{:010}MY", 6300 + i),
                order_id: format!("2612060{i:05}"),
                carrier: "J&T Express".into(),
                package_index: 1,
                package_count: 1,
                weight_g: (i % 3 != 0).then_some(450),
                printed_at: time::macros::datetime!(2026-12-06 09:00 UTC),
                handed_over_at: None,
            })
            .collect();
        Manifest {
            handover: Handover::Pickup,
            scope: HandoverScope::Batch("B-1".into()),
            generated_at: time::macros::datetime!(2026-12-06 17:00 UTC),
            sections: vec![Section { carrier: "J&T Express".into(), totals: super::super::Totals::of(&parcels), parcels }],
        }
    }

    #[test]
    fn every_parcel_gets_one_barcode_and_the_pages_say_how_many() {
        let fonts = fonts();
        for paper in [Paper::A4, Paper::Thermal100x150] {
            let docs = pages(&manifest(40), paper, paper.default_dpi(), fonts).unwrap();
            let codes: Vec<String> = docs.iter().flat_map(|d| d.barcodes().map(|b| b.data.clone())).collect();
            assert_eq!(codes.len(), 40, "{paper:?}");
            assert_eq!(codes[39], "JT0000006339MY");
            let n = docs.len();
            let last: Vec<&str> = docs[n - 1].texts().map(|t| t.text.as_str()).collect();
            assert!(last.contains(&"Signature"), "{paper:?}: {last:?}");
            assert!(last.iter().any(|t| t.starts_with("Total J&T Express · PICK UP: 40 parcels · 40 orders")), "{paper:?}: {last:?}");
            assert!(last.iter().any(|t| t.ends_with(&format!("page {n}/{n}"))), "{paper:?}");
            for d in &docs {
                assert!(crate::layout::collisions(d).is_empty(), "{paper:?}: {:?}", crate::layout::collisions(d));
            }
        }
    }

    #[test]
    fn an_empty_manifest_still_has_its_totals_and_signature_lines() {
        let fonts = fonts();
        let docs = pages(&manifest(0), Paper::A4, 300, fonts).unwrap();
        assert_eq!(docs.len(), 1);
        let texts: Vec<&str> = docs[0].texts().map(|t| t.text.as_str()).collect();
        assert!(texts.iter().any(|t| t.starts_with("Total J&T Express · PICK UP: 0 parcels")), "{texts:?}");
        assert!(texts.contains(&"Driver's name"));
    }
}
