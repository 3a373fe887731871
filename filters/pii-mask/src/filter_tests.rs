//! The glue against the kit's mock host: what reaches the host (bodies, headers,
//! metrics, replies, resets) for each plan. The decisions themselves are tested in
//! `decide_tests.rs`, the masking in the stream tests.

use super::*;
use tollgate_kit::mock::MockHost;

const BODY: &[u8] = br#"{"mail": "jane@example.com", "n": 1}"#;
const MASKED: &[u8] = br#"{"mail": "[EMAIL]", "n": 1}"#;
/// `{"roles":["compliance"]}` as jwt-auth's payload header carries it.
const OFFICER: &str = "eyJyb2xlcyI6WyJjb21wbGlhbmNlIl19";

fn configured(config: &str, host: &MockHost) -> (PiiMaskRoot, Box<dyn StreamFilter>) {
    let mut root = PiiMaskRoot::default();
    root.on_configure(host, config.as_bytes()).unwrap();
    let stream = root.new_stream(host, 2).unwrap();
    (root, stream)
}

/// A stream configured with `config` whose GET request has gone through and whose
/// response's headers (`:status` 200 and `headers`) have just arrived.
fn responding(
    config: &str,
    host: &MockHost,
    headers: &[(&str, &str)],
) -> (PiiMaskRoot, Box<dyn StreamFilter>) {
    let (root, mut s) = configured(config, host);
    request(host, s.as_mut(), &[], true);
    response_headers(host, s.as_mut(), headers);
    (root, s)
}

fn metric(host: &MockHost, name: &str) -> Option<u64> {
    host.state
        .borrow()
        .metrics
        .values()
        .find(|(_, n, _)| n == name)
        .map(|(_, _, v)| *v)
}

fn header(host: &MockHost, map: MapKind, name: &str) -> Option<String> {
    host.state
        .borrow()
        .maps
        .get(&map)
        .and_then(|m| m.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

fn writes(host: &MockHost) -> usize {
    host.state
        .borrow()
        .hostcalls
        .iter()
        .filter(|c| **c == "proxy_set_buffer_bytes")
        .count()
}

/// Puts `base` then `extra` into the host's `map`; gives how many.
fn set_headers(
    host: &MockHost,
    map: MapKind,
    base: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> usize {
    let pairs: Vec<(String, String)> = base
        .iter()
        .chain(extra)
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let n = pairs.len();
    host.state.borrow_mut().maps.insert(map, pairs);
    n
}

fn request(host: &MockHost, s: &mut dyn StreamFilter, headers: &[(&str, &str)], eos: bool) {
    let base = [(":method", "GET"), (":path", "/api/x")];
    let n = set_headers(host, MapKind::RequestHeaders, &base, headers);
    s.on_request_headers(host, n, eos);
}

fn response_headers(host: &MockHost, s: &mut dyn StreamFilter, headers: &[(&str, &str)]) {
    let n = set_headers(
        host,
        MapKind::ResponseHeaders,
        &[(":status", "200")],
        headers,
    );
    s.on_response_headers(host, n, false);
}

/// Each chunk in turn as the host's buffer (the last with `end_of_stream`): what the
/// filter left in the buffer each time, joined, and the last action.
fn body(
    host: &MockHost,
    s: &mut dyn StreamFilter,
    kind: BufferKind,
    chunks: &[&[u8]],
) -> (Vec<u8>, Vec<BodyAction>) {
    let mut out = Vec::new();
    let mut actions = Vec::new();
    for (i, ch) in chunks.iter().enumerate() {
        host.state.borrow_mut().buffers.insert(kind, ch.to_vec());
        let eos = i + 1 == chunks.len();
        actions.push(match kind {
            BufferKind::HttpRequestBody => s.on_request_body(host, ch.len(), eos),
            _ => s.on_response_body(host, ch.len(), eos),
        });
        out.extend(
            host.state
                .borrow()
                .buffers
                .get(&kind)
                .cloned()
                .unwrap_or_default(),
        );
    }
    (out, actions)
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[test]
fn a_response_is_masked_chunk_by_chunk_and_counted_once() {
    let host = MockHost::new();
    let (_root, mut s) = responding(
        "{}",
        &host,
        &[JSON, ("content-length", "36"), ("etag", "\"v1\"")],
    );
    assert_eq!(
        header(&host, MapKind::ResponseHeaders, "content-length"),
        None
    );
    assert_eq!(
        header(&host, MapKind::ResponseHeaders, "etag").as_deref(),
        Some("W/\"v1\"")
    );
    let (a, b) = BODY.split_at(15);
    let (out, actions) = body(&host, s.as_mut(), BufferKind::HttpResponseBody, &[a, b]);
    assert_eq!(out, MASKED);
    assert_eq!(actions, [BodyAction::Continue, BodyAction::Continue]);
    s.on_log(&host);
    assert_eq!(metric(&host, "pii_mask.matches.email"), Some(1));
    assert_eq!(
        metric(&host, "pii_mask.bytes_scanned"),
        Some(BODY.len() as u64)
    );
    assert_eq!(metric(&host, "pii_mask.unmasked"), None);
}

#[test]
fn an_empty_body_defines_no_byte_count_and_an_empty_chunk_with_nothing_held_is_not_written() {
    let host = MockHost::new();
    let (_root, mut s) = responding("{}", &host, &[JSON]);
    let (out, _) = body(&host, s.as_mut(), BufferKind::HttpResponseBody, &[b""]);
    assert!(out.is_empty());
    assert_eq!(writes(&host), 0, "nothing to write, no hostcall");
    s.on_log(&host);
    assert_eq!(metric(&host, "pii_mask.bytes_scanned"), None);
}

#[test]
fn bytes_held_at_a_chunk_end_are_written_with_an_empty_last_chunk() {
    let host = MockHost::new();
    let (_root, mut s) = responding("{}", &host, &[("content-type", "text/plain")]);
    let (out, _) = body(
        &host,
        s.as_mut(),
        BufferKind::HttpResponseBody,
        &[b"mail jane@example.com", b""],
    );
    assert_eq!(out, b"mail [EMAIL]");
}

#[test]
fn a_bad_config_is_refused_and_makes_no_streams() {
    let host = MockHost::new();
    let mut root = PiiMaskRoot::default();
    let err = root
        .on_configure(&host, br#"{"max_body_bytes": 1}"#)
        .unwrap_err();
    assert!(err.contains("max_body_bytes"), "{err}");
    assert!(root.new_stream(&host, 2).is_none());
    root.on_configure(&host, b"{}").unwrap();
    assert!(
        host.state
            .borrow()
            .logs
            .iter()
            .any(|(_, m)| m.contains("12 detectors")),
        "the configuration is described"
    );
}

#[test]
fn exempt_requests_and_other_content_types_pass_untouched() {
    let cfg = r#"{"exempt": {"claims": [{"claim": "roles", "value": "compliance"}]}}"#;
    let host = MockHost::new();
    let (_root, mut s) = configured(cfg, &host);
    request(&host, s.as_mut(), &[(PAYLOAD, OFFICER)], true);
    response_headers(&host, s.as_mut(), &[JSON, ("content-length", "36")]);
    assert!(header(&host, MapKind::ResponseHeaders, "content-length").is_some());
    let (out, _) = body(&host, s.as_mut(), BufferKind::HttpResponseBody, &[BODY]);
    assert_eq!(out, BODY);

    let host = MockHost::new();
    let (_root, mut s) = responding(cfg, &host, &[("content-type", "image/png")]);
    let (out, _) = body(&host, s.as_mut(), BufferKind::HttpResponseBody, &[BODY]);
    assert_eq!(out, BODY);
    assert_eq!(metric(&host, "pii_mask.unmasked"), None, "not a loss");
}

const PAYLOAD: &str = tollgate_kit::contract::PAYLOAD_HEADER;

/// A response whose headers end the stream has no body (Envoy): nothing is edited.
#[test]
fn headers_that_end_the_stream_leave_nothing_to_mask() {
    let host = MockHost::new();
    let (_root, mut s) = configured("{}", &host);
    request(&host, s.as_mut(), &[], true);
    let base = [(":status", "200"), ("content-length", "0")];
    let n = set_headers(&host, MapKind::ResponseHeaders, &base, &[]);
    s.on_response_headers(&host, n, true);
    assert!(header(&host, MapKind::ResponseHeaders, "content-length").is_some());
}

/// Over the limit with `block`: Envoy resets the response (counted once, whatever
/// follows is dropped); Kong cannot, so it masks on; with `pass` the rest goes out
/// unmasked and is counted as a loss.
#[test]
fn oversize_bodies_are_reset_masked_on_or_passed_per_host_and_config() {
    let big = format!("{} jane@example.com", "x".repeat(1100));
    let (a, b) = big.as_bytes().split_at(600);
    let block = r#"{"max_body_bytes": 1024}"#;

    let host = MockHost::new();
    let (_root, mut s) = responding(block, &host, &[("content-type", "text/plain")]);
    let (_, actions) = body(
        &host,
        s.as_mut(),
        BufferKind::HttpResponseBody,
        &[a, b, b"more"],
    );
    assert_eq!(
        actions,
        [
            BodyAction::Continue,
            BodyAction::StopNoBuffer,
            BodyAction::StopNoBuffer
        ]
    );
    assert_eq!(host.state.borrow().closed, [StreamKind::Response]);
    assert_eq!(metric(&host, "pii_mask.blocked.oversize"), Some(1));
    assert_eq!(metric(&host, "pii_mask.oversize"), Some(1));
    assert_eq!(
        host.state.borrow().buffers[&BufferKind::HttpResponseBody],
        b""
    );

    let host = MockHost::kong();
    let (_root, mut s) = responding(block, &host, &[("content-type", "text/plain")]);
    let (out, actions) = body(
        &host,
        s.as_mut(),
        BufferKind::HttpResponseBody,
        &[a, b, b" x"],
    );
    assert!(actions.iter().all(|a| *a == BodyAction::Continue));
    assert!(host.state.borrow().closed.is_empty());
    assert!(out.ends_with(b"[EMAIL] x"), "masked on");
    assert_eq!(metric(&host, "pii_mask.oversize"), Some(1), "counted once");
    assert_eq!(metric(&host, "pii_mask.blocked"), None);

    let host = MockHost::new();
    let pass = r#"{"max_body_bytes": 1024, "on_oversize": "pass"}"#;
    let (_root, mut s) = responding(pass, &host, &[("content-type", "text/plain")]);
    let (out, actions) = body(&host, s.as_mut(), BufferKind::HttpResponseBody, &[a, b]);
    assert!(actions.iter().all(|a| *a == BodyAction::Continue));
    assert_eq!(out, big.as_bytes(), "the rest passes as it is");
    assert_eq!(metric(&host, "pii_mask.oversize"), Some(1));
    assert_eq!(metric(&host, "pii_mask.unmasked.oversize"), Some(1));
}

/// A compressed body that cannot be read is reset on Envoy and counted as an error,
/// not as oversize.
#[test]
fn a_corrupt_compressed_body_is_unreadable() {
    let host = MockHost::new();
    let (_root, mut s) = responding("{}", &host, &[JSON, ("content-encoding", "gzip")]);
    let (_, actions) = body(
        &host,
        s.as_mut(),
        BufferKind::HttpResponseBody,
        &[b"not gzip at all"],
    );
    assert_eq!(actions, [BodyAction::StopNoBuffer]);
    assert_eq!(metric(&host, "pii_mask.blocked.unreadable"), Some(1));
    assert_eq!(metric(&host, "pii_mask.errors"), Some(1));
    assert_eq!(metric(&host, "pii_mask.oversize"), None);
}

/// A response blocked at its headers becomes a 502 whose body, written at the end,
/// says why; nothing of the origin's body goes out.
#[test]
fn a_blocked_response_becomes_a_502_with_its_reason() {
    let host = MockHost::new();
    let (_root, mut s) = responding("{}", &host, &[JSON, ("content-encoding", "zstd")]);
    assert_eq!(
        header(&host, MapKind::ResponseHeaders, ":status").as_deref(),
        Some("502")
    );
    let (out, _) = body(
        &host,
        s.as_mut(),
        BufferKind::HttpResponseBody,
        &[BODY, BODY],
    );
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(Blocked::Encoding.message()) && !text.contains("jane"),
        "{text}"
    );
    assert_eq!(metric(&host, "pii_mask.blocked.encoding"), Some(1));
    assert!(
        host.state
            .borrow()
            .logs
            .iter()
            .any(|(_, m)| m.contains(Blocked::Encoding.message()))
    );
}

/// A body that ends in trailers with bytes held back loses them (proxy-wasm cannot
/// write body bytes there): counted as an error; nothing held, nothing counted.
#[test]
fn trailers_after_held_bytes_count_an_error() {
    for (chunk, errors) in [
        (&br#"{"a": "jane@exa"#[..], Some(1)),
        (br#"{"a": 1}"#, None),
    ] {
        let host = MockHost::new();
        let (_root, mut s) = responding("{}", &host, &[JSON]);
        host.state
            .borrow_mut()
            .buffers
            .insert(BufferKind::HttpResponseBody, chunk.to_vec());
        s.on_response_body(&host, chunk.len(), false);
        s.on_response_trailers(&host, 1);
        assert_eq!(metric(&host, "pii_mask.errors"), errors, "{chunk:?}");
    }
}

/// Request bodies (Envoy, when enabled) are masked on the way in; one over the limit
/// gets a 413, or passes when configured so.
#[test]
fn request_bodies_are_masked_or_refused_over_the_limit() {
    let on = r#"{"requests": {"enabled": true}, "max_body_bytes": 1024}"#;
    let host = MockHost::new();
    let (_root, mut s) = configured(on, &host);
    request(&host, s.as_mut(), &[JSON, ("content-length", "36")], false);
    assert_eq!(
        header(&host, MapKind::RequestHeaders, "content-length"),
        None
    );
    let (a, b) = BODY.split_at(20);
    let (out, _) = body(&host, s.as_mut(), BufferKind::HttpRequestBody, &[a, b]);
    assert_eq!(out, MASKED);

    let big = "y".repeat(1500);
    let host = MockHost::new();
    let (_root, mut s) = configured(on, &host);
    request(&host, s.as_mut(), &[JSON], false);
    let (_, actions) = body(
        &host,
        s.as_mut(),
        BufferKind::HttpRequestBody,
        &[big.as_bytes()],
    );
    assert_eq!(actions, [BodyAction::StopNoBuffer]);
    assert_eq!(
        host.state.borrow().local_reply.as_ref().map(|r| r.status),
        Some(413)
    );
    assert_eq!(metric(&host, "pii_mask.blocked.request_oversize"), Some(1));

    let pass = r#"{"requests": {"enabled": true}, "max_body_bytes": 1024, "on_oversize": "pass"}"#;
    let host = MockHost::new();
    let (_root, mut s) = configured(pass, &host);
    request(&host, s.as_mut(), &[("content-type", "text/plain")], false);
    let (out, actions) = body(
        &host,
        s.as_mut(),
        BufferKind::HttpRequestBody,
        &[big.as_bytes(), b"z"],
    );
    assert_eq!(actions, [BodyAction::Continue, BodyAction::Continue]);
    assert_eq!(out, format!("{big}z").as_bytes());
    assert!(host.state.borrow().local_reply.is_none());
    assert_eq!(metric(&host, "pii_mask.oversize"), Some(1));

    // A request whose headers end it has no body to watch.
    let host = MockHost::new();
    let (_root, mut s) = configured(on, &host);
    request(&host, s.as_mut(), &[JSON, ("content-length", "0")], true);
    assert!(header(&host, MapKind::RequestHeaders, "content-length").is_some());
}

/// Where bodies cannot be replaced (APISIX), `block` refuses a watched request with a
/// 502 that says so.
#[test]
fn apisix_refuses_watched_requests_when_configured_to_block() {
    let host = MockHost::apisix();
    let (_root, mut s) = configured(r#"{"on_unsupported_host": "block"}"#, &host);
    request(&host, s.as_mut(), &[], true);
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert_eq!(reply.status, 502);
    assert!(String::from_utf8_lossy(&reply.body).contains(Blocked::Host.message()));
    assert_eq!(metric(&host, "pii_mask.blocked.host"), Some(1));
}

/// A stream that ends without its body's end (the client went away) still counts what
/// it scanned, when the host logs it.
#[test]
fn a_body_cut_short_is_counted_at_the_log() {
    let host = MockHost::new();
    let (_root, mut s) = responding("{}", &host, &[JSON]);
    host.state
        .borrow_mut()
        .buffers
        .insert(BufferKind::HttpResponseBody, BODY.to_vec());
    s.on_response_body(&host, BODY.len(), false);
    assert_eq!(metric(&host, "pii_mask.bytes_scanned"), None);
    s.on_log(&host);
    assert_eq!(
        metric(&host, "pii_mask.bytes_scanned"),
        Some(BODY.len() as u64)
    );
    assert_eq!(metric(&host, "pii_mask.matches.email"), Some(1));
}
