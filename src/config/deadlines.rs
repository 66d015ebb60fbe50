//! `[deadlines]`: the marketplace's clocks for this warehouse.
//!
//! ```toml
//! [deadlines]
//! print_within = "48h"      # created_at → label printed, when an order has no ship_by
//! handover_within = "72h"   # created_at → parcel with the carrier
//! utc_offset = "+08:00"     # where the warehouse's "today" ends
//! ```

use std::ops::Range;
use std::time::Duration;

use time::UtcOffset;
use toml::de::DeTable;

use super::problems::{Sink, TableReader};
use super::parse_duration;

/// `[deadlines]` in labeld.toml: the allowances `deadlines` turns an order into its clocks with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// From `created_at` to the label printed, when the order has no `ship_by` of its own.
    pub print_within: Duration,
    /// From `created_at` to the parcel with the carrier.
    pub handover_within: Duration,
    /// The warehouse's offset from UTC: where "today" ends.
    pub utc_offset: UtcOffset,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            print_within: Duration::from_secs(48 * 3600),
            handover_within: Duration::from_secs(72 * 3600),
            utc_offset: UtcOffset::UTC,
        }
    }
}


pub(super) fn read_deadlines(section: Option<(&DeTable, Range<usize>)>, sink: &mut Sink) -> Option<Deadlines> {
    let Some((table, span)) = section else { return Some(Deadlines::default()) };
    let mut r = TableReader::new(table, span.clone(), "deadlines: ");
    let mut out = Deadlines::default();
    let mut ok = true;
    for key in ["print_within", "handover_within"] {
        if let Some((text, at)) = r.string(key, sink) {
            match parse_duration(&text) {
                Ok(d) if key == "print_within" => out.print_within = d,
                Ok(d) => out.handover_within = d,
                Err(e) => {
                    sink.report(&at, r.msg(key, e));
                    ok = false;
                }
            }
        }
    }
    if let Some((text, at)) = r.string("utc_offset", sink) {
        match parse_offset(&text) {
            Ok(o) => out.utc_offset = o,
            Err(e) => {
                sink.report(&at, r.msg("utc_offset", e));
                ok = false;
            }
        }
    }
    r.finish(sink);
    if ok && out.handover_within < out.print_within {
        sink.report(&span, "deadlines: handover_within must not be shorter than print_within (a parcel is handed over after its label prints)");
        ok = false;
    }
    ok.then_some(out)
}

/// Reads a warehouse UTC offset such as `+08:00`, `-05:00` or `Z`.
pub fn parse_offset(s: &str) -> Result<UtcOffset, String> {
    if s == "Z" {
        return Ok(UtcOffset::UTC);
    }
    let format = time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    UtcOffset::parse(s, &format).map_err(|_| format!("{s:?} is not a UTC offset such as \"+08:00\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_offsets_are_read_strictly() {
        assert_eq!(parse_duration("48h"), Ok(Duration::from_secs(48 * 3600)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(90 * 60)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(3 * 86_400)));
        for bad in ["48", "h", "48 hours", "-1h", "0h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_offset("-05:30").unwrap().whole_minutes(), -330);
        assert!(parse_offset("8").is_err());
    }
}
