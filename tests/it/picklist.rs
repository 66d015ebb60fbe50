//! Pick lists: quantities, walking order, pages, PDF text, and no buyer data anywhere.

use crate::common;

use std::collections::HashMap;
use std::process::Command;

use labeld::barcode::verify::{Format2d, find_2d_codes_of};
use labeld::order::Order;
use labeld::picklist::page::{self, Paper};
use labeld::bins::{BinPattern, Walk};
use labeld::picklist::{Held, PickList, pick_order};
use labeld::render;
use proptest::prelude::*;

fn batch(name: &str) -> Vec<Order> {
    let text = std::fs::read_to_string(common::fixtures().join("batches").join(name)).unwrap();
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| Order::from_json_str(l).unwrap()).collect()
}

fn build(orders: &[Order]) -> PickList {
    PickList::build(orders, vec![], &BinPattern::default(), "PL-TEST".into(), common::fixed_time())
}

/// Everything about the buyers that must never reach a pick list.
fn buyer_strings(orders: &[Order]) -> Vec<String> {
    let mut out = Vec::new();
    for o in orders {
        out.push(o.recipient.name.clone());
        out.extend(o.recipient.phone.clone());
        out.extend(o.recipient.address.lines.iter().cloned());
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn batch_500_quantities_equal_the_sum_over_orders() {
    let orders = batch("batch-500.jsonl");
    let list = build(&orders);
    let mut want: HashMap<&str, u64> = HashMap::new();
    for o in &orders {
        for it in &o.items {
            *want.entry(it.sku.as_str()).or_default() += u64::from(it.qty);
        }
    }
    let mut got: HashMap<&str, u64> = HashMap::new();
    for l in &list.lines {
        *got.entry(l.sku.as_str()).or_default() += l.qty;
    }
    assert_eq!(got, want);
    assert_eq!(list.totals.orders, 500);
    assert_eq!(list.totals.units, want.values().sum::<u64>());
    assert_eq!(list.orders.len(), 500);
}

#[test]
fn lines_and_labels_follow_the_walk() {
    let orders = batch("batch-500.jsonl");
    for walk in [Walk::Sequential, Walk::Serpentine] {
        let pattern = BinPattern::parse("{zone}-{aisle}-{shelf}", walk).unwrap();
        let list = PickList::build(&orders, vec![], &pattern, "PL".into(), common::fixed_time());
        let keys: Vec<_> = list.lines.iter().map(|l| pattern.walk_key(l.bin.as_deref())).collect();
        for pair in keys.windows(2) {
            assert_ne!(pattern.compare(&pair[0], &pair[1]), std::cmp::Ordering::Greater, "{walk:?}: {pair:?}");
        }
        // One pass: every bin is visited in one contiguous run of lines.
        let mut seen = std::collections::HashSet::new();
        let mut last: Option<&str> = None;
        for l in &list.lines {
            let bin = l.bin.as_deref().unwrap_or("");
            if last != Some(bin) {
                assert!(seen.insert(bin), "{walk:?}: bin {bin} visited twice");
            }
            last = Some(bin);
        }
        // Labels print in the order of each order's first stop.
        let firsts: Vec<_> = pick_order(&orders, &pattern)
            .iter()
            .map(|o| o.items.iter().map(|it| pattern.walk_key(it.bin.as_deref())).min_by(|a, b| pattern.compare(a, b)).unwrap())
            .collect();
        for pair in firsts.windows(2) {
            assert_ne!(pattern.compare(&pair[0], &pair[1]), std::cmp::Ordering::Greater);
        }
    }
}

#[test]
fn pages_repeat_the_table_header_and_carry_the_batch_qr() {
    let orders = batch("batch-50.jsonl");
    let list = build(&orders);
    for (paper, dpi) in [(Paper::A4, 300), (Paper::Letter, 300), (Paper::Thermal100x150, 203)] {
        let pages = page::pages(&list, paper, dpi, common::fonts()).unwrap();
        assert!(pages.len() > 1, "{paper:?}");
        let (w_mm, h_mm) = paper.size_mm();
        for (i, doc) in pages.iter().enumerate() {
            assert_eq!(doc.width as i32, labeld::document::mm_to_dots(w_mm, dpi), "{paper:?}");
            assert_eq!(doc.height as i32, labeld::document::mm_to_dots(h_mm, dpi), "{paper:?}");
            let full = labeld::document::Rect::new(0, 0, doc.width as i32, doc.height as i32);
            assert!(doc.elements.iter().all(|e| full.contains(&e.bounds())), "{paper:?} page {}: a mark off the page", i + 1);
            let texts: Vec<&str> = doc.texts().map(|t| t.text.as_str()).collect();
            assert!(texts.iter().any(|t| t.contains(&format!("page {}/{}", i + 1, pages.len()))), "{paper:?}: {texts:?}");
            // A page that holds pick rows starts them under a header.
            let has_rows = doc.texts().any(|t| t.element.starts_with("sku"));
            if has_rows {
                assert!(doc.texts().any(|t| t.element == "head2" && t.text == "SKU"), "{paper:?} page {}: rows without a header", i + 1);
            }
        }
        // The batch QR decodes from the raster (allowed: a pick list is an internal document). Only the
        // header band is searched: rxing's whole-page QR search misses it on a 2480×3508 A4 raster.
        let raster = render::raster::paint(&pages[0], common::fonts());
        let header = raster.crop(0, 0, raster.width(), raster.height() / 5);
        assert_eq!(find_2d_codes_of(&header, &[Format2d::Qr]).len(), 1, "{paper:?}");
    }
}

#[test]
fn held_orders_are_on_the_summary_without_their_text() {
    let orders = batch("batch-50.jsonl");
    let held = vec![Held { order_id: orders[3].order_id.clone(), rule: "hyperlink".into(), field: "label_note".into() }];
    let list = PickList::build(&orders, held, &BinPattern::default(), "PL".into(), common::fixed_time());
    assert_eq!(list.totals.held, 1);
    assert_eq!(list.totals.orders, 49);
    let pages = page::pages(&list, Paper::A4, 300, common::fonts()).unwrap();
    let first: Vec<&str> = pages[0].texts().map(|t| t.text.as_str()).collect();
    let line = first.iter().find(|t| t.starts_with("HELD")).expect("held line on page 1");
    assert!(line.contains(&orders[3].order_id) && line.contains("hyperlink") && line.contains("label_note"), "{line}");
}

#[test]
fn pdf_text_lists_every_sku_and_no_buyer_data() {
    if !common::have("pdftotext") {
        common::skip("LABELD_REQUIRE_DOC_TOOLS", "pdftotext (Debian poppler-utils) is not installed");
        return;
    }
    let orders = batch("batch-50.jsonl");
    let dir = std::env::temp_dir().join(format!("labeld-picklist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pdf = dir.join("pl.pdf");
    let status = Command::new(env!("CARGO_BIN_EXE_labeld"))
        .arg("picklist")
        .arg(common::fixtures().join("batches/batch-50.jsonl"))
        .args(["--format", "pdf", "--paper", "a4", "--printed-at", "2026-11-23T09:30:00Z", "-o"])
        .arg(&pdf)
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new("pdftotext").args(["-layout"]).arg(&pdf).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for o in &orders {
        for it in &o.items {
            assert!(text.contains(&it.sku), "SKU {} missing from the PDF text", it.sku);
        }
        assert!(text.contains(&o.order_id), "order {} missing", o.order_id);
    }
    for secret in buyer_strings(&orders) {
        assert!(!text.contains(&secret), "buyer data {secret:?} on the pick list");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_buyer_data_in_the_pick_list_model() {
    let orders = batch("batch-500.jsonl");
    let dump = format!("{:?}", build(&orders));
    for secret in buyer_strings(&orders) {
        assert!(!dump.contains(&secret), "buyer data {secret:?} in the pick list");
    }
}

fn arb_orders() -> impl Strategy<Value = Vec<Order>> {
    let item = (0..12u8, 1..20u32, 0..8u8).prop_map(|(sku, qty, bin)| {
        let bin = if bin == 7 { serde_json::Value::Null } else { serde_json::json!(format!("{}-{:02}-{:02}", ["A", "B"][bin as usize % 2], bin, sku % 5)) };
        serde_json::json!({"sku": format!("SKU-{sku}"), "name": "Thing", "qty": qty, "bin": bin})
    });
    let order = prop::collection::vec(item, 1..6);
    prop::collection::vec(order, 1..30).prop_map(|orders| {
        let template = common::fixture_orders()[0].1.clone();
        orders
            .into_iter()
            .enumerate()
            .map(|(i, items)| {
                let mut v = serde_json::to_value(&template).unwrap();
                v["order_id"] = serde_json::json!(format!("O{i}"));
                v["items"] = serde_json::Value::Array(items);
                Order::from_json_value(v).unwrap()
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn quantities_and_order_counts_add_up(orders in arb_orders(), held_every in 0usize..5) {
        let held: Vec<Held> = orders.iter().enumerate()
            .filter(|(i, _)| held_every > 0 && i % (held_every + 1) == 0)
            .map(|(_, o)| Held { order_id: o.order_id.clone(), rule: "hyperlink".into(), field: "label_note".into() })
            .collect();
        let held_ids: std::collections::HashSet<String> = held.iter().map(|h| h.order_id.clone()).collect();
        let list = PickList::build(&orders, held, &BinPattern::default(), "PL".into(), common::fixed_time());
        let printable: Vec<&Order> = orders.iter().filter(|o| !held_ids.contains(&o.order_id)).collect();
        let mut want: HashMap<(String, Option<String>), (u64, u32)> = HashMap::new();
        for o in &printable {
            let mut counted = std::collections::HashSet::new();
            for it in &o.items {
                let e = want.entry((it.sku.clone(), it.bin.clone())).or_default();
                e.0 += u64::from(it.qty);
                if counted.insert((it.sku.clone(), it.bin.clone())) { e.1 += 1; }
            }
        }
        let got: HashMap<(String, Option<String>), (u64, u32)> =
            list.lines.iter().map(|l| ((l.sku.clone(), l.bin.clone()), (l.qty, l.orders))).collect();
        prop_assert_eq!(got.len(), list.lines.len(), "one line per SKU and bin");
        prop_assert_eq!(got, want);
        prop_assert_eq!(list.orders.len(), printable.len());
        prop_assert_eq!(list.totals.units, printable.iter().flat_map(|o| &o.items).map(|it| u64::from(it.qty)).sum::<u64>());
    }
}

#[test]
fn cli_holds_refused_orders_and_says_why_without_their_text() {
    if !common::have("pdftotext") {
        common::skip("LABELD_REQUIRE_DOC_TOOLS", "pdftotext (Debian poppler-utils) is not installed");
        return;
    }
    let text = std::fs::read_to_string(common::fixtures().join("batches/batch-50.jsonl")).unwrap();
    let mut lines: Vec<serde_json::Value> = text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    lines[7]["label_note"] = "Order again at www.acme-deals.example for 20% off".into();
    let held_id = lines[7]["order_id"].as_str().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("labeld-picklist-held-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let batch = dir.join("batch.jsonl");
    std::fs::write(&batch, lines.iter().map(|l| l.to_string() + "\n").collect::<String>()).unwrap();
    let pdf = dir.join("pl.pdf");
    let out = Command::new(env!("CARGO_BIN_EXE_labeld")).arg("picklist").arg(&batch).arg("-o").arg(&pdf).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 held"));
    let text = Command::new("pdftotext").arg(&pdf).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&format!("HELD order {held_id}")), "{text}");
    assert!(text.contains("hyperlink") && text.contains("label_note"));
    assert!(!text.contains("acme-deals"), "the offending text must stay off the pick list");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Thermal pick lists in every printer language decode back to exactly the page rasters.
#[test]
fn thermal_pick_list_in_every_printer_language() {
    use labeld::lang::{self, Decoded, JobSettings, Language};
    let orders = batch("batch-50.jsonl");
    let list = build(&orders);
    let pages = page::pages(&list, Paper::Thermal100x150, 203, common::fonts()).unwrap();
    let rasters: Vec<_> = pages.iter().map(|d| render::raster::paint(d, common::fonts())).collect();
    for language in [Language::Zpl, Language::Tspl, Language::EscPos, Language::Epl, Language::Cpcl] {
        let mut bytes = Vec::new();
        for r in &rasters {
            bytes.extend(lang::encode(language, std::slice::from_ref(r), &JobSettings::for_bitmap(203, r)).unwrap());
        }
        let mut dec = lang::decoder(language, 203);
        let mut got = dec.push(&bytes).unwrap();
        got.extend(dec.finish().unwrap());
        let labels: Vec<_> = got.into_iter().filter_map(|d| if let Decoded::Label(b) = d { Some(b) } else { None }).collect();
        assert_eq!(labels.len(), rasters.len(), "{language}");
        for (i, (got, want)) in labels.iter().zip(&rasters).enumerate() {
            // ESC/POS sends whole bytes per row: a 799-dot page comes back 800 wide with a white edge.
            let got = got.crop(0, 0, want.width(), want.height());
            assert!(got == *want, "{language}: page {} differs", i + 1);
        }
    }
}
