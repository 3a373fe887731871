//! Shared pieces of the tier-2 and tier-3 tests: where the built filters are, the
//! conformance probes, and one [`Target`] interface over the wasmtime host and real
//! Envoy so both receive exactly the same requests.
// Test support: a probe answer without the expected field fails the test that asked.
#![allow(clippy::indexing_slicing)]

pub mod chunked_origin;
pub mod tokens;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use tollgate_envoy_harness::{
    Envoy, EnvoyConfig, HttpRequest, HttpResponse, Upstream, WasmFilter, echo, grpc_unframe,
    repo_root,
};
use tollgate_wasm_host::{Cluster, GrpcReply, HttpReply, Plugin, Profile, Request, UpstreamReply};

/// `dist/<name>.wasm` for a shipped filter, `dist/fixtures/<name>.wasm` for a test
/// filter (conformance, the template), built by `scripts/build-wasm`.
pub fn wasm_path(name: &str) -> Result<PathBuf> {
    let dir = if tollgate_catalog::find(name).is_some() {
        repo_root().join("dist")
    } else {
        repo_root().join("dist/fixtures")
    };
    let path = dir.join(format!("{name}.wasm"));
    if !path.is_file() {
        bail!(
            "{} is missing: run scripts/build-wasm first",
            path.display()
        );
    }
    Ok(path)
}

/// `dist/fixtures/<name>.wasm`: test-only builds (not shipped).
pub fn fixture_path(name: &str) -> Result<PathBuf> {
    let path = repo_root()
        .join("dist/fixtures")
        .join(format!("{name}.wasm"));
    if !path.is_file() {
        bail!(
            "{} is missing: run scripts/build-wasm first",
            path.display()
        );
    }
    Ok(path)
}

pub fn wasm(name: &str) -> Result<Vec<u8>> {
    let path = wasm_path(name)?;
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// The OPA Envoy tutorial's policy, read from rego-authz's case file (which names its
/// source), for the tests and benchmarks that run it outside the case files.
pub fn tutorial_policy() -> Result<String> {
    const START: &str = "  policy.rego: |\n";
    let path = repo_root().join("filters/rego-authz/tests/cases/decide/tutorial.yaml");
    let yaml =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let policy = yaml
        .split_once(START)
        .and_then(|(_, rest)| rest.split_once("cases:\n"))
        .map(|(policy, _)| policy)
        .with_context(|| format!("{} has no policy.rego", path.display()))?;
    Ok(policy
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The conformance filter's configuration in every test.
pub const CONFORMANCE_CONFIG: &str =
    r#"{"callout_cluster":"upstream","grpc_cluster":"grpc","tick_ms":50}"#;

/// A host the conformance probes run against.
pub trait Target {
    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse>;
    /// Lets time pass: virtual in wasmtime, real in Envoy.
    fn settle(&mut self, by: Duration);
}

/// The wasmtime host with the conformance filter and an upstream that answers like
/// the real one ([`echo`]).
pub struct WasmtimeTarget {
    pub plugin: Plugin,
}

impl WasmtimeTarget {
    pub fn new(profile: Profile) -> Result<Self> {
        Self::with_module(profile, &wasm("conformance")?)
    }

    /// The same with another build of the conformance filter (the portable one).
    pub fn with_module(profile: Profile, module: &[u8]) -> Result<Self> {
        Self::configured(profile, module, CONFORMANCE_CONFIG)
    }

    /// The same with another configuration.
    pub fn configured(profile: Profile, module: &[u8], config: &str) -> Result<Self> {
        let mut plugin = Plugin::builder(module)
            .named("conformance")
            .profile(profile)
            .config(config)
            .build()?;
        plugin.upstream(|req| {
            let (headers, path) = upstream_view(&req.headers);
            let e = echo(req.method(), &path, &headers, &req.body);
            // hyper (the real upstream) always sends `date`.
            let mut reply = UpstreamReply::new(e.status)
                .chunk(e.body)
                .header("date", "Thu, 01 Jan 2026 00:00:00 GMT");
            for (n, v) in e.headers {
                reply = reply.header(&n, &v);
            }
            reply
        });
        let callout = |req: &tollgate_wasm_host::UpstreamRequest| {
            let (headers, path) = upstream_view(&req.headers);
            let e = echo(req.method(), &path, &headers, &req.body);
            let mut reply = HttpReply::status(e.status, e.body.clone())
                .header("content-length", &e.body.len().to_string());
            for (n, v) in &e.headers {
                reply = reply.header(n, v);
            }
            reply.after(e.delay)
        };
        let name = if profile == Profile::Apisix {
            "127.0.0.1:8080"
        } else {
            "upstream"
        };
        plugin.add_cluster(Cluster::new(name).http(callout));
        plugin.add_cluster(Cluster::new("grpc").grpc(|service, method, _md, message| {
            if service == "tollgate.test.Echo" && method == "Say" {
                GrpcReply::Messages {
                    messages: vec![[b"echo: ".as_slice(), message].concat()],
                    delay: Duration::ZERO,
                }
            } else {
                GrpcReply::Status {
                    code: 12,
                    message: "unimplemented".into(),
                    delay: Duration::ZERO,
                }
            }
        }));
        Ok(Self { plugin })
    }
}

/// What an HTTP/1.1 upstream sees: `host` instead of `:authority`, no pseudo-headers.
fn upstream_view(headers: &[(String, String)]) -> (Vec<(String, String)>, String) {
    let path = headers
        .iter()
        .find(|(n, _)| n == ":path")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "/".into());
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| !n.starts_with(':'))
        .cloned()
        .collect();
    if let Some((_, authority)) = headers.iter().find(|(n, _)| n == ":authority") {
        out.insert(0, ("host".into(), authority.clone()));
    }
    (out, path)
}

impl Target for WasmtimeTarget {
    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse> {
        let mut r = Request::new(&req.method, &req.path);
        for (n, v) in &req.headers {
            if n == "host" {
                r = r.authority(v);
            } else {
                r = r.header(n, v);
            }
        }
        if !req.body.is_empty() || req.method == "POST" {
            r = r.header("content-length", &req.body.len().to_string());
        }
        if !req.body.is_empty() {
            r = r.chunk(req.body.clone());
        }
        let out = self.plugin.send(r)?;
        Ok(HttpResponse {
            status: out.client.status,
            headers: out.client.headers,
            body: out.client.body,
        })
    }

    fn settle(&mut self, by: Duration) {
        self.plugin.advance(by);
    }
}

/// Real Envoy with the conformance filter, the echo upstream, and a gRPC cluster.
pub struct EnvoyTarget {
    pub envoy: Envoy,
    pub upstream: Upstream,
}

impl EnvoyTarget {
    pub fn new() -> Result<Self> {
        Self::configured(CONFORMANCE_CONFIG)
    }

    pub fn configured(filter_config: &str) -> Result<Self> {
        let upstream = Upstream::start()?;
        let config = EnvoyConfig::new(upstream.addr())
            .cluster("grpc", upstream.addr(), true)
            .filter(
                WasmFilter::new("conformance", &wasm_path("conformance")?).config(filter_config),
            );
        let envoy = Envoy::start(&config)?;
        Ok(Self { envoy, upstream })
    }
}

impl Target for EnvoyTarget {
    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse> {
        self.envoy.send(req)
    }

    fn settle(&mut self, by: Duration) {
        std::thread::sleep(by);
    }
}

/// The conformance probes: (scenario, request). Every host gets exactly these.
pub fn probes() -> Vec<(&'static str, HttpRequest)> {
    let base = |scenario: &'static str| {
        HttpRequest::get(&format!("/conformance/{scenario}"))
            .header("host", "conformance.test")
            .header("x-conformance-id", scenario)
    };
    vec![
        (
            "headers",
            base("headers")
                .header("x-probe", "p")
                .header("x-multi", "1")
                .header("x-multi", "2")
                .header("x-remove-me", "r")
                .header("user-agent", "tollgate-conformance"),
        ),
        ("body", {
            let mut r = base("body");
            r.method = "POST".into();
            r.body = b"hello body".to_vec();
            r
        }),
        ("local", base("local")),
        ("callout", base("callout")),
        ("callout-timeout", base("callout-timeout")),
        ("properties", {
            let mut r = base("properties")
                .header("x-probe", "p")
                .header("user-agent", "tollgate-conformance");
            r.path = "/conformance/properties?q=1".into();
            r
        }),
        ("shared", base("shared")),
        ("queue", base("queue")),
        ("metrics", base("metrics")),
        ("misc", base("misc")),
        ("grpc", base("grpc")),
    ]
}

/// Fetches a record, waiting (bounded) until the stream's `delete` event is in it:
/// Envoy finishes a stream after the client has its response.
pub fn report(target: &mut dyn Target, id: &str, until: &str) -> Result<Value> {
    let mut last = Value::Null;
    for _ in 0..100 {
        let r = target.send(
            &HttpRequest::get(&format!("/conformance/report/{id}"))
                .header("host", "conformance.test"),
        )?;
        if r.status == 200 {
            last = serde_json::from_slice(&r.body)?;
            let done = last["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|ev| ev["event"] == until));
            if done {
                return Ok(last);
            }
        }
        target.settle(Duration::from_millis(20));
    }
    bail!("record {id} never reached `{until}`: {last}")
}

/// What one probe observed, reduced to what must be equal across hosts.
pub fn observe(target: &mut dyn Target, scenario: &str, req: &HttpRequest) -> Result<Value> {
    let reply = target.send(req)?;
    let record = report(target, scenario, "delete")?;
    let mut client = serde_json::json!({ "status": reply.status });
    for name in ["x-conformance", "x-local", "content-type", "server"] {
        client[name] = reply
            .header(name)
            .map_or(Value::Null, |v| Value::String(v.to_string()));
    }
    let body: Option<Value> = serde_json::from_slice(&reply.body).ok();
    match scenario {
        "local" => {
            client["body"] = Value::String(String::from_utf8_lossy(&reply.body).into_owned())
        }
        // The filter upper-cases the echo; the echoed body proves the request rewrite.
        "body" => client["echoed_body"] = body.as_ref().map_or(Value::Null, |b| b["BODY"].clone()),
        _ => {
            let headers = body
                .as_ref()
                .and_then(|b| b["headers"].as_array().cloned())
                .unwrap_or_default();
            let mut seen: Vec<Value> = headers
                .into_iter()
                .filter(|h| {
                    let name = h[0].as_str().unwrap_or_default();
                    name.starts_with("x-")
                        && name != "x-request-id"
                        && !name.starts_with("x-envoy-")
                })
                .collect();
            seen.sort_by_key(|h| h.to_string());
            client["upstream_x_headers"] = Value::Array(seen);
        }
    }
    Ok(serde_json::json!({ "client": client, "record": record["events"] }))
}

/// The root context's record once the tick and the queue deliveries are in.
pub fn root_report(target: &mut dyn Target) -> Result<Value> {
    target.settle(Duration::from_millis(200));
    let r = report(target, "root", "queue_ready")?;
    Ok(r["events"].clone())
}

/// Lists the differences between two JSON values as `path: left != right` lines.
pub fn diff(path: &str, left: &Value, right: &Value, out: &mut Vec<String>) {
    match (left, right) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                diff(
                    &format!("{path}.{k}"),
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if left != right => out.push(format!("{path}: {left} != {right}")),
        _ => {}
    }
}

/// The message of a framed gRPC reply, for tests that decode one.
pub fn unframe(frame: &[u8]) -> Option<&[u8]> {
    grpc_unframe(frame)
}
