//! The laid-out document: every mark of a label, positioned in printer dots.
//!
//! Layout produces a `Document` once; the raster, PNG and PDF painters only draw it. Nothing in here knows
//! about orders or templates, and nothing in a painter decides where things go.

use crate::text::FaceId;

/// An axis-aligned rectangle in dots, origin top-left, y down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    pub const fn new(x: i32, y: i32, w: i32, h: i32) -> Rect {
        Rect { x, y, w, h }
    }
    pub fn right(&self) -> i32 {
        self.x + self.w
    }
    pub fn bottom(&self) -> i32 {
        self.y + self.h
    }
    pub fn is_empty(&self) -> bool {
        self.w <= 0 || self.h <= 0
    }
    pub fn intersects(&self, o: &Rect) -> bool {
        !self.is_empty() && !o.is_empty() && self.x < o.right() && o.x < self.right() && self.y < o.bottom() && o.y < self.bottom()
    }
    pub fn contains(&self, o: &Rect) -> bool {
        o.x >= self.x && o.y >= self.y && o.right() <= self.right() && o.bottom() <= self.bottom()
    }
    /// The smallest rectangle holding both (an empty one is ignored).
    pub fn union(&self, o: &Rect) -> Rect {
        if self.is_empty() {
            return *o;
        }
        if o.is_empty() {
            return *self;
        }
        let x = self.x.min(o.x);
        let y = self.y.min(o.y);
        Rect::new(x, y, self.right().max(o.right()) - x, self.bottom().max(o.bottom()) - y)
    }
}

/// Which way a mark burns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ink {
    #[default]
    Black,
    /// Knocked out of a black fill (white-on-black headings).
    White,
}

/// A page of marks at a fixed resolution.
#[derive(Debug, Clone)]
pub struct Document {
    /// Page size in dots.
    pub width: u32,
    pub height: u32,
    /// Dots per inch the positions are in.
    pub dpi: u32,
    /// Painted in order: later marks over earlier ones.
    pub elements: Vec<Element>,
}

impl Document {
    /// Millimetres to dots at this document's resolution, rounded to the nearest dot.
    pub fn dots(&self, mm: f32) -> i32 {
        mm_to_dots(mm, self.dpi)
    }

    /// The tracking barcode(s) and others, in paint order.
    pub fn barcodes(&self) -> impl Iterator<Item = &Barcode> {
        self.elements.iter().filter_map(|e| match e {
            Element::Barcode(b) => Some(b),
            _ => None,
        })
    }

    pub fn texts(&self) -> impl Iterator<Item = &TextRun> {
        self.elements.iter().filter_map(|e| match e {
            Element::Text(t) => Some(t),
            _ => None,
        })
    }
}

pub fn mm_to_dots(mm: f32, dpi: u32) -> i32 {
    (mm * dpi as f32 / 25.4).round() as i32
}

#[derive(Debug, Clone)]
pub enum Element {
    /// A filled rectangle: rules, bars of a box, black panels behind white text.
    Fill { rect: Rect, ink: Ink },
    /// A rectangle outline of `thickness` dots drawn inside `rect`.
    Frame { rect: Rect, thickness: i32 },
    Text(TextRun),
    Barcode(Barcode),
    Image(Image),
}

impl Element {
    /// The area the element may mark: what overlap and bounds checks use.
    pub fn bounds(&self) -> Rect {
        match self {
            Element::Fill { rect, .. } | Element::Frame { rect, .. } => *rect,
            Element::Text(t) => t.ink_bounds,
            Element::Barcode(b) => b.bounds(),
            Element::Image(i) => i.rect,
        }
    }
}

/// Shaped text, already broken into lines and placed.
#[derive(Debug, Clone)]
pub struct TextRun {
    /// The template element this came from (for errors and overlap reports).
    pub element: String,
    /// The order field(s) it shows, e.g. `recipient.name`, or `static` for template text.
    pub source: String,
    /// The text as printed (after any masking or formatting), for PDF text and tests.
    pub text: String,
    /// Size the text was finally laid out at, in dots (pixels per em).
    pub size_px: f32,
    pub ink: Ink,
    /// The box the template gave; glyphs stay inside it.
    pub frame: Rect,
    /// The box the glyphs actually cover (line boxes: ascent to descent, start to advance).
    pub ink_bounds: Rect,
    pub glyphs: Vec<PlacedGlyph>,
}

/// One glyph at its baseline origin, in document dots.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacedGlyph {
    pub face: FaceId,
    pub id: u16,
    pub x: f32,
    pub y: f32,
    /// Byte offset into `TextRun::text` of the cluster this glyph draws (PDF ToUnicode, selection).
    pub cluster: u32,
}

/// A linear barcode, already encoded to modules.
#[derive(Debug, Clone)]
pub struct Barcode {
    pub element: String,
    pub source: String,
    /// The data encoded, exactly as a scanner must read it back.
    pub data: String,
    /// Left edge of the first bar and top of the bars, in dots.
    pub x: i32,
    pub y: i32,
    /// Width of one module in whole dots (a fractional module would print uneven bars).
    pub module: i32,
    pub height: i32,
    /// Quiet zone kept clear on each side, in dots.
    pub quiet: i32,
    /// true = bar. Length × module = width of the symbol.
    pub modules: Vec<bool>,
}

impl Barcode {
    pub fn width(&self) -> i32 {
        self.modules.len() as i32 * self.module
    }
    /// The symbol with its quiet zones: nothing else may draw here.
    pub fn bounds(&self) -> Rect {
        Rect::new(self.x - self.quiet, self.y, self.width() + 2 * self.quiet, self.height)
    }
    /// Bars as (x, width) runs in dots, left to right: what painters draw.
    pub fn bars(&self) -> Vec<(i32, i32)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.modules.len() {
            if self.modules[i] {
                let start = i;
                while i < self.modules.len() && self.modules[i] {
                    i += 1;
                }
                out.push((self.x + start as i32 * self.module, (i - start) as i32 * self.module));
            } else {
                i += 1;
            }
        }
        out
    }
}

/// A 1-bit image placed on the page (logos, carrier marks), scaled to `rect` by whole dots.
#[derive(Debug, Clone)]
pub struct Image {
    pub element: String,
    pub rect: Rect,
    pub bitmap: crate::bitmap::Bitmap,
}
