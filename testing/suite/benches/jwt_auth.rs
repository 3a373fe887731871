//! jwt-auth's cost per request for each algorithm: the decision alone (native), the
//! filter's glue over `MockHost` (native), and the built `.wasm` in the wasmtime host.
//! The verified-token cache is off, so every request verifies a signature; `*_cached`
//! rows turn it on. Report ratios within one run, never absolute times.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // benchmark code: a broken setup fails the run

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tollgate_host_suite::tokens::{self, ALGS};
use tollgate_host_suite::wasm;
use tollgate_jwt_auth::JwtAuthRoot;
use tollgate_jwt_auth::config::JwtAuthConfig;
use tollgate_jwt_auth::decide::{NoRemoteKeys, RequestView};
use tollgate_kit::mock::MockHost;
use tollgate_kit::{MapKind, RootFilter};
use tollgate_wasm_host::{Plugin, Request, UpstreamReply};

fn config(cache_entries: usize) -> Value {
    json!({"providers": {"idp": {"issuer": "https://idp.test", "audiences": ["api"],
                                 "keys": {"jwks": tokens::every_jwks().expect("keys")},
                                 "claim_headers": [{"claim": "sub", "header": "x-user"}]}},
           "rules": [{"match": {"prefix": "/public"}},
                     {"match": {"prefix": "/"}, "requires": {"provider": "idp"}}],
           "cache_entries": cache_entries})
}

fn headers(token: &str) -> Vec<(String, String)> {
    vec![
        (":authority".into(), "bench.test".into()),
        (":path".into(), "/api/items".into()),
        (":method".into(), "GET".into()),
        (":scheme".into(), "http".into()),
        ("authorization".into(), format!("Bearer {token}")),
        ("x-forwarded-proto".into(), "http".into()),
        (
            "x-request-id".into(),
            "00000000-0000-4000-8000-000000000001".into(),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let wasm_bytes = wasm("jwt-auth").expect("run scripts/build-wasm first");
    let claims = json!({"iss": "https://idp.test", "aud": "api", "sub": "alice",
                        "exp": tokens::now() + 86_400, "iat": tokens::now()});
    let mut group = c.benchmark_group("jwt_auth");
    for (cache, suffix) in [(0usize, ""), (1024, "_cached")] {
        let cfg = config(cache);
        let compiled = tollgate_kit::config::load::<JwtAuthConfig>(cfg.to_string().as_bytes())
            .expect("config");
        let mut root = JwtAuthRoot::default();
        let host = MockHost::new();
        root.on_configure(&host, cfg.to_string().as_bytes())
            .expect("configure");
        let mut plugin = Plugin::builder(&wasm_bytes)
            .named("jwt-auth")
            .config(cfg.to_string())
            .build()
            .expect("plugin");
        plugin.upstream(|_| UpstreamReply::ok("ok"));
        let algs: &[&str] = if cache == 0 {
            &ALGS
        } else {
            &["HS256", "ES256"]
        };
        for alg in algs {
            let token = tokens::sign(alg, &claims).expect("token");
            let pairs = headers(&token);
            if cache == 0 {
                group.bench_function(format!("native_decide/{alg}"), |b| {
                    b.iter(|| {
                        let view = RequestView {
                            method: "GET",
                            path: "/api/items",
                            headers: &pairs,
                        };
                        black_box(compiled.decide(&view, tokens::now() as f64, &NoRemoteKeys))
                    })
                });
            }
            // Benchmark only requests that pass: a refusal is cheaper and would flatter.
            let probe = plugin
                .send(
                    Request::get("/api/items").header("authorization", &format!("Bearer {token}")),
                )
                .expect("send");
            assert_eq!(
                probe.client.status,
                200,
                "{alg}: {}",
                probe.client.body_text()
            );
            group.bench_function(format!("native_filter{suffix}/{alg}"), |b| {
                b.iter(|| {
                    let refs: Vec<(&str, &str)> = pairs
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect();
                    let host = MockHost::new()
                        .with_headers(MapKind::RequestHeaders, &refs)
                        .with_time(std::time::SystemTime::now());
                    let mut stream = root.new_stream(&host, 2).expect("stream");
                    let action = stream.on_request_headers(&host, refs.len(), true);
                    assert_eq!(action, tollgate_kit::HeadersAction::Continue);
                    black_box(action)
                })
            });
            group.bench_function(format!("wasm_filter{suffix}/{alg}"), |b| {
                b.iter(|| {
                    plugin
                        .send(
                            Request::get("/api/items")
                                .header("authorization", &format!("Bearer {token}")),
                        )
                        .expect("send")
                })
            });
        }
        if cache == 0 {
            group.bench_function("wasm_filter/no_token_public_route", |b| {
                b.iter(|| plugin.send(Request::get("/public/items")).expect("send"))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
