//! Tier 3 through real Envoy with two workers (`--concurrency 2`): a burst of
//! concurrent requests on one key, each on its own connection (so both workers serve
//! them), is admitted exactly up to the budget; refusals carry their headers through
//! Envoy; the mode is reported as a stat.

use anyhow::Result;
use serde_json::json;
use tollgate_envoy_harness::{Envoy, EnvoyConfig, HttpRequest, Upstream, WasmFilter};
use tollgate_host_suite::wasm_path;

/// 40 requests per hour, all at once: nothing refills during the test.
fn config() -> String {
    json!({
        "rules": [{"name": "per-user", "key": [{"header": "x-user"}],
                   "limits": [{"requests": 40, "per": "1h"}]}],
        "local": {"max_keys": 1024},
        "response": {"x_ratelimit_headers": true}
    })
    .to_string()
}

fn start(upstream: &Upstream) -> Result<Envoy> {
    Envoy::start(
        &EnvoyConfig::new(upstream.addr())
            .filter(WasmFilter::new("rate-limit", &wasm_path("rate-limit")?).config(&config()))
            .concurrency(2),
    )
}

#[test]
fn two_workers_admit_exactly_the_budget() -> Result<()> {
    let upstream = Upstream::start()?;
    let envoy = start(&upstream)?;
    // 8 clients × 15 requests for alice, each request on its own connection.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    (0..15)
                        .map(|_| {
                            envoy
                                .send(&HttpRequest::get("/api").header("x-user", "alice"))
                                .map(|r| r.status)
                        })
                        .collect::<Result<Vec<u16>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect::<Result<Vec<Vec<u16>>>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    let allowed = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    eprintln!("Envoy, 2 workers: {allowed} of 120 admitted for a budget of 40");
    assert_eq!((allowed, refused), (40, 80), "{statuses:?}");
    assert_eq!(upstream.hits("/api"), 40);

    // Both workers served: each logged its configure (one VM per worker).
    let configured = envoy.log().matches("mode shared on Envoy").count();
    assert!(
        configured >= 2,
        "{configured} VMs configured:\n{}",
        envoy.log_tail()
    );

    // Another user has a whole budget; a refusal says why and when.
    let bob = envoy.send(&HttpRequest::get("/api").header("x-user", "bob"))?;
    assert_eq!(bob.status, 200);
    assert_eq!(bob.header("ratelimit"), Some("\"per-user\";r=39;t=90"));
    let refused = envoy.send(&HttpRequest::get("/api").header("x-user", "alice"))?;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), Some("90"));
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"per-user\";q=40;w=3600")
    );
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    assert!(refused.body_text().contains("\"rate_limited\""));

    assert_eq!(envoy.stat("wasmcustom.rate_limit.mode.shared")?, Some(1));
    assert_eq!(
        envoy.stat("wasmcustom.rate_limit.per-user.allowed")?,
        Some(41)
    );
    assert_eq!(
        envoy.stat("wasmcustom.rate_limit.per-user.denied")?,
        Some(81)
    );
    Ok(())
}
