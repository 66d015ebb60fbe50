//! Orders bigger than any real one are refused before they cost the daemon memory (issue 13, item 12):
//! the same refusal, naming the field, the size and the limit, over HTTP, the CLI and `labeld batch`;
//! the real `labeld serve` answers the probe's 3.9 MB note with a small 400 and its memory stays put.

use crate::common;

use std::net::SocketAddr;
use std::process::Command;

use crate::common::http;
use crate::common::process::{Daemon, free_port};
use crate::daemon::{config_text, vp, wait_until};
use labeld::lang::Language;

fn order() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(common::fixtures().join("orders/my-jnt-cod.json")).unwrap()).unwrap()
}

/// The probe's note: 3.9 MB of seller text, no line breaks.
fn huge_note() -> String {
    "Thank you for shopping with us! ".repeat(121_875)
}

const HUGE_NOTE_CHARS: &str = "3,900,000";

fn memory_kb(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn labeld() -> Command {
    Command::new(env!("CARGO_BIN_EXE_labeld"))
}

#[test]
fn the_probes_long_note_is_a_small_400_and_the_daemons_memory_stays_put() {
    let dir = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, dir.path(), &[]);
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.path().join("labeld.toml");
    std::fs::write(&config, config_text(&[("zebra", "zebra-zd421-203", printer.addr())], &addr.to_string())).unwrap();
    let log = dir.path().join("labeld.log");
    let child = labeld().args(["serve", "--config"]).arg(&config).stdout(std::process::Stdio::null()).stderr(std::fs::File::create(&log).unwrap()).spawn().unwrap();
    let d = Daemon { child, log };
    wait_until("the daemon to listen", std::time::Duration::from_secs(60), || std::net::TcpStream::connect(addr).is_ok());
    // A label through first, so fonts and caches are warm when the peak is read.
    assert_eq!(http::post_json(addr, "/v1/render", order().to_string().as_bytes()).status, 200);
    let pid = d.child.id();
    let peak_before = memory_kb(pid, "VmHWM:");

    let mut o = order();
    o["label_note"] = huge_note().into();
    let render = o.to_string();
    let submit = serde_json::json!({ "printer": "zebra", "order": o }).to_string();
    assert!(render.len() > 3_900_000 && submit.len() < labeld::server::MAX_BODY);
    // Eight at once of each, as the probe did.
    let answers: Vec<(&str, http::Response)> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for _ in 0..8 {
            handles.push(s.spawn(|| ("/v1/render", http::post_json(addr, "/v1/render", render.as_bytes()))));
            handles.push(s.spawn(|| ("/v1/jobs", http::post_json(addr, "/v1/jobs", submit.as_bytes()))));
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (path, resp) in &answers {
        assert_eq!(resp.status, 400, "{path}: {}", resp.text());
        assert!(resp.body.len() < 1_000, "{path}: a {}-byte answer", resp.body.len());
        let error = &resp.json()["error"];
        let field = if *path == "/v1/jobs" { "order.label_note" } else { "label_note" };
        assert_eq!(error["field"], field, "{path}");
        assert_eq!(error["message"], format!("{field}: {HUGE_NOTE_CHARS} characters, at most 2,000"), "{path}");
    }
    // The probe saw 177 MB grow to a 2.2 GB peak; sixteen 4 MB bodies in flight are well under 400 MB.
    let peak_after = memory_kb(pid, "VmHWM:");
    assert!(peak_after < peak_before + 400_000, "peak RSS grew from {peak_before} kB to {peak_after} kB");
    // Nothing was spooled, and the daemon still prints.
    assert_eq!(http::get(addr, "/v1/jobs").json()["documents"].as_array().unwrap().len(), 0);
    assert_eq!(http::post_json(addr, "/v1/render", order().to_string().as_bytes()).status, 200);
}

#[test]
fn a_million_pieces_and_twenty_thousand_items_are_refused_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let printer = vp(Language::Zpl, dir.path(), &[]);
    let d = crate::daemon::start_config(&config_text(&[("zebra", "zebra-zd421-203", printer.addr())], "127.0.0.1:0"), None);
    let mut qty = order();
    qty["items"][0]["qty"] = 1_000_000.into();
    let mut items = order();
    items["items"] = serde_json::json!(vec![serde_json::json!({"sku": "MUG-1", "name": "Mug", "qty": 1}); 20_000]);
    let cases = [(qty, "items[0].qty", "1,000,000 pieces, at most 10,000"), (items, "items", "20,000 items, at most 500")];
    for (o, field, problem) in cases {
        let resp = http::post_json(d.addr, "/v1/jobs", serde_json::json!({ "printer": "zebra", "orders": [o] }).to_string().as_bytes());
        assert_eq!(resp.status, 400, "{}", resp.text());
        let error = &resp.json()["error"];
        assert_eq!(error["field"], format!("orders[0].{field}"));
        assert_eq!(error["message"], format!("orders[0].{field}: {problem}"));
        let resp = http::post_json(d.addr, "/v1/render", o.to_string().as_bytes());
        assert_eq!((resp.status, resp.json()["error"]["message"].as_str().unwrap()), (400, format!("{field}: {problem}").as_str()));
    }
    assert_eq!(http::get(d.addr, "/v1/jobs").json()["documents"].as_array().unwrap().len(), 0);
}

#[test]
fn the_cli_gives_the_same_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = order();
    o["recipient"]["name"] = "Nur Aisyah binti Abdullah ".repeat(100).into();
    let path = dir.path().join("long-name.json");
    std::fs::write(&path, o.to_string()).unwrap();
    let want = "recipient.name: 2,600 characters, at most 2,000";

    let check = labeld().arg("check").arg(&path).output().unwrap();
    assert_eq!(check.status.code(), Some(2), "{check:?}");
    assert_eq!(String::from_utf8_lossy(&check.stderr).trim(), format!("labeld: {}: unreadable: {want}", path.display()));

    let render = labeld().arg("render").arg(&path).arg("-o").arg(dir.path().join("out.png")).output().unwrap();
    assert_eq!(render.status.code(), Some(2), "{render:?}");
    assert_eq!(String::from_utf8_lossy(&render.stderr).trim(), format!("labeld: {}: {want}", path.display()));

    // `labeld batch` refuses the file before it talks to any daemon (none listens on this port).
    let batch_file = dir.path().join("batch.jsonl");
    std::fs::write(&batch_file, format!("{}\n{}\n", order(), o)).unwrap();
    let batch = labeld()
        .arg("batch")
        .arg(&batch_file)
        .args(["--printer", "zebra", "--server", &format!("http://127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert_eq!(batch.status.code(), Some(2), "{batch:?}");
    assert_eq!(String::from_utf8_lossy(&batch.stderr).trim(), format!("labeld: {}:2: {want}", batch_file.display()));
}

#[test]
fn a_field_just_under_the_limit_reaches_the_layouts_own_refusal() {
    let mut o = order();
    o["label_note"] = "Please leave the parcel with the guard. ".repeat(60).chars().take(1_999).collect::<String>().into();
    let order = labeld::order::Order::from_json_value(o).expect("1,999 characters pass validation");
    let gate = labeld::compose::Gate::new(labeld::comply::Checker::new(None), common::template().clone()).unwrap();
    let opts = labeld::compose::Options { dpi: 203, printed_at: common::fixed_time() };
    let err = gate.label(&order, &labeld::comply::NoSpool, common::fonts(), &opts).err().expect("refused");
    let text = err.to_string();
    assert!(text.contains("overflow") && text.contains("label_note") && text.contains("shorten it by"), "{text}");
}
