//! Job events back to the order backend, from the spool's audit log rather than from memory.
//!
//! Every state change is already an audit row, committed with the change itself, so the events a
//! station owes survive a `kill -9` and a broker outage: this outbox reads the rows after its
//! cursor, publishes them, and moves the cursor (durably, in the spool) only once the broker took
//! them. A crash or a lost connection re-publishes from the cursor: an event may come twice, never
//! not at all. When the backend keeps a stream on `labels.events.>`, events are JetStream publishes
//! the broker confirms one by one; without such a stream they are plain messages, flushed, to
//! whoever listens at that moment (nothing stores them, so there is nothing to confirm).

use std::time::Duration;

use async_nats::jetstream::{self, context::GetStreamByNameErrorKind, context::PublishErrorKind};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::comply::Report;
use crate::config::NatsFeedConfig;
use crate::events::Event;
use crate::spool::{Change, Spool, SpoolError, State};

/// The outbox's name for its cursor in the spool.
pub const READER: &str = "feed.nats.events";
/// Changes read and published per round.
const BATCH: usize = 256;
/// How often the outbox looks without being woken (changes from another process, missed wakes).
const POLL: Duration = Duration::from_secs(1);
/// How long a failed round waits before trying again.
const RETRY: Duration = Duration::from_secs(1);

/// What a station publishes about a job (JSON on `labels.events.<warehouse>.<station>`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// Printed after the order's ship-by time (it still printed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub late: bool,
    /// For rejections: the stream sequence of the terminated message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_sequence: Option<u64>,
}

/// The event a change is worth, if any (claims, renders and sends are not the backend's business).
pub fn event_for(change: &Change, cfg: &NatsFeedConfig) -> Option<FeedEvent> {
    let (name, reason) = match (change.to, change.action.as_str()) {
        (State::Queued, "submit") => ("accepted", change.detail.as_deref().filter(|d| d.starts_with("reprint of")).map(|_| "reprint".to_string())),
        (State::Queued, "resubmit") => ("accepted", Some("resubmitted with a changed order".into())),
        (State::Held, _) => ("held", change.report.as_deref().map(rule_ids)),
        (State::Done, _) => ("printed", None),
        (State::Failed, _) => ("failed", change.detail.clone()),
        (State::InDoubt, _) => ("in_doubt", change.detail.clone()),
        (State::Cancelled, _) => ("cancelled", None),
        _ => return None,
    };
    Some(FeedEvent {
        event: name.into(),
        warehouse: cfg.warehouse.clone(),
        station: cfg.station.clone(),
        order_id: change.order_id.clone(),
        tracking_number: change.tracking_number.clone(),
        printer: Some(change.printer.clone()),
        document: Some(change.document),
        reason,
        late: change.late,
        stream_sequence: None,
    })
}

/// `rule@field, ...` from a stored compliance report: the report itself quotes the refused text,
/// which can be buyer data.
fn rule_ids(report: &str) -> String {
    // A hold that is not a rule's (link_too_slow) names itself.
    if let Some(reason) = serde_json::from_str::<serde_json::Value>(report).ok().and_then(|v| v["hold"]["reason"].as_str().map(str::to_string)) {
        return reason;
    }
    match serde_json::from_str::<Report>(report) {
        Ok(r) => r.refusals.iter().map(|r| format!("{}@{}", r.rule.id(), r.path)).collect::<Vec<_>>().join(", "),
        Err(_) => "refused by the label rules".into(),
    }
}

/// How often the outbox asks again whether a stream stores the events.
const STREAM_RECHECK: Duration = Duration::from_secs(10);

/// Where job events go: JetStream (confirmed) when a stream stores the events subject, plain
/// NATS otherwise. A JetStream publish with no stream but a plain subscriber would wait for a
/// confirmation nobody sends, so the choice is made by asking, not by trying.
pub(crate) struct Sink {
    client: async_nats::Client,
    js: jetstream::Context,
    subject: String,
    stored: Option<(bool, std::time::Instant)>,
}

impl Sink {
    pub(crate) fn new(client: async_nats::Client, js: jetstream::Context, subject: String) -> Sink {
        Sink { client, js, subject, stored: None }
    }

    async fn stored(&mut self) -> Result<bool, String> {
        if let Some((stored, at)) = self.stored
            && at.elapsed() < STREAM_RECHECK
        {
            return Ok(stored);
        }
        let stored = match self.js.stream_by_subject(self.subject.clone()).await {
            Ok(_) => true,
            Err(e) if e.kind() == GetStreamByNameErrorKind::NotFound => false,
            Err(e) => return Err(format!("looking for an events stream: {e}")),
        };
        self.stored = Some((stored, std::time::Instant::now()));
        Ok(stored)
    }

    /// Publishes `events` in order; `Ok` once the broker has them (confirmed by the stream, or
    /// flushed to the socket when no stream keeps them).
    pub(crate) async fn send(&mut self, events: &[FeedEvent]) -> Result<(), String> {
        if events.is_empty() {
            return Ok(());
        }
        let bodies = events.iter().map(|e| serde_json::to_vec(e).expect("event serializes"));
        if self.stored().await? {
            // Sent together, confirmed together: one round trip per batch, not per event.
            let mut acks = Vec::with_capacity(events.len());
            for body in bodies {
                acks.push(self.js.publish(self.subject.clone(), body.into()).await.map_err(|e| format!("publish event: {e}"))?);
            }
            for ack in acks {
                if let Err(e) = ack.await {
                    if e.kind() == PublishErrorKind::StreamNotFound {
                        // The stream went away: ask again next time.
                        self.stored = None;
                    }
                    return Err(format!("publish event: {e}"));
                }
            }
        } else {
            for body in bodies {
                self.client.publish(self.subject.clone(), body.into()).await.map_err(|e| format!("publish event: {e}"))?;
            }
            self.client.flush().await.map_err(|e| format!("publish event: {e}"))?;
        }
        Ok(())
    }
}

/// Publishes the spool's changes as they come, for as long as the session lives (the caller aborts
/// it). `wake` carries the daemon's job events: a hint to look now instead of at the next poll.
pub(crate) async fn run(mut sink: Sink, cfg: NatsFeedConfig, spool: std::sync::Arc<Spool>, mut wake: broadcast::Receiver<Event>) {
    let mut cursor = None;
    loop {
        match round(&mut sink, &cfg, &spool, &mut cursor).await {
            Ok(0) => {
                tokio::select! {
                    r = wake.recv() => if let Err(broadcast::error::RecvError::Closed) = r { return },
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "job feed: job events wait for the broker");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Publishes the next batch of changes after the cursor, then moves it; returns how many it handled.
async fn round(sink: &mut Sink, cfg: &NatsFeedConfig, spool: &std::sync::Arc<Spool>, cursor: &mut Option<i64>) -> Result<usize, String> {
    let after = match *cursor {
        Some(c) => c,
        None => {
            let s = spool.clone();
            blocking(move || s.outbox_cursor(READER)).await?
        }
    };
    let s = spool.clone();
    let changes = blocking(move || s.changes_after(after, BATCH)).await?;
    let Some(last) = changes.last().map(|c| c.seq) else { return Ok(0) };
    let events: Vec<FeedEvent> = changes.iter().filter_map(|c| event_for(c, cfg)).collect();
    sink.send(&events).await?;
    let s = spool.clone();
    blocking(move || s.advance_outbox(READER, last)).await?;
    *cursor = Some(last);
    Ok(changes.len())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, SpoolError> + Send + 'static) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| format!("spool: {e}")),
        Err(e) => Err(format!("spool task: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comply::{Refusal, Rule};

    fn change(action: &str, to: State) -> Change {
        Change {
            seq: 7,
            document: 3,
            job: 2,
            printer: "dock".into(),
            order_id: Some("O-1".into()),
            tracking_number: Some("T-1".into()),
            action: action.into(),
            to,
            detail: None,
            report: None,
            late: false,
        }
    }

    #[test]
    fn changes_become_the_events_the_backend_knows() {
        let cfg = NatsFeedConfig::new(vec!["nats://127.0.0.1:4222".into()], "WH", "pack-1");
        let name = |c: &Change| event_for(c, &cfg).map(|e| e.event);
        assert_eq!(name(&change("submit", State::Queued)).as_deref(), Some("accepted"));
        assert_eq!(name(&change("done", State::Done)).as_deref(), Some("printed"));
        assert_eq!(name(&change("recover", State::Done)).as_deref(), Some("printed"));
        assert_eq!(name(&change("recover", State::InDoubt)).as_deref(), Some("in_doubt"));
        assert_eq!(name(&change("cancel", State::Cancelled)).as_deref(), Some("cancelled"));
        // A worker letting go of a claimed document is not news, nor are claims and sends.
        for (a, s) in [("requeue", State::Queued), ("claim", State::Rendering), ("sending", State::Sending), ("sent", State::Sent)] {
            assert_eq!(name(&change(a, s)), None, "{a}");
        }
        let e = event_for(&change("submit", State::Queued), &cfg).unwrap();
        assert_eq!((e.warehouse.as_str(), e.station.as_str(), e.document, e.printer.as_deref()), ("WH", "pack-1", Some(3), Some("dock")));
        assert_eq!((e.order_id.as_deref(), e.tracking_number.as_deref()), (Some("O-1"), Some("T-1")));
        let mut reprint = change("submit", State::Queued);
        reprint.detail = Some("reprint of document 2: the buyer's note".into());
        assert_eq!(event_for(&reprint, &cfg).unwrap().reason.as_deref(), Some("reprint"));
    }

    #[test]
    fn a_held_event_names_rules_and_fields_never_the_refused_text() {
        let cfg = NatsFeedConfig::new(vec!["nats://127.0.0.1:4222".into()], "WH", "pack-1");
        let report = Report {
            refusals: vec![Refusal {
                rule: Rule::OffPlatformContact,
                path: "label_note".into(),
                span: 0..12,
                text: "Call Siti on +60 12-345 6789".into(),
                message: "a phone number that is not the recipient's".into(),
            }],
        };
        let mut held = change("held", State::Held);
        held.report = Some(serde_json::to_string(&report).unwrap());
        let e = event_for(&held, &cfg).unwrap();
        assert_eq!(e.event, "held");
        assert_eq!(e.reason.as_deref(), Some("off_platform_contact@label_note"));
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("Siti") && !json.contains("345"), "{json}");
    }
}
