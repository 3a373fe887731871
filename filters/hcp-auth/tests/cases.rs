//! Table-driven decisions (tests/cases/decide.json) and config errors
//! (tests/cases/config.json: each names the field and says what was expected).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test helpers

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tollgate_hcp_auth::config::{HcpAuthConfig, Mode};
use tollgate_hcp_auth::credentials::{claims, extract};
use tollgate_hcp_auth::decide::{Decision, Mutation, RequestView};
use tollgate_kit::config;

/// `base` with `overrides`' top-level fields replacing its own.
fn merged(base: &Value, overrides: Option<&Value>) -> Value {
    let mut out = base.clone();
    if let (Some(o), Some(extra)) = (out.as_object_mut(), overrides.and_then(Value::as_object)) {
        o.extend(extra.clone());
    }
    out
}

/// What one case got wrong, if anything.
fn check_case(file: &Value, case: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let cfg_json = merged(&file["config"], case.get("config"));
    let compiled = match config::load::<HcpAuthConfig>(cfg_json.to_string().as_bytes()) {
        Ok(c) => c,
        Err(e) => return vec![format!("config refused: {}: {}", e.path, e.message)],
    };
    let req = &case["request"];
    let mut headers: Vec<(String, String)> = req["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
        .collect();
    if let Some(payload) = case.get("payload") {
        headers.push((
            "x-tollgate-jwt-payload".into(),
            URL_SAFE_NO_PAD.encode(payload.to_string()),
        ));
    }
    let property: Option<Vec<u8>> = match (case.get("property"), case.get("property_raw")) {
        (Some(p), _) => Some(p.to_string().into_bytes()),
        (None, Some(raw)) => Some(raw.as_str().unwrap().as_bytes().to_vec()),
        (None, None) => None,
    };
    let found = claims(property.as_deref());
    let creds = extract(found.as_ref(), &compiled.claims);
    let view = RequestView {
        method: req["method"].as_str().unwrap(),
        path: req["path"].as_str().unwrap(),
        headers: &headers,
    };
    let now = file["now"].as_u64().unwrap();
    let decision = compiled.decide(&view, creds.as_ref(), now, case["body_hash"].as_str());

    // Whatever the outcome, the raw password is never in what leaves the filter.
    let password = found
        .as_ref()
        .and_then(|c| tollgate_kit::json::lookup(c, &compiled.claims.password))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(String::from);
    let leaked = |text: &str| password.as_deref().is_some_and(|p| text.contains(p));

    let expect = &case["expect"];
    match &decision {
        Decision::Deny(r) => {
            if leaked(&r.body) {
                problems.push("the refusal carries the password".into());
            }
            let want = (expect["status"].as_u64(), expect["code"].as_str());
            if want != (Some(u64::from(r.status)), Some(r.code)) {
                problems.push(format!(
                    "refused {} {}, expected {expect}",
                    r.status, r.code
                ));
            }
        }
        Decision::NeedBody => {
            if expect["need_body"] != Value::Bool(true) {
                problems.push(format!("asked for the body, expected {expect}"));
            }
        }
        Decision::Allow { mode, mutations } => {
            let want: Option<Mode> = serde_json::from_value(expect["mode"].clone()).ok();
            if want != Some(*mode) {
                problems.push(format!("allowed as {mode:?}, expected {expect}"));
            }
            let set = |name: &str| {
                mutations.iter().find_map(|m| match m {
                    Mutation::Set(n, v) if n == name => Some(v.as_str()),
                    _ => None,
                })
            };
            for m in mutations {
                if let Mutation::Set(n, v) = m
                    && leaked(v)
                {
                    problems.push(format!("`{n}` carries the password"));
                }
            }
            for (name, value) in expect["set"].as_object().into_iter().flatten() {
                if set(name) != value.as_str() {
                    problems.push(format!("`{name}` is {:?}, expected {value}", set(name)));
                }
            }
            for name in expect["not_set"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                if set(name).is_some() {
                    problems.push(format!("`{name}` was set"));
                }
            }
            for name in expect["removed"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                if !mutations.contains(&Mutation::Remove(name.into())) {
                    problems.push(format!("`{name}` was not removed"));
                }
            }
            let cookie = mutations.iter().find_map(|m| match m {
                Mutation::SetCookie(c) => Some(c.clone()),
                _ => None,
            });
            let want_cookie = expect.get("cookie").map(|c| c.as_str().map(String::from));
            if cookie != want_cookie {
                problems.push(format!(
                    "cookie mutation {cookie:?}, expected {want_cookie:?}"
                ));
            }
        }
    }
    problems
}

#[test]
fn decision_cases() {
    let file: Value = serde_json::from_str(include_str!("cases/decide.json")).unwrap();
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "the case file lost its cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let problems = check_case(&file, case);
            (!problems.is_empty()).then(|| {
                format!(
                    "{}: {}",
                    case["name"].as_str().unwrap(),
                    problems.join("; ")
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn config_error_cases() {
    let failures = config::error_case_failures::<HcpAuthConfig>(include_str!("cases/config.json"));
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_documented_example_is_valid() {
    let example = r#"{"hcp_domain": "hcp.example.com",
        "trusted_payload_header": "x-tollgate-jwt-payload",
        "token_cookie": "hcp_token",
        "routes": [{"match": {"prefix": "/mapi/"}, "mode": "management"},
                   {"match": {"prefix": "/"}, "mode": "s3"}]}"#;
    assert!(config::load::<HcpAuthConfig>(example.as_bytes()).is_ok());
}
