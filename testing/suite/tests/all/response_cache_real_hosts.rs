//! Tier 3 on the nginx hosts from `../shared/hosts`, each with two workers: jwt-auth →
//! response-cache. On Kong every worker serves what another stored (`shm_kv`) and a
//! write invalidates for every identity; on APISIX each worker keeps its own entries
//! (reported at configure time); neither answers from the cache once the origin has
//! responded, so a stale entry is fetched again, unconditionally. Kong appends a line
//! feed to every body a filter answers with: text is served so, binary is not stored.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;
use tollgate_envoy_harness::{HttpRequest, HttpResponse, Upstream};
use tollgate_host_suite::tokens::{self, es256};
use tollgate_host_suite::wasm_path;
use tollgate_nginx_harness::{Nginx, NginxConfig, NginxFilter, NginxHost};

fn start(host: NginxHost, app: &Upstream) -> Result<Nginx> {
    start_with(host, app, &wasm_path("response-cache")?)
}

fn start_with(host: NginxHost, app: &Upstream, wasm: &std::path::Path) -> Result<Nginx> {
    let jwt = json!({
        "providers": {"idp": {"issuer": "https://idp.test", "audiences": ["api"],
                              "keys": {"jwks": tokens::es_jwks()?}}},
        "rules": [{"match": {"prefix": "/etag/"}},
                  {"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    });
    let cache = json!({
        "rules": [{"name": "api", "glob": "/api/**", "ttl_s": 300},
                  {"name": "etag", "glob": "/etag/**"}],
        "storage": {"max_bytes": 1048576, "max_entries": 256}
    });
    Nginx::start(
        &NginxConfig::new(host, app.addr())
            .workers(2)
            .filter(NginxFilter::new(
                "jwt_auth",
                &wasm_path("jwt-auth")?,
                &jwt.to_string(),
            ))
            .filter(NginxFilter::new("response_cache", wasm, &cache.to_string())),
    )
}

fn bearer(sub: &str) -> Result<String> {
    Ok(format!(
        "Bearer {}",
        es256(&json!({"iss": "https://idp.test", "aud": "api", "sub": sub,
                      "exp": tokens::now() + 3600}))?
    ))
}

fn get(nginx: &Nginx, path: &str, sub: &str) -> Result<HttpResponse> {
    nginx.send(&HttpRequest::get(path).header("authorization", &bearer(sub)?))
}

fn cache(r: &HttpResponse) -> &str {
    r.header("x-cache").unwrap_or("none")
}

#[test]
fn kong_workers_share_entries_and_invalidations() -> Result<()> {
    let app = Upstream::start()?;
    let kong = start(NginxHost::Kong, &app)?;
    let first = get(&kong, "/api/list", "alice")?;
    assert_eq!(
        (first.status, cache(&first)),
        (200, "MISS"),
        "{}",
        kong.log_tail()
    );
    // Each request on its own connection: both workers answer, from one store.
    for _ in 0..6 {
        let hit = get(&kong, "/api/list", "alice")?;
        assert_eq!(
            (hit.status, cache(&hit)),
            (200, "HIT"),
            "{}",
            kong.log_tail()
        );
        // The whole JSON body, and the line feed Kong appends to what a filter answers.
        assert_eq!(hit.body, [first.body.as_slice(), b"\n"].concat());
        assert!(hit.header("age").is_some());
    }
    assert_eq!(app.hits("/api/list"), 1);
    let bob = get(&kong, "/api/list", "bob")?;
    assert_eq!(cache(&bob), "MISS", "another identity");
    let put = kong.send(
        &HttpRequest::new("PUT", "/api/list")
            .header("authorization", &bearer("alice")?)
            .body("{}"),
    )?;
    assert_eq!(put.status, 200);
    for who in ["alice", "bob"] {
        assert_eq!(
            cache(&get(&kong, "/api/list", who)?),
            "MISS",
            "{who}: invalidated"
        );
    }
    kong.assert_healthy()
}

#[test]
fn apisix_workers_keep_their_own_entries() -> Result<()> {
    let app = Upstream::start()?;
    let apisix = start(NginxHost::Apisix, &app)?;
    let answers: Vec<HttpResponse> = (0..8)
        .map(|_| get(&apisix, "/api/list", "alice"))
        .collect::<Result<_>>()?;
    let hits = answers.iter().filter(|r| cache(r) == "HIT").count();
    let misses = answers.iter().filter(|r| cache(r) == "MISS").count();
    eprintln!("APISIX, 2 workers: {misses} misses, {hits} hits of 8");
    // At most one miss per worker; the body is the whole body on every hit.
    assert!(
        (1..=2).contains(&misses) && hits + misses == 8,
        "{}",
        apisix.log_tail()
    );
    // Each hit is the body its worker stored (one of the misses', whole).
    let filled: Vec<&Vec<u8>> = answers
        .iter()
        .filter(|r| cache(r) == "MISS")
        .map(|r| &r.body)
        .collect();
    assert!(
        answers
            .iter()
            .all(|r| r.status == 200 && filled.contains(&&r.body))
    );
    assert_eq!(cache(&get(&apisix, "/api/list", "bob")?), "MISS");
    let log = apisix.error_log();
    assert!(
        log.contains("each worker keeps its own"),
        "{}",
        apisix.log_tail()
    );
    apisix.assert_healthy()
}

#[test]
fn nginx_hosts_fetch_stale_entries_again() -> Result<()> {
    for host in [NginxHost::Kong, NginxHost::Apisix] {
        let app = Upstream::start()?;
        let nginx = start(host, &app)?;
        let first = nginx.send(&HttpRequest::get("/etag/v1"))?;
        assert_eq!(cache(&first), "MISS", "{host:?}: {}", nginx.log_tail());
        std::thread::sleep(Duration::from_millis(1200));
        let again = nginx.send(&HttpRequest::get("/etag/v1"))?;
        assert_eq!((again.status, cache(&again)), (200, "MISS"), "{host:?}");
        assert!(
            !app.seen()
                .iter()
                .any(|s| s.headers.iter().any(|(k, _)| k == "if-none-match")),
            "{host:?}: no conditional request the host could not answer"
        );
        nginx.assert_healthy()?;
    }
    Ok(())
}
