//! Information unrelated to the order: coupons and discount codes, review requests, follow-us marketing.
//!
//! Each pattern is a phrase, not a word, where the word alone is ordinary ("review mirror", "5-star hotel
//! pillow", "折叠伞" folding umbrella, "ติดตามพัสดุ" track the parcel, "free gift" which is an order line).

use std::sync::LazyLock;

use regex::Regex;

use super::normalize::Normalized;
use super::{Finding, Rule};

struct Pattern {
    re: Regex,
    message: &'static str,
    /// The match is void when the text right after it starts with one of these.
    not_followed_by: &'static [&'static str],
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let p = |re: &str, message, not_followed_by| Pattern { re: Regex::new(re).unwrap(), message, not_followed_by };
    vec![
        p(
            concat!(
                r"\b(?:(?:get|use|claim|free|enjoy|your|here'?s)(?: an?)? (?:coupon|voucher)s?|(?:coupon|voucher)s? ?(?::|code|inside|for|worth|of|rm|rp|\$|฿|\d|[a-z]*\d[a-z0-9]*)|promo ?codes?|promotion codes?|use (?:the |our )?promo|promo:? [a-z]*\d[a-z0-9]*|discount ?codes?|coupon ?codes?|use (?:the )?code|",
                r"(?:kod|kode) (?:promo|diskaun|diskon|baucar|voucher|kupon)|kupon|baucar|diskaun|diskon|potongan harga|",
                r"cashback|cash back|\d+ ?% ?off|off (?:your|on) (?:next|your)|(?:your|on) next (?:order|purchase)|",
                r"ma giam gia|phieu giam gia|khuyen mai|uu dai|lan mua sau|",
                r"cupon|cupones|codigo (?:de )?(?:descuento|promocional)|codigo (?:de )?(?:descuento|promocional)|descuento|",
                r"\d+ ?% (?:de )?dto)\b",
                r"|giam \d+ ?%|优惠券|優惠券|优惠码|優惠碼|折扣码|折扣碼|领券|領券|返现|返現|红包|紅包|满\d+减|滿\d+減|下次购买|下次購買|打折|",
                r"\d+(?:\.\d)? ?折|คูปอง|โค้ดส่วนลด|ใช้โค้ด|ส่วนลด",
            ),
            "a coupon or discount offer; labels may carry only what the order needs",
            &["叠", "疊", "页", "頁", "扇", "边", "邊"],
        ),
        p(
            concat!(
                r"\b(?:(?:leave|write|give|post|drop|left)(?: us| me)?(?: an?)?(?: \d[ \-]?star| five[ \-]?star| good| positive| nice)? (?:review|rating|feedback)|",
                r"(?:5|five)[ \-]?stars? (?:review|rating|feedback)|(?:give|rate) (?:us|me) (?:5|five)|rate us|review us|",
                r"ulasan|beri (?:kami )?(?:rating|bintang|ulasan|penilaian)|kasih (?:bintang|rating)|penilaian bintang|",
                r"danh gia|5 sao|nam sao|",
                r"resena|calificanos|califica (?:tu|nuestra|nos)|valoranos|\d estrellas|cinco estrellas)\b",
                r"|(?:5|five) ?(?:⭐|★)|(?:⭐|★){3,}|rate (?:us |me )?(?:5|five)|好评|好評|五星|评价|評價|晒图|曬圖|追评|追評|รีวิว|ให้คะแนน|ให้ ?5 ?ดาว|5 ?ดาว",
            ),
            "a request for a review or rating; labels may carry only what the order needs",
            &[],
        ),
        p(
            concat!(
                r"\b(?:follow (?:us|me|our|my)|like (?:us|our page|our fanpage)|subscribe (?:to )?(?:us|our|my)|join our|",
                r"fanpage|ikuti (?:kami|kita|toko)|follow (?:kami|toko)|ikut kami|jangan lupa follow|",
                r"theo doi (?:shop|chung toi|cua hang|kenh|fanpage|page)|theo doi shop|",
                r"siguenos|sigueme|suscribete|giveaway|sorteo|undian|rut tham|win (?:a|an|our) (?:prize|gift)|gana (?:un )?premios?|trung thuong)\b",
                r"|关注我们|关注我們|關注我們|关注店铺|關注店鋪|关注公众号|關注公眾號|关注本店|關注本店|关注抖音|抽奖|抽獎|",
                r"กดติดตาม|ติดตามเรา|ติดตามร้าน|ติดตามได้ที่|ติดตามเพจ|กดไลค์",
            ),
            "marketing (follow us, giveaways); labels may carry only what the order needs",
            &[],
        ),
    ]
});

pub(super) fn find(n: &Normalized, out: &mut Vec<Finding>) {
    let t = n.text.as_str();
    for p in PATTERNS.iter() {
        for m in p.re.find_iter(t) {
            if p.not_followed_by.iter().any(|s| t[m.end()..].starts_with(s)) {
                continue;
            }
            if !out.iter().any(|f| f.rule == Rule::UnrelatedContent && f.range.start < m.end() && m.start() < f.range.end) {
                out.push(Finding { rule: Rule::UnrelatedContent, range: m.range(), message: p.message.into() });
            }
        }
    }
}
