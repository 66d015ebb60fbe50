//! The printer conditions every language's status answer is read into, and the shape of a status protocol.
//! Each language file fills its own [`StatusProtocol`]; `printer::status` sends the query over a link.
//!
//! An answer that is missing, short or malformed is [`PrinterState::Unknown`], never `Ready`: a daemon that
//! guesses "ready" sends labels into a printer with its head open.

use std::fmt;

/// A language's status request and the reader of its answer.
#[derive(Debug, Clone, Copy)]
pub struct StatusProtocol {
    /// The name profiles use for it (`status_query = "zpl-hs"`).
    pub name: &'static str,
    /// The bytes that ask.
    pub query: &'static [u8],
    /// Reads an answer; `None` while it is incomplete (more bytes may come).
    pub parse: fn(&[u8]) -> Option<Status>,
}

impl StatusProtocol {
    pub fn parse(&self, bytes: &[u8]) -> Option<Status> {
        (self.parse)(bytes)
    }
}

impl PartialEq for StatusProtocol {
    fn eq(&self, other: &StatusProtocol) -> bool {
        self.name == other.name
    }
}

/// What a printer is doing, as an operator needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrinterState {
    Ready,
    Printing,
    PaperOut,
    /// Print head up, latch or cover open.
    HeadOpen,
    Paused,
    /// Unreachable or stopped on an error (ribbon out, jam, cutter, over temperature, off line).
    Offline,
    /// The printer's answer was missing or could not be read; the reason says which.
    Unknown(String),
}

impl PrinterState {
    /// Whether a label may be sent now.
    pub fn accepts_labels(&self) -> bool {
        matches!(self, PrinterState::Ready | PrinterState::Printing)
    }
}

impl fmt::Display for PrinterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrinterState::Ready => write!(f, "ready"),
            PrinterState::Printing => write!(f, "printing"),
            PrinterState::PaperOut => write!(f, "paper out"),
            PrinterState::HeadOpen => write!(f, "head open"),
            PrinterState::Paused => write!(f, "paused"),
            PrinterState::Offline => write!(f, "offline"),
            PrinterState::Unknown(why) => write!(f, "unknown ({why})"),
        }
    }
}

/// Every condition the dialects report. A dialect sets the ones it knows; the rest stay false / `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    pub paper_out: bool,
    pub paper_near_end: bool,
    pub paused: bool,
    pub head_open: bool,
    pub cover_open: bool,
    pub ribbon_out: bool,
    pub paper_jam: bool,
    pub buffer_full: bool,
    pub partial_format: bool,
    pub corrupt_ram: bool,
    pub under_temperature: bool,
    pub over_temperature: bool,
    pub cutter_error: bool,
    pub mechanical_error: bool,
    pub unrecoverable_error: bool,
    pub recoverable_error: bool,
    pub offline: bool,
    pub printing: bool,
    pub label_waiting: bool,
    pub battery_low: bool,
    /// Not the printer's answer: the link to it failed (reset, unplugged, refused). `offline` is set too.
    pub link_down: bool,
    /// ZPL: formats waiting in the receive buffer.
    pub formats_in_buffer: Option<u32>,
    /// ZPL: labels still to print in the current batch.
    pub labels_remaining: Option<u32>,
    /// ZPL: label length in dots.
    pub label_length_dots: Option<u32>,
}

/// A printer's state and the conditions behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub state: PrinterState,
    pub details: Details,
}

impl Status {
    pub fn unknown(why: impl Into<String>) -> Status {
        Status { state: PrinterState::Unknown(why.into()), details: Details::default() }
    }

    /// Derives the state from the conditions, most serious first: a printer with its head open and no
    /// paper needs the head closed before anything else.
    pub fn from_details(details: Details) -> Status {
        let d = &details;
        let state = if d.head_open || d.cover_open {
            PrinterState::HeadOpen
        } else if d.paper_out {
            PrinterState::PaperOut
        } else if d.offline
            || d.ribbon_out
            || d.paper_jam
            || d.cutter_error
            || d.mechanical_error
            || d.unrecoverable_error
            || d.recoverable_error
            || d.over_temperature
            || d.corrupt_ram
        {
            PrinterState::Offline
        } else if d.paused {
            PrinterState::Paused
        } else if d.printing
            || d.partial_format
            || d.formats_in_buffer.is_some_and(|n| n > 0)
            || d.labels_remaining.is_some_and(|n| n > 0)
        {
            PrinterState::Printing
        } else {
            PrinterState::Ready
        };
        Status { state, details }
    }

    /// The conditions that are set, in words, for a status line.
    pub fn conditions(&self) -> Vec<&'static str> {
        let d = &self.details;
        [
            (d.head_open, "head open"),
            (d.cover_open, "cover open"),
            (d.paper_out, "paper out"),
            (d.paper_near_end, "paper near end"),
            (d.ribbon_out, "ribbon out"),
            (d.paper_jam, "paper jam"),
            (d.paused, "paused"),
            (d.offline && !d.link_down, "off line"),
            (d.buffer_full, "receive buffer full"),
            (d.partial_format, "partial format"),
            (d.corrupt_ram, "configuration lost"),
            (d.under_temperature, "under temperature"),
            (d.over_temperature, "over temperature"),
            (d.cutter_error, "cutter error"),
            (d.mechanical_error, "mechanical error"),
            (d.unrecoverable_error, "unrecoverable error"),
            (d.recoverable_error, "recoverable error"),
            (d.label_waiting, "label waiting to be taken"),
            (d.battery_low, "battery low"),
            (d.printing, "printing"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}
