//! Off-platform contacts: e-mail addresses, phone numbers, messaging and social handles (and their slang in
//! English, Chinese, Thai, Malay/Indonesian, Vietnamese and Spanish), and invitations to buy elsewhere.
//!
//! Precision comes from context. A word that is also an everyday word ("Line Road", "QQ糖", "微波炉", "张薇")
//! is a contact only with a contact's shape around it: an invitation before it ("add", "加", "แอด", "hubungi"),
//! an id marker or colon after it, or a handle that looks like one (`acme_888`, `@acme`, five or more digits).
//! Phone numbers are regex candidates confirmed by libphonenumber's metadata (the `phonenumber` crate); a number
//! without a country prefix must also look like a phone (trunk prefix, grouping, or a phone word before it),
//! because order ids, tracking numbers, EAN codes and dates are digits too.

use std::sync::LazyLock;

use phonenumber::country;
use phonenumber::metadata::{DATABASE, Database};
use phonenumber::PhoneNumber;
use regex::Regex;

use super::normalize::Normalized;
use super::lexicon::{Lexicon, List, Present};
use super::{FieldKind, Finding, Rule, TextContext};

/// `present` says which word lists match in the text at all ([`Lexicon::present`]).
pub(super) fn find(n: &Normalized, cx: &TextContext<'_>, present: Present, out: &mut Vec<Finding>) {
    let t = n.text.as_str();
    if t.contains('@') {
        emails(t, out);
    }
    // A spelled-out address has a dot in its domain.
    if t.contains('.') && super::holds(t, " at ") {
        spelled_emails(t, out);
    }
    if cx.kind != FieldKind::OwnPhone && t.bytes().filter(u8::is_ascii_digit).count() >= 7 {
        phones(t, cx, out);
    }
    // A spelled-out number needs a digit word: without one every run is bare digits.
    if cx.kind != FieldKind::OwnPhone && present.has(List::DigitWords) && (!t.is_ascii() || t.bytes().any(|b| b.is_ascii_alphabetic())) {
        spelled_phones(t, cx, out);
    }
    // The buyer's own name and address are their words: an app's name there ("Line Jensen", "王微信") is a name.
    if cx.kind != FieldKind::Buyer && (!t.is_ascii() || t.bytes().any(|b| b.is_ascii_alphabetic())) {
        messaging(t, cx, present, out);
        if cx.kind != FieldKind::Code {
            elsewhere(t, cx, present, out);
        }
        if t.contains('@') {
            handles(t, out);
        }
    }
}

fn push(out: &mut Vec<Finding>, range: std::ops::Range<usize>, message: &str) {
    if !out.iter().any(|f| f.rule == Rule::OffPlatformContact && f.range.start < range.end && range.start < f.range.end) {
        out.push(Finding { rule: Rule::OffPlatformContact, range, message: message.into() });
    }
}

fn prev_char(t: &str, i: usize) -> Option<char> {
    t[..i].chars().next_back()
}

fn next_char(t: &str, i: usize) -> Option<char> {
    t[i..].chars().next()
}

// ---------------------------------------------------------------------------------------------------------
// E-mail

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"[a-z0-9_](?:[a-z0-9._%+\-]*[a-z0-9_])?@(?:",
        r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,24}",
        r"|(?:gmail|googlemail|yahoo|hotmail|outlook|icloud|qq|163|126|ymail|protonmail|proton|live|foxmail|sina)\b)"
    ))
    .unwrap()
});

fn emails(t: &str, out: &mut Vec<Finding>) {
    for m in EMAIL.find_iter(t) {
        push(out, m.range(), "an e-mail address; labels may not carry contacts outside the platform");
    }
}

static SPELLED_EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[a-z0-9_][a-z0-9._%+\-]* +at +[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9\-]+)*\.([a-z]{2,24})\b").unwrap()
});

/// Mailbox names sellers put before a spelled-out "at".
const MAILBOXES: &[&str] = &[
    "info", "sales", "support", "hello", "hi", "orders", "order", "cs", "admin", "contact", "help", "returns", "service", "shop",
    "kefu", "jualan", "ventas", "vendas", "soporte", "suporte", "contato", "contacto", "lienhe", "cskh", "hotro", "toko", "pedidos",
];

/// A mail word just before the address ("Email:", "邮箱", "emel kami").
static MAIL_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\b(?:e-?mail|mail|emel|correo|write to|escribe a|escreva para)\b|邮箱|郵箱|信箱|電郵|メール|อีเมล)[^\p{L}\p{N}]{0,4}(?:[\p{L}\p{N}]+[^\p{L}\p{N}]{1,3}){0,1}$").unwrap()
});

/// "shop at gmail.com", "orders at acme dot ph" style: `at` written out. Only before a domain with a real TLD,
/// since "at" is an everyday word.
fn spelled_emails(t: &str, out: &mut Vec<Finding>) {
    for c in SPELLED_EMAIL.captures_iter(t) {
        let m = c.get(0).unwrap();
        let tld = c.get(1).unwrap().as_str();
        let domain = &t[m.as_str().rfind(" at ").map_or(m.start(), |i| m.start() + i + 4)..m.end()];
        let provider = ["gmail", "yahoo", "hotmail", "outlook", "icloud", "qq", "163", "126", "proton"].iter().any(|p| domain.starts_with(p));
        // A mail provider, or a mailbox's name before "at" or a mail word before it ("orders at acme dot ph",
        // "Email: jualan at acme dot my"); otherwise "more at acme.com" is a link, and "at" before a place is
        // not an address ("at St. John's", "at Unit 5.02").
        let local = m.as_str().split(" at ").next().unwrap_or("").trim();
        let mailbox = MAILBOXES.contains(&local) || MAIL_WORD.is_match(&t[..m.start()]);
        if super::hyperlink::is_known_tld(tld) && (provider || mailbox) {
            push(out, m.range(), "an e-mail address; labels may not carry contacts outside the platform");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Phone numbers

static PHONE_CANDIDATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+ ?)?(?:\( ?\d{1,5} ?\) ?)?\d+(?:(?: ?[\-./] ?| {1,2}|\) ?| ?\( ?)\d+)*").unwrap()
});

/// Words that say the number after them is an identifier, not a phone.
static ID_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:\b(?:part|model|serial|s/n|sn|sku|ref|reference|invoice|inv|batch|lot|order|item|article|art|code|kode|kod|ma|",
        r"ean|upc|gtin|isbn|imei|awb|tracking|resi|pedido|factura|referencia|modelo|pesanan|don hang|hoa don)",
        r"(?: ?(?:no|nr|number|num|#))?\.?",
        r"|货号|型号|编号|編號|订单号|訂單號|单号|單號|批次|批号|發票|发票)[ :#：.\-]*$"
    ))
    .unwrap()
});

fn phones(t: &str, cx: &TextContext<'_>, out: &mut Vec<Finding>) {
    for m in PHONE_CANDIDATE.find_iter(t) {
        let s = m.as_str().trim_end_matches([' ', '(', '-', '.']);
        if !(7..=16).contains(&s.bytes().filter(u8::is_ascii_digit).count()) {
            continue;
        }
        // Part of a longer token: a SKU (AC-0571234567), a tracking number (JP4479061205), a size (1.5m).
        if prev_char(t, m.start()).is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '_')
            || (prev_char(t, m.start()) == Some('-') && prev_char(t, m.start() - 1).is_some_and(|c| c.is_ascii_alphanumeric()))
        {
            continue;
        }
        let end = m.start() + s.len();
        if next_char(t, end).is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_') {
            continue;
        }
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        let international = s.starts_with('+') || (digits.starts_with("00") && digits.len() >= 10);
        let parsed = if international {
            let intl = if s.starts_with('+') { s.to_string() } else { format!("+{}", &digits[2..]) };
            valid_number(None, &intl)
        } else {
            if cx.kind == FieldKind::Code || !looks_like_phone(t, m.start(), s, &digits, cx.lexicon) {
                continue;
            }
            cx.regions.iter().find_map(|r| valid_number(Some(*r), s))
        };
        let Some(number) = parsed else { continue };
        if cx.own_phones.contains((number.code().value(), number.national().value())) {
            continue;
        }
        push(out, m.start()..end, "a phone number that is not the recipient's or the sender's; labels may not carry other contacts");
    }
}

/// A digit run without a country code is a phone only when it is dressed like one; order ids, tracking
/// numbers, product codes and dates are not.
fn looks_like_phone(t: &str, start: usize, s: &str, digits: &str, lex: &Lexicon) -> bool {
    static DATE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(?:(?:19|20)\d\d[\-./ ]\d\d?[\-./ ]\d\d?|\d\d?[\-./ ]\d\d?[\-./ ](?:19|20)\d\d)(?: \d\d?)?$").unwrap());
    if DATE.is_match(s) {
        return false;
    }
    let separated = s.len() != digits.len();
    if !separated && (12..=14).contains(&digits.len()) && !digits.starts_with('0') && gtin_ok(digits) {
        return false; // an EAN/UPC/GTIN product code
    }
    let window_start = t[..start].char_indices().rev().take(24).last().map_or(start, |(i, _)| i);
    let before = &t[window_start..start];
    if phone_word_before(t, start, lex) {
        return true;
    }
    // A number labelled as something else ("Part no. 0451-2233-01", "Invoice 0123456789", "货号 …").
    if ID_WORD.is_match(before) {
        return false;
    }
    let trunk = digits.starts_with('0') && !digits.starts_with("00");
    // Phone numbers are written in short groups ("0912 345 678", "415-555-0198"); "20261120-07" is a batch number.
    let grouped = separated && s.split(|c: char| !c.is_ascii_digit()).all(|g| g.len() <= 5);
    (digits.len() >= 8 && (trunk || s.starts_with('(')))
        || (digits.len() >= 10 && grouped)
        || (digits.len() == 11 && !separated && digits.starts_with('1') && matches!(digits.as_bytes()[1], b'3'..=b'9'))
}

/// GS1 check digit (EAN-13, UPC-A as 12, GTIN-14).
fn gtin_ok(digits: &str) -> bool {
    let d: Vec<u32> = digits.bytes().map(|b| (b - b'0') as u32).collect();
    let (body, check) = d.split_at(d.len() - 1);
    let sum: u32 = body.iter().rev().enumerate().map(|(i, v)| if i % 2 == 0 { v * 3 } else { *v }).sum();
    (10 - sum % 10) % 10 == check[0]
}

/// How many compiled patterns libphonenumber's metadata may keep. The crate keeps them in one LRU cache of
/// 100; trying numbers in the sixteen default regions touches more than that (109 over the independent
/// corpus), and an LRU cycled through more entries than it holds misses every time, so patterns were compiled
/// again on every number. Only the patterns of regions a number is actually tried in are ever compiled.
const PATTERN_CACHE: usize = 4096;

/// libphonenumber's metadata, with its pattern cache widened on first use.
pub(super) fn phone_metadata() -> &'static Database {
    static WIDENED: std::sync::Once = std::sync::Once::new();
    WIDENED.call_once(|| DATABASE.cache().lock().unwrap_or_else(|e| e.into_inner()).set_capacity(PATTERN_CACHE));
    &DATABASE
}

/// A number as libphonenumber parses it (in `region` when it has no country code), if it is a valid number.
pub(super) fn valid_number(region: Option<country::Id>, s: &str) -> Option<PhoneNumber> {
    let db = phone_metadata();
    phonenumber::parse_with(db, region, s).ok().filter(|n| phonenumber::is_valid_with(db, n))
}

/// The regions a number without a country code is tried in: the order's countries first, then the markets.
pub fn default_regions() -> Vec<country::Id> {
    use country::Id::*;
    vec![MY, SG, TH, ID, VN, PH, CN, HK, TW, US, GB, JP, MX, ES, BR, PT]
}

// ---------------------------------------------------------------------------------------------------------
// Numbers spelled out ("zero one two …", "一三八 八八八八", "kosong satu dua …")

/// A run of spelled-out digit words (digits may be mixed in) that reads as a phone number.
fn spelled_phones(t: &str, cx: &TextContext<'_>, out: &mut Vec<Finding>) {
    let lex = cx.lexicon;
    let mut run: Option<(usize, usize, String, bool)> = None; // start, end, digits, has a word
    let flush = |run: &mut Option<(usize, usize, String, bool)>, out: &mut Vec<Finding>| {
        let Some((start, end, digits, worded)) = run.take() else { return };
        if !worded || !(8..=15).contains(&digits.len()) {
            return;
        }
        let trunk = digits.starts_with('0');
        if !(trunk || digits.len() >= 10 || phone_word_before(t, start, lex)) {
            return;
        }
        let Some(number) = cx.regions.iter().find_map(|r| valid_number(Some(*r), &digits)) else { return };
        if !cx.own_phones.contains((number.code().value(), number.national().value())) {
            push(out, start..end, "a phone number spelled out in words; labels may not carry other contacts");
        }
    };
    for r in lex.digit_words.find_iter(t) {
        let piece = &t[r.clone()];
        let (value, worded) = if piece.bytes().all(|b| b.is_ascii_digit()) {
            (piece.to_string(), false)
        } else {
            match lex.digit_values.get(piece) {
                Some(d) => (d.to_string(), true),
                None => continue,
            }
        };
        let joins = run.as_ref().is_some_and(|(_, end, _, _)| *end <= r.start && t[*end..r.start].chars().count() <= 2 && t[*end..r.start].chars().all(|c| " -.,、/".contains(c)));
        if !joins {
            flush(&mut run, out);
            run = Some((r.start, r.end, String::new(), false));
        }
        let cur = run.as_mut().unwrap();
        cur.1 = r.end;
        cur.2.push_str(&value);
        cur.3 |= worded;
    }
    flush(&mut run, out);
}

/// A phone word ("call", "โทร", "電話") ends at most two words before `start`.
fn phone_word_before(t: &str, start: usize, lex: &Lexicon) -> bool {
    static TAIL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[^\p{L}\p{N}]{0,4}(?:[\p{L}\p{N}_]+[^\p{L}\p{N}]{1,3}){0,2}$").unwrap());
    let window_start = t[..start].char_indices().rev().take(24).last().map_or(start, |(i, _)| i);
    let window = &t[window_start..start];
    lex.phone_words.find_iter(window).any(|r| TAIL.is_match(&window[r.end..]))
}

// ---------------------------------------------------------------------------------------------------------
// Messaging apps and social networks

const APP_MESSAGE: &str = "a messaging or social account; labels may not carry contacts outside the platform";

/// Apps by name, and their slang in a contact's shape. In a product title (`FieldKind::Product`) a network's
/// name is a brand ("Instagram frame prop", "Facebook Portal"), so there even full names need that shape; in a
/// SKU an app prefix before one id-like token ("WA-0128887777") is a contact.
fn messaging(t: &str, cx: &TextContext<'_>, present: Present, out: &mut Vec<Finding>) {
    let lex = cx.lexicon;
    for m in present.has(List::Apps).then(|| lex.apps.find_iter(t)).into_iter().flatten() {
        let shaped = invited(t, m.start, m.end - m.start, lex) || handle_after(t, m.end, &t[m.clone()]).1 || lex.contact_after.starts_at(t, m.end);
        // In a title, an app named inside brackets is an aside to the buyer ("Keychain (DM on insta)").
        if cx.kind == FieldKind::Product && !shaped && !in_brackets(t, m.start) {
            continue;
        }
        if cx.kind == FieldKind::Code && !shaped && !code_contact(t, m.clone()) {
            continue;
        }
        push(out, m.start..extend_handle(t, m.end), APP_MESSAGE);
    }
    for m in present.has(List::AppSlang).then(|| lex.app_slang.find_iter(t)).into_iter().flatten() {
        let word = &t[m.clone()];
        let single = word.chars().count() == 1;
        let (handle_end, shaped) = handle_after(t, m.end, word);
        let invited = invited(t, m.start, if single { 1 } else { 14 }, lex);
        let after = lex.contact_after.starts_at(t, m.end);
        let code = cx.kind == FieldKind::Code && code_contact(t, m.clone());
        // One character ("微", "v") is a contact only with an id after it: "增加微量元素" is not "加微".
        let ok = if single { invited && handle_end > m.end || shaped } else { invited || shaped || after || code };
        if ok {
            push(out, m.start..handle_end.max(m.end), APP_MESSAGE);
        }
    }
}

/// Whether `at` is inside an open bracket ("Negro (wasap para otro color)").
fn in_brackets(t: &str, at: usize) -> bool {
    let before = &t[..at];
    let open = before.rfind(['(', '（', '【', '[']);
    let close = before.rfind([')', '）', '】', ']']);
    open.is_some_and(|o| close.is_none_or(|c| c < o))
}

/// An SKU that is an app's name, a separator and one id or phone number ("WA-0128887777", "LINE-ACMEJP").
fn code_contact(t: &str, m: std::ops::Range<usize>) -> bool {
    let rest = &t[m.end..];
    let Some(id) = rest.strip_prefix(['-', '_', ' ', '.', ':']) else { return false };
    m.start == 0 && id.len() >= 5 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An invitation ("add", "加", "hubungi kami di") ends at most `gap` characters before `at`, in the same clause.
fn invited(t: &str, at: usize, gap: usize, lex: &Lexicon) -> bool {
    let window_start = t[..at].char_indices().rev().take(24).last().map_or(at, |(i, _)| i);
    let window = &t[window_start..at];
    lex.invitations.find_iter(window).any(|r| {
        let between = &window[r.end..];
        between.chars().count() <= gap && !between.contains(['.', '!', '?', '。', '！', '？', ';', '；', ',', '，', '(', ')', '（', '）'])
    })
}

/// Extends a match over an id that follows it ("WhatsApp: 012-345", "微信 acme_888").
fn extend_handle(t: &str, from: usize) -> usize {
    static TAIL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(?: ?(?:id|号|號|群))? ?[:：=]? ?[@+]?[a-z0-9][a-z0-9_.\-]*[a-z0-9]").unwrap());
    TAIL.find(&t[from..]).map_or(from, |m| from + m.end())
}

/// What follows a weak keyword: where the id ends and whether it has an id's shape.
fn handle_after(t: &str, from: usize, word: &str) -> (usize, bool) {
    static TAIL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?P<marker> ?(?:id|号|號|群|acc|account|akaun|akun))?(?P<colon> ?[:：=])? ?(?P<handle>[@+]?[a-z0-9_][a-z0-9_.\-]*)?")
            .unwrap()
    });
    let Some(c) = TAIL.captures(&t[from..]) else { return (from, false) };
    let Some(h) = c.name("handle") else { return (from, false) };
    let handle = h.as_str().trim_end_matches(['.', '-']);
    let end = from + h.start() + handle.len();
    let marked = c.name("marker").is_some() || c.name("colon").is_some();
    let letters = handle.bytes().filter(u8::is_ascii_alphabetic).count();
    let digits = handle.bytes().filter(u8::is_ascii_digit).count();
    let single_letter_word = word.chars().count() == 1;
    let shaped = if single_letter_word {
        marked && handle.len() >= 4 && (letters > 0 && digits > 0 || digits >= 5 || handle.contains('_'))
    } else {
        (marked && handle.len() >= 3 && !(handle.len() <= 4 && digits == handle.len()))
            || (handle.starts_with('@') && handle.len() >= 4)
            || digits >= 5
            // acme88, acme_home, acme.home: an id starts with a letter ("0.3mm" is a measurement)
            || (starts_with_letter(handle) && (digits > 0 || handle.contains(['_', '.'])) && handle.len() >= 4)
    };
    (end, shaped)
}

fn starts_with_letter(handle: &str) -> bool {
    handle.trim_start_matches('@').starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

/// A bare `@handle`: a social account when it looks like one (`@acme_888`, `@acme.home`) or the text talks
/// about following or contacting.
fn handles(t: &str, out: &mut Vec<Finding>) {
    static HANDLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"@[a-z_][a-z0-9_.]{2,29}").unwrap());
    static SOCIAL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"follow|\btag\b|ikuti|theo doi|siguenos|siguenos|关注|關注|ติดตาม|\bdm\b|\big\b|tiktok|insta|twitter|\bx\b|threads|contact|hubungi|lien he|\bkik\b|\bme\b")
            .unwrap()
    });
    for m in HANDLE.find_iter(t) {
        if prev_char(t, m.start()).is_some_and(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c)) {
            continue;
        }
        let handle = m.as_str().trim_end_matches('.');
        let shaped = handle[1..].bytes().any(|b| b.is_ascii_digit() || b == b'_' || b == b'.');
        if shaped || SOCIAL.is_match(t) {
            push(out, m.start()..m.start() + handle.len(), "a social media handle; labels may not carry contacts outside the platform");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Buying, joining and dealing elsewhere

/// Other marketplaces by name (in a product title, or by nickname anywhere, only with a shopping word in the
/// same clause), calls to deal outside the platform, and invitations to join groups, pages and channels.
fn elsewhere(t: &str, cx: &TextContext<'_>, present: Present, out: &mut Vec<Finding>) {
    let lex = cx.lexicon;
    for m in present.has(List::Marketplaces).then(|| lex.marketplaces.find_iter(t)).into_iter().flatten() {
        if cx.kind == FieldKind::Product && !shop_word_near(t, m.clone(), lex) {
            continue;
        }
        push(out, m, "another marketplace or shop; labels may not invite buying outside the platform");
    }
    for m in present.has(List::MarketplaceSlang).then(|| lex.marketplace_slang.find_iter(t)).into_iter().flatten() {
        if shop_word_near(t, m.clone(), lex) || invited(t, m.start, 14, lex) {
            push(out, m, "another marketplace or shop; labels may not invite buying outside the platform");
        }
    }
    for m in present.has(List::OffPlatform).then(|| lex.off_platform.find_iter(t)).into_iter().flatten() {
        push(out, m, "an invitation to deal outside the platform; labels may not carry it");
    }
    for m in present.has(List::Groups).then(|| lex.groups.find_iter(t)).into_iter().flatten() {
        push(out, m, "a group, page or channel on another network; labels may not carry contacts outside the platform");
    }
}

/// A shopping word in the same clause as `m`, within 24 characters of it.
fn shop_word_near(t: &str, m: std::ops::Range<usize>, lex: &Lexicon) -> bool {
    let clause_end = |c: char| ".!?。！？;；()（）".contains(c);
    let mut start = m.start;
    for (n, (i, c)) in t[..m.start].char_indices().rev().enumerate() {
        if n >= 24 || clause_end(c) {
            break;
        }
        start = i;
    }
    let mut end = m.end;
    for (n, (i, c)) in t[m.end..].char_indices().enumerate() {
        if n >= 24 || clause_end(c) {
            break;
        }
        end = m.end + i + c.len_utf8();
    }
    lex.shop_context.find_iter(&t[start..end]).any(|r| {
        let r = start + r.start..start + r.end;
        r.end <= m.start || r.start >= m.end
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_cache_holds_every_default_region() {
        // Numbers that reach deep into each region's patterns: a mobile, a landline, a toll-free shape.
        for r in default_regions() {
            for n in ["0123456789", "0312345678", "1800123456", "91234567", "13812345678"] {
                let _ = valid_number(Some(r), n);
            }
        }
        let _ = valid_number(None, "+60 12-888 7777");
        let cache = DATABASE.cache();
        let cache = cache.lock().unwrap();
        // Nothing was evicted: every pattern touched is still compiled.
        assert!(cache.len() < cache.capacity(), "{} patterns in a cache of {}", cache.len(), cache.capacity());
        assert!(cache.len() > 100, "the default regions touch more patterns than the crate's own cache of 100 held");
    }
}
