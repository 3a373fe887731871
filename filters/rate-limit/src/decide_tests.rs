//! What the case files (`tests/cases/decide/`) do not reach: host patterns, and a failing table under each failure mode.

use tollgate_kit::HostFacts;

use super::*;
use crate::table::{Slot, SlotError};

#[test]
fn host_patterns() {
    let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(host_matches(&[], "anything"));
    assert!(host_matches(
        &p(&["api.example.com"]),
        "API.example.com:8443"
    ));
    assert!(!host_matches(
        &p(&["api.example.com"]),
        "api.example.com.evil"
    ));
    assert!(host_matches(&p(&["*.example.com"]), "a.b.example.com"));
    assert!(!host_matches(&p(&["*.example.com"]), "example.com"));
    assert!(!host_matches(&p(&["*.example.com"]), "badexample.com"));
}

struct Broken;
impl Slots for Broken {
    fn read(&self, _: u32) -> Result<Option<Slot>, SlotError> {
        Err(SlotError(
            "proxy_get_shared_data returned InternalFailure (10)".into(),
        ))
    }
    fn write(&self, _: u32, _: &[u8], _: Option<u32>) -> Result<bool, SlotError> {
        Err(SlotError("no".into()))
    }
}

fn two_rules(failure: &str) -> Compiled {
    let json = format!(
        r#"{{"failure_mode": "{failure}", "rules": [
            {{"name": "a", "limits": [{{"requests": 1, "per": "1s"}}]}},
            {{"name": "b", "limits": [{{"requests": 1, "per": "1s"}}]}}]}}"#
    );
    crate::config::load(json.as_bytes(), HostFacts::default()).unwrap()
}

#[test]
fn a_failing_table_is_unavailable_when_closed_and_passes_when_open() {
    let headers = vec![
        (":method".to_string(), "GET".to_string()),
        (":path".to_string(), "/".to_string()),
    ];
    let request = Request {
        headers: &headers,
        peer: None,
        now: 1,
    };
    let closed = decide(
        &two_rules("closed"),
        Mode::Shared,
        &Broken,
        (0, 0),
        &request,
    );
    assert_eq!(closed.verdict, Verdict::Unavailable);
    assert_eq!(
        closed.events,
        [(0, Event::Error)],
        "stops at the first failure"
    );
    assert!(closed.error.unwrap().contains("rule `a`"));
    let open = decide(&two_rules("open"), Mode::Shared, &Broken, (0, 0), &request);
    assert_eq!(open.verdict, Verdict::Pass(None));
    assert_eq!(open.events, [(0, Event::Error), (1, Event::Error)]);
}

#[test]
fn event_names_are_stable() {
    let all = [
        (Event::Allowed, "allowed"),
        (Event::Denied, "denied"),
        (Event::ShadowDenied, "shadow_denied"),
        (Event::Skipped, "skipped"),
        (Event::Exempt, "exempt"),
        (Event::Evicted, "evicted"),
        (Event::Full, "full"),
        (Event::Error, "errors"),
    ];
    for (e, name) in all {
        assert_eq!(e.name(), name);
    }
}

#[test]
fn a_wildcard_needs_a_label_before_the_domain() {
    let p = vec!["*.example.com".to_string()];
    assert!(!host_matches(&p, ".example.com"));
    assert!(host_matches(&p, "a.example.com"));
}

fn load(json: serde_json::Value) -> Compiled {
    crate::config::load(json.to_string().as_bytes(), HostFacts::default()).unwrap()
}

fn get(headers: &[(String, String)], now: u64) -> Request<'_> {
    Request {
        headers,
        peer: None,
        now,
    }
}

fn plain_headers() -> Vec<(String, String)> {
    vec![
        (":method".into(), "GET".into()),
        (":path".into(), "/".into()),
    ]
}

#[test]
fn the_tightest_rule_is_reported_and_ties_go_to_the_first() {
    let c = load(serde_json::json!({"rules": [
        {"name": "wide", "limits": [{"requests": 10, "per": "1s"}]},
        {"name": "narrow", "limits": [{"requests": 3, "per": "1s"}]},
        {"name": "narrow-too", "limits": [{"requests": 3, "per": "1s"}]},
        {"name": "wider", "limits": [{"requests": 20, "per": "1s"}]}]}));
    let slots = tollgate_kit::slots::MemorySlots::new(c.max_keys);
    let h = plain_headers();
    let d = decide(&c, Mode::Shared, &slots, (0, 0), &get(&h, 1));
    let Verdict::Pass(Some(report)) = d.verdict else {
        panic!("{:?}", d.verdict);
    };
    assert_eq!((report.policy.as_str(), report.remaining), ("narrow", 2));
}

fn global_config(shadow: bool) -> Compiled {
    load(serde_json::json!({
        "global": {"service": "rls"},
        "rules": [{"name": "g", "global": true, "shadow": shadow,
                   "limits": [{"requests": 10, "per": "1s"}, {"requests": 100, "per": "1h"}]}]}))
}

fn asked(c: &Compiled) -> Vec<GlobalAsk> {
    let slots = tollgate_kit::slots::MemorySlots::new(c.max_keys);
    let h = plain_headers();
    decide(c, Mode::Shared, &slots, (0, 0), &get(&h, 1)).asks
}

fn answer(over: bool, limit: Option<u64>, remaining: u64) -> Reply {
    Reply {
        over,
        answers: vec![crate::rls::Answer {
            over,
            limit,
            remaining: Some(remaining),
            reset: Some(7),
        }],
    }
}

#[test]
fn the_service_names_the_limit_it_applied() {
    let c = global_config(false);
    let asks = asked(&c);
    assert_eq!(asks.len(), 1);
    let (v, _) = settle(&c, None, &asks, &answer(true, Some(100), 0));
    let Verdict::Limited { report, .. } = v else {
        panic!("{v:?}")
    };
    assert_eq!(report.policy, "g-1h");
    let (v, _) = settle(&c, None, &asks, &answer(true, Some(10), 0));
    let Verdict::Limited { report, .. } = v else {
        panic!("{v:?}")
    };
    assert_eq!(report.policy, "g-1s");
    let (v, _) = settle(&c, None, &asks, &answer(true, None, 0));
    let Verdict::Limited { report, .. } = v else {
        panic!("{v:?}")
    };
    assert_eq!(
        (report.policy.as_str(), report.reset),
        ("g-1s", 7),
        "unnamed: the first"
    );
}

#[test]
fn a_shadow_global_rule_only_counts() {
    let c = global_config(true);
    let asks = asked(&c);
    let (v, events) = settle(&c, None, &asks, &answer(true, Some(10), 0));
    assert_eq!(v, Verdict::Pass(None));
    assert_eq!(events, [(0, Event::ShadowDenied)]);
}

#[test]
fn the_service_report_replaces_a_looser_local_one_only() {
    let c = global_config(false);
    let asks = asked(&c);
    let local = |remaining| Report {
        policy: "local".into(),
        gcra: crate::gcra::Gcra::new(1, 1, 1).unwrap(),
        remaining,
        reset: 1,
    };
    let pick =
        |l: u64, g: u64| match settle(&c, Some(local(l)), &asks, &answer(false, Some(10), g)).0 {
            Verdict::Pass(Some(r)) => r.policy,
            other => panic!("{other:?}"),
        };
    assert_eq!(pick(5, 2), "g-1s");
    assert_eq!(pick(2, 5), "local");
    assert_eq!(pick(3, 3), "local", "ties keep the first");
}
