//! Fixed tables of slots that filters keep state in (rate-limit's buckets,
//! response-cache's entries), and their two homes: the proxy's shared data, which every
//! worker VM of one vm_id sees (Envoy, Kong), and this VM's own memory (APISIX, where
//! each worker is its own VM with no shared data).
//!
//! Envoy's shared data can never remove a key, so state that grows with clients (a
//! bucket per API key, an entry per URL) cannot be a key each: it lives in a fixed
//! number of slots, created once at configure time ([`create_slots`]) so that no
//! request ever writes a slot without a CAS token.

use std::cell::RefCell;

use crate::host::Host;
use crate::types::Status;

/// A slot's value and its CAS token (none where nothing else writes it).
pub type Slot = (Vec<u8>, Option<u32>);

/// Where slots live: shared data (every worker) or this VM's memory (per worker).
pub trait Slots {
    /// The slot's value and CAS token; `Ok(None)`: the slot was never created.
    fn read(&self, index: u32) -> Result<Option<Slot>, SlotError>;
    /// Writes if the slot's CAS token is still `cas` (`None`: unconditionally, on
    /// every host). `Ok(false)`: someone wrote it in between.
    fn write(&self, index: u32, value: &[u8], cas: Option<u32>) -> Result<bool, SlotError>;

    /// Creates a slot that did not exist, holding `value`. `Ok(false)`: it exists by
    /// now (another worker created it), and it is left as it is.
    fn create(&self, index: u32, value: &[u8]) -> Result<bool, SlotError> {
        self.write(index, value, None)
    }
}

/// A slot store that failed (the hostcall's error, for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotError(pub String);

/// Creates every slot that does not exist yet, empty, so that no request ever writes a
/// slot without a CAS token (Envoy's shared data has no "create if absent": two
/// workers creating one key at once both succeed, harmlessly, as both write it empty;
/// Kong's refuses the second, which then leaves the slot alone). Run at configure
/// time, before the table serves. Returns how many slots this call created.
pub fn create_slots(store: &dyn Slots, slots: u32) -> Result<u32, SlotError> {
    let mut created = 0;
    for index in 0..slots {
        if store.read(index)?.is_none() && store.create(index, &[])? {
            created += 1;
        }
    }
    Ok(created)
}

/// Slots in shared data, as keys `<prefix><index>`.
pub struct SharedSlots<'a> {
    pub host: &'a dyn Host,
    pub prefix: &'a str,
}

impl SharedSlots<'_> {
    fn key(&self, index: u32) -> String {
        format!("{}{index}", self.prefix)
    }
}

impl Slots for SharedSlots<'_> {
    fn create(&self, index: u32, value: &[u8]) -> Result<bool, SlotError> {
        self.create_key(index, value)
    }

    fn read(&self, index: u32) -> Result<Option<Slot>, SlotError> {
        // The kit answers an absent key (`NotFound`) with no value.
        let v = self
            .host
            .shared_data(&self.key(index))
            .map_err(|e| SlotError(e.to_string()))?;
        Ok(v.value.map(|value| (value, v.cas)))
    }

    fn write(&self, index: u32, value: &[u8], cas: Option<u32>) -> Result<bool, SlotError> {
        let key = self.key(index);
        match self.host.set_shared_data(&key, Some(value), cas) {
            Ok(()) => Ok(true),
            // Kong refuses a write without a token over a key that exists: take the
            // key's token and write with it (an unconditional write, portably).
            Err(e) if e.status == Status::CasMismatch && cas.is_none() => {
                self.overwrite(&key, value)
            }
            Err(e) if e.status == Status::CasMismatch => Ok(false),
            Err(e) => Err(SlotError(e.to_string())),
        }
    }
}

impl SharedSlots<'_> {
    fn create_key(&self, index: u32, value: &[u8]) -> Result<bool, SlotError> {
        match self
            .host
            .set_shared_data(&self.key(index), Some(value), None)
        {
            Ok(()) => Ok(true),
            // Kong: the key exists by now; whoever created it, it stays.
            Err(e) if e.status == Status::CasMismatch => Ok(false),
            Err(e) => Err(SlotError(e.to_string())),
        }
    }

    /// Writes `value` over whatever `key` holds, with its current token, retrying a
    /// few times if another worker writes in between.
    fn overwrite(&self, key: &str, value: &[u8]) -> Result<bool, SlotError> {
        for _ in 0..8 {
            let token = self
                .host
                .shared_data(key)
                .map_err(|e| SlotError(e.to_string()))?
                .cas;
            match self.host.set_shared_data(key, Some(value), token) {
                Ok(()) => return Ok(true),
                Err(e) if e.status == Status::CasMismatch => continue,
                Err(e) => return Err(SlotError(e.to_string())),
            }
        }
        Err(SlotError("an unconditional write stayed contended".into()))
    }
}

/// Slots in this VM's memory, created all at once: nothing else writes them, so every
/// write succeeds.
pub struct MemorySlots {
    slots: RefCell<Vec<Vec<u8>>>,
}

impl MemorySlots {
    pub fn new(slots: u32) -> Self {
        Self {
            slots: RefCell::new(vec![Vec::new(); slots as usize]),
        }
    }
}

impl Slots for MemorySlots {
    fn read(&self, index: u32) -> Result<Option<Slot>, SlotError> {
        let slots = self.slots.borrow();
        let value = slots
            .get(index as usize)
            .ok_or_else(|| SlotError(format!("no slot {index}")))?;
        Ok(Some((value.clone(), None)))
    }

    fn write(&self, index: u32, value: &[u8], _cas: Option<u32>) -> Result<bool, SlotError> {
        let mut slots = self.slots.borrow_mut();
        let slot = slots
            .get_mut(index as usize)
            .ok_or_else(|| SlotError(format!("no slot {index}")))?;
        slot.clear();
        slot.extend_from_slice(value);
        Ok(true)
    }
}

/// The hash key every worker of a proxy must use, kept in shared data under
/// `key`: the first worker stores `fresh`, the others read it. Shared data cannot create
/// a key only if absent, so the value is created empty first and then filled with a
/// compare-and-swap: of two workers racing, one fills it and the other reads that.
pub fn shared_seed(host: &dyn Host, key: &str, fresh: (u64, u64)) -> Result<(u64, u64), SlotError> {
    let decode = |v: &[u8]| -> Option<(u64, u64)> {
        let a: [u8; 8] = v.get(..8)?.try_into().ok()?;
        let b: [u8; 8] = v.get(8..16)?.try_into().ok()?;
        Some((u64::from_le_bytes(a), u64::from_le_bytes(b)))
    };
    let mut bytes = fresh.0.to_le_bytes().to_vec();
    bytes.extend_from_slice(&fresh.1.to_le_bytes());
    for _ in 0..8 {
        let current = host
            .shared_data(key)
            .map_err(|e| SlotError(e.to_string()))?;
        match current.value.as_deref() {
            // Absent: create it empty (harmless if another worker does too), then fill
            // it by compare-and-swap on the next round.
            // Absent: create it empty (harmless if another worker does too on Envoy;
            // on Kong the second is refused, and both read the winner next round).
            None => {
                match host.set_shared_data(key, Some(&[]), None) {
                    Ok(()) => {}
                    Err(e) if e.status == Status::CasMismatch => {}
                    Err(e) => return Err(SlotError(e.to_string())),
                }
                continue;
            }
            Some(v) => {
                if let Some(seed) = decode(v) {
                    return Ok(seed);
                }
            }
        }
        match host.set_shared_data(key, Some(&bytes), current.cas) {
            Ok(()) => return Ok(fresh),
            Err(e) if e.status == Status::CasMismatch => continue,
            Err(e) => return Err(SlotError(e.to_string())),
        }
    }
    Err(SlotError("the shared hash key stayed contended".into()))
}

#[cfg(test)]
#[path = "slots_tests.rs"]
mod tests;
