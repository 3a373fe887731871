//! The detectors, compiled into one multi-pattern lazy DFA: one pass over the bytes
//! finds the leftmost candidate of any kind; only candidates are validated.
//!
//! Every detector has a longest match ([`Detectors::window`]), which is what makes
//! masking chunk by chunk exact: a candidate that starts at `s` is decided by the
//! bytes up to `s + window`, so once those have arrived (or the text has ended) the
//! decision is the one the whole body would give.

use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, PatternSet};

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
const AWS_KEY_PREFIXES: [&[u8; 4]; 12] = [
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
    fn pattern(self) -> &'static str {
        // `\b` (ASCII) before a letter or digit: a value never starts inside a word or
        // a number (the validators refuse it anyway), and the automaton need not try.
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

    fn validate(self, hay: &[u8], start: usize, end: usize) -> Option<Span> {
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

/// Every enabled detector in one automaton.
#[derive(Debug, Clone)]
pub struct Detectors {
    all: Regex,
    detectors: Vec<Detector>,
    window: usize,
    custom_patterns: bool,
}

impl Detectors {
    /// Compiles `custom` patterns (checked with [`check_custom`], first in priority)
    /// and the built-in `kinds`.
    pub fn new(custom: &[String], kinds: &[Kind]) -> Result<Detectors, String> {
        let mut patterns: Vec<String> = Vec::new();
        let mut detectors = Vec::new();
        let mut window = 1;
        for (i, p) in custom.iter().enumerate() {
            let longest = check_custom(p).map_err(|e| format!("custom pattern {i}: {e:?}"))?;
            window = window.max(longest);
            patterns.push(p.clone());
            detectors.push(Detector::Custom(i));
        }
        let mut kinds = kinds.to_vec();
        kinds.sort();
        kinds.dedup();
        for k in kinds {
            let longest = check_custom(k.pattern()).map_err(|e| format!("{}: {e:?}", k.name()))?;
            window = window.max(longest + k.extends());
            patterns.push(k.pattern().to_string());
            detectors.push(Detector::Builtin(k));
        }
        let all = Regex::builder()
            .syntax(syntax_config())
            .configure(Regex::config().hybrid_cache_capacity(8 << 20))
            .build_many(&patterns)
            .map_err(|e| e.to_string())?;
        // One byte past the longest match: validators look at the byte after a match.
        Ok(Detectors {
            all,
            detectors,
            window: window + 1,
            custom_patterns: !custom.is_empty(),
        })
    }

    /// How many bytes past a candidate's start decide it.
    pub fn window(&self) -> usize {
        self.window
    }

    pub fn is_empty(&self) -> bool {
        self.detectors.is_empty()
    }

    fn validate(&self, d: Detector, hay: &[u8], start: usize, end: usize) -> Option<Span> {
        match d {
            Detector::Builtin(k) => k.validate(hay, start, end),
            Detector::Custom(_) => validate::custom(hay, start, end),
        }
    }

    /// The first decided match at or after `pos` in `hay`, where `hay` is everything
    /// of the current text seen so far (`last`: and all of it), with up to
    /// [`CONTEXT`] bytes before `pos`. A match is only reported when the bytes that
    /// decide it are in `hay`, so the answer never changes when more arrive.
    pub fn next(&self, hay: &[u8], pos: usize, last: bool) -> Next {
        if self.detectors.is_empty() {
            return Next::Clear;
        }
        let n = hay.len();
        let mut pos = pos;
        let mut set = PatternSet::new(self.all.pattern_len());
        // Each round moves `pos` forward by at least one byte.
        while pos < n {
            let Some(m) = self.all.search(&Input::new(hay).range(pos..n)) else {
                return Next::Clear;
            };
            let s = m.start();
            if !last && s + self.window > n {
                return Next::Undecided(s);
            }
            // The leftmost match is the first pattern (in priority order) that fits at
            // `s`: most candidates are decided by it alone.
            if let Some(d) = self.detectors.get(m.pattern().as_usize()).copied()
                && let Some(span) = self.validate(d, hay, s, m.end())
            {
                return Next::Found(Found { detector: d, span });
            }
            set.clear();
            let at_s = Input::new(hay).range(s..n).anchored(Anchored::Yes);
            self.all.which_overlapping_matches(&at_s, &mut set);
            for pid in set.iter().filter(|&p| p != m.pattern()) {
                let Some(d) = self.detectors.get(pid.as_usize()).copied() else {
                    continue;
                };
                let one = at_s.clone().anchored(Anchored::Pattern(pid));
                let Some(pm) = self.all.search(&one) else {
                    continue;
                };
                if let Some(span) = self.validate(d, hay, s, pm.end()) {
                    return Next::Found(Found { detector: d, span });
                }
            }
            pos = self.after_failed(hay, s);
        }
        Next::Clear
    }

    /// Where to look next after every candidate at `s` failed. Every built-in
    /// detector refuses a value that starts right after a letter or digit, so without
    /// custom patterns (which may match inside words) the rest of a word or number is
    /// skipped: a 40-digit id costs one candidate, not forty.
    fn after_failed(&self, hay: &[u8], s: usize) -> usize {
        if self.custom_patterns {
            return s + 1;
        }
        let rest = hay.get(s + 1..).unwrap_or_default();
        s + 1
            + rest
                .iter()
                .position(|b| !b.is_ascii_alphanumeric())
                .unwrap_or(rest.len())
    }

    /// Whether `text` can hold a match at all: every built-in pattern needs a digit,
    /// `@`, `:` or `_`, or starts with `eyJ`, `bearer` (any case) or an AWS key prefix.
    /// Exact, and far cheaper than the automaton: names, words and prose without any
    /// of these are passed over. With custom patterns, always `true`.
    pub fn may_match(&self, text: &[u8]) -> bool {
        if self.custom_patterns {
            return true;
        }
        text.iter().enumerate().any(|(i, &b)| match b {
            b'0'..=b'9' | b'@' | b':' | b'_' => true,
            b'e' => text.get(i + 1..i + 3) == Some(b"yJ"),
            b'b' | b'B' => text
                .get(i + 1..i + 6)
                .is_some_and(|t| t.eq_ignore_ascii_case(b"earer")),
            b'A' => text
                .get(i + 1..i + 4)
                .is_some_and(|t| AWS_KEY_PREFIXES.iter().any(|p| p.get(1..) == Some(t))),
            _ => false,
        })
    }

    /// Every match in a whole text, in order (what masking it would replace).
    pub fn find_all(&self, text: &[u8]) -> Vec<Found> {
        let mut found = Vec::new();
        let mut pos = 0;
        while let Next::Found(f) = self.next(text, pos, true) {
            found.push(f);
            pos = f.span.1.max(pos + 1);
        }
        found
    }
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
