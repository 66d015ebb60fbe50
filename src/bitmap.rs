//! The 1-bit raster: what a thermal printer burns, dot for dot.
//!
//! Rows are packed MSB-first, 1 = black, each row padded to a whole byte, which is the layout ZPL `^GF`,
//! ESC/POS `GS v 0` and CPCL `EG` expect (TSPL `BITMAP` and EPL2 `GW` take 0 = black; their encoders flip it).

/// A black-and-white image, packed 8 dots per byte.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitmap {
    width: u32,
    height: u32,
    stride: usize,
    data: Vec<u8>,
}

impl std::fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitmap({}×{}, {} black)", self.width, self.height, self.count_black())
    }
}

impl Bitmap {
    /// An all-white bitmap.
    pub fn new(width: u32, height: u32) -> Bitmap {
        let stride = width.div_ceil(8) as usize;
        Bitmap { width, height, stride, data: vec![0; stride * height as usize] }
    }

    /// Wraps packed rows (MSB first, 1 = black). `data.len()` must be `ceil(width/8) * height`.
    pub fn from_packed(width: u32, height: u32, data: Vec<u8>) -> Option<Bitmap> {
        let stride = width.div_ceil(8) as usize;
        if data.len() != stride * height as usize {
            return None;
        }
        let mut b = Bitmap { width, height, stride, data };
        b.clear_padding();
        Some(b)
    }

    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.stride
    }
    /// All rows, packed.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    pub fn row(&self, y: u32) -> &[u8] {
        let start = y as usize * self.stride;
        &self.data[start..start + self.stride]
    }
    pub fn row_mut(&mut self, y: u32) -> &mut [u8] {
        let start = y as usize * self.stride;
        &mut self.data[start..start + self.stride]
    }

    pub fn get(&self, x: u32, y: u32) -> bool {
        x < self.width && y < self.height && self.data[y as usize * self.stride + (x / 8) as usize] & (0x80 >> (x % 8)) != 0
    }

    pub fn set(&mut self, x: u32, y: u32, black: bool) {
        if x >= self.width || y >= self.height {
            return;
        }
        let byte = &mut self.data[y as usize * self.stride + (x / 8) as usize];
        let bit = 0x80 >> (x % 8);
        if black {
            *byte |= bit;
        } else {
            *byte &= !bit;
        }
    }

    /// Paints a rectangle, clipped to the bitmap. Works a byte at a time: rules and bars are most of a label.
    pub fn fill_rect(&mut self, x: i32, y: i32, w: i32, h: i32, black: bool) {
        let x0 = x.max(0) as u32;
        let y0 = y.max(0) as u32;
        let x1 = (x.saturating_add(w)).clamp(0, self.width as i32) as u32;
        let y1 = (y.saturating_add(h)).clamp(0, self.height as i32) as u32;
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let (first, last) = ((x0 / 8) as usize, ((x1 - 1) / 8) as usize);
        let head = 0xFFu8 >> (x0 % 8);
        let tail = 0xFFu8 << (7 - (x1 - 1) % 8);
        for yy in y0..y1 {
            let row = self.row_mut(yy);
            if first == last {
                apply(&mut row[first], head & tail, black);
            } else {
                apply(&mut row[first], head, black);
                for b in &mut row[first + 1..last] {
                    *b = if black { 0xFF } else { 0 };
                }
                apply(&mut row[last], tail, black);
            }
        }
    }

    /// Number of black dots: a cheap fingerprint for tests and the darkness budget.
    pub fn count_black(&self) -> u64 {
        self.data.iter().map(|b| b.count_ones() as u64).sum()
    }

    /// A copy of a region (clipped), for barcode verification and previews.
    pub fn crop(&self, x: u32, y: u32, w: u32, h: u32) -> Bitmap {
        let w = w.min(self.width.saturating_sub(x));
        let h = h.min(self.height.saturating_sub(y));
        self.window(x as i64, y as i64, w, h)
    }

    /// A `w`×`h` copy from (x0, y0), which may lie partly outside: outside is white paper. Rows are
    /// shifted a byte at a time, so a barcode's crop costs its bytes, not its dots.
    pub fn window(&self, x0: i64, y0: i64, w: u32, h: u32) -> Bitmap {
        let stride = w.div_ceil(8) as usize;
        let mut data = vec![0u8; stride * h as usize];
        let (shift, first) = (x0.rem_euclid(8) as u32, x0.div_euclid(8));
        for oy in 0..h {
            let sy = y0 + oy as i64;
            if sy < 0 || sy >= self.height as i64 {
                continue;
            }
            let row = self.row(sy as u32);
            let out = &mut data[oy as usize * stride..(oy as usize + 1) * stride];
            // Each output byte is two neighbouring source bytes shifted; a window inside the row (a
            // barcode's crop) reads them as pairs without a bounds test per byte.
            let inside = first >= 0 && first as usize + stride < row.len();
            if inside {
                for (d, pair) in out.iter_mut().zip(row[first as usize..].windows(2)) {
                    *d = ((((pair[0] as u16) << 8) | pair[1] as u16) << shift >> 8) as u8;
                }
                continue;
            }
            let byte = |i: i64| if i >= 0 && (i as usize) < row.len() { row[i as usize] as u16 } else { 0 };
            for (k, d) in out.iter_mut().enumerate() {
                let i = first + k as i64;
                *d = ((((byte(i) << 8) | byte(i + 1)) << shift) >> 8) as u8;
            }
        }
        Bitmap::from_packed(w, h, data).expect("buffer sized from w and h")
    }

    /// The bitmap turned a quarter clockwise: what was the top row becomes the right column.
    pub fn rotated_quarter(&self) -> Bitmap {
        let mut out = Bitmap::new(self.height, self.width);
        for y in 0..self.height {
            // Only black dots move, so white bytes (most of a page) are skipped whole.
            for (i, &byte) in self.row(y).iter().enumerate().filter(|(_, b)| **b != 0) {
                for bit in 0..8 {
                    let x = i as u32 * 8 + bit;
                    if byte & (0x80 >> bit) != 0 && x < self.width {
                        out.set(self.height - 1 - y, x, true);
                    }
                }
            }
        }
        out
    }

    /// 8-bit luminance, 0 = black, 255 = white: what decoders and PNG writers take.
    pub fn to_luma(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity((self.width * self.height) as usize);
        for y in 0..self.height {
            let row = self.row(y);
            for x in 0..self.width {
                let black = row[(x / 8) as usize] & (0x80 >> (x % 8)) != 0;
                out.push(if black { 0 } else { 255 });
            }
        }
        out
    }

    /// Thresholds 8-bit luminance (0 = black): dots darker than `threshold` become black.
    pub fn from_luma(width: u32, height: u32, luma: &[u8], threshold: u8) -> Bitmap {
        let mut b = Bitmap::new(width, height);
        for y in 0..height {
            for x in 0..width {
                if luma[(y * width + x) as usize] < threshold {
                    b.set(x, y, true);
                }
            }
        }
        b
    }

    /// Bits past `width` in each row stay zero, so byte-wise comparisons and encoders never see them.
    fn clear_padding(&mut self) {
        let rem = self.width % 8;
        if rem == 0 || self.stride == 0 {
            return;
        }
        let mask = 0xFFu8 << (8 - rem);
        for y in 0..self.height {
            let last = self.stride - 1;
            self.row_mut(y)[last] &= mask;
        }
    }
}

/// Turns the dots of `mask` in one packed byte black, or white.
pub(crate) fn apply(byte: &mut u8, mask: u8, black: bool) {
    if black {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

/// Run lengths of one packed row, starting with white (possibly an empty run). Reads the row 64 dots a
/// word and finds each colour change with a leading-zero count, so a run costs a few steps whatever its length.
pub fn row_runs(row: &[u8], width: u32, runs: &mut Vec<(u32, u32)>) {
    runs.clear();
    let (mut colour, mut start) = (false, 0u32);
    'words: for (k, chunk) in row.chunks(8).enumerate() {
        // Most significant bit first, as in the row; the last word padded with white.
        let bits = match <[u8; 8]>::try_from(chunk) {
            Ok(word) => u64::from_be_bytes(word),
            Err(_) => {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                u64::from_be_bytes(word)
            }
        };
        // Bits that differ from the current colour; at each change the rest of the word flips.
        let mut differ = if colour { !bits } else { bits };
        while differ != 0 {
            let at = differ.leading_zeros();
            let change = k as u32 * 64 + at;
            if change >= width {
                break 'words;
            }
            runs.push((start, change - start));
            (start, colour) = (change, !colour);
            differ = !differ & (u64::MAX >> at);
        }
    }
    runs.push((start, width - start));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn row_runs_match_a_dot_by_dot_count(bits in proptest::collection::vec(any::<bool>(), 1..200)) {
            let mut b = Bitmap::new(bits.len() as u32, 1);
            for (x, &black) in bits.iter().enumerate() {
                b.set(x as u32, 0, black);
            }
            let mut expected = vec![(0u32, 0u32)];
            let mut colour = false;
            for (x, &black) in bits.iter().enumerate() {
                if black != colour {
                    expected.push((x as u32, 0));
                    colour = black;
                }
                expected.last_mut().unwrap().1 += 1;
            }
            let mut runs = Vec::new();
            row_runs(b.row(0), b.width(), &mut runs);
            prop_assert_eq!(runs, expected);
        }

        #[test]
        fn fill_rect_matches_set(w in 1u32..40, h in 1u32..10, x in -5i32..45, y in -3i32..12, rw in 0i32..50, rh in 0i32..12) {
            let mut fast = Bitmap::new(w, h);
            fast.fill_rect(x, y, rw, rh, true);
            let mut slow = Bitmap::new(w, h);
            for yy in y..y + rh {
                for xx in x..x + rw {
                    if xx >= 0 && yy >= 0 {
                        slow.set(xx as u32, yy as u32, true);
                    }
                }
            }
            prop_assert_eq!(fast, slow);
        }
    }

    proptest! {
        #[test]
        fn window_and_crop_match_a_dot_by_dot_copy(
            bits in proptest::collection::vec(any::<bool>(), 37 * 9),
            x0 in -20i64..40, y0 in -5i64..10, w in 0u32..50, h in 0u32..12,
        ) {
            let mut src = Bitmap::new(37, 9);
            for (i, &black) in bits.iter().enumerate() {
                src.set(i as u32 % 37, i as u32 / 37, black);
            }
            let dot = |x: i64, y: i64| x >= 0 && y >= 0 && src.get(x as u32, y as u32);
            let win = src.window(x0, y0, w, h);
            prop_assert_eq!((win.width(), win.height()), (w, h));
            for y in 0..h {
                for x in 0..w {
                    prop_assert_eq!(win.get(x, y), dot(x0 + x as i64, y0 + y as i64), "window at ({}, {})", x, y);
                }
            }
            let (cx, cy) = (x0.max(0) as u32, y0.max(0) as u32);
            let crop = src.crop(cx, cy, w, h);
            prop_assert_eq!((crop.width(), crop.height()), (w.min(37u32.saturating_sub(cx)), h.min(9u32.saturating_sub(cy))));
            for y in 0..crop.height() {
                for x in 0..crop.width() {
                    prop_assert_eq!(crop.get(x, y), src.get(cx + x, cy + y), "crop at ({}, {})", x, y);
                }
            }
        }
    }

    #[test]
    fn padding_bits_are_cleared() {
        let b = Bitmap::from_packed(3, 1, vec![0xFF]).unwrap();
        assert_eq!(b.data(), &[0xE0]);
        assert_eq!(b.count_black(), 3);
    }
}
