//! Marketplace documents (PDF and PNG made by reportlab and Pillow, tests/docs/make_docs.py): drawn at the
//! printer's dots, proven, and checked from outside: zbarimg (ZBar) reads every tracking barcode back from
//! the rasters labeld would print, poppler's pdftoppm draws the same pages for comparison, and the ZPL goes
//! through the independent ZPL interpreter. `.ci/run` installs zbar-tools and poppler-utils and sets
//! LABELD_REQUIRE_BARCODE_DECODER=1 and LABELD_REQUIRE_DOC_TOOLS=1, so there a missing tool fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use labeld::bitmap::Bitmap;
use labeld::lang::{self, JobSettings, Language};
use labeld::marketdoc::{self, DocError, Fit, Held, Media, PageRole, Unreadable};
use labeld::render::png;

use crate::common;

fn docs() -> PathBuf {
    common::fixtures().join("docs")
}

/// File name → the tracking number its label carries.
fn manifest() -> BTreeMap<String, String> {
    serde_json::from_slice(&std::fs::read(docs().join("manifest.json")).unwrap()).unwrap()
}

/// The documents that print on a 4-inch head without `fit = "scale"`, with their tracking numbers.
fn printable() -> Vec<(String, String)> {
    let refused = ["a5-label.pdf", "letter.pdf", "thin-bars.pdf"];
    manifest().into_iter().filter(|(f, _)| !refused.contains(&f.as_str())).collect()
}

/// Whether poppler's pdftoppm can run here.
fn pdftoppm() -> bool {
    let found = common::have("pdftoppm");
    if !found {
        common::skip("LABELD_REQUIRE_DOC_TOOLS", "pdftoppm (Debian poppler-utils) is not installed");
    }
    found
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("labeld-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn zbar_bitmap(bitmap: &Bitmap, dpi: u32, name: &str) -> Vec<String> {
    let path = tmp(name);
    std::fs::write(&path, png::encode(bitmap, dpi)).unwrap();
    common::zbar::code128(&[&path])
}

#[test]
fn every_document_prints_in_every_language_and_zbar_reads_its_tracking_number() {
    let zbar_here = common::zbar::available("every_document_prints_in_every_language").is_some();
    let mut checked = 0;
    for dpi in [203, 300] {
        let media = Media::four_by_six(dpi);
        for (file, tn) in printable() {
            let bytes = std::fs::read(docs().join(&file)).unwrap();
            let doc = marketdoc::render(&bytes, &media, Fit::Refuse).unwrap_or_else(|e| panic!("{file} at {dpi}: {e}"));
            let verdict = marketdoc::prove::prove(&doc.pages, Some(&tn));
            assert_eq!(verdict.held, None, "{file} at {dpi}: {:?}", doc.pages.iter().map(|p| &p.codes).collect::<Vec<_>>());
            let rasters: Vec<Bitmap> = doc.pages.iter().map(|p| p.raster.clone()).collect();
            // Every printer language carries every page, dot for dot.
            let settings = JobSettings::new(dpi, media.width, media.height);
            for lang in [Language::Zpl, Language::Tspl, Language::EscPos, Language::Epl, Language::Cpcl] {
                let bytes = lang::encode(lang, &rasters, &settings).unwrap();
                let back = lang::labels(lang::decode_all(lang, dpi, &bytes).unwrap());
                assert_eq!(back.len(), rasters.len(), "{file} at {dpi} in {lang}");
                for (b, r) in back.iter().zip(&rasters) {
                    // ESC/POS rounds the width up to whole bytes; those columns are blank.
                    assert_eq!(b.count_black(), r.count_black(), "{file} at {dpi} in {lang}");
                    assert_eq!(&b.crop(0, 0, r.width(), r.height()), r, "{file} at {dpi} in {lang}");
                }
            }
            for (i, page) in doc.pages.iter().enumerate() {
                assert_eq!((page.raster.width(), page.raster.height()), (media.width, media.height));
                if verdict.roles[i] == PageRole::Label && zbar_here {
                    let read = zbar_bitmap(&page.raster, dpi, &format!("{file}-{dpi}-{i}.png"));
                    assert!(read.contains(&tn), "{file} page {} at {dpi}: ZBar read {read:?}, not {tn}", i + 1);
                    checked += 1;
                }
            }
        }
    }
    assert!(!zbar_here || checked == 2 * printable().len(), "{checked} label pages checked");
}

#[test]
fn reading_where_the_bars_are_finds_what_reading_the_whole_page_finds() {
    // The worker reads a page only where the locator finds bars; on every fixture page, at both densities,
    // that must be every code the exhaustive whole-page read finds, and nothing else.
    use labeld::barcode::verify::{read_1d_codes, read_1d_codes_at};
    for dpi in [203, 300] {
        for file in manifest().keys() {
            let doc = marketdoc::render(&std::fs::read(docs().join(file)).unwrap(), &Media::four_by_six(dpi), Fit::Scale).unwrap();
            for (i, page) in doc.pages.iter().enumerate() {
                let sorted = |mut c: Vec<labeld::barcode::verify::Read1d>| {
                    c.sort_by(|a, b| a.text.cmp(&b.text));
                    c
                };
                let whole = sorted(read_1d_codes(&page.raster));
                assert_eq!(sorted(read_1d_codes_at(&page.raster, dpi)), whole, "{file} page {} at {dpi}", i + 1);
                assert_eq!(sorted(page.codes.clone()), whole, "{file} page {} at {dpi}", i + 1);
            }
        }
    }
}

#[test]
fn placement_follows_the_page() {
    let media = Media::four_by_six(203);
    let place = |file: &str, fit: Fit| {
        let doc = marketdoc::render(&std::fs::read(docs().join(file)).unwrap(), &media, fit).unwrap();
        doc.pages[0].placement
    };
    // 4×6 in on 4×6 in: 1:1. A6 with 97 mm of marks: trimmed, not scaled. A6 with 103 mm: scaled, factor kept.
    assert_eq!((place("4x6-label.pdf", Fit::Refuse).scale, place("4x6-label.pdf", Fit::Refuse).trimmed), (1.0, false));
    let a6 = place("a6-label.pdf", Fit::Refuse);
    assert!(a6.trimmed && a6.scale == 1.0, "{a6:?}");
    let wide = place("a6-wide.pdf", Fit::Refuse);
    assert!(wide.scale < 1.0 && wide.scale > 0.95, "{wide:?}");
    // Landscape pages turn; a /Rotate 90 page that shows portrait does not.
    assert!(place("landscape.pdf", Fit::Refuse).turned);
    assert!(!place("rotate90.pdf", Fit::Refuse).turned);
    // A5 only with fit = "scale", and then uniformly shrunk with the factor recorded.
    let a5 = place("a5-label.pdf", Fit::Scale);
    assert!(a5.scale < 0.75, "{a5:?}");
}

#[test]
fn the_crop_box_hides_what_lies_outside_it() {
    let doc = marketdoc::render(&std::fs::read(docs().join("crop.pdf")).unwrap(), &Media::four_by_six(203), Fit::Refuse).unwrap();
    let codes: Vec<&str> = doc.pages[0].codes.iter().map(|c| c.text.as_str()).collect();
    assert!(codes.contains(&"CROP0000000001") && !codes.contains(&"DECOY999999999"), "{codes:?}");
}

#[test]
fn label_and_slip_are_told_apart() {
    let doc = marketdoc::render(&std::fs::read(docs().join("label-slip.pdf")).unwrap(), &Media::four_by_six(203), Fit::Refuse).unwrap();
    let verdict = marketdoc::prove::prove(&doc.pages, Some("TT7788990011ID"));
    assert_eq!(verdict.roles, [PageRole::Label, PageRole::Slip]);
    assert_eq!(verdict.held, None);
}

#[test]
fn an_unreadable_or_wrong_label_is_held_with_its_reason() {
    let media = Media::four_by_six(203);
    // 0.1 mm modules: a screen or a laser shows them, a 203-dpi head cannot.
    let thin = marketdoc::render(&std::fs::read(docs().join("thin-bars.pdf")).unwrap(), &media, Fit::Refuse).unwrap();
    assert_eq!(marketdoc::prove::prove(&thin.pages, Some("THIN0000000001")).held, Some(Held::BarcodeUnreadable));
    let other = marketdoc::render(&std::fs::read(docs().join("100x150-label.pdf")).unwrap(), &media, Fit::Refuse).unwrap();
    let held = marketdoc::prove::prove(&other.pages, Some("SPXVN9999999999")).held;
    assert_eq!(held, Some(Held::TrackingMismatch));
    assert_eq!(held.unwrap().rule(), "document_tracking_mismatch");
}

#[test]
fn bad_inputs_are_unreadable_with_the_problem_named() {
    let media = Media::four_by_six(203);
    let cases: [(&str, fn(&Unreadable) -> bool); 7] = [
        ("truncated.pdf", |e| matches!(e, Unreadable::Truncated)),
        ("encrypted.pdf", |e| matches!(e, Unreadable::Encrypted)),
        ("not-a-pdf.pdf", |e| matches!(e, Unreadable::NotADocument)),
        ("zero-pages.pdf", |e| matches!(e, Unreadable::NoPages)),
        ("500-pages.pdf", |e| matches!(e, Unreadable::TooManyPages { pages: 500 })),
        ("huge-page.pdf", |e| matches!(e, Unreadable::PageTooLarge { page: 1, .. })),
        ("bomb.pdf", |e| matches!(e, Unreadable::Inflates)),
    ];
    for (file, expected) in cases {
        let bytes = std::fs::read(docs().join("bad").join(file)).unwrap();
        match marketdoc::render(&bytes, &media, Fit::Scale) {
            Err(DocError::Unreadable(e)) => assert!(expected(&e), "{file}: {e}"),
            other => panic!("{file}: {:?}", other.map(|d| d.pages.len())),
        }
    }
}

#[test]
fn pdftoppm_draws_the_same_pages() {
    if !pdftoppm() {
        return;
    }
    for file in ["4x6-label.pdf", "100x150-label.pdf", "crop.pdf", "rotate90.pdf"] {
        let out = tmp(&format!("poppler-{}", file.trim_end_matches(".pdf")));
        let st = Command::new("pdftoppm").args(["-r", "203", "-gray", "-png", "-singlefile", "-cropbox"]).arg(docs().join(file)).arg(&out).status().unwrap();
        assert!(st.success(), "{file}");
        let theirs = png::decode(&std::fs::read(out.with_file_name(format!("poppler-{}.png", file.trim_end_matches(".pdf")))).unwrap()).unwrap();
        let media = Media { dpi: 203, width: theirs.width(), height: theirs.height() };
        let ours = &marketdoc::render(&std::fs::read(docs().join(file)).unwrap(), &media, Fit::Refuse).unwrap().pages[0].raster;
        // Where a page whose size is not a whole number of dots sits is a choice (poppler rounds the canvas
        // up and starts at the left; labeld centres), so the best of the one-dot shifts is compared.
        let differ = |rows: std::ops::Range<u32>| {
            let black: u64 = rows.clone().map(|y| (0..media.width).filter(|&x| theirs.get(x, y)).count() as u64).sum();
            let shifted = |dx: i64, dy: i64| {
                let mut differ = 0u64;
                for y in rows.clone() {
                    for x in 0..media.width {
                        let (sx, sy) = (x as i64 + dx, y as i64 + dy);
                        let o = sx >= 0 && sy >= 0 && ours.get(sx as u32, sy as u32);
                        differ += (o != theirs.get(x, y)) as u64;
                    }
                }
                differ
            };
            let best = (-1..=1).flat_map(|dx| (-1..=1).map(move |dy| (dx, dy))).map(|(dx, dy)| shifted(dx, dy)).min().unwrap();
            (best, black)
        };
        // The tracking barcode's band (make_docs.py draws its bars 22 to 40 mm below the label's top edge):
        // the same bars dot for dot.
        let mm = |v: f32| (v * 203.0 / 25.4) as u32;
        let (d, b) = differ(mm(24.0)..mm(38.0));
        assert!(b > 10_000 && (d as f64) < b as f64 * 0.005, "{file}: {d} of {b} black dots of the barcode band differ");
        // The whole page: the text differs more, as the PDFs name Helvetica without embedding it and each
        // renderer substitutes its own face; the bars, frame and rules agree.
        let (d, b) = differ(0..media.height);
        assert!((d as f64) < b as f64 * 0.25, "{file}: {d} of {b} black dots differ");
    }
}

fn labeld() -> Command {
    Command::new(env!("CARGO_BIN_EXE_labeld"))
}

#[test]
fn cli_exit_codes_and_messages() {
    let run = |file: &Path, extra: &[&str], out: &Path| {
        let o = labeld().arg("render").arg(file).args(extra).arg("-o").arg(out).output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let out = tmp("cli.png");
    // Unreadable: exit 2, the problem named, nothing written.
    for (file, says) in [("bad/truncated.pdf", "truncated"), ("bad/not-a-pdf.pdf", "not a PDF or PNG"), ("bad/encrypted.pdf", "encrypted")] {
        std::fs::remove_file(&out).ok();
        let (code, err) = run(&docs().join(file), &[], &out);
        assert_eq!(code, Some(2), "{file}: {err}");
        assert!(err.contains(says), "{file}: {err}");
        assert!(!out.exists(), "{file} wrote output");
    }
    // Refused: exit 1 with the rule; with --fit scale the A5 page prints.
    let (code, err) = run(&docs().join("a5-label.pdf"), &[], &out);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("document_does_not_fit"), "{err}");
    let (code, err) = run(&docs().join("a5-label.pdf"), &["--fit", "scale", "--tracking", "A5LABEL0000001"], &out);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = run(&docs().join("thin-bars.pdf"), &["--tracking", "THIN0000000001"], &out);
    assert_eq!((code, err.contains("document_barcode_unreadable")), (Some(1), true), "{err}");
    let (code, err) = run(&docs().join("a6-label.pdf"), &["--tracking", "JX0000000000VN"], &out);
    assert_eq!((code, err.contains("document_tracking_mismatch")), (Some(1), true), "{err}");
    // A two-page document as PNG: one file per page.
    let multi = tmp("slip.png");
    let (code, err) = run(&docs().join("label-slip.pdf"), &["--tracking", "TT7788990011ID"], &multi);
    assert_eq!(code, Some(0), "{err}");
    for page in ["slip-1.png", "slip-2.png"] {
        assert!(std::fs::read(multi.with_file_name(page)).unwrap().starts_with(b"\x89PNG"), "{page}");
    }
}

#[test]
fn the_independent_zpl_interpreter_prints_documents_that_scan() {
    let Some(dir) = crate::lang_zpl_independent::renderer() else { return };
    let Some(()) = common::zbar::available("the_independent_zpl_interpreter_prints_documents") else { return };
    for dpi in [203, 300] {
        let media = Media::four_by_six(dpi);
        let jobs: Vec<(String, String)> =
            ["a6-label.pdf", "rotate90.pdf", "label-300.png", "image-label-300.pdf"].iter().map(|f| (f.to_string(), manifest()[*f].clone())).collect();
        let zpls: Vec<Vec<u8>> = jobs
            .iter()
            .map(|(file, tn)| {
                let out = tmp(&format!("{file}-{dpi}.zpl"));
                let st = labeld()
                    .arg("render")
                    .arg(docs().join(file))
                    .args(["--format", "zpl", "--dpi", &dpi.to_string(), "--tracking", tn, "-o"])
                    .arg(&out)
                    .status()
                    .unwrap();
                assert!(st.success(), "{file}");
                std::fs::read(&out).unwrap()
            })
            .collect();
        let pngs = crate::lang_zpl_independent::zebrash(&dir, &zpls, media.width, media.height, dpi);
        for ((file, tn), png_bytes) in jobs.iter().zip(pngs) {
            let path = tmp(&format!("zebrash-{file}-{dpi}.png"));
            std::fs::write(&path, png_bytes).unwrap();
            let read = common::zbar::code128(&[&path]);
            assert!(read.contains(tn), "{file} at {dpi} through Zebrash: ZBar read {read:?}");
        }
    }
}
