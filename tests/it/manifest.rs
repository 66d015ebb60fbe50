//! Carrier handover manifests: the parcels of one carrier and handover mode whose label printed and
//! was not cancelled, read back from outside. poppler draws the PDF, zbarimg (ZBar) decodes its Code
//! 128s, pdftotext reads its text; the thermal pages go through a printer language and its decoder
//! before zbarimg reads them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use labeld::compose::{Content, Target};
use labeld::lang::{self, Decoded, Language};
use labeld::manifest::{self, Manifest, Paper};
use labeld::order::{Handover, Order};
use labeld::spool::{DocId, HandoverScope, NewBatch, NewDocument, Resolution, Spool};
use time::OffsetDateTime;

use crate::common;

fn fixture(name: &str) -> Order {
    common::fixture_orders().into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("fixture {name}")).1
}

/// A fixture order under its own order id and tracking number.
fn order(name: &str, n: u32) -> Order {
    let mut o = fixture(name);
    o.order_id = format!("MF-{n:04}");
    o.shipment.tracking_number = format!("MFTRK{n:08}");
    o
}

fn submit(spool: &Spool, o: Order) -> DocId {
    spool.submit(vec![NewDocument::label("dock-1", o)]).unwrap().documents[0].document
}

/// Through the states a printed label goes through: every byte reached the printer.
fn print(spool: &Spool, id: DocId) {
    spool.claim(id).unwrap();
    spool.mark_ready_and_sending(id, b"^XA^XZ", "zpl").unwrap();
    spool.mark_sent(id).unwrap();
}

/// A spool holding J&T pick-up parcels that printed (one a reprint, one done, one of two packages),
/// and the ones a J&T pick-up manifest must leave out: cancelled before printing, a print in doubt
/// that an operator cancelled, still queued, J&T drop-off, and another carrier's. Returns the spool
/// and the tracking numbers that belong on the manifest.
fn warehouse_day(dir: &Path) -> (Spool, BTreeSet<String>) {
    let spool = Spool::open(&dir.join("spool.db")).unwrap();
    let mut want = BTreeSet::new();
    for (n, name) in [(1, "my-jnt-cod"), (2, "ph-jnt"), (3, "my-multipackage-2of3")] {
        let o = order(name, n);
        want.insert(o.shipment.tracking_number.clone());
        let id = submit(&spool, o);
        print(&spool, id);
        if n == 2 {
            spool.mark_done(id).unwrap();
            // Smudged and printed again: still one parcel.
            let copy = spool.reprint(id, "smudged", None).unwrap();
            print(&spool, copy.id);
        }
    }
    let cancelled = submit(&spool, order("my-jnt-cod", 10));
    spool.cancel(cancelled).unwrap();
    let doubted = submit(&spool, order("ph-jnt", 11));
    print(&spool, doubted);
    spool.mark_in_doubt(doubted, "printer reported paper out").unwrap();
    spool.resolve(doubted, Resolution::NotPrinted, "nothing came out").unwrap();
    submit(&spool, order("my-jnt-cod", 12));
    let dropoff = submit(&spool, order("id-jnt", 13));
    print(&spool, dropoff);
    let other = submit(&spool, order("sg-ninjavan", 14));
    print(&spool, other);
    (spool, want)
}

fn today(spool: &Spool) -> Manifest {
    let now = OffsetDateTime::now_utc();
    let scope = HandoverScope::Window { since: now - time::Duration::hours(1), until: now + time::Duration::hours(1) };
    Manifest::from_spool(spool, &[" j&t express ".into()], Handover::Pickup, scope, now).unwrap()
}

/// The Code 128s read back from a thermal manifest page, the only symbology it prints. The reader tries
/// every linear one, and on some minutes the header's times ("Printed … 16:29 UTC to … 17:29 UTC") read as
/// an EAN-13 in the glyphs' strokes.
fn code128s(page: &labeld::bitmap::Bitmap) -> Vec<String> {
    labeld::barcode::verify::read_1d_codes(page).into_iter().filter(|c| c.format == "Code 128").map(|c| c.text).collect()
}

/// Everything about the buyers of every fixture order.
fn buyer_strings() -> Vec<String> {
    let mut out = Vec::new();
    for (_, o) in common::fixture_orders() {
        out.push(o.recipient.name.clone());
        out.extend(o.recipient.phone.clone());
        out.extend(o.recipient.address.lines.iter().cloned());
    }
    out
}

fn tools(test: &str) -> bool {
    for tool in ["pdftoppm", "pdftotext"] {
        if !common::have(tool) {
            common::skip("LABELD_REQUIRE_DOC_TOOLS", &format!("{test}: {tool} (Debian poppler-utils) is not installed"));
            return false;
        }
    }
    common::zbar::available(test).is_some()
}

/// The PNG files pdftoppm draws of `pdf` at 300 dpi.
fn draw(pdf: &Path, dir: &Path) -> Vec<PathBuf> {
    let prefix = dir.join("page");
    let out = Command::new("pdftoppm").args(["-r", "300", "-mono", "-png"]).arg(pdf).arg(&prefix).output().unwrap();
    assert!(out.status.success(), "pdftoppm: {}", String::from_utf8_lossy(&out.stderr));
    let mut pages: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "png")).collect();
    pages.sort();
    pages
}

#[test]
fn pdf_barcodes_decode_to_exactly_the_printed_parcels_and_no_buyer_is_named() {
    if !tools("manifest_pdf") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (spool, want) = warehouse_day(dir.path());
    let m = today(&spool);
    // Asked for in other case and spacing; named as the orders name it.
    assert_eq!(m.sections[0].carrier, "J&T Express");
    for paper in [Paper::A4, Paper::Letter] {
        let out = dir.path().join(format!("{paper:?}"));
        std::fs::create_dir_all(&out).unwrap();
        let pdf = out.join("manifest.pdf");
        std::fs::write(&pdf, manifest::pdf(&m, paper, common::fonts()).unwrap()).unwrap();
        let pages = draw(&pdf, &out);
        let refs: Vec<&Path> = pages.iter().map(PathBuf::as_path).collect();
        let decoded = common::zbar::code128(&refs);
        assert_eq!(decoded.len(), want.len(), "{paper:?}: each parcel once: {decoded:?}");
        assert_eq!(decoded.into_iter().collect::<BTreeSet<_>>(), want, "{paper:?}");

        let text = Command::new("pdftotext").args(["-layout"]).arg(&pdf).arg("-").output().unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        for t in &want {
            assert!(text.contains(t.as_str()), "{paper:?}: tracking number {t} not in the text");
        }
        for id in ["MF-0001", "MF-0002", "MF-0003"] {
            assert!(text.contains(id), "{paper:?}: order {id} not in the text");
        }
        assert!(text.contains("PKG 2/3") && text.contains("5.20 kg"), "{paper:?}: package n/m and weight:\n{text}");
        assert!(text.contains("Total J&T Express · PICK UP: 3 parcels · 3 orders · 6.10 kg"), "{paper:?}:\n{text}");
        for line in ["Driver's name", "Signature", "Date and time"] {
            assert!(text.contains(line), "{paper:?}: no line for {line}");
        }
        for absent in ["MF-0010", "MF-0011", "MF-0012", "MF-0013", "MF-0014"] {
            assert!(!text.contains(absent), "{paper:?}: {absent} does not belong on a J&T pick-up manifest");
        }
        for secret in buyer_strings() {
            assert!(!text.contains(&secret), "{paper:?}: buyer data {secret:?} on the manifest");
        }
    }
}

#[test]
fn thermal_pages_in_every_printer_language_carry_the_same_barcodes() {
    if !tools("manifest_thermal") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (spool, want) = warehouse_day(dir.path());
    let m = today(&spool);
    let gate = labeld::compose::Gate::new(labeld::comply::Checker::new(None), common::template().clone()).unwrap();
    for language in Language::ALL {
        let bytes = gate.printer_bytes(Content::Manifest(&m), &Target::bare(language, 203), common::fonts()).unwrap().bytes;
        let mut dec = lang::decoder(language, 203);
        let mut got = dec.push(&bytes).unwrap();
        got.extend(dec.finish().unwrap());
        let mut files = Vec::new();
        for (i, d) in got.into_iter().enumerate() {
            if let Decoded::Label(bitmap) = d {
                let path = dir.path().join(format!("{language}-{i}.png"));
                std::fs::write(&path, labeld::render::png::encode(&bitmap, 203)).unwrap();
                files.push(path);
            }
        }
        assert!(!files.is_empty(), "{language}: no page decoded");
        let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        let decoded: Vec<String> = common::zbar::code128(&refs);
        assert_eq!(decoded.len(), want.len(), "{language}: {decoded:?}");
        assert_eq!(decoded.into_iter().collect::<BTreeSet<_>>(), want, "{language}");
    }
}

#[test]
fn a_batch_manifest_lists_the_batch_parcels_of_that_carrier_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(&dir.path().join("spool.db")).unwrap();
    let labels = vec![
        NewDocument::label("dock-1", order("my-jnt-cod", 21)),
        NewDocument::label("dock-1", order("sg-ninjavan", 22)),
        NewDocument::label("dock-1", order("ph-jnt", 23)),
    ];
    let batch = spool.submit_batch(NewBatch { id: "B-MF".into(), printer: "dock-1".into(), picklist: None, labels, chunk_size: 50, release: Default::default() }).unwrap();
    for (_, a) in &batch.documents {
        print(&spool, a.document);
    }
    // Printed outside the batch: not on the batch's manifest.
    let outside = submit(&spool, order("my-jnt-cod", 24));
    print(&spool, outside);
    let m = Manifest::from_spool(&spool, &["J&T Express".into()], Handover::Pickup, HandoverScope::Batch("B-MF".into()), OffsetDateTime::now_utc()).unwrap();
    let got: Vec<&str> = m.sections[0].parcels.iter().map(|p| p.order_id.as_str()).collect();
    assert_eq!(got, ["MF-0021", "MF-0023"]);
    assert_eq!(m.sections[0].totals.weight_g, 900);
    // The model itself holds nothing a buyer wrote.
    let dump = format!("{m:?}");
    for secret in buyer_strings() {
        assert!(!dump.contains(&secret), "buyer data {secret:?} in the manifest model");
    }
}

/// `GET /v1/manifests` and `labeld manifest` against a running daemon: the printed J&T pick-ups,
/// a 400 naming each bad parameter, and the CLI writing what the API serves.
#[test]
fn the_daemon_serves_manifests_over_http_and_the_cli_fetches_them() {
    use crate::common::http;
    use crate::daemon::{start_with, vp, wait_until};
    use std::time::Duration;

    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start_with(&[("dock-1", "zebra-zd421-203", printer.addr())], "");
    let submit = |o: &Order| {
        let body = serde_json::json!({ "printer": "dock-1", "order": o });
        let resp = http::post_json(d.addr, "/v1/jobs", body.to_string().as_bytes());
        assert_eq!(resp.status, 202, "{}", resp.text());
    };
    let (jnt, other) = (order("my-jnt-cod", 31), order("sg-ninjavan", 32));
    submit(&jnt);
    submit(&other);
    wait_until("both labels printed", Duration::from_secs(30), || {
        let v = http::get(d.addr, "/v1/jobs?state=done").json();
        v["documents"].as_array().is_some_and(|a| a.len() == 2)
    });
    let since = (OffsetDateTime::now_utc() - time::Duration::hours(1)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let base = format!("/v1/manifests?carrier=J%26T%20Express&handover=pickup&since={}", since.replace('+', "%2B"));

    let pdf = http::get(d.addr, &base);
    assert_eq!(pdf.status, 200, "{}", pdf.text());
    assert_eq!((pdf.header("content-type"), pdf.header("x-manifest-parcels")), (Some("application/pdf"), Some("1")));
    assert!(pdf.body.starts_with(b"%PDF-"));
    let png = http::get(d.addr, &format!("{base}&format=png&paper=letter"));
    assert_eq!((png.status, png.header("content-type"), png.header("x-manifest-pages")), (200, Some("image/png"), Some("1")));
    let zpl = http::get(d.addr, &format!("{base}&format=zpl"));
    assert_eq!(zpl.status, 200);
    let pages = lang::labels(lang::decode_all(Language::Zpl, 203, &zpl.body).unwrap());
    assert_eq!(pages.len(), 1);
    assert_eq!(code128s(&pages[0]), [jnt.shipment.tracking_number.as_str()]);

    for (query, field) in [
        ("/v1/manifests?handover=pickup&since=2026-12-06T00:00:00Z", "carrier"),
        ("/v1/manifests?carrier=UPS&handover=truck&since=2026-12-06T00:00:00Z", "handover"),
        ("/v1/manifests?carrier=UPS&handover=pickup&since=today", "since"),
        ("/v1/manifests?carrier=UPS&handover=pickup&since=2026-12-06T00:00:00Z&format=docx", "format"),
        ("/v1/manifests?carrier=UPS&handover=pickup&since=2026-12-06T00:00:00Z&buyer=1", "buyer"),
    ] {
        let resp = http::get(d.addr, query);
        assert_eq!((resp.status, resp.json()["error"]["field"].as_str()), (400, Some(field)), "{query}: {}", resp.text());
    }
    let none = http::get(d.addr, "/v1/manifests?carrier=UPS&handover=pickup&batch=NO-SUCH");
    assert_eq!((none.status, none.json()["error"]["field"].as_str()), (404, Some("batch")));

    // Closing the handover over HTTP: each bad field named, then the parcel ticked off.
    let close = |body: serde_json::Value| http::post_json(d.addr, "/v1/handovers", body.to_string().as_bytes());
    let good = serde_json::json!({"carrier": "J&T Express", "handover": "pickup", "since": since, "scanned": [jnt.shipment.tracking_number, "X1"], "by": "Siti"});
    for (field, bad) in [("by", serde_json::json!(null)), ("scanned", serde_json::json!("X1")), ("handover", serde_json::json!("van")), ("buyer", serde_json::json!("x"))] {
        let mut body = good.clone();
        if bad.is_null() {
            body.as_object_mut().unwrap().remove(field);
        } else {
            body[field] = bad;
        }
        let resp = close(body);
        assert_eq!((resp.status, resp.json()["error"]["field"].as_str()), (400, Some(field)), "{}", resp.text());
    }
    let closed = close(good);
    assert_eq!(closed.status, 201, "{}", closed.text());
    let v = closed.json();
    assert_eq!((v["handed_over"][0].as_str(), v["unknown"][0].as_str(), v["by"].as_str()), (Some(jnt.shipment.tracking_number.as_str()), Some("X1"), Some("Siti")));
    let json = http::get(d.addr, &format!("{base}&format=json")).json();
    assert!(json["sections"][0]["parcels"][0]["handed_over_at"].is_string(), "{json}");

    // The CLI writes what the API serves, and names a bad parameter the daemon refused.
    let file = out.path().join("jnt.zpl");
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_labeld"))
        .args(["manifest", "--carrier", "J&T Express", "--format", "zpl", "--server", &format!("http://{}", d.addr), "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    let written = std::fs::read(&file).unwrap();
    let pages = lang::labels(lang::decode_all(Language::Zpl, 203, &written).unwrap());
    assert_eq!(code128s(&pages[0]), [jnt.shipment.tracking_number.as_str()]);
    assert!(String::from_utf8_lossy(&cli.stderr).contains("1 parcel(s)"), "{}", String::from_utf8_lossy(&cli.stderr));
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_labeld"))
        .args(["manifest", "--carrier", "UPS", "--batch", "NO-SUCH", "--server", &format!("http://{}", d.addr), "-o"])
        .arg(out.path().join("x.pdf"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains("[batch]") && err.contains("NO-SUCH"), "{err}");
    assert!(!out.path().join("x.pdf").exists());
}

/// Closing a handover ticks off what was scanned (once), and writes who, when and what was missing
/// into the audit log of each parcel's labels; scans twice or not on the manifest are reported.
#[test]
fn closing_a_handover_records_who_when_and_what_was_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, want) = warehouse_day(dir.path());
    let now = OffsetDateTime::now_utc();
    let scope = HandoverScope::Window { since: now - time::Duration::hours(1), until: now + time::Duration::hours(1) };
    let want: Vec<String> = want.into_iter().collect();
    let scanned = vec![want[0].clone(), format!(" {} ", want[1]), want[0].clone(), "NOT-OURS-1".to_string()];
    assert!(matches!(spool.close_handover("J&T Express", Handover::Pickup, &scope, &scanned, "  ", now), Err(labeld::spool::SpoolError::Invalid(m)) if m.starts_with("by:")));
    let closed = spool.close_handover("j&t express", Handover::Pickup, &scope, &scanned, "Siti (packer) to Ali (J&T)", now).unwrap();
    assert_eq!(closed.carrier, "J&T Express");
    let mut handed = closed.handed_over.clone();
    handed.sort();
    assert_eq!(handed, want[..2]);
    assert_eq!(closed.missing.iter().map(|m| m.tracking_number.as_str()).collect::<Vec<_>>(), [want[2].as_str()]);
    assert_eq!((closed.scanned_twice.clone(), closed.unknown.clone()), (vec![want[0].clone()], vec!["NOT-OURS-1".to_string()]));

    let labels_of = |tracking: &str| {
        spool
            .list(&labeld::spool::Filter { tracking_number: Some(tracking.to_string()), ..Default::default() })
            .unwrap()
            .into_iter()
            .filter(|d| matches!(d.state, labeld::spool::State::Sent | labeld::spool::State::Done))
            .collect::<Vec<_>>()
    };
    for t in &want[..2] {
        for d in labels_of(t) {
            assert!(d.handed_over_at.is_some(), "{t}");
            let h = spool.history(d.id).unwrap();
            let row = h.iter().find(|a| a.action == "handover").unwrap_or_else(|| panic!("{t}: {h:?}"));
            assert!(row.detail.as_deref().unwrap().contains("Siti (packer) to Ali (J&T)"), "{row:?}");
        }
    }
    let missing = labels_of(&want[2]);
    assert!(missing.iter().all(|d| d.handed_over_at.is_none()));
    let h = spool.history(missing[0].id).unwrap();
    assert!(h.iter().any(|a| a.action == "handover_missing" && a.detail.as_deref().unwrap().contains("still in the warehouse")), "{h:?}");
    // The manifest now shows them as handed over; a second close does not move the first tick.
    let first = spool.document(labels_of(&want[0])[0].id).unwrap().handed_over_at;
    spool.close_handover("J&T Express", Handover::Pickup, &scope, &want, "later", now + time::Duration::minutes(5)).unwrap();
    assert_eq!(spool.document(labels_of(&want[0])[0].id).unwrap().handed_over_at, first);
}
