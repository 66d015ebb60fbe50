//! How long the reference label (examples/order.json) takes on a printer's link, for `labeld doctor`
//! and `labeld printers`: a serial printer at its factory 9600 baud needs 16 s for a ZPL label and two
//! minutes for a TSPL one, which a warehouse should hear about before the first batch, not from it.

use labeld::comply::{Checker, NoSpool};
use labeld::compose::{Content, Gate, Target};
use labeld::lang;
use labeld::order::Order;
use labeld::printer::profile::Profile;
use labeld::template::{self, Template};
use labeld::text::Fonts;
use labeld::transport::speed::LinkSpeed;

/// Above this, a reference label is too slow for a packing station (one label every few seconds).
pub const WARN_SECONDS: f64 = 5.0;

/// Standard rates a printer's serial port offers, slowest first.
const BAUD_RATES: [u32; 4] = [19_200, 38_400, 57_600, 115_200];

/// The reference label's size in `profile`'s language at its dpi.
pub fn reference_bytes(profile: &Profile, fonts: &Fonts) -> anyhow::Result<usize> {
    let order = Order::from_json_bytes(include_bytes!("../../examples/order.json"))?;
    let gate = Gate::new(Checker::new(None), Template::load(template::DEFAULT)?)
        .map_err(|report| anyhow::anyhow!("the default template breaks the label rules: {}", report.summary()))?;
    let content = Content::Label { order: &order, seen: &NoSpool, printed_at: time::OffsetDateTime::UNIX_EPOCH };
    Ok(gate.printer_bytes(content, &Target::profile(profile, profile.language)?, fonts)?.bytes.len())
}

/// A warning and its fix when `bytes` take longer than [`WARN_SECONDS`] at `speed`; `None` when fast enough.
pub fn warning(what: &str, profile: &Profile, bytes: usize, speed: LinkSpeed) -> Option<(String, String)> {
    let seconds = speed.time_for(bytes).as_secs_f64();
    if seconds <= WARN_SECONDS {
        return None;
    }
    let message = format!("{what}: the reference label ({bytes} bytes of {}) takes {seconds:.1} s at {speed}", profile.language);
    let fix = match speed.baud {
        Some(baud) => match BAUD_RATES.into_iter().find(|&b| b > baud && LinkSpeed::serial(b).time_for(bytes).as_secs_f64() <= WARN_SECONDS) {
            Some(target) => format!(
                "set the printer's serial port to {target} baud ({}), then put ?baud={target} in its uri; at {target} baud it takes {:.1} s",
                how_to_set_baud(profile),
                LinkSpeed::serial(target).time_for(bytes).as_secs_f64()
            ),
            None => format!(
                "even at 115200 baud it takes {:.1} s: set the printer's serial port to 115200 baud ({}) and ?baud=115200 in its uri, \
                 or connect it over USB or the network; labels over max_label_seconds are held as link_too_slow",
                LinkSpeed::serial(115_200).time_for(bytes).as_secs_f64(),
                how_to_set_baud(profile)
            ),
        },
        None => "set link_bytes_per_second to the link's measured speed, or use a faster link".to_string(),
    };
    Some((message, fix))
}

fn how_to_set_baud(profile: &Profile) -> &'static str {
    if profile.language == lang::Language::Zpl { "ZPL ^SC command or the printer's setup menu" } else { "the printer's setup utility or menu" }
}
