//! Fuzzes the compliance normaliser and text rules: no input may panic, and every refusal's span must be a
//! char-boundary range of the field holding exactly the reported text. The first byte picks the field the
//! rest goes into (the note, a product title, a SKU, the sender, the buyer's name, address or phone), so every
//! kind of field judgement is exercised on a whole order.
//!
//! CI runs it for a bounded time with a corpus seeded from the dev corpora (`.ci/fuzz-comply`):
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run comply fuzz/corpus/comply -s none -- -max_total_time=60`.
#![no_main]

use std::sync::LazyLock;

use labeld::comply::{Checker, NoSpool, Normalized};
use labeld::order::Order;
use libfuzzer_sys::fuzz_target;

static CHECKER: LazyLock<Checker> = LazyLock::new(|| Checker::new(None));
static ORDER: LazyLock<Order> =
    LazyLock::new(|| Order::from_json_bytes(include_bytes!("../../tests/fixtures/orders/my-jnt-cod.json")).expect("the fixture order parses"));

fuzz_target!(|data: &[u8]| {
    let Some((&field, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let n = Normalized::new(text);
    if !n.is_empty() {
        let span = n.original_span(0..n.len());
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
    }
    for r in CHECKER.check_text("label_note", text) {
        assert!(text.is_char_boundary(r.span.start) && text.is_char_boundary(r.span.end), "{r:?}");
        assert_eq!(&text[r.span.clone()], r.text);
    }
    let mut order = ORDER.clone();
    let t = text.to_string();
    let path = match field % 7 {
        0 => { order.label_note = Some(t); "label_note" }
        1 => { order.items[0].name = t; "items[0].name" }
        2 => { order.items[0].sku = t; "items[0].sku" }
        3 => { order.sender.name = t; "sender.name" }
        4 => { order.recipient.name = t; "recipient.name" }
        5 => { order.recipient.address.lines[0] = t; "recipient.address.lines[0]" }
        _ => { order.recipient.phone = Some(t); "recipient.phone" }
    };
    for r in CHECKER.check_order(&order, &NoSpool).refusals {
        if r.path == path {
            assert!(text.is_char_boundary(r.span.start) && text.is_char_boundary(r.span.end), "{r:?}");
            assert_eq!(&text[r.span.clone()], r.text);
        }
    }
});
