//! Picks the keys that may verify a token and checks its signature.
//!
//! Candidates must fit the token's `alg` (key type, and the key's own `alg` if it has
//! one); with a `kid`, only keys with that id are tried. An RSA public key is never an
//! HMAC secret, so RS256→HS256 key confusion finds no candidate.

use crate::alg::Alg;
use crate::denial::{Code, Denial};
use crate::jwks::{Key, KeySet, Verifier};
use crate::token::Jws;

/// Verifies `token` against `keys`; returns the key that verified it.
pub fn verify<'k>(token: &Jws<'_>, keys: &'k KeySet) -> Result<&'k Key, Denial> {
    let alg = token.header.alg;
    if keys.keys.is_empty() {
        return Err(Denial::new(
            Code::NoKeys,
            "no verification keys are available",
        ));
    }
    let by_kid: Vec<&Key> = match &token.header.kid {
        Some(kid) => {
            let matching: Vec<&Key> = keys
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid.as_str()))
                .collect();
            if matching.is_empty() {
                return Err(Denial::new(Code::KidUnknown, "no key has the token's kid"));
            }
            matching
        }
        None => keys.keys.iter().collect(),
    };
    let candidates: Vec<&Key> = by_kid.into_iter().filter(|k| k.accepts(alg)).collect();
    if candidates.is_empty() {
        return Err(Denial::new(
            Code::AlgKeyMismatch,
            format!("no key may verify {alg} signatures"),
        ));
    }
    let message = token.signing_input.as_bytes();
    for key in candidates {
        if signature_verifies(alg, key, token.signature, message) {
            return Ok(key);
        }
    }
    Err(Denial::new(
        Code::SignatureInvalid,
        "the signature does not verify",
    ))
}

fn signature_verifies(alg: Alg, key: &Key, signature_b64: &str, message: &[u8]) -> bool {
    match (&key.verifier, alg.to_jsonwebtoken()) {
        (Verifier::Jwt(decoding), Some(alg)) => {
            matches!(
                jsonwebtoken::crypto::verify(signature_b64, message, decoding, alg),
                Ok(true)
            )
        }
        (Verifier::P521(verifying), None) => {
            use base64::Engine as _;
            use p521::ecdsa::signature::Verifier as _;
            // JWS ES512 signatures are R || S, 66 bytes each (RFC 7518 §3.4).
            let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature_b64)
            else {
                return false;
            };
            p521::ecdsa::Signature::from_slice(&raw)
                .is_ok_and(|sig| verifying.verify(message, &sig).is_ok())
        }
        _ => false,
    }
}
