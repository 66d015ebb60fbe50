//! The warehouse registry: a label's sender must be a registered warehouse, or the label forges one.
//!
//! The registry is TOML, one table per warehouse id (the shape of `shared/fixtures/warehouses.toml`):
//!
//! ```toml
//! [warehouse."WH-KUL-01"]
//! name = "Acme Home MY"
//! phone = "+60 3-7890 1234"
//! lines = ["Lot 7, Jalan Pengapit 15/19", "Seksyen 15"]
//! city = "Shah Alam"
//! region = "Selangor"
//! postal_code = "40200"
//! country = "MY"
//! ```
//!
//! Every field the registry holds must be on the sender and match: phones compare in E.164, addresses after
//! folding case, spacing and punctuation (and how the address is split into lines). A different street,
//! name, city or phone, or a registered field left out, is not the warehouse.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::order::Party;

/// One registered warehouse.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warehouse {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    pub lines: Vec<String>,
    #[serde(default)]
    pub district: Option<String>,
    pub city: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub postal_code: String,
    pub country: String,
}

/// All registered warehouses, by id.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    #[serde(default, rename = "warehouse")]
    pub warehouses: BTreeMap<String, Warehouse>,
}

impl Registry {
    /// The registry a config holds (`[warehouses]`, inline or from its file).
    pub fn of(warehouses: &BTreeMap<String, crate::config::Warehouse>) -> Registry {
        let warehouses = warehouses
            .iter()
            .map(|(id, w)| {
                let w = w.clone();
                let entry = Warehouse {
                    name: w.name,
                    phone: w.phone,
                    lines: w.lines,
                    district: w.district,
                    city: w.city,
                    region: w.region,
                    postal_code: w.postal_code,
                    country: w.country,
                };
                (id.clone(), entry)
            })
            .collect();
        Registry { warehouses }
    }
}

/// Why the registry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Toml { path: String, message: String },
}

/// A sender field that does not match the registry: the field path and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub message: String,
}

impl Registry {
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Registry, RegistryError> {
        toml::from_str(text).map_err(|e| RegistryError::Toml { path: origin.to_string(), message: e.to_string() })
    }

    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Io { path: path.display().to_string(), source })?;
        Registry::from_toml_str(&text, &path.display().to_string())
    }

    /// Every sender field that contradicts the registry. Empty when the sender is a registered warehouse.
    pub fn check_sender(&self, sender: &Party) -> Vec<Mismatch> {
        match &sender.warehouse_id {
            Some(id) => match self.warehouses.get(id) {
                Some(w) => differences(id, w, sender),
                None => vec![Mismatch {
                    path: "sender.warehouse_id".into(),
                    message: "this warehouse id is not registered; the sender must be a registered warehouse".into(),
                }],
            },
            None => {
                if self.warehouses.iter().any(|(id, w)| differences(id, w, sender).is_empty()) {
                    Vec::new()
                } else {
                    vec![Mismatch {
                        path: "sender.name".into(),
                        message: "the sender matches no registered warehouse (and names no warehouse id)".into(),
                    }]
                }
            }
        }
    }
}

fn differences(id: &str, w: &Warehouse, s: &Party) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut differ = |path: &str, message: String| out.push(Mismatch { path: format!("sender.{path}"), message });
    let differs = |what: &str| format!("the sender's {what} differs from registered warehouse {id}");
    let missing = |what: &str| format!("the sender gives no {what}, but registered warehouse {id} has one; every registered field must be on the label");
    if fold(&s.name) != fold(&w.name) {
        differ("name", differs("name"));
    }
    // Every field the registry holds must be there and match: leaving one out is how a forged sender passes.
    match (&s.phone, &w.phone) {
        (None, Some(_)) => differ("phone", missing("phone")),
        (Some(_), None) => differ("phone", format!("registered warehouse {id} has no phone; the sender's phone is not registered")),
        (Some(a), Some(b)) if e164(a, &s.address.country) != e164(b, &w.country) || e164(a, &s.address.country).is_none() => {
            differ("phone", differs("phone"))
        }
        _ => {}
    }
    let a = &s.address;
    if fold(&a.lines.join(" ")) != fold(&w.lines.join(" ")) {
        differ("address.lines[0]", differs("street address"));
    }
    match (&a.district, &w.district) {
        (None, Some(_)) => differ("address.district", missing("district")),
        (Some(x), y) if Some(fold(x)) != y.as_deref().map(fold) => differ("address.district", differs("district")),
        _ => {}
    }
    if fold(&a.city) != fold(&w.city) {
        differ("address.city", differs("city"));
    }
    if fold(&a.region) != fold(&w.region) {
        differ("address.region", differs("region"));
    }
    if fold(&a.postal_code) != fold(&w.postal_code) {
        differ("address.postal_code", differs("postal code"));
    }
    if a.country.trim().to_ascii_uppercase() != w.country.trim().to_ascii_uppercase() {
        differ("address.country", differs("country"));
    }
    out
}

/// A phone number in E.164 (`+60378901234`), read in the address's country when it has no country code;
/// `None` when it is not a phone number at all.
fn e164(phone: &str, country: &str) -> Option<String> {
    let region = country.trim().to_ascii_uppercase().parse::<phonenumber::country::Id>().ok();
    let number = phonenumber::parse(region, phone).ok()?;
    Some(phonenumber::format(&number).mode(phonenumber::Mode::E164).to_string())
}

/// Case, spacing and punctuation are not part of an address's identity.
fn fold(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}
