//! Compact JWE (RFC 7516) carrying a nested signed token, so the credentials a token
//! holds are encrypted at rest in the browser.
//!
//! Accepted `alg`s, each with `enc` `A128GCM` or `A256GCM`:
//! * `dir`: a shared content key (recommended: no public-key work per request);
//! * `ECDH-ES`, `ECDH-ES+A128KW`, `ECDH-ES+A256KW` (RFC 7518 §4.6) on X25519
//!   (RFC 8037) or P-256: for issuers that must not share a secret with the edge;
//! * `RSA-OAEP-256`, only when the operator opts in: the `rsa` crate's decryption is
//!   open to the Marvin timing attack (RUSTSEC-2023-0071), and each token costs about a
//!   millisecond of private-key work in wasm, so RSA decryptions are also bounded per
//!   worker and second ([`RsaBudget`]).
//!
//! Nothing else, no `zip`, and only `crit` entries we understand (none). The plaintext
//! must itself be a compact JWS, which the provider then verifies as usual: encryption
//! hides the claims, the signature proves who made them (anyone with the public key
//! can encrypt).
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
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::cell::Cell;

use crate::denial::{Code, Denial};

/// How a provider decrypts tokens.
#[derive(Clone)]
pub enum Decryptor {
    /// A shared content-encryption key (16 or 32 bytes).
    Direct(Vec<u8>),
    /// The static private key of ECDH-ES key agreement.
    Ecdh(EcdhKey),
    /// The private half of the key the issuer wraps content keys with, and how many
    /// RSA decryptions a worker may do per second.
    RsaOaep256(Box<RsaPrivateKey>, RsaBudget),
}

/// An ECDH-ES private key.
#[derive(Clone)]
pub enum EcdhKey {
    X25519(x25519_dalek::StaticSecret),
    P256(p256::SecretKey),
}

impl std::fmt::Debug for Decryptor {
    // Key material is a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Direct(k) => write!(f, "Direct({} bytes)", k.len()),
            Self::Ecdh(EcdhKey::X25519(_)) => f.write_str("Ecdh(X25519, ..)"),
            Self::Ecdh(EcdhKey::P256(_)) => f.write_str("Ecdh(P-256, ..)"),
            Self::RsaOaep256(..) => f.write_str("RsaOaep256(..)"),
        }
    }
}

/// A token bucket over RSA decryptions, per worker: an attacker who sends RSA-OAEP
/// tokens at will gets `token_undecryptable`-like refusals (`decryption_throttled`)
/// once it is spent, without any private-key work.
#[derive(Debug, Clone)]
pub struct RsaBudget {
    per_second: f64,
    tokens: Cell<f64>,
    /// Seconds since the epoch of the last refill; `None` before the first use.
    last: Cell<Option<f64>>,
}

impl RsaBudget {
    pub fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second);
        Self {
            per_second,
            tokens: Cell::new(per_second),
            last: Cell::new(None),
        }
    }

    /// Takes one decryption at `now` (seconds); false when the budget is spent.
    pub fn take(&self, now: f64) -> bool {
        let elapsed = self.last.get().map_or(0.0, |last| (now - last).max(0.0));
        self.last.set(Some(now));
        let available = (self.tokens.get() + elapsed * self.per_second).min(self.per_second);
        if available >= 1.0 {
            self.tokens.set(available - 1.0);
            true
        } else {
            self.tokens.set(available);
            false
        }
    }
}

fn b64url(what: &str, value: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| format!("{what} is not base64url"))
}

impl Decryptor {
    /// A `dir` key from base64url (16 or 32 bytes).
    pub fn direct(key_b64url: &str) -> Result<Self, String> {
        let key = b64url("the key", key_b64url)?;
        if key.len() != 16 && key.len() != 32 {
            return Err(format!(
                "expected a 16 or 32 byte key, got {} bytes",
                key.len()
            ));
        }
        Ok(Self::Direct(key))
    }

    /// An ECDH-ES private key as a JWK: `{"kty": "OKP", "crv": "X25519", "d": …}` or
    /// `{"kty": "EC", "crv": "P-256", "d": …}` (public members are ignored).
    pub fn ecdh_jwk(jwk: &Map<String, Value>) -> Result<Self, String> {
        let text = |name: &str| jwk.get(name).and_then(Value::as_str);
        let d = b64url("d", text("d").ok_or("the JWK has no private key `d`")?)?;
        match (text("kty"), text("crv")) {
            (Some("OKP"), Some("X25519")) => {
                let d: [u8; 32] = d
                    .try_into()
                    .map_err(|_| "an X25519 `d` is 32 bytes".to_string())?;
                Ok(Self::Ecdh(EcdhKey::X25519(
                    x25519_dalek::StaticSecret::from(d),
                )))
            }
            (Some("EC"), Some("P-256")) => p256::SecretKey::from_slice(&d)
                .map(|k| Self::Ecdh(EcdhKey::P256(k)))
                .map_err(|_| "not a P-256 private key".to_string()),
            _ => Err("expected an OKP X25519 or EC P-256 key".into()),
        }
    }

    /// An RSA private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), with a budget
    /// of `per_second` decryptions per worker.
    pub fn rsa_pem(pem: &str, per_second: u32) -> Result<Self, String> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|_| "expected an RSA private key in PKCS#8 PEM".to_string())?;
        Ok(Self::RsaOaep256(Box::new(key), RsaBudget::new(per_second)))
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

    fn name(&self) -> &'static str {
        match self {
            Self::A128 => "A128GCM",
            Self::A256 => "A256GCM",
        }
    }
}

/// The ECDH-ES shared secret `Z` with the sender's ephemeral key (`epk`). Points off
/// the curve, of the wrong curve, or of small order give no secret.
fn shared_secret(epk: &Map<String, Value>, key: &EcdhKey) -> Option<Vec<u8>> {
    let coordinate = |name: &str| {
        epk.get(name)
            .and_then(Value::as_str)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
    };
    let text = |name: &str| epk.get(name).and_then(Value::as_str);
    match (key, text("kty"), text("crv")) {
        (EcdhKey::X25519(secret), Some("OKP"), Some("X25519")) => {
            let x: [u8; 32] = coordinate("x")?.try_into().ok()?;
            let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(x));
            shared
                .was_contributory()
                .then(|| shared.as_bytes().to_vec())
        }
        (EcdhKey::P256(secret), Some("EC"), Some("P-256")) => {
            let (x, y) = (coordinate("x")?, coordinate("y")?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let point = [&[4u8][..], &x, &y].concat();
            // from_sec1_bytes checks that the point is on the curve.
            let public = p256::PublicKey::from_sec1_bytes(&point).ok()?;
            let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), public.as_affine());
            Some(shared.raw_secret_bytes().to_vec())
        }
        _ => None,
    }
}

/// The Concat KDF of NIST SP 800-56A with SHA-256, as RFC 7518 §4.6.2 uses it.
pub fn concat_kdf(z: &[u8], algorithm: &str, apu: &[u8], apv: &[u8], key_len: usize) -> Vec<u8> {
    let field = |data: &[u8]| {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        [&len.to_be_bytes()[..], data].concat()
    };
    let bits = u32::try_from(key_len.saturating_mul(8)).unwrap_or(u32::MAX);
    let other = [
        field(algorithm.as_bytes()),
        field(apu),
        field(apv),
        bits.to_be_bytes().to_vec(),
    ]
    .concat();
    let mut out = Vec::with_capacity(key_len + 32);
    let mut counter: u32 = 1;
    while out.len() < key_len {
        let mut hash = Sha256::new();
        hash.update(counter.to_be_bytes());
        hash.update(z);
        hash.update(&other);
        out.extend_from_slice(&hash.finalize());
        counter = counter.saturating_add(1);
    }
    out.truncate(key_len);
    out
}

/// The content key of an `ECDH-ES` or `ECDH-ES+A*KW` token.
fn ecdh_es_cek(
    header: &Map<String, Value>,
    alg: &str,
    enc: &str,
    enc_key_len: usize,
    key: &EcdhKey,
    encrypted_key: &[u8],
) -> Result<Vec<u8>, Denial> {
    let party = |name: &str| -> Result<Vec<u8>, Denial> {
        match header.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(v)) => segment(v),
            Some(_) => Err(undecryptable()),
        }
    };
    let (apu, apv) = (party("apu")?, party("apv")?);
    let epk = header
        .get("epk")
        .and_then(Value::as_object)
        .ok_or_else(undecryptable)?;
    let z = shared_secret(epk, key).ok_or_else(undecryptable)?;
    match alg {
        "ECDH-ES" => {
            if !encrypted_key.is_empty() {
                return Err(undecryptable());
            }
            Ok(concat_kdf(&z, enc, &apu, &apv, enc_key_len))
        }
        _ => {
            let wrapped: &[u8] = encrypted_key;
            let cek = if alg == "ECDH-ES+A128KW" {
                let kek = concat_kdf(&z, alg, &apu, &apv, 16);
                aes_kw::KekAes128::try_from(kek.as_slice())
                    .ok()
                    .and_then(|kek| kek.unwrap_vec(wrapped).ok())
            } else {
                let kek = concat_kdf(&z, alg, &apu, &apv, 32);
                aes_kw::KekAes256::try_from(kek.as_slice())
                    .ok()
                    .and_then(|kek| kek.unwrap_vec(wrapped).ok())
            };
            cek.filter(|k| k.len() == enc_key_len)
                .ok_or_else(undecryptable)
        }
    }
}

/// Decrypts a compact JWE at `now` (seconds since the epoch, for the RSA budget) and
/// returns its plaintext, the nested compact JWS.
pub fn decrypt(token: &str, with: &Decryptor, now: f64) -> Result<String, Denial> {
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
    let alg = text("alg").unwrap_or_default();
    let cek: Vec<u8> = match (alg, with) {
        ("dir", Decryptor::Direct(key)) => {
            if !encrypted_key.is_empty() || key.len() != enc.key_len() {
                return Err(undecryptable());
            }
            key.clone()
        }
        ("ECDH-ES" | "ECDH-ES+A128KW" | "ECDH-ES+A256KW", Decryptor::Ecdh(key)) => {
            ecdh_es_cek(header, alg, enc.name(), enc.key_len(), key, &encrypted_key)?
        }
        ("RSA-OAEP-256", Decryptor::RsaOaep256(key, budget)) => {
            if !budget.take(now) {
                return Err(Denial::new(
                    Code::DecryptionThrottled,
                    "too many RSA-encrypted tokens: try again later",
                ));
            }
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
        ("dir" | "ECDH-ES" | "ECDH-ES+A128KW" | "ECDH-ES+A256KW" | "RSA-OAEP-256", _) => {
            return Err(Denial::new(
                Code::AlgKeyMismatch,
                "the JWE alg does not fit the provider's decryption key",
            ));
        }
        _ => {
            return Err(Denial::new(
                Code::AlgUnsupported,
                "the JWE alg is not dir, ECDH-ES(+A128KW/+A256KW) or RSA-OAEP-256",
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

/// Seals `plaintext` (a signed token) as a compact JWE with `alg: dir` under a 32-byte
/// key (`A256GCM`), with a random IV: what an issuer using the recommended mode sends.
pub fn encrypt_dir(plaintext: &str, key: &[u8]) -> Result<String, String> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| "the key must be 32 bytes")?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"dir","enc":"A256GCM","cty":"JWT"}"#);
    let mut iv = [0u8; 12];
    OsRng
        .try_fill_bytes(&mut iv)
        .map_err(|_| "no randomness for the IV")?;
    let sealed = cipher
        .encrypt(
            &Nonce::from(iv),
            Payload {
                msg: plaintext.as_bytes(),
                aad: header.as_bytes(),
            },
        )
        .map_err(|_| "encryption failed")?;
    let (ct, tag) = sealed.split_at(sealed.len().saturating_sub(16));
    Ok(format!(
        "{header}..{}.{}.{}",
        URL_SAFE_NO_PAD.encode(iv),
        URL_SAFE_NO_PAD.encode(ct),
        URL_SAFE_NO_PAD.encode(tag)
    ))
}

#[cfg(test)]
#[path = "jwe_tests.rs"]
mod tests;
