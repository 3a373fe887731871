//! `tollgate-ratelimit`: the binary from a limits file (gRPC and JSON answers, a changed
//! file applied, a bad one refused with the old limits kept, SIGTERM), and the limits
//! pulled from the control service (signed, re-read when the config changes).

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, rate_limit_response::Code};
use serde_json::{Value, json};
use tollgate_control::ratelimit::server::{Options, start};
use tollgate_control::ratelimit::source::Source;

use crate::common::Harness;

fn limits(requests: u64) -> Value {
    json!({"global": {"service": "rls", "domain": "edge"},
           "rules": [{"name": "per-user", "global": true, "key": [{"claim": "sub"}],
                      "limits": [{"requests": requests, "per": "1h"}]}]})
}

fn ask(key: &str) -> Value {
    json!({"domain": "edge", "descriptors": [{"entries": [
        {"key": "tollgate_rule", "value": "per-user"}, {"key": "tollgate_key", "value": key}]}]})
}

struct Binary {
    child: Child,
    grpc: SocketAddr,
    http: SocketAddr,
}

impl Binary {
    fn start(file: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate-ratelimit"))
            .args([
                "--grpc-listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
                "--reload-seconds",
                "1",
            ])
            .arg("--limits")
            .arg(file)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(file.with_extension("log")).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addr = |prefix: &str| -> SocketAddr {
            let line = lines
                .next()
                .expect("the service printed its addresses")
                .unwrap();
            line.strip_prefix(prefix).unwrap().parse().unwrap()
        };
        let grpc = addr("grpc ");
        let http = addr("http ");
        Self { child, grpc, http }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(http: SocketAddr, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("http://{http}/json"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn metric(http: SocketAddr, line: &str) -> bool {
    let text = reqwest::get(format!("http://{http}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines().any(|l| l == line)
}

/// Polls `check` for up to 10 s.
async fn eventually(mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_binary_serves_a_limits_file_and_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rate-limit.json");
    std::fs::write(&file, limits(2).to_string()).unwrap();
    let mut rls = Binary::start(&file);

    assert_eq!(
        reqwest::get(format!("http://{}/healthz", rls.http))
            .await
            .unwrap()
            .status(),
        200
    );
    let (s, first) = post(rls.http, &ask("alice")).await;
    assert_eq!((s, first["overallCode"].as_str()), (200, Some("OK")));
    assert_eq!(first["statuses"][0]["limitRemaining"], 1);
    assert_eq!(first["statuses"][0]["currentLimit"]["unit"], "HOUR");

    // gRPC, the same counters.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", rls.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = RateLimitServiceClient::new(channel);
    let grpc_ask = RateLimitRequest {
        domain: "edge".into(),
        descriptors: vec![RateLimitDescriptor {
            entries: vec![
                Entry {
                    key: "tollgate_rule".into(),
                    value: "per-user".into(),
                },
                Entry {
                    key: "tollgate_key".into(),
                    value: "alice".into(),
                },
            ],
            ..Default::default()
        }],
        hits_addend: 1,
    };
    let r = client
        .should_rate_limit(grpc_ask.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.overall_code, Code::Ok as i32);
    let r = client
        .should_rate_limit(grpc_ask)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.overall_code, Code::OverLimit as i32);
    let (s, over) = post(rls.http, &ask("alice")).await;
    assert_eq!((s, over["overallCode"].as_str()), (429, Some("OVER_LIMIT")));

    // Bad requests are refused with what is wrong.
    let (s, e) = post(
        rls.http,
        &json!({"domain": "edge", "descriptors": [{"entries": [{"key": 1}]}]}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("descriptors[0].entries[0].key"),
        "{e}"
    );

    // A bigger limit in the file is applied; alice's counter is kept under the new one.
    std::fs::write(&file, limits(5).to_string()).unwrap();
    let http = rls.http;
    eventually(async || post(http, &ask("alice")).await.0 == 200).await;
    // A broken file is refused and the limits stay.
    std::fs::write(&file, r#"{"rules": "#).unwrap();
    eventually(async || {
        metric(
            http,
            "tollgate_ratelimit_reloads_total{result=\"failed\"} 1",
        )
        .await
    })
    .await;
    assert_eq!(post(http, &ask("bob")).await.0, 200);

    let status = rls.terminate();
    let log = std::fs::read_to_string(file.with_extension("log")).unwrap_or_default();
    assert!(status.success(), "{status}: {log}");
}

#[test]
fn the_binary_refuses_to_start_without_limits() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("local.json");
    std::fs::write(
        &file,
        r#"{"rules": [{"name": "r", "limits": [{"requests": 1, "per": "1s"}]}]}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate-ratelimit"))
        .args([
            "--grpc-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--limits",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no rate-limit service"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate-ratelimit"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--limits FILE or --control URL"));
}

#[tokio::test]
async fn limits_come_from_the_control_service() {
    let h = Harness::new().await;
    h.project(false).await;
    let path = "/v1/projects/hcp/groups/prod-eu/configs/rate-limit";
    let r = h.put_json(path, &h.admin, None, &limits(1)).await;
    assert!(r.status.is_success(), "{:?}", r.json());
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = h.app.clone();
    let served = tokio::spawn(async move { axum::serve(listener, app).await });
    let gateway = h.gateway("rls").await;

    let running = start(Options {
        grpc_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        source: Source::Control {
            url: url.clone(),
            project: "hcp".into(),
            group: "prod-eu".into(),
            token: gateway.clone(),
            gateway: Some("rls-1".into()),
        },
        redis: None,
        max_counters: 1000,
        reload: Duration::from_millis(200),
    })
    .await
    .unwrap();
    let http = running.http;
    assert_eq!(post(http, &ask("a")).await.0, 200);
    assert_eq!(post(http, &ask("a")).await.0, 429);

    // A new revision with a bigger budget reaches the service.
    let r = h.put_json(path, &h.admin, Some(&etag), &limits(3)).await;
    assert!(r.status.is_success(), "{:?}", r.json());
    eventually(async || post(http, &ask("a")).await.0 == 200).await;
    // It reports what it runs: the group's fleet view shows it on revision 2.
    eventually(async || {
        let v = h
            .get("/v1/projects/hcp/groups/prod-eu/status", &h.admin)
            .await
            .json();
        v["gateways"][0]["gateway"] == "rls-1"
            && v["gateways"][0]["via"] == "pull"
            && v["gateways"][0]["filters"]["rate-limit"]["revision"] == 2
    })
    .await;
    running.stop().await.unwrap();

    // Not a gateway token: nothing to start from.
    let refused = start(Options {
        grpc_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        source: Source::Control {
            url,
            project: "hcp".into(),
            group: "prod-eu".into(),
            token: "tgt_nope".into(),
            gateway: None,
        },
        redis: None,
        max_counters: 1000,
        reload: Duration::from_secs(1),
    })
    .await;
    assert!(refused.err().unwrap().contains("401"));
    served.abort();
}

#[tokio::test]
async fn the_control_service_validates_rate_limit_configs_for_the_group_host() {
    let h = Harness::new().await;
    h.project(false).await;
    let r = h
        .put_json(
            "/v1/projects/hcp/groups/edge-apisix",
            &h.admin,
            None,
            &json!({"host": "apisix"}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.json());
    let config = json!({"rules": [{"name": "r", "limits": [{"requests": 1, "per": "1s"}]}]});
    // Fine for Envoy (shared data); refused for APISIX, naming the field.
    let ok = h
        .put_json(
            "/v1/projects/hcp/groups/prod-eu/configs/rate-limit",
            &h.admin,
            None,
            &config,
        )
        .await;
    assert!(ok.status.is_success(), "{:?}", ok.json());
    let refused = h
        .put_json(
            "/v1/projects/hcp/groups/edge-apisix/configs/rate-limit",
            &h.admin,
            None,
            &config,
        )
        .await;
    assert_eq!(refused.status, 422, "{:?}", refused.json());
    let body = refused.json().to_string();
    assert!(body.contains("local.workers"), "{body}");
}
