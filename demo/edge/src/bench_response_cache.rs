//! wrk through real Envoy, in one run: a response-cache hit (answered from the request
//! phase, no upstream) against the origin's round trip with no filter, a miss that
//! stores (the client asks `no-cache`, so every request goes upstream and is stored
//! again), a bypass (no rule), and an empty wasm filter. The upstream answers at once
//! on loopback: a real origin's time comes on top of every case but the hit.

use std::path::Path;

use anyhow::Result;
use serde_json::json;
use tollgate_envoy_harness::{Envoy, EnvoyConfig, Upstream, WasmFilter};

use crate::bench::{Case, ensure_all_pass, measure, p50_of, print_heading, print_table};

fn config() -> String {
    json!({
        "rules": [{"name": "api", "glob": "/api/**", "ttl_s": 3600}],
        "storage": {"max_entries": 1024}
    })
    .to_string()
}

pub fn run(seconds: u64, dist: &Path) -> Result<()> {
    let upstream = Upstream::start_remembering(0)?;
    let base = || EnvoyConfig::new(upstream.addr());
    let bare = Envoy::start(&base())?;
    let empty = Envoy::start(&base().filter(WasmFilter::new(
        "empty",
        &dist.join("fixtures").join("empty-filter.wasm"),
    )))?;
    let cache = Envoy::start(&base().filter(
        WasmFilter::new("response-cache", &dist.join("response-cache.wasm")).config(&config()),
    ))?;
    let case = |name: &str, envoy, path: &'static str, headers: &[&str]| Case {
        name: name.to_string(),
        envoy,
        path,
        headers: headers.iter().map(|h| (*h).to_string()).collect(),
    };
    let cases = vec![
        case("no filter (origin round trip)", &bare, "/api/items", &[]),
        case("empty wasm filter", &empty, "/api/items", &[]),
        case("response-cache hit", &cache, "/api/items", &[]),
        case(
            "response-cache miss, stored (client no-cache)",
            &cache,
            "/api/items",
            &["cache-control: no-cache"],
        ),
        case("response-cache bypass (no rule)", &cache, "/other", &[]),
    ];
    ensure_all_pass(&cases)?;
    let hit = cases
        .get(2)
        .map(Case::send)
        .transpose()?
        .and_then(|r| r.header("x-cache").map(String::from));
    anyhow::ensure!(
        hit.as_deref() == Some("HIT"),
        "the hit case is not a hit: {hit:?}"
    );
    let results = measure(&cases, seconds, 2)?;
    let p50 = |name: &str| p50_of(&results, name);
    print_heading(
        "response-cache through real Envoy: a hit against the origin's round trip",
        seconds,
        "GET of a 1 KB-ish JSON echo, anonymous",
    )?;
    let base_p50 = print_table(&results);
    println!(
        "\nA hit takes {:.2}× the origin round trip without a filter ({:.0} against {:.0} µs p50); \
         a miss that stores adds {:.0} µs, a bypass {:.0} µs, the empty wasm filter {:.0} µs.",
        p50("response-cache hit") / base_p50,
        p50("response-cache hit"),
        base_p50,
        p50("response-cache miss, stored (client no-cache)") - base_p50,
        p50("response-cache bypass (no rule)") - base_p50,
        p50("empty wasm filter") - base_p50,
    );
    println!(
        "\nAbsolute times on this machine are not stable; compare the ratios within this run."
    );
    drop((bare, empty, cache));
    Ok(())
}
