//! Marketplace document jobs end to end: `POST /v1/jobs` with `"kind": "document"` (base64 or a URL on a
//! loopback server) → spool → worker → the virtual printer's PNGs, each label page's tracking barcode read
//! back with zbarimg; bad input refused with the field named and nothing stored; idempotency, holds,
//! duplicates and reprints as for labels.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;

use crate::common::{self, http};
use crate::daemon::{start_with, vp, wait_until};
use labeld::lang::Language;

fn docs_dir() -> std::path::PathBuf {
    common::fixtures().join("docs")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(docs_dir().join(name)).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".png") { "image/png" } else { "application/pdf" }
}

/// The fixture documents that print on a 4-inch head without `fit = "scale"`, with their tracking numbers.
fn printable() -> Vec<(String, String)> {
    let all: BTreeMap<String, String> = serde_json::from_slice(&fixture("manifest.json")).unwrap();
    let refused = ["a5-label.pdf", "letter.pdf", "thin-bars.pdf"];
    all.into_iter().filter(|(f, _)| !refused.contains(&f.as_str())).collect()
}

fn job(order_id: &str, tracking: &str, ct: &str, data: &str) -> serde_json::Value {
    serde_json::json!({
        "printer": "dock-1", "kind": "document", "order_id": order_id, "tracking_number": tracking,
        "document": { "content_type": ct, "data": data },
    })
}

fn post(addr: SocketAddr, body: &serde_json::Value) -> http::Response {
    http::post_json(addr, "/v1/jobs", body.to_string().as_bytes())
}

fn document(addr: SocketAddr, id: i64) -> serde_json::Value {
    http::get(addr, &format!("/v1/jobs?limit=1000")).json()["documents"].as_array().unwrap().iter().find(|d| d["id"] == id).cloned().unwrap()
}

fn wait_state(addr: SocketAddr, id: i64, state: &str) -> serde_json::Value {
    wait_until(&format!("document {id} to be {state}"), Duration::from_secs(60), || document(addr, id)["state"] == state);
    document(addr, id)
}

/// Every Code 128 zbarimg reads from the virtual printer's saved labels.
fn read_back(paths: &[std::path::PathBuf]) -> Vec<String> {
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    common::zbar::code128(&refs)
}

#[test]
fn every_fixture_document_prints_over_http_and_its_tracking_barcode_reads_back_from_the_printer() {
    let zbar = common::zbar::available("every_fixture_document_prints_over_http").is_some();
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start_with(&[("dock-1", "zebra-zd421-203", printer.addr())], "");
    let mut pages = 0;
    for (file, tn) in printable() {
        let before = printer.saved().len();
        let resp = post(d.addr, &job(&format!("ORD-{file}"), &tn, content_type(&file), &b64(&fixture(&file))));
        assert_eq!(resp.status, 202, "{file}: {}", resp.text());
        let id = resp.json()["documents"][0]["document"].as_i64().unwrap();
        let doc = wait_state(d.addr, id, "done");
        assert_eq!((doc["kind"].as_str(), doc["tracking_number"].as_str()), (Some("document"), Some(tn.as_str())), "{doc}");
        let expect = if file == "label-slip.pdf" { 2 } else { 1 };
        pages += expect;
        assert_eq!(printer.wait_for_saved(pages, Duration::from_secs(30)), pages, "{file}");
        let new: Vec<_> = printer.saved()[before..].to_vec();
        if zbar {
            let codes = read_back(&new);
            assert!(codes.contains(&tn), "{file}: zbarimg read {codes:?} from the printed pages, not {tn}");
        }
    }
}

#[test]
fn bad_documents_are_refused_naming_the_field_and_nothing_is_stored_or_printed() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start_with(&[("dock-1", "zebra-zd421-203", printer.addr())], "\n[documents]\nmax_bytes = 250000\n");
    let pdf = "application/pdf";
    let mut cases: Vec<(String, serde_json::Value, &str, &str)> = Vec::new();
    for bad in std::fs::read_dir(docs_dir().join("bad")).unwrap() {
        let path = bad.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        cases.push((name, job("O1", "T1", pdf, &b64(&bytes)), "document.data", "document_unreadable"));
    }
    let png = fixture("label-203.png");
    cases.push(("not base64".into(), job("O1", "T1", pdf, "%%% not base64 %%%"), "document.data", "invalid"));
    cases.push(("a gif".into(), job("O1", "T1", "image/gif", &b64(&png)), "document.content_type", "invalid"));
    cases.push(("a PNG called a PDF".into(), job("O1", "T1", pdf, &b64(&png)), "document.data", "content_mismatch"));
    let mut no_tracking = job("O1", "T1", pdf, "");
    no_tracking.as_object_mut().unwrap().remove("tracking_number");
    cases.push(("no tracking number".into(), no_tracking, "tracking_number", "missing"));
    let mut stray = job("O1", "T1", "image/png", &b64(&png));
    stray["document"]["colour"] = "red".into();
    cases.push(("an unknown field".into(), stray, "document.colour", "unknown_field"));
    let mut both = job("O1", "T1", "image/png", &b64(&png));
    both["document"]["url"] = "https://example.com/a.png".into();
    cases.push(("data and url".into(), both, "document.url", "invalid"));
    let big = b64(&vec![b'%'; 300_000]);
    cases.push(("over max_bytes".into(), job("O1", "T1", pdf, &big), "document.data", "too_large"));
    for (what, body, field, code) in &cases {
        let resp = post(d.addr, body);
        assert_eq!(resp.status, 400, "{what}: {}", resp.text());
        let e = &resp.json()["error"];
        assert_eq!((e["field"].as_str(), e["code"].as_str()), (Some(*field), Some(*code)), "{what}: {e}");
        assert!(e["message"].as_str().unwrap().len() > 10, "{what}: {e}");
    }
    // A body over the server's limit is refused before it is read.
    let huge = job("O1", "T1", pdf, &"A".repeat(labeld::server::MAX_BODY + 10));
    assert_eq!(post(d.addr, &huge).status, 413);
    // Nothing was stored, nothing printed, and the daemon still takes a good document.
    assert_eq!(http::get(d.addr, "/v1/jobs").json()["documents"].as_array().unwrap().len(), 0);
    let ok = post(d.addr, &job("O2", "TH0123456789A", "image/png", &b64(&png)));
    assert_eq!(ok.status, 202, "{}", ok.text());
    assert_eq!(printer.wait_for_saved(1, Duration::from_secs(30)), 1);
}

#[test]
fn a_document_is_idempotent_held_when_it_is_not_this_parcels_and_reprints_from_its_stored_bytes() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start_with(&[("dock-1", "zebra-zd421-203", printer.addr())], "");
    let a6 = b64(&fixture("a6-label.pdf"));
    let first = post(d.addr, &job("A6-1", "JX2345678901VN", "application/pdf", &a6));
    assert_eq!(first.status, 202, "{}", first.text());
    let id = first.json()["documents"][0]["document"].as_i64().unwrap();
    assert_eq!(first.json()["documents"][0]["key"], "document:A6-1:JX2345678901VN");
    wait_state(d.addr, id, "done");
    // The same document again prints once.
    let again = post(d.addr, &job("A6-1", "JX2345678901VN", "application/pdf", &a6)).json();
    assert_eq!((again["documents"][0]["outcome"].as_str(), again["documents"][0]["document"].as_i64()), (Some("duplicate"), Some(id)));
    // The same key with other bytes is a conflict, not a guess.
    let other = post(d.addr, &job("A6-1", "JX2345678901VN", "application/pdf", &b64(&fixture("a6-wide.pdf"))));
    assert_eq!((other.status, other.json()["error"]["code"].as_str()), (409, Some("key_conflict")), "{}", other.text());

    // The wrong label for this parcel: held with the reason, and its preview is the page as judged.
    let wrong = post(d.addr, &job("A6-2", "JX0000000000VN", "application/pdf", &b64(&fixture("a6-wide.pdf")))).json();
    let wrong_id = wrong["documents"][0]["document"].as_i64().unwrap();
    let held = wait_state(d.addr, wrong_id, "held");
    assert_eq!(held["report"]["hold"]["reason"], "document_tracking_mismatch", "{held}");
    assert_eq!(held["report"]["hold"]["pages"][0]["role"], "slip", "{held}");
    let preview = http::get(d.addr, &format!("/v1/documents/{wrong_id}/preview.png"));
    assert_eq!(preview.status, 200, "{}", preview.text());
    let image = labeld::render::png::decode(&preview.body).unwrap();
    assert!(image.count_black() > 1000);

    // A page with no barcode at all.
    let blank = labeld::render::png::encode(&labeld::bitmap::Bitmap::new(812, 1218), 203);
    let none = post(d.addr, &job("BLANK-1", "BLANK0000001", "image/png", &b64(&blank))).json();
    let held = wait_state(d.addr, none["documents"][0]["document"].as_i64().unwrap(), "held");
    assert_eq!(held["report"]["hold"]["reason"], "document_barcode_unreadable", "{held}");

    // A reprint prints the stored bytes again.
    let saved = printer.saved().len();
    let resp = http::post_json(d.addr, &format!("/v1/documents/{id}/reprint"), br#"{"reason": "smudged"}"#);
    assert_eq!(resp.status, 202, "{}", resp.text());
    let copy = resp.json()["id"].as_i64().unwrap();
    wait_state(d.addr, copy, "done");
    assert_eq!(printer.wait_for_saved(saved + 1, Duration::from_secs(30)), saved + 1);

    // A tracking number already printed, on another order: a duplicate, as for labels.
    let dup = post(d.addr, &job("A6-3", "JX2345678901VN", "application/pdf", &a6)).json();
    let held = wait_state(d.addr, dup["documents"][0]["document"].as_i64().unwrap(), "held");
    assert_eq!(held["report"]["refusals"][0]["rule"], "duplicate_tracking_number", "{held}");
}

/// A loopback HTTP server for one file: counts requests, and can wait before answering.
struct FileServer {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

fn serve(body: Vec<u8>, delay: Duration) -> FileServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                std::thread::sleep(delay);
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            });
        }
    });
    FileServer { addr, hits }
}

fn url_job(order_id: &str, tracking: &str, url: &str) -> serde_json::Value {
    serde_json::json!({
        "printer": "dock-1", "kind": "document", "order_id": order_id, "tracking_number": tracking,
        "document": { "content_type": "application/pdf", "url": url },
    })
}

#[test]
fn a_url_is_fetched_once_from_an_allowed_host_within_the_limits_and_reprints_never_fetch_again() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start_with(
        &[("dock-1", "zebra-zd421-203", printer.addr())],
        "\n[documents]\nallowed_hosts = [\"127.0.0.1\"]\nmax_bytes = 100000\nfetch_timeout = \"1s\"\n",
    );
    let label = fixture("4x6-label.pdf");
    let server = serve(label.clone(), Duration::ZERO);
    let url = format!("http://127.0.0.1:{}/docs/label.pdf?sig=secret", server.addr.port());
    let resp = post(d.addr, &url_job("URL-1", "1Z999AA10123456784", &url));
    assert_eq!(resp.status, 202, "{}", resp.text());
    let id = resp.json()["documents"][0]["document"].as_i64().unwrap();
    wait_state(d.addr, id, "done");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    // A reprint prints the stored bytes: no second fetch.
    let resp = http::post_json(d.addr, &format!("/v1/documents/{id}/reprint"), br#"{"reason": "torn"}"#);
    assert_eq!(resp.status, 202, "{}", resp.text());
    wait_state(d.addr, resp.json()["id"].as_i64().unwrap(), "done");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1, "a reprint fetched the URL again");

    // Not allowed: named, and never asked.
    let other = format!("http://localhost:{}/docs/label.pdf", server.addr.port());
    let resp = post(d.addr, &url_job("URL-2", "1Z999AA10123456784", &other));
    let e = resp.json()["error"].clone();
    assert_eq!((resp.status, e["field"].as_str(), e["code"].as_str()), (400, Some("document.url"), Some("host_not_allowed")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("\"localhost\""), "{e}");
    assert!(!e["message"].as_str().unwrap().contains("secret"));
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    // Too big and too slow.
    let big = serve(vec![b'%'; 150_000], Duration::ZERO);
    let resp = post(d.addr, &url_job("URL-3", "T3", &format!("http://127.0.0.1:{}/big.pdf", big.addr.port())));
    assert_eq!((resp.status, resp.json()["error"]["code"].as_str()), (400, Some("too_large")), "{}", resp.text());
    let slow = serve(label, Duration::from_secs(3));
    let resp = post(d.addr, &url_job("URL-4", "T4", &format!("http://127.0.0.1:{}/slow.pdf", slow.addr.port())));
    assert_eq!((resp.status, resp.json()["error"]["code"].as_str()), (400, Some("fetch_failed")), "{}", resp.text());
    assert!(resp.json()["error"]["message"].as_str().unwrap().contains("fetch_timeout"), "{}", resp.text());
    // Only the first document was ever stored.
    let listed = http::get(d.addr, "/v1/jobs?limit=100").json();
    let orders: Vec<&str> = listed["documents"].as_array().unwrap().iter().map(|d| d["order_id"].as_str().unwrap()).collect();
    assert!(orders.iter().all(|o| *o == "URL-1"), "{orders:?}");
}

#[test]
fn a_stored_document_survives_a_restart_bit_for_bit_and_purge_drops_it() {
    use labeld::spool::{DocumentFile, MarketDocument, NewDocument, Spool, StoredContent};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spool.db");
    let bytes = fixture("label-slip.pdf");
    let sha = labeld::spool::sha256_hex(&bytes);
    let id = {
        let spool = Spool::open(&path).unwrap();
        let file = DocumentFile::new("application/pdf", bytes.clone(), None);
        let doc = MarketDocument { order_id: "R-1".into(), tracking_number: "TT7788990011ID".into(), file, part: labeld::marketdoc::Part::Whole };
        spool.submit(vec![NewDocument::document("dock-1", doc)]).unwrap().documents[0].document
        // Dropped without a clean close, as after a kill.
    };
    let spool = Spool::open(&path).unwrap();
    let StoredContent::Document(d) = spool.content(id).unwrap() else { panic!("not a document") };
    assert_eq!((d.file.sha256.as_str(), d.file.bytes.as_slice()), (sha.as_str(), bytes.as_slice()));
    // A document whose stored bytes were changed on disk is refused, not printed.
    spool_corrupt(&path, &sha);
    let spool = Spool::open(&path).unwrap();
    assert!(spool.content(id).unwrap_err().to_string().contains("SHA-256"));
    // Done and past retention: the file goes with the content.
    for step in [labeld::spool::State::Rendering, labeld::spool::State::Ready] {
        match step {
            labeld::spool::State::Rendering => spool.claim(id).unwrap(),
            _ => spool.mark_ready_and_sending(id, b"^XA^XZ", "zpl").unwrap(),
        }
    }
    spool.mark_sent(id).unwrap();
    spool.mark_done(id).unwrap();
    assert_eq!(spool.purge(time::OffsetDateTime::now_utc() + Duration::from_secs(3600), Duration::from_secs(60)).unwrap(), 1);
    drop(spool);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let files: i64 = conn.query_row("SELECT count(*) FROM document_files", [], |r| r.get(0)).unwrap();
    assert_eq!(files, 0);
}

fn spool_corrupt(path: &std::path::Path, sha: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute("UPDATE document_files SET bytes = x'255044462d' WHERE sha256 = ?1", [sha]).unwrap();
}

/// A document batch file: one line per fixture, the file named relative to the batch file, bins in the
/// reverse of the file order so the walking order is visible.
fn batch_file(dir: &std::path::Path) -> (std::path::PathBuf, Vec<(String, String)>) {
    let docs = printable();
    let n = docs.len();
    let lines: Vec<String> = docs
        .iter()
        .enumerate()
        .map(|(i, (file, tn))| {
            std::fs::copy(docs_dir().join(file), dir.join(file)).unwrap();
            serde_json::json!({
                "kind": "document", "order_id": format!("B-{i:02}"), "tracking_number": tn,
                "document": { "content_type": content_type(file), "file": file },
                "items": [{ "sku": "SKU", "bin": format!("A-{:02}-01", n - i) }],
            })
            .to_string()
        })
        .collect();
    let path = dir.join("documents.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (path, docs)
}

#[test]
fn labeld_batch_prints_a_document_batch_in_walking_order_and_a_bad_item_is_named() {
    let zbar = common::zbar::available("labeld_batch_prints_a_document_batch").is_some();
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start_with(&[("dock-1", "zebra-zd421-203", printer.addr())], "");
    // Over HTTP, a bad item stores nothing and is named by its place.
    let png = b64(&fixture("label-203.png"));
    let body = serde_json::json!({ "printer": "dock-1", "documents": [
        { "order_id": "H-0", "tracking_number": "TH0123456789A", "document": { "content_type": "image/png", "data": png } },
        { "order_id": "H-1", "tracking_number": "T2", "document": { "content_type": "image/png", "data": "!!" } },
    ]});
    let resp = post(d.addr, &body);
    let e = resp.json()["error"].clone();
    assert_eq!((resp.status, e["field"].as_str()), (400, Some("documents[1].document.data")), "{e}");
    assert_eq!(http::get(d.addr, "/v1/jobs").json()["documents"].as_array().unwrap().len(), 0);

    let work = tempfile::tempdir().unwrap();
    let (path, docs) = batch_file(work.path());
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_labeld"))
        .args(["batch", path.to_str().unwrap(), "--printer", "dock-1", "--server", &format!("http://{}", d.addr), "--batch-id", "DOCS-1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}\n{}", String::from_utf8_lossy(&run.stdout));
    assert!(stderr.contains(&format!("{} documents in 1 chunk(s)", docs.len())), "{stderr}");
    // Walking order: the bins run backwards through the file, so the batch prints last line first.
    let batch = http::get(d.addr, "/v1/batches/DOCS-1").json();
    let order: Vec<String> = batch["documents"].as_array().unwrap().iter().map(|m| m["order_id"].as_str().unwrap().to_string()).collect();
    let expected: Vec<String> = (0..docs.len()).rev().map(|i| format!("B-{i:02}")).collect();
    assert_eq!(order, expected);
    let pages = docs.len() + 1; // label-slip.pdf has two pages
    assert_eq!(printer.wait_for_saved(pages, Duration::from_secs(30)), pages);
    if zbar {
        let read = read_back(&printer.saved());
        for (file, tn) in &docs {
            assert!(read.contains(tn), "{file}: {tn} not read back ({read:?})");
        }
    }
    // The same batch again prints nothing twice.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_labeld"))
        .args(["batch", path.to_str().unwrap(), "--printer", "dock-1", "--server", &format!("http://{}", d.addr), "--batch-id", "DOCS-1"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(printer.saved().len(), pages);
}

#[test]
fn packing_slips_print_on_the_slips_printer_and_labels_on_the_jobs_printer() {
    let zbar = common::zbar::available("packing_slips_print_on_the_slips_printer").is_some();
    let (dock_dir, desk_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dock = vp(Language::Zpl, dock_dir.path(), &[]);
    let desk = vp(Language::Zpl, desk_dir.path(), &[]);
    let d = start_with(
        &[("dock-1", "zebra-zd421-203", dock.addr()), ("desk-2", "zebra-zd421-203", desk.addr())],
        "\n[documents]\nslips = \"desk-2\"\n",
    );
    let resp = post(d.addr, &job("SLIP-1", "TT7788990011ID", "application/pdf", &b64(&fixture("label-slip.pdf"))));
    assert_eq!(resp.status, 202, "{}", resp.text());
    let id = resp.json()["documents"][0]["document"].as_i64().unwrap();
    wait_state(d.addr, id, "done");
    assert_eq!(dock.wait_for_saved(1, Duration::from_secs(30)), 1);
    assert_eq!(desk.wait_for_saved(1, Duration::from_secs(30)), 1);
    let slip_doc = http::get(d.addr, "/v1/jobs?printer=desk-2").json()["documents"][0].clone();
    assert_eq!((slip_doc["kind"].as_str(), slip_doc["key"].as_str()), (Some("document"), Some("document:SLIP-1:TT7788990011ID#slips")), "{slip_doc}");
    wait_state(d.addr, slip_doc["id"].as_i64().unwrap(), "done");
    if zbar {
        assert!(read_back(&dock.saved()).contains(&"TT7788990011ID".to_string()), "the label page went to the job's printer");
        assert!(!read_back(&desk.saved()).contains(&"TT7788990011ID".to_string()), "the slip printer got the label page");
    }
    // A document without slips prints whole on its own printer; nothing more goes to the slips printer.
    let resp = post(d.addr, &job("SLIP-2", "JX2345678901VN", "application/pdf", &b64(&fixture("a6-label.pdf"))));
    wait_state(d.addr, resp.json()["documents"][0]["document"].as_i64().unwrap(), "done");
    assert_eq!(dock.wait_for_saved(2, Duration::from_secs(30)), 2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(desk.saved().len(), 1);
}
