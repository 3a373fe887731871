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
