//! The calibration label: every built-in profile's test page encodes in its language (and every other
//! language), decodes back to the same raster, and its Code 128 sample scans.

use crate::common;

use labeld::barcode::verify::read_code128;
use labeld::compose::test_page::{self, TestPage};
use labeld::compose::{Content, Gate, Target};
use labeld::lang::{self, JobSettings, Language};
use labeld::printer::Profiles;

#[test]
fn every_profile_prints_a_test_page_that_round_trips_and_scans() {
    let gate = Gate::new(labeld::comply::Checker::new(None), common::template().clone()).unwrap();
    for profile in Profiles::builtin().all() {
        let page = TestPage::for_profile(&profile);
        let raster = test_page::render(&page, common::fonts());
        assert_eq!((raster.width(), raster.height()), profile.label_size(), "{}", profile.name);
        let (x, y, w, h) = test_page::barcode_area(&page);
        let crop = raster.crop(x, y.saturating_sub(4), w, h + 8);
        assert_eq!(read_code128(&crop), Some(test_page::barcode_data(profile.dpi)), "{}: the Code 128 sample must scan", profile.name);

        // What a worker sends for a test page: the gate's printer bytes for this printer.
        let bytes = gate.printer_bytes(Content::TestPage(&page), &Target::printer("dock", &profile), common::fonts()).unwrap().bytes;
        let back = lang::labels(lang::decode_all(profile.language, profile.dpi, &bytes).unwrap());
        assert_eq!(back.len(), 1, "{}", profile.name);
        assert!(lang::same_raster(&raster, &back[0]), "{}: test page differs after {}", profile.name, profile.language);
    }
}

#[test]
fn the_test_page_encodes_in_every_language() {
    let profile = Profiles::builtin().get("zebra-zd421-300").unwrap();
    let raster = test_page::render(&TestPage::for_profile(&profile), common::fonts());
    for lang in Language::ALL {
        let s = JobSettings::for_bitmap(profile.dpi, &raster);
        let bytes = lang::encode(lang, std::slice::from_ref(&raster), &s).unwrap();
        let back = lang::labels(lang::decode_all(lang, profile.dpi, &bytes).unwrap());
        assert!(lang::same_raster(&raster, &back[0]), "{lang}");
    }
}

#[test]
fn a_label_wider_than_the_printer_is_refused_with_the_reason() {
    let p = Profiles::builtin().get("escpos-80mm").unwrap();
    let err = p.job_settings(799, 1199).unwrap_err().to_string();
    assert!(err.contains("799") && err.contains("576"), "{err}");
}
