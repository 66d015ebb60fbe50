//! Links to printers: one file per kind of link, all behind one [`Transport`] trait.
//!
//! * [`tcp`]: raw TCP, port 9100 ("JetDirect"), the network printers' socket.
//! * [`serial`]: RS-232 and USB-serial adapters through the `serialport` crate (no libudev).
//! * [`file`]: a device file such as `/dev/usb/lp0`, owned by the kernel's `usblp` driver.
//! * [`usb`]: the USB printer class driven directly through libusb (vendored), with IEEE 1284 device ids
//!   and the class's port status.
//!
//! A printer is named by a URI (see [`Uri`]): `usb://VID:PID[/serial]`, `serial:///dev/ttyUSB0?baud=115200`,
//! `tcp://host:9100`, `file:///dev/usb/lp0`.
//!
//! Every write has a deadline and reports how many bytes left the host before it failed: once one byte of a
//! label is out, a failure means the label is *in doubt* (maybe printed), and the caller must not resend it
//! silently.

use std::fmt;
use std::time::{Duration, Instant};

pub mod file;
pub mod paced;
pub mod serial;
pub mod speed;
pub mod tcp;
pub mod uri;
pub mod usb;

pub use uri::{DEFAULT_BAUD, Flow, Uri, UriError};

/// A byte pipe to one printer.
pub trait Transport: Send {
    /// Writes all of `bytes` before `deadline`, or fails telling how many bytes were already sent.
    fn write_all(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), TransportError>;

    /// Reads what the printer sent back, waiting at most `timeout`. `Ok(0)` means nothing arrived in time
    /// (printers answer status queries and stay silent otherwise).
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;

    /// Drops the current link and opens it again (after an unplug, a power cycle or a network drop).
    fn reconnect(&mut self) -> Result<(), TransportError>;

    /// What the link is, for logs and errors: the URI, never buyer data.
    fn describe(&self) -> String;

    /// The USB printer class's port status byte, where the link has one (USB only).
    fn port_status(&mut self) -> Option<Result<u8, TransportError>> {
        None
    }
}

/// Why a link failed.
#[derive(Debug)]
pub enum TransportError {
    /// The link could not be opened (refused, no such device, no permission).
    Open { link: String, reason: String },
    /// The deadline passed; `sent` bytes had left the host.
    Timeout { link: String, sent: usize },
    /// The other end went away (connection reset, unplugged); `sent` bytes had left the host.
    Disconnected { link: String, sent: usize, reason: String },
    /// Any other I/O failure; `sent` bytes had left the host.
    Io { link: String, sent: usize, reason: String },
}

impl TransportError {
    /// Bytes that had left the host when the error happened. Non-zero means a label may be half printed.
    pub fn sent(&self) -> usize {
        match self {
            TransportError::Open { .. } => 0,
            TransportError::Timeout { sent, .. } | TransportError::Disconnected { sent, .. } | TransportError::Io { sent, .. } => *sent,
        }
    }

    /// Whether reconnecting may help (the device or peer went away, as opposed to a refused open).
    pub fn is_disconnect(&self) -> bool {
        matches!(self, TransportError::Disconnected { .. })
    }

    /// Sorts an `io::Error` into timeout, disconnect or other.
    pub(crate) fn from_io(link: &str, sent: usize, e: &std::io::Error) -> TransportError {
        use std::io::ErrorKind::*;
        let link = link.to_string();
        match e.kind() {
            TimedOut | WouldBlock => TransportError::Timeout { link, sent },
            BrokenPipe | ConnectionReset | ConnectionAborted | UnexpectedEof | NotConnected => {
                TransportError::Disconnected { link, sent, reason: e.to_string() }
            }
            _ if e.raw_os_error() == Some(libc::ENODEV) || e.raw_os_error() == Some(libc::EIO) => {
                TransportError::Disconnected { link, sent, reason: e.to_string() }
            }
            _ => TransportError::Io { link, sent, reason: e.to_string() },
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Open { link, reason } => write!(f, "{link}: cannot open: {reason}"),
            TransportError::Timeout { link, sent } => write!(f, "{link}: timed out after sending {sent} bytes"),
            TransportError::Disconnected { link, sent, reason } => {
                write!(f, "{link}: disconnected after sending {sent} bytes: {reason}")
            }
            TransportError::Io { link, sent, reason } => write!(f, "{link}: I/O error after sending {sent} bytes: {reason}"),
        }
    }
}

impl std::error::Error for TransportError {}

/// Timeouts used when opening a link.
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    /// How long to wait for a TCP connect or a USB device to answer.
    pub connect_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { connect_timeout: Duration::from_secs(5) }
    }
}

/// Opens the link a URI names.
pub fn open(uri: &Uri, opts: OpenOptions) -> Result<Box<dyn Transport>, TransportError> {
    Ok(match uri {
        Uri::Tcp { host, port } => Box::new(tcp::TcpTransport::connect(host, *port, opts.connect_timeout)?),
        Uri::Serial { path, baud, flow } => {
            Box::new(serial::SerialTransport::open(path, baud.unwrap_or(DEFAULT_BAUD), flow.unwrap_or(Flow::None))?)
        }
        Uri::File { path } => Box::new(file::FileTransport::open(path)?),
        Uri::Usb { vid, pid, serial } => Box::new(usb::UsbTransport::open_libusb(usb::UsbSelector {
            vid: *vid,
            pid: *pid,
            serial: serial.clone(),
        })?),
    })
}

/// Opens the link a URI names: [`open`] in the daemon; tests wrap it (a paced UART, a failing link).
pub type Connector = std::sync::Arc<dyn Fn(&Uri) -> Result<Box<dyn Transport>, TransportError> + Send + Sync>;

/// The daemon's [`Connector`]: [`open`] with the default timeouts.
pub fn connector() -> Connector {
    std::sync::Arc::new(|uri: &Uri| open(uri, OpenOptions::default()))
}

/// Time left until `deadline`, or `None` when it has passed.
pub(crate) fn remaining(deadline: Instant) -> Option<Duration> {
    let now = Instant::now();
    (deadline > now).then(|| deadline - now)
}
