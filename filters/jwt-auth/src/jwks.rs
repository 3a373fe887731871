//! Verification keys from a JWKS document (RFC 7517) or PEM.
//!
//! A key that cannot be used (unknown `kty`, `use` other than `sig`, `key_ops` without
//! `verify`, bad encoding) is skipped with a reason instead of failing the whole set:
//! one bad key in a provider's JWKS must not become an outage. A set with no usable
//! key is an error.
//!
//! Weak keys are refused as RFC 7518 requires: HMAC secrets shorter than the hash
//! output (§3.2) and RSA moduli under 2048 bits (§3.3). In a configured JWKS or PEM a
//! weak key is a config error naming the key ([`KeySet::from_config_jwks`]); in a
//! fetched JWKS it is skipped with a warning like any unusable key.

use jsonwebtoken::DecodingKey;
use serde_json::Value;

use crate::alg::{Alg, KeyKind};

/// Smallest RSA modulus accepted (RFC 7518 §3.3).
pub const MIN_RSA_BITS: usize = 2048;

/// How a key checks signatures.
#[derive(Clone)]
pub(crate) enum Verifier {
    Jwt(DecodingKey),
    /// ES512: jsonwebtoken's rust_crypto backend has no P-521.
    P521(Box<p521::ecdsa::VerifyingKey>),
}

/// One verification key.
#[derive(Clone)]
pub struct Key {
    pub kid: Option<String>,
    pub kind: KeyKind,
    /// The key's own `alg`, when the JWK names one: then only that algorithm may use it.
    pub alg: Option<Alg>,
    /// An HMAC secret's length: it may serve only algorithms whose hash is no longer.
    secret_len: usize,
    pub(crate) verifier: Verifier,
}

impl std::fmt::Debug for Key {
    // Never print key material (an `oct` key is a secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Why a key is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// Not for us (another use, an unknown type, bad encoding): skipped.
    Skipped(String),
    /// Too weak to be trusted (RFC 7518): a config error where an operator wrote it.
    Weak(String),
}

impl Unusable {
    fn reason(&self) -> &str {
        match self {
            Self::Skipped(r) | Self::Weak(r) => r,
        }
    }
}

fn skip(reason: impl Into<String>) -> Unusable {
    Unusable::Skipped(reason.into())
}

/// Bits of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> usize {
    let significant: Vec<&u8> = bytes.iter().skip_while(|b| **b == 0).collect();
    match significant.first() {
        None => 0,
        Some(first) => (significant.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

fn check_rsa_bits(bits: usize) -> Result<(), Unusable> {
    if bits < MIN_RSA_BITS {
        return Err(Unusable::Weak(format!(
            "an RSA key of {bits} bits is too weak (at least {MIN_RSA_BITS})"
        )));
    }
    Ok(())
}

fn check_secret(len: usize, alg: Option<Alg>) -> Result<(), Unusable> {
    let need = alg.map_or(Alg::HS256.min_secret_bytes(), Alg::min_secret_bytes);
    if len < need {
        return Err(Unusable::Weak(format!(
            "an HMAC secret of {len} bytes is too short for {} (at least {need})",
            alg.unwrap_or(Alg::HS256)
        )));
    }
    Ok(())
}

impl Key {
    /// Whether this key may verify a token signed with `alg`.
    pub fn accepts(&self, alg: Alg) -> bool {
        self.kind == alg.key_kind()
            && self.alg.is_none_or(|a| a == alg)
            && self.secret_len >= alg.min_secret_bytes()
    }

    /// A key from PEM (`-----BEGIN PUBLIC KEY-----` and friends) for `alg`.
    pub fn from_pem(pem: &str, alg: Alg, kid: Option<String>) -> Result<Self, Unusable> {
        let bytes = pem.as_bytes();
        let unusable = |e: &dyn std::fmt::Display| skip(format!("not a usable {alg} PEM key: {e}"));
        let verifier = match alg.key_kind() {
            KeyKind::Rsa => {
                check_rsa_bits(rsa_pem_bits(pem).map_err(|e| unusable(&e))?)?;
                Verifier::Jwt(DecodingKey::from_rsa_pem(bytes).map_err(|e| unusable(&e))?)
            }
            KeyKind::P256 | KeyKind::P384 => {
                Verifier::Jwt(DecodingKey::from_ec_pem(bytes).map_err(|e| unusable(&e))?)
            }
            KeyKind::P521 => {
                use p521::pkcs8::DecodePublicKey as _;
                let public = p521::PublicKey::from_public_key_pem(pem).map_err(|e| unusable(&e))?;
                let key = p521::ecdsa::VerifyingKey::from_affine(*public.as_affine())
                    .map_err(|e| unusable(&e))?;
                Verifier::P521(Box::new(key))
            }
            KeyKind::Ed25519 => {
                Verifier::Jwt(DecodingKey::from_ed_pem(bytes).map_err(|e| unusable(&e))?)
            }
            KeyKind::Secret => return Err(skip("HMAC keys are secrets, not PEM")),
        };
        Ok(Self {
            kid,
            kind: alg.key_kind(),
            alg: Some(alg),
            secret_len: 0,
            verifier,
        })
    }

    /// An HMAC key of any length, bound to `alg`: for OPA's `io.jwt.*` builtins in
    /// rego-authz, where the policy author names the secret and OPA takes any length
    /// (its Envoy tutorial verifies with `"secret"`). jwt-auth's own keys never come
    /// from here.
    pub fn secret_of_any_length(secret: &[u8], alg: Alg) -> Self {
        Self {
            kid: None,
            kind: KeyKind::Secret,
            alg: Some(alg),
            secret_len: secret.len().max(alg.min_secret_bytes()),
            verifier: Verifier::Jwt(DecodingKey::from_secret(secret)),
        }
    }

    /// An HMAC key from its raw bytes; refused when shorter than `alg` (or HS256) needs.
    pub fn secret(secret: &[u8], alg: Option<Alg>, kid: Option<String>) -> Result<Self, Unusable> {
        check_secret(secret.len(), alg)?;
        Ok(Self {
            kid,
            kind: KeyKind::Secret,
            alg,
            secret_len: secret.len(),
            verifier: Verifier::Jwt(DecodingKey::from_secret(secret)),
        })
    }
}

/// The modulus size of an RSA public key in PEM (SPKI or PKCS#1).
fn rsa_pem_bits(pem: &str) -> Result<usize, String> {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::traits::PublicKeyParts as _;
    let key = rsa::RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|e| e.to_string())?;
    Ok(key.n().bits())
}

/// The usable keys of a JWKS, and why the others were skipped.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    pub keys: Vec<Key>,
    pub skipped: Vec<String>,
    /// SHA-256 over the usable keys' public members: a refresh that returns the same
    /// keys keeps the verified-token cache.
    pub fingerprint: [u8; 32],
}

/// The members that make a JWK what it is, in a fixed order (not the document's).
const IDENTITY_MEMBERS: [&str; 11] = [
    "kty", "crv", "kid", "alg", "use", "n", "e", "x", "y", "k", "key_ops",
];

fn key_identity(jwk: &Value, hash: &mut sha2::Sha256) {
    use sha2::Digest as _;
    for member in IDENTITY_MEMBERS {
        let value = jwk.get(member).map(Value::to_string).unwrap_or_default();
        hash.update((value.len() as u64).to_be_bytes());
        hash.update(value.as_bytes());
    }
}

fn text<'a>(jwk: &'a Value, field: &str) -> Option<&'a str> {
    jwk.get(field).and_then(Value::as_str)
}

fn one_key(jwk: &Value) -> Result<Key, Unusable> {
    let kid = text(jwk, "kid").map(str::to_string);
    if text(jwk, "use").is_some_and(|u| u != "sig") {
        return Err(skip("not a signing key (use is not sig)"));
    }
    match jwk.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|op| op == "verify") => {}
        Some(_) => return Err(skip("not a verification key (key_ops lacks verify)")),
    }
    let alg = match text(jwk, "alg") {
        Some(name) => Some(Alg::parse(name).map_err(|d| skip(d.message))?),
        None => None,
    };
    let need = |field: &str| text(jwk, field).ok_or_else(|| skip(format!("missing {field}")));
    let material = |e: jsonwebtoken::errors::Error| skip(format!("unusable key material: {e}"));
    let (kind, verifier, secret_len) = match (text(jwk, "kty"), text(jwk, "crv")) {
        (Some("RSA"), _) => {
            let n = need("n")?;
            check_rsa_bits(bit_length(&decode_b64url(n, "n")?))?;
            let key = DecodingKey::from_rsa_components(n, need("e")?).map_err(material)?;
            (KeyKind::Rsa, Verifier::Jwt(key), 0)
        }
        (Some("EC"), Some(crv @ ("P-256" | "P-384"))) => {
            let key = DecodingKey::from_ec_components(need("x")?, need("y")?).map_err(material)?;
            let kind = if crv == "P-256" {
                KeyKind::P256
            } else {
                KeyKind::P384
            };
            (kind, Verifier::Jwt(key), 0)
        }
        (Some("EC"), Some("P-521")) => {
            let (x, y) = (
                decode_b64url(need("x")?, "x")?,
                decode_b64url(need("y")?, "y")?,
            );
            if x.len() != 66 || y.len() != 66 {
                return Err(skip("a P-521 coordinate is 66 bytes"));
            }
            let point = [&[4u8][..], &x, &y].concat();
            let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map_err(|_| skip("unusable key material: not a P-521 point"))?;
            (KeyKind::P521, Verifier::P521(Box::new(key)), 0)
        }
        (Some("OKP"), Some("Ed25519")) => {
            let key = DecodingKey::from_ed_components(need("x")?).map_err(material)?;
            (KeyKind::Ed25519, Verifier::Jwt(key), 0)
        }
        (Some("oct"), _) => {
            let k = decode_b64url(need("k")?, "k")?;
            if k.is_empty() {
                return Err(skip("k is empty"));
            }
            check_secret(k.len(), alg.filter(|a| a.key_kind() == KeyKind::Secret))?;
            (
                KeyKind::Secret,
                Verifier::Jwt(DecodingKey::from_secret(&k)),
                k.len(),
            )
        }
        (Some(kty), crv) => {
            return Err(skip(format!(
                "unsupported key type {kty}{}",
                crv.map(|c| format!("/{c}")).unwrap_or_default()
            )));
        }
        (None, _) => return Err(skip("missing kty")),
    };
    if let Some(alg) = alg
        && alg.key_kind() != kind
    {
        return Err(skip(format!("alg {alg} does not fit the key type")));
    }
    Ok(Key {
        kid,
        kind,
        alg,
        secret_len,
        verifier,
    })
}

/// A JWK member in base64url (RFC 7517), padding tolerated.
fn decode_b64url(value: &str, field: &str) -> Result<Vec<u8>, Unusable> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| skip(format!("{field} is not base64url")))
}

impl KeySet {
    /// Parses a fetched JWKS document (`{"keys": [...]}`; a single JWK object is
    /// accepted too). Weak keys are skipped like any unusable key.
    pub fn from_jwks(json: &[u8]) -> Result<Self, String> {
        Self::parse(json, false)
    }

    /// Parses a JWKS an operator wrote into a config: a weak key is an error that
    /// names it, as RFC 7518 requires.
    pub fn from_config_jwks(json: &[u8]) -> Result<Self, String> {
        Self::parse(json, true)
    }

    fn parse(json: &[u8], weak_is_error: bool) -> Result<Self, String> {
        let doc: Value =
            serde_json::from_slice(json).map_err(|e| format!("the JWKS is not valid JSON: {e}"))?;
        let entries: Vec<Value> = match doc.get("keys") {
            Some(Value::Array(keys)) => keys.clone(),
            Some(_) => return Err("the JWKS's keys is not an array".into()),
            None if doc.get("kty").is_some() => vec![doc],
            None => return Err("the JWKS has no keys".into()),
        };
        let mut set = KeySet::default();
        let mut identity = <sha2::Sha256 as sha2::Digest>::new();
        for (i, jwk) in entries.iter().enumerate() {
            let name = || {
                format!(
                    "keys[{i}]{}",
                    text(jwk, "kid")
                        .map(|k| format!(" (kid {})", crate::alg::truncate(k)))
                        .unwrap_or_default()
                )
            };
            match one_key(jwk) {
                Ok(key) => {
                    key_identity(jwk, &mut identity);
                    set.keys.push(key);
                }
                Err(Unusable::Weak(reason)) if weak_is_error => {
                    return Err(format!("{}: {reason}", name()));
                }
                Err(why) => set.skipped.push(format!("{}: {}", name(), why.reason())),
            }
        }
        if set.keys.is_empty() {
            return Err(format!(
                "the JWKS has no usable key ({})",
                set.skipped.join("; ")
            ));
        }
        set.fingerprint = sha2::Digest::finalize(identity).into();
        Ok(set)
    }
}

#[cfg(test)]
#[path = "jwks_tests.rs"]
mod tests;
