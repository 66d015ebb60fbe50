//! EPL2 (Eltron Programming Language), from the Zebra EPL2 Programmer's Manual. LP2844-class printers.
//!
//! ```text
//!                          a leading line feed ends anything half-sent before
//! N                        clear the image buffer
//! q799                     label width in dots
//! Q1199,24                 form length, gap in dots (B24,0 for a black mark, 0 for continuous)
//! D10                      density 0–15, only when the profile sets it
//! S3                       speed code, only when the profile sets it
//! GW0,40,100,320,<bytes>   x, y, width in bytes, height in dots, then width × height raw bytes
//! P1,1                     label sets, copies of each
//! ```
//!
//! Lines end in LF. In `GW` data a 0 bit burns a dot and a 1 bit leaves it white (Zebra's note on `GW`), the
//! opposite of labeld's raster, so the encoder inverts each byte. Only rows with ink are sent.
//!
//! The decoder interprets `N`, `q`, `Q`, `R`, `GW`, `LO`, `P`/`PA`, reports other commands, and recognises
//! the `^ee` error-report request.

use super::canvas::{self, Blend, shorten};
use super::{Condition, Decoded, DecodeError, Dialect, EncodeError, JobSettings, Language, Media, Query, Range, Ranges, StreamDecoder, ink_bands, limits};
use crate::bitmap::Bitmap;

/// EPL2's entry in the dialect table.
pub const DIALECT: Dialect = Dialect {
    name: "epl",
    title: "Eltron/Zebra EPL2",
    ranges: Ranges {
        darkness: Some(Range { command: "D", min: 0, max: 15 }),
        speed: Some(Range { command: "S", min: 0.0, max: 6.0 }),
    },
    encode,
    decoder: |_| Box::new(Decoder::new()),
    // EPL2 printers answer `^ee` with an error report this module does not read: status comes from the link.
    status: None,
    options: super::no_options,
    answer: |_: &Query, _: &Condition| Vec::new(),
};

fn encode(pages: &[Bitmap], s: &JobSettings) -> Result<Vec<u8>, EncodeError> {
    let limit = |problem: String| EncodeError::Limit { language: Language::Epl, problem };
    let mut out: Vec<u8> = Vec::new();
    let line = |out: &mut Vec<u8>, l: &str| {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    };
    line(&mut out, "");
    line(&mut out, "N");
    line(&mut out, &format!("q{}", s.width));
    let gap = s.gap_dots();
    let q = match s.media {
        Media::Gap => format!("Q{},{gap}", s.height),
        Media::Mark => format!("Q{},B{gap},0", s.height),
        Media::Continuous => format!("Q{},0", s.height),
    };
    if s.media != Media::Continuous && !(16..=240).contains(&gap) {
        return Err(limit(format!("gap of {gap} dots is outside Q's 16–240")));
    }
    line(&mut out, &q);
    if let Some(d) = s.darkness {
        line(&mut out, &format!("D{d}"));
    }
    if let Some(v) = s.speed {
        line(&mut out, &format!("S{}", v.round() as i64));
    }
    for (i, page) in pages.iter().enumerate() {
        if i > 0 {
            line(&mut out, "N");
        }
        let stride = page.stride();
        for (y0, y1) in ink_bands(page, 8) {
            out.extend_from_slice(format!("GW0,{y0},{stride},{},", y1 - y0).as_bytes());
            out.extend(page.data()[y0 as usize * stride..y1 as usize * stride].iter().map(|b| !b));
            out.push(b'\n');
        }
        line(&mut out, &format!("P1,{}", s.copies.max(1)));
    }
    Ok(out)
}

struct Field {
    x: i64,
    y: i64,
    graphic: Bitmap,
}

/// EPL2 interpreter.
pub struct Decoder {
    buf: Vec<u8>,
    base: u64,
    width: Option<u32>,
    length: Option<u32>,
    reference: (i64, i64),
    fields: Vec<Field>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder { buf: Vec::new(), base: 0, width: None, length: None, reference: (0, 0), fields: Vec::new() }
    }

    fn run(&mut self, at_end: bool) -> Result<Vec<Decoded>, DecodeError> {
        let mut out = Vec::new();
        let mut pos = 0;
        let r = loop {
            while pos < self.buf.len() && matches!(self.buf[pos], b'\r' | b'\n' | b' ' | b'\t') {
                pos += 1;
            }
            if pos >= self.buf.len() {
                break Ok(());
            }
            match self.command(pos, at_end, &mut out) {
                Ok(Some(next)) => pos = next,
                Ok(None) if at_end => {
                    let name = String::from_utf8_lossy(&self.buf[pos..(pos + 2).min(self.buf.len())]).into_owned();
                    break Err(DecodeError::new(name, self.base + pos as u64, "the stream ended inside this command"));
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match r {
            Ok(()) => {
                if self.buf.len() - pos > limits::MAX_PENDING {
                    let e = DecodeError::new("EPL", self.base + pos as u64, "a command longer than 64 MiB never ended");
                    self.drop_all();
                    return Err(e);
                }
                self.buf.drain(..pos);
                self.base += pos as u64;
                Ok(out)
            }
            Err(e) => {
                self.drop_all();
                Err(e)
            }
        }
    }

    fn drop_all(&mut self) {
        self.base += self.buf.len() as u64;
        self.buf.clear();
        self.fields.clear();
    }

    fn command(&mut self, pos: usize, at_end: bool, out: &mut Vec<Decoded>) -> Result<Option<usize>, DecodeError> {
        let offset = self.base + pos as u64;
        let rest = &self.buf[pos..];
        if rest.starts_with(b"GW") {
            return self.graphic(pos, offset);
        }
        if rest.len() < 2 && rest == b"G" && !at_end {
            return Ok(None);
        }
        let (line_end, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => (nl, nl + 1),
            None if at_end => (rest.len(), rest.len()),
            None => return Ok(None),
        };
        let line = String::from_utf8_lossy(&rest[..line_end]).trim_end_matches('\r').to_string();
        self.line(&line, offset, out)?;
        Ok(Some(pos + next))
    }

    fn line(&mut self, line: &str, offset: u64, out: &mut Vec<Decoded>) -> Result<(), DecodeError> {
        let first = line.chars().next().unwrap_or(' ');
        let args = |skip: usize| -> Vec<String> { line[skip..].split(',').map(|s| s.trim().to_string()).collect() };
        if line == "^ee" {
            out.push(Decoded::StatusQuery(Query::new("^ee")));
            return Ok(());
        }
        if line.starts_with("LO") {
            let a = args(2);
            if a.len() < 4 {
                return Err(DecodeError::new("LO", offset, "needs x, y, width and height"));
            }
            let v: Vec<u64> = a[..4].iter().zip(["x", "y", "width", "height"]).map(|(s, n)| canvas::uint("LO", offset, n, s, 32_000)).collect::<Result<_, _>>()?;
            let mut g = canvas::blank("LO", offset, v[2] as u32, v[3] as u32)?;
            g.fill_rect(0, 0, v[2] as i32, v[3] as i32, true);
            self.fields.push(Field { x: v[0] as i64 + self.reference.0, y: v[1] as i64 + self.reference.1, graphic: g });
            return Ok(());
        }
        if line.starts_with("PA") || (first == 'P' && line[1..].chars().next().is_none_or(|c| c.is_ascii_digit())) {
            let a = args(if line.starts_with("PA") { 2 } else { 1 });
            let sets = match a.first().map(String::as_str) {
                Some("") | None => 1,
                Some(s) => canvas::uint("P", offset, "number of label sets", s, 65_535)?,
            };
            let copies = match a.get(1).map(String::as_str) {
                Some("") | None => 1,
                Some(s) => canvas::uint("P", offset, "copies", s, 65_535)?,
            };
            let n = sets.saturating_mul(copies);
            if n > limits::MAX_COPIES {
                return Err(DecodeError::new("P", offset, format!("{n} labels is more than this printer makes of one label ({})", limits::MAX_COPIES)));
            }
            let label = self.compose(offset)?;
            for _ in 0..n {
                out.push(Decoded::Label(label.clone()));
            }
            return Ok(());
        }
        match first {
            'N' if line.len() == 1 => self.fields.clear(),
            'q' => {
                self.width = Some(canvas::uint("q", offset, "label width", line[1..].trim(), limits::MAX_WIDTH as u64)? as u32);
            }
            'Q' => {
                let a = args(1);
                self.length = Some(canvas::uint("Q", offset, "form length", &a[0], limits::MAX_HEIGHT as u64)? as u32);
                out.push(Decoded::Other(format!("Q{}", shorten(&line[1..]))));
            }
            'R' => {
                let a = args(1);
                if a.len() < 2 {
                    return Err(DecodeError::new("R", offset, "needs x and y"));
                }
                self.reference = (
                    canvas::uint("R", offset, "x", &a[0], limits::MAX_WIDTH as u64)? as i64,
                    canvas::uint("R", offset, "y", &a[1], limits::MAX_HEIGHT as u64)? as i64,
                );
            }
            'D' | 'S' | 'Z' | 'O' | 'I' | 'J' | 'U' | 'M' | 'Y' => out.push(Decoded::Other(shorten(line))),
            // A (text), B/b (barcodes), X (box)… carry content: name the command only.
            _ => out.push(Decoded::Other(format!("{} not rendered", line.chars().take(2).collect::<String>()))),
        }
        Ok(())
    }

    fn compose(&self, offset: u64) -> Result<Bitmap, DecodeError> {
        let ex = self.fields.iter().map(|f| f.x + f.graphic.width() as i64).max().unwrap_or(0).max(0) as u32;
        let ey = self.fields.iter().map(|f| f.y + f.graphic.height() as i64).max().unwrap_or(0).max(0) as u32;
        let mut c = canvas::blank("P", offset, self.width.unwrap_or(ex), self.length.unwrap_or(ey))?;
        for f in &self.fields {
            canvas::overlay(&mut c, &f.graphic, f.x, f.y);
        }
        Ok(c)
    }

    /// `GWp1,p2,p3,p4,DATA` (or a line break instead of the last comma).
    fn graphic(&mut self, pos: usize, offset: u64) -> Result<Option<usize>, DecodeError> {
        const CMD: &str = "GW";
        let start = pos + 2;
        let mut seps = Vec::with_capacity(4);
        let mut i = start;
        let data_start = loop {
            match self.buf.get(i) {
                None => return Ok(None),
                Some(b',') if seps.len() < 3 => seps.push(i),
                Some(b',') => {
                    seps.push(i);
                    break i + 1;
                }
                Some(b'\r') if seps.len() == 3 => {
                    seps.push(i);
                    match self.buf.get(i + 1) {
                        None => return Ok(None),
                        Some(b'\n') => break i + 2,
                        Some(_) => return Err(DecodeError::new(CMD, offset, "CR after the length must be followed by LF")),
                    }
                }
                Some(b'\n') if seps.len() == 3 => {
                    seps.push(i);
                    break i + 1;
                }
                Some(b'\n') => return Err(DecodeError::new(CMD, offset, "needs x, y, width in bytes and height before the data")),
                Some(_) if i - start > 64 => return Err(DecodeError::new(CMD, offset, "parameters are not numbers")),
                _ => {}
            }
            i += 1;
        };
        let field = |a: usize, b: usize| String::from_utf8_lossy(&self.buf[a..b]).trim().to_string();
        let x = canvas::uint(CMD, offset, "x", &field(start, seps[0]), 32_000)? as i64;
        let y = canvas::uint(CMD, offset, "y", &field(seps[0] + 1, seps[1]), 32_000)? as i64;
        let width = canvas::uint(CMD, offset, "width (bytes)", &field(seps[1] + 1, seps[2]), (limits::MAX_WIDTH / 8) as u64)? as usize;
        let height = canvas::uint(CMD, offset, "height", &field(seps[2] + 1, seps[3]), limits::MAX_HEIGHT as u64)? as usize;
        let len = width * height;
        if self.buf.len() < data_start + len {
            return Ok(None);
        }
        let mut g = canvas::blank(CMD, offset, width as u32 * 8, height as u32)?;
        canvas::blit(&mut g, 0, 0, &self.buf[data_start..data_start + len], width, false, Blend::Overwrite);
        self.fields.push(Field { x: x + self.reference.0, y: y + self.reference.1, graphic: g });
        Ok(Some(data_start + len))
    }
}

impl StreamDecoder for Decoder {
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<Decoded>, DecodeError> {
        self.buf.extend_from_slice(bytes);
        self.run(false)
    }
    fn finish(&mut self) -> Result<Vec<Decoded>, DecodeError> {
        self.run(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{decode_all, labels};

    #[test]
    fn zebra_gw_example_draws_a_hollow_box() {
        // Zebra's GW note: a 16×16 box at 100,100, rows 0000 then 7FFE…, with 1 = white.
        let mut bytes = b"N\r\nGW100,100,2,16,".to_vec();
        bytes.extend([0x00, 0x00]);
        for _ in 0..14 {
            bytes.extend([0x7F, 0xFE]);
        }
        bytes.extend([0x00, 0x00]);
        bytes.extend(b"P\r\n\r\n");
        let l = labels(decode_all(Language::Epl, 203, &bytes).unwrap());
        assert_eq!(l.len(), 1);
        let b = &l[0];
        assert!(b.get(100, 100) && b.get(115, 100) && b.get(100, 108) && b.get(115, 108) && b.get(108, 115));
        assert!(!b.get(101, 101) && !b.get(108, 108));
    }

    #[test]
    fn error_report_request_is_a_query() {
        assert_eq!(decode_all(Language::Epl, 203, b"^ee\n").unwrap(), vec![Decoded::StatusQuery(Query::new("^ee"))]);
    }
}
