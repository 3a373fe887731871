use std::time::Duration;

use super::*;
use crate::mock::MockHost;

#[test]
fn workers_get_distinct_ids_from_shared_data() {
    let host = MockHost::new();
    let ids: Vec<u64> = (0..3)
        .map(|_| worker_id(&host, "rate-limit").unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(worker_id(&host, "jwt-auth").unwrap(), 1, "per filter");
    // Kong refuses a write without a token to a key that exists: the id still comes.
    let kong = MockHost::kong();
    assert_eq!(worker_id(&kong, "f").unwrap(), 1);
    assert_eq!(worker_id(&kong, "f").unwrap(), 2);
    let none = MockHost::without(&["proxy_get_shared_data"]);
    assert!(worker_id(&none, "f").is_err());
}

#[test]
fn one_worker_holds_the_lease_until_it_runs_out() {
    let host = MockHost::new();
    let ttl = Duration::from_secs(30);
    let (a, b) = (Lease::new("f", 1, ttl), Lease::new("f", 2, ttl));
    assert!(a.hold(&host, 1_000));
    assert!(!b.hold(&host, 2_000), "held by 1");
    assert!(a.hold(&host, 20_000), "renewed by its holder");
    assert!(!b.hold(&host, 49_999), "renewal moved the end to 50 000");
    assert!(b.hold(&host, 50_000), "run out at its end: taken over");
    assert!(!a.hold(&host, 50_002));
}

#[test]
fn on_kong_the_lease_is_taken_with_its_token_and_without_shared_data_nobody_polls() {
    let kong = MockHost::kong();
    let ttl = Duration::from_secs(1);
    let a = Lease::new("f", 1, ttl);
    assert!(a.hold(&kong, 0));
    assert!(
        a.hold(&kong, 500),
        "renewing an existing key needs its token"
    );
    let apisix = MockHost::apisix();
    assert!(!Lease::new("f", 1, ttl).hold(&apisix, 0));
}

#[test]
fn a_write_that_keeps_losing_gives_up_and_other_errors_say_what_failed() {
    let racing =
        MockHost::new().failing("proxy_set_shared_data", crate::types::Status::CasMismatch);
    assert_eq!(
        worker_id(&racing, "f"),
        Err("shared data kept changing".into())
    );
    let broken = MockHost::new().failing(
        "proxy_set_shared_data",
        crate::types::Status::InternalFailure,
    );
    let e = worker_id(&broken, "f").unwrap_err();
    assert!(
        e.contains("proxy_set_shared_data") && !e.contains("kept changing"),
        "{e}"
    );
}
