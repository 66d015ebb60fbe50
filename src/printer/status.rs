//! Printer status: the query each printer language answers, a parser for each answer, and the answer a
//! printer in a given condition sends (the virtual printer speaks it; the tests round-trip it).
//!
//! | dialect | query | answer |
//! |---|---|---|
//! | ZPL `~HS` | `~HS` | three `<STX>…<ETX><CR><LF>` lines of comma-separated fields |
//! | TSPL `<ESC>!?` | `1B 21 3F` | one byte, one condition per bit |
//! | ESC/POS `DLE EOT n` | `10 04 n`, n = 1..4 | one byte per query; bits 1 and 4 fixed on, 0 and 7 off |
//! | CPCL `<ESC>h` | `1B 68` | one byte, one condition per bit |
//! | USB printer class | GET_PORT_STATUS | one byte: paper empty, selected, not-error |
//!
//! An answer that is missing, short or malformed is [`PrinterState::Unknown`], never `Ready`: a daemon that
//! guesses "ready" sends labels into a printer with its head open.

use std::fmt;
use std::time::{Duration, Instant};

use crate::transport::usb::PortStatus;
use crate::transport::{Transport, TransportError};

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

/// The status protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// ZPL II `~HS` (host status return).
    ZplHostStatus,
    /// TSPL `<ESC>!?` (one status byte).
    TsplStatusByte,
    /// ESC/POS `DLE EOT 1..4` (real-time status), all four asked at once.
    EscPosRealTime,
    /// CPCL `<ESC>h` (mobile printer status byte).
    CpclStatusByte,
}

impl Dialect {
    /// The dialect a profile's printer answers; `None` for printers that answer no query this module reads
    /// (EPL2 `^ee` error reports are not parsed: status then comes from the link).
    pub fn for_profile(q: crate::printer::profile::StatusQuery) -> Option<Dialect> {
        use crate::printer::profile::StatusQuery as Q;
        match q {
            Q::ZplHostStatus => Some(Dialect::ZplHostStatus),
            Q::TsplStatus => Some(Dialect::TsplStatusByte),
            Q::EscPosRealtime => Some(Dialect::EscPosRealTime),
            Q::CpclStatus => Some(Dialect::CpclStatusByte),
            Q::EplErrorReport | Q::None => None,
        }
    }
}

/// The four ESC/POS real-time status requests, asked in one write; the answers come back in order.
const ESCPOS_QUERY: &[u8] = &[0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 3, 0x10, 0x04, 4];

impl Dialect {
    /// The bytes that ask for status.
    pub fn query(self) -> &'static [u8] {
        match self {
            Dialect::ZplHostStatus => b"~HS",
            Dialect::TsplStatusByte => b"\x1b!?",
            Dialect::EscPosRealTime => ESCPOS_QUERY,
            Dialect::CpclStatusByte => b"\x1bh",
        }
    }

    /// Parses an answer. `None` while it is incomplete (more bytes may come).
    pub fn parse(self, bytes: &[u8]) -> Option<Status> {
        match self {
            Dialect::ZplHostStatus => parse_zpl_hs(bytes),
            Dialect::TsplStatusByte => bytes.first().map(|&b| parse_tspl(b)),
            Dialect::EscPosRealTime => (bytes.len() >= 4).then(|| parse_escpos(bytes[..4].try_into().expect("4 bytes"))),
            Dialect::CpclStatusByte => bytes.first().map(|&b| parse_cpcl(b)),
        }
    }
}

/// Sends the dialect's query and reads the answer, waiting at most `timeout`. Never fails: a link error is
/// `Offline` with the reason, silence or garbage is `Unknown`.
pub fn query(link: &mut dyn Transport, dialect: Dialect, timeout: Duration) -> Status {
    let deadline = Instant::now() + timeout;
    if let Err(e) = link.write_all(dialect.query(), deadline) {
        return offline_or_unknown(&e);
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        if let Some(status) = dialect.parse(&answer) {
            return status;
        }
        let Some(left) = crate::transport::remaining(deadline) else {
            return Status::unknown(if answer.is_empty() {
                format!("no answer to the status query within {} ms", timeout.as_millis())
            } else {
                format!("incomplete status answer ({} bytes) within {} ms", answer.len(), timeout.as_millis())
            });
        };
        match link.read(&mut buf, left) {
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => return offline_or_unknown(&e),
        }
    }
}

/// The printer's status by the best means the link and the printer offer: the language's query when the
/// printer answers one, else the USB port status, else unknown.
pub fn probe(link: &mut dyn Transport, dialect: Option<Dialect>, timeout: Duration) -> Status {
    if let Some(d) = dialect {
        return query(link, d, timeout);
    }
    match link.port_status() {
        Some(Ok(byte)) => from_port_status(PortStatus(byte)),
        Some(Err(e)) => offline_or_unknown(&e),
        None => Status::unknown("the printer answers no status query on this link"),
    }
}

fn offline_or_unknown(e: &TransportError) -> Status {
    match e {
        TransportError::Open { .. } | TransportError::Disconnected { .. } => {
            Status::from_details(Details { offline: true, link_down: true, ..Details::default() })
        }
        other => Status::unknown(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// ZPL ~HS. ZPL II Programming Guide, ~HS "Host Status Return":
//   String 1  <STX>aaa,b,c,dddd,eee,f,g,h,iii,j,k,l<ETX><CR><LF>
//     aaa communication settings, b paper out, c pause, dddd label length (dots), eee formats in receive
//     buffer, f buffer full, g comms diagnostic mode, h partial format, iii unused, j corrupt RAM,
//     k under temperature, l over temperature
//   String 2  <STX>mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www<ETX><CR><LF>
//     mmm function settings, n unused, o head up, p ribbon out, q thermal transfer mode, r print mode,
//     s print width mode, t label waiting (peel-off), uuuuuuuu labels remaining in batch, v format while
//     printing (always 1), www graphic images stored
//   String 3  <STX>xxxx,y<ETX><CR><LF>
//     xxxx password, y static RAM installed

const STX: u8 = 0x02;
const ETX: u8 = 0x03;

/// The `<STX>…<ETX>` frames in `bytes`, in order; `None` if the last one is not closed yet.
fn stx_frames(bytes: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while let Some(start) = rest.iter().position(|&b| b == STX) {
        let after = &rest[start + 1..];
        let Some(end) = after.iter().position(|&b| b == ETX) else { break };
        frames.push(&after[..end]);
        rest = &after[end + 1..];
    }
    frames
}

fn parse_zpl_hs(bytes: &[u8]) -> Option<Status> {
    let frames = stx_frames(bytes);
    if frames.len() < 3 {
        return None;
    }
    Some(zpl_fields(&frames[..3]).unwrap_or_else(|why| Status::unknown(format!("~HS answer: {why}"))))
}

fn zpl_fields(frames: &[&[u8]]) -> Result<Status, String> {
    let line = |i: usize, want: usize| -> Result<Vec<String>, String> {
        let text = std::str::from_utf8(frames[i]).map_err(|_| format!("line {} is not text", i + 1))?;
        let fields: Vec<String> = text.split(',').map(|f| f.trim().to_string()).collect();
        if fields.len() != want {
            return Err(format!("line {} has {} fields, expected {want}", i + 1, fields.len()));
        }
        Ok(fields)
    };
    let l1 = line(0, 12)?;
    let l2 = line(1, 11)?;
    line(2, 2)?;
    let flag = |l: &[String], i: usize, name: &str| -> Result<bool, String> {
        match l[i].as_str() {
            "0" => Ok(false),
            "1" => Ok(true),
            other => Err(format!("{name} flag is `{other}`, not 0 or 1")),
        }
    };
    let number = |l: &[String], i: usize, name: &str| -> Result<u32, String> {
        l[i].parse().map_err(|_| format!("{name} is `{}`, not a number", l[i]))
    };
    Ok(Status::from_details(Details {
        paper_out: flag(&l1, 1, "paper out")?,
        paused: flag(&l1, 2, "pause")?,
        label_length_dots: Some(number(&l1, 3, "label length")?),
        formats_in_buffer: Some(number(&l1, 4, "formats in buffer")?),
        buffer_full: flag(&l1, 5, "buffer full")?,
        partial_format: flag(&l1, 7, "partial format")?,
        corrupt_ram: flag(&l1, 9, "corrupt RAM")?,
        under_temperature: flag(&l1, 10, "under temperature")?,
        over_temperature: flag(&l1, 11, "over temperature")?,
        head_open: flag(&l2, 2, "head up")?,
        ribbon_out: flag(&l2, 3, "ribbon out")?,
        label_waiting: flag(&l2, 7, "label waiting")?,
        labels_remaining: Some(number(&l2, 8, "labels remaining")?),
        ..Details::default()
    }))
}

/// The `~HS` answer a ZPL printer in this condition sends (8N1 9600 baud, DTR, direct thermal, tear-off).
pub fn zpl_hs_answer(d: &Details) -> Vec<u8> {
    let b = |v: bool| if v { '1' } else { '0' };
    let line1 = format!(
        "030,{},{},{:04},{:03},{},0,{},000,{},{},{}",
        b(d.paper_out),
        b(d.paused),
        d.label_length_dots.unwrap_or(1218).min(9999),
        d.formats_in_buffer.unwrap_or(0).min(999),
        b(d.buffer_full),
        b(d.partial_format),
        b(d.corrupt_ram),
        b(d.under_temperature),
        b(d.over_temperature),
    );
    let line2 = format!(
        "001,0,{},{},0,2,6,{},{:08},1,000",
        b(d.head_open),
        b(d.ribbon_out),
        b(d.label_waiting),
        d.labels_remaining.unwrap_or(0).min(99_999_999),
    );
    let mut out = Vec::new();
    for line in [line1.as_str(), line2.as_str(), "1234,0"] {
        out.push(STX);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(&[ETX, b'\r', b'\n']);
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// TSPL <ESC>!? : bit 0 head opened, 1 paper jam, 2 out of paper, 3 out of ribbon, 4 pause, 5 printing,
// 6 cover opened (option), 7 environment temperature over range (option). 0x00 = ready.

fn parse_tspl(b: u8) -> Status {
    Status::from_details(Details {
        head_open: b & 0x01 != 0,
        paper_jam: b & 0x02 != 0,
        paper_out: b & 0x04 != 0,
        ribbon_out: b & 0x08 != 0,
        paused: b & 0x10 != 0,
        printing: b & 0x20 != 0,
        cover_open: b & 0x40 != 0,
        over_temperature: b & 0x80 != 0,
        ..Details::default()
    })
}

pub fn tspl_status_byte(d: &Details) -> u8 {
    [d.head_open, d.paper_jam, d.paper_out, d.ribbon_out, d.paused, d.printing, d.cover_open, d.over_temperature]
        .iter()
        .enumerate()
        .fold(0, |acc, (bit, &on)| acc | (u8::from(on) << bit))
}

// ---------------------------------------------------------------------------------------------------------
// ESC/POS DLE EOT n. Every answer byte has bit 1 and bit 4 on, bit 0 and bit 7 off (0b0xx1_xx10), which is
// how a host tells a status byte from stray data.
//   n=1 printer status:  bit 3 off line
//   n=2 off-line cause:  bit 2 cover open, bit 3 paper fed by the FEED button, bit 5 stopped at paper end,
//                        bit 6 error
//   n=3 error cause:     bit 2 mechanical error, bit 3 autocutter error, bit 5 unrecoverable error,
//                        bit 6 automatically recoverable error (e.g. head over temperature)
//   n=4 roll paper:      bits 2+3 near end, bits 5+6 paper end (paper not present)

fn escpos_valid(b: u8) -> bool {
    b & 0x93 == 0x12
}

fn parse_escpos(b: [u8; 4]) -> Status {
    if let Some((i, bad)) = b.iter().enumerate().find(|(_, b)| !escpos_valid(**b)) {
        return Status::unknown(format!("DLE EOT {} answer {bad:#04x} lacks the fixed bits of a status byte", i + 1));
    }
    let [printer, offline, error, paper] = b;
    Status::from_details(Details {
        offline: printer & 0x08 != 0,
        cover_open: offline & 0x04 != 0,
        paper_out: offline & 0x20 != 0 || paper & 0x60 == 0x60,
        mechanical_error: error & 0x04 != 0,
        cutter_error: error & 0x08 != 0,
        unrecoverable_error: error & 0x20 != 0,
        recoverable_error: error & 0x40 != 0,
        paper_near_end: paper & 0x0c == 0x0c,
        ..Details::default()
    })
}

/// The answer to `DLE EOT n` (n = 1..4) for a printer in this condition.
pub fn escpos_status_byte(n: u8, d: &Details) -> u8 {
    let fixed = 0x12;
    let on = |v: bool, bits: u8| if v { bits } else { 0 };
    let error = d.cutter_error || d.mechanical_error || d.unrecoverable_error || d.recoverable_error;
    match n {
        1 => fixed | on(d.offline || d.paper_out || d.cover_open || d.head_open || error, 0x08),
        2 => fixed | on(d.cover_open || d.head_open, 0x04) | on(d.paper_out, 0x20) | on(error, 0x40),
        3 => {
            fixed
                | on(d.mechanical_error, 0x04)
                | on(d.cutter_error, 0x08)
                | on(d.unrecoverable_error, 0x20)
                | on(d.recoverable_error, 0x40)
        }
        _ => fixed | on(d.paper_near_end || d.paper_out, 0x0c) | on(d.paper_out, 0x60),
    }
}

// ---------------------------------------------------------------------------------------------------------
// CPCL <ESC>h (Mobile Printer CPCL manual, "Get Printer Status"): bit 0 busy, bit 1 out of paper,
// bit 2 latch open, bit 3 battery low, bit 4 printer reset (informational).

fn parse_cpcl(b: u8) -> Status {
    Status::from_details(Details {
        printing: b & 0x01 != 0,
        paper_out: b & 0x02 != 0,
        head_open: b & 0x04 != 0,
        battery_low: b & 0x08 != 0,
        ..Details::default()
    })
}

pub fn cpcl_status_byte(d: &Details) -> u8 {
    u8::from(d.printing) | u8::from(d.paper_out) << 1 | u8::from(d.head_open || d.cover_open) << 2 | u8::from(d.battery_low) << 3
}

// ---------------------------------------------------------------------------------------------------------
// USB printer class GET_PORT_STATUS.

/// Reads the port status byte. It cannot tell printing from idle, nor a paused printer from a ready one;
/// it is the status of last resort for printers that answer no language query over USB.
pub fn from_port_status(p: PortStatus) -> Status {
    Status::from_details(Details {
        paper_out: p.paper_empty(),
        offline: !p.selected() || !p.no_error(),
        ..Details::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ~HS answer of an idle ZD421, as in the manual's layout: 203 dpi, 6-inch label (1218 dots).
    const HS_IDLE: &[u8] = b"\x02030,0,0,1218,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,0,0,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";

    fn hs(line1: &str, line2: &str) -> Vec<u8> {
        format!("\x02{line1}\x03\r\n\x02{line2}\x03\r\n\x021234,0\x03\r\n").into_bytes()
    }

    #[test]
    fn zpl_idle_is_ready() {
        let s = Dialect::ZplHostStatus.parse(HS_IDLE).unwrap();
        assert_eq!(s.state, PrinterState::Ready);
        assert_eq!(s.details.label_length_dots, Some(1218));
        assert_eq!(s.details.labels_remaining, Some(0));
        assert!(s.conditions().is_empty());
    }

    #[test]
    fn zpl_reads_every_flag_from_its_position() {
        let paper_out = hs("030,1,0,1218,000,0,0,0,000,0,0,0", "001,0,0,0,0,2,6,0,00000000,1,000");
        assert_eq!(Dialect::ZplHostStatus.parse(&paper_out).unwrap().state, PrinterState::PaperOut);
        let paused = hs("030,0,1,1218,000,0,0,0,000,0,0,0", "001,0,0,0,0,2,6,0,00000000,1,000");
        assert_eq!(Dialect::ZplHostStatus.parse(&paused).unwrap().state, PrinterState::Paused);
        let head_up = hs("030,1,1,1218,000,0,0,0,000,0,0,0", "001,0,1,0,0,2,6,0,00000000,1,000");
        let s = Dialect::ZplHostStatus.parse(&head_up).unwrap();
        assert_eq!(s.state, PrinterState::HeadOpen);
        assert_eq!(s.conditions(), vec!["head open", "paper out", "paused"]);
        let ribbon = hs("030,0,0,1218,000,0,0,0,000,0,0,0", "001,0,0,1,1,2,6,0,00000000,1,000");
        assert_eq!(Dialect::ZplHostStatus.parse(&ribbon).unwrap().state, PrinterState::Offline);
        let busy = hs("030,0,0,1218,003,1,0,1,000,0,1,0", "001,0,0,0,0,2,6,0,00000042,1,000");
        let s = Dialect::ZplHostStatus.parse(&busy).unwrap();
        assert_eq!(s.state, PrinterState::Printing);
        assert_eq!((s.details.formats_in_buffer, s.details.labels_remaining), (Some(3), Some(42)));
        assert!(s.details.buffer_full && s.details.partial_format && s.details.under_temperature);
        let hot = hs("030,0,0,1218,000,0,0,0,000,0,0,1", "001,0,0,0,0,2,6,0,00000000,1,000");
        assert_eq!(Dialect::ZplHostStatus.parse(&hot).unwrap().state, PrinterState::Offline);
    }

    #[test]
    fn zpl_partial_or_garbled_answers_are_not_ready() {
        assert_eq!(Dialect::ZplHostStatus.parse(&HS_IDLE[..40]), None);
        assert_eq!(Dialect::ZplHostStatus.parse(b""), None);
        let short = hs("030,0,0,1218,000,0,0,0,000,0", "001,0,0,0,0,2,6,0,00000000,1,000");
        assert!(matches!(Dialect::ZplHostStatus.parse(&short).unwrap().state, PrinterState::Unknown(w) if w.contains("line 1 has 10 fields")));
        let bad_flag = hs("030,X,0,1218,000,0,0,0,000,0,0,0", "001,0,0,0,0,2,6,0,00000000,1,000");
        assert!(matches!(Dialect::ZplHostStatus.parse(&bad_flag).unwrap().state, PrinterState::Unknown(w) if w.contains("paper out")));
    }

    #[test]
    fn zpl_answer_round_trips() {
        for d in [
            Details::default(),
            Details { paper_out: true, ..Details::default() },
            Details { head_open: true, paused: true, ..Details::default() },
            Details { labels_remaining: Some(7), formats_in_buffer: Some(2), ribbon_out: true, ..Details::default() },
        ] {
            let s = Dialect::ZplHostStatus.parse(&zpl_hs_answer(&d)).unwrap();
            assert_eq!(s, Status::from_details(Details { label_length_dots: Some(1218), labels_remaining: Some(d.labels_remaining.unwrap_or(0)), formats_in_buffer: Some(d.formats_in_buffer.unwrap_or(0)), ..d }));
        }
        assert_eq!(zpl_hs_answer(&Details::default()), HS_IDLE);
    }

    #[test]
    fn tspl_bits_follow_the_manual_table() {
        let st = |b: u8| Dialect::TsplStatusByte.parse(&[b]).unwrap().state;
        assert_eq!(st(0x00), PrinterState::Ready);
        assert_eq!(st(0x01), PrinterState::HeadOpen);
        assert_eq!(st(0x02), PrinterState::Offline); // paper jam
        assert_eq!(st(0x04), PrinterState::PaperOut);
        assert_eq!(st(0x05), PrinterState::HeadOpen); // out of paper and head opened
        assert_eq!(st(0x08), PrinterState::Offline); // out of ribbon
        assert_eq!(st(0x0C), PrinterState::PaperOut); // ribbon and paper out
        assert_eq!(st(0x10), PrinterState::Paused);
        assert_eq!(st(0x20), PrinterState::Printing);
        assert_eq!(Dialect::TsplStatusByte.parse(&[]), None);
        for d in [Details { paper_out: true, ..Details::default() }, Details { printing: true, paused: true, ..Details::default() }] {
            assert_eq!(parse_tspl(tspl_status_byte(&d)).details, d);
        }
    }

    #[test]
    fn escpos_bytes_follow_the_manual_table() {
        // Idle: 0x12 for each of DLE EOT 1..4.
        let idle = [0x12, 0x12, 0x12, 0x12];
        assert_eq!(Dialect::EscPosRealTime.parse(&idle).unwrap().state, PrinterState::Ready);
        // Paper end: offline (n=1 bit 3), stopped at paper end (n=2 bit 5), roll end (n=4 bits 5-6).
        let out = [0x1a, 0x32, 0x12, 0x7e];
        let s = Dialect::EscPosRealTime.parse(&out).unwrap();
        assert_eq!(s.state, PrinterState::PaperOut);
        assert!(s.details.paper_near_end && s.details.offline);
        // Cover open.
        assert_eq!(Dialect::EscPosRealTime.parse(&[0x1a, 0x16, 0x12, 0x12]).unwrap().state, PrinterState::HeadOpen);
        // Autocutter error.
        assert_eq!(Dialect::EscPosRealTime.parse(&[0x1a, 0x52, 0x1a, 0x12]).unwrap().state, PrinterState::Offline);
        // Near end alone still prints.
        assert_eq!(Dialect::EscPosRealTime.parse(&[0x12, 0x12, 0x12, 0x1e]).unwrap().state, PrinterState::Ready);
        // Three bytes: wait for the fourth. A byte without the fixed bits: unknown, not ready.
        assert_eq!(Dialect::EscPosRealTime.parse(&idle[..3]), None);
        assert!(matches!(Dialect::EscPosRealTime.parse(&[0x00, 0x12, 0x12, 0x12]).unwrap().state, PrinterState::Unknown(_)));
        let d = Details { paper_out: true, ..Details::default() };
        let answer: Vec<u8> = (1..=4).map(|n| escpos_status_byte(n, &d)).collect();
        assert_eq!(answer, out);
    }

    #[test]
    fn cpcl_and_port_status() {
        let st = |b: u8| Dialect::CpclStatusByte.parse(&[b]).unwrap().state;
        assert_eq!(st(0x00), PrinterState::Ready);
        assert_eq!(st(0x10), PrinterState::Ready); // reset bit only
        assert_eq!(st(0x01), PrinterState::Printing);
        assert_eq!(st(0x02), PrinterState::PaperOut);
        assert_eq!(st(0x06), PrinterState::HeadOpen);
        assert_eq!(cpcl_status_byte(&Details { paper_out: true, ..Details::default() }), 0x02);

        assert_eq!(from_port_status(PortStatus(0x18)).state, PrinterState::Ready);
        assert_eq!(from_port_status(PortStatus(0x38)).state, PrinterState::PaperOut);
        assert_eq!(from_port_status(PortStatus(0x08)).state, PrinterState::Offline); // not selected
        assert_eq!(from_port_status(PortStatus(0x10)).state, PrinterState::Offline); // error line
    }

    #[test]
    fn every_builtin_profile_has_a_status_path() {
        use crate::printer::profile::StatusQuery;
        for p in crate::printer::Profiles::builtin().all() {
            let d = Dialect::for_profile(p.status_query);
            // Only EPL2 and query-less printers fall back to the link's status.
            assert_eq!(d.is_none(), matches!(p.status_query, StatusQuery::EplErrorReport | StatusQuery::None), "{}", p.name);
        }
    }

    #[test]
    fn unknown_is_never_ready() {
        let s = Status::unknown("no answer");
        assert!(!s.state.accepts_labels());
        assert_eq!(s.state.to_string(), "unknown (no answer)");
    }
}
