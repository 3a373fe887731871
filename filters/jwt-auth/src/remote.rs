//! When to fetch a remote JWKS, as a plain state machine over milliseconds.
//!
//! The rules, chosen so that a JWKS outage never becomes a wave of 401s:
//! * keys are refreshed in the background once they reach `refresh_at` of their cache
//!   time, long before they are due;
//! * a failed or garbage fetch keeps the last good keys (up to `max_stale`) and retries
//!   with exponential backoff;
//! * a token with an unknown `kid` may trigger a refetch, at most once per
//!   `kid_refetch_interval` (key rotation without hammering the issuer);
//! * one fetch at a time, with a deadline so a lost callout cannot wedge the state.

use std::rc::Rc;

use crate::jwks::KeySet;

/// Timing of one remote provider, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemotePolicy {
    pub cache_ms: u64,
    pub timeout_ms: u64,
    pub kid_refetch_interval_ms: u64,
    /// How long past `cache_ms` the last good keys stay usable while fetches fail.
    pub max_stale_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

impl RemotePolicy {
    /// Refresh when 80% of the cache time has passed.
    pub fn refresh_after_ms(&self) -> u64 {
        self.cache_ms.saturating_mul(4) / 5
    }
}

/// Why a fetch is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// No keys yet (or the last good ones are too stale): requests are waiting.
    Initial,
    /// Keys are still good but getting old.
    Refresh,
    /// A token named a `kid` the keys lack.
    UnknownKid,
}

#[derive(Debug, Clone, Default)]
pub struct RemoteState {
    keys: Option<Rc<KeySet>>,
    /// When the current keys were fetched (by any worker); 0 before the first.
    fetched_at: u64,
    in_flight_until: u64,
    not_before: u64,
    failures: u32,
    last_kid_refetch: Option<u64>,
    kid_refetch_wanted: bool,
}

impl RemoteState {
    /// The keys, while they are fresh or within the stale allowance.
    pub fn keys(&self, now: u64, p: &RemotePolicy) -> Option<&Rc<KeySet>> {
        let limit = self
            .fetched_at
            .saturating_add(p.cache_ms)
            .saturating_add(p.max_stale_ms);
        self.keys.as_ref().filter(|_| now <= limit)
    }

    pub fn fetched_at(&self) -> u64 {
        self.fetched_at
    }

    /// The current keys' fingerprint, stale or not.
    pub fn fingerprint(&self) -> Option<[u8; 32]> {
        self.keys.as_ref().map(|k| k.fingerprint)
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn in_flight(&self, now: u64) -> bool {
        now < self.in_flight_until
    }

    /// What fetch, if any, should start now.
    pub fn need(&self, now: u64, p: &RemotePolicy) -> Option<Need> {
        if self.in_flight(now) || now < self.not_before {
            return None;
        }
        if self.keys(now, p).is_none() {
            Some(Need::Initial)
        } else if self.kid_refetch_wanted {
            Some(Need::UnknownKid)
        } else if now >= self.fetched_at.saturating_add(p.refresh_after_ms()) {
            Some(Need::Refresh)
        } else {
            None
        }
    }

    /// A token named an unknown `kid`. Returns whether a refetch may happen for it
    /// (now or when the fetch in flight ends); false means answer with the keys we have.
    pub fn unknown_kid(&mut self, now: u64, p: &RemotePolicy) -> bool {
        if self.in_flight(now) {
            return true;
        }
        let allowed = self
            .last_kid_refetch
            .is_none_or(|at| now >= at.saturating_add(p.kid_refetch_interval_ms));
        if allowed && now >= self.not_before {
            self.kid_refetch_wanted = true;
        }
        self.kid_refetch_wanted
    }

    /// A fetch started.
    pub fn started(&mut self, now: u64, p: &RemotePolicy) {
        // The deadline outlives the callout's own timeout so its answer is not lost.
        self.in_flight_until = now.saturating_add(p.timeout_ms).saturating_add(1_000);
        if self.kid_refetch_wanted {
            self.kid_refetch_wanted = false;
            self.last_kid_refetch = Some(now);
        }
    }

    /// Another worker holds the fetch: do not start one until `until`.
    pub fn defer(&mut self, until: u64) {
        self.not_before = self.not_before.max(until);
    }

    /// Fresh keys, fetched at `fetched_at` by this or another worker. Older keys than the
    /// current ones are ignored. Returns whether the keys changed.
    pub fn adopt(&mut self, keys: Rc<KeySet>, fetched_at: u64) -> bool {
        if fetched_at <= self.fetched_at && self.keys.is_some() {
            return false;
        }
        self.keys = Some(keys);
        self.fetched_at = fetched_at;
        self.failures = 0;
        self.not_before = 0;
        self.in_flight_until = 0;
        if self.kid_refetch_wanted {
            // Keys fetched by another worker answer the miss; its fetch counts as ours
            // for the refetch interval.
            self.kid_refetch_wanted = false;
            self.last_kid_refetch = Some(fetched_at);
        }
        true
    }

    /// Failures other workers already counted (shared backoff).
    pub fn set_failures(&mut self, failures: u32) {
        self.failures = self.failures.max(failures);
    }

    /// The fetch failed (error, timeout, bad status, no usable key). Keeps the keys;
    /// returns when the next attempt may start.
    /// A failure within the backoff of an earlier one belongs to the same round (streams
    /// that fetched for themselves at once, on hosts without context switching) and
    /// does not lengthen it.
    pub fn failed(&mut self, now: u64, p: &RemotePolicy) -> u64 {
        self.in_flight_until = 0;
        if now < self.not_before && self.failures > 0 {
            return self.not_before;
        }
        self.failures = self.failures.saturating_add(1);
        let shift = self.failures.saturating_sub(1).min(20);
        let backoff = p
            .backoff_base_ms
            .saturating_mul(1u64 << shift)
            .min(p.backoff_max_ms);
        self.in_flight_until = 0;
        self.not_before = now.saturating_add(backoff);
        self.not_before
    }
}

#[cfg(test)]
#[path = "remote_tests.rs"]
mod tests;
