//! What the installed system needs from the code: the udev rules generated from the printer profiles
//! (so `packaging/60-labeld.rules` cannot drift from `drivers/`), and systemd readiness notification.
//!
//! Notification is the sd_notify datagram protocol written directly (one `sendto` on `$NOTIFY_SOCKET`);
//! outside systemd the variable is unset and the calls do nothing.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::printer::Profiles;

/// The group that owns the printers' USB device nodes; the `labeld` service user is a member.
pub const PRINTER_GROUP: &str = "lp";

/// The udev rules file for the given profiles: exact VID:PID rules, vendor rules restricted to devices
/// with a printer-class interface, and one rule for any printer-class device (profiles matched only by
/// their IEEE 1284 id need it). Deterministic: sorted, no timestamps.
pub fn udev_rules(profiles: &Profiles) -> String {
    let mut exact: BTreeSet<(u16, u16, String)> = BTreeSet::new();
    let mut vendors: BTreeSet<(u16, String)> = BTreeSet::new();
    let mut by_device_id: BTreeSet<String> = BTreeSet::new();
    for p in profiles.all() {
        for &(vid, pid) in &p.usb_ids {
            exact.insert((vid, pid, p.name.clone()));
        }
        if let Some(vid) = p.usb_vendor {
            vendors.insert((vid, p.name.clone()));
        }
        if p.usb_ids.is_empty() && p.usb_vendor.is_none() {
            by_device_id.insert(p.name.clone());
        }
    }

    let mut out = String::new();
    out.push_str(
        "# 60-labeld.rules: give the lp group read/write access to the USB label printers labeld drives.\n\
         # GENERATED from drivers/*.toml by labeld::packaging_support::udev_rules; do not edit by hand.\n\
         # Regenerate: LABELD_BLESS=1 cargo test --test it packaging::udev_rules_match_drivers\n\
         #\n\
         # Serial printers need no rule: /dev/ttyUSB* and /dev/ttyACM* already belong to the dialout group.\n\
         # The service user labeld is in lp and dialout (see labeld.service, postinst).\n\n\
         ACTION==\"remove\", GOTO=\"labeld_end\"\n\
         SUBSYSTEM!=\"usb\", GOTO=\"labeld_end\"\n\
         ENV{DEVTYPE}!=\"usb_device\", GOTO=\"labeld_end\"\n\
         # ID_USB_INTERFACES (which interface classes a device has); 50-udev-default.rules imports it too.\n\
         IMPORT{builtin}=\"usb_id\"\n\n",
    );

    out.push_str("# Exact vendor:product ids from the profiles.\n");
    for (vid, pid, name) in &exact {
        // udev has no trailing comments: the profile goes on the line above.
        let _ = writeln!(out, "# {name}");
        let _ = writeln!(out, "ATTR{{idVendor}}==\"{vid:04x}\", ATTR{{idProduct}}==\"{pid:04x}\", MODE=\"0660\", GROUP=\"{PRINTER_GROUP}\"");
    }

    out.push_str("\n# Vendors whose product ids are not known: any of their devices with a printer interface (class 07).\n");
    let mut seen_vendor = BTreeSet::new();
    for (vid, _) in &vendors {
        if !seen_vendor.insert(*vid) {
            continue;
        }
        let names: Vec<&str> = vendors.iter().filter(|(v, _)| v == vid).map(|(_, n)| n.as_str()).collect();
        let _ = writeln!(out, "# {}", names.join(", "));
        let _ = writeln!(out, "ATTR{{idVendor}}==\"{vid:04x}\", ENV{{ID_USB_INTERFACES}}==\"*:0701??:*\", MODE=\"0660\", GROUP=\"{PRINTER_GROUP}\"");
    }

    out.push_str("\n# Profiles matched only by their IEEE 1284 device id (vendor ids unknown): any printer-class device.\n");
    let _ = writeln!(out, "# {}", by_device_id.iter().map(String::as_str).collect::<Vec<_>>().join(", "));
    let _ = writeln!(out, "ENV{{ID_USB_INTERFACES}}==\"*:0701??:*\", MODE=\"0660\", GROUP=\"{PRINTER_GROUP}\"");
    out.push_str("\nLABEL=\"labeld_end\"\n");
    out
}

/// Tell systemd the service is ready (Type=notify). A no-op outside systemd. Call once the HTTP
/// listener is bound and the spool is open.
pub fn notify_ready() {
    notify("READY=1\nSTATUS=serving");
}

/// Tell systemd the service is shutting down (before draining jobs), so `systemctl` shows it.
pub fn notify_stopping() {
    notify("STOPPING=1\nSTATUS=stopping: finishing jobs in progress");
}

/// Send one sd_notify message; errors are ignored because a missing notification only delays systemd's
/// view of the service, it never affects printing. Returns whether a datagram was sent.
pub fn notify(state: &str) -> bool {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else { return false };
    send_notify(&socket, state).is_ok()
}

#[cfg(target_os = "linux")]
fn send_notify(socket: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};

    let bytes = socket.as_bytes();
    // A leading '@' names a socket in the abstract namespace (sd_notify(3)).
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(std::path::Path::new(socket))?,
    };
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn send_notify(_socket: &std::ffi::OsStr, _state: &str) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "sd_notify exists only on Linux"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udev_rules_cover_every_profile_id() {
        let profiles = Profiles::builtin();
        let rules = udev_rules(&profiles);
        for p in profiles.all() {
            for &(vid, pid) in &p.usb_ids {
                assert!(rules.contains(&format!("ATTR{{idVendor}}==\"{vid:04x}\", ATTR{{idProduct}}==\"{pid:04x}\"")), "{}", p.name);
            }
            if let Some(vid) = p.usb_vendor {
                assert!(rules.contains(&format!("ATTR{{idVendor}}==\"{vid:04x}\", ENV{{ID_USB_INTERFACES}}")), "{}", p.name);
            }
            assert!(rules.contains(&p.name), "{} not named in the rules", p.name);
        }
        assert_eq!(rules, udev_rules(&profiles), "generation is deterministic");
    }

    #[test]
    fn notify_reaches_a_listening_socket() {
        use std::os::unix::net::UnixDatagram;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        send_notify(path.as_os_str(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }
}
