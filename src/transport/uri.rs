//! Printer URIs, as written in `labeld.toml` (`uri = "..."`) and on the command line.
//!
//! ```text
//! usb://VID:PID[/SERIAL]                      usb://0a5f:0181/D4J123456
//! serial:///dev/ttyUSB0[?baud=N&flow=F]       F = none | rtscts | xonxoff; baud defaults to 9600
//! tcp://HOST[:PORT]                           port defaults to 9100; IPv6 as [::1]
//! file:///dev/usb/lp0
//! ```
//!
//! A bad URI is refused with the part that is wrong (scheme, vendor id, baud, ...) and what is wrong with it.

use std::fmt;
use std::str::FromStr;

/// Serial flow control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    None,
    /// RTS/CTS hardware handshake (the usual setting for label printers that buffer slowly).
    RtsCts,
    /// XON/XOFF in-band handshake.
    XonXoff,
}

/// Where a printer is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Uri {
    Usb { vid: u16, pid: u16, serial: Option<String> },
    /// `baud` and `flow` are what the URI says; unsaid, the printer profile's serial defaults apply
    /// ([`Uri::with_serial_defaults`]), and 9600 8N1 without flow control when there is no profile.
    Serial { path: String, baud: Option<u32>, flow: Option<Flow> },
    Tcp { host: String, port: u16 },
    File { path: String },
}

pub const DEFAULT_BAUD: u32 = 9600;
pub const DEFAULT_TCP_PORT: u16 = 9100;

/// A URI that cannot name a printer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriError {
    pub uri: String,
    /// The part that is wrong: "scheme", "vendor id", "product id", "serial number", "path", "baud", "flow",
    /// "query", "host", "port".
    pub part: &'static str,
    pub problem: String,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "printer URI `{}`: {}: {}", self.uri, self.part, self.problem)
    }
}

impl std::error::Error for UriError {}

impl FromStr for Uri {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Uri, UriError> {
        let err = |part: &'static str, problem: String| UriError { uri: s.to_string(), part, problem };
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(err("scheme", "missing `scheme://` (expected usb://, serial://, tcp:// or file://)".into()));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "usb" => parse_usb(rest).map_err(|(p, m)| err(p, m)),
            "serial" => parse_serial(rest).map_err(|(p, m)| err(p, m)),
            "tcp" | "socket" => parse_tcp(rest).map_err(|(p, m)| err(p, m)),
            "file" => {
                let path = absolute_path(rest).map_err(|(p, m)| err(p, m))?;
                if path.contains('?') {
                    return Err(err("query", "file:// takes no options".into()));
                }
                Ok(Uri::File { path })
            }
            other => Err(err("scheme", format!("`{other}` is not one of usb, serial, tcp, file"))),
        }
    }
}

type PartError = (&'static str, String);

fn parse_usb(rest: &str) -> Result<Uri, PartError> {
    let (ids, serial) = match rest.split_once('/') {
        Some((ids, serial)) => (ids, Some(serial)),
        None => (rest, None),
    };
    let Some((vid, pid)) = ids.split_once(':') else {
        return Err(("vendor id", format!("`{ids}` is not VID:PID (four hex digits each, like 0a5f:0181)")));
    };
    let vid = hex16(vid).map_err(|m| ("vendor id", m))?;
    let pid = hex16(pid).map_err(|m| ("product id", m))?;
    let serial = match serial {
        None => None,
        Some("") => return Err(("serial number", "empty after `/` (leave out the slash to take any serial)".into())),
        Some(s) if s.contains(['/', '?']) || s.chars().any(|c| c.is_control()) => {
            return Err(("serial number", format!("`{s}` contains `/`, `?` or a control character")));
        }
        Some(s) => Some(s.to_string()),
    };
    Ok(Uri::Usb { vid, pid, serial })
}

fn hex16(s: &str) -> Result<u16, String> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("`{s}` is not 1 to 4 hex digits"));
    }
    Ok(u16::from_str_radix(digits, 16).expect("checked hex"))
}

fn absolute_path(rest: &str) -> Result<String, PartError> {
    if rest.is_empty() {
        return Err(("path", "missing (expected an absolute path like /dev/ttyUSB0)".into()));
    }
    if !rest.starts_with('/') {
        return Err(("path", format!("`{rest}` is not absolute (write three slashes: scheme:///dev/...)")));
    }
    Ok(rest.to_string())
}

fn parse_serial(rest: &str) -> Result<Uri, PartError> {
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let path = absolute_path(path)?;
    let mut baud = None;
    let mut flow = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "baud" => {
                baud = value
                    .parse::<u32>()
                    .map(Some)
                    .ok()
                    .filter(|b| b.is_some_and(|b| (50..=4_000_000).contains(&b)))
                    .ok_or(("baud", format!("`{value}` is not a baud rate (a number like 9600 or 115200)")))?;
            }
            "flow" => {
                flow = Some(match value {
                    "none" => Flow::None,
                    "rtscts" | "hardware" => Flow::RtsCts,
                    "xonxoff" | "software" => Flow::XonXoff,
                    _ => return Err(("flow", format!("`{value}` is not none, rtscts or xonxoff"))),
                })
            }
            _ => return Err(("query", format!("unknown option `{key}` (serial:// takes baud and flow)"))),
        }
    }
    Ok(Uri::Serial { path, baud, flow })
}

fn parse_tcp(rest: &str) -> Result<Uri, PartError> {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?']) {
        return Err(("host", format!("`{rest}` has a path or query; tcp:// takes only host[:port]")));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let Some((host, after)) = v6.split_once(']') else {
            return Err(("host", format!("`{rest}` opens `[` without closing it")));
        };
        match after {
            "" => (host, None),
            p if p.starts_with(':') => (host, Some(&p[1..])),
            _ => return Err(("port", format!("`{after}` after `]` is not `:PORT`"))),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(("host", "missing (expected tcp://HOST[:PORT])".into()));
    }
    if host.contains(':') && !rest.starts_with('[') {
        return Err(("host", format!("`{host}` looks like IPv6: write it in brackets, tcp://[{host}]:9100")));
    }
    if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%')) {
        return Err(("host", format!("`{host}` is not a host name or address")));
    }
    let port = match port {
        None => DEFAULT_TCP_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or(("port", format!("`{p}` is not a port number (1 to 65535)")))?,
    };
    Ok(Uri::Tcp { host: host.to_string(), port })
}

impl Uri {
    /// Fills what a serial URI leaves unsaid with a printer model's defaults (its profile's
    /// `[serial]`), so `serial:///dev/ttyUSB0` talks to a 115200-baud RTS/CTS printer at its own rate.
    pub fn with_serial_defaults(self, default_baud: u32, default_flow: Flow) -> Uri {
        match self {
            Uri::Serial { path, baud, flow } => {
                Uri::Serial { path, baud: Some(baud.unwrap_or(default_baud)), flow: Some(flow.unwrap_or(default_flow)) }
            }
            other => other,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Usb { vid, pid, serial: None } => write!(f, "usb://{vid:04x}:{pid:04x}"),
            Uri::Usb { vid, pid, serial: Some(s) } => write!(f, "usb://{vid:04x}:{pid:04x}/{s}"),
            Uri::Serial { path, baud, flow } => {
                write!(f, "serial://{path}")?;
                let mut sep = '?';
                if let Some(baud) = baud {
                    write!(f, "{sep}baud={baud}")?;
                    sep = '&';
                }
                match flow {
                    None => Ok(()),
                    Some(Flow::None) => write!(f, "{sep}flow=none"),
                    Some(Flow::RtsCts) => write!(f, "{sep}flow=rtscts"),
                    Some(Flow::XonXoff) => write!(f, "{sep}flow=xonxoff"),
                }
            }
            Uri::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Uri::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Uri::File { path } => write!(f, "file://{path}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(s: &str) -> UriError {
        s.parse::<Uri>().expect_err(s)
    }

    #[test]
    fn parses_every_scheme() {
        assert_eq!(
            "usb://0a5f:0181/D4J123".parse::<Uri>().unwrap(),
            Uri::Usb { vid: 0x0a5f, pid: 0x0181, serial: Some("D4J123".into()) }
        );
        assert_eq!("usb://1203:0230".parse::<Uri>().unwrap(), Uri::Usb { vid: 0x1203, pid: 0x0230, serial: None });
        assert_eq!(
            "serial:///dev/ttyUSB0?baud=115200&flow=rtscts".parse::<Uri>().unwrap(),
            Uri::Serial { path: "/dev/ttyUSB0".into(), baud: Some(115200), flow: Some(Flow::RtsCts) }
        );
        assert_eq!(
            "serial:///dev/ttyS0".parse::<Uri>().unwrap(),
            Uri::Serial { path: "/dev/ttyS0".into(), baud: None, flow: None }
        );
        // What the URI leaves unsaid comes from the profile; what it says wins.
        let bare: Uri = "serial:///dev/ttyS0".parse().unwrap();
        assert_eq!(bare.with_serial_defaults(115200, Flow::RtsCts).to_string(), "serial:///dev/ttyS0?baud=115200&flow=rtscts");
        let said: Uri = "serial:///dev/ttyS0?baud=19200".parse().unwrap();
        assert_eq!(said.with_serial_defaults(115200, Flow::RtsCts).to_string(), "serial:///dev/ttyS0?baud=19200&flow=rtscts");
        let flow_only: Uri = "serial:///dev/ttyS0?flow=none".parse().unwrap();
        assert_eq!(flow_only.to_string(), "serial:///dev/ttyS0?flow=none");
        assert_eq!("tcp://10.0.0.7".parse::<Uri>().unwrap(), Uri::Tcp { host: "10.0.0.7".into(), port: 9100 });
        assert_eq!("tcp://zebra-3.lan:6101".parse::<Uri>().unwrap(), Uri::Tcp { host: "zebra-3.lan".into(), port: 6101 });
        assert_eq!("tcp://[::1]:9100".parse::<Uri>().unwrap(), Uri::Tcp { host: "::1".into(), port: 9100 });
        assert_eq!("file:///dev/usb/lp0".parse::<Uri>().unwrap(), Uri::File { path: "/dev/usb/lp0".into() });
    }

    #[test]
    fn display_parses_back() {
        for s in ["usb://0a5f:0181/D4J123", "serial:///dev/ttyUSB0?baud=115200&flow=xonxoff", "tcp://[::1]:9100", "file:///dev/usb/lp0"] {
            let u: Uri = s.parse().unwrap();
            assert_eq!(u.to_string().parse::<Uri>().unwrap(), u, "{s}");
        }
    }

    #[test]
    fn errors_name_the_wrong_part() {
        let cases = [
            ("/dev/usb/lp0", "scheme"),
            ("lpd://host/queue", "scheme"),
            ("usb://0a5f", "vendor id"),
            ("usb://zebra:0181", "vendor id"),
            ("usb://0a5f:12345", "product id"),
            ("usb://0a5f:0181/", "serial number"),
            ("serial://dev/ttyUSB0", "path"),
            ("serial:///dev/ttyUSB0?baud=fast", "baud"),
            ("serial:///dev/ttyUSB0?baud=0", "baud"),
            ("serial:///dev/ttyUSB0?flow=dtr", "flow"),
            ("serial:///dev/ttyUSB0?parity=even", "query"),
            ("tcp://:9100", "host"),
            ("tcp://printer:99999", "port"),
            ("tcp://printer:0", "port"),
            ("tcp://printer/queue", "host"),
            ("tcp://fe80::1", "host"),
            ("file://", "path"),
            ("file:///dev/usb/lp0?x=1", "query"),
        ];
        for (uri, part) in cases {
            let e = bad(uri);
            assert_eq!(e.part, part, "{uri}: {e}");
            assert!(e.to_string().contains(uri) && e.to_string().contains(part), "{e}");
        }
    }
}
