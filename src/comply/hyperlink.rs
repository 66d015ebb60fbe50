//! Hyperlinks: schemes, `www.`, bare domains with a real top-level domain, shorteners and chat links
//! (`wa.me`, `t.me`, `line.me`).
//!
//! A bare "name.tld" is only a link when the TLD is one people actually register links under and the name
//! before it is not a two-letter abbreviation ("No.CN", "Tp.HN" are addresses, not sites). Abbreviations with a
//! dot are everywhere in addresses, so the TLD list is curated rather than the full IANA root.

use std::sync::LazyLock;

use regex::Regex;

use super::Finding;
use super::Rule;
use super::normalize::Normalized;

/// Hosts that are links whatever their length: chat deep links and URL shorteners.
const KNOWN_HOSTS: &[&str] = &[
    "wa.me", "t.me", "m.me", "ig.me", "fb.me", "line.me", "lin.ee", "zalo.me", "bit.ly", "ow.ly", "t.ly", "cutt.ly",
    "tinyurl.com", "s.id", "shope.ee", "shp.ee", "goo.gl", "is.gd", "v.gd", "rb.gy", "t.co", "x.com", "fb.com",
    "u.to", "tiny.cc", "qr.net", "t.cn", "url.cn", "dwz.cn", "reurl.cc", "lihi.cc", "pse.is", "vt.tiktok.com", "vm.tiktok.com", "wechat.com", "weixin.qq.com", "qq.com",
];

/// Second-level categories under country TLDs (`co.th`, `com.my`, `ac.id`).
const SECOND_LEVEL: &[&str] = &["com", "co", "net", "org", "edu", "gov", "ac", "or", "go", "biz", "web", "in", "mil"];

/// Generic TLDs whose names are not everyday words: any name before them makes a link.
const PLAIN_TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "xyz", "top", "io", "ly", "gl", "ee", "gg", "cc", "tv", "ws", "mobi", "asia",
    "icu", "vip", "app", "edu", "gov",
];

/// Country TLDs and word-like generic TLDs: a link only when the name before them has three or more
/// characters (so "Tp.HN", "No.CN", "Jl.Ir" stay addresses).
const GUARDED_TLDS: &[&str] = &[
    "my", "sg", "th", "id", "vn", "ph", "cn", "hk", "tw", "mo", "jp", "kr", "au", "nz", "uk", "us", "ca", "de", "fr",
    "es", "nl", "ru", "br", "mx", "ar", "cl", "pe", "ae", "sa", "tr", "pk", "bd", "lk", "kh", "la", "mm", "bn", "eu",
    "ch", "se", "dk", "fi", "pl", "pt", "ie", "me", "co", "ai", "shop", "store", "online", "site", "link", "club",
    "live", "website", "tech", "space", "fun", "email", "page", "blog", "cloud", "digital", "click", "store", "pro",
];

/// True when `tld` (lower case) counts as a real top-level domain, with the guard for `name` (the label
/// before it).
pub fn is_link_tld(tld: &str, name: &str) -> bool {
    PLAIN_TLDS.contains(&tld) || (GUARDED_TLDS.contains(&tld) && name.chars().count() >= 3)
}

/// Whether a TLD exists at all (for e-mail domains, where the `@` already says "address").
pub fn is_known_tld(tld: &str) -> bool {
    PLAIN_TLDS.contains(&tld) || GUARDED_TLDS.contains(&tld) || matches!(tld, "in" | "it" | "be" | "at" | "to" | "is")
}

static SCHEME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:https?|hxxps?|h\*\*ps?|ftps?) *(?::+ */ */|//)[^\s]*").unwrap());
static WWW: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"www\d{0,3} *\. *[\p{L}\p{N}-]+[^\s]*").unwrap());
/// "www acmehome com": the dots left out.
static WWW_SPACED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bwww +([a-z0-9-]{2,}) +([a-z]{2,6})\b").unwrap());
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?)*\.([a-z]{2,24})(?:[/:?#][^\s]*)?")
        .unwrap()
});

pub(super) fn find(n: &Normalized, out: &mut Vec<Finding>) {
    let t = &n.text;
    let www = super::holds(t, "www");
    if !www && !t.contains(['.', '/']) {
        return;
    }
    let before = |i: usize| t[..i].chars().next_back();
    let push = |start: usize, end: usize, message: &'static str, out: &mut Vec<Finding>| {
        let end = trim_trailing(t, start, end);
        if !out.iter().any(|f| f.rule == Rule::Hyperlink && f.range.start < end && start < f.range.end) {
            out.push(Finding { rule: Rule::Hyperlink, range: start..end, message: message.into() });
        }
    };
    // Each pattern below is searched only where the text holds what every match of it holds: a call into a
    // regex costs more than these scans, and most fields are addresses and codes with a dot or slash.
    if t.contains('/') {
        for m in SCHEME.find_iter(t) {
            if !before(m.start()).is_some_and(|c| c.is_ascii_alphanumeric()) {
                push(m.start(), m.end(), "a web link; labels may not carry links", out);
            }
        }
    }
    if www {
        for m in WWW.find_iter(t) {
            if !before(m.start()).is_some_and(|c| c.is_ascii_alphanumeric()) {
                push(m.start(), m.end(), "a web address (www.); labels may not carry links", out);
            }
        }
        for c in WWW_SPACED.captures_iter(t) {
            if is_link_tld(&c[2], &c[1]) {
                let m = c.get(0).unwrap();
                push(m.start(), m.end(), "a web address (www.); labels may not carry links", out);
            }
        }
    }
    if !has_dot_tld(t) {
        return;
    }
    for c in DOMAIN.captures_iter(t) {
        let m = c.get(0).unwrap();
        let tld = c.get(1).unwrap();
        if before(m.start()).is_some_and(|c| c.is_ascii_alphanumeric() || "@._%+-".contains(c)) {
            continue;
        }
        if t[tld.end()..].chars().next().is_some_and(|c| c.is_alphanumeric() && c.is_ascii()) {
            continue;
        }
        let host = &t[m.start()..tld.end()];
        let known = KNOWN_HOSTS.iter().any(|k| host == *k || host.strip_suffix(k).is_some_and(|p| p.ends_with('.')));
        // "acme.co.th": the name is the label before the second-level category.
        let mut labels = host[..host.len() - tld.as_str().len() - 1].rsplit('.');
        let mut name = labels.next().unwrap_or("");
        if SECOND_LEVEL.contains(&name) {
            name = labels.next().unwrap_or(name);
        }
        if known {
            push(m.start(), m.end(), "a chat or short link; labels may not carry links", out);
        } else if is_link_tld(tld.as_str(), name) {
            push(m.start(), m.end(), "a web address; labels may not carry links", out);
        }
    }
}

/// Whether `t` has a dot followed by two ASCII lower-case letters, which every [`DOMAIN`] match holds (its
/// top-level domain).
fn has_dot_tld(t: &str) -> bool {
    t.as_bytes().windows(3).any(|w| w[0] == b'.' && w[1].is_ascii_lowercase() && w[2].is_ascii_lowercase())
}

/// A link in prose ends before the sentence's closing punctuation.
fn trim_trailing(t: &str, start: usize, mut end: usize) -> usize {
    while end > start {
        let c = t[..end].chars().next_back().unwrap();
        if ".,;:!?)]}'\"。，！？）」』".contains(c) {
            end -= c.len_utf8();
        } else {
            break;
        }
    }
    end
}
