//! Tier 3: `dist/jwt-auth.wasm` in real Envoy (2 workers), with the JWKS served on
//! loopback by a second upstream that the test can break.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test helpers

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
            "decryption": {"rsa_oaep_256": {"private_key": tokens::rsa_private_pem()?}},
            "require_encryption": true
        }},
        "rules": [{"match": {"prefix": "/health"}},
                  {"match": {"prefix": "/web"}, "requires": {"provider": "sealed"}},
                  {"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    });
    let filter = WasmFilter::new("jwt-auth", &wasm_path("jwt-auth")?)
        .config(&config.to_string())
        .failure_policy(FailurePolicy::FailClosed);
    let envoy = Envoy::start(
        &EnvoyConfig::new(app.addr())
            .cluster("idp", idp.addr(), false)
            .filter(filter)
            .concurrency(2),
    )?;
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
