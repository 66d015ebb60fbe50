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
//! Matching forgives case, spacing and punctuation, and how the address is split into lines; it does not
//! forgive a different street, name, city or phone.

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
    let mut differ = |path: &str, what: &str| {
        out.push(Mismatch { path: format!("sender.{path}"), message: format!("the sender's {what} differs from registered warehouse {id}") })
    };
    if fold(&s.name) != fold(&w.name) {
        differ("name", "name");
    }
    if let (Some(a), Some(b)) = (&s.phone, &w.phone)
        && digits(a) != digits(b)
    {
        differ("phone", "phone");
    }
    let a = &s.address;
    if fold(&a.lines.join(" ")) != fold(&w.lines.join(" ")) {
        differ("address.lines[0]", "street address");
    }
    if a.district.as_deref().map(fold) != w.district.as_deref().map(fold) && a.district.is_some() {
        differ("address.district", "district");
    }
    if fold(&a.city) != fold(&w.city) {
        differ("address.city", "city");
    }
    if fold(&a.region) != fold(&w.region) {
        differ("address.region", "region");
    }
    if fold(&a.postal_code) != fold(&w.postal_code) {
        differ("address.postal_code", "postal code");
    }
    if a.country != w.country {
        differ("address.country", "country");
    }
    out
}

/// Case, spacing and punctuation are not part of an address's identity.
fn fold(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}
