//! The independent barcode decoder: zbarimg from Debian's zbar-tools. Tests that need it skip with a
//! reason when it is missing, unless LABELD_REQUIRE_BARCODE_DECODER=1 (set by .ci/run), where they fail.

use std::path::Path;
use std::process::Command;

/// Whether zbarimg can run here; `None` (after printing why) means the caller should skip.
pub fn available(test: &str) -> Option<()> {
    match Command::new("zbarimg").arg("--version").output() {
        Ok(o) if o.status.success() => Some(()),
        _ => {
            super::skip("LABELD_REQUIRE_BARCODE_DECODER", &format!("{test}: zbarimg (Debian zbar-tools) is not installed"));
            None
        }
    }
}

/// Every Code 128 zbarimg finds in the image files, in the order it reports them.
pub fn code128(images: &[&Path]) -> Vec<String> {
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Scode128.enable"])
        .args(images)
        .output()
        .expect("run zbarimg");
    // Exit 4 means "no symbol found": an empty answer, not an error.
    assert!(out.status.success() || out.status.code() == Some(4), "zbarimg: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}
