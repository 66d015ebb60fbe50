//! Printers: what each model speaks and how to set it up, and what state it is in.
//!
//! * [`profile`] loads printer profiles (`drivers/*.toml`, built in; more from a directory), validates them
//!   with line numbers, and finds the profile for a name, a USB vendor:product id or an IEEE 1284 device id.
//! * [`status`] asks a printer for its status in its own language and reads the answer.

pub mod profile;
pub mod status;

pub use profile::{Profile, ProfileError, Profiles};
