//! What the case files (`tests/cases/decide/`) do not reach: claim decoding, host
//! patterns, and a failing table under each failure mode.

use tollgate_kit::HostFacts;

use super::*;
use crate::table::{Slot, SlotError};

#[test]
fn claims_come_from_base64url_json_objects_only() {
    let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    assert_eq!(
        claims_from(Some(&enc(r#"{"sub":"a"}"#))).unwrap()["sub"],
        "a"
    );
    let padded = base64::engine::general_purpose::URL_SAFE.encode(r#"{"sub":"ab"}"#);
    assert!(claims_from(Some(&padded)).is_some(), "padding tolerated");
    assert!(claims_from(Some(&enc("[1]"))).is_none());
    assert!(claims_from(Some(&enc("{"))).is_none());
    assert!(claims_from(Some("%%%")).is_none());
    assert!(claims_from(None).is_none());
}

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
