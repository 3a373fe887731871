//! Concurrent misses for one key, coalesced: the first request fills, the others wait
//! for its entry instead of all going to the origin.
//!
//! The first request for a missing key takes the key's fill lock (a slot in shared data,
//! so it holds across the proxy's workers), with a deadline. A request that finds the
//! lock held for its key waits; the root looks at waiting requests on its tick, and
//! once the lock is released (the fill stored, or failed) or its wait runs out, decides
//! each again: a hit is answered, anything else goes to the origin (without taking the
//! lock again, so an uncacheable response never makes requests queue behind each
//! other). Only where the root can act on a waiting stream (Envoy).
//!
//! Locks live in a fixed number of slots, hashed by key; a slot held for another key
//! means no coalescing for this one (it just goes to the origin).

use tollgate_kit::slots::{SlotError, Slots};

use crate::entry::KeyHash;

/// Fill-lock slots per proxy.
pub const LOCKS: u32 = 256;

/// What a miss does about its fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This request fills; it releases the lock when done.
    Leader,
    /// Another request is filling this key until at most `until_ns`.
    Wait { until_ns: u64 },
    /// The key's slot is another key's: go to the origin, uncoalesced.
    Alone,
}

fn index(key: &KeyHash) -> u32 {
    // Bytes 4..8: the store's slots use 0..4, so a lock and an entry slot spread apart.
    let word = key
        .get(4..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes);
    word % LOCKS
}

/// A lock's holder and deadline, if the slot holds one.
fn holder(value: &[u8]) -> Option<(KeyHash, u64)> {
    let key: KeyHash = value.get(..32)?.try_into().ok()?;
    let until = u64::from_le_bytes(value.get(32..40)?.try_into().ok()?);
    Some((key, until))
}

/// Takes `key`'s fill lock for `wait_ns`, or says who has it.
pub fn claim(
    locks: &dyn Slots,
    key: &KeyHash,
    now_ns: u64,
    wait_ns: u64,
) -> Result<Claim, SlotError> {
    let i = index(key);
    for _ in 0..2 {
        let (value, cas) = locks.read(i)?.unwrap_or_default();
        match holder(&value) {
            Some((k, until)) if until > now_ns && k == *key => {
                return Ok(Claim::Wait { until_ns: until });
            }
            Some((_, until)) if until > now_ns => return Ok(Claim::Alone),
            _ => {}
        }
        let mut lock = key.to_vec();
        lock.extend_from_slice(&now_ns.saturating_add(wait_ns).to_le_bytes());
        if locks.write(i, &lock, cas)? {
            return Ok(Claim::Leader);
        }
    }
    Ok(Claim::Alone)
}

/// Whether `key` is still being filled at `now_ns`.
pub fn filling(locks: &dyn Slots, key: &KeyHash, now_ns: u64) -> Result<bool, SlotError> {
    let (value, _) = locks.read(index(key))?.unwrap_or_default();
    Ok(holder(&value).is_some_and(|(k, until)| k == *key && until > now_ns))
}

/// Releases `key`'s lock if this key still holds it.
pub fn release(locks: &dyn Slots, key: &KeyHash) -> Result<(), SlotError> {
    let i = index(key);
    let (value, cas) = locks.read(i)?.unwrap_or_default();
    if holder(&value).is_some_and(|(k, _)| k == *key) {
        // Losing a race here means someone else wrote the slot: nothing to release.
        locks.write(i, &[], cas)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "coalesce_tests.rs"]
mod tests;
