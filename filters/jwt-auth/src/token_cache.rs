//! Verified tokens, so a client that sends the same token again skips the parse and the
//! signature check. Keyed by the provider and the token's SHA-256 (the token itself is
//! never stored); bounded by entry count (LRU) and by the token's own `exp`. Only
//! successes are cached, and the claim policy (times, issuer, audience) is re-checked
//! on every hit, so a cached token expires exactly when an uncached one would.

use std::num::NonZeroUsize;
use std::rc::Rc;

use lru::LruCache;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What a verified token left behind.
#[derive(Debug)]
pub struct Verified {
    pub claims: Map<String, Value>,
    /// The claims as the payload header carries them (base64url JSON).
    pub payload: String,
    /// All claims as JSON when they include credential claims (for the credentials
    /// property); `None` otherwise.
    pub credentials: Option<String>,
}

struct Entry {
    verified: Rc<Verified>,
    /// Drop the entry after this time (seconds), whatever the LRU says.
    expires: f64,
}

pub type Fingerprint = [u8; 32];

pub fn fingerprint(token: &str) -> Fingerprint {
    Sha256::digest(token.as_bytes()).into()
}

pub struct TokenCache {
    entries: Option<LruCache<(usize, Fingerprint), Entry>>,
    pub hits: u64,
    pub misses: u64,
}

impl TokenCache {
    /// A cache of `capacity` entries; 0 disables it.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: NonZeroUsize::new(capacity).map(LruCache::new),
            hits: 0,
            misses: 0,
        }
    }

    pub fn get(&mut self, provider: usize, fp: &Fingerprint, now: f64) -> Option<Rc<Verified>> {
        let entries = self.entries.as_mut()?;
        let key = (provider, *fp);
        // One lookup: a fresh entry is the hit, a stale one is dropped.
        let found = entries
            .get(&key)
            .map(|e| (now < e.expires).then(|| Rc::clone(&e.verified)));
        match found {
            Some(Some(verified)) => {
                self.hits = self.hits.saturating_add(1);
                Some(verified)
            }
            stale_or_missing => {
                if stale_or_missing.is_some() {
                    entries.pop(&key);
                }
                self.misses = self.misses.saturating_add(1);
                None
            }
        }
    }

    /// Caches a verified token until its `exp` plus `skew` (a token without `exp` is
    /// kept at most `max_age` seconds).
    pub fn put(
        &mut self,
        provider: usize,
        fp: Fingerprint,
        verified: Rc<Verified>,
        now: f64,
        skew: f64,
        max_age: f64,
    ) {
        let Some(entries) = self.entries.as_mut() else {
            return;
        };
        let exp = verified
            .claims
            .get("exp")
            .and_then(Value::as_f64)
            .map_or(now + max_age, |e| e + skew);
        if exp > now {
            entries.put(
                (provider, fp),
                Entry {
                    verified,
                    expires: exp.min(now + max_age),
                },
            );
        }
    }

    /// Forgets everything a provider verified (its keys changed).
    pub fn forget_provider(&mut self, provider: usize) {
        if let Some(entries) = self.entries.as_mut() {
            let stale: Vec<(usize, Fingerprint)> = entries
                .iter()
                .filter(|((p, _), _)| *p == provider)
                .map(|(k, _)| *k)
                .collect();
            for key in stale {
                entries.pop(&key);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, LruCache::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[path = "token_cache_tests.rs"]
mod tests;
