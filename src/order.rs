//! The order: what the backend sends, parsed strictly.
//!
//! Parsing is the first gate. Unknown fields, wrong types and impossible values are refused with the
//! JSON path of the field (`shipment.package.index`) and what is wrong with it, so the person fixing the
//! backend knows where to look. Text is NFC-normalised here, once, so every later stage (compliance,
//! layout, PDF text) sees the same code points.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// A print job's subject: one parcel of one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_by: Option<String>,
    pub shipment: Shipment,
    pub sender: Party,
    pub recipient: Party,
    pub items: Vec<Item>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shipment {
    pub carrier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub handover: Handover,
    pub tracking_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_code: Option<String>,
    #[serde(default)]
    pub package: Package,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cod: Option<Cod>,
}

/// Who moves the parcel to the carrier: printed big, packers sort by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Handover {
    Pickup,
    Dropoff,
}

impl Handover {
    /// The name in orders, the API and the spool (its serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            Handover::Pickup => "pickup",
            Handover::Dropoff => "dropoff",
        }
    }

    /// The words printed on the label.
    pub fn label_text(self) -> &'static str {
        match self {
            Handover::Pickup => "PICK UP",
            Handover::Dropoff => "DROP OFF",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub index: u32,
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_g: Option<u32>,
}

impl Default for Package {
    fn default() -> Self {
        Package { index: 1, count: 1, weight_g: None }
    }
}

/// Cash on delivery: kept as the decimal string the backend sent, never as a float.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cod {
    pub amount: String,
    pub currency: String,
}

/// Sender or recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub address: Address,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub lines: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    pub city: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub sku: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub qty: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
}

/// Why an order could not be read. `path` is a JSON path such as `items[0].qty` (empty for the
/// document itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderError {
    pub path: String,
    pub problem: String,
    /// `problem` says nothing of the field's value (a size over a limit), so it may travel where buyer
    /// data may not: feed events, logs.
    pub value_free: bool,
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

impl std::error::Error for OrderError {}

impl OrderError {
    pub fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        OrderError { path: path.into(), problem: problem.into(), value_free: false }
    }

    fn over_limit(path: String, what: &str, got: u64, max: u64) -> Self {
        OrderError { path, problem: format!("{} {what}, at most {}", grouped(got), grouped(max)), value_free: true }
    }
}

impl Order {
    /// Parses and validates one order from raw bytes (JSON, UTF-8).
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Order, OrderError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            OrderError::new("", format!("input is not valid UTF-8 (bad byte at offset {})", e.valid_up_to()))
        })?;
        Order::from_json_str(text)
    }

    /// Parses and validates one order from JSON text.
    pub fn from_json_str(text: &str) -> Result<Order, OrderError> {
        // Straight into the order type, without a JSON tree: the common case, and most of a check's cost
        // outside the rules. Whatever this refuses is read again below, which words the error (syntax
        // before fields, fields in the tree's order), so a refusal reads the same either way.
        if let Ok(order) = serde_json::from_str::<Order>(text) {
            return order.accept();
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            OrderError::new("", format!("not valid JSON: {e}"))
        })?;
        Order::from_json_value(value)
    }

    /// Parses an order already decoded as a JSON value (HTTP bodies, JSON Lines).
    pub fn from_json_value(mut value: serde_json::Value) -> Result<Order, OrderError> {
        nfc_strings(&mut value);
        let order: Order = serde_path_to_error::deserialize(value).map_err(|e| {
            let inner = e.inner().to_string();
            let mut path = json_path(&e.path().to_string());
            // serde names a missing field at its parent; the caller wants the field's own path.
            if let Some(field) = inner.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                path = if path.is_empty() { field.to_string() } else { format!("{path}.{field}") };
            }
            OrderError::new(path, describe_serde_error(&inner))
        })?;
        order.validate()?;
        Ok(order)
    }

    /// What every reader does after serde: NFC, then validation. For an order deserialised straight from a
    /// larger body (a batch); an error's path is the order's own.
    pub fn accept(mut self) -> Result<Order, OrderError> {
        self.nfc();
        self.validate()?;
        Ok(self)
    }

    /// NFC-normalises every text in place: what [`nfc_strings`] does to the JSON tree, for an order read
    /// without one. Every string of the order is one of its text fields.
    fn nfc(&mut self) {
        let mut each = |s: &mut String| {
            if !unicode_normalization::is_nfc(s) {
                *s = s.nfc().collect();
            }
        };
        let optional = |s: &mut Option<String>, each: &mut dyn FnMut(&mut String)| s.iter_mut().for_each(each);
        each(&mut self.order_id);
        for s in [&mut self.platform, &mut self.shop, &mut self.created_at, &mut self.ship_by, &mut self.label_note] {
            optional(s, &mut each);
        }
        let s = &mut self.shipment;
        each(&mut s.carrier);
        each(&mut s.tracking_number);
        optional(&mut s.service, &mut each);
        optional(&mut s.sort_code, &mut each);
        if let Some(c) = &mut s.cod {
            each(&mut c.amount);
            each(&mut c.currency);
        }
        for p in [&mut self.sender, &mut self.recipient] {
            each(&mut p.name);
            optional(&mut p.warehouse_id, &mut each);
            optional(&mut p.phone, &mut each);
            let a = &mut p.address;
            a.lines.iter_mut().for_each(&mut each);
            optional(&mut a.district, &mut each);
            for s in [&mut a.city, &mut a.region, &mut a.postal_code, &mut a.country] {
                each(s);
            }
        }
        for it in &mut self.items {
            each(&mut it.sku);
            each(&mut it.name);
            optional(&mut it.variant, &mut each);
            optional(&mut it.bin, &mut each);
        }
    }

    fn validate(&self) -> Result<(), OrderError> {
        self.check_limits()?;
        required("order_id", &self.order_id)?;
        for (path, stamp) in [("created_at", &self.created_at), ("ship_by", &self.ship_by)] {
            if let Some(stamp) = stamp {
                time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| OrderError::new(path, format!("{stamp:?} is not an RFC 3339 time such as 2026-11-20T08:15:00Z")))?;
            }
        }
        let s = &self.shipment;
        required("shipment.carrier", &s.carrier)?;
        required("shipment.tracking_number", &s.tracking_number)?;
        if s.tracking_number.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(OrderError::new("shipment.tracking_number", "must not contain spaces or control characters"));
        }
        if !s.tracking_number.is_ascii() {
            return Err(OrderError::new("shipment.tracking_number", "must be ASCII letters and digits (it is printed as a Code 128 barcode)"));
        }
        if s.package.count == 0 {
            return Err(OrderError::new("shipment.package.count", "must be at least 1"));
        }
        if s.package.index == 0 || s.package.index > s.package.count {
            return Err(OrderError::new(
                "shipment.package.index",
                format!("must be between 1 and package.count ({}), got {}", s.package.count, s.package.index),
            ));
        }
        if let Some(cod) = &s.cod {
            if !is_decimal_amount(&cod.amount) {
                return Err(OrderError::new("shipment.cod.amount", format!("{:?} is not a decimal amount such as \"35.90\"", cod.amount)));
            }
            if !(cod.currency.len() == 3 && cod.currency.bytes().all(|b| b.is_ascii_uppercase())) {
                return Err(OrderError::new("shipment.cod.currency", format!("{:?} is not an ISO 4217 code such as \"MYR\"", cod.currency)));
            }
        }
        for (who, party) in [("sender", &self.sender), ("recipient", &self.recipient)] {
            required(&format!("{who}.name"), &party.name)?;
            let a = &party.address;
            if a.lines.iter().all(|l| l.trim().is_empty()) {
                return Err(OrderError::new(format!("{who}.address.lines"), "must hold at least one non-empty line"));
            }
            required(&format!("{who}.address.city"), &a.city)?;
            if !(a.country.len() == 2 && a.country.bytes().all(|b| b.is_ascii_uppercase())) {
                return Err(OrderError::new(format!("{who}.address.country"), format!("{:?} is not an ISO 3166 alpha-2 code such as \"MY\"", a.country)));
            }
        }
        if self.items.is_empty() {
            return Err(OrderError::new("items", "must list at least one item"));
        }
        for (i, item) in self.items.iter().enumerate() {
            required(&format!("items[{i}].sku"), &item.sku)?;
            required(&format!("items[{i}].name"), &item.name)?;
            if item.qty == 0 {
                return Err(OrderError::new(format!("items[{i}].qty"), "must be at least 1, got 0"));
            }
        }
        Ok(())
    }

    /// The sizes no real order reaches, checked before anything else looks at the order: a long text
    /// costs memory and time in every later stage (rules, shaping at each size), long before any label
    /// box refuses it. The error gives the count and the limit, never the text (it may be buyer data).
    fn check_limits(&self) -> Result<(), OrderError> {
        let over = OrderError::over_limit;
        if self.items.len() > limits::ITEMS {
            return Err(over("items".into(), "items", self.items.len() as u64, limits::ITEMS as u64));
        }
        for (who, party) in [("sender", &self.sender), ("recipient", &self.recipient)] {
            let lines = party.address.lines.len();
            if lines > limits::ADDRESS_LINES {
                return Err(over(format!("{who}.address.lines"), "lines", lines as u64, limits::ADDRESS_LINES as u64));
            }
        }
        for (path, text) in self.text_fields() {
            // Bytes bound characters from above: count only when the bytes could be over.
            if text.len() > limits::TEXT_CHARS {
                let chars = text.chars().count();
                if chars > limits::TEXT_CHARS {
                    return Err(over(path, "characters", chars as u64, limits::TEXT_CHARS as u64));
                }
            }
        }
        let package = &self.shipment.package;
        if package.count > limits::PACKAGES {
            return Err(over("shipment.package.count".into(), "packages", package.count.into(), limits::PACKAGES.into()));
        }
        if let Some(grams) = package.weight_g.filter(|g| *g > limits::WEIGHT_G) {
            return Err(over("shipment.package.weight_g".into(), "grams", grams.into(), limits::WEIGHT_G.into()));
        }
        for (i, item) in self.items.iter().enumerate() {
            if item.qty > limits::QTY {
                return Err(over(format!("items[{i}].qty"), "pieces", item.qty.into(), limits::QTY.into()));
            }
        }
        Ok(())
    }

    /// Every text of the order with its field path: what compliance checks and what a label may print.
    pub fn text_fields(&self) -> Vec<(String, &str)> {
        let mut out: Vec<(String, &str)> = Vec::with_capacity(32);
        out.push(("order_id".into(), &self.order_id));
        let top = [("platform", &self.platform), ("shop", &self.shop), ("created_at", &self.created_at), ("ship_by", &self.ship_by)];
        for (path, s) in top {
            if let Some(s) = s {
                out.push((path.into(), s));
            }
        }
        let s = &self.shipment;
        out.push(("shipment.carrier".into(), &s.carrier));
        if let Some(v) = &s.service {
            out.push(("shipment.service".into(), v));
        }
        out.push(("shipment.tracking_number".into(), &s.tracking_number));
        if let Some(v) = &s.sort_code {
            out.push(("shipment.sort_code".into(), v));
        }
        if let Some(c) = &s.cod {
            out.push(("shipment.cod.amount".into(), &c.amount));
            out.push(("shipment.cod.currency".into(), &c.currency));
        }
        for (who, p) in [("sender", &self.sender), ("recipient", &self.recipient)] {
            if let Some(v) = &p.warehouse_id {
                out.push((format!("{who}.warehouse_id"), v));
            }
            out.push((format!("{who}.name"), &p.name));
            if let Some(v) = &p.phone {
                out.push((format!("{who}.phone"), v));
            }
            let a = &p.address;
            for (i, l) in a.lines.iter().enumerate() {
                out.push((format!("{who}.address.lines[{i}]"), l));
            }
            if let Some(v) = &a.district {
                out.push((format!("{who}.address.district"), v));
            }
            out.push((format!("{who}.address.city"), &a.city));
            out.push((format!("{who}.address.region"), &a.region));
            out.push((format!("{who}.address.postal_code"), &a.postal_code));
            out.push((format!("{who}.address.country"), &a.country));
        }
        for (i, it) in self.items.iter().enumerate() {
            out.push((format!("items[{i}].sku"), &it.sku));
            out.push((format!("items[{i}].name"), &it.name));
            if let Some(v) = &it.variant {
                out.push((format!("items[{i}].variant"), v));
            }
            if let Some(v) = &it.bin {
                out.push((format!("items[{i}].bin"), v));
            }
        }
        if let Some(v) = &self.label_note {
            out.push(("label_note".into(), v));
        }
        out
    }

    /// The document identity used for idempotency: order, document kind and package.
    pub fn document_key(&self, kind: &str) -> String {
        format!("{}/{}/{}", self.order_id, kind, self.shipment.package.index)
    }
}

/// The largest order accepted (DESIGN.md, Order format). Far above what a label or a parcel holds, far
/// below what would make one order cost the daemon real memory or time.
pub mod limits {
    /// Characters (Unicode scalar values, after NFC) in any one text field.
    pub const TEXT_CHARS: usize = 2_000;
    /// Lines in one address.
    pub const ADDRESS_LINES: usize = 10;
    /// Items in one order.
    pub const ITEMS: usize = 500;
    /// Pieces of one item.
    pub const QTY: u32 = 10_000;
    /// Parcels of one order (`shipment.package.count`).
    pub const PACKAGES: u32 = 999;
    /// One parcel's weight in grams (500 kg).
    pub const WEIGHT_G: u32 = 500_000;
}

/// `3904112` → `3,904,112`: counts a person reads at a glance.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

fn required(path: &str, value: &str) -> Result<(), OrderError> {
    if value.trim().is_empty() {
        Err(OrderError::new(path, "must not be empty"))
    } else {
        Ok(())
    }
}

fn is_decimal_amount(s: &str) -> bool {
    let mut parts = s.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let frac = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.len() <= 3 && f.bytes().all(|b| b.is_ascii_digit()))
}

/// NFC-normalises every string in a JSON tree, in place: one canonical form for every later stage.
fn nfc_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) if !unicode_normalization::is_nfc(s) => *s = s.nfc().collect(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(nfc_strings),
        serde_json::Value::Object(map) => map.values_mut().for_each(nfc_strings),
        _ => {}
    }
}

/// serde_path_to_error prints `.` for the root and `items[0].qty` otherwise.
fn json_path(p: &str) -> String {
    if p == "." { String::new() } else { p.to_string() }
}

/// serde's messages, reworded for a person reading a backend log.
fn describe_serde_error(msg: &str) -> String {
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let field = rest.split(',').next().unwrap_or(rest);
        return format!("unknown field {field}: this field is not part of the order format");
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        return format!("required field {rest} is missing");
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/orders/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let text = fixture("my-jnt-cod.json").replacen("\"qty\": 2", "\"qty\": 2, \"colour\": 1", 1);
        let e = Order::from_json_str(&text).unwrap_err();
        assert_eq!(e.path, "items[0].colour");
        assert!(e.problem.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn text_is_nfc_normalised() {
        // "Nguyễn" spelled with combining marks must come out precomposed.
        let decomposed: String = "Nguyễn".nfd().collect();
        let text = fixture("vn-ghn.json").replace("Nguyễn", &decomposed);
        assert!(text.contains(&decomposed));
        let o = Order::from_json_str(&text).unwrap();
        assert!(o.recipient.name.starts_with("Nguyễn"));
    }

    #[test]
    fn wrong_type_names_the_field() {
        let text = fixture("my-jnt-cod.json").replacen("\"weight_g\": 450", "\"weight_g\": \"heavy\"", 1);
        let e = Order::from_json_str(&text).unwrap_err();
        assert_eq!(e.path, "shipment.package.weight_g");
    }

    #[test]
    fn counts_are_grouped_in_thousands() {
        let cases = [(0, "0"), (999, "999"), (1_000, "1,000"), (2_000, "2,000"), (3_904_112, "3,904,112"), (1_000_000, "1,000,000")];
        for (n, want) in cases {
            assert_eq!(grouped(n), want);
        }
    }

    fn order_value() -> serde_json::Value {
        serde_json::from_str(&fixture("my-jnt-cod.json")).unwrap()
    }

    fn refusal(value: serde_json::Value) -> OrderError {
        Order::from_json_value(value).unwrap_err()
    }

    #[test]
    fn a_text_over_the_limit_is_refused_with_its_count_and_never_its_text() {
        let mut v = order_value();
        v["recipient"]["name"] = "Siti Nurhaliza ".repeat(260_274).trim_end().into();
        let e = refusal(v);
        assert_eq!(e.to_string(), "recipient.name: 3,904,109 characters, at most 2,000");
        assert!(!e.to_string().contains("Siti"));
    }

    #[test]
    fn characters_are_counted_not_bytes() {
        // 2,000 Thai characters are 6,000 bytes and still within the limit; one more is not.
        let mut v = order_value();
        v["label_note"] = "ก".repeat(2_000).into();
        Order::from_json_value(v.clone()).unwrap();
        v["label_note"] = "ก".repeat(2_001).into();
        assert_eq!(refusal(v).to_string(), "label_note: 2,001 characters, at most 2,000");
    }

    #[test]
    fn every_text_field_is_capped() {
        let long = "x".repeat(2_001);
        let base = order_value();
        let mut checked = 0;
        for (path, _) in Order::from_json_value(base.clone()).unwrap().text_fields() {
            let mut v = base.clone();
            let pointer = format!("/{}", path.replace('.', "/").replace('[', "/").replace(']', ""));
            *v.pointer_mut(&pointer).unwrap_or_else(|| panic!("{pointer}")) = long.clone().into();
            let e = refusal(v);
            assert_eq!(e.path, path);
            assert_eq!(e.problem, "2,001 characters, at most 2,000");
            checked += 1;
        }
        assert!(checked > 20, "{checked} fields");
    }

    #[test]
    fn counts_and_sizes_are_capped() {
        let cases: [(&str, serde_json::Value, &str); 6] = [
            ("/items/0/qty", 1_000_000.into(), "items[0].qty: 1,000,000 pieces, at most 10,000"),
            ("/shipment/package/count", 1_000.into(), "shipment.package.count: 1,000 packages, at most 999"),
            ("/shipment/package/weight_g", 500_001.into(), "shipment.package.weight_g: 500,001 grams, at most 500,000"),
            ("/recipient/address/lines", serde_json::json!(vec!["Jalan 1"; 11]), "recipient.address.lines: 11 lines, at most 10"),
            ("/sender/address/lines", serde_json::json!(vec!["Jalan 1"; 11]), "sender.address.lines: 11 lines, at most 10"),
            ("/items", serde_json::json!(vec![serde_json::json!({"sku": "A", "name": "Mug", "qty": 1}); 20_000]), "items: 20,000 items, at most 500"),
        ];
        for (pointer, value, want) in cases {
            let mut v = order_value();
            *v.pointer_mut(pointer).unwrap() = value;
            assert_eq!(refusal(v).to_string(), want);
        }
        // The limits themselves are accepted.
        let mut v = order_value();
        *v.pointer_mut("/items/0/qty").unwrap() = 10_000.into();
        *v.pointer_mut("/shipment/package/weight_g").unwrap() = 500_000.into();
        *v.pointer_mut("/recipient/address/lines").unwrap() = serde_json::json!(vec!["Jalan 1"; 10]);
        v["items"] = serde_json::json!(vec![serde_json::json!({"sku": "A", "name": "Mug", "qty": 1}); 500]);
        Order::from_json_value(v).unwrap();
    }

    /// Read straight or through a JSON tree, an order comes out the same: NFC in every text field, and the
    /// same refusal for a body that is wrong in several places or repeats a field.
    #[test]
    fn reading_straight_and_through_a_tree_agree() {
        let base = order_value();
        let decomposed: String = "Nguyễn Thị Hồng".nfd().collect();
        for (path, _) in Order::from_json_value(base.clone()).unwrap().text_fields() {
            let mut v = base.clone();
            let pointer = format!("/{}", path.replace('.', "/").replace('[', "/").replace(']', ""));
            *v.pointer_mut(&pointer).unwrap() = decomposed.clone().into();
            let straight = Order::from_json_str(&v.to_string());
            assert_eq!(straight, Order::from_json_value(v), "{path}");
            if let Ok(o) = straight {
                assert!(o.text_fields().iter().all(|(_, t)| unicode_normalization::is_nfc(t)), "{path}");
            }
        }
        let text = fixture("my-jnt-cod.json");
        let bad = [
            // Two wrong fields: the tree reports the one its (alphabetical) walk meets first.
            text.replacen("\"weight_g\": 450", "\"weight_g\": \"heavy\"", 1).replacen("\"qty\": 2", "\"qty\": \"two\"", 1),
            // A repeated field: the tree keeps the last one.
            text.replacen("{", "{\"order_id\": \"FIRST\",", 1),
            text.replacen("{", "{\"label_note\": 7,", 1),
        ];
        for t in bad {
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            assert_eq!(Order::from_json_str(&t), Order::from_json_value(v), "{t}");
        }
    }

    #[test]
    fn amounts() {
        assert!(is_decimal_amount("35.90"));
        assert!(is_decimal_amount("899"));
        for bad in ["", "35.", ".5", "3,50", "-1", "1e3"] {
            assert!(!is_decimal_amount(bad), "{bad}");
        }
    }
}
