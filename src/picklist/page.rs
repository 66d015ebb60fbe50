//! Lays a [`PickList`] out on pages: A4 or Letter for a laser printer, 100×150 mm for a thermal one.
//!
//! The flow is a list of blocks (summary, table rows, one packing check per order) poured into pages;
//! a table that breaks repeats its header, and an order's packing check is not split unless it is
//! taller than a whole page. Pagination is decided first, so every page can say "page i/n". The output
//! is ordinary [`Document`]s: the raster, PNG, PDF painters and the printer languages draw them.

use crate::bitmap::Bitmap;
use crate::document::{Document, Element, Image, Ink, Rect, mm_to_dots};
use crate::layout::{self, LayoutError};
use crate::template::{Align, Overflow, TextSpec, VAlign};
use crate::text::{Fonts, Weight};

use super::{PickLine, PickList};

/// Paper a pick list is printed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    A4,
    Letter,
    /// 100×150 mm thermal labels, one list running over as many labels as it needs.
    Thermal100x150,
}

impl std::str::FromStr for Paper {
    type Err = String;
    fn from_str(s: &str) -> Result<Paper, String> {
        match s.to_ascii_lowercase().as_str() {
            "a4" => Ok(Paper::A4),
            "letter" => Ok(Paper::Letter),
            "100x150" | "thermal" => Ok(Paper::Thermal100x150),
            other => Err(format!("unknown paper {other:?}; use a4, letter or 100x150")),
        }
    }
}

impl Paper {
    pub fn size_mm(self) -> (f32, f32) {
        match self {
            Paper::A4 => (210.0, 297.0),
            Paper::Letter => (215.9, 279.4),
            Paper::Thermal100x150 => (100.0, 150.0),
        }
    }

    /// The resolution pages are laid out at when nothing else asks: laser 300 dpi, thermal 203.
    pub fn default_dpi(self) -> u32 {
        match self {
            Paper::Thermal100x150 => 203,
            _ => 300,
        }
    }

    fn metrics(self) -> Metrics {
        match self {
            Paper::Thermal100x150 => Metrics {
                margin: 3.0,
                title_pt: 13.0,
                body_pt: 7.5,
                min_pt: 5.5,
                header_h: 17.0,
                qr_mm: 14.0,
                row_h: 6.5,
                bar_h: 7.0,
                module_mm: 0.25,
                footer_h: 5.0,
                // ☐, bin, SKU, item, qty, orders
                columns: [5.0, 15.0, 21.0, 0.0, 8.0, 8.0],
                headings: ["", "Bin", "SKU", "Item", "Qty", "Ord"],
            },
            _ => Metrics {
                margin: 12.0,
                title_pt: 18.0,
                body_pt: 10.0,
                min_pt: 7.0,
                header_h: 24.0,
                qr_mm: 20.0,
                row_h: 8.0,
                bar_h: 9.0,
                module_mm: 0.34,
                footer_h: 7.0,
                columns: [8.0, 26.0, 36.0, 0.0, 16.0, 16.0],
                headings: ["", "Bin", "SKU", "Item", "Qty", "Orders"],
            },
        }
    }
}

/// Sizes in millimetres and points for one paper.
struct Metrics {
    margin: f32,
    title_pt: f32,
    body_pt: f32,
    min_pt: f32,
    header_h: f32,
    qr_mm: f32,
    row_h: f32,
    /// Height of the order's Code 128 under a packing check's heading.
    bar_h: f32,
    /// Its module width aimed for (narrower, down to 0.25 mm, when a long id needs it).
    module_mm: f32,
    footer_h: f32,
    /// Column widths; the 0 one takes what is left.
    columns: [f32; 6],
    headings: [&'static str; 6],
}

/// One unit of the flow, with its height in millimetres.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Block {
    Summary,
    HeldLine(usize),
    SectionTitle(&'static str),
    TableHeader,
    PickRow(usize),
    /// Order `i`'s heading row and its order id as a Code 128 (what a packer scans to print the
    /// order's label at the bench), then rows `from..to` of its items.
    PackCheck { order: usize, from: usize, to: usize, heading: bool },
}

/// Lays the list out on pages at `dpi`.
pub fn pages(list: &PickList, paper: Paper, dpi: u32, fonts: &Fonts) -> Result<Vec<Document>, LayoutError> {
    let m = paper.metrics();
    let (page_w, page_h) = paper.size_mm();
    let body_top = m.margin + m.header_h;
    let body_bottom = page_h - m.margin - m.footer_h;
    let body_h = body_bottom - body_top;

    // Flow: summary and held orders, then the pick table, then the packing checks.
    let mut flow: Vec<(Block, f32)> = vec![(Block::Summary, m.row_h * 1.25)];
    for i in 0..list.held.len() {
        flow.push((Block::HeldLine(i), m.row_h));
    }
    flow.push((Block::SectionTitle("Pick"), m.row_h));
    flow.push((Block::TableHeader, m.row_h));
    for i in 0..list.lines.len() {
        flow.push((Block::PickRow(i), m.row_h));
    }
    if !list.orders.is_empty() {
        flow.push((Block::SectionTitle("Packing check"), m.row_h));
    }
    let heading_h = m.row_h + m.bar_h + 1.0;
    for (i, o) in list.orders.iter().enumerate() {
        let n = o.items.len();
        let whole = heading_h + m.row_h * n as f32;
        if whole <= body_h {
            flow.push((Block::PackCheck { order: i, from: 0, to: n, heading: true }, whole));
        } else {
            // Taller than a page: one block per row, the heading with the first.
            for r in 0..n {
                let h = if r == 0 { heading_h + m.row_h } else { m.row_h };
                flow.push((Block::PackCheck { order: i, from: r, to: r + 1, heading: r == 0 }, h));
            }
        }
    }

    // Pour into pages. A section title never ends a page; a page that continues the pick table
    // starts with its header again.
    let mut pages: Vec<Vec<(Block, f32)>> = vec![Vec::new()];
    let mut y = body_top;
    let mut i = 0;
    while i < flow.len() {
        let (block, h) = flow[i];
        let keep_next = matches!(block, Block::SectionTitle(_) | Block::TableHeader);
        let need = if keep_next { h + flow.get(i + 1).map_or(0.0, |n| n.1) } else { h };
        let page_is_empty = pages.last().is_some_and(|p| p.is_empty());
        if y + need > body_bottom + 0.01 && !page_is_empty {
            pages.push(Vec::new());
            y = body_top;
            if matches!(block, Block::PickRow(_)) {
                pages.last_mut().expect("a page was just pushed").push((Block::TableHeader, y));
                y += m.row_h;
            }
        }
        pages.last_mut().expect("pages is never empty").push((block, y));
        y += h;
        i += 1;
    }

    let total = pages.len();
    let mut docs = Vec::with_capacity(total);
    let qr = batch_qr(&list.batch_id, mm_to_dots(m.qr_mm, dpi));
    for (n, blocks) in pages.iter().enumerate() {
        let mut p = Painter { doc: blank(page_w, page_h, dpi), fonts, dpi, m: &m, page_w };
        p.header(list, n + 1, total, &qr)?;
        for &(block, y) in blocks {
            p.block(list, block, y)?;
        }
        docs.push(p.doc);
    }
    Ok(docs)
}

fn blank(w_mm: f32, h_mm: f32, dpi: u32) -> Document {
    Document { width: mm_to_dots(w_mm, dpi) as u32, height: mm_to_dots(h_mm, dpi) as u32, dpi, elements: Vec::new() }
}

/// A QR code of the batch id, whole dots per module with its quiet zone, as a bitmap the size of
/// `max_dots` or smaller. Allowed here: pick lists are internal documents, never shipping labels.
fn batch_qr(batch_id: &str, max_dots: i32) -> Bitmap {
    let code = qrcode::QrCode::with_error_correction_level(batch_id.as_bytes(), qrcode::EcLevel::M)
        .expect("a short batch id always fits a QR code");
    let n = code.width() as u32;
    let quiet = 4;
    let module = ((max_dots.max(1) as u32) / (n + 2 * quiet)).max(1);
    let side = (n + 2 * quiet) * module;
    let mut bmp = Bitmap::new(side, side);
    let colors = code.to_colors();
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = ((i as u32 % n + quiet) * module, (i as u32 / n + quiet) * module);
            bmp.fill_rect(x as i32, y as i32, module as i32, module as i32, true);
        }
    }
    bmp
}

struct Painter<'a> {
    doc: Document,
    fonts: &'a Fonts,
    dpi: u32,
    m: &'a Metrics,
    page_w: f32,
}

impl Painter<'_> {
    fn rect(&self, x: f32, y: f32, w: f32, h: f32) -> Rect {
        let (x0, y0) = (mm_to_dots(x, self.dpi), mm_to_dots(y, self.dpi));
        Rect::new(x0, y0, mm_to_dots(x + w, self.dpi) - x0, mm_to_dots(y + h, self.dpi) - y0)
    }

    fn content_w(&self) -> f32 {
        self.page_w - 2.0 * self.m.margin
    }

    #[allow(clippy::too_many_arguments)]
    fn text(&mut self, id: &str, source: &str, text: &str, r: Rect, pt: f32, weight: Weight, align: Align, overflow: Overflow) -> Result<(), LayoutError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        let spec = TextSpec {
            pieces: Vec::new(),
            size_pt: pt,
            min_size_pt: self.m.min_pt.min(pt),
            weight,
            align,
            valign: VAlign::Middle,
            wrap: overflow == Overflow::Truncate,
            max_lines: Some(2),
            line_height: 1.1,
            white: false,
            overflow,
        };
        let run = layout::text_box(id, source, text, &spec, r, self.fonts, self.dpi)?;
        self.doc.elements.push(Element::Text(run));
        Ok(())
    }

    fn rule(&mut self, y: f32, thick_mm: f32) {
        let r = self.rect(self.m.margin, y, self.content_w(), thick_mm);
        let r = Rect { h: r.h.max(1), ..r };
        self.doc.elements.push(Element::Fill { rect: r, ink: Ink::Black });
    }

    fn header(&mut self, list: &PickList, page: usize, total: usize, qr: &Bitmap) -> Result<(), LayoutError> {
        let m = self.m;
        let x = m.margin;
        let w = self.content_w();
        let qr_mm = qr.width() as f32 * 25.4 / self.dpi as f32;
        let text_w = w - qr_mm - 2.0;
        let line = m.header_h / 3.0;
        self.text("title", "static", "PICK LIST 拣货单", self.rect(x, m.margin, text_w, line * 1.3), m.title_pt, Weight::Bold, Align::Left, Overflow::Refuse)?;
        self.text("batch", "batch_id", &format!("Batch {}", list.batch_id), self.rect(x, m.margin + line * 1.3, text_w, line * 0.85), m.body_pt, Weight::Bold, Align::Left, Overflow::Refuse)?;
        let printed = list.printed_at;
        let stamp = format!(
            "Printed {:04}-{:02}-{:02} {:02}:{:02} UTC · page {page}/{total}",
            printed.year(),
            u8::from(printed.month()),
            printed.day(),
            printed.hour(),
            printed.minute()
        );
        self.text("printed", "static", &stamp, self.rect(x, m.margin + line * 2.15, text_w, line * 0.85), m.body_pt, Weight::Regular, Align::Left, Overflow::Refuse)?;
        let qr_rect = {
            let side = qr.width() as i32;
            let right = mm_to_dots(x + w, self.dpi);
            Rect::new(right - side, mm_to_dots(m.margin, self.dpi), side, side)
        };
        self.doc.elements.push(Element::Image(Image { element: "batch_qr".into(), rect: qr_rect, bitmap: qr.clone() }));
        self.rule(m.margin + m.header_h - 1.0, 0.5);

        // Footer: the batch and page on every sheet, so loose pages find their way back.
        let page_h = self.doc.height as f32 * 25.4 / self.dpi as f32;
        let fy = page_h - m.margin - m.footer_h;
        self.rule(fy + 0.5, 0.2);
        let foot = format!("{} · page {page}/{total}", list.batch_id);
        self.text("footer", "static", &foot, self.rect(x, fy + 1.0, w, m.footer_h - 1.0), m.min_pt.max(m.body_pt - 2.0), Weight::Regular, Align::Right, Overflow::Refuse)
    }

    /// Column edges (x, width) in millimetres.
    fn columns(&self) -> [(f32, f32); 6] {
        let fixed: f32 = self.m.columns.iter().sum();
        let mut out = [(0.0, 0.0); 6];
        let mut x = self.m.margin;
        for (i, &w) in self.m.columns.iter().enumerate() {
            let w = if w == 0.0 { self.content_w() - fixed } else { w };
            out[i] = (x, w);
            x += w;
        }
        out
    }

    fn checkbox(&mut self, x: f32, y: f32, w: f32) {
        let side = (self.m.row_h * 0.55).min(w - 1.0);
        let r = self.rect(x + (w - side) / 2.0, y + (self.m.row_h - side) / 2.0, side, side);
        let t = mm_to_dots(0.3, self.dpi).max(2);
        self.doc.elements.push(Element::Frame { rect: r, thickness: t });
    }

    fn cell(&mut self, id: &str, source: &str, text: &str, col: (f32, f32), y: f32, weight: Weight, align: Align, overflow: Overflow) -> Result<(), LayoutError> {
        let pad = 0.8;
        let r = self.rect(col.0 + pad, y + 0.3, col.1 - 2.0 * pad, self.m.row_h - 0.6);
        let pt = self.m.body_pt;
        self.text(id, source, text, r, pt, weight, align, overflow)
    }

    fn block(&mut self, list: &PickList, block: Block, y: f32) -> Result<(), LayoutError> {
        let m = self.m;
        let cols = self.columns();
        match block {
            Block::Summary => {
                let t = list.totals;
                let mut s = format!("Orders {}   Lines {}   Units {}", t.orders, t.lines, t.units);
                if t.held > 0 {
                    s.push_str(&format!("   Held {} (not picked, no label)", t.held));
                }
                let r = self.rect(m.margin, y, self.content_w(), m.row_h * 1.25);
                self.text("totals", "static", &s, r, m.body_pt * 1.2, Weight::Bold, Align::Left, Overflow::Refuse)?;
            }
            Block::HeldLine(i) => {
                let h = &list.held[i];
                let s = format!("HELD  order {}: {} at {}", h.order_id, h.rule, h.field);
                let r = self.rect(m.margin, y, self.content_w(), m.row_h);
                self.text(&format!("held{i}"), "held", &s, r, m.body_pt, Weight::Regular, Align::Left, Overflow::Refuse)?;
            }
            Block::SectionTitle(title) => {
                let r = self.rect(m.margin, y, self.content_w(), m.row_h);
                self.text("section", "static", title, r, m.body_pt * 1.15, Weight::Bold, Align::Left, Overflow::Refuse)?;
            }
            Block::TableHeader => {
                let r = self.rect(m.margin, y + 0.4, self.content_w(), m.row_h - 0.8);
                self.doc.elements.push(Element::Fill { rect: r, ink: Ink::Black });
                for (i, label) in m.headings.iter().enumerate() {
                    if label.is_empty() {
                        continue;
                    }
                    let align = if i >= 4 { Align::Right } else { Align::Left };
                    let pad = 0.8;
                    let c = cols[i];
                    let r = self.rect(c.0 + pad, y + 0.8, c.1 - 2.0 * pad, m.row_h - 1.6);
                    let spec = TextSpec {
                        pieces: Vec::new(),
                        size_pt: m.body_pt,
                        min_size_pt: m.min_pt,
                        weight: Weight::Bold,
                        align,
                        valign: VAlign::Middle,
                        wrap: false,
                        max_lines: Some(1),
                        line_height: 1.1,
                        white: true,
                        overflow: Overflow::Refuse,
                    };
                    let run = layout::text_box(&format!("head{i}"), "static", label, &spec, r, self.fonts, self.dpi)?;
                    self.doc.elements.push(Element::Text(run));
                }
            }
            Block::PickRow(i) => {
                let line: &PickLine = &list.lines[i];
                let src = |what: &str| format!("pick line {} ({}): {what}", i + 1, line.sku);
                self.checkbox(cols[0].0, y, cols[0].1);
                self.cell(&format!("bin{i}"), &src("bin"), line.bin.as_deref().unwrap_or("—"), cols[1], y, Weight::Bold, Align::Left, Overflow::Refuse)?;
                self.cell(&format!("sku{i}"), &src("sku"), &line.sku, cols[2], y, Weight::Regular, Align::Left, Overflow::Refuse)?;
                self.cell(&format!("item{i}"), &src("name"), &item_text(&line.name, line.variant.as_deref()), cols[3], y, Weight::Regular, Align::Left, Overflow::Truncate)?;
                self.cell(&format!("qty{i}"), &src("qty"), &line.qty.to_string(), cols[4], y, Weight::Bold, Align::Right, Overflow::Refuse)?;
                self.cell(&format!("orders{i}"), &src("orders"), &line.orders.to_string(), cols[5], y, Weight::Regular, Align::Right, Overflow::Refuse)?;
                self.rule(y + m.row_h - 0.15, 0.15);
            }
            Block::PackCheck { order, from, to, heading } => {
                let o = &list.orders[order];
                let mut y = y;
                if heading {
                    let units: u64 = o.items.iter().map(|it| u64::from(it.qty)).sum();
                    let unit = if units == 1 { "unit" } else { "units" };
                    let s = format!("Order {}   PKG {}/{}   {units} {unit}", o.order_id, o.package_index, o.package_count);
                    self.rule(y + 0.2, 0.35);
                    let r = self.rect(m.margin, y + 0.5, self.content_w(), m.row_h - 0.5);
                    self.text(&format!("order{order}"), "order_id", &s, r, m.body_pt, Weight::Bold, Align::Left, Overflow::Refuse)?;
                    y += m.row_h;
                    // The order id to scan at the packing bench. An id Code 128 cannot carry (not
                    // ASCII) or that is too long for the page gets none: the packer types it instead.
                    let r = self.rect(m.margin, y, self.content_w() * 0.75, m.bar_h);
                    if let Ok(code) = layout::code128_in(&format!("order_code{order}"), "order_id", &o.order_id, r, m.module_mm, self.dpi) {
                        self.doc.elements.push(Element::Barcode(code));
                    }
                    y += m.bar_h + 1.0;
                }
                for (k, it) in o.items.iter().enumerate().take(to).skip(from) {
                    let src = |what: &str| format!("order {} items[{k}].{what}", o.order_id);
                    let id = format!("o{order}i{k}");
                    self.checkbox(cols[0].0, y, cols[0].1);
                    self.cell(&format!("{id}bin"), &src("bin"), it.bin.as_deref().unwrap_or("—"), cols[1], y, Weight::Regular, Align::Left, Overflow::Refuse)?;
                    self.cell(&format!("{id}sku"), &src("sku"), &it.sku, cols[2], y, Weight::Regular, Align::Left, Overflow::Refuse)?;
                    self.cell(&format!("{id}name"), &src("name"), &item_text(&it.name, it.variant.as_deref()), cols[3], y, Weight::Regular, Align::Left, Overflow::Truncate)?;
                    self.cell(&format!("{id}qty"), &src("qty"), &format!("×{}", it.qty), cols[4], y, Weight::Bold, Align::Right, Overflow::Refuse)?;
                    y += m.row_h;
                }
            }
        }
        Ok(())
    }
}

fn item_text(name: &str, variant: Option<&str>) -> String {
    match variant.map(str::trim).filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("default")) {
        Some(v) => format!("{name} · {v}"),
        None => name.to_string(),
    }
}
