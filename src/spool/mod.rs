//! The durable spool: every acknowledged job, in SQLite, from acceptance until paper.
//!
//! A job is one order's label or a batch; it holds documents (a label, a pick list), each with an
//! idempotency key, a printer, and a [`State`]. The rules that make a `kill -9` harmless:
//!
//! * A submit returns only after its transaction committed with `synchronous=FULL`, so whatever the
//!   caller was told is on disk. A batch commits whole or not at all.
//! * Submitting a key that exists returns the existing document: the same label twice prints once.
//! * Rendered printer bytes are stored before sending, so a restart sends what was checked, not a
//!   second rendering of it.
//! * [`Spool::recover`] at startup puts interrupted renders back in the queue and turns interrupted
//!   sends into `in_doubt`: a label is never re-sent unless someone asks for it ([`Spool::reprint`]).
//!
//! Buyer data (recipient name, phone, address) is stored only in a document's content (the order
//! JSON) and, derived from it, the rendered bytes and a held document's compliance report;
//! [`Spool::purge`] replaces all three once a document has been done or cancelled for the retention
//! period. [`Record`], what lists and events see, carries no buyer data.
//!
//! The spool is synchronous and internally locked; async callers use `spawn_blocking`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::order::Order;

mod batch;
mod clock;
mod handover;
mod scan;
mod schema;
mod state;

pub use batch::{BatchMember, BatchStates, BatchSubmitted, NewBatch, StoredBatch};
pub use clock::{Bucket, Due, Parcel};
pub use handover::{HandoverClosed, HandoverParcel, HandoverScope, MissingParcel};
pub use scan::{MAX_CODE as SCAN_MAX_CODE, Release, ScanAnswer, ScanMatch, ScanResult, ScanState};

pub use schema::VERSION as SCHEMA_VERSION;
pub use state::{ALL_STATES, IllegalTransition, State};

/// The most documents one submit may carry (a marketplace shipping batch).
pub const MAX_BATCH: usize = 500;

pub type JobId = i64;
pub type DocId = i64;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("document {id}: {transition}")]
    IllegalTransition { id: DocId, transition: IllegalTransition },
    #[error("no document {0}")]
    NoDocument(DocId),
    /// The request itself is wrong (empty batch, missing reason): the caller's fault, a 4xx.
    #[error("{0}")]
    Invalid(String),
    #[error("document {0}: buyer data was purged after the retention period; it cannot be printed again")]
    Purged(DocId),
    #[error("the spool was written by a newer labeld (schema {found}; this build knows up to {known})")]
    TooNew { found: i64, known: i64 },
    #[error("spool {0} is not in WAL mode (journal_mode = {1}); is it on a network file system?")]
    NoWal(PathBuf, String),
    #[error("document {0}: stored content is unreadable: {1}")]
    Corrupt(DocId, String),
    #[error("spool {0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A batch id already names a different set of documents: a 409 for the caller.
    #[error("{0}")]
    Conflict(String),
    /// An idempotency key already names a marketplace document with other bytes: a 409 for the caller.
    #[error("{0}")]
    KeyConflict(String),
}

impl SpoolError {
    /// The disk under the spool is full: nothing was committed, and the same request succeeds once space
    /// returns.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, SpoolError::Db(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DiskFull)
    }
}

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "label")]
    Label,
    #[serde(rename = "picklist")]
    Picklist,
    /// The printer's calibration page: no order, no buyer data, never checked as an order.
    #[serde(rename = "test_page")]
    TestPage,
    /// A marketplace's own label document (PDF or PNG), printed as made once it proves its tracking barcode.
    #[serde(rename = "document")]
    Document,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Label => "label",
            Kind::Picklist => "picklist",
            Kind::TestPage => "test_page",
            Kind::Document => "document",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "label" => Some(Kind::Label),
            "picklist" => Some(Kind::Picklist),
            "test_page" => Some(Kind::TestPage),
            "document" => Some(Kind::Document),
            _ => None,
        }
    }
}

/// What a document prints: one order's label, a pick list over a batch of orders, the printer's
/// test page (drawn from its profile when printed), or a marketplace's own label document.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Order(Box<Order>),
    Orders(Vec<Order>),
    TestPage,
    Document(Box<MarketDocument>),
}

/// A marketplace label document: the parcel it is for and its file, exactly as received.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketDocument {
    pub order_id: String,
    pub tracking_number: String,
    pub file: DocumentFile,
    /// The pages this document prints: all, or its slips on the slips printer.
    pub part: crate::marketdoc::Part,
}

/// A document's bytes as received (decoded from base64 or fetched once), named by their SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentFile {
    /// `application/pdf` or `image/png`, checked against the bytes before they are stored.
    pub content_type: String,
    pub bytes: std::sync::Arc<Vec<u8>>,
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// The host it was fetched from, when it came as a URL.
    pub source_host: Option<String>,
}

impl DocumentFile {
    pub fn new(content_type: impl Into<String>, bytes: Vec<u8>, source_host: Option<String>) -> DocumentFile {
        let sha256 = sha256_hex(&bytes);
        DocumentFile { content_type: content_type.into(), bytes: std::sync::Arc::new(bytes), sha256, source_host }
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a marketplace document stores as its content: the parcel and the file's name, not its bytes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentRecord {
    order_id: String,
    tracking_number: String,
    content_type: String,
    sha256: String,
    bytes: usize,
    #[serde(default)]
    part: crate::marketdoc::Part,
}

/// What a test page stores as its content: a marker, since the page is drawn from the profile.
const TEST_PAGE_CONTENT: &str = r#"{"test_page":true}"#;

/// A document to submit.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub kind: Kind,
    pub printer: String,
    pub content: Content,
    /// The caller's idempotency key; by default `label:ORDER_ID:PACKAGE_INDEX` for a label and
    /// `picklist:ID,ID,...` for a pick list.
    pub key: Option<String>,
}

impl NewDocument {
    pub fn label(printer: impl Into<String>, order: Order) -> Self {
        NewDocument { kind: Kind::Label, printer: printer.into(), content: Content::Order(Box::new(order)), key: None }
    }

    pub fn picklist(printer: impl Into<String>, orders: Vec<Order>) -> Self {
        NewDocument { kind: Kind::Picklist, printer: printer.into(), content: Content::Orders(orders), key: None }
    }

    /// A marketplace label document for one parcel.
    pub fn document(printer: impl Into<String>, document: MarketDocument) -> Self {
        NewDocument { kind: Kind::Document, printer: printer.into(), content: Content::Document(Box::new(document)), key: None }
    }

    /// A test page for `printer`. Every one is new (its key is unique) unless the caller gives a key.
    pub fn test_page(printer: impl Into<String>) -> Self {
        NewDocument { kind: Kind::TestPage, printer: printer.into(), content: Content::TestPage, key: None }
    }

    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The caller's `key` for the order at `index` of a multi-order job: `KEY:index`, so sending the
    /// same list again is a duplicate document by document.
    pub fn with_item_key(self, key: &str, index: usize) -> Self {
        self.with_key(format!("{key}:{index}"))
    }

    /// The order id and tracking number the document is known by in events, logs and listings: a
    /// label's; a pick list and a test page have none.
    pub fn ids(&self) -> (Option<String>, Option<String>) {
        match (&self.kind, &self.content) {
            (Kind::Label, Content::Order(o)) => (Some(o.order_id.clone()), Some(o.shipment.tracking_number.clone())),
            (Kind::Document, Content::Document(d)) => (Some(d.order_id.clone()), Some(d.tracking_number.clone())),
            _ => (None, None),
        }
    }

    fn idempotency_key(&self) -> String {
        if let Some(k) = &self.key {
            return k.clone();
        }
        match &self.content {
            Content::Order(o) => format!("{}:{}:{}", self.kind.as_str(), o.order_id, o.shipment.package.index),
            Content::Orders(os) => {
                let ids: Vec<&str> = os.iter().map(|o| o.order_id.as_str()).collect();
                format!("{}:{}", self.kind.as_str(), ids.join(","))
            }
            // Asking for a test page twice means two pages: a key no other submit has.
            Content::TestPage => {
                static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                format!("test_page:{}:{}-{n}", self.printer, OffsetDateTime::now_utc().unix_timestamp_nanos())
            }
            Content::Document(d) => format!("{}:{}:{}", self.kind.as_str(), d.order_id, d.tracking_number),
        }
    }
}

/// The answer to a submit: the job that holds the new documents and one admission per document,
/// in the order submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The new job, or for an all-duplicate submit, the job of the first document.
    pub job: JobId,
    pub documents: Vec<Admission>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub document: DocId,
    pub job: JobId,
    pub key: String,
    pub outcome: Outcome,
    pub state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Stored now.
    New,
    /// The key existed: nothing stored, the first document is returned.
    Duplicate,
    /// The key existed on a held document and the order changed (the caller fixed it): the
    /// document now holds the new order and is queued again.
    Resubmitted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::New => "new",
            Outcome::Duplicate => "duplicate",
            Outcome::Resubmitted => "resubmitted",
        }
    }
}

impl Record {
    /// Whether reaching `state` now makes this label late: printed after its `ship_by`.
    pub fn late_if(&self, state: State) -> bool {
        match (state, self.printed_at, self.ship_by) {
            (State::Sent | State::Done, Some(printed), Some(ship_by)) => printed > ship_by,
            (State::Sent | State::Done, None, Some(ship_by)) => OffsetDateTime::now_utc() > ship_by,
            _ => false,
        }
    }
}

impl Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A document's record in the spool: its ids, state and clocks, no buyer data. Lists and events
/// read it; the API shows it as `server::api::Document`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: DocId,
    pub job: JobId,
    pub key: String,
    pub kind: Kind,
    pub printer: String,
    pub order_id: Option<String>,
    pub tracking_number: Option<String>,
    pub state: State,
    /// Sends started.
    pub attempts: u32,
    pub error: Option<String>,
    /// The compliance report while held (JSON, as the rules wrote it).
    pub report: Option<serde_json::Value>,
    pub reprint_of: Option<DocId>,
    pub reprint_reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Buyer data was removed after the retention period.
    pub purged: bool,
    /// Size of the stored printer bytes, once rendered.
    pub rendered_bytes: Option<i64>,
    /// The shipping batch this document was submitted in, if any.
    pub batch: Option<String>,
    /// Its print batch (1-based) within that batch: at most 50 labels each. None for a pick list.
    pub chunk: Option<u32>,
    /// A label's print deadline: the order's `ship_by`, else `created_at` + `[deadlines] print_within`.
    pub ship_by: Option<OffsetDateTime>,
    /// When its last byte reached the printer (the first time).
    pub printed_at: Option<OffsetDateTime>,
    /// Printed after its `ship_by`: it still printed, and says so.
    pub late: bool,
    /// When a carrier handover scan ticked the parcel off.
    pub handed_over_at: Option<OffsetDateTime>,
    /// A scan-to-print label: `awaiting` its packer's scan (rendered, checked, not sent), or
    /// `released` by a scan and about to print. None for every other document.
    pub scan: Option<ScanState>,
    /// When a packer's scan released it.
    pub scanned_at: Option<OffsetDateTime>,
}

/// A document's content as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredContent {
    Order(Box<Order>),
    Orders(Vec<Order>),
    /// The printer's test page: nothing stored but the kind.
    TestPage,
    /// A marketplace document with its stored bytes (checked against their SHA-256 when read).
    Document(Box<MarketDocument>),
    /// After the retention period: only what identifies the parcel.
    Purged { order_id: Option<String>, tracking_number: Option<String> },
}

/// Printer bytes stored at `ready`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    /// What the bytes are (`zpl`, `tspl`, ...), as the encoder named it.
    pub format: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub created_at: OffsetDateTime,
    pub documents: Vec<Record>,
}

/// Which documents to list. Newest first; `before` pages backwards by id.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub printer: Option<String>,
    /// Any of these states; empty means all.
    pub states: Vec<State>,
    pub kind: Option<Kind>,
    pub job: Option<JobId>,
    pub order_id: Option<String>,
    pub tracking_number: Option<String>,
    pub before: Option<DocId>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// What [`Spool::recover`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// Were rendering: back in the queue (nothing had been sent).
    pub requeued: Vec<DocId>,
    /// Were sending: may or may not have printed; an operator decides.
    pub in_doubt: Vec<DocId>,
    /// Were sent (every byte had reached the printer): done.
    pub completed: Vec<DocId>,
}

/// One line of a document's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub document: DocId,
    pub action: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub detail: Option<String>,
}

/// A document's state change as the audit log recorded it, for outboxes that tell someone else
/// (the NATS feed's job events). No buyer data: the held report is read by the caller for rule ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The audit row: changes come in this order, and a reader's cursor is the last one it handled.
    pub seq: i64,
    pub document: DocId,
    pub job: JobId,
    pub printer: String,
    pub order_id: Option<String>,
    pub tracking_number: Option<String>,
    /// `submit`, `claim`, `held`, `done`, `recover`, ...
    pub action: String,
    pub to: State,
    pub detail: Option<String>,
    /// The compliance report, when the change is to `held` (JSON as the rules wrote it).
    pub report: Option<String>,
    /// A print (`sent`, `done`) after the label's `ship_by`.
    pub late: bool,
}

/// The SQLite spool. Cheap to share behind an `Arc`.
pub struct Spool {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// How a label's deadlines follow from its order, stored with it at submit.
    deadlines: Mutex<crate::deadlines::Deadlines>,
}

const DOC_COLUMNS: &str = "id, job_id, idem_key, kind, printer, order_id, tracking_number, state, attempts, error, \
     report, reprint_of, reprint_reason, created_ms, updated_ms, purged_ms IS NOT NULL, (SELECT length(bytes) FROM rendered WHERE document_id = documents.id), \
     (SELECT batch_id FROM batch_documents b WHERE b.document_id = documents.id ORDER BY b.rowid LIMIT 1), \
     (SELECT chunk FROM batch_documents b WHERE b.document_id = documents.id ORDER BY b.rowid LIMIT 1), \
     ship_by_ms, printed_ms, handed_over_ms, scan, scanned_ms";

impl Spool {
    /// Opens (creating if needed) the spool at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Spool, SpoolError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| SpoolError::Io(dir.to_path_buf(), e))?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(SpoolError::NoWal(path.to_path_buf(), mode));
        }
        // FULL: a commit is on disk when it returns, also across power loss, not only process death.
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Purged buyer data is overwritten in the file, not just unlinked from the b-tree.
        conn.pragma_update(None, "secure_delete", true)?;
        // Also turns foreign keys on (off only while a migration runs).
        schema::migrate(&mut conn)?;
        Ok(Spool { conn: Mutex::new(conn), path: path.to_path_buf(), deadlines: Mutex::new(Default::default()) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `[deadlines]` from the config: applies to documents submitted from now on.
    pub fn set_deadlines(&self, deadlines: crate::deadlines::Deadlines) {
        *self.deadlines.lock().unwrap_or_else(|p| p.into_inner()) = deadlines;
    }

    pub fn deadlines(&self) -> crate::deadlines::Deadlines {
        *self.deadlines.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic elsewhere while holding the lock cannot leave a half transaction: rusqlite rolls
        // back on drop. The connection itself stays usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction) -> Result<T, SpoolError>) -> Result<T, SpoolError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Stores documents as one job, atomically. Duplicate keys return the existing documents.
    pub fn submit(&self, documents: Vec<NewDocument>) -> Result<Submitted, SpoolError> {
        if documents.is_empty() {
            return Err(SpoolError::Invalid("a job needs at least one document".into()));
        }
        if documents.len() > MAX_BATCH {
            return Err(SpoolError::Invalid(format!(
                "a batch holds at most {MAX_BATCH} documents, this one has {}",
                documents.len()
            )));
        }
        let deadlines = self.deadlines();
        let mut prepared = Vec::with_capacity(documents.len());
        for (i, d) in documents.iter().enumerate() {
            prepared.push(prepare(i, d, &deadlines)?);
        }
        let now = now_ms();
        self.write(|tx| submit_in(tx, &prepared, now))
    }

    /// Claims the most urgent queued document for `printer` (queued → rendering): see
    /// [`clock::QUEUE_ORDER`].
    pub fn claim_next(&self, printer: &str) -> Result<Option<Record>, SpoolError> {
        let now = now_ms();
        let id = self.write(|tx| {
            let id: Option<DocId> = tx
                .prepare_cached(clock::QUEUE_ORDER)?
                .query_row([printer], |r| r.get(0))
                .optional()?;
            if let Some(id) = id {
                transition(tx, id, State::Rendering, "claim", None, now)?;
            }
            Ok(id)
        })?;
        id.map(|id| self.document(id)).transpose()
    }

    /// Claims one document by id (queued → rendering).
    pub fn claim(&self, id: DocId) -> Result<(), SpoolError> {
        self.change(id, State::Rendering, "claim", None)
    }

    /// Stores the printer bytes (rendering → ready). They are what will be sent, also after a restart.
    pub fn mark_ready(&self, id: DocId, bytes: &[u8], format: &str) -> Result<(), SpoolError> {
        let now = now_ms();
        self.write(|tx| {
            transition(tx, id, State::Ready, "rendered", Some(&format!("{} bytes of {format}", bytes.len())), now)?;
            store_rendered(tx, id, bytes, format)?;
            tx.execute("UPDATE documents SET error = NULL WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// For an idle printer: stores the bytes and starts sending in one commit (rendering → ready →
    /// sending), one fsync less between acceptance and the first byte. A crash before the commit
    /// leaves it rendering (re-queued, nothing sent); after, it is sending (in doubt), as with the
    /// two separate calls.
    pub fn mark_ready_and_sending(&self, id: DocId, bytes: &[u8], format: &str) -> Result<(), SpoolError> {
        let now = now_ms();
        self.write(|tx| {
            transition(tx, id, State::Ready, "rendered", Some(&format!("{} bytes of {format}", bytes.len())), now)?;
            transition(tx, id, State::Sending, "sending", None, now)?;
            store_rendered(tx, id, bytes, format)?;
            tx.prepare_cached("UPDATE documents SET error = NULL, attempts = attempts + 1 WHERE id = ?1")?.execute([id])?;
            Ok(())
        })
    }

    /// Refused by a compliance rule (rendering → held); `report` says why.
    pub fn mark_held(&self, id: DocId, report: &serde_json::Value) -> Result<(), SpoolError> {
        let now = now_ms();
        // The refused text can be buyer data; what is stored here is listed and published later.
        let mut report = report.clone();
        crate::comply::Report::strip_text(&mut report);
        self.write(|tx| {
            transition(tx, id, State::Held, "held", None, now)?;
            tx.execute("UPDATE documents SET report = ?2 WHERE id = ?1", params![id, report.to_string()])?;
            Ok(())
        })
    }

    /// The first byte is about to go out (ready → sending). Counts an attempt.
    pub fn mark_sending(&self, id: DocId) -> Result<(), SpoolError> {
        let now = now_ms();
        self.write(|tx| {
            transition(tx, id, State::Sending, "sending", None, now)?;
            tx.execute("UPDATE documents SET attempts = attempts + 1 WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// The link failed before any byte was written (sending → ready): safe to try again.
    /// `error` must not contain buyer data.
    pub fn unsend(&self, id: DocId, error: &str) -> Result<(), SpoolError> {
        let now = now_ms();
        self.write(|tx| {
            let has_bytes: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM rendered WHERE document_id = ?1) FROM documents WHERE id = ?1", [id], |r| r.get(0))
                    .optional()?
                    .ok_or(SpoolError::NoDocument(id))?;
            if !has_bytes {
                return Err(SpoolError::Invalid(format!("document {id} has no rendered bytes to send again")));
            }
            transition(tx, id, State::Ready, "unsend", Some(error), now)?;
            tx.execute("UPDATE documents SET error = ?2 WHERE id = ?1", params![id, error])?;
            Ok(())
        })
    }

    /// Every byte reached the printer (sending → sent).
    pub fn mark_sent(&self, id: DocId) -> Result<(), SpoolError> {
        self.change(id, State::Sent, "sent", None)
    }

    /// The printer confirmed it (sent → done), or an operator confirmed an in-doubt label printed.
    pub fn mark_done(&self, id: DocId) -> Result<(), SpoolError> {
        self.change(id, State::Done, "done", None)
    }

    /// Could not be rendered, or refused by the link before the first byte. `error` must not
    /// contain buyer data.
    pub fn mark_failed(&self, id: DocId, error: &str) -> Result<(), SpoolError> {
        self.change(id, State::Failed, "failed", Some(error))
    }

    /// The link broke mid-send or the printer faulted right after (sending|sent → in_doubt).
    pub fn mark_in_doubt(&self, id: DocId, why: &str) -> Result<(), SpoolError> {
        self.change(id, State::InDoubt, "in_doubt", Some(why))
    }

    /// Withdraws a document that has not started sending.
    pub fn cancel(&self, id: DocId) -> Result<(), SpoolError> {
        self.change(id, State::Cancelled, "cancel", None)
    }

    /// Puts a document back in the queue: a worker lets go of a claimed one, or an operator
    /// releases a held or failed one. Stored bytes are dropped so it is rendered afresh.
    pub fn requeue(&self, id: DocId) -> Result<(), SpoolError> {
        let now = now_ms();
        self.write(|tx| {
            transition(tx, id, State::Queued, "requeue", None, now)?;
            drop_rendered(tx, id)?;
            Ok(())
        })
    }

    fn change(&self, id: DocId, to: State, action: &str, detail: Option<&str>) -> Result<(), SpoolError> {
        let now = now_ms();
        self.write(|tx| {
            transition(tx, id, to, action, detail, now)?;
            if matches!(to, State::Sent | State::Done) {
                // The print clock stops at the first time every byte reached the printer.
                tx.prepare_cached("UPDATE documents SET printed_ms = coalesce(printed_ms, ?2) WHERE id = ?1")?.execute(params![id, now])?;
            }
            if let Some(d) = detail.filter(|_| matches!(to, State::Failed | State::InDoubt)) {
                tx.execute("UPDATE documents SET error = ?2 WHERE id = ?1", params![id, d])?;
            }
            Ok(())
        })
    }

    /// Prints a document again, explicitly: a new document in a new job, linked to the original,
    /// with the reason in the audit log. The original keeps its state. `printer` defaults to the
    /// original's.
    pub fn reprint(&self, id: DocId, reason: &str, printer: Option<&str>) -> Result<Record, SpoolError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(SpoolError::Invalid("a reprint needs a reason".into()));
        }
        let now = now_ms();
        let new_id = self.write(|tx| reprint_in(tx, id, reason, printer, now))?;
        self.document(new_id)
    }

    /// An operator's answer to an in-doubt label, audited with the reason: `Printed` makes it done;
    /// `NotPrinted` cancels it and queues one reprint, in the same commit. A document that is not in
    /// doubt (already resolved, or never was) is an illegal transition (409 over HTTP).
    pub fn resolve(&self, id: DocId, outcome: Resolution, reason: &str) -> Result<Resolved, SpoolError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(SpoolError::Invalid("resolving a label in doubt needs a reason (what the operator saw)".into()));
        }
        let now = now_ms();
        let reprint = self.write(|tx| {
            let state: Option<String> = tx.query_row("SELECT state FROM documents WHERE id = ?1", [id], |r| r.get(0)).optional()?;
            let state = parse_state(&state.ok_or(SpoolError::NoDocument(id))?)?;
            let to = match outcome {
                Resolution::Printed => State::Done,
                Resolution::NotPrinted => State::Cancelled,
            };
            // Only a label in doubt is resolved: a second answer finds it settled and prints nothing.
            if state != State::InDoubt {
                return Err(SpoolError::IllegalTransition { id, transition: IllegalTransition { from: state, to } });
            }
            match outcome {
                Resolution::Printed => {
                    transition(tx, id, State::Done, "resolve", Some(&format!("came out: {reason}")), now)?;
                    Ok(None)
                }
                Resolution::NotPrinted => {
                    let copy = reprint_in(tx, id, &format!("did not come out: {reason}"), None, now)?;
                    let detail = format!("did not come out, reprinted as document {copy}: {reason}");
                    transition(tx, id, State::Cancelled, "resolve", Some(&detail), now)?;
                    Ok(Some(copy))
                }
            }
        })?;
        Ok(Resolved { document: self.document(id)?, reprint: reprint.map(|r| self.document(r)).transpose()? })
    }

    /// Startup, before any worker runs: renders interrupted by a crash go back to the queue,
    /// interrupted sends become in_doubt (never re-sent silently), and sent documents are done.
    ///
    /// `sent` means every byte reached the printer (the transport wrote and flushed all of them);
    /// a thermal printer prints what it received, also after a paper change, so it is done. A
    /// label whose fate is unknown is `sending`, never `sent`.
    pub fn recover(&self) -> Result<Recovery, SpoolError> {
        let now = now_ms();
        self.write(|tx| {
            let mut out = Recovery::default();
            let moves = [
                (State::Rendering, State::Queued, "restart: rendering was interrupted, nothing was sent"),
                (State::Sending, State::InDoubt, "restart: the daemon stopped while sending; it may have printed"),
                (State::Sent, State::Done, "restart: every byte had reached the printer"),
            ];
            for (from, to, why) in moves {
                let ids: Vec<DocId> = tx
                    .prepare("SELECT id FROM documents WHERE state = ?1 ORDER BY id")?
                    .query_map([from.as_str()], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                for &id in &ids {
                    transition(tx, id, to, "recover", Some(why), now)?;
                    if to == State::InDoubt {
                        tx.execute("UPDATE documents SET error = ?2 WHERE id = ?1", params![id, why])?;
                    }
                }
                match from {
                    State::Rendering => out.requeued = ids,
                    State::Sending => out.in_doubt = ids,
                    _ => out.completed = ids,
                }
            }
            Ok(out)
        })
    }

    /// Replaces buyer data of documents done or cancelled before `now - retention` with a stub
    /// holding the order id and tracking number; drops their printer bytes and reports. Returns
    /// how many were purged. Held, failed and in-doubt documents keep their data until an
    /// operator resolves them.
    pub fn purge(&self, now: OffsetDateTime, retention: Duration) -> Result<usize, SpoolError> {
        let now_ms = to_ms(now);
        let cutoff = now_ms - retention.as_millis() as i64;
        let n = self.write(|tx| {
            let rows: Vec<(DocId, Option<String>, Option<String>)> = tx
                .prepare(
                    "SELECT id, order_id, tracking_number FROM documents \
                     WHERE state IN ('done', 'cancelled') AND purged_ms IS NULL AND updated_ms < ?1",
                )?
                .query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            for (id, order_id, tracking) in &rows {
                let stub = serde_json::json!({ "purged": true, "order_id": order_id, "tracking_number": tracking });
                tx.execute(
                    "UPDATE documents SET content = ?2, report = NULL, purged_ms = ?3 WHERE id = ?1",
                    params![id, stub.to_string(), now_ms],
                )?;
                drop_rendered(tx, *id)?;
                audit(tx, *id, "purge", None, None, None, now_ms)?;
            }
            // A marketplace document's file shows the buyer's address: it goes with the last document
            // that may still print it.
            tx.execute(
                "DELETE FROM document_files WHERE sha256 NOT IN \
                 (SELECT file_sha256 FROM documents WHERE file_sha256 IS NOT NULL AND purged_ms IS NULL)",
                [],
            )?;
            Ok(rows.len())
        })?;
        if n > 0 {
            // Old page images in the WAL still hold the data until a checkpoint overwrites the
            // database pages (zeroed by secure_delete) and the log is truncated.
            self.lock().query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(n)
    }

    /// `PRAGMA integrity_check`, foreign keys and the spool's own invariants; empty means healthy.
    pub fn integrity_check(&self) -> Result<Vec<String>, SpoolError> {
        let conn = self.lock();
        let mut problems: Vec<String> = conn
            .prepare("PRAGMA integrity_check")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|s| s != "ok")
            .collect();
        let fk: Vec<String> = conn
            .prepare("PRAGMA foreign_key_check")?
            .query_map([], |r| Ok(format!("foreign key: {} row {} points nowhere", r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<_, _>>()?;
        problems.extend(fk);
        let invariants = [
            ("SELECT id FROM documents WHERE state IN ('ready', 'sending') AND purged_ms IS NULL \
              AND NOT EXISTS (SELECT 1 FROM rendered WHERE document_id = documents.id)", "is ready or sending without printer bytes"),
            ("SELECT id FROM documents WHERE state = 'held' AND report IS NULL", "is held without a report"),
            ("SELECT id FROM documents WHERE purged_ms IS NOT NULL AND state NOT IN ('done', 'cancelled')", "was purged while still active"),
            ("SELECT id FROM documents WHERE reprint_of IS NOT NULL AND reprint_reason IS NULL", "is a reprint without a reason"),
        ];
        for (sql, what) in invariants {
            let ids: Vec<DocId> = conn.prepare(sql)?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            problems.extend(ids.into_iter().map(|id| format!("document {id} {what}")));
        }
        Ok(problems)
    }

    pub fn document(&self, id: DocId) -> Result<Record, SpoolError> {
        let conn = self.lock();
        conn.prepare_cached(&format!("SELECT {DOC_COLUMNS} FROM documents WHERE id = ?1"))?
            .query_row([id], document_from_row)
            .optional()?
            .ok_or(SpoolError::NoDocument(id))?
    }

    pub fn job(&self, id: JobId) -> Result<Option<Job>, SpoolError> {
        let conn = self.lock();
        let created: Option<i64> = conn.query_row("SELECT created_ms FROM jobs WHERE id = ?1", [id], |r| r.get(0)).optional()?;
        let Some(created) = created else { return Ok(None) };
        let documents = conn
            .prepare_cached(&format!("SELECT {DOC_COLUMNS} FROM documents WHERE job_id = ?1 ORDER BY id"))?
            .query_map([id], document_from_row)?
            .collect::<Result<Result<Vec<_>, _>, _>>()??;
        Ok(Some(Job { id, created_at: from_ms(created), documents }))
    }

    pub fn list(&self, filter: &Filter) -> Result<Vec<Record>, SpoolError> {
        let mut sql = format!("SELECT {DOC_COLUMNS} FROM documents WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(p) = &filter.printer {
            arg(&mut sql, " AND printer = ?", p.clone().into());
        }
        if let Some(k) = filter.kind {
            arg(&mut sql, " AND kind = ?", k.as_str().to_string().into());
        }
        if let Some(j) = filter.job {
            arg(&mut sql, " AND job_id = ?", j.into());
        }
        if let Some(o) = &filter.order_id {
            arg(&mut sql, " AND order_id = ?", o.clone().into());
        }
        if let Some(t) = &filter.tracking_number {
            arg(&mut sql, " AND tracking_number = ?", t.clone().into());
        }
        if let Some(b) = filter.before {
            arg(&mut sql, " AND id < ?", b.into());
        }
        if !filter.states.is_empty() {
            let names: Vec<String> = filter.states.iter().map(|s| format!("'{}'", s.as_str())).collect();
            sql.push_str(&format!(" AND state IN ({})", names.join(", ")));
        }
        let limit = filter.limit.unwrap_or(100).min(1000);
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
        let conn = self.lock();
        let rows = conn
            .prepare(&sql)?
            .query_map(rusqlite::params_from_iter(args), document_from_row)?
            .collect::<Result<Result<Vec<_>, _>, _>>()??;
        Ok(rows)
    }

    /// Documents per printer and state, for metrics and the printers page.
    pub fn counts(&self) -> Result<Vec<(String, State, u64)>, SpoolError> {
        let conn = self.lock();
        let rows: Vec<(String, String, i64)> = conn
            .prepare("SELECT printer, state, count(*) FROM documents GROUP BY printer, state ORDER BY printer, state")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        rows.into_iter().map(|(p, s, n)| Ok((p, parse_state(&s)?, n as u64))).collect()
    }

    /// The order(s) a document prints: buyer data, for the renderer only.
    pub fn content(&self, id: DocId) -> Result<StoredContent, SpoolError> {
        let conn = self.lock();
        let (content, purged, kind): (String, bool, String) = conn
            .prepare_cached("SELECT content, purged_ms IS NOT NULL, kind FROM documents WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?
            .ok_or(SpoolError::NoDocument(id))?;
        let corrupt = |e: &dyn std::fmt::Display| SpoolError::Corrupt(id, e.to_string());
        if kind == Kind::TestPage.as_str() {
            return Ok(StoredContent::TestPage);
        }
        if purged {
            let v: serde_json::Value = serde_json::from_str(&content).map_err(|e| corrupt(&e))?;
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
            return Ok(StoredContent::Purged { order_id: field("order_id"), tracking_number: field("tracking_number") });
        }
        if kind == Kind::Document.as_str() {
            let record: DocumentRecord = serde_json::from_str(&content).map_err(|e| corrupt(&e))?;
            let (bytes, host): (Vec<u8>, Option<String>) = conn
                .prepare_cached("SELECT bytes, source_host FROM document_files WHERE sha256 = ?1")?
                .query_row([&record.sha256], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| corrupt(&format!("the document file {} is missing", record.sha256)))?;
            // What prints is what was accepted, bit for bit.
            if sha256_hex(&bytes) != record.sha256 {
                return Err(corrupt(&format!("the stored document file no longer matches its SHA-256 {}", record.sha256)));
            }
            let file = DocumentFile { content_type: record.content_type, bytes: std::sync::Arc::new(bytes), sha256: record.sha256, source_host: host };
            return Ok(StoredContent::Document(Box::new(MarketDocument { order_id: record.order_id, tracking_number: record.tracking_number, file, part: record.part })));
        }
        if content.trim_start().starts_with('[') {
            let orders: Vec<Order> = serde_json::from_str(&content).map_err(|e| corrupt(&e))?;
            Ok(StoredContent::Orders(orders))
        } else {
            let order = Order::from_json_bytes(content.as_bytes()).map_err(|e| corrupt(&e))?;
            Ok(StoredContent::Order(Box::new(order)))
        }
    }

    /// The stored printer bytes, if rendered and not purged.
    pub fn rendered(&self, id: DocId) -> Result<Option<Rendered>, SpoolError> {
        let conn = self.lock();
        let row: Option<(Option<Vec<u8>>, Option<String>)> = conn
            .prepare_cached("SELECT r.bytes, r.format FROM documents d LEFT JOIN rendered r ON r.document_id = d.id WHERE d.id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match row {
            None => Err(SpoolError::NoDocument(id)),
            Some((Some(bytes), format)) => Ok(Some(Rendered { bytes, format: format.unwrap_or_default() })),
            Some((None, _)) => Ok(None),
        }
    }

    /// A document's history, oldest first.
    pub fn history(&self, id: DocId) -> Result<Vec<AuditEntry>, SpoolError> {
        let conn = self.lock();
        let rows = conn
            .prepare_cached("SELECT id, at_ms, document_id, action, from_state, to_state, detail FROM audit WHERE document_id = ?1 ORDER BY id")?
            .query_map([id], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: from_ms(r.get(1)?),
                    document: r.get(2)?,
                    action: r.get(3)?,
                    from: r.get(4)?,
                    to: r.get(5)?,
                    detail: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Where `reader` has got to in the audit log. A reader seen for the first time starts at the
    /// end: it tells about changes from now on, not about the spool's whole past.
    pub fn outbox_cursor(&self, reader: &str) -> Result<i64, SpoolError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO outbox_cursor (reader, audit_id) SELECT ?1, coalesce(max(id), 0) FROM audit",
                [reader],
            )?;
            Ok(tx.query_row("SELECT audit_id FROM outbox_cursor WHERE reader = ?1", [reader], |r| r.get(0))?)
        })
    }

    /// Records that `reader` has handled every change up to `seq`, durably (a restart resumes after it).
    pub fn advance_outbox(&self, reader: &str, seq: i64) -> Result<(), SpoolError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO outbox_cursor (reader, audit_id) VALUES (?1, ?2) \
                 ON CONFLICT (reader) DO UPDATE SET audit_id = max(audit_id, excluded.audit_id)",
                params![reader, seq],
            )?;
            Ok(())
        })
    }

    /// State changes after audit row `after`, oldest first, at most `limit`.
    pub fn changes_after(&self, after: i64, limit: usize) -> Result<Vec<Change>, SpoolError> {
        let conn = self.lock();
        let rows = conn
            .prepare_cached(
                "SELECT a.id, d.id, d.job_id, d.printer, d.order_id, d.tracking_number, a.action, a.to_state, a.detail, \
                 CASE WHEN a.to_state = 'held' THEN d.report END, \
                 a.to_state IN ('sent', 'done') AND coalesce(d.printed_ms > d.ship_by_ms, 0) \
                 FROM audit a JOIN documents d ON d.id = a.document_id \
                 WHERE a.id > ?1 AND a.to_state IS NOT NULL ORDER BY a.id LIMIT ?2",
            )?
            .query_map(params![after, limit as i64], |r| {
                let to: String = r.get(7)?;
                let change = Change {
                    seq: r.get(0)?,
                    document: r.get(1)?,
                    job: r.get(2)?,
                    printer: r.get(3)?,
                    order_id: r.get(4)?,
                    tracking_number: r.get(5)?,
                    action: r.get(6)?,
                    to: State::Queued,
                    detail: r.get(8)?,
                    report: r.get(9)?,
                    late: r.get(10)?,
                };
                Ok(parse_state(&to).map(|to| Change { to, ..change }))
            })?
            .collect::<Result<Result<Vec<_>, _>, _>>()??;
        Ok(rows)
    }

    /// Another order's label or marketplace document with this tracking number, if any (cancelled
    /// ones do not count).
    /// The compliance rule `duplicate_tracking_number` asks this.
    /// Every order that carries one of `trackings` on a label or document not cancelled, oldest first:
    /// the duplicate check for a whole batch in one query per 500 numbers.
    pub fn orders_by_tracking(&self, trackings: &[&str]) -> Result<HashMap<String, Vec<String>>, SpoolError> {
        let mut unique: Vec<&str> = trackings.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let conn = self.lock();
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in unique.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT tracking_number, order_id FROM documents WHERE tracking_number IN ({marks}) \
                 AND order_id IS NOT NULL AND kind IN ('label', 'document') AND state <> 'cancelled' ORDER BY id"
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(chunk.iter()), |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (tracking, order_id) = row?;
                let owners = out.entry(tracking).or_default();
                if !owners.contains(&order_id) {
                    owners.push(order_id);
                }
            }
        }
        Ok(out)
    }

    pub fn find_other_order_with(&self, tracking: &str, order_id: &str) -> Result<Option<String>, SpoolError> {
        let conn = self.lock();
        Ok(conn
            .prepare_cached(
                "SELECT order_id FROM documents WHERE tracking_number = ?1 AND order_id <> ?2 \
                 AND kind IN ('label', 'document') AND state <> 'cancelled' ORDER BY id LIMIT 1",
            )?
            .query_row([tracking, order_id], |r| r.get(0))
            .optional()?)
    }
}

/// What an operator saw of a label in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// It came out: the label is done.
    Printed,
    /// It did not come out: it is printed again, once.
    NotPrinted,
}

/// A resolved document and, for "did not come out", its reprint.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub document: Record,
    pub reprint: Option<Record>,
}

/// Copies document `id` as a new queued document in a new job, linked to it, with the reason audited.
fn reprint_in(tx: &Transaction, id: DocId, reason: &str, printer: Option<&str>, now: i64) -> Result<DocId, SpoolError> {
    let row: Option<ReprintSource> = tx
        .query_row(
            "SELECT state, idem_key, kind, order_id, tracking_number, printer, purged_ms IS NOT NULL \
             FROM documents WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .optional()?;
    let Some((state, key, kind, order_id, tracking, original_printer, purged)) = row else {
        return Err(SpoolError::NoDocument(id));
    };
    let state = parse_state(&state)?;
    if purged {
        return Err(SpoolError::Purged(id));
    }
    if !state.can_reprint() {
        return Err(SpoolError::Invalid(format!(
            "document {id} is {state} and will still print; cancel it first or wait for it"
        )));
    }
    let printer = printer.unwrap_or(&original_printer);
    let copies: i64 = tx.query_row("SELECT count(*) FROM documents WHERE reprint_of = ?1", [id], |r| r.get(0))?;
    let new_key = format!("{key}#reprint{}", copies + 1);
    tx.execute("INSERT INTO jobs (created_ms) VALUES (?1)", [now])?;
    let job = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO documents (job_id, idem_key, kind, printer, order_id, tracking_number, content, state, \
         reprint_of, reprint_reason, created_ms, updated_ms, ship_by_ms, handover_by_ms, carrier, handover, \
         package_index, package_count, weight_g, file_sha256) \
         SELECT ?2, ?3, ?4, ?5, ?6, ?7, content, 'queued', ?1, ?8, ?9, ?9, ship_by_ms, handover_by_ms, carrier, \
         handover, package_index, package_count, weight_g, file_sha256 FROM documents WHERE id = ?1",
        params![id, job, new_key, kind, printer, order_id, tracking, reason, now],
    )?;
    let new_id = tx.last_insert_rowid();
    let detail = format!("reprinted as document {new_id}: {reason}");
    audit(tx, id, "reprint", Some(state), None, Some(&detail), now)?;
    audit(tx, new_id, "submit", None, Some(State::Queued), Some(&format!("reprint of document {id}: {reason}")), now)?;
    Ok(new_id)
}

/// The compliance rule `duplicate_tracking_number` asks the spool. A database error is passed on, and
/// the rule holds the label with it (fail closed).
impl crate::comply::DuplicateTracking for Spool {
    fn other_order_with(&self, tracking: &str, order_id: &str) -> Result<Option<String>, String> {
        self.find_other_order_with(tracking, order_id).map_err(|e| format!("spool: {e}"))
    }

    fn others_for(&self, pairs: &[(&str, &str)]) -> Vec<Result<Option<String>, String>> {
        let trackings: Vec<&str> = pairs.iter().map(|(t, _)| *t).collect();
        match self.orders_by_tracking(&trackings) {
            Ok(owners) => pairs
                .iter()
                .map(|(t, o)| Ok(owners.get(*t).and_then(|ids| ids.iter().find(|id| id.as_str() != *o)).cloned()))
                .collect(),
            Err(e) => pairs.iter().map(|_| Err(format!("spool: {e}"))).collect(),
        }
    }
}

/// What a reprint copies: state, key, kind, order id, tracking number, printer, purged.
type ReprintSource = (String, String, String, Option<String>, Option<String>, String, bool);

/// A document checked and serialised before the transaction starts.
struct Prepared {
    key: String,
    kind: Kind,
    printer: String,
    order_id: Option<String>,
    tracking_number: Option<String>,
    content: String,
    parcel: Option<clock::ParcelColumns>,
    /// A marketplace document's file, stored beside it once per SHA-256.
    file: Option<DocumentFile>,
}

fn prepare(index: usize, d: &NewDocument, deadlines: &crate::deadlines::Deadlines) -> Result<Prepared, SpoolError> {
    let bad = |m: String| SpoolError::Invalid(format!("documents[{index}]: {m}"));
    if d.printer.trim().is_empty() {
        return Err(bad("printer is empty".into()));
    }
    let key = d.idempotency_key();
    if key.trim().is_empty() || key.len() > 20_000 {
        return Err(bad("idempotency key must be 1 to 20000 bytes".into()));
    }
    let content = match (&d.kind, &d.content) {
        (Kind::Label, Content::Order(o)) => serde_json::to_string(o).map_err(|e| bad(e.to_string()))?,
        (Kind::Picklist, Content::Orders(os)) if !os.is_empty() => serde_json::to_string(os).map_err(|e| bad(e.to_string()))?,
        (Kind::Picklist, Content::Orders(_)) => return Err(bad("a pick list needs at least one order".into())),
        (Kind::Label, Content::Orders(_)) => return Err(bad("a label prints exactly one order".into())),
        (Kind::Picklist, Content::Order(_)) => return Err(bad("a pick list takes a list of orders".into())),
        (Kind::TestPage, Content::TestPage) => TEST_PAGE_CONTENT.to_string(),
        (Kind::TestPage, _) | (_, Content::TestPage) => return Err(bad("a test page carries no orders".into())),
        (Kind::Document, Content::Document(d)) => {
            if d.order_id.trim().is_empty() || d.tracking_number.trim().is_empty() {
                return Err(bad("a document needs an order id and a tracking number".into()));
            }
            if sha256_hex(&d.file.bytes) != d.file.sha256 {
                return Err(bad("the document's SHA-256 does not match its bytes".into()));
            }
            let record = DocumentRecord {
                order_id: d.order_id.clone(),
                tracking_number: d.tracking_number.clone(),
                content_type: d.file.content_type.clone(),
                sha256: d.file.sha256.clone(),
                bytes: d.file.bytes.len(),
                part: d.part,
            };
            serde_json::to_string(&record).map_err(|e| bad(e.to_string()))?
        }
        (Kind::Document, _) | (_, Content::Document(_)) => return Err(bad("a marketplace document job carries a document, not orders".into())),
    };
    let file = match &d.content {
        Content::Document(doc) => Some(doc.file.clone()),
        _ => None,
    };
    let (order_id, tracking_number) = d.ids();
    let parcel = match &d.content {
        Content::Order(o) => Some(clock::ParcelColumns::of(o, deadlines)),
        _ => None,
    };
    Ok(Prepared { key, kind: d.kind, printer: d.printer.clone(), order_id, tracking_number, content, parcel, file })
}

/// Stores prepared documents in `tx` as one job; duplicate keys return the existing documents.
fn submit_in(tx: &Transaction, prepared: &[Prepared], now: i64) -> Result<Submitted, SpoolError> {
    let mut job: Option<JobId> = None;
    let mut admissions = Vec::with_capacity(prepared.len());
    for p in prepared {
        let existing: Option<(DocId, JobId, String, String)> = tx
            .prepare_cached("SELECT id, job_id, state, content FROM documents WHERE idem_key = ?1")?
            .query_row([&p.key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        if let Some((id, job_id, state, content)) = existing {
            let state = parse_state(&state)?;
            if p.file.is_some() && state != State::Held && content != p.content {
                // The same parcel's document, but other bytes: printing either silently would be a guess.
                return Err(SpoolError::KeyConflict(format!(
                    "key {:?} already names document {id} ({state}) with other bytes or another tracking number; \
                     send the same document again, or use a new key for a new one",
                    p.key
                )));
            }
            if state == State::Held && content != p.content {
                store_file(tx, p.file.as_ref(), now)?;
                tx.execute(
                    "UPDATE documents SET content = ?2, order_id = ?3, tracking_number = ?4, report = NULL, \
                     error = NULL, file_sha256 = ?5 WHERE id = ?1",
                    params![id, p.content, p.order_id, p.tracking_number, p.file.as_ref().map(|f| f.sha256.as_str())],
                )?;
                clock::store_parcel(tx, id, p.parcel.as_ref())?;
                transition(tx, id, State::Queued, "resubmit", Some("resubmitted with a changed order"), now)?;
                admissions.push(Admission {
                    document: id,
                    job: job_id,
                    key: p.key.clone(),
                    outcome: Outcome::Resubmitted,
                    state: State::Queued,
                });
            } else {
                admissions.push(Admission { document: id, job: job_id, key: p.key.clone(), outcome: Outcome::Duplicate, state });
            }
            continue;
        }
        let job_id = match job {
            Some(j) => j,
            None => {
                tx.prepare_cached("INSERT INTO jobs (created_ms) VALUES (?1)")?.execute([now])?;
                let j = tx.last_insert_rowid();
                job = Some(j);
                j
            }
        };
        store_file(tx, p.file.as_ref(), now)?;
        tx.prepare_cached(
            "INSERT INTO documents (job_id, idem_key, kind, printer, order_id, tracking_number, content, state, \
             created_ms, updated_ms, file_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?8, ?9)",
        )?
        .execute(params![job_id, p.key, p.kind.as_str(), p.printer, p.order_id, p.tracking_number, p.content, now, p.file.as_ref().map(|f| f.sha256.as_str())])?;
        let id = tx.last_insert_rowid();
        clock::store_parcel(tx, id, p.parcel.as_ref())?;
        audit(tx, id, "submit", None, Some(State::Queued), None, now)?;
        admissions.push(Admission { document: id, job: job_id, key: p.key.clone(), outcome: Outcome::New, state: State::Queued });
    }
    Ok(Submitted { job: job.unwrap_or(admissions[0].job), documents: admissions })
}

/// Keeps a marketplace document's bytes, once per SHA-256.
fn store_file(tx: &Transaction, file: Option<&DocumentFile>, now: i64) -> Result<(), SpoolError> {
    if let Some(f) = file {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO document_files (sha256, content_type, bytes, source_host, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![f.sha256, f.content_type, f.bytes.as_slice(), f.source_host, now])?;
    }
    Ok(())
}

/// The one place a document changes state: validates against [`State::next`] and logs it.
fn transition(tx: &Transaction, id: DocId, to: State, action: &str, detail: Option<&str>, now: i64) -> Result<State, SpoolError> {
    let from: String = tx
        .prepare_cached("SELECT state FROM documents WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .ok_or(SpoolError::NoDocument(id))?;
    let from = parse_state(&from)?;
    from.check(to).map_err(|transition| SpoolError::IllegalTransition { id, transition })?;
    tx.prepare_cached("UPDATE documents SET state = ?2, updated_ms = ?3 WHERE id = ?1")?.execute(params![id, to.as_str(), now])?;
    audit(tx, id, action, Some(from), Some(to), detail, now)?;
    Ok(from)
}

/// Stores a document's printer bytes, in their own table: a state change rewrites the whole row it
/// changes, and the bytes (kilobytes, overflow pages) would be rewritten with every one.
fn store_rendered(tx: &Transaction, id: DocId, bytes: &[u8], format: &str) -> Result<(), SpoolError> {
    tx.prepare_cached("INSERT OR REPLACE INTO rendered (document_id, bytes, format) VALUES (?1, ?2, ?3)")?.execute(params![id, bytes, format])?;
    Ok(())
}

/// Drops a document's printer bytes (zeroed in the file: `secure_delete`).
fn drop_rendered(tx: &Transaction, id: DocId) -> Result<(), SpoolError> {
    tx.prepare_cached("DELETE FROM rendered WHERE document_id = ?1")?.execute([id])?;
    Ok(())
}

fn audit(tx: &Transaction, id: DocId, action: &str, from: Option<State>, to: Option<State>, detail: Option<&str>, now: i64) -> Result<(), SpoolError> {
    tx.prepare_cached("INSERT INTO audit (at_ms, document_id, action, from_state, to_state, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![now, id, action, from.map(State::as_str), to.map(State::as_str), detail])?;
    Ok(())
}

fn parse_state(s: &str) -> Result<State, SpoolError> {
    // The CHECK constraint makes this unreachable unless the file was edited by hand.
    State::parse(s).ok_or_else(|| SpoolError::Invalid(format!("unknown state {s:?} in the spool")))
}

fn document_from_row(r: &rusqlite::Row) -> rusqlite::Result<Result<Record, SpoolError>> {
    let id: DocId = r.get(0)?;
    let kind: String = r.get(3)?;
    let state: String = r.get(7)?;
    let report: Option<String> = r.get(10)?;
    let (ship_by, printed): (Option<i64>, Option<i64>) = (r.get(19)?, r.get(20)?);
    let built = (|| {
        let report = match report {
            Some(s) => {
                let mut v = serde_json::from_str(&s).map_err(|e| SpoolError::Corrupt(id, e.to_string()))?;
                // Spools written before texts were stripped at `mark_held` still hold them.
                crate::comply::Report::strip_text(&mut v);
                Some(v)
            }
            None => None,
        };
        Ok(Record {
            id,
            job: r.get(1)?,
            key: r.get(2)?,
            kind: Kind::parse(&kind).ok_or_else(|| SpoolError::Corrupt(id, format!("kind {kind:?}")))?,
            printer: r.get(4)?,
            order_id: r.get(5)?,
            tracking_number: r.get(6)?,
            state: parse_state(&state)?,
            attempts: r.get(8)?,
            error: r.get(9)?,
            report,
            reprint_of: r.get(11)?,
            reprint_reason: r.get(12)?,
            created_at: from_ms(r.get(13)?),
            updated_at: from_ms(r.get(14)?),
            purged: r.get(15)?,
            rendered_bytes: r.get(16)?,
            batch: r.get(17)?,
            chunk: r.get(18)?,
            ship_by: ship_by.map(from_ms),
            printed_at: printed.map(from_ms),
            late: matches!((printed, ship_by), (Some(p), Some(s)) if p > s),
            handed_over_at: r.get::<_, Option<i64>>(21)?.map(from_ms),
            scan: r.get::<_, Option<String>>(22)?.as_deref().and_then(ScanState::parse),
            scanned_at: r.get::<_, Option<i64>>(23)?.map(from_ms),
        })
    })();
    Ok(built)
}

fn now_ms() -> i64 {
    to_ms(OffsetDateTime::now_utc())
}

fn to_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
