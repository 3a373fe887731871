use super::*;

const P: RemotePolicy = RemotePolicy {
    cache_ms: 600_000,
    timeout_ms: 2_000,
    kid_refetch_interval_ms: 30_000,
    max_stale_ms: 3_600_000,
    backoff_base_ms: 1_000,
    backoff_max_ms: 60_000,
};

fn keys() -> Rc<KeySet> {
    Rc::new(KeySet::default())
}

#[test]
fn first_fetch_then_background_refresh_before_expiry() {
    let mut s = RemoteState::default();
    assert_eq!(s.need(0, &P), Some(Need::Initial));
    s.started(0, &P);
    assert_eq!(s.need(100, &P), None, "one fetch at a time");
    assert!(s.adopt(keys(), 500));
    assert_eq!(s.need(1_000, &P), None);
    // 80% of the cache time: refresh while the keys are still good.
    assert_eq!(s.need(500 + 480_000, &P), Some(Need::Refresh));
    assert!(s.keys(500 + 480_000, &P).is_some());
}

#[test]
fn failures_keep_the_last_good_keys_and_back_off() {
    let mut s = RemoteState::default();
    s.adopt(keys(), 1);
    let t = 600_000;
    s.started(t, &P);
    assert_eq!(s.failed(t, &P), t + 1_000);
    assert_eq!(s.need(t + 999, &P), None);
    s.started(t + 1_000, &P);
    assert_eq!(s.failed(t + 1_000, &P), t + 1_000 + 2_000);
    s.started(t + 3_000, &P);
    assert_eq!(s.failed(t + 3_000, &P), t + 3_000 + 4_000);
    // Each round fails when its backoff ends.
    let mut at = t + 7_000;
    for _ in 0..30 {
        at = s.failed(at, &P);
    }
    assert_eq!(s.failed(at, &P), at + 60_000, "backoff is capped");
    // Keys outlive their cache time while fetches fail, up to max_stale.
    assert!(s.keys(1 + 600_000 + 3_600_000, &P).is_some());
    assert!(s.keys(2 + 600_000 + 3_600_000, &P).is_none());
    assert_eq!(s.failures(), 34);
}

#[test]
fn a_lost_callout_does_not_wedge_the_state() {
    let mut s = RemoteState::default();
    s.started(0, &P);
    assert!(s.in_flight(2_999));
    assert_eq!(s.need(3_000, &P), Some(Need::Initial));
}

#[test]
fn unknown_kid_refetch_is_rate_limited() {
    let mut s = RemoteState::default();
    s.adopt(keys(), 1_000);
    assert!(s.unknown_kid(2_000, &P));
    assert_eq!(s.need(2_000, &P), Some(Need::UnknownKid));
    s.started(2_000, &P);
    assert!(s.unknown_kid(2_500, &P), "waits for the fetch in flight");
    s.adopt(keys(), 2_600);
    assert!(
        !s.unknown_kid(10_000, &P),
        "within the interval: no refetch"
    );
    assert_eq!(s.need(10_000, &P), None);
    assert!(s.unknown_kid(32_000, &P));
}

#[test]
fn older_keys_from_another_worker_are_ignored() {
    let mut s = RemoteState::default();
    assert!(s.adopt(keys(), 5_000));
    assert!(!s.adopt(keys(), 4_000));
    assert!(!s.adopt(keys(), 5_000));
    assert_eq!(s.fetched_at(), 5_000);
}

#[test]
fn deferring_to_another_worker() {
    let mut s = RemoteState::default();
    s.defer(4_000);
    assert_eq!(s.need(3_999, &P), None);
    assert_eq!(s.need(4_000, &P), Some(Need::Initial));
}

#[test]
fn failures_counted_by_other_workers_lengthen_the_backoff() {
    let mut s = RemoteState::default();
    s.adopt(keys(), 1);
    s.set_failures(3);
    s.set_failures(1);
    assert_eq!(s.failures(), 3, "never lowered");
    // The fourth failure backs off 2^3 s.
    assert_eq!(s.failed(10_000, &P), 10_000 + 8_000);
}

#[test]
fn failures_of_one_round_do_not_compound_the_backoff() {
    let p = P;
    let mut s = RemoteState::default();
    let first = s.failed(1_000, &p);
    // Three more streams' fetches of the same round fail within the backoff.
    for at in [1_001, 1_002, 1_003] {
        assert_eq!(s.failed(at, &p), first);
    }
    assert_eq!(s.failures(), 1);
    // The next round's failure doubles it.
    let second = s.failed(first, &p);
    assert_eq!(second - first, 2 * (first - 1_000));
}

#[test]
fn a_failure_while_deferring_to_another_worker_still_counts() {
    let mut s = RemoteState::default();
    // Another worker held the fetch until 5_000; ours, started anyway, fails before that.
    s.defer(5_000);
    s.failed(1_000, &P);
    assert_eq!(s.failures(), 1);
}
