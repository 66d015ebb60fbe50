//! Fuzzes the compliance normaliser and text rules: no input may panic, and every refusal's span must be a
//! char-boundary range of the input holding exactly the reported text.
//!
//! `cargo +nightly fuzz run comply -- -max_total_time=60` (from the crate root; needs cargo-fuzz).
#![no_main]

use std::sync::LazyLock;

use labeld::comply::{Checker, Normalized};
use libfuzzer_sys::fuzz_target;

static CHECKER: LazyLock<Checker> = LazyLock::new(|| Checker::new(None));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let n = Normalized::new(text);
    if !n.is_empty() {
        let span = n.original_span(0..n.len());
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
    }
    for r in CHECKER.check_text("label_note", text) {
        assert!(text.is_char_boundary(r.span.start) && text.is_char_boundary(r.span.end), "{r:?}");
        assert_eq!(&text[r.span.clone()], r.text);
    }
});
