use super::*;

fn err(json: &str) -> ConfigError {
    load(json.as_bytes(), HostFacts::default()).unwrap_err()
}

const POLICY: &str = r#""policy": {"modules": {"a.rego": "package envoy.authz\nallow := true\n"}}"#;

#[test]
fn errors_name_the_field() {
    assert_eq!(err("{}").path, "");
    assert_eq!(err(&format!("{{{POLICY}, \"bogus\": 1}}")).path, "bogus");
    assert_eq!(
        err(&format!("{{{POLICY}, \"deny_status\": 99}}")).path,
        "deny_status"
    );
    assert_eq!(
        err(&format!("{{{POLICY}, \"budget\": {{\"time_ms\": 0}}}}")).path,
        "budget.time_ms"
    );
    assert_eq!(
        err(&format!(
            "{{{POLICY}, \"decision_cache\": {{\"keys\": []}}}}"
        ))
        .path,
        "decision_cache.keys"
    );
    assert_eq!(
        err(&format!(
            "{{{POLICY}, \"decision_cache\": {{\"keys\": [\"a..b\"]}}}}"
        ))
        .path,
        "decision_cache.keys[0]"
    );
    assert_eq!(
        err(&format!("{{{POLICY}, \"query\": \"allow\"}}")).path,
        "policy.modules"
    );
    assert_eq!(
        err(&format!(
            "{{{POLICY}, \"version\": \"tollgate.rego_authz.v9\"}}"
        ))
        .path,
        "version"
    );
    assert_eq!(err(r#"{"policy": {"bundle": "!!"}}"#).path, "policy.bundle");
    assert_eq!(
        err(r#"{"policy": {"modules": {"a.rego": "package x\n"}, "bundle": "AA=="}}"#).path,
        "policy"
    );
    assert_eq!(
        err(&format!(
            "{{{POLICY}, \"decision_logs\": {{\"upstream\": \"u\", \"mask\": [\"/x\"]}}}}"
        ))
        .path,
        "decision_logs.mask[0]"
    );
    let ok = load(format!("{{{POLICY}}}").as_bytes(), HostFacts::default()).unwrap();
    assert_eq!(
        (ok.deny_status, ok.error_status, ok.mode),
        (403, 500, Mode::Enforce)
    );
    assert!(ok.warnings.is_empty());
}

#[test]
fn input_paths_have_attribute_shorthands() {
    assert_eq!(
        input_path("request.http.method").unwrap(),
        vec!["attributes", "request", "http", "method"]
    );
    assert_eq!(input_path("token.sub").unwrap(), vec!["token", "sub"]);
    assert!(input_path("a..b").is_err());
}

#[test]
fn the_default_budget_leaves_room_for_preemption() {
    // 5 ms failed a request closed in a few thousand on a loaded 2-core machine.
    let parsed: RegoAuthzConfig =
        tollgate_kit::config::parse(format!("{{{POLICY}}}").as_bytes()).unwrap();
    assert_eq!(parsed.budget.time_ms, 50);
    let given: RegoAuthzConfig = tollgate_kit::config::parse(
        format!("{{{POLICY}, \"budget\": {{\"time_ms\": 7}}}}").as_bytes(),
    )
    .unwrap();
    assert_eq!(given.budget.time_ms, 7);
}
