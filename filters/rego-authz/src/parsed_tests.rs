use serde_json::json;

use super::*;

fn seg(path: &str) -> serde_json::Value {
    serde_json::Value::Array(path_segments(path).unwrap())
}

#[test]
fn parsed_path_matches_go_url_parsing() {
    assert_eq!(seg("/people"), json!(["people"]));
    assert_eq!(seg("/"), json!([""]));
    assert_eq!(seg("/a/b/"), json!(["a", "b", ""]));
    assert_eq!(seg("/a%20b/c?x=1"), json!(["a b", "c"]));
    // Decoded before splitting, as Go's url.Parse does.
    assert_eq!(seg("/a%2Fb"), json!(["a", "b"]));
    assert_eq!(seg("/a+b"), json!(["a+b"]));
    // A literal space is not a control character (Go accepts it too).
    assert_eq!(seg("/a b"), json!(["a b"]));
    assert_eq!(seg("/x#frag"), json!(["x"]));
    assert_eq!(seg("//admin/x"), json!(["admin", "x"]));
    assert!(path_segments("/a%zz").is_err());
    assert!(path_segments("/a%2").is_err());
    assert!(path_segments("/a\u{1}b").is_err());
}

#[test]
fn parsed_query_keeps_repeats_and_empty_values() {
    assert_eq!(
        serde_json::Value::Object(query("/p?a=1&a=2&b=&c&d=x+y&e=%41")),
        json!({"a": ["1", "2"], "b": [""], "c": [""], "d": ["x y"], "e": ["A"]})
    );
    // Go drops pairs it cannot parse and keeps the rest.
    assert_eq!(
        serde_json::Value::Object(query("/p?bad=%zz&ok=1&semi=1;2&&")),
        json!({"ok": ["1"]})
    );
    assert_eq!(serde_json::Value::Object(query("/p")), json!({}));
}

#[test]
fn bodies_parse_as_json_or_forms_within_the_limit() {
    assert_eq!(
        body(
            Some("application/json; charset=utf-8"),
            Some(7),
            br#"{"a":1}"#,
            false
        ),
        Ok(ParsedBody::Value(json!({"a": 1})))
    );
    assert_eq!(
        body(
            Some("application/x-www-form-urlencoded"),
            None,
            b"a=1&a=2",
            false
        ),
        Ok(ParsedBody::Value(json!({"a": ["1", "2"]})))
    );
    assert_eq!(
        body(Some("application/json"), Some(100), b"{", false),
        Ok(ParsedBody::Truncated)
    );
    assert_eq!(
        body(Some("application/json"), None, b"{\"a\"", true),
        Ok(ParsedBody::Truncated)
    );
    assert_eq!(
        body(Some("text/plain"), None, b"hi", false),
        Ok(ParsedBody::None)
    );
    assert_eq!(body(None, None, b"hi", false), Ok(ParsedBody::None));
    // Nothing read yet of a body that went past the limit: truncated, not absent.
    assert_eq!(
        body(Some("application/json"), None, b"", true),
        Ok(ParsedBody::Truncated)
    );
    assert_eq!(
        body(Some("application/json"), None, b"", false),
        Ok(ParsedBody::None)
    );
    assert!(body(Some("application/json"), None, b"{oops", false).is_err());
}
