use super::*;

fn load_on(kind: HostKind, json: &str) -> Result<Compiled, ConfigError> {
    load(json.as_bytes(), HostFacts::of(kind))
}

const ONE: &str = r#"{"rules": [{"name": "r", "limits": [{"requests": 10, "per": "1s"}]}]}"#;

#[test]
fn periods_have_units() {
    assert_eq!(parse_period("250ms"), Some(250_000_000));
    assert_eq!(parse_period("1s"), Some(1_000_000_000));
    assert_eq!(parse_period("5m"), Some(300_000_000_000));
    assert_eq!(parse_period("2h"), Some(7_200_000_000_000));
    assert_eq!(parse_period("1d"), Some(86_400_000_000_000));
    for bad in [
        "",
        "s",
        "1",
        "1 s",
        "-1s",
        "1.5s",
        "0ms",
        "99999999999999999999d",
        "1S",
    ] {
        assert_eq!(parse_period(bad), None, "{bad}");
    }
}

#[test]
fn the_mode_follows_the_host() {
    assert_eq!(load_on(HostKind::Envoy, ONE).unwrap().mode, Mode::Shared);
    assert_eq!(load_on(HostKind::Kong, ONE).unwrap().mode, Mode::Shared);
    let err = load_on(HostKind::Apisix, ONE).unwrap_err();
    assert_eq!(err.path, "local.workers");
    assert!(err.message.contains("APISIX"), "{err}");
    let apisix = load_on(
        HostKind::Apisix,
        r#"{"local": {"workers": 4}, "rules": [{"name": "r", "limits": [{"requests": 10, "per": "1s", "burst": 2}]}]}"#,
    )
    .unwrap();
    assert_eq!(apisix.mode, Mode::PerWorker { workers: 4 });
    assert_eq!(apisix.mode.name(), "per_worker");
    assert!(
        apisix
            .warnings
            .iter()
            .any(|w| w.contains("up to 4 pass at once")),
        "{:?}",
        apisix.warnings
    );
    assert_eq!(Mode::Shared.name(), "shared");
}

#[test]
fn defaults_are_documented_values() {
    let c = load_on(HostKind::Envoy, ONE).unwrap();
    assert_eq!(c.max_keys, 10_000);
    assert_eq!(c.cas_retries, 64);
    assert_eq!(c.when_full, WhenFull::Evict);
    assert_eq!(c.xff_trusted_hops, 0);
    assert_eq!(c.claims_header, "x-tollgate-jwt-payload");
    assert_eq!(c.response.status, 429);
    assert!(c.response.ratelimit_headers && !c.response.x_ratelimit_headers);
    assert_eq!(c.failure_mode, FailureMode::Closed);
    assert!(!c.shadow);
    let rule = &c.rules[0];
    assert_eq!(
        rule.limits[0].gcra.burst, 10,
        "the burst defaults to the requests"
    );
    assert_eq!(rule.limits[0].policy, "r");
    assert!(!rule.reads_claims);
    assert!(c.warnings.is_empty());
}

#[test]
fn several_limits_name_their_policies_by_period() {
    let c = load_on(
        HostKind::Envoy,
        r#"{"rules": [{"name": "u", "key": [{"claim": "sub"}], "limits": [{"requests": 1, "per": "1s"}, {"requests": 9, "per": "1h"}]}]}"#,
    )
    .unwrap();
    let names: Vec<&str> = c.rules[0]
        .limits
        .iter()
        .map(|l| l.policy.as_str())
        .collect();
    assert_eq!(names, ["u-1s", "u-1h"]);
    assert!(c.rules[0].reads_claims);
}

#[test]
fn kong_is_warned_about_a_large_table() {
    let big = r#"{"local": {"max_keys": 500000}, "rules": [{"name": "r", "limits": [{"requests": 1, "per": "1s"}]}]}"#;
    let kong = load_on(HostKind::Kong, big).unwrap();
    assert!(
        kong.warnings.iter().any(|w| w.contains("shm_kv")),
        "{:?}",
        kong.warnings
    );
    assert!(load_on(HostKind::Envoy, big).unwrap().warnings.is_empty());
}

#[test]
fn a_non_string_version_is_refused() {
    let err = load_on(HostKind::Envoy, r#"{"version": 1, "rules": []}"#).unwrap_err();
    assert_eq!(err.path, "version");
}

#[test]
fn apisix_with_only_global_rules_needs_no_worker_count_and_skips_the_pre_check() {
    let c = load_on(
        HostKind::Apisix,
        r#"{"global": {"service": "127.0.0.1:8081"},
            "rules": [{"name": "g", "global": true, "limits": [{"requests": 5, "per": "1m"}]}]}"#,
    )
    .unwrap();
    let g = c.global.unwrap();
    assert_eq!(g.transport, Transport::Http);
    assert!(!g.pre_check);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("without a local pre-check")),
        "{:?}",
        c.warnings
    );
    let envoy = load_on(
        HostKind::Envoy,
        r#"{"global": {"service": "rls"}, "rules": [{"name": "g", "global": true, "limits": [{"requests": 5, "per": "1m"}]}]}"#,
    )
    .unwrap()
    .global
    .unwrap();
    assert_eq!(envoy.transport, Transport::Grpc);
    assert!(envoy.pre_check);
    assert_eq!(
        (
            envoy.domain.as_str(),
            envoy.path.as_str(),
            envoy.authority.as_str(),
            envoy.timeout_ms
        ),
        ("tollgate", "/json", "rls", 100)
    );
}

#[test]
fn eight_limits_are_allowed() {
    let limits: Vec<String> = (1..=8)
        .map(|i| format!(r#"{{"requests": 1, "per": "{i}s"}}"#))
        .collect();
    let json = format!(
        r#"{{"rules": [{{"name": "r", "limits": [{}]}}]}}"#,
        limits.join(",")
    );
    assert_eq!(
        load_on(HostKind::Envoy, &json).unwrap().rules[0]
            .limits
            .len(),
        8
    );
}

#[test]
fn warnings_start_exactly_at_their_thresholds() {
    let shares = |burst: u64| {
        load_on(
            HostKind::Apisix,
            &format!(r#"{{"local": {{"workers": 4}}, "rules": [{{"name": "r", "limits": [{{"requests": 10, "per": "1s", "burst": {burst}}}]}}]}}"#),
        )
        .unwrap()
        .warnings
        .iter()
        .any(|w| w.contains("pass at once"))
    };
    assert!(shares(3));
    assert!(
        !shares(4),
        "a burst equal to the worker count is one per worker"
    );
    let kong = |keys: u32| {
        load_on(
            HostKind::Kong,
            &format!(r#"{{"local": {{"max_keys": {keys}}}, "rules": [{{"name": "r", "limits": [{{"requests": 1, "per": "1s"}}]}}]}}"#),
        )
        .unwrap()
        .warnings
        .len()
    };
    assert_eq!(kong(20_000), 0);
    assert_eq!(kong(20_001), 1);
}
