//! The calibration label: what an operator prints to set up a printer, as a raster every language encodes.
//!
//! It shows the printer's name and resolution, a darkness ramp (ordered-dither patches from 1/8 to solid),
//! a 1 mm grid with rulers along the top and left edges, a Code 128 sample that must scan, a solid bar that
//! shows dead head elements as white streaks, and edge marks in the corners and at the middle of each edge
//! that show whether the label is registered on the media. It carries no order text, so no marketplace
//! rule has anything to check; it is printed through [`super::Gate::printer_bytes`] like every document.

use crate::barcode::code128;
use crate::bitmap::Bitmap;
use crate::document::mm_to_dots;
use crate::printer::profile::Profile;
use crate::text::{Fonts, TextStyle, Weight};

/// What the page is for.
#[derive(Debug, Clone)]
pub struct TestPage {
    /// Shown as the title, e.g. "Zebra ZD421 (203 dpi)".
    pub printer: String,
    /// e.g. "zpl".
    pub language: String,
    pub dpi: u32,
    pub width: u32,
    pub height: u32,
}

impl TestPage {
    /// The calibration label for a printer: its model, language and loaded label size.
    pub fn for_profile(profile: &Profile) -> TestPage {
        let (width, height) = profile.label_size();
        TestPage { printer: profile.model.clone(), language: profile.language.to_string(), dpi: profile.dpi, width, height }
    }
}

/// The data of the Code 128 sample.
pub fn barcode_data(dpi: u32) -> String {
    format!("LABELD-TEST-{dpi}")
}

/// Where the barcode sits, for read-back: (x, y, width, height) in dots including quiet zones.
pub fn barcode_area(page: &TestPage) -> (u32, u32, u32, u32) {
    let (module, x, y, h) = barcode_geometry(page);
    let modules = code128::encode(&barcode_data(page.dpi)).expect("ASCII").module_count() as u32;
    let quiet = 10 * module;
    (x.saturating_sub(quiet), y, modules * module + 2 * quiet, h)
}

fn barcode_geometry(page: &TestPage) -> (u32, u32, u32, u32) {
    let d = |mm: f32| mm_to_dots(mm, page.dpi).max(0) as u32;
    // Whole-dot modules near 0.25 mm, the width shipping labels use.
    let module = (page.dpi as f32 * 0.25 / 25.4).round().max(1.0) as u32;
    (module, d(12.0), d(58.0).min(page.height.saturating_sub(d(25.0))), d(15.0))
}

/// Paints the page.
pub fn render(page: &TestPage, fonts: &Fonts) -> Bitmap {
    let (w, h) = (page.width, page.height);
    let mut b = Bitmap::new(w, h);
    let d = |mm: f32| mm_to_dots(mm, page.dpi);
    let (wi, hi) = (w as i32, h as i32);

    // Edge marks: a hairline frame, corner brackets, and a tick at the middle of each edge.
    let t = d(0.5).max(2);
    let arm = d(6.0);
    b.fill_rect(0, 0, wi, 1, true);
    b.fill_rect(0, hi - 1, wi, 1, true);
    b.fill_rect(0, 0, 1, hi, true);
    b.fill_rect(wi - 1, 0, 1, hi, true);
    for (cx, cy, sx, sy) in [(0, 0, 1, 1), (wi, 0, -1, 1), (0, hi, 1, -1), (wi, hi, -1, -1)] {
        let x = if sx > 0 { cx } else { cx - arm };
        let y = if sy > 0 { cy } else { cy - t };
        b.fill_rect(x, y, arm, t, true);
        let x = if sx > 0 { cx } else { cx - t };
        let y = if sy > 0 { cy } else { cy - arm };
        b.fill_rect(x, y, t, arm, true);
    }
    b.fill_rect(wi / 2 - t / 2, 0, t, arm, true);
    b.fill_rect(wi / 2 - t / 2, hi - arm, t, arm, true);
    b.fill_rect(0, hi / 2 - t / 2, arm, t, true);
    b.fill_rect(wi - arm, hi / 2 - t / 2, arm, t, true);

    // Rulers along the top and left edges: 1 mm ticks, longer at 5 mm, numbered every 10 mm.
    let small = (d(7.0) as f32 * 0.2).max(3.0);
    let label_px = d(2.2) as f32;
    let mut mm = 0;
    while d(mm as f32) < wi {
        let x = d(mm as f32);
        let len = if mm % 10 == 0 { d(4.0) } else if mm % 5 == 0 { d(2.5) } else { d(1.5) };
        b.fill_rect(x, 0, 1, len, true);
        if mm % 10 == 0 && mm > 0 && x + d(4.0) < wi - arm {
            draw_text(&mut b, fonts, &(mm / 10).to_string(), x + 2, d(2.5), label_px, Weight::Regular);
        }
        mm += 1;
    }
    let mut mm = 0;
    while d(mm as f32) < hi {
        let y = d(mm as f32);
        let len = if mm % 10 == 0 { d(4.0) } else if mm % 5 == 0 { d(2.5) } else { d(1.5) };
        b.fill_rect(0, y, len, 1, true);
        if mm % 10 == 0 && mm > 0 && y + d(4.0) < hi - arm {
            draw_text(&mut b, fonts, &(mm / 10).to_string(), d(4.5), y - (small as i32) / 2, label_px, Weight::Regular);
        }
        mm += 1;
    }

    // Title and figures.
    let left = d(10.0);
    let mut y = d(9.0);
    let title_px = d(4.5) as f32;
    draw_text(&mut b, fonts, &page.printer, left, y, title_px, Weight::Bold);
    y += d(6.5);
    let info = format!("{} dpi · {}×{} dots · {} · labeld test page", page.dpi, w, h, page.language.to_uppercase());
    draw_text(&mut b, fonts, &info, left, y, d(3.0) as f32, Weight::Regular);

    // 1 mm grid, 60 × 20 mm, heavier every 5 mm.
    let gx = left;
    let gy = d(22.0);
    let (gw_mm, gh_mm) = (((w as f32 * 25.4 / page.dpi as f32) - 20.0).clamp(10.0, 60.0) as i32, 20);
    for i in 0..=gw_mm {
        let weight = if i % 5 == 0 { 2 } else { 1 };
        b.fill_rect(gx + d(i as f32), gy, weight, d(gh_mm as f32), true);
    }
    for j in 0..=gh_mm {
        let weight = if j % 5 == 0 { 2 } else { 1 };
        b.fill_rect(gx, gy + d(j as f32), d(gw_mm as f32) + 2, weight, true);
    }

    // Darkness ramp: eight 8 mm patches from 1/8 to solid (4×4 ordered dither).
    const BAYER: [[u8; 4]; 4] = [[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]];
    let ry = d(45.0);
    let side = d(8.0);
    let gap = d(1.5);
    for k in 1..=8u8 {
        let x0 = left + (k as i32 - 1) * (side + gap);
        if x0 + side >= wi - d(3.0) {
            break;
        }
        for yy in 0..side {
            for xx in 0..side {
                if BAYER[(yy % 4) as usize][(xx % 4) as usize] < k * 2 {
                    b.set((x0 + xx) as u32, (ry + yy) as u32, true);
                }
            }
        }
    }
    draw_text(&mut b, fonts, "darkness ramp 1/8 … 8/8", left, ry + side + d(1.0), d(2.5) as f32, Weight::Regular);

    // Code 128 sample with its text.
    let (module, bx, by, bh) = barcode_geometry(page);
    let code = code128::encode(&barcode_data(page.dpi)).expect("ASCII");
    for (i, bar) in code.modules().iter().enumerate() {
        if *bar {
            b.fill_rect((bx + i as u32 * module) as i32, by as i32, module as i32, bh as i32, true);
        }
    }
    draw_text(&mut b, fonts, &barcode_data(page.dpi), bx as i32, (by + bh) as i32 + d(1.0), d(3.0) as f32, Weight::Regular);

    // Head check: a solid bar the full printable width shows dead elements as white lines.
    let hy = (by + bh) as i32 + d(8.0);
    if hy + d(4.0) < hi - arm {
        b.fill_rect(arm + d(1.0), hy, wi - 2 * (arm + d(1.0)), d(4.0), true);
    }
    b
}

/// Draws one line of text with its top at `y`, glyph coverage thresholded at one half like the label painter.
fn draw_text(b: &mut Bitmap, fonts: &Fonts, text: &str, x: i32, y: i32, size_px: f32, weight: Weight) {
    let style = TextStyle { size_px, weight, line_height: 1.2 };
    let Ok(p) = fonts.layout(text, &style, None) else { return };
    for line in &p.lines {
        for g in &line.glyphs {
            let mask = fonts.glyph_mask(g.face, g.id, size_px);
            let ox = x + (g.x).round() as i32 + mask.left;
            let oy = y + (line.baseline + g.y).round() as i32 + mask.top;
            for my in 0..mask.height as i32 {
                for mx in 0..mask.width as i32 {
                    if mask.coverage[(my * mask.width as i32 + mx) as usize] >= 128 && ox + mx >= 0 && oy + my >= 0 {
                        b.set((ox + mx) as u32, (oy + my) as u32, true);
                    }
                }
            }
        }
    }
}
