//! The integration tests: one binary, one module per area, so a clean build links the crate once.
//! Fixtures live in tests/fixtures; nothing here reads outside the repository.

mod common;

mod api_shapes;
mod architecture;
mod batch;
mod cli_check;
mod clocks;
mod cli_lang;
mod cli_render;
mod comply_corpus;
mod comply_independent;
mod config;
mod connections;
mod daemon;
mod doc_jobs;
mod docs;
mod feed;
mod http;
mod lang_fuzz;
mod lang_roundtrip;
mod lang_test_page;
mod lang_zpl_independent;
mod layout_props;
mod limits;
mod link;
mod long_text;
mod manifest;
mod orders;
mod packaging;
mod picklist;
mod render_fixtures;
mod scan;
mod spool;
mod virtual_printer;
mod web;
