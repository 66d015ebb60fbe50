//! Printer addresses: `usb://VID:PID[/serial]`, `serial:///dev/ttyUSB0?baud=115200`,
//! `tcp://host[:9100]`, `file:///dev/usb/lp0`.
//!
//! Parsed once, here, into [`PrinterUri`], so transports receive typed values and the operator gets
//! the problem named at config time instead of a failed open at the first label.

use std::fmt;
use std::path::PathBuf;

/// Where a printer is and which link reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterUri {
    /// USB printer class device; `serial` picks one of several identical printers.
    Usb { vendor_id: u16, product_id: u16, serial: Option<String> },
    /// A serial port. `baud: None` means the driver profile's default.
    Serial { path: PathBuf, baud: Option<u32>, flow: Option<FlowControl> },
    /// Raw TCP, usually port 9100 ("JetDirect").
    Tcp { host: String, port: u16 },
    /// A character device or file written as-is (`/dev/usb/lp0`).
    File { path: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowControl {
    None,
    /// RTS/CTS.
    Hardware,
    /// XON/XOFF.
    Software,
}

/// The port raw-TCP printers listen on unless told otherwise.
pub const DEFAULT_TCP_PORT: u16 = 9100;

/// Rates a UART-attached label printer can be set to.
const BAUD_RATES: &[u32] = &[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];

/// What is wrong with a printer URI; the message is shown after `uri: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriError(pub String);

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UriError {}

fn err<T>(msg: impl Into<String>) -> Result<T, UriError> {
    Err(UriError(msg.into()))
}

impl std::str::FromStr for PrinterUri {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Self, UriError> {
        PrinterUri::parse(s)
    }
}

impl PrinterUri {
    pub fn parse(s: &str) -> Result<PrinterUri, UriError> {
        let Some((scheme, rest)) = s.split_once("://") else {
            return err(format!("\"{}\" has no scheme; use usb://, serial://, tcp:// or file://", s.escape_debug()));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "usb" => parse_usb(rest),
            "serial" => parse_serial(rest),
            "tcp" => parse_tcp(rest),
            "file" => parse_file(rest),
            _ => err(format!("unknown scheme \"{}\" (expected usb, serial, tcp or file)", scheme.escape_debug())),
        }
    }

    /// The link's name, for logs and the printers page.
    pub fn scheme(&self) -> &'static str {
        match self {
            PrinterUri::Usb { .. } => "usb",
            PrinterUri::Serial { .. } => "serial",
            PrinterUri::Tcp { .. } => "tcp",
            PrinterUri::File { .. } => "file",
        }
    }
}

impl fmt::Display for PrinterUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrinterUri::Usb { vendor_id, product_id, serial } => {
                write!(f, "usb://{vendor_id:04x}:{product_id:04x}")?;
                if let Some(s) = serial {
                    write!(f, "/{s}")?;
                }
                Ok(())
            }
            PrinterUri::Serial { path, baud, flow } => {
                write!(f, "serial://{}", path.display())?;
                let mut sep = '?';
                if let Some(b) = baud {
                    write!(f, "{sep}baud={b}")?;
                    sep = '&';
                }
                if let Some(flow) = flow {
                    let name = match flow {
                        FlowControl::None => "none",
                        FlowControl::Hardware => "rtscts",
                        FlowControl::Software => "xonxoff",
                    };
                    write!(f, "{sep}flow={name}")?;
                }
                Ok(())
            }
            PrinterUri::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            PrinterUri::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            PrinterUri::File { path } => write!(f, "file://{}", path.display()),
        }
    }
}

fn parse_usb(rest: &str) -> Result<PrinterUri, UriError> {
    let (ids, serial) = match rest.split_once('/') {
        Some((ids, serial)) => (ids, Some(serial)),
        None => (rest, None),
    };
    let Some((vid, pid)) = ids.split_once(':') else {
        return err(format!("usb address \"{}\" must be VID:PID in hex, e.g. usb://0a5f:0164", ids.escape_debug()));
    };
    let hex = |what: &str, v: &str| -> Result<u16, UriError> {
        let digits = v.strip_prefix("0x").unwrap_or(v);
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return err(format!("usb {what} \"{}\" is not 1 to 4 hex digits", v.escape_debug()));
        }
        Ok(u16::from_str_radix(digits, 16).expect("checked hex digits"))
    };
    let vendor_id = hex("vendor id", vid)?;
    let product_id = hex("product id", pid)?;
    let serial = match serial {
        None => None,
        Some("") => return err("usb serial number after \"/\" is empty"),
        Some(s) if s.contains('/') || s.chars().any(char::is_control) => {
            return err(format!("usb serial number \"{}\" contains \"/\" or control characters", s.escape_debug()));
        }
        Some(s) => Some(s.to_string()),
    };
    Ok(PrinterUri::Usb { vendor_id, product_id, serial })
}

fn parse_serial(rest: &str) -> Result<PrinterUri, UriError> {
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let path = device_path("serial", path)?;
    let mut baud = None;
    let mut flow = None;
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        let Some((key, value)) = pair.split_once('=') else {
            return err(format!("serial option \"{}\" must be key=value", pair.escape_debug()));
        };
        match key {
            "baud" => {
                let rate: u32 = value
                    .parse()
                    .ok()
                    .filter(|r| BAUD_RATES.contains(r))
                    .ok_or_else(|| UriError(format!("baud \"{}\" is not a standard rate ({})", value.escape_debug(), list(BAUD_RATES))))?;
                baud = Some(rate);
            }
            "flow" => {
                flow = Some(match value {
                    "none" => FlowControl::None,
                    "rtscts" | "hardware" => FlowControl::Hardware,
                    "xonxoff" | "software" => FlowControl::Software,
                    _ => return err(format!("flow \"{}\" must be none, rtscts or xonxoff", value.escape_debug())),
                });
            }
            _ => return err(format!("unknown serial option \"{}\" (expected baud or flow)", key.escape_debug())),
        }
    }
    Ok(PrinterUri::Serial { path, baud, flow })
}

fn parse_tcp(rest: &str) -> Result<PrinterUri, UriError> {
    if rest.contains(['/', '?', '#']) {
        return err(format!("tcp address \"{}\" must be host or host:port, without a path", rest.escape_debug()));
    }
    // [v6]:port, [v6], host:port, host
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return err("IPv6 address is missing its closing \"]\"");
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return err(format!("\"{}\" is not an IPv6 address", host.escape_debug()));
        }
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return err(format!("unexpected \"{}\" after the IPv6 address", after.escape_debug())),
            },
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return err("tcp host is empty");
    }
    if !host.contains(':') && !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_') {
        return err(format!("tcp host \"{}\" is not a host name or IP address", host.escape_debug()));
    }
    let port = match port {
        None => DEFAULT_TCP_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return err(format!("tcp port \"{}\" is not a number from 1 to 65535", p.escape_debug())),
        },
    };
    Ok(PrinterUri::Tcp { host: host.to_string(), port })
}

fn parse_file(rest: &str) -> Result<PrinterUri, UriError> {
    Ok(PrinterUri::File { path: device_path("file", rest)? })
}

fn device_path(what: &str, path: &str) -> Result<PathBuf, UriError> {
    if path.is_empty() {
        return err(format!("{what} device path is empty, e.g. {what}:///dev/..."));
    }
    if !path.starts_with('/') {
        return err(format!(
            "{what} device path \"{}\" is not absolute (write three slashes: {what}:///dev/...)",
            path.escape_debug()
        ));
    }
    if path.contains('\0') {
        return err(format!("{what} device path contains a NUL byte"));
    }
    Ok(PathBuf::from(path))
}

fn list(rates: &[u32]) -> String {
    rates.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_scheme() {
        assert_eq!(
            PrinterUri::parse("usb://0A5F:0164/XXQ2214").unwrap(),
            PrinterUri::Usb { vendor_id: 0x0a5f, product_id: 0x0164, serial: Some("XXQ2214".into()) }
        );
        assert_eq!(
            PrinterUri::parse("usb://1203:0230").unwrap(),
            PrinterUri::Usb { vendor_id: 0x1203, product_id: 0x0230, serial: None }
        );
        assert_eq!(
            PrinterUri::parse("serial:///dev/ttyUSB0?baud=115200").unwrap(),
            PrinterUri::Serial { path: "/dev/ttyUSB0".into(), baud: Some(115200), flow: None }
        );
        assert_eq!(
            PrinterUri::parse("serial:///dev/ttyS1?flow=rtscts&baud=9600").unwrap(),
            PrinterUri::Serial { path: "/dev/ttyS1".into(), baud: Some(9600), flow: Some(FlowControl::Hardware) }
        );
        assert_eq!(PrinterUri::parse("tcp://10.0.0.7:9100").unwrap(), PrinterUri::Tcp { host: "10.0.0.7".into(), port: 9100 });
        assert_eq!(PrinterUri::parse("tcp://zd421.local").unwrap(), PrinterUri::Tcp { host: "zd421.local".into(), port: 9100 });
        assert_eq!(PrinterUri::parse("tcp://[::1]:6101").unwrap(), PrinterUri::Tcp { host: "::1".into(), port: 6101 });
        assert_eq!(PrinterUri::parse("file:///dev/usb/lp0").unwrap(), PrinterUri::File { path: "/dev/usb/lp0".into() });
    }

    #[test]
    fn display_round_trips() {
        for s in ["usb://0a5f:0164/XXQ2214", "serial:///dev/ttyUSB0?baud=115200&flow=xonxoff", "tcp://[::1]:6101", "tcp://h:9100", "file:///dev/usb/lp0"] {
            let uri = PrinterUri::parse(s).unwrap();
            assert_eq!(uri.to_string(), s);
            assert_eq!(PrinterUri::parse(&uri.to_string()).unwrap(), uri);
        }
    }

    #[test]
    fn names_the_problem() {
        let cases = [
            ("lpt://1", "unknown scheme \"lpt\""),
            ("/dev/usb/lp0", "has no scheme"),
            ("usb://0a5f", "must be VID:PID"),
            ("usb://0a5f:zz", "product id \"zz\""),
            ("usb://0a5f:12345", "product id \"12345\""),
            ("usb://0a5f:0164/", "serial number after \"/\" is empty"),
            ("serial://dev/ttyUSB0", "not absolute"),
            ("serial:///dev/ttyUSB0?baud=115201", "baud \"115201\" is not a standard rate"),
            ("serial:///dev/ttyUSB0?parity=odd", "unknown serial option \"parity\""),
            ("serial:///dev/ttyUSB0?baud", "must be key=value"),
            ("tcp://:9100", "host is empty"),
            ("tcp://printer:0", "port \"0\""),
            ("tcp://printer:99999", "port \"99999\""),
            ("tcp://printer:9100/x", "without a path"),
            ("tcp://[fe80::1", "closing"),
            ("file://", "path is empty"),
        ];
        for (input, expected) in cases {
            let e = PrinterUri::parse(input).unwrap_err().to_string();
            assert!(e.contains(expected), "{input}: {e} does not contain {expected}");
        }
    }
}
