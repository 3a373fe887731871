use super::*;
use crate::mock::MockHost;

#[test]
fn nginx_keeps_the_path_decoded() {
    assert_eq!(nginx_uri("/a/b").as_deref(), Some("/a/b"));
    assert_eq!(nginx_uri("/a%20b/%C3%A9").as_deref(), Some("/a b/é"));
    assert_eq!(nginx_uri("/100%25").as_deref(), Some("/100%"));
    assert_eq!(nginx_uri("/bad%zz").as_deref(), Some("/bad%zz"));
    for cannot in ["/a%2Fb", "/a%5cb", "/a%00", "/a%0A", "/a%FF"] {
        assert_eq!(nginx_uri(cannot), None, "{cannot}");
    }
}

fn written(host: &MockHost) -> (Option<String>, Option<Vec<u8>>) {
    let path = host.header(MapKind::RequestHeaders, ":path").unwrap();
    let args = host.property(&["args"]).unwrap();
    (path, args)
}

#[test]
fn envoy_and_kong_take_the_whole_target_in_path() {
    for host in [MockHost::new(), MockHost::kong()] {
        let facts = HostFacts::detect(&host);
        set_request_target(&host, facts, "/a%20b?x=1").unwrap();
        assert_eq!(written(&host), (Some("/a%20b?x=1".into()), None));
    }
}

#[test]
fn apisix_takes_the_decoded_path_and_the_query_in_args() {
    let host = MockHost::apisix();
    let facts = HostFacts::detect(&host);
    set_request_target(&host, facts, "/a%20b?x=1&y").unwrap();
    assert_eq!(
        written(&host),
        (Some("/a b".into()), Some(b"x=1&y".to_vec()))
    );
    // No query: the old one goes.
    set_request_target(&host, facts, "/c").unwrap();
    assert_eq!(written(&host), (Some("/c".into()), Some(Vec::new())));
    let err = set_request_target(&host, facts, "/a%2Fb").unwrap_err();
    assert_eq!(err.status, Status::BadArgument);
}
