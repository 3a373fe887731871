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

fn remote_config() -> String {
    json!({
        "providers": {"idp": {"keys": {"remote": {"upstream": "idp", "path": "/jwks", "cache_seconds": 600}}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    })
    .to_string()
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
    let mut stream = root.new_stream(&host, 2).unwrap();
    assert_eq!(
        stream.on_request_headers(&host, 4, true),
        HeadersAction::StopIteration
    );
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

#[test]
fn remote_keys_first_request_waits_for_the_fetch() {
    let apisix = MockHost::apisix()
        .with_headers(
            MapKind::RequestHeaders,
            &[(":method", "GET"), (":path", "/api")],
        )
        .with_time(UNIX_EPOCH + Duration::from_secs(NOW));
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
        assert_eq!(call.upstream, "idp");
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
    let mut stream = root.new_stream(&host, 2).unwrap();
    assert_eq!(
        stream.on_request_headers(&host, 4, true),
        HeadersAction::StopIteration
    );
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
    let mut stream = root.new_stream(&host, 3).unwrap();
    assert_eq!(
        stream.on_request_headers(&host, 4, true),
        HeadersAction::StopIteration
    );
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
    let shared = root.shared.as_ref().unwrap().borrow();
    assert_eq!((shared.cache.hits, shared.cache.misses), (2, 1));
    drop(shared);
    set_time(&host, NOW + 71);
    set_token(&host, &token);
    let mut s = root.new_stream(&host, 9).unwrap();
    assert_eq!(
        s.on_request_headers(&host, 4, true),
        HeadersAction::StopIteration
    );
}

#[test]
fn without_a_timer_a_lost_fetch_does_not_strand_waiting_requests() {
    let host = MockHost::apisix()
        .with_headers(
            MapKind::RequestHeaders,
            &[(":method", "GET"), (":path", "/api")],
        )
        .with_time(UNIX_EPOCH + Duration::from_secs(NOW));
    set_token(&host, &sign("k1", claims()));
    let mut root = configured(&host, &remote_config());
    // A starts the fetch and waits; B waits for the same fetch; A's callout is lost.
    let mut a = root.new_stream(&host, 2).unwrap();
    assert_eq!(
        a.on_request_headers(&host, 4, true),
        HeadersAction::StopIteration
    );
    let mut b = root.new_stream(&host, 3).unwrap();
    assert_eq!(
        b.on_request_headers(&host, 4, true),
        HeadersAction::StopIteration
    );
    assert_eq!(host.state.borrow().http_calls.len(), 1);
    drop(a);
    // Past the wait: the next request ends B's wait (401 no_keys) and fetches again.
    set_time(&host, NOW + 4);
    let mut c = root.new_stream(&host, 4).unwrap();
    assert_eq!(
        c.on_request_headers(&host, 4, true),
        HeadersAction::StopIteration
    );
    let reply = host.state.borrow().local_reply.clone().unwrap();
    assert!(String::from_utf8(reply.body).unwrap().contains("no_keys"));
    assert_eq!(host.state.borrow().http_calls.len(), 2, "C fetched anew");
    drop(b);
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
    root.shared.as_ref().unwrap().borrow().cache.len()
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
