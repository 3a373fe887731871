//! Native tests of the glue over `MockHost`: one evaluation per request, decisions
//! applied (headers, removals, response headers, metadata), deny and error replies,
//! shadow mode, the cache, the body read once, and decision logs batched and masked.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value as Json, json};
use tollgate_kit::mock::MockHost;

use super::*;

const POLICY: &str = r#"package envoy.authz
import rego.v1
default allow := false
allow if input.attributes.request.http.method == "GET"
allow if input.token.role == "admin"
"#;

const OBJECT_POLICY: &str = r#"package envoy.authz
import rego.v1
default allow := {"allowed": false, "http_status": 401, "body": "go away", "headers": {"x-why": "no"}}
allow := {"allowed": true, "headers": {"x-user": input.token.sub}, "request_headers_to_remove": ["x-debug"],
          "response_headers_to_add": {"x-policy": "v1"}, "dynamic_metadata": {"sub": input.token.sub}} if input.token.sub
"#;

fn config(policy: &str, extra: Json) -> String {
    let mut c = json!({"policy": {"modules": {"authz.rego": policy}}});
    if let (Json::Object(c), Json::Object(e)) = (&mut c, extra) {
        c.extend(e);
    }
    c.to_string()
}

fn token(claims: Json) -> String {
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        claims.to_string(),
    )
}

fn host(method: &str, extra: &[(&str, &str)]) -> MockHost {
    let mut headers = vec![
        (":method", method),
        (":path", "/people?x=1"),
        (":authority", "edge"),
    ];
    headers.extend_from_slice(extra);
    MockHost::new()
        .with_headers(MapKind::RequestHeaders, &headers)
        .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
}

fn root(host: &MockHost, config: &str) -> RegoAuthzRoot {
    let mut root = RegoAuthzRoot::default();
    root.on_configure(host, config.as_bytes()).unwrap();
    root
}

fn run(host: &MockHost, root: &mut RegoAuthzRoot) -> HeadersAction {
    let mut s = root.new_stream(host, 2).unwrap();
    s.on_request_headers(host, 3, true)
}

fn metric(host: &MockHost, name: &str) -> u64 {
    host.state
        .borrow()
        .metrics
        .values()
        .find(|(_, n, _)| n == name)
        .map_or(0, |(_, _, v)| *v)
}

fn reply(host: &MockHost) -> Option<tollgate_kit::mock::RecordedReply> {
    host.state.borrow().local_reply.clone()
}

fn request_header(host: &MockHost, name: &str) -> Option<String> {
    host.state.borrow().maps[&MapKind::RequestHeaders]
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[test]
fn enforce_allows_and_denies_with_a_stable_code() {
    let h = host("GET", &[]);
    let mut r = root(&h, &config(POLICY, json!({})));
    assert_eq!(run(&h, &mut r), HeadersAction::Continue);
    assert!(reply(&h).is_none());
    assert_eq!(metric(&h, "rego_authz.allowed"), 1);

    let h = host("DELETE", &[]);
    assert_eq!(run(&h, &mut r), HeadersAction::StopIteration);
    let rep = reply(&h).unwrap();
    assert_eq!(rep.status, 403);
    assert_eq!(rep.details, "tollgate_rego_authz.policy_denied");
    let body: Json = serde_json::from_slice(&rep.body).unwrap();
    assert_eq!(body["error"], "policy_denied");
    assert_eq!(metric(&h, "rego_authz.denied"), 1);

    // input.token comes from jwt-auth's payload header.
    let h = host(
        "DELETE",
        &[("x-tollgate-jwt-payload", &token(json!({"role": "admin"})))],
    );
    assert_eq!(run(&h, &mut r), HeadersAction::Continue);
}

#[test]
fn object_decisions_set_headers_remove_headers_and_metadata() {
    let t = token(json!({"sub": "alice"}));
    let h = host("GET", &[("x-tollgate-jwt-payload", &t), ("x-debug", "1")]);
    let mut r = root(&h, &config(OBJECT_POLICY, json!({})));
    let mut s = r.new_stream(&h, 2).unwrap();
    assert_eq!(s.on_request_headers(&h, 5, true), HeadersAction::Continue);
    assert_eq!(request_header(&h, "x-user").as_deref(), Some("alice"));
    assert_eq!(request_header(&h, "x-debug"), None);
    assert_eq!(
        h.state
            .borrow()
            .properties
            .get(&vec!["tollgate_rego_metadata".to_string()])
            .cloned(),
        Some(br#"{"sub":"alice"}"#.to_vec())
    );
    s.on_response_headers(&h, 0, false);
    let resp = h
        .state
        .borrow()
        .maps
        .get(&MapKind::ResponseHeaders)
        .cloned()
        .unwrap_or_default();
    assert!(resp.contains(&("x-policy".into(), "v1".into())), "{resp:?}");

    let h = host("GET", &[]);
    assert_eq!(run(&h, &mut r), HeadersAction::StopIteration);
    let rep = reply(&h).unwrap();
    assert_eq!(
        (rep.status, rep.body.as_slice()),
        (401, b"go away".as_slice())
    );
    assert!(rep.headers.contains(&("x-why".into(), "no".into())));
}

#[test]
fn policy_failures_fail_closed_with_one_log_line_naming_the_rule() {
    let undefined = "package envoy.authz\nallow if input.nothing\n";
    let h = host("GET", &[]);
    let mut r = root(&h, &config(undefined, json!({"error_status": 503})));
    assert_eq!(run(&h, &mut r), HeadersAction::StopIteration);
    let rep = reply(&h).unwrap();
    assert_eq!(rep.status, 503);
    assert!(String::from_utf8_lossy(&rep.body).contains("policy_undefined"));
    let logs = h.state.borrow().logs.clone();
    let lines: Vec<_> = logs.iter().filter(|(l, _)| *l == LogLevel::Error).collect();
    assert_eq!(lines.len(), 1, "{logs:?}");
    assert!(lines[0].1.contains("data.envoy.authz.allow"), "{lines:?}");

    let invalid = "package envoy.authz\nallow := \"yes\"\n";
    let h = host("GET", &[]);
    let mut r = root(&h, &config(invalid, json!({})));
    run(&h, &mut r);
    assert_eq!(reply(&h).unwrap().status, 500);
    assert!(String::from_utf8_lossy(&reply(&h).unwrap().body).contains("decision_invalid"));
}

#[test]
fn shadow_mode_never_blocks_but_counts() {
    let h = host("DELETE", &[]);
    let mut r = root(&h, &config(POLICY, json!({"mode": "shadow"})));
    assert_eq!(run(&h, &mut r), HeadersAction::Continue);
    assert!(reply(&h).is_none());
    assert_eq!(metric(&h, "rego_authz.shadow.denied"), 1);
    let h = host("GET", &[]);
    let mut r = root(
        &h,
        &config(
            "package envoy.authz\nallow if input.nothing\n",
            json!({"mode": "shadow"}),
        ),
    );
    assert_eq!(run(&h, &mut r), HeadersAction::Continue);
    assert!(reply(&h).is_none());
    assert_eq!(metric(&h, "rego_authz.shadow.failed"), 1);
}

#[test]
fn the_cache_reuses_decisions_by_key_until_the_ttl() {
    let h = host("GET", &[]);
    let mut r = root(
        &h,
        &config(
            POLICY,
            json!({"decision_cache": {"keys": ["request.http.method"], "ttl_seconds": 10, "max_entries": 2}}),
        ),
    );
    for _ in 0..3 {
        assert_eq!(run(&h, &mut r), HeadersAction::Continue);
    }
    assert_eq!(
        (
            metric(&h, "rego_authz.cache.miss"),
            metric(&h, "rego_authz.cache.hit")
        ),
        (1, 2)
    );
    h.state.borrow_mut().now = Some(UNIX_EPOCH + Duration::from_secs(1_700_000_011));
    run(&h, &mut r);
    assert_eq!(metric(&h, "rego_authz.cache.miss"), 2);
    // Another key is another decision.
    let d = host("DELETE", &[]);
    assert_eq!(run(&d, &mut r), HeadersAction::StopIteration);
}

#[test]
fn the_body_is_read_once_when_asked_for() {
    let policy = "package envoy.authz\nallow if input.parsed_body.ok == true\n";
    let h = host("POST", &[("content-type", "application/json")])
        .with_buffer(BufferKind::HttpRequestBody, br#"{"ok": true}"#);
    let mut r = root(&h, &config(policy, json!({"with_body": {"max_bytes": 64}})));
    let mut s = r.new_stream(&h, 2).unwrap();
    assert_eq!(
        s.on_request_headers(&h, 4, false),
        HeadersAction::StopIteration
    );
    assert_eq!(s.on_request_body(&h, 12, true), BodyAction::Continue);
    assert_eq!(metric(&h, "rego_authz.allowed"), 1);

    // Past the limit: truncated, parsed_body absent, denied (undefined → default).
    let policy =
        "package envoy.authz\ndefault allow := false\nallow if input.parsed_body.ok == true\n";
    let h = host("POST", &[("content-type", "application/json")]).with_buffer(
        BufferKind::HttpRequestBody,
        br#"{"ok": true, "pad": "xxxxxxxx"}"#,
    );
    let mut r = root(&h, &config(policy, json!({"with_body": {"max_bytes": 8}})));
    let mut s = r.new_stream(&h, 2).unwrap();
    s.on_request_headers(&h, 4, false);
    assert_eq!(s.on_request_body(&h, 31, false), BodyAction::StopNoBuffer);
    assert_eq!(reply(&h).unwrap().status, 403);
}

#[test]
fn decision_logs_are_batched_masked_and_bounded() {
    let h = host(
        "GET",
        &[
            ("authorization", "Bearer secret.token.here"),
            ("x-api-key", "k"),
        ],
    );
    let cfg = config(
        POLICY,
        json!({"decision_logs": {"upstream": "opa_logs", "max_batch": 2, "max_queue": 3,
               "mask": ["/input/attributes/request/http/headers/x-api-key"], "labels": {"id": "edge-1"}}}),
    );
    let mut r = root(&h, &cfg);
    assert_eq!(
        h.state.borrow().tick_period,
        Some(Duration::from_millis(2000))
    );
    for _ in 0..5 {
        run(&h, &mut r);
    }
    assert_eq!(metric(&h, "rego_authz.decision_logs.dropped"), 2);
    r.on_tick(&h);
    r.on_tick(&h); // one POST in flight at a time
    let calls = h.state.borrow().http_calls.clone();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0]
            .headers
            .contains(&("content-encoding".into(), "gzip".into()))
    );
    let body =
        String::from_utf8(crate::test_support::gunzip(&calls[0].body.clone().unwrap())).unwrap();
    assert!(
        !body.contains("secret.token") && !body.contains("\"k\""),
        "{body}"
    );
    let events: Vec<Json> = serde_json::from_str(&body).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["path"], "envoy/authz/allow");
    assert_eq!(events[0]["result"], true);
    assert_eq!(events[0]["labels"]["id"], "edge-1");
    assert!(events[0]["erased"].as_array().unwrap().len() == 2);
    h.state.borrow_mut().maps.insert(
        MapKind::HttpCallResponseHeaders,
        vec![(":status".into(), "200".into())],
    );
    let token = calls[0].token;
    r.on_http_call_response(&h, token, 1, 0, 0);
    r.on_tick(&h);
    assert_eq!(h.state.borrow().http_calls.len(), 2);
    assert_eq!(metric(&h, "rego_authz.decision_logs.sent_batches"), 1);
}

#[test]
fn apisix_says_what_it_disabled() {
    let h = MockHost::apisix();
    let cfg = config(
        POLICY,
        json!({"decision_logs": {"upstream": "127.0.0.1:9"}}),
    );
    let mut r = RegoAuthzRoot::default();
    r.on_configure(&h, cfg.as_bytes()).unwrap();
    let logs = h.state.borrow().logs.clone();
    assert!(
        logs.iter()
            .any(|(l, m)| *l == LogLevel::Warn && m.contains("decision_logs disabled")),
        "{logs:?}"
    );
}

#[test]
fn a_bad_policy_is_refused_and_the_previous_one_keeps_serving() {
    let h = host("GET", &[]);
    let mut r = root(&h, &config(POLICY, json!({})));
    let err = r
        .on_configure(
            &h,
            config("package envoy.authz\nallow if {\n", json!({})).as_bytes(),
        )
        .unwrap_err();
    assert!(err.contains("authz.rego:"), "{err}");
    assert_eq!(run(&h, &mut r), HeadersAction::Continue);
}
