//! Our hand-declared messages against envoy-types' generated ones, both ways, and the
//! JSON mapping of the services' HTTP endpoint.

use envoy_types::pb::envoy::service::ratelimit::v3 as pb;
use prost::Message as _;

use super::*;

fn asks() -> Vec<Ask> {
    vec![
        Ask {
            set: "per-user".into(),
            key: "ab12".into(),
        },
        Ask {
            set: "per-user#0".into(),
            key: "cd34".into(),
        },
    ]
}

#[test]
fn the_request_is_envoys() {
    let bytes = encode("edge", &asks());
    let theirs = pb::RateLimitRequest::decode(bytes.as_slice()).unwrap();
    assert_eq!(theirs.domain, "edge");
    assert_eq!(theirs.hits_addend, 1);
    assert_eq!(theirs.descriptors.len(), 2);
    let entries: Vec<(String, String)> = theirs.descriptors[1]
        .entries
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    assert_eq!(
        entries,
        [
            ("tollgate_rule".to_string(), "per-user#0".to_string()),
            ("tollgate_key".to_string(), "cd34".to_string())
        ]
    );
}

#[test]
fn envoys_answer_is_read() {
    use pb::rate_limit_response::{Code, DescriptorStatus, RateLimit};
    let theirs = pb::RateLimitResponse {
        overall_code: Code::OverLimit as i32,
        statuses: vec![
            DescriptorStatus {
                code: Code::Ok as i32,
                current_limit: Some(RateLimit {
                    requests_per_unit: 10,
                    unit: 1,
                    name: "a".into(),
                }),
                limit_remaining: 7,
                duration_until_reset: Some(envoy_types::pb::google::protobuf::Duration {
                    seconds: 1,
                    nanos: 500,
                }),
                quota: None,
            },
            DescriptorStatus {
                code: Code::OverLimit as i32,
                current_limit: Some(RateLimit {
                    requests_per_unit: 5,
                    unit: 3,
                    name: String::new(),
                }),
                limit_remaining: 0,
                duration_until_reset: Some(envoy_types::pb::google::protobuf::Duration {
                    seconds: 42,
                    nanos: 0,
                }),
                quota: None,
            },
        ],
        ..Default::default()
    };
    let reply = decode(&theirs.encode_to_vec(), 2).unwrap();
    assert!(reply.over);
    assert_eq!(
        reply.answers,
        [
            Answer {
                over: false,
                limit: Some(10),
                remaining: Some(7),
                reset: Some(1_000_000_500)
            },
            Answer {
                over: true,
                limit: Some(5),
                remaining: Some(0),
                reset: Some(42_000_000_000)
            },
        ]
    );
    let ok = pb::RateLimitResponse {
        overall_code: Code::Ok as i32,
        ..Default::default()
    };
    let reply = decode(&ok.encode_to_vec(), 1).unwrap();
    assert!(!reply.over);
    assert_eq!(
        reply.answers,
        [Answer {
            over: false,
            limit: None,
            remaining: None,
            reset: None
        }]
    );
    let unknown = pb::RateLimitResponse::default();
    assert!(decode(&unknown.encode_to_vec(), 1).is_err());
    assert!(decode(b"\xff\xff\xff", 1).is_err());
}

#[test]
fn the_json_endpoint() {
    let req: serde_json::Value = serde_json::from_slice(&encode_json("edge", &asks())).unwrap();
    assert_eq!(req["domain"], "edge");
    assert_eq!(req["hitsAddend"], 1);
    assert_eq!(req["descriptors"][0]["entries"][0]["key"], "tollgate_rule");
    assert_eq!(req["descriptors"][0]["entries"][1]["value"], "ab12");
    let answer = br#"{"overallCode":"OVER_LIMIT","statuses":[
        {"code":"OK","currentLimit":{"requestsPerUnit":10,"unit":"SECOND"},"limitRemaining":3,"durationUntilReset":"0.250s"},
        {"code":"OVER_LIMIT","currentLimit":{"requestsPerUnit":5,"unit":"HOUR"},"durationUntilReset":"39s"}]}"#;
    let reply = decode_json(answer, 2).unwrap();
    assert!(reply.over);
    assert_eq!(
        reply.answers,
        [
            Answer {
                over: false,
                limit: Some(10),
                remaining: Some(3),
                reset: Some(250_000_000)
            },
            Answer {
                over: true,
                limit: Some(5),
                remaining: Some(0),
                reset: Some(39_000_000_000)
            },
        ]
    );
    assert!(!decode_json(br#"{"overallCode":"OK"}"#, 0).unwrap().over);
    // Numeric codes, as some JSON encoders write enums.
    let numeric = decode_json(br#"{"overallCode":2,"statuses":[{"code":2}]}"#, 1).unwrap();
    assert!(numeric.over && numeric.answers[0].over);
    assert!(!decode_json(br#"{"overallCode":1}"#, 0).unwrap().over);
    assert!(decode_json(br#"{"overallCode":"UNKNOWN"}"#, 0).is_err());
    assert!(decode_json(b"<html>", 0).is_err());
    assert_eq!(
        json_duration(Some(&serde_json::json!("1.5s"))),
        Some(1_500_000_000)
    );
    assert_eq!(json_duration(Some(&serde_json::json!("1.5"))), None);
    assert_eq!(json_duration(Some(&serde_json::json!("x.5s"))), None);
    assert_eq!(json_duration(Some(&serde_json::json!("1.abcs"))), None);
}
