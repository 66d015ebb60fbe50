//! ZPL II (Zebra Programming Language), from the ZPL II Programming Guide.
//!
//! A label is one format, `^XA` … `^XZ`, holding the raster as `^GF` graphic fields:
//!
//! ```text
//! ~SD15                      darkness 00–30 (only when the profile sets it)
//! ^XA^MNY^PR4^PW799^LL1199^LH0,0
//! ^FO0,0^GFA,99900,99900,100,:Z64:eJzt…:3A7F^FS
//! ^FO0,999^GFA,…^FS          ^GF counts stop at 99,999 bytes, so a label is sent in horizontal strips
//! ^PQ1^XZ
//! ```
//!
//! On an 8-bit clean link (the default there) the raster goes instead as one binary PNG object, named by
//! the CRC-32 of its bytes, recalled in the format and deleted after it:
//!
//! ```text
//! ~DYR:1A2B3C4D,B,P,9588,,<9,588 bytes of PNG>
//! ^XA^MNY^PR4^PW799^LL1199^LH0,0
//! ^FO0,0^XGR:1A2B3C4D.PNG,1,1^FS
//! ^PQ1^XZ
//! ^XA^IDR:1A2B3C4D.PNG^FS^XZ
//! ```
//!
//! * `:Z64:` data is the strip deflated in zlib format, Base64-encoded, followed by `:` and the CRC-16 of
//!   the Base64 text (polynomial 0x1021, initial value 0: CRC-16/XMODEM), in four hex digits.
//! * ACS (every ZPL II printer; the default takes it for a field where it is shorter than `:Z64:`) is ASCII
//!   hex with Zebra's compression: `G`–`Y` repeat the next hex digit 1–19 times, `g`–`z` 20–400 times
//!   (summed when combined), `,` fills the rest of the row with 0, `!` with 1, and `:` repeats the previous
//!   row.
//!
//! The decoder interprets formats: `^XA`/`^XZ`, `^LH`, `^FO`/`^FT`, `^GF` (A: hex, ACS, `:B64:`, `:Z64:`;
//! B: binary), `^GB` boxes, `^PW`, `^LL`, `^PQ`, `^CC`/`^CT` prefix changes, and the status queries
//! `~HS`, `~HI`, `~HQ`. Text and barcode fields are reported, not drawn: labeld never sends them.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use flate2::read::ZlibDecoder;

use super::canvas::{self, shorten};
use super::status::{Details, Status, StatusProtocol};
use super::{Condition, Decoded, DecodeError, Dialect, EncodeError, JobSettings, Language, Media, Options, OptionError, OptionsInput, Query, Range, Ranges, StreamDecoder, limits};
use crate::bitmap::Bitmap;

/// ZPL's entry in the dialect table.
pub const DIALECT: Dialect = Dialect {
    name: "zpl",
    title: "Zebra ZPL II",
    ranges: Ranges {
        darkness: Some(Range { command: "~SD", min: 0, max: 30 }),
        speed: Some(Range { command: "^PR", min: 1.0, max: 14.0 }),
    },
    encode,
    decoder: |_| Box::new(Decoder::new()),
    status: Some(StatusProtocol { name: "zpl-hs", query: b"~HS", parse: parse_hs }),
    options: read_options,
    answer,
};

/// How the raster is packed (profile `[options] zpl_compression`). Without the key a profile gets `png`
/// where its link is 8-bit clean and `z64` on an XON/XOFF serial link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Per `^GF` field the shorter of zlib + Base64 + CRC-16 (`:Z64:`) and ACS, for firmware x.14 and later.
    #[default]
    Z64,
    /// ASCII hex with Zebra's run-length letters (`G`–`z`, `,` `!` `:`): every ZPL II printer reads it.
    Acs,
    /// The label as a binary PNG object (`~DY…,B,P`, in the X.10 manual already), printed with `^XG` and
    /// deleted with `^ID`: about a quarter smaller than `:Z64:` (no Base64, so a label fits in 12 KB), but it
    /// needs an 8-bit clean link without XON/XOFF.
    Png,
}

/// ZPL's own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZplOptions {
    pub encoding: Encoding,
}

fn read_options(input: &OptionsInput) -> Result<Options, OptionError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        zpl_compression: Option<toml::Spanned<String>>,
    }
    let raw: Raw = input.table()?;
    let encoding = match &raw.zpl_compression {
        None if input.binary_safe => Encoding::Png,
        None => Encoding::Z64,
        Some(c) => match c.get_ref().as_str() {
            "z64" => Encoding::Z64,
            "acs" => Encoding::Acs,
            "png" if !input.binary_safe => {
                return Err(OptionError::at(c, "options.zpl_compression: png sends binary data, which an XON/XOFF serial link cannot carry; use z64 or hardware flow control".into()));
            }
            "png" => Encoding::Png,
            other => return Err(OptionError::at(c, format!("options.zpl_compression: {other:?} is not z64, acs or png"))),
        },
    };
    Ok(Options::of(ZplOptions { encoding }))
}

/// Largest byte count a `^GF` field accepts.
pub const GF_MAX_BYTES: usize = 99_999;

/// CRC-16/XMODEM (poly 0x1021, init 0, no reflection, no final xor): the check the ZB64 encodings carry.
pub fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// libdeflate's level for PNG objects, which go over USB and TCP: a label in about 0.5 ms, every fixture
/// within 12 KB.
const PNG_LEVEL: i32 = 6;
/// libdeflate's level for `:Z64:`, which by default only XON/XOFF serial links get, where a byte costs a
/// millisecond at 9,600 baud: about 6% fewer bytes than level 6 for about 1.5 ms more.
const Z64_LEVEL: i32 = 9;

use crate::render::png::zlib;

/// `:Z64:<base64 of zlib(data)>:<crc>`.
pub fn z64(data: &[u8]) -> String {
    let text = BASE64.encode(zlib(data, Z64_LEVEL));
    let crc = crc16_xmodem(text.as_bytes());
    format!(":Z64:{text}:{crc:04X}")
}

/// The shorter of the two encodings a printer with `:Z64:` reads (firmware x.14 on reads ACS too). A small
/// field (a rule, a few rows) is shorter in ACS, since `:Z64:` spends about 20 bytes on the zlib header,
/// Adler-32, Base64 padding and CRC; a whole label is about a third the size in `:Z64:` (deflate repeats rows
/// as cheaply as ACS's `:` and codes text rows far better).
pub fn smaller_of_z64_and_acs(data: &[u8], stride: usize) -> String {
    let z = z64(data);
    match acs_within(data, stride, z.len() - 1) {
        Some(a) => a,
        None => z,
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Zebra's ASCII compression of packed rows, `stride` bytes each.
pub fn acs(data: &[u8], stride: usize) -> String {
    acs_within(data, stride, usize::MAX).expect("no limit")
}

/// Zebra's ASCII compression, or `None` as soon as it is longer than `limit` bytes: text rows cost ACS about
/// three times what they cost `:Z64:`, so most of a label is never encoded twice.
pub fn acs_within(data: &[u8], stride: usize, limit: usize) -> Option<String> {
    let mut out = String::with_capacity((data.len() / 4).min(limit.saturating_add(1)));
    let mut prev: Option<&[u8]> = None;
    for row in data.chunks(stride) {
        if out.len() > limit {
            return None;
        }
        if prev == Some(row) {
            out.push(':');
            continue;
        }
        prev = Some(row);
        let nibbles: Vec<u8> = row.iter().flat_map(|b| [b >> 4, b & 0xF]).collect();
        // A trailing run of 0 (or F) becomes `,` (or `!`), which fills whole bytes: an odd-length run
        // keeps one digit so the fill starts on a byte boundary.
        let mut end = nibbles.len();
        let mut fill = None;
        if let Some(&last) = nibbles.last()
            && (last == 0 || last == 0xF)
        {
            let mut start = end;
            while start > 0 && nibbles[start - 1] == last {
                start -= 1;
            }
            if start % 2 == 1 {
                start += 1;
            }
            if start < end {
                end = start;
                fill = Some(if last == 0 { ',' } else { '!' });
            }
        }
        let mut i = 0;
        while i < end {
            let v = nibbles[i];
            let mut n = 1;
            while i + n < end && nibbles[i + n] == v {
                n += 1;
            }
            push_run(&mut out, n, HEX[v as usize] as char);
            i += n;
        }
        if let Some(c) = fill {
            out.push(c);
        }
    }
    (out.len() <= limit).then_some(out)
}

/// `n` copies of a hex digit, with repeat letters when they are shorter.
fn push_run(out: &mut String, mut n: usize, digit: char) {
    if n <= 2 {
        for _ in 0..n {
            out.push(digit);
        }
        return;
    }
    while n > 0 {
        if n >= 20 {
            let k = (n / 20).min(20);
            out.push((b'g' + (k - 1) as u8) as char);
            n -= k * 20;
        }
        if n > 0 && n < 20 {
            out.push((b'G' + (n - 1) as u8) as char);
            n = 0;
        }
        out.push(digit);
    }
}

fn encode(pages: &[Bitmap], s: &JobSettings) -> Result<Vec<u8>, EncodeError> {
    let encoding = s.options.get::<ZplOptions>().encoding;
    let mut out: Vec<u8> = Vec::new();
    let put = |out: &mut Vec<u8>, text: &str| out.extend_from_slice(text.as_bytes());
    if let Some(d) = s.darkness {
        put(&mut out, &format!("~SD{d:02}\n"));
    }
    if s.copies == 0 || s.copies > 99_999_999 {
        return Err(limit(format!("{} copies is outside ^PQ's 1–99,999,999", s.copies)));
    }
    for page in pages {
        let stride = page.stride();
        if stride > GF_MAX_BYTES {
            return Err(limit(format!("a {}-dot row does not fit one ^GF field", page.width())));
        }
        // The image travels once, as a binary PNG object in printer RAM, recalled by a name made from its
        // own bytes: a label whose download was cut off can never recall another label's picture.
        let object = (encoding == Encoding::Png).then(|| {
            let png = png_object(page);
            let object = format!("{PNG_OBJECT_DEVICE}{:08X}", crc32fast::hash(&png));
            put(&mut out, &format!("~DY{object},B,P,{},,", png.len()));
            out.extend_from_slice(&png);
            put(&mut out, "\n");
            object
        });
        put(&mut out, "^XA\n");
        put(
            &mut out,
            match s.media {
                Media::Gap => "^MNY\n",
                Media::Mark => "^MNM\n",
                Media::Continuous => "^MNN\n",
            },
        );
        if let Some(ips) = s.speed {
            let p = ips.round() as i64;
            put(&mut out, &format!("^PR{p}\n"));
        }
        put(&mut out, &format!("^PW{}\n^LL{}\n^LH0,0\n", s.width, s.height));
        if let Some(object) = &object {
            put(&mut out, &format!("^FO0,0^XG{object}.PNG,1,1^FS\n"));
        } else {
            let rows_per_strip = (GF_MAX_BYTES / stride.max(1)).max(1);
            let mut y = 0u32;
            while y < page.height() {
                let h = (rows_per_strip as u32).min(page.height() - y);
                let data = &page.data()[y as usize * stride..(y + h) as usize * stride];
                // White strips cost nothing to leave out: the label starts white.
                if data.iter().any(|&b| b != 0) {
                    let body = match encoding {
                        Encoding::Acs => acs(data, stride),
                        _ => smaller_of_z64_and_acs(data, stride),
                    };
                    put(&mut out, &format!("^FO0,{y}^GFA,{n},{n},{stride},{body}^FS\n", n = data.len()));
                }
                y += h;
            }
        }
        put(&mut out, &format!("^PQ{}\n^XZ\n", s.copies));
        if let Some(object) = &object {
            // Free the printer's RAM once the label is formatted.
            put(&mut out, &format!("^XA^ID{object}.PNG^FS^XZ\n"));
        }
    }
    Ok(out)
}

/// Where `Encoding::Png` stores the label image: printer RAM, which a power cycle clears.
const PNG_OBJECT_DEVICE: &str = "R:";

/// The page as a 1-bit greyscale PNG (0 = black, as PNG greyscale has it): no pHYs (the printer
/// prints it dot for dot), rows unfiltered, at [`PNG_LEVEL`].
pub fn png_object(page: &Bitmap) -> Vec<u8> {
    crate::render::png::one_bit(page, None, PNG_LEVEL)
}

fn limit(problem: String) -> EncodeError {
    EncodeError::Limit { language: Language::Zpl, problem }
}

/// One `^GF` or `^GB` placed on the label.
struct Field {
    x: i64,
    y: i64,
    graphic: Bitmap,
}

/// The format being built between `^XA` and `^XZ`.
#[derive(Default)]
struct Format {
    home: (i64, i64),
    origin: (i64, i64),
    /// `^FT` places a graphic by its bottom-left corner.
    typeset: bool,
    width: Option<u32>,
    length: Option<u32>,
    copies: u64,
    /// `^PQ` was given: the format prints even with nothing on it.
    quantity_given: bool,
    fields: Vec<Field>,
}

/// ZPL interpreter. Commands without parameters (`^XZ`, `~HS`…) complete at once; the others when the next
/// command prefix arrives, or when the stream ends.
pub struct Decoder {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    format_prefix: u8,
    control_prefix: u8,
    format: Option<Format>,
    /// Graphics downloaded with `~DY`/`~DG`, by `D:NAME.EXT`.
    objects: std::collections::HashMap<String, Bitmap>,
    /// Bytes after the start of the pending command already searched for the next prefix: data that
    /// arrives in small pieces is scanned once, not once per piece.
    scanned: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Two-letter commands that take no parameters, so they end right after their name.
const BARE: &[&[u8; 2]] = &[b"XA", b"XZ", b"FS", b"FR", b"HS", b"HI", b"HM", b"HD", b"JA", b"PS", b"PP", b"HH", b"HB", b"JR"];

impl Decoder {
    pub fn new() -> Decoder {
        Decoder { buf: Vec::new(), base: 0, format_prefix: b'^', control_prefix: b'~', format: None, objects: Default::default(), scanned: 0 }
    }

    fn is_prefix(&self, b: u8) -> bool {
        b == self.format_prefix || b == self.control_prefix
    }

    /// Position of the next command prefix at or after `from`, for the command starting at `cmd`;
    /// remembers how far it looked when there is none yet.
    fn next_prefix(&mut self, cmd: usize, from: usize) -> Option<usize> {
        let from = from.max(cmd + self.scanned).min(self.buf.len());
        match self.buf[from..].iter().position(|&b| self.is_prefix(b)) {
            Some(n) => Some(from + n),
            None => {
                self.scanned = self.buf.len() - cmd;
                None
            }
        }
    }

    /// Parses as many whole commands as the buffer holds.
    fn run(&mut self, at_end: bool) -> Result<Vec<Decoded>, DecodeError> {
        let mut out = Vec::new();
        let mut pos = 0usize;
        let result = loop {
            // Skip line breaks and blanks between commands; report anything else that is not a command.
            let start = pos;
            while pos < self.buf.len() && !self.is_prefix(self.buf[pos]) {
                pos += 1;
            }
            let junk = self.buf[start..pos].iter().filter(|b| !b.is_ascii_whitespace()).count();
            if junk > 0 {
                out.push(Decoded::Other(format!("ignored {junk} bytes outside any command")));
            }
            if pos >= self.buf.len() {
                break Ok(());
            }
            match self.command(pos, at_end, &mut out) {
                Ok(Some(next)) => {
                    pos = next;
                    self.scanned = 0;
                }
                Ok(None) => {
                    if at_end {
                        let name = String::from_utf8_lossy(&self.buf[pos..(pos + 3).min(self.buf.len())]).into_owned();
                        break Err(DecodeError::new(name, self.base + pos as u64, "the stream ended inside this command"));
                    }
                    break Ok(());
                }
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(()) => {
                if self.buf.len() - pos > limits::MAX_PENDING {
                    let e = DecodeError::new("ZPL", self.base + pos as u64, "a command longer than 64 MiB never ended");
                    self.reset_after_error();
                    return Err(e);
                }
                self.buf.drain(..pos);
                self.base += pos as u64;
                if at_end && let Some(_f) = self.format.take() {
                    return Err(DecodeError::new("^XA", self.base, "the stream ended before ^XZ: the label was never completed"));
                }
                Ok(out)
            }
            Err(e) => {
                self.reset_after_error();
                Err(e)
            }
        }
    }

    fn reset_after_error(&mut self) {
        self.base += self.buf.len() as u64;
        self.buf.clear();
        self.format = None;
        self.scanned = 0;
    }

    /// Interprets the command at `pos`. `Ok(None)`: it is not complete yet.
    fn command(&mut self, pos: usize, at_end: bool, out: &mut Vec<Decoded>) -> Result<Option<usize>, DecodeError> {
        let buf = &self.buf;
        if buf.len() < pos + 3 {
            return Ok(None);
        }
        let prefix = buf[pos];
        let name = [buf[pos + 1].to_ascii_uppercase(), buf[pos + 2].to_ascii_uppercase()];
        let offset = self.base + pos as u64;
        let label = format!("{}{}{}", prefix as char, name[0] as char, name[1] as char);
        let params_start = pos + 3;

        if BARE.contains(&&name) {
            self.bare(&name, &label, offset, out)?;
            return Ok(Some(params_start));
        }
        if &name == b"HQ" {
            if buf.len() < pos + 5 {
                return Ok(None);
            }
            let kind = String::from_utf8_lossy(&buf[pos + 3..pos + 5]).to_ascii_uppercase();
            out.push(Decoded::StatusQuery(Query::new(format!("~HQ{kind}"))));
            return Ok(Some(pos + 5));
        }
        if &name == b"CC" || &name == b"CT" {
            // The new prefix is the single character that follows.
            let Some(&c) = buf.get(params_start) else { return Ok(None) };
            let text = (c as char).to_string();
            self.with_params(&name, &label, offset, &text, out)?;
            return Ok(Some(params_start + 1));
        }
        if &name == b"DY" {
            return self.download_object(params_start, offset, at_end, out);
        }
        if &name == b"GF" && self.format.is_some() {
            return self.graphic_field(params_start, offset, at_end);
        }
        // Parameters run to the next command prefix.
        let end = match self.next_prefix(pos, params_start) {
            Some(n) => n,
            None if at_end => self.buf.len(),
            None => return Ok(None),
        };
        let buf = &self.buf;
        let params = String::from_utf8_lossy(&buf[params_start..end]).into_owned();
        self.with_params(&name, &label, offset, params.trim_end_matches(['\r', '\n']), out)?;
        Ok(Some(end))
    }

    fn bare(&mut self, name: &[u8; 2], label: &str, offset: u64, out: &mut Vec<Decoded>) -> Result<(), DecodeError> {
        match name {
            b"XA" => {
                if self.format.is_some() {
                    return Err(DecodeError::new(label, offset, "^XA inside a format that was never ended with ^XZ"));
                }
                self.format = Some(Format { copies: 1, ..Format::default() });
            }
            b"XZ" => {
                let f = self.format.take().ok_or_else(|| DecodeError::new(label, offset, "^XZ without a ^XA"))?;
                // A format with no fields and no ^PQ (settings, ^ID housekeeping) feeds no label.
                if f.fields.is_empty() && !f.quantity_given {
                    out.push(Decoded::Other("^XZ format without fields: nothing printed".into()));
                    return Ok(());
                }
                let label_bmp = compose(f.width, f.length, &f.fields, label, offset)?;
                if f.copies > limits::MAX_COPIES {
                    return Err(DecodeError::new("^PQ", offset, format!("{} copies is more than this printer makes of one label ({})", f.copies, limits::MAX_COPIES)));
                }
                for _ in 0..f.copies {
                    out.push(Decoded::Label(label_bmp.clone()));
                }
            }
            b"FS" => {
                if let Some(f) = &mut self.format {
                    f.typeset = false;
                }
            }
            b"HS" => out.push(Decoded::StatusQuery(Query::new("~HS"))),
            b"HI" => out.push(Decoded::StatusQuery(Query::new("~HI"))),
            _ => out.push(Decoded::Other(label.to_string())),
        }
        Ok(())
    }

    fn with_params(&mut self, name: &[u8; 2], label: &str, offset: u64, params: &str, out: &mut Vec<Decoded>) -> Result<(), DecodeError> {
        let p: Vec<&str> = params.split(',').collect();
        let arg = |i: usize| p.get(i).map(|s| s.trim()).filter(|s| !s.is_empty());
        match (name, &mut self.format) {
            (b"CC", _) | (b"CT", _) => {
                let c = params.bytes().next().ok_or_else(|| DecodeError::new(label, offset, "a new prefix character is required"))?;
                if c.is_ascii_whitespace() || c == b',' {
                    return Err(DecodeError::new(label, offset, "the prefix cannot be a blank or a comma"));
                }
                if name == b"CC" {
                    self.format_prefix = c;
                } else {
                    self.control_prefix = c;
                }
                out.push(Decoded::Other(format!("{label} prefix now {:?}", c as char)));
            }
            (b"LH", Some(f)) => {
                f.home = (
                    arg(0).map(|v| canvas::uint(label, offset, "x", v, 32_000)).transpose()?.unwrap_or(0) as i64,
                    arg(1).map(|v| canvas::uint(label, offset, "y", v, 32_000)).transpose()?.unwrap_or(0) as i64,
                );
            }
            (b"FO", Some(f)) | (b"FT", Some(f)) => {
                let x = arg(0).map(|v| canvas::uint(label, offset, "x", v, 32_000)).transpose()?.unwrap_or(0) as i64;
                let y = arg(1).map(|v| canvas::uint(label, offset, "y", v, 32_000)).transpose()?.unwrap_or(0) as i64;
                f.origin = (f.home.0 + x, f.home.1 + y);
                f.typeset = name == b"FT";
            }
            (b"PW", Some(f)) => {
                let v = arg(0).ok_or_else(|| DecodeError::new(label, offset, "the print width is missing"))?;
                f.width = Some(canvas::uint(label, offset, "print width", v, limits::MAX_WIDTH as u64)? as u32);
            }
            (b"LL", Some(f)) => {
                let v = arg(0).ok_or_else(|| DecodeError::new(label, offset, "the label length is missing"))?;
                f.length = Some(canvas::uint(label, offset, "label length", v, limits::MAX_HEIGHT as u64)? as u32);
            }
            (b"PQ", Some(f)) => {
                let q = arg(0).map(|v| canvas::uint(label, offset, "quantity", v, 99_999_999)).transpose()?.unwrap_or(1);
                f.copies = q.max(1);
                f.quantity_given = true;
            }
            (b"GB", Some(f)) => {
                let w = arg(0).map(|v| canvas::uint(label, offset, "width", v, 32_000)).transpose()?.unwrap_or(1).max(1);
                let h = arg(1).map(|v| canvas::uint(label, offset, "height", v, 32_000)).transpose()?.unwrap_or(1).max(1);
                let t = arg(2).map(|v| canvas::uint(label, offset, "thickness", v, 32_000)).transpose()?.unwrap_or(1).max(1);
                let (w, h) = (w.max(t) as u32, h.max(t) as u32);
                let black = !matches!(arg(3), Some("W") | Some("w"));
                let mut g = canvas::blank(label, offset, w, h)?;
                if black {
                    let t = t as i32;
                    g.fill_rect(0, 0, w as i32, t, true);
                    g.fill_rect(0, h as i32 - t, w as i32, t, true);
                    g.fill_rect(0, 0, t, h as i32, true);
                    g.fill_rect(w as i32 - t, 0, t, h as i32, true);
                    f.fields.push(Field { x: f.origin.0, y: place_y(f, h), graphic: g });
                } else {
                    out.push(Decoded::Other(format!("{label} white box not drawn")));
                }
            }
            (b"XG", Some(f)) => {
                let name = object_name(arg(0).unwrap_or(""), "GRF");
                let mx = arg(1).map(|v| canvas::uint(label, offset, "x magnification", v, 10)).transpose()?.unwrap_or(1);
                let my = arg(2).map(|v| canvas::uint(label, offset, "y magnification", v, 10)).transpose()?.unwrap_or(1);
                if mx != 1 || my != 1 {
                    return Err(DecodeError::new(label, offset, "magnified graphics are not supported by this printer; use 1,1"));
                }
                let g = self.objects.get(&name).ok_or_else(|| DecodeError::new(label, offset, format!("no object {name} was downloaded")))?.clone();
                let y = place_y(f, g.height());
                f.fields.push(Field { x: f.origin.0, y, graphic: g });
            }
            (b"ID", _) => {
                let name = object_name(arg(0).unwrap_or(""), "GRF");
                self.objects.remove(&name);
                out.push(Decoded::Other(format!("^ID {name} deleted")));
            }
            (b"FD", _) | (b"FV", _) | (b"FH", _) => {
                // Field data may be anyone's text: report the command only.
                out.push(Decoded::Other(format!("{label} field data not rendered")));
            }
            (b"GF", None) => return Err(DecodeError::new(label, offset, "^GF outside a format (no ^XA before it)")),
            _ => out.push(Decoded::Other(format!("{label}{}", shorten(params)))),
        }
        Ok(())
    }

    /// `^GFa,b,c,d,data`. Returns the position after the data, or `None` while it is still arriving.
    fn graphic_field(&mut self, start: usize, offset: u64, at_end: bool) -> Result<Option<usize>, DecodeError> {
        const CMD: &str = "^GF";
        let buf = &self.buf;
        // The four numeric parameters end at the fourth comma.
        let mut commas = Vec::with_capacity(4);
        let mut i = start;
        while commas.len() < 4 {
            match buf.get(i) {
                None => return if at_end { Err(DecodeError::new(CMD, offset, "the stream ended inside the parameters")) } else { Ok(None) },
                Some(&b) if self.is_prefix(b) => return Err(DecodeError::new(CMD, offset, "needs four parameters (type, byte count, field count, bytes per row) before the data")),
                Some(b',') => commas.push(i),
                Some(_) if i - start > 64 => return Err(DecodeError::new(CMD, offset, "parameters are not numbers")),
                _ => {}
            }
            i += 1;
        }
        let text = |a: usize, b: usize| String::from_utf8_lossy(&buf[a..b]).trim().to_string();
        let kind = text(start, commas[0]).to_ascii_uppercase();
        let binary_count = canvas::uint(CMD, offset, "binary byte count", &text(commas[0] + 1, commas[1]), GF_MAX_BYTES as u64)? as usize;
        let total = canvas::uint(CMD, offset, "graphic field count", &text(commas[1] + 1, commas[2]), GF_MAX_BYTES as u64)? as usize;
        let stride = canvas::uint(CMD, offset, "bytes per row", &text(commas[2] + 1, commas[3]), GF_MAX_BYTES as u64)? as usize;
        if stride == 0 || total == 0 {
            return Err(DecodeError::new(CMD, offset, "bytes per row and graphic field count must be at least 1"));
        }
        if !total.is_multiple_of(stride) {
            return Err(DecodeError::new(CMD, offset, format!("graphic field count {total} is not a whole number of {stride}-byte rows")));
        }
        if stride as u64 * 8 > limits::MAX_WIDTH as u64 {
            return Err(DecodeError::new(CMD, offset, format!("{stride} bytes per row is wider than {} dots", limits::MAX_WIDTH)));
        }
        let data_start = commas[3] + 1;
        let (data, end) = match kind.as_str() {
            "A" => {
                let end = match self.next_prefix(start - 3, data_start) {
                    Some(n) => n,
                    None if at_end => self.buf.len(),
                    None => return Ok(None),
                };
                let buf = &self.buf;
                let ascii: Vec<u8> = buf[data_start..end].iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
                (decode_ascii(&ascii, total, stride, offset)?, end)
            }
            "B" => {
                if buf.len() < data_start + binary_count {
                    return if at_end { Err(DecodeError::new(CMD, offset, format!("the stream ended {} bytes into {binary_count} bytes of binary data", buf.len() - data_start))) } else { Ok(None) };
                }
                if binary_count != total {
                    return Err(DecodeError::new(CMD, offset, format!("binary byte count {binary_count} differs from graphic field count {total}")));
                }
                (buf[data_start..data_start + binary_count].to_vec(), data_start + binary_count)
            }
            "C" => return Err(DecodeError::new(CMD, offset, "compression type C (Zebra compressed binary) is not supported; send A or B")),
            other => return Err(DecodeError::new(CMD, offset, format!("compression type must be A, B or C, got {:?}", shorten(other)))),
        };
        let rows = (total / stride) as u32;
        let graphic = Bitmap::from_packed(stride as u32 * 8, rows, data).ok_or_else(|| DecodeError::new(CMD, offset, "internal: row arithmetic"))?;
        let f = self.format.as_mut().expect("checked by the caller");
        let y = place_y(f, rows);
        f.fields.push(Field { x: f.origin.0, y, graphic });
        Ok(Some(end))
    }
}

/// `R:NAME.EXT` with the default device and extension filled in, upper-cased.
fn object_name(raw: &str, default_ext: &str) -> String {
    let raw = raw.trim().to_ascii_uppercase();
    let with_device = if raw.contains(':') { raw } else { format!("R:{raw}") };
    if with_device.rsplit(':').next().is_some_and(|n| n.contains('.')) { with_device } else { format!("{with_device}.{default_ext}") }
}

impl Decoder {
    /// `~DYd:f,b,x,t,w,data`: PNG (`x` = P) or raw bitmap (`x` = G) objects, binary (`b` = B) or ASCII.
    fn download_object(&mut self, start: usize, offset: u64, at_end: bool, out: &mut Vec<Decoded>) -> Result<Option<usize>, DecodeError> {
        const CMD: &str = "~DY";
        let mut commas = Vec::with_capacity(5);
        let mut i = start;
        while commas.len() < 5 {
            match self.buf.get(i) {
                None => return if at_end { Err(DecodeError::new(CMD, offset, "the stream ended inside the parameters")) } else { Ok(None) },
                Some(b',') => commas.push(i),
                Some(&b) if self.is_prefix(b) => return Err(DecodeError::new(CMD, offset, "needs name, format, extension, size and row bytes before the data")),
                Some(_) if i - start > 80 => return Err(DecodeError::new(CMD, offset, "parameters are too long")),
                _ => {}
            }
            i += 1;
        }
        let text = |a: usize, b: usize| String::from_utf8_lossy(&self.buf[a..b]).trim().to_ascii_uppercase();
        let (format, ext) = (text(commas[0] + 1, commas[1]), text(commas[1] + 1, commas[2]));
        let size = canvas::uint(CMD, offset, "total bytes", &text(commas[2] + 1, commas[3]), 16 << 20)? as usize;
        let row_bytes = text(commas[3] + 1, commas[4]);
        let name_raw = text(start, commas[0]);
        let data_start = commas[4] + 1;
        let (payload, end) = match format.as_str() {
            "B" => {
                if self.buf.len() < data_start + size {
                    return if at_end { Err(DecodeError::new(CMD, offset, format!("the stream ended {} bytes into {size} bytes of binary data", self.buf.len() - data_start))) } else { Ok(None) };
                }
                (self.buf[data_start..data_start + size].to_vec(), data_start + size)
            }
            "A" | "P" => {
                let end = match self.next_prefix(start - 3, data_start) {
                    Some(n) => n,
                    None if at_end => self.buf.len(),
                    None => return Ok(None),
                };
                let ascii: Vec<u8> = self.buf[data_start..end].iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
                let stride = if ext == "G" { canvas::uint(CMD, offset, "bytes per row", &row_bytes, GF_MAX_BYTES as u64)?.max(1) as usize } else { 1 };
                (decode_ascii(&ascii, size, stride, offset).map_err(|e| DecodeError::new(CMD, offset, e.problem))?, end)
            }
            other => return Err(DecodeError::new(CMD, offset, format!("format {:?} is not supported; send A, B or P", shorten(other)))),
        };
        let graphic = match ext.as_str() {
            "P" => {
                if payload.len() < 24 || &payload[..8] != b"\x89PNG\r\n\x1a\n" {
                    return Err(DecodeError::new(CMD, offset, "the data is not a PNG file"));
                }
                let w = u32::from_be_bytes(payload[16..20].try_into().expect("4 bytes"));
                let h = u32::from_be_bytes(payload[20..24].try_into().expect("4 bytes"));
                canvas::blank(CMD, offset, w, h)?;
                crate::render::png::decode(&payload).map_err(|e| DecodeError::new(CMD, offset, format!("bad PNG: {e}")))?
            }
            "G" => {
                let stride = canvas::uint(CMD, offset, "bytes per row", &row_bytes, GF_MAX_BYTES as u64)? as usize;
                if stride == 0 || payload.len() % stride != 0 {
                    return Err(DecodeError::new(CMD, offset, "total bytes is not a whole number of rows"));
                }
                let rows = (payload.len() / stride) as u32;
                canvas::blank(CMD, offset, stride as u32 * 8, rows)?;
                Bitmap::from_packed(stride as u32 * 8, rows, payload).expect("sizes checked")
            }
            other => return Err(DecodeError::new(CMD, offset, format!("extension {:?} is not a graphic this printer stores (P or G)", shorten(other)))),
        };
        if self.objects.len() >= 64 {
            return Err(DecodeError::new(CMD, offset, "more than 64 stored graphics: delete some with ^ID"));
        }
        let name = object_name(&name_raw, if ext == "P" { "PNG" } else { "GRF" });
        out.push(Decoded::Other(format!("~DY {name} stored")));
        self.objects.insert(name, graphic);
        Ok(Some(end))
    }
}

/// `^FT` puts a graphic's bottom-left corner at the origin, `^FO` its top-left.
fn place_y(f: &Format, h: u32) -> i64 {
    if f.typeset { f.origin.1 - h as i64 } else { f.origin.1 }
}

/// `^GFA` data: `:Z64:`/`:B64:` or hex with ACS compression, to exactly `total` bytes.
fn decode_ascii(ascii: &[u8], total: usize, stride: usize, offset: u64) -> Result<Vec<u8>, DecodeError> {
    const CMD: &str = "^GF";
    if ascii.starts_with(b":Z64:") || ascii.starts_with(b":B64:") {
        let zipped = ascii.starts_with(b":Z64:");
        let body = &ascii[5..];
        let colon = body.iter().rposition(|&b| b == b':').ok_or_else(|| DecodeError::new(CMD, offset, "ZB64 data has no ':' before its CRC"))?;
        let (text, crc_text) = (&body[..colon], &body[colon + 1..]);
        let crc_str = std::str::from_utf8(crc_text).unwrap_or("");
        let want = u16::from_str_radix(crc_str, 16)
            .ok()
            .filter(|_| crc_text.len() == 4)
            .ok_or_else(|| DecodeError::new(CMD, offset, format!("the CRC must be four hex digits, got {:?}", shorten(crc_str))))?;
        let got = crc16_xmodem(text);
        if got != want {
            return Err(DecodeError::new(CMD, offset, format!("CRC mismatch: the data has {got:04X}, the field says {want:04X}; download aborted")));
        }
        let raw = BASE64.decode(text).map_err(|e| DecodeError::new(CMD, offset, format!("bad Base64: {e}")))?;
        let data = if zipped {
            let mut out = Vec::with_capacity(total);
            // Read one byte past the expected size to notice data that is too long, without unbounded output.
            ZlibDecoder::new(&raw[..])
                .take(total as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| DecodeError::new(CMD, offset, format!("bad zlib stream: {e}")))?;
            out
        } else {
            raw
        };
        if data.len() != total {
            return Err(DecodeError::new(CMD, offset, format!("data holds {}{} bytes, the field count says {total}", data.len(), if data.len() > total { "+" } else { "" })));
        }
        return Ok(data);
    }
    decode_acs(ascii, total, stride).map_err(|p| DecodeError::new(CMD, offset, p))
}

/// Hex digits with ACS run letters to packed bytes.
pub fn decode_acs(ascii: &[u8], total: usize, stride: usize) -> Result<Vec<u8>, String> {
    let row_digits = stride * 2;
    let mut digits: Vec<u8> = Vec::with_capacity(total * 2);
    let mut repeat = 0usize;
    for (i, &c) in ascii.iter().enumerate() {
        if digits.len() > total * 2 {
            break;
        }
        let in_row = digits.len() % row_digits;
        match c {
            b'G'..=b'Y' => repeat += (c - b'G') as usize + 1,
            b'g'..=b'z' => repeat += ((c - b'g') as usize + 1) * 20,
            b',' | b'!' => {
                if repeat != 0 {
                    return Err(format!("repeat count before {:?} at data position {i}", c as char));
                }
                let fill = if c == b',' { 0 } else { 0xF };
                // `,` right after a complete row fills the whole next row.
                let n = row_digits - in_row;
                digits.extend(std::iter::repeat_n(fill, n));
            }
            b':' => {
                if repeat != 0 || in_row != 0 {
                    return Err(format!("':' (repeat the previous row) in the middle of a row at data position {i}"));
                }
                if digits.is_empty() {
                    return Err("':' (repeat the previous row) before any row".into());
                }
                let start = digits.len() - row_digits;
                digits.extend_from_within(start..start + row_digits);
            }
            _ => {
                let v = (c as char).to_digit(16).ok_or_else(|| format!("{:?} at data position {i} is not a hex digit or compression character", c as char))? as u8;
                // A run may cross into the next row; the total is checked at the end.
                let n = repeat.max(1).min(total * 2 + 1 - digits.len());
                repeat = 0;
                digits.extend(std::iter::repeat_n(v, n));
            }
        }
    }
    if repeat != 0 {
        return Err("the data ends with a repeat count and no digit".into());
    }
    if digits.len() != total * 2 {
        return Err(format!("data holds {} bytes, the field count says {total}", digits.len().div_ceil(2).min(total + 1)));
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// The label at `^XZ`: `^PW`×`^LL`, or just large enough for its fields when those are missing.
fn compose(width: Option<u32>, length: Option<u32>, fields: &[Field], label: &str, offset: u64) -> Result<Bitmap, DecodeError> {
    let extent_x = fields.iter().map(|f| f.x + f.graphic.width() as i64).max().unwrap_or(0).max(0) as u32;
    let extent_y = fields.iter().map(|f| f.y + f.graphic.height() as i64).max().unwrap_or(0).max(0) as u32;
    let mut canvas = canvas::blank(label, offset, width.unwrap_or(extent_x), length.unwrap_or(extent_y))?;
    for f in fields {
        canvas::overlay(&mut canvas, &f.graphic, f.x, f.y);
    }
    Ok(canvas)
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
// ZPL ~HS. ZPL II Programming Guide, ~HS "Host Status Return":
//   String 1  <STX>aaa,b,c,dddd,eee,f,g,h,iii,j,k,l<ETX><CR><LF>
//     aaa communication settings, b paper out, c pause, dddd label length (dots), eee formats in receive
//     buffer, f buffer full, g comms diagnostic mode, h partial format, iii unused, j corrupt RAM,
//     k under temperature, l over temperature
//   String 2  <STX>mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www<ETX><CR><LF>
//     mmm function settings, n unused, o head up, p ribbon out, q thermal transfer mode, r print mode,
//     s print width mode, t label waiting (peel-off), uuuuuuuu labels remaining in batch, v format while
//     printing (always 1), www graphic images stored
//   String 3  <STX>xxxx,y<ETX><CR><LF>
//     xxxx password, y static RAM installed

const STX: u8 = 0x02;
const ETX: u8 = 0x03;

/// The `<STX>…<ETX>` frames in `bytes`, in order; `None` if the last one is not closed yet.
fn stx_frames(bytes: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while let Some(start) = rest.iter().position(|&b| b == STX) {
        let after = &rest[start + 1..];
        let Some(end) = after.iter().position(|&b| b == ETX) else { break };
        frames.push(&after[..end]);
        rest = &after[end + 1..];
    }
    frames
}

fn parse_hs(bytes: &[u8]) -> Option<Status> {
    let frames = stx_frames(bytes);
    if frames.len() < 3 {
        return None;
    }
    Some(zpl_fields(&frames[..3]).unwrap_or_else(|why| Status::unknown(format!("~HS answer: {why}"))))
}

fn zpl_fields(frames: &[&[u8]]) -> Result<Status, String> {
    let line = |i: usize, want: usize| -> Result<Vec<String>, String> {
        let text = std::str::from_utf8(frames[i]).map_err(|_| format!("line {} is not text", i + 1))?;
        let fields: Vec<String> = text.split(',').map(|f| f.trim().to_string()).collect();
        if fields.len() != want {
            return Err(format!("line {} has {} fields, expected {want}", i + 1, fields.len()));
        }
        Ok(fields)
    };
    let l1 = line(0, 12)?;
    let l2 = line(1, 11)?;
    line(2, 2)?;
    let flag = |l: &[String], i: usize, name: &str| -> Result<bool, String> {
        match l[i].as_str() {
            "0" => Ok(false),
            "1" => Ok(true),
            other => Err(format!("{name} flag is `{other}`, not 0 or 1")),
        }
    };
    let number = |l: &[String], i: usize, name: &str| -> Result<u32, String> {
        l[i].parse().map_err(|_| format!("{name} is `{}`, not a number", l[i]))
    };
    Ok(Status::from_details(Details {
        paper_out: flag(&l1, 1, "paper out")?,
        paused: flag(&l1, 2, "pause")?,
        label_length_dots: Some(number(&l1, 3, "label length")?),
        formats_in_buffer: Some(number(&l1, 4, "formats in buffer")?),
        buffer_full: flag(&l1, 5, "buffer full")?,
        partial_format: flag(&l1, 7, "partial format")?,
        corrupt_ram: flag(&l1, 9, "corrupt RAM")?,
        under_temperature: flag(&l1, 10, "under temperature")?,
        over_temperature: flag(&l1, 11, "over temperature")?,
        head_open: flag(&l2, 2, "head up")?,
        ribbon_out: flag(&l2, 3, "ribbon out")?,
        label_waiting: flag(&l2, 7, "label waiting")?,
        labels_remaining: Some(number(&l2, 8, "labels remaining")?),
        ..Details::default()
    }))
}

/// The `~HS` answer a ZPL printer in this condition sends (8N1 9600 baud, DTR, direct thermal, tear-off).
pub fn hs_answer(d: &Details) -> Vec<u8> {
    let b = |v: bool| if v { '1' } else { '0' };
    let line1 = format!(
        "030,{},{},{:04},{:03},{},0,{},000,{},{},{}",
        b(d.paper_out),
        b(d.paused),
        d.label_length_dots.unwrap_or(1218).min(9999),
        d.formats_in_buffer.unwrap_or(0).min(999),
        b(d.buffer_full),
        b(d.partial_format),
        b(d.corrupt_ram),
        b(d.under_temperature),
        b(d.over_temperature),
    );
    let line2 = format!(
        "001,0,{},{},0,2,6,{},{:08},1,000",
        b(d.head_open),
        b(d.ribbon_out),
        b(d.label_waiting),
        d.labels_remaining.unwrap_or(0).min(99_999_999),
    );
    let mut out = Vec::new();
    for line in [line1.as_str(), line2.as_str(), "1234,0"] {
        out.push(STX);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(&[ETX, b'\r', b'\n']);
    }
    out
}


/// The virtual printer's answers: `~HS` in the printer's condition, `~HI` naming it; other `~HQ` queries
/// go unanswered.
fn answer(q: &Query, c: &Condition) -> Vec<u8> {
    match q.0.as_str() {
        "~HS" => hs_answer(&Details { labels_remaining: Some(c.details.formats_in_buffer.unwrap_or(0)), ..c.details.clone() }),
        // ~HI: <STX>model,firmware,dots per mm,memory,options<ETX><CR><LF>
        "~HI" => format!("\x02LABELD-VP,V1.0.0,{},8192KB\x03\r\n", if c.dpi >= 300 { 12 } else { 8 }).into_bytes(),
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

    /// A ~HS answer of an idle ZD421, as in the manual's layout: 203 dpi, 6-inch label (1218 dots).
    const HS_IDLE: &[u8] = b"\x02030,0,0,1218,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,0,0,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";

    fn hs(line1: &str, line2: &str) -> Vec<u8> {
        format!("\x02{line1}\x03\r\n\x02{line2}\x03\r\n\x021234,0\x03\r\n").into_bytes()
    }

    #[test]
    fn zpl_idle_is_ready() {
        let s = parse(HS_IDLE).unwrap();
        assert_eq!(s.state, PrinterState::Ready);
        assert_eq!(s.details.label_length_dots, Some(1218));
        assert_eq!(s.details.labels_remaining, Some(0));
        assert!(s.conditions().is_empty());
    }

    #[test]
    fn zpl_reads_every_flag_from_its_position() {
        let paper_out = hs("030,1,0,1218,000,0,0,0,000,0,0,0", "001,0,0,0,0,2,6,0,00000000,1,000");
        assert_eq!(parse(&paper_out).unwrap().state, PrinterState::PaperOut);
        let paused = hs("030,0,1,1218,000,0,0,0,000,0,0,0", "001,0,0,0,0,2,6,0,00000000,1,000");
        assert_eq!(parse(&paused).unwrap().state, PrinterState::Paused);
        let head_up = hs("030,1,1,1218,000,0,0,0,000,0,0,0", "001,0,1,0,0,2,6,0,00000000,1,000");
        let s = parse(&head_up).unwrap();
        assert_eq!(s.state, PrinterState::HeadOpen);
        assert_eq!(s.conditions(), vec!["head open", "paper out", "paused"]);
        let ribbon = hs("030,0,0,1218,000,0,0,0,000,0,0,0", "001,0,0,1,1,2,6,0,00000000,1,000");
        assert_eq!(parse(&ribbon).unwrap().state, PrinterState::Offline);
        let busy = hs("030,0,0,1218,003,1,0,1,000,0,1,0", "001,0,0,0,0,2,6,0,00000042,1,000");
        let s = parse(&busy).unwrap();
        assert_eq!(s.state, PrinterState::Printing);
        assert_eq!((s.details.formats_in_buffer, s.details.labels_remaining), (Some(3), Some(42)));
        assert!(s.details.buffer_full && s.details.partial_format && s.details.under_temperature);
        let hot = hs("030,0,0,1218,000,0,0,0,000,0,0,1", "001,0,0,0,0,2,6,0,00000000,1,000");
        assert_eq!(parse(&hot).unwrap().state, PrinterState::Offline);
    }

    #[test]
    fn zpl_partial_or_garbled_answers_are_not_ready() {
        assert_eq!(parse(&HS_IDLE[..40]), None);
        assert_eq!(parse(b""), None);
        let short = hs("030,0,0,1218,000,0,0,0,000,0", "001,0,0,0,0,2,6,0,00000000,1,000");
        assert!(matches!(parse(&short).unwrap().state, PrinterState::Unknown(w) if w.contains("line 1 has 10 fields")));
        let bad_flag = hs("030,X,0,1218,000,0,0,0,000,0,0,0", "001,0,0,0,0,2,6,0,00000000,1,000");
        assert!(matches!(parse(&bad_flag).unwrap().state, PrinterState::Unknown(w) if w.contains("paper out")));
    }

    #[test]
    fn zpl_answer_round_trips() {
        for d in [
            Details::default(),
            Details { paper_out: true, ..Details::default() },
            Details { head_open: true, paused: true, ..Details::default() },
            Details { labels_remaining: Some(7), formats_in_buffer: Some(2), ribbon_out: true, ..Details::default() },
        ] {
            let s = parse(&hs_answer(&d)).unwrap();
            assert_eq!(s, Status::from_details(Details { label_length_dots: Some(1218), labels_remaining: Some(d.labels_remaining.unwrap_or(0)), formats_in_buffer: Some(d.formats_in_buffer.unwrap_or(0)), ..d }));
        }
        assert_eq!(hs_answer(&Details::default()), HS_IDLE);
    }

    use crate::lang::{decode_all, labels};

    #[test]
    fn crc16_xmodem_check_value() {
        // The catalogued check value of CRC-16/XMODEM.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
    }

    #[test]
    fn z64_field_written_by_another_tool_decodes() {
        // A ^GF field produced by third-party software (posted in the BinaryKits.Zpl discussions, #178):
        // its CRC D069 and its 2,560-byte payload check our reading of the ZB64 format end to end.
        let zpl = concat!("^XA^FO768,64^GFA,02560,02560,00020,:Z64:", "eJztVT2OEzEUtmMiF1OMkEApKHyEbRFI6xQcYA+AlCtwAjwl0l5ia66wRYYbQEFviSalkSIxSiZ+vGfP2J6ZQEFFsY6SsT5/+d57fj/D2H+1ni0+f118B9/nWAUAzYxmEOuXNPBT4g6+Pd+Bm2BwwJ/HroQkvMPfDWwLrD5F9kOBmai0KwX30WJVCEqIzzUU2HhehKJGHdUm7O14XNlsdvRLHhPmx41Ihnm6EH5ZnrLb5Ep2PynX2Vo9ehC82rI79iI7SO6tLLPsNRPjXwx+N1a6dZ8d/IhfbW+s6JML5B43zjjVZ1fxjO8tON2HfeA5usFf4EwfdSgMtFXDD3DgUyACeQoww4BGdebp7tVJnNFPNYSLvpujOYasDFiNGFht6y4HjBiH1rQhK0PAdAQNNNpmniIeh62xg3g8Ep57FngyXgyakj0HZtrMU5QR4WMRiIInEWvzf2+pYGY8HXikOAQfeXWHF1zyMB31VR6WILCJHmIDj0fem1GPTfSyXVnq/cG/ZmJ3EUfUgyHexBNeDHdQ3AtcuT/Ph3yINvPWmDk3yQcPeSOsbnPevkCr+oyF/D5M6yDUizPHGliqg1hXmkLOdUX1d1EgyekBI151vkfTh3CZtNbHWM8XgFTPVOsCTtBpn1o59Af8NL2C3B/0JMOVT/0R+m3nNj2Ol9TK1BOiW3W4SX2pMB7+gb1nm8yrGsbmW2kTlvpcZEyPm2K+mHTaXdmlU5lHtB6tFZNGfZ1virGXBmGWKefpeGvCZ4ibqKPK4a4P4bG3BRYnfUhcWisgxk0hR4KXO/Zy9v6ozqfPj+dmgq3p3TN5fZAWQnYKEfHCFuvTEnpaT+uf1m+WdlzV", ":D069^FS^XZ");
        let body = zpl.split(":Z64:").nth(1).unwrap().split(':').next().unwrap();
        assert_eq!(crc16_xmodem(body.as_bytes()), 0xD069);
        let l = labels(decode_all(Language::Zpl, 203, zpl.as_bytes()).unwrap());
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].width(), l[0].height()), (768 + 160, 64 + 128));
    }

    #[test]
    fn acs_matches_the_manual_examples() {
        // "M6" is seven 6s; "hB" is forty Bs; "vMB" is 327 Bs (ZPL II Programming Guide, ACS chapter).
        assert_eq!(decode_acs(b"M6M6M6M6M6M6M6M6M6M6M6M6M6M6M6M6M6M6M6M6", 70, 70).unwrap(), vec![0x66; 70]);
        assert_eq!(decode_acs(b"hB", 20, 20).unwrap(), vec![0xBB; 20]);
        let mut long = b"vMB".to_vec();
        long.push(b'B');
        assert_eq!(decode_acs(&long, 164, 164).unwrap(), vec![0xBB; 164]);
        // The condensed triangle (Figure 4.2): "FO," is F0 followed by zeros.
        assert_eq!(decode_acs(b"F0,FF,FFF0,", 18, 6).unwrap()[..8], [0xF0, 0, 0, 0, 0, 0, 0xFF, 0]);
    }

    #[test]
    fn acs_round_trips_awkward_rows() {
        let stride = 5;
        let rows: Vec<u8> = vec![
            0, 0, 0, 0, 0, // all white
            0, 0, 0, 0, 0, // repeated
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // all black
            0x10, 0, 0, 0, 0, // odd zero run
            0xAB, 0xCD, 0xEF, 0xFF, 0xFF, // trailing ones
            0x12, 0x34, 0x56, 0x78, 0x9A,
        ];
        let text = acs(&rows, stride);
        assert_eq!(decode_acs(text.as_bytes(), rows.len(), stride).unwrap(), rows, "{text}");
    }

    #[test]
    fn each_field_takes_the_shorter_encoding() {
        // A short rule: a few ACS digits and `:` per row, against :Z64:'s zlib header, Adler-32, Base64 and CRC.
        let mut rule = Bitmap::new(96, 4);
        for y in 0..4 {
            for x in 8..88 {
                rule.set(x, y, true);
            }
        }
        // Scattered dots that repeat neither along a row nor down a column: ACS spells every digit.
        let mut noise = Bitmap::new(800, 300);
        let mut seed = 0x2545_f491_u32;
        for y in 0..300 {
            for x in 0..800 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                noise.set(x, y, seed % 7 == 0);
            }
        }
        for (name, page, want_acs) in [("rule", &rule, true), ("noise", &noise, false)] {
            let data = page.data();
            let (z, a) = (z64(data), acs(data, page.stride()));
            assert_eq!(a.len() < z.len(), want_acs, "{name}: ACS {} bytes, :Z64: {} bytes", a.len(), z.len());
            let zpl = encode(std::slice::from_ref(page), &JobSettings::new(203, page.width(), page.height())).unwrap();
            let text = String::from_utf8(zpl.clone()).unwrap();
            assert_eq!(!text.contains(":Z64:"), want_acs, "{name}");
            assert!(zpl.len() < z.len().min(a.len()) + 100, "{name}: {} bytes", zpl.len());
            let back = labels(decode_all(Language::Zpl, 203, &zpl).unwrap());
            assert!(crate::lang::same_raster(page, &back[0]), "{name}");
        }
        assert_eq!(acs_within(noise.data(), noise.stride(), 1000), None);
        assert_eq!(acs_within(rule.data(), rule.stride(), usize::MAX).as_deref(), Some(acs(rule.data(), rule.stride()).as_str()));
    }

    /// Every page's object is named by its own CRC-32, recalled and deleted by that name, so a label whose
    /// download was cut off cannot print another label's picture.
    #[test]
    fn png_objects_are_named_by_their_bytes() {
        let mut settings = JobSettings::for_bitmap(203, &Bitmap::new(64, 32));
        settings.options.set(ZplOptions { encoding: Encoding::Png });
        let mut pages = [Bitmap::new(64, 32), Bitmap::new(64, 32)];
        pages[0].fill_rect(0, 0, 8, 8, true);
        pages[1].fill_rect(8, 8, 8, 8, true);
        let out = encode(&pages, &settings).unwrap();
        let text = String::from_utf8_lossy(&out);
        let names: Vec<String> = [&pages[0], &pages[1]].iter().map(|p| format!("R:{:08X}", crc32fast::hash(&png_object(p)))).collect();
        assert_ne!(names[0], names[1]);
        for name in &names {
            for command in [format!("~DY{name},B,P,"), format!("^XG{name}.PNG,1,1"), format!("^ID{name}.PNG")] {
                assert_eq!(text.matches(&command).count(), 1, "{command} in {text}");
            }
        }
        let labels = crate::lang::labels(crate::lang::decode_all(Language::Zpl, 203, &out).unwrap());
        assert_eq!(labels.len(), 2);
        assert!(crate::lang::same_raster(&pages[0], &labels[0]) && crate::lang::same_raster(&pages[1], &labels[1]));
    }

    #[test]
    fn bad_crc_is_an_error_naming_gf() {
        let text = format!("^XA^FO0,0^GFA,4,4,2,{}^FS^XZ", z64(&[0, 0, 0x10, 0]));
        let at = text.find(":Z64:").unwrap() + 8;
        let mut broken = text.clone().into_bytes();
        broken[at] = if broken[at] == b'A' { b'B' } else { b'A' };
        let broken = String::from_utf8(broken).unwrap();
        let err = decode_all(Language::Zpl, 203, broken.as_bytes()).unwrap_err();
        assert_eq!(err.command, "^GF");
        assert!(err.problem.contains("CRC") || err.problem.contains("zlib"), "{err}");
    }

    #[test]
    fn status_queries_answer_without_waiting() {
        let mut d = Decoder::new();
        assert_eq!(d.push(b"~HS").unwrap(), vec![Decoded::StatusQuery(Query::new("~HS"))]);
        assert_eq!(d.push(b"~HQES").unwrap(), vec![Decoded::StatusQuery(Query::new("~HQES"))]);
    }

    #[test]
    fn boxes_and_prefix_changes_are_interpreted() {
        let zpl = b"^XA^PW20^LL10^FO2,2^GB5,4,1^FS^CC+\r\n+FO10,0+GFA,2,2,1,FF80+FS+XZ";
        let l = labels(decode_all(Language::Zpl, 203, zpl).unwrap());
        assert_eq!(l.len(), 1);
        assert!(l[0].get(2, 2) && l[0].get(6, 5) && !l[0].get(4, 3));
        assert!(l[0].get(10, 0) && l[0].get(17, 0) && l[0].get(10, 1) && !l[0].get(11, 1));
    }
}
