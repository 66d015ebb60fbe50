//! Compliance cost per label: checking one fixture order (every text field, phones, tracking number, sender
//! registry), and one free-text note with a violation in it.

use criterion::{Criterion, criterion_group, criterion_main};
use labeld::comply::{Checker, NoSpool, Registry};
use labeld::order::Order;
use std::hint::black_box;
use std::path::PathBuf;

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn bench(c: &mut Criterion) {
    let order = Order::from_json_bytes(&std::fs::read(shared().join("orders/my-jnt-cod.json")).unwrap()).unwrap();
    let registry = Registry::load(&shared().join("warehouses.toml")).unwrap();
    let checker = Checker::new(Some(registry));
    assert!(checker.check_order(&order, &NoSpool).is_printable());
    c.bench_function("comply/check_order my-jnt-cod", |b| b.iter(|| checker.check_order(black_box(&order), &NoSpool)));
    let note = "Thanks for your order! 加微信 acme_888 领券, or WhatsApp +60 12-888 7777 for 10% off at ｗｗｗ．ａｃｍｅ．ｃｏｍ";
    c.bench_function("comply/check_text note with violations", |b| b.iter(|| checker.check_text("label_note", black_box(note))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
