use tollgate_kit::slots::MemorySlots;

use super::*;

fn key(n: u8, slot: u32) -> KeyHash {
    let mut k = [n; 32];
    k[4..8].copy_from_slice(&slot.to_le_bytes());
    k
}

#[test]
fn the_first_miss_fills_and_the_others_wait() {
    let locks = MemorySlots::new(LOCKS);
    let k = key(1, 7);
    assert_eq!(claim(&locks, &k, 100, 50), Ok(Claim::Leader));
    assert_eq!(
        claim(&locks, &k, 120, 50),
        Ok(Claim::Wait { until_ns: 150 })
    );
    assert_eq!(filling(&locks, &k, 120), Ok(true));
    assert_eq!(filling(&locks, &k, 150), Ok(false), "the deadline passed");
    // Another key in the same slot goes alone while the lock lives.
    let other = key(2, 7 + LOCKS);
    assert_eq!(claim(&locks, &other, 120, 50), Ok(Claim::Alone));
    assert_eq!(filling(&locks, &other, 120), Ok(false));
    release(&locks, &other).unwrap();
    assert_eq!(
        filling(&locks, &k, 120),
        Ok(true),
        "not another key's to release"
    );
    release(&locks, &k).unwrap();
    assert_eq!(filling(&locks, &k, 120), Ok(false));
    assert_eq!(
        claim(&locks, &other, 121, 50),
        Ok(Claim::Leader),
        "free again"
    );
}

#[test]
fn an_expired_lock_is_taken_over() {
    let locks = MemorySlots::new(LOCKS);
    let k = key(1, 3);
    assert_eq!(claim(&locks, &k, 100, 50), Ok(Claim::Leader));
    assert_eq!(claim(&locks, &key(2, 3), 200, 50), Ok(Claim::Leader));
    assert_eq!(claim(&locks, &k, 210, 50), Ok(Claim::Alone));
}

#[test]
fn keys_in_other_slots_fill_at_once() {
    let locks = MemorySlots::new(LOCKS);
    assert_eq!(claim(&locks, &key(1, 5), 100, 50), Ok(Claim::Leader));
    assert_eq!(claim(&locks, &key(2, 6), 100, 50), Ok(Claim::Leader));
    assert_eq!(claim(&locks, &key(3, 7), 100, 50), Ok(Claim::Leader));
}

#[test]
fn a_lock_ends_at_its_deadline() {
    let locks = MemorySlots::new(LOCKS);
    let k = key(1, 9);
    assert_eq!(claim(&locks, &k, 100, 50), Ok(Claim::Leader));
    assert_eq!(
        claim(&locks, &k, 149, 50),
        Ok(Claim::Wait { until_ns: 150 })
    );
    assert_eq!(claim(&locks, &key(2, 9), 149, 50), Ok(Claim::Alone));
    assert_eq!(
        claim(&locks, &key(2, 9), 150, 50),
        Ok(Claim::Leader),
        "expired exactly then"
    );
    assert_eq!(
        claim(&locks, &key(2, 9), 151, 50),
        Ok(Claim::Wait { until_ns: 200 })
    );
    assert_eq!(
        claim(&locks, &k, 200, 50),
        Ok(Claim::Leader),
        "the other's lock ended too"
    );
}

#[test]
fn its_own_key_expires_at_the_deadline_too() {
    let locks = MemorySlots::new(LOCKS);
    let k = key(4, 11);
    assert_eq!(claim(&locks, &k, 100, 50), Ok(Claim::Leader));
    assert_eq!(
        claim(&locks, &k, 150, 50),
        Ok(Claim::Leader),
        "a fill that ran out is taken over"
    );
}
