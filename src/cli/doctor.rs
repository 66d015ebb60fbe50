//! `labeld doctor`: checks an installation the way an IT person would, and says how to fix each problem.
//!
//! Fonts (scripts covered, the Debian package that adds a missing one), printer access (USB bus, device node
//! permissions of the profiles' printers, usblp, serial ports and dialout), the config file (every problem),
//! spool integrity and, when `[feed.nats]` is configured, whether the brokers accept a TCP connection.
//! Exit 0 when nothing needs fixing, 1 otherwise. Read-only except for the spool, which is opened normally.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use labeld::config::{Config, PrinterUri};
use labeld::printer::Profiles;
use labeld::text::{FontConfig, Fonts};
use labeld::transport::speed::LinkSpeed;

#[derive(clap::Args)]
pub struct Args {
    /// The config file to check.
    #[arg(long, default_value = "/etc/labeld/labeld.toml")]
    config: PathBuf,
    /// Machine-readable output (one JSON object).
    #[arg(long)]
    json: bool,
    /// Also search this font directory (repeatable), as labeld does with extra font dirs.
    #[arg(long = "font-dir", value_name = "DIR")]
    fonts_dirs: Vec<PathBuf>,
    /// Look only in --font-dir and the built-in DejaVu, not the system font directories.
    #[arg(long)]
    no_system_fonts: bool,
}

/// The account the Debian package runs the service as.
const SERVICE_USER: &str = "labeld";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    /// Worth knowing, nothing to fix.
    Note,
    /// Works, but a warehouse will feel it (a slow link); not counted as a problem.
    Warning,
    Problem,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Note => "note",
            Status::Warning => "warning",
            Status::Problem => "problem",
        }
    }
}

struct Finding {
    area: &'static str,
    status: Status,
    message: String,
    fix: Option<String>,
}

#[derive(Default)]
struct Report {
    findings: Vec<Finding>,
}

impl Report {
    fn add(&mut self, area: &'static str, status: Status, message: impl Into<String>, fix: Option<String>) {
        self.findings.push(Finding { area, status, message: message.into(), fix });
    }
    fn ok(&mut self, area: &'static str, message: impl Into<String>) {
        self.add(area, Status::Ok, message, None);
    }
    fn note(&mut self, area: &'static str, message: impl Into<String>) {
        self.add(area, Status::Note, message, None);
    }
    fn problem(&mut self, area: &'static str, message: impl Into<String>, fix: impl Into<String>) {
        self.add(area, Status::Problem, message, Some(fix.into()));
    }
    fn warning(&mut self, area: &'static str, message: impl Into<String>, fix: impl Into<String>) {
        self.add(area, Status::Warning, message, Some(fix.into()));
    }
    fn problems(&self) -> usize {
        self.findings.iter().filter(|f| f.status == Status::Problem).count()
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    let profiles = Profiles::builtin();
    check_fonts(&args, &mut report);
    let config = check_config(&args.config, &profiles, &mut report);
    check_usb(&profiles, config.as_ref(), &mut report);
    check_serial(config.as_ref(), &mut report);
    check_link_speed(&args, &profiles, config.as_ref(), &mut report);
    check_spool(config.as_ref(), &mut report);
    check_feed(&args.config, config.as_ref(), &mut report);

    if args.json {
        print_json(&args.config, &report);
    } else {
        print_text(&args.config, &report);
    }
    Ok(if report.problems() == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

// ---------------------------------------------------------------- fonts

/// Scripts a shipping label in labeld's markets must render, and the Debian package that covers each.
const NEEDED_SCRIPTS: &[(&str, &str)] = &[
    ("Latin", "fonts-dejavu-core"),
    ("Vietnamese", "fonts-dejavu-core"),
    ("Thai", "fonts-thai-tlwg"),
    ("Han (Chinese)", "fonts-noto-cjk"),
    ("Hiragana/Katakana", "fonts-noto-cjk"),
    ("Hangul", "fonts-noto-cjk"),
];

/// The package for a script that is only needed for some destinations.
fn package_for(script: &str) -> &'static str {
    match script {
        "Greek" | "Cyrillic" => "fonts-dejavu-core",
        _ => "fonts-noto-core",
    }
}

fn check_fonts(args: &Args, report: &mut Report) {
    const AREA: &str = "fonts";
    let cfg = FontConfig { dirs: args.fonts_dirs.clone(), no_system: args.no_system_fonts, no_builtin: false, index_cache: None };
    let fonts = match Fonts::load(&cfg) {
        Ok(f) => f,
        Err(e) => {
            report.problem(AREA, format!("cannot load fonts: {e}"), "apt install fonts-dejavu-core fonts-thai-tlwg fonts-noto-cjk");
            return;
        }
    };
    for (script, face) in fonts.coverage_report() {
        let needed = NEEDED_SCRIPTS.iter().find(|(s, _)| *s == script).map(|(_, pkg)| *pkg);
        match (face, needed) {
            (Some(face), _) => report.ok(AREA, format!("{script}: {face}")),
            (None, Some(pkg)) => report.problem(
                AREA,
                format!("{script}: no installed font draws it; labels with {script} text will be refused"),
                format!("apt install {pkg}"),
            ),
            (None, None) => report.note(
                AREA,
                format!("{script}: not covered (needed only for addresses in that script; apt install {})", package_for(&script)),
            ),
        }
    }
}

// ---------------------------------------------------------------- config

fn check_config(path: &Path, profiles: &Profiles, report: &mut Report) -> Option<Config> {
    const AREA: &str = "config";
    if !path.exists() {
        report.problem(
            AREA,
            format!("{} does not exist", path.display()),
            "install the Debian package (it ships /etc/labeld/labeld.toml) or copy packaging/labeld.toml there; \
             or point --config at your file",
        );
        return None;
    }
    let names: Vec<String> = profiles.all().iter().map(|p| p.name.clone()).collect();
    match Config::load(path, &names) {
        Ok(config) => {
            report.ok(AREA, format!("{} is valid ({} printer(s), {} warehouse(s))", path.display(), config.printers.len(), config.warehouses.len()));
            if config.printers.is_empty() {
                report.note(AREA, "no [[printer]] configured yet; `labeld printers` lists what is connected");
            }
            // The warehouse's word lists are read by the rules, not by the config parser.
            if let Err(e) = labeld::comply::Checker::for_config(&config) {
                for p in &e.problems {
                    report.problem(AREA, p.to_string(), format!("fix the word list or [comply] lexicon_dir in {}", p.file));
                }
            }
            Some(config)
        }
        Err(e) => {
            for p in &e.problems {
                report.problem(AREA, p.to_string(), format!("edit {} (the packaged default labeld.toml lists every key with its default, commented)", p.file));
            }
            None
        }
    }
}

// ---------------------------------------------------------------- printers: USB

/// One USB device as sysfs describes it.
struct UsbDevice {
    vid: u16,
    pid: u16,
    bus: u32,
    dev: u32,
    /// sysfs directories of its printer-class (07) interfaces.
    printer_ifaces: Vec<PathBuf>,
}

fn read_hex(path: &Path) -> Option<u16> {
    u16::from_str_radix(std::fs::read_to_string(path).ok()?.trim(), 16).ok()
}

fn read_num(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn usb_devices() -> Vec<UsbDevice> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/sys/bus/usb/devices") else { return out };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    for dir in &dirs {
        let (Some(vid), Some(pid), Some(bus), Some(dev)) =
            (read_hex(&dir.join("idVendor")), read_hex(&dir.join("idProduct")), read_num(&dir.join("busnum")), read_num(&dir.join("devnum")))
        else {
            continue;
        };
        let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let printer_ifaces = dirs
            .iter()
            .filter(|d| d.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}:"))))
            .filter(|d| std::fs::read_to_string(d.join("bInterfaceClass")).is_ok_and(|c| c.trim() == "07"))
            .cloned()
            .collect();
        out.push(UsbDevice { vid, pid, bus, dev, printer_ifaces });
    }
    out
}

fn check_usb(profiles: &Profiles, config: Option<&Config>, report: &mut Report) {
    const AREA: &str = "usb";
    let configured: Vec<(u16, u16, &str)> = config
        .map(|c| {
            c.printers
                .iter()
                .filter_map(|p| match &p.uri {
                    PrinterUri::Usb { vid, pid, .. } => Some((*vid, *pid, p.name.as_str())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();

    if !Path::new("/dev/bus/usb").exists() {
        let msg = "this machine has no USB bus (/dev/bus/usb does not exist, e.g. a container or VM without USB passthrough); \
                   USB printers cannot be used here, TCP and serial printers can";
        if configured.is_empty() {
            report.note(AREA, msg);
        } else {
            let names: Vec<&str> = configured.iter().map(|c| c.2).collect();
            report.problem(
                AREA,
                format!("{msg}; configured USB printer(s) {} will never connect", names.join(", ")),
                "run labeld on the PC the printers are plugged into, pass the USB bus through to this VM/container, or use tcp:// or serial:// URIs",
            );
        }
        return;
    }

    let devices = usb_devices();
    let mut seen = 0;
    for d in &devices {
        let profile = profiles.find_usb(d.vid, d.pid, None).map(|p| p.name.clone()).or_else(|| {
            // Vendor-only and device-id profiles: any printer-class device of that vendor (or any at all).
            (!d.printer_ifaces.is_empty()).then(|| {
                profiles
                    .all()
                    .iter()
                    .find(|p| p.usb_vendor == Some(d.vid))
                    .map(|p| format!("probably {} (vendor match; `labeld printers` reads the device id)", p.name))
                    .unwrap_or_else(|| "a USB printer (`labeld printers` matches its device id)".into())
            })
        });
        let configured_name = configured.iter().find(|c| c.0 == d.vid && c.1 == d.pid).map(|c| c.2);
        let Some(what) = profile.or(configured_name.map(|n| format!("configured printer {n}"))) else { continue };
        seen += 1;
        let node = PathBuf::from(format!("/dev/bus/usb/{:03}/{:03}", d.bus, d.dev));
        let label = format!("{:04x}:{:04x} at {} ({what})", d.vid, d.pid, node.display());
        match node_access(&node) {
            Ok(()) => report.ok(AREA, format!("{label}: the service can open it")),
            Err(why) => report.problem(
                AREA,
                format!("{label}: {why}"),
                "install the udev rules (the Debian package puts them in /lib/udev/rules.d/60-labeld.rules), then \
                 `udevadm control --reload && udevadm trigger --subsystem-match=usb`, or unplug and replug the printer",
            ),
        }
        for iface in &d.printer_ifaces {
            let driver = std::fs::read_link(iface.join("driver")).ok().and_then(|l| l.file_name().map(|n| n.to_string_lossy().into_owned()));
            if driver.as_deref() == Some("usblp") {
                report.note(
                    AREA,
                    format!(
                        "{:04x}:{:04x}: the kernel's usblp driver holds the printer interface; labeld detaches it while printing \
                         and gives it back after (or use its file:///dev/usb/lpN device)",
                        d.vid, d.pid
                    ),
                );
            }
        }
    }
    for (vid, pid, name) in &configured {
        if !devices.iter().any(|d| d.vid == *vid && d.pid == *pid) {
            report.problem(
                AREA,
                format!("configured printer {name} (usb://{vid:04x}:{pid:04x}) is not connected"),
                "check the cable and power; `labeld printers` lists what is connected",
            );
        }
    }
    if seen == 0 {
        report.note(AREA, format!("USB bus present ({} device(s)); no label printer connected", devices.len()));
    }
}

/// Whether the service account can read and write a device node: group lp with rw, or (when the
/// service user does not exist, e.g. a source build) the current user's own access.
fn node_access(node: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(node).map_err(|e| format!("cannot stat: {e}"))?;
    let mode = meta.mode() & 0o777;
    let group = group_name(meta.gid()).unwrap_or_else(|| meta.gid().to_string());
    let for_service = if user_exists(SERVICE_USER) {
        (group_members(&group).iter().any(|m| m == SERVICE_USER) && mode & 0o060 == 0o060) || mode & 0o006 == 0o006
    } else {
        access_rw(node)
    };
    if for_service {
        Ok(())
    } else {
        Err(format!("not writable by the service (owner group {group}, mode {mode:o}; needs group lp with rw)"))
    }
}

fn access_rw(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: a valid NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::R_OK | libc::W_OK) == 0 }
}

// ---------------------------------------------------------------- users and groups (from /etc, no NSS)

fn etc_lines(file: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(':').map(str::to_string).collect())
        .collect()
}

fn user_exists(user: &str) -> bool {
    etc_lines("/etc/passwd").iter().any(|f| f.first().is_some_and(|n| n == user))
}

fn group_name(gid: u32) -> Option<String> {
    etc_lines("/etc/group").into_iter().find(|f| f.get(2).is_some_and(|g| g == &gid.to_string())).and_then(|f| f.into_iter().next())
}

/// Supplementary members, plus users whose primary group it is.
fn group_members(group: &str) -> Vec<String> {
    let groups = etc_lines("/etc/group");
    let Some(entry) = groups.iter().find(|f| f.first().is_some_and(|n| n == group)) else { return Vec::new() };
    let mut members: Vec<String> = entry.get(3).map(|m| m.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()).unwrap_or_default();
    if let Some(gid) = entry.get(2) {
        members.extend(etc_lines("/etc/passwd").into_iter().filter(|f| f.get(3) == Some(gid)).filter_map(|f| f.into_iter().next()));
    }
    members
}

// ---------------------------------------------------------------- printers: serial

fn check_serial(config: Option<&Config>, report: &mut Report) {
    const AREA: &str = "serial";
    if user_exists(SERVICE_USER) {
        for group in ["lp", "dialout"] {
            if group_members(group).iter().any(|m| m == SERVICE_USER) {
                report.ok(AREA, format!("service user {SERVICE_USER} is in group {group}"));
            } else {
                report.problem(
                    AREA,
                    format!("service user {SERVICE_USER} is not in group {group}"),
                    format!("usermod -aG {group} {SERVICE_USER} && systemctl restart labeld"),
                );
            }
        }
    } else {
        report.note(AREA, format!("no {SERVICE_USER} user (the Debian package creates it); checked as the current user instead"));
    }
    let ports = serialport::available_ports().unwrap_or_default();
    if ports.is_empty() {
        report.note(AREA, "no serial ports found");
    }
    for p in &ports {
        let node = Path::new(&p.port_name);
        match node_serial_access(node) {
            Ok(()) => report.ok(AREA, format!("{}: the service can open it", p.port_name)),
            Err(why) => report.problem(AREA, format!("{}: {why}", p.port_name), format!("usermod -aG dialout {SERVICE_USER} (or the user that runs labeld)")),
        }
    }
    if let Some(config) = config {
        for printer in &config.printers {
            if let PrinterUri::Serial { path, .. } = &printer.uri
                && !Path::new(path).exists()
            {
                report.problem(
                    AREA,
                    format!("configured printer {} uses {path}, which does not exist", printer.name),
                    "check the cable; USB-serial adapters appear as /dev/ttyUSB*; prefer the stable /dev/serial/by-id/ name",
                );
            }
        }
    }
}

/// How long the reference label takes on each configured printer's link (serial at its baud rate).
fn check_link_speed(args: &Args, profiles: &Profiles, config: Option<&Config>, report: &mut Report) {
    const AREA: &str = "serial";
    let Some(config) = config else { return };
    let cfg = FontConfig { dirs: args.fonts_dirs.clone(), no_system: args.no_system_fonts, no_builtin: false, index_cache: None };
    let Ok(fonts) = Fonts::load(&cfg) else { return };
    for printer in &config.printers {
        let Ok(profile) = profiles.get(&printer.driver) else { continue };
        let uri = printer.uri.clone().with_serial_defaults(profile.serial.baud, labeld::transport::Flow::None);
        let speed = LinkSpeed::of(&uri, printer.link_bytes_per_second);
        match super::link_speed::reference_bytes(&profile, &fonts) {
            Ok(bytes) => match super::link_speed::warning(&format!("printer {}", printer.name), &profile, bytes, speed) {
                Some((message, fix)) => report.warning(AREA, message, fix),
                None => report.ok(
                    AREA,
                    format!("printer {}: the reference label takes {:.1} s at {speed}", printer.name, speed.time_for(bytes).as_secs_f64()),
                ),
            },
            Err(e) => report.note(AREA, format!("printer {}: cannot size the reference label: {e}", printer.name)),
        }
    }
}

fn node_serial_access(node: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(node).map_err(|e| format!("cannot stat: {e}"))?;
    if !user_exists(SERVICE_USER) {
        return if access_rw(node) { Ok(()) } else { Err("the current user cannot read and write it".into()) };
    }
    let group = group_name(meta.gid()).unwrap_or_else(|| meta.gid().to_string());
    if group_members(&group).iter().any(|m| m == SERVICE_USER) && meta.mode() & 0o060 == 0o060 {
        Ok(())
    } else {
        Err(format!("owned by group {group}, which {SERVICE_USER} is not in"))
    }
}

// ---------------------------------------------------------------- spool

fn check_spool(config: Option<&Config>, report: &mut Report) {
    const AREA: &str = "spool";
    let Some(config) = config else {
        report.note(AREA, "not checked: the config has problems, so the spool path is unknown");
        return;
    };
    let path = &config.spool.path;
    if !path.exists() {
        let dir = path.parent().unwrap_or(Path::new("/"));
        if dir.exists() {
            report.ok(AREA, format!("{} does not exist yet; `labeld serve` creates it", path.display()));
        } else {
            report.note(AREA, format!("{} does not exist yet; `labeld serve` creates it (and {})", path.display(), dir.display()));
        }
        return;
    }
    match labeld::spool::Spool::open(path) {
        Ok(spool) => match spool.integrity_check() {
            Ok(problems) if problems.is_empty() => report.ok(AREA, format!("{} passes the integrity check", path.display())),
            Ok(problems) => {
                for p in problems {
                    report.problem(
                        AREA,
                        format!("{}: {p}", path.display()),
                        "stop labeld, copy the spool aside, and restore it from backup or ask support; do not delete it: it holds unprinted jobs",
                    );
                }
            }
            Err(e) => report.problem(AREA, format!("{}: integrity check failed: {e}", path.display()), "stop labeld and check the disk (dmesg, fsck)"),
        },
        Err(e) => report.problem(
            AREA,
            format!("cannot open {}: {e}", path.display()),
            format!("check that the file is a labeld spool and that {SERVICE_USER} owns /var/lib/labeld"),
        ),
    }
    keep_spool_owner(path);
}

/// Opening the spool as root may leave `-wal`/`-shm` files owned by root, which the service user could
/// then not open. Give them the database file's owner.
fn keep_spool_owner(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let Ok(db) = std::fs::metadata(path) else { return };
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let Ok(meta) = std::fs::metadata(&side) else { continue };
        if (meta.uid() != db.uid() || meta.gid() != db.gid())
            && let Ok(c) = std::ffi::CString::new(Path::new(&side).as_os_str().as_bytes())
        {
            // SAFETY: valid NUL-terminated path; chown(2) only reads it. Failure leaves things as they were.
            unsafe { libc::chown(c.as_ptr(), db.uid(), db.gid()) };
        }
    }
}

// ---------------------------------------------------------------- feed

/// `[feed.nats]` servers, read from the raw file so the check works whatever the rest of the config says.
fn nats_servers(config_path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(config_path) else { return Vec::new() };
    let Ok(value) = text.parse::<toml::Table>() else { return Vec::new() };
    let Some(nats) = value.get("feed").and_then(|f| f.get("nats")) else { return Vec::new() };
    let mut out = Vec::new();
    for key in ["servers", "server", "url", "urls"] {
        match nats.get(key) {
            Some(toml::Value::String(s)) => out.extend(s.split(',').map(|s| s.trim().to_string())),
            Some(toml::Value::Array(a)) => out.extend(a.iter().filter_map(|v| v.as_str().map(str::to_string))),
            _ => {}
        }
    }
    if out.is_empty() {
        out.push("nats://127.0.0.1:4222".into()); // the NATS client default
    }
    out
}

/// host:port of a NATS server URL (`nats://user:pass@host:4222`, `tls://host`, `host:port`, `host`).
fn nats_host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let rest = rest.split('/').next().unwrap_or(rest);
    let has_port = if rest.starts_with('[') { rest.contains("]:") } else { rest.contains(':') };
    if has_port { rest.to_string() } else { format!("{rest}:4222") }
}

fn check_feed(config_path: &Path, config: Option<&Config>, report: &mut Report) {
    const AREA: &str = "feed";
    // A valid config gives the servers labeld will really use; otherwise the raw file's, so a config
    // typo elsewhere does not hide an unreachable broker.
    let servers = match config {
        Some(c) => c.feed_nats.as_ref().map(|f| f.servers.clone()).unwrap_or_default(),
        None => nats_servers(config_path),
    };
    if servers.is_empty() {
        report.note(AREA, "no [feed.nats] configured; orders arrive over HTTP only");
        return;
    }
    if let Some(feed) = config.and_then(|c| c.feed_nats.as_ref()) {
        report.note(AREA, format!("station {} of warehouse {} consumes {} (stream {})", feed.station, feed.warehouse, feed.subject(), feed.stream));
    }
    for url in servers {
        let addr = nats_host_port(&url);
        let shown = addr.clone(); // never the credentials in the URL
        let resolved: Vec<_> = match addr.to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => {
                report.problem(AREA, format!("NATS server {shown}: cannot resolve: {e}"), "check the host name in [feed.nats] and the DNS settings");
                continue;
            }
        };
        let connected = resolved.iter().any(|a| TcpStream::connect_timeout(a, Duration::from_secs(3)).is_ok());
        if connected {
            report.ok(AREA, format!("NATS server {shown} accepts connections"));
        } else {
            report.problem(
                AREA,
                format!("NATS server {shown} does not accept a TCP connection"),
                "check that the broker runs and that a firewall allows this PC to reach its port (4222 by default)",
            );
        }
    }
}

// ---------------------------------------------------------------- output

const AREA_TITLES: &[(&str, &str)] = &[
    ("fonts", "Fonts"),
    ("config", "Config"),
    ("usb", "USB printers"),
    ("serial", "Serial printers and service user"),
    ("spool", "Spool"),
    ("feed", "Order feed"),
];

fn print_text(config: &Path, report: &Report) {
    println!("labeld doctor (config {})", config.display());
    for (area, title) in AREA_TITLES {
        println!("\n{title}");
        for f in report.findings.iter().filter(|f| f.area == *area) {
            let tag = match f.status {
                Status::Ok => "ok     ",
                Status::Note => "note   ",
                Status::Warning => "WARNING",
                Status::Problem => "PROBLEM",
            };
            println!("  {tag}  {}", f.message);
            if let Some(fix) = &f.fix {
                println!("           fix: {fix}");
            }
        }
    }
    match report.problems() {
        0 => println!("\nNo problems found."),
        1 => println!("\n1 problem found."),
        n => println!("\n{n} problems found."),
    }
}

fn print_json(config: &Path, report: &Report) {
    let findings: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| serde_json::json!({ "area": f.area, "status": f.status.as_str(), "message": f.message, "fix": f.fix }))
        .collect();
    let out = serde_json::json!({
        "config": config.display().to_string(),
        "problems": report.problems(),
        "findings": findings,
    });
    println!("{}", serde_json::to_string_pretty(&out).expect("JSON of strings"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_urls_to_host_port() {
        assert_eq!(nats_host_port("nats://broker.example:4223"), "broker.example:4223");
        assert_eq!(nats_host_port("tls://user:secret@broker"), "broker:4222");
        assert_eq!(nats_host_port("10.0.0.5"), "10.0.0.5:4222");
        assert_eq!(nats_host_port("[::1]:4222"), "[::1]:4222");
    }
}
