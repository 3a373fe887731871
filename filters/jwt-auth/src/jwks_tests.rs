//! Unit tests of `jwks`.

use super::*;

/// 32 bytes, base64url: long enough for HS256.
const K32: &str = "c2VjcmV0LW9uZS0wMTIzNDU2Nzg5YWJjZGVmZ2hpams";

fn jwks(keys: &str) -> Vec<u8> {
    format!(r#"{{"keys":[{keys}]}}"#).into_bytes()
}

#[test]
fn bad_keys_are_skipped_not_fatal() {
    let doc = jwks(&format!(
        r#"{{"kty":"oct","kid":"h","k":"{K32}"}},
        {{"kty":"EC","crv":"P-521","kid":"big","x":"AA","y":"AA"}},
        {{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}},
        {{"kty":"oct","kid":"mismatch","alg":"RS256","k":"{K32}"}},
        {{"kty":"oct","kid":"ops","key_ops":["encrypt"],"k":"{K32}"}},
        {{"kty":"oct","kid":"ops-str","key_ops":"verify","k":"{K32}"}},
        {{"kty":"EC","crv":"secp256k1","kid":"k","x":"AA","y":"AA"}},
        {{"kid":"nokty"}}"#
    ));
    let set = KeySet::from_jwks(&doc).unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.skipped.len(), 7, "{:?}", set.skipped);
    assert!(set.skipped.iter().any(|s| s.contains("P-521 coordinate")));
    assert!(
        set.skipped
            .iter()
            .any(|s| s.contains("(kid ops)") && s.contains("key_ops"))
    );
    assert!(set.skipped.iter().any(|s| s.contains("(kid ops-str)")));
    assert!(
        set.skipped
            .iter()
            .any(|s| s.contains("(kid enc)") && s.contains("use"))
    );
}

#[test]
fn key_ops_with_verify_is_used() {
    let doc = jwks(&format!(
        r#"{{"kty":"oct","kid":"v","key_ops":["sign","verify"],"k":"{K32}"}}"#
    ));
    assert_eq!(KeySet::from_jwks(&doc).unwrap().keys.len(), 1);
    let enc_only = jwks(&format!(
        r#"{{"kty":"oct","key_ops":["encrypt"],"k":"{K32}"}}"#
    ));
    assert!(KeySet::from_jwks(&enc_only).is_err(), "no usable key left");
}

#[test]
fn weak_keys_are_refused_in_configs_and_skipped_when_fetched() {
    let short = r#"{"kty":"oct","kid":"tiny","k":"c2VjcmV0"}"#;
    let err = KeySet::from_config_jwks(&jwks(short)).unwrap_err();
    assert!(err.contains("kid tiny") && err.contains("6 bytes"), "{err}");
    let fetched = KeySet::from_jwks(&jwks(&format!(r#"{short},{{"kty":"oct","k":"{K32}"}}"#)));
    let fetched = fetched.unwrap();
    assert_eq!((fetched.keys.len(), fetched.skipped.len()), (1, 1));
    // 32 bytes fit HS256 but not HS512.
    let pinned = format!(r#"{{"kty":"oct","kid":"p","alg":"HS512","k":"{K32}"}}"#);
    let err = KeySet::from_config_jwks(&jwks(&pinned)).unwrap_err();
    assert!(
        err.contains("HS512") && err.contains("at least 64"),
        "{err}"
    );
    // An RSA modulus of 1024 bits (128 bytes, high bit set).
    let n1024 = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        [0xc5u8; 128],
    );
    let rsa = format!(r#"{{"kty":"RSA","kid":"r1024","n":"{n1024}","e":"AQAB"}}"#);
    let err = KeySet::from_config_jwks(&jwks(&rsa)).unwrap_err();
    assert!(
        err.contains("kid r1024") && err.contains("1024 bits"),
        "{err}"
    );
}

#[test]
fn an_unpinned_secret_serves_only_algorithms_it_is_long_enough_for() {
    let key = Key::secret(&[7u8; 48], None, None).unwrap();
    assert!(key.accepts(Alg::HS256));
    assert!(key.accepts(Alg::HS384));
    assert!(!key.accepts(Alg::HS512));
    assert!(!key.accepts(Alg::RS256));
    assert!(matches!(
        Key::secret(&[7u8; 31], None, None),
        Err(Unusable::Weak(_))
    ));
    assert!(Key::secret(&[7u8; 32], None, None).is_ok());
    assert!(matches!(
        Key::secret(&[7u8; 63], Some(Alg::HS512), None),
        Err(Unusable::Weak(_))
    ));
}

#[test]
fn bit_lengths() {
    assert_eq!(bit_length(&[]), 0);
    assert_eq!(bit_length(&[0, 0]), 0);
    assert_eq!(bit_length(&[1]), 1);
    assert_eq!(bit_length(&[0, 0x80]), 8);
    assert_eq!(bit_length(&[0x01, 0]), 9);
    assert_eq!(bit_length(&[0xff; 256]), 2048);
    assert_eq!(bit_length(&[0x7f; 256]), 2047);
}

#[test]
fn unusable_documents_are_errors() {
    assert!(KeySet::from_jwks(b"garbage").is_err());
    assert!(KeySet::from_jwks(br#"{"keys":{}}"#).is_err());
    assert!(KeySet::from_jwks(br#"{"keys":[]}"#).is_err());
    assert!(KeySet::from_jwks(br#"{"nope":1}"#).is_err());
}

#[test]
fn key_debug_never_shows_material() {
    let key = Key::secret(
        b"super-secret-0123456789abcdefghij",
        Some(Alg::HS256),
        Some("k".into()),
    );
    assert!(!format!("{:?}", key.unwrap()).contains("super"));
}

#[test]
fn a_weak_key_beside_good_ones_is_still_a_config_error() {
    let doc = jwks(&format!(
        r#"{{"kty":"oct","kid":"good","k":"{K32}"}},{{"kty":"oct","kid":"weak","k":"c2VjcmV0"}}"#
    ));
    let err = KeySet::from_config_jwks(&doc).unwrap_err();
    assert!(err.starts_with("keys[1] (kid weak)"), "{err}");
    assert_eq!(
        KeySet::from_jwks(&doc).unwrap().keys.len(),
        1,
        "fetched: skipped"
    );
}

#[test]
fn documents_and_keys_describe_themselves() {
    assert!(
        KeySet::from_jwks(br#"{"nope":1}"#)
            .unwrap_err()
            .contains("has no keys")
    );
    let single = format!(r#"{{"kty":"oct","kid":"one","k":"{K32}"}}"#);
    assert_eq!(
        KeySet::from_jwks(single.as_bytes()).unwrap().keys.len(),
        1,
        "a bare JWK"
    );
    let key = Key::secret(&[1; 32], Some(Alg::HS256), Some("kid-7".into())).unwrap();
    let shown = format!("{key:?}");
    assert!(
        shown.contains("kid-7") && shown.contains("HS256"),
        "{shown}"
    );
}
