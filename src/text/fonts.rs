//! Font discovery and the fallback chains: which installed face draws which character.
//!
//! Discovery is fontdb's directory scan (configured dirs first, then the system dirs); no fontconfig C
//! library. Font files are read lazily, the first time a face is actually needed, so a Latin-only label
//! never pulls the 20 MB CJK collections into memory.
//!
//! DejaVu Sans (regular and bold) is compiled into the binary and sorts after every installed face: a
//! machine without any font still renders Latin and Vietnamese labels, and an installed DejaVu wins.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};

use unicode_script::{Script, UnicodeScript};

use super::{FaceId, FontConfig, TextError, Weight};

type RbFace<'a> = rustybuzz::Face<'a>;

self_cell::self_cell!(
    /// A parsed face that owns its font file bytes, so shaping never re-parses GSUB/GPOS.
    struct ParsedFace {
        owner: Arc<[u8]>,
        #[covariant]
        dependent: RbFace,
    }
);

/// A face whose file has been read and parsed.
pub(crate) struct LoadedFace {
    parsed: ParsedFace,
    units_per_em: f32,
    ascender: f32,
    descender: f32,
}

impl LoadedFace {
    pub(crate) fn rb(&self) -> &rustybuzz::Face<'_> {
        self.parsed.borrow_dependent()
    }

    /// Font units to pixels at `size_px` per em.
    pub(crate) fn scale(&self, size_px: f32) -> f32 {
        size_px / self.units_per_em
    }

    /// Ascender above the baseline, in em (positive).
    pub(crate) fn ascender_em(&self) -> f32 {
        self.ascender / self.units_per_em
    }

    /// Descender below the baseline, in em (positive).
    pub(crate) fn descender_em(&self) -> f32 {
        self.descender / self.units_per_em
    }

    /// The face maps `ch` to a real glyph (not .notdef).
    pub(crate) fn has_char(&self, ch: char) -> bool {
        self.rb().glyph_index(ch).is_some_and(|g| g.0 != 0)
    }
}

/// One discovered face (a file and an index in it).
struct FaceEntry {
    db_id: fontdb::ID,
    file: usize,
    index: u32,
    family: String,
    post_script_name: String,
    weight: u16,
    upright: bool,
    normal_width: bool,
    monospaced: bool,
    from_config: bool,
    loaded: OnceLock<Option<LoadedFace>>,
}

struct FileEntry {
    source: FileSource,
    data: OnceLock<Option<Arc<[u8]>>>,
}

enum FileSource {
    Path(PathBuf),
    /// A face compiled into the binary.
    Builtin(&'static [u8]),
}

/// The faces compiled into the binary: the last resort for Latin and Vietnamese.
const BUILTIN_FACES: [fn() -> &'static [u8]; 2] = [dejavu::sans::regular, dejavu::sans::bold];

/// The regular and (when installed) bold face of one family.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FamilyFaces {
    regular: FaceId,
    bold: Option<FaceId>,
}

impl FamilyFaces {
    fn pick(&self, weight: Weight) -> FaceId {
        match weight {
            Weight::Bold => self.bold.unwrap_or(self.regular),
            Weight::Regular => self.regular,
        }
    }
}

/// Which preferred chain a character belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScriptClass {
    /// Latin, Greek, Cyrillic (Vietnamese is Latin) and everything without a chain of its own.
    Latin,
    Thai,
    Han,
    Kana,
    Hangul,
    /// A script with no named chain: any installed face that covers it.
    Other,
}

impl ScriptClass {
    pub(crate) fn of(script: Script) -> ScriptClass {
        match script {
            Script::Latin | Script::Greek | Script::Cyrillic => ScriptClass::Latin,
            Script::Thai => ScriptClass::Thai,
            Script::Han | Script::Bopomofo => ScriptClass::Han,
            Script::Hiragana | Script::Katakana => ScriptClass::Kana,
            Script::Hangul => ScriptClass::Hangul,
            _ => ScriptClass::Other,
        }
    }
}

/// Which regional CJK face to prefer for Han ideographs, decided per paragraph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CjkFlavor {
    /// Simplified Chinese: the default for Han text.
    Sc,
    /// Japanese: the text has kana.
    Jp,
    /// Korean: the text has Hangul.
    Kr,
}

impl CjkFlavor {
    pub(crate) fn of_text(text: &str) -> CjkFlavor {
        let mut hangul = false;
        for ch in text.chars() {
            match ch.script() {
                Script::Hiragana | Script::Katakana => return CjkFlavor::Jp,
                Script::Hangul => hangul = true,
                _ => {}
            }
        }
        if hangul { CjkFlavor::Kr } else { CjkFlavor::Sc }
    }
}

// Families in order of preference. Names are matched case-insensitively against every family name
// a face declares; missing ones are simply skipped.
const LATIN_FAMILIES: &[&str] = &["DejaVu Sans", "Noto Sans", "Liberation Sans", "FreeSans"];
const THAI_FAMILIES: &[&str] = &[
    "Noto Sans Thai",
    "Noto Sans Thai Looped",
    "Noto Looped Thai",
    "Loma",
    "Garuda",
    "Waree",
    "Umpush",
    "Sawasdee",
    "Norasi",
    "Kinnari",
    "Laksaman",
    "Tlwg Typo",
];
const CJK_SC: &[&str] = &[
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
];
const CJK_TC: &[&str] = &[
    "Noto Sans CJK TC",
    "Noto Sans CJK HK",
    "Noto Sans TC",
    "Source Han Sans TC",
];
const CJK_JP: &[&str] = &[
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "IPAexGothic",
    "IPAGothic",
];
const CJK_KR: &[&str] = &[
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "Source Han Sans KR",
    "NanumGothic",
];
const CJK_OTHER: &[&str] = &[
    "Noto Serif CJK SC",
    "Noto Serif CJK JP",
    "Noto Serif CJK KR",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
];

/// Everything discovered, with the chains resolved against what is installed.
pub(crate) struct FontSet {
    db: fontdb::Database,
    faces: Vec<FaceEntry>,
    files: Vec<FileEntry>,
    /// Lower-cased family name -> its regular/bold faces.
    families: HashMap<String, FamilyFaces>,
    /// Families found in the configured dirs: tried first for every script.
    config_chain: Vec<FamilyFaces>,
    latin: Vec<FamilyFaces>,
    thai: Vec<FamilyFaces>,
    cjk_sc: Vec<FamilyFaces>,
    cjk_jp: Vec<FamilyFaces>,
    cjk_kr: Vec<FamilyFaces>,
    /// Every upright face, best candidates first, for characters no chain covers.
    scan_order: Vec<FaceId>,
    primary: FaceId,
    /// (character, weight) -> face found by the last-resort scan (or none).
    scan_cache: RwLock<HashMap<(char, Weight), Option<FaceId>>>,
}

impl FontSet {
    pub(crate) fn load(cfg: &FontConfig) -> Result<FontSet, TextError> {
        let mut db = fontdb::Database::new();
        for dir in &cfg.dirs {
            db.load_fonts_dir(dir);
        }
        let configured: std::collections::HashSet<fontdb::ID> = db.faces().map(|f| f.id).collect();
        if !cfg.no_system {
            super::font_index::load_system_fonts(&mut db, cfg.index_cache.as_deref(), |db| db.load_system_fonts());
        }
        let mut builtin: HashMap<fontdb::ID, &'static [u8]> = HashMap::new();
        if !cfg.no_builtin {
            for bytes in BUILTIN_FACES.map(|f| f()) {
                for id in db.load_font_source(fontdb::Source::Binary(Arc::new(bytes))) {
                    builtin.insert(id, bytes);
                }
            }
        }

        let mut files: Vec<FileEntry> = Vec::new();
        let mut file_index: HashMap<PathBuf, usize> = HashMap::new();
        let mut faces: Vec<FaceEntry> = Vec::new();
        // Configured faces first, then the system's sorted by path so that the order (and so the face
        // chosen by the last-resort scan) does not depend on directory listing order; built-in last.
        let mut infos: Vec<&fontdb::FaceInfo> = db.faces().collect();
        let order_key = |f: &fontdb::FaceInfo| {
            let is_builtin = builtin.contains_key(&f.id);
            (!configured.contains(&f.id), is_builtin, source_path(&f.source), f.index)
        };
        // Each key copies a path: computed once per face, not twice per comparison.
        infos.sort_by_cached_key(|f| order_key(f));
        for info in infos {
            let file = if let Some(&bytes) = builtin.get(&info.id) {
                files.push(FileEntry {
                    source: FileSource::Builtin(bytes),
                    data: OnceLock::new(),
                });
                files.len() - 1
            } else {
                let Some(path) = source_path(&info.source) else {
                    continue;
                };
                *file_index.entry(path.clone()).or_insert_with(|| {
                    files.push(FileEntry {
                        source: FileSource::Path(path.clone()),
                        data: OnceLock::new(),
                    });
                    files.len() - 1
                })
            };
            faces.push(FaceEntry {
                db_id: info.id,
                file,
                index: info.index,
                family: info
                    .families
                    .first()
                    .map(|f| f.0.clone())
                    .unwrap_or_default(),
                post_script_name: info.post_script_name.clone(),
                weight: info.weight.0,
                upright: info.style == fontdb::Style::Normal,
                normal_width: info.stretch == fontdb::Stretch::Normal,
                monospaced: info.monospaced,
                from_config: configured.contains(&info.id),
                loaded: OnceLock::new(),
            });
        }
        if faces.is_empty() {
            let mut searched: Vec<String> =
                cfg.dirs.iter().map(|d| d.display().to_string()).collect();
            if !cfg.no_system {
                searched.push("the system font directories".to_string());
            }
            return Err(TextError::NoFonts {
                searched: searched.join(", "),
            });
        }

        let families = group_families(&db, &faces);
        let mut config_chain: Vec<FamilyFaces> = Vec::new();
        for face in faces.iter().filter(|f| f.from_config) {
            if let Some(fam) = families.get(&face.family.to_lowercase())
                && !config_chain.iter().any(|c| c.regular == fam.regular)
            {
                config_chain.push(*fam);
            }
        }
        let chain = |names: &[&[&str]]| -> Vec<FamilyFaces> {
            let mut out: Vec<FamilyFaces> = Vec::new();
            for name in names.iter().flat_map(|n| n.iter()) {
                if let Some(fam) = families.get(&name.to_lowercase())
                    && !out.iter().any(|c| c.regular == fam.regular)
                {
                    out.push(*fam);
                }
            }
            out
        };
        let latin = chain(&[LATIN_FAMILIES]);
        let thai = chain(&[THAI_FAMILIES]);
        let cjk_sc = chain(&[CJK_SC, CJK_TC, CJK_JP, CJK_KR, CJK_OTHER]);
        let cjk_jp = chain(&[CJK_JP, CJK_SC, CJK_TC, CJK_KR, CJK_OTHER]);
        let cjk_kr = chain(&[CJK_KR, CJK_SC, CJK_TC, CJK_JP, CJK_OTHER]);

        let mut scan_order: Vec<FaceId> = (0..faces.len())
            .filter(|&i| faces[i].upright)
            .map(|i| FaceId(i as u32))
            .collect();
        scan_order.sort_by_key(|id| {
            let f = &faces[id.0 as usize];
            let family = f.family.to_lowercase();
            (
                !f.from_config,
                !f.normal_width,
                f.monospaced,
                !family.contains("sans"),
                family.contains("serif"),
                f.weight.abs_diff(400),
                id.0,
            )
        });

        let mut set = FontSet {
            db,
            faces,
            files,
            families,
            config_chain,
            latin,
            thai,
            cjk_sc,
            cjk_jp,
            cjk_kr,
            scan_order,
            primary: FaceId(0),
            scan_cache: RwLock::new(HashMap::new()),
        };
        // The primary face sets the vertical metrics: the first Latin face that draws 'A'.
        let primary = set
            .config_chain
            .iter()
            .chain(set.latin.iter())
            .map(|f| f.regular)
            .find(|&id| set.face_has(id, 'A'))
            .or_else(|| {
                set.scan_order
                    .iter()
                    .copied()
                    .find(|&id| set.loaded(id).is_some())
            });
        match primary {
            Some(p) => set.primary = p,
            None => {
                return Err(TextError::NoFonts {
                    searched: "discovered font files (none could be read)".to_string(),
                });
            }
        }
        Ok(set)
    }

    /// A family of that name is installed (tests skip when a font they need is missing).
    #[cfg(test)]
    pub(crate) fn has_family(&self, name: &str) -> bool {
        self.families.contains_key(&name.to_lowercase())
    }

    pub(crate) fn primary(&self) -> FaceId {
        self.primary
    }

    /// The parsed face, reading its file on first use; None if the file cannot be read or parsed.
    pub(crate) fn loaded(&self, id: FaceId) -> Option<&LoadedFace> {
        let entry = self.faces.get(id.0 as usize)?;
        entry
            .loaded
            .get_or_init(|| {
                let data = self.file_data(entry.file)?;
                let parsed = ParsedFace::try_new(data, |d| {
                    rustybuzz::Face::from_slice(d, entry.index).ok_or(())
                })
                .ok()?;
                let face = parsed.borrow_dependent();
                let units_per_em = face.units_per_em().max(1) as f32;
                Some(LoadedFace {
                    units_per_em,
                    ascender: f32::from(face.ascender()),
                    descender: -f32::from(face.descender()),
                    parsed,
                })
            })
            .as_ref()
    }

    fn file_data(&self, file: usize) -> Option<Arc<[u8]>> {
        let entry = self.files.get(file)?;
        entry
            .data
            .get_or_init(|| match &entry.source {
                FileSource::Path(path) => std::fs::read(path).ok().map(Arc::from),
                FileSource::Builtin(bytes) => Some(Arc::from(*bytes)),
            })
            .clone()
    }

    pub(crate) fn face_has(&self, id: FaceId, ch: char) -> bool {
        self.loaded(id).is_some_and(|f| f.has_char(ch))
    }

    pub(crate) fn face_data(&self, id: FaceId) -> (Arc<[u8]>, u32) {
        match self.faces.get(id.0 as usize) {
            Some(entry) => (
                self.file_data(entry.file)
                    .unwrap_or_else(|| Arc::from(&[][..])),
                entry.index,
            ),
            None => (Arc::from(&[][..]), 0),
        }
    }

    pub(crate) fn face_name(&self, id: FaceId) -> String {
        match self.faces.get(id.0 as usize) {
            Some(f) if !f.post_script_name.is_empty() => f.post_script_name.clone(),
            Some(f) => f.family.clone(),
            None => String::new(),
        }
    }

    /// The preferred faces for a script class, configured families first.
    pub(crate) fn chain(
        &self,
        class: ScriptClass,
        flavor: CjkFlavor,
    ) -> impl Iterator<Item = &FamilyFaces> {
        let named: &[FamilyFaces] = match class {
            ScriptClass::Latin => &self.latin,
            ScriptClass::Thai => &self.thai,
            ScriptClass::Han => match flavor {
                CjkFlavor::Sc => &self.cjk_sc,
                CjkFlavor::Jp => &self.cjk_jp,
                CjkFlavor::Kr => &self.cjk_kr,
            },
            ScriptClass::Kana => &self.cjk_jp,
            ScriptClass::Hangul => &self.cjk_kr,
            ScriptClass::Other => &[],
        };
        self.config_chain.iter().chain(named.iter())
    }

    /// The face that draws every visible character of `cluster`: the script's chain first, then any
    /// installed face. None when no single face covers the cluster.
    pub(crate) fn face_for_cluster(
        &self,
        cluster: &str,
        class: ScriptClass,
        weight: Weight,
        flavor: CjkFlavor,
    ) -> Option<FaceId> {
        let chain_hit = self
            .chain(class, flavor)
            .map(|fam| fam.pick(weight))
            .find(|&id| self.covers_cluster(id, cluster));
        if chain_hit.is_some() {
            return chain_hit;
        }
        let first = cluster
            .chars()
            .find(|&c| !super::itemize::is_invisible(c))?;
        let found = self.scan_for(first, weight)?;
        if self.covers_cluster(found, cluster) {
            return Some(found);
        }
        // Rare: the first character's scan hit lacks a mark of the cluster; try every face.
        self.scan_order
            .iter()
            .copied()
            .map(|id| self.with_weight(id, weight))
            .find(|&id| self.covers_cluster(id, cluster))
    }

    /// `face` draws every visible character of `cluster` (directly or through its NFC composition).
    pub(crate) fn covers_cluster(&self, face: FaceId, cluster: &str) -> bool {
        let Some(loaded) = self.loaded(face) else {
            return false;
        };
        let visible = |c: &char| !super::itemize::is_invisible(*c);
        if cluster.chars().filter(visible).all(|c| loaded.has_char(c)) {
            return true;
        }
        use unicode_normalization::UnicodeNormalization;
        let composed: String = cluster.nfc().collect();
        composed != cluster && composed.chars().filter(visible).all(|c| loaded.has_char(c))
    }

    /// Any face that has `ch`, for `covers` and for error reporting.
    pub(crate) fn any_face_for(&self, ch: char, weight: Weight) -> Option<FaceId> {
        for class in [ScriptClass::of(ch.script()), ScriptClass::Latin] {
            if let Some(id) = self
                .chain(class, CjkFlavor::Sc)
                .map(|f| f.pick(weight))
                .find(|&id| self.face_has(id, ch))
            {
                return Some(id);
            }
        }
        self.scan_for(ch, weight)
    }

    /// The bold (or regular) sibling of `id`'s family when it exists.
    fn with_weight(&self, id: FaceId, weight: Weight) -> FaceId {
        let Some(entry) = self.faces.get(id.0 as usize) else {
            return id;
        };
        self.families
            .get(&entry.family.to_lowercase())
            .map_or(id, |fam| fam.pick(weight))
    }

    /// Last resort: scan every installed face for `ch`, best candidates first. Faces not yet loaded are
    /// probed through fontdb's temporary mapping, so the scan does not keep every font in memory.
    fn scan_for(&self, ch: char, weight: Weight) -> Option<FaceId> {
        if let Some(hit) = self
            .scan_cache
            .read()
            .ok()
            .and_then(|c| c.get(&(ch, weight)).copied())
        {
            return hit;
        }
        let mut found = None;
        for &id in &self.scan_order {
            let entry = &self.faces[id.0 as usize];
            let has = match entry.loaded.get() {
                Some(loaded) => loaded.as_ref().is_some_and(|f| f.has_char(ch)),
                None => self
                    .db
                    .with_face_data(entry.db_id, |data, index| {
                        ttf_parser::Face::parse(data, index)
                            .ok()
                            .and_then(|f| f.glyph_index(ch))
                            .is_some_and(|g| g.0 != 0)
                    })
                    .unwrap_or(false),
            };
            if has {
                let sibling = self.with_weight(id, weight);
                let pick = if sibling != id && self.face_has(sibling, ch) {
                    sibling
                } else {
                    id
                };
                // face_has also reads the file for good; a face that fails to load is skipped.
                if self.face_has(pick, ch) {
                    found = Some(pick);
                    break;
                }
            }
        }
        if let Ok(mut cache) = self.scan_cache.write() {
            cache.insert((ch, weight), found);
        }
        found
    }
}

fn source_path(source: &fontdb::Source) -> Option<PathBuf> {
    match source {
        fontdb::Source::File(path) => Some(path.clone()),
        fontdb::Source::SharedFile(path, _) => Some(path.clone()),
        fontdb::Source::Binary(_) => None,
    }
}

/// For every family name: the upright face closest to weight 400 and the closest to 700 (if ≥ 600).
/// Normal width wins over condensed; configured faces win over system ones (they come first).
fn group_families(db: &fontdb::Database, faces: &[FaceEntry]) -> HashMap<String, FamilyFaces> {
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, face) in faces.iter().enumerate() {
        if !face.upright {
            continue;
        }
        let Some(info) = db.face(face.db_id) else {
            continue;
        };
        let mut names: Vec<String> = info
            .families
            .iter()
            .map(|(n, _)| n.to_lowercase())
            .collect();
        names.dedup();
        for name in names {
            by_name.entry(name).or_default().push(i);
        }
    }
    let mut out = HashMap::new();
    for (name, members) in by_name {
        let best = |want: u16, accept: &dyn Fn(u16) -> bool| -> Option<usize> {
            members
                .iter()
                .copied()
                .filter(|&i| accept(faces[i].weight))
                .min_by_key(|&i| (!faces[i].normal_width, faces[i].weight.abs_diff(want), i))
        };
        let Some(regular) = best(400, &|w| w < 600).or_else(|| best(400, &|_| true)) else {
            continue;
        };
        let bold = best(700, &|w| w >= 600).filter(|&b| b != regular);
        out.insert(
            name,
            FamilyFaces {
                regular: FaceId(regular as u32),
                bold: bold.map(|b| FaceId(b as u32)),
            },
        );
    }
    out
}
