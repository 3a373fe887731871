//! Staged rollouts over ECDS, natively: canaries get a new revision first and the
//! others keep the promoted one; a canary's NACK rolls it back (a new revision with
//! the promoted content, in the audit log with the reason); a healthy bake promotes it.

use std::time::Duration;

use serde_json::{Value, json};
use tollgate_control::rollout::controller::step;

use crate::common::{Harness, jwt_config};
use crate::ecds::{ask_as, fleet, next, open_as, push, unpack};

const POLICY: &str = "/v1/projects/hcp/groups/prod-eu/rollout-policy";
const ROLLOUT: &str = "/v1/projects/hcp/groups/prod-eu/rollout";

fn config(forward: bool) -> Value {
    let mut c = jwt_config();
    c["providers"]["hcp"]["forward"] = json!(forward);
    c
}

async fn rollout(h: &Harness) -> Value {
    h.get(ROLLOUT, &h.admin).await.json()["filters"]["jwt-auth"].clone()
}

async fn step_now(h: &Harness) {
    let policy = tollgate_control::rollout::policy(&h.ctl, "hcp", "prod-eu")
        .await
        .unwrap()
        .unwrap();
    step(&h.ctl, &policy, ("hcp", "prod-eu", "jwt-auth"))
        .await
        .unwrap();
}

#[tokio::test]
async fn canaries_get_it_first_a_nack_rolls_it_back_and_a_healthy_bake_promotes_it() {
    let f = fleet().await;
    let h = &f.h;
    push(h, &config(false), None).await;
    let r = h
        .put_json(
            POLICY,
            &h.admin,
            None,
            &json!({"canary": ["canary-1"], "bake_seconds": 1}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    assert_eq!(rollout(h).await["promoted"], 1);

    let token = h.gateway("gw").await;
    let mut canary = open_as(&f.url, Some(&token), "canary-1").await.unwrap();
    let mut other = open_as(&f.url, Some(&token), "envoy-1").await.unwrap();
    for s in [&mut canary, &mut other] {
        let first = next(s).await.unwrap();
        assert_eq!(unpack(&first).0, config(false));
    }

    // Revision 2: baking on the canary only.
    push(h, &config(true), Some("\"1\"")).await;
    step_now(h).await;
    let state = rollout(h).await;
    assert_eq!(
        (state["phase"].clone(), state["candidate"].clone()),
        (json!("baking"), json!(2))
    );
    let second = next(&mut canary).await.unwrap();
    assert_eq!(unpack(&second).0, config(true));
    let nothing = tokio::time::timeout(Duration::from_millis(300), other.rx.message()).await;
    assert!(
        nothing.is_err(),
        "a gateway outside the canary got the candidate"
    );

    // The canary refuses it: rolled back to revision 1's content as revision 3.
    canary
        .tx
        .send(ask_as(
            "canary-1",
            &second.nonce,
            Some("Unable to create Wasm plugin jwt-auth"),
        ))
        .await
        .unwrap();
    let mut state = Value::Null;
    for _ in 0..100 {
        step_now(h).await;
        state = rollout(h).await;
        if state["phase"] == "idle" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state["history"][0]["outcome"], "rolled_back", "{state:#}");
    assert_eq!(
        state["history"][0]["reason"],
        "canary canary-1 refused revision 2: Unable to create Wasm plugin jwt-auth"
    );
    assert_eq!(state["promoted"], 3);
    let head = h
        .get("/v1/projects/hcp/groups/prod-eu/configs/jwt-auth", &h.admin)
        .await
        .json();
    assert_eq!(head["revision"]["number"], 3);
    assert_eq!(head["revision"]["rollback_of"], 1);
    assert_eq!(head["revision"]["author"], "tollgate-rollout");
    // Both get revision 3 (revision 1's content); the other never saw revision 2.
    for s in [&mut canary, &mut other] {
        assert_eq!(unpack(&next(s).await.unwrap()).0, config(false));
    }
    let audit = h.get("/v1/audit?limit=1000", &h.admin).await.json();
    let rollback = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "rollout.rollback")
        .expect("the rollback is audited")
        .clone();
    assert_eq!(rollback["actor"], "tollgate-rollout");
    assert_eq!(rollback["detail"]["rolled_back"], 2);
    assert!(
        rollback["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("refused revision 2")
    );

    // Revision 4, acknowledged by the canary, promoted after the bake time.
    push(h, &config(true), Some("\"3\"")).await;
    step_now(h).await;
    let fourth = next(&mut canary).await.unwrap();
    canary
        .tx
        .send(ask_as("canary-1", &fourth.nonce, None))
        .await
        .unwrap();
    for _ in 0..100 {
        step_now(h).await;
        state = rollout(h).await;
        if state["phase"] == "idle" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state["history"][0]["outcome"], "promoted", "{state:#}");
    assert_eq!(state["promoted"], 4);
    assert_eq!(unpack(&next(&mut other).await.unwrap()).0, config(true));
    let text = tollgate_control::cli::rollout_text(&h.get(ROLLOUT, &h.admin).await.json());
    assert!(text.contains("canary canary-1 · bake 1 s"), "{text}");
    assert!(
        text.contains("jwt-auth         promoted 4: revision 4 promoted to the group"),
        "{text}"
    );
}

#[tokio::test]
async fn a_policy_needs_canaries_and_a_sane_margin() {
    let h = Harness::new().await;
    h.project(false).await;
    for (body, says) in [
        (json!({"canary": []}), "canary"),
        (json!({"canary": ["a b"]}), "gateway id"),
        (
            json!({"canary": ["c"], "max_error_rise": 2.0}),
            "max_error_rise",
        ),
        (json!({"canary": ["c"], "bake": 5}), "bake"),
    ] {
        let r = h.put_json(POLICY, &h.admin, None, &body).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.json());
        assert!(
            String::from_utf8_lossy(&r.body).contains(says),
            "{body}: {:?}",
            r.json()
        );
    }
    let r = h.get(ROLLOUT, &h.admin).await.json();
    assert_eq!(r["policy"], Value::Null);
    assert!(tollgate_control::cli::rollout_text(&r).starts_with("no rollout policy"));
}

/// Counters streamed with a gateway token of one project count for that project only.
#[tokio::test]
async fn counters_from_another_projects_gateway_do_not_count() {
    use envoy_types::pb::envoy::config::core::v3::Node;
    use envoy_types::pb::envoy::service::metrics::v3::StreamMetricsMessage;
    use envoy_types::pb::envoy::service::metrics::v3::metrics_service_client::MetricsServiceClient;
    use envoy_types::pb::envoy::service::metrics::v3::stream_metrics_message::Identifier;
    use envoy_types::pb::io::prometheus::client::{Counter, Metric, MetricFamily};
    use tollgate_control::auth::{Grant, Role};

    let f = fleet().await;
    let h = &f.h;
    let family = |name: &str, value: f64| MetricFamily {
        name: Some(name.into()),
        metric: vec![Metric {
            counter: Some(Counter {
                value: Some(value),
                ..Counter::default()
            }),
            ..Metric::default()
        }],
        ..MetricFamily::default()
    };
    let send = |token: String, value: f64| {
        let url = f.url.clone();
        async move {
            let channel = tonic::transport::Channel::from_shared(url)
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut client = MetricsServiceClient::new(channel);
            let messages: Vec<StreamMetricsMessage> = [0.0, value]
                .iter()
                .map(|v| StreamMetricsMessage {
                    identifier: Some(Identifier {
                        node: Some(Node {
                            id: "canary-1".into(),
                            ..Node::default()
                        }),
                    }),
                    envoy_metrics: vec![
                        family("http.ingress.downstream_rq_completed", *v),
                        family("http.ingress.downstream_rq_5xx", *v),
                    ],
                })
                .collect();
            let mut request = tonic::Request::new(tokio_stream::iter(messages));
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            client.stream_metrics(request).await
        }
    };
    let other = h
        .token(
            "other",
            vec![Grant {
                role: Role::Gateway,
                project: Some("other".into()),
            }],
        )
        .await;
    send(other, 100.0).await.unwrap();
    let now = tollgate_control::ledger::now_unix() as f64;
    assert_eq!(
        h.ctl
            .signals
            .window("hcp", "canary-1", now - 60.0, now + 60.0),
        None
    );
    assert!(
        h.ctl
            .signals
            .window("other", "canary-1", now - 60.0, now + 60.0)
            .is_some()
    );
    // A viewer's token feeds nothing.
    let viewer = h
        .token(
            "viewer",
            vec![Grant {
                role: Role::Viewer,
                project: Some("hcp".into()),
            }],
        )
        .await;
    assert_eq!(
        send(viewer, 1.0).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
}
