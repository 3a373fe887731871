//! Tier 2: `dist/rate-limit.wasm` in the wasmtime host. Four worker VMs hammer one key
//! at once, interleaved at every shared-data hostcall (`Plugin::hammer`): the budget
//! holds to within 1%. The same run with the host ignoring CAS tokens (what a limiter
//! without compare-and-swap does) over-admits, so the test can fail. Under the APISIX
//! profile the per-worker fallback runs and reports its mode; under Kong's the shared
//! table is exact too.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;
use tollgate_host_suite::wasm;
use tollgate_wasm_host::{Plugin, Profile, Request};

/// 100 requests per second, 100 at once, one bucket for everyone.
fn config(extra: serde_json::Value) -> String {
    let mut c = json!({
        "rules": [{"name": "all", "key": [{"constant": "one"}],
                   "limits": [{"requests": 100, "per": "1s"}]}],
        "local": {"max_keys": 64}
    });
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    c.to_string()
}

fn plugin(profile: Profile, workers: usize, config: String) -> Result<Plugin> {
    Plugin::builder(&wasm("rate-limit")?)
        .named("rate-limit")
        .profile(profile)
        .workers(workers)
        .config(config)
        .build()
}

/// Ten one-second rounds; in each, every worker sends 100 requests at once. The exact
/// budget over the ten seconds is the burst plus nine refills: 100 + 9 × 100.
const EXACT: usize = 1000;

fn hammer_ten_seconds(p: &mut Plugin) -> Result<(usize, usize)> {
    let mut allowed = 0;
    let mut refused = 0;
    for round in 0..10u64 {
        if round > 0 {
            p.advance(Duration::from_secs(1));
        }
        let statuses = p.hammer(100, 0x5eed + round, |_, _| Request::get("/api"))?;
        for s in statuses.iter().flatten() {
            match s {
                200 => allowed += 1,
                429 => refused += 1,
                other => panic!("unexpected status {other}"),
            }
        }
    }
    Ok((allowed, refused))
}

#[test]
fn four_workers_on_one_key_get_the_exact_budget() -> Result<()> {
    for profile in [Profile::Envoy, Profile::Kong] {
        let mut p = plugin(profile, 4, config(json!({})))?;
        let (allowed, refused) = hammer_ten_seconds(&mut p)?;
        assert_eq!(allowed + refused, 4000);
        let conflicts = p.metric("rate_limit.cas_conflicts").unwrap_or(0);
        eprintln!(
            "{profile:?}: {allowed} of 4000 allowed (exact {EXACT}), {conflicts} CAS conflicts"
        );
        let off = allowed.abs_diff(EXACT);
        assert!(
            off * 100 <= EXACT,
            "{profile:?}: {allowed} allowed, {EXACT} exact"
        );
        // The workers really did collide: updates were lost and redone.
        assert!(conflicts > 0, "{profile:?}");
        assert_eq!(p.metric("rate_limit.errors").unwrap_or(0), 0);
        assert_eq!(p.metric("rate_limit.mode.shared"), Some(1));
        assert!(p.crashed().is_none());
    }
    Ok(())
}

#[test]
fn without_compare_and_swap_the_same_run_over_admits() -> Result<()> {
    let mut p = plugin(Profile::Envoy, 4, config(json!({})))?;
    p.ignore_cas(true);
    let (allowed, _) = hammer_ten_seconds(&mut p)?;
    eprintln!("without CAS: {allowed} of 4000 allowed (exact {EXACT})");
    assert!(
        allowed > EXACT * 3 / 2,
        "{allowed} allowed: lost updates should over-admit well past {EXACT}"
    );
    Ok(())
}

#[test]
fn apisix_falls_back_to_per_worker_shares_and_reports_it() -> Result<()> {
    // Without the worker count the config is refused on APISIX.
    let refused = plugin(Profile::Apisix, 2, config(json!({})));
    let err = format!("{:#}", refused.err().expect("refused"));
    assert!(err.contains("local.workers"), "{err}");

    let mut p = plugin(
        Profile::Apisix,
        2,
        config(json!({"local": {"max_keys": 64, "workers": 2}})),
    )?;
    assert_eq!(p.metric("rate_limit.mode.per_worker"), Some(1));
    assert_eq!(p.metric("rate_limit.mode.shared"), Some(0));
    assert!(
        p.logs()
            .iter()
            .any(|(_, m)| m.contains("mode per_worker on APISIX")),
        "{:?}",
        p.logs()
    );
    // Each worker enforces half: 50 at once each, 100 together.
    let mut allowed = 0;
    for w in 0..2 {
        for _ in 0..80 {
            let out = p.send(Request::get("/api").on_worker(w))?;
            assert!(!out.trapped());
            assert_eq!(out.hostcall_count("proxy_get_shared_data"), 0);
            if out.client.status == 200 {
                allowed += 1;
            } else {
                assert_eq!(out.client.status, 429);
                assert!(out.client.header("retry-after").is_some());
            }
        }
    }
    assert_eq!(allowed, 100);
    assert!(p.crashed().is_none());
    Ok(())
}

#[test]
fn refusals_and_admissions_carry_their_headers_on_every_profile() -> Result<()> {
    for profile in [Profile::Envoy, Profile::Kong, Profile::Apisix] {
        let c = config(json!({"local": {"max_keys": 64, "workers": 1},
                              "response": {"x_ratelimit_headers": true}}));
        let mut p = plugin(profile, 1, c)?;
        let first = p.send(Request::get("/api"))?;
        assert_eq!(first.client.status, 200, "{profile:?}");
        assert_eq!(
            first.client.header("ratelimit"),
            Some("\"all\";r=99;t=1"),
            "{profile:?}"
        );
        for _ in 0..99 {
            p.send(Request::get("/api"))?;
        }
        let out = p.send(Request::get("/api"))?;
        assert_eq!(out.client.status, 429, "{profile:?}");
        assert!(out.upstream.is_none());
        assert_eq!(out.client.header("retry-after"), Some("1"));
        assert_eq!(
            out.client.header("ratelimit-policy"),
            Some("\"all\";q=100;w=1")
        );
        assert_eq!(out.client.header("x-ratelimit-remaining"), Some("0"));
        assert!(out.client.body_text().contains("\"rate_limited\""));
        p.advance(Duration::from_millis(10));
        assert_eq!(
            p.send(Request::get("/api"))?.client.status,
            200,
            "{profile:?}: refilled"
        );
    }
    Ok(())
}

#[test]
fn a_request_costs_few_hostcalls() -> Result<()> {
    let mut p = plugin(
        Profile::Envoy,
        1,
        config(json!({"response": {"ratelimit_headers": false}})),
    )?;
    p.send(Request::get("/api"))?;
    let out = p.send(Request::get("/api"))?;
    let calls: Vec<&str> = out.hostcalls.iter().map(|h| h.name).collect();
    eprintln!("{calls:?}");
    // One header read, one clock read, the bucket read and written once, one counter.
    for (call, most) in [
        ("proxy_get_header_map_pairs", 1),
        ("proxy_get_current_time_nanoseconds", 1),
        ("proxy_get_shared_data", 1),
        ("proxy_set_shared_data", 1),
        ("proxy_increment_metric", 1),
    ] {
        assert!(out.hostcall_count(call) <= most, "{call}: {calls:?}");
    }
    assert!(calls.len() <= 6, "{calls:?}");
    Ok(())
}
