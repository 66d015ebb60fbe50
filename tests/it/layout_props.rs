//! Property tests on the layout: for orders with random names, addresses, notes and items in the
//! scripts warehouses see, a label either lays out with nothing outside the page and no text touching
//! another element, or is refused with a named rule (overflow, missing_glyph) — never clipped.

use crate::common;

use labeld::document::{Document, Element, Rect};
use labeld::fields::Fields;
use labeld::layout::collisions;
use labeld::order::Order;
use proptest::prelude::*;

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z]{1,12}",
        "[0-9]{1,5}",
        Just("Jalan".to_string()),
        Just("Nguyễn".to_string()),
        Just("กรุงเทพมหานคร".to_string()),
        Just("ถนนสุขุมวิท".to_string()),
        Just("東京都渋谷区".to_string()),
        Just("深圳市南山区".to_string()),
        Just("No. 12,".to_string()),
        Just("Unit 5.02".to_string()),
    ]
}

fn text(max_words: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 1..max_words).prop_map(|w| w.join(" "))
}

fn order() -> impl Strategy<Value = Order> {
    let base = common::fixture_orders().into_iter().find(|(n, _)| n == "my-jnt-cod").unwrap().1;
    (text(6), prop::collection::vec(text(8), 1..4), prop::option::of(text(12)), prop::collection::vec(("[A-Z]{2}-[0-9]{3}-[A-Z]{2}", 1u32..20), 1..6), "[A-Z0-9]{8,20}", any::<bool>())
        .prop_map(move |(name, lines, note, items, tracking, cod)| {
            let mut o = base.clone();
            o.recipient.name = name;
            o.recipient.address.lines = lines;
            o.label_note = note;
            o.items = items
                .into_iter()
                .map(|(sku, qty)| labeld::order::Item { sku, name: "x".into(), variant: None, qty, bin: None })
                .collect();
            o.shipment.tracking_number = tracking;
            if !cod {
                o.shipment.cod = None;
            }
            o
        })
}

/// Layout, raster and barcode read-back without the marketplace rules (random names and notes trip
/// the contact rules): the layout's own properties, not a printable label.
fn laid_out(order: &Order, dpi: u32) -> Result<Document, labeld::compose::ComposeError> {
    let fields = Fields::from_order(order, common::fixed_time());
    let doc = labeld::layout::layout(common::template(), &fields, common::fonts(), dpi).map_err(labeld::compose::ComposeError::Layout)?;
    let raster = labeld::render::raster::paint(&doc, common::fonts());
    labeld::compose::verify_barcodes(&doc, &raster)?;
    Ok(doc)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn labels_fit_or_are_refused_by_rule(o in order(), dpi in prop::sample::select(vec![203u32, 300])) {
        match laid_out(&o, dpi) {
            Ok(doc) => {
                let page = Rect::new(0, 0, doc.width as i32, doc.height as i32);
                for el in &doc.elements {
                    prop_assert!(page.contains(&el.bounds()));
                    if let Element::Text(t) = el {
                        prop_assert!(t.frame.contains(&t.ink_bounds), "{} ink {:?} leaves its box {:?}", t.element, t.ink_bounds, t.frame);
                    }
                }
                prop_assert!(collisions(&doc).is_empty(), "{:?}", collisions(&doc));
            }
            Err(labeld::compose::ComposeError::Layout(errors)) => {
                for e in errors {
                    prop_assert!(matches!(e.rule(), "overflow" | "missing_glyph" | "barcode"), "{e}");
                    prop_assert!(!e.field().is_empty());
                }
            }
            Err(e) => prop_assert!(false, "unexpected refusal: {e}"),
        }
    }
}
