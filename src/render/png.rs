//! The raster as a PNG: 1 bit per pixel, with its resolution recorded (pHYs), so an image viewer or a
//! print dialog shows it at its real 100×150 mm size.

use crate::bitmap::Bitmap;

/// libdeflate's level for PNG files and previews (the ZPL printers' PNG objects choose their own).
pub const LEVEL: i32 = 6;

pub fn encode(bmp: &Bitmap, dpi: u32) -> Vec<u8> {
    one_bit(bmp, Some(dpi), LEVEL)
}

/// The raster as a 1-bit greyscale PNG (0 = black, as PNG greyscale has it): signature, IHDR, pHYs
/// when `dpi` is given, one IDAT, IEND. Rows are unfiltered (filter byte 0): on the twelve fixture
/// labels no PNG filter beats none (Up adds 8–10%, Sub 25%); libdeflate compresses at `level`.
pub fn one_bit(bmp: &Bitmap, dpi: Option<u32>, level: i32) -> Vec<u8> {
    let stride = bmp.stride();
    let mut rows = Vec::with_capacity((stride + 1) * bmp.height() as usize);
    for row in bmp.data().chunks(stride) {
        rows.push(0);
        rows.extend(row.iter().map(|b| !b));
    }
    let idat = zlib(&rows, level);
    let mut out = Vec::with_capacity(idat.len() + 80);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = [0u8; 13];
    ihdr[0..4].copy_from_slice(&bmp.width().to_be_bytes());
    ihdr[4..8].copy_from_slice(&bmp.height().to_be_bytes());
    ihdr[8] = 1; // bit depth; colour type 0 (greyscale), deflate, filter method 0, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    if let Some(dpi) = dpi {
        // Dots per metre, both axes, unit metre: a viewer shows the label at its real size.
        let per_metre = ((dpi as f64 / 0.0254).round() as u32).to_be_bytes();
        let mut phys = [1u8; 9];
        phys[0..4].copy_from_slice(&per_metre);
        phys[4..8].copy_from_slice(&per_metre);
        chunk(&mut out, b"pHYs", &phys);
    }
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The zlib stream of `data` at a libdeflate level (1–12).
pub fn zlib(data: &[u8], level: i32) -> Vec<u8> {
    let mut deflater = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level).expect("a valid level"));
    let mut out = vec![0; deflater.zlib_compress_bound(data.len())];
    let n = deflater.zlib_compress(data, &mut out).expect("the bound is large enough");
    out.truncate(n);
    out
}

/// Length, type, data and the CRC-32 of type and data (PNG specification, section 5.3).
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Reads a 1-bit or greyscale PNG back into a bitmap (dots darker than mid-grey are black). A 1-bit
/// greyscale PNG (what printers and previews get) is read row by row as it is packed; any other
/// goes through the image decoder.
pub fn decode(bytes: &[u8]) -> Result<Bitmap, String> {
    if let Some(b) = decode_one_bit(bytes)? {
        return Ok(b);
    }
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png).map_err(|e| e.to_string())?;
    let luma = img.to_luma8();
    Ok(Bitmap::from_luma(luma.width(), luma.height(), luma.as_raw(), 128))
}

/// A non-interlaced 1-bit greyscale PNG as a bitmap, its rows inverted (PNG 0 = black) and the pad
/// bits after the last dot of each row cleared; `None` for any other kind of PNG.
fn decode_one_bit(bytes: &[u8]) -> Result<Option<Bitmap>, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let info = reader.info();
    if info.color_type != png::ColorType::Grayscale || info.bit_depth != png::BitDepth::One || info.interlaced {
        return Ok(None);
    }
    let (width, height) = (info.width, info.height);
    let mut buf = vec![0; reader.output_buffer_size().ok_or("the PNG is too large")?];
    let frame = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    let stride = width.div_ceil(8) as usize;
    if frame.line_size != stride {
        return Err(format!("a 1-bit row of {width} dots is {stride} bytes, the PNG says {}", frame.line_size));
    }
    let pad = if width % 8 == 0 { 0xFF } else { 0xFFu8 << (8 - width % 8) };
    let mut data = Vec::with_capacity(stride * height as usize);
    for row in buf[..stride * height as usize].chunks(stride) {
        data.extend(row.iter().map(|b| !b));
        if let Some(last) = data.last_mut() {
            *last &= pad;
        }
    }
    Ok(Bitmap::from_packed(width, height, data))
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
        // The image decoder (the path every other kind of PNG takes) reads the same dots and size.
        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().to_luma8();
        assert_eq!(Bitmap::from_luma(img.width(), img.height(), img.as_raw(), 128), b);
        let phys = png.windows(4).position(|w| w == b"pHYs").expect("a pHYs chunk");
        assert_eq!(&png[phys + 4..phys + 13], &[0, 0, 0x1F, 0x38, 0, 0, 0x1F, 0x38, 1], "7992 dots a metre, both ways");
    }

    #[test]
    fn greyscale_png_is_read_by_threshold() {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, 3, 1);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::Eight);
            enc.write_header().unwrap().write_image_data(&[0, 200, 100]).unwrap();
        }
        let b = decode(&out).unwrap();
        assert_eq!((b.get(0, 0), b.get(1, 0), b.get(2, 0)), (true, false, true));
    }
}
