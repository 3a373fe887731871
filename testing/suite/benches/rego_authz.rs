//! rego-authz's cost per request: the HCP policy (decision object, roles, tenant) and the
//! OPA Envoy tutorial's policy (`io.jwt.decode_verify`, `glob.match`), each without and
//! with the decision cache, as the decision alone (input document, evaluation, reading
//! the result; native), the filter over `MockHost` (native), and the built `.wasm` in the
//! wasmtime host. Report ratios within one run.
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
use serde_json::{Value, json};
use tollgate_host_suite::{tutorial_policy, wasm};
use tollgate_kit::mock::MockHost;
use tollgate_kit::{HostFacts, MapKind, RootFilter};
use tollgate_rego_authz::RegoAuthzRoot;
use tollgate_rego_authz::decision::interpret;
use tollgate_rego_authz::engine::{to_json, to_regorus};
use tollgate_rego_authz::input::{self, Request as InputRequest};
use tollgate_wasm_host::{Plugin, Request, UpstreamReply};

/// The tutorial's admin token (HS256, secret "secret"; see tests/cases/decide/tutorial.yaml).
const BOB: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiYWRtaW4iLCJzdWIiOiJZbTlpIiwibmJmIjoxNTE0ODUxMTM5LCJleHAiOjIyNDEwODE1Mzl9.rMsWGwacTyK2sNH3RB8vDHLNluytpn1jMb3r_3MTuW4";

struct Case {
    name: &'static str,
    config: Value,
    method: &'static str,
    path: &'static str,
    headers: Vec<(String, String)>,
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(tollgate_envoy_harness::repo_root().join(path)).unwrap()
}

fn cases() -> Vec<Case> {
    let payload = URL_SAFE_NO_PAD.encode(
        json!({"sub": "alice", "tenant": "acme", "roles": ["administrator", "monitor"]})
            .to_string(),
    );
    let hcp = json!({"policy": {"modules": {"hcp/authz.rego": repo_file("policies/hcp/hcp/authz.rego")}},
                     "query": "data.hcp.authz.decision"});
    let tutorial = json!({"policy": {"modules": {"policy.rego": tutorial_policy().unwrap()}}});
    let hcp_cache = json!({"keys": ["token.sub", "token.tenant", "token.roles", "request.http.method", "parsed_path"]});
    let tutorial_cache = json!({"keys": ["request.http.headers.authorization", "request.http.method", "request.http.path"]});
    let with = |mut c: Value, cache: &Value| {
        c["decision_cache"] = cache.clone();
        c
    };
    let common = |extra: Vec<(&str, String)>| {
        let mut h: Vec<(String, String)> = vec![
            (":authority".into(), "edge.test".into()),
            (":scheme".into(), "http".into()),
            ("user-agent".into(), "bench".into()),
            (
                "x-request-id".into(),
                "00000000-0000-4000-8000-000000000001".into(),
            ),
        ];
        h.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        h
    };
    let hcp_headers = common(vec![("x-tollgate-jwt-payload", payload)]);
    let tutorial_headers = common(vec![("authorization", format!("Bearer {BOB}"))]);
    vec![
        Case {
            name: "hcp",
            config: hcp.clone(),
            method: "GET",
            path: "/mapi/tenants/acme/namespaces",
            headers: hcp_headers.clone(),
        },
        Case {
            name: "hcp_cached",
            config: with(hcp, &hcp_cache),
            method: "GET",
            path: "/mapi/tenants/acme/namespaces",
            headers: hcp_headers,
        },
        Case {
            name: "tutorial",
            config: tutorial.clone(),
            method: "GET",
            path: "/people/",
            headers: tutorial_headers.clone(),
        },
        Case {
            name: "tutorial_cached",
            config: with(tutorial, &tutorial_cache),
            method: "GET",
            path: "/people/",
            headers: tutorial_headers,
        },
    ]
}

fn bench(c: &mut Criterion) {
    let wasm_bytes = wasm("rego-authz").expect("run scripts/build-wasm first");
    let mut group = c.benchmark_group("rego_authz");
    for case in cases() {
        let cfg = case.config.to_string();
        let mut pairs = vec![
            (":method".to_string(), case.method.to_string()),
            (":path".to_string(), case.path.to_string()),
        ];
        pairs.extend(case.headers.iter().cloned());
        if !case.name.ends_with("_cached") {
            let compiled =
                tollgate_rego_authz::config::load(cfg.as_bytes(), HostFacts::default()).unwrap();
            let token = pairs
                .iter()
                .find(|(k, _)| k == "x-tollgate-jwt-payload")
                .map(|(_, v)| v.clone());
            group.bench_function(format!("native_decide/{}", case.name), |b| {
                b.iter(|| {
                    let doc = input::build(&InputRequest {
                        headers: &pairs,
                        token_payload: token.as_deref(),
                        ..InputRequest::default()
                    })
                    .unwrap();
                    let v = compiled.policy.evaluate(to_regorus(&doc).unwrap()).unwrap();
                    let d = interpret(&to_json(&v).unwrap()).unwrap();
                    assert!(d.allowed);
                    black_box(d)
                })
            });
        }
        let mut root = RegoAuthzRoot::default();
        root.on_configure(&MockHost::new(), cfg.as_bytes()).unwrap();
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        group.bench_function(format!("native_filter/{}", case.name), |b| {
            b.iter(|| {
                let host = MockHost::new().with_headers(MapKind::RequestHeaders, &refs);
                let mut stream = root.new_stream(&host, 2).unwrap();
                black_box(stream.on_request_headers(&host, refs.len(), true))
            })
        });
        let mut plugin = Plugin::builder(&wasm_bytes)
            .named("rego-authz")
            .config(cfg)
            .build()
            .unwrap();
        plugin.upstream(|_| UpstreamReply::ok("ok"));
        let request = || {
            let mut r = Request::new(case.method, case.path);
            for (k, v) in &case.headers {
                if !k.starts_with(':') {
                    r = r.header(k, v);
                }
            }
            r
        };
        let probe = plugin.send(request()).unwrap();
        assert_eq!(
            probe.client.status,
            200,
            "{}: {}",
            case.name,
            probe.client.body_text()
        );
        group.bench_function(format!("wasm_filter/{}", case.name), |b| {
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
