//! CPCL (Comtec Printer Control Language), from Zebra's Mobile Printer CPCL Programming Manual. ZQ/QLn/RW
//! mobile printers.
//!
//! ```text
//! ! 0 200 200 1199 1           session: offset, resolution (always 200 200), label height, quantity
//! PW 799                       page width in dots
//! GAP-SENSE                    or BAR-SENSE (black mark), JOURNAL (continuous)
//! CONTRAST 2                   0–3, only when the profile sets it
//! SPEED 3                      0–5, only when the profile sets it
//! EG 100 320 0 40 FF00…        width in bytes, height in dots, x, y, hex data (CG: the same bytes raw)
//! FORM                         feed to the top of the next label
//! PRINT
//! ```
//!
//! Lines end in CR LF; graphic bytes are labeld's rows as they are (1 = black). Only rows with ink are sent.
//!
//! The decoder interprets sessions (`!` header, `PW`/`PAGE-WIDTH`, `EG`/`EXPANDED-GRAPHICS`,
//! `CG`/`COMPRESSED-GRAPHICS`, `PRINT`, `END`/`ABORT`), reports other commands, and recognises the escape
//! status requests `ESC h` and `ESC i`.

use super::canvas::{self, shorten};
use super::status::{Details, Status, StatusProtocol};
use super::{Condition, Decoded, DecodeError, Dialect, EncodeError, JobSettings, Language, Media, Options, OptionError, OptionsInput, Query, Range, Ranges, StreamDecoder, ink_bands, limits};
use crate::bitmap::Bitmap;

const ESC: u8 = 0x1B;
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// CPCL's entry in the dialect table.
pub const DIALECT: Dialect = Dialect {
    name: "cpcl",
    title: "Zebra mobile CPCL",
    ranges: Ranges {
        darkness: Some(Range { command: "CONTRAST", min: 0, max: 3 }),
        speed: Some(Range { command: "SPEED", min: 0.0, max: 5.0 }),
    },
    encode,
    decoder: |_| Box::new(Decoder::new()),
    status: Some(StatusProtocol { name: "cpcl-esc-h", query: b"\x1bh", parse: |b| b.first().map(|&b| parse_status(b)) }),
    options: read_options,
    answer,
};

/// How graphics are sent (profile `[options] cpcl_graphics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Graphics {
    /// `EG`: two hex digits per byte, safe on any link.
    #[default]
    Expanded,
    /// `CG`: raw bytes, half the size; needs an 8-bit clean link.
    Compressed,
}

/// CPCL's own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpclOptions {
    pub graphics: Graphics,
}

fn read_options(input: &OptionsInput) -> Result<Options, OptionError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        cpcl_graphics: Option<toml::Spanned<String>>,
    }
    let raw: Raw = input.table()?;
    let graphics = match &raw.cpcl_graphics {
        None => Graphics::Expanded,
        Some(c) => match c.get_ref().as_str() {
            "eg" => Graphics::Expanded,
            "cg" => Graphics::Compressed,
            other => return Err(OptionError::at(c, format!("options.cpcl_graphics: {other:?} is not eg or cg"))),
        },
    };
    Ok(Options::of(CpclOptions { graphics }))
}

fn encode(pages: &[Bitmap], s: &JobSettings) -> Result<Vec<u8>, EncodeError> {
    let graphics = s.options.get::<CpclOptions>().graphics;
    let limit = |problem: String| EncodeError::Limit { language: Language::Cpcl, problem };
    if s.copies > 1024 {
        return Err(limit(format!("{} copies is more than the session header's 1024", s.copies)));
    }
    let mut out: Vec<u8> = Vec::new();
    let line = |out: &mut Vec<u8>, l: &str| {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    for page in pages {
        line(&mut out, &format!("! 0 200 200 {} {}", s.height, s.copies.max(1)));
        line(&mut out, &format!("PW {}", s.width));
        line(
            &mut out,
            match s.media {
                Media::Gap => "GAP-SENSE",
                Media::Mark => "BAR-SENSE",
                Media::Continuous => "JOURNAL",
            },
        );
        if let Some(d) = s.darkness {
            line(&mut out, &format!("CONTRAST {d}"));
        }
        if let Some(v) = s.speed {
            line(&mut out, &format!("SPEED {}", v.round() as i64));
        }
        let stride = page.stride();
        for (y0, y1) in ink_bands(page, 8) {
            let data = &page.data()[y0 as usize * stride..y1 as usize * stride];
            match graphics {
                Graphics::Expanded => {
                    out.extend_from_slice(format!("EG {stride} {} 0 {y0} ", y1 - y0).as_bytes());
                    for b in data {
                        out.extend([HEX[(b >> 4) as usize], HEX[(b & 0xF) as usize]]);
                    }
                }
                Graphics::Compressed => {
                    out.extend_from_slice(format!("CG {stride} {} 0 {y0} ", y1 - y0).as_bytes());
                    out.extend_from_slice(data);
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        if s.media != Media::Continuous {
            line(&mut out, "FORM");
        }
        line(&mut out, "PRINT");
    }
    Ok(out)
}

struct Session {
    offset_x: i64,
    height: u32,
    quantity: u64,
    width: Option<u32>,
    fields: Vec<(i64, i64, Bitmap)>,
}

/// CPCL interpreter.
pub struct Decoder {
    buf: Vec<u8>,
    base: u64,
    session: Option<Session>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder { buf: Vec::new(), base: 0, session: None }
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
                    let name: String = String::from_utf8_lossy(&self.buf[pos..(pos + 8).min(self.buf.len())]).chars().take_while(|c| !c.is_whitespace()).collect();
                    break Err(DecodeError::new(name, self.base + pos as u64, "the stream ended inside this command"));
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match r {
            Ok(()) => {
                if self.buf.len() - pos > limits::MAX_PENDING {
                    let e = DecodeError::new("CPCL", self.base + pos as u64, "a command longer than 64 MiB never ended");
                    self.drop_all();
                    return Err(e);
                }
                self.buf.drain(..pos);
                self.base += pos as u64;
                if at_end && self.session.take().is_some() {
                    return Err(DecodeError::new("!", self.base, "the stream ended before PRINT: the label was never completed"));
                }
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
        self.session = None;
    }

    fn command(&mut self, pos: usize, at_end: bool, out: &mut Vec<Decoded>) -> Result<Option<usize>, DecodeError> {
        let offset = self.base + pos as u64;
        let rest = &self.buf[pos..];
        if rest[0] == ESC {
            if rest.len() < 2 {
                return Ok(None);
            }
            out.push(match rest[1] {
                b'h' => Decoded::StatusQuery(Query::new("<ESC>h")),
                b'i' => Decoded::StatusQuery(Query::new("<ESC>i")),
                c => Decoded::Other(format!("ESC {}", c.escape_ascii())),
            });
            return Ok(Some(pos + 2));
        }
        let word: Vec<u8> = rest.iter().take_while(|b| !b.is_ascii_whitespace()).take(32).copied().collect();
        let word_up = String::from_utf8_lossy(&word).to_ascii_uppercase();
        if self.session.is_some() && matches!(word_up.as_str(), "EG" | "EXPANDED-GRAPHICS" | "CG" | "COMPRESSED-GRAPHICS") {
            if rest.len() == word.len() {
                return Ok(None);
            }
            return self.graphics(pos, word.len(), word_up.starts_with('E') , offset);
        }
        let (line_end, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => (nl, nl + 1),
            None if at_end => (rest.len(), rest.len()),
            None => return Ok(None),
        };
        let line = String::from_utf8_lossy(&rest[..line_end]).trim_end_matches('\r').to_string();
        self.line(&line, &word_up, offset, out)?;
        Ok(Some(pos + next))
    }

    fn line(&mut self, line: &str, word: &str, offset: u64, out: &mut Vec<Decoded>) -> Result<(), DecodeError> {
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        if word == "!" {
            if args.first() == Some(&"U1") || args.first() == Some(&"U") || args.first().is_some_and(|a| a.eq_ignore_ascii_case("UTILITIES")) {
                out.push(Decoded::Other("! U1 line-mode command".into()));
                return Ok(());
            }
            if self.session.is_some() {
                return Err(DecodeError::new("!", offset, "a new session started before PRINT ended the previous one"));
            }
            if args.len() < 5 {
                return Err(DecodeError::new("!", offset, "the session header needs offset, two resolutions, height and quantity"));
            }
            let offset_x = canvas::uint("!", offset, "offset", args[0], limits::MAX_WIDTH as u64)? as i64;
            let height = canvas::uint("!", offset, "height", args[3], limits::MAX_HEIGHT as u64)? as u32;
            let quantity = canvas::uint("!", offset, "quantity", args[4], 1024)?.max(1);
            self.session = Some(Session { offset_x, height, quantity, width: None, fields: Vec::new() });
            return Ok(());
        }
        let Some(session) = self.session.as_mut() else {
            out.push(Decoded::Other(format!("{} outside a session ignored", shorten(word))));
            return Ok(());
        };
        match word {
            "PW" | "PAGE-WIDTH" => {
                let v = args.first().ok_or_else(|| DecodeError::new(word, offset, "the page width is missing"))?;
                session.width = Some(canvas::uint(word, offset, "page width", v, limits::MAX_WIDTH as u64)? as u32);
            }
            "PRINT" => {
                let s = self.session.take().expect("checked above");
                let ex = s.fields.iter().map(|(x, _, g)| x + g.width() as i64).max().unwrap_or(0).max(0) as u32;
                let mut c = canvas::blank("PRINT", offset, s.width.unwrap_or(ex), s.height)?;
                for (x, y, g) in &s.fields {
                    canvas::overlay(&mut c, g, *x, *y);
                }
                for _ in 0..s.quantity {
                    out.push(Decoded::Label(c.clone()));
                }
            }
            "END" | "ABORT" => {
                self.session = None;
                out.push(Decoded::Other(format!("{word}: session ended without printing")));
            }
            "FORM" | "GAP-SENSE" | "BAR-SENSE" | "JOURNAL" | "CONTRAST" | "SPEED" | "TONE" | "SETFF" | "UNITS" | "IN-DOTS" | "IN-MILLIMETERS" | "IN-INCHES" | "IN-CENTIMETERS" | "COUNTRY" | "POSTFEED" | "PREFEED" | "PACE" | "NO-PACE" | "WAIT" | "BEEP" => {
                out.push(Decoded::Other(shorten(line)));
            }
            "VEG" | "VEXPANDED-GRAPHICS" | "VCG" | "VCOMPRESSED-GRAPHICS" => {
                return Err(DecodeError::new(word, offset, "vertical graphics are not supported by this printer; send EG or CG"));
            }
            _ => out.push(Decoded::Other(format!("{} not rendered", shorten(word)))),
        }
        Ok(())
    }

    /// `EG w h x y hexdata` / `CG w h x y bytes`.
    fn graphics(&mut self, pos: usize, word_len: usize, hex: bool, offset: u64) -> Result<Option<usize>, DecodeError> {
        let cmd = if hex { "EG" } else { "CG" };
        // Four numbers separated by blanks, then one blank before the data.
        let mut i = pos + word_len;
        let mut nums = Vec::with_capacity(4);
        while nums.len() < 4 {
            while i < self.buf.len() && self.buf[i] == b' ' {
                i += 1;
            }
            let start = i;
            while i < self.buf.len() && self.buf[i].is_ascii_digit() {
                i += 1;
            }
            if i >= self.buf.len() {
                return Ok(None);
            }
            if start == i || !matches!(self.buf[i], b' ' | b'\r' | b'\n') {
                return Err(DecodeError::new(cmd, offset, "needs width (bytes), height, x and y as whole numbers before the data"));
            }
            nums.push(String::from_utf8_lossy(&self.buf[start..i]).into_owned());
        }
        let width = canvas::uint(cmd, offset, "width (bytes)", &nums[0], (limits::MAX_WIDTH / 8) as u64)? as usize;
        let height = canvas::uint(cmd, offset, "height", &nums[1], limits::MAX_HEIGHT as u64)? as usize;
        let x = canvas::uint(cmd, offset, "x", &nums[2], 32_000)? as i64;
        let y = canvas::uint(cmd, offset, "y", &nums[3], 32_000)? as i64;
        let len = width * height;
        if self.buf[i] != b' ' {
            return Err(DecodeError::new(cmd, offset, "a blank must separate y from the data"));
        }
        i += 1;
        let data = if hex {
            // Two digits per byte at least: do not scan until they can all be here.
            if self.buf.len() < i + 2 * len {
                return Ok(None);
            }
            let mut data = Vec::with_capacity(len);
            let mut hi: Option<u8> = None;
            while data.len() < len {
                let Some(&c) = self.buf.get(i) else { return Ok(None) };
                i += 1;
                if c.is_ascii_whitespace() {
                    continue;
                }
                let v = (c as char).to_digit(16).ok_or_else(|| DecodeError::new(cmd, offset, format!("{:?} in the data is not a hex digit", c as char)))? as u8;
                match hi.take() {
                    None => hi = Some(v),
                    Some(h) => data.push(h << 4 | v),
                }
            }
            data
        } else {
            if self.buf.len() < i + len {
                return Ok(None);
            }
            i += len;
            self.buf[i - len..i].to_vec()
        };
        let graphic = Bitmap::from_packed(width as u32 * 8, height as u32, data).ok_or_else(|| DecodeError::new(cmd, offset, "internal: row arithmetic"))?;
        let s = self.session.as_mut().expect("checked by the caller");
        s.fields.push((x + s.offset_x, y, graphic));
        Ok(Some(i))
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

// ---------------------------------------------------------------------------------------------------------
// Status.
// CPCL <ESC>h (Mobile Printer CPCL manual, "Get Printer Status"): bit 0 busy, bit 1 out of paper,
// bit 2 latch open, bit 3 battery low, bit 4 printer reset (informational).

fn parse_status(b: u8) -> Status {
    Status::from_details(Details {
        printing: b & 0x01 != 0,
        paper_out: b & 0x02 != 0,
        head_open: b & 0x04 != 0,
        battery_low: b & 0x08 != 0,
        ..Details::default()
    })
}

pub fn status_byte(d: &Details) -> u8 {
    u8::from(d.printing) | u8::from(d.paper_out) << 1 | u8::from(d.head_open || d.cover_open) << 2 | u8::from(d.battery_low) << 3
}


/// The virtual printer's answers: `ESC h`, and `ESC i` (bit 4 jam, 5 label not taken, 6 paper low,
/// 7 no ribbon; none emulated).
fn answer(q: &Query, c: &Condition) -> Vec<u8> {
    match q.0.as_str() {
        "<ESC>h" => vec![status_byte(&c.details)],
        "<ESC>i" => vec![0x00],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::status::PrinterState;

    fn parse(b: &[u8]) -> Option<Status> {
        DIALECT.status.unwrap().parse(b)
    }

    #[test]
    fn status_bits_follow_the_manual() {
        let st = |b: u8| parse(&[b]).unwrap().state;
        assert_eq!(st(0x00), PrinterState::Ready);
        assert_eq!(st(0x10), PrinterState::Ready); // reset bit only
        assert_eq!(st(0x01), PrinterState::Printing);
        assert_eq!(st(0x02), PrinterState::PaperOut);
        assert_eq!(st(0x06), PrinterState::HeadOpen);
        assert_eq!(status_byte(&Details { paper_out: true, ..Details::default() }), 0x02);
    }

    use crate::lang::{decode_all, labels};

    #[test]
    fn manual_graphics_example_decodes() {
        // The manual's example: EG 2 16 90 45 with alternating F0F0…/0F0F… rows.
        let mut text = String::from("! 0 200 200 210 1\r\nEG 2 16 90 45 ");
        for r in 0..16 {
            text.push_str(if r % 2 == 0 { "F0F0" } else { "0F0F" });
        }
        text.push_str("\r\nFORM\r\nPRINT\r\n");
        let l = labels(decode_all(Language::Cpcl, 203, text.as_bytes()).unwrap());
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].height(), 210);
        assert!(l[0].get(90, 45) && !l[0].get(94, 45) && l[0].get(94, 46) && !l[0].get(90, 46));
    }

    #[test]
    fn escape_status_is_a_query() {
        assert_eq!(decode_all(Language::Cpcl, 203, &[ESC, b'h']).unwrap(), vec![Decoded::StatusQuery(Query::new("<ESC>h"))]);
    }

    #[test]
    fn unfinished_session_is_an_error() {
        let err = decode_all(Language::Cpcl, 203, b"! 0 200 200 100 1\r\nPW 100\r\n").unwrap_err();
        assert!(err.problem.contains("PRINT"), "{err}");
    }
}
