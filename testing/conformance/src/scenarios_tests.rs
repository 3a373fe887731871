//! Unit tests of `scenarios`.

use super::*;
use tollgate_kit::mock::MockHost;

fn record() -> Record {
    Record::new("t")
}

#[test]
fn scenarios_from_paths() {
    assert_eq!(
        Scenario::from_path("/conformance/headers?x=1"),
        Scenario::Headers
    );
    assert_eq!(
        Scenario::from_path("/conformance/report/abc"),
        Scenario::Report("abc".into())
    );
    assert_eq!(Scenario::from_path("/other"), Scenario::Pass);
    assert_eq!(Scenario::from_path("/conformance/unknown"), Scenario::Pass);
}

#[test]
fn headers_scenario_mutates_the_map() {
    let host = MockHost::new().with_headers(
        MapKind::RequestHeaders,
        &[
            (":path", "/conformance/headers"),
            ("x-probe", "p"),
            ("x-remove-me", "bye"),
        ],
    );
    let pairs = host.header_pairs(MapKind::RequestHeaders).unwrap();
    let mut rec = record();
    assert_eq!(headers(&host, &mut rec, &pairs), HeadersAction::Continue);
    let after = host.header_pairs(MapKind::RequestHeaders).unwrap();
    assert!(after.contains(&("x-probe".into(), "replaced".into())));
    assert!(!after.iter().any(|(n, _)| n == "x-remove-me"));
    assert_eq!(after.iter().filter(|(n, _)| n == "x-added").count(), 2);
}

#[test]
fn shared_scenario_sees_cas_mismatch() {
    let host = MockHost::new();
    let mut rec = record();
    shared(&host, &mut rec);
    let ev = &rec.events[0];
    assert_eq!(ev["set_with_stale_cas"], "CasMismatch");
    assert_eq!(ev["value_after"], "v2");
}

#[test]
fn apisix_gaps_degrade_without_panicking() {
    let host = MockHost::apisix();
    let mut rec = record();
    shared(&host, &mut rec);
    queue(&host, &mut rec);
    assert_eq!(rec.events[0]["set"], "Unimplemented");
    assert_eq!(rec.events[1]["resolve"]["Err"], "Unimplemented");
}

#[test]
fn local_reply_stops_the_stream() {
    let host = MockHost::new();
    let mut rec = record();
    assert_eq!(local(&host, &mut rec), HeadersAction::StopIteration);
    assert_eq!(
        host.state.borrow().local_reply.as_ref().unwrap().status,
        403
    );
}
