//! `[documents]`: marketplace label documents (PDF, PNG) sent as jobs.
//!
//! ```toml
//! [documents]
//! allowed_hosts = ["open-api.tiktokglobalshop.com"]   # a job's "url" is fetched only from these
//! max_bytes = 4194304                                  # largest document accepted (default 4 MiB)
//! fetch_timeout = "10s"                                # one fetch, connect to last byte
//! slips = "desk-1"                                     # packing-slip pages print here (default: the job's printer)
//! ```

use std::ops::Range;

use toml::de::DeTable;

use std::time::Duration;

use super::problems::{Sink, TableReader};

/// `[documents]` in labeld.toml.
#[derive(Debug, Clone, PartialEq)]
pub struct Documents {
    /// Hosts a `url` may name (`host` or `host:port`, lower case); empty: no URL is fetched.
    pub allowed_hosts: Vec<String>,
    /// Largest document accepted, as bytes of the file (not of its base64).
    pub max_bytes: usize,
    /// How long one fetch may take, from connecting to the last byte.
    pub fetch_timeout: Duration,
    /// The printer packing-slip pages print on; `None`: the document's own printer.
    pub slips: Option<String>,
}

/// Marketplace documents are tens of kilobytes; 4 MiB leaves room for an image label at 300 dpi.
pub const DEFAULT_MAX_BYTES: usize = 4 << 20;
/// What `max_bytes` may be set to at most: the document reader's own limit (`marketdoc::limits`).
pub const MAX_MAX_BYTES: usize = 16 << 20;
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for Documents {
    fn default() -> Documents {
        Documents { allowed_hosts: Vec::new(), max_bytes: DEFAULT_MAX_BYTES, fetch_timeout: DEFAULT_FETCH_TIMEOUT, slips: None }
    }
}

/// `printers`: the configured printer names, which `slips` must be one of.
pub(super) fn read_documents(section: Option<(&DeTable, Range<usize>)>, printers: &[&str], sink: &mut Sink) -> Option<Documents> {
    let Some((table, span)) = section else { return Some(Documents::default()) };
    let mut r = TableReader::new(table, span, "documents: ");
    let mut out = Documents::default();
    let mut ok = true;
    for (i, (host, at)) in r.string_list("allowed_hosts", sink).unwrap_or_default().into_iter().enumerate() {
        let bare = host.trim();
        if bare.is_empty() || bare.contains(['/', ' ', '@', '*', '?', '#']) {
            sink.report(&at, r.msg(&format!("allowed_hosts[{i}]"), format!("\"{}\" is not a host or host:port (no scheme, path or wildcard)", host.escape_debug())));
            ok = false;
        } else {
            out.allowed_hosts.push(bare.to_ascii_lowercase());
        }
    }
    if let Some((n, _)) = r.integer("max_bytes", 1024..=(MAX_MAX_BYTES as u64), sink) {
        out.max_bytes = n as usize;
    }
    if let Some((text, at)) = r.string("fetch_timeout", sink) {
        match super::parse_duration(&text) {
            Ok(d) => out.fetch_timeout = d,
            Err(e) => {
                sink.report(&at, r.msg("fetch_timeout", e));
                ok = false;
            }
        }
    }
    if let Some((slips, at)) = r.string("slips", sink) {
        if printers.contains(&slips.as_str()) {
            out.slips = Some(slips);
        } else {
            sink.report(&at, r.msg("slips", format!("no printer named \"{}\" is configured", slips.escape_debug())));
            ok = false;
        }
    }
    r.finish(sink);
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::{AnyDriver, Config};

    fn parse(extra: &str) -> Result<Config, String> {
        let text = format!("[[printer]]\nname = \"dock-1\"\ndriver = \"x\"\nuri = \"tcp://127.0.0.1:9100\"\n\n{extra}");
        Config::parse(&text, Path::new("/etc/labeld/labeld.toml"), &AnyDriver).map_err(|e| e.to_string())
    }

    #[test]
    fn documents_settings_default_and_are_checked_with_their_place() {
        let d = parse("").unwrap().documents;
        assert_eq!((d.allowed_hosts.len(), d.max_bytes, d.fetch_timeout, d.slips), (0, 4 << 20, Duration::from_secs(10), None));
        let d = parse("[documents]\nallowed_hosts = [\"Docs.Example.com\", \"127.0.0.1:8080\"]\nmax_bytes = 100000\nfetch_timeout = \"3s\"\nslips = \"dock-1\"")
            .unwrap()
            .documents;
        assert_eq!(d.allowed_hosts, ["docs.example.com", "127.0.0.1:8080"]);
        assert_eq!((d.max_bytes, d.fetch_timeout, d.slips.as_deref()), (100_000, Duration::from_secs(3), Some("dock-1")));
        let bad = parse("[documents]\nallowed_hosts = [\"https://x.example/\"]\nfetch_timeout = \"soon\"\nslips = \"nowhere\"\ncolour = 1").unwrap_err();
        for part in ["allowed_hosts[0]", "fetch_timeout", "slips: no printer named \"nowhere\"", "colour"] {
            assert!(bad.contains(part), "{part}: {bad}");
        }
        assert!(!parse("").unwrap().printers[0].fit_scale);
        assert!(parse("[documents]").unwrap().documents.allowed_hosts.is_empty());
    }
}
