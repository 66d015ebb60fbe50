//! The proof before paper moves: which pages are labels (their barcodes include the job's tracking number),
//! which are slips, and why a document is held.

use super::Page;

/// What a page is, by what reads back from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageRole {
    /// Carries the tracking barcode (or, with no tracking number given, any 1D barcode).
    Label,
    /// No tracking barcode: a packing slip, printed on the slips printer.
    Slip,
}

/// Why a document is held instead of printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// No page has a 1D barcode that reads back from the raster the printer would burn.
    BarcodeUnreadable,
    /// Barcodes read back, but none is the job's tracking number: the wrong label for this parcel.
    TrackingMismatch,
}

impl Held {
    pub fn rule(self) -> &'static str {
        match self {
            Held::BarcodeUnreadable => "document_barcode_unreadable",
            Held::TrackingMismatch => "document_tracking_mismatch",
        }
    }

    /// A sentence a packer understands (no page content: a code's text may be anything).
    pub fn message(self) -> &'static str {
        match self {
            Held::BarcodeUnreadable => "no barcode on the document reads back at the printer's dots; it would not scan at the carrier",
            Held::TrackingMismatch => "the document's barcodes do not include the job's tracking number: it is the label of another parcel",
        }
    }
}

/// The roles of a document's pages and, if it may not print, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub roles: Vec<PageRole>,
    pub held: Option<Held>,
}

/// Judges the pages. With a tracking number a page is a label when one of its codes is exactly that number;
/// without one (an offline render), when any code reads. At least one label page is required.
pub fn prove(pages: &[Page], tracking: Option<&str>) -> Verdict {
    let is_label = |p: &Page| match tracking {
        Some(tn) => p.codes.iter().any(|c| c.text.trim() == tn.trim()),
        None => !p.codes.is_empty(),
    };
    let roles: Vec<PageRole> = pages.iter().map(|p| if is_label(p) { PageRole::Label } else { PageRole::Slip }).collect();
    let held = if roles.contains(&PageRole::Label) {
        None
    } else if pages.iter().all(|p| p.codes.is_empty()) {
        Some(Held::BarcodeUnreadable)
    } else {
        Some(Held::TrackingMismatch)
    };
    Verdict { roles, held }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barcode::verify::Read1d;
    use crate::bitmap::Bitmap;
    use crate::marketdoc::Placement;

    fn page(codes: &[&str]) -> Page {
        Page {
            raster: Bitmap::new(8, 8),
            placement: Placement { turned: false, trimmed: false, scale: 1.0 },
            codes: codes.iter().map(|t| Read1d { format: "Code 128", text: t.to_string() }).collect(),
        }
    }

    #[test]
    fn the_tracking_page_is_the_label_and_the_rest_are_slips() {
        let v = prove(&[page(&["TT123"]), page(&["ORDER-9"])], Some("TT123"));
        assert_eq!(v, Verdict { roles: vec![PageRole::Label, PageRole::Slip], held: None });
    }

    #[test]
    fn no_code_at_all_is_unreadable_and_other_codes_are_a_mismatch() {
        assert_eq!(prove(&[page(&[])], Some("TT123")).held, Some(Held::BarcodeUnreadable));
        assert_eq!(prove(&[page(&["TT999"])], Some("TT123")).held, Some(Held::TrackingMismatch));
        assert_eq!(prove(&[page(&["TT999"])], None).held, None);
    }
}
