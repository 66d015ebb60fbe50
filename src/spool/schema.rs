//! The spool's tables, versioned with `PRAGMA user_version`.
//!
//! Migrations only ever append: `MIGRATIONS[n]` takes a spool from version `n` to `n + 1`, inside
//! one transaction with the version bump, so a crash mid-upgrade leaves the old version intact.

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
    -- never in a column of its own; purge replaces all three.
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
    // 2: how far each reader of the audit log (the NATS feed's event outbox) has published.
    r#"
    CREATE TABLE outbox_cursor (
        reader    TEXT    PRIMARY KEY,
        audit_id  INTEGER NOT NULL
    );
    "#,
];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

pub fn migrate(conn: &mut Connection) -> Result<(), SpoolError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(SpoolError::TooNew { found, known: VERSION });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}
