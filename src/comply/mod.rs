//! Compliance: refuse what a marketplace forbids on a shipping label, and say why.
//!
//! TikTok Shop, Shopee and Lazada forbid links, QR codes, contacts for other channels and information unrelated
//! to the order on a label, and punish false shipping (forged sender, invalid or reused tracking numbers). The
//! [`Checker`] reads every text that will reach a label and answers with a [`Report`]: an empty report means
//! printable; otherwise each [`Refusal`] names the [`Rule`], the field, the byte span of the offending text in the
//! field as given, that text, and one sentence a packer understands.
//!
//! One file per concern:
//! * [`normalize`] folds disguises (fullwidth, homoglyphs, zero-width, "dot"/"點"/"punto") into a detection copy
//!   that maps back to the original bytes.
//! * [`hyperlink`], [`contact`], [`unrelated`] find the forbidden content in that copy, with the words of
//!   [`lexicon`] (data files per language that a warehouse can extend) and the kind of field they read.
//! * [`tracking`] validates tracking numbers by carrier; [`warehouse`] holds the sender registry.
//!
//! Precision matters as much as recall: a false refusal stops a warehouse. Addresses, SKUs and product names
//! are full of dots, digits and @-signs, so every rule wants a violation's shape, not just a word.

pub mod contact;
pub mod hyperlink;
pub mod lexicon;
pub mod normalize;
pub mod tracking;
pub mod unrelated;
pub mod warehouse;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use phonenumber::country;
use serde::{Deserialize, Serialize};

use crate::bitmap::Bitmap;
use crate::order::Order;

pub use lexicon::{Lexicon, LexiconError};
pub use normalize::Normalized;
pub use warehouse::{Registry, RegistryError, Warehouse};

/// The rules a label can break. Serialised as the snake_case ids of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Hyperlink,
    QrCode,
    OffPlatformContact,
    UnrelatedContent,
    UnknownWarehouse,
    TrackingNumber,
    DuplicateTrackingNumber,
    MissingGlyph,
    Overflow,
}

impl Rule {
    pub const ALL: [Rule; 9] = [
        Rule::Hyperlink,
        Rule::QrCode,
        Rule::OffPlatformContact,
        Rule::UnrelatedContent,
        Rule::UnknownWarehouse,
        Rule::TrackingNumber,
        Rule::DuplicateTrackingNumber,
        Rule::MissingGlyph,
        Rule::Overflow,
    ];

    /// The rule's id in DESIGN.md, reports and the HTTP API.
    pub fn id(&self) -> &'static str {
        match self {
            Rule::Hyperlink => "hyperlink",
            Rule::QrCode => "qr_code",
            Rule::OffPlatformContact => "off_platform_contact",
            Rule::UnrelatedContent => "unrelated_content",
            Rule::UnknownWarehouse => "unknown_warehouse",
            Rule::TrackingNumber => "tracking_number",
            Rule::DuplicateTrackingNumber => "duplicate_tracking_number",
            Rule::MissingGlyph => "missing_glyph",
            Rule::Overflow => "overflow",
        }
    }

    /// The rule for an id, as written in DESIGN.md.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == id)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// Why a label may not be printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub rule: Rule,
    /// Field path (`label_note`, `items[0].name`) or, for templates, the element's path.
    pub path: String,
    /// Byte span of `text` in the field as given (before any normalisation).
    pub span: Range<usize>,
    /// The offending text, exactly as given. It can be buyer data (an overflow quotes the whole field),
    /// so only the answer to the caller's own request carries it: stored reports drop it
    /// ([`Report::strip_text`]) and it is then absent here.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// One sentence a packer understands.
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {} [{}..{}]: {:?} — {}", self.rule, self.path, self.span.start, self.span.end, self.text, self.message)
    }
}

/// The verdict on one label: printable when there are no refusals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub refusals: Vec<Refusal>,
}

impl Report {
    pub fn is_printable(&self) -> bool {
        self.refusals.is_empty()
    }

    /// Removes each refusal's `text` from a report in its JSON form: what the spool stores and every
    /// later reader (job lists, events, previews of a stored document) sees.
    pub fn strip_text(report: &mut serde_json::Value) {
        if let Some(refusals) = report.get_mut("refusals").and_then(|r| r.as_array_mut()) {
            for r in refusals.iter_mut().filter_map(|r| r.as_object_mut()) {
                r.remove("text");
            }
        }
    }

    /// The same report without the refused texts.
    pub fn without_text(&self) -> Report {
        Report { refusals: self.refusals.iter().map(|r| Refusal { text: String::new(), ..r.clone() }).collect() }
    }

    /// `rule@path, ...`: a summary that names fields, never their text.
    pub fn summary(&self) -> String {
        self.refusals.iter().map(|r| format!("{}@{}", r.rule.id(), r.path)).collect::<Vec<_>>().join(", ")
    }

    /// The distinct rules broken, in rule order.
    pub fn rules(&self) -> Vec<Rule> {
        let mut rules: Vec<Rule> = self.refusals.iter().map(|r| r.rule).collect();
        rules.sort();
        rules.dedup();
        rules
    }
}

/// Where tracking numbers already in use are known: the spool implements this; [`SeenTracking`] is the
/// in-memory version for tests and CLI batches.
pub trait DuplicateTracking {
    /// The id of an order OTHER than `order_id` that already carries `tracking`, if any. An error (the
    /// spool could not be read) says why; the rule then refuses: an unanswered question is no "no".
    fn other_order_with(&self, tracking: &str, order_id: &str) -> Result<Option<String>, String>;

    /// [`Self::other_order_with`] for many `(tracking, order_id)` pairs, answered in order. A spool
    /// answers them in one query; the default asks one by one.
    fn others_for(&self, pairs: &[(&str, &str)]) -> Vec<Result<Option<String>, String>> {
        pairs.iter().map(|(tracking, order_id)| self.other_order_with(tracking, order_id)).collect()
    }
}

/// Duplicate answers for a batch of orders, asked of `source` at once: an order is a duplicate when the
/// source knows its tracking number on another order, or an earlier order of the batch that is not itself
/// a duplicate carries it (so the order that already owns a number keeps it).
pub struct BatchTracking {
    known: HashMap<(String, String), Result<Option<String>, String>>,
}

impl BatchTracking {
    pub fn of(orders: &[Order], source: &dyn DuplicateTracking) -> BatchTracking {
        let pairs: Vec<(&str, &str)> = orders.iter().map(|o| (o.shipment.tracking_number.as_str(), o.order_id.as_str())).collect();
        let answers = source.others_for(&pairs);
        let mut first: HashMap<&str, &str> = HashMap::new();
        let mut known = HashMap::new();
        for (&(tracking, order_id), answer) in pairs.iter().zip(answers) {
            let answer = match answer {
                Ok(None) => Ok(first.get(tracking).filter(|earlier| **earlier != order_id).map(|e| e.to_string())),
                other => other,
            };
            if answer == Ok(None) {
                first.entry(tracking).or_insert(order_id);
            }
            known.entry((tracking.to_string(), order_id.to_string())).or_insert(answer);
        }
        BatchTracking { known }
    }
}

impl DuplicateTracking for BatchTracking {
    fn other_order_with(&self, tracking: &str, order_id: &str) -> Result<Option<String>, String> {
        // Only the batch's own orders are asked; anything else was not looked up, so it is no answer.
        self.known.get(&(tracking.to_string(), order_id.to_string())).cloned().unwrap_or_else(|| Err("not in this batch's lookup".into()))
    }
}

/// No spool: nothing is a duplicate.
pub struct NoSpool;

impl DuplicateTracking for NoSpool {
    fn other_order_with(&self, _: &str, _: &str) -> Result<Option<String>, String> {
        Ok(None)
    }
}

/// Tracking numbers seen so far in a batch, in memory.
#[derive(Debug, Default, Clone)]
pub struct SeenTracking {
    by_number: HashMap<String, String>,
}

impl SeenTracking {
    pub fn new() -> SeenTracking {
        SeenTracking::default()
    }

    /// Remembers that `order_id` carries `tracking` (the first order to claim a number keeps it).
    pub fn record(&mut self, tracking: &str, order_id: &str) {
        self.by_number.entry(tracking.to_string()).or_insert_with(|| order_id.to_string());
    }
}

impl DuplicateTracking for SeenTracking {
    fn other_order_with(&self, tracking: &str, order_id: &str) -> Result<Option<String>, String> {
        Ok(self.by_number.get(tracking).filter(|o| o.as_str() != order_id).cloned())
    }
}

/// A finding in the normalised copy of a text, before it is mapped back to the original.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub rule: Rule,
    pub range: Range<usize>,
    pub message: String,
}

/// Who writes a field, which decides what the text rules look for in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// Seller-controlled free text (the label note, the sender block, a template's text): every rule.
    Free,
    /// A product title or variant: every rule, but network and marketplace names are brands there unless a
    /// contact's shape surrounds them, and sales words are not marketing.
    Product,
    /// Identifiers and codes (SKU, ids, postcodes, platform, carrier and service): digit runs are ids, not phone
    /// numbers, and a marketplace's name is the order's own platform or carrier, not an invitation.
    Code,
    /// The buyer's own name and address: their words, so only links, e-mail addresses and phone numbers other
    /// than their own are looked for (a name that equals an app's name is a name).
    Buyer,
    /// The recipient's or sender's phone field itself: links only.
    OwnPhone,
}

impl FieldKind {
    fn of(path: &str) -> FieldKind {
        if path == "recipient.phone" || path == "sender.phone" {
            FieldKind::OwnPhone
        } else if path == "recipient.name" || path.starts_with("recipient.address") {
            FieldKind::Buyer
        } else if is_identifier(path) || path == "shipment.carrier" || path == "shipment.service" {
            // The platform's and carrier's own words ("Shopee Xpress", "Lazada eLogistics") are codes too.
            FieldKind::Code
        } else if path.starts_with("items[") && (path.ends_with("].name") || path.ends_with("].variant")) {
            FieldKind::Product
        } else {
            FieldKind::Free
        }
    }
}

/// What a text rule needs to know about the field it reads.
pub(crate) struct TextContext<'a> {
    /// Regions tried for phone numbers written without a country code.
    pub regions: &'a [country::Id],
    /// The recipient's and the sender's own numbers: allowed anywhere.
    pub own_phones: &'a OwnPhones<'a>,
    pub kind: FieldKind,
    pub lexicon: &'a Lexicon,
}

/// The recipient's and the sender's own phone numbers (country code, national number), parsed the first
/// time a text holds a phone number to compare: parsing loads libphonenumber's metadata, a few
/// milliseconds a process, and most orders carry no other number.
#[derive(Default)]
pub(crate) struct OwnPhones<'a> {
    given: Vec<(&'a str, &'a str)>,
    parsed: std::cell::OnceCell<Vec<(u16, u64)>>,
}

impl<'a> OwnPhones<'a> {
    fn of(order: &'a Order) -> OwnPhones<'a> {
        let given = [(&order.recipient.phone, &order.recipient.address.country), (&order.sender.phone, &order.sender.address.country)]
            .into_iter()
            .filter_map(|(phone, country)| Some((phone.as_deref()?, country.as_str())))
            .collect();
        OwnPhones { given, parsed: std::cell::OnceCell::new() }
    }

    /// Whether (country code, national number) is one of them.
    pub(crate) fn contains(&self, number: (u16, u64)) -> bool {
        let parsed = self.parsed.get_or_init(|| {
            self.given
                .iter()
                .filter_map(|(phone, country)| {
                    let number = phonenumber::parse_with(contact::phone_metadata(), country.parse::<country::Id>().ok(), phone).ok()?;
                    Some((number.code().value(), number.national().value()))
                })
                .collect()
        });
        parsed.contains(&number)
    }
}

/// The compliance engine. Cheap to share; build one per configuration.
pub struct Checker {
    registry: Option<Registry>,
    regions: Vec<country::Id>,
    /// A warehouse's word lists; `None` is the built-in ones, compiled when a text is first checked (a
    /// command that only prints a marketplace document never checks one).
    lexicon: Option<Arc<Lexicon>>,
}

impl Checker {
    /// A checker; with a registry, the sender must be a registered warehouse.
    pub fn new(registry: Option<Registry>) -> Checker {
        Checker { registry, regions: contact::default_regions(), lexicon: None }
    }

    /// A checker with a lexicon other than the built-in one (the warehouse's `[comply] lexicon_dir`).
    pub fn with_lexicon(registry: Option<Registry>, lexicon: Arc<Lexicon>) -> Checker {
        Checker { registry, regions: contact::default_regions(), lexicon: Some(lexicon) }
    }

    fn lexicon(&self) -> &Lexicon {
        self.lexicon.as_deref().unwrap_or_else(|| lexicon::builtin_ref())
    }

    /// The label rules a config asks for: its warehouse registry (when it has one, the sender check is
    /// on) and the built-in words plus `[comply] lexicon_dir`. A bad word list is a config problem at
    /// that key, naming the list's file, key and term.
    pub fn for_config(config: &crate::config::Config) -> Result<Checker, crate::config::ConfigError> {
        let lexicon = match &config.comply.lexicon_dir {
            None => Lexicon::builtin(),
            Some(dir) => Arc::new(Lexicon::with_dir(&dir.path).map_err(|e| crate::config::ConfigError {
                problems: vec![crate::config::Problem {
                    file: dir.file.display().to_string(),
                    line: dir.at.line,
                    column: dir.at.column,
                    message: format!("comply: lexicon_dir: {e}"),
                }],
            })?),
        };
        let registry = (!config.warehouses.is_empty()).then(|| Registry::of(&config.warehouses));
        Ok(Checker::with_lexicon(registry, lexicon))
    }

    pub fn registry(&self) -> Option<&Registry> {
        self.registry.as_ref()
    }

    /// Every rule that applies to an order's data. `dup` answers whether the tracking number is already on
    /// another order.
    pub fn check_order(&self, order: &Order, dup: &dyn DuplicateTracking) -> Report {
        let mut refusals = Vec::new();
        let mut regions: Vec<country::Id> = Vec::with_capacity(self.regions.len() + 2);
        for c in [&order.recipient.address.country, &order.sender.address.country] {
            if let Ok(id) = c.parse::<country::Id>()
                && !regions.contains(&id)
            {
                regions.push(id);
            }
        }
        for id in &self.regions {
            if !regions.contains(id) {
                regions.push(*id);
            }
        }
        let own_phones = OwnPhones::of(order);

        order.each_text_field(|path, text| {
            if path == "shipment.tracking_number" {
                return; // checked below, by its own rules
            }
            let cx = TextContext { regions: &regions, own_phones: &own_phones, kind: FieldKind::of(path), lexicon: self.lexicon() };
            scan(path, text, &cx, &mut refusals);
        });

        let tn = &order.shipment.tracking_number;
        let whole = |rule, message: String| Refusal { rule, path: "shipment.tracking_number".into(), span: 0..tn.len(), text: tn.clone(), message };
        if let Err(tracking::Invalid(why)) = tracking::check(&order.shipment.carrier, tn) {
            refusals.push(whole(Rule::TrackingNumber, format!("{why}; use the number the carrier issued")));
        }
        match dup.other_order_with(tn, &order.order_id) {
            Ok(None) => {}
            Ok(Some(other)) => {
                refusals.push(whole(Rule::DuplicateTrackingNumber, format!("this tracking number is already on order {other}; each parcel needs its own")))
            }
            // Fail closed: a number nobody could check may be on another parcel.
            Err(why) => refusals.push(whole(
                Rule::DuplicateTrackingNumber,
                format!("could not check whether this tracking number is already used ({why}); held until it can be checked, then reprint"),
            )),
        }

        if let Some(registry) = &self.registry {
            for m in registry.check_sender(&order.sender) {
                let text = sender_field(order, &m.path).unwrap_or_default();
                refusals.push(Refusal { rule: Rule::UnknownWarehouse, span: 0..text.len(), text, path: m.path, message: m.message });
            }
        }
        Report { refusals }
    }

    /// The text rules on one text that is not order data (a template's static text).
    pub fn check_text(&self, path: &str, text: &str) -> Vec<Refusal> {
        let cx = TextContext { regions: &self.regions, own_phones: &OwnPhones::default(), kind: FieldKind::Free, lexicon: self.lexicon() };
        let mut out = Vec::new();
        scan(path, text, &cx, &mut out);
        out
    }

    /// An image (a template's logo, or a whole label raster) must not carry a QR code or any other 2D code.
    pub fn check_image(&self, path: &str, image: &Bitmap) -> Vec<Refusal> {
        crate::barcode::verify::find_2d_codes(image)
            .into_iter()
            .map(|f| Refusal {
                rule: Rule::QrCode,
                path: path.to_string(),
                span: 0..0,
                text: format!("{} at x={} y={} ({}×{} dots)", f.format.name(), f.x, f.y, f.width, f.height),
                message: format!("the image contains a {}; labels may carry 1D barcodes only", f.format.name()),
            })
            .collect()
    }
}

/// Whether `t` contains `needle`. On a field of a few words this plain scan costs a fraction of
/// `str::contains`, which prepares a two-way search first; the rules ask it of every field.
pub(crate) fn holds(t: &str, needle: &str) -> bool {
    let Some((&first, rest)) = needle.as_bytes().split_first() else { return true };
    let h = t.as_bytes();
    h.iter().enumerate().any(|(i, &b)| b == first && h[i + 1..].starts_with(rest))
}

/// Fields that hold identifiers and codes: digit runs there are ids, not phone numbers.
fn is_identifier(path: &str) -> bool {
    matches!(path, "order_id" | "platform" | "created_at" | "ship_by" | "shipment.sort_code" | "shipment.cod.amount" | "shipment.cod.currency")
        || path.ends_with(".warehouse_id")
        || path.ends_with(".postal_code")
        || path.ends_with(".country")
        || path.ends_with("].sku")
        || path.ends_with("].bin")
}

fn sender_field(order: &Order, path: &str) -> Option<String> {
    order.text_fields().into_iter().find(|(p, _)| p == path).map(|(_, t)| t.to_string())
}

/// Runs the text rules on one field and appends its refusals.
fn scan(path: &str, text: &str, cx: &TextContext<'_>, out: &mut Vec<Refusal>) {
    if text.is_empty() {
        return;
    }
    let n = Normalized::new(text);
    let mut findings: Vec<Finding> = Vec::new();
    hyperlink::find(&n, &mut findings);
    // One pass for which word lists occur at all; a phone field's own number is only read for links.
    let present = if cx.kind == FieldKind::OwnPhone { lexicon::Present::ALL } else { cx.lexicon.present(&n.text) };
    contact::find(&n, cx, present, &mut findings);
    unrelated::find(&n, cx, present, &mut findings);
    // Innocent phrases that contain a rule's words ("LINE FRIENDS", "Shopee Xpress", "五星级") void the finding.
    if !findings.is_empty() {
        let allowed = cx.lexicon.allow.find_overlapping(&n.text);
        findings.retain(|f| !allowed.iter().any(|a| a.start < f.range.end && f.range.start < a.end));
    }
    // One refusal per stretch of text: where two rules claim overlapping text, the longer claim explains it
    // ("acme.shop@gmail.com" is an e-mail address, not a link to acme.shop); on a tie the earlier rule wins.
    findings.sort_by_key(|f| std::cmp::Reverse(f.range.len()));
    let mut kept: Vec<Finding> = Vec::with_capacity(findings.len());
    for f in findings {
        if !kept.iter().any(|k| k.rule != f.rule && k.range.start < f.range.end && f.range.start < k.range.end) {
            kept.push(f);
        }
    }
    kept.sort_by_key(|f| (f.range.start, f.range.end));
    // Pieces of one contact ("WhatsApp us" + "+60 12-888 7777") are one refusal.
    let mut i = 1;
    while i < kept.len() {
        let (a, b) = (&kept[i - 1], &kept[i]);
        if a.rule == b.rule && a.range.end <= b.range.start && n.text[a.range.end..b.range.start].chars().all(|c| c == ' ' || c == ':' || c == '：' || c == ',') && b.range.start - a.range.end <= 3 {
            let end = b.range.end;
            kept[i - 1].range.end = end;
            kept.remove(i);
        } else {
            i += 1;
        }
    }
    // Bait next to a contact or link ("加微信 acme_888 领券", "WhatsApp us ... for 10% off") is one offence: the
    // contact's refusal grows to cover it instead of a second refusal for the same clause.
    let mut i = 0;
    while i < kept.len() {
        if kept[i].rule == Rule::UnrelatedContent {
            let u = kept[i].range.clone();
            let near = kept.iter().position(|c| {
                c.rule != Rule::UnrelatedContent && {
                    let gap = if c.range.end <= u.start { c.range.end..u.start } else { u.end..c.range.start.max(u.end) };
                    gap.len() <= 12 && !n.text[gap].contains(['.', '!', '?', '。', '！', '？', ';', '；'])
                }
            });
            if let Some(c) = near {
                let r = &mut kept[c].range;
                *r = r.start.min(u.start)..r.end.max(u.end);
                kept.remove(i);
                continue;
            }
        }
        i += 1;
    }
    for f in kept {
        let span = n.original_span(f.range.clone());
        out.push(Refusal { rule: f.rule, path: path.to_string(), text: text[span.clone()].to_string(), span, message: f.message });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_match_design() {
        for r in Rule::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::Value::String(r.id().into()));
            assert_eq!(Rule::from_id(r.id()), Some(r));
        }
    }

    #[test]
    fn spans_point_into_the_original() {
        let c = Checker::new(None);
        let text = "Thanks! Ｖｉｓｉｔ ｗｗｗ．ａｃｍｅ．ｃｏｍ";
        let r = c.check_text("label_note", text);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].rule, Rule::Hyperlink);
        assert_eq!(&text[r[0].span.clone()], "ｗｗｗ．ａｃｍｅ．ｃｏｍ");
        assert_eq!(r[0].text, "ｗｗｗ．ａｃｍｅ．ｃｏｍ");
    }

    #[test]
    fn holds_is_contains() {
        for (t, needle) in [("www.acme", "www"), ("ww w", "www"), ("shop at gmail", " at "), ("at ", " at "), ("", "x"), ("abc", ""), ("點 at 點", " at ")] {
            assert_eq!(holds(t, needle), t.contains(needle), "{t:?} {needle:?}");
        }
    }

    #[test]
    fn seen_tracking_flags_only_other_orders() {
        let mut seen = SeenTracking::new();
        seen.record("635828770378", "A");
        assert_eq!(seen.other_order_with("635828770378", "A"), Ok(None));
        assert_eq!(seen.other_order_with("635828770378", "B"), Ok(Some("A".into())));
        assert_eq!(seen.other_order_with("635828770379", "B"), Ok(None));
    }
}
