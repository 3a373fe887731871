//! APISIX by push, against a recorded Admin API exchange
//! (`tests/fixtures/apisix-admin-exchange.json`): the control service must send exactly
//! the recorded requests (method, path, key, body; each plugin's `conf` compared as
//! parsed JSON), and the fleet view must show what APISIX answered, its refusal
//! included. The follower pushes a new revision by itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::common::Harness;

const KEY: &str = "edd1c9f034335f136f87ad84b625c8f1";
const CONFIG: &str = "/v1/projects/edge/groups/prod/configs/rate-limit";

fn rate_limit(requests: u64) -> Value {
    json!({
        "rules": [{"name": "per-client", "key": [{"header": "x-client"}],
                   "limits": [{"requests": requests, "per": "1h"}]}],
        "local": {"max_keys": 1024, "workers": 2}
    })
}

/// Each plugin's `conf` parsed, so bodies compare as data, not as JSON text.
fn normalized(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(plugins) = body.get_mut("plugins").and_then(Value::as_object_mut) {
        for plugin in plugins.values_mut() {
            if let Some(conf) = plugin.get_mut("conf")
                && let Some(text) = conf.as_str()
            {
                *conf = serde_json::from_str(text).unwrap_or(Value::Null);
            }
        }
    }
    body
}

/// A fake Admin API replaying the recording; every mismatch is kept.
#[derive(Clone, Default)]
struct Replay {
    exchanges: Arc<Vec<Value>>,
    next: Arc<Mutex<usize>>,
    mismatches: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

async fn answer(
    State(replay): State<Replay>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    replay.bodies.lock().unwrap().push(body.clone());
    let i = {
        let mut next = replay.next.lock().unwrap();
        *next += 1;
        *next - 1
    };
    let Some(exchange) = replay.exchanges.get(i) else {
        replay
            .mismatches
            .lock()
            .unwrap()
            .push(format!("unexpected request {i}: {method} {uri}"));
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let want = &exchange["request"];
    let mut problems = Vec::new();
    // An empty recorded request takes anything (the follower's test).
    let checked = want.as_object().is_some_and(|o| !o.is_empty());
    if checked && want["method"] != method.as_str() {
        problems.push(format!("method {method}, recorded {}", want["method"]));
    }
    if checked && want["path"] != uri.path() {
        problems.push(format!("path {}, recorded {}", uri.path(), want["path"]));
    }
    for (name, value) in want["headers"].as_object().into_iter().flatten() {
        let got = headers.get(name.as_str()).and_then(|v| v.to_str().ok());
        if got != value.as_str() {
            problems.push(format!("header {name}: {got:?}, recorded {value}"));
        }
    }
    if checked && normalized(&body) != want["body"] {
        problems.push(format!(
            "body {:#}, recorded {:#}",
            normalized(&body),
            want["body"]
        ));
    }
    if !problems.is_empty() {
        replay
            .mismatches
            .lock()
            .unwrap()
            .push(format!("request {i}: {}", problems.join("; ")));
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let response = &exchange["response"];
    let status = StatusCode::from_u16(response["status"].as_u64().unwrap() as u16).unwrap();
    (status, axum::Json(response["body"].clone())).into_response()
}

async fn fake_admin(exchanges: Vec<Value>) -> (String, Replay) {
    let replay = Replay {
        exchanges: Arc::new(exchanges),
        ..Replay::default()
    };
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(replay.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, replay)
}

fn recording() -> Vec<Value> {
    let text = std::fs::read_to_string(
        crate::common::repo_root().join("control/tests/fixtures/apisix-admin-exchange.json"),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["exchanges"].as_array().unwrap().clone()
}

/// Project `edge`, APISIX group `prod`, the Admin API key as a secret.
async fn apisix_group(h: &Harness) {
    for (path, body) in [
        ("/v1/projects/edge", json!({"require_approval": false})),
        ("/v1/projects/edge/groups/prod", json!({"host": "apisix"})),
        (
            "/v1/projects/edge/secrets/apisix-admin",
            json!({"value": KEY}),
        ),
    ] {
        let r = h.put_json(path, &h.admin, None, &body).await;
        assert!(r.status.is_success(), "{path}: {:?}", r.json());
    }
}

async fn push(h: &Harness, requests: u64, if_match: Option<&str>) {
    let r = h
        .put_json(CONFIG, &h.admin, if_match, &rate_limit(requests))
        .await;
    assert!(r.status.is_success(), "{:?}", r.json());
}

async fn sync(h: &Harness) -> Value {
    let r = h
        .post_json(
            "/v1/projects/edge/groups/prod/apisix/sync",
            &h.admin,
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    r.json()
}

#[tokio::test]
async fn pushes_match_the_recorded_admin_api_exchange_and_refusals_reach_the_fleet_view() {
    let h = Harness::new().await;
    apisix_group(&h).await;
    let (url, replay) = fake_admin(recording()).await;
    let target = json!({"admin_url": url, "admin_key": {"secret": "apisix-admin"},
                        "attach": {"plugin_config": "tollgate-prod"}});
    let r = h
        .put_json(
            "/v1/projects/edge/groups/prod/apisix",
            &h.admin,
            None,
            &target,
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.json());

    push(&h, 100, None).await;
    assert_eq!(
        sync(&h).await,
        json!({"status": 201, "revisions": {"rate-limit": 1}})
    );
    push(&h, 200, Some("\"1\"")).await;
    assert_eq!(sync(&h).await["status"], 200);
    let view = h
        .get("/v1/projects/edge/groups/prod/status", &h.admin)
        .await
        .json();
    let gw = &view["gateways"][0];
    assert_eq!(
        gw["gateway"],
        format!("apisix@{}", url.trim_start_matches("http://"))
    );
    assert_eq!(gw["via"], "admin");
    assert_eq!(gw["filters"]["rate-limit"]["revision"], 2);
    assert_eq!(view["summary"]["up_to_date"], 1);

    // APISIX refuses revision 3: its reason is in the answer and the fleet view, and
    // the gateway still runs 2.
    push(&h, 300, Some("\"2\"")).await;
    let refused = sync(&h).await;
    assert_eq!(refused["status"], 400);
    assert_eq!(refused["error"], "unknown plugin [tollgate-rate-limit]");
    let view = h
        .get("/v1/projects/edge/groups/prod/status", &h.admin)
        .await
        .json();
    let filter = &view["gateways"][0]["filters"]["rate-limit"];
    assert_eq!(filter["revision"], 2);
    assert_eq!(filter["error"]["revision"], 3);
    assert_eq!(
        filter["error"]["detail"],
        "unknown plugin [tollgate-rate-limit]"
    );
    assert_eq!(view["summary"]["failed"], 1);

    assert_eq!(*replay.mismatches.lock().unwrap(), Vec::<String>::new());
    assert_eq!(
        *replay.next.lock().unwrap(),
        3,
        "every recorded exchange was made"
    );
    // The key went only to APISIX: not into the target, the view, or any answer.
    for text in [
        h.get("/v1/projects/edge/groups/prod/apisix", &h.admin)
            .await
            .body,
        serde_json::to_vec(&view).unwrap(),
        serde_json::to_vec(&refused).unwrap(),
    ] {
        assert!(!String::from_utf8_lossy(&text).contains(KEY));
    }
}

#[tokio::test]
async fn a_target_is_refused_without_a_secret_key_for_another_host_or_with_a_bad_url() {
    let h = Harness::new().await;
    apisix_group(&h).await;
    let path = "/v1/projects/edge/groups/prod/apisix";
    for (target, says) in [
        (
            json!({"admin_url": "http://127.0.0.1:9180", "admin_key": KEY, "attach": {"global_rule": "1"}}),
            "secret reference",
        ),
        (
            json!({"admin_url": "https://x:9180", "admin_key": {"secret": "apisix-admin"}, "attach": {"global_rule": "1"}}),
            "http://host:port",
        ),
        (
            json!({"admin_url": "http://127.0.0.1:9180", "admin_key": {"secret": "nope"}, "attach": {"global_rule": "1"}}),
            "nope",
        ),
        (
            json!({"admin_url": "http://127.0.0.1:9180", "admin_key": {"secret": "apisix-admin"}, "attach": {"route": "a/b"}}),
            "the id",
        ),
        (
            json!({"admin_url": "http://127.0.0.1:9180", "admin_key": {"secret": "apisix-admin"}, "attach": {"route": "1"}, "extra": 1}),
            "extra",
        ),
    ] {
        let r = h.put_json(path, &h.admin, None, &target).await;
        assert!(r.status.is_client_error(), "{target}: {:?}", r.json());
        assert!(
            r.body.windows(says.len()).any(|w| w == says.as_bytes()),
            "{target}: {:?}",
            r.json()
        );
        assert!(!String::from_utf8_lossy(&r.body).contains(KEY));
    }
    // An Envoy group has no Admin API push.
    let r = h
        .put_json(
            "/v1/projects/edge/groups/envoy-group",
            &h.admin,
            None,
            &json!({"host": "envoy"}),
        )
        .await;
    assert!(r.status.is_success());
    let target = json!({"admin_url": "http://127.0.0.1:9180", "admin_key": {"secret": "apisix-admin"}, "attach": {"global_rule": "1"}});
    let r = h
        .put_json(
            "/v1/projects/edge/groups/envoy-group/apisix",
            &h.admin,
            None,
            &target,
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.json());
}

#[tokio::test]
async fn the_follower_pushes_each_change_by_itself_as_a_global_rule() {
    let h = Harness::new().await;
    apisix_group(&h).await;
    // A permissive Admin API: it takes anything and keeps the bodies.
    let accept_all = (0..10)
        .map(|_| json!({"request": {}, "response": {"status": 200, "body": {}}}))
        .collect();
    let (url, replay) = fake_admin(accept_all).await;
    let target = json!({"admin_url": url, "admin_key": {"secret": "apisix-admin"},
                        "attach": {"global_rule": "tollgate"}});
    h.put_json(
        "/v1/projects/edge/groups/prod/apisix",
        &h.admin,
        None,
        &target,
    )
    .await;
    push(&h, 100, None).await;
    let follower = tokio::spawn(tollgate_control::apisix::follow(
        h.ctl.clone(),
        Duration::from_secs(30),
    ));
    let conf_of = |b: &Value| normalized(b)["plugins"]["tollgate-rate-limit"]["conf"].clone();
    let wait_for = |requests: u64| {
        let replay = replay.clone();
        async move {
            for _ in 0..100 {
                if replay.bodies.lock().unwrap().last().map(conf_of) == Some(rate_limit(requests)) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("revision with {requests} never reached APISIX");
        }
    };
    wait_for(100).await;
    push(&h, 200, Some("\"1\"")).await;
    wait_for(200).await;
    // An unchanged group is not pushed again.
    let pushes = replay.bodies.lock().unwrap().len();
    assert_eq!(pushes, 2);
    assert!(
        replay.bodies.lock().unwrap()[0].get("desc").is_none(),
        "global rules have no desc"
    );
    h.ctl.begin_shutdown();
    tokio::time::timeout(Duration::from_secs(5), follower)
        .await
        .expect("the follower stops with the service")
        .unwrap();
}
