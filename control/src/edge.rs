//! The main job: the demo upstream, then real Envoy with the filters in front of it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tollgate_envoy_harness::{
    Envoy, EnvoyConfig, HttpRequest, S3Server, Upstream, WasmFilter, repo_root,
};
use tollgate_hcp_demo::{HcpDemo, demo_users};

/// The filters the edge runs, in order, with their embedded default configs.
/// jwt-auth verifies tokens from the demo identity provider (see `demo_idp`);
/// `/conformance` and `/health` pass without one. hcp-auth turns the verified token's
/// credentials into HCP management auth (`/mapi/`) and S3 signatures (`/demo-bucket`).
pub const FILTERS: &[(&str, &str)] = &[
    (
        "jwt-auth",
        r#"{"providers": {"demo": {
              "issuer": "https://demo-idp.tollgate.local", "audiences": ["tollgate-demo"],
              "keys": {"remote": {"upstream": "idp", "path": "/.well-known/jwks.json",
                                  "cache_seconds": 300}},
              "from": [{"header": "authorization", "prefix": "Bearer "},
                       {"cookie": "tollgate_token"}],
              "claim_headers": [{"claim": "sub", "header": "x-user"}],
              "credential_claims": ["password"],
              "decryption": {"dir": {"key": "dG9sbGdhdGUtZGVtby1kaXIta2V5LW5vdC1zZWNyZXQ"}},
              "require_encryption": true}},
            "rules": [{"match": {"prefix": "/conformance"}},
                      {"match": {"prefix": "/health"}},
                      {"match": {"prefix": "/"}, "requires": {"provider": "demo"}}]}"#,
    ),
    (
        "hcp-auth",
        r#"{"hcp_domain": "hcp.demo",
            "trusted_payload_header": "x-tollgate-jwt-payload",
            "token_cookie": "tollgate_token",
            "routes": [{"match": {"prefix": "/mapi/"}, "mode": "management"},
                       {"match": {"prefix": "/demo-bucket"}, "mode": "s3"}],
            "default_mode": "passthrough"}"#,
    ),
    (
        "conformance",
        r#"{"callout_cluster":"upstream","grpc_cluster":"grpc","tick_ms":0}"#,
    ),
];

/// The demo deployment's HCP domain and S3 bucket.
pub const HCP_DOMAIN: &str = "hcp.demo";
pub const BUCKET: &str = "demo-bucket";

pub fn dist_dir(dist: Option<PathBuf>) -> PathBuf {
    dist.unwrap_or_else(|| repo_root().join("dist"))
}

/// Everything the main job runs; dropping it stops them all.
pub struct Edge {
    pub envoy: Envoy,
    pub upstream: Upstream,
    pub hcp: HcpDemo,
    pub s3: S3Server,
}

/// Starts the demo upstreams and Envoy with every filter in [`FILTERS`], configs
/// validated first.
pub fn start(concurrency: usize, dist: &std::path::Path) -> Result<Edge> {
    let upstream = Upstream::start().context("starting the demo upstream")?;
    upstream.route(crate::demo_idp::JWKS_PATH, 200, crate::demo_idp::JWKS);
    let hcp = HcpDemo::start(HCP_DOMAIN, demo_users()).context("starting the demo HCP")?;
    let alice = crate::demo_idp::demo_user()?;
    let s3 = S3Server::start(
        &tollgate_hcp_auth::mgmt::access_key(&alice.username),
        &tollgate_hcp_auth::mgmt::secret_key(&alice.password),
        &[BUCKET],
    )
    .context("starting s3s-fs (scripts/setup installs it)")?;
    let mut config = EnvoyConfig::new(upstream.addr())
        .cluster("grpc", upstream.addr(), true)
        .cluster("idp", upstream.addr(), false)
        .cluster("hcp", hcp.addr(), false)
        .cluster("s3", s3.addr(), false)
        .route("/mapi/", "hcp")
        .route(&format!("/{BUCKET}"), "s3")
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
    Ok(Edge {
        envoy,
        upstream,
        hcp,
        s3,
    })
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
    // The conformance filter marks what it saw.
    let probe = envoy.send(
        &HttpRequest::get("/conformance/headers")
            .header("x-conformance-id", "run-check")
            .header("x-probe", "hello"),
    )?;
    println!("self-check: GET /conformance/headers -> {}", probe.status);
    check(
        "the conformance filter",
        probe.status == 200 && probe.header("x-conformance") == Some("seen"),
        envoy,
    )?;
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
    Ok(())
}

pub fn run(smoke: bool, concurrency: usize, dist: Option<PathBuf>) -> Result<()> {
    let dist = dist_dir(dist);
    let edge = start(concurrency, &dist)?;
    let envoy = &edge.envoy;
    let url = format!("http://{}", envoy.addr());
    println!(
        "Tollgate edge on {url}  (Envoy admin http://{}; demo upstream {}, demo HCP {}, s3s-fs {})",
        envoy.admin_addr(),
        edge.upstream.addr(),
        edge.hcp.addr(),
        edge.s3.addr()
    );
    println!(
        "filters: {}",
        FILTERS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let token = crate::demo_idp::mint("alice", 3600)?;
    self_check(envoy, &token)?;
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
    if smoke {
        println!("smoke run: OK, stopping");
        return Ok(());
    }
    println!("running; Ctrl-C stops Envoy and the demo servers");
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
    drop(edge);
    std::thread::sleep(Duration::from_millis(50));
    Ok(())
}
