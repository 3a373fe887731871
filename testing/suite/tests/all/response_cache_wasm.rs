//! Tier 2: `dist/response-cache.wasm` in the wasmtime host, under the Envoy, Kong and
//! APISIX profiles, with a controllable clock: hits served from the request phase with
//! their age, identities apart, TTL expiry and revalidation, invalidation by a write,
//! the per-worker fallback on APISIX, workers racing to fill and evict one store, and a
//! store that fails under the filter without failing a request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tollgate_host_suite::wasm;
use tollgate_wasm_host::{Plugin, Profile, Request, UpstreamReply};

const PROFILES: [Profile; 3] = [Profile::Envoy, Profile::Kong, Profile::Apisix];

fn config() -> String {
    json!({
        "rules": [{"name": "stats", "glob": "/mapi/tenants/*/statistics", "ttl_s": 60},
                  {"name": "all", "glob": "/mapi/**", "ttl_s": 300}],
        "storage": {"max_entries": 64, "invalidation_marks": 64}
    })
    .to_string()
}

fn plugin(profile: Profile, workers: usize, config: &str) -> Result<(Plugin, Arc<AtomicUsize>)> {
    let mut p = Plugin::builder(&wasm("response-cache")?)
        .named("response-cache")
        .profile(profile)
        .workers(workers)
        .config(config.to_string())
        .build()?;
    let origin_calls = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&origin_calls);
    p.upstream(move |req| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let path = req
            .headers
            .iter()
            .find(|(k, _)| k == ":path")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let conditional = req
            .headers
            .iter()
            .any(|(k, v)| k == "if-none-match" && v == "\"e\"");
        if path.starts_with("/mapi/etag") {
            let reply = if conditional {
                UpstreamReply::new(304)
            } else {
                UpstreamReply::ok(format!("etag body {n}"))
            };
            return reply
                .header("etag", "\"e\"")
                .header("cache-control", "max-age=10");
        }
        // The body names the path and the caller, chunked in two.
        let who = req
            .headers
            .iter()
            .find(|(k, _)| k == "x-tollgate-jwt-payload")
            .map_or("anonymous".to_string(), |(_, v)| {
                v.chars().take(12).collect()
            });
        UpstreamReply::new(
            if req
                .headers
                .iter()
                .any(|(k, v)| k == ":method" && v == "PUT")
            {
                201
            } else {
                200
            },
        )
        .header("content-type", "text/plain")
        .chunk(format!("{path} for "))
        .chunk(format!("{who} #{n}"))
    });
    Ok((p, origin_calls))
}

fn user(name: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({"iss": "i", "sub": name, "tenant": "acme"}).to_string())
}

fn get(path: &str, who: &str) -> Request {
    Request::get(path)
        .authority("acme.hcp.example.com")
        .header("x-tollgate-jwt-payload", &user(who))
}

#[test]
fn hits_ages_identities_and_ttl_under_every_profile() -> Result<()> {
    for profile in PROFILES {
        let (mut p, calls) = plugin(profile, 1, &config())?;
        let miss = p.send(get("/mapi/tenants/acme/statistics", "alice"))?;
        assert_eq!(miss.client.status, 200, "{profile:?}");
        assert_eq!(miss.client.header("x-cache"), Some("MISS"), "{profile:?}");
        p.advance(Duration::from_secs(30));
        let hit = p.send(get("/mapi/tenants/acme/statistics", "alice"))?;
        assert_eq!(hit.client.header("x-cache"), Some("HIT"), "{profile:?}");
        assert_eq!(hit.client.header("age"), Some("30"), "{profile:?}");
        // The whole chunked body; Kong appends a line feed to what a filter answers.
        let mut expected = miss.client.body.clone();
        if profile == Profile::Kong {
            expected.push(b'\n');
        }
        assert_eq!(
            hit.client.body, expected,
            "{profile:?}: the whole chunked body"
        );
        assert!(
            hit.upstream.is_none(),
            "{profile:?}: answered in the request phase"
        );
        let bob = p.send(get("/mapi/tenants/acme/statistics", "bob"))?;
        assert_eq!(bob.client.header("x-cache"), Some("MISS"), "{profile:?}");
        assert_ne!(bob.client.body, miss.client.body);
        p.advance(Duration::from_secs(30));
        let expired = p.send(get("/mapi/tenants/acme/statistics", "alice"))?;
        assert_eq!(
            expired.client.header("x-cache"),
            Some("MISS"),
            "{profile:?}: 60 s TTL"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3, "{profile:?}");
        assert_eq!(p.metric("response_cache.hits"), Some(1), "{profile:?}");
        assert_eq!(p.metric("response_cache.errors"), None, "{profile:?}");
    }
    Ok(())
}

#[test]
fn revalidation_on_envoy_and_a_fresh_fetch_elsewhere() -> Result<()> {
    for profile in PROFILES {
        let (mut p, calls) = plugin(profile, 1, &config())?;
        let first = p.send(get("/mapi/etag", "alice"))?;
        p.advance(Duration::from_secs(11));
        let again = p.send(get("/mapi/etag", "alice"))?;
        let sent_conditional = again
            .upstream
            .as_ref()
            .is_some_and(|u| u.headers.iter().any(|(k, _)| k == "if-none-match"));
        assert_eq!(again.client.status, 200, "{profile:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 2, "{profile:?}");
        if profile == Profile::Envoy {
            assert!(sent_conditional);
            assert_eq!(again.client.header("x-cache"), Some("HIT"));
            assert_eq!(
                again.client.body, first.client.body,
                "the 304 served the stored body"
            );
        } else {
            assert!(
                !sent_conditional,
                "{profile:?}: cannot answer after the origin"
            );
            assert_eq!(again.client.header("x-cache"), Some("MISS"), "{profile:?}");
        }
    }
    Ok(())
}

#[test]
fn a_write_invalidates_every_identity() -> Result<()> {
    for profile in [Profile::Envoy, Profile::Kong] {
        let (mut p, _) = plugin(profile, 2, &config())?;
        // Workers alternate: alice fills on one, bob on the other, both share.
        for who in ["alice", "bob", "alice", "bob"] {
            p.send(get("/mapi/tenants/acme/namespaces", who))?;
        }
        assert_eq!(
            p.metric("response_cache.hits"),
            Some(2),
            "{profile:?}: shared by workers"
        );
        p.advance(Duration::from_secs(1));
        let put = p.send(
            Request::new("PUT", "/mapi/tenants/acme/namespaces")
                .authority("acme.hcp.example.com")
                .header("x-tollgate-jwt-payload", &user("alice")),
        )?;
        assert_eq!(put.client.status, 201);
        p.advance(Duration::from_secs(1));
        for who in ["alice", "bob"] {
            let after = p.send(get("/mapi/tenants/acme/namespaces", who))?;
            assert_eq!(
                after.client.header("x-cache"),
                Some("MISS"),
                "{profile:?} {who}"
            );
        }
    }
    Ok(())
}

#[test]
fn apisix_workers_keep_their_own_entries() -> Result<()> {
    let (mut p, _) = plugin(Profile::Apisix, 2, &config())?;
    assert!(
        p.logs()
            .iter()
            .any(|(_, l)| l.contains("each worker keeps its own"))
    );
    let one = p.send(get("/mapi/x", "alice").on_worker(0))?;
    assert_eq!(one.client.header("x-cache"), Some("MISS"));
    let other = p.send(get("/mapi/x", "alice").on_worker(1))?;
    assert_eq!(
        other.client.header("x-cache"),
        Some("MISS"),
        "no shared data"
    );
    let same = p.send(get("/mapi/x", "alice").on_worker(0))?;
    assert_eq!(same.client.header("x-cache"), Some("HIT"));
    Ok(())
}

/// Four workers race to fill and read 32 keys in a store with room for far fewer
/// (entries of ~3 KB against a 64 KB budget), interleaved at every shared-data
/// hostcall: every answer is the right key's, never another key's, and the byte count
/// matches what is stored. With the host ignoring CAS tokens, two workers take one
/// slot at once and the count drifts: the test can fail.
fn race(ignore_cas: bool) -> Result<(bool, u64, u64)> {
    let small = json!({
        "rules": [{"name": "all", "glob": "/mapi/**", "ttl_s": 300}],
        "storage": {"max_entries": 32, "invalidation_marks": 64, "max_bytes": 65536, "max_entry_bytes": 4096}
    })
    .to_string();
    let (mut p, _) = plugin(Profile::Envoy, 4, &small)?;
    p.ignore_cas(ignore_cas);
    let origin = |r: &Request| UpstreamReply::ok(format!("{}:{}", r.path, "x".repeat(3000)));
    p.upstream(|req| {
        let path = req
            .headers
            .iter()
            .find(|(k, _)| k == ":path")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        UpstreamReply::ok(format!("{path}:{}", "x".repeat(3000)))
    });
    let mut right = true;
    for round in 0..6u64 {
        let statuses = p.hammer_exchanges(
            30,
            0xcafe + round,
            |w, i| get(&format!("/mapi/k{}", (w * 7 + i * 3) % 32), "alice"),
            &origin,
        )?;
        assert!(statuses.iter().flatten().all(|s| *s == 200), "{statuses:?}");
        for i in 0..32 {
            let path = format!("/mapi/k{i}");
            let r = p.send(get(&path, "alice"))?;
            right &= r.client.body_text().starts_with(&format!("{path}:"));
        }
    }
    let counted = p.metric("response_cache.bytes").unwrap_or(0);
    let evictions = p.metric("response_cache.evictions").unwrap_or(0);
    // What the store really holds: every entry body (32 slots, 64 marks).
    let stored: u64 = p
        .shared_data("tollgate.response_cache.v1/32.64/b/")
        .iter()
        .map(|(_, v)| v.len() as u64)
        .sum();
    Ok((right && counted == stored, counted, evictions))
}

#[test]
fn racing_workers_never_serve_another_keys_entry() -> Result<()> {
    let (right, counted, evictions) = race(false)?;
    eprintln!("4 workers racing: {evictions} evictions, {counted} bytes counted");
    assert!(
        right,
        "every key answered with its own entry; the count is what is stored"
    );
    assert!(counted <= 65536, "{counted}");
    assert!(evictions > 0);
    let (consistent, drifted, _) = race(true)?;
    eprintln!("without CAS: {drifted} bytes counted");
    assert!(
        !consistent,
        "without CAS the count drifts from what is stored"
    );
    Ok(())
}
