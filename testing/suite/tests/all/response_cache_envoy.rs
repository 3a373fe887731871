//! Tier 3 through real Envoy with two workers: jwt-auth, response-cache (the shipped HCP
//! profile) and hcp-auth in front of the demo HCP. A second identity never gets the
//! first identity's entry; a namespace create invalidates the listing for everyone;
//! statistics expire at their TTL; a stale entry is revalidated with `If-None-Match`
//! and the origin's 304 becomes the stored response (a local reply from the response
//! phase, which Envoy allows).

use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};
use tollgate_envoy_harness::{
    Envoy, EnvoyConfig, FailurePolicy, HttpRequest, HttpResponse, Upstream, WasmFilter,
};
use tollgate_hcp_demo::{HcpDemo, demo_users};
use tollgate_host_suite::tokens::{self, es256};
use tollgate_host_suite::wasm_path;

/// Statistics live 2 s here (60 s in the profile) so that expiry is seen.
const STATISTICS_TTL: u64 = 2;

struct Edge {
    envoy: Envoy,
    app: Upstream,
    _idp: Upstream,
    _hcp: HcpDemo,
}

/// The shipped HCP profile, with short statistics and a rule for the echo upstream's
/// cacheable `/etag/` resources.
fn cache_config() -> Result<String> {
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(
        tollgate_envoy_harness::repo_root().join("deploy/response-cache/config.json"),
    )?)?;
    let rules = c["rules"].as_array_mut().expect("rules");
    for r in rules.iter_mut() {
        if r["name"] == "statistics" {
            r["ttl_s"] = json!(STATISTICS_TTL);
        }
    }
    rules.insert(0, json!({"name": "etag", "glob": "/etag/**"}));
    rules.insert(
        0,
        json!({"name": "slow", "glob": "/slow-list", "ttl_s": 60}),
    );
    Ok(c.to_string())
}

fn start() -> Result<Edge> {
    let app = Upstream::start()?;
    let idp = Upstream::start()?;
    idp.route("/jwks", 200, tokens::es_jwks()?.to_string());
    let hcp = HcpDemo::start("hcp.test", demo_users())?;
    let jwt = json!({
        "providers": {"hcp": {
            "issuer": "https://idp.test", "audiences": ["hcp"],
            "keys": {"remote": {"upstream": "idp", "path": "/jwks"}},
            "credential_claims": ["password"]
        }},
        "rules": [{"match": {"prefix": "/etag/"}}, {"match": {"path": "/slow-list"}},
                  {"match": {"prefix": "/"}, "requires": {"provider": "hcp"}}]
    });
    let hcp_auth = json!({
        "hcp_domain": "hcp.test",
        "trusted_payload_header": "x-tollgate-jwt-payload",
        "routes": [{"match": {"prefix": "/mapi/"}, "mode": "management"},
                   {"match": {"path": "/query"}, "mode": "management"},
                   {"match": {"prefix": "/etag/"}, "mode": "passthrough"},
                   {"match": {"path": "/slow-list"}, "mode": "passthrough"}]
    });
    let envoy = Envoy::start(
        &EnvoyConfig::new(app.addr())
            .cluster("idp", idp.addr(), false)
            .cluster("hcp", hcp.addr(), false)
            .route("/mapi/", "hcp")
            .route("/query", "hcp")
            .filter(
                WasmFilter::new("jwt-auth", &wasm_path("jwt-auth")?)
                    .config(&jwt.to_string())
                    .failure_policy(FailurePolicy::FailClosed),
            )
            .filter(
                WasmFilter::new("response-cache", &wasm_path("response-cache")?)
                    .config(&cache_config()?)
                    // POST reads (metadata queries) are decided on their body.
                    .allow_on_headers_stop_iteration(true)
                    .failure_policy(FailurePolicy::FailClosed),
            )
            .filter(
                WasmFilter::new("hcp-auth", &wasm_path("hcp-auth")?)
                    .config(&hcp_auth.to_string())
                    .failure_policy(FailurePolicy::FailClosed),
            )
            .concurrency(2),
    )?;
    Ok(Edge {
        envoy,
        app,
        _idp: idp,
        _hcp: hcp,
    })
}

fn token(user: &str, password: &str, tenant: &str) -> Result<String> {
    es256(
        &json!({"iss": "https://idp.test", "aud": "hcp", "sub": user, "username": user,
                  "password": password, "tenant": tenant, "exp": tokens::now() + 600}),
    )
}

fn call(edge: &Edge, req: HttpRequest, token: &str) -> Result<HttpResponse> {
    edge.envoy
        .send(&req.header("authorization", &format!("Bearer {token}")))
}

fn expect(edge: &Edge, r: &HttpResponse, status: u16, cache: &str) {
    assert_eq!(
        (r.status, r.header("x-cache")),
        (status, Some(cache)),
        "{}\n{}",
        r.body_text(),
        edge.envoy.log_tail()
    );
}

#[test]
fn identities_invalidation_and_ttl_through_real_envoy() -> Result<()> {
    let edge = start()?;
    let alice = token("alice", "alice-demo-pw", "acme")?;
    let bob = token("bob", "bob-demo-pw", "acme")?;
    let carol = token("carol", "carol-demo-pw", "globex")?;
    let list = || HttpRequest::get("/mapi/tenants/acme/namespaces");

    let first = call(&edge, list(), &alice)?;
    expect(&edge, &first, 200, "MISS");
    // Each request on its own connection: both workers serve, and share the store.
    for _ in 0..4 {
        let hit = call(&edge, list(), &alice)?;
        expect(&edge, &hit, 200, "HIT");
        assert_eq!(hit.body, first.body);
        assert!(hit.header("age").is_some());
    }
    // Bob, same tenant, fills his own entry; carol (another tenant) is refused by HCP
    // itself: she never sees alice's listing, and a 403 is not stored.
    expect(&edge, &call(&edge, list(), &bob)?, 200, "MISS");
    expect(&edge, &call(&edge, list(), &bob)?, 200, "HIT");
    for _ in 0..2 {
        expect(&edge, &call(&edge, list(), &carol)?, 403, "MISS");
    }

    // Alice creates a namespace: both identities' listings are invalidated.
    let created = call(
        &edge,
        HttpRequest::new("PUT", "/mapi/tenants/acme/namespaces")
            .header("content-type", "application/json")
            .body(r#"{"name": "fresh"}"#),
        &alice,
    )?;
    assert_eq!(created.status, 201, "{}", created.body_text());
    for who in [&bob, &alice] {
        let after = call(&edge, list(), who)?;
        expect(&edge, &after, 200, "MISS");
        assert!(after.body_text().contains("fresh"), "{}", after.body_text());
    }

    // Statistics expire at their TTL.
    let stats = || HttpRequest::get("/mapi/tenants/acme/statistics");
    expect(&edge, &call(&edge, stats(), &alice)?, 200, "MISS");
    expect(&edge, &call(&edge, stats(), &alice)?, 200, "HIT");
    std::thread::sleep(Duration::from_millis(STATISTICS_TTL * 1000 + 200));
    expect(&edge, &call(&edge, stats(), &alice)?, 200, "MISS");

    // Health is never cached.
    let health = edge.envoy.send(&HttpRequest::get("/mapi/logs/x"))?;
    assert_eq!(health.status, 401, "logs need a token");

    assert!(
        edge.envoy
            .stat("wasmcustom.response_cache.hits")?
            .unwrap_or(0)
            >= 6
    );
    assert!(
        edge.envoy
            .stat("wasmcustom.response_cache.invalidations")?
            .unwrap_or(0)
            >= 2
    );
    assert!(
        edge.envoy
            .stat("wasmcustom.response_cache.bytes")?
            .unwrap_or(0)
            > 0
    );
    Ok(())
}

#[test]
fn a_304_to_a_revalidation_is_served_from_the_cache() -> Result<()> {
    let edge = start()?;
    let first = edge.envoy.send(&HttpRequest::get("/etag/v1"))?;
    expect(&edge, &first, 200, "MISS");
    expect(
        &edge,
        &edge.envoy.send(&HttpRequest::get("/etag/v1"))?,
        200,
        "HIT",
    );
    // A client's own conditional is answered 304 from the cache.
    let not_modified = edge
        .envoy
        .send(&HttpRequest::get("/etag/v1").header("if-none-match", "\"v1\""))?;
    assert_eq!(not_modified.status, 304);
    assert_eq!(edge.app.hits("/etag/v1"), 1);
    // max-age=1: stale after a second, revalidated with the stored ETag.
    std::thread::sleep(Duration::from_millis(1200));
    let revalidated = edge.envoy.send(&HttpRequest::get("/etag/v1"))?;
    expect(&edge, &revalidated, 200, "HIT");
    assert_eq!(revalidated.body, first.body, "the stored body");
    assert_eq!(edge.app.hits("/etag/v1"), 2);
    let conditional = edge
        .app
        .seen()
        .into_iter()
        .filter(|s| s.path == "/etag/v1")
        .filter(|s| {
            s.headers
                .iter()
                .any(|(k, v)| k == "if-none-match" && v == "\"v1\"")
        })
        .count();
    assert_eq!(conditional, 1, "the revalidation was conditional");
    assert_eq!(
        edge.envoy.stat("wasmcustom.response_cache.revalidated")?,
        Some(1)
    );
    // Refreshed: fresh again without asking.
    expect(
        &edge,
        &edge.envoy.send(&HttpRequest::get("/etag/v1"))?,
        200,
        "HIT",
    );
    assert_eq!(edge.app.hits("/etag/v1"), 2);
    Ok(())
}

/// Concurrent misses for one key, on both workers, wait for the first one's fill: the
/// origin (400 ms to answer) sees one request, and every client gets its answer.
#[test]
fn concurrent_misses_reach_the_origin_once() -> Result<()> {
    let edge = start()?;
    edge.app.route_after(
        "/slow-list",
        200,
        r#"{"items": [1, 2, 3]}"#,
        Duration::from_millis(400),
    );
    let answers: Vec<HttpResponse> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let edge = &edge;
                s.spawn(move || {
                    // Staggered a little, so the first is surely upstream.
                    std::thread::sleep(Duration::from_millis(20 * u64::from(i > 0)));
                    edge.envoy.send(&HttpRequest::get("/slow-list"))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect::<Result<Vec<_>>>()
    })?;
    let labels: Vec<&str> = answers
        .iter()
        .map(|r| r.header("x-cache").unwrap_or("none"))
        .collect();
    eprintln!(
        "8 concurrent misses: {labels:?}, origin saw {}",
        edge.app.hits("/slow-list")
    );
    assert!(
        answers
            .iter()
            .all(|r| r.status == 200 && r.body_text().contains("items")),
        "{labels:?}"
    );
    assert_eq!(
        edge.app.hits("/slow-list"),
        1,
        "{labels:?}\n{}",
        edge.envoy.log_tail()
    );
    assert_eq!(labels.iter().filter(|l| **l == "MISS").count(), 1);
    Ok(())
}

/// HCP's metadata queries are POST reads keyed by their body: the same query by the
/// same user is answered from the cache (the demo HCP numbers every query it runs),
/// another query or another user is not.
#[test]
fn metadata_queries_are_cached_by_their_body() -> Result<()> {
    let edge = start()?;
    let alice = token("alice", "alice-demo-pw", "acme")?;
    let bob = token("bob", "bob-demo-pw", "acme")?;
    let query = |body: &str| {
        HttpRequest::new("POST", "/query")
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let run = |r: &HttpResponse| -> u64 {
        serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|v| v["run"].as_u64())
            .unwrap_or(0)
    };
    let objects = r#"{"object": {"query": "namespace:\"acme-archive\""}}"#;
    let first = call(&edge, query(objects), &alice)?;
    expect(&edge, &first, 200, "MISS");
    let again = call(&edge, query(objects), &alice)?;
    expect(&edge, &again, 200, "HIT");
    assert_eq!(run(&again), run(&first), "the same result, not run again");
    let other = call(&edge, query(r#"{"object": {"query": "size:>1"}}"#), &alice)?;
    expect(&edge, &other, 200, "MISS");
    expect(&edge, &call(&edge, query(objects), &bob)?, 200, "MISS");
    let operations = call(&edge, query(r#"{"operation": {"count": 5}}"#), &alice)?;
    expect(&edge, &operations, 200, "MISS");
    expect(
        &edge,
        &call(&edge, query(r#"{"operation": {"count": 5}}"#), &alice)?,
        200,
        "HIT",
    );
    // A query is a read: alice's cached listing survives it.
    expect(
        &edge,
        &call(
            &edge,
            HttpRequest::get("/mapi/tenants/acme/namespaces"),
            &alice,
        )?,
        200,
        "MISS",
    );
    call(&edge, query(objects), &alice)?;
    expect(
        &edge,
        &call(
            &edge,
            HttpRequest::get("/mapi/tenants/acme/namespaces"),
            &alice,
        )?,
        200,
        "HIT",
    );
    Ok(())
}
