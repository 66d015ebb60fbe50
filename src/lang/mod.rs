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

use std::any::Any;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::bitmap::Bitmap;

pub mod status;

pub use status::{Details, PrinterState, Status, StatusProtocol};

/// Declares the language modules and the one list everything iterates (`ALL`, `FromStr`, `name`, help
/// texts). Adding a printer language is one new file holding its `DIALECT`, plus one line here.
macro_rules! dialects {
    ($($handle:ident => $module:ident),* $(,)?) => {
        $(pub mod $module;)*

        #[allow(non_upper_case_globals)]
        impl Language {
            $(pub const $handle: Language = Language(&$module::DIALECT);)*
            /// Every printer language labeld speaks, in the order help texts list them.
            pub const ALL: [Language; [$(stringify!($module)),*].len()] = [$(Language::$handle),*];
        }
    };
}

dialects! {
    Zpl => zpl,
    Tspl => tspl,
    EscPos => escpos,
    Epl => epl,
    Cpcl => cpcl,
}

/// Everything labeld knows about one printer language, filled in by that language's file.
pub struct Dialect {
    /// The name profiles, the CLI and the API use: `zpl`.
    pub name: &'static str,
    /// What it is, for help texts: `Zebra ZPL II`.
    pub title: &'static str,
    /// The darkness and speed its commands accept, in its own units.
    pub ranges: Ranges,
    /// Pages (one label each) to printer bytes. Called through [`encode`], which checks sizes and ranges.
    pub encode: fn(&[Bitmap], &JobSettings) -> Result<Vec<u8>, EncodeError>,
    /// A fresh stream decoder at the printer's resolution.
    pub decoder: fn(dpi: u32) -> Box<dyn StreamDecoder + Send>,
    /// The status request its printers answer and how to read the answer; `None` when labeld reads none
    /// (status then comes from the link).
    pub status: Option<StatusProtocol>,
    /// Reads a profile's `[options]` table into this language's own settings ([`Options`]).
    pub options: fn(&OptionsInput) -> Result<Options, OptionError>,
    /// What a printer of this language in the given condition answers to a query its decoder recognised;
    /// empty where a real printer's answer is not emulated (silence reads as "unknown", never "ready").
    pub answer: fn(&Query, &Condition) -> Vec<u8>,
}

/// A setting's accepted values and the command that carries it, for messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range<T> {
    pub command: &'static str,
    pub min: T,
    pub max: T,
}

impl<T: PartialOrd + Copy> Range<T> {
    pub fn contains(&self, v: T) -> bool {
        self.min <= v && v <= self.max
    }
}

/// `None` means the language has no such command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranges {
    pub darkness: Option<Range<u8>>,
    /// In the language's own unit (inches per second or a speed code), as `JobSettings::speed` holds it.
    pub speed: Option<Range<f32>>,
}

/// A printer command language: a handle on its [`Dialect`].
#[derive(Clone, Copy)]
pub struct Language(&'static Dialect);

impl Language {
    pub fn dialect(self) -> &'static Dialect {
        self.0
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The status protocol its printers answer, if labeld reads one.
    pub fn status(self) -> Option<&'static StatusProtocol> {
        self.0.status.as_ref()
    }

    /// Every language's name, for messages: `zpl, tspl, …`.
    pub fn names() -> String {
        Language::ALL.iter().map(|l| l.name()).collect::<Vec<_>>().join(", ")
    }
}

impl PartialEq for Language {
    fn eq(&self, other: &Language) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Language {}

impl std::hash::Hash for Language {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.name.hash(h)
    }
}

impl fmt::Debug for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Language({})", self.0.name)
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
        Language::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("{s:?} is not a printer language; expected one of {}", Language::names()))
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

/// Each language's own settings (ZPL compression, ESC/POS band height…), one value per language's type.
/// An encoder reads its own type with [`Options::get`] and gets that type's defaults when none was set.
#[derive(Clone, Default)]
pub struct Options {
    set: Vec<Arc<dyn LanguageOptions>>,
}

/// A language's options type: plain data the encoder reads.
pub trait LanguageOptions: Any + fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn same(&self, other: &dyn LanguageOptions) -> bool;
}

impl<T: Any + fmt::Debug + PartialEq + Send + Sync> LanguageOptions for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn same(&self, other: &dyn LanguageOptions) -> bool {
        other.as_any().downcast_ref::<T>().is_some_and(|o| o == self)
    }
}

impl Options {
    /// Options holding one language's settings.
    pub fn of<T: LanguageOptions>(o: T) -> Options {
        let mut options = Options::default();
        options.set(o);
        options
    }

    /// Sets one language's settings, replacing earlier ones of the same type.
    pub fn set<T: LanguageOptions>(&mut self, o: T) {
        self.set.retain(|x| !x.as_any().is::<T>());
        self.set.push(Arc::new(o));
    }

    /// The settings of type `T`, or its defaults.
    pub fn get<T: LanguageOptions + Default + Clone>(&self) -> T {
        self.set.iter().find_map(|x| x.as_any().downcast_ref::<T>()).cloned().unwrap_or_default()
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.set.iter()).finish()
    }
}

impl PartialEq for Options {
    fn eq(&self, other: &Options) -> bool {
        self.set.len() == other.set.len() && self.set.iter().all(|a| other.set.iter().any(|b| a.same(b.as_ref())))
    }
}

/// A profile's text, for a language's `options` reader: it reads its own keys of the `[options]` table with
/// their positions, so errors carry the line.
pub struct OptionsInput<'a> {
    pub text: &'a str,
    /// False on a serial link with XON/XOFF flow control, where raw binary bytes would be taken as flow control.
    pub binary_safe: bool,
}

impl OptionsInput<'_> {
    /// The `[options]` table as `T` (`T` names its keys and denies the rest); an absent table is `T::default()`.
    pub fn table<T: serde::de::DeserializeOwned + Default>(&self) -> Result<T, OptionError> {
        #[derive(serde::Deserialize)]
        struct Profile<T> {
            options: Option<T>,
        }
        let p: Profile<T> = toml::from_str(self.text).map_err(|e| OptionError { span: e.span(), message: format!("options: {}", e.message()) })?;
        Ok(p.options.unwrap_or_default())
    }
}

/// A bad value in a profile's `[options]`: where (a byte range of the profile's text) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub span: Option<std::ops::Range<usize>>,
    pub message: String,
}

impl OptionError {
    pub fn at<T>(value: &toml::Spanned<T>, message: String) -> OptionError {
        OptionError { span: Some(value.span()), message }
    }
}

/// The reader for languages without options: an `[options]` table must be empty.
pub(crate) fn no_options(input: &OptionsInput) -> Result<Options, OptionError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Empty {}
    input.table::<Empty>().map(|_| Options::default())
}

/// Everything an encoder needs besides the raster. Built from a printer profile
/// (`printer::profile::Profile::job_settings`) or by hand in tests.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSettings {
    pub dpi: u32,
    /// Label size in dots; every page must fit inside it (it is placed at the top-left corner).
    pub width: u32,
    pub height: u32,
    /// Darkness in the language's own scale ([`Ranges::darkness`]); `None` leaves the printer's setting alone.
    pub darkness: Option<u8>,
    /// Speed in the language's own unit ([`Ranges::speed`]); `None` leaves the printer's setting alone.
    pub speed: Option<f32>,
    pub media: Media,
    /// Gap (or black-mark) length in millimetres.
    pub gap_mm: f32,
    /// Copies of each page.
    pub copies: u32,
    /// The language's own settings.
    pub options: Options,
}

impl JobSettings {
    /// Defaults for a label of `width`×`height` dots: gap media (3 mm), one copy, printer's own darkness and speed.
    pub fn new(dpi: u32, width: u32, height: u32) -> JobSettings {
        JobSettings { dpi, width, height, darkness: None, speed: None, media: Media::Gap, gap_mm: 3.0, copies: 1, options: Options::default() }
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
    let ranges = &lang.dialect().ranges;
    if let Some(d) = settings.darkness {
        // A language without the command leaves it out (profiles refuse the setting for it).
        if let Some(r) = ranges.darkness.filter(|r| !r.contains(d)) {
            return Err(EncodeError::Limit { language: lang, problem: format!("darkness {d} is outside {}'s {}–{}", r.command, r.min, r.max) });
        }
    }
    if let Some(v) = settings.speed {
        if let Some(r) = ranges.speed.filter(|r| !r.contains(v)) {
            return Err(EncodeError::Limit { language: lang, problem: format!("speed {v} is outside {}'s {}–{}", r.command, r.min, r.max) });
        }
    }
    (lang.dialect().encode)(pages, settings)
}

/// One thing a decoder recognised in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A label the printer would print, as the raster it burns (one per copy).
    Label(Bitmap),
    /// A request the printer answers (or acts on) at once.
    StatusQuery(Query),
    /// Any other command, understood or harmlessly ignored (setup, feed, cut…): a short description.
    /// Never carries field data, which may be buyer text.
    Other(String),
}

/// An immediate request, named as the language's manual writes it: `~HS`, `~HQES`, `<ESC>!?`, `DLE EOT 1`.
/// The language's own `answer` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query(pub String);

impl Query {
    pub fn new(command: impl Into<String>) -> Query {
        Query(command.into())
    }
}

/// What a printer is like when it answers a query: its conditions and resolution (the virtual printer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub details: Details,
    pub dpi: u32,
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
    (lang.dialect().decoder)(dpi)
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
