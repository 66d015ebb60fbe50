//! ESC/POS (Epson), from the ESC/POS Application Programming Guide / Command Reference.
//!
//! ```text
//! ESC @                                  1B 40              initialise
//! GS v 0 m xL xH yL yH d1…dk             1D 76 30 00 …      raster band: x bytes wide, y rows, 1 = black
//! …                                                         one band per `escpos_band_height` rows
//! GS V 65 n                              1D 56 41 00        feed to the cutter and cut (or GS FF: next label)
//! ```
//!
//! Raster bytes are labeld's rows as they are (MSB = leftmost dot). Bands keep each command within small
//! printers' receive buffers.
//!
//! The decoder stacks consecutive bands into one label, which ends at a cut (`GS V`), `GS FF`, or the end of
//! the stream. It answers `DLE EOT n` and `GS r n`, skips the common setup commands by their parameter
//! lengths, and refuses a command it cannot measure rather than guess where the next one starts.

use super::canvas::{self, Blend};
use super::status::{Details, Status, StatusProtocol};
use super::{Condition, Decoded, DecodeError, Dialect, EncodeError, JobSettings, Language, Options, OptionError, OptionsInput, Query, Ranges, StreamDecoder, limits};
use crate::bitmap::Bitmap;

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const DLE: u8 = 0x10;
const FS: u8 = 0x1C;

/// ESC/POS's entry in the dialect table.
pub const DIALECT: Dialect = Dialect {
    name: "escpos",
    title: "Epson ESC/POS",
    // No darkness or speed commands in the raster subset labeld sends.
    ranges: Ranges { darkness: None, speed: None },
    encode,
    decoder: |_| Box::new(Decoder::new()),
    status: Some(StatusProtocol {
        name: "escpos-dle-eot",
        query: STATUS_QUERY,
        parse: |b| (b.len() >= 4).then(|| parse_status(b[..4].try_into().expect("4 bytes"))),
    }),
    options: read_options,
    answer,
};

/// The four real-time status requests, asked in one write; the answers come back in order.
const STATUS_QUERY: &[u8] = &[DLE, 0x04, 1, DLE, 0x04, 2, DLE, 0x04, 3, DLE, 0x04, 4];

/// ESC/POS's own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscPosOptions {
    /// Rows per `GS v 0` band: small printers have small receive buffers.
    pub band_height: u32,
    /// Cut after each page (`GS V`), otherwise feed to the next label (`GS FF`).
    pub cut: bool,
}

impl Default for EscPosOptions {
    fn default() -> EscPosOptions {
        EscPosOptions { band_height: 128, cut: true }
    }
}

fn read_options(input: &OptionsInput) -> Result<Options, OptionError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        escpos_band_height: Option<toml::Spanned<u32>>,
        escpos_cut: Option<bool>,
    }
    let raw: Raw = input.table()?;
    let band_height = match &raw.escpos_band_height {
        Some(h) if !(1..=2303).contains(h.get_ref()) => {
            return Err(OptionError::at(h, format!("options.escpos_band_height: must be 1–2303 rows, got {}", h.get_ref())));
        }
        Some(h) => *h.get_ref(),
        None => 128,
    };
    Ok(Options::of(EscPosOptions { band_height, cut: raw.escpos_cut.unwrap_or(true) }))
}

fn encode(pages: &[Bitmap], s: &JobSettings) -> Result<Vec<u8>, EncodeError> {
    let limit = |problem: String| EncodeError::Limit { language: Language::EscPos, problem };
    let options = s.options.get::<EscPosOptions>();
    let band = options.band_height.clamp(1, 2303) as usize;
    let mut out = vec![ESC, b'@'];
    for page in pages {
        let stride = page.stride();
        if stride > 0xFFFF {
            return Err(limit(format!("{stride} bytes per row does not fit GS v 0")));
        }
        for _ in 0..s.copies.max(1) {
            for rows in page.data().chunks(stride * band) {
                let h = rows.len() / stride;
                out.extend([GS, b'v', b'0', 0, (stride & 0xFF) as u8, (stride >> 8) as u8, (h & 0xFF) as u8, (h >> 8) as u8]);
                out.extend_from_slice(rows);
            }
            if options.cut {
                out.extend([GS, b'V', 65, 0]);
            } else {
                out.extend([GS, 0x0C]);
            }
        }
    }
    Ok(out)
}

/// ESC/POS interpreter.
pub struct Decoder {
    buf: Vec<u8>,
    base: u64,
    /// Bands of the label being printed: (bytes per row, scale x, scale y, rows).
    bands: Vec<(usize, u8, u8, Vec<u8>)>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Parameter bytes after `ESC x` for the commands labeld and common drivers send.
fn esc_params(c: u8) -> Option<usize> {
    Some(match c {
        b'@' | b'<' | b'2' | b'i' | b'm' | b'L' | b'S' | 0x0C => 0,
        b' ' | b'!' | b'-' | b'3' | b'=' | b'?' | b'E' | b'G' | b'J' | b'K' | b'M' | b'R' | b'U' | b'V' | b'a' | b'd' | b'e' | b't' | b'{' | b'r' | b'T' => 1,
        b'$' | b'\\' | b'c' => 2,
        b'p' => 3,
        _ => return None,
    })
}

/// Parameter bytes after `GS x` (fixed-length ones only).
fn gs_params(c: u8) -> Option<usize> {
    Some(match c {
        b'!' | b'B' | b'H' | b'a' | b'b' | b'f' | b'h' | b'w' | b'I' | b'r' => 1,
        b'L' | b'W' | b'P' | b'$' | b'\\' => 2,
        0x0C => 0,
        _ => return None,
    })
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder { buf: Vec::new(), base: 0, bands: Vec::new() }
    }

    fn run(&mut self) -> Result<Vec<Decoded>, DecodeError> {
        let mut out = Vec::new();
        let mut pos = 0;
        let r = loop {
            if pos >= self.buf.len() {
                break Ok(());
            }
            match self.command(pos, &mut out) {
                Ok(Some(next)) => pos = next,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match r {
            Ok(()) => {
                if self.buf.len() - pos > limits::MAX_PENDING {
                    let e = DecodeError::new("ESC/POS", self.base + pos as u64, "a command longer than 64 MiB never ended");
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
        self.bands.clear();
    }

    /// The label made of the bands received since the last cut.
    fn end_label(&mut self, offset: u64, out: &mut Vec<Decoded>) -> Result<(), DecodeError> {
        if self.bands.is_empty() {
            return Ok(());
        }
        let width = self.bands.iter().map(|(s, sx, _, _)| s * 8 * *sx as usize).max().unwrap_or(0);
        let height: usize = self.bands.iter().map(|(s, _, sy, d)| d.len() / s * *sy as usize).sum();
        let mut c = canvas::blank("GS v 0", offset, width.min(u32::MAX as usize) as u32, height.min(u32::MAX as usize) as u32)?;
        let mut y = 0i64;
        for (stride, sx, sy, data) in self.bands.drain(..) {
            let rows = data.len() / stride;
            if sx == 1 && sy == 1 {
                canvas::blit(&mut c, 0, y, &data, stride, true, Blend::Or);
            } else {
                for r in 0..rows {
                    for x in 0..stride * 8 {
                        if data[r * stride + x / 8] & (0x80 >> (x % 8)) != 0 {
                            c.fill_rect((x * sx as usize) as i32, (y + (r * sy as usize) as i64) as i32, sx as i32, sy as i32, true);
                        }
                    }
                }
            }
            y += (rows * sy as usize) as i64;
        }
        out.push(Decoded::Label(c));
        Ok(())
    }

    fn command(&mut self, pos: usize, out: &mut Vec<Decoded>) -> Result<Option<usize>, DecodeError> {
        let offset = self.base + pos as u64;
        let b = &self.buf[pos..];
        let need = |n: usize| b.len() < n;
        match b[0] {
            ESC => {
                if need(2) {
                    return Ok(None);
                }
                let n = esc_params(b[1]).ok_or_else(|| DecodeError::new(format!("ESC {}", b[1].escape_ascii()), offset, "unknown command: cannot tell how many parameter bytes follow"))?;
                if need(2 + n) {
                    return Ok(None);
                }
                out.push(Decoded::Other(if b[1] == b'@' { "ESC @ initialise".into() } else { format!("ESC {}", b[1].escape_ascii()) }));
                Ok(Some(pos + 2 + n))
            }
            DLE => {
                if need(3) {
                    return Ok(None);
                }
                match b[1] {
                    0x04 => {
                        if !(1..=4).contains(&b[2]) {
                            return Err(DecodeError::new("DLE EOT", offset, format!("n must be 1–4, got {}", b[2])));
                        }
                        out.push(Decoded::StatusQuery(Query::new(format!("DLE EOT {}", b[2]))));
                        Ok(Some(pos + 3))
                    }
                    0x05 => {
                        out.push(Decoded::Other("DLE ENQ".into()));
                        Ok(Some(pos + 3))
                    }
                    c => Err(DecodeError::new(format!("DLE {}", c.escape_ascii()), offset, "unknown real-time command")),
                }
            }
            GS => {
                if need(2) {
                    return Ok(None);
                }
                match b[1] {
                    b'v' => self.raster(pos, offset),
                    b'V' => {
                        if need(3) {
                            return Ok(None);
                        }
                        let len = match b[2] {
                            0 | 1 | 48 | 49 => 3,
                            65 | 66 | 97 | 98 | 103 | 104 => 4,
                            m => return Err(DecodeError::new("GS V", offset, format!("cut mode {m} is not one the manual defines"))),
                        };
                        if need(len) {
                            return Ok(None);
                        }
                        self.end_label(offset, out)?;
                        out.push(Decoded::Other("GS V cut".into()));
                        Ok(Some(pos + len))
                    }
                    0x0C => {
                        self.end_label(offset, out)?;
                        out.push(Decoded::Other("GS FF next label".into()));
                        Ok(Some(pos + 2))
                    }
                    b'r' => {
                        if need(3) {
                            return Ok(None);
                        }
                        out.push(Decoded::StatusQuery(Query::new(format!("GS r {}", b[2]))));
                        Ok(Some(pos + 3))
                    }
                    c => {
                        let n = gs_params(c).ok_or_else(|| DecodeError::new(format!("GS {}", c.escape_ascii()), offset, "unknown command: cannot tell how many parameter bytes follow"))?;
                        if need(2 + n) {
                            return Ok(None);
                        }
                        out.push(Decoded::Other(format!("GS {}", c.escape_ascii())));
                        Ok(Some(pos + 2 + n))
                    }
                }
            }
            FS => {
                if need(2) {
                    return Ok(None);
                }
                // FS . (cancel Kanji mode) and FS & are parameterless; others are not used here.
                match b[1] {
                    b'.' | b'&' => {
                        out.push(Decoded::Other(format!("FS {}", b[1] as char)));
                        Ok(Some(pos + 2))
                    }
                    c => Err(DecodeError::new(format!("FS {}", c.escape_ascii()), offset, "unknown command: cannot tell how many parameter bytes follow")),
                }
            }
            b'\n' | b'\r' | 0x0C => {
                out.push(Decoded::Other(if b[0] == 0x0C { "FF".into() } else { "line feed".into() }));
                Ok(Some(pos + 1))
            }
            _ => {
                // Text would print in the printer's font; labeld never sends any. Count it, never echo it.
                let n = b.iter().take_while(|&&c| !matches!(c, ESC | GS | DLE | FS | b'\n' | b'\r' | 0x0C)).count();
                out.push(Decoded::Other(format!("{n} bytes of text not rendered")));
                Ok(Some(pos + n))
            }
        }
    }

    /// `GS v 0 m xL xH yL yH d1…dk`.
    fn raster(&mut self, pos: usize, offset: u64) -> Result<Option<usize>, DecodeError> {
        const CMD: &str = "GS v 0";
        let b = &self.buf[pos..];
        if b.len() < 8 {
            return Ok(None);
        }
        if b[2] != b'0' {
            return Err(DecodeError::new(format!("GS v {}", b[2].escape_ascii()), offset, "only GS v 0 (raster bit image) is defined"));
        }
        let (sx, sy) = match b[3] {
            0 | 48 => (1, 1),
            1 | 49 => (2, 1),
            2 | 50 => (1, 2),
            3 | 51 => (2, 2),
            m => return Err(DecodeError::new(CMD, offset, format!("mode m must be 0–3 or 48–51, got {m}"))),
        };
        let stride = b[4] as usize | (b[5] as usize) << 8;
        let rows = b[6] as usize | (b[7] as usize) << 8;
        if stride == 0 || rows == 0 {
            return Err(DecodeError::new(CMD, offset, "an empty image (k = 0) is not allowed"));
        }
        if stride * 8 * sx > limits::MAX_WIDTH as usize {
            return Err(DecodeError::new(CMD, offset, format!("{stride} bytes per row is wider than {} dots", limits::MAX_WIDTH)));
        }
        let total_rows: usize = self.bands.iter().map(|(s, _, y, d)| d.len() / s * *y as usize).sum::<usize>() + rows * sy;
        if total_rows > limits::MAX_HEIGHT as usize {
            return Err(DecodeError::new(CMD, offset, format!("the label grows past {} rows without a cut", limits::MAX_HEIGHT)));
        }
        let len = stride * rows;
        if b.len() < 8 + len {
            return Ok(None);
        }
        self.bands.push((stride, sx as u8, sy as u8, b[8..8 + len].to_vec()));
        Ok(Some(pos + 8 + len))
    }
}

impl StreamDecoder for Decoder {
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<Decoded>, DecodeError> {
        self.buf.extend_from_slice(bytes);
        self.run()
    }
    fn finish(&mut self) -> Result<Vec<Decoded>, DecodeError> {
        let mut out = self.run()?;
        if !self.buf.is_empty() {
            let e = DecodeError::new(format!("0x{:02X}", self.buf[0]), self.base, "the stream ended inside this command");
            self.drop_all();
            return Err(e);
        }
        // Bands without a cut were still printed: the printer has no way to take them back.
        self.end_label(self.base, &mut out)?;
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Status.
// ESC/POS DLE EOT n. Every answer byte has bit 1 and bit 4 on, bit 0 and bit 7 off (0b0xx1_xx10), which is
// how a host tells a status byte from stray data.
//   n=1 printer status:  bit 3 off line
//   n=2 off-line cause:  bit 2 cover open, bit 3 paper fed by the FEED button, bit 5 stopped at paper end,
//                        bit 6 error
//   n=3 error cause:     bit 2 mechanical error, bit 3 autocutter error, bit 5 unrecoverable error,
//                        bit 6 automatically recoverable error (e.g. head over temperature)
//   n=4 roll paper:      bits 2+3 near end, bits 5+6 paper end (paper not present)

fn valid_status_byte(b: u8) -> bool {
    b & 0x93 == 0x12
}

fn parse_status(b: [u8; 4]) -> Status {
    if let Some((i, bad)) = b.iter().enumerate().find(|(_, b)| !valid_status_byte(**b)) {
        return Status::unknown(format!("DLE EOT {} answer {bad:#04x} lacks the fixed bits of a status byte", i + 1));
    }
    let [printer, offline, error, paper] = b;
    Status::from_details(Details {
        offline: printer & 0x08 != 0,
        cover_open: offline & 0x04 != 0,
        paper_out: offline & 0x20 != 0 || paper & 0x60 == 0x60,
        mechanical_error: error & 0x04 != 0,
        cutter_error: error & 0x08 != 0,
        unrecoverable_error: error & 0x20 != 0,
        recoverable_error: error & 0x40 != 0,
        paper_near_end: paper & 0x0c == 0x0c,
        ..Details::default()
    })
}

/// The answer to `DLE EOT n` (n = 1..4) for a printer in this condition.
pub fn status_byte(n: u8, d: &Details) -> u8 {
    let fixed = 0x12;
    let on = |v: bool, bits: u8| if v { bits } else { 0 };
    let error = d.cutter_error || d.mechanical_error || d.unrecoverable_error || d.recoverable_error;
    match n {
        1 => fixed | on(d.offline || d.paper_out || d.cover_open || d.head_open || error, 0x08),
        2 => fixed | on(d.cover_open || d.head_open, 0x04) | on(d.paper_out, 0x20) | on(error, 0x40),
        3 => {
            fixed
                | on(d.mechanical_error, 0x04)
                | on(d.cutter_error, 0x08)
                | on(d.unrecoverable_error, 0x20)
                | on(d.recoverable_error, 0x40)
        }
        _ => fixed | on(d.paper_near_end || d.paper_out, 0x0c) | on(d.paper_out, 0x60),
    }
}


/// The virtual printer's answers: `DLE EOT 1..4`, and `GS r 1` (bits 0-1 roll near end, bits 2-3 roll end).
fn answer(q: &Query, c: &Condition) -> Vec<u8> {
    let d = &c.details;
    match q.0.as_str() {
        "DLE EOT 1" => vec![status_byte(1, d)],
        "DLE EOT 2" => vec![status_byte(2, d)],
        "DLE EOT 3" => vec![status_byte(3, d)],
        "DLE EOT 4" => vec![status_byte(4, d)],
        "GS r 1" => vec![if d.paper_out { 0x0f } else { 0x00 }],
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
    fn escpos_bytes_follow_the_manual_table() {
        // Idle: 0x12 for each of DLE EOT 1..4.
        let idle = [0x12, 0x12, 0x12, 0x12];
        assert_eq!(parse(&idle).unwrap().state, PrinterState::Ready);
        // Paper end: offline (n=1 bit 3), stopped at paper end (n=2 bit 5), roll end (n=4 bits 5-6).
        let out = [0x1a, 0x32, 0x12, 0x7e];
        let s = parse(&out).unwrap();
        assert_eq!(s.state, PrinterState::PaperOut);
        assert!(s.details.paper_near_end && s.details.offline);
        // Cover open.
        assert_eq!(parse(&[0x1a, 0x16, 0x12, 0x12]).unwrap().state, PrinterState::HeadOpen);
        // Autocutter error.
        assert_eq!(parse(&[0x1a, 0x52, 0x1a, 0x12]).unwrap().state, PrinterState::Offline);
        // Near end alone still prints.
        assert_eq!(parse(&[0x12, 0x12, 0x12, 0x1e]).unwrap().state, PrinterState::Ready);
        // Three bytes: wait for the fourth. A byte without the fixed bits: unknown, not ready.
        assert_eq!(parse(&idle[..3]), None);
        assert!(matches!(parse(&[0x00, 0x12, 0x12, 0x12]).unwrap().state, PrinterState::Unknown(_)));
        let d = Details { paper_out: true, ..Details::default() };
        let answer: Vec<u8> = (1..=4).map(|n| status_byte(n, &d)).collect();
        assert_eq!(answer, out);
    }

    use crate::lang::decode_all;

    #[test]
    fn realtime_status_is_a_query() {
        assert_eq!(decode_all(Language::EscPos, 203, &[DLE, 0x04, 1]).unwrap(), vec![Decoded::StatusQuery(Query::new("DLE EOT 1"))]);
        assert_eq!(decode_all(Language::EscPos, 203, &[DLE, 0x04, 9]).unwrap_err().command, "DLE EOT");
    }

    #[test]
    fn double_width_mode_scales() {
        let bytes = [GS, b'v', b'0', 1, 1, 0, 1, 0, 0x80, GS, b'V', 0];
        let d = decode_all(Language::EscPos, 203, &bytes).unwrap();
        let Decoded::Label(l) = &d[0] else { panic!("{d:?}") };
        assert_eq!((l.width(), l.height()), (16, 1));
        assert!(l.get(0, 0) && l.get(1, 0) && !l.get(2, 0));
    }
}
