use super::*;
use crate::config::load;
use tollgate_kit::HostFacts;

fn walk(json: &str, chunks: &[&[u8]]) -> (String, JsonStream) {
    let c = load(json.as_bytes(), HostFacts::default()).unwrap();
    let cx = Ctx {
        masker: &c.masker,
        rules: &c.rules,
    };
    let mut j = JsonStream::default();
    let mut out = Vec::new();
    let mut t = Tally::default();
    for ch in chunks {
        j.push(&cx, ch, &mut out, &mut t);
    }
    j.finish(&cx, &mut out, &mut t);
    (String::from_utf8_lossy(&out).into_owned(), j)
}

#[test]
fn nesting_past_the_limit_is_masked_as_text() {
    let deep = format!(
        "{}\"a@b.co\"{}",
        "[".repeat(MAX_DEPTH + 1),
        "]".repeat(MAX_DEPTH + 1)
    );
    let (out, j) = walk("{}", &[deep.as_bytes()]);
    assert!(j.is_text());
    assert!(out.contains("[EMAIL]") && !out.contains("a@b.co"));
}

#[test]
fn a_phone_member_makes_bare_digits_a_phone() {
    let (out, _) = walk(
        "{}",
        &[br#"{"phone": "4155552671", "id": "4155552671", "tel": 4155552671}"#],
    );
    assert_eq!(
        out,
        r#"{"phone": "[PHONE]", "id": "4155552671", "tel": "[PHONE]"}"#
    );
}

#[test]
fn a_key_too_long_gives_up_on_json() {
    let long = format!("{{\"{}\": 1}}", "k".repeat(MAX_KEY + 10));
    let (out, j) = walk("{}", &[long.as_bytes()]);
    assert!(j.is_text());
    assert_eq!(out, long, "nothing lost");
}

#[test]
fn long_masked_values_get_the_placeholder() {
    let cfg = r#"{"fields": [{"pointer": "/v", "rule": "mask", "action": {"type": "partial"}}]}"#;
    let long = format!("{{\"v\": \"{}\"}}", "x".repeat(MAX_VALUE + 1));
    let (out, _) = walk(cfg, &[long.as_bytes()]);
    assert_eq!(out, r#"{"v": "[REDACTED]"}"#);
    let (held, j) = {
        let c = load(cfg.as_bytes(), HostFacts::default()).unwrap();
        let cx = Ctx {
            masker: &c.masker,
            rules: &c.rules,
        };
        let mut j = JsonStream::default();
        let mut out = Vec::new();
        j.push(
            &cx,
            long.as_bytes().get(..long.len() - 2).unwrap(),
            &mut out,
            &mut Tally::default(),
        );
        (j.held(), j)
    };
    assert!(held <= MAX_VALUE + 1 && !j.is_text(), "{held}");
}

/// Every two-way split of `body` gives what the whole body gives.
fn splits_agree(cfg: &str, body: &[u8]) {
    let whole = walk(cfg, &[body]).0;
    for at in 0..=body.len() {
        let (a, b) = body.split_at(at);
        assert_eq!(walk(cfg, &[a, b]).0, whole, "split at {at} of {body:?}");
    }
}

#[test]
fn fuzz_finds_agree_split_anywhere() {
    splits_agree("{}", b"9\n99\n9\n8\n9\x839\x19");
}

/// Compact, spaced and pretty-printed JSON come out as they went in (but for the
/// masks), and a member's separator, name and colon take one round of the walker each
/// way: the runs between values are taken whole, not byte by byte.
#[test]
fn separators_and_colons_are_taken_whole_whatever_the_whitespace() {
    for body in [
        r#"{"a":"x@y.co","b":[1,2],"c":{"d":"e"}}"#,
        r#"{"a": "x@y.co", "b": [1, 2], "c": {"d": "e"}}"#,
        "{\n  \"a\" :\t\"x@y.co\",\n  \"b\": [\n 1,\n 2\n ],\r\n \"c\": {\"d\": \"e\"}\n}",
    ] {
        let (out, j) = walk("{}", &[body.as_bytes()]);
        assert_eq!(out, body.replace("x@y.co", "[EMAIL]"));
        assert!(!j.is_text());
    }
    // `{` / `"a` and its colon / `"` / `x"` / `, "` / `b` and its colon / `"` /
    // `y"` / `}`.
    let (_, j) = walk("{}", &[br#"{"a": "x", "b": "y"}"#]);
    assert_eq!(j.rounds, 10);
    let (_, j) = walk("{}", &[br#"{"a" :  "x" ,  "b":"y"}"#]);
    assert_eq!(j.rounds, 11, "whitespace before a comma waits a round");
}

/// Member names with escapes are masked between their escapes, which pass whole, and
/// the same however the body is cut (a name read where it lies, or gathered).
#[test]
fn escaped_member_names_are_masked_between_their_escapes() {
    let body = br#"{"a\"b@c.co": 1, "x\u0041y": 2, "e\\": 3, "\u00e9x@y.co": 4, "\n": 5}"#;
    let want = r#"{"a\"[EMAIL]": 1, "x\u0041y": 2, "e\\": 3, "\u00e9[EMAIL]": 4, "\n": 5}"#;
    let (out, j) = walk("{}", &[body]);
    assert_eq!(out, want);
    assert!(!j.is_text());
    for k in 0..=body.len() {
        let (a, b) = body.split_at(k);
        assert_eq!(walk("{}", &[a, b]).0, want, "cut at {k}");
    }
}

fn walk_counted(json: &str, body: &str) -> (String, u64) {
    let c = load(json.as_bytes(), HostFacts::default()).unwrap();
    let cx = Ctx {
        masker: &c.masker,
        rules: &c.rules,
    };
    let mut j = JsonStream::default();
    let (mut out, mut t) = (Vec::new(), Tally::default());
    j.push(&cx, body.as_bytes(), &mut out, &mut t);
    j.finish(&cx, &mut out, &mut t);
    (String::from_utf8_lossy(&out).into_owned(), t.total())
}

/// `n` copies of `record` in an array: enough member names for the walker to start
/// keeping the clean ones.
fn records(record: &str, n: usize) -> String {
    format!("[{}]", vec![record; n].join(", "))
}

#[test]
fn repeated_member_names_are_masked_and_hinted_every_time() {
    let record = r#"{"a@b.co": 1, "phone": "4155552671", "id": "4155552671"}"#;
    let (out, found) = walk_counted("{}", &records(record, 50));
    let masked = r#"{"[EMAIL]": 1, "phone": "[PHONE]", "id": "4155552671"}"#;
    assert_eq!(out, records(masked, 50));
    assert_eq!(found, 100);
}

#[test]
fn a_name_replaced_by_itself_is_still_counted_every_time() {
    // `keep` longer than the match: the output equals the name, but it matched.
    let cfg = r#"{"custom": [{"name": "k", "pattern": "key", "action": {"type": "partial", "keep": 4}}]}"#;
    let record = r#"{"key": 1, "other": 2}"#;
    let (out, found) = walk_counted(cfg, &records(record, 100));
    assert_eq!(out, records(record, 100));
    assert_eq!(found, 100);
}

#[test]
fn bare_values_are_exactly_json_literals_and_numbers() {
    let valid = [
        "true",
        "false",
        "null",
        "0",
        "-0",
        "7",
        "12",
        "-12",
        "123456789",
        "0.5",
        "-0.5",
        "1.25",
        "1e5",
        "1E5",
        "1e+5",
        "1e-5",
        "1.5e10",
        "-0e0",
        "10.01E-12",
    ];
    let invalid = [
        "", "-", "01", "00", "-01", "1.", ".5", "1e", "1e+", "1.e5", "+1", "0x1", "1a", "tru",
        "nul", "truex", "1.2.3", "1e5.0", "-a", "1-", "--1", "1ee5", "1e5e5",
    ];
    for t in valid {
        assert!(valid_bare(t.as_bytes()), "{t:?} is JSON");
    }
    for t in invalid {
        assert!(!valid_bare(t.as_bytes()), "{t:?} is not JSON");
    }
}

/// Walks `body` as one chunk without finishing it: what is held back at its end.
fn cut(cfg: &str, body: &[u8]) -> JsonStream {
    let c = load(cfg.as_bytes(), HostFacts::default()).unwrap();
    let cx = Ctx {
        masker: &c.masker,
        rules: &c.rules,
    };
    let mut j = JsonStream::default();
    j.push(&cx, body, &mut Vec::new(), &mut Tally::default());
    j
}

/// What a body cut short holds back is counted, whatever holds it: a member name, a
/// number, a value a rule needs whole, a string's segment, or text after giving up.
/// A value whose mask needs none of it (a placeholder) holds nothing.
#[test]
fn held_counts_every_kind_of_held_back_byte() {
    let partial =
        r#"{"fields": [{"pointer": "/v", "rule": "mask", "action": {"type": "partial"}}]}"#;
    let placeholder = r#"{"fields": [{"pointer": "/v", "rule": "mask"}]}"#;
    assert_eq!(cut("{}", br#"{"abc"#).held(), 3, "a name");
    assert_eq!(cut("{}", b"[1234").held(), 4, "a number");
    assert_eq!(
        cut(partial, br#"{"v": "wxyz"#).held(),
        4,
        "a value for a partial mask"
    );
    assert_eq!(
        cut(placeholder, br#"{"v": "wxyz"#).held(),
        0,
        "a placeholder's value"
    );
    let j = cut("{}", br#"["ab@cd.e"#);
    assert!(j.segment.held() > 1 && j.held() == j.segment.held());
    let j = cut("{}", br#"[} ab@cd.e"#);
    assert!(j.is_text() && j.text.held() > 1 && j.held() == j.text.held());
}

/// Each limit holds exactly: a container nested `MAX_DEPTH` deep, a member name of
/// `MAX_KEY` bytes and a number of `MAX_BARE` digits are JSON, one more is text, and
/// the same when the token is cut in two.
#[test]
fn the_depth_name_and_number_limits_are_exact() {
    for (depth, text) in [(MAX_DEPTH, false), (MAX_DEPTH + 1, true)] {
        let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let (out, j) = walk("{}", &[body.as_bytes()]);
        assert_eq!((out, j.is_text()), (body, text), "depth {depth}");
    }
    for (len, text) in [(MAX_KEY, false), (MAX_KEY + 1, true)] {
        let body = format!("{{\"{}\": 1}}", "k".repeat(len));
        for at in [len / 2, len, len + 2] {
            let (a, b) = body.as_bytes().split_at(at);
            let (out, j) = walk("{}", &[a, b]);
            assert_eq!(
                (out, j.is_text()),
                (body.clone(), text),
                "name {len} cut at {at}"
            );
        }
    }
    for (len, text) in [(MAX_BARE, false), (MAX_BARE + 1, true)] {
        let body = format!("[{}]", "7".repeat(len));
        for at in [len / 2, len + 1] {
            let (a, b) = body.as_bytes().split_at(at);
            let (out, j) = walk("{}", &[a, b]);
            assert_eq!(out, body, "number {len} cut at {at}");
            assert_eq!(j.is_text(), text, "number {len} cut at {at}");
        }
    }
}

/// A value a partial mask needs whole is masked up to `MAX_VALUE` bytes, however it
/// arrives; one byte more gets the placeholder, even when the first chunk ends exactly
/// at the limit.
#[test]
fn the_value_limit_is_exact_across_chunks() {
    let cfg = r#"{"fields": [{"pointer": "/v", "rule": "mask", "action": {"type": "partial"}}]}"#;
    let at_limit = format!("{{\"v\": \"{}1234\"}}", "x".repeat(MAX_VALUE - 4));
    let want = format!("{{\"v\": \"{}1234\"}}", "*".repeat(MAX_VALUE - 4));
    let over = format!("{{\"v\": \"{}12345\"}}", "x".repeat(MAX_VALUE - 4));
    let start = "{\"v\": \"".len();
    for at in [start + 1, start + MAX_VALUE - 1, start + MAX_VALUE] {
        let (a, b) = at_limit.as_bytes().split_at(at);
        assert_eq!(walk(cfg, &[a, b]).0, want, "at the limit, cut at {at}");
        let (a, b) = over.as_bytes().split_at(at);
        assert_eq!(
            walk(cfg, &[a, b]).0,
            r#"{"v": "[REDACTED]"}"#,
            "over, cut at {at}"
        );
    }
}

/// Were the walker's rounds ever to run out before the chunk does, the rest is masked
/// as text, not dropped; rounds that end with the chunk change nothing.
#[test]
fn rounds_that_run_out_leave_the_rest_masked_as_text() {
    let c = load(b"{}", HostFacts::default()).unwrap();
    let cx = Ctx {
        masker: &c.masker,
        rules: &c.rules,
    };
    let walk_in = |body: &[u8], rounds: usize| {
        let mut j = JsonStream::default();
        let (mut out, mut t) = (Vec::new(), Tally::default());
        j.push_bounded(&cx, body, &mut out, &mut t, rounds);
        j.finish(&cx, &mut out, &mut t);
        (String::from_utf8_lossy(&out).into_owned(), j.is_text())
    };
    let body = br#"{"a": 1, "b": "x@y.co jane@example.com"}"#;
    assert_eq!(
        walk_in(body, 3),
        (r#"{"a": 1, "b": "[EMAIL] [EMAIL]"}"#.to_owned(), true)
    );
    // `[`, the number's start, its digit, its end, `]`.
    assert_eq!(walk_in(b"[1]", 5), ("[1]".to_owned(), false));
    assert_eq!(walk_in(b"[1]", 4), ("[1]".to_owned(), true));
}

/// A `\u` escape is six bytes, each of the four after `\u` a hex digit: a value goes
/// on being scanned after all six, and anything else there is not JSON.
#[test]
fn unicode_escapes_are_six_bytes_of_hex() {
    let body = br#"["\u0041a@b.co", "\u00e9\n\u0030jane@example.com"]"#;
    let want = r#"["\u0041[EMAIL]", "\u00e9\n\u0030[EMAIL]"]"#;
    for k in 0..=body.len() {
        let (a, b) = body.split_at(k);
        let (out, j) = walk("{}", &[a, b]);
        assert_eq!((out.as_str(), j.is_text()), (want, false), "cut at {k}");
    }
    for bad in [&br#"["\u0zzz"]"#[..], br#"["\u004"]"#, br#"{"\u00g0": 1}"#] {
        let (out, j) = walk("{}", &[bad]);
        assert_eq!(out.as_bytes(), bad);
        assert!(j.is_text(), "{:?}", String::from_utf8_lossy(bad));
    }
}

/// A string value whose end is in the chunk, begun in it or after an escape, is
/// masked where it lies; only one cut by the chunk's end goes through a segment, and
/// nothing inside a dropped member is masked at all.
#[test]
fn whole_strings_are_masked_in_place() {
    let body = br#"{"a": "x@y.co", "b": "p\nq", "c": "plain"}"#;
    assert_eq!(walk("{}", &[body]).1.in_place, 4);
    let cut = body.iter().position(|&b| b == b'@').unwrap();
    let (a, b) = body.split_at(cut);
    let (out, j) = walk("{}", &[a, b]);
    assert_eq!(out, r#"{"a": "[EMAIL]", "b": "p\nq", "c": "plain"}"#);
    assert_eq!(j.in_place, 3);
    let drop_b = r#"{"fields": [{"pointer": "/b", "rule": "drop"}]}"#;
    assert_eq!(walk(drop_b, &[body]).1.in_place, 2);
}
