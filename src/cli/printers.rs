//! `labeld printers`: the USB printers (interface class 7) and serial ports on this machine, with the
//! profile each matches and its status.

use std::process::ExitCode;

use labeld::printer::{Profiles, status};
use labeld::transport::usb::{self, PortStatus, UsbPrinterInfo};

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    println!("USB printers:");
    if !std::path::Path::new("/dev/bus/usb").exists() {
        println!("  none found (this machine has no USB bus: /dev/bus/usb does not exist)");
    } else {
        list_usb();
    }
    list_serial();
    list_slow_profiles();
    Ok(ExitCode::SUCCESS)
}

/// Profiles whose factory baud rate makes the reference label take more than a few seconds on a serial link.
fn list_slow_profiles() {
    println!("Serial speed at each profile's default baud rate:");
    let Ok(fonts) = labeld::text::Fonts::load(&labeld::text::FontConfig::default()) else {
        println!("  cannot load fonts to size the reference label");
        return;
    };
    for profile in Profiles::builtin().all() {
        let speed = labeld::transport::speed::LinkSpeed::serial(profile.serial.baud);
        match super::link_speed::reference_bytes(profile, &fonts) {
            Ok(bytes) => match super::link_speed::warning(&profile.name, profile, bytes, speed) {
                Some((message, fix)) => println!("  warning: {message}\n    fix: {fix}"),
                None => println!("  {}: the reference label takes {:.1} s at {speed}", profile.name, speed.time_for(bytes).as_secs_f64()),
            },
            Err(e) => println!("  {}: cannot size the reference label: {e}", profile.name),
        }
    }
}

fn list_usb() {
    match usb::list_printers() {
        Ok(list) if list.is_empty() => println!("  none found (no USB device with a printer interface is connected)"),
        Ok(list) => {
            for p in &list {
                print_usb(p);
            }
        }
        Err(e) => println!("  none found: libusb could not scan the bus ({e}); check that this user may read /dev/bus/usb"),
    }
}

fn list_serial() {
    println!("Serial ports:");
    match serialport::available_ports() {
        Ok(ports) if ports.is_empty() => println!("  none found"),
        Ok(ports) => {
            for p in ports {
                let kind = match &p.port_type {
                    serialport::SerialPortType::UsbPort(u) => format!(
                        "USB serial {:04x}:{:04x}{}",
                        u.vid,
                        u.pid,
                        u.product.as_deref().map(|s| format!(" {s}")).unwrap_or_default()
                    ),
                    serialport::SerialPortType::PciPort => "built-in".into(),
                    serialport::SerialPortType::BluetoothPort => "Bluetooth".into(),
                    serialport::SerialPortType::Unknown => "built-in or unknown kind".into(),
                };
                // A serial port cannot say what is attached without talking to it; status needs a profile.
                println!("  serial://{}  ({kind}; set its profile and baud in labeld.toml)", p.port_name);
            }
        }
        Err(e) => println!("  cannot list serial ports: {e}"),
    }
}

fn print_usb(p: &UsbPrinterInfo) {
    let name = [p.manufacturer.as_deref(), p.product.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    println!("  {}  {}  (bus {} address {})", p.uri(), if name.is_empty() { "(no name)" } else { &name }, p.bus, p.address);
    if let Some(id) = &p.device_id {
        println!("    IEEE 1284 id: {}", id.raw);
    }
    match profile_for(p) {
        Some(profile) => println!("    profile: {profile}"),
        None => println!("    profile: none matches; write one in drivers/ (see README, Printers)"),
    }
    match p.port_status {
        Some(b) => println!("    status: {} (port status {:#04x})", describe(b), b.0),
        None => println!("    status: unknown"),
    }
    if let Some(note) = &p.note {
        println!("    note: {note}");
    }
}

fn describe(b: PortStatus) -> String {
    let s = status::from_port_status(b);
    let conditions = s.conditions();
    if conditions.is_empty() { s.state.to_string() } else { format!("{} ({})", s.state, conditions.join(", ")) }
}

/// The matching profile: by VID:PID first, then by the 1284 id.
fn profile_for(p: &UsbPrinterInfo) -> Option<String> {
    let profiles = Profiles::builtin();
    let found = profiles.find_usb(p.vid, p.pid, p.device_id.as_ref().map(|d| d.raw.as_str()))?;
    Some(format!("{} ({}, {}, {} dpi)", found.name, found.model, found.language, found.dpi))
}
