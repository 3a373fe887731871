//! Tier 3 on the nginx hosts from `../shared/hosts`, each with two workers: jwt-auth →
//! rate-limit per verified user. Kong's `shm_kv` is shared by its workers, so a burst
//! on one user is admitted exactly up to the budget; APISIX has no shared data, so each
//! worker enforces half (never more than the whole together), the mode is reported,
//! and a config without the worker count is refused at configure time.

use anyhow::Result;
use serde_json::json;
use tollgate_envoy_harness::{HttpRequest, HttpResponse, Upstream};
use tollgate_host_suite::tokens::{self, es256};
use tollgate_host_suite::wasm_path;
use tollgate_nginx_harness::{Nginx, NginxConfig, NginxFilter, NginxHost};

fn filters(workers: Option<u32>) -> Result<Vec<NginxFilter>> {
    let jwt = json!({
        "providers": {"idp": {"issuer": "https://idp.test", "audiences": ["api"],
                              "keys": {"jwks": tokens::es_jwks()?}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    });
    let mut rl = json!({
        "rules": [{"name": "per-user", "key": [{"claim": "sub"}],
                   "limits": [{"requests": 20, "per": "1h"}]}],
        "local": {"max_keys": 1024}
    });
    if let Some(w) = workers {
        rl["local"]["workers"] = json!(w);
    }
    Ok(vec![
        NginxFilter::new("jwt_auth", &wasm_path("jwt-auth")?, &jwt.to_string()),
        NginxFilter::new("rate_limit", &wasm_path("rate-limit")?, &rl.to_string()),
    ])
}

fn start(host: NginxHost, app: &Upstream, workers: Option<u32>) -> Result<Nginx> {
    let mut config = NginxConfig::new(host, app.addr()).workers(2);
    for f in filters(workers)? {
        config = config.filter(f);
    }
    Nginx::start(&config)
}

fn bearer(sub: &str) -> Result<String> {
    Ok(format!(
        "Bearer {}",
        es256(&json!({"iss": "https://idp.test", "aud": "api", "sub": sub,
                      "exp": tokens::now() + 3600}))?
    ))
}

/// 60 requests for `sub` from 6 concurrent clients, each on its own connection.
fn burst(nginx: &Nginx, sub: &str) -> Result<Vec<HttpResponse>> {
    let auth = bearer(sub)?;
    let per_client: Vec<Vec<HttpResponse>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    (0..10)
                        .map(|_| {
                            nginx.send(&HttpRequest::get("/api").header("authorization", &auth))
                        })
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect::<Result<Vec<_>>>()
    })?;
    Ok(per_client.into_iter().flatten().collect())
}

#[test]
fn kong_workers_share_one_exact_budget() -> Result<()> {
    let app = Upstream::start()?;
    let kong = start(NginxHost::Kong, &app, None)?;
    let answers = burst(&kong, "alice")?;
    let allowed = answers.iter().filter(|r| r.status == 200).count();
    eprintln!("Kong, 2 workers: {allowed} of 60 admitted for a budget of 20");
    assert_eq!(allowed, 20, "{}", kong.log_tail());
    for r in answers.iter().filter(|r| r.status != 200) {
        assert_eq!(r.status, 429);
        assert!(r.header("retry-after").is_some());
        assert_eq!(
            r.header("ratelimit-policy"),
            Some("\"per-user\";q=20;w=3600")
        );
        assert!(r.body_text().contains("\"rate_limited\""));
    }
    assert_eq!(app.seen().len(), 20);
    // Another user still has a whole budget.
    let bob = kong.send(&HttpRequest::get("/api").header("authorization", &bearer("bob")?))?;
    assert_eq!(bob.status, 200);
    assert_eq!(bob.header("ratelimit"), Some("\"per-user\";r=19;t=180"));
    let log = kong.error_log();
    assert!(log.contains("mode shared on Kong"), "{}", kong.log_tail());
    kong.assert_healthy()
}

#[test]
fn apisix_workers_each_enforce_their_share() -> Result<()> {
    let app = Upstream::start()?;
    let apisix = start(NginxHost::Apisix, &app, Some(2))?;
    let answers = burst(&apisix, "alice")?;
    let allowed = answers.iter().filter(|r| r.status == 200).count();
    eprintln!("APISIX, 2 workers of 10 each: {allowed} of 60 admitted for a budget of 20");
    // Each worker admits at most its 10; whichever worker took more connections, the
    // two never admit more than the whole budget.
    assert!(
        (10..=20).contains(&allowed),
        "{allowed}: {}",
        apisix.log_tail()
    );
    assert!(answers.iter().all(|r| r.status == 200 || r.status == 429));
    let log = apisix.error_log();
    assert!(
        log.contains("mode per_worker on APISIX"),
        "{}",
        apisix.log_tail()
    );
    assert!(
        log.contains("1/2 of each limit per worker"),
        "{}",
        apisix.log_tail()
    );
    apisix.assert_healthy()
}

#[test]
fn apisix_refuses_a_config_without_the_worker_count() -> Result<()> {
    let app = Upstream::start()?;
    let apisix = start(NginxHost::Apisix, &app, None)?;
    // APISIX answers 503 for a plugin whose configuration failed.
    let r = apisix.send(&HttpRequest::get("/api").header("authorization", &bearer("alice")?))?;
    assert_eq!(r.status, 503);
    assert!(app.seen().is_empty());
    let log = apisix.error_log();
    assert!(
        log.contains("local.workers") && log.contains("APISIX workers share no data"),
        "{}",
        apisix.log_tail()
    );
    Ok(())
}
