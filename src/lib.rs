//! labeld renders 100×150 mm shipping labels from e-commerce orders and drives thermal printers.
//!
//! The pipeline, one module per stage (see ARCHITECTURE.md):
//!
//! ```text
//! order ──► template + layout ──► Document ──► painters: raster (the printer's truth), PNG, PDF
//! ```
//!
//! * [`order`] parses and validates an order.
//! * [`template`] reads a label template (TOML, millimetres) and binds order fields.
//! * [`layout`] places a template and an order into a [`document::Document`] in dots.
//! * [`text`] finds fonts, shapes and breaks text.
//! * [`barcode`] encodes Code 128 and reads a raster back to verify it.
//! * [`render`] paints a document: 1-bit raster, PNG, PDF.
//! * [`server`] is the local HTTP API and the packers' web page.
//! * [`batch`] plans a shipping batch (walking order, chunks of 50) and reports its progress.
//! * [`picklist`] builds pick lists and packing checks for a batch and lays them out on pages.

pub mod barcode;
pub mod batch;
pub mod bins;
pub mod bitmap;
pub mod comply;
pub mod compose;
pub mod daemon;
pub mod deadlines;
pub mod config;
pub mod document;
pub mod events;
pub mod feed;
pub mod fields;
pub mod lang;
pub mod layout;
pub mod manifest;
pub mod marketdoc;
pub mod order;
pub mod packaging_support;
pub mod picklist;
pub mod printer;
pub mod render;
pub mod server;
pub mod spool;
pub mod station;
pub mod template;
pub mod text;
pub mod transport;
pub mod virtual_printer;
pub mod worker;
