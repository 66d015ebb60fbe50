//! `[deadlines]`: the marketplace's clocks for this warehouse.
//!
//! ```toml
//! [deadlines]
//! print_within = "48h"      # created_at → label printed, when an order has no ship_by
//! handover_within = "72h"   # created_at → parcel with the carrier
//! utc_offset = "+08:00"     # where the warehouse's "today" ends
//! ```

use std::ops::Range;

use toml::de::DeTable;

use super::problems::{Sink, TableReader};
use crate::deadlines::{Deadlines, parse_duration, parse_offset};

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
