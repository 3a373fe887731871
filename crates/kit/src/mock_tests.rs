//! Unit tests of `mock`.

use super::*;

#[test]
fn apisix_gaps_are_errors_not_panics() {
    let host = MockHost::apisix();
    let e = host.shared_data("k").unwrap_err();
    assert!(e.is_unimplemented());
    assert!(
        host.set_tick_period(Duration::from_secs(1))
            .unwrap_err()
            .is_unimplemented()
    );
    assert!(host.header_pairs(MapKind::RequestHeaders).is_ok());
}

#[test]
fn shared_data_cas() {
    let host = MockHost::new();
    host.set_shared_data("k", Some(b"1"), None).unwrap();
    let v = host.shared_data("k").unwrap();
    assert_eq!(v.value.as_deref(), Some(&b"1"[..]));
    let cas = v.cas.unwrap();
    host.set_shared_data("k", Some(b"2"), Some(cas)).unwrap();
    let stale = host
        .set_shared_data("k", Some(b"3"), Some(cas))
        .unwrap_err();
    assert_eq!(stale.status, Status::CasMismatch);
}
