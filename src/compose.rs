//! Compose: the whole path from an order to a label a printer may receive.
//!
//! order → fields → layout → raster → read the barcodes back. A label whose tracking barcode does not
//! decode to exactly the tracking number is refused here, before any painter or printer sees it.

use time::OffsetDateTime;

use crate::barcode::verify;
use crate::bitmap::Bitmap;
use crate::document::Document;
use crate::fields::Fields;
use crate::layout::{self, LayoutError};
use crate::order::Order;
use crate::render::raster;
use crate::template::Template;
use crate::text::Fonts;

/// A laid-out, rasterised and verified label.
#[derive(Debug, Clone)]
pub struct Label {
    pub document: Document,
    pub raster: Bitmap,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ComposeError {
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Layout(Vec<LayoutError>),
    #[error("{field}: the printed barcode reads back as {read:?}, not {expected:?}; refusing to print it (element `{element}`)")]
    BarcodeReadBack { element: String, field: String, expected: String, read: Option<String> },
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub dpi: u32,
    /// Stamped on the label as the print time; fixed in tests so images are reproducible.
    pub printed_at: OffsetDateTime,
}

/// Lays out and rasterises one order's label, then proves every barcode scans as its data.
pub fn label(order: &Order, template: &Template, fonts: &Fonts, opts: &Options) -> Result<Label, ComposeError> {
    let fields = Fields::from_order(order, opts.printed_at);
    let document = layout::layout(template, &fields, fonts, opts.dpi).map_err(ComposeError::Layout)?;
    let raster = raster::paint(&document, fonts);
    verify_barcodes(&document, &raster)?;
    Ok(Label { document, raster })
}

/// Reads each barcode from the raster, cropped to its symbol and quiet zones, and compares.
pub fn verify_barcodes(document: &Document, raster: &Bitmap) -> Result<(), ComposeError> {
    for b in document.barcodes() {
        let area = b.bounds();
        // A few dots of white above and below help the reader find the symbol's edges.
        let margin = 4;
        let x = area.x.max(0) as u32;
        let y = (area.y - margin).max(0) as u32;
        let crop = raster.crop(x, y, area.w as u32, (area.h + 2 * margin) as u32);
        let read = verify::read_code128(&crop);
        if read.as_deref() != Some(b.data.as_str()) {
            return Err(ComposeError::BarcodeReadBack {
                element: b.element.clone(),
                field: b.source.clone(),
                expected: b.data.clone(),
                read,
            });
        }
    }
    Ok(())
}
