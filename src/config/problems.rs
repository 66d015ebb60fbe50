//! Collecting every config problem at once, each pinned to a line and column.
//!
//! The config is read from toml's spanned document tree (`DeTable`) rather than through serde, so a
//! wrong type in one place does not hide a bad URI in another: the reader walks everything, notes
//! each problem with the byte span it came from, and only at the end turns spans into `line:col`.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One thing wrong with a config file, e.g. `labeld.toml:12:7: printer "dock-2": uri: unknown scheme "lpt"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// Every problem found in a config, in file order. Displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Where in the source a value was written; kept on values that are checked later (the printer
/// driver, checked against the profile list once that is loaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

/// The problems of one source text.
pub(crate) struct Sink<'t> {
    file: String,
    text: &'t str,
    found: Vec<(usize, Problem)>,
}

impl<'t> Sink<'t> {
    pub fn new(file: impl Into<String>, text: &'t str) -> Self {
        Sink { file: file.into(), text, found: Vec::new() }
    }

    pub fn location(&self, span: &Range<usize>) -> Location {
        let start = span.start.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, start)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location { line, column }
    }

    pub fn report(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let at = self.location(span);
        self.found.push((
            span.start,
            Problem { file: self.file.clone(), line: at.line, column: at.column, message: message.into() },
        ));
    }

    pub fn into_problems(mut self) -> Vec<Problem> {
        self.found.sort_by_key(|(offset, p)| (p.line, p.column, *offset));
        self.found.into_iter().map(|(_, p)| p).collect()
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A TOML table being read: hands out its keys by expected type and, at `finish`, reports the keys
/// nobody asked for. `context` prefixes every message (`printer "dock-2": `).
pub(crate) struct TableReader<'a, 'i> {
    table: &'a DeTable<'i>,
    pub span: Range<usize>,
    pub context: String,
    known: Vec<&'static str>,
}

/// A string value with where it was written.
pub(crate) type Str = (String, Range<usize>);

impl<'a, 'i> TableReader<'a, 'i> {
    pub fn new(table: &'a DeTable<'i>, span: Range<usize>, context: impl Into<String>) -> Self {
        TableReader { table, span, context: context.into(), known: Vec::new() }
    }

    fn lookup(&mut self, key: &'static str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.known.push(key);
        self.table.get(key)
    }

    /// `server: listen: ...`
    pub fn msg(&self, key: &str, problem: impl fmt::Display) -> String {
        format!("{}{key}: {problem}", self.context)
    }

    pub fn string(&mut self, key: &'static str, sink: &mut Sink) -> Option<Str> {
        let v = self.lookup(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.to_string(), v.span())),
            other => {
                sink.report(&v.span(), self.msg(key, format!("expected a string, found {}", type_name(other))));
                None
            }
        }
    }

    /// A whole number in `range`.
    pub fn integer(&mut self, key: &'static str, range: std::ops::RangeInclusive<u64>, sink: &mut Sink) -> Option<(u64, Range<usize>)> {
        let v = self.lookup(key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            sink.report(&v.span(), self.msg(key, format!("expected a whole number, found {}", type_name(v.get_ref()))));
            return None;
        };
        match u64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok().filter(|n| range.contains(n)) {
            Some(n) => Some((n, v.span())),
            None => {
                let (lo, hi) = (range.start(), range.end());
                sink.report(&v.span(), self.msg(key, format!("`{}` is not a whole number from {lo} to {hi}", i.as_str())));
                None
            }
        }
    }

    /// A string that must be present and not blank.
    pub fn required_string(&mut self, key: &'static str, sink: &mut Sink) -> Option<Str> {
        let present = self.table.contains_key(key);
        let value = self.string(key, sink);
        match &value {
            None if !present => sink.report(&self.span, self.msg(key, "missing (required)")),
            Some((s, span)) if s.trim().is_empty() => {
                sink.report(span, self.msg(key, "must not be empty"));
                return None;
            }
            _ => {}
        }
        value
    }

    pub fn string_list(&mut self, key: &'static str, sink: &mut Sink) -> Option<Vec<Str>> {
        let v = self.lookup(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            sink.report(&v.span(), self.msg(key, format!("expected an array of strings, found {}", type_name(v.get_ref()))));
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push((s.to_string(), item.span())),
                other => sink.report(&item.span(), self.msg(&format!("{key}[{i}]"), format!("expected a string, found {}", type_name(other)))),
            }
        }
        Some(out)
    }

    pub fn table(&mut self, key: &'static str, sink: &mut Sink) -> Option<(&'a DeTable<'i>, Range<usize>)> {
        let v = self.lookup(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some((t, v.span())),
            other => {
                sink.report(&v.span(), self.msg(key, format!("expected a table [{key}], found {}", type_name(other))));
                None
            }
        }
    }

    /// `[[key]]` entries.
    pub fn tables(&mut self, key: &'static str, sink: &mut Sink) -> Vec<(&'a DeTable<'i>, Range<usize>)> {
        let Some(v) = self.lookup(key) else { return Vec::new() };
        let DeValue::Array(items) = v.get_ref() else {
            sink.report(&v.span(), self.msg(key, format!("expected [[{key}]] entries, found {}", type_name(v.get_ref()))));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(t) => out.push((t, item.span())),
                other => sink.report(&item.span(), self.msg(&format!("{key}[{i}]"), format!("expected a table, found {}", type_name(other)))),
            }
        }
        out
    }

    /// Reports every key that no reader method asked for.
    pub fn finish(self, sink: &mut Sink) {
        for (key, _) in self.table.iter() {
            let name: &str = key.get_ref();
            if !self.known.contains(&name) {
                let mut known = self.known.clone();
                known.sort_unstable();
                known.dedup();
                sink.report(
                    &key.span(),
                    format!("{}unknown key \"{}\" (expected one of: {})", self.context, name.escape_debug(), known.join(", ")),
                );
            }
        }
    }
}

pub(crate) fn type_name(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}
