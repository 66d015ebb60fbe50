//! Painters: each draws a laid-out [`crate::document::Document`] and decides nothing about placement.
//!
//! * [`raster`]: the 1-bit bitmap a thermal printer burns — the single truth for printer output.
//! * [`png`]: that raster as a 1-bit PNG, at its real resolution.
//! * [`pdf`]: vector text (embedded, subset fonts) and vector bars, for laser printers and archives.

pub mod pdf;
pub mod png;
pub mod raster;
