//! Batch budget (DESIGN.md, issue 6): a 500-order batch yields its pick list and all labels, ready to
//! send, in ≤ 2 s on one core. Measured single-threaded: pick list (build + A4 layout + PDF) and every
//! label through the gate and encoded as ZPL for a Zebra ZD421 (drivers/zebra-zd421-203.toml: on its USB or
//! network link, binary PNG objects). Run: `cargo bench --bench batch`.

use criterion::{Criterion, criterion_group, criterion_main};

use labeld::comply::{Checker, SeenTracking};
use labeld::compose::{self, Gate};
use labeld::lang::{self, Language};
use labeld::printer::profile::Profile;
use labeld::order::Order;
use labeld::picklist::page::{self, Paper};
use labeld::bins::BinPattern;
use labeld::picklist::{PickList, pick_order};
use labeld::template::Template;
use labeld::text::{FontConfig, Fonts};

fn batch() -> Vec<Order> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/batches/batch-500.jsonl");
    std::fs::read_to_string(path).expect("fixture").lines().filter(|l| !l.trim().is_empty()).map(|l| Order::from_json_str(l).expect("valid")).collect()
}

fn run(orders: &[Order], gate: &Gate, fonts: &Fonts, printer: &Profile) -> (usize, usize) {
    let printed_at = time::macros::datetime!(2026-11-23 09:30 UTC);
    let pattern = BinPattern::default();
    let list = PickList::build(orders, vec![], &pattern, "PL-BENCH".into(), printed_at);
    let pages = page::pages(&list, Paper::A4, 300, fonts).unwrap();
    let refs: Vec<&_> = pages.iter().collect();
    let pdf = labeld::render::pdf::paint(&refs, fonts, "bench").unwrap();
    let opts = compose::Options { dpi: 203, printed_at };
    let mut seen = SeenTracking::new();
    let mut bytes = 0;
    for o in pick_order(orders, &pattern) {
        let label = gate.label(o, &seen, fonts, &opts).unwrap();
        seen.record(&o.shipment.tracking_number, &o.order_id);
        let settings = printer.job_settings(label.raster().width(), label.raster().height()).unwrap();
        bytes += lang::encode(Language::Zpl, std::slice::from_ref(label.raster()), &settings).unwrap().len();
    }
    (pdf.len(), bytes)
}

fn bench(c: &mut Criterion) {
    let fonts = Fonts::load(&FontConfig::default()).expect("fonts");
    let gate = Gate::new(Checker::new(None), Template::load(labeld::template::DEFAULT).unwrap()).unwrap();
    let orders = batch();
    let printer = Profile::from_file(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/drivers/zebra-zd421-203.toml"))).expect("profile");
    let (pdf, zpl) = run(&orders, &gate, &fonts, &printer);
    eprintln!("batch-500: pick list PDF {pdf} bytes, labels {zpl} bytes of ZPL ({} per label)", zpl / orders.len());
    let mut g = c.benchmark_group("batch");
    g.sample_size(10);
    g.bench_function("500 orders: pick list PDF + 500 gated labels as ZPL", |b| b.iter(|| run(&orders, &gate, &fonts, &printer)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
