//! Marketplace documents: shipping labels and packing slips that the marketplace made (PDF or PNG), printed as
//! they are at the printer's own dots, after every label page's tracking barcode has read back from the 1-bit
//! raster that the printer will burn.
//!
//! * [`grey`]: 8-bit pages and the two operations they need (turning, area resampling).
//! * [`pdf`] and [`png`]: each input kind drawn at a chosen scale, after the limits that keep a hostile file
//!   from eating the daemon.
//! * [`place`]: where a page goes on the media (1:1, trimmed of white margin, scaled, turned) and the threshold
//!   that makes it 1-bit.
//! * [`prove`]: the barcodes read back and the verdict (label, slip, or held with a reason).
//!
//! Nothing is ever added to the marketplace's page, and no content rule looks at its marks.

pub mod grey;
pub mod intake;
pub mod pdf;
pub mod place;
pub mod png;
pub mod prove;

pub use place::{Fit, Media, Placement};
pub use prove::{Held, PageRole, Verdict};

use crate::barcode::verify::Read1d;
use crate::bitmap::Bitmap;

/// Which pages of a document a printer gets: all of them, or, when packing slips print elsewhere
/// (`[documents] slips`), the label pages on the job's printer and the slip pages on the slips printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    #[default]
    Whole,
    Labels,
    Slips,
}

/// What a document's bytes are, told by their content (never by a name or a claimed type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Png,
}

impl Kind {
    /// The kind of `bytes`, from their signature.
    pub fn sniff(bytes: &[u8]) -> Option<Kind> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Some(Kind::Png);
        }
        // PDF readers accept the header anywhere in the first kilobyte (some producers put a preamble first).
        let head = &bytes[..bytes.len().min(1024)];
        head.windows(5).any(|w| w == b"%PDF-").then_some(Kind::Pdf)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Png => "image/png",
        }
    }

    pub fn from_content_type(value: &str) -> Option<Kind> {
        match value {
            "application/pdf" => Some(Kind::Pdf),
            "image/png" => Some(Kind::Png),
            _ => None,
        }
    }
}

/// Limits on a document. Marketplace documents are one parcel's label and slip: a few pages, tens of kilobytes.
pub mod limits {
    /// Bytes of one document as submitted.
    pub const MAX_BYTES: usize = 16 << 20;
    /// Pages in one document.
    pub const MAX_PAGES: usize = 50;
    /// Longest page side in millimetres; anything larger is not a label or a slip.
    pub const MAX_PAGE_MM: f32 = 1000.0;
    /// Bytes all of a PDF's compressed streams may inflate to, together.
    pub const MAX_INFLATED_BYTES: u64 = 64 << 20;
    /// Pixels of one image (in a PDF, or a PNG).
    pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;
}

/// Why a document cannot be read at all (HTTP 400, CLI exit 2). Messages name the problem, never page content.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unreadable {
    #[error("not a PDF or PNG document (its first bytes are neither a %PDF- header nor a PNG signature)")]
    NotADocument,
    #[error("the document is {bytes} bytes; at most {} are accepted", limits::MAX_BYTES)]
    TooBig { bytes: usize },
    #[error("the PDF is truncated: it has no %%EOF marker at its end")]
    Truncated,
    #[error("the PDF is encrypted with a password; ask the marketplace for an unprotected document")]
    Encrypted,
    #[error("the PDF is damaged: {0}")]
    Damaged(String),
    #[error("the document has no pages")]
    NoPages,
    #[error("the document has {pages} pages; at most {} are accepted", limits::MAX_PAGES)]
    TooManyPages { pages: usize },
    #[error("page {page} is {width_mm:.0}×{height_mm:.0} mm; no page side may exceed {} mm", limits::MAX_PAGE_MM)]
    PageTooLarge { page: usize, width_mm: f32, height_mm: f32 },
    #[error("the PDF's compressed streams inflate to more than {} MiB (a decompression bomb?)", limits::MAX_INFLATED_BYTES >> 20)]
    Inflates,
    #[error("an image is {width}×{height} pixels; at most {} pixels are accepted", limits::MAX_IMAGE_PIXELS)]
    ImageTooLarge { width: u64, height: u64 },
    #[error("the PNG cannot be decoded: {0}")]
    Png(String),
    #[error("the PNG gives no resolution (pHYs) and is not the shape of a 4×6 in, 100×150 mm or A6 label, so its size on paper is unknown")]
    PngSizeUnknown,
}

/// Why a readable document is not printed as it stands.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DocError {
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    /// The page needs shrinking beyond what is done without asking (CLI exit 1, a refused job).
    #[error("page {page} is {width_mm:.0}×{height_mm:.0} mm and fits the {media_w_mm:.0}×{media_h_mm:.0} mm media only at {scale:.0}% ; set fit = \"scale\" on the printer to print it shrunk", scale = scale * 100.0)]
    DoesNotFit { page: usize, width_mm: f32, height_mm: f32, media_w_mm: f32, media_h_mm: f32, scale: f32 },
}

impl DocError {
    /// The rule id a refusal carries (jobs and the CLI name it).
    pub fn rule(&self) -> &'static str {
        match self {
            DocError::Unreadable(_) => "document_unreadable",
            DocError::DoesNotFit { .. } => "document_does_not_fit",
        }
    }
}

/// One page as the printer will burn it.
#[derive(Debug, Clone)]
pub struct Page {
    /// The media-sized 1-bit raster.
    pub raster: Bitmap,
    pub placement: Placement,
    /// Every 1D barcode read back from `raster`.
    pub codes: Vec<Read1d>,
}

/// A document drawn for one printer's media.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub kind: Kind,
    pub pages: Vec<Page>,
}

/// Reads `bytes`, draws every page on `media` and reads each page's barcodes back.
pub fn render(bytes: &[u8], media: &Media, fit: Fit) -> Result<Rendered, DocError> {
    if bytes.len() > limits::MAX_BYTES {
        return Err(Unreadable::TooBig { bytes: bytes.len() }.into());
    }
    let kind = Kind::sniff(bytes).ok_or(Unreadable::NotADocument)?;
    let placed = match kind {
        Kind::Pdf => {
            let doc = pdf::Pdf::open(bytes)?;
            (0..doc.page_count()).map(|i| place::place(&doc.page(i), i + 1, media, fit)).collect::<Result<Vec<_>, _>>()?
        }
        Kind::Png => vec![place::place(&png::Png::decode(bytes)?, 1, media, fit)?],
    };
    let pages = placed
        .into_iter()
        .map(|(raster, placement)| {
            let codes = crate::barcode::verify::read_1d_codes_at(&raster, media.dpi);
            Page { raster, placement, codes }
        })
        .collect();
    Ok(Rendered { kind, pages })
}

/// A page source: its size on paper and a way to draw it at a scale.
pub trait Source {
    /// Page size in millimetres as displayed (crop box and rotation applied).
    fn size_mm(&self) -> (f32, f32);
    /// Draws the page upright at `dpi` dots per inch (already scaled: `dpi` is the printer's times the factor).
    fn draw(&self, dpi: f32) -> grey::Grey;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_is_told_by_content() {
        assert_eq!(Kind::sniff(b"%PDF-1.7\n..."), Some(Kind::Pdf));
        assert_eq!(Kind::sniff(b"\xef\xbb\xbf junk %PDF-1.4"), Some(Kind::Pdf));
        assert_eq!(Kind::sniff(b"\x89PNG\r\n\x1a\n...."), Some(Kind::Png));
        assert_eq!(Kind::sniff(b"{\"order_id\": 1}"), None);
        assert_eq!(Kind::sniff(b""), None);
    }
}
