//! `labeld render --format zpl|tspl|escpos|epl|cpcl` and `labeld test-page` as a user runs them.

use crate::common;

use std::process::Command;

use labeld::lang::{self, Language};
use labeld::render::png;

fn labeld() -> Command {
    Command::new(env!("CARGO_BIN_EXE_labeld"))
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("labeld-cli-lang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn printer_formats_carry_the_same_raster_as_png() {
    let order = common::fixtures().join("orders/sg-ninjavan.json");
    let png_out = tmp("sg.png");
    let at = ["--printed-at", "2026-11-23T09:30:00Z"];
    assert!(labeld().arg("render").arg(&order).args(at).args(["-f", "png", "-o"]).arg(&png_out).status().unwrap().success());
    let raster = png::decode(&std::fs::read(&png_out).unwrap()).unwrap();
    for lang in Language::ALL {
        let out = tmp(&format!("sg.{lang}"));
        let st = labeld().arg("render").arg(&order).args(at).args(["-f", lang.name(), "-o"]).arg(&out).status().unwrap();
        assert!(st.success(), "{lang}");
        let labels = lang::labels(lang::decode_all(lang, 203, &std::fs::read(&out).unwrap()).unwrap());
        assert_eq!(labels.len(), 1, "{lang}");
        assert!(lang::same_raster(&raster, &labels[0]), "{lang}");
    }
}

#[test]
fn printer_profile_sets_language_checks_and_resolution() {
    let order = common::fixtures().join("orders/us-ups.json");
    let out = tmp("ups.zpl");
    let st = labeld().arg("render").arg(&order).args(["-f", "zpl", "--printer-profile", "zebra-zd421-300", "-o"]).arg(&out).status().unwrap();
    assert!(st.success());
    // The ZD421's link is 8-bit clean, so the label is a binary PNG object: read the text around it.
    let text = String::from_utf8_lossy(&std::fs::read(&out).unwrap()).into_owned();
    assert!(text.contains("^PW1181") && text.contains("~SD15"), "300 dpi label with the profile's darkness");
    assert!(text.contains(",B,P,") && text.contains("^XGR:"), "a PNG object, recalled");

    let wrong = labeld().arg("render").arg(&order).args(["-f", "tspl", "--printer-profile", "zebra-zd421-203", "-o"]).arg(tmp("x")).output().unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("speaks zpl"));

    let unknown = labeld().arg("render").arg(&order).args(["-f", "zpl", "--printer-profile", "acme-9000", "-o"]).arg(tmp("y")).output().unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("docs/printer-profiles.md"));
}

#[test]
fn test_page_in_the_profiles_language() {
    let out = tmp("test.tspl");
    let st = labeld().args(["test-page", "--printer-profile", "tsc-te200", "-o"]).arg(&out).status().unwrap();
    assert!(st.success());
    let labels = lang::labels(lang::decode_all(Language::Tspl, 203, &std::fs::read(&out).unwrap()).unwrap());
    assert_eq!(labels.len(), 1);
    assert!(labels[0].count_black() > 10_000);
}
