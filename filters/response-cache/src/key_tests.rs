use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

fn payload(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

#[test]
fn identities() {
    let c = IdentityConfig::default();
    let h = headers(&[(
        "x-tollgate-jwt-payload",
        &payload(r#"{"sub":"a","tenant":"t"}"#),
    )]);
    let who = |h: &'static [(String, String)]| Who {
        headers: h,
        credentials: None,
    };
    let leak = |v: Vec<(String, String)>| -> &'static [(String, String)] {
        Box::leak(v.into_boxed_slice())
    };
    let a = identity(&c, false, &who(leak(h.clone()))).unwrap();
    assert!(matches!(a, Identity::Caller(_)));
    assert_eq!(identity(&c, true, &who(leak(h))), Some(Identity::Public));
    assert_eq!(
        identity(&c, false, &who(leak(Vec::new()))),
        Some(Identity::Anonymous)
    );
    assert_eq!(
        identity(&c, false, &who(leak(headers(&[("authorization", "x")])))),
        None
    );
    assert_eq!(
        identity(&c, false, &who(leak(headers(&[("cookie", "x")])))),
        None
    );
    let anon = IdentityConfig {
        unverified_credentials: Unverified::Anonymous,
        ..IdentityConfig::default()
    };
    assert_eq!(
        identity(&anon, false, &who(leak(headers(&[("cookie", "x")])))),
        Some(Identity::Anonymous)
    );
}

#[test]
fn claims_are_length_prefixed_and_absent_is_not_empty() {
    let c = IdentityConfig {
        claims: vec!["a".into(), "b".into()],
        ..IdentityConfig::default()
    };
    let id = |json: &str| {
        let h = headers(&[("x-tollgate-jwt-payload", &payload(json))]);
        identity(
            &c,
            false,
            &Who {
                headers: &h,
                credentials: None,
            },
        )
    };
    assert_ne!(id(r#"{"a":"xy","b":""}"#), id(r#"{"a":"x","b":"y"}"#));
    assert_ne!(id(r#"{"a":""}"#), id(r#"{}"#));
    assert_eq!(id(r#"{"a":"1","c":"ignored"}"#), id(r#"{"a":"1"}"#));
    assert_ne!(id(r#"{"a":1}"#), id(r#"{"a":"x"}"#));
}

#[test]
fn credentials_are_hashed_into_the_identity() {
    let c = IdentityConfig {
        credentials: true,
        ..IdentityConfig::default()
    };
    let h = headers(&[("x-tollgate-jwt-payload", &payload(r#"{"sub":"a"}"#))]);
    let with = |cred: Option<&[u8]>| {
        identity(
            &c,
            false,
            &Who {
                headers: &h,
                credentials: cred,
            },
        )
    };
    assert_ne!(with(Some(b"u1:p1")), with(Some(b"u1:p2")));
    assert_ne!(with(Some(b"u1:p1")), with(None));
    let Some(Identity::Caller(material)) = with(Some(b"secret-password")) else {
        panic!("an identity");
    };
    assert!(
        !material.windows(6).any(|w| w == b"secret"),
        "credentials never in clear"
    );
}

#[test]
fn primary_keys_separate_identities_authorities_and_paths() {
    let alice = Identity::Caller(b"alice".to_vec());
    let k = |i: &Identity, a: &str, p: &str| primary(i, a, p);
    let base = k(&alice, "h", "/x");
    assert_eq!(base, k(&alice, "H", "/x"), "authorities in any case");
    assert_ne!(base, k(&Identity::Caller(b"bob".to_vec()), "h", "/x"));
    assert_ne!(base, k(&Identity::Public, "h", "/x"));
    assert_ne!(
        k(&Identity::Public, "h", "/x"),
        k(&Identity::Anonymous, "h", "/x")
    );
    assert_ne!(base, k(&alice, "g", "/x"));
    assert_ne!(base, k(&alice, "h", "/x?a=1"));
    assert_ne!(
        k(&alice, "ab", "/c"),
        k(&alice, "a", "b/c"),
        "no ambiguity at the joint"
    );
}

#[test]
fn vary_secondary_keys() {
    let response = headers(&[("vary", "Accept-Encoding, accept"), ("vary", "x-none")]);
    let request = headers(&[
        ("accept", "a,   b"),
        ("accept", "c"),
        ("accept-encoding", "gzip"),
    ]);
    let stored = vary_of(&response, &request);
    assert_eq!(
        stored,
        vec![
            ("accept".to_string(), Some("a, b, c".to_string())),
            ("accept-encoding".to_string(), Some("gzip".to_string())),
            ("x-none".to_string(), None),
        ]
    );
    assert!(vary_matches(&stored, &request));
    let other = headers(&[
        ("accept", "a, b"),
        ("accept", "c"),
        ("accept-encoding", "br"),
    ]);
    assert!(!vary_matches(&stored, &other));
    let with_none = headers(&[
        ("accept", "a, b, c"),
        ("accept-encoding", "gzip"),
        ("x-none", ""),
    ]);
    assert!(!vary_matches(&stored, &with_none));
    assert!(vary_matches(&[], &other));
}
