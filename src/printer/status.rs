//! Printer status over a link: send the language's query, read the answer with the language's own reader
//! (`lang::Dialect::status`), or fall back on the USB printer class port status.
//!
//! | means | query | answer |
//! |---|---|---|
//! | the language's [`StatusProtocol`] | its bytes (`~HS`, `<ESC>!?`, `DLE EOT 1..4`, `<ESC>h`) | read by its file in `lang` |
//! | USB printer class | GET_PORT_STATUS | one byte: paper empty, selected, not-error |
//!
//! Never fails: a link error is `Offline` with the reason; silence or garbage is `Unknown`, never `Ready`.

use std::time::{Duration, Instant};

pub use crate::lang::status::{Details, PrinterState, Status, StatusProtocol};
use crate::transport::usb::PortStatus;
use crate::transport::{Transport, TransportError};

/// Sends the protocol's query and reads the answer, waiting at most `timeout`.
pub fn query(link: &mut dyn Transport, protocol: &StatusProtocol, timeout: Duration) -> Status {
    let deadline = Instant::now() + timeout;
    if let Err(e) = link.write_all(protocol.query, deadline) {
        return offline_or_unknown(&e);
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        if let Some(status) = protocol.parse(&answer) {
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
pub fn probe(link: &mut dyn Transport, protocol: Option<&StatusProtocol>, timeout: Duration) -> Status {
    if let Some(p) = protocol {
        return query(link, p, timeout);
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

/// Reads the USB printer class port status byte. It cannot tell printing from idle, nor a paused printer
/// from a ready one; it is the status of last resort for printers that answer no language query over USB.
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

    #[test]
    fn port_status() {
        assert_eq!(from_port_status(PortStatus(0x18)).state, PrinterState::Ready);
        assert_eq!(from_port_status(PortStatus(0x38)).state, PrinterState::PaperOut);
        assert_eq!(from_port_status(PortStatus(0x08)).state, PrinterState::Offline); // not selected
        assert_eq!(from_port_status(PortStatus(0x10)).state, PrinterState::Offline); // error line
    }

    #[test]
    fn every_builtin_profile_has_a_status_path() {
        for p in crate::printer::Profiles::builtin().all() {
            // Only EPL2 and query-less printers fall back to the link's status.
            assert_eq!(p.status.is_none(), p.language == crate::lang::Language::Epl, "{}", p.name);
        }
    }

    #[test]
    fn unknown_is_never_ready() {
        let s = Status::unknown("no answer");
        assert!(!s.state.accepts_labels());
        assert_eq!(s.state.to_string(), "unknown (no answer)");
    }
}
