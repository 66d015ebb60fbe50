//! Text engine: lay out a typical recipient address block (shape + break) and rasterize its glyphs.

use criterion::{Criterion, criterion_group, criterion_main};
use labeld::text::{FontConfig, Fonts, TextStyle, Weight};

/// Address blocks as they come from TikTok Shop / Shopee / Lazada orders.
const BLOCKS: &[(&str, &str)] = &[
    (
        "latin",
        "Budi Santoso\n+62 812 3456 7890\nJl. Jend. Sudirman Kav. 52-53, RT 005/RW 003\nSenayan, Kebayoran Baru\n\
         Jakarta Selatan, DKI Jakarta 12190, Indonesia",
    ),
    (
        "thai",
        "สมชาย ใจดี\n081-234-5678\n99/123 หมู่บ้านสวนหลวง ซอยอ่อนนุช 17 ถนนสุขุมวิท\nแขวงสวนหลวง เขตสวนหลวง\n\
         กรุงเทพมหานคร 10250",
    ),
    ("cjk", "王小明\n138 0013 8000\n北京市朝阳区建国路88号\nSOHO现代城A座1205室\n北京 100022"),
];

fn bench(c: &mut Criterion) {
    let fonts = Fonts::load(&FontConfig::default()).expect("fonts installed");
    // 203 dpi: 10 pt text is about 28 dots; the address box is about 90 mm (720 dots) wide.
    let style = TextStyle { size_px: 28.0, weight: Weight::Regular, line_height: 1.2 };
    for (name, text) in BLOCKS {
        // Warm the lazily loaded faces and shape plans: the daemon pays that once.
        let p = fonts.layout(text, &style, Some(720.0)).expect("address lays out");
        c.bench_function(&format!("layout_address_{name}"), |b| {
            b.iter(|| fonts.layout(std::hint::black_box(text), &style, Some(720.0)).unwrap())
        });
        c.bench_function(&format!("glyph_masks_cached_{name}"), |b| {
            b.iter(|| {
                for line in &p.lines {
                    for g in &line.glyphs {
                        std::hint::black_box(fonts.glyph_mask(g.face, g.id, style.size_px));
                    }
                }
            })
        });
    }
    let p = fonts.layout(BLOCKS[0].1, &style, Some(720.0)).unwrap();
    let mut size = 20.0f32;
    c.bench_function("glyph_masks_rasterize_latin", |b| {
        b.iter(|| {
            // A fresh size each time, so every mask is rasterized rather than found in the cache.
            size += 1.0 / 64.0;
            for line in &p.lines {
                for g in &line.glyphs {
                    std::hint::black_box(fonts.glyph_mask(g.face, g.id, size));
                }
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
