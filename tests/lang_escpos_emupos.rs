//! ESC/POS checked against the emupos simulator (PyPI), which needs Python 3.13 or later.
//! This machine's Python is older, so the check reports why it is skipped; see README (Printer languages).

use std::process::Command;

/// The first Python ≥ 3.13 on PATH, if any.
fn python313() -> Option<String> {
    for exe in ["python3.14", "python3.13", "python3"] {
        let Ok(out) = Command::new(exe).args(["-c", "import sys; print(sys.version_info[0] * 100 + sys.version_info[1])"]).output() else { continue };
        let v: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
        if v >= 313 {
            return Some(exe.to_string());
        }
    }
    None
}

#[test]
fn escpos_against_emupos_where_python_allows() {
    let Some(py) = python313() else {
        eprintln!("skipped: emupos needs Python >= 3.13; this machine has an older python3 (ESC/POS is checked by our own decoder only)");
        return;
    };
    let has_emupos = Command::new(&py).args(["-c", "import emupos"]).status().is_ok_and(|s| s.success());
    if !has_emupos {
        eprintln!("skipped: {py} has no emupos module (pip install emupos)");
        return;
    }
    // Wiring the receipt read-back through emupos's control API is not done yet (see the issue note):
    // say so instead of passing silently.
    eprintln!("skipped: emupos is installed but the read-back through its control API is not wired yet");
}
