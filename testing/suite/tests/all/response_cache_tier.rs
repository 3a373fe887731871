//! Tier 3, the shared tier end to end: two real Envoys, each with response-cache, share
//! entries and invalidations through `tollgate-cache` and a real Redis. A fill through
//! one serves the other; a write through one drops the other's entry within a bounded
//! time (measured); Redis stopped mid-run loses no request; a tampered entry is never
//! served.

use std::time::{Duration, Instant};

use anyhow::Result;
use base64::Engine as _;
use serde_json::json;
use tollgate_control::cache::server::{Options, Running, start};
use tollgate_envoy_harness::{
    Envoy, EnvoyConfig, HttpRequest, HttpResponse, Redis, Upstream, WasmFilter,
};
use tollgate_host_suite::wasm_path;

const TOKEN: &str = "tier-test-token";

fn key() -> String {
    base64::engine::general_purpose::STANDARD.encode([7u8; 32])
}

/// The tier in its own runtime, stopped on drop.
struct Tier {
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
}

impl Tier {
    fn start(redis: &Redis) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let running = runtime
            .block_on(start(Options {
                listen: "127.0.0.1:0".parse()?,
                redis: Some(redis.url()),
                token: Some(TOKEN.into()),
                horizon: Duration::from_secs(3600),
                max_entries: 1000,
            }))
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            runtime,
            running: Some(running),
        })
    }

    fn puts(&self) -> u64 {
        self.running.as_ref().map_or(0, |r| {
            r.tier.stats.puts.load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.running
            .as_ref()
            .map_or(([127, 0, 0, 1], 9).into(), |r| r.addr)
    }
}

impl Drop for Tier {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = self.runtime.block_on(r.stop());
        }
    }
}

fn config() -> String {
    json!({
        "rules": [{"name": "api", "glob": "/api/**", "ttl_s": 300}],
        "storage": {"max_entries": 256},
        "shared_tier": {"service": "tier", "key": key(), "token": TOKEN,
                        "timeout_ms": 500, "poll_ms": 100, "horizon_s": 3600}
    })
    .to_string()
}

fn envoy(app: &Upstream, tier: &Tier) -> Result<Envoy> {
    Envoy::start(
        &EnvoyConfig::new(app.addr())
            .cluster("tier", tier.addr(), false)
            .filter(
                WasmFilter::new("response-cache", &wasm_path("response-cache")?).config(&config()),
            )
            .concurrency(2),
    )
}

/// Gateways behind one name, as behind a load balancer: the authority is part of the
/// key.
const HOST: &str = "api.example.com";

fn get(e: &Envoy, path: &str) -> Result<HttpResponse> {
    e.send(&HttpRequest::get(path).header("host", HOST))
}

fn cache(r: &HttpResponse) -> &str {
    r.header("x-cache").unwrap_or("none")
}

/// Polls `f` every 20 ms for up to `limit`; the time it took, or `None`.
fn within(limit: Duration, mut f: impl FnMut() -> Result<bool>) -> Result<Option<Duration>> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f()? {
            return Ok(Some(start.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(None)
}

#[test]
fn two_gateways_share_fills_and_invalidations() -> Result<()> {
    let mut redis = Redis::start()?;
    let tier = Tier::start(&redis)?;
    let app = Upstream::start()?;
    let (a, b) = (envoy(&app, &tier)?, envoy(&app, &tier)?);
    // Both caught up with the (empty) log before the first read.
    std::thread::sleep(Duration::from_millis(400));

    let filled = get(&a, "/api/list")?;
    assert_eq!(cache(&filled), "MISS", "{}", a.log_tail());
    // A's root sends the entry on its next tick (100 ms); then B is served it from
    // the tier, not from the origin.
    let stored = within(Duration::from_secs(3), || Ok(tier.puts() >= 1))?;
    assert!(
        stored.is_some(),
        "A never stored its fill in the tier:\n{}",
        a.log_tail()
    );
    let from_tier = get(&b, "/api/list")?;
    assert_eq!(cache(&from_tier), "HIT", "{}", b.log_tail());
    assert_eq!(from_tier.body, filled.body);
    assert_eq!(app.hits("/api/list"), 1, "the origin saw one request");
    assert_eq!(b.stat("wasmcustom.response_cache.tier_hits")?, Some(1));

    // A write through A: B drops its local entry once it follows the log.
    let write_at = Instant::now();
    let put = a.send(
        &HttpRequest::new("PUT", "/api/list")
            .header("host", HOST)
            .body("{}"),
    )?;
    assert_eq!(put.status, 200);
    let propagated = within(Duration::from_secs(5), || {
        Ok(cache(&get(&b, "/api/list")?) == "MISS")
    })?;
    let took = propagated.map(|_| write_at.elapsed());
    eprintln!("invalidation from A reached B in {took:?} (poll every 100 ms)");
    assert!(
        took.is_some(),
        "B kept serving an invalidated entry:\n{}",
        b.log_tail()
    );
    assert!(
        b.stat("wasmcustom.response_cache.invalidations")?
            .unwrap_or(0)
            >= 1
    );

    // Redis stopped mid-run: every request still answered, from the local tier or
    // the origin.
    redis.kill();
    let answers: Vec<u16> = (0..20)
        .map(|i| {
            let target = if i % 2 == 0 { &a } else { &b };
            get(target, &format!("/api/after-redis/{}", i % 4)).map(|r| r.status)
        })
        .collect::<Result<_>>()?;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    Ok(())
}

#[test]
fn a_tampered_entry_in_the_tier_is_never_served() -> Result<()> {
    let redis = Redis::start()?;
    let tier = Tier::start(&redis)?;
    let app = Upstream::start()?;
    let a = envoy(&app, &tier)?;
    std::thread::sleep(Duration::from_millis(400));
    get(&a, "/api/secret")?;
    std::thread::sleep(Duration::from_millis(400));
    // Rewrite every stored entry's body bytes in Redis, keeping the HMAC.
    let client = redis::Client::open(redis.url())?;
    let mut conn = client.get_connection()?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("tollgate:cache:e:*")
        .query(&mut conn)?;
    assert_eq!(keys.len(), 1, "A stored its entry in the tier");
    for k in &keys {
        let mut v: Vec<u8> = redis::cmd("GET").arg(k).query(&mut conn)?;
        if let Some(last) = v.last_mut() {
            *last ^= 1;
        }
        redis::cmd("SET").arg(k).arg(v).query::<()>(&mut conn)?;
    }
    let b = envoy(&app, &tier)?;
    std::thread::sleep(Duration::from_millis(400));
    let r = get(&b, "/api/secret")?;
    assert_eq!(
        (r.status, cache(&r)),
        (200, "MISS"),
        "refused, fetched from the origin"
    );
    assert_eq!(app.hits("/api/secret"), 2);
    assert!(
        b.stat("wasmcustom.response_cache.tier_errors")?
            .unwrap_or(0)
            >= 1
    );
    Ok(())
}
