//! The link and the printer's status as the worker sees them: a 9600-baud UART (a pacing link with a
//! 4 KB buffer drained at 960 B/s, since a bare pty buffers tens of KB and hides the line speed), a printer
//! that falls silent on status, one with no status channel at all, and a printer error right after a
//! label. Everything runs on loopback and a pty.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::http;
use crate::daemon::{batch, settled, start_config, states, submit, tracking_counts, vp, wait_until};
use labeld::lang::Language;
use labeld::transport::paced::Paced;
use labeld::transport::speed::SERIAL_BUFFER_BYTES;
use labeld::transport::{self, Connector, OpenOptions, Uri};
use labeld::virtual_printer::{Fault, PrinterError, VirtualPrinter};

/// Opens links as the daemon does, but a serial link behaves like a UART at its baud rate.
fn uart() -> Connector {
    Arc::new(|uri: &Uri| {
        let inner = transport::open(uri, OpenOptions::default())?;
        Ok(match uri {
            Uri::Serial { baud, .. } => Box::new(Paced::new(inner, baud.unwrap_or(9600) / 10, SERIAL_BUFFER_BYTES)),
            _ => inner,
        })
    })
}

fn printer_block(name: &str, driver: &str, uri: &str, extra: &str) -> String {
    format!("\n[[printer]]\nname = \"{name}\"\ndriver = \"{driver}\"\nuri = \"{uri}\"\n{extra}")
}

fn config(printers: &[String]) -> String {
    format!("[server]\nlisten = \"127.0.0.1:0\"\n\n[spool]\npath = \"spool.db\"\n{}", printers.concat())
}

fn with_pty(lang: Language, dir: &Path) -> (VirtualPrinter, String) {
    let mut p = vp(lang, dir, &[]);
    let pty = p.open_pty().unwrap();
    (p, format!("serial://{}?baud=9600", pty.display()))
}

#[test]
fn a_9600_baud_uart_prints_zpl_labels_once_and_holds_a_tspl_label_as_too_slow() {
    let work = tempfile::tempdir().unwrap();
    let (zpl, zpl_uri) = with_pty(Language::Zpl, &work.path().join("zpl"));
    let (tspl, tspl_uri) = with_pty(Language::Tspl, &work.path().join("tspl"));
    let text = config(&[printer_block("zpl-9600", "zebra-zd421-203", &zpl_uri, ""), printer_block("tspl-9600", "tsc-te200", &tspl_uri, "")]);
    let d = start_config(&text, Some(uart()));
    // About 13.5 KB of ZPL each: 14 s a label at 960 B/s. The TSPL bitmap is 118 KB: two minutes.
    submit(d.addr, "zpl-9600", &batch(3));
    submit(d.addr, "tspl-9600", &batch(4)[3..]);
    wait_until("three ZPL labels at 9600 baud", Duration::from_secs(240), || settled(&states(d.addr, "zpl-9600"), 3));
    let s = states(d.addr, "zpl-9600");
    assert_eq!(s.get("done"), Some(&3), "{s:?}");
    // The last label's tail may still be on the line when its send is done.
    assert_eq!(zpl.wait_for_saved(3, Duration::from_secs(30)), 3);
    let (counts, unread) = tracking_counts(&zpl);
    assert_eq!(unread, 0);
    assert_eq!(counts.len(), 3, "three labels, each once: {counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");

    wait_until("the TSPL label to settle", Duration::from_secs(30), || settled(&states(d.addr, "tspl-9600"), 1));
    let list = http::get(d.addr, "/v1/jobs?printer=tspl-9600").json();
    let doc = &list["documents"][0];
    match doc["state"].as_str() {
        Some("done") => assert_eq!(tspl.saved().len(), 1),
        Some("held") => {
            let hold = &doc["report"]["hold"];
            assert_eq!(hold["reason"], "link_too_slow", "{doc}");
            assert_eq!(hold["baud"], 9600, "{doc}");
            assert_eq!(hold["bytes_per_second"], 960, "{doc}");
            assert!(hold["bytes"].as_u64().unwrap() > 60 * 960, "{doc}");
            assert!(hold["seconds"].as_f64().unwrap() > 60.0, "{doc}");
            assert!(hold["message"].as_str().unwrap().contains("baud"), "{doc}");
            assert_eq!(tspl.bytes_received() as usize, tspl_status_bytes(&tspl), "not a label byte went out");
        }
        other => panic!("the TSPL label must print or be held as link_too_slow, not {other:?}: {doc}"),
    }
}

/// Bytes the TSPL printer received that were status queries (3 bytes each), none of a label.
fn tspl_status_bytes(p: &VirtualPrinter) -> usize {
    p.events().iter().filter(|e| matches!(e, labeld::virtual_printer::Event::Answered { .. })).count() * 3
}

fn printer_state(addr: std::net::SocketAddr, name: &str) -> serde_json::Value {
    http::get(addr, &format!("/v1/printers/{name}")).json()
}

#[test]
fn a_printer_that_falls_silent_pauses_the_queue_and_resumes_when_it_answers() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[]);
    let d = start_config(&config(&[printer_block("dock-1", "zebra-zd421-203", &format!("tcp://{}", printer.addr()), "")]), None);
    let orders = batch(3);
    submit(d.addr, "dock-1", &orders[..1]);
    wait_until("the first label", Duration::from_secs(60), || states(d.addr, "dock-1").get("done") == Some(&1));
    printer.set_silent(true);
    submit(d.addr, "dock-1", &orders[1..]);
    wait_until("the printer to show as silent", Duration::from_secs(30), || printer_state(d.addr, "dock-1")["state"] == "silent");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(printer.saved().len(), 1, "nothing is sent to a printer that does not answer");
    assert!(!settled(&states(d.addr, "dock-1"), 3), "{:?}", states(d.addr, "dock-1"));
    printer.set_silent(false);
    wait_until("the queue to resume", Duration::from_secs(60), || settled(&states(d.addr, "dock-1"), 3));
    let s = states(d.addr, "dock-1");
    assert_eq!(s.get("done"), Some(&3), "{s:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(printer.saved().len(), 3);
}

#[test]
fn only_a_printer_configured_without_status_is_sent_to_blind_and_shows_it() {
    let out = tempfile::tempdir().unwrap();
    let mute = vp(Language::Zpl, &out.path().join("mute"), &[Fault::Silent]);
    let blind = vp(Language::Zpl, &out.path().join("blind"), &[Fault::Silent]);
    let text = config(&[
        printer_block("mute", "zebra-zd421-203", &format!("tcp://{}", mute.addr()), ""),
        printer_block("blind", "zebra-zd421-203", &format!("tcp://{}", blind.addr()), "status = \"none\"\n"),
    ]);
    let d = start_config(&text, None);
    let orders = batch(2);
    submit(d.addr, "mute", &orders[..1]);
    submit(d.addr, "blind", &orders[1..]);
    wait_until("the blind printer's label", Duration::from_secs(60), || states(d.addr, "blind").get("done") == Some(&1));
    assert_eq!(blind.wait_for_saved(1, Duration::from_secs(10)), 1);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(mute.saved().len(), 0, "a printer that never answered is not ready");
    assert_eq!(printer_state(d.addr, "mute")["state"], "unknown");
    let health = http::get(d.addr, "/healthz").json();
    let by_name = |n: &str| health["printers"].as_array().unwrap().iter().find(|p| p["name"] == n).unwrap().clone();
    assert_eq!(by_name("blind")["state"], "no_status", "{health}");
    assert_eq!(by_name("blind")["status_channel"], false, "{health}");
    assert_eq!(by_name("mute")["status_channel"], true, "{health}");
    assert!(by_name("mute")["detail"].as_str().unwrap().contains("status = \"none\""), "the fix is named: {health}");
}

#[test]
fn a_printer_error_right_after_a_label_is_the_in_doubt_reason() {
    for (lang, driver, error, words) in [
        (Language::Zpl, "zebra-zd421-203", PrinterError::RibbonOut, "ribbon out"),
        (Language::Tspl, "tsc-te200", PrinterError::Jam, "paper jam"),
        (Language::Tspl, "tsc-te200", PrinterError::HeadHot, "over temperature"),
    ] {
        let out = tempfile::tempdir().unwrap();
        let printer = vp(lang, out.path(), &[Fault::ErrorAfter(error, 1)]);
        let d = start_config(&config(&[printer_block("dock-1", driver, &format!("tcp://{}", printer.addr()), "")]), None);
        submit(d.addr, "dock-1", &batch(2));
        wait_until("in doubt", Duration::from_secs(60), || states(d.addr, "dock-1").get("in_doubt") == Some(&1));
        let list = http::get(d.addr, "/v1/jobs?state=in_doubt").json();
        let why = list["documents"][0]["error"].as_str().unwrap().to_string();
        assert!(why.contains(words) && !why.contains("link dropped"), "{error:?}: {why}");
        // The printer shows its error and the second label waits for a person.
        wait_until("the printer error", Duration::from_secs(10), || printer_state(d.addr, "dock-1")["state"] == "error");
        assert_eq!(states(d.addr, "dock-1").get("done"), None);
        printer.clear_error().unwrap();
        wait_until("the second label", Duration::from_secs(60), || states(d.addr, "dock-1").get("done") == Some(&1));
    }
}

#[test]
fn an_operator_resolves_a_label_in_doubt_over_http() {
    let out = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, out.path(), &[Fault::DropAfterBytes(2000)]);
    let d = start_config(&config(&[printer_block("dock-1", "zebra-zd421-203", &format!("tcp://{}", printer.addr()), "")]), None);
    let job = submit(d.addr, "dock-1", &batch(1));
    let doc = job["documents"][0]["document"].as_i64().unwrap();
    wait_until("in doubt", Duration::from_secs(60), || states(d.addr, "dock-1").get("in_doubt") == Some(&1));
    let path = format!("/v1/documents/{doc}/resolve");
    let post = |body: serde_json::Value| http::post_json(d.addr, &path, body.to_string().as_bytes());
    let r = post(serde_json::json!({ "outcome": "maybe", "reason": "x" }));
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("outcome")), "{}", r.text());
    let r = post(serde_json::json!({ "outcome": "not_printed" }));
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("reason")), "{}", r.text());
    let r = post(serde_json::json!({ "outcome": "not_printed", "reason": "nothing came out" }));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["document"]["state"], "cancelled");
    assert_eq!(v["reprint"]["reprint_of"], doc);
    // Printed once: the reprint; the cut-off first copy was discarded by the printer.
    wait_until("the reprint", Duration::from_secs(60), || states(d.addr, "dock-1").get("done") == Some(&1));
    assert_eq!(printer.wait_for_saved(1, Duration::from_secs(10)), 1);
    let again = post(serde_json::json!({ "outcome": "not_printed", "reason": "again" }));
    assert_eq!(again.status, 409, "{}", again.text());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(printer.saved().len(), 1, "a second answer prints nothing");
    assert_eq!(states(d.addr, "dock-1").get("queued"), None);
}

/// `labeld printers` and `labeld doctor` warn when a printer's baud rate makes the reference label take
/// more than 5 s, and say how to raise it.
#[test]
fn printers_and_doctor_warn_about_slow_serial_links() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labeld")).arg("printers").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("warning: zebra-zd421-203:")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("9600 baud"), "{line}");
    assert!(text.contains("put ?baud=38400 in its uri") || text.contains("put ?baud=57600 in its uri"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("labeld.toml");
    let slow = printer_block("slow", "zebra-zd421-203", "serial:///dev/ttyS0", "");
    let fast = printer_block("fast", "zebra-zd421-203", "serial:///dev/ttyS1?baud=115200", "");
    std::fs::write(&config, config_text_at(dir.path(), &[slow, fast])).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labeld")).args(["doctor", "--json", "--config"]).arg(&config).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let findings = report["findings"].as_array().unwrap();
    let about = |name: &str| findings.iter().find(|f| f["message"].as_str().unwrap().starts_with(&format!("printer {name}:"))).unwrap().clone();
    assert_eq!(about("slow")["status"], "warning", "{report}");
    assert!(about("slow")["fix"].as_str().unwrap().contains("baud"), "{report}");
    assert_eq!(about("fast")["status"], "ok", "{report}");
}

fn config_text_at(dir: &Path, printers: &[String]) -> String {
    format!("[server]\nlisten = \"127.0.0.1:0\"\n\n[spool]\npath = \"{}\"\n{}", dir.join("spool.db").display(), printers.concat())
}
