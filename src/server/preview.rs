//! `POST /v1/render`: an order in, the label out (PNG or PDF), exactly as it would print; and
//! `GET /v1/documents/{id}/preview.png`: a stored document as its printer gets it.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::ApiError;
use super::{AppState, StationState};
use crate::compose::test_page::{self, TestPage};
use crate::compose::{self, ComposeError};
use crate::lang::{self, Language};
use crate::order::Order;
use crate::render;
use crate::spool::{Kind, SpoolError, StoredContent};
use crate::station::Station;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderQuery {
    #[serde(default = "default_format")]
    format: String,
    #[serde(default = "default_dpi")]
    dpi: u32,
}

fn default_format() -> String {
    "png".into()
}
fn default_dpi() -> u32 {
    203
}

/// Reads a request body, turning "too large" into the API's JSON error.
pub(super) fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "body_too_large", format!("request body is larger than {} bytes", super::MAX_BODY))
        } else {
            ApiError::new(status, "bad_body", e.body_text())
        }
    })
}

pub async fn render(
    State(state): State<Arc<AppState>>,
    query: Result<Query<RenderQuery>, axum::extract::rejection::QueryRejection>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("bad_query", "query", e.body_text()))?;
    if q.dpi != 203 && q.dpi != 300 {
        return Err(ApiError::bad_request("bad_query", "dpi", format!("{}: thermal label printers print at 203 or 300 dpi", q.dpi)));
    }
    if q.format != "png" && q.format != "pdf" {
        return Err(ApiError::bad_request("bad_query", "format", format!("{:?}: use png or pdf", q.format)));
    }
    let order = Order::from_json_bytes(&body(bytes)?)?;
    let out = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, &'static str), ApiError> {
        let started = Instant::now();
        let opts = compose::Options { dpi: q.dpi, printed_at: time::OffsetDateTime::now_utc() };
        // The same rules as printing: with a spool, a tracking number already on another order is a duplicate.
        let label = match state.gate.label(&order, state.seen.as_ref(), &state.fonts, &opts) {
            Ok(l) => l,
            Err(e) => {
                state.metrics.labels_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(refused(&e));
            }
        };
        state.metrics.render_seconds.observe(started.elapsed());
        state.metrics.labels_rendered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if q.format == "pdf" {
            let pdf = render::pdf::paint(&[label.document()], &state.fonts, &format!("Label {}", order.order_id)).map_err(ApiError::internal)?;
            Ok((pdf, "application/pdf"))
        } else {
            Ok((render::png::encode(label.raster(), q.dpi), "image/png"))
        }
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(([(header::CONTENT_TYPE, out.1)], out.0).into_response())
}

/// A label that cannot be printed: 422 with each refusal's rule and field.
fn refused(e: &ComposeError) -> ApiError {
    let refusals: Vec<serde_json::Value> = match e {
        ComposeError::Refused(report) => report.refusals.iter().map(|r| serde_json::to_value(r).unwrap_or_default()).collect(),
        ComposeError::Layout(errors) => errors
            .iter()
            .map(|err| serde_json::json!({"rule": err.rule(), "path": err.field(), "message": err.to_string()}))
            .collect(),
        other => vec![serde_json::json!({"rule": "barcode", "path": "shipment.tracking_number", "message": other.to_string()})],
    };
    let first_field = refusals.first().and_then(|r| r["path"].as_str()).map(String::from);
    let message = match e {
        ComposeError::Refused(report) if report.refusals.iter().all(|r| r.text.is_empty()) => format!("refused: {}", report.summary()),
        other => other.to_string(),
    };
    let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", message).with_detail(serde_json::json!({ "refusals": refusals }));
    err.field = first_field;
    err
}

/// A stored document's refusal as anyone but the original submitter may see it: rules and fields,
/// not the refused text (which can be the buyer's name, phone or address).
fn without_text(e: ComposeError) -> ComposeError {
    match e {
        ComposeError::Refused(report) => ComposeError::Refused(report.without_text()),
        other => other,
    }
}

/// `GET /v1/documents/{id}/preview.png`: what the printer gets (or got) for a document.
///
/// Once rendered, the stored printer bytes are decoded back to the raster, so the preview is the
/// label as sent, not a second rendering of it. Before that (queued, held, failed, cancelled) the
/// stored order goes through the same rules and layout a worker would use at the printer's dpi; a
/// refused order is a 422 with the report, like `/v1/render`. The image is the label itself, with
/// the buyer's address on it: it is never cached.
#[allow(clippy::result_large_err)]
pub async fn document_preview(State(state): State<Arc<StationState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request("invalid", "id", format!("{id:?} is not a document id")))?;
    let png = tokio::task::spawn_blocking(move || stored_preview(&state.app, &state.station, id)).await.map_err(ApiError::internal)??;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], png).into_response())
}

// ApiError is what every handler returns; boxing it here alone would gain nothing.
#[allow(clippy::result_large_err)]
fn stored_preview(state: &AppState, d: &Station, id: i64) -> Result<Vec<u8>, ApiError> {
    let spool_err = |e: SpoolError| match e {
        SpoolError::NoDocument(id) => ApiError::new(StatusCode::NOT_FOUND, "no_such_document", format!("no document {id}")),
        SpoolError::Purged(_) => ApiError::new(StatusCode::GONE, "purged", e.to_string()),
        other => ApiError::internal(other),
    };
    let doc = d.spool().document(id).map_err(spool_err)?;
    if doc.purged {
        return Err(ApiError::new(StatusCode::GONE, "purged", format!("document {id}: buyer data was purged after the retention period; there is nothing to show")));
    }
    if doc.kind == Kind::Picklist {
        return Err(ApiError::new(StatusCode::CONFLICT, "no_preview", format!("document {id} is a pick list; previews show labels and test pages")));
    }
    let profile = d.workers().get(&doc.printer).map(|p| p.spec.profile.clone());
    let dpi = profile.as_ref().map_or(203, |p| p.dpi);
    // The bytes as stored for the printer, decoded: exactly what it was (or will be) sent.
    if let Some(stored) = d.spool().rendered(id).map_err(spool_err)? {
        let language: Language = stored.format.parse().map_err(|e: String| ApiError::internal(format!("document {id}: {e}")))?;
        let pages = lang::labels(lang::decode_all(language, dpi, &stored.bytes).map_err(|e| ApiError::internal(format!("document {id}: stored {language} bytes: {e}")))?);
        let first = pages.into_iter().next().ok_or_else(|| ApiError::internal(format!("document {id}: the stored {language} bytes hold no label")))?;
        return Ok(render::png::encode(&first, dpi));
    }
    match d.spool().content(id).map_err(spool_err)? {
        StoredContent::TestPage => {
            let profile = profile.ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "no_such_printer", format!("printer {:?} is no longer configured", doc.printer)))?;
            Ok(render::png::encode(&test_page::render(&TestPage::for_profile(&profile), &state.fonts), dpi))
        }
        StoredContent::Order(order) => {
            let opts = compose::Options { dpi, printed_at: time::OffsetDateTime::now_utc() };
            let label = state.gate.label(&order, d.spool().as_ref(), &state.fonts, &opts).map_err(|e| refused(&without_text(e)))?;
            Ok(render::png::encode(label.raster(), dpi))
        }
        StoredContent::Document(m) => {
            // Drawn for the printer's media as the worker draws it; the page carrying the tracking
            // barcode first, else the first page (a held document shows what was judged).
            let media = profile.as_ref().map(crate::marketdoc::Media::of_profile).unwrap_or_else(|| crate::marketdoc::Media::four_by_six(dpi));
            let fit = d.workers().get(&doc.printer).map(|p| p.spec.fit).unwrap_or_default();
            let drawn = crate::marketdoc::render(&m.file.bytes, &media, fit)
                .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.rule(), format!("document {id}: {e}")))?;
            let verdict = crate::marketdoc::prove::prove(&drawn.pages, Some(&m.tracking_number));
            // A slips document shows its first slip.
            let first = if m.part == crate::marketdoc::Part::Slips { crate::marketdoc::PageRole::Slip } else { crate::marketdoc::PageRole::Label };
            let shown = verdict.roles.iter().position(|r| *r == first).unwrap_or(0);
            Ok(render::png::encode(&drawn.pages[shown].raster, dpi))
        }
        StoredContent::Orders(_) | StoredContent::Purged { .. } => {
            Err(ApiError::new(StatusCode::CONFLICT, "no_preview", format!("document {id} has no label to show")))
        }
    }
}
