//! Unit tests of `decide` (the case files in tests/cases cover the rest).

use super::*;
use hmac::{Hmac, Mac};
use serde_json::json;
use tollgate_kit::config;

const NOW: f64 = 1_700_000_000.0;

fn hs256(secret: &[u8], sub: &str) -> String {
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "HS256"})),
        b64(json!({"sub": sub, "exp": NOW + 60.0}))
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// Two providers reading the same header: `fwd` forwards its token, `plain` does not.
fn two_providers() -> Compiled {
    let key = |s: &[u8]| json!({"keys": [{"kty": "oct", "k": URL_SAFE_NO_PAD.encode(s)}]});
    let cfg = json!({"providers": {
            "fwd": {"keys": {"jwks": key(&[1; 32])}, "forward": true, "payload_header": "x-fwd"},
            "plain": {"keys": {"jwks": key(&[2; 32])}, "payload_header": "x-plain"}},
        "rules": [{"match": {"prefix": "/"},
                   "requires": {"any": [{"provider": "fwd"}, {"provider": "plain"}]}}]});
    config::load::<crate::config::JwtAuthConfig>(cfg.to_string().as_bytes()).unwrap()
}

fn mutations(compiled: &Compiled, token: &str) -> Vec<Mutation> {
    let headers = vec![("authorization".to_string(), format!("Bearer {token}"))];
    let view = RequestView {
        method: "GET",
        path: "/x",
        headers: &headers,
    };
    match compiled.decide(&view, NOW, &NoRemoteKeys) {
        Decision::Allow { mutations, .. } => mutations,
        Decision::Deny(r) => panic!("denied: {}", r.denial),
    }
}

#[test]
fn a_token_verified_by_a_forwarding_provider_stays_even_where_others_read_it() {
    let m = mutations(&two_providers(), &hs256(&[1; 32], "a"));
    assert!(
        !m.contains(&Mutation::Remove("authorization".into())),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|x| matches!(x, Mutation::Set(h, _) if h == "x-fwd"))
    );
}

#[test]
fn a_token_only_a_non_forwarding_provider_verified_is_stripped() {
    let m = mutations(&two_providers(), &hs256(&[2; 32], "b"));
    assert!(
        m.contains(&Mutation::Remove("authorization".into())),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|x| matches!(x, Mutation::Set(h, _) if h == "x-plain"))
    );
    assert!(
        !m.iter()
            .any(|x| matches!(x, Mutation::Set(h, _) if h == "x-fwd"))
    );
}

#[test]
fn quoted_descriptions_drop_what_would_break_the_header() {
    assert_eq!(quoted_description("a\"b\\c\nd\u{7f}e"), "abcde");
    assert_eq!(quoted_description("plain text"), "plain text");
}

#[test]
fn refusal_statuses_by_code() {
    let status = |code| reject(Denial::new(code, "m"), None, None).status;
    assert_eq!(status(Code::AudienceMismatch), 403);
    assert_eq!(status(Code::ClaimMismatch), 403);
    assert_eq!(status(Code::PathInvalid), 400);
    assert_eq!(status(Code::SignatureInvalid), 401);
    assert_eq!(status(Code::TokenMissing), 401);
    let missing = reject(Denial::new(Code::TokenMissing, "m"), None, None);
    assert_eq!(missing.www_authenticate, "Bearer realm=\"tollgate\"");
    assert!(
        reject(Denial::new(Code::PathInvalid, "m"), None, None)
            .www_authenticate
            .is_empty()
    );
}

#[test]
fn remote_providers_without_keys_say_so_before_parsing() {
    let cfg = json!({"providers": {"r": {"keys": {"remote": {"upstream": "idp", "path": "/j"}}}},
                     "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "r"}}]});
    let c = config::load::<crate::config::JwtAuthConfig>(cfg.to_string().as_bytes()).unwrap();
    let headers = vec![(
        "authorization".to_string(),
        "Bearer not-a-token".to_string(),
    )];
    let view = RequestView {
        method: "GET",
        path: "/x",
        headers: &headers,
    };
    match c.decide(&view, NOW, &NoRemoteKeys) {
        Decision::Deny(r) => assert_eq!(r.denial.code, Code::NoKeys),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_token_of_exactly_the_size_limit_is_verified_and_cached() {
    let secret = [3u8; 32];
    let key = json!({"keys": [{"kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret)}]});
    // Pad the claims until the token is exactly 300 bytes.
    let make = |pad: usize| {
        let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!(
            "{}.{}",
            b64(json!({"alg": "HS256"})),
            b64(json!({"exp": NOW + 60.0, "p": "x".repeat(pad)}))
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
        mac.update(input.as_bytes());
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    let token = (0..200).map(make).find(|t| t.len() == 300).unwrap();
    let cfg = json!({"providers": {"p": {"keys": {"jwks": key}}}, "max_token_bytes": 300,
                     "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "p"}}]});
    let c = config::load::<crate::config::JwtAuthConfig>(cfg.to_string().as_bytes()).unwrap();
    let headers = vec![("authorization".to_string(), format!("Bearer {token}"))];
    let view = RequestView {
        method: "GET",
        path: "/x",
        headers: &headers,
    };
    let mut cache = TokenCache::new(4);
    let d = c.decide_cached(&view, NOW, &NoRemoteKeys, Some(&mut cache));
    assert!(matches!(d, Decision::Allow { .. }), "{d:?}");
    assert_eq!(cache.len(), 1, "cached");
}

#[test]
fn nested_claims_become_json_headers() {
    assert_eq!(
        header_value(&json!(["a", 1, true]), false).unwrap(),
        "a,1,true"
    );
    assert_eq!(
        header_value(&json!(["a", ["b"]]), false).unwrap(),
        r#"["a",["b"]]"#
    );
    assert_eq!(
        header_value(&json!([{"k": 1}]), false).unwrap(),
        r#"[{"k":1}]"#
    );
    assert_eq!(header_value(&json!(["a"]), true).unwrap(), r#"["a"]"#);
    assert_eq!(
        header_value(&json!({"k": "v"}), false).unwrap(),
        r#"{"k":"v"}"#
    );
    assert_eq!(header_value(&json!(null), false), None);
    assert_eq!(header_value(&json!("line\nbreak"), false), None);
    assert_eq!(header_value(&json!("x".repeat(4097)), false), None);
    assert!(header_value(&json!("x".repeat(4096)), false).is_some());
}

#[test]
fn denials_display_code_and_message() {
    let d = Denial::new(Code::TokenExpired, "the token has expired");
    assert_eq!(d.to_string(), "token_expired: the token has expired");
}
