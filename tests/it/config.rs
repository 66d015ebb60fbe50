//! labeld.toml: the packaged default loads, every bad case is named with line:column, and all
//! problems of a file are reported together.

use std::path::{Path, PathBuf};
use std::time::Duration;

use labeld::config::{AnyDriver, Config, PrinterUri, Role};

use crate::common;

fn packaged() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("packaging/labeld.toml")
}

fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, Path::new("labeld.toml"), &AnyDriver).map_err(|e| e.to_string())
}

fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("config unexpectedly valid:\n{text}"),
        Err(e) => e.lines().map(str::to_string).collect(),
    }
}

#[test]
fn packaged_default_loads() {
    let config = Config::load(&packaged(), &AnyDriver).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8631");
    assert!(config.server.token.is_none());
    assert_eq!(
        config.server.effective_allowed_hosts(),
        ["localhost:8631", "127.0.0.1:8631", "[::1]:8631"]
    );
    assert_eq!(config.spool.path, PathBuf::from("/var/lib/labeld/spool.db"));
    assert_eq!(config.spool.retention, Duration::from_secs(7 * 86400));
    assert!(config.warehouses.is_empty());
    assert!(config.printers.is_empty());
}

/// The commented examples in the packaged file are themselves valid once uncommented.
#[test]
fn packaged_examples_are_valid() {
    let text = std::fs::read_to_string(packaged()).unwrap();
    let examples = text.find("# One [[printer]]").unwrap();
    let uncommented: String = text[..examples].to_string()
        + &text[examples..]
        .lines()
        .map(|l| {
            let keep = ["# [[printer]]", "# name =", "# driver =", "# uri =", "# role ="];
            if keep.iter().any(|k| l.starts_with(k)) { &l[2..] } else { l }
        })
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let config = Config::parse(&uncommented, &packaged(), &AnyDriver).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = config.printers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["dock-1", "dock-2", "office", "bench"]);
    assert_eq!(config.printers[0].uri, PrinterUri::Usb { vid: 0x0a5f, pid: 0x0164, serial: None });
    assert_eq!(config.printers[1].role, Role::Label);
    assert_eq!(config.printers[2].role, Role::Picklist);
    assert_eq!(config.printers[2].uri, PrinterUri::Tcp { host: "192.168.1.50".into(), port: 9100 });
}

#[test]
fn full_config_with_registry_file() {
    let registry = common::fixtures().join("warehouses.toml");
    let text = format!(
        r#"
[server]
listen = "0.0.0.0:8631"
token = "0123456789abcdef0123"
allowed_hosts = ["labels.local:8631"]
allowed_origins = ["https://wms.example.com", "http://10.0.0.2:8080"]

[spool]
path = "spool/labeld.db"
retention = "36h"

[warehouses]
file = "{}"

[[printer]]
name = "dock-1"
driver = "zd421"
uri = "usb://0a5f:0164/XXQ2214"

[[printer]]
name = "pick"
driver = "tspl-203"
uri = "serial:///dev/ttyUSB0?baud=115200"
role = "picklist"
"#,
        registry.display()
    );
    let config = Config::parse(&text, Path::new("/etc/labeld/labeld.toml"), &["zd421", "tspl-203"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.server.token.as_ref().unwrap().expose(), "0123456789abcdef0123");
    assert!(!format!("{config:?}").contains("0123456789abcdef0123"), "Debug must not print the token");
    assert_eq!(config.server.effective_allowed_hosts(), ["labels.local:8631"]);
    assert_eq!(config.spool.path, PathBuf::from("/etc/labeld/spool/labeld.db"));
    assert_eq!(config.spool.retention, Duration::from_secs(36 * 3600));
    assert_eq!(config.warehouses.len(), 5);
    let sz = &config.warehouses["WH-SZ-01"];
    assert_eq!(sz.name, "Acme Fulfilment Shenzhen");
    assert_eq!(sz.lines, ["Bldg 3, 18 Gaoxin South 7th Rd", "Nanshan District"]);
    assert_eq!(sz.postal_code, "518057");
    assert_eq!(config.warehouses["WH-MAN-01"].region, "");
    assert_eq!(config.printer("pick").unwrap().role, Role::Picklist);
    assert_eq!(config.printer("dock-1").unwrap().driver_at.line, 17);
}

#[test]
fn inline_registry() {
    let text = r#"
[warehouses.warehouse."WH-1"]
name = "Acme"
lines = ["1 Road"]
city = "Town"
country = "MY"
"#;
    let config = parse(text).unwrap();
    assert_eq!(config.warehouses["WH-1"].city, "Town");
    assert_eq!(config.warehouses["WH-1"].phone, None);
}

/// Each bad case: the config and the exact first line of the report.
#[test]
fn each_problem_is_named_with_line_and_column() {
    let cases: &[(&str, &str)] = &[
        (
            "[[printer]]\nname = \"dock-2\"\ndriver = \"zd421\"\nuri = \"lpt://1\"\n",
            "labeld.toml:4:7: printer \"dock-2\": uri: scheme: `lpt` is not one of usb, serial, tcp, file",
        ),
        (
            "[server]\nlisten = \"0.0.0.0:8631\"\n",
            "labeld.toml:2:10: server: listen: 0.0.0.0:8631 is not a loopback address, so server.token is required",
        ),
        (
            "[server]\nlisten = \"localhost\"\n",
            "labeld.toml:2:10: server: listen: \"localhost\" is not an IP address with a port, e.g. 127.0.0.1:8631, or localhost:8631",
        ),
        (
            "[server]\ntoken = \"secret\"\n",
            "labeld.toml:2:9: server: token: too short or padded with spaces; use at least 16 characters (e.g. `openssl rand -hex 16`)",
        ),
        (
            "[server]\nallowed_origins = [\"*\"]\n",
            "labeld.toml:2:20: server: allowed_origins[0]: \"*\": wildcard and null origins are not allowed; name each origin",
        ),
        (
            "[server]\nallowed_origins = [\"https://wms.example.com/\"]\n",
            "labeld.toml:2:20: server: allowed_origins[0]: \"https://wms.example.com/\" is not an origin; write scheme://host[:port] without a path, e.g. https://wms.example.com",
        ),
        (
            "[server]\nallowed_hosts = [\"*.example.com\"]\n",
            "labeld.toml:2:18: server: allowed_hosts[0]: \"*.example.com\": wildcards are not allowed (they defeat the DNS-rebinding check)",
        ),
        (
            "[server]\nlisten = 8631\n",
            "labeld.toml:2:10: server: listen: expected a string, found an integer",
        ),
        (
            "[spool]\nretention = \"7 days\"\n",
            "labeld.toml:2:13: spool: retention: \"7 days\" is not a duration such as \"7d\", \"36h\" or \"90m\" (units: s, m, h, d, w)",
        ),
        (
            "[spool]\nretension = \"7d\"\n",
            "labeld.toml:2:1: spool: unknown key \"retension\" (expected one of: path, retention)",
        ),
        ("[sever]\nlisten = \"127.0.0.1:1\"\n", "labeld.toml:1:2: unknown key \"sever\" (expected one of: comply, deadlines, documents, feed, picklist, printer, server, spool, warehouses)"),
        (
            "[[printer]]\nname = \"a\"\ndriver = \"zd421\"\n",
            "labeld.toml:1:1: printer \"a\": uri: missing (required)",
        ),
        (
            "[[printer]]\nname = \"a\"\ndriver = \"zd421\"\nuri = \"tcp://p\"\nrole = \"labels\"\n",
            "labeld.toml:5:8: printer \"a\": role: \"labels\" must be label or picklist",
        ),
        (
            "[[printer]]\nname = \"dock 1\"\ndriver = \"zd421\"\nuri = \"tcp://p\"\n",
            "labeld.toml:2:8: printer \"dock 1\": name: use only letters, digits, '-', '_' and '.' (it appears in URLs)",
        ),
        (
            "[[printer]]\nname = \"a\"\ndriver = \"zd421\"\nuri = \"tcp://p\"\n[[printer]]\nname = \"a\"\ndriver = \"zd421\"\nuri = \"tcp://q\"\n",
            "labeld.toml:6:8: printer \"a\": name: already used by the printer on line 2",
        ),
        (
            "[[printer]]\nname = \"a\"\ndriver = \"zd421\"\nuri = \"tcp://p\"\n[[printer]]\nname = \"b\"\ndriver = \"zd421\"\nuri = \"tcp://p:9100\"\n",
            "labeld.toml:8:7: printer \"b\": uri: tcp://p:9100 is already printer \"a\"",
        ),
        (
            "[[printer]]\nname = \"a\"\ndriver = \"zd421\"\nuri = \"tcp://p\"\ncolour = \"red\"\n",
            "labeld.toml:5:1: printer \"a\": unknown key \"colour\" (expected one of: driver, fit, link_bytes_per_second, max_label_seconds, name, role, status, uri)",
        ),
        ("[printer]\nname = \"a\"\n", "labeld.toml:1:1: printer: expected [[printer]] entries, found a table"),
        (
            "[warehouses.warehouse.\"W\"]\nname = \"A\"\nlines = [\"x\"]\ncity = \"C\"\ncountry = \"Malaysia\"\n",
            "labeld.toml:5:11: warehouse \"W\": country: \"Malaysia\" is not an ISO 3166 alpha-2 code such as \"CN\"",
        ),
        (
            "[warehouses]\n",
            "labeld.toml:1:1: warehouses: give file = \"warehouses.toml\" or inline [warehouses.warehouse.\"ID\"] entries",
        ),
    ];
    for (text, expected) in cases {
        let got = problems(text);
        assert_eq!(got[0], *expected, "config:\n{text}\nall problems: {got:#?}");
    }
}

#[test]
fn toml_syntax_errors_have_positions() {
    let got = problems("[server]\nlisten = \"127.0.0.1:8631\n");
    assert!(got[0].starts_with("labeld.toml:2:"), "{got:?}");
    assert!(got[0].contains("TOML syntax"), "{got:?}");
}

#[test]
fn unknown_driver_names_the_known_ones() {
    let text = "[[printer]]\nname = \"dock-1\"\ndriver = \"zd999\"\nuri = \"tcp://p\"\n";
    let err = Config::parse(text, Path::new("labeld.toml"), &["zd421", "tspl-203"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "labeld.toml:3:10: printer \"dock-1\": driver: unknown printer profile \"zd999\" (known: zd421, tspl-203)"
    );
    // The same check after loading, for catalogues that are only known later.
    let config = parse(text).unwrap();
    let err = config.check_drivers(Path::new("labeld.toml"), &["zd421"]).unwrap_err();
    assert_eq!(err.problems[0].line, 3);
    assert_eq!(err.problems[0].column, 10);
}

#[test]
fn all_problems_are_reported_together() {
    let text = r#"[server]
listen = "0.0.0.0:8631"
allowed_origins = ["*"]

[spool]
retention = "forever"
colour = "blue"

[[printer]]
name = "dock-1"
driver = "zd421"
uri = "lpt://1"

[[printer]]
name = "dock-2"
uri = "usb://0a5f"
role = "label"
"#;
    let got = problems(text);
    assert_eq!(
        got,
        [
            "labeld.toml:2:10: server: listen: 0.0.0.0:8631 is not a loopback address, so server.token is required",
            "labeld.toml:3:20: server: allowed_origins[0]: \"*\": wildcard and null origins are not allowed; name each origin",
            "labeld.toml:6:13: spool: retention: \"forever\" is not a duration such as \"7d\", \"36h\" or \"90m\" (units: s, m, h, d, w)",
            "labeld.toml:7:1: spool: unknown key \"colour\" (expected one of: path, retention)",
            "labeld.toml:12:7: printer \"dock-1\": uri: scheme: `lpt` is not one of usb, serial, tcp, file",
            "labeld.toml:14:1: printer \"dock-2\": driver: missing (required)",
            "labeld.toml:16:7: printer \"dock-2\": uri: vendor id: `0a5f` is not VID:PID (four hex digits each, like 0a5f:0181)",
        ]
    );
}

#[test]
fn problems_in_the_registry_file_point_into_that_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wh.toml"), "[warehouse.\"W\"]\nname = \"A\"\ncity = \"C\"\ncountry = \"MY\"\nfax = \"1\"\n").unwrap();
    std::fs::write(dir.path().join("labeld.toml"), "[warehouses]\nfile = \"wh.toml\"\n").unwrap();
    let err = Config::load(&dir.path().join("labeld.toml"), &AnyDriver).unwrap_err();
    let wh = dir.path().join("wh.toml").display().to_string();
    let got: Vec<String> = err.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        got,
        [
            format!("{wh}:1:1: warehouse \"W\": lines: missing or empty (the street address lines)"),
            format!("{wh}:5:1: warehouse \"W\": unknown key \"fax\" (expected one of: city, country, district, lines, name, phone, postal_code, region)"),
        ]
    );
    let missing = Config::parse("[warehouses]\nfile = \"nope.toml\"\n", &dir.path().join("labeld.toml"), &AnyDriver).unwrap_err();
    assert!(missing.problems[0].message.starts_with("warehouses: file: cannot read"), "{missing}");
    assert_eq!((missing.problems[0].line, missing.problems[0].column), (2, 8));
}

#[test]
fn fixture_registry_parses() {
    let path = common::fixtures().join("warehouses.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let registry = labeld::config::parse_warehouses(&text, &path).unwrap();
    let ids: Vec<&str> = registry.keys().map(String::as_str).collect();
    assert_eq!(ids, ["WH-BKK-01", "WH-KUL-01", "WH-LAX-01", "WH-MAN-01", "WH-SZ-01"]);
}

/// The config's registry is the same registry the compliance checker reads from the file itself.
#[test]
fn registry_matches_the_checkers_reading() {
    let path = common::fixtures().join("warehouses.toml");
    let text = format!("[warehouses]\nfile = \"{}\"\n", path.display());
    let config = parse(&text).unwrap();
    assert_eq!(labeld::comply::Registry::of(&config.warehouses), labeld::comply::Registry::load(&path).unwrap());
}

#[test]
fn picklist_bins_and_walk() {
    use labeld::bins::{BinPattern, Walk};
    let default = parse("").unwrap();
    assert_eq!(default.bins, BinPattern::default());
    let custom = parse("[picklist]\nbins = \"{aisle}.{bay}.{level}\"\nwalk = \"serpentine\"\n").unwrap();
    assert_eq!(custom.bins, BinPattern::parse("{aisle}.{bay}.{level}", Walk::Serpentine).unwrap());
    let bad = problems("[picklist]\nbins = \"{row}-{shelf}\"\nwalk = \"zigzag\"\n");
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad[0].starts_with("labeld.toml:2:") && bad[0].contains("picklist: bins") && bad[0].contains("{row}"), "{bad:?}");
    assert!(bad[1].starts_with("labeld.toml:3:") && bad[1].contains("zigzag"), "{bad:?}");
}

/// `[comply] lexicon_dir` adds a warehouse's own words to the label rules; a bad term is a config problem that
/// names the file, the key and the term.
#[test]
fn comply_lexicon_dir_adds_words_and_reports_bad_ones() {
    use labeld::comply::{NoSpool, Rule};
    let dir = std::env::temp_dir().join(format!("labeld-lexicon-{}", std::process::id()));
    let words = dir.join("lexicon");
    std::fs::create_dir_all(&words).unwrap();
    std::fs::write(words.join("local.toml"), "# our region's shop sites\nmarketplaces = [\"Zibbet\"]\nreviews = [\"rate … gold\"]\n").unwrap();
    let origin = dir.join("labeld.toml");
    let config = Config::parse("[comply]\nlexicon_dir = \"lexicon\"\n", &origin, &AnyDriver).unwrap_or_else(|e| panic!("{e}"));
    let (_, mut order) = common::fixture_orders().into_iter().find(|(n, _)| n == "my-jnt-cod").unwrap();
    order.label_note = Some("Also on Zibbet".into());
    assert!(labeld::comply::Checker::new(None).check_order(&order, &NoSpool).is_printable(), "not a built-in word");
    let report = labeld::comply::Checker::for_config(&config).unwrap().check_order(&order, &NoSpool);
    assert_eq!(report.rules(), vec![Rule::OffPlatformContact]);
    assert_eq!(report.refusals[0].text, "Zibbet");
    order.label_note = Some("Please rate us gold".into());
    assert_eq!(labeld::comply::Checker::for_config(&config).unwrap().check_order(&order, &NoSpool).rules(), vec![Rule::UnrelatedContent]);
    // The built-in words are still there.
    order.label_note = Some("WhatsApp 012-888 7777".into());
    assert_eq!(labeld::comply::Checker::for_config(&config).unwrap().check_order(&order, &NoSpool).rules(), vec![Rule::OffPlatformContact]);

    std::fs::write(words.join("local.toml"), "offers = [\"re:(unclosed\"]\n").unwrap();
    // The config names the directory; the rules read it, and a bad list is a problem at the key.
    let rules = |text: &str| labeld::comply::Checker::for_config(&Config::parse(text, &origin, &AnyDriver).unwrap()).map(|_| ());
    let e = rules("[comply]\nlexicon_dir = \"lexicon\"\n").unwrap_err().to_string();
    assert!(e.contains("labeld.toml:2:15") && e.contains("local.toml: offers: term \"re:(unclosed\""), "{e}");
    let e = rules("[comply]\nlexicon_dir = \"nowhere\"\n").unwrap_err().to_string();
    assert!(e.contains("comply: lexicon_dir:") && e.contains("nowhere"), "{e}");
    let e = Config::parse("[comply]\nlexicon = \"lexicon\"\n", &origin, &AnyDriver).unwrap_err().to_string();
    assert!(e.contains("comply") && e.contains("lexicon"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
