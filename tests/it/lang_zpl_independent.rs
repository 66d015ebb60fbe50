//! ZPL checked by an interpreter labeld did not write: zpl-renderer-js (Zebrash compiled to WebAssembly)
//! renders our ZPL to PNG, and the tracking barcode must scan from that PNG. `.ci/run` installs it
//! (`npm ci` in tests/zpl) and sets LABELD_REQUIRE_ZPL_RENDERER=1, so on CI a missing renderer fails.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use labeld::barcode::verify::read_code128;
use labeld::lang::zpl::{Encoding, ZplOptions};
use labeld::lang::{self, JobSettings, Language};
use labeld::render::png;

pub(crate) fn renderer() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zpl");
    let installed = dir.join("node_modules/zpl-renderer-js").is_dir();
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if installed && node {
        return Some(dir);
    }
    let why = if node { "tests/zpl/node_modules is absent (run `npm ci` in tests/zpl)" } else { "node is not installed" };
    crate::common::skip("LABELD_REQUIRE_ZPL_RENDERER", &format!("independent ZPL check: {why}"));
    None
}

/// Renders ZPL documents of one size with Zebrash (one node process for all); returns the PNGs.
pub(crate) fn zebrash(dir: &Path, zpls: &[Vec<u8>], width: u32, height: u32, dpi: u32) -> Vec<Vec<u8>> {
    let tmp = std::env::temp_dir().join(format!("labeld-zpl-{}-{dpi}-{}", std::process::id(), zpls.len()));
    std::fs::create_dir_all(&tmp).unwrap();
    let dpmm: u32 = if dpi >= 300 { 12 } else { 8 };
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("render.js"))
        .arg(format!("{}", width as f64 / dpmm as f64))
        .arg(format!("{}", height as f64 / dpmm as f64))
        .arg(dpmm.to_string());
    for (i, zpl) in zpls.iter().enumerate() {
        let input = tmp.join(format!("{i}.zpl"));
        std::fs::write(&input, zpl).unwrap();
        cmd.arg(input).arg(tmp.join(format!("{i}.png")));
    }
    let out = cmd.output().expect("running node");
    assert!(out.status.success(), "zpl-renderer-js failed: {}", String::from_utf8_lossy(&out.stderr));
    let pngs = (0..zpls.len()).map(|i| std::fs::read(tmp.join(format!("{i}.png"))).unwrap()).collect();
    std::fs::remove_dir_all(&tmp).ok();
    pngs
}

#[test]
fn zebrash_renders_our_zpl_and_the_tracking_barcode_scans() {
    let Some(dir) = renderer() else { return };
    let mut checked = 0;
    for dpi in [203, 300] {
        let labels: Vec<_> = common::fixture_orders().into_iter().map(|(name, order)| (name, common::render(&order, dpi).unwrap())).collect();
        let (width, height) = (labels[0].1.raster().width(), labels[0].1.raster().height());
        for compression in [Encoding::Z64, Encoding::Acs] {
            let zpls: Vec<Vec<u8>> = labels
                .iter()
                .map(|(_, l)| {
                    let mut settings = JobSettings::for_bitmap(dpi, l.raster());
                    settings.options.set(ZplOptions { encoding: compression });
                    lang::encode(Language::Zpl, std::slice::from_ref(l.raster()), &settings).unwrap()
                })
                .collect();
            let pngs = zebrash(&dir, &zpls, width, height, dpi);
            for ((name, label), png_bytes) in labels.iter().zip(pngs) {
                let raster = label.raster();
                let rendered = png::decode(&png_bytes).unwrap();
                // Zebrash sizes its canvas from millimetres; compare the label's area.
                let w = raster.width().min(rendered.width());
                let h = raster.height().min(rendered.height());
                assert!(w + 16 >= raster.width() && h + 16 >= raster.height(), "{name}: rendered {}×{}", rendered.width(), rendered.height());
                let same = (0..h).all(|y| (0..w).all(|x| rendered.get(x, y) == raster.get(x, y)));
                assert!(same, "{name} @ {dpi} dpi ({compression:?}): Zebrash's raster differs from ours");
                for b in label.document().barcodes() {
                    let r = b.bounds();
                    let crop = rendered.crop(r.x.max(0) as u32, (r.y - 4).max(0) as u32, r.w as u32, r.h as u32 + 8);
                    assert_eq!(read_code128(&crop).as_deref(), Some(b.data.as_str()), "{name} @ {dpi} dpi ({compression:?}): barcode from Zebrash's PNG");
                }
                checked += 1;
            }
        }
    }
    eprintln!("independent ZPL check: {checked} renderings by zpl-renderer-js were dot-identical and scanned");
}

/// The binary PNG object that ZD421 profiles send (`~DY…,B,P`), which Zebrash does not interpret: the PNG is
/// cut out of the stream by the byte count its `~DY` header declares, decoded by netpbm's `pngtopnm`
/// (libpng), and must equal our raster dot for dot; zbarimg must read the label's barcodes from the PNG
/// itself; and at 203 dpi every fixture's whole ZPL stream is at most 12 KB.
#[test]
fn png_objects_decode_elsewhere_and_fit_12_kb() {
    if !common::have("pngtopnm") {
        common::skip("LABELD_REQUIRE_PNG_DECODER", "independent PNG check: pngtopnm (Debian netpbm) is not installed");
        return;
    }
    common::zbar::available("png_objects_decode_elsewhere_and_fit_12_kb").expect("zbarimg");
    let tmp = std::env::temp_dir().join(format!("labeld-zpl-png-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut largest = 0;
    for (dpi, driver) in [(203, "zebra-zd421-203"), (300, "zebra-zd421-300")] {
        let profile = labeld::printer::profile::Profile::from_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("drivers/{driver}.toml"))).unwrap();
        for (name, order) in common::fixture_orders() {
            let label = common::render(&order, dpi).unwrap();
            let raster = label.raster();
            let settings = profile.job_settings(raster.width(), raster.height()).unwrap();
            let zpl = lang::encode(Language::Zpl, std::slice::from_ref(raster), &settings).unwrap();
            if dpi == 203 {
                assert!(zpl.len() <= 12 * 1024, "{name}: {} bytes of ZPL at 203 dpi", zpl.len());
                largest = largest.max(zpl.len());
            }
            let png = png_payload(&zpl);
            let file = tmp.join(format!("{name}-{dpi}.png"));
            std::fs::write(&file, png).unwrap();
            let out = Command::new("pngtopnm").arg(&file).output().unwrap();
            assert!(out.status.success(), "pngtopnm {name}: {}", String::from_utf8_lossy(&out.stderr));
            let (width, height, rows) = pbm(&out.stdout);
            assert_eq!((width, height), (raster.width(), raster.height()), "{name} @ {dpi}");
            assert!(rows == raster.data(), "{name} @ {dpi} dpi: libpng's picture differs from our raster");
            let mut want: Vec<String> = label.document().barcodes().map(|b| b.data.clone()).collect();
            let mut got = common::zbar::code128(&[&file]);
            want.sort();
            got.sort();
            assert_eq!(got, want, "{name} @ {dpi} dpi: barcodes zbarimg reads from the PNG object");
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
    eprintln!("PNG objects: largest fixture ZPL at 203 dpi {largest} bytes");
}

/// The bytes of the first `~DYd:f,B,P,t,w,` object: `t` of them follow the header's last comma.
fn png_payload(zpl: &[u8]) -> &[u8] {
    let start = zpl.windows(3).position(|w| w == b"~DY").expect("a ~DY object");
    let mut commas = zpl[start..].iter().enumerate().filter(|(_, b)| **b == b',').map(|(i, _)| start + i);
    let fields: Vec<usize> = (0..5).map(|_| commas.next().unwrap()).collect();
    let header = std::str::from_utf8(&zpl[start..fields[4]]).unwrap();
    let parts: Vec<&str> = header.split(',').collect();
    assert_eq!(&parts[1..3], ["B", "P"], "binary data stored as PNG: {header}");
    let total: usize = parts[3].parse().unwrap();
    &zpl[fields[4] + 1..fields[4] + 1 + total]
}

/// A raw PBM (`P4`): width, height and the packed rows (1 = black, each row padded to a byte).
fn pbm(bytes: &[u8]) -> (u32, u32, &[u8]) {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 3 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(std::str::from_utf8(&bytes[start..i]).unwrap());
    }
    assert_eq!(fields[0], "P4", "pngtopnm should write a bitmap for a 1-bit PNG");
    (fields[1].parse().unwrap(), fields[2].parse().unwrap(), &bytes[i + 1..])
}
