//! Printer-language encoders: the reference label (fixture my-jnt-cod) encoded in every language at 203
//! and 300 dpi, and the bytes each sends. Run: `cargo bench --bench lang`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use labeld::compose;
use labeld::lang::zpl::{Encoding, ZplOptions};
use labeld::lang::{self, JobSettings, Language};
use labeld::order::Order;
use labeld::template::Template;
use labeld::text::{FontConfig, Fonts};

fn reference_order() -> Order {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/orders/my-jnt-cod.json");
    Order::from_json_bytes(&std::fs::read(path).expect("fixture")).expect("valid order")
}

fn bench(c: &mut Criterion) {
    let fonts = Fonts::load(&FontConfig::default()).expect("fonts");
    let template = Template::load(labeld::template::DEFAULT).unwrap();
    let gate = compose::Gate::new(labeld::comply::Checker::new(None), template).unwrap();
    let order = reference_order();
    let printed_at = time::macros::datetime!(2026-11-23 09:30 UTC);
    for dpi in [203, 300] {
        let raster = gate.label(&order, &labeld::comply::NoSpool, &fonts, &compose::Options { dpi, printed_at }).unwrap().into_parts().1;
        let pages = std::slice::from_ref(&raster);
        let mut variants: Vec<(String, Language, JobSettings)> =
            Language::ALL.iter().map(|&l| (l.to_string(), l, JobSettings::for_bitmap(dpi, &raster))).collect();
        let mut acs = JobSettings::for_bitmap(dpi, &raster);
        acs.options.set(ZplOptions { encoding: Encoding::Acs });
        variants.push(("zpl-acs".into(), Language::Zpl, acs));
        let mut png = JobSettings::for_bitmap(dpi, &raster);
        png.options.set(ZplOptions { encoding: Encoding::Png });
        variants.push(("zpl-png".into(), Language::Zpl, png));
        for (name, lang, settings) in &variants {
            let bytes = lang::encode(*lang, pages, settings).unwrap();
            eprintln!("bytes per label, {name} @ {dpi} dpi: {}", bytes.len());
            c.bench_function(&format!("encode {name} @ {dpi} dpi"), |b| b.iter(|| lang::encode(*lang, black_box(pages), settings).unwrap()));
            c.bench_function(&format!("decode {name} @ {dpi} dpi"), |b| b.iter(|| lang::decode_all(*lang, dpi, black_box(&bytes)).unwrap()));
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
