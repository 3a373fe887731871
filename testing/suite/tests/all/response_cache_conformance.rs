//! response-cache against an independent test suite for HTTP caches:
//! [http-cache-tests](https://cache-tests.fyi) (Mark Nottingham; npm `http-cache-tests`
//! 0.4.5, installed by `scripts/setup`), run through real Envoy with response-cache in
//! front of the suite's own origin server. Every test the suite calls *required* must
//! pass, except the ones listed in `DEVIATIONS` with why; the pass counts are printed
//! beside those of the caches the suite ships results for.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use tollgate_envoy_harness::{Envoy, EnvoyConfig, WasmFilter, repo_root};
use tollgate_host_suite::wasm_path;

/// Required tests response-cache does not pass, each for a reason. The list is exact:
/// a deviation that starts passing must leave it (the test fails on a stale entry).
const DEVIATIONS: &[(&str, &str)] = &[
    // By design (the issue): a response with Set-Cookie is never stored.
    (
        "304-etag-update-response-Set-Cookie",
        "Set-Cookie responses are never stored",
    ),
    (
        "headers-store-Set-Cookie",
        "Set-Cookie responses are never stored",
    ),
    // No range support: partial content is never stored or combined.
    (
        "304-etag-update-response-Content-Range",
        "partial content is not stored",
    ),
    (
        "headers-store-Content-Range",
        "partial content is not stored",
    ),
    ("partial-use-headers", "partial content is not stored"),
    // Stricter Age parsing: any list is untrusted (the suite reads `0,7200` as 0 but
    // `0, 0` as invalid).
    (
        "age-parse-prefix",
        "an Age list is taken as invalid, so the response as stale",
    ),
    // Envoy, not the cache: it joins repeated Cache-Control lines into one...
    (
        "freshness-max-age-s-maxage-shared-longer-multiple",
        "Envoy joins repeated Cache-Control lines",
    ),
    // ...answers the suite's odd Transfer-Encoding with 502...
    (
        "headers-store-Transfer-Encoding",
        "Envoy refuses the origin's Transfer-Encoding (502)",
    ),
    // ...refuses an unknown method with 400...
    (
        "invalidate-M-SEARCH",
        "Envoy refuses the M-SEARCH method (400)",
    ),
    (
        "invalidate-M-SEARCH-cl",
        "Envoy refuses the M-SEARCH method (400)",
    ),
    // ...and answers 503 itself when the origin closes the connection; that reply lacks
    // the suite's server headers, which it takes for a cached response (nothing stale
    // is served: must-revalidate and no-cache entries are not).
    (
        "stale-close-must-revalidate",
        "Envoy's own 503 on an origin disconnect",
    ),
    (
        "stale-close-no-cache",
        "Envoy's own 503 on an origin disconnect",
    ),
    (
        "stale-close-proxy-revalidate",
        "Envoy's own 503 on an origin disconnect",
    ),
    (
        "stale-close-s-maxage=2",
        "Envoy's own 503 on an origin disconnect",
    ),
    // Surrogate-Control (Edge Architecture 1.0, outside RFC 9111) is not implemented.
    (
        "surrogate-fresh-cc-nostore",
        "Surrogate-Control is not implemented",
    ),
    (
        "surrogate-max-age-0-expires",
        "Surrogate-Control is not implemented",
    ),
    (
        "surrogate-max-age-long-cc-max-age",
        "Surrogate-Control is not implemented",
    ),
    (
        "surrogate-no-store-cc-fresh",
        "Surrogate-Control is not implemented",
    ),
];

fn suite_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("TOLLGATE_CACHE_TESTS").map_or_else(
        || repo_root().join(".tollgate/tools/cache-tests-0.4.5/node_modules/http-cache-tests"),
        PathBuf::from,
    );
    if !dir.join("cli.mjs").is_file() {
        bail!("{} is missing: run scripts/setup", dir.display());
    }
    Ok(dir)
}

/// The suite's origin server, stopped on drop.
struct Origin(Child);

impl Drop for Origin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A module loaded before the suite's server: `listen(port)` binds 127.0.0.1 only.
const LOOPBACK_ONLY: &str = "data:text/javascript,import http from 'http'; \
    const listen = http.Server.prototype.listen; \
    http.Server.prototype.listen = function (port, ...rest) { \
    return listen.call(this, port, '127.0.0.1', ...rest) }";

fn start_origin(dir: &PathBuf) -> Result<(Origin, SocketAddr)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let pidfile = std::env::temp_dir().join(format!(
        "tollgate-cache-tests-{}-{port}.pid",
        std::process::id()
    ));
    let child = tollgate_envoy_harness::children::command("node", "KILL")
        // The suite's server listens on every interface; tests serve on loopback only.
        .args(["--import", LOOPBACK_ONLY, "server/server.mjs"])
        .current_dir(dir)
        .env("npm_config_pidfile", &pidfile)
        .env("npm_config_port", port.to_string())
        .env("npm_package_config_port", port.to_string())
        .env("npm_package_config_protocol", "http")
        .env("npm_config_protocol", "http")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the suite's server (node)")?;
    let origin = Origin(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            bail!("the suite's server did not listen on {addr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((origin, addr))
}

/// Every test's id and kind (`required`, `optimal`, `check`), from the suite itself;
/// tests for browser caches only are left out.
fn kinds(dir: &PathBuf) -> Result<BTreeMap<String, String>> {
    let out = Command::new("node")
        .current_dir(dir)
        .args([
            "--input-type=module",
            "-e",
            "import t from './tests/index.mjs'; import s from './tests/surrogate-control.mjs'; \
             console.log(JSON.stringify([...t, s].flatMap(x => x.tests.filter(y => !y.browser_only).map(y => [y.id, y.kind || 'required']))))",
        ])
        .output()?;
    let pairs: Vec<(String, String)> = serde_json::from_slice(&out.stdout)
        .with_context(|| String::from_utf8_lossy(&out.stderr).into_owned())?;
    Ok(pairs.into_iter().collect())
}

/// How many required tests a result set passes.
fn passes(results: &Value, kinds: &BTreeMap<String, String>) -> usize {
    kinds
        .iter()
        .filter(|(id, kind)| *kind == "required" && results[id.as_str()] == json!(true))
        .count()
}

#[test]
fn the_independent_http_cache_test_suite() -> Result<()> {
    let dir = suite_dir()?;
    let (_origin, origin_addr) = start_origin(&dir)?;
    // Tables far larger than the suite needs: an eviction, or a write's mark sharing a
    // slot with a stored URI's (which only invalidates more), would show as a failed
    // test. With 4096 marks, the suite's ~30 writes hit one of ~200 cached URIs' slots
    // in about one run of a hundred.
    let config = json!({
        "rules": [{"name": "all", "glob": "/**"}],
        "coalesce_ms": 0,
        "storage": {"max_entries": 65536, "invalidation_marks": 1000000}
    });
    let envoy = Envoy::start(
        &EnvoyConfig::new(origin_addr).filter(
            WasmFilter::new("response-cache", &wasm_path("response-cache")?)
                .config(&config.to_string()),
        ),
    )?;
    let out = Command::new("node")
        .current_dir(&dir)
        .args(["--no-warnings", "cli.mjs"])
        .env("npm_config_base", format!("http://{}", envoy.addr()))
        .env("npm_package_config_base", "")
        .env("npm_config_id", "")
        .env("npm_package_config_id", "")
        .output()
        .context("running the suite's client (node)")?;
    let results: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "the suite's output: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let kinds = kinds(&dir)?;
    let mut failed_required = Vec::new();
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (id, kind) in &kinds {
        let passed = results[id.as_str()] == json!(true);
        let c = counts.entry(kind.as_str()).or_default();
        c.1 += 1;
        if passed {
            c.0 += 1;
        } else if kind == "required" {
            failed_required.push(format!("{id}: {}", results[id.as_str()]));
        }
    }
    eprintln!("http-cache-tests 0.4.5 through Envoy + response-cache: {counts:?}");
    for name in [
        "nginx",
        "varnish",
        "squid",
        "trafficserver",
        "apache",
        "fastly",
    ] {
        if let Ok(text) = std::fs::read_to_string(dir.join("results").join(format!("{name}.json")))
        {
            let other: Value = serde_json::from_str(&text)?;
            eprintln!("  {name}: {} required passed", passes(&other, &kinds));
        }
    }
    // A listed deviation that passes now must leave the list.
    let stale: Vec<&str> = DEVIATIONS
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| {
            !failed_required
                .iter()
                .any(|f| f.starts_with(&format!("{id}:")))
        })
        .collect();
    assert!(
        stale.is_empty(),
        "these pass now: take them out of DEVIATIONS: {stale:?}"
    );
    let unexplained: Vec<&String> = failed_required
        .iter()
        .filter(|f| {
            !DEVIATIONS
                .iter()
                .any(|(id, _)| f.starts_with(&format!("{id}:")))
        })
        .collect();
    assert!(
        unexplained.is_empty(),
        "{} required tests fail without an explanation:\n{}",
        unexplained.len(),
        unexplained
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}
