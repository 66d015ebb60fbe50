//! Marketplace documents, in one process: `cargo bench --bench documents`.
//!
//! What a print worker does with a document job, after the spool: draw every page for the printer's media
//! (hayro), threshold, read every 1D code back, prove the tracking number, encode in the printer's language
//! (`Gate::printer_bytes`). Per fixture document at 203 and 300 dpi on a 4×6 in label, median of 20 runs
//! after a warm-up; and a 50-document batch (the printable fixtures in turn) end to end, as one worker
//! would run it. Wall time and the thread's CPU time (the machine is shared). Then the read-back alone, on
//! the same rasters: the whole page at every few rows (`read_1d_codes`) against only where the bars are
//! (`read_1d_codes_at`, what the worker runs), and whether both read the same codes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use labeld::barcode::verify::{read_1d_codes, read_1d_codes_at};
use labeld::comply::{Checker, NoSpool};
use labeld::compose::{Content, Gate, Target};
use labeld::lang::Language;
use labeld::marketdoc::{self, Fit, Media, Part};
use labeld::template::Template;
use labeld::text::{FontConfig, Fonts};

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the struct we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// One document job's worker path: draw, prove, encode. Returns the bytes' length.
fn print(gate: &Gate, fonts: &Fonts, bytes: &[u8], tracking: &str, dpi: u32) -> usize {
    let media = Media::four_by_six(dpi);
    let drawn = marketdoc::render(bytes, &media, Fit::Refuse).expect("printable");
    let content = Content::Marketplace { pages: &drawn.pages, tracking: Some(tracking), order_id: Some("BENCH"), seen: &NoSpool, part: Part::Whole };
    gate.printer_bytes(content, &Target::bare(Language::Zpl, dpi), fonts).expect("proven").bytes.len()
}

fn main() {
    let dir = format!("{}/tests/fixtures/docs", env!("CARGO_MANIFEST_DIR"));
    let manifest: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(format!("{dir}/manifest.json")).unwrap()).unwrap();
    let docs: Vec<(String, Vec<u8>, String)> = manifest
        .into_iter()
        .filter(|(f, _)| !["a5-label.pdf", "letter.pdf", "thin-bars.pdf"].contains(&f.as_str()))
        .map(|(f, tn)| {
            let bytes = std::fs::read(format!("{dir}/{f}")).unwrap();
            (f, bytes, tn)
        })
        .collect();
    let fonts = Fonts::load(&FontConfig::default()).unwrap();
    let gate = Gate::new(Checker::new(None), Template::load(labeld::template::DEFAULT).unwrap()).unwrap();

    println!("#### Marketplace documents to checked ZPL, median of 20 runs, one thread (wall / CPU ms)\n");
    println!("| document | 203 dpi | 300 dpi | ZPL bytes at 203 |");
    println!("| --- | --- | --- | --- |");
    for (file, bytes, tn) in &docs {
        let mut cells = Vec::new();
        let mut size = 0;
        for dpi in [203, 300] {
            black_box(print(&gate, &fonts, bytes, tn, dpi));
            let (mut walls, mut cpus) = (Vec::new(), Vec::new());
            for _ in 0..20 {
                let (w, c) = (Instant::now(), thread_cpu());
                let n = black_box(print(&gate, &fonts, bytes, tn, dpi));
                walls.push(w.elapsed());
                cpus.push(thread_cpu() - c);
                if dpi == 203 {
                    size = n;
                }
            }
            walls.sort();
            cpus.sort();
            cells.push(format!("{} / {}", ms(walls[10]), ms(cpus[10])));
        }
        println!("| {file} | {} | {} | {size} |", cells[0], cells[1]);
    }

    println!("\n#### The read-back alone, every page of the document, median of 20 runs (CPU ms)\n");
    println!("| document | 203: whole page | 203: where the bars are | 300: whole page | 300: where the bars are | same codes |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (file, bytes, _) in &docs {
        let mut cells = Vec::new();
        let mut same = true;
        for dpi in [203, 300] {
            let drawn = marketdoc::render(bytes, &Media::four_by_six(dpi), Fit::Refuse).expect("printable");
            let rasters: Vec<_> = drawn.pages.iter().map(|p| &p.raster).collect();
            let median_cpu = |read: &dyn Fn() -> usize| {
                let mut cpus: Vec<Duration> = (0..21)
                    .map(|_| {
                        let c = thread_cpu();
                        black_box(read());
                        thread_cpu() - c
                    })
                    .collect();
                cpus.sort();
                cpus[10]
            };
            cells.push(ms(median_cpu(&|| rasters.iter().map(|r| read_1d_codes(r).len()).sum())));
            cells.push(ms(median_cpu(&|| rasters.iter().map(|r| read_1d_codes_at(r, dpi).len()).sum())));
            for r in &rasters {
                let (mut a, mut b) = (read_1d_codes(r), read_1d_codes_at(r, dpi));
                a.sort_by(|x, y| x.text.cmp(&y.text));
                b.sort_by(|x, y| x.text.cmp(&y.text));
                same &= a == b;
            }
        }
        println!("| {file} | {} | {} | {} | {} | {} |", cells[0], cells[1], cells[2], cells[3], if same { "yes" } else { "**no**" });
    }

    let (w, c) = (Instant::now(), thread_cpu());
    let mut total = 0;
    for i in 0..50 {
        let (_, bytes, tn) = &docs[i % docs.len()];
        total += black_box(print(&gate, &fonts, bytes, tn, 203));
    }
    println!("\n50-document batch at 203 dpi, one thread: {} ms wall / {} ms CPU, {total} bytes of ZPL", ms(w.elapsed()), ms(thread_cpu() - c));
}
