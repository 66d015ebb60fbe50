//! Job, document, printer and event endpoints: the station's side of the API, a thin layer that reads
//! requests, calls the [`Station`] and words its answers.
//!
//! A submit is acknowledged (202) only after the spool committed it, so a crash right after the
//! answer loses nothing. Bad input is a 400 naming the JSON path (`orders[3].items`); an unknown
//! printer a 404. Bodies are never logged (they carry buyer data); answers carry documents as the
//! spool lists them, which hold order ids and tracking numbers only.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, StationState, api};
use super::error::ApiError;
use super::preview::body;
use super::request::json_body;
use crate::marketdoc::intake::{Incoming, Source};
use crate::comply::BatchTracking;
use crate::order::Order;
use crate::spool::{Filter, Kind, MAX_BATCH, Release, SpoolError, State as DocState};
use crate::station::{self, Picklist, Station, StationError};

pub(super) fn spool_error(e: SpoolError) -> ApiError {
    match e {
        SpoolError::NoDocument(id) => ApiError::new(StatusCode::NOT_FOUND, "no_such_document", format!("no document {id}")),
        SpoolError::IllegalTransition { .. } => ApiError::new(StatusCode::CONFLICT, "wrong_state", e.to_string()),
        SpoolError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid", m),
        SpoolError::Purged(_) => ApiError::new(StatusCode::GONE, "purged", e.to_string()),
        SpoolError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "batch_conflict", m),
        SpoolError::KeyConflict(m) => ApiError::new(StatusCode::CONFLICT, "key_conflict", m),
        // Nothing was committed: the caller may send the same request again once space returns.
        ref full if full.is_disk_full() => ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "spool_full",
            format!("the spool's disk is full; nothing was accepted, send it again once space is freed ({full})"),
        ),
        other => ApiError::internal(other),
    }
}

pub(super) fn station_error(e: StationError) -> ApiError {
    match e {
        StationError::NoSuchPrinter { field, .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "no_such_printer", e.to_string()).with_detail(json!({ "field": field }))
        }
        StationError::NoPrinterForRole(_) => ApiError::bad_request("invalid", "printer", e.to_string()),
        StationError::Document(r) => ApiError::bad_request(r.code, r.field.clone(), r.to_string()),
        StationError::Spool(e) => spool_error(e),
    }
}

pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, SpoolError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)?.map_err(spool_error)
}

/// A station call on the blocking pool (it commits to the spool).
pub(super) async fn on_station<T: Send + 'static>(
    station: &Arc<Station>,
    f: impl FnOnce(&Station) -> Result<T, StationError> + Send + 'static,
) -> Result<T, ApiError> {
    let station = station.clone();
    tokio::task::spawn_blocking(move || f(&station)).await.map_err(ApiError::internal)?.map_err(station_error)
}

/// Reads one order from a JSON value, naming its path under `prefix` when it is wrong.
fn order_at(value: &Value, prefix: &str) -> Result<Order, ApiError> {
    let bytes = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Order::from_json_bytes(&bytes).map_err(|e| {
        let field = if e.path.is_empty() { prefix.to_string() } else { format!("{prefix}.{}", e.path) };
        ApiError::bad_request("invalid_order", field.clone(), format!("{field}: {}", e.problem))
    })
}

/// The body of `POST /v1/jobs`. Orders stay JSON here so an order's error names its place
/// (`orders[3].items`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    printer: Option<String>,
    kind: Option<String>,
    order: Option<Value>,
    orders: Option<Vec<Value>>,
    key: Option<String>,
    picklist: Option<bool>,
    picklist_printer: Option<String>,
    batch_id: Option<String>,
    /// `at_once` (default) or `on_scan`: each label waits for its order's scan at a packing bench.
    release: Option<Release>,
    /// A marketplace document job (`"kind": "document"`): the parcel and its file.
    order_id: Option<String>,
    tracking_number: Option<String>,
    document: Option<DocumentBody>,
    /// A batch of marketplace documents.
    documents: Option<Vec<DocumentItem>>,
}

/// One document of a batch: the parcel, its file, and optionally its items' bins (walking order).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentItem {
    order_id: String,
    tracking_number: String,
    document: DocumentBody,
    key: Option<String>,
    #[serde(default)]
    items: Vec<ItemBin>,
}

/// Where a parcel's item is picked from: only the bin orders the batch.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemBin {
    #[allow(dead_code)]
    sku: Option<String>,
    #[allow(dead_code)]
    qty: Option<u32>,
    bin: Option<String>,
}

/// A marketplace document's file: `content_type` and either `data` (base64) or `url`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentBody {
    content_type: String,
    data: Option<String>,
    url: Option<String>,
}

impl DocumentBody {
    /// The file as the station takes it; `prefix` is where it sits in the body.
    fn incoming(self, prefix: &str) -> Result<Incoming, ApiError> {
        let source = match (self.data, self.url) {
            (Some(d), None) => Source::Data(d),
            (None, Some(u)) => Source::Url(u),
            (Some(_), Some(_)) => return Err(ApiError::bad_request("invalid", format!("{prefix}.url"), format!("give {prefix}.data or {prefix}.url, not both"))),
            (None, None) => return Err(ApiError::bad_request("missing", format!("{prefix}.data"), format!("{prefix}.data (base64) or {prefix}.url is required"))),
        };
        Ok(Incoming { content_type: self.content_type, source })
    }
}

/// A parcel id the caller must give: present, not blank, at most 200 characters.
fn required_id(value: Option<String>, field: &str) -> Result<String, ApiError> {
    match value {
        Some(v) if !v.trim().is_empty() && v.chars().count() <= 200 && !v.chars().any(char::is_control) => Ok(v.trim().to_string()),
        Some(_) => Err(ApiError::bad_request("invalid", field, format!("{field} must be 1 to 200 printable characters"))),
        None => Err(ApiError::bad_request("missing", field, format!("{field} is required for a document job"))),
    }
}

/// `POST /v1/jobs` with `"documents": [...]`: a shipping batch of marketplace documents, in walking
/// order when items with bins are given, in chunks of 50.
async fn submit_document_batch(state: &StationState, req: SubmitBody, key: Option<String>) -> Result<Response, ApiError> {
    refuse_given(&[
        ("order", req.order.is_some()),
        ("orders", req.orders.is_some()),
        ("order_id", req.order_id.is_some()),
        ("tracking_number", req.tracking_number.is_some()),
        ("document", req.document.is_some()),
        ("picklist", req.picklist.is_some()),
        ("picklist_printer", req.picklist_printer.is_some()),
        ("release", req.release.is_some()),
    ], |k| format!("{k} does not apply to a batch of documents (each item carries its own)"))?;
    let list = req.documents.unwrap_or_default();
    if list.is_empty() {
        return Err(ApiError::bad_request("invalid", "documents", "documents is empty"));
    }
    if list.len() > MAX_BATCH {
        return Err(ApiError::bad_request("invalid", "documents", format!("at most {MAX_BATCH} documents per batch, got {}", list.len())));
    }
    check_batch_id(req.batch_id.as_deref())?;
    let mut documents = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let at = format!("documents[{i}]");
        let order_id = required_id(Some(item.order_id), &format!("{at}.order_id"))?;
        let tracking_number = required_id(Some(item.tracking_number), &format!("{at}.tracking_number"))?;
        let document = item.document.incoming(&format!("{at}.document"))?;
        let bins = item.items.into_iter().map(|b| b.bin).collect();
        documents.push((station::DocumentJob { printer: None, order_id, tracking_number, document, key: item.key }, bins));
    }
    let batch = station::DocumentBatch { printer: req.printer, documents, key, batch_id: req.batch_id };
    let accepted = on_station(&state.station, move |s| s.submit_document_batch(batch)).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(batch_answer(accepted))).into_response())
}

/// The answer to a batch submit: its id, chunks and one admission per document with its chunk.
fn batch_answer(accepted: station::AcceptedBatch) -> api::BatchAccepted {
    api::BatchAccepted::of(accepted.printer, accepted.picklist_printer, &accepted.submitted)
}

/// `POST /v1/jobs` with `"kind": "document"`: one marketplace label document.
async fn submit_document(state: &StationState, req: SubmitBody, key: Option<String>) -> Result<Response, ApiError> {
    refuse_given(&[
        ("order", req.order.is_some()),
        ("orders", req.orders.is_some()),
        ("picklist", req.picklist.is_some()),
        ("picklist_printer", req.picklist_printer.is_some()),
        ("release", req.release.is_some()),
        ("batch_id", req.batch_id.is_some()),
    ], |k| format!("{k} does not apply to a document job (order_id, tracking_number, document)"))?;
    let order_id = required_id(req.order_id, "order_id")?;
    let tracking_number = required_id(req.tracking_number, "tracking_number")?;
    let document = req.document.ok_or_else(|| ApiError::bad_request("missing", "document", "document ({content_type, data | url}) is required"))?.incoming("document")?;
    let job = station::DocumentJob { printer: req.printer, order_id, tracking_number, document, key };
    let accepted = on_station(&state.station, move |s| s.submit_document(job)).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(api::Accepted::of(accepted.printer, &accepted.submitted))).into_response())
}

/// `POST /v1/jobs`: `{"printer", "kind", "order" | "orders", "key"}`; `orders` for labels is a
/// shipping batch (`picklist`, `picklist_printer`, `batch_id`).
pub async fn submit(State(state): State<Arc<StationState>>, bytes: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let mut req: SubmitBody = json_body(&body(bytes)?)?;
    let kind = match req.kind.as_deref() {
        None => Kind::Label,
        Some(s) if s == Kind::TestPage.as_str() => {
            return Err(ApiError::bad_request("invalid", "kind", "a test page has no order: POST /v1/printers/{name}/test-print"));
        }
        Some(s) => Kind::parse(s).ok_or_else(|| ApiError::bad_request("invalid", "kind", format!("{s:?}: use label, picklist or document")))?,
    };
    let key = match req.key.take() {
        None => None,
        Some(s) if !s.trim().is_empty() && s.len() <= 200 => Some(s),
        Some(_) => return Err(ApiError::bad_request("invalid", "key", "key must be a non-empty string of at most 200 characters")),
    };
    if req.documents.is_some() && matches!(req.kind.as_deref(), None | Some("document")) {
        return submit_document_batch(&state, req, key).await;
    }
    if kind == Kind::Document {
        return submit_document(&state, req, key).await;
    }
    refuse_given(&[
        ("order_id", req.order_id.is_some()),
        ("tracking_number", req.tracking_number.is_some()),
        ("document", req.document.is_some()),
        ("documents", req.documents.is_some()),
    ], |k| format!("{k} belongs to a document job (\"kind\": \"document\"); a label's order carries its own"))?;
    let is_batch = kind == Kind::Label && req.orders.is_some();
    let orders: Vec<Order> = match (req.order, req.orders) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("invalid", "orders", "give order or orders, not both")),
        (Some(o), None) => vec![order_at(&o, "order")?],
        (None, Some(list)) => {
            if list.is_empty() {
                return Err(ApiError::bad_request("invalid", "orders", "orders is empty"));
            }
            if list.len() > MAX_BATCH {
                return Err(ApiError::bad_request("invalid", "orders", format!("at most {MAX_BATCH} orders per job, got {}", list.len())));
            }
            list.iter().enumerate().map(|(i, o)| order_at(o, &format!("orders[{i}]"))).collect::<Result<_, _>>()?
        }
        (None, None) => return Err(ApiError::bad_request("missing", "order", "give order (one order) or orders (a batch)")),
    };
    if !is_batch {
        refuse_given(&[
            ("picklist", req.picklist.is_some()),
            ("picklist_printer", req.picklist_printer.is_some()),
            ("batch_id", req.batch_id.is_some()),
            ("release", req.release.is_some()),
        ], |k| format!("{k} applies to a batch of labels (orders), not to this job"))?;
        let job = station::Job { printer: req.printer, kind, orders, key };
        let accepted = on_station(&state.station, move |s| s.submit_job(job)).await?;
        let (printer, submitted) = (accepted.printer, accepted.submitted);
        return Ok((StatusCode::ACCEPTED, axum::Json(api::Accepted::of(printer, &submitted))).into_response());
    }
    let picklist = match (req.picklist.unwrap_or(false), req.picklist_printer) {
        (false, Some(_)) => return Err(ApiError::bad_request("invalid", "picklist_printer", "picklist_printer needs \"picklist\": true")),
        (false, None) => Picklist::No,
        (true, None) => Picklist::Default,
        (true, Some(p)) => Picklist::On(p),
    };
    check_batch_id(req.batch_id.as_deref())?;
    let release = req.release.unwrap_or_default();
    let batch = station::Batch { printer: req.printer, orders, key, picklist, batch_id: req.batch_id, release };
    let accepted = on_station(&state.station, move |s| s.submit_batch(batch)).await?;
    let mut answer = batch_answer(accepted);
    answer.release = release.as_str();
    Ok((StatusCode::ACCEPTED, axum::Json(answer)).into_response())
}

/// A batch id the caller chose: 1 to 100 letters, digits, '-', '_' or '.'.
fn check_batch_id(id: Option<&str>) -> Result<(), ApiError> {
    match id {
        Some(s) if !((1..=100).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))) => {
            Err(ApiError::bad_request("invalid", "batch_id", "batch_id must be 1 to 100 letters, digits, '-', '_' or '.'"))
        }
        _ => Ok(()),
    }
}

/// Refuses the first field given that does not belong to this kind of request, saying why.
fn refuse_given(fields: &[(&str, bool)], why: impl Fn(&str) -> String) -> Result<(), ApiError> {
    match fields.iter().find(|(_, given)| *given) {
        Some((k, _)) => Err(ApiError::bad_request("invalid", *k, why(k))),
        None => Ok(()),
    }
}

/// `GET /v1/batches/{id}`: counts by outcome, per chunk, and a result per document.
pub async fn batch(State(state): State<Arc<StationState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let d = &state.station;
    let spool = d.spool().clone();
    let lookup = id.clone();
    match blocking(move || spool.batch(&lookup)).await? {
        Some(b) => Ok(axum::Json(api::BatchProgress::from(&crate::batch::Progress::of(&b))).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no_such_batch", format!("no batch {id:?}"))),
    }
}

pub async fn job(State(state): State<Arc<StationState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let d = &state.station;
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid", "id", format!("{id:?} is not a job id")))?;
    let spool = d.spool().clone();
    match blocking(move || spool.job(id)).await? {
        Some(job) => Ok(axum::Json(api::Job::from(&job)).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no_such_job", format!("no job {id}"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    printer: Option<String>,
    order_id: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

pub async fn list(
    State(state): State<Arc<StationState>>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let d = &state.station;
    let Query(q) = query.map_err(|e| ApiError::bad_request("bad_query", "query", e.body_text()))?;
    let mut states = Vec::new();
    for s in q.state.iter().flat_map(|s| s.split(',')).filter(|s| !s.is_empty()) {
        states.push(DocState::parse(s).ok_or_else(|| ApiError::bad_request("bad_query", "state", format!("{s:?} is not a document state")))?);
    }
    let filter = Filter { printer: q.printer, states, order_id: q.order_id, before: q.before, limit: q.limit, ..Filter::default() };
    let spool = d.spool().clone();
    let docs = blocking(move || spool.list(&filter)).await?;
    Ok(axum::Json(api::Documents::of(&docs)).into_response())
}

/// Cancels every document of the job that has not started sending.
pub async fn cancel(State(state): State<Arc<StationState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid", "id", format!("{id:?} is not a job id")))?;
    match on_station(&state.station, move |s| Ok(s.cancel(id)?)).await? {
        Some(r) => {
            let r: Vec<Value> = r.into_iter().map(|c| json!({"document": c.document, "result": c.result})).collect();
            Ok(axum::Json(json!({ "job": id, "documents": r })).into_response())
        }
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no_such_job", format!("no job {id}"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReprintBody {
    reason: Option<String>,
    printer: Option<String>,
}

/// `POST /v1/documents/{id}/reprint` `{"reason": "...", "printer": optional}`.
pub async fn reprint(State(state): State<Arc<StationState>>, Path(id): Path<String>, bytes: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid", "id", format!("{id:?} is not a document id")))?;
    let req: ReprintBody = json_body(&body(bytes)?)?;
    let reason = match req.reason {
        Some(r) if !r.trim().is_empty() => r.trim().to_string(),
        _ => return Err(ApiError::bad_request("missing", "reason", "a reprint needs a reason (why the first label is not usable)")),
    };
    let doc = on_station(&state.station, move |s| s.reprint(id, &reason, req.printer.as_deref())).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(api::Document::from(&doc))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    outcome: Option<String>,
    reason: Option<String>,
}

/// `POST /v1/documents/{id}/resolve` `{"outcome": "printed" | "not_printed", "reason": "..."}`: an
/// operator's answer to a label in doubt. "not_printed" cancels it and queues one reprint. Audited.
pub async fn resolve(State(state): State<Arc<StationState>>, Path(id): Path<String>, bytes: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid", "id", format!("{id:?} is not a document id")))?;
    let req: ResolveBody = json_body(&body(bytes)?)?;
    let outcome = match req.outcome.as_deref() {
        Some("printed") => crate::spool::Resolution::Printed,
        Some("not_printed") => crate::spool::Resolution::NotPrinted,
        _ => return Err(ApiError::bad_request("invalid", "outcome", "outcome must be \"printed\" (it came out) or \"not_printed\" (it did not)")),
    };
    let reason = match req.reason {
        Some(r) if !r.trim().is_empty() => r.trim().to_string(),
        _ => return Err(ApiError::bad_request("missing", "reason", "resolving a label in doubt needs a reason (what the operator saw)")),
    };
    let resolved = on_station(&state.station, move |s| Ok(s.resolve(id, outcome, &reason)?)).await?;
    Ok(axum::Json(api::Resolved::from(&resolved)).into_response())
}

/// `POST /v1/check`: the compliance report for one order, without printing. With a spool, a
/// tracking number already on another order is a duplicate.
///
/// `{"orders": [ORDER, ...]}` checks up to 500 orders in one request: one answer per order, in order,
/// their tracking numbers looked up in the spool at once, and a tracking number repeated within the
/// batch a duplicate as it would be when printed. A malformed order is a 400 naming `orders[i].field`.
pub async fn check(State(state): State<Arc<AppState>>, bytes: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = check_body(&body(bytes)?)?;
    // The rules, and the answer written straight from the reports, on the blocking pool: one hop a request.
    let answer = tokio::task::spawn_blocking(move || {
        let checker = state.gate.checker();
        match body {
            CheckBody::One(order) => serde_json::to_vec(&api::CheckReport::from(&checker.check_order(&order, state.seen.as_ref()))),
            CheckBody::Batch(orders) => {
                let seen = BatchTracking::of(&orders, state.seen.as_ref());
                let reports: Vec<_> = orders.iter().map(|o| checker.check_order(o, &seen)).collect();
                let results = orders.iter().zip(&reports).map(|(o, r)| api::CheckResult::of(o, r)).collect();
                serde_json::to_vec(&api::CheckResults { results })
            }
        }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], answer).into_response())
}

/// What a check body holds: one order, or a batch (`{"orders": [...]}` and nothing else).
enum CheckBody {
    One(Order),
    Batch(Vec<Order>),
}

/// A batch check body, read straight into orders.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBatch {
    orders: Vec<Order>,
}

/// Reads a check body. The two good shapes are read straight into orders; anything else is read again as a
/// JSON tree, which words the refusal, so an error is the same whichever way the body came in.
fn check_body(bytes: &[u8]) -> Result<CheckBody, ApiError> {
    match serde_json::from_slice::<CheckBatch>(bytes) {
        Ok(CheckBatch { orders }) if (1..=MAX_BATCH).contains(&orders.len()) => {
            let orders = orders.into_iter().enumerate().map(|(i, o)| o.accept().map_err(|e| in_batch(i, e)));
            return Ok(CheckBody::Batch(orders.collect::<Result<_, _>>()?));
        }
        Ok(_) => {}
        // A single order fails the batch shape at its first field.
        Err(_) => {
            if let Ok(order) = serde_json::from_slice::<Order>(bytes) {
                return Ok(CheckBody::One(order.accept()?));
            }
        }
    }
    // Not a JSON object: the order parser words the error.
    let Ok(Value::Object(mut top)) = serde_json::from_slice::<Value>(bytes) else { return Ok(CheckBody::One(Order::from_json_bytes(bytes)?)) };
    // An order has no `orders` field.
    let Some(list) = top.remove("orders") else { return Ok(CheckBody::One(Order::from_json_value(Value::Object(top))?)) };
    if let Some(other) = top.keys().next() {
        return Err(ApiError::bad_request("invalid", other.clone(), format!("unknown field {other:?}: a batch check is {{\"orders\": [ORDER, ...]}}")));
    }
    let Value::Array(list) = list else { return Err(ApiError::bad_request("invalid", "orders", "orders must be a list of orders")) };
    if list.is_empty() {
        return Err(ApiError::bad_request("invalid", "orders", "orders is empty"));
    }
    if list.len() > MAX_BATCH {
        return Err(ApiError::bad_request("invalid", "orders", format!("at most {MAX_BATCH} orders per check, got {}", list.len())));
    }
    let orders = list.into_iter().enumerate().map(|(i, v)| Order::from_json_value(v).map_err(|e| in_batch(i, e)));
    Ok(CheckBody::Batch(orders.collect::<Result<_, _>>()?))
}

/// A batch order's refusal, named `orders[i].field`.
fn in_batch(i: usize, e: crate::order::OrderError) -> ApiError {
    let field = if e.path.is_empty() { format!("orders[{i}]") } else { format!("orders[{i}].{}", e.path) };
    ApiError::bad_request("invalid_order", field.clone(), format!("{field}: {}", e.problem))
}

pub async fn printers(State(state): State<Arc<StationState>>) -> Result<Response, ApiError> {
    let d = &state.station;
    let printers = d.workers().all().map(|p| api::Printer::from(&p.view())).collect();
    Ok(axum::Json(api::Printers { printers }).into_response())
}

fn printer_named(d: &Station, name: &str) -> Result<Arc<crate::worker::PrinterHandle>, ApiError> {
    d.printer("printer", name).cloned().map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "no_such_printer", e.to_string()))
}

pub async fn printer(State(state): State<Arc<StationState>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let d = &state.station;
    let p = printer_named(d, &name)?;
    let spool = d.spool().clone();
    let counts = blocking(move || spool.counts()).await?;
    let queue = counts.into_iter().filter(|(p, _, _)| *p == name).map(|(_, s, n)| (s.as_str(), n)).collect();
    Ok(axum::Json(api::Printer { documents: Some(queue), ..api::Printer::from(&p.view()) }).into_response())
}

pub async fn pause(State(state): State<Arc<StationState>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let p = printer_named(&state.station, &name)?;
    p.set_operator_pause(true);
    Ok(axum::Json(api::Printer::from(&p.view())).into_response())
}

pub async fn resume(State(state): State<Arc<StationState>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let p = printer_named(&state.station, &name)?;
    p.set_operator_pause(false);
    Ok(axum::Json(api::Printer::from(&p.view())).into_response())
}

/// `GET /v1/events`: server-sent events from the bus. A slow reader skips what it missed.
pub async fn events(State(state): State<Arc<StationState>>) -> Result<Response, ApiError> {
    let d = &state.station;
    let rx = d.events().subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(ev) => {
                let kind = match &ev {
                    crate::events::Event::Job { .. } => "job",
                    crate::events::Event::Printer { .. } => "printer",
                    crate::events::Event::Feed { .. } => "feed",
                    crate::events::Event::Batch { .. } => "batch",
                };
                SseEvent::default().event(kind).data(serde_json::to_string(&ev).unwrap_or_default())
            }
            // A slow reader is told how many it missed rather than slowing the daemon.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => SseEvent::default().event("lagged").data(n.to_string()),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<_, Infallible>(event), rx))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// Queue depth and printer states for `/healthz`.
pub async fn health(d: &Station) -> Value {
    let spool = d.spool().clone();
    let counts = tokio::task::spawn_blocking(move || spool.counts()).await.ok().and_then(|r| r.ok());
    let printers: Vec<_> = d.workers().all().map(|p| api::Printer::from(&p.view())).collect();
    let spool_state = match &counts {
        Some(c) => {
            let mut by_state = serde_json::Map::new();
            for (_, s, n) in c {
                let e = by_state.entry(s.as_str().to_string()).or_insert(json!(0));
                *e = json!(e.as_u64().unwrap_or(0) + n);
            }
            json!({ "ok": true, "documents": by_state })
        }
        None => json!({ "ok": false }),
    };
    json!({ "printers": printers, "spool": spool_state })
}

/// Prometheus lines for queue depth per printer and state, and printer states.
pub async fn metrics_lines(d: &Station, feed: &crate::feed::Monitor) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let spool = d.spool().clone();
    if let Ok(Ok(counts)) = tokio::task::spawn_blocking(move || spool.counts()).await {
        out.push_str("# HELP labeld_documents Documents in the spool by printer and state.\n# TYPE labeld_documents gauge\n");
        for (p, s, n) in counts {
            let _ = writeln!(out, "labeld_documents{{printer=\"{p}\",state=\"{}\"}} {n}", s.as_str());
        }
    }
    out.push_str("# HELP labeld_printer_state 1 for the state each printer is in.\n# TYPE labeld_printer_state gauge\n");
    for p in d.workers().all() {
        let v = p.view();
        let _ = writeln!(out, "labeld_printer_state{{printer=\"{}\",state=\"{}\"}} 1", v.name, v.state);
    }
    out.push_str(&feed.metrics());
    out
}

/// `POST /v1/printers/{name}/test-print`: queues the printer's test page behind its labels. It
/// goes through the printer's worker like any document, so it never interleaves with a label.
pub async fn test_print(State(state): State<Arc<StationState>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    printer_named(&state.station, &name)?;
    let printer = name.clone();
    let submitted = on_station(&state.station, move |s| s.test_print(&printer)).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(api::Accepted::of(name, &submitted))).into_response())
}

/// `POST /v1/documents/{id}/cancel`: withdraws one document (not the rest of its job) that has
/// not started sending, or drops an in-doubt one an operator has decided not to reprint.
pub async fn cancel_document(State(state): State<Arc<StationState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid", "id", format!("{id:?} is not a document id")))?;
    let doc = on_station(&state.station, move |s| Ok(s.cancel_document(id)?)).await?;
    Ok(axum::Json(api::Document::from(&doc)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk under the spool is a 507 that says nothing was accepted, not a bare 500.
    #[test]
    fn a_full_spool_disk_is_507() {
        // A real SQLITE_FULL: a database that may not grow past its first pages.
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x BLOB); PRAGMA max_page_count = 2;").unwrap();
        let err = conn.execute("INSERT INTO t VALUES (zeroblob(100000))", []).unwrap_err();
        let e = SpoolError::Db(err);
        assert!(e.is_disk_full(), "{e}");
        let api = spool_error(e);
        assert_eq!(api.status, StatusCode::INSUFFICIENT_STORAGE);
        assert!(api.message.contains("nothing was accepted"), "{}", api.message);
        assert_eq!(spool_error(SpoolError::Invalid("x".into())).status, StatusCode::BAD_REQUEST);
    }
}
