//! `[feed.nats]`: the job feed from the order backend over NATS JetStream (see `docs/feed.md`).
//!
//! ```toml
//! [feed.nats]
//! servers = ["nats://10.0.0.5:4222"]
//! warehouse = "WH-KUL-01"
//! station = "pack-03"
//! # user = "…" / password = "…" | token = "…" | nkey_seed = "SU…" | creds_file = "station.creds"
//! # tls_ca = "ca.pem", tls_cert = "cert.pem", tls_key = "key.pem"
//! stream = "LABELS"
//! subject = "labels.<warehouse>.<station>"
//! durable = "labeld-<warehouse>-<station>"
//! max_in_flight = "64"
//! ack_wait = "30s"
//! ```

use std::path::PathBuf;
use std::time::Duration;


#[derive(Debug, Clone, PartialEq)]
pub struct NatsFeedConfig {
    pub servers: Vec<String>,
    pub warehouse: String,
    pub station: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub nkey_seed: Option<String>,
    pub creds_file: Option<PathBuf>,
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub stream: String,
    /// With `<warehouse>` and `<station>` placeholders.
    pub subject: String,
    pub durable: String,
    /// How many messages one fetch asks for (and the consumer's max ack pending).
    pub max_in_flight: usize,
    /// How long the broker waits for an ack before redelivering.
    pub ack_wait: Duration,
}

pub const DEFAULT_STREAM: &str = "LABELS";
pub const DEFAULT_SUBJECT: &str = "labels.<warehouse>.<station>";
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

impl NatsFeedConfig {
    /// A config with defaults for everything but where to connect and who this station is.
    pub fn new(servers: Vec<String>, warehouse: &str, station: &str) -> NatsFeedConfig {
        NatsFeedConfig {
            servers,
            warehouse: warehouse.into(),
            station: station.into(),
            user: None,
            password: None,
            token: None,
            nkey_seed: None,
            creds_file: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            stream: DEFAULT_STREAM.into(),
            subject: DEFAULT_SUBJECT.into(),
            durable: format!("labeld-{warehouse}-{station}"),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            ack_wait: Duration::from_secs(30),
        }
    }

    fn expand(&self, pattern: &str) -> String {
        pattern.replace("<warehouse>", &self.warehouse).replace("<station>", &self.station)
    }

    /// The subject this station consumes.
    pub fn subject(&self) -> String {
        self.expand(&self.subject)
    }

    /// The subjects the stream holds: the pattern with every station (`labels.*.*`).
    pub fn stream_subject(&self) -> String {
        self.subject.replace("<warehouse>", "*").replace("<station>", "*")
    }

    /// Where this station's job events go.
    pub fn events_subject(&self) -> String {
        format!("labels.events.{}.{}", self.warehouse, self.station)
    }

    pub fn durable(&self) -> String {
        self.expand(&self.durable).replace(['.', '*', '>', ' '], "_")
    }
}

/// A NATS subject token: no dots, wildcards or spaces.
pub(crate) fn check_token(s: &str) -> Result<(), String> {
    if s.is_empty() || s.contains(['.', '*', '>', ' ', '\t']) {
        Err(format!("\"{}\" must be a single subject token (no dots, spaces or wildcards)", s.escape_debug()))
    } else {
        Ok(())
    }
}

/// Reads `[feed]` (only `nats` inside). Paths are relative to the config file.
pub(super) fn read_feed(
    table: &toml::de::DeTable,
    span: std::ops::Range<usize>,
    base: &std::path::Path,
    sink: &mut super::problems::Sink,
) -> Option<NatsFeedConfig> {
    let mut top = super::problems::TableReader::new(table, span, "feed: ");
    let nats = top.table("nats", sink);
    top.finish(sink);
    let (table, span) = nats?;
    let mut r = super::problems::TableReader::new(table, span, "feed.nats: ");
    let mut ok = true;
    let servers: Vec<String> = r.string_list("servers", sink).unwrap_or_default().into_iter().map(|(s, _)| s).collect();
    let token_field = |r: &mut super::problems::TableReader, key: &'static str, sink: &mut super::problems::Sink| {
        let (v, vspan) = r.required_string(key, sink)?;
        if let Err(p) = check_token(&v) {
            sink.report(&vspan, r.msg(key, p));
            return None;
        }
        Some(v)
    };
    let warehouse = token_field(&mut r, "warehouse", sink);
    let station = token_field(&mut r, "station", sink);
    let mut cfg = NatsFeedConfig::new(servers, warehouse.as_deref().unwrap_or(""), station.as_deref().unwrap_or(""));
    if cfg.servers.is_empty() {
        sink.report(&r.span.clone(), r.msg("servers", "needs at least one server, e.g. [\"nats://127.0.0.1:4222\"]"));
        ok = false;
    }
    let s = |r: &mut super::problems::TableReader, k: &'static str, sink: &mut super::problems::Sink| r.string(k, sink).map(|(v, _)| v);
    cfg.user = s(&mut r, "user", sink);
    cfg.password = s(&mut r, "password", sink);
    cfg.token = s(&mut r, "token", sink);
    cfg.nkey_seed = s(&mut r, "nkey_seed", sink);
    cfg.creds_file = s(&mut r, "creds_file", sink).map(|p| base.join(p));
    cfg.tls_ca = s(&mut r, "tls_ca", sink).map(|p| base.join(p));
    cfg.tls_cert = s(&mut r, "tls_cert", sink).map(|p| base.join(p));
    cfg.tls_key = s(&mut r, "tls_key", sink).map(|p| base.join(p));
    if cfg.user.is_some() != cfg.password.is_some() {
        sink.report(&r.span.clone(), r.msg("user", "user and password go together"));
        ok = false;
    }
    if cfg.tls_cert.is_some() != cfg.tls_key.is_some() {
        sink.report(&r.span.clone(), r.msg("tls_cert", "tls_cert and tls_key go together"));
        ok = false;
    }
    if let Some(v) = s(&mut r, "stream", sink) {
        cfg.stream = v;
    }
    if let Some((v, vspan)) = r.string("subject", sink) {
        if !v.contains("<station>") {
            sink.report(&vspan, r.msg("subject", "must contain <station> so each station has its own subject"));
            ok = false;
        }
        cfg.subject = v;
    }
    if let Some(v) = s(&mut r, "durable", sink) {
        cfg.durable = v;
    }
    if let Some((v, vspan)) = r.string("max_in_flight", sink) {
        match v.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => cfg.max_in_flight = n,
            _ => {
                sink.report(&vspan, r.msg("max_in_flight", format!("\"{}\" is not a number from 1 to 10000", v.escape_debug())));
                ok = false;
            }
        }
    }
    if let Some((v, vspan)) = r.string("ack_wait", sink) {
        match super::parse_duration(&v) {
            Ok(d) => cfg.ack_wait = d,
            Err(p) => {
                sink.report(&vspan, r.msg("ack_wait", p));
                ok = false;
            }
        }
    }
    r.finish(sink);
    (ok && warehouse.is_some() && station.is_some()).then_some(cfg)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{AnyDriver, Config};

    const PRINTERS: &str = r#"
[[printer]]
name = "dock"
driver = "zebra"
uri = "tcp://10.0.0.9:9100"
role = "label"

[[printer]]
name = "desk"
driver = "escpos"
uri = "tcp://10.0.0.10:9100"
role = "picklist"
"#;

    fn parse(feed: &str) -> Result<Config, String> {
        Config::parse(&format!("{feed}\n{PRINTERS}"), Path::new("/etc/labeld/labeld.toml"), &AnyDriver).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_feed_nats_with_defaults() {
        let c = parse(
            "[feed.nats]\nservers = [\"nats://10.0.0.5:4222\"]\nwarehouse = \"WH-KUL-01\"\nstation = \"pack-03\"\n\
             creds_file = \"station.creds\"\nmax_in_flight = \"16\"\nack_wait = \"45s\"",
        )
        .unwrap();
        let f = c.feed_nats.unwrap();
        assert_eq!(f.subject(), "labels.WH-KUL-01.pack-03");
        assert_eq!(f.stream_subject(), "labels.*.*");
        assert_eq!(f.events_subject(), "labels.events.WH-KUL-01.pack-03");
        assert_eq!(f.durable(), "labeld-WH-KUL-01-pack-03");
        assert_eq!(f.max_in_flight, 16);
        assert_eq!(f.ack_wait, std::time::Duration::from_secs(45));
        assert_eq!(f.creds_file.as_deref(), Some(Path::new("/etc/labeld/station.creds")));
    }

    #[test]
    fn no_feed_section_means_no_feed() {
        assert!(parse("").unwrap().feed_nats.is_none());
    }

    #[test]
    fn problems_name_the_field() {
        let e = parse("[feed.nats]\nservers = []\nwarehouse = \"WH.1\"\nmax_in_flight = \"lots\"\nuser = \"u\"\nretries = 3").unwrap_err();
        for want in [
            "feed.nats: servers: needs at least one server",
            "feed.nats: warehouse: \"WH.1\" must be a single subject token",
            "feed.nats: station: missing (required)",
            "feed.nats: max_in_flight: \"lots\" is not a number",
            "feed.nats: user: user and password go together",
            "retries",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
    }
}
