//! Tier 3: `dist/jwt-auth.wasm` in real Envoy (2 workers), with the JWKS served on
//! loopback by a second upstream that the test can break.

use std::time::Duration;

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tollgate_envoy_harness::{
    Envoy, EnvoyConfig, FailurePolicy, HttpRequest, Upstream, WasmFilter,
};
use tollgate_host_suite::tokens::{self, encrypt_dir, es256};
use tollgate_host_suite::wasm_path;

fn claims(extra: Value) -> Value {
    let mut c = json!({"iss": "https://idp.test", "aud": "api", "sub": "alice",
                       "exp": tokens::now() + 3600, "iat": tokens::now()});
    c.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    c
}

/// Envoy (2 workers) with jwt-auth (`config`) in front of `app`, the `idp` cluster
/// pointing at `idp`.
fn start_with_idp(app: &Upstream, idp: &Upstream, config: &Value) -> Result<Envoy> {
    Envoy::start(
        &EnvoyConfig::new(app.addr())
            .cluster("idp", idp.addr(), false)
            .filter(jwt_filter(config)?)
            .concurrency(2),
    )
}

/// The built jwt-auth with `config`, failing closed.
fn jwt_filter(config: &Value) -> Result<WasmFilter> {
    Ok(WasmFilter::new("jwt-auth", &wasm_path("jwt-auth")?)
        .config(&config.to_string())
        .failure_policy(FailurePolicy::FailClosed))
}

struct Edge {
    envoy: Envoy,
    app: Upstream,
    idp: Upstream,
}

fn start(cache_seconds: u64) -> Result<Edge> {
    let app = Upstream::start()?;
    let idp = Upstream::start()?;
    idp.route("/jwks", 200, tokens::es_jwks()?.to_string());
    let config = json!({
        "providers": {"idp": {
            "issuer": "https://idp.test", "audiences": ["api"],
            "keys": {"remote": {"upstream": "idp", "path": "/jwks", "cache_seconds": cache_seconds,
                                "timeout_ms": 500}},
            "claim_headers": [{"claim": "sub", "header": "x-user"}],
            "decryption": {"dir": {"key": URL_SAFE_NO_PAD.encode([7u8; 32])}}
        },
        "sealed": {
            "issuer": "https://idp.test", "audiences": ["api"],
            "keys": {"jwks": tokens::es_jwks()?},
            "from": [{"cookie": "hcp_token"}],
            // RSA only behind its opt-in (RUSTSEC-2023-0071), with a per-worker budget.
            "decryption": {"rsa_oaep_256": {"private_key": tokens::rsa_private_pem()?,
                                            "accept_rustsec_2023_0071": true}},
            "require_encryption": true
        }},
        "rules": [{"match": {"prefix": "/health"}},
                  {"match": {"prefix": "/web"}, "requires": {"provider": "sealed"}},
                  {"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    });
    let envoy = start_with_idp(&app, &idp, &config)?;
    Ok(Edge { envoy, app, idp })
}

fn get(edge: &Edge, token: &str) -> Result<tollgate_envoy_harness::HttpResponse> {
    edge.envoy
        .send(&HttpRequest::get("/api/items").header("authorization", &format!("Bearer {token}")))
}

#[test]
fn real_envoy_verifies_with_remote_jwks() -> Result<()> {
    let edge = start(600)?;
    let token = es256(&claims(json!({})))?;
    for _ in 0..6 {
        let ok = get(&edge, &token)?;
        assert_eq!(
            ok.status,
            200,
            "{}\n{}",
            String::from_utf8_lossy(&ok.body),
            edge.envoy.log_tail()
        );
    }
    let seen = edge.app.seen();
    let last = seen.last().unwrap();
    let header = |n: &str| {
        last.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-user"), Some("alice"));
    assert_eq!(header("authorization"), None);
    assert!(header("x-tollgate-jwt-payload").is_some());
    assert_eq!(
        edge.idp.hits("/jwks"),
        1,
        "one fetch shared by both workers"
    );

    let bad = get(&edge, &es256(&claims(json!({"aud": "other"})))?)?;
    assert_eq!(bad.status, 403);
    let body: Value = serde_json::from_slice(&bad.body)?;
    assert_eq!(body["error"], "audience_mismatch");
    let missing = edge.envoy.send(&HttpRequest::get("/api/items"))?;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"tollgate\"")
    );
    assert_eq!(edge.envoy.send(&HttpRequest::get("/health"))?.status, 200);

    // An encrypted token carrying a password: verified, and the password stays out of
    // every header the upstream receives.
    let inner = es256(&claims(json!({"password": "pw-in-token"})))?;
    let jwe = encrypt_dir(&inner, &[7u8; 32], [3u8; 12])?;
    assert_eq!(get(&edge, &jwe)?.status, 200);
    let seen = edge.app.seen();
    let last = seen.last().unwrap();
    assert!(last.headers.iter().all(|(_, v)| !v.contains("pw-in-token")));
    assert!(!edge.envoy.log().contains("pw-in-token"));

    assert!(
        edge.envoy
            .stat("wasmcustom.jwt_auth.provider.idp.allowed")?
            .unwrap_or(0)
            >= 7
    );
    assert_eq!(
        edge.envoy
            .stat("wasmcustom.jwt_auth.provider.idp.denied.audience_mismatch")?,
        Some(1)
    );
    assert_eq!(
        edge.envoy
            .stat("wasmcustom.jwt_auth.denied.token_missing")?,
        Some(1)
    );
    Ok(())
}

#[test]
fn real_envoy_rides_out_a_jwks_outage() -> Result<()> {
    let edge = start(2)?;
    let token = es256(&claims(json!({})))?;
    assert_eq!(get(&edge, &token)?.status, 200);
    edge.idp.route("/jwks", 503, "down");
    // Well past the cache time: refreshes fail, the last good keys keep serving.
    std::thread::sleep(Duration::from_secs(4));
    for _ in 0..5 {
        let r = get(&edge, &token)?;
        assert_eq!(
            r.status,
            200,
            "{}\n{}",
            String::from_utf8_lossy(&r.body),
            edge.envoy.log_tail()
        );
    }
    assert!(edge.idp.hits("/jwks") >= 2, "refresh attempts were made");
    assert!(
        edge.envoy
            .stat("wasmcustom.jwt_auth.jwks.idp.fetch_failed")?
            .unwrap_or(0)
            >= 1
    );
    assert!(edge.envoy.log().contains("keeping the last good keys"));
    // Garbage instead of a JWKS: same.
    edge.idp.route("/jwks", 200, "<html>not json</html>");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(get(&edge, &token)?.status, 200);
    Ok(())
}

/// Envoy (2 workers) with one provider reading a bearer header and `?access_token=`,
/// keys inline, routes `/health` public and everything else verified.
fn start_inline(envoy: impl FnOnce(EnvoyConfig) -> EnvoyConfig) -> Result<(Envoy, Upstream)> {
    let app = Upstream::start()?;
    let config = json!({
        "providers": {"idp": {
            "issuer": "https://idp.test", "audiences": ["api"],
            "keys": {"jwks": tokens::es_jwks()?},
            "from": [{"header": "authorization", "prefix": "Bearer "}, {"query": "access_token"}],
            "claim_headers": [{"claim": "sub", "header": "x-user"}]
        }},
        "rules": [{"match": {"prefix": "/health"}},
                  {"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    });
    let filter = jwt_filter(&config)?;
    let envoy = Envoy::start(&envoy(
        EnvoyConfig::new(app.addr()).filter(filter).concurrency(2),
    ))?;
    Ok((envoy, app))
}

#[test]
fn real_envoy_refuses_a_second_token_that_does_not_verify() -> Result<()> {
    let (envoy, app) = start_inline(|c| c.component_log_level("wasm:debug"))?;
    let good = es256(&claims(json!({})))?;
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none"})),
        b64(claims(json!({"sub": "admin"})))
    );
    let forged = format!(
        "{}.{}.c2ln",
        b64(json!({"alg": "ES256", "kid": "es1"})),
        b64(claims(json!({"sub": "admin"})))
    );
    for (second, code) in [
        (unsigned.as_str(), "alg_none"),
        (forged.as_str(), "signature_invalid"),
        ("garbage", "token_malformed"),
    ] {
        let r = envoy.send(
            &HttpRequest::get(&format!("/api/items?access_token={second}"))
                .header("authorization", &format!("Bearer {good}")),
        )?;
        assert_eq!(r.status, 401, "{code}: {}", r.body_text());
        let body: Value = serde_json::from_slice(&r.body)?;
        assert_eq!(body["error"], code);
    }
    assert!(app.seen().is_empty(), "nothing reached the upstream");
    // Two valid tokens: allowed, and neither reaches the upstream.
    let also_good = es256(&claims(json!({"sub": "bob"})))?;
    let r = envoy.send(
        &HttpRequest::get(&format!("/api/items?a=1&access_token={also_good}"))
            .header("authorization", &format!("Bearer {good}")),
    )?;
    assert_eq!(r.status, 200, "{}", r.body_text());
    let seen = app.seen();
    let last = seen.last().unwrap();
    assert_eq!(last.path, "/api/items?a=1");
    assert!(last.headers.iter().all(|(k, _)| k != "authorization"));
    // Two Authorization headers (Envoy joins them): their own code.
    let r = envoy.send(
        &HttpRequest::get("/api/items")
            .header("authorization", &format!("Bearer {good}"))
            .header("authorization", &format!("Bearer {also_good}")),
    )?;
    assert_eq!(r.status, 401);
    let body: Value = serde_json::from_slice(&r.body)?;
    assert_eq!(body["error"], "token_repeated");
    // At wasm:debug the log explains each refusal, without any token.
    let log = envoy.log();
    assert!(
        log.contains("jwt-auth: denied 401 alg_none, provider idp, rules[1]"),
        "{}",
        envoy.log_tail()
    );
    assert!(log.contains("jwt-auth: denied 401 token_repeated"));
    for secret in [good.as_str(), also_good.as_str(), unsigned.as_str()] {
        for part in secret.split('.').filter(|p| p.len() > 8) {
            assert!(!log.contains(part), "the log holds a token");
        }
    }
    Ok(())
}

#[test]
fn real_envoy_paths_are_normalized_before_rules_match() -> Result<()> {
    // Once with the shipped connection manager settings, once without them: the
    // filter's own normalization must hold either way.
    for raw in [false, true] {
        let (envoy, app) = start_inline(|c| if raw { c.raw_paths() } else { c })?;
        // Escapes to a protected path meet its rule (401); ambiguous paths get 400.
        let cases = [
            ("/health/../api/items", 401),
            ("/health/%2e%2e/api/items", 401),
            ("/health/./../api", 401),
            ("/health%2F..%2Fapi/items", 400),
            ("/health%2f..%2fapi", 400),
            ("/health/..%5capi", 400),
        ];
        for (path, status) in cases {
            let r = envoy.send(&HttpRequest::get(path))?;
            assert_eq!(r.status, status, "raw={raw} {path}: {}", r.body_text());
        }
        assert!(
            app.seen().is_empty(),
            "raw={raw}: nothing reached the upstream"
        );
        let r = envoy.send(&HttpRequest::get("/health//live/./now?x=1"))?;
        assert_eq!(r.status, 200, "raw={raw}: {}", r.body_text());
        assert_eq!(
            app.seen().last().unwrap().path,
            "/health/live/now?x=1",
            "raw={raw}"
        );
    }
    Ok(())
}

#[test]
fn real_envoy_key_rotation_under_concurrent_new_kid_tokens() -> Result<()> {
    let app = Upstream::start()?;
    let idp = Upstream::start()?;
    idp.route("/jwks", 200, tokens::hs_jwks().to_string());
    let config = json!({
        "providers": {"idp": {
            "issuer": "https://idp.test", "audiences": ["api"],
            "keys": {"remote": {"upstream": "idp", "path": "/jwks", "timeout_ms": 2000}}
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    });
    let envoy = start_with_idp(&app, &idp, &config)?;
    let old = tokens::hs256(&claims(json!({})))?;
    for _ in 0..6 {
        let r = get_from(&envoy, &old)?;
        assert_eq!(r.status, 200, "{}", r.body_text());
    }
    let before = idp.hits("/jwks");
    // The issuer rotates to an ES256 key, and answers in 200 ms: long enough for all
    // eight requests with the new kid to arrive, on both workers, while it fetches.
    idp.route_after(
        "/jwks",
        200,
        tokens::es_jwks()?.to_string(),
        Duration::from_millis(200),
    );
    let rotated = es256(&claims(json!({})))?;
    let started = std::time::Instant::now();
    let results: Vec<(u16, String, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let t = std::time::Instant::now();
                    let r = get_from(&envoy, &rotated);
                    r.map(|r| (r.status, r.body_text(), t.elapsed()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Result<Vec<_>>>()
    })?;
    let slowest = results.iter().map(|r| r.2).max().unwrap_or_default();
    eprintln!(
        "rotation: 8 requests, slowest {slowest:?}, all in {:?}",
        started.elapsed()
    );
    for (status, body, _) in &results {
        assert_eq!(*status, 200, "{body}\n{}", envoy.log_tail());
    }
    assert_eq!(
        idp.hits("/jwks") - before,
        1,
        "one fetch for the rotation, both workers"
    );
    // Nothing waits for the 3 s fetch lock any more (it used to, or got kid_unknown).
    assert!(slowest < Duration::from_millis(2500), "slowest {slowest:?}");
    Ok(())
}

fn get_from(envoy: &Envoy, token: &str) -> Result<tollgate_envoy_harness::HttpResponse> {
    envoy.send(&HttpRequest::get("/api/items").header("authorization", &format!("Bearer {token}")))
}
