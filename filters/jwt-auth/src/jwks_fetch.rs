//! Fetching remote JWKS through the host: one fetch at a time across all worker VMs.
//!
//! Where the host has shared data (Envoy, Kong), the workers share the fetched JWKS
//! and a lock entry under keys derived from the provider's upstream, authority and
//! path:
//! * `<base>.keys`: the fetch time (8 bytes, big-endian ms) and the JWKS body;
//! * `<base>.at`: the fetch time alone, written after `.keys`, so a worker can see
//!   cheaply (8 bytes, on every tick) that another worker published new keys;
//! * `<base>.lock`: `until_ms,failures`, taken by compare-and-swap. It marks a fetch
//!   in flight, and after a failure it holds the other workers back for the backoff.
//!
//! On every poll a worker adopts newer keys another worker published, whatever its own
//! timers say (a worker that lost the lock race picks the new keys up on its next
//! tick, not when the lock would have expired), and fetches only if keys are still
//! due and it wins the lock. Where there is no shared data (APISIX) each
//! VM fetches for itself. The timing rules live in [`crate::remote`].

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use tollgate_kit::host::HttpCall;
use tollgate_kit::{BufferKind, Host, LogLevel, MapKind};

use crate::config::{Compiled, Keys, Remote};
use crate::decide::RemoteKeys;
use crate::jwks::KeySet;
use crate::remote::{Need, RemoteState};

/// JWKS documents larger than this are refused as garbage.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// What a fetch produced, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchResult {
    /// Fresh keys from our own fetch.
    Ok,
    /// Fresh keys another worker fetched.
    Adopted,
    /// No answer, a timeout, or a non-200 status.
    Failed,
    /// A 200 whose body is not a usable JWKS.
    Invalid,
}

impl FetchResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "fetch_ok",
            Self::Adopted => "adopted",
            Self::Failed => "fetch_failed",
            Self::Invalid => "fetch_invalid",
        }
    }
}

/// Whether a request that lacks keys should wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Keys changed just now: decide again at once.
    Retry,
    /// A fetch is under way (here or in another worker).
    Pending,
    /// Nothing will change soon: answer with what we have.
    No,
}

struct Slot {
    remote: Remote,
    state: RemoteState,
    keys_key: String,
    at_key: String,
    lock_key: String,
}

pub struct Fetcher {
    slots: Vec<Option<Slot>>,
    /// `None` until the first shared-data call tells whether the host has it.
    shared: Option<bool>,
    /// Our unanswered callouts: token -> (provider, when it is given up). An answer
    /// that never comes (its stream went away first) is dropped after that.
    pending: HashMap<u32, (usize, u64)>,
    /// Callouts sent so far (tells a caller whether its call sent one).
    dispatched: u64,
    /// Providers whose key set changed (not merely refreshed) since the last
    /// [`Fetcher::take_changed`]: their verified tokens no longer count.
    changed: Vec<usize>,
}

/// FNV-1a: a stable, short name for a provider's shared entries.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn parse_lock(value: &[u8]) -> (u64, u32) {
    let text = std::str::from_utf8(value).unwrap_or_default();
    let mut parts = text.split(',');
    let until = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let failures = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (until, failures)
}

impl Fetcher {
    pub fn new(config: &Compiled) -> Self {
        let slots = config
            .providers
            .iter()
            .map(|p| match &p.keys {
                Keys::Remote(remote) => {
                    let base = format!(
                        "tollgate.jwt_auth.jwks.{:016x}",
                        fnv(&format!(
                            "{}|{}|{}",
                            remote.upstream, remote.authority, remote.path
                        ))
                    );
                    Some(Slot {
                        remote: remote.clone(),
                        state: RemoteState::default(),
                        keys_key: format!("{base}.keys"),
                        at_key: format!("{base}.at"),
                        lock_key: format!("{base}.lock"),
                    })
                }
                Keys::Inline(_) => None,
            })
            .collect();
        Self {
            slots,
            shared: None,
            pending: HashMap::new(),
            dispatched: 0,
            changed: Vec::new(),
        }
    }

    /// The providers whose key set changed since the last call.
    pub fn take_changed(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.changed)
    }

    pub fn has_remote(&self) -> bool {
        self.slots.iter().any(Option::is_some)
    }

    pub fn is_remote(&self, provider: usize) -> bool {
        matches!(self.slots.get(provider), Some(Some(_)))
    }

    /// The keys as of `now`, for [`crate::decide`].
    pub fn at(&self, now: u64) -> KeysAt<'_> {
        KeysAt { fetcher: self, now }
    }

    pub fn providers(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|_| i))
    }

    /// A request for `provider` found no keys, or (with `kid_miss`) an unknown `kid`.
    pub fn want(
        &mut self,
        host: &dyn Host,
        provider: usize,
        now: u64,
        kid_miss: bool,
        results: &mut Vec<(usize, FetchResult)>,
    ) -> Wait {
        let Some(Some(slot)) = self.slots.get_mut(provider) else {
            return Wait::No;
        };
        let policy = slot.remote.policy;
        if kid_miss && !slot.state.unknown_kid(now, &policy) {
            return Wait::No;
        }
        let before = slot.state.fetched_at();
        self.poll(host, provider, now, results);
        let Some(Some(slot)) = self.slots.get(provider) else {
            return Wait::No;
        };
        if slot.state.fetched_at() != before {
            Wait::Retry
        } else if slot.state.in_flight(now) || self.waiting_on_other(host, provider, now) {
            Wait::Pending
        } else {
            Wait::No
        }
    }

    fn waiting_on_other(&self, host: &dyn Host, provider: usize, now: u64) -> bool {
        let Some(Some(slot)) = self.slots.get(provider) else {
            return false;
        };
        if self.shared != Some(true) {
            return false;
        }
        // Another worker holds a fetch lock (not a failure backoff: then nothing is coming).
        match host.shared_data(&slot.lock_key) {
            Ok(v) => v.value.is_some_and(|v| {
                let (until, failures) = parse_lock(&v);
                until > now && failures == 0
            }),
            Err(_) => false,
        }
    }

    /// Adopts keys another worker published, then starts a fetch if one is due.
    pub fn poll(
        &mut self,
        host: &dyn Host,
        provider: usize,
        now: u64,
        results: &mut Vec<(usize, FetchResult)>,
    ) {
        self.adopt_published(host, provider, results);
        let shared = self.shared;
        let Some(Some(slot)) = self.slots.get_mut(provider) else {
            return;
        };
        let policy = slot.remote.policy;
        if slot.state.need(now, &policy).is_none() {
            return;
        }
        let has_shared = shared == Some(true);
        if has_shared {
            // Take the lock, or defer to the worker that holds it.
            let current = host.shared_data(&slot.lock_key).unwrap_or_default();
            let (until, failures) = current.value.as_deref().map(parse_lock).unwrap_or((0, 0));
            if until > now {
                slot.state.defer(until);
                return;
            }
            let hold = now.saturating_add(policy.timeout_ms).saturating_add(1_000);
            let claim = format!("{hold},0");
            if host
                .set_shared_data(&slot.lock_key, Some(claim.as_bytes()), current.cas)
                .is_err()
            {
                // Another worker won the race.
                slot.state.defer(now.saturating_add(100));
                return;
            }
            slot.state.set_failures(failures);
        }
        if let Err(e) = self.dispatch(host, provider, now) {
            if let Some(Some(slot)) = self.slots.get_mut(provider) {
                let next = slot.state.failed(now, &policy);
                release(host, slot, has_shared, next);
            }
            results.push((provider, e));
        }
    }

    /// Sends the JWKS request from the current context: its answer comes back there.
    fn dispatch(&mut self, host: &dyn Host, provider: usize, now: u64) -> Result<(), FetchResult> {
        self.pending.retain(|_, (_, until)| *until > now);
        let Some(Some(slot)) = self.slots.get_mut(provider) else {
            return Err(FetchResult::Failed);
        };
        let policy = slot.remote.policy;
        let headers = [
            (":method", "GET"),
            (":path", slot.remote.path.as_str()),
            (":authority", slot.remote.authority.as_str()),
            ("accept", "application/json"),
            ("user-agent", "tollgate-jwt-auth"),
        ];
        let call = HttpCall {
            upstream: &slot.remote.upstream,
            headers: &headers,
            body: None,
            trailers: &[],
            timeout: Duration::from_millis(policy.timeout_ms),
        };
        match host.http_call(&call) {
            Ok(token) => {
                slot.state.started(now, &policy);
                // The host answers within the timeout; a second more for a late answer.
                let until = now.saturating_add(policy.timeout_ms).saturating_add(1_000);
                self.pending.insert(token, (provider, until));
                self.dispatched = self.dispatched.wrapping_add(1);
                Ok(())
            }
            Err(e) => {
                host.log(
                    LogLevel::Warn,
                    &format!(
                        "jwt-auth: cannot fetch JWKS for provider #{provider} from {}: {e}",
                        slot.remote.upstream
                    ),
                );
                Err(FetchResult::Failed)
            }
        }
    }

    /// Fetches `provider`'s keys from the current stream even though a fetch is under
    /// way elsewhere (the root's, another stream's or another worker's): on a host that
    /// cannot switch contexts, a waiting stream is only woken by its own callout.
    /// Returns whether the request went out.
    pub fn fetch_for_stream(&mut self, host: &dyn Host, provider: usize, now: u64) -> bool {
        self.dispatch(host, provider, now).is_ok()
    }

    /// How many callouts were sent so far: compare before and after a call to know
    /// whether it sent one (from the current context).
    pub fn dispatches(&self) -> u64 {
        self.dispatched
    }

    /// Unanswered callouts still awaited.
    pub fn awaited(&self) -> usize {
        self.pending.len()
    }

    /// Adopts the keys another worker published, if they are newer than ours. Costs
    /// one 8-byte shared-data read when nothing changed.
    fn adopt_published(
        &mut self,
        host: &dyn Host,
        provider: usize,
        results: &mut Vec<(usize, FetchResult)>,
    ) {
        if self.shared == Some(false) {
            return;
        }
        let Some(Some(slot)) = self.slots.get_mut(provider) else {
            return;
        };
        let published = match host.shared_data(&slot.at_key) {
            Ok(entry) => {
                self.shared = Some(true);
                entry
                    .value
                    .and_then(|v| v.first_chunk::<8>().map(|at| u64::from_be_bytes(*at)))
            }
            Err(e) => {
                if e.is_unimplemented() {
                    self.shared = Some(false);
                }
                None
            }
        };
        if published.is_none_or(|at| at <= slot.state.fetched_at()) {
            return;
        }
        let Ok(entry) = host.shared_data(&slot.keys_key) else {
            return;
        };
        let Some((at, body)) = entry
            .value
            .as_deref()
            .and_then(<[u8]>::split_first_chunk::<8>)
        else {
            return;
        };
        let fetched_at = u64::from_be_bytes(*at);
        if fetched_at <= slot.state.fetched_at() {
            return;
        }
        if let Ok(set) = KeySet::from_jwks(body) {
            let changed = slot.state.fingerprint() != Some(set.fingerprint);
            if slot.state.adopt(Rc::new(set), fetched_at) {
                if changed {
                    self.changed.push(provider);
                }
                results.push((provider, FetchResult::Adopted));
            }
        }
    }

    /// A callout answered. Returns the provider it was for, if it was ours.
    pub fn on_response(
        &mut self,
        host: &dyn Host,
        token: u32,
        body_size: usize,
        now: u64,
        results: &mut Vec<(usize, FetchResult)>,
    ) -> Option<usize> {
        let (provider, _) = self.pending.remove(&token)?;
        let has_shared = self.shared == Some(true);
        let Some(Some(slot)) = self.slots.get_mut(provider) else {
            return None;
        };
        let policy = slot.remote.policy;
        let status = host
            .header(MapKind::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
            .unwrap_or_default();
        let outcome = if status != "200" {
            Err((
                FetchResult::Failed,
                format!(
                    "status {}",
                    if status.is_empty() { "none" } else { &status }
                ),
            ))
        } else if body_size > MAX_JWKS_BYTES {
            Err((
                FetchResult::Invalid,
                format!("{body_size} bytes is too large"),
            ))
        } else {
            let body = host
                .buffer(BufferKind::HttpCallResponseBody, 0, body_size)
                .ok()
                .flatten()
                .unwrap_or_default();
            KeySet::from_jwks(&body)
                .map(|set| (set, body))
                .map_err(|e| (FetchResult::Invalid, e))
        };
        match outcome {
            Ok((set, body)) => {
                for skipped in &set.skipped {
                    host.log(
                        LogLevel::Warn,
                        &format!("jwt-auth: provider #{provider}: JWKS key skipped: {skipped}"),
                    );
                }
                if slot.state.fingerprint() != Some(set.fingerprint) {
                    self.changed.push(provider);
                }
                slot.state.adopt(Rc::new(set), now);
                if has_shared {
                    let mut entry = now.to_be_bytes().to_vec();
                    entry.extend_from_slice(&body);
                    // Keys first, then the marker the other workers poll.
                    let _ = host.set_shared_data(&slot.keys_key, Some(&entry), None);
                    let _ = host.set_shared_data(&slot.at_key, Some(&now.to_be_bytes()), None);
                }
                release(host, slot, has_shared, 0);
                results.push((provider, FetchResult::Ok));
            }
            Err((result, reason)) => {
                let next = slot.state.failed(now, &policy);
                host.log(
                    LogLevel::Warn,
                    &format!(
                        "jwt-auth: JWKS fetch for provider #{provider} from {} failed ({reason}); \
                         keeping the last good keys, next attempt in {} ms",
                        slot.remote.upstream,
                        next.saturating_sub(now)
                    ),
                );
                release(host, slot, has_shared, next);
                results.push((provider, result));
            }
        }
        Some(provider)
    }

    /// Whether `provider`'s keys are due for a background refresh.
    /// Without a timer (APISIX), the request that finds keys due starts their refresh:
    /// the first due provider whose fetch this call sent, which that request then waits
    /// for (there, only a callout it made itself can wake it). `None`: nothing sent.
    pub fn refresh_on_request(
        &mut self,
        host: &dyn Host,
        now: u64,
        results: &mut Vec<(usize, FetchResult)>,
    ) -> Option<usize> {
        let due: Vec<usize> = self
            .providers()
            .filter(|p| self.refresh_due(*p, now))
            .collect();
        for p in due {
            let calls = self.dispatched;
            self.poll(host, p, now, results);
            if self.dispatched != calls {
                return Some(p);
            }
        }
        None
    }

    pub fn refresh_due(&self, provider: usize, now: u64) -> bool {
        match self.slots.get(provider) {
            Some(Some(slot)) => slot.state.need(now, &slot.remote.policy) == Some(Need::Refresh),
            _ => false,
        }
    }

    /// When the fetch for `provider` was last successful (0: never).
    pub fn fetched_at(&self, provider: usize) -> u64 {
        match self.slots.get(provider) {
            Some(Some(slot)) => slot.state.fetched_at(),
            _ => 0,
        }
    }

    /// Longest a request may wait for this provider's keys.
    pub fn max_wait_ms(&self, provider: usize) -> u64 {
        match self.slots.get(provider) {
            Some(Some(slot)) => slot.remote.policy.timeout_ms.saturating_add(1_500),
            _ => 0,
        }
    }
}

/// Frees the lock; after a failure it keeps the other workers back until `next`.
fn release(host: &dyn Host, slot: &Slot, has_shared: bool, next: u64) {
    if !has_shared {
        return;
    }
    let value = if next == 0 {
        "0,0".to_string()
    } else {
        format!("{next},{}", slot.state.failures())
    };
    let _ = host.set_shared_data(&slot.lock_key, Some(value.as_bytes()), None);
}

pub struct KeysAt<'a> {
    fetcher: &'a Fetcher,
    now: u64,
}

impl RemoteKeys for KeysAt<'_> {
    fn keys(&self, provider: usize) -> Option<&KeySet> {
        match self.fetcher.slots.get(provider) {
            Some(Some(slot)) => slot
                .state
                .keys(self.now, &slot.remote.policy)
                .map(|k| k.as_ref()),
            _ => None,
        }
    }
}
