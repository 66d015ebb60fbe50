//! 8-bit pages (0 = black, 255 = white) between drawing and thresholding.

/// Dots darker than this become black: half-covered dots burn, so an edge lands on the nearest dot boundary and
/// a bar keeps its width to within one dot, without the growth a lower threshold gives.
pub const THRESHOLD: u8 = 128;

#[derive(Clone, PartialEq, Eq)]
pub struct Grey {
    pub width: u32,
    pub height: u32,
    pub px: Vec<u8>,
}

impl std::fmt::Debug for Grey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Grey({}×{})", self.width, self.height)
    }
}

impl Grey {
    pub fn white(width: u32, height: u32) -> Grey {
        Grey { width, height, px: vec![255; width as usize * height as usize] }
    }

    pub fn at(&self, x: u32, y: u32) -> u8 {
        self.px[y as usize * self.width as usize + x as usize]
    }

    /// The page turned a quarter clockwise (landscape to portrait: the page's top edge becomes its right edge).
    pub fn rotated_quarter(&self) -> Grey {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut px = vec![255; w * h];
        for y in 0..h {
            let row = &self.px[y * w..(y + 1) * w];
            for (x, &v) in row.iter().enumerate() {
                px[x * h + (h - 1 - y)] = v;
            }
        }
        Grey { width: self.height, height: self.width, px }
    }

    /// The box around every dot that would burn: `(x0, y0, x1, y1)`, exclusive ends. `None` for a blank page.
    pub fn ink_box(&self) -> Option<(u32, u32, u32, u32)> {
        let w = self.width as usize;
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for (y, row) in self.px.chunks_exact(w.max(1)).enumerate() {
            let Some(first) = row.iter().position(|&v| v < THRESHOLD) else { continue };
            let last = row.iter().rposition(|&v| v < THRESHOLD).unwrap_or(first);
            x0 = x0.min(first);
            x1 = x1.max(last + 1);
            y0 = y0.min(y);
            y1 = y + 1;
        }
        (x0 != usize::MAX).then_some((x0 as u32, y0 as u32, x1 as u32, y1 as u32))
    }

    /// Resampled by `factor` with area averaging: each new dot is the mean of the source area it covers,
    /// fractional source dots weighted by how much of them it covers. Unlike a smoothing kernel this moves no
    /// edge: an edge between two dots lands where its coverage crosses half, so thresholding afterwards keeps
    /// bar widths to within a dot at any ratio (300 → 203 dpi included).
    pub fn resampled(&self, factor: f64) -> Grey {
        if (factor - 1.0).abs() < 1e-9 {
            return self.clone();
        }
        let nw = ((self.width as f64 * factor).round() as u32).max(1);
        let nh = ((self.height as f64 * factor).round() as u32).max(1);
        let xs = spans(self.width, nw);
        let ys = spans(self.height, nh);
        // Rows first (horizontal pass into f32), then columns.
        let w = self.width as usize;
        let mut mid = vec![0f32; nw as usize * self.height as usize];
        for y in 0..self.height as usize {
            let src = &self.px[y * w..(y + 1) * w];
            let dst = &mut mid[y * nw as usize..(y + 1) * nw as usize];
            for (d, span) in dst.iter_mut().zip(&xs) {
                *d = span.iter().map(|&(i, wt)| src[i as usize] as f32 * wt).sum();
            }
        }
        let mut px = vec![255u8; nw as usize * nh as usize];
        for (ny, span) in ys.iter().enumerate() {
            let out = &mut px[ny * nw as usize..(ny + 1) * nw as usize];
            let mut acc = vec![0f32; nw as usize];
            for &(sy, wt) in span {
                let row = &mid[sy as usize * nw as usize..(sy as usize + 1) * nw as usize];
                for (a, v) in acc.iter_mut().zip(row) {
                    *a += v * wt;
                }
            }
            for (o, a) in out.iter_mut().zip(acc) {
                *o = a.round().clamp(0.0, 255.0) as u8;
            }
        }
        Grey { width: nw, height: nh, px }
    }
}

/// For each of `to` output dots, the source dots it covers and their weights (summing to 1). Upsampling gives
/// each output dot the one or two source dots under it; downsampling averages the area.
fn spans(from: u32, to: u32) -> Vec<Vec<(u32, f32)>> {
    let step = from as f64 / to as f64;
    (0..to)
        .map(|i| {
            let (a, b) = (i as f64 * step, ((i + 1) as f64 * step).min(from as f64));
            let mut out = Vec::new();
            let mut s = a.floor() as u32;
            while (s as f64) < b && s < from {
                let cover = (b.min(s as f64 + 1.0) - a.max(s as f64)).max(0.0);
                if cover > 0.0 {
                    out.push((s, (cover / (b - a)) as f32));
                }
                s += 1;
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(width: u32, edges: &[(u32, u32)]) -> Grey {
        let mut g = Grey::white(width, 4);
        for y in 0..4 {
            for &(a, b) in edges {
                for x in a..b {
                    g.px[(y * width + x) as usize] = 0;
                }
            }
        }
        g
    }

    #[test]
    fn area_resampling_keeps_edges_where_they_fall() {
        // 300 → 203 dpi: a bar from 30 to 42 source dots (0.04 in) lands at 20.3..28.4, so 20..28 after the
        // threshold: 8 dots, the nearest whole number to 8.1.
        let g = bars(300, &[(30, 42)]).resampled(203.0 / 300.0);
        assert_eq!(g.width, 203);
        let row: Vec<bool> = (0..g.width).map(|x| g.at(x, 1) < THRESHOLD).collect();
        let black: Vec<u32> = (0..g.width).filter(|&x| row[x as usize]).collect();
        assert_eq!(black, (20..28).collect::<Vec<_>>());
    }

    #[test]
    fn quarter_turn_moves_the_top_edge_to_the_right() {
        let mut g = Grey::white(3, 2);
        g.px[0] = 0; // top-left
        let r = g.rotated_quarter();
        assert_eq!((r.width, r.height), (2, 3));
        assert_eq!(r.at(1, 0), 0);
        assert_eq!(r.px.iter().filter(|&&v| v == 0).count(), 1);
    }

    #[test]
    fn ink_box_bounds_the_marks() {
        let g = bars(50, &[(10, 12), (30, 33)]);
        assert_eq!(g.ink_box(), Some((10, 0, 33, 4)));
        assert_eq!(Grey::white(5, 5).ink_box(), None);
    }
}
