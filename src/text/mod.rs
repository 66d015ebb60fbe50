//! Text: fonts found on the system, a fallback chain per script, shaping and line breaking.
//!
//! CONTRACT (implemented by the text engine work; signatures are what layout and the painters use):
//! - `Fonts::load(&FontConfig)` discovers faces (system dirs + configured dirs), builds fallback chains.
//! - `Fonts::layout(text, &TextStyle, max_width)` shapes and breaks into lines; a character no face covers
//!   is `TextError::MissingGlyph` with the character and its byte offset.
//! - `Fonts::glyph_mask(face, glyph, size_px)` gives a cached coverage mask for the raster painter.
//! - `Fonts::face_data(face)` gives the font bytes and index for the PDF painter's embedding.
//!
//! The stages, one submodule each: `fonts` (discovery, chains, lazy loading), `itemize` (runs by face
//! and script), `shape` (rustybuzz), `breaking` (UAX #14 + greedy fill), `raster` (coverage masks).

mod breaking;
pub mod font_index;
mod fonts;
mod itemize;
mod raster;
mod shape;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use icu_segmenter::LineSegmenter;
use icu_segmenter::options::{LineBreakOptions, LineBreakStrictness};

use fonts::{CjkFlavor, FontSet};
use shape::{PlanCache, ShapedGlyph};

/// Identifies one loaded face (a file and index) for as long as the `Fonts` lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaceId(pub u32);

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Weight {
    #[default]
    Regular,
    Bold,
}

#[derive(Debug, Clone, Default)]
pub struct FontConfig {
    /// Extra directories searched before the system ones.
    pub dirs: Vec<PathBuf>,
    /// Skip the system font directories (hermetic tests).
    pub no_system: bool,
    /// Skip the DejaVu Sans compiled into the binary (tests of discovery itself).
    pub no_builtin: bool,
    /// Keep the system font index in this file between runs (`font_index::user_cache_file()` for the
    /// CLI); `None` scans every time.
    pub index_cache: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextStyle {
    /// Pixels (dots) per em.
    pub size_px: f32,
    pub weight: Weight,
    /// Baseline-to-baseline distance as a multiple of `size_px`.
    pub line_height: f32,
}

/// A shaped, broken paragraph. Coordinates are in dots relative to the paragraph's top-left, y down.
/// Lines' byte ranges tile the text in order: a line's range includes its trailing spaces and the hard
/// line break that ends it (neither is drawn).
#[derive(Debug, Clone, Default)]
pub struct Paragraph {
    pub lines: Vec<Line>,
    /// Widest line's advance.
    pub width: f32,
    /// Top of the first line to the bottom of the last line's descent.
    pub height: f32,
}

#[derive(Debug, Clone, Default)]
pub struct Line {
    pub glyphs: Vec<Glyph>,
    /// Advance width of the line (trailing spaces excluded).
    pub width: f32,
    /// Baseline position from the paragraph top.
    pub baseline: f32,
    /// Byte range of the source text this line shows.
    pub range: std::ops::Range<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glyph {
    pub face: FaceId,
    pub id: u16,
    /// Pen position of the glyph origin, relative to the line start and the baseline (y down).
    pub x: f32,
    pub y: f32,
    /// Byte offset of the cluster in the source text.
    pub cluster: u32,
}

/// Coverage of one glyph at one size: 0 = none, 255 = full.
#[derive(Debug, Clone, Default)]
pub struct GlyphMask {
    /// Offset of the mask's top-left from the glyph origin (y down), in whole dots.
    pub left: i32,
    pub top: i32,
    pub width: u32,
    pub height: u32,
    pub coverage: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    #[error("no installed font has the character {ch:?} (U+{:04X}) at byte {offset}", *ch as u32)]
    MissingGlyph { ch: char, offset: usize },
    #[error(
        "no usable font found (searched {searched}); install fonts-dejavu-core or set [fonts] dirs"
    )]
    NoFonts { searched: String },
}

/// The loaded fonts. Cheap to clone and shareable across threads.
#[derive(Clone)]
pub struct Fonts {
    inner: Arc<Inner>,
}

/// Masks kept before the cache is emptied: bounds memory in a long-running daemon (a CJK batch can
/// touch thousands of glyphs at several sizes) while one label (~500 glyphs) always fits.
const MASK_CACHE_LIMIT: usize = 50_000;

type MaskKey = (FaceId, u16, u32);

struct Inner {
    set: FontSet,
    plans: PlanCache,
    masks: RwLock<HashMap<MaskKey, Arc<GlyphMask>>>,
    line_segmenter: icu_segmenter::LineSegmenterBorrowed<'static>,
}

/// Hard line breaks: LF, CR, CR LF, VT, FF, NEL, LINE and PARAGRAPH SEPARATOR.
fn hard_break_len(text: &str, at: usize) -> Option<usize> {
    let rest = &text[at..];
    let ch = rest.chars().next()?;
    match ch {
        '\r' if rest.as_bytes().get(1) == Some(&b'\n') => Some(2),
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
            Some(ch.len_utf8())
        }
        _ => None,
    }
}

/// The hard lines of `text`: (content range, end including the terminator). A terminator at the very
/// end does not start an extra empty line.
fn hard_lines(text: &str) -> Vec<(std::ops::Range<usize>, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        if let Some(len) = hard_break_len(text, i) {
            out.push((start..i, i + len));
            i += len;
            start = i;
        } else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if start < text.len() || out.is_empty() && !text.is_empty() {
        out.push((start..text.len(), text.len()));
    }
    out
}

impl Fonts {
    /// Discover fonts (configured dirs first, then the system's unless `no_system`) and resolve the
    /// fallback chains. Font files are read on first use.
    pub fn load(cfg: &FontConfig) -> Result<Fonts, TextError> {
        let set = FontSet::load(cfg)?;
        let mut options = LineBreakOptions::default();
        // Normal (CSS line-break: normal) also allows breaks before small kana, as Japanese labels do.
        options.strictness = Some(LineBreakStrictness::Normal);
        let line_segmenter = LineSegmenter::new_dictionary(options);
        Ok(Fonts {
            inner: Arc::new(Inner {
                set,
                plans: PlanCache::default(),
                masks: RwLock::new(HashMap::new()),
                line_segmenter,
            }),
        })
    }

    /// Shape + break. `max_width` None = one line per hard line break. Wraps at line-break
    /// opportunities; a single word wider than `max_width` is broken between clusters.
    pub fn layout(
        &self,
        text: &str,
        style: &TextStyle,
        max_width: Option<f32>,
    ) -> Result<Paragraph, TextError> {
        let set = &self.inner.set;
        let size = if style.size_px.is_finite() && style.size_px > 0.0 {
            style.size_px
        } else {
            0.0
        };
        let limit = max_width.filter(|w| !w.is_nan()).unwrap_or(f32::INFINITY);
        let flavor = CjkFlavor::of_text(text);

        let mut lines: Vec<Line> = Vec::new();
        let mut glyphs: Vec<ShapedGlyph> = Vec::new();
        for (content, end) in hard_lines(text) {
            glyphs.clear();
            if !content.is_empty() {
                let runs = itemize::itemize(set, text, content.clone(), style.weight, flavor)?;
                shape::shape_line(
                    set,
                    &self.inner.plans,
                    text,
                    content.clone(),
                    &runs,
                    size,
                    &mut glyphs,
                )?;
            }
            let widths = breaking::ClusterWidths::new(text, &glyphs);
            let ranges = breaking::break_line(
                self.inner.line_segmenter,
                text,
                content.clone(),
                &widths,
                limit,
            );
            let count = ranges.len();
            for (i, range) in ranges.into_iter().enumerate() {
                let visible_end = widths.trimmed_end(range.clone());
                let mut pen = 0.0f32;
                let mut line_glyphs = Vec::new();
                for g in glyphs
                    .iter()
                    .filter(|g| g.cluster >= range.start && g.cluster < visible_end)
                {
                    line_glyphs.push(Glyph {
                        face: g.face,
                        id: g.id,
                        x: pen + g.x_offset,
                        y: g.y_offset,
                        cluster: g.cluster as u32,
                    });
                    pen += g.advance;
                }
                let range_end = if i + 1 == count { end } else { range.end };
                lines.push(Line {
                    glyphs: line_glyphs,
                    width: pen,
                    baseline: 0.0,
                    range: range.start..range_end,
                });
            }
        }

        let (ascent, descent) = match set.loaded(set.primary()) {
            Some(face) => (face.ascender_em() * size, face.descender_em() * size),
            None => (0.8 * size, 0.2 * size),
        };
        let step = style.line_height * size;
        for (i, line) in lines.iter_mut().enumerate() {
            line.baseline = ascent + i as f32 * step;
        }
        let width = lines.iter().map(|l| l.width).fold(0.0, f32::max);
        let height = if lines.is_empty() {
            0.0
        } else {
            ascent + (lines.len() - 1) as f32 * step + descent
        };
        Ok(Paragraph {
            lines,
            width,
            height,
        })
    }

    /// Coverage mask of `glyph` at `size_px`, rasterized once per (face, glyph, size in 1/64 px).
    pub fn glyph_mask(&self, face: FaceId, glyph: u16, size_px: f32) -> Arc<GlyphMask> {
        let size64 = if size_px.is_finite() && size_px > 0.0 {
            (size_px * 64.0).round() as u32
        } else {
            0
        };
        let key = (face, glyph, size64);
        if let Some(mask) = self
            .inner
            .masks
            .read()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return mask;
        }
        // Rasterize outside the lock: other threads keep reading meanwhile.
        let mask = match self.inner.set.loaded(face) {
            Some(loaded) if size64 > 0 => {
                Arc::new(raster::rasterize(loaded.rb(), glyph, size64 as f32 / 64.0))
            }
            _ => Arc::new(GlyphMask::default()),
        };
        match self.inner.masks.write() {
            Ok(mut masks) => {
                if masks.len() >= MASK_CACHE_LIMIT {
                    masks.clear();
                }
                // If another thread won the race, hand out its Arc so callers see one mask.
                masks.entry(key).or_insert(mask).clone()
            }
            Err(_) => mask,
        }
    }

    /// The whole font file and the face's index in it (for PDF embedding).
    pub fn face_data(&self, face: FaceId) -> (Arc<[u8]>, u32) {
        self.inner.set.face_data(face)
    }

    /// PostScript name (family name when the font has none), for PDF and `labeld doctor`.
    pub fn face_name(&self, face: FaceId) -> String {
        self.inner.set.face_name(face)
    }

    /// Some installed face draws `ch` (in `weight` when that face has a bold, else regular).
    /// Invisible characters (controls, ZWJ, variation selectors...) need no face and are covered.
    pub fn covers(&self, ch: char, weight: Weight) -> bool {
        itemize::is_invisible(ch) || self.inner.set.any_face_for(ch, weight).is_some()
    }

    /// For `labeld doctor`: each script labels commonly carry and the face that draws it (None when
    /// nothing installed covers the sample).
    pub fn coverage_report(&self) -> Vec<(String, Option<String>)> {
        const SAMPLES: &[(&str, &str)] = &[
            ("Latin", "Aa0"),
            ("Vietnamese", "ễươđ"),
            ("Greek", "ΑΩω"),
            ("Cyrillic", "ДЖж"),
            ("Thai", "กสมชาย"),
            ("Han (Chinese)", "中国北京"),
            ("Hiragana/Katakana", "あカ"),
            ("Hangul", "한국"),
            ("Lao", "ລາວ"),
            ("Khmer", "ខ្មែរ"),
            ("Myanmar", "မြန်"),
            ("Arabic", "عربي"),
            ("Hebrew", "עברית"),
            ("Devanagari", "हिन्दी"),
        ];
        SAMPLES
            .iter()
            .map(|&(name, sample)| {
                let style = TextStyle {
                    size_px: 16.0,
                    weight: Weight::Regular,
                    line_height: 1.2,
                };
                let faces = self.layout(sample, &style, None).ok().map(|p| {
                    let mut ids: Vec<FaceId> = p
                        .lines
                        .iter()
                        .flat_map(|l| l.glyphs.iter().map(|g| g.face))
                        .collect();
                    ids.dedup();
                    ids.iter()
                        .map(|&id| self.face_name(id))
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                (name.to_string(), faces.filter(|f| !f.is_empty()))
            })
            .collect()
    }

    #[cfg(test)]
    pub(crate) fn has_family(&self, name: &str) -> bool {
        self.inner.set.has_family(name)
    }

    /// The face whose ascender and descender set every paragraph's line metrics.
    pub fn primary_face(&self) -> FaceId {
        self.inner.set.primary()
    }
}
