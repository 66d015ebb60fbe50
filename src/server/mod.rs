//! The local HTTP API (`/v1`) and the packers' web page, on axum.
//!
//! Every request passes [`guard`] (Host, Origin, token) before a handler runs. Handlers parse bodies
//! themselves so a bad order is a 400 naming the JSON path, never an extractor's plain-text 422 or a
//! 500. CPU work (layout, raster, PDF) runs on the blocking pool, off the reactor.
//!
//! [`ROUTES`] is the one list of endpoints: the router is checked against it and so is the OpenAPI
//! document served at `/v1/openapi.json` (tests/it/http.rs), so the two cannot drift apart.

pub mod connections;
pub mod error;
pub mod guard;
mod jobs;
mod clocks;
mod manifests;
pub mod metrics;
mod preview;
#[path = "web/web.rs"]
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::compose::Gate;
use crate::text::Fonts;
use error::ApiError;
use guard::Guard;
use metrics::Metrics;

/// One endpoint: what the router serves and the OpenAPI document describes.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
}

pub const ROUTES: &[Route] = &[
    Route { method: "GET", path: "/" },
    Route { method: "GET", path: "/app.js" },
    Route { method: "GET", path: "/style.css" },
    Route { method: "GET", path: "/healthz" },
    Route { method: "GET", path: "/metrics" },
    Route { method: "GET", path: "/v1/openapi.json" },
    Route { method: "POST", path: "/v1/render" },
    Route { method: "POST", path: "/v1/check" },
    Route { method: "POST", path: "/v1/jobs" },
    Route { method: "GET", path: "/v1/jobs" },
    Route { method: "GET", path: "/v1/jobs/{id}" },
    Route { method: "POST", path: "/v1/jobs/{id}/cancel" },
    Route { method: "POST", path: "/v1/documents/{id}/reprint" },
    Route { method: "POST", path: "/v1/documents/{id}/resolve" },
    Route { method: "POST", path: "/v1/documents/{id}/cancel" },
    Route { method: "GET", path: "/v1/documents/{id}/preview.png" },
    Route { method: "GET", path: "/v1/batches/{id}" },
    Route { method: "GET", path: "/v1/due" },
    Route { method: "GET", path: "/v1/manifests" },
    Route { method: "POST", path: "/v1/handovers" },
    Route { method: "GET", path: "/v1/printers" },
    Route { method: "GET", path: "/v1/printers/{name}" },
    Route { method: "POST", path: "/v1/printers/{name}/pause" },
    Route { method: "POST", path: "/v1/printers/{name}/resume" },
    Route { method: "POST", path: "/v1/printers/{name}/test-print" },
    Route { method: "GET", path: "/v1/events" },
];

/// The OpenAPI 3.1 description of [`ROUTES`].
pub const OPENAPI: &str = include_str!("openapi.json");

/// Largest request body: a 500-order batch is about 1 MB of JSON.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// What handlers share.
pub struct AppState {
    pub fonts: Fonts,
    /// The rules and the label template every label passes through.
    pub gate: Arc<Gate>,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
    /// The spool, workers and events when running as the daemon; `None` for a preview-only server.
    pub daemon: Option<Arc<crate::daemon::Running>>,
}

/// Listen options (from `[server]` in labeld.toml).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub listen: SocketAddr,
    /// Also bind `[::1]` on the same port (the configured host was `localhost`).
    pub also_ipv6_loopback: bool,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub token: Option<String>,
    /// Connection cap, timeouts and the cap on event streams.
    pub limits: connections::Limits,
}

pub fn router(state: Arc<AppState>, opts: &ServerOptions, bound: SocketAddr) -> Router {
    let guard = Arc::new(Guard::new(bound, &opts.allowed_hosts, &opts.allowed_origins, opts.token.clone()));
    let metrics = state.metrics.clone();
    let event_streams = Arc::new(connections::EventStreams::new(opts.limits.max_event_streams));
    Router::new()
        .route("/", get(web::index))
        .route("/app.js", get(web::app_js))
        .route("/style.css", get(web::style_css))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/render", post(preview::render))
        .route("/v1/check", post(jobs::check))
        .route("/v1/jobs", post(jobs::submit).get(jobs::list))
        .route("/v1/jobs/{id}", get(jobs::job))
        .route("/v1/jobs/{id}/cancel", post(jobs::cancel))
        .route("/v1/documents/{id}/reprint", post(jobs::reprint))
        .route("/v1/documents/{id}/resolve", post(jobs::resolve))
        .route("/v1/documents/{id}/cancel", post(jobs::cancel_document))
        .route("/v1/documents/{id}/preview.png", get(preview::document_preview))
        .route("/v1/batches/{id}", get(jobs::batch))
        .route("/v1/due", get(clocks::due))
        .route("/v1/manifests", get(manifests::manifest))
        .route("/v1/handovers", post(manifests::close))
        .route("/v1/printers", get(jobs::printers))
        .route("/v1/printers/{name}", get(jobs::printer))
        .route("/v1/printers/{name}/pause", post(jobs::pause))
        .route("/v1/printers/{name}/resume", post(jobs::resume))
        .route("/v1/printers/{name}/test-print", post(jobs::test_print))
        .route("/v1/events", get(jobs::events).layer(middleware::from_fn_with_state(event_streams, connections::limit_event_streams)))
        .fallback(no_such_route)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(guard, guard::enforce))
        .layer(middleware::from_fn_with_state(metrics, count_requests))
}

/// Binds `opts.listen` and serves until `shutdown` resolves. Returns the bound address through
/// `on_bound` first (port 0 picks a free port: tests and `labeld demo`).
pub async fn serve(
    state: Arc<AppState>,
    opts: ServerOptions,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(opts.listen).await?;
    let bound = listener.local_addr()?;
    let mut listeners = vec![listener];
    if opts.also_ipv6_loopback {
        let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, bound.port()));
        match tokio::net::TcpListener::bind(v6).await {
            Ok(l) => listeners.push(l),
            // A machine without IPv6 still serves on 127.0.0.1.
            Err(e) => tracing::warn!(addr = %v6, error = %e, "not listening on IPv6 loopback"),
        }
    }
    on_bound(bound);
    let app = router(state, &opts, bound);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let open = Arc::new(tokio::sync::Semaphore::new(opts.limits.max_connections));
    let servers = listeners.into_iter().map(|l| connections::accept(l, app.clone(), opts.limits, open.clone(), stop_rx.clone()));
    futures_util::future::join_all(servers).await;
    // Stopped accepting; every connection finishes the request in hand.
    connections::drained(&open, opts.limits).await;
    Ok(())
}

async fn count_requests(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let started = Instant::now();
    let resp = next.run(req).await;
    metrics.count_request(&route, resp.status().as_u16());
    // Route templates and status only: paths can carry ids, bodies carry buyer data.
    tracing::debug!(%method, route, status = resp.status().as_u16(), micros = started.elapsed().as_micros() as u64, "http");
    resp
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let mut body = serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs(),
    });
    if let Some(d) = &state.daemon {
        let extra = jobs::health(d).await;
        body["printers"] = extra["printers"].clone();
        body["spool"] = extra["spool"].clone();
        // Still 200 while the broker is away: the station prints what it has spooled.
        body["feed"] = serde_json::to_value(d.feed.snapshot()).unwrap_or_default();
    }
    axum::Json(body).into_response()
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    let extra = match &state.daemon {
        Some(d) => jobs::metrics_lines(d).await + &clocks::metrics_lines(d).await,
        None => String::new(),
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render(&extra)).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn no_such_route(req: Request) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_such_route", format!("no endpoint {} {}", req.method(), req.uri().path()))
}
