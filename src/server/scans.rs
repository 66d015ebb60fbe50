//! `POST /v1/scans`: a packer's scan at the bench releases the label waiting for that order (see
//! `spool::scan`). Every outcome a packer can cause (printing, already printed, unknown code) is a
//! 200 with `result` and a sentence to show; a malformed body is a 400, an unknown printer a 404.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::StationState;
use super::error::ApiError;
use super::jobs::on_station;
use super::preview::body;
use super::request::json_body;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanBody {
    /// What the scanner read: an order id (the pick list's Code 128) or a single-item order's SKU.
    code: String,
    /// The bench's printer; default: the printer each label was submitted to.
    printer: Option<String>,
}

pub async fn scan(State(state): State<Arc<StationState>>, bytes: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let req: ScanBody = json_body(&body(bytes)?)?;
    let code = req.code.trim().to_string();
    if code.is_empty() {
        return Err(ApiError::bad_request("missing", "code", "code is empty: scan an order id or a SKU"));
    }
    if code.chars().count() > crate::spool::SCAN_MAX_CODE || code.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid",
            "code",
            format!("code must be at most {} printable characters", crate::spool::SCAN_MAX_CODE),
        ));
    }
    let answer = on_station(&state.station, move |s| s.scan(&code, req.printer.as_deref())).await?;
    // The code and ids only: the answer never carries buyer data, and neither does this line.
    tracing::info!(result = answer.result.as_str(), order_id = answer.order_id.as_deref().unwrap_or(""), printer = answer.printer.as_deref().unwrap_or(""), "scan");
    Ok(axum::Json(super::api::Scan::from(&answer)).into_response())
}
