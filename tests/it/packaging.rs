//! The Debian package and `labeld doctor`.
//!
//! The package is built by packaging/build-deb.sh (dpkg-deb from a staged tree; the same layout as
//! `cargo deb`) around the test build of the binary, extracted with `dpkg-deb -x` into a scratch root and
//! inspected. The udev rules are compared with the ones generated from drivers/. Doctor runs for real on
//! this machine: whatever USB situation it has, a config with several problems, a fonts dir with only
//! DejaVu, a healthy and a damaged spool, a reachable and an unreachable NATS port.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{self, have};
use labeld::packaging_support::udev_rules;
use labeld::printer::Profiles;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------- udev rules

#[test]
fn udev_rules_match_drivers() {
    // From the files in drivers/, not only the compiled-in copies: the committed rules must follow both.
    let from_dir = Profiles::with_dir(&root().join("drivers")).unwrap();
    let generated = udev_rules(&from_dir);
    assert_eq!(generated, udev_rules(&Profiles::builtin()), "drivers/ on disk differs from the profiles compiled in");
    let committed_path = root().join("packaging/60-labeld.rules");
    if std::env::var_os("LABELD_BLESS").is_some() {
        std::fs::write(&committed_path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "packaging/60-labeld.rules is out of date with drivers/; regenerate with \
         LABELD_BLESS=1 cargo test --test it packaging::udev_rules_match_drivers\n--- generated:\n{generated}"
    );
    // Every id in drivers/ appears as a rule line, in the form udev compares (lowercase hex, 4 digits).
    for p in from_dir.all() {
        for (vid, pid) in &p.usb_ids {
            let line = format!("ATTR{{idVendor}}==\"{vid:04x}\", ATTR{{idProduct}}==\"{pid:04x}\", MODE=\"0660\", GROUP=\"lp\"");
            assert!(committed.lines().any(|l| l.starts_with(&line)), "{}: no rule for {vid:04x}:{pid:04x}", p.name);
        }
    }
    // udev itself checks the syntax (`udevadm verify`, systemd >= 254; .ci/run puts one on PATH).
    if !have("udevadm") {
        common::skip("LABELD_REQUIRE_UDEV", "udevadm is not installed; rules syntax not verified by udev");
        return;
    }
    let out = Command::new("udevadm").arg("verify").arg(&committed_path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Unknown command") || stderr.contains("invalid") {
        common::skip("LABELD_REQUIRE_UDEV", "this udevadm has no `verify` (systemd >= 254)");
        return;
    }
    assert!(out.status.success(), "udevadm verify: {stderr}{}", String::from_utf8_lossy(&out.stdout));
    // And it would notice a broken rule: the check can fail.
    let broken = tempfile::tempdir().unwrap();
    let bad = broken.path().join("60-broken.rules");
    std::fs::write(&bad, "ATTR{idVendor}==\"0a5f\", MODE=\"0660\" GROUP=\"lp\"\n").unwrap();
    assert!(!Command::new("udevadm").arg("verify").arg(&bad).output().unwrap().status.success(), "udevadm verify passed a broken rule");
}

// ---------------------------------------------------------------- the .deb

struct Extracted {
    root: PathBuf,
    control: PathBuf,
}

/// Built once per test run (both package tests use it) under the target dir's scratch space.
fn build_and_extract() -> Option<&'static Extracted> {
    static BUILT: std::sync::OnceLock<Option<Extracted>> = std::sync::OnceLock::new();
    BUILT.get_or_init(build).as_ref()
}

fn build() -> Option<Extracted> {
    if !have("dpkg-deb") {
        common::skip("LABELD_REQUIRE_DEB", "dpkg-deb is not installed");
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("packaging-deb");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(root().join("packaging/build-deb.sh"))
        .arg(env!("CARGO_BIN_EXE_labeld"))
        .arg(&dir)
        .env("DEB_COMPRESS", "none") // the test reads the package once; compression only costs time
        .output()
        .unwrap();
    assert!(out.status.success(), "build-deb.sh failed: {}", String::from_utf8_lossy(&out.stderr));
    let deb = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(deb.file_name().unwrap().to_string_lossy().starts_with(&format!("labeld_{}_", env!("CARGO_PKG_VERSION"))));
    let extracted = dir.join("root");
    let control = dir.join("control");
    for (flag, to) in [("-x", &extracted), ("-e", &control)] {
        let st = Command::new("dpkg-deb").arg(flag).arg(&deb).arg(to).status().unwrap();
        assert!(st.success(), "dpkg-deb {flag}");
    }
    // Directories in the package are world-readable (the staging dir starts out 0700).
    let listing = Command::new("dpkg-deb").arg("-c").arg(&deb).output().unwrap();
    for line in String::from_utf8_lossy(&listing.stdout).lines() {
        assert!(line.starts_with("drwxr-xr-x") || !line.starts_with('d'), "bad directory mode: {line}");
        assert!(line.contains(" root/root "), "not owned by root: {line}");
    }
    Some(Extracted { root: extracted, control })
}

#[test]
fn deb_installs_the_expected_files() {
    let Some(x) = build_and_extract() else { return };
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777;

    let bin = x.root.join("usr/bin/labeld");
    assert_eq!(mode(&bin), 0o755);
    let version = Command::new(&bin).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("labeld {}", env!("CARGO_PKG_VERSION")));

    let same = |installed: &str, source: &str| {
        let a = std::fs::read(x.root.join(installed)).unwrap_or_else(|e| panic!("{installed} missing from the package: {e}"));
        assert_eq!(a, std::fs::read(root().join(source)).unwrap(), "{installed} differs from {source}");
        assert_eq!(mode(&x.root.join(installed)), 0o644, "{installed}");
    };
    same("lib/systemd/system/labeld.service", "packaging/labeld.service");
    same("lib/udev/rules.d/60-labeld.rules", "packaging/60-labeld.rules");
    same("etc/labeld/labeld.toml", "packaging/labeld.toml");
    assert!(x.root.join("usr/share/doc/labeld/copyright").is_file());

    for script in ["postinst", "prerm", "postrm"] {
        let p = x.control.join(script);
        assert_eq!(mode(&p), 0o755, "{script}");
        assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(root().join("packaging/debian").join(script)).unwrap());
        let st = Command::new("sh").arg("-n").arg(&p).status().unwrap();
        assert!(st.success(), "{script} is not valid sh");
    }
    let postinst = std::fs::read_to_string(x.control.join("postinst")).unwrap();
    for needed in ["adduser --system --group", "adduser labeld \"$group\"", "for group in lp dialout", "udevadm control --reload-rules", "deb-systemd-helper enable labeld.service", "install -d -o labeld -g labeld -m 0750 /var/lib/labeld", "chmod 0640 /etc/labeld/labeld.toml"] {
        assert!(postinst.contains(needed), "postinst lacks {needed:?}");
    }
    assert_eq!(std::fs::read_to_string(x.control.join("conffiles")).unwrap().trim(), "/etc/labeld/labeld.toml");
    let control = std::fs::read_to_string(x.control.join("control")).unwrap();
    assert!(control.contains("Package: labeld\n"), "{control}");
    assert!(control.contains(&format!("Version: {}\n", env!("CARGO_PKG_VERSION"))), "{control}");
    let depends = control.lines().find(|l| l.starts_with("Depends:")).unwrap_or_else(|| panic!("no Depends: {control}"));
    assert!(depends.contains("adduser"), "{depends}");
    // Every shared library the binary needs comes from a package the .deb depends on.
    if have("objdump") && have("dpkg") {
        let dynamic = Command::new("objdump").arg("-p").arg(&bin).output().unwrap();
        for lib in String::from_utf8_lossy(&dynamic.stdout).lines().filter_map(|l| l.trim().strip_prefix("NEEDED")).map(str::trim) {
            let owner = Command::new("dpkg").arg("-S").arg(format!("*/{lib}")).output().unwrap();
            let owner = String::from_utf8_lossy(&owner.stdout);
            let package = owner.split(':').next().unwrap_or_default().trim();
            assert!(!package.is_empty(), "no package provides {lib}");
            assert!(depends.split([',', ' ']).any(|d| d == package), "{lib} is in {package}, missing from {depends}");
        }
    } else {
        common::skip("LABELD_REQUIRE_DEB", "objdump (binutils) or dpkg is missing; library dependencies not checked");
    }

    // The same files are listed for cargo-deb, so `cargo deb` and build-deb.sh install the same things.
    let manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml")).unwrap().parse().unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets: Vec<String> = deb["assets"].as_array().unwrap().iter().map(|a| format!("{}{}", a[1].as_str().unwrap(), Path::new(a[0].as_str().unwrap()).file_name().unwrap().to_string_lossy())).collect();
    for a in &assets {
        assert!(x.root.join(a).is_file(), "cargo-deb asset {a} is not in the build-deb.sh package");
    }
    assert_eq!(deb["conf-files"].as_array().unwrap()[0].as_str(), Some("/etc/labeld/labeld.toml"));
    assert_eq!(deb["maintainer-scripts"].as_str(), Some("packaging/debian/"));

    // The extracted binary runs doctor against the extracted config.
    let out = Command::new(&bin).arg("doctor").arg("--config").arg(x.root.join("etc/labeld/labeld.toml")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Config\n  ok "), "packaged config not valid:\n{text}");
}

#[test]
fn systemd_accepts_the_unit() {
    if !have("systemd-analyze") {
        common::skip("LABELD_REQUIRE_SYSTEMD", "systemd-analyze is not installed");
        return;
    }
    let Some(x) = build_and_extract() else { return };
    // Verify the installed unit with ExecStart pointing at the extracted binary (verify checks it exists).
    let unit = std::fs::read_to_string(x.root.join("lib/systemd/system/labeld.service")).unwrap();
    let bin = x.root.join("usr/bin/labeld");
    let unit = unit.replace("ExecStart=/usr/bin/labeld", &format!("ExecStart={}", bin.display()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labeld.service");
    std::fs::write(&path, &unit).unwrap();
    let out = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Lines about the labeld unit itself; verify also loads the host's units and may complain about those.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("labeld.service")).collect();
    if !out.status.success() && ours.is_empty() && stderr.contains("System has not been booted with systemd") {
        common::skip("LABELD_REQUIRE_SYSTEMD", &format!("systemd-analyze verify cannot run here: {stderr}"));
        return;
    }
    assert!(ours.is_empty() && out.status.success(), "systemd-analyze verify rejected the unit:\n{stderr}");
    for key in ["Type=notify", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "StateDirectory=labeld", "User=labeld", "SupplementaryGroups=lp dialout"] {
        assert!(unit.lines().any(|l| l == key), "unit lacks {key}");
    }
}

// ---------------------------------------------------------------- doctor

fn doctor(args: &[&str]) -> (Output, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_labeld")).arg("doctor").args(args).arg("--json").output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("doctor --json: {e}\n{}", String::from_utf8_lossy(&out.stdout)));
    let problems = json["problems"].as_u64().unwrap();
    assert_eq!(out.status.code(), Some(if problems == 0 { 0 } else { 1 }), "exit code follows the problem count");
    (out, json)
}

fn doctor_text(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_labeld")).arg("doctor").args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

fn findings<'a>(json: &'a serde_json::Value, area: &str, status: &str) -> Vec<&'a serde_json::Value> {
    json["findings"].as_array().unwrap().iter().filter(|f| f["area"] == area && f["status"] == status).collect()
}

/// A valid config whose spool lives in `dir`.
fn good_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("labeld.toml");
    std::fs::write(&path, format!("[server]\nlisten = \"127.0.0.1:8631\"\n\n[spool]\npath = \"{}\"\n{extra}", dir.join("spool.db").display())).unwrap();
    path
}

#[test]
fn doctor_reports_this_machines_usb_situation() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path(), "");
    let (_, json) = doctor(&["--config", config.to_str().unwrap()]);
    assert!(findings(&json, "config", "problem").is_empty(), "{json:#}");
    assert!(findings(&json, "spool", "problem").is_empty(), "{json:#}");
    let (_, text) = doctor_text(&["--config", config.to_str().unwrap()]);
    if Path::new("/dev/bus/usb").exists() {
        assert!(!findings(&json, "usb", "ok").is_empty() || !findings(&json, "usb", "note").is_empty() || !findings(&json, "usb", "problem").is_empty());
        eprintln!("this machine has a USB bus; the no-USB message is checked only where there is none");
    } else {
        assert!(text.contains("this machine has no USB bus (/dev/bus/usb does not exist"), "{text}");
        // Without USB printers configured, no USB bus is a note, not a problem.
        assert!(findings(&json, "usb", "problem").is_empty(), "{json:#}");
        // With one configured, it is a problem naming the printer, with a fix.
        let with_usb = good_config(dir.path(), "\n[[printer]]\nname = \"dock-1\"\ndriver = \"zebra-gk420d\"\nuri = \"usb://0a5f:0080\"\n");
        let (out, json) = doctor(&["--config", with_usb.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let usb = findings(&json, "usb", "problem");
        assert_eq!(usb.len(), 1, "{json:#}");
        assert!(usb[0]["message"].as_str().unwrap().contains("dock-1"));
        assert!(usb[0]["fix"].as_str().unwrap().contains("tcp://"));
    }
    for section in ["Fonts", "Config", "USB printers", "Serial printers and service user", "Spool", "Order feed"] {
        assert!(text.contains(&format!("\n{section}\n")), "section {section} missing:\n{text}");
    }
}

#[test]
fn doctor_lists_every_config_problem_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"0.0.0.0:8631\"\ncolour = \"blue\"\n\n[spool]\nretention = \"7 fortnights\"\n\n\
         [[printer]]\nname = \"dock-1\"\ndriver = \"no-such-printer\"\nuri = \"usb://0a5f\"\n",
    )
    .unwrap();
    let (code, text) = doctor_text(&["--config", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    let (_, json) = doctor(&["--config", path.to_str().unwrap()]);
    let problems = findings(&json, "config", "problem");
    assert!(problems.len() >= 4, "expected the non-loopback listen without token, unknown key, bad retention, unknown driver and bad URI:\n{json:#}");
    let all: String = problems.iter().map(|p| p["message"].as_str().unwrap().to_string() + "\n").collect();
    for needle in ["colour", "retention", "no-such-printer", "bad.toml:3"] {
        assert!(all.contains(needle), "{needle} not reported:\n{all}");
    }
    assert!(problems.iter().all(|p| p["fix"].as_str().is_some_and(|f| f.contains("bad.toml"))));
    assert!(text.contains("PROBLEM") && text.contains("fix: edit"), "{text}");
    // The spool cannot be checked without a valid config, and doctor says so.
    assert!(findings(&json, "spool", "note")[0]["message"].as_str().unwrap().contains("config has problems"));

    let (_, json) = doctor(&["--config", dir.path().join("absent.toml").to_str().unwrap()]);
    assert!(findings(&json, "config", "problem")[0]["message"].as_str().unwrap().contains("does not exist"));
}

#[test]
fn doctor_names_the_packages_for_missing_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let fonts = dir.path().join("fonts");
    std::fs::create_dir(&fonts).unwrap();
    std::fs::write(fonts.join("DejaVuSans.ttf"), dejavu::sans::regular()).unwrap();
    let config = good_config(dir.path(), "");
    let (out, json) = doctor(&["--config", config.to_str().unwrap(), "--no-system-fonts", "--font-dir", fonts.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let ok: Vec<&str> = findings(&json, "fonts", "ok").iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert!(ok.iter().any(|m| m.starts_with("Latin: DejaVuSans")), "{ok:?}");
    assert!(ok.iter().any(|m| m.starts_with("Vietnamese: DejaVuSans")), "{ok:?}");
    let problems = findings(&json, "fonts", "problem");
    let fix_for = |script: &str| {
        problems
            .iter()
            .find(|p| p["message"].as_str().unwrap().starts_with(script))
            .unwrap_or_else(|| panic!("{script} not reported missing: {json:#}"))["fix"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(fix_for("Thai"), "apt install fonts-thai-tlwg");
    assert_eq!(fix_for("Han (Chinese)"), "apt install fonts-noto-cjk");
    assert_eq!(fix_for("Hangul"), "apt install fonts-noto-cjk");
    // Scripts outside the markets are notes with the package, not problems.
    let notes = findings(&json, "fonts", "note");
    assert!(notes.iter().any(|n| n["message"].as_str().unwrap().starts_with("Khmer") && n["message"].as_str().unwrap().contains("fonts-noto-core")), "{json:#}");
}

#[test]
fn doctor_checks_spool_integrity() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path(), "");
    drop(labeld::spool::Spool::open(&dir.path().join("spool.db")).unwrap());
    let (_, json) = doctor(&["--config", config.to_str().unwrap()]);
    let ok = findings(&json, "spool", "ok");
    assert!(ok[0]["message"].as_str().unwrap().contains("passes the integrity check"), "{json:#}");

    // Damage the file past its header: doctor must report it, and say not to delete it.
    let db = dir.path().join("spool.db");
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192, "spool smaller than expected: {}", bytes.len());
    for b in &mut bytes[4096..8192] {
        *b = 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    let (out, json) = doctor(&["--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let problems = findings(&json, "spool", "problem");
    assert!(!problems.is_empty(), "damaged spool not reported: {json:#}");
}

#[test]
fn doctor_checks_broker_reachability() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = listener.local_addr().unwrap().port();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = good_config(
        dir.path(),
        &format!(
            "\n[feed.nats]\nservers = [\"nats://127.0.0.1:{up}\", \"nats://user:secret@127.0.0.1:{closed}\"]\n\
             warehouse = \"WH-KUL-01\"\nstation = \"pack-03\"\n"
        ),
    );
    let (out, json) = doctor(&["--config", config.to_str().unwrap()]);
    // A valid config: the feed is checked from what labeld would really use, not from a broken file.
    assert!(findings(&json, "config", "problem").is_empty(), "{json:#}");
    assert_eq!(out.status.code(), Some(1), "the unreachable broker is a problem");
    let station = findings(&json, "feed", "note");
    assert!(
        station.iter().any(|n| n["message"].as_str().unwrap().contains("station pack-03 of warehouse WH-KUL-01 consumes labels.WH-KUL-01.pack-03")),
        "{json:#}"
    );
    let ok = findings(&json, "feed", "ok");
    assert_eq!(ok.len(), 1, "{json:#}");
    assert!(ok[0]["message"].as_str().unwrap().contains(&format!("127.0.0.1:{up} accepts")));
    let bad = findings(&json, "feed", "problem");
    assert_eq!(bad.len(), 1, "{json:#}");
    assert!(bad[0]["message"].as_str().unwrap().contains(&format!("127.0.0.1:{closed}")));
    assert!(!json.to_string().contains("secret"), "credentials in a NATS URL must not be shown");
}
