//! Information unrelated to the order: review requests, coupons and offers for a later order, calls to scan a
//! code, and marketing. The phrases are the lexicon's (`reviews`, `offers`, `scan`, `marketing`).
//!
//! Each term is a phrase, not a word, where the word alone is ordinary ("review mirror", "5-star hotel
//! pillow", "折叠伞" folding umbrella, "ติดตามพัสดุ" track the parcel); the lexicon's `allow` phrases void a
//! match inside them. Product titles are full of sales words ("限时特价", "promo pack"), so marketing is not
//! looked for there; reviews, offers and scan-a-code are.

use super::lexicon::{List, Present};
use super::normalize::Normalized;
use super::{FieldKind, Finding, Rule, TextContext};

/// `present` says which word lists match in the text at all ([`super::Lexicon::present`]).
pub(super) fn find(n: &Normalized, cx: &TextContext<'_>, present: Present, out: &mut Vec<Finding>) {
    if matches!(cx.kind, FieldKind::Buyer | FieldKind::OwnPhone) {
        return;
    }
    let t = n.text.as_str();
    let lex = cx.lexicon;
    let kinds = [
        (List::Reviews, &lex.reviews, "a request for a review or rating; labels may carry only what the order needs"),
        (List::Offers, &lex.offers, "a coupon or an offer for another order; labels may carry only what the order needs"),
        (List::Scan, &lex.scan, "a call to scan a code; labels may carry only what the order needs"),
        (List::Marketing, &lex.marketing, "marketing (sales, follow us, giveaways); labels may carry only what the order needs"),
    ];
    for (i, (list, terms, message)) in kinds.into_iter().enumerate() {
        if (i == 3 && cx.kind == FieldKind::Product) || !present.has(list) {
            continue;
        }
        for m in terms.find_iter(t) {
            if !out.iter().any(|f| f.rule == Rule::UnrelatedContent && f.range.start < m.end && m.start < f.range.end) {
                out.push(Finding { rule: Rule::UnrelatedContent, range: m, message: message.into() });
            }
        }
    }
}
