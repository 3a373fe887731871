//! Verification keys from a JWKS document (RFC 7517) or PEM.
//!
//! A key that cannot be used (unknown `kty`, a curve we do not support, `use: enc`,
//! bad encoding) is skipped with a reason instead of failing the whole set: one bad
//! key in a provider's JWKS must not become an outage. A set with no usable key is an
//! error.

use jsonwebtoken::DecodingKey;
use serde_json::Value;

use crate::alg::{Alg, KeyKind};

/// One verification key.
#[derive(Clone)]
pub struct Key {
    pub kid: Option<String>,
    pub kind: KeyKind,
    /// The key's own `alg`, when the JWK names one: then only that algorithm may use it.
    pub alg: Option<Alg>,
    pub(crate) decoding: DecodingKey,
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

impl Key {
    /// Whether this key may verify a token signed with `alg`.
    pub fn accepts(&self, alg: Alg) -> bool {
        self.kind == alg.key_kind() && self.alg.is_none_or(|a| a == alg)
    }

    /// A key from PEM (`-----BEGIN PUBLIC KEY-----` and friends) for `alg`.
    pub fn from_pem(pem: &str, alg: Alg, kid: Option<String>) -> Result<Self, String> {
        let bytes = pem.as_bytes();
        let decoding = match alg.key_kind() {
            KeyKind::Rsa => DecodingKey::from_rsa_pem(bytes),
            KeyKind::P256 | KeyKind::P384 => DecodingKey::from_ec_pem(bytes),
            KeyKind::Ed25519 => DecodingKey::from_ed_pem(bytes),
            KeyKind::Secret => return Err("HMAC keys are secrets, not PEM".into()),
        }
        .map_err(|e| format!("not a usable {} PEM key: {e}", alg.name()))?;
        Ok(Self {
            kid,
            kind: alg.key_kind(),
            alg: Some(alg),
            decoding,
        })
    }

    /// An HMAC key from its raw bytes.
    pub fn secret(secret: &[u8], alg: Option<Alg>, kid: Option<String>) -> Self {
        Self {
            kid,
            kind: KeyKind::Secret,
            alg,
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// The usable keys of a JWKS, and why the others were skipped.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    pub keys: Vec<Key>,
    pub skipped: Vec<String>,
}

fn text<'a>(jwk: &'a Value, field: &str) -> Option<&'a str> {
    jwk.get(field).and_then(Value::as_str)
}

fn one_key(jwk: &Value) -> Result<Key, String> {
    let kid = text(jwk, "kid").map(str::to_string);
    if text(jwk, "use").is_some_and(|u| u != "sig") {
        return Err("not a signing key (use is not sig)".into());
    }
    let alg = match text(jwk, "alg") {
        Some(name) => Some(Alg::parse(name).map_err(|d| d.message)?),
        None => None,
    };
    let need = |field: &str| text(jwk, field).ok_or_else(|| format!("missing {field}"));
    let (kind, decoding) = match (text(jwk, "kty"), text(jwk, "crv")) {
        (Some("RSA"), _) => (
            KeyKind::Rsa,
            DecodingKey::from_rsa_components(need("n")?, need("e")?),
        ),
        (Some("EC"), Some("P-256")) => (
            KeyKind::P256,
            DecodingKey::from_ec_components(need("x")?, need("y")?),
        ),
        (Some("EC"), Some("P-384")) => (
            KeyKind::P384,
            DecodingKey::from_ec_components(need("x")?, need("y")?),
        ),
        (Some("OKP"), Some("Ed25519")) => (
            KeyKind::Ed25519,
            DecodingKey::from_ed_components(need("x")?),
        ),
        (Some("oct"), _) => (
            KeyKind::Secret,
            Ok(DecodingKey::from_secret(&decode_k(need("k")?)?)),
        ),
        (Some(kty), crv) => {
            return Err(format!(
                "unsupported key type {kty}{}",
                crv.map(|c| format!("/{c}")).unwrap_or_default()
            ));
        }
        (None, _) => return Err("missing kty".into()),
    };
    let decoding = decoding.map_err(|e| format!("unusable key material: {e}"))?;
    if let Some(alg) = alg
        && alg.key_kind() != kind
    {
        return Err(format!("alg {alg} does not fit the key type"));
    }
    Ok(Key {
        kid,
        kind,
        alg,
        decoding,
    })
}

/// An `oct` key's `k`: base64url (RFC 7517), padding tolerated.
fn decode_k(k: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(k.trim_end_matches('='))
        .map_err(|_| "k is not base64url".to_string())?;
    if bytes.is_empty() {
        return Err("k is empty".into());
    }
    Ok(bytes)
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`); a single JWK object is accepted too.
    pub fn from_jwks(json: &[u8]) -> Result<Self, String> {
        let doc: Value =
            serde_json::from_slice(json).map_err(|e| format!("the JWKS is not valid JSON: {e}"))?;
        let entries: Vec<Value> = match doc.get("keys") {
            Some(Value::Array(keys)) => keys.clone(),
            Some(_) => return Err("the JWKS's keys is not an array".into()),
            None if doc.get("kty").is_some() => vec![doc],
            None => return Err("the JWKS has no keys".into()),
        };
        let mut set = KeySet::default();
        for (i, jwk) in entries.iter().enumerate() {
            match one_key(jwk) {
                Ok(key) => set.keys.push(key),
                Err(reason) => set.skipped.push(format!(
                    "keys[{i}]{}: {reason}",
                    text(jwk, "kid")
                        .map(|k| format!(" ({})", crate::alg::truncate(k)))
                        .unwrap_or_default()
                )),
            }
        }
        if set.keys.is_empty() {
            return Err(format!(
                "the JWKS has no usable key ({})",
                set.skipped.join("; ")
            ));
        }
        Ok(set)
    }
}

#[cfg(test)]
#[path = "jwks_tests.rs"]
mod tests;
