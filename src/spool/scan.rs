//! Scan-to-print at the packing bench: labels that wait, rendered and checked, for a packer's scan.
//!
//! A batch submitted with [`Release::OnScan`] stores its labels with `scan = 'awaiting'`. The
//! printer's worker renders and checks them like any other (a refusal shows at once, not at the
//! bench), then parks them at `ready` instead of sending ([`Spool::park`]). A scan of the order id
//! (the pick list's Code 128) or of the SKU of a single-item order commits the release first
//! ([`Spool::scan`]); only then does the worker take the label ([`Spool::take_released`]) and send
//! it. A crash between the two leaves it released and ready: it prints after the restart, once.
//!
//! Waiting is not a state of its own: the label is `ready` (its bytes stored) and simply not handed
//! to the worker. Answers name parcels by order id and tracking number only.

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::{DocId, Record, Rendered, Spool, SpoolError, State, audit, drop_rendered, now_ms, parse_state, store_rendered, transition};

/// When a batch's labels print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// As soon as the printer takes them, in walking order.
    #[default]
    AtOnce,
    /// Each when a packer scans its order at the bench.
    OnScan,
}

impl Release {
    pub fn as_str(self) -> &'static str {
        match self {
            Release::AtOnce => "at_once",
            Release::OnScan => "on_scan",
        }
    }
}

/// Where a scan-to-print label stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanState {
    /// Rendered (or about to be) and waiting for the packer's scan.
    Awaiting,
    /// Scanned; its printer's worker sends it next.
    Released,
}

impl ScanState {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanState::Awaiting => "awaiting",
            ScanState::Released => "released",
        }
    }

    pub fn parse(s: &str) -> Option<ScanState> {
        match s {
            "awaiting" => Some(ScanState::Awaiting),
            "released" => Some(ScanState::Released),
            _ => None,
        }
    }
}

/// What a scanned code was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanMatch {
    OrderId,
    /// The SKU of a single-item order (one item line, quantity 1).
    Sku,
}

/// What a scan did, most telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanResult {
    /// Released now: it prints on the bench's printer.
    Printing,
    /// Still being rendered for another printer: scan again in a moment.
    Checking,
    /// Scanned before and printing now: not printed twice.
    AlreadyScanned,
    /// Printed before: not printed again (a reprint needs a reason).
    AlreadyPrinted,
    /// Held, failed, in doubt or cancelled: the scan prints nothing.
    NotPrintable,
    /// Not a scan-to-print label: it prints on its own.
    NotWaiting,
    /// No order id, and no waiting single-item order with this SKU.
    Unknown,
}

impl ScanResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanResult::Printing => "printing",
            ScanResult::Checking => "checking",
            ScanResult::AlreadyScanned => "already_scanned",
            ScanResult::AlreadyPrinted => "already_printed",
            ScanResult::NotPrintable => "not_printable",
            ScanResult::NotWaiting => "not_waiting",
            ScanResult::Unknown => "unknown",
        }
    }
}

/// The answer to one scan: order ids and tracking numbers only (`server::api::Scan` is its HTTP shape).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanAnswer {
    pub code: String,
    pub result: ScanResult,
    pub matched: Option<ScanMatch>,
    pub order_id: Option<String>,
    /// The order's labels (originals, one per package), after the scan.
    pub documents: Vec<Record>,
    /// The bench printer the scan released labels to, when it released any.
    pub printer: Option<String>,
    /// How many times the order's label has printed (the most of any of its packages): the n of
    /// "already printed #n".
    pub printed: u32,
    /// For a SKU: single-item orders with this SKU still waiting after this one.
    pub still_waiting: u32,
    /// What the packer reads.
    pub message: String,
}

/// The longest code a scan may carry (order ids and SKUs are far shorter).
pub const MAX_CODE: usize = 100;

/// A single-item order's label waiting for a scan, most urgent first, then the batch's walking
/// order: the order a packer works through a pile of identical items in.
const WAITING_FOR_SKU: &str = "\
    SELECT d.id, d.order_id FROM documents d
    LEFT JOIN batch_documents m ON m.rowid = (SELECT min(rowid) FROM batch_documents WHERE document_id = d.id)
    WHERE d.kind = 'label' AND d.scan = 'awaiting' AND d.state IN ('queued', 'rendering', 'ready')
      AND d.purged_ms IS NULL AND d.reprint_of IS NULL
      AND json_array_length(d.content, '$.items') = 1
      AND json_extract(d.content, '$.items[0].sku') = ?1 AND json_extract(d.content, '$.items[0].qty') = 1
    ORDER BY coalesce(d.ship_by_ms, 9223372036854775807), m.batch_id, m.seq, d.id";

impl Spool {
    /// A packer scanned `code` at the bench whose printer is `bench` (`None`: each label's own
    /// printer). Waiting labels of the matched order are released in this commit, before anything
    /// prints. `reuses_bytes(from, to)` says whether bytes rendered for printer `from` suit printer
    /// `to`; when not, the label is rendered again for the bench's printer.
    pub fn scan(&self, code: &str, bench: Option<&str>, reuses_bytes: &dyn Fn(&str, &str) -> bool) -> Result<ScanAnswer, SpoolError> {
        let code = code.trim();
        if code.is_empty() || code.chars().count() > MAX_CODE || code.chars().any(char::is_control) {
            return Err(SpoolError::Invalid(format!("code must be 1 to {MAX_CODE} printable characters")));
        }
        let now = now_ms();
        let (matched, order_id, still_waiting, per_doc) = self.write(|tx| {
            let by_order: Vec<DocId> = tx
                .prepare_cached(
                    "SELECT id FROM documents WHERE kind = 'label' AND order_id = ?1 AND reprint_of IS NULL \
                     ORDER BY package_index, id",
                )?
                .query_map([code], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let (matched, order_id, ids, still_waiting) = if !by_order.is_empty() {
                (Some(ScanMatch::OrderId), Some(code.to_string()), by_order, 0)
            } else {
                let waiting: Vec<(DocId, Option<String>)> =
                    tx.prepare_cached(WAITING_FOR_SKU)?.query_map([code], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
                match waiting.first() {
                    Some((id, order)) => (Some(ScanMatch::Sku), order.clone(), vec![*id], waiting.len() as u32 - 1),
                    None => (None, None, Vec::new(), 0),
                }
            };
            let mut per_doc = Vec::with_capacity(ids.len());
            for id in ids {
                per_doc.push((id, release_one(tx, id, bench, reuses_bytes, now)?));
            }
            Ok((matched, order_id, still_waiting, per_doc))
        })?;
        let documents = per_doc.iter().map(|(id, _)| self.document(*id)).collect::<Result<Vec<_>, _>>()?;
        let result = per_doc.iter().map(|(_, r)| *r).min().unwrap_or(ScanResult::Unknown);
        let printed = match &order_id {
            Some(o) => self.times_printed(o)?,
            None => 0,
        };
        // Where the released labels print (each was moved to the bench's printer, if one was named).
        let printer = per_doc.iter().zip(&documents).find(|((_, r), _)| *r == ScanResult::Printing).map(|(_, d)| d.printer.clone());
        let message = words(code, result, matched, order_id.as_deref(), &documents, printer.as_deref(), printed, still_waiting);
        Ok(ScanAnswer { code: code.to_string(), result, matched, order_id, documents, printer, printed, still_waiting, message })
    }

    /// How many times the order's label has printed: the most copies of any one package that
    /// reached the printer (the original and its reprints).
    fn times_printed(&self, order_id: &str) -> Result<u32, SpoolError> {
        let conn = self.lock();
        let n: i64 = conn
            .prepare_cached(
                "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM documents \
                 WHERE kind = 'label' AND order_id = ?1 AND printed_ms IS NOT NULL GROUP BY package_index)",
            )?
            .query_row([order_id], |r| r.get(0))?;
        Ok(n as u32)
    }

    /// A rendered scan-to-print label that still waits: stores its bytes and parks it at `ready`
    /// (rendering → ready) in one commit, and answers true. False when a scan released it while it
    /// was rendering: nothing is changed and the worker sends it as usual.
    pub fn park(&self, id: DocId, bytes: &[u8], format: &str) -> Result<bool, SpoolError> {
        let now = now_ms();
        self.write(|tx| {
            let scan: Option<String> =
                tx.query_row("SELECT scan FROM documents WHERE id = ?1", [id], |r| r.get(0)).optional()?.ok_or(SpoolError::NoDocument(id))?;
            if scan.as_deref() != Some(ScanState::Awaiting.as_str()) {
                return Ok(false);
            }
            let detail = format!("{} bytes of {format}; waiting for its scan", bytes.len());
            transition(tx, id, State::Ready, "rendered", Some(&detail), now)?;
            store_rendered(tx, id, bytes, format)?;
            tx.execute("UPDATE documents SET error = NULL WHERE id = ?1", [id])?;
            Ok(true)
        })
    }

    /// Hands `printer`'s worker the label a scan released first, with its stored bytes: it is an
    /// ordinary `ready` document from here on (`scan` back to NULL), in one commit, so no two
    /// takers ever get the same label.
    pub fn take_released(&self, printer: &str) -> Result<Option<(Record, Rendered)>, SpoolError> {
        let id = self.write(|tx| {
            let id: Option<DocId> = tx
                .prepare_cached(
                    "SELECT id FROM documents WHERE printer = ?1 AND scan = 'released' AND state = 'ready' \
                     ORDER BY scanned_ms, id LIMIT 1",
                )?
                .query_row([printer], |r| r.get(0))
                .optional()?;
            if let Some(id) = id {
                tx.prepare_cached("UPDATE documents SET scan = NULL WHERE id = ?1")?.execute([id])?;
            }
            Ok(id)
        })?;
        let Some(id) = id else { return Ok(None) };
        let rendered = self.rendered(id)?.ok_or_else(|| SpoolError::Invalid(format!("document {id} was released without printer bytes")))?;
        Ok(Some((self.document(id)?, rendered)))
    }

    /// A worker lets go of a label it took with [`Spool::take_released`] without sending it (its
    /// printer failed on the label before, or it is stopping): released again, for the next take.
    /// A document that is not a scanned, ready label is left as it is.
    pub fn return_released(&self, id: DocId) -> Result<(), SpoolError> {
        self.write(|tx| {
            tx.prepare_cached("UPDATE documents SET scan = 'released' WHERE id = ?1 AND state = 'ready' AND scanned_ms IS NOT NULL")?
                .execute([id])?;
            Ok(())
        })
    }
}

/// What a scan does to one of the order's labels, inside the scan's commit.
fn release_one(tx: &Transaction, id: DocId, bench: Option<&str>, reuses_bytes: &dyn Fn(&str, &str) -> bool, now: i64) -> Result<ScanResult, SpoolError> {
    let (state, scan, printer, scanned): (String, Option<String>, String, bool) = tx.query_row(
        "SELECT state, scan, printer, scanned_ms IS NOT NULL FROM documents WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let state = parse_state(&state)?;
    let to = bench.unwrap_or(&printer).to_string();
    let detail = format!("released by a scan at {to}");
    match (scan.as_deref().and_then(ScanState::parse), state) {
        (Some(ScanState::Released), _) => Ok(ScanResult::AlreadyScanned),
        (Some(ScanState::Awaiting), State::Ready) if to == printer || reuses_bytes(&printer, &to) => {
            tx.execute("UPDATE documents SET scan = 'released', scanned_ms = ?2, printer = ?3 WHERE id = ?1", params![id, now, to])?;
            audit(tx, id, "scan", None, None, Some(&detail), now)?;
            Ok(ScanResult::Printing)
        }
        (Some(ScanState::Awaiting), State::Ready) => {
            // Bytes for another kind of printer: rendered again for the bench's, no byte sent yet.
            transition(tx, id, State::Queued, "scan", Some(&format!("{detail}; rendered again for it")), now)?;
            tx.execute(
                "UPDATE documents SET scan = NULL, scanned_ms = ?2, printer = ?3 WHERE id = ?1",
                params![id, now, to],
            )?;
            drop_rendered(tx, id)?;
            Ok(ScanResult::Printing)
        }
        (Some(ScanState::Awaiting), State::Queued) => {
            tx.execute("UPDATE documents SET scan = NULL, scanned_ms = ?2, printer = ?3 WHERE id = ?1", params![id, now, to])?;
            audit(tx, id, "scan", None, None, Some(&detail), now)?;
            Ok(ScanResult::Printing)
        }
        // Its own printer's worker is rendering it: it sends it instead of parking it.
        (Some(ScanState::Awaiting), State::Rendering) if to == printer => {
            tx.execute("UPDATE documents SET scan = NULL, scanned_ms = ?2 WHERE id = ?1", params![id, now])?;
            audit(tx, id, "scan", None, None, Some(&detail), now)?;
            Ok(ScanResult::Printing)
        }
        (Some(ScanState::Awaiting), State::Rendering) => Ok(ScanResult::Checking),
        (_, State::Sending | State::Sent | State::Done) => Ok(ScanResult::AlreadyPrinted),
        (_, State::Held | State::Failed | State::InDoubt | State::Cancelled) => Ok(ScanResult::NotPrintable),
        // Scanned before, and on its way to the printer.
        (None, State::Queued | State::Rendering | State::Ready) if scanned => Ok(ScanResult::AlreadyScanned),
        (None, State::Queued | State::Rendering | State::Ready) => Ok(ScanResult::NotWaiting),
    }
}

#[allow(clippy::too_many_arguments)]
fn words(
    code: &str,
    result: ScanResult,
    matched: Option<ScanMatch>,
    order_id: Option<&str>,
    documents: &[Record],
    printer: Option<&str>,
    printed: u32,
    still_waiting: u32,
) -> String {
    let order = order_id.unwrap_or(code);
    let tracking: Vec<&str> = documents.iter().filter_map(|d| d.tracking_number.as_deref()).collect();
    let tracking = tracking.join(", ");
    let via = match matched {
        Some(ScanMatch::Sku) => format!(" (SKU {code}; {still_waiting} more waiting)"),
        _ => String::new(),
    };
    match result {
        ScanResult::Printing => format!("Printing order {order}{via} on {}: tracking {tracking}", printer.unwrap_or("its printer")),
        ScanResult::Checking => format!("Order {order} is still being checked; scan it again in a moment"),
        ScanResult::AlreadyScanned => format!("Already scanned: order {order} is printing now (tracking {tracking})"),
        ScanResult::AlreadyPrinted => format!("Already printed #{printed}: order {order}, tracking {tracking}. A new label needs a reprint with a reason"),
        ScanResult::NotPrintable => {
            let states: Vec<&str> = documents.iter().map(|d| d.state.as_str()).collect();
            format!("Order {order} cannot print ({}): see Needs attention", states.join(", "))
        }
        ScanResult::NotWaiting => format!("Order {order} is not waiting for a scan: it prints on its own"),
        ScanResult::Unknown => format!("Nothing matches {code}: no order with this id, and no waiting single-item order with this SKU"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::{NewBatch, NewDocument};

    fn order(id: &str, sku: &str, ship_by: &str) -> crate::order::Order {
        crate::order::Order::from_json_value(serde_json::json!({
            "order_id": id, "ship_by": ship_by,
            "shipment": {"carrier": "J&T Express", "handover": "pickup", "tracking_number": format!("T-{id}"), "package": {"index": 1, "count": 1}},
            "sender": {"name": "Acme", "address": {"lines": ["Lot 7"], "city": "Shah Alam", "region": "Selangor", "postal_code": "40200", "country": "MY"}},
            "recipient": {"name": "B", "phone": "+60 12-345 6789", "address": {"lines": ["1 Jalan"], "city": "PJ", "region": "Selangor", "postal_code": "47300", "country": "MY"}},
            "items": [{"sku": sku, "name": "Thing", "qty": 1}],
        }))
        .unwrap()
    }

    /// Parked labels wait; a scan releases the most urgent one-item order of a SKU; one taker gets
    /// it; a worker that lets go of it gives it back; and every later scan says it is on its way.
    #[test]
    fn a_scan_releases_one_label_to_exactly_one_taker() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(&dir.path().join("s.db")).unwrap();
        let labels = vec![
            NewDocument::label("dock", order("LATER", "SKU-1", "2026-12-22T00:00:00Z")),
            NewDocument::label("dock", order("SOONER", "SKU-1", "2026-12-21T00:00:00Z")),
        ];
        let batch = NewBatch { id: "B".into(), printer: "dock".into(), picklist: None, labels, chunk_size: 50, release: Release::OnScan };
        spool.submit_batch(batch).unwrap();
        while let Some(d) = spool.claim_next("dock").unwrap() {
            assert_eq!(d.scan, Some(ScanState::Awaiting));
            assert!(spool.park(d.id, b"^XA^XZ", "zpl").unwrap());
        }
        assert!(spool.take_released("dock").unwrap().is_none(), "nothing is released before a scan");
        let same = |_: &str, _: &str| true;
        let a = spool.scan("SKU-1", None, &same).unwrap();
        assert_eq!((a.result, a.matched, a.order_id.as_deref(), a.still_waiting), (ScanResult::Printing, Some(ScanMatch::Sku), Some("SOONER"), 1));
        let (doc, bytes) = spool.take_released("dock").unwrap().expect("released");
        assert_eq!((doc.order_id.as_deref(), bytes.bytes.as_slice()), (Some("SOONER"), &b"^XA^XZ"[..]));
        assert!(spool.take_released("dock").unwrap().is_none(), "one taker only");
        assert_eq!(spool.scan("SOONER", None, &same).unwrap().result, ScanResult::AlreadyScanned);
        spool.return_released(doc.id).unwrap();
        assert_eq!(spool.take_released("dock").unwrap().unwrap().0.id, doc.id);
        assert_eq!(spool.scan("", None, &same).unwrap_err().to_string(), "code must be 1 to 100 printable characters");
        assert_eq!(spool.scan("NOPE", None, &same).unwrap().result, ScanResult::Unknown);
        // A bench printer of another kind: the label goes back to the queue there, no byte sent.
        let other = |_: &str, _: &str| false;
        let b = spool.scan("LATER", Some("bench"), &other).unwrap();
        assert_eq!((b.result, b.documents[0].state, b.documents[0].printer.as_str()), (ScanResult::Printing, State::Queued, "bench"));
        assert!(spool.rendered(b.documents[0].id).unwrap().is_none());
        assert!(spool.integrity_check().unwrap().is_empty());
    }
}
