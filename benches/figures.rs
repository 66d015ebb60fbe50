//! labeld's own figures for BENCHMARKS.md, in one process: `cargo bench --bench figures [-- --kv FILE]`.
//! packaging/bench.sh runs it next to CUPS and glabels.
//!
//! Per label (the reference order, fixture my-jnt-cod), at 203 and 300 dpi and in every printer
//! language: the daemon's real path (rules, layout, raster, barcode read-back, 2D scan) plus the
//! encoding, and the bytes sent. Per batch (batch-500.jsonl): pick list PDF plus 500 labels as ZPL PNG
//! objects, as a ZD421 on USB or TCP gets them (what benches/batch.rs measures), and the 500 labels as one 500-page PDF (what glabels produces).
//!
//! A plain harness: medians over a fixed number of runs, so the whole run stays bounded; the
//! criterion benches (render, lang, batch) give the same quantities with their statistics.

use std::hint::black_box;
use std::time::{Duration, Instant};

use labeld::comply::{Checker, NoSpool, SeenTracking};
use labeld::compose::{self, Gate};
use labeld::lang::cpcl::{CpclOptions, Graphics};
use labeld::lang::zpl::{Encoding, ZplOptions};
use labeld::lang::{self, JobSettings, Language};
use labeld::order::Order;
use labeld::picklist::page::{self, Paper};
use labeld::bins::BinPattern;
use labeld::picklist::{PickList, pick_order};
use labeld::template::Template;
use labeld::text::{FontConfig, Fonts};

fn fixture(rel: &str) -> String {
    let path = format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// CPU time this thread has used. On a machine shared with other builds, wall time includes waiting
/// for a core; CPU time does not, so both are reported.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the struct we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Wall and CPU time of one call.
#[derive(Clone, Copy)]
struct Took {
    wall: Duration,
    cpu: Duration,
}

/// Medians (wall, CPU) of `runs` calls after one warm-up call (a running daemon has its caches warm).
fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> Took {
    black_box(f());
    let (mut walls, mut cpus): (Vec<Duration>, Vec<Duration>) = (0..runs)
        .map(|_| {
            let (t, c) = (Instant::now(), thread_cpu());
            black_box(f());
            (t.elapsed(), thread_cpu() - c)
        })
        .unzip();
    walls.sort();
    cpus.sort();
    Took { wall: walls[runs / 2], cpu: cpus[runs / 2] }
}

/// Bytes per label of every fixture order in every language at 203 dpi, and the time on a serial link
/// (8N1: ten bits a byte, so bytes × 10 / baud). Exact, not medians: the bytes are a function of the raster.
fn wire_bytes(gate: &Gate, fonts: &Fonts, printed_at: time::OffsetDateTime, kv: &mut Kv) {
    let dir = format!("{}/tests/fixtures/orders", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let zpl = |e| move |s: &mut JobSettings| s.options.set(ZplOptions { encoding: e });
    let encodings: Vec<(&str, &str, Language, Box<dyn Fn(&mut JobSettings)>)> = vec![
        ("zpl-png", "ZPL PNG object (8-bit clean links)", Language::Zpl, Box::new(zpl(Encoding::Png))),
        ("zpl", "ZPL `:Z64:` (XON/XOFF serial)", Language::Zpl, Box::new(zpl(Encoding::Z64))),
        ("zpl-acs", "ZPL ASCII compression", Language::Zpl, Box::new(zpl(Encoding::Acs))),
        ("tspl", "TSPL `BITMAP`", Language::Tspl, Box::new(|_: &mut JobSettings| {})),
        ("escpos", "ESC/POS `GS v 0`", Language::EscPos, Box::new(|_: &mut JobSettings| {})),
        ("epl", "EPL2 `GW`", Language::Epl, Box::new(|_: &mut JobSettings| {})),
        ("cpcl", "CPCL `EG` (hex)", Language::Cpcl, Box::new(|_: &mut JobSettings| {})),
        ("cpcl-cg", "CPCL `CG` (binary)", Language::Cpcl, Box::new(|s: &mut JobSettings| s.options.set(CpclOptions { graphics: Graphics::Compressed }))),
    ];
    let opts = compose::Options { dpi: 203, printed_at };
    // sizes[encoding][fixture]
    let mut sizes = vec![vec![]; encodings.len()];
    for name in &names {
        let order = Order::from_json_str(&fixture(&format!("orders/{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let label = gate.label(&order, &NoSpool, fonts, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (i, (_, _, lang, set)) in encodings.iter().enumerate() {
            let mut settings = JobSettings::for_bitmap(203, label.raster());
            set(&mut settings);
            sizes[i].push(lang::encode(*lang, std::slice::from_ref(label.raster()), &settings).unwrap().len());
        }
    }
    println!("\n#### Bytes on the wire: every fixture order, 203 dpi, 100 × 150 mm\n");
    println!("Bytes per label (exact). Time on a serial link at 8N1 (bytes × 10 / baud) for the fixture with the most bytes.\n");
    println!("| language and encoding | bytes per label, {} fixtures (fewest–most) | 9,600 baud | 38,400 baud | 115,200 baud |", names.len());
    println!("| --- | --- | --- | --- | --- |");
    let secs = |bytes: usize, baud: usize| {
        let s = (bytes * 10) as f64 / baud as f64;
        if s >= 10.0 { format!("{s:.1} s") } else { format!("{s:.2} s") }
    };
    for ((key, title, _, _), sizes) in encodings.iter().zip(&sizes) {
        let (lo, hi) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
        let at = |baud| secs(hi, baud);
        println!("| {title} | {lo}–{hi} | {} | {} | {} |", at(9600), at(38400), at(115200));
        kv.put(format!("wire_{key}_min_bytes"), lo);
        kv.put(format!("wire_{key}_max_bytes"), hi);
    }
    println!("\nPer fixture:\n");
    println!("| fixture | {} |", encodings.iter().map(|e| e.0).collect::<Vec<_>>().join(" | "));
    println!("|{}", " --- |".repeat(encodings.len() + 1));
    for (f, name) in names.iter().enumerate() {
        let row: Vec<String> = sizes.iter().map(|s| s[f].to_string()).collect();
        println!("| {} | {} |", name.trim_end_matches(".json"), row.join(" | "));
    }
    kv.put("wire_fixtures", names.len());
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// Figures as `key=value` lines for the script that computes the ratios.
#[derive(Default)]
struct Kv(Vec<(String, String)>);

impl Kv {
    fn put(&mut self, key: impl Into<String>, value: impl ToString) {
        self.0.push((key.into(), value.to_string()));
    }
}

/// The label without the rules and the 2D-code scan: layout, raster and barcode read-back.
fn bare(order: &Order, template: &Template, fonts: &Fonts, dpi: u32, printed_at: time::OffsetDateTime) -> labeld::bitmap::Bitmap {
    let fields = labeld::fields::Fields::from_order(order, printed_at);
    let doc = labeld::layout::layout(template, &fields, fonts, dpi).unwrap();
    let bmp = labeld::render::raster::paint(&doc, fonts);
    compose::verify_barcodes(&doc, &bmp).unwrap();
    bmp
}

fn main() {
    // `cargo bench` passes --bench; the only option of ours is --kv FILE.
    let args: Vec<String> = std::env::args().collect();
    let kv_path = args.iter().position(|a| a == "--kv").and_then(|i| args.get(i + 1)).cloned();

    let fonts = Fonts::load(&FontConfig::default()).expect("fonts");
    let gate = Gate::new(Checker::new(None), Template::load(labeld::template::DEFAULT).unwrap()).unwrap();
    let order = Order::from_json_str(&fixture("orders/my-jnt-cod.json")).expect("valid order");
    let printed_at = time::macros::datetime!(2026-11-23 09:30 UTC);
    let mut kv = Kv::default();

    // Variants a printer profile can pick: every language, plus ZPL's two other graphics encodings.
    let mut variants: Vec<(String, Language, Option<Encoding>)> = Language::ALL.iter().map(|&l| (l.to_string(), l, None)).collect();
    variants.insert(1, ("zpl-png".into(), Language::Zpl, Some(Encoding::Png)));
    variants.insert(2, ("zpl-acs".into(), Language::Zpl, Some(Encoding::Acs)));

    println!("#### Per label (reference order my-jnt-cod), median of 30 runs, one thread\n");
    println!("Wall time / CPU time of the thread, in ms. Render = rules, layout, raster, barcode read-back, 2D scan.\n");
    println!("| dpi | format | render + encode | of which encode | bytes per label |");
    println!("| --- | --- | --- | --- | --- |");
    for dpi in [203u32, 300] {
        let opts = compose::Options { dpi, printed_at };
        let render = median(30, || gate.label(&order, &NoSpool, &fonts, &opts).unwrap());
        kv.put(format!("render_{dpi}_ms"), ms(render.wall));
        kv.put(format!("render_{dpi}_cpu_ms"), ms(render.cpu));
        let label = gate.label(&order, &NoSpool, &fonts, &opts).unwrap();
        let pages = std::slice::from_ref(label.raster());
        for (name, lang, compression) in &variants {
            let mut settings = JobSettings::for_bitmap(dpi, label.raster());
            if let Some(c) = compression {
                settings.options.set(ZplOptions { encoding: *c });
            }
            let encode = median(30, || lang::encode(*lang, pages, &settings).unwrap());
            let both = median(30, || {
                let l = gate.label(black_box(&order), &NoSpool, &fonts, &opts).unwrap();
                lang::encode(*lang, std::slice::from_ref(l.raster()), &settings).unwrap()
            });
            let bytes = lang::encode(*lang, pages, &settings).unwrap().len();
            println!("| {dpi} | {name} | {} / {} | {} / {} | {bytes} |", ms(both.wall), ms(both.cpu), ms(encode.wall), ms(encode.cpu));
            kv.put(format!("label_{dpi}_{name}_ms"), ms(both.wall));
            kv.put(format!("label_{dpi}_{name}_cpu_ms"), ms(both.cpu));
            kv.put(format!("bytes_{dpi}_{name}"), bytes);
        }
        let pdf = median(30, || {
            let l = gate.label(black_box(&order), &NoSpool, &fonts, &opts).unwrap();
            labeld::render::pdf::paint(&[l.document()], &fonts, "label").unwrap()
        });
        let pdf_bytes = labeld::render::pdf::paint(&[label.document()], &fonts, "label").unwrap().len();
        println!("| {dpi} | pdf | {} / {} | | {pdf_bytes} |", ms(pdf.wall), ms(pdf.cpu));
        kv.put(format!("label_{dpi}_pdf_ms"), ms(pdf.wall));
        kv.put(format!("label_{dpi}_pdf_cpu_ms"), ms(pdf.cpu));
        kv.put(format!("bytes_{dpi}_pdf"), pdf_bytes);
    }

    // Where the render time goes: the same label without the rules and the 2D-code scan of the finished
    // raster, and the layout alone (shaping, line breaking, shrink-to-fit).
    println!("\nWhere the render time goes (wall / CPU ms, median of 30):\n");
    println!("| dpi | gated (all of it) | rules on the order | layout + raster + read-back | layout only | 2D-code scan of the raster |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let fields = labeld::fields::Fields::from_order(&order, printed_at);
    for dpi in [203u32, 300] {
        let opts = compose::Options { dpi, printed_at };
        let gated = median(30, || gate.label(&order, &NoSpool, &fonts, &opts).unwrap());
        let bare = median(30, || bare(&order, gate.template(), &fonts, dpi, printed_at));
        let layout = median(30, || labeld::layout::layout(gate.template(), &fields, &fonts, dpi).unwrap());
        let rules = median(30, || gate.checker().check_order(&order, &NoSpool));
        let raster = gate.label(&order, &NoSpool, &fonts, &opts).unwrap().into_parts().1;
        let scan = median(30, || gate.checker().check_image("label", &raster));
        let both = |t: Took| format!("{} / {}", ms(t.wall), ms(t.cpu));
        println!("| {dpi} | {} | {} | {} | {} | {} |", both(gated), both(rules), both(bare), both(layout), both(scan));
        kv.put(format!("rules_{dpi}_cpu_ms"), ms(rules.cpu));
        kv.put(format!("scan_{dpi}_cpu_ms"), ms(scan.cpu));
        kv.put(format!("bare_{dpi}_cpu_ms"), ms(bare.cpu));
        kv.put(format!("layout_{dpi}_cpu_ms"), ms(layout.cpu));
    }

    wire_bytes(&gate, &fonts, printed_at, &mut kv);

    let orders: Vec<Order> =
        fixture("batches/batch-500.jsonl").lines().filter(|l| !l.trim().is_empty()).map(|l| Order::from_json_str(l).expect("valid")).collect();
    let n = orders.len();
    let pattern = BinPattern::default();
    let opts = compose::Options { dpi: 203, printed_at };

    // What a print batch needs before the first label goes out: pick list and every label as ZPL, in the
    // encoding the shipped Zebra profiles send on an 8-bit clean link (PNG objects).
    let zpl_batch = || {
        let list = PickList::build(&orders, vec![], &pattern, "PL-BENCH".into(), printed_at);
        let pages = page::pages(&list, Paper::A4, 300, &fonts).unwrap();
        let refs: Vec<&_> = pages.iter().collect();
        let pdf = labeld::render::pdf::paint(&refs, &fonts, "pick list").unwrap();
        let mut seen = SeenTracking::new();
        let mut bytes = 0;
        for o in pick_order(&orders, &pattern) {
            let label = gate.label(o, &seen, &fonts, &opts).unwrap();
            seen.record(&o.shipment.tracking_number, &o.order_id);
            let mut settings = JobSettings::for_bitmap(203, label.raster());
            settings.options.set(ZplOptions { encoding: Encoding::Png });
            bytes += lang::encode(Language::Zpl, std::slice::from_ref(label.raster()), &settings).unwrap().len();
        }
        (pdf.len(), bytes)
    };
    // What glabels-3-batch produces from a merge file: one PDF with a page per label.
    let pdf_batch = || {
        let mut seen = SeenTracking::new();
        let mut docs = Vec::with_capacity(n);
        for o in &orders {
            docs.push(gate.label(o, &seen, &fonts, &opts).unwrap().into_parts().0);
            seen.record(&o.shipment.tracking_number, &o.order_id);
        }
        let refs: Vec<&_> = docs.iter().collect();
        labeld::render::pdf::paint(&refs, &fonts, "labels").unwrap()
    };
    let (list_bytes, zpl_bytes) = zpl_batch();
    let pdf_bytes = pdf_batch().len();
    let zpl_time = median(3, zpl_batch);
    let pdf_time = median(3, pdf_batch);
    let s = |d: Duration| format!("{:.2}", d.as_secs_f64());
    println!("\n#### Batch of {n} orders (batch-500.jsonl), 203 dpi, median of 3 runs, one thread\n");
    println!("| what | wall (s) | CPU (s) | output |");
    println!("| --- | --- | --- | --- |");
    println!("| pick list PDF + {n} labels through the rules, as ZPL PNG objects | {} | {} | {list_bytes} B pick list, {zpl_bytes} B of ZPL |", s(zpl_time.wall), s(zpl_time.cpu));
    println!("| {n} labels through the rules, as one {n}-page PDF | {} | {} | {pdf_bytes} B |", s(pdf_time.wall), s(pdf_time.cpu));
    kv.put("batch_orders", n);
    kv.put("batch_zpl_s", s(zpl_time.wall));
    kv.put("batch_zpl_cpu_s", s(zpl_time.cpu));
    kv.put("batch_zpl_bytes", zpl_bytes);
    kv.put("batch_pdf_s", s(pdf_time.wall));
    kv.put("batch_pdf_cpu_s", s(pdf_time.cpu));
    kv.put("batch_pdf_bytes", pdf_bytes);

    if let Some(path) = kv_path {
        let text: String = kv.0.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}
