//! Printable values of an order, by name: what a template's `{field}` bindings resolve to.
//!
//! Raw order fields keep their JSON path names (`shipment.carrier`); derived values that a label needs
//! formatted (a masked phone, an address block, "2/3", "0.45 kg") get names of their own. The recipient's
//! phone is masked under its own name: a template has to ask for `recipient.phone_unmasked` explicitly.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::order::{Address, Order};

/// Every name a template may bind, with what it prints. Kept here so template loading can refuse a typo.
pub const FIELDS: &[(&str, &str)] = &[
    ("order_id", "the marketplace order id"),
    ("shop", "shop name"),
    ("platform", "marketplace id"),
    ("shipment.carrier", "carrier name"),
    ("shipment.service", "carrier service"),
    ("shipment.handover", "PICK UP or DROP OFF"),
    ("shipment.tracking_number", "tracking number"),
    ("shipment.tracking_number_spaced", "tracking number in groups of four, for reading aloud"),
    ("shipment.sort_code", "carrier sort code"),
    ("shipment.route", "sort code, or the destination postal code and country when there is none"),
    ("shipment.package", "package index/count, e.g. 2/3"),
    ("shipment.weight", "package weight, e.g. 0.45 kg"),
    ("shipment.cod", "cash on delivery, e.g. MYR 35.90 (empty when not COD)"),
    ("sender.name", "sender name"),
    ("sender.phone", "sender phone"),
    ("sender.address", "sender address block"),
    ("recipient.name", "recipient name"),
    ("recipient.phone", "recipient phone, masked (+60 12-*** 6789)"),
    ("recipient.phone_unmasked", "recipient phone in full"),
    ("recipient.address", "recipient address block"),
    ("recipient.postal_code", "recipient postal code"),
    ("recipient.city", "recipient city"),
    ("recipient.country", "recipient country code"),
    ("items.summary", "SKU × quantity for every item"),
    ("items.count", "number of units"),
    ("label_note", "seller's note"),
    ("ship_by", "ship-by date"),
    ("printed_at", "print time (UTC)"),
];

pub fn is_known(name: &str) -> bool {
    FIELDS.iter().any(|(n, _)| *n == name)
}

/// The resolved values for one order. Absent or empty values resolve to "".
#[derive(Debug, Clone)]
pub struct Fields {
    values: BTreeMap<&'static str, String>,
}

impl Fields {
    pub fn from_order(o: &Order, printed_at: OffsetDateTime) -> Fields {
        let s = &o.shipment;
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut v: BTreeMap<&'static str, String> = BTreeMap::new();
        v.insert("order_id", o.order_id.clone());
        v.insert("shop", opt(&o.shop));
        v.insert("platform", opt(&o.platform));
        v.insert("shipment.carrier", s.carrier.clone());
        v.insert("shipment.service", opt(&s.service));
        v.insert("shipment.handover", s.handover.label_text().to_string());
        v.insert("shipment.tracking_number", s.tracking_number.clone());
        v.insert("shipment.tracking_number_spaced", group_by_four(&s.tracking_number));
        v.insert("shipment.sort_code", opt(&s.sort_code));
        let route = match &s.sort_code {
            Some(code) if !code.trim().is_empty() => code.clone(),
            _ => format!("{} {}", o.recipient.address.country, o.recipient.address.postal_code).trim().to_string(),
        };
        v.insert("shipment.route", route);
        v.insert("shipment.package", format!("{}/{}", s.package.index, s.package.count));
        v.insert("shipment.weight", s.package.weight_g.map(format_weight).unwrap_or_default());
        v.insert("shipment.cod", s.cod.as_ref().map(|c| format!("{} {}", c.currency, c.amount)).unwrap_or_default());
        v.insert("sender.name", o.sender.name.clone());
        v.insert("sender.phone", opt(&o.sender.phone));
        v.insert("sender.address", address_block(&o.sender.address));
        v.insert("recipient.name", o.recipient.name.clone());
        v.insert("recipient.phone", o.recipient.phone.as_deref().map(mask_phone).unwrap_or_default());
        v.insert("recipient.phone_unmasked", opt(&o.recipient.phone));
        v.insert("recipient.address", address_block(&o.recipient.address));
        v.insert("recipient.postal_code", o.recipient.address.postal_code.clone());
        v.insert("recipient.city", o.recipient.address.city.clone());
        v.insert("recipient.country", o.recipient.address.country.clone());
        let summary: Vec<String> = o.items.iter().map(|i| format!("{} ×{}", i.sku, i.qty)).collect();
        v.insert("items.summary", summary.join("   "));
        v.insert("items.count", o.items.iter().map(|i| i.qty as u64).sum::<u64>().to_string());
        v.insert("label_note", opt(&o.label_note));
        v.insert("ship_by", o.ship_by.as_deref().map(short_date).unwrap_or_default());
        v.insert("printed_at", format_stamp(printed_at));
        debug_assert!(v.keys().all(|k| is_known(k)) && v.len() == FIELDS.len());
        Fields { values: v }
    }

    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }
}

/// The order-side JSON path a derived field shows, for error messages ("recipient.address" → the lines).
pub fn source_path(name: &str) -> &str {
    match name {
        "shipment.tracking_number_spaced" => "shipment.tracking_number",
        "shipment.route" => "shipment.sort_code",
        "shipment.weight" => "shipment.package.weight_g",
        "recipient.phone" | "recipient.phone_unmasked" => "recipient.phone",
        "recipient.postal_code" => "recipient.address.postal_code",
        "recipient.city" => "recipient.address.city",
        "recipient.country" => "recipient.address.country",
        "items.summary" | "items.count" => "items",
        other => other,
    }
}

/// Masks the middle digits of a phone number, keeping the country code, the first group after it and
/// the last four digits: "+60 12-345 6789" → "+60 12-*** 6789". Enough for the courier to confirm a
/// call, not enough to harvest the number from a parcel.
pub fn mask_phone(phone: &str) -> String {
    let digits = phone.chars().filter(|c| c.is_ascii_digit()).count();
    if digits <= 4 {
        return phone.to_string();
    }
    // Count leading groups to keep: "+CC" then one more group, or just the first group without "+".
    let groups_to_keep = if phone.trim_start().starts_with('+') { 2 } else { 1 };
    let mut kept_prefix_digits = 0;
    let mut group = 0;
    let mut in_digits = false;
    for c in phone.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                group += 1;
                in_digits = true;
            }
            if group <= groups_to_keep {
                kept_prefix_digits += 1;
            }
        } else {
            in_digits = false;
        }
        if group > groups_to_keep {
            break;
        }
    }
    // A number written without separators keeps at most three leading digits.
    let keep_head = if kept_prefix_digits + 4 >= digits { digits.min(3).min(digits - 4) } else { kept_prefix_digits };
    let keep_tail_from = digits - 4;
    let mut seen = 0;
    phone
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen <= keep_head || seen > keep_tail_from { c } else { '*' }
            } else {
                c
            }
        })
        .collect()
}

/// "1Z5R89390388694646" → "1Z5R 8939 0388 6946 46": easier to read to a courier over the phone.
fn group_by_four(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

fn format_weight(grams: u32) -> String {
    let kg = format!("{:.2}", grams as f64 / 1000.0);
    let kg = kg.trim_end_matches('0').trim_end_matches('.');
    format!("{kg} kg")
}

/// Street lines, then the locality line in the order the destination country's post reads it.
fn address_block(a: &Address) -> String {
    let mut lines: Vec<String> = a.lines.iter().filter(|l| !l.trim().is_empty()).cloned().collect();
    if let Some(d) = a.district.as_deref().filter(|d| !d.trim().is_empty()) {
        lines.push(d.to_string());
    }
    let join = |parts: &[&str], sep: &str| parts.iter().filter(|p| !p.trim().is_empty()).copied().collect::<Vec<_>>().join(sep);
    let locality = match a.country.as_str() {
        // City, region and postal code on one line, postal code last.
        "US" | "CA" | "AU" | "PH" => {
            let tail = join(&[&a.region, &a.postal_code], " ");
            join(&[&a.city, &tail], ", ")
        }
        // City on its own line, postal code below it.
        "GB" | "IE" => join(&[&a.city, &a.region, &a.postal_code], "\n"),
        // Postal code first, then city and region.
        "JP" | "CN" | "TW" | "KR" => join(&[&a.postal_code, &a.region, &a.city], " "),
        _ => {
            let head = join(&[&a.postal_code, &a.city], " ");
            join(&[&head, &a.region], ", ")
        }
    };
    lines.push(format!("{locality} {}", a.country).trim().to_string());
    lines.join("\n")
}

fn short_date(stamp: &str) -> String {
    match time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339) {
        Ok(t) => format_stamp(t),
        Err(_) => stamp.to_string(),
    }
}

fn format_stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), t.month() as u8, t.day(), t.hour(), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_phones_by_group() {
        assert_eq!(mask_phone("+60 12-345 6789"), "+60 12-*** 6789");
        assert_eq!(mask_phone("+1 562-555-0142"), "+1 562-***-0142");
        assert_eq!(mask_phone("+66 81 234 5678"), "+66 81 *** 5678");
        assert_eq!(mask_phone("090-1234-5678"), "090-****-5678");
        assert_eq!(mask_phone("+60123456789"), "+601****6789");
        assert_eq!(mask_phone("1234"), "1234");
    }

    #[test]
    fn masked_phone_never_shows_the_middle() {
        for p in ["+60 12-345 6789", "+44 7700 900123", "+86 138 0013 8000", "0812345678"] {
            let m = mask_phone(p);
            assert!(m.contains('*'), "{p} -> {m}");
            assert_eq!(m.chars().count(), p.chars().count());
        }
    }

    #[test]
    fn weights() {
        assert_eq!(format_weight(450), "0.45 kg");
        assert_eq!(format_weight(5200), "5.2 kg");
        assert_eq!(format_weight(2000), "2 kg");
    }

    #[test]
    fn groups_tracking_numbers() {
        assert_eq!(group_by_four("1Z5R89390388694646"), "1Z5R 8939 0388 6946 46");
    }
}
