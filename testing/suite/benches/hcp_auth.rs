//! hcp-auth's cost per request: the management header and SigV4 (unsigned payload, and
//! a hashed 4 KiB body), as the decision alone (native), the filter over `MockHost`
//! (native), and the built `.wasm` in the wasmtime host. Report ratios within one run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // benchmark code: a broken setup fails the run

use std::hint::black_box;
use std::rc::Rc;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use tollgate_hcp_auth::HcpAuthRoot;
use tollgate_hcp_auth::config::HcpAuthConfig;
use tollgate_hcp_auth::credentials::Credentials;
use tollgate_hcp_auth::decide::RequestView;
use tollgate_hcp_auth::sigv4::sha256_hex;
use tollgate_host_suite::wasm;
use tollgate_kit::mock::MockHost;
use tollgate_kit::{BufferKind, MapKind, RootFilter};
use tollgate_wasm_host::{Plugin, Request, UpstreamReply};

const CLAIMS: &str = r#"{"username":"alice","password":"alice-demo-pw","tenant":"acme"}"#;

fn config(sign_body: bool) -> String {
    json!({"hcp_domain": "hcp.test", "trusted_payload_header": "x-tollgate-jwt-payload",
           "s3": {"sign_body": sign_body},
           "routes": [{"match": {"prefix": "/mapi/"}, "mode": "management"},
                      {"match": {"prefix": "/"}, "mode": "s3"}]})
    .to_string()
}

fn headers(path: &str, method: &str) -> Vec<(String, String)> {
    vec![
        (":authority".into(), "edge.test".into()),
        (":path".into(), path.into()),
        (":method".into(), method.into()),
        (":scheme".into(), "http".into()),
        (
            "x-tollgate-jwt-payload".into(),
            "eyJ1c2VybmFtZSI6ImFsaWNlIn0".into(),
        ),
        ("content-type".into(), "text/plain".into()),
        (
            "x-request-id".into(),
            "00000000-0000-4000-8000-000000000001".into(),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let wasm_bytes = wasm("hcp-auth").expect("run scripts/build-wasm first");
    let body = vec![b'x'; 4096];
    let mut group = c.benchmark_group("hcp_auth");
    let cases = [
        ("management", "/mapi/tenants/acme/namespaces", "GET", false),
        (
            "s3_unsigned_payload",
            "/bucket/photos/cat.jpg",
            "PUT",
            false,
        ),
        ("s3_hashed_4k_body", "/bucket/photos/cat.jpg", "PUT", true),
    ];
    for (name, path, method, sign_body) in cases {
        let cfg = config(sign_body);
        let compiled = tollgate_kit::config::load::<HcpAuthConfig>(cfg.as_bytes()).expect("config");
        let pairs = headers(path, method);
        let creds = Credentials {
            username: "alice".into(),
            password: "alice-demo-pw".into(),
            tenant: "acme".into(),
        };
        group.bench_function(format!("native_decide/{name}"), |b| {
            b.iter(|| {
                let view = RequestView {
                    method,
                    path,
                    headers: &pairs,
                };
                let hash = sign_body.then(|| sha256_hex(&body));
                black_box(compiled.decide(&view, Ok(&creds), 1_700_000_000, hash.as_deref()))
            })
        });
        let mut root = HcpAuthRoot::default();
        root.on_configure(&MockHost::new(), cfg.as_bytes())
            .expect("configure");
        let root = Rc::new(std::cell::RefCell::new(root));
        group.bench_function(format!("native_filter/{name}"), |b| {
            b.iter(|| {
                let refs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let host = MockHost::new()
                    .with_headers(MapKind::RequestHeaders, &refs)
                    .with_property(&["tollgate_credentials"], CLAIMS.as_bytes())
                    .with_buffer(BufferKind::HttpRequestBody, &body);
                let mut stream = root.borrow_mut().new_stream(&host, 2).expect("stream");
                black_box(stream.on_request_headers(&host, refs.len(), false));
                black_box(stream.on_request_body(&host, body.len(), true))
            })
        });
        // Body signing needs body callbacks while headers are held (Envoy's knob).
        let mut plugin = Plugin::builder(&wasm_bytes)
            .named("hcp-auth")
            .config(cfg)
            .allow_on_headers_stop_iteration(sign_body)
            .build()
            .expect("plugin");
        plugin.upstream(|_| UpstreamReply::ok("ok"));
        let request = || {
            let mut r = Request::new(method, path)
                .header("x-tollgate-jwt-payload", "eyJ1c2VybmFtZSI6ImFsaWNlIn0")
                .header("content-type", "text/plain")
                .filter_state("tollgate_credentials", CLAIMS);
            if method == "PUT" {
                r = r.chunk(body.clone());
            }
            r
        };
        let probe = plugin.send(request()).expect("send");
        assert_eq!(
            probe.client.status,
            200,
            "{name}: {}",
            probe.client.body_text()
        );
        group.bench_function(format!("wasm_filter/{name}"), |b| {
            b.iter(|| plugin.send(request()).expect("send"))
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
