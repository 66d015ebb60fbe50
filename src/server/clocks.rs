//! The marketplace clocks over HTTP: `GET /v1/due` (the page's "due" strip) and their metrics.
//! Parcels are named by order id and tracking number only.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::StationState;
use super::error::ApiError;
use super::jobs::blocking;
use crate::station::Station;

/// `GET /v1/due`: labels not printed yet that are overdue, due within 4 h or due today, and
/// labels printed over 20 h ago that no handover has ticked off.
pub async fn due(State(state): State<Arc<StationState>>) -> Result<Response, ApiError> {
    let spool = state.station.spool().clone();
    let due = blocking(move || spool.due(time::OffsetDateTime::now_utc())).await?;
    Ok(axum::Json(super::api::Due::from(&due)).into_response())
}

/// `labeld_orders_due{window=…}`, `labeld_orders_overdue` and `labeld_labels_not_handed_over`.
pub async fn metrics_lines(d: &Station) -> String {
    let spool = d.spool().clone();
    let Ok(Ok(due)) = tokio::task::spawn_blocking(move || spool.due(time::OffsetDateTime::now_utc())).await else {
        return String::new();
    };
    let mut out = String::new();
    let _ = writeln!(out, "# HELP labeld_orders_due Orders whose labels are not printed yet, by when they are due (4h: within four hours; today: later, before the warehouse's day ends).\n# TYPE labeld_orders_due gauge");
    let _ = writeln!(out, "labeld_orders_due{{window=\"4h\"}} {}", due.soon.orders);
    let _ = writeln!(out, "labeld_orders_due{{window=\"today\"}} {}", due.today.orders);
    let _ = writeln!(out, "# HELP labeld_orders_overdue Orders whose labels are not printed and past their ship-by time.\n# TYPE labeld_orders_overdue gauge\nlabeld_orders_overdue {}", due.overdue.orders);
    let _ = writeln!(
        out,
        "# HELP labeld_labels_not_handed_over Labels printed more than 20 hours ago that no carrier handover has ticked off.\n# TYPE labeld_labels_not_handed_over gauge\nlabeld_labels_not_handed_over {}",
        due.not_handed_over.labels
    );
    out
}
