//! Unit tests of `extract`.

use super::*;

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn sources() -> Vec<Source> {
    vec![
        Source::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        },
        Source::Query {
            param: "access_token".into(),
        },
        Source::Cookie {
            name: "hcp_token".into(),
        },
    ]
}

#[test]
fn finds_tokens_in_order() {
    let s = sources();
    let bearer = extract(&s, &h(&[("authorization", "bearer  abc.def.ghi ")]), "/").unwrap();
    assert_eq!((bearer.token.as_str(), bearer.source), ("abc.def.ghi", 0));
    assert_eq!(
        extract(&s, &h(&[("authorization", "Basic xyz")]), "/"),
        None
    );
    let q = extract(&s, &[], "/a?x=1&access_token=t.o.k#frag").unwrap();
    assert_eq!((q.token.as_str(), q.source), ("t.o.k", 1));
    let c = extract(&s, &h(&[("cookie", "a=1; hcp_token=\"c.o.k\"; b=2")]), "/").unwrap();
    assert_eq!((c.token.as_str(), c.source), ("c.o.k", 2));
    assert_eq!(
        extract(&s, &h(&[("authorization", "Bearer ")]), "/?access_token="),
        None,
        "empty is not a token"
    );
    assert_eq!(
        extract(&s, &h(&[("cookie", "xhcp_token=1")]), "/"),
        None,
        "cookie names match exactly"
    );
}

#[test]
fn strips_what_it_found() {
    let s = sources();
    let headers = h(&[("cookie", "a=1; hcp_token=c.o.k; b=2")]);
    let found = extract(&s, &headers, "/").unwrap();
    assert_eq!(
        strip(&s, &found, &headers, "/"),
        Some(Strip::SetCookie(Some("a=1; b=2".into())))
    );
    let only = h(&[("cookie", "hcp_token=c.o.k")]);
    let found = extract(&s, &only, "/").unwrap();
    assert_eq!(strip(&s, &found, &only, "/"), Some(Strip::SetCookie(None)));
    let found = extract(&s, &[], "/a?x=1&access_token=t&y=2").unwrap();
    assert_eq!(
        strip(&s, &found, &[], "/a?x=1&access_token=t&y=2"),
        Some(Strip::SetPath("/a?x=1&y=2".into()))
    );
    let found = extract(&s, &[], "/a?access_token=t").unwrap();
    assert_eq!(
        strip(&s, &found, &[], "/a?access_token=t"),
        Some(Strip::SetPath("/a".into()))
    );
    let bearer = h(&[("authorization", "Bearer t")]);
    let found = extract(&s, &bearer, "/").unwrap();
    assert_eq!(
        strip(&s, &found, &bearer, "/"),
        Some(Strip::RemoveHeader("authorization".into()))
    );
}
