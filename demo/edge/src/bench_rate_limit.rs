//! wrk through real Envoy, in one run: rate-limit's local mode against Envoy's native
//! `local_ratelimit` on the same limit, rate-limit's global mode against Envoy's native
//! `ratelimit` filter asking the same service (`tollgate-ratelimit`, in memory), an
//! empty wasm filter and no filter. The limits are far above what wrk can send, so every
//! request is counted and passes: the figures are the cost of counting.

use std::path::Path;

use anyhow::Result;
use serde_json::json;
use tollgate_control::ratelimit::server::{Options, start};
use tollgate_control::ratelimit::source::Source;
use tollgate_envoy_harness::{Envoy, EnvoyConfig, Upstream, WasmFilter};

use crate::bench::{Case, ensure_all_pass, measure, p50_of, print_heading, print_table};

/// Far above what wrk sends: nothing is refused.
const HUGE: u64 = 1_000_000_000;

/// Envoy's local_ratelimit, one token bucket for the route's requests.
fn local_ratelimit() -> String {
    format!(
        r#"name: envoy.filters.http.local_ratelimit
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
  stat_prefix: local
  token_bucket: {{max_tokens: {HUGE}, tokens_per_fill: {HUGE}, fill_interval: 1s}}
  filter_enabled: {{default_value: {{numerator: 100, denominator: HUNDRED}}, runtime_key: le}}
  filter_enforced: {{default_value: {{numerator: 100, denominator: HUNDRED}}, runtime_key: lf}}"#
    )
}

/// Envoy's ratelimit filter asking the `ratelimit` cluster.
const NATIVE_GLOBAL: &str = r#"name: envoy.filters.http.ratelimit
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
  domain: edge
  failure_mode_deny: true
  timeout: 0.5s
  rate_limit_service:
    transport_api_version: V3
    grpc_service: {envoy_grpc: {cluster_name: ratelimit}}"#;

/// The descriptor Envoy's filter sends: the same two entries rate-limit sends (the key
/// raw here, hashed by rate-limit), so the service applies the same limit.
const NATIVE_DESCRIPTORS: &str = r#"rate_limits:
- actions:
  - generic_key: {descriptor_key: tollgate_rule, descriptor_value: per-user}
  - request_headers: {header_name: x-user, descriptor_key: tollgate_key}"#;

fn ours(global: bool) -> serde_json::Value {
    let service =
        global.then(|| json!({"service": "ratelimit", "domain": "edge", "timeout_ms": 500}));
    json!({
        "rules": [{"name": "per-user", "key": [{"header": "x-user"}], "global": global,
                   "limits": [{"requests": HUGE, "per": "1h"}]}],
        "local": {"max_keys": 10000},
        "response": {"ratelimit_headers": false},
        "global": service
    })
}

pub fn run(seconds: u64, dist: &Path) -> Result<()> {
    let wasm = dist.join("rate-limit.wasm");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let limits = dir.path().join("rate-limit.json");
    std::fs::write(&limits, ours(true).to_string())?;
    let service = runtime
        .block_on(start(Options {
            grpc_listen: "127.0.0.1:0".parse()?,
            http_listen: "127.0.0.1:0".parse()?,
            source: Source::File(limits),
            redis: None,
            max_counters: 100_000,
            reload: std::time::Duration::from_secs(3600),
        }))
        .map_err(anyhow::Error::msg)?;
    let upstream = Upstream::start()?;
    let base = || EnvoyConfig::new(upstream.addr()).cluster("ratelimit", service.grpc, true);
    let bare = Envoy::start(&base())?;
    let empty = Envoy::start(&base().filter(WasmFilter::new(
        "empty",
        &dist.join("fixtures").join("empty-filter.wasm"),
    )))?;
    let native_local = {
        let mut c = base();
        c.native_filters.push(local_ratelimit());
        Envoy::start(&c)?
    };
    let native_global = {
        let mut c = base();
        c.native_filters.push(NATIVE_GLOBAL.to_string());
        c.virtual_host_yaml.push(NATIVE_DESCRIPTORS.to_string());
        Envoy::start(&c)?
    };
    let rl = |config: serde_json::Value| {
        Envoy::start(
            &base().filter(WasmFilter::new("rate-limit", &wasm).config(&config.to_string())),
        )
    };
    let local = rl(ours(false))?;
    let global = rl(ours(true))?;
    let user = vec!["x-user: alice".to_string()];
    let case = |name: &str, envoy| Case {
        name: name.to_string(),
        envoy,
        path: "/api",
        headers: user.clone(),
    };
    let cases = vec![
        case("no filter", &bare),
        case("empty wasm filter", &empty),
        case("Envoy local_ratelimit (native)", &native_local),
        case("rate-limit, local (shared data, CAS)", &local),
        case(
            "Envoy ratelimit (native) → tollgate-ratelimit",
            &native_global,
        ),
        case("rate-limit, global (gRPC) → tollgate-ratelimit", &global),
    ];
    ensure_all_pass(&cases)?;
    let results = measure(&cases, seconds, 2)?;
    let p50 = |name: &str| p50_of(&results, name);
    print_heading(
        "rate-limit vs Envoy's native local_ratelimit and ratelimit, through real Envoy",
        seconds,
        "request for one user (every request counted, none refused)",
    )?;
    let base_p50 = print_table(&results);
    let added = |n: &str| p50(n) - base_p50;
    println!(
        "\nAdded p50: rate-limit local over local_ratelimit {:.2}×, over the empty wasm filter {:.2}×; \
         rate-limit global over Envoy's ratelimit filter (same service) {:.2}×.",
        added("rate-limit, local (shared data, CAS)") / added("Envoy local_ratelimit (native)"),
        added("rate-limit, local (shared data, CAS)") / added("empty wasm filter"),
        added("rate-limit, global (gRPC) → tollgate-ratelimit")
            / added("Envoy ratelimit (native) → tollgate-ratelimit"),
    );
    println!(
        "\nAbsolute times on this machine are not stable; compare the ratios within this run."
    );
    drop((bare, empty, native_local, native_global, local, global));
    runtime
        .block_on(service.stop())
        .map_err(anyhow::Error::msg)?;
    Ok(())
}
