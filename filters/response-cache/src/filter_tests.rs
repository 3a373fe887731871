//! The glue over `MockHost`: a miss collected across body chunks and stored in shared
//! data, the hit answered from the request phase, identities apart, a write that
//! invalidates, a 304 turned into the stored response, purges, the per-worker
//! fallback, and a failing store that never fails a request.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tollgate_kit::mock::{MockHost, RecordedReply};
use tollgate_kit::{BufferKind, Status};

use super::*;

const CONFIG: &str = r#"{"rules": [{"name": "all", "glob": "/mapi/**", "ttl_s": 60}],
  "purge": {"method": "PURGE", "claim": "roles", "value": "administrator"},
  "storage": {"max_entries": 16, "invalidation_marks": 64}}"#;

fn payload(user: &str, roles: &[&str]) -> String {
    URL_SAFE_NO_PAD.encode(
        serde_json::json!({"iss": "i", "sub": user, "tenant": "acme", "roles": roles}).to_string(),
    )
}

fn at(host: MockHost, secs: u64) -> MockHost {
    host.with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs))
}

fn set_time(host: &MockHost, secs: u64) {
    host.state.borrow_mut().now = Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs));
}

fn request(host: &MockHost, method: &str, path: &str, user: Option<&str>) {
    let mut h: Vec<(String, String)> = vec![
        (":method".into(), method.into()),
        (":path".into(), path.into()),
        (":authority".into(), "acme.hcp.example.com".into()),
    ];
    if let Some(u) = user {
        let roles: &[&str] = if u == "alice" {
            &["administrator"]
        } else {
            &["monitor"]
        };
        h.push(("x-tollgate-jwt-payload".into(), payload(u, roles)));
    }
    let mut s = host.state.borrow_mut();
    s.maps.insert(MapKind::RequestHeaders, h);
    s.local_reply = None;
}

fn root(host: &MockHost, config: &str) -> ResponseCacheRoot {
    let mut root = ResponseCacheRoot::default();
    root.on_configure(host, config.as_bytes()).unwrap();
    root
}

/// The origin's answer: status, headers, body chunks.
type OriginReply<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a [u8]]);

/// Runs a request through; `origin` answers it unless the cache does. Returns the
/// cache's own reply, if any, and the response headers the origin's response left with.
fn run(
    host: &MockHost,
    root: &mut ResponseCacheRoot,
    origin: OriginReply<'_>,
) -> (Option<RecordedReply>, Pairs) {
    let mut s = root.new_stream(host, 2).unwrap();
    if s.on_request_headers(host, 3, true) != HeadersAction::Continue {
        return (host.state.borrow().local_reply.clone(), Vec::new());
    }
    let (status, headers, chunks) = origin;
    let mut h: Vec<(String, String)> = vec![(":status".into(), status.into())];
    h.extend(headers.iter().map(|(k, v)| ((*k).into(), (*v).into())));
    host.state
        .borrow_mut()
        .maps
        .insert(MapKind::ResponseHeaders, h);
    let action = s.on_response_headers(host, 1, chunks.is_empty());
    if action == HeadersAction::Continue {
        for (i, chunk) in chunks.iter().enumerate() {
            host.state
                .borrow_mut()
                .buffers
                .insert(BufferKind::HttpResponseBody, chunk.to_vec());
            s.on_response_body(host, chunk.len(), i + 1 == chunks.len());
        }
    }
    let headers = host.state.borrow().maps[&MapKind::ResponseHeaders].clone();
    (host.state.borrow().local_reply.clone(), headers)
}

fn header<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn metric(host: &MockHost, name: &str) -> u64 {
    host.state
        .borrow()
        .metrics
        .values()
        .find(|(_, n, _)| n == name)
        .map_or(0, |(_, _, v)| *v)
}

#[test]
fn a_miss_streamed_in_chunks_is_stored_and_the_next_request_is_a_hit() {
    let host = at(MockHost::new(), 0);
    let mut root = root(&host, CONFIG);
    request(&host, "GET", "/mapi/x", Some("bob"));
    let (reply, headers) = run(
        &host,
        &mut root,
        ("200", &[("content-type", "text/plain")], &[b"hel", b"lo"]),
    );
    assert!(reply.is_none());
    assert_eq!(header(&headers, "x-cache"), Some("MISS"));
    assert!(
        host.state
            .borrow()
            .shared
            .keys()
            .any(|k| k.starts_with(PREFIX))
    );
    set_time(&host, 7);
    request(&host, "GET", "/mapi/x", Some("bob"));
    let (reply, _) = run(&host, &mut root, ("500", &[], &[]));
    let reply = reply.expect("answered from the cache");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"hello");
    assert_eq!(reply.details, "tollgate_response_cache.hit");
    assert_eq!(header(&reply.headers, "age"), Some("7"));
    assert_eq!(header(&reply.headers, "x-cache"), Some("HIT"));
    assert_eq!(header(&reply.headers, "content-type"), Some("text/plain"));
    assert_eq!(metric(&host, "response_cache.hits"), 1);
    assert_eq!(metric(&host, "response_cache.misses"), 1);
    assert_eq!(metric(&host, "response_cache.stores"), 1);
    assert!(metric(&host, "response_cache.bytes") > 5);
    // Another identity misses.
    request(&host, "GET", "/mapi/x", Some("carol"));
    let (reply, headers) = run(&host, &mut root, ("200", &[], &[b"carol's"]));
    assert!(reply.is_none());
    assert_eq!(header(&headers, "x-cache"), Some("MISS"));
}

#[test]
fn a_body_over_the_entry_limit_is_not_stored() {
    let host = at(MockHost::new(), 0);
    let config = CONFIG.replace(
        "\"max_entries\": 16",
        "\"max_entries\": 16, \"max_entry_bytes\": 1024",
    );
    let mut root = root(&host, &config);
    request(&host, "GET", "/mapi/big", Some("bob"));
    let big = vec![b'x'; 700];
    run(&host, &mut root, ("200", &[], &[&big, &big]));
    assert_eq!(metric(&host, "response_cache.not_stored.too_large"), 1);
    request(&host, "GET", "/mapi/big", Some("bob"));
    let (reply, _) = run(&host, &mut root, ("200", &[], &[b"x"]));
    assert!(reply.is_none(), "a miss again");
}

#[test]
fn a_successful_write_invalidates_for_everyone() {
    let host = at(MockHost::new(), 0);
    let mut root = root(&host, CONFIG);
    request(&host, "GET", "/mapi/t/ns", Some("bob"));
    run(&host, &mut root, ("200", &[], &[b"list"]));
    set_time(&host, 1);
    request(&host, "PUT", "/mapi/t/ns", Some("alice"));
    let (reply, headers) = run(&host, &mut root, ("201", &[], &[b"{}"]));
    assert!(reply.is_none());
    assert_eq!(header(&headers, "x-cache"), None, "writes are not labelled");
    assert_eq!(metric(&host, "response_cache.invalidations"), 1);
    set_time(&host, 2);
    request(&host, "GET", "/mapi/t/ns", Some("bob"));
    let (reply, _) = run(&host, &mut root, ("200", &[], &[b"list2"]));
    assert!(reply.is_none(), "invalidated");
}

#[test]
fn a_304_to_a_revalidation_becomes_the_stored_response() {
    let host = at(MockHost::new(), 0);
    let mut root = root(&host, CONFIG);
    request(&host, "GET", "/mapi/x", Some("bob"));
    run(
        &host,
        &mut root,
        (
            "200",
            &[("cache-control", "max-age=5"), ("etag", "\"e1\"")],
            &[b"body"],
        ),
    );
    set_time(&host, 10);
    request(&host, "GET", "/mapi/x", Some("bob"));
    let (reply, _) = run(&host, &mut root, ("304", &[("etag", "\"e1\"")], &[]));
    let sent = host.state.borrow().maps[&MapKind::RequestHeaders].clone();
    assert_eq!(
        header(&sent, "if-none-match"),
        Some("\"e1\""),
        "validator sent upstream"
    );
    let reply = reply.expect("the stored response");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"body");
    assert_eq!(metric(&host, "response_cache.revalidated"), 1);
}

#[test]
fn purges_need_the_claim() {
    let host = at(MockHost::new(), 0);
    let mut root = root(&host, CONFIG);
    request(&host, "GET", "/mapi/x", Some("bob"));
    run(&host, &mut root, ("200", &[], &[b"b"]));
    request(&host, "PURGE", "/mapi/x", Some("bob"));
    let (reply, _) = run(&host, &mut root, ("200", &[], &[]));
    let reply = reply.unwrap();
    assert_eq!(reply.status, 403);
    assert!(String::from_utf8_lossy(&reply.body).contains("purge_forbidden"));
    set_time(&host, 1);
    request(&host, "PURGE", "/mapi/x", Some("alice"));
    let (reply, _) = run(&host, &mut root, ("200", &[], &[]));
    assert_eq!(reply.unwrap().status, 200);
    assert_eq!(metric(&host, "response_cache.purges"), 1);
    set_time(&host, 2);
    request(&host, "GET", "/mapi/x", Some("bob"));
    assert!(
        run(&host, &mut root, ("200", &[], &[b"b"])).0.is_none(),
        "purged"
    );
}

#[test]
fn without_shared_data_each_worker_keeps_its_own() {
    let host = at(MockHost::apisix(), 0);
    let mut root = root(&host, CONFIG);
    assert!(
        host.state
            .borrow()
            .logs
            .iter()
            .any(|(_, l)| l.contains("each worker keeps its own"))
    );
    request(&host, "GET", "/mapi/x", Some("bob"));
    run(&host, &mut root, ("200", &[], &[b"b"]));
    request(&host, "GET", "/mapi/x", Some("bob"));
    let (reply, _) = run(&host, &mut root, ("200", &[], &[]));
    assert_eq!(reply.unwrap().body, b"b");
    assert!(host.state.borrow().shared.is_empty());
}

#[test]
fn a_failing_store_never_fails_a_request() {
    let host = at(MockHost::new(), 0);
    let mut root = root(&host, CONFIG);
    let broken = at(
        MockHost::new().failing("proxy_get_shared_data", Status::InternalFailure),
        0,
    );
    request(&broken, "GET", "/mapi/x", Some("bob"));
    let (reply, headers) = run(&broken, &mut root, ("200", &[], &[b"b"]));
    assert!(reply.is_none());
    assert_eq!(header(&headers, "x-cache"), Some("BYPASS"));
    assert_eq!(metric(&broken, "response_cache.errors"), 1);
    let _ = host;
}

#[test]
fn a_host_without_shared_data_at_configure_is_refused_when_it_claims_to_share() {
    let host = MockHost::new().failing("proxy_set_shared_data", Status::InternalFailure);
    let mut root = ResponseCacheRoot::default();
    let e = root.on_configure(&host, CONFIG.as_bytes()).unwrap_err();
    assert!(e.contains("shared data failed"), "{e}");
    let bad = root.on_configure(&MockHost::new(), b"{}").unwrap_err();
    assert!(bad.contains("rules"), "{bad}");
}

#[test]
fn credentials_are_read_only_when_keyed_by() {
    let host = at(MockHost::new(), 0).with_property(&["tollgate_credentials"], b"{\"user\":\"u\"}");
    let mut plain = root(&host, CONFIG);
    request(&host, "GET", "/mapi/x", Some("bob"));
    run(&host, &mut plain, ("200", &[], &[b"b"]));
    assert!(
        !host
            .state
            .borrow()
            .hostcalls
            .contains(&"proxy_get_property")
    );
    let keyed = CONFIG.replace(
        "\"purge\"",
        "\"identity\": {\"credentials\": true}, \"purge\"",
    );
    let mut keyed = root(&host, &keyed);
    request(&host, "GET", "/mapi/y", Some("bob"));
    run(&host, &mut keyed, ("200", &[], &[b"b"]));
    assert!(
        host.state
            .borrow()
            .hostcalls
            .contains(&"proxy_get_property")
    );
}

#[test]
fn concurrent_misses_wait_for_one_fill() {
    let host = at(MockHost::new(), 0);
    let mut root = root(&host, CONFIG);
    request(&host, "GET", "/mapi/slow", Some("bob"));
    let mut leader = root.new_stream(&host, 2).unwrap();
    assert_eq!(
        leader.on_request_headers(&host, 3, true),
        HeadersAction::Continue
    );
    // A second miss for the key while the first is upstream: held.
    let mut follower = root.new_stream(&host, 3).unwrap();
    assert_eq!(
        follower.on_request_headers(&host, 3, true),
        HeadersAction::StopIteration
    );
    assert!(
        host.state.borrow().tick_period.is_some(),
        "the root looks at it on its tick"
    );
    // Nothing changes while the fill runs.
    root.on_tick(&host);
    assert!(host.state.borrow().local_reply.is_none());
    // The leader's response is stored; the follower is answered from it on the tick.
    host.state.borrow_mut().maps.insert(
        MapKind::ResponseHeaders,
        vec![(":status".into(), "200".into())],
    );
    leader.on_response_headers(&host, 1, false);
    host.state
        .borrow_mut()
        .buffers
        .insert(BufferKind::HttpResponseBody, b"one fill".to_vec());
    leader.on_response_body(&host, 8, true);
    root.on_tick(&host);
    let reply = host
        .state
        .borrow()
        .local_reply
        .clone()
        .expect("answered from the fill");
    assert_eq!(reply.body, b"one fill");
    assert_eq!(header(&reply.headers, "x-cache"), Some("HIT"));
    assert!(
        host.state
            .borrow()
            .hostcalls
            .contains(&"proxy_set_effective_context")
    );
    drop(follower);
}

#[test]
fn a_fill_that_is_not_stored_lets_the_waiters_go_upstream() {
    let host = at(MockHost::new(), 0);
    let mut root = root(&host, CONFIG);
    request(&host, "GET", "/mapi/private", Some("bob"));
    let mut leader = root.new_stream(&host, 2).unwrap();
    leader.on_request_headers(&host, 3, true);
    let mut follower = root.new_stream(&host, 3).unwrap();
    assert_eq!(
        follower.on_request_headers(&host, 3, true),
        HeadersAction::StopIteration
    );
    host.state.borrow_mut().maps.insert(
        MapKind::ResponseHeaders,
        vec![
            (":status".into(), "200".into()),
            ("cache-control".into(), "no-store".into()),
        ],
    );
    leader.on_response_headers(&host, 1, true);
    root.on_tick(&host);
    assert!(host.state.borrow().local_reply.is_none());
    assert!(
        host.state
            .borrow()
            .continued
            .contains(&tollgate_kit::StreamKind::Request)
    );
    // It goes upstream itself, and its response is considered for storing.
    follower.on_response_headers(&host, 1, true);
    assert_eq!(metric(&host, "response_cache.not_stored.no_store"), 2);
}

#[test]
fn kong_never_holds_a_miss() {
    let host = at(MockHost::kong(), 0);
    let mut root = root(&host, CONFIG);
    request(&host, "GET", "/mapi/slow", Some("bob"));
    let mut first = root.new_stream(&host, 2).unwrap();
    first.on_request_headers(&host, 3, true);
    let mut second = root.new_stream(&host, 3).unwrap();
    assert_eq!(
        second.on_request_headers(&host, 3, true),
        HeadersAction::Continue
    );
}

#[test]
fn a_post_read_is_decided_on_its_body() {
    let host = at(MockHost::new(), 0);
    let config = r#"{"rules": [{"name": "q", "glob": "/query", "methods": ["POST"], "ttl_s": 60,
                                "body": {"json_key": "object"}}]}"#;
    let mut root = root(&host, config);
    let query = br#"{"object": {"query": "x"}}"#;
    let send = |root: &mut ResponseCacheRoot| {
        request(&host, "POST", "/query", Some("bob"));
        let mut s = root.new_stream(&host, 2).unwrap();
        assert_eq!(
            s.on_request_headers(&host, 3, false),
            HeadersAction::StopIteration
        );
        host.state
            .borrow_mut()
            .buffers
            .insert(BufferKind::HttpRequestBody, query[..10].to_vec());
        assert_eq!(
            s.on_request_body(&host, 10, false),
            BodyAction::StopAndBuffer
        );
        host.state
            .borrow_mut()
            .buffers
            .insert(BufferKind::HttpRequestBody, query.to_vec());
        let action = s.on_request_body(&host, query.len(), true);
        (s, action)
    };
    let (mut first, action) = send(&mut root);
    assert_eq!(
        action,
        BodyAction::Continue,
        "a miss goes upstream with its body"
    );
    host.state.borrow_mut().maps.insert(
        MapKind::ResponseHeaders,
        vec![(":status".into(), "200".into())],
    );
    first.on_response_headers(&host, 1, false);
    host.state
        .borrow_mut()
        .buffers
        .insert(BufferKind::HttpResponseBody, b"results".to_vec());
    first.on_response_body(&host, 7, true);
    let (_, action) = send(&mut root);
    assert_eq!(action, BodyAction::StopNoBuffer);
    let reply = host.state.borrow().local_reply.clone().expect("a hit");
    assert_eq!(reply.body, b"results");
    assert!(
        host.state
            .borrow()
            .properties
            .contains_key(&vec!["wasm_process_req_body".to_string()])
    );
}

#[test]
fn a_write_with_a_body_still_invalidates() {
    // A PUT's body callbacks must leave the write's state alone.
    let host = at(MockHost::new(), 0);
    let mut root = root(&host, CONFIG);
    request(&host, "GET", "/mapi/t/ns", Some("bob"));
    run(&host, &mut root, ("200", &[], &[b"list"]));
    set_time(&host, 1);
    request(&host, "PUT", "/mapi/t/ns", Some("alice"));
    let mut s = root.new_stream(&host, 2).unwrap();
    assert_eq!(
        s.on_request_headers(&host, 3, false),
        HeadersAction::Continue
    );
    host.state
        .borrow_mut()
        .buffers
        .insert(BufferKind::HttpRequestBody, b"{}".to_vec());
    assert_eq!(s.on_request_body(&host, 2, true), BodyAction::Continue);
    host.state.borrow_mut().maps.insert(
        MapKind::ResponseHeaders,
        vec![(":status".into(), "201".into())],
    );
    s.on_response_headers(&host, 1, true);
    assert_eq!(metric(&host, "response_cache.invalidations"), 1);
}
