//! Where a marketplace page goes on the printer's media, and the threshold that makes it 1-bit.
//!
//! The rules, in order (never blur, never scale silently):
//! 1. A landscape page turns to portrait.
//! 2. A page that fits the media prints 1:1, centred.
//! 3. A page slightly too big (an A6 page, 105×148 mm, on 100×150 media) is trimmed of white margin when its
//!    marks fit; otherwise it is scaled uniformly to fit its marks, and the factor is recorded.
//! 4. A page that would need shrinking below [`MIN_QUIET_SCALE`] (A5 or Letter on a 4-inch head) is refused,
//!    unless the printer is configured with `fit = "scale"`.

use super::grey::{Grey, THRESHOLD};
use super::{DocError, Source};
use crate::bitmap::Bitmap;

/// The smallest factor applied without the printer's `fit = "scale"`: 90 % keeps 0.25 mm modules at 1.8 dots
/// at 203 dpi, still two dots after rounding, and only A6-class pages need it.
pub const MIN_QUIET_SCALE: f64 = 0.9;

/// The printable area of the loaded media, in the printer's dots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Media {
    pub dpi: u32,
    pub width: u32,
    pub height: u32,
}

impl Media {
    /// A 4×6 in label on a 4-inch head: what `labeld render` assumes without a printer profile.
    pub fn four_by_six(dpi: u32) -> Media {
        Media { dpi, width: 4 * dpi, height: 6 * dpi }
    }

    /// The loaded label of a printer profile, cut to what its head prints.
    pub fn of_profile(profile: &crate::printer::Profile) -> Media {
        let (width, height) = profile.label_size();
        Media { dpi: profile.dpi, width, height }
    }

    fn mm(&self, dots: u32) -> f32 {
        dots as f32 * 25.4 / self.dpi as f32
    }
}

/// Whether a page too large for the media may be shrunk below [`MIN_QUIET_SCALE`] (a printer's `fit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Refuse pages that do not fit.
    #[default]
    Refuse,
    /// Shrink them uniformly to fit.
    Scale,
}

/// How a page was put on the media. Recorded on the job.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Placement {
    /// Turned a quarter clockwise from landscape.
    pub turned: bool,
    /// White margin cut away so the marks fit.
    pub trimmed: bool,
    /// The uniform factor applied: 1.0 is 1:1.
    pub scale: f64,
}

/// Draws a page onto media-sized 1-bit raster. `page` counts from 1, for messages.
pub fn place(src: &dyn Source, page: usize, media: &Media, fit: Fit) -> Result<(Bitmap, Placement), DocError> {
    let (w_mm, h_mm) = src.size_mm();
    let turned = w_mm > h_mm;
    let (pw, ph) = if turned { (h_mm, w_mm) } else { (w_mm, h_mm) };
    let dpi = media.dpi as f64;
    let (mw, mh) = (media.width as f64, media.height as f64);
    let dots = |mm: f32| mm as f64 * dpi / 25.4;
    // The factor that fits the whole page; a hair of tolerance so a 100×150 mm page meets 100×150 mm media.
    let whole = (mw / dots(pw)).min(mh / dots(ph));
    let draw = |scale: f64| {
        let g = src.draw((dpi * scale) as f32);
        if turned { g.rotated_quarter() } else { g }
    };
    let (grey, placement, centre) = if whole >= 0.995 {
        let g = draw(1.0);
        let c = (g.width as f64 / 2.0, g.height as f64 / 2.0);
        (g, Placement { turned, trimmed: false, scale: 1.0 }, c)
    } else if whole < MIN_QUIET_SCALE && fit == Fit::Refuse {
        return Err(DocError::DoesNotFit {
            page,
            width_mm: w_mm,
            height_mm: h_mm,
            media_w_mm: media.mm(media.width),
            media_h_mm: media.mm(media.height),
            scale: whole as f32,
        });
    } else {
        // A slightly large page is drawn 1:1 first to see whether trimming suffices; a page that must shrink
        // anyway (fit = "scale") starts at the factor that fits it whole, so a huge page is never drawn huge.
        let first = if whole < MIN_QUIET_SCALE { whole } else { 1.0 };
        let g = draw(first);
        let Some((x0, y0, x1, y1)) = g.ink_box() else {
            // A blank page: nothing to trim or shrink; it prints blank and the proof holds it.
            let c = (g.width as f64 / 2.0, g.height as f64 / 2.0);
            return Ok((window(&g, c, media), Placement { turned, trimmed: false, scale: first }));
        };
        let (iw, ih) = ((x1 - x0) as f64, (y1 - y0) as f64);
        if iw <= mw && ih <= mh {
            let c = ((x0 + x1) as f64 / 2.0, (y0 + y1) as f64 / 2.0);
            (g, Placement { turned, trimmed: true, scale: first }, c)
        } else {
            // Shrink so the marks (not the white margin) fit, one dot short of the edge for rounding.
            let scale = first * ((mw - 1.0) / iw).min((mh - 1.0) / ih).min(1.0);
            let g = draw(scale);
            let (x0, y0, x1, y1) = g.ink_box().unwrap_or((0, 0, g.width, g.height));
            let c = ((x0 + x1) as f64 / 2.0, (y0 + y1) as f64 / 2.0);
            (g, Placement { turned, trimmed: true, scale }, c)
        }
    };
    Ok((window(&grey, centre, media), placement))
}

/// The media-sized window of `grey` centred on `centre`, thresholded; outside the page is white.
fn window(grey: &Grey, centre: (f64, f64), media: &Media) -> Bitmap {
    let ox = (centre.0 - media.width as f64 / 2.0).round() as i64;
    let oy = (centre.1 - media.height as f64 / 2.0).round() as i64;
    let mut out = Bitmap::new(media.width, media.height);
    // The window's columns that fall on the page.
    let x_from = (-ox).clamp(0, media.width as i64) as u32;
    let x_to = (grey.width as i64 - ox).clamp(0, media.width as i64) as u32;
    let ink = |g: u8| u8::from(g < THRESHOLD);
    for y in 0..media.height {
        let sy = y as i64 + oy;
        if sy < 0 || sy >= grey.height as i64 {
            continue;
        }
        let row = &grey.px[sy as usize * grey.width as usize..(sy as usize + 1) * grey.width as usize];
        let src = |x: u32| row[(x as i64 + ox) as usize];
        let out_row = out.row_mut(y);
        let mut x = x_from;
        // Dot by dot to a byte boundary, then a byte of eight dots at a time (a 300 dpi label is two million
        // dots), then the rest.
        while x < x_to && x % 8 != 0 {
            out_row[(x / 8) as usize] |= ink(src(x)) << (7 - x % 8);
            x += 1;
        }
        while x + 8 <= x_to {
            let start = (x as i64 + ox) as usize;
            let eight: &[u8; 8] = row[start..start + 8].try_into().expect("eight dots");
            // Blank paper (grey 255 throughout) leaves the byte white without weighing each dot.
            if u64::from_ne_bytes(*eight) != u64::MAX {
                out_row[(x / 8) as usize] = eight.iter().fold(0, |byte, &g| byte << 1 | ink(g));
            }
            x += 8;
        }
        while x < x_to {
            out_row[(x / 8) as usize] |= ink(src(x)) << (7 - x % 8);
            x += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The window cut a byte at a time is the window cut dot by dot, wherever the page sits under it.
        #[test]
        fn window_is_every_dot_thresholded(
            (gw, gh, px) in (1u32..40, 1u32..12).prop_flat_map(|(w, h)| (Just(w), Just(h), proptest::collection::vec(any::<u8>(), (w * h) as usize))),
            mw in 1u32..40, mh in 1u32..12, cx in -20.0f64..60.0, cy in -10.0f64..20.0,
        ) {
            let grey = Grey { width: gw, height: gh, px };
            let media = Media { dpi: 203, width: mw, height: mh };
            let got = window(&grey, (cx, cy), &media);
            let ox = (cx - mw as f64 / 2.0).round() as i64;
            let oy = (cy - mh as f64 / 2.0).round() as i64;
            for y in 0..mh {
                for x in 0..mw {
                    let (sx, sy) = (x as i64 + ox, y as i64 + oy);
                    let on_page = (0..gw as i64).contains(&sx) && (0..gh as i64).contains(&sy);
                    let black = on_page && grey.px[(sy * gw as i64 + sx) as usize] < THRESHOLD;
                    prop_assert_eq!(got.get(x, y), black, "dot {},{}", x, y);
                }
            }
        }
    }

    /// A page of a given size with one black box, drawn exactly at any resolution.
    struct Boxed {
        w_mm: f32,
        h_mm: f32,
        ink_mm: (f32, f32, f32, f32),
    }

    impl Source for Boxed {
        fn size_mm(&self) -> (f32, f32) {
            (self.w_mm, self.h_mm)
        }
        fn draw(&self, dpi: f32) -> Grey {
            let d = |mm: f32| (mm * dpi / 25.4).round() as u32;
            let mut g = Grey::white(d(self.w_mm), d(self.h_mm));
            let (x0, y0, x1, y1) = self.ink_mm;
            for y in d(y0)..d(y1) {
                for x in d(x0)..d(x1) {
                    g.px[(y * g.width + x) as usize] = 0;
                }
            }
            g
        }
    }

    fn media() -> Media {
        Media { dpi: 203, width: 799, height: 1199 } // 100×150 mm
    }

    #[test]
    fn a_page_that_fits_goes_one_to_one() {
        let page = Boxed { w_mm: 100.0, h_mm: 150.0, ink_mm: (5.0, 5.0, 95.0, 145.0) };
        let (b, p) = place(&page, 1, &media(), Fit::Refuse).unwrap();
        assert_eq!(p, Placement { turned: false, trimmed: false, scale: 1.0 });
        assert_eq!((b.width(), b.height()), (799, 1199));
    }

    #[test]
    fn a6_with_marks_inside_the_width_is_trimmed_not_scaled() {
        let page = Boxed { w_mm: 105.0, h_mm: 148.0, ink_mm: (4.0, 4.0, 101.0, 144.0) };
        let (b, p) = place(&page, 1, &media(), Fit::Refuse).unwrap();
        assert_eq!(p, Placement { turned: false, trimmed: true, scale: 1.0 });
        // 97 mm of ink stays 97 mm: 775 or 776 dots.
        let row: Vec<u32> = (0..b.width()).filter(|&x| b.get(x, 600)).collect();
        assert!((775..=776).contains(&(row.len() as u32)), "{}", row.len());
    }

    #[test]
    fn a6_with_marks_wider_than_the_media_is_scaled_and_the_factor_recorded() {
        let page = Boxed { w_mm: 105.0, h_mm: 148.0, ink_mm: (1.0, 4.0, 104.0, 144.0) };
        let (_, p) = place(&page, 1, &media(), Fit::Refuse).unwrap();
        assert!(p.trimmed && p.scale < 1.0 && p.scale > 0.96, "{p:?}");
    }

    #[test]
    fn landscape_turns_to_portrait() {
        let page = Boxed { w_mm: 150.0, h_mm: 100.0, ink_mm: (10.0, 10.0, 20.0, 20.0) };
        let (b, p) = place(&page, 1, &media(), Fit::Refuse).unwrap();
        assert!(p.turned && p.scale == 1.0);
        // The top-left box is now at the top right.
        assert!(b.get(799 - 120, 120) && !b.get(120, 120));
    }

    #[test]
    fn a5_is_refused_unless_the_printer_says_scale() {
        let page = Boxed { w_mm: 148.0, h_mm: 210.0, ink_mm: (10.0, 10.0, 138.0, 200.0) };
        let err = place(&page, 2, &media(), Fit::Refuse).unwrap_err();
        assert!(matches!(err, DocError::DoesNotFit { page: 2, .. }), "{err:?}");
        assert!(err.to_string().contains("fit = \"scale\""), "{err}");
        let (b, p) = place(&page, 2, &media(), Fit::Scale).unwrap();
        assert!(p.scale < 0.8, "{p:?}");
        // Uniform: the 128×190 mm box keeps its proportions (within a dot).
        let wide = (0..b.width()).filter(|&x| b.get(x, 600)).count() as f64;
        let tall = (0..b.height()).filter(|&y| b.get(400, y)).count() as f64;
        assert!((wide / tall - 128.0 / 190.0).abs() < 0.005, "{wide}×{tall}");
    }
}
