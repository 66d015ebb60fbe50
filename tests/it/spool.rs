//! The spool: state machine, idempotency, batches, recovery, purge, and a SIGKILL crash test.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use labeld::order::Order;
use labeld::spool::{ALL_STATES, Content, Filter, Kind, NewDocument, Outcome, Spool, SpoolError, State, StoredContent};

use crate::common;

fn base_order() -> Order {
    common::fixture_orders().into_iter().find(|(name, _)| name == "us-ups").expect("us-ups fixture").1
}

/// A distinct order: its own id and tracking number.
fn order(n: u64) -> Order {
    let mut o = base_order();
    o.order_id = format!("ORD-{n:06}");
    o.shipment.tracking_number = format!("TRK{n:010}");
    o
}

fn open(dir: &tempfile::TempDir) -> Spool {
    Spool::open(&dir.path().join("spool.db")).unwrap()
}

fn submit_one(spool: &Spool, n: u64) -> i64 {
    let s = spool.submit(vec![NewDocument::label("dock-1", order(n))]).unwrap();
    assert_eq!(s.documents[0].outcome, Outcome::New);
    s.documents[0].document
}

/// Drives a new document along legal transitions into `state`.
fn document_in(spool: &Spool, n: u64, state: State) -> i64 {
    let id = submit_one(spool, n);
    let path: &[State] = match state {
        State::Queued => &[],
        State::Rendering => &[State::Rendering],
        State::Ready => &[State::Rendering, State::Ready],
        State::Sending => &[State::Rendering, State::Ready, State::Sending],
        State::Sent => &[State::Rendering, State::Ready, State::Sending, State::Sent],
        State::Done => &[State::Rendering, State::Ready, State::Sending, State::Sent, State::Done],
        State::Held => &[State::Rendering, State::Held],
        State::Failed => &[State::Rendering, State::Failed],
        State::Cancelled => &[State::Cancelled],
        State::InDoubt => &[State::Rendering, State::Ready, State::Sending, State::InDoubt],
    };
    for &to in path {
        go(spool, id, to).unwrap();
    }
    assert_eq!(spool.document(id).unwrap().state, state);
    id
}

/// The public method that moves a document to `to`.
fn go(spool: &Spool, id: i64, to: State) -> Result<(), SpoolError> {
    match to {
        State::Queued => spool.requeue(id),
        State::Rendering => spool.claim(id),
        State::Ready => spool.mark_ready(id, b"^XA^XZ", "zpl"),
        State::Sending => spool.mark_sending(id),
        State::Sent => spool.mark_sent(id),
        State::Done => spool.mark_done(id),
        State::Held => spool.mark_held(id, &serde_json::json!({"rule": "hyperlink", "path": "label_note"})),
        State::Failed => spool.mark_failed(id, "render: no font for U+1F600"),
        State::Cancelled => spool.cancel(id),
        State::InDoubt => spool.mark_in_doubt(id, "link dropped after 512 of 9000 bytes"),
    }
}

/// The machine from DESIGN.md, written out independently of the code's table.
fn legal(from: State, to: State) -> bool {
    use State::*;
    matches!(
        (from, to),
        (Queued, Rendering | Cancelled)
            | (Rendering, Ready | Held | Failed | Queued | Cancelled)
            // Ready → queued: a label waiting for its scan, scanned at a bench whose printer needs other bytes.
            | (Ready, Sending | Cancelled | Queued)
            | (Sending, Sent | InDoubt | Ready | Failed)
            | (Sent, Done | InDoubt)
            | (Held, Queued | Cancelled)
            | (Failed, Queued | Cancelled)
            | (InDoubt, Done | Cancelled)
    )
}

#[test]
fn every_transition_legal_and_illegal() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let mut n = 0;
    for from in ALL_STATES {
        for to in ALL_STATES {
            assert_eq!(from.can_go(to), legal(from, to), "table disagrees with DESIGN.md for {from} → {to}");
            n += 1;
            let id = document_in(&spool, n, from);
            let result = go(&spool, id, to);
            if legal(from, to) {
                result.unwrap_or_else(|e| panic!("{from} → {to} should be legal: {e}"));
                assert_eq!(spool.document(id).unwrap().state, to);
                let last = spool.history(id).unwrap().pop().unwrap();
                assert_eq!((last.from.as_deref(), last.to.as_deref()), (Some(from.as_str()), Some(to.as_str())));
            } else {
                let err = result.expect_err(&format!("{from} → {to} should be illegal"));
                match &err {
                    SpoolError::IllegalTransition { id: eid, transition } => {
                        assert_eq!((*eid, transition.from, transition.to), (id, from, to));
                    }
                    other => panic!("{from} → {to}: wrong error {other}"),
                }
                assert_eq!(err.to_string(), format!("document {id}: cannot go from {from} to {to}"));
                assert_eq!(spool.document(id).unwrap().state, from, "an illegal transition must change nothing");
            }
        }
    }
    assert!(spool.integrity_check().unwrap().is_empty());
}

#[test]
fn outbox_reads_changes_after_its_cursor_and_resumes_there_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let before = submit_one(&spool, 1);
    // A new reader starts at the end: the past is not its business.
    let start = spool.outbox_cursor("events").unwrap();
    assert!(spool.changes_after(start, 100).unwrap().is_empty());
    let id = document_in(&spool, 2, State::Done);
    spool.mark_failed(spool.claim_next("dock-1").unwrap().unwrap().id, "no link").unwrap();
    let changes = spool.changes_after(start, 100).unwrap();
    let seen: Vec<(i64, &str, State)> = changes.iter().map(|c| (c.document, c.action.as_str(), c.to)).collect();
    assert_eq!(
        seen,
        [
            (id, "submit", State::Queued),
            (id, "claim", State::Rendering),
            (id, "rendered", State::Ready),
            (id, "sending", State::Sending),
            (id, "sent", State::Sent),
            (id, "done", State::Done),
            (before, "claim", State::Rendering),
            (before, "failed", State::Failed),
        ]
    );
    assert_eq!(changes[0].order_id.as_deref(), Some("ORD-000002"));
    assert_eq!(changes[0].tracking_number.as_deref(), Some("TRK0000000002"));
    assert_eq!(changes[7].detail.as_deref(), Some("no link"));
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
    // Paged, and the cursor survives a reopen (a kill -9 between rounds re-reads, never skips).
    let first_three = spool.changes_after(start, 3).unwrap();
    assert_eq!(first_three, changes[..3]);
    spool.advance_outbox("events", first_three[2].seq).unwrap();
    // Moving back is ignored: a late writer cannot make the outbox skip or repeat a range.
    spool.advance_outbox("events", start).unwrap();
    drop(spool);
    let spool = open(&dir);
    let cursor = spool.outbox_cursor("events").unwrap();
    assert_eq!(cursor, first_three[2].seq);
    assert_eq!(spool.changes_after(cursor, 100).unwrap(), changes[3..]);
    // Another reader has its own place.
    let other = spool.outbox_cursor("other").unwrap();
    assert!(spool.changes_after(other, 100).unwrap().is_empty());
}

#[test]
fn spool_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Spool>();
    let dir = tempfile::tempdir().unwrap();
    let spool = Arc::new(Spool::open(&dir.path().join("nested/dir/spool.db")).unwrap());
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let spool = Arc::clone(&spool);
            std::thread::spawn(move || (0..25).for_each(|i| drop(spool.submit(vec![NewDocument::label("dock-1", order(t * 100 + i))]).unwrap())))
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(spool.list(&Filter::default()).unwrap().len(), 100);
}

#[test]
fn unknown_document_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    assert_eq!(spool.mark_sent(42).unwrap_err().to_string(), "no document 42");
}

#[test]
fn same_key_twice_is_one_job_and_returns_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let first = spool.submit(vec![NewDocument::label("dock-1", order(1))]).unwrap();
    let again = spool.submit(vec![NewDocument::label("dock-1", order(1))]).unwrap();
    assert_eq!(again.job, first.job);
    assert_eq!(again.documents[0].document, first.documents[0].document);
    assert_eq!(again.documents[0].outcome, Outcome::Duplicate);
    assert_eq!(first.documents[0].key, "label:ORD-000001:1");
    // Still a duplicate once it has printed; printing twice needs an explicit reprint.
    let id = first.documents[0].document;
    for to in [State::Rendering, State::Ready, State::Sending, State::Sent, State::Done] {
        go(&spool, id, to).unwrap();
    }
    let late = spool.submit(vec![NewDocument::label("dock-2", order(1))]).unwrap();
    assert_eq!((late.documents[0].document, late.documents[0].outcome, late.documents[0].state), (id, Outcome::Duplicate, State::Done));
    assert_eq!(spool.list(&Filter::default()).unwrap().len(), 1);
    // A caller's own key wins over the derived one.
    let keyed = spool.submit(vec![NewDocument::label("dock-1", order(1)).with_key("wms-778")]).unwrap();
    assert_eq!(keyed.documents[0].outcome, Outcome::New);
    // Another package of the same order is another label.
    let mut second_parcel = order(1);
    second_parcel.shipment.package.index = 2;
    second_parcel.shipment.package.count = 2;
    let p2 = spool.submit(vec![NewDocument::label("dock-1", second_parcel)]).unwrap();
    assert_eq!((p2.documents[0].outcome, p2.documents[0].key.as_str()), (Outcome::New, "label:ORD-000001:2"));
}

#[test]
fn a_held_document_resubmitted_with_a_fixed_order_is_queued_again() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let id = document_in(&spool, 7, State::Held);
    // Same order again: still held, nothing new.
    let same = spool.submit(vec![NewDocument::label("dock-1", order(7))]).unwrap();
    assert_eq!((same.documents[0].document, same.documents[0].outcome, same.documents[0].state), (id, Outcome::Duplicate, State::Held));
    let mut fixed = order(7);
    fixed.label_note = None;
    fixed.shop = Some("Fixed shop".into());
    let again = spool.submit(vec![NewDocument::label("dock-1", fixed.clone())]).unwrap();
    assert_eq!((again.documents[0].document, again.documents[0].outcome, again.documents[0].state), (id, Outcome::Resubmitted, State::Queued));
    let doc = spool.document(id).unwrap();
    assert_eq!((doc.state, doc.report.as_ref()), (State::Queued, None));
    assert_eq!(spool.content(id).unwrap(), StoredContent::Order(Box::new(fixed)));
}

#[test]
fn batch_commits_whole_with_a_result_per_document() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    submit_one(&spool, 3); // already known
    let mut docs: Vec<NewDocument> = (1..=500).map(|n| NewDocument::label("dock-1", order(n))).collect();
    docs[499] = NewDocument::label("dock-1", order(1)); // duplicate inside the batch
    let s = spool.submit(docs).unwrap();
    assert_eq!(s.documents.len(), 500);
    let outcomes: HashMap<Outcome, usize> = s.documents.iter().fold(HashMap::new(), |mut m, a| {
        *m.entry(a.outcome).or_default() += 1;
        m
    });
    assert_eq!(outcomes[&Outcome::New], 498);
    assert_eq!(outcomes[&Outcome::Duplicate], 2);
    assert_eq!(s.documents[499].document, s.documents[0].document);
    let job = spool.job(s.job).unwrap().unwrap();
    assert_eq!(job.documents.len(), 498);
    // Too big: refused before anything is written.
    let before = spool.list(&Filter { limit: Some(1000), ..Filter::default() }).unwrap().len();
    let big: Vec<NewDocument> = (1000..1501).map(|n| NewDocument::label("dock-1", order(n))).collect();
    assert!(matches!(spool.submit(big), Err(SpoolError::Invalid(m)) if m.contains("at most 500")));
    assert!(matches!(spool.submit(vec![]), Err(SpoolError::Invalid(_))));
    // One bad document refuses the whole batch.
    let mut mixed: Vec<NewDocument> = (2000..2010).map(|n| NewDocument::label("dock-1", order(n))).collect();
    mixed.push(NewDocument { kind: Kind::Label, printer: "dock-1".into(), content: Content::Orders(vec![order(1)]), key: None });
    let err = spool.submit(mixed).unwrap_err().to_string();
    assert_eq!(err, "documents[10]: a label prints exactly one order");
    assert_eq!(spool.list(&Filter { limit: Some(1000), ..Filter::default() }).unwrap().len(), before);
}

/// A failure in the middle of the transaction (here: a database error injected with a trigger)
/// leaves nothing of the batch behind.
#[test]
fn batch_rolls_back_on_a_database_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    let spool = Spool::open(&path).unwrap();
    {
        let c = rusqlite_connection(&path);
        c.execute_batch(
            "CREATE TRIGGER fail_on_poison BEFORE INSERT ON documents WHEN NEW.order_id = 'ORD-000250' \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    }
    let docs: Vec<NewDocument> = (1..=500).map(|n| NewDocument::label("dock-1", order(n))).collect();
    let err = spool.submit(docs).unwrap_err().to_string();
    assert!(err.contains("injected failure"), "{err}");
    assert!(spool.list(&Filter::default()).unwrap().is_empty(), "no document of a failed batch may remain");
    assert!(spool.job(1).unwrap().is_none());
}

fn rusqlite_connection(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[test]
fn picklist_documents() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let orders: Vec<Order> = (1..=3).map(order).collect();
    let s = spool.submit(vec![NewDocument::picklist("office", orders.clone())]).unwrap();
    let doc = spool.document(s.documents[0].document).unwrap();
    assert_eq!((doc.kind, doc.order_id.as_deref(), doc.key.as_str()), (Kind::Picklist, None, "picklist:ORD-000001,ORD-000002,ORD-000003"));
    assert_eq!(spool.content(doc.id).unwrap(), StoredContent::Orders(orders));
}

#[test]
fn claim_takes_the_oldest_queued_for_that_printer() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let a = submit_one(&spool, 1);
    let other = spool.submit(vec![NewDocument::label("dock-2", order(2))]).unwrap().documents[0].document;
    let b = submit_one(&spool, 3);
    assert_eq!(spool.claim_next("dock-1").unwrap().unwrap().id, a);
    assert_eq!(spool.claim_next("dock-1").unwrap().unwrap().id, b);
    assert!(spool.claim_next("dock-1").unwrap().is_none());
    let d = spool.claim_next("dock-2").unwrap().unwrap();
    assert_eq!((d.id, d.state), (other, State::Rendering));
}

#[test]
fn rendered_bytes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id;
    {
        let spool = open(&dir);
        id = submit_one(&spool, 1);
        spool.claim(id).unwrap();
        spool.mark_ready(id, b"^XA^FO10,10^GFA,...^XZ", "zpl").unwrap();
    }
    let spool = open(&dir);
    assert_eq!(spool.recover().unwrap().requeued, Vec::<i64>::new());
    let r = spool.rendered(id).unwrap().unwrap();
    assert_eq!((r.bytes.as_slice(), r.format.as_str()), (&b"^XA^FO10,10^GFA,...^XZ"[..], "zpl"));
    assert_eq!(spool.document(id).unwrap().state, State::Ready);
}

#[test]
fn ready_and_sending_in_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let id = document_in(&spool, 1, State::Rendering);
    spool.mark_ready_and_sending(id, b"SIZE 100 mm,150 mm\r\n", "tspl").unwrap();
    let d = spool.document(id).unwrap();
    assert_eq!((d.state, d.attempts, d.rendered_bytes), (State::Sending, 1, Some(20)));
    let steps: Vec<_> = spool.history(id).unwrap().into_iter().map(|h| h.to.unwrap_or_default()).collect();
    assert_eq!(steps, ["queued", "rendering", "ready", "sending"]);
    // Only from rendering; nothing changes otherwise.
    let queued = submit_one(&spool, 2);
    let e = spool.mark_ready_and_sending(queued, b"x", "tspl").unwrap_err();
    assert_eq!(e.to_string(), format!("document {queued}: cannot go from queued to ready"));
    assert_eq!(spool.document(queued).unwrap().state, State::Queued);
    assert_eq!(spool.rendered(queued).unwrap(), None);
}

#[test]
fn unsend_needs_bytes_and_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let id = document_in(&spool, 1, State::Sending);
    spool.unsend(id, "connection refused").unwrap();
    let d = spool.document(id).unwrap();
    assert_eq!((d.state, d.error.as_deref(), d.attempts), (State::Ready, Some("connection refused"), 1));
    assert!(spool.rendered(id).unwrap().is_some());
    spool.mark_sending(id).unwrap();
    assert_eq!(spool.document(id).unwrap().attempts, 2);
}

#[test]
fn recover_after_each_state() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let ids: BTreeMap<State, i64> = ALL_STATES.iter().enumerate().map(|(i, &s)| (s, document_in(&spool, i as u64 + 1, s))).collect();
    drop(spool);
    let spool = open(&dir);
    let r = spool.recover().unwrap();
    assert_eq!(r.requeued, [ids[&State::Rendering]]);
    assert_eq!(r.in_doubt, [ids[&State::Sending]]);
    assert_eq!(r.completed, [ids[&State::Sent]]);
    let expected = |s: State| match s {
        State::Rendering => State::Queued,
        State::Sending => State::InDoubt,
        State::Sent => State::Done,
        other => other,
    };
    for (&s, &id) in &ids {
        let d = spool.document(id).unwrap();
        assert_eq!(d.state, expected(s), "after recover, a document that was {s}");
    }
    assert_eq!(spool.document(ids[&State::Sending]).unwrap().error.as_deref(), Some("restart: the daemon stopped while sending; it may have printed"));
    // A ready document keeps its bytes; recover twice changes nothing more.
    assert!(spool.rendered(ids[&State::Ready]).unwrap().is_some());
    assert_eq!(spool.recover().unwrap(), Default::default());
    assert!(spool.integrity_check().unwrap().is_empty());
}

#[test]
fn reprint_is_explicit_linked_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let id = document_in(&spool, 1, State::InDoubt);
    assert!(matches!(spool.reprint(id, "  ", None), Err(SpoolError::Invalid(m)) if m.contains("reason")));
    let copy = spool.reprint(id, "label jammed, packer asked", Some("dock-2")).unwrap();
    assert_eq!((copy.state, copy.reprint_of, copy.printer.as_str()), (State::Queued, Some(id), "dock-2"));
    assert_eq!(copy.reprint_reason.as_deref(), Some("label jammed, packer asked"));
    assert_eq!(copy.key, "label:ORD-000001:1#reprint1");
    assert_ne!(copy.job, spool.document(id).unwrap().job);
    assert_eq!(spool.content(copy.id).unwrap(), spool.content(id).unwrap());
    assert_eq!(spool.document(id).unwrap().state, State::InDoubt, "the original keeps its state");
    let h = spool.history(id).unwrap();
    let last = h.last().unwrap();
    assert_eq!(last.action, "reprint");
    assert_eq!(last.detail.as_deref(), Some(format!("reprinted as document {}: label jammed, packer asked", copy.id).as_str()));
    assert_eq!(spool.reprint(id, "again", None).unwrap().key, "label:ORD-000001:1#reprint2");
    // Something that will still print on its own is not reprinted.
    for s in [State::Queued, State::Rendering, State::Ready, State::Sending, State::Held] {
        let other = document_in(&spool, 100 + s as u64, s);
        let e = spool.reprint(other, "why not", None).unwrap_err().to_string();
        assert!(e.contains(&format!("is {s} and will still print")), "{e}");
    }
}

#[test]
fn list_and_get_filter() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let a = document_in(&spool, 1, State::Done);
    let b = document_in(&spool, 2, State::Held);
    let c = spool.submit(vec![NewDocument::label("dock-2", order(3))]).unwrap().documents[0].document;
    let ids = |f: Filter| spool.list(&f).unwrap().into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(ids(Filter::default()), [c, b, a]);
    assert_eq!(ids(Filter { printer: Some("dock-1".into()), ..Default::default() }), [b, a]);
    assert_eq!(ids(Filter { states: vec![State::Held, State::Queued], ..Default::default() }), [c, b]);
    assert_eq!(ids(Filter { order_id: Some("ORD-000002".into()), ..Default::default() }), [b]);
    assert_eq!(ids(Filter { tracking_number: Some("TRK0000000003".into()), ..Default::default() }), [c]);
    assert_eq!(ids(Filter { before: Some(c), limit: Some(1), ..Default::default() }), [b]);
    assert_eq!(ids(Filter { kind: Some(Kind::Picklist), ..Default::default() }), Vec::<i64>::new());
    let held = spool.document(b).unwrap();
    assert_eq!(held.report.unwrap()["rule"], "hyperlink");
    assert!(matches!(spool.document(999), Err(SpoolError::NoDocument(999))));
    let counts = spool.counts().unwrap();
    assert!(counts.contains(&("dock-2".to_string(), State::Queued, 1)));
}

#[test]
fn documents_carry_no_buyer_data() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let o = order(1);
    let id = submit_one(&spool, 1);
    let shown = format!("{:?}", spool.document(id).unwrap());
    for pii in [&o.recipient.name, o.recipient.phone.as_ref().unwrap(), &o.recipient.address.lines[0]] {
        assert!(!shown.contains(pii.as_str()), "{pii:?} leaked into {shown}");
    }
}

#[test]
fn duplicate_tracking_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    submit_one(&spool, 1);
    let mut other = order(2);
    other.shipment.tracking_number = order(1).shipment.tracking_number;
    assert_eq!(spool.find_other_order_with("TRK0000000001", "ORD-000002").unwrap().as_deref(), Some("ORD-000001"));
    assert_eq!(spool.find_other_order_with("TRK0000000001", "ORD-000001").unwrap(), None, "its own order is no duplicate");
    assert_eq!(spool.find_other_order_with("TRK-unknown", "ORD-000002").unwrap(), None);
    let c = document_in(&spool, 9, State::Cancelled);
    let _ = c;
    assert_eq!(spool.find_other_order_with("TRK0000000009", "ORD-000002").unwrap(), None, "cancelled labels do not count");
    // Through the compliance trait.
    let lookup: &dyn labeld::comply::DuplicateTracking = &spool;
    assert_eq!(lookup.other_order_with("TRK0000000001", "ORD-000002"), Ok(Some("ORD-000001".to_string())));
}

#[test]
fn purge_removes_buyer_data_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    let spool = Spool::open(&path).unwrap();
    let mut o = order(1);
    o.recipient.name = "Zebulon Quattlebaum-Purgeme".into();
    o.recipient.address.lines = vec!["77 Unforgettable Lane".into()];
    let done = spool.submit(vec![NewDocument::label("dock-1", o.clone())]).unwrap().documents[0].document;
    for to in [State::Rendering, State::Ready, State::Sending, State::Sent, State::Done] {
        go(&spool, done, to).unwrap();
    }
    let held = document_in(&spool, 2, State::Held);
    let file_has = |needle: &str| {
        let mut all = std::fs::read(&path).unwrap();
        all.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
        all.windows(needle.len()).any(|w| w == needle.as_bytes())
    };
    assert!(file_has("Zebulon Quattlebaum-Purgeme"), "control: the name is stored before the purge");

    let now = time::OffsetDateTime::now_utc();
    assert_eq!(spool.purge(now, Duration::from_secs(3600)).unwrap(), 0, "not old enough yet");
    let later = now + time::Duration::days(8);
    assert_eq!(spool.purge(later, Duration::from_secs(7 * 86400)).unwrap(), 1);
    assert_eq!(
        spool.content(done).unwrap(),
        StoredContent::Purged { order_id: Some("ORD-000001".into()), tracking_number: Some("TRK0000000001".into()) }
    );
    let d = spool.document(done).unwrap();
    assert!(d.purged);
    assert_eq!(d.rendered_bytes, None);
    assert!(spool.rendered(done).unwrap().is_none());
    assert!(!spool.document(held).unwrap().purged, "held documents wait for an operator");
    assert!(matches!(spool.reprint(done, "lost parcel", None), Err(SpoolError::Purged(_))));
    // The tracking number still counts for duplicates after the purge.
    assert_eq!(spool.find_other_order_with("TRK0000000001", "ORD-000999").unwrap().as_deref(), Some("ORD-000001"));
    drop(spool);
    for needle in ["Zebulon Quattlebaum-Purgeme", "77 Unforgettable Lane"] {
        assert!(!file_has(needle), "{needle} still in the spool file after purge");
    }
    assert!(Spool::open(&path).unwrap().integrity_check().unwrap().is_empty());
}

#[test]
fn schema_version_is_recorded_and_a_newer_spool_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    drop(Spool::open(&path).unwrap());
    let c = rusqlite_connection(&path);
    let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, labeld::spool::SCHEMA_VERSION);
    let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let e = Spool::open(&path).err().unwrap().to_string();
    assert!(e.contains("schema 99"), "{e}");
}

#[test]
fn integrity_check_reports_a_broken_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    let spool = Spool::open(&path).unwrap();
    let id = document_in(&spool, 1, State::Ready);
    rusqlite_connection(&path).execute("DELETE FROM rendered WHERE document_id = ?1", [id]).unwrap();
    assert_eq!(spool.integrity_check().unwrap(), [format!("document {id} is ready or sending without printer bytes")]);
}

// ---------------------------------------------------------------------------------------------
// Crash test: a child process works the spool like the daemon does and is killed with SIGKILL at
// random moments; the spool must come back whole every time.

const CHILD_ENV: &str = "LABELD_SPOOL_CRASH_DIR";

/// Not a test on its own: the body of the child process of `survives_sigkill_at_random_moments`.
#[test]
#[ignore = "run by survives_sigkill_at_random_moments as its child process"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let dir = PathBuf::from(dir);
    let spool = Spool::open(&dir.join("spool.db")).unwrap();
    spool.recover().unwrap();
    let mut printer = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("printer.log")).unwrap();
    let mut rng = Rng((std::process::id() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut out = std::io::stdout();
    let base = base_order();
    for round in 0u64.. {
        // Submit a batch of new labels; tell the parent only after the commit returned.
        let n = 1 + rng.below(8);
        let docs: Vec<NewDocument> = (0..n)
            .map(|i| {
                let mut o = base.clone();
                o.order_id = format!("P{}-{round}-{i}", std::process::id());
                o.shipment.tracking_number = format!("T{}-{round}-{i}", std::process::id());
                NewDocument::label("dock-1", o)
            })
            .collect();
        let s = spool.submit(docs).unwrap();
        for a in &s.documents {
            writeln!(out, "ack {} {}", a.key, a.document).unwrap();
        }
        out.flush().unwrap();
        // Resubmit something already there: must come back as the same document.
        if let Some(d) = spool.list(&Filter { limit: Some(1), before: Some(1 + rng.below(1000) as i64), ..Default::default() }).unwrap().first()
            && d.reprint_of.is_none()
        {
            let again = spool.submit(vec![NewDocument::label("dock-1", spool_order(&spool, d.id)).with_key(d.key.clone())]).unwrap();
            assert_eq!(again.documents[0].document, d.id);
            assert_ne!(again.documents[0].outcome, Outcome::New);
        }
        // Work the queue like a worker: render, send (append to the "printer"), confirm.
        while let Some(d) = spool.claim_next("dock-1").unwrap() {
            match rng.below(20) {
                0 => {
                    spool.mark_held(d.id, &serde_json::json!({"rule": "unrelated_content"})).unwrap();
                    continue;
                }
                1 => {
                    spool.mark_failed(d.id, "render failed").unwrap();
                    continue;
                }
                _ => {}
            }
            if rng.below(2) == 0 {
                spool.mark_ready_and_sending(d.id, format!("label {}\n", d.id).as_bytes(), "test").unwrap();
            } else {
                spool.mark_ready(d.id, format!("label {}\n", d.id).as_bytes(), "test").unwrap();
                spool.mark_sending(d.id).unwrap();
            }
            if rng.below(10) == 0 {
                spool.unsend(d.id, "connection refused").unwrap();
                continue;
            }
            let bytes = spool.rendered(d.id).unwrap().unwrap().bytes;
            printer.write_all(&bytes).unwrap();
            printer.sync_data().unwrap();
            if rng.below(15) == 0 {
                spool.mark_in_doubt(d.id, "link dropped").unwrap();
                continue;
            }
            spool.mark_sent(d.id).unwrap();
            spool.mark_done(d.id).unwrap();
        }
        // Ready documents left by unsend go out on the next pass: re-claim them the simple way.
        for d in spool.list(&Filter { states: vec![State::Ready], ..Default::default() }).unwrap() {
            spool.mark_sending(d.id).unwrap();
            let bytes = spool.rendered(d.id).unwrap().unwrap().bytes;
            printer.write_all(&bytes).unwrap();
            printer.sync_data().unwrap();
            spool.mark_sent(d.id).unwrap();
            spool.mark_done(d.id).unwrap();
        }
        // Now and then an operator reprints a done label or resolves an in-doubt one.
        if rng.below(5) == 0
            && let Some(d) = spool.list(&Filter { states: vec![State::InDoubt, State::Done], limit: Some(1), ..Default::default() }).unwrap().first()
        {
            spool.reprint(d.id, "operator reprint in crash test", None).unwrap();
            if d.state == State::InDoubt {
                spool.cancel(d.id).unwrap();
            }
        }
    }
}

fn spool_order(spool: &Spool, id: i64) -> Order {
    match spool.content(id).unwrap() {
        StoredContent::Order(o) => *o,
        other => panic!("unexpected content {other:?}"),
    }
}

/// xorshift64*: enough randomness for kill moments, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[test]
fn survives_sigkill_at_random_moments() {
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    let acks: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed | 1);
    const KILLS: usize = 20;
    for round in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["spool::crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let sink = Arc::clone(&acks);
        let reader = std::thread::spawn(move || {
            let mut seen = 0;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("ack ") {
                    // A line cut by the kill has no id yet; it was not acknowledged.
                    if let Some((key, id)) = rest.split_once(' ').and_then(|(k, id)| id.parse().ok().map(|id| (k.to_string(), id))) {
                        sink.lock().unwrap().push((key, id));
                        seen += 1;
                    }
                }
            }
            seen
        });
        // Wait until the child is working (it acknowledged something), then a random moment more.
        let start = std::time::Instant::now();
        while acks.lock().unwrap().len() <= round && start.elapsed() < Duration::from_secs(60) {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
                panic!("crash child exited on its own ({status}):\n{err}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.below(250)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        if status.signal() != Some(9) {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            panic!("round {round}: crash child ended with {status}, not SIGKILL:\n{err}");
        }
        reader.join().unwrap();
    }

    let spool = Spool::open(&dir.path().join("spool.db")).unwrap();
    spool.recover().unwrap();
    assert_eq!(spool.integrity_check().unwrap(), Vec::<String>::new());

    // Every acknowledged document is there, under the id it was acknowledged with.
    let acks = acks.lock().unwrap().clone();
    assert!(acks.len() >= KILLS, "the children acknowledged only {} documents", acks.len());
    for (key, id) in &acks {
        let d = spool.document(*id).unwrap_or_else(|e| panic!("acknowledged document {id} ({key}) lost: {e}"));
        assert_eq!(&d.key, key);
    }

    // What the printer received: each document at most once, and only documents whose state
    // admits it; everything done was printed exactly once.
    let log = std::fs::read_to_string(dir.path().join("printer.log")).unwrap_or_default();
    let mut printed: HashMap<i64, usize> = HashMap::new();
    for line in log.lines() {
        if let Some(id) = line.strip_prefix("label ").and_then(|s| s.parse().ok()) {
            *printed.entry(id).or_default() += 1;
        }
    }
    // Every document, a page of 1000 at a time (a random run can make more than one page).
    let mut all = Vec::new();
    loop {
        let page = spool.list(&Filter { limit: Some(1000), before: all.last().map(|d: &labeld::spool::Record| d.id), ..Default::default() }).unwrap();
        if page.is_empty() {
            break;
        }
        all.extend(page);
    }
    let total: usize = spool.counts().unwrap().iter().map(|(_, _, n)| *n as usize).sum();
    assert_eq!(all.len(), total, "listing pages by id saw every document");
    let mut by_state: BTreeMap<State, usize> = BTreeMap::new();
    for d in &all {
        *by_state.entry(d.state).or_default() += 1;
        let times = printed.get(&d.id).copied().unwrap_or(0);
        assert!(times <= 1, "document {} was sent {times} times", d.id);
        match d.state {
            State::Done => assert_eq!(times, 1, "document {} is done but was never sent", d.id),
            State::InDoubt | State::Cancelled => {}
            State::Queued | State::Ready | State::Held | State::Failed => {
                assert_eq!(times, 0, "document {} is {} but was already sent", d.id, d.state)
            }
            State::Rendering | State::Sending | State::Sent => panic!("document {} is still {} after recover", d.id, d.state),
        }
        // A send is started at most once, except after an unsend (nothing was written).
        let history = spool.history(d.id).unwrap();
        let sends = history.iter().filter(|h| h.to.as_deref() == Some("sending")).count();
        let unsends = history.iter().filter(|h| h.action == "unsend").count();
        assert!(sends <= unsends + 1, "document {} entered sending {sends} times with {unsends} unsends", d.id);
    }
    eprintln!("crash test: {} documents after {KILLS} kills, {} acknowledged, states {by_state:?}", all.len(), acks.len());
}

/// The duplicate check fails closed: when the spool cannot answer whether a tracking number is already
/// on another order, the rule refuses (the worker holds the label with the error) instead of printing.
#[test]
fn a_spool_error_in_the_duplicate_check_holds_the_label() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    submit_one(&spool, 1);
    let checker = labeld::comply::Checker::new(None);
    let o = order(2);
    assert!(checker.check_order(&o, &spool).is_printable(), "control: a fresh number passes");
    // Another connection breaks the one query the rule runs (the column it filters on is gone).
    let other = rusqlite::Connection::open(dir.path().join("spool.db")).unwrap();
    other.execute_batch("ALTER TABLE documents RENAME COLUMN tracking_number TO tracking_gone").unwrap();
    assert!(spool.find_other_order_with("TRK0000000002", "ORD-000002").is_err(), "the query fails now");
    let report = checker.check_order(&o, &spool);
    assert_eq!(report.rules(), vec![labeld::comply::Rule::DuplicateTrackingNumber], "{report:?}");
    let why = &report.refusals[0].message;
    assert!(why.contains("could not check") && why.contains("spool"), "{why}");
}

/// An operator resolves a label in doubt, with a reason, audited: "came out" makes it done and prints
/// nothing; "did not come out" cancels it and queues exactly one reprint. A second answer, or an answer
/// for a label not in doubt, changes nothing.
#[test]
fn resolving_a_label_in_doubt() {
    use labeld::spool::Resolution;
    let dir = tempfile::tempdir().unwrap();
    let spool = open(&dir);
    let came = document_in(&spool, 1, State::InDoubt);
    let lost = document_in(&spool, 2, State::InDoubt);
    let done = document_in(&spool, 3, State::Done);
    assert!(matches!(spool.resolve(came, Resolution::Printed, "  "), Err(SpoolError::Invalid(_))), "a reason is required");

    let r = spool.resolve(came, Resolution::Printed, "on the printer").unwrap();
    assert_eq!(r.document.state, State::Done);
    assert!(r.reprint.is_none());
    let last = spool.history(came).unwrap().pop().unwrap();
    assert_eq!((last.action.as_str(), last.to.as_deref()), ("resolve", Some("done")));
    assert!(last.detail.unwrap().contains("came out: on the printer"));

    let r = spool.resolve(lost, Resolution::NotPrinted, "nothing came out").unwrap();
    assert_eq!(r.document.state, State::Cancelled);
    let copy = r.reprint.expect("one reprint");
    assert_eq!((copy.state, copy.reprint_of), (State::Queued, Some(lost)));
    assert!(copy.reprint_reason.as_deref().unwrap().contains("nothing came out"));
    assert!(spool.history(lost).unwrap().iter().any(|e| e.action == "resolve" && e.detail.as_deref().unwrap().contains("nothing came out")));

    // Answering again, or for a label that is not in doubt, is refused and prints nothing more.
    for (id, outcome) in [(lost, Resolution::NotPrinted), (came, Resolution::NotPrinted), (done, Resolution::Printed)] {
        assert!(matches!(spool.resolve(id, outcome, "again"), Err(SpoolError::IllegalTransition { .. })), "{id}");
    }
    let copies = spool.list(&Filter { order_id: Some("ORD-000002".into()), ..Default::default() }).unwrap();
    assert_eq!(copies.iter().filter(|d| d.reprint_of == Some(lost)).count(), 1);
    assert!(matches!(spool.resolve(9999, Resolution::Printed, "x"), Err(SpoolError::NoDocument(9999))));
}
