use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::json;
use tollgate_kit::BufferKind;
use tollgate_kit::mock::MockHost;

const NOW: u64 = 1_700_000_000;

fn sign(kid: &str, claims: serde_json::Value) -> String {
    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "HS256", "kid": kid})),
        b64(claims)
    );
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(b"secret-one-0123456789abcdefghijk").unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn claims() -> serde_json::Value {
    json!({"sub": "alice", "exp": NOW + 600, "password": "hunter2", "tenant": "t1"})
}

const JWKS: &str = r#"{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":"c2VjcmV0LW9uZS0wMTIzNDU2Nzg5YWJjZGVmZ2hpams"}]}"#;

fn inline_config() -> String {
    json!({
        "providers": {"idp": {"keys": {"jwks": serde_json::from_str::<serde_json::Value>(JWKS).unwrap()},
                               "claim_headers": [{"claim": "sub", "header": "x-user"}]}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    })
    .to_string()
}

/// A remote JWKS at `upstream` (`idp:8180` is a cluster name to Envoy, an address to
/// Kong and APISIX).
fn remote_config_at(upstream: &str) -> String {
    json!({
        "providers": {"idp": {"keys": {"remote": {"upstream": upstream, "path": "/jwks", "cache_seconds": 600}}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    })
    .to_string()
}

fn remote_config() -> String {
    remote_config_at("idp:8180")
}

fn host_with(token: Option<&str>) -> MockHost {
    let mut headers = vec![(":method", "GET"), (":path", "/api"), ("x-user", "spoofed")];
    let bearer = token.map(|t| format!("Bearer {t}"));
    if let Some(b) = bearer.as_deref() {
        headers.push(("authorization", b));
    }
    MockHost::new()
        .with_headers(MapKind::RequestHeaders, &headers)
        .with_time(UNIX_EPOCH + Duration::from_secs(NOW))
}

fn header_of(host: &MockHost, name: &str) -> Option<String> {
    host.state.borrow().maps[&MapKind::RequestHeaders]
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn metric(host: &MockHost, name: &str) -> u64 {
    host.state
        .borrow()
        .metrics
        .values()
        .find(|(_, n, _)| n == name)
        .map_or(0, |(_, _, v)| *v)
}

/// A host built by `base` with a `GET /api` request and the clock at `NOW`.
fn request_host(base: MockHost) -> MockHost {
    base.with_headers(
        MapKind::RequestHeaders,
        &[(":method", "GET"), (":path", "/api")],
    )
    .with_time(UNIX_EPOCH + Duration::from_secs(NOW))
}

/// A root configured with `config` on `host`.
fn configured(host: &MockHost, config: &str) -> JwtAuthRoot {
    let mut root = JwtAuthRoot::default();
    root.on_configure(host, config.as_bytes()).unwrap();
    root
}

#[test]
fn allows_and_rewrites_the_request() {
    let token = sign("k1", claims());
    let host = host_with(Some(&token));
    let mut root = configured(&host, &inline_config());
    let mut stream = root.new_stream(&host, 2).unwrap();
    assert_eq!(
        stream.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    assert_eq!(
        header_of(&host, "x-user").as_deref(),
        Some("alice"),
        "spoofed copy replaced"
    );
    assert_eq!(header_of(&host, "authorization"), None, "token stripped");
    let payload = header_of(&host, "x-tollgate-jwt-payload").unwrap();
    let shown = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert!(
        shown.contains("alice") && !shown.contains("hunter2"),
        "{shown}"
    );
    let credentials =
        host.state.borrow().properties[&vec![CREDENTIALS_PROPERTY.to_string()]].clone();
    assert!(String::from_utf8(credentials).unwrap().contains("hunter2"));
    assert_eq!(metric(&host, "jwt_auth.provider.idp.allowed"), 1);
    // One header read for the whole decision.
    let reads = host
        .state
        .borrow()
        .hostcalls
        .iter()
        .filter(|c| c.contains("header_map_pairs"))
        .count();
    assert_eq!(reads, 1);
}

#[test]
fn denies_with_rfc6750_and_json_without_echoing_the_token() {
    let mut c = claims();
    c["exp"] = json!(NOW - 3600);
    let token = sign("k1", c);
    let host = host_with(Some(&token));
    let mut root = configured(&host, &inline_config());
    let mut stream = held(&mut root, &host, 2);
    assert_eq!(
        stream.on_request_body(&host, 10, true),
        BodyAction::StopNoBuffer
    );
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert_eq!(reply.status, 401);
    let www = reply
        .headers
        .iter()
        .find(|(k, _)| k == "www-authenticate")
        .unwrap();
    assert!(
        www.1
            .starts_with("Bearer realm=\"tollgate\", error=\"invalid_token\""),
        "{}",
        www.1
    );
    let body = String::from_utf8(reply.body).unwrap();
    assert!(body.contains("\"error\":\"token_expired\""), "{body}");
    assert!(!body.contains(&token) && !www.1.contains(&token));
    assert_eq!(
        metric(&host, "jwt_auth.provider.idp.denied.token_expired"),
        1
    );

    let missing = host_with(None);
    let mut stream = root.new_stream(&missing, 3).unwrap();
    stream.on_request_headers(&missing, 3, true);
    assert_eq!(metric(&missing, "jwt_auth.denied.token_missing"), 1);
}

#[test]
fn bad_config_is_rejected_with_its_path() {
    let host = MockHost::new();
    let mut root = JwtAuthRoot::default();
    let err = root
        .on_configure(
            &host,
            br#"{"providers": {"idp": {"keys": {"jwks": {"keys": []}}}}}"#,
        )
        .unwrap_err();
    assert!(err.contains("providers.idp.keys.jwks"), "{err}");
    assert!(root.new_stream(&host, 2).is_none(), "no config, no streams");
}

fn answer(host: &MockHost, status: &str, body: &[u8]) {
    let mut s = host.state.borrow_mut();
    s.maps.insert(
        MapKind::HttpCallResponseHeaders,
        vec![(":status".into(), status.into())],
    );
    s.buffers
        .insert(BufferKind::HttpCallResponseBody, body.to_vec());
}

fn set_token(host: &MockHost, token: &str) {
    let mut s = host.state.borrow_mut();
    let map = s.maps.get_mut(&MapKind::RequestHeaders).unwrap();
    map.retain(|(k, _)| k != "authorization");
    map.push(("authorization".into(), format!("Bearer {token}")));
}

fn set_time(host: &MockHost, secs: u64) {
    host.state.borrow_mut().now = Some(UNIX_EPOCH + Duration::from_secs(secs));
}

/// `base` with a `GET /api` request carrying a signed token, and a root with remote keys.
fn remote_on(base: MockHost) -> (MockHost, JwtAuthRoot) {
    let host = request_host(base);
    set_token(&host, &sign("k1", claims()));
    let root = configured(&host, &remote_config());
    (host, root)
}

/// A new stream `id` for the host's current request, held after its headers.
fn held(root: &mut JwtAuthRoot, host: &MockHost, id: u32) -> Box<dyn StreamFilter> {
    let mut stream = root.new_stream(host, id).unwrap();
    assert_eq!(
        stream.on_request_headers(host, 4, true),
        HeadersAction::StopIteration
    );
    stream
}

#[test]
fn remote_keys_first_request_waits_for_the_fetch() {
    let apisix = request_host(MockHost::apisix());
    for host in [host_with(None), apisix] {
        let token = sign("k1", claims());
        host.state
            .borrow_mut()
            .maps
            .get_mut(&MapKind::RequestHeaders)
            .unwrap()
            .push(("authorization".into(), format!("Bearer {token}")));
        let mut root = configured(&host, &remote_config());
        let mut stream = root.new_stream(&host, 2).unwrap();
        assert_eq!(
            stream.on_request_headers(&host, 4, true),
            HeadersAction::StopIteration
        );
        assert_eq!(
            stream.on_request_body(&host, 4, false),
            BodyAction::StopAndBuffer
        );
        let call = host.state.borrow().http_calls[0].clone();
        assert_eq!(call.upstream, "idp:8180");
        assert!(call.headers.contains(&(":path".into(), "/jwks".into())));
        answer(&host, "200", JWKS.as_bytes());
        stream.on_http_call_response(&host, call.token, 1, JWKS.len(), 0);
        assert_eq!(host.state.borrow().continued, vec![StreamKind::Request]);
        assert!(host.state.borrow().local_reply.is_none());
        assert!(header_of(&host, "x-tollgate-jwt-payload").is_some());
        assert_eq!(metric(&host, "jwt_auth.jwks.idp.fetch_ok"), 1);
    }
}

#[test]
fn jwks_outage_keeps_the_last_good_keys() {
    let token = sign("k1", claims());
    let host = host_with(Some(&token));
    let mut root = configured(&host, &remote_config());
    root.on_tick(&host);
    let first = host.state.borrow().http_calls[0].token;
    answer(&host, "200", JWKS.as_bytes());
    root.on_http_call_response(&host, first, 1, JWKS.len(), 0);
    // 80% of the cache time later a background refresh starts, and fails with garbage.
    set_time(&host, NOW + 481);
    root.on_tick(&host);
    let second = host.state.borrow().http_calls[1].token;
    answer(&host, "200", b"<html>oops</html>");
    root.on_http_call_response(&host, second, 1, 17, 0);
    assert_eq!(metric(&host, "jwt_auth.jwks.idp.fetch_invalid"), 1);
    // Past the cache time, requests still verify with the last good keys.
    set_time(&host, NOW + 700);
    let mut c = claims();
    c["exp"] = json!(NOW + 900);
    let token = sign("k1", c);
    set_token(&host, &token);
    let mut stream = root.new_stream(&host, 5).unwrap();
    assert_eq!(
        stream.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    // The failure holds the other workers back (shared lock with a backoff).
    let lock = host
        .state
        .borrow()
        .shared
        .iter()
        .find(|(k, _)| k.ends_with(".lock"))
        .map(|(_, (v, _))| String::from_utf8(v.clone()).unwrap())
        .unwrap();
    assert!(lock.ends_with(",1"), "{lock}");
}

#[test]
fn unknown_kid_refetches_once_then_is_refused() {
    let host = host_with(None);
    let mut root = configured(&host, &remote_config());
    root.on_tick(&host);
    let t = host.state.borrow().http_calls[0].token;
    answer(&host, "200", JWKS.as_bytes());
    root.on_http_call_response(&host, t, 1, JWKS.len(), 0);
    let token = sign("rotated", claims());
    set_token(&host, &token);
    set_time(&host, NOW + 5);
    let mut stream = held(&mut root, &host, 2);
    assert_eq!(
        host.state.borrow().http_calls.len(),
        2,
        "refetch for the unknown kid"
    );
    let t = host.state.borrow().http_calls[1].token;
    stream.on_http_call_response(&host, t, 1, JWKS.len(), 0);
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert_eq!(reply.status, 401);
    assert!(
        String::from_utf8(reply.body)
            .unwrap()
            .contains("kid_unknown")
    );
    // A second unknown-kid token within the interval is refused without a fetch.
    host.state.borrow_mut().local_reply = None;
    let _stream = held(&mut root, &host, 3);
    assert_eq!(host.state.borrow().http_calls.len(), 2);
    assert!(host.state.borrow().local_reply.is_some());
}

#[test]
fn cached_tokens_skip_verification_but_not_expiry() {
    let token = sign("k1", json!({"sub": "a", "exp": NOW + 10}));
    let host = host_with(Some(&token));
    let mut root = configured(&host, &inline_config());
    for id in 2..5 {
        set_token(&host, &token);
        let mut s = root.new_stream(&host, id).unwrap();
        assert_eq!(
            s.on_request_headers(&host, 4, true),
            HeadersAction::Continue
        );
    }
    let current = root.shared.current().unwrap();
    let shared = current.borrow();
    assert_eq!((shared.cache.hits, shared.cache.misses), (2, 1));
    drop(shared);
    set_time(&host, NOW + 71);
    set_token(&host, &token);
    let _s = held(&mut root, &host, 9);
}

/// On hosts that ignore `proxy_set_effective_context` (APISIX, Kong) a waiting request
/// is only ever answered from its own callbacks: each fetches for itself, and neither
/// another stream nor the root decides it.
fn each_waiting_request_owns_its_fetch(host: MockHost, ticks: bool) {
    set_token(&host, &sign("k1", claims()));
    let mut root = configured(&host, &remote_config());
    if ticks {
        root.on_tick(&host);
    }
    let mut a = held(&mut root, &host, 2);
    let mut b = held(&mut root, &host, 3);
    let calls: Vec<u32> = host
        .state
        .borrow()
        .http_calls
        .iter()
        .map(|c| c.token)
        .collect();
    let expected = if ticks { 3 } else { 2 };
    assert_eq!(calls.len(), expected, "B made its own fetch: {calls:?}");
    // Time passes (within the callouts' timeout) and the root ticks: nobody is
    // answered from the root, nor from another request.
    set_time(&host, NOW + 2);
    root.on_tick(&host);
    let mut c = root.new_stream(&host, 4).unwrap();
    let _ = c.on_request_headers(&host, 4, true);
    assert!(host.state.borrow().continued.is_empty());
    host.state.borrow_mut().local_reply = None;
    // B's own callout answers: B (and only B) goes on.
    answer(&host, "200", JWKS.as_bytes());
    let b_call = calls[expected - 1];
    b.on_http_call_response(&host, b_call, 1, JWKS.len(), 0);
    assert_eq!(host.state.borrow().continued, vec![StreamKind::Request]);
    assert!(host.state.borrow().local_reply.is_none());
    // A's own callout fails, but the keys are here now: A goes on too.
    answer(&host, "503", b"");
    a.on_http_call_response(&host, calls[expected - 2], 0, 0, 0);
    assert_eq!(host.state.borrow().continued.len(), 2);
    assert!(host.state.borrow().local_reply.is_none());
}

#[test]
fn on_apisix_each_waiting_request_owns_its_fetch() {
    each_waiting_request_owns_its_fetch(request_host(MockHost::apisix()), false);
}

#[test]
fn on_kong_each_waiting_request_owns_its_fetch() {
    each_waiting_request_owns_its_fetch(request_host(MockHost::kong()), true);
}

/// A JWKS with a second key: the same document plus `k2`.
const JWKS_ROTATED: &str = r#"{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":"c2VjcmV0LW9uZS0wMTIzNDU2Nzg5YWJjZGVmZ2hpams"},{"kty":"oct","kid":"k2","alg":"HS256","k":"c2VjcmV0LW9uZS0wMTIzNDU2Nzg5YWJjZGVmZ2hpams"}]}"#;

/// Answers the latest JWKS callout of `root` with `body`.
fn answer_latest(host: &MockHost, root: &mut JwtAuthRoot, body: &str) {
    let call = host.state.borrow().http_calls.last().unwrap().token;
    // The same keys in another order of members: still the same key set.
    answer(host, "200", body.as_bytes());
    root.on_http_call_response(host, call, 1, body.len(), 0);
}

fn cache_len(root: &JwtAuthRoot) -> usize {
    root.shared.current().unwrap().borrow().cache.len()
}

#[test]
fn a_refresh_with_the_same_keys_keeps_the_token_cache() {
    let token = sign("k1", claims());
    let host = host_with(Some(&token));
    let mut root = configured(&host, &remote_config());
    root.on_tick(&host);
    answer_latest(&host, &mut root, JWKS);
    let mut s = root.new_stream(&host, 2).unwrap();
    assert_eq!(
        s.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    assert_eq!(cache_len(&root), 1);
    // Background refresh, same keys (members reordered): the cache stays.
    set_time(&host, NOW + 481);
    root.on_tick(&host);
    assert_eq!(host.state.borrow().http_calls.len(), 2);
    let reordered = r#"{"keys":[{"k":"c2VjcmV0LW9uZS0wMTIzNDU2Nzg5YWJjZGVmZ2hpams","alg":"HS256","kid":"k1","kty":"oct"}]}"#;
    answer_latest(&host, &mut root, reordered);
    assert_eq!(metric(&host, "jwt_auth.jwks.idp.fetch_ok"), 2);
    assert_eq!(
        cache_len(&root),
        1,
        "same keys: verified tokens still count"
    );
    // Next refresh brings another key set: verified tokens are forgotten.
    set_time(&host, NOW + 962);
    root.on_tick(&host);
    answer_latest(&host, &mut root, JWKS_ROTATED);
    assert_eq!(cache_len(&root), 0, "new keys: verify again");
}

#[test]
fn a_worker_that_lost_the_fetch_race_adopts_the_published_keys_on_its_next_tick() {
    // Two roots on one host share its shared data, as two worker VMs do.
    let token = sign("k2", claims());
    let host = host_with(Some(&token));
    let mut winner = configured(&host, &remote_config());
    let mut loser = configured(&host, &remote_config());
    winner.on_tick(&host);
    answer_latest(&host, &mut winner, JWKS);
    loser.on_tick(&host);
    // The issuer rotates; a new-kid token reaches the winner, which takes the lock.
    set_time(&host, NOW + 40);
    let mut first = winner.new_stream(&host, 2).unwrap();
    assert_eq!(
        first.on_request_headers(&host, 4, true),
        HeadersAction::StopIteration
    );
    let calls = host.state.borrow().http_calls.len();
    // The same token reaches the loser while the fetch is in flight: it waits.
    let mut second = loser.new_stream(&host, 3).unwrap();
    assert_eq!(
        second.on_request_headers(&host, 4, true),
        HeadersAction::StopIteration
    );
    assert_eq!(
        host.state.borrow().http_calls.len(),
        calls,
        "one fetch for both"
    );
    assert_eq!(
        host.state.borrow().tick_period,
        Some(WAITING_TICK),
        "ticks faster while waiting"
    );
    let call = host.state.borrow().http_calls.last().unwrap().token;
    answer(&host, "200", JWKS_ROTATED.as_bytes());
    first.on_http_call_response(&host, call, 1, JWKS_ROTATED.len(), 0);
    host.state.borrow_mut().continued.clear();
    // 50 ms later the loser's tick finds the published keys and lets its request go.
    set_time(&host, NOW + 40);
    loser.on_tick(&host);
    assert_eq!(host.state.borrow().continued, vec![StreamKind::Request]);
    assert!(host.state.borrow().local_reply.is_none());
    assert_eq!(metric(&host, "jwt_auth.jwks.idp.adopted"), 2);
    assert_eq!(
        host.state.borrow().tick_period,
        Some(TICK),
        "back to the slow tick"
    );
}

fn hostcalls(host: &MockHost, name: &str) -> usize {
    host.state
        .borrow()
        .hostcalls
        .iter()
        .filter(|c| **c == name)
        .count()
}

#[test]
fn refusals_are_logged_at_debug_with_code_provider_and_rule() {
    let mut c = claims();
    c["exp"] = json!(NOW - 3600);
    let token = sign("k1", c);
    let host = host_with(Some(&token));
    let mut root = configured(&host, &inline_config());
    let mut stream = root.new_stream(&host, 2).unwrap();
    stream.on_request_headers(&host, 4, true);
    let logs = host.state.borrow().logs.clone();
    assert!(
        logs.contains(&(
            LogLevel::Debug,
            "jwt-auth: denied 401 token_expired, provider idp, rules[0]".into()
        )),
        "{logs:?}"
    );
    assert!(!format!("{logs:?}").contains(&token));
    assert_eq!(
        stream.on_request_trailers(&host, 1),
        TrailersAction::StopIteration
    );
}

#[test]
fn only_headers_present_are_removed_and_trailers_follow_a_pass() {
    let token = sign("k1", claims());
    let host = host_with(Some(&token));
    let mut root = configured(&host, &inline_config());
    let mut stream = root.new_stream(&host, 2).unwrap();
    assert_eq!(
        stream.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    // x-user (spoofed) and the token header were there; the payload header was not.
    assert_eq!(hostcalls(&host, "proxy_remove_header_map_value"), 2);
    assert_eq!(
        stream.on_request_trailers(&host, 1),
        TrailersAction::Continue
    );
    assert_eq!(stream.on_request_body(&host, 1, true), BodyAction::Continue);
}

#[test]
fn a_host_that_cannot_rewrite_headers_fails_closed() {
    let token = sign("k1", claims());
    let host = request_host(MockHost::without(&["proxy_replace_header_map_value"]));
    set_token(&host, &token);
    let mut root = configured(&host, &inline_config());
    let _stream = held(&mut root, &host, 2);
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert_eq!(reply.status, 500);
    assert!(String::from_utf8(reply.body).unwrap().contains("internal"));
}

#[test]
fn unreadable_headers_fail_closed() {
    let host = MockHost::without(&["proxy_get_header_map_pairs"]);
    let mut root = configured(&host, &inline_config());
    let _stream = held(&mut root, &host, 2);
    assert_eq!(
        host.state.borrow().local_reply.as_ref().unwrap().status,
        500
    );
    assert!(
        host.state
            .borrow()
            .logs
            .iter()
            .any(|(l, m)| *l == LogLevel::Error && m.contains("cannot read the request headers"))
    );
}

#[test]
fn a_host_without_properties_is_warned_about_once() {
    let token = sign("k1", claims());
    let host = request_host(MockHost::without(&["proxy_set_property"]));
    let mut root = configured(&host, &inline_config());
    for id in 2..5 {
        set_token(&host, &token);
        let mut stream = root.new_stream(&host, id).unwrap();
        assert_eq!(
            stream.on_request_headers(&host, 4, true),
            HeadersAction::Continue
        );
    }
    let warned = host
        .state
        .borrow()
        .logs
        .iter()
        .filter(|(_, m)| m.contains("cannot pass credentials"))
        .count();
    assert_eq!(warned, 1);
}

#[test]
fn inline_keys_need_no_timer() {
    let host = host_with(None);
    let root = configured(&host, &inline_config());
    assert!(root.config().is_some());
    assert_eq!(host.state.borrow().tick_period, None);
    let remote = host_with(None);
    configured(&remote, &remote_config());
    assert_eq!(remote.state.borrow().tick_period, Some(TICK));
}

#[test]
fn a_waiting_request_is_not_given_up_before_its_wait_runs_out() {
    let host = host_with(Some(&sign("k1", claims())));
    let mut root = configured(&host, &remote_config());
    let _stream = held(&mut root, &host, 2);
    // A second waiting request does not set the tick again.
    let _other = held(&mut root, &host, 3);
    assert_eq!(
        hostcalls(&host, "proxy_set_tick_period_milliseconds"),
        2,
        "configure, then fast"
    );
    // A tick while the fetch is under way changes nothing for the waiting requests,
    // and keeps the fast tick.
    set_time(&host, NOW + 1);
    root.on_tick(&host);
    assert!(host.state.borrow().local_reply.is_none());
    assert!(host.state.borrow().continued.is_empty());
    assert_eq!(host.state.borrow().tick_period, Some(WAITING_TICK));
    assert_eq!(hostcalls(&host, "proxy_set_tick_period_milliseconds"), 2);
    // Past the wait (timeout + 1.5 s) it is answered: no keys yet.
    set_time(&host, NOW + 4);
    root.on_tick(&host);
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert!(String::from_utf8(reply.body).unwrap().contains("no_keys"));
}

#[test]
fn without_a_timer_a_due_refresh_starts_on_the_request_path() {
    let (host, mut root) = remote_on(MockHost::apisix());
    let mut first = held(&mut root, &host, 2);
    let call = host.state.borrow().http_calls[0].token;
    answer(&host, "200", JWKS.as_bytes());
    first.on_http_call_response(&host, call, 1, JWKS.len(), 0);
    // Fresh keys: the next request goes straight through.
    set_token(&host, &sign("k1", claims()));
    let mut second = root.new_stream(&host, 3).unwrap();
    assert_eq!(
        second.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    assert_eq!(host.state.borrow().http_calls.len(), 1);
    // At 80 % of the cache time the request that notices waits for the refresh.
    set_time(&host, NOW + 481);
    set_token(&host, &sign("k1", claims()));
    let _third = held(&mut root, &host, 4);
    assert_eq!(host.state.borrow().http_calls.len(), 2);
}

/// Two remote providers with different JWKS URLs: each fetched on its own, under its
/// own shared-data entries.
#[test]
fn each_remote_provider_has_its_own_fetch_and_entries() {
    let config = json!({
        "providers": {
            "a": {"keys": {"remote": {"upstream": "idp", "path": "/a"}}},
            "b": {"keys": {"remote": {"upstream": "idp", "path": "/b"}}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "a"}}]
    })
    .to_string();
    let host = host_with(None);
    let mut root = configured(&host, &config);
    root.on_tick(&host);
    let paths: Vec<String> = host
        .state
        .borrow()
        .http_calls
        .iter()
        .filter_map(|c| {
            c.headers
                .iter()
                .find(|(k, _)| k == ":path")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert_eq!(paths, ["/a", "/b"]);
    let locks: std::collections::BTreeSet<String> = host
        .state
        .borrow()
        .shared
        .keys()
        .filter(|k| k.ends_with(".lock"))
        .cloned()
        .collect();
    assert_eq!(locks.len(), 2, "{locks:?}");
}

#[test]
fn a_failure_backoff_held_by_another_worker_is_not_waited_for() {
    // Another worker's fetch failed: the lock holds a backoff, nothing is coming.
    let host = host_with(None);
    let mut root = configured(&host, &remote_config());
    root.on_tick(&host);
    let call = host.state.borrow().http_calls[0].token;
    answer(&host, "200", JWKS.as_bytes());
    root.on_http_call_response(&host, call, 1, JWKS.len(), 0);
    let lock = host
        .state
        .borrow()
        .shared
        .keys()
        .find(|k| k.ends_with(".lock"))
        .cloned()
        .unwrap();
    let until = (NOW + 100) * 1000;
    host.state
        .borrow_mut()
        .shared
        .insert(lock.clone(), (format!("{until},3").into_bytes(), 7));
    set_token(&host, &sign("rotated", claims()));
    set_time(&host, NOW + 31);
    let _stream = held(&mut root, &host, 2);
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert!(
        String::from_utf8(reply.body)
            .unwrap()
            .contains("kid_unknown")
    );
    // A fetch lock (no failures) is waited for.
    host.state
        .borrow_mut()
        .shared
        .insert(lock, (format!("{until},0").into_bytes(), 8));
    host.state.borrow_mut().local_reply = None;
    set_time(&host, NOW + 62);
    let _stream = held(&mut root, &host, 3);
    assert!(
        host.state.borrow().local_reply.is_none(),
        "waits for the other worker"
    );
}

#[test]
fn a_worker_that_adopts_a_changed_key_set_forgets_its_verified_tokens() {
    let token = sign("k1", claims());
    let host = host_with(Some(&token));
    let mut a = configured(&host, &remote_config());
    let mut b = configured(&host, &remote_config());
    a.on_tick(&host);
    answer_latest(&host, &mut a, JWKS);
    b.on_tick(&host);
    let mut s = b.new_stream(&host, 2).unwrap();
    assert_eq!(
        s.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    assert_eq!(cache_len(&b), 1);
    // A refreshes and publishes the same keys: B keeps its cache.
    set_time(&host, NOW + 481);
    a.on_tick(&host);
    answer_latest(&host, &mut a, JWKS);
    b.on_tick(&host);
    assert_eq!(cache_len(&b), 1);
    // A publishes a changed set: B forgets.
    set_time(&host, NOW + 962);
    a.on_tick(&host);
    answer_latest(&host, &mut a, JWKS_ROTATED);
    b.on_tick(&host);
    assert_eq!(cache_len(&b), 0);
}

#[test]
fn an_oversized_jwks_is_refused_unread() {
    let host = host_with(None);
    let mut root = configured(&host, &remote_config());
    root.on_tick(&host);
    let call = host.state.borrow().http_calls[0].token;
    answer(&host, "200", JWKS.as_bytes());
    root.on_http_call_response(&host, call, 1, (1 << 20) + 1, 0);
    assert_eq!(metric(&host, "jwt_auth.jwks.idp.fetch_invalid"), 1);
    assert_eq!(hostcalls(&host, "proxy_get_buffer_bytes"), 0, "never read");
}

/// A host with the inline-keys request of [`host_with`], detected as Kong.
fn kong_with(token: &str, spoof: bool) -> MockHost {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![
        (":method", "GET"),
        (":path", "/api"),
        ("authorization", bearer.as_str()),
    ];
    if spoof {
        headers.push(("X-User", "spoofed"));
    }
    MockHost::kong()
        .with_headers(MapKind::RequestHeaders, &headers)
        .with_time(UNIX_EPOCH + Duration::from_secs(NOW))
}

#[test]
fn on_kong_a_stripped_token_is_emptied_in_place() {
    let host = kong_with(&sign("k1", claims()), false);
    let mut root = configured(&host, &inline_config());
    let mut s = root.new_stream(&host, 2).unwrap();
    assert_eq!(
        s.on_request_headers(&host, 3, true),
        HeadersAction::Continue
    );
    assert_eq!(header_of(&host, "authorization").as_deref(), Some(""));
    assert_eq!(header_of(&host, "x-user").as_deref(), Some("alice"));
    // The credentials go where Kong keeps a filter's properties for the next filter.
    let props = &host.state.borrow().properties;
    assert!(props.contains_key(&vec!["wasmx".to_string(), CREDENTIALS_PROPERTY.to_string()]));
}

#[test]
fn on_kong_a_request_carrying_an_owned_header_is_refused() {
    let host = kong_with(&sign("k1", claims()), true);
    let mut root = configured(&host, &inline_config());
    let _s = held(&mut root, &host, 2);
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert_eq!(reply.status, 400);
    let body = String::from_utf8(reply.body).unwrap();
    assert!(
        body.contains("header_not_removable") && body.contains("`x-user`"),
        "{body}"
    );
    assert_eq!(hostcalls(&host, "proxy_replace_header_map_value"), 0);
    assert_eq!(hostcalls(&host, "proxy_remove_header_map_value"), 0);
}

#[test]
fn on_envoy_the_credentials_property_is_a_plain_name() {
    let host = host_with(Some(&sign("k1", claims())));
    let mut root = configured(&host, &inline_config());
    let mut s = root.new_stream(&host, 2).unwrap();
    assert_eq!(
        s.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    let props = &host.state.borrow().properties;
    assert!(props.contains_key(&vec![CREDENTIALS_PROPERTY.to_string()]));
    assert_eq!(header_of(&host, "authorization"), None);
}

#[test]
fn on_apisix_a_cluster_name_as_jwks_upstream_is_refused_at_configure_time() {
    let host = request_host(MockHost::apisix());
    let mut root = JwtAuthRoot::default();
    let err = root
        .on_configure(&host, remote_config_at("idp").as_bytes())
        .unwrap_err();
    assert!(err.contains("providers.idp.keys.remote.upstream"), "{err}");
    assert!(err.contains("host:port"), "{err}");
    for bad in ["idp:", "idp:0", "idp:http"] {
        assert!(
            root.on_configure(&host, remote_config_at(bad).as_bytes())
                .is_err(),
            "{bad}"
        );
    }
    assert!(root.on_configure(&host, remote_config().as_bytes()).is_ok());
    // Envoy and Kong take a name.
    for base in [MockHost::new(), MockHost::kong()] {
        let mut root = JwtAuthRoot::default();
        let host = request_host(base);
        assert!(
            root.on_configure(&host, remote_config_at("idp").as_bytes())
                .is_ok()
        );
    }
}

#[test]
fn a_callout_whose_answer_never_comes_is_forgotten_after_its_deadline() {
    let (host, mut root) = remote_on(MockHost::apisix());
    let a = held(&mut root, &host, 2);
    let b = held(&mut root, &host, 3);
    // The clients go away; their callouts are never answered to anyone.
    drop((a, b));
    let awaited = |root: &JwtAuthRoot| root.shared.current().unwrap().borrow().fetcher.awaited();
    assert_eq!(awaited(&root), 2);
    // Past the callouts' timeout, the next fetch finds them gone.
    set_time(&host, NOW + 4);
    set_token(&host, &sign("k1", claims()));
    let _c = held(&mut root, &host, 4);
    assert_eq!(awaited(&root), 1, "only C's callout is awaited");
}

#[test]
fn on_kong_a_query_token_source_is_refused_at_configure_time() {
    let config = json!({
        "providers": {"idp": {"keys": {"jwks": serde_json::from_str::<serde_json::Value>(JWKS).unwrap()},
                               "from": [{"header": "authorization", "prefix": "Bearer "}, {"query": "access_token"}]}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    })
    .to_string();
    let mut root = JwtAuthRoot::default();
    let err = root
        .on_configure(&request_host(MockHost::kong()), config.as_bytes())
        .unwrap_err();
    assert!(
        err.contains("providers.idp.from[1]") && err.contains("query"),
        "{err}"
    );
    for base in [MockHost::new(), MockHost::apisix()] {
        let mut root = JwtAuthRoot::default();
        assert!(
            root.on_configure(&request_host(base), config.as_bytes())
                .is_ok()
        );
    }
}

#[test]
fn without_a_timer_only_the_request_that_started_a_refresh_waits_for_it() {
    let (host, mut root) = remote_on(MockHost::apisix());
    let mut first = root.new_stream(&host, 2).unwrap();
    let _ = first.on_request_headers(&host, 4, true);
    let call = host.state.borrow().http_calls[0].token;
    answer(&host, "200", JWKS.as_bytes());
    first.on_http_call_response(&host, call, 1, JWKS.len(), 0);
    set_time(&host, NOW + 481);
    let _second = held(&mut root, &host, 3);
    // The refresh is under way, made by `second`: a third request uses the keys it has.
    set_token(&host, &sign("k1", claims()));
    let mut third = root.new_stream(&host, 4).unwrap();
    assert_eq!(
        third.on_request_headers(&host, 4, true),
        HeadersAction::Continue
    );
    assert_eq!(host.state.borrow().http_calls.len(), 2);
}

#[test]
fn on_envoy_a_fetch_the_root_made_wakes_every_request_waiting_for_it() {
    let host = host_with(Some(&sign("k1", claims())));
    let mut root = configured(&host, &remote_config());
    // The tick starts the first fetch, from the root.
    root.on_tick(&host);
    let root_call = host.state.borrow().http_calls[0].token;
    let _a = held(&mut root, &host, 2);
    let _b = held(&mut root, &host, 3);
    assert_eq!(
        host.state.borrow().http_calls.len(),
        1,
        "both joined the root's fetch"
    );
    let switches = hostcalls(&host, "proxy_set_effective_context");
    answer(&host, "200", JWKS.as_bytes());
    root.on_http_call_response(&host, root_call, 1, JWKS.len(), 0);
    assert_eq!(host.state.borrow().continued.len(), 2);
    // One switch into each waiting stream.
    assert_eq!(
        hostcalls(&host, "proxy_set_effective_context") - switches,
        2
    );
}

#[test]
fn a_stream_woken_by_its_own_callout_needs_no_context_switch() {
    let (host, mut root) = remote_on(MockHost::apisix());
    let mut a = root.new_stream(&host, 2).unwrap();
    let _ = a.on_request_headers(&host, 4, true);
    let call = host.state.borrow().http_calls[0].token;
    let switches = hostcalls(&host, "proxy_set_effective_context");
    answer(&host, "200", JWKS.as_bytes());
    a.on_http_call_response(&host, call, 1, JWKS.len(), 0);
    assert_eq!(host.state.borrow().continued, vec![StreamKind::Request]);
    assert_eq!(hostcalls(&host, "proxy_set_effective_context"), switches);
}

#[test]
fn a_waiting_request_that_goes_away_is_not_kept() {
    let (host, mut root) = remote_on(MockHost::apisix());
    let mut a = root.new_stream(&host, 2).unwrap();
    let _ = a.on_request_headers(&host, 4, true);
    let mut b = root.new_stream(&host, 3).unwrap();
    let _ = b.on_request_headers(&host, 4, true);
    drop(a);
    let b_call = host.state.borrow().http_calls[1].token;
    answer(&host, "200", JWKS.as_bytes());
    b.on_http_call_response(&host, b_call, 1, JWKS.len(), 0);
    let waiters = root.shared.current().unwrap().borrow().waiters.len();
    assert_eq!(waiters, 0);
}

#[test]
fn only_apisix_is_told_which_variable_to_declare() {
    for (base, hint) in [(MockHost::apisix(), true), (MockHost::kong(), false)] {
        let host = request_host(base.failing("proxy_set_property", tollgate_kit::Status::NotFound));
        set_token(&host, &sign("k1", claims()));
        let mut root = configured(&host, &inline_config());
        let mut s = root.new_stream(&host, 2).unwrap();
        let _ = s.on_request_headers(&host, 4, true);
        let logs = host.state.borrow().logs.clone();
        let warning = logs
            .iter()
            .find(|(_, m)| m.contains("cannot pass credentials"))
            .map(|(_, m)| m.clone())
            .unwrap();
        assert_eq!(
            warning.contains("set $tollgate_credentials ''"),
            hint,
            "{warning}"
        );
    }
}

#[test]
fn on_envoy_a_streams_own_fetch_wakes_the_others_and_returns_to_it() {
    let host = host_with(Some(&sign("k1", claims())));
    let mut root = configured(&host, &remote_config());
    let mut a = held(&mut root, &host, 2);
    let _b = held(&mut root, &host, 3);
    let call = host.state.borrow().http_calls[0].token;
    let switches = hostcalls(&host, "proxy_set_effective_context");
    answer(&host, "200", JWKS.as_bytes());
    a.on_http_call_response(&host, call, 1, JWKS.len(), 0);
    assert_eq!(host.state.borrow().continued.len(), 2);
    // Into B, then back to A (whose callback this is).
    assert_eq!(
        hostcalls(&host, "proxy_set_effective_context") - switches,
        2
    );
}
