use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};

use super::*;

const BODY: &[u8] = br#"{"rules":[]}"#;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn keys() -> BTreeMap<String, String> {
    let pem = key(7)
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    BTreeMap::from([("k1".to_string(), pem)])
}

fn sha(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn claims(body: &[u8]) -> Value {
    json!({"sha256": sha(body), "project": "hcp", "group": "prod", "filter": "rate-limit",
           "revision": 7, "iat": 1})
}

fn sign_with(signer: &SigningKey, header: &Value, claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig = signer.sign(format!("{h}.{c}").as_bytes());
    format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn sign(claims: &Value) -> String {
    sign_with(
        &key(7),
        &json!({"alg": "EdDSA", "typ": "JWT", "kid": "k1"}),
        claims,
    )
}

const EXPECTED: Expected<'static> = Expected {
    project: "hcp",
    group: "prod",
    filter: "rate-limit",
};

#[test]
fn a_good_signature_gives_its_revision() {
    assert_eq!(verify(&sign(&claims(BODY)), BODY, &keys(), EXPECTED), Ok(7));
}

#[test]
fn a_tampered_body_or_claim_is_refused() {
    let signature = sign(&claims(BODY));
    assert_eq!(
        verify(&signature, br#"{"rules":[1]}"#, &keys(), EXPECTED),
        Err("the document does not match its signature".into())
    );
    // Claims changed after signing: the signature no longer verifies.
    let mut parts: Vec<String> = signature.split('.').map(str::to_string).collect();
    let mut forged = claims(BODY);
    forged["revision"] = json!(8);
    parts[1] = URL_SAFE_NO_PAD.encode(forged.to_string());
    assert_eq!(
        verify(&parts.join("."), BODY, &keys(), EXPECTED),
        Err("the signature does not verify".into())
    );
}

#[test]
fn another_key_alg_or_document_is_refused() {
    let other = sign_with(
        &key(8),
        &json!({"alg": "EdDSA", "kid": "k1"}),
        &claims(BODY),
    );
    assert_eq!(
        verify(&other, BODY, &keys(), EXPECTED),
        Err("the signature does not verify".into())
    );
    let unknown = sign_with(
        &key(7),
        &json!({"alg": "EdDSA", "kid": "k9"}),
        &claims(BODY),
    );
    assert!(
        verify(&unknown, BODY, &keys(), EXPECTED)
            .unwrap_err()
            .contains("`k9` is not one of")
    );
    let nokid = sign_with(&key(7), &json!({"alg": "EdDSA"}), &claims(BODY));
    assert_eq!(
        verify(&nokid, BODY, &keys(), EXPECTED),
        Err("the signature names no key".into())
    );
    let hs = sign_with(
        &key(7),
        &json!({"alg": "HS256", "kid": "k1"}),
        &claims(BODY),
    );
    assert_eq!(
        verify(&hs, BODY, &keys(), EXPECTED),
        Err("the signature is HS256, not EdDSA".into())
    );
    let mut elsewhere = claims(BODY);
    elsewhere["group"] = json!("staging");
    assert_eq!(
        verify(&sign(&elsewhere), BODY, &keys(), EXPECTED),
        Err("the document is hcp/staging/rate-limit, not hcp/prod/rate-limit".into())
    );
}

#[test]
fn malformed_signatures_are_refused_with_a_reason() {
    for (text, says) in [
        ("", "the signature has no claims"),
        ("a.b", "the signature has no signature"),
        ("a.b.c.d", "not a compact JWS"),
        ("!!.b.c", "the signature's header is not base64url"),
        ("e30.e30.AAAA", "missing field `alg`"),
    ] {
        let e = verify(text, BODY, &keys(), EXPECTED).unwrap_err();
        assert!(e.contains(says), "{text}: {e}");
    }
}

#[test]
fn a_key_must_be_an_ed25519_public_key_pem() {
    assert!(key_from_pem(&keys()["k1"]).is_ok());
    assert!(key_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err());
    assert!(key_from_pem("nope").is_err());
}
