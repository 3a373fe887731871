//! Picks the keys that may verify a token and checks its signature.
//!
//! Candidates must fit the token's `alg` (key type, and the key's own `alg` if it has
//! one); with a `kid`, only keys with that id are tried. An RSA public key is never an
//! HMAC secret, so RS256→HS256 key confusion finds no candidate.

use crate::denial::{Code, Denial};
use crate::jwks::{Key, KeySet};
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
        if let Ok(true) = jsonwebtoken::crypto::verify(
            token.signature,
            message,
            &key.decoding,
            alg.to_jsonwebtoken(),
        ) {
            return Ok(key);
        }
    }
    Err(Denial::new(
        Code::SignatureInvalid,
        "the signature does not verify",
    ))
}
