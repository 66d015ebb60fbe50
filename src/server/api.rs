//! What the HTTP API answers: the shapes a client reads, each made from a domain type by an explicit
//! conversion.
//!
//! The domain types these are made from (the spool's records, a submit's admissions, a batch's progress,
//! the due lists, the handover records, the printers' views, the feed's state) do not derive `Serialize`,
//! so renaming one of their fields cannot change the API. Value enums and counts, spelled the same
//! wherever they appear, keep their serde (a batch's `Outcome` and `Counts`, a rule's id). The rules'
//! report is serialised for the spool too; the check answers are made from it explicitly all the same. A
//! field here is a promise to clients: `openapi.json` declares it, and the tests check real answers
//! against that declaration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::batch::{self, Counts, Outcome};
use crate::comply;
use crate::order::Order;
use crate::spool::{self, DocId, JobId};
use crate::worker::PrinterView;

/// A document (a label, pick list or test page) as lists, jobs and reprints show it: ids and clocks,
/// no buyer data.
#[derive(Debug, Serialize)]
pub struct Document {
    pub id: DocId,
    pub job: JobId,
    pub key: String,
    pub kind: &'static str,
    pub printer: String,
    pub order_id: Option<String>,
    pub tracking_number: Option<String>,
    pub state: &'static str,
    pub attempts: u32,
    pub error: Option<String>,
    /// The rules' report while held: rule ids, field paths and spans.
    pub report: Option<serde_json::Value>,
    pub reprint_of: Option<DocId>,
    pub reprint_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub purged: bool,
    pub rendered_bytes: Option<i64>,
    pub batch: Option<String>,
    pub chunk: Option<u32>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ship_by: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub printed_at: Option<OffsetDateTime>,
    pub late: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub handed_over_at: Option<OffsetDateTime>,
    /// A scan-to-print label: `awaiting` its scan at the bench, or `released` by one; else null.
    pub scan: Option<&'static str>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub scanned_at: Option<OffsetDateTime>,
}

impl From<&spool::Record> for Document {
    fn from(r: &spool::Record) -> Document {
        Document {
            id: r.id,
            job: r.job,
            key: r.key.clone(),
            kind: r.kind.as_str(),
            printer: r.printer.clone(),
            order_id: r.order_id.clone(),
            tracking_number: r.tracking_number.clone(),
            state: r.state.as_str(),
            attempts: r.attempts,
            error: r.error.clone(),
            report: r.report.clone(),
            reprint_of: r.reprint_of,
            reprint_reason: r.reprint_reason.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            purged: r.purged,
            rendered_bytes: r.rendered_bytes,
            batch: r.batch.clone(),
            chunk: r.chunk,
            ship_by: r.ship_by,
            printed_at: r.printed_at,
            late: r.late,
            handed_over_at: r.handed_over_at,
            scan: r.scan.map(spool::ScanState::as_str),
            scanned_at: r.scanned_at,
        }
    }
}

/// `GET /v1/jobs`: documents, newest first.
#[derive(Debug, Serialize)]
pub struct Documents {
    pub documents: Vec<Document>,
}

impl Documents {
    pub fn of(records: &[spool::Record]) -> Documents {
        Documents { documents: records.iter().map(Document::from).collect() }
    }
}

/// `GET /v1/jobs/{id}`.
#[derive(Debug, Serialize)]
pub struct Job {
    pub id: JobId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub documents: Vec<Document>,
}

impl From<&spool::Job> for Job {
    fn from(j: &spool::Job) -> Job {
        Job { id: j.id, created_at: j.created_at, documents: j.documents.iter().map(Document::from).collect() }
    }
}

/// What a submit did with one document: stored now, or the same key seen before.
#[derive(Debug, Serialize)]
pub struct Admission {
    pub document: DocId,
    pub job: JobId,
    pub key: String,
    /// `new`, `duplicate` or `resubmitted`.
    pub outcome: &'static str,
    pub state: &'static str,
}

impl From<&spool::Admission> for Admission {
    fn from(a: &spool::Admission) -> Admission {
        Admission { document: a.document, job: a.job, key: a.key.clone(), outcome: a.outcome.as_str(), state: a.state.as_str() }
    }
}

/// `POST /v1/jobs` (a label or a pick list) and `POST /v1/printers/{name}/test-print`: 202.
#[derive(Debug, Serialize)]
pub struct Accepted {
    pub job: JobId,
    pub printer: String,
    pub documents: Vec<Admission>,
}

impl Accepted {
    pub fn of(printer: String, submitted: &spool::Submitted) -> Accepted {
        Accepted { job: submitted.job, printer, documents: submitted.documents.iter().map(Admission::from).collect() }
    }
}

/// `POST /v1/jobs` with `orders`: a shipping batch, 202.
#[derive(Debug, Serialize)]
pub struct BatchAccepted {
    pub job: JobId,
    pub printer: String,
    pub batch: String,
    /// `new` or `duplicate` (the batch id or key was seen before).
    pub outcome: &'static str,
    pub chunks: u32,
    pub picklist_printer: Option<String>,
    /// `at_once`, or `on_scan`: each label waits for its order's scan at a packing bench.
    pub release: &'static str,
    pub documents: Vec<BatchAdmission>,
}

/// A batch document's admission and its print chunk (1-based; null for the batch's pick list).
#[derive(Debug, Serialize)]
pub struct BatchAdmission {
    #[serde(flatten)]
    pub admission: Admission,
    pub chunk: Option<u32>,
}

impl BatchAccepted {
    pub fn of(printer: String, picklist_printer: Option<String>, submitted: &spool::BatchSubmitted) -> BatchAccepted {
        let documents = submitted
            .documents
            .iter()
            .map(|(chunk, a)| BatchAdmission { admission: Admission::from(a), chunk: *chunk })
            .collect();
        BatchAccepted {
            job: submitted.job,
            printer,
            batch: submitted.batch.clone(),
            outcome: submitted.outcome.as_str(),
            chunks: submitted.chunks,
            picklist_printer,
            release: spool::Release::AtOnce.as_str(),
            documents,
        }
    }
}

/// `POST /v1/scans`: what a packer's scan at the bench did.
#[derive(Debug, Serialize)]
pub struct Scan {
    pub code: String,
    /// `printing`, `checking`, `already_scanned`, `already_printed`, `not_printable`, `not_waiting`, `unknown`.
    pub result: &'static str,
    /// `order_id` or `sku`; null when nothing matched.
    pub matched: Option<&'static str>,
    pub order_id: Option<String>,
    pub documents: Vec<Document>,
    pub printer: Option<String>,
    /// The n of "already printed #n".
    pub printed: u32,
    pub still_waiting: u32,
    pub message: String,
}

impl From<&spool::ScanAnswer> for Scan {
    fn from(a: &spool::ScanAnswer) -> Scan {
        Scan {
            code: a.code.clone(),
            result: a.result.as_str(),
            matched: a.matched.map(|m| match m {
                spool::ScanMatch::OrderId => "order_id",
                spool::ScanMatch::Sku => "sku",
            }),
            order_id: a.order_id.clone(),
            documents: a.documents.iter().map(Document::from).collect(),
            printer: a.printer.clone(),
            printed: a.printed,
            still_waiting: a.still_waiting,
            message: a.message.clone(),
        }
    }
}

/// `POST /v1/documents/{id}/resolve`: the document, and for "not printed" its one reprint.
#[derive(Debug, Serialize)]
pub struct Resolved {
    pub document: Document,
    pub reprint: Option<Document>,
}

impl From<&spool::Resolved> for Resolved {
    fn from(r: &spool::Resolved) -> Resolved {
        Resolved { document: Document::from(&r.document), reprint: r.reprint.as_ref().map(Document::from) }
    }
}

/// A printer as the API shows it.
#[derive(Debug, Serialize)]
pub struct Printer {
    pub name: String,
    /// `label` or `picklist`.
    pub role: &'static str,
    pub driver: String,
    pub language: String,
    pub dpi: u32,
    pub state: String,
    pub status_channel: bool,
    pub detail: Option<String>,
    pub held_by_operator: bool,
    /// `GET /v1/printers/{name}` only: its documents by state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<BTreeMap<&'static str, u64>>,
}

impl From<&PrinterView> for Printer {
    fn from(v: &PrinterView) -> Printer {
        Printer {
            name: v.name.clone(),
            role: v.role,
            driver: v.driver.clone(),
            language: v.language.clone(),
            dpi: v.dpi,
            state: v.state.clone(),
            status_channel: v.status_channel,
            detail: v.detail.clone(),
            held_by_operator: v.held_by_operator,
            documents: None,
        }
    }
}

/// `GET /v1/printers`.
#[derive(Debug, Serialize)]
pub struct Printers {
    pub printers: Vec<Printer>,
}

/// `GET /v1/batches/{id}`: a shipping batch's progress. `labeld batch` reads it back with the same type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchProgress {
    pub batch: String,
    pub job: JobId,
    pub printer: String,
    pub orders: u32,
    pub chunk_size: u32,
    pub chunks: u32,
    pub complete: bool,
    pub current_chunk: Option<u32>,
    /// Labels by outcome (the pick list apart).
    pub counts: Counts,
    pub chunk_counts: Vec<ChunkCounts>,
    pub picklist: Option<BatchDocument>,
    /// Labels in print order.
    pub documents: Vec<BatchDocument>,
}

/// One chunk's labels by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChunkCounts {
    pub chunk: u32,
    #[serde(flatten)]
    pub counts: Counts,
}

/// One document of a batch and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchDocument {
    pub seq: u32,
    pub chunk: Option<u32>,
    pub document: DocId,
    pub kind: String,
    pub printer: String,
    pub order_id: Option<String>,
    pub tracking_number: Option<String>,
    pub state: String,
    pub result: Outcome,
    pub rule: Option<String>,
    pub field: Option<String>,
    pub reason: Option<String>,
}

impl From<&batch::DocResult> for BatchDocument {
    fn from(d: &batch::DocResult) -> BatchDocument {
        BatchDocument {
            seq: d.seq,
            chunk: d.chunk,
            document: d.document,
            kind: d.kind.clone(),
            printer: d.printer.clone(),
            order_id: d.order_id.clone(),
            tracking_number: d.tracking_number.clone(),
            state: d.state.clone(),
            result: d.result,
            rule: d.rule.clone(),
            field: d.field.clone(),
            reason: d.reason.clone(),
        }
    }
}

impl From<&batch::Progress> for BatchProgress {
    fn from(p: &batch::Progress) -> BatchProgress {
        BatchProgress {
            batch: p.batch.clone(),
            job: p.job,
            printer: p.printer.clone(),
            orders: p.orders,
            chunk_size: p.chunk_size,
            chunks: p.chunks,
            complete: p.complete,
            current_chunk: p.current_chunk,
            counts: p.counts,
            chunk_counts: p.chunk_counts.iter().map(|c| ChunkCounts { chunk: c.chunk, counts: c.counts }).collect(),
            picklist: p.picklist.as_ref().map(BatchDocument::from),
            documents: p.documents.iter().map(BatchDocument::from).collect(),
        }
    }
}

/// `GET /v1/due`: labels by where their clock stands.
#[derive(Debug, Serialize)]
pub struct Due {
    pub overdue: DueBucket,
    pub soon: DueBucket,
    pub today: DueBucket,
    pub not_handed_over: DueBucket,
}

/// One window of the due strip: distinct orders, labels, and the first of them, most urgent first.
#[derive(Debug, Serialize)]
pub struct DueBucket {
    pub orders: usize,
    pub labels: usize,
    pub parcels: Vec<DueParcel>,
}

/// A parcel on the due strip: order id and tracking number, no buyer data.
#[derive(Debug, Serialize)]
pub struct DueParcel {
    pub document: DocId,
    pub order_id: Option<String>,
    pub tracking_number: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ship_by: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub printed_at: Option<OffsetDateTime>,
}

impl From<&spool::Due> for Due {
    fn from(d: &spool::Due) -> Due {
        let bucket = |b: &spool::Bucket| DueBucket {
            orders: b.orders,
            labels: b.labels,
            parcels: b
                .parcels
                .iter()
                .map(|p| DueParcel {
                    document: p.document,
                    order_id: p.order_id.clone(),
                    tracking_number: p.tracking_number.clone(),
                    ship_by: p.ship_by,
                    printed_at: p.printed_at,
                })
                .collect(),
        };
        Due { overdue: bucket(&d.overdue), soon: bucket(&d.soon), today: bucket(&d.today), not_handed_over: bucket(&d.not_handed_over) }
    }
}

/// A parcel on a handover manifest (`GET /v1/manifests?format=json`): no buyer data.
#[derive(Debug, Serialize)]
pub struct ManifestParcel {
    pub tracking_number: String,
    pub order_id: String,
    pub carrier: String,
    pub package_index: u32,
    pub package_count: u32,
    pub weight_g: Option<u32>,
    #[serde(with = "time::serde::rfc3339")]
    pub printed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub handed_over_at: Option<OffsetDateTime>,
}

impl From<&spool::HandoverParcel> for ManifestParcel {
    fn from(p: &spool::HandoverParcel) -> ManifestParcel {
        ManifestParcel {
            tracking_number: p.tracking_number.clone(),
            order_id: p.order_id.clone(),
            carrier: p.carrier.clone(),
            package_index: p.package_index,
            package_count: p.package_count,
            weight_g: p.weight_g,
            printed_at: p.printed_at,
            handed_over_at: p.handed_over_at,
        }
    }
}

/// `POST /v1/handovers`: what closing a handover recorded.
#[derive(Debug, Serialize)]
pub struct HandoverClosed {
    #[serde(with = "time::serde::rfc3339")]
    pub closed_at: OffsetDateTime,
    pub by: String,
    pub carrier: String,
    /// `pickup` or `dropoff`.
    pub handover: &'static str,
    pub handed_over: Vec<String>,
    pub missing: Vec<MissingParcel>,
    pub scanned_twice: Vec<String>,
    pub unknown: Vec<String>,
}

/// A parcel on the manifest that no scan ticked off.
#[derive(Debug, Serialize)]
pub struct MissingParcel {
    pub tracking_number: String,
    pub order_id: String,
}

impl From<&spool::HandoverClosed> for HandoverClosed {
    fn from(c: &spool::HandoverClosed) -> HandoverClosed {
        HandoverClosed {
            closed_at: c.closed_at,
            by: c.by.clone(),
            carrier: c.carrier.clone(),
            handover: c.handover.as_str(),
            handed_over: c.handed_over.clone(),
            missing: c.missing.iter().map(|m| MissingParcel { tracking_number: m.tracking_number.clone(), order_id: m.order_id.clone() }).collect(),
            scanned_twice: c.scanned_twice.clone(),
            unknown: c.unknown.clone(),
        }
    }
}

/// `/healthz`'s `feed` object: the NATS job feed's state and counters (the page shows these names).
#[derive(Debug, Serialize)]
pub struct FeedHealth {
    /// `connected`, `reconnecting`, `disconnected` or `disabled`.
    pub state: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    pub server: Option<String>,
    pub stream: Option<String>,
    pub subject: Option<String>,
    pub consumer: Option<String>,
    pub received: u64,
    pub acked: u64,
    pub redelivered: u64,
    pub terminated: u64,
    pub last_error: Option<String>,
}

impl From<&crate::feed::FeedState> for FeedHealth {
    fn from(f: &crate::feed::FeedState) -> FeedHealth {
        FeedHealth {
            state: f.state,
            since: f.since,
            server: f.server.clone(),
            stream: f.stream.clone(),
            subject: f.subject.clone(),
            consumer: f.consumer.clone(),
            received: f.received,
            acked: f.acked,
            redelivered: f.redelivered,
            terminated: f.terminated,
            last_error: f.last_error.clone(),
        }
    }
}

/// `POST /v1/check` with one order: the rules' verdict.
///
/// The check shapes borrow from the order and its report and are written straight out, without a JSON
/// tree between (a batch is hundreds of them). Their keys are declared in alphabetical order, the order
/// the answers have always had.
#[derive(Debug, Serialize)]
pub struct CheckReport<'a> {
    pub printable: bool,
    pub report: CheckRefusals<'a>,
}

impl<'a> From<&'a comply::Report> for CheckReport<'a> {
    fn from(r: &'a comply::Report) -> CheckReport<'a> {
        CheckReport { printable: r.is_printable(), report: CheckRefusals::from(r) }
    }
}

/// `POST /v1/check` with `{"orders": [...]}`: one result per order, in the request's order.
#[derive(Debug, Serialize)]
pub struct CheckResults<'a> {
    pub results: Vec<CheckResult<'a>>,
}

#[derive(Debug, Serialize)]
pub struct CheckResult<'a> {
    pub order_id: &'a str,
    pub printable: bool,
    pub report: CheckRefusals<'a>,
}

impl<'a> CheckResult<'a> {
    pub fn of(order: &'a Order, r: &'a comply::Report) -> CheckResult<'a> {
        CheckResult { order_id: &order.order_id, printable: r.is_printable(), report: CheckRefusals::from(r) }
    }
}

/// A report as the check answers show it: every refusal with the refused text (the caller's own data).
#[derive(Debug, Serialize)]
pub struct CheckRefusals<'a> {
    pub refusals: Vec<CheckRefusal<'a>>,
}

#[derive(Debug, Serialize)]
pub struct CheckRefusal<'a> {
    pub message: &'a str,
    pub path: &'a str,
    pub rule: comply::Rule,
    /// Byte span of `text` in the field as sent.
    pub span: Span,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub text: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Span {
    pub end: usize,
    pub start: usize,
}

impl<'a> From<&'a comply::Report> for CheckRefusals<'a> {
    fn from(r: &'a comply::Report) -> CheckRefusals<'a> {
        let refusal = |f: &'a comply::Refusal| CheckRefusal {
            message: &f.message,
            path: &f.path,
            rule: f.rule,
            span: Span { end: f.span.end, start: f.span.start },
            text: &f.text,
        };
        CheckRefusals { refusals: r.refusals.iter().map(refusal).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/healthz`'s feed object has the names the page shows, and not the metrics-only counters.
    #[test]
    fn the_feed_health_names_are_the_contract() {
        let state = crate::feed::Monitor::disabled().snapshot();
        let json = serde_json::to_value(FeedHealth::from(&state)).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let want = ["acked", "consumer", "last_error", "received", "redelivered", "server", "since", "state", "stream", "subject", "terminated"];
        assert_eq!(keys, want);
    }

    /// The check answers are written from typed shapes; byte for byte they are what the JSON tree of the
    /// report made of them before (keys in alphabetical order, an empty text left out).
    #[test]
    fn check_answers_read_as_the_reports_tree_did() {
        let order = Order::from_json_bytes(include_bytes!("../../tests/fixtures/orders/my-jnt-cod.json")).unwrap();
        let refusal = |rule, path: &str, span: std::ops::Range<usize>, text: &str| comply::Refusal {
            rule,
            path: path.into(),
            span,
            text: text.into(),
            message: "a \"quoted\" reason".into(),
        };
        let reports = [
            comply::Report::default(),
            comply::Report {
                refusals: vec![
                    refusal(comply::Rule::Hyperlink, "label_note", 6..26, "ｗｗｗ．ａｃｍｅ．ｃｏｍ"),
                    refusal(comply::Rule::UnknownWarehouse, "sender.warehouse_id", 0..0, ""),
                ],
            },
        ];
        for r in &reports {
            let tree = serde_json::json!({ "printable": r.is_printable(), "report": r });
            assert_eq!(serde_json::to_string(&CheckReport::from(r)).unwrap(), tree.to_string());
        }
        let results = CheckResults { results: reports.iter().map(|r| CheckResult::of(&order, r)).collect() };
        let tree = serde_json::json!({ "results": reports.iter().map(|r| serde_json::json!({ "order_id": order.order_id, "printable": r.is_printable(), "report": r })).collect::<Vec<_>>() });
        assert_eq!(serde_json::to_string(&results).unwrap(), tree.to_string());
    }
}
