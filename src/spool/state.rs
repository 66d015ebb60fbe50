//! Document states and the one table of legal transitions.
//!
//! ```text
//! queued → rendering → ready → sending → sent → done
//!   ▲         │  ▲        ▲ │     │  │      │
//!   └─────────┼──┼────────┼─┘ (a scan-to-print label sent to another bench's printer)
//!             │  │        │       │  │      │
//!             │  └ requeue│       │  └──────┴──► in_doubt ──► done | cancelled
//!             ├──► held ──┼─► queued | cancelled
//!             └──► failed ┴─► queued | cancelled
//! ```
//!
//! Every state change in the spool goes through [`State::check`]; nothing else decides.

use std::fmt;

/// Where a document is on its way to paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Acknowledged and waiting for its printer's worker.
    Queued,
    /// Claimed by a worker: composing, checking the rules, encoding.
    Rendering,
    /// Printer bytes are stored; waiting for the printer.
    Ready,
    /// Bytes are going over the link. A crash here means nobody knows what the printer got.
    Sending,
    /// Every byte reached the printer.
    Sent,
    /// The printer confirmed it, or it was sent before a restart (see `Spool::recover`).
    Done,
    /// Refused by a compliance rule; the report says why.
    Held,
    /// Could not be rendered, or the link refused it before any byte went out.
    Failed,
    /// Withdrawn by an operator or the caller.
    Cancelled,
    /// The link broke mid-send (or the daemon died): it may or may not have printed. Never re-sent
    /// on its own; an operator confirms it (done), drops it (cancelled) or reprints it.
    InDoubt,
}

pub const ALL_STATES: [State; 10] = [
    State::Queued,
    State::Rendering,
    State::Ready,
    State::Sending,
    State::Sent,
    State::Done,
    State::Held,
    State::Failed,
    State::Cancelled,
    State::InDoubt,
];

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Rendering => "rendering",
            State::Ready => "ready",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Done => "done",
            State::Held => "held",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
            State::InDoubt => "in_doubt",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        ALL_STATES.into_iter().find(|st| st.as_str() == s)
    }

    /// The legal next states. This table is the state machine.
    pub fn next(self) -> &'static [State] {
        use State::*;
        match self {
            Queued => &[Rendering, Cancelled],
            // Back to queued: a worker let go of it, or a restart interrupted the render.
            Rendering => &[Ready, Held, Failed, Queued, Cancelled],
            // Back to queued: a label waiting for its scan is scanned at a bench whose printer
            // needs other bytes; it is rendered again for that printer, nothing having been sent.
            Ready => &[Sending, Cancelled, Queued],
            // Back to ready or to failed only when the link failed before the first byte.
            Sending => &[Sent, InDoubt, Ready, Failed],
            // In doubt: the printer reported a fault right after receiving it.
            Sent => &[Done, InDoubt],
            // An operator releases a held document, or the caller resubmits it with a fixed order.
            Held => &[Queued, Cancelled],
            Failed => &[Queued, Cancelled],
            InDoubt => &[Done, Cancelled],
            Done | Cancelled => &[],
        }
    }

    pub fn can_go(self, to: State) -> bool {
        self.next().contains(&to)
    }

    pub fn check(self, to: State) -> Result<(), IllegalTransition> {
        if self.can_go(to) { Ok(()) } else { Err(IllegalTransition { from: self, to }) }
    }

    /// No further change happens without an explicit operator action.
    pub fn is_final(self) -> bool {
        self.next().is_empty()
    }

    /// Reprinting makes sense once the first copy can no longer print on its own.
    pub fn can_reprint(self) -> bool {
        matches!(self, State::Sent | State::Done | State::InDoubt | State::Failed | State::Cancelled)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: State,
    pub to: State,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot go from {} to {}", self.from, self.to)
    }
}
