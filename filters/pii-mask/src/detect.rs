//! The detectors: one pass over the bytes finds the leftmost candidate of any kind, and
//! only candidates are validated. The built-in patterns below are the specification;
//! `scan` matches them by hand at the positions where one can start (a word's first
//! byte, by a table, then the word's shape), which costs a few instructions per word
//! where an automaton's search cost its setup per candidate, and candidates are short
//! and dense. Operators' own patterns run in one multi-pattern automaton.
//!
//! Every detector has a longest match ([`Detectors::window`]), which is what makes
//! masking chunk by chunk exact: a candidate that starts at `s` is decided by the
//! bytes up to `s + window`, so once those have arrived (or the text has ended) the
//! decision is the one the whole body would give.

use regex_automata::Input;
use regex_automata::meta::Regex;
use regex_automata::util::syntax;

use crate::scan;
use crate::validate::{self, Span};

/// The built-in kinds, in priority order: where two fit at one position, the first
/// listed wins (a JWT is a secret before its pieces are anything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Jwt,
    Bearer,
    HcpAuthorization,
    AwsAccessKey,
    AwsSecretKey,
    Email,
    Iban,
    Card,
    Ssn,
    Ipv6,
    Ipv4,
    Phone,
}

/// What an AWS access key id starts with.
pub(crate) const AWS_KEY_PREFIXES: [&[u8; 4]; 12] = [
    b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"AGPA", b"AIDA", b"AIPA", b"ANPA", b"ANVA", b"AROA",
    b"APKA", b"ASCA",
];

/// The longest JWT masked whole; a longer run is left alone rather than cut.
pub const JWT_MAX: usize = 8192;
/// The longest bearer token masked.
pub const BEARER_MAX: usize = 4096;

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Jwt,
        Kind::Bearer,
        Kind::HcpAuthorization,
        Kind::AwsAccessKey,
        Kind::AwsSecretKey,
        Kind::Email,
        Kind::Iban,
        Kind::Card,
        Kind::Ssn,
        Kind::Ipv6,
        Kind::Ipv4,
        Kind::Phone,
    ];

    /// The name used in configs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Jwt => "jwt",
            Kind::Bearer => "bearer",
            Kind::HcpAuthorization => "hcp_authorization",
            Kind::AwsAccessKey => "aws_access_key",
            Kind::AwsSecretKey => "aws_secret_key",
            Kind::Email => "email",
            Kind::Iban => "iban",
            Kind::Card => "card",
            Kind::Ssn => "ssn",
            Kind::Ipv6 => "ipv6",
            Kind::Ipv4 => "ipv4",
            Kind::Phone => "phone",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The default placeholder text, `[EMAIL]`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Jwt
            | Kind::Bearer
            | Kind::HcpAuthorization
            | Kind::AwsAccessKey
            | Kind::AwsSecretKey => "SECRET",
            Kind::Email => "EMAIL",
            Kind::Iban => "IBAN",
            Kind::Card => "CARD",
            Kind::Ssn => "SSN",
            Kind::Ipv6 | Kind::Ipv4 => "IP",
            Kind::Phone => "PHONE",
        }
    }

    /// The candidate pattern (ASCII; the validator decides). Bounded, so the window is.
    /// The specification of [`scan::match_at`], which matches it by hand.
    pub fn pattern(self) -> &'static str {
        // `\b` (ASCII) before a letter or digit: a value never starts inside a word or
        // a number (the validators refuse it anyway), and no matcher need try there.
        match self {
            Kind::Jwt => r"\beyJ[A-Za-z0-9_-]{4}",
            Kind::Bearer => r"\b(?i:bearer)[ ]{1,4}",
            Kind::HcpAuthorization => r"\bHCP [A-Za-z0-9+/]{1,200}={0,2}:[0-9a-f]{32}",
            Kind::AwsAccessKey => {
                r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}"
            }
            Kind::AwsSecretKey => {
                r#"\b(?i:aws_secret_access_key)["']?[ ]{0,3}[:=][ ]{0,3}["']?[A-Za-z0-9/+]{40}"#
            }
            Kind::Email => {
                r"\b[A-Za-z0-9_][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9][A-Za-z0-9.-]{0,250}[A-Za-z]{2}"
            }
            Kind::Iban => r"\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}",
            // 12 to 19 digits together, or in the groups cards are printed in:
            // 4-4-4(-4)(-3), 4-6-5, 4-6-4.
            Kind::Card => {
                r"\b(?:[0-9]{12,19}|[0-9]{4}(?:[ -][0-9]{4}){2}(?:[ -][0-9]{1,4})?(?:[ -][0-9]{3})?|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})"
            }
            Kind::Ssn => r"\b[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}",
            Kind::Ipv6 => {
                r"\b[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}|::[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){0,6}(?:\.[0-9]{1,3}){0,3}"
            }
            Kind::Ipv4 => r"\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}",
            Kind::Phone => concat!(
                // E.164: + and digits with the usual separators.
                r"\+[0-9][0-9 ().-]{6,20}[0-9]",
                // An area code in parentheses.
                r"|\([0-9]{2,5}\)[ .-]?[0-9]{2,4}[ .-]?[0-9]{3,7}(?:[ .-][0-9]{2,4})?",
                // NANP with separators: 415-555-2671.
                r"|\b[2-9][0-9]{2}[ .-][2-9][0-9]{2}[ .-][0-9]{4}",
                // A trunk 0 and groups: 020 7946 0958, 07700 900123, 01 23 45 67 89.
                r"|\b0[1-9][0-9]{0,3}[ .-]{1,2}[0-9]{2,4}(?:[ .-]?[0-9]{2,7})?(?:[ .-][0-9]{2,4}){0,2}",
                // 00 and a country code: 001-415-555-2671.
                r"|\b00[1-9][0-9]{0,2}[ .-][0-9 .-]{6,16}[0-9]",
                // Bare digits after a word that says they are a phone number (no digit
                // or `@` between, so no other value is passed over)...
                r"|\b(?i:phone|tel|mobile|cell|fax|call|sms|whatsapp|contact|reach)[^0-9@\n]{0,40}[0-9]{9,11}",
                // ...or as a field of a delimited record.
                r"|[,;|\t][ ]?[0-9]{9,11}",
            ),
        }
    }

    /// How far past its pattern's match a validator may read.
    fn extends(self) -> usize {
        match self {
            Kind::Jwt => JWT_MAX,
            Kind::Bearer => BEARER_MAX + 4,
            Kind::Phone => validate::PHONE_TAIL + 1,
            _ => 0,
        }
    }

    /// Whether the pattern can start with `b` (before its own `\b` check).
    fn may_start_with(self, b: u8) -> bool {
        match self {
            Kind::Jwt => b == b'e',
            Kind::Bearer => matches!(b, b'b' | b'B'),
            Kind::HcpAuthorization => b == b'H',
            Kind::AwsAccessKey => b == b'A',
            Kind::AwsSecretKey => matches!(b, b'a' | b'A'),
            Kind::Email => scan::is_word(b),
            Kind::Iban => b.is_ascii_uppercase(),
            Kind::Card | Kind::Ssn | Kind::Ipv4 => b.is_ascii_digit(),
            Kind::Ipv6 => b.is_ascii_hexdigit() || b == b':',
            Kind::Phone => {
                matches!(
                    b,
                    b'+' | b'(' | b'0' | b'2'..=b'9' | b',' | b';' | b'|' | b'\t'
                ) || scan::PHONE_WORDS
                    .iter()
                    .any(|w| w.first() == Some(&b.to_ascii_lowercase()))
            }
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    // (Out of line: see `scan::match_at`.)
    #[inline(never)]
    pub(crate) fn validate(self, hay: &[u8], start: usize, end: usize) -> Option<Span> {
        match self {
            Kind::Jwt => validate::jwt(hay, start, JWT_MAX),
            Kind::Bearer => validate::bearer(hay, start, end, BEARER_MAX),
            Kind::HcpAuthorization => validate::hcp_authorization(hay, start, end),
            Kind::AwsAccessKey => validate::aws_key(hay, start, end),
            Kind::AwsSecretKey => validate::aws_secret(hay, start, end),
            Kind::Email => validate::email(hay, start, end),
            Kind::Iban => validate::iban(hay, start, end),
            Kind::Card => validate::card(hay, start, end),
            Kind::Ssn => validate::ssn(hay, start, end),
            Kind::Ipv6 => validate::ipv6(hay, start, end),
            Kind::Ipv4 => validate::ipv4(hay, start, end),
            Kind::Phone => validate::phone(hay, start, end),
        }
    }
}

/// What a pattern of the compiled set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detector {
    Builtin(Kind),
    /// The operator's pattern at this index of `detectors.custom`.
    Custom(usize),
}

/// A decided match: which detector, and the span to mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub detector: Detector,
    pub span: Span,
}

/// The next thing in a buffer from a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Found(Found),
    /// A candidate starts here, and the bytes that decide it have not all arrived.
    Undecided(usize),
    /// Nothing starts before the last `window` bytes.
    Clear,
}

/// Why a custom pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    Invalid(String),
    Unbounded,
    TooLong(usize),
    Empty,
}

/// How many bytes before a candidate validators may look at.
pub const CONTEXT: usize = 8;

/// The longest match a custom pattern may have: the window bytes are held back.
pub const CUSTOM_MAX: usize = 1024;

fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

/// Checks an operator's pattern: valid, bounded (`{m,n}`, not `+` or `*`), and no
/// match longer than [`CUSTOM_MAX`] or empty. Gives its longest match.
pub fn check_custom(pattern: &str) -> Result<usize, PatternError> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .map_err(|e| PatternError::Invalid(e.to_string()))?;
    if hir.properties().minimum_len() == Some(0) {
        return Err(PatternError::Empty);
    }
    match hir.properties().maximum_len() {
        None => Err(PatternError::Unbounded),
        Some(n) if n > CUSTOM_MAX => Err(PatternError::TooLong(n)),
        Some(n) => Ok(n),
    }
}

/// Every enabled detector.
#[derive(Debug, Clone)]
pub struct Detectors {
    /// The built-in kinds, in priority order.
    kinds: Vec<Kind>,
    /// By first byte: the kinds (bits by [`Kind`]) whose pattern can start with it.
    first: [u16; 256],
    /// The operator's patterns, in one automaton.
    custom: Option<Regex>,
    window: usize,
}

/// The bytes [`Detectors::may_match`] looks for: digits, `@`, `:`, `_`, and the first
/// bytes of `bearer` and the AWS key prefixes, and the `J` of `eyJ` (then checked in
/// full).
const fn trigger(b: u8) -> bool {
    matches!(
        b,
        b'0'..=b'9' | b'@' | b':' | b'_' | b'J' | b'b' | b'B' | b'A'
    )
}

/// [`trigger`] by byte: one load per byte where prose is passed over.
// (Indexing in a constant: out of bounds would not compile.)
#[allow(clippy::indexing_slicing)]
static TRIGGER: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = trigger(b as u8);
        b += 1;
    }
    t
};

/// Of `kinds`, those whose pattern can start at `word` (a whole word: letters, digits
/// and `_` after a byte that is none of these) followed by `after`: what each pattern
/// needs of its first word, so most words never reach a matcher. Exact: a pattern
/// refused here cannot match there, or its validator refuses what it matches.
fn shape_allows(kinds: u16, word: &[u8], after: u8) -> u16 {
    let len = word.len();
    let (first, second, third, fourth) = match *word {
        [a, b, c, d, ..] => (a, b, c, d),
        [a, b, c] => (a, b, c, 0),
        [a, b] => (a, b, 0, 0),
        [a] => (a, 0, 0, 0),
        [] => return 0,
    };
    let sep = matches!(after, b' ' | b'-');
    // Each kind the word's shape rules out; one mask, no dispatch per kind.
    let refuse = |k: Kind, fits: bool| if fits { 0 } else { k.bit() };
    let mut refused = refuse(Kind::Ipv6, len <= 4 && after == b':');
    if first.is_ascii_digit() {
        // 12 to 19 digits, or 4 and a separator.
        refused |= refuse(Kind::Card, len >= 12 || len == 4 && sep)
            | refuse(Kind::Ssn, len == 3 && sep)
            | refuse(Kind::Ipv4, len <= 3 && after == b'.')
            // `415-`, `0113 `, `0044 `: a phone's first group and its separator.
            | refuse(
                Kind::Phone,
                (if first == b'0' { len <= 5 } else { len == 3 }) && (sep || after == b'.'),
            );
    } else {
        refused |= refuse(Kind::Jwt, first == b'e' && second == b'y' && third == b'J')
            | refuse(Kind::Bearer, len == 6)
            | refuse(Kind::HcpAuthorization, len == 3)
            // (A key followed by `_` is a key; by a letter or digit the validator
            // refuses it.)
            | refuse(Kind::AwsAccessKey, len >= 20)
            | refuse(Kind::AwsSecretKey, len == 21)
            | refuse(
                Kind::Iban,
                second.is_ascii_uppercase() && third.is_ascii_digit() && fourth.is_ascii_digit(),
            );
        // A word that starts like a phone number's context. (Only asked when it
        // matters: most words are not.)
        if kinds & Kind::Phone.bit() != 0 {
            refused |= refuse(Kind::Phone, scan::phone_word(word).is_some());
        }
    }
    kinds & !refused
}

/// Of `kinds`, those whose pattern can start at the mark `b` (a byte of no word)
/// followed by `next` and `next2`: a phone number's `+`, `(` or field separator needs
/// its digits, an IPv6 address's `:` its second `:`. Exact, as [`shape_allows`] is.
fn mark_allows(kinds: u16, b: u8, next: u8, next2: u8) -> u16 {
    let fits = match b {
        b'+' | b'(' => next.is_ascii_digit(),
        b',' | b';' | b'|' | b'\t' => {
            next.is_ascii_digit() || next == b' ' && next2.is_ascii_digit()
        }
        b':' => next == b':',
        _ => true,
    };
    if fits { kinds } else { 0 }
}

/// A decision and the position of the candidate it is about.
type Event = (usize, Next);

/// What one look for the next match learnt that holds for later looks in the same
/// text, as long as they start no earlier: where e-mail addresses can start (the run of
/// local-part bytes, at most 64, before the next `@`; `None` once no `@` is left).
/// Found once per `@`, not once per look.
#[derive(Debug, Clone, Copy)]
pub struct Cursor {
    email_zone: Option<(usize, usize)>,
}

impl Default for Cursor {
    fn default() -> Self {
        // Empty and behind every position: the first word that could be an address
        // looks for the `@`.
        Cursor {
            email_zone: Some((0, 0)),
        }
    }
}

impl Detectors {
    /// Compiles `custom` patterns (checked with [`check_custom`], first in priority)
    /// and the built-in `kinds`.
    pub fn new(custom: &[String], kinds: &[Kind]) -> Result<Detectors, String> {
        let mut window = 1;
        for (i, p) in custom.iter().enumerate() {
            let longest = check_custom(p).map_err(|e| format!("custom pattern {i}: {e:?}"))?;
            window = window.max(longest);
        }
        let mut kinds = kinds.to_vec();
        kinds.sort();
        kinds.dedup();
        let mut first = [0u16; 256];
        for &k in &kinds {
            let longest = check_custom(k.pattern()).map_err(|e| format!("{}: {e:?}", k.name()))?;
            window = window.max(longest + k.extends());
            for (b, bits) in (0..=255u8).zip(first.iter_mut()) {
                if k.may_start_with(b) {
                    *bits |= k.bit();
                }
            }
        }
        let custom = if custom.is_empty() {
            None
        } else {
            let re = Regex::builder()
                .syntax(syntax_config())
                .configure(Regex::config().hybrid_cache_capacity(8 << 20))
                .build_many(custom)
                .map_err(|e| e.to_string())?;
            Some(re)
        };
        // One byte past the longest match: validators look at the byte after a match.
        Ok(Detectors {
            kinds,
            first,
            custom,
            window: window + 1,
        })
    }

    /// How many bytes past a candidate's start decide it.
    pub fn window(&self) -> usize {
        self.window
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty() && self.custom.is_none()
    }

    /// The first decided match at or after `pos` in `hay`, where `hay` is everything
    /// of the current text seen so far (`last`: and all of it), with up to
    /// [`CONTEXT`] bytes before `pos`. A match is only reported when the bytes that
    /// decide it are in `hay`, so the answer never changes when more arrive.
    pub fn next(&self, hay: &[u8], pos: usize, last: bool) -> Next {
        self.next_from(hay, pos, last, &mut Cursor::default())
    }

    /// [`Detectors::next`], for a caller that asks again further on in the same
    /// `hay`: `cursor` carries what one call learnt to the next.
    pub fn next_from(&self, hay: &[u8], pos: usize, last: bool, cursor: &mut Cursor) -> Next {
        let builtin = self.next_builtin(hay, pos, last, cursor);
        let Some(custom) = self.next_custom(hay, pos, last) else {
            return builtin.map_or(Next::Clear, |(_, next)| next);
        };
        // The earlier candidate wins; at one position the operator's patterns do.
        match builtin {
            Some((at, next)) if at < custom.0 => next,
            _ => custom.1,
        }
    }

    fn next_custom(&self, hay: &[u8], pos: usize, last: bool) -> Option<Event> {
        let m = self
            .custom
            .as_ref()?
            .search(&Input::new(hay).range(pos..hay.len()))?;
        let s = m.start();
        if !last && s + self.window > hay.len() {
            return Some((s, Next::Undecided(s)));
        }
        // Never empty: `check_custom` refused patterns that can match nothing.
        let found = Found {
            detector: Detector::Custom(m.pattern().as_usize()),
            span: (s, m.end()),
        };
        Some((s, Next::Found(found)))
    }

    /// The built-in kinds' first decided match (or undecided candidate) from `pos`.
    /// Only positions where a pattern can start are tried: a word's first byte (every
    /// built-in pattern that starts with a letter or digit starts at `\b`) or one of
    /// the few other bytes a pattern starts with. A word that holds nothing is passed
    /// over whole.
    fn next_builtin(
        &self,
        hay: &[u8],
        pos: usize,
        last: bool,
        cursor: &mut Cursor,
    ) -> Option<Event> {
        if self.kinds.is_empty() {
            return None;
        }
        let n = hay.len();
        let mut i = pos;
        let email_zone = &mut cursor.email_zone;
        while let Some(&b) = hay.get(i) {
            let mut kinds = self.first.get(usize::from(b)).copied().unwrap_or(0);
            let end;
            if scan::is_word(b) {
                // Whole words are passed over: after the first position, every word
                // is tried at its start. (At the first, inside a word, every pattern's
                // own `\b` refuses.)
                end = scan::word_end(hay, i);
                if let Some((_, at)) = *email_zone
                    && at <= i
                {
                    *email_zone = scan::email_zone(hay, i);
                }
                // (The zone's `@` is past `i`: `i` holds a word byte.)
                if !email_zone.is_some_and(|(from, _)| from <= i) {
                    kinds &= !Kind::Email.bit();
                }
                if kinds != 0 {
                    let after = hay.get(end).copied().unwrap_or(0);
                    kinds = shape_allows(kinds, hay.get(i..end).unwrap_or_default(), after);
                }
            } else {
                end = i + 1;
                if kinds != 0 {
                    let next = |k: usize| hay.get(i + k).copied().unwrap_or(0);
                    kinds = mark_allows(kinds, b, next(1), next(2));
                }
            }
            if kinds != 0 {
                if !last && i + self.window > n {
                    return Some((i, Next::Undecided(i)));
                }
                // The set bits, lowest (first in priority) first.
                while let Some(&k) = Kind::ALL.get(kinds.trailing_zeros() as usize) {
                    kinds &= kinds - 1;
                    #[cfg(test)]
                    tests::tried(i, k);
                    if let Some(end) = scan::match_at(k, hay, i)
                        && let Some(span) = k.validate(hay, i, end)
                    {
                        let found = Found {
                            detector: Detector::Builtin(k),
                            span,
                        };
                        return Some((i, Next::Found(found)));
                    }
                }
            }
            i = end;
        }
        None
    }

    /// Whether `text` can hold a match at all: every built-in pattern needs a digit,
    /// `@`, `:` or `_`, or starts with `eyJ`, `bearer` (any case) or an AWS key prefix.
    /// Exact, and far cheaper than the scan: names, words and prose without any
    /// of these are passed over. With custom patterns, always `true`.
    pub fn may_match(&self, text: &[u8]) -> bool {
        if self.custom.is_some() {
            return true;
        }
        let mut from = 0;
        // Each round moves `from` past one trigger byte.
        while let Some(p) = text
            .get(from..)
            .unwrap_or_default()
            .iter()
            .position(|&b| TRIGGER.get(usize::from(b)).copied().unwrap_or(false))
        {
            let i = from + p;
            let fits = match text.get(i) {
                // `eyJ` is looked for at its `J`, far rarer than `e`.
                Some(b'J') => i >= 2 && text.get(i - 2..i) == Some(b"ey"),
                Some(b'b' | b'B') => text
                    .get(i + 1..i + 6)
                    .is_some_and(|t| t.eq_ignore_ascii_case(b"earer")),
                Some(b'A') => text
                    .get(i + 1..i + 4)
                    .is_some_and(|t| AWS_KEY_PREFIXES.iter().any(|p| p.get(1..) == Some(t))),
                _ => true,
            };
            if fits {
                return true;
            }
            from = i + 1;
        }
        false
    }

    /// Every match in a whole text, in order (what masking it would replace).
    pub fn find_all(&self, text: &[u8]) -> Vec<Found> {
        let mut found = Vec::new();
        let mut pos = 0;
        let mut cursor = Cursor::default();
        while let Next::Found(f) = self.next_from(text, pos, true, &mut cursor) {
            found.push(f);
            pos = f.span.1.max(pos + 1);
        }
        found
    }
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
