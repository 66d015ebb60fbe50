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

use super::problems::{Sink, TableReader};
use crate::marketdoc::intake::Settings;

pub(super) fn read_documents(section: Option<(&DeTable, Range<usize>)>, sink: &mut Sink) -> Option<Settings> {
    let Some((table, span)) = section else { return Some(Settings::default()) };
    let mut r = TableReader::new(table, span, "documents: ");
    let mut out = Settings::default();
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
    if let Some((n, _)) = r.integer("max_bytes", 1024..=(crate::marketdoc::limits::MAX_BYTES as u64), sink) {
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
    out.slips = r.string("slips", sink).map(|(s, _)| s);
    r.finish(sink);
    ok.then_some(out)
}
