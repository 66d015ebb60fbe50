//! Barcode costs on the label path: encoding a tracking number, reading the painted symbol back, and scanning a
//! whole 203-dpi label (812 × 1218 dots) for 2D codes.

use criterion::{Criterion, criterion_group, criterion_main};
use labeld::barcode::code128::{self, QUIET_MODULES};
use labeld::barcode::verify::{Format2d, find_2d_codes, find_2d_codes_of, read_code128};
use labeld::bitmap::Bitmap;
use std::hint::black_box;

const TRACKING: &str = "9400111201080085045843";

/// The crop verification sees at 203 dpi: module 2 dots, bars 80 dots high, quiet zones and 4 dots of margin.
fn code128_crop() -> Bitmap {
    let (module, height, margin) = (2u32, 80u32, 4u32);
    let modules = code128::encode(TRACKING).unwrap().modules();
    let left = margin + QUIET_MODULES * module;
    let mut b = Bitmap::new(2 * left + modules.len() as u32 * module, height + 2 * margin);
    for (i, &bar) in modules.iter().enumerate() {
        if bar {
            b.fill_rect((left + i as u32 * module) as i32, margin as i32, module as i32, height as i32, true);
        }
    }
    b
}

/// A full label without any 2D code (the common case the compliance engine pays for): rules, the tracking
/// barcode and blocks of text-like strokes.
fn label() -> Bitmap {
    let mut b = Bitmap::new(812, 1218);
    for y in [0, 300, 700] {
        b.fill_rect(0, y, 812, 4, true);
    }
    let modules = code128::encode(TRACKING).unwrap().modules();
    for (i, &bar) in modules.iter().enumerate() {
        if bar {
            b.fill_rect(120 + 2 * i as i32, 80, 2, 160, true);
        }
    }
    let mut state = 7u64;
    let mut next = move |n: u32| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % n as u64) as i32
    };
    for (y0, lines, cols) in [(320, 11, 48), (720, 14, 48)] {
        for line in 0..lines {
            for col in 0..cols {
                let (gx, gy) = (20 + col * 16, y0 + line * 32);
                for _ in 0..2 + next(3) {
                    match next(3) {
                        0 => b.fill_rect(gx + next(12), gy, 3, 24, true),
                        1 => b.fill_rect(gx, gy + next(21), 14, 3, true),
                        _ => b.fill_rect(gx + next(10), gy + next(18), 4, 6, true),
                    }
                }
            }
        }
    }
    b
}

fn benches(c: &mut Criterion) {
    c.bench_function("code128_encode_22_digits", |b| b.iter(|| code128::encode(black_box(TRACKING)).unwrap()));

    let crop = code128_crop();
    assert_eq!(read_code128(&crop).as_deref(), Some(TRACKING));
    c.bench_function("read_code128_203dpi_crop", |b| b.iter(|| read_code128(black_box(&crop))));

    let label = label();
    assert!(find_2d_codes(&label).is_empty());
    c.bench_function("find_2d_codes_812x1218_label", |b| b.iter(|| find_2d_codes(black_box(&label))));
    // Where the time goes: one symbology at a time on the same label.
    for format in Format2d::ALL {
        c.bench_function(&format!("find_2d_codes_of_{format:?}"), |b| {
            b.iter(|| find_2d_codes_of(black_box(&label), &[format]))
        });
    }
}

criterion_group!(barcode, benches);
criterion_main!(barcode);
