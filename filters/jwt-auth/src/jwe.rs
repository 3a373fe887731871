//! Compact JWE (RFC 7516) carrying a nested signed token, so the credentials a token
//! holds are encrypted at rest in the browser.
//!
//! Accepted: `alg` `dir` (with `enc` `A128GCM` or `A256GCM`, key length matching) and
//! `RSA-OAEP-256` (with `A256GCM` or `A128GCM`). Nothing else, no `zip`, and only
//! `crit` entries we understand (none). The plaintext must itself be a compact JWS,
//! which the provider then verifies as usual: encryption hides the claims, the
//! signature proves who made them (anyone with an RSA public key can encrypt).
//!
//! Failures are all reported the same way (`token_undecryptable`), and an RSA unwrap
//! failure continues with a random key (RFC 7516 §11.5), so the error reveals nothing
//! about which step failed.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Oaep, RsaPrivateKey};
use serde_json::Value;

use crate::denial::{Code, Denial};

/// How a provider decrypts tokens.
#[derive(Clone)]
pub enum Decryptor {
    /// A shared content-encryption key (16 or 32 bytes).
    Direct(Vec<u8>),
    /// The private half of the key the issuer wraps content keys with.
    RsaOaep256(Box<RsaPrivateKey>),
}

impl std::fmt::Debug for Decryptor {
    // Key material is a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Direct(k) => write!(f, "Direct({} bytes)", k.len()),
            Self::RsaOaep256(_) => f.write_str("RsaOaep256(..)"),
        }
    }
}

impl Decryptor {
    /// A `dir` key from base64url (16 or 32 bytes).
    pub fn direct(key_b64url: &str) -> Result<Self, String> {
        let key = URL_SAFE_NO_PAD
            .decode(key_b64url.trim_end_matches('='))
            .map_err(|_| "expected base64url".to_string())?;
        if key.len() != 16 && key.len() != 32 {
            return Err(format!(
                "expected a 16 or 32 byte key, got {} bytes",
                key.len()
            ));
        }
        Ok(Self::Direct(key))
    }

    /// An RSA private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn rsa_pem(pem: &str) -> Result<Self, String> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|_| "expected an RSA private key in PKCS#8 PEM".to_string())?;
        Ok(Self::RsaOaep256(Box::new(key)))
    }
}

/// Whether `token` has the five segments of a compact JWE.
pub fn is_jwe(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 4
}

fn undecryptable() -> Denial {
    Denial::new(
        Code::TokenUndecryptable,
        "the encrypted token cannot be decrypted",
    )
}

fn segment(s: &str) -> Result<Vec<u8>, Denial> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Denial::new(
            Code::TokenMalformed,
            "a JWE segment is not base64url without padding",
        ));
    }
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| Denial::new(Code::TokenMalformed, "a JWE segment is not valid base64url"))
}

enum Enc {
    A128,
    A256,
}

impl Enc {
    fn key_len(&self) -> usize {
        match self {
            Self::A128 => 16,
            Self::A256 => 32,
        }
    }
}

/// Decrypts a compact JWE and returns its plaintext, the nested compact JWS.
pub fn decrypt(token: &str, with: &Decryptor) -> Result<String, Denial> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, key_b64, iv_b64, ct_b64, tag_b64] = parts.as_slice() else {
        return Err(Denial::new(Code::TokenMalformed, "a JWE has five segments"));
    };
    let header: Value = serde_json::from_slice(&segment(header_b64)?)
        .map_err(|_| Denial::new(Code::TokenMalformed, "the JWE header is not valid JSON"))?;
    let Some(header) = header.as_object() else {
        return Err(Denial::new(
            Code::TokenMalformed,
            "the JWE header is not a JSON object",
        ));
    };
    let text = |name: &str| header.get(name).and_then(Value::as_str);
    if header.contains_key("zip") {
        return Err(Denial::new(
            Code::AlgUnsupported,
            "compressed JWE (zip) is not accepted",
        ));
    }
    if header.contains_key("crit") {
        return Err(Denial::new(
            Code::CritUnsupported,
            "the JWE header lists crit parameters this filter does not understand",
        ));
    }
    let enc = match text("enc") {
        Some("A256GCM") => Enc::A256,
        Some("A128GCM") => Enc::A128,
        _ => {
            return Err(Denial::new(
                Code::AlgUnsupported,
                "the JWE enc is not A128GCM or A256GCM",
            ));
        }
    };
    let encrypted_key = segment(key_b64)?;
    let cek: Vec<u8> = match (text("alg"), with) {
        (Some("dir"), Decryptor::Direct(key)) => {
            if !encrypted_key.is_empty() || key.len() != enc.key_len() {
                return Err(undecryptable());
            }
            key.clone()
        }
        (Some("RSA-OAEP-256"), Decryptor::RsaOaep256(key)) => {
            let unwrapped = key
                .decrypt_blinded(&mut OsRng, Oaep::new::<sha2::Sha256>(), &encrypted_key)
                .ok()
                .filter(|k| k.len() == enc.key_len());
            unwrapped.unwrap_or_else(|| {
                // Carry on with a random key: the tag check fails the same way.
                let mut random = vec![0u8; enc.key_len()];
                OsRng.fill_bytes(&mut random);
                random
            })
        }
        (Some("dir" | "RSA-OAEP-256"), _) => {
            return Err(Denial::new(
                Code::AlgKeyMismatch,
                "the JWE alg does not fit the provider's decryption key",
            ));
        }
        _ => {
            return Err(Denial::new(
                Code::AlgUnsupported,
                "the JWE alg is not dir or RSA-OAEP-256",
            ));
        }
    };
    let iv = segment(iv_b64)?;
    let mut ciphertext = segment(ct_b64)?;
    let tag = segment(tag_b64)?;
    // A256GCM/A128GCM: 96-bit IV, 128-bit tag (RFC 7518 §5.3).
    let iv: [u8; 12] = iv.try_into().map_err(|_| undecryptable())?;
    if tag.len() != 16 {
        return Err(undecryptable());
    }
    ciphertext.extend_from_slice(&tag);
    let payload = Payload {
        msg: &ciphertext,
        aad: header_b64.as_bytes(),
    };
    let nonce = &Nonce::from(iv);
    let plaintext = match enc {
        Enc::A128 => Aes128Gcm::new_from_slice(&cek)
            .map_err(|_| undecryptable())?
            .decrypt(nonce, payload),
        Enc::A256 => Aes256Gcm::new_from_slice(&cek)
            .map_err(|_| undecryptable())?
            .decrypt(nonce, payload),
    }
    .map_err(|_| undecryptable())?;
    let inner = String::from_utf8(plaintext).map_err(|_| undecryptable())?;
    if inner.bytes().filter(|b| *b == b'.').count() != 2 {
        return Err(Denial::new(
            Code::TokenMalformed,
            "the encrypted token does not contain a signed token",
        ));
    }
    Ok(inner)
}

#[cfg(test)]
#[path = "jwe_tests.rs"]
mod tests;
