use super::*;
use crate::facts::{HostFacts, HostKind};

fn headers(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| (n.to_string(), "v".to_string()))
        .collect()
}

#[test]
fn envoy_and_apisix_remove_every_copy() {
    for kind in [HostKind::Envoy, HostKind::Apisix] {
        let facts = HostFacts::of(kind);
        let h = headers(&["x-user", "X-User", "authorization"]);
        assert_eq!(plan(facts, &h, "x-user", Intent::Own), Removal::Remove);
        assert_eq!(plan(facts, &h, "x-user", Intent::Strip), Removal::Remove);
        assert_eq!(plan(facts, &h, "x-user", Intent::Replace), Removal::Proceed);
        assert_eq!(plan(facts, &h, "absent", Intent::Own), Removal::Proceed);
    }
}

#[test]
fn kong_blanks_one_copy_and_refuses_what_it_cannot_reach() {
    let kong = HostFacts::of(HostKind::Kong);
    let one = headers(&["authorization", "x-user"]);
    let two = headers(&["Authorization", "authorization"]);
    assert_eq!(
        plan(kong, &one, "authorization", Intent::Strip),
        Removal::Blank
    );
    assert_eq!(
        plan(kong, &two, "authorization", Intent::Strip),
        Removal::Refuse
    );
    assert_eq!(plan(kong, &one, "x-user", Intent::Own), Removal::Refuse);
    assert_eq!(plan(kong, &one, "x-other", Intent::Own), Removal::Proceed);
    assert_eq!(
        plan(kong, &one, "authorization", Intent::Replace),
        Removal::Proceed
    );
    assert_eq!(
        plan(kong, &two, "authorization", Intent::Replace),
        Removal::Refuse
    );
}

#[test]
fn kong_removes_what_nginx_writes_itself() {
    let kong = HostFacts::of(HostKind::Kong);
    let h = headers(&["Transfer-Encoding", "transfer-encoding"]);
    assert_eq!(
        plan(kong, &h, "transfer-encoding", Intent::Strip),
        Removal::Remove
    );
    assert_eq!(
        plan(kong, &h, "transfer-encoding", Intent::Own),
        Removal::Remove
    );
    assert!(refused_message("x-user").contains("`x-user`"));
}

#[test]
fn take_out_removes_blanks_or_leaves_alone() {
    use crate::Host as _;
    use crate::mock::MockHost;
    use crate::types::MapKind;
    let host = MockHost::new().with_headers(
        MapKind::RequestHeaders,
        &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")],
    );
    take_out(&host, "a", Removal::Remove).unwrap();
    take_out(&host, "b", Removal::Blank).unwrap();
    take_out(&host, "c", Removal::Proceed).unwrap();
    take_out(&host, "d", Removal::Refuse).unwrap();
    let pairs = host.header_pairs(MapKind::RequestHeaders).unwrap();
    let names: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(names, [("c", "3"), ("d", "4"), ("b", "")]);
}
