//! What the feed is doing, where an operator looks: the `feed` object of `/healthz`, the
//! `labeld_feed_*` metrics and the web page (which reads the same names).
//!
//! States: `disconnected` (not yet connected since the daemon started, or stopped), `connected`
//! (stream and consumer bound, fetching), `reconnecting` (was connected, lost the broker, trying
//! again), `disabled` (no `[feed.nats]`). Every change goes on the event bus as `Event::Feed`.

use std::fmt::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;

use crate::config::NatsFeedConfig;
use crate::events::{Event, EventBus};

/// The feed's state and counters (`/healthz` shows them as `server::api::FeedHealth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedState {
    /// `connected`, `reconnecting`, `disconnected` or `disabled`.
    pub state: &'static str,
    /// When `state` last changed.
    pub since: OffsetDateTime,
    /// The broker, as `nats://host:port`: never with credentials.
    pub server: Option<String>,
    pub stream: Option<String>,
    /// The subject this station consumes.
    pub subject: Option<String>,
    /// The durable consumer's name.
    pub consumer: Option<String>,
    /// Messages fetched (a redelivery counts again).
    pub received: u64,
    /// Messages in the spool (new or duplicate) and acknowledged.
    pub acked: u64,
    /// Fetched messages the broker had delivered before (a crash or a lost ack).
    pub redelivered: u64,
    /// Messages terminated as invalid or refused (a `rejected` event says why).
    pub terminated: u64,
    pub last_error: Option<String>,
    /// Messages given back for a later redelivery (a transient spool error). Metrics only.
    pub naked: u64,
    /// Times the connection came back after it was lost. Metrics only.
    pub reconnects: u64,
}

/// A shared view of one feed's [`FeedState`]; cheap to clone.
#[derive(Clone)]
pub struct Monitor {
    inner: Arc<Mutex<Inner>>,
    bus: Option<EventBus>,
}

struct Inner {
    state: FeedState,
    /// The session whose client events count; events from an older session's client are late.
    session: u64,
}

impl Monitor {
    /// For a daemon without `[feed.nats]`.
    pub fn disabled() -> Monitor {
        Monitor::with(FeedState::blank("disabled"), None)
    }

    /// A feed about to start: `disconnected` until its first session binds.
    pub fn new(cfg: &NatsFeedConfig, bus: Option<EventBus>) -> Monitor {
        let mut s = FeedState::blank("disconnected");
        s.server = cfg.servers.first().map(|u| redact(u));
        s.stream = Some(cfg.stream.clone());
        s.subject = Some(cfg.subject());
        s.consumer = Some(cfg.durable());
        Monitor::with(s, bus)
    }

    fn with(state: FeedState, bus: Option<EventBus>) -> Monitor {
        Monitor { inner: Arc::new(Mutex::new(Inner { state, session: 0 })), bus }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> FeedState {
        self.lock().state.clone()
    }

    /// Changes counters (not the state).
    pub(crate) fn count(&self, f: impl FnOnce(&mut FeedState)) {
        f(&mut self.lock().state)
    }

    /// A new session begins; returns its number for [`Monitor::client_event`].
    pub(crate) fn begin_session(&self) -> u64 {
        let mut inner = self.lock();
        inner.session += 1;
        inner.session
    }

    /// The session bound its stream and consumer on `server`.
    pub(crate) fn connected(&self, server: String) {
        self.lock().state.server = Some(server);
        self.set("connected", None);
    }

    /// The connection or session failed: `reconnecting` if it had been up, else still `disconnected`.
    pub(crate) fn lost(&self, error: String) {
        let next = match self.lock().state.state {
            "connected" | "reconnecting" => "reconnecting",
            _ => "disconnected",
        };
        self.set(next, Some(error));
    }

    /// The client of session `session` lost or regained its connection by itself. Its durable
    /// consumer survives a broker restart, so a reconnected client is a connected feed.
    pub(crate) fn client_event(&self, session: u64, up: bool) {
        let (current, state) = {
            let inner = self.lock();
            (inner.session, inner.state.state)
        };
        if session != current {
            return;
        }
        match (up, state) {
            (false, _) => self.lost("disconnected from the broker".into()),
            (true, "reconnecting") => self.set("connected", None),
            _ => {}
        }
    }

    /// The feed stopped.
    pub(crate) fn stopped(&self) {
        self.set("disconnected", None);
    }

    fn set(&self, name: &'static str, error: Option<String>) {
        let changed = {
            let mut inner = self.lock();
            let s = &mut inner.state;
            let changed = s.state != name;
            if changed {
                if s.state == "reconnecting" && name == "connected" {
                    s.reconnects += 1;
                }
                s.state = name;
                s.since = OffsetDateTime::now_utc();
            }
            if error.is_some() {
                s.last_error = error.clone();
            }
            changed
        };
        if changed {
            match name {
                "connected" => tracing::info!(state = name, "job feed"),
                _ => tracing::warn!(state = name, error = error.as_deref().unwrap_or(""), "job feed"),
            }
            if let Some(bus) = &self.bus {
                bus.publish(Event::Feed { state: name.to_string(), detail: error });
            }
        }
    }

    /// Prometheus lines; none for a disabled feed (no alert for a station that has no feed).
    pub fn metrics(&self) -> String {
        let s = self.snapshot();
        let mut out = String::new();
        if s.state == "disabled" {
            return out;
        }
        let _ = writeln!(
            out,
            "# HELP labeld_feed_connected 1 while the job feed is connected to the broker.\n# TYPE labeld_feed_connected gauge\n\
             labeld_feed_connected {}",
            u8::from(s.state == "connected")
        );
        let _ = writeln!(
            out,
            "# HELP labeld_feed_messages_total Feed messages by outcome: acked (in the spool), nak (given back for \
             redelivery), terminated (never printable).\n# TYPE labeld_feed_messages_total counter"
        );
        for (outcome, n) in [("acked", s.acked), ("nak", s.naked), ("terminated", s.terminated)] {
            let _ = writeln!(out, "labeld_feed_messages_total{{outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP labeld_feed_reconnects_total Times the feed got its broker back after losing it.\n\
             # TYPE labeld_feed_reconnects_total counter\nlabeld_feed_reconnects_total {}",
            s.reconnects
        );
        out
    }
}

impl FeedState {
    fn blank(state: &'static str) -> FeedState {
        FeedState {
            state,
            since: OffsetDateTime::now_utc(),
            server: None,
            stream: None,
            subject: None,
            consumer: None,
            received: 0,
            acked: 0,
            redelivered: 0,
            terminated: 0,
            last_error: None,
            naked: 0,
            reconnects: 0,
        }
    }
}

/// A server URL without user, password or token (`nats://u:p@host:4222` → `nats://host:4222`).
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => ("nats", url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_drops_credentials_and_keeps_the_address() {
        assert_eq!(redact("nats://user:secret@10.0.0.5:4222"), "nats://10.0.0.5:4222");
        assert_eq!(redact("tls://s3cr3t-token@broker.example:4443"), "tls://broker.example:4443");
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact("10.0.0.5:4222"), "nats://10.0.0.5:4222");
        assert_eq!(redact("nats://u:p@a@host:1"), "nats://host:1");
    }

    #[test]
    fn states_move_as_an_operator_reads_them() {
        let cfg = NatsFeedConfig::new(vec!["nats://u:p@127.0.0.1:4222".into()], "WH", "pack-1");
        let bus = EventBus::default();
        let mut rx = bus.subscribe();
        let m = Monitor::new(&cfg, Some(bus));
        let s = m.snapshot();
        assert_eq!((s.state, s.server.as_deref(), s.subject.as_deref()), ("disconnected", Some("nats://127.0.0.1:4222"), Some("labels.WH.pack-1")));
        // Failing before the first connection stays disconnected, with the reason.
        m.lost("connection refused".into());
        assert_eq!(m.snapshot().state, "disconnected");
        assert_eq!(m.snapshot().last_error.as_deref(), Some("connection refused"));
        let session = m.begin_session();
        m.connected("nats://127.0.0.1:4222".into());
        let up_since = m.snapshot().since;
        m.client_event(session, false);
        assert_eq!(m.snapshot().state, "reconnecting");
        assert!(m.snapshot().since >= up_since);
        // A late event from an older session's client changes nothing.
        m.client_event(session - 1, true);
        assert_eq!(m.snapshot().state, "reconnecting");
        m.client_event(session, true);
        let s = m.snapshot();
        assert_eq!((s.state, s.reconnects), ("connected", 1));
        let names: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .filter_map(|e| match e {
                Event::Feed { state, .. } => Some(state),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["connected", "reconnecting", "connected"]);
        let text = m.metrics();
        assert!(text.contains("labeld_feed_connected 1\n"), "{text}");
        assert!(text.contains("labeld_feed_reconnects_total 1\n"), "{text}");
        assert!(text.contains("labeld_feed_messages_total{outcome=\"nak\"} 0\n"), "{text}");
        assert!(Monitor::disabled().metrics().is_empty());
    }
}
