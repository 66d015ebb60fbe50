//! Shared test helpers: fixtures from tests/fixtures, one font set, a fixed print time.
#![allow(dead_code)]

pub mod http;
pub mod process;
pub mod zbar;

use std::path::PathBuf;
use std::sync::OnceLock;

use labeld::compose::{self, Gate, Label};
use labeld::order::Order;
use labeld::template::Template;
use labeld::text::{FontConfig, Fonts};

/// Says why a test cannot run here and lets it return, except under `switch=1` (set by .ci/run, which
/// installs every tool), where a missing tool is a failure instead of a silent pass.
pub fn skip(switch: &str, why: &str) {
    assert!(std::env::var(switch).as_deref() != Ok("1"), "{switch}=1 but {why}");
    eprintln!("skipped: {why} ({switch}=1 makes this a failure)");
}

/// Whether `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    std::process::Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every valid fixture order, by file stem.
pub fn fixture_orders() -> Vec<(String, Order)> {
    orders_in("orders")
}

/// The orders of one fixture folder (`orders`, `orders-long`), by file stem.
pub fn orders_in(folder: &str) -> Vec<(String, Order)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures().join(folder)).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let order = Order::from_json_bytes(&std::fs::read(&p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_stem().unwrap().to_string_lossy().into_owned(), order)
        })
        .collect()
}

pub fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts::load(&FontConfig::default()).expect("fonts"))
}

/// The fonts the golden images are drawn with, and only these: the DejaVu Sans compiled into labeld
/// and the Noto Sans Thai and Noto Sans CJK JP (a subset) under tests/fonts, never the machine's own, so
/// a system font update cannot move a dot.
pub fn pinned_fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| {
        let dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fonts")];
        Fonts::load(&FontConfig { dirs, no_system: true, no_builtin: false, index_cache: None }).expect("the test fonts")
    })
}

pub fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| Template::load(labeld::template::DEFAULT).unwrap())
}

/// The print time every golden image was made with.
pub fn fixed_time() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-23 09:30 UTC)
}

/// The gate every print takes, with the default template and no warehouse registry.
pub fn gate() -> &'static Gate {
    static G: OnceLock<Gate> = OnceLock::new();
    G.get_or_init(|| Gate::new(labeld::comply::Checker::new(None), template().clone()).expect("the default template passes the rules"))
}

/// A label as the daemon prints it (no other order has its tracking number), at the golden images' print time.
pub fn render(order: &Order, dpi: u32) -> Result<Label, compose::ComposeError> {
    render_with(order, dpi, fonts())
}

/// [`render`] with these fonts.
pub fn render_with(order: &Order, dpi: u32, fonts: &Fonts) -> Result<Label, compose::ComposeError> {
    gate().label(order, &labeld::comply::NoSpool, fonts, &compose::Options { dpi, printed_at: fixed_time() })
}
