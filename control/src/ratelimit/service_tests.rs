use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;

use super::*;
use crate::ratelimit::limits::from_config;

const CONFIG: &str = r#"{"global": {"service": "rls", "domain": "edge"},
  "rules": [{"name": "per-user", "global": true, "key": [{"claim": "sub"}],
             "limits": [{"requests": 2, "per": "1m"}, {"requests": 5, "per": "1h"}]}]}"#;

fn request(set: &str, key: &str) -> RateLimitRequest {
    RateLimitRequest {
        domain: "edge".into(),
        descriptors: vec![RateLimitDescriptor {
            entries: vec![
                Entry {
                    key: "tollgate_rule".into(),
                    value: set.into(),
                },
                Entry {
                    key: "tollgate_key".into(),
                    value: key.into(),
                },
            ],
            ..Default::default()
        }],
        hits_addend: 0,
    }
}

async fn rls() -> Rls {
    let counters = Counters::memory(1000);
    counters
        .configure(from_config(CONFIG.as_bytes()).unwrap().limits)
        .await
        .unwrap();
    Rls {
        counters,
        stats: Stats::default(),
    }
}

#[tokio::test]
async fn each_bucket_gets_its_budget_and_the_tightest_limit_reports() {
    let rls = rls().await;
    let first = rls
        .should_rate_limit(&request("per-user", "a"))
        .await
        .unwrap();
    assert_eq!(first.overall_code, Code::Ok as i32);
    let s = &first.statuses[0];
    let limit = s.current_limit.as_ref().unwrap();
    assert_eq!(
        (limit.requests_per_unit, limit.unit, s.limit_remaining),
        (2, Unit::Minute as i32, 1)
    );
    assert_eq!(limit.name, "per-user-1m");
    assert!(s.duration_until_reset.as_ref().unwrap().seconds <= 60);
    rls.should_rate_limit(&request("per-user", "a"))
        .await
        .unwrap();
    let over = rls
        .should_rate_limit(&request("per-user", "a"))
        .await
        .unwrap();
    assert_eq!(over.overall_code, Code::OverLimit as i32);
    assert_eq!(over.statuses[0].code, Code::OverLimit as i32);
    assert_eq!(over.statuses[0].limit_remaining, 0);
    // Another bucket, an unknown set or domain: their own budget, or none at all.
    assert_eq!(
        rls.should_rate_limit(&request("per-user", "b"))
            .await
            .unwrap()
            .overall_code,
        Code::Ok as i32
    );
    let unknown = rls
        .should_rate_limit(&request("nobody", "a"))
        .await
        .unwrap();
    assert_eq!(unknown.overall_code, Code::Ok as i32);
    assert!(unknown.statuses[0].current_limit.is_none());
    let mut other_domain = request("per-user", "a");
    other_domain.domain = "elsewhere".into();
    assert_eq!(
        rls.should_rate_limit(&other_domain)
            .await
            .unwrap()
            .overall_code,
        Code::Ok as i32
    );
    assert_eq!(rls.stats.over_limit.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn reloading_keeps_the_counters_of_limits_that_stay() {
    let rls = rls().await;
    rls.should_rate_limit(&request("per-user", "a"))
        .await
        .unwrap();
    rls.should_rate_limit(&request("per-user", "a"))
        .await
        .unwrap();
    rls.counters
        .configure(from_config(CONFIG.as_bytes()).unwrap().limits)
        .await
        .unwrap();
    let over = rls
        .should_rate_limit(&request("per-user", "a"))
        .await
        .unwrap();
    assert_eq!(over.overall_code, Code::OverLimit as i32);
}

#[test]
fn windows_name_their_units() {
    assert_eq!(unit(1), Unit::Second);
    assert_eq!(unit(60), Unit::Minute);
    assert_eq!(unit(3600), Unit::Hour);
    assert_eq!(unit(86_400), Unit::Day);
    assert_eq!(unit(604_800), Unit::Week);
    assert_eq!(unit(900), Unit::Unknown);
}
