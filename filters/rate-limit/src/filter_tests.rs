//! The glue over `MockHost`: slots created at configure time, the seed shared through
//! shared data, refusals with their headers, admitted responses annotated, the mode
//! reported, the failure modes, and the per-worker fallback.

use std::time::{Duration, UNIX_EPOCH};

use tollgate_kit::mock::MockHost;
use tollgate_kit::{BufferKind, Status, StreamKind};

use super::*;

const CONFIG: &str = r#"{"local": {"max_keys": 16},
  "rules": [{"name": "per-ip", "key": ["client_address"], "limits": [{"requests": 2, "per": "1s"}]}]}"#;

fn host() -> MockHost {
    MockHost::new()
        .with_headers(
            MapKind::RequestHeaders,
            &[(":method", "GET"), (":path", "/a"), (":authority", "edge")],
        )
        .with_property(&["source", "address"], b"10.0.0.1:4000")
        .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
}

fn root(host: &MockHost, config: &str) -> RateLimitRoot {
    let mut root = RateLimitRoot::default();
    root.on_configure(host, config.as_bytes()).unwrap();
    root
}

fn run(
    host: &MockHost,
    root: &mut RateLimitRoot,
) -> (HeadersAction, Option<tollgate_kit::mock::RecordedReply>) {
    host.state.borrow_mut().local_reply = None;
    let mut s = root.new_stream(host, 2).unwrap();
    let action = s.on_request_headers(host, 3, true);
    if action == HeadersAction::Continue {
        s.on_response_headers(host, 1, false);
    }
    (action, host.state.borrow().local_reply.clone())
}

fn metric(host: &MockHost, name: &str) -> u64 {
    host.state
        .borrow()
        .metrics
        .values()
        .find(|(_, n, _)| n == name)
        .map_or(0, |(_, _, v)| *v)
}

fn calls(host: &MockHost, name: &str) -> usize {
    host.state
        .borrow()
        .hostcalls
        .iter()
        .filter(|c| **c == name)
        .count()
}

fn response_header(host: &MockHost, name: &str) -> Option<String> {
    host.state
        .borrow()
        .maps
        .get(&MapKind::ResponseHeaders)
        .and_then(|m| m.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

#[test]
fn configure_creates_the_slots_and_the_seed_and_reports_the_mode() {
    let host = host();
    let _root = root(&host, CONFIG);
    let state = host.state.borrow();
    let slots = state
        .shared
        .keys()
        .filter(|k| k.starts_with("tollgate.rate_limit.v1/16/"))
        .count();
    assert_eq!(slots, 16);
    assert!(state.shared.contains_key("tollgate.rate_limit.v1/seed"));
    drop(state);
    assert_eq!(metric(&host, "rate_limit.mode.shared"), 1);
    assert_eq!(metric(&host, "rate_limit.mode.per_worker"), 0);
    assert!(
        host.state
            .borrow()
            .logs
            .iter()
            .any(|(_, m)| m.contains("mode shared on Envoy"))
    );
}

#[test]
fn two_workers_share_one_seed_and_one_budget() {
    let host = host();
    let mut a = root(&host, CONFIG);
    let mut b = root(&host, CONFIG);
    assert_eq!(
        a.config.current().unwrap().seed,
        b.config.current().unwrap().seed
    );
    assert_eq!(run(&host, &mut a).0, HeadersAction::Continue);
    assert_eq!(run(&host, &mut b).0, HeadersAction::Continue);
    assert_eq!(run(&host, &mut a).0, HeadersAction::StopIteration);
    assert_eq!(run(&host, &mut b).0, HeadersAction::StopIteration);
}

#[test]
fn a_refusal_is_a_429_with_headers_and_a_json_body() {
    let host = host();
    let mut root = root(&host, CONFIG);
    let (_, none) = run(&host, &mut root);
    assert!(none.is_none());
    assert_eq!(
        response_header(&host, "ratelimit").as_deref(),
        Some("\"per-ip\";r=1;t=1")
    );
    run(&host, &mut root);
    let (action, reply) = run(&host, &mut root);
    assert_eq!(action, HeadersAction::StopIteration);
    let reply = reply.unwrap();
    assert_eq!(reply.status, 429);
    assert_eq!(reply.details, "tollgate_rate_limit.rate_limited");
    let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(body["error"], "rate_limited");
    let has = |k: &str, v: &str| reply.headers.iter().any(|(hk, hv)| hk == k && hv == v);
    assert!(has("retry-after", "1"), "{:?}", reply.headers);
    assert!(has("ratelimit-policy", "\"per-ip\";q=2;w=1"));
    assert!(has("cache-control", "no-store"));
    assert_eq!(metric(&host, "rate_limit.per-ip.allowed"), 2);
    assert_eq!(metric(&host, "rate_limit.per-ip.denied"), 1);
}

#[test]
fn failing_shared_data_fails_closed_or_open() {
    let host = host();
    let mut closed = root(&host, CONFIG);
    let mut open = root(
        &host,
        &CONFIG.replacen('{', r#"{"failure_mode": "open", "#, 1),
    );
    let broken = host.failing("proxy_get_shared_data", Status::InternalFailure);
    let (action, reply) = run(&broken, &mut closed);
    assert_eq!(action, HeadersAction::StopIteration);
    let reply = reply.unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.details, "tollgate_rate_limit.rate_limit_unavailable");
    assert_eq!(run(&broken, &mut open).0, HeadersAction::Continue);
    assert_eq!(metric(&broken, "rate_limit.errors"), 2);
    assert!(
        broken
            .state
            .borrow()
            .logs
            .iter()
            .any(|(l, _)| *l == LogLevel::Error)
    );
}

#[test]
fn without_shared_data_the_worker_count_decides() {
    // A host that says Envoy but has no shared data: refused without a worker count,
    // per-worker shares with one.
    let host = host().failing("proxy_get_shared_data", Status::Unimplemented);
    let mut r = RateLimitRoot::default();
    let err = r.on_configure(&host, CONFIG.as_bytes()).unwrap_err();
    assert!(err.contains("local.workers"), "{err}");
    let with = CONFIG.replace(r#""max_keys": 16"#, r#""max_keys": 16, "workers": 2"#);
    let mut r = root(&host, &with);
    assert_eq!(metric(&host, "rate_limit.mode.per_worker"), 1);
    // Each worker gets 1 of the 2.
    assert_eq!(run(&host, &mut r).0, HeadersAction::Continue);
    assert_eq!(run(&host, &mut r).0, HeadersAction::StopIteration);
}

#[test]
fn apisix_runs_per_worker_and_never_touches_shared_data() {
    let host = MockHost::apisix()
        .with_headers(
            MapKind::RequestHeaders,
            &[(":method", "GET"), (":path", "/a")],
        )
        .with_property(&["remote_addr"], b"10.0.0.7")
        .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let config = CONFIG.replace(r#""max_keys": 16"#, r#""max_keys": 16, "workers": 1"#);
    let mut r = root(&host, &config);
    assert_eq!(run(&host, &mut r).0, HeadersAction::Continue);
    assert_eq!(run(&host, &mut r).0, HeadersAction::Continue);
    assert_eq!(run(&host, &mut r).0, HeadersAction::StopIteration);
    assert_eq!(calls(&host, "proxy_get_shared_data"), 0);
    assert_eq!(calls(&host, "proxy_set_shared_data"), 0);
}

#[test]
fn a_bad_config_is_refused_with_the_field() {
    let host = host();
    let mut r = RateLimitRoot::default();
    let err = r
        .on_configure(
            &host,
            br#"{"rules": [{"name": "r", "limits": [{"requests": 1, "per": "soon"}]}]}"#,
        )
        .unwrap_err();
    assert!(err.contains("rules[0].limits[0].per"), "{err}");
    assert!(r.new_stream(&host, 2).is_none(), "no config, no stream");
}

#[test]
fn a_path_without_normal_form_is_a_400() {
    let host = MockHost::new()
        .with_headers(
            MapKind::RequestHeaders,
            &[(":method", "GET"), (":path", "/a%2f")],
        )
        .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let mut r = root(&host, CONFIG);
    let (_, reply) = run(&host, &mut r);
    assert_eq!(reply.unwrap().status, 400);
}

// ----- global rules: the rate-limit service -----

const GLOBAL: &str = r#"{"local": {"max_keys": 16},
  "global": {"service": "ratelimit", "domain": "edge", "timeout_ms": 40},
  "rules": [{"name": "per-ip", "key": ["client_address"], "global": true,
             "limits": [{"requests": 2, "per": "1s"}]}]}"#;

fn over_limit_answer(over: bool, remaining: u32) -> Vec<u8> {
    use prost::Message as _;
    let code = if over {
        rls::CODE_OVER_LIMIT
    } else {
        rls::CODE_OK
    };
    rls::RateLimitResponse {
        overall_code: code,
        statuses: vec![rls::DescriptorStatus {
            code,
            current_limit: Some(rls::CurrentLimit {
                requests_per_unit: 2,
                unit: 1,
                name: String::new(),
            }),
            limit_remaining: remaining,
            duration_until_reset: Some(rls::ProtoDuration {
                seconds: 3,
                nanos: 0,
            }),
        }],
    }
    .encode_to_vec()
}

/// Starts a request that waits for the service; returns the stream and its call token.
fn held(host: &MockHost, root: &mut RateLimitRoot) -> (Box<dyn StreamFilter>, u32) {
    let mut s = root.new_stream(host, 2).unwrap();
    assert_eq!(
        s.on_request_headers(host, 3, true),
        HeadersAction::StopIteration
    );
    let token = host.state.borrow().grpc_calls.last().unwrap().0;
    (s, token)
}

#[test]
fn a_global_rule_asks_the_service_and_follows_its_answer() {
    let host = host();
    let mut root = root(&host, GLOBAL);
    assert_eq!(metric(&host, "rate_limit.mode.global"), 1);
    let (mut s, token) = held(&host, &mut root);
    {
        let state = host.state.borrow();
        let (_, service, method, message) = state.grpc_calls.last().unwrap();
        assert_eq!(
            (service.as_str(), method.as_str()),
            (rls::SERVICE, rls::METHOD)
        );
        use prost::Message as _;
        let req = rls::RateLimitRequest::decode(message.as_slice()).unwrap();
        assert_eq!(req.domain, "edge");
        assert_eq!(req.descriptors[0].entries[0].value, "per-ip");
        assert_eq!(req.descriptors[0].entries[1].value.len(), 32);
        assert!(
            !message.windows(8).any(|w| w == b"10.0.0.1"),
            "the address never leaves in clear"
        );
    }
    let ok = over_limit_answer(false, 1);
    host.state
        .borrow_mut()
        .buffers
        .insert(BufferKind::GrpcReceiveBuffer, ok.clone());
    s.on_grpc_message(&host, token, ok.len());
    assert_eq!(host.state.borrow().continued, [StreamKind::Request]);
    s.on_response_headers(&host, 1, false);
    assert_eq!(
        response_header(&host, "ratelimit").as_deref(),
        Some("\"per-ip\";r=1;t=3")
    );
    assert_eq!(metric(&host, "rate_limit.per-ip.allowed"), 1);

    let (mut s, token) = held(&host, &mut root);
    let over = over_limit_answer(true, 0);
    host.state
        .borrow_mut()
        .buffers
        .insert(BufferKind::GrpcReceiveBuffer, over.clone());
    s.on_grpc_message(&host, token, over.len());
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert_eq!(reply.status, 429);
    assert!(
        reply
            .headers
            .iter()
            .any(|(k, v)| k == "retry-after" && v == "3")
    );
    assert_eq!(metric(&host, "rate_limit.per-ip.denied"), 1);
}

#[test]
fn the_pre_check_refuses_without_asking() {
    let host = host();
    let mut root = root(&host, GLOBAL);
    for _ in 0..2 {
        let (mut s, token) = held(&host, &mut root);
        let ok = over_limit_answer(false, 1);
        host.state
            .borrow_mut()
            .buffers
            .insert(BufferKind::GrpcReceiveBuffer, ok.clone());
        s.on_grpc_message(&host, token, ok.len());
    }
    let calls = host.state.borrow().grpc_calls.len();
    let (action, reply) = run(&host, &mut root);
    assert_eq!(action, HeadersAction::StopIteration);
    assert_eq!(reply.unwrap().status, 429);
    assert_eq!(host.state.borrow().grpc_calls.len(), calls, "not asked");
    assert_eq!(metric(&host, "rate_limit.per-ip.pre_checked"), 1);
}

#[test]
fn a_failed_service_follows_the_failure_mode() {
    let host = host();
    let mut closed = root(&host, GLOBAL);
    let (mut s, token) = held(&host, &mut closed);
    s.on_grpc_close(&host, token, 14);
    assert_eq!(host.state.borrow().local_reply.clone().unwrap().status, 503);
    assert_eq!(metric(&host, "rate_limit.errors"), 1);
    assert!(
        host.state
            .borrow()
            .logs
            .iter()
            .any(|(_, m)| m.contains("gRPC status 14"))
    );

    let mut open = root(
        &host,
        &GLOBAL.replacen('{', r#"{"failure_mode": "open", "#, 1),
    );
    host.state.borrow_mut().local_reply = None;
    let (mut s, token) = held(&host, &mut open);
    // A garbled answer is a failure too.
    host.state
        .borrow_mut()
        .buffers
        .insert(BufferKind::GrpcReceiveBuffer, vec![0xff; 3]);
    s.on_grpc_message(&host, token, 3);
    assert!(host.state.borrow().local_reply.is_none());
    assert_eq!(
        host.state.borrow().continued.last(),
        Some(&StreamKind::Request)
    );
    // An answer for another token is not this request's (a second later: the
    // pre-check bucket has refilled).
    host.state.borrow_mut().now = Some(UNIX_EPOCH + Duration::from_secs(1_700_000_010));
    let (mut s, token) = held(&host, &mut open);
    s.on_grpc_close(&host, token + 100, 14);
    assert!(host.state.borrow().local_reply.is_none());
}

#[test]
fn a_call_that_cannot_be_made_follows_the_failure_mode_at_once() {
    let host = host().failing("proxy_grpc_call", Status::BadArgument);
    let mut r = root(&host, GLOBAL);
    let (action, reply) = run(&host, &mut r);
    assert_eq!(action, HeadersAction::StopIteration);
    assert_eq!(reply.unwrap().status, 503);
}

#[test]
fn kong_asks_the_json_endpoint() {
    let host = MockHost::kong()
        .with_headers(
            MapKind::RequestHeaders,
            &[(":method", "GET"), (":path", "/a")],
        )
        .with_property(&["source", "address"], b"10.0.0.1:4000")
        .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let grpc_on_kong = GLOBAL.to_string();
    let mut r = RateLimitRoot::default();
    let err = r.on_configure(&host, grpc_on_kong.as_bytes()).unwrap_err();
    assert!(
        err.contains("global.service") && err.contains("host:port"),
        "{err}"
    );
    let config = GLOBAL.replace(
        r#""service": "ratelimit""#,
        r#""service": "127.0.0.1:8081""#,
    );
    let mut r = root(&host, &config);
    let mut s = r.new_stream(&host, 2).unwrap();
    assert_eq!(
        s.on_request_headers(&host, 3, true),
        HeadersAction::StopIteration
    );
    let call = host.state.borrow().http_calls.last().cloned().unwrap();
    assert_eq!(call.upstream, "127.0.0.1:8081");
    assert!(
        call.headers
            .iter()
            .any(|(k, v)| k == ":path" && v == "/json")
    );
    assert_eq!(call.timeout, Duration::from_millis(40));
    let body = br#"{"overallCode":"OVER_LIMIT","statuses":[{"code":"OVER_LIMIT","durationUntilReset":"2s"}]}"#;
    {
        let mut st = host.state.borrow_mut();
        st.maps.insert(
            MapKind::HttpCallResponseHeaders,
            vec![(":status".into(), "429".into())],
        );
        st.buffers
            .insert(BufferKind::HttpCallResponseBody, body.to_vec());
    }
    s.on_http_call_response(&host, call.token, 1, body.len(), 0);
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert_eq!(reply.status, 429);
    assert!(
        reply
            .headers
            .iter()
            .any(|(k, v)| k == "retry-after" && v == "2")
    );
    // A service answering 500 is a failure (closed: 503).
    host.state.borrow_mut().local_reply = None;
    let mut s = r.new_stream(&host, 3).unwrap();
    s.on_request_headers(&host, 3, true);
    let token = host.state.borrow().http_calls.last().unwrap().token;
    host.state.borrow_mut().maps.insert(
        MapKind::HttpCallResponseHeaders,
        vec![(":status".into(), "500".into())],
    );
    s.on_http_call_response(&host, token, 1, 0, 0);
    assert_eq!(host.state.borrow().local_reply.clone().unwrap().status, 503);
}

#[test]
fn separate_proxies_draw_separate_seeds_and_slots_are_created_once() {
    let (a, b) = (host(), host());
    let ra = root(&a, CONFIG);
    let rb = root(&b, CONFIG);
    assert_ne!(
        ra.config.current().unwrap().seed,
        rb.config.current().unwrap().seed
    );
    let created = |h: &MockHost| {
        h.state
            .borrow()
            .logs
            .iter()
            .filter(|(_, m)| m.contains("bucket slots"))
            .count()
    };
    assert!(logged(&a, "created 16 bucket slots"));
    assert_eq!(created(&a), 1);
    let _again = root(&a, CONFIG);
    assert_eq!(created(&a), 1, "a second worker creates nothing");
}

fn logged(host: &MockHost, text: &str) -> bool {
    host.state
        .borrow()
        .logs
        .iter()
        .any(|(_, m)| m.contains(text))
}

#[test]
fn the_log_and_gauges_say_which_modes_run() {
    // Local and global rules on Envoy: both modes, and the right counts.
    let host = host();
    let mixed = r#"{"global": {"service": "rls"}, "local": {"max_keys": 16}, "rules": [
        {"name": "l", "limits": [{"requests": 1, "per": "1s"}]},
        {"name": "g1", "global": true, "limits": [{"requests": 1, "per": "1s"}]},
        {"name": "g2", "global": true, "limits": [{"requests": 1, "per": "1s"}]}]}"#;
    let _r = root(&host, mixed);
    assert!(logged(&host, "3 rules, mode shared on Envoy"));
    assert!(logged(&host, "mode global: 2 rules enforced"));
    // A service configured but no global rule: no global mode.
    let host = self::host();
    let _r = root(
        &host,
        &CONFIG.replacen('{', r#"{"global": {"service": "rls"}, "#, 1),
    );
    assert_eq!(metric(&host, "rate_limit.mode.global"), 0);
    assert!(!logged(&host, "mode global"));
    // APISIX with only global rules and no worker count: global only, no local mode.
    let apisix = MockHost::apisix().with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let only_global = r#"{"global": {"service": "127.0.0.1:8081"}, "local": {"max_keys": 16},
        "rules": [{"name": "g", "global": true, "limits": [{"requests": 1, "per": "1s"}]}]}"#;
    let _r = root(&apisix, only_global);
    assert_eq!(metric(&apisix, "rate_limit.mode.global"), 1);
    assert_eq!(metric(&apisix, "rate_limit.mode.per_worker"), 0);
    assert!(!logged(&apisix, "mode per_worker"));
}

#[test]
fn a_new_config_counts_under_its_own_rule_names() {
    let host = host();
    let mut r = root(&host, CONFIG);
    run(&host, &mut r);
    r.on_configure(&host, CONFIG.replace("per-ip", "renamed").as_bytes())
        .unwrap();
    run(&host, &mut r);
    assert_eq!(metric(&host, "rate_limit.per-ip.allowed"), 1);
    assert_eq!(metric(&host, "rate_limit.renamed.allowed"), 1);
}
