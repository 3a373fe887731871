//! `bench-fleet`: a fleet of simulated Envoys on ECDS against the release
//! `tollgate-control` (its own process, so its CPU and memory are its own). Each
//! gateway is its own HTTP/2 connection and stream, answers every response with an
//! ACK as Envoy does, and notes when each revision reached it. A push then measures
//! how long the change takes to reach 99% and 100% of the fleet, and how long until
//! the fleet view shows them all acknowledged.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use envoy_types::pb::envoy::service::extension::v3::extension_config_discovery_service_client::ExtensionConfigDiscoveryServiceClient;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

const TYPE_URL: &str = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";
const RESOURCE: &str = "fleet/prod/rate-limit";

fn config(requests: u64) -> Value {
    json!({
        "rules": [{"name": "per-client", "key": [{"header": "x-client"}],
                   "limits": [{"requests": requests, "per": "1h"}]}]
    })
}

/// The control service as a child process, killed on drop.
struct Service {
    child: Child,
    http: String,
    ecds: String,
    admin: String,
    _dir: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    fn start(binary: &Path, dist: &Path) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("out");
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--ecds-listen", "127.0.0.1:0"])
            .arg("--storage")
            .arg(format!("sqlite:{}", dir.path().join("c.db").display()))
            .arg("--master-key-file")
            .arg(dir.path().join("master.key"))
            .arg("--init-master-key")
            .arg("--admin-token-file")
            .arg(dir.path().join("admin.token"))
            .arg("--modules")
            .arg(dist)
            .args(["--rate", "1000000"])
            .stdout(std::fs::File::create(&out)?)
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut http, mut ecds) = (None, None);
        while http.is_none() || ecds.is_none() {
            if Instant::now() > deadline || child.try_wait()?.is_some() {
                let _ = child.kill();
                bail!("tollgate-control did not start");
            }
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            http = text
                .lines()
                .find_map(|l| l.strip_prefix("listening on "))
                .map(str::to_string);
            ecds = text
                .lines()
                .find_map(|l| l.strip_prefix("ecds on "))
                .map(str::to_string);
            std::thread::sleep(Duration::from_millis(50));
        }
        let admin = std::fs::read_to_string(dir.path().join("admin.token"))?
            .trim()
            .to_string();
        Ok(Self {
            child,
            http: format!("http://{}", http.unwrap_or_default()),
            ecds: format!("http://{}", ecds.unwrap_or_default()),
            admin,
            _dir: dir,
        })
    }

    /// CPU seconds (user + system) the service has used so far, and its memory now
    /// and at its peak (KiB), from /proc.
    fn usage(&self) -> Result<(f64, u64, u64)> {
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |i: usize| -> f64 {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 (1-based), 11 and 12 after the name.
        let cpu = (ticks(11) + ticks(12)) / 100.0;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib = |key: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        Ok((cpu, kib("VmRSS:"), kib("VmHWM:")))
    }
}

async fn api(
    http: &reqwest::Client,
    service: &Service,
    method: reqwest::Method,
    path: &str,
    if_match: Option<&str>,
    body: Option<&Value>,
) -> Result<Value> {
    let mut request = http
        .request(method, format!("{}{path}", service.http))
        .bearer_auth(&service.admin);
    if let Some(m) = if_match {
        request = request.header("if-match", m);
    }
    if let Some(b) = body {
        request = request.json(b);
    }
    let response = request.send().await?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{path}: {status} {value}");
    }
    Ok(value)
}

/// When each gateway received each version (by version string).
type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

/// One simulated Envoy: connect, subscribe, ACK every response, note its arrival.
async fn gateway(ecds: String, token: String, id: usize, arrivals: Arrivals) -> Result<()> {
    let channel = tonic::transport::Channel::from_shared(ecds)?
        .connect()
        .await?;
    let mut client = ExtensionConfigDiscoveryServiceClient::new(channel);
    let (tx, rx) = mpsc::channel(4);
    let ask = |nonce: String, version: String| DiscoveryRequest {
        node: Some(Node {
            id: format!("sim-{id:04}"),
            cluster: "fleet".into(),
            ..Node::default()
        }),
        resource_names: vec![RESOURCE.into()],
        type_url: TYPE_URL.into(),
        response_nonce: nonce,
        version_info: version,
        ..DiscoveryRequest::default()
    };
    tx.send(ask(String::new(), String::new())).await?;
    let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let mut responses = client.stream_extension_configs(request).await?.into_inner();
    // Bounded by the stream: it ends when the service or the benchmark stops.
    while let Some(response) = responses.message().await? {
        arrivals
            .lock()
            .await
            .push((response.version_info.clone(), Instant::now()));
        tx.send(ask(response.nonce, response.version_info)).await?;
    }
    Ok(())
}

/// Polls the fleet view until `want` gateways run `revision` (bounded: 120 s).
async fn acknowledged(
    http: &reqwest::Client,
    service: &Service,
    revision: u64,
    want: usize,
) -> Result<Vec<(usize, Instant)>> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        let view = api(
            http,
            service,
            reqwest::Method::GET,
            "/v1/projects/fleet/groups/prod/status",
            None,
            None,
        )
        .await?;
        let on = view
            .pointer("/gateways")
            .and_then(Value::as_array)
            .map(|g| {
                g.iter()
                    .filter(|g| {
                        g.pointer("/filters/rate-limit/revision")
                            .and_then(Value::as_u64)
                            == Some(revision)
                    })
                    .count()
            })
            .unwrap_or(0);
        if seen.last().is_none_or(|(n, _)| *n != on) {
            seen.push((on, Instant::now()));
        }
        if on >= want {
            return Ok(seen);
        }
        if Instant::now() > deadline {
            bail!("only {on} of {want} gateways acknowledged revision {revision}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The time from `start` until `share` of `want` arrivals of `version`.
fn reach(
    arrivals: &[(String, Instant)],
    version: &str,
    start: Instant,
    want: usize,
    share: f64,
) -> Option<Duration> {
    let mut times: Vec<Duration> = arrivals
        .iter()
        .filter(|(v, _)| v == version)
        .map(|(_, t)| t.saturating_duration_since(start))
        .collect();
    times.sort();
    let need = ((want as f64) * share).ceil() as usize;
    times.get(need.checked_sub(1)?).copied()
}

/// First time the fleet view showed at least `share` of `want`.
fn shown(seen: &[(usize, Instant)], start: Instant, want: usize, share: f64) -> Option<Duration> {
    let need = ((want as f64) * share).ceil() as usize;
    seen.iter()
        .find(|(n, _)| *n >= need)
        .map(|(_, t)| t.saturating_duration_since(start))
}

pub fn run(gateways: usize, binary: &Path, dist: &Path) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(simulate(gateways, binary, dist))
}

async fn simulate(n: usize, binary: &Path, dist: &Path) -> Result<()> {
    let service = Service::start(binary, dist)?;
    let http = reqwest::Client::new();
    let put = reqwest::Method::PUT;
    api(
        &http,
        &service,
        put.clone(),
        "/v1/projects/fleet",
        None,
        Some(&json!({})),
    )
    .await?;
    api(
        &http,
        &service,
        put.clone(),
        "/v1/projects/fleet/groups/prod",
        None,
        Some(&json!({"host": "envoy"})),
    )
    .await?;
    let path = "/v1/projects/fleet/groups/prod/configs/rate-limit";
    api(
        &http,
        &service,
        put.clone(),
        path,
        None,
        Some(&config(1000)),
    )
    .await?;
    let token = api(
        &http,
        &service,
        reqwest::Method::POST,
        "/v1/tokens",
        None,
        Some(&json!({"subject": "fleet", "grants": [{"role": "gateway", "project": "fleet"}]})),
    )
    .await?
    .pointer("/token")
    .and_then(Value::as_str)
    .context("a gateway token")?
    .to_string();
    let (cpu_idle, rss_idle, _) = service.usage()?;

    let arrivals: Arrivals = Arc::default();
    let connect = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..n {
        tasks.spawn(gateway(
            service.ecds.clone(),
            token.clone(),
            id,
            arrivals.clone(),
        ));
    }
    let first = acknowledged(&http, &service, 1, n).await?;
    let connected_in = first
        .last()
        .map(|(_, t)| t.saturating_duration_since(connect));
    let (cpu_connected, rss_connected, _) = service.usage()?;

    // The change.
    let pushed_at = Instant::now();
    api(
        &http,
        &service,
        put,
        path,
        Some("\"1\""),
        Some(&config(2000)),
    )
    .await?;
    let pushed = pushed_at.elapsed();
    let seen = acknowledged(&http, &service, 2, n).await?;
    let (cpu_after, rss_after, peak) = service.usage()?;
    let arrivals = arrivals.lock().await.clone();
    let version = arrivals
        .iter()
        .rev()
        .find(|(_, t)| *t >= pushed_at)
        .map(|(v, _)| v.clone())
        .context("no gateway received the change")?;
    let ms = |d: Option<Duration>| {
        d.map_or_else(
            || "-".into(),
            |d| format!("{:.0} ms", d.as_secs_f64() * 1000.0),
        )
    };
    println!("## {n} gateways on ECDS (one HTTP/2 connection and stream each)\n");
    println!("| measure | value |\n|---|---|");
    println!(
        "| all connected, configured and acknowledged (fleet view) | {} |",
        ms(connected_in)
    );
    println!(
        "| the push (PUT, validated, stored) | {} |",
        ms(Some(pushed))
    );
    println!(
        "| change received by 50% | {} |",
        ms(reach(&arrivals, &version, pushed_at, n, 0.5))
    );
    println!(
        "| change received by 99% | {} |",
        ms(reach(&arrivals, &version, pushed_at, n, 0.99))
    );
    println!(
        "| change received by 100% | {} |",
        ms(reach(&arrivals, &version, pushed_at, n, 1.0))
    );
    println!(
        "| fleet view shows 99% acknowledged | {} |",
        ms(shown(&seen, pushed_at, n, 0.99))
    );
    println!(
        "| fleet view shows 100% acknowledged | {} |",
        ms(shown(&seen, pushed_at, n, 1.0))
    );
    println!(
        "| control service CPU: connecting and first ACKs / the change | {:.2} s / {:.2} s |",
        cpu_connected - cpu_idle,
        cpu_after - cpu_connected
    );
    println!(
        "| control service memory: idle / {n} streams / after the change (peak) | {:.1} / {:.1} / {:.1} ({:.1}) MiB |",
        rss_idle as f64 / 1024.0,
        rss_connected as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    tasks.abort_all();
    Ok(())
}
