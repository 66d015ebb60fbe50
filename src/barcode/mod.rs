//! Barcodes: Code 128 encoding and read-back verification.
//!
//! * [`code128`] turns a tracking number (any ASCII text) into the shortest Code 128 symbol, as modules.
//! * [`verify`] reads a painted raster back with a real decoder: the printed bars must scan to the order's data,
//!   and labels must carry no 2D code.
//! * [`locate`] finds where the upright bars of a page are, so a page labeld did not draw is read there.

pub mod code128;
pub mod locate;
pub mod verify;

/// Why data cannot become a barcode. Messages name the character and where it is, never the whole data:
/// the data may be buyer text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    #[error("nothing to encode: Code 128 needs at least one character")]
    Empty,
    #[error("character {ch:?} (U+{code:04X}) at position {position} cannot be encoded in Code 128, which carries ASCII 0–127 only", code = *ch as u32)]
    UnsupportedChar {
        ch: char,
        /// 1-based position in characters, as a person counts.
        position: usize,
    },
}
