use std::collections::BTreeMap;

use super::*;
use crate::fleet::{Failure, FilterState, Via};

fn policy() -> Policy {
    Policy {
        canary: vec!["c1".into(), "c2".into()],
        bake_seconds: 60,
        max_error_rise: 0.05,
        min_requests: 20,
        require_traffic: false,
    }
}

fn gateway(revision: Option<u64>, refused: Option<u64>) -> Gateway {
    let state = FilterState {
        revision,
        error: refused.map(|r| Failure {
            revision: Some(r),
            version: format!("{r}.x"),
            detail: "bad module".into(),
            at: 0,
        }),
        ..FilterState::default()
    };
    Gateway {
        gateway: "c".into(),
        project: "p".into(),
        group: "g".into(),
        via: Via::Ecds,
        connected: true,
        last_contact: 0,
        filters: BTreeMap::from([("rate-limit".to_string(), state)]),
    }
}

fn window(requests: f64, errors: f64) -> Option<Window> {
    Some(Window { requests, errors })
}

fn quiet() -> Signal {
    Signal::default()
}

const F: &str = "rate-limit";

#[test]
fn a_canary_refusing_the_candidate_rolls_it_back_at_once() {
    let (on, refused) = (gateway(Some(5), None), gateway(Some(4), Some(5)));
    let d = decide(
        &policy(),
        F,
        5,
        100,
        101,
        &[("c1", Some(&on), quiet()), ("c2", Some(&refused), quiet())],
    );
    assert_eq!(
        d,
        Decision::RollBack {
            reason: "canary c2 refused revision 5: bad module".into()
        }
    );
    // A refusal of an older revision is not this rollout's.
    let old = gateway(Some(5), Some(4));
    let d = decide(
        &policy(),
        F,
        5,
        100,
        101,
        &[("c1", Some(&on), quiet()), ("c2", Some(&old), quiet())],
    );
    assert!(matches!(d, Decision::Wait { .. }), "{d:?}");
}

#[test]
fn an_error_rise_past_the_margin_on_enough_requests_rolls_back() {
    let on = gateway(Some(5), None);
    let rising = Signal {
        before: window(100.0, 1.0),
        since: window(40.0, 10.0),
    };
    let d = decide(
        &policy(),
        F,
        5,
        100,
        110,
        &[("c1", Some(&on), rising), ("c2", Some(&on), quiet())],
    );
    let Decision::RollBack { reason } = d else {
        panic!("{d:?}")
    };
    assert!(
        reason.contains("canary c1: errors rose from 1.0% to 25.0% of 40 requests"),
        "{reason}"
    );

    // Within the margin, or on too few requests, it keeps baking.
    for since in [window(100.0, 5.0), window(19.0, 19.0)] {
        let s = Signal {
            before: window(100.0, 1.0),
            since,
        };
        let d = decide(
            &policy(),
            F,
            5,
            100,
            110,
            &[("c1", Some(&on), s), ("c2", Some(&on), quiet())],
        );
        assert!(matches!(d, Decision::Wait { .. }), "{since:?}: {d:?}");
    }
    // Exactly at the margin is allowed; just past it is not.
    let at = Signal {
        before: window(100.0, 0.0),
        since: window(100.0, 5.0),
    };
    let past = Signal {
        before: window(100.0, 0.0),
        since: window(100.0, 6.0),
    };
    let d = decide(
        &policy(),
        F,
        5,
        100,
        200,
        &[("c1", Some(&on), at), ("c2", Some(&on), quiet())],
    );
    assert_eq!(d, Decision::Promote);
    let d = decide(
        &policy(),
        F,
        5,
        100,
        200,
        &[("c1", Some(&on), past), ("c2", Some(&on), quiet())],
    );
    assert!(matches!(d, Decision::RollBack { .. }));
    // No history before: the rise is measured from zero.
    let fresh = Signal {
        before: None,
        since: window(100.0, 6.0),
    };
    let d = decide(
        &policy(),
        F,
        5,
        100,
        200,
        &[("c1", Some(&on), fresh), ("c2", Some(&on), quiet())],
    );
    assert!(matches!(d, Decision::RollBack { .. }));
}

#[test]
fn it_promotes_only_when_every_canary_applied_it_and_the_bake_time_passed() {
    let on = gateway(Some(5), None);
    let behind = gateway(Some(4), None);
    let d = decide(
        &policy(),
        F,
        5,
        100,
        1000,
        &[("c1", Some(&on), quiet()), ("c2", Some(&behind), quiet())],
    );
    assert_eq!(
        d,
        Decision::Wait {
            waiting_for: "canaries to apply revision 5: c2".into()
        }
    );
    let d = decide(
        &policy(),
        F,
        5,
        100,
        1000,
        &[("c1", Some(&on), quiet()), ("c2", None, quiet())],
    );
    assert!(
        matches!(d, Decision::Wait { .. }),
        "a canary never seen holds it"
    );
    let d = decide(
        &policy(),
        F,
        5,
        100,
        159,
        &[("c1", Some(&on), quiet()), ("c2", Some(&on), quiet())],
    );
    assert_eq!(
        d,
        Decision::Wait {
            waiting_for: "bake time: 59 of 60 s".into()
        }
    );
    let d = decide(
        &policy(),
        F,
        5,
        100,
        160,
        &[("c1", Some(&on), quiet()), ("c2", Some(&on), quiet())],
    );
    assert_eq!(d, Decision::Promote);
}

#[test]
fn with_require_traffic_a_quiet_canary_holds_the_promotion() {
    let on = gateway(Some(5), None);
    let mut p = policy();
    p.require_traffic = true;
    let busy = Signal {
        before: None,
        since: window(20.0, 0.0),
    };
    let d = decide(
        &p,
        F,
        5,
        100,
        500,
        &[("c1", Some(&on), busy), ("c2", Some(&on), quiet())],
    );
    assert_eq!(
        d,
        Decision::Wait {
            waiting_for: "20 requests on each canary: c2".into()
        }
    );
    let d = decide(
        &p,
        F,
        5,
        100,
        500,
        &[("c1", Some(&on), busy), ("c2", Some(&on), busy)],
    );
    assert_eq!(d, Decision::Promote);
}
