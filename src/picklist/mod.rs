//! Pick lists (拣货单) and packing checks for a batch of orders.
//!
//! A seller prints the pick list first, walks the shelves once, then prints the labels in the same
//! order. This module only decides *what* is on the list: one line per SKU with the total quantity,
//! sorted in walking order ([`bins`]), a packing check per order, and the orders held back by a rule.
//! [`page`] lays that out on A4, Letter or 100×150 mm pages; the usual painters draw them.
//!
//! Pick lists are internal documents. They carry no buyer data at all (no recipient name, phone or
//! address): a picker needs SKUs and bins, and a list left on a shelf must not leak who ordered what.

pub mod page;

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::comply::{Checker, DuplicateTracking, SeenTracking};
use crate::order::Order;
use crate::bins::{self, BinPattern};

/// Everything printed on a pick list. Holds no buyer data by construction: only order ids,
/// package numbers and items.
#[derive(Debug, Clone, PartialEq)]
pub struct PickList {
    pub batch_id: String,
    pub printed_at: OffsetDateTime,
    /// One per SKU (and variant), in walking order.
    pub lines: Vec<PickLine>,
    /// One per printable order, in the order its label will print.
    pub orders: Vec<PackingCheck>,
    /// Orders refused by a rule: listed, never silently skipped; their items are not picked.
    pub held: Vec<Held>,
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PickLine {
    pub sku: String,
    pub name: String,
    pub variant: Option<String>,
    pub bin: Option<String>,
    /// Units to pick, summed over every order.
    pub qty: u64,
    /// How many orders need this SKU.
    pub orders: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PackingCheck {
    pub order_id: String,
    pub package_index: u32,
    pub package_count: u32,
    pub items: Vec<PackItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PackItem {
    pub sku: String,
    pub name: String,
    pub variant: Option<String>,
    pub bin: Option<String>,
    pub qty: u32,
}

/// An order the batch will not label, and why (rule id and field path only: the offending text can
/// be buyer data, so it stays off the pick list).
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub order_id: String,
    pub rule: String,
    pub field: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub orders: u32,
    pub lines: u32,
    pub units: u64,
    pub held: u32,
}

/// A batch id stable for the same set of orders: `PL-YYYYMMDD-XXXXXX` (FNV-1a of the sorted ids), so
/// printing the same batch twice gives the same id and a picker can match lists and labels.
pub fn batch_id(orders: &[Order], at: OffsetDateTime) -> String {
    batch_id_of(orders.iter().map(|o| o.order_id.as_str()).collect(), at)
}

/// [`batch_id`] from the order ids alone (a batch of marketplace documents has no orders).
pub fn batch_id_of(mut ids: Vec<&str>, at: OffsetDateTime) -> String {
    ids.sort_unstable();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for id in ids {
        for b in id.bytes().chain([0u8]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("PL-{:04}{:02}{:02}-{:06X}", at.year(), u8::from(at.month()), at.day(), hash & 0xff_ffff)
}

/// The order labels print in: by the first bin on the walk each order needs, so labels come out
/// in the order the picker gathers the goods. Ties keep the batch order.
pub fn pick_order<'a>(orders: &'a [Order], pattern: &BinPattern) -> Vec<&'a Order> {
    pick_order_indices(orders, pattern).into_iter().map(|i| &orders[i]).collect()
}

/// [`pick_order`] as positions in `orders` (a batch keeps each order's place in the file for its keys).
pub fn pick_order_indices(orders: &[Order], pattern: &BinPattern) -> Vec<usize> {
    let bins: Vec<Vec<Option<&str>>> = orders.iter().map(|o| o.items.iter().map(|it| it.bin.as_deref()).collect()).collect();
    walk_order(&bins, pattern)
}

/// Positions of parcels in walking order, each parcel given by the bins of its items: by the first
/// bin on the walk, ties (and parcels without bins) in the order given.
pub fn walk_order(parcels: &[Vec<Option<&str>>], pattern: &BinPattern) -> Vec<usize> {
    let mut keyed: Vec<(bins::WalkKey, usize)> = parcels
        .iter()
        .enumerate()
        .map(|(i, bins)| {
            let first = bins
                .iter()
                .map(|b| pattern.walk_key(*b))
                .min_by(|a, b| pattern.compare(a, b))
                .unwrap_or(bins::WalkKey::NoBin);
            (first, i)
        })
        .collect();
    keyed.sort_by(|a, b| pattern.compare(&a.0, &b.0).then(a.1.cmp(&b.1)));
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Orders whose labels the rules refuse: held, listed on the summary, not picked. `seen` answers
/// for tracking numbers outside the batch (the spool, in the daemon); inside it, a number already
/// used by an earlier order of the batch is a duplicate too.
pub fn held_orders(orders: &[Order], checker: &Checker, seen: &dyn DuplicateTracking) -> Vec<Held> {
    let mut in_batch = SeenTracking::new();
    let mut held = Vec::new();
    for o in orders {
        let both = Either(seen, &in_batch);
        let report = checker.check_order(o, &both);
        in_batch.record(&o.shipment.tracking_number, &o.order_id);
        if let Some(first) = report.refusals.first() {
            let rules: Vec<&str> = report.rules().iter().map(|r| r.id()).collect();
            held.push(Held { order_id: o.order_id.clone(), rule: rules.join(", "), field: first.path.clone() });
        }
    }
    held
}

/// A tracking number is taken when either source has it on another order.
struct Either<'a>(&'a dyn DuplicateTracking, &'a SeenTracking);

impl DuplicateTracking for Either<'_> {
    fn other_order_with(&self, tracking: &str, order_id: &str) -> Result<Option<String>, String> {
        match self.0.other_order_with(tracking, order_id)? {
            Some(other) => Ok(Some(other)),
            None => self.1.other_order_with(tracking, order_id),
        }
    }
}

impl PickList {
    /// Builds the list for `orders`; `held` are the orders refused by a rule (by order id), whose
    /// items are left out of the pick lines.
    pub fn build(orders: &[Order], held: Vec<Held>, pattern: &BinPattern, batch_id: String, printed_at: OffsetDateTime) -> PickList {
        let held_ids: std::collections::HashSet<&str> = held.iter().map(|h| h.order_id.as_str()).collect();
        let printable: Vec<Order> = orders.iter().filter(|o| !held_ids.contains(o.order_id.as_str())).cloned().collect();

        // One line per (SKU, variant, bin): the same SKU stored in two bins is picked at two stops.
        let mut index: HashMap<(String, Option<String>, Option<String>), usize> = HashMap::new();
        let mut lines: Vec<PickLine> = Vec::new();
        let mut last_order: Vec<usize> = Vec::new();
        for (oi, order) in printable.iter().enumerate() {
            for item in &order.items {
                let key = (item.sku.clone(), item.variant.clone(), item.bin.clone());
                let at = *index.entry(key).or_insert_with(|| {
                    lines.push(PickLine {
                        sku: item.sku.clone(),
                        name: item.name.clone(),
                        variant: item.variant.clone(),
                        bin: item.bin.clone(),
                        qty: 0,
                        orders: 0,
                    });
                    last_order.push(usize::MAX);
                    lines.len() - 1
                });
                lines[at].qty += u64::from(item.qty);
                if last_order[at] != oi {
                    last_order[at] = oi;
                    lines[at].orders += 1;
                }
            }
        }
        let mut keyed: Vec<(bins::WalkKey, PickLine)> =
            lines.into_iter().map(|l| (pattern.walk_key(l.bin.as_deref()), l)).collect();
        keyed.sort_by(|a, b| pattern.compare(&a.0, &b.0).then_with(|| a.1.sku.cmp(&b.1.sku)));
        let lines: Vec<PickLine> = keyed.into_iter().map(|(_, l)| l).collect();

        let orders: Vec<PackingCheck> = pick_order(&printable, pattern)
            .into_iter()
            .map(|o| {
                let mut items: Vec<PackItem> = o
                    .items
                    .iter()
                    .map(|it| PackItem {
                        sku: it.sku.clone(),
                        name: it.name.clone(),
                        variant: it.variant.clone(),
                        bin: it.bin.clone(),
                        qty: it.qty,
                    })
                    .collect();
                items.sort_by(|a, b| pattern.compare(&pattern.walk_key(a.bin.as_deref()), &pattern.walk_key(b.bin.as_deref())));
                PackingCheck {
                    order_id: o.order_id.clone(),
                    package_index: o.shipment.package.index,
                    package_count: o.shipment.package.count,
                    items,
                }
            })
            .collect();

        let totals = Totals {
            orders: orders.len() as u32,
            lines: lines.len() as u32,
            units: lines.iter().map(|l| l.qty).sum(),
            held: held.len() as u32,
        };
        PickList { batch_id, printed_at, lines, orders, held, totals }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, items: &[(&str, u32, &str)]) -> Order {
        let items: Vec<serde_json::Value> = items
            .iter()
            .map(|(sku, qty, bin)| serde_json::json!({"sku": sku, "name": format!("{sku} name"), "qty": qty, "bin": bin}))
            .collect();
        let v = serde_json::json!({
            "order_id": id,
            "shipment": {"carrier": "J&T Express", "handover": "pickup", "tracking_number": "630000000001",
                          "package": {"index": 1, "count": 1}},
            "sender": {"name": "Acme", "address": {"lines": ["Lot 7"], "city": "Shah Alam", "region": "Selangor", "postal_code": "40200", "country": "MY"}},
            "recipient": {"name": "Buyer Secret", "phone": "+60 12-345 6789", "address": {"lines": ["1 Jalan"], "city": "PJ", "region": "Selangor", "postal_code": "47300", "country": "MY"}},
            "items": items,
        });
        Order::from_json_value(v).unwrap()
    }

    fn at() -> OffsetDateTime {
        time::macros::datetime!(2026-11-23 09:30 UTC)
    }

    #[test]
    fn sums_per_sku_counts_orders_and_walks_bins() {
        let orders = [
            order("1", &[("B", 2, "A-02-01"), ("A", 1, "A-01-01")]),
            order("2", &[("B", 3, "A-02-01")]),
            order("3", &[("A", 1, "A-01-01"), ("A", 1, "A-01-01")]),
        ];
        let list = PickList::build(&orders, vec![], &BinPattern::default(), "PL-x".into(), at());
        let got: Vec<(&str, u64, u32)> = list.lines.iter().map(|l| (l.sku.as_str(), l.qty, l.orders)).collect();
        assert_eq!(got, [("A", 3, 2), ("B", 5, 2)]);
        assert_eq!(list.totals, Totals { orders: 3, lines: 2, units: 8, held: 0 });
        // Order 1's first stop is A-01-01, order 2's is A-02-01: 1 and 3 come first, in batch order.
        let ids: Vec<&str> = list.orders.iter().map(|o| o.order_id.as_str()).collect();
        assert_eq!(ids, ["1", "3", "2"]);
    }

    #[test]
    fn held_orders_are_listed_and_not_picked() {
        let orders = [order("1", &[("A", 1, "A-01-01")]), order("2", &[("B", 4, "A-02-01")])];
        let held = vec![Held { order_id: "2".into(), rule: "hyperlink".into(), field: "label_note".into() }];
        let list = PickList::build(&orders, held, &BinPattern::default(), "PL-x".into(), at());
        assert_eq!(list.lines.len(), 1);
        assert_eq!(list.totals.held, 1);
        assert_eq!(list.totals.units, 1);
        assert_eq!(list.held[0].order_id, "2");
    }

    #[test]
    fn batch_id_depends_on_the_set_of_orders_not_their_order() {
        let a = [order("1", &[("A", 1, "A-01-01")]), order("2", &[("A", 1, "A-01-01")])];
        let b = [a[1].clone(), a[0].clone()];
        assert_eq!(batch_id(&a, at()), batch_id(&b, at()));
        assert_ne!(batch_id(&a, at()), batch_id(&a[..1], at()));
        assert!(batch_id(&a, at()).starts_with("PL-20261123-"));
    }
}
