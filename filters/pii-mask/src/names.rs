//! Member names a JSON stream has already found clean.
//!
//! An array of records repeats the same few names thousands of times, and every name
//! is scanned by the detectors and asked whether it names a phone field: about a
//! seventh of the work on record-shaped JSON. A name seen once with nothing to mask
//! is remembered, with its phone flag, so the next time it is copied as it is.
//!
//! Two-way: a name may sit in one of two slots (by two hashes of its bytes), so a few
//! dozen names rarely push each other out, and a stream of ever-new names costs only
//! the failed lookups; the cache stays small. Only names without anything to mask go
//! in, and the masker never changes during a stream, so a hit writes exactly what
//! masking would.

/// Slots per stream.
const SLOTS: usize = 128;
/// Names missed before any is kept: a small body (a few records, a few dozen names)
/// would pay for the slots and copies and rarely gain from them.
const WARMUP: u32 = 64;
/// Longer names are not kept: they are rare, and each slot stays small.
const LONGEST: usize = 48;

#[derive(Debug, Clone, Default)]
pub struct CleanNames {
    /// Names missed so far (up to [`WARMUP`]).
    misses: u32,
    /// Empty until the first name is kept: a stream with few member names allocates
    /// nothing.
    slots: Vec<Option<Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    name: Box<[u8]>,
    phone: bool,
}

/// The two slots `name` may sit in. FNV-1a: a few instructions per byte on short
/// names, and the same in wasm.
fn slots(name: &[u8]) -> [usize; 2] {
    let h = name.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    // FNV's last bytes reach only the low bits: one more multiply carries them up
    // into the high bits, from which both slots are taken.
    let h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let at = |shift: u32| usize::try_from(h >> shift).unwrap_or(0) % SLOTS;
    [at(57), at(50)]
}

impl CleanNames {
    /// The phone flag of `name` when it is known to hold nothing to mask.
    pub fn get(&self, name: &[u8]) -> Option<bool> {
        if self.slots.is_empty() {
            return None;
        }
        slots(name)
            .into_iter()
            .find_map(|i| match self.slots.get(i) {
                Some(Some(e)) if *e.name == *name => Some(e.phone),
                _ => None,
            })
    }

    /// Counts a name that was not found; `true` once past the warm-up, when a clean
    /// one is worth checking for and keeping.
    pub fn missed(&mut self) -> bool {
        if self.misses < WARMUP {
            self.misses += 1;
            return false;
        }
        true
    }

    /// Remembers that `name` holds nothing to mask: in an empty slot of its two, else
    /// in place of its first slot's name.
    pub fn put(&mut self, name: &[u8], phone: bool) {
        if name.len() > LONGEST {
            return;
        }
        if self.slots.is_empty() {
            self.slots.resize(SLOTS, None);
        }
        let [a, b] = slots(name);
        let free = |i: usize| matches!(self.slots.get(i), Some(None));
        let at = if !free(a) && free(b) { b } else { a };
        if let Some(s) = self.slots.get_mut(at) {
            *s = Some(Entry {
                name: name.into(),
                phone,
            });
        }
    }
}

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;
