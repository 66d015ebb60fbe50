//! Where a page's 1D barcodes with upright bars can be: boxes of rows in which many dark runs, close
//! together, repeat unchanged from one scanned row to the next. Text changes from row to row and a rule or
//! a filled box is one run, so what stays is bars (and the rare thing that looks like them).
//!
//! The decoder then reads only these boxes with their surroundings ([`super::verify::read_1d_codes_at`])
//! instead of a quarter of the rows of the whole page in every symbology, which was most of the cost of
//! proving a marketplace document. The boxes are generous on purpose: a false box costs one short decode,
//! a missed one would hold a good label.

use crate::bitmap::Bitmap;

/// A box of the page in dots, ends exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

/// Dark runs a row of bars has at least: the shortest symbols carriers use (ITF with two digits, Code 39 with
/// one character) have eight or more.
const MIN_BARS: usize = 6;

/// Boxes of `page` (printed at `dpi`) whose rows look like the bars of a 1D symbol standing upright.
pub fn bar_regions(page: &Bitmap, dpi: u32) -> Vec<Region> {
    let (width, height) = (page.width(), page.height());
    // Rows compared two or three dots apart: a bar's edge stays put, a glyph's moves within a few rows.
    let step = (dpi / 100).max(1);
    // The widest space inside a symbol: four modules of 0.5 mm (Code 128), wide spaces of Code 39 or ITF.
    let max_gap = (dpi / 10).max(4);
    // Bars at least 2 mm tall: below that no scanner or carrier reads them.
    let min_rows = (dpi * 2 / 25 / step).max(2);
    let mut open: Vec<(Region, u32, u32, u32)> = Vec::new(); // box, last row, last span's x0 and x1
    let mut done = Vec::new();
    let mut runs = Vec::new();
    let mut y = 0;
    while y + step < height {
        let (row, next) = (page.row(y), page.row(y + step));
        crate::bitmap::row_runs(row, width, &mut runs);
        let spans = stable_spans(&runs, next, max_gap);
        let mut kept = Vec::with_capacity(open.len());
        for (x0, x1) in spans {
            // Continue the box whose last span, one scanned row up, overlaps this one by half of the shorter.
            let hit = open.iter().position(|&(_, last, a, b)| {
                last + step == y && x1.min(b).saturating_sub(x0.max(a)) * 2 >= (x1 - x0).min(b - a)
            });
            match hit {
                Some(i) => {
                    let (mut r, _, _, _) = open.swap_remove(i);
                    r.x0 = r.x0.min(x0);
                    r.x1 = r.x1.max(x1);
                    r.y1 = y + step;
                    kept.push((r, y, x0, x1));
                }
                None => kept.push((Region { x0, y0: y, x1, y1: y + step }, y, x0, x1)),
            }
        }
        // Boxes not continued in this row are finished.
        done.extend(open.drain(..).map(|(r, ..)| r));
        open = kept;
        y += step;
    }
    done.extend(open.into_iter().map(|(r, ..)| r));
    done.retain(|r| (r.y1 - r.y0) / step >= min_rows);
    done.sort_by_key(|r| (r.y0, r.x0));
    done
}

/// Stretches of a row made of at least [`MIN_BARS`] dark runs, each found unchanged (same start and end) in
/// `next`, with no space wider than `max_gap` and nothing unstable between them. `(x0, x1)`, end exclusive.
fn stable_spans(runs: &[(u32, u32)], next: &[u8], max_gap: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let (mut start, mut end, mut bars) = (0u32, 0u32, 0usize);
    let flush = |start: u32, end: u32, bars: usize, out: &mut Vec<(u32, u32)>| {
        if bars >= MIN_BARS {
            out.push((start, end));
        }
    };
    // runs alternate white, dark, white, …, starting with white.
    for (i, &(x, len)) in runs.iter().enumerate() {
        if i % 2 == 0 {
            // A white run: a space inside the symbol, or the end of it.
            if len > max_gap && bars > 0 {
                flush(start, end, bars, &mut out);
                bars = 0;
            }
            continue;
        }
        let same = same_run(next, x, len) && (x == 0 || !bit(next, x - 1)) && !bit_or_edge(next, x + len, runs);
        if !same {
            flush(start, end, bars, &mut out);
            bars = 0;
            continue;
        }
        if bars == 0 {
            start = x;
        }
        end = x + len;
        bars += 1;
    }
    flush(start, end, bars, &mut out);
    out
}

fn bit(row: &[u8], x: u32) -> bool {
    row[(x / 8) as usize] & (0x80 >> (x % 8)) != 0
}

/// Whether the dot just after a dark run is dark in `next` (the row's end counts as white).
fn bit_or_edge(next: &[u8], x: u32, runs: &[(u32, u32)]) -> bool {
    let width = runs.last().map_or(0, |&(s, l)| s + l);
    x < width && bit(next, x)
}

/// Whether every dot of `x..x + len` is dark in `row`.
fn same_run(row: &[u8], x: u32, len: u32) -> bool {
    let end = x + len;
    let mut i = x;
    while i < end {
        let byte = row[(i / 8) as usize];
        let from = i % 8;
        let to = (end - (i / 8) * 8).min(8);
        let mask = (0xFFu16 >> from) as u8 & !((0xFFu16 >> to) as u8);
        if byte & mask != mask {
            return false;
        }
        i = (i / 8 + 1) * 8;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_with(width: u32, height: u32, paint: impl Fn(&mut Bitmap)) -> Bitmap {
        let mut b = Bitmap::new(width, height);
        paint(&mut b);
        b
    }

    #[test]
    fn bars_are_found_and_their_box_covers_them() {
        // Twenty 2-dot bars, 3 dots apart, 120 rows tall, at (100, 200).
        let page = page_with(812, 1218, |b| {
            for i in 0..20 {
                b.fill_rect(100 + i * 5, 200, 2, 120, true);
            }
        });
        let r = bar_regions(&page, 203);
        assert_eq!(r.len(), 1, "{r:?}");
        let r = r[0];
        assert_eq!((r.x0, r.x1), (100, 100 + 19 * 5 + 2));
        assert!(r.y0 >= 198 && r.y0 <= 202 && r.y1 >= 316 && r.y1 <= 322, "{r:?}");
    }

    #[test]
    fn rules_boxes_and_short_bars_are_not_bars() {
        let page = page_with(812, 1218, |b| {
            b.fill_rect(10, 10, 700, 4, true); // a rule
            b.fill_rect(10, 100, 300, 300, true); // a filled box
            for i in 0..20 {
                b.fill_rect(400 + i * 5, 600, 2, 10, true); // bars 1.25 mm tall
            }
            for i in 0..4 {
                b.fill_rect(400 + i * 5, 800, 2, 200, true); // four bars only
            }
        });
        assert_eq!(bar_regions(&page, 203), []);
    }

    #[test]
    fn a_glyph_next_to_the_bars_does_not_hide_them() {
        // A slanted stroke (a run that moves) a few dots left of the bars: the bars still make a box.
        let page = page_with(812, 400, |b| {
            for y in 50..250 {
                b.fill_rect(100 + (y as i32 - 50) / 16, y, 3, 1, true);
            }
            for i in 0..20 {
                b.fill_rect(120 + i * 5, 50, 2, 200, true);
            }
        });
        let r = bar_regions(&page, 203);
        assert!(r.iter().any(|r| r.x0 <= 120 && r.x1 == 120 + 19 * 5 + 2 && r.y1 - r.y0 >= 190), "{r:?}");
    }
}
