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

fn one(s: &[Source], headers: &[(String, String)], path: &str) -> Option<(String, usize)> {
    let found = extract(s, headers, path).unwrap();
    assert!(found.len() <= 1, "{found:?}");
    found.into_iter().next().map(|f| (f.token, f.source))
}

#[test]
fn finds_tokens_in_each_source() {
    let s = sources();
    let bearer = one(&s, &h(&[("authorization", "bearer  abc.def.ghi ")]), "/");
    assert_eq!(bearer, Some(("abc.def.ghi".into(), 0)));
    assert_eq!(one(&s, &h(&[("authorization", "Basic xyz")]), "/"), None);
    let q = one(&s, &[], "/a?x=1&access_token=t.o.k#frag");
    assert_eq!(q, Some(("t.o.k".into(), 1)));
    let c = one(&s, &h(&[("cookie", "a=1; hcp_token=\"c.o.k\"; b=2")]), "/");
    assert_eq!(c, Some(("c.o.k".into(), 2)));
    assert_eq!(
        one(&s, &h(&[("authorization", "Bearer ")]), "/?access_token="),
        None,
        "empty is not a token"
    );
    assert_eq!(
        one(&s, &h(&[("cookie", "xhcp_token=1")]), "/"),
        None,
        "cookie names match exactly"
    );
}

#[test]
fn every_token_is_found_once() {
    let s = sources();
    let headers = h(&[
        ("authorization", "Bearer a.b.c"),
        ("cookie", "hcp_token=a.b.c; hcp_token=x.y.z"),
    ]);
    let found = extract(&s, &headers, "/p?access_token=q.r.s&access_token=a.b.c").unwrap();
    let tokens: Vec<(&str, usize)> = found.iter().map(|f| (f.token.as_str(), f.source)).collect();
    assert_eq!(tokens, [("a.b.c", 0), ("q.r.s", 1), ("x.y.z", 2)]);
}

#[test]
fn a_repeated_token_header_is_refused() {
    let s = sources();
    let two = h(&[
        ("authorization", "Bearer a.b.c"),
        ("authorization", "Bearer d.e.f"),
    ]);
    assert_eq!(
        extract(&s, &two, "/").unwrap_err().code,
        Code::TokenRepeated
    );
    // Envoy joins a repeated header's values with a comma.
    let joined = h(&[("authorization", "Bearer a.b.c,Bearer d.e.f")]);
    assert_eq!(
        extract(&s, &joined, "/").unwrap_err().code,
        Code::TokenRepeated
    );
    // A second header with another scheme is not a second token.
    let other = h(&[
        ("authorization", "Bearer a.b.c"),
        ("authorization", "Basic eA=="),
    ]);
    assert_eq!(extract(&s, &other, "/").unwrap().len(), 1);
}

#[test]
fn strips_every_occurrence_at_once() {
    let s = sources();
    let all: Vec<&Source> = s.iter().collect();
    let headers = h(&[("cookie", "a=1; hcp_token=c.o.k; b=2; hcp_token=d")]);
    assert_eq!(
        strip(&all, &headers, "/a?x=1&access_token=t&y=2&access_token=u"),
        vec![
            Strip::RemoveHeader("authorization".into()),
            Strip::SetPath("/a?x=1&y=2".into()),
            Strip::SetCookie(Some("a=1; b=2".into())),
        ]
    );
    let cookie_only = [&s[2]];
    let only = h(&[("cookie", "hcp_token=c.o.k")]);
    assert_eq!(
        strip(&cookie_only, &only, "/"),
        vec![Strip::SetCookie(None)]
    );
    let query_only = [&s[1]];
    assert_eq!(
        strip(&query_only, &[], "/a?access_token=t"),
        vec![Strip::SetPath("/a".into())]
    );
    assert_eq!(
        strip(&query_only, &[], "/a?b=1"),
        vec![],
        "nothing to strip"
    );
    assert_eq!(strip(&cookie_only, &h(&[("cookie", "b=1")]), "/"), vec![]);
}
