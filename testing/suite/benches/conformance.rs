//! Per-request cost of the conformance filter: natively (its logic over `MockHost`) and
//! as the built `.wasm` in the wasmtime host, for the same stream lifecycle. Report the
//! ratio, never the absolute times. `TOLLGATE_BENCH_WASM` swaps in another build (used
//! to compare opt-levels).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // benchmark code: a broken setup fails the run

use std::hint::black_box;
use std::rc::Rc;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_conformance::{ConformanceConfig, ConformanceStream};
use tollgate_host_suite::{CONFORMANCE_CONFIG, wasm};
use tollgate_kit::mock::MockHost;
use tollgate_kit::{MapKind, StreamFilter};
use tollgate_wasm_host::{Plugin, Request, UpstreamReply};

fn request_headers(path: &str, id: Option<&str>) -> Vec<(&'static str, String)> {
    let mut h = vec![
        (":authority", "bench.test".to_string()),
        (":path", path.to_string()),
        (":method", "GET".to_string()),
        (":scheme", "http".to_string()),
        ("x-probe", "p".to_string()),
        ("x-forwarded-proto", "http".to_string()),
        (
            "x-request-id",
            "00000000-0000-4000-8000-000000000001".to_string(),
        ),
    ];
    if let Some(id) = id {
        h.push(("x-conformance-id", id.to_string()));
    }
    h
}

/// The callbacks Envoy runs for one GET stream, against the mock.
fn native_stream(config: &Rc<ConformanceConfig>, path: &str, id: Option<&str>) {
    let headers = request_headers(path, id);
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let host = MockHost::new()
        .with_headers(MapKind::RequestHeaders, &pairs)
        .with_headers(
            MapKind::ResponseHeaders,
            &[(":status", "200"), ("content-length", "2")],
        );
    let mut stream = ConformanceStream::new(Rc::clone(config), 2);
    black_box(stream.on_request_headers(&host, pairs.len(), true));
    black_box(stream.on_response_headers(&host, 2, false));
    black_box(stream.on_response_body(&host, 2, true));
    stream.on_log(&host);
    stream.on_done(&host);
    stream.on_delete(&host);
}

fn bench(c: &mut Criterion) {
    let wasm_bytes = match std::env::var_os("TOLLGATE_BENCH_WASM") {
        Some(path) => std::fs::read(path).expect("TOLLGATE_BENCH_WASM"),
        None => wasm("conformance").expect("run scripts/build-wasm first"),
    };
    let config = Rc::new(
        tollgate_kit::config::load::<ConformanceConfig>(CONFORMANCE_CONFIG.as_bytes())
            .expect("config"),
    );
    let mut plugin = Plugin::builder(&wasm_bytes)
        .named("conformance")
        .config(CONFORMANCE_CONFIG)
        .build()
        .expect("plugin");
    plugin.upstream(|_| UpstreamReply::ok("ok"));

    let mut group = c.benchmark_group("conformance_stream");
    group.bench_function("native/pass_through", |b| {
        b.iter(|| native_stream(&config, "/api/items", None))
    });
    group.bench_function("wasm/pass_through", |b| {
        b.iter(|| {
            plugin
                .send(Request::get("/api/items").header("x-probe", "p"))
                .expect("send")
        })
    });
    group.bench_function("native/headers_scenario", |b| {
        b.iter(|| native_stream(&config, "/conformance/headers", Some("bench")))
    });
    group.bench_function("wasm/headers_scenario", |b| {
        b.iter(|| {
            plugin
                .send(
                    Request::get("/conformance/headers")
                        .header("x-probe", "p")
                        .header("x-conformance-id", "bench"),
                )
                .expect("send")
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
