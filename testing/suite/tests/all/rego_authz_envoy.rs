//! Tier 3 through real Envoy: jwt-auth → rego-authz (the HCP bundle, signed, as a
//! `.tar.gz`) → hcp-auth → the demo HCP. Allowed and denied requests, decision logs
//! delivered to a real upstream in OPA's shape with nothing secret in them, and a
//! shadow-mode run that never blocks.

use std::time::{Duration, Instant};

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tollgate_envoy_harness::{
    Envoy, EnvoyConfig, FailurePolicy, HttpRequest, Upstream, WasmFilter, repo_root,
};
use tollgate_hcp_demo::{HcpDemo, demo_users};
use tollgate_host_suite::tokens::{self, es256};
use tollgate_host_suite::{tutorial_policy, wasm_path};
use tollgate_rego_authz::bundle::{Files, Limits};

const SIGNING_SECRET: &str = "the-hcp-bundle-signing-secret-32-bytes";

struct Edge {
    envoy: Envoy,
    _idp: Upstream,
    app: Upstream,
    logs: Upstream,
    _hcp: HcpDemo,
}

/// The HCP bundle from `policies/hcp`, packed and signed as `opa build` would.
fn hcp_bundle() -> Result<String> {
    let mut files = Files::from_dir(&repo_root().join("policies/hcp"), Limits::default())
        .map_err(anyhow::Error::msg)?;
    tollgate_rego_authz::signature::sign(
        &mut files,
        Algorithm::HS256,
        &EncodingKey::from_secret(SIGNING_SECRET.as_bytes()),
        Some("ci"),
    )
    .map_err(anyhow::Error::msg)?;
    Ok(STANDARD.encode(files.to_tar_gz().map_err(anyhow::Error::msg)?))
}

fn start(mode: &str) -> Result<Edge> {
    let app = Upstream::start()?;
    let idp = Upstream::start()?;
    let logs = Upstream::start()?;
    idp.route("/jwks", 200, tokens::es_jwks()?.to_string());
    let hcp = HcpDemo::start("hcp.test", demo_users())?;
    let jwt = json!({
        "providers": {"hcp": {
            "issuer": "https://idp.test", "audiences": ["hcp"],
            "keys": {"remote": {"upstream": "idp", "path": "/jwks"}},
            "credential_claims": ["password"]
        }},
        "rules": [{"match": {"prefix": "/health"}},
                  {"match": {"prefix": "/"}, "requires": {"provider": "hcp"}}]
    });
    let rego = json!({
        "policy": {"bundle": hcp_bundle()?,
                   "signing": {"keys": {"ci": {"algorithm": "HS256", "key": SIGNING_SECRET}}}},
        "query": "data.hcp.authz.decision",
        "mode": mode,
        "decision_cache": {"keys": ["token.sub", "token.tenant", "token.roles", "request.http.method", "parsed_path"]},
        "decision_logs": {"upstream": "logs", "path": "/v1/logs", "flush_ms": 200, "labels": {"id": "ci-edge"}}
    });
    let hcp_auth = json!({
        "hcp_domain": "hcp.test",
        "trusted_payload_header": "x-tollgate-jwt-payload",
        "routes": [{"match": {"prefix": "/mapi/"}, "mode": "management"}],
        "default_mode": "passthrough"
    });
    let envoy = Envoy::start(
        &EnvoyConfig::new(app.addr())
            .cluster("idp", idp.addr(), false)
            .cluster("hcp", hcp.addr(), false)
            .cluster("logs", logs.addr(), false)
            .route("/mapi/", "hcp")
            .filter(
                WasmFilter::new("jwt-auth", &wasm_path("jwt-auth")?)
                    .config(&jwt.to_string())
                    .failure_policy(FailurePolicy::FailClosed),
            )
            .filter(
                WasmFilter::new("rego-authz", &wasm_path("rego-authz")?)
                    .config(&rego.to_string())
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
        _idp: idp,
        app,
        logs,
        _hcp: hcp,
    })
}

fn bearer(user: &str) -> Result<String> {
    let u = demo_users()
        .into_iter()
        .find(|u| u.username == user)
        .unwrap();
    let roles: Vec<&str> = u.roles.iter().map(|r| r.hcp_name()).collect();
    Ok(format!(
        "Bearer {}",
        es256(
            &json!({"iss": "https://idp.test", "aud": "hcp", "sub": user, "username": user,
                       "password": u.password, "tenant": u.tenant, "roles": roles,
                       "exp": tokens::now() + 600})
        )?
    ))
}

fn get(
    edge: &Edge,
    path: &str,
    auth: Option<&str>,
) -> Result<tollgate_envoy_harness::HttpResponse> {
    let mut r = HttpRequest::get(path);
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    edge.envoy.send(&r)
}

/// Waits (bounded) for decision-log POSTs and returns their events.
fn logged_events(edge: &Edge, at_least: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events: Vec<Value> = edge
            .logs
            .seen()
            .iter()
            .filter(|s| s.path == "/v1/logs")
            .flat_map(|s| {
                serde_json::from_slice::<Vec<Value>>(&gunzip(&s.body)).unwrap_or_default()
            })
            .collect();
        if events.len() >= at_least || Instant::now() > deadline {
            return events;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn real_envoy_enforces_the_hcp_policy_and_logs_decisions() -> Result<()> {
    let edge = start("enforce")?;
    let alice = bearer("alice")?;
    let bob = bearer("bob")?;
    assert_eq!(get(&edge, "/health", None)?.status, 200);
    let own = get(&edge, "/mapi/tenants/acme/namespaces", Some(&alice))?;
    assert_eq!(own.status, 200, "{}", own.body_text());
    let other = get(&edge, "/mapi/tenants/globex/namespaces", Some(&alice))?;
    assert_eq!(other.status, 403);
    assert_eq!(
        other.header("x-tollgate-policy-reason"),
        Some("another tenant's path")
    );
    let read = get(&edge, "/mapi/tenants/acme/statistics", Some(&bob))?;
    assert_eq!(read.status, 200, "{}", read.body_text());
    let write = edge.envoy.send(
        &HttpRequest::new("PUT", "/mapi/tenants/acme/namespaces")
            .header("authorization", &bob)
            .header("content-type", "application/json")
            .body(br#"{"name": "nope"}"#.to_vec()),
    )?;
    assert_eq!(write.status, 403);
    assert_eq!(
        write.header("x-tollgate-policy-reason"),
        Some("monitors may only read")
    );
    // Allowed requests carry the policy's header upstream; the app saw no denied one.
    let hello = get(&edge, "/api/hello", Some(&alice))?;
    assert_eq!(hello.status, 200);
    assert!(
        edge.app
            .seen()
            .iter()
            .all(|s| s.path == "/api/hello" || s.path == "/health")
    );
    assert!(
        edge.envoy
            .stat("wasmcustom.rego_authz.denied")?
            .unwrap_or(0)
            >= 2
    );

    let events = logged_events(&edge, 6);
    assert!(
        edge.logs.seen().iter().all(|s| s
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-encoding") && v == "gzip")),
        "batches go gzip-compressed, as OPA sends them"
    );
    assert!(events.len() >= 6, "{events:?}");
    let all = serde_json::to_string(&events)?;
    for secret in [
        "alice-demo-pw",
        "bob-demo-pw",
        alice.trim_start_matches("Bearer "),
        "Bearer ",
    ] {
        assert!(!all.contains(secret), "a secret in the decision logs");
    }
    let denied = events
        .iter()
        .find(|e| e["result"]["allowed"] == false && e["input"]["parsed_path"][2] == "globex")
        .expect("the cross-tenant decision is logged");
    assert_eq!(denied["path"], "hcp/authz/decision");
    assert_eq!(denied["labels"]["id"], "ci-edge");
    assert_eq!(denied["bundles"]["tollgate"]["revision"], "hcp-2026.11.30");
    assert_eq!(denied["input"]["token"]["sub"], "alice");
    assert!(denied["erased"].as_array().is_some_and(|e| !e.is_empty()));
    Ok(())
}

#[test]
fn real_envoy_shadow_mode_never_blocks() -> Result<()> {
    let edge = start("shadow")?;
    let bob = bearer("bob")?;
    // The policy would refuse a monitor's write; in shadow the app receives it.
    for _ in 0..5 {
        let r = edge.envoy.send(
            &HttpRequest::new("POST", "/api/reports")
                .header("authorization", &bob)
                .body(b"{}".to_vec()),
        )?;
        assert_eq!(r.status, 200, "{}", r.body_text());
    }
    assert_eq!(edge.app.hits("/api/reports"), 5);
    assert_eq!(
        edge.envoy.stat("wasmcustom.rego_authz.shadow.denied")?,
        Some(5)
    );
    assert_eq!(edge.envoy.stat("wasmcustom.rego_authz.denied")?, None);
    Ok(())
}

#[test]
fn real_envoy_a_runaway_policy_hits_its_budget_and_the_next_request_is_served() -> Result<()> {
    let app = Upstream::start()?;
    let policy = "package envoy.authz\nimport rego.v1\ndefault allow := false\n\
                  allow if input.parsed_path[0] == \"ok\"\n\
                  allow if {\n\tinput.parsed_path[0] == \"spin\"\n\
                  \tcount([x | some a in numbers.range(1, 5000); some b in numbers.range(1, 5000); x := a * b]) > 0\n}\n";
    let config = json!({"policy": {"modules": {"spin.rego": policy}}, "budget": {"time_ms": 20}});
    let envoy = Envoy::start(
        &EnvoyConfig::new(app.addr()).filter(
            WasmFilter::new("rego-authz", &wasm_path("rego-authz")?)
                .config(&config.to_string())
                .failure_policy(FailurePolicy::FailClosed),
        ),
    )?;
    let started = Instant::now();
    let spin = envoy.send(&HttpRequest::get("/spin"))?;
    assert_eq!(spin.status, 500, "{}", spin.body_text());
    assert!(
        spin.body_text().contains("policy_over_budget"),
        "{}",
        spin.body_text()
    );
    // Bounded by the budget, not by the 25 million steps the policy asked for.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        envoy.log().contains("data.envoy.authz.allow"),
        "the log names the rule"
    );
    assert_eq!(envoy.send(&HttpRequest::get("/ok"))?.status, 200);
    assert!(app.seen().iter().all(|s| s.path == "/ok"));
    Ok(())
}

/// Decision-log batches arrive gzip-compressed, as OPA sends them.
fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    let _ = flate2::read::GzDecoder::new(bytes).read_to_end(&mut out);
    out
}

#[test]
fn real_envoy_runs_the_opa_envoy_tutorial_unchanged_with_request_bodies() -> Result<()> {
    // The tutorial's tokens (HS256, secret "secret"): alice is a guest, bob an admin.
    const ALICE: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiZ3Vlc3QiLCJzdWIiOiJZV3hwWTJVPSIsIm5iZiI6MTUxNDg1MTEzOSwiZXhwIjoyMjQxMDgxNTM5fQ.VL3niEE4N2pxIM3CC3vjcyeUZKlwI2j_jka5gqBDjRM";
    const BOB: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiYWRtaW4iLCJzdWIiOiJZbTlpIiwibmJmIjoxNTE0ODUxMTM5LCJleHAiOjIyNDEwODE1Mzl9.rMsWGwacTyK2sNH3RB8vDHLNluytpn1jMb3r_3MTuW4";
    let app = Upstream::start()?;
    let config = json!({"policy": {"modules": {"policy.rego": tutorial_policy()?}},
                        "with_body": {"max_bytes": 4096}});
    let envoy = Envoy::start(
        &EnvoyConfig::new(app.addr()).filter(
            WasmFilter::new("rego-authz", &wasm_path("rego-authz")?)
                .config(&config.to_string())
                .allow_on_headers_stop_iteration(true)
                .failure_policy(FailurePolicy::FailClosed),
        ),
    )?;
    let post = |token: &str, firstname: &str| {
        envoy.send(
            &HttpRequest::post(
                "/people",
                format!(r#"{{"firstname": "{firstname}", "lastname": "OPA"}}"#).into_bytes(),
            )
            .header("authorization", &format!("Bearer {token}"))
            .header("content-type", "application/json"),
        )
    };
    let get = |token: &str| {
        envoy
            .send(&HttpRequest::get("/people/").header("authorization", &format!("Bearer {token}")))
    };
    assert_eq!(get(ALICE)?.status, 200);
    assert_eq!(post(ALICE, "Charlie")?.status, 403);
    let created = post(BOB, "Charlie")?;
    assert_eq!(created.status, 200, "{}", created.body_text());
    assert_eq!(post(BOB, "Bob")?.status, 403);
    assert_eq!(get(BOB)?.status, 200);
    // The body the policy read still reaches the upstream, whole.
    let seen = app.seen();
    let posted: Vec<_> = seen.iter().filter(|s| s.method == "POST").collect();
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].body,
        br#"{"firstname": "Charlie", "lastname": "OPA"}"#.to_vec()
    );
    Ok(())
}
