//! The job feed: print jobs from the order backend over NATS JetStream, for warehouses with many
//! stations (see `docs/feed.md` for the message schema).
//!
//! Each station runs a durable pull consumer on a work-queue stream, filtered to its own subject
//! (`labels.<warehouse>.<station>`). A fetched batch goes into the local spool in one commit and
//! only then is acknowledged: a crash between the two redelivers, and the idempotency key makes the
//! redelivery a duplicate, so the label prints once. Transient spool errors nak with a delay;
//! messages that can never print (not JSON, not an order, another warehouse's order) are
//! terminated and the reason published on `labels.events.<warehouse>.<station>`, so they are not
//! redelivered forever. Job state changes go out on the same subject, with order id and tracking
//! number only, from the spool's audit log ([`outbox`]), so none is lost to a crash or an outage.
//!
//! The broker going away never stops printing: the spool has the jobs. The feed reconnects with
//! backoff and reports its state through a [`Monitor`] (`/healthz`, `/metrics`).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::config::NatsFeedConfig;
use crate::spool::{NewDocument, SpoolError};
use crate::station::Station;

mod message;
pub mod outbox;
pub mod publish;
mod status;

pub use message::{Rejection, Routes, parse};
pub use outbox::FeedEvent;
pub use status::{FeedState, Monitor, redact};

/// How long a transient failure waits before redelivery.
const NAK_DELAY: Duration = Duration::from_secs(2);
/// How long one fetch waits for messages before asking again.
const FETCH_EXPIRES: Duration = Duration::from_secs(1);
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// A running feed.
pub struct FeedHandle {
    monitor: Monitor,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FeedHandle {
    /// A handle for a daemon without `[feed.nats]`.
    pub fn disabled() -> FeedHandle {
        FeedHandle { monitor: Monitor::disabled(), stop: watch::channel(false).0, task: None }
    }

    pub fn state(&self) -> FeedState {
        self.monitor.snapshot()
    }

    /// A view of the state that outlives the handle (for the HTTP server).
    pub fn monitor(&self) -> Monitor {
        self.monitor.clone()
    }

    /// Stops fetching; messages fetched but not yet in the spool are left unacknowledged and come back.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
            self.monitor.stopped();
        }
    }

    /// Stops at once, wherever the feed is (tests use it as a crash).
    pub fn abort(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for FeedHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts the feed on the current tokio runtime: fetched jobs go in through `station`, which stores
/// them, tells listeners and wakes their printers.
pub fn start(cfg: &NatsFeedConfig, routes: Routes, station: Arc<Station>) -> FeedHandle {
    let monitor = Monitor::new(cfg, Some(station.events().clone()));
    start_with(monitor, cfg, routes, station)
}

/// [`start`] reporting into `monitor` (made before the feed, for whoever shows its state).
pub fn start_with(monitor: Monitor, cfg: &NatsFeedConfig, routes: Routes, station: Arc<Station>) -> FeedHandle {
    let (stop, stop_rx) = watch::channel(false);
    let feed = Feed { cfg: cfg.clone(), routes, station, monitor: monitor.clone() };
    let task = tokio::spawn(feed.run(stop_rx));
    FeedHandle { monitor, stop, task: Some(task) }
}

struct Feed {
    cfg: NatsFeedConfig,
    routes: Routes,
    station: Arc<Station>,
    monitor: Monitor,
}

/// Connects with the configured credentials; the client itself reconnects after this succeeds.
/// `watch` = (monitor, session number) reports the client's own disconnects and reconnects.
pub async fn connect(cfg: &NatsFeedConfig, watch: Option<(Monitor, u64)>) -> Result<async_nats::Client, String> {
    let mut opts = async_nats::ConnectOptions::new()
        .name(format!("labeld {}/{}", cfg.warehouse, cfg.station))
        .retry_on_initial_connect()
        .max_reconnects(None);
    if let (Some(u), Some(p)) = (&cfg.user, &cfg.password) {
        opts = opts.user_and_password(u.clone(), p.clone());
    }
    if let Some(t) = &cfg.token {
        opts = opts.token(t.clone());
    }
    if let Some(seed) = &cfg.nkey_seed {
        opts = opts.nkey(seed.clone());
    }
    if let Some(creds) = &cfg.creds_file {
        opts = opts.credentials_file(creds.clone()).await.map_err(|e| format!("creds_file {}: {e}", creds.display()))?;
    }
    if let Some(ca) = &cfg.tls_ca {
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let (Some(cert), Some(key)) = (&cfg.tls_cert, &cfg.tls_key) {
        opts = opts.add_client_certificate(cert.clone(), key.clone()).require_tls(true);
    }
    if let Some((monitor, session)) = watch {
        opts = opts.event_callback(move |ev| {
            let monitor = monitor.clone();
            async move {
                match ev {
                    async_nats::Event::Connected => monitor.client_event(session, true),
                    async_nats::Event::Disconnected => monitor.client_event(session, false),
                    _ => {}
                }
            }
        });
    }
    let servers: Vec<async_nats::ServerAddr> = cfg
        .servers
        .iter()
        .map(|s| s.parse().map_err(|e| format!("server {s}: {e}")))
        .collect::<Result<_, _>>()?;
    // retry_on_initial_connect makes connect return at once; the client connects in the background.
    opts.connect(servers).await.map_err(|e| e.to_string())
}

/// Creates (or finds) the work-queue stream and this station's durable pull consumer.
pub async fn bind(js: &jetstream::Context, cfg: &NatsFeedConfig) -> Result<jetstream::consumer::PullConsumer, String> {
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: cfg.stream.clone(),
            subjects: vec![cfg.stream_subject()],
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("stream {}: {e}", cfg.stream))?;
    let durable = cfg.durable();
    stream
        .get_or_create_consumer(
            &durable,
            jetstream::consumer::pull::Config {
                durable_name: Some(durable.clone()),
                filter_subject: cfg.subject(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: cfg.ack_wait,
                max_ack_pending: cfg.max_in_flight.max(1) as i64,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {durable}: {e}"))
}

impl Feed {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        // The event outbox's place in the audit log is fixed before the first message is taken, so
        // no change after the feed started can fall before it.
        loop {
            let spool = self.station.spool().clone();
            match tokio::task::spawn_blocking(move || spool.outbox_cursor(outbox::READER)).await {
                Ok(Ok(_)) => break,
                Ok(Err(e)) => self.monitor.lost(format!("spool: {e}")),
                Err(e) => self.monitor.lost(format!("spool task: {e}")),
            }
            tokio::select! {
                _ = tokio::time::sleep(BACKOFF_MAX) => {}
                _ = stop.changed() => return,
            }
        }
        let mut backoff = BACKOFF_MIN;
        loop {
            if *stop.borrow() {
                return;
            }
            let mut bound = false;
            let result = tokio::select! {
                r = self.session(&mut bound) => r,
                _ = stop.changed() => return,
            };
            if bound {
                // It worked for a while: the next try starts quick again.
                backoff = BACKOFF_MIN;
            }
            if let Err(e) = result {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "job feed: session ended");
                self.monitor.lost(e);
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// One connection's life: set up the stream and consumer, publish job events, consume.
    async fn session(&self, bound: &mut bool) -> Result<(), String> {
        let session = self.monitor.begin_session();
        let client = connect(&self.cfg, Some((self.monitor.clone(), session))).await?;
        let js = jetstream::new(client.clone());
        let consumer = bind(&js, &self.cfg).await?;
        *bound = true;
        self.monitor.connected(server_of(&client, &self.cfg));
        let sink = outbox::Sink::new(client.clone(), js.clone(), self.cfg.events_subject());
        let events = tokio::spawn(outbox::run(sink, self.cfg.clone(), self.station.spool().clone(), self.station.events().subscribe()));
        let _guard = AbortOnDrop(events);
        let mut rejections = outbox::Sink::new(client.clone(), js.clone(), self.cfg.events_subject());
        loop {
            let batch = consumer
                .fetch()
                .max_messages(self.cfg.max_in_flight.max(1))
                .expires(FETCH_EXPIRES)
                .messages()
                .await
                .map_err(|e| format!("fetch: {e}"))?;
            let messages: Vec<_> = batch.collect().await;
            let mut fetched = Vec::with_capacity(messages.len());
            for m in messages {
                match m {
                    Ok(m) => fetched.push(m),
                    // Not acknowledged, so the broker delivers it again.
                    Err(e) => tracing::debug!(error = %e, "job feed: fetch ended early"),
                }
            }
            if !fetched.is_empty() {
                let redelivered = fetched.iter().filter(|m| m.info().is_ok_and(|i| i.delivered > 1)).count() as u64;
                self.monitor.count(|s| {
                    s.received += fetched.len() as u64;
                    s.redelivered += redelivered;
                });
                self.handle(&mut rejections, fetched).await?;
            }
        }
    }

    /// Writes a fetched batch into the spool, then acknowledges it.
    async fn handle(&self, sink: &mut outbox::Sink, messages: Vec<jetstream::Message>) -> Result<(), String> {
        let mut good = Vec::new();
        for m in messages {
            // Off the reactor: a marketplace document is read and checked, and its URL fetched.
            let (payload, warehouse, routes) = (m.payload.clone(), self.cfg.warehouse.clone(), self.routes.clone());
            let documents = self.station.documents().clone();
            let parsed = tokio::task::spawn_blocking(move || message::parse_with(&payload, &warehouse, &routes, &documents))
                .await
                .unwrap_or_else(|e| Err((Rejection::Invalid(format!("reading the message failed: {e}")), None)));
            match parsed {
                Ok(doc) => good.push((m, doc)),
                Err((why, order_id)) => self.reject(sink, &m, why, order_id).await?,
            }
        }
        if good.is_empty() {
            return Ok(());
        }
        let docs: Vec<_> = good.iter().map(|(_, d)| d.clone()).collect();
        match self.submit(docs).await {
            // Committed, announced and the printers woken: whatever happens to the acks, they print.
            Ok(()) => {
                for (m, _) in &good {
                    self.ack(m).await?;
                }
            }
            // One bad document fails the whole commit: find it by submitting one at a time.
            Err(Submit::Refused(_)) if good.len() > 1 => {
                for (m, doc) in good {
                    match self.submit(vec![doc]).await {
                        Ok(()) => self.ack(&m).await?,
                        Err(Submit::Refused(why)) => self.reject(sink, &m, Rejection::Refused(why), None).await?,
                        Err(Submit::Transient(e)) => self.nak(&m, &e).await?,
                    }
                }
            }
            Err(Submit::Refused(why)) => {
                let (m, _) = &good[0];
                self.reject(sink, m, Rejection::Refused(why), None).await?;
            }
            Err(Submit::Transient(e)) => {
                for (m, _) in &good {
                    self.nak(m, &e).await?;
                }
            }
        }
        Ok(())
    }

    /// Into the spool through the station, which wakes the printers of new documents and tells the
    /// web page; the feed's own `accepted` events come from the spool's audit log (see [`outbox`]).
    async fn submit(&self, docs: Vec<NewDocument>) -> Result<(), Submit> {
        let station = self.station.clone();
        match tokio::task::spawn_blocking(move || station.submit(docs)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(SpoolError::Invalid(why) | SpoolError::KeyConflict(why))) => Err(Submit::Refused(why)),
            Ok(Err(e)) => Err(Submit::Transient(e.to_string())),
            // The spool task died: whether it committed is unknown, so the broker keeps the message
            // (a redelivery of a committed one is a duplicate).
            Err(e) => Err(Submit::Transient(format!("spool task: {e}"))),
        }
    }

    async fn ack(&self, m: &jetstream::Message) -> Result<(), String> {
        m.ack().await.map_err(|e| format!("ack: {e}"))?;
        self.monitor.count(|s| s.acked += 1);
        Ok(())
    }

    async fn nak(&self, m: &jetstream::Message, e: &str) -> Result<(), String> {
        tracing::warn!(error = %e, "job feed: spool refused a batch for now; the broker redelivers it");
        self.monitor.count(|s| {
            s.last_error = Some(format!("spool: {e}"));
            s.naked += 1;
        });
        m.ack_with(AckKind::Nak(Some(NAK_DELAY))).await.map_err(|e| format!("nak: {e}"))
    }

    async fn reject(&self, sink: &mut outbox::Sink, m: &jetstream::Message, why: Rejection, order_id: Option<String>) -> Result<(), String> {
        let seq = m.info().ok().map(|i| i.stream_sequence);
        tracing::warn!(kind = why.kind(), reason = why.reason(), sequence = ?seq, "job feed: message terminated");
        let event = FeedEvent {
            event: "rejected".into(),
            warehouse: self.cfg.warehouse.clone(),
            station: self.cfg.station.clone(),
            order_id,
            tracking_number: None,
            printer: None,
            document: None,
            reason: Some(format!("{}: {}", why.kind(), why.reason())),
            late: false,
            stream_sequence: seq,
        };
        // The event first, confirmed: a terminated message with no word of why would be lost silently.
        sink.send(std::slice::from_ref(&event)).await?;
        m.ack_with(AckKind::Term).await.map_err(|e| format!("term: {e}"))?;
        self.monitor.count(|s| s.terminated += 1);
        Ok(())
    }
}

/// Why a batch did not go into the spool.
enum Submit {
    /// The spool will never take it (the caller's fault): terminate.
    Refused(String),
    /// Maybe later: nak, the broker redelivers.
    Transient(String),
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The configured server the client is on (credentials removed), as the operator wrote it.
fn server_of(client: &async_nats::Client, cfg: &NatsFeedConfig) -> String {
    let info = client.server_info();
    let configured: Vec<String> = cfg.servers.iter().map(|s| redact(s)).collect();
    configured
        .iter()
        .find(|s| s.ends_with(&format!("{}:{}", info.host, info.port)))
        .or_else(|| configured.iter().find(|s| s.ends_with(&format!(":{}", info.port))))
        .cloned()
        .or_else(|| configured.first().cloned())
        .unwrap_or_default()
}
