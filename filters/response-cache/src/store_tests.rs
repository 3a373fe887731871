//! The store over memory slots and over the mock host's shared data (CAS tokens as
//! Envoy keeps them).

use tollgate_kit::mock::MockHost;
use tollgate_kit::slots::{MemorySlots, SharedSlots, create_slots};

use super::*;
use crate::freshness::Freshness;

struct Tables {
    meta: MemorySlots,
    body: MemorySlots,
    marks: MemorySlots,
    account: MemorySlots,
}

fn tables(entries: u32) -> Tables {
    Tables {
        meta: MemorySlots::new(entries),
        body: MemorySlots::new(entries),
        marks: MemorySlots::new(64),
        account: MemorySlots::new(1),
    }
}

fn store(t: &Tables, entries: u32, max_bytes: u64) -> Store<'_> {
    Store {
        meta: &t.meta,
        body: &t.body,
        marks: &t.marks,
        account: &t.account,
        entries,
        mark_slots: 64,
        max_bytes,
    }
}

fn key(n: u32) -> KeyHash {
    let mut k = [0u8; 32];
    k[..4].copy_from_slice(&n.to_le_bytes());
    k[31] = 1;
    k
}

fn entry(n: u32, body: usize, lifetime: u64) -> Entry {
    Entry {
        key: key(n),
        request_time_ns: 1,
        freshness: Freshness {
            lifetime,
            response_time: 1000,
            ..Freshness::default()
        },
        status: 200,
        vary: Vec::new(),
        headers: Vec::new(),
        body: vec![b'x'; body],
    }
}

#[test]
fn stores_finds_replaces_and_removes() {
    let t = tables(16);
    let s = store(&t, 16, 1 << 20);
    assert!(s.lookup(&key(1)).unwrap().is_none());
    let put = s.put(&entry(1, 10, 60), 1000).unwrap();
    assert_eq!(
        put,
        Stored {
            evicted: 0,
            stored: true
        }
    );
    let found = s.lookup(&key(1)).unwrap().unwrap();
    assert_eq!(found.entry, entry(1, 10, 60));
    let size = found.meta.size;
    assert_eq!(s.bytes().unwrap(), size);
    s.put(&entry(1, 20, 60), 1001).unwrap();
    assert_eq!(s.lookup(&key(1)).unwrap().unwrap().entry.body.len(), 20);
    assert_eq!(
        s.bytes().unwrap(),
        size + 10,
        "a replaced entry's bytes are freed"
    );
    assert!(s.remove(&key(1)).unwrap());
    assert!(!s.remove(&key(1)).unwrap());
    assert!(s.lookup(&key(1)).unwrap().is_none());
    assert_eq!(s.bytes().unwrap(), 0);
}

#[test]
fn a_body_that_does_not_match_its_meta_is_a_miss() {
    let t = tables(16);
    let s = store(&t, 16, 1 << 20);
    s.put(&entry(1, 10, 60), 1000).unwrap();
    let index = s.lookup(&key(1)).unwrap().unwrap().index;
    // Another worker's body landed in the slot after this meta.
    t.body
        .write(index, &entry(2, 10, 60).encode(), None)
        .unwrap();
    assert!(s.lookup(&key(1)).unwrap().is_none());
    t.body.write(index, b"garbage", None).unwrap();
    assert!(s.lookup(&key(1)).unwrap().is_none());
}

#[test]
fn keys_sharing_a_home_probe_and_the_least_recently_used_goes() {
    // Keys 0, 4, 8, … share home slot 0 of 4 slots.
    let t = tables(4);
    let s = store(&t, 4, 1 << 20);
    for n in 0..4 {
        s.put(&entry(n * 4, 1, 100_000), 1000 + u64::from(n))
            .unwrap();
    }
    for n in 0..4 {
        assert!(s.lookup(&key(n * 4)).unwrap().is_some(), "{n}");
    }
    // Use the oldest, so the second oldest is the least recently used.
    let f = s.lookup(&key(0)).unwrap().unwrap();
    s.touch(&f, 2000).unwrap();
    let put = s.put(&entry(16, 1, 100_000), 2001).unwrap();
    assert_eq!(put.evicted, 1);
    assert!(s.lookup(&key(0)).unwrap().is_some());
    assert!(s.lookup(&key(4)).unwrap().is_none(), "least recently used");
    assert!(s.lookup(&key(16)).unwrap().is_some());
}

#[test]
fn useless_entries_go_before_recently_used_ones() {
    let t = tables(4);
    let s = store(&t, 4, 1 << 20);
    s.put(&entry(0, 1, 100_000), 1000).unwrap();
    s.put(&entry(4, 1, 1), 1000).unwrap(); // useless after 1001
    s.put(&entry(8, 1, 100_000), 1000).unwrap();
    s.put(&entry(12, 1, 100_000), 1000).unwrap();
    let f = s.lookup(&key(4)).unwrap().unwrap();
    s.touch(&f, 5000).unwrap(); // recently used, but useless
    s.put(&entry(16, 1, 100_000), 5001).unwrap();
    assert!(s.lookup(&key(4)).unwrap().is_none());
    for n in [0, 8, 12, 16] {
        assert!(s.lookup(&key(n)).unwrap().is_some(), "{n}");
    }
}

#[test]
fn the_byte_budget_is_kept_by_evicting() {
    let t = tables(64);
    let s = store(&t, 64, 100_000);
    let mut evicted = 0;
    for n in 0..40 {
        evicted += s
            .put(&entry(n, 10_000, 600), 1000 + u64::from(n))
            .unwrap()
            .evicted;
        assert!(
            s.bytes().unwrap() <= 100_000,
            "after {n}: {}",
            s.bytes().unwrap()
        );
    }
    assert!(evicted >= 30, "{evicted}");
    assert!(s.lookup(&key(39)).unwrap().is_some(), "the newest stays");
    // The count matches what is really stored.
    let stored: u64 = (0..64)
        .filter_map(|i| Meta::decode(&t.meta.read(i).unwrap().unwrap().0))
        .map(|m| m.size)
        .sum();
    assert_eq!(stored, s.bytes().unwrap());
}

#[test]
fn marks_move_forward_only() {
    let t = tables(16);
    let s = store(&t, 16, 1 << 20);
    let scopes = vec!["u a /x".to_string(), "*".to_string()];
    assert_eq!(s.latest_mark(&scopes).unwrap(), 0);
    s.mark("u a /x", 50).unwrap();
    s.mark("u a /x", 40).unwrap();
    assert_eq!(s.latest_mark(&scopes).unwrap(), 50);
    s.mark("*", 70).unwrap();
    assert_eq!(s.latest_mark(&scopes).unwrap(), 70);
}

#[test]
fn leases_go_to_one_request() {
    let t = tables(16);
    let s = store(&t, 16, 1 << 20);
    s.put(&entry(1, 1, 1), 1000).unwrap();
    let f = s.lookup(&key(1)).unwrap().unwrap();
    assert!(s.take_lease(&f, 1005, 30).unwrap());
    let again = s.lookup(&key(1)).unwrap().unwrap();
    assert!(!s.take_lease(&again, 1006, 30).unwrap(), "held");
    assert!(s.take_lease(&again, 1036, 30).unwrap(), "expired");
}

/// Shared data as Envoy keeps it: a stale CAS token loses, so two workers never both
/// own a slot and the byte count stays exact.
#[test]
fn over_shared_data_a_stale_token_loses() {
    let host = MockHost::new();
    let shared = |p: &'static str| SharedSlots {
        host: &host,
        prefix: p,
    };
    let (meta, body, marks, account) = (shared("m/"), shared("b/"), shared("i/"), shared("n/"));
    for (t, n) in [(&meta, 16), (&body, 16), (&marks, 64), (&account, 1)] {
        create_slots(t, n).unwrap();
    }
    let s = Store {
        meta: &meta,
        body: &body,
        marks: &marks,
        account: &account,
        entries: 16,
        mark_slots: 64,
        max_bytes: 1 << 20,
    };
    s.put(&entry(1, 10, 60), 1000).unwrap();
    let stale = s.lookup(&key(1)).unwrap().unwrap();
    s.put(&entry(1, 12, 60), 1001).unwrap();
    // A touch with the old token changes nothing.
    s.touch(&stale, 1002).unwrap();
    let now = s.lookup(&key(1)).unwrap().unwrap();
    assert_eq!(now.meta.last_used, 1001);
    assert!(!s.take_lease(&stale, 1002, 5).unwrap());
    assert_eq!(s.bytes().unwrap(), now.meta.size);
}

#[test]
fn a_failing_store_is_an_error() {
    let host = MockHost::new().failing(
        "proxy_get_shared_data",
        tollgate_kit::Status::InternalFailure,
    );
    let shared = SharedSlots {
        host: &host,
        prefix: "m/",
    };
    let s = Store {
        meta: &shared,
        body: &shared,
        marks: &shared,
        account: &shared,
        entries: 16,
        mark_slots: 64,
        max_bytes: 1 << 20,
    };
    assert!(s.lookup(&key(1)).is_err());
    assert!(s.put(&entry(1, 1, 1), 1).is_err());
    assert!(s.mark("*", 1).is_err());
    assert!(s.latest_mark(&["*".into()]).is_err());
}
