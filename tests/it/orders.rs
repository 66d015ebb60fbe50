//! The order format: every valid fixture parses; every "invalid" fixture is refused naming the field.

use crate::common;

use labeld::order::Order;

#[test]
fn every_valid_fixture_parses() {
    assert_eq!(common::fixture_orders().len(), 12);
}

#[test]
fn invalid_fixtures_name_the_field_and_the_problem() {
    let expected = [
        ("empty-recipient-name", "recipient.name", "must not be empty"),
        ("missing-tracking", "shipment", "tracking_number"),
        ("no-items", "items", "at least one item"),
        ("package-index-gt-count", "shipment.package.index", "between 1 and package.count"),
        ("zero-qty", "items[", "at least 1"),
        ("not-json", "", "not valid JSON"),
        ("invalid-utf8", "", "not valid UTF-8"),
    ];
    for (name, path, problem) in expected {
        let bytes = std::fs::read(common::fixtures().join(format!("orders-bad/{name}.json"))).unwrap();
        // Cases with an "expect" wrapper hold the order inside; the unparseable ones are raw.
        let order_bytes = match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) if v.get("expect").is_some() => {
                assert_eq!(v["expect"], "invalid", "{name}");
                serde_json::to_vec(&v["order"]).unwrap()
            }
            _ => bytes,
        };
        let err = Order::from_json_bytes(&order_bytes).expect_err(name);
        assert!(err.path.starts_with(path), "{name}: path {:?}, want {path:?} ({err})", err.path);
        assert!(err.to_string().contains(problem), "{name}: {err}");
    }
}

#[test]
fn every_bad_fixture_is_accounted_for() {
    // reject:* cases are valid orders refused by compliance (tested with the compliance engine).
    for entry in std::fs::read_dir(common::fixtures().join("orders-bad")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            if let Some(expect) = v.get("expect").and_then(|e| e.as_str()) {
                if expect.starts_with("reject:") {
                    Order::from_json_value(v["order"].clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                }
            }
        }
    }
}
