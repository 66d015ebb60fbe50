//! The job feed: print jobs from the order backend over NATS JetStream, for warehouses with many
//! stations (see `docs/feed.md` for the message schema).
//!
//! Each station runs a durable pull consumer on a work-queue stream, filtered to its own subject
//! (`labels.<warehouse>.<station>`). A fetched batch goes into the local spool in one commit and
//! only then is acknowledged: a crash between the two redelivers, and the idempotency key makes the
//! redelivery a duplicate, so the label prints once. Transient spool errors nak with a delay;
//! messages that can never print (not JSON, not an order, another warehouse's order) are
//! terminated and the reason published on `labels.events.<warehouse>.<station>`, so they are not
//! redelivered forever. Job state changes from the [`EventBus`] go out on the same subject, with
//! order id and tracking number only.
//!
//! The broker going away never stops printing: the spool has the jobs. The feed reconnects with
//! backoff and reports its state through [`FeedHandle::state`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::watch;

use crate::config::NatsFeedConfig;
use crate::events::{Event, EventBus};
use crate::spool::{Outcome, Spool, SpoolError, State};

mod message;
pub mod publish;

pub use message::{Rejection, Routes, parse};

/// How long a transient failure waits before redelivery.
const NAK_DELAY: Duration = Duration::from_secs(2);
/// How long one fetch waits for messages before asking again.
const FETCH_EXPIRES: Duration = Duration::from_secs(1);
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The feed's connection, for `/healthz`, metrics and the web page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedState {
    /// `connected`, `reconnecting` or `disabled`.
    pub state: &'static str,
    pub last_error: Option<String>,
    /// Messages written to the spool (new or duplicate) and acknowledged.
    pub accepted: u64,
    /// Messages terminated as invalid or refused.
    pub rejected: u64,
}

impl FeedState {
    fn new(state: &'static str) -> FeedState {
        FeedState { state, last_error: None, accepted: 0, rejected: 0 }
    }
}

/// A running feed.
pub struct FeedHandle {
    state: Arc<Mutex<FeedState>>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FeedHandle {
    /// A handle for a daemon without `[feed.nats]`.
    pub fn disabled() -> FeedHandle {
        FeedHandle { state: Arc::new(Mutex::new(FeedState::new("disabled"))), stop: watch::channel(false).0, task: None }
    }

    pub fn state(&self) -> FeedState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops fetching; messages fetched but not yet in the spool are left unacknowledged and come back.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
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

/// Starts the feed on the current tokio runtime. `wake(printer)` is called after new documents for
/// `printer` were committed to the spool.
pub fn start(
    cfg: &NatsFeedConfig,
    spool: Arc<Spool>,
    events: EventBus,
    wake: impl Fn(&str) + Send + Sync + 'static,
) -> FeedHandle {
    let state = Arc::new(Mutex::new(FeedState::new("reconnecting")));
    let (stop, stop_rx) = watch::channel(false);
    let feed = Feed { cfg: cfg.clone(), spool, events, wake: Arc::new(wake), state: state.clone() };
    let task = tokio::spawn(feed.run(stop_rx));
    FeedHandle { state, stop, task: Some(task) }
}

type Wake = Arc<dyn Fn(&str) + Send + Sync>;

struct Feed {
    cfg: NatsFeedConfig,
    spool: Arc<Spool>,
    events: EventBus,
    wake: Wake,
    state: Arc<Mutex<FeedState>>,
}

/// Connects with the configured credentials; the client itself reconnects after this succeeds.
pub async fn connect(cfg: &NatsFeedConfig, on_event: Option<Arc<Mutex<FeedState>>>, bus: Option<EventBus>) -> Result<async_nats::Client, String> {
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
    if let Some(state) = on_event {
        opts = opts.event_callback(move |ev| {
            let state = state.clone();
            let bus = bus.clone();
            async move {
                let (name, detail) = match &ev {
                    async_nats::Event::Connected => ("connected", None),
                    async_nats::Event::Disconnected => ("reconnecting", Some("disconnected from the broker".to_string())),
                    _ => return,
                };
                set_state(&state, bus.as_ref(), name, detail);
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

fn set_state(state: &Mutex<FeedState>, bus: Option<&EventBus>, name: &'static str, detail: Option<String>) {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    let changed = s.state != name;
    s.state = name;
    if detail.is_some() {
        s.last_error = detail.clone();
    }
    drop(s);
    if changed && let Some(bus) = bus {
        bus.publish(Event::Feed { state: name.to_string(), detail });
    }
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

/// What a station publishes about a job (JSON on `labels.events.<warehouse>.<station>`).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct FeedEvent {
    /// accepted, held, printed, failed, in_doubt, rejected.
    pub event: String,
    pub warehouse: String,
    pub station: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<i64>,
    /// Rule ids when held, a short error when failed or in doubt, why when rejected. No buyer data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For rejections: the stream sequence of the terminated message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_sequence: Option<u64>,
}

fn event_name(state: State) -> Option<&'static str> {
    Some(match state {
        State::Queued => "accepted",
        State::Held => "held",
        State::Done => "printed",
        State::Failed => "failed",
        State::InDoubt => "in_doubt",
        _ => return None,
    })
}

impl Feed {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut backoff = BACKOFF_MIN;
        loop {
            if *stop.borrow() {
                return;
            }
            let result = tokio::select! {
                r = self.session() => r,
                _ = stop.changed() => return,
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "job feed: retrying");
                set_state(&self.state, Some(&self.events), "reconnecting", Some(e));
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// One connection's life: set up the stream and consumer, forward events, consume.
    async fn session(&self) -> Result<(), String> {
        let client = connect(&self.cfg, Some(self.state.clone()), Some(self.events.clone())).await?;
        let js = jetstream::new(client.clone());
        let consumer = bind(&js, &self.cfg).await?;
        set_state(&self.state, Some(&self.events), "connected", None);
        let forwarder = tokio::spawn(forward_events(client.clone(), self.cfg.clone(), self.events.subscribe()));
        let _guard = AbortOnDrop(forwarder);
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
                    Err(e) => tracing::debug!(error = %e, "job feed: fetch ended early"),
                }
            }
            if !fetched.is_empty() {
                self.handle(&client, fetched).await?;
            }
        }
    }

    /// Writes a fetched batch into the spool, then acknowledges it.
    async fn handle(&self, client: &async_nats::Client, messages: Vec<jetstream::Message>) -> Result<(), String> {
        let mut good = Vec::new();
        for m in messages {
            match parse(&m.payload, &self.cfg.warehouse, &self.cfg.routes) {
                Ok(doc) => good.push((m, doc)),
                Err((why, order_id)) => self.reject(client, &m, why, order_id).await?,
            }
        }
        if good.is_empty() {
            return Ok(());
        }
        let docs: Vec<_> = good.iter().map(|(_, d)| d.clone()).collect();
        match self.submit(docs).await {
            Ok(admissions) => {
                for ((m, _), a) in good.iter().zip(admissions) {
                    m.ack().await.map_err(|e| format!("ack: {e}"))?;
                    self.note_admitted(&a);
                }
            }
            // One bad document fails the whole commit: find it by submitting one at a time.
            Err(SpoolError::Invalid(_)) if good.len() > 1 => {
                for (m, doc) in good {
                    match self.submit(vec![doc]).await {
                        Ok(a) => {
                            m.ack().await.map_err(|e| format!("ack: {e}"))?;
                            self.note_admitted(&a[0]);
                        }
                        Err(SpoolError::Invalid(why)) => self.reject(client, &m, Rejection::Refused(why), None).await?,
                        Err(e) => self.nak(&m, &e).await?,
                    }
                }
            }
            Err(SpoolError::Invalid(why)) => {
                let (m, _) = &good[0];
                self.reject(client, m, Rejection::Refused(why), None).await?;
            }
            Err(e) => {
                for (m, _) in &good {
                    self.nak(m, &e).await?;
                }
            }
        }
        Ok(())
    }

    async fn submit(&self, docs: Vec<crate::spool::NewDocument>) -> Result<Vec<Admitted>, SpoolError> {
        let spool = self.spool.clone();
        let printers: Vec<String> = docs.iter().map(|d| d.printer.clone()).collect();
        let tracking: Vec<(Option<String>, Option<String>)> = docs
            .iter()
            .map(|d| match &d.content {
                crate::spool::Content::Order(o) => (Some(o.order_id.clone()), Some(o.shipment.tracking_number.clone())),
                crate::spool::Content::Orders(os) => (os.first().map(|o| o.order_id.clone()), None),
                crate::spool::Content::TestPage => (None, None),
            })
            .collect();
        let submitted = tokio::task::spawn_blocking(move || spool.submit(docs))
            .await
            .map_err(|e| SpoolError::Invalid(format!("spool task: {e}")))??;
        Ok(submitted
            .documents
            .into_iter()
            .zip(printers)
            .zip(tracking)
            .map(|((a, printer), (order_id, tracking_number))| Admitted { admission: a, printer, order_id, tracking_number })
            .collect())
    }

    fn note_admitted(&self, a: &Admitted) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).accepted += 1;
        if a.admission.outcome != Outcome::Duplicate {
            (self.wake)(&a.printer);
            self.events.publish(Event::Job {
                job: a.admission.job,
                document: a.admission.document,
                printer: a.printer.clone(),
                order_id: a.order_id.clone(),
                tracking_number: a.tracking_number.clone(),
                state: a.admission.state,
                reason: None,
            });
        }
    }

    async fn nak(&self, m: &jetstream::Message, e: &SpoolError) -> Result<(), String> {
        tracing::warn!(error = %e, "job feed: spool refused a batch for now; the broker redelivers it");
        self.state.lock().unwrap_or_else(|p| p.into_inner()).last_error = Some(format!("spool: {e}"));
        m.ack_with(AckKind::Nak(Some(NAK_DELAY))).await.map_err(|e| format!("nak: {e}"))
    }

    async fn reject(&self, client: &async_nats::Client, m: &jetstream::Message, why: Rejection, order_id: Option<String>) -> Result<(), String> {
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
            stream_sequence: seq,
        };
        // The event first: a terminated message with no word of why would be lost silently.
        let body = serde_json::to_vec(&event).expect("event serializes");
        client.publish(self.cfg.events_subject(), body.into()).await.map_err(|e| format!("publish event: {e}"))?;
        m.ack_with(AckKind::Term).await.map_err(|e| format!("term: {e}"))?;
        self.state.lock().unwrap_or_else(|p| p.into_inner()).rejected += 1;
        Ok(())
    }
}

struct Admitted {
    admission: crate::spool::Admission,
    printer: String,
    order_id: Option<String>,
    tracking_number: Option<String>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Publishes job state changes from the bus, as long as the session lives.
async fn forward_events(client: async_nats::Client, cfg: NatsFeedConfig, mut rx: tokio::sync::broadcast::Receiver<Event>) {
    let subject = cfg.events_subject();
    loop {
        let event = match rx.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "job feed: event publisher fell behind; some job events were not published");
                continue;
            }
            Err(_) => return,
        };
        let Event::Job { document, printer, order_id, tracking_number, state, reason, .. } = event else { continue };
        let Some(name) = event_name(state) else { continue };
        let out = FeedEvent {
            event: name.into(),
            warehouse: cfg.warehouse.clone(),
            station: cfg.station.clone(),
            order_id,
            tracking_number,
            printer: Some(printer),
            document: Some(document),
            reason,
            stream_sequence: None,
        };
        let body = serde_json::to_vec(&out).expect("event serializes");
        if let Err(e) = client.publish(subject.clone(), body.into()).await {
            tracing::warn!(error = %e, "job feed: could not publish a job event");
        }
    }
}
