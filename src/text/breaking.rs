//! Line breaking: UAX #14 break opportunities from ICU4X (with its dictionary for Thai, Lao, Khmer and
//! Burmese, which put no spaces between words; ideographs break between each other), then a greedy fill
//! measured with the shaped advances. A line's trailing spaces do not count against the width.

use std::ops::Range;

use icu_segmenter::LineSegmenterBorrowed;

use super::shape::ShapedGlyph;

/// Shaped width per cluster of one hard line, sorted by source offset.
pub(crate) struct ClusterWidths {
    starts: Vec<usize>,
    /// prefix[i] = advance of clusters 0..i.
    prefix: Vec<f32>,
    /// trimmed[j] = end index after dropping trailing whitespace clusters from 0..j.
    trimmed: Vec<usize>,
}

/// Spaces that may hang at a line end; no-break spaces are content.
fn is_hanging_space(ch: char) -> bool {
    ch.is_whitespace() && !matches!(ch, '\u{A0}' | '\u{2007}' | '\u{202F}')
}

impl ClusterWidths {
    pub(crate) fn new(text: &str, glyphs: &[ShapedGlyph]) -> ClusterWidths {
        let mut pairs: Vec<(usize, f32)> = glyphs.iter().map(|g| (g.cluster, g.advance)).collect();
        pairs.sort_by_key(|p| p.0);
        let mut starts: Vec<usize> = Vec::with_capacity(pairs.len());
        let mut prefix: Vec<f32> = Vec::with_capacity(pairs.len() + 1);
        prefix.push(0.0);
        for (cluster, advance) in pairs {
            if starts.last() == Some(&cluster) {
                if let Some(last) = prefix.last_mut() {
                    *last += advance;
                }
            } else {
                starts.push(cluster);
                let total = prefix.last().copied().unwrap_or(0.0);
                prefix.push(total + advance);
            }
        }
        let mut trimmed = Vec::with_capacity(starts.len() + 1);
        trimmed.push(0);
        for (i, &s) in starts.iter().enumerate() {
            let space = text[s..].chars().next().is_some_and(is_hanging_space);
            let t = if space { trimmed[i] } else { i + 1 };
            trimmed.push(t);
        }
        ClusterWidths {
            starts,
            prefix,
            trimmed,
        }
    }

    /// Index of the first cluster starting at or after `offset`.
    fn index(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s < offset)
    }

    /// Width of clusters `from..to` (indices) without the trailing spaces.
    fn width_idx(&self, from: usize, to: usize) -> f32 {
        let end = self.trimmed[to];
        if end > from {
            self.prefix[end] - self.prefix[from]
        } else {
            0.0
        }
    }

    /// Width of the text `range` without its trailing spaces.
    pub(crate) fn width(&self, range: Range<usize>) -> f32 {
        self.width_idx(self.index(range.start), self.index(range.end))
    }

    /// Source offset where the trailing spaces of `range` begin (range.end when there are none).
    pub(crate) fn trimmed_end(&self, range: Range<usize>) -> usize {
        let (from, to) = (self.index(range.start), self.index(range.end));
        let end = self.trimmed[to].max(from);
        if end < to {
            self.starts[end]
        } else {
            range.end
        }
    }
}

/// Break one hard line `line` of `text` into lines no wider than `max_width`. The returned ranges
/// tile `line` in order. A segment wider than `max_width` is broken between clusters.
pub(crate) fn break_line(
    segmenter: LineSegmenterBorrowed<'static>,
    text: &str,
    line: Range<usize>,
    widths: &ClusterWidths,
    max_width: f32,
) -> Vec<Range<usize>> {
    if line.is_empty() {
        return vec![line];
    }
    if widths.width(line.clone()) <= max_width {
        return vec![line];
    }
    // Opportunities inside a shaped cluster (a ligature, a reordered syllable) are not usable.
    let mut breaks: Vec<usize> = segmenter
        .segment_str(&text[line.clone()])
        .map(|b| line.start + b)
        .filter(|&b| b > line.start && (b == line.end || widths.starts.binary_search(&b).is_ok()))
        .collect();
    if breaks.last() != Some(&line.end) {
        breaks.push(line.end);
    }
    // Float noise must not push a line that exactly fits onto two lines.
    let limit = max_width + max_width.abs() * 1e-5;

    let mut lines = Vec::new();
    let mut start = line.start;
    let mut k = 0;
    while start < line.end {
        while k < breaks.len() && breaks[k] <= start {
            k += 1;
        }
        let from = widths.index(start);
        let mut best = None;
        for &b in &breaks[k..] {
            if widths.width_idx(from, widths.index(b)) <= limit {
                best = Some(b);
            } else {
                break;
            }
        }
        let end = match best {
            Some(b) => b,
            None => {
                // Even the next word does not fit: break it between clusters, at least one per line.
                let segment_end = breaks.get(k).copied().unwrap_or(line.end);
                let last = widths.index(segment_end);
                let mut e = from + 1;
                while e < last && widths.width_idx(from, e + 1) <= limit {
                    e += 1;
                }
                if e >= last {
                    segment_end
                } else {
                    widths.starts[e]
                }
            }
        };
        lines.push(start..end);
        start = end;
    }
    lines
}
