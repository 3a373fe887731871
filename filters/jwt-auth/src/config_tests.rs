//! Unit tests of `config`: the documented defaults, and what compiling makes of them.

use super::*;
use tollgate_kit::config;

const KEYS: &str =
    r#"{"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0LW9uZS0wMTIzNDU2Nzg5YWJjZGVmZ2hpams"}]}}"#;

fn load(json: &str) -> Compiled {
    config::load::<JwtAuthConfig>(json.as_bytes()).unwrap()
}

#[test]
fn documented_defaults() {
    let c = load(&format!(r#"{{"providers": {{"p": {{"keys": {KEYS}}}}}}}"#));
    assert_eq!(c.cache_entries, 1024);
    assert_eq!(c.max_token_bytes, 8192);
    assert_eq!(c.paths, PathHandling::Normalize);
    let p = &c.providers[0];
    assert!(p.policy.require_exp);
    assert_eq!(p.policy.clock_skew, Duration::from_secs(60));
    assert_eq!(p.payload_header, "x-tollgate-jwt-payload");
    assert_eq!(p.credential_claims, ["password"]);
    assert_eq!(
        p.sources,
        [Source::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into()
        }]
    );
    assert!(!p.forward && !p.require_encryption && p.decryption.is_none());
    assert!(c.warnings.is_empty());
}

#[test]
fn remote_defaults_and_timing() {
    let c =
        load(r#"{"providers": {"p": {"keys": {"remote": {"upstream": "idp", "path": "/jwks"}}}}}"#);
    let Keys::Remote(r) = &c.providers[0].keys else {
        panic!("remote keys");
    };
    assert_eq!(r.authority, "idp");
    let p = r.policy;
    assert_eq!(p.cache_ms, 600_000);
    assert_eq!(p.timeout_ms, 2_000);
    assert_eq!(p.kid_refetch_interval_ms, 30_000);
    assert_eq!(p.max_stale_ms, 86_400_000);
    assert_eq!((p.backoff_base_ms, p.backoff_max_ms), (1_000, 60_000));
    let never = load(
        r#"{"providers": {"p": {"keys": {"remote": {"upstream": "idp", "path": "/jwks",
            "unknown_kid_refetch_seconds": 0, "cache_seconds": 30}}}}}"#,
    );
    let Keys::Remote(r) = &never.providers[0].keys else {
        panic!("remote keys");
    };
    assert_eq!(r.policy.kid_refetch_interval_ms, u64::MAX, "0 means never");
    assert_eq!(
        r.policy.backoff_max_ms, 30_000,
        "backoff capped by the cache time"
    );
}

#[test]
fn rsa_budget_default_and_secrets_never_debug_printed() {
    let cfg: DecryptionConfig = serde_json::from_str(
        r#"{"rsa_oaep_256": {"private_key": "-----BEGIN PRIVATE KEY----- secret"}}"#,
    )
    .unwrap();
    let DecryptionConfig::RsaOaep256 {
        max_decryptions_per_second,
        accept_rustsec_2023_0071,
        ..
    } = &cfg
    else {
        panic!("rsa");
    };
    assert_eq!(
        (*max_decryptions_per_second, *accept_rustsec_2023_0071),
        (20, false)
    );
    assert_eq!(format!("{cfg:?}"), "RsaOaep256(..)");
    let dir: DecryptionConfig = serde_json::from_str(r#"{"dir": {"key": "k-secret"}}"#).unwrap();
    assert_eq!(format!("{dir:?}"), "Dir(..)");
    let ecdh: DecryptionConfig =
        serde_json::from_str(r#"{"ecdh_es": {"private_key": {"d": "d-secret"}}}"#).unwrap();
    assert_eq!(format!("{ecdh:?}"), "EcdhEs(..)");
}

#[test]
fn header_names() {
    for good in ["x-user", "x_user", "a", "x-1"] {
        assert!(valid_header_name(good), "{good}");
    }
    for bad in ["", "X-User", "x user", "x:y", "x\u{e9}", ":path"] {
        assert!(!valid_header_name(bad), "{bad}");
    }
}

#[test]
fn inline_pem_keys_verify() {
    // The committed ES256 test key (testing/fixtures/keys), as PEM.
    let public = include_str!("../../../testing/fixtures/keys/es256-public.pem");
    let private = include_str!("../../../testing/fixtures/keys/es256-private.pem");
    let c = load(
        &serde_json::json!({"providers": {"p": {"keys": {"pem": {"key": public, "alg": "ES256"}}}},
                            "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "p"}}]})
        .to_string(),
    );
    let key = jsonwebtoken::EncodingKey::from_ec_pem(private.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &serde_json::json!({"sub": "a", "exp": 2_000_000_000}),
        &key,
    )
    .unwrap();
    let headers = vec![("authorization".to_string(), format!("Bearer {token}"))];
    let view = crate::decide::RequestView {
        method: "GET",
        path: "/",
        headers: &headers,
    };
    let decision = c.decide(&view, 1_700_000_000.0, &crate::decide::NoRemoteKeys);
    assert!(
        matches!(decision, crate::decide::Decision::Allow { .. }),
        "{decision:?}"
    );
}

#[test]
fn limits_are_inclusive_and_claim_rules_compile() {
    let c = load(&format!(
        r#"{{"providers": {{"p": {{"keys": {KEYS}, "claims": [
            {{"path": "a", "equals": 1}}, {{"path": "b", "prefix": "x"}}, {{"path": "c", "one_of": [1]}}]}}}},
            "cache_entries": 1000000, "max_token_bytes": 65536}}"#
    ));
    assert_eq!(c.cache_entries, 1_000_000);
    assert_eq!(c.max_token_bytes, 65_536);
    let rules = &c.providers[0].policy.rules;
    assert_eq!(rules[0].expect, Match::Exact(serde_json::json!(1)));
    assert_eq!(rules[1].expect, Match::Prefix("x".into()));
    assert_eq!(rules[2].expect, Match::OneOf(vec![serde_json::json!(1)]));
    let small = load(&format!(
        r#"{{"providers": {{"p": {{"keys": {KEYS}}}}}, "max_token_bytes": 256}}"#
    ));
    assert_eq!(small.max_token_bytes, 256);
}

#[test]
fn provider_names_take_letters_digits_underscores_and_dashes() {
    let c = load(&format!(
        r#"{{"providers": {{"my_idp-2": {{"keys": {KEYS}}}, "b": {{"keys": {KEYS}}}}}}}"#
    ));
    assert_eq!(c.providers[1].name, "my_idp-2");
}
