use super::*;
use crate::facts::HostKind;
use crate::mock::MockHost;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn all() -> Vec<Mutation> {
    vec![
        Mutation::RemoveOwned("x-user".into()),
        Mutation::Remove("authorization".into()),
        Mutation::Set("x-user".into(), "alice".into()),
        Mutation::SetPath("/a?b=1".into()),
        Mutation::SetAuthority("acme.hcp".into()),
        Mutation::SetCookie(Some("a=1".into())),
    ]
}

#[test]
fn targets_values_and_removals_use_envoy_names() {
    let m = all();
    let targets: Vec<&str> = m.iter().map(Mutation::target).collect();
    assert_eq!(
        targets,
        [
            "x-user",
            "authorization",
            "x-user",
            ":path",
            ":authority",
            "cookie"
        ]
    );
    assert_eq!(value_of(&m, ":path"), Some("/a?b=1"));
    assert_eq!(value_of(&m, ":authority"), Some("acme.hcp"));
    assert_eq!(value_of(&m, "cookie"), Some("a=1"));
    assert_eq!(value_of(&m, "x-user"), Some("alice"));
    assert_eq!(value_of(&m, "authorization"), None);
    assert!(m[0].removes("x-user") && m[1].removes("authorization"));
    assert!(!m[2].removes("x-user") && !Mutation::SetCookie(None).removes("cookie"));
    assert_eq!(Mutation::SetCookie(None).value_of("cookie"), None);
}

#[test]
fn envoy_applies_every_mutation() {
    let host = MockHost::new().with_headers(
        MapKind::RequestHeaders,
        &[
            (":path", "/x"),
            (":authority", "edge"),
            ("x-user", "mallory"),
            ("authorization", "Bearer t"),
            ("cookie", "t=1; a=1"),
        ],
    );
    let facts = HostFacts::of(HostKind::Envoy);
    let headers = host.header_pairs(MapKind::RequestHeaders).unwrap();
    let m = all();
    let plans = plan(facts, &headers, &m).unwrap();
    apply(&host, facts, &m, &plans).unwrap();
    let after = host.header_pairs(MapKind::RequestHeaders).unwrap();
    let get = |n: &str| crate::pairs::first(&after, n).to_string();
    assert_eq!(get("x-user"), "alice");
    assert_eq!(get("authorization"), "");
    assert_eq!(get(":path"), "/a?b=1");
    assert_eq!(get(":authority"), "acme.hcp");
    assert_eq!(get("cookie"), "a=1");
}

#[test]
fn kong_refuses_before_writing_what_it_cannot_take_out() {
    let facts = HostFacts::of(HostKind::Kong);
    let headers = pairs(&[("x-user", "mallory")]);
    let m = all();
    assert_eq!(plan(facts, &headers, &m), Err("x-user"));
    let no_spoof = pairs(&[("authorization", "Bearer t")]);
    let plans = plan(facts, &no_spoof, &m).unwrap();
    assert_eq!(plans[1], Removal::Blank);
    assert_eq!(plans[3], Removal::Proceed);
}

#[test]
fn a_failed_write_is_reported_after_trying_the_rest() {
    let host = MockHost::new()
        .with_headers(MapKind::RequestHeaders, &[("authorization", "Bearer t")])
        .failing(
            "proxy_replace_header_map_value",
            crate::Status::InternalFailure,
        );
    let facts = HostFacts::of(HostKind::Envoy);
    let m = vec![
        Mutation::Set("x-user".into(), "alice".into()),
        Mutation::Remove("authorization".into()),
    ];
    let headers = pairs(&[("authorization", "Bearer t")]);
    let plans = plan(facts, &headers, &m).unwrap();
    assert!(apply(&host, facts, &m, &plans).is_err());
    let after = host.header_pairs(MapKind::RequestHeaders).unwrap();
    assert!(after.is_empty(), "the token was still taken out: {after:?}");
}
