//! Shaping: each run through rustybuzz with its face, script and direction; advances scaled to px.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, RwLock};

use rustybuzz::{Direction, ShapePlan, UnicodeBuffer};

use super::fonts::FontSet;
use super::itemize::{Run, is_invisible};
use super::{FaceId, TextError};

/// One shaped glyph in pixels. Offsets are y-down.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShapedGlyph {
    pub face: FaceId,
    pub id: u16,
    pub advance: f32,
    pub x_offset: f32,
    pub y_offset: f32,
    /// Byte offset of the cluster in the source text.
    pub cluster: usize,
}

type PlanKey = (FaceId, u32, bool);

/// Shape plans are slow to build and depend only on face, script and direction: keep them.
#[derive(Default)]
pub(crate) struct PlanCache(RwLock<HashMap<PlanKey, Arc<ShapePlan>>>);

impl PlanCache {
    fn get(
        &self,
        face: &rustybuzz::Face<'_>,
        key: PlanKey,
        script: rustybuzz::Script,
        dir: Direction,
    ) -> Arc<ShapePlan> {
        if let Some(plan) = self.0.read().ok().and_then(|m| m.get(&key).cloned()) {
            return plan;
        }
        let plan = Arc::new(ShapePlan::new(face, dir, Some(script), None, &[]));
        if let Ok(mut map) = self.0.write() {
            return map.entry(key).or_insert(plan).clone();
        }
        plan
    }
}

fn rb_script(script: unicode_script::Script) -> rustybuzz::Script {
    let tag = rustybuzz::ttf_parser::Tag::from_bytes_lossy(script.short_name().as_bytes());
    rustybuzz::Script::from_iso15924_tag(tag).unwrap_or(rustybuzz::script::LATIN)
}

/// Shape the runs of one hard line (`line`), appending glyphs in run order (visual order inside an
/// RTL run). Invisible characters produce no glyph.
pub(crate) fn shape_line(
    fonts: &FontSet,
    plans: &PlanCache,
    text: &str,
    line: Range<usize>,
    runs: &[Run],
    size_px: f32,
    out: &mut Vec<ShapedGlyph>,
) -> Result<(), TextError> {
    let mut buffer = UnicodeBuffer::new();
    for run in runs {
        let Some(loaded) = fonts.loaded(run.face) else {
            // Itemization only hands out faces that loaded; keep the error honest anyway.
            let (offset, ch) = text[run.range.clone()]
                .char_indices()
                .next()
                .unwrap_or((0, '\u{FFFD}'));
            return Err(TextError::MissingGlyph {
                ch,
                offset: run.range.start + offset,
            });
        };
        let face = loaded.rb();
        let scale = loaded.scale(size_px);
        let script = rb_script(run.script);
        let dir = if run.rtl {
            Direction::RightToLeft
        } else {
            Direction::LeftToRight
        };

        buffer.set_pre_context(&text[line.start..run.range.start]);
        for (i, ch) in text[run.range.clone()].char_indices() {
            let cluster = (run.range.start + i) as u32;
            match ch {
                // A tab is as wide as a space on a label; other controls draw nothing.
                '\t' => buffer.add(' ', cluster),
                c if c.is_control() => {}
                c => buffer.add(c, cluster),
            }
        }
        buffer.set_post_context(&text[run.range.end..line.end]);
        buffer.set_script(script);
        buffer.set_direction(dir);
        let plan = plans.get(
            face,
            (run.face, script.tag().as_u32(), run.rtl),
            script,
            dir,
        );
        let shaped = rustybuzz::shape_with_plan(face, &plan, buffer);
        let infos = shaped.glyph_infos();
        for (info, pos) in infos.iter().zip(shaped.glyph_positions()) {
            let cluster = info.cluster as usize;
            let id = info.glyph_id as u16;
            if id == 0 {
                // Itemization checked every visible character, so a .notdef here stands for an
                // invisible one merged into the cluster (a variation selector the font lacks).
                let next = infos
                    .iter()
                    .map(|i| i.cluster as usize)
                    .filter(|&c| c > cluster)
                    .min();
                let cluster_text = &text[cluster..next.unwrap_or(run.range.end).min(run.range.end)];
                match cluster_text
                    .char_indices()
                    .find(|&(_, c)| !is_invisible(c) && !loaded.has_char(c))
                {
                    None => continue,
                    Some((i, ch)) => {
                        return Err(TextError::MissingGlyph {
                            ch,
                            offset: cluster + i,
                        });
                    }
                }
            }
            // HarfBuzz hides default-ignorables as a zero-width space glyph: no ink, no advance, drop it.
            if pos.x_advance == 0
                && face
                    .glyph_bounding_box(rustybuzz::ttf_parser::GlyphId(id))
                    .is_none()
            {
                continue;
            }
            out.push(ShapedGlyph {
                face: run.face,
                id,
                advance: pos.x_advance as f32 * scale,
                x_offset: pos.x_offset as f32 * scale,
                y_offset: -(pos.y_offset as f32) * scale,
                cluster,
            });
        }
        buffer = shaped.clear();
    }
    Ok(())
}
