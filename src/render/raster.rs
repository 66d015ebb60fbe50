//! The raster painter: a Document to the 1-bit bitmap that printers receive.
//!
//! Glyph coverage is thresholded at one half: thermal heads have no grey, and a fixed threshold keeps
//! strokes the same weight on every label, which keeps the golden images stable.

use crate::bitmap::{self, Bitmap};
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
                        burn_row(&mut bmp, y as u32, ox, row, black);
                    }
                }
            }
            Element::Image(img) => blit_scaled(&mut bmp, &img.bitmap, &img.rect),
        }
    }
    bmp
}

/// Burns one row of a glyph's coverage into raster row `y` from dot `x0`: the dots at or over the
/// threshold turn `black` (or white, for white ink), the others stay as they are.
fn burn_row(bmp: &mut Bitmap, y: u32, x0: i32, coverage: &[u8], black: bool) {
    if x0 < 0 || x0 as i64 + coverage.len() as i64 > bmp.width() as i64 {
        // A glyph over the label's edge: dot by dot, clipped.
        for (mx, &c) in coverage.iter().enumerate() {
            let x = x0 + mx as i32;
            if c >= INK_THRESHOLD && x >= 0 {
                bmp.set(x as u32, y, black);
            }
        }
        return;
    }
    // Eight coverage values at a time become one byte of dots, laid over the two raster bytes they fall on.
    let row = bmp.row_mut(y);
    for (k, chunk) in coverage.chunks(8).enumerate() {
        let mut eight = [0u8; 8];
        eight[..chunk.len()].copy_from_slice(chunk);
        let dots = inked(eight);
        if dots == 0 {
            continue;
        }
        let x = x0 as usize + 8 * k;
        let spread = ((dots as u16) << 8) >> (x % 8);
        let (first, second) = ((spread >> 8) as u8, spread as u8);
        let at = x / 8;
        bitmap::apply(&mut row[at], first, black);
        if second != 0 {
            // Only dots inside the row spill over, so the next byte exists.
            bitmap::apply(&mut row[at + 1], second, black);
        }
    }
}

/// Which of eight coverage values burn a dot, most significant bit first. At a threshold of one half
/// that is each value's top bit; one multiplication gathers the eight top bits into a byte.
fn inked(coverage: [u8; 8]) -> u8 {
    const _: () = assert!(INK_THRESHOLD == 0x80, "inked reads the top bit of each coverage value");
    let tops = u64::from_be_bytes(coverage) & 0x8080_8080_8080_8080;
    ((tops >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn burn_row_matches_a_dot_by_dot_threshold(
            coverage in proptest::collection::vec(any::<u8>(), 0..40),
            x0 in -12i32..40,
            black in any::<bool>(),
            ground in any::<u8>(),
        ) {
            // A 37-dot row (not a whole number of bytes) that already has ink on it, so white ink shows too.
            let mut fast = Bitmap::from_packed(37, 1, vec![ground; 5]).unwrap();
            let mut slow = fast.clone();
            burn_row(&mut fast, 0, x0, &coverage, black);
            for (mx, &c) in coverage.iter().enumerate() {
                let x = x0 + mx as i32;
                if c >= INK_THRESHOLD && x >= 0 {
                    slow.set(x as u32, 0, black);
                }
            }
            prop_assert_eq!(fast, slow);
        }
    }
}
