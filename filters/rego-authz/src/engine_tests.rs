use std::time::Duration;

use super::*;

fn sources(text: &str) -> Sources {
    Sources {
        modules: vec![Module {
            name: "authz.rego".into(),
            text: text.into(),
        }],
        ..Sources::default()
    }
}

fn budget() -> Budget {
    Budget {
        time: Duration::from_millis(200),
    }
}

fn input(v: serde_json::Value) -> Value {
    to_regorus(&v).unwrap()
}

#[test]
fn a_prepared_policy_decides_many_inputs() {
    let p = Policy::compile(
        &sources("package envoy.authz\ndefault allow := false\nallow if input.method == \"GET\"\n"),
        "data.envoy.authz.allow",
        budget(),
    )
    .unwrap();
    for _ in 0..3 {
        assert_eq!(
            p.evaluate(input(serde_json::json!({"method": "GET"}))),
            Ok(Value::from(true))
        );
        assert_eq!(
            p.evaluate(input(serde_json::json!({"method": "PUT"}))),
            Ok(Value::from(false))
        );
    }
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let err = Policy::compile(
        &sources("package envoy.authz\n\nallow if {\n  input.x ==\n}\n"),
        "data.envoy.authz.allow",
        budget(),
    )
    .unwrap_err();
    assert!(err.0.contains("authz.rego:5:1"), "{}", err.0);
}

#[test]
fn a_missing_rule_or_package_is_a_compile_error() {
    let err = Policy::compile(
        &sources("package other\nallow := true\n"),
        "data.envoy.authz.allow",
        budget(),
    )
    .unwrap_err();
    assert!(err.0.contains("no loaded package defines"), "{}", err.0);
    assert!(check_rule_path("envoy.authz.allow").is_err());
    assert!(check_rule_path("data.envoy.1x").is_err());
    assert!(check_rule_path("data").is_err());
    assert!(check_rule_path("data.envoy.authz.allow").is_ok());
}

#[test]
fn undefined_and_runtime_errors_are_not_decisions() {
    let p = Policy::compile(
        &sources("package envoy.authz\nallow if input.ok\nboom := 1 / input.zero\n"),
        "data.envoy.authz.allow",
        budget(),
    )
    .unwrap();
    assert_eq!(
        p.evaluate(input(serde_json::json!({}))),
        Err(EvalError::Undefined)
    );
    let boom = Policy::compile(
        &sources("package envoy.authz\nallow = true if input.a\nallow = false if input.b\n"),
        "data.envoy.authz.allow",
        budget(),
    )
    .unwrap();
    let err = boom
        .evaluate(input(serde_json::json!({"a": true, "b": true})))
        .unwrap_err();
    assert_eq!(err.code(), "policy_error", "{err}");
}

#[test]
fn a_runaway_policy_hits_its_time_budget() {
    let p = Policy::compile(
        &sources(
            "package envoy.authz\nallow if {\n  count([x | some a in numbers.range(1, 3000); some b in numbers.range(1, 3000); x := a * b]) > 0\n}\n",
        ),
        "data.envoy.authz.allow",
        Budget {
            time: Duration::from_millis(20),
        },
    )
    .unwrap();
    let err = p.evaluate(input(serde_json::json!({}))).unwrap_err();
    assert!(matches!(err, EvalError::OverBudget(_)), "{err:?}");
    assert_eq!(err.code(), "policy_over_budget");
}

#[test]
fn packages_outside_a_bundles_roots_are_refused() {
    let mut s = sources("package other.authz\nallow := true\n");
    s.roots = Some(vec!["envoy".into()]);
    let err = load(&s, budget()).unwrap_err();
    assert!(err.0.contains("outside the manifest's roots"), "{}", err.0);
}

#[test]
fn a_missing_rule_in_a_loaded_package_is_a_compile_error() {
    let err = Policy::compile(
        &sources("package envoy.authz\ndeny := true\n"),
        "data.envoy.authz.allow",
        budget(),
    )
    .unwrap_err();
    assert!(err.0.contains("data.envoy.authz.allow"), "{}", err.0);
    assert_eq!(format!("{err}"), err.0);
    let p = Policy::compile(
        &sources("package envoy.authz\nallow := true\n"),
        "data.envoy.authz.allow",
        budget(),
    )
    .unwrap();
    assert!(format!("{p:?}").contains("data.envoy.authz.allow"));
}
