//! Label templates: TOML files in millimetres that say where each field of an order goes.
//!
//! ```toml
//! name = "ecommerce-100x150"
//! kind = "label"          # label | document (labels may carry 1D barcodes only)
//! width = 100.0           # mm
//! height = 150.0
//!
//! [[element]]
//! type = "text"
//! id = "carrier"
//! box = [3, 3, 60, 12]    # x, y, width, height in mm
//! text = "{shipment.carrier}"
//! size = 20               # points; shrinks down to min_size to fit the box
//! min_size = 10
//! weight = "bold"
//! ```
//!
//! Element types: `text`, `barcode` (Code 128), `fill` (a solid rectangle: rules, black panels), `frame`
//! (a rectangle outline), `image` (PNG, thresholded to 1 bit). `when = "field"` shows an element only when
//! that field has a value. Every `{field}` is checked against [`crate::fields::FIELDS`] at load, with the line
//! it is on, so a typo fails when the template is loaded, not on a parcel.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::bitmap::Bitmap;
use crate::fields;
use crate::text::Weight;

/// Templates shipped inside the binary, by name.
pub const BUILTIN: &[(&str, &str)] = &[("ecommerce-100x150", include_str!("../templates/ecommerce-100x150.toml"))];

/// The default label template.
pub const DEFAULT: &str = "ecommerce-100x150";

/// A loaded, validated template.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub kind: Kind,
    /// Page size in millimetres.
    pub width_mm: f32,
    pub height_mm: f32,
    pub elements: Vec<Element>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A shipping label: marketplace rules apply (1D barcodes only).
    Label,
    /// An internal document (pick list, packing slip): 2D codes allowed.
    Document,
}

/// A rectangle in millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(from = "[f32; 4]")]
pub struct BoxMm {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl From<[f32; 4]> for BoxMm {
    fn from([x, y, w, h]: [f32; 4]) -> Self {
        BoxMm { x, y, w, h }
    }
}

#[derive(Debug, Clone)]
pub struct Element {
    pub id: String,
    pub rect: BoxMm,
    /// Show only when this field is non-empty.
    pub when: Option<&'static str>,
    pub body: Body,
}

#[derive(Debug, Clone)]
pub enum Body {
    Text(TextSpec),
    Barcode(BarcodeSpec),
    Fill { white: bool },
    Frame { thickness_mm: f32 },
    Image(Bitmap),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VAlign {
    #[default]
    Top,
    Middle,
    Bottom,
}

/// What to do when text cannot fit its box even at `min_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Overflow {
    /// Refuse the label (rule `overflow`): for data the parcel cannot do without.
    #[default]
    Refuse,
    /// Keep the lines that fit and end with "…": for summaries printed only when room allows.
    Truncate,
}

#[derive(Debug, Clone)]
pub struct TextSpec {
    pub pieces: Vec<Piece>,
    pub size_pt: f32,
    pub min_size_pt: f32,
    pub weight: Weight,
    pub align: Align,
    pub valign: VAlign,
    pub wrap: bool,
    pub max_lines: Option<u32>,
    pub line_height: f32,
    pub white: bool,
    pub overflow: Overflow,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Literal(String),
    Field(&'static str),
}

#[derive(Debug, Clone)]
pub struct BarcodeSpec {
    /// The data, usually one field.
    pub pieces: Vec<Piece>,
    /// Widest module allowed; the layout takes the widest whole number of dots that fits the box up to this.
    pub max_module_mm: f32,
}

/// Why a template could not be loaded: where (file and line) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TemplateError {
    pub origin: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Template {
    /// A built-in template by name, or a template file by path.
    pub fn load(name_or_path: &str) -> Result<Template, TemplateError> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Template::parse(text, &format!("templates/{name}.toml"), None);
        }
        let path = PathBuf::from(name_or_path);
        let text = std::fs::read_to_string(&path).map_err(|e| TemplateError {
            origin: name_or_path.to_string(),
            line: None,
            message: if path.extension().is_none() && !path.exists() {
                let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
                format!("no built-in template by that name (built-in: {}) and no such file", names.join(", "))
            } else {
                format!("cannot read template: {e}")
            },
        })?;
        Template::parse(&text, name_or_path, path.parent())
    }

    /// Parses template text. `dir` resolves relative image paths.
    pub fn parse(text: &str, origin: &str, dir: Option<&Path>) -> Result<Template, TemplateError> {
        let src = text;
        let err = |span: Option<std::ops::Range<usize>>, message: String| TemplateError {
            origin: origin.to_string(),
            line: span.map(|s| line_of(src, s.start)),
            message,
        };
        let raw: RawTemplate = toml::from_str(text).map_err(|e| err(e.span(), e.message().to_string()))?;
        if !(raw.width > 0.0 && raw.height > 0.0 && raw.width <= 1000.0 && raw.height <= 2000.0) {
            return Err(err(None, format!("page size {}×{} mm is not a label size", raw.width, raw.height)));
        }
        let mut elements = Vec::with_capacity(raw.element.len());
        for (i, spanned) in raw.element.into_iter().enumerate() {
            let span = spanned.span();
            let e = spanned.into_inner();
            let id = e.id.clone().unwrap_or_else(|| format!("element[{i}]"));
            let at = |m: String| err(Some(span.clone()), format!("element `{id}`: {m}"));
            let r = e.rect.ok_or_else(|| at("`box = [x, y, width, height]` (mm) is required".into()))?;
            if !(r.w > 0.0 && r.h > 0.0 && r.x >= 0.0 && r.y >= 0.0 && r.x + r.w <= raw.width + 0.01 && r.y + r.h <= raw.height + 0.01) {
                return Err(at(format!("box [{}, {}, {}, {}] is empty or leaves the {}×{} mm page", r.x, r.y, r.w, r.h, raw.width, raw.height)));
            }
            let when = match &e.when {
                Some(w) => Some(known_field(w.get_ref()).ok_or_else(|| err(Some(w.span()), format!("element `{id}`: unknown field `{}` in `when`", w.get_ref())))?),
                None => None,
            };
            let allowed: &[&str] = match e.kind.as_str() {
                "text" => &["text", "size", "min_size", "weight", "align", "valign", "wrap", "max_lines", "line_height", "ink", "overflow"],
                "barcode" => &["data", "symbology", "max_module"],
                "fill" => &["ink"],
                "frame" => &["thickness"],
                "image" => &["path", "threshold"],
                other => return Err(at(format!("unknown element type `{other}` (types: text, barcode, fill, frame, image)"))),
            };
            if let Some(extra) = e.present_keys().into_iter().find(|k| !allowed.contains(k)) {
                return Err(at(format!("`{extra}` does not apply to a {} element", e.kind)));
            }
            let white = match e.ink.as_deref() {
                None | Some("black") => false,
                Some("white") => true,
                Some(other) => return Err(at(format!("ink `{other}` must be black or white"))),
            };
            let body = match e.kind.as_str() {
                "text" => {
                    let text = e.text.as_ref().ok_or_else(|| at("`text` is required".into()))?;
                    let size = e.size.ok_or_else(|| at("`size` (points) is required".into()))?;
                    let min = e.min_size.unwrap_or(size);
                    if !(size > 0.0 && min > 0.0 && min <= size) {
                        return Err(at(format!("size {size} and min_size {min} must be positive with min_size ≤ size")));
                    }
                    Body::Text(TextSpec {
                        pieces: parse_pieces(text, src, origin)?,
                        size_pt: size,
                        min_size_pt: min,
                        weight: e.weight.unwrap_or_default(),
                        align: e.align.unwrap_or_default(),
                        valign: e.valign.unwrap_or_default(),
                        wrap: e.wrap.unwrap_or(false),
                        max_lines: e.max_lines,
                        line_height: e.line_height.unwrap_or(1.15),
                        white,
                        overflow: e.overflow.unwrap_or_default(),
                    })
                }
                "barcode" => {
                    match e.symbology.as_deref().unwrap_or("code128") {
                        "code128" => {}
                        "qr" | "datamatrix" | "aztec" | "pdf417" | "maxicode" if raw.kind == Kind::Label => {
                            return Err(at("label templates may carry 1D barcodes only: marketplaces refuse labels with QR and other 2D codes".into()));
                        }
                        other => return Err(at(format!("symbology `{other}` is not supported (supported: code128)"))),
                    }
                    let data = e.data.as_ref().ok_or_else(|| at("`data` is required".into()))?;
                    Body::Barcode(BarcodeSpec { pieces: parse_pieces(data, src, origin)?, max_module_mm: e.max_module.unwrap_or(0.5) })
                }
                "fill" => Body::Fill { white },
                "frame" => Body::Frame { thickness_mm: e.thickness.unwrap_or(0.5) },
                _ => {
                    let rel = e.path.as_deref().ok_or_else(|| at("`path` is required".into()))?;
                    let path = dir.map(|d| d.join(rel)).unwrap_or_else(|| PathBuf::from(rel));
                    Body::Image(load_image(&path, e.threshold.unwrap_or(128)).map_err(at)?)
                }
            };
            elements.push(Element { id, rect: r, when, body });
        }
        Ok(Template { name: raw.name, kind: raw.kind, width_mm: raw.width, height_mm: raw.height, elements })
    }

    /// The template's own literal texts, by element: compliance checks them like order text.
    pub fn static_texts(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for e in &self.elements {
            if let Body::Text(t) = &e.body {
                for p in &t.pieces {
                    if let Piece::Literal(s) = p {
                        if !s.trim().is_empty() {
                            out.push((format!("template.{}", e.id), s.clone()));
                        }
                    }
                }
            }
        }
        out
    }
}

fn known_field(name: &str) -> Option<&'static str> {
    fields::FIELDS.iter().map(|(n, _)| *n).find(|n| *n == name)
}

/// Splits "Order {order_id}" into literal and field pieces; `{{` and `}}` are literal braces.
fn parse_pieces(s: &Spanned<String>, text: &str, origin: &str) -> Result<Vec<Piece>, TemplateError> {
    let fail = |message: String| TemplateError { origin: origin.to_string(), line: Some(line_of(text, s.span().start)), message };
    let src = s.get_ref();
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = src.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|p| p.1) == Some('{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek().map(|p| p.1) == Some('}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let end = src[i..].find('}').ok_or_else(|| fail(format!("unclosed `{{` in {src:?}")))?;
                let name = src[i + 1..i + end].trim();
                let field = known_field(name).ok_or_else(|| {
                    let names: Vec<&str> = fields::FIELDS.iter().map(|(n, _)| *n).collect();
                    fail(format!("unknown field `{{{name}}}`; fields are: {}", names.join(", ")))
                })?;
                if !lit.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Field(field));
                while chars.peek().is_some_and(|(j, _)| *j <= i + end) {
                    chars.next();
                }
            }
            '}' => return Err(fail(format!("stray `}}` in {src:?} (write `}}}}` for a literal brace)"))),
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Literal(lit));
    }
    Ok(pieces)
}

fn load_image(path: &Path, threshold: u8) -> Result<Bitmap, String> {
    let img = image::open(path).map_err(|e| format!("cannot read image {}: {e}", path.display()))?;
    let luma = img.to_luma8();
    Ok(Bitmap::from_luma(luma.width(), luma.height(), luma.as_raw(), threshold))
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    name: String,
    kind: Kind,
    width: f32,
    height: f32,
    #[serde(default)]
    element: Vec<Spanned<RawElement>>,
}

/// One `[[element]]` table as written: every key optional here, checked per type above, so an error
/// can say "`data` does not apply to a text element" instead of a generic serde message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawElement {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    #[serde(rename = "box")]
    rect: Option<BoxMm>,
    when: Option<Spanned<String>>,
    text: Option<Spanned<String>>,
    size: Option<f32>,
    min_size: Option<f32>,
    weight: Option<Weight>,
    align: Option<Align>,
    valign: Option<VAlign>,
    wrap: Option<bool>,
    max_lines: Option<u32>,
    line_height: Option<f32>,
    ink: Option<String>,
    overflow: Option<Overflow>,
    data: Option<Spanned<String>>,
    symbology: Option<String>,
    max_module: Option<f32>,
    thickness: Option<f32>,
    path: Option<String>,
    threshold: Option<u8>,
}

impl RawElement {
    /// The type-specific keys this element sets.
    fn present_keys(&self) -> Vec<&'static str> {
        let keys = [
            ("text", self.text.is_some()),
            ("size", self.size.is_some()),
            ("min_size", self.min_size.is_some()),
            ("weight", self.weight.is_some()),
            ("align", self.align.is_some()),
            ("valign", self.valign.is_some()),
            ("wrap", self.wrap.is_some()),
            ("max_lines", self.max_lines.is_some()),
            ("line_height", self.line_height.is_some()),
            ("ink", self.ink.is_some()),
            ("overflow", self.overflow.is_some()),
            ("data", self.data.is_some()),
            ("symbology", self.symbology.is_some()),
            ("max_module", self.max_module.is_some()),
            ("thickness", self.thickness.is_some()),
            ("path", self.path.is_some()),
            ("threshold", self.threshold.is_some()),
        ];
        keys.iter().filter(|(_, set)| *set).map(|(k, _)| *k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "name = \"t\"\nkind = \"label\"\nwidth = 100.0\nheight = 150.0\n";

    #[test]
    fn builtin_templates_load() {
        for (name, _) in BUILTIN {
            let t = Template::load(name).unwrap();
            assert!(!t.elements.is_empty());
        }
    }

    #[test]
    fn unknown_field_is_refused_with_its_line() {
        let text = format!("{HEAD}\n[[element]]\ntype = \"text\"\nbox = [0, 0, 10, 10]\nsize = 10\ntext = \"{{shipment.carier}}\"\n");
        let e = Template::parse(&text, "t.toml", None).unwrap_err();
        assert_eq!(e.line, Some(10), "{e}");
        assert!(e.message.contains("unknown field `{shipment.carier}`"), "{e}");
    }

    #[test]
    fn qr_is_refused_on_labels() {
        let text = format!("{HEAD}\n[[element]]\ntype = \"barcode\"\nsymbology = \"qr\"\nbox = [0, 0, 10, 10]\ndata = \"{{order_id}}\"\n");
        let e = Template::parse(&text, "t.toml", None).unwrap_err();
        assert!(e.message.contains("1D barcodes only"), "{e}");
        assert_eq!(e.line, Some(6));
    }

    #[test]
    fn unknown_key_is_refused() {
        let text = format!("{HEAD}\n[[element]]\ntype = \"fill\"\nbox = [0, 0, 10, 10]\ncolour = \"red\"\n");
        let e = Template::parse(&text, "t.toml", None).unwrap_err();
        assert!(e.message.contains("colour"), "{e}");
    }

    #[test]
    fn box_must_stay_on_the_page() {
        let text = format!("{HEAD}\n[[element]]\ntype = \"fill\"\nbox = [95, 0, 10, 10]\n");
        let e = Template::parse(&text, "t.toml", None).unwrap_err();
        assert!(e.message.contains("leaves the 100×150 mm page"), "{e}");
    }

    #[test]
    fn pieces_split_literals_and_fields() {
        let text = format!("{HEAD}\n[[element]]\ntype = \"text\"\nbox = [0, 0, 10, 10]\nsize = 10\ntext = \"Pkg {{shipment.package}} {{{{x}}}}\"\n");
        let t = Template::parse(&text, "t.toml", None).unwrap();
        let Body::Text(spec) = &t.elements[0].body else { panic!() };
        assert_eq!(
            spec.pieces,
            vec![Piece::Literal("Pkg ".into()), Piece::Field("shipment.package"), Piece::Literal(" {x}".into())]
        );
    }
}
