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

    // The independent corpus (both splits), each text in its field of the same order: the rules alone, for
    // comparison with the same corpus through POST /v1/check (benches/check_http.rs).
    let base: serde_json::Value = serde_json::from_slice(&std::fs::read(shared().join("orders/my-jnt-cod.json")).unwrap()).unwrap();
    let mut orders = vec![];
    for split in ["independent-dev.tsv", "independent-heldout.tsv"] {
        let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/comply").join(split)).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            let cols: Vec<&str> = line.splitn(5, '\t').collect();
            let mut o = base.clone();
            let pointer = match cols[2] {
                "label_note" => "/label_note".to_string(),
                "items[0].name" => "/items/0/name".into(),
                "items[0].sku" => "/items/0/sku".into(),
                "items[0].variant" => "/items/0/variant".into(),
                "sender.name" => "/sender/name".into(),
                "sender.address.lines[0]" => "/sender/address/lines/0".into(),
                "recipient.name" => "/recipient/name".into(),
                "recipient.address.lines[0]" => "/recipient/address/lines/0".into(),
                "recipient.phone" => "/recipient/phone".into(),
                other => panic!("field {other}"),
            };
            *o.pointer_mut(&pointer).unwrap() = cols[4].into();
            orders.push(Order::from_json_value(o).unwrap());
        }
    }
    let unregistered = Checker::new(None);
    c.bench_function(&format!("comply/check_order the independent corpus ({} orders)", orders.len()), |b| {
        b.iter(|| orders.iter().filter(|o| unregistered.check_order(black_box(o), &NoSpool).is_printable()).count())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
