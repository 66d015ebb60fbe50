//! Itemization: split a line of text into runs that one face and one script can shape.
//!
//! The unit is the extended grapheme cluster, so a combining mark always stays in its base's face.
//! Characters of a script (Thai, Han, ...) pick a face from that script's chain; neutral characters
//! (spaces, digits, punctuation) join the face of their neighbours when it has them, so "(山田)" keeps
//! its brackets in the CJK face instead of switching fonts around every symbol.

use std::ops::Range;

use icu_segmenter::GraphemeClusterSegmenter;
use unicode_script::{Script, UnicodeScript};

use super::fonts::{CjkFlavor, FontSet, ScriptClass};
use super::{FaceId, TextError, Weight};

/// A maximal piece of one line shaped with one face, script and direction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Run {
    pub range: Range<usize>,
    pub face: FaceId,
    pub script: Script,
    pub rtl: bool,
}

/// Characters that never draw anything: C0/C1 controls and Unicode's Default_Ignorable_Code_Point
/// (ZWSP, ZWJ/ZWNJ, bidi controls, variation selectors, BOM, tags, soft hyphen...). They need no
/// glyph, so they never cause a font switch, a missing-glyph error or a box.
pub(crate) fn is_invisible(ch: char) -> bool {
    ch.is_control() || is_default_ignorable(ch)
}

/// Unicode DerivedCoreProperties Default_Ignorable_Code_Point.
pub(crate) fn is_default_ignorable(ch: char) -> bool {
    matches!(ch as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// Scripts written right to left (shaped RTL; lines are not bidi-reordered across runs).
fn is_rtl(script: Script) -> bool {
    matches!(
        script,
        Script::Arabic
            | Script::Hebrew
            | Script::Syriac
            | Script::Thaana
            | Script::Nko
            | Script::Samaritan
            | Script::Mandaic
            | Script::Adlam
            | Script::Hanifi_Rohingya
            | Script::Mende_Kikakui
            | Script::Imperial_Aramaic
            | Script::Phoenician
    )
}

/// A script that selects a chain; Common/Inherited/Unknown do not.
fn strong_script(ch: char) -> Option<Script> {
    match ch.script() {
        Script::Common | Script::Inherited | Script::Unknown => None,
        s => Some(s),
    }
}

/// Han and kana mix freely in Japanese; splitting runs between them would only lose kerning.
fn same_run_script(a: Script, b: Script) -> bool {
    let cjk = |s| {
        matches!(
            s,
            Script::Han | Script::Hiragana | Script::Katakana | Script::Bopomofo
        )
    };
    a == b || (cjk(a) && cjk(b))
}

struct Cluster {
    range: Range<usize>,
    /// Script of the first visible character when it is a real script.
    script: Option<Script>,
    /// Nothing visible: controls and default-ignorables only.
    invisible: bool,
    face: Option<FaceId>,
}

/// Split `text[range]` (one hard line) into runs. A character no face covers is `MissingGlyph`.
pub(crate) fn itemize(
    fonts: &FontSet,
    text: &str,
    range: Range<usize>,
    weight: Weight,
    flavor: CjkFlavor,
) -> Result<Vec<Run>, TextError> {
    let line = &text[range.clone()];
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut prev = 0usize;
    for b in GraphemeClusterSegmenter::new().segment_str(line) {
        if b == 0 {
            continue;
        }
        let s = &line[prev..b];
        let first_visible = s.chars().find(|&c| !is_invisible(c));
        clusters.push(Cluster {
            range: range.start + prev..range.start + b,
            script: first_visible.and_then(strong_script),
            invisible: first_visible.is_none(),
            face: None,
        });
        prev = b;
    }

    // Pass 1: clusters of a real script take the first face of their chain that covers them. A
    // cluster no single face draws (a Thai mark after a Latin letter...) is split into characters.
    let mut resolved: Vec<Cluster> = Vec::with_capacity(clusters.len());
    for mut c in clusters {
        if let Some(script) = c.script {
            let s = &text[c.range.clone()];
            match fonts.face_for_cluster(s, ScriptClass::of(script), weight, flavor) {
                Some(face) => c.face = Some(face),
                None => {
                    split_cluster(fonts, text, &c, weight, flavor, &mut resolved)?;
                    continue;
                }
            }
        }
        resolved.push(c);
    }
    let clusters = resolved;

    // Pass 2: neutral clusters join the previous face, else the next, else the Latin chain.
    let mut next_face: Vec<Option<FaceId>> = vec![None; clusters.len()];
    let mut upcoming = None;
    for i in (0..clusters.len()).rev() {
        next_face[i] = upcoming;
        if clusters[i].script.is_some() {
            upcoming = clusters[i].face;
        }
    }
    let mut resolved: Vec<Cluster> = Vec::with_capacity(clusters.len());
    let mut previous: Option<FaceId> = None;
    for (i, mut c) in clusters.into_iter().enumerate() {
        if c.face.is_none() {
            let s = &text[c.range.clone()];
            if c.invisible {
                c.face = previous.or(next_face[i]).or(Some(fonts.primary()));
            } else {
                let neighbour = [previous, next_face[i]]
                    .into_iter()
                    .flatten()
                    .find(|&f| fonts.covers_cluster(f, s));
                c.face = neighbour
                    .or_else(|| fonts.face_for_cluster(s, ScriptClass::Latin, weight, flavor));
                if c.face.is_none() {
                    let before = resolved.len();
                    split_cluster(fonts, text, &c, weight, flavor, &mut resolved)?;
                    previous = resolved[before..]
                        .iter()
                        .rev()
                        .find_map(|c| c.face)
                        .or(previous);
                    continue;
                }
            }
        }
        previous = c.face;
        resolved.push(c);
    }
    let clusters = resolved;

    // Merge into runs: same face and a compatible script.
    let mut runs: Vec<Run> = Vec::new();
    for c in &clusters {
        let Some(face) = c.face else { continue };
        if let Some(last) = runs.last_mut() {
            let script_ok = match c.script {
                None => true,
                Some(s) => last.script == Script::Common || same_run_script(last.script, s),
            };
            if last.face == face && script_ok {
                if last.script == Script::Common
                    && let Some(s) = c.script
                {
                    last.script = s;
                    last.rtl = is_rtl(s);
                }
                last.range.end = c.range.end;
                continue;
            }
        }
        let script = c.script.unwrap_or(Script::Common);
        runs.push(Run {
            range: c.range.clone(),
            face,
            script,
            rtl: is_rtl(script),
        });
    }
    for run in runs.iter_mut() {
        if run.script == Script::Common {
            // A run of digits and punctuation only: shape it as Latin (left to right).
            run.script = Script::Latin;
        }
    }
    Ok(runs)
}

/// Resolve each character of `c` on its own; only a character no face has at all is an error.
fn split_cluster(
    fonts: &FontSet,
    text: &str,
    c: &Cluster,
    weight: Weight,
    flavor: CjkFlavor,
    out: &mut Vec<Cluster>,
) -> Result<(), TextError> {
    for (i, ch) in text[c.range.clone()].char_indices() {
        let start = c.range.start + i;
        let range = start..start + ch.len_utf8();
        if is_invisible(ch) {
            out.push(Cluster {
                range,
                script: None,
                invisible: true,
                face: out.last().and_then(|p| p.face),
            });
            continue;
        }
        let script = strong_script(ch);
        let class = script.map_or(ScriptClass::Latin, ScriptClass::of);
        let s = &text[range.clone()];
        let face = fonts
            .face_for_cluster(s, class, weight, flavor)
            .ok_or(TextError::MissingGlyph { ch, offset: start })?;
        out.push(Cluster {
            range,
            script,
            invisible: false,
            face: Some(face),
        });
    }
    Ok(())
}
