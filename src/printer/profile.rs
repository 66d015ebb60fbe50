//! Printer profiles: one TOML file per model in `drivers/`, built into the binary, extendable from a directory.
//!
//! A profile says what a printer speaks and how to set it up: language, resolution, print width, longest
//! label, USB ids and IEEE 1284 device id, serial defaults, media, speed, darkness and which status query it
//! answers. docs/printer-profiles.md describes every field. Errors name the file, the line and the field.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::lang::{JobSettings, Language, Media, Options, OptionsInput, StatusProtocol};

/// The profiles shipped with labeld, by name (the file stem).
pub const BUILTIN: &[(&str, &str)] = &[
    ("zebra-zd421-203", include_str!("../../drivers/zebra-zd421-203.toml")),
    ("zebra-zd421-300", include_str!("../../drivers/zebra-zd421-300.toml")),
    ("zebra-gk420d", include_str!("../../drivers/zebra-gk420d.toml")),
    ("zebra-lp2844", include_str!("../../drivers/zebra-lp2844.toml")),
    ("zebra-zq520", include_str!("../../drivers/zebra-zq520.toml")),
    ("tsc-te200", include_str!("../../drivers/tsc-te200.toml")),
    ("xprinter-xp420b", include_str!("../../drivers/xprinter-xp420b.toml")),
    ("idprt-sp410", include_str!("../../drivers/idprt-sp410.toml")),
    ("rollo", include_str!("../../drivers/rollo.toml")),
    ("munbyn-itpp941", include_str!("../../drivers/munbyn-itpp941.toml")),
    ("escpos-80mm", include_str!("../../drivers/escpos-80mm.toml")),
];

/// Serial flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowControl {
    None,
    /// RTS/CTS.
    Hardware,
    /// XON/XOFF.
    Software,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Serial {
    pub baud: u32,
    pub flow_control: FlowControl,
}

/// One printer model.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Lookup name: the file stem, e.g. `zebra-zd421-203`.
    pub name: String,
    pub model: String,
    pub language: Language,
    pub dpi: u32,
    /// Widest printable line in dots (the print head).
    pub print_width: u32,
    /// Longest label in dots.
    pub max_length: u32,
    /// (vendor, product) pairs this model enumerates as.
    pub usb_ids: Vec<(u16, u16)>,
    /// USB vendor id alone, for models whose product id varies (used with `ieee1284`).
    pub usb_vendor: Option<u16>,
    /// Glob (`*`, `?`) over the IEEE 1284 device id, e.g. `MFG:Zebra*;*MDL:ZD421*`.
    pub ieee1284: Option<String>,
    pub serial: Serial,
    pub media: Media,
    pub gap_mm: f32,
    /// The label stock normally loaded (default 100 × 150 mm): the test page's size.
    pub label_width_mm: f32,
    pub label_length_mm: f32,
    pub speed: Option<f32>,
    pub darkness: Option<u8>,
    /// The status request it answers (its language's, or none: status then comes from the link).
    pub status: Option<&'static StatusProtocol>,
    /// Its language's own settings, from `[options]`.
    pub options: Options,
}

/// A profile that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("{origin}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid { origin: String, line: Option<usize>, message: String },
    #[error(
        "no printer profile named {name:?}; built-in profiles: {known}. To add a printer, write a TOML profile \
         (see docs/printer-profiles.md) and pass its path, or put it in a profile directory"
    )]
    Unknown { name: String, known: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    model: Spanned<String>,
    language: Spanned<String>,
    dpi: Spanned<u32>,
    print_width_dots: Spanned<u32>,
    max_length_dots: Spanned<u32>,
    status_query: Spanned<String>,
    #[serde(default)]
    usb: RawUsb,
    #[serde(default)]
    serial: RawSerial,
    #[serde(default)]
    media: RawMedia,
    /// Read by the language's own `options` reader.
    #[serde(default)]
    #[allow(dead_code)]
    options: toml::Table,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawUsb {
    #[serde(default)]
    ids: Vec<Spanned<[u32; 2]>>,
    vendor_id: Option<Spanned<u32>>,
    ieee1284: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSerial {
    baud: Option<Spanned<u32>>,
    flow_control: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMedia {
    kind: Option<Spanned<String>>,
    gap_mm: Option<Spanned<f32>>,
    width_mm: Option<Spanned<f32>>,
    length_mm: Option<Spanned<f32>>,
    speed: Option<Spanned<f32>>,
    darkness: Option<Spanned<i64>>,
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

impl Profile {
    /// Parses and validates a profile. `name` is its lookup name, `origin` the file for messages.
    pub fn parse(name: &str, text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let err = |span: Option<std::ops::Range<usize>>, message: String| ProfileError::Invalid {
            origin: origin.to_string(),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| err(e.span(), e.message().to_string()))?;
        let at = |s: std::ops::Range<usize>, m: String| err(Some(s), m);

        let language: Language = raw.language.get_ref().parse().map_err(|m| at(raw.language.span(), format!("language: {m}")))?;
        let dpi = *raw.dpi.get_ref();
        if !(100..=600).contains(&dpi) {
            return Err(at(raw.dpi.span(), format!("dpi: {dpi} is not a thermal printer resolution (100–600)")));
        }
        let print_width = *raw.print_width_dots.get_ref();
        if print_width == 0 || print_width > crate::lang::limits::MAX_WIDTH {
            return Err(at(raw.print_width_dots.span(), format!("print_width_dots: must be 1–{}, got {print_width}", crate::lang::limits::MAX_WIDTH)));
        }
        let max_length = *raw.max_length_dots.get_ref();
        if max_length == 0 || max_length > crate::lang::limits::MAX_HEIGHT {
            return Err(at(raw.max_length_dots.span(), format!("max_length_dots: must be 1–{}, got {max_length}", crate::lang::limits::MAX_HEIGHT)));
        }
        if raw.model.get_ref().trim().is_empty() {
            return Err(at(raw.model.span(), "model: must not be empty".into()));
        }
        let status = match raw.status_query.get_ref().as_str() {
            "none" => None,
            name => match language.status() {
                Some(p) if p.name == name => Some(p),
                Some(p) => return Err(at(raw.status_query.span(), format!("status_query: a {language} printer answers {:?} or \"none\", not {name:?}", p.name))),
                None => return Err(at(raw.status_query.span(), format!("status_query: labeld reads no status answer of a {language} printer; use \"none\" (status then comes from the link)"))),
            },
        };

        let mut usb_ids = Vec::new();
        for id in &raw.usb.ids {
            let [v, p] = *id.get_ref();
            if v > 0xFFFF || p > 0xFFFF || v == 0 {
                return Err(at(id.span(), format!("usb.ids: [{v:#06x}, {p:#06x}] is not a 16-bit vendor and product id")));
            }
            usb_ids.push((v as u16, p as u16));
        }
        let usb_vendor = match &raw.usb.vendor_id {
            Some(v) if *v.get_ref() == 0 || *v.get_ref() > 0xFFFF => return Err(at(v.span(), "usb.vendor_id: must be a 16-bit id such as 0x0a5f".into())),
            Some(v) => Some(*v.get_ref() as u16),
            None => None,
        };
        let ieee1284 = match &raw.usb.ieee1284 {
            Some(p) if !p.get_ref().contains(':') => return Err(at(p.span(), "usb.ieee1284: a device-id pattern looks like \"MFG:Zebra*;*MDL:ZD421*\"".into())),
            Some(p) => Some(p.get_ref().clone()),
            None => None,
        };

        let baud = match &raw.serial.baud {
            Some(b) if ![1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400].contains(b.get_ref()) => {
                return Err(at(b.span(), format!("serial.baud: {} is not a standard rate (1200–230400)", b.get_ref())));
            }
            Some(b) => *b.get_ref(),
            None => 9600,
        };
        let flow_control = match &raw.serial.flow_control {
            None => FlowControl::Hardware,
            Some(f) => match f.get_ref().as_str() {
                "none" => FlowControl::None,
                "hardware" => FlowControl::Hardware,
                "software" => FlowControl::Software,
                other => return Err(at(f.span(), format!("serial.flow_control: {other:?} is not one of none, hardware, software"))),
            },
        };

        let media = match &raw.media.kind {
            None => Media::Gap,
            Some(k) => k.get_ref().parse().map_err(|m| at(k.span(), format!("media.kind: {m}")))?,
        };
        let gap_mm = match &raw.media.gap_mm {
            Some(g) if !(0.0..=25.4).contains(g.get_ref()) => return Err(at(g.span(), format!("media.gap_mm: {} is outside 0–25.4 mm", g.get_ref()))),
            Some(g) => *g.get_ref(),
            None => 3.0,
        };
        let size = |v: &Option<Spanned<f32>>, name: &str, default: f32| match v {
            Some(m) if !(10.0..=2000.0).contains(m.get_ref()) => Err(at(m.span(), format!("media.{name}: {} mm is not a label size (10–2000 mm)", m.get_ref()))),
            Some(m) => Ok(*m.get_ref()),
            None => Ok(default),
        };
        let label_width_mm = size(&raw.media.width_mm, "width_mm", 100.0)?;
        let label_length_mm = size(&raw.media.length_mm, "length_mm", 150.0)?;
        let ranges = language.dialect().ranges;
        let darkness = match (&raw.media.darkness, ranges.darkness) {
            (Some(d), None) => return Err(at(d.span(), format!("media.darkness: {language} has no darkness command; remove it"))),
            (Some(d), Some(r)) if !(r.min as i64..=r.max as i64).contains(d.get_ref()) => {
                return Err(at(d.span(), format!("media.darkness: {language} darkness ({}) is {}–{}, got {}", r.command, r.min, r.max, d.get_ref())));
            }
            (Some(d), Some(_)) => Some(*d.get_ref() as u8),
            (None, _) => None,
        };
        let speed = match (&raw.media.speed, ranges.speed) {
            (Some(s), None) => return Err(at(s.span(), format!("media.speed: {language} has no speed command; remove it"))),
            (Some(s), Some(r)) if !r.contains(*s.get_ref()) => {
                return Err(at(s.span(), format!("media.speed: {language} speed ({}) is {}–{}, got {}", r.command, r.min, r.max, s.get_ref())));
            }
            (Some(s), Some(_)) => Some(*s.get_ref()),
            (None, _) => None,
        };

        let input = OptionsInput { text, binary_safe: flow_control != FlowControl::Software };
        let options = (language.dialect().options)(&input).map_err(|e| err(e.span, e.message))?;

        Ok(Profile {
            name: name.to_string(),
            model: raw.model.into_inner(),
            language,
            dpi,
            print_width,
            max_length,
            usb_ids,
            usb_vendor,
            ieee1284,
            serial: Serial { baud, flow_control },
            media,
            gap_mm,
            label_width_mm,
            label_length_mm,
            speed,
            darkness,
            status,
            options,
        })
    }

    /// Reads a profile file; its name is the file stem.
    pub fn from_file(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Io { path: path.display().to_string(), message: e.to_string() })?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Profile::parse(&name, &text, &path.display().to_string())
    }

    /// Encoder settings for a label of `width`×`height` dots, refused when it does not fit this printer.
    pub fn job_settings(&self, width: u32, height: u32) -> Result<JobSettings, ProfileError> {
        let invalid = |message: String| ProfileError::Invalid { origin: self.name.clone(), line: None, message };
        if width > self.print_width {
            return Err(invalid(format!("the label is {width} dots wide; {} prints at most {} dots", self.model, self.print_width)));
        }
        if height > self.max_length {
            return Err(invalid(format!("the label is {height} dots long; {} prints at most {} dots", self.model, self.max_length)));
        }
        Ok(JobSettings {
            darkness: self.darkness,
            speed: self.speed,
            media: self.media,
            gap_mm: self.gap_mm,
            options: self.options.clone(),
            ..JobSettings::new(self.dpi, width, height)
        })
    }

    /// The loaded label's size in dots, cut to what the printer can print.
    pub fn label_size(&self) -> (u32, u32) {
        let d = |mm: f32| crate::document::mm_to_dots(mm, self.dpi).max(1) as u32;
        (d(self.label_width_mm).min(self.print_width), d(self.label_length_mm).min(self.max_length))
    }

    /// Whether an IEEE 1284 device id matches this profile's pattern.
    pub fn matches_device_id(&self, device_id: &str) -> bool {
        self.ieee1284.as_deref().is_some_and(|p| glob(p.as_bytes(), device_id.as_bytes()))
    }
}

/// `*` any run, `?` one character; ASCII case-insensitive (device ids vary in case between firmwares).
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&s[si])) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The built-in profiles plus any from extra directories (later ones replace earlier ones of the same name).
#[derive(Debug, Clone)]
pub struct Profiles {
    all: Vec<Profile>,
}

impl Profiles {
    /// The profiles built into labeld.
    pub fn builtin() -> Profiles {
        let all = BUILTIN
            .iter()
            .map(|(name, text)| Profile::parse(name, text, &format!("drivers/{name}.toml")).unwrap_or_else(|e| panic!("built-in profile: {e}")))
            .collect();
        Profiles { all }
    }

    /// Built-ins plus every `*.toml` in `dir`.
    pub fn with_dir(dir: &Path) -> Result<Profiles, ProfileError> {
        let mut p = Profiles::builtin();
        let entries = std::fs::read_dir(dir).map_err(|e| ProfileError::Io { path: dir.display().to_string(), message: e.to_string() })?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
        paths.sort();
        for path in paths {
            p.add(Profile::from_file(&path)?);
        }
        Ok(p)
    }

    pub fn add(&mut self, profile: Profile) {
        self.all.retain(|p| p.name != profile.name);
        self.all.push(profile);
    }

    pub fn all(&self) -> &[Profile] {
        &self.all
    }

    /// By name, or by path to a profile file.
    pub fn get(&self, name_or_path: &str) -> Result<Profile, ProfileError> {
        if let Some(p) = self.all.iter().find(|p| p.name == name_or_path) {
            return Ok(p.clone());
        }
        let path = Path::new(name_or_path);
        if name_or_path.ends_with(".toml") || path.is_file() {
            return Profile::from_file(path);
        }
        Err(ProfileError::Unknown { name: name_or_path.to_string(), known: self.all.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ") })
    }

    /// The profile for a USB device: its exact vendor:product first, then the IEEE 1284 device id.
    pub fn find_usb(&self, vendor: u16, product: u16, device_id: Option<&str>) -> Option<&Profile> {
        if let Some(p) = self.all.iter().find(|p| p.usb_ids.contains(&(vendor, product))) {
            return Some(p);
        }
        let id = device_id?;
        self.all.iter().find(|p| p.matches_device_id(id) && p.usb_vendor.is_none_or(|v| v == vendor))
    }

    /// The profile whose IEEE 1284 pattern matches a device id (serial and network printers report one too).
    pub fn find_device_id(&self, device_id: &str) -> Option<&Profile> {
        self.all.iter().find(|p| p.matches_device_id(device_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_load() {
        let p = Profiles::builtin();
        assert!(p.all().len() >= 11);
        for needed in ["zebra-zd421-203", "zebra-zd421-300", "zebra-gk420d", "zebra-lp2844", "zebra-zq520", "tsc-te200", "xprinter-xp420b", "idprt-sp410", "rollo", "munbyn-itpp941", "escpos-80mm"] {
            p.get(needed).unwrap();
        }
    }

    #[test]
    fn lookup_by_usb_and_device_id() {
        let p = Profiles::builtin();
        assert_eq!(p.find_usb(0x0a5f, 0x0080, None).unwrap().name, "zebra-gk420d");
        assert_eq!(p.find_usb(0x0a5f, 0x0009, None).unwrap().name, "zebra-lp2844");
        let zd = p.find_usb(0x0a5f, 0x1234, Some("MFG:Zebra Technologies;CMD:ZPL;MDL:ZTC ZD421-203dpi ZPL;CLS:PRINTER;")).unwrap();
        assert_eq!(zd.name, "zebra-zd421-203");
        assert!(p.find_usb(0x1111, 0x2222, Some("MFG:Nobody;MDL:Thing;")).is_none());
    }

    #[test]
    fn unknown_printer_says_how_to_add_one() {
        let e = Profiles::builtin().get("acme-9000").unwrap_err().to_string();
        assert!(e.contains("docs/printer-profiles.md") && e.contains("zebra-zd421-203"), "{e}");
    }

    #[test]
    fn errors_carry_the_line_and_field() {
        let text = "model = \"X\"\nlanguage = \"zpl\"\ndpi = 203\nprint_width_dots = 832\nmax_length_dots = 8000\nstatus_query = \"zpl-hs\"\n[media]\ndarkness = 31\n";
        let e = Profile::parse("x", text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:8:") && e.contains("media.darkness"), "{e}");
        let e = Profile::parse("x", &text.replace("dpi = 203", "dpi = 203\ncolour = 1"), "x.toml").unwrap_err().to_string();
        assert!(e.contains("x.toml:4") && e.contains("colour"), "{e}");
    }

    #[test]
    fn zpl_sends_png_objects_unless_the_link_is_xon_xoff() {
        use crate::lang::zpl::{Encoding, ZplOptions};
        let base = "model = \"X\"\nlanguage = \"zpl\"\ndpi = 203\nprint_width_dots = 832\nmax_length_dots = 8000\nstatus_query = \"zpl-hs\"\n";
        let encoding = |extra: &str| Profile::parse("x", &format!("{base}{extra}"), "x.toml").map(|p| p.options.get::<ZplOptions>().encoding);
        assert_eq!(encoding("").unwrap(), Encoding::Png);
        assert_eq!(encoding("[serial]\nflow_control = \"software\"\n").unwrap(), Encoding::Z64);
        assert_eq!(encoding("[options]\nzpl_compression = \"acs\"\n").unwrap(), Encoding::Acs);
        let e = encoding("[serial]\nflow_control = \"software\"\n[options]\nzpl_compression = \"png\"\n").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:10:") && e.contains("XON/XOFF"), "{e}");
    }

    #[test]
    fn options_and_ranges_come_from_the_language() {
        let base = "model = \"X\"\nlanguage = \"tspl\"\ndpi = 203\nprint_width_dots = 832\nmax_length_dots = 8000\nstatus_query = \"tspl-esc\"\n";
        let p = Profile::parse("x", &format!("{base}[options]\ntspl_direction = 0\n"), "x.toml").unwrap();
        assert_eq!(p.options.get::<crate::lang::tspl::TsplOptions>().direction, 0);
        assert_eq!(p.status, crate::lang::Language::Tspl.status());
        let e = Profile::parse("x", &format!("{base}[options]\nzpl_compression = \"acs\"\n"), "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml:8:") && e.contains("zpl_compression"), "{e}");
        let e = Profile::parse("x", &format!("{base}[media]\ndarkness = 16\n"), "x.toml").unwrap_err().to_string();
        assert!(e.contains("DENSITY") && e.contains("0–15"), "{e}");
        let e = Profile::parse("x", &base.replace("tspl-esc", "zpl-hs"), "x.toml").unwrap_err().to_string();
        assert!(e.contains("x.toml:6:") && e.contains("tspl-esc"), "{e}");
    }

    #[test]
    fn glob_matches_device_ids() {
        assert!(glob(b"MFG:Zebra*;*MDL:ZD421*", b"MFG:Zebra Technologies;CMD:ZPL;MDL:ZD421-300dpi;"));
        assert!(!glob(b"MFG:Zebra*;*MDL:ZD421*", b"MFG:Zebra Technologies;MDL:GK420d;"));
        assert!(glob(b"*mdl:rollo*", b"MFG:Rollo;MDL:Rollo Printer X1040;"));
    }
}
