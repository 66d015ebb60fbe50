//! The local HTTP API (`/v1`) and the packers' web page, on axum.
//!
//! Every request passes [`guard`] (Host, Origin, token) before a handler runs. Handlers read bodies
//! into typed structs themselves ([`request`]) so a bad order is a 400 naming the JSON path, never an
//! extractor's plain-text 422 or a 500. CPU work (layout, raster, PDF) and station calls (spool commits)
//! run on the blocking pool, off the reactor. A daemon serves its [`Station`]'s routes; a preview-only
//! server has none of them.
//!
//! [`ROUTES`] is the one list of endpoints: the router is checked against it and so is the OpenAPI
//! document served at `/v1/openapi.json` (tests/it/http.rs), so the two cannot drift apart.

pub mod api;
pub mod connections;
pub mod error;
pub mod guard;
mod jobs;
mod clocks;
mod manifests;
pub mod metrics;
mod preview;
mod request;
mod scans;
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

use crate::comply::{DuplicateTracking, NoSpool};
use crate::compose::Gate;
use crate::feed::Monitor;
use crate::station::Station;
use crate::text::Fonts;
use error::ApiError;
use guard::Guard;
use metrics::Metrics;

/// One endpoint: what the router serves and the OpenAPI document describes.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// Served only with a station (the daemon): a preview-only server answers 404 `no_such_route`.
    pub station: bool,
}

const fn any(method: &'static str, path: &'static str) -> Route {
    Route { method, path, station: false }
}

const fn station(method: &'static str, path: &'static str) -> Route {
    Route { method, path, station: true }
}

pub const ROUTES: &[Route] = &[
    any("GET", "/"),
    any("GET", "/app.js"),
    any("GET", "/style.css"),
    any("GET", "/healthz"),
    any("GET", "/metrics"),
    any("GET", "/v1/openapi.json"),
    any("POST", "/v1/render"),
    any("POST", "/v1/check"),
    station("POST", "/v1/jobs"),
    station("GET", "/v1/jobs"),
    station("GET", "/v1/jobs/{id}"),
    station("POST", "/v1/jobs/{id}/cancel"),
    station("POST", "/v1/documents/{id}/reprint"),
    station("POST", "/v1/documents/{id}/resolve"),
    station("POST", "/v1/documents/{id}/cancel"),
    station("GET", "/v1/documents/{id}/preview.png"),
    station("GET", "/v1/batches/{id}"),
    station("GET", "/v1/due"),
    station("GET", "/v1/manifests"),
    station("POST", "/v1/handovers"),
    station("POST", "/v1/scans"),
    station("GET", "/v1/printers"),
    station("GET", "/v1/printers/{name}"),
    station("POST", "/v1/printers/{name}/pause"),
    station("POST", "/v1/printers/{name}/resume"),
    station("POST", "/v1/printers/{name}/test-print"),
    station("GET", "/v1/events"),
];

/// The OpenAPI 3.1 description of [`ROUTES`].
pub const OPENAPI: &str = include_str!("openapi.json");

/// Largest request body: a 500-order batch is about 1 MB of JSON.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// What every server's handlers share: previews and checks.
pub struct AppState {
    pub fonts: Fonts,
    /// The rules and the label template every label passes through.
    pub gate: Arc<Gate>,
    /// Where a tracking number already used by another order is found: the spool in the daemon,
    /// nothing for a preview-only server.
    pub seen: Arc<dyn DuplicateTracking + Send + Sync>,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
}

impl AppState {
    /// A server that previews and checks labels only: no spool, no printers.
    pub fn preview(fonts: Fonts, gate: Arc<Gate>) -> AppState {
        AppState { fonts, gate, seen: Arc::new(NoSpool), metrics: Default::default(), started: Instant::now() }
    }
}

/// The daemon's handlers: the shared state, the station and the job feed's state.
pub struct StationState {
    pub app: Arc<AppState>,
    pub station: Arc<Station>,
    /// The NATS feed's state (`disabled` without `[feed.nats]`).
    pub feed: Monitor,
}

/// What a server serves: previews only, or a station's whole API.
#[derive(Clone)]
pub enum Served {
    Preview(Arc<AppState>),
    Station(Arc<StationState>),
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

/// The routes every server has, `/healthz` and `/metrics` aside (a station's say more).
fn shared_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(web::index))
        .route("/app.js", get(web::app_js))
        .route("/style.css", get(web::style_css))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/render", post(preview::render))
        .route("/v1/check", post(jobs::check))
}

/// The router for `served`, behind the guard. A preview-only server has no station routes: they are
/// 404 `no_such_route` there, like any unknown path.
pub fn router(served: Served, opts: &ServerOptions, bound: SocketAddr) -> Router {
    let guard = Arc::new(Guard::new(bound, &opts.allowed_hosts, &opts.allowed_origins, opts.token.clone()));
    let event_streams = Arc::new(connections::EventStreams::new(opts.limits.max_event_streams));
    let (routes, metrics) = match served {
        Served::Preview(app) => {
            let metrics = app.metrics.clone();
            (shared_routes().route("/healthz", get(healthz)).route("/metrics", get(metrics_text)).with_state(app), metrics)
        }
        Served::Station(state) => {
            let metrics = state.app.metrics.clone();
            let station = Router::new()
                .route("/healthz", get(station_healthz))
                .route("/metrics", get(station_metrics_text))
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
                .route("/v1/scans", post(scans::scan))
                .route("/v1/printers", get(jobs::printers))
                .route("/v1/printers/{name}", get(jobs::printer))
                .route("/v1/printers/{name}/pause", post(jobs::pause))
                .route("/v1/printers/{name}/resume", post(jobs::resume))
                .route("/v1/printers/{name}/test-print", post(jobs::test_print))
                .route("/v1/events", get(jobs::events).layer(middleware::from_fn_with_state(event_streams, connections::limit_event_streams)))
                .with_state(state.clone());
            (shared_routes().with_state(state.app.clone()).merge(station), metrics)
        }
    };
    routes
        .fallback(no_such_route)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(guard, guard::enforce))
        .layer(middleware::from_fn_with_state(metrics, count_requests))
}

/// Binds `opts.listen` and serves until `shutdown` resolves. Returns the bound address through
/// `on_bound` first (port 0 picks a free port: tests and `labeld demo`).
pub async fn serve(
    served: Served,
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
    let app = router(served, &opts, bound);
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

fn health_body(app: &AppState) -> serde_json::Value {
    serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": app.started.elapsed().as_secs(),
    })
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(health_body(&state)).into_response()
}

async fn station_healthz(State(state): State<Arc<StationState>>) -> Response {
    let mut body = health_body(&state.app);
    let extra = jobs::health(&state.station).await;
    body["printers"] = extra["printers"].clone();
    body["spool"] = extra["spool"].clone();
    // Still 200 while the broker is away: the station prints what it has spooled.
    body["feed"] = serde_json::to_value(api::FeedHealth::from(&state.feed.snapshot())).unwrap_or_default();
    axum::Json(body).into_response()
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render("")).into_response()
}

async fn station_metrics_text(State(state): State<Arc<StationState>>) -> Response {
    let extra = jobs::metrics_lines(&state.station, &state.feed).await + &clocks::metrics_lines(&state.station).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.app.metrics.render(&extra)).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn no_such_route(req: Request) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_such_route", format!("no endpoint {} {}", req.method(), req.uri().path()))
}
