//! Native tests of the glue over `MockHost`: one header read, the decision applied, the
//! body held and framed, refusals logged and counted.

use super::*;
use std::time::{Duration, UNIX_EPOCH};
use tollgate_kit::mock::MockHost;

const CONFIG: &str = r#"{"hcp_domain": "hcp.test", "trusted_payload_header": "x-p",
    "token_cookie": "hcp_token",
    "s3": {"sign_body": true, "max_body_bytes": 16},
    "routes": [{"match": {"prefix": "/health"}, "mode": "passthrough"},
               {"match": {"prefix": "/mapi/"}, "mode": "management"},
               {"match": {"prefix": "/"}, "mode": "s3"}]}"#;
const CLAIMS: &[u8] = br#"{"username": "alice", "password": "pw", "tenant": "acme"}"#;

fn host(method: &str, path: &str, extra: &[(&str, &str)], claims: Option<&[u8]>) -> MockHost {
    let mut headers = vec![(":method", method), (":path", path), (":authority", "edge")];
    headers.extend_from_slice(extra);
    let host = MockHost::new()
        .with_headers(MapKind::RequestHeaders, &headers)
        .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    match claims {
        Some(c) => host.with_property(&[CREDENTIALS_PROPERTY], c),
        None => host,
    }
}

fn stream(host: &MockHost) -> Box<dyn StreamFilter> {
    let mut root = HcpAuthRoot::default();
    root.on_configure(host, CONFIG.as_bytes()).unwrap();
    root.new_stream(host, 2).unwrap()
}

fn header(host: &MockHost, name: &str) -> Option<String> {
    host.state.borrow().maps[&MapKind::RequestHeaders]
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Runs a stream on `host` and checks that it was refused with `status` and `code`;
/// returns the stream and the reply for further checks.
fn assert_refused(
    host: &MockHost,
    status: u32,
    code: &str,
) -> (Box<dyn StreamFilter>, tollgate_kit::mock::RecordedReply) {
    let mut s = stream(host);
    assert_eq!(
        s.on_request_headers(host, 4, true),
        HeadersAction::StopIteration
    );
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert_eq!(reply.status, status);
    let body = String::from_utf8(reply.body.clone()).unwrap();
    assert!(body.contains(code), "{body}");
    (s, reply)
}

fn metric(host: &MockHost, name: &str) -> u64 {
    let state = host.state.borrow();
    state
        .metrics
        .values()
        .find(|(_, n, _)| n == name)
        .map_or(0, |(_, _, v)| *v)
}

#[test]
fn a_bad_config_is_refused_and_yields_no_streams() {
    let host = MockHost::new();
    let mut root = HcpAuthRoot::default();
    let err = root
        .on_configure(&host, br#"{"hcp_domain": ""}"#)
        .unwrap_err();
    assert!(
        err.contains("trusted_payload_header") || err.contains("hcp_domain"),
        "{err}"
    );
    assert!(root.new_stream(&host, 2).is_none());
}

#[test]
fn management_requests_get_the_hcp_header_and_the_tenant_host() {
    let host = host(
        "GET",
        "/mapi/tenants",
        &[("cookie", "hcp_token=t; a=1")],
        Some(CLAIMS),
    );
    let mut s = stream(&host);
    assert_eq!(
        s.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    assert_eq!(
        header(&host, ":authority").as_deref(),
        Some("acme.hcp.test")
    );
    assert!(
        header(&host, "authorization")
            .unwrap()
            .starts_with("HCP YWxpY2U=:")
    );
    assert_eq!(header(&host, "cookie").as_deref(), Some("a=1"));
    assert_eq!(metric(&host, "hcp_auth.management"), 1);
    assert_eq!(s.on_request_body(&host, 3, true), BodyAction::Continue);
    assert_eq!(s.on_request_trailers(&host, 0), TrailersAction::Continue);
}

#[test]
fn refusals_are_json_logged_at_debug_and_counted_without_values() {
    let bad = br#"{"username": "alice", "password": "pw", "tenant": "ac me"}"#;
    let host = host("GET", "/mapi/tenants", &[], Some(bad));
    let (mut s, reply) = assert_refused(&host, 401, "tenant_invalid");
    assert!(
        reply
            .headers
            .iter()
            .any(|(k, v)| k == "www-authenticate" && v.contains("tenant_invalid"))
    );
    let logs = host.state.borrow().logs.clone();
    assert!(logs.contains(&(
        LogLevel::Debug,
        "hcp-auth: denied 401 tenant_invalid (mode management)".into()
    )));
    assert!(!format!("{logs:?}").contains("ac me") && !format!("{logs:?}").contains("pw"));
    assert_eq!(metric(&host, "hcp_auth.denied.tenant_invalid"), 1);
    // After a refusal nothing more goes through.
    assert_eq!(s.on_request_body(&host, 3, true), BodyAction::StopNoBuffer);
    assert_eq!(
        s.on_request_trailers(&host, 0),
        TrailersAction::StopIteration
    );
}

#[test]
fn a_bad_path_is_refused_with_400_and_no_www_authenticate() {
    let host = host("GET", "/mapi%2f..%2fx", &[], Some(CLAIMS));
    let mut s = stream(&host);
    assert_eq!(
        s.on_request_headers(&host, 3, true),
        HeadersAction::StopIteration
    );
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert_eq!(reply.status, 400);
    assert!(!reply.headers.iter().any(|(k, _)| k == "www-authenticate"));
}

#[test]
fn passthrough_needs_no_credentials_and_normalizes_the_path() {
    let host = host(
        "GET",
        "/health//live",
        &[("authorization", "Bearer x")],
        None,
    );
    let mut s = stream(&host);
    assert_eq!(
        s.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    assert_eq!(header(&host, ":path").as_deref(), Some("/health/live"));
    assert_eq!(header(&host, "authorization"), None);
    assert_eq!(metric(&host, "hcp_auth.passthrough"), 1);
}

#[test]
fn signed_bodies_are_held_hashed_and_framed() {
    let host = host(
        "PUT",
        "/b/k",
        &[("transfer-encoding", "chunked")],
        Some(CLAIMS),
    );
    let mut s = stream(&host);
    assert_eq!(
        s.on_request_headers(&host, 4, false),
        HeadersAction::StopIteration
    );
    assert_eq!(
        host.state
            .borrow()
            .properties
            .get(&vec!["wasm_process_req_body".to_string()]),
        Some(&b"true".to_vec()),
        "asks APISIX for body callbacks"
    );
    assert_eq!(
        s.on_request_body(&host, 5, false),
        BodyAction::StopAndBuffer
    );
    host.state
        .borrow_mut()
        .buffers
        .insert(BufferKind::HttpRequestBody, b"hello world".to_vec());
    assert_eq!(s.on_request_body(&host, 11, true), BodyAction::Continue);
    assert_eq!(
        header(&host, "x-amz-content-sha256"),
        Some(sha256_hex(b"hello world"))
    );
    assert_eq!(header(&host, "content-length").as_deref(), Some("11"));
    assert_eq!(header(&host, "transfer-encoding"), None);
    assert!(
        header(&host, "authorization")
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256")
    );
    assert_eq!(s.on_request_trailers(&host, 0), TrailersAction::Continue);
}

#[test]
fn a_body_that_ends_with_trailers_is_signed_then() {
    let host = host("PUT", "/b/k", &[], Some(CLAIMS));
    let mut s = stream(&host);
    assert_eq!(
        s.on_request_headers(&host, 3, false),
        HeadersAction::StopIteration
    );
    host.state
        .borrow_mut()
        .buffers
        .insert(BufferKind::HttpRequestBody, b"abc".to_vec());
    assert_eq!(
        s.on_request_body(&host, 3, false),
        BodyAction::StopAndBuffer
    );
    assert_eq!(s.on_request_trailers(&host, 1), TrailersAction::Continue);
    assert_eq!(
        header(&host, "x-amz-content-sha256"),
        Some(sha256_hex(b"abc"))
    );
    assert_eq!(header(&host, "content-length").as_deref(), Some("3"));
}

#[test]
fn oversized_bodies_get_413_by_declaration_or_by_size() {
    let declared = host("PUT", "/b/k", &[("content-length", "17")], Some(CLAIMS));
    let mut s = stream(&declared);
    assert_eq!(
        s.on_request_headers(&declared, 4, false),
        HeadersAction::StopIteration
    );
    assert_eq!(
        declared.state.borrow().local_reply.as_ref().unwrap().status,
        413
    );
    // Exactly the limit is fine.
    let exact = host("PUT", "/b/k", &[("content-length", "16")], Some(CLAIMS));
    let mut s = stream(&exact);
    assert_eq!(
        s.on_request_headers(&exact, 4, false),
        HeadersAction::StopIteration
    );
    assert!(exact.state.borrow().local_reply.is_none());
    exact
        .state
        .borrow_mut()
        .buffers
        .insert(BufferKind::HttpRequestBody, vec![1; 16]);
    assert_eq!(s.on_request_body(&exact, 16, true), BodyAction::Continue);
    // Growing past it while streaming.
    let grown = host("PUT", "/b/k", &[], Some(CLAIMS));
    let mut s = stream(&grown);
    assert_eq!(
        s.on_request_headers(&grown, 3, false),
        HeadersAction::StopIteration
    );
    assert_eq!(
        s.on_request_body(&grown, 17, false),
        BodyAction::StopNoBuffer
    );
    assert_eq!(
        grown.state.borrow().local_reply.as_ref().unwrap().status,
        413
    );
}

#[test]
fn missing_credentials_do_not_wait_for_the_body() {
    let host = host("PUT", "/b/k", &[], None);
    let mut s = stream(&host);
    assert_eq!(
        s.on_request_headers(&host, 3, false),
        HeadersAction::StopIteration
    );
    assert_eq!(
        host.state.borrow().local_reply.as_ref().unwrap().status,
        401
    );
}

#[test]
fn without_a_clock_the_filter_fails_closed() {
    let host = MockHost::without(&["proxy_get_current_time_nanoseconds"])
        .with_headers(
            MapKind::RequestHeaders,
            &[(":method", "GET"), (":path", "/mapi/x")],
        )
        .with_property(&[CREDENTIALS_PROPERTY], CLAIMS);
    let mut s = stream(&host);
    assert_eq!(
        s.on_request_headers(&host, 3, true),
        HeadersAction::StopIteration
    );
    assert_eq!(
        host.state.borrow().local_reply.as_ref().unwrap().status,
        500
    );
}

#[test]
fn the_payload_header_alone_is_no_credentials() {
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(CLAIMS);
    let host = host("GET", "/mapi/x", &[("x-p", &payload)], None);
    assert_refused(&host, 401, "credentials_missing");
}

/// A `GET /mapi/x` on a Kong-like host, with the credentials where Kong keeps them.
fn kong_host(base: MockHost, extra: &[(&str, &str)]) -> MockHost {
    let mut headers = vec![(":method", "GET"), (":path", "/mapi/x"), ("host", "edge")];
    headers.extend_from_slice(extra);
    base.with_headers(MapKind::RequestHeaders, &headers)
        .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .with_property(&["wasmx", CREDENTIALS_PROPERTY], CLAIMS)
}

#[test]
fn on_kong_the_tenant_goes_in_host_and_the_payload_header_is_emptied() {
    let host = kong_host(MockHost::kong(), &[("x-p", "eyJ9")]);
    let mut s = stream(&host);
    assert_eq!(
        s.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    assert_eq!(header(&host, "host").as_deref(), Some("acme.hcp.test"));
    assert_eq!(header(&host, ":authority"), None, "never written on Kong");
    assert_eq!(header(&host, "x-p").as_deref(), Some(""));
    assert!(
        header(&host, "authorization")
            .unwrap()
            .starts_with("HCP YWxpY2U=:")
    );
}

#[test]
fn a_host_that_ignores_the_authority_write_fails_closed() {
    let host = kong_host(MockHost::kong().ignoring_writes_to("host"), &[]);
    let mut s = stream(&host);
    assert_eq!(
        s.on_request_headers(&host, 3, true),
        HeadersAction::StopIteration
    );
    assert_eq!(
        host.state.borrow().local_reply.as_ref().unwrap().status,
        500
    );
}

#[test]
fn on_kong_two_authorization_headers_are_refused() {
    let two = [("authorization", "a"), ("authorization", "b")];
    let host = kong_host(MockHost::kong(), &two);
    assert_refused(&host, 400, "header_not_removable");
}

#[test]
fn on_kong_a_second_host_header_does_not_stop_tenant_routing() {
    // nginx sends `Host` from the first copy (which the filter rewrites), never the
    // client's others: nothing to refuse.
    let host = kong_host(MockHost::kong(), &[("host", "other")]);
    let mut s = stream(&host);
    assert_eq!(
        s.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    assert_eq!(header(&host, "host").as_deref(), Some("acme.hcp.test"));
}

#[test]
fn on_apisix_a_rewritten_target_goes_in_as_nginx_keeps_it() {
    let headers = [
        (":method", "GET"),
        (":path", "/mapi//x%20y?a=1"),
        ("host", "edge"),
    ];
    let host = MockHost::apisix()
        .with_headers(MapKind::RequestHeaders, &headers)
        .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .with_property(&[CREDENTIALS_PROPERTY], CLAIMS);
    let mut s = stream(&host);
    assert_eq!(
        s.on_request_headers(&host, 3, true),
        HeadersAction::Continue
    );
    // The path decoded (nginx escapes it again), the query in `$args`.
    assert_eq!(header(&host, ":path").as_deref(), Some("/mapi/x y"));
    assert_eq!(
        host.property(&["args"]).unwrap().as_deref(),
        Some(&b"a=1"[..])
    );
}
