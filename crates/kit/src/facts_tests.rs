use super::*;
use crate::mock::MockHost;

#[test]
fn each_host_is_told_apart_by_its_behaviour() {
    assert_eq!(HostFacts::detect(&MockHost::new()).kind, HostKind::Envoy);
    assert_eq!(HostFacts::detect(&MockHost::kong()).kind, HostKind::Kong);
    assert_eq!(
        HostFacts::detect(&MockHost::apisix()).kind,
        HostKind::Apisix
    );
}

#[test]
fn only_envoy_switches_context_and_only_kong_cannot_remove_headers() {
    let [envoy, kong, apisix] =
        [HostKind::Envoy, HostKind::Kong, HostKind::Apisix].map(HostFacts::of);
    assert!(envoy.switches_context());
    assert!(!kong.switches_context() && !apisix.switches_context());
    assert!(envoy.removes_request_headers() && apisix.removes_request_headers());
    assert!(!kong.removes_request_headers());
}

#[test]
fn authority_and_handoff_property_follow_the_host() {
    let [envoy, kong, apisix] =
        [HostKind::Envoy, HostKind::Kong, HostKind::Apisix].map(HostFacts::of);
    assert_eq!(envoy.authority_header(), ":authority");
    assert_eq!(kong.authority_header(), "host");
    assert_eq!(apisix.authority_header(), "host");
    assert_eq!(envoy.stream_property("p"), ["p"]);
    assert_eq!(kong.stream_property("p"), ["wasmx", "p"]);
    assert_eq!(apisix.stream_property("p"), ["p"]);
    assert_eq!(HostFacts::default().kind, HostKind::Envoy);
}

#[test]
fn a_failing_clock_is_not_taken_for_apisix() {
    use crate::types::Status;
    // Only "no such hostcall" means APISIX; a clock that fails otherwise is Kong's.
    let kong = MockHost::kong().failing(
        "proxy_get_current_time_nanoseconds",
        Status::InternalFailure,
    );
    assert_eq!(HostFacts::detect(&kong).kind, HostKind::Kong);
}

#[test]
fn hosts_are_named_for_logs() {
    let names =
        [HostKind::Envoy, HostKind::Kong, HostKind::Apisix].map(|k| HostFacts::of(k).name());
    assert_eq!(names, ["Envoy", "Kong", "APISIX"]);
}

#[test]
fn only_apisix_workers_share_no_data() {
    assert!(HostFacts::of(HostKind::Envoy).shares_data());
    assert!(HostFacts::of(HostKind::Kong).shares_data());
    assert!(!HostFacts::of(HostKind::Apisix).shares_data());
}

#[test]
fn only_envoy_answers_grpc_callouts() {
    assert!(HostFacts::of(HostKind::Envoy).grpc_callouts());
    assert!(!HostFacts::of(HostKind::Kong).grpc_callouts());
    assert!(!HostFacts::of(HostKind::Apisix).grpc_callouts());
}
