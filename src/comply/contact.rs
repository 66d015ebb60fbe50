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
use regex::Regex;

use super::normalize::Normalized;
use super::{Finding, Rule, TextContext};

pub(super) fn find(n: &Normalized, cx: &TextContext<'_>, out: &mut Vec<Finding>) {
    let t = n.text.as_str();
    if t.contains('@') {
        emails(t, out);
    }
    if t.contains(" at ") {
        spelled_emails(t, out);
    }
    if !cx.own_phone_field && t.bytes().filter(u8::is_ascii_digit).count() >= 7 {
        phones(t, cx, out);
    }
    if !t.is_ascii() || t.bytes().any(|b| b.is_ascii_alphabetic()) {
        messaging(t, cx.product_name, out);
        marketplaces(t, out);
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

/// "shop at gmail.com" style: `at` written out. Only with a real TLD, since "at" is an everyday word.
fn spelled_emails(t: &str, out: &mut Vec<Finding>) {
    for c in SPELLED_EMAIL.captures_iter(t) {
        let m = c.get(0).unwrap();
        let tld = c.get(1).unwrap().as_str();
        let domain = &t[m.as_str().rfind(" at ").map_or(m.start(), |i| m.start() + i + 4)..m.end()];
        let provider = ["gmail", "yahoo", "hotmail", "outlook", "icloud", "qq", "163", "126", "proton"].iter().any(|p| domain.starts_with(p));
        if provider && super::hyperlink::is_known_tld(tld) {
            push(out, m.range(), "an e-mail address; labels may not carry contacts outside the platform");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Phone numbers

static PHONE_CANDIDATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+ ?)?(?:\( ?\d{1,5} ?\) ?)?\d+(?:(?: ?[\-.] ?| {1,2}|\) ?| ?\( ?)\d+)*").unwrap()
});

/// Words that announce a phone number, in the languages of the markets.
static PHONE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:\b(?:tel|telp|phone|call|hp|mobile|mob|cell|whatsapp|wa|sms|text|contact|hubungi|nombor|nomor|no hp|no\. hp|no tel|sdt|sdt|",
        r"zalo|line|viber|telegram|tg|wechat|vx|qq|llama|llamanos|llamanos|telefono|telefono|tlf|movil|movil|celular|cel)\b",
        r"|电话|電話|手机|手機|联系|聯繫|聯絡|号码|號碼|微信|โทร|เบอร์|dien thoai|goi)[^\p{L}\p{N}]{0,4}(?:\w+[^\p{L}\p{N}]{1,3}){0,2}$"
    ))
    .unwrap()
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
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        if !(7..=16).contains(&digits.len()) {
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
        let international = s.starts_with('+') || (digits.starts_with("00") && digits.len() >= 10);
        let parsed = if international {
            let intl = if s.starts_with('+') { s.to_string() } else { format!("+{}", &digits[2..]) };
            phonenumber::parse(None, &intl).ok().filter(phonenumber::is_valid)
        } else {
            if !cx.bare_numbers || !looks_like_phone(t, m.start(), s, &digits) {
                continue;
            }
            cx.regions.iter().find_map(|r| phonenumber::parse(Some(*r), s).ok().filter(phonenumber::is_valid))
        };
        let Some(number) = parsed else { continue };
        if cx.own_phones.contains(&(number.code().value(), number.national().value())) {
            continue;
        }
        push(out, m.start()..end, "a phone number that is not the recipient's or the sender's; labels may not carry other contacts");
    }
}

/// A digit run without a country code is a phone only when it is dressed like one; order ids, tracking
/// numbers, product codes and dates are not.
fn looks_like_phone(t: &str, start: usize, s: &str, digits: &str) -> bool {
    static DATE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(?:(?:19|20)\d\d[\-./ ]\d\d?[\-./ ]\d\d?|\d\d?[\-./ ]\d\d?[\-./ ](?:19|20)\d\d)$").unwrap());
    if DATE.is_match(s) {
        return false;
    }
    let separated = s.len() != digits.len();
    if !separated && (12..=14).contains(&digits.len()) && !digits.starts_with('0') && gtin_ok(digits) {
        return false; // an EAN/UPC/GTIN product code
    }
    let window_start = t[..start].char_indices().rev().take(24).last().map_or(start, |(i, _)| i);
    let before = &t[window_start..start];
    if PHONE_WORD.is_match(before) {
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

/// The regions a number without a country code is tried in: the order's countries first, then the markets.
pub fn default_regions() -> Vec<country::Id> {
    use country::Id::*;
    vec![MY, SG, TH, ID, VN, PH, CN, HK, TW, US, GB, JP, MX, ES]
}

// ---------------------------------------------------------------------------------------------------------
// Messaging apps and social networks

/// Names that mean a messaging or social account wherever they appear.
static STRONG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"whats ?app|whatsap|watsap|wasap|whatapp|wassap|wechat|we chat|weixin|wei xin|telegram|zalo|instagram|facebook|",
        r"kakaotalk|kakao talk|viber|snapchat|skype|",
        r"微信|威信|薇信|徽信|v信|vx号|vx號|微x|扣扣|企鹅号|企鵝號|脸书|臉書|",
        r"ไลน์|เฟสบุ๊ค|เฟซบุ๊ก|เฟสบุ๊ก|อินสตาแกรม|ไอจี|วอทส์แอป|วอทแอป"
    ))
    .unwrap()
});

/// Short names and slang that are also ordinary words: contacts only in a contact's shape.
static WEAK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"line|insta|ig|fb|wa|tg|tele|qq|vx|wx|zl|messenger|kakao|企鹅|企鵝|薇|微|v").unwrap()
});

/// An invitation just before a handle: "add", "加", "แอด", "hubungi kami di", "liên hệ qua".
static INVITE_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:\b(?:add|follow|contact|chat|message|msg|pm|dm|inbox|search|find|hubungi|tambah|tambahkan|ikuti|follow|nhan|nhan tin|",
        r"ket ban|lien he|agrega|agreganos|agreganos|escribenos|escribenos|sigueme|sigueme|siguenos|siguenos|contactanos)\b",
        r"|\+|加|加个|加個|搜|关注|關注|私信|联系|聯繫|找|แอด|เพิ่ม|ทัก|ติดต่อ)",
        r" ?(?:(?:us|me|kami|saya|aku|chung toi|minh|em|nos|我们|我們|我|เรา)\b ?)?",
        r"(?:(?:on|via|at|di|qua|en|por|through|在|上|ที่|ทาง)\b ?)?(?:(?:our|my)\b ?)?$"
    ))
    .unwrap()
});

/// `product_name`: in a product title a network's name is a brand ("Instagram frame prop", "Facebook Portal"),
/// so there even the strong names need a contact's shape around them.
fn messaging(t: &str, product_name: bool, out: &mut Vec<Finding>) {
    for m in STRONG.find_iter(t) {
        // "ออนไลน์" is Thai for "online", not LINE.
        if m.as_str() == "ไลน์" && t[..m.start()].ends_with("ออน") {
            continue;
        }
        let end = extend_handle(t, m.end());
        if product_name && !(invited(t, m.start()) || handle_after(t, m.end(), m.as_str()).1) {
            continue;
        }
        push(out, m.start()..end, "a messaging or social account; labels may not carry contacts outside the platform");
    }
    for m in WEAK.find_iter(t) {
        let word = m.as_str();
        let latin = word.is_ascii();
        if latin
            && (prev_char(t, m.start()).is_some_and(|c| c.is_ascii_alphanumeric())
                || next_char(t, m.end()).is_some_and(|c| c.is_ascii_alphanumeric()))
        {
            continue;
        }
        let invited = invited(t, m.start());
        let (handle_end, shaped) = handle_after(t, m.end(), word);
        if invited && (word != "v" || handle_end > m.end() || next_char(t, m.end()).is_some_and(|c| !c.is_ascii())) || shaped {
            push(out, m.start()..handle_end.max(m.end()), "a messaging or social account; labels may not carry contacts outside the platform");
        }
    }
}

/// An invitation ("add", "加", "hubungi kami di") ends right before `at`.
fn invited(t: &str, at: usize) -> bool {
    let window_start = t[..at].char_indices().rev().take(24).last().map_or(at, |(i, _)| i);
    INVITE_BEFORE.is_match(&t[window_start..at])
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
    let single_letter_word = word == "v" || word == "微" || word == "薇";
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
        Regex::new(r"follow|\btag\b|ikuti|theo doi|siguenos|siguenos|关注|關注|ติดตาม|\bdm\b|\big\b|tiktok|insta|twitter|\bx\b|threads|contact|hubungi|lien he")
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
// Buying elsewhere

static MARKET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:\b(?:buy|order|shop|purchase|find us|beli|belanja|pesan|mua|dat|dat hang|compra|compranos|compranos)\b|买|購買|购买|下单|下單|ซื้อ|สั่ง)",
        r"[^.!?。！？]{0,24}?",
        r"(?:shopee|lazada|tokopedia|tokped|bukalapak|blibli|tiki\.vn|sendo|taobao|淘宝|淘寶|天猫|天貓|京东|京東|拼多多|amazon|ebay|",
        r"mercado ?libre|carousell|mudah\.my|our website|our site|our store|our own store|website kami|web kami)",
        r"|\b(?:order|buy|beli|mua|compra)\b ?(?:direct|directly|langsung|terus|truc tiep|directamente)",
        r"|(?:淘宝|淘寶|天猫|天貓|京东|京東|拼多多)[^。！？]{0,6}?(?:下单|下單|购买|購買|买|買)",
        r"|(?:shopee|lazada|tokopedia|taobao|淘宝|淘寶|amazon) ?(?:store|shop|toko|kedai|店|ร้าน|tienda)",
        r"|私下交易|私聊下单|私信下单|加我下单|直接找我|ซื้อโดยตรง|สั่งตรง|nhan tin rieng"
    ))
    .unwrap()
});

fn marketplaces(t: &str, out: &mut Vec<Finding>) {
    for m in MARKET.find_iter(t) {
        push(out, m.range(), "an invitation to buy outside the platform; labels may not carry it");
    }
}
