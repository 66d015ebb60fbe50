//! Layout: a template and an order's fields become a [`Document`] of positioned marks, in dots.
//!
//! This is the only place that decides where things go. It shrinks text to fit its box, picks a barcode
//! module width that is a whole number of dots, and refuses (rather than clips) what cannot fit, so every
//! painter draws the same label and no painter needs judgement.

use std::ops::Range;

use crate::barcode::code128;
use crate::document::{Barcode, Document, Element, Ink, PlacedGlyph, Rect, TextRun, mm_to_dots};
use crate::fields::{self, Fields};
use crate::template::{Align, Body, BoxMm, Overflow, Piece, Template, TextSpec, VAlign};
use crate::text::{Fonts, Paragraph, TextError, TextStyle};

/// The narrowest bar a thermal printer and a scanner handle reliably (most carriers ask for ≥ 0.25 mm).
const MIN_MODULE_MM: f32 = 0.25;

/// Why a label cannot be laid out. Each names the template element and the order field behind it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayoutError {
    #[error("{field}: no installed font can print {ch:?} (U+{:04X}) (element `{element}`)", *ch as u32)]
    MissingGlyph { element: String, field: String, ch: char },
    #[error("{field}: {} (element `{element}`)", overflow_advice(*width_mm, *height_mm, *min_size_pt, *max_lines, *chars, *fit_chars))]
    Overflow {
        element: String,
        field: String,
        width_mm: f32,
        height_mm: f32,
        min_size_pt: f32,
        /// The most lines the box may take (None: as many as its height allows).
        max_lines: Option<u32>,
        /// Characters in the text, and how many of them fit at the minimum size.
        chars: usize,
        fit_chars: usize,
    },
    #[error("{field}: {message} (element `{element}`)")]
    Barcode { element: String, field: String, message: String },
    #[error("fonts: {0}")]
    Fonts(String),
}

impl LayoutError {
    /// The compliance rule id this refusal belongs to (DESIGN.md, Compliance).
    pub fn rule(&self) -> &'static str {
        match self {
            LayoutError::MissingGlyph { .. } => "missing_glyph",
            LayoutError::Overflow { .. } => "overflow",
            LayoutError::Barcode { .. } => "barcode",
            LayoutError::Fonts(_) => "fonts",
        }
    }
    pub fn field(&self) -> &str {
        match self {
            LayoutError::MissingGlyph { field, .. } | LayoutError::Overflow { field, .. } | LayoutError::Barcode { field, .. } => field,
            LayoutError::Fonts(_) => "",
        }
    }
}

/// What a person fixing the order needs: the box, the smallest size tried and how many characters to
/// cut ("shorten by 12 characters"), never the text itself (it may be buyer data).
pub fn overflow_advice(width_mm: f32, height_mm: f32, min_size_pt: f32, max_lines: Option<u32>, chars: usize, fit_chars: usize) -> String {
    let lines = match max_lines {
        Some(1) => " on one line".to_string(),
        Some(n) => format!(" on up to {n} lines"),
        None => String::new(),
    };
    format!(
        "{chars} characters do not fit the {width_mm}×{height_mm} mm box{lines} even at {min_size_pt} pt; \
         at most {fit_chars} fit, shorten it by {} characters",
        chars.saturating_sub(fit_chars).max(1)
    )
}

/// Lays out `template` with `fields` at `dpi`. Returns every problem, not just the first, so one
/// correction round fixes an order.
pub fn layout(template: &Template, fields: &Fields, fonts: &Fonts, dpi: u32) -> Result<Document, Vec<LayoutError>> {
    let mut doc = Document {
        width: mm_to_dots(template.width_mm, dpi).max(1) as u32,
        height: mm_to_dots(template.height_mm, dpi).max(1) as u32,
        dpi,
        elements: Vec::with_capacity(template.elements.len()),
    };
    let mut errors = Vec::new();
    for el in &template.elements {
        if el.when.is_some_and(|f| fields.get(f).trim().is_empty()) {
            continue;
        }
        let rect = rect_dots(el.rect, dpi);
        match &el.body {
            Body::Fill { white } => doc.elements.push(Element::Fill { rect, ink: if *white { Ink::White } else { Ink::Black } }),
            Body::Frame { thickness_mm } => {
                doc.elements.push(Element::Frame { rect, thickness: mm_to_dots(*thickness_mm, dpi).max(1) })
            }
            Body::Image(bitmap) => doc.elements.push(Element::Image(crate::document::Image { element: el.id.clone(), rect, bitmap: bitmap.clone() })),
            Body::Text(spec) => {
                let bound = bind(&spec.pieces, fields);
                if bound.text.trim().is_empty() {
                    continue;
                }
                match place_text(&el.id, spec, &bound, rect, el.rect, fonts, dpi) {
                    Ok(run) => doc.elements.push(Element::Text(run)),
                    Err(e) => errors.push(e),
                }
            }
            Body::Barcode(spec) => {
                let bound = bind(&spec.pieces, fields);
                if bound.text.is_empty() {
                    continue;
                }
                match place_barcode(&el.id, spec.max_module_mm, &bound, rect, dpi) {
                    Ok(b) => doc.elements.push(Element::Barcode(b)),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    if errors.is_empty() { Ok(doc) } else { Err(errors) }
}

/// A template text with its fields filled in, remembering which bytes came from which field.
struct Bound {
    text: String,
    spans: Vec<(Range<usize>, &'static str)>,
}

impl Bound {
    /// The order path behind a byte offset, or "static" for the template's own words.
    fn source_at(&self, offset: usize, element: &str) -> String {
        self.spans
            .iter()
            .find(|(r, _)| r.contains(&offset))
            .map(|(_, f)| fields::source_path(f).to_string())
            .unwrap_or_else(|| format!("template.{element}"))
    }
    fn sources(&self) -> String {
        let mut names: Vec<&str> = self.spans.iter().map(|(_, f)| fields::source_path(f)).collect();
        names.dedup();
        if names.is_empty() { "static".into() } else { names.join(",") }
    }
}

fn bind(pieces: &[Piece], fields: &Fields) -> Bound {
    let mut text = String::new();
    let mut spans = Vec::new();
    for p in pieces {
        match p {
            Piece::Literal(s) => text.push_str(s),
            Piece::Field(f) => {
                let start = text.len();
                text.push_str(fields.get(f));
                spans.push((start..text.len(), *f));
            }
        }
    }
    Bound { text, spans }
}

fn rect_dots(b: BoxMm, dpi: u32) -> Rect {
    // Convert edges, not sizes, so boxes that share an edge in millimetres share it in dots.
    let x0 = mm_to_dots(b.x, dpi);
    let y0 = mm_to_dots(b.y, dpi);
    Rect::new(x0, y0, mm_to_dots(b.x + b.w, dpi) - x0, mm_to_dots(b.y + b.h, dpi) - y0)
}

fn pt_to_px(pt: f32, dpi: u32) -> f32 {
    pt * dpi as f32 / 72.0
}

fn place_text(id: &str, spec: &TextSpec, bound: &Bound, frame: Rect, mm: BoxMm, fonts: &Fonts, dpi: u32) -> Result<TextRun, LayoutError> {
    let missing = |e: TextError| match e {
        TextError::MissingGlyph { ch, offset } => {
            LayoutError::MissingGlyph { element: id.to_string(), field: bound.source_at(offset, id), ch }
        }
        other => LayoutError::Fonts(other.to_string()),
    };
    let overflow = |fit_chars: usize| LayoutError::Overflow {
        element: id.to_string(),
        field: bound.sources(),
        width_mm: mm.w,
        height_mm: mm.h,
        min_size_pt: spec.min_size_pt,
        max_lines: if spec.wrap { spec.max_lines } else { Some(1) },
        chars: bound.text.chars().count(),
        fit_chars,
    };
    let max_px = pt_to_px(spec.size_pt, dpi);
    let min_px = pt_to_px(spec.min_size_pt, dpi);
    let try_size = |px: f32, text: &str| -> Result<Option<(Paragraph, Vec<PlacedGlyph>, Rect)>, LayoutError> {
        let style = TextStyle { size_px: px, weight: spec.weight, line_height: spec.line_height };
        let para = fonts.layout(text, &style, spec.wrap.then_some(frame.w as f32)).map_err(missing)?;
        if !fits(&para, spec, frame) {
            return Ok(None);
        }
        let (mut glyphs, mut ink) = position(&para, spec, frame, fonts, px);
        // Glyph ink may overhang the advance box (a J's hook, a stacked Vietnamese accent): nudge the
        // block back inside its frame when there is room, else this size does not fit.
        let dx = if ink.x < frame.x { frame.x - ink.x } else { (frame.right() - ink.right()).min(0) };
        let dy = if ink.y < frame.y { frame.y - ink.y } else { (frame.bottom() - ink.bottom()).min(0) };
        if dx != 0 || dy != 0 {
            for g in &mut glyphs {
                g.x += dx as f32;
                g.y += dy as f32;
            }
            ink = Rect::new(ink.x + dx, ink.y + dy, ink.w, ink.h);
        }
        Ok(frame.contains(&ink).then_some((para, glyphs, ink)))
    };

    // A text far longer than the box can hold is refused without shaping it at every size: the cheap
    // bound below proves it, and only the prefix that might fit is shaped to say how much to cut.
    if let Some(longest) = provably_fitting_prefix(&bound.text, spec, frame, min_px) {
        let text = &bound.text[..longest];
        let fits_prefix = |t: &str| Ok(try_size(min_px, t)?.is_some());
        if spec.overflow == Overflow::Truncate {
            let kept = truncate_to_fit(text, fits_prefix)?.ok_or_else(|| overflow(0))?;
            if let Some((_, glyphs, ink)) = try_size(min_px, &kept)? {
                return Ok(run(id, bound, kept, min_px, spec, frame, glyphs, ink));
            }
            return Err(overflow(0));
        }
        return Err(overflow(longest_fitting_prefix(text, fits_prefix)?));
    }

    let mut text = bound.text.clone();
    // Largest size that fits: try the design size first (most texts fit), then bisect in quarter points.
    let mut best = try_size(max_px, &text)?.map(|r| (max_px, r));
    if best.is_none() {
        let step = pt_to_px(0.25, dpi);
        // Round up so the last step is the minimum itself (`at` clamps): floor lost it to float error
        // (8 to 5.5 pt came out as 9.9999 steps), refusing texts that fit at the minimum.
        let (mut lo, mut hi) = (0i32, ((max_px - min_px) / step - 1e-3).ceil().max(0.0) as i32);
        // Invariant: sizes above `max_px - step*lo`... are tried from the small end: lo = steps down known to fail.
        let at = |k: i32| (max_px - step * k as f32).max(min_px);
        match try_size(at(hi), &text)? {
            Some(r) => {
                best = Some((at(hi), r));
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2;
                    match try_size(at(mid), &text)? {
                        Some(r) => {
                            hi = mid;
                            best = Some((at(mid), r));
                        }
                        None => lo = mid,
                    }
                }
            }
            None if spec.overflow == Overflow::Truncate => {
                text = truncate_to_fit(&text, |t| Ok(try_size(min_px, t)?.is_some()))?.ok_or_else(|| overflow(0))?;
                best = try_size(min_px, &text)?.map(|r| (min_px, r));
            }
            None => {}
        }
    }
    let Some((size_px, (_, glyphs, ink))) = best else {
        // Refused: measure how much would fit at the minimum size, so the refusal says how much to cut.
        let fit_chars = longest_fitting_prefix(&bound.text, |t| Ok(try_size(min_px, t)?.is_some()))?;
        return Err(overflow(fit_chars));
    };
    Ok(run(id, bound, text, size_px, spec, frame, glyphs, ink))
}

#[allow(clippy::too_many_arguments)]
fn run(id: &str, bound: &Bound, text: String, size_px: f32, spec: &TextSpec, frame: Rect, glyphs: Vec<PlacedGlyph>, ink: Rect) -> TextRun {
    TextRun {
        element: id.to_string(),
        source: bound.sources(),
        text,
        size_px,
        ink: if spec.white { Ink::White } else { Ink::Black },
        frame,
        ink_bounds: ink,
        glyphs,
    }
}

/// The narrowest advance any printing character gets, as a share of the em. Real faces give their
/// narrowest letters (i, l, a period) about a quarter em, and a ligature or conjunct about that per
/// character it joins; a tenth keeps the bound below anything a font does.
const MIN_ADVANCE_EM: f32 = 0.1;

/// When `text` provably cannot fit `frame` at `min_px` or any larger size, the byte length of a prefix
/// that holds every prefix that might still fit (the prefix itself does not). None when the bound
/// proves nothing: the text is shaped as usual.
///
/// The bound: a box holds at most `lines` lines of `frame.w` dots (lines from its height at the
/// smallest line pitch, capped by `max_lines`), and each printing character advances the pen at least
/// `MIN_ADVANCE_EM` of the size. Marks, spaces and invisible characters count for nothing.
fn provably_fitting_prefix(text: &str, spec: &TextSpec, frame: Rect, min_px: f32) -> Option<usize> {
    let min_advance = MIN_ADVANCE_EM * min_px;
    let pitch = spec.line_height * min_px;
    if !(min_advance > 0.0 && frame.w > 0) {
        return None;
    }
    // n lines are at least (n - 1) pitches tall.
    let by_height = if pitch > 0.0 { Some((frame.h.max(0) as f32 / pitch).floor() as usize + 1) } else { None };
    let lines = match (spec.max_lines.map(|m| m as usize), by_height) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    let capacity = (lines as f32 * (frame.w as f32 + 0.01) / min_advance).floor() as usize;
    let mut printing = 0usize;
    for (at, ch) in text.char_indices() {
        if advances_the_pen(ch) {
            printing += 1;
            if printing > capacity {
                return Some(at + ch.len_utf8());
            }
        }
    }
    None
}

/// Whether a character surely takes horizontal room of its own: letters, digits and ASCII punctuation,
/// but not combining marks (Thai vowels above, accents), spaces, joiners or conjoining vowel and final
/// jamo, which a font may draw with no advance.
fn advances_the_pen(ch: char) -> bool {
    (ch.is_alphanumeric() || ch.is_ascii_punctuation())
        && !unicode_normalization::char::is_combining_mark(ch)
        && !matches!(ch, '\u{1160}'..='\u{11FF}' | '\u{D7B0}'..='\u{D7FF}')
}

/// Lays out one text box that no template describes (pick-list cells, test pages), with the same
/// shaping, shrink-to-fit and refusal rules as a template's text element. `source` names what the
/// text shows, for errors (e.g. `items[3].name`); `spec.pieces` is ignored.
pub fn text_box(id: &str, source: &str, text: &str, spec: &TextSpec, frame: Rect, fonts: &Fonts, dpi: u32) -> Result<TextRun, LayoutError> {
    let bound = Bound { text: text.to_string(), spans: Vec::new() };
    let mm = |dots: i32| (dots as f32 * 25.4 / dpi as f32 * 10.0).round() / 10.0;
    let size = BoxMm { x: mm(frame.x), y: mm(frame.y), w: mm(frame.w), h: mm(frame.h) };
    let mut run = place_text(id, spec, &bound, frame, size, fonts, dpi).map_err(|e| match e {
        LayoutError::MissingGlyph { element, ch, .. } => LayoutError::MissingGlyph { element, field: source.to_string(), ch },
        LayoutError::Overflow { element, width_mm, height_mm, min_size_pt, max_lines, chars, fit_chars, .. } => {
            LayoutError::Overflow { element, field: source.to_string(), width_mm, height_mm, min_size_pt, max_lines, chars, fit_chars }
        }
        other => other,
    })?;
    run.source = source.to_string();
    Ok(run)
}

fn fits(p: &Paragraph, spec: &TextSpec, frame: Rect) -> bool {
    let max_lines = spec.max_lines.map(|m| m as usize).unwrap_or(usize::MAX);
    p.lines.len() <= max_lines && p.width <= frame.w as f32 + 0.01 && p.height <= frame.h as f32 + 0.01
}

/// Places a paragraph in its frame by the alignment rules; returns glyphs in document dots and the
/// rectangle their ink covers.
fn position(p: &Paragraph, spec: &TextSpec, frame: Rect, fonts: &Fonts, px: f32) -> (Vec<PlacedGlyph>, Rect) {
    let top = match spec.valign {
        VAlign::Top => frame.y as f32,
        VAlign::Middle => frame.y as f32 + (frame.h as f32 - p.height) / 2.0,
        VAlign::Bottom => frame.bottom() as f32 - p.height,
    };
    let mut glyphs = Vec::with_capacity(p.lines.iter().map(|l| l.glyphs.len()).sum());
    let mut ink = Rect::default();
    for line in &p.lines {
        let left = match spec.align {
            Align::Left => frame.x as f32,
            Align::Center => frame.x as f32 + (frame.w as f32 - line.width) / 2.0,
            Align::Right => frame.right() as f32 - line.width,
        };
        for g in &line.glyphs {
            let x = (left + g.x).round();
            let y = (top + line.baseline + g.y).round();
            let mask = fonts.glyph_mask(g.face, g.id, px);
            if mask.width > 0 && mask.height > 0 {
                ink = ink.union(&Rect::new(x as i32 + mask.left, y as i32 + mask.top, mask.width as i32, mask.height as i32));
            }
            glyphs.push(PlacedGlyph { face: g.face, id: g.id, x, y, cluster: g.cluster });
        }
    }
    (glyphs, ink)
}

/// Cuts text at a character boundary and appends "…" until `fits` says yes. Used only for elements
/// marked `overflow = "truncate"` (summaries printed when room allows).
fn truncate_to_fit(text: &str, fits: impl Fn(&str) -> Result<bool, LayoutError>) -> Result<Option<String>, LayoutError> {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    // Bisect on the number of characters kept.
    let (mut lo, mut hi) = (0usize, bounds.len());
    let candidate = |n: usize| format!("{}…", text[..bounds.get(n).copied().unwrap_or(text.len())].trim_end());
    if !fits(&candidate(0))? {
        return Ok(None);
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if fits(&candidate(mid))? { lo = mid } else { hi = mid }
    }
    Ok(Some(candidate(lo)))
}

/// How many leading characters of `text` fit (bisected; fitting is monotonic in length).
fn longest_fitting_prefix(text: &str, fits: impl Fn(&str) -> Result<bool, LayoutError>) -> Result<usize, LayoutError> {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let (mut lo, mut hi) = (0usize, bounds.len() - 1);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if fits(text[..bounds[mid]].trim_end())? { lo = mid } else { hi = mid }
    }
    Ok(lo)
}

fn place_barcode(id: &str, max_module_mm: f32, bound: &Bound, rect: Rect, dpi: u32) -> Result<Barcode, LayoutError> {
    code128_in(id, &bound.sources(), &bound.text, rect, max_module_mm, dpi)
}

/// A Code 128 of `data` centred in `rect`: whole dots per module, the widest up to `max_module_mm`
/// that fits with its quiet zones, never under the 0.25 mm minimum (then refused as `barcode`,
/// naming `source`). Labels, pick lists and manifests all place their bars through here.
pub fn code128_in(id: &str, source: &str, data: &str, rect: Rect, max_module_mm: f32, dpi: u32) -> Result<Barcode, LayoutError> {
    let fail = |message: String| LayoutError::Barcode { element: id.to_string(), field: source.to_string(), message };
    let symbol = code128::encode(data).map_err(|e| fail(e.to_string()))?;
    let modules = symbol.modules();
    let quiet_modules = code128::QUIET_MODULES as i32;
    let total = modules.len() as i32 + 2 * quiet_modules;
    let min_module = mm_to_dots(MIN_MODULE_MM, dpi).max(1);
    let max_module = mm_to_dots(max_module_mm, dpi).max(min_module);
    let module = (rect.w / total).min(max_module);
    if module < min_module {
        return Err(fail(format!(
            "{:?} needs {} modules; at the {MIN_MODULE_MM} mm minimum bar width that is {:.1} mm, wider than the {:.1} mm box",
            data,
            total,
            (total * min_module) as f32 * 25.4 / dpi as f32,
            rect.w as f32 * 25.4 / dpi as f32
        )));
    }
    let width = modules.len() as i32 * module;
    Ok(Barcode {
        element: id.to_string(),
        source: source.to_string(),
        data: data.to_string(),
        x: rect.x + (rect.w - width) / 2,
        y: rect.y,
        module,
        height: rect.h,
        quiet: quiet_modules * module,
        modules,
    })
}

/// Marks that must not touch: used by tests and by `labeld render --check-layout` style diagnostics.
/// Returns pairs of element names whose areas collide, where a collision is not by design (white text
/// sits on a black fill; frames are outlines, so only their strokes count).
pub fn collisions(doc: &Document) -> Vec<(String, String)> {
    let mut shapes: Vec<(String, Rect, bool)> = Vec::new(); // (name, area, is_text_or_barcode)
    for (i, e) in doc.elements.iter().enumerate() {
        match e {
            Element::Fill { rect, ink: Ink::Black } => shapes.push((format!("fill#{i}"), *rect, false)),
            Element::Fill { .. } => {}
            Element::Frame { rect, thickness } => {
                let t = *thickness;
                for (k, r) in [
                    Rect::new(rect.x, rect.y, rect.w, t),
                    Rect::new(rect.x, rect.bottom() - t, rect.w, t),
                    Rect::new(rect.x, rect.y, t, rect.h),
                    Rect::new(rect.right() - t, rect.y, t, rect.h),
                ]
                .into_iter()
                .enumerate()
                {
                    shapes.push((format!("frame#{i}.{k}"), r, false));
                }
            }
            Element::Text(t) => shapes.push((t.element.clone(), t.ink_bounds, true)),
            Element::Barcode(b) => shapes.push((b.element.clone(), b.bounds(), true)),
            Element::Image(img) => shapes.push((img.element.clone(), img.rect, true)),
        }
    }
    // White text knocked out of a black panel may cross anything black under it, but not other text.
    let black_fills: Vec<Rect> = doc
        .elements
        .iter()
        .filter_map(|e| match e {
            Element::Fill { rect, ink: Ink::Black } => Some(*rect),
            _ => None,
        })
        .collect();
    let on_panel: Vec<&str> = doc
        .texts()
        .filter(|t| t.ink == Ink::White && black_fills.iter().any(|f| f.contains(&t.ink_bounds)))
        .map(|t| t.element.as_str())
        .collect();
    let mut out = Vec::new();
    for (a, (na, ra, ta)) in shapes.iter().enumerate() {
        for (nb, rb, tb) in shapes.iter().skip(a + 1) {
            if !(*ta || *tb) || !ra.intersects(rb) {
                continue;
            }
            if (*ta && !*tb && on_panel.contains(&na.as_str())) || (*tb && !*ta && on_panel.contains(&nb.as_str())) {
                continue;
            }
            out.push((na.clone(), nb.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::text::FontConfig;

    fn fonts() -> &'static Fonts {
        static FONTS: OnceLock<Fonts> = OnceLock::new();
        FONTS.get_or_init(|| Fonts::load(&FontConfig::default()).expect("system fonts"))
    }

    /// The default template's text element `id`, with its frame in dots.
    fn element(id: &str, dpi: u32) -> (TextSpec, Rect) {
        let template = Template::load(crate::template::DEFAULT).unwrap();
        let el = template.elements.iter().find(|e| e.id == id).unwrap();
        let Body::Text(spec) = &el.body else { panic!("{id} is not text") };
        (spec.clone(), rect_dots(el.rect, dpi))
    }

    fn shaped_fits(text: &str, spec: &TextSpec, frame: Rect, px: f32) -> bool {
        let style = TextStyle { size_px: px, weight: spec.weight, line_height: spec.line_height };
        let para = fonts().layout(text, &style, spec.wrap.then_some(frame.w as f32)).unwrap();
        fits(&para, spec, frame)
    }

    #[test]
    fn the_bound_only_refuses_what_shaping_also_refuses() {
        // The narrowest printing characters of Latin, Greek, Thai, CJK and digits: the prefix the bound
        // calls hopeless must not fit when it is really shaped.
        for id in ["note", "items", "recipient-name", "recipient-address"] {
            for dpi in [203, 300] {
                let (spec, frame) = element(id, dpi);
                let min_px = pt_to_px(spec.min_size_pt, dpi);
                for ch in ['i', 'l', '.', '1', '|', 'ı', 'ι', 'ก', '一', 'j'] {
                    let long = ch.to_string().repeat(20_000);
                    let prefix = provably_fitting_prefix(&long, &spec, frame, min_px).unwrap_or_else(|| panic!("{id}@{dpi} {ch:?}"));
                    assert!(!shaped_fits(&long[..prefix], &spec, frame, min_px), "{id}@{dpi}: {ch:?} × {} fits", long[..prefix].chars().count());
                }
                // Marks and spaces take no room of their own: a box of them proves nothing.
                let marks = "\u{0301}\u{0E31} \u{200B}".repeat(5_000);
                assert_eq!(provably_fitting_prefix(&marks, &spec, frame, min_px), None, "{id}@{dpi}");
            }
        }
    }

    #[test]
    fn a_hopeless_text_is_refused_with_the_exact_count_to_cut() {
        let (spec, frame) = element("note", 203);
        let text: String = "Please leave the parcel with the guard at the gate. ".repeat(40).chars().take(1_999).collect();
        let min_px = pt_to_px(spec.min_size_pt, 203);
        assert!(provably_fitting_prefix(&text, &spec, frame, min_px).is_some(), "the bound applies");
        let Err(LayoutError::Overflow { chars, fit_chars, .. }) = text_box("note", "label_note", &text, &spec, frame, fonts(), 203) else {
            panic!("not refused as overflow")
        };
        assert_eq!(chars, 1_999);
        // The count is what shaping says: that many characters fit, one more does not.
        let prefix = |n: usize| text.chars().take(n).collect::<String>();
        assert!(fit_chars > 50 && fit_chars < 400, "{fit_chars}");
        let fitting = text_box("note", "label_note", &prefix(fit_chars), &spec, frame, fonts(), 203);
        assert!(fitting.is_ok(), "{fit_chars}: {:?}", fitting.err());
        assert!(text_box("note", "label_note", &prefix(fit_chars + 1), &spec, frame, fonts(), 203).is_err());
    }

    #[test]
    fn a_hopeless_summary_is_cut_to_what_fits() {
        let (spec, frame) = element("items", 203);
        let summary = (0..500).map(|i| format!("SKU-{i:05} ×10000")).collect::<Vec<_>>().join("   ");
        let min_px = pt_to_px(spec.min_size_pt, 203);
        assert!(provably_fitting_prefix(&summary, &spec, frame, min_px).is_some(), "the bound applies");
        let run = text_box("items", "items", &summary, &spec, frame, fonts(), 203).unwrap();
        let kept = run.text.strip_suffix('…').expect("cut with an ellipsis");
        assert!(summary.starts_with(kept) && kept.len() > 40, "{kept}");
    }
}
