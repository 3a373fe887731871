//! Unit tests of `jwks`.

use super::*;

#[test]
fn bad_keys_are_skipped_not_fatal() {
    let jwks = br#"{"keys":[
        {"kty":"oct","kid":"h","k":"c2VjcmV0"},
        {"kty":"EC","crv":"P-521","kid":"big","x":"AA","y":"AA"},
        {"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"},
        {"kty":"oct","kid":"mismatch","alg":"RS256","k":"c2VjcmV0"},
        {"kid":"nokty"}
    ]}"#;
    let set = KeySet::from_jwks(jwks).unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.skipped.len(), 4, "{:?}", set.skipped);
    assert!(set.skipped.iter().any(|s| s.contains("P-521")));
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
    let key = Key::secret(b"super-secret", Some(Alg::HS256), Some("k".into()));
    assert!(!format!("{key:?}").contains("super"));
}
