//! The system font index kept between runs, so that a one-shot command does not open and parse every
//! installed font file (hundreds on a machine with Noto CJK) each time it starts.
//!
//! The index is what fontdb's scan found (file, face index, family names, style, weight, width,
//! monospaced), stored as JSON in the user's cache directory. It is used only while everything it was built
//! from is unchanged: the size and modification time of every indexed file; the modification time of every
//! directory that holds one and of each of their parents below the top level (a font added anywhere below
//! them changes one);
//! the places fontdb looks for fonts and fontconfig's configuration, existing or not. Anything else (another
//! labeld, a changed stamp, an unreadable or corrupt cache) means a fresh scan, which rewrites the cache.
//! The cache never holds font data: faces are still read from their files when first used.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

/// Bumped whenever the file's layout or meaning changes.
const FORMAT: u32 = 1;

/// Where the index lives: `$XDG_CACHE_HOME/labeld/`, else `~/.cache/labeld/`; none without either.
pub fn user_cache_file() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    Some(base.join("labeld").join("font-index.json"))
}

#[derive(Serialize, Deserialize)]
struct Index {
    format: u32,
    labeld: String,
    stamps: Vec<Stamp>,
    faces: Vec<Face>,
}

/// A path and what it was when the index was made: `None` when it did not exist.
#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
struct Stamp {
    path: PathBuf,
    seen: Option<(u64, u128)>,
}

impl Stamp {
    fn now(path: &Path) -> Stamp {
        Stamp { path: path.to_path_buf(), seen: stat(path) }
    }
}

/// Size and modification time in nanoseconds.
fn stat(path: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_nanos();
    Some((meta.len(), modified))
}

#[derive(Serialize, Deserialize)]
struct Face {
    path: PathBuf,
    index: u32,
    families: Vec<String>,
    post_script_name: String,
    /// 0 normal, 1 italic, 2 oblique.
    style: u8,
    weight: u16,
    /// OS/2 width class, 1–9.
    width: u16,
    monospaced: bool,
}

/// Adds the system fonts to `db`: from the index in `cache` when it is still true, else by fontdb's scan
/// (`scan`), after which the index is written (best effort: a read-only home only costs the next run a scan).
/// Returns whether the index was used.
pub(crate) fn load_system_fonts(db: &mut fontdb::Database, cache: Option<&Path>, scan: impl FnOnce(&mut fontdb::Database)) -> bool {
    if let Some(file) = cache
        && let Some(index) = read_valid(file)
    {
        for face in index.faces {
            db.push_face_info(face.into_info());
        }
        return true;
    }
    let before: HashSet<fontdb::ID> = db.faces().map(|f| f.id).collect();
    scan(db);
    if let Some(file) = cache {
        let faces: Vec<Face> = db.faces().filter(|f| !before.contains(&f.id)).filter_map(Face::of).collect();
        write(file, faces);
    }
    false
}

/// The index in `file`, if it is readable, of this labeld and format, and every stamp still holds.
fn read_valid(file: &Path) -> Option<Index> {
    let bytes = std::fs::read(file).ok()?;
    let index: Index = serde_json::from_slice(&bytes).ok()?;
    if index.format != FORMAT || index.labeld != env!("CARGO_PKG_VERSION") {
        return None;
    }
    let recorded: HashSet<&Path> = index.stamps.iter().map(|s| s.path.as_path()).collect();
    // Where fontdb would look today (HOME or XDG variables may differ from the run that made the index).
    if !search_places().iter().all(|p| recorded.contains(p.as_path())) {
        return None;
    }
    if !index.stamps.iter().all(|s| stat(&s.path) == s.seen) {
        return None;
    }
    // Every face's file must be stamped, or a file edited in place would go unnoticed.
    if !index.faces.iter().all(|f| recorded.contains(f.path.as_path())) {
        return None;
    }
    Some(index)
}

fn write(file: &Path, faces: Vec<Face>) {
    let mut paths: BTreeSet<PathBuf> = search_places().into_iter().collect();
    for face in &faces {
        paths.insert(face.path.clone());
        // Not `/` or a top-level directory such as `/tmp`, which change for reasons that have nothing to do
        // with fonts: a font added under one of them also changes a directory below.
        paths.extend(face.path.ancestors().skip(1).filter(|a| a.components().count() > 2).map(Path::to_path_buf));
    }
    let stamps = paths.iter().map(|p| Stamp::now(p)).collect();
    let index = Index { format: FORMAT, labeld: env!("CARGO_PKG_VERSION").to_string(), stamps, faces };
    let Ok(json) = serde_json::to_vec(&index) else { return };
    let Some(dir) = file.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    // A whole file or none: concurrent runs each write their own and rename it into place.
    let tmp = dir.join(format!(".font-index.{}.tmp", std::process::id()));
    if std::fs::write(&tmp, json).is_ok() && std::fs::rename(&tmp, file).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The font directories and fontconfig files fontdb reads on Linux, whether or not they exist.
fn search_places() -> Vec<PathBuf> {
    let mut places: Vec<PathBuf> = ["/usr/share/fonts", "/usr/local/share/fonts", "/etc/fonts/fonts.conf", "/etc/fonts/conf.d", "/etc/fonts/local.conf"]
        .into_iter()
        .map(PathBuf::from)
        .collect();
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(home) = var("HOME") {
        places.push(home.join(".fonts"));
        places.push(home.join(".local/share/fonts"));
        places.push(var("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")).join("fontconfig/fonts.conf"));
    }
    if let Some(data) = var("XDG_DATA_HOME") {
        places.push(data.join("fonts"));
    }
    if let Some(file) = var("FONTCONFIG_FILE") {
        places.push(file);
    }
    places
}

impl Face {
    fn of(info: &fontdb::FaceInfo) -> Option<Face> {
        let path = match &info.source {
            fontdb::Source::File(p) | fontdb::Source::SharedFile(p, _) => p.clone(),
            fontdb::Source::Binary(_) => return None,
        };
        Some(Face {
            path,
            index: info.index,
            families: info.families.iter().map(|(name, _)| name.clone()).collect(),
            post_script_name: info.post_script_name.clone(),
            style: match info.style {
                fontdb::Style::Normal => 0,
                fontdb::Style::Italic => 1,
                fontdb::Style::Oblique => 2,
            },
            weight: info.weight.0,
            width: info.stretch.to_number(),
            monospaced: info.monospaced,
        })
    }

    fn into_info(self) -> fontdb::FaceInfo {
        use fontdb::Stretch::*;
        fontdb::FaceInfo {
            id: fontdb::ID::dummy(),
            source: fontdb::Source::File(self.path),
            index: self.index,
            // Only the names are used (labeld matches family names in any language).
            families: self.families.into_iter().map(|n| (n, fontdb::Language::English_UnitedStates)).collect(),
            post_script_name: self.post_script_name,
            style: match self.style {
                1 => fontdb::Style::Italic,
                2 => fontdb::Style::Oblique,
                _ => fontdb::Style::Normal,
            },
            weight: fontdb::Weight(self.weight),
            stretch: match self.width {
                1 => UltraCondensed,
                2 => ExtraCondensed,
                3 => Condensed,
                4 => SemiCondensed,
                6 => SemiExpanded,
                7 => Expanded,
                8 => ExtraExpanded,
                9 => UltraExpanded,
                _ => Normal,
            },
            monospaced: self.monospaced,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn families(db: &fontdb::Database) -> Vec<(String, u16, PathBuf)> {
        let mut v: Vec<_> = db
            .faces()
            .map(|f| {
                let path = match &f.source {
                    fontdb::Source::File(p) | fontdb::Source::SharedFile(p, _) => p.clone(),
                    fontdb::Source::Binary(_) => PathBuf::new(),
                };
                (f.families[0].0.clone(), f.weight.0, path)
            })
            .collect();
        v.sort();
        v
    }

    /// Sets a directory's modification time to a fixed past moment, so that adding a file visibly changes it
    /// even on a file system whose clock ticks coarsely.
    fn age(dir: &Path) {
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        std::fs::File::open(dir).unwrap().set_modified(past).unwrap();
    }

    #[test]
    fn the_index_is_used_until_something_it_was_made_from_changes() {
        // Apart, as in a home directory: writing the cache must not touch a directory the index watches.
        let (font_home, cache_home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let fonts = font_home.path().join("fonts");
        std::fs::create_dir(&fonts).unwrap();
        std::fs::write(fonts.join("regular.ttf"), dejavu::sans::regular()).unwrap();
        age(&fonts);
        let cache = cache_home.path().join("labeld/font-index.json");
        let load = |expect_cached: bool| {
            let mut db = fontdb::Database::new();
            let scanned = std::cell::Cell::new(false);
            let used = load_system_fonts(&mut db, Some(&cache), |db| {
                scanned.set(true);
                db.load_fonts_dir(&fonts);
            });
            assert_eq!(used, expect_cached, "index used");
            assert_eq!(scanned.get(), !expect_cached, "scanned");
            db
        };

        // No index yet: a scan, which writes one; the next run reads the same faces from it.
        let scanned = load(false);
        assert!(cache.is_file());
        let cached = load(true);
        assert_eq!(families(&cached), families(&scanned));
        assert_eq!(families(&cached).len(), 1);

        // A font added to the directory: its modification time changed, so the index is made again.
        std::fs::write(fonts.join("bold.ttf"), dejavu::sans::bold()).unwrap();
        let scanned = load(false);
        assert_eq!(families(&scanned).len(), 2);
        assert_eq!(families(&load(true)), families(&scanned));

        // A file replaced in place (the directory untouched): its size differs.
        age(&fonts);
        load(false);
        std::fs::write(fonts.join("bold.ttf"), dejavu::sans::regular()).unwrap();
        age(&fonts);
        let scanned = load(false);
        assert!(families(&scanned).iter().all(|(_, w, _)| *w == 400), "{:?}", families(&scanned));

        // A corrupt or truncated index is not trusted: a scan, and a good index again.
        std::fs::write(&cache, b"{\"format\": 1, \"labeld\"").unwrap();
        load(false);
        load(true);
        // Nor one another labeld wrote.
        let text = std::fs::read_to_string(&cache).unwrap().replace(env!("CARGO_PKG_VERSION"), "0.0.0-other");
        std::fs::write(&cache, text).unwrap();
        load(false);
    }

    #[test]
    fn without_a_cache_file_every_run_scans() {
        let mut db = fontdb::Database::new();
        let mut scans = 0;
        assert!(!load_system_fonts(&mut db, None, |_| scans += 1));
        assert!(!load_system_fonts(&mut db, None, |_| scans += 1));
        assert_eq!(scans, 2);
    }

    #[test]
    fn an_unwritable_cache_costs_only_a_scan() {
        let tmp = tempfile::tempdir().unwrap();
        // The cache's directory is a file, so nothing can be written there.
        std::fs::write(tmp.path().join("labeld"), b"").unwrap();
        let mut db = fontdb::Database::new();
        assert!(!load_system_fonts(&mut db, Some(&tmp.path().join("labeld/font-index.json")), |db| {
            db.load_font_data(dejavu::sans::regular().to_vec());
        }));
        assert_eq!(db.len(), 1);
    }
}
