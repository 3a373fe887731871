//! Crash safety and secrets over a real socket: `kill -9` during a stream of concurrent
//! pushes loses no acknowledged revision and leaves the audit chain intact; SIGTERM
//! finishes in-flight writes; no log line ever holds a secret.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::service::Service;

/// Acknowledged revisions by document URL: (number, sha256).
type Acked = BTreeMap<String, Vec<(u64, String)>>;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn put(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    if_match: Option<u64>,
    body: &Value,
) -> Option<(u16, Value)> {
    let mut req = c.put(url).bearer_auth(token).json(body);
    if let Some(n) = if_match {
        req = req.header("if-match", format!("\"{n}\""));
    }
    let r = req.send().await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.unwrap_or(Value::Null)))
}

async fn setup(s: &Service) {
    let c = client();
    let (st, _) = put(
        &c,
        &format!("{}/v1/projects/hcp", s.url),
        &s.admin,
        None,
        &json!({}),
    )
    .await
    .unwrap();
    assert!(st == 201 || st == 200);
    put(
        &c,
        &format!("{}/v1/projects/hcp/groups/prod-eu", s.url),
        &s.admin,
        None,
        &json!({"host": "envoy"}),
    )
    .await
    .unwrap();
}

/// A JWKS set with one symmetric key whose value carries `n` (each push differs).
fn jwks(n: u64) -> Value {
    use base64::Engine as _;
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("key-material-{n:020}-padding-to-32b"));
    json!({"keys": [{"kty": "oct", "kid": format!("k{n}"), "alg": "HS256", "k": k}]})
}

/// Writers push revisions of their own JWKS set until stopped; every 201 is recorded.
async fn writers(
    s: &Service,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for w in 0..4 {
        let url = format!("{}/v1/projects/hcp/jwks/set-{w}", s.url);
        let token = s.admin.clone();
        let acked = acked.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let c = client();
            let mut last = None;
            for n in 0..100_000u64 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let Some((status, body)) = put(&c, &url, &token, last, &jwks(n * 10 + w)).await
                else {
                    break; // the service is gone
                };
                if status == 201 {
                    let rev = &body["revision"];
                    let number = rev["number"].as_u64().unwrap();
                    acked
                        .lock()
                        .unwrap()
                        .entry(url.clone())
                        .or_default()
                        .push((number, rev["sha256"].as_str().unwrap().to_string()));
                    last = Some(number);
                } else {
                    // 428/409: the set exists from an earlier round; continue from it.
                    let Ok(r) = c.get(&url).bearer_auth(&token).send().await else {
                        break;
                    };
                    last = r
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|v| v["revision"]["number"].as_u64());
                }
            }
        }));
    }
    tasks
}

/// The writers' URLs carry the old service's port: the same documents on `url`.
fn rehome(acked: Acked, url: &str) -> Acked {
    acked
        .into_iter()
        .map(|(old, revs)| {
            (
                format!(
                    "{url}/v1/projects/hcp/jwks/{}",
                    old.rsplit('/').next().unwrap()
                ),
                revs,
            )
        })
        .collect()
}

async fn check_acknowledged(s: &Service, acked: &Acked) -> usize {
    let c = client();
    let mut count = 0;
    for (url, revisions) in acked {
        let r: Value = c
            .get(format!("{url}/revisions"))
            .bearer_auth(&s.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let stored: BTreeMap<u64, String> = r["revisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["number"].as_u64().unwrap(),
                    r["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for (n, sha) in revisions {
            assert_eq!(
                stored.get(n),
                Some(sha),
                "{url} revision {n} was acknowledged but is gone"
            );
            count += 1;
        }
    }
    count
}

async fn audit_intact(s: &Service) -> Value {
    client()
        .get(format!("{}/v1/audit/verify", s.url))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_concurrent_pushes_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("control.db").display());
    let mut total = 0;
    for round in 0..3 {
        let mut s = Service::start(dir.path(), &storage, &[]);
        if round == 0 {
            setup(&s).await;
        }
        let acked = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let tasks = writers(&s, acked.clone(), stop.clone()).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        s.kill(); // SIGKILL, mid-stream
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        let s = Service::start(dir.path(), &storage, &[]);
        let acked = rehome(acked, &s.url);
        let n = check_acknowledged(&s, &acked).await;
        assert!(n > 4, "round {round}: only {n} pushes were acknowledged");
        total += n;
        let v = audit_intact(&s).await;
        assert_eq!(v["intact"], true, "round {round}: {v}");
    }
    eprintln!("{total} acknowledged revisions survived 3 kill -9s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_writes_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("control.db").display());
    let mut s = Service::start(dir.path(), &storage, &[]);
    setup(&s).await;
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks = writers(&s, acked.clone(), stop.clone()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let status = s.terminate();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    assert!(status.success(), "{status:?}");
    let acked = acked.lock().unwrap().clone();
    let s = Service::start(dir.path(), &storage, &[]);
    let acked = rehome(acked, &s.url);
    assert!(check_acknowledged(&s, &acked).await > 4);
    assert_eq!(audit_intact(&s).await["intact"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_or_response_holds_a_secret() {
    const SECRET: &str = "hunter2-but-much-longer-0f0f0f0f";
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("control.db").display());
    let mut s = Service::start(dir.path(), &storage, &[]);
    setup(&s).await;
    let c = client();
    let (st, body) = put(
        &c,
        &format!("{}/v1/projects/hcp/secrets/idp", s.url),
        &s.admin,
        None,
        &json!({"value": SECRET}),
    )
    .await
    .unwrap();
    assert_eq!(st, 201);
    assert!(!body.to_string().contains(SECRET));
    let mut config: Value = serde_json::from_slice(
        &std::fs::read(crate::common::repo_root().join("deploy/jwt-auth/config.json")).unwrap(),
    )
    .unwrap();
    config["providers"]["hcp"]["issuer"] = json!({"secret": "idp"});
    let cfg = format!("{}/v1/projects/hcp/groups/prod-eu/configs/jwt-auth", s.url);
    let (st, body) = put(&c, &cfg, &s.admin, None, &config).await.unwrap();
    assert_eq!(st, 201, "{body}");
    // A config the filter refuses, quoting the secret in its error.
    config["providers"]["hcp"]["max_lifetime_seconds"] = json!({"secret": "idp"});
    let (st, body) = put(&c, &cfg, &s.admin, Some(1), &config).await.unwrap();
    assert_eq!(st, 422);
    assert!(!body.to_string().contains(SECRET), "{body}");
    // A gateway reads it resolved (the one place it goes).
    let gw: Value = c
        .post(format!("{}/v1/tokens", s.url))
        .bearer_auth(&s.admin)
        .json(&json!({"subject": "gw", "grants": [{"role": "gateway", "project": "hcp"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resolved = c
        .get(format!("{cfg}/resolved"))
        .bearer_auth(gw["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(resolved.contains(SECRET));
    for path in [
        "/v1/audit?limit=1000",
        "/v1/projects/hcp/secrets",
        "/metrics",
        "/v1/openapi.json",
    ] {
        let text = c
            .get(format!("{}{path}", s.url))
            .bearer_auth(&s.admin)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains(SECRET), "{path}");
    }
    assert!(s.terminate().success());
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert!(log.lines().count() > 10, "debug logs were written: {log}");
    assert!(log.contains("request_id"), "log lines carry the request id");
    assert!(!log.contains(SECRET), "a log line holds the secret");
    // Nor the admin's token, nor the master key.
    assert!(!log.contains(&s.admin));
    let master = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    assert!(!log.contains(master.trim()));
    // And the database file never holds the plaintext.
    let db = std::fs::read(dir.path().join("control.db")).unwrap();
    let wal = std::fs::read(dir.path().join("control.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    }
}
