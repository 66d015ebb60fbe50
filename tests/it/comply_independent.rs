//! The independent corpus (tests/comply/independent-*.tsv): seller texts in eleven languages (Chinese in both scripts), each placed in the
//! field it names of an otherwise valid order and checked as a whole order, so field-aware judgement is what is
//! measured. The held-out split was frozen before tuning; its figures per language and category are README's.
//!
//! `cargo test --test it comply_independent -- --nocapture` prints the tables; `COMPLY_SHOW_HELDOUT=1` also
//! lists the held-out misses (looking at them is tuning against them: add such cases to the dev split instead).

use crate::common;

use std::collections::BTreeMap;

use labeld::comply::{Checker, NoSpool, Rule};
use labeld::order::Order;

struct Case {
    line: usize,
    lang: String,
    category: String,
    field: String,
    expected: Option<Rule>,
    text: String,
}

fn corpus(name: &str) -> Vec<Case> {
    let path = format!("{}/tests/comply/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut out = vec![];
    for (i, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.splitn(5, '\t').collect();
        let [lang, category, field, expected, text] = cols[..] else { panic!("{name}:{}: expected 5 columns", i + 1) };
        let expected = match expected {
            "allowed" => None,
            id => Some(Rule::from_id(id).unwrap_or_else(|| panic!("{name}:{}: unknown rule {id}", i + 1))),
        };
        out.push(Case { line: i + 1, lang: lang.into(), category: category.into(), field: field.into(), expected, text: text.into() });
    }
    out
}

/// The base order with `text` in `field`.
fn order_with(base: &Order, field: &str, text: &str) -> Order {
    let mut o = base.clone();
    let t = text.to_string();
    match field {
        "label_note" => o.label_note = Some(t),
        "items[0].name" => o.items[0].name = t,
        "items[0].sku" => o.items[0].sku = t,
        "items[0].variant" => o.items[0].variant = Some(t),
        "sender.name" => o.sender.name = t,
        "sender.address.lines[0]" => o.sender.address.lines[0] = t,
        "recipient.name" => o.recipient.name = t,
        "recipient.address.lines[0]" => o.recipient.address.lines[0] = t,
        "recipient.phone" => o.recipient.phone = Some(t),
        other => panic!("no such corpus field {other}"),
    }
    o
}

#[derive(Default, Clone, Copy)]
struct Tally {
    violations: usize,
    caught: usize,
    allowed: usize,
    refused: usize,
}

impl Tally {
    fn recall(&self) -> f64 {
        self.caught as f64 / self.violations.max(1) as f64
    }
    fn false_refusals(&self) -> f64 {
        self.refused as f64 / self.allowed.max(1) as f64
    }
    fn add(&mut self, other: Tally) {
        self.violations += other.violations;
        self.caught += other.caught;
        self.allowed += other.allowed;
        self.refused += other.refused;
    }
}

struct Scores {
    total: Tally,
    by_lang: BTreeMap<String, Tally>,
    by_category: BTreeMap<String, Tally>,
    misses: Vec<String>,
}

fn score(name: &str) -> Scores {
    let checker = Checker::new(None);
    let (_, base) = common::fixture_orders().into_iter().find(|(n, _)| n == "my-jnt-cod").unwrap();
    assert!(checker.check_order(&base, &NoSpool).is_printable());
    let mut s = Scores { total: Tally::default(), by_lang: BTreeMap::new(), by_category: BTreeMap::new(), misses: vec![] };
    for case in corpus(name) {
        let order = order_with(&base, &case.field, &case.text);
        let report = checker.check_order(&order, &NoSpool);
        let mut t = Tally::default();
        match case.expected {
            Some(rule) => {
                t.violations = 1;
                // Caught: refused for the expected rule, in the field the text is in.
                if report.refusals.iter().any(|r| r.rule == rule && r.path == case.field) {
                    t.caught = 1;
                } else {
                    s.misses.push(format!("{name}:{} [{} {}] {} {:?} → {:?}", case.line, case.lang, case.category, case.field, case.text, report.rules()));
                }
            }
            None => {
                t.allowed = 1;
                if !report.is_printable() {
                    t.refused = 1;
                    let why: Vec<String> = report.refusals.iter().map(|r| format!("{} {} {:?}", r.rule, r.path, r.text)).collect();
                    s.misses.push(format!("{name}:{} [{} {}] {} {:?} refused: {}", case.line, case.lang, case.category, case.field, case.text, why.join("; ")));
                }
            }
        }
        s.total.add(t);
        s.by_lang.entry(case.lang.clone()).or_default().add(t);
        s.by_category.entry(case.category.clone()).or_default().add(t);
    }
    print_tables(name, &s);
    s
}

fn print_tables(name: &str, s: &Scores) {
    println!("== {name}: {} violations, {} allowed texts", s.total.violations, s.total.allowed);
    for (title, map) in [("language", &s.by_lang), ("category", &s.by_category)] {
        println!("| {title} | violations | refused (recall) | allowed texts | falsely refused |");
        println!("| --- | --- | --- | --- | --- |");
        for (key, t) in map.iter().chain([(&"all".to_string(), &s.total)]) {
            let recall = if t.violations > 0 { format!("{} ({:.1}%)", t.caught, t.recall() * 100.0) } else { "".into() };
            let fr = if t.allowed > 0 { format!("{} ({:.1}%)", t.refused, t.false_refusals() * 100.0) } else { "".into() };
            println!("| {key} | {} | {recall} | {} | {fr} |", t.violations, t.allowed);
        }
    }
}

#[test]
fn independent_dev_split() {
    let s = score("independent-dev.tsv");
    println!("misses and false refusals:\n{}", s.misses.join("\n"));
    assert!(s.total.violations + s.total.allowed >= 1_000);
    assert!(s.total.recall() >= 0.98, "dev recall {:.1}%", s.total.recall() * 100.0);
    assert!(s.total.false_refusals() <= 0.01, "dev false refusals {:.1}%", s.total.false_refusals() * 100.0);
}

/// The done-when of issue 14, on the frozen split.
#[test]
fn independent_heldout_split() {
    let s = score("independent-heldout.tsv");
    if std::env::var_os("COMPLY_SHOW_HELDOUT").is_some() {
        println!("misses and false refusals:\n{}", s.misses.join("\n"));
    }
    assert!(s.total.violations >= 200 && s.total.allowed >= 200);
    assert!(s.total.recall() >= 0.98, "held-out recall {:.1}%", s.total.recall() * 100.0);
    assert!(s.total.false_refusals() <= 0.01, "held-out false refusals {:.1}%", s.total.false_refusals() * 100.0);
    for (lang, t) in &s.by_lang {
        assert!(t.recall() >= 0.95, "held-out recall in {lang}: {:.1}%", t.recall() * 100.0);
    }
}

/// The platform's and carrier's own words are the order's, not invitations: an order from another marketplace,
/// shipped by its carrier, is printable.
#[test]
fn platform_and_carrier_names_are_codes() {
    let checker = Checker::new(None);
    let (_, mut order) = common::fixture_orders().into_iter().find(|(n, _)| n == "my-jnt-cod").unwrap();
    order.platform = Some("shopee".into());
    order.shipment.carrier = "Lazada eLogistics".into();
    order.shipment.service = Some("Shopee Xpress Standard".into());
    assert!(checker.check_order(&order, &NoSpool).is_printable(), "{:?}", checker.check_order(&order, &NoSpool));
    order.label_note = Some("Cheaper on our Lazada store".into());
    assert_eq!(checker.check_order(&order, &NoSpool).rules(), vec![Rule::OffPlatformContact]);
}

/// A refusal from the lexicon still names its rule, field and span, and the span holds the reported text.
#[test]
fn lexicon_refusals_are_explainable() {
    let checker = Checker::new(None);
    let (_, base) = common::fixture_orders().into_iter().find(|(n, _)| n == "my-jnt-cod").unwrap();
    for case in corpus("independent-dev.tsv") {
        let order = order_with(&base, &case.field, &case.text);
        for r in checker.check_order(&order, &NoSpool).refusals {
            let field = if r.path == case.field { case.text.as_str() } else { continue };
            assert_eq!(&field[r.span.clone()], r.text, "{r}");
            assert!(!r.text.is_empty() && !r.message.is_empty(), "{r}");
        }
    }
}
