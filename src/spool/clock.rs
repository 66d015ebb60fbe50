//! The spool's side of the marketplace clocks: the columns a label's deadlines and handover live in,
//! the queue order they set, and the lists behind the page's "due" strip and the metrics. Parcels
//! are named by order id and tracking number only.

use rusqlite::{Transaction, params};
use time::OffsetDateTime;

use super::{DocId, Spool, SpoolError, from_ms, to_ms};
use crate::deadlines::{Deadlines, NOT_HANDED_OVER_AFTER, Window};
use crate::order::Order;

/// A printer's queue, most urgent first. A document's urgency is its print deadline; a batch
/// member's is its batch's most urgent deadline (`batches.urgency_ms`, fixed when the batch is
/// stored: neither its members nor their deadlines change after), so a batch prints whole, in
/// walking order (its `seq`), pick list first. Documents without a clock (test pages, orders with
/// neither `created_at` nor `ship_by`) come after every clocked one, oldest first.
pub(super) const QUEUE_ORDER: &str = "\
    WITH q AS (
        SELECT d.id, d.ship_by_ms, m.batch_id, m.seq FROM documents d
        LEFT JOIN batch_documents m ON m.rowid = (SELECT min(rowid) FROM batch_documents WHERE document_id = d.id)
        WHERE d.printer = ?1 AND d.state = 'queued')
    SELECT q.id FROM q LEFT JOIN batches b ON b.id = q.batch_id
    ORDER BY coalesce(b.urgency_ms, q.ship_by_ms, 9223372036854775807), q.batch_id, q.seq, q.id
    LIMIT 1";

/// A batch's urgency: its members' most urgent print deadline. Run once, when the batch is stored.
pub(super) const BATCH_URGENCY: &str = "\
    UPDATE batches SET urgency_ms = (
        SELECT min(x.ship_by_ms) FROM batch_documents m JOIN documents x ON x.id = m.document_id WHERE m.batch_id = batches.id)
    WHERE id = ?1";

/// What a label stores beside its content for the clocks and the handover manifest.
#[derive(Debug, Clone)]
pub(super) struct ParcelColumns {
    ship_by_ms: Option<i64>,
    handover_by_ms: Option<i64>,
    carrier: String,
    handover: &'static str,
    package_index: u32,
    package_count: u32,
    weight_g: Option<u32>,
}

impl ParcelColumns {
    pub(super) fn of(o: &Order, deadlines: &Deadlines) -> ParcelColumns {
        let s = &o.shipment;
        ParcelColumns {
            ship_by_ms: deadlines.ship_by(o).map(to_ms),
            handover_by_ms: deadlines.handover_by(o).map(to_ms),
            carrier: s.carrier.clone(),
            handover: s.handover.as_str(),
            package_index: s.package.index,
            package_count: s.package.count,
            weight_g: s.package.weight_g,
        }
    }
}

pub(super) fn store_parcel(tx: &Transaction, id: DocId, p: Option<&ParcelColumns>) -> Result<(), SpoolError> {
    let Some(p) = p else { return Ok(()) };
    tx.prepare_cached(
        "UPDATE documents SET ship_by_ms = ?2, handover_by_ms = ?3, carrier = ?4, handover = ?5, package_index = ?6, \
         package_count = ?7, weight_g = ?8 WHERE id = ?1",
    )?
    .execute(params![id, p.ship_by_ms, p.handover_by_ms, p.carrier, p.handover, p.package_index, p.package_count, p.weight_g])?;
    Ok(())
}

/// One parcel in a list the page shows: order id and tracking number, no buyer data.
#[derive(Debug, Clone, PartialEq)]
pub struct Parcel {
    pub document: DocId,
    pub order_id: Option<String>,
    pub tracking_number: Option<String>,
    pub ship_by: Option<OffsetDateTime>,
    pub printed_at: Option<OffsetDateTime>,
}

/// Parcels by where their clock stands. A list holds at most [`Due::LIST_MAX`] parcels, most
/// urgent first; `orders` counts distinct order ids over the whole window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bucket {
    pub orders: usize,
    /// Labels (parcels) in the window; `parcels` lists the first of them.
    pub labels: usize,
    pub parcels: Vec<Parcel>,
}

/// The page's "due" strip and the metrics: labels not yet printed that are overdue, due within
/// 4 h or due before the warehouse's day ends; and labels printed more than 20 h ago that no
/// handover has ticked off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Due {
    pub overdue: Bucket,
    pub soon: Bucket,
    pub today: Bucket,
    pub not_handed_over: Bucket,
}

impl Due {
    pub const LIST_MAX: usize = 500;
}

/// States in which a label has not printed yet (and still will, or needs a person).
const UNPRINTED: &str = "('queued', 'rendering', 'ready', 'sending', 'held', 'failed', 'in_doubt')";

impl Spool {
    /// Where every label's clock stands at `now`.
    pub fn due(&self, now: OffsetDateTime) -> Result<Due, SpoolError> {
        let deadlines = self.deadlines();
        let conn = self.lock();
        let mut due = Due::default();
        let parcel = |r: &rusqlite::Row| -> rusqlite::Result<Parcel> {
            Ok(Parcel {
                document: r.get(0)?,
                order_id: r.get(1)?,
                tracking_number: r.get(2)?,
                ship_by: r.get::<_, Option<i64>>(3)?.map(from_ms),
                printed_at: r.get::<_, Option<i64>>(4)?.map(from_ms),
            })
        };
        let end_of_day = to_ms(deadlines.end_of_day(now));
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT id, order_id, tracking_number, ship_by_ms, printed_ms FROM documents \
             WHERE kind = 'label' AND state IN {UNPRINTED} AND ship_by_ms <= ?1 ORDER BY ship_by_ms, id"
        ))?;
        for p in stmt.query_map([end_of_day.max(to_ms(now) + crate::deadlines::DUE_SOON.as_millis() as i64)], parcel)? {
            let p = p?;
            let bucket = match deadlines.window(p.ship_by.expect("selected by ship_by"), now) {
                Window::Overdue => &mut due.overdue,
                Window::Soon => &mut due.soon,
                Window::Today => &mut due.today,
                Window::Later => continue,
            };
            bucket.parcels.push(p);
        }
        drop(stmt);
        let cutoff = to_ms(now) - NOT_HANDED_OVER_AFTER.as_millis() as i64;
        let mut stmt = conn.prepare_cached(
            "SELECT min(id), order_id, tracking_number, max(ship_by_ms), min(printed_ms) FROM documents \
             WHERE kind = 'label' AND state IN ('sent', 'done') AND printed_ms <= ?1 AND tracking_number IS NOT NULL \
             GROUP BY tracking_number HAVING max(handed_over_ms) IS NULL ORDER BY min(printed_ms), min(id)",
        )?;
        for p in stmt.query_map([cutoff], parcel)? {
            due.not_handed_over.parcels.push(p?);
        }
        for b in [&mut due.overdue, &mut due.soon, &mut due.today, &mut due.not_handed_over] {
            let mut ids: Vec<&str> = b.parcels.iter().filter_map(|p| p.order_id.as_deref()).collect();
            ids.sort_unstable();
            ids.dedup();
            b.orders = ids.len();
            b.labels = b.parcels.len();
            b.parcels.truncate(Due::LIST_MAX);
        }
        Ok(due)
    }
}
