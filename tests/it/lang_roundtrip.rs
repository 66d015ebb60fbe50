//! Every fixture label → every printer language → our own interpreter → the identical raster.

use crate::common;

use labeld::bitmap::Bitmap;
use labeld::lang::cpcl::{CpclOptions, Graphics};
use labeld::lang::escpos::EscPosOptions;
use labeld::lang::zpl::{Encoding, ZplOptions};
use labeld::lang::{self, Decoded, JobSettings, Language, Media};

fn fixture_rasters(dpi: u32) -> Vec<(String, Bitmap)> {
    common::fixture_orders()
        .into_iter()
        .map(|(name, order)| {
            let label = common::render(&order, dpi).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, label.into_parts().1)
        })
        .collect()
}

fn round_trip(lang: Language, raster: &Bitmap, settings: &JobSettings) -> usize {
    let bytes = lang::encode(lang, std::slice::from_ref(raster), settings).unwrap();
    let labels = lang::labels(lang::decode_all(lang, settings.dpi, &bytes).unwrap_or_else(|e| panic!("{lang}: {e}")));
    assert_eq!(labels.len(), 1, "{lang}: one label in, one label out");
    assert!(lang::same_raster(raster, &labels[0]), "{lang}: decoded raster differs ({:?} vs {:?})", raster, labels[0]);
    bytes.len()
}

#[test]
fn every_fixture_in_every_language_decodes_to_the_same_raster() {
    for dpi in [203, 300] {
        for (name, raster) in fixture_rasters(dpi) {
            let settings = JobSettings::for_bitmap(dpi, &raster);
            let mut sizes = Vec::new();
            for lang in Language::ALL {
                sizes.push(format!("{lang} {}", round_trip(lang, &raster, &settings)));
            }
            let mut png = settings.clone();
            png.options.set(ZplOptions { encoding: Encoding::Png });
            sizes.push(format!("zpl png {}", round_trip(Language::Zpl, &raster, &png)));
            eprintln!("{name} @ {dpi} dpi: {}", sizes.join(", "));
        }
    }
}

#[test]
fn alternative_encodings_round_trip() {
    for dpi in [203, 300] {
        let (_, raster) = fixture_rasters(dpi).remove(0);
        let mut s = JobSettings::for_bitmap(dpi, &raster);
        s.options.set(ZplOptions { encoding: Encoding::Acs });
        s.options.set(CpclOptions { graphics: Graphics::Compressed });
        s.options.set(EscPosOptions { band_height: 255, cut: false });
        s.media = Media::Mark;
        s.darkness = Some(3);
        s.speed = Some(3.0);
        for lang in Language::ALL {
            let n = round_trip(lang, &raster, &s);
            eprintln!("alternative {lang} @ {dpi}: {n} bytes");
        }
        s.options.set(ZplOptions { encoding: Encoding::Png });
        let n = round_trip(Language::Zpl, &raster, &s);
        eprintln!("alternative zpl png @ {dpi}: {n} bytes");
    }
}

#[test]
fn streams_decode_the_same_in_any_chunking() {
    let (_, raster) = fixture_rasters(203).remove(1);
    let mut settings = JobSettings::for_bitmap(203, &raster);
    settings.copies = 2;
    for lang in Language::ALL {
        let bytes = lang::encode(lang, &[raster.clone(), raster.clone()], &settings).unwrap();
        for chunk in [1usize, 7, 4096] {
            let mut d = lang::decoder(lang, 203);
            let mut got = Vec::new();
            for c in bytes.chunks(chunk) {
                got.extend(d.push(c).unwrap_or_else(|e| panic!("{lang} chunk {chunk}: {e}")));
            }
            got.extend(d.finish().unwrap());
            let labels: Vec<_> = got.into_iter().filter_map(|d| if let Decoded::Label(b) = d { Some(b) } else { None }).collect();
            assert_eq!(labels.len(), 4, "{lang} chunk {chunk}: 2 pages × 2 copies");
            assert!(labels.iter().all(|l| lang::same_raster(&raster, l)), "{lang} chunk {chunk}");
        }
    }
}

/// The wire budget (DESIGN.md: 12 KB per reference label) cannot be met by `^GF :Z64:` for this raster:
/// its best zlib stream is already ~10.7 KB and Base64 adds a third (the binary PNG object that 8-bit clean
/// links get meets it: lang_zpl_independent::png_objects_decode_elsewhere_and_fit_12_kb). What the encoder controls is that it
/// adds little beyond that: this checks the ZPL is within 8% + 300 bytes of Base64(best zlib) (it uses
/// zlib's default level, 7× faster than the best for 3–6% more bytes).
#[test]
fn zpl_costs_no_more_than_base64_of_the_rasters_zlib_stream() {
    use std::io::Write;
    for dpi in [203, 300] {
        let order = common::fixture_orders().into_iter().find(|(n, _)| n == "my-jnt-cod").unwrap().1;
        let raster = common::render(&order, dpi).unwrap().into_parts().1;
        let bytes = lang::encode(Language::Zpl, std::slice::from_ref(&raster), &JobSettings::for_bitmap(dpi, &raster)).unwrap();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(raster.data()).unwrap();
        let bound = z.finish().unwrap().len().div_ceil(3) * 4;
        eprintln!("reference label my-jnt-cod, ZPL :Z64: at {dpi} dpi: {} bytes (Base64 of one zlib stream: {bound})", bytes.len());
        assert!(bytes.len() <= bound + bound / 12 + 300, "{} bytes against a bound of {bound}", bytes.len());
    }
}
