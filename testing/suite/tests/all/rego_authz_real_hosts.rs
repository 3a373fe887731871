//! Tier 3 on the nginx hosts: jwt-auth → rego-authz (the HCP policy) in the real Kong
//! and APISIX hosts from `../shared/hosts`, on loopback: the same decisions as in Envoy,
//! decision logs sent on Kong and turned off, with a warning, on APISIX (no timers), and
//! no worker dying.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};
use tollgate_envoy_harness::{HttpRequest, Upstream};
use tollgate_host_suite::tokens::{self, es256};
use tollgate_host_suite::wasm_path;
use tollgate_nginx_harness::{Nginx, NginxConfig, NginxFilter, NginxHost};

fn token(sub: &str, tenant: &str, roles: &[&str]) -> Result<String> {
    es256(
        &json!({"iss": "https://idp.test", "aud": "api", "sub": sub, "tenant": tenant,
                  "roles": roles, "exp": tokens::now() + 3600}),
    )
}

fn filters(logs: &Upstream) -> Result<Vec<NginxFilter>> {
    let jwt = json!({
        "providers": {"idp": {"issuer": "https://idp.test", "audiences": ["api"],
                              "keys": {"jwks": tokens::es_jwks()?}}},
        "rules": [{"match": {"prefix": "/health"}},
                  {"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    });
    let root = tollgate_envoy_harness::repo_root();
    let policy = std::fs::read_to_string(root.join("policies/hcp/hcp/authz.rego"))?;
    let rego = json!({
        "policy": {"modules": {"hcp/authz.rego": policy}},
        "query": "data.hcp.authz.decision",
        "decision_logs": {"upstream": logs.addr().to_string(), "path": "/v1/logs", "flush_ms": 200}
    });
    Ok(vec![
        NginxFilter::new("jwt_auth", &wasm_path("jwt-auth")?, &jwt.to_string()),
        NginxFilter::new("rego_authz", &wasm_path("rego-authz")?, &rego.to_string()),
    ])
}

fn call(
    nginx: &Nginx,
    method: &str,
    path: &str,
    bearer: Option<&str>,
) -> Result<tollgate_envoy_harness::HttpResponse> {
    let mut r = HttpRequest::new(method, path);
    if let Some(t) = bearer {
        r = r.header("authorization", &format!("Bearer {t}"));
    }
    if method != "GET" {
        r = r.body(b"{}".to_vec());
    }
    nginx.send(&r)
}

#[test]
fn the_hcp_policy_on_kong_and_apisix() -> Result<()> {
    let admin = token("alice", "acme", &["administrator"])?;
    let monitor = token("bob", "acme", &["monitor"])?;
    for host in NginxHost::ALL {
        let name = host.name();
        let app = Upstream::start()?;
        let logs = Upstream::start()?;
        let mut config = NginxConfig::new(host, app.addr()).workers(2);
        for f in filters(&logs)? {
            config = config.filter(f);
        }
        let nginx = Nginx::start(&config)?;
        assert_eq!(
            call(&nginx, "GET", "/health", None)?.status,
            200,
            "{name}: {}",
            nginx.log_tail()
        );
        let own = call(&nginx, "GET", "/mapi/tenants/acme/namespaces", Some(&admin))?;
        assert_eq!(
            own.status,
            200,
            "{name}: {}\n{}",
            own.body_text(),
            nginx.log_tail()
        );
        let seen = app.seen();
        let upstream = &seen.last().unwrap().headers;
        assert!(
            upstream
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-tollgate-policy-reason") && v == "allowed"),
            "{name}: {upstream:?}"
        );
        let before = app.seen().len();
        let other = call(
            &nginx,
            "GET",
            "/mapi/tenants/globex/namespaces",
            Some(&admin),
        )?;
        assert_eq!(other.status, 403, "{name}");
        assert_eq!(
            other.header("x-tollgate-policy-reason"),
            Some("another tenant's path"),
            "{name}"
        );
        let write = call(
            &nginx,
            "PUT",
            "/mapi/tenants/acme/namespaces",
            Some(&monitor),
        )?;
        assert_eq!(write.status, 403, "{name}");
        let read = call(
            &nginx,
            "GET",
            "/mapi/tenants/acme/statistics",
            Some(&monitor),
        )?;
        assert_eq!(read.status, 200, "{name}");
        assert_eq!(
            app.seen().len(),
            before + 1,
            "{name}: only the allowed read went upstream"
        );

        let log = nginx.error_log();
        match host {
            NginxHost::Apisix => {
                assert!(log.contains("decision_logs disabled"), "{name}: {log}");
            }
            NginxHost::Kong => {
                let deadline = Instant::now() + Duration::from_secs(10);
                let events = loop {
                    let events: Vec<Value> = logs
                        .seen()
                        .iter()
                        .flat_map(|s| {
                            serde_json::from_slice::<Vec<Value>>(&gunzip(&s.body))
                                .unwrap_or_default()
                        })
                        .collect();
                    if events.len() >= 4 || Instant::now() > deadline {
                        break events;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                };
                assert!(
                    events.len() >= 4,
                    "{name}: {events:?}\n{}",
                    nginx.log_tail()
                );
                assert!(
                    !serde_json::to_string(&events)?.contains(&admin),
                    "{name}: a token in the logs"
                );
            }
        }
        nginx.assert_healthy()?;
    }
    Ok(())
}

/// Decision-log batches arrive gzip-compressed, as OPA sends them.
fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    let _ = flate2::read::GzDecoder::new(bytes).read_to_end(&mut out);
    out
}
