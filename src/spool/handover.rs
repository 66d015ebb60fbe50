//! What a carrier handover lists: the parcels whose label printed and was not cancelled, for one
//! carrier and handover mode, over a time window or a batch. Read from the columns migration 5 keeps
//! beside each label (they outlive purge); never from the content, so no buyer data can come out.

use rusqlite::params_from_iter;
use rusqlite::types::Value;
use time::OffsetDateTime;

use super::{Spool, SpoolError, from_ms, to_ms};
use crate::order::Handover;

/// Which parcels a handover covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoverScope {
    /// Parcels whose label first printed in `[since, until)`.
    Window { since: OffsetDateTime, until: OffsetDateTime },
    /// Parcels of a shipping batch (by tracking number, so a reprint outside the batch counts).
    Batch(String),
}

/// One parcel on a handover manifest: no buyer data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverParcel {
    pub tracking_number: String,
    pub order_id: String,
    /// The carrier as the order named it.
    pub carrier: String,
    pub package_index: u32,
    pub package_count: u32,
    pub weight_g: Option<u32>,
    /// The first time a label with this tracking number printed.
    pub printed_at: OffsetDateTime,
    /// When a handover scan ticked it off.
    pub handed_over_at: Option<OffsetDateTime>,
}

impl Spool {
    /// Every parcel of `carrier` (compared without regard to ASCII case and outer spaces) with
    /// handover mode `handover` in `scope` whose label printed (`sent` or `done`; a label in doubt
    /// or cancelled is not a parcel the warehouse can hand over). A tracking number printed more
    /// than once (a reprint) is one parcel. In print order.
    pub fn handover_parcels(&self, carrier: &str, handover: Handover, scope: &HandoverScope) -> Result<Vec<HandoverParcel>, SpoolError> {
        let mode = match handover {
            Handover::Pickup => "pickup",
            Handover::Dropoff => "dropoff",
        };
        let mut args: Vec<Value> = vec![Value::Text(carrier.trim().to_string()), Value::Text(mode.into())];
        let (filter, having) = match scope {
            HandoverScope::Window { since, until } => {
                args.push(Value::Integer(to_ms(*since)));
                args.push(Value::Integer(to_ms(*until)));
                ("", "HAVING min(d.printed_ms) >= ?3 AND min(d.printed_ms) < ?4")
            }
            HandoverScope::Batch(id) => {
                args.push(Value::Text(id.clone()));
                (
                    "AND d.tracking_number IN (SELECT x.tracking_number FROM batch_documents m \
                     JOIN documents x ON x.id = m.document_id WHERE m.batch_id = ?3 AND x.kind = 'label')",
                    "",
                )
            }
        };
        let sql = format!(
            "SELECT d.tracking_number, min(d.order_id), min(d.carrier), min(d.package_index), min(d.package_count), \
             min(d.weight_g), min(d.printed_ms), max(d.handed_over_ms) FROM documents d \
             WHERE d.kind = 'label' AND d.state IN ('sent', 'done') AND d.printed_ms IS NOT NULL \
             AND d.tracking_number IS NOT NULL AND d.order_id IS NOT NULL \
             AND lower(trim(d.carrier)) = lower(?1) AND d.handover = ?2 {filter} \
             GROUP BY d.tracking_number {having} ORDER BY min(d.printed_ms), d.tracking_number"
        );
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok(HandoverParcel {
                tracking_number: r.get(0)?,
                order_id: r.get(1)?,
                carrier: r.get(2)?,
                package_index: r.get::<_, Option<u32>>(3)?.unwrap_or(1),
                package_count: r.get::<_, Option<u32>>(4)?.unwrap_or(1),
                weight_g: r.get(5)?,
                printed_at: from_ms(r.get(6)?),
                handed_over_at: r.get::<_, Option<i64>>(7)?.map(from_ms),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
