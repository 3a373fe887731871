use serde_json::json;

use super::*;
use crate::config::Limit;
use crate::gcra::Gcra;

fn limits() -> Vec<Limit> {
    vec![Limit {
        gcra: Gcra::new(10, 1_000_000_000, 10).unwrap(),
        policy: "r".into(),
    }]
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn key_of(parts: &[Descriptor], missing: Missing, r: &Inputs<'_>) -> Option<u64> {
    bucket((1, 2), "rule", &limits(), parts, missing, r)
}

#[test]
fn each_part_separates_buckets_and_missing_parts_skip_or_group() {
    let claims = json!({"sub": "alice", "org": {"id": 7}, "none": null});
    let claims = claims.as_object().unwrap();
    let h = headers(&[("x-api-key", "k1")]);
    let base = Inputs {
        method: "GET",
        path: "/a",
        headers: &h,
        client: Some("10.0.0.1"),
        claims: Some(claims),
    };
    let all = [
        Descriptor::Claim("sub".into()),
        Descriptor::Claim("org.id".into()),
        Descriptor::Header("x-api-key".into()),
        Descriptor::ClientAddress,
        Descriptor::Path,
        Descriptor::Method,
        Descriptor::Constant("c".into()),
    ];
    let k = key_of(&all, Missing::Skip, &base).unwrap();
    assert_eq!(key_of(&all, Missing::Skip, &base), Some(k), "stable");
    let h2 = headers(&[("x-api-key", "k2")]);
    let other_claims = json!({"sub": "bob", "org": {"id": 7}});
    let variants = [
        Inputs {
            method: "POST",
            ..base
        },
        Inputs { path: "/b", ..base },
        Inputs {
            client: Some("10.0.0.2"),
            ..base
        },
        Inputs {
            headers: &h2,
            ..base
        },
        Inputs {
            claims: other_claims.as_object(),
            ..base
        },
    ];
    for v in &variants {
        assert_ne!(key_of(&all, Missing::Skip, v), Some(k));
    }
    // Another seed, another rule name or other limits: other buckets.
    assert_ne!(
        bucket((9, 9), "rule", &limits(), &all, Missing::Skip, &base),
        Some(k)
    );
    assert_ne!(
        bucket((1, 2), "other", &limits(), &all, Missing::Skip, &base),
        Some(k)
    );
    // Missing: a null claim, an absent header, no client address.
    for part in [
        Descriptor::Claim("none".into()),
        Descriptor::Claim("absent".into()),
        Descriptor::Header("x-none".into()),
    ] {
        assert_eq!(
            key_of(std::slice::from_ref(&part), Missing::Skip, &base),
            None
        );
        assert!(key_of(&[part], Missing::Group, &base).is_some());
    }
    let anonymous = Inputs {
        client: None,
        claims: None,
        ..base
    };
    assert_eq!(
        key_of(&[Descriptor::ClientAddress], Missing::Skip, &anonymous),
        None
    );
    assert_eq!(
        key_of(
            &[Descriptor::Claim("sub".into())],
            Missing::Group,
            &anonymous
        ),
        key_of(
            &[Descriptor::Header("x-none".into())],
            Missing::Group,
            &anonymous
        ),
        "every request lacking its part shares one bucket"
    );
}

#[test]
fn parts_are_length_prefixed() {
    let h = headers(&[("a", "ab"), ("b", "c")]);
    let h2 = headers(&[("a", "a"), ("b", "bc")]);
    let r = |h| Inputs {
        method: "GET",
        path: "/",
        headers: h,
        client: None,
        claims: None,
    };
    let parts = [
        Descriptor::Header("a".into()),
        Descriptor::Header("b".into()),
    ];
    assert_ne!(
        key_of(&parts, Missing::Skip, &r(&h)),
        key_of(&parts, Missing::Skip, &r(&h2))
    );
}

#[test]
fn the_client_is_found_behind_trusted_proxies() {
    let peer = Some("10.0.0.9");
    assert_eq!(
        client_address(peer, Some("1.1.1.1"), 0),
        peer,
        "no trusted hop: the peer"
    );
    assert_eq!(
        client_address(peer, Some("6.6.6.6, 1.1.1.1"), 1),
        Some("1.1.1.1")
    );
    assert_eq!(
        client_address(peer, Some("6.6.6.6, 1.1.1.1, 2.2.2.2"), 2),
        Some("1.1.1.1")
    );
    // Envoy with use_remote_address already appended the peer.
    assert_eq!(
        client_address(peer, Some("1.1.1.1, 10.0.0.9"), 1),
        Some("1.1.1.1")
    );
    // A short chain gives its first entry; none at all gives the peer.
    assert_eq!(client_address(peer, Some("1.1.1.1"), 5), Some("1.1.1.1"));
    assert_eq!(client_address(peer, None, 1), peer);
    assert_eq!(client_address(None, None, 1), None);
}

#[test]
fn ports_come_off_addresses() {
    assert_eq!(without_port("10.0.0.1:5000"), "10.0.0.1");
    assert_eq!(without_port("10.0.0.1"), "10.0.0.1");
    assert_eq!(without_port("[::1]:80"), "::1");
    assert_eq!(without_port("::1"), "::1");
    assert_eq!(without_port("host:abc"), "host:abc");
}

#[test]
fn header_parts_are_checked_and_lower_cased() {
    assert_eq!(
        Descriptor::Header("X-Api-Key".into()).compile(),
        Ok(Descriptor::Header("x-api-key".into()))
    );
    assert!(Descriptor::Header(String::new()).compile().is_err());
    assert!(Descriptor::Header("a b".into()).compile().is_err());
    assert!(Descriptor::Claim("a..b".into()).compile().is_err());
    assert_eq!(Descriptor::Method.compile(), Ok(Descriptor::Method));
}
