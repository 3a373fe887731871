use super::*;

fn gateway(id: &str, connected: bool, last_contact: u64, revision: Option<u64>) -> Gateway {
    let mut filters = BTreeMap::new();
    filters.insert(
        "jwt-auth".to_string(),
        FilterState {
            revision,
            ..FilterState::default()
        },
    );
    Gateway {
        gateway: id.into(),
        project: "hcp".into(),
        group: "prod".into(),
        via: Via::Pull,
        connected,
        last_contact,
        filters,
    }
}

fn current(revision: u64) -> BTreeMap<String, u64> {
    BTreeMap::from([("jwt-auth".to_string(), revision)])
}

const STALE: Duration = Duration::from_secs(90);

#[test]
fn a_gateway_is_stale_when_unheard_of_past_the_limit_even_if_it_was_streaming() {
    let now = 1_000;
    let fleet = [
        gateway("fresh", false, now - 90, Some(2)),
        gateway("stale", false, now - 91, Some(2)),
        gateway("streaming", true, now - 30, Some(2)),
        gateway("left by a dead replica", true, 0, Some(2)),
    ];
    let v = view(&current(2), &fleet, now, STALE);
    let stale: Vec<bool> = (0..4)
        .map(|i| v["gateways"][i]["stale"].as_bool().unwrap())
        .collect();
    assert_eq!(stale, [false, true, false, true]);
    assert_eq!(v["summary"]["stale"], 2);
    assert_eq!(
        v["summary"]["up_to_date"], 2,
        "a stale gateway is not counted up to date"
    );
    assert_eq!(v["summary"]["gateways"], 4);
}

#[test]
fn a_gateway_behind_or_missing_a_filter_is_not_up_to_date() {
    let now = 1_000;
    let mut missing = gateway("missing", true, now, None);
    missing.filters.clear();
    let fleet = [
        gateway("behind", true, now, Some(1)),
        missing,
        gateway("current", true, now, Some(2)),
    ];
    let v = view(&current(2), &fleet, now, STALE);
    assert_eq!(v["gateways"][0]["up_to_date"], false);
    assert_eq!(v["gateways"][0]["filters"]["jwt-auth"]["current"], false);
    assert_eq!(v["gateways"][0]["filters"]["jwt-auth"]["revision"], 1);
    assert_eq!(v["gateways"][1]["up_to_date"], false);
    assert_eq!(v["gateways"][2]["up_to_date"], true);
    assert_eq!(v["summary"]["up_to_date"], 1);
    assert_eq!(v["revisions"]["jwt-auth"], 2);
}

#[test]
fn a_refusal_is_counted_and_cleared_by_the_next_applied_revision() {
    let mut g = gateway("gw", true, 0, Some(1));
    let refused = Failure {
        revision: Some(2),
        version: "2.x".into(),
        detail: "bad".into(),
        at: 5,
    };
    apply_report(&mut g, "jwt-auth", &Report::Refused(refused.clone()));
    assert_eq!(
        g.filters["jwt-auth"].revision,
        Some(1),
        "the old revision keeps running"
    );
    assert_eq!(g.filters["jwt-auth"].error, Some(refused));
    let v = view(&current(2), std::slice::from_ref(&g), 0, STALE);
    assert_eq!(v["summary"]["failed"], 1);
    assert_eq!(
        v["gateways"][0]["filters"]["jwt-auth"]["error"]["detail"],
        "bad"
    );
    apply_report(
        &mut g,
        "jwt-auth",
        &Report::Applied {
            revision: 3,
            version: "3.y".into(),
        },
    );
    assert_eq!(g.filters["jwt-auth"].revision, Some(3));
    assert_eq!(g.filters["jwt-auth"].version.as_deref(), Some("3.y"));
    assert!(g.filters["jwt-auth"].error.is_none());
}

#[test]
fn gateway_ids_are_bounded_printable_ascii() {
    assert!(check_gateway_id("envoy-1.prod~10.0.0.1").is_ok());
    assert!(check_gateway_id(&"x".repeat(256)).is_ok());
    for bad in ["", "a b", "ümlaut", "tab\t", &"x".repeat(257)] {
        assert!(check_gateway_id(bad).is_err(), "{bad:?}");
    }
}
