use base64::Engine as _;

use super::*;

#[test]
fn payload_headers_decode_to_claims_or_nothing() {
    let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    assert_eq!(
        claims_from(Some(&enc(r#"{"sub":"a"}"#))).unwrap()["sub"],
        "a"
    );
    let padded = format!("{}==", enc(r#"{"s":1}"#));
    assert!(claims_from(Some(&padded)).is_some(), "padding tolerated");
    assert!(claims_from(Some(&enc("[1]"))).is_none());
    assert!(claims_from(Some(&enc("{"))).is_none());
    assert!(claims_from(Some("%%%")).is_none());
    assert!(claims_from(None).is_none());
}
