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
use super::{Decoded, DecodeError, EncodeError, JobSettings, Language, QueryKind, StreamDecoder, limits};
use crate::bitmap::Bitmap;

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const DLE: u8 = 0x10;
const FS: u8 = 0x1C;

pub(super) fn encode(pages: &[Bitmap], s: &JobSettings) -> Result<Vec<u8>, EncodeError> {
    let limit = |problem: String| EncodeError::Limit { language: Language::EscPos, problem };
    let band = s.escpos_band_height.clamp(1, 2303) as usize;
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
            if s.escpos_cut {
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
                        out.push(Decoded::StatusQuery(QueryKind::EscPosRealtimeStatus(b[2])));
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
                        out.push(Decoded::StatusQuery(QueryKind::EscPosTransmitStatus(b[2])));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::decode_all;

    #[test]
    fn realtime_status_is_a_query() {
        assert_eq!(decode_all(Language::EscPos, 203, &[DLE, 0x04, 1]).unwrap(), vec![Decoded::StatusQuery(QueryKind::EscPosRealtimeStatus(1))]);
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
