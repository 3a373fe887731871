//! The control service's `Tollgate-Signature`: a compact JWS, `alg` EdDSA, whose
//! claims name the body's SHA-256, the project, group, filter and revision. A document
//! is loaded only when all of them hold.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::DecodePublicKey as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// What the document must be.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub project: &'a str,
    pub group: &'a str,
    pub filter: &'a str,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sha256: String,
    project: String,
    group: String,
    filter: String,
    revision: u64,
}

/// An Ed25519 public key from its PEM (SubjectPublicKeyInfo).
pub fn key_from_pem(pem: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(pem.trim())
        .map_err(|e| format!("not an Ed25519 public key: {e}"))
}

fn part<'a>(parts: &mut std::str::Split<'a, char>, what: &str) -> Result<&'a str, String> {
    parts
        .next()
        .ok_or_else(|| format!("the signature has no {what}"))
}

/// Checks `signature` over `body`; returns the revision it names.
pub fn verify(
    signature: &str,
    body: &[u8],
    keys: &BTreeMap<String, String>,
    expected: Expected<'_>,
) -> Result<u64, String> {
    let mut parts = signature.trim().split('.');
    let (header_b64, claims_b64, sig_b64) = (
        part(&mut parts, "header")?,
        part(&mut parts, "claims")?,
        part(&mut parts, "signature")?,
    );
    if parts.next().is_some() {
        return Err("the signature is not a compact JWS".into());
    }
    let decode = |what: &str, text: &str| {
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| format!("the signature's {what} is not base64url: {e}"))
    };
    let header: Header = serde_json::from_slice(&decode("header", header_b64)?)
        .map_err(|e| format!("the signature's header: {e}"))?;
    if header.alg != "EdDSA" {
        return Err(format!("the signature is {}, not EdDSA", header.alg));
    }
    let kid = header.kid.ok_or("the signature names no key")?;
    let pem = keys
        .get(&kid)
        .ok_or_else(|| format!("the signature's key `{kid}` is not one of the configured keys"))?;
    let key = key_from_pem(pem)?;
    let raw = decode("signature", sig_b64)?;
    let sig =
        Signature::from_slice(&raw).map_err(|_| "the signature is not 64 bytes".to_string())?;
    let signed = format!("{header_b64}.{claims_b64}");
    key.verify_strict(signed.as_bytes(), &sig)
        .map_err(|_| "the signature does not verify".to_string())?;
    let claims: Claims = serde_json::from_slice(&decode("claims", claims_b64)?)
        .map_err(|e| format!("the signature's claims: {e}"))?;
    let digest: String = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if claims.sha256 != digest {
        return Err("the document does not match its signature".into());
    }
    let named = (
        claims.project.as_str(),
        claims.group.as_str(),
        claims.filter.as_str(),
    );
    if named != (expected.project, expected.group, expected.filter) {
        return Err(format!(
            "the document is {}/{}/{}, not {}/{}/{}",
            named.0, named.1, named.2, expected.project, expected.group, expected.filter
        ));
    }
    Ok(claims.revision)
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
