//! How fast a link carries a label, and so how long a send may take.
//!
//! A serial line at 9600 baud, 8N1, moves 960 bytes a second (ten bits a byte: start, eight data, stop):
//! a 15 KB ZPL label needs 16 s and a 110 KB TSPL label two minutes. The send deadline is computed from
//! this speed, and a label that would take longer than the printer's `max_label_seconds` is held as
//! `link_too_slow` before its first byte goes, instead of timing out half sent and ending in doubt.
//! Links without a baud rate (TCP, USB, a device file) use `link_bytes_per_second` from the printer's
//! config, or [`NOMINAL_BYTES_PER_SECOND`].

use std::time::Duration;

use super::Uri;

/// A conservative figure for links with no baud rate: a network or USB printer takes at least this
/// much while it prints (its receive buffer drains at print speed, not at link speed).
pub const NOMINAL_BYTES_PER_SECOND: u32 = 10_000;

/// What a serial driver holds between the sender and the wire (a Linux UART's transmit ring is one page).
/// After a write returns, up to this many bytes are still on their way.
pub const SERIAL_BUFFER_BYTES: usize = 4096;

/// Slack on top of the computed time: flow control pauses, the printer's own processing.
const FLOOR: Duration = Duration::from_secs(10);

/// Bits on the wire per byte at 8N1.
const BITS_PER_BYTE: u32 = 10;

/// A link's speed and where the figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSpeed {
    pub bytes_per_second: u32,
    /// The serial baud rate the figure comes from; `None` for a configured or nominal figure.
    pub baud: Option<u32>,
}

impl LinkSpeed {
    /// The speed of the link `uri` names; `configured` (bytes per second) is for links with no baud rate.
    pub fn of(uri: &Uri, configured: Option<u32>) -> LinkSpeed {
        match uri {
            Uri::Serial { baud, .. } => LinkSpeed::serial(baud.unwrap_or(super::DEFAULT_BAUD)),
            _ => LinkSpeed { bytes_per_second: configured.unwrap_or(NOMINAL_BYTES_PER_SECOND).max(1), baud: None },
        }
    }

    pub fn serial(baud: u32) -> LinkSpeed {
        LinkSpeed { bytes_per_second: (baud / BITS_PER_BYTE).max(1), baud: Some(baud) }
    }

    /// How long `bytes` take on the wire.
    pub fn time_for(&self, bytes: usize) -> Duration {
        Duration::from_secs_f64(bytes as f64 / self.bytes_per_second as f64)
    }

    /// How long a send of `bytes` may take before it has failed: half as long again as the wire needs,
    /// plus a floor.
    pub fn send_deadline(&self, bytes: usize) -> Duration {
        FLOOR + self.time_for(bytes).mul_f64(1.5)
    }

    /// How long bytes a completed write left in the driver's buffer may still take to reach the printer:
    /// a status answer cannot come back before they are through.
    pub fn drain_time(&self, bytes: usize) -> Duration {
        match self.baud {
            Some(_) => self.time_for(bytes.min(SERIAL_BUFFER_BYTES)),
            None => Duration::ZERO,
        }
    }
}

impl std::fmt::Display for LinkSpeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.baud {
            Some(b) => write!(f, "{b} baud ({} bytes/s)", self.bytes_per_second),
            None => write!(f, "{} bytes/s", self.bytes_per_second),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_speed_is_a_tenth_of_the_baud() {
        let s = LinkSpeed::of(&"serial:///dev/ttyS0?baud=9600".parse().unwrap(), Some(1));
        assert_eq!(s, LinkSpeed { bytes_per_second: 960, baud: Some(9600) });
        let t = s.time_for(14_900).as_secs_f64();
        assert!((15.4..15.6).contains(&t), "{t}");
        // The deadline covers the wire time with room to spare.
        assert!(s.send_deadline(14_900) > Duration::from_secs(30));
        assert_eq!(s.drain_time(100_000), s.time_for(SERIAL_BUFFER_BYTES));
    }

    #[test]
    fn links_without_a_baud_rate_use_the_configured_figure() {
        let tcp: Uri = "tcp://127.0.0.1:9100".parse().unwrap();
        assert_eq!(LinkSpeed::of(&tcp, None).bytes_per_second, NOMINAL_BYTES_PER_SECOND);
        assert_eq!(LinkSpeed::of(&tcp, Some(500)), LinkSpeed { bytes_per_second: 500, baud: None });
        assert_eq!(LinkSpeed::of(&tcp, None).drain_time(5000), Duration::ZERO);
    }
}
