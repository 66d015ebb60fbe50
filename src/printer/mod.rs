//! Printers: what each model speaks and how to set it up.
//!
//! * [`profile`] loads printer profiles (`drivers/*.toml`, built in; more from a directory), validates them
//!   with line numbers, and finds the profile for a name, a USB vendor:product id or an IEEE 1284 device id.

pub mod profile;

pub use profile::{Profile, ProfileError, Profiles};
