//! The detection copy of a text: folded so that disguises look like what they disguise.
//!
//! Rules never look at the printed text directly. They look at a [`Normalized`] copy in which fullwidth,
//! circled and mathematical letters are plain ASCII (NFKC), case is folded, invisible characters are gone,
//! Cyrillic and Greek look-alikes are Latin, keycap emoji are digits, spelled-out separators ("dot", "[dot]",
//! "點", "punto", "titik", "[at]") are `.` and `@`, and letters spaced apart ("w h a t s a p p") are joined.
//! Every byte of the copy remembers which bytes of the original it came from, so a finding in the copy is
//! reported as a span of the original text. The original is never changed.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// A folded copy of a text with a byte map back to the original.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The folded text the rules read.
    pub text: String,
    /// For each byte of `text`, the original byte range of the character it came from; empty when the text
    /// is the original folded byte for byte (an ASCII text no rewrite touched), where byte i came from i.
    origin: Vec<(u32, u32)>,
}

impl Normalized {
    /// Folds `original` for detection.
    pub fn new(original: &str) -> Normalized {
        let folded = fold_chars(original);
        if !folded.text.is_ascii() || folded.text.bytes().any(|b| matches!(b, b' ' | b'[' | b'(' | b'{' | b'<')) {
            // The rewrites below only ever match around spaces, brackets or non-ASCII words; most fields
            // (SKUs, ids, postcodes) skip them.
            let joined = join_spaced_letters(folded);
            rewrite_separators(joined)
        } else {
            folded
        }
    }

    /// The original byte span a range of the folded text came from. Always on character boundaries of the
    /// original.
    pub fn original_span(&self, r: Range<usize>) -> Range<usize> {
        if self.text.is_empty() {
            return 0..0;
        }
        let start = r.start.min(self.text.len() - 1);
        let last = r.end.saturating_sub(1).clamp(start, self.text.len() - 1);
        let a = self.origin_of(start).0 as usize;
        let b = self.origin_of(last).1 as usize;
        a..b.max(a)
    }

    /// The original byte range byte `i` of the text came from.
    fn origin_of(&self, i: usize) -> (u32, u32) {
        if self.origin.is_empty() { (i as u32, i as u32 + 1) } else { self.origin[i] }
    }

    /// Length of the folded text in bytes.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn push(&mut self, c: char, from: (u32, u32)) {
        self.text.push(c);
        for _ in 0..c.len_utf8() {
            self.origin.push(from);
        }
    }

    fn with_capacity(n: usize) -> Normalized {
        Normalized { text: String::with_capacity(n), origin: Vec::with_capacity(n) }
    }
}

/// Characters that print as nothing (or nothing a reader notices) and are dropped from the copy:
/// zero-width spaces and joiners, bidi controls, soft hyphens, variation selectors, the combining keycap
/// (so "1️⃣" folds to "1"), tag characters and emoji skin-tone modifiers.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180E}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{20E3}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{1F3FB}'..='\u{1F3FF}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Latin letters that other scripts draw identically (after lower-casing).
fn homoglyph(c: char) -> char {
    match c {
        // Cyrillic
        'а' => 'a', 'в' => 'b', 'е' | 'ё' => 'e', 'к' => 'k', 'м' => 'm', 'н' => 'h', 'о' => 'o', 'р' => 'p',
        'с' => 'c', 'т' => 't', 'у' => 'y', 'х' => 'x', 'ѕ' => 's', 'і' | 'ї' => 'i', 'ј' => 'j', 'ԁ' => 'd',
        'ԛ' => 'q', 'ԝ' => 'w', 'һ' => 'h', 'ӏ' => 'l', 'ɡ' => 'g', 'ı' => 'i', 'ո' => 'n', 'ս' => 'u',
        // Greek
        'α' => 'a', 'β' => 'b', 'ε' => 'e', 'η' => 'n', 'ι' => 'i', 'κ' => 'k', 'ν' => 'v', 'ο' => 'o', 'ρ' => 'p',
        'τ' => 't', 'υ' => 'u', 'χ' => 'x', 'ω' => 'w', 'ϲ' | 'ς' => 'c', 'ϳ' => 'j',
        // Separators that stand in for ASCII ones
        '。' | '｡' | '・' | '·' | '•' | '∙' | '․' => '.',
        '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | '﹣' | 'ー' => '-',
        '﹫' => '@',
        // Thai digits
        '๐'..='๙' => char::from(b'0' + (c as u32 - '๐' as u32) as u8),
        // Regional-indicator letters (flag emoji halves) spell Latin letters
        '\u{1F1E6}'..='\u{1F1FF}' => char::from(b'a' + (c as u32 - 0x1F1E6) as u8),
        // Negative circled / squared capital letters (🅐, 🅰, 🄰) have no NFKC mapping
        '\u{1F150}'..='\u{1F169}' => char::from(b'a' + (c as u32 - 0x1F150) as u8),
        '\u{1F170}'..='\u{1F189}' => char::from(b'a' + (c as u32 - 0x1F170) as u8),
        '\u{1F130}'..='\u{1F149}' => char::from(b'a' + (c as u32 - 0x1F130) as u8),
        c if c.is_whitespace() => ' ',
        c => c,
    }
}

/// Latin letters lose their accents in the copy ("Ẃhatsapp", "síguenos", "mã giảm giá" are matched as
/// "whatsapp", "siguenos", "ma giam gia"), so rules are written once, without accents, and also catch text
/// typed without them.
fn strip_latin_marks(c: char) -> Option<char> {
    match c {
        'đ' => Some('d'),
        'ø' => Some('o'),
        'ł' => Some('l'),
        '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}' => std::iter::once(c).nfd().next().filter(char::is_ascii_alphabetic),
        _ => None,
    }
}

fn is_combining_latin_mark(c: char) -> bool {
    matches!(c, '\u{300}'..='\u{36F}')
}

/// Pass 1, character by character: NFKC, lower case, homoglyphs, invisible characters dropped.
fn fold_chars(original: &str) -> Normalized {
    if original.is_ascii() {
        // Most fields: one byte in, one byte out, so no byte map is kept (see `origin`).
        let mut text = original.to_ascii_lowercase();
        if text.bytes().any(|b| b.is_ascii_whitespace() && b != b' ') {
            text = text.replace(|c: char| c.is_ascii_whitespace(), " ");
        }
        return Normalized { text, origin: Vec::new() };
    }
    let mut out = Normalized::with_capacity(original.len() + 8);
    for (i, c) in original.char_indices() {
        let from = (i as u32, (i + c.len_utf8()) as u32);
        if c.is_ascii() {
            out.push(fold_ascii(c), from);
            continue;
        }
        if is_invisible(c) {
            continue;
        }
        // Most characters of Chinese, Thai or Vietnamese text are their own NFKC, which the quick check says
        // without building a decomposition.
        if is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes {
            fold_nfkc_char(c, from, &mut out);
        } else {
            for k in std::iter::once(c).nfkc() {
                fold_nfkc_char(k, from, &mut out);
            }
        }
    }
    out
}

/// Pass 1 for one character of a character's NFKC, which came from the original bytes `from`.
fn fold_nfkc_char(k: char, from: (u32, u32), out: &mut Normalized) {
    if is_invisible(k) {
        return;
    }
    for l in k.to_lowercase() {
        match strip_latin_marks(l) {
            Some(base) => out.push(base, from),
            // A combining accent left over on a Latin letter ("w\u{301}") is dropped like a precomposed one.
            None if is_combining_latin_mark(l) && out.text.ends_with(|p: char| p.is_ascii_alphabetic()) => {}
            None => out.push(homoglyph(l), from),
        }
    }
}

/// An ASCII character folded: lower case, every whitespace a space.
fn fold_ascii(c: char) -> char {
    if c.is_ascii_whitespace() { ' ' } else { c.to_ascii_lowercase() }
}

/// Rebuilds `src` with some ranges replaced; a replacement maps to the whole original range it replaces.
fn rewrite(src: Normalized, edits: &[(Range<usize>, &str)]) -> Normalized {
    if edits.is_empty() {
        return src;
    }
    let mut out = Normalized::with_capacity(src.text.len());
    let mut at = 0;
    for (r, with) in edits {
        for (j, c) in src.text[at..r.start].char_indices() {
            out.push(c, src.origin_of(at + j));
        }
        let from = (src.origin_of(r.start).0, src.origin_of(r.end - 1).1);
        for c in with.chars() {
            out.push(c, from);
        }
        at = r.end;
    }
    for (j, c) in src.text[at..].char_indices() {
        out.push(c, src.origin_of(at + j));
    }
    out
}

/// "w h a t s a p p", "g m a i l . c o m", "微 信": three or more single characters separated by single spaces
/// are joined. Ordinary words are never single characters, so prose is left alone.
fn join_spaced_letters(src: Normalized) -> Normalized {
    static SPACED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?:^|[^\p{L}\p{N}])((?:[\p{L}\p{N}.@] ){2,}[\p{L}\p{N}.@])(?:$|[^\p{L}\p{N}])").unwrap());
    let mut edits = Vec::new();
    let mut from = 0;
    // Captures are the slow search: ask first whether there is anything to capture at all.
    if !may_be_spaced(&src.text) || !SPACED.is_match(&src.text) {
        from = src.text.len() + 1;
    }
    while from <= src.text.len()
        && let Some(c) = SPACED.captures_at(&src.text, from)
    {
        let m = c.get(1).unwrap();
        for (j, b) in m.as_str().bytes().enumerate() {
            if b == b' ' {
                edits.push((m.start() + j..m.start() + j + 1, ""));
            }
        }
        from = m.end();
    }
    let src = rewrite(src, &edits);
    // Two Chinese characters with a space between ("微 信") are one word: Chinese is written without spaces.
    static SPACED_HAN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\p{Han}(?: \p{Han})+").unwrap());
    let mut edits = Vec::new();
    let han = if src.text.is_ascii() { None } else { Some(SPACED_HAN.find_iter(&src.text)) };
    for m in han.into_iter().flatten() {
        for (j, b) in m.as_str().bytes().enumerate() {
            if b == b' ' {
                edits.push((m.start() + j..m.start() + j + 1, ""));
            }
        }
    }
    rewrite(src, &edits)
}

/// Whether `t` has three characters with single spaces between them that the spaced-letter pattern could join:
/// a scan that never says no where the pattern says yes (every non-ASCII character counts as a letter here),
/// so most fields skip the pattern, whose Unicode classes make even its yes-or-no search costly.
fn may_be_spaced(t: &str) -> bool {
    let joinable = |c: char| !c.is_ascii() || c.is_ascii_alphanumeric() || c == '.' || c == '@';
    if t.is_ascii() {
        // The same scan over bytes, which are the characters here.
        return t.as_bytes().windows(5).any(|w| w[1] == b' ' && w[3] == b' ' && [w[0], w[2], w[4]].iter().all(|&b| joinable(b.into())));
    }
    // The last four characters, oldest first.
    let mut last = ['\n'; 4];
    for c in t.chars() {
        if joinable(c) && last[3] == ' ' && joinable(last[2]) && last[1] == ' ' && joinable(last[0]) {
            return true;
        }
        last = [last[1], last[2], last[3], c];
    }
    false
}

/// The spelled-out separators [`rewrite_separators`] replaces.
static SEP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<dot> *[\[({<] *(?:dot|d0t|\.|punto|ponto|titik|cham|點|点|จุด|ดอท|ドット) *[\])}>] *",
        r"| +(?:dot|d0t|punto|ponto|titik|cham|จุด|ดอท|ドット) +",
        r"| *(?:點|点) *",
        r"| +\. +)",
        r"|(?P<at> *[\[({<] *(?:at|@|艾特) *[\])}>] *| +@ +| +(?:arroba|a cong|แอท|アットマ-ク|アットマーク|小老鼠) +|艾特)",
    ))
    .unwrap()
});

/// Spelled-out separators: "acme dot com", "acme[dot]com", "acme (.) com", "acme點com", "acme punto/ponto com",
/// "acme titik com", "acme chấm com", "acme จุด/ดอท com", "acme ドット jp", "acme . com" → "acme.com";
/// "name [at] host", "name(at)host", "name @ host", "name arroba/a còng/แอท/アットマーク/小老鼠 host" → "name@host".
fn rewrite_separators(src: Normalized) -> Normalized {
    let mut edits = Vec::new();
    if !may_have_separator(&src.text) || !SEP.is_match(&src.text) {
        return src;
    }
    for c in SEP.captures_iter(&src.text) {
        if let Some(m) = c.name("dot") {
            edits.push((m.range(), "."));
        } else if let Some(m) = c.name("at") {
            edits.push((m.range(), "@"));
        }
    }
    rewrite(src, &edits)
}

/// The words the separator pattern reads only between spaces.
const SPACED_SEPARATORS: &[&str] =
    &["dot", "d0t", "punto", "ponto", "titik", "cham", "จุด", "ดอท", "ドット", "arroba", "a cong", "แอท", "アットマ-ク", "アットマーク", "小老鼠"];

/// Whether `t` holds what every match of the separator pattern holds: a bracket, "點", "点" or "艾特", or a
/// spaced "." or "@" or word. A scan that never says no where the pattern matches, so most fields skip it.
fn may_have_separator(t: &str) -> bool {
    if t.bytes().any(|b| matches!(b, b'[' | b'(' | b'{' | b'<')) || (!t.is_ascii() && t.contains(['點', '点', '艾'])) {
        return true;
    }
    t.bytes().enumerate().filter(|&(_, b)| b == b' ').any(|(i, _)| {
        let rest = &t.as_bytes()[i + 1..];
        let spaced = |w: &[u8]| rest.first() == w.first() && rest.get(w.len()) == Some(&b' ') && rest.starts_with(w);
        spaced(b".") || spaced(b"@") || SPACED_SEPARATORS.iter().any(|w| spaced(w.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        Normalized::new(s).text
    }

    /// Every text of the rule corpora (the text is the last column).
    fn corpus_texts() -> Vec<String> {
        let mut out = vec![];
        for name in ["dev.tsv", "heldout.tsv", "independent-dev.tsv", "independent-heldout.tsv"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/comply").join(name);
            let text = std::fs::read_to_string(&path).unwrap();
            out.extend(text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).filter_map(|l| l.rsplit('\t').next()).map(str::to_string));
        }
        out
    }

    #[test]
    fn folds_disguises() {
        assert_eq!(n("ＷｈａｔｓＡｐｐ"), "whatsapp");
        assert_eq!(n("wһаtsаpp"), "whatsapp"); // Cyrillic һ, а
        assert_eq!(n("what\u{200B}s\u{200D}app"), "whatsapp");
        assert_eq!(n("ⓦⓦⓦ"), "www");
        assert_eq!(n("0️⃣1️⃣2️⃣"), "012");
        assert_eq!(n("w h a t s a p p"), "whatsapp");
        assert_eq!(n("acme dot com"), "acme.com");
        assert_eq!(n("acme[dot]com"), "acme.com");
        assert_eq!(n("acme (dot) com"), "acme.com");
        assert_eq!(n("acme點com"), "acme.com");
        assert_eq!(n("acme punto com"), "acme.com");
        assert_eq!(n("acme titik com"), "acme.com");
        assert_eq!(n("shop [at] acme.com"), "shop@acme.com");
        assert_eq!(n("www。acme。com"), "www.acme.com");
        assert_eq!(n("๐๘๑"), "081");
    }

    #[test]
    fn the_spaced_letter_scan_never_misses_what_the_pattern_joins() {
        for t in ["w h a t s a p p", "a b c", "x 微 信 y", "g m a i l . c o m", "1 2 3", "@ a b", "ａ ｂ ｃ"] {
            assert!(may_be_spaced(t), "{t}");
        }
        for t in ["fragile - handle with care", "no. 12, jln 3/4", "a b", "a  b  c", "x - y - z", ""] {
            assert!(!may_be_spaced(t), "{t}");
        }
        // Wherever the pattern joins letters, the scan said it might.
        for t in ["acme w h a t s a p p us", "(a b c)", "size s m l", "a-b c d e", "tel 0 1 2 3", "微 信 号"] {
            let n = Normalized::new(t);
            assert!(may_be_spaced(&fold_chars(t).text), "{t}");
            assert!(!n.text.contains(' ') || n.text.len() < t.len(), "{t} was not joined: {}", n.text);
        }
    }

    #[test]
    fn a_character_the_quick_check_passes_is_its_own_nfkc() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            if is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes {
                assert!(std::iter::once(c).nfkc().eq(std::iter::once(c)), "U+{:04X}", c as u32);
            }
        }
    }

    #[test]
    fn the_separator_scan_never_misses_what_the_pattern_rewrites() {
        for t in ["acme dot com", "acme[dot]com", "acme (.) com", "acme點com", "acme点 com", "acme punto com", "ab . cd", "xy @ zw", "name [at] host",
            "n(at)h", "n arroba h", "n a cong h", "n แอท h", "n アットマ-ク h", "n アットマーク h", "n 小老鼠 h", "艾特acme", "a จุด b", "a ドット b"] {
            assert!(SEP.is_match(t) && may_have_separator(t), "{t}");
        }
        for t in ["no. 12, jln 3/4", "dotcom", "a dot", "unit 5.02", "x@y", "lot 7, jalan pengapit 15/19", ""] {
            assert!(!may_have_separator(t), "{t}");
        }
        // Every folded text of the corpora the pattern matches, the scan lets through.
        for t in corpus_texts() {
            let t = fold_chars(&t).text;
            assert!(!SEP.is_match(&t) || may_have_separator(&t), "{t}");
        }
    }

    #[test]
    fn ascii_spans_map_back_without_a_byte_map() {
        let norm = Normalized::new("Call 0123456789");
        assert_eq!(norm.text, "call 0123456789");
        assert_eq!(norm.original_span(5..15), 5..15);
        assert_eq!(Normalized::new("SKU-1").original_span(0..99), 0..5);
        assert_eq!(Normalized::new("").original_span(0..1), 0..0);
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        assert_eq!(n("No. 12, Jln 3/4"), "no. 12, jln 3/4");
        assert_eq!(n("Unit 5.02"), "unit 5.02");
        assert_eq!(n("微波炉"), "微波炉");
    }

    #[test]
    fn spans_map_back_to_the_original() {
        let orig = "Visit ｗｗｗ．ａｃｍｅ．ｃｏｍ now";
        let norm = Normalized::new(orig);
        let at = norm.text.find("www.acme.com").unwrap();
        let span = norm.original_span(at..at + "www.acme.com".len());
        assert_eq!(&orig[span], "ｗｗｗ．ａｃｍｅ．ｃｏｍ");
        let orig = "acme [dot] com";
        let norm = Normalized::new(orig);
        assert_eq!(norm.text, "acme.com");
        assert_eq!(&orig[norm.original_span(0..norm.len())], orig);
    }
}
