//! PDF pages through hayro, a pure-Rust rasteriser (no system library, so `cargo run` stays enough).
//!
//! Before any page is drawn the file passes the limits in [`super::limits`]: an intact end, no password, a
//! page count and page sizes in range, and compressed streams that inflate to a bounded total (each is
//! inflated once into a counter, never into memory, so a decompression bomb costs time bounded by the limit).

use std::io::Read;

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::object::Object;
use hayro::hayro_syntax::{Filter, LoadPdfError, Pdf as Parsed};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};

use super::grey::Grey;
use super::{Source, Unreadable, limits};

const POINTS_PER_MM: f32 = 72.0 / 25.4;

/// A PDF that passed the limits.
pub struct Pdf {
    parsed: Parsed,
    settings: InterpreterSettings,
}

impl Pdf {
    pub fn open(bytes: &[u8]) -> Result<Pdf, Unreadable> {
        // A truncated PDF often still parses (readers rebuild the cross-reference table), but whatever was cut
        // off (a barcode, a page) would silently be missing: refuse it.
        let tail = &bytes[bytes.len().saturating_sub(1024)..];
        if !tail.windows(5).any(|w| w == b"%%EOF") {
            return Err(Unreadable::Truncated);
        }
        let parsed = Parsed::new(bytes.to_vec()).map_err(|e| match e {
            LoadPdfError::Decryption(_) => Unreadable::Encrypted,
            LoadPdfError::Invalid => Unreadable::Damaged("no readable cross-reference table or page tree".into()),
        })?;
        let pages = parsed.pages().len();
        if pages == 0 {
            return Err(Unreadable::NoPages);
        }
        if pages > limits::MAX_PAGES {
            return Err(Unreadable::TooManyPages { pages });
        }
        for (i, page) in parsed.pages().iter().enumerate() {
            let (w, h) = page.render_dimensions();
            let (width_mm, height_mm) = (w / POINTS_PER_MM, h / POINTS_PER_MM);
            if width_mm.max(height_mm) > limits::MAX_PAGE_MM || !(width_mm > 0.0 && height_mm > 0.0) {
                return Err(Unreadable::PageTooLarge { page: i + 1, width_mm, height_mm });
            }
        }
        check_streams(&parsed)?;
        Ok(Pdf { parsed, settings: InterpreterSettings::default() })
    }

    pub fn page_count(&self) -> usize {
        self.parsed.pages().len()
    }

    /// Page `index` (from 0) as a page source.
    pub fn page(&self, index: usize) -> PdfPage<'_> {
        PdfPage { pdf: self, index }
    }
}

/// Every compressed stream inflates within the total; no image claims more pixels than the limit.
fn check_streams(pdf: &Parsed) -> Result<(), Unreadable> {
    let mut budget = limits::MAX_INFLATED_BYTES;
    for object in pdf.objects() {
        let Object::Stream(stream) = object else { continue };
        let dict = stream.dict();
        if let (Some(w), Some(h)) = (dict.get::<u32>(b"Width"), dict.get::<u32>(b"Height")) {
            if w as u64 * h as u64 > limits::MAX_IMAGE_PIXELS {
                return Err(Unreadable::ImageTooLarge { width: w as u64, height: h as u64 });
            }
        }
        if stream.filters().first() != Some(&Filter::FlateDecode) {
            continue;
        }
        let raw = stream.raw_data();
        let mut inflater = flate2::read::ZlibDecoder::new(&raw[..]).take(budget + 1);
        // A stream that fails to inflate is left to the renderer, which draws what it can of it.
        let n = std::io::copy(&mut inflater, &mut std::io::sink()).unwrap_or(0);
        if n > budget {
            return Err(Unreadable::Inflates);
        }
        budget -= n;
    }
    Ok(())
}

pub struct PdfPage<'a> {
    pdf: &'a Pdf,
    index: usize,
}

impl Source for PdfPage<'_> {
    fn size_mm(&self) -> (f32, f32) {
        let (w, h) = self.pdf.parsed.pages()[self.index].render_dimensions();
        (w / POINTS_PER_MM, h / POINTS_PER_MM)
    }

    fn draw(&self, dpi: f32) -> Grey {
        let page = &self.pdf.parsed.pages()[self.index];
        let cache = RenderCache::new();
        let scale = dpi / 72.0;
        // Anti-aliased coverage, thresholded later at half: edges land on the nearest dot boundary. hayro's own
        // aliasing threshold would do the same for paths but not for images, which it resamples separately.
        let render = RenderSettings::default();
        let pixmap = hayro::render(page, &cache, &self.pdf.settings, &render, &PixmapSettings { x_scale: scale, y_scale: scale, bg_color: WHITE });
        let (width, height) = (pixmap.width() as u32, pixmap.height() as u32);
        let px = luminance(pixmap.data_as_u8_slice());
        Grey { width, height, px }
    }
}

/// Opaque premultiplied RGBA over white to grey, by the Rec. 601 weights. A label page is mostly white paper,
/// so eight white pixels at a time are passed with one test; a third of a one-shot document render went on
/// weighing every pixel of a 300 dpi page one by one.
fn luminance(rgba: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgba.len() / 4);
    let (runs, rest) = rgba.as_chunks::<32>();
    for run in runs {
        // A fold, not `all`, so the test has no early exit and is vectorised.
        if run.iter().fold(0xFF, |acc, &b| acc & b) == 0xFF {
            out.extend_from_slice(&[0xFF; 8]);
        } else {
            out.extend(run.as_chunks::<4>().0.iter().map(grey));
        }
    }
    out.extend(rest.as_chunks::<4>().0.iter().map(grey));
    out
}

/// One pixel's luminance; 16-bit sums suffice (at most 255 × 256 + 128), and white stays 255.
fn grey(&[r, g, b, _]: &[u8; 4]) -> u8 {
    ((r as u16 * 77 + g as u16 * 150 + b as u16 * 29 + 128) >> 8) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The white runs' shortcut gives what weighing every pixel gives, whatever the mix and the length.
        #[test]
        fn luminance_is_every_pixel_weighed(pixels in proptest::collection::vec(
            prop_oneof![3 => Just([0xFFu8; 4]), 1 => any::<[u8; 3]>().prop_map(|[r, g, b]| [r, g, b, 0xFF])], 0..200)) {
            let rgba: Vec<u8> = pixels.iter().flatten().copied().collect();
            let weighed: Vec<u8> = pixels.iter().map(|&[r, g, b, _]| ((r as u32 * 77 + g as u32 * 150 + b as u32 * 29 + 128) >> 8) as u8).collect();
            prop_assert_eq!(luminance(&rgba), weighed);
        }
    }
}
