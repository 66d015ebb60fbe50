//! The raster as a PNG: 1 bit per pixel, with its resolution recorded (pHYs), so an image viewer or a
//! print dialog shows it at its real 100×150 mm size.

use crate::bitmap::Bitmap;

pub fn encode(bmp: &Bitmap, dpi: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, bmp.width(), bmp.height());
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::One);
        let per_metre = (dpi as f64 / 0.0254).round() as u32;
        enc.set_pixel_dims(Some(png::PixelDimensions { xppu: per_metre, yppu: per_metre, unit: png::Unit::Meter }));
        enc.set_compression(png::Compression::Balanced);
        let mut writer = enc.write_header().expect("PNG header to a Vec cannot fail");
        // PNG greyscale is 0 = black; the bitmap is 1 = black.
        let inverted: Vec<u8> = bmp.data().iter().map(|b| !b).collect();
        writer.write_image_data(&inverted).expect("PNG data to a Vec cannot fail");
    }
    out
}

/// Reads a 1-bit or greyscale PNG back into a bitmap (dots darker than mid-grey are black).
pub fn decode(bytes: &[u8]) -> Result<Bitmap, String> {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png).map_err(|e| e.to_string())?;
    let luma = img.to_luma8();
    Ok(Bitmap::from_luma(luma.width(), luma.height(), luma.as_raw(), 128))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips_the_raster() {
        let mut b = Bitmap::new(13, 7);
        b.fill_rect(2, 1, 5, 4, true);
        b.set(12, 6, true);
        let png = encode(&b, 203);
        assert_eq!(decode(&png).unwrap(), b);
    }
}
