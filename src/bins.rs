//! Walking order: turning bin codes like `A-03-12` into the order a picker passes them.
//!
//! A warehouse names its bins by a pattern such as `{zone}-{aisle}-{shelf}`. Each named part is
//! compared naturally (numbers as numbers, so aisle 9 comes before aisle 10), in a fixed priority:
//! zone, aisle, bay, shelf, level, slot — whatever order the parts are written in the code. With
//! serpentine walking, every other aisle is walked back the way the picker came, as on a real floor.
//! Bins that do not match the pattern come after all that do (natural order among themselves), and
//! items with no bin last: nothing is dropped, an odd bin is only walked later.

use std::cmp::Ordering;

/// The parts a bin pattern may name, in the order they steer the walk.
const PARTS: [&str; 6] = ["zone", "aisle", "bay", "shelf", "level", "slot"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinPattern {
    /// The pattern as written, for messages.
    source: String,
    pieces: Vec<PatternPiece>,
    pub walk: Walk,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternPiece {
    Literal(String),
    /// Index into [`PARTS`].
    Part(usize),
}

/// How a picker moves between aisles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Walk {
    /// Every aisle from its start: the simplest route, and the default.
    #[default]
    Sequential,
    /// Up one aisle, down the next.
    Serpentine,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinPatternError {
    #[error("bin pattern {pattern:?}: unknown part {{{part}}}; use {}", PARTS.map(|p| format!("{{{p}}}")).join(", "))]
    UnknownPart { pattern: String, part: String },
    #[error("bin pattern {pattern:?}: {{{part}}} appears twice")]
    Repeated { pattern: String, part: String },
    #[error("bin pattern {pattern:?}: two parts need a separator between them")]
    Adjacent { pattern: String },
    #[error("bin pattern {pattern:?}: unclosed '{{'")]
    Unclosed { pattern: String },
    #[error("bin pattern {pattern:?}: names no part; use e.g. \"{{zone}}-{{aisle}}-{{shelf}}\"")]
    Empty { pattern: String },
}

impl Default for BinPattern {
    fn default() -> Self {
        BinPattern::parse("{zone}-{aisle}-{shelf}", Walk::Sequential).expect("default bin pattern is valid")
    }
}

impl BinPattern {
    pub fn parse(pattern: &str, walk: Walk) -> Result<BinPattern, BinPatternError> {
        let err_pattern = || pattern.to_string();
        let mut pieces = Vec::new();
        let mut rest = pattern;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let close = rest.find('}').ok_or_else(|| BinPatternError::Unclosed { pattern: err_pattern() })?;
                    let name = &rest[1..close];
                    let idx = PARTS
                        .iter()
                        .position(|p| *p == name)
                        .ok_or_else(|| BinPatternError::UnknownPart { pattern: err_pattern(), part: name.to_string() })?;
                    if pieces.contains(&PatternPiece::Part(idx)) {
                        return Err(BinPatternError::Repeated { pattern: err_pattern(), part: name.to_string() });
                    }
                    if matches!(pieces.last(), Some(PatternPiece::Part(_))) {
                        return Err(BinPatternError::Adjacent { pattern: err_pattern() });
                    }
                    pieces.push(PatternPiece::Part(idx));
                    rest = &rest[close + 1..];
                }
                Some(n) => {
                    pieces.push(PatternPiece::Literal(rest[..n].to_string()));
                    rest = &rest[n..];
                }
                None => {
                    pieces.push(PatternPiece::Literal(rest.to_string()));
                    rest = "";
                }
            }
        }
        if !pieces.iter().any(|p| matches!(p, PatternPiece::Part(_))) {
            return Err(BinPatternError::Empty { pattern: err_pattern() });
        }
        Ok(BinPattern { source: pattern.to_string(), pieces, walk })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The bin's named parts by priority, or None when the code does not follow the pattern.
    fn parts<'a>(&self, bin: &'a str) -> Option<[Option<&'a str>; PARTS.len()]> {
        let mut out = [None; PARTS.len()];
        let mut rest = bin;
        for (i, piece) in self.pieces.iter().enumerate() {
            match piece {
                PatternPiece::Literal(lit) => rest = rest.strip_prefix(lit.as_str())?,
                PatternPiece::Part(idx) => {
                    // A part runs to the next literal (the parser guarantees one follows, or the end).
                    let end = match self.pieces.get(i + 1) {
                        Some(PatternPiece::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    if end == 0 {
                        return None;
                    }
                    out[*idx] = Some(&rest[..end]);
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(out)
    }

    /// The position of a bin on the walk; smaller is visited first.
    pub fn walk_key(&self, bin: Option<&str>) -> WalkKey {
        let Some(bin) = bin.map(str::trim).filter(|b| !b.is_empty()) else {
            return WalkKey::NoBin;
        };
        match self.parts(bin) {
            Some(parts) => WalkKey::Matched(parts.iter().map(|p| p.map(natural)).collect(), bin.to_string()),
            None => WalkKey::Unmatched(natural(bin)),
        }
    }

    /// Compares two keys on this pattern's walk (serpentine reverses what follows the aisle in
    /// every other aisle).
    pub fn compare(&self, a: &WalkKey, b: &WalkKey) -> Ordering {
        match (a, b) {
            (WalkKey::Matched(pa, ra), WalkKey::Matched(pb, rb)) => {
                let aisle = 1;
                let head = pa[..=aisle].cmp(&pb[..=aisle]);
                if head != Ordering::Equal {
                    return head;
                }
                let tail = pa[aisle + 1..].cmp(&pb[aisle + 1..]);
                let tail = if self.walk == Walk::Serpentine && self.walks_back(&pa[aisle]) { tail.reverse() } else { tail };
                tail.then_with(|| ra.cmp(rb))
            }
            _ => a.rank().cmp(&b.rank()).then_with(|| match (a, b) {
                (WalkKey::Unmatched(x), WalkKey::Unmatched(y)) => x.cmp(y),
                _ => Ordering::Equal,
            }),
        }
    }

    /// In serpentine walking, even-numbered aisles are walked from the far end.
    fn walks_back(&self, aisle: &Option<Natural>) -> bool {
        match aisle {
            Some(n) => n.number_parity_odd() == Some(false),
            None => false,
        }
    }
}

/// Where a bin falls on the walk. Compare with [`BinPattern::compare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkKey {
    Matched(Vec<Option<Natural>>, String),
    Unmatched(Natural),
    NoBin,
}

impl WalkKey {
    fn rank(&self) -> u8 {
        match self {
            WalkKey::Matched(..) => 0,
            WalkKey::Unmatched(_) => 1,
            WalkKey::NoBin => 2,
        }
    }
}

/// A string compared the way people read codes: runs of digits by value, letters without case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Natural(Vec<Chunk>);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Chunk {
    // Numbers sort before words in the same position (A-2 before A-B).
    Number(u128, usize),
    Text(String),
}

impl Natural {
    /// Some(true/false) when the whole part is one number.
    fn number_parity_odd(&self) -> Option<bool> {
        match self.0.as_slice() {
            [Chunk::Number(n, _)] => Some(n % 2 == 1),
            _ => None,
        }
    }
}

fn natural(s: &str) -> Natural {
    let mut chunks = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        let digit = c.is_ascii_digit();
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_ascii_digit() != digit {
                break;
            }
            end = i + c.len_utf8();
            chars.next();
        }
        let run = &s[start..end];
        chunks.push(if digit {
            // Leading zeros break ties only (01 == 1 on the walk, but sorts stably).
            let value = run.parse::<u128>().unwrap_or(u128::MAX);
            Chunk::Number(value, run.len())
        } else {
            Chunk::Text(run.to_lowercase())
        });
    }
    Natural(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(pattern: &BinPattern, bins: &[Option<&str>]) -> Vec<Option<String>> {
        let mut keyed: Vec<_> = bins.iter().map(|b| (pattern.walk_key(*b), b.map(String::from))).collect();
        keyed.sort_by(|a, b| pattern.compare(&a.0, &b.0));
        keyed.into_iter().map(|(_, b)| b).collect()
    }

    #[test]
    fn numbers_compare_by_value_and_odd_bins_come_last() {
        let p = BinPattern::default();
        let got = sorted(&p, &[None, Some("A-10-01"), Some("floor"), Some("A-9-02"), Some("B-01-01"), Some("A-9-01")]);
        let want = [Some("A-9-01"), Some("A-9-02"), Some("A-10-01"), Some("B-01-01"), Some("floor"), None];
        assert_eq!(got, want.map(|b| b.map(String::from)));
    }

    #[test]
    fn priority_follows_part_names_not_their_position_in_the_code() {
        // Shelf written first: the aisle still leads the walk.
        let p = BinPattern::parse("{shelf}.{aisle}", Walk::Sequential).unwrap();
        let got = sorted(&p, &[Some("1.2"), Some("2.1"), Some("1.1")]);
        assert_eq!(got, [Some("1.1"), Some("2.1"), Some("1.2")].map(|b| b.map(String::from)));
    }

    #[test]
    fn serpentine_walks_even_aisles_backwards() {
        let p = BinPattern::parse("{aisle}-{shelf}", Walk::Serpentine).unwrap();
        let got = sorted(&p, &[Some("2-01"), Some("1-02"), Some("2-02"), Some("1-01"), Some("3-01"), Some("3-02")]);
        let want = ["1-01", "1-02", "2-02", "2-01", "3-01", "3-02"];
        assert_eq!(got, want.map(|b| Some(b.to_string())));
    }

    #[test]
    fn bad_patterns_name_the_problem() {
        let e = BinPattern::parse("{zone}-{row}", Walk::Sequential).unwrap_err();
        assert!(e.to_string().contains("unknown part {row}"), "{e}");
        assert!(matches!(BinPattern::parse("{zone}{aisle}", Walk::Sequential), Err(BinPatternError::Adjacent { .. })));
        assert!(matches!(BinPattern::parse("{zone", Walk::Sequential), Err(BinPatternError::Unclosed { .. })));
        assert!(matches!(BinPattern::parse("bins", Walk::Sequential), Err(BinPatternError::Empty { .. })));
        assert!(matches!(BinPattern::parse("{zone}-{zone}", Walk::Sequential), Err(BinPatternError::Repeated { .. })));
    }
}
