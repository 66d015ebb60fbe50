//! `labeld render` as a user runs it.

use crate::common;

use std::process::{Command, Stdio};

fn labeld() -> Command {
    Command::new(env!("CARGO_BIN_EXE_labeld"))
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("labeld-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn renders_png_and_pdf_from_a_file() {
    let order = common::fixtures().join("orders/th-flash-cod.json");
    for (format, magic) in [("png", &b"\x89PNG"[..]), ("pdf", &b"%PDF"[..])] {
        let out = tmp(&format!("th.{format}"));
        let st = labeld().args(["render"]).arg(&order).args(["--format", format, "--dpi", "300", "-o"]).arg(&out).status().unwrap();
        assert!(st.success(), "{format}");
        assert!(std::fs::read(&out).unwrap().starts_with(magic), "{format}");
    }
}

#[test]
fn reads_standard_input() {
    let order = std::fs::read(common::fixtures().join("orders/us-ups.json")).unwrap();
    let mut child = labeld().args(["render", "-", "-o", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&order).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"\x89PNG"));
}

#[test]
fn unreadable_input_exits_2_naming_the_problem() {
    let out = labeld().arg("render").arg(common::fixtures().join("orders-bad/not-json.json")).args(["-o", "/dev/null"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
}

#[test]
fn a_character_no_font_has_is_refused_naming_the_field() {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(common::fixtures().join("orders/sg-ninjavan.json")).unwrap()).unwrap();
    // U+E000 is private use: no installed font may claim it for a parcel.
    v["recipient"]["address"]["lines"][0] = "Blk 5 \u{E000} Street".into();
    let path = tmp("pua.json");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let out = labeld().arg("render").arg(&path).args(["-o", "/dev/null"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("missing_glyph") && err.contains("recipient.address") && err.contains("U+E000"), "{err}");
    assert!(!err.contains("Blk 5"), "buyer address leaked into the error: {err}");
}

#[test]
fn pdf_text_is_extractable() {
    if !common::have("pdftotext") {
        common::skip("LABELD_REQUIRE_DOC_TOOLS", "pdftotext (Debian poppler-utils) is not installed");
        return;
    }
    let out = tmp("us.pdf");
    assert!(labeld().arg("render").arg(common::fixtures().join("orders/us-usps.json")).args(["-f", "pdf", "-o"]).arg(&out).status().unwrap().success());
    let text = Command::new("pdftotext").arg(&out).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("USPS"), "{text}");
    assert!(text.contains("María José Rodríguez-Hernández"), "{text}");
    assert!(text.replace(' ', "").contains("9400111201080085045843"), "{text}");
}

/// Every "reject:RULE" case of orders-bad is refused by `labeld render` itself, with that rule, and no
/// output file appears: a refused order never becomes a label.
#[test]
fn refused_orders_never_become_a_label() {
    let registry = common::fixtures().join("warehouses.toml");
    let dir = common::fixtures().join("orders-bad");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Ok(case) = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&path).unwrap()) else { continue };
        let Some(rule) = case["expect"].as_str().and_then(|e| e.strip_prefix("reject:")) else { continue };
        let rule = if rule == "warehouse" { "unknown_warehouse" } else { rule };
        let order = tmp(&format!("bad-{}", path.file_name().unwrap().to_string_lossy()));
        std::fs::write(&order, serde_json::to_vec(&case["order"]).unwrap()).unwrap();
        let out = tmp(&format!("bad-{}.png", path.file_stem().unwrap().to_string_lossy()));
        let res = labeld().arg("render").arg(&order).arg("--warehouses").arg(&registry).arg("-o").arg(&out).output().unwrap();
        assert_eq!(res.status.code(), Some(1), "{}", path.display());
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert!(stderr.contains(&format!("refused [{rule}]")), "{}: {stderr}", path.display());
        assert!(!out.exists(), "{}: a refused label was written", path.display());
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} reject cases found");
    // And every good fixture passes the same gate with the registry.
    for (name, _) in common::fixture_orders() {
        let out = tmp(&format!("good-{name}.png"));
        let res = labeld().arg("render").arg(common::fixtures().join(format!("orders/{name}.json"))).arg("--warehouses").arg(&registry).arg("-o").arg(&out).output().unwrap();
        assert!(res.status.success(), "{name}: {}", String::from_utf8_lossy(&res.stderr));
    }
}
