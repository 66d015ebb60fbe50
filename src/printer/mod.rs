//! Printers: profiles, status.

pub mod status;
