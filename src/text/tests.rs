//! Text engine tests against the installed fonts (Debian: fonts-dejavu-core, fonts-noto-core,
//! fonts-noto-cjk, fonts-thai-tlwg). A test whose font is missing prints why and returns, unless
//! LABELD_REQUIRE_FONTS=1 (set by .ci/run, which installs them), where it fails.

use std::sync::{Arc, OnceLock};

use super::*;

fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts::load(&FontConfig::default()).expect("system fonts"))
}

/// True (and prints why) when `family` is not installed.
fn skip_without(family: &str) -> bool {
    if fonts().has_family(family) {
        return false;
    }
    skip(&format!("{family} is not installed"));
    true
}

/// Prints why a test cannot run here, or fails under LABELD_REQUIRE_FONTS=1.
fn skip(why: &str) {
    assert!(std::env::var("LABELD_REQUIRE_FONTS").as_deref() != Ok("1"), "LABELD_REQUIRE_FONTS=1 but {why}");
    println!("skipped: {why}");
}

fn style(size_px: f32) -> TextStyle {
    TextStyle {
        size_px,
        weight: Weight::Regular,
        line_height: 1.2,
    }
}

fn line_texts<'a>(text: &'a str, p: &Paragraph) -> Vec<&'a str> {
    p.lines.iter().map(|l| &text[l.range.clone()]).collect()
}

/// Lines tile the text in order and none is wider than `max` unless it holds a single cluster.
fn assert_well_formed(text: &str, p: &Paragraph, max: f32) {
    let mut expected_start = 0;
    for line in &p.lines {
        assert_eq!(
            line.range.start,
            expected_start,
            "lines must tile {text:?}: {:?}",
            line_texts(text, p)
        );
        expected_start = line.range.end;
        let clusters: std::collections::BTreeSet<u32> =
            line.glyphs.iter().map(|g| g.cluster).collect();
        assert!(
            // The breaker allows 1e-5 relative float noise (breaking.rs); so does this check.
            line.width <= max + max.abs() * 1e-5 + 1e-3 || clusters.len() <= 1,
            "line {:?} is {} wide, max {max}",
            &text[line.range.clone()],
            line.width
        );
        assert!(
            line.glyphs.iter().all(|g| g.id != 0),
            "no .notdef box in {:?}",
            &text[line.range.clone()]
        );
    }
    assert_eq!(
        expected_start,
        text.len(),
        "lines must cover all of {text:?}"
    );
}

fn faces_used(p: &Paragraph) -> Vec<String> {
    let mut names: Vec<String> = p
        .lines
        .iter()
        .flat_map(|l| l.glyphs.iter())
        .map(|g| fonts().face_name(g.face))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn latin_wraps_at_spaces_within_max_width() {
    if skip_without("DejaVu Sans") {
        return;
    }
    let text = "Jl. Jend. Sudirman Kav. 52-53, Senayan, Kebayoran Baru, Jakarta Selatan";
    let max = 260.0;
    let p = fonts().layout(text, &style(24.0), Some(max)).unwrap();
    assert!(p.lines.len() >= 3, "{:?}", line_texts(text, &p));
    assert_well_formed(text, &p, max);
    for line in &p.lines[1..] {
        assert_eq!(
            &text[line.range.start - 1..line.range.start],
            " ",
            "breaks only after a space"
        );
    }
    // Greedy: the next word would not have fitted on the previous line.
    let unbroken = fonts().layout(text, &style(24.0), None).unwrap();
    assert_eq!(unbroken.lines.len(), 1);
    assert!(unbroken.width > max);
    assert!((p.width - p.lines.iter().map(|l| l.width).fold(0.0, f32::max)).abs() < 1e-3);
}

#[test]
fn trailing_spaces_do_not_count() {
    if skip_without("DejaVu Sans") {
        return;
    }
    let a = fonts().layout("Jakarta", &style(20.0), None).unwrap();
    let b = fonts().layout("Jakarta   ", &style(20.0), None).unwrap();
    assert!((a.width - b.width).abs() < 1e-3);
    assert_eq!(a.lines[0].glyphs.len(), b.lines[0].glyphs.len());
}

#[test]
fn long_word_breaks_between_clusters() {
    if skip_without("DejaVu Sans") {
        return;
    }
    let text = "SPX-ID-0123456789012345678901234567890";
    let p = fonts().layout(text, &style(20.0), Some(120.0)).unwrap();
    assert!(p.lines.len() > 2, "{:?}", line_texts(text, &p));
    assert_well_formed(text, &p, 120.0);
}

/// True word boundaries of the Thai test strings (a superset: compound words may stay whole).
const THAI_WORDS: &[&str] = &[
    "สมชาย",
    "ใจ",
    "ดี",
    "ระวัง",
    "แตก",
    "กรุง",
    "เทพ",
    "มหา",
    "นคร",
];

/// Thai characters that can never start a line: they attach to the consonant before them.
fn thai_dependent(ch: char) -> bool {
    matches!(ch, '\u{0E30}'..='\u{0E3A}' | '\u{0E45}'..='\u{0E4E}')
}

fn thai_boundaries(text: &str) -> Vec<usize> {
    // Offsets between the known words, found by walking the text word by word.
    let mut out = vec![0];
    let mut at = 0;
    'outer: while at < text.len() {
        if text[at..].starts_with(' ') {
            at += 1;
            out.push(at);
            continue;
        }
        for w in THAI_WORDS {
            if text[at..].starts_with(w) {
                at += w.len();
                out.push(at);
                continue 'outer;
            }
        }
        panic!("test text has a word outside THAI_WORDS at {at}");
    }
    out
}

#[test]
fn thai_wraps_at_word_boundaries() {
    if skip_without("Noto Sans Thai") {
        return;
    }
    for text in [
        "สมชาย ใจดี ระวังแตก กรุงเทพมหานคร",
        "สมชายใจดีระวังแตกกรุงเทพมหานครสมชายใจดีระวังแตก",
    ] {
        let allowed = thai_boundaries(text);
        let full = fonts().layout(text, &style(30.0), None).unwrap();
        // Every dictionary word fits a line, so no line may be broken inside one.
        let widest = ["สมชาย", "ใจดี", "ระวังแตก", "กรุงเทพมหานคร"]
            .iter()
            .map(|w| fonts().layout(w, &style(30.0), None).unwrap().width)
            .fold(0.0, f32::max);
        for max in [widest, widest * 1.3, widest * 1.7] {
            let p = fonts().layout(text, &style(30.0), Some(max)).unwrap();
            assert!(
                p.lines.len() >= 2 && full.width > max,
                "{max}: {:?}",
                line_texts(text, &p)
            );
            assert_well_formed(text, &p, max);
            for line in &p.lines[1..] {
                let at = line.range.start;
                assert!(
                    allowed.contains(&at),
                    "break at {at} is not a word boundary: {:?}",
                    line_texts(text, &p)
                );
                let first = text[at..].chars().next().unwrap();
                assert!(
                    !thai_dependent(first),
                    "line starts with a dependent vowel/mark"
                );
            }
        }
        let faces = faces_used(&full);
        assert!(
            faces.iter().all(|f| f.starts_with("NotoSansThai")),
            "{faces:?}"
        );
    }
}

#[test]
fn vietnamese_shapes_without_missing_glyphs() {
    if skip_without("DejaVu Sans") {
        return;
    }
    let text = "Nguyễn Thị Hương, Phường Bến Nghé, Quận 1";
    let p = fonts().layout(text, &style(24.0), None).unwrap();
    assert_well_formed(text, &p, f32::INFINITY);
    assert_eq!(faces_used(&p), vec!["DejaVuSans".to_string()]);
    // Decomposed input (e + combining marks) stays in one face too.
    let decomposed = "Nguye\u{0302}\u{0303}n";
    let p = fonts().layout(decomposed, &style(24.0), None).unwrap();
    assert!(p.lines[0].glyphs.iter().all(|g| g.id != 0));
}

#[test]
fn japanese_wraps_between_ideographs_in_jp_face() {
    if skip_without("Noto Sans CJK JP") {
        return;
    }
    let text = "山田 花子 東京都渋谷区神南一丁目２３番１０号";
    let max = 150.0;
    let p = fonts().layout(text, &style(24.0), Some(max)).unwrap();
    assert_well_formed(text, &p, max);
    assert!(p.lines.len() >= 3);
    let mid_word = p.lines[1..]
        .iter()
        .any(|l| !text[..l.range.start].ends_with(' '));
    assert!(
        mid_word,
        "breaks between ideographs, not only at spaces: {:?}",
        line_texts(text, &p)
    );
    // Kana in the paragraph → the Japanese face for the Han too.
    let kana = fonts().layout("やまだ 山田", &style(24.0), None).unwrap();
    assert!(
        faces_used(&kana)
            .iter()
            .all(|f| f.to_uppercase().contains("JP")),
        "{:?}",
        faces_used(&kana)
    );
}

#[test]
fn chinese_wraps_between_ideographs_in_sc_face() {
    if skip_without("Noto Sans CJK SC") {
        return;
    }
    let text = "北京市朝阳区建国路88号中国国际贸易中心";
    let max = 120.0;
    let p = fonts().layout(text, &style(24.0), Some(max)).unwrap();
    assert_well_formed(text, &p, max);
    assert!(p.lines.len() >= 3, "{:?}", line_texts(text, &p));
    let han_faces: Vec<String> = p
        .lines
        .iter()
        .flat_map(|l| l.glyphs.iter())
        .filter(|g| {
            text[g.cluster as usize..]
                .chars()
                .next()
                .is_some_and(|c| c > '\u{2E80}')
        })
        .map(|g| fonts().face_name(g.face))
        .collect();
    assert!(
        han_faces.iter().all(|f| f.to_uppercase().contains("SC")),
        "{han_faces:?}"
    );
    // Hangul prefers the Korean face.
    let ko = fonts().layout("서울특별시", &style(24.0), None).unwrap();
    assert!(
        faces_used(&ko)
            .iter()
            .all(|f| f.to_uppercase().contains("KR")),
        "{:?}",
        faces_used(&ko)
    );
}

#[test]
fn private_use_char_is_missing_glyph_with_offset() {
    let text = "Ship to: ab\u{E000}c";
    let err = fonts().layout(text, &style(20.0), None).unwrap_err();
    assert_eq!(
        err,
        TextError::MissingGlyph {
            ch: '\u{E000}',
            offset: 11
        }
    );
    assert!(!fonts().covers('\u{E000}', Weight::Regular));
    let after_thai = "สมชาย\u{E000}";
    let err = fonts().layout(after_thai, &style(20.0), None).unwrap_err();
    assert_eq!(
        err,
        TextError::MissingGlyph {
            ch: '\u{E000}',
            offset: "สมชาย".len()
        }
    );
}

#[test]
fn invisible_characters_draw_nothing() {
    if skip_without("DejaVu Sans") {
        return;
    }
    let text = "A\u{200B}B\u{200D}C\u{FE0F}\u{0007}D\u{FEFF}";
    let p = fonts().layout(text, &style(20.0), None).unwrap();
    let glyphs = &p.lines[0].glyphs;
    assert_eq!(glyphs.len(), 4, "{glyphs:?}");
    assert!(glyphs.iter().all(|g| g.id != 0));
    assert!(fonts().covers('\u{200D}', Weight::Regular));
    // ZWSP is a break opportunity.
    let q = fonts()
        .layout("WWWWWW\u{200B}WWWWWW", &style(20.0), Some(120.0))
        .unwrap();
    assert_eq!(q.lines.len(), 2);
    assert_eq!(q.lines[1].range.start, "WWWWWW\u{200B}".len());
}

#[test]
fn hard_breaks_split_lines_and_ranges_tile() {
    if skip_without("DejaVu Sans") {
        return;
    }
    let text = "Line one\nLine two\r\n\nLast\n";
    let st = style(20.0);
    let p = fonts().layout(text, &st, None).unwrap();
    assert_eq!(
        line_texts(text, &p),
        vec!["Line one\n", "Line two\r\n", "\n", "Last\n"]
    );
    assert_well_formed(text, &p, f32::INFINITY);
    assert_eq!(p.lines[2].glyphs.len(), 0);
    let step = st.line_height * st.size_px;
    for pair in p.lines.windows(2) {
        assert!((pair[1].baseline - pair[0].baseline - step).abs() < 1e-3);
    }
    assert!(p.height > 3.0 * step && p.height < 4.0 * step + st.size_px);
    assert_eq!(fonts().layout("", &st, None).unwrap().lines.len(), 0);
}

#[test]
fn vertical_metrics_follow_primary_face() {
    if skip_without("DejaVu Sans") {
        return;
    }
    let p = fonts().layout("Hg", &style(100.0), None).unwrap();
    // DejaVu Sans: ascender 1901, descender -483 per 2048 units.
    assert!(
        (p.lines[0].baseline - 100.0 * 1901.0 / 2048.0).abs() < 0.01,
        "{}",
        p.lines[0].baseline
    );
    assert!(
        (p.height - 100.0 * (1901.0 + 483.0) / 2048.0).abs() < 0.01,
        "{}",
        p.height
    );
}

#[test]
fn bold_uses_the_bold_face() {
    if skip_without("DejaVu Sans") {
        return;
    }
    let bold = TextStyle {
        weight: Weight::Bold,
        ..style(20.0)
    };
    let p = fonts().layout("Bold", &bold, None).unwrap();
    assert_eq!(faces_used(&p), vec!["DejaVuSans-Bold".to_string()]);
    let regular = fonts().layout("Bold", &style(20.0), None).unwrap();
    assert!(p.width > regular.width);
}

#[test]
fn glyph_mask_is_drawn_and_cached() {
    if skip_without("DejaVu Sans") {
        return;
    }
    let p = fonts().layout("A", &style(40.0), None).unwrap();
    let g = p.lines[0].glyphs[0];
    let mask = fonts().glyph_mask(g.face, g.id, 40.0);
    assert!(
        mask.width > 10 && mask.height > 20,
        "{}x{}",
        mask.width,
        mask.height
    );
    assert_eq!(mask.coverage.len(), (mask.width * mask.height) as usize);
    assert!(mask.coverage.iter().filter(|&&c| c >= 128).count() > 50);
    // 'A' sits on the baseline: its mask ends there and starts about a cap height above.
    assert_eq!(mask.top + mask.height as i32, 0);
    assert!(mask.top < -25);
    let again = fonts().glyph_mask(g.face, g.id, 40.0);
    assert!(Arc::ptr_eq(&mask, &again));
    let space = fonts().layout(" A", &style(40.0), None).unwrap().lines[0].glyphs[0];
    assert_eq!(
        fonts()
            .glyph_mask(space.face, space.id, 40.0)
            .coverage
            .len(),
        0
    );
}

#[test]
fn cjk_outlines_rasterize() {
    if skip_without("Noto Sans CJK SC") {
        return;
    }
    let p = fonts().layout("国", &style(32.0), None).unwrap();
    let g = p.lines[0].glyphs[0];
    let mask = fonts().glyph_mask(g.face, g.id, 32.0);
    let black = mask.coverage.iter().filter(|&&c| c >= 128).count();
    assert!(black > 100, "{black}");
    let (data, index) = fonts().face_data(g.face);
    assert!(data.len() > 1_000_000);
    assert!(ttf_parser::Face::parse(&data, index).is_ok());
}

#[test]
fn configured_dir_without_system_fonts() {
    let dir = std::path::PathBuf::from("/usr/share/fonts/truetype/dejavu");
    if !dir.join("DejaVuSans.ttf").exists() {
        skip(&format!("DejaVu Sans is not installed in {}", dir.display()));
        return;
    }
    let fonts = Fonts::load(&FontConfig {
        dirs: vec![dir],
        no_system: true,
        no_builtin: true,
        index_cache: None,
    })
    .unwrap();
    assert!(fonts.layout("Hello", &style(20.0), None).is_ok());
    let err = fonts.layout("Hi สมชาย", &style(20.0), None).unwrap_err();
    assert_eq!(
        err,
        TextError::MissingGlyph {
            ch: 'ส', offset: 3
        }
    );

    let empty = std::env::temp_dir().join(format!("labeld-no-fonts-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let err = Fonts::load(&FontConfig {
        dirs: vec![empty.clone()],
        no_system: true,
        no_builtin: true,
        index_cache: None,
    })
    .err();
    assert!(matches!(err, Some(TextError::NoFonts { .. })));
    let _ = std::fs::remove_dir(&empty);
}

#[test]
fn coverage_report_names_faces() {
    if skip_without("DejaVu Sans") {
        return;
    }
    let report = fonts().coverage_report();
    let latin = report.iter().find(|(s, _)| s == "Latin").unwrap();
    assert_eq!(latin.1.as_deref(), Some("DejaVuSans"));
    if !skip_without("Noto Sans Thai") {
        let thai = report.iter().find(|(s, _)| s == "Thai").unwrap();
        assert_eq!(thai.1.as_deref(), Some("NotoSansThai-Regular"));
    }
}

#[test]
fn fonts_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Fonts>();
}

mod props {
    use super::*;
    use proptest::prelude::*;

    const ALPHABET: &[&str] = &[
        "a", "Z", "0", " ", " ", "-", ".", "é", "ễ", "ư", "ß", "Ж", "Ω", "ก", "ข", "า", "ี", "่",
        "เ", "ไ", "山", "田", "東", "京", "あ", "カ", "한", "\u{200B}", "\u{200D}", "\n", "\t",
        "（", "、", "W", "m",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
        #[test]
        fn lines_fit_and_tile(parts in prop::collection::vec(0..ALPHABET.len(), 0..60), max in 5.0f32..300.0) {
            let text: String = parts.iter().map(|&i| ALPHABET[i]).collect();
            let p = fonts().layout(&text, &style(18.0), Some(max)).unwrap();
            assert_well_formed(&text, &p, max);
        }
    }
}

#[test]
fn builtin_dejavu_renders_latin_and_vietnamese_without_any_installed_font() {
    let fonts = Fonts::load(&FontConfig {
        dirs: vec![],
        no_system: true,
        no_builtin: false,
        index_cache: None,
    })
    .unwrap();
    assert!(fonts.layout("Nguyễn Văn An, Quận 1", &style(20.0), None).is_ok());
    let bold = TextStyle { weight: Weight::Bold, ..style(20.0) };
    assert!(fonts.layout("PICK UP", &bold, None).is_ok());
    let err = fonts.layout("Hi สมชาย", &style(20.0), None).unwrap_err();
    assert_eq!(err, TextError::MissingGlyph { ch: 'ส', offset: 3 });
}
