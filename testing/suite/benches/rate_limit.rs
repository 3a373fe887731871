//! rate-limit's cost per request: the decision alone over in-memory slots (native), the
//! filter over `MockHost` (native, shared data in a map), and the built `.wasm` in the
//! wasmtime host (one worker, shared data with CAS), beside the empty filter in the same
//! host; for one rule on a constant key, one keyed by a header, and two rules (a user
//! per claim and the client address). Report ratios within one run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // benchmark code: a broken setup fails the run

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tollgate_host_suite::{fixture_path, wasm};
use tollgate_kit::mock::MockHost;
use tollgate_kit::slots::MemorySlots;
use tollgate_kit::{HostFacts, MapKind, RootFilter};
use tollgate_rate_limit::RateLimitRoot;
use tollgate_rate_limit::decide::{Request as DecideRequest, decide};
use tollgate_wasm_host::{Plugin, Request, UpstreamReply};

/// Never refused within a run.
const HUGE: u64 = 1_000_000_000;

fn cases() -> Vec<(&'static str, Value)> {
    let limit = json!([{"requests": HUGE, "per": "1s"}]);
    vec![
        (
            "constant",
            json!({"rules": [{"name": "all", "limits": limit}]}),
        ),
        (
            "header",
            json!({"rules": [{"name": "per-key", "key": [{"header": "x-api-key"}], "limits": limit}]}),
        ),
        (
            "claim_and_address",
            json!({"rules": [
            {"name": "per-user", "key": [{"claim": "sub"}], "limits": [{"requests": HUGE, "per": "1s"}, {"requests": HUGE, "per": "1h"}]},
            {"name": "per-client", "key": ["client_address"], "limits": limit}]}),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let wasm_bytes = wasm("rate-limit").expect("run scripts/build-wasm first");
    let empty = std::fs::read(fixture_path("empty-filter").unwrap()).unwrap();
    let payload = URL_SAFE_NO_PAD.encode(json!({"sub": "alice", "tenant": "acme"}).to_string());
    let headers: Vec<(String, String)> = vec![
        (":method".into(), "GET".into()),
        (":path".into(), "/api/items?page=2".into()),
        (":authority".into(), "edge.test".into()),
        ("x-api-key".into(), "k-123".into()),
        ("x-tollgate-jwt-payload".into(), payload.clone()),
    ];
    let mut group = c.benchmark_group("rate_limit");
    let mut empty_plugin = Plugin::builder(&empty).named("empty").build().unwrap();
    empty_plugin.upstream(|_| UpstreamReply::ok("ok"));
    let request = || {
        Request::get("/api/items?page=2")
            .header("x-api-key", "k-123")
            .header("x-tollgate-jwt-payload", &payload)
    };
    group.bench_function("wasm_filter/empty", |b| {
        b.iter(|| empty_plugin.send(request()).unwrap())
    });
    for (name, config) in cases() {
        let cfg = config.to_string();
        let compiled =
            tollgate_rate_limit::config::load(cfg.as_bytes(), HostFacts::default()).unwrap();
        let slots = MemorySlots::new(compiled.max_keys);
        let mut now = 1_700_000_000_000_000_000u64;
        group.bench_function(format!("native_decide/{name}"), |b| {
            b.iter(|| {
                now += 1000;
                let d = decide(
                    &compiled,
                    compiled.mode,
                    &slots,
                    (1, 2),
                    &DecideRequest {
                        headers: &headers,
                        peer: Some("10.0.0.1:4000"),
                        now,
                    },
                );
                black_box(d)
            })
        });
        let host = MockHost::new()
            .with_property(&["source", "address"], b"10.0.0.1:4000")
            .with_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let mut root = RateLimitRoot::default();
        root.on_configure(&host, cfg.as_bytes()).unwrap();
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        group.bench_function(format!("native_filter/{name}"), |b| {
            b.iter(|| {
                host.state.borrow_mut().maps.insert(
                    MapKind::RequestHeaders,
                    refs.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                );
                host.state.borrow_mut().hostcalls.clear();
                let mut stream = root.new_stream(&host, 2).unwrap();
                black_box(stream.on_request_headers(&host, refs.len(), true))
            })
        });
        let mut plugin = Plugin::builder(&wasm_bytes)
            .named("rate-limit")
            .config(cfg)
            .build()
            .unwrap();
        plugin.upstream(|_| UpstreamReply::ok("ok"));
        let probe = plugin.send(request()).unwrap();
        assert_eq!(
            probe.client.status,
            200,
            "{name}: {}",
            probe.client.body_text()
        );
        group.bench_function(format!("wasm_filter/{name}"), |b| {
            b.iter(|| plugin.send(request()).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
