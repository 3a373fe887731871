use super::*;

fn waiter(context_id: u32, provider: usize, own_fetch: bool) -> Waiter<u32> {
    Waiter {
        context_id,
        own_fetch,
        provider,
        fetched_at: 100,
        deadline: 2_000,
        stream: context_id,
    }
}

fn at(now: u64, finished: Option<usize>, current: Option<u32>, switches: bool) -> Occasion {
    Occasion {
        now,
        finished,
        current,
        switches,
    }
}

#[test]
fn on_envoy_a_finished_fetch_wakes_its_providers_waiters_from_anywhere() {
    let w = waiter(7, 0, false);
    assert!(w.ready(&at(1_000, Some(0), None, true), 100));
    assert!(
        !w.ready(&at(1_000, Some(1), None, true), 100),
        "another provider"
    );
    assert!(
        !w.ready(&at(1_000, None, None, true), 100),
        "nothing happened"
    );
    assert!(
        w.ready(&at(1_000, None, None, true), 150),
        "newer keys (another worker)"
    );
    assert!(
        w.ready(&at(2_000, None, None, true), 100),
        "the wait ran out"
    );
    assert!(!w.ready(&at(1_999, None, None, true), 100));
}

#[test]
fn without_context_switching_only_the_streams_own_callbacks_act() {
    let own = waiter(7, 0, true);
    assert!(
        !own.ready(&at(1_000, Some(0), None, false), 100),
        "not from the root"
    );
    assert!(
        !own.ready(&at(1_000, Some(0), Some(8), false), 100),
        "not from another stream"
    );
    assert!(
        own.ready(&at(1_000, None, Some(7), false), 100),
        "its own callout answered"
    );
    let other = waiter(9, 0, false);
    assert!(!other.ready(&at(1_000, None, Some(9), false), 100));
    assert!(other.ready(&at(1_000, None, Some(9), false), 150));
    assert!(
        !other.ready(&at(5_000, None, None, false), 100),
        "never from the root"
    );
}

#[test]
fn take_ready_keeps_the_rest_in_order_and_drops_the_gone() {
    let mut waiters = Waiters::default();
    for (id, provider) in [(1, 0), (2, 1), (3, 0), (4, 0)] {
        waiters.hold(waiter(id, provider, false));
    }
    assert_eq!(waiters.len(), 4);
    let ready = waiters.take_ready(&at(1_000, Some(0), None, true), |_| 100, |s| *s != 3);
    let ids: Vec<u32> = ready.iter().map(|w| w.context_id).collect();
    assert_eq!(ids, [1, 4]);
    assert_eq!(waiters.len(), 1, "provider 1's waiter stays");
    let ready = waiters.take_ready(&at(3_000, None, None, true), |_| 100, |_| true);
    assert_eq!(ready.len(), 1);
    assert!(waiters.is_empty());
}
