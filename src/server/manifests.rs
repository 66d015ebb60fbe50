//! `GET /v1/manifests`: a carrier handover manifest from the spool, as PDF, PNG or printer bytes.
//! The manifest lists parcels by tracking number and order id; nothing a buyer wrote is on it.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::StationState;
use super::error::ApiError;
use crate::compose::{Content, Target};
use crate::lang::Language;
use crate::manifest::{self, Manifest, Paper};
use crate::order::Handover;
use crate::spool::HandoverScope;

const PARAMETERS: &str = "carrier, handover, since, until, batch, format, paper, dpi, page";

/// What the query asks for, each parameter checked.
#[derive(Debug)]
struct Ask {
    carriers: Vec<String>,
    handover: Handover,
    scope: HandoverScope,
    format: Format,
    paper: Paper,
    dpi: u32,
    page: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Pdf,
    Png,
    /// The parcels as data, for the page's handover scan.
    Json,
    Printer(Language),
}

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request("bad_query", field.to_string(), message)
}

fn time_param(field: &str, value: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(value, &Rfc3339).map_err(|_| bad(field, format!("{field}={value:?} is not an RFC 3339 time such as 2026-12-06T08:00:00+08:00")))
}

#[allow(clippy::result_large_err)]
fn read(pairs: &[(String, String)], now: OffsetDateTime) -> Result<Ask, ApiError> {
    let mut carriers = Vec::new();
    let mut one: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for (k, v) in pairs {
        match k.as_str() {
            "carrier" if v.trim().is_empty() => return Err(bad("carrier", "carrier is empty; name the carrier as orders name it, e.g. carrier=J%26T%20Express")),
            "carrier" => carriers.push(v.trim().to_string()),
            "handover" | "since" | "until" | "batch" | "format" | "paper" | "dpi" | "page" => {
                if one.insert(k.as_str(), v.as_str()).is_some() {
                    return Err(bad(k, format!("{k} is given twice")));
                }
            }
            other => return Err(bad(other, format!("unknown parameter {other:?} (expected {PARAMETERS})"))),
        }
    }
    if carriers.is_empty() {
        return Err(bad("carrier", "carrier is missing; name the carrier as orders name it (repeat it for one section per carrier)"));
    }
    let handover = match one.get("handover").copied() {
        Some("pickup") => Handover::Pickup,
        Some("dropoff") => Handover::Dropoff,
        Some(other) => return Err(bad("handover", format!("handover={other:?}: use pickup or dropoff"))),
        None => return Err(bad("handover", "handover is missing: pickup or dropoff")),
    };
    let scope = match (one.get("since"), one.get("until"), one.get("batch")) {
        (Some(_), _, Some(_)) | (None, Some(_), Some(_)) => return Err(bad("batch", "give a time window (since, until) or a batch, not both")),
        (None, _, Some(id)) if id.trim().is_empty() => return Err(bad("batch", "batch is empty")),
        (None, _, Some(id)) => HandoverScope::Batch(id.trim().to_string()),
        (None, _, None) => return Err(bad("since", "since is missing: the start of the window (RFC 3339), or give batch")),
        (Some(since), until, None) => {
            let since = time_param("since", since)?;
            let until = match until {
                Some(u) => time_param("until", u)?,
                None => now,
            };
            if until <= since {
                return Err(bad("until", "until must be later than since"));
            }
            HandoverScope::Window { since, until }
        }
    };
    let format = match one.get("format").copied().unwrap_or("pdf") {
        "pdf" => Format::Pdf,
        "png" => Format::Png,
        "json" => Format::Json,
        other => match other.parse::<Language>() {
            Ok(l) => Format::Printer(l),
            Err(_) => {
                let langs: Vec<&str> = Language::ALL.iter().map(|l| l.name()).collect();
                return Err(bad("format", format!("format={other:?}: use pdf, png, json or a printer language ({})", langs.join(", "))));
            }
        },
    };
    let paper = match one.get("paper") {
        Some(p) => p.parse::<Paper>().map_err(|e| bad("paper", e))?,
        None if matches!(format, Format::Printer(_)) => Paper::Thermal100x150,
        None => Paper::A4,
    };
    if matches!(format, Format::Printer(_)) && paper != Paper::Thermal100x150 {
        return Err(bad("paper", "printer languages print on 100x150 thermal labels"));
    }
    let dpi = match one.get("dpi") {
        Some(d) => match d.parse::<u32>() {
            Ok(d @ (203 | 300)) => d,
            _ => return Err(bad("dpi", format!("dpi={d:?}: use 203 or 300"))),
        },
        None => paper.default_dpi(),
    };
    let page = match one.get("page") {
        Some(p) if format != Format::Png => return Err(bad("page", format!("page={p:?}: only a PNG is one page at a time"))),
        Some(p) => p.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| bad("page", format!("page={p:?}: a page number from 1")))?,
        None => 1,
    };
    Ok(Ask { carriers, handover, scope, format, paper, dpi, page })
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// `GET /v1/manifests?carrier=…&handover=pickup|dropoff&since=…[&until=…]|batch=…[&format=…]`.
pub async fn manifest(
    State(state): State<Arc<StationState>>,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::bad_request("bad_query", "query", e.body_text()))?;
    let now = OffsetDateTime::now_utc();
    let ask = read(&pairs, now)?;
    let d = state.station.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, &'static str, Option<usize>, u32), ApiError> {
        if let HandoverScope::Batch(id) = &ask.scope {
            if d.spool().batch(id).map_err(ApiError::internal)?.is_none() {
                let mut e = ApiError::new(StatusCode::NOT_FOUND, "no_such_batch", format!("no batch {id:?}"));
                e.field = Some("batch".into());
                return Err(e);
            }
        }
        let m = Manifest::from_spool(d.spool(), &ask.carriers, ask.handover, ask.scope.clone(), now).map_err(ApiError::internal)?;
        let parcels: u32 = m.sections.iter().map(|s| s.totals.parcels).sum();
        let fonts = &state.app.fonts;
        let laid = |e: manifest::ManifestError| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "manifest_layout", e.to_string());
        match ask.format {
            Format::Pdf => Ok((manifest::pdf(&m, ask.paper, fonts).map_err(laid)?, "application/pdf", None, parcels)),
            Format::Png => {
                let mut all = manifest::png_pages(&m, ask.paper, ask.dpi, fonts).map_err(laid)?;
                let pages = all.len();
                if ask.page > pages {
                    return Err(bad("page", format!("page={}: the manifest has {pages} page(s)", ask.page)));
                }
                Ok((all.swap_remove(ask.page - 1), "image/png", Some(pages), parcels))
            }
            Format::Printer(l) => {
                let bytes = state.app.gate.printer_bytes(Content::Manifest(&m), &Target::bare(l, ask.dpi), fonts).map(|e| e.bytes)
                    .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "manifest_layout", e.to_string()))?;
                Ok((bytes, "application/octet-stream", None, parcels))
            }
            Format::Json => {
                let sections: Vec<serde_json::Value> = m
                    .sections
                    .iter()
                    .map(|s| serde_json::json!({"carrier": s.carrier, "parcels": s.parcels.iter().map(super::api::ManifestParcel::from).collect::<Vec<_>>(), "totals": {"parcels": s.totals.parcels, "orders": s.totals.orders, "weight_g": s.totals.weight_g, "without_weight": s.totals.without_weight}}))
                    .collect();
                let body = serde_json::json!({"handover": m.handover, "generated_at": rfc3339(m.generated_at), "sections": sections});
                Ok((body.to_string().into_bytes(), "application/json", None, parcels))
            }
        }
    })
    .await
    .map_err(ApiError::internal)??;
    let (bytes, content_type, pages, parcels) = out;
    let mut resp = ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], bytes).into_response();
    let h = resp.headers_mut();
    if let Some(pages) = pages {
        h.insert(HeaderName::from_static("x-manifest-pages"), HeaderValue::from(pages));
    }
    h.insert(HeaderName::from_static("x-manifest-parcels"), HeaderValue::from(parcels));
    Ok(resp)
}

/// The most scans one handover may report.
const MAX_SCANS: usize = 5000;

/// `POST /v1/handovers` `{carrier, handover, since, until | batch, scanned: [...], by}`: closes a
/// handover. The manifest is read again from the spool with the same parameters (send `until`, the
/// moment the manifest was fetched, so a label printed meanwhile is not counted missing); scanned
/// parcels are ticked off and every parcel's labels get an audit row saying who closed it, when, and
/// whether it was scanned. The answer lists what was handed over, missing, scanned twice and unknown.
pub async fn close(State(state): State<Arc<StationState>>, bytes: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>) -> Result<Response, ApiError> {
    let bytes = super::preview::body(bytes)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request("invalid", "", format!("the body is not JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| ApiError::bad_request("invalid", "", "the body must be a JSON object"))?;
    let mut pairs = Vec::new();
    let mut scanned = Vec::new();
    let mut by = None;
    for (k, val) in obj {
        match (k.as_str(), val) {
            ("scanned", serde_json::Value::Array(items)) => {
                if items.len() > MAX_SCANS {
                    return Err(ApiError::bad_request("invalid", "scanned", format!("at most {MAX_SCANS} scans in one handover")));
                }
                for (i, item) in items.iter().enumerate() {
                    let s = item.as_str().ok_or_else(|| ApiError::bad_request("invalid", format!("scanned[{i}]"), "a scan is the text the scanner read"))?;
                    scanned.push(s.to_string());
                }
            }
            ("scanned", _) => return Err(ApiError::bad_request("invalid", "scanned", "scanned must be a list of the texts the scanner read")),
            ("by", serde_json::Value::String(s)) => by = Some(s.clone()),
            ("by", _) => return Err(ApiError::bad_request("invalid", "by", "by must be the name of who hands over")),
            ("carrier" | "handover" | "since" | "until" | "batch", serde_json::Value::String(s)) => pairs.push((k.clone(), s.clone())),
            ("carrier" | "handover" | "since" | "until" | "batch", _) => return Err(ApiError::bad_request("invalid", k.clone(), format!("{k} must be a string"))),
            (other, _) => {
                return Err(ApiError::bad_request("invalid", other.to_string(), format!("unknown field {other:?} (expected carrier, handover, since, until, batch, scanned, by)")));
            }
        }
    }
    let now = OffsetDateTime::now_utc();
    let ask = read(&pairs, now)?;
    if ask.carriers.len() != 1 {
        return Err(ApiError::bad_request("invalid", "carrier", "a handover is with one carrier"));
    }
    let by = by.ok_or_else(|| ApiError::bad_request("invalid", "by", "by is missing: the name of who hands over"))?;
    let d = state.station.clone();
    let carrier = ask.carriers[0].clone();
    let closed = super::jobs::blocking(move || {
        if let HandoverScope::Batch(id) = &ask.scope {
            if d.spool().batch(id)?.is_none() {
                return Err(crate::spool::SpoolError::Invalid(format!("batch: no batch {id:?}")));
            }
        }
        d.spool().close_handover(&carrier, ask.handover, &ask.scope, &scanned, &by, now)
    })
    .await
    .map_err(|mut e| {
        if e.status == StatusCode::BAD_REQUEST && e.field.is_none() {
            e.field = e.message.split(':').next().map(str::to_string);
        }
        e
    })?;
    tracing::info!(carrier = closed.carrier, handed_over = closed.handed_over.len(), missing = closed.missing.len(), unknown = closed.unknown.len(), "handover closed");
    Ok((StatusCode::CREATED, axum::Json(super::api::HandoverClosed::from(&closed))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(q: &str) -> Result<Ask, ApiError> {
        let uri: axum::http::Uri = format!("/v1/manifests?{q}").parse().unwrap();
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&uri).unwrap();
        read(&pairs, time::macros::datetime!(2026-12-06 12:00 UTC))
    }

    #[test]
    fn each_bad_parameter_is_named() {
        let base = "carrier=J%26T+Express&handover=pickup&since=2026-12-06T00:00:00Z";
        for (q, field) in [
            ("handover=pickup&since=2026-12-06T00:00:00Z", "carrier"),
            ("carrier=&handover=pickup&since=2026-12-06T00:00:00Z", "carrier"),
            ("carrier=X&since=2026-12-06T00:00:00Z", "handover"),
            ("carrier=X&handover=van&since=2026-12-06T00:00:00Z", "handover"),
            ("carrier=X&handover=pickup", "since"),
            ("carrier=X&handover=pickup&since=yesterday", "since"),
            (&format!("{base}&until=2026-12-05T00:00:00Z"), "until"),
            (&format!("{base}&batch=B-1"), "batch"),
            (&format!("{base}&format=docx"), "format"),
            (&format!("{base}&format=zpl&paper=a4"), "paper"),
            (&format!("{base}&paper=a3"), "paper"),
            (&format!("{base}&dpi=72"), "dpi"),
            (&format!("{base}&page=2"), "page"),
            (&format!("{base}&format=png&page=0"), "page"),
            (&format!("{base}&recipient=x"), "recipient"),
            (&format!("{base}&since=2026-12-06T01:00:00Z"), "since"),
        ] {
            let e = ask(q).expect_err(q);
            assert_eq!((e.status, e.field.as_deref()), (StatusCode::BAD_REQUEST, Some(field)), "{q}: {}", e.message);
        }
    }

    #[test]
    fn good_queries_read_as_asked() {
        let a = ask("carrier=J%26T+Express&carrier=Ninja+Van&handover=dropoff&since=2026-12-06T08:00:00%2B08:00&format=tspl").unwrap();
        assert_eq!(a.carriers, ["J&T Express", "Ninja Van"]);
        assert_eq!(a.handover, Handover::Dropoff);
        assert_eq!(
            a.scope,
            HandoverScope::Window { since: time::macros::datetime!(2026-12-06 00:00 UTC), until: time::macros::datetime!(2026-12-06 12:00 UTC) }
        );
        assert_eq!((a.format, a.paper, a.dpi), (Format::Printer(Language::Tspl), Paper::Thermal100x150, 203));
        let b = ask("carrier=UPS&handover=pickup&batch=B-7&format=png&paper=letter&page=2").unwrap();
        assert_eq!((b.scope, b.format, b.paper, b.dpi, b.page), (HandoverScope::Batch("B-7".into()), Format::Png, Paper::Letter, 300, 2));
    }
}
