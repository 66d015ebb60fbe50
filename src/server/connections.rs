//! Connections: how many the daemon holds open and how long each may take.
//!
//! `axum::serve` would hold a connection for as long as a client keeps it: a request whose headers never
//! finish, a chunked body that never ends, and as many of them as the open-file limit allows. Here each
//! connection is served by hyper's HTTP/1.1 server under [`Limits`]:
//! - at most `max_connections` open; one more is answered 503 and closed;
//! - a request's head must arrive within `header_timeout` of the connection opening or of its first
//!   byte after an idle keep-alive (else 408 and close), its body within `body_timeout` of the head
//!   (else 408 and close);
//! - a kept-alive connection with no request for `idle_timeout` is closed;
//! - at most `max_event_streams` `GET /v1/events` streams at once; one more is answered 429.
//!
//! The head and idle clocks live in the socket wrapper [`Watched`], since only it sees bytes arrive
//! before hyper has a request; the body clock wraps the request body ([`TimeoutBody`]); the response
//! body ([`EndWatch`]) tells the connection when a request is over, so an event stream, however long,
//! is never idle.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::error::ApiError;

pub use crate::config::Limits;

/// Accepts on `listener` until `stop` turns true, serving each connection under `limits`; `open`
/// holds one permit per open connection.
pub(super) async fn accept(listener: TcpListener, app: Router, limits: Limits, open: Arc<Semaphore>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors or a connection reset before it was accepted: keep serving.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match open.clone().try_acquire_owned() {
            Ok(permit) => {
                let (app, stop) = (app.clone(), stop.clone());
                tokio::spawn(async move {
                    serve_connection(stream, app, limits, stop).await;
                    drop(permit);
                });
            }
            Err(_) => {
                tracing::debug!(max = limits.max_connections, "connection refused: at the cap");
                tokio::spawn(refuse(stream, limits.max_connections));
            }
        }
    }
}

/// Waits until every connection counted in `open` has closed.
pub(super) async fn drained(open: &Semaphore, limits: Limits) {
    let _ = open.acquire_many(limits.max_connections as u32).await;
}

async fn serve_connection(stream: TcpStream, app: Router, limits: Limits, mut stop: watch::Receiver<bool>) {
    let clock = Arc::new(Clock::new(limits));
    let io = TokioIo::new(Watched::new(stream, clock.clone()));
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (mut app, clock) = (app.clone(), clock.clone());
        async move {
            clock.request_started();
            let timed_out = Arc::new(AtomicBool::new(false));
            let req = req.map(|b| Body::new(TimeoutBody::new(b, limits.body_timeout, timed_out.clone())));
            let resp = match app.call(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            // The handler saw its body fail; the client is told why, and the connection closes.
            let resp = if timed_out.load(Ordering::Relaxed) { timeout_response("body", limits.body_timeout) } else { resp };
            Ok::<_, Infallible>(resp.map(|b| Body::new(EndWatch { inner: b, clock: Some(clock) })))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(io, service);
    tokio::pin!(conn);
    let stopping = tokio::select! {
        _ = conn.as_mut() => false,
        _ = async { let _ = stop.wait_for(|s| *s).await; } => true,
    };
    if stopping {
        // Finish the request in hand, then close.
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }
}

/// One connection over the cap: a 503 and close, without reading the request.
async fn refuse(mut stream: TcpStream, max: usize) {
    let message = format!("the daemon already serves {max} connections, the most it holds open; retry in a moment");
    let wire = raw_response(StatusCode::SERVICE_UNAVAILABLE, "too_many_connections", &message, Some("1"));
    // Bounded: a client that neither reads nor closes is dropped after a second.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&wire).await?;
        stream.shutdown().await?;
        // Read what the client sent until it closes, so closing does not reset the connection and
        // lose the answer.
        let mut sink = [0u8; 1024];
        while tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    })
    .await;
}

fn timeout_response(part: &str, after: Duration) -> Response {
    let mut resp = ApiError::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", timeout_message(part, after)).into_response();
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn timeout_message(part: &str, after: Duration) -> String {
    format!("the request's {part} did not arrive within {} s; the connection is closed", after.as_secs_f32())
}

/// A whole HTTP/1.1 response with the API's JSON error body, for the answers written straight to the
/// socket (hyper is not serving the connection, or is waiting for a head that never came).
fn raw_response(status: StatusCode, code: &str, message: &str, retry_after: Option<&str>) -> Vec<u8> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let retry = retry_after.map(|s| format!("retry-after: {s}\r\n")).unwrap_or_default();
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{retry}connection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}

/// Where a connection is between requests, and until when it may stay there.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request's head to finish: 408 at the deadline.
    Head(Instant),
    /// A request is being handled or its response sent: no clock here (the body has its own).
    Busy,
    /// Kept alive with no request: closed at the deadline.
    Idle(Instant),
}

struct Clock {
    phase: Mutex<Phase>,
    limits: Limits,
}

impl Clock {
    fn new(limits: Limits) -> Clock {
        Clock { phase: Mutex::new(Phase::Head(Instant::now() + limits.header_timeout)), limits }
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn bytes_arrived(&self) {
        let mut phase = self.lock();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now() + self.limits.header_timeout);
        }
    }
    fn request_started(&self) {
        *self.lock() = Phase::Busy;
    }
    fn response_finished(&self) {
        *self.lock() = Phase::Idle(Instant::now() + self.limits.idle_timeout);
    }
    fn phase(&self) -> Phase {
        *self.lock()
    }
}

/// The socket, with the head and idle clocks: a read that waits past the deadline ends the connection
/// (after a 408 when a head was due).
struct Watched {
    stream: TcpStream,
    clock: Arc<Clock>,
    timer: Pin<Box<Sleep>>,
    timer_at: Option<Instant>,
    expired: bool,
}

impl Watched {
    fn new(stream: TcpStream, clock: Arc<Clock>) -> Watched {
        Watched { stream, clock, timer: Box::pin(tokio::time::sleep(Duration::ZERO)), timer_at: None, expired: false }
    }
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.bytes_arrived();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let (deadline, head_due) = match this.clock.phase() {
                    Phase::Busy => return Poll::Pending,
                    Phase::Head(at) => (at, true),
                    Phase::Idle(at) => (at, false),
                };
                if this.timer_at != Some(deadline) {
                    this.timer.as_mut().reset(deadline);
                    this.timer_at = Some(deadline);
                }
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.expired = true;
                if head_due {
                    let message = timeout_message("headers", this.clock.limits.header_timeout);
                    // Best effort: nothing else is being written while a head is due.
                    let _ = this.stream.try_write(&raw_response(StatusCode::REQUEST_TIMEOUT, "request_timeout", &message, None));
                }
                // End of input: hyper closes the connection.
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A request body that must arrive whole within its deadline.
struct TimeoutBody {
    inner: Incoming,
    timer: Pin<Box<Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl TimeoutBody {
    fn new(inner: Incoming, within: Duration, timed_out: Arc<AtomicBool>) -> TimeoutBody {
        TimeoutBody { inner, timer: Box::pin(tokio::time::sleep(within)), timed_out }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

impl http_body::Body for TimeoutBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.timed_out.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(BodyTimedOut.into())))
            }
        }
    }
    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.inner)
    }
    fn size_hint(&self) -> SizeHint {
        http_body::Body::size_hint(&self.inner)
    }
}

/// A response body that tells the connection's clock when it is done (sent whole, or dropped).
struct EndWatch {
    inner: Body,
    clock: Option<Arc<Clock>>,
}

impl EndWatch {
    fn finish(&mut self) {
        if let Some(clock) = self.clock.take() {
            clock.response_finished();
        }
    }
}

impl Drop for EndWatch {
    fn drop(&mut self) {
        self.finish();
    }
}

impl http_body::Body for EndWatch {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            this.finish();
        }
        frame
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The open event streams: one permit each, held by the stream's body.
pub struct EventStreams {
    open: Arc<Semaphore>,
    max: usize,
}

impl EventStreams {
    pub fn new(max: usize) -> EventStreams {
        EventStreams { open: Arc::new(Semaphore::new(max)), max }
    }
}

/// Middleware for `GET /v1/events`: 429 when `max_event_streams` are open.
pub async fn limit_event_streams(State(streams): State<Arc<EventStreams>>, req: Request, next: Next) -> Response {
    let Ok(permit) = streams.open.clone().try_acquire_owned() else {
        let message = format!("{} event streams are open, the most the daemon serves; close one (another tab?) and retry", streams.max);
        return ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_streams", message)
            .with_header(header::RETRY_AFTER, "5")
            .into_response();
    };
    next.run(req).await.map(|body| Body::new(Holding { inner: body, _permit: permit }))
}

/// A body that holds a permit for as long as it lives.
struct Holding {
    inner: Body,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl http_body::Body for Holding {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
