//! Labels over real links into the virtual printer: TCP loopback and a pseudo-terminal, every language,
//! status queries, and the injected faults. Everything runs on 127.0.0.1 and finishes in seconds.

use crate::common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use labeld::bitmap::Bitmap;
use labeld::lang::{self, JobSettings, Language};
use labeld::printer::status::{self, PrinterState};
use labeld::transport::{self, OpenOptions, Transport, TransportError, Uri};
use labeld::virtual_printer::{Config, Event, Fault, VirtualPrinter};

const DPI: u32 = 203;

/// One fixture label's raster, rendered once.
fn raster() -> &'static Bitmap {
    static R: OnceLock<Bitmap> = OnceLock::new();
    R.get_or_init(|| {
        let (_, order) = common::fixture_orders().into_iter().next().expect("a fixture order");
        common::render(&order, DPI).expect("fixture renders").into_parts().1
    })
}

fn job(lang: Language) -> Vec<u8> {
    lang::encode(lang, std::slice::from_ref(raster()), &JobSettings::for_bitmap(DPI, raster())).expect("encodes")
}

fn save_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("labeld-vp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn start(lang: Language, name: &str, faults: &[Fault]) -> VirtualPrinter {
    let mut cfg = Config::new(lang, DPI, save_dir(name));
    cfg.faults = faults.to_vec();
    VirtualPrinter::spawn(cfg, "127.0.0.1:0".parse().unwrap()).expect("virtual printer starts")
}

fn connect(vp: &VirtualPrinter) -> Box<dyn Transport> {
    let uri = Uri::Tcp { host: "127.0.0.1".into(), port: vp.addr().port() };
    transport::open(&uri, OpenOptions::default()).expect("connects")
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

/// The saved PNG is exactly the PNG of the raster that was sent, and decodes to it dot for dot.
///
/// Languages that carry rows as whole bytes with no dot width (ESC/POS `GS v 0`) print the raster padded to
/// a multiple of 8 dots; the padding is white, so the expected image is the raster widened to whole bytes.
fn assert_saved_is_raster(file: &PathBuf, what: &str) {
    assert_saved_is(file, raster(), what)
}

fn assert_saved_is(file: &PathBuf, raster: &Bitmap, what: &str) {
    let png = std::fs::read(file).unwrap();
    // IHDR width: bytes 16..20 of a PNG.
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let expected = if width != raster.width() && width == raster.width().next_multiple_of(8) {
        Bitmap::from_packed(width, raster.height(), raster.data().to_vec()).unwrap()
    } else {
        raster.clone()
    };
    if png != labeld::render::png::encode(&expected, DPI) {
        let back = labeld::render::png::decode(&png).unwrap();
        assert_eq!(back, expected, "{what}: decoded raster differs");
        panic!("{what}: same raster, different PNG bytes");
    }
}

/// Every fixture order, rendered once.
fn fixture_rasters() -> &'static [(String, Bitmap)] {
    static R: OnceLock<Vec<(String, Bitmap)>> = OnceLock::new();
    R.get_or_init(|| {
        common::fixture_orders()
            .into_iter()
            .map(|(name, order)| {
                let raster = common::render(&order, DPI).unwrap_or_else(|e| panic!("{name}: {e}")).into_parts().1;
                (name, raster)
            })
            .collect()
    })
}

#[test]
fn every_fixture_round_trips_over_tcp_in_every_language() {
    for lang in Language::ALL {
        let vp = start(lang, &format!("tcp-{lang}"), &[]);
        for (i, (name, raster)) in fixture_rasters().iter().enumerate() {
            let bytes = lang::encode(lang, std::slice::from_ref(raster), &JobSettings::for_bitmap(DPI, raster)).unwrap();
            // One connection per label, as a print job is sent; ESC/POS has no end-of-label command
            // without a cut, so the close ends the job.
            let mut link = connect(&vp);
            link.write_all(&bytes, soon()).unwrap();
            drop(link);
            let what = format!("{lang} {name}");
            assert_eq!(vp.wait_for_saved(i + 1, Duration::from_secs(10)), i + 1, "{what}: not saved; events {:?}", vp.events());
            assert_saved_is(&vp.saved()[i], raster, &what);
        }
    }
}

#[test]
fn pty_serial_link_round_trips_and_answers_status() {
    let mut vp = start(Language::Zpl, "pty", &[]);
    let pty = vp.open_pty().expect("pty pair");
    let uri: Uri = format!("serial://{}?baud=115200", pty.display()).parse().unwrap();
    let mut link = transport::open(&uri, OpenOptions::default()).expect("opens the pty slave");
    link.write_all(&job(Language::Zpl), soon()).unwrap();
    assert_eq!(vp.wait_for_saved(1, Duration::from_secs(10)), 1, "events {:?}", vp.events());
    assert_saved_is_raster(&vp.saved()[0], "pty");
    let s = status::query(link.as_mut(), Language::Zpl.status().unwrap(), Duration::from_secs(5));
    assert_eq!(s.state, PrinterState::Ready);
}

#[test]
fn paper_out_after_n_is_reported_and_later_labels_wait() {
    let vp = start(Language::Zpl, "paper-out", &[Fault::PaperOutAfter(2)]);
    let mut link = connect(&vp);
    assert_eq!(status::query(link.as_mut(), Language::Zpl.status().unwrap(), Duration::from_secs(5)).state, PrinterState::Ready);
    let three = job(Language::Zpl).repeat(3);
    link.write_all(&three, soon()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while vp.waiting() < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(vp.saved().len(), 2, "only two labels fit on the roll");
    assert_eq!(vp.waiting(), 1, "the third label waits, unprinted");
    let s = status::query(link.as_mut(), Language::Zpl.status().unwrap(), Duration::from_secs(5));
    assert_eq!(s.state, PrinterState::PaperOut);
    assert_eq!(s.details.formats_in_buffer, Some(1));

    // A new roll: the waiting label prints, nothing is lost or doubled.
    vp.load_paper().unwrap();
    assert_eq!(vp.saved().len(), 3);
    assert_saved_is_raster(&vp.saved()[2], "after reload");
    assert_eq!(status::query(link.as_mut(), Language::Zpl.status().unwrap(), Duration::from_secs(5)).state, PrinterState::Ready);
}

#[test]
fn head_open_holds_labels_in_every_status_dialect() {
    for lang in [Language::Tspl, Language::EscPos, Language::Cpcl, Language::Zpl] {
        let dialect = lang.status().unwrap();
        let vp = start(lang, &format!("head-{lang}"), &[Fault::HeadOpen]);
        let mut link = connect(&vp);
        let s = status::query(link.as_mut(), dialect, Duration::from_secs(5));
        assert_eq!(s.state, PrinterState::HeadOpen, "{lang}");
        vp.close_head().unwrap();
        let s = status::query(link.as_mut(), dialect, Duration::from_secs(5));
        assert_eq!(s.state, PrinterState::Ready, "{lang}");
    }
    // A label sent while the head is open prints when it closes.
    let vp = start(Language::Tspl, "head-label", &[Fault::HeadOpen]);
    let mut link = connect(&vp);
    link.write_all(&job(Language::Tspl), soon()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while vp.waiting() < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!((vp.saved().len(), vp.waiting()), (0, 1));
    vp.close_head().unwrap();
    assert_saved_is_raster(&vp.saved()[0], "after closing the head");
}

#[test]
fn a_printer_that_does_not_answer_is_unknown_not_ready() {
    // The emulated EPL2 printer answers no status query this daemon sends.
    let vp = start(Language::Epl, "silent", &[]);
    let mut link = connect(&vp);
    let s = status::query(link.as_mut(), Language::Zpl.status().unwrap(), Duration::from_millis(300));
    assert!(matches!(s.state, PrinterState::Unknown(ref why) if why.contains("no answer")), "{:?}", s.state);
    // No query to send and no USB port status on TCP: still unknown, never ready.
    let s = status::probe(link.as_mut(), None, Duration::from_millis(300));
    assert!(matches!(s.state, PrinterState::Unknown(_)), "{:?}", s.state);
}

#[test]
fn a_link_dropped_mid_label_is_seen_by_the_sender_and_saves_no_partial_label() {
    let one = job(Language::Zpl);
    let cut = one.len() as u64 + one.len() as u64 / 2;
    let vp = start(Language::Zpl, "drop", &[Fault::DropAfterBytes(cut)]);
    let mut link = connect(&vp);
    let two = one.repeat(2);
    let write = link.write_all(&two, soon());
    // The reset reaches the sender on this write or on its next read; either way it learns of it.
    let saw_error = match write {
        Err(e) => e.is_disconnect() || matches!(e, TransportError::Io { .. }),
        Ok(()) => {
            let mut buf = [0u8; 16];
            match link.read(&mut buf, Duration::from_secs(5)) {
                Err(e) => e.is_disconnect(),
                Ok(_) => false,
            }
        }
    };
    assert!(saw_error, "sender did not see the drop");
    assert_eq!(vp.wait_for_saved(1, Duration::from_secs(5)), 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(vp.saved().len(), 1, "the half-received second label must not be saved");
    assert!(vp.events().iter().any(|e| matches!(e, Event::Dropped { .. })));
    assert!(vp.events().iter().any(|e| matches!(e, Event::DiscardedPartial { .. })));

    // The operator reprints it over a new connection: exactly one more label.
    link.reconnect().unwrap();
    link.write_all(&one, soon()).unwrap();
    assert_eq!(vp.wait_for_saved(2, Duration::from_secs(10)), 2);
    assert_saved_is_raster(&vp.saved()[1], "reprint");
}

#[test]
fn a_slow_link_delivers_intact_and_a_deadline_bounds_the_sender() {
    let one = job(Language::Zpl);
    let rate = 40_000u32;
    let vp = start(Language::Zpl, "slow", &[Fault::Slow(rate)]);
    let mut link = connect(&vp);
    let t0 = Instant::now();
    link.write_all(&one, soon()).unwrap();
    assert_eq!(vp.wait_for_saved(1, Duration::from_secs(20)), 1);
    // The printer cannot have taken the label faster than its rate (a semantic check of the fault).
    let floor = Duration::from_secs_f64(one.len() as f64 / rate as f64 * 0.8);
    assert!(t0.elapsed() >= floor, "label of {} bytes arrived in {:?} at {rate} B/s", one.len(), t0.elapsed());
    assert_saved_is_raster(&vp.saved()[0], "slow link");

    // Far more than the link and both kernels' socket buffers can carry before the deadline: the write
    // gives up at the deadline and says how much went out, instead of hanging the worker.
    let many = one.repeat((16 << 20) / one.len());
    let deadline = Instant::now() + Duration::from_millis(500);
    let e = link.write_all(&many, deadline).unwrap_err();
    assert!(matches!(e, TransportError::Timeout { .. }), "{e}");
    assert!(e.sent() > 0 && e.sent() < many.len(), "sent {}", e.sent());
    assert!(Instant::now() < deadline + Duration::from_secs(2), "write overran its deadline");
}

#[test]
fn the_command_serves_until_stopped_and_saves_labels() {
    use std::io::BufRead;
    let dir = save_dir("cli");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_labeld"))
        .args(["virtual-printer", "--lang", "tspl", "--listen", "127.0.0.1:0", "--save"])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read its log on a thread, so a silent child cannot hang the test.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).expect("the command announces its address");
    let uri: Uri = first.trim().rsplit(' ').next().unwrap().parse().unwrap_or_else(|e| panic!("{first:?}: {e}"));
    let mut link = transport::open(&uri, OpenOptions::default()).unwrap();
    link.write_all(&job(Language::Tspl), soon()).unwrap();
    drop(link);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut printed = None;
    while printed.is_none() && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            printed = line.starts_with("printed ").then_some(line);
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let printed = printed.expect("the command logs the printed label");
    assert!(printed.contains("0001.png"), "{printed}");
    assert_saved_is_raster(&dir.join("0001.png"), "virtual-printer command");
}

#[test]
fn printers_command_says_what_it_found_and_exits_zero() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labeld")).arg("printers").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("USB printers:") && text.contains("Serial ports:"), "{text}");
    if !std::path::Path::new("/dev/bus/usb").exists() {
        assert!(text.contains("none found (this machine has no USB bus"), "{text}");
    }
}
