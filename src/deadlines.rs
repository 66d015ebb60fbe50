//! The marketplace's clocks. A label (with its pick list and packing) is due within 48 h of payment,
//! the parcel must be with the carrier within 72 h, and a tracking number with no carrier scan 24 h
//! after it was issued counts as false shipping. This module turns an order and a moment into those
//! deadlines and windows; the spool stores them, the queue, the page and the metrics read them.

use std::time::Duration;

use time::OffsetDateTime;

pub use crate::config::Deadlines;
use crate::order::Order;

/// "Due soon": the page's amber window.
pub const DUE_SOON: Duration = Duration::from_secs(4 * 3600);

/// A printed label no handover has ticked off after this long is flagged: the marketplace's 24 h
/// scan clock leaves four hours to act.
pub const NOT_HANDED_OVER_AFTER: Duration = Duration::from_secs(20 * 3600);

/// Where a deadline stands from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    Overdue,
    /// Within [`DUE_SOON`].
    Soon,
    /// Later, but before the warehouse's day ends.
    Today,
    Later,
}

impl Deadlines {
    /// The order's print deadline: its `ship_by`, else `created_at` + `print_within`. None when the
    /// order carries neither (such an order has no clock).
    pub fn ship_by(&self, order: &Order) -> Option<OffsetDateTime> {
        parse(order.ship_by.as_deref()).or_else(|| parse(order.created_at.as_deref()).map(|c| c + self.print_within))
    }

    /// When the parcel must be with the carrier: `created_at` + `handover_within`, else the print
    /// deadline plus the difference between the two allowances.
    pub fn handover_by(&self, order: &Order) -> Option<OffsetDateTime> {
        match parse(order.created_at.as_deref()) {
            Some(c) => Some(c + self.handover_within),
            None => self.ship_by(order).map(|s| s + self.handover_within.saturating_sub(self.print_within)),
        }
    }

    /// The next midnight in the warehouse's time zone after `now`.
    pub fn end_of_day(&self, now: OffsetDateTime) -> OffsetDateTime {
        let local = now.to_offset(self.utc_offset);
        let midnight = local.date().next_day().map(|d| d.midnight().assume_offset(self.utc_offset));
        midnight.unwrap_or(local + Duration::from_secs(24 * 3600))
    }

    pub fn window(&self, deadline: OffsetDateTime, now: OffsetDateTime) -> Window {
        if deadline <= now {
            Window::Overdue
        } else if deadline <= now + DUE_SOON {
            Window::Soon
        } else if deadline <= self.end_of_day(now) {
            Window::Today
        } else {
            Window::Later
        }
    }
}

fn parse(stamp: Option<&str>) -> Option<OffsetDateTime> {
    // The order was validated as RFC 3339 when it was read.
    stamp.and_then(|s| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn order(created: Option<&str>, ship_by: Option<&str>) -> Order {
        let text = include_str!("../tests/fixtures/orders/my-jnt-cod.json");
        let mut o = Order::from_json_str(text).unwrap();
        o.created_at = created.map(str::to_string);
        o.ship_by = ship_by.map(str::to_string);
        o
    }

    #[test]
    fn ship_by_defaults_to_created_plus_print_within() {
        let d = Deadlines::default();
        let o = order(Some("2026-11-20T08:15:00Z"), None);
        assert_eq!(d.ship_by(&o), Some(datetime!(2026-11-22 08:15 UTC)));
        assert_eq!(d.handover_by(&o), Some(datetime!(2026-11-23 08:15 UTC)));
        let o = order(Some("2026-11-20T08:15:00Z"), Some("2026-11-21T00:00:00+08:00"));
        assert_eq!(d.ship_by(&o), Some(datetime!(2026-11-20 16:00 UTC)));
        assert_eq!(d.ship_by(&order(None, None)), None);
        let o = order(None, Some("2026-11-21T00:00:00Z"));
        assert_eq!(d.handover_by(&o), Some(datetime!(2026-11-22 00:00 UTC)));
    }

    #[test]
    fn windows_follow_the_warehouse_day() {
        let d = Deadlines { utc_offset: crate::config::parse_offset("+08:00").unwrap(), ..Deadlines::default() };
        let now = datetime!(2026-12-05 10:00 UTC); // 18:00 in Kuala Lumpur
        assert_eq!(d.end_of_day(now), datetime!(2026-12-05 16:00 UTC));
        assert_eq!(d.window(datetime!(2026-12-05 09:59 UTC), now), Window::Overdue);
        assert_eq!(d.window(datetime!(2026-12-05 13:59 UTC), now), Window::Soon);
        assert_eq!(d.window(datetime!(2026-12-05 15:30 UTC), now), Window::Today);
        assert_eq!(d.window(datetime!(2026-12-05 16:30 UTC), now), Window::Later);
    }
}
