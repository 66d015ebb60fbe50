//! `labeld.toml`: where the daemon listens, where the spool lives, which warehouses are registered
//! and which printers exist.
//!
//! A bad config is reported in full: every problem, each with `file:line:column`, in one go, so a
//! warehouse admin fixes the file in one pass instead of one restart per typo. Unknown keys are
//! errors (a misspelt `retension` must not silently keep the default). Printer drivers are checked
//! against a [`DriverCatalog`] the caller supplies, so this module does not depend on the printer
//! profiles.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8631"
//! max_connections = 256             # one more is answered 503
//! header_timeout = "10s"            # a request's head, else 408 (body_timeout "30s" for its body)
//! idle_timeout = "60s"              # a kept-alive connection with no request is closed
//! max_event_streams = 32            # open GET /v1/events streams; one more is answered 429
//!
//! [spool]
//! path = "/var/lib/labeld/spool.db"
//! retention = "7d"
//!
//! [warehouses]
//! file = "warehouses.toml"
//!
//! [comply]
//! lexicon_dir = "lexicon"          # more *.toml word lists for the label rules (data/comply/ has the built-in ones)
//!
//! [[printer]]
//! name = "dock-1"
//! driver = "zebra-zd421-203"
//! uri = "usb://0a5f:0164"
//! role = "label"
//! max_label_seconds = 60           # a label that would take longer on this link is held as link_too_slow
//! # link_bytes_per_second = 10000  # for links without a baud rate (TCP, USB, a device file)
//! # status = "none"                # the link carries no status answers (a device file, EPL2 over TCP)
//! # fit = "scale"                  # shrink marketplace pages too large for the media (default: refuse)
//!
//! [documents]                      # marketplace label documents: see config/documents.rs
//! allowed_hosts = ["open-api.tiktokglobalshop.com"]
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::DeTable;

mod deadlines;
mod documents;
mod feed;
mod problems;

pub use deadlines::{Deadlines, parse_offset};
pub use documents::{Documents, MAX_MAX_BYTES as MAX_DOCUMENT_BYTES};
pub use feed::NatsFeedConfig;

pub use problems::{ConfigError, Location, Problem};
// One parser for printer URIs: the transport's, so what the config accepts is what can be opened.
pub use crate::transport::uri::{DEFAULT_TCP_PORT, Uri as PrinterUri, UriError};

use problems::{Sink, TableReader};

/// Where the daemon listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8631";
/// `[comply]` in labeld.toml.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comply {
    pub lexicon_dir: Option<LexiconDir>,
}

/// Where a warehouse keeps its own word lists, and where the config said so (for a problem report).
#[derive(Debug, Clone, PartialEq)]
pub struct LexiconDir {
    pub path: PathBuf,
    pub file: PathBuf,
    pub at: Location,
}

/// How long buyer data stays in the spool after a job is done.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The spool file when `[spool] path` is not given, relative to the config file's directory.
pub const DEFAULT_SPOOL_FILE: &str = "spool.db";
/// A token shorter than this is guessable; refuse it rather than pretend it protects anything.
pub const MIN_TOKEN_CHARS: usize = 16;

#[derive(Debug, Clone)]
pub struct Config {
    pub server: Server,
    pub spool: Spool,
    /// Registered warehouses by id; empty when none is configured (the sender check is then off).
    pub warehouses: BTreeMap<String, Warehouse>,
    pub printers: Vec<Printer>,
    /// `[feed.nats]`: the job feed over NATS JetStream, when configured.
    pub feed_nats: Option<NatsFeedConfig>,
    /// `[picklist] bins` and `walk`: how this warehouse's bin labels read, for the walking order of
    /// pick lists and of batch labels.
    pub bins: crate::bins::BinPattern,
    /// `[comply]`: the warehouse's own word lists for the label rules (`comply::Checker::for_config`
    /// loads them with the built-in ones).
    pub comply: Comply,
    /// `[deadlines]`: the print and handover clocks.
    pub deadlines: Deadlines,
    /// `[documents]`: marketplace document jobs (allowed URL hosts, size and time limits, the slips printer).
    pub documents: Documents,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    /// `listen` was written `localhost:PORT`: the server binds 127.0.0.1 and also `[::1]`, since a
    /// browser may resolve `localhost` to either.
    pub localhost: bool,
    pub token: Option<Token>,
    /// Host header values accepted (`host` or `host:port`). Empty: see [`Server::effective_allowed_hosts`].
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted (`https://wms.example.com`). Empty: same-origin only.
    pub allowed_origins: Vec<String>,
    /// `max_connections`, `header_timeout`, `body_timeout`, `idle_timeout`, `max_event_streams`.
    pub limits: Limits,
}

/// The API token. Its `Debug` hides the value so a logged config does not leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Server {
    /// The Host header values to accept: the configured list, or for a loopback bind the loopback
    /// names with the listen port (`localhost:8631`, `127.0.0.1:8631`, `[::1]:8631`).
    pub fn effective_allowed_hosts(&self) -> Vec<String> {
        if !self.allowed_hosts.is_empty() {
            return self.allowed_hosts.clone();
        }
        let port = self.listen.port();
        if self.listen.ip().is_loopback() {
            vec![format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")]
        } else {
            vec![self.listen.to_string()]
        }
    }
}

#[derive(Debug, Clone)]
pub struct Spool {
    /// Absolute, or resolved against the config file's directory.
    pub path: PathBuf,
    pub retention: Duration,
}

/// A registered warehouse: the only senders a label may carry when a registry is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warehouse {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub lines: Vec<String>,
    pub district: Option<String>,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone)]
pub struct Printer {
    pub name: String,
    /// A printer profile name (`drivers/*.toml`), checked by [`DriverCatalog`].
    pub driver: String,
    pub uri: PrinterUri,
    pub role: Role,
    /// Where `driver` was written, for problems found after loading.
    pub driver_at: Location,
    /// A label that would take longer than this on the link is held (`link_too_slow`), never half sent.
    pub max_label_seconds: u32,
    /// How fast a link without a baud rate carries bytes; `None`: the nominal figure.
    pub link_bytes_per_second: Option<u32>,
    /// `false` when `status = "none"`: the link carries no status answers, so labels go blind.
    pub status_channel: bool,
    /// `fit = "scale"`: a marketplace page too large for the media is shrunk to fit instead of refused.
    pub fit_scale: bool,
}

/// How long a label may take on its link unless `max_label_seconds` says otherwise: a 15 KB ZPL label at
/// 9600 baud (16 s) prints; a 110 KB TSPL bitmap at 9600 baud (two minutes) is held.
pub const DEFAULT_MAX_LABEL_SECONDS: u32 = 60;

/// What a printer is for; the worker routes documents by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Label,
    Picklist,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Label => "label",
            Role::Picklist => "picklist",
        }
    }
}

/// The printer profiles a config may name. Implemented by the profile list; [`AnyDriver`] accepts
/// every name (for tools that do not print).
pub trait DriverCatalog {
    fn knows(&self, profile: &str) -> bool;
    /// Names to suggest in the error; may be empty.
    fn names(&self) -> Vec<String>;
}

/// Accepts any driver name.
pub struct AnyDriver;

impl DriverCatalog for AnyDriver {
    fn knows(&self, _: &str) -> bool {
        true
    }
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A plain list of profile names.
fn list_knows<S: AsRef<str>>(list: &[S], profile: &str) -> bool {
    list.iter().any(|s| s.as_ref() == profile)
}

fn list_names<S: AsRef<str>>(list: &[S]) -> Vec<String> {
    list.iter().map(|s| s.as_ref().to_string()).collect()
}

impl<S: AsRef<str>> DriverCatalog for Vec<S> {
    fn knows(&self, profile: &str) -> bool {
        list_knows(self, profile)
    }
    fn names(&self) -> Vec<String> {
        list_names(self)
    }
}

impl<S: AsRef<str>, const N: usize> DriverCatalog for [S; N] {
    fn knows(&self, profile: &str) -> bool {
        list_knows(self, profile)
    }
    fn names(&self) -> Vec<String> {
        list_names(self)
    }
}

impl Config {
    /// Reads and checks a config file (and the warehouse file it names).
    pub fn load(path: &Path, drivers: &dyn DriverCatalog) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| io_problem(path, &e))?;
        Config::parse(&text, path, drivers)
    }

    /// Checks `text` as if read from `origin` (used in messages and to resolve relative paths).
    pub fn parse(text: &str, origin: &Path, drivers: &dyn DriverCatalog) -> Result<Config, ConfigError> {
        let mut sink = Sink::new(origin.display().to_string(), text);
        let mut extra = Vec::new(); // problems in other files (the warehouse registry)
        let base = origin.parent().unwrap_or(Path::new(""));
        let (root, syntax) = DeTable::parse_recoverable(text);
        for e in &syntax {
            let span = e.span().unwrap_or(0..0);
            sink.report(&span, format!("TOML syntax: {}", e.message().trim()));
        }
        let mut top = TableReader::new(root.get_ref(), root.span(), "");
        let server = read_server(top.table("server", &mut sink), &mut sink);
        let spool = read_spool(top.table("spool", &mut sink), base, &mut sink);
        let warehouses = match top.table("warehouses", &mut sink) {
            Some((t, span)) => read_warehouse_section(t, span, base, &mut sink, &mut extra),
            None => BTreeMap::new(),
        };
        let printers = read_printers(top.tables("printer", &mut sink), drivers, &mut sink);
        let bins = read_picklist(top.table("picklist", &mut sink), &mut sink);
        let comply = read_comply(top.table("comply", &mut sink), base, origin, &mut sink);
        let deadlines = deadlines::read_deadlines(top.table("deadlines", &mut sink), &mut sink);
        let printer_names: Vec<&str> = printers.iter().map(|p| p.name.as_str()).collect();
        let documents = documents::read_documents(top.table("documents", &mut sink), &printer_names, &mut sink);
        let feed_nats = top.table("feed", &mut sink).and_then(|(t, span)| feed::read_feed(t, span, base, &mut sink));
        if syntax.is_empty() {
            // After a syntax error the tree is partial; "unknown key" guesses would only add noise.
            top.finish(&mut sink);
        }
        let mut problems = sink.into_problems();
        problems.extend(extra);
        match (problems.is_empty(), server, spool, bins, comply, deadlines, documents) {
            (true, Some(server), Some(spool), Some(bins), Some(comply), Some(deadlines), Some(documents)) => {
                Ok(Config { server, spool, warehouses, printers, feed_nats, bins, comply, deadlines, documents })
            }
            _ => Err(ConfigError { problems }),
        }
    }

    /// Checks driver names against a catalogue loaded after the config (e.g. profiles from a
    /// directory the config itself points at).
    pub fn check_drivers(&self, origin: &Path, drivers: &dyn DriverCatalog) -> Result<(), ConfigError> {
        let problems: Vec<Problem> = self
            .printers
            .iter()
            .filter(|p| !drivers.knows(&p.driver))
            .map(|p| Problem {
                file: origin.display().to_string(),
                line: p.driver_at.line,
                column: p.driver_at.column,
                message: unknown_driver(&p.name, &p.driver, drivers),
            })
            .collect();
        if problems.is_empty() { Ok(()) } else { Err(ConfigError { problems }) }
    }

    pub fn printer(&self, name: &str) -> Option<&Printer> {
        self.printers.iter().find(|p| p.name == name)
    }
}

/// What one HTTP client may hold (`[server]`): the server enforces it in `server::connections`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_event_streams: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_event_streams: 32,
        }
    }
}

/// A config made of defaults only: loopback listen, `spool.db` beside `origin`, no printers.
impl Default for Server {
    fn default() -> Self {
        Server {
            listen: DEFAULT_LISTEN.parse().expect("valid default"),
            localhost: false,
            token: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            limits: Default::default(),
        }
    }
}

fn io_problem(path: &Path, e: &std::io::Error) -> ConfigError {
    ConfigError {
        problems: vec![Problem { file: path.display().to_string(), line: 1, column: 1, message: format!("cannot read: {e}") }],
    }
}

fn unknown_driver(printer: &str, driver: &str, drivers: &dyn DriverCatalog) -> String {
    let names = drivers.names();
    let hint = if names.is_empty() { String::new() } else { format!(" (known: {})", names.join(", ")) };
    format!("printer \"{printer}\": driver: unknown printer profile \"{}\"{hint}", driver.escape_debug())
}

fn read_server(section: Option<(&DeTable, std::ops::Range<usize>)>, sink: &mut Sink) -> Option<Server> {
    let Some((table, span)) = section else { return Some(Server::default()) };
    let mut r = TableReader::new(table, span, "server: ");
    let mut ok = true;
    let mut localhost = false;
    let listen = match r.string("listen", sink) {
        None => Some((DEFAULT_LISTEN.parse::<SocketAddr>().expect("valid default"), 0..0)),
        Some((s, span)) => match listen_addr(&s) {
            Some((a, named)) => {
                localhost = named;
                Some((a, span))
            }
            None => {
                sink.report(
                    &span,
                    r.msg("listen", format!("\"{}\" is not an IP address with a port, e.g. 127.0.0.1:8631, or localhost:8631", s.escape_debug())),
                );
                None
            }
        },
    };
    let token = match r.string("token", sink) {
        None => None,
        Some((t, span)) if t.chars().count() < MIN_TOKEN_CHARS || t.trim() != t => {
            sink.report(
                &span,
                r.msg(
                    "token",
                    format!(
                        "too short or padded with spaces; use at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 16`)"
                    ),
                ),
            );
            ok = false;
            None
        }
        Some((t, _)) => Some(Token(t)),
    };
    if let Some((addr, span)) = &listen
        && !addr.ip().is_loopback()
        && token.is_none()
        && ok
    {
        sink.report(span, r.msg("listen", format!("{addr} is not a loopback address, so server.token is required")));
        ok = false;
    }
    let allowed_hosts = checked_list(&mut r, "allowed_hosts", sink, &mut ok, check_host);
    let allowed_origins = checked_list(&mut r, "allowed_origins", sink, &mut ok, check_origin);
    let mut limits = Limits::default();
    if let Some((n, _)) = r.integer("max_connections", 1..=65_535, sink) {
        limits.max_connections = n as usize;
    }
    if let Some((n, _)) = r.integer("max_event_streams", 1..=65_535, sink) {
        limits.max_event_streams = n as usize;
    }
    for (key, slot) in [
        ("header_timeout", &mut limits.header_timeout),
        ("body_timeout", &mut limits.body_timeout),
        ("idle_timeout", &mut limits.idle_timeout),
    ] {
        if let Some((text, span)) = r.string(key, sink) {
            match parse_duration(&text) {
                Ok(d) => *slot = d,
                Err(problem) => {
                    sink.report(&span, r.msg(key, problem));
                    ok = false;
                }
            }
        }
    }
    r.finish(sink);
    let (listen, _) = listen?;
    ok.then_some(Server { listen, localhost, token, allowed_hosts, allowed_origins, limits })
}

/// `IP:PORT`, or `localhost:PORT` (then 127.0.0.1, and true: bind `[::1]` as well).
fn listen_addr(s: &str) -> Option<(SocketAddr, bool)> {
    if let Some(port) = s.strip_prefix("localhost:") {
        let port: u16 = port.parse().ok()?;
        return Some((SocketAddr::from(([127, 0, 0, 1], port)), true));
    }
    s.parse().ok().map(|a| (a, false))
}

fn checked_list(
    r: &mut TableReader,
    key: &'static str,
    sink: &mut Sink,
    ok: &mut bool,
    check: fn(&str) -> Result<(), String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (value, span)) in r.string_list(key, sink).unwrap_or_default().into_iter().enumerate() {
        match check(&value) {
            Ok(()) => out.push(value),
            Err(problem) => {
                sink.report(&span, r.msg(&format!("{key}[{i}]"), problem));
                *ok = false;
            }
        }
    }
    out
}

fn check_host(h: &str) -> Result<(), String> {
    if h.contains('*') {
        return Err(format!("\"{}\": wildcards are not allowed (they defeat the DNS-rebinding check)", h.escape_debug()));
    }
    if h.is_empty() || h.contains(['/', ' ', '@']) {
        return Err(format!("\"{}\" is not a host or host:port as sent in the Host header", h.escape_debug()));
    }
    Ok(())
}

fn check_origin(o: &str) -> Result<(), String> {
    if o.contains('*') || o == "null" {
        return Err(format!("\"{}\": wildcard and null origins are not allowed; name each origin", o.escape_debug()));
    }
    let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', ' ', '?', '#', '@']) => Ok(()),
        _ => Err(format!(
            "\"{}\" is not an origin; write scheme://host[:port] without a path, e.g. https://wms.example.com",
            o.escape_debug()
        )),
    }
}

fn read_spool(section: Option<(&DeTable, std::ops::Range<usize>)>, base: &Path, sink: &mut Sink) -> Option<Spool> {
    let default = Spool { path: base.join(DEFAULT_SPOOL_FILE), retention: DEFAULT_RETENTION };
    let Some((table, span)) = section else { return Some(default) };
    let mut r = TableReader::new(table, span, "spool: ");
    let mut ok = true;
    let path = match r.string("path", sink) {
        None => default.path,
        Some((p, span)) if p.trim().is_empty() => {
            sink.report(&span, r.msg("path", "must not be empty"));
            ok = false;
            PathBuf::new()
        }
        Some((p, _)) => base.join(p),
    };
    let retention = match r.string("retention", sink) {
        None => default.retention,
        Some((s, span)) => match parse_duration(&s) {
            Ok(d) => d,
            Err(problem) => {
                sink.report(&span, r.msg("retention", problem));
                ok = false;
                Duration::ZERO
            }
        },
    };
    r.finish(sink);
    ok.then_some(Spool { path, retention })
}

/// `[picklist]`: `bins = "{zone}-{aisle}-{shelf}"` (the parts a bin label is made of) and
/// `walk = "sequential" | "serpentine"`.
fn read_picklist(section: Option<(&DeTable, std::ops::Range<usize>)>, sink: &mut Sink) -> Option<crate::bins::BinPattern> {
    use crate::bins::{BinPattern, Walk};
    let Some((table, span)) = section else { return Some(BinPattern::default()) };
    let mut r = TableReader::new(table, span, "picklist: ");
    let walk = match r.string("walk", sink) {
        None => Some(Walk::Sequential),
        Some((s, _)) if s == "sequential" => Some(Walk::Sequential),
        Some((s, _)) if s == "serpentine" => Some(Walk::Serpentine),
        Some((s, span)) => {
            sink.report(&span, r.msg("walk", format!("\"{}\" is not sequential or serpentine", s.escape_debug())));
            None
        }
    };
    let bins = match r.string("bins", sink) {
        None => Some(BinPattern::default()),
        Some((s, span)) => match BinPattern::parse(&s, walk.unwrap_or_default()) {
            Ok(p) => Some(p),
            Err(e) => {
                sink.report(&span, r.msg("bins", e.to_string()));
                None
            }
        },
    };
    r.finish(sink);
    let (mut bins, walk) = (bins?, walk?);
    bins.walk = walk;
    Some(bins)
}

/// `[comply]`: `lexicon_dir = "DIR"`, a directory of `*.toml` word lists added to the built-in ones
/// (relative to the config file). The lists are read by `comply`, which reports a bad one at this key.
fn read_comply(section: Option<(&DeTable, std::ops::Range<usize>)>, base: &Path, origin: &Path, sink: &mut Sink) -> Option<Comply> {
    let Some((table, span)) = section else { return Some(Comply::default()) };
    let mut r = TableReader::new(table, span, "comply: ");
    let dir = r.string("lexicon_dir", sink);
    r.finish(sink);
    let lexicon_dir = dir.map(|(dir, span)| LexiconDir { path: base.join(dir), file: origin.to_path_buf(), at: sink.location(&span) });
    Some(Comply { lexicon_dir })
}

/// `"7d"`, `"36h"`, `"90m"`, `"3600s"`, `"2w"`: a whole number and one unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("\"{}\" is not a duration such as \"7d\", \"36h\" or \"90m\" (units: s, m, h, d, w)", s.escape_debug());
    let s2 = s.trim();
    let split = s2.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = s2.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(format!("\"{}\" must be more than zero", s.escape_debug()));
    }
    n.checked_mul(secs).map(Duration::from_secs).ok_or_else(bad)
}

/// `[warehouses]`: `file = "warehouses.toml"`, or the registry inline as `[warehouses.warehouse."ID"]`
/// (the same shape as the file, one level down).
fn read_warehouse_section(
    table: &DeTable,
    span: std::ops::Range<usize>,
    base: &Path,
    sink: &mut Sink,
    extra: &mut Vec<Problem>,
) -> BTreeMap<String, Warehouse> {
    let mut r = TableReader::new(table, span.clone(), "warehouses: ");
    let file = r.string("file", sink);
    let inline = r.table("warehouse", sink);
    r.finish(sink);
    match (file, inline) {
        (Some(_), Some((_, span))) => {
            sink.report(&span, "warehouses: give either file or inline [warehouses.warehouse.\"ID\"] entries, not both");
            BTreeMap::new()
        }
        (Some((file, span)), None) => {
            let path = base.join(&file);
            match std::fs::read_to_string(&path) {
                Ok(text) => match parse_warehouses(&text, &path) {
                    Ok(w) => w,
                    Err(e) => {
                        extra.extend(e.problems);
                        BTreeMap::new()
                    }
                },
                Err(e) => {
                    sink.report(&span, format!("warehouses: file: cannot read {}: {e}", path.display()));
                    BTreeMap::new()
                }
            }
        }
        (None, Some((t, span))) => read_warehouses(t, span, sink),
        (None, None) => {
            sink.report(&span, "warehouses: give file = \"warehouses.toml\" or inline [warehouses.warehouse.\"ID\"] entries");
            BTreeMap::new()
        }
    }
}

/// Reads a warehouse registry file (`[warehouse."ID"]` tables), reporting every problem.
pub fn parse_warehouses(text: &str, origin: &Path) -> Result<BTreeMap<String, Warehouse>, ConfigError> {
    let mut sink = Sink::new(origin.display().to_string(), text);
    let (root, syntax) = DeTable::parse_recoverable(text);
    for e in &syntax {
        sink.report(&e.span().unwrap_or(0..0), format!("TOML syntax: {}", e.message().trim()));
    }
    let mut top = TableReader::new(root.get_ref(), root.span(), "");
    let found = top.table("warehouse", &mut sink).map(|(t, span)| read_warehouses(t, span, &mut sink));
    top.finish(&mut sink);
    let problems = sink.into_problems();
    match found {
        Some(w) if problems.is_empty() => Ok(w),
        None if problems.is_empty() => Err(ConfigError {
            problems: vec![Problem {
                file: origin.display().to_string(),
                line: 1,
                column: 1,
                message: "no [warehouse.\"ID\"] tables".into(),
            }],
        }),
        _ => Err(ConfigError { problems }),
    }
}

fn read_warehouses(table: &DeTable, _span: std::ops::Range<usize>, sink: &mut Sink) -> BTreeMap<String, Warehouse> {
    let mut out = BTreeMap::new();
    for (id, value) in table.iter() {
        let id_str: &str = id.get_ref();
        let context = format!("warehouse \"{}\": ", id_str.escape_debug());
        let toml::de::DeValue::Table(t) = value.get_ref() else {
            sink.report(&value.span(), format!("{context}expected a table"));
            continue;
        };
        let mut r = TableReader::new(t, value.span(), context);
        let name = r.required_string("name", sink);
        let phone = r.string("phone", sink).map(|(s, _)| s);
        let lines = r.string_list("lines", sink);
        let district = r.string("district", sink).map(|(s, _)| s);
        let city = r.required_string("city", sink);
        let region = r.string("region", sink).map(|(s, _)| s).unwrap_or_default();
        let postal_code = r.string("postal_code", sink).map(|(s, _)| s).unwrap_or_default();
        let country = r.required_string("country", sink);
        let lines = match lines {
            Some(l) if !l.is_empty() => Some(l.into_iter().map(|(s, _)| s).collect::<Vec<_>>()),
            Some(_) | None => {
                sink.report(&r.span, r.msg("lines", "missing or empty (the street address lines)"));
                None
            }
        };
        let country = match country {
            Some((c, _)) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) => Some(c),
            Some((c, span)) => {
                sink.report(&span, r.msg("country", format!("\"{}\" is not an ISO 3166 alpha-2 code such as \"CN\"", c.escape_debug())));
                None
            }
            None => None,
        };
        r.finish(sink);
        if let (Some((name, _)), Some(lines), Some((city, _)), Some(country)) = (name, lines, city, country) {
            out.insert(
                id_str.to_string(),
                Warehouse { id: id_str.to_string(), name, phone, lines, district, city, region, postal_code, country },
            );
        }
    }
    out
}

fn read_printers(
    entries: Vec<(&DeTable, std::ops::Range<usize>)>,
    drivers: &dyn DriverCatalog,
    sink: &mut Sink,
) -> Vec<Printer> {
    let mut out: Vec<Printer> = Vec::new();
    let mut seen_names: Vec<(String, usize)> = Vec::new();
    let mut seen_uris: Vec<(PrinterUri, String)> = Vec::new();
    for (i, (table, span)) in entries.into_iter().enumerate() {
        // Name first, so every later message can say which printer it is about.
        let name_value = table.get("name").and_then(|v| v.get_ref().as_str().map(|s| s.to_string()));
        let context = match &name_value {
            Some(n) if !n.trim().is_empty() => format!("printer \"{}\": ", n.escape_debug()),
            _ => format!("printer #{}: ", i + 1),
        };
        let mut r = TableReader::new(table, span, context);
        let name = r.required_string("name", sink).and_then(|(n, span)| {
            if !n.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
                sink.report(&span, r.msg("name", "use only letters, digits, '-', '_' and '.' (it appears in URLs)"));
                return None;
            }
            if let Some((_, line)) = seen_names.iter().find(|(seen, _)| *seen == n) {
                sink.report(&span, r.msg("name", format!("already used by the printer on line {line}")));
                return None;
            }
            seen_names.push((n.clone(), sink.location(&span).line));
            Some(n)
        });
        let driver = r.required_string("driver", sink).and_then(|(d, span)| {
            if drivers.knows(&d) {
                Some((d, sink.location(&span)))
            } else {
                let printer = name_value.clone().unwrap_or_else(|| format!("#{}", i + 1));
                sink.report(&span, unknown_driver(&printer, &d, drivers));
                None
            }
        });
        let uri = r.required_string("uri", sink).and_then(|(u, span)| match u.parse::<PrinterUri>() {
            Ok(uri) => {
                if let Some((_, other)) = seen_uris.iter().find(|(seen, _)| *seen == uri) {
                    sink.report(&span, r.msg("uri", format!("{uri} is already printer {other}")));
                    return None;
                }
                seen_uris.push((uri.clone(), format!("\"{}\"", name_value.clone().unwrap_or_default())));
                Some(uri)
            }
            Err(e) => {
                sink.report(&span, r.msg("uri", format!("{}: {}", e.part, e.problem)));
                None
            }
        });
        let role = match r.string("role", sink) {
            None => Some(Role::Label),
            Some((s, span)) => match s.as_str() {
                "label" => Some(Role::Label),
                "picklist" => Some(Role::Picklist),
                _ => {
                    sink.report(&span, r.msg("role", format!("\"{}\" must be label or picklist", s.escape_debug())));
                    None
                }
            },
        };
        let max_label_seconds = r.integer("max_label_seconds", 1..=3600, sink).map_or(DEFAULT_MAX_LABEL_SECONDS, |(n, _)| n as u32);
        let link_bytes_per_second = r.integer("link_bytes_per_second", 100..=100_000_000, sink).map(|(n, _)| n as u32);
        let status_channel = match r.string("status", sink) {
            None => true,
            Some((s, span)) => match s.as_str() {
                "query" => true,
                "none" => false,
                _ => {
                    sink.report(&span, r.msg("status", format!("\"{}\" must be \"query\" or \"none\" (the link carries no status answers)", s.escape_debug())));
                    true
                }
            },
        };
        let fit_scale = match r.string("fit", sink) {
            None => false,
            Some((s, span)) => match s.as_str() {
                "refuse" => false,
                "scale" => true,
                _ => {
                    sink.report(&span, r.msg("fit", format!("\"{}\" must be \"refuse\" or \"scale\" (shrink document pages too large for the media)", s.escape_debug())));
                    false
                }
            },
        };
        r.finish(sink);
        if let (Some(name), Some((driver, driver_at)), Some(uri), Some(role)) = (name, driver, uri, role) {
            out.push(Printer { name, driver, uri, role, driver_at, max_label_seconds, link_bytes_per_second, status_channel, fit_scale });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86400));
        assert_eq!(parse_duration("36h").unwrap(), Duration::from_secs(36 * 3600));
        assert_eq!(parse_duration("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2w").unwrap(), Duration::from_secs(14 * 86400));
        assert!(parse_duration("0d").unwrap_err().contains("more than zero"));
        assert!(parse_duration("7 days").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("-1d").is_err());
    }

    #[test]
    fn connection_limits_default_and_can_be_set() {
        let parse = |server: &str| Config::parse(&format!("[server]\n{server}"), Path::new("/etc/labeld/labeld.toml"), &AnyDriver);
        let defaults = parse("").unwrap().server.limits;
        assert_eq!(defaults, Limits::default());
        assert_eq!((defaults.max_connections, defaults.max_event_streams), (256, 32));
        assert_eq!((defaults.header_timeout, defaults.body_timeout, defaults.idle_timeout), (Duration::from_secs(10), Duration::from_secs(30), Duration::from_secs(60)));
        let set = parse("max_connections = 64\nheader_timeout = \"5s\"\nbody_timeout = \"1m\"\nidle_timeout = \"2m\"\nmax_event_streams = 4")
            .unwrap()
            .server
            .limits;
        assert_eq!((set.max_connections, set.max_event_streams), (64, 4));
        assert_eq!((set.header_timeout, set.body_timeout, set.idle_timeout), (Duration::from_secs(5), Duration::from_secs(60), Duration::from_secs(120)));
        let bad = parse("max_connections = 0\nidle_timeout = \"soon\"").unwrap_err().to_string();
        assert!(bad.contains("max_connections") && bad.contains("idle_timeout"), "{bad}");
    }
}
