//! The main job: demo upstreams, then real Envoy with every catalog filter in front of
//! them, supervised.
//!
//! A supervisor worth running for hours:
//! * stop signals (SIGINT, SIGTERM, SIGHUP) are caught before anything starts, and a
//!   signal during start-up stops what already started;
//! * Envoy runs in its own process group and is killed by the kernel if the main job
//!   dies, even by SIGKILL; everything it writes lives in one scratch directory that a
//!   reaper removes in that case (see `scratch`);
//! * a child that dies is logged with its status, and the job stops with an error;
//! * the demo upstreams keep no per-request state, so memory stays flat under load;
//! * every route has a timeout, so a hung upstream holds a client at most
//!   [`ROUTE_TIMEOUT`];
//! * the demo S3 runs in-process: its secret key never appears in a process's argv.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tollgate_envoy_harness::{Envoy, EnvoyConfig, HttpRequest, Upstream, WasmFilter, children};
use tollgate_hcp_demo::{HcpDemo, demo_users};
use tollgate_kit::HostKind;

use crate::control_plane::ControlPlane;
use crate::s3::DemoS3;
use crate::scratch::Scratch;
use crate::signals::{Signals, Stop};

/// The main job's config for each catalog filter (`configs/<filter>.json`), as pushed
/// to the control service (with references it resolves: the JWE key is a secret,
/// rego-authz's policy is the group's signed bundle). jwt-auth verifies tokens from the
/// demo identity provider (see `demo_idp`), `/health` passes without one; rego-authz
/// runs policies/hcp; response-cache keeps the HCP profile's TTL table per identity;
/// pii-mask masks personal data in responses (cards and IBANs keep their last four);
/// hcp-auth turns the verified token's credentials into HCP
/// management auth (`/mapi/`) and S3 signatures (`/demo-bucket`).
const CONFIGS: &[(&str, &str)] = &[
    ("jwt-auth", include_str!("../configs/jwt-auth.json")),
    ("rate-limit", include_str!("../configs/rate-limit.json")),
    ("rego-authz", include_str!("../configs/rego-authz.json")),
    (
        "response-cache",
        include_str!("../configs/response-cache.json"),
    ),
    ("pii-mask", include_str!("../configs/pii-mask.json")),
    ("hcp-auth", include_str!("../configs/hcp-auth.json")),
];

/// The demo deployment's HCP domain and S3 bucket.
pub const HCP_DOMAIN: &str = "hcp.demo";
pub const BUCKET: &str = "demo-bucket";

/// How long Envoy waits for an upstream's answer before a 504.
pub const ROUTE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the supervisor looks at its children between signals.
const SUPERVISION_PERIOD: Duration = Duration::from_millis(250);

/// The demo config of catalog filter `name`.
pub fn config_of(name: &str) -> Result<&'static str> {
    CONFIGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .with_context(|| {
            format!(
                "the main job has no config for filter `{name}`: add demo/edge/configs/{name}.json"
            )
        })
}

/// Everything the main job runs; dropping it stops them all (Envoy first).
pub struct Edge {
    pub envoy: Envoy,
    /// The control service the configs came through.
    pub control: ControlPlane,
    pub upstream: Upstream,
    pub hcp: HcpDemo,
    pub s3: DemoS3,
    /// A scratch directory this edge owns and removes last (benchmarks); the supervised
    /// job's belongs to its `Scratch`.
    owned_scratch: Option<OwnedDir>,
}

/// A directory removed on drop.
struct OwnedDir(std::path::PathBuf);

impl Drop for OwnedDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One start-up step, unless a stop signal came first.
fn step<T>(
    signals: Option<&Signals>,
    what: &str,
    f: impl FnOnce() -> Result<T>,
) -> Result<T, Interrupted> {
    if let Some(stop) = signals.and_then(Signals::pending) {
        return Err(Interrupted::Signal(stop));
    }
    f().with_context(|| what.to_string())
        .map_err(Interrupted::Failed)
}

pub enum Interrupted {
    Signal(Stop),
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Interrupted {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(e)
    }
}

/// Every catalog filter's demo config, in catalog order.
pub fn catalog_configs() -> Result<Vec<(&'static str, &'static str)>> {
    tollgate_catalog::FILTERS
        .iter()
        .map(|f| Ok((f.name, config_of(f.name)?)))
        .collect()
}

/// Starts the demo upstreams and Envoy with every catalog filter, configs validated
/// first by the filters' own code. With `signals`, a stop signal between steps ends
/// start-up (what started is stopped on drop).
pub fn start_supervised(
    concurrency: usize,
    dist: &Path,
    scratch: &Path,
    signals: Option<&Signals>,
) -> Result<Edge, Interrupted> {
    let control = step(signals, "starting the control service", || {
        ControlPlane::start(scratch)
    })?;
    println!("control: tollgate-control on {}", control.url);
    let published = step(
        signals,
        "publishing the configs through the control service",
        || control.publish(&catalog_configs()?),
    )?;
    let mut filters = Vec::new();
    for (f, p) in tollgate_catalog::FILTERS.iter().zip(&published) {
        println!(
            "control: the gateway received {} revision {} (signature verified)",
            p.filter, p.revision
        );
        // What the gateway received was validated by the service; check again here,
        // as Envoy's filter will, so a mismatch stops the job before Envoy starts.
        f.check(p.config.as_bytes(), HostKind::Envoy)
            .map_err(|e| anyhow::anyhow!("the published config of {}: {e}", f.name))?;
        let wasm = dist.join(f.wasm_file());
        if !wasm.is_file() {
            return Err(
                anyhow::anyhow!("{} is missing: run scripts/build-wasm", wasm.display()).into(),
            );
        }
        filters.push(
            WasmFilter::new(f.name, &wasm)
                .config(&p.config)
                .allow_on_headers_stop_iteration(f.holds_headers_for_body),
        );
    }
    // Nothing per request is kept: the job may serve millions.
    let upstream = step(signals, "starting the demo upstream", || {
        Upstream::start_remembering(0)
    })?;
    upstream.route(crate::demo_idp::JWKS_PATH, 200, crate::demo_idp::JWKS);
    let hcp = step(signals, "starting the demo HCP", || {
        HcpDemo::start(HCP_DOMAIN, demo_users())
    })?;
    let alice = crate::demo_idp::demo_user()?;
    let s3 = step(signals, "starting the demo S3", || {
        DemoS3::start(
            &scratch.join("s3"),
            &tollgate_hcp_auth::mgmt::access_key(&alice.username),
            &tollgate_hcp_auth::mgmt::secret_key(&alice.password),
            &[BUCKET],
        )
    })?;
    let mut config = EnvoyConfig::new(upstream.addr())
        .cluster("idp", upstream.addr(), false)
        .cluster("hcp", hcp.addr(), false)
        .cluster("s3", s3.addr(), false)
        .route("/mapi/", "hcp")
        .route("/query", "hcp")
        .route(&format!("/{BUCKET}"), "s3")
        .route_timeout(ROUTE_TIMEOUT)
        .concurrency(concurrency);
    for f in filters {
        config = config.filter(f);
    }
    let envoy = step(signals, "starting Envoy", || Envoy::start(&config))?;
    Ok(Edge {
        envoy,
        control,
        upstream,
        hcp,
        s3,
        owned_scratch: None,
    })
}

/// [`start_supervised`] without signals, scratch in the system temp dir (benchmarks).
pub fn start(concurrency: usize, dist: &Path) -> Result<Edge> {
    let scratch =
        OwnedDir(std::env::temp_dir().join(format!("tollgate-bench-{}", std::process::id())));
    let mut edge = start_supervised(concurrency, dist, &scratch.0, None).map_err(|e| match e {
        Interrupted::Failed(e) => e,
        Interrupted::Signal(s) => anyhow::anyhow!("stopped by {}", s.name()),
    })?;
    edge.owned_scratch = Some(scratch);
    Ok(edge)
}

fn check(what: &str, ok: bool, envoy: &Envoy) -> Result<()> {
    if !ok {
        bail!("self-check failed: {what}\n{}", envoy.log_tail());
    }
    Ok(())
}

/// Proves every filter in the chain does its job.
fn self_check(envoy: &Envoy, token: &str) -> Result<()> {
    let bearer = format!("Bearer {token}");
    let health = envoy.send(&HttpRequest::get("/health"))?;
    println!(
        "self-check: GET /health -> {} (public route)",
        health.status
    );
    check("a public route", health.status == 200, envoy)?;
    // jwt-auth: refused without a token, admitted with one from the demo issuer.
    let anonymous = envoy.send(&HttpRequest::get("/api/hello"))?;
    let admitted = envoy.send(&HttpRequest::get("/api/hello").header("authorization", &bearer))?;
    println!(
        "self-check: GET /api/hello -> {} without a token, {} with the demo token",
        anonymous.status, admitted.status
    );
    check(
        "jwt-auth",
        anonymous.status == 401 && admitted.status == 200 && admitted.body_text().contains("alice"),
        envoy,
    )?;
    // rate-limit counted alice's request in her bucket (the tightest of her two rules).
    let limit = admitted.header("ratelimit").unwrap_or_default();
    println!("self-check: rate-limit counted it: RateLimit: {limit}");
    check("rate-limit", limit.starts_with("\"per-user\";r="), envoy)?;
    // The demo provider takes only encrypted tokens: the bare signed one is refused.
    let plain = crate::demo_idp::mint_signed("alice", 60)?;
    let refused = envoy.send(
        &HttpRequest::get("/api/hello").header("authorization", &format!("Bearer {plain}")),
    )?;
    println!(
        "self-check: GET /api/hello -> {} with the signed token unencrypted",
        refused.status
    );
    check(
        "jwt-auth (encryption required)",
        refused.status == 401,
        envoy,
    )?;
    // hcp-auth: the demo HCP and S3 accept the user the token names.
    let mapi = envoy.send(
        &HttpRequest::get("/mapi/tenants/acme/namespaces").header("authorization", &bearer),
    )?;
    println!(
        "self-check: GET /mapi/tenants/acme/namespaces -> {}",
        mapi.status
    );
    check("hcp-auth (management API)", mapi.status == 200, envoy)?;
    let object = format!("/{BUCKET}/hello.txt");
    let put = envoy.send(
        &HttpRequest::new("PUT", &object)
            .header("authorization", &bearer)
            .body(b"hello from the edge".to_vec()),
    )?;
    let get = envoy.send(&HttpRequest::get(&object).header("authorization", &bearer))?;
    println!(
        "self-check: S3 PUT {object} -> {}, GET -> {}",
        put.status, get.status
    );
    check(
        "hcp-auth (S3 SigV4)",
        put.status == 200 && get.body_text() == "hello from the edge",
        envoy,
    )?;
    // rego-authz (policies/hcp): a monitor may read but not write; nobody crosses tenants.
    let monitor = format!("Bearer {}", crate::demo_idp::mint("bob", 60)?);
    let read = envoy.send(
        &HttpRequest::get("/mapi/tenants/acme/statistics").header("authorization", &monitor),
    )?;
    let write = envoy.send(
        &HttpRequest::new("PUT", "/mapi/tenants/acme/namespaces")
            .header("authorization", &monitor)
            .header("content-type", "application/json")
            .body(br#"{"name": "from-a-monitor"}"#.to_vec()),
    )?;
    let other = envoy.send(
        &HttpRequest::get("/mapi/tenants/globex/namespaces").header("authorization", &bearer),
    )?;
    println!(
        "self-check: monitor GET statistics -> {}, monitor PUT namespace -> {} ({}), admin GET another tenant -> {}",
        read.status,
        write.status,
        write.header("x-tollgate-policy-reason").unwrap_or_default(),
        other.status
    );
    check(
        "rego-authz (the HCP policy)",
        read.status == 200 && write.status == 403 && other.status == 403,
        envoy,
    )?;
    // response-cache: alice's listing again comes from her own entry; bob's does not.
    let again = envoy.send(
        &HttpRequest::get("/mapi/tenants/acme/namespaces").header("authorization", &bearer),
    )?;
    let bobs = envoy.send(
        &HttpRequest::get("/mapi/tenants/acme/namespaces").header("authorization", &monitor),
    )?;
    println!(
        "self-check: GET /mapi/tenants/acme/namespaces again -> {} x-cache {}; as bob -> x-cache {}",
        again.status,
        again.header("x-cache").unwrap_or_default(),
        bobs.header("x-cache").unwrap_or_default()
    );
    // response-cache: a metadata query (a POST read) is answered again from the cache.
    let query = || {
        HttpRequest::new("POST", "/query")
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(br#"{"object": {"query": "namespace:default"}}"#.to_vec())
    };
    let (q1, q2) = (envoy.send(&query())?, envoy.send(&query())?);
    println!(
        "self-check: POST /query twice -> {} x-cache {}, {} x-cache {}",
        q1.status,
        q1.header("x-cache").unwrap_or_default(),
        q2.status,
        q2.header("x-cache").unwrap_or_default()
    );
    check(
        "response-cache (metadata query)",
        q1.status == 200 && q2.header("x-cache") == Some("HIT") && q2.body == q1.body,
        envoy,
    )?;
    // pii-mask: the echo upstream answers /health with the request it saw (as JSON),
    // an email in the query included: the client gets it masked.
    let echo = envoy.send(&HttpRequest::get("/health?contact=jane.doe@example.com"))?;
    println!(
        "self-check: GET /health?contact=<email> -> {}, email masked: {}",
        echo.status,
        echo.body_text().contains("[EMAIL]")
    );
    check(
        "pii-mask (an email in a JSON response)",
        echo.status == 200
            && echo.body_text().contains("[EMAIL]")
            && !echo.body_text().contains("jane.doe@example.com"),
        envoy,
    )?;
    check(
        "response-cache (per identity)",
        again.header("x-cache") == Some("HIT")
            && again.body == mapi.body
            && bobs.header("x-cache") == Some("MISS"),
        envoy,
    )?;
    Ok(())
}

fn print_banner(edge: &Edge, token: &str, scratch: &Path) {
    let url = format!("http://{}", edge.envoy.addr());
    println!(
        "Tollgate edge on {url}  (Envoy pid {}, admin http://{}; demo upstream {}, demo HCP {}, demo S3 {})",
        edge.envoy.pid(),
        edge.envoy.admin_addr(),
        edge.upstream.addr(),
        edge.hcp.addr(),
        edge.s3.addr()
    );
    println!(
        "filters: {}",
        tollgate_catalog::names().collect::<Vec<_>>().join(", ")
    );
    println!("scratch: {}", scratch.display());
    println!(
        "control service: {}  (tollgate login --server {} --token-file {})",
        edge.control.url,
        edge.control.url,
        edge.control.token_file.display()
    );
    println!(
        "demo token for alice (tenant acme), valid 1 h, encrypted (dir, A256GCM):\n  export TOKEN={token}"
    );
    println!("try:  curl -s -H \"authorization: Bearer $TOKEN\" {url}/api/hello");
    println!(
        "      curl -s -H \"authorization: Bearer $TOKEN\" {url}/mapi/tenants/acme/namespaces"
    );
    println!(
        "      curl -s -H \"authorization: Bearer $TOKEN\" -T README.md {url}/{BUCKET}/readme.md"
    );
    println!("      curl -s -H \"authorization: Bearer $TOKEN\" '{url}/{BUCKET}?list-type=2'");
}

/// `tollgate-demo run`: exit status 0 after a smoke run or a clean stop, 128+N after
/// signal N, 1 when start-up fails or a child dies.
pub fn run(smoke: bool, concurrency: usize, dist: &Path) -> Result<ExitCode> {
    // First of all: from here on a signal is ours to handle, not the end of us.
    let signals = Signals::install()?;
    children::bind_children_to_this_process();
    let scratch = Scratch::create()?;
    children::set_scratch_root(scratch.path().to_path_buf());
    let edge = match start_supervised(concurrency, dist, scratch.path(), Some(&signals)) {
        Ok(edge) => edge,
        Err(Interrupted::Signal(stop)) => {
            println!("{} during start-up: stopped", stop.name());
            return Ok(ExitCode::from(stop.exit_code()));
        }
        Err(Interrupted::Failed(e)) => return Err(e),
    };
    let token = crate::demo_idp::mint("alice", 3600)?;
    self_check(&edge.envoy, &token)?;
    if let Some(stop) = signals.pending() {
        println!("{} during start-up: stopping", stop.name());
        drop(edge);
        return Ok(ExitCode::from(stop.exit_code()));
    }
    print_banner(&edge, &token, scratch.path());
    if smoke {
        println!("smoke run: OK, stopping");
        return Ok(ExitCode::SUCCESS);
    }
    println!("running; Ctrl-C (or SIGTERM, SIGHUP) stops Envoy and the demo servers");
    supervise(edge, &signals)
}

/// Waits for a stop signal or a child's death, then stops everything.
fn supervise(mut edge: Edge, signals: &Signals) -> Result<ExitCode> {
    loop {
        if let Some(stop) = signals.wait(SUPERVISION_PERIOD) {
            println!("{}: stopping", stop.name());
            drop(edge);
            println!("stopped");
            return Ok(ExitCode::from(stop.exit_code()));
        }
        if let Some(status) = edge.envoy.exited() {
            eprintln!(
                "tollgate-demo: Envoy (pid {}) exited unexpectedly with {status}; stopping the demo servers\n{}",
                edge.envoy.pid(),
                edge.envoy.log_tail()
            );
            drop(edge);
            return Ok(ExitCode::FAILURE);
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every demo config goes through the control service and comes back resolved,
    /// signed and valid for Envoy.
    #[test]
    fn every_catalog_filter_has_a_demo_config_the_control_service_publishes() {
        let dir = std::env::temp_dir().join(format!("tollgate-demo-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let control = crate::control_plane::ControlPlane::start(&dir).unwrap();
        let published = control.publish(&super::catalog_configs().unwrap()).unwrap();
        assert_eq!(published.len(), tollgate_catalog::FILTERS.len());
        assert_eq!(super::CONFIGS.len(), tollgate_catalog::FILTERS.len());
        for (f, p) in tollgate_catalog::FILTERS.iter().zip(&published) {
            assert_eq!(f.name, p.filter);
            assert_eq!(p.revision, 1);
            f.check(p.config.as_bytes(), tollgate_kit::HostKind::Envoy)
                .unwrap();
            assert!(
                !p.config.contains("\"secret\":"),
                "{}: a reference left",
                f.name
            );
        }
        drop(control);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
