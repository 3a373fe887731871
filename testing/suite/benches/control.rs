//! The control service's costs: a push from validation through signing to commit (a
//! typical jwt-auth config, the HCP bundle), on SQLite (a file, `synchronous=FULL`) and
//! on a real etcd on loopback; and the poll path, a gateway's `GET bundle.tar.gz` with
//! `If-None-Match` answered 304. In-process through the router (no socket), so the
//! figures are the service's own work. Report ratios within one run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // benchmark code: a broken setup fails the run

// The control crate's own etcd launcher (Debian's etcd-server on loopback ports).
#[path = "../../../control/tests/all/etcd.rs"]
mod etcd;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tollgate_control::auth::{self, Grant, Role};
use tollgate_control::store::{EtcdStore, SharedStore, SqliteStore};
use tollgate_control::vault::MasterKey;
use tollgate_control::{Control, Settings};
use tower::ServiceExt as _;

struct Bench {
    app: axum::Router,
    admin: String,
    runtime: tokio::runtime::Runtime,
}

fn root() -> std::path::PathBuf {
    tollgate_envoy_harness::repo_root()
}

impl Bench {
    fn new(runtime: tokio::runtime::Runtime, store: SharedStore) -> Self {
        let settings = Settings {
            rate_per_second: 10_000_000,
            rate_burst: 10_000_000,
            ..Default::default()
        };
        let ctl = Control::new(
            store,
            MasterKey::parse(&MasterKey::generate_text()).unwrap(),
            settings,
        );
        let (record, admin) = auth::mint(
            "bench",
            vec![Grant {
                role: Role::Admin,
                project: None,
            }],
            None,
            "bench",
        );
        runtime
            .block_on(tollgate_control::api::tokens::store_token(
                &ctl, &record, "bench",
            ))
            .unwrap();
        let b = Self {
            app: tollgate_control::app(ctl),
            admin,
            runtime,
        };
        b.call(
            "PUT",
            "/v1/projects/hcp",
            &[],
            serde_json::to_vec(&json!({})).unwrap(),
        );
        b.call(
            "PUT",
            "/v1/projects/hcp/groups/g",
            &[],
            serde_json::to_vec(&json!({"host": "envoy"})).unwrap(),
        );
        b
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, Value, Option<String>) {
        self.runtime.block_on(async {
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", format!("Bearer {}", self.admin));
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            let r = self
                .app
                .clone()
                .oneshot(req.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            let status = r.status().as_u16();
            let etag = r
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            let bytes = http_body_util::BodyExt::collect(r.into_body())
                .await
                .unwrap()
                .to_bytes();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                etag,
            )
        })
    }
}

/// Pushes alternating contents (each push is a new revision) and returns the revision.
fn push(b: &Bench, path: &str, content_type: &str, body: Vec<u8>, last: &mut Option<u64>) {
    let mut headers = vec![("content-type", content_type.to_string())];
    if let Some(n) = *last {
        headers.push(("if-match", format!("\"{n}\"")));
    }
    let (status, value, _) = b.call("PUT", path, &headers, body);
    assert_eq!(status, 201, "{value}");
    *last = value["revision"]["number"].as_u64();
}

fn pushes(c: &mut Criterion, backend: &str, b: &Bench) {
    let config: Value =
        serde_json::from_slice(&std::fs::read(root().join("deploy/jwt-auth/config.json")).unwrap())
            .unwrap();
    let files = tollgate_rego_authz::bundle::Files::from_dir(
        &root().join("policies/hcp"),
        Default::default(),
    )
    .unwrap();
    let mut group = c.benchmark_group(format!("control/{backend}"));
    group.sample_size(20);
    let mut last = None;
    let mut n = 0u64;
    group.bench_function("push jwt-auth config", |bench| {
        bench.iter(|| {
            n += 1;
            let mut c = config.clone();
            c["providers"]["hcp"]["max_lifetime_seconds"] = json!(3600 + n);
            push(
                b,
                "/v1/projects/hcp/groups/g/configs/jwt-auth",
                "application/json",
                serde_json::to_vec(&c).unwrap(),
                &mut last,
            );
        });
    });
    let mut last = None;
    group.bench_function("push HCP bundle", |bench| {
        bench.iter(|| {
            n += 1;
            let mut f = files.clone();
            f.0.insert(
                "hcp/bench.rego".into(),
                format!("package hcp.bench\n\nn := {n}\n").into_bytes(),
            );
            push(
                b,
                "/v1/projects/hcp/groups/g/bundle",
                "application/gzip",
                f.to_tar_gz().unwrap(),
                &mut last,
            );
        });
    });
    let (_, _, etag) = b.call(
        "GET",
        "/v1/projects/hcp/groups/g/bundle.tar.gz",
        &[],
        Vec::new(),
    );
    let etag = etag.unwrap();
    group.sample_size(50);
    group.bench_function("poll bundle (304)", |bench| {
        bench.iter(|| {
            let (status, _, _) = b.call(
                "GET",
                "/v1/projects/hcp/groups/g/bundle.tar.gz",
                &[("if-none-match", etag.clone())],
                Vec::new(),
            );
            assert_eq!(status, 304);
        });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sqlite: SharedStore = Arc::new(SqliteStore::open(&dir.path().join("bench.db")).unwrap());
    pushes(c, "sqlite", &Bench::new(runtime, sqlite));

    let etcd = etcd::Etcd::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store: SharedStore = Arc::new(
        runtime
            .block_on(EtcdStore::connect(
                std::slice::from_ref(&etcd.url),
                "bench/",
            ))
            .unwrap(),
    );
    pushes(c, "etcd", &Bench::new(runtime, store));
}

criterion_group!(control, benches);
criterion_main!(control);
