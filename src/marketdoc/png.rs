//! PNG label pictures (the marketplace's `SHIPPING_LABEL_PICTURE`): their size on paper comes from the pHYs
//! chunk, or, without one, from the shape of a standard label; they are resampled by area to the printer's dots.

use std::io::Cursor;

use super::grey::Grey;
use super::{Source, Unreadable, limits};

/// A decoded PNG and its resolution.
pub struct Png {
    grey: Grey,
    dpi: f64,
}

/// Standard label sizes (portrait, millimetres) a PNG without pHYs is matched against by its shape.
const LABEL_SIZES: [(f64, f64); 3] = [(101.6, 152.4), (100.0, 150.0), (105.0, 148.0)];

impl Png {
    pub fn decode(bytes: &[u8]) -> Result<Png, Unreadable> {
        let err = |e: png::DecodingError| Unreadable::Png(e.to_string());
        let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: 256 << 20 });
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().map_err(err)?;
        let info = reader.info();
        let (width, height) = (info.width, info.height);
        if width as u64 * height as u64 > limits::MAX_IMAGE_PIXELS {
            return Err(Unreadable::ImageTooLarge { width: width as u64, height: height as u64 });
        }
        let phys = info.pixel_dims.filter(|d| d.unit == png::Unit::Meter && d.xppu > 0);
        let mut buf = vec![0; reader.output_buffer_size().ok_or_else(|| Unreadable::Png("the image is too large to decode".into()))?];
        let frame = reader.next_frame(&mut buf).map_err(err)?;
        let grey = to_grey(&buf[..frame.buffer_size()], frame.width, frame.height, frame.color_type);
        let dpi = match phys {
            Some(d) => d.xppu as f64 * 0.0254,
            None => dpi_from_shape(width, height).ok_or(Unreadable::PngSizeUnknown)?,
        };
        Ok(Png { grey, dpi })
    }

    /// The resolution it was made at (from pHYs, or the standard label its shape matches).
    pub fn dpi(&self) -> f64 {
        self.dpi
    }
}

/// The resolution that makes a pHYs-less picture one of the standard label sizes, if its shape matches one.
fn dpi_from_shape(width: u32, height: u32) -> Option<f64> {
    let (short, long) = (width.min(height) as f64, width.max(height) as f64);
    LABEL_SIZES
        .iter()
        .find(|(w, h)| (short / long - w / h).abs() < 0.005)
        .map(|(w, _)| short / (w / 25.4))
}

/// Composites over white paper and takes luminance (Rec. 601 weights).
fn to_grey(buf: &[u8], width: u32, height: u32, color: png::ColorType) -> Grey {
    let luma = |r: u8, g: u8, b: u8| ((r as u32 * 77 + g as u32 * 150 + b as u32 * 29 + 128) >> 8) as u8;
    let over_white = |v: u8, a: u8| ((v as u32 * a as u32 + 255 * (255 - a as u32) + 127) / 255) as u8;
    let px = match color {
        png::ColorType::Grayscale => buf.to_vec(),
        png::ColorType::GrayscaleAlpha => buf.chunks_exact(2).map(|p| over_white(p[0], p[1])).collect(),
        png::ColorType::Rgb => buf.chunks_exact(3).map(|p| luma(p[0], p[1], p[2])).collect(),
        png::ColorType::Rgba => buf.chunks_exact(4).map(|p| over_white(luma(p[0], p[1], p[2]), p[3])).collect(),
        // normalize_to_color8 expands palettes, so this does not occur.
        png::ColorType::Indexed => vec![255; width as usize * height as usize],
    };
    Grey { width, height, px }
}

impl Source for Png {
    fn size_mm(&self) -> (f32, f32) {
        let mm = |px: u32| (px as f64 * 25.4 / self.dpi) as f32;
        (mm(self.grey.width), mm(self.grey.height))
    }

    fn draw(&self, dpi: f32) -> Grey {
        self.grey.resampled(dpi as f64 / self.dpi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_without_phys_is_sized_by_its_label_shape() {
        assert_eq!(dpi_from_shape(1200, 1800), Some(300.0));
        assert!((dpi_from_shape(812, 1218).unwrap() - 203.0).abs() < 0.01);
        assert_eq!(dpi_from_shape(1000, 1000), None);
    }
}
