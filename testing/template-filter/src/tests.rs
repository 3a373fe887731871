use tollgate_kit::mock::MockHost;

use super::*;

#[test]
fn requests_without_the_header_are_refused() {
    let mut root = Root::default();
    let host = MockHost::new();
    root.on_configure(&host, br#"{"header": "x-api-key"}"#)
        .unwrap();
    let mut stream = root.new_stream(&host, 2).unwrap();
    assert_eq!(
        stream.on_request_headers(&host, 0, true),
        HeadersAction::StopIteration
    );
    assert_eq!(
        host.state.borrow().local_reply.as_ref().unwrap().status,
        400
    );
    let host = MockHost::new().with_headers(MapKind::RequestHeaders, &[("x-api-key", "k")]);
    let mut stream = root.new_stream(&host, 3).unwrap();
    assert_eq!(
        stream.on_request_headers(&host, 1, true),
        HeadersAction::Continue
    );
    let err = root.on_configure(&host, br#"{"header": "X"}"#).unwrap_err();
    assert!(err.contains("`header`"), "{err}");
}
