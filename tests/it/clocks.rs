//! The marketplace clocks: a printer's queue runs the most urgent label first (a batch whole, in
//! walking order), the "due" counts by window, the `late` flag on a label printed after its
//! ship-by time, and the 20-hour not-handed-over flag; then the same through the daemon's API and
//! metrics.

use crate::common;

use std::time::Duration;

use labeld::config::parse_offset;
use labeld::deadlines::Deadlines;
use labeld::lang::Language;
use labeld::order::Order;
use labeld::spool::{NewBatch, NewDocument, Spool, State};
use time::OffsetDateTime;

use crate::common::http;
use crate::daemon::{start_with, vp, wait_until};

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// A distinct order due `hours` from now (None: no clock at all).
fn order(n: u64, hours: Option<i64>) -> Order {
    let mut o = common::fixture_orders().into_iter().find(|(name, _)| name == "us-ups").unwrap().1;
    o.order_id = format!("CLK-{n:04}");
    o.shipment.tracking_number = format!("TRKCLK{n:06}");
    o.created_at = None;
    o.ship_by = hours.map(|h| rfc3339(OffsetDateTime::now_utc() + time::Duration::hours(h)));
    o
}

fn label(n: u64, hours: Option<i64>) -> NewDocument {
    NewDocument::label("dock-1", order(n, hours))
}

fn drain(spool: &Spool) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(d) = spool.claim_next("dock-1").unwrap() {
        out.push(d.order_id.unwrap_or_else(|| format!("{:?}", d.kind)));
    }
    out
}

#[test]
fn the_queue_runs_the_most_urgent_first_and_a_batch_whole_in_walking_order() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&dir.path().join("spool.db")).unwrap();
    // Submitted in this order; none of them FIFO-urgent.
    spool.submit(vec![label(1, Some(30))]).unwrap();
    spool.submit(vec![label(2, Some(1))]).unwrap();
    spool.submit(vec![label(3, None)]).unwrap();
    spool.submit(vec![label(4, Some(-2))]).unwrap();
    // A batch in walking order whose most urgent member is due in 5 h: it prints whole, in its
    // own order, between the 1 h label and the 30 h one.
    spool
        .submit_batch(NewBatch {
            id: "B-1".into(),
            printer: "dock-1".into(),
            picklist: None,
            labels: vec![label(10, Some(20)), label(11, Some(5)), label(12, Some(10))],
            chunk_size: 50,
            release: Default::default(),
        })
        .unwrap();
    assert_eq!(drain(&spool), ["CLK-0004", "CLK-0002", "CLK-0010", "CLK-0011", "CLK-0012", "CLK-0001", "CLK-0003"]);
}

#[test]
fn ship_by_defaults_to_created_at_plus_print_within() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&dir.path().join("spool.db")).unwrap();
    spool.set_deadlines(Deadlines { print_within: Duration::from_secs(24 * 3600), ..Deadlines::default() });
    let mut o = order(1, None);
    o.created_at = Some("2026-11-20T08:15:00Z".into());
    let id = spool.submit(vec![NewDocument::label("dock-1", o)]).unwrap().documents[0].document;
    assert_eq!(spool.document(id).unwrap().ship_by, Some(time::macros::datetime!(2026-11-21 08:15 UTC)));
}

/// A UTC offset at which the warehouse's local time is just past 1 a.m., so "today" has about 22 h left.
fn early_morning() -> Deadlines {
    let hour = OffsetDateTime::now_utc().hour() as i32;
    let mut h = (1 - hour).rem_euclid(24);
    if h > 12 {
        h -= 24;
    }
    Deadlines { utc_offset: parse_offset(&format!("{}{:02}:00", if h < 0 { '-' } else { '+' }, h.abs())).unwrap(), ..Deadlines::default() }
}

fn to_done(spool: &Spool, id: i64) {
    spool.claim(id).unwrap();
    spool.mark_ready(id, b"^XA^XZ", "zpl").unwrap();
    spool.mark_sending(id).unwrap();
    spool.mark_sent(id).unwrap();
    spool.mark_done(id).unwrap();
}

#[test]
fn due_counts_by_window_and_the_twenty_hour_handover_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    let spool = Spool::open(&path).unwrap();
    spool.set_deadlines(early_morning());
    // Overdue: one order in two parcels, and another order held by a rule (it still needs a person).
    let mut p1 = order(1, Some(-3));
    p1.shipment.package.count = 2;
    let mut p2 = p1.clone();
    p2.shipment.package.index = 2;
    p2.shipment.tracking_number = "TRKCLK000001B".into();
    spool.submit(vec![NewDocument::label("dock-1", p1), NewDocument::label("dock-1", p2)]).unwrap();
    let held = spool.submit(vec![label(2, Some(-1))]).unwrap().documents[0].document;
    spool.claim(held).unwrap();
    spool.mark_held(held, &serde_json::json!({"refusals": []})).unwrap();
    spool.submit(vec![label(3, Some(2))]).unwrap(); // soon
    spool.submit(vec![label(4, Some(10))]).unwrap(); // today
    spool.submit(vec![label(5, Some(40))]).unwrap(); // later: not counted
    // Printed overdue labels are not due any more; cancelled ones neither.
    let printed = spool.submit(vec![label(6, Some(-5))]).unwrap().documents[0].document;
    to_done(&spool, printed);
    let cancelled = spool.submit(vec![label(7, Some(-5))]).unwrap().documents[0].document;
    spool.cancel(cancelled).unwrap();

    let due = spool.due(OffsetDateTime::now_utc()).unwrap();
    assert_eq!((due.overdue.orders, due.overdue.labels), (2, 3));
    assert_eq!((due.soon.orders, due.today.orders), (1, 1));
    let ids: Vec<&str> = due.overdue.parcels.iter().filter_map(|p| p.order_id.as_deref()).collect();
    assert_eq!(ids, ["CLK-0001", "CLK-0001", "CLK-0002"]);
    assert_eq!(due.soon.parcels[0].tracking_number.as_deref(), Some("TRKCLK000003"));
    assert_eq!(due.not_handed_over.labels, 0, "printed just now");

    // Printed 21 h ago and never handed over: flagged. 19 h ago: not yet.
    let old = spool.submit(vec![label(8, Some(30))]).unwrap().documents[0].document;
    to_done(&spool, old);
    let recent = spool.submit(vec![label(9, Some(30))]).unwrap().documents[0].document;
    to_done(&spool, recent);
    let now_ms = OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE documents SET printed_ms = ?2 WHERE id = ?1", rusqlite::params![old, now_ms - 21 * 3600 * 1000]).unwrap();
    conn.execute("UPDATE documents SET printed_ms = ?2 WHERE id = ?1", rusqlite::params![recent, now_ms - 19 * 3600 * 1000]).unwrap();
    let due = spool.due(OffsetDateTime::now_utc()).unwrap();
    let flagged: Vec<&str> = due.not_handed_over.parcels.iter().filter_map(|p| p.tracking_number.as_deref()).collect();
    assert_eq!(flagged, ["TRKCLK000008"]);
    // The parcel a handover ticked off is no longer flagged.
    conn.execute("UPDATE documents SET handed_over_ms = ?2 WHERE id = ?1", rusqlite::params![old, now_ms]).unwrap();
    assert_eq!(spool.due(OffsetDateTime::now_utc()).unwrap().not_handed_over.labels, 0);
}

#[test]
fn a_label_printed_after_ship_by_prints_and_says_late() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&dir.path().join("spool.db")).unwrap();
    let cursor = spool.outbox_cursor("t").unwrap();
    let late = spool.submit(vec![label(1, Some(-1))]).unwrap().documents[0].document;
    let on_time = spool.submit(vec![label(2, Some(5))]).unwrap().documents[0].document;
    assert!(!spool.document(late).unwrap().late, "not printed yet: not late, overdue");
    to_done(&spool, late);
    to_done(&spool, on_time);
    let (l, o) = (spool.document(late).unwrap(), spool.document(on_time).unwrap());
    assert_eq!((l.state, l.late, o.state, o.late), (State::Done, true, State::Done, false));
    assert!(l.printed_at.unwrap() > l.ship_by.unwrap());
    let changes = spool.changes_after(cursor, 100).unwrap();
    let done: Vec<(i64, bool)> = changes.iter().filter(|c| c.to == State::Done).map(|c| (c.document, c.late)).collect();
    assert_eq!(done, [(late, true), (on_time, false)]);
    // A reprint keeps the order's clock.
    let again = spool.reprint(late, "Label damaged", None).unwrap();
    assert_eq!(again.ship_by, l.ship_by);
}

#[test]
fn the_daemon_shows_due_counts_late_jobs_and_metrics() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start_with(&[("dock-1", "zebra-zd421-203", printer.addr())], "\n[deadlines]\nprint_within = \"48h\"\nhandover_within = \"72h\"\n");
    let submit = |o: &Order| {
        let body = serde_json::json!({ "printer": "dock-1", "order": o });
        let resp = http::post_json(d.addr, "/v1/jobs", body.to_string().as_bytes());
        assert_eq!(resp.status, 202, "{}", resp.text());
        resp.json()["documents"][0]["document"].as_i64().unwrap()
    };
    // Twelve days late, as the demo label was: it prints, and the job says late.
    let mut late = order(1, None);
    late.created_at = Some(rfc3339(OffsetDateTime::now_utc() - time::Duration::days(14)));
    let id = submit(&late);
    assert_eq!(printer.wait_for_saved(1, Duration::from_secs(30)), 1);
    wait_until("the late job to be done", Duration::from_secs(10), || {
        http::get(d.addr, &format!("/v1/jobs?order_id={}", late.order_id)).json()["documents"][0]["state"] == "done"
    });
    let doc = &http::get(d.addr, &format!("/v1/jobs?order_id={}", late.order_id)).json()["documents"][0];
    assert_eq!((doc["id"].as_i64(), doc["late"].as_bool()), (Some(id), Some(true)), "{doc}");
    // An overdue order held by a rule stays due.
    let mut held = order(2, Some(-1));
    held.label_note = Some("Visit www.example.com for 10% off".into());
    submit(&held);
    wait_until("the held job", Duration::from_secs(10), || {
        http::get(d.addr, &format!("/v1/jobs?order_id={}", held.order_id)).json()["documents"][0]["state"] == "held"
    });
    let due = http::get(d.addr, "/v1/due");
    assert_eq!(due.status, 200);
    let v = due.json();
    assert_eq!(v["overdue"]["orders"], 1, "{v}");
    assert_eq!(v["overdue"]["parcels"][0]["order_id"], "CLK-0002");
    assert_eq!(v["overdue"]["parcels"][0]["tracking_number"], "TRKCLK000002");
    // Order id and tracking number only: no buyer data in the list.
    let text = due.text();
    for buyer in [held.recipient.name.as_str(), held.recipient.address.city.as_str()] {
        assert!(!text.contains(buyer), "{buyer:?} in /v1/due");
    }
    let metrics = http::get(d.addr, "/metrics").text();
    for line in ["labeld_orders_overdue 1", "labeld_orders_due{window=\"4h\"} 0", "labeld_orders_due{window=\"today\"} 0", "labeld_labels_not_handed_over 0"] {
        assert!(metrics.lines().any(|l| l == line), "{line:?} not in /metrics:\n{metrics}");
    }
}

#[test]
fn a_bad_deadlines_section_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labeld.toml");
    std::fs::write(&path, "[deadlines]\nprint_within = \"2 days\"\nhandover_within = \"24h\"\nutc_offset = \"8\"\n").unwrap();
    let profiles = labeld::printer::profile::Profiles::builtin();
    let err = labeld::daemon::load_config(&path, &profiles).err().expect("refused").to_string();
    assert!(err.contains("print_within") && err.contains("2 days"), "{err}");
    assert!(err.contains("utc_offset"), "{err}");
}
