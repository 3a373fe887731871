//! The slot table: keys find their bucket, idle slots are reused, a full table evicts
//! or refuses as configured, and a lost compare-and-swap is decided again (never
//! admitted twice).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::*;
use tollgate_kit::slots::MemorySlots;

const SECOND: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SECOND;

/// Shared data as Envoy keeps it: a CAS token per write; a write with a stale token
/// fails. `interfere` makes the next N writes lose to "another worker" that admitted a
/// request of the same key first.
#[derive(Default)]
struct Shared {
    map: RefCell<HashMap<u32, (Vec<u8>, u32)>>,
    next_cas: Cell<u32>,
    interfere: Cell<u32>,
    writes: Cell<u32>,
}

impl Slots for Shared {
    fn read(&self, index: u32) -> Result<Option<Slot>, SlotError> {
        Ok(self
            .map
            .borrow()
            .get(&index)
            .map(|(v, c)| (v.clone(), Some(*c))))
    }
    fn write(&self, index: u32, value: &[u8], cas: Option<u32>) -> Result<bool, SlotError> {
        self.writes.set(self.writes.get() + 1);
        if self.interfere.get() > 0 {
            self.interfere.set(self.interfere.get() - 1);
            // Another worker's write lands first: the token moves on.
            let mut map = self.map.borrow_mut();
            if let Some(entry) = map.get_mut(&index) {
                entry.1 += 1000;
            }
        }
        let mut map = self.map.borrow_mut();
        if let (Some(c), Some((_, current))) = (cas, map.get(&index))
            && c != *current
        {
            return Ok(false);
        }
        self.next_cas.set(self.next_cas.get() + 1);
        map.insert(index, (value.to_vec(), self.next_cas.get()));
        Ok(true)
    }
}

fn per_second(n: u64) -> Gcra {
    Gcra::new(n, SECOND, n).unwrap()
}

fn admits(store: &dyn Slots, slots: u32, key: u64, limit: Gcra, now: u64) -> bool {
    let a = acquire(store, slots, key, &[limit], now, WhenFull::Evict, 8).unwrap();
    matches!(a.outcome, Outcome::Admit { .. })
}

#[test]
fn a_bucket_keeps_its_budget_across_requests() {
    let store = Shared::default();
    create_slots(&store, 16).unwrap();
    let limit = per_second(3);
    let passed = (0..10)
        .filter(|_| admits(&store, 16, 42, limit, T0))
        .count();
    assert_eq!(passed, 3);
    // Another key has its own budget.
    assert!(admits(&store, 16, 43, limit, T0));
    // A refusal writes nothing.
    let writes = store.writes.get();
    assert!(!admits(&store, 16, 42, limit, T0));
    assert_eq!(store.writes.get(), writes);
}

#[test]
fn slots_are_created_once() {
    let store = Shared::default();
    assert_eq!(create_slots(&store, 8).unwrap(), 8);
    assert!(admits(&store, 8, 1, per_second(1), T0));
    assert_eq!(
        create_slots(&store, 8).unwrap(),
        0,
        "a second worker recreates nothing"
    );
    assert!(
        !admits(&store, 8, 1, per_second(1), T0),
        "and loses no bucket"
    );
}

#[test]
fn a_lost_compare_and_swap_is_decided_again() {
    let store = Shared::default();
    create_slots(&store, 4).unwrap();
    let limit = per_second(1);
    store.interfere.set(2);
    let a = acquire(&store, 4, 7, &[limit], T0, WhenFull::Evict, 8).unwrap();
    assert_eq!(a.conflicts, 2);
    assert!(matches!(a.outcome, Outcome::Admit { .. }));
    store.interfere.set(100);
    assert_eq!(
        acquire(&store, 4, 8, &[limit], T0, WhenFull::Evict, 3),
        Err(TableError::Contended { attempts: 4 })
    );
}

#[test]
fn idle_slots_are_reused_and_a_full_table_evicts_or_refuses() {
    let store = Shared::default();
    let slots = PROBES;
    create_slots(&store, slots).unwrap();
    let limit = per_second(1);
    // Fill every slot with a live bucket (keys 0..4 each start at their own slot).
    for key in 0..u64::from(slots) {
        assert!(admits(&store, slots, key, limit, T0));
    }
    let full = acquire(&store, slots, 100, &[limit], T0, WhenFull::Deny, 8).unwrap();
    assert!(full.full);
    assert!(matches!(full.outcome, Outcome::Deny { .. }));
    let evict = acquire(&store, slots, 100, &[limit], T0, WhenFull::Evict, 8).unwrap();
    assert!(evict.evicted);
    assert!(matches!(evict.outcome, Outcome::Admit { .. }));
    // A second later every bucket is idle: a new key takes a slot without evicting.
    let later = acquire(&store, slots, 200, &[limit], T0 + SECOND, WhenFull::Deny, 8).unwrap();
    assert!(!later.evicted && !later.full);
}

#[test]
fn eviction_takes_the_bucket_closest_to_refilled() {
    let store = MemorySlots::new(PROBES);
    let slow = Gcra::new(1, 100 * SECOND, 1).unwrap();
    let fast = per_second(1);
    for key in 0..u64::from(PROBES) {
        let limit = if key == 2 { fast } else { slow };
        assert!(admits(&store, PROBES, key, limit, T0));
    }
    let a = acquire(&store, PROBES, 100, &[slow], T0, WhenFull::Evict, 0).unwrap();
    assert!(a.evicted);
    // Key 1's bucket is still there and still refuses; key 2's went, so key 2 passes
    // again at once (its own bucket would refuse until T0 + 1 s).
    assert!(!admits(&store, PROBES, 1, slow, T0));
    assert!(
        !admits(&store, PROBES, 100, slow, T0),
        "the newcomer's bucket is kept"
    );
    assert!(admits(&store, PROBES, 2, fast, T0));
}

#[test]
fn changed_limits_or_foreign_values_start_a_fresh_bucket() {
    let store = Shared::default();
    create_slots(&store, 8).unwrap();
    assert!(admits(&store, 8, 5, per_second(1), T0));
    let two = [per_second(1), per_second(5)];
    let a = acquire(&store, 8, 5, &two, T0, WhenFull::Evict, 0).unwrap();
    assert!(
        matches!(a.outcome, Outcome::Admit { .. }),
        "new limits, new bucket"
    );
    // Garbage in a slot is a free slot, never a panic.
    store
        .map
        .borrow_mut()
        .insert(home(9, 8), (vec![1, 2, 3], 1));
    store
        .map
        .borrow_mut()
        .insert(home(9, 8) + 1, (vec![FORMAT; 30], 1));
    assert!(admits(&store, 8, 9, per_second(1), T0));
}

#[test]
fn records_round_trip() {
    let bytes = encode(u64::MAX, &[1, 2, u64::MAX]);
    assert_eq!(
        decode(&bytes),
        Some(Record {
            key: u64::MAX,
            tats: vec![1, 2, u64::MAX]
        })
    );
    assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
    assert_eq!(decode(&[]), None);
    assert_eq!(decode(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None);
}

#[test]
fn a_store_error_is_reported() {
    struct Broken;
    impl Slots for Broken {
        fn read(&self, _: u32) -> Result<Option<Slot>, SlotError> {
            Err(SlotError("no shared data".into()))
        }
        fn write(&self, _: u32, _: &[u8], _: Option<u32>) -> Result<bool, SlotError> {
            Err(SlotError("no shared data".into()))
        }
    }
    assert!(matches!(
        acquire(&Broken, 4, 1, &[per_second(1)], T0, WhenFull::Evict, 1),
        Err(TableError::Store(_))
    ));
    assert!(create_slots(&Broken, 4).is_err());
}

#[test]
fn of_equally_live_buckets_the_first_probed_is_evicted() {
    let store = MemorySlots::new(PROBES);
    let slow = Gcra::new(1, 100 * SECOND, 1).unwrap();
    for key in 0..u64::from(PROBES) {
        assert!(admits(&store, PROBES, key, slow, T0));
    }
    // Key 100 starts probing at slot 0 (100 % 4): all four buckets refill at once.
    let a = acquire(&store, PROBES, 100, &[slow], T0, WhenFull::Evict, 0).unwrap();
    assert!(a.evicted);
    assert!(
        !admits(&store, PROBES, 3, slow, T0),
        "the last probed keeps its bucket"
    );
    assert!(
        admits(&store, PROBES, 0, slow, T0),
        "the first probed lost it"
    );
}
