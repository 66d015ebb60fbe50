//! Printer languages: the 1-bit label raster to printer bytes, and printer bytes back to rasters.
//!
//! One file per language, each holding both directions:
//!
//! * [`zpl`] — Zebra ZPL II: `^GF` graphic fields, `:Z64:` (zlib + Base64 + CRC-16) or ACS ASCII compression.
//! * [`tspl`] — TSC TSPL/TSPL2 (also Xprinter, iDPRT, Rollo, MUNBYN…): `BITMAP`, where a 0 bit burns a dot.
//! * [`escpos`] — Epson ESC/POS: `GS v 0` raster bands.
//! * [`epl`] — Eltron/Zebra EPL2: `GW`, where a 0 bit burns a dot.
//! * [`cpcl`] — Zebra mobile CPCL: `EG` (hex) or `CG` (binary) graphics.
//!
//! Encoders only ever write the raster: no order text travels as printer commands, so nothing a buyer typed
//! can become a `^`, `~`, ESC or a newline on the wire. Decoders are small interpreters written from the same
//! manuals; the virtual printer and the round-trip tests use them to prove the bytes reproduce the raster
//! dot for dot.

use std::fmt;
use std::str::FromStr;

use crate::bitmap::Bitmap;

pub mod cpcl;
pub mod epl;
pub mod escpos;
pub mod test_page;
pub mod tspl;
pub mod zpl;

/// A printer command language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Zpl,
    Tspl,
    EscPos,
    Epl,
    Cpcl,
}

impl Language {
    pub const ALL: [Language; 5] = [Language::Zpl, Language::Tspl, Language::EscPos, Language::Epl, Language::Cpcl];

    pub fn name(self) -> &'static str {
        match self {
            Language::Zpl => "zpl",
            Language::Tspl => "tspl",
            Language::EscPos => "escpos",
            Language::Epl => "epl",
            Language::Cpcl => "cpcl",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Language, String> {
        match s.to_ascii_lowercase().as_str() {
            "zpl" => Ok(Language::Zpl),
            "tspl" => Ok(Language::Tspl),
            "escpos" => Ok(Language::EscPos),
            "epl" => Ok(Language::Epl),
            "cpcl" => Ok(Language::Cpcl),
            _ => Err(format!("{s:?} is not a printer language; expected one of zpl, tspl, escpos, epl, cpcl")),
        }
    }
}

/// How the printer finds the top of each label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Media {
    /// Die-cut labels with a gap between them (transmissive sensor).
    #[default]
    Gap,
    /// A black mark printed on the back of the liner (reflective sensor).
    Mark,
    /// Continuous stock: the label length alone decides where one ends.
    Continuous,
}

impl FromStr for Media {
    type Err = String;
    fn from_str(s: &str) -> Result<Media, String> {
        match s {
            "gap" => Ok(Media::Gap),
            "mark" => Ok(Media::Mark),
            "continuous" => Ok(Media::Continuous),
            _ => Err(format!("{s:?} is not a media kind; expected gap, mark or continuous")),
        }
    }
}

/// How ZPL `^GF` data is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZplCompression {
    /// zlib + Base64 + CRC-16 (`:Z64:`), firmware x.14 and later: the smallest.
    #[default]
    Z64,
    /// ASCII hex with Zebra's run-length letters (`G`–`z`, `,` `!` `:`): every ZPL II printer reads it.
    Acs,
    /// The label as a binary PNG object (`~DY…,B,P`), printed with `^XG` and deleted with `^ID`: about a
    /// quarter smaller than `:Z64:` (no Base64), but it needs an 8-bit clean link without XON/XOFF.
    Png,
}

/// How CPCL graphics are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpclGraphics {
    /// `EG`: two hex digits per byte, safe on any link.
    #[default]
    Expanded,
    /// `CG`: raw bytes, half the size; needs an 8-bit clean link.
    Compressed,
}

/// Everything an encoder needs besides the raster. Built from a printer profile
/// (`printer::profile::Profile::job_settings`) or by hand in tests.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSettings {
    pub dpi: u32,
    /// Label size in dots; every page must fit inside it (it is placed at the top-left corner).
    pub width: u32,
    pub height: u32,
    /// Darkness in the language's own scale (ZPL `~SD` 0–30, TSPL `DENSITY` 0–15, EPL `D` 0–15,
    /// CPCL `CONTRAST` 0–3); `None` leaves the printer's setting alone.
    pub darkness: Option<u8>,
    /// Speed in the language's own unit (ZPL `^PR` and TSPL `SPEED` in inches per second, EPL `S` code,
    /// CPCL `SPEED` 0–5); `None` leaves the printer's setting alone.
    pub speed: Option<f32>,
    pub media: Media,
    /// Gap (or black-mark) length in millimetres.
    pub gap_mm: f32,
    /// Copies of each page.
    pub copies: u32,
    pub zpl_compression: ZplCompression,
    /// Rows per ESC/POS `GS v 0` band: small printers have small receive buffers.
    pub escpos_band_height: u32,
    /// ESC/POS: cut after each page (`GS V`), otherwise feed to the next label (`GS FF`).
    pub escpos_cut: bool,
    pub cpcl_graphics: CpclGraphics,
    /// TSPL `DIRECTION` (0 or 1): which way the label leaves the printer.
    pub tspl_direction: u8,
}

impl JobSettings {
    /// Defaults for a label of `width`×`height` dots: gap media (3 mm), one copy, printer's own darkness and speed.
    pub fn new(dpi: u32, width: u32, height: u32) -> JobSettings {
        JobSettings {
            dpi,
            width,
            height,
            darkness: None,
            speed: None,
            media: Media::Gap,
            gap_mm: 3.0,
            copies: 1,
            zpl_compression: ZplCompression::Z64,
            escpos_band_height: 128,
            escpos_cut: true,
            cpcl_graphics: CpclGraphics::Expanded,
            tspl_direction: 1,
        }
    }

    /// Settings sized to one raster.
    pub fn for_bitmap(dpi: u32, bmp: &Bitmap) -> JobSettings {
        JobSettings::new(dpi, bmp.width(), bmp.height())
    }

    /// Gap length in dots at this resolution.
    pub fn gap_dots(&self) -> u32 {
        (self.gap_mm * self.dpi as f32 / 25.4).round() as u32
    }
}

/// Why a raster cannot be encoded. Nothing is written when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("nothing to print: no pages")]
    NoPages,
    #[error("page {page} has no dots (zero width or height)")]
    EmptyPage { page: usize },
    #[error("page {page} is {width}×{height} dots, larger than the label ({label_width}×{label_height} dots at this profile)")]
    PageTooLarge { page: usize, width: u32, height: u32, label_width: u32, label_height: u32 },
    #[error("{language}: {problem}")]
    Limit { language: Language, problem: String },
}

/// Encodes pages (one label each) for a printer. All-or-nothing: an error means no bytes.
pub fn encode(lang: Language, pages: &[Bitmap], settings: &JobSettings) -> Result<Vec<u8>, EncodeError> {
    if pages.is_empty() {
        return Err(EncodeError::NoPages);
    }
    for (i, p) in pages.iter().enumerate() {
        if p.width() == 0 || p.height() == 0 {
            return Err(EncodeError::EmptyPage { page: i + 1 });
        }
        if p.width() > settings.width || p.height() > settings.height {
            return Err(EncodeError::PageTooLarge {
                page: i + 1,
                width: p.width(),
                height: p.height(),
                label_width: settings.width,
                label_height: settings.height,
            });
        }
    }
    match lang {
        Language::Zpl => zpl::encode(pages, settings),
        Language::Tspl => tspl::encode(pages, settings),
        Language::EscPos => escpos::encode(pages, settings),
        Language::Epl => epl::encode(pages, settings),
        Language::Cpcl => cpcl::encode(pages, settings),
    }
}

/// One thing a decoder recognised in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A label the printer would print, as the raster it burns (one per copy).
    Label(Bitmap),
    /// A status request the printer answers at once.
    StatusQuery(QueryKind),
    /// Any other command, understood or harmlessly ignored (setup, feed, cut…): a short description.
    /// Never carries field data, which may be buyer text.
    Other(String),
}

/// The status requests the virtual printer answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// ZPL `~HS`: three status strings.
    ZplHostStatus,
    /// ZPL `~HI`: model and firmware.
    ZplHostIdentification,
    /// ZPL `~HQ` with its query type, e.g. `ES` for `~HQES`.
    ZplHostQuery(String),
    /// TSPL `<ESC>!?`: one status byte.
    TsplStatus,
    /// TSPL `<ESC>!S`: the 8-byte extended status.
    TsplExtendedStatus,
    /// TSPL `<ESC>!R`: reset the printer (answered by nothing, acted on at once).
    TsplReset,
    /// TSPL `<ESC>!P` pause / `<ESC>!O` resume / `<ESC>!C` cancel-and-restart: immediate commands.
    TsplImmediate(char),
    /// ESC/POS `DLE EOT n`: real-time status, n = 1…4.
    EscPosRealtimeStatus(u8),
    /// ESC/POS `GS r n`: transmit status, n = 1 (paper) or 2 (drawer).
    EscPosTransmitStatus(u8),
    /// EPL2 `^ee`: error report.
    EplErrorReport,
    /// CPCL `ESC h`: the printer status byte.
    CpclStatus,
    /// CPCL `ESC i`: the extended status byte.
    CpclExtendedStatus,
}

/// Input a decoder cannot make sense of. Names the command and the problem; never panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{command} (byte {offset}): {problem}")]
pub struct DecodeError {
    /// The command as it appears on the wire, e.g. `^GF` or `BITMAP`.
    pub command: String,
    pub problem: String,
    /// Offset of the command's first byte in the stream.
    pub offset: u64,
}

impl DecodeError {
    pub(crate) fn new(command: impl Into<String>, offset: u64, problem: impl Into<String>) -> DecodeError {
        DecodeError { command: command.into(), problem: problem.into(), offset }
    }
}

/// A printer-language interpreter fed as bytes arrive. After an error the decoder drops the
/// label in progress and the rest of the bytes it had buffered, then continues with fresh input.
pub trait StreamDecoder {
    /// Feeds bytes; returns everything completed by them.
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<Decoded>, DecodeError>;
    /// The stream ended (connection closed): anything left half-sent is an error.
    fn finish(&mut self) -> Result<Vec<Decoded>, DecodeError>;
}

/// A fresh decoder for `lang` at the printer's resolution (TSPL converts millimetres with it).
pub fn decoder(lang: Language, dpi: u32) -> Box<dyn StreamDecoder + Send> {
    match lang {
        Language::Zpl => Box::new(zpl::Decoder::new()),
        Language::Tspl => Box::new(tspl::Decoder::new(dpi)),
        Language::EscPos => Box::new(escpos::Decoder::new()),
        Language::Epl => Box::new(epl::Decoder::new()),
        Language::Cpcl => Box::new(cpcl::Decoder::new()),
    }
}

/// Decodes a whole byte string at once.
pub fn decode_all(lang: Language, dpi: u32, bytes: &[u8]) -> Result<Vec<Decoded>, DecodeError> {
    let mut d = decoder(lang, dpi);
    let mut out = d.push(bytes)?;
    out.extend(d.finish()?);
    Ok(out)
}

/// Just the labels of a decoded stream.
pub fn labels(decoded: Vec<Decoded>) -> Vec<Bitmap> {
    decoded
        .into_iter()
        .filter_map(|d| match d {
            Decoded::Label(b) => Some(b),
            _ => None,
        })
        .collect()
}

/// Limits that keep a decoder's memory bounded whatever it is sent.
pub(crate) mod limits {
    /// Widest label in dots (a 4.1-inch head at 600 dpi is 2,460).
    pub const MAX_WIDTH: u32 = 4096;
    /// Longest label in dots (ZPL `^LL` accepts up to 32,000).
    pub const MAX_HEIGHT: u32 = 32_000;
    /// Copies of one label a virtual printer will produce.
    pub const MAX_COPIES: u64 = 1000;
    /// Bytes of one unfinished command held while waiting for the rest.
    pub const MAX_PENDING: usize = 64 << 20;
}

/// Helpers the decoders share: a bounded canvas and number parsing.
pub(crate) mod canvas {
    use super::{DecodeError, limits};
    use crate::bitmap::Bitmap;

    /// How a graphic combines with what is already on the label.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub enum Blend {
        /// Black dots burn, white dots leave the label alone (ZPL, EPL, CPCL, ESC/POS, TSPL `OR`).
        Or,
        /// The graphic replaces the area (TSPL `OVERWRITE`).
        Overwrite,
        /// Black dots toggle (TSPL `XOR`).
        Xor,
    }

    /// A white label of the given size, refused when it exceeds the limits.
    pub fn blank(command: &str, offset: u64, width: u32, height: u32) -> Result<Bitmap, DecodeError> {
        if width > limits::MAX_WIDTH || height > limits::MAX_HEIGHT {
            return Err(DecodeError::new(
                command,
                offset,
                format!("a {width}×{height}-dot label exceeds the {}×{} dots this printer accepts", limits::MAX_WIDTH, limits::MAX_HEIGHT),
            ));
        }
        Ok(Bitmap::new(width, height))
    }

    /// Draws packed rows (`stride` bytes each, MSB = leftmost dot) at x, y, clipped to the canvas.
    /// `black_is_one` false means a 0 bit burns (TSPL, EPL).
    pub fn blit(canvas: &mut Bitmap, x: i64, y: i64, data: &[u8], stride: usize, black_is_one: bool, blend: Blend) {
        if stride == 0 {
            return;
        }
        let rows = data.len() / stride;
        for r in 0..rows {
            let yy = y + r as i64;
            if yy < 0 || yy >= canvas.height() as i64 {
                continue;
            }
            let row = &data[r * stride..(r + 1) * stride];
            for (bx, &byte) in row.iter().enumerate() {
                let byte = if black_is_one { byte } else { !byte };
                let x0 = x + bx as i64 * 8;
                if x0 >= canvas.width() as i64 || x0 + 8 <= 0 {
                    continue;
                }
                if byte == 0 && blend != Blend::Overwrite {
                    continue;
                }
                for bit in 0..8 {
                    let xx = x0 + bit;
                    if xx < 0 || xx >= canvas.width() as i64 {
                        continue;
                    }
                    let black = byte & (0x80 >> bit) != 0;
                    let (xx, yy) = (xx as u32, yy as u32);
                    match blend {
                        Blend::Or => {
                            if black {
                                canvas.set(xx, yy, true)
                            }
                        }
                        Blend::Overwrite => canvas.set(xx, yy, black),
                        Blend::Xor => {
                            if black {
                                let cur = canvas.get(xx, yy);
                                canvas.set(xx, yy, !cur)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Copies `src` onto `dst` at x, y (black dots only).
    pub fn overlay(dst: &mut Bitmap, src: &Bitmap, x: i64, y: i64) {
        blit(dst, x, y, src.data(), src.stride(), true, Blend::Or);
    }

    /// A decimal integer parameter, named in the error.
    pub fn int(command: &str, offset: u64, name: &str, s: &str) -> Result<i64, DecodeError> {
        let t = s.trim();
        t.parse::<i64>()
            .map_err(|_| DecodeError::new(command, offset, format!("{name} must be a whole number, got {:?}", shorten(t))))
    }

    /// A non-negative integer parameter no larger than `max`.
    pub fn uint(command: &str, offset: u64, name: &str, s: &str, max: u64) -> Result<u64, DecodeError> {
        let v = int(command, offset, name, s)?;
        if v < 0 || v as u64 > max {
            return Err(DecodeError::new(command, offset, format!("{name} must be between 0 and {max}, got {v}")));
        }
        Ok(v as u64)
    }

    /// At most 24 characters of a parameter, for error messages.
    pub fn shorten(s: &str) -> String {
        let mut out: String = s.chars().take(24).collect();
        if s.chars().count() > 24 {
            out.push('…');
        }
        out
    }
}

/// Row ranges `[start, end)` that hold ink, with white gaps shorter than `min_gap` rows merged in:
/// languages that place graphics by position send only these.
pub(crate) fn ink_bands(bmp: &Bitmap, min_gap: u32) -> Vec<(u32, u32)> {
    let mut bands: Vec<(u32, u32)> = Vec::new();
    for y in 0..bmp.height() {
        if bmp.row(y).iter().all(|&b| b == 0) {
            continue;
        }
        match bands.last_mut() {
            Some(last) if y - last.1 < min_gap => last.1 = y + 1,
            _ => bands.push((y, y + 1)),
        }
    }
    bands
}

/// Whether a decoded label equals the original raster: same dots where they overlap, and nothing burnt
/// in any extra area (byte-wide formats pad each row to a multiple of 8 dots).
pub fn same_raster(original: &Bitmap, decoded: &Bitmap) -> bool {
    if decoded.width() < original.width() || decoded.height() < original.height() {
        return false;
    }
    if decoded.width() == original.width() && decoded.height() == original.height() {
        return decoded == original;
    }
    for y in 0..decoded.height() {
        for x in 0..decoded.width() {
            let want = x < original.width() && y < original.height() && original.get(x, y);
            if decoded.get(x, y) != want {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_names_round_trip() {
        for l in Language::ALL {
            assert_eq!(l.to_string().parse::<Language>().unwrap(), l);
        }
        assert!("pcl".parse::<Language>().unwrap_err().contains("zpl, tspl"));
    }

    #[test]
    fn oversized_page_is_refused_before_encoding() {
        let s = JobSettings::new(203, 16, 16);
        let err = encode(Language::Zpl, &[Bitmap::new(17, 16)], &s).unwrap_err();
        assert!(matches!(err, EncodeError::PageTooLarge { page: 1, .. }), "{err}");
        assert_eq!(encode(Language::Tspl, &[], &s).unwrap_err(), EncodeError::NoPages);
    }
}
