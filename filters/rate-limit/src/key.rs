//! Bucket keys: the parts of a request that make two requests share a budget, hashed
//! with a keyed SipHash so a bucket's identity (an API key, a user id) is never stored
//! or logged, and a client cannot aim its values at another client's slot.

use std::borrow::Cow;
use std::hash::Hasher;

use serde::Deserialize;
use serde_json::{Map, Value};
use siphasher::sip::SipHasher13;
use tollgate_kit::config::ConfigError;

use crate::config::Limit;

/// One part of a bucket's key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Descriptor {
    /// A verified claim (dotted path), from jwt-auth's payload header.
    /// Example: `{"claim": "sub"}`.
    Claim(String),
    /// A request header's first value. Example: `{"header": "x-api-key"}`.
    Header(String),
    /// The client's address (see `client.xff_trusted_hops`). Example: `"client_address"`.
    ClientAddress,
    /// The path in normal form, without the query. Example: `"path"`.
    Path,
    /// The request method. Example: `"method"`.
    Method,
    /// A fixed string, to keep rules' buckets apart or group them. Example:
    /// `{"constant": "search"}`.
    Constant(String),
}

impl Descriptor {
    /// Checks and normalizes (header names in lower case); errors name the part.
    pub fn compile(self) -> Result<Self, ConfigError> {
        match self {
            Self::Header(h) => {
                let h = h.to_ascii_lowercase();
                if h.is_empty() || h.contains([' ', ':', '\t']) && !h.starts_with(':') {
                    return Err(ConfigError::new("header", "expected a header name"));
                }
                Ok(Self::Header(h))
            }
            Self::Claim(c) if c.is_empty() || c.split('.').any(str::is_empty) => Err(
                ConfigError::new("claim", "expected a claim name or a dotted path"),
            ),
            other => Ok(other),
        }
    }
}

/// What a rule does with a request that lacks a part of its key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// The rule does not count the request (as Envoy's rate-limit descriptors do);
    /// counted in `rate_limit.<rule>.skipped`. Pair it with a rule on
    /// `client_address` so anonymous callers are still limited.
    #[default]
    Skip,
    /// Every request lacking that part shares one bucket.
    Group,
}

/// The request as keys see it.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub method: &'a str,
    /// In normal form, without the query.
    pub path: &'a str,
    pub headers: &'a [(String, String)],
    pub client: Option<&'a str>,
    pub claims: Option<&'a Map<String, Value>>,
}

pub use tollgate_kit::json::claim_text;

fn part<'a>(d: &'a Descriptor, r: &Inputs<'a>) -> Option<Cow<'a, str>> {
    match d {
        Descriptor::Claim(c) => r.claims.and_then(|m| claim_text(m, c)),
        Descriptor::Header(h) => r
            .headers
            .iter()
            .find(|(k, _)| k == h)
            .map(|(_, v)| Cow::Borrowed(v.as_str())),
        Descriptor::ClientAddress => r.client.map(Cow::Borrowed),
        Descriptor::Path => Some(Cow::Borrowed(r.path)),
        Descriptor::Method => Some(Cow::Borrowed(r.method)),
        Descriptor::Constant(c) => Some(Cow::Borrowed(c.as_str())),
    }
}

/// A request's key parts, in order; `None` inside for a missing part the rule groups,
/// `None` outside when a part is missing and the rule skips such requests.
fn parts_of<'a>(
    parts: &'a [Descriptor],
    missing: Missing,
    request: &Inputs<'a>,
) -> Option<Vec<Option<Cow<'a, str>>>> {
    let mut out = Vec::with_capacity(parts.len());
    for d in parts {
        match part(d, request) {
            Some(text) => out.push(Some(text)),
            None if missing == Missing::Group => out.push(None),
            None => return None,
        }
    }
    Some(out)
}

/// The bucket a rate-limit service counts a request in (`tollgate_key`): SHA-256 over
/// the limit set's name and the length-prefixed parts, 128 bits in hex. The same on
/// every proxy (no seed) and one-way, so the service never sees a raw key part.
pub fn global_key(
    set: &str,
    parts: &[Descriptor],
    missing: Missing,
    request: &Inputs<'_>,
) -> Option<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update((set.len() as u64).to_le_bytes());
    h.update(set.as_bytes());
    for p in parts_of(parts, missing, request)? {
        match p {
            Some(text) => {
                h.update((text.len() as u64).to_le_bytes());
                h.update(text.as_bytes());
            }
            None => h.update(u64::MAX.to_le_bytes()),
        }
    }
    let digest = h.finalize();
    Some(digest.iter().take(16).map(|b| format!("{b:02x}")).collect())
}

/// The bucket key of `rule` (named `name`, with these `limits`) for a request, or
/// `None` when a part is missing and the rule skips such requests. Every part is
/// length-prefixed, so `("ab", "c")` and `("a", "bc")` differ; the limits are part of
/// the key, so a changed limit starts new buckets instead of misreading old ones.
pub fn bucket(
    seed: (u64, u64),
    name: &str,
    limits: &[Limit],
    parts: &[Descriptor],
    missing: Missing,
    request: &Inputs<'_>,
) -> Option<u64> {
    let mut h = SipHasher13::new_with_keys(seed.0, seed.1);
    h.write(name.as_bytes());
    h.write_u8(0xff);
    for l in limits {
        h.write_u64(l.gcra.emission);
        h.write_u64(l.gcra.capacity);
    }
    for p in parts_of(parts, missing, request)? {
        match p {
            Some(text) => {
                h.write_u64(text.len() as u64);
                h.write(text.as_bytes());
            }
            None => h.write_u64(u64::MAX),
        }
    }
    Some(h.finish())
}

/// The client's address: the connection's peer, or with `hops` trusted proxies in
/// front, the address `hops` steps back along `x-forwarded-for` (its entries, then the
/// peer unless the last entry already is the peer). A chain shorter than that gives
/// its first entry.
pub fn client_address<'a>(
    peer: Option<&'a str>,
    xff: Option<&'a str>,
    hops: u32,
) -> Option<&'a str> {
    if hops == 0 {
        return peer;
    }
    let mut chain: Vec<&str> = xff
        .into_iter()
        .flat_map(|x| x.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(p) = peer
        && chain.last() != Some(&p)
    {
        chain.push(p);
    }
    let back = usize::try_from(hops).unwrap_or(usize::MAX);
    let index = chain.len().saturating_sub(1).saturating_sub(back);
    chain.get(index).copied()
}

pub use tollgate_kit::route::without_port;

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
