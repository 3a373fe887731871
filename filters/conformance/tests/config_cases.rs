//! Table-driven config cases (tests/cases/config.json): each case is a config (a JSON
//! value, or a string taken as raw bytes) and either the compiled result or the error's
//! path and a substring of its message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test helpers

use serde_json::Value;
use tollgate_conformance::ConformanceConfig;
use tollgate_kit::config;

#[test]
fn config_cases() {
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("cases/config.json")).expect("case file");
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap_or("?");
        let bytes = match &case["config"] {
            Value::String(raw) => raw.clone().into_bytes(),
            other => serde_json::to_vec(other).unwrap(),
        };
        match (
            config::load::<ConformanceConfig>(&bytes),
            case.get("expect"),
            case.get("error"),
        ) {
            (Ok(c), Some(expect), None) => {
                let got = serde_json::json!({ "callout_cluster": c.callout_cluster, "grpc_cluster": c.grpc_cluster, "tick_ms": c.tick_ms });
                if &got != expect {
                    failures.push(format!("{name}: got {got}, expected {expect}"));
                }
            }
            (Err(e), None, Some(expect)) => {
                let path = expect["path"].as_str().unwrap_or_default();
                let contains = expect["contains"].as_str().unwrap_or_default();
                if e.path != path || !e.message.contains(contains) {
                    failures.push(format!(
                        "{name}: got error at `{}`: {}; expected `{path}` containing {contains:?}",
                        e.path, e.message
                    ));
                }
            }
            (result, _, _) => failures.push(format!(
                "{name}: unexpected outcome {:?}",
                result.map(|_| "ok")
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
