//! Attacks on JWT verification, each refused with its stable code.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use sha2::Sha256;
use tollgate_jwt_auth::claims::ClaimPolicy;
use tollgate_jwt_auth::denial::Code;
use tollgate_jwt_auth::jwks::{Key, KeySet};
use tollgate_jwt_auth::token::{DEFAULT_MAX_BYTES, parse};
use tollgate_jwt_auth::verify::verify;
use tollgate_jwt_auth::{Alg, Denial};

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(mac.finalize().into_bytes()))
}

/// RFC 7515 A.2's RS256 token and its public key.
fn rs256_vector() -> (String, Value) {
    let vectors: Vec<Value> =
        serde_json::from_str(include_str!("../vectors/jws-rfc-vectors.json")).unwrap();
    let v = vectors
        .into_iter()
        .find(|v| v["id"] == "RFC7515-A.2")
        .unwrap();
    let jwk = json!({"kty": "RSA", "n": v["jwk"]["n"], "e": v["jwk"]["e"]});
    (v["compact"].as_str().unwrap().to_string(), jwk)
}

fn check(token: &str, keys: &KeySet) -> Result<(), Denial> {
    let t = parse(token, DEFAULT_MAX_BYTES, &[])?;
    verify(&t.jws, keys)?;
    Ok(())
}

fn rsa_keys(jwk: &Value) -> KeySet {
    KeySet::from_jwks(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap()
}

#[test]
fn rs256_to_hs256_key_confusion_is_refused() {
    let (_, jwk) = rs256_vector();
    let keys = rsa_keys(&jwk);
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let public = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&n),
        rsa::BigUint::from_bytes_be(&e),
    )
    .unwrap();
    let pem = public.to_public_key_pem(LineEnding::LF).unwrap();
    // The classic attack signs with the public key's bytes as the HMAC secret.
    for secret in [pem.as_bytes(), n.as_slice(), jwk.to_string().as_bytes()] {
        let forged = hs256(
            &json!({"alg": "HS256", "typ": "JWT"}),
            &json!({"sub": "admin"}),
            secret,
        );
        assert_eq!(
            check(&forged, &keys).unwrap_err().code,
            Code::AlgKeyMismatch
        );
    }
    // The PEM form of the same key refuses it too.
    let keys = KeySet {
        keys: vec![Key::from_pem(&pem, Alg::RS256, None).unwrap()],
        ..KeySet::default()
    };
    let forged = hs256(
        &json!({"alg": "HS256"}),
        &json!({"sub": "admin"}),
        pem.as_bytes(),
    );
    assert_eq!(
        check(&forged, &keys).unwrap_err().code,
        Code::AlgKeyMismatch
    );
}

#[test]
fn tampering_is_refused() {
    let (token, jwk) = rs256_vector();
    let keys = rsa_keys(&jwk);
    assert!(
        check(&token, &keys).is_ok(),
        "the untouched vector verifies"
    );
    let parts: Vec<&str> = token.split('.').collect();
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        b64(r#"{"iss":"joe","exp":1300819380,"admin":true}"#),
        parts[2]
    );
    assert_eq!(
        check(&tampered_payload, &keys).unwrap_err().code,
        Code::SignatureInvalid
    );
    let swapped_alg = format!("{}.{}.{}", b64(r#"{"alg":"RS384"}"#), parts[1], parts[2]);
    assert_eq!(
        check(&swapped_alg, &keys).unwrap_err().code,
        Code::SignatureInvalid
    );
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], b64(sig));
    assert_eq!(
        check(&flipped, &keys).unwrap_err().code,
        Code::SignatureInvalid
    );
    let stripped = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(
        check(&stripped, &keys).unwrap_err().code,
        Code::TokenMalformed
    );
    let none = format!("{}.{}.{}", b64(r#"{"alg":"none"}"#), parts[1], parts[2]);
    assert_eq!(check(&none, &keys).unwrap_err().code, Code::AlgNone);
}

#[test]
fn keys_embedded_in_the_token_are_never_trusted() {
    let attacker_secret = b"attacker-secret";
    let header = json!({"alg": "HS256", "jwk": {"kty": "oct", "k": b64(attacker_secret)}, "jku": "https://attacker/jwks"});
    let forged = hs256(&header, &json!({"sub": "admin"}), attacker_secret);
    let provider = KeySet {
        keys: vec![
            Key::secret(b"the-real-secret-0123456789abcdefg", Some(Alg::HS256), None).unwrap(),
        ],
        ..KeySet::default()
    };
    assert_eq!(
        check(&forged, &provider).unwrap_err().code,
        Code::SignatureInvalid
    );
    let (_, jwk) = rs256_vector();
    assert_eq!(
        check(&forged, &rsa_keys(&jwk)).unwrap_err().code,
        Code::AlgKeyMismatch
    );
}

#[test]
fn kid_selects_keys_and_unknown_kids_are_reported() {
    let secret: &[u8] = &[b'1'; 64];
    let keys = KeySet {
        keys: vec![
            Key::secret(&[b'0'; 32], None, Some("k0".into())).unwrap(),
            Key::secret(secret, None, Some("k1".into())).unwrap(),
        ],
        ..KeySet::default()
    };
    let good = hs256(&json!({"alg": "HS256", "kid": "k1"}), &json!({}), secret);
    assert!(check(&good, &keys).is_ok());
    let wrong_kid = hs256(&json!({"alg": "HS256", "kid": "k0"}), &json!({}), secret);
    assert_eq!(
        check(&wrong_kid, &keys).unwrap_err().code,
        Code::SignatureInvalid
    );
    let unknown = hs256(
        &json!({"alg": "HS256", "kid": "../../keys/k1"}),
        &json!({}),
        secret,
    );
    assert_eq!(check(&unknown, &keys).unwrap_err().code, Code::KidUnknown);
    let pinned = KeySet {
        keys: vec![Key::secret(secret, Some(Alg::HS512), Some("k1".into())).unwrap()],
        ..KeySet::default()
    };
    assert_eq!(
        check(&good, &pinned).unwrap_err().code,
        Code::AlgKeyMismatch,
        "a key's own alg pins it"
    );
}

#[test]
fn verified_tokens_still_face_the_claim_policy() {
    let secret: &[u8] = &[b's'; 32];
    let keys = KeySet {
        keys: vec![Key::secret(secret, Some(Alg::HS256), None).unwrap()],
        ..KeySet::default()
    };
    let now = 1_700_000_000.0;
    let policy = ClaimPolicy {
        issuer: Some("https://idp".into()),
        audiences: vec!["api".into()],
        ..ClaimPolicy::default()
    };
    let cases = [
        (
            json!({"iss": "https://idp", "aud": "api", "exp": now + 60.0}),
            None,
        ),
        (
            json!({"iss": "https://idp", "aud": "api", "exp": now - 3600.0}),
            Some(Code::TokenExpired),
        ),
        (
            json!({"iss": "https://idp", "aud": "api", "exp": now + 60.0, "nbf": now + 600.0}),
            Some(Code::TokenNotYetValid),
        ),
        (
            json!({"iss": "https://evil", "aud": "api", "exp": now + 60.0}),
            Some(Code::IssuerMismatch),
        ),
        (
            json!({"iss": "https://idp", "aud": "web", "exp": now + 60.0}),
            Some(Code::AudienceMismatch),
        ),
    ];
    for (claims, expected) in cases {
        let token = hs256(&json!({"alg": "HS256"}), &claims, secret);
        let parsed = parse(&token, DEFAULT_MAX_BYTES, &[]).unwrap();
        verify(&parsed.jws, &keys).unwrap();
        assert_eq!(
            policy.check(&parsed.claims, now).err().map(|d| d.code),
            expected,
            "{claims}"
        );
    }
}

#[test]
fn denials_never_echo_the_token() {
    let secret: &[u8] = &[b's'; 32];
    let keys = KeySet {
        keys: vec![Key::secret(secret, None, None).unwrap()],
        ..KeySet::default()
    };
    let token = hs256(
        &json!({"alg": "HS256", "kid": "zzz-marker-kid"}),
        &json!({"sub": "zzz-marker-sub"}),
        b"other",
    );
    let denial = check(&token, &keys).unwrap_err();
    let text = denial.to_string();
    for part in token.split('.') {
        assert!(!text.contains(part), "{text}");
    }
    assert!(!text.contains("zzz-marker"), "{text}");
}

#[test]
fn keys_not_meant_for_verification_never_verify() {
    // The issuer's JWKS lists its encryption key too (key_ops without verify). A token
    // signed with that key's material must not verify, even with a matching kid.
    let secret = [b'e'; 32];
    let jwks = json!({"keys": [
        {"kty": "oct", "kid": "enc", "key_ops": ["encrypt", "decrypt"], "k": b64(secret)},
        {"kty": "oct", "kid": "sig", "key_ops": ["verify"], "k": b64([b's'; 32])}
    ]});
    let keys = KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap();
    assert_eq!(keys.keys.len(), 1);
    let forged = hs256(
        &json!({"alg": "HS256", "kid": "enc"}),
        &json!({"sub": "x"}),
        &secret,
    );
    assert_eq!(check(&forged, &keys).unwrap_err().code, Code::KidUnknown);
    let no_kid = hs256(&json!({"alg": "HS256"}), &json!({"sub": "x"}), &secret);
    assert_eq!(
        check(&no_kid, &keys).unwrap_err().code,
        Code::SignatureInvalid
    );
}

#[test]
fn a_short_hmac_secret_cannot_be_configured_or_used() {
    // A 5-byte secret is guessable offline from one token; RFC 7518 §3.2 forbids it.
    let weak = json!({"keys": [{"kty": "oct", "kid": "w", "k": b64(b"12345")}]});
    let err = KeySet::from_config_jwks(weak.to_string().as_bytes()).unwrap_err();
    assert!(err.contains("kid w") && err.contains("5 bytes"), "{err}");
    // A 32-byte secret without alg is not an HS512 key (HS512 needs 64 bytes).
    let keys = KeySet {
        keys: vec![Key::secret(&[b'k'; 32], None, None).unwrap()],
        ..KeySet::default()
    };
    let token = {
        use hmac::Mac as _;
        let input = format!("{}.{}", b64(r#"{"alg":"HS512"}"#), b64("{}"));
        let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(&[b'k'; 32]).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(mac.finalize().into_bytes()))
    };
    assert_eq!(check(&token, &keys).unwrap_err().code, Code::AlgKeyMismatch);
}

#[test]
fn es512_signatures_are_checked() {
    let vectors: Vec<Value> =
        serde_json::from_str(include_str!("../vectors/jws-rfc-vectors.json")).unwrap();
    let v = vectors.iter().find(|v| v["id"] == "RFC7515-A.4").unwrap();
    let jwk = json!({"kty": "EC", "crv": "P-521", "x": v["jwk"]["x"], "y": v["jwk"]["y"]});
    let keys = KeySet::from_jwks(json!({"keys": [jwk]}).to_string().as_bytes()).unwrap();
    let compact = v["compact"].as_str().unwrap();
    let t = tollgate_jwt_auth::token::parse_jws(compact, DEFAULT_MAX_BYTES, &[]).unwrap();
    assert!(verify(&t, &keys).is_ok());
    // Flip one character of the signature; then of the payload.
    let mut bad = compact.as_bytes().to_vec();
    let last = bad.len() - 3;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    let t = tollgate_jwt_auth::token::parse_jws(&bad, DEFAULT_MAX_BYTES, &[]).unwrap();
    assert_eq!(verify(&t, &keys).unwrap_err().code, Code::SignatureInvalid);
    let parts: Vec<&str> = compact.split('.').collect();
    let other = format!("{}.{}.{}", parts[0], b64("Payload!"), parts[2]);
    let t = tollgate_jwt_auth::token::parse_jws(&other, DEFAULT_MAX_BYTES, &[]).unwrap();
    assert_eq!(verify(&t, &keys).unwrap_err().code, Code::SignatureInvalid);
    // A truncated signature is not a signature.
    let short = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]);
    let t = tollgate_jwt_auth::token::parse_jws(&short, DEFAULT_MAX_BYTES, &[]).unwrap();
    assert_eq!(verify(&t, &keys).unwrap_err().code, Code::SignatureInvalid);
}
