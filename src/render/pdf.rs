//! The PDF painter: the same Document as vectors — text as real glyphs of embedded, subset fonts, bars
//! and rules as filled rectangles — so a label printed from the PDF is crisp at any scale and the text
//! can be searched and copied.
//!
//! Positions come from the Document unchanged (dots → points), so the PDF and the raster show one layout.
//!
//! Fonts are subset here, with allsorts, before printpdf sees them: printpdf only subsets with its
//! `text_layout` feature, which brings a whole HTML layout engine. A subset keeps only the glyphs a
//! label uses, so a label with a Japanese address is tens of kilobytes, not the 20 MB CJK collection.

use std::collections::{BTreeMap, BTreeSet};

use printpdf::{
    Codepoint, Color, FontId, Greyscale, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Pt,
    TextItem, TextMatrix,
};

use crate::document::{Document, Element, Ink, Rect};
use crate::text::{FaceId, Fonts};

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("font {name} cannot be embedded in a PDF")]
    Font { name: String },
}

/// Paints pages (one Document each) into one PDF.
pub fn paint(pages: &[&Document], fonts: &Fonts, title: &str) -> Result<Vec<u8>, PdfError> {
    // Every glyph each face draws, across all pages: one subset per face.
    let mut used: BTreeMap<FaceId, BTreeSet<u16>> = BTreeMap::new();
    for doc in pages {
        for run in doc.texts() {
            for g in &run.glyphs {
                used.entry(g.face).or_default().insert(g.id);
            }
        }
    }
    let mut pdf = PdfDocument::new(title);
    let mut subsets: BTreeMap<FaceId, Subset> = BTreeMap::new();
    for (face, glyphs) in used {
        let fail = || PdfError::Font { name: fonts.face_name(face) };
        let (bytes, index) = fonts.face_data(face);
        let (subset_bytes, new_ids) = subset_face(&bytes, index as usize, &glyphs).ok_or_else(fail)?;
        let parsed = ParsedFont::from_bytes(&subset_bytes, 0, &mut Vec::new()).ok_or_else(fail)?;
        subsets.insert(face, Subset { font: pdf.add_font(&parsed), new_ids });
    }
    let out_pages = pages.iter().map(|doc| page(doc, &subsets)).collect();
    Ok(pdf.with_pages(out_pages).save(&PdfSaveOptions::default(), &mut Vec::new()))
}

/// A face cut down to the glyphs used, and where each original glyph id went.
struct Subset {
    font: FontId,
    new_ids: BTreeMap<u16, u16>,
}

/// Subsets one face of a font file to `glyphs`. allsorts numbers the kept glyphs by their position in
/// the list it is given, with .notdef first (it must be), so the new id of a glyph is its index there.
fn subset_face(bytes: &[u8], index: usize, glyphs: &BTreeSet<u16>) -> Option<(Vec<u8>, BTreeMap<u16, u16>)> {
    use allsorts::binary::read::ReadScope;
    use allsorts::font_data::FontData;
    use allsorts::subset::{CmapTarget, SubsetProfile, subset};
    let ids: Vec<u16> = std::iter::once(0).chain(glyphs.iter().copied().filter(|g| *g != 0)).collect();
    let font = ReadScope::new(bytes).read::<FontData<'_>>().ok()?;
    let provider = font.table_provider(index).ok()?;
    let out = subset(&provider, &ids, &SubsetProfile::Pdf, CmapTarget::Unicode).ok()?;
    let new_ids = ids.iter().enumerate().map(|(new, old)| (*old, new as u16)).collect();
    Some((out, new_ids))
}

/// Converts document dots to PDF points, flipping y (PDF's origin is bottom-left).
struct Scale {
    pt_per_dot: f32,
    page_h: f32,
}

impl Scale {
    fn x(&self, dots: f32) -> Pt {
        Pt(dots * self.pt_per_dot)
    }
    fn y(&self, dots: f32) -> Pt {
        Pt(self.page_h - dots * self.pt_per_dot)
    }
    fn rect(&self, r: &Rect) -> printpdf::Rect {
        let mut out = printpdf::Rect::from_xywh(
            self.x(r.x as f32),
            self.y(r.bottom() as f32),
            Pt(r.w as f32 * self.pt_per_dot),
            Pt(r.h as f32 * self.pt_per_dot),
        );
        out.mode = Some(PaintMode::Fill);
        out
    }
}

fn grey(black: bool) -> Color {
    Color::Greyscale(Greyscale::new(if black { 0.0 } else { 1.0 }, None))
}

fn page(doc: &Document, subsets: &BTreeMap<FaceId, Subset>) -> PdfPage {
    let pt_per_dot = 72.0 / doc.dpi as f32;
    let s = Scale { pt_per_dot, page_h: doc.height as f32 * pt_per_dot };
    let mut ops = Vec::new();
    let fill = |ops: &mut Vec<Op>, r: Rect, black: bool| {
        ops.push(Op::SetFillColor { col: grey(black) });
        ops.push(Op::DrawRectangle { rectangle: s.rect(&r) });
    };
    for el in &doc.elements {
        match el {
            Element::Fill { rect, ink } => fill(&mut ops, *rect, *ink == Ink::Black),
            Element::Frame { rect, thickness } => {
                let t = *thickness;
                for r in [
                    Rect::new(rect.x, rect.y, rect.w, t),
                    Rect::new(rect.x, rect.bottom() - t, rect.w, t),
                    Rect::new(rect.x, rect.y, t, rect.h),
                    Rect::new(rect.right() - t, rect.y, t, rect.h),
                ] {
                    fill(&mut ops, r, true);
                }
            }
            Element::Barcode(b) => {
                for (x, w) in b.bars() {
                    fill(&mut ops, Rect::new(x, b.y, w, b.height), true);
                }
            }
            Element::Image(img) => {
                // Line art as rectangles, one per horizontal run of black: stays vector.
                let (sw, sh) = (img.bitmap.width().max(1), img.bitmap.height().max(1));
                for sy in 0..sh {
                    let y0 = img.rect.y + (sy as i64 * img.rect.h as i64 / sh as i64) as i32;
                    let y1 = img.rect.y + ((sy + 1) as i64 * img.rect.h as i64 / sh as i64) as i32;
                    let mut sx = 0;
                    while sx < sw {
                        if !img.bitmap.get(sx, sy) {
                            sx += 1;
                            continue;
                        }
                        let start = sx;
                        while sx < sw && img.bitmap.get(sx, sy) {
                            sx += 1;
                        }
                        let x0 = img.rect.x + (start as i64 * img.rect.w as i64 / sw as i64) as i32;
                        let x1 = img.rect.x + (sx as i64 * img.rect.w as i64 / sw as i64) as i32;
                        fill(&mut ops, Rect::new(x0, y0, x1 - x0, y1 - y0), true);
                    }
                }
            }
            Element::Text(run) => {
                ops.push(Op::StartTextSection);
                ops.push(Op::SetFillColor { col: grey(run.ink == Ink::Black) });
                let size = Pt(run.size_px * pt_per_dot);
                let mut current: Option<FaceId> = None;
                let mut last_cluster = u32::MAX;
                for (i, g) in run.glyphs.iter().enumerate() {
                    let subset = &subsets[&g.face];
                    if current != Some(g.face) {
                        ops.push(Op::SetFont { font: PdfFontHandle::External(subset.font.clone()), size });
                        current = Some(g.face);
                    }
                    let gid = subset.new_ids[&g.id];
                    // The first glyph of each cluster carries the cluster's text, for copy and search.
                    let cid = (g.cluster != last_cluster).then(|| {
                        let end = run.glyphs[i + 1..]
                            .iter()
                            .map(|n| n.cluster)
                            .find(|c| *c > g.cluster)
                            .map(|c| c as usize)
                            .unwrap_or(run.text.len());
                        run.text.get(g.cluster as usize..end).unwrap_or("").trim_end_matches('\n').to_string()
                    });
                    last_cluster = g.cluster;
                    ops.push(Op::SetTextMatrix { matrix: TextMatrix::Translate(s.x(g.x), s.y(g.y)) });
                    // Later glyphs of a cluster map to no text, so extraction yields the cluster once.
                    let cp = Codepoint::with_cid(gid, 0.0, cid.unwrap_or_default());
                    ops.push(Op::ShowText { items: vec![TextItem::GlyphIds(vec![cp])] });
                }
                ops.push(Op::EndTextSection);
            }
        }
    }
    let mm = |dots: u32| Mm(dots as f32 * 25.4 / doc.dpi as f32);
    PdfPage::new(mm(doc.width), mm(doc.height), ops)
}
