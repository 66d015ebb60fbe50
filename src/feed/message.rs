//! The feed's message: one order as JSON, plus where it prints and its idempotency key.
//!
//! ```json
//! {"key": "label:573942683098059400:1", "role": "label", "order_id": "…", …the order…}
//! ```
//! `printer` names a printer directly; otherwise `role` (`label`, the default, or `picklist`)
//! picks the station's printer for that role. `key` defaults to the spool's own key
//! (`label:ORDER_ID:PACKAGE_INDEX`). Publishers also set the `Nats-Msg-Id` header to the key so
//! JetStream drops a repeated publish within its duplicate window.
//!
//! A marketplace label document comes as
//! ```json
//! {"kind": "document", "order_id": "…", "tracking_number": "…",
//!  "document": {"content_type": "application/pdf", "data": "BASE64…" | "url": "https://…"}}
//! ```
//! with the same optional `printer` and `key` (default `document:ORDER_ID:TRACKING_NUMBER`). A `url`
//! is fetched once, here, from a host in `[documents] allowed_hosts`; the bytes are what is stored.

use serde::Deserialize;

use crate::marketdoc::intake::{self, Incoming, Source};
use crate::order::Order;
use crate::spool::{Kind, MarketDocument, NewDocument};

/// Where the station's printers are, by name and what they print: derived from the configured
/// printers by the daemon, never read from the feed's own config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routes {
    pub printers: Vec<(String, Kind)>,
}

/// A marketplace document message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentMessage {
    #[allow(dead_code)]
    kind: String,
    printer: Option<String>,
    key: Option<String>,
    order_id: String,
    tracking_number: String,
    document: DocumentFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentFile {
    content_type: String,
    data: Option<String>,
    url: Option<String>,
}

/// Reads a document message (blocking: a `url` is fetched). Rejections name fields, never values.
fn parse_document(body: &[u8], routes: &Routes, documents: &intake::Settings) -> Result<NewDocument, (Rejection, Option<String>)> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let m: DocumentMessage = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let what = if e.inner().to_string().starts_with("unknown field") { "unknown field" } else { "missing or invalid" };
        (Rejection::Invalid(format!("{path}: {what}")), None)
    })?;
    let order_id = Some(m.order_id.clone());
    let invalid = |why: String| (Rejection::Invalid(why), order_id.clone());
    for (field, v) in [("order_id", &m.order_id), ("tracking_number", &m.tracking_number)] {
        if v.trim().is_empty() || v.chars().count() > 200 {
            return Err(invalid(format!("{field}: must be 1 to 200 characters")));
        }
    }
    let source = match (m.document.data, m.document.url) {
        (Some(d), None) => Source::Data(d),
        (None, Some(u)) => Source::Url(u),
        _ => return Err(invalid("document: give data (base64) or url, one of them".into())),
    };
    let incoming = Incoming { content_type: m.document.content_type, source };
    let taken = intake::take(&incoming, "document", documents).map_err(|r| invalid(r.to_string()))?;
    let file = crate::spool::DocumentFile::new(taken.content_type, taken.bytes, taken.source_host);
    let printer = match m.printer {
        Some(p) if routes.printers.iter().any(|(n, _)| *n == p) => p,
        Some(_) => return Err((Rejection::Refused("printer: not a printer of this station".into()), order_id)),
        None => match routes.by_role(Kind::Label) {
            Some(p) => p.to_owned(),
            None => return Err((Rejection::Refused("role: this station has no label printer".into()), order_id)),
        },
    };
    let doc = NewDocument::document(printer, MarketDocument { order_id: m.order_id.trim().into(), tracking_number: m.tracking_number.trim().into(), file, part: crate::marketdoc::Part::Whole });
    match m.key {
        Some(k) if !k.trim().is_empty() => Ok(doc.with_key(k)),
        Some(_) => Err(invalid("key: must not be empty".into())),
        None => Ok(doc),
    }
}

impl Routes {
    /// The printers in config order, so "the first printer with the role" means the same here as in
    /// `labeld.toml`.
    pub fn of(printers: &[crate::config::Printer]) -> Routes {
        let kind = |role| if role == crate::config::Role::Picklist { Kind::Picklist } else { Kind::Label };
        Routes { printers: printers.iter().map(|p| (p.name.clone(), kind(p.role))).collect() }
    }

    fn by_role(&self, kind: Kind) -> Option<&str> {
        self.printers.iter().find(|(_, k)| *k == kind).map(|(n, _)| n.as_str())
    }
}

/// Why a message cannot be printed. The text names fields, never their values (buyer data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not JSON, or not an order.
    Invalid(String),
    /// A readable order this station will not print (another warehouse, unknown printer).
    Refused(String),
}

impl Rejection {
    pub fn kind(&self) -> &'static str {
        match self {
            Rejection::Invalid(_) => "invalid",
            Rejection::Refused(_) => "refused",
        }
    }
    pub fn reason(&self) -> &str {
        match self {
            Rejection::Invalid(r) | Rejection::Refused(r) => r,
        }
    }
}

/// Reads a message body into a spool document for this station. A rejection carries the order id
/// when one was readable, for the event.
pub fn parse(body: &[u8], warehouse: &str, routes: &Routes) -> Result<NewDocument, (Rejection, Option<String>)> {
    parse_with(body, warehouse, routes, &intake::Settings::default())
}

/// [`parse`], taking marketplace documents with the station's `[documents]` settings (blocking: a
/// document's `url` is fetched).
pub fn parse_with(body: &[u8], warehouse: &str, routes: &Routes, documents: &intake::Settings) -> Result<NewDocument, (Rejection, Option<String>)> {
    let mut value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| (Rejection::Invalid(format!("not JSON (line {}, column {})", e.line(), e.column())), None))?;
    let Some(obj) = value.as_object_mut() else {
        return Err((Rejection::Invalid("not a JSON object".into()), None));
    };
    if obj.get("kind").and_then(|k| k.as_str()) == Some(Kind::Document.as_str()) {
        return parse_document(body, routes, documents);
    }
    let order_id = obj.get("order_id").and_then(|v| v.as_str()).map(str::to_owned);
    let take_str = |obj: &mut serde_json::Map<String, serde_json::Value>, k: &str| match obj.remove(k) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Rejection::Invalid(format!("{k}: must be a string"))),
    };
    let printer = take_str(obj, "printer").map_err(|e| (e, order_id.clone()))?;
    let role = take_str(obj, "role").map_err(|e| (e, order_id.clone()))?;
    let key = take_str(obj, "key").map_err(|e| (e, order_id.clone()))?;
    let kind = match role.as_deref() {
        None | Some("label") => Kind::Label,
        Some("picklist") => Kind::Picklist,
        Some(_) => return Err((Rejection::Invalid("role: must be \"label\" or \"picklist\"".into()), order_id)),
    };
    // Only the path goes into the reason, unless the problem is a size over a limit: other problems may
    // quote the (buyer's) value.
    let order = Order::from_json_value(value).map_err(|e| {
        let reason = match e.value_free {
            true => e.to_string(),
            false => format!("bad order at {}", if e.path.is_empty() { "(root)" } else { &e.path }),
        };
        (Rejection::Invalid(reason), order_id.clone())
    })?;
    if !warehouse.is_empty() && order.sender.warehouse_id.as_deref() != Some(warehouse) {
        return Err((
            Rejection::Refused(format!("sender.warehouse_id: this station prints for warehouse {warehouse}")),
            order_id,
        ));
    }
    let printer = match printer {
        Some(p) if routes.printers.iter().any(|(n, _)| *n == p) => p,
        Some(_) => return Err((Rejection::Refused("printer: not a printer of this station".into()), order_id)),
        None => match routes.by_role(kind) {
            Some(p) => p.to_owned(),
            None => {
                return Err((Rejection::Refused(format!("role: this station has no {} printer", kind.as_str())), order_id));
            }
        },
    };
    let doc = match kind {
        Kind::Label => NewDocument::label(printer, order),
        Kind::Picklist => NewDocument::picklist(printer, vec![order]),
        // Not reachable from `role` above; a test page is asked for over HTTP, not sent as an order.
        Kind::TestPage | Kind::Document => return Err((Rejection::Invalid("role: must be \"label\" or \"picklist\"".into()), order_id)),
    };
    Ok(match key {
        Some(k) if !k.trim().is_empty() => doc.with_key(k),
        Some(_) => return Err((Rejection::Invalid("key: must not be empty".into()), order_id)),
        None => doc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_over_its_limit_is_rejected_with_the_count_and_the_limit() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/orders/my-jnt-cod.json")).unwrap();
        let mut order: serde_json::Value = serde_json::from_str(&text).unwrap();
        order["label_note"] = "Handle with care. ".repeat(200).into();
        let routes = Routes { printers: vec![("zebra-1".into(), Kind::Label)] };
        let (rejection, _) = parse(order.to_string().as_bytes(), "", &routes).unwrap_err();
        assert_eq!(rejection, Rejection::Invalid("label_note: 3,600 characters, at most 2,000".into()));
        // Other problems still name only the path: their text may quote the value.
        order["label_note"] = serde_json::Value::Null;
        order["recipient"]["address"]["country"] = "Malaysia".into();
        let (rejection, _) = parse(order.to_string().as_bytes(), "", &routes).unwrap_err();
        assert_eq!(rejection, Rejection::Invalid("bad order at recipient.address.country".into()));
    }

    #[test]
    fn routes_are_the_configured_printers_in_config_order() {
        let text = "[[printer]]\nname = \"dock\"\ndriver = \"zebra\"\nuri = \"tcp://10.0.0.9:9100\"\nrole = \"label\"\n\n\
                    [[printer]]\nname = \"desk\"\ndriver = \"escpos\"\nuri = \"tcp://10.0.0.10:9100\"\nrole = \"picklist\"\n\n\
                    [[printer]]\nname = \"bench\"\ndriver = \"zebra\"\nuri = \"tcp://10.0.0.11:9100\"\n";
        let config = crate::config::Config::parse(text, std::path::Path::new("labeld.toml"), &crate::config::AnyDriver).unwrap();
        let routes = Routes::of(&config.printers);
        assert_eq!(routes.printers, vec![("dock".into(), Kind::Label), ("desk".into(), Kind::Picklist), ("bench".into(), Kind::Label)]);
        assert_eq!(routes.by_role(Kind::Label), Some("dock"));
    }
}
