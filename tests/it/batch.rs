//! `labeld batch` end to end: the real `labeld serve` with virtual printers, the real `labeld batch`
//! submitting over HTTP. batch-50 plus one fixture order that breaks a rule: the pick list prints
//! first on the pick-list printer, 50 labels print in the pick list's walking order (read back from
//! each saved label's tracking barcode), the bad order is held and reported, and the exit status
//! says not everything printed.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::http;
use crate::daemon::wait_until;
use crate::common::process::{Daemon, free_port};
use labeld::comply::{Checker, SeenTracking};
use labeld::lang::Language;
use labeld::order::Order;
use labeld::bins::BinPattern;
use labeld::picklist::{self, PickList};
use labeld::virtual_printer::{Config as VpConfig, VirtualPrinter};

fn vp(lang: Language, dir: &Path) -> VirtualPrinter {
    VirtualPrinter::spawn(VpConfig::new(lang, 203, dir), "127.0.0.1:0".parse().unwrap()).unwrap()
}


/// `labeld serve` with `printers` as (name, driver, role, address).
fn serve(work: &Path, printers: &[(&str, &str, &str, SocketAddr)]) -> (Daemon, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut config = format!("[server]\nlisten = \"{addr}\"\n\n[spool]\npath = \"{}\"\n", work.join("spool.db").display());
    for (name, driver, role, at) in printers {
        config.push_str(&format!("\n[[printer]]\nname = \"{name}\"\ndriver = \"{driver}\"\nrole = \"{role}\"\nuri = \"tcp://{at}\"\n"));
    }
    let path = work.join("labeld.toml");
    std::fs::write(&path, config).unwrap();
    let log = work.join("labeld.log");
    let child = Command::new(env!("CARGO_BIN_EXE_labeld"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut d = Daemon { child, log };
    wait_until("the daemon to listen", Duration::from_secs(60), || {
        if let Ok(Some(status)) = d.child.try_wait() {
            panic!("labeld exited with {status}: {}", std::fs::read_to_string(&d.log).unwrap_or_default());
        }
        std::net::TcpStream::connect(addr).is_ok()
    });
    (d, addr)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `labeld batch ARGS` with stdout piped (not a terminal: one line per chunk, no bar).
fn labeld_batch(args: &[&str], timeout: Duration) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_labeld"))
        .arg("batch")
        .args(args)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let end = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("labeld batch did not finish: {}", std::fs::read_to_string(&out).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

fn batch_50_and_a_bad_order() -> (Vec<String>, Vec<Order>) {
    let text = std::fs::read_to_string(common::fixtures().join("batches/batch-50.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect();
    assert_eq!(lines.len(), 50);
    let bad: serde_json::Value = serde_json::from_slice(&std::fs::read(common::fixtures().join("orders-bad/note-with-url.json")).unwrap()).unwrap();
    assert_eq!(bad["expect"], "reject:hyperlink");
    // In the middle of the file, so a skipped order would shift everything after it.
    lines.insert(17, bad["order"].to_string());
    let orders = lines.iter().map(|l| Order::from_json_str(l).unwrap()).collect();
    (lines, orders)
}

#[test]
fn batch_prints_the_pick_list_then_labels_in_walking_order_and_reports_the_held_order() {
    let work = tempfile::tempdir().unwrap();
    let dock = vp(Language::Zpl, &work.path().join("dock"));
    let pick = vp(Language::Zpl, &work.path().join("pick"));
    let receipt = vp(Language::EscPos, &work.path().join("receipt"));
    let (daemon, addr) = serve(
        work.path(),
        &[
            ("dock-1", "zebra-zd421-203", "label", dock.addr()),
            ("pick-1", "zebra-zd421-203", "picklist", pick.addr()),
            ("receipt", "escpos-80mm", "label", receipt.addr()),
        ],
    );
    let (lines, orders) = batch_50_and_a_bad_order();
    let file = work.path().join("batch.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let run = labeld_batch(
        &[file.to_str().unwrap(), "--printer", "dock-1", "--server", &format!("http://{addr}")],
        Duration::from_secs(600),
    );
    eprintln!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.code, 1, "some order was held: exit 1");

    // 51 orders: chunk 1 holds 50, chunk 2 one; each reported once, in order.
    let chunk_lines: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("chunk ")).collect();
    assert_eq!(chunk_lines.len(), 2, "{chunk_lines:?}");
    assert!(chunk_lines[0].starts_with("chunk 1/2: ") && chunk_lines[1].starts_with("chunk 2/2: "), "{chunk_lines:?}");
    // One result per order; the bad one held with its rule and field, never skipped.
    for o in &orders {
        let line = run.stdout.lines().find(|l| l.starts_with(&o.order_id)).unwrap_or_else(|| panic!("no result for {}", o.order_id));
        if o.order_id == "574831017900715107" {
            assert!(line.contains("held: hyperlink at label_note"), "{line}");
        } else {
            assert!(line.contains(" printed"), "{line}");
        }
    }
    assert!(run.stdout.contains("50 printed, 1 held, 0 failed, 0 in doubt, 0 cancelled, of 51"), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l.starts_with("pick list PL-") && l.contains("printed on pick-1")), "{}", run.stdout);

    // The labels came out in the pick list's walking order: read each saved label's barcode.
    let held = picklist::held_orders(&orders, &Checker::new(None), &SeenTracking::new());
    assert_eq!(held.len(), 1);
    let list = PickList::build(&orders, held, &BinPattern::default(), "PL-test".into(), common::fixed_time());
    let tracking_of = |id: &str| orders.iter().find(|o| o.order_id == id).unwrap().shipment.tracking_number.clone();
    let expected: Vec<String> = list.orders.iter().map(|c| tracking_of(&c.order_id)).collect();
    assert_eq!(expected.len(), 50);
    let saved = dock.saved();
    let printed: Vec<String> = saved
        .iter()
        .map(|p| {
            let raster = labeld::render::png::decode(&std::fs::read(p).unwrap()).unwrap();
            labeld::barcode::verify::read_code128(&raster).unwrap_or_else(|| panic!("{} has no readable barcode", p.display()))
        })
        .collect();
    assert_eq!(printed, expected, "labels in walking order, each once, none for the held order");

    // The pick list printed on its own printer, as 100×150 pages with the batch id's QR code.
    let pages = pick.saved();
    assert!(!pages.is_empty());
    let first = labeld::render::png::decode(&std::fs::read(&pages[0]).unwrap()).unwrap();
    assert_eq!((first.width(), first.height()), (799, 1199));
    assert!(!labeld::barcode::verify::find_2d_codes(&first).is_empty(), "the batch id's QR code is on the pick list");

    // The API's view of the batch agrees: counts, chunks, the held document's rule and field.
    let id = run.stdout.lines().find_map(|l| l.strip_prefix("batch ")).and_then(|l| l.split(':').next()).unwrap().to_string();
    let b = http::get(addr, &format!("/v1/batches/{id}")).json();
    assert_eq!(b["complete"], true);
    assert_eq!(b["counts"]["printed"], 50);
    assert_eq!(b["counts"]["held"], 1);
    assert_eq!(b["chunk_counts"][0]["total"], 50);
    assert_eq!(b["chunk_counts"][1]["total"], 1);
    assert_eq!(b["picklist"]["result"], "printed");
    let docs = b["documents"].as_array().unwrap();
    assert!(docs[..50].iter().all(|d| d["chunk"] == 1) && docs[50]["chunk"] == 2);
    let bad = docs.iter().find(|d| d["order_id"] == "574831017900715107").unwrap();
    assert_eq!((bad["result"].as_str(), bad["rule"].as_str(), bad["field"].as_str()), (Some("held"), Some("hyperlink"), Some("label_note")));
    let doc = http::get(addr, &format!("/v1/jobs/{}", b["job"])).json();
    assert!(doc["documents"].as_array().unwrap().iter().all(|d| d["batch"] == id.as_str()));

    // Submitting the same batch again prints nothing twice.
    let again = labeld_batch(&[file.to_str().unwrap(), "--printer", "dock-1", "--server", &format!("http://{addr}")], Duration::from_secs(120));
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("submitted before"), "{}", again.stderr);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(dock.saved().len(), 50);

    // A pick list sent to a receipt printer (72 mm) cannot print 100 mm pages: it fails, saying so.
    let body = serde_json::json!({ "printer": "receipt", "kind": "picklist", "orders": lines[..3].iter().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).collect::<Vec<_>>() });
    let resp = http::post_json(addr, "/v1/jobs", body.to_string().as_bytes());
    assert_eq!(resp.status, 202, "{}", resp.text());
    let job = resp.json()["job"].as_i64().unwrap();
    let mut error = String::new();
    wait_until("the receipt pick list to fail", Duration::from_secs(60), || {
        let d = &http::get(addr, &format!("/v1/jobs/{job}")).json()["documents"][0];
        error = d["error"].as_str().unwrap_or_default().to_string();
        d["state"] == "failed"
    });
    assert!(error.contains("cannot print 100×150 mm pick list pages") && error.contains("576"), "{error}");
    assert!(receipt.saved().is_empty());

    // No buyer data in what the command printed or the daemon logged.
    drop(daemon);
    let logs = std::fs::read_to_string(work.path().join("labeld.log")).unwrap();
    for o in &orders {
        for text in std::iter::once(&o.recipient.name).chain(o.recipient.phone.as_ref()) {
            assert!(!run.stdout.contains(text.as_str()) && !run.stderr.contains(text.as_str()), "buyer data {text:?} in labeld batch's output");
            assert!(!logs.contains(text.as_str()), "buyer data {text:?} in the daemon's log");
        }
    }
}

#[test]
fn an_unreachable_daemon_or_a_bad_batch_file_exits_2_naming_what_is_wrong() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("batch.jsonl");
    std::fs::copy(common::fixtures().join("batches/batch-50.jsonl"), &file).unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let run = labeld_batch(&[file.to_str().unwrap(), "--printer", "dock-1", "--server", &url], Duration::from_secs(60));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("cannot reach the labeld daemon at {url}")), "{}", run.stderr);

    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("{\"order_id\": \"X\"}\n");
    std::fs::write(&file, text).unwrap();
    let run = labeld_batch(&[file.to_str().unwrap(), "--printer", "dock-1", "--server", &url], Duration::from_secs(60));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("batch.jsonl:51"), "the bad line is named: {}", run.stderr);
}

#[test]
fn batch_requests_are_checked_field_by_field_and_a_lone_printer_prints_the_pick_list_first() {
    let work = tempfile::tempdir().unwrap();
    let dock = vp(Language::Zpl, &work.path().join("dock"));
    let (_daemon, addr) = serve(work.path(), &[("dock-1", "zebra-zd421-203", "label", dock.addr())]);
    let (lines, _) = batch_50_and_a_bad_order();
    let orders: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let post = |body: serde_json::Value| http::post_json(addr, "/v1/jobs", body.to_string().as_bytes());

    let r = post(serde_json::json!({ "printer": "dock-1", "order": orders[0], "picklist": true }));
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("picklist")), "{}", r.text());
    let r = post(serde_json::json!({ "printer": "dock-1", "orders": &orders[..2], "batch_id": "no spaces" }));
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("batch_id")), "{}", r.text());
    let r = post(serde_json::json!({ "printer": "dock-1", "orders": &orders[..2], "picklist": true, "picklist_printer": "nope" }));
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(http::get(addr, "/v1/batches/nope").status, 404);

    // No printer has the picklist role: the pick list prints on the label printer, before the labels.
    let (sse_stop, sse_rx) = std::sync::mpsc::channel();
    let sse = read_sse(addr, sse_rx);
    std::thread::sleep(Duration::from_millis(300));
    let r = post(serde_json::json!({ "printer": "dock-1", "orders": &orders[..3], "picklist": true, "batch_id": "B-1" }));
    assert_eq!(r.status, 202, "{}", r.text());
    let answer = r.json();
    assert_eq!(answer["picklist_printer"], "dock-1");
    assert_eq!(answer["chunks"], 1);
    assert_eq!(answer["documents"][0]["chunk"], serde_json::Value::Null);
    assert_eq!(answer["documents"][1]["chunk"], 1);
    wait_until("the batch to complete", Duration::from_secs(120), || http::get(addr, "/v1/batches/B-1").json()["complete"] == true);
    std::thread::sleep(Duration::from_millis(300));
    let _ = sse_stop.send(());
    let events = sse.join().unwrap();
    let batch_events: Vec<&str> = events.lines().filter(|l| l.starts_with("data: ") && l.contains("\"type\":\"batch\"")).collect();
    assert!(batch_events.len() >= 2, "progress events for the batch: {events}");
    assert!(batch_events.iter().any(|e| e.contains("\"complete\":true")), "{batch_events:?}");
    assert!(batch_events.iter().all(|e| e.contains("\"batch\":\"B-1\"")));
    let saved = dock.saved();
    // Every pick-list page carries the batch's QR code; labels never do.
    let has_qr = |p: &PathBuf| !labeld::barcode::verify::find_2d_codes(&labeld::render::png::decode(&std::fs::read(p).unwrap()).unwrap()).is_empty();
    let pages = saved.iter().take_while(|p| has_qr(p)).count();
    assert!(pages >= 1, "the pick list came first");
    assert_eq!(saved.len() - pages, 3, "the pick list's {pages} page(s), then three labels");
    assert!(!saved[pages..].iter().any(has_qr), "labels carry no QR code");

    // The same id for other orders is a conflict, not a silent merge.
    let r = post(serde_json::json!({ "printer": "dock-1", "orders": &orders[3..5], "batch_id": "B-1" }));
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (409, Some("batch_conflict")), "{}", r.text());
}

/// Reads `/v1/events` until told to stop; returns what arrived.
fn read_sse(addr: SocketAddr, stop: std::sync::mpsc::Receiver<()>) -> std::thread::JoinHandle<String> {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        write!(s, "GET /v1/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        while stop.try_recv().is_err() {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    })
}
