//! Render budget (DESIGN.md): render + encode of the reference label ≤ 2 ms median at 203 dpi, ≤ 4 ms at
//! 300 dpi, on one core. "gated" is the daemon's real path (rules, layout, raster, barcode read-back, 2D
//! scan); "+ zpl" adds the printer encoding. Run: `cargo bench --bench render`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use labeld::compose;
use labeld::fields::Fields;
use labeld::order::Order;
use labeld::render::raster;
use labeld::template::Template;
use labeld::text::{FontConfig, Fonts};

fn reference_order() -> Order {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/orders/my-jnt-cod.json");
    Order::from_json_bytes(&std::fs::read(path).expect("fixture")).expect("valid order")
}

/// The label without the rules and the 2D-code scan: layout, raster and barcode read-back.
fn bare(order: &labeld::order::Order, template: &Template, fonts: &Fonts, dpi: u32, printed_at: time::OffsetDateTime) -> labeld::bitmap::Bitmap {
    let fields = Fields::from_order(order, printed_at);
    let doc = labeld::layout::layout(template, &fields, fonts, dpi).unwrap();
    let bmp = raster::paint(&doc, fonts);
    compose::verify_barcodes(&doc, &bmp).unwrap();
    bmp
}

fn bench(c: &mut Criterion) {
    let fonts = Fonts::load(&FontConfig::default()).expect("fonts");
    let template = Template::load(labeld::template::DEFAULT).unwrap();
    let order = reference_order();
    let printed_at = time::macros::datetime!(2026-11-23 09:30 UTC);
    let fields = Fields::from_order(&order, printed_at);
    for dpi in [203, 300] {
        let opts = compose::Options { dpi, printed_at };
        // Warm the glyph cache: a running daemon has it warm after the first label.
        bare(&order, &template, &fonts, dpi, printed_at);
        c.bench_function(&format!("label {dpi} dpi: layout+raster+verify"), |b| {
            b.iter(|| bare(black_box(&order), &template, &fonts, dpi, printed_at))
        });
        let gate = compose::Gate::new(labeld::comply::Checker::new(None), template.clone()).unwrap();
        c.bench_function(&format!("label {dpi} dpi: gated"), |b| {
            b.iter(|| gate.label(black_box(&order), &labeld::comply::NoSpool, &fonts, &opts).unwrap())
        });
        c.bench_function(&format!("label {dpi} dpi: gated + zpl"), |b| {
            b.iter(|| {
                let label = gate.label(black_box(&order), &labeld::comply::NoSpool, &fonts, &opts).unwrap();
                let settings = labeld::lang::JobSettings::for_bitmap(dpi, label.raster());
                labeld::lang::encode(labeld::lang::Language::Zpl, std::slice::from_ref(label.raster()), &settings).unwrap()
            })
        });
        c.bench_function(&format!("label {dpi} dpi: layout"), |b| {
            b.iter(|| labeld::layout::layout(&template, black_box(&fields), &fonts, dpi).unwrap())
        });
        let doc = labeld::layout::layout(&template, &fields, &fonts, dpi).unwrap();
        c.bench_function(&format!("label {dpi} dpi: raster"), |b| b.iter(|| raster::paint(black_box(&doc), &fonts)));
        let bmp = raster::paint(&doc, &fonts);
        c.bench_function(&format!("label {dpi} dpi: verify barcodes"), |b| {
            b.iter(|| compose::verify_barcodes(black_box(&doc), &bmp).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
