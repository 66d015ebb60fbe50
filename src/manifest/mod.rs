//! Carrier handover manifests (交接单): the sheet a driver signs when the parcels change hands.
//!
//! For a carrier and handover mode (pick up or drop off), over a time window or a shipping batch, a
//! manifest lists every parcel whose label printed and was not cancelled: its tracking number as
//! text and as a Code 128 (so a scanner can tick it off), the order id, package n/m and weight, then
//! totals and lines for the driver's name, signature and time. [`page`] lays it out on A4, Letter or
//! 100×150 mm pages; the usual painters and printer languages draw them.
//!
//! A manifest knows nothing about buyers: it is built from [`HandoverParcel`]s, which the spool reads
//! from the columns it keeps beside a label's content, never from the order itself.

pub mod page;

use std::collections::BTreeSet;

use time::OffsetDateTime;

use crate::order::Handover;
use crate::spool::{HandoverParcel, HandoverScope, Spool, SpoolError};
use crate::text::Fonts;
pub use page::Paper;

/// Everything printed on a manifest: one section per carrier, each on its own pages with its own
/// totals and signature lines (each driver signs for his own parcels).
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub handover: Handover,
    pub scope: HandoverScope,
    pub generated_at: OffsetDateTime,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The carrier as its orders name it (as asked for, when it has no parcel).
    pub carrier: String,
    /// In print order.
    pub parcels: Vec<HandoverParcel>,
    pub totals: Totals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub parcels: u32,
    /// Distinct order ids (an order may ship in several packages).
    pub orders: u32,
    /// Summed over the parcels whose weight is known.
    pub weight_g: u64,
    pub without_weight: u32,
}

impl Totals {
    pub fn of(parcels: &[HandoverParcel]) -> Totals {
        let orders: BTreeSet<&str> = parcels.iter().map(|p| p.order_id.as_str()).collect();
        Totals {
            parcels: parcels.len() as u32,
            orders: orders.len() as u32,
            weight_g: parcels.iter().filter_map(|p| p.weight_g).map(u64::from).sum(),
            without_weight: parcels.iter().filter(|p| p.weight_g.is_none()).count() as u32,
        }
    }
}

impl Manifest {
    /// Reads the parcels of each carrier from the spool. Carriers are listed in the order given,
    /// each once.
    pub fn from_spool(spool: &Spool, carriers: &[String], handover: Handover, scope: HandoverScope, now: OffsetDateTime) -> Result<Manifest, SpoolError> {
        let mut sections = Vec::new();
        let mut seen = BTreeSet::new();
        for carrier in carriers {
            let carrier = carrier.trim();
            if !seen.insert(carrier.to_ascii_lowercase()) {
                continue;
            }
            let parcels = spool.handover_parcels(carrier, handover, &scope)?;
            // Spelled as the orders spell it, when there are any.
            let carrier = parcels.first().map_or(carrier, |p| p.carrier.as_str()).to_string();
            sections.push(Section { carrier, totals: Totals::of(&parcels), parcels });
        }
        Ok(Manifest { handover, scope, generated_at: now, sections })
    }
}

/// Why a manifest cannot be drawn. Names the parcel (tracking number, order id), never more.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot lay out the manifest [{rule}]: {0}", rule = .0.rule())]
    Layout(#[from] crate::layout::LayoutError),
    #[error("manifest PDF: {0}")]
    Pdf(#[from] crate::render::pdf::PdfError),
}

/// The manifest as one PDF on `paper` (A4 or Letter; 100×150 works too).
pub fn pdf(manifest: &Manifest, paper: Paper, fonts: &Fonts) -> Result<Vec<u8>, ManifestError> {
    let pages = page::pages(manifest, paper, paper.default_dpi(), fonts)?;
    let refs: Vec<&_> = pages.iter().collect();
    let carriers: Vec<&str> = manifest.sections.iter().map(|s| s.carrier.as_str()).collect();
    Ok(crate::render::pdf::paint(&refs, fonts, &format!("Handover manifest {} {}", carriers.join(", "), manifest.handover.label_text()))?)
}

/// The manifest as 1-bit PNG pages on `paper` at `dpi`.
pub fn png_pages(manifest: &Manifest, paper: Paper, dpi: u32, fonts: &Fonts) -> Result<Vec<Vec<u8>>, ManifestError> {
    let pages = page::pages(manifest, paper, dpi, fonts)?;
    Ok(pages.iter().map(|d| crate::render::png::encode(&crate::render::raster::paint(d, fonts), dpi)).collect())
}

/// "0.45 kg": grams as kilograms with two decimals.
pub fn kilograms(grams: u64) -> String {
    let centi = (grams + 5) / 10;
    format!("{}.{:02} kg", centi / 100, centi % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parcel(tracking: &str, order: &str, weight: Option<u32>) -> HandoverParcel {
        HandoverParcel {
            tracking_number: tracking.into(),
            order_id: order.into(),
            carrier: "J&T Express".into(),
            package_index: 1,
            package_count: 2,
            weight_g: weight,
            printed_at: time::macros::datetime!(2026-12-06 09:00 UTC),
            handed_over_at: None,
        }
    }

    #[test]
    fn totals_count_orders_once_and_weights_known() {
        let t = Totals::of(&[parcel("A", "1", Some(450)), parcel("B", "1", Some(5200)), parcel("C", "2", None)]);
        assert_eq!(t, Totals { parcels: 3, orders: 2, weight_g: 5650, without_weight: 1 });
        assert_eq!(kilograms(5650), "5.65 kg");
        assert_eq!(kilograms(454), "0.45 kg");
        assert_eq!(kilograms(455), "0.46 kg");
        assert_eq!(kilograms(0), "0.00 kg");
    }
}
