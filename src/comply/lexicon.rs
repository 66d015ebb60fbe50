//! The words the text rules look for, per language, as data: marketplace names, messaging apps and their
//! slang, invitations to make contact, calls to leave the platform, review, coupon, scan-a-code and marketing
//! phrases, words that announce a phone number, numbers spelled out, and phrases that are known to be innocent.
//!
//! The built-in lists are `data/comply/*.toml`, compiled into the binary. A warehouse adds its own files with
//! `[comply] lexicon_dir` in labeld.toml: every `*.toml` there is read with the same keys and its terms are
//! added to the built-in ones (nothing is removed).
//!
//! A term is written as a seller would write it; it is folded like the detection copy (case, accents, width,
//! look-alike letters), so "Síguenos" and "siguenos" are one term. In a term, `…` stands for a gap of up to 20
//! characters inside one clause and `#` for a number; a term starting with `re:` is a regular expression over
//! the folded text. Where a term begins or ends with a Latin letter or digit, the text must have a word
//! boundary there ("line" is not found in "online" or "Lineup").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::Regex;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Hir, HirKind};
use serde::Deserialize;

use super::normalize::Normalized;

/// The built-in lexicon files, by name.
const BUILTIN: &[(&str, &str)] = &[
    ("common.toml", include_str!("../../data/comply/common.toml")),
    ("en.toml", include_str!("../../data/comply/en.toml")),
    ("zh-Hans.toml", include_str!("../../data/comply/zh-Hans.toml")),
    ("zh-Hant.toml", include_str!("../../data/comply/zh-Hant.toml")),
    ("th.toml", include_str!("../../data/comply/th.toml")),
    ("vi.toml", include_str!("../../data/comply/vi.toml")),
    ("ms-id.toml", include_str!("../../data/comply/ms-id.toml")),
    ("fil.toml", include_str!("../../data/comply/fil.toml")),
    ("es.toml", include_str!("../../data/comply/es.toml")),
    ("pt.toml", include_str!("../../data/comply/pt.toml")),
    ("ja.toml", include_str!("../../data/comply/ja.toml")),
];

/// One lexicon file: every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// Messaging and social apps: a contact wherever they appear in seller text (in a product title only with a
    /// contact's shape around them, since there they are brands).
    #[serde(default)]
    apps: Vec<String>,
    /// Short names and slang for apps that are also ordinary words ("line", "wa", "賴"): a contact only after
    /// an invitation or before a handle.
    #[serde(default)]
    app_slang: Vec<String>,
    /// Words inviting contact ("add", "加", "แอด", "chama no"): an app word soon after one is a contact.
    #[serde(default)]
    invitations: Vec<String>,
    /// Words right after an app name that make it a contact ("LINEで", "微信同号").
    #[serde(default)]
    contact_after: Vec<String>,
    /// Other marketplaces and shop sites: an invitation to buy elsewhere in seller free text.
    #[serde(default)]
    marketplaces: Vec<String>,
    /// Nicknames of marketplaces that are also ordinary words ("toko oren", "露天", "ML"): only with a shopping
    /// word in the same clause.
    #[serde(default)]
    marketplace_slang: Vec<String>,
    /// Shopping words ("search", "cheaper", "同款", "賣場") that make a marketplace name in a product title, or a
    /// marketplace nickname anywhere, an invitation to buy elsewhere.
    #[serde(default)]
    shop_context: Vec<String>,
    /// Calls to deal outside the platform ("contact us directly", "私下交易", "fora do app").
    #[serde(default)]
    off_platform: Vec<String>,
    /// Joining or following groups, pages and channels ("join our … group", "粉專", "fanpage").
    #[serde(default)]
    groups: Vec<String>,
    /// Requests for reviews and ratings.
    #[serde(default)]
    reviews: Vec<String>,
    /// Coupons, discount codes and offers for a later order.
    #[serde(default)]
    offers: Vec<String>,
    /// Telling the reader to scan a code.
    #[serde(default)]
    scan: Vec<String>,
    /// Sales announcements and follow-us marketing (not checked in product titles, which are full of them).
    #[serde(default)]
    marketing: Vec<String>,
    /// Words that announce a phone number ("call", "hotline", "โทร").
    #[serde(default)]
    phone_words: Vec<String>,
    /// Numbers spelled out, by digit: `"0" = ["zero", "kosong"]`.
    #[serde(default)]
    digits: BTreeMap<String, Vec<String>>,
    /// Innocent phrases that contain a rule's words ("LINE FRIENDS", "Shopee Xpress", "五星级"): a finding that
    /// overlaps one is dropped.
    #[serde(default)]
    allow: Vec<String>,
}

/// A problem in a lexicon file, naming the file and, for a bad term, the key and the term.
#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: {key}: term {term:?}: {message}")]
    Term { path: String, key: &'static str, term: String, message: String },
}

/// A list of terms, read and folded; its automaton is built when a search first needs it, since a one-shot
/// `check` or `render` of a clean order searches few lists and building all of them was most of its time.
#[derive(Debug)]
pub struct Terms {
    key: &'static str,
    /// Longest pattern first, no repeats: the order the engines prefer them in.
    parts: Vec<Part>,
    engine: OnceLock<Engine>,
}

/// One term, ready to compile.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    /// The term as a regex over the folded text.
    pattern: String,
    /// The folded text, when the term is nothing else.
    plain: Option<String>,
    /// Literals one of which every match contains, for a term with gaps or numbers (known without parsing its
    /// regex): its longest piece of text, or the ten digits when it is nothing but numbers and gaps.
    holds: Option<Vec<String>>,
}

/// How a list is searched. Both find the leftmost match and, among matches starting there, the term
/// listed first (longest pattern first), so which engine a list gets changes no finding.
#[derive(Debug)]
enum Engine {
    Empty,
    /// Every term is plain text: a leftmost-first Aho-Corasick automaton, which builds many times faster
    /// than the same alternation as a regex.
    Words(AhoCorasick),
    /// Some term has a gap, a number or is a regex.
    Regex(Regex),
}

impl Engine {
    fn find_at(&self, t: &str, at: usize) -> Option<std::ops::Range<usize>> {
        match self {
            Engine::Empty => None,
            Engine::Words(ac) => ac.find(aho_corasick::Input::new(t).span(at..t.len())).map(|m| m.range()),
            Engine::Regex(re) => re.find_at(t, at).map(|m| m.range()),
        }
    }
}

impl Terms {
    /// The automaton, built on first use. The built-in lists are proven to build by a test, and a warehouse's
    /// are built when its files are read ([`Terms::build`]), so this cannot fail.
    fn engine(&self) -> &Engine {
        self.engine.get_or_init(|| build_engine(self.key, &self.parts).expect("the list was built once when it was read"))
    }

    /// Builds the automaton now, so that a list that cannot be built is reported when its files are read.
    fn build(&self) -> Result<(), LexiconError> {
        if self.engine.get().is_none() {
            let _ = self.engine.set(build_engine(self.key, &self.parts)?);
        }
        Ok(())
    }

    /// Every match in `t` (a folded text) whose Latin edges sit on word boundaries, left to right.
    pub fn find_iter<'t>(&'t self, t: &'t str) -> impl Iterator<Item = std::ops::Range<usize>> + 't {
        let mut at = 0;
        std::iter::from_fn(move || {
            while at <= t.len() {
                let m = self.engine().find_at(t, at)?;
                if m.is_empty() {
                    at = m.end + t[m.end..].chars().next().map_or(1, char::len_utf8);
                    continue;
                }
                if on_boundaries(t, m.clone()) {
                    at = m.end;
                    return Some(m);
                }
                at = m.start + t[m.start..].chars().next().map_or(1, char::len_utf8);
            }
            None
        })
    }

    pub fn is_match(&self, t: &str) -> bool {
        self.find_iter(t).next().is_some()
    }

    /// Whether a match ends exactly at `end` (an invitation just before a word).
    pub fn ends_at(&self, t: &str, end: usize) -> bool {
        self.find_iter(t).any(|r| r.end == end)
    }

    /// Whether a match starts at `start`, after any spaces.
    pub fn starts_at(&self, t: &str, start: usize) -> bool {
        let rest = t[start..].trim_start_matches(' ');
        self.find_iter(rest).next().is_some_and(|r| r.start == 0)
    }

    /// Every match, overlapping ones too (for `allow`, where "handuk hotel" must not hide "hotel bintang 5").
    pub fn find_overlapping(&self, t: &str) -> Vec<std::ops::Range<usize>> {
        let mut out = vec![];
        let mut at = 0;
        let engine = self.engine();
        while let Some(m) = engine.find_at(t, at) {
            if !m.is_empty() && on_boundaries(t, m.clone()) {
                out.push(m.clone());
            }
            at = m.start + t[m.start..].chars().next().map_or(1, char::len_utf8);
            if at > t.len() {
                break;
            }
        }
        out
    }
}

fn on_boundaries(t: &str, r: std::ops::Range<usize>) -> bool {
    let first = t[r.clone()].chars().next();
    let last = t[r.clone()].chars().next_back();
    let before = t[..r.start].chars().next_back();
    let after = t[r.end..].chars().next();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let glued_before = word(first) && word(before);
    let glued_after = word(last) && word(after);
    !glued_before && !glued_after
}

/// The compiled lexicon the text rules read.
#[derive(Debug)]
pub struct Lexicon {
    pub apps: Terms,
    pub app_slang: Terms,
    pub invitations: Terms,
    pub contact_after: Terms,
    pub marketplaces: Terms,
    pub marketplace_slang: Terms,
    pub shop_context: Terms,
    pub off_platform: Terms,
    pub groups: Terms,
    pub reviews: Terms,
    pub offers: Terms,
    pub scan: Terms,
    pub marketing: Terms,
    pub phone_words: Terms,
    /// Any spelled-out digit word (or a run of ASCII digits).
    pub digit_words: Terms,
    /// Folded digit word → digit.
    pub digit_values: BTreeMap<String, char>,
    pub allow: Terms,
    /// How many terms were read, for `labeld doctor` and tests.
    pub term_count: usize,
    /// The literals the whole-text lists' matches hold, built on first use (see [`Lexicon::present`]).
    present_set: OnceLock<PresentSet>,
}

/// The lists the rules search whole texts with, as [`Lexicon::present`] reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Apps,
    AppSlang,
    Marketplaces,
    MarketplaceSlang,
    OffPlatform,
    Groups,
    Reviews,
    Offers,
    Scan,
    Marketing,
    /// A spelled-out digit word (not a run of ASCII digits).
    DigitWords,
}

/// Which lists have a match somewhere in a text.
#[derive(Debug, Clone, Copy)]
pub struct Present(u32);

impl Present {
    /// Every list present: what a caller that did not ask assumes.
    pub const ALL: Present = Present(u32::MAX);

    pub fn has(&self, list: List) -> bool {
        self.0 & (1 << list as u32) != 0
    }
}

#[derive(Debug)]
struct PresentSet {
    /// The literals a match of each list holds, all lists together.
    literals: Vec<Vec<u8>>,
    /// All of them: a contiguous NFA, which builds in a fifth of a DFA's time; the only automaton of the pass a
    /// one-shot command builds.
    any: AhoCorasick,
    /// The ASCII literals alone, for an ASCII text (most fields; no other literal can occur there): a DFA, which
    /// takes less than half the NFA's instructions a byte and builds in about 3 ms (8 M instructions, some
    /// 40,000 texts' savings). Built once the NFA has read [`TEXTS_BEFORE_DFA`] ASCII texts, so a one-shot
    /// command (about 40 texts an order) never builds it and a daemon soon does. With the index in `literals`
    /// of each.
    ascii: OnceLock<(AhoCorasick, Vec<usize>)>,
    /// ASCII texts read by the NFA so far.
    ascii_texts: AtomicUsize,
    /// The list of each literal.
    lists: Vec<List>,
    /// Whether each literal is a whole plain term, whose match is the literal itself: it counts only where
    /// the list's search would take it, on word boundaries ("se" in "Seksyen" is no digit word).
    whole: Vec<bool>,
    /// Lists whose matches have no such literals (they are always searched).
    always: u32,
}

/// See [`PresentSet::ascii`].
const TEXTS_BEFORE_DFA: usize = 1000;

/// Which automaton the presence pass reads a text with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The DFA of ASCII literals once it is worth building, else the NFA.
    Cheapest,
    /// These two only in the test that holds the automata to the same answers.
    #[cfg_attr(not(test), allow(dead_code))]
    Nfa,
    #[cfg_attr(not(test), allow(dead_code))]
    AsciiDfa,
}

impl PresentSet {
    fn ascii_dfa(&self) -> &(AhoCorasick, Vec<usize>) {
        self.ascii.get_or_init(|| {
            let index: Vec<usize> = (0..self.literals.len()).filter(|&i| self.literals[i].is_ascii()).collect();
            let dfa = AhoCorasick::builder().kind(Some(AhoCorasickKind::DFA)).build(index.iter().map(|&i| &self.literals[i])).expect("literals always build");
            (dfa, index)
        })
    }
}

static BUILTIN_LEXICON: LazyLock<Arc<Lexicon>> =
    LazyLock::new(|| Arc::new(Lexicon::from_sources(&sources_builtin(), BUILTIN.len()).expect("the built-in lexicon compiles")));

/// The built-in lexicon, compiled on first use.
pub(super) fn builtin_ref() -> &'static Lexicon {
    &BUILTIN_LEXICON
}

fn sources_builtin() -> Vec<(String, String)> {
    BUILTIN.iter().map(|(n, t)| (format!("data/comply/{n}"), t.to_string())).collect()
}

impl Lexicon {
    /// The built-in lexicon (compiled once per process).
    pub fn builtin() -> Arc<Lexicon> {
        BUILTIN_LEXICON.clone()
    }

    /// The built-in lexicon plus every `*.toml` file in `dir`, in name order.
    pub fn with_dir(dir: &Path) -> Result<Lexicon, LexiconError> {
        let mut sources = sources_builtin();
        let entries = std::fs::read_dir(dir).map_err(|source| LexiconError::Read { path: dir.to_path_buf(), source })?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| LexiconError::Read { path: path.clone(), source })?;
            sources.push((path.display().to_string(), text));
        }
        Lexicon::from_sources(&sources, BUILTIN.len())
    }

    /// The first `builtin` sources are the built-in files.
    fn from_sources(sources: &[(String, String)], builtin: usize) -> Result<Lexicon, LexiconError> {
        let mut all: BTreeMap<&'static str, Vec<(String, String)>> = BTreeMap::new(); // key → (file, term)
        let mut digit_terms: Vec<(String, String, char)> = vec![];
        // Lists a warehouse's files add to are built now: their problems are the warehouse's to see at start.
        let mut extended: Vec<&'static str> = vec![];
        for (i, (path, text)) in sources.iter().enumerate() {
            let file: File = toml::from_str(text).map_err(|e| LexiconError::Syntax { path: path.clone(), message: e.to_string() })?;
            let lists: [(&'static str, Vec<String>); 16] = [
                ("apps", file.apps),
                ("app_slang", file.app_slang),
                ("invitations", file.invitations),
                ("contact_after", file.contact_after),
                ("marketplaces", file.marketplaces),
                ("marketplace_slang", file.marketplace_slang),
                ("shop_context", file.shop_context),
                ("off_platform", file.off_platform),
                ("groups", file.groups),
                ("reviews", file.reviews),
                ("offers", file.offers),
                ("scan", file.scan),
                ("marketing", file.marketing),
                ("phone_words", file.phone_words),
                ("allow", file.allow),
                ("digits", vec![]),
            ];
            for (key, terms) in lists {
                if i >= builtin && !terms.is_empty() {
                    extended.push(key);
                }
                all.entry(key).or_default().extend(terms.into_iter().map(|t| (path.clone(), t)));
            }
            if i >= builtin && !file.digits.is_empty() {
                extended.push("digits");
            }
            for (digit, words) in file.digits {
                let d = match digit.as_bytes() {
                    [b @ b'0'..=b'9'] => *b as char,
                    _ => return Err(LexiconError::Syntax { path: path.clone(), message: format!("digits: key {digit:?} is not a digit 0-9") }),
                };
                digit_terms.extend(words.into_iter().map(|w| (path.clone(), w, d)));
            }
        }
        let mut term_count = 0;
        let mut compile = |key: &'static str| -> Result<Terms, LexiconError> {
            let list = all.remove(key).unwrap_or_default();
            term_count += list.len();
            compile_terms(key, &list)
        };
        let mut lexicon = Lexicon {
            apps: compile("apps")?,
            app_slang: compile("app_slang")?,
            invitations: compile("invitations")?,
            contact_after: compile("contact_after")?,
            marketplaces: compile("marketplaces")?,
            marketplace_slang: compile("marketplace_slang")?,
            shop_context: compile("shop_context")?,
            off_platform: compile("off_platform")?,
            groups: compile("groups")?,
            reviews: compile("reviews")?,
            offers: compile("offers")?,
            scan: compile("scan")?,
            marketing: compile("marketing")?,
            phone_words: compile("phone_words")?,
            allow: compile("allow")?,
            digit_words: compile_terms("digits", &[])?,
            digit_values: BTreeMap::new(),
            term_count: 0,
            present_set: OnceLock::new(),
        };
        let mut words: Vec<(String, String)> = vec![];
        for (path, word, d) in digit_terms {
            let folded = fold_literal(&word);
            if folded.is_empty() || folded.contains(['…', '#']) || word.starts_with("re:") {
                return Err(LexiconError::Term { path, key: "digits", term: word, message: "a digit word is plain text".into() });
            }
            lexicon.digit_values.insert(folded.clone(), d);
            words.push((path, word));
        }
        term_count += words.len();
        words.push(("built-in".into(), "re:[0-9]+".into()));
        lexicon.digit_words = compile_terms("digits", &words)?;
        lexicon.term_count = term_count;
        for terms in lexicon.all_lists() {
            if extended.contains(&terms.key) {
                terms.build()?;
            }
        }
        Ok(lexicon)
    }
}

impl Lexicon {
    /// Which whole-text lists could match in `t` (a folded text), in one pass: a list reported absent finds
    /// nothing in `t`, so its own search (one pass per list) is skipped, and a list never searched is never
    /// built. Exact, not a guess: every match of a list contains one of the literals listed for it (a plain
    /// term is its own literal, and its match sits on word boundaries), and a list with a term that has no such
    /// literals is always reported present.
    pub fn present(&self, t: &str) -> Present {
        self.present_via(t, Via::Cheapest)
    }

    fn present_via(&self, t: &str, via: Via) -> Present {
        let p = self.present_set.get_or_init(|| self.build_present_set());
        let mut bits = p.always;
        let mut found = |i: usize, range: std::ops::Range<usize>| {
            let bit = 1 << p.lists[i] as u32;
            if bits & bit == 0 && (!p.whole[i] || on_boundaries(t, range)) {
                bits |= bit;
            }
        };
        let dfa = match via {
            _ if !t.is_ascii() => None,
            Via::Nfa => None,
            Via::AsciiDfa => Some(p.ascii_dfa()),
            Via::Cheapest => match p.ascii.get() {
                Some(built) => Some(built),
                None => (p.ascii_texts.fetch_add(1, Ordering::Relaxed) >= TEXTS_BEFORE_DFA).then(|| p.ascii_dfa()),
            },
        };
        match dfa {
            Some((dfa, index)) => {
                for m in dfa.find_overlapping_iter(t) {
                    found(index[m.pattern().as_usize()], m.range());
                }
            }
            None => {
                for m in p.any.find_overlapping_iter(t) {
                    found(m.pattern().as_usize(), m.range());
                }
            }
        }
        Present(bits)
    }

    /// Every list.
    fn all_lists(&self) -> [&Terms; 16] {
        [
            &self.apps,
            &self.app_slang,
            &self.invitations,
            &self.contact_after,
            &self.marketplaces,
            &self.marketplace_slang,
            &self.shop_context,
            &self.off_platform,
            &self.groups,
            &self.reviews,
            &self.offers,
            &self.scan,
            &self.marketing,
            &self.phone_words,
            &self.digit_words,
            &self.allow,
        ]
    }

    /// The word lists a whole text is searched with, each with its name.
    fn whole_text_lists(&self) -> [(List, &Terms); 10] {
        [
            (List::Apps, &self.apps),
            (List::AppSlang, &self.app_slang),
            (List::Marketplaces, &self.marketplaces),
            (List::MarketplaceSlang, &self.marketplace_slang),
            (List::OffPlatform, &self.off_platform),
            (List::Groups, &self.groups),
            (List::Reviews, &self.reviews),
            (List::Offers, &self.offers),
            (List::Scan, &self.scan),
            (List::Marketing, &self.marketing),
        ]
    }

    fn build_present_set(&self) -> PresentSet {
        let lists = self.whole_text_lists();
        let mut literals: Vec<Vec<u8>> = vec![];
        let mut of: Vec<List> = vec![];
        let mut whole: Vec<bool> = vec![];
        let mut always = 0;
        for (list, terms) in lists {
            // Every match of a list is a match of one of its terms.
            let mut starts: Option<Vec<(Vec<u8>, bool)>> = Some(vec![]);
            for part in &terms.parts {
                let more = match (&part.plain, &part.holds) {
                    (Some(word), _) => Some(vec![(word.as_bytes().to_vec(), true)]),
                    (None, Some(lits)) => Some(lits.iter().map(|l| (l.as_bytes().to_vec(), false)).collect()),
                    (None, None) => match_literals(&part.pattern).map(|lits| lits.into_iter().map(|l| (l, false)).collect()),
                };
                match (&mut starts, more) {
                    (Some(all), Some(more)) => all.extend(more),
                    _ => {
                        starts = None;
                        break;
                    }
                }
            }
            match starts {
                Some(starts) => {
                    of.extend(std::iter::repeat_n(list, starts.len()));
                    for (literal, is_whole) in starts {
                        literals.push(literal);
                        whole.push(is_whole);
                    }
                }
                None => always |= 1 << list as u32,
            }
        }
        // A spelled-out digit is a digit word the text contains (`digit_words` also finds bare digits).
        for word in self.digit_values.keys() {
            literals.push(word.as_bytes().to_vec());
            of.push(List::DigitWords);
            whole.push(true);
        }
        let any = AhoCorasick::builder().kind(Some(AhoCorasickKind::ContiguousNFA)).build(&literals).expect("literals always build");
        PresentSet { literals, any, ascii: OnceLock::new(), ascii_texts: AtomicUsize::new(0), lists: of, whole, always }
    }
}

/// Literals one of which every match of `pattern` contains, or `None` when no finite set is found.
fn match_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    contained_literals(&regex_syntax::parse(pattern).ok()?)
}

/// Literals one of which every match of `h` contains, few and long ones preferred: what the matches start
/// or end with, or, for an alternation, the union of its branches' and, for a sequence, one of its parts'.
/// So `\b(?:coupon code|\d+ ?% ?off)\b` gives "coupon code", "%off" and "% off", though no finite set of literals
/// starts or ends all its matches (hundreds of Unicode digits do).
fn contained_literals(h: &Hir) -> Option<Vec<Vec<u8>>> {
    let ends = || [ExtractKind::Prefix, ExtractKind::Suffix].map(|kind| extract(h, kind));
    match h.kind() {
        HirKind::Capture(c) => contained_literals(&c.sub),
        HirKind::Alternation(branches) => {
            let mut all = vec![];
            for b in branches {
                all.extend(contained_literals(b)?);
            }
            Some(all)
        }
        HirKind::Repetition(r) if r.min >= 1 => best(ends().into_iter().chain([contained_literals(&r.sub)])),
        HirKind::Concat(parts) => best(ends().into_iter().chain(parts.iter().map(contained_literals))),
        _ => best(ends()),
    }
}

fn extract(h: &Hir, kind: ExtractKind) -> Option<Vec<Vec<u8>>> {
    let seq = Extractor::new().kind(kind).limit_total(1000).limit_class(64).extract(h);
    let literals = seq.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// The set that rules out the most texts: its shortest literal longest (up to 4 bytes; a space or a digit is
/// in most texts), then the fewest literals.
fn best(sets: impl IntoIterator<Item = Option<Vec<Vec<u8>>>>) -> Option<Vec<Vec<u8>>> {
    sets.into_iter().flatten().max_by_key(|set| (set.iter().map(Vec::len).min().unwrap_or(0).min(4), std::cmp::Reverse(set.len())))
}

/// A literal folded like the detection copy.
fn fold_literal(s: &str) -> String {
    Normalized::new(s).text
}

/// A list's terms checked and folded (its automaton is built on first use): longer terms first, so the
/// longest alternative at a position wins.
fn compile_terms(key: &'static str, list: &[(String, String)]) -> Result<Terms, LexiconError> {
    let mut parts: Vec<Part> = Vec::with_capacity(list.len());
    for (path, term) in list {
        let bad = |message: String| LexiconError::Term { path: path.clone(), key, term: term.clone(), message };
        let part = if let Some(re) = term.strip_prefix("re:") {
            // An ASCII word boundary: with Unicode's, the fast engines give up on non-ASCII text and the search
            // falls back to backtracking (ten times slower on a Thai or Chinese note).
            let re = re.replace(r"\b", r"(?-u:\b)");
            // Parsed, not compiled: compiling each term alone cost more than its list. A term must be a
            // regex by itself, as "a)|(b" is not, though it would hide inside the list's alternation.
            regex_syntax::Parser::new().parse(&re).map_err(|e| bad(e.to_string()))?;
            Part { pattern: format!("(?:{re})"), plain: None, holds: None }
        } else {
            let mut out = String::new();
            let mut literal = String::new();
            let mut plain = true;
            // The folded pieces of text between gaps and numbers: every match holds each, the longest is kept.
            let mut longest = String::new();
            let mut flush = |literal: &mut String, out: &mut String| {
                if !literal.is_empty() {
                    let folded = fold_literal(literal);
                    out.push_str(&regex::escape(&folded));
                    if folded.len() > longest.len() {
                        longest = folded;
                    }
                    literal.clear();
                }
            };
            for c in term.chars() {
                match c {
                    '…' => {
                        flush(&mut literal, &mut out);
                        out.push_str(r"[^.!?。！？;；\n]{0,20}?");
                        plain = false;
                    }
                    '#' => {
                        flush(&mut literal, &mut out);
                        out.push_str(r"[0-9]+(?:[.,][0-9]+)?");
                        plain = false;
                    }
                    c => literal.push(c),
                }
            }
            let text = if plain {
                let folded = fold_literal(&literal);
                out = regex::escape(&folded);
                Some(folded)
            } else {
                flush(&mut literal, &mut out);
                None
            };
            let holds = match (&text, longest.is_empty()) {
                (Some(_), _) => None,
                (None, false) => Some(vec![longest]),
                (None, true) => term.contains('#').then(|| ('0'..='9').map(String::from).collect()),
            };
            if out.is_empty() {
                return Err(bad("the term is empty".into()));
            }
            Part { pattern: out, plain: text, holds }
        };
        parts.push(part);
    }
    parts.sort_by_key(|p| std::cmp::Reverse(p.pattern.len()));
    parts.dedup();
    Ok(Terms { key, parts, engine: OnceLock::new() })
}

/// One automaton for a list's parts, in their order.
fn build_engine(key: &'static str, parts: &[Part]) -> Result<Engine, LexiconError> {
    if parts.is_empty() {
        return Ok(Engine::Empty);
    }
    if parts.iter().all(|p| p.plain.is_some()) {
        let words: Vec<&str> = parts.iter().filter_map(|p| p.plain.as_deref()).collect();
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&words)
            .map_err(|e| LexiconError::Term { path: "(all files)".into(), key, term: String::new(), message: e.to_string() })?;
        return Ok(Engine::Words(ac));
    }
    // A roomy lazy-DFA cache: the lists are long alternations, and a cache that fills up is cleared and its
    // states rebuilt on the next text.
    let alternation = parts.iter().map(|p| p.pattern.as_str()).collect::<Vec<_>>().join("|");
    let re = regex::RegexBuilder::new(&alternation).dfa_size_limit(32 << 20).build().map_err(|e| LexiconError::Term { path: "(all files)".into(), key, term: String::new(), message: e.to_string() })?;
    Ok(Engine::Regex(re))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(text: &str) -> Result<Lexicon, LexiconError> {
        Lexicon::from_sources(&[("test.toml".into(), text.into())], 0)
    }

    #[test]
    fn terms_are_folded_and_bounded() {
        let l = lexicon(r#"apps = ["Síguenos", "line"]"#).unwrap();
        assert!(l.apps.is_match(&fold_literal("SIGUENOS en Insta")));
        assert!(l.apps.is_match("add line"));
        assert!(!l.apps.is_match("online"));
        assert!(!l.apps.is_match("lineup"));
        assert!(l.apps.is_match("加line"));
    }

    #[test]
    fn gaps_and_numbers() {
        let l = lexicon(r#"offers = ["buy # get # … next", "re:满\\d+减"]"#).unwrap();
        assert!(l.offers.is_match("buy 2 get 3 on your next order"));
        assert!(!l.offers.is_match("buy 2 get 3. next"));
        assert!(l.offers.is_match("满100减20"));
    }

    #[test]
    fn errors_name_the_file_key_and_term() {
        let e = lexicon(r#"offers = ["re:("]"#).unwrap_err().to_string();
        assert!(e.starts_with("test.toml: offers: term \"re:(\""), "{e}");
        let e = lexicon("colours = []").unwrap_err().to_string();
        assert!(e.contains("test.toml") && e.contains("colours"), "{e}");
        let e = lexicon("[digits]\nx = [\"one\"]").unwrap_err().to_string();
        assert!(e.contains("\"x\" is not a digit"), "{e}");
    }

    #[test]
    fn a_regex_term_must_stand_alone() {
        // Inside the list's alternation "(?:a)|(b)" would be a valid regex; the term alone is not.
        let e = lexicon(r#"offers = ["re:a)|(b", "coupon … next"]"#).unwrap_err().to_string();
        assert!(e.starts_with("test.toml: offers: term \"re:a)|(b\""), "{e}");
    }

    #[test]
    fn word_lists_find_what_the_regex_alternation_finds() {
        // Plain lists are searched by Aho-Corasick; the regex alternation they replaced is the reference.
        let words = ["line", "line id", "lin", "ไลน์", "加line", "wa", "whatsapp", "what", "app", "ap", "line@", "@line"];
        let list: Vec<(String, String)> = words.iter().map(|w| ("test.toml".to_string(), w.to_string())).collect();
        let terms = compile_terms("apps", &list).unwrap();
        assert!(matches!(terms.engine(), Engine::Words(..)));
        let mut parts: Vec<String> = words.iter().map(|w| regex::escape(&fold_literal(w))).collect();
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        parts.dedup();
        let reference = Terms { key: "apps", parts: vec![], engine: OnceLock::from(Engine::Regex(Regex::new(&parts.join("|")).unwrap())) };
        for text in ["add line id acme", "online lineup line", "加line: acme", "ไลน์ไลน์ whatsapp wa.me", "@line@ lin app ap wap", "", "whatsappline"] {
            assert_eq!(terms.find_iter(text).collect::<Vec<_>>(), reference.find_iter(text).collect::<Vec<_>>(), "{text}");
            assert_eq!(terms.find_overlapping(text), reference.find_overlapping(text), "{text}");
        }
    }

    #[test]
    fn a_list_reported_absent_finds_nothing() {
        let l = Lexicon::builtin();
        let lists = l.whole_text_lists();
        let texts = [
            "lot 7, jalan pengapit 15/19",
            "add line id acme_888 for 10% off your next order",
            "加微信 acme_888 领券, 淘宝同款",
            "สแกน qr รับส่วนลด แอดไลน์",
            "siguenos en insta, cupon 20% proxima compra",
            "zero one two three four five six seven eight",
            "rate us 5 stars on shopee",
            "",
        ];
        // And every text of the corpora (the text is the last column).
        let mut corpus = vec![];
        for name in ["dev.tsv", "heldout.tsv", "independent-dev.tsv", "independent-heldout.tsv"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/comply").join(name);
            let text = std::fs::read_to_string(&path).unwrap();
            corpus.extend(text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).filter_map(|l| l.rsplit('\t').next()).map(str::to_string));
        }
        assert!(corpus.len() > 2000, "{}", corpus.len());
        let mut skipped = 0;
        for t in texts.iter().map(|t| t.to_string()).chain(corpus.iter().cloned()) {
            let t = fold_literal(&t);
            let present = l.present(&t);
            for (list, terms) in lists {
                if !present.has(list) {
                    skipped += 1;
                    assert_eq!(terms.find_iter(&t).next(), None, "{list:?} in {t:?}");
                }
            }
            if !present.has(List::DigitWords) {
                assert!(l.digit_words.find_iter(&t).all(|r| t[r].bytes().all(|b| b.is_ascii_digit())), "{t:?}");
            }
        }
        assert!(skipped > 15_000, "{skipped}");
        // Both automata of the pass agree on every text.
        for t in texts.iter().map(|t| t.to_string()).chain(corpus.iter().cloned()) {
            let t = fold_literal(&t);
            assert_eq!(l.present_via(&t, Via::Nfa).0, l.present_via(&t, Via::AsciiDfa).0, "{t:?}");
        }
        // The pass has to skip something to be worth it: an address line holds none of the words.
        let present = l.present("lot 7, jalan pengapit 15/19");
        assert!(lists.iter().filter(|(list, _)| present.has(*list)).count() <= 2);
        assert!(l.present("kosong satu dua").has(List::DigitWords) && !l.present("15/19").has(List::DigitWords));
        // A whole word counts only where its list's search takes it, on word boundaries.
        assert!(!l.present("seksyen 15").has(List::DigitWords) && l.present("se 15").has(List::DigitWords));
    }

    #[test]
    fn builtin_compiles() {
        let l = Lexicon::builtin();
        assert!(l.term_count > 500);
        // Every list is built on first use, and that must not fail.
        for terms in l.all_lists() {
            terms.build().unwrap();
            assert!(matches!(terms.engine(), Engine::Words(_) | Engine::Regex(_)), "{}", terms.key);
        }
    }

    #[test]
    fn a_warehouse_list_is_built_when_read() {
        // The term parses alone, but the list is too big to compile: a problem when the file is read.
        let e = lexicon(r#"offers = ["re:\w{1000}\w{1000}\w{1000}"]"#).unwrap_err().to_string();
        assert!(e.contains("offers"), "{e}");
    }
}
