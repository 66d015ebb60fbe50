//! Decoders take whatever a network peer sends: malformed input is a `DecodeError` naming the command,
//! never a panic, and a decoder keeps working after one.

use labeld::bitmap::Bitmap;
use labeld::lang::zpl::{Encoding, ZplOptions};
use labeld::lang::{self, Decoded, JobSettings, Language};
use proptest::prelude::*;

fn small_label(seed: &[u8], w: u32, h: u32) -> Bitmap {
    let mut b = Bitmap::new(w, h);
    for (i, &s) in seed.iter().enumerate() {
        b.set((s as u32 * 7 + i as u32) % w, (i as u32 * 3) % h, true);
    }
    b
}

fn decode_chunked(lang: Language, bytes: &[u8], chunk: usize) {
    let mut d = lang::decoder(lang, 203);
    for c in bytes.chunks(chunk.max(1)) {
        if let Err(e) = d.push(c) {
            assert!(!e.command.is_empty() && !e.problem.is_empty(), "{lang}: an error must name the command and the problem");
        }
    }
    let _ = d.finish();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), chunk in 1usize..64) {
        for lang in Language::ALL {
            decode_chunked(lang, &bytes, chunk);
        }
    }

    #[test]
    fn mutated_streams_never_panic(
        seed in proptest::collection::vec(any::<u8>(), 1..40),
        w in 1u32..60, h in 1u32..40,
        edits in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..6),
        cut in any::<u16>(),
        chunk in 1usize..300,
        acs in any::<bool>(),
    ) {
        let bmp = small_label(&seed, w, h);
        let mut s = JobSettings::for_bitmap(203, &bmp);
        s.options.set(ZplOptions { encoding: [Encoding::Z64, Encoding::Acs, Encoding::Png][(cut % 3) as usize] });
        let _ = acs;
        for lang in Language::ALL {
            let mut bytes = lang::encode(lang, std::slice::from_ref(&bmp), &s).unwrap();
            for &(at, v) in &edits {
                let i = at as usize % bytes.len();
                bytes[i] = v;
            }
            bytes.truncate(bytes.len() - (cut as usize % bytes.len()).min(bytes.len() / 4));
            decode_chunked(lang, &bytes, chunk);
        }
    }

    #[test]
    fn small_labels_round_trip(seed in proptest::collection::vec(any::<u8>(), 0..40), w in 1u32..70, h in 1u32..40, acs in any::<bool>()) {
        let bmp = small_label(&seed, w, h);
        let mut s = JobSettings::for_bitmap(203, &bmp);
        s.options.set(ZplOptions { encoding: if acs { Encoding::Acs } else if seed.len() % 2 == 0 { Encoding::Png } else { Encoding::Z64 } });
        for lang in Language::ALL {
            let bytes = lang::encode(lang, std::slice::from_ref(&bmp), &s).unwrap();
            let got = lang::labels(lang::decode_all(lang, 203, &bytes).unwrap());
            prop_assert_eq!(got.len(), 1);
            prop_assert!(lang::same_raster(&bmp, &got[0]), "{}", lang);
        }
    }
}

#[test]
fn a_decoder_recovers_after_an_error() {
    for lang in Language::ALL {
        let bmp = small_label(&[1, 2, 3, 200], 24, 10);
        let good = lang::encode(lang, std::slice::from_ref(&bmp), &JobSettings::for_bitmap(203, &bmp)).unwrap();
        let mut d = lang::decoder(lang, 203);
        let garbage: &[u8] = match lang.name() {
            "zpl" => b"^XA^GFQ,1,1,1,00^FS^XZ",
            "tspl" => b"SIZE 10 mm,10 mm\r\nBITMAP 0,0,1,1,7,x\r\n",
            "escpos" => &[0x1D, b'V', 200],
            "epl" => b"GWx,0,1,1,\n",
            "cpcl" => b"! 0 200 200 10 1\r\nVEG 1 1 0 0 FF\r\n",
            other => panic!("no malformed sample for {other}: add one"),
        };
        let e = d.push(garbage).unwrap_err();
        assert!(!e.command.is_empty(), "{lang}: {e}");
        let mut got = d.push(&good).unwrap();
        got.extend(d.finish().unwrap());
        let labels: Vec<_> = got.into_iter().filter(|x| matches!(x, Decoded::Label(_))).collect();
        assert_eq!(labels.len(), 1, "{lang}: the next job prints after an error");
    }
}
