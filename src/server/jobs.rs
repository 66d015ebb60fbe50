//! Job, document, printer and event endpoints: the daemon's side of the API.
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

use super::AppState;
use super::error::ApiError;
use super::preview::body;
use crate::daemon::Running;
use crate::order::Order;
use crate::spool::{Filter, Kind, MAX_BATCH, NewDocument, SpoolError, State as DocState};

pub(super) fn daemon(state: &AppState) -> Result<Arc<Running>, ApiError> {
    state.daemon.clone().ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_spool", "this server previews labels only; it has no spool or printers"))
}

fn spool_error(e: SpoolError) -> ApiError {
    match e {
        SpoolError::NoDocument(id) => ApiError::new(StatusCode::NOT_FOUND, "no_such_document", format!("no document {id}")),
        SpoolError::IllegalTransition { .. } => ApiError::new(StatusCode::CONFLICT, "wrong_state", e.to_string()),
        SpoolError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid", m),
        SpoolError::Purged(_) => ApiError::new(StatusCode::GONE, "purged", e.to_string()),
        SpoolError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "batch_conflict", m),
        // Nothing was committed: the caller may send the same request again once space returns.
        ref full if full.is_disk_full() => ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "spool_full",
            format!("the spool's disk is full; nothing was accepted, send it again once space is freed ({full})"),
        ),
        other => ApiError::internal(other),
    }
}

pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, SpoolError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)?.map_err(spool_error)
}

/// Reads one order from a JSON value, naming its path under `prefix` when it is wrong.
fn order_at(value: &Value, prefix: &str) -> Result<Order, ApiError> {
    let bytes = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Order::from_json_bytes(&bytes).map_err(|e| {
        let field = if e.path.is_empty() { prefix.to_string() } else { format!("{prefix}.{}", e.path) };
        ApiError::bad_request("invalid_order", field.clone(), format!("{field}: {}", e.problem))
    })
}

/// `POST /v1/jobs`: `{"printer", "kind", "order" | "orders", "key"}`.
pub async fn submit(State(state): State<Arc<AppState>>, bytes: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let bytes = body(bytes)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request("bad_json", "", format!("not JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| ApiError::bad_request("bad_json", "", "the body must be a JSON object"))?;
    for k in obj.keys() {
        if !["printer", "kind", "order", "orders", "key", "picklist", "picklist_printer", "batch_id"].contains(&k.as_str()) {
            return Err(ApiError::bad_request(
                "unknown_field",
                k.clone(),
                format!("unknown field {k:?} (expected printer, kind, order, orders, key, picklist, picklist_printer, batch_id)"),
            ));
        }
    }
    let kind = match obj.get("kind") {
        None => Kind::Label,
        Some(Value::String(s)) if s == Kind::TestPage.as_str() => {
            return Err(ApiError::bad_request("invalid", "kind", "a test page has no order: POST /v1/printers/{name}/test-print"));
        }
        Some(Value::String(s)) => Kind::parse(s).ok_or_else(|| ApiError::bad_request("invalid", "kind", format!("{s:?}: use label or picklist")))?,
        Some(_) => return Err(ApiError::bad_request("invalid", "kind", "kind must be a string: label or picklist")),
    };
    let key = match obj.get("key") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 200 => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("invalid", "key", "key must be a non-empty string of at most 200 characters")),
    };
    let role = match kind {
        Kind::Picklist => crate::config::Role::Picklist,
        Kind::Label | Kind::TestPage => crate::config::Role::Label,
    };
    let printer = match obj.get("printer") {
        Some(Value::String(name)) => d
            .workers
            .get(name)
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no_such_printer", format!("no printer {name:?} is configured")).with_detail(json!({"field": "printer"})))?,
        None | Some(Value::Null) => d.workers.first_with_role(role).ok_or_else(|| {
            ApiError::bad_request("invalid", "printer", format!("no printer given and none has the role {}", role.as_str()))
        })?,
        Some(_) => return Err(ApiError::bad_request("invalid", "printer", "printer must be a printer name")),
    };
    let name = printer.spec.name.clone();
    let orders: Vec<Order> = match (obj.get("order"), obj.get("orders")) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("invalid", "orders", "give order or orders, not both")),
        (Some(o), None) => vec![order_at(o, "order")?],
        (None, Some(Value::Array(list))) => {
            if list.is_empty() {
                return Err(ApiError::bad_request("invalid", "orders", "orders is empty"));
            }
            if list.len() > MAX_BATCH {
                return Err(ApiError::bad_request("invalid", "orders", format!("at most {MAX_BATCH} orders per job, got {}", list.len())));
            }
            list.iter().enumerate().map(|(i, o)| order_at(o, &format!("orders[{i}]"))).collect::<Result<_, _>>()?
        }
        (None, Some(_)) => return Err(ApiError::bad_request("invalid", "orders", "orders must be an array of orders")),
        (None, None) => return Err(ApiError::bad_request("missing", "order", "give order (one order) or orders (a batch)")),
    };
    let is_batch = kind == Kind::Label && obj.contains_key("orders");
    if !is_batch {
        for k in ["picklist", "picklist_printer", "batch_id"] {
            if obj.contains_key(k) {
                return Err(ApiError::bad_request("invalid", k, format!("{k} applies to a batch of labels (orders), not to this job")));
            }
        }
    }
    if is_batch {
        return submit_batch(&d, obj, printer.clone(), orders, key).await;
    }
    let documents: Vec<NewDocument> = match kind {
        Kind::Picklist => {
            let doc = NewDocument::picklist(name.clone(), orders);
            vec![match &key {
                Some(k) => doc.with_key(k.clone()),
                None => doc,
            }]
        }
        Kind::Label | Kind::TestPage => {
            let many = orders.len() > 1;
            orders
                .into_iter()
                .enumerate()
                .map(|(i, o)| {
                    let doc = NewDocument::label(name.clone(), o);
                    match &key {
                        Some(k) if many => doc.with_key(format!("{k}:{i}")),
                        Some(k) => doc.with_key(k.clone()),
                        None => doc,
                    }
                })
                .collect()
        }
    };
    let ids: Vec<(Option<String>, Option<String>)> = documents
        .iter()
        .map(|doc| match &doc.content {
            crate::spool::Content::Order(o) => (Some(o.order_id.clone()), Some(o.shipment.tracking_number.clone())),
            _ => (None, None),
        })
        .collect();
    let spool = d.spool.clone();
    let submitted = blocking(move || spool.submit(documents)).await?;
    // Listeners (the packers' page) see a new document at once, also while its printer is paused.
    for (a, (order_id, tracking_number)) in submitted.documents.iter().zip(ids) {
        if a.outcome != crate::spool::Outcome::Duplicate {
            d.events.publish(crate::events::Event::Job {
                job: a.job,
                document: a.document,
                printer: name.clone(),
                order_id,
                tracking_number,
                state: a.state,
                reason: None,
                late: false,
            });
        }
    }
    printer.wake();
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "job": submitted.job, "printer": name, "documents": submitted.documents }))).into_response())
}

/// `orders` for labels: a shipping batch. Labels in pick-list walking order, chunks of at most 50,
/// an optional pick list first (on the printer with role picklist, else the label printer), a batch
/// id (given or derived from the orders), progress at `GET /v1/batches/{id}` and on `/v1/events`.
async fn submit_batch(
    d: &Arc<Running>,
    obj: &serde_json::Map<String, Value>,
    printer: Arc<crate::worker::PrinterHandle>,
    orders: Vec<Order>,
    key: Option<String>,
) -> Result<Response, ApiError> {
    let name = printer.spec.name.clone();
    let with_picklist = match obj.get("picklist") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("invalid", "picklist", "picklist must be true or false")),
    };
    let picklist_printer = match obj.get("picklist_printer") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(printer_named(d, p).map_err(|e| e.with_detail(json!({"field": "picklist_printer"})))?),
        Some(_) => return Err(ApiError::bad_request("invalid", "picklist_printer", "picklist_printer must be a printer name")),
    };
    let picklist_printer = match (with_picklist, picklist_printer) {
        (false, Some(_)) => return Err(ApiError::bad_request("invalid", "picklist_printer", "picklist_printer needs \"picklist\": true")),
        (false, None) => None,
        (true, Some(p)) => Some(p),
        (true, None) => Some(d.workers.first_with_role(crate::config::Role::Picklist).cloned().unwrap_or_else(|| printer.clone())),
    };
    let batch_id = match obj.get("batch_id") {
        None | Some(Value::Null) => crate::picklist::batch_id(&orders, time::OffsetDateTime::now_utc()),
        Some(Value::String(s)) if valid_batch_id(s) => s.clone(),
        Some(_) => {
            return Err(ApiError::bad_request("invalid", "batch_id", "batch_id must be 1 to 100 letters, digits, '-', '_' or '.'"));
        }
    };
    let pattern = (*d.bins).clone();
    let plan = crate::batch::plan(batch_id, orders, &name, picklist_printer.as_ref().map(|p| p.spec.name.as_str()), &pattern, key.as_deref());
    let spool = d.spool.clone();
    let submitted = blocking(move || spool.submit_batch(plan)).await?;
    printer.wake();
    if let Some(p) = &picklist_printer {
        p.wake();
    }
    // The batch's starting point for SSE listeners (some documents may be duplicates, already settled).
    let (spool, events, id) = (d.spool.clone(), d.events.clone(), submitted.batch.clone());
    if let Ok(Ok(Some(b))) = tokio::task::spawn_blocking(move || spool.batch(&id)).await {
        events.publish(crate::batch::Progress::of(&b).event());
    }
    let documents: Vec<Value> = submitted
        .documents
        .iter()
        .map(|(chunk, a)| {
            let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
            v["chunk"] = json!(chunk);
            v
        })
        .collect();
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({
            "job": submitted.job,
            "printer": name,
            "batch": submitted.batch,
            "outcome": submitted.outcome,
            "chunks": submitted.chunks,
            "picklist_printer": picklist_printer.map(|p| p.spec.name.clone()),
            "documents": documents,
        })),
    )
        .into_response())
}

fn valid_batch_id(s: &str) -> bool {
    (1..=100).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// `GET /v1/batches/{id}`: counts by outcome, per chunk, and a result per document.
pub async fn batch(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let spool = d.spool.clone();
    let lookup = id.clone();
    match blocking(move || spool.batch(&lookup)).await? {
        Some(b) => Ok(axum::Json(crate::batch::Progress::of(&b)).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no_such_batch", format!("no batch {id:?}"))),
    }
}

pub async fn job(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid", "id", format!("{id:?} is not a job id")))?;
    let spool = d.spool.clone();
    match blocking(move || spool.job(id)).await? {
        Some(job) => Ok(axum::Json(job).into_response()),
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
    State(state): State<Arc<AppState>>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("bad_query", "query", e.body_text()))?;
    let mut states = Vec::new();
    for s in q.state.iter().flat_map(|s| s.split(',')).filter(|s| !s.is_empty()) {
        states.push(DocState::parse(s).ok_or_else(|| ApiError::bad_request("bad_query", "state", format!("{s:?} is not a document state")))?);
    }
    let filter = Filter { printer: q.printer, states, order_id: q.order_id, before: q.before, limit: q.limit, ..Filter::default() };
    let spool = d.spool.clone();
    let docs = blocking(move || spool.list(&filter)).await?;
    Ok(axum::Json(json!({ "documents": docs })).into_response())
}

/// Cancels every document of the job that has not started sending.
pub async fn cancel(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid", "id", format!("{id:?} is not a job id")))?;
    let spool = d.spool.clone();
    let results = blocking(move || {
        let Some(job) = spool.job(id)? else { return Ok(None) };
        let mut out = Vec::new();
        for doc in job.documents {
            let r = if doc.state.can_go(DocState::Cancelled) {
                spool.cancel(doc.id).map(|_| "cancelled".to_string()).unwrap_or_else(|e| e.to_string())
            } else {
                format!("not cancelled: already {}", doc.state)
            };
            out.push(json!({"document": doc.id, "result": r}));
        }
        Ok(Some(out))
    })
    .await?;
    match results {
        Some(r) => Ok(axum::Json(json!({ "job": id, "documents": r })).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no_such_job", format!("no job {id}"))),
    }
}

/// `POST /v1/documents/{id}/reprint` `{"reason": "...", "printer": optional}`.
pub async fn reprint(State(state): State<Arc<AppState>>, Path(id): Path<String>, bytes: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid", "id", format!("{id:?} is not a document id")))?;
    let v: Value = serde_json::from_slice(&body(bytes)?).map_err(|e| ApiError::bad_request("bad_json", "", format!("not JSON: {e}")))?;
    let reason = match v.get("reason") {
        Some(Value::String(r)) if !r.trim().is_empty() => r.trim().to_string(),
        _ => return Err(ApiError::bad_request("missing", "reason", "a reprint needs a reason (why the first label is not usable)")),
    };
    let printer = match v.get("printer") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if d.workers.get(p).is_some() => Some(p.clone()),
        Some(p) => return Err(ApiError::new(StatusCode::NOT_FOUND, "no_such_printer", format!("no printer {p} is configured"))),
    };
    let spool = d.spool.clone();
    let doc = blocking(move || spool.reprint(id, &reason, printer.as_deref())).await?;
    publish_state(&d, &doc);
    d.workers.wake(&doc.printer);
    Ok((StatusCode::ACCEPTED, axum::Json(doc)).into_response())
}

/// `POST /v1/documents/{id}/resolve` `{"outcome": "printed" | "not_printed", "reason": "..."}`: an
/// operator's answer to a label in doubt. "not_printed" cancels it and queues one reprint. Audited.
pub async fn resolve(State(state): State<Arc<AppState>>, Path(id): Path<String>, bytes: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid", "id", format!("{id:?} is not a document id")))?;
    let v: Value = serde_json::from_slice(&body(bytes)?).map_err(|e| ApiError::bad_request("bad_json", "", format!("not JSON: {e}")))?;
    let outcome = match v.get("outcome").and_then(Value::as_str) {
        Some("printed") => crate::spool::Resolution::Printed,
        Some("not_printed") => crate::spool::Resolution::NotPrinted,
        _ => return Err(ApiError::bad_request("invalid", "outcome", "outcome must be \"printed\" (it came out) or \"not_printed\" (it did not)")),
    };
    let reason = match v.get("reason") {
        Some(Value::String(r)) if !r.trim().is_empty() => r.trim().to_string(),
        _ => return Err(ApiError::bad_request("missing", "reason", "resolving a label in doubt needs a reason (what the operator saw)")),
    };
    let spool = d.spool.clone();
    let resolved = blocking(move || spool.resolve(id, outcome, &reason)).await?;
    publish_state(&d, &resolved.document);
    if let Some(copy) = &resolved.reprint {
        publish_state(&d, copy);
        d.workers.wake(&copy.printer);
    }
    Ok(axum::Json(resolved).into_response())
}

/// `POST /v1/check`: the compliance report for one order, without printing.
pub async fn check(State(state): State<Arc<AppState>>, bytes: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let order = Order::from_json_bytes(&body(bytes)?)?;
    let gate = state.gate.clone();
    let spool = state.daemon.as_ref().map(|d| d.spool.clone());
    let report = tokio::task::spawn_blocking(move || match &spool {
        Some(s) => gate.checker().check_order(&order, s.as_ref()),
        None => gate.checker().check_order(&order, &crate::comply::SeenTracking::new()),
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(axum::Json(json!({ "printable": report.is_printable(), "report": report })).into_response())
}

pub async fn printers(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let list: Vec<_> = d.workers.all().map(|p| p.view()).collect();
    Ok(axum::Json(json!({ "printers": list })).into_response())
}

fn printer_named(d: &Running, name: &str) -> Result<Arc<crate::worker::PrinterHandle>, ApiError> {
    d.workers.get(name).cloned().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no_such_printer", format!("no printer {name:?} is configured")))
}

pub async fn printer(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let p = printer_named(&d, &name)?;
    let spool = d.spool.clone();
    let counts = blocking(move || spool.counts()).await?;
    let queue: serde_json::Map<String, Value> =
        counts.into_iter().filter(|(p, _, _)| *p == name).map(|(_, s, n)| (s.as_str().to_string(), json!(n))).collect();
    let mut v = serde_json::to_value(p.view()).map_err(ApiError::internal)?;
    v["documents"] = Value::Object(queue);
    Ok(axum::Json(v).into_response())
}

pub async fn pause(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let p = printer_named(&*daemon(&state)?, &name)?;
    p.set_operator_pause(true);
    Ok(axum::Json(p.view()).into_response())
}

pub async fn resume(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let p = printer_named(&*daemon(&state)?, &name)?;
    p.set_operator_pause(false);
    Ok(axum::Json(p.view()).into_response())
}

/// `GET /v1/events`: server-sent events from the bus. A slow reader skips what it missed.
pub async fn events(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let rx = d.events.subscribe();
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
pub async fn health(d: &Running) -> Value {
    let spool = d.spool.clone();
    let counts = tokio::task::spawn_blocking(move || spool.counts()).await.ok().and_then(|r| r.ok());
    let printers: Vec<_> = d.workers.all().map(|p| p.view()).collect();
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
pub async fn metrics_lines(d: &Running) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let spool = d.spool.clone();
    if let Ok(Ok(counts)) = tokio::task::spawn_blocking(move || spool.counts()).await {
        out.push_str("# HELP labeld_documents Documents in the spool by printer and state.\n# TYPE labeld_documents gauge\n");
        for (p, s, n) in counts {
            let _ = writeln!(out, "labeld_documents{{printer=\"{p}\",state=\"{}\"}} {n}", s.as_str());
        }
    }
    out.push_str("# HELP labeld_printer_state 1 for the state each printer is in.\n# TYPE labeld_printer_state gauge\n");
    for p in d.workers.all() {
        let v = p.view();
        let _ = writeln!(out, "labeld_printer_state{{printer=\"{}\",state=\"{}\"}} 1", v.name, v.state);
    }
    out.push_str(&d.feed.metrics());
    out
}

/// `POST /v1/printers/{name}/test-print`: queues the printer's test page behind its labels. It
/// goes through the printer's worker like any document, so it never interleaves with a label.
pub async fn test_print(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let p = printer_named(&d, &name)?;
    let spool = d.spool.clone();
    let doc = NewDocument::test_page(name.clone());
    let submitted = blocking(move || spool.submit(vec![doc])).await?;
    for a in &submitted.documents {
        d.events.publish(crate::events::Event::Job {
            job: a.job,
            document: a.document,
            printer: name.clone(),
            order_id: None,
            tracking_number: None,
            state: a.state,
            reason: None,
            late: false,
        });
    }
    p.wake();
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "job": submitted.job, "printer": name, "documents": submitted.documents }))).into_response())
}

/// `POST /v1/documents/{id}/cancel`: withdraws one document (not the rest of its job) that has
/// not started sending, or drops an in-doubt one an operator has decided not to reprint.
pub async fn cancel_document(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let d = daemon(&state)?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid", "id", format!("{id:?} is not a document id")))?;
    let spool = d.spool.clone();
    let doc = blocking(move || {
        spool.cancel(id)?;
        spool.document(id)
    })
    .await?;
    publish_state(&d, &doc);
    Ok(axum::Json(doc).into_response())
}

/// Tells event listeners (the packers' page) about a change made through the API.
fn publish_state(d: &Running, doc: &crate::spool::Document) {
    d.events.publish(crate::events::Event::Job {
        job: doc.job,
        document: doc.id,
        printer: doc.printer.clone(),
        order_id: doc.order_id.clone(),
        tracking_number: doc.tracking_number.clone(),
        state: doc.state,
        reason: None,
        late: doc.late,
    });
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
