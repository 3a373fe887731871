//! Tier 3, global mode end to end: real Envoy → rate-limit (gRPC) →
//! `tollgate-ratelimit` → real Redis. Two Envoys, each asking its own service instance,
//! share one budget through Redis; the service gone, or Redis gone, gives the
//! configured failure mode. On Kong and APISIX the same service answers over JSON.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};
use tollgate_control::ratelimit::server::{Options, Running, start};
use tollgate_control::ratelimit::source::Source;
use tollgate_envoy_harness::{Envoy, EnvoyConfig, HttpRequest, Redis, Upstream, WasmFilter};
use tollgate_host_suite::wasm_path;
use tollgate_nginx_harness::{Nginx, NginxConfig, NginxFilter, NginxHost};

/// 10 requests per hour per user, enforced by the service.
fn config(service: &str, failure_mode: &str) -> Value {
    json!({
        "rules": [{"name": "per-user", "key": [{"header": "x-user"}], "global": true,
                   "limits": [{"requests": 10, "per": "1h"}]}],
        "global": {"service": service, "domain": "edge", "timeout_ms": 500},
        "local": {"max_keys": 1024},
        "failure_mode": failure_mode
    })
}

/// A service instance in its own runtime, stopped on drop.
struct Service {
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
    _dir: tempfile::TempDir,
}

impl Service {
    fn start(redis: Option<&Redis>) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("rate-limit.json");
        std::fs::write(&file, config("ratelimit", "closed").to_string())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let running = runtime
            .block_on(start(Options {
                grpc_listen: "127.0.0.1:0".parse()?,
                http_listen: "127.0.0.1:0".parse()?,
                source: Source::File(file),
                redis: redis.map(Redis::url),
                max_counters: 10_000,
                reload: Duration::from_secs(60),
            }))
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            runtime,
            running: Some(running),
            _dir: dir,
        })
    }

    fn grpc(&self) -> SocketAddr {
        self.running
            .as_ref()
            .map_or(([127, 0, 0, 1], 9).into(), |r| r.grpc)
    }

    fn http(&self) -> SocketAddr {
        self.running
            .as_ref()
            .map_or(([127, 0, 0, 1], 9).into(), |r| r.http)
    }

    fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = self.runtime.block_on(r.stop());
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

fn envoy(upstream: &Upstream, service: SocketAddr, failure_mode: &str) -> Result<Envoy> {
    Envoy::start(
        &EnvoyConfig::new(upstream.addr())
            .cluster("ratelimit", service, true)
            .filter(
                WasmFilter::new("rate-limit", &wasm_path("rate-limit")?)
                    .config(&config("ratelimit", failure_mode).to_string()),
            )
            .concurrency(2),
    )
}

fn get(envoy: &Envoy, user: &str) -> Result<tollgate_envoy_harness::HttpResponse> {
    envoy.send(&HttpRequest::get("/api").header("x-user", user))
}

#[test]
fn two_envoys_share_one_budget_through_redis() -> Result<()> {
    let redis = Redis::start()?;
    let (one, two) = (Service::start(Some(&redis))?, Service::start(Some(&redis))?);
    let upstream = Upstream::start()?;
    let a = envoy(&upstream, one.grpc(), "closed")?;
    let b = envoy(&upstream, two.grpc(), "closed")?;
    // 30 requests for alice, alternating between the two Envoys, three at a time.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let round: Vec<u16> = std::thread::scope(|s| {
            let hs: Vec<_> = [&a, &b, &a, &b, &a, &b]
                .into_iter()
                .map(|e| s.spawn(move || get(e, "alice").map(|r| r.status)))
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("client"))
                .collect::<Result<Vec<_>>>()
        })?;
        statuses.extend(round);
    }
    let allowed = statuses.iter().filter(|s| **s == 200).count();
    eprintln!("two Envoys, two services, one Redis: {allowed} of 30 admitted for a budget of 10");
    assert_eq!(allowed, 10, "{statuses:?}\n{}", a.log_tail());
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429));
    assert_eq!(upstream.hits("/api"), 10);

    let refused = get(&a, "alice")?;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"per-user\";q=10;w=3600")
    );
    // Each Envoy saw 15 of alice's requests: past 10 its own bucket refused without
    // asking (the pre-check: one emission interval, 360 s); before that the service
    // refused those over the shared budget (until its window ends, under an hour).
    let retry: u64 = refused.header("retry-after").unwrap().parse()?;
    assert!((1..=3600).contains(&retry), "{retry}");
    let pre_checked = a
        .stat("wasmcustom.rate_limit.per-user.pre_checked")?
        .unwrap_or(0)
        + b.stat("wasmcustom.rate_limit.per-user.pre_checked")?
            .unwrap_or(0);
    let denied = a
        .stat("wasmcustom.rate_limit.per-user.denied")?
        .unwrap_or(0)
        + b.stat("wasmcustom.rate_limit.per-user.denied")?
            .unwrap_or(0);
    assert!(
        pre_checked >= 1 && denied > pre_checked,
        "{pre_checked} pre-checked of {denied} denied"
    );
    // Another user has a whole budget, and is told what is left of it.
    let bob = get(&b, "bob")?;
    assert_eq!(bob.status, 200);
    assert!(
        bob.header("ratelimit")
            .unwrap()
            .starts_with("\"per-user\";r=9;"),
        "{:?}",
        bob.header("ratelimit")
    );
    assert_eq!(a.stat("wasmcustom.rate_limit.mode.global")?, Some(1));
    Ok(())
}

#[test]
fn without_the_service_the_failure_mode_decides() -> Result<()> {
    let mut service = Service::start(None)?;
    let upstream = Upstream::start()?;
    let closed = envoy(&upstream, service.grpc(), "closed")?;
    let open = envoy(&upstream, service.grpc(), "open")?;
    assert_eq!(get(&closed, "carol")?.status, 200);
    service.stop();
    let r = get(&closed, "carol")?;
    assert_eq!(r.status, 503, "{}", r.body_text());
    assert!(r.body_text().contains("rate_limit_unavailable"));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(get(&open, "carol")?.status, 200);
    assert!(closed.stat("wasmcustom.rate_limit.errors")?.unwrap_or(0) >= 1);
    Ok(())
}

#[test]
fn a_hung_service_times_out_into_the_failure_mode() -> Result<()> {
    // Accepts connections and never answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0")?;
    let upstream = Upstream::start()?;
    let closed = envoy(&upstream, hung.local_addr()?, "closed")?;
    let started = std::time::Instant::now();
    let r = get(&closed, "dave")?;
    assert_eq!(r.status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(hung);
    Ok(())
}

#[test]
fn redis_gone_is_a_service_failure() -> Result<()> {
    let mut redis = Redis::start()?;
    let service = Service::start(Some(&redis))?;
    let upstream = Upstream::start()?;
    let closed = envoy(&upstream, service.grpc(), "closed")?;
    assert_eq!(get(&closed, "erin")?.status, 200);
    redis.kill();
    let r = get(&closed, "erin")?;
    assert_eq!(r.status, 503, "{}", r.body_text());
    Ok(())
}

#[test]
fn kong_and_apisix_ask_the_service_over_json() -> Result<()> {
    let service = Service::start(None)?;
    for host in NginxHost::ALL {
        let app = Upstream::start()?;
        let mut c = config(&service.http().to_string(), "closed");
        c["global"]["transport"] = json!("http");
        let nginx = Nginx::start(
            &NginxConfig::new(host, app.addr())
                .filter(NginxFilter::new(
                    "rate_limit",
                    &wasm_path("rate-limit")?,
                    &c.to_string(),
                ))
                .workers(2),
        )?;
        let user = format!("user-{}", host.name());
        let statuses: Vec<u16> = (0..14)
            .map(|_| {
                nginx
                    .send(&HttpRequest::get("/api").header("x-user", &user))
                    .map(|r| r.status)
            })
            .collect::<Result<_>>()?;
        let allowed = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(
            allowed,
            10,
            "{}: {statuses:?}\n{}",
            host.name(),
            nginx.log_tail()
        );
        assert!(
            nginx.error_log().contains("mode global"),
            "{}",
            nginx.log_tail()
        );
        nginx.assert_healthy()?;
    }
    Ok(())
}

#[test]
fn two_service_instances_on_one_redis_never_over_admit_together() -> Result<()> {
    let redis = Redis::start()?;
    let services = [Service::start(Some(&redis))?, Service::start(Some(&redis))?];
    let ask = json!({"domain": "edge", "descriptors": [{"entries": [
        {"key": "tollgate_rule", "value": "per-user"}, {"key": "tollgate_key", "value": "k"}]}]})
    .to_string();
    // 8 clients × 10 requests, spread over both instances, all at once.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let addr = services[i % 2].http();
                let ask = ask.clone();
                s.spawn(move || {
                    (0..10)
                        .map(|_| {
                            tollgate_envoy_harness::send(
                                addr,
                                &HttpRequest::post("/json", ask.clone())
                                    .header("content-type", "application/json"),
                                Duration::from_secs(5),
                            )
                            .map(|r| r.status)
                        })
                        .collect::<Result<Vec<u16>>>()
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("client"))
            .collect::<Result<Vec<_>>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    eprintln!(
        "two service instances, one Redis, 80 concurrent asks: {ok} admitted for a budget of 10"
    );
    assert_eq!(ok, 10, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429));
    Ok(())
}
