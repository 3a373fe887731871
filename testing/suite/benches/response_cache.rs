//! response-cache's cost per request: the decisions alone over in-memory slots (native),
//! and the built `.wasm` in the wasmtime host (one worker, shared data with CAS) beside
//! the empty filter in the same host: a hit (answered from the request phase), a miss
//! with its 1 KB response stored, and a bypass (no rule). Report ratios within one run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // benchmark code: a broken setup fails the run

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use tollgate_host_suite::{fixture_path, wasm};
use tollgate_kit::HostFacts;
use tollgate_kit::slots::MemorySlots;
use tollgate_response_cache::decide::{self, Origin, Plan, Request as DecideRequest};
use tollgate_response_cache::store::Store;
use tollgate_wasm_host::{Plugin, Request, UpstreamReply};

const NANOS: u64 = 1_000_000_000;

fn config() -> String {
    json!({"rules": [{"name": "health", "glob": "/health", "cache": false},
                     {"name": "stats", "glob": "/mapi/tenants/*/statistics", "ttl_s": 60},
                     {"name": "all", "glob": "/mapi/**", "ttl_s": 300}],
           "invalidate": [{"glob": "/mapi/tenants/*/namespaces", "prefixes": ["/mapi/tenants/{1}/statistics"]}],
           "storage": {"max_entries": 4096}})
    .to_string()
}

fn bench(c: &mut Criterion) {
    let wasm_bytes = wasm("response-cache").expect("run scripts/build-wasm first");
    let empty = std::fs::read(fixture_path("empty-filter").unwrap()).unwrap();
    let payload = URL_SAFE_NO_PAD
        .encode(json!({"iss": "https://idp", "sub": "alice", "tenant": "acme"}).to_string());
    let body = vec![b'x'; 1024];
    let mut group = c.benchmark_group("response_cache");

    // Native decisions over memory slots.
    let cfg = config();
    let compiled =
        tollgate_response_cache::config::load(cfg.as_bytes(), HostFacts::default()).unwrap();
    let s = &compiled.storage;
    let tables = (
        MemorySlots::new(s.max_entries),
        MemorySlots::new(s.max_entries),
        MemorySlots::new(s.invalidation_marks),
        MemorySlots::new(1),
    );
    let store = Store {
        meta: &tables.0,
        body: &tables.1,
        marks: &tables.2,
        account: &tables.3,
        entries: s.max_entries,
        mark_slots: s.invalidation_marks,
        max_bytes: s.max_bytes,
    };
    let headers = |path: &str| -> Vec<(String, String)> {
        vec![
            (":method".into(), "GET".into()),
            (":path".into(), path.into()),
            (":authority".into(), "acme.hcp.test".into()),
            ("x-tollgate-jwt-payload".into(), payload.clone()),
        ]
    };
    let response: Vec<(String, String)> = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
    ];
    let now = 1_700_000_000 * NANOS;
    let hit_headers = headers("/mapi/tenants/acme/namespaces");
    let mut events = Vec::new();
    // Fill the entry the hit benchmark reads.
    if let Ok(Plan::Fetch(f)) = decide::request(
        &compiled,
        &store,
        &DecideRequest {
            headers: &hit_headers,
            credentials: None,
            now_ns: now,
            body: None,
        },
        &mut events,
    ) {
        let origin = Origin {
            status: 200,
            headers: &response,
            body: &body,
            now_ns: now,
        };
        decide::store_response(&compiled, &store, &f, &origin, &hit_headers, &mut events);
    }
    group.bench_function("native_decide/hit", |b| {
        b.iter(|| {
            let mut events = Vec::new();
            let plan = decide::request(
                &compiled,
                &store,
                &DecideRequest {
                    headers: &hit_headers,
                    credentials: None,
                    now_ns: now + NANOS,
                    body: None,
                },
                &mut events,
            );
            assert!(matches!(plan, Ok(Plan::Serve(_))));
            black_box(plan)
        })
    });
    let mut n = 0u64;
    group.bench_function("native_decide/miss_and_store", |b| {
        b.iter(|| {
            n += 1;
            let h = headers(&format!("/mapi/items/{}", n % 2048));
            let mut events = Vec::new();
            // Later each time: every entry is new or stale-replaced.
            let at = now + n * 400 * NANOS;
            if let Ok(Plan::Fetch(f)) = decide::request(
                &compiled,
                &store,
                &DecideRequest {
                    headers: &h,
                    credentials: None,
                    now_ns: at,
                    body: None,
                },
                &mut events,
            ) {
                let origin = Origin {
                    status: 200,
                    headers: &response,
                    body: &body,
                    now_ns: at,
                };
                black_box(decide::store_response(
                    &compiled,
                    &store,
                    &f,
                    &origin,
                    &h,
                    &mut events,
                ));
            }
        })
    });

    // The .wasm in the wasmtime host.
    let request = |path: &str| {
        Request::get(path)
            .authority("acme.hcp.test")
            .header("x-tollgate-jwt-payload", &payload)
    };
    let mut empty_plugin = Plugin::builder(&empty).named("empty").build().unwrap();
    let reply_body = body.clone();
    empty_plugin.upstream(move |_| {
        UpstreamReply::ok(reply_body.clone()).header("content-type", "application/json")
    });
    group.bench_function("wasm_filter/empty", |b| {
        b.iter(|| {
            empty_plugin
                .send(request("/mapi/tenants/acme/namespaces"))
                .unwrap()
        })
    });
    let mut plugin = Plugin::builder(&wasm_bytes)
        .named("response-cache")
        .config(cfg.clone())
        .build()
        .unwrap();
    let reply_body = body.clone();
    plugin.upstream(move |_| {
        UpstreamReply::ok(reply_body.clone()).header("content-type", "application/json")
    });
    let first = plugin
        .send(request("/mapi/tenants/acme/namespaces"))
        .unwrap();
    assert_eq!(first.client.header("x-cache"), Some("MISS"));
    let hit = plugin
        .send(request("/mapi/tenants/acme/namespaces"))
        .unwrap();
    assert_eq!(
        hit.client.header("x-cache"),
        Some("HIT"),
        "{}",
        hit.client.body_text()
    );
    group.bench_function("wasm_filter/hit", |b| {
        b.iter(|| {
            plugin
                .send(request("/mapi/tenants/acme/namespaces"))
                .unwrap()
        })
    });
    group.bench_function("wasm_filter/bypass", |b| {
        b.iter(|| plugin.send(request("/health")).unwrap())
    });
    let mut i = 0u64;
    group.bench_function("wasm_filter/miss_and_store", |b| {
        b.iter(|| {
            i += 1;
            // A new path each time until the table is full, then slots are reused.
            plugin.send(request(&format!("/mapi/items/{i}"))).unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
