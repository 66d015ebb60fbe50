//! `labeld check` as a user runs it: exit codes, JSON, JSON Lines, standard input.

use crate::common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn labeld() -> Command {
    Command::new(env!("CARGO_BIN_EXE_labeld"))
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("labeld-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn warehouses() -> std::path::PathBuf {
    common::fixtures().join("warehouses.toml")
}

/// The order inside an orders-bad case, written to a file of its own.
fn bad_order(name: &str) -> std::path::PathBuf {
    let case: serde_json::Value = serde_json::from_slice(&std::fs::read(common::fixtures().join("orders-bad").join(name)).unwrap()).unwrap();
    let path = tmp(name);
    std::fs::write(&path, serde_json::to_vec_pretty(&case["order"]).unwrap()).unwrap();
    path
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn printable_orders_exit_0() {
    let o = labeld().arg("check").arg(common::fixtures().join("orders/my-jnt-cod.json")).arg(common::fixtures().join("orders/th-flash-cod.json")).arg("--warehouses").arg(warehouses()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o), "574831017900715107: printable\n571756838140045365: printable\n");
}

#[test]
fn a_refused_order_exits_1_with_one_line_per_refusal() {
    let o = labeld().arg("check").arg(bad_order("note-with-url.json")).arg("--warehouses").arg(warehouses()).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("574831017900715107: hyperlink at label_note [15..41]: \"www.acme-home.example/deal\" — "), "{out}");
}

#[test]
fn unknown_warehouse_needs_the_registry() {
    let path = bad_order("unknown-warehouse.json");
    let without = labeld().arg("check").arg(&path).output().unwrap();
    assert_eq!(without.status.code(), Some(0), "no registry, nothing to match against");
    let with = labeld().arg("check").arg(&path).arg("--warehouses").arg(warehouses()).output().unwrap();
    assert_eq!(with.status.code(), Some(1));
    assert!(stdout(&with).contains("unknown_warehouse at sender.warehouse_id"), "{}", stdout(&with));
}

#[test]
fn unreadable_input_exits_2_and_readable_ones_are_still_reported() {
    let o = labeld()
        .arg("check")
        .arg(common::fixtures().join("orders-bad/not-json.json"))
        .arg(common::fixtures().join("orders/us-ups.json"))
        .arg(tmp("does-not-exist.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "573061570830622888: printable\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not-json.json: unreadable: not valid JSON"), "{err}");
    assert!(err.contains("does-not-exist.json: unreadable"), "{err}");
    let bad_registry = labeld().arg("check").arg(common::fixtures().join("orders/us-ups.json")).arg("--warehouses").arg(tmp("nope.toml")).output().unwrap();
    assert_eq!(bad_registry.status.code(), Some(2));
}

#[test]
fn json_output_is_one_object_per_order() {
    let o = labeld().arg("check").arg("--json").arg(bad_order("note-with-whatsapp.json")).arg(common::fixtures().join("orders/us-ups.json")).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let entries: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["order_id"], "574831017900715107");
    assert_eq!(entries[0]["printable"], false);
    let r = &entries[0]["refusals"][0];
    assert_eq!(r["rule"], "off_platform_contact");
    assert_eq!(r["path"], "label_note");
    let note = "WhatsApp us +60 12-888 7777 for 10% off";
    let (a, b) = (r["span"]["start"].as_u64().unwrap() as usize, r["span"]["end"].as_u64().unwrap() as usize);
    assert_eq!(&note[a..b], r["text"].as_str().unwrap());
    assert!(!r["message"].as_str().unwrap().is_empty());
    assert_eq!(entries[1]["printable"], true);
    assert_eq!(entries[1]["refusals"].as_array().unwrap().len(), 0);
}

#[test]
fn json_lines_from_standard_input_report_line_numbers_and_duplicates() {
    let batch = std::fs::read_to_string(common::fixtures().join("batches/batch-50.jsonl")).unwrap();
    let mut lines: Vec<String> = batch.lines().take(3).map(String::from).collect();
    // Line 4: the tracking number of line 1 on another order. Line 5: not an order.
    let mut dup: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    dup["order_id"] = "579999999999999999".into();
    lines.push(dup.to_string());
    lines.push("{\"order_id\": 1}".into());
    let mut child = labeld().args(["check", "--json", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(lines.join("\n").as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "line 5 is unreadable");
    let entries: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.len(), 5);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["line"], i + 1);
        assert_eq!(e["source"], "-");
    }
    assert_eq!(entries[0]["printable"], true);
    assert_eq!(entries[3]["printable"], false);
    assert_eq!(entries[3]["refusals"][0]["rule"], "duplicate_tracking_number");
    assert_eq!(entries[4]["error"]["path"], "order_id");
}

#[test]
fn every_batch_order_is_printable() {
    let o = labeld().arg("check").arg(common::fixtures().join("batches/batch-500.jsonl")).arg("--warehouses").arg(warehouses()).output().unwrap();
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{}", out.lines().filter(|l| !l.ends_with("printable")).collect::<Vec<_>>().join("\n"));
    assert_eq!(out.lines().count(), 500);
    assert!(out.starts_with(&format!("{}:1: ", common::fixtures().join("batches/batch-500.jsonl").display())));
}

#[test]
fn lexicon_dir_adds_the_warehouses_words() {
    let dir = tmp("words");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ours.toml"), "app_slang = [\"pigeon\"]\n").unwrap();
    let mut order: serde_json::Value = serde_json::from_slice(&std::fs::read(common::fixtures().join("orders/my-jnt-cod.json")).unwrap()).unwrap();
    order["label_note"] = "Add pigeon acme_888 for restocks".into();
    let path = tmp("pigeon.json");
    std::fs::write(&path, serde_json::to_vec(&order).unwrap()).unwrap();
    let without = labeld().arg("check").arg(&path).output().unwrap();
    assert_eq!(without.status.code(), Some(0), "{}", stdout(&without));
    let with = labeld().arg("check").arg(&path).arg("--lexicon-dir").arg(&dir).output().unwrap();
    assert_eq!(with.status.code(), Some(1), "{}", stdout(&with));
    assert!(stdout(&with).contains("off_platform_contact") && stdout(&with).contains("label_note"), "{}", stdout(&with));
}
