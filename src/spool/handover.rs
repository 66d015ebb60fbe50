//! What a carrier handover lists: the parcels whose label printed and was not cancelled, for one
//! carrier and handover mode, over a time window or a batch. Read from the columns migration 5 keeps
//! beside each label (they outlive purge); never from the content, so no buyer data can come out.

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};
use time::OffsetDateTime;

use super::{DocId, Spool, SpoolError, audit, from_ms, to_ms};
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

/// A parcel on the manifest that no scan ticked off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingParcel {
    pub tracking_number: String,
    pub order_id: String,
}

/// What closing a handover recorded, in the audit log of each parcel's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverClosed {
    pub closed_at: OffsetDateTime,
    pub by: String,
    pub carrier: String,
    pub handover: Handover,
    /// On the manifest and scanned: now ticked off.
    pub handed_over: Vec<String>,
    /// On the manifest, not scanned: still in the warehouse.
    pub missing: Vec<MissingParcel>,
    /// Scanned more than once.
    pub scanned_twice: Vec<String>,
    /// Scanned, not on the manifest.
    pub unknown: Vec<String>,
}

/// The longest name a handover is closed under.
pub const MAX_BY: usize = 200;

impl Spool {
    /// Every parcel of `carrier` (compared without regard to ASCII case and outer spaces) with
    /// handover mode `handover` in `scope` whose label printed (`sent` or `done`; a label in doubt
    /// or cancelled is not a parcel the warehouse can hand over). A tracking number printed more
    /// than once (a reprint) is one parcel. In print order.
    pub fn handover_parcels(&self, carrier: &str, handover: Handover, scope: &HandoverScope) -> Result<Vec<HandoverParcel>, SpoolError> {
        parcels_in(&self.lock(), carrier, handover, scope)
    }

    /// Closes a handover: the parcels of the manifest (`carrier`, `handover`, `scope`) that were
    /// scanned are ticked off (`handed_over_at`, once); each parcel's labels get an audit row saying
    /// who closed it and when, `handover` for a parcel scanned, `handover_missing` for one that was
    /// not. All in one commit. Scans not on the manifest are only reported back.
    pub fn close_handover(
        &self,
        carrier: &str,
        handover: Handover,
        scope: &HandoverScope,
        scanned: &[String],
        by: &str,
        now: OffsetDateTime,
    ) -> Result<HandoverClosed, SpoolError> {
        let by = by.trim();
        if by.is_empty() {
            return Err(SpoolError::Invalid("by: closing a handover needs the name of who hands over".into()));
        }
        if by.chars().count() > MAX_BY {
            return Err(SpoolError::Invalid(format!("by: at most {MAX_BY} characters")));
        }
        let at = to_ms(now);
        self.write(|tx| {
            let parcels = parcels_in(tx, carrier, handover, scope)?;
            let mut seen = std::collections::BTreeSet::new();
            let mut scanned_twice = Vec::new();
            for s in scanned.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
                if !seen.insert(s.to_string()) && !scanned_twice.iter().any(|t: &String| t == s) {
                    scanned_twice.push(s.to_string());
                }
            }
            let carrier = parcels.first().map_or(carrier.trim(), |p| p.carrier.as_str()).to_string();
            let words = format!("{carrier} {}", handover.label_text());
            let mut closed = HandoverClosed {
                closed_at: now,
                by: by.to_string(),
                carrier: carrier.clone(),
                handover,
                handed_over: Vec::new(),
                missing: Vec::new(),
                scanned_twice,
                unknown: Vec::new(),
            };
            for p in &parcels {
                let ids: Vec<DocId> = tx
                    .prepare_cached("SELECT id FROM documents WHERE kind = 'label' AND tracking_number = ?1 AND state IN ('sent', 'done') ORDER BY id")?
                    .query_map([&p.tracking_number], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let scanned = seen.contains(&p.tracking_number);
                for &id in &ids {
                    if scanned {
                        tx.prepare_cached("UPDATE documents SET handed_over_ms = coalesce(handed_over_ms, ?2) WHERE id = ?1")?.execute(params![id, at])?;
                        audit(tx, id, "handover", None, None, Some(&format!("handed over at the {words} handover closed by {by}")), at)?;
                    } else {
                        audit(tx, id, "handover_missing", None, None, Some(&format!("not scanned at the {words} handover closed by {by}: still in the warehouse")), at)?;
                    }
                }
                if scanned {
                    closed.handed_over.push(p.tracking_number.clone());
                } else {
                    closed.missing.push(MissingParcel { tracking_number: p.tracking_number.clone(), order_id: p.order_id.clone() });
                }
            }
            let listed: std::collections::BTreeSet<&str> = parcels.iter().map(|p| p.tracking_number.as_str()).collect();
            closed.unknown = seen.iter().filter(|s| !listed.contains(s.as_str())).cloned().collect();
            Ok(closed)
        })
    }
}

fn parcels_in(conn: &Connection, carrier: &str, handover: Handover, scope: &HandoverScope) -> Result<Vec<HandoverParcel>, SpoolError> {
    let mut args: Vec<Value> = vec![Value::Text(carrier.trim().to_string()), Value::Text(handover.as_str().into())];
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
