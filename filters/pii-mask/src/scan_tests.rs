//! The hand matchers against their specification: each built-in pattern compiled as a
//! regex. For every position of random texts made of the pieces values and lookalikes
//! are made of, the matcher gives the end an anchored leftmost-first search gives; and
//! the whole detection gives what one automaton over every pattern gave (the previous
//! implementation, kept here as the reference).

use proptest::prelude::*;
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use super::*;
use crate::detect::{Detector, Detectors, Found};

fn compile(patterns: &[&str]) -> Regex {
    Regex::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .build_many(patterns)
        .unwrap()
}

fn spec() -> &'static Vec<Regex> {
    static SPEC: std::sync::OnceLock<Vec<Regex>> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| Kind::ALL.iter().map(|k| compile(&[k.pattern()])).collect())
}

fn expected(kind: Kind, hay: &[u8], s: usize) -> Option<usize> {
    let re = &spec()[kind as usize];
    re.search(&Input::new(hay).range(s..).anchored(Anchored::Yes))
        .map(|m| m.end())
}

/// What an automaton over every pattern finds: the leftmost candidate, validated by
/// each pattern that fits there in priority order.
fn reference_find_all(hay: &[u8]) -> Vec<Found> {
    static ALL: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let all =
        ALL.get_or_init(|| compile(&Kind::ALL.iter().map(|k| k.pattern()).collect::<Vec<_>>()));
    let mut found = Vec::new();
    let mut pos = 0;
    'outer: while pos < hay.len() {
        let Some(m) = all.search(&Input::new(hay).range(pos..)) else {
            break;
        };
        let s = m.start();
        // Every pattern that fits at `s`, in priority order. (The previous
        // implementation asked the automaton which fit, and under leftmost-first it
        // may leave one out: `eyJ…@0.com` lost its address to the JWT that failed.)
        for k in Kind::ALL {
            if let Some(end) = expected(k, hay, s)
                && let Some(span) = k.validate(hay, s, end)
            {
                found.push(Found {
                    detector: Detector::Builtin(k),
                    span,
                });
                pos = span.1.max(pos + 1);
                continue 'outer;
            }
        }
        // (The previous implementation skipped the word after a failed `,` too, and so
        // lost `,0123456789@example.com`'s address: only a word's own rest is skipped.)
        pos = s + 1;
        if hay[s].is_ascii_alphanumeric() {
            pos += hay[s + 1..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
        }
    }
    found
}

/// The pieces values, their lookalikes and their surroundings are made of.
const PIECES: &[&str] = &[
    "0",
    "1",
    "2",
    "5",
    "9",
    "00",
    "01",
    "12",
    "123",
    "1234",
    "5555",
    "0958",
    "2671",
    "415",
    "4111111111111111",
    "378282246310005",
    "411111111111",
    "4111",
    "111111",
    "11111",
    "1980",
    " ",
    "  ",
    "-",
    ".",
    "(",
    ")",
    "+",
    ":",
    "::",
    ",",
    ";",
    "|",
    "\t",
    "\n",
    "@",
    "_",
    "%",
    "=",
    "==",
    "/",
    "\"",
    "'",
    "x",
    "a",
    "e",
    "f",
    "Z",
    "AB",
    "DE",
    "GB",
    "GB82",
    "WEST",
    "beef",
    "dead",
    "c0a8",
    "eyJ",
    "eyJhbGciOiJIUzI1NiJ9",
    "Bearer ",
    "bearer",
    "HCP ",
    "bXl1c2Vy",
    "AKIA",
    "ASIA",
    "IOSFODNN7EXAMPLE",
    "aws_secret_access_key",
    "AWS_SECRET_ACCESS_KEY",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "phone",
    "Tel",
    "call",
    "contact",
    "reach",
    "whatsapp",
    "fax",
    "mobile",
    "sms",
    "cell",
    "mail",
    "example",
    "com",
    ".com",
    "co.uk",
    "\u{e9}",
    "x123",
    "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d",
];

fn text() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(proptest::sample::select(PIECES), 0..40)
        .prop_map(|p| p.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn every_matcher_ends_where_its_pattern_ends(hay in text()) {
        for s in 0..=hay.len() {
            for k in Kind::ALL {
                prop_assert_eq!(
                    match_at(k, &hay, s),
                    expected(k, &hay, s),
                    "{:?} at {} in {:?}", k, s, String::from_utf8_lossy(&hay)
                );
            }
        }
    }

    #[test]
    fn detection_finds_what_one_automaton_found(hay in text()) {
        let d = Detectors::new(&[], &Kind::ALL).unwrap();
        prop_assert_eq!(d.find_all(&hay), reference_find_all(&hay));
    }
}

#[test]
fn long_runs_match_as_their_patterns_do() {
    // Runs longer than a pattern's bounds, where greedy repetition gives back.
    let cases = [
        format!("{}@{}.com", "a".repeat(63), "b".repeat(240)),
        format!("{}@x.com", "a".repeat(64)),
        format!("x@{}", "ab.".repeat(100)),
        format!("HCP {}:{}", "Q".repeat(200), "0".repeat(32)),
        format!("HCP {}:{}", "Q".repeat(201), "0".repeat(32)),
        "(0113) 49601 23 45".to_string(),
        "(0113)-49601".to_string(),
        "+1 (415) 555-2671 555 2671 555 2671".to_string(),
        "0044 20 7946 0958 12 34 56".to_string(),
        "phone:                                         0123456789".to_string(),
        "1234 5678 9012 3456 7890 123".to_string(),
        "1234-567890-12345".to_string(),
        "1:2:3:4:5:6:7:8:9.1.2.3.4".to_string(),
        ":: 1.2.3.4".to_string(),
        "GB82 WEST 1234 5698 7654 32 1 2 3 4 5 6 7 8 9 0 1 2 3".to_string(),
    ];
    for hay in &cases {
        let hay = hay.as_bytes();
        for s in 0..=hay.len() {
            for k in Kind::ALL {
                assert_eq!(
                    match_at(k, hay, s),
                    expected(k, hay, s),
                    "{k:?} at {s} in {hay:?}"
                );
            }
        }
    }
}

/// The word-at-a-time search finds what a byte-by-byte one finds, at every length and
/// alignment, for one byte or two (the padding of the last word included).
#[test]
fn find2_finds_the_first_of_two_bytes_as_a_plain_search_does() {
    let mut seed = 0x9e37_79b9_u32;
    let mut byte = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        // Few distinct values, so the bytes looked for turn up often.
        b"ab\"\\@x\n\xff\x00"[(seed % 9) as usize]
    };
    for len in 0..40 {
        for _ in 0..50 {
            let data: Vec<u8> = (0..len).map(|_| byte()).collect();
            for (a, b) in [
                (b'"', b'\\'),
                (b'@', b'@'),
                (b'\n', b'\n'),
                (b'a', b'b'),
                (0, 0xff),
            ] {
                let plain = data.iter().position(|&c| c == a || c == b);
                assert_eq!(find2(&data, a, b), plain, "{data:?} {a} {b}");
            }
        }
    }
}

/// `phone_word`'s table by first letter holds exactly [`PHONE_WORDS`], the pattern's.
#[test]
fn phone_word_knows_exactly_the_patterns_words() {
    for w in PHONE_WORDS {
        assert_eq!(phone_word(w), Some(w));
        assert_eq!(phone_word(&w.to_ascii_uppercase()), Some(w));
        assert_eq!(phone_word(&[w, b"x".as_slice()].concat()), Some(w));
        assert_eq!(phone_word(&w[..w.len() - 1]), None);
    }
    for b in 0..=255u8 {
        let text = [b, b'x'];
        assert_eq!(phone_word(&text), None, "{b:#04x}");
    }
}
