//! Tier 3, distribution by push: real Envoy subscribes to the control service's ECDS
//! for rate-limit's config, fetches the module by digest from the control service,
//! and takes a new revision under a steady request load with no failed request; the
//! fleet view shows the node's ACK of each revision.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use tollgate_control::auth::{self, Grant, Role};
use tollgate_control::ecds::EcdsSettings;
use tollgate_control::modules::Modules;
use tollgate_control::store::SqliteStore;
use tollgate_control::vault::MasterKey;
use tollgate_control::{AppState, Control, Settings};
use tollgate_envoy_harness::{
    Discovery, Envoy, EnvoyConfig, HttpRequest, HttpResponse, Upstream, WasmFilter, send,
};
use tollgate_host_suite::wasm_path;

const CONFIG: &str = "/v1/projects/edge/groups/prod/configs/rate-limit";
const STATUS: &str = "/v1/projects/edge/groups/prod/status";

/// Budget `requests` per hour per client: far above what the test sends, so every
/// request is admitted and the revision shows in `RateLimit-Policy`.
fn config(requests: u64) -> Value {
    json!({
        "rules": [{"name": "per-client", "key": [{"header": "x-client"}],
                   "limits": [{"requests": requests, "per": "1h"}]}],
        "local": {"max_keys": 1024}
    })
}

/// The control service (HTTP and ECDS) in its own runtime over a SQLite file, stopped
/// on drop; [`ControlService::restart`] brings it back on the same ports and storage.
struct ControlService {
    runtime: Option<tokio::runtime::Runtime>,
    ctl: AppState,
    http: SocketAddr,
    ecds: SocketAddr,
    admin: String,
    gateway: String,
    master: String,
    dir: tempfile::TempDir,
}

impl ControlService {
    fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let master = MasterKey::generate_text();
        let any: SocketAddr = "127.0.0.1:0".parse()?;
        let (runtime, ctl, http, ecds) = Self::serve(dir.path(), &master, any, any)?;
        let mint = |subject: &str, role: Role, project: Option<&str>| {
            let (record, secret) = auth::mint(
                subject,
                vec![Grant {
                    role,
                    project: project.map(str::to_string),
                }],
                None,
                "test",
            );
            let ctl = ctl.clone();
            runtime.block_on(async move {
                tollgate_control::api::tokens::store_token(&ctl, &record, "test")
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))
            })?;
            anyhow::Ok(secret)
        };
        let admin = mint("admin", Role::Admin, None)?;
        let gateway = mint("gw", Role::Gateway, Some("edge"))?;
        let service = Self {
            runtime: Some(runtime),
            ctl,
            http,
            ecds,
            admin,
            gateway,
            master,
            dir,
        };
        service.call(
            "PUT",
            "/v1/projects/edge",
            None,
            &json!({"require_approval": false}),
        )?;
        service.call(
            "PUT",
            "/v1/projects/edge/groups/prod",
            None,
            &json!({"host": "envoy"}),
        )?;
        Ok(service)
    }

    /// Serves HTTP and ECDS at the given addresses over `dir`'s database.
    fn serve(
        dir: &std::path::Path,
        master: &str,
        http: SocketAddr,
        ecds: SocketAddr,
    ) -> Result<(tokio::runtime::Runtime, AppState, SocketAddr, SocketAddr)> {
        let dist = wasm_path("rate-limit")?
            .parent()
            .context("dist")?
            .to_path_buf();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let (http_listener, ecds_listener) = runtime.block_on(async {
            anyhow::Ok((
                tokio::net::TcpListener::bind(http).await?,
                tokio::net::TcpListener::bind(ecds).await?,
            ))
        })?;
        let http = http_listener.local_addr()?;
        let ecds = ecds_listener.local_addr()?;
        let settings = Settings {
            ecds: EcdsSettings {
                modules: Arc::new(Modules::load(&dist)?),
                module_base_url: format!("http://{http}"),
                module_cluster: "tollgate_control".into(),
                ..EcdsSettings::default()
            },
            ..Settings::default()
        };
        let master = MasterKey::parse(master).map_err(anyhow::Error::msg)?;
        let store = SqliteStore::open(&dir.join("control.db"))?;
        let ctl = Control::new(Arc::new(store), master, settings);
        runtime.spawn(tollgate_control::serve::serve(
            http_listener,
            ctl.clone(),
            std::future::pending(),
        ));
        runtime.spawn(tollgate_control::ecds::serve(ecds_listener, ctl.clone()));
        runtime.spawn(tollgate_control::rollout::controller::run(
            ctl.clone(),
            Duration::from_secs(1),
        ));
        Ok((runtime, ctl, http, ecds))
    }

    /// The service gone at once, as a crash or a network cut leaves it: every task and
    /// socket dropped.
    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// Back on the same ports and storage.
    fn restart(&mut self) -> Result<()> {
        self.kill();
        let (runtime, ctl, _, _) =
            Self::serve(self.dir.path(), &self.master, self.http, self.ecds)?;
        self.runtime = Some(runtime);
        self.ctl = ctl;
        Ok(())
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> Result<Value> {
        let mut request = HttpRequest::new(method, path)
            .header("authorization", &format!("Bearer {}", self.admin))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(m) = if_match {
            request = request.header("if-match", m);
        }
        if method == "GET" {
            request.body.clear();
        }
        let response = send(self.http, &request, Duration::from_secs(10))?;
        if !(200..300).contains(&response.status) {
            bail!(
                "{method} {path}: {} {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            );
        }
        Ok(serde_json::from_slice(&response.body)?)
    }

    fn push(&self, config: &Value, if_match: Option<&str>) -> Result<u64> {
        let v = self.call("PUT", CONFIG, if_match, config)?;
        v.pointer("/revision/number")
            .and_then(Value::as_u64)
            .context("the push's revision")
    }

    /// The fleet view once `done` holds (bounded: 30 s).
    fn status_when(&self, done: impl Fn(&Value) -> bool) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.call("GET", STATUS, None, &Value::Null)?;
            if done(&v) {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("the fleet view never got there: {v:#}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ControlService {
    fn drop(&mut self) {
        self.ctl.begin_shutdown();
        self.kill();
    }
}

fn envoy(control: &ControlService, upstream: &Upstream) -> Result<Envoy> {
    envoy_named(control, upstream, "gw-1", false)
}

/// An Envoy named `node`, streaming its stats to the control service when `metrics`.
fn envoy_named(
    control: &ControlService,
    upstream: &Upstream,
    node: &str,
    metrics: bool,
) -> Result<Envoy> {
    let filter = WasmFilter::new("rate-limit", &wasm_path("rate-limit")?).discovered(Discovery {
        resource: "edge/prod/rate-limit".into(),
        cluster: "tollgate_ecds".into(),
        token: control.gateway.clone(),
    });
    let mut config = EnvoyConfig::new(upstream.addr())
        .node(node, "edge-prod")
        .cluster("tollgate_ecds", control.ecds, true)
        .cluster("tollgate_control", control.http, false)
        .filter(filter)
        .concurrency(2);
    if metrics {
        config = config.metrics_sink("tollgate_ecds", &control.gateway);
    }
    Envoy::start(&config)
}

fn policy(response: &HttpResponse) -> String {
    response
        .header("ratelimit-policy")
        .unwrap_or("")
        .to_string()
}

/// Sends requests one after another until `stop` (bounded: 60 s), keeping every
/// status and the policy each carried.
fn load(envoy: &Envoy, stop: &AtomicBool) -> Vec<(u16, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let request = HttpRequest::get("/api/items").header("x-client", "load");
        match envoy.send(&request) {
            Ok(r) => seen.push((r.status, policy(&r))),
            Err(_) => seen.push((0, String::new())),
        }
    }
    seen
}

#[test]
fn envoy_takes_a_new_revision_by_ecds_under_load_with_no_failed_request() -> Result<()> {
    let control = ControlService::start()?;
    assert_eq!(control.push(&config(100_000), None)?, 1);
    let upstream = Upstream::start()?;
    // The listener warms until ECDS has delivered and the module is fetched: the very
    // first request already meets revision 1.
    let envoy = envoy(&control, &upstream)?;
    let first = envoy.send(&HttpRequest::get("/api/items").header("x-client", "first"))?;
    assert_eq!(first.status, 200, "{}", envoy.log_tail());
    assert!(policy(&first).contains("q=100000"), "{:?}", first.headers);
    let view = control
        .status_when(|v| v.pointer("/gateways/0/filters/rate-limit/revision") == Some(&json!(1)))?;
    assert_eq!(view.pointer("/gateways/0/gateway"), Some(&json!("gw-1")));
    assert_eq!(view.pointer("/gateways/0/connected"), Some(&json!(true)));

    let stop = AtomicBool::new(false);
    let seen = std::thread::scope(|s| -> Result<Vec<(u16, String)>> {
        let loader = s.spawn(|| load(&envoy, &stop));
        std::thread::sleep(Duration::from_millis(300));
        let pushed = control.push(&config(200_000), Some("\"1\""));
        // Bounded: the new policy shows within 30 s.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut switched = false;
        while pushed.is_ok() && Instant::now() < deadline {
            let r = envoy.send(&HttpRequest::get("/api/items").header("x-client", "probe"))?;
            if policy(&r).contains("q=200000") {
                switched = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        let seen = loader
            .join()
            .map_err(|_| anyhow::anyhow!("the load thread panicked"))?;
        assert_eq!(pushed?, 2);
        assert!(
            switched,
            "revision 2 never took effect:\n{}",
            envoy.log_tail()
        );
        Ok(seen)
    })?;
    let failed: Vec<_> = seen.iter().filter(|(s, _)| *s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}",
        failed.len(),
        seen.len()
    );
    assert!(seen.iter().any(|(_, p)| p.contains("q=100000")));
    assert!(
        seen.iter().any(|(_, p)| p.contains("q=200000")),
        "the load saw the swap"
    );
    eprintln!("ECDS swap under load: {} requests, all 200", seen.len());
    control.status_when(|v| {
        v.pointer("/gateways/0/filters/rate-limit/revision") == Some(&json!(2))
            && v.pointer("/summary/up_to_date") == Some(&json!(1))
    })?;
    Ok(())
}

#[test]
fn envoy_keeps_serving_while_the_control_service_is_down_and_catches_up() -> Result<()> {
    let mut control = ControlService::start()?;
    control.push(&config(100_000), None)?;
    let upstream = Upstream::start()?;
    let envoy = envoy(&control, &upstream)?;
    control
        .status_when(|v| v.pointer("/gateways/0/filters/rate-limit/revision") == Some(&json!(1)))?;

    control.kill();
    // Bounded: 50 requests while the service is gone, all served by revision 1.
    for _ in 0..50 {
        let r = envoy.send(&HttpRequest::get("/api/items").header("x-client", "down"))?;
        assert_eq!(r.status, 200, "{}", envoy.log_tail());
        assert!(policy(&r).contains("q=100000"));
    }

    control.restart()?;
    control.push(&config(200_000), Some("\"1\""))?;
    // Envoy reconnects with its own back-off and takes revision 2 (bounded: 60 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = envoy.send(&HttpRequest::get("/api/items").header("x-client", "back"))?;
        assert_eq!(r.status, 200);
        if policy(&r).contains("q=200000") {
            break;
        }
        if Instant::now() > deadline {
            bail!("Envoy never caught up:\n{}", envoy.log_tail());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    control
        .status_when(|v| v.pointer("/gateways/0/filters/rate-limit/revision") == Some(&json!(2)))?;
    Ok(())
}

/// The group's rollout of rate-limit once `done` holds (bounded: 60 s).
fn rollout_when(control: &ControlService, done: impl Fn(&Value) -> bool) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = control.call(
            "GET",
            "/v1/projects/edge/groups/prod/rollout",
            None,
            &Value::Null,
        )?;
        let filter = v
            .pointer("/filters/rate-limit")
            .cloned()
            .unwrap_or(Value::Null);
        if done(&filter) {
            return Ok(filter);
        }
        if Instant::now() > deadline {
            bail!("the rollout never got there: {v:#}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Requests to both gateways in turn until `stop` (bounded: 120 s): (gateway, status,
/// policy).
fn load_both(envoys: [&Envoy; 2], stop: &AtomicBool) -> Vec<(usize, u16, String)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        for (i, envoy) in envoys.iter().enumerate() {
            let request = HttpRequest::get("/api/items").header("x-client", "load");
            match envoy.send(&request) {
                Ok(r) => seen.push((i, r.status, policy(&r))),
                Err(_) => seen.push((i, 0, String::new())),
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    seen
}

fn first_policy(envoy: &Envoy, want: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = envoy.send(&HttpRequest::get("/api/items").header("x-client", "probe"))?;
        if policy(&r).contains(want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{want} never took effect:\n{}", envoy.log_tail());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_staged_rollout_rolls_back_a_canary_whose_errors_rise_and_promotes_a_healthy_one() -> Result<()>
{
    let control = ControlService::start()?;
    control.push(&config(100_000), None)?;
    control.call(
        "PUT",
        "/v1/projects/edge/groups/prod/rollout-policy",
        None,
        &json!({"canary": ["gw-canary"], "bake_seconds": 3, "max_error_rise": 0.2, "min_requests": 10}),
    )?;
    let upstream = Upstream::start()?;
    let canary = envoy_named(&control, &upstream, "gw-canary", true)?;
    let stable = envoy_named(&control, &upstream, "gw-stable", true)?;
    let stop = AtomicBool::new(false);
    let (seen, rolled_back, promoted) = std::thread::scope(|s| -> Result<_> {
        let loader = s.spawn(|| load_both([&canary, &stable], &stop));
        // The canary's error rate before: a few seconds of 200s.
        std::thread::sleep(Duration::from_secs(3));
        // Revision 2 admits one request an hour per client: on the canary nearly
        // everything is refused (429).
        let bad = config(1);
        let result = (|| -> Result<_> {
            control.push(&bad, Some("\"1\""))?;
            let rolled_back = rollout_when(&control, |f| {
                f.pointer("/history/0/outcome") == Some(&json!("rolled_back"))
            })?;
            // The rollback is revision 3, with revision 1's content: the canary is back.
            first_policy(&canary, "q=100000")?;
            control.push(&config(200_000), Some("\"3\""))?;
            first_policy(&canary, "q=200000")?;
            let promoted = rollout_when(&control, |f| {
                f.pointer("/history/0/outcome") == Some(&json!("promoted"))
            })?;
            first_policy(&stable, "q=200000")?;
            Ok((rolled_back, promoted))
        })();
        stop.store(true, Ordering::Relaxed);
        let seen = loader
            .join()
            .map_err(|_| anyhow::anyhow!("the load thread panicked"))?;
        let (rolled_back, promoted) = result?;
        Ok((seen, rolled_back, promoted))
    })?;

    let reason = rolled_back
        .pointer("/history/0/reason")
        .and_then(Value::as_str)
        .unwrap_or("");
    assert!(
        reason.starts_with("canary gw-canary: errors rose from"),
        "{rolled_back:#}"
    );
    assert_eq!(rolled_back.pointer("/history/0/revision"), Some(&json!(2)));
    assert_eq!(promoted.pointer("/history/0/revision"), Some(&json!(4)));
    assert_eq!(promoted.pointer("/promoted"), Some(&json!(4)));
    // Revision 3 is the rollback, by the rollout, with its reason.
    let revisions = control.call("GET", &format!("{CONFIG}/revisions"), None, &Value::Null)?;
    let third = revisions
        .pointer("/revisions")
        .and_then(Value::as_array)
        .and_then(|r| r.iter().find(|r| r.pointer("/number") == Some(&json!(3))))
        .cloned()
        .context("revision 3")?;
    assert_eq!(third.pointer("/rollback_of"), Some(&json!(1)));
    assert_eq!(third.pointer("/author"), Some(&json!("tollgate-rollout")));
    let audit = control.call("GET", "/v1/audit?limit=1000", None, &Value::Null)?;
    let actions: Vec<&str> = audit
        .pointer("/records")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.pointer("/action").and_then(Value::as_str))
        .collect();
    for action in [
        "rollout.policy",
        "rollout.start",
        "rollout.rollback",
        "rollout.promote",
    ] {
        assert!(actions.contains(&action), "{action} not in {actions:?}");
    }
    // The gateway outside the canary never ran revision 2 and never failed a request.
    let on_stable: Vec<_> = seen.iter().filter(|(i, _, _)| *i == 1).collect();
    assert!(
        on_stable.iter().all(|(_, status, _)| *status == 200),
        "{on_stable:?}"
    );
    assert!(
        !on_stable.iter().any(|(_, _, p)| p.contains("q=1;")),
        "the stable gateway saw revision 2"
    );
    // The canary did (that is what was measured).
    assert!(seen.iter().any(|(i, status, _)| *i == 0 && *status == 429));
    Ok(())
}
