//! Slots and the seed over the mock host's shared data (CAS tokens as Envoy keeps them),
//! and what each hostcall failure becomes.

use crate::mock::MockHost;

use super::*;

const PREFIX: &str = "t/";

#[test]
fn shared_slots_read_write_and_lose_a_race() {
    let host = MockHost::new();
    let slots = SharedSlots {
        host: &host,
        prefix: PREFIX,
    };
    assert_eq!(slots.read(3), Ok(None), "never created");
    assert_eq!(slots.write(3, b"a", None), Ok(true));
    let (value, cas) = slots.read(3).unwrap().unwrap();
    assert_eq!(value, b"a");
    assert!(host.state.borrow().shared.contains_key("t/3"));
    assert_eq!(slots.write(3, b"b", cas), Ok(true));
    assert_eq!(slots.write(3, b"c", cas), Ok(false), "a stale token loses");
    assert_eq!(slots.read(3).unwrap().unwrap().0, b"b");
}

#[test]
fn other_failures_are_errors() {
    let host = MockHost::new()
        .failing("proxy_get_shared_data", Status::InternalFailure)
        .failing("proxy_set_shared_data", Status::BadArgument);
    let slots = SharedSlots {
        host: &host,
        prefix: PREFIX,
    };
    assert!(slots.read(1).unwrap_err().0.contains("InternalFailure"));
    assert!(
        slots
            .write(1, b"x", None)
            .unwrap_err()
            .0
            .contains("BadArgument")
    );
    let lost = MockHost::new().failing("proxy_set_shared_data", Status::CasMismatch);
    let slots = SharedSlots {
        host: &lost,
        prefix: PREFIX,
    };
    assert_eq!(slots.write(1, b"x", Some(1)), Ok(false));
}

#[test]
fn every_worker_gets_the_first_seed() {
    let host = MockHost::new();
    assert_eq!(shared_seed(&host, "seed", (1, 2)), Ok((1, 2)));
    assert_eq!(
        shared_seed(&host, "seed", (3, 4)),
        Ok((1, 2)),
        "the second keeps the first"
    );
    assert_eq!(host.state.borrow().shared["seed"].0.len(), 16);
}

#[test]
fn a_seed_that_cannot_be_stored_is_an_error_that_says_why() {
    let contended = MockHost::new().failing("proxy_set_shared_data", Status::CasMismatch);
    // Created empty first (an unconditional write, which this host also refuses).
    let e = shared_seed(&contended, "seed", (1, 2)).unwrap_err();
    assert!(
        e.0.contains("CasMismatch") || e.0.contains("contended"),
        "{}",
        e.0
    );
    let broken = MockHost::new().failing("proxy_get_shared_data", Status::InternalFailure);
    assert!(
        shared_seed(&broken, "seed", (1, 2))
            .unwrap_err()
            .0
            .contains("InternalFailure")
    );
    let unwritable = MockHost::new().failing("proxy_set_shared_data", Status::BadArgument);
    assert!(
        shared_seed(&unwritable, "seed", (1, 2))
            .unwrap_err()
            .0
            .contains("BadArgument")
    );
}

#[test]
fn a_lost_race_for_the_seed_reads_the_winner() {
    let host = MockHost::new();
    // An empty value exists (another worker created it); its fill loses to a write
    // that lands first: the token moved, so the next read finds the winner's seed.
    host.state
        .borrow_mut()
        .shared
        .insert("seed".into(), (Vec::new(), 7));
    let winner = [9u8; 16].to_vec();
    let slots = SharedSlots {
        host: &host,
        prefix: "",
    };
    assert_eq!(
        shared_seed(&host, "seed", (1, 2)),
        Ok((1, 2)),
        "an empty value is filled"
    );
    host.state
        .borrow_mut()
        .shared
        .insert("seed".into(), (winner, 8));
    let nine = u64::from_le_bytes([9; 8]);
    assert_eq!(shared_seed(&host, "seed", (1, 2)), Ok((nine, nine)));
    let _ = slots;
}

#[test]
fn memory_slots_hold_what_is_written() {
    let m = MemorySlots::new(2);
    assert_eq!(m.read(1), Ok(Some((Vec::new(), None))));
    assert_eq!(m.write(1, b"v", None), Ok(true));
    assert_eq!(m.read(1), Ok(Some((b"v".to_vec(), None))));
    assert!(m.read(2).is_err());
    assert!(m.write(2, b"v", None).is_err());
}

#[test]
fn filling_the_seed_retries_lost_races_and_reports_other_failures() {
    let empty = |host: MockHost| {
        host.state
            .borrow_mut()
            .shared
            .insert("seed".into(), (Vec::new(), 7));
        host
    };
    let always_lost = empty(MockHost::new().failing("proxy_set_shared_data", Status::CasMismatch));
    let e = shared_seed(&always_lost, "seed", (1, 2)).unwrap_err();
    assert!(e.0.contains("stayed contended"), "{}", e.0);
    let refused = empty(MockHost::new().failing("proxy_set_shared_data", Status::BadArgument));
    let e = shared_seed(&refused, "seed", (1, 2)).unwrap_err();
    assert!(e.0.contains("BadArgument"), "{}", e.0);
}

#[test]
fn an_absent_seed_is_created_empty_before_it_is_filled() {
    // Two workers that both find no seed must not both write theirs unconditionally:
    // the first write is an empty value, the fill is a compare-and-swap.
    let host = MockHost::new();
    assert_eq!(shared_seed(&host, "seed", (1, 2)), Ok((1, 2)));
    let calls: Vec<&str> = host.state.borrow().hostcalls.clone();
    assert_eq!(
        calls,
        [
            "proxy_get_shared_data",
            "proxy_set_shared_data",
            "proxy_get_shared_data",
            "proxy_set_shared_data"
        ]
    );
}

#[test]
fn create_slots_creates_only_missing_ones() {
    let m = MemorySlots::new(3);
    assert_eq!(
        create_slots(&m, 3),
        Ok(0),
        "memory slots exist from the start"
    );
    let host = MockHost::new();
    let shared = SharedSlots {
        host: &host,
        prefix: "c/",
    };
    assert_eq!(shared.write(1, b"kept", None), Ok(true));
    assert_eq!(create_slots(&shared, 3), Ok(2));
    assert_eq!(shared.read(1).unwrap().unwrap().0, b"kept");
    assert_eq!(shared.read(0).unwrap().unwrap().0, b"");
    assert_eq!(create_slots(&shared, 3), Ok(0));
}

#[test]
fn unconditional_writes_work_on_kong_too() {
    // Kong's shm_kv refuses a write without a token over an existing key.
    let host = MockHost::kong();
    let slots = SharedSlots {
        host: &host,
        prefix: "k/",
    };
    assert_eq!(slots.write(0, b"a", None), Ok(true), "absent: created");
    assert!(
        host.set_shared_data("k/0", Some(b"raw"), None).is_err(),
        "the host refuses"
    );
    assert_eq!(
        slots.write(0, b"b", None),
        Ok(true),
        "written with the key's token"
    );
    assert_eq!(slots.read(0).unwrap().unwrap().0, b"b");
    let stale = slots.read(0).unwrap().unwrap().1;
    assert_eq!(slots.write(0, b"c", None), Ok(true));
    assert_eq!(
        slots.write(0, b"d", stale),
        Ok(false),
        "a stale token still loses"
    );
}

#[test]
fn creating_on_kong_leaves_another_workers_slot_and_seed_alone() {
    // Two workers configure at once: the second's create finds the slot (or the seed)
    // already there, and Kong refuses a token-less write over it.
    let host = MockHost::kong();
    let slots = SharedSlots {
        host: &host,
        prefix: "k/",
    };
    assert_eq!(slots.create(0, b""), Ok(true));
    assert_eq!(
        slots.write(0, b"bucket", slots.read(0).unwrap().unwrap().1),
        Ok(true)
    );
    assert_eq!(slots.create(0, b""), Ok(false), "exists: left alone");
    assert_eq!(slots.read(0).unwrap().unwrap().0, b"bucket");
    // A seed another worker created empty between this one's read and its create.
    host.state
        .borrow_mut()
        .shared
        .insert("seed".into(), (Vec::new(), 3));
    assert_eq!(shared_seed(&host, "seed", (5, 6)), Ok((5, 6)));
}
