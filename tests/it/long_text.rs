//! Long real-world names and addresses fit the label: a recipient name wraps to two lines and shrinks
//! to 6 pt, an address takes up to six lines, and only beyond that is an order refused, with the field
//! and how many characters to cut. The forms are the long ones warehouses meet: Malay names with
//! bin/binti and honorifics, Thai addresses with moo/soi/tambon, Indonesian RT/RW addresses and
//! Vietnamese ones with ward, district and province (tests/fixtures/orders-long).

use crate::common;


use labeld::compose::ComposeError;
use labeld::comply::Rule;
use labeld::layout::collisions;
use labeld::order::Order;
use labeld::text::{TextStyle, Weight};

const DPIS: [u32; 2] = [203, 300];

fn long_orders() -> Vec<(String, Order)> {
    common::orders_in("orders-long")
}

fn pt_to_px(pt: f32, dpi: u32) -> f32 {
    pt * dpi as f32 / 72.0
}

#[test]
fn the_78_character_malay_name_is_in_the_set() {
    let orders = long_orders();
    assert_eq!(orders.len(), 5);
    let (_, my) = orders.iter().find(|(n, _)| n == "my-long-name-binti").unwrap();
    assert_eq!(my.recipient.name.chars().count(), 78);
    assert!(my.recipient.name.contains(" bin "));
}

#[test]
fn long_names_and_addresses_render_without_collisions() {
    for (name, order) in long_orders() {
        for dpi in DPIS {
            let label = common::render(&order, dpi).unwrap_or_else(|e| panic!("{name}@{dpi}: {e}"));
            let doc = label.document();
            assert!(collisions(doc).is_empty(), "{name}@{dpi}: {:?}", collisions(doc));
            let run = doc.texts().find(|t| t.element == "recipient-name").expect("recipient name printed");
            assert_eq!(run.text, order.recipient.name, "{name}: the name is printed whole, never cut");
            assert!(run.size_px >= pt_to_px(6.0, dpi) - 0.01, "{name}@{dpi}: name at {} px", run.size_px);
            let address = doc.texts().find(|t| t.element == "recipient-address").expect("address printed");
            for line in &order.recipient.address.lines {
                assert!(address.text.contains(line.as_str()), "{name}: address line {line:?} missing");
            }
            // compose already read both barcodes back from the raster (rxing); see below for zbar.
            assert!(doc.barcodes().any(|b| b.data == order.shipment.tracking_number));
        }
    }
}

#[test]
fn the_78_character_name_takes_two_lines() {
    let (_, order) = long_orders().into_iter().find(|(n, _)| n == "my-long-name-binti").unwrap();
    let label = common::render(&order, 203).unwrap();
    let run = label.document().texts().find(|t| t.element == "recipient-name").unwrap();
    // Two lines of glyphs: their baselines take two distinct values.
    let mut baselines: Vec<i64> = run.glyphs.iter().map(|g| g.y as i64).collect();
    baselines.sort();
    baselines.dedup();
    assert_eq!(baselines.len(), 2, "baselines {baselines:?}");
}

#[test]
fn long_labels_scan_with_an_independent_decoder() {
    let Some(()) = common::zbar::available("long_labels_scan_with_an_independent_decoder") else { return };
    let dir = tempfile::tempdir().unwrap();
    for (name, order) in long_orders() {
        for dpi in DPIS {
            let label = common::render(&order, dpi).unwrap();
            let path = dir.path().join(format!("{name}-{dpi}.png"));
            std::fs::write(&path, labeld::render::png::encode(label.raster(), dpi)).unwrap();
            let mut read = common::zbar::code128(&[&path]);
            read.sort();
            let mut want = vec![order.shipment.tracking_number.clone(), order.order_id.clone()];
            want.sort();
            assert_eq!(read, want, "{name}@{dpi}");
        }
    }
}

/// 6 pt is the floor for the name and the address: at 203 dpi (16.9 dots per em) a stem must still be
/// a full dot wide, or the thermal head prints broken letters. Measured on the coverage masks the
/// raster painter burns, for regular and bold, vertical and horizontal strokes.
#[test]
fn six_point_stems_are_at_least_one_dot_at_203_dpi() {
    let fonts = common::fonts();
    let px = pt_to_px(6.0, 203);
    for weight in [Weight::Regular, Weight::Bold] {
        let style = TextStyle { size_px: px, weight, line_height: 1.0 };
        for (ch, vertical) in [('l', true), ('I', true), ('|', true), ('-', false), ('_', false)] {
            let para = fonts.layout(&ch.to_string(), &style, None).unwrap();
            let g = para.lines[0].glyphs[0];
            let mask = fonts.glyph_mask(g.face, g.id, px);
            let (w, h) = (mask.width as usize, mask.height as usize);
            let at = |x: usize, y: usize| mask.coverage[y * w + x];
            // Across the stroke through the middle of the glyph: total coverage is the stroke's width in dots.
            let (width, burned) = if vertical {
                let y = h / 2;
                ((0..w).map(|x| at(x, y) as f32 / 255.0).sum::<f32>(), (0..w).filter(|&x| at(x, y) >= 128).count())
            } else {
                let x = w / 2;
                ((0..h).map(|y| at(x, y) as f32 / 255.0).sum::<f32>(), (0..h).filter(|&y| at(x, y) >= 128).count())
            };
            assert!(width >= 1.0, "{ch:?} {weight:?}: stem {width:.2} dots wide at 6 pt");
            assert!(burned >= 1, "{ch:?} {weight:?}: no dot burned across the stem");
            // And the stroke is unbroken along its length: every row (column) along it burns a dot.
            if vertical {
                let rows = (0..h).filter(|&y| (0..w).any(|x| at(x, y) >= 128)).count();
                assert!(rows + 1 >= h, "{ch:?} {weight:?}: stem breaks ({rows} of {h} rows burn)");
            }
        }
    }
}

/// The refusal a packer sees: through the gate every print takes, as the daemon and the CLI do.
fn refusal(order: &Order) -> labeld::comply::Refusal {
    let gate = labeld::compose::Gate::new(labeld::comply::Checker::new(None), common::template().clone()).unwrap();
    let opts = labeld::compose::Options { dpi: 203, printed_at: common::fixed_time() };
    match gate.label(order, &labeld::comply::NoSpool, common::fonts(), &opts) {
        Err(ComposeError::Refused(report)) => {
            assert_eq!(report.refusals.len(), 1, "{:?}", report.refusals);
            report.refusals.into_iter().next().unwrap()
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| "a label")),
    }
}

/// "shorten it by N characters" → N.
fn cut_by(message: &str) -> usize {
    let tail = message.split("shorten it by ").nth(1).unwrap_or_else(|| panic!("no advice in {message:?}"));
    tail.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_name_beyond_two_lines_is_refused_with_how_much_to_cut() {
    let (_, mut order) = long_orders().into_iter().find(|(n, _)| n == "my-long-name-binti").unwrap();
    let name = format!("{} {}", order.recipient.name, order.recipient.name);
    order.recipient.name = format!("{name} {}", order.recipient.name);
    let r = refusal(&order);
    assert_eq!(r.rule, Rule::Overflow);
    assert_eq!(r.path, "recipient.name");
    assert!(r.message.contains("on up to 2 lines") && r.message.contains("6 pt"), "{}", r.message);
    let n = cut_by(&r.message);
    let chars: Vec<char> = order.recipient.name.chars().collect();
    // The advice is exact: cutting N characters prints, cutting one fewer still does not fit.
    let mut cut = order.clone();
    cut.recipient.name = chars[..chars.len() - n].iter().collect::<String>().trim_end().to_string();
    common::render(&cut, 203).unwrap_or_else(|e| panic!("cut by {n}: {e}"));
    cut.recipient.name = chars[..chars.len() - n + 1].iter().collect::<String>().trim_end().to_string();
    assert!(common::render(&cut, 203).is_err(), "cutting {} would have been enough", n - 1);
    // The refusal's message never repeats the buyer's name.
    assert!(!r.message.contains("Rahim"));
}

#[test]
fn six_address_lines_fit_and_a_seventh_is_refused_by_field() {
    let (_, mut order) = long_orders().into_iter().find(|(n, _)| n == "id-long-rt-rw").unwrap();
    // Lines, district and the locality line: six in all.
    order.recipient.address.lines = vec![
        "Jl. Raya Kebayoran Lama Gg. Masjid Al-Ikhlas No. 17B, RT 007/RW 012".into(),
        "Perumahan Griya Asri Blok C3 No. 9".into(),
        "Kel. Sukabumi Utara, Kec. Kebon Jeruk".into(),
        "Dekat Musholla Nurul Huda, pagar hijau".into(),
    ];
    order.recipient.address.district = Some("Kecamatan Kebon Jeruk".into());
    let label = common::render(&order, 203).unwrap_or_else(|e| panic!("six lines: {e}"));
    let run = label.document().texts().find(|t| t.element == "recipient-address").unwrap();
    let mut baselines: Vec<i64> = run.glyphs.iter().map(|g| g.y as i64).collect();
    baselines.sort();
    baselines.dedup();
    assert_eq!(baselines.len(), 6);

    order.recipient.address.lines.push("Rumah kedua setelah warung kopi".into());
    let r = refusal(&order);
    assert_eq!(r.rule, Rule::Overflow);
    assert!(r.path.starts_with("recipient.address"), "{}", r.path);
    assert!(r.message.contains("on up to 6 lines"), "{}", r.message);
    assert!(cut_by(&r.message) > 0);
}
