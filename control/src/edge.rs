//! The main job: the demo upstream, then real Envoy with the filters in front of it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tollgate_envoy_harness::{Envoy, EnvoyConfig, HttpRequest, Upstream, WasmFilter, repo_root};

/// The filters the edge runs, with their embedded default configs.
pub const FILTERS: &[(&str, &str)] = &[(
    "conformance",
    r#"{"callout_cluster":"upstream","grpc_cluster":"grpc","tick_ms":0}"#,
)];

pub fn dist_dir(dist: Option<PathBuf>) -> PathBuf {
    dist.unwrap_or_else(|| repo_root().join("dist"))
}

/// Starts the upstream and Envoy with every filter in [`FILTERS`], configs validated first.
pub fn start(concurrency: usize, dist: &std::path::Path) -> Result<(Envoy, Upstream)> {
    let upstream = Upstream::start().context("starting the demo upstream")?;
    let mut config = EnvoyConfig::new(upstream.addr())
        .cluster("grpc", upstream.addr(), true)
        .concurrency(concurrency);
    for (name, filter_config) in FILTERS {
        crate::validate::check(name, filter_config.as_bytes())
            .with_context(|| format!("embedded config of {name}"))?;
        let wasm = dist.join(format!("{name}.wasm"));
        if !wasm.is_file() {
            bail!("{} is missing: run scripts/build-wasm", wasm.display());
        }
        config = config.filter(WasmFilter::new(name, &wasm).config(filter_config));
    }
    let envoy = Envoy::start(&config).context("starting Envoy")?;
    Ok((envoy, upstream))
}

pub fn run(smoke: bool, concurrency: usize, dist: Option<PathBuf>) -> Result<()> {
    let dist = dist_dir(dist);
    let (envoy, upstream) = start(concurrency, &dist)?;
    let url = format!("http://{}", envoy.addr());
    println!(
        "Tollgate edge on {url}  (Envoy admin http://{}, demo upstream http://{})",
        envoy.admin_addr(),
        upstream.addr()
    );
    println!(
        "filters: {}",
        FILTERS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Prove the chain works: a conformance probe must come back marked by the filter.
    let probe = HttpRequest::get("/conformance/headers")
        .header("x-conformance-id", "run-check")
        .header("x-probe", "hello");
    let reply = envoy.send(&probe)?;
    let marked = reply.header("x-conformance") == Some("seen");
    println!(
        "self-check: GET /conformance/headers -> {} (x-conformance: {})",
        reply.status,
        reply.header("x-conformance").unwrap_or("missing")
    );
    if reply.status != 200 || !marked {
        bail!(
            "the request did not pass through the filters:\n{}",
            envoy.log_tail()
        );
    }
    println!(
        "try:  curl -s -H 'x-conformance-id: demo' {url}/conformance/headers && curl -s {url}/conformance/report/demo"
    );
    if smoke {
        println!("smoke run: OK, stopping");
        return Ok(());
    }
    println!("running; Ctrl-C stops Envoy and the upstream");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })?;
    println!("stopping");
    drop(envoy);
    drop(upstream);
    std::thread::sleep(Duration::from_millis(50));
    Ok(())
}
