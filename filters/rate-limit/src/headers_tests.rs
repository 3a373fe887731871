use super::*;
use crate::gcra::Gcra;

fn report(remaining: u64, reset: u64) -> Report {
    Report {
        policy: "per-user".into(),
        gcra: Gcra::new(100, 60 * SECOND, 100).unwrap(),
        remaining,
        reset,
    }
}

#[test]
fn a_refusal_says_when_to_retry_and_which_policy() {
    let all = ResponseConfig {
        status: 429,
        ratelimit_headers: true,
        x_ratelimit_headers: true,
    };
    let h = for_report(&report(0, 1_500_000_000), &all, true);
    let expect = [
        ("retry-after", "2"),
        ("ratelimit-policy", "\"per-user\";q=100;w=60"),
        ("ratelimit", "\"per-user\";r=0;t=2"),
        ("x-ratelimit-limit", "100"),
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-reset", "2"),
    ];
    let got: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(got, expect);
}

#[test]
fn an_admitted_response_reports_without_retry_after() {
    let h = for_report(&report(41, 300), &ResponseConfig::default(), false);
    let names: Vec<&str> = h.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["ratelimit-policy", "ratelimit"]);
    assert_eq!(h[1].1, "\"per-user\";r=41;t=1");
    let none = ResponseConfig {
        ratelimit_headers: false,
        ..ResponseConfig::default()
    };
    assert!(for_report(&report(1, 1), &none, false).is_empty());
    assert_eq!(
        for_report(&report(0, 0), &none, true),
        [("retry-after".to_string(), "1".to_string())]
    );
}

#[test]
fn seconds_round_up() {
    assert_eq!(seconds_up(0), 0);
    assert_eq!(seconds_up(1), 1);
    assert_eq!(seconds_up(SECOND), 1);
    assert_eq!(seconds_up(SECOND + 1), 2);
}
