//! The raster painter: a Document to the 1-bit bitmap that printers receive.
//!
//! Glyph coverage is thresholded at one half: thermal heads have no grey, and a fixed threshold keeps
//! strokes the same weight on every label, which keeps the golden images stable.

use crate::bitmap::Bitmap;
use crate::document::{Document, Element, Ink, Rect};
use crate::text::Fonts;

/// Coverage at or above this burns a dot.
const INK_THRESHOLD: u8 = 128;

pub fn paint(doc: &Document, fonts: &Fonts) -> Bitmap {
    let mut bmp = Bitmap::new(doc.width, doc.height);
    for el in &doc.elements {
        match el {
            Element::Fill { rect, ink } => fill(&mut bmp, rect, *ink == Ink::Black),
            Element::Frame { rect, thickness } => {
                let t = *thickness;
                fill(&mut bmp, &Rect::new(rect.x, rect.y, rect.w, t), true);
                fill(&mut bmp, &Rect::new(rect.x, rect.bottom() - t, rect.w, t), true);
                fill(&mut bmp, &Rect::new(rect.x, rect.y, t, rect.h), true);
                fill(&mut bmp, &Rect::new(rect.right() - t, rect.y, t, rect.h), true);
            }
            Element::Barcode(b) => {
                for (x, w) in b.bars() {
                    bmp.fill_rect(x, b.y, w, b.height, true);
                }
            }
            Element::Text(run) => {
                let black = run.ink == Ink::Black;
                for g in &run.glyphs {
                    let mask = fonts.glyph_mask(g.face, g.id, run.size_px);
                    let ox = g.x as i32 + mask.left;
                    let oy = g.y as i32 + mask.top;
                    for my in 0..mask.height as i32 {
                        let y = oy + my;
                        if y < 0 || y >= doc.height as i32 {
                            continue;
                        }
                        let row = &mask.coverage[(my as usize) * mask.width as usize..][..mask.width as usize];
                        for (mx, &c) in row.iter().enumerate() {
                            let x = ox + mx as i32;
                            if c >= INK_THRESHOLD && x >= 0 {
                                bmp.set(x as u32, y as u32, black);
                            }
                        }
                    }
                }
            }
            Element::Image(img) => blit_scaled(&mut bmp, &img.bitmap, &img.rect),
        }
    }
    bmp
}

fn fill(bmp: &mut Bitmap, r: &Rect, black: bool) {
    bmp.fill_rect(r.x, r.y, r.w, r.h, black);
}

/// Nearest-neighbour scaling into `rect`: logos are line art, and smoothing would only be thresholded away.
fn blit_scaled(dst: &mut Bitmap, src: &Bitmap, rect: &Rect) {
    if rect.is_empty() || src.width() == 0 || src.height() == 0 {
        return;
    }
    for dy in 0..rect.h {
        let sy = (dy as u64 * src.height() as u64 / rect.h as u64) as u32;
        for dx in 0..rect.w {
            let sx = (dx as u64 * src.width() as u64 / rect.w as u64) as u32;
            if src.get(sx, sy) && rect.x + dx >= 0 && rect.y + dy >= 0 {
                dst.set((rect.x + dx) as u32, (rect.y + dy) as u32, true);
            }
        }
    }
}
