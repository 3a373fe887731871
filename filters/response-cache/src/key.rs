//! Cache keys: whose a response is and which request it answers.
//!
//! The primary key is the identity, the authority and the path with its query; it is
//! stored only as a SHA-256 hash, so an entry never names its owner in clear. `Vary`
//! adds a secondary key (RFC 9111 §4.1): the request headers it names must match the
//! ones the stored response was made for.

use sha2::{Digest, Sha256};
use tollgate_kit::json::claim_text;

use crate::config::{IdentityConfig, Unverified};
use crate::entry::KeyHash;

/// Whose entries a request reads and fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A rule shared by every identity.
    Public,
    /// No verified claims and no credentials.
    Anonymous,
    /// Length-prefixed verified claim values (and a credential hash), as key material.
    Caller(Vec<u8>),
}

/// The request as the identity sees it.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub headers: &'a [(String, String)],
    /// The credentials jwt-auth decrypted, when the config keys by them.
    pub credentials: Option<&'a [u8]>,
}

fn push_part(out: &mut Vec<u8>, part: Option<&[u8]>) {
    match part {
        None => out.push(0),
        Some(p) => {
            out.push(1);
            out.extend_from_slice(&u32::try_from(p.len()).unwrap_or(u32::MAX).to_le_bytes());
            out.extend_from_slice(p);
        }
    }
}

/// The identity of a request for a rule; `None`: it cannot be told whose the request
/// is, so it is not cached.
pub fn identity(config: &IdentityConfig, public: bool, who: &Who<'_>) -> Option<Identity> {
    if public {
        return Some(Identity::Public);
    }
    let claims = tollgate_kit::contract::claims_from(crate::freshness::first(
        who.headers,
        &config.claims_header,
    ));
    let Some(claims) = claims else {
        let credentials = who
            .headers
            .iter()
            .any(|(k, _)| k == "authorization" || k == "cookie");
        return match (credentials, config.unverified_credentials) {
            (true, Unverified::Bypass) => None,
            _ => Some(Identity::Anonymous),
        };
    };
    let mut material = Vec::with_capacity(64);
    for path in &config.claims {
        let text = claim_text(&claims, path);
        push_part(&mut material, text.as_deref().map(str::as_bytes));
    }
    if config.credentials {
        let hashed = who.credentials.map(|c| Sha256::digest(c).to_vec());
        push_part(&mut material, hashed.as_deref());
    }
    Some(Identity::Caller(material))
}

/// The primary key's hash: identity, authority (lower case, port kept) and the path
/// with its query, exactly as the origin will see it.
pub fn primary(identity: &Identity, authority: &str, path: &str) -> KeyHash {
    let mut h = Sha256::new();
    h.update(b"tollgate.response_cache.v1\0");
    match identity {
        Identity::Public => h.update([0u8]),
        Identity::Anonymous => h.update([1u8]),
        Identity::Caller(m) => {
            h.update([2u8]);
            h.update(u32::try_from(m.len()).unwrap_or(u32::MAX).to_le_bytes());
            h.update(m);
        }
    }
    let authority = authority.to_ascii_lowercase();
    h.update(
        u32::try_from(authority.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    h.update(authority.as_bytes());
    h.update(path.as_bytes());
    h.finalize().into()
}

/// The primary key of a POST read: the body's SHA-256 goes in beside the path.
pub fn primary_with_body(identity: &Identity, authority: &str, path: &str, body: &[u8]) -> KeyHash {
    let digest = Sha256::digest(body);
    let mut with_body = String::with_capacity(path.len() + 72);
    with_body.push_str(path);
    // A NUL never appears in a request path: the two can never be confused.
    with_body.push_str("\0body:");
    for b in digest {
        with_body.push_str(&format!("{b:02x}"));
    }
    primary(identity, authority, &with_body)
}

/// The request headers a response's `Vary` names, with the request's values
/// (combined, whitespace normalized), for storing with it. `Vary: *` is refused
/// before this (such a response is never stored).
pub fn vary_of(
    response_headers: &[(String, String)],
    request_headers: &[(String, String)],
) -> Vec<(String, Option<String>)> {
    let mut names: Vec<String> = response_headers
        .iter()
        .filter(|(k, _)| k == "vary")
        .flat_map(|(_, v)| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| {
            let value = request_value(request_headers, &n);
            (n, value)
        })
        .collect()
}

/// A request header's values combined into one, with whitespace normalized
/// (§4.1: values are compared after normalization).
fn request_value(headers: &[(String, String)], name: &str) -> Option<String> {
    let values: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    if values.is_empty() {
        None
    } else {
        Some(values.join(", "))
    }
}

/// Whether a request matches a stored response's secondary key.
pub fn vary_matches(
    stored: &[(String, Option<String>)],
    request_headers: &[(String, String)],
) -> bool {
    stored
        .iter()
        .all(|(name, value)| request_value(request_headers, name) == *value)
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
