//! Scan-to-print at the packing bench, end to end: the real `labeld serve` with virtual printers on
//! loopback. A batch submitted with `"release": "on_scan"` is rendered and checked at once (a refused
//! order shows as held before anyone scans) and then waits; nothing reaches a label printer until a
//! packer scans. Scans by order id and by a single-item order's SKU print exactly that label on the
//! bench's printer, read back from what the printer received with zbarimg; a second scan prints
//! nothing and says "already printed #n"; a reprint with a reason prints one more; unknown codes
//! are flagged. A `kill -9` of the daemon between submit and scan keeps every label waiting. The
//! pick list's Code 128s decode (zbarimg) to exactly the batch's printable order ids, on the thermal
//! pick list the printer got and on the PDF one.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::http;
use crate::daemon::{vp, wait_until};
use crate::common::process::{Daemon, free_port};
use labeld::lang::Language;
use labeld::virtual_printer::VirtualPrinter;

/// `labeld serve` on `config`, listening at `addr`.
fn start(config: &Path, addr: SocketAddr, log: &Path) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_labeld"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap())
        .spawn()
        .unwrap();
    let mut d = Daemon { child, log: log.to_path_buf() };
    wait_until("the daemon to listen", Duration::from_secs(60), || {
        if let Ok(Some(status)) = d.child.try_wait() {
            panic!("labeld exited with {status}: {}", std::fs::read_to_string(&d.log).unwrap_or_default());
        }
        std::net::TcpStream::connect(addr).is_ok()
    });
    d
}

/// A fixture order made into a parcel of its own: its id, tracking number, items and deadline.
fn order(id: &str, tracking: &str, items: Value, ship_by: &str, note: Option<&str>) -> Value {
    let mut o: Value = serde_json::from_slice(&std::fs::read(common::fixtures().join("orders/my-jnt-cod.json")).unwrap()).unwrap();
    o["order_id"] = json!(id);
    o["shipment"]["tracking_number"] = json!(tracking);
    o["items"] = items;
    o["ship_by"] = json!(ship_by);
    o["created_at"] = json!("2026-12-01T08:00:00Z");
    if let Some(n) = note {
        o["label_note"] = json!(n);
    }
    o
}

fn solo(sku: &str) -> Value {
    json!([{"sku": sku, "name": "Phone stand", "bin": "C-01-01", "qty": 1}])
}

fn scan(addr: SocketAddr, code: &str, printer: Option<&str>) -> Value {
    let mut body = json!({ "code": code });
    if let Some(p) = printer {
        body["printer"] = json!(p);
    }
    let r = http::post_json(addr, "/v1/scans", body.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// The label documents of the batch, by order id.
fn labels(addr: SocketAddr, batch: &str) -> Vec<Value> {
    let p = http::get(addr, &format!("/v1/batches/{batch}")).json();
    p["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| http::get(addr, &format!("/v1/jobs?order_id={}", d["order_id"].as_str().unwrap())).json()["documents"][0].clone())
        .collect()
}

/// The tracking number zbarimg reads off each label a virtual printer saved, in the order they
/// came (a label also carries its order id as a Code 128, which must be the order's too).
fn printed_codes(printer: &VirtualPrinter) -> Vec<String> {
    printer
        .saved()
        .iter()
        .map(|p| {
            let mut codes = common::zbar::code128(&[p.as_path()]);
            codes.sort();
            assert_eq!(codes.len(), 2, "{}: {codes:?}", p.display());
            let tracking = codes.remove(0);
            let order_id = order_of(&tracking);
            assert_eq!(codes, [order_id], "{}: the order id barcode", p.display());
            tracking
        })
        .collect()
}

/// The test's orders are numbered alike: tracking 6358287704NN belongs to order SCAN-?-10NN.
fn order_of(tracking: &str) -> String {
    let n = &tracking[tracking.len() - 2..];
    let letter = match n {
        "01" => "A",
        "02" => "B",
        "03" => "C",
        _ => "D",
    };
    format!("SCAN-{letter}-10{n}")
}

#[test]
fn on_scan_batch_waits_then_prints_each_label_at_the_bench() {
    if common::zbar::available("on_scan_batch_waits_then_prints_each_label_at_the_bench").is_none() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // dock-1 takes the batch; bench-2 has the same kind of printer (the stored bytes go there as
    // they are); bench-3 speaks TSPL (the label is rendered again for it); office prints pick lists.
    let dock = vp(Language::Zpl, &w.join("dock-1"), &[]);
    let bench2 = vp(Language::Zpl, &w.join("bench-2"), &[]);
    let bench3 = vp(Language::Tspl, &w.join("bench-3"), &[]);
    let office = vp(Language::Zpl, &w.join("office"), &[]);
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut config = format!("[server]\nlisten = \"{addr}\"\n\n[spool]\npath = \"{}\"\n", w.join("spool.db").display());
    for (name, driver, role, at) in [
        ("dock-1", "zebra-zd421-203", "label", dock.addr()),
        ("bench-2", "zebra-zd421-203", "label", bench2.addr()),
        ("bench-3", "tsc-te200", "label", bench3.addr()),
        ("office", "zebra-zd421-203", "picklist", office.addr()),
    ] {
        config.push_str(&format!("\n[[printer]]\nname = \"{name}\"\ndriver = \"{driver}\"\nrole = \"{role}\"\nuri = \"tcp://{at}\"\n"));
    }
    let config_path = w.join("labeld.toml");
    std::fs::write(&config_path, config).unwrap();
    let log = w.join("labeld.log");
    let mut daemon = start(&config_path, addr, &log);

    // A: two items (by order id only). B and C: one unit of the same SKU, C due first. D: refused
    // by a rule, which shows at once.
    let orders = vec![
        order("SCAN-A-1001", "635828770401", json!([{"sku": "AC-057-WH", "name": "Laptop sleeve", "bin": "A-03-02", "qty": 2}, {"sku": "AC-004-BK", "name": "Phone case", "bin": "B-04-05", "qty": 1}]), "2026-12-20T08:00:00Z", None),
        order("SCAN-B-1002", "635828770402", solo("ST-900-GY"), "2026-12-22T08:00:00Z", None),
        order("SCAN-C-1003", "635828770403", solo("ST-900-GY"), "2026-12-21T08:00:00Z", None),
        order("SCAN-D-1004", "635828770404", solo("ST-100-BK"), "2026-12-21T08:00:00Z", Some("Add us on WhatsApp +60 12-888 1234 for 10% off")),
    ];
    let body = json!({"printer": "dock-1", "orders": orders, "picklist": true, "batch_id": "BENCH-1", "release": "on_scan"});
    let r = http::post_json(addr, "/v1/jobs", body.to_string().as_bytes());
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["release"], "on_scan");
    // A wrong release is named by its field.
    let bad = http::post_json(addr, "/v1/jobs", json!({"printer": "dock-1", "orders": [orders[0].clone()], "release": "later"}).to_string().as_bytes());
    assert_eq!((bad.status, bad.json()["error"]["field"].as_str()), (400, Some("release")), "{}", bad.text());

    // Rendered and checked ahead: three labels wait (ready, scan awaiting), the bad one is held.
    wait_until("the labels to be checked", Duration::from_secs(60), || {
        let ls = labels(addr, "BENCH-1");
        ls.iter().filter(|d| d["state"] == "ready" && d["scan"] == "awaiting").count() == 3 && ls.iter().any(|d| d["state"] == "held")
    });
    wait_until("the pick list", Duration::from_secs(60), || http::get(addr, "/v1/batches/BENCH-1").json()["picklist"]["result"] == "printed");
    std::thread::sleep(Duration::from_millis(300));
    let pages = office.saved();
    let mut on_list = common::zbar::code128(&pages.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    on_list.sort();
    assert_eq!(on_list, ["SCAN-A-1001", "SCAN-B-1002", "SCAN-C-1003"], "the thermal pick list's order barcodes (the held order has none)");
    assert!(dock.saved().is_empty(), "nothing prints before its scan");

    // kill -9 between submit and scan: everything still waits, and nothing printed.
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    drop(daemon);
    let daemon = start(&config_path, addr, &log);
    let ls = labels(addr, "BENCH-1");
    assert_eq!(ls.iter().filter(|d| d["state"] == "ready" && d["scan"] == "awaiting").count(), 3, "{ls:#?}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(dock.saved().is_empty() && bench2.saved().is_empty() && bench3.saved().is_empty());

    // Scan the order id from the pick list at bench-2: exactly that label prints there.
    let a = scan(addr, "SCAN-A-1001", Some("bench-2"));
    assert_eq!((a["result"].as_str(), a["matched"].as_str(), a["printer"].as_str()), (Some("printing"), Some("order_id"), Some("bench-2")), "{a}");
    wait_until("A on bench-2", Duration::from_secs(30), || bench2.saved().len() == 1);
    assert_eq!(printed_codes(&bench2), ["635828770401"]);

    // Again: nothing prints, and the answer says how often it did.
    let again = scan(addr, "SCAN-A-1001", Some("bench-2"));
    assert_eq!((again["result"].as_str(), again["printed"].as_u64()), (Some("already_printed"), Some(1)), "{again}");
    assert!(again["message"].as_str().unwrap().starts_with("Already printed #1"), "{again}");

    // A SKU of two waiting single-item orders: the one due first (C), on the TSPL bench.
    let c = scan(addr, "ST-900-GY", Some("bench-3"));
    assert_eq!((c["result"].as_str(), c["matched"].as_str(), c["order_id"].as_str(), c["still_waiting"].as_u64()), (Some("printing"), Some("sku"), Some("SCAN-C-1003"), Some(1)), "{c}");
    wait_until("C on bench-3", Duration::from_secs(30), || bench3.saved().len() == 1);
    assert_eq!(printed_codes(&bench3), ["635828770403"]);
    // The next one of that SKU is B, on the batch's own printer (no printer named).
    let b = scan(addr, "ST-900-GY", None);
    assert_eq!((b["result"].as_str(), b["order_id"].as_str(), b["printer"].as_str()), (Some("printing"), Some("SCAN-B-1002"), Some("dock-1")), "{b}");
    wait_until("B on dock-1", Duration::from_secs(30), || dock.saved().len() == 1);
    assert_eq!(printed_codes(&dock), ["635828770402"]);
    // No single-item order of that SKU waits any more.
    assert_eq!(scan(addr, "ST-900-GY", None)["result"], "unknown");

    // Unknown codes and the refused order are flagged; none prints.
    let unknown = scan(addr, "NO-SUCH-9999", Some("bench-2"));
    assert_eq!((unknown["result"].as_str(), unknown["matched"].as_str()), (Some("unknown"), None), "{unknown}");
    assert!(unknown["message"].as_str().unwrap().contains("Nothing matches NO-SUCH-9999"));
    let d = scan(addr, "SCAN-D-1004", Some("bench-2"));
    assert_eq!(d["result"], "not_printable", "{d}");
    let no_printer = http::post_json(addr, "/v1/scans", br#"{"code": "SCAN-A-1001", "printer": "nowhere"}"#);
    assert_eq!(no_printer.status, 404);
    let extra = http::post_json(addr, "/v1/scans", br#"{"code": "SCAN-A-1001", "bench": "2"}"#);
    assert_eq!((extra.status, extra.json()["error"]["field"].as_str()), (400, Some("bench")));

    // The explicit reprint, with its reason, is the way to a second label: logged, and counted.
    let id = a["documents"][0]["id"].as_i64().unwrap();
    let r = http::post_json(addr, &format!("/v1/documents/{id}/reprint"), br#"{"reason": "label torn at the bench", "printer": "bench-2"}"#);
    assert_eq!(r.status, 202, "{}", r.text());
    wait_until("the reprint on bench-2", Duration::from_secs(30), || bench2.saved().len() == 2);
    assert_eq!(printed_codes(&bench2), ["635828770401", "635828770401"]);
    wait_until("the reprint to count", Duration::from_secs(10), || scan(addr, "SCAN-A-1001", None)["printed"] == 2);

    std::thread::sleep(Duration::from_millis(300));
    assert_eq!((dock.saved().len(), bench2.saved().len(), bench3.saved().len()), (1, 2, 1), "each label exactly once, plus the one reprint");

    // The spool's history says who released what, where; the scan was committed before the print.
    let spool = labeld::spool::Spool::open(&w.join("spool.db")).unwrap();
    let h = spool.history(id).unwrap();
    let scan_at = h.iter().position(|e| e.action == "scan" && e.detail.as_deref() == Some("released by a scan at bench-2")).expect("scan audited");
    let sent_at = h.iter().position(|e| e.to.as_deref() == Some("sending")).expect("sent");
    assert!(scan_at < sent_at, "{h:#?}");
    drop(spool);

    // No buyer data in the daemon's log.
    drop(daemon);
    let logs = std::fs::read_to_string(&log).unwrap();
    for o in &orders {
        let order = labeld::order::Order::from_json_value(o.clone()).unwrap();
        for (path, text) in order.text_fields() {
            if path.starts_with("recipient") && text.trim().len() >= 6 {
                assert!(!logs.contains(text.trim()), "buyer data in the log: {path}");
            }
        }
    }
}

/// `labeld batch --release on_scan` submits, waits until every label was checked, says which wait
/// for their scan, and returns.
#[test]
fn cli_batch_on_scan_reports_the_labels_waiting() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let dock = vp(Language::Zpl, &w.join("dock-1"), &[]);
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = format!(
        "[server]\nlisten = \"{addr}\"\n\n[spool]\npath = \"{}\"\n\n[[printer]]\nname = \"dock-1\"\ndriver = \"zebra-zd421-203\"\nuri = \"tcp://{}\"\n",
        w.join("spool.db").display(),
        dock.addr()
    );
    std::fs::write(w.join("labeld.toml"), config).unwrap();
    let _daemon = start(&w.join("labeld.toml"), addr, &w.join("labeld.log"));
    let lines = [
        order("CLI-S-1", "635828770501", solo("ST-900-GY"), "2026-12-21T08:00:00Z", None),
        order("CLI-S-2", "635828770502", solo("ST-900-GY"), "2026-12-22T08:00:00Z", None),
    ];
    let batch = w.join("bench.jsonl");
    std::fs::write(&batch, lines.iter().map(|o| o.to_string() + "\n").collect::<String>()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_labeld"))
        .args(["batch"])
        .arg(&batch)
        .args(["--printer", "dock-1", "--no-picklist", "--release", "on_scan", "--server", &format!("http://{addr}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("2 label(s) wait for their scan"), "{stdout}");
    assert_eq!(stdout.matches("waits for its scan").count(), 2, "{stdout}");
    assert!(dock.saved().is_empty());
}

/// The pick list as a PDF (what an office printer gets), drawn by poppler and read by zbarimg: one
/// Code 128 per order, exactly the batch's order ids.
#[test]
fn pdf_pick_list_barcodes_are_the_order_ids() {
    if !common::have("pdftoppm") {
        common::skip("LABELD_REQUIRE_DOC_TOOLS", "pdftoppm (Debian poppler-utils) is not installed");
        return;
    }
    if common::zbar::available("pdf_pick_list_barcodes_are_the_order_ids").is_none() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let batch = common::fixtures().join("batches/batch-50.jsonl");
    let pdf = work.path().join("picklist.pdf");
    let out = Command::new(env!("CARGO_BIN_EXE_labeld")).args(["picklist"]).arg(&batch).args(["--format", "pdf", "-o"]).arg(&pdf).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let drawn = Command::new("pdftoppm").args(["-r", "300", "-mono", "-png"]).arg(&pdf).arg(work.path().join("p")).status().unwrap();
    assert!(drawn.success());
    let mut pages: Vec<PathBuf> =
        std::fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "png")).collect();
    pages.sort();
    let refs: Vec<&Path> = pages.iter().map(PathBuf::as_path).collect();
    let mut decoded = common::zbar::code128(&refs);
    decoded.sort();
    let mut want: Vec<String> = std::fs::read_to_string(&batch)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["order_id"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(decoded, want);
}
