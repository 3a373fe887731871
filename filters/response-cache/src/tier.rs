//! The shared tier: what gateways exchange with `tollgate-cache`, as plain data.
//!
//! * An entry goes to the tier under an HMAC of its key (with the tier's secret), so
//!   nobody who can reach the service can compute another identity's key from its
//!   claims; it carries an HMAC of its bytes, so an entry changed in Redis or on the way
//!   is refused, never served.
//! * A gateway that fetches an entry from the tier checks it as a local one: its key,
//!   the invalidation marks, `Vary` and freshness.
//! * Invalidations are published to the tier and followed by every gateway on its tick
//!   (one worker per proxy polls, holding a lease in shared data); a gateway reads from
//!   the tier only once it has caught up with the invalidations of the last
//!   `horizon_s`, so an entry invalidated while it was down is never taken.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tollgate_kit::slots::{SlotError, Slots};

use crate::config::SharedTier;
use crate::entry::KeyHash;

type HmacSha256 = Hmac<Sha256>;

/// The tier's API, under the service's root.
pub const ENTRIES: &str = "/v1/entries/";
pub const INVALIDATIONS: &str = "/v1/invalidations";

/// The slots of the tier's own state in shared data.
pub const LEASE: u32 = 0;
pub const CURSOR: u32 = 1;
pub const STATE_SLOTS: u32 = 2;

fn mac(key: &[u8], label: &[u8], data: &[u8]) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(key).ok()?;
    m.update(label);
    m.update(data);
    Some(m)
}

/// The name of an entry in the tier: HMAC of its key, in hex.
pub fn tier_key(tier: &SharedTier, key: &KeyHash) -> String {
    mac(&tier.key, b"tollgate.response_cache.key\0", key)
        .map(|m| {
            m.finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default()
}

/// An entry's bytes with their HMAC in front, as the tier keeps them.
pub fn seal(tier: &SharedTier, entry: &[u8]) -> Vec<u8> {
    let tag = mac(&tier.key, b"tollgate.response_cache.entry\0", entry)
        .map(|m| m.finalize().into_bytes().to_vec())
        .unwrap_or_default();
    let mut out = Vec::with_capacity(tag.len() + entry.len());
    out.extend_from_slice(&tag);
    out.extend_from_slice(entry);
    out
}

/// The entry's bytes if the HMAC holds (compared in constant time).
pub fn open<'b>(tier: &SharedTier, sealed: &'b [u8]) -> Option<&'b [u8]> {
    let (tag, entry) = sealed.split_at_checked(32)?;
    let m = mac(&tier.key, b"tollgate.response_cache.entry\0", entry)?;
    m.verify_slice(tag).ok()?;
    Some(entry)
}

/// How long the tier keeps an entry: until nothing can use it, within the horizon.
pub fn ttl_seconds(tier: &SharedTier, useless_after: u64, now: u64) -> u64 {
    useless_after.saturating_sub(now).clamp(1, tier.horizon_s)
}

/// Invalidations as the tier publishes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    pub scopes: Vec<String>,
    /// When they happened, Unix nanoseconds.
    pub at_ns: u64,
}

/// One page of invalidations from the tier.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// The cursor to ask after next.
    pub next: String,
    pub items: Vec<Published>,
}

/// Parses a page; anything else is an error that says why.
pub fn page(body: &[u8]) -> Result<Page, String> {
    serde_json::from_slice(body).map_err(|e| format!("the tier's invalidations: {e}"))
}

/// The path that asks for invalidations: after `cursor`, or (no cursor yet) since
/// `horizon_s` before `now_ms`.
pub fn poll_path(tier: &SharedTier, cursor: &str, now_ms: u64) -> String {
    if cursor.is_empty() {
        let since = now_ms.saturating_sub(tier.horizon_s.saturating_mul(1000));
        format!("{INVALIDATIONS}?since_ms={since}")
    } else {
        format!("{INVALIDATIONS}?after={cursor}")
    }
}

fn word(bytes: &[u8]) -> u64 {
    bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// Takes the poller's lease for `period_ns` if it is free or expired: one worker of a
/// proxy polls at a time.
pub fn take_lease(state: &dyn Slots, now_ns: u64, period_ns: u64) -> Result<bool, SlotError> {
    let (value, cas) = state.read(LEASE)?.unwrap_or_default();
    if word(&value) > now_ns {
        return Ok(false);
    }
    state.write(LEASE, &now_ns.saturating_add(period_ns).to_le_bytes(), cas)
}

/// The cursor the proxy has followed invalidations to (empty: none yet).
pub fn cursor(state: &dyn Slots) -> Result<String, SlotError> {
    let (value, _) = state.read(CURSOR)?.unwrap_or_default();
    Ok(String::from_utf8_lossy(&value).into_owned())
}

/// Records how far the proxy has followed: from then on, the tier may be read.
pub fn advance(state: &dyn Slots, next: &str) -> Result<(), SlotError> {
    state.write(CURSOR, next.as_bytes(), None).map(|_| ())
}

#[cfg(test)]
#[path = "tier_tests.rs"]
mod tests;
