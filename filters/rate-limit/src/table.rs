//! A bounded table of buckets in slots, updated by compare-and-swap.
//!
//! Envoy's shared data can never remove a key, so buckets cannot be one key each: a
//! client that sends a new `x-api-key` per request would grow the proxy's memory for
//! ever. Instead the table has a fixed number of slots, created once at configure time.
//! A bucket lives in the slot its key hashes to (or one of the next [`PROBES`]); a slot
//! whose bucket has refilled completely (it is idle: forgetting it changes nothing) is
//! taken by the next key that needs room. When every candidate slot holds a live
//! bucket, the table is full and the configured [`WhenFull`] decides.
//!
//! Every update reads a slot with its CAS token and writes it back only if nobody wrote
//! it in between; on a conflict the whole decision is made again, at most
//! `retries` times. That is what makes a budget exact across worker VMs.

use crate::gcra::{self, Gcra, Outcome};
pub use tollgate_kit::slots::{Slot, SlotError, Slots, create_slots};

/// How many consecutive slots a key may use.
pub const PROBES: u32 = 4;

/// The format of a slot's value, so a later build can tell old values apart.
const FORMAT: u8 = 1;

/// What to do for a new key when its slots all hold live buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Take the slot of the bucket closest to refilled: that key's budget restarts
    /// (counted in `rate_limit.evictions`). Size `max_keys` so this stays rare.
    #[default]
    Evict,
    /// Refuse the new key's request (429) until a slot frees: no budget ever
    /// restarts, but a flood of new keys locks out every other new key.
    Deny,
}

/// A bucket's decision and what it took to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acquired {
    pub outcome: Outcome,
    /// Writes lost to another worker before this one won.
    pub conflicts: u32,
    /// A live bucket of another key was dropped to make room.
    pub evicted: bool,
    /// The table was full and `WhenFull::Deny` refused the request.
    pub full: bool,
}

/// Why no decision was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableError {
    /// Every attempt lost its compare-and-swap.
    Contended {
        attempts: u32,
    },
    Store(SlotError),
}

/// A slot's content: whose bucket it is and the bucket's TATs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    key: u64,
    tats: Vec<u64>,
}

fn encode(key: u64, tats: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + 8 * tats.len());
    out.push(FORMAT);
    out.extend_from_slice(&key.to_le_bytes());
    out.push(u8::try_from(tats.len()).unwrap_or(u8::MAX));
    for t in tats.iter().take(usize::from(u8::MAX)) {
        out.extend_from_slice(&t.to_le_bytes());
    }
    out
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// `None` for an empty slot and for anything this build did not write (which is then
/// treated as free: a slot can only lose a bucket, never invent budget).
fn decode(bytes: &[u8]) -> Option<Record> {
    if bytes.first() != Some(&FORMAT) {
        return None;
    }
    let key = u64_at(bytes, 1)?;
    let n = usize::from(*bytes.get(9)?);
    if bytes.len() != 10 + 8 * n {
        return None;
    }
    let tats = (0..n)
        .map(|i| u64_at(bytes, 10 + 8 * i))
        .collect::<Option<_>>()?;
    Some(Record { key, tats })
}

/// The slot a key starts probing at.
pub fn home(key: u64, slots: u32) -> u32 {
    u32::try_from(key % u64::from(slots.max(1))).unwrap_or(0)
}

/// Where a key's bucket is, or where it may go.
enum Place {
    Mine {
        index: u32,
        tats: Vec<u64>,
        cas: Option<u32>,
    },
    Free {
        index: u32,
        cas: Option<u32>,
    },
    Victim {
        index: u32,
        cas: Option<u32>,
    },
    Full,
}

fn locate(store: &dyn Slots, slots: u32, key: u64, now: u64) -> Result<Place, SlotError> {
    let start = home(key, slots);
    let mut free = None;
    // The live bucket of another key closest to refilled: (its latest TAT, slot, cas).
    let mut victim: Option<(u64, u32, Option<u32>)> = None;
    for probe in 0..PROBES.min(slots) {
        let index = (start + probe) % slots;
        let (value, cas) = store.read(index)?.unwrap_or((Vec::new(), None));
        match decode(&value) {
            Some(r) if r.key == key => {
                return Ok(Place::Mine {
                    index,
                    tats: r.tats,
                    cas,
                });
            }
            Some(r) if !gcra::idle(&r.tats, now) => {
                let latest = r.tats.iter().copied().max().unwrap_or(0);
                if victim.is_none_or(|(v, _, _)| latest < v) {
                    victim = Some((latest, index, cas));
                }
            }
            // Empty, unreadable or idle: free. Keep looking for the key's own slot.
            _ => {
                if free.is_none() {
                    free = Some((index, cas));
                }
            }
        }
    }
    Ok(match (free, victim) {
        (Some((index, cas)), _) => Place::Free { index, cas },
        (None, Some((_, index, cas))) => Place::Victim { index, cas },
        (None, None) => Place::Full,
    })
}

/// Decides one request for the bucket `key` against `limits` at `now`, storing the
/// new state if it passes. A refused request writes nothing.
pub fn acquire(
    store: &dyn Slots,
    slots: u32,
    key: u64,
    limits: &[Gcra],
    now: u64,
    when_full: WhenFull,
    retries: u32,
) -> Result<Acquired, TableError> {
    let attempts = retries.saturating_add(1);
    for attempt in 0..attempts {
        let place = locate(store, slots, key, now).map_err(TableError::Store)?;
        let (index, tats, cas, evicted) = match place {
            Place::Mine { index, tats, cas } => (index, tats, cas, false),
            Place::Free { index, cas } => (index, Vec::new(), cas, false),
            Place::Victim { index, cas } if when_full == WhenFull::Evict => {
                (index, Vec::new(), cas, true)
            }
            Place::Victim { .. } | Place::Full => {
                return Ok(Acquired {
                    outcome: Outcome::Deny {
                        limit: 0,
                        retry_after: limits.iter().map(|l| l.emission).min().unwrap_or(0),
                    },
                    conflicts: attempt,
                    evicted: false,
                    full: true,
                });
            }
        };
        // A bucket stored for other limits (the config changed them) starts afresh.
        let tats = if tats.len() == limits.len() {
            tats
        } else {
            Vec::new()
        };
        let outcome = gcra::check_all(limits, &tats, now);
        let written = match &outcome {
            Outcome::Deny { .. } => true,
            Outcome::Admit { tats, .. } => store
                .write(index, &encode(key, tats), cas)
                .map_err(TableError::Store)?,
        };
        if written {
            return Ok(Acquired {
                outcome,
                conflicts: attempt,
                evicted,
                full: false,
            });
        }
    }
    Err(TableError::Contended { attempts })
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
