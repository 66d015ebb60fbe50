//! `POST /v1/render`: an order in, the label out (PNG or PDF), exactly as it would print.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use crate::compose::{self, ComposeError};
use crate::order::Order;
use crate::render;

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
        let label = match state.gate.label(&order, &crate::comply::NoSpool, &state.fonts, &opts) {
            Ok(l) => l,
            Err(e) => {
                state.metrics.labels_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(refused(&e));
            }
        };
        state.metrics.render_seconds.observe(started.elapsed());
        state.metrics.labels_rendered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if q.format == "pdf" {
            let pdf = render::pdf::paint(&[&label.document], &state.fonts, &format!("Label {}", order.order_id)).map_err(ApiError::internal)?;
            Ok((pdf, "application/pdf"))
        } else {
            Ok((render::png::encode(&label.raster, q.dpi), "image/png"))
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
    let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", e.to_string()).with_detail(serde_json::json!({ "refusals": refusals }));
    err.field = first_field;
    err
}
