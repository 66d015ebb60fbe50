//! Every shared fixture renders at 203 and 300 dpi, its barcodes read back, nothing collides, and the
//! raster matches the golden image exactly.
//!
//! Golden images live in tests/golden/, drawn with the fonts the tests pin (`common::pinned_fonts`: the
//! DejaVu Sans built into labeld and the Noto faces under tests/fonts, never the system's), so they hold
//! on any machine. After a deliberate change to the template, layout or fonts, regenerate them with
//! `LABELD_UPDATE_GOLDEN=1 cargo test --test it render_fixtures` and look at them before committing. A
//! mismatch writes the new image next to target/golden-diff/ for comparison.

use crate::common;

use std::path::PathBuf;

use labeld::document::{Element, Rect};
use labeld::layout::collisions;
use labeld::render;

const DPIS: [u32; 2] = [203, 300];

#[test]
fn every_fixture_renders_scans_and_keeps_its_layout() {
    for (name, order) in common::fixture_orders() {
        for dpi in DPIS {
            let label = common::render(&order, dpi).unwrap_or_else(|e| panic!("{name} at {dpi} dpi: {e}"));
            let doc = label.document();
            // 100×150 mm at this resolution.
            assert_eq!(doc.width as i32, labeld::document::mm_to_dots(100.0, dpi));
            assert_eq!(doc.height as i32, labeld::document::mm_to_dots(150.0, dpi));
            let page = Rect::new(0, 0, doc.width as i32, doc.height as i32);
            for el in &doc.elements {
                assert!(page.contains(&el.bounds()), "{name}@{dpi}: {:?} leaves the page", el.bounds());
            }
            let hits = collisions(doc);
            assert!(hits.is_empty(), "{name}@{dpi}: elements collide: {hits:?}");
            // The tracking number is a barcode on the label (compose already proved it scans).
            assert!(doc.barcodes().any(|b| b.data == order.shipment.tracking_number), "{name}: no tracking barcode");
            // The human-readable tracking number and the recipient are printed.
            let texts: Vec<&str> = doc.texts().map(|t| t.text.as_str()).collect();
            assert!(texts.iter().any(|t| t.replace(' ', "") == order.shipment.tracking_number), "{name}: {texts:?}");
            assert!(texts.contains(&order.recipient.name.as_str()), "{name}: recipient name missing");
            // The last-line 2D scan of the finished raster stays one cheap pass: bars and text wake no detector.
            let woken = labeld::barcode::verify::detectors_woken(label.raster());
            assert!(woken.is_empty(), "{name}@{dpi}: a clean label woke 2D detectors {woken:?}");
            // The recipient's phone is masked by default.
            if let Some(phone) = &order.recipient.phone {
                assert!(!texts.iter().any(|t| t.contains(phone.as_str())), "{name}: recipient phone printed in full");
            }
        }
    }
}

#[test]
fn handover_and_cod_are_shown() {
    for (name, order) in common::fixture_orders() {
        let label = common::render(&order, 203).unwrap();
        let texts: Vec<String> = label.document().texts().map(|t| t.text.clone()).collect();
        assert!(texts.iter().any(|t| t == order.shipment.handover.label_text()), "{name}: {texts:?}");
        match &order.shipment.cod {
            Some(cod) => assert!(texts.iter().any(|t| t.contains(&cod.amount) && t.starts_with("COD")), "{name}: {texts:?}"),
            None => assert!(!texts.iter().any(|t| t.starts_with("COD")), "{name}: COD shown on a prepaid parcel"),
        }
    }
}

#[test]
fn nothing_is_drawn_outside_the_elements() {
    for (name, order) in common::fixture_orders() {
        let label = common::render(&order, 203).unwrap();
        let areas: Vec<Rect> = label.document().elements.iter().map(Element::bounds).collect();
        let r = label.raster();
        for y in 0..r.height() {
            for x in 0..r.width() {
                if r.get(x, y) {
                    let p = Rect::new(x as i32, y as i32, 1, 1);
                    assert!(areas.iter().any(|a| a.contains(&p)), "{name}: stray dot at ({x}, {y})");
                }
            }
        }
    }
}

#[test]
fn png_is_the_raster_at_its_real_size() {
    let (_, order) = &common::fixture_orders()[0];
    let label = common::render(order, 203).unwrap();
    let png = render::png::encode(label.raster(), 203);
    assert_eq!(&render::png::decode(&png).unwrap(), label.raster());
    // pHYs: 203 dpi = 7992 dots per metre.
    let decoder = png::Decoder::new(std::io::Cursor::new(&png));
    let reader = decoder.read_info().unwrap();
    let dims = reader.info().pixel_dims.unwrap();
    assert_eq!(dims.xppu, 7992);
    assert_eq!(dims.unit, png::Unit::Meter);
}

#[test]
fn golden_images_match() {
    let update = std::env::var_os("LABELD_UPDATE_GOLDEN").is_some();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let diff_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/golden-diff");
    let mut failures = Vec::new();
    for (name, order) in common::fixture_orders() {
        for dpi in DPIS {
            let label = common::render_with(&order, dpi, common::pinned_fonts()).unwrap_or_else(|e| panic!("{name}@{dpi} with the pinned fonts: {e}"));
            let path = dir.join(format!("{name}-{dpi}.png"));
            let png = render::png::encode(label.raster(), dpi);
            if update {
                std::fs::write(&path, &png).unwrap();
                continue;
            }
            let Ok(expected) = std::fs::read(&path) else {
                failures.push(format!("{}: missing (run with LABELD_UPDATE_GOLDEN=1)", path.display()));
                continue;
            };
            let expected = render::png::decode(&expected).unwrap();
            if &expected != label.raster() {
                let differing = (0..expected.height().min(label.raster().height()))
                    .flat_map(|y| (0..expected.width().min(label.raster().width())).map(move |x| (x, y)))
                    .filter(|&(x, y)| expected.get(x, y) != label.raster().get(x, y))
                    .count();
                std::fs::create_dir_all(&diff_dir).unwrap();
                let actual = diff_dir.join(format!("{name}-{dpi}.png"));
                std::fs::write(&actual, &png).unwrap();
                failures.push(format!("{name}@{dpi}: {differing} dots differ; new image at {}", actual.display()));
            }
        }
    }
    assert!(failures.is_empty(), "golden images differ:\n{}", failures.join("\n"));
}

#[test]
fn pdf_has_vector_text_and_subset_fonts() {
    for (name, order) in common::fixture_orders() {
        let label = common::render(&order, 203).unwrap();
        let pdf = render::pdf::paint(&[label.document()], common::fonts(), "t").unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "{name}");
        // Subset fonts keep a label PDF small even with a CJK face.
        assert!(pdf.len() < 400_000, "{name}: PDF is {} bytes", pdf.len());
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/FontFile"), "{name}: fonts not embedded");
    }
}
