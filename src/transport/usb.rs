//! USB printer class (interface class 7) driven directly through libusb, vendored into the build.
//!
//! Talking to the device ourselves, instead of through `/dev/usb/lp0`, gives the IEEE 1284 device id (to
//! match a profile), the class's port status (paper empty, selected, error) and status read-back on the bulk
//! IN endpoint, and it survives the printer being unplugged and plugged back in: the device is found again by
//! vendor id, product id and serial number, wherever it re-enumerates.
//!
//! Everything that does not need libusb sits on this side of two small traits, [`UsbBus`] and [`UsbLink`]:
//! device id parsing, port status bits, chunking with deadlines, and the unplug/replug state. The tests drive
//! that logic with a scripted bus; [`LibusbBus`] is the real one (see docs/usb-hardware-checklist.md for the
//! manual test on hardware).

use std::fmt;
use std::time::{Duration, Instant};

use super::{Transport, TransportError, Uri, remaining};

/// USB interface class of printers.
pub const CLASS_PRINTER: u8 = 7;
/// Printer class requests (USB Printer Class 1.1, section 4.2).
const REQ_GET_DEVICE_ID: u8 = 0;
const REQ_GET_PORT_STATUS: u8 = 1;
/// bmRequestType for a class request to an interface, device to host.
const CLASS_INTERFACE_IN: u8 = 0xA1;
/// Bulk OUT transfers are cut to this size (rounded down to whole packets): small enough that a timeout
/// reports progress, large enough that a 12 KB label is one or two transfers.
pub const DEFAULT_CHUNK: usize = 16 * 1024;

/// Which device a `usb://` URI means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbSelector {
    pub vid: u16,
    pub pid: u16,
    pub serial: Option<String>,
}

impl fmt::Display for UsbSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Uri::Usb { vid: self.vid, pid: self.pid, serial: self.serial.clone() }.fmt(f)
    }
}

/// Why a USB operation failed, in the terms the transport acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsbError {
    /// The device is gone (unplugged, powered off).
    NoDevice,
    /// No device matches the selector.
    NotFound,
    /// Nothing moved before the timeout.
    Timeout,
    /// The endpoint stalled, or the device refused a class request it does not support.
    Pipe,
    /// No permission to open the device (udev rule missing).
    Access,
    /// Another driver or process holds the interface.
    Busy,
    Other(String),
}

impl fmt::Display for UsbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsbError::NoDevice => write!(f, "device unplugged or powered off"),
            UsbError::NotFound => write!(f, "no matching USB printer is connected"),
            UsbError::Timeout => write!(f, "timed out"),
            UsbError::Pipe => write!(f, "endpoint stalled or request not supported"),
            UsbError::Access => write!(f, "permission denied (add a udev rule giving this user the device)"),
            UsbError::Busy => write!(f, "interface busy (another program holds the printer)"),
            UsbError::Other(s) => write!(f, "{s}"),
        }
    }
}

impl From<rusb::Error> for UsbError {
    fn from(e: rusb::Error) -> Self {
        match e {
            rusb::Error::NoDevice => UsbError::NoDevice,
            rusb::Error::NotFound => UsbError::NotFound,
            rusb::Error::Timeout => UsbError::Timeout,
            rusb::Error::Pipe => UsbError::Pipe,
            rusb::Error::Access => UsbError::Access,
            rusb::Error::Busy => UsbError::Busy,
            other => UsbError::Other(other.to_string()),
        }
    }
}

/// An open, claimed printer interface.
pub trait UsbLink: Send {
    /// One bulk OUT transfer. Returns the bytes the device took; fewer than asked means the timeout hit
    /// part way. `Err(Timeout)` means none moved.
    fn bulk_out(&mut self, data: &[u8], timeout: Duration) -> Result<usize, UsbError>;
    /// One bulk IN transfer; `Ok(0)` when the interface has no IN endpoint (unidirectional printers).
    fn bulk_in(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, UsbError>;
    /// The raw GET_DEVICE_ID answer (two length bytes, then the id string).
    fn device_id(&mut self) -> Result<Vec<u8>, UsbError>;
    /// The GET_PORT_STATUS byte.
    fn port_status(&mut self) -> Result<u8, UsbError>;
    /// Largest packet of the bulk OUT endpoint.
    fn max_packet(&self) -> usize;
}

/// Finds and opens printers.
pub trait UsbBus: Send {
    type Link: UsbLink;
    fn open(&mut self, selector: &UsbSelector) -> Result<Self::Link, UsbError>;
}

/// An IEEE 1284 device id: `MFG:Zebra Technologies;CMD:ZPL;MDL:ZD421-203dpi;CLS:PRINTER;`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceId {
    /// The id string as the device sent it.
    pub raw: String,
    fields: Vec<(String, String)>,
}

impl DeviceId {
    /// Parses a GET_DEVICE_ID answer: a two-byte length (big-endian per IEEE 1284, counting itself), then
    /// the string. Some printers send the length little-endian or too long; the answer's own size bounds it.
    pub fn from_response(bytes: &[u8]) -> Result<DeviceId, String> {
        if bytes.len() < 2 {
            return Err(format!("device id answer is {} bytes, shorter than its length field", bytes.len()));
        }
        let be = u16::from_be_bytes([bytes[0], bytes[1]]) as usize;
        let le = u16::from_le_bytes([bytes[0], bytes[1]]) as usize;
        let len = if (2..=bytes.len()).contains(&be) {
            be
        } else if (2..=bytes.len()).contains(&le) {
            le
        } else {
            bytes.len()
        };
        Ok(DeviceId::parse(&String::from_utf8_lossy(&bytes[2..len])))
    }

    /// Parses the `KEY:value;` string. Keys are case-insensitive; spaces around keys and values are dropped.
    pub fn parse(s: &str) -> DeviceId {
        let raw = s.trim_end_matches('\0').to_string();
        let fields = raw
            .split(';')
            .filter_map(|f| f.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.trim().to_string()))
            .filter(|(k, _)| !k.is_empty())
            .collect();
        DeviceId { raw, fields }
    }

    /// The first of `keys` that is present.
    pub fn get(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.fields.iter().find(|(fk, _)| fk == k).map(|(_, v)| v.as_str()))
    }
    pub fn manufacturer(&self) -> Option<&str> {
        self.get(&["MFG", "MANUFACTURER"])
    }
    pub fn model(&self) -> Option<&str> {
        self.get(&["MDL", "MODEL"])
    }
    /// Command sets (printer languages) the device says it understands, e.g. `["ZPL", "EPL"]`.
    pub fn command_set(&self) -> Vec<&str> {
        self.get(&["CMD", "COMMAND SET"]).map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
    }
    pub fn class(&self) -> Option<&str> {
        self.get(&["CLS", "CLASS"])
    }
}

/// The printer class port status byte (USB Printer Class 1.1, GET_PORT_STATUS): the old Centronics lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortStatus(pub u8);

impl PortStatus {
    /// Bit 5: paper empty.
    pub fn paper_empty(self) -> bool {
        self.0 & 0x20 != 0
    }
    /// Bit 4: selected (on line).
    pub fn selected(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// Bit 3: *not* error; a clear bit means the printer reports an error.
    pub fn no_error(self) -> bool {
        self.0 & 0x08 != 0
    }
}

/// Size of each bulk OUT transfer: [`DEFAULT_CHUNK`] rounded down to whole packets, so only the last
/// transfer of a job is short (a short packet ends a transfer early on some printers).
pub fn chunk_len(max_packet: usize) -> usize {
    let mp = max_packet.clamp(8, DEFAULT_CHUNK);
    (DEFAULT_CHUNK / mp) * mp
}

/// Whether the link is open, or the device went away and we wait for it to come back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connected,
    /// Unplugged or never found; the next write or [`Transport::reconnect`] looks for it again.
    Waiting(String),
}

/// A USB printer as a [`Transport`].
pub struct UsbTransport<B: UsbBus = LibusbBus> {
    bus: B,
    selector: UsbSelector,
    link: Option<B::Link>,
    state: LinkState,
}

impl UsbTransport<LibusbBus> {
    /// Opens the printer through the real libusb.
    pub fn open_libusb(selector: UsbSelector) -> Result<Self, TransportError> {
        let bus = LibusbBus::new().map_err(|e| TransportError::Open { link: selector.to_string(), reason: e.to_string() })?;
        UsbTransport::open(bus, selector)
    }
}

impl<B: UsbBus> UsbTransport<B> {
    pub fn open(bus: B, selector: UsbSelector) -> Result<Self, TransportError> {
        let mut t = UsbTransport { bus, selector, link: None, state: LinkState::Waiting("not opened yet".into()) };
        t.reconnect()?;
        Ok(t)
    }

    pub fn state(&self) -> &LinkState {
        &self.state
    }

    /// The device's IEEE 1284 id.
    pub fn device_id(&mut self) -> Result<DeviceId, TransportError> {
        let raw = self.with_link(|l| l.device_id())?;
        DeviceId::from_response(&raw).map_err(|reason| TransportError::Io { link: self.describe(), sent: 0, reason })
    }

    fn lost(&mut self, why: &UsbError) {
        self.link = None;
        self.state = LinkState::Waiting(why.to_string());
    }

    /// Runs one operation on the link, reopening it first if the device had gone away.
    fn with_link<T>(&mut self, op: impl FnOnce(&mut B::Link) -> Result<T, UsbError>) -> Result<T, TransportError> {
        if self.link.is_none() {
            self.reconnect()?;
        }
        let link = self.link.as_mut().expect("reconnected");
        match op(link) {
            Ok(v) => Ok(v),
            Err(e) => {
                if e == UsbError::NoDevice {
                    self.lost(&e);
                    return Err(TransportError::Disconnected { link: self.describe(), sent: 0, reason: e.to_string() });
                }
                Err(TransportError::Io { link: self.describe(), sent: 0, reason: e.to_string() })
            }
        }
    }
}

impl<B: UsbBus> Transport for UsbTransport<B> {
    fn write_all(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), TransportError> {
        if self.link.is_none() {
            self.reconnect()?;
        }
        let link_name = self.describe();
        let link = self.link.as_mut().expect("reconnected");
        let chunk = chunk_len(link.max_packet());
        let mut sent = 0;
        while sent < bytes.len() {
            let Some(left) = remaining(deadline) else {
                return Err(TransportError::Timeout { link: link_name, sent });
            };
            let end = (sent + chunk).min(bytes.len());
            match link.bulk_out(&bytes[sent..end], left.max(Duration::from_millis(1))) {
                // A zero-length answer without an error would loop forever; treat it as a stall.
                Ok(0) => return Err(TransportError::Io { link: link_name, sent, reason: "device took no bytes".into() }),
                Ok(n) => sent += n,
                Err(UsbError::Timeout) => return Err(TransportError::Timeout { link: link_name, sent }),
                Err(e @ UsbError::NoDevice) => {
                    self.lost(&e);
                    return Err(TransportError::Disconnected { link: link_name, sent, reason: e.to_string() });
                }
                Err(e) => return Err(TransportError::Io { link: link_name, sent, reason: e.to_string() }),
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.with_link(|l| match l.bulk_in(buf, timeout.max(Duration::from_millis(1))) {
            Err(UsbError::Timeout) => Ok(0),
            other => other,
        })
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.link = None;
        match self.bus.open(&self.selector) {
            Ok(link) => {
                self.link = Some(link);
                self.state = LinkState::Connected;
                Ok(())
            }
            Err(e) => {
                self.state = LinkState::Waiting(e.to_string());
                Err(TransportError::Open { link: self.describe(), reason: e.to_string() })
            }
        }
    }

    fn describe(&self) -> String {
        self.selector.to_string()
    }

    fn port_status(&mut self) -> Option<Result<u8, TransportError>> {
        Some(self.with_link(|l| l.port_status()))
    }
}

// ---------------------------------------------------------------------------------------------------------
// The real bus: libusb through rusb.

/// The printer interface found on a device.
#[derive(Clone, Copy, Debug)]
struct PrinterInterface {
    config_index: u8,
    number: u8,
    alt_setting: u8,
    alt_count: usize,
    protocol: u8,
    ep_out: u8,
    ep_in: Option<u8>,
    max_packet: usize,
}

/// Picks the printer interface: class 7, subclass 1, preferring bidirectional (protocol 2) to
/// unidirectional (1); IEEE 1284.4 (3) only if nothing else is there.
fn find_printer_interface<T: rusb::UsbContext>(device: &rusb::Device<T>) -> Option<PrinterInterface> {
    let config = device.active_config_descriptor().or_else(|_| device.config_descriptor(0)).ok()?;
    let config_index = config.number().saturating_sub(1);
    let mut best: Option<PrinterInterface> = None;
    for iface in config.interfaces() {
        let alt_count = iface.descriptors().count();
        for alt in iface.descriptors() {
            if alt.class_code() != CLASS_PRINTER || alt.sub_class_code() != 1 {
                continue;
            }
            let mut ep_out = None;
            let mut ep_in = None;
            let mut max_packet = 64;
            for ep in alt.endpoint_descriptors() {
                if ep.transfer_type() != rusb::TransferType::Bulk {
                    continue;
                }
                match ep.direction() {
                    rusb::Direction::Out if ep_out.is_none() => {
                        ep_out = Some(ep.address());
                        max_packet = ep.max_packet_size() as usize;
                    }
                    rusb::Direction::In if ep_in.is_none() => ep_in = Some(ep.address()),
                    _ => {}
                }
            }
            let Some(ep_out) = ep_out else { continue };
            let rank = |p: u8| match p {
                2 => 0,
                1 => 1,
                _ => 2,
            };
            let candidate = PrinterInterface {
                config_index,
                number: alt.interface_number(),
                alt_setting: alt.setting_number(),
                alt_count,
                protocol: alt.protocol_code(),
                ep_out,
                ep_in: if alt.protocol_code() == 1 { None } else { ep_in },
                max_packet,
            };
            if best.is_none_or(|b| rank(candidate.protocol) < rank(b.protocol)) {
                best = Some(candidate);
            }
        }
    }
    best
}

fn read_device_id<T: rusb::UsbContext>(handle: &rusb::DeviceHandle<T>, iface: &PrinterInterface) -> Result<Vec<u8>, UsbError> {
    let mut buf = vec![0u8; 1024];
    let index = (iface.number as u16) << 8 | iface.alt_setting as u16;
    let n = handle.read_control(
        CLASS_INTERFACE_IN,
        REQ_GET_DEVICE_ID,
        iface.config_index as u16,
        index,
        &mut buf,
        Duration::from_secs(1),
    )?;
    buf.truncate(n);
    Ok(buf)
}

fn read_port_status<T: rusb::UsbContext>(handle: &rusb::DeviceHandle<T>, iface: &PrinterInterface) -> Result<u8, UsbError> {
    let mut b = [0u8; 1];
    let n = handle.read_control(CLASS_INTERFACE_IN, REQ_GET_PORT_STATUS, 0, iface.number as u16, &mut b, Duration::from_secs(1))?;
    if n != 1 {
        return Err(UsbError::Other(format!("port status answer is {n} bytes, not 1")));
    }
    Ok(b[0])
}

pub struct LibusbBus {
    ctx: rusb::Context,
}

impl LibusbBus {
    pub fn new() -> Result<LibusbBus, UsbError> {
        Ok(LibusbBus { ctx: rusb::Context::new()? })
    }
}

/// A claimed printer interface. Dropping it releases the interface and gives the device back to the kernel's
/// usblp driver if we took it away.
pub struct LibusbLink {
    handle: rusb::DeviceHandle<rusb::Context>,
    iface: PrinterInterface,
    detached: bool,
}

impl UsbBus for LibusbBus {
    type Link = LibusbLink;

    fn open(&mut self, selector: &UsbSelector) -> Result<LibusbLink, UsbError> {
        use rusb::UsbContext;
        let mut last = UsbError::NotFound;
        for device in self.ctx.devices()?.iter() {
            let Ok(desc) = device.device_descriptor() else { continue };
            if desc.vendor_id() != selector.vid || desc.product_id() != selector.pid {
                continue;
            }
            let Some(iface) = find_printer_interface(&device) else { continue };
            let handle = match device.open() {
                Ok(h) => h,
                Err(e) => {
                    last = e.into();
                    continue;
                }
            };
            if let Some(want) = &selector.serial {
                let serial = handle.read_serial_number_string_ascii(&desc).unwrap_or_default();
                if &serial != want {
                    continue;
                }
            }
            // usblp owns printers by default; take the interface from it for the time we hold it.
            let detached = match handle.kernel_driver_active(iface.number) {
                Ok(true) => {
                    handle.detach_kernel_driver(iface.number)?;
                    true
                }
                _ => false,
            };
            let link = LibusbLink { handle, iface, detached };
            link.handle.claim_interface(iface.number)?;
            // Only switch settings when there is a choice: some printers stall SET_INTERFACE.
            if iface.alt_count > 1 {
                link.handle.set_alternate_setting(iface.number, iface.alt_setting)?;
            }
            return Ok(link);
        }
        Err(last)
    }
}

impl UsbLink for LibusbLink {
    fn bulk_out(&mut self, data: &[u8], timeout: Duration) -> Result<usize, UsbError> {
        Ok(self.handle.write_bulk(self.iface.ep_out, data, timeout)?)
    }

    fn bulk_in(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, UsbError> {
        match self.iface.ep_in {
            Some(ep) => Ok(self.handle.read_bulk(ep, buf, timeout)?),
            None => Ok(0),
        }
    }

    fn device_id(&mut self) -> Result<Vec<u8>, UsbError> {
        read_device_id(&self.handle, &self.iface)
    }

    fn port_status(&mut self) -> Result<u8, UsbError> {
        read_port_status(&self.handle, &self.iface)
    }

    fn max_packet(&self) -> usize {
        self.iface.max_packet
    }
}

impl Drop for LibusbLink {
    fn drop(&mut self) {
        let _ = self.handle.release_interface(self.iface.number);
        if self.detached {
            let _ = self.handle.attach_kernel_driver(self.iface.number);
        }
    }
}

/// A USB printer seen on the bus, for `labeld printers`.
#[derive(Clone, Debug)]
pub struct UsbPrinterInfo {
    pub vid: u16,
    pub pid: u16,
    pub bus: u8,
    pub address: u8,
    pub serial: Option<String>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub device_id: Option<DeviceId>,
    pub port_status: Option<PortStatus>,
    /// Why the id or the status could not be read (no permission, busy), if so.
    pub note: Option<String>,
}

impl UsbPrinterInfo {
    pub fn uri(&self) -> Uri {
        Uri::Usb { vid: self.vid, pid: self.pid, serial: self.serial.clone() }
    }
}

/// Lists USB devices with a printer interface. Reads descriptors, the 1284 id and the port status without
/// claiming the interface or detaching usblp (a listing must not disturb a printer that is printing); when
/// usblp holds the interface, the id comes from its sysfs copy.
pub fn list_printers() -> Result<Vec<UsbPrinterInfo>, UsbError> {
    use rusb::UsbContext;
    let ctx = rusb::Context::new()?;
    let mut out = Vec::new();
    for device in ctx.devices()?.iter() {
        let Ok(desc) = device.device_descriptor() else { continue };
        let Some(iface) = find_printer_interface(&device) else { continue };
        let mut info = UsbPrinterInfo {
            vid: desc.vendor_id(),
            pid: desc.product_id(),
            bus: device.bus_number(),
            address: device.address(),
            serial: None,
            manufacturer: None,
            product: None,
            device_id: None,
            port_status: None,
            note: None,
        };
        match device.open() {
            Ok(handle) => {
                info.serial = handle.read_serial_number_string_ascii(&desc).ok();
                info.manufacturer = handle.read_manufacturer_string_ascii(&desc).ok();
                info.product = handle.read_product_string_ascii(&desc).ok();
                match read_device_id(&handle, &iface) {
                    Ok(raw) => info.device_id = DeviceId::from_response(&raw).ok(),
                    Err(e) => info.note = Some(format!("device id: {e}")),
                }
                match read_port_status(&handle, &iface) {
                    Ok(b) => info.port_status = Some(PortStatus(b)),
                    Err(e) => {
                        info.note.get_or_insert_with(|| format!("port status: {e}"));
                    }
                }
            }
            Err(e) => info.note = Some(format!("cannot open: {}", UsbError::from(e))),
        }
        if info.device_id.is_none() {
            info.device_id = sysfs_device_id(info.bus, info.address);
            if info.device_id.is_some() && info.note.as_deref().is_some_and(|n| n.starts_with("device id:")) {
                info.note = Some("held by the kernel's usblp driver (device id read from sysfs; status needs the link)".into());
            }
        }
        out.push(info);
    }
    Ok(out)
}

/// usblp publishes each printer's 1284 id in sysfs; find the one for bus/address.
fn sysfs_device_id(bus: u8, address: u8) -> Option<DeviceId> {
    for entry in std::fs::read_dir("/sys/class/usbmisc").ok()?.flatten() {
        let iface_dir = entry.path().join("device");
        let read_num = |name: &str| std::fs::read_to_string(iface_dir.join("..").join(name)).ok()?.trim().parse::<u8>().ok();
        if read_num("busnum") == Some(bus) && read_num("devnum") == Some(address) {
            let id = std::fs::read_to_string(iface_dir.join("ieee1284_id")).ok()?;
            return Some(DeviceId::parse(id.trim()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn parses_a_zebra_device_id() {
        let s = "MANUFACTURER:Zebra Technologies;COMMAND SET:ZPL;MODEL:ZTC ZD421-203dpi ZPL;CLASS:PRINTER;OPTIONS:XML;";
        let mut answer = ((s.len() + 2) as u16).to_be_bytes().to_vec();
        answer.extend_from_slice(s.as_bytes());
        let id = DeviceId::from_response(&answer).unwrap();
        assert_eq!(id.manufacturer(), Some("Zebra Technologies"));
        assert_eq!(id.model(), Some("ZTC ZD421-203dpi ZPL"));
        assert_eq!(id.command_set(), vec!["ZPL"]);
        assert_eq!(id.class(), Some("PRINTER"));
    }

    #[test]
    fn tolerates_little_endian_and_overlong_lengths() {
        let s = "MFG:TSC;CMD:TSPL2, ZPL;MDL:TE200;";
        let mut le = ((s.len() + 2) as u16).to_le_bytes().to_vec();
        le.extend_from_slice(s.as_bytes());
        let id = DeviceId::from_response(&le).unwrap();
        assert_eq!(id.model(), Some("TE200"));
        assert_eq!(id.command_set(), vec!["TSPL2", "ZPL"]);

        let mut long = vec![0xff, 0xff];
        long.extend_from_slice(b"mfg:Xprinter;mdl : XP-420B ;");
        let id = DeviceId::from_response(&long).unwrap();
        assert_eq!(id.manufacturer(), Some("Xprinter"));
        assert_eq!(id.model(), Some("XP-420B"));
        assert!(DeviceId::from_response(&[0]).is_err());
    }

    #[test]
    fn port_status_bits() {
        // 0x18: selected, no error, paper present: the normal idle answer.
        let ok = PortStatus(0x18);
        assert!(ok.selected() && ok.no_error() && !ok.paper_empty());
        // 0x30: paper empty, selected, error line active.
        let out = PortStatus(0x30);
        assert!(out.paper_empty() && out.selected() && !out.no_error());
        assert!(!PortStatus(0x08).selected());
    }

    #[test]
    fn chunks_are_whole_packets() {
        assert_eq!(chunk_len(64), DEFAULT_CHUNK);
        assert_eq!(chunk_len(512), DEFAULT_CHUNK);
        assert_eq!(chunk_len(1000), 16 * 1000);
        assert_eq!(chunk_len(0), DEFAULT_CHUNK);
    }

    /// A scripted printer: what a test can make the hardware do.
    #[derive(Default)]
    struct Device {
        plugged: bool,
        received: Vec<u8>,
        transfers: Vec<usize>,
        /// The device stops taking bytes after this many (timeouts from then on).
        stall_after: Option<usize>,
        /// The device vanishes after this many bytes.
        unplug_after: Option<usize>,
        opens: usize,
        status_reply: Vec<u8>,
    }

    #[derive(Clone, Default)]
    struct FakeBus(Arc<Mutex<Device>>);
    struct FakeLink(Arc<Mutex<Device>>);

    impl UsbBus for FakeBus {
        type Link = FakeLink;
        fn open(&mut self, _: &UsbSelector) -> Result<FakeLink, UsbError> {
            let mut d = self.0.lock().unwrap();
            if !d.plugged {
                return Err(UsbError::NotFound);
            }
            d.opens += 1;
            Ok(FakeLink(self.0.clone()))
        }
    }

    impl UsbLink for FakeLink {
        fn bulk_out(&mut self, data: &[u8], _: Duration) -> Result<usize, UsbError> {
            let mut d = self.0.lock().unwrap();
            if !d.plugged {
                return Err(UsbError::NoDevice);
            }
            let mut take = data.len();
            if let Some(limit) = d.unplug_after
                && d.received.len() + take > limit
            {
                let n = limit - d.received.len();
                d.received.extend_from_slice(&data[..n]);
                d.plugged = false;
                return if n > 0 { Ok(n) } else { Err(UsbError::NoDevice) };
            }
            if let Some(limit) = d.stall_after {
                take = take.min(limit.saturating_sub(d.received.len()));
                if take == 0 {
                    return Err(UsbError::Timeout);
                }
            }
            d.received.extend_from_slice(&data[..take]);
            d.transfers.push(take);
            Ok(take)
        }
        fn bulk_in(&mut self, buf: &mut [u8], _: Duration) -> Result<usize, UsbError> {
            let mut d = self.0.lock().unwrap();
            if d.status_reply.is_empty() {
                return Err(UsbError::Timeout);
            }
            let n = d.status_reply.len().min(buf.len());
            buf[..n].copy_from_slice(&d.status_reply[..n]);
            d.status_reply.drain(..n);
            Ok(n)
        }
        fn device_id(&mut self) -> Result<Vec<u8>, UsbError> {
            let s = b"MFG:Zebra;CMD:ZPL;MDL:GK420d;";
            let mut v = ((s.len() + 2) as u16).to_be_bytes().to_vec();
            v.extend_from_slice(s);
            Ok(v)
        }
        fn port_status(&mut self) -> Result<u8, UsbError> {
            if !self.0.lock().unwrap().plugged {
                return Err(UsbError::NoDevice);
            }
            Ok(0x18)
        }
        fn max_packet(&self) -> usize {
            512
        }
    }

    fn selector() -> UsbSelector {
        UsbSelector { vid: 0x0a5f, pid: 0x00d3, serial: None }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn writes_in_whole_packet_chunks() {
        let bus = FakeBus::default();
        bus.0.lock().unwrap().plugged = true;
        let mut t = UsbTransport::open(bus.clone(), selector()).unwrap();
        let job: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        t.write_all(&job, soon()).unwrap();
        let d = bus.0.lock().unwrap();
        assert_eq!(d.received, job);
        assert_eq!(d.transfers, vec![16384, 16384, 40_000 - 32768]);
        drop(d);
        assert_eq!(t.device_id().unwrap().model(), Some("GK420d"));
        assert_eq!(t.port_status().unwrap().unwrap(), 0x18);
    }

    #[test]
    fn a_stalled_printer_times_out_and_reports_progress() {
        let bus = FakeBus::default();
        bus.0.lock().unwrap().plugged = true;
        bus.0.lock().unwrap().stall_after = Some(20_000);
        let mut t = UsbTransport::open(bus.clone(), selector()).unwrap();
        let e = t.write_all(&[0u8; 30_000], soon()).unwrap_err();
        assert!(matches!(e, TransportError::Timeout { sent: 20_000, .. }), "{e}");
        // A deadline already past sends nothing.
        let e = t.write_all(&[0u8; 10], Instant::now()).unwrap_err();
        assert!(matches!(e, TransportError::Timeout { sent: 0, .. }), "{e}");
    }

    #[test]
    fn recovers_after_unplug_and_replug() {
        let bus = FakeBus::default();
        bus.0.lock().unwrap().plugged = true;
        bus.0.lock().unwrap().unplug_after = Some(5_000);
        let mut t = UsbTransport::open(bus.clone(), selector()).unwrap();
        let e = t.write_all(&[1u8; 12_000], soon()).unwrap_err();
        assert!(matches!(e, TransportError::Disconnected { sent: 5_000, .. }), "{e}");
        assert!(matches!(t.state(), LinkState::Waiting(_)));

        // Still unplugged: the write looks for the device, finds none, and sends nothing.
        let e = t.write_all(&[2u8; 10], soon()).unwrap_err();
        assert_eq!(e.sent(), 0);
        assert!(t.port_status().unwrap().is_err());

        // Plugged back in (re-enumerated): the next write finds it again by VID:PID and goes through.
        {
            let mut d = bus.0.lock().unwrap();
            d.plugged = true;
            d.unplug_after = None;
            d.received.clear();
        }
        t.write_all(b"^XA^XZ", soon()).unwrap();
        assert_eq!(t.state(), &LinkState::Connected);
        let d = bus.0.lock().unwrap();
        assert_eq!(d.received, b"^XA^XZ");
        assert_eq!(d.opens, 2);
    }

    #[test]
    fn reads_status_back_and_times_out_quietly() {
        let bus = FakeBus::default();
        bus.0.lock().unwrap().plugged = true;
        let mut t = UsbTransport::open(bus.clone(), selector()).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(t.read(&mut buf, Duration::from_millis(5)).unwrap(), 0);
        bus.0.lock().unwrap().status_reply = vec![0x00];
        assert_eq!(t.read(&mut buf, Duration::from_millis(5)).unwrap(), 1);
    }

    #[test]
    fn opening_an_absent_printer_names_it() {
        let e = UsbTransport::open(FakeBus::default(), selector()).err().unwrap();
        assert!(e.to_string().contains("usb://0a5f:00d3"), "{e}");
        assert!(e.to_string().contains("no matching USB printer"), "{e}");
    }
}
