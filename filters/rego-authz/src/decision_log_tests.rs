use serde_json::json;

use super::*;
use crate::test_support::gunzip;

#[test]
fn events_have_opas_shape_and_masks_apply() {
    let q = Queue::new(
        2,
        2,
        BTreeMap::new(),
        vec![
            "/input/parsed_body/password".into(),
            "/result/secret".into(),
        ],
        "x-p",
    );
    let input = json!({"attributes": {"request": {"http": {"headers": {"authorization": "Bearer t", "cookie": "c", "x-p": "claims", "accept": "*/*"}}}},
                       "parsed_body": {"password": "pw", "user": "u"}});
    let e = q.event(Event {
        decision_id: decision_id(),
        path: "envoy/authz/allow",
        input,
        result: Some(json!({"allowed": true, "secret": "s"})),
        error: None,
        revision: Some("r7"),
        requested_by: Some("10.0.0.1:1"),
        timestamp: "2026-01-01T00:00:00Z".into(),
        eval_ns: 42,
    });
    let text = e.to_string();
    for secret in ["Bearer t", "\"c\"", "claims", "\"pw\"", "\"s\""] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(e["input"]["parsed_body"]["user"], "u");
    assert_eq!(e["bundles"]["tollgate"]["revision"], "r7");
    assert_eq!(e["metrics"]["timer_rego_query_eval_ns"], 42);
    assert_eq!(e["erased"].as_array().unwrap().len(), 5);
    assert_eq!(e["decision_id"].as_str().unwrap().len(), 36);
    assert_eq!(rule_path("data.envoy.authz.allow"), "envoy/authz/allow");
}

#[test]
fn the_queue_is_bounded_and_batches() {
    let mut q = Queue::new(3, 2, BTreeMap::new(), vec![], "x-p");
    let ev = || Event {
        decision_id: "d".into(),
        path: "p",
        input: json!({}),
        result: Some(json!(true)),
        error: None,
        revision: None,
        requested_by: None,
        timestamp: String::new(),
        eval_ns: 0,
    };
    assert!(q.push(ev()) && q.push(ev()) && q.push(ev()));
    assert!(!q.push(ev()));
    assert_eq!(q.dropped, 1);
    let (n, body) = q.take_batch(false).unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        serde_json::from_slice::<Vec<serde_json::Value>>(&body)
            .unwrap()
            .len(),
        2
    );
    let (n, gz) = q.take_batch(true).unwrap();
    assert_eq!(n, 1);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&gunzip(&gz)).unwrap();
    assert_eq!(events.len(), 1);
    assert!(q.take_batch(true).is_none());
    assert_ne!(decision_id(), decision_id());
}
