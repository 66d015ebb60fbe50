//! The packers' page in a real browser: `labeld serve` (the built binary) with two virtual printers
//! and an API token, driven through Debian's Chromium (headless) by tests/web/drive.js
//! (playwright-core, which never downloads a browser). The script taps through the page; this side
//! then checks what the printers really received.
//!
//! Needs `chromium` (apt) and `npm ci` in tests/web. Without them the test prints why and passes,
//! unless LABELD_REQUIRE_BROWSER=1 (set by .ci/run) makes it fail.

use crate::common;

use crate::common::process::{Daemon, free_port};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use labeld::lang::Language;
use labeld::printer::profile::Profiles;
use labeld::virtual_printer::{Config as VpConfig, Fault, PrinterError, VirtualPrinter};

const CHROMIUM: &str = "/usr/bin/chromium";
const TOKEN: &str = "web-test-token-0123456789";

/// Why the browser test cannot run here, if it cannot.
fn missing_tools(dir: &Path) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some("chromium not installed".into());
    }
    if !Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Some("node is not installed".into());
    }
    if !dir.join("node_modules/playwright-core").is_dir() {
        return Some("tests/web/node_modules is absent (run `npm ci` in tests/web)".into());
    }
    None
}


fn vp(lang: Language, dir: &Path) -> VirtualPrinter {
    VirtualPrinter::spawn(VpConfig::new(lang, 203, dir), "127.0.0.1:0".parse().unwrap()).unwrap()
}

/// A fixture order with its ids changed, so each order in the test is a parcel of its own.
fn order_file(dir: &Path, fixture: &str, note: Option<&str>) -> PathBuf {
    let mut order: serde_json::Value = serde_json::from_slice(&std::fs::read(common::fixtures().join("orders").join(fixture)).unwrap()).unwrap();
    if let Some(n) = note {
        order["label_note"] = n.into();
    }
    let path = dir.join(fixture);
    std::fs::write(&path, order.to_string()).unwrap();
    path
}

#[test]
fn packers_page_in_chromium() {
    let web_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web");
    if let Some(why) = missing_tools(&web_dir) {
        common::skip("LABELD_REQUIRE_BROWSER", &why);
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dock = vp(Language::Zpl, &work.path().join("dock-1"));
    let desk = vp(Language::Tspl, &work.path().join("desk-2"));
    // Two printers that leave a label in doubt: one stops on "ribbon out" right after it, one drops
    // the link half way through it (once).
    let ribbon = VirtualPrinter::spawn(
        VpConfig::new(Language::Zpl, 203, work.path().join("dock-3")).with_fault(Fault::ErrorAfter(PrinterError::RibbonOut, 1)),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let drop = VirtualPrinter::spawn(
        VpConfig::new(Language::Zpl, 203, work.path().join("dock-4")).with_fault(Fault::DropAfterBytes(2000)),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    // Marketplace label documents.
    let market = vp(Language::Zpl, &work.path().join("dock-5"));
    // The packing bench's printer, for the scan-to-print batch.
    let bench = vp(Language::Zpl, &work.path().join("bench-6"));
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = work.path().join("labeld.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"{addr}\"\ntoken = \"{TOKEN}\"\n\n[spool]\npath = \"spool.db\"\n\n\
             [[printer]]\nname = \"dock-1\"\ndriver = \"zebra-zd421-203\"\nuri = \"tcp://{}\"\n\n\
             [[printer]]\nname = \"desk-2\"\ndriver = \"tsc-te200\"\nuri = \"tcp://{}\"\n\n\
             [[printer]]\nname = \"dock-3\"\ndriver = \"zebra-zd421-203\"\nuri = \"tcp://{}\"\n\n\
             [[printer]]\nname = \"dock-4\"\ndriver = \"zebra-zd421-203\"\nuri = \"tcp://{}\"\n\n\
             [[printer]]\nname = \"dock-5\"\ndriver = \"zebra-zd421-203\"\nuri = \"tcp://{}\"\n\n\
             [[printer]]\nname = \"bench-6\"\ndriver = \"zebra-zd421-203\"\nuri = \"tcp://{}\"\n",
            dock.addr(),
            desk.addr(),
            ribbon.addr(),
            drop.addr(),
            market.addr(),
            bench.addr()
        ),
    )
    .unwrap();
    let log = work.path().join("labeld.log");
    let mut daemon = Daemon {
        child: Command::new(env!("CARGO_BIN_EXE_labeld"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
        log: log.clone(),
    };
    let end = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = daemon.child.try_wait() {
            panic!("labeld exited with {status}: {}", std::fs::read_to_string(&daemon.log).unwrap_or_default());
        }
        assert!(Instant::now() < end, "labeld did not listen within a minute");
        std::thread::sleep(Duration::from_millis(100));
    }

    let orders = work.path().join("orders");
    std::fs::create_dir_all(&orders).unwrap();
    let ok = order_file(&orders, "my-jnt-cod.json", None);
    let held = order_file(&orders, "sg-ninjavan.json", Some("Add us on WhatsApp +65 8123 4567 for 10% off"));
    let late = order_file(&orders, "th-flash-cod.json", None);
    let doubt_a = order_file(&orders, "id-jnt.json", None);
    let doubt_b = order_file(&orders, "ph-jnt.json", None);
    let scan_batch = scan_batch_file(&orders);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web");
    std::fs::create_dir_all(&shots).unwrap();
    let profile_dir = work.path().join("chromium-profile");
    let out = Command::new("node")
        .arg(web_dir.join("drive.js"))
        .current_dir(&web_dir)
        .env("LABELD_URL", format!("http://{addr}"))
        .env("LABELD_TOKEN", TOKEN)
        .env("ORDER_OK", &ok)
        .env("ORDER_HELD", &held)
        .env("ORDER_LATE", &late)
        .env("ORDER_DOUBT_A", &doubt_a)
        .env("ORDER_DOUBT_B", &doubt_b)
        .env("DOC_OK", common::fixtures().join("docs/a6-label.pdf"))
        .env("DOC_OK_TRACKING", "JX2345678901VN")
        .env("DOC_WRONG", common::fixtures().join("docs/a6-wide.pdf"))
        .env("SCAN_BATCH", &scan_batch)
        .env("SHOT_DIR", &shots)
        .env("CHROMIUM", CHROMIUM)
        .env("PROFILE_DIR", &profile_dir)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .expect("running node");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stderr}");
    assert!(
        out.status.success(),
        "the browser run failed (screenshots in {}); daemon log:\n{}",
        shots.display(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let summary: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("drive.js prints one JSON line");
    eprintln!("web: screenshots in {}; page transfer {} bytes", shots.display(), summary["page_transfer_bytes"]);
    for shot in ["web-phone.png", "web-desktop.png", "web-preview.png", "web-manifest.png", "web-document.png", "web-scan-to-print.png"] {
        assert!(shots.join(shot).is_file(), "{shot}");
    }
    manifest_from_the_page(&summary, &[&ok, &held, &late, &doubt_a, &doubt_b]);
    handover_in_the_audit_log(&work.path().join("spool.db"), &summary);

    // What the printers really got: the label and its reprint on dock-1 (same tracking number,
    // twice, because an operator asked with a reason), never the held or the cancelled order;
    // the test page on desk-2, dot for dot.
    std::thread::sleep(Duration::from_millis(500));
    let saved = dock.saved();
    assert_eq!(saved.len(), 2, "label + reprint: {saved:?}");
    let ok_tracking = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&ok).unwrap()).unwrap()["shipment"]["tracking_number"]
        .as_str()
        .unwrap()
        .to_string();
    for p in &saved {
        let raster = labeld::render::png::decode(&std::fs::read(p).unwrap()).unwrap();
        assert_eq!(labeld::barcode::verify::read_code128(&raster).as_deref(), Some(ok_tracking.as_str()), "{}", p.display());
    }
    // The bench printed what the scans asked for, read back with zbarimg: the first order, its
    // reprint, then the one-item order scanned by its SKU.
    if common::zbar::available("packers_page_in_chromium").is_some() {
        let saved = bench.saved();
        // Each label carries its order id as a Code 128 too; the tracking number says which parcel.
        let got: Vec<String> =
            saved.iter().flat_map(|p| common::zbar::code128(&[p.as_path()])).filter(|c| !c.starts_with("BENCH-")).collect();
        let want: Vec<String> = summary["bench_printed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert_eq!(got, want, "bench-6");
    }
    let desk_saved = desk.saved();
    assert_eq!(desk_saved.len(), 1, "{desk_saved:?}");
    let profile = Profiles::builtin().get("tsc-te200").unwrap();
    let expected = labeld::compose::test_page::render(&labeld::compose::test_page::TestPage::for_profile(&profile), common::fonts());
    let got = labeld::render::png::decode(&std::fs::read(&desk_saved[0]).unwrap()).unwrap();
    assert!(labeld::lang::same_raster(&expected, &got), "desk-2 printed the test page");

    // The marketplace document printed once on dock-5, its tracking barcode read back; the held one never.
    let market_saved = market.saved();
    assert_eq!(market_saved.len(), 1, "{market_saved:?}");
    let raster = labeld::render::png::decode(&std::fs::read(&market_saved[0]).unwrap()).unwrap();
    assert!(labeld::barcode::verify::read_1d_codes(&raster).iter().any(|c| c.text == "JX2345678901VN"));

    // In doubt, resolved on the page: "came out" printed nothing more on dock-3; "did not come out"
    // printed the label on dock-4 once (the first, cut-off copy was discarded by the printer).
    let tracking_of = |file: &Path| -> String {
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(file).unwrap()).unwrap()["shipment"]["tracking_number"].as_str().unwrap().to_string()
    };
    for (printer, file) in [(&ribbon, &doubt_a), (&drop, &doubt_b)] {
        let saved = printer.saved();
        assert_eq!(saved.len(), 1, "{}: {saved:?}", file.display());
        let raster = labeld::render::png::decode(&std::fs::read(&saved[0]).unwrap()).unwrap();
        assert_eq!(labeld::barcode::verify::read_code128(&raster), Some(tracking_of(file)));
    }

    // Buyer data stays out of the daemon's log, whatever the page did.
    let logs = std::fs::read_to_string(&log).unwrap();
    for file in [&ok, &held, &late, &doubt_a, &doubt_b] {
        let order = labeld::order::Order::from_json_bytes(&std::fs::read(file).unwrap()).unwrap();
        for (path, text) in order.text_fields() {
            if path.starts_with("recipient") && text.trim().len() >= 6 {
                assert!(!logs.contains(text.trim()), "buyer data in the log: {path}");
            }
        }
    }
}

/// A scan-to-print batch of two orders with their own ids: a two-item one (scanned by order id) and
/// a one-item one (scanned by its SKU).
fn scan_batch_file(dir: &Path) -> PathBuf {
    let base: serde_json::Value = serde_json::from_slice(&std::fs::read(common::fixtures().join("orders/my-jnt-cod.json")).unwrap()).unwrap();
    let mut two = base.clone();
    two["order_id"] = "BENCH-2001".into();
    two["shipment"]["tracking_number"] = "635828770601".into();
    let mut one = base;
    one["order_id"] = "BENCH-2002".into();
    one["shipment"]["tracking_number"] = "635828770602".into();
    one["items"] = serde_json::json!([{"sku": "ST-900-GY", "name": "Phone stand", "bin": "C-01-01", "qty": 1}]);
    let path = dir.join("scan-batch.json");
    std::fs::write(&path, serde_json::json!([two, one]).to_string()).unwrap();
    path
}

/// The manifest PDF the page downloaded, read from outside: poppler draws it, zbarimg decodes
/// exactly the J&T pick-up parcels that printed (each once), and its text names no buyer.
fn manifest_from_the_page(summary: &serde_json::Value, orders: &[&PathBuf]) {
    for tool in ["pdftoppm", "pdftotext"] {
        if !common::have(tool) {
            common::skip("LABELD_REQUIRE_DOC_TOOLS", &format!("{tool} (Debian poppler-utils) is not installed"));
            return;
        }
    }
    if common::zbar::available("packers_page_in_chromium").is_none() {
        return;
    }
    let pdf = PathBuf::from(summary["manifest_pdf"].as_str().expect("drive.js names the manifest it downloaded"));
    let pages = tempfile::tempdir().unwrap();
    let drawn = Command::new("pdftoppm").args(["-r", "300", "-mono", "-png"]).arg(&pdf).arg(pages.path().join("p")).status().unwrap();
    assert!(drawn.success());
    let mut files: Vec<PathBuf> = std::fs::read_dir(pages.path()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let mut decoded = common::zbar::code128(&refs);
    decoded.sort();
    let mut want: Vec<String> = summary["manifest_tracking"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    want.sort();
    assert_eq!(decoded, want, "the manifest's barcodes");
    let text = Command::new("pdftotext").arg(&pdf).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for file in orders {
        let order = labeld::order::Order::from_json_bytes(&std::fs::read(file).unwrap()).unwrap();
        for buyer in [&order.recipient.name].into_iter().chain(order.recipient.address.lines.iter()) {
            assert!(!text.contains(buyer.as_str()), "buyer data on the manifest: {buyer}");
        }
    }
}

/// The handover closed on the page is in the spool: the scanned parcel ticked off with who closed
/// it, the one not scanned recorded as missing.
fn handover_in_the_audit_log(spool: &Path, summary: &serde_json::Value) {
    let spool = labeld::spool::Spool::open(spool).unwrap();
    let labels = |tracking: &str| {
        let filter = labeld::spool::Filter { tracking_number: Some(tracking.to_string()), ..Default::default() };
        let docs = spool.list(&filter).unwrap();
        docs.into_iter().filter(|d| matches!(d.state, labeld::spool::State::Done | labeld::spool::State::Sent)).collect::<Vec<_>>()
    };
    let handed = labels(summary["handed_over"].as_str().unwrap());
    assert!(!handed.is_empty());
    for d in &handed {
        assert!(d.handed_over_at.is_some(), "{d:?}");
        let h = spool.history(d.id).unwrap();
        assert!(h.iter().any(|a| a.action == "handover" && a.detail.as_deref().is_some_and(|t| t.contains("Siti (packer) to Ali (J&T driver)"))), "{h:?}");
    }
    let missing = labels(summary["missing"].as_str().unwrap());
    assert_eq!(missing.len(), 2, "the label and its reprint");
    for d in &missing {
        assert!(d.handed_over_at.is_none());
        assert!(spool.history(d.id).unwrap().iter().any(|a| a.action == "handover_missing"), "{}", d.id);
    }
}
