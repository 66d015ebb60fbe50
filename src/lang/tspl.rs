//! TSPL/TSPL2 (TSC Printer Language), from the TSC TSPL/TSPL2 Programming Manual. Most cheap 4×6 printers
//! (Xprinter, iDPRT, Rollo, MUNBYN, HPRT, Gprinter) speak it too.
//!
//! ```text
//! SIZE 99.88 mm,149.88 mm      label size (the raster's size in dots, converted at the printer's dpi)
//! GAP 3.00 mm,0 mm             or BLINE 3.00 mm,0 mm (black mark), GAP 0,0 (continuous)
//! DIRECTION 1,0
//! REFERENCE 0,0
//! DENSITY 8                    0–15, only when the profile sets it
//! SPEED 4                      inches per second, only when the profile sets it
//! CLS
//! BITMAP 0,40,100,320,0,<100×320 bytes>   x, y, width in bytes, height in dots, mode 0 = overwrite
//! PRINT 1,1                    label sets, copies of each
//! ```
//!
//! Every line ends in CR LF. In `BITMAP` data a 0 bit burns a dot and a 1 bit leaves it white, the opposite of
//! labeld's raster, so the encoder inverts each byte. Only rows with ink are sent, as one `BITMAP` per band.
//!
//! The decoder interprets `SIZE`, `REFERENCE`, `CLS`, `BITMAP` (modes OVERWRITE, OR, XOR), `BAR` and
//! `PRINT`, reports other commands, and recognises the immediate commands `<ESC>!?`, `<ESC>!S`, `<ESC>!R`,
//! `<ESC>!P`, `<ESC>!O`, `<ESC>!C` wherever a command may start.

use super::canvas::{self, Blend, shorten};
use super::status::{Details, Status, StatusProtocol};
use super::{Condition, Decoded, DecodeError, Dialect, EncodeError, JobSettings, Language, Media, Options, OptionError, OptionsInput, Query, Range, Ranges, StreamDecoder, ink_bands, limits};
use crate::bitmap::Bitmap;

const ESC: u8 = 0x1B;

/// TSPL's entry in the dialect table.
pub const DIALECT: Dialect = Dialect {
    name: "tspl",
    title: "TSC TSPL/TSPL2",
    ranges: Ranges {
        darkness: Some(Range { command: "DENSITY", min: 0, max: 15 }),
        speed: Some(Range { command: "SPEED", min: 1.0, max: 18.0 }),
    },
    encode,
    decoder: |dpi| Box::new(Decoder::new(dpi)),
    status: Some(StatusProtocol { name: "tspl-esc", query: b"\x1b!?", parse: |b| b.first().map(|&b| parse_status(b)) }),
    options: read_options,
    answer,
};

/// TSPL's own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsplOptions {
    /// `DIRECTION` (0 or 1): which way the label leaves the printer.
    pub direction: u8,
}

impl Default for TsplOptions {
    fn default() -> TsplOptions {
        TsplOptions { direction: 1 }
    }
}

fn read_options(input: &OptionsInput) -> Result<Options, OptionError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        tspl_direction: Option<toml::Spanned<u8>>,
    }
    let raw: Raw = input.table()?;
    let direction = match &raw.tspl_direction {
        Some(d) if *d.get_ref() > 1 => return Err(OptionError::at(d, format!("options.tspl_direction: must be 0 or 1, got {}", d.get_ref()))),
        Some(d) => *d.get_ref(),
        None => 1,
    };
    Ok(Options::of(TsplOptions { direction }))
}

/// Millimetres for a length in dots, to two decimals (the decoder rounds back to the same dot count).
fn mm(dots: u32, dpi: u32) -> String {
    format!("{:.2}", dots as f64 * 25.4 / dpi as f64)
}

fn encode(pages: &[Bitmap], s: &JobSettings) -> Result<Vec<u8>, EncodeError> {
    let limit = |problem: String| EncodeError::Limit { language: Language::Tspl, problem };
    let mut out: Vec<u8> = Vec::new();
    let line = |out: &mut Vec<u8>, l: String| {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    line(&mut out, format!("SIZE {} mm,{} mm", mm(s.width, s.dpi), mm(s.height, s.dpi)));
    let gap = format!("{:.2}", s.gap_mm);
    line(
        &mut out,
        match s.media {
            Media::Gap => format!("GAP {gap} mm,0 mm"),
            Media::Mark => format!("BLINE {gap} mm,0 mm"),
            Media::Continuous => "GAP 0,0".to_string(),
        },
    );
    let direction = s.options.get::<TsplOptions>().direction;
    if direction > 1 {
        return Err(limit(format!("DIRECTION must be 0 or 1, got {direction}")));
    }
    line(&mut out, format!("DIRECTION {direction},0"));
    line(&mut out, "REFERENCE 0,0".to_string());
    if let Some(d) = s.darkness {
        line(&mut out, format!("DENSITY {d}"));
    }
    if let Some(v) = s.speed {
        line(&mut out, format!("SPEED {v}"));
    }
    for page in pages {
        line(&mut out, "CLS".to_string());
        let stride = page.stride();
        for (y0, y1) in ink_bands(page, 8) {
            out.extend_from_slice(format!("BITMAP 0,{y0},{stride},{},0,", y1 - y0).as_bytes());
            out.extend(page.data()[y0 as usize * stride..y1 as usize * stride].iter().map(|b| !b));
            out.extend_from_slice(b"\r\n");
        }
        line(&mut out, format!("PRINT 1,{}", s.copies.max(1)));
    }
    Ok(out)
}

/// TSPL interpreter.
pub struct Decoder {
    dpi: u32,
    buf: Vec<u8>,
    base: u64,
    size: Option<(u32, u32)>,
    reference: (i64, i64),
    canvas: Option<Bitmap>,
}

impl Decoder {
    pub fn new(dpi: u32) -> Decoder {
        Decoder { dpi: dpi.max(1), buf: Vec::new(), base: 0, size: None, reference: (0, 0), canvas: None }
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
                    let head = String::from_utf8_lossy(&self.buf[pos..(pos + 8).min(self.buf.len())]).into_owned();
                    break Err(DecodeError::new(keyword(&head), self.base + pos as u64, "the stream ended inside this command"));
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match r {
            Ok(()) => {
                if self.buf.len() - pos > limits::MAX_PENDING {
                    let e = DecodeError::new("TSPL", self.base + pos as u64, "a command longer than 64 MiB never ended");
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
        self.canvas = None;
    }

    fn command(&mut self, pos: usize, at_end: bool, out: &mut Vec<Decoded>) -> Result<Option<usize>, DecodeError> {
        let offset = self.base + pos as u64;
        let rest = &self.buf[pos..];
        if rest[0] == ESC {
            if rest.len() < 3 {
                return Ok(None);
            }
            if rest[1] != b'!' {
                out.push(Decoded::Other(format!("<ESC>{} ignored", rest[1].escape_ascii())));
                return Ok(Some(pos + 2));
            }
            let q = match rest[2] {
                b'?' => Decoded::StatusQuery(Query::new("<ESC>!?")),
                b'S' => Decoded::StatusQuery(Query::new("<ESC>!S")),
                b'R' => Decoded::StatusQuery(Query::new("<ESC>!R")),
                c @ (b'P' | b'O' | b'C') => Decoded::StatusQuery(Query::new(format!("<ESC>!{}", c as char))),
                c => Decoded::Other(format!("<ESC>!{} ignored", c.escape_ascii())),
            };
            out.push(q);
            return Ok(Some(pos + 3));
        }
        if rest[0] == b'~' && rest.get(1) == Some(&b'!') {
            if rest.len() < 3 {
                return Ok(None);
            }
            out.push(Decoded::Other(format!("~!{} query", rest[2].escape_ascii())));
            return Ok(Some(pos + 3));
        }
        // BITMAP carries binary data that may hold line breaks: its header ends at the fifth comma.
        const BITMAP: &[u8] = b"BITMAP";
        let n = rest.len().min(BITMAP.len());
        if rest[..n].eq_ignore_ascii_case(&BITMAP[..n]) && rest.get(BITMAP.len()).is_none_or(|&b| b == b' ') {
            if rest.len() <= BITMAP.len() {
                return Ok(None);
            }
            return self.bitmap(pos, offset);
        }
        // A last command without its line break is still a command once the stream ends.
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
        let (kw, params) = match line.find(' ') {
            Some(i) => (&line[..i], line[i + 1..].trim()),
            None => (line.trim(), ""),
        };
        let kw_up = kw.to_ascii_uppercase();
        let p: Vec<&str> = params.split(',').map(str::trim).collect();
        match kw_up.as_str() {
            "SIZE" => {
                if p.len() < 2 {
                    return Err(DecodeError::new("SIZE", offset, "needs a width and a height"));
                }
                let w = self.length("SIZE", offset, "width", p[0])?;
                let h = self.length("SIZE", offset, "height", p[1])?;
                canvas::blank("SIZE", offset, w, h)?;
                self.size = Some((w, h));
                out.push(Decoded::Other(format!("SIZE {w}×{h} dots")));
            }
            "REFERENCE" => {
                if p.len() < 2 {
                    return Err(DecodeError::new("REFERENCE", offset, "needs x and y"));
                }
                self.reference = (
                    canvas::uint("REFERENCE", offset, "x", p[0], limits::MAX_WIDTH as u64)? as i64,
                    canvas::uint("REFERENCE", offset, "y", p[1], limits::MAX_HEIGHT as u64)? as i64,
                );
            }
            "CLS" => {
                let (w, h) = self.size.ok_or_else(|| DecodeError::new("CLS", offset, "CLS before SIZE: the label size is unknown"))?;
                self.canvas = Some(canvas::blank("CLS", offset, w, h)?);
            }
            "BAR" => {
                if p.len() < 4 {
                    return Err(DecodeError::new("BAR", offset, "needs x, y, width and height"));
                }
                let v: Vec<i64> = p[..4].iter().zip(["x", "y", "width", "height"]).map(|(s, n)| canvas::uint("BAR", offset, n, s, 32_000).map(|v| v as i64)).collect::<Result<_, _>>()?;
                let (rx, ry) = self.reference;
                let c = self.canvas_mut("BAR", offset)?;
                c.fill_rect((v[0] + rx) as i32, (v[1] + ry) as i32, v[2] as i32, v[3] as i32, true);
            }
            "PRINT" => {
                let sets = match p.first() {
                    Some(s) if !s.is_empty() => canvas::uint("PRINT", offset, "number of label sets", s, 999_999_999)?,
                    _ => 1,
                };
                let copies = match p.get(1) {
                    Some(s) if !s.is_empty() => canvas::uint("PRINT", offset, "copies", s, 999_999_999)?,
                    _ => 1,
                };
                let n = sets.saturating_mul(copies);
                if n > limits::MAX_COPIES {
                    return Err(DecodeError::new("PRINT", offset, format!("{n} labels is more than this printer makes of one label ({})", limits::MAX_COPIES)));
                }
                let label = self.canvas_mut("PRINT", offset)?.clone();
                for _ in 0..n {
                    out.push(Decoded::Label(label.clone()));
                }
            }
            "GAP" | "BLINE" | "DIRECTION" | "DENSITY" | "SPEED" | "OFFSET" | "SHIFT" | "SET" | "CODEPAGE" | "COUNTRY" | "LIMITFEED" | "HOME" | "FEED" | "BACKFEED" | "FORMFEED" | "CUT" | "SOUND" | "SELFTEST" | "INITIALPRINTER" | "EOP" => {
                out.push(Decoded::Other(format!("{kw_up} {}", shorten(params)).trim_end().to_string()));
            }
            "" => {}
            _ => {
                // TEXT, BARCODE, QRCODE… carry content: name the command only.
                out.push(Decoded::Other(format!("{} not rendered", shorten(&kw_up))));
            }
        }
        Ok(())
    }

    /// `12.5 mm`, `400 dot`, or inches, to dots at this printer's resolution.
    fn length(&self, cmd: &str, offset: u64, name: &str, s: &str) -> Result<u32, DecodeError> {
        let s = s.trim();
        let (num, unit) = if let Some(v) = s.strip_suffix("mm") {
            (v.trim(), 25.4)
        } else if let Some(v) = s.strip_suffix("dot") {
            (v.trim(), 0.0)
        } else {
            (s, 1.0)
        };
        let v: f64 = num.parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0).ok_or_else(|| DecodeError::new(cmd, offset, format!("{name} must be a length such as \"100 mm\", got {:?}", shorten(s))))?;
        let dots = if unit == 0.0 { v } else { v * self.dpi as f64 / unit };
        if dots > 1e6 {
            return Err(DecodeError::new(cmd, offset, format!("{name} {v} is too large")));
        }
        Ok(dots.round() as u32)
    }

    fn canvas_mut(&mut self, cmd: &str, offset: u64) -> Result<&mut Bitmap, DecodeError> {
        if self.canvas.is_none() {
            // No CLS yet: the printer's image buffer starts white.
            let (w, h) = self.size.ok_or_else(|| DecodeError::new(cmd, offset, format!("{cmd} before SIZE: the label size is unknown")))?;
            self.canvas = Some(canvas::blank(cmd, offset, w, h)?);
        }
        Ok(self.canvas.as_mut().expect("just set"))
    }

    /// `BITMAP x,y,width,height,mode,data`.
    fn bitmap(&mut self, pos: usize, offset: u64) -> Result<Option<usize>, DecodeError> {
        const CMD: &str = "BITMAP";
        let start = pos + 6;
        let mut commas = Vec::with_capacity(5);
        let mut i = start;
        while commas.len() < 5 {
            match self.buf.get(i) {
                None => return Ok(None),
                Some(b',') => commas.push(i),
                Some(b'\n') => return Err(DecodeError::new(CMD, offset, "needs x, y, width, height and mode before the data")),
                Some(_) if i - start > 80 => return Err(DecodeError::new(CMD, offset, "parameters are not numbers")),
                _ => {}
            }
            i += 1;
        }
        let field = |a: usize, b: usize| String::from_utf8_lossy(&self.buf[a..b]).trim().to_string();
        let x = canvas::uint(CMD, offset, "x", &field(start, commas[0]), 32_000)? as i64;
        let y = canvas::uint(CMD, offset, "y", &field(commas[0] + 1, commas[1]), 32_000)? as i64;
        let width = canvas::uint(CMD, offset, "width (bytes)", &field(commas[1] + 1, commas[2]), (limits::MAX_WIDTH / 8) as u64)? as usize;
        let height = canvas::uint(CMD, offset, "height", &field(commas[2] + 1, commas[3]), limits::MAX_HEIGHT as u64)? as usize;
        let blend = match field(commas[3] + 1, commas[4]).as_str() {
            "0" => Blend::Overwrite,
            "1" => Blend::Or,
            "2" => Blend::Xor,
            other => return Err(DecodeError::new(CMD, offset, format!("mode must be 0 (OVERWRITE), 1 (OR) or 2 (XOR), got {:?}", shorten(other)))),
        };
        let data_start = commas[4] + 1;
        let len = width * height;
        if self.buf.len() < data_start + len {
            return Ok(None);
        }
        let (rx, ry) = self.reference;
        let data = self.buf[data_start..data_start + len].to_vec();
        let c = self.canvas_mut(CMD, offset)?;
        canvas::blit(c, x + rx, y + ry, &data, width, false, blend);
        Ok(Some(data_start + len))
    }
}

fn keyword(head: &str) -> String {
    let k: String = head.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    if k.is_empty() { "TSPL".into() } else { k.to_ascii_uppercase() }
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
// TSPL <ESC>!? : bit 0 head opened, 1 paper jam, 2 out of paper, 3 out of ribbon, 4 pause, 5 printing,
// 6 cover opened (option), 7 environment temperature over range (option). 0x00 = ready.

fn parse_status(b: u8) -> Status {
    Status::from_details(Details {
        head_open: b & 0x01 != 0,
        paper_jam: b & 0x02 != 0,
        paper_out: b & 0x04 != 0,
        ribbon_out: b & 0x08 != 0,
        paused: b & 0x10 != 0,
        printing: b & 0x20 != 0,
        cover_open: b & 0x40 != 0,
        over_temperature: b & 0x80 != 0,
        ..Details::default()
    })
}

pub fn status_byte(d: &Details) -> u8 {
    [d.head_open, d.paper_jam, d.paper_out, d.ribbon_out, d.paused, d.printing, d.cover_open, d.over_temperature]
        .iter()
        .enumerate()
        .fold(0, |acc, (bit, &on)| acc | (u8::from(on) << bit))
}


/// The virtual printer's answers: the `<ESC>!?` status byte; the extended status and the immediate
/// commands are not emulated.
fn answer(q: &Query, c: &Condition) -> Vec<u8> {
    match q.0.as_str() {
        "<ESC>!?" => vec![status_byte(&c.details)],
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
    fn tspl_bits_follow_the_manual_table() {
        let st = |b: u8| parse(&[b]).unwrap().state;
        assert_eq!(st(0x00), PrinterState::Ready);
        assert_eq!(st(0x01), PrinterState::HeadOpen);
        assert_eq!(st(0x02), PrinterState::Offline); // paper jam
        assert_eq!(st(0x04), PrinterState::PaperOut);
        assert_eq!(st(0x05), PrinterState::HeadOpen); // out of paper and head opened
        assert_eq!(st(0x08), PrinterState::Offline); // out of ribbon
        assert_eq!(st(0x0C), PrinterState::PaperOut); // ribbon and paper out
        assert_eq!(st(0x10), PrinterState::Paused);
        assert_eq!(st(0x20), PrinterState::Printing);
        assert_eq!(parse(&[]), None);
        for d in [Details { paper_out: true, ..Details::default() }, Details { printing: true, paused: true, ..Details::default() }] {
            assert_eq!(parse_status(status_byte(&d)).details, d);
        }
    }

    use crate::lang::{decode_all, labels};

    #[test]
    fn bitmap_zero_bits_are_black() {
        // The manual's convention: 0 prints, 1 does not.
        let mut bytes = b"SIZE 2 dot,2 dot\r\nCLS\r\nBITMAP 0,0,1,2,0,".to_vec();
        bytes.extend([0x7F, 0xFF]);
        bytes.extend(b"\r\nPRINT 1\r\n");
        let l = labels(decode_all(Language::Tspl, 203, &bytes).unwrap());
        assert_eq!(l.len(), 1);
        assert!(l[0].get(0, 0) && !l[0].get(1, 0) && !l[0].get(0, 1));
    }

    #[test]
    fn status_inquiry_is_immediate() {
        let mut d = Decoder::new(203);
        assert_eq!(d.push(&[ESC, b'!', b'?']).unwrap(), vec![Decoded::StatusQuery(Query::new("<ESC>!?"))]);
        assert_eq!(d.push(&[ESC, b'!']).unwrap(), vec![]);
        assert_eq!(d.push(b"R").unwrap(), vec![Decoded::StatusQuery(Query::new("<ESC>!R"))]);
    }

    #[test]
    fn sizes_round_trip_through_millimetres() {
        for dpi in [203, 300] {
            let d = Decoder::new(dpi);
            for dots in 1..4000 {
                let back = d.length("SIZE", 0, "width", &format!("{} mm", mm(dots, dpi))).unwrap();
                assert_eq!(back, dots, "{dots} dots at {dpi} dpi");
            }
        }
    }

    #[test]
    fn truncated_bitmap_is_an_error_at_the_end() {
        let err = decode_all(Language::Tspl, 203, b"SIZE 10 mm,10 mm\r\nCLS\r\nBITMAP 0,0,10,10,0,abc").unwrap_err();
        assert_eq!(err.command, "BITMAP");
    }
}
