//! Read-back verification with a real decoder (rxing, a port of ZXing).
//!
//! * [`read_code128`] decodes the barcode painted in a raster crop, so a label is only printed when its bars scan
//!   back to the order's tracking number.
//! * [`find_2d_codes`] finds QR, Micro QR, rMQR, DataMatrix, Aztec, PDF417 and MaxiCode symbols anywhere in a
//!   raster, so the compliance engine can refuse a label or image that carries one.
//!
//! The raster is already 1-bit, so nothing is binarized: the packed rows are repacked straight into rxing's
//! `BitMatrix` (a few microseconds for a whole label) and handed to the decoders through a pass-through binarizer.
//! A thresholding binarizer would cost more than the decoding and could only make the picture worse.

use std::borrow::Cow;
use std::collections::HashSet;

use rxing::common::{BitArray, BitMatrix, LineOrientation};
use rxing::multi::MultipleBarcodeReader;
use rxing::{BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, LuminanceSource, Point, RXingResult, Reader};

use super::locate;
use crate::bitmap::Bitmap;

/// Decodes the one Code 128 symbol in `region` (a crop of the raster: the bars, their quiet zones and a little
/// margin). `None` if nothing decodes: a missing quiet zone, a smudged bar or a wrong check symbol.
pub fn read_code128(region: &Bitmap) -> Option<String> {
    let mut image = binary_bitmap(region)?;
    let hints = DecodeHints { PossibleFormats: Some(HashSet::from([BarcodeFormat::CODE_128])), ..Default::default() };
    // Without TRY_HARDER the reader scans 15 rows around the middle, both directions: enough for a painted
    // raster, whose rows are all alike, and an order of magnitude cheaper than every row.
    rxing::oned::Code128Reader.decode_with_hints(&mut image, &hints).ok().map(|r| r.getText().to_owned())
}

/// A 1D symbol read from a page: its symbology's name and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read1d {
    pub format: &'static str,
    pub text: String,
}

/// The linear symbologies carriers put on shipping documents.
const LINEAR: [(BarcodeFormat, &str); 7] = [
    (BarcodeFormat::CODE_128, "Code 128"),
    (BarcodeFormat::CODE_39, "Code 39"),
    (BarcodeFormat::CODE_93, "Code 93"),
    (BarcodeFormat::ITF, "Interleaved 2 of 5"),
    (BarcodeFormat::CODABAR, "Codabar"),
    (BarcodeFormat::EAN_13, "EAN-13"),
    (BarcodeFormat::UPC_A, "UPC-A"),
];

/// Reads every 1D barcode on a whole page, bars upright or turned a quarter, in the order found: every fourth
/// row or so of the page, in every symbology. Used for pages labeld did not draw (marketplace documents), where
/// neither position nor orientation is known, when [`read_1d_codes_at`] finds no bars that read.
pub fn read_1d_codes(page: &Bitmap) -> Vec<Read1d> {
    let hints = DecodeHints { PossibleFormats: Some(linear_formats()), TryHarder: Some(true), ..Default::default() };
    let mut found: Vec<Read1d> = Vec::new();
    // The multi-reader only turns the page when a pass finds nothing, so the turned copy is read as well: a page
    // may carry upright and sideways codes at once.
    for image in [Cow::Borrowed(page), Cow::Owned(page.rotated_quarter())] {
        read_linear(&image, &hints, &mut found);
    }
    found
}

/// Reads every 1D barcode on a page printed at `dpi`, like [`read_1d_codes`], but only where
/// [`locate::bar_regions`] finds bars, upright and (on the page turned a quarter) sideways. Each box is read
/// with ten millimetres of its surroundings either side, more than any symbology's quiet zone, so ink that
/// would spoil a quiet zone on paper spoils it here too. A page where no box reads is read whole: a page the
/// locator misjudges costs time, never a held label.
pub fn read_1d_codes_at(page: &Bitmap, dpi: u32) -> Vec<Read1d> {
    // TRY_HARDER on a box tries its rows one by one from the middle out until one reads, which is the first
    // or the second for bars; without it a short symbol shrunk to fit failed where the whole-page read did not.
    let hints = DecodeHints { PossibleFormats: Some(linear_formats()), TryHarder: Some(true), ..Default::default() };
    let (margin_x, margin_y) = (dpi as i64 * 10 / 25, 2 * (dpi as i64 / 100).max(1));
    let mut found: Vec<Read1d> = Vec::new();
    for image in [Cow::Borrowed(page), Cow::Owned(page.rotated_quarter())] {
        let (w, h) = (image.width() as i64, image.height() as i64);
        for r in locate::bar_regions(&image, dpi) {
            let (x0, y0) = ((r.x0 as i64 - margin_x).max(0), (r.y0 as i64 - margin_y).max(0));
            let (x1, y1) = ((r.x1 as i64 + margin_x).min(w), (r.y1 as i64 + margin_y).min(h));
            read_linear(&image.window(x0, y0, (x1 - x0) as u32, (y1 - y0) as u32), &hints, &mut found);
        }
    }
    if found.is_empty() {
        return read_1d_codes(page);
    }
    found
}

fn linear_formats() -> HashSet<BarcodeFormat> {
    LINEAR.iter().map(|(f, _)| *f).collect()
}

/// Adds the 1D codes the multi-reader finds in `image` to `found`, each once.
fn read_linear(image: &Bitmap, hints: &DecodeHints, found: &mut Vec<Read1d>) {
    let Some(mut bits) = binary_bitmap(image) else { return };
    let mut reader = rxing::multi::GenericMultipleBarcodeReader::new(rxing::oned::MultiFormatOneDReader::new(hints));
    let Ok(results) = reader.decode_multiple_with_hints(&mut bits, hints) else { return };
    for r in results {
        let Some((_, name)) = LINEAR.iter().find(|(f, _)| f == r.getBarcodeFormat()) else { continue };
        let read = Read1d { format: name, text: r.getText().to_owned() };
        if !found.contains(&read) {
            found.push(read);
        }
    }
}

/// A 2D symbology a label must not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format2d {
    Qr,
    MicroQr,
    RectangularMicroQr,
    DataMatrix,
    Aztec,
    Pdf417,
    MaxiCode,
}

impl Format2d {
    pub const ALL: [Format2d; 7] = [
        Format2d::Qr,
        Format2d::MicroQr,
        Format2d::RectangularMicroQr,
        Format2d::DataMatrix,
        Format2d::Aztec,
        Format2d::Pdf417,
        Format2d::MaxiCode,
    ];

    /// The name a packer knows it by.
    pub fn name(self) -> &'static str {
        match self {
            Format2d::Qr => "QR code",
            Format2d::MicroQr => "Micro QR code",
            Format2d::RectangularMicroQr => "rectangular Micro QR code",
            Format2d::DataMatrix => "DataMatrix code",
            Format2d::Aztec => "Aztec code",
            Format2d::Pdf417 => "PDF417 code",
            Format2d::MaxiCode => "MaxiCode",
        }
    }

    fn from_rxing(format: &BarcodeFormat) -> Option<Format2d> {
        Some(match format {
            BarcodeFormat::QR_CODE => Format2d::Qr,
            BarcodeFormat::MICRO_QR_CODE => Format2d::MicroQr,
            BarcodeFormat::RECTANGULAR_MICRO_QR_CODE => Format2d::RectangularMicroQr,
            BarcodeFormat::DATA_MATRIX => Format2d::DataMatrix,
            BarcodeFormat::AZTEC => Format2d::Aztec,
            BarcodeFormat::PDF_417 => Format2d::Pdf417,
            BarcodeFormat::MAXICODE => Format2d::MaxiCode,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Format2d {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A 2D code found in a raster. Its content is deliberately not kept: the refusal needs what and where, and the
/// content may be anything (a link, a phone number) that must not travel on into logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found2d {
    pub format: Format2d,
    /// Bounding box of the points the decoder located (finder patterns or corners), in dots of the raster.
    /// It can be a few modules inside the symbol's true edge.
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// Finds every 2D code that decodes in `image`. Only decodable symbols count: a QR-like pattern whose data cannot
/// be read is not reported (a phone cannot scan it either).
///
/// Coverage follows what rxing's detectors do on a whole page: QR, Micro QR and rMQR anywhere, any number;
/// PDF417 anywhere, any number; DataMatrix and MaxiCode one per page; Aztec near any bull's-eye the row scan
/// finds. Dark-on-light only: a label raster is black ink on white paper.
pub fn find_2d_codes(image: &Bitmap) -> Vec<Found2d> {
    find_2d_codes_of(image, &Format2d::ALL)
}

/// Which 2D detectors a page would wake (their finder patterns seen across and down): none on a clean label,
/// so [`find_2d_codes`] then costs one pass over the rows. For tests and diagnostics.
pub fn detectors_woken(image: &Bitmap) -> Vec<&'static str> {
    let seen = survey(image);
    let flags = [("qr", seen.qr_finder), ("datamatrix", seen.timing), ("pdf417", seen.pdf417), ("maxicode", seen.maxicode)];
    let mut woken: Vec<&'static str> = flags.into_iter().filter(|f| f.1).map(|f| f.0).collect();
    if !seen.bullseyes.is_empty() {
        woken.push("aztec");
    }
    woken
}

/// [`find_2d_codes`] restricted to some symbologies.
pub fn find_2d_codes_of(image: &Bitmap, formats: &[Format2d]) -> Vec<Found2d> {
    let wants = |f: Format2d| formats.contains(&f);
    // One cheap pass over the rows first: each detector runs only if its finder pattern appears somewhere. A clean
    // label then costs the survey alone instead of every detector's full-page search.
    let seen = survey(image);
    let mut found = Vec::new();
    let mut keep = |r: &RXingResult, dx: i64, dy: i64| {
        if let Some(format) = Format2d::from_rxing(r.getBarcodeFormat()) {
            let f = found_at(format, r.getPoints(), dx, dy, image);
            if !found.contains(&f) {
                found.push(f);
            }
        }
    };
    if wants(Format2d::Aztec) {
        find_aztec(image, &seen.bullseyes, &mut keep);
    }
    let qr: Vec<BarcodeFormat> = [
        (Format2d::Qr, BarcodeFormat::QR_CODE),
        (Format2d::MicroQr, BarcodeFormat::MICRO_QR_CODE),
        (Format2d::RectangularMicroQr, BarcodeFormat::RECTANGULAR_MICRO_QR_CODE),
    ]
    .into_iter()
    .filter(|(f, _)| wants(*f))
    .map(|(_, b)| b)
    .collect();
    let run_qr = !qr.is_empty() && seen.qr_finder;
    let run_dm = wants(Format2d::DataMatrix) && seen.timing;
    let run_pdf = wants(Format2d::Pdf417) && seen.pdf417;
    let run_maxi = wants(Format2d::MaxiCode) && seen.maxicode;
    if !(run_qr || run_dm || run_pdf || run_maxi) {
        return found;
    }
    let Some(mut bits) = binary_bitmap(image) else {
        return found;
    };
    if run_qr {
        if let Ok(results) = rxing::qrcode::cpp_port::QrReader.decode_multiple_with_hints(&mut bits, &hints(&qr)) {
            results.iter().for_each(|r| keep(r, 0, 0));
        }
    }
    if run_dm {
        // TRY_HARDER makes the detector trace lines across the whole page, not only through its centre.
        let dm_hints = DecodeHints { TryHarder: Some(true), ..hints(&[BarcodeFormat::DATA_MATRIX]) };
        if let Ok(r) = rxing::datamatrix::DataMatrixReader.decode_with_hints(&mut bits, &dm_hints) {
            keep(&r, 0, 0);
        }
    }
    if run_pdf {
        if let Ok(results) = rxing::pdf417::PDF417Reader.decode_multiple_with_hints(&mut bits, &hints(&[BarcodeFormat::PDF_417])) {
            results.iter().for_each(|r| keep(r, 0, 0));
        }
    }
    if run_maxi {
        // MaxiCode's reader only searches the page (rather than taking the image as the bare symbol) with TRY_HARDER.
        let maxi_hints = DecodeHints { TryHarder: Some(true), ..hints(&[BarcodeFormat::MAXICODE]) };
        if let Ok(r) = rxing::maxicode::MaxiCodeReader::default().decode_with_hints(&mut bits, &maxi_hints) {
            keep(&r, 0, 0);
        }
    }
    found
}

fn hints(formats: &[BarcodeFormat]) -> DecodeHints {
    DecodeHints { PossibleFormats: Some(formats.iter().copied().collect()), ..Default::default() }
}

/// The box around a result's points, which are in the coordinates of a window placed at (dx, dy).
fn found_at(format: Format2d, points: &[Point], dx: i64, dy: i64, image: &Bitmap) -> Found2d {
    if points.is_empty() {
        // Some readers give no position; the whole image is then the honest answer.
        return Found2d { format, x: 0, y: 0, width: image.width(), height: image.height() };
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in points {
        let (x, y) = (p.x + dx as f32, p.y + dy as f32);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    // Points are corners or module centres in dot coordinates; clamp them onto the raster.
    let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let (x0, y0) = (clamp(x0.floor(), image.width()), clamp(y0.floor(), image.height()));
    let (x1, y1) = (clamp(x1.ceil(), image.width()), clamp(y1.ceil(), image.height()));
    Found2d { format, x: x0, y: y0, width: (x1 - x0).max(1), height: (y1 - y0).max(1) }
}

/// Aztec's detector starts from the middle of the image it is given and walks out to the bull's-eye, so on a
/// whole page it only sees a symbol near the centre. Each bull's-eye found by a row scan gets a window of its own,
/// centred on it, for the detector to run in.
fn find_aztec(image: &Bitmap, bullseyes: &[(u32, u32, f32)], keep: &mut impl FnMut(&RXingResult, i64, i64)) {
    let hints = hints(&[BarcodeFormat::AZTEC]);
    for &(cx, cy, module) in bullseyes {
        let half = (80.0 * module).clamp(48.0, 480.0) as i64;
        let (x0, y0) = (cx as i64 - half, cy as i64 - half);
        let window = image.window(x0, y0, 2 * half as u32, 2 * half as u32);
        if let Some(mut bits) = binary_bitmap(&window) {
            if let Ok(r) = rxing::aztec::AztecReader.decode_with_hints(&mut bits, &hints) {
                keep(&r, x0, y0);
            }
        }
    }
}

/// The most bull's-eyes worth a detector run on one page; real labels have none, clutter a handful at most.
const MAX_BULLSEYES: usize = 12;

/// Which finder patterns a row scan saw (every second row: modules of a printable 2D code are at least 2 dots).
#[derive(Debug, Default)]
struct Survey {
    /// QR and Micro QR finder: dark-light-dark-light-dark in 1:1:3:1:1.
    qr_finder: bool,
    /// Nine alternating runs of one width ending at a solid L corner: a DataMatrix timing edge.
    timing: bool,
    /// PDF417 start pattern 8:1:1:1:1:1:1:3 (bars first), either direction.
    pdf417: bool,
    /// MaxiCode's bull's-eye through its light centre: 1:1:1:1:1:2:1:1:1:1:1 dark first.
    maxicode: bool,
    /// Aztec bull's-eye centres confirmed across and down: (x, y, module width in dots).
    bullseyes: Vec<(u32, u32, f32)>,
}

/// Do runs match `ratios` (in modules)? Each may be off by half a module, wider runs a little more.
fn matches(widths: &[(u32, u32)], ratios: &[u32]) -> bool {
    let total: u32 = widths.iter().map(|r| r.1).sum();
    let unit = total as f32 / ratios.iter().sum::<u32>() as f32;
    unit >= 1.5
        && widths.iter().zip(ratios).all(|(w, &r)| (w.1 as f32 - r as f32 * unit).abs() <= unit * (0.5 + 0.25 * (r - 1) as f32) + 0.5)
}

/// Are two runs close enough in width to be modules of one code (a cheap first test before the full patterns)?
fn alike(a: u32, b: u32) -> bool {
    a <= 3 * b && b <= 3 * a
}

fn survey(image: &Bitmap) -> Survey {
    let mut seen = Survey::default();
    let mut runs: Vec<(u32, u32)> = Vec::with_capacity(256); // (start x, length); colours alternate
    for y in (0..image.height()).step_by(2) {
        crate::bitmap::row_runs(image.row(y), image.width(), &mut runs);
        // runs[0] is white (the row starts white, possibly with length 0), so odd indices are dark.
        for i in 0..runs.len().saturating_sub(4) {
            let dark = i % 2 == 1;
            let at = |n: usize| runs.get(i..i + n);
            // The bull's-eye's outer ring may be widened by data modules beside it: test its inner runs.
            if dark && seen.bullseyes.len() < MAX_BULLSEYES && alike(runs[i + 1].1, runs[i + 2].1) {
                if let Some(window) = at(9) {
                    aztec_bullseye(image, window, y, &mut seen.bullseyes);
                }
            }
            // Row matches are confirmed in the second direction before they count: Code 128 bars and glyph strokes
            // make every row pattern somewhere on a label, but not the same pattern down the column as well.
            if dark && alike(runs[i].1, runs[i + 1].1) {
                if !seen.qr_finder && at(5).is_some_and(|r| matches(r, &QR_FINDER) && crosses(image, r, 2, y, &QR_FINDER)) {
                    seen.qr_finder = true;
                }
                if !seen.timing && at(9).is_some_and(|r| matches(r, &[1; 9]) && datamatrix_corner(image, r, y)) {
                    seen.timing = true;
                }
                if !seen.maxicode && at(11).is_some_and(|r| matches(r, &MAXICODE_EYE) && crosses(image, r, 5, y, &MAXICODE_EYE)) {
                    seen.maxicode = true;
                }
            }
            if !seen.pdf417 && i + 8 <= runs.len() {
                let r = &runs[i..i + 8];
                let forward = dark && r[0].1 >= 4 * r[1].1 && alike(r[1].1, r[2].1) && matches(r, &[8, 1, 1, 1, 1, 1, 1, 3]);
                let reverse = !dark && r[7].1 >= 4 * r[6].1 && alike(r[5].1, r[6].1) && matches(r, &[3, 1, 1, 1, 1, 1, 1, 8]);
                // The start pattern repeats on every row, so each of its bars is at least as tall as the wide one is
                // wide (three rows of three modules, at the least).
                let bars = if forward { [0, 2, 4, 6] } else { [1, 3, 5, 7] };
                let wide = if forward { r[0].1 } else { r[7].1 };
                seen.pdf417 = (forward || reverse) && bars.iter().all(|&b| tall(image, r[b].0 + r[b].1 / 2, y, wide));
            }
        }
    }
    seen
}

/// Is the column through (x, y) dark for at least `min` dots around y?
fn tall(image: &Bitmap, x: u32, y: u32, min: u32) -> bool {
    let mut top = y;
    while top > 0 && image.get(x, top - 1) && y - top < min {
        top -= 1;
    }
    let mut bottom = y;
    while bottom + 1 < image.height() && image.get(x, bottom + 1) && bottom - top < min {
        bottom += 1;
    }
    image.get(x, y) && bottom - top + 1 >= min
}

const QR_FINDER: [u32; 5] = [1, 1, 3, 1, 1];
const MAXICODE_EYE: [u32; 11] = [1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1];

/// Does the column through the middle of row run `centre` of `window` (on row y) show the same `ratios`, centred
/// on that run? A finder pattern is as tall as it is wide; a Code 128 bar is one long dark run down the column.
fn crosses(image: &Bitmap, window: &[(u32, u32)], centre: usize, y: u32, ratios: &[u32]) -> bool {
    let x = window[centre].0 + window[centre].1 / 2;
    let span: u32 = window.iter().map(|r| r.1).sum();
    let column = Column::new(image, x);
    let colour = image.get(x, y);
    // Each run is counted up to the whole span: enough to tell a match, and a bound on the walk.
    let walk = |from: i64, dir: i64, colour: bool| column.run(from, dir, colour, span + 1);
    let up = walk(y as i64, -1, colour);
    let down = walk(y as i64, 1, colour);
    // On the stack: this runs for every row match a label's bars and glyphs make.
    let mut buf = [(0u32, 0u32); MAXICODE_EYE.len()];
    let widths = &mut buf[..ratios.len()];
    widths[centre].1 = up + down - 1;
    let mut units = Units::new();
    if !units.admit(widths[centre].1, ratios[centre]) {
        return false;
    }
    for dir in [-1i64, 1] {
        let mut pos = if dir < 0 { y as i64 - up as i64 } else { y as i64 + down as i64 };
        let mut c = !colour;
        let steps = if dir < 0 { centre } else { ratios.len() - 1 - centre };
        for step in 1..=steps {
            let n = walk(pos, dir, c);
            let k = (centre as i64 + dir * step as i64) as usize;
            if !units.admit(n, ratios[k]) {
                return false;
            }
            widths[k].1 = n;
            pos += dir * n as i64;
            c = !c;
        }
    }
    matches(widths, ratios)
}

/// The module widths that the runs measured so far allow under [`matches`]' tolerance: a run of `w` dots
/// meant as `r` modules passes only if the unit lies in [(w − ½) / (1.25r + ¼), (w + ½) / (0.75r − ¼)].
/// Once no unit is left no later run can rescue the match, so the walk down the column stops there.
struct Units {
    low: f32,
    high: f32,
}

impl Units {
    fn new() -> Units {
        Units { low: 1.5, high: f32::MAX }
    }

    /// Narrows the range by one run; false once it is empty (with a margin for rounding, so never early).
    fn admit(&mut self, w: u32, r: u32) -> bool {
        let (w, r) = (w as f32, r as f32);
        self.low = self.low.max((w - 0.5) / (1.25 * r + 0.25));
        self.high = self.high.min((w + 0.5) / (0.75 * r - 0.25));
        self.low <= self.high * 1.001 + 0.01
    }
}

/// Nine alternating runs (dark at both ends) on row y are a DataMatrix timing edge only if they end at a corner
/// of its solid L: a line
/// one module wide that starts on this row (nothing dark just beyond it) and runs at least eight modules across
/// the row, then turns along the symbol's solid edge. A frame around text continues past the row; a bar has no
/// solid foot.
fn datamatrix_corner(image: &Bitmap, window: &[(u32, u32)], y: u32) -> bool {
    let span = window[8].0 + window[8].1 - window[0].0;
    let module = span as f32 / 9.0;
    let reach = (8.0 * module) as i64;
    let dark = |x: i64, y: i64| x >= 0 && y >= 0 && x < image.width() as i64 && y < image.height() as i64 && image.get(x as u32, y as u32);
    let solid = |x: i64, y: i64, dx: i64| (0..reach).all(|k| dark(x + dx * k, y));
    // The L's corner column is the first dark run (symbol to the right) or the last one (symbol to the left).
    [(window[0], 1i64), (window[8], -1i64)].into_iter().any(|((start, len), inward)| {
        let x = (start + len / 2) as i64;
        let column = Column::new(image, x as u32);
        let beyond = (module * 1.5).ceil() as i64;
        [1i64, -1].into_iter().any(|down| {
            // The line starts on this row: a module-and-a-half outward along the column is light.
            if column.dark(y as i64 - down * beyond) {
                return false;
            }
            // Down the solid edge to its end, then back half a module into the foot row.
            let len = column.run(y as i64, down, true, 150 * reach as u32 + 1) as i64;
            let foot = y as i64 + down * (len - 1 - (module / 2.0) as i64);
            len >= reach && solid(x, foot, inward)
        })
    })
}

/// Records an Aztec bull's-eye whose middle run is the fifth of `window` (nine runs from a dark one) on row y,
/// once the column through it shows the same rings.
fn aztec_bullseye(image: &Bitmap, window: &[(u32, u32)], y: u32, found: &mut Vec<(u32, u32, f32)>) {
    let Some(module) = bullseye_module(std::array::from_fn(|k| window[k].1)) else {
        return;
    };
    let cx = window[4].0 + window[4].1 / 2;
    let Some(cy) = vertical_bullseye(image, cx, y, module) else {
        return;
    };
    let near = |f: &(u32, u32, f32)| f.0.abs_diff(cx) as f32 <= 6.0 * module && f.1.abs_diff(cy) as f32 <= 6.0 * module;
    if !found.iter().any(near) {
        found.push((cx, cy, module));
    }
}

/// Nine runs in spatial order: the seven inside within half a module of their mean, the outermost (the bull's-eye's
/// last dark ring, which data modules next to it can widen) at least half a module. The module width, if so.
fn bullseye_module(widths: [u32; 9]) -> Option<f32> {
    let module = widths[1..8].iter().sum::<u32>() as f32 / 7.0;
    let inner_equal = widths[1..8].iter().all(|&w| (w as f32 - module).abs() <= module * 0.5 + 0.5);
    let outer = widths[0] as f32 >= module * 0.5 && widths[8] as f32 >= module * 0.5;
    (module >= 1.5 && inner_equal && outer).then_some(module)
}

/// Checks the column through (x, y) for the same nine runs around y; returns the centre row of the middle run.
fn vertical_bullseye(image: &Bitmap, x: u32, y: u32, module: f32) -> Option<u32> {
    let column = Column::new(image, x);
    if !column.dark(y as i64) {
        return None;
    }
    let limit = (module * 1.5 + 1.0) as u32;
    let top = y - column.run(y as i64 - 1, -1, true, limit);
    let bottom = y + column.run(y as i64 + 1, 1, true, limit);
    let mut widths = [0u32; 9];
    widths[4] = bottom - top + 1;
    if ring_too_wide(widths[4], module) {
        return None;
    }
    // Four runs up and four down from the middle run, alternating colour starting with white.
    for dir in [-1i64, 1] {
        let mut pos = if dir < 0 { top as i64 - 1 } else { bottom as i64 + 1 };
        let mut colour = false;
        for step in 1..=4 {
            let n = column.run(pos, dir, colour, 2 * limit + 1);
            if step < 4 && ring_too_wide(n, module) {
                return None;
            }
            widths[(4 + dir * step) as usize] = n;
            pos += dir * n as i64;
            colour = !colour;
        }
    }
    let m = bullseye_module(widths)?;
    ((m - module).abs() <= module * 0.5).then_some((top + bottom) / 2)
}

/// An inner ring of `w` dots cannot pass [`vertical_bullseye`]'s checks (within half a module of a mean that is
/// itself within half of `module`: at most 2.25 modules and half a dot, plus a margin for rounding), so a
/// glyph's tall stem is turned away before its rings are walked.
fn ring_too_wide(w: u32, module: f32) -> bool {
    w as f32 > 2.25 * module + 1.0
}

/// One column of a raster, read a dot at a time without working out its byte and bit again: the survey's
/// checks down a column run for every row match glyphs make.
struct Column<'a> {
    data: &'a [u8],
    stride: i64,
    byte: i64,
    bit: u8,
    height: i64,
}

impl<'a> Column<'a> {
    /// Column `x`; a column past the right edge reads as white paper, as [`Bitmap::get`] has it.
    fn new(image: &'a Bitmap, x: u32) -> Column<'a> {
        let inside = x < image.width();
        Column {
            data: image.data(),
            stride: image.stride() as i64,
            byte: if inside { (x / 8) as i64 } else { 0 },
            bit: if inside { 0x80 >> (x % 8) } else { 0 },
            height: image.height() as i64,
        }
    }

    fn dark(&self, y: i64) -> bool {
        (0..self.height).contains(&y) && self.data[(y * self.stride + self.byte) as usize] & self.bit != 0
    }

    /// How many dots of `colour` follow one another from row `from` (itself included) going `dir` (±1),
    /// counting at most `most`.
    fn run(&self, from: i64, dir: i64, colour: bool, most: u32) -> u32 {
        if !(0..self.height).contains(&from) {
            return 0;
        }
        // Rows left before the raster's edge bound the walk, so each step only reads a byte.
        let rows = if dir > 0 { self.height - from } else { from + 1 };
        let steps = rows.min(most as i64);
        let (mut at, step) = (from * self.stride + self.byte, dir * self.stride);
        for n in 0..steps {
            if (self.data[at as usize] & self.bit != 0) != colour {
                return n as u32;
            }
            at += step;
        }
        steps as u32
    }
}

/// Wraps a raster for rxing without thresholding it. `None` for an empty raster (rxing refuses 0×0 matrices).
fn binary_bitmap(bitmap: &Bitmap) -> Option<BinaryBitmap<AlreadyBinary>> {
    Some(BinaryBitmap::new(AlreadyBinary(PackedBits { matrix: to_bit_matrix(bitmap)? })))
}

/// Repacks MSB-first bytes (our raster) into rxing's rows of machine words, least significant bit = leftmost dot.
fn to_bit_matrix(bitmap: &Bitmap) -> Option<BitMatrix> {
    let (w, h) = (bitmap.width(), bitmap.height());
    let mut matrix = BitMatrix::new(w, h).ok()?;
    const WORD_BYTES: usize = usize::BITS as usize / 8;
    let mut row_bits = BitArray::with_size(w as usize);
    for y in 0..h {
        for (i, chunk) in bitmap.row(y).chunks(WORD_BYTES).enumerate() {
            let mut le = [0u8; WORD_BYTES];
            for (dst, src) in le.iter_mut().zip(chunk) {
                *dst = src.reverse_bits();
            }
            row_bits.setBulk(i * usize::BITS as usize, usize::from_le_bytes(le));
        }
        matrix.setRow(y, &row_bits);
    }
    Some(matrix)
}

/// rxing's view of a 1-bit raster as luminance (black 0, white 255), for the few readers that ask for grey levels.
struct PackedBits {
    matrix: BitMatrix,
}

impl LuminanceSource for PackedBits {
    // The multi-symbol reader crops around each symbol it finds to look for more.
    const SUPPORTS_CROP: bool = true;

    fn crop(&self, left: usize, top: usize, width: usize, height: usize) -> rxing::common::Result<Self> {
        let mut matrix = BitMatrix::new(width as u32, height as u32)?;
        for y in 0..height {
            for x in 0..width {
                if self.matrix.get((left + x) as u32, (top + y) as u32) {
                    matrix.set(x as u32, y as u32);
                }
            }
        }
        Ok(PackedBits { matrix })
    }

    fn get_row(&self, y: usize) -> Option<Cow<'_, [u8]>> {
        (y < self.get_height()).then(|| Cow::Owned((0..self.get_width()).map(|x| self.get_luma8_point(x, y)).collect()))
    }

    fn get_column(&self, x: usize) -> Cow<'_, [u8]> {
        Cow::Owned((0..self.get_height()).map(|y| self.get_luma8_point(x, y)).collect())
    }

    fn get_matrix(&self) -> Cow<'_, [u8]> {
        let (w, h) = (self.get_width(), self.get_height());
        Cow::Owned((0..w * h).map(|i| self.get_luma8_point(i % w, i / w)).collect())
    }

    fn get_width(&self) -> usize {
        self.matrix.getWidth() as usize
    }

    fn get_height(&self) -> usize {
        self.matrix.getHeight() as usize
    }

    fn invert(&mut self) {
        self.matrix.flip_self();
    }

    fn get_luma8_point(&self, x: usize, y: usize) -> u8 {
        if self.matrix.get(x as u32, y as u32) { 0 } else { 255 }
    }
}

/// A binarizer that has nothing to do: the source already is black and white.
struct AlreadyBinary(PackedBits);

impl Binarizer for AlreadyBinary {
    type Source = PackedBits;

    fn get_luminance_source(&self) -> &PackedBits {
        &self.0
    }

    fn get_black_row(&self, y: usize) -> rxing::common::Result<Cow<'_, BitArray>> {
        self.get_black_line(y, LineOrientation::Row)
    }

    fn get_black_row_from_matrix(&self, y: usize) -> rxing::common::Result<Cow<'_, BitArray>> {
        self.get_black_line(y, LineOrientation::Row)
    }

    fn get_black_matrix(&self) -> rxing::common::Result<&BitMatrix> {
        Ok(&self.0.matrix)
    }

    fn get_black_line(&self, l: usize, lt: LineOrientation) -> rxing::common::Result<Cow<'_, BitArray>> {
        let m = &self.0.matrix;
        match lt {
            LineOrientation::Row if l < m.getHeight() as usize => Ok(Cow::Owned(m.getRow(l as u32))),
            LineOrientation::Column if l < m.getWidth() as usize => Ok(Cow::Owned(m.getCol(l as u32))),
            _ => Err(rxing::Exceptions::INDEX_OUT_OF_BOUNDS),
        }
    }

    fn create_binarizer(&self, source: PackedBits) -> Self {
        AlreadyBinary(source)
    }

    fn get_width(&self) -> usize {
        self.0.get_width()
    }

    fn get_height(&self) -> usize {
        self.0.get_height()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barcode::code128::{self, QUIET_MODULES};
    use proptest::prelude::*;
    use rxing::Writer;

    /// A 203-dpi label: 100 × 150 mm.
    const LABEL_W: u32 = 812;
    const LABEL_H: u32 = 1218;

    /// Paints `data` as Code 128 at `module` dots, `height` dots tall, with its quiet zones and `margin` dots.
    fn code128_bitmap(data: &str, module: u32, height: u32, margin: u32) -> Bitmap {
        let modules = code128::encode(data).unwrap().modules();
        let quiet = QUIET_MODULES * module;
        let mut b = Bitmap::new(2 * (margin + quiet) + modules.len() as u32 * module, height + 2 * margin);
        paint_modules(&mut b, &modules, margin + quiet, margin, module, height);
        b
    }

    fn paint_modules(b: &mut Bitmap, modules: &[bool], x: u32, y: u32, module: u32, height: u32) {
        for (i, &bar) in modules.iter().enumerate() {
            if bar {
                b.fill_rect((x + i as u32 * module) as i32, y as i32, module as i32, height as i32, true);
            }
        }
    }

    /// Paints a QR code from the `qrcode` crate with its top-left module at (x, y).
    fn paint_qr(b: &mut Bitmap, qr: &qrcode::QrCode, x: u32, y: u32, module: u32) {
        let w = qr.width();
        for (i, c) in qr.to_colors().iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (mx, my) = ((i % w) as u32, (i / w) as u32);
                b.fill_rect((x + mx * module) as i32, (y + my * module) as i32, module as i32, module as i32, true);
            }
        }
    }

    /// Paints one of rxing's own symbols (1 dot per module) scaled up.
    fn paint_matrix(b: &mut Bitmap, m: &BitMatrix, x: u32, y: u32, module: u32) {
        for my in 0..m.getHeight() {
            for mx in 0..m.getWidth() {
                if m.get(mx, my) {
                    b.fill_rect((x + mx * module) as i32, (y + my * module) as i32, module as i32, module as i32, true);
                }
            }
        }
    }

    /// Text-like clutter: lines of 16×24-dot "glyphs" made of random strokes, as an address block looks to a
    /// detector. Deterministic (a fixed linear congruential generator) so a failure reproduces.
    fn paint_text_noise(b: &mut Bitmap, x: u32, y: u32, cols: u32, lines: u32, seed: u64) {
        let mut state = seed;
        let mut next = move |n: u32| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % n as u64) as i32
        };
        for line in 0..lines {
            for col in 0..cols {
                if next(7) == 0 {
                    continue; // a space between words
                }
                let (gx, gy) = ((x + col * 16) as i32, (y + line * 32) as i32);
                for _ in 0..2 + next(3) {
                    match next(3) {
                        0 => b.fill_rect(gx + next(12), gy, 3, 24, true),
                        1 => b.fill_rect(gx, gy + next(21), 14, 3, true),
                        _ => b.fill_rect(gx + next(10), gy + next(18), 4, 6, true),
                    }
                }
            }
        }
    }

    /// A label-sized raster with what a real label has: rules, a Code 128 and blocks of text.
    fn busy_label() -> Bitmap {
        let mut b = Bitmap::new(LABEL_W, LABEL_H);
        b.fill_rect(0, 0, LABEL_W as i32, 4, true);
        b.fill_rect(0, 300, LABEL_W as i32, 4, true);
        b.fill_rect(0, 700, LABEL_W as i32, 4, true);
        let modules = code128::encode("9400111201080085045843").unwrap().modules();
        paint_modules(&mut b, &modules, 120, 80, 2, 160);
        paint_text_noise(&mut b, 20, 320, 48, 11, 7);
        paint_text_noise(&mut b, 20, 720, 30, 8, 11);
        b
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn painted_code128_reads_back_exactly(data in "[\\x00-\\x7f]{1,30}", module in 2u32..=3) {
            let b = code128_bitmap(&data, module, 100, 4);
            prop_assert_eq!(read_code128(&b), Some(data));
        }
    }

    #[test]
    fn tracking_numbers_read_back_at_203_dpi() {
        for data in ["PJJ123C", "630012345678", "1Z5R89390388694646", "9400111201080085045843", "RB687516485GB"] {
            assert_eq!(read_code128(&code128_bitmap(data, 2, 80, 3)).as_deref(), Some(data));
        }
    }

    #[test]
    fn a_symbol_without_its_quiet_zone_does_not_read() {
        // Something printed right against the start character: scanners reject it, so must we.
        let mut b = code128_bitmap("RB687516485GB", 2, 80, 4);
        b.fill_rect(0, 0, (4 + QUIET_MODULES * 2 - 2) as i32, b.height() as i32, true);
        assert_eq!(read_code128(&b), None);
    }

    #[test]
    fn a_broken_bar_does_not_read_as_anything() {
        // Thicken every bar of one symbol character (a burnt print head dot row would do the same).
        let mut b = code128_bitmap("RB687516485GB", 2, 80, 4);
        let x0 = 4 + QUIET_MODULES * 2 + 11 * 2 * 4;
        for x in x0..x0 + 22 {
            if b.get(x, 10) {
                b.fill_rect(x as i32 + 1, 0, 1, b.height() as i32, true);
            }
        }
        assert_eq!(read_code128(&b), None);
    }

    #[test]
    fn empty_and_blank_rasters_read_nothing() {
        assert_eq!(read_code128(&Bitmap::new(0, 0)), None);
        assert_eq!(read_code128(&Bitmap::new(300, 80)), None);
        assert!(find_2d_codes(&Bitmap::new(0, 0)).is_empty());
        assert!(find_2d_codes(&Bitmap::new(LABEL_W, LABEL_H)).is_empty());
    }

    #[test]
    fn bit_matrix_matches_the_raster_dot_for_dot() {
        // Widths that are and are not multiples of 8 and 64 exercise the repacking's edges.
        for w in [1u32, 7, 8, 63, 64, 65, 130] {
            let mut b = Bitmap::new(w, 3);
            for x in (0..w).filter(|x| x % 3 == 0 || x % 7 == 1) {
                b.set(x, 1, true);
            }
            b.set(w - 1, 2, true);
            let m = to_bit_matrix(&b).unwrap();
            for y in 0..3 {
                for x in 0..w {
                    assert_eq!(m.get(x, y), b.get(x, y), "w {w} at ({x},{y})");
                }
            }
        }
    }

    proptest! {
        /// The column checks stop at the first run that rules a match out; these show a stop never comes
        /// where the whole check would have passed.
        #[test]
        fn a_column_walk_stops_only_where_the_match_fails(
            unit in 1.5f32..20.0,
            off in proptest::collection::vec(-1.3f32..1.3, 11),
            finder in any::<bool>(),
        ) {
            let (ratios, centre): (&[u32], usize) = if finder { (&QR_FINDER, 2) } else { (&MAXICODE_EYE, 5) };
            // Runs near the pattern, some just inside its tolerance and some just outside.
            let runs: Vec<(u32, u32)> = ratios
                .iter()
                .zip(&off)
                .map(|(&r, f)| (0, (r as f32 * unit + f * (unit * (0.5 + 0.25 * (r - 1) as f32) + 0.5)).round().max(0.0) as u32))
                .collect();
            if matches(&runs, ratios) {
                let mut units = Units::new();
                // The order crosses measures them in: the centre, up, then down.
                let order = std::iter::once(centre).chain((0..centre).rev()).chain(centre + 1..ratios.len());
                for k in order {
                    prop_assert!(units.admit(runs[k].1, ratios[k]), "run {} of {:?}", k, runs);
                }
            }
        }

        #[test]
        fn a_bullseye_ring_is_too_wide_only_where_the_rings_fail(
            module in 1.5f32..20.0,
            scale in 0.4f32..1.6,
            off in proptest::array::uniform9(-0.7f32..0.7),
        ) {
            // Rings near a module of `module × scale`, the horizontal module being `module`.
            let widths: [u32; 9] = std::array::from_fn(|k| (module * scale * (1.0 + off[k])).round().max(1.0) as u32);
            if let Some(m) = bullseye_module(widths) {
                if (m - module).abs() <= module * 0.5 {
                    prop_assert!(widths[1..8].iter().all(|&w| !ring_too_wide(w, module)), "{:?} at {}", widths, module);
                }
            }
        }
    }

    #[test]
    fn qr_code_on_a_label_is_found_where_it_is() {
        let mut b = busy_label();
        let qr = qrcode::QrCode::new(b"https://example.com/coupon?c=SAVE10").unwrap();
        // 4 dots per module (0.5 mm at 203 dpi), in the lower right corner, 4-module quiet zone kept clear.
        let (x, y, module) = (560, 950, 4);
        let side = qr.width() as u32 * module;
        b.fill_rect(x as i32 - 16, y as i32 - 16, side as i32 + 32, side as i32 + 32, false);
        paint_qr(&mut b, &qr, x, y, module);
        let found = find_2d_codes(&b);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(f.format, Format2d::Qr);
        // The reported box lies on the symbol (its points are finder-pattern centres, 3.5 modules in).
        assert!(f.x >= x && f.y >= y && f.x + f.width <= x + side + 1 && f.y + f.height <= y + side + 1, "{f:?}");
        assert!(f.width >= side / 2 && f.height >= side / 2, "{f:?}");
    }

    #[test]
    fn small_qr_and_micro_qr_are_found() {
        let mut b = busy_label();
        let qr = qrcode::QrCode::with_version(b"wa.me/123", qrcode::Version::Normal(1), qrcode::EcLevel::L).unwrap();
        b.fill_rect(40, 1040, 120, 120, false);
        paint_qr(&mut b, &qr, 50, 1050, 3);
        let micro = qrcode::QrCode::with_version(b"12345", qrcode::Version::Micro(2), qrcode::EcLevel::L).unwrap();
        b.fill_rect(300, 1040, 100, 100, false);
        paint_qr(&mut b, &micro, 320, 1060, 4);
        let mut formats: Vec<Format2d> = find_2d_codes(&b).iter().map(|f| f.format).collect();
        formats.sort_by_key(|f| *f as u8);
        assert_eq!(formats, vec![Format2d::Qr, Format2d::MicroQr]);
    }

    #[test]
    fn code128_label_and_text_find_nothing() {
        assert_eq!(find_2d_codes(&busy_label()), vec![]);
        // Denser clutter over the whole page.
        let mut b = Bitmap::new(LABEL_W, LABEL_H);
        paint_text_noise(&mut b, 0, 0, 50, 38, 1234);
        assert_eq!(find_2d_codes(&b), vec![]);
    }

    fn rxing_symbol(format: BarcodeFormat, data: &str) -> BitMatrix {
        rxing::MultiFormatWriter.encode(data, &format, 0, 0).unwrap()
    }

    /// Places another 2D symbology away from the page centre, where a centre-out detector looks first.
    fn found_formats_with(format: BarcodeFormat, data: &str, x: u32, y: u32, module: u32) -> Vec<Format2d> {
        let mut b = busy_label();
        let m = rxing_symbol(format, data);
        let (w, h) = (m.getWidth() * module, m.getHeight() * module);
        b.fill_rect(x as i32 - 20, y as i32 - 20, w as i32 + 40, h as i32 + 40, false);
        paint_matrix(&mut b, &m, x, y, module);
        find_2d_codes(&b).iter().map(|f| f.format).collect()
    }

    #[test]
    fn data_matrix_is_found() {
        assert_eq!(found_formats_with(BarcodeFormat::DATA_MATRIX, "LINE:@shopdeals", 560, 980, 5), vec![Format2d::DataMatrix]);
    }

    #[test]
    fn aztec_is_found_away_from_the_page_centre() {
        assert_eq!(found_formats_with(BarcodeFormat::AZTEC, "https://example.com", 560, 980, 5), vec![Format2d::Aztec]);
        assert_eq!(found_formats_with(BarcodeFormat::AZTEC, "LINE @deals", 40, 40, 3), vec![Format2d::Aztec]);
    }

    #[test]
    fn aztec_box_is_where_the_symbol_is() {
        let mut b = busy_label();
        let m = rxing_symbol(BarcodeFormat::AZTEC, "https://example.com");
        b.fill_rect(540, 960, 140, 140, false);
        paint_matrix(&mut b, &m, 560, 980, 5);
        let found = find_2d_codes(&b);
        assert_eq!(found.len(), 1, "{found:?}");
        let side = m.getWidth() * 5;
        let f = &found[0];
        assert!(f.x.abs_diff(560) <= 5 && f.y.abs_diff(980) <= 5 && f.width.abs_diff(side) <= 10, "{f:?} side {side}");
    }

    #[test]
    fn pdf417_is_found() {
        assert_eq!(found_formats_with(BarcodeFormat::PDF_417, "Follow us on Instagram", 60, 960, 2), vec![Format2d::Pdf417]);
    }

    #[test]
    fn bars_and_text_wake_no_2d_detector() {
        // Code 128 bars and glyph strokes make finder-like runs along rows; the survey must see through them, or
        // every label pays for every detector's full-page search.
        let seen = survey(&busy_label());
        assert!(!seen.qr_finder && !seen.timing && !seen.pdf417 && !seen.maxicode && seen.bullseyes.is_empty(), "{seen:?}");
        // (A page of random strokes can wake one now and then; the rendered fixture labels are checked in
        // tests/it/render_fixtures.rs.)
    }

    #[test]
    fn data_matrix_is_found_turned_any_way() {
        let m = rxing_symbol(BarcodeFormat::DATA_MATRIX, "LINE:@shopdeals");
        let n = m.getWidth();
        for turns in 0..4u32 {
            let mut b = busy_label();
            let (x, y, module) = (500, 900, 5);
            b.fill_rect(x as i32 - 20, y as i32 - 20, (n * module) as i32 + 40, (n * module) as i32 + 40, false);
            for my in 0..n {
                for mx in 0..n {
                    let (tx, ty) = match turns {
                        0 => (mx, my),
                        1 => (n - 1 - my, mx),
                        2 => (n - 1 - mx, n - 1 - my),
                        _ => (my, n - 1 - mx),
                    };
                    if m.get(mx, my) {
                        b.fill_rect((x + tx * module) as i32, (y + ty * module) as i32, module as i32, module as i32, true);
                    }
                }
            }
            let found: Vec<Format2d> = find_2d_codes(&b).iter().map(|f| f.format).collect();
            assert_eq!(found, vec![Format2d::DataMatrix], "turned {turns} quarter(s)");
        }
    }
}
