//! Shipping batches: the order a batch prints in, its chunks, and how far it got.
//!
//! A seller prints the pick list first, walks the shelves once, then prints the labels in the same
//! walking order, at most [`PRINT_BATCH`] per print batch (the marketplace's limit; a chunk is what a
//! packer works through). [`plan`] turns a batch of orders into spool documents in that order;
//! [`Progress::of`] summarises a stored batch for the API, the events and `labeld batch`: counts by
//! result, per chunk, and one result per document (printed, held with the rule and field, failed
//! with the error, in doubt). Only order ids and tracking numbers appear, never buyer data.

use serde::{Deserialize, Serialize};

use crate::order::Order;
use crate::bins::BinPattern;
use crate::picklist;
use crate::spool::{Kind, NewBatch, NewDocument, Release, State, StoredBatch};

/// Labels per print batch: the marketplace allows at most 50.
pub const PRINT_BATCH: usize = 50;

/// Documents for `orders`: an optional pick list first (on `picklist_printer`), then one label per
/// order on `printer` in pick-list walking order. With a caller's `key`, label `i` (its place in the
/// submitted list) is keyed `KEY:i`, as for any multi-order job.
pub fn plan(
    id: String,
    orders: Vec<Order>,
    printer: &str,
    picklist_printer: Option<&str>,
    pattern: &BinPattern,
    key: Option<&str>,
    release: Release,
) -> NewBatch {
    let picklist = picklist_printer.map(|p| NewDocument::picklist(p, orders.clone()).with_key(format!("picklist:{id}")));
    let order = picklist::pick_order_indices(&orders, pattern);
    let mut slots: Vec<Option<Order>> = orders.into_iter().map(Some).collect();
    let labels = order
        .into_iter()
        .map(|i| {
            let doc = NewDocument::label(printer, slots[i].take().expect("each index once"));
            match key {
                Some(k) => doc.with_item_key(k, i),
                None => doc,
            }
        })
        .collect();
    NewBatch { id, printer: printer.to_string(), picklist, labels, chunk_size: PRINT_BATCH, release }
}

/// A batch of marketplace documents in walking order (by the bins of each parcel's items, when
/// given) and chunks of [`PRINT_BATCH`]; no pick list (the documents carry no item lines). With a
/// caller's `key`, document `i` is keyed `KEY:i`.
pub fn plan_documents(id: String, documents: Vec<(NewDocument, Vec<Option<String>>)>, printer: &str, pattern: &BinPattern, key: Option<&str>) -> NewBatch {
    let bins: Vec<Vec<Option<&str>>> = documents.iter().map(|(_, b)| b.iter().map(|x| x.as_deref()).collect()).collect();
    let order = picklist::walk_order(&bins, pattern);
    let mut slots: Vec<Option<NewDocument>> = documents.into_iter().map(|(d, _)| Some(d)).collect();
    let labels = order
        .into_iter()
        .map(|i| {
            let doc = slots[i].take().expect("each index once");
            match key {
                Some(k) => doc.with_item_key(k, i),
                None => doc,
            }
        })
        .collect();
    NewBatch { id, printer: printer.to_string(), picklist: None, labels, chunk_size: PRINT_BATCH, release: Release::AtOnce }
}

/// What became of one document, in the words `labeld batch` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Printed,
    Held,
    Failed,
    InDoubt,
    Cancelled,
    /// Not settled yet: queued, rendering, ready, sending or sent.
    Pending,
}

impl Outcome {
    pub fn of(state: State) -> Outcome {
        match state {
            State::Done => Outcome::Printed,
            State::Held => Outcome::Held,
            State::Failed => Outcome::Failed,
            State::InDoubt => Outcome::InDoubt,
            State::Cancelled => Outcome::Cancelled,
            State::Queued | State::Rendering | State::Ready | State::Sending | State::Sent => Outcome::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Printed => "printed",
            Outcome::Held => "held",
            Outcome::Failed => "failed",
            Outcome::InDoubt => "in_doubt",
            Outcome::Cancelled => "cancelled",
            Outcome::Pending => "pending",
        }
    }
}

/// Documents by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub total: u32,
    pub printed: u32,
    pub held: u32,
    pub failed: u32,
    pub in_doubt: u32,
    pub cancelled: u32,
    pub pending: u32,
}

impl Counts {
    fn add(&mut self, o: Outcome) {
        self.total += 1;
        match o {
            Outcome::Printed => self.printed += 1,
            Outcome::Held => self.held += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::InDoubt => self.in_doubt += 1,
            Outcome::Cancelled => self.cancelled += 1,
            Outcome::Pending => self.pending += 1,
        }
    }
}

/// One document's result (the API shows it as `server::api::BatchDocument`).
#[derive(Debug, Clone, PartialEq)]
pub struct DocResult {
    /// Print position in the batch, from 0 (the pick list, when there is one, is 0).
    pub seq: u32,
    /// 1-based chunk of a label; none for the pick list.
    pub chunk: Option<u32>,
    pub document: i64,
    pub kind: String,
    pub printer: String,
    pub order_id: Option<String>,
    pub tracking_number: Option<String>,
    /// The spool state (`done`, `held`, `queued`, ...).
    pub state: String,
    pub result: Outcome,
    /// Held: the rules broken (comma-separated ids) and the first refused field's path.
    pub rule: Option<String>,
    pub field: Option<String>,
    /// Held: the rule's sentence for a packer; failed or in doubt: the error.
    pub reason: Option<String>,
}

/// Counts for one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkProgress {
    pub chunk: u32,
    pub counts: Counts,
}

/// Where a stored batch stands (`GET /v1/batches/{id}` shows it as `server::api::BatchProgress`).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub batch: String,
    pub job: i64,
    pub printer: String,
    pub orders: u32,
    pub chunk_size: u32,
    pub chunks: u32,
    /// Every label and the pick list settled (printed, held, failed, in doubt or cancelled).
    pub complete: bool,
    /// The first chunk with labels still pending.
    pub current_chunk: Option<u32>,
    /// Labels by outcome (the pick list is counted apart).
    pub counts: Counts,
    pub chunk_counts: Vec<ChunkProgress>,
    pub picklist: Option<DocResult>,
    /// Labels in print order.
    pub documents: Vec<DocResult>,
}

impl Progress {
    pub fn of(batch: &StoredBatch) -> Progress {
        let mut tally = Tally::new(batch.chunks);
        let mut picklist = None;
        let mut documents = Vec::with_capacity(batch.members.len());
        for m in &batch.members {
            let d = &m.document;
            let result = tally.add(d.kind, m.chunk, d.state);
            let (rule, field, reason) = match result {
                Outcome::Held => held_reason(d.report.as_ref()),
                Outcome::Failed | Outcome::InDoubt | Outcome::Cancelled => (None, None, d.error.clone()),
                _ => (None, None, None),
            };
            let r = DocResult {
                seq: m.seq,
                chunk: m.chunk,
                document: d.id,
                kind: d.kind.as_str().to_string(),
                printer: d.printer.clone(),
                order_id: d.order_id.clone(),
                tracking_number: d.tracking_number.clone(),
                state: d.state.as_str().to_string(),
                result,
                rule,
                field,
                reason,
            };
            if d.kind == Kind::Picklist {
                picklist = Some(r);
            } else {
                documents.push(r);
            }
        }
        let summary = tally.summary(batch.id.clone());
        Progress {
            batch: batch.id.clone(),
            job: batch.job,
            printer: batch.printer.clone(),
            orders: batch.orders,
            chunk_size: batch.chunk_size,
            chunks: batch.chunks,
            complete: summary.complete,
            current_chunk: summary.current_chunk,
            counts: summary.counts,
            chunk_counts: tally.chunk_counts,
            picklist,
            documents,
        }
    }
}

/// Where a batch stands in counts only, what its progress event carries: made from each member's
/// kind, chunk and state ([`crate::spool::BatchStates`]), without reading the documents whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub batch: String,
    pub chunks: u32,
    pub complete: bool,
    pub current_chunk: Option<u32>,
    pub counts: Counts,
    pub picklist: Option<Outcome>,
}

impl Summary {
    pub fn of(states: &crate::spool::BatchStates) -> Summary {
        let mut tally = Tally::new(states.chunks);
        for &(kind, chunk, state) in &states.members {
            tally.add(kind, chunk, state);
        }
        tally.summary(states.batch.clone())
    }
}

/// The counting both [`Progress::of`] and [`Summary::of`] do, so the API and the events agree.
struct Tally {
    counts: Counts,
    chunk_counts: Vec<ChunkProgress>,
    picklist: Option<Outcome>,
}

impl Tally {
    fn new(chunks: u32) -> Tally {
        Tally { counts: Counts::default(), chunk_counts: (1..=chunks).map(|chunk| ChunkProgress { chunk, counts: Counts::default() }).collect(), picklist: None }
    }

    fn add(&mut self, kind: Kind, chunk: Option<u32>, state: State) -> Outcome {
        let result = Outcome::of(state);
        if kind == Kind::Picklist {
            self.picklist = Some(result);
            return result;
        }
        self.counts.add(result);
        if let Some(c) = chunk.and_then(|c| self.chunk_counts.get_mut(c as usize - 1)) {
            c.counts.add(result);
        }
        result
    }

    fn summary(&self, batch: String) -> Summary {
        let current_chunk = self.chunk_counts.iter().find(|c| c.counts.pending > 0).map(|c| c.chunk);
        let complete = self.counts.pending == 0 && self.picklist.is_none_or(|p| p != Outcome::Pending);
        Summary { batch, chunks: self.chunk_counts.len() as u32, complete, current_chunk, counts: self.counts, picklist: self.picklist }
    }
}

/// Rule ids and the first field from a held document's report; the refused text itself (which can
/// be buyer data) is left out.
fn held_reason(report: Option<&serde_json::Value>) -> (Option<String>, Option<String>, Option<String>) {
    // A hold that is not a rule's (link_too_slow) carries its reason and message.
    if let Some(hold) = report.and_then(|r| r.get("hold")) {
        let text = |k: &str| hold.get(k).and_then(|v| v.as_str()).map(str::to_string);
        return (text("reason"), None, text("message"));
    }
    let Some(refusals) = report.and_then(|r| r.get("refusals")).and_then(|r| r.as_array()) else {
        return (None, None, None);
    };
    let mut rules: Vec<&str> = refusals.iter().filter_map(|r| r.get("rule")?.as_str()).collect();
    rules.dedup();
    let first = refusals.first();
    let text = |k: &str| first.and_then(|r| r.get(k)).and_then(|v| v.as_str()).map(str::to_string);
    (Some(rules.join(", ")), text("path"), text("message"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, bin: &str) -> Order {
        let v = serde_json::json!({
            "order_id": id,
            "shipment": {"carrier": "J&T Express", "handover": "pickup", "tracking_number": format!("63000000{id}"),
                          "package": {"index": 1, "count": 1}},
            "sender": {"name": "Acme", "address": {"lines": ["Lot 7"], "city": "Shah Alam", "region": "Selangor", "postal_code": "40200", "country": "MY"}},
            "recipient": {"name": "Buyer", "phone": "+60 12-345 6789", "address": {"lines": ["1 Jalan"], "city": "PJ", "region": "Selangor", "postal_code": "47300", "country": "MY"}},
            "items": [{"sku": "S", "name": "Thing", "qty": 1, "bin": bin}],
        });
        Order::from_json_value(v).unwrap()
    }

    #[test]
    fn labels_follow_the_walk_and_fill_chunks_of_fifty() {
        // 120 orders whose bins run backwards: the walk reverses them.
        let orders: Vec<Order> = (0..120).map(|i| order(&format!("{i:04}"), &format!("A-{:02}-01", 120 - i))).collect();
        let plan = plan("B1".into(), orders, "dock", Some("office"), &BinPattern::default(), Some("k"), Release::AtOnce);
        assert_eq!(plan.picklist.as_ref().unwrap().printer, "office");
        assert_eq!(plan.labels.len(), 120);
        let first = match &plan.labels[0].content {
            crate::spool::Content::Order(o) => o.order_id.clone(),
            _ => unreachable!(),
        };
        assert_eq!(first, "0119");
        // Keys keep each order's place in the submitted list.
        assert_eq!(plan.labels[0].key.as_deref(), Some("k:119"));
        assert_eq!(plan.chunk_size, 50);
    }

    /// The event's counts (read from states alone) and the API's full progress agree, chunk by chunk.
    #[test]
    fn summary_from_states_matches_the_full_progress() {
        let dir = tempfile::tempdir().unwrap();
        let spool = crate::spool::Spool::open(&dir.path().join("spool.db")).unwrap();
        let orders: Vec<Order> = (0..60).map(|i| order(&format!("{i:04}"), &format!("A-{:02}-01", i))).collect();
        let submitted = spool.submit_batch(plan("B1".into(), orders, "dock", Some("dock"), &BinPattern::default(), None, Release::AtOnce)).unwrap();
        let progress = |spool: &crate::spool::Spool| {
            let p = Progress::of(&spool.batch("B1").unwrap().unwrap());
            let full = Summary {
                batch: p.batch,
                chunks: p.chunks,
                complete: p.complete,
                current_chunk: p.current_chunk,
                counts: p.counts,
                picklist: p.picklist.map(|r| r.result),
            };
            assert_eq!(Summary::of(&spool.batch_states("B1").unwrap().unwrap()), full);
            full
        };
        let fresh = progress(&spool);
        assert_eq!((fresh.counts.pending, fresh.current_chunk, fresh.complete, fresh.picklist), (60, Some(1), false, Some(Outcome::Pending)));
        // Settle the pick list and every label of the first chunk (one held, one failed).
        for (i, (_, a)) in submitted.documents.iter().take(51).enumerate() {
            spool.claim(a.document).unwrap();
            match i {
                1 => spool.mark_held(a.document, &serde_json::json!({"refusals": []})).unwrap(),
                2 => spool.mark_failed(a.document, "no font").unwrap(),
                _ => {
                    spool.mark_ready_and_sending(a.document, b"x", "zpl").unwrap();
                    spool.mark_sent(a.document).unwrap();
                    spool.mark_done(a.document).unwrap();
                }
            }
        }
        let moved = progress(&spool);
        assert_eq!((moved.counts.printed, moved.counts.held, moved.counts.failed, moved.counts.pending), (48, 1, 1, 10));
        assert_eq!((moved.current_chunk, moved.complete, moved.picklist), (Some(2), false, Some(Outcome::Printed)));
    }

    #[test]
    fn held_reason_names_rules_and_field_not_text() {
        let report = serde_json::json!({"refusals": [
            {"rule": "hyperlink", "path": "label_note", "span": {"start": 0, "end": 3}, "text": "secret", "message": "no links"},
            {"rule": "hyperlink", "path": "items[0].name", "span": {"start": 0, "end": 3}, "text": "x", "message": "m"},
        ]});
        let (rule, field, reason) = held_reason(Some(&report));
        assert_eq!(rule.as_deref(), Some("hyperlink"));
        assert_eq!(field.as_deref(), Some("label_note"));
        assert_eq!(reason.as_deref(), Some("no links"));
    }
}
