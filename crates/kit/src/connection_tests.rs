use super::*;
use crate::mock::MockHost;

#[test]
fn envoy_and_kong_read_attributes() {
    let host = MockHost::new()
        .with_property(&["source", "address"], b"10.0.0.1:4000")
        .with_property(&["destination", "address"], b"10.0.0.2:80")
        .with_property(&["request", "protocol"], b"HTTP/1.1");
    for kind in [HostKind::Envoy, HostKind::Kong] {
        let f = HostFacts::of(kind);
        assert_eq!(peer(&host, f).as_deref(), Some("10.0.0.1:4000"));
        assert_eq!(local(&host, f).as_deref(), Some("10.0.0.2:80"));
        assert_eq!(protocol(&host, f).as_deref(), Some("HTTP/1.1"));
    }
}

#[test]
fn apisix_joins_nginx_variables() {
    let f = HostFacts::of(HostKind::Apisix);
    let host = MockHost::new()
        .with_property(&["remote_addr"], b"::1")
        .with_property(&["remote_port"], b"5000")
        .with_property(&["server_addr"], b"127.0.0.1")
        .with_property(&["server_protocol"], b"HTTP/1.0");
    assert_eq!(peer(&host, f).as_deref(), Some("[::1]:5000"));
    assert_eq!(local(&host, f).as_deref(), Some("127.0.0.1"));
    assert_eq!(protocol(&host, f).as_deref(), Some("HTTP/1.0"));
    assert_eq!(
        peer(&MockHost::new().with_property(&["remote_addr"], b""), f),
        None
    );
}
