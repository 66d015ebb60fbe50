//! Events: what changed, for the web page (server-sent events), the NATS feed and logs.
//!
//! One broadcast bus per daemon. Events identify a parcel by order id and tracking number only, and
//! a refusal by its rule ids and field paths: never buyer names, phones, addresses, or the refused
//! text itself (which can be buyer data).

use serde::Serialize;
use tokio::sync::broadcast;

use crate::spool::{DocId, Record, JobId, Spool, SpoolError, State};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A document changed state.
    Job {
        job: JobId,
        document: DocId,
        printer: String,
        order_id: Option<String>,
        tracking_number: Option<String>,
        state: State,
        /// Rule ids when held; a short error when failed or in doubt. No buyer data.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Printed after the order's ship-by time: it still printed, and says so.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        late: bool,
    },
    /// A printer's state changed (ready, printing, paper_out, head_open, paused, offline, unknown).
    Printer {
        printer: String,
        state: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A shipping batch moved on: one of its documents settled (or it was just submitted). Counts
    /// are of labels; the pick list's result is apart.
    Batch {
        batch: String,
        chunks: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        current_chunk: Option<u32>,
        complete: bool,
        counts: crate::batch::Counts,
        #[serde(skip_serializing_if = "Option::is_none")]
        picklist: Option<crate::batch::Outcome>,
    },
    /// The job feed's connection changed (connected, reconnecting, disabled).
    Feed { state: String, #[serde(skip_serializing_if = "Option::is_none")] detail: Option<String> },
}

impl Event {
    /// A batch's progress for the event stream (no buyer data: counts and outcomes only).
    pub fn batch(summary: crate::batch::Summary) -> Event {
        let crate::batch::Summary { batch, chunks, complete, current_chunk, counts, picklist } = summary;
        Event::Batch { batch, chunks, current_chunk, complete, counts, picklist }
    }
}

/// Progress events for every batch `document` belongs to, read from the spool (blocking).
pub fn batch_events(spool: &Spool, document: DocId) -> Result<Vec<Event>, SpoolError> {
    let mut out = Vec::new();
    for id in spool.batches_of(document)? {
        if let Some(b) = spool.batch_states(&id)? {
            out.push(Event::batch(crate::batch::Summary::of(&b)));
        }
    }
    Ok(out)
}

/// Which document a job event is about: ids, never buyer data.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub job: JobId,
    pub document: DocId,
    pub printer: String,
    pub order_id: Option<String>,
    pub tracking_number: Option<String>,
}

impl Subject {
    pub fn of(doc: &Record) -> Subject {
        Subject {
            job: doc.job,
            document: doc.id,
            printer: doc.printer.clone(),
            order_id: doc.order_id.clone(),
            tracking_number: doc.tracking_number.clone(),
        }
    }
}

impl Event {
    /// A document's state change: the one place a job event is made.
    pub fn job(subject: Subject, state: State, reason: Option<String>, late: bool) -> Event {
        let Subject { job, document, printer, order_id, tracking_number } = subject;
        Event::Job { job, document, printer, order_id, tracking_number, state, reason, late }
    }
}

/// Fan-out of events. Slow listeners miss old events (they get `Lagged`) rather than slow the daemon.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(1024)
    }
}

impl EventBus {
    pub fn new(capacity: usize) -> EventBus {
        EventBus { tx: broadcast::channel(capacity).0 }
    }

    pub fn publish(&self, event: Event) {
        // No listener is not an error: the daemon runs without a web page open.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
