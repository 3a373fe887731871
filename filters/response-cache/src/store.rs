//! Entries in fixed slot tables, shared by every worker (or kept per worker), with a
//! byte budget, sampled LRU eviction and invalidation marks.
//!
//! * A slot's **meta** (who owns it, size, last use, when it stops being useful) is
//!   small, so a lookup probes up to [`PROBES`] of them cheaply; its **body** holds the
//!   encoded [`Entry`], which carries its key hash again: a body that does not match
//!   its meta (two workers stored at once) is a miss, never another key's response.
//! * Every meta write is a compare-and-swap, so two workers never both think they own
//!   a slot. The bytes in use are one counter, also updated by compare-and-swap.
//! * Over budget, a sample of [`SAMPLE`] slots is examined and the entry that is
//!   useless (expired beyond any stale use) or least recently used goes, as Redis
//!   approximates LRU: exact LRU needs a shared list that every hit would rewrite.
//! * A write marks its URI (and configured prefixes) with the time; an entry filled by
//!   a request that started before the mark is invalid for every identity. Marks live
//!   in a fixed number of slots (a mark's slot is a hash of its scope; two scopes may
//!   share one, which only invalidates more).

use sha2::{Digest, Sha256};
use tollgate_kit::slots::{SlotError, Slots};

use crate::entry::{Entry, KeyHash};

/// How many consecutive slots a key may use.
pub const PROBES: u32 = 4;
/// How many entries an eviction round compares.
pub const SAMPLE: u32 = 8;
/// How many slots an eviction round reads at most, empty ones included.
pub const SCAN: u32 = 64;
/// Compare-and-swap attempts before giving up (the entry is then not stored).
const ATTEMPTS: u32 = 8;
/// The meta format.
const META_FORMAT: u8 = 1;

/// A slot's meta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub key: KeyHash,
    /// Bytes of the encoded entry.
    pub size: u64,
    /// Unix seconds.
    pub last_used: u64,
    pub useless_after: u64,
    /// Until when one request revalidates it (stale-while-revalidate), Unix seconds.
    pub lease_until: u64,
}

impl Meta {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(65);
        out.push(META_FORMAT);
        out.extend_from_slice(&self.key);
        for v in [
            self.size,
            self.last_used,
            self.useless_after,
            self.lease_until,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.first() != Some(&META_FORMAT) || bytes.len() != 65 {
            return None;
        }
        let key: KeyHash = bytes.get(1..33)?.try_into().ok()?;
        let word = |i: usize| -> Option<u64> {
            Some(u64::from_le_bytes(
                bytes.get(33 + 8 * i..41 + 8 * i)?.try_into().ok()?,
            ))
        };
        Some(Self {
            key,
            size: word(0)?,
            last_used: word(1)?,
            useless_after: word(2)?,
            lease_until: word(3)?,
        })
    }
}

/// The tables of one config.
pub struct Store<'a> {
    pub meta: &'a dyn Slots,
    pub body: &'a dyn Slots,
    pub marks: &'a dyn Slots,
    /// One slot: the bytes in use.
    pub account: &'a dyn Slots,
    pub entries: u32,
    pub mark_slots: u32,
    pub max_bytes: u64,
}

/// An entry found for a key.
#[derive(Debug, Clone)]
pub struct Found {
    pub index: u32,
    pub meta: Meta,
    pub cas: Option<u32>,
    pub entry: Entry,
}

/// What storing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stored {
    /// Entries dropped to stay within the budget (or to take a slot).
    pub evicted: u32,
    /// Whether the entry is in (`false`: it lost every race for a slot).
    pub stored: bool,
}

fn hash_index(bytes: &[u8], slots: u32) -> u32 {
    let word = u32::from_le_bytes(
        bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .unwrap_or([0; 4]),
    );
    word % slots.max(1)
}

fn read_u64(bytes: &[u8]) -> u64 {
    bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

impl Store<'_> {
    fn probes(&self, key: &KeyHash) -> impl Iterator<Item = u32> + use<> {
        let start = hash_index(key, self.entries);
        let slots = self.entries;
        (0..PROBES.min(slots)).map(move |p| (start + p) % slots)
    }

    fn read_meta(&self, index: u32) -> Result<(Option<Meta>, Option<u32>), SlotError> {
        let (value, cas) = self.meta.read(index)?.unwrap_or((Vec::new(), None));
        Ok((Meta::decode(&value), cas))
    }

    /// The entry stored for `key`, if its slot and body agree.
    pub fn lookup(&self, key: &KeyHash) -> Result<Option<Found>, SlotError> {
        for index in self.probes(key) {
            let (meta, cas) = self.read_meta(index)?;
            let Some(meta) = meta.filter(|m| m.key == *key) else {
                continue;
            };
            let body = self.body.read(index)?.map(|(b, _)| b).unwrap_or_default();
            return Ok(Entry::decode(&body)
                .filter(|e| e.key == *key)
                .map(|entry| Found {
                    index,
                    meta,
                    cas,
                    entry,
                }));
        }
        Ok(None)
    }

    /// Records a use (for LRU); a lost race is fine: the other writer used it too.
    pub fn touch(&self, found: &Found, now: u64) -> Result<(), SlotError> {
        if found.meta.last_used >= now {
            return Ok(());
        }
        let meta = Meta {
            last_used: now,
            ..found.meta
        };
        self.meta
            .write(found.index, &meta.encode(), found.cas)
            .map(|_| ())
    }

    /// Takes the right to revalidate a stale entry for `seconds`; `false`: another
    /// request holds it.
    pub fn take_lease(&self, found: &Found, now: u64, seconds: u64) -> Result<bool, SlotError> {
        if found.meta.lease_until > now {
            return Ok(false);
        }
        let meta = Meta {
            lease_until: now.saturating_add(seconds),
            ..found.meta
        };
        self.meta.write(found.index, &meta.encode(), found.cas)
    }

    /// Where `key` goes: its own slot, a free or useless one, or the least recently
    /// used of its probes.
    fn place(
        &self,
        key: &KeyHash,
        now: u64,
    ) -> Result<(u32, Option<Meta>, Option<u32>), SlotError> {
        let mut best: Option<(u32, Option<Meta>, Option<u32>, u64)> = None;
        for index in self.probes(key) {
            let (meta, cas) = self.read_meta(index)?;
            let rank = match &meta {
                Some(m) if m.key == *key => return Ok((index, meta, cas)),
                None => 0,
                Some(m) if m.useless_after < now => 1,
                Some(m) => 2 + m.last_used,
            };
            if best.as_ref().is_none_or(|b| rank < b.3) {
                best = Some((index, meta, cas, rank));
            }
        }
        best.map(|(i, m, c, _)| (i, m, c))
            .ok_or_else(|| SlotError("the table has no slots".into()))
    }

    /// Stores `entry` at `now`, evicting to stay within the budget.
    pub fn put(&self, entry: &Entry, now: u64) -> Result<Stored, SlotError> {
        let body = entry.encode();
        let size = body.len() as u64;
        let meta = Meta {
            key: entry.key,
            size,
            last_used: now,
            useless_after: entry.freshness.useless_after(),
            lease_until: 0,
        };
        let mut out = Stored::default();
        for _ in 0..ATTEMPTS {
            let (index, old, cas) = self.place(&entry.key, now)?;
            // Claim the slot first: a reader who sees the new meta before the new body
            // finds the old body's key and misses.
            if !self.meta.write(index, &meta.encode(), cas)? {
                continue;
            }
            self.body.write(index, &body, None)?;
            let freed = old.map_or(0, |m| m.size);
            if old.is_some_and(|m| m.key != entry.key) {
                out.evicted += 1;
            }
            let total = self.adjust(size, freed)?;
            out.stored = true;
            if total > self.max_bytes {
                out.evicted += self.evict(index, now, total)?;
            }
            return Ok(out);
        }
        Ok(out)
    }

    /// Adds `plus` and takes `minus` from the bytes in use; returns the new total.
    fn adjust(&self, plus: u64, minus: u64) -> Result<u64, SlotError> {
        for _ in 0..ATTEMPTS {
            let (value, cas) = self.account.read(0)?.unwrap_or((Vec::new(), None));
            let total = read_u64(&value).saturating_add(plus).saturating_sub(minus);
            if self.account.write(0, &total.to_le_bytes(), cas)? {
                return Ok(total);
            }
        }
        Err(SlotError("the byte count stayed contended".into()))
    }

    /// The bytes in use.
    pub fn bytes(&self) -> Result<u64, SlotError> {
        Ok(read_u64(
            &self.account.read(0)?.map(|(v, _)| v).unwrap_or_default(),
        ))
    }

    /// Drops entries until the total is within the budget: each round samples up to
    /// [`SAMPLE`] entries (scanning at most [`SCAN`] slots past empty ones) and drops
    /// the most useless or least recently used. A few rounds at most: every request
    /// does a bounded amount of work.
    fn evict(&self, keep: u32, now: u64, mut total: u64) -> Result<u32, SlotError> {
        let mut evicted = 0;
        let slots = self.entries.max(1);
        let mut at = keep.wrapping_mul(2_654_435_761).wrapping_add(now as u32) % slots;
        for _ in 0..4 {
            if total <= self.max_bytes {
                break;
            }
            let mut victim: Option<(u32, Meta, Option<u32>, u64)> = None;
            let mut sampled = 0;
            for _ in 0..SCAN.min(slots) {
                let index = at;
                at = (at + 1) % slots;
                if index == keep {
                    continue;
                }
                let (meta, cas) = self.read_meta(index)?;
                let Some(m) = meta else { continue };
                let rank = if m.useless_after < now {
                    0
                } else {
                    1 + m.last_used
                };
                if victim.as_ref().is_none_or(|v| rank < v.3) {
                    victim = Some((index, m, cas, rank));
                }
                sampled += 1;
                if sampled == SAMPLE {
                    break;
                }
            }
            let Some((index, m, cas, _)) = victim else {
                break;
            };
            if self.meta.write(index, &[], cas)? {
                self.body.write(index, &[], None)?;
                total = self.adjust(0, m.size)?;
                evicted += 1;
            }
        }
        Ok(evicted)
    }

    /// Removes the entry for `key` if it is there (a write answered by the origin
    /// replaced what was stored).
    pub fn remove(&self, key: &KeyHash) -> Result<bool, SlotError> {
        for index in self.probes(key) {
            let (meta, cas) = self.read_meta(index)?;
            if let Some(m) = meta.filter(|m| m.key == *key) {
                if self.meta.write(index, &[], cas)? {
                    self.body.write(index, &[], None)?;
                    self.adjust(0, m.size)?;
                    return Ok(true);
                }
                return Ok(false);
            }
        }
        Ok(false)
    }

    fn mark_index(&self, scope: &str) -> u32 {
        hash_index(&Sha256::digest(scope.as_bytes()), self.mark_slots)
    }

    /// Marks `scope` invalidated at `at_ns` (Unix nanoseconds); marks only move
    /// forward.
    pub fn mark(&self, scope: &str, at_ns: u64) -> Result<(), SlotError> {
        let index = self.mark_index(scope);
        for _ in 0..ATTEMPTS {
            let (value, cas) = self.marks.read(index)?.unwrap_or((Vec::new(), None));
            if read_u64(&value) >= at_ns {
                return Ok(());
            }
            if self.marks.write(index, &at_ns.to_le_bytes(), cas)? {
                return Ok(());
            }
        }
        Err(SlotError("an invalidation mark stayed contended".into()))
    }

    /// The latest mark of any of `scopes` (0: none).
    pub fn latest_mark(&self, scopes: &[String]) -> Result<u64, SlotError> {
        let mut latest = 0;
        for scope in scopes {
            let value = self
                .marks
                .read(self.mark_index(scope))?
                .map(|(v, _)| v)
                .unwrap_or_default();
            latest = latest.max(read_u64(&value));
        }
        Ok(latest)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
