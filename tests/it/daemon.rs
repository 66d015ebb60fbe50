//! The daemon end to end on loopback: HTTP submit → worker → virtual printer → PNG, printer faults,
//! a link dropped mid-label, a SIGKILL mid-batch, and buyer data kept out of logs and events.

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::http;
use crate::common::process::{Daemon, free_port};
use labeld::daemon::{self, Setup};
use labeld::lang::Language;
use labeld::order::Order;
use labeld::printer::profile::Profiles;
use labeld::virtual_printer::{Config as VpConfig, Fault, VirtualPrinter};

pub(crate) fn batch(n: usize) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(common::fixtures().join("batches/batch-50.jsonl")).unwrap();
    text.lines().filter(|l| !l.trim().is_empty()).take(n).map(|l| serde_json::from_str(l).unwrap()).collect()
}

pub(crate) fn config_text(printers: &[(&str, &str, SocketAddr)], listen: &str) -> String {
    let mut t = format!("[server]\nlisten = \"{listen}\"\n\n[spool]\npath = \"spool.db\"\n");
    for (name, driver, addr) in printers {
        t.push_str(&format!("\n[[printer]]\nname = \"{name}\"\ndriver = \"{driver}\"\nuri = \"tcp://{addr}\"\n"));
    }
    t
}

/// A daemon in-process on its own runtime; dropped with the test.
pub(crate) struct InProcess {
    pub(crate) addr: SocketAddr,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(printers: &[(&str, &str, SocketAddr)]) -> InProcess {
    start_config(&config_text(printers, "127.0.0.1:0"), None)
}

/// [`start`] with more config sections (`extra` is appended to the file).
pub(crate) fn start_with(printers: &[(&str, &str, SocketAddr)], extra: &str) -> InProcess {
    start_config(&(config_text(printers, "127.0.0.1:0") + extra), None)
}

/// A daemon in-process with this config text; `connect` replaces how it opens printer links.
pub(crate) fn start_config(config: &str, connect: Option<labeld::transport::Connector>) -> InProcess {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labeld.toml");
    std::fs::write(&path, config).unwrap();
    let profiles = Profiles::builtin();
    let config = daemon::load_config(&path, &profiles).unwrap();
    let mut setup = Setup::new(config, profiles).unwrap();
    if let Some(c) = connect {
        setup.connect = c;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(daemon::run(
            setup,
            move |a| tx.send(a).unwrap(),
            async move {
                let _ = stop_rx.await;
            },
        ))
        .unwrap();
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    InProcess { addr, _dir: dir, stop: Some(stop_tx), thread: Some(thread) }
}

pub(crate) fn vp(lang: Language, dir: &Path, faults: &[Fault]) -> VirtualPrinter {
    let mut c = VpConfig::new(lang, 203, dir);
    for f in faults {
        c = c.with_fault(f.clone());
    }
    VirtualPrinter::spawn(c, "127.0.0.1:0".parse().unwrap()).unwrap()
}

pub(crate) fn submit(addr: SocketAddr, printer: &str, orders: &[serde_json::Value]) -> serde_json::Value {
    let body = serde_json::json!({ "printer": printer, "orders": orders });
    let resp = http::post_json(addr, "/v1/jobs", body.to_string().as_bytes());
    assert_eq!(resp.status, 202, "{}", resp.text());
    resp.json()
}

/// Documents by state, from the API.
pub(crate) fn states(addr: SocketAddr, printer: &str) -> BTreeMap<String, usize> {
    let v = http::get(addr, &format!("/v1/jobs?printer={printer}&limit=1000")).json();
    let mut out = BTreeMap::new();
    for d in v["documents"].as_array().unwrap() {
        *out.entry(d["state"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    out
}

pub(crate) fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

pub(crate) fn settled(s: &BTreeMap<String, usize>, n: usize) -> bool {
    ["done", "held", "failed", "in_doubt", "cancelled"].iter().map(|k| s.get(*k).copied().unwrap_or(0)).sum::<usize>() == n
}

/// Every documented route is served by the daemon: not the fallback, not "method not allowed" (a
/// preview-only server has only the shared ones, tests/it/http.rs).
#[test]
fn the_daemon_serves_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, dir.path(), &[]);
    let d = start(&[("dock-1", "zebra-zd421-203", printer.addr())]);
    for r in labeld::server::ROUTES {
        // Ids no document has, so nothing is changed.
        let path = r.path.replace("{id}", "999999").replace("{name}", "none");
        if path == "/v1/events" {
            // The stream never ends: its status line is the answer.
            let mut s = std::net::TcpStream::connect(d.addr).unwrap();
            write!(s, "GET /v1/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n", d.addr).unwrap();
            let mut line = [0u8; 12];
            s.read_exact(&mut line).unwrap();
            assert_eq!(&line, b"HTTP/1.1 200");
            continue;
        }
        let resp = http::request(d.addr, r.method, &path, &[("Content-Type", "application/json")], b"{}");
        assert_ne!(resp.status, 405, "{} {}", r.method, r.path);
        if resp.status == 404 {
            assert_ne!(resp.json()["error"]["code"], "no_such_route", "{} {} is documented but not routed", r.method, r.path);
        }
    }
    let missing = http::get(d.addr, "/v1/nope");
    assert_eq!((missing.status, missing.json()["error"]["code"].as_str()), (404, Some("no_such_route")));
}

/// Issue 13 defect 5: a preview applies the rules printing applies, the spool's duplicate rule included.
#[test]
fn render_refuses_a_tracking_number_already_printed_for_another_order() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start(&[("dock-1", "zebra-zd421-203", printer.addr())]);
    let order: serde_json::Value = serde_json::from_slice(&std::fs::read(common::fixtures().join("orders/my-jnt-cod.json")).unwrap()).unwrap();
    let resp = http::post_json(d.addr, "/v1/jobs", serde_json::json!({ "printer": "dock-1", "order": order }).to_string().as_bytes());
    assert_eq!(resp.status, 202, "{}", resp.text());
    assert_eq!(printer.wait_for_saved(1, Duration::from_secs(30)), 1);
    // The order itself still previews; another order with its tracking number does not.
    let same = http::post_json(d.addr, "/v1/render", order.to_string().as_bytes());
    assert_eq!(same.status, 200, "{}", same.text());
    let mut other = order.clone();
    other["order_id"] = "574831017900715999".into();
    let resp = http::post_json(d.addr, "/v1/render", other.to_string().as_bytes());
    assert_eq!(resp.status, 422, "{}", resp.text());
    let body = resp.json();
    let rules: Vec<&str> = body["error"]["detail"]["refusals"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["duplicate_tracking_number"]);
}

#[test]
fn submit_over_http_prints_a_png_at_the_printer() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start(&[("dock-1", "zebra-zd421-203", printer.addr())]);
    let order: serde_json::Value = serde_json::from_slice(&std::fs::read(common::fixtures().join("orders/my-jnt-cod.json")).unwrap()).unwrap();
    let body = serde_json::json!({ "printer": "dock-1", "order": order });
    let resp = http::post_json(d.addr, "/v1/jobs", body.to_string().as_bytes());
    assert_eq!(resp.status, 202, "{}", resp.text());
    let job = resp.json()["job"].as_i64().unwrap();
    assert_eq!(printer.wait_for_saved(1, Duration::from_secs(30)), 1);
    wait_until("the job to be done", Duration::from_secs(10), || {
        http::get(d.addr, &format!("/v1/jobs/{job}")).json()["documents"][0]["state"] == "done"
    });
    let png = labeld::render::png::decode(&std::fs::read(&printer.saved()[0]).unwrap()).unwrap();
    assert!(png.width() > 700 && png.height() > 1100, "{}x{}", png.width(), png.height());
    // The same order again is the same document (idempotency), not a second label.
    let again = http::post_json(d.addr, "/v1/jobs", body.to_string().as_bytes()).json();
    assert_eq!(again["documents"][0]["outcome"], "duplicate");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(printer.saved().len(), 1);
}

#[test]
fn bad_input_names_the_field_and_unknown_printers_are_404() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start(&[("dock-1", "zebra-zd421-203", printer.addr())]);
    let mut orders = batch(4);
    orders[3].as_object_mut().unwrap().remove("items");
    let body = serde_json::json!({ "printer": "dock-1", "orders": orders });
    let resp = http::post_json(d.addr, "/v1/jobs", body.to_string().as_bytes());
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(resp.json()["error"]["field"].as_str().unwrap().starts_with("orders[3].items"), "{}", resp.text());
    let body = serde_json::json!({ "printer": "nope", "order": batch(1)[0] });
    assert_eq!(http::post_json(d.addr, "/v1/jobs", body.to_string().as_bytes()).status, 404);
    let resp = http::post_json(d.addr, "/v1/documents/1/reprint", b"{}");
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["error"]["field"], "reason");
    // Nothing reached the printer.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(printer.saved().len(), 0);
}

#[test]
fn paper_out_pauses_the_queue_and_it_resumes_when_paper_is_loaded() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[Fault::PaperOutAfter(2)]);
    let d = start(&[("dock-1", "zebra-zd421-203", printer.addr())]);
    let orders = batch(6);
    submit(d.addr, "dock-1", &orders);
    wait_until("paper_out over HTTP", Duration::from_secs(60), || {
        http::get(d.addr, "/v1/printers/dock-1").json()["state"] == "paper_out"
    });
    let held_back = states(d.addr, "dock-1");
    assert!(!settled(&held_back, 6), "the queue should be paused, not drained: {held_back:?}");
    assert_eq!(printer.saved().len(), 2);
    printer.load_paper().unwrap();
    wait_until("the rest to print", Duration::from_secs(60), || settled(&states(d.addr, "dock-1"), 6));
    let s = states(d.addr, "dock-1");
    let done = s.get("done").copied().unwrap_or(0);
    std::thread::sleep(Duration::from_millis(300));
    // Each printable label exactly once; paper-out neither dropped nor repeated any.
    assert_eq!(printer.saved().len(), done, "{s:?}");
    assert_eq!(s.get("in_doubt"), None, "{s:?}");
    assert!(done >= 5, "{s:?}");
}

#[test]
fn a_link_dropped_mid_label_is_in_doubt_and_not_resent() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[Fault::DropAfterBytes(2000)]);
    let d = start(&[("dock-1", "zebra-zd421-203", printer.addr())]);
    let job = submit(d.addr, "dock-1", &batch(1));
    let doc = job["documents"][0]["document"].as_i64().unwrap();
    wait_until("in_doubt", Duration::from_secs(60), || states(d.addr, "dock-1").get("in_doubt") == Some(&1));
    std::thread::sleep(Duration::from_secs(2));
    let list = http::get(d.addr, "/v1/jobs?state=in_doubt").json();
    let entry = &list["documents"][0];
    assert_eq!(entry["id"].as_i64(), Some(doc));
    assert_eq!(entry["attempts"], 1, "sent once, never silently again: {entry}");
    assert_eq!(states(d.addr, "dock-1").get("in_doubt"), Some(&1));
}

// ---- the real binary, killed mid-batch ----

fn spawn_binary(config: &Path, log: &Path) -> Daemon {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_labeld"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    Daemon { child, log: log.to_path_buf() }
}


fn wait_for_http(addr: SocketAddr, d: &mut Daemon) {
    wait_until("the daemon to listen", Duration::from_secs(60), || {
        if let Ok(Some(status)) = d.child.try_wait() {
            panic!("labeld exited with {status}: {}", std::fs::read_to_string(&d.log).unwrap_or_default());
        }
        std::net::TcpStream::connect(addr).is_ok()
    });
}

#[test]
fn logs_written_to_a_file_carry_no_colour_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.path().join("labeld.toml");
    std::fs::write(&config, config_text(&[], &addr.to_string())).unwrap();
    let log = dir.path().join("labeld.log");
    let child = Command::new(env!("CARGO_BIN_EXE_labeld"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut d = Daemon { child, log: log.clone() };
    wait_for_http(addr, &mut d);
    assert_eq!(http::get(addr, "/healthz").status, 200);
    wait_until("the request to be logged", Duration::from_secs(10), || std::fs::read_to_string(&log).unwrap().contains("/healthz"));
    drop(d);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("listening"), "{text}");
    assert!(!text.contains('\x1b'), "ANSI escapes in a log file:\n{}", text.escape_debug());
}

/// Reads the SSE stream for `for_how_long`, returning what arrived.
fn read_sse(addr: SocketAddr, stop: std::sync::mpsc::Receiver<()>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        write!(s, "GET /v1/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            if stop.try_recv().is_ok() {
                break;
            }
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    })
}

fn buyer_strings(orders: &[serde_json::Value]) -> Vec<String> {
    let mut out = Vec::new();
    for o in orders {
        let order = Order::from_json_bytes(o.to_string().as_bytes()).unwrap();
        for (path, text) in order.text_fields() {
            if path.starts_with("recipient") && text.trim().len() >= 6 {
                out.push(text.trim().to_string());
            }
        }
    }
    out
}

/// How many saved labels carry each tracking number (read from the PNG's barcode), and how many
/// saved labels have no readable barcode.
pub(crate) fn tracking_counts(printer: &VirtualPrinter) -> (BTreeMap<String, usize>, usize) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut unread = 0;
    for p in printer.saved() {
        let raster = labeld::render::png::decode(&std::fs::read(&p).unwrap()).unwrap();
        match labeld::barcode::verify::read_code128(&raster) {
            Some(code) => *counts.entry(code).or_default() += 1,
            None => unread += 1,
        }
    }
    (counts, unread)
}

#[test]
fn sigkill_mid_batch_then_restart_prints_every_label_once_and_leaks_no_buyer_data() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("png");
    // Slow enough that the batch is still printing when the daemon is killed.
    let printer = vp(Language::Zpl, &out, &[Fault::Slow(200_000)]);
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = work.path().join("labeld.toml");
    std::fs::write(&config, config_text(&[("dock-1", "zebra-zd421-203", printer.addr())], &addr.to_string())).unwrap();
    let log = work.path().join("labeld.log");
    let orders = batch(12);

    let mut first = spawn_binary(&config, &log);
    wait_for_http(addr, &mut first);
    let (sse_stop, sse_rx) = std::sync::mpsc::channel();
    let sse = read_sse(addr, sse_rx);
    submit(addr, "dock-1", &orders);
    assert!(printer.wait_for_saved(2, Duration::from_secs(60)) >= 2, "nothing printed before the kill");
    // SIGKILL: no chance to tidy up.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let _ = sse_stop.send(());
    let events = sse.join().unwrap();
    let at_kill = printer.saved().len();

    let mut second = spawn_binary(&config, &log);
    wait_for_http(addr, &mut second);
    wait_until("the batch to settle after the restart", Duration::from_secs(120), || settled(&states(addr, "dock-1"), orders.len()));
    std::thread::sleep(Duration::from_millis(500));
    let s = states(addr, "dock-1");
    let done = s.get("done").copied().unwrap_or(0);
    let in_doubt = s.get("in_doubt").copied().unwrap_or(0);
    let saved = printer.saved().len();
    eprintln!("at kill: {at_kill} PNGs; after restart: {saved} PNGs; states {s:?}");
    // Every done label printed; an in-doubt one may or may not have; nothing printed twice.
    assert!(saved >= done && saved <= done + in_doubt, "{saved} PNGs for {s:?}");
    // And per tracking number, read from each saved label's barcode: exactly once each.
    let (per_tracking, unread) = tracking_counts(&printer);
    assert_eq!(unread, 0, "every saved label's tracking barcode reads: {per_tracking:?}");
    assert_eq!(per_tracking.values().sum::<usize>(), saved, "{per_tracking:?}");
    assert!(per_tracking.values().all(|&n| n == 1), "{per_tracking:?}");
    drop(second);

    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("printed"), "debug logs were captured");
    assert!(events.contains("event: job"), "events were captured: {events}");
    for text in buyer_strings(&orders) {
        assert!(!logs.contains(&text), "buyer data {text:?} in the daemon's logs");
        assert!(!events.contains(&text), "buyer data {text:?} in the event stream");
    }
}

#[test]
fn sigterm_finishes_the_label_being_sent_and_a_restart_prints_the_rest_once() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("png");
    // A slow link, so the stop arrives while labels are still queued.
    let printer = vp(Language::Zpl, &out, &[Fault::Slow(100_000)]);
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = work.path().join("labeld.toml");
    std::fs::write(&config, config_text(&[("dock-1", "zebra-zd421-203", printer.addr())], &addr.to_string())).unwrap();
    let log = work.path().join("labeld.log");
    let orders = batch(10);

    let mut first = spawn_binary(&config, &log);
    wait_for_http(addr, &mut first);
    submit(addr, "dock-1", &orders);
    assert!(printer.wait_for_saved(1, Duration::from_secs(60)) >= 1, "nothing printed before the stop");
    let stopped = Command::new("kill").args(["-TERM", &first.child.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = first.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "labeld did not stop within 60 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "SIGTERM is a clean stop, got {status}: {}", std::fs::read_to_string(&log).unwrap_or_default());
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("stopped"), "the daemon logged its clean stop");
    let at_stop = printer.saved().len();
    assert!(at_stop < orders.len(), "the stop came before the batch finished ({at_stop} printed), so the test proves something");

    let mut second = spawn_binary(&config, &log);
    wait_for_http(addr, &mut second);
    wait_until("the rest of the batch to print", Duration::from_secs(120), || {
        states(addr, "dock-1").get("done").copied().unwrap_or(0) == orders.len()
    });
    let s = states(addr, "dock-1");
    // A clean stop leaves nothing in doubt: the label on the wire was finished, the rest went back to the queue.
    assert_eq!(s.get("in_doubt"), None, "{s:?}");
    assert!(printer.wait_for_saved(orders.len(), Duration::from_secs(30)) == orders.len());
    std::thread::sleep(Duration::from_millis(300));
    let (per_tracking, unread) = tracking_counts(&printer);
    assert_eq!(unread, 0, "every saved label's tracking barcode reads: {per_tracking:?}");
    eprintln!("printed before SIGTERM: {at_stop}; after restart: {}", printer.saved().len());
    assert_eq!(per_tracking.len(), orders.len(), "{per_tracking:?}");
    assert!(per_tracking.values().all(|&n| n == 1), "a label printed twice: {per_tracking:?}");
}

#[test]
fn test_print_goes_through_the_queue_in_order_and_previews_show_what_was_sent() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start(&[("dock-1", "zebra-zd421-203", printer.addr())]);
    // Paused, so the two labels and the test page queue up and print in the order asked.
    assert_eq!(http::post_json(d.addr, "/v1/printers/dock-1/pause", b"").status, 200);
    let labels = submit(d.addr, "dock-1", &batch(2));
    let resp = http::post_json(d.addr, "/v1/printers/dock-1/test-print", b"");
    assert_eq!(resp.status, 202, "{}", resp.text());
    let tp = resp.json();
    let tp_doc = tp["documents"][0]["document"].as_i64().unwrap();
    let tp_job = tp["job"].as_i64().unwrap();
    assert_eq!(tp["documents"][0]["state"], "queued");
    // Asking again is a second page, not a duplicate.
    let again = http::post_json(d.addr, "/v1/printers/dock-1/test-print", b"").json();
    assert_eq!(again["documents"][0]["outcome"], "new");
    let second_tp = again["documents"][0]["document"].as_i64().unwrap();
    assert_eq!(http::post_json(d.addr, &format!("/v1/documents/{second_tp}/cancel"), b"").json()["state"], "cancelled");
    // Before it prints, the preview is the page drawn from the profile.
    let profile = Profiles::builtin().get("zebra-zd421-203").unwrap();
    let expected = labeld::compose::test_page::render(&labeld::compose::test_page::TestPage::for_profile(&profile), common::fonts());
    let early = http::get(d.addr, &format!("/v1/documents/{tp_doc}/preview.png"));
    assert_eq!(early.status, 200, "{}", early.text());
    assert_eq!(early.header("cache-control"), Some("no-store"));
    assert!(labeld::lang::same_raster(&expected, &labeld::render::png::decode(&early.body).unwrap()));

    assert_eq!(http::post_json(d.addr, "/v1/printers/dock-1/resume", b"").status, 200);
    assert_eq!(printer.wait_for_saved(3, Duration::from_secs(60)), 3);
    wait_until("the test page to be done", Duration::from_secs(10), || {
        http::get(d.addr, &format!("/v1/jobs/{tp_job}")).json()["documents"][0]["state"] == "done"
    });
    let doc = http::get(d.addr, &format!("/v1/jobs/{tp_job}")).json()["documents"][0].clone();
    assert_eq!(doc["kind"], "test_page");
    assert!(doc["order_id"].is_null() && doc["tracking_number"].is_null(), "{doc}");
    let saved = printer.saved();
    let third = labeld::render::png::decode(&std::fs::read(&saved[2]).unwrap()).unwrap();
    assert!(labeld::lang::same_raster(&expected, &third), "the printer got the test page, after the two labels");
    for p in &saved[..2] {
        let raster = labeld::render::png::decode(&std::fs::read(p).unwrap()).unwrap();
        assert!(labeld::barcode::verify::read_code128(&raster).is_some(), "{} is a label", p.display());
    }
    // After printing, a preview decodes the stored printer bytes: the label exactly as saved.
    let first = labels["documents"][0]["document"].as_i64().unwrap();
    let png = http::get(d.addr, &format!("/v1/documents/{first}/preview.png"));
    assert_eq!(png.status, 200, "{}", png.text());
    let shown = labeld::render::png::decode(&png.body).unwrap();
    let printed = labeld::render::png::decode(&std::fs::read(&saved[0]).unwrap()).unwrap();
    assert!(labeld::lang::same_raster(&printed, &shown));
    // The cancelled second page never printed; a done one cannot be cancelled.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(printer.saved().len(), 3);
    let resp = http::post_json(d.addr, &format!("/v1/documents/{first}/cancel"), b"");
    assert_eq!(resp.status, 409, "{}", resp.text());
    assert_eq!(http::get(d.addr, "/v1/documents/999/preview.png").status, 404);
    assert_eq!(http::post_json(d.addr, "/v1/printers/nope/test-print", b"").status, 404);
}

/// A batch check on a daemon looks its tracking numbers up in the spool at once: a number already
/// on another order's label is a duplicate, the order's own label is not.
#[test]
fn a_batch_check_finds_tracking_numbers_already_in_the_spool() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start(&[("dock-1", "zebra-zd421-203", printer.addr())]);
    let orders = batch(3);
    submit(d.addr, "dock-1", &orders[..1]);
    let mut other = orders[1].clone();
    other["shipment"]["tracking_number"] = orders[0]["shipment"]["tracking_number"].clone();
    // The duplicate comes first: only the spool knows the number is taken.
    let body = serde_json::json!({ "orders": [other, orders[0], orders[2]] });
    let resp = http::post_json(d.addr, "/v1/check", body.to_string().as_bytes());
    assert_eq!(resp.status, 200, "{}", resp.text());
    let results = resp.json()["results"].as_array().unwrap().clone();
    let printable: Vec<bool> = results.iter().map(|r| r["printable"].as_bool().unwrap()).collect();
    assert_eq!(printable, [false, true, true], "{results:?}");
    assert_eq!(results[0]["report"]["refusals"][0]["rule"], "duplicate_tracking_number");
    // The single-order check agrees.
    let single = http::post_json(d.addr, "/v1/check", other.to_string().as_bytes()).json();
    assert_eq!(single["report"], results[0]["report"]);
}
