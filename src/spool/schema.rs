//! The spool's tables, versioned with `PRAGMA user_version`.
//!
//! Migrations only ever append: `MIGRATIONS[n]` takes a spool from version `n` to `n + 1`, inside
//! one transaction with the version bump, so a crash mid-upgrade leaves the old version intact.
//! SQLite cannot change a CHECK constraint in place, so such a migration rebuilds the table; foreign
//! keys are off while migrations run (SQLite's documented procedure) and checked before the commit.

use rusqlite::{Connection, TransactionBehavior};

use super::SpoolError;

const MIGRATIONS: &[&str] = &[
    // 1: jobs, documents, audit.
    r#"
    CREATE TABLE jobs (
        id          INTEGER PRIMARY KEY,
        created_ms  INTEGER NOT NULL
    );

    -- Buyer data lives in `content` (and, as pixels, in `rendered`, and maybe quoted in `report`),
    -- never in a column of its own; purge replaces all three. (Since 8, `rendered` is a table.)
    CREATE TABLE documents (
        id               INTEGER PRIMARY KEY,
        job_id           INTEGER NOT NULL REFERENCES jobs(id),
        idem_key         TEXT    NOT NULL UNIQUE,
        kind             TEXT    NOT NULL CHECK (kind IN ('label', 'picklist')),
        printer          TEXT    NOT NULL,
        order_id         TEXT,
        tracking_number  TEXT,
        content          TEXT    NOT NULL,
        purged_ms        INTEGER,
        state            TEXT    NOT NULL CHECK (state IN ('queued', 'rendering', 'ready', 'sending', 'sent',
                                                           'done', 'held', 'failed', 'cancelled', 'in_doubt')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        error            TEXT,
        report           TEXT,
        rendered         BLOB,
        rendered_format  TEXT,
        reprint_of       INTEGER REFERENCES documents(id),
        reprint_reason   TEXT,
        created_ms       INTEGER NOT NULL,
        updated_ms       INTEGER NOT NULL
    );
    CREATE INDEX documents_queue    ON documents(printer, state, id);
    CREATE INDEX documents_job      ON documents(job_id);
    CREATE INDEX documents_order    ON documents(order_id);
    CREATE INDEX documents_tracking ON documents(tracking_number) WHERE tracking_number IS NOT NULL;
    CREATE INDEX documents_age      ON documents(state, updated_ms);

    -- Every state change, submit, reprint and purge, for the operator's history and the crash test.
    CREATE TABLE audit (
        id           INTEGER PRIMARY KEY,
        at_ms        INTEGER NOT NULL,
        document_id  INTEGER NOT NULL REFERENCES documents(id),
        action       TEXT    NOT NULL,
        from_state   TEXT,
        to_state     TEXT,
        detail       TEXT
    );
    CREATE INDEX audit_document ON audit(document_id);
    "#,
    // 2: a document may be a printer's test page (`kind = 'test_page'`, no order).
    r#"
    CREATE TABLE documents_v2 (
        id               INTEGER PRIMARY KEY,
        job_id           INTEGER NOT NULL REFERENCES jobs(id),
        idem_key         TEXT    NOT NULL UNIQUE,
        kind             TEXT    NOT NULL CHECK (kind IN ('label', 'picklist', 'test_page')),
        printer          TEXT    NOT NULL,
        order_id         TEXT,
        tracking_number  TEXT,
        content          TEXT    NOT NULL,
        purged_ms        INTEGER,
        state            TEXT    NOT NULL CHECK (state IN ('queued', 'rendering', 'ready', 'sending', 'sent',
                                                           'done', 'held', 'failed', 'cancelled', 'in_doubt')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        error            TEXT,
        report           TEXT,
        rendered         BLOB,
        rendered_format  TEXT,
        reprint_of       INTEGER REFERENCES documents(id),
        reprint_reason   TEXT,
        created_ms       INTEGER NOT NULL,
        updated_ms       INTEGER NOT NULL
    );
    INSERT INTO documents_v2 SELECT id, job_id, idem_key, kind, printer, order_id, tracking_number, content, purged_ms,
        state, attempts, error, report, rendered, rendered_format, reprint_of, reprint_reason, created_ms, updated_ms
        FROM documents;
    DROP TABLE documents;
    ALTER TABLE documents_v2 RENAME TO documents;
    CREATE INDEX documents_queue    ON documents(printer, state, id);
    CREATE INDEX documents_job      ON documents(job_id);
    CREATE INDEX documents_order    ON documents(order_id);
    CREATE INDEX documents_tracking ON documents(tracking_number) WHERE tracking_number IS NOT NULL;
    CREATE INDEX documents_age      ON documents(state, updated_ms);
    "#,
    // 3: how far each reader of the audit log (the NATS feed's event outbox) has published.
    r#"
    CREATE TABLE outbox_cursor (
        reader    TEXT    PRIMARY KEY,
        audit_id  INTEGER NOT NULL
    );
    "#,
    // 4: shipping batches. A batch is a job whose labels print in pick-list walking order, in
    // chunks of at most 50 (the marketplace's print batch), with an optional pick list first.
    r#"
    CREATE TABLE batches (
        id          TEXT    PRIMARY KEY,
        job_id      INTEGER NOT NULL REFERENCES jobs(id),
        printer     TEXT    NOT NULL,
        orders      INTEGER NOT NULL,
        chunk_size  INTEGER NOT NULL,
        chunks      INTEGER NOT NULL,
        created_ms  INTEGER NOT NULL
    );

    -- A batch's documents in print order: the pick list (no chunk), then the labels by chunk. A
    -- document submitted before (same idempotency key) is a member too, printed once.
    CREATE TABLE batch_documents (
        batch_id     TEXT    NOT NULL REFERENCES batches(id),
        seq          INTEGER NOT NULL,
        chunk        INTEGER,
        document_id  INTEGER NOT NULL REFERENCES documents(id),
        PRIMARY KEY (batch_id, seq)
    );
    CREATE INDEX batch_documents_document ON batch_documents(document_id);
    "#,
    // 5: the marketplace's clocks and what a carrier handover lists. None of it is buyer data, so
    // it stays after purge: the print deadline (`ship_by`), the handover deadline, when the last
    // byte reached the printer, when a handover scan ticked the parcel off, and the parcel's
    // carrier, handover mode, package n/m and weight. Labels already stored get theirs from content.
    r#"
    ALTER TABLE documents ADD COLUMN ship_by_ms     INTEGER;
    ALTER TABLE documents ADD COLUMN handover_by_ms INTEGER;
    ALTER TABLE documents ADD COLUMN printed_ms     INTEGER;
    ALTER TABLE documents ADD COLUMN handed_over_ms INTEGER;
    ALTER TABLE documents ADD COLUMN carrier        TEXT;
    ALTER TABLE documents ADD COLUMN handover       TEXT CHECK (handover IN ('pickup', 'dropoff'));
    ALTER TABLE documents ADD COLUMN package_index  INTEGER;
    ALTER TABLE documents ADD COLUMN package_count  INTEGER;
    ALTER TABLE documents ADD COLUMN weight_g       INTEGER;
    UPDATE documents SET
        ship_by_ms = CAST(strftime('%s', json_extract(content, '$.ship_by')) AS INTEGER) * 1000,
        carrier = json_extract(content, '$.shipment.carrier'),
        handover = json_extract(content, '$.shipment.handover'),
        package_index = coalesce(json_extract(content, '$.shipment.package.index'), 1),
        package_count = coalesce(json_extract(content, '$.shipment.package.count'), 1),
        weight_g = json_extract(content, '$.shipment.package.weight_g')
        WHERE kind = 'label' AND purged_ms IS NULL;
    UPDATE documents SET printed_ms = (SELECT max(at_ms) FROM audit a WHERE a.document_id = documents.id AND a.to_state = 'sent')
        WHERE kind = 'label' AND state IN ('sent', 'done');
    CREATE INDEX documents_ship_by ON documents(kind, state, ship_by_ms);
    CREATE INDEX documents_printed ON documents(carrier, printed_ms) WHERE printed_ms IS NOT NULL;
    "#,
    // 6: a document may be a marketplace's own label document (`kind = 'document'`). Its bytes are
    // kept once per SHA-256 in `document_files`, so a reprint (which copies `content`, naming the
    // hash) prints the stored bytes and never fetches again. The bytes show the buyer's address:
    // purge drops them with the last document that needs them.
    r#"
    CREATE TABLE documents_v6 (
        id               INTEGER PRIMARY KEY,
        job_id           INTEGER NOT NULL REFERENCES jobs(id),
        idem_key         TEXT    NOT NULL UNIQUE,
        kind             TEXT    NOT NULL CHECK (kind IN ('label', 'picklist', 'test_page', 'document')),
        printer          TEXT    NOT NULL,
        order_id         TEXT,
        tracking_number  TEXT,
        content          TEXT    NOT NULL,
        purged_ms        INTEGER,
        state            TEXT    NOT NULL CHECK (state IN ('queued', 'rendering', 'ready', 'sending', 'sent',
                                                           'done', 'held', 'failed', 'cancelled', 'in_doubt')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        error            TEXT,
        report           TEXT,
        rendered         BLOB,
        rendered_format  TEXT,
        reprint_of       INTEGER REFERENCES documents(id),
        reprint_reason   TEXT,
        created_ms       INTEGER NOT NULL,
        updated_ms       INTEGER NOT NULL,
        ship_by_ms       INTEGER,
        handover_by_ms   INTEGER,
        printed_ms       INTEGER,
        handed_over_ms   INTEGER,
        carrier          TEXT,
        handover         TEXT CHECK (handover IN ('pickup', 'dropoff')),
        package_index    INTEGER,
        package_count    INTEGER,
        weight_g         INTEGER,
        file_sha256      TEXT
    );
    INSERT INTO documents_v6 SELECT id, job_id, idem_key, kind, printer, order_id, tracking_number, content, purged_ms,
        state, attempts, error, report, rendered, rendered_format, reprint_of, reprint_reason, created_ms, updated_ms,
        ship_by_ms, handover_by_ms, printed_ms, handed_over_ms, carrier, handover, package_index, package_count,
        weight_g, NULL
        FROM documents;
    DROP TABLE documents;
    ALTER TABLE documents_v6 RENAME TO documents;
    CREATE INDEX documents_queue    ON documents(printer, state, id);
    CREATE INDEX documents_job      ON documents(job_id);
    CREATE INDEX documents_order    ON documents(order_id);
    CREATE INDEX documents_tracking ON documents(tracking_number) WHERE tracking_number IS NOT NULL;
    CREATE INDEX documents_age      ON documents(state, updated_ms);
    CREATE INDEX documents_ship_by  ON documents(kind, state, ship_by_ms);
    CREATE INDEX documents_printed  ON documents(carrier, printed_ms) WHERE printed_ms IS NOT NULL;

    CREATE TABLE document_files (
        sha256        TEXT    PRIMARY KEY,
        content_type  TEXT    NOT NULL,
        bytes         BLOB    NOT NULL,
        source_host   TEXT,
        created_ms    INTEGER NOT NULL
    );
    "#,
    // 7: scan-to-print. A label of a batch submitted with release "on_scan" is rendered and checked
    // ahead like any other, then waits at `ready` (`scan = 'awaiting'`) until a packer scans its
    // order at the bench. The scan commits `released` (and when, `scanned_ms`) before anything
    // prints; the printer's worker takes a released label (`scan` back to NULL) and sends it.
    r#"
    ALTER TABLE documents ADD COLUMN scan       TEXT CHECK (scan IN ('awaiting', 'released'));
    ALTER TABLE documents ADD COLUMN scanned_ms INTEGER;
    CREATE INDEX documents_scan ON documents(printer, scan) WHERE scan IS NOT NULL;
    "#,
    // 8: printer bytes in a table of their own. A document row is rewritten whole on every state
    // change, and one carrying kilobytes of bytes spills into overflow pages that every later
    // column read (state, ship_by_ms, scan) walks: a batch's reads and commits paid for the bytes
    // again and again. Buyer data (as pixels) now also lives in `rendered`; purge deletes the row.
    r#"
    CREATE TABLE rendered (
        document_id  INTEGER PRIMARY KEY REFERENCES documents(id),
        bytes        BLOB    NOT NULL,
        format       TEXT
    );
    INSERT INTO rendered (document_id, bytes, format)
        SELECT id, rendered, rendered_format FROM documents WHERE rendered IS NOT NULL;
    ALTER TABLE documents DROP COLUMN rendered;
    ALTER TABLE documents DROP COLUMN rendered_format;
    "#,
    // 9: a batch's urgency (its members' most urgent print deadline) stored with it, so taking the
    // next label from the queue does not read every member of its batch again.
    r#"
    ALTER TABLE batches ADD COLUMN urgency_ms INTEGER;
    UPDATE batches SET urgency_ms = (
        SELECT min(x.ship_by_ms) FROM batch_documents m JOIN documents x ON x.id = m.document_id WHERE m.batch_id = batches.id);
    "#,
];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to [`VERSION`] and leaves foreign keys on. They are off while migrations
/// run (a table rebuild drops the old table while others still point at it) and checked before
/// the commit.
pub fn migrate(conn: &mut Connection) -> Result<(), SpoolError> {
    // Outside any transaction: SQLite ignores this pragma inside one.
    conn.pragma_update(None, "foreign_keys", false)?;
    let result = upgrade(conn);
    conn.pragma_update(None, "foreign_keys", true)?;
    result
}

fn upgrade(conn: &mut Connection) -> Result<(), SpoolError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(SpoolError::TooNew { found, known: VERSION });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    let dangling: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
    if dangling > 0 {
        // Dropping the transaction rolls the upgrade back: the old version stays intact.
        return Err(SpoolError::Invalid(format!("schema upgrade to version {VERSION} would leave {dangling} foreign keys pointing nowhere")));
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-1 spool with a label, a reprint of it and audit rows keeps every row and index
    /// through the upgrade, and afterwards takes test pages.
    #[test]
    fn version_1_spool_upgrades_in_place() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO jobs (id, created_ms) VALUES (1, 10);
             INSERT INTO documents (id, job_id, idem_key, kind, printer, order_id, tracking_number, content, state, created_ms, updated_ms)
                 VALUES (1, 1, 'label:A:1', 'label', 'dock', 'A', 'T1', '{}', 'done', 10, 10);
             INSERT INTO documents (id, job_id, idem_key, kind, printer, order_id, tracking_number, content, state, reprint_of, reprint_reason, rendered, created_ms, updated_ms)
                 VALUES (2, 1, 'label:A:1#reprint1', 'label', 'dock', 'A', 'T1', '{}', 'queued', 1, 'smudged', x'0102', 11, 11);
             INSERT INTO audit (at_ms, document_id, action) VALUES (10, 1, 'submit'), (11, 2, 'submit');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, VERSION);
        let row: (String, i64, String, Vec<u8>) = conn
            .query_row("SELECT idem_key, reprint_of, reprint_reason, r.bytes FROM documents JOIN rendered r ON r.document_id = id WHERE id = 2", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!(row, ("label:A:1#reprint1".into(), 1, "smudged".into(), vec![1, 2]));
        let audits: i64 = conn.query_row("SELECT count(*) FROM audit", [], |r| r.get(0)).unwrap();
        assert_eq!(audits, 2);
        let indexes: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'documents' AND name LIKE 'documents_%'", [], |r| r.get(0))
            .unwrap();
        // Five from the rebuild, two for the clocks (migration 5), one for scan-to-print (7).
        assert_eq!(indexes, 8);
        conn.execute(
            "INSERT INTO documents (job_id, idem_key, kind, printer, content, state, created_ms, updated_ms) \
             VALUES (1, 'test_page:dock:1', 'test_page', 'dock', '{}', 'queued', 12, 12)",
            [],
        )
        .unwrap();
        // The self-reference survived the rename: a reprint of a missing document is refused.
        let bad = conn.execute(
            "INSERT INTO documents (job_id, idem_key, kind, printer, content, state, reprint_of, created_ms, updated_ms) \
             VALUES (1, 'x', 'label', 'dock', '{}', 'queued', 99, 12, 12)",
            [],
        );
        assert!(bad.is_err());
        let still_bad = conn.execute(
            "INSERT INTO documents (job_id, idem_key, kind, printer, content, state, created_ms, updated_ms) \
             VALUES (1, 'y', 'poster', 'dock', '{}', 'queued', 12, 12)",
            [],
        );
        assert!(still_bad.is_err(), "the kind CHECK still holds");
    }

    use crate::spool::{NewBatch, NewDocument, Spool, State};

    /// A spool file written by a build that knew only schema 1 opens, migrates in place, keeps its
    /// documents, and takes batches afterwards.
    #[test]
    fn a_version_1_spool_file_migrates_and_keeps_its_documents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO jobs (id, created_ms) VALUES (1, 1000);
                 INSERT INTO documents (id, job_id, idem_key, kind, printer, order_id, tracking_number, content, state,
                                        created_ms, updated_ms)
                 VALUES (1, 1, 'label:OLD-1:1', 'label', 'dock-1', 'OLD-1', 'TRK1', '{}', 'done', 1000, 1000);",
            )
            .unwrap();
        }
        let spool = Spool::open(&path).unwrap();
        let version: i64 = spool.lock().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, VERSION);
        let old = spool.document(1).unwrap();
        assert_eq!((old.order_id.as_deref(), old.state, old.batch.as_deref(), old.chunk), (Some("OLD-1"), State::Done, None, None));
        assert!(spool.integrity_check().unwrap().is_empty());

        let order = |id: &str| {
            crate::order::Order::from_json_value(serde_json::json!({
                "order_id": id,
                "shipment": {"carrier": "J&T Express", "handover": "pickup", "tracking_number": format!("TRK-{id}"), "package": {"index": 1, "count": 1}},
                "sender": {"name": "Acme", "address": {"lines": ["Lot 7"], "city": "Shah Alam", "region": "Selangor", "postal_code": "40200", "country": "MY"}},
                "recipient": {"name": "B", "phone": "+60 12-345 6789", "address": {"lines": ["1 Jalan"], "city": "PJ", "region": "Selangor", "postal_code": "47300", "country": "MY"}},
                "items": [{"sku": "S", "name": "Thing", "qty": 1}],
            }))
            .unwrap()
        };
        let labels: Vec<NewDocument> = (0..3).map(|i| NewDocument::label("dock-1", order(&format!("N{i}")))).collect();
        let batch = NewBatch { id: "B-1".into(), printer: "dock-1".into(), picklist: None, labels, chunk_size: 2, release: Default::default() };
        let submitted = spool.submit_batch(batch.clone()).unwrap();
        assert_eq!(submitted.chunks, 2);
        let chunks: Vec<Option<u32>> = submitted.documents.iter().map(|(c, _)| *c).collect();
        assert_eq!(chunks, [Some(1), Some(1), Some(2)]);
        // The same batch again stores nothing; the same id with other orders is refused.
        assert_eq!(spool.submit_batch(batch.clone()).unwrap().outcome, crate::spool::Outcome::Duplicate);
        let other = NewBatch { labels: vec![NewDocument::label("dock-1", order("X"))], ..batch };
        assert!(matches!(spool.submit_batch(other), Err(SpoolError::Conflict(_))));
        drop(spool);
        // Reopening a migrated file is a no-op.
        let spool = Spool::open(&path).unwrap();
        let stored = spool.batch("B-1").unwrap().unwrap();
        assert_eq!(stored.members.len(), 3);
        assert_eq!(stored.members[2].document.chunk, Some(2));
        assert_eq!(stored.members[2].document.batch.as_deref(), Some("B-1"));
    }
}
