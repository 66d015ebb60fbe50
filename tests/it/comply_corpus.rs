//! The compliance engine against labelled corpora, the shared fixtures, published tracking-number vectors
//! and random text.
//!
//! Two corpora: `tests/comply/dev.tsv` (the rules were tuned against it) and `tests/comply/heldout.tsv`
//! (written before tuning, never tuned against). Both print precision and recall per rule; run with
//! `cargo test --test it comply_corpus -- --nocapture` to see them. `COMPLY_SHOW_HELDOUT=1` also lists the held-out
//! misses (looking at them is tuning against them).

use crate::common;

use std::collections::BTreeMap;

use labeld::comply::{Checker, NoSpool, Registry, Rule, SeenTracking, tracking};
use labeld::order::Order;
use proptest::prelude::*;

fn corpus(name: &str) -> Vec<(Option<Rule>, String)> {
    let path = format!("{}/tests/comply/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let (label, text) = l.split_once('\t').unwrap_or_else(|| panic!("{name}:{}: no tab", i + 1));
            let rule = if label == "ok" { None } else { Some(Rule::from_id(label).unwrap_or_else(|| panic!("{name}:{}: unknown rule {label}", i + 1))) };
            (rule, text.to_string())
        })
        .collect()
}

struct Scores {
    ok_lines: usize,
    false_refusals: Vec<String>,
    bad_lines: usize,
    missed: Vec<String>,
    per_rule: BTreeMap<Rule, (usize, usize, usize)>, // true positives, false positives, false negatives
}

fn score(name: &str) -> Scores {
    let checker = Checker::new(None);
    let mut s = Scores { ok_lines: 0, false_refusals: vec![], bad_lines: 0, missed: vec![], per_rule: BTreeMap::new() };
    for (expected, text) in corpus(name) {
        let found = checker.check_text("label_note", &text);
        let mut rules: Vec<Rule> = found.iter().map(|r| r.rule).collect();
        rules.dedup();
        match expected {
            None => {
                s.ok_lines += 1;
                if !found.is_empty() {
                    s.false_refusals.push(format!("{text:?} → {}", found.iter().map(|r| format!("{} {:?}", r.rule, r.text)).collect::<Vec<_>>().join(", ")));
                }
            }
            Some(rule) => {
                s.bad_lines += 1;
                if !rules.contains(&rule) {
                    s.missed.push(format!("{rule}: {text:?} → {rules:?}"));
                }
            }
        }
        for r in Rule::ALL {
            let e = s.per_rule.entry(r).or_default();
            match (expected == Some(r), rules.contains(&r)) {
                (true, true) => e.0 += 1,
                (false, true) => e.1 += 1,
                (true, false) => e.2 += 1,
                _ => {}
            }
        }
    }
    println!("== {name}: {} allowed, {} violating lines", s.ok_lines, s.bad_lines);
    println!("{:<22} {:>5} {:>5} {:>5} {:>10} {:>8}", "rule", "tp", "fp", "fn", "precision", "recall");
    for (rule, (tp, fp, fneg)) in &s.per_rule {
        if tp + fp + fneg == 0 {
            continue;
        }
        let p = *tp as f64 / (tp + fp).max(1) as f64;
        let r = *tp as f64 / (tp + fneg).max(1) as f64;
        println!("{:<22} {tp:>5} {fp:>5} {fneg:>5} {:>9.1}% {:>7.1}%", rule.id(), p * 100.0, r * 100.0);
    }
    println!(
        "false refusals on allowed text: {}/{} = {:.1}%; violations caught with the right rule: {}/{} = {:.1}%",
        s.false_refusals.len(),
        s.ok_lines,
        s.false_refusal_rate() * 100.0,
        s.bad_lines - s.missed.len(),
        s.bad_lines,
        s.recall() * 100.0
    );
    s
}

impl Scores {
    fn false_refusal_rate(&self) -> f64 {
        self.false_refusals.len() as f64 / self.ok_lines as f64
    }
    fn recall(&self) -> f64 {
        (self.bad_lines - self.missed.len()) as f64 / self.bad_lines as f64
    }
}

#[test]
fn dev_corpus() {
    let s = score("dev.tsv");
    println!("false refusals:\n{}\nmissed:\n{}", s.false_refusals.join("\n"), s.missed.join("\n"));
    assert!(s.ok_lines >= 150 && s.bad_lines >= 150, "the dev corpus is a few hundred lines, about half allowed");
    assert!(s.false_refusal_rate() < 0.02, "false refusals:\n{}", s.false_refusals.join("\n"));
    assert!(s.recall() > 0.97, "missed:\n{}", s.missed.join("\n"));
}

/// The held-out corpus measures; it does not steer. The floors are the issue's targets.
#[test]
fn heldout_corpus() {
    let s = score("heldout.tsv");
    if std::env::var_os("COMPLY_SHOW_HELDOUT").is_some() {
        println!("false refusals:\n{}\nmissed:\n{}", s.false_refusals.join("\n"), s.missed.join("\n"));
    }
    assert!(s.ok_lines >= 80 && s.bad_lines >= 80);
    assert!(s.false_refusal_rate() < 0.02, "held-out false refusal rate {:.1}%", s.false_refusal_rate() * 100.0);
    assert!(s.recall() > 0.97, "held-out recall {:.1}%", s.recall() * 100.0);
}

fn registry() -> Registry {
    Registry::load(&common::fixtures().join("warehouses.toml")).expect("fixture warehouse registry")
}

#[test]
fn every_fixture_order_is_printable() {
    let checker = Checker::new(Some(registry()));
    for (name, order) in common::fixture_orders() {
        let report = checker.check_order(&order, &NoSpool);
        assert!(report.is_printable(), "{name}: {:#?}", report.refusals);
    }
}

#[test]
fn every_bad_fixture_is_refused_with_its_rule() {
    let checker = Checker::new(Some(registry()));
    let dir = common::fixtures().join("orders-bad");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&path).unwrap()) else { continue };
        let Some(expect) = value["expect"].as_str() else { continue };
        let Some(rule) = expect.strip_prefix("reject:") else { continue };
        let rule = match rule {
            "warehouse" => Rule::UnknownWarehouse,
            "tracking" => Rule::TrackingNumber,
            "duplicate" => Rule::DuplicateTrackingNumber,
            "qr" => Rule::QrCode,
            "link" | "url" => Rule::Hyperlink,
            "contact" => Rule::OffPlatformContact,
            other => Rule::from_id(other).unwrap_or_else(|| panic!("{}: unknown expectation {other}", path.display())),
        };
        let order = Order::from_json_value(value["order"].clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let report = checker.check_order(&order, &NoSpool);
        assert_eq!(report.rules(), vec![rule], "{}: {:#?}", path.display(), report.refusals);
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} reject cases found in {}", dir.display());
}

#[test]
fn refusals_point_at_the_offending_text() {
    let checker = Checker::new(Some(registry()));
    let (_, mut order) = common::fixture_orders().into_iter().find(|(n, _)| n == "my-jnt-cod").unwrap();
    order.label_note = Some("Thanks! WhatsApp us +60 12-888 7777".into());
    order.items[1].name = "Phone case (clear) 加微信 acme_888".into();
    let report = checker.check_order(&order, &NoSpool);
    let by_path: BTreeMap<&str, &labeld::comply::Refusal> = report.refusals.iter().map(|r| (r.path.as_str(), r)).collect();
    let note = by_path["label_note"];
    assert_eq!(note.rule, Rule::OffPlatformContact);
    assert_eq!(&order.label_note.as_deref().unwrap()[note.span.clone()], note.text);
    assert!(note.text.contains("WhatsApp") || note.text.contains("+60"), "{note}");
    let item = by_path["items[1].name"];
    assert_eq!(item.text, "微信 acme_888");
    assert_eq!(&order.items[1].name[item.span.clone()], item.text);
}

#[test]
fn own_phones_are_allowed_and_other_phones_are_not() {
    let checker = Checker::new(Some(registry()));
    let (_, mut order) = common::fixture_orders().into_iter().find(|(n, _)| n == "my-jnt-cod").unwrap();
    // The recipient's own number repeated in the note, written differently: allowed.
    order.label_note = Some("Call recipient 012-345 6789 on arrival".into());
    assert!(checker.check_order(&order, &NoSpool).is_printable());
    order.label_note = Some("Call 012-888 7777 on arrival".into());
    let report = checker.check_order(&order, &NoSpool);
    assert_eq!(report.rules(), vec![Rule::OffPlatformContact]);
    assert_eq!(report.refusals[0].text, "012-888 7777");
    // The phone fields themselves are never phone-checked, but still checked for links.
    order.label_note = None;
    order.recipient.phone = Some("+60 12-345 6789 wa.me/60123456789".into());
    assert_eq!(checker.check_order(&order, &NoSpool).rules(), vec![Rule::Hyperlink]);
}

#[test]
fn duplicate_tracking_numbers_on_other_orders_are_refused() {
    let checker = Checker::new(None);
    let (_, order) = common::fixture_orders().into_iter().find(|(n, _)| n == "my-jnt-cod").unwrap();
    let mut seen = SeenTracking::new();
    seen.record(&order.shipment.tracking_number, &order.order_id);
    assert!(checker.check_order(&order, &seen).is_printable(), "a reprint of the same order is not a duplicate");
    let mut other = order.clone();
    other.order_id = "579999999999999999".into();
    let report = checker.check_order(&other, &seen);
    assert_eq!(report.rules(), vec![Rule::DuplicateTrackingNumber]);
    assert!(report.refusals[0].message.contains(&order.order_id));
}

#[test]
fn sender_must_match_the_registered_warehouse() {
    let checker = Checker::new(Some(registry()));
    let (_, mut order) = common::fixture_orders().into_iter().find(|(n, _)| n == "th-flash-cod").unwrap();
    // Case, spacing and punctuation differences are the same warehouse.
    order.sender.address.lines = vec!["88/8 MOO 4,  Bang Na Trat Rd".into()];
    assert!(checker.check_order(&order, &NoSpool).is_printable());
    order.sender.address.lines = vec!["99/9 Moo 4, Bang Na-Trat Rd".into()];
    let report = checker.check_order(&order, &NoSpool);
    assert_eq!(report.rules(), vec![Rule::UnknownWarehouse]);
    assert_eq!(report.refusals[0].path, "sender.address.lines[0]");
    // Without a registry there is nothing to match against.
    assert!(Checker::new(None).check_order(&order, &NoSpool).is_printable());
}

#[test]
fn obfuscations_are_seen_through() {
    let checker = Checker::new(None);
    let cases: &[(&str, Rule)] = &[
        ("ｗｗｗ．ａｃｍｅ．ｃｏｍ", Rule::Hyperlink),          // fullwidth
        ("www.аcmе.com", Rule::Hyperlink),                        // Cyrillic а, е
        ("ww\u{200B}w.acme.com", Rule::Hyperlink),                // zero-width space
        ("www\u{202E}.acme.com", Rule::Hyperlink),                // bidi override
        ("acme dot com", Rule::Hyperlink),
        ("acme[dot]com", Rule::Hyperlink),
        ("acme(dot)com", Rule::Hyperlink),
        ("acme點com", Rule::Hyperlink),
        ("acme punto com", Rule::Hyperlink),
        ("acme titik com", Rule::Hyperlink),
        ("w w w . a c m e . c o m", Rule::Hyperlink),             // spaced letters
        ("ⓦⓦⓦ.ⓐⓒⓜⓔ.ⓒⓞⓜ", Rule::Hyperlink),                     // circled letters
        ("𝐰𝐡𝐚𝐭𝐬𝐚𝐩𝐩", Rule::OffPlatformContact),                   // mathematical bold
        ("WhatsApp 0️⃣1️⃣2️⃣8️⃣8️⃣8️⃣7️⃣7️⃣7️⃣7️⃣", Rule::OffPlatformContact), // keycap digits
        ("Call 0️⃣1️⃣2️⃣-8️⃣8️⃣8️⃣ 7️⃣7️⃣7️⃣7️⃣", Rule::OffPlatformContact),
        ("wеϲhаt acme", Rule::OffPlatformContact),                // Cyrillic е, а and Greek ϲ
        ("w h a t s a p p", Rule::OffPlatformContact),
        ("acme＠gmail．com", Rule::OffPlatformContact),
        ("acme [at] gmail [dot] com", Rule::OffPlatformContact),
        ("微 信 acme888", Rule::OffPlatformContact),
        ("Ｃｏｕｐｏｎ ＡＣＭＥ１０", Rule::UnrelatedContent),
    ];
    for (text, rule) in cases {
        let found = checker.check_text("label_note", text);
        assert!(found.iter().any(|r| r.rule == *rule), "{text:?}: {found:?}");
        for r in &found {
            assert_eq!(&text[r.span.clone()], r.text, "{text:?}");
        }
    }
}

#[test]
fn network_names_in_product_titles_are_brands_unless_dressed_as_contacts() {
    let checker = Checker::new(Some(registry()));
    let (_, mut order) = common::fixture_orders().into_iter().find(|(n, _)| n == "my-jnt-cod").unwrap();
    for name in ["Instagram frame photo booth prop", "Facebook Portal Go", "Telegram-style notebook", "LINE FRIENDS plush", "Kakao Friends doll"] {
        order.items[0].name = name.into();
        assert!(checker.check_order(&order, &NoSpool).is_printable(), "{name}");
    }
    for name in ["Mug - WhatsApp 0128887777", "Mug 加微信 acme_888", "Mug (Instagram @acme.home)", "Mug, contact us on Facebook"] {
        order.items[0].name = name.into();
        assert_eq!(checker.check_order(&order, &NoSpool).rules(), vec![Rule::OffPlatformContact], "{name}");
    }
    // The same words in a note are contacts.
    order.items[0].name = "Mug".into();
    order.label_note = Some("Facebook Acme Home".into());
    assert_eq!(checker.check_order(&order, &NoSpool).rules(), vec![Rule::OffPlatformContact]);
}

#[test]
fn hard_negatives_pass() {
    let checker = Checker::new(None);
    for text in [
        "No. 12, Jln 3/4", "Unit 5.02", "Telegraph Ave", "Line Road", "USB-C cable 1.5m", "Wi-Fi router", "微波炉", "QQ糖",
        "AC-057-WH", "574831017900715107", "8801643566417", "1Z5R89390388694646", "Taman Tun Dr. Ismail", "Tp.HN",
        "ร้านออนไลน์", "ติดตามพัสดุ", "3折叠伞", "张薇", "Sdn. Bhd.", "Dept. Store", "Shopee Xpress", "Lazada Express",
    ] {
        let found = checker.check_text("items[0].name", text);
        assert!(found.is_empty(), "{text:?}: {found:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Tracking numbers

#[test]
fn tracking_vectors_from_the_published_rules() {
    // Each valid vector was computed by hand from the carrier's published rule; each invalid one changes the
    // check digit.
    let valid: &[(&str, &str)] = &[
        ("UPS", "1Z5R89390388694646"),
        ("UPS", "1Z999AA10123456784"),
        ("USPS", "9400111201080085045843"),
        ("USPS", "420908059400111201080085045843"),
        ("FedEx", "856921429177"),
        ("FedEx", "123456789012"),
        ("FedEx", "000000000000"),
        ("FedEx", "123456789012343"),
        ("DHL Express", "5295876832"),
        ("DHL Express", "1234567891"),
        ("Royal Mail", "RB687516485GB"),
        ("Pos Malaysia", "EE123456785MY"),
        ("J&T Express", "635828770378"),
    ];
    for (carrier, n) in valid {
        assert!(tracking::check(carrier, n).is_ok(), "{carrier} {n}: {:?}", tracking::check(carrier, n));
    }
    let invalid: &[(&str, &str)] = &[
        ("UPS", "1Z5R89390388694647"),
        ("UPS", "1Z999AA10123456785"),
        ("USPS", "9400111201080085045844"),
        ("USPS", "94001112010800850458"),
        ("FedEx", "856921429176"),
        ("FedEx", "123456789015"),
        ("FedEx", "123456789012346"),
        ("DHL Express", "5295876833"),
        ("Royal Mail", "RB687516486GB"),
        ("Royal Mail", "RB687516485XX"),
        ("J&T Express", "ABCDEFGHIJ"),
        ("J&T Express", "63582 8770378"),
    ];
    for (carrier, n) in invalid {
        assert!(tracking::check(carrier, n).is_err(), "{carrier} {n} should be refused");
    }
}

/// Cross-check against the public tracking_number_data vectors (MIT, copied with their licence into
/// tests/fixtures/reference).
#[test]
fn tracking_cross_check_with_reference_data() {
    let dir = common::fixtures().join("reference/tracking_number_data/couriers");
    // (file, format name in the data, carrier name we check it as)
    let formats = [
        ("ups.json", "UPS", "UPS"),
        ("ups.json", "UPS Waybill", "UPS"),
        ("fedex.json", "FedEx Express (12)", "FedEx"),
        ("fedex.json", "FedEx Ground", "FedEx"),
        ("fedex.json", "FedEx Ground 96 (22)", "FedEx"),
        ("fedex.json", "FedEx Express (34)", "FedEx"),
        ("dhl.json", "DHL Express", "DHL Express"),
        ("s10.json", "S10", "Royal Mail"),
        ("usps.json", "USPS 20", "USPS"),
        ("usps.json", "USPS IMpb N", "USPS"),
        ("usps.json", "USPS IMpb C", "USPS"),
        ("usps.json", "USPS Legacy", "USPS"),
    ];
    let mut compared = 0;
    for (file, name, carrier) in formats {
        let data: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap();
        let entry = data["tracking_numbers"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("{file}: {name}"));
        for (kind, want_ok) in [("valid", true), ("invalid", false)] {
            for n in entry["test_numbers"][kind].as_array().into_iter().flatten() {
                let n: String = n.as_str().unwrap().chars().filter(|c| !c.is_whitespace()).collect();
                let got = tracking::check(carrier, &n);
                // An invalid vector with a shape no rule of ours claims (another carrier's prefix) is opaque for
                // that carrier: only a claimed shape must be refused.
                if want_ok {
                    assert!(got.is_ok(), "{file} {name} valid {n}: {got:?}");
                } else if got.is_ok() {
                    assert_eq!(got, Ok(tracking::Format::Opaque), "{file} {name} invalid {n} accepted as {got:?}");
                }
                compared += 1;
            }
        }
    }
    eprintln!("compared {compared} reference vectors");
    assert!(compared > 40);
}

// ---------------------------------------------------------------------------------------------------------
// Random text

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The engine never panics, and every span is a valid char-boundary range of the field holding the text it
    /// reports.
    #[test]
    fn random_text_never_panics_and_spans_are_valid(text in r"(?s).{0,80}", mix in proptest::collection::vec(
        prop_oneof![
            Just("www."), Just(".com"), Just("@"), Just(" dot "), Just("點"), Just("\u{200B}"), Just("\u{20E3}"),
            Just("+60 12-"), Just("微信"), Just("line:"), Just("ｗ"), Just("а"), Just(" "), Just("0"), Just("1️⃣"),
            Just("\u{301}"), Just("%"), Just("折"), Just("[at]"),
        ], 0..12)) {
        let checker = Checker::new(None);
        let mut s = text.clone();
        for (i, piece) in mix.iter().enumerate() {
            let at = s.char_indices().map(|(i, _)| i).nth(i * 3 % (s.chars().count() + 1)).unwrap_or(s.len());
            s.insert_str(at, piece);
        }
        for r in checker.check_text("label_note", &s) {
            prop_assert!(r.span.start <= r.span.end && r.span.end <= s.len());
            prop_assert!(s.is_char_boundary(r.span.start) && s.is_char_boundary(r.span.end));
            prop_assert_eq!(&s[r.span.clone()], r.text.as_str());
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Images

#[test]
fn images_with_a_qr_code_are_refused() {
    let checker = Checker::new(None);
    let mut logo = labeld::bitmap::Bitmap::new(400, 300);
    logo.fill_rect(20, 20, 120, 40, true); // a logo-ish block
    assert!(checker.check_image("template.logo", &logo).is_empty());
    let qr = qrcode::QrCode::new(b"https://wa.me/60128887777").unwrap();
    let (x0, y0, module) = (200u32, 60u32, 4u32);
    for (i, c) in qr.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = ((i % qr.width()) as u32, (i / qr.width()) as u32);
            logo.fill_rect((x0 + mx * module) as i32, (y0 + my * module) as i32, module as i32, module as i32, true);
        }
    }
    let refusals = checker.check_image("template.logo", &logo);
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].rule, Rule::QrCode);
    assert_eq!(refusals[0].path, "template.logo");
    assert!(refusals[0].message.contains("QR code"), "{}", refusals[0].message);
}

/// A forged sender cannot pass by leaving fields out: every field the registry holds must be on the
/// order and match. Phones compare in E.164 (a national spelling of the same number is the same
/// number); addresses compare after folding case, spacing and punctuation.
#[test]
fn a_sender_that_leaves_registered_fields_out_is_refused() {
    let mut text = std::fs::read_to_string(common::fixtures().join("warehouses.toml")).unwrap();
    text = text.replace("[warehouse.\"WH-KUL-01\"]\n", "[warehouse.\"WH-KUL-01\"]\ndistrict = \"Seksyen 15\"\n");
    let checker = Checker::new(Some(Registry::from_toml_str(&text, "warehouses.toml").unwrap()));
    let (_, order) = common::fixture_orders().into_iter().find(|(n, _)| n == "my-jnt-cod").unwrap();
    let mut good = order.clone();
    good.sender.address.district = Some("SEKSYEN-15".into());
    assert!(checker.check_order(&good, &NoSpool).is_printable(), "{:?}", checker.check_order(&good, &NoSpool));
    // The same number written nationally, and in another spacing, is the registered number.
    for same in ["03-7890 1234", "+60378901234", "(03) 7890-1234"] {
        let mut o = good.clone();
        o.sender.phone = Some(same.into());
        assert!(checker.check_order(&o, &NoSpool).is_printable(), "{same}: {:?}", checker.check_order(&o, &NoSpool));
    }
    let refused_at = |o: &labeld::order::Order| -> Vec<String> {
        let r = checker.check_order(o, &NoSpool);
        assert!(r.refusals.iter().all(|f| f.rule == Rule::UnknownWarehouse), "{r:?}");
        r.refusals.iter().map(|f| f.path.clone()).collect()
    };
    let mut no_phone = good.clone();
    no_phone.sender.phone = None;
    assert_eq!(refused_at(&no_phone), vec!["sender.phone"]);
    let mut no_district = good.clone();
    no_district.sender.address.district = None;
    assert_eq!(refused_at(&no_district), vec!["sender.address.district"]);
    let mut other_phone = good.clone();
    other_phone.sender.phone = Some("+60 3-7890 1235".into());
    assert_eq!(refused_at(&other_phone), vec!["sender.phone"]);
    let mut not_a_phone = good.clone();
    not_a_phone.sender.phone = Some("call the shop".into());
    assert_eq!(refused_at(&not_a_phone), vec!["sender.phone"]);
    // Without a warehouse id, a sender with the phone left out matches no warehouse either.
    let mut anonymous = no_phone.clone();
    anonymous.sender.warehouse_id = None;
    assert_eq!(refused_at(&anonymous), vec!["sender.name"]);
}
