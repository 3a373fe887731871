//! The decision cache: decisions keyed by the values at configured input paths, reused
//! for a TTL, at most `max_entries` per worker (least recently used out first). It
//! belongs to one compiled policy, so a new policy or bundle starts empty.
//!
//! Keys are SHA-256 digests of the keyed values: a key path may name a credential (the
//! `authorization` header), and the cache must not hold it.

use std::num::NonZeroUsize;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use lru::LruCache;
use serde_json::Value as Json;
use sha2::{Digest as _, Sha256};

use crate::config::CacheSettings;
use crate::decision::Decision;

/// A cache key: the digest of the keyed values.
pub type Key = [u8; 32];

pub struct DecisionCache {
    keys: Vec<Vec<String>>,
    ttl: Duration,
    entries: LruCache<Key, (SystemTime, Rc<Decision>)>,
}

impl std::fmt::Debug for DecisionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionCache")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// The value at `path` in `input`, `null` when absent.
fn at<'a>(input: &'a Json, path: &[String]) -> Option<&'a Json> {
    path.iter().try_fold(input, |node, part| match node {
        Json::Object(map) => map.get(part),
        Json::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

impl DecisionCache {
    pub fn new(settings: &CacheSettings) -> Self {
        let cap = NonZeroUsize::new(settings.max_entries).unwrap_or(NonZeroUsize::MIN);
        Self {
            keys: settings.keys.clone(),
            ttl: settings.ttl,
            entries: LruCache::new(cap),
        }
    }

    /// The cache key of `input`: the digest of the JSON of each configured path's value.
    pub fn key(&self, input: &Json) -> Key {
        let values: Vec<&Json> = self
            .keys
            .iter()
            .map(|p| at(input, p).unwrap_or(&Json::Null))
            .collect();
        Sha256::digest(serde_json::to_vec(&values).unwrap_or_default()).into()
    }

    pub fn get(&mut self, key: &Key, now: SystemTime) -> Option<Rc<Decision>> {
        match self.entries.get(key) {
            Some((expires, d)) if now < *expires => Some(Rc::clone(d)),
            Some(_) => {
                self.entries.pop(key);
                None
            }
            None => None,
        }
    }

    pub fn put(&mut self, key: Key, decision: Rc<Decision>, now: SystemTime) {
        self.entries.put(key, (now + self.ttl, decision));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
